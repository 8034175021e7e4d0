//! PII detector: finds personal data (contact details, payment and bank numbers,
//! government ids, network addresses, dates of birth, postal data) in text.
//!
//! Pipeline: cheap seeds (digit runs, `@`, `:`, `http`/`www.`, context words) mark
//! where each pattern can match; its regex runs only in windows around them, with
//! exactly the matches a pass over the whole text would give, and every candidate
//! goes through a validator (checksums, ranges, boundary and context checks) before
//! it becomes a [`Finding`]. Every regex is compiled once in [`PiiDetector::new`];
//! all patterns are bounded and the regex crate is linear-time, so scanning is
//! linear in the input.
//!
//! Policy decisions worth knowing:
//! - Dotted quads such as `1.2.3.4` are reported as IPv4 addresses when every octet
//!   is 0..=255, because a version string and an address cannot be told apart by
//!   shape. They are not reported when glued to a letter (`v1.2.3.4`), when the
//!   word "version" or "release" precedes them, or when they are part of a longer
//!   dotted run (`1.2.3.4.5`) or hyphen-glued to a name (`Python-3.4.2.4`).
//! - Phone numbers in strong formats (`+CC …`, NANP `(555) 123-4567`,
//!   `555.123.4567`, `00`-prefixed international) are reported anywhere; every other
//!   digit grouping needs a phone word nearby ("phone", "call", "mobile", "fax", …).
//! - Bare 9-digit or space-separated SSNs, passport numbers, driver licences, ZIP
//!   codes and dates of birth are reported only with their context words.
//! - Payment cards: Luhn plus known IIN ranges; 13–19 digits, 12 for Maestro ranges.
//! - URLs (`http(s)://…`, `www.…`) are reported as `DOMAIN_NAME`.

mod validate;

use std::collections::BTreeMap;
use std::ops::Range;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind};
use regex::Regex;

use crate::{Family, Finding};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Email,
    Url,
    Iban,
    Card,
    Ssn,
    Dob,
    DriverLicense,
    Passport,
    Ipv4,
    Ipv6,
    Phone,
    Zip,
    Address,
}

impl Kind {
    /// (rule, category, entity)
    fn meta(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Kind::Email => ("pii.email", "contact", "EMAIL_ADDRESS"),
            Kind::Phone => ("pii.phone", "contact", "PHONE_NUMBER"),
            Kind::Card => ("pii.credit_card", "financial", "CREDIT_CARD"),
            Kind::Iban => ("pii.iban", "financial", "IBAN_CODE"),
            Kind::Ssn => ("pii.us_ssn", "government_id", "US_SSN"),
            Kind::DriverLicense => ("pii.us_driver_license", "government_id", "US_DRIVER_LICENSE"),
            Kind::Passport => ("pii.passport", "government_id", "US_PASSPORT"),
            Kind::Ipv4 => ("pii.ipv4", "network", "IP_ADDRESS"),
            Kind::Ipv6 => ("pii.ipv6", "network", "IP_ADDRESS"),
            Kind::Url => ("pii.domain", "network", "DOMAIN_NAME"),
            Kind::Dob => ("pii.date_of_birth", "personal", "DATE_TIME"),
            Kind::Zip => ("pii.zip_code", "location", "ZIP_CODE"),
            Kind::Address => ("pii.street_address", "location", "STREET_ADDRESS"),
        }
    }

    /// Lower wins when two findings overlap.
    fn priority(self) -> u8 {
        match self {
            Kind::Email => 0,
            Kind::Url => 1,
            Kind::Iban => 2,
            Kind::Card => 3,
            Kind::Ssn => 4,
            Kind::Dob => 5,
            Kind::DriverLicense => 6,
            Kind::Passport => 7,
            Kind::Ipv6 => 8,
            Kind::Ipv4 => 9,
            Kind::Phone => 10,
            Kind::Zip => 11,
            Kind::Address => 12,
        }
    }
}

const MONTHS: &str = "jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?";

const US_STATES: &str = "AL|AK|AZ|AR|CA|CO|CT|DE|DC|FL|GA|HI|ID|IL|IN|IA|KS|KY|LA|ME|MD|MA|MI|MN|MS|MO|MT|NE|NV|NH|NJ|NM|NY|NC|ND|OH|OK|OR|PA|RI|SC|SD|TN|TX|UT|VT|VA|WA|WV|WI|WY|PR";

const STREET_SUFFIX: &str = "Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Way|Place|Pl|Terrace|Ter|Circle|Cir|Parkway|Pkwy|Highway|Hwy|Square|Squares|Streets|Str|Trail|Crescent|Close|Gardens|Alley|Plaza|Path|Pike|Row";

