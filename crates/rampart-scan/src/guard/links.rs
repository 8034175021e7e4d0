//! Links and images in model output: finds markdown inline links and images, reference
//! definitions, autolinks and URL-carrying HTML tags, decides whether their URL may be
//! shown (host allow-list, scheme rules), and reports the spans to remove. Pure byte
//! parsing over one window of text; knows nothing of streaming beyond "this construct
//! runs into the end of the window" (then the span ends at the window end and the
//! caller holds it until it closes).
//!
//! The parsers follow CommonMark and the WHATWG URL parser where an attacker could
//! exploit a difference, and fail closed elsewhere: a destination whose scheme part
//! holds an entity (`&#58;`), a control character or whitespace is treated as an
//! unknown scheme; a host with `%`, `&` or any character outside `[a-z0-9._-]` (or a
//! bracketed IPv6 address) never matches the allow-list; backslashes count as slashes
//! (as browsers do for http and https) and markdown backslash escapes are checked both
//! ways.

use std::ops::Range;
use std::sync::LazyLock;

use memchr::memmem;

/// Searchers for the fixed needles, built once (`memmem::find_iter` builds one per call).
static FIND_INLINE: LazyLock<memmem::Finder<'static>> = LazyLock::new(|| memmem::Finder::new(b"]("));
static FIND_DEFINITION: LazyLock<memmem::Finder<'static>> = LazyLock::new(|| memmem::Finder::new(b"]:"));

/// Longest markdown link text searched backwards for its `[`.
const MAX_LINK_TEXT: usize = 1024;

/// Longest HTML tag name or autolink scheme looked at.
const MAX_NAME: usize = 32;

/// HTML elements whose attributes can make a client fetch or link to a URL.
const TAGS: &[&str] = &[
    "a", "area", "audio", "base", "embed", "form", "frame", "iframe", "image", "img", "input", "link", "object",
    "script", "source", "track", "video",
];

/// Attributes holding a URL (`srcset` a list of them).
const URL_ATTRS: &[&str] = &[
    "href",
    "src",
    "srcset",
    "xlink:href",
    "poster",
    "data",
    "action",
    "formaction",
    "background",
    "lowsrc",
    "dynsrc",
    "longdesc",
];

/// Replacement of a removed image.
pub(super) const IMAGE_REMOVED: &str = "[IMAGE_REMOVED]";
/// Replacement of a removed autolink.
pub(super) const LINK_REMOVED: &str = "[LINK_REMOVED]";

/// What replaces a removed construct.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum LinkRep {
    /// A fixed marker (or nothing).
    Fixed(&'static str),
    /// The link's own text, `[text](url)` → `text` (window-relative range).
    Text(Range<usize>),
}

/// One construct to remove, window-relative. `span.end == window.len()` means the
/// construct is not closed yet (unless the window ends the text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct LinkEdit {
    pub(super) span: Range<usize>,
    pub(super) rep: LinkRep,
    pub(super) rule: &'static str,
}

