//! Inspection: applies the key's policy profile to what goes to the provider and to
//! what comes back. Owns the request side (every model-readable string of the body,
//! by role: attack scores for user text and for data such as tool results, PII and
//! secrets masking everywhere, image hosts, the canary), the [`Verdict`] records and
//! the `x-rampart-verdict` summary, and hands the response side a [`ResponsePlan`]
//! ([`response`] for JSON bodies, [`stream`] for SSE). Detection itself is
//! `rampart_scan`; where texts sit in a body is [`sites`].
//!
//! Blocked requests never reach the provider: 400 `content_policy_violation` naming
//! the detector category, the location (`messages[3].content`), the profile and the
//! request id, never the matched text. In a profile with `mode = "monitor"`, every
//! action is recorded as it would have been taken and nothing changes.

pub(crate) mod response;
pub(crate) mod sites;
pub(crate) mod stream;

use std::fmt::Write as _;
use std::sync::Arc;

use bytes::Bytes;
use http::HeaderValue;
use rampart_config::{Action, PolicyProfile, host_allowed};
use rampart_scan::redact::{Mode, Vault};
use rampart_scan::{Family, Finding, Scanner};

use crate::error::ApiError;
use sites::{Site, Trust};

/// Bodies whose text exceeds this are scanned on the blocking pool, so one large
/// request cannot stall a runtime worker.
const INLINE_SCAN_BYTES: usize = 32 * 1024;
/// Most system-prompt bytes kept for prompt-leak detection.
const MAX_PROTECTED_PROMPT: usize = 16 * 1024;
/// Most verdicts recorded per request (a body with thousands of emails still gets
/// every one masked; the log keeps the first ones and a count).
const MAX_VERDICTS: usize = 64;

/// The response header carrying the verdict summary.
pub(crate) const VERDICT_HEADER: &str = "x-rampart-verdict";

/// One decision, for the log and the audit trail: never the matched text.
#[derive(Debug, Clone)]
pub(crate) struct Verdict {
    /// `request` or `response`.
    pub(crate) phase: &'static str,
    /// `injection`, `jailbreak`, `pii`, `secrets`, `image_host`, `opaque_input`,
    /// `canary`, `prompt_leak`, `link`.
    pub(crate) detector: &'static str,
    pub(crate) rule: &'static str,
    pub(crate) score: f32,
    /// `block`, `redact`, `pseudonymize`, `monitor`, `remove_link`, `stop`.
    pub(crate) action: &'static str,
    /// Where (`messages[2].content`, `choices[0]`).
    pub(crate) location: String,
}

/// The summary in `x-rampart-verdict`, ordered by severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub(crate) enum Summary {
    /// Nothing found.
    #[default]
    Allow,
    /// Findings recorded, traffic unchanged.
    Monitored,
    /// Something was masked or removed.
    Redacted,
    /// Refused or stopped.
    Blocked,
}

impl Summary {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Allow => "allow",
            Self::Monitored => "monitored",
            Self::Redacted => "redacted",
            Self::Blocked => "blocked",
        }
    }

    pub(crate) fn header(self) -> HeaderValue {
        HeaderValue::from_static(self.as_str())
    }

    fn of(action: &str) -> Self {
        match action {
            "block" | "stop" => Self::Blocked,
            "redact" | "pseudonymize" | "remove_link" => Self::Redacted,
            "monitor" => Self::Monitored,
            _ => Self::Allow,
        }
    }
}

/// The verdicts of one request, as a response extension for the access log.
#[derive(Debug, Clone, Default)]
pub(crate) struct Verdicts {
    pub(crate) list: Vec<Verdict>,
    /// Verdicts past [`MAX_VERDICTS`], counted only.
    pub(crate) dropped: usize,
    pub(crate) summary: Summary,
}

impl Verdicts {
    pub(crate) fn push(&mut self, verdict: Verdict) {
        self.summary = self.summary.max(Summary::of(verdict.action));
        if self.list.len() < MAX_VERDICTS {
            self.list.push(verdict);
        } else {
            self.dropped += 1;
        }
    }

    /// `detector/rule/score/action@location` entries, comma-separated, for one log
    /// field.
    pub(crate) fn log_field(&self) -> String {
        let mut out = String::new();
        for (i, v) in self.list.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let _ = write!(out, "{}:{}/{}/{:.2}/{}@{}", v.phase, v.detector, v.rule, v.score, v.action, v.location);
        }
        if self.dropped > 0 {
            let _ = write!(out, ",+{} more", self.dropped);
        }
        out
    }
}

