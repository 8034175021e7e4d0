//! Fuzz target: `SecretsDetector::scan` never panics and its findings lie on char
//! boundaries of the input.

#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use rampart_scan::secrets::SecretsDetector;

static DETECTOR: LazyLock<SecretsDetector> = LazyLock::new(SecretsDetector::new);

fuzz_target!(|data: &[u8]| {
    let text = rampart_scan_fuzz::text(data);
    let mut out = Vec::new();
    DETECTOR.scan(&text, &mut out);
    rampart_scan_fuzz::check_findings(&text, &out);
});
