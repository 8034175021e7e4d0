//! Redaction tests: labels, masking (overlaps, bad spans, repeats, modes, bounds),
//! whole-text restoration against a naive oracle, and the streaming restorer against
//! whole-text restoration for every split point and random multi-point splits.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::borrow::Cow;
use std::sync::Arc;

use super::*;
use crate::pii::PiiDetector;
use crate::secrets::SecretsDetector;
use crate::{Family, Finding};

fn fnd(family: Family, entity: &'static str, span: std::ops::Range<usize>, score: f32) -> Finding {
    Finding { family, rule: "test", category: "test", entity, span, score }
}

fn pii(entity: &'static str, text: &str, value: &str) -> Finding {
    let start = text.find(value).expect("value in text");
    fnd(Family::Pii, entity, start..start + value.len(), 0.9)
}

fn secret(text: &str, value: &str) -> Finding {
    let start = text.find(value).expect("value in text");
    fnd(Family::Secrets, "AWS_ACCESS_KEY", start..start + value.len(), 0.9)
}

fn pseudo(vault: &mut Vault, text: &str, findings: &[Finding]) -> String {
    vault.mask_with(text, findings, |_| Mode::Pseudonymize).text.into_owned()
}

/// Deterministic xorshift64 for property-style tests.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Restoration by brute force: at every byte, try every known placeholder.
fn oracle(known: &[(String, String)], text: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut i = 0;
    'outer: while i < text.len() {
        for (ph, value) in known {
            if text[i..].starts_with(ph.as_bytes()) {
                out.extend_from_slice(value.as_bytes());
                i += ph.len();
                continue 'outer;
            }
        }
        out.push(text[i]);
        i += 1;
    }
    out
}

/// A vault holding a few values, plus a redacted one, and its restorable pairs.
fn sample_vault() -> (Vault, Vec<(String, String)>) {
    let text = "a@b.io +1 555 0100 a@b.io zoë@例え.jp 10.0.0.1 AKIAABCDEFGHIJKLMNOP 🦀x@y.z";
    let mut findings = vec![
        pii("EMAIL_ADDRESS", text, "a@b.io"),
        pii("PHONE_NUMBER", text, "+1 555 0100"),
        pii("EMAIL_ADDRESS", text, "zoë@例え.jp"),
        pii("IP_ADDRESS", text, "10.0.0.1"),
        secret(text, "AKIAABCDEFGHIJKLMNOP"),
        pii("EMAIL_ADDRESS", text, "🦀x@y.z"),
    ];
    let second = text.rfind("a@b.io").unwrap();
    findings.push(fnd(Family::Pii, "EMAIL_ADDRESS", second..second + 6, 0.9));
    let mut vault = Vault::new();
    let masked = vault.mask(text, &findings, &Policy::default());
    assert_eq!(masked.text, "[EMAIL_1] [PHONE_1] [EMAIL_1] [EMAIL_2] [IP_1] [SECRET_1] [EMAIL_3]", "sample masking");
    let known = [
        ("[EMAIL_1]", "a@b.io"),
        ("[PHONE_1]", "+1 555 0100"),
        ("[EMAIL_2]", "zoë@例え.jp"),
        ("[IP_1]", "10.0.0.1"),
        ("[EMAIL_3]", "🦀x@y.z"),
    ];
    (vault, known.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect())
}

/// Random text mixing known, redacted, unknown and broken placeholders with
/// multibyte characters and brackets.
fn random_text(rng: &mut Rng, known: &[(String, String)]) -> String {
    const PIECES: &[&str] = &[
        "[SECRET_1]",
        "[EMAIL_4]",
        "[EMAIL_0]",
        "[EMAIL_01]",
        "[IP_01]",
        "[NAME_1]",
        "[EMAIL_1",
        "EMAIL_1]",
        "[email_1]",
        "[[",
        "]]",
        "[",
        "]",
        "_",
        "1",
        "EMAIL",
        "[EMAIL_",
        "[PHONE_1_1]",
        "[EMAIL_1\u{e9}]",
        " ",
        "é",
        "例え",
        "🦀",
        "\u{10FFFF}",
        "plain text ",
        "[AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA]",
    ];
    let mut s = String::new();
    for _ in 0..rng.below(40) {
        if rng.below(3) == 0 {
            s.push_str(&known[rng.below(known.len())].0);
        } else {
            s.push_str(PIECES[rng.below(PIECES.len())]);
        }
    }
    s
}