fn patterns() -> Vec<(Kind, String)> {
    vec![
        (
            Kind::Email,
            r"(?i)[a-z0-9][a-z0-9._%+\-]{0,63}@(?:[a-z0-9](?:[a-z0-9\-]{0,61}[a-z0-9])?\.){1,8}[a-z]{2,24}".into(),
        ),
        (
            Kind::Url,
            r#"(?i)(?-u:\b)(?:https?://[a-z0-9][a-z0-9\-._~%]{0,253}(?::[0-9]{1,5})?|www\.[a-z0-9\-]{1,63}(?:\.[a-z0-9\-]{1,63}){1,6})(?:/[^\s"'<>()\[\]{}]{0,512})?"#.into(),
        ),
        (Kind::Iban, r"(?i)(?-u:\b)[a-z]{2}[0-9]{2}(?:[ \-]?[a-z0-9]){11,30}".into()),
        (Kind::Card, r"[0-9](?:[ \-]?[0-9]){11,18}".into()),
        (Kind::Ssn, r"(?-u:\b)[0-9]{3}[ \-][0-9]{2}[ \-][0-9]{4}(?-u:\b)|(?-u:\b)[0-9]{9}(?-u:\b)".into()),
        (
            Kind::Dob,
            format!(
                r"(?i)(?-u:\b)[0-9]{{1,2}}[/.\-][0-9]{{1,2}}[/.\-](?:[0-9]{{4}}|[0-9]{{2}})(?-u:\b)|(?-u:\b)[0-9]{{4}}[/.\-][0-9]{{1,2}}[/.\-][0-9]{{1,2}}(?-u:\b)|(?-u:\b)(?:{MONTHS})\.? [0-9]{{1,2}}(?:st|nd|rd|th)?,? [0-9]{{4}}(?-u:\b)|(?-u:\b)[0-9]{{1,2}}(?:st|nd|rd|th)? (?:of )?(?:{MONTHS})\.?,? [0-9]{{4}}(?-u:\b)"
            ),
        ),
        (Kind::DriverLicense, r"(?-u:\b)[A-Z]{0,2}[0-9][[0-9]\-]{3,17}[0-9](?-u:\b)".into()),
        (Kind::Passport, r"(?-u:\b)[A-Z]{0,2}[0-9]{6,9}(?-u:\b)".into()),
        (Kind::Ipv4, r"(?-u:\b)(?:[0-9]{1,3}\.){3}[0-9]{1,3}(?-u:\b)".into()),
        (
            Kind::Ipv6,
            r"(?i)[0-9a-f]{0,4}(?::[0-9a-f]{0,4}){2,7}(?:\.[0-9]{1,3}){0,3}".into(),
        ),
        (
            Kind::Phone,
            r"(?i)(?:(?:\+ ?)?\([0-9]{1,4}\)|(?:\+|(?-u:\b))[0-9]{1,5})(?:[ .\-]?(?:\([0-9]{1,4}\)|[0-9]{1,5})){0,7}(?: ?(?:x|ext\.?|extension) ?[0-9]{1,6}(?-u:\b))?".into(),
        ),
        (
            Kind::Zip,
            format!(
                r"(?-u:\b)(?:[0-9]{{5}}-[0-9]{{3,4}}|[0-9]{{4}}-[0-9]{{3}}|[0-9]{{2}}-[0-9]{{3}}|[0-9]{{3}} [0-9]{{2}}|[0-9]{{3,5}}|[0-9]{{4}} ?[A-Z]{{2}}|[A-Z][0-9][A-Z] ?[0-9][A-Z][0-9]|[A-Z]{{1,2}}[0-9][A-Z[0-9]]? ?[0-9][A-Z]{{2}})(?-u:\b)|, ?(?:{US_STATES}) [0-9]{{5}}(?:-[0-9]{{4}})?(?-u:\b)"
            ),
        ),
        (
            Kind::Address,
            format!(
                r"(?-u:\b)[0-9]{{1,6}}[A-Za-z]?(?: [A-Z][A-Za-zÀ-ÿ'\.\-]*){{1,5}} (?:{STREET_SUFFIX})(?-u:\b)\.?(?:,? (?:Apt|Suite|Ste|Unit)\.? ?#?[0-9]{{1,5}})?|(?i:(?-u:\b)(?:Apt\.|Apartment|Suite) #?[0-9]{{1,5}}(?-u:\b))|(?i:(?-u:\b)(?:PSC|Unit|CMR) [0-9]{{3,5}},? Box [0-9]{{3,5}}(?-u:\b)|(?-u:\b)[ADF]PO A[AEP] [0-9]{{5}}(?-u:\b))|(?:(?-u:\b)(?:Via|Viale|Piazza|Plaza|Plac)|(?i:(?-u:\b)(?:rua|rúa|calle|avenida|rue|carrer|camino|ul\.|ulica|aleja|al\.)))(?: [\p{{L}}'\.\-]+){{1,4}} [0-9]{{1,5}}(?-u:\b)|(?-u:\b)[A-Z][a-zà-ÿ]+ (?:Strasse|Straße|Str\.|Gasse|Weg|gate|gata|vei|vej|utca|ulica) [0-9]{{1,5}}[a-z]?(?-u:\b)|(?-u:\b)[A-ZÄÖÜÅÆØÞ][a-zà-ÿ]*(?i:straße|strasse|weg|gasse|platz|allee|vej|vägen|gatan|katu|kuja|veien|laan|straat|utca|ulica|stræti|stræde|gade|vegur) [0-9]{{1,5}}[a-z]?(?-u:\b)"
            ),
        ),
    ]
}

