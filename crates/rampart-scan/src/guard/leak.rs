//! Prompt-leak detection: does the output echo the protected (system) prompt? Owns the
//! word shingles of the prompt and the incremental matching of the output's words
//! against them; knows nothing of where the words come from.
//!
//! Text is split into words (maximal runs of alphanumeric characters, lowercased;
//! punctuation, markup and whitespace between them are ignored), and every run of
//! [`SHINGLE`] consecutive words is hashed. The output leaks once it has reproduced
//! [`LeakCheck::threshold`] distinct shingles of the prompt: 3 for a short prompt (8
//! consecutive words copied), growing by one per 16 shingles of prompt up to 16, so a
//! long prompt full of shareable facts (a product description the model is meant to
//! quote) needs a longer copy. Prompts under [`MIN_PROMPT_WORDS`] words are not
//! checked: too few shingles to tell an echo from a shared phrase. A normal answer
//! that quotes five words of the prompt matches no shingle; one that quotes a whole
//! sentence of seven words matches two, still under every threshold.
//!
//! The prompt's words and pairs of neighbouring words are indexed too, for the guard's
//! short windows: [`LeakCheck::echo_open_before`] tells whether the output's last words
//! could be the start of a copy of the prompt that goes on after them.

/// Words per shingle.
pub(super) const SHINGLE: usize = 6;

/// Prompts with fewer words are not checked.
pub(super) const MIN_PROMPT_WORDS: usize = 8;

/// Words longer than this (in bytes) are not words but data (a hash, a blob): they
/// break the run of words, in the prompt and in the output alike.
const MAX_WORD: usize = 64;

/// Prompt text beyond this many bytes is not indexed.
const MAX_PROMPT: usize = 256 << 10;

/// Most distinct shingles ever required.
const MAX_THRESHOLD: usize = 16;

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// Calls `f(start, hash)` for every word of `text` in order: the same words and hashes
/// as [`Words::scan`] gives at the end of a text, `None` for a word longer than
/// [`MAX_WORD`] (data, which breaks a run of words).
fn each_word(text: &str, mut f: impl FnMut(usize, Option<u64>)) {
    let mut start: Option<usize> = None;
    let mut h = FNV_OFFSET;
    let mut long = false;
    for (i, ch) in text.char_indices() {
        if ch.is_alphanumeric() {
            let s = *start.get_or_insert(i);
            if s == i {
                h = FNV_OFFSET;
                long = false;
            }
            if long {
                continue;
            }
            for lc in ch.to_lowercase() {
                let mut buf = [0u8; 4];
                for &byte in lc.encode_utf8(&mut buf).as_bytes() {
                    h = (h ^ u64::from(byte)).wrapping_mul(FNV_PRIME);
                }
            }
            long = i + ch.len_utf8() - s > MAX_WORD;
        } else if let Some(s) = start.take() {
            f(s, (!long).then_some(h));
        }
    }
    if let Some(s) = start {
        f(s, (!long).then_some(h));
    }
}

/// Hash of two neighbouring words.
fn pair(a: u64, b: u64) -> u64 {
    (a.rotate_left(29) ^ b).wrapping_mul(FNV_PRIME).rotate_left(31)
}

/// The last [`SHINGLE`] word hashes and the word-splitting state between calls.
#[derive(Debug, Clone, Default)]
struct Words {
    ring: [u64; SHINGLE],
    /// Words in the ring, saturating at [`SHINGLE`].
    len: usize,
    /// Inside an overlong word: skip until it ends.
    skipping: bool,
}

impl Words {
    /// Adds a word; the shingle hash once the ring is full.
    fn push(&mut self, word: u64) -> Option<u64> {
        self.ring.rotate_left(1);
        self.ring[SHINGLE - 1] = word;
        self.len = (self.len + 1).min(SHINGLE);
        if self.len < SHINGLE {
            return None;
        }
        let mut h = FNV_OFFSET;
        for w in self.ring {
            h = (h ^ w).wrapping_mul(FNV_PRIME).rotate_left(23);
        }
        Some(h)
    }

    /// Splits `text` into words and calls `f` with every complete shingle; stops
    /// early when `f` returns true. A word touching the end of `text` is complete only
    /// if `at_end`. Returns the byte offset where the next call must resume (the start
    /// of an unfinished word, else the end of `text`) and whether `f` stopped it.
    fn scan(&mut self, text: &str, at_end: bool, mut f: impl FnMut(u64) -> bool) -> (usize, bool) {
        let mut start: Option<usize> = None;
        let mut h = FNV_OFFSET;
        for (i, ch) in text.char_indices() {
            if ch.is_alphanumeric() {
                if self.skipping {
                    continue;
                }
                let s = *start.get_or_insert(i);
                if s == i {
                    h = FNV_OFFSET;
                }
                for lc in ch.to_lowercase() {
                    let mut buf = [0u8; 4];
                    for &byte in lc.encode_utf8(&mut buf).as_bytes() {
                        h = (h ^ u64::from(byte)).wrapping_mul(FNV_PRIME);
                    }
                }
                if i + ch.len_utf8() - s > MAX_WORD {
                    self.skipping = true;
                    self.len = 0;
                    start = None;
                }
            } else {
                self.skipping = false;
                if start.take().is_some() && self.push(h).is_some_and(&mut f) {
                    return (i, true);
                }
            }
        }
        match start {
            Some(s) if !at_end => (s, false),
            Some(_) => (text.len(), self.push(h).is_some_and(&mut f)),
            None => (text.len(), false),
        }
    }
}