fn stream_bytes<V: std::ops::Deref<Target = Vault>>(r: &mut Restorer<V>, input: &[u8], cuts: &[usize]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut last = 0;
    for &c in cuts {
        r.feed(&input[last..c], &mut out);
        assert!(r.pending() <= r.vault().max_token() + 1, "held back more than one placeholder");
        last = c;
    }
    r.feed(&input[last..], &mut out);
    r.finish(&mut out);
    assert_eq!(r.pending(), 0);
    out
}

// ---- labels ----

#[test]
fn labels_for_known_entities_secrets_and_fallback() {
    let cases = [
        ("EMAIL_ADDRESS", "EMAIL"),
        ("PHONE_NUMBER", "PHONE"),
        ("CREDIT_CARD", "CARD"),
        ("IBAN_CODE", "IBAN"),
        ("US_SSN", "SSN"),
        ("IP_ADDRESS", "IP"),
        ("DATE_TIME", "DATE"),
        ("US_DRIVER_LICENSE", "LICENSE"),
        ("US_PASSPORT", "PASSPORT"),
        ("STREET_ADDRESS", "ADDRESS"),
        ("ZIP_CODE", "ZIP"),
        ("DOMAIN_NAME", "URL"),
        ("MEDICAL_LICENSE", "MEDICAL_LICENSE"),
        ("my-entity.kind", "MY_ENTITY_KIND"),
        ("__x__", "X"),
        ("", "PII"),
        ("---", "PII"),
        ("A_VERY_LONG_ENTITY_NAME_THAT_GOES_ON", "A_VERY_LONG_ENTITY_NAME"),
    ];
    for (entity, label) in cases {
        assert_eq!(label_for(Family::Pii, entity), label, "{entity}");
        assert!(label_for(Family::Pii, entity).len() <= 24);
    }
    assert_eq!(label_for(Family::Secrets, "AWS_ACCESS_KEY"), "SECRET");
    assert_eq!(label_for(Family::Secrets, "GITHUB_TOKEN"), "SECRET");
    assert!(matches!(label_for(Family::Pii, "CUSTOM"), Cow::Borrowed("CUSTOM")));
}

// ---- masking ----

#[test]
fn mask_and_restore_round_trip() {
    let text = "Write to ana@example.com or call +1 (555) 123-4567, ana@example.com again.";
    let findings = [
        pii("PHONE_NUMBER", text, "+1 (555) 123-4567"),
        pii("EMAIL_ADDRESS", text, "ana@example.com"),
        fnd(Family::Pii, "EMAIL_ADDRESS", 52..67, 0.9),
    ];
    assert_eq!(&text[52..67], "ana@example.com");
    let mut vault = Vault::new();
    let masked = vault.mask(text, &findings, &Policy::default());
    assert_eq!(masked.text, "Write to [EMAIL_1] or call [PHONE_1], [EMAIL_1] again.");
    assert_eq!((masked.pseudonymized, masked.redacted, masked.degraded, masked.ignored), (3, 0, 0, 0));
    assert_eq!(vault.len(), 2);
    assert_eq!(vault.restorable(), 2);
    assert_eq!(vault.restore(&masked.text), text);
    assert_eq!(vault.lookup("[EMAIL_1]"), Some("ana@example.com"));
    assert_eq!(vault.lookup("[PHONE_1]"), Some("+1 (555) 123-4567"));
    assert_eq!(vault.lookup("EMAIL_1"), None);
}

