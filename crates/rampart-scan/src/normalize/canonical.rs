//! The canonical view: NFKC, invisible/bidi/format characters removed, Unicode tag
//! characters decoded, whitespace runs collapsed to one space, lowercased.

use unicode_normalization::char::canonical_combining_class;
use unicode_normalization::{IsNormalized, UnicodeNormalization, is_nfkc_quick};

use super::offset::{Base, ViewBuilder};
use super::{chars, swar};

/// Max chars normalized together (a starter and its combining marks); longer runs of
/// combining marks are split so the work per segment is bounded.
const MAX_SEGMENT_CHARS: usize = 32;

/// Characters that render as nothing (or only steer rendering) and are removed.
pub(crate) fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'                      // soft hyphen
        | '\u{034F}'                    // combining grapheme joiner
        | '\u{061C}'                    // arabic letter mark
        | '\u{115F}' | '\u{1160}'       // hangul fillers
        | '\u{17B4}' | '\u{17B5}'       // khmer inherent vowels
        | '\u{180B}'..='\u{180F}'       // mongolian variation selectors, vowel separator
        | '\u{200B}'..='\u{200F}'       // zero-width space/joiners, LRM, RLM
        | '\u{202A}'..='\u{202E}'       // bidi embeddings and overrides
        | '\u{2060}'..='\u{206F}'       // word joiner, invisible operators, bidi isolates
        | '\u{3164}'                    // hangul filler
        | '\u{FE00}'..='\u{FE0F}'       // variation selectors
        | '\u{FEFF}'                    // BOM / zero-width no-break space
        | '\u{FFA0}'                    // halfwidth hangul filler
        | '\u{FFF9}'..='\u{FFFB}'       // interlinear annotation
        | '\u{1BCA0}'..='\u{1BCA3}'     // shorthand format controls
        | '\u{1D173}'..='\u{1D17A}'     // musical formatting
        | '\u{E0000}'..='\u{E007F}'     // tags (the printable ones are decoded before this)
        | '\u{E0100}'..='\u{E01EF}' // variation selectors supplement
    )
}

/// The ASCII char a Unicode tag character smuggles (U+E0020..U+E007E).
pub(crate) fn tag_ascii(c: char) -> Option<char> {
    match c {
        '\u{E0020}'..='\u{E007E}' => char::from_u32(c as u32 - 0xE0000),
        _ => None,
    }
}

/// A char the canonical view copies unchanged, on its own: not a tag, invisible,
/// control or blank char, a starter (combining class 0) that NFKC keeps and
/// lowercasing leaves as it is. One followed by a starter needs no normalization.
pub(crate) fn is_plain_uncached(c: char) -> bool {
    let mut lower = c.to_lowercase();
    tag_ascii(c).is_none()
        && !is_invisible(c)
        && !c.is_control()
        && !is_blank(c)
        && canonical_combining_class(c) == 0
        && is_nfkc_quick(std::iter::once(c)) == IsNormalized::Yes
        && lower.next() == Some(c)
        && lower.next().is_none()
}

fn is_blank(c: char) -> bool {
    c.is_whitespace() || c == '\u{2800}'
}

struct State {
    prev_space: bool,
    in_tag: bool,
}

