//! The identity sections: `[admin]` (the admin API listener and its login rules),
//! `[vault]` (the key-encryption key for provider credentials and TOTP secrets) and,
//! under `[auth]`, `max_key_age` and the `[[auth.oidc]]` issuers whose JWTs clients may
//! present instead of a virtual key.
//!
//! As everywhere in this crate: the raw serde shapes reject unknown fields, and
//! compilation collects every problem with its key path. Nothing here does network IO:
//! JWKS documents are fetched by the gateway.

use std::net::SocketAddr;
use std::time::Duration;

use serde::Deserialize;

use crate::Secret;
use crate::raw::SecretRef;

/// `[admin]` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAdmin {
    /// Listen address of the admin API, e.g. `127.0.0.1:8081`. Never the data-plane
    /// address.
    #[serde(default = "default_admin_listen")]
    pub listen: String,
    /// Lifetime of a login session, e.g. `"8h"`.
    #[serde(default = "default_session_ttl")]
    pub session_ttl: String,
    /// Failed logins in a row after which the account is locked.
    #[serde(default = "default_lockout_after")]
    pub lockout_after: u32,
    /// How long a locked account stays locked, e.g. `"15m"`.
    #[serde(default = "default_lockout_for")]
    pub lockout_for: String,
}

fn default_admin_listen() -> String {
    "127.0.0.1:8081".into()
}
fn default_session_ttl() -> String {
    "8h".into()
}
fn default_lockout_after() -> u32 {
    5
}
fn default_lockout_for() -> String {
    "15m".into()
}

/// `[vault]` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawVault {
    /// The key-encryption key: 32 bytes as 64 hex digits or base64.
    pub kek: SecretRef,
}

/// One `[[auth.oidc]]` issuer as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOidcIssuer {
    /// The `iss` claim, exactly.
    pub issuer: String,
    /// Accepted `aud` values; a token must carry at least one.
    pub audiences: Vec<String>,
    /// Where the issuer publishes its signing keys (JWKS), https (http only to loopback).
    pub jwks_url: String,
    /// Accepted signature algorithms: `RS256`, `ES256` (default both).
    #[serde(default = "default_algorithms")]
    pub algorithms: Vec<String>,
    /// Clock skew allowed on `exp`, `nbf` and `iat`, e.g. `"60s"` (at most 5 minutes).
    #[serde(default = "default_leeway")]
    pub leeway: String,
    /// Longest the fetched keys are used before they are fetched again, e.g. `"10m"`.
    #[serde(default = "default_jwks_max_age")]
    pub jwks_max_age: String,
    /// Models a token of this issuer may use (globs; default none: list them).
    #[serde(default)]
    pub models: Vec<String>,
    /// Endpoints a token of this issuer may call (globs over paths; default none).
    #[serde(default)]
    pub endpoints: Vec<String>,
    /// Inspection policy profile when no claim or group names one (default `default`).
    #[serde(default)]
    pub policy: Option<String>,
    /// Claim naming the team, e.g. `"team"`.
    #[serde(default)]
    pub team_claim: Option<String>,
    /// Claim naming the role.
    #[serde(default)]
    pub role_claim: Option<String>,
    /// Claim listing the groups (a string or an array of strings), e.g. `"groups"`.
    #[serde(default)]
    pub groups_claim: Option<String>,
    /// Group rules: the first group of the token with a rule gives team, role and policy.
    #[serde(default)]
    pub groups: Vec<RawOidcGroup>,
    /// Refuse tokens none of whose groups has a rule (default: true when rules exist).
    #[serde(default)]
    pub require_group: Option<bool>,
}

fn default_algorithms() -> Vec<String> {
    vec!["RS256".into(), "ES256".into()]
}
fn default_leeway() -> String {
    "60s".into()
}
fn default_jwks_max_age() -> String {
    "10m".into()
}

/// One `[[auth.oidc.groups]]` rule as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOidcGroup {
    /// The group name as the token lists it.
    pub group: String,
    /// Team given to members.
    #[serde(default)]
    pub team: Option<String>,
    /// Role given to members.
    #[serde(default)]
    pub role: Option<String>,
    /// Policy profile given to members.
    #[serde(default)]
    pub policy: Option<String>,
    /// Models for members, replacing the issuer's list.
    #[serde(default)]
    pub models: Option<Vec<String>>,
}

/// Compiled `[admin]`.
#[derive(Debug, Clone)]
pub struct AdminSettings {
    /// Admin API listen address.
    pub listen: SocketAddr,
    /// Session lifetime.
    pub session_ttl: Duration,
    /// Failed logins before lockout.
    pub lockout_after: u32,
    /// Lockout duration.
    pub lockout_for: Duration,
}

/// Compiled `[vault]`.
#[derive(Debug, Clone)]
pub struct VaultSettings {
    /// The key-encryption key as written (hex or base64); parsed by the gateway.
    pub kek: Secret<String>,
}

/// A compiled `[[auth.oidc]]` issuer.
#[derive(Debug, Clone)]
pub struct OidcIssuer {
    /// Exact `iss`.
    pub issuer: String,
    /// Accepted audiences (non-empty).
    pub audiences: Vec<String>,
    /// JWKS location.
    pub jwks_url: http::Uri,
    /// Accepted algorithms, a non-empty subset of `RS256`, `ES256`.
    pub algorithms: Vec<String>,
    /// Allowed clock skew.
    pub leeway: Duration,
    /// Key set refresh age.
    pub jwks_max_age: Duration,
    /// Model globs.
    pub models: Vec<String>,
    /// Endpoint globs.
    pub endpoints: Vec<String>,
    /// Default policy profile.
    pub policy: Option<String>,
    /// Team claim name.
    pub team_claim: Option<String>,
    /// Role claim name.
    pub role_claim: Option<String>,
    /// Groups claim name.
    pub groups_claim: Option<String>,
    /// Group rules, in order.
    pub groups: Vec<OidcGroup>,
    /// Whether a token must match a group rule.
    pub require_group: bool,
}

