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
            [
                "cloud",
                "vcs",
                "ai",
                "payment",
                "chat",
                "saas",
                "database",
                "private_key",
                "token",
                "generic",
                "infrastructure",
            ]
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

/// The vendor rule is skipped on text without a run of VENDOR_VALUE_MIN token bytes:
/// its shortest value still matches, and one byte shorter never did.
#[test]
fn vendor_rule_skip_keeps_its_shortest_values() {
    let letters = "qwhfk3mvbn7tplsd";
    assert_eq!(letters.len(), super::VENDOR_VALUE_MIN);
    assert_secret(&format!("oanda ACCESS TOKEN {letters}"), letters, "secrets.vendor.api_key");
    assert_secret(
        &format!("oanda ACCESS TOKEN {}", letters.to_uppercase()),
        &letters.to_uppercase(),
        "secrets.vendor.api_key",
    );
    let rule_finds = |text: &str| {
        let mut out = Vec::new();
        SecretsDetector::new().scan(text, &mut out);
        out.iter().any(|f| f.rule == "secrets.vendor.api_key")
    };
    assert!(!rule_finds(&format!("oanda ACCESS TOKEN {}", &letters[1..])));
    assert!(super::has_token_run(b"xx a-b_c+d/e.f=0123 yy", 16));
    assert!(!super::has_token_run(b"xx a-b_c+d/e.f=012 yy", 16));
    assert!(!super::has_token_run(b"the weekly planning meeting covered the garden", 16));
}

#[test]
fn generic_defers_to_provider_formats() {
    // AWS secret keys are 40 base64 chars: 42 hex chars under an AWS name is not one
    let hex42 = fake(42, HEX);
    assert_clean(&format!("export AWS_SECRET_ACCESS_KEY={hex42}"));
    // a Vault `hvs.` value is judged by the Vault rule (which takes 24+ chars), never
    // by the generic one
    let hvs = format!("hvs.{}", fake(36, ALNUM));
    assert_secret(&format!("apikey: {hvs}"), &hvs, "secrets.vault.token");
    assert_clean(&format!("apikey: hvs.{}", fake(12, ALNUM)));
    // a file name is not a secret-sounding name
    assert_clean("A: py moltpass.py challenge mp-xyz987");
    // while an unowned name still gets the generic rule
    let v = fake(32, ALNUM);
    assert_secret(&format!("api_key = \"{v}\""), &v, "secrets.generic.assignment");
}

