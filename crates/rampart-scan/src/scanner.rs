//! The full default pipeline in one call: normalize once, then run every detector
//! family over the text and its views, and summarize the result as a [`Report`].

use serde::Serialize;

use crate::normalize::{Limits, normalize};
use crate::pii::PiiDetector;
use crate::prompt::{DEFAULT_THRESHOLD, PromptDetector, PromptScores};
use crate::secrets::SecretsDetector;
use crate::{Family, Finding};

/// Overall verdict of a scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Injection or jailbreak at or above the threshold.
    Attack,
    /// No attack, but PII or secrets were found.
    Sensitive,
    /// Nothing found.
    Clean,
}

/// Result of scanning one text.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Overall verdict.
    pub verdict: Verdict,
    /// Injection score in [0, 1].
    pub injection: f32,
    /// Jailbreak score in [0, 1].
    pub jailbreak: f32,
    /// Combined injection-or-jailbreak score.
    pub attack: f32,
    /// Findings of every family, ordered by start offset (byte spans).
    pub findings: Vec<Finding>,
}

impl Report {
    /// The prompt-attack scores.
    pub fn scores(&self) -> PromptScores {
        PromptScores { injection: self.injection, jailbreak: self.jailbreak }
    }
}

/// Every detector, compiled once; cheap to share across threads.
pub struct Scanner {
    limits: Limits,
    pii: PiiDetector,
    secrets: SecretsDetector,
    prompt: PromptDetector,
    threshold: f32,
}

impl std::fmt::Debug for Scanner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scanner").field("prompt", &self.prompt).field("threshold", &self.threshold).finish()
    }
}

impl Default for Scanner {
    fn default() -> Self {
        Self::new()
    }
}

impl Scanner {
    /// All detectors with their built-in rules and committed weights.
    pub fn new() -> Self {
        Self::with_prompt_detector(PromptDetector::new())
    }

    /// All built-in detectors, with a given prompt detector (e.g. retrained weights).
    pub fn with_prompt_detector(prompt: PromptDetector) -> Self {
        Self {
            limits: Limits::default(),
            pii: PiiDetector::new(),
            secrets: SecretsDetector::new(),
            prompt,
            threshold: DEFAULT_THRESHOLD,
        }
    }

    /// The prompt-attack detector.
    pub fn prompt(&self) -> &PromptDetector {
        &self.prompt
    }

    /// The PII detector.
    pub fn pii(&self) -> &PiiDetector {
        &self.pii
    }

    /// The secrets detector.
    pub fn secrets(&self) -> &SecretsDetector {
        &self.secrets
    }

    /// Scans `text` with every detector.
    pub fn scan(&self, text: &str) -> Report {
        let norm = normalize(text, &self.limits);
        let mut findings = Vec::new();
        let scores = self.prompt.scan(&norm, &mut findings);
        self.pii.scan(text, &mut findings);
        self.secrets.scan(text, &mut findings);
        findings.sort_by_key(|f| (f.span.start, f.span.end));
        let attack = scores.attack();
        let verdict = if attack >= self.threshold {
            Verdict::Attack
        } else if findings.iter().any(|f| matches!(f.family, Family::Pii | Family::Secrets)) {
            Verdict::Sensitive
        } else {
            Verdict::Clean
        };
        Report { verdict, injection: scores.injection, jailbreak: scores.jailbreak, attack, findings }
    }
}

/// Converts a byte offset of `text` to a character (Unicode scalar) offset.
pub fn char_offset(text: &str, byte: usize) -> usize {
    let byte = byte.min(text.len());
    let mut b = byte;
    while b > 0 && !text.is_char_boundary(b) {
        b -= 1;
    }
    text.get(..b).map_or(0, |s| s.chars().count())
}

/// Findings as the CLI prints them: character offsets instead of byte spans.
#[derive(Debug, Clone, Serialize)]
pub struct CharFinding<'a> {
    /// Detector family.
    pub detector: Family,
    /// Rule id.
    pub rule: &'a str,
    /// Category.
    pub category: &'a str,
    /// Entity type.
    pub entity: &'a str,
    /// Start, in characters.
    pub start: usize,
    /// End (exclusive), in characters.
    pub end: usize,
    /// Confidence.
    pub score: f32,
}

/// The findings of a report with character offsets into `text` (linear in the text).
pub fn char_findings<'a>(text: &str, findings: &'a [Finding]) -> Vec<CharFinding<'a>> {
    // Map every boundary once: sort the byte offsets, walk the text a single time.
    let mut offsets: Vec<usize> = findings.iter().flat_map(|f| [f.span.start, f.span.end]).collect();
    offsets.sort_unstable();
    offsets.dedup();
    let mut chars_at = Vec::with_capacity(offsets.len());
    let mut chars = 0usize;
    let mut it = text.char_indices().peekable();
    for &target in &offsets {
        while it.next_if(|&(i, _)| i < target).is_some() {
            chars += 1;
        }
        chars_at.push((target, chars));
    }
    let lookup = |b: usize| {
        chars_at.binary_search_by_key(&b, |&(t, _)| t).ok().and_then(|i| chars_at.get(i)).map_or(0, |&(_, c)| c)
    };
    findings
        .iter()
        .map(|f| CharFinding {
            detector: f.family,
            rule: f.rule,
            category: f.category,
            entity: f.entity,
            start: lookup(f.span.start),
            end: lookup(f.span.end),
            score: f.score,
        })
        .collect()
}