/// A compiled group rule.
#[derive(Debug, Clone)]
pub struct OidcGroup {
    /// Group name.
    pub group: String,
    /// Team.
    pub team: Option<String>,
    /// Role.
    pub role: Option<String>,
    /// Policy profile.
    pub policy: Option<String>,
    /// Models replacing the issuer's.
    pub models: Option<Vec<String>>,
}

/// Longest clock skew an issuer may be given.
pub const MAX_LEEWAY: Duration = Duration::from_secs(300);

/// Errors as `(key path, message)`.
pub(crate) type Problems = Vec<(String, String)>;

fn duration(problems: &mut Problems, path: &str, text: &str) -> Option<Duration> {
    match humantime::parse_duration(text) {
        Ok(d) if !d.is_zero() => Some(d),
        Ok(_) => {
            problems.push((path.into(), "must be greater than zero".into()));
            None
        }
        Err(error) => {
            problems.push((path.into(), format!("invalid duration `{text}`: {error}")));
            None
        }
    }
}

/// Compiles `[admin]`.
pub(crate) fn admin(raw: RawAdmin, problems: &mut Problems) -> Option<AdminSettings> {
    let listen = match raw.listen.parse::<SocketAddr>() {
        Ok(addr) => Some(addr),
        Err(_) => {
            problems.push((
                "admin.listen".into(),
                format!("invalid socket address `{}` (e.g. \"127.0.0.1:8081\")", raw.listen),
            ));
            None
        }
    };
    let session_ttl = duration(problems, "admin.session_ttl", &raw.session_ttl);
    let lockout_for = duration(problems, "admin.lockout_for", &raw.lockout_for);
    if raw.lockout_after == 0 {
        problems.push(("admin.lockout_after".into(), "must be at least 1".into()));
    }
    Some(AdminSettings {
        listen: listen?,
        session_ttl: session_ttl?,
        lockout_after: raw.lockout_after.max(1),
        lockout_for: lockout_for?,
    })
}

/// Compiles one issuer.
pub(crate) fn oidc_issuer(i: usize, raw: RawOidcIssuer, problems: &mut Problems) -> Option<OidcIssuer> {
    let at = |key: &str| format!("auth.oidc[{i}].{key}");
    let mut ok = true;
    if raw.issuer.is_empty() {
        problems.push((at("issuer"), "must not be empty".into()));
        ok = false;
    }
    if raw.audiences.is_empty() || raw.audiences.iter().any(String::is_empty) {
        problems.push((at("audiences"), "list at least one non-empty audience".into()));
        ok = false;
    }
    let jwks_url = match raw.jwks_url.parse::<http::Uri>() {
        Ok(uri) if uri.host().is_some() && jwks_scheme_ok(&uri) => Some(uri),
        _ => {
            problems.push((at("jwks_url"), "expected an https:// URL (http:// only to a loopback address)".into()));
            None
        }
    };
    if raw.algorithms.is_empty() {
        problems.push((at("algorithms"), "list at least one of RS256, ES256".into()));
        ok = false;
    }
    for alg in &raw.algorithms {
        if alg != "RS256" && alg != "ES256" {
            problems.push((at("algorithms"), format!("unsupported algorithm `{alg}`, expected RS256 or ES256")));
            ok = false;
        }
    }
    let leeway = match humantime::parse_duration(&raw.leeway) {
        Ok(d) if d <= MAX_LEEWAY => Some(d),
        Ok(_) => {
            problems.push((at("leeway"), "must be at most 5m".into()));
            None
        }
        Err(error) => {
            problems.push((at("leeway"), format!("invalid duration `{}`: {error}", raw.leeway)));
            None
        }
    };
    let jwks_max_age = duration(problems, &at("jwks_max_age"), &raw.jwks_max_age);
    let require_group = raw.require_group.unwrap_or(!raw.groups.is_empty());
    if require_group && (raw.groups.is_empty() || raw.groups_claim.is_none()) {
        problems.push((at("require_group"), "needs `groups_claim` and at least one `[[auth.oidc.groups]]`".into()));
        ok = false;
    }
    let groups = raw
        .groups
        .into_iter()
        .map(|g| OidcGroup { group: g.group, team: g.team, role: g.role, policy: g.policy, models: g.models })
        .collect();
    if !ok {
        return None;
    }
    Some(OidcIssuer {
        issuer: raw.issuer,
        audiences: raw.audiences,
        jwks_url: jwks_url?,
        algorithms: raw.algorithms,
        leeway: leeway?,
        jwks_max_age: jwks_max_age?,
        models: raw.models,
        endpoints: raw.endpoints,
        policy: raw.policy,
        team_claim: raw.team_claim,
        role_claim: raw.role_claim,
        groups_claim: raw.groups_claim,
        groups,
        require_group,
    })
}

/// JWKS must come over TLS, except from this machine (tests, sidecars).
fn jwks_scheme_ok(uri: &http::Uri) -> bool {
    match uri.scheme_str() {
        Some("https") => true,
        Some("http") => {
            let host = uri.host().unwrap_or_default().trim_start_matches('[').trim_end_matches(']');
            host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
        }
        _ => false,
    }
}