#[test]
fn same_value_same_placeholder_across_texts_numbers_per_label() {
    let mut vault = Vault::new();
    let t1 = "from a@x.io to b@x.io";
    let m1 = pseudo(&mut vault, t1, &[pii("EMAIL_ADDRESS", t1, "a@x.io"), pii("EMAIL_ADDRESS", t1, "b@x.io")]);
    assert_eq!(m1, "from [EMAIL_1] to [EMAIL_2]");
    let t2 = "reply b@x.io, ip 1.2.3.4, c@x.io";
    let m2 = pseudo(
        &mut vault,
        t2,
        &[pii("EMAIL_ADDRESS", t2, "c@x.io"), pii("IP_ADDRESS", t2, "1.2.3.4"), pii("EMAIL_ADDRESS", t2, "b@x.io")],
    );
    assert_eq!(m2, "reply [EMAIL_2], ip [IP_1], [EMAIL_3]");
    // A value keeps its first placeholder even when later found as another entity.
    let t3 = "id 1.2.3.4";
    assert_eq!(pseudo(&mut vault, t3, &[pii("DATE_TIME", t3, "1.2.3.4")]), "id [IP_1]");
    assert_eq!(
        vault.restore("[EMAIL_3][EMAIL_2][EMAIL_1] [IP_1]"),
        "c@x.io b@x.io a@x.io 1.2.3.4".replacen(' ', "", 2)
    );
}

#[test]
fn no_findings_borrows_and_keep_leaves_text() {
    let mut vault = Vault::new();
    let text = "nothing here ana@example.com";
    let m = vault.mask(text, &[], &Policy::default());
    assert!(matches!(m.text, Cow::Borrowed(_)));
    let inj = fnd(Family::Injection, "PROMPT_INJECTION", 0..7, 0.9);
    let m = vault.mask(text, &[inj], &Policy::default());
    assert!(matches!(m.text, Cow::Borrowed(t) if t == text));
    let m = vault.mask_with(text, &[pii("EMAIL_ADDRESS", text, "ana@example.com")], |_| Mode::Keep);
    assert_eq!(m.text, text);
    assert!(vault.is_empty());
    assert!(matches!(vault.restore("[EMAIL_1]"), Cow::Borrowed(_)));
}

#[test]
fn overlapping_findings_merge_into_one_covering_placeholder() {
    let text = "see https://ana@example.com/x now";
    let url = pii("DOMAIN_NAME", text, "https://ana@example.com/x");
    let email = pii("EMAIL_ADDRESS", text, "ana@example.com");
    let mut vault = Vault::new();
    // Nested: the longer finding gives the label, whatever the order.
    for findings in [[url.clone(), email.clone()], [email.clone(), url.clone()]] {
        let m = vault.mask_with(text, &findings, |_| Mode::Pseudonymize);
        assert_eq!(m.text, "see [URL_1] now");
        assert_eq!(m.pseudonymized, 1);
    }
    assert_eq!(vault.restore("see [URL_1] now"), text);

    // Partial overlap chain: union of all three; longest is the phone.
    let text = "x 0123456789abcdef y";
    let f = [
        fnd(Family::Pii, "ZIP_CODE", 6..12, 0.5),
        fnd(Family::Pii, "PHONE_NUMBER", 2..10, 0.5),
        fnd(Family::Pii, "IBAN_CODE", 11..18, 0.5),
    ];
    let mut vault = Vault::new();
    let m = vault.mask_with(text, &f, |_| Mode::Pseudonymize);
    assert_eq!(m.text, "x [PHONE_1] y");
    assert_eq!(vault.lookup("[PHONE_1]"), Some("0123456789abcdef"));

    // Same span: higher score wins; equal scores: earlier finding wins.
    let text = "v 12345 w";
    let lo = fnd(Family::Pii, "ZIP_CODE", 2..7, 0.4);
    let hi = fnd(Family::Pii, "US_PASSPORT", 2..7, 0.8);
    assert_eq!(
        Vault::new().mask_with(text, &[lo.clone(), hi.clone()], |_| Mode::Pseudonymize).text,
        "v [PASSPORT_1] w"
    );
    let lo2 = fnd(Family::Pii, "US_SSN", 2..7, 0.4);
    assert_eq!(Vault::new().mask_with(text, &[lo.clone(), lo2.clone()], |_| Mode::Pseudonymize).text, "v [ZIP_1] w");
    assert_eq!(Vault::new().mask_with(text, &[lo2, lo], |_| Mode::Pseudonymize).text, "v [SSN_1] w");

    // Touching spans do not overlap: two placeholders.
    let text = "ab";
    let f = [fnd(Family::Pii, "ZIP_CODE", 1..2, 0.5), fnd(Family::Pii, "US_SSN", 0..1, 0.5)];
    let mut vault = Vault::new();
    assert_eq!(vault.mask_with(text, &f, |_| Mode::Pseudonymize).text, "[SSN_1][ZIP_1]");
    assert_eq!(vault.restore("[SSN_1][ZIP_1]"), "ab");
}

