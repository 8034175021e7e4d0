//! Bearer secrets: generation from the OS CSPRNG, their formats, and the keyed hash
//! under which they are stored and looked up.
//!
//! Every secret is a prefix naming its kind ([`TokenKind`]: `rk-` virtual keys, `ra-`
//! admin API tokens, `rs-` admin sessions, `rc-` CSRF tokens) followed by 32 random
//! bytes written in base62 (43 characters, zero padded), so about 256 bits of entropy.
//! Lookups go by HMAC-SHA-256(server secret, whole secret, prefix included, so a
//! secret of one kind never hashes like another): the database index only ever sees a
//! keyed hash, and the final equality check is constant time.

use hmac::{Hmac, Mac};
use rand::TryRngCore;
use rand::rngs::OsRng;
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// The prefix of every virtual key.
pub const KEY_PREFIX: &str = "rk-";
/// Random bytes in a key.
pub const KEY_BYTES: usize = 32;
/// Base62 characters encoding [`KEY_BYTES`] (ceil(256 / log2(62))).
pub const KEY_CHARS: usize = 43;
/// Length of a key as presented: prefix plus body.
pub const KEY_LEN: usize = KEY_PREFIX.len() + KEY_CHARS;

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// What a bearer secret is for; its prefix says so.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// A client's virtual key (`rk-`).
    VirtualKey,
    /// An admin API token (`ra-`).
    AdminToken,
    /// An admin login session (`rs-`).
    Session,
    /// The CSRF token paired with a session (`rc-`).
    Csrf,
}

impl TokenKind {
    /// The prefix every secret of this kind starts with.
    pub fn prefix(self) -> &'static str {
        match self {
            Self::VirtualKey => KEY_PREFIX,
            Self::AdminToken => "ra-",
            Self::Session => "rs-",
            Self::Csrf => "rc-",
        }
    }

    /// Length of a secret of this kind as presented: prefix plus body.
    pub fn token_len(self) -> usize {
        self.prefix().len() + KEY_CHARS
    }
}

/// A freshly generated secret (a key, token, session or CSRF token), shown once to
/// its creator.
pub struct NewKey {
    /// The full secret (`rk-...`, `ra-...`, ...). Never log it.
    pub key: String,
    /// Its keyed hash, the only form stored.
    pub hash: KeyHash,
}

impl std::fmt::Debug for NewKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NewKey(<redacted>)")
    }
}

/// HMAC-SHA-256 of a key under the server secret.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct KeyHash(pub [u8; 32]);

impl KeyHash {
    /// Lowercase hex, the stored form.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Parses the stored form.
    pub fn from_hex(text: &str) -> Option<Self> {
        let mut out = [0u8; 32];
        hex::decode_to_slice(text, &mut out).ok()?;
        Some(Self(out))
    }

    /// Constant-time equality.
    pub fn ct_eq(&self, other: &KeyHash) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl std::fmt::Debug for KeyHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KeyHash({}..)", &self.to_hex()[..8])
    }
}

/// A credential as a client presented it, checked for shape only.
#[derive(Clone, Copy)]
pub struct PresentedKey<'a>(&'a str);

impl<'a> PresentedKey<'a> {
    /// `Some` when `text` has the exact shape of a virtual key. Anything else is
    /// rejected before any hashing or storage lookup.
    pub fn parse(text: &'a str) -> Option<Self> {
        has_shape(TokenKind::VirtualKey, text).then_some(Self(text))
    }
}

/// A secret of some [`TokenKind`] as presented, checked for shape only.
#[derive(Clone, Copy)]
pub struct PresentedToken<'a> {
    kind: TokenKind,
    text: &'a str,
}

impl<'a> PresentedToken<'a> {
    /// `Some` when `text` has the exact shape of a secret of `kind` (its prefix and 43
    /// base62 characters). Anything else is rejected before any hashing or lookup.
    pub fn parse(kind: TokenKind, text: &'a str) -> Option<Self> {
        has_shape(kind, text).then_some(Self { kind, text })
    }

    /// The kind it has the shape of.
    pub fn kind(&self) -> TokenKind {
        self.kind
    }
}

impl<'a> From<PresentedKey<'a>> for PresentedToken<'a> {
    fn from(key: PresentedKey<'a>) -> Self {
        Self { kind: TokenKind::VirtualKey, text: key.0 }
    }
}

