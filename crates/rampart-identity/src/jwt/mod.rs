//! OIDC/JWT bearer validation for clients: issuer configuration, the strict validation
//! flow, JWKS parsing ([`Jwks`]), the JWKS cache with rate-limited refetching behind the
//! [`JwksFetcher`] trait ([`JwksCache`]), and mapping of claims to a team, role and
//! policy ([`ClaimMapping`]).
//!
//! Verification is written directly on `ring` rather than through `jsonwebtoken`: the
//! accepted surface is exactly two algorithms, and implementing it here keeps every rule
//! visible in one place and impossible to relax by a library default. There is no HMAC
//! verification at all, so the RS256/HS256 key-confusion attack has nothing to confuse;
//! `alg` is matched case-sensitively against `RS256` and `ES256` only; header-embedded
//! keys (`jwk`, `jku`, `x5u`, `x5c`) are never consulted; and it adds no dependency beyond
//! the `ring` the workspace already builds for TLS.
//!
//! The flow of [`Validator::validate`] (and [`JwksCache::validate`]):
//!
//! 1. the token is at most [`MAX_TOKEN_BYTES`] and is exactly three unpadded base64url
//!    parts;
//! 2. the header is a JSON object without duplicate members; its `alg` must be `RS256` or
//!    `ES256` (`none`, `HS*`, `PS*`, `EdDSA`, ... are rejected) and it must have no `crit`;
//! 3. the payload is a JSON object without duplicate members; its `iss` picks the issuer
//!    configuration (an unconfigured issuer is rejected), and the issuer must allow `alg`;
//! 4. the key is found by `kid` (required when the issuer publishes more than one key); its
//!    type must fit `alg` (RSA for RS256, EC P-256 for ES256) and, if the JWK names an
//!    `alg`, that must equal the header's;
//! 5. the signature is verified (RSA PKCS#1 v1.5 with SHA-256 and a 2048 to 8192-bit
//!    modulus, or ECDSA P-256 SHA-256 in the fixed 64-byte form);
//! 6. `exp` is required, `nbf` and `iat` are checked when present, `aud` (string or array)
//!    must name a configured audience, and `sub` is required: all times with the issuer's
//!    leeway (default 60 s, capped at 5 minutes).
//!
//! Errors name the rule that failed and never include the token or any claim value.

mod cache;
mod jwks;
mod mapping;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde_json::{Map, Value};

pub use cache::{BoxFuture, DEFAULT_MAX_AGE, JwksCache, JwksFetcher, MIN_REFETCH_INTERVAL};
pub use jwks::{Jwk, Jwks, JwksError, MAX_JWKS_BYTES, MAX_JWKS_KEYS, PublicKey};
pub use mapping::{ClaimMapping, GroupRule, MAX_CLAIM_VALUE_LEN, MappedIdentity};

/// Longest token accepted, in bytes.
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;
/// Clock-skew leeway when an issuer does not set one.
pub const DEFAULT_LEEWAY: Duration = Duration::from_secs(60);
/// Largest leeway honoured; larger configured values are capped to it.
pub const MAX_LEEWAY: Duration = Duration::from_secs(300);
/// Longest `sub` accepted (OpenID Connect Core: at most 255 ASCII characters).
pub const MAX_SUBJECT_LEN: usize = 255;

/// A signature algorithm rampart accepts. Nothing else is ever verified.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Alg {
    /// RSASSA-PKCS1-v1_5 with SHA-256 (`RS256`), 2048 to 8192-bit keys.
    #[serde(rename = "RS256")]
    Rs256,
    /// ECDSA on P-256 with SHA-256 (`ES256`).
    #[serde(rename = "ES256")]
    Es256,
}

impl Alg {
    /// Every accepted algorithm, the default for an issuer.
    pub const ALL: [Alg; 2] = [Alg::Rs256, Alg::Es256];

    /// The JOSE name (`RS256`, `ES256`).
    pub fn as_str(self) -> &'static str {
        match self {
            Alg::Rs256 => "RS256",
            Alg::Es256 => "ES256",
        }
    }

    /// Parses a JOSE `alg` value, case-sensitively. `None` for anything but `RS256` and
    /// `ES256`.
    pub fn from_name(name: &str) -> Option<Alg> {
        match name {
            "RS256" => Some(Alg::Rs256),
            "ES256" => Some(Alg::Es256),
            _ => None,
        }
    }
}

