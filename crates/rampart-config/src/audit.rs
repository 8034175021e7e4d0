//! The monitoring sections: `[audit]` (where the tamper-evident trail lives, its local
//! journal, what happens when it cannot be written, retention, the checkpoint signing
//! key) and `[anomaly]` (the per-key detectors, the webhooks alerts go to, the anomaly
//! kinds that suspend a key).
//!
//! Kind names in `suspend_on` are checked by the gateway against the detector's own list
//! at start-up, so the two cannot drift apart.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use crate::Secret;
use crate::limits::{Problems, RawUrl};
use crate::raw::SecretRef;

/// `[audit]` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAudit {
    /// Record every request and admin action (default `true`).
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Database of the trail (`sqlite://...`, `postgres://...`); default: the `[store]`
    /// database.
    #[serde(default)]
    pub url: Option<RawUrl>,
    /// The local append-only journal every record is written to before the request
    /// completes; default: next to a SQLite store (`<db>.audit-journal`), required with
    /// PostgreSQL (one per instance: instances must not share it).
    #[serde(default)]
    pub journal: Option<String>,
    /// Refuse traffic (503) when a record cannot even be journaled (default `true`).
    #[serde(default = "yes")]
    pub fail_closed: bool,
    /// Records older than this are purged, e.g. `"90d"`; default: kept forever.
    #[serde(default)]
    pub retention: Option<String>,
    /// The Ed25519 checkpoint signing key (32-byte seed as hex or base64, or PKCS#8 as
    /// base64); default: derived from `auth.key_secret`.
    #[serde(default)]
    pub signing_key: Option<SecretRef>,
    /// A signed checkpoint after this many records (default 1000).
    #[serde(default = "default_checkpoint_every")]
    pub checkpoint_every: u64,
    /// Journal bytes not yet in the database from which new records are refused (when
    /// `fail_closed`) or dropped; default 256 MiB.
    #[serde(default = "default_max_lag")]
    pub max_lag: String,
}

impl Default for RawAudit {
    fn default() -> Self {
        Self {
            enabled: true,
            url: None,
            journal: None,
            fail_closed: true,
            retention: None,
            signing_key: None,
            checkpoint_every: default_checkpoint_every(),
            max_lag: default_max_lag(),
        }
    }
}

fn yes() -> bool {
    true
}
fn default_checkpoint_every() -> u64 {
    1000
}
fn default_max_lag() -> String {
    "256MiB".into()
}

/// Compiled `[audit]`.
#[derive(Debug, Clone)]
pub struct AuditSettings {
    /// Whether requests and admin actions are recorded.
    pub enabled: bool,
    /// Database URL of the trail (may hold a password: never log it).
    pub url: Secret<String>,
    /// The local journal.
    pub journal: PathBuf,
    /// Refuse traffic when a record cannot be journaled.
    pub fail_closed: bool,
    /// Purge records older than this.
    pub retention: Option<Duration>,
    /// The signing key as written; `None`: derived from `auth.key_secret`.
    pub signing_key: Option<Secret<String>>,
    /// Records per signed checkpoint.
    pub checkpoint_every: u64,
    /// Most journal bytes not yet stored.
    pub max_lag_bytes: u64,
}

/// `[anomaly]` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAnomaly {
    /// Run the per-key detectors (default `true`).
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Anomaly kinds that suspend the key at once (e.g. `["exfiltration"]`); default none.
    #[serde(default)]
    pub suspend_on: Vec<String>,
    /// The same kind alerts at most once per key in this period (default `"10m"`).
    #[serde(default = "default_cooldown")]
    pub cooldown: String,
    /// Where alerts go.
    #[serde(default)]
    pub webhooks: Vec<RawWebhook>,
}

impl Default for RawAnomaly {
    fn default() -> Self {
        Self { enabled: true, suspend_on: Vec::new(), cooldown: default_cooldown(), webhooks: Vec::new() }
    }
}

fn default_cooldown() -> String {
    "10m".into()
}