struct Rule {
    kind: Kind,
    re: Regex,
}

/// Compiled PII detector. Build once with [`PiiDetector::new`], share freely.
pub struct PiiDetector {
    rules: Vec<Rule>,
    /// Context words of the DOB, driver-licence, passport and ZIP validators,
    /// ASCII case-insensitive (see [`Ctx`]).
    ctx: [Option<AhoCorasick>; 4],
}

impl Default for PiiDetector {
    fn default() -> Self {
        Self::new()
    }
}

struct Cand {
    kind: Kind,
    span: Range<usize>,
    score: f32,
}

/// Context-word lists the validators require before a candidate, with how far
/// back they look; index into [`PiiDetector::ctx`].
#[derive(Clone, Copy)]
enum Ctx {
    Dob = 0,
    Dl = 1,
    Passport = 2,
    Zip = 3,
}

const CTX_LISTS: [(&[&str], usize); 4] = [(DOB_CTX, 40), (DL_CTX, 40), (PASSPORT_CTX, 40), (ZIP_CTX, 24)];

impl PiiDetector {
    /// Compiles every pattern. The patterns are constants, so failure is a bug
    /// caught by the tests; a pattern that fails to compile is skipped.
    pub fn new() -> Self {
        let mut rules = Vec::new();
        for (kind, pat) in patterns() {
            if let Ok(re) = Regex::new(&pat) {
                rules.push(Rule { kind, re });
            }
        }
        let ctx = CTX_LISTS.map(|(words, _)| {
            AhoCorasickBuilder::new().ascii_case_insensitive(true).kind(Some(AhoCorasickKind::DFA)).build(words).ok()
        });
        Self { rules, ctx }
    }

    /// Whether a word of list `c` can occur in the validator's look-back window of
    /// a match starting at or after `a` and ending before `end`. The validators
    /// search a Unicode-lowercased window; ASCII case folding finds every such
    /// occurrence because no word contains `k` (the Kelvin sign lowercases to it)
    /// or ends in `i` (`İ` lowercases to `i` + U+0307). Without the automaton, yes.
    fn ctx_near(&self, c: Ctx, text: &str, a: usize, end: usize) -> bool {
        let (_, back) = CTX_LISTS[c as usize];
        let Some(ac) = &self.ctx[c as usize] else { return true };
        let from = floor_char(text, a.saturating_sub(back));
        text.get(from..end).is_none_or(|r| ac.is_match(r))
    }

