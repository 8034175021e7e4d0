//! Admin passwords: argon2id hashing into PHC strings, verification, a dummy verification
//! for unknown usernames, and the policy a new password must meet.
//!
//! Parameters are the OWASP minimum for argon2id ([`M_COST_KIB`] = 19456 KiB, [`T_COST`]
//! = 2, [`P_COST`] = 1) with a [`SALT_BYTES`]-byte salt from the OS CSPRNG and a
//! [`OUTPUT_BYTES`]-byte output. The PHC string carries its own parameters, so a hash made
//! under other parameters still verifies; [`needs_rehash`] tells the caller to re-hash on
//! the next successful login. Verification compares in constant time (argon2's own
//! `verify_password`), and a stored string that is malformed, not argon2id v19, or asks
//! for absurd costs simply fails to verify.
//!
//! Login flow: look the user up, then call [`verify_password`] when they exist and
//! [`dummy_verify`] when they do not, so both paths burn the same argon2 work and the
//! response time does not reveal which usernames exist.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use ring::rand::{SecureRandom, SystemRandom};

/// Argon2id memory cost in KiB (19 MiB, the OWASP minimum).
pub const M_COST_KIB: u32 = 19_456;
/// Argon2id passes over memory (OWASP minimum for 19 MiB).
pub const T_COST: u32 = 2;
/// Argon2id lanes.
pub const P_COST: u32 = 1;
/// Random salt bytes per hash.
pub const SALT_BYTES: usize = 16;
/// Hash output bytes.
pub const OUTPUT_BYTES: usize = 32;
/// Shortest new password accepted, in characters (Unicode scalar values).
pub const MIN_PASSWORD_CHARS: usize = 12;
/// Longest password accepted, in bytes (new or presented).
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// Ceilings on the parameters of a stored hash: a corrupted or hostile row must not make
/// a login burn unbounded memory or time.
const MAX_STORED_M_COST_KIB: u32 = 256 * 1024;
const MAX_STORED_T_COST: u32 = 16;
const MAX_STORED_P_COST: u32 = 8;
/// Shortest stored output accepted (a 4-byte output would be trivially collidable).
const MIN_STORED_OUTPUT_BYTES: usize = 16;

/// A PHC string of a random, discarded password under the current parameters, verified
/// against by [`dummy_verify`]. A test checks it still matches the constants above.
const DUMMY_PHC: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$WDBpyEPsUksiFgsNNv+xww$FZQkAIKHmrunStEC3p8xf+e27Vmwhow0aDqb9552mbI";

/// Why a password could not be accepted or hashed. Never contains the password.
#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    /// Fewer than [`MIN_PASSWORD_CHARS`] characters.
    #[error("password must be at least {} characters long", MIN_PASSWORD_CHARS)]
    TooShort,
    /// More than [`MAX_PASSWORD_BYTES`] bytes.
    #[error("password must be at most {} bytes long", MAX_PASSWORD_BYTES)]
    TooLong,
    /// The OS random number generator failed while drawing a salt.
    #[error("the OS random number generator failed")]
    Rng,
    /// Argon2 refused its inputs (should not happen with the fixed parameters).
    #[error("password hashing failed")]
    Hash,
}

/// Checks a new password against the policy: at least [`MIN_PASSWORD_CHARS`] characters
/// and at most [`MAX_PASSWORD_BYTES`] bytes. Call it before [`hash_password`] whenever a
/// password is set or changed.
pub fn validate_new_password(password: &str) -> Result<(), PasswordError> {
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(PasswordError::TooLong);
    }
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(PasswordError::TooShort);
    }
    Ok(())
}

fn hasher() -> Result<Argon2<'static>, PasswordError> {
    let params = Params::new(M_COST_KIB, T_COST, P_COST, Some(OUTPUT_BYTES)).map_err(|_| PasswordError::Hash)?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Hashes `password` with argon2id under the current parameters and a fresh random salt,
/// returning the PHC string to store (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`).
/// Does not apply the policy: see [`validate_new_password`].
pub fn hash_password(password: &str) -> Result<String, PasswordError> {
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(PasswordError::TooLong);
    }
    let mut salt = [0u8; SALT_BYTES];
    SystemRandom::new().fill(&mut salt).map_err(|_| PasswordError::Rng)?;
    let salt = SaltString::encode_b64(&salt).map_err(|_| PasswordError::Hash)?;
    let hash = hasher()?.hash_password(password.as_bytes(), &salt).map_err(|_| PasswordError::Hash)?;
    Ok(hash.to_string())
}

/// Parses a stored PHC string, accepting only argon2id v19 with bounded costs and a real
/// output.
fn parse_stored(phc: &str) -> Option<PasswordHash<'_>> {
    let parsed = PasswordHash::new(phc).ok()?;
    if parsed.algorithm != argon2::ARGON2ID_IDENT || parsed.version != Some(Version::V0x13.into()) {
        return None;
    }
    let params = Params::try_from(&parsed).ok()?;
    if params.m_cost() > MAX_STORED_M_COST_KIB
        || params.t_cost() > MAX_STORED_T_COST
        || params.p_cost() > MAX_STORED_P_COST
    {
        return None;
    }
    if parsed.hash.is_none_or(|out| out.len() < MIN_STORED_OUTPUT_BYTES) {
        return None;
    }
    Some(parsed)
}

