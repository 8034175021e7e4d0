//! Finding and decoding embedded encoded segments: base64 (standard and URL-safe),
//! hex, percent-encoding, and rot13 (recognised by decoding to common English words).

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

use super::offset::{Base, OffsetMap, ViewBuilder};
use super::swar;

const B64_CONFIG: GeneralPurposeConfig = GeneralPurposeConfig::new()
    .with_decode_padding_mode(DecodePaddingMode::Indifferent)
    .with_decode_allow_trailing_bits(true);
const B64_STANDARD: GeneralPurpose = GeneralPurpose::new(&alphabet::STANDARD, B64_CONFIG);
const B64_URL_SAFE: GeneralPurpose = GeneralPurpose::new(&alphabet::URL_SAFE, B64_CONFIG);

/// One decoded segment: its decoded text and where it sits in the original.
#[derive(Debug)]
pub(crate) struct Piece {
    pub(crate) text: String,
    pub(crate) orig: std::ops::Range<usize>,
}

/// Accepts decoded bytes as text if they are UTF-8, at least `min_chars` long, at most
/// 10% control characters and contain a letter.
pub(crate) fn plausible_text(bytes: Vec<u8>, min_chars: usize) -> Option<String> {
    let s = String::from_utf8(bytes).ok()?;
    let (mut chars, mut bad, mut letters) = (0usize, 0usize, 0usize);
    for c in s.chars() {
        chars += 1;
        if (c.is_control() && !c.is_whitespace()) || c == '\u{FFFD}' {
            bad += 1;
        } else if c.is_alphabetic() {
            letters += 1;
        }
    }
    (chars >= min_chars && bad * 10 <= chars && letters > 0).then_some(s)
}

const B64_CHARS: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        t[b] = c.is_ascii_alphanumeric() || matches!(c, b'+' | b'/' | b'-' | b'_');
        b += 1;
    }
    t
};

fn is_b64(b: u8) -> bool {
    B64_CHARS[b as usize]
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

fn decode_hex(s: &[u8]) -> Option<Vec<u8>> {
    s.chunks_exact(2).map(|p| Some(hex_val(p[0])? << 4 | hex_val(p[1])?)).collect()
}

/// Bounds for one scan.
pub(crate) struct Scan<'l> {
    pub(crate) min_base64_len: usize,
    pub(crate) min_hex_len: usize,
    pub(crate) min_chars: usize,
    /// Decoded bytes still allowed (shared across all depths).
    pub(crate) budget: &'l mut usize,
}

