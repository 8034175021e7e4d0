//! Provider credentials at rest: the key-encryption key (KEK), AES-256-GCM sealing of
//! credentials under it, the self-describing sealed text, and KEK rotation.
//!
//! A sealed credential is `v1.<kek_id>.<base64url(nonce || ciphertext || tag)>`: the
//! format version, the 8 hex characters of [`Kek::key_id`] (so a row says which KEK made
//! it, and rotation can find the rows still under the old one), and the AES-256-GCM
//! output under a fresh random 96-bit nonce from the OS CSPRNG. The caller's associated
//! data (the credential's name, e.g. `provider:openai`) is authenticated together with
//! the version and KEK id, so a ciphertext copied to another provider's row, or edited
//! in any way, fails to open. Random 96-bit nonces are safe far beyond the number of
//! credentials a gateway will ever seal under one KEK (the NIST bound is 2^32 seals).

use std::io::Read;
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::digest;
use ring::rand::{SecureRandom, SystemRandom};
use zeroize::{Zeroize, Zeroizing};

/// Bytes of a KEK.
pub const KEK_BYTES: usize = 32;
/// Hex characters of a KEK id.
pub const KEK_ID_CHARS: usize = 8;
/// The current sealed-text version tag.
pub const SEALED_VERSION: &str = "v1";
/// Domain separation for [`Kek::key_id`].
const KEK_ID_CONTEXT: &[u8] = b"rampart-kek-id";
/// Prefix of the authenticated data, binding the format version.
const AAD_CONTEXT: &[u8] = b"rampart-vault\0v1\0";
/// Largest KEK file read (a key is at most 64 hex characters plus whitespace).
const MAX_KEK_FILE_BYTES: u64 = 1024;
const TAG_LEN: usize = 16;

/// Why a KEK could not be loaded or a credential sealed or opened. Never contains key
/// material or plaintext.
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    /// Neither the environment variable nor a file supplied a key.
    #[error("no key-encryption key: set {env_var} or configure a key file")]
    NotConfigured {
        /// The environment variable consulted.
        env_var: String,
    },
    /// The key text is not 32 bytes as base64 or 64 hex characters.
    #[error("key-encryption key from {source_name} is not 32 bytes as base64 or 64 hex characters")]
    BadKeyFormat {
        /// Where the key came from (the variable name or the file path), not the key.
        source_name: String,
    },
    /// The key file could not be read.
    #[error("cannot read key-encryption key file {}: {reason}", path.display())]
    KeyFile {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        reason: String,
    },
    /// The key file is readable or writable by group or others.
    #[error(
        "key-encryption key file {} has mode {mode:04o}: it must not be accessible by group or others (chmod 600)",
        path.display()
    )]
    KeyFilePermissions {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The key file is not a regular file, or is too large to be a key.
    #[error("key-encryption key file {} is not a regular file of at most 1 KiB", path.display())]
    KeyFileShape {
        /// The file.
        path: PathBuf,
    },
    /// The OS random number generator failed.
    #[error("the OS random number generator failed")]
    Rng,
    /// The text is not a sealed credential of a known version.
    #[error("not a sealed credential")]
    Malformed,
    /// The credential was sealed under another KEK.
    #[error("credential was sealed under key-encryption key {found}, not {expected}")]
    WrongKek {
        /// The KEK id in the sealed text.
        found: String,
        /// The id of the KEK offered.
        expected: String,
    },
    /// Authentication failed: tampered, truncated, or opened with the wrong associated
    /// data.
    #[error("sealed credential failed authentication (tampered, or wrong associated data)")]
    Unauthentic,
}

/// A 32-byte key-encryption key: wiped from memory on drop, never printed.
pub struct Kek {
    key: [u8; KEK_BYTES],
    id: String,
}

impl Kek {
    /// Wraps raw key bytes.
    pub fn from_bytes(mut key: [u8; KEK_BYTES]) -> Self {
        let kek = Self { key, id: key_id_of(&key) };
        key.zeroize();
        kek
    }