/// One `[[anomaly.webhooks]]` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWebhook {
    /// `https://...` (or `http://` to a loopback address); a URL holding a token (Slack's
    /// do) is best referenced: `{ env = "VAR" }`.
    pub url: RawUrl,
    /// `"json"` (default) or `"slack"`.
    #[serde(default = "default_format")]
    pub format: String,
    /// An `Authorization` header value sent with each alert.
    #[serde(default)]
    pub authorization: Option<SecretRef>,
}

fn default_format() -> String {
    "json".into()
}

/// Compiled `[anomaly]`.
#[derive(Debug, Clone)]
pub struct AnomalySettings {
    /// Whether the detectors run.
    pub enabled: bool,
    /// Kinds that suspend the key, as written (checked by the gateway).
    pub suspend_on: Vec<String>,
    /// Alert cooldown per key and kind.
    pub cooldown: Duration,
    /// Alert destinations.
    pub webhooks: Vec<WebhookSettings>,
}

/// A compiled webhook.
#[derive(Debug, Clone)]
pub struct WebhookSettings {
    /// Destination (may hold a token: never log it).
    pub url: Secret<String>,
    /// Slack-compatible body instead of rampart's JSON.
    pub slack: bool,
    /// `Authorization` header value.
    pub authorization: Option<Secret<String>>,
}

/// Compiles `[audit]`; `store_url` is the `[store]` database.
pub(crate) fn compile_audit(
    raw: RawAudit,
    store_url: Option<&Secret<String>>,
    resolve: &mut dyn FnMut(&str, &SecretRef) -> Option<Secret<String>>,
    problems: &mut Problems,
) -> Option<AuditSettings> {
    let before = problems.len();
    let url = match &raw.url {
        None => store_url.cloned(),
        Some(RawUrl::Inline(url)) if url_has_password(url) => {
            problems
                .push(("audit.url".into(), "holds a password: reference it with `{ env = \"VAR\" }` instead".into()));
            None
        }
        Some(RawUrl::Inline(url)) => Some(Secret::new(url.clone())),
        Some(RawUrl::Secret(secret)) => resolve("audit.url", secret),
    };
    let url = url.filter(|url| {
        let text = url.expose();
        let ok = text.starts_with("sqlite:") || text.starts_with("postgres://") || text.starts_with("postgresql://");
        if !ok {
            problems.push(("audit.url".into(), "expected a sqlite: or postgres:// URL".into()));
        }
        ok
    });
    let journal = match (&raw.journal, &url) {
        (Some(path), _) if path.trim().is_empty() => {
            problems.push(("audit.journal".into(), "must not be empty".into()));
            None
        }
        (Some(path), _) => Some(PathBuf::from(path)),
        (None, Some(url)) => match sqlite_file(url.expose()) {
            Some(db) => Some(PathBuf::from(format!("{db}.audit-journal"))),
            None if raw.enabled => {
                problems.push((
                    "audit.journal".into(),
                    "required unless the trail is a SQLite file: each instance needs a local journal of its own".into(),
                ));
                None
            }
            None => Some(PathBuf::new()),
        },
        (None, None) => None,
    };
    let retention = match &raw.retention {
        None => None,
        Some(text) => match humantime::parse_duration(text) {
            Ok(d) if d >= Duration::from_secs(3600) => Some(d),
            Ok(_) => {
                problems.push(("audit.retention".into(), "must be at least 1h".into()));
                None
            }
            Err(error) => {
                problems.push(("audit.retention".into(), format!("invalid duration `{text}`: {error}")));
                None
            }
        },
    };
    let signing_key = match &raw.signing_key {
        None => None,
        Some(secret) => Some(resolve("audit.signing_key", secret)?),
    };
    if raw.checkpoint_every == 0 || raw.checkpoint_every > 1_000_000 {
        problems.push(("audit.checkpoint_every".into(), "must be 1 to 1000000".into()));
    }
    let max_lag_bytes = match crate::size::parse_size(&raw.max_lag) {
        Ok(n) if n >= 1 << 20 => n,
        _ => {
            problems.push(("audit.max_lag".into(), "expected a size of at least 1MiB, e.g. \"256MiB\"".into()));
            0
        }
    };
    if problems.len() > before {
        return None;
    }
    Some(AuditSettings {
        enabled: raw.enabled,
        url: url?,
        journal: journal?,
        fail_closed: raw.fail_closed,
        retention,
        signing_key,
        checkpoint_every: raw.checkpoint_every,
        max_lag_bytes,
    })
}