impl Scan<'_> {
    fn take(&mut self, n: usize) -> bool {
        if n <= *self.budget {
            *self.budget -= n;
            true
        } else {
            false
        }
    }

    /// Base64 and hex segments of `raw` (maximal runs of the base64 alphabet).
    ///
    /// Runs shorter than the smaller minimum length are skipped without reading all
    /// their bytes: with no unprocessed run starting before `i`, a byte outside the
    /// alphabet at `i + m - 1` rules out a long enough run starting in `i..i + m`.
    pub(crate) fn base64_hex(&mut self, raw: &str, base: &Base, b64: &mut Vec<Piece>, hex: &mut Vec<Piece>) {
        let bytes = raw.as_bytes();
        let n = bytes.len();
        let m = self.min_hex_len.min(self.min_base64_len).max(1);
        let mut i = 0;
        while i + m <= n {
            if *self.budget == 0 {
                return;
            }
            let probe = i + m - 1;
            if !is_b64(bytes[probe]) {
                i = probe + 1;
                continue;
            }
            // The run through `probe`: back to its start (not before `i`), then forward.
            let mut start = probe;
            while start > i && is_b64(bytes[start - 1]) {
                start -= 1;
            }
            i = probe + 1;
            while i < n && is_b64(bytes[i]) {
                i += 1;
            }
            let end = i;
            while i < n && bytes[i] == b'=' {
                i += 1;
            }
            let run = &bytes[start..end];
            if run.len() < m {
                continue;
            }
            let all_hex = run.iter().all(|b| b.is_ascii_hexdigit());
            if all_hex && run.len() >= self.min_hex_len && run.len() % 2 == 0 && self.take(run.len() / 2) {
                match decode_hex(run).and_then(|v| plausible_text(v, self.min_chars)) {
                    Some(text) => {
                        *self.budget += run.len() / 2 - text.len();
                        hex.push(Piece { text, orig: base.range(start..i) });
                        continue;
                    }
                    None => *self.budget += run.len() / 2,
                }
            }
            if run.len() < self.min_base64_len {
                continue;
            }
            let usable = if run.len() % 4 == 1 { &run[..run.len() - 1] } else { run };
            let est = usable.len() / 4 * 3 + 2;
            if !self.take(est) {
                continue;
            }
            let engine = if usable.iter().any(|b| matches!(b, b'-' | b'_')) { &B64_URL_SAFE } else { &B64_STANDARD };
            match engine.decode(usable).ok().and_then(|v| plausible_text(v, self.min_chars)) {
                Some(text) => {
                    *self.budget += est.saturating_sub(text.len());
                    b64.push(Piece { text, orig: base.range(start..i) });
                }
                None => *self.budget += est,
            }
        }
    }

    /// Percent-encoded segments: whitespace-delimited runs containing `%XX` escapes.
    pub(crate) fn url(&mut self, raw: &str, base: &Base, out: &mut Vec<Piece>) {
        let bytes = raw.as_bytes();
        let mut done = 0; // everything before this has been consumed
        for p in memchr::memchr_iter(b'%', bytes) {
            if p < done || *self.budget == 0 {
                continue;
            }
            if p + 2 >= bytes.len() {
                continue;
            }
            if hex_val(bytes[p + 1]).is_none() || hex_val(bytes[p + 2]).is_none() {
                continue;
            }
            let mut start = p;
            while start > done && !bytes[start - 1].is_ascii_whitespace() {
                start -= 1;
            }
            let mut end = p;
            while end < bytes.len() && !bytes[end].is_ascii_whitespace() {
                end += 1;
            }
            done = end;
            let run = &bytes[start..end];
            if !self.take(run.len()) {
                continue;
            }
            let mut dec = Vec::with_capacity(run.len());
            let mut k = 0;
            while k < run.len() {
                if run[k] == b'%'
                    && k + 2 < run.len()
                    && let (Some(h), Some(l)) = (hex_val(run[k + 1]), hex_val(run[k + 2]))
                {
                    dec.push(h << 4 | l);
                    k += 3;
                } else {
                    dec.push(run[k]);
                    k += 1;
                }
            }
            match plausible_text(dec, self.min_chars) {
                Some(text) => {
                    *self.budget += run.len() - text.len();
                    out.push(Piece { text, orig: base.range(start..end) });
                }
                None => *self.budget += run.len(),
            }
        }
    }
}

/// Common English words (several instruction-injection terms). A token whose
/// rot13 is one of these, and which is not one itself, is a rot13 hit.
const WORDS: &[&str] = &[
    "about",
    "above",
    "access",
    "act",
    "admin",
    "administrator",
    "after",
    "again",
    "all",
    "also",
    "am",
    "and",
    "answer",
    "any",
    "api",
    "are",
    "as",
    "assistant",
    "at",
    "be",
    "been",
    "before",
    "being",
    "below",
    "bomb",
    "but",
    "by",
    "bypass",
    "can",
    "code",
    "command",
    "confidential",
    "credentials",
    "data",
    "decode",
    "delete",
    "developer",
    "disregard",
    "do",
    "does",
    "else",
    "email",
    "encode",
    "every",
    "everything",
    "execute",
    "file",
    "files",
    "filter",
    "filters",
    "follow",
    "following",
    "for",
    "forget",
    "from",
    "give",
    "guidelines",
    "hack",
    "have",
    "he",
    "hello",
    "her",
    "here",
    "hidden",
    "his",
    "how",
    "if",
    "ignore",
    "in",
    "instead",
    "instruction",
    "instructions",
    "internal",
    "into",
    "is",
    "it",
    "jailbreak",
    "just",
    "key",
    "kill",
    "link",
    "make",
    "me",
    "message",
    "mode",
    "more",
    "most",
    "must",
    "my",
    "new",
    "no",
    "not",
    "now",
    "of",
    "on",
    "only",
    "or",
    "other",
    "our",
    "output",
    "over",
    "override",
    "own",
    "password",
    "passwords",
    "please",
    "policy",
    "pretend",
    "previous",
    "print",
    "prior",
    "private",
    "prompt",
    "prompts",
    "question",
    "repeat",
    "reply",
    "respond",
    "response",
    "restrictions",
    "reveal",
    "rule",
    "rules",
    "run",
    "safety",
    "same",
    "say",
    "secret",
    "secrets",
    "send",
    "she",
    "shell",
    "should",
    "show",
    "so",
    "some",
    "such",
    "system",
    "task",
    "tell",
    "text",
    "than",
    "that",
    "the",
    "their",
    "them",
    "then",
    "there",
    "they",
    "this",
    "to",
    "token",
    "too",
    "translate",
    "under",
    "unrestricted",
    "url",
    "us",
    "user",
    "very",
    "was",
    "we",
    "weapon",
    "were",
    "what",
    "when",
    "where",
    "which",
    "who",
    "why",
    "will",
    "with",
    "world",
    "would",
    "write",
    "yes",
    "you",
    "your",
];

