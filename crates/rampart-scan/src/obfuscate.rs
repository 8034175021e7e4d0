//! Evasion transforms attackers apply to get a prompt past filters, for robustness
//! testing (`rampart eval --obfuscation` and the crate's tests): each one keeps the
//! text's meaning for a model while changing its bytes. Deterministic for a seed.

use base64::Engine as _;

/// One evasion transform.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transform {
    /// Zero-width characters inserted between letters.
    ZeroWidth,
    /// Latin letters swapped for Cyrillic and Greek look-alikes.
    Homoglyphs,
    /// The ASCII text re-encoded as invisible Unicode tag characters (ASCII smuggling).
    UnicodeTags,
    /// The whole text base64-encoded.
    Base64,
    /// Letters replaced by digits and symbols (`e` → `3`).
    Leetspeak,
    /// Letters in random case.
    RandomCase,
    /// Spaces replaced by runs of spaces, tabs and newlines.
    ExtraWhitespace,
}

impl Transform {
    /// Every transform.
    pub const ALL: [Self; 7] = [
        Self::ZeroWidth,
        Self::Homoglyphs,
        Self::UnicodeTags,
        Self::Base64,
        Self::Leetspeak,
        Self::RandomCase,
        Self::ExtraWhitespace,
    ];

    /// A short name.
    pub fn name(self) -> &'static str {
        match self {
            Self::ZeroWidth => "zero-width",
            Self::Homoglyphs => "homoglyphs",
            Self::UnicodeTags => "unicode-tags",
            Self::Base64 => "base64",
            Self::Leetspeak => "leetspeak",
            Self::RandomCase => "random-case",
            Self::ExtraWhitespace => "extra-whitespace",
        }
    }

    /// Applies the transform to `text`; `seed` picks the random choices.
    pub fn apply(self, text: &str, seed: u64) -> String {
        let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
        let mut out = String::with_capacity(text.len() * 2);
        match self {
            Self::ZeroWidth => {
                const INVISIBLE: [char; 4] = ['\u{200b}', '\u{200c}', '\u{200d}', '\u{2060}'];
                for c in text.chars() {
                    out.push(c);
                    if c.is_alphabetic() && rng.below(3) == 0 {
                        out.push(INVISIBLE[rng.below(INVISIBLE.len())]);
                    }
                }
            }
            Self::Homoglyphs => {
                for c in text.chars() {
                    let swapped = match c {
                        'a' => 'а',
                        'c' => 'с',
                        'e' => 'е',
                        'o' => 'о',
                        'p' => 'р',
                        'x' => 'х',
                        'y' => 'у',
                        'i' => 'і',
                        'j' => 'ј',
                        's' => 'ѕ',
                        'A' => 'Α',
                        'B' => 'Β',
                        'E' => 'Ε',
                        'H' => 'Η',
                        'K' => 'Κ',
                        'M' => 'Μ',
                        'O' => 'Ο',
                        'T' => 'Τ',
                        _ => c,
                    };
                    out.push(if swapped != c && rng.below(2) == 0 { swapped } else { c });
                }
            }
            Self::UnicodeTags => {
                for c in text.chars() {
                    match c {
                        ' '..='~' => out.push(char::from_u32(0xE0000 + c as u32).unwrap_or(c)),
                        _ => out.push(c),
                    }
                }
            }
            Self::Base64 => out = base64::engine::general_purpose::STANDARD.encode(text),
            Self::Leetspeak => {
                for c in text.chars() {
                    let leet = match c.to_ascii_lowercase() {
                        'a' => '4',
                        'e' => '3',
                        'i' => '1',
                        'o' => '0',
                        's' => '5',
                        't' => '7',
                        _ => c,
                    };
                    out.push(if leet != c && rng.below(5) < 3 { leet } else { c });
                }
            }
            Self::RandomCase => {
                for c in text.chars() {
                    if rng.below(2) == 0 { out.extend(c.to_uppercase()) } else { out.extend(c.to_lowercase()) }
                }
            }
            Self::ExtraWhitespace => {
                const WS: [&str; 5] = ["  ", "\t", " \n ", "   ", "\n\n"];
                for c in text.chars() {
                    if c == ' ' { out.push_str(WS[rng.below(WS.len())]) } else { out.push(c) }
                }
            }
        }
        out
    }
}

/// xorshift64*.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        (x.wrapping_mul(0x2545_f491_4f6c_dd1d) % n.max(1) as u64) as usize
    }
}
