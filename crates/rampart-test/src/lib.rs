//! Test harness: a real rampart gateway and a real recording mock provider, both on
//! `127.0.0.1:0`, a key store in a temporary SQLite file (or a fresh PostgreSQL
//! database when asked), keys created through the store's public API, and a small
//! HTTP client. Shipping code never depends on this crate.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;

use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use rampart_config::Config;
use rampart_gateway::{Gateway, RunningGateway};
pub use rampart_mock::{MockOptions, MockProvider, RecordedRequest};
use rampart_store::{KeyHasher, ModelScope, Store};

/// The provider credential the harness configures; the mock accepts only this.
pub const PROVIDER_KEY: &str = "sk-upstream-provider-secret";
/// The key-hashing secret the harness configures.
pub const KEY_SECRET: &str = "test-key-secret-0123456789abcdef0123456789";

/// Knobs for a test gateway. Every field has a sensible default.
#[derive(Debug, Clone)]
pub struct Options {
    /// Provider base URL; default: the harness's mock.
    pub provider_base_url: Option<String>,
    /// `server.max_body_size`.
    pub max_body_size: String,
    /// `server.max_upload_size`.
    pub max_upload_size: String,
    /// `server.shutdown_grace`.
    pub shutdown_grace: String,
    /// Provider `response_timeout`.
    pub response_timeout: String,
    /// Provider `idle_timeout`.
    pub idle_timeout: String,
    /// Whether `[routing] default_provider` is set.
    pub default_provider: bool,
    /// `auth.cache_ttl`.
    pub cache_ttl: String,
    /// Store URL; default: a SQLite file in the harness's temp dir.
    pub store_url: Option<String>,
    /// Extra TOML appended to the `[server]` table (e.g. `tls = {...}`,
    /// `max_connections = 2`, `header_timeout = "1s"`, `shutdown_delay = "1s"`).
    pub extra_server_toml: String,
    /// Extra top-level TOML appended to the config (e.g. `[policies.strict]` tables).
    pub extra_toml: String,
    /// Extra TOML appended to the `[auth]` table (e.g. `max_key_age = "1d"`, then
    /// `[[auth.oidc]]` tables).
    pub extra_auth_toml: String,
    /// Serve the admin API on its own `127.0.0.1:0` listener; the TOML appended to
    /// the `[admin]` table (`""` for its defaults), `None` for no admin API.
    pub admin_toml: Option<String>,
    /// TOML appended to the `[audit]` table (the harness sets `journal` in its temp
    /// dir), e.g. `url = "postgres://..."` or `enabled = false`.
    pub audit_toml: String,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            provider_base_url: None,
            max_body_size: "1MiB".into(),
            max_upload_size: "4MiB".into(),
            shutdown_grace: "5s".into(),
            response_timeout: "10s".into(),
            idle_timeout: "10s".into(),
            default_provider: true,
            cache_ttl: "1s".into(),
            store_url: None,
            extra_server_toml: String::new(),
            extra_toml: String::new(),
            extra_auth_toml: String::new(),
            admin_toml: None,
            audit_toml: String::new(),
        }
    }
}

/// A running gateway in front of a running mock.
pub struct Harness {
    /// The mock provider (records what reached it).
    pub mock: MockProvider,
    /// The gateway.
    pub gateway: Option<RunningGateway>,
    /// The gateway's key store (the same database the gateway reads).
    pub store: Store,
    /// The hasher matching the gateway's secret.
    pub hasher: KeyHasher,
    /// The store's URL.
    pub store_url: String,
    /// Gateway address.
    pub addr: SocketAddr,
    /// Admin API address, when [`Options::admin_toml`] asked for it.
    pub admin_addr: Option<SocketAddr>,
    /// HTTP client.
    pub client: TestClient,
    _dir: tempfile::TempDir,
}

impl Harness {
    /// Gateway and mock with default options.
    pub async fn start() -> Self {
        Self::start_with(Options::default()).await
    }

