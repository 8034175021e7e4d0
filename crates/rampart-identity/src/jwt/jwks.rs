//! JWKS documents: parsing an issuer's published keys into the RSA and P-256 public keys
//! rampart can verify with, and choosing the key for a token.
//!
//! Only signature keys are kept: RSA keys (`kty: RSA`, `n`/`e`, 2048 to 8192 bits) and EC
//! keys on P-256 (`kty: EC`, `crv: P-256`, 32-byte `x`/`y`). A key is skipped (not an
//! error) when its `use` is not `sig`, its `key_ops` lack `verify`, its `kty` is anything
//! else (notably `oct`: symmetric keys are never used), it carries private parameters
//! (`d`, a published private key), or its parameters are malformed. Each key remembers
//! its `kid` and `alg`. A document larger than [`MAX_JWKS_BYTES`], with more than
//! [`MAX_JWKS_KEYS`] entries, or with no usable key is refused as a whole.

use base64::Engine;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use ring::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey};
use serde_json::Value;

use super::{Alg, JwtError};

/// Largest JWKS document accepted, in bytes.
pub const MAX_JWKS_BYTES: usize = 256 * 1024;
/// Most entries a JWKS document may list.
pub const MAX_JWKS_KEYS: usize = 64;

/// Smallest and largest RSA modulus, in bytes (2048 and 8192 bits).
const MIN_RSA_MODULUS_BYTES: usize = 256;
const MAX_RSA_MODULUS_BYTES: usize = 1024;
const MAX_RSA_EXPONENT_BYTES: usize = 8;
const P256_COORDINATE_BYTES: usize = 32;

/// JWK parameters are base64url; padding is tolerated here (the document comes from the
/// configured issuer over TLS, and some publishers pad).
const JWK_BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_encode_padding(false).with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Why a JWKS document was refused as a whole.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum JwksError {
    /// Larger than [`MAX_JWKS_BYTES`].
    #[error("JWKS document exceeds {} bytes", MAX_JWKS_BYTES)]
    TooLarge,
    /// More than [`MAX_JWKS_KEYS`] entries.
    #[error("JWKS document lists more than {} keys", MAX_JWKS_KEYS)]
    TooManyKeys,
    /// Not a JSON object with a `keys` array.
    #[error("JWKS document is malformed: {0}")]
    Malformed(&'static str),
    /// No entry is a usable signature key.
    #[error("JWKS document has no usable RS256/ES256 signature key")]
    NoUsableKeys,
}

/// A public key rampart can verify with.
#[derive(Clone, PartialEq, Eq)]
pub enum PublicKey {
    /// An RSA key: big-endian modulus and exponent without leading zeros.
    Rsa {
        /// Modulus.
        n: Vec<u8>,
        /// Public exponent.
        e: Vec<u8>,
    },
    /// A P-256 key as an uncompressed point (`0x04 || x || y`).
    EcP256 {
        /// The 65-byte point.
        point: Vec<u8>,
    },
}

impl PublicKey {
    /// The only algorithm this key type can verify.
    pub fn alg(&self) -> Alg {
        match self {
            PublicKey::Rsa { .. } => Alg::Rs256,
            PublicKey::EcP256 { .. } => Alg::Es256,
        }
    }

    /// Verifies `signature` over `message` for `alg`. An algorithm that does not fit the
    /// key type is [`JwtError::KeyMismatch`], never a verification attempt.
    pub(crate) fn verify(&self, alg: Alg, message: &[u8], signature: &[u8]) -> Result<(), JwtError> {
        let verified = match (self, alg) {
            (PublicKey::Rsa { n, e }, Alg::Rs256) => RsaPublicKeyComponents { n: n.as_slice(), e: e.as_slice() }
                .verify(&signature::RSA_PKCS1_2048_8192_SHA256, message, signature),
            (PublicKey::EcP256 { point }, Alg::Es256) => {
                UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point).verify(message, signature)
            }
            _ => return Err(JwtError::KeyMismatch),
        };
        verified.map_err(|_| JwtError::BadSignature)
    }
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PublicKey::Rsa { n, .. } => write!(f, "Rsa({} bits)", n.len() * 8),
            PublicKey::EcP256 { .. } => f.write_str("EcP256"),
        }
    }
}

/// One usable key of a JWKS.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Jwk {
    /// The key's `kid`, when published.
    pub kid: Option<String>,
    /// The key's `alg`, when published (a token must then use exactly this `alg`).
    pub alg: Option<String>,
    /// The key.
    pub key: PublicKey,
}

impl Jwk {
    /// True when this key may verify a token with `alg`: the key type fits and any
    /// declared `alg` is the same.
    pub fn accepts(&self, alg: Alg) -> bool {
        self.key.alg() == alg && self.alg.as_deref().is_none_or(|declared| declared == alg.as_str())
    }
}

/// The usable keys of one issuer.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Jwks {
    keys: Vec<Jwk>,
}

