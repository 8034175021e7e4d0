//! Fuzz target: `normalize` never panics and every view maps back to char
//! boundaries of the input.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rampart_scan::normalize::{Limits, normalize};

fuzz_target!(|data: &[u8]| {
    let text = rampart_scan_fuzz::text(data);
    let n = normalize(&text, &Limits::default());
    rampart_scan_fuzz::check_views(&n);
    // Deep nesting and small minimum lengths reach the decoders more often.
    let eager = Limits { max_depth: 4, min_base64_len: 4, min_hex_len: 2, min_decoded_chars: 1, ..Limits::default() };
    rampart_scan_fuzz::check_views(&normalize(&text, &eager));
});
