//! The `rampart` binary as users run it: `config check`, `keys`, `serve` with signals,
//! and `demo`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_rampart");
const SECRET: &str = "cli-test-secret-0123456789abcdef0123456789";

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn rampart(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(BIN);
    command.args(args).env_remove("RUST_LOG").env_remove("RAMPART_CONFIG");
    for (k, v) in env {
        command.env(k, v);
    }
    command.output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn config_check_accepts_the_shipped_example() {
    let example = repo_root().join("examples/minimal.toml");
    let out = rampart(
        &["config", "check", example.to_str().unwrap()],
        &[("RAMPART_KEY_SECRET", SECRET), ("OPENAI_API_KEY", "sk-test"), ("RAMPART_LISTEN", "127.0.0.1:9999")],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("listen 127.0.0.1:9999"), "{}", text(&out.stdout));
}

#[test]
fn config_check_lists_every_error_with_its_path_and_fails() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.toml");
    std::fs::write(
        &file,
        "[server]\nlisten = \"nowhere\"\nmax_body_size = \"lots\"\n\n[auth]\nkey_secret = \"inline-secret-value\"\n\n[[providers]]\nname = \"p\"\nkind = \"openai\"\nbase_url = \"${MISSING_URL}\"\n\n[[models]]\nname = \"m\"\nprovider = \"q\"\n",
    )
    .unwrap();
    let out = rampart(&["config", "check", file.to_str().unwrap()], &[]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    for path in
        ["server.listen", "server.max_body_size", "auth.key_secret", "providers[0].base_url", "models[0].provider"]
    {
        assert!(stderr.contains(&format!("{path}: ")), "missing {path} in:\n{stderr}");
    }
    assert!(!stderr.contains("inline-secret-value"), "{stderr}");
    assert!(stderr.contains("MISSING_URL"));
}

fn key_config(dir: &Path) -> PathBuf {
    let file = dir.join("rampart.toml");
    let text = std::fs::read_to_string(repo_root().join("examples/minimal.toml")).unwrap();
    std::fs::write(&file, text).unwrap();
    file
}

#[test]
fn keys_create_list_revoke() {
    let dir = tempfile::tempdir().unwrap();
    let config = key_config(dir.path());
    let db = format!("sqlite://{}", dir.path().join("keys.db").display());
    // The keys commands need only [store] and [auth]: no provider key in this env.
    let env = [("RAMPART_KEY_SECRET", SECRET), ("RAMPART_DB", db.as_str())];
    let config = config.to_str().unwrap();

    let out = rampart(
        &[
            "keys",
            "create",
            "--config",
            config,
            "--name",
            "ci",
            "--models",
            "gpt-4o*,text-embedding-*",
            "--expires",
            "30d",
            "--json",
        ],
        &env,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let created: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let id = created["id"].as_str().unwrap().to_owned();
    let key = created["key"].as_str().unwrap().to_owned();
    assert!(id.starts_with("key_"));
    assert!(key.starts_with("rk-") && key.len() == 46, "{key}");

    let out = rampart(&["keys", "list", "--config", config, "--json"], &env);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(!stdout.contains(&key), "list must never show a key");
    let listed: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let entry = &listed.as_array().unwrap()[0];
    assert_eq!(entry["id"], id.as_str());
    assert_eq!(entry["status"], "active");
    assert_eq!(entry["models"], serde_json::json!(["gpt-4o*", "text-embedding-*"]));
    let expires = entry["expires_at"].as_i64().unwrap() - entry["created_at"].as_i64().unwrap();
    assert!((30 * 86400 - 5..=30 * 86400 + 5).contains(&expires), "{expires}");

    let out = rampart(&["keys", "suspend", "--config", config, &id, "--reason", "leak suspected"], &env);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = rampart(&["keys", "list", "--config", config, "--json"], &env);
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(listed[0]["status"], "suspended");
    assert_eq!(listed[0]["suspended_reason"], "cli: leak suspected");
    let out = rampart(&["keys", "resume", "--config", config, &id], &env);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = rampart(&["keys", "list", "--config", config, "--json"], &env);
    assert_eq!(serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()[0]["status"], "active");

    let out = rampart(&["keys", "revoke", "--config", config, &id], &env);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = rampart(&["keys", "list", "--config", config], &env);
    assert!(text(&out.stdout).contains("revoked"), "{}", text(&out.stdout));
    let out = rampart(&["keys", "resume", "--config", config, &id], &env);
    assert_eq!(out.status.code(), Some(1), "a revoked key cannot be resumed");

    let out = rampart(&["keys", "revoke", "--config", config, "key_nope"], &env);
    assert_eq!(out.status.code(), Some(1));

    let out = rampart(&["keys", "create", "--config", config, "--name", "x", "--expires", "soon"], &env);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("--expires"));

    // Every change, refused ones included, is an admin record in the audit trail.
    let full_env = [env[0], env[1], ("OPENAI_API_KEY", "sk-test")];
    let out = rampart(&["audit", "export", "--config", config], &full_env);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let exported = text(&out.stdout);
    assert!(!exported.contains(&key), "a key reached the trail");
    let actions: Vec<(String, u64)> = exported
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["record"].take())
        .inspect(|r| assert_eq!((r["kind"].as_str(), r["principal_kind"].as_str()), (Some("admin"), Some("cli"))))
        .map(|r| (r["endpoint"].as_str().unwrap().to_owned(), r["status"].as_u64().unwrap()))
        .collect();
    let expected: Vec<(String, u64)> = [
        (format!("keys create {id}"), 200),
        (format!("keys suspend {id}"), 200),
        (format!("keys resume {id}"), 200),
        (format!("keys revoke {id}"), 200),
        (format!("keys resume {id}"), 404),
        ("keys revoke key_nope".to_owned(), 404),
    ]
    .into();
    assert_eq!(actions, expected);
    let out = rampart(&["audit", "verify", "--config", config], &full_env);
    assert!(out.status.success(), "{}", text(&out.stdout));
}