/// Appends the canonical form of `text` to `out`, mapped through `base`.
pub(crate) fn canonicalize(text: &str, base: &Base, out: &mut ViewBuilder) {
    let bytes = text.as_bytes();
    let n = bytes.len();
    let mut st = State { prev_space: out.last_char().is_none_or(char::is_whitespace), in_tag: false };
    let mut i = 0;
    let mut run = 0; // start of the pending run of bytes copied as is (ASCII lowercased)
    let mut tmp = String::new();

    let flush = |out: &mut ViewBuilder, from: usize, to: usize| {
        if from < to {
            let at = out.len();
            base.linear(out, &text[from..to], from);
            out.text.as_mut_str()[at..].make_ascii_lowercase();
        }
    };

    while i < n {
        // Fast path: 8 bytes at a time of printable ASCII without a double space stay
        // in the run (exactly what the byte loop below does with them).
        if !st.in_tag {
            while let Some(chunk) = bytes.get(i..i + 8) {
                let x = swar::word(chunk);
                let sp = swar::eq(x, b' ');
                let carry = if st.prev_space { 0x80 } else { 0 };
                if swar::in_range(x, 0x20, 0x7e) != swar::HI || sp & ((sp << 8) | carry) != 0 {
                    break;
                }
                st.prev_space = sp >> 63 != 0;
                i += 8;
            }
        }
        let Some(&b) = bytes.get(i) else { break };
        if b < 0x80 {
            if b == b' ' || (b'\t'..=b'\r').contains(&b) {
                st.in_tag = false;
                if b == b' ' && !st.prev_space {
                    st.prev_space = true;
                } else {
                    flush(out, run, i);
                    if !st.prev_space {
                        base.linear(out, " ", i);
                        st.prev_space = true;
                    }
                    run = i + 1;
                }
            } else if b < 0x20 || b == 0x7f {
                flush(out, run, i);
                run = i + 1;
            } else {
                if st.in_tag {
                    flush(out, run, i);
                    run = i;
                    end_tag_run(&mut st, base, out, i..i + 1);
                }
                st.prev_space = false;
            }
            i += 1;
            continue;
        }

        let Some(c) = text[i..].chars().next() else { break };
        let clen = c.len_utf8();
        // Fast path: a plain char followed by a starter stays in the run.
        if !st.in_tag
            && chars::is_plain(c)
            && text[i + clen..].chars().next().is_none_or(|d| d.is_ascii() || chars::is_plain(d))
        {
            st.prev_space = false;
            i += clen;
            continue;
        }
        flush(out, run, i);
        let here = i..i + clen;
        if let Some(t) = tag_ascii(c) {
            if !st.in_tag {
                st.in_tag = true;
                if !st.prev_space {
                    base.atomic(out, " ", here.clone());
                    st.prev_space = true;
                }
            }
            if t == ' ' {
                if !st.prev_space {
                    base.atomic(out, " ", here.clone());
                    st.prev_space = true;
                }
            } else {
                let mut buf = [0u8; 4];
                base.atomic(out, t.to_ascii_lowercase().encode_utf8(&mut buf), here.clone());
                st.prev_space = false;
            }
            i += clen;
        } else if is_invisible(c) || (c.is_control() && !c.is_whitespace()) {
            i += clen;
        } else if is_blank(c) {
            st.in_tag = false;
            if !st.prev_space {
                base.atomic(out, " ", here.clone());
                st.prev_space = true;
            }
            i += clen;
        } else {
            if st.in_tag {
                end_tag_run(&mut st, base, out, here.clone());
            }
            // A starter and its combining marks, normalized together.
            let mut j = i + clen;
            for d in text[j..].chars().take(MAX_SEGMENT_CHARS - 1) {
                if canonical_combining_class(d) == 0 {
                    break;
                }
                j += d.len_utf8();
            }
            let seg = &text[i..j];
            tmp.clear();
            let quick = is_nfkc_quick(seg.chars()) == IsNormalized::Yes;
            let push = |ch: char, st: &mut State, tmp: &mut String| {
                if is_blank(ch) {
                    if !st.prev_space {
                        tmp.push(' ');
                        st.prev_space = true;
                    }
                } else if !is_invisible(ch) {
                    tmp.extend(ch.to_lowercase());
                    st.prev_space = false;
                }
            };
            if quick {
                seg.chars().for_each(|ch| push(ch, &mut st, &mut tmp));
            } else {
                seg.nfkc().for_each(|ch| push(ch, &mut st, &mut tmp));
            }
            if tmp == seg {
                base.linear(out, &tmp, i);
            } else {
                base.atomic(out, &tmp, i..j);
            }
            i = j;
        }
        run = i;
    }
    flush(out, run, n);
}

/// A visible char follows a run of tag characters: separate the smuggled text.
fn end_tag_run(st: &mut State, base: &Base, out: &mut ViewBuilder, at: std::ops::Range<usize>) {
    st.in_tag = false;
    if !st.prev_space {
        base.atomic(out, " ", at);
        st.prev_space = true;
    }
}

/// The canonicalization before its fast paths (commit 2c43817), kept to check that
/// the fast paths do not change the output.
#[cfg(test)]
pub(crate) mod reference {
    #![allow(clippy::all)]

    use super::*;

    struct State {
        prev_space: bool,
        in_tag: bool,
    }

