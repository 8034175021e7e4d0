//! Secrets detector: provider credentials recognised by their format (AWS, GCP, Azure,
//! GitHub, GitLab, OpenAI, Anthropic, Slack, Stripe, private keys, JWTs, connection
//! strings, …) plus high-entropy values assigned to secret-sounding names
//! (`API_KEY = "…"`, `"password": "…"`).
//!
//! Matching is ripgrep style. Every rule has an *anchor*: a short lowercase regex that
//! all its matches contain (a literal prefix such as `ghp_`, a provider name). The text
//! is ASCII-lowercased once (offsets unchanged); one alternation of all anchors finds
//! the hits, one [`RegexSet`] of the anchors run over short windows around them tells
//! which rules can match, and only those rules run their full pattern. Both
//! prefilters use relaxed anchors (bounded repetitions unbounded), whose lazy DFAs stay
//! small on varied text. The vendor-name rule (hundreds of names) and the generic
//! `name = value` rule start from their own searches. All patterns are
//! compiled by the linear-time `regex` engine. Overlapping candidates are resolved by
//! rule order: format rules beat context rules, then the vendor rule, then the generic
//! rule, then infrastructure identifiers; each secret is reported once. The generic
//! rule defers to format rules: a value with a known provider prefix, or a name naming
//! such a provider, is left to that rule.
//!
//! What counts as a secret. A random-looking value under a secret-sounding name; under
//! a password name also a value a person chose (`goodspec`, `open-sesame`,
//! `super$ecret`) when it is a literal: quoted, or a bare value that ends its statement
//! (`DB_PASS=x`, `$pass = x;`). Not secrets: templates and variables (`${…}`, `$VAR`,
//! `%VAR%`, `#{…}`, `{{…}}`, `<…>`), redactions (`xxxx`, `****`), dummy words
//! (`changeme`, `password1`), code (calls, member accesses, paths, constants), and
//! identifiers: values of names ending in `id`/`user`/`host`/`url`, host names, ARNs,
//! public and CSRF tokens, database and keyboard keys. Some identifiers still map a
//! company's infrastructure for whoever reads the prompt: SaaS tenant hosts
//! (`acme.okta.com`, `acme.jfrog.io`), S3 and GCS buckets, ARNs, AWS account IDs next
//! to their name. They are reported in their own category, `infrastructure`, at score
//! 0.4 (below the credentials' 0.6+), so a policy can watch them without redacting.
//! A value in a provider's exact format next to the provider's name
//! (`aws_secret_access_key`, Okta `00…`) is reported whatever its entropy. The
//! trade-off: a password that is one ordinary word is caught only as a literal, so
//! `password = hashed` (a variable in code) stays clean.

mod rules;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use base64::Engine as _;
use regex::{Regex, RegexBuilder, RegexSet, RegexSetBuilder};

use crate::pattern::{asciify, relax};
use crate::{Family, Finding};
use rules::{CONTEXT, Check, FIXED, VENDORS};

/// Names that make an assignment "secret-sounding" for the generic rule.
const GENERIC_PATTERN: &str = concat!(
    r#"(?i-u)(?P<k>[a-z0-9_.\-]*(?:key|token|secret|passw(?:or)?d|pwd|pass|auth|credential|creds|access|private|tkn)[a-z0-9_.\-]*?)"#,
    r#"(?:(?P<eq>\\?["'`]?[ \t]*(?:=|:|=>|:=|\|\|=|[!=]==?)[ \t]*|["'`][ \t]*,[ \t]*)|(?P<sp>[ \t]+(?:[a-z_]{1,12}[ \t]+)?|[\-.]))"#,
    // value: a quoted string, any characters but its quote and line breaks (`\"…\"` in
    // escaped JSON, where `\x` escapes are kept) ...
    r#"(?:\\?"(?P<dq>(?u:[^"\\\r\n]|\\[^"\r\n])+)\\?"|'(?P<sq>(?u:[^'\r\n])+)'|"#,
    // ... or a bare value: printable ASCII without quotes, `,` `;` `\`; no leading `:`
    r#"(?:\\?["'`])?(?P<s>[\x21\x23-\x26\x28-\x2B\x2D-\x39\x3C-\x5B\x5D-\x5F\x61-\x7E][\x21\x23-\x26\x28-\x2B\x2D-\x3A\x3C-\x5B\x5D-\x5F\x61-\x7E]{5,}))"#
);

/// Shortest value of the vendor rule: `[a-z0-9][a-z0-9_\-+/.=]{15,}` on the lowercased text.
const VENDOR_VALUE_MIN: usize = 16;

/// Whether `lower` holds `min` consecutive bytes of the vendor value class
/// (`[a-z0-9_\-+/.=]`): a necessary condition for a vendor-rule match.
fn has_token_run(lower: &[u8], min: usize) -> bool {
    let mut run = 0;
    for &b in lower {
        if b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'-' | b'+' | b'/' | b'.' | b'=') {
            run += 1;
            if run >= min {
                return true;
            }
        } else {
            run = 0;
        }
    }
    false
}

/// Words that may join a vendor name and its value (`acme_API_KEY = …`,
/// `acme access TOKEN …`); when one is present the value may be letters only.
const VENDOR_WORDS: &str = "api|access|secret|private|client|app|auth|account|license|personal|service|key|token|pat|id|pass(?:word)?|credentials?|x|sms|bearer|oauth";

/// Category of the rules that report identifiers (hosts, buckets, ARNs), not
/// credentials.
const INFRASTRUCTURE: &str = "infrastructure";

/// Bytes after a keyword searched for its assignment and value.
const GENERIC_WINDOW: usize = 320;

struct Compiled {
    id: &'static str,
    category: &'static str,
    entity: &'static str,
    score: f32,
    check: Check,
    re: Regex,
    /// Pattern written in lower case and run over the lowercased text (the span is
    /// the same in the original).
    on_lower: bool,
}

/// Compiled secrets rules; build once with [`SecretsDetector::new`], then share.
pub struct SecretsDetector {
    /// Every anchor, relaxed, as one alternation: finds the anchor hits (a
    /// leftmost-first scan is much faster than the multi-pattern set's overlapping one).
    any_anchor: Regex,
    /// One entry per rule: its anchor, relaxed, run over windows around the anchor
    /// hits.
    set: RegexSet,
    /// The longest match any anchor can have, in bytes.
    anchor_max: usize,
    rules: Vec<Compiled>,
    /// The vendor-name rule, searched on its own (see [`rules::VENDORS`]).
    vendor: Compiled,
    generic: Regex,
    generic_keyword: Regex,
    xml_add: Regex,
    keyword: Regex,
}

impl std::fmt::Debug for SecretsDetector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretsDetector").field("rules", &self.rules.len()).finish()
    }
}

impl Default for SecretsDetector {
    fn default() -> Self {
        Self::new()
    }
}

fn compile(pattern: &str) -> Regex {
    #[allow(clippy::expect_used)]
    RegexBuilder::new(&asciify(pattern))
        .size_limit(32 << 20)
        .dfa_size_limit(8 << 20)
        .build()
        .expect("built-in secrets pattern must compile")
}

