//! Inspection policies: the `[policies.NAME]` tables as written, and the compiled
//! [`Policies`] the gateway enforces. Owns which actions each detector may take, the
//! defaults a security team would pick, and the checks that refuse a weakening typo
//! (an unknown action, a threshold outside (0, 1], an action that makes no sense for a
//! detector). Does not own detection or enforcement.
//!
//! A profile named `default` always exists: the built-in defaults below, overridden
//! field by field by a `[policies.default]` table when there is one. Keys without a
//! policy use it; a key created with `--policy NAME` uses that profile.

use std::collections::BTreeMap;

use serde::Deserialize;

/// The name of the profile keys use when they name none.
pub const DEFAULT_POLICY: &str = "default";

/// What a detector's finding does to the request or response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Refuse the request (400 `content_policy_violation`) or stop the response.
    Block,
    /// Replace the value with a placeholder that never comes back.
    Redact,
    /// Replace the value with a placeholder before the provider, restore it in the
    /// response.
    Pseudonymize,
    /// Record the verdict, change nothing.
    Monitor,
    /// Do not run the detector.
    Allow,
}

impl Action {
    /// Stable lowercase name, as written in the config and in logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Block => "block",
            Self::Redact => "redact",
            Self::Pseudonymize => "pseudonymize",
            Self::Monitor => "monitor",
            Self::Allow => "allow",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "block" => Self::Block,
            "redact" => Self::Redact,
            "pseudonymize" => Self::Pseudonymize,
            "monitor" => Self::Monitor,
            "allow" => Self::Allow,
            _ => return None,
        })
    }
}

/// An attack detector (injection, jailbreak): its action and the score at which it
/// acts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AttackRule {
    /// `block`, `monitor` or `allow`.
    pub action: Action,
    /// Score in (0, 1] at or above which the detector fires.
    pub threshold: f32,
}

/// One compiled policy profile.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyProfile {
    /// Profile name.
    pub name: String,
    /// `mode = "monitor"`: every action is recorded as it would have been taken, and
    /// nothing is changed or refused (safe rollout).
    pub monitor_only: bool,
    /// Direct injection in user text, indirect injection in tool results and documents.
    pub injection: AttackRule,
    /// Jailbreaks in user text.
    pub jailbreak: AttackRule,
    /// Credentials in request text: block, redact, pseudonymize, monitor or allow.
    pub secrets: Action,
    /// Personal data in request text: block, redact, pseudonymize, monitor or allow.
    pub pii: Action,
    /// Credentials in response text: block (stop), redact, monitor or allow.
    pub response_secrets: Action,
    /// Personal data in response text (other than restored pseudonyms): block,
    /// redact, monitor or allow.
    pub response_pii: Action,
    /// Add a random canary token to the system prompt; a response carrying it is
    /// stopped.
    pub canary: bool,
    /// The system prompt echoed in a response: block (stop), monitor or allow.
    pub prompt_leak: Action,
    /// Markdown/HTML links and images in responses to hosts not in `link_hosts`:
    /// `Redact` removes them ("remove" in the config), monitor or allow.
    pub links: Action,
    /// Hosts links and images may point to (`example.com`, or `*.example.com` for
    /// its subdomains).
    pub link_hosts: Vec<String>,
    /// Hosts request image URLs may point to; `None` allows any.
    pub image_hosts: Option<Vec<String>>,
    /// Input rampart cannot read (token ids, file and audio parts, uploads to
    /// `/v1/files`, `/v1/batches`, image edits, transcriptions): block, monitor or
    /// allow.
    pub opaque_input: Action,
    /// Keep the request and response bodies (a stream as the events the client was sent)
    /// encrypted under the vault key (default: never).
    pub audit_bodies: bool,
}

impl PolicyProfile {
    /// The built-in defaults: injection and jailbreak block at 0.5, secrets redact,
    /// PII pseudonymize; responses: secrets and new PII redacted, canary on, prompt
    /// leaks stopped, links and images to any host removed.
    pub fn builtin(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            monitor_only: false,
            injection: AttackRule { action: Action::Block, threshold: 0.5 },
            jailbreak: AttackRule { action: Action::Block, threshold: 0.5 },
            secrets: Action::Redact,
            pii: Action::Pseudonymize,
            response_secrets: Action::Redact,
            response_pii: Action::Redact,
            canary: true,
            prompt_leak: Action::Block,
            links: Action::Redact,
            link_hosts: Vec::new(),
            image_hosts: None,
            opaque_input: Action::Block,
            audit_bodies: false,
        }
    }

    /// The action actually taken for `configured`: in monitor mode anything that
    /// would change traffic is only recorded.
    pub fn effective(&self, configured: Action) -> Action {
        if self.monitor_only && configured != Action::Allow { Action::Monitor } else { configured }
    }
}