/// What the response side needs from the request side.
#[derive(Debug)]
pub(crate) struct ResponsePlan {
    pub(crate) profile: Arc<PolicyProfile>,
    /// Pseudonyms to restore, when any were made.
    pub(crate) vault: Option<Arc<Vault>>,
    /// The canary added to the system prompt.
    pub(crate) canary: Option<String>,
    /// The system prompt as the provider saw it (masked, without the canary).
    pub(crate) protected_prompt: Option<String>,
}

impl ResponsePlan {
    /// For output that was not produced by this request (a stored response): no
    /// pseudonyms or system prompt to compare with, but the profile's canary (the
    /// stored output may be one this gateway stopped when it streamed).
    pub(crate) fn stored(profile: Arc<PolicyProfile>, canary: &str) -> Arc<Self> {
        let canary = profile.canary.then(|| canary.to_owned());
        Arc::new(Self { profile, vault: None, canary, protected_prompt: None })
    }
}

/// The request side's result.
#[derive(Debug)]
pub(crate) struct RequestOutcome {
    /// The body to forward, when inspection changed it.
    pub(crate) body: Option<Vec<u8>>,
    pub(crate) verdicts: Verdicts,
    /// Set for endpoints whose responses carry model text.
    pub(crate) plan: Option<Arc<ResponsePlan>>,
}

/// A refused request: the error and what led to it.
#[derive(Debug)]
pub(crate) struct Blocked {
    pub(crate) error: ApiError,
    pub(crate) verdicts: Verdicts,
}

impl Blocked {
    /// The client's response: the error, the verdict header, and the verdicts for
    /// the access log.
    pub(crate) fn into_response(self) -> axum::response::Response {
        use axum::response::IntoResponse;
        let mut response = self.error.into_response();
        response.headers_mut().insert(VERDICT_HEADER, Summary::Blocked.header());
        response.extensions_mut().insert(self.verdicts);
        response
    }
}

/// Endpoints whose responses carry model text that the response side inspects.
fn has_text_response(suffix: &str) -> bool {
    matches!(suffix, "/chat/completions" | "/completions" | "/responses")
}

/// Inspects a request body for `suffix` under `profile`. Large bodies are scanned on
/// the blocking pool.
pub(crate) async fn inspect_request(
    scanner: &'static Scanner,
    (profile, canary): (Arc<PolicyProfile>, Arc<str>),
    suffix: &str,
    body: Bytes,
    request_id: &str,
) -> Result<RequestOutcome, Box<Blocked>> {
    if body.len() <= INLINE_SCAN_BYTES {
        return inspect_sync(scanner, &profile, &canary, suffix, &body, request_id);
    }
    let suffix = suffix.to_owned();
    let request_id = request_id.to_owned();
    tokio::task::spawn_blocking(move || inspect_sync(scanner, &profile, &canary, &suffix, &body, &request_id))
        .await
        .unwrap_or_else(|_| {
            Err(Box::new(Blocked { error: ApiError::internal("inspect_panic"), verdicts: Verdicts::default() }))
        })
}

/// One site's decisions.
struct SiteMasks {
    index: usize,
    findings: Vec<(Finding, Mode)>,
}

