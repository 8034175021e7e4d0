//! Tests for the secrets detector. Every token below is fake: built from a repeated
//! alphabet so it is well-formed for its provider but was never issued.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::sync::OnceLock;

use super::*;

fn det() -> &'static SecretsDetector {
    static DET: OnceLock<SecretsDetector> = OnceLock::new();
    DET.get_or_init(SecretsDetector::new)
}

fn scan(text: &str) -> Vec<Finding> {
    let mut out = Vec::new();
    det().scan(text, &mut out);
    out
}

/// `n` chars cycling through a mixed alphabet (high entropy, not a real key).
fn fake(n: usize, alphabet: &str) -> String {
    let chars: Vec<char> = alphabet.chars().collect();
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15 ^ n as u64;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            chars[(x % chars.len() as u64) as usize]
        })
        .collect()
}
const ALNUM: &str = "aB3dE5fG7hJ9kL2mN4pQ6rS8tU0vW1xYz";
const HEX: &str = "0123456789abcdef";
const UPPER_NUM: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// Asserts exactly one finding of `rule` whose span is exactly `secret`'s position.
#[track_caller]
fn assert_secret(text: &str, secret: &str, rule: &str) {
    let out = scan(text);
    let start = text.find(secret).expect("secret in text");
    let hit = out.iter().find(|f| f.rule == rule);
    let Some(f) = hit else { panic!("{rule} not found in {text:?}: {out:?}") };
    assert_eq!(f.span, start..start + secret.len(), "span of {rule} in {text:?}");
    assert_eq!(f.family, Family::Secrets);
    assert!((0.0..=1.0).contains(&f.score));
    assert_eq!(
        out.iter().filter(|g| g.span.start < f.span.end && f.span.start < g.span.end).count(),
        1,
        "reported once: {out:?}"
    );
}

#[track_caller]
fn assert_clean(text: &str) {
    let out = scan(text);
    assert!(out.is_empty(), "unexpected findings in {text:?}: {out:?}");
}

#[test]
fn compiles_and_has_many_formats() {
    assert!(det().rule_count() >= 60, "{}", det().rule_count());
    let ids: std::collections::HashSet<_> = det().rules.iter().map(|r| r.id).collect();
    assert!(ids.len() >= 60);
    for r in &det().rules {
        assert!(r.id.starts_with("secrets."), "{}", r.id);
        assert!(
            ["cloud", "vcs", "ai", "payment", "chat", "saas", "database", "private_key", "token", "generic"]
                .contains(&r.category),
            "{} {}",
            r.id,
            r.category
        );
        assert!(r.entity.bytes().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == b'_'), "{}", r.entity);
    }
}

#[test]
fn cloud() {
    let aws = format!("AKIA{}", fake(16, UPPER_NUM));
    assert_secret(&format!("aws_access_key_id = {aws}"), &aws, "secrets.aws.access_key_id");
    let secret = fake(40, "aB3dE5fG7hJ9kL2mN4pQ6rS8tU0vW1xYz/+");
    assert_secret(&format!("aws_secret_access_key = \"{secret}\""), &secret, "secrets.aws.secret_access_key");
    let gcp = format!("AIza{}", fake(35, ALNUM));
    assert_secret(&format!("key={gcp}&q=x"), &gcp, "secrets.gcp.api_key");
    let azure = format!("{}==", fake(86, ALNUM));
    assert_secret(
        &format!("DefaultEndpointsProtocol=https;AccountName=acct1;AccountKey={azure};EndpointSuffix=core.windows.net"),
        &azure,
        "secrets.azure.storage_connection_string",
    );
    let dopat = format!("dop_v1_{}", fake(64, HEX));
    assert_secret(&format!("token: {dopat}"), &dopat, "secrets.digitalocean.token");
    let ali = format!("LTAI{}", fake(16, ALNUM));
    assert_secret(&format!("id {ali} here"), &ali, "secrets.alibaba.access_key_id");
    // near misses: too short, wrong alphabet, placeholder account key
    assert_clean(&format!("AKIA{}", fake(12, UPPER_NUM)));
    assert_clean("AKIAabcdefghijklmnop is lowercase");
    assert_clean("AccountName=X;AccountKey=<YOUR_ACCOUNT_KEY>;");
    assert_clean(&format!("dop_v1_{}", fake(20, HEX)));
}