impl Jwks {
    /// Parses a JWKS document (see the module documentation for what is kept).
    pub fn from_json(document: &[u8]) -> Result<Self, JwksError> {
        if document.len() > MAX_JWKS_BYTES {
            return Err(JwksError::TooLarge);
        }
        let value: Value = serde_json::from_slice(document).map_err(|_| JwksError::Malformed("not JSON"))?;
        let entries = value.get("keys").and_then(Value::as_array).ok_or(JwksError::Malformed("no keys array"))?;
        if entries.len() > MAX_JWKS_KEYS {
            return Err(JwksError::TooManyKeys);
        }
        let keys: Vec<Jwk> = entries.iter().filter_map(parse_jwk).collect();
        let skipped = entries.len() - keys.len();
        if skipped > 0 {
            tracing::debug!(skipped, kept = keys.len(), "JWKS entries skipped (not usable signature keys)");
        }
        if keys.is_empty() {
            return Err(JwksError::NoUsableKeys);
        }
        Ok(Self { keys })
    }

    /// A key set from already-built keys (tests, static configuration).
    pub fn from_keys(keys: Vec<Jwk>) -> Self {
        Self { keys }
    }

    /// The usable keys.
    pub fn keys(&self) -> &[Jwk] {
        &self.keys
    }

    /// Number of usable keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// True when there are no keys.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Chooses the key for a token with `kid` and `alg`: by `kid` when the token has one
    /// (the first key with that `kid` that [`Jwk::accepts`] `alg`), otherwise the only key
    /// when there is exactly one.
    pub(crate) fn select(&self, kid: Option<&str>, alg: Alg) -> Result<&Jwk, JwtError> {
        let Some(kid) = kid else {
            return match self.keys.as_slice() {
                [] => Err(JwtError::NoKeys),
                [only] if only.accepts(alg) => Ok(only),
                [_] => Err(JwtError::KeyMismatch),
                _ => Err(JwtError::MissingKid),
            };
        };
        let mut named = self.keys.iter().filter(|key| key.kid.as_deref() == Some(kid)).peekable();
        if named.peek().is_none() {
            return Err(if self.keys.is_empty() { JwtError::NoKeys } else { JwtError::UnknownKid });
        }
        named.find(|key| key.accepts(alg)).ok_or(JwtError::KeyMismatch)
    }
}

fn optional_string(entry: &serde_json::Map<String, Value>, name: &str) -> Result<Option<String>, ()> {
    match entry.get(name) {
        None => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.clone())),
        Some(_) => Err(()),
    }
}

fn decode_param(entry: &serde_json::Map<String, Value>, name: &str) -> Option<Vec<u8>> {
    JWK_BASE64.decode(entry.get(name)?.as_str()?).ok()
}

fn strip_leading_zeros(mut bytes: Vec<u8>) -> Vec<u8> {
    let zeros = bytes.iter().take_while(|&&b| b == 0).count();
    bytes.drain(..zeros);
    bytes
}

/// One JWKS entry as a usable key, or `None` to skip it.
fn parse_jwk(entry: &Value) -> Option<Jwk> {
    let entry = entry.as_object()?;
    let kid = optional_string(entry, "kid").ok()?;
    let alg = optional_string(entry, "alg").ok()?;
    if optional_string(entry, "use").ok()?.is_some_and(|usage| usage != "sig") {
        return None;
    }
    if let Some(ops) = entry.get("key_ops") {
        if !ops.as_array()?.iter().any(|op| op.as_str() == Some("verify")) {
            return None;
        }
    }
    if entry.contains_key("d") {
        tracing::warn!(kid = kid.as_deref().unwrap_or(""), "JWKS publishes a private key; skipping it");
        return None;
    }
    let key = match entry.get("kty")?.as_str()? {
        "RSA" => {
            let n = strip_leading_zeros(decode_param(entry, "n")?);
            let e = strip_leading_zeros(decode_param(entry, "e")?);
            if !(MIN_RSA_MODULUS_BYTES..=MAX_RSA_MODULUS_BYTES).contains(&n.len())
                || e.is_empty()
                || e.len() > MAX_RSA_EXPONENT_BYTES
            {
                return None;
            }
            PublicKey::Rsa { n, e }
        }
        "EC" => {
            if entry.get("crv")?.as_str()? != "P-256" {
                return None;
            }
            let x = decode_param(entry, "x")?;
            let y = decode_param(entry, "y")?;
            if x.len() != P256_COORDINATE_BYTES || y.len() != P256_COORDINATE_BYTES {
                return None;
            }
            let mut point = Vec::with_capacity(1 + 2 * P256_COORDINATE_BYTES);
            point.push(0x04);
            point.extend_from_slice(&x);
            point.extend_from_slice(&y);
            PublicKey::EcP256 { point }
        }
        _ => return None,
    };
    Some(Jwk { kid, alg, key })
}