fn has_shape(kind: TokenKind, text: &str) -> bool {
    text.strip_prefix(kind.prefix())
        .is_some_and(|body| body.len() == KEY_CHARS && body.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// Computes key hashes. Holds the keyed HMAC state, cloned per use.
#[derive(Clone)]
pub struct KeyHasher {
    mac: Hmac<Sha256>,
}

impl std::fmt::Debug for KeyHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyHasher(<redacted>)")
    }
}

impl KeyHasher {
    /// A hasher keyed with the server secret.
    pub fn new(secret: &[u8]) -> Self {
        // HMAC accepts keys of any length; new_from_slice cannot fail for it.
        let mac = <Hmac<Sha256> as Mac>::new_from_slice(secret).unwrap_or_else(|_| unreachable!());
        Self { mac }
    }

    /// The keyed hash of a presented key.
    pub fn hash(&self, key: PresentedKey<'_>) -> KeyHash {
        self.mac_of(key.0)
    }

    /// The keyed hash of a presented secret of any kind.
    pub fn hash_token(&self, token: PresentedToken<'_>) -> KeyHash {
        self.mac_of(token.text)
    }

    fn mac_of(&self, text: &str) -> KeyHash {
        let mut mac = self.mac.clone();
        mac.update(text.as_bytes());
        KeyHash(mac.finalize().into_bytes().into())
    }

    /// Generates a new virtual key from the OS CSPRNG.
    pub fn generate(&self) -> Result<NewKey, rand::rand_core::OsError> {
        self.generate_token(TokenKind::VirtualKey)
    }

    /// Generates a new secret of `kind` from the OS CSPRNG.
    pub fn generate_token(&self, kind: TokenKind) -> Result<NewKey, rand::rand_core::OsError> {
        let mut bytes = [0u8; KEY_BYTES];
        OsRng.try_fill_bytes(&mut bytes)?;
        let key = format!("{}{}", kind.prefix(), base62_fixed(&bytes));
        let hash = self.mac_of(&key);
        Ok(NewKey { key, hash })
    }
}

/// Base62 of a 256-bit big-endian number, zero padded to [`KEY_CHARS`].
fn base62_fixed(bytes: &[u8; KEY_BYTES]) -> String {
    let mut number = *bytes;
    let mut digits = [b'0'; KEY_CHARS];
    for slot in digits.iter_mut().rev() {
        // Long division of the whole number by 62, keeping the remainder.
        let mut remainder = 0u32;
        for byte in number.iter_mut() {
            let acc = (remainder << 8) | u32::from(*byte);
            *byte = (acc / 62) as u8;
            remainder = acc % 62;
        }
        *slot = BASE62[remainder as usize];
    }
    digits.iter().map(|&b| char::from(b)).collect()
}

/// Random base62 identifier of `len` characters (for key ids; not secret).
pub fn random_id(prefix: &str, len: usize) -> Result<String, rand::rand_core::OsError> {
    let mut out = String::with_capacity(prefix.len() + len);
    out.push_str(prefix);
    let mut buf = [0u8; 1];
    while out.len() < prefix.len() + len {
        OsRng.try_fill_bytes(&mut buf)?;
        // Rejection sampling keeps the distribution uniform: 248 = 4 * 62.
        if buf[0] < 248 {
            out.push(char::from(BASE62[usize::from(buf[0] % 62)]));
        }
    }
    Ok(out)
}

/// The models a key may use: glob patterns (`*`, `?`) over model names. An empty scope
/// allows nothing (default deny).
#[derive(Debug, Clone)]
pub struct ModelScope {
    patterns: Vec<String>,
    compiled: Vec<wildmatch::WildMatch>,
}

impl ModelScope {
    /// Every model.
    pub fn all() -> Self {
        Self::new(vec!["*".to_owned()])
    }

    /// A scope from glob patterns.
    pub fn new(patterns: Vec<String>) -> Self {
        let compiled = patterns.iter().map(|p| wildmatch::WildMatch::new(p)).collect();
        Self { patterns, compiled }
    }

    /// Whether `model` matches one of the patterns.
    pub fn allows(&self, model: &str) -> bool {
        self.compiled.iter().any(|p| p.matches(model))
    }

    /// Whether every model is allowed (the scope contains `*`).
    pub fn is_unrestricted(&self) -> bool {
        self.patterns.iter().any(|p| p == "*")
    }