/// Prefilter anchor of a rule, for the ASCII-lowercased text: the explicit one, else
/// the pattern's leading literal (after an optional `(?i)` and `\b`), lowercased and
/// escaped. `None` when neither exists.
pub(crate) fn anchor_of(rule: &rules::Rule) -> Option<String> {
    if !rule.anchor.is_empty() {
        return Some(rule.anchor.to_string());
    }
    let p = rule.pattern.strip_prefix("(?i)").unwrap_or(rule.pattern);
    let (word, p) = match p.strip_prefix(r"\b") {
        Some(rest) => (r"\b", rest),
        None => ("", p),
    };
    let b = p.as_bytes();
    let mut lit = String::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_alphanumeric() || b"_-:/=!~ ".contains(&c) {
            lit.push(c as char);
            i += 1;
        } else if c == b'\\' && i + 1 < b.len() && b".$".contains(&b[i + 1]) {
            lit.push(b[i + 1] as char);
            i += 2;
        } else {
            break;
        }
    }
    // a quantifier applies to the last literal char, which is then optional
    if i < b.len() && b"?*{".contains(&b[i]) {
        lit.pop();
    }
    (lit.len() >= 3).then(|| format!("{word}{}", regex::escape(&lit.to_ascii_lowercase())))
}

impl SecretsDetector {
    /// Compiles every rule. Panics only if a built-in pattern is invalid (a bug caught
    /// by the tests).
    pub fn new() -> Self {
        let mut rules = Vec::with_capacity(FIXED.len() + CONTEXT.len());
        let mut anchors = Vec::with_capacity(FIXED.len() + CONTEXT.len());
        for rule in FIXED {
            anchors.push(asciify(&anchor_of(rule).unwrap_or_else(|| rule.pattern.to_string())));
            rules.push(Compiled {
                id: rule.id,
                category: rule.category,
                entity: rule.entity,
                score: rule.score,
                check: rule.check,
                re: compile(rule.pattern),
                on_lower: false,
            });
        }
        for &(id, category, entity, names, score, value, check) in CONTEXT {
            anchors.push(format!("(?:{})", names.to_ascii_lowercase()));
            rules.push(Compiled {
                id,
                category,
                entity,
                score,
                check,
                re: compile(&rules::ctx(names, value)),
                on_lower: false,
            });
        }
        let vendors = VENDORS.iter().map(|v| regex::escape(v)).collect::<Vec<_>>().join("|");
        let vendor = Compiled {
            id: "secrets.vendor.api_key",
            category: "saas",
            entity: "SAAS_API_KEY",
            score: 0.6,
            check: Check::Vendor,
            re: compile(&format!(
                r#"\b(?:{vendors})[a-z0-9]{{0,12}}?(?:[ \t\r\n_.\-]{{0,3}}(?P<kw>{VENDOR_WORDS}))*(?:[ \t]*(?:[:=]|=>|:=)[ \t]*|[ \t\r\n]+|[\-_=])["'`]?(?P<s>[a-z0-9][a-z0-9_\-+/.=]{{{},}})"#,
                VENDOR_VALUE_MIN - 1
            )),
            on_lower: true,
        };
        // The prefilters match relaxed anchors (supersets, see `relax`): their lazy DFAs
        // stay small on varied text. The windows still come from the exact anchors.
        let any_anchor = compile(&relax(&anchors.iter().map(|a| format!("(?:{a})")).collect::<Vec<_>>().join("|")));
        #[allow(clippy::expect_used)]
        let set = RegexSetBuilder::new(anchors.iter().map(|a| relax(a)))
            .size_limit(16 << 20)
            .dfa_size_limit(8 << 20)
            .build()
            .expect("built-in secrets anchors must compile as a set");
        // the windows of `anchored_rules` need it; an unbounded anchor is a bug the
        // tests catch (cut it before its unbounded part: it only has to be contained in
        // every match)
        #[allow(clippy::expect_used)]
        let anchor_max = anchors
            .iter()
            .try_fold(0usize, |max, a| {
                let hir = regex_syntax::parse(a).ok()?;
                Some(max.max(hir.properties().maximum_len()?))
            })
            .expect("every secrets anchor must have a bounded length");
        let generic = compile(&format!(r"\A(?:{GENERIC_PATTERN})"));
        let xml_add = compile(
            r#"(?i)<[a-z][a-z0-9_:.\-]{0,30}\s+key\s*=\s*"(?P<k>[^"]{1,80})"\s+value\s*=\s*"(?P<s>[^"\s]{6,200})""#,
        );
        let keyword = compile(r"(?i)key|token|secret|passw(?:or)?d|pwd|credential");
        let generic_keyword = compile(r"key|token|secret|pass|pwd|auth|cred|access|private|tkn");
        Self { any_anchor, set, anchor_max, rules, vendor, generic, generic_keyword, xml_add, keyword }
    }

    /// Number of distinct format rules (fixed + context; the generic rule excluded).
    pub fn rule_count(&self) -> usize {
        self.rules.len() + 1
    }

    /// Appends one finding per secret found in `text` to `out`, ordered by position.
    pub fn scan(&self, text: &str, out: &mut Vec<Finding>) {
        let mut cands: Vec<(usize, Finding)> = Vec::new();
        // Anchors are lower case: one cheap pass makes them case-insensitive without
        // the cost of case-folding inside the automaton. Offsets are unchanged.
        let lower = text.to_ascii_lowercase();
        let matched = self.anchored_rules(&lower);
        let vendor_idx = self.rules.len();
        // The vendor rule's value is a run of at least VENDOR_VALUE_MIN token bytes:
        // text without one (most prose) cannot match it, and skips its search.
        let vendor = has_token_run(lower.as_bytes(), VENDOR_VALUE_MIN).then_some(vendor_idx);
        for idx in matched.into_iter().chain(vendor) {
            let rule = self.rules.get(idx).unwrap_or(&self.vendor);
            let hay = if rule.on_lower { lower.as_str() } else { text };
            for caps in rule.re.captures_iter(hay) {
                let m = match caps.name("s") {
                    Some(m) => m,
                    None => match caps.get(0) {
                        Some(m) => m,
                        None => continue,
                    },
                };
                let value = &text[m.start()..m.end()];
                // a provider name ending in `_id`, `user`, `host` … holds an identifier
                // (unless the rule reports identifiers: infrastructure)
                if rule.category != INFRASTRUCTURE && caps.name("n").is_some_and(|n| identifier_name(n.as_str())) {
                    continue;
                }
                // the vendor rule: `acme_APP_ID = …`, `acme_account = …` are identifiers
                if caps.name("kw").is_some_and(|kw| matches!(kw.as_str(), "id" | "account")) {
                    continue;
                }
                let ok = match rule.check {
                    Check::Vendor => vendor_value_ok(value, caps.name("kw").is_some()),
                    Check::Password => {
                        let rest = caps.get(0).map_or("", |all| &text[m.end()..all.end().max(m.end())]);
                        passes(Check::Password, value) && !documentation_host(rest)
                    }
                    check => passes(check, value),
                };
                if !ok {
                    continue;
                }
                // an identifier never hides a credential it overlaps: infrastructure
                // findings come after every credential rule, the generic one included
                let prio = if rule.category == INFRASTRUCTURE { self.rules.len() + 2 } else { idx };
                cands.push((
                    prio,
                    Finding {
                        family: Family::Secrets,
                        rule: rule.id,
                        category: rule.category,
                        entity: rule.entity,
                        span: m.start()..m.end(),
                        score: rule.score,
                    },
                ));
            }
        }
        self.scan_generic(text, &lower, &mut cands);
        if cands.is_empty() {
            return;
        }
        cands.sort_by_key(|(prio, f)| (*prio, f.span.start, std::cmp::Reverse(f.span.end)));
        // Accepted spans keyed by start; non-overlapping, so neighbours suffice.
        let mut taken: BTreeMap<usize, usize> = BTreeMap::new();
        let mut kept = Vec::new();
        for (_, f) in cands {
            let (s, e) = (f.span.start, f.span.end);
            let before = taken.range(..e).next_back().is_some_and(|(_, &pe)| pe > s);
            if before {
                continue;
            }
            taken.insert(s, e);
            kept.push(f);
        }
        kept.sort_by_key(|f| f.span.start);
        out.extend(kept);
    }

