//! Fuzz target: the full pipeline (`Scanner::scan`: normalization, prompt rules and
//! classifier, PII, secrets) never panics, its scores lie in [0, 1], its findings lie
//! on char boundaries of the input, and the character offsets the CLI prints stay
//! within the input's character count.

#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use rampart_scan::{Scanner, char_findings};

static SCANNER: LazyLock<Scanner> = LazyLock::new(Scanner::new);

fuzz_target!(|data: &[u8]| {
    let text = rampart_scan_fuzz::text(data);
    let report = SCANNER.scan(&text);
    for s in [report.injection, report.jailbreak, report.attack] {
        assert!((0.0..=1.0).contains(&s), "score {s} out of range");
    }
    rampart_scan_fuzz::check_findings(&text, &report.findings);
    let chars = text.chars().count();
    for f in char_findings(&text, &report.findings) {
        assert!(f.start <= f.end && f.end <= chars, "char offsets {}..{} beyond {chars}", f.start, f.end);
    }
});
