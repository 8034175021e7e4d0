//! Tokenizers: which encoding a model uses ([`Encoding::for_model`]), building each
//! tokenizer once, lazily and shared by every thread (with its build time measured, so the
//! gateway can force and report the load at startup), and counting the tokens of a text
//! exactly as tiktoken's `encode_ordinary` does ([`count_text`]).
//!
//! Counting never panics and needs no IO: the vocabularies are compiled into the binary
//! by tiktoken-rs. Long texts are counted in pieces of at most [`MAX_CHUNK`] bytes cut
//! where tiktoken's own split guarantees a piece boundary (see [`split_point`]), which
//! keeps the count exact while bounding the regex engine's work on pathological input.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use tiktoken_rs::CoreBPE;

use crate::ascii::{AsciiCounter, Split};

/// A BPE vocabulary of OpenAI's models.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Encoding {
    /// `o200k_base`: GPT-4o, GPT-4.1, GPT-4.5, GPT-5, the o-series, omni-moderation;
    /// also the approximation used for models of other providers.
    O200k,
    /// `cl100k_base`: GPT-4 (not 4o), GPT-3.5, the `text-embedding-*` models.
    Cl100k,
}

/// Model-name prefixes that use `cl100k_base` (after a provider path and `ft:` are
/// stripped, compared ignoring ASCII case). `gpt-4` itself is matched exactly or as
/// `gpt-4-…`, so that `gpt-4o`, `gpt-4.1` and any later `gpt-4.x` are not taken for it.
const CL100K_PREFIXES: [&str; 6] = ["gpt-4-", "gpt-3.5", "gpt-35", "text-embedding-", "davinci-002", "babbage-002"];

/// Model-name prefixes known to use `o200k_base`.
const O200K_PREFIXES: [&str; 12] = [
    "gpt-4o",
    "gpt-4.1",
    "gpt-4.5",
    "gpt-5",
    "o1",
    "o3",
    "o4",
    "chatgpt-4o",
    "omni-moderation",
    "gpt-oss",
    "codex-",
    "computer-use",
];

impl Encoding {
    /// Every encoding, e.g. to load them all at startup.
    pub const ALL: [Encoding; 2] = [Encoding::O200k, Encoding::Cl100k];

    /// The encoding of an OpenAI model, or `None` for a model this crate does not know
    /// (another provider's, or a new OpenAI family). A provider path (`openai/gpt-4o`, as
    /// routers spell it) and a fine-tune prefix (`ft:gpt-4o-mini:org::id`) are ignored,
    /// and so is ASCII case.
    pub fn lookup(model: &str) -> Option<Encoding> {
        let name = model.rsplit('/').next().unwrap_or(model);
        let name = strip_prefix_ignore_case(name, "ft:").unwrap_or(name);
        if name.eq_ignore_ascii_case("gpt-4") || CL100K_PREFIXES.iter().any(|p| starts_with_ignore_case(name, p)) {
            return Some(Encoding::Cl100k);
        }
        if O200K_PREFIXES.iter().any(|p| starts_with_ignore_case(name, p)) {
            return Some(Encoding::O200k);
        }
        None
    }

    /// The encoding to count a model's tokens with: [`Encoding::lookup`], and `o200k_base`
    /// for unknown models. For other providers' models (Llama, Claude, Mistral, Gemini…),
    /// whose tokenizers differ, `o200k_base` is an approximation: their counts for English
    /// prose are typically within 10–20% of it, and a gateway settles the real figure from
    /// the provider's reported usage afterwards.
    pub fn for_model(model: &str) -> Encoding {
        Encoding::lookup(model).unwrap_or(Encoding::O200k)
    }