    /// The rules whose anchor occurs in `lower`, in rule order. The anchor alternation
    /// finds its hits fast (literal prefilters); the set then runs only over windows
    /// from each hit to [`Self::anchor_max`] bytes past its end (merged when they
    /// overlap). That misses nothing: a rule's anchor match is also a match of the
    /// alternation, so it starts inside a hit the alternation reports (leftmost-first
    /// hits cover every match start) and ends within the window.
    fn anchored_rules(&self, lower: &str) -> Vec<usize> {
        let max = self.anchor_max;
        let mut found = vec![false; self.rules.len()];
        let mut scan = |range: std::ops::Range<usize>| {
            if let Some(hay) = lower.get(..range.end) {
                for idx in self.set.matches_at(hay, range.start).iter() {
                    if let Some(f) = found.get_mut(idx) {
                        *f = true;
                    }
                }
            }
        };
        let mut window: Option<std::ops::Range<usize>> = None;
        for hit in self.any_anchor.find_iter(lower) {
            let mut end = (hit.end() + max).min(lower.len());
            while !lower.is_char_boundary(end) {
                end += 1;
            }
            match &mut window {
                Some(w) if hit.start() <= w.end => w.end = w.end.max(end),
                _ => {
                    if let Some(w) = window.replace(hit.start()..end) {
                        scan(w);
                    }
                }
            }
        }
        if let Some(w) = window {
            scan(w);
        }
        found.iter().enumerate().filter_map(|(i, &f)| f.then_some(i)).collect()
    }

    /// The generic `secret-sounding name = high-entropy value` rule. Finds keyword
    /// occurrences first (a literal search), then matches the anchored assignment
    /// pattern in a bounded window starting at the name holding the keyword, so the
    /// cost stays linear in the text.
    fn scan_generic(&self, text: &str, lower: &str, cands: &mut Vec<(usize, Finding)>) {
        let prio = self.rules.len() + 1;
        let bytes = text.as_bytes();
        let mut seen_key = false;
        let mut last_start = usize::MAX;
        let mut resume = 0;
        let mut retried = false;
        for kw in self.generic_keyword.find_iter(lower) {
            if kw.start() < resume {
                continue;
            }
            seen_key |= kw.as_str() == "key";
            // the name holding the keyword: back over identifier chars (bounded)
            let mut start = kw.start();
            while start > 0
                && kw.start() - start < 80
                && (bytes[start - 1].is_ascii_alphanumeric() || b"_.-".contains(&bytes[start - 1]))
            {
                start -= 1;
            }
            if start == last_start {
                continue;
            }
            last_start = start;
            let mut end = (kw.end() + GENERIC_WINDOW).min(text.len());
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            let window = &text[start..end];
            let Some(caps) = self.generic.captures(window) else { continue };
            let Some(k) = caps.name("k") else { continue };
            let quoted = caps.name("dq").or_else(|| caps.name("sq"));
            let Some(v) = quoted.or_else(|| caps.name("s")) else { continue };
            // A rejected candidate's value may itself hold a `name = secret` pair
            // (`private token: …`), so keyword hits inside it are tried once; a second
            // rejection in a row skips past its value, which keeps the scan linear.
            if retried {
                resume = start + v.end();
            }
            retried = !retried;
            if k.len() > 80 {
                continue;
            }
            // a segment of a colon-chained name (`did:method:id`, `urn:ns:value`) is
            // part of an identifier, not a `name: value` assignment
            if start > 0 && bytes[start - 1] == b':' && caps.name("eq").is_some_and(|e| e.as_str() == ":") {
                continue;
            }
            // a quoted value is taken whole; a bare one is ASCII (see the pattern), so
            // any byte index is a char boundary
            let value = match quoted {
                Some(q) => q.as_str(),
                None => trim_value(&v.as_str()[..v.len().min(200)]),
            };
            // `password 'x'` (a Gradle/Groovy call) assigns a literal; a word between
            // name and value (`passwords like 'x'`) or a bare value makes it prose
            let sp = caps.name("sp");
            let call = sp.is_some_and(|sp| quoted.is_some() && sp.as_str().bytes().all(|c| c == b' ' || c == b'\t'));
            let form = Form {
                quoted: quoted.is_some(),
                terminated: quoted.is_none() && ends_statement(&window[v.start() + value.len()..]),
                loose: sp.is_some() && !call,
                call,
            };
            // `<add key="Name" value="…"/>`: inside a tag, `key` is an attribute naming
            // the entry (handled below with its `value`)
            if k.as_str().eq_ignore_ascii_case("key") {
                let before = &text[..start + k.start()];
                if before.rfind('<').is_some_and(|lt| before.rfind('>').is_none_or(|gt| gt < lt)) {
                    continue;
                }
            }
            if let Some(score) = generic_score(k.as_str(), value, form) {
                let vs = start + v.start();
                cands.push((prio, generic_finding(vs..vs + value.len(), score)));
                resume = start + v.end();
                retried = false;
            }
        }
        if !seen_key {
            return;
        }
        for caps in self.xml_add.captures_iter(text) {
            let (Some(k), Some(v)) = (caps.name("k"), caps.name("s")) else { continue };
            if !self.keyword.is_match(k.as_str()) {
                continue;
            }
            if let Some(score) = generic_score(k.as_str(), v.as_str(), Form::QUOTED) {
                cands.push((prio, generic_finding(v.start()..v.end(), score)));
            }
        }
    }
}

fn generic_finding(span: std::ops::Range<usize>, score: f32) -> Finding {
    Finding {
        family: Family::Secrets,
        rule: "secrets.generic.assignment",
        category: "generic",
        entity: "GENERIC_SECRET",
        span,
        score,
    }
}

