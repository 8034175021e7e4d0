//! Admin second factor: RFC 6238 time-based one-time passwords (HMAC-SHA-1, 6 digits,
//! 30 second steps, as every authenticator app expects), the secret, its RFC 4648 base32
//! form, the `otpauth://` enrolment URI, and replay-protected verification.
//!
//! [`verify`] accepts the code of the current step and of one step either side (clock
//! skew), compares in constant time, and returns the step it matched only when that step
//! is strictly later than the last one the caller recorded for the user. The caller
//! stores the returned step with the user (for example `admin_users.totp_last_step`) and
//! passes it back next time, so an intercepted code cannot be replayed, not even within
//! its own 30 seconds. The secret itself should be stored sealed with
//! [`crate::vault::seal`].

use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, Zeroizing};

/// Digits in a code.
pub const DIGITS: u32 = 6;
/// Seconds per time step.
pub const STEP_SECONDS: i64 = 30;
/// Steps accepted either side of the current one.
pub const SKEW_STEPS: i64 = 1;
/// Bytes of a secret (160 bits, RFC 4226's recommendation for HMAC-SHA-1).
pub const SECRET_BYTES: usize = 20;
/// Base32 characters of a secret (160 bits / 5, no padding needed).
pub const SECRET_BASE32_CHARS: usize = 32;

const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// Why a TOTP secret could not be made or read. Never contains the secret.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum TotpError {
    /// The OS random number generator failed.
    #[error("the OS random number generator failed")]
    Rng,
    /// The text is not the base32 form of a 20-byte secret.
    #[error("not a base32 TOTP secret of {} characters", SECRET_BASE32_CHARS)]
    BadBase32,
}

/// A TOTP shared secret: 20 bytes, wiped from memory on drop, never printed.
pub struct TotpSecret([u8; SECRET_BYTES]);

impl TotpSecret {
    /// A fresh secret from the OS CSPRNG.
    pub fn generate() -> Result<Self, TotpError> {
        let mut bytes = [0u8; SECRET_BYTES];
        SystemRandom::new().fill(&mut bytes).map_err(|_| TotpError::Rng)?;
        Ok(Self(bytes))
    }

    /// Wraps raw secret bytes.
    pub fn from_bytes(bytes: [u8; SECRET_BYTES]) -> Self {
        Self(bytes)
    }

    /// The raw secret bytes (for sealing).
    pub fn as_bytes(&self) -> &[u8; SECRET_BYTES] {
        &self.0
    }

    /// RFC 4648 base32, uppercase, without padding (32 characters): the form shown to the
    /// user for manual entry and stored (sealed).
    pub fn to_base32(&self) -> Zeroizing<String> {
        Zeroizing::new(base32_encode(&self.0))
    }

    /// Parses [`TotpSecret::to_base32`] output. Case-insensitive; padding, separators
    /// and any length other than 32 characters are rejected.
    pub fn from_base32(text: &str) -> Result<Self, TotpError> {
        let decoded = Zeroizing::new(base32_decode(text).ok_or(TotpError::BadBase32)?);
        let bytes: [u8; SECRET_BYTES] = decoded.as_slice().try_into().map_err(|_| TotpError::BadBase32)?;
        Ok(Self(bytes))
    }

    /// The `otpauth://totp/` URI for authenticator apps (usually shown as a QR code):
    /// label `issuer:account`, with both parts percent-encoded, and the secret, issuer,
    /// algorithm, digits and period as parameters. It contains the secret.
    pub fn otpauth_uri(&self, issuer: &str, account: &str) -> Zeroizing<String> {
        let issuer = percent_encode(issuer);
        let account = percent_encode(account);
        let secret = self.to_base32();
        Zeroizing::new(format!(
            "otpauth://totp/{issuer}:{account}?secret={}&issuer={issuer}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECONDS}",
            secret.as_str()
        ))
    }
}

impl Drop for TotpSecret {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl std::fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpSecret(<redacted>)")
    }
}

/// The time step containing `now_unix` (floor division, so negative times work too).
pub fn step_at(now_unix: i64) -> i64 {
    now_unix.div_euclid(STEP_SECONDS)
}

