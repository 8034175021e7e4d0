//! Config compilation tests: defaults, every error with its path, secrets never echoed.

use super::*;

const SECRET: &str = "0123456789abcdef0123456789abcdef";

fn env(name: &str) -> Option<String> {
    match name {
        "KEY_SECRET" => Some(SECRET.into()),
        "OPENAI_API_KEY" => Some("sk-upstream".into()),
        "SHORT" => Some("short".into()),
        _ => None,
    }
}

fn compile(text: &str) -> Result<Config, ConfigErrors> {
    Config::from_toml(text, &env)
}

fn paths(errors: &ConfigErrors) -> Vec<&str> {
    errors.0.iter().map(|e| e.path.as_str()).collect()
}

const MINIMAL: &str = r#"
[auth]
key_secret = { env = "KEY_SECRET" }

[[providers]]
name = "openai"
kind = "openai"
base_url = "${OPENAI_BASE_URL:-https://api.openai.com/v1/}"
api_key = { env = "OPENAI_API_KEY" }

[[models]]
name = "fast"
provider = "openai"
upstream_model = "gpt-4o-mini"

[routing]
default_provider = "openai"
"#;

#[test]
fn compiles_a_minimal_file_with_defaults() {
    let config = compile(MINIMAL).unwrap();
    assert_eq!(config.server.listen.to_string(), "127.0.0.1:8080");
    assert_eq!(config.server.max_body_bytes, 16 << 20);
    assert_eq!(config.store.url.expose(), "sqlite://rampart.db");
    assert_eq!(config.providers[0].base_url.to_string(), "https://api.openai.com/v1");
    assert_eq!(config.providers[0].api_key.as_ref().unwrap().expose(), "sk-upstream");
    assert_eq!(config.auth.key_secret.expose(), SECRET.as_bytes());
    let (provider, upstream) = config.route("fast").unwrap();
    assert_eq!((config.providers[provider].name.as_str(), upstream), ("openai", "gpt-4o-mini"));
    let (provider, upstream) = config.route("anything-else").unwrap();
    assert_eq!((config.providers[provider].name.as_str(), upstream), ("openai", "anything-else"));
}

#[test]
fn unlisted_models_do_not_route_without_a_default_provider() {
    let text = MINIMAL.replace("[routing]\ndefault_provider = \"openai\"", "");
    let config = compile(&text).unwrap();
    assert!(config.route("fast").is_some());
    assert!(config.route("other").is_none());
}

#[test]
fn reports_every_error_with_its_key_path() {
    let text = r#"
[server]
listen = "not-an-address"
shutdown_grace = "soon"
lsiten = "typo"

[auth]
key_secret = { env = "SHORT" }

[[providers]]
name = "openai"
kind = "anthropic"
base_url = "ftp://x"
api_key = { env = "MISSING_KEY" }

[[providers]]
name = "other"
kind = "openai"
base_url = "http://localhost:1/v1"
timeout = "5s"

[[models]]
name = "m"
provider = "nope"

[routing]
default_provider = "${UNSET_VAR}"

[polices]
"#;
    let errors = compile(text).unwrap_err();
    let found = paths(&errors);
    for expected in [
        "routing.default_provider",
        "polices",
        "server.lsiten",
        "auth.key_secret",
        "providers[0].kind",
        "providers[0].base_url",
        "providers[0].api_key",
        "providers[1].timeout",
        "models[0].provider",
    ] {
        assert!(found.contains(&expected), "missing {expected} in {found:?}\n{errors}");
    }
    let rendered = errors.to_string();
    assert!(rendered.contains("`UNSET_VAR` is not set"), "{rendered}");
    assert!(rendered.contains("unknown field `lsiten`"), "{rendered}");
}

#[test]
fn semantic_errors_are_collected_after_shape_errors() {
    let text = MINIMAL.replace("[routing]", "[server]\nlisten = \"nope\"\nshutdown_grace = \"0s\"\n[routing]");
    let errors = compile(&text).unwrap_err();
    assert_eq!(paths(&errors), vec!["server.listen", "server.shutdown_grace"], "{errors}");
}

