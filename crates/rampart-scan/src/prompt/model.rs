//! The prompt-attack classifier: two logistic-regression heads (injection, jailbreak)
//! over the features of [`super::features`], and its versioned weight file.
//!
//! File format (little endian): magic `RPRM`, format version `u32` (1), hash bits
//! `u32`, rule count `u32`, rule-table fingerprint `u64`, dense count `u32`, then per
//! head: bias `f32`, rule weights `f32 × rules`, dense weights `f32 × dense`, hashed
//! weight scale `f32`, hashed weights `i16 × 2^bits` (value × scale). The fingerprint
//! ties a weight file to the rule table it was trained with: changing the rules without
//! retraining is refused at load time instead of silently mis-weighting rules.

use std::ops::Range;

use super::features::{DENSE, DENSE_LENGTH, Features, entry_norm, length_signal};

const MAGIC: &[u8; 4] = b"RPRM";
const VERSION: u32 = 1;

/// Index of the injection head.
pub const INJECTION: usize = 0;
/// Index of the jailbreak head.
pub const JAILBREAK: usize = 1;

/// One logistic-regression head.
#[derive(Debug, Clone)]
pub struct Head {
    /// Intercept.
    pub bias: f32,
    /// One weight per rule.
    pub rules: Vec<f32>,
    /// One weight per dense feature.
    pub dense: [f32; DENSE],
    /// One weight per hash bucket.
    pub hashed: Vec<f32>,
}

impl Head {
    /// A zero head.
    pub fn zero(bits: u32, rules: usize) -> Self {
        Self { bias: 0.0, rules: vec![0.0; rules], dense: [0.0; DENSE], hashed: vec![0.0; 1 << bits] }
    }

    /// The logit of one instance of `f`: the hashed entries in `range` (normalized by
    /// the square root of their number), every rule and the dense signals, with the
    /// length signal taken from the instance.
    pub fn instance_logit(&self, f: &Features, range: Range<usize>) -> f32 {
        let entries = f.hashed.get(range).unwrap_or_default();
        let mut hashed = 0.0f32;
        for &b in entries {
            hashed += self.hashed.get(b as usize).copied().unwrap_or(0.0);
        }
        let mut z = self.bias + hashed * entry_norm(entries.len());
        for &r in &f.rules {
            z += self.rules.get(r).copied().unwrap_or(0.0);
        }
        for (k, (w, x)) in self.dense.iter().zip(f.dense.iter()).enumerate() {
            z += w * if k == DENSE_LENGTH { length_signal(entries.len()) } else { *x };
        }
        z
    }

    /// The part of a logit that does not depend on the hashed entries: the bias, the
    /// rules that fired and the dense signals other than length; and the length
    /// signal's weight.
    fn constant(&self, rules: &[usize], dense: &[f32; DENSE]) -> (f32, f32) {
        let mut base = self.bias;
        for &r in rules {
            base += self.rules.get(r).copied().unwrap_or(0.0);
        }
        for (k, (w, x)) in self.dense.iter().zip(dense.iter()).enumerate() {
            if k != DENSE_LENGTH {
                base += w * x;
            }
        }
        (base, self.dense.get(DENSE_LENGTH).copied().unwrap_or(0.0))
    }

    /// The logit of `f`: the highest over the whole text and its windows, so one
    /// planted instruction in a long document counts as much as in a short prompt.
    /// Equals the maximum of [`Self::instance_logit`] over [`instances`] (up to float
    /// rounding), with one weight lookup per entry.
    pub fn logit(&self, f: &Features) -> f32 {
        let n = f.hashed.len();
        let (base, len_w) = self.constant(&f.rules, &f.dense);
        let score = |sum: f32, len: usize| base + sum * entry_norm(len) + len_w * length_signal(len);
        if n <= WINDOW {
            let sum: f32 = f.hashed.iter().map(|&b| self.hashed.get(b as usize).copied().unwrap_or(0.0)).sum();
            return score(sum, n);
        }
        // prefix sums of the entry weights; every instance is then O(1)
        let mut prefix = Vec::with_capacity(n + 1);
        let mut acc = 0.0f32;
        prefix.push(acc);
        for &b in &f.hashed {
            acc += self.hashed.get(b as usize).copied().unwrap_or(0.0);
            prefix.push(acc);
        }
        // every window has the same length: its constant part is computed once
        let window_base = base + len_w * length_signal(WINDOW);
        let window_norm = entry_norm(WINDOW);
        let mut best = score(acc, n);
        for r in instances(n).skip(1) {
            let sum = prefix.get(r.end).copied().unwrap_or(0.0) - prefix.get(r.start).copied().unwrap_or(0.0);
            best = best.max(window_base + sum * window_norm);
        }
        best
    }
}