/// Shannon entropy in bits per byte.
pub(crate) fn entropy(s: &str) -> f32 {
    let bytes = s.as_bytes();
    if bytes.is_empty() {
        return 0.0;
    }
    let mut counts = [0u32; 256];
    for &b in bytes {
        counts[b as usize] += 1;
    }
    let n = bytes.len() as f32;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = c as f32 / n;
            -p * p.log2()
        })
        .sum()
}

fn passes(check: Check, value: &str) -> bool {
    match check {
        Check::None => true,
        Check::Jwt => jwt_ok(value),
        Check::Base64Pem => base64_pem_ok(value),
        Check::Entropy(min) => !is_placeholder(value) && entropy(value) >= min,
        Check::Password => password_ok(value),
        Check::Vendor => vendor_value_ok(value, false),
        Check::Format => format_ok(value),
        Check::Token => token_ok(value),
        Check::Literal => !is_placeholder(value),
        Check::JwsShaped => !json_header(value) && !is_placeholder(value) && entropy(value) >= 4.0,
        Check::UserPassword => user_password_ok(value),
    }
}

/// `user:password` after `curl -u`, quotes removed: a password that is no placeholder
/// or variable, or, when the password is empty, a user that is a token (an API key
/// passed as the basic-auth user, `-u sk_live_…:`).
fn user_password_ok(value: &str) -> bool {
    let v: String = value.chars().filter(|c| !matches!(c, '"' | '\'')).collect();
    let Some((user, pass)) = v.split_once(':') else { return false };
    if pass.is_empty() {
        return user.len() >= 8 && token_ok(user);
    }
    pass.len() >= 3
        && !pass.starts_with('[')
        && !stand_in_marker(user)
        && !is_placeholder(pass)
        && !dummy_with_number(pass.trim_end_matches('>'))
}

/// A token after `Authorization: Bearer` or a Vault prefix: not a placeholder,
/// constant or member access, some entropy, digits or mixed case.
fn token_ok(value: &str) -> bool {
    let b = value.as_bytes();
    let mixed = b.iter().any(u8::is_ascii_uppercase) && b.iter().any(u8::is_ascii_lowercase);
    !is_placeholder(value)
        && !dummy_with_number(value)
        && !code_shaped(value)
        && entropy(value) >= 3.0
        && (mixed || b.iter().any(u8::is_ascii_digit))
}

/// Whether a provider name (`TWITCH_CLIENT_ID`, `recaptchaSiteKey`) names an
/// identifier or a public value rather than a secret: its last word is `id`, `user`,
/// `host`, `url` …, or it holds `public`/`site`.
fn identifier_name(name: &str) -> bool {
    let words = name_words(name);
    const LAST: &[&str] =
        &["id", "ids", "user", "username", "url", "uri", "host", "hostname", "domain", "name", "email", "region"];
    words.last().is_some_and(|w| LAST.contains(&w.as_str()))
        || words.iter().any(|w| matches!(w.as_str(), "public" | "publishable" | "site" | "sitekey"))
}

/// The lowercase words of a name: split at `_` `-` `.` and other symbols, and where
/// camelCase starts a new word (`recaptchaSiteKey` → `recaptcha`, `site`, `key`).
fn name_words(name: &str) -> Vec<String> {
    let mut words: Vec<String> = Vec::new();
    let mut prev_lower = false;
    for c in name.chars() {
        if !c.is_ascii_alphanumeric() {
            prev_lower = false;
            words.push(String::new());
            continue;
        }
        if c.is_ascii_uppercase() && prev_lower {
            words.push(String::new());
        }
        prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        match words.last_mut() {
            Some(w) => w.push(c.to_ascii_lowercase()),
            None => words.push(c.to_ascii_lowercase().to_string()),
        }
    }
    words.retain(|w| !w.is_empty());
    words
}

/// A `key` that is not a credential: a database or map key (`primaryKey`,
/// `schemaKey`, `bucket_key`), a keyboard key (`key_down_event`, `keyPressed`) or a
/// crypto term (`KeyPair`, `BlindKeySignatures`).
fn non_credential_key(name: &str) -> bool {
    const BEFORE: &[&str] = &[
        "primary",
        "foreign",
        "bucket",
        "hot",
        "idx",
        "index",
        "natural",
        "schema",
        "sequence",
        "sort",
        "partition",
        "composite",
        "unique",
        "cache",
        "row",
        "lookup",
        "map",
        "dict",
        "object",
        "shortcut",
        "sign",
        "group",
    ];
    const AFTER: &[&str] = &[
        "alias",
        "board",
        "code",
        "frame",
        "mesh",
        "pair",
        "press",
        "pressed",
        "ring",
        "selector",
        "signature",
        "signatures",
        "stone",
        "storetype",
        "word",
        "up",
        "down",
        "left",
        "right",
        "event",
        "binding",
        "bindings",
        "map",
        "mapping",
        "stroke",
        "strokes",
        "listener",
        "handler",
        "meshing",
        "chars",
        "str",
        "fn",
    ];
    let words = name_words(name);
    words.iter().enumerate().any(|(i, w)| {
        w == "key"
            && ((i > 0 && BEFORE.contains(&words[i - 1].as_str()))
                || words[i + 1..].iter().any(|a| AFTER.contains(&a.as_str())))
    })
}