/// Bit `b` of `PREFIXES[a]`: some word starts with letters `a`, `b` (a cheap filter
/// before the binary search).
const PREFIXES: [u32; 26] = {
    let mut t = [0u32; 26];
    let mut i = 0;
    while i < WORDS.len() {
        let w = WORDS[i].as_bytes();
        t[(w[0] - b'a') as usize] |= 1 << (w[1] - b'a');
        i += 1;
    }
    t
};

fn may_be_word(w: &[u8]) -> bool {
    w.len() >= 2 && PREFIXES[(w[0] - b'a') as usize] & (1 << (w[1] - b'a')) != 0
}

/// Filters on the rot13 of a token, indexed by the token's letters (`0..26`): bit `c`
/// of `ROT_TRIGRAMS[26 * a + b]` is set if some word of ≥ 3 letters starts with
/// rot13(`a b c`); bit `b` of `ROT_BIGRAMS[a]` if rot13(`a b`) is a word.
const ROT_TRIGRAMS: [u32; 26 * 26] = {
    let mut t = [0u32; 26 * 26];
    let mut i = 0;
    while i < WORDS.len() {
        let w = WORDS[i].as_bytes();
        if w.len() >= 3 {
            let r = [
                ((w[0] - b'a' + 13) % 26) as usize,
                ((w[1] - b'a' + 13) % 26) as usize,
                ((w[2] - b'a' + 13) % 26) as usize,
            ];
            t[26 * r[0] + r[1]] |= 1 << r[2];
        }
        i += 1;
    }
    t
};

/// See [`ROT_TRIGRAMS`].
const ROT_BIGRAMS: [u32; 26] = {
    let mut t = [0u32; 26];
    let mut i = 0;
    while i < WORDS.len() {
        let w = WORDS[i].as_bytes();
        if w.len() == 2 {
            t[((w[0] - b'a' + 13) % 26) as usize] |= 1 << ((w[1] - b'a' + 13) % 26);
        }
        i += 1;
    }
    t
};

/// Whether the rot13 of the lowercase token starting at `s` may be a word: a filter on
/// its first two or three letters (every token that is one passes).
fn rot_may_be_word(bytes: &[u8], s: usize) -> bool {
    let letter = |k: usize| bytes.get(s + k).filter(|c| c.is_ascii_lowercase()).map(|c| u32::from(c - b'a'));
    match (letter(0), letter(1), letter(2)) {
        (Some(a), Some(b), Some(c)) => ROT_TRIGRAMS.get((26 * a + b) as usize).is_some_and(|t| t >> c & 1 != 0),
        (Some(a), Some(b), None) => ROT_BIGRAMS.get(a as usize).is_some_and(|t| t >> b & 1 != 0),
        _ => false,
    }
}

const fn word_hash(w: &[u8]) -> usize {
    let mut h: u32 = 0x811c_9dc5;
    let mut i = 0;
    while i < w.len() {
        h = (h ^ w[i] as u32).wrapping_mul(0x0100_0193);
        i += 1;
    }
    (h as usize) & (WORD_SLOTS - 1)
}

