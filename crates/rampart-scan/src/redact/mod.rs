//! Redaction and pseudonymization of findings: owns the per-request [`Vault`] that
//! replaces sensitive spans with typed placeholders (`[EMAIL_1]`), the placeholder
//! labels, and restoration of placeholders in later text, whole ([`Vault::restore`])
//! or streamed in arbitrary chunks ([`Restorer`]). Does not own detection (the
//! detectors' [`crate::Finding`]s are its input) nor where texts come from (the gateway).
//!
//! ```
//! use rampart_scan::redact::{Policy, Vault};
//! use rampart_scan::pii::PiiDetector;
//!
//! let text = "Mail ana@example.com please";
//! let mut findings = Vec::new();
//! PiiDetector::new().scan(text, &mut findings);
//! let mut vault = Vault::new();
//! let masked = vault.mask(text, &findings, &Policy::default());
//! assert_eq!(masked.text, "Mail [EMAIL_1] please");
//! assert_eq!(vault.restore("Sent to [EMAIL_1]."), "Sent to ana@example.com.");
//! ```
//!
//! The placeholder contract: a placeholder is exactly `[`, a label of `A-Z`, `0-9`
//! and `_`, `_`, a decimal number from 1 without leading zeros, `]`. Only that exact
//! form restores: a model that drops the brackets, changes case or adds spaces gets
//! its text back unchanged (the user then sees the placeholder, never someone else's
//! data). Within one vault the same value always gets the same placeholder, numbers
//! count per label, and a text that already contained a literal `[EMAIL_1]` restores
//! it too (to that request's own value).
//!
//! Modes: [`Mode::Pseudonymize`] placeholders restore; [`Mode::Redact`] ones never do
//! and their values are never stored. The usual policy ([`Policy::default`]) is to
//! pseudonymize PII and redact secrets.

mod label;
mod restore;
#[cfg(test)]
mod tests;
mod vault;

use std::borrow::Cow;

pub use label::label_for;
pub use restore::Restorer;
pub use vault::{Limits, Vault};

use crate::Family;

/// What to do with one finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    /// Replace with a placeholder that [`Vault::restore`] turns back into the value.
    Pseudonymize,
    /// Replace with a placeholder that never restores; the value is not kept.
    Redact,
    /// Leave the text alone (e.g. injection findings, which are not data to hide).
    Keep,
}

/// A [`Mode`] per detector family, for [`Vault::mask`]. Use [`Vault::mask_with`] to
/// decide per entity, rule or score instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Personal data.
    pub pii: Mode,
    /// Credentials and keys.
    pub secrets: Mode,
    /// Prompt injection findings.
    pub injection: Mode,
    /// Jailbreak findings.
    pub jailbreak: Mode,
}

impl Default for Policy {
    /// Pseudonymize PII, redact secrets, keep injection and jailbreak text.
    fn default() -> Self {
        Self { pii: Mode::Pseudonymize, secrets: Mode::Redact, injection: Mode::Keep, jailbreak: Mode::Keep }
    }
}

impl Policy {
    /// The mode for a family.
    pub const fn mode(&self, family: Family) -> Mode {
        match family {
            Family::Pii => self.pii,
            Family::Secrets => self.secrets,
            Family::Injection => self.injection,
            Family::Jailbreak => self.jailbreak,
        }
    }
}

/// The result of masking one text. Counts are per placeholder written (overlapping
/// findings merged into one count once).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Masked<'t> {
    /// The masked text; borrowed when nothing was masked.
    pub text: Cow<'t, str>,
    /// Placeholders that restore.
    pub pseudonymized: u32,
    /// Placeholders that never restore, by the caller's choice (or because the value
    /// had been redacted before in this vault).
    pub redacted: u32,
    /// Pseudonymize requests that were redacted instead because the vault was full.
    pub degraded: u32,
    /// Findings whose span did not fit the text (empty, reversed, past the end).
    pub ignored: u32,
}