#[test]
fn keys_rotate_and_admin_bootstrap() {
    let dir = tempfile::tempdir().unwrap();
    let config = key_config(dir.path());
    let db = format!("sqlite://{}", dir.path().join("keys.db").display());
    let env = [("RAMPART_KEY_SECRET", SECRET), ("RAMPART_DB", db.as_str())];
    let config = config.to_str().unwrap();
    let args = ["keys", "create", "--config", config, "--name", "svc", "--endpoints", "/v1/embeddings"];
    let out = rampart(&[&args[..], &["--cidrs", "10.0.0.0/8", "--team", "nope", "--json"]].concat(), &env);
    assert!(!out.status.success(), "an unknown team is refused");
    assert!(text(&out.stderr).contains("unknown team"), "{}", text(&out.stderr));
    let out = rampart(&[&args[..], &["--cidrs", "10.0.0.0/8", "--owner", "ops", "--json"]].concat(), &env);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let created: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let id = created["id"].as_str().unwrap().to_owned();
    let out = rampart(&["keys", "create", "--config", config, "--name", "x", "--cidrs", "10.0.0.1/8"], &env);
    assert!(!out.status.success(), "host bits set in a CIDR are refused");

    let out = rampart(&["keys", "rotate", "--config", config, "--grace", "24h", &id, "--json"], &env);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let rotated: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rotated["replaces"], id.as_str());
    let new_id = rotated["id"].as_str().unwrap();
    let out = rampart(&["keys", "list", "--config", config, "--json"], &env);
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let successor = listed.as_array().unwrap().iter().find(|k| k["id"] == new_id).unwrap();
    assert_eq!(successor["endpoints"], serde_json::json!(["/v1/embeddings"]), "the scope is copied");
    assert_eq!(successor["cidrs"], serde_json::json!(["10.0.0.0/8"]));
    assert_eq!(successor["rotated_from"], id.as_str());
    let out = rampart(&["keys", "rotate", "--config", config, "--grace", "24h", &id], &env);
    assert!(!out.status.success(), "a key is rotated once");
    assert_eq!(successor["limits"]["priority"], "standard", "no limits: standard priority");

    // Limits are set at creation, exactly (dollars to micro-dollars without floats).
    let limited = [
        "keys",
        "create",
        "--config",
        config,
        "--name",
        "batch",
        "--rpm",
        "60",
        "--tpm",
        "100000",
        "--max-concurrency",
        "8",
        "--daily-budget-usd",
        "5",
        "--monthly-budget-usd",
        "0.1",
        "--max-tokens",
        "2048",
        "--priority",
        "batch",
        "--json",
    ];
    let out = rampart(&limited, &env);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let limited_id =
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()["id"].as_str().unwrap().to_owned();
    let out = rampart(&["keys", "list", "--config", config, "--json"], &env);
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let entry = listed.as_array().unwrap().iter().find(|k| k["id"] == limited_id.as_str()).unwrap();
    assert_eq!(
        entry["limits"],
        serde_json::json!({"rpm": 60, "tpm": 100000, "max_concurrency": 8, "daily_budget_usd": "5",
            "monthly_budget_usd": "0.1", "max_tokens": 2048, "priority": "batch"})
    );
    for (flag, value) in
        [("--rpm", "0"), ("--priority", "urgent"), ("--daily-budget-usd", "-5"), ("--monthly-budget-usd", "1e3")]
    {
        let out = rampart(&["keys", "create", "--config", config, "--name", "bad", flag, value], &env);
        assert!(!out.status.success(), "{flag} {value} is refused");
    }

    let out = rampart(&["admin", "create-token", "--config", config, "--name", "ci", "--role", "auditor"], &env);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("token: ra-"), "{}", text(&out.stdout));
    let out = rampart(&["admin", "create-token", "--config", config, "--name", "ci", "--role", "root"], &env);
    assert!(!out.status.success());
    let short = [("RAMPART_ADMIN_PASSWORD", "short"), env[0], env[1]];
    let out = rampart(&["admin", "create-user", "--config", config, "--username", "ana", "--role", "admin"], &short);
    assert!(!out.status.success(), "a short password is refused");
    let good = [("RAMPART_ADMIN_PASSWORD", "correct horse battery staple"), env[0], env[1]];
    let out = rampart(&["admin", "create-user", "--config", config, "--username", "ana", "--role", "admin"], &good);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("otpauth://totp/"), "{stdout}");
    assert!(!stdout.contains("correct horse"), "the password is never printed");

    let full_env = [env[0], env[1], ("OPENAI_API_KEY", "sk-test")];
    let out = rampart(&["audit", "export", "--config", config], &full_env);
    let exported = text(&out.stdout);
    assert!(!exported.contains("correct horse") && !exported.contains("ra-"), "no password or token: {exported}");
    let actions: Vec<String> = exported
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["record"]["endpoint"].as_str().unwrap().to_owned()
        })
        .collect();
    for action in ["keys create key_", "keys rotate key_", "admin create-token tok_", "admin create-user "] {
        assert!(actions.iter().any(|a| a.starts_with(action)), "{action} not in the trail: {actions:?}");
    }
}

