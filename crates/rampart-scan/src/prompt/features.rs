//! Feature extraction for the prompt-attack classifier, shared by inference and
//! training so the two can never disagree: hashed word unigrams and bigrams of a
//! normalized view, the rules that fired, and a few dense signals.
//!
//! Hashing is a multiply-rotate hash over each token's bytes (eight at a time, little
//! endian) with a fixed mixing step, identical on every platform, so committed weights
//! mean the same thing everywhere. Tokens are maximal runs of alphanumeric characters;
//! the view is already lowercased and folded.

/// Number of dense features.
pub const DENSE: usize = 2;

/// Index of the adversarial-suffix signal among the dense features.
pub const DENSE_GIBBERISH_TAIL: usize = 0;
/// Index of the length signal among the dense features.
pub const DENSE_LENGTH: usize = 1;

/// Features of one text.
#[derive(Debug, Clone, Default)]
pub struct Features {
    /// Hashed feature buckets in text order (unigram, then the bigram ending there),
    /// repeats kept.
    pub hashed: Vec<u32>,
    /// Rules that fired (indices into the rule table).
    pub rules: Vec<usize>,
    /// Dense signals, each in [0, 1].
    pub dense: [f32; DENSE],
}

const SEED: u64 = 0x243f_6a88_85a3_08d3;
const MUL: u64 = 0x517c_c1b7_2722_0a95;
const BIGRAM_SALT: u64 = 0x9e37_79b9_7f4a_7c15;

#[inline]
fn bucket(h: u64, bits: u32) -> u32 {
    let mixed = (h ^ (h >> 31)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    (mixed >> (64 - bits)) as u32
}

/// Hash of a token's bytes, eight bytes per multiply.
#[inline]
fn hash_bytes(bytes: &[u8]) -> u64 {
    let mut h = SEED ^ bytes.len() as u64;
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        h = (h.rotate_left(5) ^ u64::from_le_bytes(word)).wrapping_mul(MUL);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut word = [0u8; 8];
        if let Some(dst) = word.get_mut(..rest.len()) {
            dst.copy_from_slice(rest);
        }
        h = (h.rotate_left(5) ^ u64::from_le_bytes(word)).wrapping_mul(MUL);
    }
    h
}

/// Whether the char starting at byte `i` of `text` is part of a token, and its length
/// (1 past the end).
#[inline]
fn token_char(text: &str, i: usize) -> (bool, usize) {
    match text.as_bytes().get(i) {
        Some(&b) if b < 0x80 => (b.is_ascii_alphanumeric(), 1),
        Some(_) => {
            text.get(i..).and_then(|s| s.chars().next()).map_or((false, 1), |c| (c.is_alphanumeric(), c.len_utf8()))
        }
        None => (false, 1),
    }
}

/// Byte classes: 0 separator (ASCII), 1 ASCII letter or digit, 2 non-ASCII byte.
const CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        t[b] = if b >= 0x80 {
            2
        } else if (b as u8).is_ascii_alphanumeric() {
            1
        } else {
            0
        };
        b += 1;
    }
    t
};

/// Appends the hashed unigrams and bigrams of `text` to `out`.
pub fn hash_tokens(text: &str, bits: u32, out: &mut Vec<u32>) {
    for_each_bucket(text, bits, |b| out.push(b));
}

/// Calls `emit` with the bucket of each hashed unigram and bigram of `text`, in text
/// order (a token's unigram, then the bigram ending at it): the entries
/// [`hash_tokens`] collects, without the vector.
#[inline]
pub fn for_each_bucket(text: &str, bits: u32, mut emit: impl FnMut(u32)) {
    let bytes = text.as_bytes();
    let mut prev: Option<u64> = None;
    let token = |range: std::ops::Range<usize>| {
        let h = hash_bytes(bytes.get(range).unwrap_or_default());
        emit(bucket(h, bits));
        if let Some(p) = prev {
            emit(bucket(p.rotate_left(17) ^ h.wrapping_mul(BIGRAM_SALT), bits));
        }
        prev = Some(h);
    };
    if text.is_ascii() {
        ascii_tokens(bytes, token);
    } else {
        unicode_tokens(text, token);
    }
}