/// Appends the constructs of `window` to remove. `floor` is where the text not yet
/// emitted starts: constructs ending at or before it are skipped, and none starts
/// before it. `at_end`: the window ends the text (an unclosed construct is then
/// judged as it is). `line_start`: the window starts at the start of a line.
pub(super) fn scan(
    window: &str,
    floor: usize,
    at_end: bool,
    line_start: bool,
    hosts: &[String],
    out: &mut Vec<LinkEdit>,
) {
    let b = window.as_bytes();
    let n = b.len();
    let mut push = |start: usize, end: usize, rep: LinkRep, rule: &'static str| {
        if end <= floor || start >= end {
            return;
        }
        // A construct that began in emitted text: remove what is left of it.
        let (start, rep) = if start < floor { (floor, LinkRep::Fixed("")) } else { (start, rep) };
        out.push(LinkEdit { span: start..end, rep, rule });
    };

    // ---- inline links and images: `[text](dest "title")`, `![alt](dest)`
    for q in FIND_INLINE.find_iter(b) {
        if q > 0 && b[q - 1] == b'\\' {
            continue;
        }
        let (end, allowed) = match parse_inline(b, q + 2) {
            Parsed::Invalid => continue,
            Parsed::Open(url) if at_end => (n, md_url_allowed(&window[url], hosts)),
            Parsed::Open(_) => (n, false),
            Parsed::Closed(url, end) => (end, md_url_allowed(&window[url], hosts)),
        };
        if allowed || end <= floor {
            continue;
        }
        let open = find_open_bracket(b, q, floor);
        let image = open.filter(|&o| o > floor && b[o - 1] == b'!');
        if end == n && !at_end {
            // Still open: hold from where the construct starts.
            let start = image.map_or_else(|| open.unwrap_or(q + 1), |o| o - 1);
            push(start, n, LinkRep::Fixed(""), "output.link.markdown");
        } else if let Some(o) = image {
            push(o - 1, end, LinkRep::Fixed(IMAGE_REMOVED), "output.link.image");
        } else if let Some(o) = open {
            push(o, end, LinkRep::Text(o + 1..q), "output.link.markdown");
        } else {
            // The `[` was emitted earlier (or is too far back): drop the destination,
            // keep the `]`; what is left is not a link.
            push(q + 1, end, LinkRep::Fixed(""), "output.link.markdown");
        }
    }

    // ---- reference definitions: `[label]: dest` at a line start
    for q in FIND_DEFINITION.find_iter(b) {
        let Some(o) = definition_start(b, q, line_start) else { continue };
        let mut i = skip_blank(b, q + 2);
        let (end, allowed) = if i >= n {
            if at_end { continue } else { (n, false) }
        } else if b[i] == b'<' {
            match memchr::memchr3(b'>', b'\n', b'<', &b[i + 1..]) {
                Some(k) if b[i + 1 + k] == b'>' => (i + k + 2, md_url_allowed(&window[i + 1..i + 1 + k], hosts)),
                Some(_) => continue,
                None if at_end => (n, md_url_allowed(&window[i + 1..], hosts)),
                None => (n, false),
            }
        } else {
            let s = i;
            while i < n && !b[i].is_ascii_whitespace() {
                i += 1;
            }
            if i == n && !at_end { (n, false) } else { (i, md_url_allowed(&window[s..i], hosts)) }
        };
        if !allowed {
            push(o, end, LinkRep::Fixed(""), "output.link.reference");
        }
    }

    // ---- autolinks `<scheme:...>` and HTML tags `<img src=...>`
    for t in memchr::memchr_iter(b'<', b) {
        let name_end = t + 1 + b[t + 1..].iter().take(MAX_NAME + 1).take_while(|c| is_name_byte(**c)).count();
        if name_end == t + 1 || !b[t + 1].is_ascii_alphabetic() || name_end - t > MAX_NAME {
            continue;
        }
        if name_end >= n {
            if !at_end {
                push(t, n, LinkRep::Fixed(""), "output.link.html");
            }
            continue;
        }
        let name = &window[t + 1..name_end];
        match b[name_end] {
            b':' if name.len() >= 2 => {
                let body = name_end + 1;
                let stop = b[body..].iter().position(|&c| c == b'>' || c == b'<' || c.is_ascii_whitespace());
                let (end, url_end) = match stop {
                    Some(k) if b[body + k] == b'>' => (body + k + 1, body + k),
                    Some(_) => continue,
                    None if at_end => (n, n),
                    None => {
                        push(t, n, LinkRep::Fixed(""), "output.link.autolink");
                        continue;
                    }
                };
                if !url_allowed(&window[t + 1..url_end], hosts) {
                    push(t, end, LinkRep::Fixed(LINK_REMOVED), "output.link.autolink");
                }
            }
            c if (c.is_ascii_whitespace() || c == b'/' || c == b'>')
                && TAGS.iter().any(|tag| tag.eq_ignore_ascii_case(name)) =>
            {
                let image = name.eq_ignore_ascii_case("img") || name.eq_ignore_ascii_case("image");
                let rep = LinkRep::Fixed(if image { IMAGE_REMOVED } else { "" });
                match parse_tag(window, name_end, hosts) {
                    Tag::Closed { allowed: true, .. } => {}
                    Tag::Closed { end, .. } => push(t, end, rep, "output.link.html"),
                    Tag::Open { allowed } if at_end => {
                        if !allowed {
                            push(t, n, rep, "output.link.html");
                        }
                    }
                    Tag::Open { .. } => push(t, n, LinkRep::Fixed(""), "output.link.html"),
                }
            }
            _ => {}
        }
    }
}