/// The shingles of one protected prompt and how much of them the output has matched.
#[derive(Debug, Clone)]
pub(super) struct LeakCheck {
    /// Sorted, distinct shingle hashes of the prompt.
    shingles: Vec<u64>,
    threshold: usize,
    /// Sorted, distinct hashes of the prompt's words.
    unigrams: Vec<u64>,
    /// Sorted, distinct hashes of the prompt's pairs of neighbouring words ([`pair`]).
    bigrams: Vec<u64>,
    /// Distinct prompt shingles seen in the output (never more than `threshold`).
    matched: Vec<u64>,
    words: Words,
    /// Absolute offset in the output where the next scan resumes.
    pos: usize,
}

impl LeakCheck {
    /// The check for `prompt`; `None` when it is too short to check.
    pub(super) fn new(prompt: &str) -> Option<Self> {
        let mut end = prompt.len().min(MAX_PROMPT);
        while !prompt.is_char_boundary(end) {
            end -= 1;
        }
        let prompt = &prompt[..end];
        let count =
            prompt.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty() && w.len() <= MAX_WORD).count();
        let mut shingles = Vec::new();
        Words::default().scan(prompt, true, |h| {
            shingles.push(h);
            false
        });
        if count < MIN_PROMPT_WORDS {
            return None;
        }
        shingles.sort_unstable();
        shingles.dedup();
        let s = shingles.len();
        if s < 3 {
            return None;
        }
        let threshold = s.min((3 + s / 16).min(MAX_THRESHOLD));
        let (mut unigrams, mut bigrams) = (Vec::new(), Vec::new());
        let mut prev = None;
        each_word(prompt, |_, h| {
            if let Some(h) = h {
                unigrams.push(h);
                if let Some(p) = prev {
                    bigrams.push(pair(p, h));
                }
            }
            prev = h;
        });
        for v in [&mut unigrams, &mut bigrams] {
            v.sort_unstable();
            v.dedup();
        }
        Some(Self {
            shingles,
            threshold,
            unigrams,
            bigrams,
            matched: Vec::with_capacity(threshold),
            words: Words::default(),
            pos: 0,
        })
    }

    /// Distinct shingles the output must reproduce to count as a leak.
    #[cfg(test)]
    pub(super) fn threshold(&self) -> usize {
        self.threshold
    }

    /// Fraction of the threshold reached so far, in [0, 1].
    pub(super) fn score(&self) -> f32 {
        (self.matched.len() as f32 / self.threshold as f32).min(1.0)
    }

    /// Whether the output in `text` ends with words that could begin a copy of the
    /// prompt going on after `text`, starting before byte `split`: the longest run of
    /// words ending with the last word of `text` in which every word is a word of the
    /// prompt and every two neighbours are neighbours in it starts before `split`.
    /// Pure: hash collisions only make it say yes more often.
    pub(super) fn echo_open_before(&self, text: &str, split: usize) -> bool {
        let mut run: Option<usize> = None;
        let mut prev: Option<u64> = None;
        each_word(text, |s, h| {
            run = match h {
                Some(h) if self.unigrams.binary_search(&h).is_ok() => {
                    let chained = prev.is_some_and(|p| self.bigrams.binary_search(&pair(p, h)).is_ok());
                    if chained { run.or(Some(s)) } else { Some(s) }
                }
                _ => None,
            };
            prev = h;
        });
        run.is_some_and(|s| s < split)
    }

    /// Consumes the output's words in `window` (which starts at absolute offset
    /// `base`) from where the previous call stopped; a word touching the window's end
    /// waits for the next call unless `at_end`. True once the output leaks.
    pub(super) fn feed(&mut self, window: &str, base: usize, at_end: bool) -> bool {
        let mut from = self.pos.saturating_sub(base);
        if from > window.len() {
            return false;
        }
        while !window.is_char_boundary(from) {
            from += 1;
        }
        if self.pos < base {
            // The window starts after the resume point (cannot happen while the
            // context is longer than a word): restart the run of words.
            self.words.len = 0;
        }
        let (shingles, threshold, matched) = (&self.shingles, self.threshold, &mut self.matched);
        let (consumed, leaked) = self.words.scan(&window[from..], at_end, |h| {
            if shingles.binary_search(&h).is_ok() && !matched.contains(&h) {
                matched.push(h);
            }
            matched.len() >= threshold
        });
        self.pos = base + from + consumed;
        leaked
    }
}