    /// Appends every PII finding in `text` to `out`. Spans are byte ranges on char
    /// boundaries; overlapping candidates are resolved by entity priority.
    ///
    /// Each rule's regex runs only on windows around seeds (digit runs, `@`, `:`,
    /// URL starts) that every match of it must contain, and yields exactly the
    /// matches a `find_iter` over the whole text would (see [`search`]).
    pub fn scan(&self, text: &str, out: &mut Vec<Finding>) {
        let bytes = text.as_bytes();
        let runs = digit_runs(bytes);
        let mut cands: Vec<Cand> = Vec::new();
        let mut seeds: Vec<(usize, usize)> = Vec::new();
        let any = |_: usize, _: usize| true;
        for rule in &self.rules {
            let kind = rule.kind;
            let mut push = |s: usize, e: usize| {
                if let Some(c) = check(kind, text, s, e) {
                    cands.push(c);
                }
            };
            let re = &rule.re;
            // (lb, maxlen, min) per [`search`]; byte bounds allow 3-byte chars where
            // Unicode case folding reaches beyond ASCII (K -> U+212A, s -> U+017F).
            match kind {
                Kind::Email => {
                    seeds.clear();
                    seeds.extend(memchr::memchr_iter(b'@', bytes).map(|i| (i, i + 1)));
                    search(re, text, &seeds, (200, 1800, 1), any, &mut push);
                }
                Kind::Url => {
                    // `http…://` has `://` 4-6 bytes in (`ſ` is 2 bytes), `www.` its dot 3.
                    seeds.clear();
                    seeds.extend(
                        memchr::memchr2_iter(b':', b'.', bytes)
                            .filter(|&i| {
                                if bytes[i] == b':' {
                                    bytes.get(i + 1..i + 3) == Some(b"//")
                                } else {
                                    i >= 3 && bytes.get(i - 3..i).is_some_and(|w| w.eq_ignore_ascii_case(b"www"))
                                }
                            })
                            .map(|i| (i, i + 1)),
                    );
                    search(re, text, &seeds, (6, 3400, 1), any, &mut push);
                }
                Kind::Iban => {
                    // `[a-z]{2}[0-9]{2}`: a run of 2+ digits right after a letter.
                    seeds.clear();
                    seeds.extend(
                        runs.iter()
                            .filter(|r| {
                                r.1 - r.0 >= 2
                                    && r.0
                                        .checked_sub(1)
                                        .and_then(|i| bytes.get(i))
                                        .is_some_and(|&b| b.is_ascii_alphabetic() || b >= 0x80)
                            })
                            .map(|r| (r.0, r.0 + 1)),
                    );
                    search(re, text, &seeds, (6, 130, 1), any, &mut push);
                }
                Kind::Card => search(re, text, &runs, (0, 37, 12), any, &mut push),
                Kind::Ssn => {
                    // `\b[0-9]{3}[ -]` or `\b[0-9]{9}\b`: a whole run of 3 or 9.
                    seeds.clear();
                    seeds.extend(
                        runs.iter()
                            .filter(|r| {
                                let n = r.1 - r.0;
                                n == 9 || (n == 3 && matches!(bytes.get(r.1), Some(b' ' | b'-')))
                            })
                            .map(|r| (r.0, r.0 + 1)),
                    );
                    search(re, text, &seeds, (0, 11, 1), any, &mut push);
                }
                Kind::Dob => {
                    let gate = |a, end| self.ctx_near(Ctx::Dob, text, a, end);
                    search(re, text, &runs, (16, 40, 4), gate, &mut push);
                }
                Kind::DriverLicense => {
                    let gate = |a, end| self.ctx_near(Ctx::Dl, text, a, end);
                    search(re, text, &runs, (2, 21, 5), gate, &mut push);
                }
                Kind::Passport => {
                    seeds.clear();
                    seeds.extend(runs.iter().filter(|r| (6..=9).contains(&(r.1 - r.0))).map(|r| (r.0, r.0 + 1)));
                    let gate = |a, end| self.ctx_near(Ctx::Passport, text, a, end);
                    search(re, text, &seeds, (2, 11, 1), gate, &mut push);
                }
                Kind::Ipv4 => {
                    // Each of the first three octets is a whole run of 1-3 digits
                    // followed by a dot.
                    seeds.clear();
                    seeds.extend(
                        runs.iter().filter(|r| r.1 - r.0 <= 3 && bytes.get(r.1) == Some(&b'.')).map(|r| (r.0, r.0 + 1)),
                    );
                    search(re, text, &seeds, (0, 15, 3), any, &mut push);
                }
                Kind::Ipv6 => {
                    seeds.clear();
                    seeds.extend(memchr::memchr_iter(b':', bytes).map(|i| (i, i + 1)));
                    search(re, text, &seeds, (4, 60, 2), any, &mut push);
                }
                // The validator wants 7+ digits outside the extension.
                Kind::Phone => search(re, text, &runs, (3, 80, 7), any, &mut push),
                Kind::Zip => {
                    // Only the `, ST 12345` form passes without a ZIP word.
                    let gate = |a: usize, end: usize| {
                        text.as_bytes().get(a..end).is_some_and(|w| w.contains(&b','))
                            || self.ctx_near(Ctx::Zip, text, a, end)
                    };
                    search(re, text, &runs, (5, 16, 2), gate, &mut push);
                }
                Kind::Address => search_runs(re, text, &runs, address_byte, &mut push),
            }
        }
        // Context-only phone numbers (score < 0.75) yield to street addresses, whose
        // house numbers look like short digit groups.
        let prio = |c: &Cand| {
            if c.kind == Kind::Phone && c.score < 0.75 { 13 } else { c.kind.priority() }
        };
        cands.sort_by(|a, b| prio(a).cmp(&prio(b)).then(a.span.start.cmp(&b.span.start)));
        // Accepted spans never overlap each other, so the only possible conflict for a
        // new candidate is the accepted span with the greatest start below its end.
        let mut taken: BTreeMap<usize, usize> = BTreeMap::new();
        let mut kept: Vec<Cand> = Vec::new();
        for c in cands {
            let clash = taken.range(..c.span.end).next_back().is_some_and(|(_, &end)| end > c.span.start);
            if clash {
                continue;
            }
            taken.insert(c.span.start, c.span.end);
            kept.push(c);
        }
        kept.sort_by_key(|c| c.span.start);
        for c in kept {
            let (rule, category, entity) = c.kind.meta();
            out.push(Finding {
                family: Family::Pii,
                rule,
                category,
                entity,
                span: c.span,
                score: c.score.clamp(0.0, 1.0),
            });
        }
    }
}

