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
/// Only `{0,n}` and `{1,n}` with n ≥ 2 change; escaped braces stay.
pub(crate) fn relax(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len());
    let mut rest = pattern;
    while let Some(i) = rest.find('{') {
        let (head, tail) = rest.split_at(i);
        out.push_str(head);
        let close = tail.find('}').unwrap_or(0);
        let inner = tail.get(1..close).unwrap_or("");
        let escaped = head.ends_with('\\');
        match inner.split_once(',') {
            Some((min @ ("0" | "1"), max)) if !escaped && max.parse::<u32>().is_ok_and(|m| m >= 2) => {
                out.push(if min == "0" { '*' } else { '+' });
                rest = tail.get(close + 1..).unwrap_or("");
            }
            _ => {
                out.push('{');
                rest = tail.get(1..).unwrap_or("");
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::relax;

    #[test]
    fn relax_unbounds_only_small_minimum_counted_repetitions() {
        assert_eq!(relax(r"a [^.]{0,80} b{1,40} c{2,} d{3} e{0,1}"), r"a [^.]* b+ c{2,} d{3} e{0,1}");
        assert_eq!(relax(r"(?:[a-z']+ ){0,3}x\{0,9}"), r"(?:[a-z']+ )*x\{0,9}");
        for p in [r"a{0,80}b", r"x{1,5}", r"\{0,3\}"] {
            let (exact, relaxed) = (regex::Regex::new(p).ok(), regex::Regex::new(&relax(p)).ok());
            assert!(exact.is_some() && relaxed.is_some(), "{p}");
        }
    }
}
