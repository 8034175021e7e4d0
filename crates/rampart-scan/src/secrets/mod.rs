//! Secrets detector: provider credentials recognised by their format (AWS, GCP, Azure,
//! GitHub, GitLab, OpenAI, Anthropic, Slack, Stripe, private keys, JWTs, connection
//! strings, …) plus high-entropy values assigned to secret-sounding names
//! (`API_KEY = "…"`, `"password": "…"`).
//!
//! Matching is ripgrep style. Every rule has an *anchor*: a short lowercase regex that
//! all its matches contain (a literal prefix such as `ghp_`, a provider name). The text
//! is ASCII-lowercased once (offsets unchanged); one alternation of all anchors finds
//! the first hit, one [`RegexSet`] of the anchors run from there tells which rules can
//! match, and only those rules run their full pattern. The vendor-name rule and the
//! generic `name = value` rule start from their own literal searches. All patterns are
//! compiled by the linear-time `regex` engine. Overlapping candidates are resolved by
//! rule order: format rules beat context rules, then the vendor rule, then the generic
//! rule; each secret is reported once. The generic rule defers to format rules: a value
//! with a known provider prefix, or a name naming such a provider, is left to that rule.

mod rules;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use base64::Engine as _;
use regex::{Regex, RegexBuilder, RegexSet, RegexSetBuilder};

use crate::{Family, Finding};
use rules::{CONTEXT, Check, FIXED, VENDORS};

/// Names that make an assignment "secret-sounding" for the generic rule.
const GENERIC_PATTERN: &str = concat!(
    r#"(?i-u)(?P<k>[a-z0-9_.\-]*(?:key|token|secret|passw(?:or)?d|pwd|pass|auth|credential|creds|access|private|tkn)[a-z0-9_.\-]*?)"#,
    r#"(?:(?P<eq>\\?["'`]?[ \t]*(?:=|:|=>|:=|\|\|=|[!=]==?)[ \t]*|["'`][ \t]*,[ \t]*["'`])(?:\\?["'`])?|(?P<sp>[ \t]+(?:[a-z_]{1,12}[ \t]+)?|[\-.]))"#,
    // value: printable ASCII without quotes, `,` `;` `\`; no leading `:`
    r#"(?P<s>[\x21\x23-\x26\x28-\x2B\x2D-\x39\x3C-\x5B\x5D-\x5F\x61-\x7E][\x21\x23-\x26\x28-\x2B\x2D-\x3A\x3C-\x5B\x5D-\x5F\x61-\x7E]{5,})"#
);

/// Words that may join a vendor name and its value (`acme_API_KEY = …`,
/// `acme access TOKEN …`); when one is present the value may be letters only.
const VENDOR_WORDS: &str = "api|access|secret|private|client|app|auth|account|license|personal|service|key|token|pat|id|pass(?:word)?|credentials?|x|sms|bearer|oauth";

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
    /// Every anchor as one alternation: finds the first anchor hit (literal
    /// prefilters make this much faster than the multi-pattern set).
    any_anchor: Regex,
    /// One entry per rule: its anchor, run from the first anchor hit on.
    set: RegexSet,
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