/// A host name (`sm02915.int.contoso.com`): dotted lowercase labels ending in a
/// top-level domain.
fn host_name(v: &str) -> bool {
    let labels: Vec<&str> = v.split('.').collect();
    labels.len() >= 2
        && labels
            .iter()
            .all(|l| !l.is_empty() && l.bytes().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-'))
        && labels.last().is_some_and(|t| (2..=6).contains(&t.len()) && t.bytes().all(|c| c.is_ascii_lowercase()))
}

/// A name with a version (`jjwt-jackson-0.11.2`, `SalesResults-1.2`, `v2.3.1`).
fn versioned(v: &str) -> bool {
    let Some(pos) = v.rfind(|c: char| !(c.is_ascii_digit() || c == '.')) else {
        return v.contains('.');
    };
    let (head, ver) = v.split_at(pos + 1);
    ver.contains('.')
        && ver.split('.').all(|p| !p.is_empty())
        && (head.ends_with(['-', '_', '@', 'v', 'V']) || head.is_empty())
        && head.bytes().all(|c| c.is_ascii_alphanumeric() || b"-_.@".contains(&c))
}

/// Whether a compound value repeats the name (`KeyPair = X25519.KeyPair`,
/// `X509_pubkey_st = struct_X509_pubkey_st`): a reference, not a literal. A single
/// word holding it (`thisismypassword`) is a chosen password.
fn value_repeats_name(key: &str, value: &str) -> bool {
    if !value.contains(['.', '_', '-', ':']) {
        return false;
    }
    let norm =
        |s: &str| s.bytes().filter(u8::is_ascii_alphanumeric).map(|c| c.to_ascii_lowercase()).collect::<Vec<u8>>();
    let (k, v) = (norm(key), norm(value));
    let contains = |hay: &[u8], needle: &[u8]| needle.len() >= 6 && hay.windows(needle.len()).any(|w| w == needle);
    contains(&v, &k) || contains(&k, &v)
}

/// Value after a vendor name: a token with letters and digits (16+ chars), or, when a
/// `key`/`token`/`secret` word sits between name and value, 20+ letters or 16+ digits.
/// Never a URL, path, e-mail, placeholder or identifier-like word.
fn vendor_value_ok(value: &str, has_keyword: bool) -> bool {
    let v = value.trim_end_matches(['.', '=', '/', '-']);
    if v.len() < 16 || is_placeholder(v) || v.contains("://") || v.contains('@') || v.contains("..") {
        return false;
    }
    let b = v.as_bytes();
    let digits = b.iter().filter(|c| c.is_ascii_digit()).count();
    let letters = b.iter().filter(|c| c.is_ascii_alphabetic()).count();
    if digits > 0 && letters > 0 {
        // dotted lowercase words with a version number are hosts/packages, not keys
        if v.contains('.') && !b.iter().any(u8::is_ascii_uppercase) && v.split('.').count() > 2 {
            return false;
        }
        return entropy(v) >= 2.5;
    }
    if !has_keyword {
        return false;
    }
    if letters == b.len() {
        return v.len() >= 20;
    }
    digits == b.len()
}

fn jwt_ok(value: &str) -> bool {
    header_json(value).is_some_and(|json| json.contains("\"alg\""))
}

/// Whether the first dot-separated segment of `value` is base64url of a JSON object.
fn json_header(value: &str) -> bool {
    header_json(value).is_some()
}

fn header_json(value: &str) -> Option<String> {
    let header = value.split('.').next()?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(header.trim_end_matches('=')).ok()?;
    let json = String::from_utf8(bytes).ok()?;
    json.trim_start().starts_with('{').then_some(json)
}

fn base64_pem_ok(value: &str) -> bool {
    let body = value.trim_end_matches('=');
    let take = body.len().min(120) / 4 * 4;
    base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(&body[..take])
        .is_ok_and(|b| b.windows(11).any(|w| w == b"PRIVATE KEY"))
}

/// True for values that name or stand in for a secret rather than being one.
pub(crate) fn is_placeholder(value: &str) -> bool {
    placeholder_word(value) || is_stand_in(value)
}

/// Marker words (`example`, `env.`, `todo`) and well-known dummy values (`password`,
/// `letmein`): documentation and configuration templates, not secrets.
fn placeholder_word(value: &str) -> bool {
    let lower = value.to_ascii_lowercase();
    const MARKERS: &[&str] = &[
        "....",
        "----",
        "____",
        "####",
        "example",
        "sample",
        "change_me",
        "change-me",
        "change_this",
        "change-this",
        "changethis",
        "dummy",
        "replace",
        "insert",
        "process.env",
        "environ",
        "getenv",
        "env.",
        "env[",
        "env(",
        "config.",
        "settings.",
        "secrets.",
        "todo",
        "fixme",
        "not-set",
        "notset",
        "here",
        "enter",
        "secret_key_base",
    ];
    if MARKERS.iter().any(|m| lower.contains(m)) {
        return true;
    }
    const WORDS: &[&str] = &[
        "password",
        "passwd",
        "pass",
        "pwd",
        "secret",
        "token",
        "key",
        "apikey",
        "api_key",
        "null",
        "none",
        "nil",
        "undefined",
        "true",
        "false",
        "admin",
        "root",
        "guest",
        "user",
        "username",
        "test",
        "default",
        "anonymous",
        "string",
        "empty",
        "required",
        "optional",
        "foo",
        "bar",
        "foobar",
        "mypassword",
        "secret123",
        "password123",
        "qwerty",
        "letmein",
        "changeit",
    ];
    WORDS.contains(&lower.as_str())
}

/// Variables, templates and repeated characters: never a real value, even in a URL.
fn is_stand_in(value: &str) -> bool {
    stand_in_marker(value) || variable_reference(value) || few_distinct(value)
}

/// Template and redaction markers: `<…>`, `${…}`, `{{…}}`, `#{…}`, `xxxx`, `****`.
fn stand_in_marker(value: &str) -> bool {
    let lower = value.to_ascii_lowercase();
    const MARKERS: &[&str] = &[
        "xxxx",
        "****",
        "<",
        "${",
        "{{",
        "}}",
        "#{",
        "%{",
        "$(",
        "%(",
        "%s",
        "{0}",
        "your",
        "changeme",
        "placeholder",
        "redacted",
    ];
    MARKERS.iter().any(|m| lower.contains(m))
}

/// A shell or template variable: `$VAR`, `${…}`, `$(…)`, `:$var`, `prefix$VAR`,
/// `@VAR@`, `%VAR%`. A `$` inside a word followed by a lower-case letter (`super$ecret`,
/// `pa$$word`) is a literal character of a password, not an interpolation.
fn variable_reference(value: &str) -> bool {
    let b = value.as_bytes();
    for (i, w) in b.windows(2).enumerate() {
        if w[0] != b'$' {
            continue;
        }
        let next = w[1];
        if next == b'{' || next == b'(' {
            return true;
        }
        // `$1`, `:$2`: a positional parameter unless inside a word (`pa$5word`)
        if next.is_ascii_digit() && (i == 0 || !b[i - 1].is_ascii_alphanumeric()) {
            return true;
        }
        if !(next.is_ascii_alphabetic() || next == b'_') {
            continue;
        }
        match i.checked_sub(1).map(|p| b[p]) {
            None => return true,
            Some(b'$') => {}
            Some(prev) if prev.is_ascii_alphanumeric() => {
                if next.is_ascii_uppercase() || next == b'_' {
                    return true;
                }
            }
            Some(_) => return true,
        }
    }
    (b.first() == Some(&b'%') && b.last() == Some(&b'%')) || (b.first() == Some(&b'@') && b.last() == Some(&b'@'))
}

/// One or two distinct alphanumerics, e.g. `00000000-0000-…`, `aaaa…`.
fn few_distinct(value: &str) -> bool {
    let mut distinct = [false; 256];
    for &c in value.as_bytes().iter().filter(|c| c.is_ascii_alphanumeric()) {
        distinct[c as usize] = true;
    }
    distinct.iter().filter(|&&d| d).count() <= 2
}

/// Value of a rule whose regex pins the provider's exact format (prefix, length,
/// alphabet) next to its name: it is reported unless it is a template or redaction
/// (`<…>`, `${…}`, `xxxx`) or filled with `0`/`x` only. Low entropy alone does not
/// clear it: a value in the exact format under the provider's name is treated as that
/// credential.
fn format_ok(value: &str) -> bool {
    let lower = value.to_ascii_lowercase();
    if stand_in_marker(value)
        || variable_reference(value)
        || ["example", "sample", "dummy"].iter().any(|m| lower.contains(m))
    {
        return false;
    }
    value.bytes().filter(u8::is_ascii_alphanumeric).any(|c| !matches!(c, b'0' | b'x' | b'X'))
}

/// Whether the host after a URL's `user:password` (`rest` starts at the `@`) is an
/// address reserved for documentation (RFC 3849 `2001:db8::/32`, RFC 5737 test nets):
/// such URLs are examples, not live credentials.
fn documentation_host(rest: &str) -> bool {
    let host = rest.trim_start_matches('@').trim_start_matches('[').to_ascii_lowercase();
    ["2001:db8:", "192.0.2.", "198.51.100.", "203.0.113."].iter().any(|p| host.starts_with(p))
}

/// Whether `value` is a plausible password in a URL or connection string.
fn password_ok(value: &str) -> bool {
    !value.is_empty() && !is_stand_in(value) && !value.starts_with('[') && !value.starts_with('{')
}

/// Strips closing punctuation that the value class let through.
fn trim_value(v: &str) -> &str {
    v.trim_end_matches([')', ']', '}', '>', '.', '|'])
}

/// Whether the text after a bare value ends its statement: end of text or line, `;`,
/// `,`, or only blanks and a comment up to the end of the line. `REACT_APP_PASS=x`,
/// `$pass = x;` assign a literal; `f(password=x)` or `password = x + y` use a variable.
fn ends_statement(after: &str) -> bool {
    if after.is_empty()
        || after.starts_with(['\n', '\r', ';', ','])
        || after.starts_with("\\n")
        || after.starts_with("\\r")
    {
        return true;
    }
    let rest = after.trim_start_matches([' ', '\t']);
    rest.len() < after.len()
        && (rest.is_empty() || rest.starts_with(['\n', '\r', '#']) || rest.starts_with("//") || rest.starts_with("\\n"))
}

fn is_uuid(v: &str) -> bool {
    let b = v.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, &c)| match i {
            8 | 13 | 18 | 23 => c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// Looks like a code identifier, path, URL or expression rather than a secret.
fn looks_like_code(v: &str, long_words_ok: bool) -> bool {
    let b = v.as_bytes();
    // snake_case / kebab-case / dotted lowercase identifiers without digits
    // (a long lowercase run is accepted as a password: `thisismypassword`)
    if b.iter().all(|c| c.is_ascii_lowercase() || matches!(c, b'_' | b'-' | b'.'))
        && !(long_words_ok && v.len() >= 12 && b.iter().all(u8::is_ascii_lowercase))
    {
        return true;
    }
    code_shaped(v)
}

/// URLs, paths, calls, file names, constants, camelCase names, member accesses and
/// regular expressions: what a variable or setting holds besides a secret.
fn code_shaped(v: &str) -> bool {
    let b = v.as_bytes();
    let lower = v.to_ascii_lowercase();
    if lower.contains("://") || lower.contains(".com/") || lower.contains("www.") || v.starts_with('@') {
        return true;
    }
    if lower.starts_with("http")
        || lower.starts_with("ftp:")
        || lower.starts_with("arn:")
        || v.starts_with('/')
        || v.starts_with("./")
        || v.starts_with("~/")
        || v.starts_with('#')
        || v.starts_with('&')
        || v.starts_with('!')
    {
        return true;
    }
    if v.contains('(') || v.contains("::") || v.contains("->") || v.contains('[') {
        return true;
    }
    for ext in [".json", ".pem", ".txt", ".key", ".yaml", ".yml", ".crt", ".p12", ".pfx", ".env", ".js", ".py", ".html"]
    {
        if lower.ends_with(ext) {
            return true;
        }
    }
    // CONSTANT_CASE names, e.g. `CF_R2_ACCESS_KEY_ID`
    if b.iter().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == b'_')
        && (b.contains(&b'_') || !b.iter().any(u8::is_ascii_digit))
    {
        return true;
    }
    // camelCase / PascalCase without digits or symbols, e.g. `getPassword`, `AdminPassword`
    if b.iter().all(|c| c.is_ascii_alphabetic()) && b.len() < 24 && b.iter().any(u8::is_ascii_uppercase) {
        let uppers = b.iter().filter(|c| c.is_ascii_uppercase()).count();
        if uppers <= 4 {
            return true;
        }
    }
    // dotted member access like `this.token`, `req.body.password`
    if v.contains('.') && v.split('.').all(|p| !p.is_empty() && p.bytes().all(|c| c.is_ascii_alphabetic() || c == b'_'))
    {
        return true;
    }
    // lowercase paths and routes, e.g. `cms/sites/passwords#edit`
    if v.contains('/') && !b.iter().any(|c| c.is_ascii_digit() || c.is_ascii_uppercase()) {
        return true;
    }
    regex_like(v)
}

/// A validation pattern (`^(?=.*[A-Z]).{8,}$`), not a value.
fn regex_like(v: &str) -> bool {
    ["(?", ".*", ".+", "\\d", "\\w", "\\s", "[a-z", "[A-Z", "[0-9", "{8,"].iter().any(|m| v.contains(m))
        || (v.starts_with('^') && v.ends_with('$'))
}

/// How a generic candidate's value was written.
#[derive(Debug, Clone, Copy, Default)]
struct Form {
    /// In quotes: a string literal.
    quoted: bool,
    /// Bare, and the statement ends right after it (`NAME=value`, `$x = value;`).
    terminated: bool,
    /// No assignment: `provider SECRET value`, `name-key-value`.
    loose: bool,
    /// A quoted literal right after the name, `password 'x'` (a call).
    call: bool,
}

impl Form {
    const QUOTED: Form = Form { quoted: true, terminated: false, loose: false, call: false };
}

/// Names holding a password that people choose: `password`, `passwd`, `pwd`,
/// `passphrase`, `passcode`, or a `pass` segment after a prefix (`DB_PASS`).
fn strong_password_name(k: &str) -> bool {
    ["password", "passwd", "pwd", "passphrase", "passcode"].iter().any(|w| k.contains(w))
        || k.trim_end_matches(['_', '-', '.']).rsplit_once(['_', '-', '.']).is_some_and(|(_, last)| last == "pass")
}

/// Names whose last word is `secret` (`jwtSecret`, `client_secret`, `creds.Secret`):
/// in a string literal their value may be a chosen phrase rather than random.
fn secret_name(k: &str) -> bool {
    k.trim_end_matches(['_', '-', '.']).ends_with("secret")
}

/// Words that describe a password field rather than being its value.
const DESCRIPTIVE_WORDS: &[&str] = &[
    "hidden",
    "invalid",
    "missing",
    "public",
    "private",
    "disabled",
    "enabled",
    "length",
    "strong",
    "weak",
    "medium",
    "plaintext",
    "plain",
    "encrypted",
    "hashed",
    "masked",
    "generated",
    "random",
    "prompt",
    "input",
    "value",
    "text",
    "field",
    "secure",
    "unknown",
    "ignore",
    "ignored",
    "inherit",
    "system",
    "custom",
    "manual",
    "static",
    "dynamic",
    "special",
    "provided",
    "variable",
    "literal",
    "object",
    "number",
    "integer",
    "boolean",
    "array",
    "getpass",
    "request",
    "response",
    "params",
    "options",
    "settings",
    "config",
    "keyring",
    "keychain",
    "stdin",
    "console",
    "interactive",
    "keyfile",
    "certificate",
    "secrets",
    "passwords",
    "credential",
    "credentials",
    "tokens",
    "removed",
    "censored",
    "omitted",
    "sensitive",
    "confidential",
    "protected",
    "mandatory",
    "forbidden",
    "allowed",
    "denied",
    "expired",
    "changed",
    "updated",
    "reset",
    "match",
    "mismatch",
    "incorrect",
    "wrong",
    "correct",
    "valid",
    "verify",
    "verified",
    "confirm",
    "confirmed",
    "login",
    "logout",
    "signin",
    "signup",
    "register",
    "submit",
    "cancel",
    "update",
    "change",
    "show",
    "hide",
    "toggle",
    "visible",
    "invisible",
    "blank",
    "unset",
    "same",
    "different",
    "present",
    "absent",
    "bcrypt",
    "argon",
    "scrypt",
    "minimum",
    "maximum",
    "always",
    "never",
    "automatic",
    "inline",
    "external",
    "internal",
    "local",
    "remote",
    "global",
    "secret",
    "password",
    // "password" in other languages, as in translation files
    "wachtwoord",
    "salasana",
    "parola",
    "passord",
    "adgangskode",
    "kennwort",
    "heslo",
    "haslo",
    "jelszo",
    "sifre",
    "senha",
    "contrasena",
    "lozinka",
    "geslo",
    "parool",
];

/// Names of a form, a message or a rule about a password (`forgotPassword`,
/// `password_hint`, `confirmPasswordLabel`): their string is text shown to people.
fn ui_name(key: &str) -> bool {
    const WORDS: &[&str] = &[
        "forgot",
        "reset",
        "confirm",
        "label",
        "hint",
        "placeholder",
        "prompt",
        "error",
        "message",
        "title",
        "show",
        "hide",
        "toggle",
        "visible",
        "strength",
        "policy",
        "rule",
        "valid",
        "required",
        "change",
        "button",
        "link",
        "page",
        "form",
        "dialog",
        "screen",
        "field",
        "input",
        "tooltip",
        "text",
        "desc",
        "description",
    ];
    name_words(key).iter().any(|w| WORDS.iter().any(|u| w == u || (u.len() >= 5 && w.starts_with(u))))
}

/// Words that make a compound value an identifier (`db_password`, `user-input`,
/// `app-secret`) rather than a phrase.
const IDENTIFIER_PARTS: &[&str] = &[
    "pass", "passwd", "pwd", "secret", "token", "key", "auth", "cred", "creds", "user", "username", "login", "name",
    "db", "api", "value", "input", "var", "field", "text", "str", "env", "config", "form", "data", "param", "arg",
    "hash", "new", "old", "current", "plain", "raw", "get", "set", "my", "the", "app", "test", "default", "temp",
    "tmp", "local", "prod", "dev", "smtp", "mail", "email", "id", "file", "path", "type",
];

/// A chosen password written in letters (`goodspec`, `open_sesame`,
/// `development#product`): lowercase words and separators, no digits or capitals.
/// `None` when `v` is not of that shape.
fn lowercase_phrase_ok(v: &str) -> Option<bool> {
    let b = v.as_bytes();
    if !b.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_punctuation()) {
        return None;
    }
    let lower = v;
    let words: Vec<&str> = lower.split(|c: char| !c.is_ascii_lowercase()).filter(|w| !w.is_empty()).collect();
    let ok = match words.as_slice() {
        [] => false,
        [word] => {
            // a lone word (`goodspec`): not a descriptive word, and not a keyword with a
            // short qualifier (`newpassword`, `dbsecret`)
            let mut rest = word.to_string();
            for kw in ["password", "passwd", "pass", "pwd", "secret", "token", "key", "auth", "cred"] {
                rest = rest.replace(kw, "");
            }
            let compound = rest.len() < word.len() && rest.len() <= 5;
            // a trailing `@`, `:`, `.`, `-`, `_` makes a handle, label or identifier
            // (`busybox@`, `application:`); other symbols are part of a password
            let labelled = v.ends_with(['@', ':', '.', '-', '_']) || v.starts_with(['.', '-', '_', ':']);
            word.len() >= 6 && !compound && !labelled && !DESCRIPTIVE_WORDS.contains(word)
        }
        words => {
            // member access (`settings.password`) and paths are code
            let dotted_only = b.iter().all(|c| c.is_ascii_lowercase() || *c == b'.');
            words.len() <= 4
                && !dotted_only
                && !v.contains('/')
                && v.len() >= 6
                && !words.iter().any(|w| IDENTIFIER_PARTS.contains(w) || w.starts_with("pass"))
                && !words.iter().any(|w| DESCRIPTIVE_WORDS.contains(w))
        }
    };
    Some(ok)
}