/// Every profile, by name; `default` always present.
#[derive(Debug, Clone, PartialEq)]
pub struct Policies {
    profiles: BTreeMap<String, PolicyProfile>,
}

impl Default for Policies {
    fn default() -> Self {
        let mut profiles = BTreeMap::new();
        profiles.insert(DEFAULT_POLICY.to_owned(), PolicyProfile::builtin(DEFAULT_POLICY));
        Self { profiles }
    }
}

impl Policies {
    /// The profile called `name`.
    pub fn get(&self, name: &str) -> Option<&PolicyProfile> {
        self.profiles.get(name)
    }

    /// The `default` profile.
    pub fn default_profile(&self) -> &PolicyProfile {
        // `Policies` is only built with a default profile.
        self.profiles.get(DEFAULT_POLICY).unwrap_or_else(|| unreachable!("policies always hold `default`"))
    }

    /// Profile names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.profiles.keys().map(String::as_str)
    }

    /// Index-free iteration over the profiles.
    pub fn iter(&self) -> impl Iterator<Item = &PolicyProfile> {
        self.profiles.values()
    }
}

/// `[policies.NAME]` as written. Every field is optional: what is missing keeps the
/// built-in default.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPolicy {
    /// `enforce` (default) or `monitor`.
    #[serde(default)]
    pub mode: Option<String>,
    /// `"block"` or `{ action = "block", threshold = 0.5 }`.
    #[serde(default)]
    pub injection: Option<RawAttack>,
    /// Like `injection`.
    #[serde(default)]
    pub jailbreak: Option<RawAttack>,
    /// An action name.
    #[serde(default)]
    pub secrets: Option<String>,
    /// An action name.
    #[serde(default)]
    pub pii: Option<String>,
    /// An action name.
    #[serde(default)]
    pub response_secrets: Option<String>,
    /// An action name.
    #[serde(default)]
    pub response_pii: Option<String>,
    /// Canary token on or off.
    #[serde(default)]
    pub canary: Option<bool>,
    /// `block`, `monitor` or `allow`.
    #[serde(default)]
    pub prompt_leak: Option<String>,
    /// `remove`, `monitor` or `allow`.
    #[serde(default)]
    pub links: Option<String>,
    /// Allowed link and image hosts in responses.
    #[serde(default)]
    pub link_hosts: Option<Vec<String>>,
    /// Allowed image hosts in requests (absent: any).
    #[serde(default)]
    pub image_hosts: Option<Vec<String>>,
    /// `block`, `monitor` or `allow`.
    #[serde(default)]
    pub opaque_input: Option<String>,
    /// Keep bodies in the audit trail, encrypted.
    #[serde(default)]
    pub audit_bodies: Option<bool>,
}

/// An attack detector's setting: an action name, or a table with a threshold.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum RawAttack {
    /// Just the action.
    Action(String),
    /// Action and threshold.
    Table {
        /// Action name.
        action: String,
        /// Score threshold in (0, 1].
        #[serde(default)]
        threshold: Option<f32>,
    },
}

/// Compiles raw profiles, reporting each problem as `(key path, message)`.
pub(crate) fn compile(raw: BTreeMap<String, RawPolicy>, errors: &mut Vec<(String, String)>) -> Policies {
    let mut policies = Policies::default();
    for (name, raw) in raw {
        let path = format!("policies.{name}");
        if name.is_empty() || name.len() > 64 || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b))
        {
            errors.push((path.clone(), "policy names are 1-64 characters of A-Z, a-z, 0-9, `-` and `_`".into()));
        }
        let profile = compile_one(&name, &path, raw, errors);
        policies.profiles.insert(name, profile);
    }
    policies
}