/// Checks a user-entered `code` at `now_unix`. Only exactly six ASCII digits are
/// considered; steps `now - 1`, `now` and `now + 1` are tried, all in constant time.
/// Returns the matched step when it is strictly greater than `last_used_step`, else
/// `None` (wrong code, or a replay). Store the returned step and pass it next time.
pub fn verify(secret: &TotpSecret, code: &str, now_unix: i64, last_used_step: Option<i64>) -> Option<i64> {
    let code = code.as_bytes();
    if code.len() != DIGITS as usize || !code.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let current = step_at(now_unix);
    let mut matched: Option<i64> = None;
    // Every candidate is computed and compared; no early exit on a match.
    for step in current - SKEW_STEPS..=current + SKEW_STEPS {
        let Ok(counter) = u64::try_from(step) else {
            continue;
        };
        let expected = format_code(hotp(&secret.0, counter, DIGITS), DIGITS);
        let equal: bool = expected.as_bytes().ct_eq(code).into();
        let fresh = last_used_step.is_none_or(|last| step > last);
        if equal && fresh {
            matched = Some(step);
        }
    }
    matched
}

/// The code an authenticator app shows at `now_unix` (the step containing it), for
/// tests and enrolment checks. It is a credential: never log it.
pub fn code_at(secret: &TotpSecret, now_unix: i64) -> Zeroizing<String> {
    let counter = u64::try_from(step_at(now_unix)).unwrap_or(0);
    format_code(hotp(&secret.0, counter, DIGITS), DIGITS)
}

/// RFC 4226 HOTP with HMAC-SHA-1: dynamic truncation, then the low `digits` decimal
/// digits (`digits` at most 9).
fn hotp(key: &[u8], counter: u64, digits: u32) -> u32 {
    let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, key);
    let tag = hmac::sign(&key, &counter.to_be_bytes());
    let mac = tag.as_ref();
    let offset = usize::from(mac[mac.len() - 1] & 0x0f);
    let binary = u32::from_be_bytes([mac[offset] & 0x7f, mac[offset + 1], mac[offset + 2], mac[offset + 3]]);
    binary % 10u32.pow(digits.min(9))
}

fn format_code(value: u32, digits: u32) -> Zeroizing<String> {
    Zeroizing::new(format!("{value:0width$}", width = digits as usize))
}

fn base32_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let mut buffer: u32 = 0;
    let mut bits = 0u32;
    for &byte in bytes {
        buffer = (buffer << 8) | u32::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(BASE32[((buffer >> bits) & 31) as usize]));
        }
        buffer &= (1 << bits) - 1;
    }
    if bits > 0 {
        out.push(char::from(BASE32[((buffer << (5 - bits)) & 31) as usize]));
    }
    buffer.zeroize();
    out
}

