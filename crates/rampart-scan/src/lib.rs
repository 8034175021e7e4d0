//! rampart's detection engine: decides whether text is an attack and where the
//! sensitive data in it is, in microseconds, without IO, async or allocation-heavy
//! models. Owns normalization (views of a text with offset maps back to the original),
//! the detector families (PII, secrets; injection and jailbreak to come), their
//! shared [`Finding`] type, and redaction/pseudonymization of findings ([`redact`]).
//! Does not own HTTP, storage or policy: callers decide what a finding means for a
//! request.
//!
//! Every detector is compiled once ([`pii::PiiDetector::new`],
//! [`secrets::SecretsDetector::new`]) and then only borrows the text it scans.

mod finding;
pub mod normalize;
pub mod pii;
pub mod redact;
pub mod secrets;

pub use finding::{Family, Finding};