/// The tokens (maximal runs of ASCII letters and digits) of an ASCII text, found 64
/// bytes at a time: a bit mask of token bytes, then its runs by bit counting, with no
/// branch per byte.
#[inline]
fn ascii_tokens(bytes: &[u8], mut token: impl FnMut(std::ops::Range<usize>)) {
    let mut open: Option<usize> = None;
    for (block, chunk) in bytes.chunks(64).enumerate() {
        let base = block * 64;
        let mut mask = 0u64;
        for (j, &b) in chunk.iter().enumerate() {
            mask |= u64::from(CLASS[b as usize] == 1) << j;
        }
        let len = chunk.len() as u32;
        let mut pos = 0u32;
        while pos < len {
            let rest = mask >> pos;
            match open {
                None => {
                    if rest == 0 {
                        break;
                    }
                    pos += rest.trailing_zeros();
                    open = Some(base + pos as usize);
                }
                Some(start) => {
                    pos += rest.trailing_ones();
                    if pos >= len {
                        break; // the run reaches the end of the block: the token goes on
                    }
                    token(start..base + pos as usize);
                    open = None;
                }
            }
        }
    }
    if let Some(start) = open {
        token(start..bytes.len());
    }
}

/// The tokens (maximal runs of alphanumeric characters) of any text.
fn unicode_tokens(text: &str, mut token: impl FnMut(std::ops::Range<usize>)) {
    let bytes = text.as_bytes();
    let n = bytes.len();
    let mut i = 0;
    while i < n {
        let Some(&b) = bytes.get(i) else { break };
        match CLASS[b as usize] {
            0 => {
                i += 1;
                continue;
            }
            1 => {}
            _ => {
                let (alnum, len) = token_char(text, i);
                if !alnum {
                    i += len;
                    continue;
                }
            }
        }
        let start = i;
        while let Some(&b) = bytes.get(i) {
            match CLASS[b as usize] {
                1 => i += 1,
                0 => break,
                _ => {
                    let (alnum, len) = token_char(text, i);
                    if !alnum {
                        break;
                    }
                    i += len;
                }
            }
        }
        token(start..i);
    }
}

/// 1.0 when the text ends in a run that looks like an optimized adversarial suffix,
/// else 0.0 (see [`adversarial_tail`]).
pub fn gibberish_tail(original: &str) -> f32 {
    if adversarial_tail(original).is_some() { 1.0 } else { 0.0 }
}

/// Non-blank characters examined at the end of a text.
const TAIL_CHARS: usize = 16;
/// More blanks than this inside the tail: it is prose or layout, not one suffix.
const TAIL_MAX_BLANKS: usize = 3;

#[derive(Clone, Copy, PartialEq, Eq)]
enum CharKind {
    Upper,
    Lower,
    Digit,
    Symbol,
}

fn char_kind(c: char) -> CharKind {
    if c.is_uppercase() {
        CharKind::Upper
    } else if c.is_alphabetic() {
        CharKind::Lower
    } else if c.is_numeric() {
        CharKind::Digit
    } else {
        CharKind::Symbol
    }
}