/// Decodes unpadded RFC 4648 base32 (case-insensitive). Rejects padding, foreign
/// characters, impossible lengths and non-zero trailing bits (non-canonical input).
fn base32_decode(text: &str) -> Option<Vec<u8>> {
    // Lengths mod 8 that unpadded base32 can have: 0, 2, 4, 5, 7.
    if matches!(text.len() % 8, 1 | 3 | 6) {
        return None;
    }
    let mut out = Vec::with_capacity(text.len() * 5 / 8);
    let mut buffer: u32 = 0;
    let mut bits = 0u32;
    for byte in text.bytes() {
        let value = match byte.to_ascii_uppercase() {
            c @ b'A'..=b'Z' => c - b'A',
            c @ b'2'..=b'7' => c - b'2' + 26,
            _ => {
                out.zeroize();
                return None;
            }
        };
        buffer = (buffer << 5) | u32::from(value);
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    let canonical = buffer == 0;
    buffer.zeroize();
    if !canonical {
        out.zeroize();
        return None;
    }
    Some(out)
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const RFC_SECRET: &[u8; 20] = b"12345678901234567890";

    /// RFC 6238 Appendix B, SHA-1 column: (time, 8-digit TOTP).
    const RFC_VECTORS: [(i64, u32); 6] = [
        (59, 94287082),
        (1111111109, 7081804),
        (1111111111, 14050471),
        (1234567890, 89005924),
        (2000000000, 69279037),
        (20000000000, 65353130),
    ];

    fn rfc_secret() -> TotpSecret {
        TotpSecret::from_bytes(*RFC_SECRET)
    }

    fn code_at(secret: &TotpSecret, time: i64) -> String {
        let code = super::code_at(secret, time).to_string();
        assert_eq!(code, format_code(hotp(&secret.0, step_at(time) as u64, DIGITS), DIGITS).as_str());
        code
    }

    #[test]
    fn rfc6238_appendix_b_sha1_vectors() {
        for (time, expected) in RFC_VECTORS {
            let counter = u64::try_from(step_at(time)).unwrap();
            assert_eq!(hotp(RFC_SECRET, counter, 8), expected, "t={time}");
            assert_eq!(hotp(RFC_SECRET, counter, 6), expected % 1_000_000, "t={time}");
        }
        // The RFC lists T as hex for a couple of rows; check the step arithmetic too.
        assert_eq!(step_at(1111111109), 0x23523EC);
        assert_eq!(step_at(20000000000), 0x27BC86AA);
    }

    #[test]
    fn rfc4226_appendix_d_hotp_vectors() {
        let expected = [755224, 287082, 359152, 969429, 338314, 254676, 287922, 162583, 399871, 520489];
        for (counter, value) in expected.into_iter().enumerate() {
            assert_eq!(hotp(RFC_SECRET, counter as u64, 6), value);
        }
    }

    #[test]
    fn verify_accepts_rfc_codes_as_six_digits() {
        let secret = rfc_secret();
        for (time, eight) in RFC_VECTORS {
            let code = format!("{:06}", eight % 1_000_000);
            assert_eq!(verify(&secret, &code, time, None), Some(step_at(time)), "t={time}");
        }
        // 59 -> 287082 (leading zeros kept for 1111111109 -> 081804).
        assert_eq!(verify(&secret, "081804", 1111111109, None), Some(step_at(1111111109)));
        assert_eq!(verify(&secret, "81804", 1111111109, None), None);
        assert_eq!(verify(&secret, "94287082", 59, None), None, "8 digits are not accepted");
    }

    #[test]
    fn skew_of_one_step_each_way_only() {
        let secret = rfc_secret();
        let now = 1_700_000_000;
        let step = step_at(now);
        let previous = code_at(&secret, now - STEP_SECONDS);
        let next = code_at(&secret, now + STEP_SECONDS);
        let two_back = code_at(&secret, now - 2 * STEP_SECONDS);
        let two_ahead = code_at(&secret, now + 2 * STEP_SECONDS);
        assert_eq!(verify(&secret, &previous, now, None), Some(step - 1));
        assert_eq!(verify(&secret, &next, now, None), Some(step + 1));
        assert_eq!(verify(&secret, &two_back, now, None), None);
        assert_eq!(verify(&secret, &two_ahead, now, None), None);
    }

    #[test]
    fn replay_is_rejected() {
        let secret = rfc_secret();
        let now = 1_700_000_000;
        let code = code_at(&secret, now);
        let used = verify(&secret, &code, now, None).unwrap();
        // The same code again, same step or a few seconds later: rejected.
        assert_eq!(verify(&secret, &code, now, Some(used)), None);
        assert_eq!(verify(&secret, &code, now + 5, Some(used)), None);
        // An older code (previous step) after a newer one was used: rejected.
        let previous = code_at(&secret, now - STEP_SECONDS);
        assert_eq!(verify(&secret, &previous, now, Some(used)), None);
        // The next step's code is fresh.
        let next = code_at(&secret, now + STEP_SECONDS);
        assert_eq!(verify(&secret, &next, now + STEP_SECONDS, Some(used)), Some(used + 1));
        // Having used a future step (skew), the current step's code is stale.
        let ahead = verify(&secret, &next, now, None).unwrap();
        assert_eq!(verify(&secret, &code, now, Some(ahead)), None);
    }

    #[test]
    fn wrong_and_malformed_codes_are_rejected() {
        let secret = rfc_secret();
        let now = 1_700_000_000;
        let good = code_at(&secret, now);
        let wrong = format!("{:06}", (good.parse::<u32>().unwrap() + 1) % 1_000_000);
        assert_eq!(verify(&secret, &wrong, now, None), None);
        for bad in [
            String::new(),
            "12345".to_owned(),
            "1234567".to_owned(),
            format!(" {good}"),
            format!("{good} "),
            format!("{}-{}", &good[..3], &good[3..]),
            "12a456".to_owned(),
            "+12345".to_owned(),
            "-12345".to_owned(),
            // Arabic-Indic, full-width and Devanagari digits are digits to Unicode, not to us.
            "١٢٣٤٥٦".to_owned(),
            "１２３４５６".to_owned(),
            "१२३४५६".to_owned(),
        ] {
            assert_eq!(verify(&secret, &bad, now, None), None, "{bad:?}");
        }
        // The right digits written in full-width form are still rejected.
        let fullwidth: String = good.chars().map(|c| char::from_u32(c as u32 - '0' as u32 + 0xFF10).unwrap()).collect();
        assert_eq!(verify(&secret, &fullwidth, now, None), None);
        // A different secret's code does not verify.
        let other = TotpSecret::from_bytes([9u8; SECRET_BYTES]);
        assert_eq!(verify(&other, &good, now, None), None);
    }

    #[test]
    fn near_epoch_and_extreme_times_do_not_panic() {
        let secret = rfc_secret();
        let code = code_at(&secret, 0);
        assert_eq!(verify(&secret, &code, 0, None), Some(0));
        assert_eq!(verify(&secret, &code, 0, Some(0)), None);
        // Before the epoch every candidate step is negative: nothing can match.
        let negative = format_code(hotp(&secret.0, u64::MAX - 3, DIGITS), DIGITS);
        assert_eq!(verify(&secret, &negative, -100, None), None);
        let _ = verify(&secret, "123456", i64::MAX, None);
        let _ = verify(&secret, "123456", i64::MIN, None);
    }

    #[test]
    fn base32_round_trip_and_rfc4648_vectors() {
        assert_eq!(base32_encode(b""), "");
        assert_eq!(base32_encode(b"f"), "MY");
        assert_eq!(base32_encode(b"fo"), "MZXQ");
        assert_eq!(base32_encode(b"foo"), "MZXW6");
        assert_eq!(base32_encode(b"foob"), "MZXW6YQ");
        assert_eq!(base32_encode(b"fooba"), "MZXW6YTB");
        assert_eq!(base32_encode(b"foobar"), "MZXW6YTBOI");
        for text in ["", "MY", "MZXQ", "MZXW6", "MZXW6YQ", "MZXW6YTB", "MZXW6YTBOI"] {
            assert_eq!(base32_encode(&base32_decode(text).unwrap()), text);
        }
        assert_eq!(rfc_secret().to_base32().as_str(), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
        let secret = TotpSecret::generate().unwrap();
        let text = secret.to_base32();
        assert_eq!(text.len(), SECRET_BASE32_CHARS);
        let back = TotpSecret::from_base32(&text).unwrap();
        assert_eq!(back.as_bytes(), secret.as_bytes());
        let lower = TotpSecret::from_base32(&text.to_ascii_lowercase()).unwrap();
        assert_eq!(lower.as_bytes(), secret.as_bytes());
        assert_ne!(TotpSecret::generate().unwrap().as_bytes(), secret.as_bytes());
    }

    #[test]
    fn base32_rejects_malformed() {
        for bad in [
            "MY======",
            "M",
            "MZX",
            "MZXW6Y",
            "MZ",   // 'Z' leaves a non-zero trailing bit
            "MZXR", // non-canonical spelling of "fo"
            "MZXW6!",
            "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJ1",
            "GEZDGNBV GY3TQOJQGEZDGNBVGY3TQOJQ",
            "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ\n",
        ] {
            assert!(base32_decode(bad).is_none(), "{bad}");
            assert_eq!(TotpSecret::from_base32(bad).err(), Some(TotpError::BadBase32), "{bad}");
        }
        // Right alphabet, wrong length for a secret.
        assert_eq!(TotpSecret::from_base32("MZXW6YTB").err(), Some(TotpError::BadBase32));
        assert_eq!(TotpSecret::from_base32("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ====").err(), Some(TotpError::BadBase32));
        assert_eq!(TotpSecret::from_base32("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGE").err(), Some(TotpError::BadBase32));
    }

    #[test]
    fn otpauth_uri_encodes_labels() {
        let uri = rfc_secret().otpauth_uri("Rampart Gateway", "alice@example.com");
        assert_eq!(
            uri.as_str(),
            "otpauth://totp/Rampart%20Gateway:alice%40example.com?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ\
             &issuer=Rampart%20Gateway&algorithm=SHA1&digits=6&period=30"
        );
        let tricky = rfc_secret().otpauth_uri("a:b&c=d?e/f#g", "ü ñ");
        assert!(tricky.starts_with("otpauth://totp/a%3Ab%26c%3Dd%3Fe%2Ff%23g:%C3%BC%20%C3%B1?secret="), "{}", *tricky);
        assert!(tricky.ends_with("&issuer=a%3Ab%26c%3Dd%3Fe%2Ff%23g&algorithm=SHA1&digits=6&period=30"));
    }

    #[test]
    fn debug_is_redacted() {
        let secret = rfc_secret();
        let debug = format!("{secret:?}");
        assert_eq!(debug, "TotpSecret(<redacted>)");
        assert!(!debug.contains("GEZDG"));
        assert!(!format!("{:?}", TotpError::BadBase32).contains("GEZ"));
    }
}
