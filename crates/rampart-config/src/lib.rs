//! rampart configuration: the TOML file as written ([`raw`]) and the compiled,
//! validated [`Config`] the rest of rampart runs on.
//!
//! Loading is `text → TOML tree → ${VAR} interpolation → per-section deserialization →
//! semantic checks`. Each stage collects *every* problem with its key path instead of
//! stopping at the first, so `rampart config check` shows the whole list. Secrets are
//! only ever referenced (`{ env = "VAR" }` or `{ file = "PATH" }`) and come out as
//! [`Secret`]. The crate does no IO beyond reading the config and secret files.

pub mod audit;
mod error;
pub mod identity;
mod interpolate;
pub mod limits;
pub mod policy;
pub mod raw;
mod secret;
mod size;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::de::DeserializeOwned;

pub use audit::{AnomalySettings, AuditSettings, WebhookSettings};
pub use error::{ConfigError, ConfigErrors};
pub use identity::{AdminSettings, OidcGroup, OidcIssuer, VaultSettings};
pub use interpolate::{Env, ProcessEnv};
pub use limits::{LimitSet, LimitsBackend, LimitsSettings, Price, RedisSettings, Shedding};
pub use policy::{Action, AttackRule, DEFAULT_POLICY, Policies, PolicyProfile, host_allowed};
pub use secret::Secret;

/// Smallest accepted key-hashing secret, in bytes.
pub const MIN_KEY_SECRET_LEN: usize = 32;

/// The compiled configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Data-plane listener.
    pub server: ServerSettings,
    /// Key store.
    pub store: StoreSettings,
    /// Virtual key verification.
    pub auth: AuthSettings,
    /// Upstream providers, in file order.
    pub providers: Vec<ProviderSettings>,
    /// Model table.
    pub models: Vec<ModelRoute>,
    /// Index into `providers` for unlisted models and model-less pass-through.
    pub default_provider: Option<usize>,
    /// Logging.
    pub log: LogSettings,
    /// Inspection policy profiles (`[policies.NAME]`); `default` always present.
    pub policies: Policies,
    /// The admin API (`[admin]`), when configured.
    pub admin: Option<AdminSettings>,
    /// The key-encryption key (`[vault]`), when configured; without it, one is derived
    /// from `auth.key_secret`.
    pub vault: Option<VaultSettings>,
    /// Resource limits (`[limits]`): backend, global, team and model limits, shedding.
    pub limits: LimitsSettings,
    /// Per-model prices (`[[prices]]`), in file order.
    pub prices: Vec<Price>,
    /// The audit trail (`[audit]`).
    pub audit: AuditSettings,
    /// Anomaly detection and alerts (`[anomaly]`).
    pub anomaly: AnomalySettings,
}

/// Compiled `[server]`.
#[derive(Debug, Clone)]
pub struct ServerSettings {
    /// Listen address.
    pub listen: SocketAddr,
    /// TLS termination files, when configured.
    pub tls: Option<TlsFiles>,
    /// Largest buffered (JSON) request body, bytes.
    pub max_body_bytes: usize,
    /// Largest streamed upload, bytes.
    pub max_upload_bytes: u64,
    /// Drain deadline on shutdown.
    pub shutdown_grace: Duration,
    /// Time between the shutdown signal and closing the listener (readiness 503).
    pub shutdown_delay: Duration,
    /// Deadline for a request head.
    pub header_timeout: Duration,
    /// Connection cap.
    pub max_connections: usize,
}

/// PEM files for TLS termination.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// Certificate chain.
    pub cert_file: PathBuf,
    /// Private key.
    pub key_file: PathBuf,
}

/// Compiled `[store]`.
#[derive(Debug, Clone)]
pub struct StoreSettings {
    /// Normalized database URL (`sqlite://...` or `postgres://...`). May contain a
    /// password: never log it.
    pub url: Secret<String>,
}

/// Compiled `[auth]`.
#[derive(Debug, Clone)]
pub struct AuthSettings {
    /// HMAC key for virtual key hashes.
    pub key_secret: Secret<Vec<u8>>,
    /// Key cache lifetime (zero: no cache).
    pub cache_ttl: Duration,
    /// Oldest a virtual key may be.
    pub max_key_age: Option<Duration>,
    /// JWT issuers accepted from clients.
    pub oidc: Vec<OidcIssuer>,
}