#[test]
fn secrets_cannot_be_inlined() {
    let text = MINIMAL.replace("api_key = { env = \"OPENAI_API_KEY\" }", "api_key = \"sk-inline\"");
    let errors = compile(&text).unwrap_err();
    assert_eq!(paths(&errors), vec!["providers[0].api_key"], "{errors}");
    assert!(!errors.to_string().contains("sk-inline"), "{errors}");
}

#[test]
fn secret_values_never_appear_in_errors() {
    let text = MINIMAL.replace("{ env = \"KEY_SECRET\" }", "{ env = \"SHORT\" }");
    let errors = compile(&text).unwrap_err();
    assert!(!errors.to_string().contains("short"), "{errors}");
}

#[test]
fn secrets_can_come_from_files() {
    let dir = std::env::temp_dir().join(format!("rampart-config-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("key");
    std::fs::write(&file, format!("{SECRET}\n")).unwrap();
    let text = MINIMAL.replace("{ env = \"KEY_SECRET\" }", &format!("{{ file = {:?} }}", file.display().to_string()));
    let config = compile(&text).unwrap();
    assert_eq!(config.auth.key_secret.expose(), SECRET.as_bytes());
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn invalid_toml_points_at_the_line() {
    let errors = compile("[server]\nlisten = \n").unwrap_err();
    assert!(errors.to_string().contains("line 2"), "{errors}");
}

#[test]
fn interpolation_never_injects_toml() {
    let hostile = |name: &str| match name {
        "KEY_SECRET" => Some(SECRET.into()),
        "OPENAI_API_KEY" => Some("x".into()),
        "LISTEN" => Some("127.0.0.1:9\"\n[evil]\nx = \"1".into()),
        _ => None,
    };
    let text = format!("[server]\nlisten = \"${{LISTEN}}\"\n{MINIMAL}");
    let errors = Config::from_toml(&text, &hostile).unwrap_err();
    assert_eq!(paths(&errors), vec!["server.listen"], "{errors}");
}

#[test]
fn store_urls_are_normalized() {
    let with_store =
        |url: &str| compile(&format!("[store]\nurl = \"{url}\"\n[audit]\njournal = \"/tmp/audit.journal\"\n{MINIMAL}"));
    assert_eq!(with_store("/var/lib/rampart.db").unwrap().store.url.expose(), "sqlite:///var/lib/rampart.db");
    assert_eq!(with_store("postgres://u:p@localhost/db").unwrap().store.url.expose(), "postgres://u:p@localhost/db");
    let errors = with_store("mysql://u:hunter2@h/db").unwrap_err();
    assert!(!errors.to_string().contains("hunter2"), "{errors}");
}

#[test]
fn keys_commands_need_only_store_and_auth() {
    let text = MINIMAL.replace("OPENAI_API_KEY", "UNSET_PROVIDER_KEY");
    assert!(compile(&text).is_err());
    let (store, auth) = Config::store_and_auth(&text, &env).unwrap();
    assert_eq!(store.url.expose(), "sqlite://rampart.db");
    assert_eq!(auth.key_secret.expose(), SECRET.as_bytes());
    let errors = Config::store_and_auth("[store]\nurl = \"${NOPE}\"\n", &env).unwrap_err();
    assert_eq!(paths(&errors), vec!["store.url", "auth"], "{errors}");
}

#[test]
fn remote_postgres_stores_need_verified_tls() {
    let with_store =
        |url: &str| compile(&format!("[store]\nurl = \"{url}\"\n[audit]\njournal = \"/tmp/audit.journal\"\n{MINIMAL}"));
    for ok in [
        "postgres://u:p@127.0.0.1/db",
        "postgres://u@localhost:5432/db",
        "postgres://u@[::1]/db",
        "postgres://u@db.internal/db?sslmode=verify-full",
        "postgresql://u@db.internal:5433/db?application_name=x&sslmode=verify-ca",
        "postgres:///db?host=/var/run/postgresql",
    ] {
        assert!(with_store(ok).is_ok(), "{ok}");
    }
    for bad in [
        "postgres://u:secretpw@db.internal/db",
        "postgres://u@db.internal/db?sslmode=require",
        "postgres://u@10.0.0.5/db?sslmode=prefer",
    ] {
        let errors = with_store(bad).unwrap_err();
        assert_eq!(paths(&errors), vec!["store.url"], "{bad}");
        assert!(!errors.to_string().contains("secretpw"));
    }
}

#[test]
fn provider_urls_cannot_carry_credentials_and_forwarded_headers_are_checked() {
    let text = MINIMAL.replace("https://api.openai.com/v1/", "https://user:hunter2@api.example.com/v1");
    let errors = compile(&text).unwrap_err();
    assert_eq!(paths(&errors), vec!["providers[0].base_url"]);
    assert!(!errors.to_string().contains("hunter2"));
    let text = MINIMAL.replace("api_key = { env = \"OPENAI_API_KEY\" }", "api_key = { env = \"OPENAI_API_KEY\" }\nforward_headers = [\"X-Tenant\", \"x-trace-*\", \"Authorization\", \"bad header\"]");
    let errors = compile(&text).unwrap_err();
    assert_eq!(paths(&errors), vec!["providers[0].forward_headers", "providers[0].forward_headers"], "{errors}");
    let text = MINIMAL.replace(
        "api_key = { env = \"OPENAI_API_KEY\" }",
        "api_key = { env = \"OPENAI_API_KEY\" }\nforward_headers = [\"X-Tenant\", \"x-trace-*\"]",
    );
    assert_eq!(compile(&text).unwrap().providers[0].forward_headers, ["x-tenant", "x-trace-*"]);
}

#[test]
fn policies_default_and_override_field_by_field() {
    let config = compile(MINIMAL).unwrap();
    let default = config.policies.default_profile();
    assert_eq!(default, &PolicyProfile::builtin("default"));
    assert_eq!(default.injection, AttackRule { action: Action::Block, threshold: 0.5 });
    assert_eq!((default.secrets, default.pii), (Action::Redact, Action::Pseudonymize));

    let text = format!(
        "{MINIMAL}\n[policies.default]\npii = \"redact\"\n\n[policies.rollout]\nmode = \"monitor\"\ninjection = {{ action = \"block\", threshold = 0.8 }}\nlinks = \"allow\"\nlink_hosts = [\"Docs.Example.com\", \"*.cdn.example\"]\nimage_hosts = []\n"
    );
    let config = compile(&text).unwrap();
    let default = config.policies.default_profile();
    assert_eq!(default.pii, Action::Redact);
    assert_eq!(default.secrets, Action::Redact, "unset fields keep the built-in default");
    let rollout = config.policies.get("rollout").unwrap();
    assert!(rollout.monitor_only);
    assert_eq!(rollout.injection.threshold, 0.8);
    assert_eq!(rollout.effective(Action::Block), Action::Monitor);
    assert_eq!(rollout.effective(Action::Allow), Action::Allow);
    assert_eq!(rollout.links, Action::Allow);
    assert_eq!(rollout.link_hosts, ["docs.example.com", "*.cdn.example"]);
    assert_eq!(rollout.image_hosts.as_deref(), Some(&[][..]));
    assert_eq!(config.policies.names().collect::<Vec<_>>(), ["default", "rollout"]);
    assert_eq!(Config::policies_only(&text, &env).unwrap(), config.policies);
}

#[test]
fn policy_typos_fail_the_load_with_their_paths() {
    let text = format!(
        "{MINIMAL}\n[policies.p]\nmode = \"audit\"\ninjection = \"redact\"\njailbreak = {{ action = \"block\", threshold = 1.5 }}\nsecrets = \"ignore\"\nresponse_pii = \"pseudonymize\"\nlinks = \"block\"\nlink_hosts = [\"https://x.example\"]\n\n[policies.\"bad name\"]\n"
    );
    let errors = compile(&text).unwrap_err();
    let mut got = paths(&errors);
    got.sort_unstable();
    assert_eq!(
        got,
        [
            "policies.bad name",
            "policies.p.injection",
            "policies.p.jailbreak.threshold",
            "policies.p.link_hosts[0]",
            "policies.p.links",
            "policies.p.mode",
            "policies.p.response_pii",
            "policies.p.secrets",
        ]
    );
    let errors = compile(&format!("{MINIMAL}\n[policies.p]\npi = \"redact\"\n")).unwrap_err();
    assert_eq!(paths(&errors), ["policies.p.pi"], "unknown fields are refused: {errors}");
}

#[test]
fn admin_vault_and_oidc_sections_compile_with_defaults() {
    let config = compile(MINIMAL).unwrap();
    assert!(config.admin.is_none() && config.vault.is_none() && config.auth.oidc.is_empty());
    assert_eq!(config.auth.max_key_age, None);

    let text = MINIMAL.replace(
        "[auth]\nkey_secret = { env = \"KEY_SECRET\" }",
        r#"[auth]
key_secret = { env = "KEY_SECRET" }
max_key_age = "90d"

[[auth.oidc]]
issuer = "https://idp.example.com"
audiences = ["rampart"]
jwks_url = "https://idp.example.com/jwks.json"
models = ["gpt-4o*"]
endpoints = ["/v1/chat/completions"]
groups_claim = "groups"

[[auth.oidc.groups]]
group = "ml"
team = "ml-team"
policy = "strict"

[admin]

[vault]
kek = { env = "KEY_SECRET" }"#,
    );
    let config = compile(&text).unwrap();
    let admin = config.admin.unwrap();
    assert_eq!(admin.listen.to_string(), "127.0.0.1:8081");
    assert_eq!((admin.lockout_after, admin.lockout_for.as_secs(), admin.session_ttl.as_secs()), (5, 900, 8 * 3600));
    assert_eq!(config.auth.max_key_age, Some(Duration::from_secs(90 * 86400)));
    let issuer = &config.auth.oidc[0];
    assert_eq!(issuer.algorithms, ["RS256", "ES256"]);
    assert_eq!(issuer.leeway.as_secs(), 60);
    assert!(issuer.require_group, "group rules default to requiring a group");
    assert_eq!(issuer.groups[0].team.as_deref(), Some("ml-team"));
    assert_eq!(config.vault.unwrap().kek.expose(), SECRET);
}

#[test]
fn identity_sections_report_every_problem_with_its_path() {
    let text = MINIMAL.replace(
        "[auth]\nkey_secret = { env = \"KEY_SECRET\" }",
        r#"[auth]
key_secret = { env = "KEY_SECRET" }

[[auth.oidc]]
issuer = "https://idp.example.com"
audiences = []
jwks_url = "http://idp.example.com/jwks.json"
algorithms = ["HS256", "none"]
leeway = "1h"

[admin]
listen = "everywhere"
lockout_after = 0"#,
    );
    let errors = compile(&text).unwrap_err();
    let paths = paths(&errors);
    for expected in [
        "auth.oidc[0].audiences",
        "auth.oidc[0].jwks_url",
        "auth.oidc[0].algorithms",
        "auth.oidc[0].leeway",
        "admin.listen",
        "admin.lockout_after",
    ] {
        assert!(paths.contains(&expected), "{expected} missing from {paths:?}");
    }
    // loopback JWKS over plain HTTP is allowed (sidecars, tests)
    let text = text
        .replace("audiences = []", "audiences = [\"a\"]")
        .replace("http://idp.example.com", "http://127.0.0.1:9")
        .replace("algorithms = [\"HS256\", \"none\"]", "algorithms = [\"ES256\"]")
        .replace("leeway = \"1h\"", "")
        .replace("listen = \"everywhere\"\nlockout_after = 0", "");
    compile(&text).unwrap();
    // an admin listener off loopback needs TLS
    let open = text.replace("[admin]", "[admin]\nlisten = \"0.0.0.0:8081\"");
    let errors = compile(&open).unwrap_err();
    assert_eq!(errors.0.iter().map(|e| e.path.as_str()).collect::<Vec<_>>(), ["admin.listen"]);
}

#[test]
fn a_key_file_readable_by_others_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("kek");
    std::fs::write(&file, "00".repeat(32)).unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let text = format!("{MINIMAL}\n[vault]\nkek = {{ file = \"{}\" }}\n", file.display());
    let errors = compile(&text).unwrap_err();
    assert_eq!(paths(&errors), ["vault.kek"]);
    assert!(errors.0[0].message.contains("chmod 600"), "{}", errors.0[0].message);
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    assert_eq!(compile(&text).unwrap().vault.unwrap().kek.expose(), &"00".repeat(32));
}

#[test]
fn limits_default_to_memory_without_limits() {
    let config = compile(MINIMAL).unwrap();
    assert!(matches!(config.limits.backend, LimitsBackend::Memory));
    assert!(config.limits.global.is_empty());
    assert_eq!(config.limits.shedding, None);
    assert_eq!(config.limits.default_max_tokens, 4096);
    assert!(config.prices.is_empty());
}

#[test]
fn limits_compile_with_budgets_in_micro_dollars() {
    let text = format!(
        r#"{MINIMAL}
[limits]
capacity = 100
[limits.global]
rpm = 6000
daily_budget_usd = 250
[limits.teams.ml]
tpm = 100000
monthly_budget_usd = 0.25
[limits.models."gpt-4o"]
max_concurrency = 4
daily_budget_usd = 12.5

[[prices]]
model = "gpt-4o*"
input_per_million = 2.5
output_per_million = 10

[[prices]]
model = "gpt-4o-mini"
input_per_million = 0.15
output_per_million = 0.6
cached_input_per_million = 0.075
"#
    );
    let config = compile(&text).unwrap();
    assert_eq!(config.limits.global.rpm, Some(6000));
    assert_eq!(config.limits.global.daily_budget_micros, Some(250_000_000));
    assert_eq!(config.limits.teams["ml"].monthly_budget_micros, Some(250_000));
    assert_eq!(config.limits.models["gpt-4o"].max_concurrency, Some(4));
    let shedding = config.limits.shedding.unwrap();
    assert_eq!((shedding.capacity, shedding.batch_at, shedding.standard_at), (100, 0.7, 0.9));
    let mini = limits::price_for(&config.prices, "gpt-4o-mini").unwrap();
    assert_eq!(
        (mini.input_micros_per_million, mini.output_micros_per_million, mini.cached_input_micros_per_million),
        (150_000, 600_000, 75_000)
    );
    let dated = limits::price_for(&config.prices, "gpt-4o-2024-08-06").unwrap();
    assert_eq!((dated.model.as_str(), dated.cached_input_micros_per_million), ("gpt-4o*", 2_500_000));
    assert!(limits::price_for(&config.prices, "o3").is_none());
}

#[test]
fn limits_errors_name_their_keys() {
    let text = format!(
        r#"{MINIMAL}
[limits]
backend = "etcd"
on_redis_failure = "maybe"
redis_timeout = "0s"
default_max_tokens = 0
capacity = 0
shed_batch_at = 0.95
shed_standard_at = 0.9
[limits.global]
rpm = 0
daily_budget_usd = -1
[limits.teams.ml]
monthly_budget_usd = 0.0000001
[limits.models.unpriced]
daily_budget_usd = 1

[[prices]]
model = "a*b"
input_per_million = 1
output_per_million = 1

[[prices]]
model = "x"
input_per_million = inf
output_per_million = 1
"#
    );
    let errors = compile(&text).unwrap_err();
    let paths = paths(&errors);
    for expected in [
        "limits.backend",
        "limits.on_redis_failure",
        "limits.redis_timeout",
        "limits.default_max_tokens",
        "limits.capacity",
        "limits.shed_batch_at",
        "limits.global.rpm",
        "limits.global.daily_budget_usd",
        "limits.teams.ml.monthly_budget_usd",
        "prices[0].model",
        "prices[1].input_per_million",
    ] {
        assert!(paths.contains(&expected), "{expected} missing from {paths:?}");
    }
    let unknown = compile(&format!("{MINIMAL}\n[limits.global]\nrps = 5\n")).unwrap_err();
    assert_eq!(paths_of(&unknown), ["limits.global.rps"]);
    // A model budget without a price is a configuration error of its own.
    let unpriced = compile(&format!("{MINIMAL}\n[limits.models.m]\ndaily_budget_usd = 1\n")).unwrap_err();
    assert_eq!(paths_of(&unpriced), ["limits.models.m"]);
}

fn paths_of(errors: &ConfigErrors) -> Vec<String> {
    errors.0.iter().map(|e| e.path.clone()).collect()
}

#[test]
fn redis_urls_with_passwords_must_be_referenced() {
    let inline = format!("{MINIMAL}\n[limits]\nbackend = \"redis\"\nredis_url = \"redis://:hunter2@cache:6379/0\"\n");
    let errors = compile(&inline).unwrap_err();
    assert_eq!(paths_of(&errors), ["limits.redis_url"]);
    assert!(!errors.to_string().contains("hunter2"));
    let plain = format!(
        "{MINIMAL}\n[limits]\nbackend = \"redis\"\nredis_url = \"redis://127.0.0.1:6379\"\non_redis_failure = \"fail_open\"\n"
    );
    let config = compile(&plain).unwrap();
    let LimitsBackend::Redis(redis) = &config.limits.backend else { panic!("not redis") };
    assert!(redis.fail_open);
    assert_eq!(redis.timeout, Duration::from_millis(100));
    assert_eq!(redis.prefix, "rampart:lim:");
    let referenced = format!("{MINIMAL}\n[limits]\nbackend = \"redis\"\nredis_url = {{ env = \"NOPE\" }}\n");
    assert_eq!(paths_of(&compile(&referenced).unwrap_err()), ["limits.redis_url"]);
    let missing = format!("{MINIMAL}\n[limits]\nbackend = \"redis\"\n");
    assert_eq!(paths_of(&compile(&missing).unwrap_err()), ["limits.redis_url"]);
}

#[test]
fn the_audit_journal_defaults_beside_sqlite_and_is_required_with_postgres() {
    let config = compile(&format!("[store]\nurl = \"/var/lib/rampart.db\"\n{MINIMAL}")).unwrap();
    assert!(config.audit.enabled && config.audit.fail_closed);
    assert_eq!(config.audit.journal, std::path::PathBuf::from("/var/lib/rampart.db.audit-journal"));
    assert_eq!(config.audit.url.expose(), "sqlite:///var/lib/rampart.db", "the trail defaults to the store");
    let errors = compile(&format!("[store]\nurl = \"postgres://u@localhost/db\"\n{MINIMAL}")).unwrap_err();
    assert_eq!(paths(&errors), vec!["audit.journal"], "{errors}");
    let off = compile(&format!("[store]\nurl = \"postgres://u@localhost/db\"\n[audit]\nenabled = false\n{MINIMAL}"));
    assert!(off.is_ok(), "no journal needed when auditing is off");
    for (toml, path) in [
        ("[audit]\nretention = \"10m\"\n", "audit.retention"),
        ("[audit]\nmax_lag = \"1KiB\"\n", "audit.max_lag"),
        ("[audit]\nurl = \"postgres://u:hunter2@db/x\"\njournal = \"/tmp/j\"\n", "audit.url"),
        ("[anomaly]\n[[anomaly.webhooks]]\nurl = \"http://alerts.example.com/\"\n", "anomaly.webhooks[0].url"),
        (
            "[anomaly]\n[[anomaly.webhooks]]\nurl = \"https://a.example/\"\nformat = \"xml\"\n",
            "anomaly.webhooks[0].format",
        ),
        ("[anomaly]\ncooldown = \"soon\"\n", "anomaly.cooldown"),
    ] {
        let errors = compile(&format!("{toml}{MINIMAL}")).unwrap_err();
        assert_eq!(paths(&errors), vec![path], "{toml}: {errors}");
        assert!(!errors.to_string().contains("hunter2"), "{errors}");
    }
}