#[test]
fn vcs() {
    let ghp = format!("ghp_{}", fake(36, ALNUM));
    assert_secret(&format!("GITHUB_TOKEN={ghp}"), &ghp, "secrets.github.token");
    let fine = format!("github_pat_{}_{}", fake(22, ALNUM), fake(59, ALNUM));
    assert_secret(&format!("use {fine} please"), &fine, "secrets.github.fine_grained_pat");
    let gl = format!("glpat-{}", fake(20, ALNUM));
    assert_secret(&format!("token: '{gl}'"), &gl, "secrets.gitlab.token");
    let npm = format!("npm_{}", fake(36, ALNUM));
    assert_secret(&format!("//registry.npmjs.org/:_authToken={npm}"), &npm, "secrets.npm.token");
    let pypi = format!("pypi-AgEIcHlwaS5vcmc{}", fake(60, ALNUM));
    assert_secret(&format!("password = {pypi}"), &pypi, "secrets.pypi.token");
    let docker = format!("dckr_pat_{}", fake(27, ALNUM));
    assert_secret(&format!("echo {docker} | docker login"), &docker, "secrets.docker.pat");
    // near misses
    assert_clean(&format!("ghp_{}", fake(20, ALNUM)));
    assert_clean("see the ghp_ prefix docs and github_pat_ tokens");
    assert_clean(&format!("glpat-{}", fake(8, ALNUM)));
}

#[test]
fn ai_providers() {
    let oa = format!("sk-proj-{}", fake(48, ALNUM));
    assert_secret(&format!("OPENAI_API_KEY={oa}"), &oa, "secrets.openai.project_key");
    let legacy = format!("sk-{}T3BlbkFJ{}", fake(20, ALNUM), fake(20, ALNUM));
    assert_secret(&format!("openai.api_key = \"{legacy}\""), &legacy, "secrets.openai.api_key");
    let ant = format!("sk-ant-api03-{}", fake(93, ALNUM));
    assert_secret(&format!("x-api-key: {ant}"), &ant, "secrets.anthropic.api_key");
    let hf = format!("hf_{}", fake(34, ALNUM));
    assert_secret(&format!("HF_TOKEN={hf}"), &hf, "secrets.huggingface.token");
    let groq = format!("gsk_{}", fake(52, ALNUM));
    assert_secret(&groq, &groq, "secrets.groq.api_key");
    let r8 = format!("r8_{}", fake(37, ALNUM));
    assert_secret(&format!("REPLICATE_API_TOKEN={r8}"), &r8, "secrets.replicate.api_token");
    let cohere = fake(40, ALNUM);
    assert_secret(&format!("COHERE_API_KEY=\"{cohere}\""), &cohere, "secrets.cohere.api_key");
    // near misses: prose mentioning prefixes, too-short keys
    assert_clean("OpenAI keys start with sk- and Anthropic keys with sk-ant-; never share them.");
    assert_clean("sk-1234");
    assert_clean(&format!("hf_{}", fake(10, ALNUM)));
}

#[test]
fn chat_and_payment() {
    let slack = format!("xoxb-{}-{}-{}", fake(12, "0123456789"), fake(12, "0123456789"), fake(24, ALNUM));
    assert_secret(&format!("SLACK_BOT_TOKEN={slack}"), &slack, "secrets.slack.token");
    let hook =
        format!("https://hooks.slack.com/services/T{}/B{}/{}", fake(8, UPPER_NUM), fake(8, UPPER_NUM), fake(24, ALNUM));
    assert_secret(&format!("post to {hook} now"), &hook, "secrets.slack.webhook");
    let discord = format!("https://discord.com/api/webhooks/{}/{}", fake(18, "0123456789"), fake(68, ALNUM));
    assert_secret(&discord, &discord, "secrets.discord.webhook");
    let tg = format!("{}:AA{}", fake(10, "123456789"), fake(33, ALNUM));
    assert_secret(&format!("bot = Bot(\"{tg}\")"), &tg, "secrets.telegram.bot_token");
    let stripe = format!("sk_live_{}", fake(24, ALNUM));
    assert_secret(&format!("Stripe.api_key = '{stripe}'"), &stripe, "secrets.stripe.secret_key");
    let sg = format!("SG.{}.{}", fake(22, ALNUM), fake(43, ALNUM));
    assert_secret(&format!("SENDGRID_API_KEY={sg}"), &sg, "secrets.sendgrid.api_key");
    let tw = format!("SK{}", fake(32, HEX));
    assert_secret(&format!("twilio key {tw}"), &tw, "secrets.twilio.api_key");
    let mc = format!("{}-us12", fake(32, HEX));
    assert_secret(&format!("mailchimp: {mc}"), &mc, "secrets.mailchimp.api_key");
    // near misses
    assert_clean("xoxb- tokens are bot tokens; hooks.slack.com/services/ is the webhook host");
    assert_clean("sk_live_ is the prefix of live Stripe keys");
    assert_clean("call me at 12345678:30 tomorrow");
}