    /// tiktoken's name of the encoding (`o200k_base`, `cl100k_base`).
    pub fn name(self) -> &'static str {
        match self {
            Encoding::O200k => "o200k_base",
            Encoding::Cl100k => "cl100k_base",
        }
    }

    /// Builds the tokenizer now if it is not built yet (the first count does it otherwise)
    /// and returns how long its build took, whenever that happened: a gateway calls this at
    /// startup to move the cost (a few hundred milliseconds for `o200k_base` in a release
    /// build) out of the first request, and to report it.
    ///
    /// On error, counting with this encoding falls back to the text's byte length, an upper
    /// bound of its token count. The vocabularies are compiled in, so an error means a
    /// broken build of tiktoken-rs rather than anything about the machine.
    pub fn load(self) -> Result<Duration, TokenizerError> {
        let loaded = loaded(self);
        match &loaded.tokenizer {
            Ok(_) => Ok(loaded.took),
            Err(message) => Err(TokenizerError { encoding: self, message: message.clone() }),
        }
    }

    /// The number of tokens of `text` in this encoding; see [`count_text`].
    pub fn count(self, text: &str) -> u64 {
        count_text(self, text)
    }
}

impl std::fmt::Display for Encoding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A tokenizer that could not be built.
#[derive(Debug, Clone, thiserror::Error)]
#[error("failed to build the {encoding} tokenizer: {message}")]
pub struct TokenizerError {
    /// The encoding that failed.
    pub encoding: Encoding,
    /// What went wrong.
    pub message: String,
}

/// The number of tokens of `text` in `encoding`, exactly as tiktoken's `encode_ordinary`
/// counts them: special-token text such as `<|endoftext|>` counts as ordinary text, the
/// way OpenAI's API treats it in message content.
///
/// Exact, with one exception that needs pathological input: a run of more than
/// [`MAX_CHUNK`] bytes that never has a space after a non-whitespace character (a huge
/// run of spaces or of one letter; CJK text without ASCII spaces) is cut at a character
/// boundary, which can move the count by a token or so per cut. Never panics: should the
/// tokenizer fail anyway, the piece counts as its byte length, an upper bound.
pub fn count_text(encoding: Encoding, text: &str) -> u64 {
    if text.is_empty() {
        return 0;
    }
    let Ok(tokenizer) = &loaded(encoding).tokenizer else {
        return text.len() as u64;
    };
    let mut total = 0u64;
    let mut rest = text;
    while !rest.is_empty() {
        let cut = chunk_end(rest, MAX_CHUNK);
        let (chunk, tail) = rest.split_at(cut);
        total = total.saturating_add(tokenizer.count(chunk));
        rest = tail;
    }
    total
}

/// The most bytes counted in one call of the tokenizer. tiktoken's regex engine has a
/// bounded backtracking stack and fails (tiktoken-rs then panics) on runs of about a
/// megabyte of whitespace; pieces of this size stay far from that, and from BPE's
/// superlinear cost on a single huge word.
pub const MAX_CHUNK: usize = 32 * 1024;

/// Where to end the next chunk of `text`: all of it when it fits in `max` bytes, else the
/// last [`split_point`] within `max` bytes, else (no such point: pathological input) the
/// last character boundary within `max` bytes.
pub(crate) fn chunk_end(text: &str, max: usize) -> usize {
    if text.len() <= max {
        return text.len();
    }
    let mut limit = max;
    while !text.is_char_boundary(limit) {
        limit -= 1;
    }
    match last_split_point(text, 1, limit) {
        Some(at) => at,
        // `limit` is 0 only if `max` is smaller than one character: take that character.
        None if limit == 0 => text.chars().next().map_or(text.len(), char::len_utf8),
        None => limit,
    }
}

/// Whether byte offset `at` of `text` is a place where tiktoken's split of `text`
/// (`o200k_base` and `cl100k_base` alike) always has a piece boundary, so that counting
/// `text[..at]` and `text[at..]` separately gives exactly the count of `text`: `at` holds
/// an ASCII space and the character before it is not whitespace.
///
/// Why: no piece of either split pattern contains a non-whitespace character followed by
/// a space (letters may follow an optional leading character, punctuation is followed
/// only by `\r`, `\n` or `/`, and whitespace pieces start with whitespace), so a piece
/// ends at `at`; the patterns have no look-behind, so the split after `at` does not
/// depend on what precedes it; and the only look-arounds (`(?!\S)`, `$`) give the same
/// answers at `at` whether a space or the end of the text follows.
pub(crate) fn split_point(text: &str, at: usize) -> bool {
    let bytes = text.as_bytes();
    if at == 0 || at >= bytes.len() || bytes[at] != b' ' {
        return false;
    }
    let before = bytes[at - 1];
    if before.is_ascii() {
        !char::from(before).is_whitespace()
    } else {
        text[..at].chars().next_back().is_some_and(|c| !c.is_whitespace())
    }
}