// ---------------------------------------------------------------- windowed search

/// Maximal runs of ASCII digits, as `(start, end)` byte ranges.
fn digit_runs(b: &[u8]) -> Vec<(usize, usize)> {
    let mut runs = Vec::new();
    let mut i = 0;
    while let Some(off) = b.get(i..).and_then(|r| r.iter().position(u8::is_ascii_digit)) {
        let s = i + off;
        let e = b.get(s..).and_then(|r| r.iter().position(|c| !c.is_ascii_digit())).map_or(b.len(), |n| s + n);
        runs.push((s, e));
        i = e;
    }
    runs
}

fn floor_char(text: &str, mut i: usize) -> usize {
    while i > 0 && !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn ceil_char(text: &str, mut i: usize) -> usize {
    while i < text.len() && !text.is_char_boundary(i) {
        i += 1;
    }
    i
}

/// Reports (via `f`) exactly the matches `re.find_iter(text)` would, given seeds
/// with this property: every match `[s, e)` has a seed position `q` (any byte of a
/// `(start, end)` seed range) with `s <= q <= s + lb` and `e <= s + maxlen`, decided
/// by the matched bytes alone. Seeds are sorted and disjoint.
///
/// Seeds closer than a window are clustered; each cluster's window runs from the
/// first seed minus `lb` to the last seed plus `maxlen` plus one byte (so `\b` at a
/// match end sees the real next byte), and the regex runs with `find_at` (which
/// sees the real previous byte) on the text cut at the window end. No match can
/// reach the cut, and windows of different clusters are disjoint, so the matches
/// and their leftmost-first order are those of the whole text. A cluster with fewer
/// than `min` seed positions is skipped: every match (that the validator could
/// accept) holds at least `min` of them, all in its own cluster. So is a window
/// `[a, end)` for which `gate` says the validator would reject every match in it.
fn search(
    re: &Regex,
    text: &str,
    seeds: &[(usize, usize)],
    (lb, maxlen, min): (usize, usize, usize),
    gate: impl Fn(usize, usize) -> bool,
    f: &mut impl FnMut(usize, usize),
) {
    let mut p = 0;
    let mut i = 0;
    while let Some(&(qs, qe)) = seeds.get(i) {
        let mut count = qe - qs;
        let mut end = qe + maxlen;
        i += 1;
        while let Some(&(ns, ne)) = seeds.get(i) {
            if ns.saturating_sub(lb) >= end {
                break;
            }
            count += ne - ns;
            end = ne + maxlen;
            i += 1;
        }
        if count < min {
            continue;
        }
        let end = ceil_char(text, end.min(text.len()));
        let mut at = floor_char(text, qs.saturating_sub(lb)).max(p);
        if !gate(at, end) {
            continue;
        }
        let Some(hay) = text.get(..end) else { continue };
        while at < end {
            let Some(m) = re.find_at(hay, at) else { break };
            f(m.start(), m.end());
            if m.end() <= at {
                break;
            }
            p = m.end();
            at = p;
        }
    }
}

/// Bytes a street-address match can contain: ASCII letters and digits, space,
/// `'`, `.`, `-`, `,`, `#`, and any byte of a non-ASCII char.
fn address_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b' ' | b'\'' | b'.' | b'-' | b',' | b'#') || b >= 0x80
}

/// Like [`search`] for a regex without a length bound whose matches contain a
/// digit and consist of bytes in `class` only: runs the regex on each maximal run
/// of `class` bytes that contains a digit, cut one byte past the run (that byte is
/// ASCII, outside `class`, and no match can contain it).
fn search_runs(
    re: &Regex,
    text: &str,
    runs: &[(usize, usize)],
    class: fn(u8) -> bool,
    f: &mut impl FnMut(usize, usize),
) {
    let b = text.as_bytes();
    let mut done = 0;
    for &(ds, de) in runs {
        if ds < done {
            continue;
        }
        let mut a = ds;
        while a > done && b.get(a - 1).is_some_and(|&c| class(c)) {
            a -= 1;
        }
        let mut z = de;
        while b.get(z).is_some_and(|&c| class(c)) {
            z += 1;
        }
        done = z;
        let end = ceil_char(text, (z + 1).min(text.len()));
        let Some(hay) = text.get(..end) else { continue };
        let mut at = a;
        while at < z {
            let Some(m) = re.find_at(hay, at) else { break };
            f(m.start(), m.end());
            if m.end() <= at {
                break;
            }
            at = m.end();
        }
    }
}

// ---------------------------------------------------------------- helpers