/// Makes `\b` ASCII-only so the lazy DFA never has to give up on non-ASCII input.
fn asciify(pattern: &str) -> String {
    pattern.replace(r"\b", r"(?-u:\b)")
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
        for &(id, category, entity, names, score, value) in CONTEXT {
            anchors.push(format!("(?:{})", names.to_ascii_lowercase()));
            rules.push(Compiled {
                id,
                category,
                entity,
                score,
                check: Check::Entropy(2.5),
                re: compile(&rules::ctx(names, value)),
                on_lower: false,
            });
        }
        let vendors = VENDORS.iter().map(|v| regex::escape(v)).collect::<Vec<_>>().join("|");
        // Not in the set: hundreds of names would blow up its automaton, while this
        // lowercase pattern's own literal prefilter finds them fast.
        let vendor = Compiled {
            id: "secrets.vendor.api_key",
            category: "saas",
            entity: "SAAS_API_KEY",
            score: 0.6,
            check: Check::Vendor,
            re: compile(&format!(
                r#"\b(?:{vendors})[a-z0-9]{{0,12}}?(?:[ \t\r\n_.\-]{{0,3}}(?P<kw>{VENDOR_WORDS}))*(?:[ \t]*(?:[:=]|=>|:=)[ \t]*|[ \t\r\n]+|[\-_=])["'`]?(?P<s>[a-z0-9][a-z0-9_\-+/.=]{{15,}})"#
            )),
            on_lower: true,
        };
        let any_anchor = compile(&anchors.iter().map(|a| format!("(?:{a})")).collect::<Vec<_>>().join("|"));
        #[allow(clippy::expect_used)]
        let set = RegexSetBuilder::new(&anchors)
            .size_limit(16 << 20)
            .dfa_size_limit(8 << 20)
            .build()
            .expect("built-in secrets anchors must compile as a set");
        let generic = compile(&format!(r"\A(?:{GENERIC_PATTERN})"));
        let xml_add = compile(r#"(?i)<add\s+key\s*=\s*"(?P<k>[^"]{1,80})"\s+value\s*=\s*"(?P<s>[^"\s]{6,200})""#);
        let keyword = compile(r"(?i)key|token|secret|passw(?:or)?d|pwd|credential");
        let generic_keyword = compile(r"key|token|secret|pass|pwd|auth|cred|access|private|tkn");
        Self { any_anchor, set, rules, vendor, generic, generic_keyword, xml_add, keyword }
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
        let matched = match self.any_anchor.find(&lower) {
            Some(first) => self.set.matches_at(&lower, first.start()),
            None => self.set.matches_at(&lower, lower.len()),
        };
        let vendor_idx = self.rules.len();
        for idx in matched.iter().chain(std::iter::once(vendor_idx)) {
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
                cands.push((
                    idx,
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
            let (Some(k), Some(v)) = (caps.name("k"), caps.name("s")) else { continue };
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
            // values are ASCII (see the pattern), so any byte index is a char boundary
            let value = trim_value(&v.as_str()[..v.len().min(200)]);
            let loose = caps.name("sp").is_some();
            // `<add key="Name" value="…"/>` is handled below: `key` is the attribute
            if k.as_str().eq_ignore_ascii_case("key")
                && text[..start + k.start()].trim_end().to_ascii_lowercase().ends_with("<add")
            {
                continue;
            }
            if let Some(score) = generic_score(k.as_str(), value, loose) {
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
            if let Some(score) = generic_score(k.as_str(), v.as_str(), false) {
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
    }
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
    let Some(header) = value.split('.').next() else { return false };
    let Ok(bytes) = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(header.trim_end_matches('=')) else {
        return false;
    };
    let Ok(json) = std::str::from_utf8(&bytes) else { return false };
    let json = json.trim_start();
    json.starts_with('{') && json.contains("\"alg\"")
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
    // Besides these, everything `is_stand_in` recognizes.
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
    if is_stand_in(value) {
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
    ];
    WORDS.contains(&lower.as_str())
}

/// Variables, templates and repeated characters: never a real value, even in a URL.
fn is_stand_in(value: &str) -> bool {
    let lower = value.to_ascii_lowercase();
    const MARKERS: &[&str] = &[
        "xxxx",
        "****",
        "<",
        ">",
        "${",
        "{{",
        "}}",
        "$(",
        "%(",
        "%s",
        "{0}",
        "your",
        "changeme",
        "placeholder",
        "redacted",
    ];
    if MARKERS.iter().any(|m| lower.contains(m)) {
        return true;
    }
    let b = value.as_bytes();
    // shell / template variable anywhere: `$VAR`, `${…}`, `$(…)`, `@VAR@`, `%VAR%`
    if b.windows(2)
        .any(|w| w[0] == b'$' && (w[1].is_ascii_alphabetic() || w[1] == b'_' || w[1] == b'{' || w[1] == b'('))
    {
        return true;
    }
    if (b.first() == Some(&b'%') && b.last() == Some(&b'%')) || (b.first() == Some(&b'@') && b.last() == Some(&b'@')) {
        return true;
    }
    // one or two distinct characters, e.g. `00000000-0000-…`, `aaaa…`
    let mut distinct = [false; 256];
    for &c in b.iter().filter(|c| c.is_ascii_alphanumeric()) {
        distinct[c as usize] = true;
    }
    distinct.iter().filter(|&&d| d).count() <= 2
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
    let lower = v.to_ascii_lowercase();
    if lower.contains("://") || lower.contains(".com/") || lower.contains("www.") || v.starts_with('@') {
        return true;
    }
    if lower.starts_with("http")
        || lower.starts_with("ftp:")
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
    // snake_case / kebab-case / dotted lowercase identifiers without digits
    // (a long lowercase run is accepted as a password: `thisismypassword`)
    if b.iter().all(|c| c.is_ascii_lowercase() || matches!(c, b'_' | b'-' | b'.'))
        && !(long_words_ok && v.len() >= 12 && b.iter().all(u8::is_ascii_lowercase))
    {
        return true;
    }
    // CONSTANT_CASE names, e.g. `CF_R2_ACCESS_KEY_ID`
    if b.iter().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == b'_')
        && (b.contains(&b'_') || !b.iter().any(u8::is_ascii_digit))
    {
        return true;
    }
    // camelCase / PascalCase without digits or symbols, e.g. `getPassword`, `AdminPassword`
    if b.iter().all(|c| c.is_ascii_alphabetic()) && b.len() < 24 {
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
    false
}

/// Score for a generic `name = value` candidate, or `None` when it is not a secret.
fn generic_score(key: &str, value: &str, loose: bool) -> Option<f32> {
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
    ];
    // a file name (`moltpass.py`, `keys.json`) is not a secret-sounding name
    if let Some((_, ext)) = k.rsplit_once('.') {
        if ["py", "js", "ts", "sh", "rb", "go", "json", "yaml", "yml", "txt", "pem", "key", "env"].contains(&ext) {
            return None;
        }
    }
    if owned_by_format_rule(&k, value) {
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
    {
        return None;
    }
    let is_password = k.contains("pass") || k.contains("pwd");
    if value.len() < 6 || is_placeholder(value) || looks_like_code(value, is_password) {
        return None;
    }
    let b = value.as_bytes();
    if b.iter().all(u8::is_ascii_digit) {
        // long numeric API keys exist; short numbers are ids, ports, amounts
        return (!is_password && value.len() >= 20).then_some(0.55);
    }
    let ent = entropy(value);
    if loose {
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
        if value.len() < 6 || ent < 2.0 {
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
