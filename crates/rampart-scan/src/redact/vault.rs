//! The per-request [`Vault`]: which placeholder stands for which original value, the
//! bounds on what it may hold, and [`Vault::mask_with`], which turns findings into
//! placeholders (merging overlaps, ignoring spans that do not fit the text).

use std::borrow::Cow;
use std::cmp::Reverse;
use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasher, RandomState};
use std::ops::Range;

use super::label::{MAX_TOKEN_LEN, digits, label_for, parse_token, write_placeholder};
use super::{Masked, Mode, Policy, Restorer};
use crate::Finding;

/// Bounds on one [`Vault`]. When a bound is reached, masking still replaces every
/// finding (nothing sensitive is ever let through) but stops remembering values:
/// a value that no longer fits is redacted with a numbered placeholder that does not
/// restore, and once `max_entries` placeholders exist, further new values get the
/// unnumbered `[LABEL_REDACTED]`. Both count as [`Masked::degraded`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Distinct numbered placeholders (restorable or not), at most `u32::MAX`.
    pub max_entries: u32,
    /// Total bytes of original values kept for restoration.
    pub max_value_bytes: usize,
}

impl Default for Limits {
    /// 1024 placeholders and 64 KiB of values: far above a normal chat request.
    fn default() -> Self {
        Self { max_entries: 1024, max_value_bytes: 64 * 1024 }
    }
}

/// One placeholder label and its numbered entries: `entries[n - 1]` is `[LABEL_n]`.
struct Slot {
    name: Cow<'static, str>,
    entries: Vec<u32>,
}

/// One numbered placeholder.
struct Entry {
    slot: u32,
    n: u32,
    /// The original value's bytes in [`Vault::arena`]; `None` when redacted.
    value: Option<Range<usize>>,
}

/// Per-request pseudonymization table: maps placeholders such as `[EMAIL_1]` to the
/// original values they replaced, across every text of one request, so that the same
/// value always gets the same placeholder and a response can be restored.
///
/// Redacted values are never stored: only a keyed 64-bit hash of them is kept (so a
/// repeated secret keeps its placeholder). Restorable values live in one buffer that
/// is overwritten with zeros when it grows and when the vault is dropped (best
/// effort, std only). `Debug` prints counts, never values.
pub struct Vault {
    limits: Limits,
    slots: Vec<Slot>,
    entries: Vec<Entry>,
    /// Keyed hash of a value → index into `entries`.
    by_hash: HashMap<u64, u32>,
    hasher: RandomState,
    /// All restorable values, back to back.
    arena: String,
    restorable: u32,
    /// Longest body (between the brackets) of any placeholder that ever restored.
    max_token: usize,
}

impl Default for Vault {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Vault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Vault")
            .field("entries", &self.entries.len())
            .field("restorable", &self.restorable)
            .field("value_bytes", &self.arena.len())
            .field("labels", &self.slots.iter().map(|s| &*s.name).collect::<Vec<_>>())
            .field("limits", &self.limits)
            .finish()
    }
}

impl Drop for Vault {
    fn drop(&mut self) {
        wipe(&mut self.arena);
    }
}

/// Overwrites the string's whole allocation with zeros and leaves it empty.
fn wipe(s: &mut String) {
    let mut bytes = std::mem::take(s).into_bytes();
    let cap = bytes.capacity();
    bytes.clear();
    // Within capacity: writes zeros over every byte the allocation ever held, no realloc.
    bytes.resize(cap, 0);
    // Keeps the optimizer from dropping the writes to memory about to be freed.
    std::hint::black_box(&mut bytes);
}

/// What happened to one masked span.
enum Outcome {
    Pseudonymized,
    Redacted,
    Degraded,
}

/// A finding's span clamped to whole characters, with its decision.
#[derive(Clone, Copy)]
struct Span {
    start: usize,
    end: usize,
    index: usize,
    mode: Mode,
}

impl Vault {
    /// An empty vault with default [`Limits`]; does not allocate.
    pub fn new() -> Self {
        Self::with_limits(Limits::default())
    }

    /// An empty vault with the given bounds; does not allocate.
    pub fn with_limits(limits: Limits) -> Self {
        Self {
            limits,
            slots: Vec::new(),
            entries: Vec::new(),
            by_hash: HashMap::new(),
            hasher: RandomState::new(),
            arena: String::new(),
            restorable: 0,
            max_token: 0,
        }
    }

    /// Numbered placeholders handed out so far (restorable or not).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no placeholder was handed out yet.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Placeholders that [`Vault::restore`] replaces.
    pub fn restorable(&self) -> usize {
        self.restorable as usize
    }

    /// Bytes of original values held (counted against [`Limits::max_value_bytes`]).
    pub fn value_bytes(&self) -> usize {
        self.arena.len()
    }

