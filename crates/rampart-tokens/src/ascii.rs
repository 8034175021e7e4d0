//! The fast path for ASCII text: tiktoken's split of text into pieces, written out by
//! hand for ASCII input instead of run through `fancy-regex` (about 80% of tiktoken-rs's
//! time on English prose), followed by the same byte-pair merge over the same
//! vocabulary. The count is the one tiktoken gives, character for character; the module's
//! tests check that against tiktoken on generated and real text.
//!
//! On ASCII input the split patterns reduce to byte classes: letters `A-Za-z` (upper and
//! lower case matter to `o200k_base`), digits, whitespace (`\t \n \x0b \x0c \r` and space,
//! Unicode's `White_Space` restricted to ASCII) and everything else, "punctuation".

use rustc_hash::FxHashMap;
use tiktoken_rs::{CoreBPE, Rank};

use crate::encoding::tiktoken_count;

/// Which split pattern to follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Split {
    /// `o200k_base`'s pattern.
    O200k,
    /// `cl100k_base`'s pattern.
    Cl100k,
}

/// The ranks of the vocabulary's ASCII tokens (the only ones a piece of ASCII text can
/// contain), and the split to apply.
pub(crate) struct AsciiCounter {
    ranks: FxHashMap<Vec<u8>, Rank>,
    split: Split,
}

/// Above every ordinary rank of `o200k_base` and `cl100k_base`.
const MAX_RANK: Rank = 210_000;

/// About how many ASCII tokens the vocabularies have (o200k_base ~129k, cl100k_base ~95k).
const ASCII_TOKENS_HINT: usize = 131_072;

/// Pieces at least this long go to tiktoken's own merge (it switches to a heap-based merge
/// there; the quadratic one that `byte_pair_split` uses is for short pieces).
const LONG_PIECE: usize = 100;

impl AsciiCounter {
    /// Collects the ASCII tokens of `bpe` (special tokens excluded).
    pub(crate) fn new(bpe: &CoreBPE, split: Split) -> AsciiCounter {
        let specials = bpe.special_tokens();
        let mut ranks = FxHashMap::with_capacity_and_hasher(ASCII_TOKENS_HINT, Default::default());
        for rank in 0..MAX_RANK {
            let Ok(bytes) = bpe.decode_bytes(&[rank]) else { continue };
            // Special tokens (`<|endoftext|>`…) are ASCII but never ordinary text.
            let special = bytes.starts_with(b"<|") && std::str::from_utf8(&bytes).is_ok_and(|s| specials.contains(s));
            if bytes.is_ascii() && !special {
                ranks.insert(bytes, rank);
            }
        }
        AsciiCounter { ranks, split }
    }

    /// The token count of `text`, which must be ASCII (the caller checks).
    pub(crate) fn count(&self, bpe: &CoreBPE, text: &str) -> u64 {
        let bytes = text.as_bytes();
        let mut total = 0u64;
        let mut start = 0;
        while start < bytes.len() {
            let end = match self.split {
                Split::O200k => next_piece_o200k(bytes, start),
                Split::Cl100k => next_piece_cl100k(bytes, start),
            };
            total += self.piece_tokens(bpe, text, start, end);
            start = end;
        }
        total
    }

    fn piece_tokens(&self, bpe: &CoreBPE, text: &str, start: usize, end: usize) -> u64 {
        let piece = &text.as_bytes()[start..end];
        if piece.len() <= 1 || self.ranks.contains_key(piece) {
            return 1;
        }
        if piece.len() < LONG_PIECE {
            return tiktoken_rs::byte_pair_split(piece, &self.ranks).len() as u64;
        }
        // tiktoken splits a piece, alone, into that same piece (it is one match of the
        // pattern and nothing follows it), so this is the piece's own merge.
        tiktoken_count(bpe, &text[start..end])
    }

    /// How many ASCII tokens the vocabulary has (memory use is about 40 bytes each).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.ranks.len()
    }
}

fn is_space(b: u8) -> bool {
    matches!(b, b'\t' | b'\n' | 0x0b | 0x0c | b'\r' | b' ')
}

fn is_newline(b: u8) -> bool {
    b == b'\r' || b == b'\n'
}

/// `[^\s\p{L}\p{N}]`
fn is_punct(b: u8) -> bool {
    !is_space(b) && !b.is_ascii_alphanumeric()
}

/// `[^\r\n\p{L}\p{N}]`: the optional character before a word.
fn is_word_prefix(b: u8) -> bool {
    !is_newline(b) && !b.is_ascii_alphanumeric()
}

fn at(bytes: &[u8], i: usize) -> Option<u8> {
    bytes.get(i).copied()
}