fn prev_char(text: &str, at: usize) -> Option<char> {
    text.get(..at).and_then(|s| s.chars().next_back())
}

fn next_char(text: &str, at: usize) -> Option<char> {
    text.get(at..).and_then(|s| s.chars().next())
}

fn char_after_next(text: &str, at: usize) -> Option<char> {
    text.get(at..).and_then(|s| s.chars().nth(1))
}

/// Lowercased window of up to `n` bytes before `at`.
fn before(text: &str, at: usize, n: usize) -> String {
    let mut s = at.saturating_sub(n);
    while !text.is_char_boundary(s) {
        s += 1;
    }
    text.get(s..at).unwrap_or("").to_lowercase()
}

/// Lowercased window of up to `n` bytes after `at`.
fn after(text: &str, at: usize, n: usize) -> String {
    let mut e = (at + n).min(text.len());
    while !text.is_char_boundary(e) {
        e -= 1;
    }
    text.get(at..e).unwrap_or("").to_lowercase()
}

fn any_in(hay: &str, words: &[&str]) -> bool {
    words.iter().any(|w| hay.contains(w))
}

fn digits_of(s: &str) -> Vec<u8> {
    s.bytes().filter(u8::is_ascii_digit).collect()
}

fn is_word(c: Option<char>) -> bool {
    c.is_some_and(|c| c.is_alphanumeric() || c == '_')
}

/// The candidate is not glued to a longer number: no digit/letter right before or
/// after, and no `-`/`.`/`/`/`:` + digit continuation on either side.
fn numeric_boundary(text: &str, s: usize, e: usize) -> bool {
    let p = prev_char(text, s);
    if is_word(p) {
        return false;
    }
    if matches!(p, Some('-' | '.' | '/' | ':' | '+' | ',')) {
        let pp = s.checked_sub(1).and_then(|i| prev_char(text, i));
        if pp.is_some_and(|c| c.is_ascii_digit()) {
            return false;
        }
    }
    let n = next_char(text, e);
    if is_word(n) {
        return false;
    }
    if matches!(n, Some('-' | '.' | '/' | ':' | ',')) && char_after_next(text, e).is_some_and(|c| c.is_ascii_digit()) {
        return false;
    }
    true
}

const PHONE_BEFORE: &[&str] = &[
    "phone",
    "tel:",
    "tel.",
    "tel ",
    "telephone",
    "mobile",
    "cell",
    "fax",
    "desk",
    "call",
    "text me",
    "sms",
    "whatsapp",
    "reach me",
    "reach us",
    "contact",
    "dial",
    "message",
    "answering",
    "ring me",
    "landline",
    "hotline",
];
const PHONE_AFTER: &[&str] = &["office", "fax", "mobile", "cell", "home", "work", "desk", "phone"];
const SSN_CTX: &[&str] = &["ssn", "social security", "social sec", "ss#", "ss #", "ss no"];
const DOB_CTX: &[&str] = &["born", "birth", "dob", "d.o.b", "bday", "b-day"];
const DL_CTX: &[&str] = &[
    "driver's licen",
    "drivers licen",
    "driver licen",
    "driving licen",
    "driver’s licen",
    "dl#",
    "dl #",
    "dl no",
    "dl number",
    "d/l",
    "driver lic",
    "drivers lic",
    "driver's lic",
];
const PASSPORT_CTX: &[&str] = &["passport"];
const ZIP_CTX: &[&str] = &["zip", "postal code", "postcode", "post code", "postal"];

// ---------------------------------------------------------------- validators

