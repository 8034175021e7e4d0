//! The configuration file as written: serde types, `deny_unknown_fields` everywhere so a
//! typo fails the load instead of silently weakening a policy. Nothing here is trusted
//! or validated beyond its shape; [`crate::Config::compile`] turns it into settings.

use serde::Deserialize;

/// `[server]`: the data-plane listener.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// Address to listen on, e.g. `127.0.0.1:8080`.
    #[serde(default = "default_listen")]
    pub listen: String,
    /// TLS termination; plain HTTP (HTTP/1.1 and h2c) when absent.
    #[serde(default)]
    pub tls: Option<TlsConfig>,
    /// Largest JSON request body, e.g. `"16MiB"`; larger bodies get 413.
    #[serde(default = "default_max_body")]
    pub max_body_size: String,
    /// Largest streamed upload (`/v1/files`, `/v1/audio/*`, ...), e.g. `"512MiB"`.
    #[serde(default = "default_max_upload")]
    pub max_upload_size: String,
    /// How long shutdown waits for in-flight requests and streams, e.g. `"30s"`.
    #[serde(default = "default_shutdown_grace")]
    pub shutdown_grace: String,
    /// On a shutdown signal, how long to keep accepting while `/readyz` reports 503,
    /// so load balancers stop routing here before the listener closes, e.g. `"5s"`.
    #[serde(default = "default_shutdown_delay")]
    pub shutdown_delay: String,
    /// Time a client has to send a request head after connecting (or after the
    /// previous response on a kept-alive connection), e.g. `"30s"`.
    #[serde(default = "default_header_timeout")]
    pub header_timeout: String,
    /// Most client connections open at once; further connections are closed at once.
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: default_listen(),
            tls: None,
            max_body_size: default_max_body(),
            max_upload_size: default_max_upload(),
            shutdown_grace: default_shutdown_grace(),
            shutdown_delay: default_shutdown_delay(),
            header_timeout: default_header_timeout(),
            max_connections: default_max_connections(),
        }
    }
}

fn default_listen() -> String {
    "127.0.0.1:8080".into()
}
fn default_max_body() -> String {
    "16MiB".into()
}
fn default_max_upload() -> String {
    "512MiB".into()
}
fn default_shutdown_grace() -> String {
    "30s".into()
}
fn default_shutdown_delay() -> String {
    "0s".into()
}
fn default_header_timeout() -> String {
    "30s".into()
}
fn default_max_connections() -> usize {
    8192
}

/// `[server.tls]`: PEM files for TLS termination with rustls.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// Certificate chain, PEM.
    pub cert_file: String,
    /// Private key (PKCS#8, PKCS#1 or SEC1), PEM.
    pub key_file: String,
}

/// `[store]`: where keys live.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// `sqlite://PATH`, a plain file path, or `postgres://...`.
    #[serde(default = "default_store_url")]
    pub url: String,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self { url: default_store_url() }
    }
}

fn default_store_url() -> String {
    "sqlite://rampart.db".into()
}

/// `[auth]`: virtual key verification.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    /// Server secret for the keyed hash (HMAC-SHA-256) of virtual keys; at least 32
    /// bytes. Changing it invalidates every key.
    pub key_secret: SecretRef,
    /// Longest a found key is served from memory. Changes made through rampart (the
    /// CLI, other gateways on the same SQLite file) invalidate cached keys at once;
    /// this bounds changes made behind rampart's back. `"0s"` disables the cache.
    #[serde(default = "default_cache_ttl")]
    pub cache_ttl: String,
    /// Oldest a virtual key may be, e.g. `"90d"`: older keys are refused whatever their
    /// own expiry, and new keys expire at this age unless given an earlier expiry.
    #[serde(default)]
    pub max_key_age: Option<String>,
    /// Issuers whose JWTs clients may present instead of a virtual key.
    #[serde(default)]
    pub oidc: Vec<crate::identity::RawOidcIssuer>,
}

fn default_cache_ttl() -> String {
    "1s".into()
}

