//! Prompt-attack detector: direct prompt injection (instruction override, system-prompt
//! extraction, fake chat-template delimiters), indirect injection (instructions planted
//! in documents and tool outputs) and jailbreaks (personas, restriction removal,
//! hypothetical framing, optimized adversarial suffixes).
//!
//! Two stages over the normalized views of a text (see [`crate::normalize`]):
//! 1. [`rules`]: one Aho-Corasick automaton over phrases and pattern triggers, then the
//!    triggered patterns, run on every view (canonical, skeleton, decoded), so
//!    obfuscated and encoded attacks fire the same rules as plain ones;
//! 2. [`model`]: a logistic-regression classifier per family over hashed word n-grams
//!    of the folded view plus the rules that fired, trained by a reproducible command
//!    (`rampart train`) and shipped as a versioned weight file (`models/prompt.rpm`).
//!    Decoded views are scored too, and the highest score counts.
//!
//! Output: a score in [0, 1] for injection and for jailbreak, and one finding per rule
//! that fired (plus a whole-text finding when the classifier alone decides).

pub mod features;
pub mod model;
pub mod rules;
#[cfg(test)]
mod tests;
pub mod train;

use serde::Serialize;

use crate::normalize::{Normalized, View, ViewKind};
use crate::{Family, Finding};
use features::Features;
use model::{Fused, INJECTION, JAILBREAK, Model, ModelError, sigmoid};
use rules::{Hit, Rules};

/// The committed weights.
const BUILTIN_MODEL: &[u8] = include_bytes!("../../models/prompt.rpm");

/// Score at or above which a family counts as detected by default.
pub const DEFAULT_THRESHOLD: f32 = 0.5;

/// Jailbreak floor when the text ends in an optimized adversarial suffix.
const ADVERSARIAL_SUFFIX_FLOOR: f32 = 0.6;

/// Jailbreak floor when two distinct jailbreak rules (other than hypothetical
/// framing) fire in one text.
const COMBINED_JAILBREAK_FLOOR: f32 = 0.6;

/// Decoded views shorter than this are not classified (rules still run on them).
const MIN_CLASSIFIED_DECODED: usize = 16;

/// Scores of one text, each in [0, 1].
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct PromptScores {
    /// Prompt injection, direct or indirect.
    pub injection: f32,
    /// Jailbreak.
    pub jailbreak: f32,
}

impl PromptScores {
    /// Combined injection-or-jailbreak score.
    pub fn attack(&self) -> f32 {
        self.injection.max(self.jailbreak)
    }
}

/// Compiled rules and classifier; build once, then share.
#[derive(Debug)]
pub struct PromptDetector {
    rules: Rules,
    model: Model,
    /// The model laid out for inference.
    fused: Fused,
    fingerprint: u64,
}