/// Provider dialects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderKind {
    /// Any OpenAI-compatible API.
    OpenAi,
}

/// Compiled `[[providers]]` entry.
#[derive(Debug, Clone)]
pub struct ProviderSettings {
    /// Unique name.
    pub name: String,
    /// Dialect.
    pub kind: ProviderKind,
    /// Base URL without a trailing slash, e.g. `https://api.openai.com/v1`.
    pub base_url: http::Uri,
    /// Injected credential, if any.
    pub api_key: Option<Secret<String>>,
    /// Connect timeout.
    pub connect_timeout: Duration,
    /// Timeout until response headers.
    pub response_timeout: Duration,
    /// Longest gap between body chunks.
    pub idle_timeout: Duration,
    /// Extra CA bundle.
    pub ca_file: Option<PathBuf>,
    /// Extra client headers forwarded (lowercase names, or prefixes ending in `*`).
    pub forward_headers: Vec<String>,
}

/// Compiled `[[models]]` entry.
#[derive(Debug, Clone)]
pub struct ModelRoute {
    /// Client-facing model name.
    pub name: String,
    /// Index into [`Config::providers`].
    pub provider: usize,
    /// Name sent upstream.
    pub upstream_model: String,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object per line.
    Json,
    /// Human-readable.
    Text,
}

/// Compiled `[log]`.
#[derive(Debug, Clone)]
pub struct LogSettings {
    /// Output format.
    pub format: LogFormat,
    /// tracing filter directive.
    pub level: String,
}

impl Config {
    /// Reads and compiles a configuration file, resolving `${VAR}` and secrets from
    /// the process environment.
    pub fn load(path: &Path) -> Result<Self, ConfigErrors> {
        let text = std::fs::read_to_string(path).map_err(|error| {
            ConfigErrors(vec![ConfigError::new("", format!("cannot read {}: {error}", path.display()))])
        })?;
        Self::from_toml(&text, &ProcessEnv)
    }

    /// Compiles configuration text, resolving variables and secrets through `env`.
    pub fn from_toml(text: &str, env: &dyn Env) -> Result<Self, ConfigErrors> {
        let mut tree: toml::Table = toml::from_str(text).map_err(|error| {
            ConfigErrors(vec![
                ConfigError::new("", format!("invalid TOML: {}", error.message())).with_span(text, error.span()),
            ])
        })?;
        let mut errors = Vec::new();
        for (key, value) in tree.iter_mut() {
            let mut path = key.clone();
            interpolate::interpolate_tree(value, &mut path, env, &mut errors);
        }
        let mut cx = Compiler { env, errors };
        let config = cx.compile(tree);
        if cx.errors.is_empty() {
            config.ok_or_else(|| ConfigErrors(vec![ConfigError::new("", "invalid configuration")]))
        } else {
            Err(ConfigErrors(cx.errors))
        }
    }

    /// Compiles only `[store]` and `[auth]`: what the `keys` commands need. Other
    /// sections may reference variables that are only set where the gateway runs.
    pub fn store_and_auth(text: &str, env: &dyn Env) -> Result<(StoreSettings, AuthSettings), ConfigErrors> {
        let tree: toml::Table = toml::from_str(text).map_err(|error| {
            ConfigErrors(vec![
                ConfigError::new("", format!("invalid TOML: {}", error.message())).with_span(text, error.span()),
            ])
        })?;
        let mut errors = Vec::new();
        let mut cx = Compiler { env, errors: Vec::new() };
        let mut store = None;
        let mut auth = None;
        for (key, mut value) in tree {
            if key != "store" && key != "auth" {
                continue;
            }
            let mut path = key.clone();
            interpolate::interpolate_tree(&mut value, &mut path, env, &mut errors);
            if key == "store" {
                store = cx.section::<raw::StoreConfig>("store", value);
            } else {
                auth = cx.section::<raw::AuthConfig>("auth", value);
            }
        }
        errors.append(&mut cx.errors);
        cx.errors = errors;
        let store = cx.store(store.unwrap_or_default());
        let auth = match auth {
            Some(auth) => cx.auth(auth),
            None => {
                cx.error("auth", "missing section: `[auth]` with `key_secret = { env = \"...\" }`");
                None
            }
        };
        match (store, auth) {
            (Some(store), Some(auth)) if cx.errors.is_empty() => Ok((store, auth)),
            _ => Err(ConfigErrors(cx.errors)),
        }
    }