fn check(kind: Kind, text: &str, s: usize, e: usize) -> Option<Cand> {
    let cand = |span: Range<usize>, score: f32| Some(Cand { kind, span, score });
    let v = text.get(s..e)?;
    match kind {
        Kind::Email => {
            let p = prev_char(text, s);
            if is_word(p) || matches!(p, Some('.' | '%' | '+' | '-')) {
                return None;
            }
            let n = next_char(text, e);
            if is_word(n) || n == Some('-') || n == Some('@') {
                return None;
            }
            let (local, _) = v.split_once('@')?;
            if local.ends_with('.') || local.contains("..") {
                return None;
            }
            cand(s..e, 0.95)
        }
        Kind::Url => {
            let trimmed = v.trim_end_matches(['.', ',', ';', ':', '!', '?', '\'', '"']);
            let end = s + trimmed.len();
            let host = trimmed.split("://").nth(1).unwrap_or(trimmed).split(['/', ':']).next()?;
            let tld = host.trim_end_matches('.').rsplit('.').next()?;
            if !host.contains('.') || tld.len() < 2 || !tld.chars().all(|c| c.is_ascii_alphabetic()) {
                return None;
            }
            cand(s..end, 0.6)
        }
        Kind::Iban => check_iban(text, s, v),
        Kind::Card => {
            if !numeric_boundary(text, s, e) {
                return None;
            }
            let d = digits_of(v);
            let seps: Vec<char> = v.chars().filter(|c| !c.is_ascii_digit()).collect();
            if let Some(&first) = seps.first() {
                if seps.iter().any(|&c| c != first) {
                    return None;
                }
                let groups: Vec<usize> = v.split(first).map(str::len).collect();
                let last = groups.len() - 1;
                let ok = groups.iter().enumerate().all(|(i, &g)| {
                    if i == 0 {
                        g == 4
                    } else if i == last {
                        (1..=6).contains(&g)
                    } else {
                        (4..=6).contains(&g)
                    }
                });
                if !ok {
                    return None;
                }
            }
            if d.iter().all(|&c| c == d[0]) || !validate::card_iin_ok(&d) || !validate::luhn(&d) {
                return None;
            }
            let ctx = before(text, s, 40);
            let score =
                if any_in(&ctx, &["card", "cc", "visa", "amex", "mastercard", "credit", "debit"]) { 1.0 } else { 0.9 };
            cand(s..e, score)
        }
        Kind::Ssn => {
            if !numeric_boundary(text, s, e) {
                return None;
            }
            let d = digits_of(v);
            if !validate::ssn_ok(&d) {
                return None;
            }
            let seps: Vec<u8> = v.bytes().filter(|b| !b.is_ascii_digit()).collect();
            let ctx = any_in(&before(text, s, 48), SSN_CTX);
            match seps.as_slice() {
                [b'-', b'-'] => cand(s..e, if ctx { 1.0 } else { 0.85 }),
                [a, b] if a == b && ctx => cand(s..e, 0.9),
                [] if ctx => cand(s..e, 0.85),
                _ => None,
            }
        }
        Kind::Dob => {
            if !numeric_boundary(text, s, e) || !any_in(&before(text, s, 40), DOB_CTX) {
                return None;
            }
            if date_ok(v) { cand(s..e, 0.85) } else { None }
        }
        Kind::DriverLicense => {
            if !numeric_boundary(text, s, e) || v.contains("--") {
                return None;
            }
            let nd = digits_of(v).len();
            if !(5..=16).contains(&nd) || !any_in(&before(text, s, 40), DL_CTX) {
                return None;
            }
            cand(s..e, 0.8)
        }
        Kind::Passport => {
            if !numeric_boundary(text, s, e) || !any_in(&before(text, s, 40), PASSPORT_CTX) {
                return None;
            }
            cand(s..e, 0.8)
        }
        Kind::Ipv4 => {
            if !validate::ipv4_ok(v) {
                return None;
            }
            let p = prev_char(text, s);
            if matches!(p, Some('.' | ':')) || is_word(p) {
                return None;
            }
            // Glued to a product name: "WinPython-64bit-3.4.2.4".
            if p == Some('-') && is_word(s.checked_sub(1).and_then(|i| prev_char(text, i))) {
                return None;
            }
            if next_char(text, e) == Some('.') && char_after_next(text, e).is_some_and(|c| c.is_ascii_digit()) {
                return None;
            }
            let ctx = before(text, s, 20);
            if any_in(&ctx, &["version", "release", "ver.", "build"]) {
                return None;
            }
            cand(s..e, 0.9)
        }
        Kind::Ipv6 => {
            let p = prev_char(text, s);
            if is_word(p) || p == Some(':') {
                return None;
            }
            let n = next_char(text, e);
            if is_word(n) || n == Some(':') {
                return None;
            }
            if validate::ipv6_ok(v) { cand(s..e, 0.9) } else { None }
        }
        Kind::Phone => check_phone(text, s, e, v),
        Kind::Zip => {
            if let Some(rest) = v.strip_prefix(',') {
                // ", ST 12345": US state + ZIP; report the ZIP only.
                let off = rest.rfind(' ')? + 2;
                if !numeric_boundary(text, s + off, e) {
                    return None;
                }
                return cand(s + off..e, 0.7);
            }
            if !numeric_boundary(text, s, e) {
                return None;
            }
            if !any_in(&before(text, s, 24), ZIP_CTX) {
                return None;
            }
            cand(s..e, 0.75)
        }
        Kind::Address => cand(s..e, 0.6),
    }
}

fn check_iban(text: &str, s: usize, v: &str) -> Option<Cand> {
    if is_word(prev_char(text, s)) {
        return None;
    }
    let cc: Vec<u8> = v.bytes().take(2).map(|b| b.to_ascii_uppercase()).collect();
    let want = match cc.as_slice() {
        [a, b] => validate_len(*a, *b)?,
        _ => return None,
    };
    let mut compact = Vec::with_capacity(want);
    let mut end = s;
    for (i, b) in v.bytes().enumerate() {
        if b.is_ascii_alphanumeric() {
            compact.push(b);
            if compact.len() == want {
                end = s + i + 1;
                break;
            }
        }
    }
    if compact.len() != want || is_word(next_char(text, end)) {
        return None;
    }
    if !validate::iban_ok(&compact) {
        return None;
    }
    Some(Cand { kind: Kind::Iban, span: s..end, score: 0.95 })
}