/// A reference to a secret: `{ env = "VAR" }` or `{ file = "PATH" }`. Secrets are
/// never inlined in the file, and a value written inline is rejected without being
/// echoed in the error.
#[derive(Debug, Clone)]
pub struct SecretRef {
    /// Name of the environment variable holding the secret.
    pub env: Option<String>,
    /// Path of a file holding the secret (surrounding whitespace is trimmed).
    pub file: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SecretRefFields {
    #[serde(default)]
    env: Option<String>,
    #[serde(default)]
    file: Option<String>,
}

const INLINE_SECRET: &str =
    "secrets are never inlined: reference them with `{ env = \"VAR\" }` or `{ file = \"PATH\" }`";

impl<'de> Deserialize<'de> for SecretRef {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::{self, Error as _};

        struct RefVisitor;

        impl<'de> de::Visitor<'de> for RefVisitor {
            type Value = SecretRef;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(INLINE_SECRET)
            }

            fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<SecretRef, A::Error> {
                let fields = SecretRefFields::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(SecretRef { env: fields.env, file: fields.file })
            }

            // Scalars are refused without echoing them: they may be the secret itself.
            fn visit_str<E: de::Error>(self, _: &str) -> Result<SecretRef, E> {
                Err(E::custom(INLINE_SECRET))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<SecretRef, E> {
                Err(E::custom(INLINE_SECRET))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<SecretRef, E> {
                Err(E::custom(INLINE_SECRET))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<SecretRef, E> {
                Err(E::custom(INLINE_SECRET))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<SecretRef, E> {
                Err(E::custom(INLINE_SECRET))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, _: A) -> Result<SecretRef, A::Error> {
                Err(A::Error::custom(INLINE_SECRET))
            }
        }

        deserializer.deserialize_any(RefVisitor)
    }
}

/// `[[providers]]`: one upstream AI provider.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderConfig {
    /// Unique name, referenced by `[[models]]` and `[routing]`.
    pub name: String,
    /// Dialect; `openai` covers every OpenAI-compatible API (OpenAI, vLLM, Ollama, ...).
    pub kind: String,
    /// Base URL including the version prefix, e.g. `https://api.openai.com/v1`.
    pub base_url: String,
    /// The credential rampart injects; clients never see it. Omit for providers
    /// without authentication (local vLLM, Ollama).
    #[serde(default)]
    pub api_key: Option<SecretRef>,
    /// TCP and TLS connect timeout, e.g. `"5s"`.
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout: String,
    /// Time allowed until the provider's response headers, e.g. `"600s"`.
    #[serde(default = "default_response_timeout")]
    pub response_timeout: String,
    /// Longest silence allowed between two chunks of a response body, e.g. `"300s"`.
    #[serde(default = "default_idle_timeout")]
    pub idle_timeout: String,
    /// Extra PEM CA bundle trusted for this provider, besides the system roots.
    #[serde(default)]
    pub ca_file: Option<String>,
    /// Client request headers forwarded to this provider besides the standard ones
    /// (`accept`, `content-type`, `user-agent`, `openai-beta`, `idempotency-key`,
    /// `x-stainless-*`). Names, or prefixes ending in `*`. Everything else is dropped.
    #[serde(default)]
    pub forward_headers: Vec<String>,
}

fn default_connect_timeout() -> String {
    "5s".into()
}
fn default_response_timeout() -> String {
    "600s".into()
}
fn default_idle_timeout() -> String {
    "300s".into()
}

/// `[[models]]`: maps a model name clients use to a provider.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// The name clients send in `model`.
    pub name: String,
    /// The provider serving it.
    pub provider: String,
    /// The provider's name for it, when different.
    #[serde(default)]
    pub upstream_model: Option<String>,
}

/// `[routing]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoutingConfig {
    /// Provider for model names not in `[[models]]`, and for pass-through endpoints
    /// whose body names no model. Without it, unlisted models get 404.
    #[serde(default)]
    pub default_provider: Option<String>,
}

/// `[log]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    /// `json` (default) or `text`.
    #[serde(default = "default_log_format")]
    pub format: String,
    /// A tracing filter, e.g. `info` or `rampart_gateway=debug`.
    #[serde(default = "default_log_level")]
    pub level: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self { format: default_log_format(), level: default_log_level() }
    }
}

fn default_log_format() -> String {
    "json".into()
}
fn default_log_level() -> String {
    "info".into()
}
