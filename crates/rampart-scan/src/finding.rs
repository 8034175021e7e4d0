//! The result every detector produces: which rule matched where, never the matched
//! text itself (callers slice it from their own copy when they must, e.g. to redact).

use std::ops::Range;

use serde::Serialize;

/// Detector families.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Family {
    /// Personal data.
    Pii,
    /// Credentials and keys.
    Secrets,
    /// Prompt injection (direct or indirect).
    Injection,
    /// Jailbreaks.
    Jailbreak,
}

/// One detection.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// Detector family.
    #[serde(rename = "detector")]
    pub family: Family,
    /// Stable rule id, e.g. `pii.email` or `secrets.github.pat`.
    pub rule: &'static str,
    /// Coarse grouping within the family, e.g. `contact`, `financial`, `cloud`, `vcs`.
    pub category: &'static str,
    /// Entity type, e.g. `EMAIL_ADDRESS`, `CREDIT_CARD`, `US_SSN`, or the secret kind.
    pub entity: &'static str,
    /// Byte range in the scanned text (end exclusive), always on char boundaries.
    #[serde(skip)]
    pub span: Range<usize>,
    /// Confidence in [0, 1].
    pub score: f32,
}