/// The last [`split_point`] in `from..=to` (clamped to the text), if any.
pub(crate) fn last_split_point(text: &str, from: usize, to: usize) -> Option<usize> {
    let to = to.min(text.len().saturating_sub(1));
    let from = from.max(1);
    if from > to {
        return None;
    }
    (from..=to).rev().find(|&at| text.as_bytes()[at] == b' ' && split_point(text, at))
}

/// The first [`split_point`] at or after `from`, if any.
pub(crate) fn next_split_point(text: &str, from: usize) -> Option<usize> {
    let from = from.max(1);
    (from..text.len()).find(|&at| text.as_bytes()[at] == b' ' && split_point(text, at))
}

/// A built tokenizer: tiktoken's, and the ASCII fast path that counts ASCII text with the
/// same vocabulary (see `ascii`).
pub(crate) struct Tokenizer {
    bpe: CoreBPE,
    ascii: AsciiCounter,
}

impl Tokenizer {
    /// Counts one chunk (at most [`MAX_CHUNK`] bytes): stretches of ASCII text, cut at
    /// split points, by the fast path; the stretches between them that hold non-ASCII
    /// characters by tiktoken.
    fn count(&self, chunk: &str) -> u64 {
        let mut total = 0u64;
        let mut rest = chunk;
        while !rest.is_empty() {
            let Some(first_non_ascii) = rest.bytes().position(|b| !b.is_ascii()) else {
                total = total.saturating_add(self.ascii.count(&self.bpe, rest));
                break;
            };
            let start = last_split_point(rest, 1, first_non_ascii).unwrap_or(0);
            if start > 0 {
                total = total.saturating_add(self.ascii.count(&self.bpe, &rest[..start]));
            }
            let end = self.non_ascii_stretch_end(rest, first_non_ascii);
            total = total.saturating_add(tiktoken_count(&self.bpe, &rest[start..end]));
            rest = &rest[end..];
        }
        total
    }

    /// Where the tiktoken-counted stretch that holds the non-ASCII byte at `from` ends:
    /// the next split point after it, extended over any further non-ASCII text that
    /// follows within [`ASCII_GAP`] bytes (one tiktoken call for a whole accented or
    /// mixed-script passage rather than one per word).
    fn non_ascii_stretch_end(&self, text: &str, from: usize) -> usize {
        let mut end = next_split_point(text, from + 1).unwrap_or(text.len());
        while end < text.len() {
            let window = &text.as_bytes()[end..text.len().min(end + ASCII_GAP)];
            let Some(next) = window.iter().position(|b| !b.is_ascii()) else { break };
            end = next_split_point(text, end + next + 1).unwrap_or(text.len());
        }
        end
    }
}

/// ASCII text shorter than this between two non-ASCII characters is counted by tiktoken
/// along with them.
const ASCII_GAP: usize = 256;

/// tiktoken's count of `text`, or its byte length (an upper bound: every token is at least
/// one byte) should tiktoken-rs panic, which it does where its regex engine gives up.
pub(crate) fn tiktoken_count(bpe: &CoreBPE, text: &str) -> u64 {
    catch_unwind(AssertUnwindSafe(|| bpe.encode_ordinary(text).len())).map_or(text.len() as u64, |n| n as u64)
}

struct Loaded {
    tokenizer: Result<Tokenizer, String>,
    took: Duration,
}

fn loaded(encoding: Encoding) -> &'static Loaded {
    static O200K: OnceLock<Loaded> = OnceLock::new();
    static CL100K: OnceLock<Loaded> = OnceLock::new();
    let cell = match encoding {
        Encoding::O200k => &O200K,
        Encoding::Cl100k => &CL100K,
    };
    cell.get_or_init(|| {
        let start = Instant::now();
        let tokenizer = build(encoding);
        Loaded { tokenizer, took: start.elapsed() }
    })
}