#[test]
fn overlap_with_a_redacted_member_is_redacted_under_its_label() {
    let text = "db postgres://u:hunter2secret@h/db end";
    let url = pii("DOMAIN_NAME", text, "postgres://u:hunter2secret@h/db");
    let pw = fnd(Family::Secrets, "DATABASE_PASSWORD", url.span.start + 13..url.span.start + 26, 0.9);
    assert_eq!(&text[pw.span.clone()], "hunter2secret");
    let mut vault = Vault::new();
    let m = vault.mask(text, &[url, pw], &Policy::default());
    assert_eq!(m.text, "db [SECRET_1] end");
    assert_eq!((m.pseudonymized, m.redacted), (0, 1));
    assert_eq!(vault.restore(&m.text), m.text);
    assert_eq!(vault.value_bytes(), 0, "redacted values are not stored");
}

#[test]
fn multibyte_text_around_and_inside_values() {
    let text = "🎉你好 zoë@例え.jp🦀，電話 +81 3-1234-5678。🎉";
    let f = [pii("EMAIL_ADDRESS", text, "zoë@例え.jp"), pii("PHONE_NUMBER", text, "+81 3-1234-5678")];
    let mut vault = Vault::new();
    let m = vault.mask(text, &f, &Policy::default());
    assert_eq!(m.text, "🎉你好 [EMAIL_1]🦀，電話 [PHONE_1]。🎉");
    assert_eq!(vault.restore(&m.text), text);
}

#[test]
fn spans_off_char_boundaries_widen_and_out_of_range_are_ignored() {
    let text = "a🦀b例c";
    // 1..3 cuts into the crab (bytes 1..5): widened to the whole crab.
    let f = [fnd(Family::Pii, "ZIP_CODE", 2..3, 0.5), fnd(Family::Pii, "US_SSN", 7..8, 0.5)];
    let mut vault = Vault::new();
    let m = vault.mask_with(text, &f, |_| Mode::Pseudonymize);
    assert_eq!(m.text, "a[ZIP_1]b[SSN_1]c");
    assert_eq!(vault.restore(&m.text), text);

    #[allow(clippy::reversed_empty_ranges)]
    let bad = [
        fnd(Family::Pii, "ZIP_CODE", 3..3, 0.5),
        fnd(Family::Pii, "ZIP_CODE", 5..2, 0.5),
        fnd(Family::Pii, "ZIP_CODE", 5..100, 0.5),
        fnd(Family::Pii, "ZIP_CODE", usize::MAX - 1..usize::MAX, 0.5),
        fnd(Family::Pii, "ZIP_CODE", text.len()..text.len() + 1, 0.5),
    ];
    let m = vault.mask_with(text, &bad, |_| Mode::Pseudonymize);
    assert_eq!(m.text, text);
    assert_eq!(m.ignored, 5);
}

