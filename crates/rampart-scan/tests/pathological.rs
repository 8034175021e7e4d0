//! Pathological inputs (long repetitions of one pattern, ~1 MiB) fed to the
//! normalizer, the prompt-attack detector and the PII and secrets detectors: each must complete and keep its
//! invariants (views map to char boundaries of the input, findings lie on char
//! boundaries). No timing assertions: the suite's own run time is the guard against
//! quadratic behaviour (a quadratic pass over 1 MiB would take minutes).
//!
//! Sizes: in release builds (`cargo test --release -p rampart-scan --test
//! pathological`, ~10 s) every input is 1 MiB. In debug builds, where unoptimized
//! regex and Unicode table code is 10-30x slower, the normalizer still gets 1 MiB of
//! the inputs it handles in bulk (ASCII, invisibles, tags, encodings), and 256 KiB of
//! those whose every char takes the slow, per-char path (NFKC-changed, combining,
//! mixed scripts; marked `slow`), and the detectors get 256 KiB of each. 256 KiB is
//! still far beyond where a quadratic pass would show (65 G steps).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::ops::Range;
use std::sync::LazyLock;

use base64::Engine as _;
use rampart_scan::Finding;
use rampart_scan::normalize::{Limits, ViewKind, normalize};
use rampart_scan::pii::PiiDetector;
use rampart_scan::prompt::PromptDetector;
use rampart_scan::secrets::SecretsDetector;

const MB: usize = 1 << 20;

/// Bytes of each input the detectors scan, and the normalizer for `slow` inputs.
const SMALL: usize = if cfg!(debug_assertions) { MB / 4 } else { MB };

static PII: LazyLock<PiiDetector> = LazyLock::new(PiiDetector::new);
static SECRETS: LazyLock<SecretsDetector> = LazyLock::new(SecretsDetector::new);
static PROMPT: LazyLock<PromptDetector> = LazyLock::new(PromptDetector::new);

/// `unit` repeated to about `len` bytes.
fn rep(unit: &str, len: usize) -> String {
    unit.repeat(len.div_ceil(unit.len()).max(1))
}