    /// Gateway and mock with `options`.
    pub async fn start_with(options: Options) -> Self {
        let mock =
            MockProvider::spawn_with(MockOptions { api_key: Some(PROVIDER_KEY.into()), ..MockOptions::default() })
                .await
                .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let store_url = options
            .store_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", dir.path().join("rampart.db").display()));
        let base_url = options.provider_base_url.clone().unwrap_or_else(|| mock.base_url());
        let journal = dir.path().join("audit.journal");
        let config = config_toml(&options, &store_url, &base_url, &journal);
        let env = |name: &str| match name {
            "TEST_KEY_SECRET" => Some(KEY_SECRET.to_owned()),
            "TEST_PROVIDER_KEY" => Some(PROVIDER_KEY.to_owned()),
            _ => None,
        };
        let config = Config::from_toml(&config, &env).unwrap_or_else(|e| panic!("test config: {e}"));
        let store = Store::connect(config.store.url.expose()).await.unwrap();
        let hasher = KeyHasher::new(config.auth.key_secret.expose());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let admin = match options.admin_toml {
            Some(_) => Some(tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap()),
            None => None,
        };
        let gateway = Gateway::new(config, store.clone()).await.unwrap().serve_with_admin(listener, admin).unwrap();
        let addr = gateway.local_addr();
        let admin_addr = gateway.admin_addr();
        Self {
            mock,
            gateway: Some(gateway),
            store,
            hasher,
            store_url,
            addr,
            admin_addr,
            client: TestClient::new(addr),
            _dir: dir,
        }
    }

    /// Creates a key allowed `models` (globs) and returns `(id, key)`.
    pub async fn key(&self, models: &[&str]) -> (String, String) {
        self.key_expiring(models, None).await
    }

    /// Creates a key with an expiry (unix seconds).
    pub async fn key_expiring(&self, models: &[&str], expires_at: Option<i64>) -> (String, String) {
        let scope = ModelScope::new(models.iter().map(|m| (*m).to_owned()).collect());
        let (record, key) = self.store.create_key(&self.hasher, "test", &scope, expires_at).await.unwrap();
        (record.id, key.key)
    }

    /// A key allowed every model under the policy profile `policy`.
    pub async fn policy_key(&self, policy: &str) -> String {
        let scope = ModelScope::new(vec!["*".to_owned()]);
        let (_, key) =
            self.store.create_key_with_policy(&self.hasher, "test", &scope, None, Some(policy)).await.unwrap();
        key.key
    }

    /// A key allowed every model.
    pub async fn any_key(&self) -> String {
        self.key(&["*"]).await.1
    }

    /// The gateway, for shutdown tests.
    pub fn take_gateway(&mut self) -> RunningGateway {
        self.gateway.take().unwrap()
    }
}

fn config_toml(options: &Options, store_url: &str, base_url: &str, journal: &std::path::Path) -> String {
    let routing = if options.default_provider { "[routing]\ndefault_provider = \"mock\"\n" } else { "" };
    format!(
        r#"
[server]
listen = "127.0.0.1:0"
max_body_size = "{max_body}"
max_upload_size = "{max_upload}"
shutdown_grace = "{grace}"
{extra}

[store]
url = "{store_url}"

[auth]
key_secret = {{ env = "TEST_KEY_SECRET" }}
cache_ttl = "{cache_ttl}"
{extra_auth}

[[providers]]
name = "mock"
kind = "openai"
base_url = "{base_url}"
api_key = {{ env = "TEST_PROVIDER_KEY" }}
connect_timeout = "2s"
response_timeout = "{response_timeout}"
idle_timeout = "{idle_timeout}"
# The mock's failure and timing controls.
forward_headers = ["x-mock-*"]

[[models]]
name = "alias-model"
provider = "mock"
upstream_model = "mock-model"

{routing}
[log]
format = "json"
level = "warn"

# Inspection off: for tests of byte-for-byte transparency (`Harness::policy_key("off")`).
[policies.off]
injection = "allow"
jailbreak = "allow"
secrets = "allow"
pii = "allow"
response_secrets = "allow"
response_pii = "allow"
canary = false
prompt_leak = "allow"
links = "allow"
opaque_input = "allow"

[audit]
journal = "{journal}"
{audit}

{admin}
{extra_toml}
"#,
        journal = journal.display(),
        audit = options.audit_toml,
        extra_toml = options.extra_toml,
        extra_auth = options.extra_auth_toml,
        admin = options
            .admin_toml
            .as_ref()
            .map(|t| format!("[admin]\nlisten = \"127.0.0.1:0\"\n{t}\n"))
            .unwrap_or_default(),
        max_body = options.max_body_size,
        max_upload = options.max_upload_size,
        grace = options.shutdown_grace,
        extra = options.extra_server_toml,
        response_timeout = options.response_timeout,
        idle_timeout = options.idle_timeout,
        cache_ttl = options.cache_ttl,
    )
}

