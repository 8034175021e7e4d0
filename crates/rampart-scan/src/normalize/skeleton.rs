//! The skeleton view: the canonical text with accents stripped, confusable letters
//! (Cyrillic, Greek, Armenian, small capitals, ...) folded to the ASCII letter they
//! imitate, typographic punctuation to ASCII, and leetspeak folded (`1gn0r3` →
//! `ignore`). Lossy by design: only for matching, never for display.

use unicode_normalization::char::{decompose_canonical, is_combining_mark};

use super::offset::{OffsetMap, ViewBuilder};
use super::{chars, swar};

/// The ASCII text a lowercase (post-NFKC) confusable imitates. Fullwidth forms,
/// mathematical alphanumerics, circled letters, superscripts etc. are already folded
/// by NFKC; accented Latin letters by canonical decomposition.
pub(crate) fn homoglyph(c: char) -> Option<&'static str> {
    Some(match c {
        // Cyrillic
        'а' | 'ӑ' | 'ӓ' => "a",
        'в' | 'ъ' | 'ь' | 'б' => "b",
        'с' | 'ҫ' => "c",
        'ԁ' => "d",
        'е' | 'ё' | 'ҽ' | 'ҿ' | 'є' | 'э' => "e",
        'г' => "r",
        'һ' | 'н' | 'ћ' | 'ђ' => "h",
        'і' | 'ї' | 'ӏ' => "i",
        'ј' => "j",
        'к' | 'қ' | 'ҝ' => "k",
        'м' => "m",
        'п' | 'и' | 'л' => "n",
        'о' | 'ӧ' | 'ө' => "o",
        'р' => "p",
        'ԛ' => "q",
        'ѕ' => "s",
        'т' => "t",
        'у' | 'ү' | 'ұ' | 'ў' => "y",
        'ц' | 'џ' => "u",
        'ѵ' => "v",
        'ш' | 'щ' | 'ԝ' | 'ѡ' => "w",
        'х' | 'ҳ' | 'ж' => "x",
        'з' | 'ӡ' => "3",
        // Greek
        'α' => "a",
        'β' => "b",
        'ϲ' | 'ς' => "c",
        'δ' => "d",
        'ε' | 'ϵ' => "e",
        'η' => "n",
        'ι' | 'ί' | 'ϊ' | 'ΐ' => "i",
        'ϳ' => "j",
        'κ' | 'ϰ' => "k",
        'μ' => "u",
        'ν' => "v",
        'ο' | 'σ' | 'ό' => "o",
        'ρ' | 'ϱ' => "p",
        'τ' => "t",
        'υ' | 'ϋ' | 'ύ' => "u",
        'χ' => "x",
        'γ' => "y",
        'ω' | 'ώ' => "w",
        'ζ' => "z",
        // Armenian
        'օ' => "o",
        'ս' => "u",
        'հ' => "h",
        'ո' => "n",
        'ց' => "g",
        'զ' => "q",
        'ա' => "w",
        // Latin lookalikes without a decomposition
        'ı' | 'ɩ' | 'ɪ' | 'ꙇ' => "i",
        'ȷ' => "j",
        'ɑ' | 'ᴀ' => "a",
        'ʙ' | 'ƅ' => "b",
        'ᴄ' => "c",
        'ᴅ' | 'đ' | 'ð' | 'ɗ' => "d",
        'ᴇ' | '€' => "e",
        'ɡ' | 'ɢ' => "g",
        'ʜ' | 'ħ' => "h",
        'ᴊ' => "j",
        'ᴋ' => "k",
        'ʟ' | 'ł' | 'ƚ' => "l",
        'ᴍ' => "m",
        'ɴ' => "n",
        'ᴏ' | 'ø' | 'ɵ' => "o",
        'ᴘ' | 'þ' => "p",
        'ʀ' => "r",
        'ꜱ' | 'ʂ' => "s",
        'ᴛ' | 'ŧ' => "t",
        'ᴜ' | 'ʋ' => "u",
        'ᴠ' => "v",
        'ᴡ' => "w",
        'ʏ' => "y",
        'ᴢ' | 'ƶ' => "z",
        'æ' => "ae",
        'œ' => "oe",
        'ß' => "ss",
        // Typographic punctuation
        '\u{2010}'..='\u{2015}' | '\u{2212}' => "-",
        '\u{2018}' | '\u{2019}' | '\u{201A}' | '\u{201B}' | '\u{2032}' => "'",
        '\u{201C}' | '\u{201D}' | '\u{201E}' | '\u{201F}' | '\u{2033}' => "\"",
        '\u{2039}' => "<",
        '\u{203A}' => ">",
        '¡' => "i",
        _ => return None,
    })
}

fn leet_digit(b: u8) -> Option<u8> {
    Some(match b {
        b'0' => b'o',
        b'1' => b'i',
        b'3' => b'e',
        b'4' => b'a',
        b'5' => b's',
        b'6' | b'9' => b'g',
        b'7' => b't',
        b'8' => b'b',
        _ => return None,
    })
}