#[test]
fn random_findings_never_panic_and_pseudonymization_round_trips() {
    // No uppercase letters in the text, so it cannot contain a placeholder itself.
    const ALPHABET: &[&str] = &["a", " ", "é", "例", "🦀", "[", "]", "_", "1", "@", "\u{7ff}"];
    let mut rng = Rng(0x2545_F491_4F6C_DD1D);
    let entities = ["EMAIL_ADDRESS", "PHONE_NUMBER", "US_SSN", "ZIP_CODE", "CUSTOM-x"];
    for round in 0..2000 {
        let text: String = (0..rng.below(30)).map(|_| ALPHABET[rng.below(ALPHABET.len())]).collect();
        let mut vault = if round % 3 == 0 {
            Vault::with_limits(Limits { max_entries: 3, max_value_bytes: 10 })
        } else {
            Vault::new()
        };
        let mut all = String::new();
        let mut restored_all = String::new();
        for _ in 0..3 {
            let findings: Vec<Finding> = (0..rng.below(6))
                .map(|_| {
                    let a = rng.below(text.len() + 3);
                    let b = rng.below(text.len() + 3);
                    fnd(Family::Pii, entities[rng.below(entities.len())], a..b, (rng.below(10) as f32) / 10.0)
                })
                .collect();
            let m = vault.mask_with(&text, &findings, |_| Mode::Pseudonymize);
            let placed = m.pseudonymized + m.redacted + m.degraded;
            assert_eq!(placed == 0, m.ignored as usize == findings.len(), "{text:?} {findings:?}");
            assert_eq!(placed == 0, matches!(m.text, Cow::Borrowed(_)));
            if m.degraded == 0 && m.redacted == 0 {
                assert_eq!(vault.restore(&m.text), text, "{text:?} {findings:?} -> {:?}", m.text);
            }
            all.push_str(&m.text);
            restored_all.push_str(&vault.restore(&m.text));
        }
        // Streaming the masked texts back gives the same as whole restoration.
        let mut r = vault.restorer();
        let cut = rng.below(all.len() + 1);
        assert_eq!(stream_bytes(&mut r, all.as_bytes(), &[cut]), restored_all.as_bytes());
    }
}

// ---- modes and bounds ----

#[test]
fn redacted_entries_never_restore_and_are_not_stored() {
    let text = "key AKIAABCDEFGHIJKLMNOP and AKIAABCDEFGHIJKLMNOP, mail a@b.io";
    let s1 = secret(text, "AKIAABCDEFGHIJKLMNOP");
    let mut s2 = s1.clone();
    s2.span = text.rfind("AKIA").unwrap()..text.rfind("AKIA").unwrap() + 20;
    let mut vault = Vault::new();
    let m = vault.mask(text, &[s1, s2, pii("EMAIL_ADDRESS", text, "a@b.io")], &Policy::default());
    assert_eq!(m.text, "key [SECRET_1] and [SECRET_1], mail [EMAIL_1]");
    assert_eq!((m.pseudonymized, m.redacted), (1, 2));
    assert_eq!(vault.restore(&m.text), "key [SECRET_1] and [SECRET_1], mail a@b.io");
    assert_eq!(vault.lookup("[SECRET_1]"), None);
    assert_eq!(vault.value_bytes(), "a@b.io".len());
    let debug = format!("{vault:?}");
    assert!(!debug.contains("AKIA") && !debug.contains("a@b.io"), "{debug}");
    assert!(debug.contains("restorable: 1"), "{debug}");
}

#[test]
fn redaction_is_sticky_in_both_orders() {
    // Pseudonymized first, then redacted: the placeholder stays, restoration is withdrawn.
    let mut vault = Vault::new();
    let t = "pw a@b.io";
    assert_eq!(pseudo(&mut vault, t, &[pii("EMAIL_ADDRESS", t, "a@b.io")]), "pw [EMAIL_1]");
    assert_eq!(vault.restore("[EMAIL_1]"), "a@b.io");
    let m = vault.mask(t, &[secret(t, "a@b.io")], &Policy::default());
    assert_eq!(m.text, "pw [EMAIL_1]");
    assert_eq!(m.redacted, 1);
    assert_eq!(vault.restore("[EMAIL_1]"), "[EMAIL_1]");
    assert_eq!(vault.restorable(), 0);
    // Redacted first, then asked to pseudonymize: still redacted.
    let mut vault = Vault::new();
    let m = vault.mask(t, &[secret(t, "a@b.io")], &Policy::default());
    assert_eq!(m.text, "pw [SECRET_1]");
    let m = vault.mask(t, &[pii("EMAIL_ADDRESS", t, "a@b.io")], &Policy::default());
    assert_eq!((m.text.as_ref(), m.pseudonymized, m.redacted), ("pw [SECRET_1]", 0, 1));
    assert_eq!(vault.restore("[SECRET_1]"), "[SECRET_1]");
}

