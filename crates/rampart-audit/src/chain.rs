//! The hash chain and checkpoint signatures.
//!
//! Record hash (hex-encoded when stored):
//! `SHA-256("rampart-audit-record-v1\0" || prev_hash (32 bytes) || seq (u64 big-endian) || json)`
//! where `json` is the record's canonical JSON: `serde_json::to_string` of
//! [`crate::AuditRecord`] (fixed field order, every field present, no whitespace). The
//! stored text is hashed as is, so verification never re-serializes. The first
//! record's `prev_hash` is 32 zero bytes.
//!
//! Checkpoint signature (base64 when stored): Ed25519 over
//! `"rampart-audit-checkpoint-v1\0" || seq (u64 big-endian) || hash (32 bytes) || time (i64 big-endian, unix ms)`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ring::rand::SystemRandom;
use ring::signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};
use sha2::{Digest, Sha256};

use crate::store::AuditError;

/// Domain tag of record hashes.
pub const RECORD_TAG: &[u8] = b"rampart-audit-record-v1\0";
/// Domain tag of checkpoint signatures.
pub const CHECKPOINT_TAG: &[u8] = b"rampart-audit-checkpoint-v1\0";
/// The `prev_hash` of the first record.
pub const GENESIS: [u8; 32] = [0; 32];

/// The hash of the record `json` at `seq` following `prev_hash`.
pub fn record_hash(prev_hash: &[u8; 32], seq: u64, json: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(RECORD_TAG);
    h.update(prev_hash);
    h.update(seq.to_be_bytes());
    h.update(json);
    h.finalize().into()
}

/// The message a checkpoint signs.
pub fn checkpoint_message(seq: u64, hash: &[u8; 32], time: i64) -> Vec<u8> {
    let mut m = Vec::with_capacity(CHECKPOINT_TAG.len() + 48);
    m.extend_from_slice(CHECKPOINT_TAG);
    m.extend_from_slice(&seq.to_be_bytes());
    m.extend_from_slice(hash);
    m.extend_from_slice(&time.to_be_bytes());
    m
}

/// Parses a 64-digit hex hash.
pub fn parse_hash(hex_hash: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(hex_hash, &mut out).ok()?;
    Some(out)
}

/// A new Ed25519 signing key as a PKCS#8 (v2) document: store it as a secret.
pub fn generate_signing_key() -> Result<Vec<u8>, AuditError> {
    let doc = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
        .map_err(|_| AuditError::Key("key generation failed".into()))?;
    Ok(doc.as_ref().to_vec())
}

/// Key material as configured: 64 hex digits, else standard base64.
fn decode_key_text(text: &str, what: &str) -> Result<Vec<u8>, AuditError> {
    let text = text.trim();
    let bytes = if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
        hex::decode(text).ok()
    } else {
        STANDARD.decode(text).ok()
    };
    bytes.ok_or_else(|| AuditError::Key(format!("{what} is neither hex nor base64")))
}

/// The key that signs checkpoints.
pub struct AuditSigner {
    pair: Ed25519KeyPair,
}

impl std::fmt::Debug for AuditSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditSigner").field("public_key", &self.public_key().to_hex()).finish()
    }
}

impl AuditSigner {
    /// From a PKCS#8 document (v1 or v2, as [`generate_signing_key`] returns).
    pub fn from_pkcs8(pkcs8: &[u8]) -> Result<Self, AuditError> {
        let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(pkcs8)
            .map_err(|e| AuditError::Key(format!("invalid PKCS#8 Ed25519 key: {e}")))?;
        Ok(Self { pair })
    }

    /// From a 32-byte Ed25519 seed.
    pub fn from_seed(seed: &[u8]) -> Result<Self, AuditError> {
        let pair = Ed25519KeyPair::from_seed_unchecked(seed)
            .map_err(|e| AuditError::Key(format!("invalid Ed25519 seed: {e}")))?;
        Ok(Self { pair })
    }

    /// Parses a key as configured: a 32-byte seed in hex (64 digits) or base64, or a
    /// PKCS#8 document in base64.
    pub fn parse(text: &str) -> Result<Self, AuditError> {
        let bytes = decode_key_text(text, "signing key")?;
        if bytes.len() == 32 { Self::from_seed(&bytes) } else { Self::from_pkcs8(&bytes) }
    }

    /// The verification key.
    pub fn public_key(&self) -> AuditPublicKey {
        let mut key = [0u8; 32];
        key.copy_from_slice(self.pair.public_key().as_ref());
        AuditPublicKey(key)
    }

    /// Signs the checkpoint `(seq, hash, time)`.
    pub fn sign_checkpoint(&self, seq: u64, hash: &[u8; 32], time: i64) -> Vec<u8> {
        self.pair.sign(&checkpoint_message(seq, hash, time)).as_ref().to_vec()
    }
}

/// An Ed25519 public key (32 bytes): all verification needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuditPublicKey(pub [u8; 32]);

impl AuditPublicKey {
    /// Lowercase hex (64 digits).
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Standard base64 (padded).
    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.0)
    }

    /// Parses hex (64 digits) or standard base64 of 32 bytes.
    pub fn parse(text: &str) -> Result<Self, AuditError> {
        let bytes = decode_key_text(text, "public key")?;
        let key: [u8; 32] =
            bytes.try_into().map_err(|_| AuditError::Key("an Ed25519 public key is 32 bytes".into()))?;
        Ok(Self(key))
    }

    /// Whether `signature` is this key's signature of the checkpoint `(seq, hash, time)`.
    pub fn verify_checkpoint(&self, seq: u64, hash: &[u8; 32], time: i64, signature: &[u8]) -> bool {
        UnparsedPublicKey::new(&ED25519, self.0).verify(&checkpoint_message(seq, hash, time), signature).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_sign_and_verify() {
        let signer = AuditSigner::from_pkcs8(&generate_signing_key().unwrap()).unwrap();
        let key = signer.public_key();
        assert_eq!(AuditPublicKey::parse(&key.to_hex()).unwrap(), key);
        assert_eq!(AuditPublicKey::parse(&key.to_base64()).unwrap(), key);
        let hash = record_hash(&GENESIS, 1, b"{}");
        let sig = signer.sign_checkpoint(1, &hash, 5);
        assert!(key.verify_checkpoint(1, &hash, 5, &sig));
        assert!(!key.verify_checkpoint(2, &hash, 5, &sig));
        assert!(!key.verify_checkpoint(1, &hash, 6, &sig));
        let seeded = AuditSigner::from_seed(&[7u8; 32]).unwrap();
        assert_eq!(seeded.public_key(), AuditSigner::from_seed(&[7u8; 32]).unwrap().public_key());
        assert!(AuditSigner::from_seed(&[7u8; 31]).is_err());
    }

    #[test]
    fn hash_covers_every_input() {
        let base = record_hash(&GENESIS, 1, b"{}");
        assert_ne!(base, record_hash(&GENESIS, 2, b"{}"));
        assert_ne!(base, record_hash(&[1; 32], 1, b"{}"));
        assert_ne!(base, record_hash(&GENESIS, 1, b"{ }"));
    }
}