/// The byte range of the text's last [`TAIL_CHARS`] non-blank characters when they look
/// like an optimized adversarial suffix (GCG-style: printable ASCII drawn almost at
/// random). Random strings differ from prose, code, tables and math in two ways that
/// survive together only rarely in real text: many distinct punctuation characters in
/// a short span, and "breaks" inside letter runs (a capital after a lowercase letter
/// that does not start a camel-case word, letters glued to digits). Hex identifiers
/// (UUIDs, hashes) are excluded: they mix letters and digits by nature, and so is a
/// text ending in a closing code fence.
pub fn adversarial_tail(original: &str) -> Option<std::ops::Range<usize>> {
    let trimmed = original.trim_end();
    // a text that closes a code block ends in code, whose punctuation is not random
    if trimmed.ends_with("```") {
        return None;
    }
    let mut tail: Vec<char> = Vec::with_capacity(TAIL_CHARS);
    let (mut blanks, mut start) = (0usize, trimmed.len());
    for (i, c) in trimmed.char_indices().rev() {
        if tail.len() == TAIL_CHARS {
            break;
        }
        if c.is_whitespace() {
            blanks += 1;
            if blanks > TAIL_MAX_BLANKS {
                return None;
            }
        } else {
            tail.push(c);
        }
        start = i;
    }
    if tail.len() < TAIL_CHARS {
        return None;
    }
    tail.reverse();
    let kinds: Vec<CharKind> = tail.iter().map(|&c| char_kind(c)).collect();
    let letters = kinds.iter().filter(|k| matches!(k, CharKind::Upper | CharKind::Lower)).count();
    let hex = tail.iter().all(|c| c.is_ascii_hexdigit() || "-\"'{},:[]".contains(*c));
    if letters < 3 || hex {
        return None;
    }
    let mut breaks = 0usize;
    for (j, pair) in kinds.windows(2).enumerate() {
        let (a, b) = (pair[0], pair[1]);
        let camel_word = kinds.get(j + 2) == Some(&CharKind::Lower) && kinds.get(j + 3) == Some(&CharKind::Lower);
        breaks += usize::from(a == CharKind::Lower && b == CharKind::Upper && !camel_word);
        let letter = |k: CharKind| matches!(k, CharKind::Upper | CharKind::Lower);
        breaks += usize::from((letter(a) && b == CharKind::Digit) || (a == CharKind::Digit && letter(b)));
    }
    let mut symbols = [false; 128];
    for &c in &tail {
        if c.is_ascii_punctuation() {
            symbols[c as usize] = true;
        }
    }
    let distinct_symbols = symbols.iter().filter(|&&s| s).count();
    let random =
        (distinct_symbols >= 4 && breaks >= 1) || distinct_symbols >= 6 || (breaks >= 3 && distinct_symbols >= 2);
    random.then_some(start..trimmed.len())
}

/// The length signal: grows with the number of tokens, saturating around 4k tokens.
/// Fewest entries the hashed sum of an instance is normalized by (about 8 tokens:
/// a unigram and a bigram per token). Without a floor, a one-word text is scored by
/// that word's weight undiluted, and the corpus has too few short benign texts to
/// keep words common in attacks ("say", "hello") from scoring greetings as attacks.
pub const MIN_NORMALIZED_ENTRIES: usize = 16;

/// The factor an instance's hashed sum is multiplied by: 1/sqrt of its entry count,
/// at least [`MIN_NORMALIZED_ENTRIES`].
pub fn entry_norm(entries: usize) -> f32 {
    1.0 / (entries.max(MIN_NORMALIZED_ENTRIES) as f32).sqrt()
}

pub fn length_signal(hashed_len: usize) -> f32 {
    ((1.0 + hashed_len as f32).ln() / 9.0).min(1.0)
}

#[cfg(test)]
mod tests {
    use super::{ascii_tokens, unicode_tokens};

    fn both(text: &str) -> (Vec<std::ops::Range<usize>>, Vec<std::ops::Range<usize>>) {
        let (mut fast, mut slow) = (Vec::new(), Vec::new());
        ascii_tokens(text.as_bytes(), |r| fast.push(r));
        unicode_tokens(text, |r| slow.push(r));
        (fast, slow)
    }

    #[test]
    fn the_ascii_tokenizer_finds_the_same_tokens_across_block_edges() {
        let mut texts: Vec<String> = vec![String::new(), " ".repeat(200), "a".repeat(64), "a".repeat(200)];
        // tokens of every length, so that some start, end or straddle each 64-byte edge
        for len in [1usize, 2, 7, 63, 64, 65, 130] {
            for sep in [" ", "--", ".\n\t"] {
                let mut t = String::new();
                for i in 0..40 {
                    let n = len + i % 3;
                    t.push_str(&"x9".repeat(n.div_ceil(2))[..n]);
                    t.push_str(sep);
                }
                texts.push(t.clone());
                texts.push(t.trim_end().to_string());
                texts.push(format!("?{t}"));
            }
        }
        for text in &texts {
            let (fast, slow) = both(text);
            assert_eq!(fast, slow, "text of {} bytes", text.len());
        }
    }
}