fn run(bytes: &[u8], mut i: usize, class: impl Fn(u8) -> bool) -> usize {
    while at(bytes, i).is_some_and(&class) {
        i += 1;
    }
    i
}

/// The end of the whitespace piece starting at `i` under the alternatives both patterns
/// share after their own: `\s*[\r\n]+` (up to the run's last newline), then
/// `\s+(?!\S)` (the run less its last character, unless the run ends the text), then
/// `\s+` / `\s` (a run of one).
fn whitespace_piece(bytes: &[u8], i: usize, run_end: usize) -> usize {
    if let Some(last_newline) = (i..run_end).rev().find(|&k| is_newline(bytes[k])) {
        return last_newline + 1;
    }
    if run_end == bytes.len() || run_end - i == 1 { run_end } else { run_end - 1 }
}

/// The end of the piece starting at `i` under `o200k_base`'s pattern:
///
/// ```text
/// [^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?
/// | [^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?
/// | \p{N}{1,3} | ' '?[^\s\p{L}\p{N}]+[\r\n/]* | \s*[\r\n]+ | \s+(?!\S) | \s+
/// ```
///
/// On ASCII the first two alternatives together are: an optional prefix character, the
/// run of upper-case letters, the run of lower-case letters (at least one letter in all),
/// and an optional contraction.
fn next_piece_o200k(bytes: &[u8], i: usize) -> usize {
    let c = bytes[i];
    let word_start =
        if is_word_prefix(c) && at(bytes, i + 1).is_some_and(|b| b.is_ascii_alphabetic()) { i + 1 } else { i };
    if bytes[word_start].is_ascii_alphabetic() {
        let upper_end = run(bytes, word_start, |b| b.is_ascii_uppercase());
        let lower_end = run(bytes, upper_end, |b| b.is_ascii_lowercase());
        return contraction_end(bytes, lower_end);
    }
    if c.is_ascii_digit() {
        return digits_end(bytes, i);
    }
    let punct_start = if c == b' ' && at(bytes, i + 1).is_some_and(is_punct) { i + 1 } else { i };
    if is_punct(bytes[punct_start]) {
        let punct_end = run(bytes, punct_start, is_punct);
        return run(bytes, punct_end, |b| is_newline(b) || b == b'/');
    }
    whitespace_piece(bytes, i, run(bytes, i, is_space))
}

/// The end of the piece starting at `i` under `cl100k_base`'s pattern:
///
/// ```text
/// '(?i:[sdmt]|ll|ve|re) | [^\r\n\p{L}\p{N}]?+\p{L}++ | \p{N}{1,3}+ | ' '?[^\s\p{L}\p{N}]++[\r\n]*+
/// | \s++$ | \s*[\r\n] | \s+(?!\S) | \s
/// ```
fn next_piece_cl100k(bytes: &[u8], i: usize) -> usize {
    let c = bytes[i];
    if c == b'\'' {
        let end = contraction_end(bytes, i);
        if end > i {
            return end;
        }
    }
    if c.is_ascii_alphabetic() {
        return run(bytes, i, |b| b.is_ascii_alphabetic());
    }
    // The prefix is possessive: a prefix character not followed by a letter fails the
    // alternative rather than being retried without it (which could not match anyway).
    if is_word_prefix(c) && at(bytes, i + 1).is_some_and(|b| b.is_ascii_alphabetic()) {
        return run(bytes, i + 1, |b| b.is_ascii_alphabetic());
    }
    if c.is_ascii_digit() {
        return digits_end(bytes, i);
    }
    let punct_start = if c == b' ' && at(bytes, i + 1).is_some_and(is_punct) { i + 1 } else { i };
    if is_punct(bytes[punct_start]) {
        let punct_end = run(bytes, punct_start, is_punct);
        return run(bytes, punct_end, is_newline);
    }
    let run_end = run(bytes, i, is_space);
    if run_end == bytes.len() {
        return run_end; // \s++$
    }
    whitespace_piece(bytes, i, run_end)
}

/// `\p{N}{1,3}`
fn digits_end(bytes: &[u8], i: usize) -> usize {
    let mut end = i;
    while end < i + 3 && at(bytes, end).is_some_and(|b| b.is_ascii_digit()) {
        end += 1;
    }
    end
}