const WORD_SLOTS: usize = 1024;

/// Open-addressing hash set of [`WORDS`]: slot holds word index + 1, 0 if empty.
const WORD_TABLE: [u8; WORD_SLOTS] = {
    assert!(WORDS.len() < 255);
    let mut t = [0u8; WORD_SLOTS];
    let mut i = 0;
    while i < WORDS.len() {
        let mut h = word_hash(WORDS[i].as_bytes());
        while t[h] != 0 {
            h = (h + 1) & (WORD_SLOTS - 1);
        }
        t[h] = (i + 1) as u8;
        i += 1;
    }
    t
};

fn is_word(w: &[u8]) -> bool {
    let mut h = word_hash(w);
    loop {
        match WORD_TABLE[h] {
            0 => return false,
            k => {
                if WORDS[k as usize - 1].as_bytes() == w {
                    return true;
                }
            }
        }
        h = (h + 1) & (WORD_SLOTS - 1);
    }
}

const ROT13: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        t[b] = match c {
            b'a'..=b'z' => (c - b'a' + 13) % 26 + b'a',
            b'A'..=b'Z' => (c - b'A' + 13) % 26 + b'A',
            _ => c,
        };
        b += 1;
    }
    t
};

fn rot13_byte(b: u8) -> u8 {
    ROT13[b as usize]
}

/// Byte ranges of `text` (lowercase, canonical) that look like rot13 English: clusters
/// of tokens decoding to common words (≥ 2 hits within 3 tokens of each other, or one
/// hit of ≥ 8 letters).
pub(crate) fn rot13_spans(text: &str) -> Vec<std::ops::Range<usize>> {
    let bytes = text.as_bytes();
    let mut spans = Vec::new();
    let mut cluster: Option<(usize, usize, usize, usize)> = None; // start, end, hits, longest
    let mut last_hit = 0; // token index of the last hit (when `cluster` is set)
    let mut idx = 0; // index of the next token
    let mut carry = 0u64;
    let mut buf = [0u8; 16];
    let close = |c: Option<(usize, usize, usize, usize)>, spans: &mut Vec<_>| {
        if let Some((s, e, hits, longest)) = c
            && (hits >= 2 || longest >= 8)
        {
            spans.push(s..e);
        }
    };
    // Tokens are runs of lowercase letters, found by their starts; only those whose
    // first letters rot13 to a word's are read further.
    swar::for_each_block(
        bytes,
        |w| swar::in_range(w, b'a', b'z'),
        |base, bits| {
            let mut starts = bits & !((bits << 1) | carry);
            carry = bits >> 63;
            while starts != 0 {
                let s = base + starts.trailing_zeros() as usize;
                starts &= starts - 1;
                let this = idx;
                idx += 1;
                if !rot_may_be_word(bytes, s) {
                    continue;
                }
                let len = bytes[s..].iter().take(17).take_while(|c| c.is_ascii_lowercase()).count();
                let Some(tok) = bytes.get(s..s + len).filter(|t| t.len() <= 16) else { continue };
                for (d, &c) in buf.iter_mut().zip(tok) {
                    *d = rot13_byte(c);
                }
                let rot = &buf[..tok.len()];
                if !is_word(rot) || (may_be_word(tok) && is_word(tok)) {
                    continue;
                }
                let e = s + len;
                cluster = match cluster {
                    Some((cs, _, h, l)) if this - last_hit - 1 <= 3 => Some((cs, e, h + 1, l.max(len))),
                    other => {
                        close(other, &mut spans);
                        Some((s, e, 1, len))
                    }
                };
                last_hit = this;
            }
        },
    );
    close(cluster, &mut spans);
    spans
}

/// Appends the rot13 of `spans` of a view (`text`, `map`) to `out`, mapped like the view.
pub(crate) fn push_rot13(text: &str, map: &OffsetMap, spans: &[std::ops::Range<usize>], out: &mut ViewBuilder) {
    for span in spans {
        if out.len() > 0 {
            out.push_atomic("\n", map.to_original(span.clone()));
        }
        let rotated: String = text[span.clone()]
            .chars()
            .map(|c| if c.is_ascii() { char::from(rot13_byte(c as u8)) } else { c })
            .collect();
        out.push_mapped(&rotated, map, span.clone());
    }
}

