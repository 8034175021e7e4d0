//! Fuzz target: the streaming `Restorer` gives the same bytes as whole-text
//! restoration for any input split at any byte positions (including inside UTF-8
//! characters and placeholders), and the `&str` path agrees when the input is text.
//!
//! Input layout: byte 0 picks the number of split points (0..=15), the next that many
//! bytes place them (scaled over the text length), the rest is the streamed text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rampart_scan::redact::{Mode, Restorer, Vault};
use rampart_scan::{Family, Finding};

/// A vault with a few restorable values (ASCII, multibyte, placeholder-like) and one
/// redacted value, built from a fixed text.
fn vault() -> Vault {
    const SEED: &str = "a@b.io|+1 555 0100|zoë@例え.jp|x[EMAIL_1]y|🦀|AKIAABCDEFGHIJKLMNOP";
    const ENTITIES: [&str; 6] = ["EMAIL_ADDRESS", "PHONE_NUMBER", "EMAIL_ADDRESS", "PERSON", "A_LONG_CUSTOM_ENTITY", ""];
    let mut findings = Vec::new();
    let mut start = 0;
    for (i, part) in SEED.split('|').enumerate() {
        let family = if i == 5 { Family::Secrets } else { Family::Pii };
        let entity = ENTITIES.get(i).copied().unwrap_or("X");
        findings.push(Finding { family, rule: "fuzz", category: "fuzz", entity, span: start..start + part.len(), score: 0.5 });
        start += part.len() + 1;
    }
    let mut vault = Vault::new();
    vault.mask_with(SEED, &findings, |f| if f.family == Family::Secrets { Mode::Redact } else { Mode::Pseudonymize });
    assert_eq!((vault.len(), vault.restorable()), (6, 5));
    vault
}

fuzz_target!(|data: &[u8]| {
    let Some((&count, rest)) = data.split_first() else {
        return;
    };
    let count = usize::from(count % 16).min(rest.len());
    let (places, input) = rest.split_at(count);
    let mut cuts: Vec<usize> = places.iter().map(|&p| usize::from(p) * (input.len() + 1) / 256).collect();
    cuts.sort_unstable();

    let vault = vault();
    let whole = vault.restore_bytes(input);

    let mut restorer = Restorer::new(&vault);
    let mut out = Vec::new();
    let mut last = 0;
    for &cut in &cuts {
        restorer.feed(&input[last..cut], &mut out);
        assert!(restorer.pending() <= 1 + 35, "held back more than a placeholder");
        last = cut;
    }
    restorer.feed(&input[last..], &mut out);
    restorer.finish(&mut out);
    assert_eq!(out.as_slice(), whole.as_ref(), "bytes: incremental != whole");

    if let Ok(text) = std::str::from_utf8(input) {
        assert_eq!(vault.restore(text).as_bytes(), whole.as_ref(), "str restore != bytes restore");
        let mut out = String::new();
        let mut last = 0;
        for &cut in cuts.iter().filter(|&&c| text.is_char_boundary(c)) {
            restorer.feed_str(&text[last..cut], &mut out);
            last = cut;
        }
        restorer.feed_str(&text[last..], &mut out);
        restorer.finish_str(&mut out);
        assert_eq!(out.as_bytes(), whole.as_ref(), "str: incremental != whole");
    }
});