/// The end of a contraction (`'s 't 're 've 'm 'll 'd`, any case) starting at `i`, or `i`.
fn contraction_end(bytes: &[u8], i: usize) -> usize {
    if at(bytes, i) != Some(b'\'') {
        return i;
    }
    let lower = |k: usize| at(bytes, k).map(|b| b.to_ascii_lowercase());
    match (lower(i + 1), lower(i + 2)) {
        (Some(b's' | b't' | b'm' | b'd'), _) => i + 2,
        (Some(b'r' | b'v'), Some(b'e')) | (Some(b'l'), Some(b'l')) => i + 3,
        _ => i,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bpe(split: Split) -> CoreBPE {
        match split {
            Split::O200k => tiktoken_rs::o200k_base().unwrap(),
            Split::Cl100k => tiktoken_rs::cl100k_base().unwrap(),
        }
    }

    fn pieces(split: Split, text: &str) -> Vec<&str> {
        let bytes = text.as_bytes();
        let mut out = Vec::new();
        let mut start = 0;
        while start < bytes.len() {
            let end = match split {
                Split::O200k => next_piece_o200k(bytes, start),
                Split::Cl100k => next_piece_cl100k(bytes, start),
            };
            assert!(end > start, "no progress at {start} in {text:?}");
            out.push(&text[start..end]);
            start = end;
        }
        out
    }

    #[test]
    fn splits_like_the_patterns() {
        assert_eq!(
            pieces(Split::Cl100k, "I'll don't  go!\n\n x"),
            ["I", "'ll", " don", "'t", " ", " go", "!\n\n", " x"]
        );
        assert_eq!(pieces(Split::O200k, "I'll don't  go!\n\n x"), ["I'll", " don't", " ", " go", "!\n\n", " x"]);
        assert_eq!(
            pieces(Split::O200k, "HTMLParser camelCase 12345 a/b//\n"),
            ["HTMLParser", " camel", "Case", " ", "123", "45", " a", "/b", "//\n"]
        );
        assert_eq!(pieces(Split::Cl100k, "x  \n  "), ["x", "  \n  "]);
        assert_eq!(pieces(Split::O200k, "x  \n  "), ["x", "  \n", "  "]);
        assert_eq!(pieces(Split::Cl100k, "'sa 'Re"), ["'s", "a", " '", "Re"]);
    }

    /// A deterministic generator (no dependency on `rand`).
    struct Lcg(u64);
    impl Lcg {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            self.0 >> 33
        }
    }

    #[test]
    fn counts_like_tiktoken_on_generated_ascii() {
        // Fragments chosen to hit every alternative and their interplay: contractions in
        // both cases, camel case, digit runs, punctuation before words and newlines,
        // slashes, every ASCII whitespace, control characters, runs at the text's end.
        let fragments: [&str; 40] = [
            "a",
            "Z",
            "the",
            "The",
            "THE",
            "HTTPServer",
            "camelCase",
            "'s",
            "'S",
            "'ll",
            "'LL",
            "'re",
            "'ve",
            "'m",
            "'d",
            "'t",
            "'x",
            "'",
            "0",
            "42",
            "12345",
            " ",
            "  ",
            "\t",
            "\n",
            "\r\n",
            "\x0b",
            "\x0c",
            "\n\n  ",
            "!",
            "...",
            "/",
            "//",
            "(",
            "\"",
            "\x00",
            "\x1f",
            "\x7f",
            "~`",
            "@#$%",
        ];
        for split in [Split::O200k, Split::Cl100k] {
            let bpe = bpe(split);
            let counter = AsciiCounter::new(&bpe, split);
            let mut rng = Lcg(7);
            for _ in 0..3000 {
                let len = 1 + rng.next() % 24;
                let text: String =
                    (0..len).map(|_| fragments[(rng.next() % fragments.len() as u64) as usize]).collect();
                let expected = bpe.encode_ordinary(&text).len() as u64;
                assert_eq!(counter.count(&bpe, &text), expected, "{split:?} {text:?}");
            }
        }
    }

    #[test]
    fn counts_like_tiktoken_on_random_bytes_and_prose() {
        let prose = include_str!("../benches/prose.txt");
        for split in [Split::O200k, Split::Cl100k] {
            let bpe = bpe(split);
            let counter = AsciiCounter::new(&bpe, split);
            assert!(counter.len() > 50_000, "{split:?}: {} ASCII tokens", counter.len());
            assert_eq!(counter.count(&bpe, prose), bpe.encode_ordinary(prose).len() as u64, "{split:?} prose");
            let mut rng = Lcg(11);
            for _ in 0..2000 {
                let len = 1 + rng.next() % 40;
                let text: String = (0..len).map(|_| char::from((rng.next() % 128) as u8)).collect();
                let expected = bpe.encode_ordinary(&text).len() as u64;
                assert_eq!(counter.count(&bpe, &text), expected, "{split:?} {text:?}");
            }
            // Long pieces take tiktoken's own merge.
            let long = format!("x{} {}!", "abcdefghij".repeat(30), "9".repeat(50));
            assert_eq!(counter.count(&bpe, &long), bpe.encode_ordinary(&long).len() as u64);
        }
    }
}