/// One trusted token issuer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IssuerConfig {
    /// The exact `iss` value (compared byte for byte, no trailing-slash normalisation).
    pub issuer: String,
    /// Accepted audiences: a token's `aud` must contain at least one. Must not be empty.
    pub audiences: Vec<String>,
    /// Where the issuer publishes its JWKS (used by [`JwksCache`]).
    pub jwks_url: String,
    /// Algorithms accepted from this issuer (default: both). Must not be empty.
    pub algorithms: Vec<Alg>,
    /// Clock-skew leeway for `exp`, `nbf` and `iat` (default 60 s, capped at
    /// [`MAX_LEEWAY`]).
    pub leeway: Duration,
}

impl IssuerConfig {
    /// An issuer with the default algorithms and leeway.
    pub fn new(issuer: impl Into<String>, audiences: Vec<String>, jwks_url: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            audiences,
            jwks_url: jwks_url.into(),
            algorithms: Alg::ALL.to_vec(),
            leeway: DEFAULT_LEEWAY,
        }
    }

    /// The leeway actually applied: the configured one capped at [`MAX_LEEWAY`].
    pub fn effective_leeway(&self) -> Duration {
        self.leeway.min(MAX_LEEWAY)
    }

    fn leeway_secs(&self) -> i64 {
        i64::try_from(self.effective_leeway().as_secs()).unwrap_or(0)
    }
}

/// An issuer configuration that cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// An issuer with an empty `issuer` string.
    #[error("an OIDC issuer has an empty issuer identifier")]
    EmptyIssuer,
    /// The same issuer configured twice.
    #[error("OIDC issuer {0} is configured more than once")]
    DuplicateIssuer(String),
    /// No audiences: every token would be rejected (or, worse, any accepted).
    #[error("OIDC issuer {0} has no audiences")]
    NoAudiences(String),
    /// No algorithms.
    #[error("OIDC issuer {0} allows no algorithms")]
    NoAlgorithms(String),
    /// No JWKS URL.
    #[error("OIDC issuer {0} has no JWKS URL")]
    NoJwksUrl(String),
}

fn check_configs(configs: &[IssuerConfig], need_url: bool) -> Result<(), ConfigError> {
    let mut seen = std::collections::HashSet::new();
    for config in configs {
        if config.issuer.is_empty() {
            return Err(ConfigError::EmptyIssuer);
        }
        if !seen.insert(config.issuer.as_str()) {
            return Err(ConfigError::DuplicateIssuer(config.issuer.clone()));
        }
        if config.audiences.is_empty() || config.audiences.iter().any(String::is_empty) {
            return Err(ConfigError::NoAudiences(config.issuer.clone()));
        }
        if config.algorithms.is_empty() {
            return Err(ConfigError::NoAlgorithms(config.issuer.clone()));
        }
        if need_url && config.jwks_url.is_empty() {
            return Err(ConfigError::NoJwksUrl(config.issuer.clone()));
        }
    }
    Ok(())
}

/// Why a token was rejected. Never contains the token or claim values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum JwtError {
    /// Longer than [`MAX_TOKEN_BYTES`].
    #[error("token is too large")]
    TooLarge,
    /// Not three unpadded base64url parts of JSON objects (the reason is static text).
    #[error("malformed token: {0}")]
    Malformed(&'static str),
    /// `alg` is not RS256/ES256, or not allowed for the issuer.
    #[error("token algorithm is not allowed")]
    AlgNotAllowed,
    /// The header has a `crit` member.
    #[error("token has critical header parameters")]
    CritHeader,
    /// `iss` is not a configured issuer.
    #[error("token issuer is not configured")]
    UnknownIssuer,
    /// No key of the issuer has the token's `kid`.
    #[error("token key id matches no key of the issuer")]
    UnknownKid,
    /// The token has no `kid` and the issuer publishes several keys.
    #[error("token has no key id and the issuer has several keys")]
    MissingKid,
    /// The key's type or declared algorithm does not fit the token's `alg`.
    #[error("token algorithm does not match the key")]
    KeyMismatch,
    /// The signature does not verify.
    #[error("token signature is invalid")]
    BadSignature,
    /// `exp` has passed (beyond the leeway).
    #[error("token has expired")]
    Expired,
    /// `nbf` is in the future (beyond the leeway).
    #[error("token is not yet valid")]
    NotYetValid,
    /// `iat` is in the future (beyond the leeway).
    #[error("token was issued in the future")]
    IssuedInFuture,
    /// `aud` is missing or names no configured audience.
    #[error("token audience is not accepted")]
    WrongAudience,
    /// A required claim is absent.
    #[error("token lacks the {0} claim")]
    MissingClaim(&'static str),
    /// A claim has the wrong type or an unacceptable value.
    #[error("token {0} claim is invalid")]
    InvalidClaim(&'static str),
    /// The issuer's keys are not available (never fetched, or the JWKS is empty).
    #[error("no signing keys are available for the token issuer")]
    NoKeys,
}

/// The claims of a validated token.
#[derive(Clone, Debug, PartialEq)]
pub struct Claims {
    /// `sub`: the principal.
    pub sub: String,
    /// `iss`: the issuer, equal to a configured [`IssuerConfig::issuer`].
    pub iss: String,
    /// `aud`, normalised to a list.
    pub aud: Vec<String>,
    /// `exp`, in Unix seconds.
    pub exp: i64,
    /// Every claim as sent, for [`ClaimMapping`].
    pub raw: Map<String, Value>,
}

/// A token split, decoded and structurally checked, not yet verified.
pub(crate) struct ParsedToken<'a> {
    signing_input: &'a str,
    signature: Vec<u8>,
    pub(crate) alg: Alg,
    kid: Option<String>,
    pub(crate) iss: String,
    claims: Map<String, Value>,
}

impl ParsedToken<'_> {
    pub(crate) fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }
}