#[test]
fn per_finding_decisions_with_a_closure() {
    let text = "ssn 123-45-6789 mail a@b.io";
    let f = [pii("US_SSN", text, "123-45-6789"), pii("EMAIL_ADDRESS", text, "a@b.io")];
    let mut vault = Vault::new();
    let m = vault.mask_with(text, &f, |f| if f.entity == "US_SSN" { Mode::Redact } else { Mode::Pseudonymize });
    assert_eq!(m.text, "ssn [SSN_1] mail [EMAIL_1]");
    assert_eq!(vault.restore(&m.text), "ssn [SSN_1] mail a@b.io");
}

#[test]
fn entry_bound_degrades_to_unnumbered_redaction() {
    let mut vault = Vault::with_limits(Limits { max_entries: 2, max_value_bytes: 1 << 20 });
    let text = "a@x.io b@x.io c@x.io a@x.io c@x.io";
    let f: Vec<Finding> = ["a@x.io", "b@x.io", "c@x.io"].iter().map(|v| pii("EMAIL_ADDRESS", text, v)).collect();
    let mut f2 = f.clone();
    f2.push(fnd(Family::Pii, "EMAIL_ADDRESS", 21..27, 0.9));
    f2.push(fnd(Family::Pii, "EMAIL_ADDRESS", 28..34, 0.9));
    let m = vault.mask(text, &f2, &Policy::default());
    assert_eq!(m.text, "[EMAIL_1] [EMAIL_2] [EMAIL_REDACTED] [EMAIL_1] [EMAIL_REDACTED]");
    assert_eq!((m.pseudonymized, m.degraded), (3, 2));
    assert_eq!(vault.len(), 2);
    assert_eq!(vault.restore(&m.text), "a@x.io b@x.io [EMAIL_REDACTED] a@x.io [EMAIL_REDACTED]");
    // Secrets past the bound are redacted, as asked.
    let t = "k AKIAABCDEFGHIJKLMNOP";
    let m = vault.mask(t, &[secret(t, "AKIAABCDEFGHIJKLMNOP")], &Policy::default());
    assert_eq!((m.text.as_ref(), m.redacted, m.degraded), ("k [SECRET_REDACTED]", 1, 0));
    let mut none = Vault::with_limits(Limits { max_entries: 0, max_value_bytes: 0 });
    assert_eq!(
        none.mask(t, &[pii("IP_ADDRESS", t, "AKIA")], &Policy::default()).text,
        "k [IP_REDACTED]ABCDEFGHIJKLMNOP"
    );
}

#[test]
fn byte_bound_degrades_to_numbered_redaction() {
    let mut vault = Vault::with_limits(Limits { max_entries: 100, max_value_bytes: 12 });
    let text = "a@x.io b@x.io c@x.io c@x.io";
    let f: Vec<Finding> =
        [0..6, 7..13, 14..20, 21..27].into_iter().map(|r| fnd(Family::Pii, "EMAIL_ADDRESS", r, 0.9)).collect();
    let m = vault.mask(text, &f, &Policy::default());
    assert_eq!(m.text, "[EMAIL_1] [EMAIL_2] [EMAIL_3] [EMAIL_3]");
    assert_eq!((m.pseudonymized, m.degraded, m.redacted), (2, 1, 1));
    assert_eq!(vault.value_bytes(), 12);
    assert_eq!(vault.restore(&m.text), "a@x.io b@x.io [EMAIL_3] [EMAIL_3]");
    // Many distinct values, arena regrowth keeps earlier values intact.
    let mut vault = Vault::new();
    let text: String = (0..500).map(|i| format!("user{i}@example.com ")).collect();
    let f: Vec<Finding> = text
        .match_indices("user")
        .map(|(s, _)| fnd(Family::Pii, "EMAIL_ADDRESS", s..s + text[s..].find(' ').unwrap(), 0.9))
        .collect();
    let m = vault.mask(&text, &f, &Policy::default());
    assert!(m.text.ends_with("[EMAIL_500] "));
    assert_eq!(vault.restore(&m.text), text);
}

// ---- restoration ----