/// A `rampart serve` in `dir`: `examples/minimal.toml` plus `extra_toml`, a free port,
/// a SQLite key store, and the environment that points it at the provider `base_url`.
struct ServeSetup {
    config: String,
    listen: String,
    db: String,
    base_url: String,
    provider_key: &'static str,
}

impl ServeSetup {
    fn new(dir: &Path, base_url: String, provider_key: &'static str, extra_toml: &str) -> Self {
        let config = key_config(dir);
        let mut toml = std::fs::read_to_string(&config).unwrap();
        toml.push_str(extra_toml);
        std::fs::write(&config, toml).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        Self {
            config: config.to_str().unwrap().to_owned(),
            listen: format!("127.0.0.1:{port}"),
            db: format!("sqlite://{}", dir.join("keys.db").display()),
            base_url,
            provider_key,
        }
    }

    fn env(&self) -> [(&str, &str); 6] {
        [
            ("RAMPART_KEY_SECRET", SECRET),
            ("RAMPART_DB", self.db.as_str()),
            ("RAMPART_LISTEN", self.listen.as_str()),
            ("RAMPART_ADMIN_LISTEN", "127.0.0.1:0"),
            ("OPENAI_BASE_URL", self.base_url.as_str()),
            ("OPENAI_API_KEY", self.provider_key),
        ]
    }
}

/// Starts `rampart serve --config CONFIG` with `env`, logs piped to its stderr.
fn spawn_serve(config: &str, env: &[(&str, &str)]) -> std::process::Child {
    let mut command = Command::new(BIN);
    command.args(["serve", "--config", config]).env_remove("RUST_LOG").stdout(Stdio::null()).stderr(Stdio::piped());
    for (k, v) in env {
        command.env(k, v);
    }
    command.spawn().unwrap()
}