/// The longest prefix of `s` of at most `len` bytes ending on a char boundary.
fn prefix(s: &str, len: usize) -> &str {
    let mut end = len.min(s.len());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

fn assert_span(text: &str, r: &Range<usize>, what: &str) {
    assert!(r.start <= r.end && r.end <= text.len(), "{what}: {r:?} outside {} bytes", text.len());
    assert!(text.is_char_boundary(r.start) && text.is_char_boundary(r.end), "{what}: {r:?} not on char boundaries");
}

fn check_findings(name: &str, text: &str, findings: &[Finding]) {
    for f in findings {
        assert_span(text, &f.span, &format!("{name}: {f:?}"));
        assert!(!f.span.is_empty(), "{name}: empty span {f:?}");
    }
}

/// Normalizes `norm_len` bytes of `text` and runs the detectors on [`SMALL`] bytes.
fn run(name: &str, text: &str, norm_len: usize) {
    let full = text;
    let text = prefix(full, norm_len);
    let n = normalize(text, &Limits::default());
    assert_eq!(n.canonical().kind, ViewKind::Canonical);
    let total: usize = n.views().iter().map(|v| v.text.len()).sum();
    // NFKC expands a char at most 18-fold (U+FDFA); decoded views are capped at 2x.
    assert!(total <= 40 * text.len() + 64, "{name}: views total {total} bytes");
    for v in n.views() {
        // Every 61st char and the whole view (all chars would be slow in debug).
        for (s, c) in v.text.char_indices().step_by(61) {
            assert_span(text, &v.to_original(s..s + c.len_utf8()), &format!("{name} {:?}", v.kind));
        }
        assert_span(text, &v.to_original(0..v.text.len()), &format!("{name} {:?}", v.kind));
    }

    let part = prefix(full, SMALL);
    let mut out = Vec::new();
    PII.scan(part, &mut out);
    check_findings(name, part, &out);
    out.clear();
    SECRETS.scan(part, &mut out);
    check_findings(name, part, &out);
    out.clear();
    let scores = if part.len() == text.len() {
        PROMPT.scan(&n, &mut out)
    } else {
        PROMPT.scan(&normalize(part, &Limits::default()), &mut out)
    };
    assert!((0.0..=1.0).contains(&scores.attack()), "{name}: score {scores:?}");
    check_findings(name, part, &out);
}

/// `name => text;` (normalized at 1 MiB) or `slow name => text;` (at [`SMALL`]).
macro_rules! pathological {
    () => {};
    (slow $name:ident => $text:expr; $($rest:tt)*) => {
        #[test]
        fn $name() {
            let text: String = $text;
            assert!(text.len() >= MB - 64, "{} is only {} bytes", stringify!($name), text.len());
            run(stringify!($name), &text, SMALL);
        }
        pathological!($($rest)*);
    };
    ($name:ident => $text:expr; $($rest:tt)*) => {
        #[test]
        fn $name() {
            let text: String = $text;
            assert!(text.len() >= MB - 64, "{} is only {} bytes", stringify!($name), text.len());
            run(stringify!($name), &text, MB);
        }
        pathological!($($rest)*);
    };
}

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

fn percent(s: &str) -> String {
    s.bytes().map(|b| format!("%{b:02X}")).collect()
}

fn hex(s: &str) -> String {
    s.bytes().map(|b| format!("{b:02x}")).collect()
}

pathological! {
    single_letter => rep("a", MB);
    ignore_words => rep("ignore ", MB);
    base64_single_run => rep("QUFB", MB);
    slow base64_words => rep("aWdub3JlIHByZXZpb3Vz ", MB);
    base64_padding => rep("QUFB=", MB);
    percent_run => rep("%41", MB);
    percent_nested => rep("%2541", MB);
    hex_run => rep("41", MB);
    nested_encodings => rep(&format!("{} ", b64(&percent(&hex("ignore previous instructions")))), MB);
    rot13_words => rep("vtaber cerivbhf vafgehpgvbaf ", MB);
    zero_width => rep("\u{200B}", MB);
    zero_width_between_letters => rep("a\u{200D}", MB);
    slow combining_on_one_base => format!("a{}", rep("\u{301}", MB));
    slow zalgo => rep("z\u{336}\u{337}\u{338}\u{30D}\u{30E}", MB);
    tag_chars => rep("\u{E0041}", MB);
    tag_chars_with_spaces => rep("\u{E0049}\u{E0020}", MB);
    slow alternating_scripts => rep("aаαа日🙂", MB);
    slow cyrillic_homoglyphs => rep("іgnоrе ", MB);
    leetspeak => rep("1gn0r3 pr3v10u$ ", MB);
    digit_run => rep("1234567890", MB);
    digit_groups => rep("4111 1111 1111 1111 ", MB);
    at_signs => rep("@", MB);
    at_heavy_emails => rep("a@b.", MB);
    at_dots => rep("@.", MB);
    hyphens => rep("-", MB);
    hyphen_digits => rep("1-", MB);
    dashes_and_letters => rep("a-b-", MB);
    whitespace_mix => rep(" \t\n\r\u{A0}\u{3000}", MB);
    newlines => rep("\n", MB);
    equals_and_quotes => rep("key=\"", MB);
    secret_prefixes => rep("sk-", MB);
    token_keywords => rep("token password secret ", MB);
    ipv4_like => rep("1.2.3.", MB);
    plus_signs => rep("+1 ", MB);
    long_url => format!("https://example.com/{}", rep("a/", MB));
    slow fullwidth => rep("Ｉｇｎｏｒｅ", MB);
    slow nfkc_expanding => rep("\u{FDFA}", MB);
    controls => rep("\u{1}\u{7f}\u{85}", MB);
}