/// A JSON object whose members are unique (a duplicated `alg`, `iss` or `exp` could mean
/// different things to different parsers, so it is refused).
struct UniqueObject(Map<String, Value>);

impl<'de> serde::Deserialize<'de> for UniqueObject {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ObjectVisitor;
        impl<'de> Visitor<'de> for ObjectVisitor {
            type Value = UniqueObject;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<UniqueObject, A::Error> {
                let mut map = Map::new();
                while let Some(key) = access.next_key::<String>()? {
                    if map.contains_key(&key) {
                        return Err(de::Error::custom("duplicate member"));
                    }
                    let value: Value = access.next_value()?;
                    map.insert(key, value);
                }
                Ok(UniqueObject(map))
            }
        }
        deserializer.deserialize_map(ObjectVisitor)
    }
}

fn decode_part(part: &str, what: &'static str) -> Result<Vec<u8>, JwtError> {
    // The URL-safe alphabet without padding; non-canonical trailing bits are rejected.
    URL_SAFE_NO_PAD.decode(part).map_err(|_| JwtError::Malformed(what))
}

fn decode_object(part: &str, what: &'static str) -> Result<Map<String, Value>, JwtError> {
    let bytes = decode_part(part, what)?;
    serde_json::from_slice::<UniqueObject>(&bytes).map(|object| object.0).map_err(|_| JwtError::Malformed(what))
}

/// Steps 1 to 3 of the flow, up to reading (not trusting) `iss`.
pub(crate) fn parse(token: &str) -> Result<ParsedToken<'_>, JwtError> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(JwtError::TooLarge);
    }
    let not_three = JwtError::Malformed("not three parts");
    let (signing_input, signature) = token.rsplit_once('.').ok_or(not_three)?;
    let (header, payload) = signing_input.split_once('.').ok_or(not_three)?;
    if payload.contains('.') {
        return Err(not_three);
    }
    let header = decode_object(header, "header")?;
    let alg = match header.get("alg") {
        Some(Value::String(name)) => Alg::from_name(name).ok_or(JwtError::AlgNotAllowed)?,
        Some(_) => return Err(JwtError::Malformed("alg is not a string")),
        None => return Err(JwtError::Malformed("no alg")),
    };
    if header.contains_key("crit") {
        return Err(JwtError::CritHeader);
    }
    let kid = match header.get("kid") {
        None => None,
        Some(Value::String(kid)) => Some(kid.clone()),
        Some(_) => return Err(JwtError::Malformed("kid is not a string")),
    };
    let claims = decode_object(payload, "payload")?;
    let iss = match claims.get("iss") {
        Some(Value::String(iss)) => iss.clone(),
        Some(_) => return Err(JwtError::InvalidClaim("iss")),
        None => return Err(JwtError::MissingClaim("iss")),
    };
    let signature = decode_part(signature, "signature")?;
    if signature.is_empty() {
        return Err(JwtError::Malformed("empty signature"));
    }
    Ok(ParsedToken { signing_input, signature, alg, kid, iss, claims })
}