/// Fingerprint of a rule table: FNV-1a over the rule ids in order.
fn fingerprint(rules: &Rules) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for r in rules.all() {
        for b in r.id.bytes().chain(std::iter::once(0)) {
            h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    h
}

impl PromptDetector {
    /// The detector with the committed weights. Panics only if the committed weights
    /// do not match the rule table (a build the tests reject).
    #[allow(clippy::expect_used)]
    pub fn new() -> Self {
        Self::from_model_bytes(BUILTIN_MODEL).expect("committed prompt model must match the rule table")
    }

    /// The detector with weights from a weight file.
    pub fn from_model_bytes(bytes: &[u8]) -> Result<Self, ModelError> {
        let rules = Rules::new();
        let fp = fingerprint(&rules);
        let model = Model::from_bytes(bytes, rules.all().len(), fp)?;
        Ok(Self { rules, fused: Fused::new(&model), model, fingerprint: fp })
    }

    /// The detector with an untrained (all-zero) model, for training.
    pub fn untrained(bits: u32) -> Self {
        let rules = Rules::new();
        let fp = fingerprint(&rules);
        let model = Model::zero(bits, rules.all().len(), fp);
        Self { rules, fused: Fused::new(&model), model, fingerprint: fp }
    }

    /// The rule table.
    pub fn rules(&self) -> &Rules {
        &self.rules
    }

    /// Fingerprint of the rule table, stored in weight files.
    pub fn fingerprint(&self) -> u64 {
        self.fingerprint
    }

    /// Replaces the model (e.g. after training).
    pub fn set_model(&mut self, model: Model) {
        self.fused = Fused::new(&model);
        self.model = model;
    }

    /// The view the classifier reads: the skeleton when there is one, else canonical.
    fn primary<'n>(norm: &'n Normalized<'_>) -> &'n View {
        norm.view(ViewKind::Skeleton).unwrap_or_else(|| norm.canonical())
    }

    fn rule_hits(&self, norm: &Normalized<'_>) -> Vec<(Hit, usize)> {
        let mut seen = vec![false; self.rules.all().len()];
        let mut hits = Vec::new();
        let mut out = Vec::new();
        // Patterns only need the folded view: the canonical view differs from the
        // skeleton only in folded characters no pattern relies on; phrases (chat
        // template delimiters contain `|`) run on both.
        let skeleton = norm.view(ViewKind::Skeleton).is_some();
        for (vi, view) in norm.views().iter().enumerate() {
            let patterns = !(skeleton && view.kind == ViewKind::Canonical);
            // with a skeleton, the canonical view only adds phrases with characters the
            // skeleton folds: the template delimiters, each holding `<`, `[` or `/`
            // (the other phrases are letters and spaces, found in the skeleton)
            if !patterns && memchr::memchr3(b'<', b'[', b'/', view.text.as_bytes()).is_none() {
                continue;
            }
            self.rules.matches(&view.text, patterns, &mut seen, &mut hits);
            out.extend(hits.drain(..).map(|h| (h, vi)));
        }
        if let Some(derived) = out.iter().find_map(|(h, vi)| Some((self.rules.derived(norm.original, h)?, *vi))) {
            out.push(derived);
        }
        out
    }

    fn view_features(&self, view: &View, original: &str, rules: &[usize]) -> Features {
        let mut f = Features { hashed: Vec::with_capacity(view.text.len() / 2 + 8), ..Features::default() };
        features::hash_tokens(&view.text, self.model.bits, &mut f.hashed);
        f.rules = rules.to_vec();
        f.dense[features::DENSE_GIBBERISH_TAIL] = features::gibberish_tail(original);
        f
    }

    /// The classifier's features of a text (its primary view), as used in training.
    pub fn features(&self, norm: &Normalized<'_>) -> Features {
        let rules: Vec<usize> = self.rule_hits(norm).iter().map(|(h, _)| h.rule).collect();
        self.view_features(Self::primary(norm), norm.original, &rules)
    }

    /// The lowest scores the strong rules that fired (`rules`, indices into the rule
    /// table) and an adversarial suffix at the end of `original` allow.
    pub fn floors(&self, rules: &[usize], original: &str) -> PromptScores {
        self.floors_with_tail(rules, features::adversarial_tail(original).is_some())
    }

    /// [`Self::floors`] with the adversarial-suffix check already made.
    fn floors_with_tail(&self, rules: &[usize], adversarial_tail: bool) -> PromptScores {
        let mut floors = PromptScores::default();
        for rule in rules.iter().filter_map(|&r| self.rules.all().get(r)) {
            if let Some(floor) = rule.floor {
                let s = if rule.family == Family::Jailbreak { &mut floors.jailbreak } else { &mut floors.injection };
                *s = s.max(floor);
            }
        }
        if adversarial_tail {
            floors.jailbreak = floors.jailbreak.max(ADVERSARIAL_SUFFIX_FLOOR);
        }
        // Weak jailbreak rules are common alone (a role-play, "no filters" in a photo
        // brief) but rarely meet: two distinct techniques together are a jailbreak.
        let mut techniques = rules
            .iter()
            .filter_map(|&r| self.rules.all().get(r))
            .filter(|r| r.family == Family::Jailbreak && r.category != "hypothetical_framing")
            .map(|r| r.id)
            .collect::<Vec<_>>();
        techniques.sort_unstable();
        techniques.dedup();
        if techniques.len() >= 2 {
            floors.jailbreak = floors.jailbreak.max(COMBINED_JAILBREAK_FLOOR);
        }
        floors
    }

    /// Whether a hidden form of the text (Unicode tags decoded, or an encoded segment
    /// as decoded) ends in an adversarial suffix.
    fn hidden_adversarial_tail(norm: &Normalized<'_>) -> bool {
        // The first two bytes of every Unicode tag character (U+E0000..U+E007F) in UTF-8.
        static TAG_LEAD: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
            std::sync::LazyLock::new(|| memchr::memmem::Finder::new(&[0xF3, 0xA0]));
        let tagged = TAG_LEAD.find(norm.original.as_bytes()).is_some();
        if tagged {
            let untagged: String = norm
                .original
                .chars()
                .filter_map(|c| match c as u32 {
                    0xE0020..=0xE007E => char::from_u32(c as u32 - 0xE0000),
                    0xE0000..=0xE007F => None,
                    _ => Some(c),
                })
                .collect();
            if features::adversarial_tail(&untagged).is_some() {
                return true;
            }
        }
        norm.decoded_segments().iter().any(|s| features::adversarial_tail(s).is_some())
    }

    /// Scores a normalized text and appends a finding per rule that fired.
    pub fn scan(&self, norm: &Normalized<'_>, out: &mut Vec<Finding>) -> PromptScores {
        let hits = self.rule_hits(norm);
        let rule_ids: Vec<usize> = hits.iter().map(|(h, _)| h.rule).collect();
        let primary = Self::primary(norm);
        let mut logits = [f32::NEG_INFINITY; 2];
        // the suffix check runs once: a dense feature, a floor and a finding
        let mut suffix = features::adversarial_tail(norm.original);
        let mut dense = [0.0f32; features::DENSE];
        dense[features::DENSE_GIBBERISH_TAIL] = if suffix.is_some() { 1.0 } else { 0.0 };
        let mut score_view = |view: &View| {
            let view_logits = self.fused.logits(&view.text, &rule_ids, &dense);
            for (l, v) in logits.iter_mut().zip(view_logits) {
                *l = l.max(v);
            }
        };
        score_view(primary);
        for view in norm.decoded() {
            if view.text.len() >= MIN_CLASSIFIED_DECODED {
                score_view(view);
            }
        }
        let mut scores = PromptScores { injection: sigmoid(logits[INJECTION]), jailbreak: sigmoid(logits[JAILBREAK]) };
        let model_scores = scores;
        let mut floors = self.floors_with_tail(&rule_ids, suffix.is_some());
        if suffix.is_none() && Self::hidden_adversarial_tail(norm) {
            // hidden in tags or an encoded segment: report the whole text
            suffix = Some(0..norm.original.len());
            floors.jailbreak = floors.jailbreak.max(ADVERSARIAL_SUFFIX_FLOOR);
        }
        scores.injection = scores.injection.max(floors.injection);
        scores.jailbreak = scores.jailbreak.max(floors.jailbreak);
        for (hit, vi) in &hits {
            let (Some(rule), Some(view)) = (self.rules.all().get(hit.rule), norm.views().get(*vi)) else { continue };
            let family_score = if rule.family == Family::Jailbreak { scores.jailbreak } else { scores.injection };
            out.push(Finding {
                family: rule.family,
                rule: rule.id,
                category: rule.category,
                entity: entity(rule.family),
                span: view.to_original(hit.span.clone()),
                score: rule.floor.unwrap_or(0.0).max(family_score),
            });
        }
        if let Some(span) = suffix {
            out.push(Finding {
                family: Family::Jailbreak,
                rule: "jailbreak.adversarial_suffix",
                category: "adversarial_suffix",
                entity: "JAILBREAK",
                span,
                score: scores.jailbreak,
            });
        }
        for (family, score, rule) in [
            (Family::Injection, model_scores.injection, "injection.classifier"),
            (Family::Jailbreak, model_scores.jailbreak, "jailbreak.classifier"),
        ] {
            if score >= DEFAULT_THRESHOLD {
                out.push(Finding {
                    family,
                    rule,
                    category: "classifier",
                    entity: entity(family),
                    span: 0..norm.original.len(),
                    score,
                });
            }
        }
        scores
    }
}

fn entity(family: Family) -> &'static str {
    match family {
        Family::Jailbreak => "JAILBREAK",
        _ => "PROMPT_INJECTION",
    }
}

impl Default for PromptDetector {
    fn default() -> Self {
        Self::new()
    }
}
