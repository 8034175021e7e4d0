//! Invariant checks shared by the rampart-scan fuzz targets: every target turns the
//! fuzzer's bytes into text with [`text`], runs one part of the engine and asserts
//! the invariants here (a failed assertion is a crash the fuzzer reports).
//!
//! A new target (e.g. `injection`, `restore`) adds `fuzz_targets/<name>.rs` and a
//! `[[bin]]` entry in Cargo.toml, and reuses or adds a check here.

#![allow(clippy::panic)]

use std::ops::Range;

use rampart_scan::Finding;
use rampart_scan::normalize::Normalized;

/// The fuzz input as text: valid UTF-8 as is, otherwise lossily converted (so byte
/// soup still exercises the engine rather than being thrown away).
pub fn text(data: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(data)
}

/// `range` lies within `text` and on char boundaries.
pub fn assert_span(text: &str, range: &Range<usize>, what: &dyn std::fmt::Debug) {
    assert!(
        range.start <= range.end && range.end <= text.len(),
        "{what:?}: span {range:?} outside text of {} bytes",
        text.len()
    );
    assert!(
        text.is_char_boundary(range.start) && text.is_char_boundary(range.end),
        "{what:?}: span {range:?} not on char boundaries"
    );
}

/// Every finding's span lies within `text`, on char boundaries, and is non-empty.
pub fn check_findings(text: &str, findings: &[Finding]) {
    for f in findings {
        assert_span(text, &f.span, f);
        assert!(!f.span.is_empty(), "{f:?}: empty span");
        assert!((0.0..=1.0).contains(&f.score), "{f:?}: score out of range");
    }
}

/// Every view's char ranges (each char, and the whole view) map to original ranges
/// within the text and on char boundaries; the canonical view comes first.
pub fn check_views(n: &Normalized<'_>) {
    let original = n.original;
    assert!(n.views().first().is_some_and(|v| v.kind == rampart_scan::normalize::ViewKind::Canonical));
    for v in n.views() {
        for (s, c) in v.text.char_indices() {
            let r = v.to_original(s..s + c.len_utf8());
            assert_span(original, &r, &v.kind);
        }
        let all = v.to_original(0..v.text.len());
        assert_span(original, &all, &v.kind);
        // Out-of-range requests are clamped, never panic.
        let r = v.to_original(v.text.len()..v.text.len() + 10);
        assert_span(original, &r, &v.kind);
    }
}