    /// Appends the canonical form of `text` to `out`, mapped through `base`.
    pub(crate) fn canonicalize_ref(text: &str, base: &Base, out: &mut ViewBuilder) {
        let bytes = text.as_bytes();
        let n = bytes.len();
        let mut st = State { prev_space: out.last_char().is_none_or(char::is_whitespace), in_tag: false };
        let mut i = 0;
        let mut run = 0; // start of the pending run of ASCII bytes copied as is (lowercased)
        let mut tmp = String::new();

        let flush = |out: &mut ViewBuilder, from: usize, to: usize| {
            if from < to {
                let at = out.len();
                base.linear(out, &text[from..to], from);
                out.text.as_mut_str()[at..].make_ascii_lowercase();
            }
        };

        while i < n {
            // Fast path: 16 printable ASCII bytes without a double space stay in the run.
            if !st.in_tag
                && let Some(chunk) = bytes.get(i..i + 16)
            {
                let printable = chunk.iter().fold(true, |a, &b| a & (0x20..0x7f).contains(&b));
                let double = chunk.windows(2).fold(false, |a, w| a | (w[0] == b' ' && w[1] == b' '));
                if printable && !double && !(st.prev_space && chunk[0] == b' ') {
                    st.prev_space = chunk[15] == b' ';
                    i += 16;
                    continue;
                }
            }
            let b = bytes[i];
            if b < 0x80 {
                if b == b' ' || (b'\t'..=b'\r').contains(&b) {
                    st.in_tag = false;
                    if b == b' ' && !st.prev_space {
                        st.prev_space = true;
                    } else {
                        flush(out, run, i);
                        if !st.prev_space {
                            base.linear(out, " ", i);
                            st.prev_space = true;
                        }
                        run = i + 1;
                    }
                } else if b < 0x20 || b == 0x7f {
                    flush(out, run, i);
                    run = i + 1;
                } else {
                    if st.in_tag {
                        flush(out, run, i);
                        run = i;
                        end_tag_run(&mut st, base, out, i..i + 1);
                    }
                    st.prev_space = false;
                }
                i += 1;
                continue;
            }

            flush(out, run, i);
            let Some(c) = text[i..].chars().next() else { break };
            let clen = c.len_utf8();
            let here = i..i + clen;
            if let Some(t) = tag_ascii(c) {
                if !st.in_tag {
                    st.in_tag = true;
                    if !st.prev_space {
                        base.atomic(out, " ", here.clone());
                        st.prev_space = true;
                    }
                }
                if t == ' ' {
                    if !st.prev_space {
                        base.atomic(out, " ", here.clone());
                        st.prev_space = true;
                    }
                } else {
                    let mut buf = [0u8; 4];
                    base.atomic(out, t.to_ascii_lowercase().encode_utf8(&mut buf), here.clone());
                    st.prev_space = false;
                }
                i += clen;
            } else if is_invisible(c) || (c.is_control() && !c.is_whitespace()) {
                i += clen;
            } else if is_blank(c) {
                st.in_tag = false;
                if !st.prev_space {
                    base.atomic(out, " ", here.clone());
                    st.prev_space = true;
                }
                i += clen;
            } else {
                if st.in_tag {
                    end_tag_run(&mut st, base, out, here.clone());
                }
                // A starter and its combining marks, normalized together.
                let mut j = i + clen;
                for d in text[j..].chars().take(MAX_SEGMENT_CHARS - 1) {
                    if canonical_combining_class(d) == 0 {
                        break;
                    }
                    j += d.len_utf8();
                }
                let seg = &text[i..j];
                tmp.clear();
                let quick = is_nfkc_quick(seg.chars()) == IsNormalized::Yes;
                let push = |ch: char, st: &mut State, tmp: &mut String| {
                    if is_blank(ch) {
                        if !st.prev_space {
                            tmp.push(' ');
                            st.prev_space = true;
                        }
                    } else if !is_invisible(ch) {
                        tmp.extend(ch.to_lowercase());
                        st.prev_space = false;
                    }
                };
                if quick {
                    seg.chars().for_each(|ch| push(ch, &mut st, &mut tmp));
                } else {
                    seg.nfkc().for_each(|ch| push(ch, &mut st, &mut tmp));
                }
                if tmp == seg {
                    base.linear(out, &tmp, i);
                } else {
                    base.atomic(out, &tmp, i..j);
                }
                i = j;
            }
            run = i;
        }
        flush(out, run, n);
    }

    /// A visible char follows a run of tag characters: separate the smuggled text.
    fn end_tag_run(st: &mut State, base: &Base, out: &mut ViewBuilder, at: std::ops::Range<usize>) {
        st.in_tag = false;
        if !st.prev_space {
            base.atomic(out, " ", at);
            st.prev_space = true;
        }
    }
}