/// Both heads laid out for inference: the hashed weights of the two heads interleaved
/// (one cache line fetch serves both), scored straight from the text in one pass
/// without collecting its entries. Built from a [`Model`]; gives the same logits as
/// [`Head::logit`] on [`super::features::hash_tokens`]'s entries (the same running
/// sums in the same order, so the same floats).
///
/// The hashed weights are kept as the `i16` values the model file stores, with one
/// scale per head, when that reproduces every weight exactly (a loaded model: each
/// weight is `i16 × scale`): half the memory of `f32` pairs, so the table (256 KiB
/// at 16 bits) stays in cache between requests of a busy gateway. Each lookup then
/// computes `f32::from(q) * scale`, the very product the loader computed, so the
/// logits are the same floats. A model with other weights (one being trained) keeps
/// `f32` pairs.
#[derive(Debug, Clone)]
pub struct Fused {
    bits: u32,
    heads: [Head; 2],
    hashed: Table,
}

#[derive(Debug, Clone)]
enum Table {
    Quantized { weights: Vec<[i16; 2]>, scale: [f32; 2] },
    Float(Vec<[f32; 2]>),
}

/// The model file's form of hashed weights: `i16` values and the scale that maps the
/// largest magnitude to `i16::MAX` (each weight is `q × scale` once loaded).
fn quantize(weights: &[f32]) -> (Vec<i16>, f32) {
    let max = weights.iter().fold(0.0f32, |m, w| m.max(w.abs()));
    let scale = if max > 0.0 { max / f32::from(i16::MAX) } else { 1.0 };
    let q =
        weights.iter().map(|w| (w / scale).round().clamp(f32::from(i16::MIN), f32::from(i16::MAX)) as i16).collect();
    (q, scale)
}

/// [`quantize`], when it gives back every weight bit for bit.
fn quantize_exactly(weights: &[f32]) -> Option<(Vec<i16>, f32)> {
    let (q, scale) = quantize(weights);
    q.iter().zip(weights).all(|(&q, w)| (f32::from(q) * scale).to_bits() == w.to_bits()).then_some((q, scale))
}

impl Fused {
    /// The inference layout of `model`.
    pub fn new(model: &Model) -> Self {
        let [a, b] = &model.heads;
        let hashed = match (quantize_exactly(&a.hashed), quantize_exactly(&b.hashed)) {
            (Some((qa, sa)), Some((qb, sb))) => {
                Table::Quantized { weights: qa.into_iter().zip(qb).map(|(x, y)| [x, y]).collect(), scale: [sa, sb] }
            }
            _ => Table::Float(a.hashed.iter().zip(&b.hashed).map(|(&x, &y)| [x, y]).collect()),
        };
        let strip = |h: &Head| Head { hashed: Vec::new(), ..h.clone() };
        Self { bits: model.bits, heads: [strip(a), strip(b)], hashed }
    }

    /// Whether the hashed weights are held as `i16` (see the type's docs).
    pub fn is_quantized(&self) -> bool {
        matches!(self.hashed, Table::Quantized { .. })
    }

    /// The logits of both heads (see [`Head::logit`]) for the hashed tokens of `text`,
    /// the rules that fired and the dense signals (the length signal is computed here).
    pub fn logits(&self, text: &str, rules: &[usize], dense: &[f32; DENSE]) -> [f32; 2] {
        match &self.hashed {
            Table::Quantized { weights, scale } => self.logits_with(text, rules, dense, |b| {
                let q = weights.get(b as usize).copied().unwrap_or([0; 2]);
                [f32::from(q[0]) * scale[0], f32::from(q[1]) * scale[1]]
            }),
            Table::Float(weights) => {
                self.logits_with(text, rules, dense, |b| weights.get(b as usize).copied().unwrap_or([0.0; 2]))
            }
        }
    }