/// True when `password` matches the stored PHC string `phc`. The comparison is constant
/// time. A malformed or unacceptable PHC string, or a password longer than
/// [`MAX_PASSWORD_BYTES`], gives `false`; this never panics.
pub fn verify_password(password: &str, phc: &str) -> bool {
    if password.len() > MAX_PASSWORD_BYTES {
        return false;
    }
    let Some(parsed) = parse_stored(phc) else {
        return false;
    };
    Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok()
}

/// Burns the same argon2 work as [`verify_password`] against a real hash, for a username
/// that does not exist, and returns `false`. Call it with the presented password.
pub fn dummy_verify(password: &str) -> bool {
    let _ = verify_password(password, DUMMY_PHC);
    false
}

/// True when `phc` was not made under the current algorithm and parameters (or cannot be
/// parsed): after a successful [`verify_password`], re-hash the password and store the new
/// string.
pub fn needs_rehash(phc: &str) -> bool {
    let Some(parsed) = parse_stored(phc) else {
        return true;
    };
    let Ok(params) = Params::try_from(&parsed) else {
        return true;
    };
    params.m_cost() != M_COST_KIB
        || params.t_cost() != T_COST
        || params.p_cost() != P_COST
        || parsed.hash.is_none_or(|out| out.len() != OUTPUT_BYTES)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_bounds() {
        assert!(matches!(validate_new_password(""), Err(PasswordError::TooShort)));
        assert!(matches!(validate_new_password("elevenchars"), Err(PasswordError::TooShort)));
        assert!(validate_new_password("twelve chars").is_ok());
        // Characters, not bytes: 11 two-byte characters are still too short.
        assert!(matches!(validate_new_password(&"é".repeat(11)), Err(PasswordError::TooShort)));
        assert!(validate_new_password(&"é".repeat(12)).is_ok());
        assert!(validate_new_password(&"a".repeat(MAX_PASSWORD_BYTES)).is_ok());
        assert!(matches!(validate_new_password(&"a".repeat(MAX_PASSWORD_BYTES + 1)), Err(PasswordError::TooLong)));
        // 513 two-byte characters = 1026 bytes.
        assert!(matches!(validate_new_password(&"é".repeat(513)), Err(PasswordError::TooLong)));
        let message = PasswordError::TooShort.to_string();
        assert!(message.contains("12"), "{message}");
    }

    #[test]
    fn hash_and_verify_round_trip() {
        let phc = hash_password("correct horse battery staple").unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(!phc.contains("correct horse"));
        assert!(verify_password("correct horse battery staple", &phc));
        assert!(!verify_password("correct horse battery staplE", &phc));
        assert!(!verify_password("", &phc));
        assert!(!needs_rehash(&phc));
        // Same password, fresh salt: different string.
        let again = hash_password("correct horse battery staple").unwrap();
        assert_ne!(phc, again);
    }

    #[test]
    fn malformed_or_unacceptable_phc_never_verifies() {
        let phc = hash_password("a reasonable password").unwrap();
        for bad in [
            String::new(),
            "not a phc string".to_owned(),
            "$argon2id$".to_owned(),
            phc.replace("$argon2id$", "$argon2i$"),
            phc.replace("$argon2id$", "$argon2d$"),
            phc.replace("v=19", "v=16"),
            phc.replace("m=19456", "m=4194304"),
            phc.replace("t=2", "t=1000"),
            phc[..phc.len() - 10].to_owned(),
            format!("{phc}$extra"),
            "$argon2id$v=19$m=19456,t=2,p=1$QQHGuVJeULNwY+Gt8nIGMw$AAAAAA".to_owned(),
        ] {
            assert!(!verify_password("a reasonable password", &bad), "{bad}");
            assert!(needs_rehash(&bad), "{bad}");
        }
        assert!(!verify_password(&"a".repeat(MAX_PASSWORD_BYTES + 1), &phc));
        assert!(matches!(hash_password(&"a".repeat(MAX_PASSWORD_BYTES + 1)), Err(PasswordError::TooLong)));
    }

    #[test]
    fn dummy_matches_current_parameters_and_is_false() {
        assert!(!needs_rehash(DUMMY_PHC), "DUMMY_PHC must be regenerated under the current parameters");
        assert!(!dummy_verify("anything at all"));
        assert!(!dummy_verify(""));
    }

    #[test]
    fn lower_costs_still_verify_but_need_rehash() {
        let params = Params::new(8, 1, 1, Some(OUTPUT_BYTES)).unwrap();
        let weak = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let salt = SaltString::encode_b64(&[7u8; SALT_BYTES]).unwrap();
        let phc = weak.hash_password(b"old parameters password", &salt).unwrap().to_string();
        assert!(verify_password("old parameters password", &phc));
        assert!(needs_rehash(&phc));
    }
}