#[test]
fn unknown_and_altered_placeholders_stay() {
    let (vault, _) = sample_vault();
    for s in [
        "[EMAIL_99]",
        "[NAME_1]",
        "[EMAIL_0]",
        "[EMAIL_01]",
        "[IP_01]",
        "[IP_0]",
        "[email_1]",
        "EMAIL_1",
        "[EMAIL_1 ]",
        "[ EMAIL_1]",
        "[EMAIL-1]",
        "[EMAIL_1",
        "EMAIL_1]",
        "[EMAIL__1]",
        "[_1]",
        "[EMAIL_4294967297]",
        "[SECRET_1]",
        "",
    ] {
        assert!(matches!(vault.restore(s), Cow::Borrowed(x) if x == s), "{s}");
    }
    assert_eq!(vault.restore("[[EMAIL_1]]"), "[a@b.io]");
    assert_eq!(vault.restore("[EMAIL_1][EMAIL_1]"), "a@b.ioa@b.io");
    assert_eq!(vault.restore("x[EMAIL_2]y[IP_1]"), "xzoë@例え.jpy10.0.0.1");
}

#[test]
fn restoration_does_not_expand_inserted_values() {
    let text = "n x[PHONE_1]y p 555";
    let f = [pii("PERSON", text, "x[PHONE_1]y"), pii("PHONE_NUMBER", text, "555")];
    let mut vault = Vault::new();
    let m = vault.mask_with(text, &f, |_| Mode::Pseudonymize);
    assert_eq!(m.text, "n [NAME_1] p [PHONE_1]");
    assert_eq!(vault.restore(&m.text), text);
    assert_eq!(vault.restore("[NAME_1]"), "x[PHONE_1]y");
    let mut r = vault.restorer();
    let mut out = String::new();
    r.feed_str("[NAME", &mut out);
    r.feed_str("_1]", &mut out);
    r.finish_str(&mut out);
    assert_eq!(out, "x[PHONE_1]y");
}

#[test]
fn whole_restoration_matches_the_oracle() {
    let (vault, known) = sample_vault();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for _ in 0..3000 {
        let text = random_text(&mut rng, &known);
        let whole = vault.restore(&text);
        assert_eq!(whole.as_bytes(), oracle(&known, text.as_bytes()), "{text:?}");
        assert_eq!(vault.restore_bytes(text.as_bytes()).as_ref(), whole.as_bytes());
    }
}

#[test]
fn restorer_equals_whole_restoration_at_every_split() {
    let (vault, known) = sample_vault();
    let text = format!(
        "🎉[EMAIL_1]例[[PHONE_1]][EMAIL_9][SECRET_1]{}é[IP_1[IP_1][EMAIL_3]🦀[EMAIL_2]",
        "[AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA]"
    );
    let want = vault.restore(&text).into_owned();
    assert_eq!(want.as_bytes(), oracle(&known, text.as_bytes()));
    let bytes = text.as_bytes();
    let mut r = vault.restorer();
    for i in 0..=bytes.len() {
        assert_eq!(stream_bytes(&mut r, bytes, &[i]), want.as_bytes(), "split at {i}");
    }
    for i in 0..=bytes.len() {
        for j in i..=bytes.len() {
            assert_eq!(stream_bytes(&mut r, bytes, &[i, j]), want.as_bytes(), "split at {i}, {j}");
        }
    }
    let every: Vec<usize> = (1..bytes.len()).collect();
    assert_eq!(stream_bytes(&mut r, bytes, &every), want.as_bytes(), "byte at a time");
}

#[test]
fn restorer_equals_whole_restoration_at_random_splits() {
    let (vault, known) = sample_vault();
    let vault = Arc::new(vault);
    let mut rng = Rng(0xD1B5_4A32_D192_ED03);
    let mut r = Restorer::new(Arc::clone(&vault));
    for _ in 0..3000 {
        let text = random_text(&mut rng, &known);
        let want = vault.restore(&text).into_owned();
        let bytes = text.as_bytes();
        let mut cuts: Vec<usize> = (0..rng.below(8)).map(|_| rng.below(bytes.len() + 1)).collect();
        cuts.sort_unstable();
        assert_eq!(stream_bytes(&mut r, bytes, &cuts), want.as_bytes(), "{text:?} {cuts:?}");

        // Text chunks (cut at char boundaries only): every piece of output is whole text.
        let mut out = String::new();
        let mut last = 0;
        for &c in cuts.iter().filter(|&&c| text.is_char_boundary(c)) {
            r.feed_str(&text[last..c], &mut out);
            last = c;
        }
        r.feed_str(&text[last..], &mut out);
        r.finish_str(&mut out);
        assert_eq!(out, want, "{text:?} {cuts:?}");
    }
}