/// Whether a URL's user info holds a password (`user:password@`); a user name alone
/// is not a secret.
fn url_has_password(url: &str) -> bool {
    url.split("://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .and_then(|authority| authority.rsplit_once('@'))
        .is_some_and(|(userinfo, _)| userinfo.contains(':'))
}

/// The file of a `sqlite:` URL (`None` for in-memory databases).
fn sqlite_file(url: &str) -> Option<String> {
    let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    (!path.is_empty() && !path.contains(":memory:")).then(|| path.to_owned())
}

/// Compiles `[anomaly]`.
pub(crate) fn compile_anomaly(
    raw: RawAnomaly,
    resolve: &mut dyn FnMut(&str, &SecretRef) -> Option<Secret<String>>,
    problems: &mut Problems,
) -> Option<AnomalySettings> {
    let before = problems.len();
    let cooldown = match humantime::parse_duration(&raw.cooldown) {
        Ok(d) => d,
        Err(error) => {
            problems.push(("anomaly.cooldown".into(), format!("invalid duration `{}`: {error}", raw.cooldown)));
            Duration::ZERO
        }
    };
    let mut webhooks = Vec::new();
    for (i, hook) in raw.webhooks.iter().enumerate() {
        let path = format!("anomaly.webhooks[{i}]");
        let url = match &hook.url {
            RawUrl::Inline(url) => Some(Secret::new(url.clone())),
            RawUrl::Secret(secret) => resolve(&format!("{path}.url"), secret),
        };
        let slack = match hook.format.as_str() {
            "json" => false,
            "slack" => true,
            other => {
                problems.push((format!("{path}.format"), format!("expected \"json\" or \"slack\", got `{other}`")));
                false
            }
        };
        let authorization = match &hook.authorization {
            None => None,
            Some(secret) => resolve(&format!("{path}.authorization"), secret),
        };
        if let Some(url) = url {
            if !webhook_url_ok(url.expose()) {
                problems.push((
                    format!("{path}.url"),
                    "expected https://, or http:// to a loopback address (alerts must not cross a network in clear)"
                        .into(),
                ));
            }
            webhooks.push(WebhookSettings { url, slack, authorization });
        }
    }
    if problems.len() > before {
        return None;
    }
    Some(AnomalySettings { enabled: raw.enabled, suspend_on: raw.suspend_on, cooldown, webhooks })
}

/// `https://` anywhere, `http://` only to a loopback host.
fn webhook_url_ok(url: &str) -> bool {
    if url.starts_with("https://") {
        return true;
    }
    let Some(rest) = url.strip_prefix("http://") else { return false };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
    let host = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => host.split(':').next().unwrap_or_default(),
    };
    host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn journal_defaults_next_to_a_sqlite_store() {
        assert_eq!(sqlite_file("sqlite:///var/lib/rampart.db?mode=rwc").as_deref(), Some("/var/lib/rampart.db"));
        assert_eq!(sqlite_file("sqlite://rampart.db").as_deref(), Some("rampart.db"));
        assert_eq!(sqlite_file("sqlite::memory:"), None);
        assert_eq!(sqlite_file("postgres://db/rampart"), None);
    }

    #[test]
    fn webhooks_must_not_alert_in_clear_across_a_network() {
        assert!(webhook_url_ok("https://hooks.slack.com/services/T/B/x"));
        assert!(webhook_url_ok("http://127.0.0.1:9000/alerts"));
        assert!(webhook_url_ok("http://[::1]:9000/alerts"));
        assert!(webhook_url_ok("http://localhost/alerts"));
        assert!(!webhook_url_ok("http://alerts.example.com/"));
        assert!(!webhook_url_ok("http://127.0.0.1.evil.example/"));
        assert!(!webhook_url_ok("http://user@10.0.0.1/"));
        assert!(!webhook_url_ok("ftp://127.0.0.1/"));
    }
}