fn inspect_sync(
    scanner: &Scanner,
    profile: &Arc<PolicyProfile>,
    canary_token: &Arc<str>,
    suffix: &str,
    body: &[u8],
    request_id: &str,
) -> Result<RequestOutcome, Box<Blocked>> {
    let mut verdicts = Verdicts::default();
    let block = |verdicts: Verdicts, error: ApiError| Err(Box::new(Blocked { error, verdicts }));
    let sites = match sites::collect(suffix, body) {
        Ok(sites) => sites,
        Err(error) => return block(verdicts, error),
    };
    let p = profile.as_ref();
    let blocked_message = |what: &str, location: &str| {
        format!("rampart blocked this request: {what} at {location} (policy `{}`, request id {request_id}).", p.name)
    };

    // Input rampart cannot read is refused unless nothing would be checked anyway.
    if let Some(location) = &sites.opaque {
        if p.opaque_input != Action::Allow {
            let action = p.effective(p.opaque_input);
            verdicts.push(verdict("request", "opaque_input", "opaque_input.unreadable", 1.0, action, location));
            if action == Action::Block {
                let message = format!(
                    "rampart cannot inspect the input at {location} (token ids, a file or audio): send text, or use a policy with opaque_input = \"allow\" (policy `{}`, request id {request_id}).",
                    p.name
                );
                return block(verdicts, ApiError::content_policy("opaque_input", message));
            }
        }
    }

    if let Some(allowed) = &p.image_hosts {
        for (url, location) in &sites.images {
            if image_url_allowed(url, allowed) {
                continue;
            }
            let action = p.effective(Action::Block);
            verdicts.push(verdict("request", "image_host", "image_host.not_allowed", 1.0, action, location));
            if action == Action::Block {
                return block(
                    verdicts,
                    ApiError::content_policy(
                        "image_host",
                        blocked_message("an image URL whose host is not allowed", location),
                    ),
                );
            }
        }
    }

    let mut masks: Vec<SiteMasks> = Vec::new();
    let mut protected_prompt = String::new();
    for (index, site) in sites.texts.iter().enumerate() {
        let attacks_checked = !matches!(site.trust, Trust::System | Trust::Config)
            && (p.injection.action != Action::Allow || p.jailbreak.action != Action::Allow);
        let mut findings = Vec::new();
        if attacks_checked {
            let report = scanner.scan(&site.text);
            for (detector, family, rule, score) in [
                ("injection", Family::Injection, p.injection, report.injection),
                ("jailbreak", Family::Jailbreak, p.jailbreak, report.jailbreak),
            ] {
                if rule.action == Action::Allow || score < rule.threshold {
                    continue;
                }
                let top = report
                    .findings
                    .iter()
                    .filter(|f| f.family == family)
                    .max_by(|a, b| a.score.total_cmp(&b.score))
                    .map_or("prompt.classifier", |f| f.rule);
                let action = p.effective(rule.action);
                verdicts.push(verdict("request", detector, top, score, action, &site.location));
                if action == Action::Block {
                    let what = match (detector, site.trust) {
                        ("injection", Trust::Data) => "indirect prompt injection",
                        ("injection", _) => "prompt injection",
                        _ => "a jailbreak attempt",
                    };
                    return block(verdicts, ApiError::content_policy(detector, blocked_message(what, &site.location)));
                }
            }
            findings = report.findings;
        } else {
            if p.pii != Action::Allow {
                scanner.pii().scan(&site.text, &mut findings);
            }
            if p.secrets != Action::Allow {
                scanner.secrets().scan(&site.text, &mut findings);
            }
        }
        let mut site_masks = Vec::new();
        for finding in findings {
            // URLs stay as written: a pseudonymized URL would come back in the answer
            // only after the output guard's link check, as an allowed-looking
            // placeholder; and what a URL reveals is governed by link policies.
            if finding.entity == "DOMAIN_NAME" {
                continue;
            }
            let (detector, configured) = match finding.family {
                Family::Pii => ("pii", p.pii),
                Family::Secrets => ("secrets", p.secrets),
                Family::Injection | Family::Jailbreak => continue,
            };
            if configured == Action::Allow {
                continue;
            }
            let action = p.effective(configured);
            verdicts.push(verdict("request", detector, finding.rule, finding.score, action, &site.location));
            match action {
                Action::Block => {
                    let what = if detector == "pii" { "personal data" } else { "a credential" };
                    return block(verdicts, ApiError::content_policy(detector, blocked_message(what, &site.location)));
                }
                Action::Redact => site_masks.push((finding, Mode::Redact)),
                Action::Pseudonymize => site_masks.push((finding, Mode::Pseudonymize)),
                Action::Monitor | Action::Allow => {}
            }
        }
        if !site_masks.is_empty() {
            masks.push(SiteMasks { index, findings: site_masks });
        }
    }

    // Rewrite: masked texts, and the canary appended to the first system text.
    let mut vault = Vault::new();
    let mut replacements: Vec<(std::ops::Range<usize>, String)> = Vec::new();
    let mut masked_texts: Vec<Option<String>> = vec![None; sites.texts.len()];
    for site_masks in &masks {
        let site: &Site<'_> = &sites.texts[site_masks.index];
        let findings: Vec<Finding> = site_masks.findings.iter().map(|(f, _)| f.clone()).collect();
        let modes = &site_masks.findings;
        let masked = vault.mask_with(&site.text, &findings, |f| {
            modes.iter().find(|(g, _)| g.span == f.span && g.rule == f.rule).map_or(Mode::Redact, |(_, m)| *m)
        });
        masked_texts[site_masks.index] = Some(masked.text.into_owned());
    }
    let canary_wanted = p.canary && p.effective(Action::Block) == Action::Block && has_text_response(suffix);
    let mut canary = None;
    for (index, site) in sites.texts.iter().enumerate() {
        let text = masked_texts[index].as_deref().unwrap_or(&site.text);
        if site.trust == Trust::System && protected_prompt.len() < MAX_PROTECTED_PROMPT {
            if !protected_prompt.is_empty() {
                protected_prompt.push('\n');
            }
            let room = MAX_PROTECTED_PROMPT - protected_prompt.len();
            protected_prompt.push_str(truncate(text, room));
        }
        let mut new_text = masked_texts[index].take();
        if site.trust == Trust::System && canary_wanted && canary.is_none() {
            let token = canary_token.to_string();
            let mut with = new_text.unwrap_or_else(|| site.text.clone().into_owned());
            with.push_str(&canary_marker(&token));
            new_text = Some(with);
            canary = Some(token);
        }
        if let Some(text) = new_text {
            match serde_json::to_string(&text) {
                Ok(json) => replacements.push((site.span.clone(), json)),
                Err(_) => return block(verdicts, ApiError::internal("json_encode")),
            }
        }
    }
    let body = (!replacements.is_empty()).then(|| splice(body, &replacements));
    let plan = has_text_response(suffix).then(|| {
        Arc::new(ResponsePlan {
            profile: profile.clone(),
            vault: (vault.restorable() > 0).then(|| Arc::new(vault)),
            canary,
            protected_prompt: (!protected_prompt.is_empty()).then_some(protected_prompt),
        })
    });
    Ok(RequestOutcome { body, verdicts, plan })
}

