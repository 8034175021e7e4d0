//! rampart's detection engine: decides whether text is an attack and where the
//! sensitive data in it is, in microseconds, without IO, async or heavy models. Owns
//! normalization (views of a text with offset maps back to the original), the detector
//! families (prompt injection and jailbreak, PII, secrets), the full pipeline
//! ([`Scanner`]), their shared [`Finding`] type, redaction/pseudonymization of
//! findings with restoration, whole or streamed ([`redact`]), and validation of model
//! output, whole or streamed ([`guard`]). Does not own HTTP, storage or policy:
//! callers decide what a finding means for a request.
//!
//! Every detector is compiled once ([`Scanner::new`], or each family's `new`) and then
//! only borrows the text it scans.

mod finding;
pub mod guard;
pub mod normalize;
pub mod obfuscate;
mod pattern;
pub mod pii;
pub mod prompt;
pub mod redact;
mod scanner;
pub mod secrets;

pub use finding::{Family, Finding};
pub use scanner::{CharFinding, Report, Scanner, Verdict, char_findings, char_offset};