    /// A key derived from another secret (HMAC-SHA-256 under a fixed label), used when
    /// no `[vault]` key is configured: the server's key-hashing secret then protects
    /// credentials too. A separate key is better (it can be rotated alone).
    pub fn derive_from_secret(secret: &[u8]) -> Self {
        let mac = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret);
        let tag = ring::hmac::sign(&mac, b"rampart vault key-encryption key v1");
        let mut key = [0u8; KEK_BYTES];
        key.copy_from_slice(tag.as_ref());
        Self::from_bytes(key)
    }

    /// A fresh random key from the OS CSPRNG (for `rampart` key generation commands).
    pub fn generate() -> Result<Self, VaultError> {
        let mut key = [0u8; KEK_BYTES];
        SystemRandom::new().fill(&mut key).map_err(|_| VaultError::Rng)?;
        Ok(Self::from_bytes(key))
    }

    /// Parses key text: 64 hex characters, or 32 bytes as base64 (standard or URL-safe,
    /// padded or not). Surrounding whitespace is ignored. `source_name` only labels the
    /// error.
    pub fn parse(text: &str, source_name: &str) -> Result<Self, VaultError> {
        let bad = || VaultError::BadKeyFormat { source_name: source_name.to_owned() };
        let text = text.trim();
        let mut key = Zeroizing::new([0u8; KEK_BYTES]);
        if text.len() == 2 * KEK_BYTES && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            hex::decode_to_slice(text, key.as_mut_slice()).map_err(|_| bad())?;
            return Ok(Self::from_bytes(*key));
        }
        for engine in [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD] {
            let mut decoded = Zeroizing::new([0u8; KEK_BYTES + 3]);
            if let Ok(KEK_BYTES) = engine.decode_slice(text, decoded.as_mut_slice()) {
                key.copy_from_slice(&decoded[..KEK_BYTES]);
                return Ok(Self::from_bytes(*key));
            }
        }
        Err(bad())
    }

    /// Loads the KEK from the environment variable `env_var_name` when it is set and not
    /// empty, otherwise from `file_path` when given. The file is opened, must be a regular
    /// file of at most 1 KiB with no permission bits for group or others (mode & 0o077 ==
    /// 0 on Unix), and its content is trimmed and parsed like [`Kek::parse`].
    pub fn from_env_or_file(env_var_name: &str, file_path: Option<&Path>) -> Result<Self, VaultError> {
        if let Some(value) = std::env::var_os(env_var_name) {
            let value = Zeroizing::new(value.into_string().map_err(|mut raw| {
                raw.clear();
                VaultError::BadKeyFormat { source_name: env_var_name.to_owned() }
            })?);
            if !value.trim().is_empty() {
                return Self::parse(&value, env_var_name);
            }
        }
        match file_path {
            Some(path) => Self::from_file(path),
            None => Err(VaultError::NotConfigured { env_var: env_var_name.to_owned() }),
        }
    }

    /// Loads the KEK from a file, with the checks of [`Kek::from_env_or_file`].
    pub fn from_file(path: &Path) -> Result<Self, VaultError> {
        let io_error = |e: std::io::Error| VaultError::KeyFile { path: path.to_owned(), reason: e.to_string() };
        let file = std::fs::File::open(path).map_err(io_error)?;
        // Checked on the open handle, so the file inspected is the file read.
        let metadata = file.metadata().map_err(io_error)?;
        if !metadata.is_file() || metadata.len() > MAX_KEK_FILE_BYTES {
            return Err(VaultError::KeyFileShape { path: path.to_owned() });
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = metadata.permissions().mode() & 0o7777;
            if mode & 0o077 != 0 {
                return Err(VaultError::KeyFilePermissions { path: path.to_owned(), mode });
            }
        }
        let mut content = Zeroizing::new(Vec::with_capacity(128));
        file.take(MAX_KEK_FILE_BYTES + 1).read_to_end(&mut content).map_err(io_error)?;
        if content.len() as u64 > MAX_KEK_FILE_BYTES {
            return Err(VaultError::KeyFileShape { path: path.to_owned() });
        }
        let source_name = path.display().to_string();
        let text =
            std::str::from_utf8(&content).map_err(|_| VaultError::BadKeyFormat { source_name: source_name.clone() })?;
        Self::parse(text, &source_name)
    }

    /// The first 8 hex characters of SHA-256("rampart-kek-id" || key): names the key in
    /// sealed texts and logs without revealing it.
    pub fn key_id(&self) -> &str {
        &self.id
    }

    fn aead_key(&self) -> Result<LessSafeKey, VaultError> {
        // Only fails for a wrong key length, which the type rules out.
        UnboundKey::new(&AES_256_GCM, &self.key).map(LessSafeKey::new).map_err(|_| VaultError::Malformed)
    }
}

