//! rampart storage, in SQLite (one file, the default) or PostgreSQL (many instances),
//! through one sqlx code path (`sqlx::Any`) so both behave the same.
//!
//! Owns:
//!
//! - virtual keys: generation and keyed hashing of every bearer secret ([`keys`]: keys,
//!   admin tokens, sessions, CSRF tokens), key scopes (models, endpoints
//!   ([`scope::EndpointScope`]), client networks ([`scope::ClientNetworks`]), expiry,
//!   policy, owner, team, role, metadata), resource limits ([`limits`]), rotation with a grace period, revocation;
//! - teams ([`store::teams`]);
//! - admin principals ([`store::admin`]): users with their lockout counters and TOTP
//!   replay guard, API tokens, login sessions with CSRF tokens;
//! - provider credentials at rest, sealed by the caller ([`store::credentials`]);
//! - the schema and its append-only migrations, input validation before any query
//!   ([`validate`]), and change announcements so gateways can cache safely: the
//!   SQLite epoch file ([`epoch`]) and PostgreSQL `LISTEN`/`NOTIFY`, behind one
//!   [`ChangeWatch`] ([`watch`]).
//!
//! Does not own: HTTP, caching policy, password hashing, TOTP codes or encryption
//! (callers hand over PHC strings and sealed text, opaque here), or deciding what a
//! principal may do beyond reporting its scope. Secrets are never stored: only their
//! HMAC-SHA-256 under a server secret, so a stolen database yields nothing usable
//! without that secret; types holding secrets print `<redacted>` in `Debug`.

pub mod epoch;
pub mod keys;
pub mod limits;
mod migrate;
pub mod scope;
pub mod store;
pub mod validate;
pub mod watch;

pub use keys::{KeyHash, KeyHasher, ModelScope, NewKey, PresentedKey, PresentedToken, TokenKind};
pub use limits::{KeyLimits, Priority};
pub use scope::{ClientNetworks, EndpointScope, Network};
pub use store::admin::{AdminRole, AdminTokenRecord, AdminUser, NewSession, SessionRecord};
pub use store::credentials::{ProviderCredentialInfo, SealedCredential};
pub use store::teams::Team;
pub use store::{KeyRecord, KeySpec, KeyStatus, Metadata, Store, StoreError, unix_now};
pub use watch::ChangeWatch;