/// Random-looking text with symbols (`7\`D'}/vYR)T;W\5]EB…`): a generated secret even
/// though brackets and `$` in it would look like code or a variable elsewhere.
fn random_symbols(v: &str) -> bool {
    let b = v.as_bytes();
    let classes = [
        b.iter().any(u8::is_ascii_uppercase),
        b.iter().any(u8::is_ascii_lowercase),
        b.iter().any(u8::is_ascii_digit),
        b.iter().any(u8::is_ascii_punctuation),
    ];
    v.len() >= 20
        && classes.iter().filter(|&&c| c).count() >= 3
        && entropy(v) >= 4.3
        && !regex_like(v)
        && !placeholder_word(v)
        && !stand_in_marker(v)
        && !few_distinct(v)
}

/// A dummy word with a number appended: `password1`, `token123`, `changeme2`.
fn dummy_with_number(value: &str) -> bool {
    let word = value.trim_end_matches(|c: char| c.is_ascii_digit());
    word.len() < value.len()
        && [
            "password", "passwd", "pass", "pwd", "secret", "token", "key", "apikey", "test", "changeme", "qwerty",
            "dummy",
        ]
        .iter()
        .any(|w| word.eq_ignore_ascii_case(w))
}

/// Score for a generic `name = value` candidate, or `None` when it is not a secret.
fn generic_score(key: &str, value: &str, form: Form) -> Option<f32> {
    let k = key.to_ascii_lowercase();
    const NON_SECRET_SUFFIXES: &[&str] = &[
        "id",
        "name",
        "url",
        "uri",
        "path",
        "file",
        "filename",
        "length",
        "len",
        "size",
        "type",
        "label",
        "header",
        "prefix",
        "field",
        "format",
        "mode",
        "method",
        "count",
        "index",
        "policy",
        "hint",
        "placeholder",
        "timeout",
        "expiry",
        "expires",
        "expiration",
        "ttl",
        "version",
        "endpoint",
        "host",
        "user",
        "username",
        "public",
        "pub",
        "publickey",
        "public_key",
        "text",
        "message",
        "msg",
        "title",
        "description",
        "desc",
        "enabled",
        "required",
        "location",
        "dir",
        "env",
        "var",
        "column",
        "col",
        "param",
        "arg",
        "regex",
        "pattern",
        "rule",
        "strength",
        "reset",
        "forgot",
        "confirm",
        "hash",
        "salt",
        "algorithm",
        "alg",
        "class",
        "provider",
        "store",
        "storage",
        "service",
        "plugin",
        "route",
        "author",
        "authors",
        "authority",
        "keyword",
        "keywords",
        "keyboard",
        "encryption",
        "cipher",
        "mechanism",
        "scheme",
        "strategy",
        "backend",
        "encoder",
        "validator",
        "complexity",
        "history",
        "lifetime",
        "attempts",
        "arn",
    ];
    // a file name (`moltpass.py`, `keys.json`) is not a secret-sounding name
    if let Some((_, ext)) = k.rsplit_once('.') {
        if ["py", "js", "ts", "sh", "rb", "go", "json", "yaml", "yml", "txt", "pem", "key", "env"].contains(&ext) {
            return None;
        }
    }
    if owned_by_format_rule(&k, value) || non_credential_key(key) {
        return None;
    }
    let k_trim = k.trim_end_matches(['_', '-', '.']);
    if NON_SECRET_SUFFIXES.iter().any(|s| k_trim.ends_with(s)) {
        return None;
    }
    if k.contains("author")
        || k.contains("keyboard")
        || k.contains("keyword")
        || k.contains("monkey")
        || k.contains("turkey")
        || k.contains("donkey")
        || k.contains("passport")
        || k.contains("bypass")
        || k.contains("passage")
        || k.contains("accessib")
        || k.contains("accessor")
        || k.contains("accessed")
        || k.contains("accessing")
        || k.contains("privacy")
        || k.contains("compass")
        || k.contains("passenger")
        || k.contains("tokeniz")
        || k.contains("sitekey")
        || k.contains("site_key")
        || k.contains("public")
        || k.contains("pubkey")
        || k.contains("keying")
        || k.contains("csrf")
        || k.contains("xsrf")
    {
        return None;
    }
    let is_password = k.contains("pass") || k.contains("pwd");
    if value.len() < 6 || !value.is_ascii() || value.bytes().any(|c| c.is_ascii_whitespace()) {
        return None;
    }
    // a quoted "value" opening with `,` `;` `)` `+` … lies between two string literals
    // (`label:"Password:",next:"…"`): the quote that opened it closed the name's string
    if form.quoted && value.starts_with([',', ';', ')', '}', ']', '+', '|', '&', ':']) {
        return None;
    }
    if form.quoted && random_symbols(value) {
        return Some(0.8);
    }
    if is_placeholder(value)
        || dummy_with_number(value)
        || host_name(value)
        || versioned(value)
        || value_repeats_name(key, value)
    {
        return None;
    }
    // A literal under a password name, or a quoted one under a `…secret` name, may be
    // chosen by a person: words count (`goodspec`, `open-sesame`), code does not.
    let literal = form.quoted || form.terminated;
    let chosen = !form.loose
        && !ui_name(key)
        && ((strong_password_name(&k) && literal)
            || (is_password && form.quoted)
            || (secret_name(&k) && form.quoted && !form.call));
    if chosen {
        if let Some(ok) = lowercase_phrase_ok(value) {
            return ok.then_some(0.6);
        }
    }
    if looks_like_code(value, is_password) {
        return None;
    }
    let b = value.as_bytes();
    if b.iter().all(u8::is_ascii_digit) {
        // long numeric API keys exist; short numbers are ids, ports, amounts
        return (!is_password && value.len() >= 20).then_some(0.55);
    }
    let ent = entropy(value);
    if form.loose {
        // `provider SECRET value` / `name-key-value`: no assignment, so demand a token
        // shape: long, with digits, high entropy
        let has_digit = b.iter().any(u8::is_ascii_digit);
        let uppers = b.iter().filter(|c| c.is_ascii_uppercase()).count();
        let lowers = b.iter().filter(|c| c.is_ascii_lowercase()).count();
        let mixed = uppers >= 3 && lowers >= 3;
        let token_chars = b.iter().all(|c| c.is_ascii_alphanumeric() || b"_-+/=.~".contains(c));
        if value.len() < 12 || !token_chars || !(has_digit || (mixed && value.len() >= 16)) || ent < 3.0 {
            return None;
        }
        return Some(if ent >= 4.0 { 0.7 } else { 0.6 });
    }
    if is_password {
        // passwords are short and human: accept anything that is not a word-ish constant
        if ent < 2.0 {
            return None;
        }
        return Some(if ent >= 3.0 { 0.75 } else { 0.6 });
    }
    if is_uuid(value) {
        return Some(0.55);
    }
    if value.len() < 10 {
        return None;
    }
    let has_digit = b.iter().any(u8::is_ascii_digit);
    let has_upper = b.iter().any(u8::is_ascii_uppercase);
    let has_lower = b.iter().any(u8::is_ascii_lowercase);
    if !(has_digit || (has_upper && has_lower)) {
        return None;
    }
    let need = if value.len() >= 16 { 3.0 } else { 2.7 };
    if ent < need {
        return None;
    }
    Some(if ent >= 4.0 { 0.8 } else { 0.7 })
}