fn numeric_date(claims: &Map<String, Value>, name: &'static str) -> Result<Option<i64>, JwtError> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::Number(number)) => {
            if let Some(value) = number.as_i64() {
                return Ok(Some(value));
            }
            match number.as_f64() {
                // Saturating conversion: far-future values stay far in the future.
                Some(value) if value.is_finite() => Ok(Some(value.floor() as i64)),
                _ => Err(JwtError::InvalidClaim(name)),
            }
        }
        Some(_) => Err(JwtError::InvalidClaim(name)),
    }
}

/// Steps 3 (issuer algorithms) to 6 of the flow, against one issuer's keys.
pub(crate) fn verify(
    token: &ParsedToken<'_>,
    config: &IssuerConfig,
    jwks: &Jwks,
    now_unix: i64,
) -> Result<Claims, JwtError> {
    if !config.algorithms.contains(&token.alg) {
        return Err(JwtError::AlgNotAllowed);
    }
    let key = jwks.select(token.kid(), token.alg)?;
    key.key.verify(token.alg, token.signing_input.as_bytes(), &token.signature)?;

    let claims = &token.claims;
    let leeway = config.leeway_secs();
    let exp = numeric_date(claims, "exp")?.ok_or(JwtError::MissingClaim("exp"))?;
    if now_unix >= exp.saturating_add(leeway) {
        return Err(JwtError::Expired);
    }
    if let Some(nbf) = numeric_date(claims, "nbf")? {
        if now_unix.saturating_add(leeway) < nbf {
            return Err(JwtError::NotYetValid);
        }
    }
    if let Some(iat) = numeric_date(claims, "iat")? {
        if iat > now_unix.saturating_add(leeway) {
            return Err(JwtError::IssuedInFuture);
        }
    }
    let aud = match claims.get("aud") {
        None => return Err(JwtError::WrongAudience),
        Some(Value::String(one)) => vec![one.clone()],
        Some(Value::Array(many)) => many
            .iter()
            .map(|value| value.as_str().map(str::to_owned).ok_or(JwtError::InvalidClaim("aud")))
            .collect::<Result<Vec<_>, _>>()?,
        Some(_) => return Err(JwtError::InvalidClaim("aud")),
    };
    if !aud.iter().any(|candidate| config.audiences.contains(candidate)) {
        return Err(JwtError::WrongAudience);
    }
    let sub = match claims.get("sub") {
        None => return Err(JwtError::MissingClaim("sub")),
        Some(Value::String(sub)) if !sub.is_empty() && sub.len() <= MAX_SUBJECT_LEN => sub.clone(),
        Some(_) => return Err(JwtError::InvalidClaim("sub")),
    };
    Ok(Claims { sub, iss: token.iss.clone(), aud, exp, raw: claims.clone() })
}

/// Validates tokens against configured issuers and key sets supplied by the caller (for
/// fetched, cached keys use [`JwksCache`]).
#[derive(Clone, Debug)]
pub struct Validator {
    issuers: HashMap<String, (IssuerConfig, Jwks)>,
}

impl Validator {
    /// A validator for `configs`, each with an empty key set until [`Validator::set_jwks`].
    pub fn new(configs: Vec<IssuerConfig>) -> Result<Self, ConfigError> {
        check_configs(&configs, false)?;
        let issuers = configs.into_iter().map(|config| (config.issuer.clone(), (config, Jwks::default()))).collect();
        Ok(Self { issuers })
    }

    /// Replaces the keys of `issuer`. `false` when the issuer is not configured.
    pub fn set_jwks(&mut self, issuer: &str, jwks: Jwks) -> bool {
        match self.issuers.get_mut(issuer) {
            Some((_, keys)) => {
                *keys = jwks;
                true
            }
            None => false,
        }
    }

    /// The configuration of `issuer`.
    pub fn config(&self, issuer: &str) -> Option<&IssuerConfig> {
        self.issuers.get(issuer).map(|(config, _)| config)
    }

    /// Validates `token` at `now_unix` (seconds) through the whole flow of the module
    /// documentation.
    pub fn validate(&self, token: &str, now_unix: i64) -> Result<Claims, JwtError> {
        let parsed = parse(token)?;
        let (config, jwks) = self.issuers.get(&parsed.iss).ok_or(JwtError::UnknownIssuer)?;
        verify(&parsed, config, jwks, now_unix)
    }
}