    /// The original value behind a restorable placeholder, e.g. `[EMAIL_1]`.
    pub fn lookup(&self, placeholder: &str) -> Option<&str> {
        let body = placeholder.strip_prefix('[')?.strip_suffix(']')?;
        self.resolve(body.as_bytes())
    }

    /// A streaming restorer over this vault; see [`Restorer`].
    pub fn restorer(&self) -> Restorer<&Self> {
        Restorer::new(self)
    }

    /// [`Vault::mask_with`] deciding by finding family with `policy`.
    pub fn mask<'t>(&mut self, text: &'t str, findings: &[Finding], policy: &Policy) -> Masked<'t> {
        self.mask_with(text, findings, |f| policy.mode(f.family))
    }

    /// Replaces the findings' spans in `text` with placeholders; `decide` picks each
    /// finding's [`Mode`] (it may look at family, entity, rule or score).
    ///
    /// Findings may come in any order. Overlapping spans (sharing at least one byte)
    /// merge into one placeholder covering their union: it is redacted if any member
    /// asked for redaction, and it takes the label of the longest member with that
    /// mode (then the higher score, then the earlier finding). Spans that are empty,
    /// reversed or past the end of `text` are ignored (counted in [`Masked::ignored`]);
    /// a span that cuts into a character is widened to the whole character.
    ///
    /// A value seen before in this vault gets its earlier placeholder again. A value
    /// redacted once stays redacted: a later pseudonymize request reuses the redacted
    /// placeholder, and redacting a value that was pseudonymized earlier withdraws its
    /// restoration. Does not allocate when no finding is masked.
    pub fn mask_with<'t, F>(&mut self, text: &'t str, findings: &[Finding], mut decide: F) -> Masked<'t>
    where
        F: FnMut(&Finding) -> Mode,
    {
        let mut masked = Masked { text: Cow::Borrowed(text), pseudonymized: 0, redacted: 0, degraded: 0, ignored: 0 };
        let mut spans: Vec<Span> = Vec::new();
        for (index, f) in findings.iter().enumerate() {
            let mode = decide(f);
            if mode == Mode::Keep {
                continue;
            }
            match widen(text, &f.span) {
                Some(r) => spans.push(Span { start: r.start, end: r.end, index, mode }),
                None => masked.ignored += 1,
            }
        }
        if spans.is_empty() {
            return masked;
        }
        spans.sort_unstable_by_key(|s| (s.start, s.index));

        let mut out = String::with_capacity(text.len() + 12 * spans.len());
        let mut last = 0;
        let mut rest = spans.as_slice();
        while let Some((first, _)) = rest.split_first() {
            let mut end = first.end;
            let mut len = 1;
            for s in rest.iter().skip(1) {
                if s.start >= end {
                    break;
                }
                end = end.max(s.end);
                len += 1;
            }
            let (cluster, tail) = rest.split_at(len.min(rest.len()));
            rest = tail;
            let mode = if cluster.iter().any(|s| s.mode == Mode::Redact) { Mode::Redact } else { Mode::Pseudonymize };
            let lead = cluster
                .iter()
                .filter(|s| s.mode == mode)
                .filter_map(|s| findings.get(s.index).map(|f| (s, f)))
                .max_by(|(a, fa), (b, fb)| {
                    (a.end - a.start)
                        .cmp(&(b.end - b.start))
                        .then(fa.score.total_cmp(&fb.score))
                        .then(Reverse(a.index).cmp(&Reverse(b.index)))
                })
                .map(|(_, f)| f);
            out.push_str(text.get(last..first.start).unwrap_or_default());
            last = end;
            // Both always succeed: the cluster has a member with `mode`, and spans are
            // widened to char boundaries within the text. Never leave a span unmasked.
            let (Some(lead), Some(value)) = (lead, text.get(first.start..end)) else {
                out.push_str("[REDACTED]");
                masked.redacted += 1;
                continue;
            };
            match self.replace(&mut out, value, label_for(lead.family, lead.entity), mode) {
                Outcome::Pseudonymized => masked.pseudonymized += 1,
                Outcome::Redacted => masked.redacted += 1,
                Outcome::Degraded => masked.degraded += 1,
            }
        }
        out.push_str(text.get(last..).unwrap_or_default());
        masked.text = Cow::Owned(out);
        masked
    }

    /// Writes the placeholder for `value` to `out`, creating an entry if needed.
    fn replace(&mut self, out: &mut String, value: &str, label: Cow<'static, str>, mode: Mode) -> Outcome {
        let hash = self.hasher.hash_one(value);
        let mut register = true;
        if let Some(&idx) = self.by_hash.get(&hash) {
            let stored = self.entries.get(idx as usize).map(|e| e.value.clone());
            match stored {
                Some(Some(r)) if self.arena.get(r.clone()) == Some(value) => {
                    if mode == Mode::Redact {
                        self.revoke(idx);
                    }
                    self.write_entry(out, idx);
                    return if mode == Mode::Redact { Outcome::Redacted } else { Outcome::Pseudonymized };
                }
                // Same hash, different value: give this value its own entry, unregistered.
                Some(Some(_)) => register = false,
                // Redacted before (sticky), or a dangling index (cannot happen).
                Some(None) => {
                    self.write_entry(out, idx);
                    return Outcome::Redacted;
                }
                None => register = false,
            }
        }

        let slot_idx = self.slots.iter().position(|s| s.name == label);
        let full = self.entries.len() >= self.limits.max_entries as usize || self.entries.len() >= u32::MAX as usize;
        if full {
            out.push('[');
            out.push_str(&label);
            out.push_str("_REDACTED]");
            return if mode == Mode::Redact { Outcome::Redacted } else { Outcome::Degraded };
        }
        let slot_idx = match slot_idx {
            Some(i) => i,
            None => {
                self.slots.push(Slot { name: label, entries: Vec::new() });
                self.slots.len() - 1
            }
        };
        let stored = if mode == Mode::Pseudonymize { self.store(value) } else { None };
        let outcome = match (&stored, mode) {
            (Some(_), _) => Outcome::Pseudonymized,
            (None, Mode::Redact) => Outcome::Redacted,
            (None, _) => Outcome::Degraded,
        };
        let idx = self.entries.len() as u32;
        let Some(slot) = self.slots.get_mut(slot_idx) else {
            return Outcome::Degraded;
        };
        slot.entries.push(idx);
        let n = slot.entries.len() as u32;
        let label_len = slot.name.len();
        if stored.is_some() {
            self.restorable += 1;
            self.max_token = self.max_token.max(label_len + 1 + digits(n)).min(MAX_TOKEN_LEN);
        }
        self.entries.push(Entry { slot: slot_idx as u32, n, value: stored });
        if register {
            self.by_hash.insert(hash, idx);
        }
        self.write_entry(out, idx);
        outcome
    }

    fn write_entry(&self, out: &mut String, idx: u32) {
        if let Some(e) = self.entries.get(idx as usize) {
            if let Some(slot) = self.slots.get(e.slot as usize) {
                write_placeholder(out, &slot.name, e.n);
            }
        }
    }

    /// Copies `value` into the arena if it fits the byte bound; regrowing the arena
    /// wipes the old allocation instead of leaving it to the allocator.
    fn store(&mut self, value: &str) -> Option<Range<usize>> {
        let start = self.arena.len();
        let end = start.checked_add(value.len())?;
        if end > self.limits.max_value_bytes {
            return None;
        }
        if self.arena.capacity() < end {
            let cap = end.max(self.arena.capacity().saturating_mul(2)).max(256).min(self.limits.max_value_bytes);
            let mut grown = String::with_capacity(cap);
            grown.push_str(&self.arena);
            wipe(&mut self.arena);
            self.arena = grown;
        }
        self.arena.push_str(value);
        Some(start..end)
    }

    /// Makes entry `idx` non-restorable and zeroes its bytes in the arena.
    fn revoke(&mut self, idx: u32) {
        let Some(r) = self.entries.get_mut(idx as usize).and_then(|e| e.value.take()) else {
            return;
        };
        self.restorable = self.restorable.saturating_sub(1);
        const ZEROS: &str = "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0";
        let mut at = r.start;
        while at < r.end {
            let mut k = (r.end - at).min(ZEROS.len());
            // `at` is a boundary (value start, or just past NULs); `r.end` is one too, and
            // a character is at most 4 bytes, so this stops at k >= 1 below 32.
            while k > 0 && !self.arena.is_char_boundary(at + k) {
                k -= 1;
            }
            if k == 0 {
                break;
            }
            self.arena.replace_range(at..at + k, ZEROS.get(..k).unwrap_or_default());
            at += k;
        }
    }

    /// The value behind a placeholder body such as `EMAIL_1`, if it restores.
    pub(crate) fn resolve(&self, token: &[u8]) -> Option<&str> {
        let (label, n) = parse_token(token)?;
        let slot = self.slots.iter().find(|s| s.name.as_bytes() == label)?;
        let &idx = slot.entries.get(n.checked_sub(1)? as usize)?;
        let range = self.entries.get(idx as usize)?.value.clone()?;
        self.arena.get(range)
    }

    /// Upper bound on the body length of a restorable placeholder; 0 when none exists.
    pub(crate) fn max_token(&self) -> usize {
        if self.restorable == 0 { 0 } else { self.max_token }
    }
}

/// `span` widened to char boundaries, or `None` when empty, reversed or out of range.
fn widen(text: &str, span: &Range<usize>) -> Option<Range<usize>> {
    if span.start >= span.end || span.end > text.len() {
        return None;
    }
    let mut start = span.start;
    while !text.is_char_boundary(start) {
        start -= 1;
    }
    let mut end = span.end;
    while !text.is_char_boundary(end) {
        end += 1;
    }
    Some(start..end)
}
