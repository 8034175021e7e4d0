//! Regex source helpers shared by the detectors' rule tables: making word boundaries
//! ASCII so the lazy DFA never gives up on non-ASCII text, and relaxing bounded
//! repetitions for prefilter sets.

/// Makes `\b` ASCII-only so the lazy DFA never has to give up on non-ASCII input.
pub(crate) fn asciify(pattern: &str) -> String {
    pattern.replace(r"\b", r"(?-u:\b)")
}

/// A superset of `pattern` for a prefilter: bounded repetitions (`{0,80}`,
/// `{1,40}`) unbounded. A set's lazy DFA is the product of its patterns, and a counted
/// gap after a common word (`use … your answer`) makes it track every count at once:
/// on varied text it kept building states and spent most of its time in
/// determinization. Unbounded, the gap is one state; the exact pattern then confirms.
/// Only `{0,n}` and `{1,n}` with n ≥ 2 change; escaped braces and braces inside a
/// character class (`[{0,5}]`) stay.
pub(crate) fn relax(pattern: &str) -> String {
    let bytes = pattern.as_bytes();
    let mut out = String::with_capacity(pattern.len());
    let (mut i, mut copied) = (0usize, 0usize);
    let mut in_class = false;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'\\' => {
                i += 2; // the escaped byte is never special (ASCII escapes only)
                continue;
            }
            b'[' if !in_class => {
                in_class = true;
                // a `]` right after `[` or `[^` is a literal
                i += 1;
                if bytes.get(i) == Some(&b'^') {
                    i += 1;
                }
                if bytes.get(i) == Some(&b']') {
                    i += 1;
                }
                continue;
            }
            b']' if in_class => in_class = false,
            b'{' if !in_class => {
                let close = pattern.get(i..).and_then(|t| t.find('}')).map_or(0, |c| i + c);
                let inner = pattern.get(i + 1..close).unwrap_or("");
                if let Some((min @ ("0" | "1"), max)) = inner.split_once(',') {
                    if max.parse::<u32>().is_ok_and(|m| m >= 2) {
                        out.push_str(pattern.get(copied..i).unwrap_or(""));
                        out.push(if min == "0" { '*' } else { '+' });
                        i = close + 1;
                        copied = i;
                        continue;
                    }
                }
            }
            _ => {}
        }
        i += 1;
    }
    out.push_str(pattern.get(copied..).unwrap_or(""));
    out
}

#[cfg(test)]
mod tests {
    use super::relax;

    #[test]
    fn relax_unbounds_only_small_minimum_counted_repetitions() {
        assert_eq!(relax(r"a [^.]{0,80} b{1,40} c{2,} d{3} e{0,1}"), r"a [^.]* b+ c{2,} d{3} e{0,1}");
        assert_eq!(relax(r"(?:[a-z']+ ){0,3}x\{0,9}"), r"(?:[a-z']+ )*x\{0,9}");
        // braces in a class are literals; `]` first in a class does not close it
        assert_eq!(relax(r"[{0,5}]a{0,5}[]{0,2}]b{1,3}[^]{0,9}]"), r"[{0,5}]a*[]{0,2}]b+[^]{0,9}]");
        assert_eq!(relax(r"\\{0,4}"), r"\\*");
        // a superset: whatever the exact pattern matches, the relaxed one matches
        let hays = ["", "a", "aaab", "b", "xx", "x{0,9}", "\\\\", "{", "[]", "5ab", ",b", "aaaaaaaaaaaaaaaaaaaaaab"];
        for p in [r"a{0,80}b", r"x{1,5}", r"\{0,3\}", r"[{0,5}]a{0,2}b", r"^a{1,3}$", r"\\{0,4}"] {
            let exact = regex::Regex::new(p).expect("exact pattern compiles");
            let relaxed = regex::Regex::new(&relax(p)).expect("relaxed pattern compiles");
            for hay in hays {
                assert!(!exact.is_match(hay) || relaxed.is_match(hay), "{p} on {hay:?}");
            }
        }
    }
}