/// POSTs `body` to `/v1/chat/completions` until the freshly started gateway on `listen`
/// answers (20 s at most), and returns that first response.
fn first_response(
    runtime: &tokio::runtime::Runtime,
    client: &rampart_test::TestClient,
    listen: &str,
    key: &str,
    body: &str,
) -> rampart_test::TestResponse {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        assert!(Instant::now() < deadline, "rampart serve did not come up");
        let attempt = runtime.block_on(async {
            tokio::time::timeout(Duration::from_secs(2), async {
                if tokio::net::TcpStream::connect(listen).await.is_err() {
                    return None;
                }
                Some(client.post_json("/v1/chat/completions", key, body).await)
            })
            .await
            .ok()
            .flatten()
        });
        match attempt {
            Some(response) => return response,
            None => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

/// `rampart serve` end to end: keys from the CLI, a request through, logs without
/// secrets or content, and a graceful exit on SIGTERM.
#[test]
fn serve_handles_traffic_logs_safely_and_stops_on_sigterm() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let mock = runtime
        .block_on(rampart_mock::MockProvider::spawn_with(rampart_mock::MockOptions {
            api_key: Some("sk-provider-cli-test".into()),
            ..Default::default()
        }))
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let setup = ServeSetup::new(dir.path(), mock.base_url(), "sk-provider-cli-test", "");
    let (env, config, listen) = (setup.env(), setup.config.as_str(), setup.listen.as_str());
    let out = rampart(&["keys", "create", "--config", config, "--name", "app", "--json"], &env);
    let key = serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()["key"].as_str().unwrap().to_owned();

    let mut child = spawn_serve(config, &env);
    let client = rampart_test::TestClient::new(listen.parse().unwrap());
    let prompt = "the-secret-prompt-text-42";
    let body = format!(r#"{{"model":"gpt-4o-mini","messages":[{{"role":"user","content":"{prompt}"}}]}}"#);
    let response = first_response(&runtime, &client, listen, &key, &body);
    assert_eq!(response.status, 200, "{}", response.text());
    let bad = runtime.block_on(client.post_json("/v1/chat/completions", "rk-wrong", &body));
    assert_eq!(bad.status, 401);

    // Revocation from another process (the CLI) holds from the very next request, even
    // though the gateway has the key cached.
    let id = {
        let out = rampart(&["keys", "list", "--config", config, "--json"], &env);
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()[0]["id"].as_str().unwrap().to_owned()
    };
    for _ in 0..3 {
        assert_eq!(runtime.block_on(client.post_json("/v1/chat/completions", &key, &body)).status, 200);
    }
    let out = rampart(&["keys", "revoke", "--config", config, &id], &env);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let revoked = runtime.block_on(client.post_json("/v1/chat/completions", &key, &body));
    assert_eq!(revoked.status, 401, "{}", revoked.text());

    Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let mut logs = String::new();
            child.stderr.take().unwrap().read_to_string(&mut logs).unwrap();
            panic!("rampart did not stop on SIGTERM:\n{logs}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}");
    let mut logs = String::new();
    child.stderr.take().unwrap().read_to_string(&mut logs).unwrap();
    assert!(logs.contains("\"request_id\":\"req_"), "{logs}");
    assert!(logs.contains("\"status\":401"), "{logs}");
    for secret in [key.as_str(), prompt, "sk-provider-cli-test", SECRET] {
        assert!(!logs.contains(secret), "a secret or prompt reached the logs:\n{logs}");
    }
    for line in logs.lines() {
        serde_json::from_str::<serde_json::Value>(line).unwrap_or_else(|e| panic!("not a JSON log line ({e}): {line}"));
    }
}

#[test]
fn demo_runs_its_samples_and_exits() {
    let out = rampart(&["demo", "--exit", "--listen", "127.0.0.1:0"], &[]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    assert!(stdout.contains("chat completion") && stdout.contains("-> 200"), "{stdout}");
    assert!(stdout.contains("-> 401"), "{stdout}");
    assert!(stdout.contains("from openai import OpenAI"), "{stdout}");
}

/// `rampart audit verify|tail|export` on a trail written through the library, then
/// tampered with: verify fails with exit status 1 and names the record.
#[test]
fn audit_verify_tail_and_export() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("rampart.toml");
    let toml = format!(
        "[store]\nurl = \"sqlite://{}\"\n[auth]\nkey_secret = {{ env = \"RAMPART_KEY_SECRET\" }}\n[[providers]]\nname = \"p\"\nkind = \"openai\"\nbase_url = \"http://127.0.0.1:9/v1\"\n",
        dir.path().join("rampart.db").display()
    );
    std::fs::write(&config, &toml).unwrap();
    let env = [("RAMPART_KEY_SECRET", SECRET)];
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let db_url = runtime.block_on(async {
        let lookup = |name: &str| (name == "RAMPART_KEY_SECRET").then(|| SECRET.to_owned());
        let loaded = rampart_config::Config::from_toml(&toml, &lookup).unwrap();
        let store = rampart_gateway::open_audit_store(&loaded).await.unwrap();
        let records: Vec<rampart_audit::AuditRecord> = (1..=5)
            .map(|i| rampart_audit::AuditRecord {
                time: 1_700_000_000_000 + i,
                request_id: format!("req_{i}"),
                principal: Some(if i % 2 == 0 { "key_even".into() } else { "key_odd".into() }),
                endpoint: Some("/v1/chat/completions".into()),
                status: Some(200),
                ..Default::default()
            })
            .collect();
        store.append_batch(&records).await.unwrap();
        store.close().await;
        loaded.audit.url.expose().clone()
    });
    let path = config.to_str().unwrap();

    let out = rampart(&["audit", "verify", "--config", path], &env);
    assert!(out.status.success(), "{}{}", text(&out.stdout), text(&out.stderr));
    assert!(text(&out.stdout).contains("5 records") && text(&out.stdout).contains("OK"), "{}", text(&out.stdout));

    let out = rampart(&["audit", "tail", "--config", path, "-n", "2"], &env);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let lines: Vec<serde_json::Value> = text(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.iter().map(|l| l["seq"].as_u64().unwrap()).collect::<Vec<_>>(), vec![4, 5]);

    let out = rampart(&["audit", "export", "--config", path, "--format", "ocsf", "--principal", "key_odd"], &env);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let events: Vec<serde_json::Value> = text(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(events.len(), 3);
    assert!(events.iter().all(|e| e["class_uid"] == 6003), "{events:?}");
    let out = rampart(
        &[
            "audit",
            "export",
            "--config",
            path,
            "--since",
            "2023-11-14T22:13:20.003Z",
            "--until",
            "2023-11-14T22:13:20.005Z",
        ],
        &env,
    );
    let native: Vec<serde_json::Value> = text(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(native.iter().map(|r| r["seq"].as_u64().unwrap()).collect::<Vec<_>>(), vec![3, 4], "{native:?}");

    // Tamper: edit record 2 behind rampart's back.
    runtime.block_on(async {
        sqlx::any::install_default_drivers();
        let pool = sqlx::any::AnyPoolOptions::new().max_connections(1).connect(&db_url).await.unwrap();
        sqlx::query(
            "UPDATE audit_records SET record = REPLACE(record, '\"status\":200', '\"status\":201') WHERE seq = 2",
        )
        .execute(&pool)
        .await
        .unwrap();
        pool.close().await;
    });
    let out = rampart(&["audit", "verify", "--config", path], &env);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("PROBLEM") && stdout.contains("FAILED"), "{stdout}");
    assert!(stdout.contains("\"seq\":2"), "{stdout}");
}

/// `kill -9` of the real binary loses no completed request's record. The audit database
/// is held locked by another connection while the traffic runs, so none of these
/// records can reach it before the kill: each one the restarted gateway shows was
/// replayed from the journal, and each appears exactly once in a trail that verifies.
#[test]
fn kill_9_loses_no_completed_requests_record() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let mock = runtime.block_on(rampart_mock::MockProvider::spawn()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let audit_db = format!("sqlite://{}", dir.path().join("audit.db").display());
    let setup = ServeSetup::new(dir.path(), mock.base_url(), "sk-mock", &format!("\n[audit]\nurl = \"{audit_db}\"\n"));
    let (env, config, listen) = (setup.env(), setup.config.as_str(), setup.listen.as_str());
    let out = rampart(&["keys", "create", "--config", config, "--name", "app", "--json"], &env);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let key = serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()["key"].as_str().unwrap().to_owned();
    let client = rampart_test::TestClient::new(listen.parse().unwrap());
    let body = r#"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hello"}]}"#;
    let streamed = r#"{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"hello"}]}"#;
    let request_id =
        |response: &rampart_test::TestResponse| response.headers["x-request-id"].to_str().unwrap().to_owned();

    let mut first = spawn_serve(config, &env);
    let mut served = vec![request_id(&first_response(&runtime, &client, listen, &key, body))];

    sqlx::any::install_default_drivers();
    let (served_at_kill, committed_at_kill) = runtime.block_on(async {
        let pool = sqlx::any::AnyPoolOptions::new().max_connections(1).connect(&audit_db).await.unwrap();
        let mut lock = pool.acquire().await.unwrap();
        sqlx::query("BEGIN EXCLUSIVE").execute(&mut *lock).await.unwrap();

        // Concurrent traffic while the trail cannot be written: chat, streams, a failed
        // authentication.
        let mut tasks = tokio::task::JoinSet::new();
        for task in 0..8 {
            let (client, key) = (client.clone(), key.clone());
            tasks.spawn(async move {
                let mut ids = Vec::new();
                for i in 0..10 {
                    let (key, body) = match (task, i) {
                        (0, 0) => ("rk-wrong".to_owned(), body),
                        (_, i) if i % 3 == 0 => (key.clone(), streamed),
                        _ => (key.clone(), body),
                    };
                    let response = client.post_json("/v1/chat/completions", &key, body).await;
                    let expected = if key == "rk-wrong" { 401 } else { 200 };
                    assert_eq!(response.status, expected, "{}", response.text());
                    ids.push(response.headers["x-request-id"].to_str().unwrap().to_owned());
                }
                ids
            });
        }
        let mut after_lock = Vec::new();
        while let Some(ids) = tasks.join_next().await {
            after_lock.extend(ids.unwrap());
        }
        // Every response above is complete: kill at once.
        Command::new("kill").args(["-KILL", &first.id().to_string()]).status().unwrap();
        first.wait().unwrap();

        let rows: Vec<(String,)> =
            sqlx::query_as("SELECT record FROM audit_records").fetch_all(&mut *lock).await.unwrap();
        let committed: Vec<String> = rows.into_iter().map(|(r,)| r).collect();
        sqlx::query("ROLLBACK").execute(&mut *lock).await.unwrap();
        drop(lock);
        pool.close().await;
        (after_lock, committed)
    });
    for id in &served_at_kill {
        assert!(
            !committed_at_kill.iter().any(|record| record.contains(id.as_str())),
            "{id} reached the locked database before the kill"
        );
    }
    served.extend(served_at_kill);
    assert_eq!(served.len(), 81);

    // Restart: the journal is replayed into the trail.
    let mut second = spawn_serve(config, &env);
    let after = request_id(&first_response(&runtime, &client, listen, &key, body));
    let deadline = Instant::now() + Duration::from_secs(20);
    let records = loop {
        let out = rampart(&["audit", "export", "--config", config], &env);
        assert!(out.status.success(), "{}", text(&out.stderr));
        // Each line is {seq, prev_hash, hash, record}.
        let records: Vec<serde_json::Value> = text(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["record"].take())
            .collect();
        if records.iter().any(|r| r["request_id"] == after.as_str()) || Instant::now() >= deadline {
            break records;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    Command::new("kill").args(["-TERM", &second.id().to_string()]).status().unwrap();
    second.wait().unwrap();
    for id in &served {
        let copies = records.iter().filter(|r| r["request_id"] == id.as_str()).count();
        assert_eq!(copies, 1, "request {id} has {copies} audit records");
    }
    assert_eq!(records.iter().filter(|r| r["status"] == 401).count(), 1);
    let requests = records.iter().filter(|r| r["kind"] == "request").count();
    assert_eq!(requests, served.len() + 1, "one record per request, nothing else");
    assert_eq!(records.len(), requests + 1, "and the admin record of `keys create`");
    let out = rampart(&["audit", "verify", "--config", config], &env);
    assert!(out.status.success(), "{}{}", text(&out.stdout), text(&out.stderr));
}