#[test]
fn saas_and_tokens() {
    let shop = format!("shpat_{}", fake(32, HEX));
    assert_secret(&format!("X-Shopify-Access-Token: {shop}"), &shop, "secrets.shopify.token");
    let nr = format!("NRAK-{}", fake(27, UPPER_NUM));
    assert_secret(&format!("NEW_RELIC_API_KEY={nr}"), &nr, "secrets.newrelic.key");
    let dd = fake(32, HEX);
    assert_secret(&format!("DD_API_KEY={dd}"), &dd, "secrets.datadog.api_key");
    let header = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(br#"{"sub":"1234567890","name":"x"}"#);
    let jwt = format!("{header}.{payload}.{}", fake(43, ALNUM));
    assert_secret(&format!("Cookie: session={jwt}; Path=/"), &jwt, "secrets.jwt.token");
    // near miss: header without alg
    let bad_header = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(br#"{"typ":"TCV2"}"#);
    assert_clean(&format!("{bad_header}.{payload}.{}", fake(43, ALNUM)));
    assert_clean(&format!("shpat_{}", fake(10, HEX)));
}

#[test]
fn private_keys() {
    let body = fake(64, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/");
    for kind in ["RSA ", "EC ", "OPENSSH ", "", "ENCRYPTED ", "DSA "] {
        let pem = format!("-----BEGIN {kind}PRIVATE KEY-----\n{body}\n{body}\n-----END {kind}PRIVATE KEY-----");
        assert_secret(&format!("key:\n{pem}\ntrailing"), &pem, "secrets.private_key.pem");
    }
    let pgp = format!("-----BEGIN PGP PRIVATE KEY BLOCK-----\n\n{body}\n-----END PGP PRIVATE KEY BLOCK-----");
    assert_secret(&pgp, &pgp, "secrets.private_key.pem");
    // JSON-escaped service-account key
    let json = format!(r#"{{"private_key": "-----BEGIN PRIVATE KEY-----\n{body}\n-----END PRIVATE KEY-----\n"}}"#);
    assert_eq!(scan(&json).len(), 1);
    // near misses: public keys, certificates, a header with no body
    assert_clean(&format!("-----BEGIN PUBLIC KEY-----\n{body}\n-----END PUBLIC KEY-----"));
    assert_clean(&format!("-----BEGIN CERTIFICATE-----\n{body}\n-----END CERTIFICATE-----"));
    assert_clean("Paste your key after -----BEGIN RSA PRIVATE KEY----- here");
}

#[test]
fn connection_strings() {
    for scheme in ["postgres", "postgresql", "mysql", "mongodb+srv", "redis", "amqps", "mssql"] {
        let text = format!("DATABASE_URL={scheme}://app_user:Zx9#kLm2Qp@db.internal:5432/app");
        assert_secret(&text, "Zx9#kLm2Qp", "secrets.database.connection_uri");
    }
    let mssql = "Server=tcp:db.example.net,1433;Database=app;User ID=svc;Password=Qw3rty!Zx9;Encrypt=true";
    assert_secret(mssql, "Qw3rty!Zx9", "secrets.database.dotnet_connection_string");
    // near misses: no password, variable or masked password
    assert_clean("postgres://db.internal:5432/app");
    assert_clean("postgres://user@db.internal/app");
    assert_clean("amqp://user:*****@example.com");
    assert_clean("amqps://username:$password@localhost:5672");
    assert_clean("mongodb://${MONGO_USER}:${MONGO_PASS}@mongo:27017");
}

#[test]
fn generic_assignments() {
    let v = "q8Vz3LmN0pR7tW2xK5yB";
    assert_secret(&format!("X_SECRET = \"{v}\""), v, "secrets.generic.assignment");
    assert_secret(&format!("{{\"password\": \"{v}\"}}"), v, "secrets.generic.assignment");
    assert_secret(&format!("api_key: {v}\n"), v, "secrets.generic.assignment");
    assert_secret(&format!("auth_token := \"{v}\""), v, "secrets.generic.assignment");
    assert_secret(&format!("export MY_SERVICE_KEY='{v}'"), v, "secrets.generic.assignment");
    let uuid = "3f1c2b7e-9a4d-4e8f-b6c2-1d0e5a7f9b3c";
    assert_secret(&format!("SERVICE_TOKEN={uuid}"), uuid, "secrets.generic.assignment");
}

#[test]
fn placeholders_and_plain_words() {
    for text in [
        "API_KEY=xxxxxxxxxxxxxxxxxxxx",
        "api_key = \"your-api-key\"",
        "token: <token>",
        "password = changeme",
        "SECRET_KEY=${SECRET_KEY}",
        "password: {{ vault_password }}",
        "\"password\": \"password\"",
        "token = os.environ['TOKEN']",
        "api_key = process.env.API_KEY",
        "password = getPassword()",
        "secret_name = my-app-secret",
        "key_id = 3f1c2b7e-9a4d-4e8f-b6c2-1d0e5a7f9b3c",
        "token_type: bearer",
        "password = ''",
        "API_KEY=00000000-0000-0000-0000-000000000000",
        "password_reset_url = https://example.com/reset",
        "The keyboard shortcut is Ctrl+Shift+K.",
        "The secret to good bread is patience and 3 rises.",
        "Set the password policy to require 12 characters.",
        "monkey = banana123",
        "request_id = 3f1c2b7e-9a4d-4e8f-b6c2-1d0e5a7f9b3c",
        "commit 5524bf449ca45fcace54698371466398321f3a82",
    ] {
        assert_clean(text);
    }
}

#[test]
fn benign_prose() {
    for text in [
        "Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May.",
        "I want you to act as a Linux terminal. My first command is pwd.",
        "Write a poem about keys, tokens and secrets kept in a drawer.",
        "Explain how OAuth access tokens and refresh tokens differ.",
        "What does `ghp_` mean in a GitHub token, and how long is an AWS access key id?",
        "Summarize: The password manager market grew 20% in 2023 (source: example.com).",
    ] {
        assert_clean(text);
    }
}

#[test]
fn specific_rule_beats_generic() {
    let ghp = format!("ghp_{}", fake(36, ALNUM));
    let out = scan(&format!("GITHUB_TOKEN=\"{ghp}\""));
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(out[0].rule, "secrets.github.token");
    assert_eq!(out[0].entity, "GITHUB_TOKEN");
    assert_eq!(out[0].category, "vcs");
}

#[test]
fn multiple_secrets_ordered_and_non_overlapping() {
    let a = format!("ghp_{}", fake(36, ALNUM));
    let b = format!("AKIA{}", fake(16, UPPER_NUM));
    let c = format!("sk_live_{}", fake(24, ALNUM));
    let text = format!("a={a}\nb={b}\nc={c}\n");
    let out = scan(&text);
    assert_eq!(out.len(), 3, "{out:?}");
    assert!(out.windows(2).all(|w| w[0].span.end <= w[1].span.start));
    for f in &out {
        assert!(text.is_char_boundary(f.span.start) && text.is_char_boundary(f.span.end));
    }
}

#[test]
fn spans_on_char_boundaries_with_unicode() {
    let v = "q8Vz3LmN0pR7tW2xK5yBé";
    let text = format!("ключ: пароль = \"{v}\" — готово ✓ ghp_{}", fake(36, ALNUM));
    let out = scan(&text);
    assert!(!out.is_empty());
    for f in &out {
        assert!(text.is_char_boundary(f.span.start) && text.is_char_boundary(f.span.end), "{f:?}");
    }
}

#[test]
fn entropy_and_helpers() {
    assert!(entropy("aaaaaaaa") < 0.01);
    assert!((entropy("ab") - 1.0).abs() < 1e-6);
    assert!(entropy(&fake(40, ALNUM)) > 4.0);
    assert!(is_placeholder("<YOUR_KEY>"));
    assert!(is_placeholder("$SECRET"));
    assert!(!is_placeholder("q8Vz3LmN0pR7tW2xK5yB"));
}

#[test]
fn pathological_inputs_are_linear() {
    let inputs = [
        "a".repeat(1_000_000),
        "sk-".repeat(333_334),
        "=".repeat(1_000_000),
        "key=".repeat(250_000),
        // smaller (256 KB) variants of other shapes keep debug-build test time down
        "password: ".repeat(25_000),
        "eyJ".repeat(85_000),
        "-----BEGIN PRIVATE KEY-----".repeat(9_500),
        "postgres://a:".repeat(20_000),
        "ghp_".repeat(64_000),
        "é".repeat(128_000),
    ];
    for text in &inputs {
        let start = std::time::Instant::now();
        let out = scan(text);
        let took = start.elapsed();
        // generous bound for debug builds on a shared 2-core machine
        assert!(took.as_secs() < 120, "{} bytes took {took:?}", text.len());
        for f in &out {
            assert!(text.is_char_boundary(f.span.start) && text.is_char_boundary(f.span.end));
        }
    }
}

#[test]
fn every_rule_has_a_cheap_anchor() {
    for rule in rules::FIXED {
        let anchor = anchor_of(rule).unwrap_or_else(|| panic!("{} has no prefilter anchor", rule.id));
        assert!(!anchor.bytes().any(|c| c.is_ascii_uppercase() && !anchor.contains(r"\")), "{} {anchor}", rule.id);
        assert!(Regex::new(&anchor).is_ok(), "{} {anchor}", rule.id);
    }
}

#[test]
fn vendor_name_with_token_value() {
    let key = fake(32, ALNUM);
    assert_secret(&format!("zenrows_api_key = {key}"), &key, "secrets.vendor.api_key");
    assert_secret(&format!("export PIPEDRIVE_TOKEN=\"{key}\""), &key, "secrets.vendor.api_key");
    let letters = "qwhfkzmvbnrtplsdgjcxyaei";
    assert_secret(&format!("oanda ACCESS TOKEN {letters}"), letters, "secrets.vendor.api_key");
    // letters only and no key/token word: an ordinary word after the vendor name
    assert_clean("Vercel internationalization guide");
    assert_clean("zenrows https://api.zenrows.com/v1/?url=example1234567");
}

#[test]
fn generic_defers_to_provider_formats() {
    // AWS secret keys are 40 base64 chars: 42 hex chars under an AWS name is not one
    let hex42 = fake(42, HEX);
    assert_clean(&format!("export AWS_SECRET_ACCESS_KEY={hex42}"));
    // a Vault `hvs.` token is ~95 chars; a short one is not reported by the generic rule
    assert_clean(&format!("apikey: hvs.{}", fake(36, ALNUM)));
    // a file name is not a secret-sounding name
    assert_clean("A: py moltpass.py challenge mp-xyz987");
    // while an unowned name still gets the generic rule
    let v = fake(32, ALNUM);
    assert_secret(&format!("api_key = \"{v}\""), &v, "secrets.generic.assignment");
}

#[test]
fn zoho_blynk_truenas_arn_krb5_formats() {
    let zoho = format!("1000.{}.{}", fake(32, HEX), fake(32, HEX));
    assert_secret(&format!("token: {zoho}"), &zoho, "secrets.zoho.oauth_token");
    let blynk = format!("oa2-client-id_{}:{}", fake(32, ALNUM), fake(40, ALNUM));
    assert_secret(&format!("curl -u {blynk} https://example.test"), &blynk, "secrets.blynk.client_credentials");
    let nas = format!("7-{}", fake(64, ALNUM));
    assert_secret(
        &format!(r#"{{"method": "auth.login_with_api_key", "params": ["{nas}"]}}"#),
        &nas,
        "secrets.truenas.api_key",
    );
    let arn = "arn:aws:sns:eu-west-1:210987654321:build-alerts";
    assert_secret(&format!("topic = \"{arn}\""), arn, "secrets.aws.arn");
    let hash = format!("$krb5asrep$23${}${}", fake(32, HEX), fake(96, HEX));
    assert_secret(&format!("{hash}\n"), &hash, "secrets.password_hash.krb5_asrep");
}

#[test]
fn newrelic_license_and_okta_shapes() {
    let nr = format!("{}NRAL", fake(36, HEX));
    assert_secret(&format!("license_key: {nr}"), &nr, "secrets.newrelic.key");
    // non-hex body: not a license key, and the generic rule defers to the format
    assert_clean("license_key: q1w2e3r4t5y6u7i8o9p0q1w2e3r4t5y6u7i8NRAL");
    let okta = format!("00{}", fake(40, ALNUM));
    assert_secret(&format!("Authorization: SSWS {okta}"), &okta, "secrets.okta.token");
    assert!(scan(&format!("okta: 00{}-", fake(39, ALNUM))).iter().all(|f| f.rule != "secrets.okta.token"));
}

#[test]
fn connection_uri_to_documentation_address_is_an_example() {
    assert_clean("postgresql://app:Zq8vLm2pWx@[2001:db8::7]/orders");
    assert_clean("mysql://app:Zq8vLm2pWx@192.0.2.10:3306/orders");
    assert_secret("postgresql://app:Zq8vLm2pWx@10.1.2.3/orders", "Zq8vLm2pWx", "secrets.database.connection_uri");
}

#[test]
fn colon_chained_identifier_is_not_an_assignment() {
    assert_clean("owner: did:keypass:zx-qrs789");
    assert_secret("db_password: Qm7vX2pL9w", "Qm7vX2pL9w", "secrets.generic.assignment");
}