fn compile_one(name: &str, path: &str, raw: RawPolicy, errors: &mut Vec<(String, String)>) -> PolicyProfile {
    use Action::{Block, Monitor, Pseudonymize, Redact};
    const ATTACK: &[Action] = &[Block, Monitor, Action::Allow];
    const DATA: &[Action] = &[Block, Redact, Pseudonymize, Monitor, Action::Allow];
    const RESPONSE: &[Action] = &[Block, Redact, Monitor, Action::Allow];
    let mut p = PolicyProfile::builtin(name);
    let mut cx = Fields { path, errors };
    p.injection = cx.attack("injection", raw.injection, p.injection);
    p.jailbreak = cx.attack("jailbreak", raw.jailbreak, p.jailbreak);
    p.secrets = cx.action("secrets", raw.secrets, DATA, p.secrets);
    p.pii = cx.action("pii", raw.pii, DATA, p.pii);
    p.response_secrets = cx.action("response_secrets", raw.response_secrets, RESPONSE, p.response_secrets);
    p.response_pii = cx.action("response_pii", raw.response_pii, RESPONSE, p.response_pii);
    p.prompt_leak = cx.action("prompt_leak", raw.prompt_leak, ATTACK, p.prompt_leak);
    p.opaque_input = cx.action("opaque_input", raw.opaque_input, ATTACK, p.opaque_input);
    p.audit_bodies = raw.audit_bodies.unwrap_or(p.audit_bodies);
    p.links = match raw.links.as_deref() {
        None => p.links,
        Some("remove") => Redact,
        Some("monitor") => Monitor,
        Some("allow") => Action::Allow,
        Some(other) => {
            cx.error("links", format!("unknown action `{other}`, expected one of remove, monitor, allow"));
            p.links
        }
    };
    let errors = cx.errors;
    match raw.mode.as_deref() {
        None | Some("enforce") => {}
        Some("monitor") => p.monitor_only = true,
        Some(other) => {
            errors.push((format!("{path}.mode"), format!("unknown mode `{other}`, expected enforce or monitor")))
        }
    }
    if let Some(canary) = raw.canary {
        p.canary = canary;
    }
    for (field, hosts) in [("link_hosts", &raw.link_hosts), ("image_hosts", &raw.image_hosts)] {
        for (i, host) in hosts.iter().flatten().enumerate() {
            if !valid_host_pattern(host) {
                errors.push((
                    format!("{path}.{field}[{i}]"),
                    format!("`{host}` is not a host name (e.g. \"example.com\" or \"*.example.com\")"),
                ));
            }
        }
    }
    if let Some(hosts) = raw.link_hosts {
        p.link_hosts = hosts.into_iter().map(|h| h.to_ascii_lowercase()).collect();
    }
    p.image_hosts = raw.image_hosts.map(|hosts| hosts.into_iter().map(|h| h.to_ascii_lowercase()).collect());
    p
}

/// Field-level compilation with error paths under one profile.
struct Fields<'a> {
    path: &'a str,
    errors: &'a mut Vec<(String, String)>,
}

impl Fields<'_> {
    fn error(&mut self, field: &str, message: String) {
        self.errors.push((format!("{}.{field}", self.path), message));
    }

    fn action(&mut self, field: &str, text: Option<String>, allowed: &[Action], default: Action) -> Action {
        let Some(text) = text else { return default };
        match Action::parse(&text).filter(|a| allowed.contains(a)) {
            Some(action) => action,
            None => {
                let names: Vec<&str> = allowed.iter().map(|a| a.as_str()).collect();
                self.error(field, format!("unknown action `{text}`, expected one of {}", names.join(", ")));
                default
            }
        }
    }

    fn attack(&mut self, field: &str, raw: Option<RawAttack>, default: AttackRule) -> AttackRule {
        let (text, threshold) = match raw {
            None => return default,
            Some(RawAttack::Action(text)) => (text, None),
            Some(RawAttack::Table { action, threshold }) => (action, threshold),
        };
        let action = self.action(field, Some(text), &[Action::Block, Action::Monitor, Action::Allow], default.action);
        let threshold = match threshold {
            None => default.threshold,
            Some(t) if t > 0.0 && t <= 1.0 => t,
            Some(t) => {
                self.error(&format!("{field}.threshold"), format!("must be in (0, 1], got {t}"));
                default.threshold
            }
        };
        AttackRule { action, threshold }
    }
}

/// `example.com`, `localhost`, `10.0.0.1` or `*.example.com`: letters, digits, `-`
/// and `.`, no empty labels.
fn valid_host_pattern(host: &str) -> bool {
    let host = host.strip_prefix("*.").unwrap_or(host);
    !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|label| {
            !label.is_empty() && label.len() <= 63 && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

/// Whether `host` (lowercase) matches one of `patterns`: exact, or `*.suffix` for
/// strict subdomains of `suffix`.
pub fn host_allowed(host: &str, patterns: &[String]) -> bool {
    let host = host.trim_end_matches('.');
    patterns.iter().any(|pattern| match pattern.strip_prefix("*.") {
        Some(suffix) => {
            host.len() > suffix.len() + 1 && host.ends_with(suffix) && host[..host.len() - suffix.len()].ends_with('.')
        }
        None => host.eq_ignore_ascii_case(pattern),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_patterns_match_exactly_or_strict_subdomains() {
        let patterns = vec!["example.com".to_owned(), "*.cdn.net".to_owned()];
        assert!(host_allowed("example.com", &patterns));
        assert!(host_allowed("EXAMPLE.com", &patterns));
        assert!(!host_allowed("evil-example.com", &patterns));
        assert!(!host_allowed("sub.example.com", &patterns));
        assert!(host_allowed("a.cdn.net", &patterns));
        assert!(!host_allowed("cdn.net", &patterns));
        assert!(!host_allowed("evilcdn.net", &patterns));
        assert!(!host_allowed("x.evilcdn.net", &patterns));
        assert!(valid_host_pattern("*.example.com"));
        assert!(!valid_host_pattern("http://example.com"));
        assert!(!valid_host_pattern("a..b"));
        assert!(!valid_host_pattern("*"));
    }
}