impl Drop for Kek {
    fn drop(&mut self) {
        self.key.zeroize();
    }
}

impl std::fmt::Debug for Kek {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Kek(id={}, <redacted>)", self.id)
    }
}

fn key_id_of(key: &[u8; KEK_BYTES]) -> String {
    let mut context = digest::Context::new(&digest::SHA256);
    context.update(KEK_ID_CONTEXT);
    context.update(key);
    let hash = context.finish();
    hex::encode(&hash.as_ref()[..KEK_ID_CHARS / 2])
}

fn full_aad(kek_id: &str, aad: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(AAD_CONTEXT.len() + kek_id.len() + 1 + aad.len());
    out.extend_from_slice(AAD_CONTEXT);
    out.extend_from_slice(kek_id.as_bytes());
    out.push(0);
    out.extend_from_slice(aad);
    out
}

/// A sealed credential: safe to store and to print (it holds only ciphertext).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sealed {
    kek_id: String,
    /// nonce || ciphertext || tag
    blob: Vec<u8>,
}

impl Sealed {
    /// The id of the KEK that sealed it.
    pub fn kek_id(&self) -> &str {
        &self.kek_id
    }

    /// Parses the stored text form strictly (version, lowercase 8-hex KEK id, unpadded
    /// base64url of at least a nonce and a tag).
    pub fn parse(text: &str) -> Result<Self, VaultError> {
        let mut parts = text.split('.');
        let (Some(version), Some(kek_id), Some(body), None) = (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(VaultError::Malformed);
        };
        if version != SEALED_VERSION
            || kek_id.len() != KEK_ID_CHARS
            || !kek_id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        {
            return Err(VaultError::Malformed);
        }
        let blob = URL_SAFE_NO_PAD.decode(body).map_err(|_| VaultError::Malformed)?;
        if blob.len() < NONCE_LEN + TAG_LEN {
            return Err(VaultError::Malformed);
        }
        Ok(Self { kek_id: kek_id.to_owned(), blob })
    }
}

impl std::fmt::Display for Sealed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{SEALED_VERSION}.{}.{}", self.kek_id, URL_SAFE_NO_PAD.encode(&self.blob))
    }
}

/// Encrypts `plaintext` under `kek` with AES-256-GCM and a fresh random nonce,
/// authenticating `aad` (pass the credential's name). Store `sealed.to_string()`.
pub fn seal(kek: &Kek, plaintext: &[u8], aad: &[u8]) -> Result<Sealed, VaultError> {
    let mut nonce = [0u8; NONCE_LEN];
    SystemRandom::new().fill(&mut nonce).map_err(|_| VaultError::Rng)?;
    // Sized for the tag up front, so the plaintext copy is never reallocated (and left
    // behind in freed memory) when the tag is appended.
    let mut in_out = Zeroizing::new(Vec::with_capacity(plaintext.len() + TAG_LEN));
    in_out.extend_from_slice(plaintext);
    kek.aead_key()?
        .seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(full_aad(kek.key_id(), aad)),
            &mut *in_out,
        )
        .map_err(|_| VaultError::Malformed)?;
    let mut blob = Vec::with_capacity(NONCE_LEN + in_out.len());
    blob.extend_from_slice(&nonce);
    blob.extend_from_slice(&in_out);
    Ok(Sealed { kek_id: kek.key_id().to_owned(), blob })
}

/// Decrypts a sealed text made by [`seal`] with the same `kek` and `aad`. Fails on a
/// different KEK, on any change to the text, on truncation, and on different `aad`. The
/// plaintext is wiped when the returned buffer drops.
pub fn open(kek: &Kek, sealed_text: &str, aad: &[u8]) -> Result<Zeroizing<Vec<u8>>, VaultError> {
    let sealed = Sealed::parse(sealed_text)?;
    open_sealed(kek, &sealed, aad)
}

fn open_sealed(kek: &Kek, sealed: &Sealed, aad: &[u8]) -> Result<Zeroizing<Vec<u8>>, VaultError> {
    if sealed.kek_id != kek.key_id() {
        return Err(VaultError::WrongKek { found: sealed.kek_id.clone(), expected: kek.key_id().to_owned() });
    }
    let (nonce, ciphertext) = sealed.blob.split_at(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| VaultError::Malformed)?;
    let mut in_out = Zeroizing::new(ciphertext.to_vec());
    let length = kek
        .aead_key()?
        .open_in_place(nonce, Aad::from(full_aad(&sealed.kek_id, aad)), in_out.as_mut_slice())
        .map_err(|_| VaultError::Unauthentic)?
        .len();
    in_out.truncate(length);
    Ok(in_out)
}

