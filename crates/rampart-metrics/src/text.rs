//! Text exposition format helpers (format 0.0.4).

use std::fmt::Write as _;

/// Maximum length of a label value, in bytes; longer values are cut at a char boundary.
pub const MAX_LABEL_VALUE_BYTES: usize = 128;

/// Cuts `s` to at most [`MAX_LABEL_VALUE_BYTES`] bytes at a char boundary.
#[inline]
pub(crate) fn truncate(s: &str) -> &str {
    if s.len() <= MAX_LABEL_VALUE_BYTES {
        return s;
    }
    let mut i = MAX_LABEL_VALUE_BYTES;
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    &s[..i]
}

/// Whether `s` matches `[a-zA-Z_:][a-zA-Z0-9_:]*`.
pub(crate) fn valid_metric_name(s: &str) -> bool {
    let mut b = s.bytes();
    matches!(b.next(), Some(c) if c.is_ascii_alphabetic() || c == b'_' || c == b':')
        && b.all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b':')
}

/// Whether `s` matches `[a-zA-Z_][a-zA-Z0-9_]*` and does not start with `__`.
pub(crate) fn valid_label_name(s: &str) -> bool {
    let mut b = s.bytes();
    matches!(b.next(), Some(c) if c.is_ascii_alphabetic() || c == b'_')
        && b.all(|c| c.is_ascii_alphanumeric() || c == b'_')
        && !s.starts_with("__")
}

/// Appends `s` escaped as a label value: `\` → `\\`, `"` → `\"`, newline → `\n`.
pub(crate) fn escape_label_value(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// Appends `# HELP` and `# TYPE` lines (HELP text escapes `\` and newline).
pub(crate) fn header(out: &mut String, name: &str, help: &str, kind: &str) {
    out.push_str("# HELP ");
    out.push_str(name);
    out.push(' ');
    for c in help.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push_str("\n# TYPE ");
    out.push_str(name);
    out.push(' ');
    out.push_str(kind);
    out.push('\n');
}

/// Appends `{n1="v1",...,extra="x"}`, or nothing when there are no labels.
pub(crate) fn labels(out: &mut String, names: &[&str], values: &[impl AsRef<str>], extra: Option<(&str, &str)>) {
    if names.is_empty() && extra.is_none() {
        return;
    }
    out.push('{');
    let mut first = true;
    let pairs = names.iter().copied().zip(values.iter().map(AsRef::as_ref)).chain(extra);
    for (n, v) in pairs {
        if !first {
            out.push(',');
        }
        first = false;
        out.push_str(n);
        out.push_str("=\"");
        escape_label_value(out, v);
        out.push('"');
    }
    out.push('}');
}

/// Appends an integer sample value.
pub(crate) fn int(out: &mut String, v: impl std::fmt::Display) {
    let _ = write!(out, "{v}");
}

/// Appends a float sample value (`+Inf`, `-Inf`, `NaN` for the specials).
pub(crate) fn float(out: &mut String, v: f64) {
    if v.is_nan() {
        out.push_str("NaN");
    } else if v.is_infinite() {
        out.push_str(if v > 0.0 { "+Inf" } else { "-Inf" });
    } else {
        let _ = write!(out, "{v}");
    }
}

/// Appends `micros / 1e6` as an exact decimal with no trailing zeros (`1500000` → `1.5`).
pub(crate) fn micros(out: &mut String, micros: u64) {
    let (whole, frac) = (micros / 1_000_000, micros % 1_000_000);
    let _ = write!(out, "{whole}");
    if frac != 0 {
        let mut digits = format!("{frac:06}");
        while digits.ends_with('0') {
            digits.pop();
        }
        out.push('.');
        out.push_str(&digits);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncates_at_char_boundary() {
        let s = "é".repeat(100); // 200 bytes
        let t = truncate(&s);
        assert_eq!(t.len(), 128);
        let s = format!("a{}", "é".repeat(100)); // boundary at odd offsets
        let t = truncate(&s);
        assert_eq!(t.len(), 127);
        assert!(s.starts_with(t));
        assert_eq!(truncate("short"), "short");
    }

    #[test]
    fn escapes() {
        let mut o = String::new();
        escape_label_value(&mut o, "a\"b\\c\nd");
        assert_eq!(o, r#"a\"b\\c\nd"#);
    }

    #[test]
    fn micros_format() {
        for (m, s) in [(0, "0"), (1_500_000, "1.5"), (1, "0.000001"), (12_340_000, "12.34"), (3_000_000, "3")] {
            let mut o = String::new();
            micros(&mut o, m);
            assert_eq!(o, s);
        }
    }

    #[test]
    fn names() {
        assert!(valid_metric_name("rampart_requests_total"));
        assert!(valid_metric_name("a:b"));
        assert!(!valid_metric_name("1a"));
        assert!(!valid_metric_name(""));
        assert!(valid_label_name("endpoint"));
        assert!(!valid_label_name("__x"));
        assert!(!valid_label_name("a:b"));
    }
}
