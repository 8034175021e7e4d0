//! rampart identity primitives: the cryptographic building blocks behind admin logins,
//! client single sign-on and provider credentials at rest.
//!
//! This crate owns:
//!
//! - [`password`]: admin password hashing (argon2id PHC strings), verification, the
//!   dummy verification that hides whether a username exists, and the new-password policy.
//! - [`totp`]: RFC 6238 time-based one-time passwords (SHA-1, 6 digits, 30 s), secrets,
//!   `otpauth://` enrolment URIs and replay-protected verification.
//! - [`jwt`]: OIDC/JWT bearer validation (RS256 and ES256 only), JWKS parsing, a JWKS
//!   cache with rate-limited refetching behind a fetcher trait, and mapping of claims to
//!   a team, role and policy.
//! - [`vault`]: the key-encryption key and AES-256-GCM sealing of provider credentials,
//!   with the credential's name bound as associated data, and KEK rotation.
//!
//! It does not own storage (callers persist PHC strings, TOTP secrets, last used TOTP
//! steps and sealed credentials wherever they like) and it does no HTTP: JWKS documents
//! come in through [`jwt::JwksFetcher`], implemented by the gateway with its own client.
//! It never logs a secret, and every type that holds one prints `<redacted>` in `Debug`.
//!
//! All cryptography except argon2 is `ring`'s, the crypto library the workspace already
//! builds for TLS.

pub mod jwt;
pub mod password;
pub mod totp;
pub mod vault;