pub(crate) fn verdict(
    phase: &'static str,
    detector: &'static str,
    rule: &'static str,
    score: f32,
    action: Action,
    location: &str,
) -> Verdict {
    let action = match action {
        Action::Block => "block",
        Action::Redact => "redact",
        Action::Pseudonymize => "pseudonymize",
        Action::Monitor => "monitor",
        Action::Allow => "allow",
    };
    Verdict { phase, detector, rule, score, action, location: location.to_owned() }
}

/// The longest prefix of `text` of at most `max` bytes, on a char boundary.
fn truncate(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// How the canary is appended to a system text.
pub(crate) fn canary_marker(token: &str) -> String {
    format!("\n\n<!-- {token} -->")
}

/// A fresh canary: random, recognizable, and shaped like no credential.
pub(crate) fn new_canary() -> Arc<str> {
    use rand::RngCore;
    let mut bytes = [0u8; 8];
    rand::rng().fill_bytes(&mut bytes);
    let mut out = String::from("rampart-canary-");
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out.into()
}

/// Image URLs: inline `data:` images carry no request to anyone; http(s) URLs must
/// name an allowed host; anything else is refused.
fn image_url_allowed(url: &str, allowed: &[String]) -> bool {
    let url = url.trim();
    if url.as_bytes().get(..5).is_some_and(|scheme| scheme.eq_ignore_ascii_case(b"data:")) {
        return true;
    }
    match url.parse::<http::Uri>() {
        Ok(uri) if matches!(uri.scheme_str(), Some("http" | "https")) => {
            uri.host().is_some_and(|host| host_allowed(&host.to_ascii_lowercase(), allowed))
        }
        _ => false,
    }
}

/// `body` with each `(span, text)` replaced; spans are sorted and disjoint.
fn splice(body: &[u8], replacements: &[(std::ops::Range<usize>, String)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 64 * replacements.len());
    let mut at = 0;
    for (span, text) in replacements {
        out.extend_from_slice(&body[at..span.start]);
        out.extend_from_slice(text.as_bytes());
        at = span.end;
    }
    out.extend_from_slice(&body[at..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_hosts() {
        let allowed = vec!["img.example".to_owned(), "*.cdn.example".to_owned()];
        assert!(image_url_allowed("https://img.example/a.png", &allowed));
        assert!(image_url_allowed("https://a.cdn.example/a.png", &allowed));
        assert!(image_url_allowed("data:image/png;base64,AAAA", &allowed));
        assert!(!image_url_allowed("https://evil.example/a.png", &allowed));
        assert!(!image_url_allowed("https://img.example@evil.example/a.png", &allowed));
        assert!(!image_url_allowed("file:///etc/passwd", &allowed));
        assert!(!image_url_allowed("not a url", &allowed));
        assert!(!image_url_allowed("abcdé", &allowed), "a multibyte character at byte 5 must not panic");
    }

    #[test]
    fn splices_disjoint_spans() {
        let body = br#"{"a":"x","b":"y"}"#;
        let out = splice(body, &[(5..8, "\"1\"".into()), (13..16, "\"22\"".into())]);
        assert_eq!(out, br#"{"a":"1","b":"22"}"#);
    }
}