    /// Compiles only `[vault]`: what the `admin` commands need besides `[store]` and
    /// `[auth]` (they seal TOTP secrets). `None` when the section is absent.
    pub fn vault_only(text: &str, env: &dyn Env) -> Result<Option<VaultSettings>, ConfigErrors> {
        let tree: toml::Table = toml::from_str(text).map_err(|error| {
            ConfigErrors(vec![
                ConfigError::new("", format!("invalid TOML: {}", error.message())).with_span(text, error.span()),
            ])
        })?;
        let mut cx = Compiler { env, errors: Vec::new() };
        let Some(mut value) = tree.get("vault").cloned() else { return Ok(None) };
        let mut path = "vault".to_owned();
        interpolate::interpolate_tree(&mut value, &mut path, env, &mut cx.errors);
        let raw: Option<identity::RawVault> = cx.section("vault", value);
        let vault = raw.and_then(|raw| cx.vault(raw));
        if cx.errors.is_empty() { Ok(vault) } else { Err(ConfigErrors(cx.errors)) }
    }

    /// Compiles only `[audit]` (defaults when absent), against the `[store]` it
    /// defaults to: what the `keys` commands need to record their changes.
    pub fn audit_only(text: &str, env: &dyn Env, store: &StoreSettings) -> Result<AuditSettings, ConfigErrors> {
        let tree: toml::Table = toml::from_str(text).map_err(|error| {
            ConfigErrors(vec![
                ConfigError::new("", format!("invalid TOML: {}", error.message())).with_span(text, error.span()),
            ])
        })?;
        let mut cx = Compiler { env, errors: Vec::new() };
        let raw: Option<audit::RawAudit> = match tree.get("audit").cloned() {
            None => Some(audit::RawAudit::default()),
            Some(mut value) => {
                let mut path = "audit".to_owned();
                interpolate::interpolate_tree(&mut value, &mut path, env, &mut cx.errors);
                cx.section("audit", value)
            }
        };
        let mut problems = Vec::new();
        let audit = raw.and_then(|raw| {
            let mut resolve = |path: &str, secret: &raw::SecretRef| cx.secret(path, secret);
            audit::compile_audit(raw, Some(&store.url), &mut resolve, &mut problems)
        });
        for (path, message) in problems {
            cx.error(path, message);
        }
        match audit {
            Some(audit) if cx.errors.is_empty() => Ok(audit),
            _ => Err(ConfigErrors(cx.errors)),
        }
    }

    /// Compiles only `[policies]`: what `keys create --policy` checks names against.
    pub fn policies_only(text: &str, env: &dyn Env) -> Result<Policies, ConfigErrors> {
        let tree: toml::Table = toml::from_str(text).map_err(|error| {
            ConfigErrors(vec![
                ConfigError::new("", format!("invalid TOML: {}", error.message())).with_span(text, error.span()),
            ])
        })?;
        let mut cx = Compiler { env, errors: Vec::new() };
        let Some(mut value) = tree.get("policies").cloned() else { return Ok(Policies::default()) };
        let mut path = "policies".to_owned();
        interpolate::interpolate_tree(&mut value, &mut path, env, &mut cx.errors);
        let raw: Option<std::collections::BTreeMap<String, policy::RawPolicy>> = cx.section("policies", value);
        let mut errors = Vec::new();
        let policies = policy::compile(raw.unwrap_or_default(), &mut errors);
        for (path, message) in errors {
            cx.error(path, message);
        }
        if cx.errors.is_empty() { Ok(policies) } else { Err(ConfigErrors(cx.errors)) }
    }

    /// The index in [`Config::providers`] of the provider serving `model`, and the
    /// model name to send upstream: the model table first, then the default provider.
    pub fn route<'a>(&'a self, model: &'a str) -> Option<(usize, &'a str)> {
        match self.models.iter().find(|m| m.name == model) {
            Some(route) => Some((route.provider, &route.upstream_model)),
            None => self.default_provider.map(|p| (p, model)),
        }
    }
}

impl ConfigError {
    fn with_span(mut self, text: &str, span: Option<std::ops::Range<usize>>) -> Self {
        if let Some(span) = span {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
            self.message = format!("line {line}, column {column}: {}", self.message);
        }
        self
    }
}

// === impl Compiler ===