/// The base64/hex scan and rot13 detection before their fast paths (commit 2c43817),
/// kept to check that the fast paths do not change the output.
#[cfg(test)]
pub(crate) mod reference {
    #![allow(clippy::all)]

    use super::*;

    pub(crate) fn base64_hex_ref(
        scan: &mut Scan<'_>,
        raw: &str,
        base: &Base,
        b64: &mut Vec<Piece>,
        hex: &mut Vec<Piece>,
    ) {
        let bytes = raw.as_bytes();
        let n = bytes.len();
        let mut i = 0;
        while i < n {
            if !is_b64(bytes[i]) {
                i += 1;
                continue;
            }
            let start = i;
            while i < n && is_b64(bytes[i]) {
                i += 1;
            }
            let end = i;
            while i < n && bytes[i] == b'=' {
                i += 1;
            }
            let run = &bytes[start..end];
            if *scan.budget == 0 || run.len() < scan.min_hex_len.min(scan.min_base64_len) {
                continue;
            }
            let all_hex = run.iter().all(|b| b.is_ascii_hexdigit());
            if all_hex && run.len() >= scan.min_hex_len && run.len() % 2 == 0 && scan.take(run.len() / 2) {
                match decode_hex(run).and_then(|v| plausible_text(v, scan.min_chars)) {
                    Some(text) => {
                        *scan.budget += run.len() / 2 - text.len();
                        hex.push(Piece { text, orig: base.range(start..i) });
                        continue;
                    }
                    None => *scan.budget += run.len() / 2,
                }
            }
            if run.len() < scan.min_base64_len {
                continue;
            }
            let usable = if run.len() % 4 == 1 { &run[..run.len() - 1] } else { run };
            let est = usable.len() / 4 * 3 + 2;
            if !scan.take(est) {
                continue;
            }
            let engine = if usable.iter().any(|b| matches!(b, b'-' | b'_')) { &B64_URL_SAFE } else { &B64_STANDARD };
            match engine.decode(usable).ok().and_then(|v| plausible_text(v, scan.min_chars)) {
                Some(text) => {
                    *scan.budget += est.saturating_sub(text.len());
                    b64.push(Piece { text, orig: base.range(start..i) });
                }
                None => *scan.budget += est,
            }
        }
    }

    pub(crate) fn rot13_spans_ref(text: &str) -> Vec<std::ops::Range<usize>> {
        let bytes = text.as_bytes();
        let mut spans = Vec::new();
        let mut cluster: Option<(usize, usize, usize, usize)> = None; // start, end, hits, longest
        let mut since_hit = 0;
        let mut i = 0;
        let mut buf = [0u8; 16];
        let close = |c: Option<(usize, usize, usize, usize)>, spans: &mut Vec<_>| {
            if let Some((s, e, hits, longest)) = c
                && (hits >= 2 || longest >= 8)
            {
                spans.push(s..e);
            }
        };
        while i < bytes.len() {
            if !bytes[i].is_ascii_lowercase() {
                i += 1;
                continue;
            }
            let s = i;
            while i < bytes.len() && bytes[i].is_ascii_lowercase() {
                i += 1;
            }
            let tok = &bytes[s..i];
            let hit = (2..=16).contains(&tok.len()) && may_be_word(&[rot13_byte(tok[0]), rot13_byte(tok[1])]) && {
                for (d, &b) in buf.iter_mut().zip(tok) {
                    *d = rot13_byte(b);
                }
                let rot = &buf[..tok.len()];
                may_be_word(rot) && is_word(rot) && !is_word(tok)
            };
            if hit {
                cluster = match cluster {
                    Some((cs, _, h, l)) if since_hit <= 3 => Some((cs, i, h + 1, l.max(tok.len()))),
                    other => {
                        close(other, &mut spans);
                        Some((s, i, 1, tok.len()))
                    }
                };
                since_hit = 0;
            } else {
                since_hit += 1;
            }
        }
        close(cluster, &mut spans);
        spans
    }
}