/// Provider names and value prefixes whose credential format has a dedicated rule.
/// A generic candidate naming such a provider (`AWS_SECRET_KEY = …`) or carrying such a
/// prefix (`hvs.…`, `xoxb-…`) is judged by that rule alone: when the value fails the
/// provider's documented format (wrong length, alphabet or segments) it is a fake,
/// truncated or test value, not a secret the generic rule should report.
fn owned_by_format_rule(key_lower: &str, value: &str) -> bool {
    const NAMES: &[&str] = &["aws", "amazon", "vault", "twitch", "slack", "github", "gitlab", "stripe", "okta"];
    const PREFIXES: &[&str] = &[
        "hvs.",
        "hvb.",
        "hvr.",
        "xoxb-",
        "xoxp-",
        "xoxa-",
        "xoxr-",
        "xoxs-",
        "xoxe",
        "px-api-",
        "px-dep-",
        "ghp_",
        "gho_",
        "ghu_",
        "ghs_",
        "ghr_",
        "github_pat_",
        "glpat-",
        "sk_live_",
        "sk_test_",
        "rk_live_",
        "rk_test_",
        "akia",
        "asia",
        "aiza",
        "ya29.",
        "npm_",
        "pypi-",
        "xkeysib-",
        "sk-ant-",
        "sk-proj-",
        "dop_v1_",
        "shpat_",
        "nrak-",
    ];
    let v = value.to_ascii_lowercase();
    // New Relic license keys end in a fixed marker rather than starting with a prefix.
    let nr_license = v.len() == 40 && v.ends_with("nral");
    nr_license || NAMES.iter().any(|n| key_lower.contains(n)) || PREFIXES.iter().any(|p| v.starts_with(p))
}