fn build(encoding: Encoding) -> Result<Tokenizer, String> {
    // tiktoken-rs parses its compiled-in vocabulary with `unwrap`s: a panic there would
    // mean a corrupt build, but it must not take the gateway down with it.
    let built = catch_unwind(|| match encoding {
        Encoding::O200k => tiktoken_rs::o200k_base(),
        Encoding::Cl100k => tiktoken_rs::cl100k_base(),
    });
    let bpe = match built {
        Ok(Ok(bpe)) => bpe,
        Ok(Err(err)) => return Err(err.to_string()),
        Err(_) => return Err("tiktoken-rs panicked while building the vocabulary".to_owned()),
    };
    let split = match encoding {
        Encoding::O200k => Split::O200k,
        Encoding::Cl100k => Split::Cl100k,
    };
    let ascii = AsciiCounter::new(&bpe, split);
    Ok(Tokenizer { bpe, ascii })
}

fn starts_with_ignore_case(text: &str, prefix: &str) -> bool {
    text.len() >= prefix.len() && text.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
}

fn strip_prefix_ignore_case<'t>(text: &'t str, prefix: &str) -> Option<&'t str> {
    // The prefixes are ASCII, so a match ends on a character boundary.
    starts_with_ignore_case(text, prefix).then(|| &text[prefix.len()..])
}