fn leet_punct(b: u8) -> Option<u8> {
    Some(match b {
        b'@' => b'a',
        b'$' => b's',
        b'!' => b'i',
        b'|' => b'l',
        _ => return None,
    })
}

/// Byte classes for the ASCII fast path: letters, and bytes leetspeak may fold.
const LETTER: u8 = 1;
const LEET: u8 = 2;
const CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        t[b] = if c.is_ascii_alphabetic() {
            LETTER
        } else if matches!(c, b'0' | b'1' | b'3'..=b'9' | b'@' | b'$' | b'!' | b'|') {
            LEET
        } else {
            0
        };
        b += 1;
    }
    t
};

/// Folds the leetspeak of one [`bytewise`] token in place (the rules of the general
/// path: digits and `@ $ ! |` only in tokens with a letter; `@ ! |` only before a
/// letter or digit, `$` also after one). Returns whether anything changed.
fn fold_ascii_token(tok: &mut [u8]) -> bool {
    let class = tok.iter().fold(0, |a, &b| a | CLASS[b as usize]);
    if class != LETTER | LEET {
        return false;
    }
    let mut changed = false;
    for k in 0..tok.len() {
        let b = tok[k];
        if let Some(f) = leet_digit(b) {
            tok[k] = f;
            changed = true;
        } else if let Some(f) = leet_punct(b) {
            // The next byte is not folded yet, the previous one is (as in the general path).
            let next = tok.get(k + 1).is_some_and(u8::is_ascii_alphanumeric);
            let prev = b == b'$' && k > 0 && tok[k - 1].is_ascii_alphanumeric();
            if next || prev {
                tok[k] = f;
                changed = true;
            }
        }
    }
    changed
}

/// Lane mask of a superset of the bytes leetspeak may fold (all digits, `!"#$`, `@`,
/// `|`): candidates, checked exactly by [`fold_ascii_token`].
fn leet_candidates(w: u64) -> u64 {
    swar::in_range(w, b'0', b'9') | swar::in_range(w, b'!', b'$') | swar::eq(w, b'@') | swar::eq(w, b'|')
}

/// The leetspeak-folded copy of [`bytewise`] `text` (tokens separated by spaces), or
/// `None` if nothing folds. Only the tokens around candidate bytes are looked at.
fn fold_ascii(text: &[u8]) -> Option<Vec<u8>> {
    let mut out: Option<Vec<u8>> = None;
    let mut done = 0; // tokens before this are handled
    swar::for_each_block(text, leet_candidates, |base, mut bits| {
        while bits != 0 {
            let p = base + bits.trailing_zeros() as usize;
            bits &= bits - 1;
            if p < done {
                continue;
            }
            let start = text[..p].iter().rposition(|&b| b == b' ').map_or(0, |s| s + 1);
            let end = text[p..].iter().position(|&b| b == b' ').map_or(text.len(), |e| p + e);
            done = end;
            let mut tok = [0u8; 64];
            let changed = match tok.get_mut(..end - start) {
                Some(t) => {
                    t.copy_from_slice(&text[start..end]);
                    fold_ascii_token(t)
                }
                None => fold_ascii_token(&mut text[start..end].to_vec()),
            };
            if changed {
                let o = out.get_or_insert_with(|| text.to_vec());
                fold_ascii_token(&mut o[start..end]);
            }
        }
    });
    out
}