    #[inline]
    fn logits_with(
        &self,
        text: &str,
        rules: &[usize],
        dense: &[f32; DENSE],
        weight: impl Fn(u32) -> [f32; 2],
    ) -> [f32; 2] {
        let [(b0, l0), (b1, l1)] = self.heads.each_ref().map(|h| h.constant(rules, dense));
        let (base, len_w) = ([b0, b1], [l0, l1]);
        let window_signal = length_signal(WINDOW);
        let window_norm = entry_norm(WINDOW);
        let mut best = [f32::NEG_INFINITY; 2];
        // prefix sums of the last WINDOW + 1 entries: prefix[k] sits at k % (WINDOW + 1)
        let mut ring = [[0.0f32; 2]; WINDOW + 1];
        let mut acc = [0.0f32; 2];
        let mut n = 0usize;
        let window = |best: &mut [f32; 2], acc: [f32; 2], start: [f32; 2]| {
            for k in 0..2 {
                best[k] = best[k].max(base[k] + len_w[k] * window_signal + (acc[k] - start[k]) * window_norm);
            }
        };
        super::features::for_each_bucket(text, self.bits, |b| {
            let w = weight(b);
            acc[0] += w[0];
            acc[1] += w[1];
            n += 1;
            if let Some(slot) = ring.get_mut(n % (WINDOW + 1)) {
                *slot = acc;
            }
            // the windows starting at multiples of STRIDE, each scored when complete
            // (the first, at n == WINDOW, is the whole text when that is all: the
            // same sum, added in another order, so it may differ by an ulp; n is odd
            // for any text, unigram plus bigram per token after the first, so
            // n == WINDOW never happens)
            if n >= WINDOW && (n - WINDOW) % STRIDE == 0 {
                let start = ring.get((n - WINDOW) % (WINDOW + 1)).copied().unwrap_or([0.0; 2]);
                window(&mut best, acc, start);
            }
        });
        // the whole text, and the last window (ending at n) when it does not start
        // at a multiple of STRIDE
        for k in 0..2 {
            best[k] = best[k].max(base[k] + acc[k] * entry_norm(n) + len_w[k] * length_signal(n));
        }
        if n > WINDOW && (n - WINDOW) % STRIDE != 0 {
            let start = ring.get((n - WINDOW) % (WINDOW + 1)).copied().unwrap_or([0.0; 2]);
            window(&mut best, acc, start);
        }
        best
    }
}

/// Hashed entries per window (about [`WINDOW`]/2 tokens: a unigram and a bigram each).
pub const WINDOW: usize = 64;
/// Step between windows.
pub const STRIDE: usize = 32;

/// The instances a text of `n` hashed entries is scored as: the whole text and, when it
/// is longer than a window, overlapping windows covering it (the last one ends at `n`).
pub fn instances(n: usize) -> impl Iterator<Item = Range<usize>> {
    let windows = if n > WINDOW { (n - WINDOW).div_ceil(STRIDE) + 1 } else { 0 };
    std::iter::once(0..n).chain((0..windows).map(move |i| {
        let start = (i * STRIDE).min(n - WINDOW);
        start..start + WINDOW
    }))
}

/// The logistic function.
pub fn sigmoid(z: f32) -> f32 {
    1.0 / (1.0 + (-z).exp())
}

/// Both heads and their shape.
#[derive(Debug, Clone)]
pub struct Model {
    /// Hash bits (`2^bits` buckets).
    pub bits: u32,
    /// Fingerprint of the rule table the model was trained with.
    pub fingerprint: u64,
    /// Injection and jailbreak heads.
    pub heads: [Head; 2],
}

/// Why a weight file was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelError {
    /// Not a weight file, or truncated.
    Malformed(&'static str),
    /// Written by another format version.
    Version(u32),
    /// Trained with another rule table or feature set.
    Mismatch(&'static str),
}

impl std::fmt::Display for ModelError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Malformed(what) => write!(f, "malformed prompt model: {what}"),
            Self::Version(v) => write!(f, "prompt model format version {v} is not supported (expected {VERSION})"),
            Self::Mismatch(what) => write!(f, "prompt model does not match this build: {what}; retrain it"),
        }
    }
}