/// Test access to the built tokenizer (tiktoken's own count, for differential tests).
#[cfg(test)]
pub(crate) fn reference_count(encoding: Encoding, text: &str) -> u64 {
    match &loaded(encoding).tokenizer {
        Ok(tokenizer) => tiktoken_count(&tokenizer.bpe, text),
        Err(_) => u64::MAX,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_families_map_to_their_encodings() {
        for model in [
            "gpt-4o",
            "gpt-4o-mini",
            "gpt-4o-2024-08-06",
            "chatgpt-4o-latest",
            "gpt-4.1",
            "gpt-4.1-nano",
            "gpt-4.5-preview",
            "gpt-5",
            "gpt-5-mini",
            "o1",
            "o1-mini",
            "o3-mini",
            "o4-mini",
            "omni-moderation-latest",
            "openai/gpt-4o",
            "ft:gpt-4o-mini:acme::abc123",
            "GPT-4O",
        ] {
            assert_eq!(Encoding::lookup(model), Some(Encoding::O200k), "{model}");
        }
        for model in [
            "gpt-4",
            "gpt-4-turbo",
            "gpt-4-0613",
            "gpt-4-32k",
            "gpt-3.5-turbo",
            "gpt-3.5-turbo-instruct",
            "gpt-35-turbo",
            "text-embedding-3-small",
            "text-embedding-ada-002",
            "ft:gpt-3.5-turbo:acme::xyz",
            "azure/gpt-4-turbo",
        ] {
            assert_eq!(Encoding::lookup(model), Some(Encoding::Cl100k), "{model}");
        }
        for model in ["llama-3.1-70b", "claude-3-5-sonnet", "mistral-large", "", "/", "gpt-4.7-future"] {
            assert_eq!(Encoding::lookup(model), None, "{model}");
            assert_eq!(Encoding::for_model(model), Encoding::O200k, "{model}");
        }
    }

    #[test]
    fn documented_counts() {
        // OpenAI's cookbook: "tiktoken is great!" is 6 tokens in cl100k_base.
        assert_eq!(count_text(Encoding::Cl100k, "tiktoken is great!"), 6);
        assert_eq!(count_text(Encoding::O200k, "tiktoken is great!"), 6);
        // The cookbook's "お誕生日おめでとう" is 9 tokens in cl100k_base.
        assert_eq!(count_text(Encoding::Cl100k, "お誕生日おめでとう"), 9);
        assert_eq!(count_text(Encoding::O200k, ""), 0);
        assert_eq!(count_text(Encoding::Cl100k, "hello world"), 2);
        // Special-token text is ordinary text.
        assert_eq!(count_text(Encoding::O200k, "<|endoftext|>"), 7);
    }

    #[test]
    fn load_reports_a_duration_and_is_shared() {
        for encoding in Encoding::ALL {
            let first = encoding.load().unwrap();
            let again = encoding.load().unwrap();
            assert_eq!(first, again, "built once");
            assert!(first > Duration::ZERO);
        }
    }

    #[test]
    fn split_points() {
        let text = "ab  c d\u{a0} e";
        let points: Vec<usize> = (0..text.len()).filter(|&i| split_point(text, i)).collect();
        // "ab|  c|_d" — the second space follows a space; the space after NBSP follows whitespace.
        assert_eq!(points, vec![2, 5]);
        assert!(!split_point(" a", 0));
        assert_eq!(last_split_point(text, 1, text.len()), Some(5));
        assert_eq!(next_split_point(text, 3), Some(5));
        assert_eq!(next_split_point(text, 6), None);
    }

    #[test]
    fn chunks_cut_at_split_points_and_char_boundaries() {
        assert_eq!(chunk_end("abc def", 100), 7);
        assert_eq!(chunk_end("abc def ghi", 9), 7);
        // No split point: the last char boundary within the limit.
        assert_eq!(chunk_end("ééééé", 5), 4);
        assert_eq!(chunk_end("é", 1), 2);
    }

    #[test]
    fn long_texts_count_exactly_across_chunks() {
        let sentence =
            "The committee reviewed the proposal, and after a long debate it decided to fund 3 of the 7 projects. ";
        let text = sentence.repeat(1 + 3 * MAX_CHUNK / sentence.len());
        for encoding in Encoding::ALL {
            assert_eq!(count_text(encoding, &text), reference_count(encoding, &text), "{encoding}");
        }
        let cjk = "東京は日本の首都です。人口は約千四百万人で、世界有数の大都市です。 ".repeat(1 + 2 * MAX_CHUNK / 100);
        for encoding in Encoding::ALL {
            assert_eq!(count_text(encoding, &cjk), reference_count(encoding, &cjk), "{encoding}");
        }
    }

    #[test]
    fn mixed_scripts_count_like_tiktoken() {
        // ASCII stretches go through the fast path, the rest through tiktoken; the cuts
        // between them must not change the count. Fragments put non-ASCII letters, marks,
        // digits, punctuation and whitespace (NBSP, ideographic space) next to ASCII ones.
        let fragments = [
            "a",
            "The",
            " ",
            "  ",
            "\n",
            "'s",
            "'S",
            "don't",
            "x.",
            "42",
            "!",
            " (",
            "é",
            "ß",
            "\u{17f}",
            "\u{212a}",
            "e\u{301}",
            "’",
            "“",
            "—",
            "東京",
            "。",
            "\u{a0}",
            "\u{3000}",
            "١٢٣",
            "Ωμέγα",
            "🙂",
            "\t",
        ];
        let mut state = 0x2545_f491_u64;
        let mut next = || {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (state >> 33) as usize
        };
        for _ in 0..1500 {
            let len = 1 + next() % 60;
            let text: String = (0..len)
                .map(|_| fragments[next() % fragments.len()])
                .collect::<Vec<_>>()
                .join(if next() % 3 == 0 { " " } else { "" });
            for encoding in Encoding::ALL {
                assert_eq!(count_text(encoding, &text), reference_count(encoding, &text), "{encoding} {text:?}");
            }
        }
    }

    #[test]
    fn pathological_runs_do_not_panic_and_stay_close() {
        // About a megabyte of whitespace overflows the regex stack of tiktoken-rs (it
        // panics); chunking keeps each call small. Kept smaller here for debug-build speed,
        // plus the cut counts must stay close to the exact figure.
        for unit in [" ", "\n", "a", "^", "1", "中", " \n", "\t "] {
            let text = unit.repeat(120_000 / unit.len());
            for encoding in Encoding::ALL {
                let ours = count_text(encoding, &text);
                let exact = reference_count(encoding, &text);
                let slack = 2 * (text.len() / MAX_CHUNK + 1) as u64;
                assert!(ours.abs_diff(exact) <= slack, "{unit:?} {encoding}: {ours} vs {exact}");
            }
        }
    }
}