#[derive(Clone, Copy)]
enum Fold {
    Same,
    Drop,
    Str(&'static str),
    Char(char),
    Byte(u8),
}

struct Unit {
    start: usize,
    end: usize,
    fold: Fold,
}

impl Unit {
    /// First char of the folded output, if any.
    fn first(&self, text: &str) -> Option<char> {
        match self.fold {
            Fold::Same => text[self.start..].chars().next(),
            Fold::Drop => None,
            Fold::Str(s) => s.chars().next(),
            Fold::Char(c) => Some(c),
            Fold::Byte(b) => Some(b as char),
        }
    }
}

/// Whether the skeleton keeps non-ASCII `c` as it is (no mark, homoglyph or accent).
pub(crate) fn folds_same_uncached(c: char) -> bool {
    !c.is_ascii() && matches!(fold_char(c), Fold::Same)
}

/// Whether `s` is folded byte by byte: ASCII and chars the skeleton keeps.
fn bytewise(s: &str) -> bool {
    s.is_ascii() || s.chars().all(|c| c.is_ascii() || chars::folds_same(c))
}

fn fold_char(c: char) -> Fold {
    if c.is_ascii() {
        return Fold::Same;
    }
    if is_combining_mark(c) {
        return Fold::Drop;
    }
    if let Some(s) = homoglyph(c) {
        return Fold::Str(s);
    }
    let mut base = None;
    decompose_canonical(c, |d| {
        if base.is_none() && !is_combining_mark(d) {
            base = Some(d);
        }
    });
    match base {
        Some(b) if b != c => homoglyph(b).map_or(Fold::Char(b), Fold::Str),
        _ => Fold::Same,
    }
}

/// Builds the skeleton of a canonical view (`text`, `map`), mapped to the original;
/// `None` if it equals the canonical text.
///
/// A [`bytewise`] canonical text (ASCII and chars kept as they are) only has leetspeak
/// to fold, byte for byte, so its skeleton has the same map on char boundaries.
/// Otherwise bytewise tokens are folded the same way and
/// mapped like their canonical bytes; other tokens go char by char.
pub(crate) fn skeleton(text: &str, map: &OffsetMap) -> Option<(String, OffsetMap)> {
    if bytewise(text) {
        return String::from_utf8(fold_ascii(text.as_bytes())?).ok().map(|s| (s, map.clone()));
    }
    Some(skeleton_general(text, map, true))
}

/// The skeleton char by char; `ascii_tokens`: fold [`bytewise`] tokens in bulk (the
/// tests compare both ways).
pub(crate) fn skeleton_general(text: &str, map: &OffsetMap, ascii_tokens: bool) -> (String, OffsetMap) {
    let mut out = ViewBuilder::with_capacity(text.len());
    let mut hint = 0;
    let mut units: Vec<Unit> = Vec::new();
    let mut folded = Vec::new();
    let mut pos = 0;
    for token in text.split(' ') {
        if ascii_tokens && bytewise(token) {
            folded.clear();
            folded.extend_from_slice(token.as_bytes());
            fold_ascii_token(&mut folded);
            if let Ok(f) = std::str::from_utf8(&folded) {
                out.push_mapped(f, map, pos..pos + token.len());
            }
        } else {
            skeleton_token(text, token, pos, map, &mut hint, &mut units, &mut out);
        }
        pos += token.len();
        if pos < text.len() {
            let orig = map.to_original_seq(&mut hint, pos..pos + 1);
            if orig.len() == 1 {
                out.push_linear(" ", orig.start);
            } else {
                out.push_atomic(" ", orig);
            }
            pos += 1;
        }
    }
    out.finish()
}

/// Appends the skeleton of `token` (at `pos` in `text`) char by char.
fn skeleton_token(
    text: &str,
    token: &str,
    pos: usize,
    map: &OffsetMap,
    hint: &mut usize,
    units: &mut Vec<Unit>,
    out: &mut ViewBuilder,
) {
    {
        units.clear();
        let mut has_letter = false;
        for (k, c) in token.char_indices() {
            let u = Unit { start: pos + k, end: pos + k + c.len_utf8(), fold: fold_char(c) };
            has_letter |= u.first(text).is_some_and(|f| f.is_ascii_alphabetic());
            units.push(u);
        }
        if has_letter {
            for k in 0..units.len() {
                let Fold::Same = units[k].fold else { continue };
                let b = text.as_bytes()[units[k].start];
                if let Some(f) = leet_digit(b) {
                    units[k].fold = Fold::Byte(f);
                } else if let Some(f) = leet_punct(b) {
                    // `!`, `@`, `|` only before a letter or digit (not "hello!");
                    // `$` also after one ("instruction$").
                    let wordy = |c: Option<char>| c.is_some_and(|n| n.is_ascii_alphanumeric());
                    let next = wordy(units[k + 1..].iter().find_map(|u| u.first(text)));
                    let prev = b == b'$' && wordy(units[..k].iter().rev().find_map(|u| u.first(text)));
                    if next || prev {
                        units[k].fold = Fold::Byte(f);
                    }
                }
            }
        }
        for (k, u) in units.iter().enumerate() {
            if matches!(u.fold, Fold::Drop) {
                continue;
            }
            // Marks dropped after a char belong to it: a match ending at the char
            // covers them.
            let end =
                units[k + 1..].iter().take_while(|d| matches!(d.fold, Fold::Drop)).last().map_or(u.end, |d| d.end);
            let mut buf = [0u8; 4];
            let s: &str = match u.fold {
                Fold::Drop => "",
                Fold::Same => &text[u.start..u.end],
                Fold::Str(s) => s,
                Fold::Char(c) => c.encode_utf8(&mut buf),
                Fold::Byte(b) => char::from(b).encode_utf8(&mut buf),
            };
            let orig = map.to_original_seq(hint, u.start..end);
            // Linear only for unchanged text or an ASCII byte replaced by another.
            let same_shape = matches!(u.fold, Fold::Same | Fold::Byte(_)) && u.end - u.start == s.len();
            if same_shape && s.len() == orig.len() {
                out.push_linear(s, orig.start);
            } else {
                out.push_atomic(s, orig);
            }
        }
    }
}