impl std::error::Error for ModelError {}

struct Reader<'a> {
    bytes: &'a [u8],
}

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> Result<[u8; N], ModelError> {
        let (head, rest) = self.bytes.split_at_checked(N).ok_or(ModelError::Malformed("truncated"))?;
        self.bytes = rest;
        let mut out = [0u8; N];
        out.copy_from_slice(head);
        Ok(out)
    }
    fn u32(&mut self) -> Result<u32, ModelError> {
        self.take::<4>().map(u32::from_le_bytes)
    }
    fn u64(&mut self) -> Result<u64, ModelError> {
        self.take::<8>().map(u64::from_le_bytes)
    }
    fn f32(&mut self) -> Result<f32, ModelError> {
        let v = self.take::<4>().map(f32::from_le_bytes)?;
        if v.is_finite() { Ok(v) } else { Err(ModelError::Malformed("non-finite weight")) }
    }
}

impl Model {
    /// A zero model (every score 0.5) for `rules` rules.
    pub fn zero(bits: u32, rules: usize, fingerprint: u64) -> Self {
        Self { bits, fingerprint, heads: [Head::zero(bits, rules), Head::zero(bits, rules)] }
    }

    /// Parses a weight file, checking it against the current rule table.
    pub fn from_bytes(bytes: &[u8], rules: usize, fingerprint: u64) -> Result<Self, ModelError> {
        let mut r = Reader { bytes };
        if &r.take::<4>()? != MAGIC {
            return Err(ModelError::Malformed("bad magic"));
        }
        let version = r.u32()?;
        if version != VERSION {
            return Err(ModelError::Version(version));
        }
        let bits = r.u32()?;
        if !(8..=24).contains(&bits) {
            return Err(ModelError::Malformed("hash bits out of range"));
        }
        if r.u32()? as usize != rules {
            return Err(ModelError::Mismatch("rule count"));
        }
        let fp = r.u64()?;
        if fp != fingerprint {
            return Err(ModelError::Mismatch("rule table fingerprint"));
        }
        if r.u32()? as usize != DENSE {
            return Err(ModelError::Mismatch("dense feature count"));
        }
        let read_head = |r: &mut Reader<'_>| -> Result<Head, ModelError> {
            let bias = r.f32()?;
            let rule_w = (0..rules).map(|_| r.f32()).collect::<Result<Vec<_>, _>>()?;
            let mut dense = [0.0; DENSE];
            for d in &mut dense {
                *d = r.f32()?;
            }
            let scale = r.f32()?;
            let n = 1usize << bits;
            let raw = r.bytes.get(..n * 2).ok_or(ModelError::Malformed("truncated hashed weights"))?;
            let hashed = raw.chunks_exact(2).map(|c| f32::from(i16::from_le_bytes([c[0], c[1]])) * scale).collect();
            r.bytes = r.bytes.get(n * 2..).unwrap_or_default();
            Ok(Head { bias, rules: rule_w, dense, hashed })
        };
        let injection = read_head(&mut r)?;
        let jailbreak = read_head(&mut r)?;
        if !r.bytes.is_empty() {
            return Err(ModelError::Malformed("trailing bytes"));
        }
        Ok(Self { bits, fingerprint, heads: [injection, jailbreak] })
    }

    /// Serializes the model (hashed weights quantized to `i16`).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        out.extend_from_slice(&self.bits.to_le_bytes());
        let rules = self.heads[0].rules.len() as u32;
        out.extend_from_slice(&rules.to_le_bytes());
        out.extend_from_slice(&self.fingerprint.to_le_bytes());
        out.extend_from_slice(&(DENSE as u32).to_le_bytes());
        for head in &self.heads {
            out.extend_from_slice(&head.bias.to_le_bytes());
            for w in &head.rules {
                out.extend_from_slice(&w.to_le_bytes());
            }
            for w in &head.dense {
                out.extend_from_slice(&w.to_le_bytes());
            }
            let (q, scale) = quantize(&head.hashed);
            out.extend_from_slice(&scale.to_le_bytes());
            for q in q {
                out.extend_from_slice(&q.to_le_bytes());
            }
        }
        out
    }
}