/// A complete response.
#[derive(Debug)]
pub struct TestResponse {
    /// Status.
    pub status: StatusCode,
    /// Headers.
    pub headers: HeaderMap,
    /// Whole body.
    pub body: Bytes,
}

impl TestResponse {
    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    /// `error.code` of an OpenAI-shaped error body.
    pub fn error_code(&self) -> Option<String> {
        self.json().pointer("/error/code").and_then(|c| c.as_str()).map(str::to_owned)
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// An HTTP/1.1 client bound to one gateway.
#[derive(Clone)]
pub struct TestClient {
    addr: SocketAddr,
    client: Client<HttpConnector, Full<Bytes>>,
}

impl TestClient {
    /// A client for `addr`.
    pub fn new(addr: SocketAddr) -> Self {
        Self { addr, client: Client::builder(TokioExecutor::new()).build_http() }
    }

    /// Starts a request to `path` on the gateway.
    pub fn request(&self, method: Method, path: &str) -> http::request::Builder {
        Request::builder().method(method).uri(format!("http://{}{path}", self.addr))
    }

    /// Sends a request; returns the response with its body still streaming.
    pub async fn send_streaming(&self, request: Request<Full<Bytes>>) -> http::Response<hyper::body::Incoming> {
        self.client.request(request).await.unwrap()
    }

    /// Sends a request and reads the whole response.
    pub async fn send(&self, request: Request<Full<Bytes>>) -> TestResponse {
        let response = self.send_streaming(request).await;
        let (parts, body) = response.into_parts();
        let body = body.collect().await.unwrap().to_bytes();
        TestResponse { status: parts.status, headers: parts.headers, body }
    }

    /// POSTs JSON with a bearer key.
    pub async fn post_json(&self, path: &str, key: &str, body: &str) -> TestResponse {
        self.send(self.json_request(path, key, body, &[])).await
    }

    /// A JSON POST with a bearer key and extra headers (e.g. the mock's `x-mock-*`).
    pub fn json_request(&self, path: &str, key: &str, body: &str, headers: &[(&str, &str)]) -> Request<Full<Bytes>> {
        let mut request = self
            .request(Method::POST, path)
            .header("authorization", format!("Bearer {key}"))
            .header("content-type", "application/json");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.body(Full::new(Bytes::from(body.to_owned()))).unwrap()
    }

    /// GETs with a bearer key.
    pub async fn get(&self, path: &str, key: &str) -> TestResponse {
        let request = self
            .request(Method::GET, path)
            .header("authorization", format!("Bearer {key}"))
            .body(Full::new(Bytes::new()))
            .unwrap();
        self.send(request).await
    }
}

/// A minimal chat request body.
pub fn chat_body(model: &str) -> String {
    serde_json::json!({"model": model, "messages": [{"role": "user", "content": "hello"}]}).to_string()
}

/// A fresh PostgreSQL database URL from `RAMPART_TEST_DATABASE_URL`, or `None` (after
/// saying so) when it is unset.
pub async fn postgres_database() -> Option<String> {
    let Ok(base) = std::env::var("RAMPART_TEST_DATABASE_URL") else {
        eprintln!("RAMPART_TEST_DATABASE_URL is not set: skipping the PostgreSQL variant");
        return None;
    };
    let name = format!("rampart_it_{}", rampart_store::keys::random_id("", 12).unwrap().to_lowercase());
    sqlx::any::install_default_drivers();
    let admin = sqlx::any::AnyPoolOptions::new().max_connections(1).connect(&base).await.unwrap();
    sqlx::query(&format!("CREATE DATABASE {name}")).execute(&admin).await.unwrap();
    admin.close().await;
    let (prefix, _) = base.rsplit_once('/').unwrap();
    Some(format!("{prefix}/{name}"))
}