fn is_name_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'+' | b'.' | b'-')
}

/// Skips spaces and tabs, and at most one line break.
fn skip_blank(b: &[u8], mut i: usize) -> usize {
    let mut newline = false;
    while let Some(&c) = b.get(i) {
        match c {
            b' ' | b'\t' => {}
            b'\r' | b'\n' if !newline => newline = c == b'\n',
            _ => break,
        }
        i += 1;
    }
    i
}

enum Parsed {
    /// Not a link destination.
    Invalid,
    /// Runs into the end of the window; the destination so far.
    Open(Range<usize>),
    /// Destination range and the end of the construct (after its `)`).
    Closed(Range<usize>, usize),
}

/// Parses `dest "title")` starting right after `](`.
fn parse_inline(b: &[u8], at: usize) -> Parsed {
    let n = b.len();
    let mut i = skip_blank(b, at);
    if i >= n {
        return Parsed::Open(i..i);
    }
    let url = if b[i] == b'<' {
        match memchr::memchr3(b'>', b'\n', b'<', &b[i + 1..]) {
            Some(k) if b[i + 1 + k] == b'>' => {
                let url = i + 1..i + 1 + k;
                i += k + 2;
                url
            }
            Some(_) => return Parsed::Invalid,
            None => return Parsed::Open(i + 1..n),
        }
    } else {
        let start = i;
        let mut depth = 0usize;
        loop {
            let Some(&c) = b.get(i) else { return Parsed::Open(start..n) };
            match c {
                b'\\' => i += 1,
                b'(' => depth += 1,
                b')' if depth == 0 => break,
                b')' => depth -= 1,
                c if c.is_ascii_whitespace() || c.is_ascii_control() => break,
                _ => {}
            }
            i += 1;
        }
        start..i.min(n)
    };
    i = skip_blank(b, i);
    let Some(&c) = b.get(i) else { return Parsed::Open(url) };
    match c {
        b')' => Parsed::Closed(url, i + 1),
        b'"' | b'\'' | b'(' => {
            let close = if c == b'(' { b')' } else { c };
            let mut j = i + 1;
            loop {
                let Some(&d) = b.get(j) else { return Parsed::Open(url) };
                if d == b'\\' {
                    j += 1;
                } else if d == close {
                    break;
                }
                j += 1;
            }
            let k = skip_blank(b, j + 1);
            match b.get(k) {
                None => Parsed::Open(url),
                Some(b')') => Parsed::Closed(url, k + 1),
                Some(_) => Parsed::Invalid,
            }
        }
        _ => Parsed::Invalid,
    }
}

/// The `[` opening the link text that ends at `q` (a `]`), at or after `floor`,
/// bracket-balanced, not across a blank line, at most [`MAX_LINK_TEXT`] back.
fn find_open_bracket(b: &[u8], q: usize, floor: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut i = q;
    while i > floor && q - i < MAX_LINK_TEXT {
        i -= 1;
        let escaped = i > 0 && b[i - 1] == b'\\';
        match b[i] {
            b']' if !escaped => depth += 1,
            b'[' if !escaped => {
                if depth == 0 {
                    return Some(i);
                }
                depth -= 1;
            }
            b'\n' if i > 0 && b[i - 1] == b'\n' => return None,
            _ => {}
        }
    }
    None
}