/// Opens `sealed_text` under `old_kek` and seals the plaintext again under `new_kek`
/// with the same `aad` (KEK rotation: rewrap every row whose [`Sealed::kek_id`] is the
/// old key's id).
pub fn rewrap(old_kek: &Kek, new_kek: &Kek, sealed_text: &str, aad: &[u8]) -> Result<Sealed, VaultError> {
    let plaintext = open(old_kek, sealed_text, aad)?;
    seal(new_kek, &plaintext, aad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_keys_depend_on_the_secret_only() {
        let a = Kek::derive_from_secret(b"secret-one-secret-one-secret-one");
        let b = Kek::derive_from_secret(b"secret-one-secret-one-secret-one");
        let c = Kek::derive_from_secret(b"secret-two-secret-two-secret-two");
        assert_eq!(a.key_id(), b.key_id());
        assert_ne!(a.key_id(), c.key_id());
        let sealed = seal(&a, b"sk-x", b"provider:p").unwrap().to_string();
        assert_eq!(&*open(&b, &sealed, b"provider:p").unwrap(), b"sk-x");
        assert!(open(&c, &sealed, b"provider:p").is_err());
    }

    fn kek(byte: u8) -> Kek {
        Kek::from_bytes([byte; KEK_BYTES])
    }

    const SECRET: &[u8] = b"sk-live-0123456789abcdefSECRETVALUE";

    #[test]
    fn round_trip_and_format() {
        let k = kek(1);
        let sealed = seal(&k, SECRET, b"provider:openai").unwrap();
        let text = sealed.to_string();
        let parts: Vec<&str> = text.split('.').collect();
        assert_eq!(parts.len(), 3);
        assert_eq!(parts[0], "v1");
        assert_eq!(parts[1], k.key_id());
        assert_eq!(Sealed::parse(&text).unwrap(), sealed);
        assert_eq!(open(&k, &text, b"provider:openai").unwrap().as_slice(), SECRET);
        // Empty plaintext and empty AAD work too.
        let empty = seal(&k, b"", b"").unwrap().to_string();
        assert_eq!(open(&k, &empty, b"").unwrap().len(), 0);
    }

    #[test]
    fn ciphertext_is_fresh_and_hides_plaintext() {
        let k = kek(2);
        let a = seal(&k, SECRET, b"provider:openai").unwrap();
        let b = seal(&k, SECRET, b"provider:openai").unwrap();
        assert_ne!(a, b);
        assert_ne!(a.blob[..NONCE_LEN], b.blob[..NONCE_LEN], "nonces must differ");
        for sealed in [&a, &b] {
            let text = sealed.to_string();
            assert!(!text.contains("sk-live"));
            assert!(!text.contains(&URL_SAFE_NO_PAD.encode(SECRET)));
            assert!(!sealed.blob.windows(8).any(|w| SECRET.windows(8).any(|s| s == w)));
        }
        assert!(format!("{a:?}").contains(k.key_id()));
    }

    #[test]
    fn every_single_bit_flip_is_rejected() {
        let k = kek(3);
        let sealed = seal(&k, SECRET, b"provider:openai").unwrap();
        // Flip each bit of the binary body.
        for index in 0..sealed.blob.len() {
            for bit in 0..8 {
                let mut tampered = sealed.clone();
                tampered.blob[index] ^= 1 << bit;
                let result = open(&k, &tampered.to_string(), b"provider:openai");
                assert!(matches!(result, Err(VaultError::Unauthentic)), "byte {index} bit {bit}");
            }
        }
        // Flip each bit of the text form (skipping flips that leave UTF-8).
        let text = sealed.to_string();
        for index in 0..text.len() {
            for bit in 0..8 {
                let mut bytes = text.as_bytes().to_vec();
                bytes[index] ^= 1 << bit;
                let Ok(tampered) = String::from_utf8(bytes) else { continue };
                assert!(open(&k, &tampered, b"provider:openai").is_err(), "char {index} bit {bit}: {tampered}");
            }
        }
    }

    #[test]
    fn truncation_and_extension_are_rejected() {
        let k = kek(4);
        let text = seal(&k, SECRET, b"n").unwrap().to_string();
        for cut in 1..text.len() {
            assert!(open(&k, &text[..cut], b"n").is_err(), "cut {cut}");
        }
        assert!(open(&k, &format!("{text}A"), b"n").is_err());
        assert!(open(&k, &format!("{text}."), b"n").is_err());
        assert!(open(&k, &format!("{text}="), b"n").is_err());
        let mut sealed = Sealed::parse(&text).unwrap();
        sealed.blob.push(0);
        assert!(matches!(open(&k, &sealed.to_string(), b"n"), Err(VaultError::Unauthentic)));
        sealed.blob.truncate(NONCE_LEN + TAG_LEN - 1);
        assert!(matches!(open(&k, &sealed.to_string(), b"n"), Err(VaultError::Malformed)));
        for bad in [
            "",
            "v1",
            "v1..",
            "v2.00000000.AAAA",
            "V1.00000000.AAAA",
            "v1.0000000G.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        ] {
            assert!(matches!(open(&k, bad, b"n"), Err(VaultError::Malformed)), "{bad}");
        }
    }

    #[test]
    fn wrong_aad_is_rejected() {
        let k = kek(5);
        let text = seal(&k, SECRET, b"provider:openai").unwrap().to_string();
        for aad in [&b"provider:anthropic"[..], b"", b"provider:openai\0", b"provider:opena", b"PROVIDER:OPENAI"] {
            assert!(matches!(open(&k, &text, aad), Err(VaultError::Unauthentic)));
        }
    }

    #[test]
    fn wrong_kek_is_rejected() {
        let old = kek(6);
        let new = kek(7);
        let text = seal(&old, SECRET, b"a").unwrap().to_string();
        let error = open(&new, &text, b"a").unwrap_err();
        assert!(
            matches!(&error, VaultError::WrongKek { found, expected } if found == old.key_id() && expected == new.key_id())
        );
        // Relabelling the ciphertext with the other KEK's id does not help.
        let relabelled = text.replacen(old.key_id(), new.key_id(), 1);
        assert!(matches!(open(&new, &relabelled, b"a"), Err(VaultError::Unauthentic)));
        // Nor does relabelling it with the right id but using the wrong key.
        let mut sealed = Sealed::parse(&text).unwrap();
        sealed.kek_id = new.key_id().to_owned();
        assert!(matches!(open(&new, &sealed.to_string(), b"a"), Err(VaultError::Unauthentic)));
    }

    #[test]
    fn rewrap_rotates() {
        let old = kek(8);
        let new = kek(9);
        let text = seal(&old, SECRET, b"provider:openai").unwrap().to_string();
        let rewrapped = rewrap(&old, &new, &text, b"provider:openai").unwrap();
        assert_eq!(rewrapped.kek_id(), new.key_id());
        let rewrapped = rewrapped.to_string();
        assert_eq!(open(&new, &rewrapped, b"provider:openai").unwrap().as_slice(), SECRET);
        assert!(open(&old, &rewrapped, b"provider:openai").is_err());
        assert!(rewrap(&old, &new, &text, b"provider:other").is_err());
        assert!(rewrap(&new, &old, &text, b"provider:openai").is_err());
    }

    #[test]
    fn key_id_is_derived_and_stable() {
        let a = kek(1);
        assert_eq!(a.key_id().len(), KEK_ID_CHARS);
        assert_eq!(a.key_id(), kek(1).key_id());
        assert_ne!(a.key_id(), kek(2).key_id());
        let mut expected = digest::Context::new(&digest::SHA256);
        expected.update(b"rampart-kek-id");
        expected.update(&[1u8; 32]);
        assert_eq!(a.key_id(), &hex::encode(expected.finish().as_ref())[..8]);
        // Not simply a hash of the key alone.
        assert_ne!(a.key_id(), &hex::encode(digest::digest(&digest::SHA256, &[1u8; 32]).as_ref())[..8]);
    }

    #[test]
    fn parse_accepts_hex_and_all_base64_forms() {
        let raw: [u8; 32] = std::array::from_fn(|i| (i as u8).wrapping_mul(37).wrapping_add(251));
        let expected = Kek::from_bytes(raw);
        for text in [
            hex::encode(raw),
            hex::encode_upper(raw),
            STANDARD.encode(raw),
            STANDARD_NO_PAD.encode(raw),
            URL_SAFE.encode(raw),
            URL_SAFE_NO_PAD.encode(raw),
            format!("  {}\n", STANDARD.encode(raw)),
        ] {
            let parsed = Kek::parse(&text, "TEST").unwrap();
            assert_eq!(parsed.key_id(), expected.key_id(), "{text}");
            assert_eq!(parsed.key, raw);
        }
        for bad in [
            String::new(),
            hex::encode(&raw[..31]),
            format!("{}00", hex::encode(raw)),
            STANDARD.encode(&raw[..31]),
            STANDARD.encode([0u8; 33]),
            "not a key at all".to_owned(),
        ] {
            let error = Kek::parse(&bad, "RAMPART_KEK").unwrap_err();
            assert!(matches!(&error, VaultError::BadKeyFormat { source_name } if source_name == "RAMPART_KEK"));
        }
    }

    #[test]
    fn debug_and_errors_never_show_key_material() {
        let raw = [0xABu8; 32];
        let k = Kek::from_bytes(raw);
        let debug = format!("{k:?}");
        assert!(debug.contains("<redacted>"));
        assert!(!debug.to_lowercase().contains("abab"));
        let text = hex::encode([0x5Au8; 31]);
        let error = Kek::parse(&text, "RAMPART_KEK").unwrap_err();
        assert!(!error.to_string().contains("5a5a"));
        assert!(!format!("{error:?}").contains("5a5a"));
    }

    #[test]
    fn env_takes_precedence_then_file() {
        let raw = [0x11u8; 32];
        let expected = Kek::from_bytes(raw).key_id().to_owned();
        // A variable name no other test uses; set_var is not used (unsafe in edition 2024),
        // so only the unset and file paths are exercised with real environment state.
        let var = "RAMPART_IDENTITY_TEST_KEK_UNSET_7F3A";
        assert!(matches!(Kek::from_env_or_file(var, None), Err(VaultError::NotConfigured { .. })));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kek");
        write_with_mode(&path, &format!("{}\n", hex::encode(raw)), 0o600);
        assert_eq!(Kek::from_env_or_file(var, Some(&path)).unwrap().key_id(), expected);
        // PATH is always set and is not a key: the variable wins over the file and fails.
        let error = Kek::from_env_or_file("PATH", Some(&path)).unwrap_err();
        assert!(matches!(&error, VaultError::BadKeyFormat { source_name } if source_name == "PATH"));
    }

    #[cfg(unix)]
    fn write_with_mode(path: &Path, content: &str, mode: u32) {
        use std::os::unix::fs::PermissionsExt;
        std::fs::write(path, content).unwrap();
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    #[cfg(not(unix))]
    fn write_with_mode(path: &Path, content: &str, _mode: u32) {
        std::fs::write(path, content).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn key_file_permissions_are_enforced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kek");
        let content = format!("{}\n", URL_SAFE_NO_PAD.encode([0x22u8; 32]));
        for mode in [0o644, 0o640, 0o604, 0o660, 0o602, 0o610, 0o601] {
            write_with_mode(&path, &content, mode);
            let error = Kek::from_file(&path).unwrap_err();
            assert!(matches!(error, VaultError::KeyFilePermissions { mode: m, .. } if m == mode), "{mode:o}");
            let message = error.to_string();
            assert!(message.contains("chmod 600") && message.contains(&format!("{mode:04o}")), "{message}");
            assert!(!message.contains("IiIi"), "{message}");
        }
        for mode in [0o600, 0o400] {
            write_with_mode(&path, &content, mode);
            assert!(Kek::from_file(&path).is_ok(), "{mode:o}");
        }
        // A directory, a huge file, a missing file and garbage are refused clearly.
        assert!(matches!(
            Kek::from_file(dir.path()),
            Err(VaultError::KeyFileShape { .. }) | Err(VaultError::KeyFilePermissions { .. })
        ));
        let huge = dir.path().join("huge");
        write_with_mode(&huge, &"A".repeat(4096), 0o600);
        assert!(matches!(Kek::from_file(&huge), Err(VaultError::KeyFileShape { .. })));
        assert!(matches!(Kek::from_file(&dir.path().join("missing")), Err(VaultError::KeyFile { .. })));
        let garbage = dir.path().join("garbage");
        write_with_mode(&garbage, "hello", 0o600);
        assert!(matches!(Kek::from_file(&garbage), Err(VaultError::BadKeyFormat { .. })));
    }
}
