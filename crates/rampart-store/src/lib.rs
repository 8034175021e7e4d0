//! rampart storage: virtual keys, in SQLite (one file, the default) or PostgreSQL (many
//! instances), through one sqlx code path (`sqlx::Any`) so both behave the same.
//!
//! Owns: key generation and keyed hashing ([`keys`]), the schema and its migrations,
//! and the queries. Does not own: HTTP, caching policy, or deciding what a key may do
//! beyond reporting its scope. Keys are never stored: only their HMAC-SHA-256 under a
//! server secret, so a stolen database yields nothing usable without that secret.

pub mod epoch;
pub mod keys;
mod migrate;
mod store;

pub use keys::{KeyHash, KeyHasher, ModelScope, NewKey, PresentedKey};
pub use store::{KeyRecord, KeyStatus, Store, StoreError, unix_now};
