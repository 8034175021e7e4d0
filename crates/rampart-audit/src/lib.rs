//! rampart's tamper-evident audit trail: storage and verification.
//!
//! * [`AuditRecord`]: one audited event (the schema users rely on).
//! * [`chain`]: the hash chain (`seq`, `prev_hash`, `hash`) and Ed25519 checkpoint
//!   signatures ([`AuditSigner`], [`AuditPublicKey`]).
//! * [`AuditStore`]: SQLite or PostgreSQL through one `sqlx::Any` code path; appends
//!   batches in one transaction, checkpoints, verifies, purges and queries.
//! * [`AuditLog`]: the non-blocking write path (a local write-ahead journal tailed
//!   by a writer task into the store; see its module docs for crash semantics).
//! * [`ocsf::to_ocsf`]: the OCSF "API Activity" (class 6003) mapping.

pub mod chain;
mod migrate;
pub mod ocsf;
mod record;
mod store;
mod verify;
mod writer;

pub use chain::{AuditPublicKey, AuditSigner, generate_signing_key};
pub use record::{AuditRecord, RecordKind, StoredRecord, Verdict};
pub use store::{AppendOutcome, AuditError, AuditStore, Checkpoint, ExportFormat, Page, QueryFilter};
pub use verify::{MAX_PROBLEMS, Problem, VerifyReport, Warning};
pub use writer::{AuditLog, AuditLogOptions, AuditLogStats, AuditUnavailable};

#[cfg(test)]
mod tests;