struct Compiler<'a> {
    env: &'a dyn Env,
    errors: Vec<ConfigError>,
}

const SECTIONS: &[&str] = &[
    "server",
    "store",
    "auth",
    "providers",
    "models",
    "routing",
    "log",
    "policies",
    "admin",
    "vault",
    "limits",
    "prices",
    "audit",
    "anomaly",
];

impl Compiler<'_> {
    fn error(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.errors.push(ConfigError::new(path, message));
    }

    /// Deserializes one subtree, recording the error (with the full key path) on failure.
    fn section<T: DeserializeOwned>(&mut self, path: &str, value: toml::Value) -> Option<T> {
        match serde_path_to_error::deserialize::<_, T>(value) {
            Ok(v) => Some(v),
            Err(error) => {
                let inner = error.path().to_string();
                let full = match inner.as_str() {
                    "." | "" => path.to_owned(),
                    inner if inner.starts_with('[') => format!("{path}{inner}"),
                    inner => format!("{path}.{inner}"),
                };
                self.error(full, error.into_inner().message().to_owned());
                None
            }
        }
    }

    fn array<T: DeserializeOwned>(&mut self, key: &str, value: Option<toml::Value>) -> Vec<Option<T>> {
        match value {
            None => Vec::new(),
            Some(toml::Value::Array(items)) => {
                items.into_iter().enumerate().map(|(i, item)| self.section(&format!("{key}[{i}]"), item)).collect()
            }
            Some(_) => {
                self.error(key, format!("expected an array of tables (`[[{key}]]`)"));
                Vec::new()
            }
        }
    }

    fn compile(&mut self, mut tree: toml::Table) -> Option<Config> {
        for key in tree.keys() {
            if !SECTIONS.contains(&key.as_str()) {
                self.errors.push(ConfigError::new(
                    key.clone(),
                    format!("unknown section `{key}`, expected one of {}", SECTIONS.join(", ")),
                ));
            }
        }
        let mut take = |key: &str| tree.remove(key);
        let server_raw: Option<raw::ServerConfig> =
            take("server").map_or(Some(Default::default()), |v| self.section("server", v));
        let store_raw: Option<raw::StoreConfig> =
            take("store").map_or(Some(Default::default()), |v| self.section("store", v));
        let auth_raw: Option<raw::AuthConfig> = match take("auth") {
            Some(v) => self.section("auth", v),
            None => {
                self.error("auth", "missing section: `[auth]` with `key_secret = { env = \"...\" }`");
                None
            }
        };
        let routing_raw: Option<raw::RoutingConfig> =
            take("routing").map_or(Some(Default::default()), |v| self.section("routing", v));
        let log_raw: Option<raw::LogConfig> = take("log").map_or(Some(Default::default()), |v| self.section("log", v));
        let policies_raw: Option<std::collections::BTreeMap<String, policy::RawPolicy>> =
            take("policies").map_or(Some(Default::default()), |v| self.section("policies", v));
        let admin_raw: Option<Option<identity::RawAdmin>> =
            take("admin").map_or(Some(None), |v| self.section("admin", v).map(Some));
        let vault_raw: Option<Option<identity::RawVault>> =
            take("vault").map_or(Some(None), |v| self.section("vault", v).map(Some));
        let limits_raw: Option<limits::RawLimits> =
            take("limits").map_or(Some(Default::default()), |v| self.section("limits", v));
        let prices_raw: Vec<Option<limits::RawPrice>> = self.array("prices", take("prices"));
        let audit_raw: Option<audit::RawAudit> =
            take("audit").map_or(Some(Default::default()), |v| self.section("audit", v));
        let anomaly_raw: Option<audit::RawAnomaly> =
            take("anomaly").map_or(Some(Default::default()), |v| self.section("anomaly", v));
        let providers_value = take("providers");
        // Names of every provider, even one whose entry fails to deserialize, so a
        // broken provider is reported once and not again by each model naming it.
        let declared_names: Vec<String> = match &providers_value {
            Some(toml::Value::Array(items)) => {
                items.iter().filter_map(|item| item.get("name")?.as_str().map(str::to_owned)).collect()
            }
            _ => Vec::new(),
        };
        let providers_raw: Vec<Option<raw::ProviderConfig>> = self.array("providers", providers_value);
        let models_raw: Vec<Option<raw::ModelConfig>> = self.array("models", take("models"));

        let server = server_raw.and_then(|s| self.server(s));
        let store = store_raw.and_then(|s| self.store(s));
        let auth = auth_raw.and_then(|a| self.auth(a));
        let log = log_raw.and_then(|l| self.log(l));
        let admin = admin_raw.map(|a| a.and_then(|a| self.identity(|p| identity::admin(a, p))));
        let vault = vault_raw.map(|v| v.and_then(|v| self.vault(v)));

        // Admin tokens and passwords must not cross a network in clear.
        if let (Some(Some(admin)), Some(server)) = (&admin, &server) {
            if !admin.listen.ip().is_loopback() && server.tls.is_none() {
                self.error(
                    "admin.listen",
                    "a non-loopback admin listener needs TLS (`[server] tls`): admin tokens and passwords would travel in clear",
                );
            }
        }

        let mut providers = Vec::new();
        let mut provider_names: Vec<&str> = Vec::new();
        for (i, p) in providers_raw.iter().enumerate() {
            let Some(p) = p else { continue };
            if provider_names.contains(&p.name.as_str()) {
                self.error(format!("providers[{i}].name"), format!("duplicate provider name `{}`", p.name));
            }
            provider_names.push(&p.name);
            if let Some(compiled) = self.provider(i, p) {
                providers.push(compiled);
            }
        }
        if providers_raw.is_empty() {
            self.error("providers", "at least one `[[providers]]` entry is required");
        }
        let provider_index = |name: &str| providers.iter().position(|p: &ProviderSettings| p.name == name);

        let mut models: Vec<ModelRoute> = Vec::new();
        for (i, m) in models_raw.into_iter().enumerate() {
            let Some(m) = m else { continue };
            if m.name.is_empty() {
                self.error(format!("models[{i}].name"), "must not be empty");
            }
            if models.iter().any(|existing| existing.name == m.name) {
                self.error(format!("models[{i}].name"), format!("duplicate model name `{}`", m.name));
            }
            match provider_index(&m.provider) {
                Some(provider) => models.push(ModelRoute {
                    upstream_model: m.upstream_model.unwrap_or_else(|| m.name.clone()),
                    name: m.name,
                    provider,
                }),
                None if declared_names.contains(&m.provider) => {}
                None => self.error(format!("models[{i}].provider"), format!("unknown provider `{}`", m.provider)),
            }
        }

        let default_provider = match routing_raw.and_then(|r| r.default_provider) {
            None => None,
            Some(name) => match provider_index(&name) {
                Some(i) => Some(i),
                None => {
                    if !declared_names.contains(&name) {
                        self.error("routing.default_provider", format!("unknown provider `{name}`"));
                    }
                    None
                }
            },
        };

        let mut policy_errors = Vec::new();
        let policies = policy::compile(policies_raw.unwrap_or_default(), &mut policy_errors);
        for (path, message) in policy_errors {
            self.error(path, message);
        }

        let mut problems = Vec::new();
        let limits = limits_raw.and_then(|raw| {
            let mut resolve = |path: &str, secret: &raw::SecretRef| self.secret(path, secret);
            limits::compile(raw, &mut resolve, &mut problems)
        });
        let prices = limits::prices(prices_raw.into_iter().flatten().collect(), &mut problems);
        for (path, message) in problems {
            self.error(path, message);
        }
        if let Some(limits) = &limits {
            self.unpriced_budgets(limits, &prices);
        }
        let mut problems = Vec::new();
        let store_url = store.as_ref().map(|s| s.url.clone());
        let audit = audit_raw.and_then(|raw| {
            let mut resolve = |path: &str, secret: &raw::SecretRef| self.secret(path, secret);
            audit::compile_audit(raw, store_url.as_ref(), &mut resolve, &mut problems)
        });
        let anomaly = anomaly_raw.and_then(|raw| {
            let mut resolve = |path: &str, secret: &raw::SecretRef| self.secret(path, secret);
            audit::compile_anomaly(raw, &mut resolve, &mut problems)
        });
        for (path, message) in problems {
            self.error(path, message);
        }

        Some(Config {
            server: server?,
            store: store?,
            auth: auth?,
            providers,
            models,
            default_provider,
            log: log?,
            policies,
            admin: admin?,
            vault: vault?,
            limits: limits?,
            prices,
            audit: audit?,
            anomaly: anomaly?,
        })
    }

    /// A model with a budget of its own must have a price: its spend could not be
    /// counted otherwise. (Key, team and global budgets are checked per request: a
    /// request for an unpriced model under a budget is refused.)
    fn unpriced_budgets(&mut self, limits: &LimitsSettings, prices: &[Price]) {
        for (name, set) in &limits.models {
            if set.has_budget() && limits::price_for(prices, name).is_none() {
                self.error(
                    format!("limits.models.{name}"),
                    format!("has a budget but no `[[prices]]` entry matches `{name}`"),
                );
            }
        }
    }

    fn duration(&mut self, path: &str, text: &str) -> Option<Duration> {
        match humantime::parse_duration(text) {
            Ok(d) if !d.is_zero() => Some(d),
            Ok(_) => {
                self.error(path, "must be greater than zero");
                None
            }
            Err(error) => {
                self.error(path, format!("invalid duration `{text}`: {error} (e.g. \"30s\", \"5m\")"));
                None
            }
        }
    }

    fn size(&mut self, path: &str, text: &str) -> Option<u64> {
        match size::parse_size(text) {
            Ok(0) => {
                self.error(path, "must be greater than zero");
                None
            }
            Ok(n) => Some(n),
            Err(error) => {
                self.error(path, error);
                None
            }
        }
    }

    fn server(&mut self, raw: raw::ServerConfig) -> Option<ServerSettings> {
        let listen = match raw.listen.parse::<SocketAddr>() {
            Ok(addr) => Some(addr),
            Err(_) => {
                self.error(
                    "server.listen",
                    format!("invalid socket address `{}` (e.g. \"127.0.0.1:8080\")", raw.listen),
                );
                None
            }
        };
        let max_body = self.size("server.max_body_size", &raw.max_body_size);
        let max_body_bytes = max_body.and_then(|n| match usize::try_from(n) {
            Ok(n) if n <= 1 << 30 => Some(n),
            _ => {
                self.error("server.max_body_size", "must be at most 1GiB (bodies are buffered)");
                None
            }
        });
        let max_upload_bytes = self.size("server.max_upload_size", &raw.max_upload_size);
        let shutdown_grace = self.duration("server.shutdown_grace", &raw.shutdown_grace);
        let shutdown_delay = match humantime::parse_duration(&raw.shutdown_delay) {
            Ok(delay) => Some(delay),
            Err(error) => {
                self.error("server.shutdown_delay", format!("invalid duration `{}`: {error}", raw.shutdown_delay));
                None
            }
        };
        let header_timeout = self.duration("server.header_timeout", &raw.header_timeout);
        if raw.max_connections == 0 {
            self.error("server.max_connections", "must be greater than zero");
        }
        let tls = raw.tls.and_then(|tls| {
            let mut ok = true;
            for (key, file) in [("cert_file", &tls.cert_file), ("key_file", &tls.key_file)] {
                if !Path::new(file).is_file() {
                    self.error(format!("server.tls.{key}"), format!("file not found: {file}"));
                    ok = false;
                }
            }
            ok.then(|| TlsFiles { cert_file: tls.cert_file.into(), key_file: tls.key_file.into() })
        });
        Some(ServerSettings {
            listen: listen?,
            tls,
            max_body_bytes: max_body_bytes?,
            max_upload_bytes: max_upload_bytes?,
            shutdown_grace: shutdown_grace?,
            shutdown_delay: shutdown_delay?,
            header_timeout: header_timeout?,
            max_connections: raw.max_connections.max(1),
        })
    }

    fn store(&mut self, raw: raw::StoreConfig) -> Option<StoreSettings> {
        let url = raw.url.trim();
        let normalized = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            if let Err(message) = check_postgres_tls(url) {
                self.error("store.url", message);
                return None;
            }
            url.to_owned()
        } else if url.starts_with("sqlite:") {
            url.to_owned()
        } else if url.contains("://") {
            // Show only the scheme: the rest may hold a password.
            let scheme = url.split("://").next().unwrap_or_default();
            self.error("store.url", format!("unsupported scheme `{scheme}://`, expected sqlite:// or postgres://"));
            return None;
        } else if url.is_empty() {
            self.error("store.url", "must not be empty");
            return None;
        } else {
            format!("sqlite://{url}")
        };
        Some(StoreSettings { url: Secret::new(normalized) })
    }

    fn secret(&mut self, path: &str, secret: &raw::SecretRef) -> Option<Secret<String>> {
        match (&secret.env, &secret.file) {
            (Some(var), None) => match self.env.var(var) {
                Some(value) if !value.is_empty() => Some(Secret::new(value)),
                _ => {
                    self.error(path, format!("environment variable `{var}` is not set"));
                    None
                }
            },
            (None, Some(file)) => match std::fs::read_to_string(file) {
                Ok(value) if !value.trim().is_empty() => Some(Secret::new(value.trim().to_owned())),
                Ok(_) => {
                    self.error(path, format!("secret file {file} is empty"));
                    None
                }
                Err(error) => {
                    self.error(path, format!("cannot read secret file {file}: {error}"));
                    None
                }
            },
            _ => {
                self.error(path, "set exactly one of `env` or `file`");
                None
            }
        }
    }

    fn auth(&mut self, raw: raw::AuthConfig) -> Option<AuthSettings> {
        let secret = self.secret("auth.key_secret", &raw.key_secret)?;
        if secret.expose().len() < MIN_KEY_SECRET_LEN {
            self.error(
                "auth.key_secret",
                format!("must be at least {MIN_KEY_SECRET_LEN} bytes (e.g. `openssl rand -hex 32`)"),
            );
            return None;
        }
        let cache_ttl = match humantime::parse_duration(&raw.cache_ttl) {
            Ok(ttl) => ttl,
            Err(error) => {
                self.error("auth.cache_ttl", format!("invalid duration `{}`: {error}", raw.cache_ttl));
                return None;
            }
        };
        let max_key_age = match &raw.max_key_age {
            None => None,
            Some(text) => Some(self.duration("auth.max_key_age", text)?),
        };
        let mut oidc = Vec::new();
        for (i, issuer) in raw.oidc.into_iter().enumerate() {
            if let Some(issuer) = self.identity(|p| identity::oidc_issuer(i, issuer, p)) {
                if oidc.iter().any(|o: &OidcIssuer| o.issuer == issuer.issuer) {
                    self.error(format!("auth.oidc[{i}].issuer"), format!("duplicate issuer `{}`", issuer.issuer));
                }
                oidc.push(issuer);
            }
        }
        Some(AuthSettings {
            key_secret: Secret::new(secret.expose().as_bytes().to_vec()),
            cache_ttl,
            max_key_age,
            oidc,
        })
    }

    /// Runs an identity compiler, moving its problems into the error list.
    fn identity<T>(&mut self, compile: impl FnOnce(&mut identity::Problems) -> Option<T>) -> Option<T> {
        let mut problems = Vec::new();
        let out = compile(&mut problems);
        for (path, message) in problems {
            self.error(path, message);
        }
        out.filter(|_| self.errors.is_empty())
    }

    fn vault(&mut self, raw: identity::RawVault) -> Option<VaultSettings> {
        if let Some(file) = &raw.kek.file {
            if let Err(message) = private_file(Path::new(file)) {
                self.error("vault.kek", message);
                return None;
            }
        }
        Some(VaultSettings { kek: self.secret("vault.kek", &raw.kek)? })
    }

    fn log(&mut self, raw: raw::LogConfig) -> Option<LogSettings> {
        let format = match raw.format.as_str() {
            "json" => LogFormat::Json,
            "text" => LogFormat::Text,
            other => {
                self.error("log.format", format!("unknown format `{other}`, expected `json` or `text`"));
                return None;
            }
        };
        Some(LogSettings { format, level: raw.level })
    }

    fn provider(&mut self, i: usize, raw: &raw::ProviderConfig) -> Option<ProviderSettings> {
        let at = |key: &str| format!("providers[{i}].{key}");
        if raw.name.is_empty() {
            self.error(at("name"), "must not be empty");
        }
        let kind = match raw.kind.as_str() {
            "openai" => Some(ProviderKind::OpenAi),
            other => {
                self.error(at("kind"), format!("unknown provider kind `{other}`, expected `openai`"));
                None
            }
        };
        let base_url = self.base_url(&at("base_url"), &raw.base_url);
        let api_key = raw.api_key.as_ref().map(|secret| self.secret(&at("api_key"), secret));
        let connect_timeout = self.duration(&at("connect_timeout"), &raw.connect_timeout);
        let response_timeout = self.duration(&at("response_timeout"), &raw.response_timeout);
        let idle_timeout = self.duration(&at("idle_timeout"), &raw.idle_timeout);
        let ca_file = match &raw.ca_file {
            Some(file) if !Path::new(file).is_file() => {
                self.error(at("ca_file"), format!("file not found: {file}"));
                return None;
            }
            other => other.as_ref().map(PathBuf::from),
        };
        Some(ProviderSettings {
            name: raw.name.clone(),
            kind: kind?,
            base_url: base_url?,
            api_key: match api_key {
                Some(key) => Some(key?),
                None => None,
            },
            connect_timeout: connect_timeout?,
            response_timeout: response_timeout?,
            idle_timeout: idle_timeout?,
            ca_file,
            forward_headers: self.forward_headers(&at("forward_headers"), &raw.forward_headers),
        })
    }

    fn forward_headers(&mut self, path: &str, names: &[String]) -> Vec<String> {
        let mut out = Vec::with_capacity(names.len());
        for name in names {
            let lower = name.to_ascii_lowercase();
            let bare = lower.strip_suffix('*').unwrap_or(&lower);
            if bare.is_empty() || http::HeaderName::from_bytes(bare.as_bytes()).is_err() {
                self.error(path, format!("invalid header name `{name}`"));
            } else if [
                "authorization",
                "api-key",
                "cookie",
                "host",
                "content-length",
                "transfer-encoding",
                "content-encoding",
                "proxy-",
            ]
            .iter()
            .any(|reserved| bare.starts_with(reserved) || reserved.starts_with(bare))
            {
                self.error(path, format!("`{name}` cannot be forwarded: rampart sets or strips it"));
            } else {
                out.push(lower);
            }
        }
        out
    }

    fn base_url(&mut self, path: &str, text: &str) -> Option<http::Uri> {
        if text
            .split("://")
            .nth(1)
            .is_some_and(|rest| rest.split('/').next().is_some_and(|authority| authority.contains('@')))
        {
            self.error(path, "must not contain credentials (user:password@); use api_key");
            return None;
        }
        let trimmed = text.trim_end_matches('/');
        match trimmed.parse::<http::Uri>() {
            Ok(uri)
                if matches!(uri.scheme_str(), Some("http" | "https"))
                    && uri.host().is_some()
                    && uri.query().is_none() =>
            {
                Some(uri)
            }
            _ => {
                self.error(path, "invalid base URL, expected http(s)://host[:port][/path] without a query");
                None
            }
        }
    }
}