    /// The patterns as configured.
    pub fn patterns(&self) -> &[String] {
        &self.patterns
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_have_the_documented_shape() {
        let hasher = KeyHasher::new(b"0123456789abcdef0123456789abcdef");
        let a = hasher.generate().unwrap();
        let b = hasher.generate().unwrap();
        assert_eq!(a.key.len(), KEY_LEN);
        assert!(a.key.starts_with("rk-"));
        assert!(PresentedKey::parse(&a.key).is_some());
        assert_ne!(a.key, b.key);
        assert_eq!(hasher.hash(PresentedKey::parse(&a.key).unwrap()), a.hash);
    }

    #[test]
    fn base62_encodes_extremes() {
        assert_eq!(base62_fixed(&[0; 32]), "0".repeat(43));
        // 2^256 - 1, checked against an independent big-integer conversion.
        assert_eq!(base62_fixed(&[0xff; 32]), "yhjskwdA6OZ1AL1YmHWZWm8LLG7HjnuCA2j5rOw8Xp1");
        let one = {
            let mut b = [0u8; 32];
            b[31] = 61;
            base62_fixed(&b)
        };
        assert_eq!(one, format!("{}z", "0".repeat(42)));
    }

    #[test]
    fn hashes_depend_on_the_server_secret() {
        let key = "rk-".to_owned() + &"a".repeat(43);
        let key = PresentedKey::parse(&key).unwrap();
        let one = KeyHasher::new(b"secret-one-secret-one-secret-one");
        let two = KeyHasher::new(b"secret-two-secret-two-secret-two");
        assert_ne!(one.hash(key), two.hash(key));
        assert!(one.hash(key).ct_eq(&one.hash(key)));
        assert_eq!(KeyHash::from_hex(&one.hash(key).to_hex()), Some(one.hash(key)));
    }

    #[test]
    fn rejects_malformed_credentials_before_hashing() {
        for bad in [
            "",
            "rk-",
            "sk-abc",
            &format!("rk-{}", "a".repeat(42)),
            &format!("rk-{}!", "a".repeat(42)),
            &format!("rk-{}", "a".repeat(44)),
        ] {
            assert!(PresentedKey::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn model_scopes_match_globs_and_default_deny() {
        let scope = ModelScope::new(vec!["gpt-4o*".into(), "text-embedding-?-small".into()]);
        assert!(scope.allows("gpt-4o-mini"));
        assert!(scope.allows("text-embedding-3-small"));
        assert!(!scope.allows("o1"));
        assert!(!scope.is_unrestricted());
        assert!(!ModelScope::new(vec![]).allows("gpt-4o"));
        assert!(ModelScope::all().allows("anything"));
    }

    #[test]
    fn token_kinds_have_their_own_prefix_and_never_cross() {
        let hasher = KeyHasher::new(b"0123456789abcdef0123456789abcdef");
        for kind in [TokenKind::VirtualKey, TokenKind::AdminToken, TokenKind::Session, TokenKind::Csrf] {
            let token = hasher.generate_token(kind).unwrap();
            assert_eq!(token.key.len(), kind.token_len());
            assert!(token.key.starts_with(kind.prefix()));
            let presented = PresentedToken::parse(kind, &token.key).unwrap();
            assert_eq!(presented.kind(), kind);
            assert_eq!(hasher.hash_token(presented), token.hash);
            for other in [TokenKind::VirtualKey, TokenKind::AdminToken, TokenKind::Session, TokenKind::Csrf] {
                assert_eq!(PresentedToken::parse(other, &token.key).is_some(), other == kind);
            }
        }
        let key = hasher.generate().unwrap();
        let presented = PresentedKey::parse(&key.key).unwrap();
        assert_eq!(hasher.hash_token(presented.into()), hasher.hash(presented));
        // The same body under another prefix hashes differently.
        let body = &key.key[3..];
        let as_token = format!("ra-{body}");
        let as_token = PresentedToken::parse(TokenKind::AdminToken, &as_token).unwrap();
        assert_ne!(hasher.hash_token(as_token), key.hash);
        for bad in ["", "ra-", "ra-\0", &format!("ra-{}\0", "a".repeat(42)), &format!("ra-{}é", "a".repeat(41))] {
            assert!(PresentedToken::parse(TokenKind::AdminToken, bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn random_ids_are_base62() {
        let id = random_id("key_", 16).unwrap();
        assert_eq!(id.len(), 20);
        assert!(id[4..].bytes().all(|b| b.is_ascii_alphanumeric()));
    }
}