/// The `[` of a reference definition `[label]:` whose `]` is at `q`: at a line start
/// after at most three spaces, with a label that has no brackets.
fn definition_start(b: &[u8], q: usize, line_start: bool) -> Option<usize> {
    let line = b[..q].iter().rposition(|&c| c == b'\n').map(|i| i + 1);
    let ls = match line {
        Some(ls) => ls,
        None if line_start => 0,
        None => return None,
    };
    let indent = b[ls..q].iter().take_while(|&&c| c == b' ').count();
    let o = ls + indent;
    if indent > 3 || b.get(o) != Some(&b'[') || o + 1 >= q {
        return None;
    }
    if b[o + 1..q].iter().any(|&c| c == b'[' || c == b']') {
        return None;
    }
    Some(o)
}

enum Tag {
    /// The tag ends (after its `>`) at `end`; whether every URL in it is allowed.
    Closed { end: usize, allowed: bool },
    /// Runs into the end of the window; whether the URLs seen so far are allowed.
    Open { allowed: bool },
}

/// Parses the attributes of a tag from `i` (right after its name) to its `>`.
fn parse_tag(window: &str, mut i: usize, hosts: &[String]) -> Tag {
    let b = window.as_bytes();
    let n = b.len();
    let mut allowed = true;
    loop {
        while i < n && (b[i].is_ascii_whitespace() || b[i] == b'/') {
            i += 1;
        }
        if i >= n {
            return Tag::Open { allowed };
        }
        if b[i] == b'>' {
            return Tag::Closed { end: i + 1, allowed };
        }
        let name_start = i;
        while i < n && !b[i].is_ascii_whitespace() && !matches!(b[i], b'=' | b'>' | b'/') {
            i += 1;
        }
        if i == name_start {
            // a stray `=`: skip it
            i += 1;
            continue;
        }
        let name = &window[name_start..i];
        while i < n && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= n {
            return Tag::Open { allowed };
        }
        if b[i] != b'=' {
            continue;
        }
        i += 1;
        while i < n && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= n {
            return Tag::Open { allowed };
        }
        let value = if b[i] == b'"' || b[i] == b'\'' {
            let Some(k) = memchr::memchr(b[i], &b[i + 1..]) else {
                allowed &= attr_allowed(name, &window[i + 1..], hosts);
                return Tag::Open { allowed };
            };
            let v = i + 1..i + 1 + k;
            i += k + 2;
            v
        } else {
            let s = i;
            while i < n && !b[i].is_ascii_whitespace() && b[i] != b'>' {
                i += 1;
            }
            if i >= n {
                allowed &= attr_allowed(name, &window[s..], hosts);
                return Tag::Open { allowed };
            }
            s..i
        };
        allowed &= attr_allowed(name, &window[value], hosts);
    }
}

/// Whether an HTML attribute is harmless: not a URL attribute, or every URL in it is
/// allowed; a `style` that loads anything (`url(`) never is.
fn attr_allowed(name: &str, value: &str, hosts: &[String]) -> bool {
    if name.eq_ignore_ascii_case("style") {
        return !value.to_ascii_lowercase().contains("url(");
    }
    if !URL_ATTRS.iter().any(|a| a.eq_ignore_ascii_case(name)) {
        return true;
    }
    if name.eq_ignore_ascii_case("srcset") {
        return value.split(',').all(|c| c.split_ascii_whitespace().next().is_none_or(|u| url_allowed(u, hosts)));
    }
    url_allowed(value, hosts)
}