#[test]
fn zoho_blynk_truenas_krb5_formats_and_arns_are_not_secrets() {
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
    // an ARN names a resource (with its account id); it grants nothing: reported as
    // infrastructure, never as a credential
    for text in [
        "topic = \"arn:aws:sns:eu-west-1:210987654321:build-alerts\"",
        "secret_arn = \"arn:aws:secretsmanager:eu-west-1:210987654321:secret:db-Qm7vX2\"",
    ] {
        let found = scan(text);
        assert!(found.iter().any(|f| f.rule == "secrets.infra.aws_arn"), "{text}: {found:?}");
        assert!(found.iter().all(|f| f.category == "infrastructure" && f.score < 0.5), "{text}: {found:?}");
    }
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

#[test]
fn password_literals_in_code_and_config() {
    for (text, secret) in [
        ("password = \"spring$tide\"\n", "spring$tide"),
        ("db_password := \"spring$tide\"", "spring$tide"),
        ("{\"password\": \"spring$tide\", \"user\": \"ops\"}", "spring$tide"),
        ("password   =>   'spring$tide',", "spring$tide"),
        ("REACT_APP_DB_PASSWORD=bluefalcon", "bluefalcon"),
        ("  REACT_APP_DB_PASS=bluefalcon    # local only", "bluefalcon"),
        ("$pass = \"riverstone\";", "riverstone"),
        ("$user = \"ops\"; $password = riverstone;", "riverstone"),
        (r#"$password = \"riverstone\";\r\n"#, "riverstone"),
        ("credentials {\n  username 'ops'\n  password 'riverstone'\n}", "riverstone"),
        ("[smtp]\nuser = mailer\npassword = open_harbor\n", "open_harbor"),
        ("if creds.Secret != \"blue-harbor\" {", "blue-harbor"),
        ("if password == 'tidewater':", "tidewater"),
        ("jwt:\n  secret: \"harbor#lantern\"\n  ttl: 300", "harbor#lantern"),
        ("PASS = '`9xKqLm2Vb'", "`9xKqLm2Vb"),
        ("jwtSecret: 'P{7x]Kq;2`Lm/Z9!vR^4wT)8sN~3'", "P{7x]Kq;2`Lm/Z9!vR^4wT)8sN~3"),
        ("\"AdminPassword\" : \"thisisourharbor\"", "thisisourharbor"),
        ("<add key=\"SmtpPassword\" value=\"Gr@nite77$\"/>", "Gr@nite77$"),
    ] {
        assert_secret(text, secret, "secrets.generic.assignment");
    }
    let django = format!("k#9v!2mz@x7q$w4e&r1t*y6u^i3o{}", fake(20, ALNUM));
    assert_secret(
        &format!("SECRET_KEY = os.environ.get('DJANGO_SECRET_KEY', '{django}')"),
        &django,
        "secrets.generic.assignment",
    );
}

#[test]
fn password_references_and_descriptions_stay_clean() {
    for text in [
        "password = user_input\n",
        "password = hashed\n",
        "password = args.password",
        "const password = req.body.password;",
        "password = getpass.getpass()",
        "password: \"hidden\"",
        "\"password\": \"Passwort\"",
        "password_encryption = 'scram-sha-256'",
        "  password: \"{{ .Values.db.password }}\"",
        "  existingSecret: my-release-postgresql",
        "password = \"${PASSWORD}\"",
        "password = \"$PASSWORD\"",
        "\"password\": \"$prefix$rest\"",
        "password = \"#{password}\"",
        "password = \"%(password)s\"",
        "password: \"^(?=.*[A-Z])(?=.*\\d).{8,}$\"",
        "\"passwordConfirm\": \"confirmPassword\"",
        "password = \"newpassword\"",
        "password = \"secretpassword\"",
        "password = \"password1\"",
        "jwt_secret = \"change_this_secret\"",
        "db_password = db_password_from_vault\n",
        "server->password = \"ftpuser@\";",
        "usernameLabel:\"User:\",passwordLabel:\"Password:\",rememberLabel:\"Remember me:\"",
        "String auth = \"svc:\" + appKey + \":\" + appSecret;",
        "Pass: through\n",
        "if (e.key === \"Escape\") {",
        "mysql -u root -p\nmysql -u root -p$MYSQL_ROOT_PASSWORD",
        "sshpass -p \"$PASS\" ssh host",
        // text shown next to a password field, and translations of "password"
        "\"forgotPassword\": \"forgotten\"",
        "\"passwordHint\": \"something\"",
        "{\"password\": \"wachtwoord\", \"username\": \"gebruikersnaam\"}",
    ] {
        assert_clean(text);
    }
    // a name merely containing such a word is still a password name
    assert_secret("PLATFORM_PASSWORD=bluefalcon", "bluefalcon", "secrets.generic.assignment");
}

#[test]
fn dollar_inside_a_word_is_a_literal() {
    assert!(!variable_reference("spring$tide"));
    assert!(!variable_reference("pa$$w0rd"));
    assert!(!variable_reference("Gr@nite77$"));
    assert!(variable_reference("$tide"));
    assert!(variable_reference("spring$TIDE"));
    assert!(variable_reference("user:$pass"));
    assert!(variable_reference("a${b}"));
    assert!(variable_reference("%DB_PASS%"));
}

#[test]
fn vault_tokens_new_and_legacy() {
    for prefix in ["hvs", "hvb", "hvr"] {
        let t = format!("{prefix}.{}", fake(40, ALNUM));
        assert_secret(&format!("apikey: {t}"), &t, "secrets.vault.token");
    }
    for prefix in ["s", "b", "r"] {
        let t = format!("{prefix}.{}", fake(26, ALNUM));
        assert_secret(&format!("VAULT_CLIENT_TOKEN=\"{t}\""), &t, "secrets.vault.legacy_token");
    }
    let long = format!("s.{}", fake(90, "aB3dE5fG7hJ9kL2mN4pQ6rS8tU0vW1xYz_-"));
    assert_secret(&format!("vault login -vaultToken {long}"), &long, "secrets.vault.legacy_token");
    // without a Vault name, `s.` / `b.` are method calls or unrelated tokens
    assert_clean("function(){s.addComponentsFromRegistry()}");
    assert_clean("the vault s.addComponentsFromRegistry() call");
    assert_clean(&format!("b.{}", fake(60, ALNUM)));
}

#[test]
fn exact_format_under_provider_name_ignores_entropy() {
    let okta = format!("00{}", "q".repeat(40));
    assert_secret(&format!("okta_api_token = {okta}"), &okta, "secrets.okta.token");
    let okta_dashed = format!("00-{}-{}", "q".repeat(13), "q".repeat(25));
    assert_secret(&format!("OKTA_API_KEY = \"{okta_dashed}\""), &okta_dashed, "secrets.okta.token");
    let aws = "Q".repeat(40);
    assert_secret(&format!("aws_secret_access_key:{aws}"), &aws, "secrets.aws.secret_access_key");
    assert_secret(&format!("aws_secret_access_key => {aws}"), &aws, "secrets.aws.secret_access_key");
    // filler and wrong lengths are not the credential
    assert_clean(&format!("okta_api_token = 00{}", "x".repeat(40)));
    assert_clean(&format!("okta_api_token: {}", "0".repeat(44)));
    assert_clean(&format!("aws_secret_access_key = {}", "x".repeat(40)));
    assert_clean(&format!("\"aws_secret_access_key\" = {}end", "q".repeat(36)));
}

#[test]
fn azure_devops_pats() {
    let legacy = fake(52, "abcdefghijklmnopqrstuvwxyz234567");
    assert_secret(&format!("ado_pat =  \"{legacy}\""), &legacy, "secrets.azure.devops_pat_legacy");
    assert_secret(&format!("azure devops pat: {legacy}"), &legacy, "secrets.azure.devops_pat_legacy");
    let new = format!("{}AZDO{}", fake(76, ALNUM), fake(4, ALNUM));
    assert_secret(&format!("token = '{new}'"), &new, "secrets.azure.devops_pat");
    // a bare base32 string is not enough, nor a truncated new-format token
    assert_clean(&legacy);
    assert_clean(&format!("{}AZDO{}", fake(75, ALNUM), fake(4, ALNUM)));
}

#[test]
fn provider_formats_with_context() {
    let xapp = format!("xapp-{}-{}", fake(12, "0123456789"), fake(24, "aB3dE5fG7hJ9kL2mN4pQ6rS8tU0vW1xYz/"));
    assert_secret(&format!("ENV SLACK_TOKEN=\"{xapp}\""), &xapp, "secrets.slack.app_token");
    let tg = format!("{}:{}", fake(9, "123456789"), fake(35, "aB3dE5fG7hJ9kL2mN4pQ6rS8tU0vW1xYz_-"));
    assert_secret(&format!("notify: tgram://{tg}/-100123"), &tg, "secrets.telegram.bot_token_context");
    let sonar = fake(40, HEX);
    assert_secret(&format!("mvn verify -Dsonar.login={sonar}"), &sonar, "secrets.sonarqube.login");
    assert_secret(&format!("properties.put('sonar.login', '{sonar}')"), &sonar, "secrets.sonarqube.login");
    let twitch = fake(30, "abcdefghijklmnopqrstuvwxyz0123456789");
    assert_secret(&format!("TWITCH_SECRET={twitch}"), &twitch, "secrets.twitch.token");
    let r8 = format!("r8_{}", fake(45, ALNUM));
    assert_secret(&r8, &r8, "secrets.replicate.api_token");
    let cap = format!("6L{}", fake(38, "aB3dE5fG7hJ9kL2mN4pQ6rS8tU0vW1xYz_-"));
    assert_secret(&format!("recaptcha_secret = {cap}"), &cap, "secrets.recaptcha.secret");
    let fs = format!("na1.{}", fake(100, "aB3dE5fG7hJ9kL2mN4pQ6rS8tU0vW1xYz+/"));
    assert_secret(&fs, &fs, "secrets.fullstory.api_key");
    let tb = fake(20, "abcdefghijklmnopqrstuvwxyz0123456789");
    assert_secret(
        &format!("curl -X POST https://tb.local:8080/api/v1/{tb}/telemetry"),
        &tb,
        "secrets.thingsboard.access_token",
    );
    let dfuse = format!("web_{}", fake(32, "abcdefghijklmnopqrstuvwxyz0123456789"));
    assert_secret(&dfuse, &dfuse, "secrets.dfuse.api_key");
    let body = fake(28, UPPER_NUM);
    let rf = format!("{}-{}-{}-{}", &body[..7], &body[7..14], &body[14..21], &body[21..]);
    assert_secret(&format!("REQUEST_FINANCE_KEY {rf}"), &rf, "secrets.requestfinance.api_key");
    let jenkins = fake(32, HEX);
    assert_secret(
        &format!("Please use the following password to proceed to installation:\n\n{jenkins}\n"),
        &jenkins,
        "secrets.jenkins.initial_admin_password",
    );
    let cc = fake(64, HEX);
    assert_secret(&format!("env:\n  CC_TEST_REPORTER_ID: {cc}\n"), &cc, "secrets.codeclimate.reporter_id");
    let beamer = format!("b_{}", fake(44, ALNUM));
    assert_secret(&format!("beamer = {beamer}"), &beamer, "secrets.beamer.api_key");
    let front = format!("{}.{}", fake(36, ALNUM), fake(200, ALNUM));
    assert_secret(&format!("FRONT_API_TOKEN = {front}"), &front, "secrets.front.api_key");
    let hook = format!(
        "https://outlook.office.com/webhook/{}@{}/JenkinsCI/{}/{}",
        "3f1c2b7e-9a4d-4e8f-b6c2-1d0e5a7f9b3c",
        "7a6b5c4d-3e2f-4a1b-9c8d-7e6f5a4b3c2d",
        fake(32, HEX),
        "0e1d2c3b-4a59-4687-a5b4-c3d2e1f0a9b8"
    );
    assert_secret(&hook, &hook, "secrets.msteams.webhook");
    // near misses: no provider context, wrong length, variables
    assert_clean(&format!("hash {sonar}"));
    assert_clean("/d:sonar.login=$(SONAR_LOGIN)");
    assert_clean("curl https://tb.local/api/v1/$ACCESS_TOKEN/telemetry");
    assert_clean(&format!("recaptcha_site_key = 6L{}", fake(38, ALNUM)));
}

#[test]
fn jws_shaped_tokens_with_opaque_header() {
    let token = format!("ey{}.ey{}.{}", fake(34, ALNUM), fake(154, ALNUM), fake(43, ALNUM));
    assert_secret(&format!("DOCUMO_KEY {token}"), &token, "secrets.token.jws_shaped");
    let dotted = format!("ey{}.{}.ey{}", fake(100, ALNUM), fake(40, ALNUM), fake(300, ALNUM));
    assert_secret(&dotted, &dotted, "secrets.token.jws_shaped");
    // a header that is JSON without `alg` stays the JWT rule's call
    let header = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(br#"{"typ":"XYZ1"}"#);
    let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(br#"{"sub":"42","n":"abcdefgh"}"#);
    assert_clean(&format!("{header}.{payload}.{}", fake(43, ALNUM)));
    assert_clean("eyeballing.eyebrows are words");
}

#[test]
fn short_bearer_token_in_authorization_header() {
    assert_secret("GET / HTTP/1.1\nAuthorization: Bearer Zq8.vLm2-pWx\n", "Zq8.vLm2-pWx", "secrets.http.bearer_header");
    assert_secret("-H \"Authorization: Bearer ab12CD34ef56\"", "ab12CD34ef56", "secrets.http.bearer_header");
    for text in [
        "Authorization: Bearer <token>",
        "Authorization: Bearer $TOKEN",
        "Authorization: Bearer ${API_TOKEN}",
        "Authorization: Bearer YOUR_ACCESS_TOKEN",
        "Authorization: Bearer ACCESS_TOKEN",
        "-H \"Authorization: Bearer token123\"",
        "headers = {\"Authorization\": f\"Bearer {api_key}\"}",
    ] {
        assert_clean(text);
    }
}

#[test]
fn connection_string_and_cli_passwords() {
    assert_secret(
        "conn.Open(\"Provider=SQLOLEDB.1;User ID=svc_app; \" & \"Password =granite_ridge;Data Source=db1;\")",
        "granite_ridge",
        "secrets.database.dotnet_connection_string",
    );
    assert_secret("mysql -u root -pGr4nite! mydb", "Gr4nite!", "secrets.cli.password_flag");
    assert_secret("sshpass -p riverstone99 ssh ops@host", "riverstone99", "secrets.cli.password_flag");
    assert_clean("\"driver={SQL Server};server=db;uid=#{user};pwd=#{pass}\"");
}

#[test]
fn identifiers_under_provider_names_are_not_secrets() {
    let id30 = fake(30, "abcdefghijklmnopqrstuvwxyz0123456789");
    assert_clean(&format!("TWITCH_CLIENT_ID={id30}"));
    assert_clean(&format!("export AUTH0_CLIENT_ID=\"{}\"", fake(32, ALNUM)));
    assert_clean(&format!("RECAPTCHA_SITE_KEY=6L{}", fake(38, ALNUM)));
    // while the secret next to it is reported
    let secret = fake(64, ALNUM);
    assert_secret(
        &format!("export AUTH0_CLIENT_ID=\"{}\"\nexport AUTH0_CLIENT_SECRET=\"{secret}\"", fake(32, ALNUM)),
        &secret,
        "secrets.vendor.api_key",
    );
}

#[test]
fn names_and_values_that_are_not_credentials() {
    let v = fake(30, ALNUM);
    for text in [
        format!("primaryKey={v}"),
        format!("foreign_key = \"{v}\""),
        format!("key_down_event={v}"),
        "keyPressed = kVK_Escape.u16".to_string(),
        "schemaKey = 'DOC_Table_7_12'".to_string(),
        "KeyPair = Curve25519.KeyPair".to_string(),
        "pub const X509_privkey_st = struct_X509_privkey_st;".to_string(),
        format!("publicToken = \"{v}\""),
        format!("csrf-token={v}=="),
        "X-Org-AuthSource: mx17.mail.corp.test".to_string(),
        "\"credentials\": \"cloud-sdk-core-3.201.1\"".to_string(),
        "libfoo-keying:x64-linux=pass".to_string(),
        "<entry key=\"build.step.v9_cleanup\" value=\"done\" />".to_string(),
    ] {
        assert_clean(&text);
    }
    // an `<entry key=… value=…>` pair under a secret-sounding key is still read
    assert_secret("<entry key=\"SmtpPassword\" value=\"Gr@nite77$\" />", "Gr@nite77$", "secrets.generic.assignment");
    assert_secret(&format!("api_key = \"{v}\""), &v, "secrets.generic.assignment");
}

#[test]
fn curl_user_password_and_bare_authorization_header() {
    let rule = "secrets.curl.user_password";
    assert_secret("curl -u ops:Zq8vLm2pWx https://api.example.test", "ops:Zq8vLm2pWx", rule);
    assert_secret("curl -s --user 'ops:Gr@nite77!' https://api.example.test", "'ops:Gr@nite77!'", rule);
    assert_secret(
        "curl -X POST https://api.example.test \\\n  --user svc:riverstone42 -d x=1",
        "svc:riverstone42",
        rule,
    );
    let key = fake(32, ALNUM);
    assert_secret(&format!("curl -u \"{key}:\" https://api.example.test"), &format!("\"{key}:\""), rule);
    for text in [
        "curl -u user:pass https://api.example.test",
        "curl -u \"$USER:$PASS\" https://api.example.test",
        "curl -u \"$1:$2\" \"$3\"",
        "curl -u <user:password> https://api.example.test",
        "curl --user neo4j:[PASSWORD] http://db:7474/",
        "curl -u \"myusername\" http://localhost/api",
        "curl -u \"${{ env.CI_USER }}:${{ env.CI_PASS }}\" https://ci.example.test",
    ] {
        assert_clean(text);
    }
    let uuid = "3f1c2b7e-9a4d-4e8f-b6c2-1d0e5a7f9b3c";
    assert_secret(&format!("curl -H 'Authorization: {uuid}' https://x.test"), uuid, "secrets.http.authorization_key");
    assert_clean("Authorization: Negotiate");
    assert_clean("Authorization: AWS4-HMAC-SHA256 Signature=abc");
}

#[test]
fn windowed_anchor_search_finds_the_rules_a_full_set_scan_finds() {
    let d = det();
    // (every anchor has a bounded length: `SecretsDetector::new` refuses otherwise)
    assert!(d.anchor_max > 0);
    // a vocabulary of anchor pieces and separators, drawn at random (fixed seed) so
    // that anchors overlap, chain and straddle window edges
    let mut vocab: Vec<String> = Vec::new();
    for rule in rules::FIXED {
        let anchor = super::anchor_of(rule).unwrap_or_default();
        vocab.extend(anchor.split(|c: char| !c.is_ascii_alphanumeric() && c != '_').map(str::to_string));
    }
    vocab.extend(["_", "-", " ", ":", "=", "\n", "é", "\"", "api", "key", "token", "secret"].map(str::to_string));
    // long anchors (credentials in URLs, authorization headers, padded assignments)
    vocab.extend(
        [
            "://user:pass@",
            "://a-long-user-name:a-long-pass",
            "word@",
            "authorization: ",
            "bearer ",
            "  \t  ",
            "pwd   =",
        ]
        .map(str::to_string),
    );
    vocab.retain(|w| !w.is_empty());
    let mut seed: u64 = 0x5eed;
    let mut next = |n: usize| {
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (seed >> 33) as usize % n
    };
    for _ in 0..200 {
        let text: String = (0..400).map(|_| vocab[next(vocab.len())].as_str()).collect();
        let lower = text.to_ascii_lowercase();
        let full: Vec<usize> = match d.any_anchor.find(&lower) {
            Some(first) => d.set.matches_at(&lower, first.start()).into_iter().collect(),
            None => Vec::new(),
        };
        assert_eq!(d.anchored_rules(&lower), full);
    }
}

#[test]
fn infrastructure_identifiers_are_reported_at_a_low_score() {
    for (text, value, rule) in [
        ("artifactory: https://acme-corp.jfrog.io/artifactory", "acme-corp.jfrog.io", "secrets.infra.saas_tenant_host"),
        ("see https://acme.atlassian.net/browse/OPS-12", "acme.atlassian.net", "secrets.infra.saas_tenant_host"),
        ("issuer: https://acme-prod.okta.com/oauth2", "acme-prod.okta.com", "secrets.infra.saas_tenant_host"),
        (
            "AZURE_OPENAI_ENDPOINT=https://acme-east.openai.azure.com/",
            "acme-east.openai.azure.com",
            "secrets.infra.saas_tenant_host",
        ),
        (
            "logs in acme-logs.s3.eu-west-1.amazonaws.com",
            "acme-logs.s3.eu-west-1.amazonaws.com",
            "secrets.infra.s3_bucket",
        ),
        (
            "GET https://s3.amazonaws.com/acme-backups/db.tar",
            "s3.amazonaws.com/acme-backups",
            "secrets.infra.s3_bucket",
        ),
        (
            "gsutil cp x https://storage.googleapis.com/acme-models/v1",
            "storage.googleapis.com/acme-models",
            "secrets.infra.gcs_bucket",
        ),
        ("arn:aws:iam::123456789012:role/deploy", "arn:aws:iam::123456789012:role/deploy", "secrets.infra.aws_arn"),
        ("aws_account_id = 123456789012", "123456789012", "secrets.infra.aws_account_id"),
    ] {
        let found = scan(text);
        let f = found.iter().find(|f| f.rule == rule).unwrap_or_else(|| panic!("{text}: {found:?}"));
        assert_eq!(&text[f.span.clone()], value, "{text}");
        assert_eq!((f.category, f.score < 0.5), ("infrastructure", true), "{text}");
    }
    // a template names no resource; a public site or a bare service host is no tenant
    for text in [
        "return f\"arn:aws:s3:::{bucket_name}\"",
        "arn:aws:s3:::${bucket}",
        "visit www.salesforce.com for pricing",
        "the endpoint is s3.amazonaws.com/ or https://storage.googleapis.com",
        "our account id is 123456789012",
    ] {
        assert_clean(text);
    }
}

#[test]
fn an_identifier_never_hides_the_credential_it_touches() {
    let key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzq3m7LvW9a";
    let text = format!("arn:aws:iam::123456789012:role/ci,aws_secret_access_key={key}");
    let found = scan(&text);
    assert!(
        found.iter().any(|f| &text[f.span.clone()] == key && f.category != "infrastructure" && f.score >= 0.6),
        "{found:?}"
    );
    // padding before a token does not hide it (the patterns keep unbounded whitespace)
    let tok = fake(40, ALNUM);
    let text = format!("Authorization: Bearer{}{tok}", " ".repeat(40));
    let found = scan(&text);
    assert!(found.iter().any(|f| text[f.span.clone()].contains(&tok)), "{found:?}");
}