fn validate_len(a: u8, b: u8) -> Option<usize> {
    validate::iban_country_len(&[a, b])
}

fn date_ok(v: &str) -> bool {
    let nums: Vec<u32> =
        v.split(|c: char| !c.is_ascii_digit()).filter(|p| !p.is_empty()).filter_map(|p| p.parse().ok()).collect();
    match nums.as_slice() {
        [a, b, c] => {
            let y = if *c < 100 { c + 1900 } else { *c };
            if *a >= 1000 {
                validate::dmy_ok(*c, *b, *a)
            } else {
                validate::dmy_ok(*a, *b, y) || validate::dmy_ok(*b, *a, y)
            }
        }
        // Month-name forms: day + year.
        [d, y] => (1..=31).contains(d) && (1900..=2030).contains(y),
        _ => false,
    }
}

fn check_phone(text: &str, s: usize, e: usize, v: &str) -> Option<Cand> {
    // Trim an opening paren glued in front that the regex did not include.
    if !numeric_boundary(text, s, e) {
        return None;
    }
    if matches!(prev_char(text, s), Some('$' | '€' | '£' | '#' | '(')) && !v.starts_with('(') {
        return None;
    }
    let (main, ext) = match v.find(|c: char| c.is_ascii_alphabetic()) {
        Some(i) => (v.get(..i)?.trim_end(), true),
        None => (v, false),
    };
    let d = digits_of(main);
    let nd = d.len();
    if !(7..=15).contains(&nd) || d.iter().all(|&c| c == d[0]) {
        return None;
    }
    let plus = main.starts_with('+');
    let groups: Vec<&str> =
        main.trim_start_matches('+').split([' ', '-', '.', '(', ')']).filter(|g| !g.is_empty()).collect();
    let seps: Vec<char> = main.chars().filter(|c| matches!(c, ' ' | '-' | '.')).collect();
    // Dates like 2020-01-31 or 31.01.2020.
    if groups.len() == 3 && !plus {
        let (a, b, c) = (groups[0].len(), groups[1].len(), groups[2].len());
        if (a == 4 && b <= 2 && c <= 2) || (a <= 2 && b <= 2 && (c == 4 || c == 2)) {
            return None;
        }
    }
    // Versions / decimals: dotted with a leading short group and few digits.
    let ctx_before = before(text, s, 40);
    let ctx_after = after(text, e, 14);
    let ctx = any_in(&ctx_before, PHONE_BEFORE) || any_in(&ctx_after, PHONE_AFTER);
    let strong = if plus {
        (8..=15).contains(&nd) && groups.first().is_some_and(|g| g.len() <= 4 || groups.len() == 1)
    } else {
        nanp(&groups, &seps, main) || (main.starts_with("00") && nd >= 10 && groups.len() >= 3)
    };
    if strong {
        return Some(Cand { kind: Kind::Phone, span: s..e, score: if ctx { 0.95 } else { 0.8 } });
    }
    if !ctx {
        return None;
    }
    // Context-only numbers: keep separators consistent-ish and the groups sane.
    if groups.len() > 6 || (seps.is_empty() && !main.contains('(') && !(7..=12).contains(&nd)) {
        return None;
    }
    let _ = ext;
    Some(Cand { kind: Kind::Phone, span: s..e, score: 0.7 })
}

/// North American numbering plan with visible structure: optional 1 / 001 prefix,
/// area code starting 2-9, 3-3-4 groups, separators or parentheses.
fn nanp(groups: &[&str], seps: &[char], main: &str) -> bool {
    let g: Vec<&str> = match groups {
        [p, rest @ ..] if rest.len() == 3 && (*p == "1" || *p == "001") => rest.to_vec(),
        _ => groups.to_vec(),
    };
    if g.len() != 3 || g[0].len() != 3 || g[1].len() != 3 || g[2].len() != 4 {
        return false;
    }
    let first_ok = |x: &str| x.as_bytes().first().is_some_and(|b| (b'2'..=b'9').contains(b));
    // Area code 2-9; the exchange is not checked (555-123-4567 style numbers are
    // everywhere in examples and forms).
    if !first_ok(g[0]) {
        return false;
    }
    if main.contains('(') {
        return true;
    }
    // Same separator throughout (555-123-4567, 555.123.4567, 555 123 4567).
    seps.first().is_some_and(|f| seps.iter().all(|c| c == f))
}

#[cfg(test)]
mod tests;