/// A key file must be readable by its owner only: refuse one that the group or others
/// can read or write.
fn private_file(path: &Path) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).map_err(|error| format!("cannot read {}: {error}", path.display()))?;
    let mode = mode.permissions().mode();
    if mode & 0o077 != 0 {
        return Err(format!(
            "{} is accessible to other users (mode {:o}): `chmod 600` it",
            path.display(),
            mode & 0o777
        ));
    }
    Ok(())
}

/// A PostgreSQL key store is the authority on which keys are valid: a connection
/// that can be downgraded or intercepted would let a network attacker validate any key.
/// Outside loopback and Unix sockets, demand a verified TLS connection.
fn check_postgres_tls(url: &str) -> Result<(), String> {
    let (before_query, query) = url.split_once('?').unwrap_or((url, ""));
    let params: Vec<(&str, &str)> = query.split('&').filter_map(|p| p.split_once('=')).collect();
    let param = |name: &str| params.iter().find(|(k, _)| *k == name).map(|(_, v)| *v);
    let authority = before_query.split("://").nth(1).unwrap_or_default().split('/').next().unwrap_or_default();
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
    let host = if let Some(rest) = host_port.strip_prefix('[') {
        rest.split(']').next().unwrap_or_default()
    } else {
        host_port.split(':').next().unwrap_or_default()
    };
    let socket = param("host").is_some_and(|h| h.starts_with('/') || h.starts_with("%2F") || h.starts_with("%2f"));
    let local = socket
        || host.is_empty()
        || host == "localhost"
        || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
    match param("sslmode") {
        Some("verify-full" | "verify-ca") => Ok(()),
        _ if local => Ok(()),
        _ => Err(format!(
            "a PostgreSQL store on `{host}` needs `sslmode=verify-full` (or `verify-ca`) in the URL: the key store decides which keys are valid"
        )),
    }
}

#[cfg(test)]
mod tests;