/// [`url_allowed`] for a markdown destination: checked as written and with backslash
/// escapes removed (a renderer unescapes `\@`), allowed only if both pass.
fn md_url_allowed(url: &str, hosts: &[String]) -> bool {
    if !url_allowed(url, hosts) {
        return false;
    }
    if !url.contains('\\') {
        return true;
    }
    let mut unescaped = String::with_capacity(url.len());
    let mut chars = url.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' && chars.peek().is_some_and(char::is_ascii_punctuation) {
            continue;
        }
        unescaped.push(c);
    }
    url_allowed(&unescaped, hosts)
}

/// Whether a link or image may point at `url`: relative URLs (paths, `?query`,
/// `#anchor`) always may; `http`/`https` URLs and protocol-relative `//host` ones when
/// their host is on the list; any other scheme (`data:`, `javascript:`, `mailto:`, …)
/// never.
pub(super) fn url_allowed(url: &str, hosts: &[String]) -> bool {
    let u = url.trim_matches(|c: char| c.is_ascii_whitespace() || c.is_control());
    let head_end = u.find(['/', '\\', '?', '#']).unwrap_or(u.len());
    let head = &u[..head_end];
    if let Some(colon) = head.find(':') {
        let scheme = &head[..colon];
        if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
            return false;
        }
        // `https:evil.com` and `https:/\evil.com` mean `https://evil.com` to browsers.
        return host_allowed(authority_host(u[colon + 1..].trim_start_matches(['/', '\\'])), hosts);
    }
    // An entity, a control character or whitespace may hide a scheme (`&#58;`, `java\tscript:`).
    if head.bytes().any(|c| c == b'&' || c.is_ascii_control() || c.is_ascii_whitespace()) {
        return false;
    }
    let mut lead = u.bytes().take_while(|&c| c == b'/' || c == b'\\');
    if lead.next().is_some() && lead.next().is_some() {
        return host_allowed(authority_host(u.trim_start_matches(['/', '\\'])), hosts);
    }
    true
}

/// The host of `authority[/path…]`: userinfo and port removed, lowercased; `None`
/// when it is not a plain host name or a bracketed IPv6 address.
fn authority_host(rest: &str) -> Option<String> {
    let auth = &rest[..rest.find(['/', '\\', '?', '#']).unwrap_or(rest.len())];
    let host_port = auth.rsplit('@').next().unwrap_or(auth);
    let host = if host_port.starts_with('[') {
        let close = host_port.find(']')?;
        let port = &host_port[close + 1..];
        if !(port.is_empty() || port.strip_prefix(':').is_some_and(|p| p.bytes().all(|c| c.is_ascii_digit()))) {
            return None;
        }
        let inner = &host_port[1..close];
        if !inner.bytes().all(|c| c.is_ascii_hexdigit() || c == b':' || c == b'.') {
            return None;
        }
        &host_port[..=close]
    } else {
        let host = match host_port.rsplit_once(':') {
            Some((h, port)) if port.bytes().all(|c| c.is_ascii_digit()) => h,
            Some(_) => return None,
            None => host_port,
        };
        if !host.bytes().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-' | b'_')) {
            return None;
        }
        host
    };
    let host = host.trim_end_matches('.');
    (!host.is_empty()).then(|| host.to_ascii_lowercase())
}

/// Whether `host` is on the list: an exact entry, or `*.example.com` for any
/// subdomain of example.com (not example.com itself).
fn host_allowed(host: Option<String>, hosts: &[String]) -> bool {
    let Some(host) = host else { return false };
    hosts.iter().any(|entry| {
        let entry = entry.trim().trim_end_matches('.');
        match entry.strip_prefix("*.") {
            Some(suffix) => {
                host.len() > suffix.len() + 1
                    && host.as_bytes()[host.len() - suffix.len() - 1] == b'.'
                    && host[host.len() - suffix.len()..].eq_ignore_ascii_case(suffix)
            }
            None => host.eq_ignore_ascii_case(entry),
        }
    })
}