#[test]
fn restorer_holds_back_only_a_possible_placeholder() {
    let (vault, _) = sample_vault();
    let mut r = vault.restorer();
    let mut out = Vec::new();
    r.feed(b"hello [EMA", &mut out);
    assert_eq!((out.as_slice(), r.pending()), (b"hello ".as_slice(), 4));
    r.feed(b"IL_1", &mut out);
    assert_eq!(r.pending(), 8);
    r.feed(b"] ok [note] [", &mut out);
    assert_eq!((out.as_slice(), r.pending()), (b"hello a@b.io ok [note] ".as_slice(), 1));
    r.feed("\u{e9}".as_bytes().get(..1).unwrap(), &mut out);
    assert_eq!(r.pending(), 0, "a non-placeholder byte releases the bracket");
    r.feed("\u{e9}".as_bytes().get(1..).unwrap(), &mut out);
    r.finish(&mut out);
    assert_eq!(String::from_utf8(out).unwrap(), "hello a@b.io ok [note] [é");

    // Longer than any restorable placeholder: released without waiting for `]`.
    let mut out = Vec::new();
    r.feed(b"[ABCDEFGHIJKLMNOPQRSTUVWXYZ", &mut out);
    assert!(r.pending() <= vault.max_token() + 1);
    r.finish(&mut out);
    assert_eq!(out, b"[ABCDEFGHIJKLMNOPQRSTUVWXYZ");

    // An empty vault holds nothing back.
    let empty = Vault::new();
    let mut r = empty.restorer();
    let mut out = Vec::new();
    r.feed(b"[EMAIL_", &mut out);
    assert_eq!((out.as_slice(), r.pending()), (b"[EMAIL_".as_slice(), 0));
}

#[test]
fn restoration_is_linear_on_adversarial_input() {
    let (vault, _) = sample_vault();
    let text = "[EMAIL_".repeat(40_000) + &"[".repeat(100_000) + &"[EMAIL_1".repeat(20_000);
    let start = std::time::Instant::now();
    let whole = vault.restore(&text);
    assert!(matches!(whole, Cow::Borrowed(_)));
    let mut r = vault.restorer();
    let mut out = Vec::with_capacity(text.len());
    for chunk in text.as_bytes().chunks(3) {
        r.feed(chunk, &mut out);
    }
    r.finish(&mut out);
    assert_eq!(out, text.as_bytes());
    assert!(start.elapsed().as_secs() < 5, "took {:?}", start.elapsed());
}

// ---- with the real detectors ----

#[test]
fn detectors_mask_and_restore_end_to_end() {
    let text = "Hi, I'm ana@example.com, card 4111 1111 1111 1111, key AKIAQWERTYUIOPASDFGH. Write ana@example.com.";
    let mut findings = Vec::new();
    PiiDetector::new().scan(text, &mut findings);
    SecretsDetector::new().scan(text, &mut findings);
    let mut vault = Vault::new();
    let m = vault.mask(text, &findings, &Policy::default());
    assert!(!m.text.contains("ana@example.com") && !m.text.contains("4111") && !m.text.contains("AKIA"), "{}", m.text);
    assert!(m.text.contains("[EMAIL_1]") && m.text.contains("[CARD_1]") && m.text.contains("[SECRET_1]"), "{}", m.text);
    let back = vault.restore(&m.text);
    assert_eq!(back, text.replace("AKIAQWERTYUIOPASDFGH", "[SECRET_1]"));
}

#[test]
fn vault_and_restorer_can_cross_threads() {
    fn check<T: Send + Sync>() {}
    check::<Vault>();
    check::<Restorer<Arc<Vault>>>();
    check::<Restorer<&Vault>>();
}
