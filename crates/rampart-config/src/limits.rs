//! The resource-protection sections: `[limits]` (where counters live, what happens
//! when Redis is down, global, per-team and per-model limits, priority shedding
//! thresholds, the completion reservation for requests without a cap) and `[[prices]]`
//! (the per-model price table spend budgets are computed from).
//!
//! Per-key limits are not here: they are stored with the key (`rampart keys create
//! --rpm ...`). Amounts in dollars are converted to integer micro-USD here, once.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

use crate::Secret;
use crate::raw::SecretRef;

/// Problems found while compiling: `(key path, message)`.
pub(crate) type Problems = Vec<(String, String)>;

/// `[limits]` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLimits {
    /// Where counters live: `"memory"` (this instance; the default) or `"redis"`
    /// (shared by every instance using the same Redis).
    #[serde(default = "default_backend")]
    pub backend: String,
    /// Redis URL (`redis://host:port/db`); one holding a password must be referenced:
    /// `{ env = "REDIS_URL" }`.
    #[serde(default)]
    pub redis_url: Option<RawUrl>,
    /// When Redis cannot answer: `"fail_closed"` (refuse with 503; the default) or
    /// `"fail_open"` (count on this instance alone until Redis is back).
    #[serde(default = "default_on_redis_failure")]
    pub on_redis_failure: String,
    /// Longest wait for Redis on a request, e.g. `"100ms"`.
    #[serde(default = "default_redis_timeout")]
    pub redis_timeout: String,
    /// Prefix of every Redis key rampart writes.
    #[serde(default = "default_redis_prefix")]
    pub redis_prefix: String,
    /// Completion tokens reserved for a request that sets no `max_tokens` (and whose
    /// key sets no cap); settled to the real usage afterwards.
    #[serde(default = "default_max_tokens")]
    pub default_max_tokens: u64,
    /// Prompt tokens reserved on top of the body for a Responses request that continues
    /// state stored at the provider (`previous_response_id`, `conversation`, a stored
    /// `prompt`), which the body does not show; settled to the real usage afterwards.
    #[serde(default = "default_stored_context_tokens")]
    pub stored_context_tokens: u64,
    /// Let requests under a token limit or budget use routes whose tokens and cost
    /// cannot be counted (images, audio, files, batches); refused by default.
    #[serde(default)]
    pub allow_unmetered: bool,
    /// Requests in flight this instance accepts in all; priority classes are shed
    /// below it (default: no shedding).
    #[serde(default)]
    pub capacity: Option<u32>,
    /// Fraction of `capacity` in flight from which `batch` requests are refused.
    #[serde(default = "default_shed_batch")]
    pub shed_batch_at: f64,
    /// Fraction of `capacity` in flight from which `standard` requests are refused
    /// (`critical` ones only at full capacity).
    #[serde(default = "default_shed_standard")]
    pub shed_standard_at: f64,
    /// Limits on all traffic together.
    #[serde(default)]
    pub global: Option<RawLimitSet>,
    /// Limits per team (all keys of the team together), by team name.
    #[serde(default)]
    pub teams: BTreeMap<String, RawLimitSet>,
    /// Limits per model (every key's use of it together), by client-facing name.
    #[serde(default)]
    pub models: BTreeMap<String, RawLimitSet>,
}

impl Default for RawLimits {
    fn default() -> Self {
        Self {
            backend: default_backend(),
            redis_url: None,
            on_redis_failure: default_on_redis_failure(),
            redis_timeout: default_redis_timeout(),
            redis_prefix: default_redis_prefix(),
            default_max_tokens: default_max_tokens(),
            stored_context_tokens: default_stored_context_tokens(),
            allow_unmetered: false,
            capacity: None,
            shed_batch_at: default_shed_batch(),
            shed_standard_at: default_shed_standard(),
            global: None,
            teams: BTreeMap::new(),
            models: BTreeMap::new(),
        }
    }
}

fn default_backend() -> String {
    "memory".into()
}
fn default_on_redis_failure() -> String {
    "fail_closed".into()
}
fn default_redis_timeout() -> String {
    "100ms".into()
}
fn default_redis_prefix() -> String {
    "rampart:lim:".into()
}
fn default_max_tokens() -> u64 {
    4096
}
fn default_stored_context_tokens() -> u64 {
    32_768
}
fn default_shed_batch() -> f64 {
    0.7
}
fn default_shed_standard() -> f64 {
    0.9
}

/// A URL written inline, or referenced like a secret.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum RawUrl {
    /// Written inline (must not hold a password).
    Inline(String),
    /// `{ env = "VAR" }` or `{ file = "PATH" }`.
    Secret(SecretRef),
}

/// One set of limits as written (`[limits.global]`, `[limits.teams.NAME]`, ...).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLimitSet {
    /// Requests per minute.
    #[serde(default)]
    pub rpm: Option<u64>,
    /// Tokens (prompt + completion) per minute.
    #[serde(default)]
    pub tpm: Option<u64>,
    /// Requests in flight at once.
    #[serde(default)]
    pub max_concurrency: Option<u32>,
    /// Spend per UTC day, in dollars.
    #[serde(default)]
    pub daily_budget_usd: Option<f64>,
    /// Spend per UTC month, in dollars.
    #[serde(default)]
    pub monthly_budget_usd: Option<f64>,
}

/// One `[[prices]]` entry as written: dollars per million tokens.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPrice {
    /// Client-facing model name, or a prefix ending in `*` (`"gpt-4o*"`); the longest
    /// matching entry wins.
    pub model: String,
    /// Dollars per million prompt tokens.
    pub input_per_million: f64,
    /// Dollars per million completion tokens.
    pub output_per_million: f64,
    /// Dollars per million cached prompt tokens (default: the input price).
    #[serde(default)]
    pub cached_input_per_million: Option<f64>,
}

/// Compiled `[limits]`.
#[derive(Debug, Clone)]
pub struct LimitsSettings {
    /// Where counters live.
    pub backend: LimitsBackend,
    /// Completion tokens reserved (and written in as the cap) when a request sets none.
    pub default_max_tokens: u64,
    /// Prompt tokens reserved for provider-stored context.
    pub stored_context_tokens: u64,
    /// Whether unmetered routes are open to requests under token limits or budgets.
    pub allow_unmetered: bool,
    /// Priority shedding, when a capacity is set.
    pub shedding: Option<Shedding>,
    /// Limits on all traffic.
    pub global: LimitSet,
    /// Limits per team name.
    pub teams: BTreeMap<String, LimitSet>,
    /// Limits per client-facing model name.
    pub models: BTreeMap<String, LimitSet>,
}

impl Default for LimitsSettings {
    fn default() -> Self {
        Self {
            backend: LimitsBackend::Memory,
            default_max_tokens: default_max_tokens(),
            stored_context_tokens: default_stored_context_tokens(),
            allow_unmetered: false,
            shedding: None,
            global: LimitSet::default(),
            teams: BTreeMap::new(),
            models: BTreeMap::new(),
        }
    }
}

/// Where limit counters live.
#[derive(Debug, Clone)]
pub enum LimitsBackend {
    /// In this process.
    Memory,
    /// In Redis, shared by instances.
    Redis(RedisSettings),
}

/// Compiled Redis settings.
#[derive(Debug, Clone)]
pub struct RedisSettings {
    /// The URL (may hold a password: never log it).
    pub url: Secret<String>,
    /// Count locally while Redis is unreachable (else refuse with 503).
    pub fail_open: bool,
    /// Longest wait per request.
    pub timeout: Duration,
    /// Key prefix.
    pub prefix: String,
}

/// Priority shedding thresholds, in requests in flight.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Shedding {
    /// In-flight capacity.
    pub capacity: u32,
    /// Fraction of capacity from which `batch` is refused.
    pub batch_at: f64,
    /// Fraction of capacity from which `standard` is refused.
    pub standard_at: f64,
}

/// One compiled set of limits; budgets in micro-USD.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LimitSet {
    /// Requests per minute.
    pub rpm: Option<u64>,
    /// Tokens per minute.
    pub tpm: Option<u64>,
    /// Requests in flight.
    pub max_concurrency: Option<u32>,
    /// Spend per UTC day, micro-USD.
    pub daily_budget_micros: Option<u64>,
    /// Spend per UTC month, micro-USD.
    pub monthly_budget_micros: Option<u64>,
}

impl LimitSet {
    /// True when nothing is limited.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// True when a budget is set (so prices must be known).
    pub fn has_budget(&self) -> bool {
        self.daily_budget_micros.is_some() || self.monthly_budget_micros.is_some()
    }
}

/// One compiled price: micro-USD per million tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Price {
    /// Model name or `prefix*`.
    pub model: String,
    /// Per million prompt tokens.
    pub input_micros_per_million: u64,
    /// Per million completion tokens.
    pub output_micros_per_million: u64,
    /// Per million cached prompt tokens.
    pub cached_input_micros_per_million: u64,
}

/// Largest budget or price accepted, in dollars (a typo guard, and far from overflow).
const MAX_DOLLARS: f64 = 1e9;

/// Dollars to micro-USD, rounded to the nearest micro-dollar; `None` (with a
/// problem) for a negative, non-finite or absurd amount, or zero when `positive`.
fn micros(path: &str, dollars: f64, positive: bool, problems: &mut Problems) -> Option<u64> {
    if !dollars.is_finite() || !(0.0..=MAX_DOLLARS).contains(&dollars) {
        problems.push((path.to_owned(), format!("must be between 0 and {MAX_DOLLARS} dollars")));
        return None;
    }
    // In range by the check above, so the cast cannot saturate.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let m = (dollars * 1e6).round() as u64;
    if positive && m == 0 {
        problems.push((path.to_owned(), "must be at least one micro-dollar (0.000001)".to_owned()));
        return None;
    }
    Some(m)
}

fn limit_set(path: &str, raw: &RawLimitSet, problems: &mut Problems) -> LimitSet {
    let mut positive = |key: &str, value: Option<u64>| {
        if value == Some(0) {
            problems.push((format!("{path}.{key}"), "must be at least 1 (omit it for no limit)".to_owned()));
        }
        value.filter(|v| *v > 0)
    };
    let rpm = positive("rpm", raw.rpm);
    let tpm = positive("tpm", raw.tpm);
    let max_concurrency =
        positive("max_concurrency", raw.max_concurrency.map(u64::from)).and_then(|v| u32::try_from(v).ok());
    LimitSet {
        rpm,
        tpm,
        max_concurrency,
        daily_budget_micros: raw
            .daily_budget_usd
            .and_then(|d| micros(&format!("{path}.daily_budget_usd"), d, true, problems)),
        monthly_budget_micros: raw
            .monthly_budget_usd
            .and_then(|d| micros(&format!("{path}.monthly_budget_usd"), d, true, problems)),
    }
}

/// Compiles `[limits]`; `redis_url` is resolved by the caller's secret reader.
pub(crate) fn compile(
    raw: RawLimits,
    resolve: &mut dyn FnMut(&str, &SecretRef) -> Option<Secret<String>>,
    problems: &mut Problems,
) -> Option<LimitsSettings> {
    let before = problems.len();
    let timeout = match humantime::parse_duration(&raw.redis_timeout) {
        Ok(d) if !d.is_zero() && d <= Duration::from_secs(10) => Some(d),
        Ok(_) => {
            problems.push(("limits.redis_timeout".into(), "must be greater than zero and at most 10s".into()));
            None
        }
        Err(error) => {
            problems
                .push(("limits.redis_timeout".into(), format!("invalid duration `{}`: {error}", raw.redis_timeout)));
            None
        }
    };
    let fail_open = match raw.on_redis_failure.as_str() {
        "fail_closed" => false,
        "fail_open" => true,
        other => {
            problems.push((
                "limits.on_redis_failure".into(),
                format!("unknown policy `{other}`, expected `fail_closed` or `fail_open`"),
            ));
            false
        }
    };
    let backend = match raw.backend.as_str() {
        "memory" => {
            if raw.redis_url.is_some() {
                problems.push(("limits.redis_url".into(), "set only with `backend = \"redis\"`".into()));
            }
            Some(LimitsBackend::Memory)
        }
        "redis" => {
            let url = match &raw.redis_url {
                None => {
                    problems.push(("limits.redis_url".into(), "required with `backend = \"redis\"`".into()));
                    None
                }
                Some(RawUrl::Inline(url)) => {
                    if url_has_password(url) {
                        problems.push((
                            "limits.redis_url".into(),
                            "holds a password: reference it with `{ env = \"VAR\" }` instead".into(),
                        ));
                        None
                    } else {
                        Some(Secret::new(url.clone()))
                    }
                }
                Some(RawUrl::Secret(secret)) => resolve("limits.redis_url", secret),
            };
            let url = url.filter(|url| {
                let ok = url.expose().starts_with("redis://") || url.expose().starts_with("rediss://");
                if !ok {
                    problems.push(("limits.redis_url".into(), "expected a redis:// or rediss:// URL".into()));
                }
                ok
            });
            if raw.redis_prefix.is_empty() || raw.redis_prefix.len() > 64 {
                problems.push(("limits.redis_prefix".into(), "must be 1 to 64 characters".into()));
            }
            match (url, timeout) {
                (Some(url), Some(timeout)) => {
                    Some(LimitsBackend::Redis(RedisSettings { url, fail_open, timeout, prefix: raw.redis_prefix }))
                }
                _ => None,
            }
        }
        other => {
            problems
                .push(("limits.backend".into(), format!("unknown backend `{other}`, expected `memory` or `redis`")));
            None
        }
    };
    if raw.default_max_tokens == 0 {
        problems.push(("limits.default_max_tokens".into(), "must be at least 1".into()));
    }
    let fraction_ok = |f: f64| f.is_finite() && f > 0.0 && f <= 1.0;
    if !fraction_ok(raw.shed_batch_at) {
        problems.push(("limits.shed_batch_at".into(), "must be a fraction in (0, 1]".into()));
    }
    if !fraction_ok(raw.shed_standard_at) {
        problems.push(("limits.shed_standard_at".into(), "must be a fraction in (0, 1]".into()));
    }
    if raw.shed_batch_at > raw.shed_standard_at {
        problems.push(("limits.shed_batch_at".into(), "must not exceed shed_standard_at: batch is shed first".into()));
    }
    let shedding = match raw.capacity {
        Some(0) => {
            problems.push(("limits.capacity".into(), "must be at least 1 (omit it for no shedding)".into()));
            None
        }
        Some(capacity) => Some(Shedding { capacity, batch_at: raw.shed_batch_at, standard_at: raw.shed_standard_at }),
        None => None,
    };
    let global = raw.global.as_ref().map(|g| limit_set("limits.global", g, problems)).unwrap_or_default();
    let group = |kind: &str, sets: &BTreeMap<String, RawLimitSet>, problems: &mut Problems| {
        sets.iter()
            .map(|(name, set)| (name.clone(), limit_set(&format!("limits.{kind}.{name}"), set, problems)))
            .collect::<BTreeMap<_, _>>()
    };
    let teams = group("teams", &raw.teams, problems);
    let models = group("models", &raw.models, problems);
    if problems.len() > before {
        return None;
    }
    Some(LimitsSettings {
        backend: backend?,
        default_max_tokens: raw.default_max_tokens,
        stored_context_tokens: raw.stored_context_tokens,
        allow_unmetered: raw.allow_unmetered,
        shedding,
        global,
        teams,
        models,
    })
}

/// Compiles `[[prices]]`.
pub(crate) fn prices(raw: Vec<RawPrice>, problems: &mut Problems) -> Vec<Price> {
    let mut out: Vec<Price> = Vec::with_capacity(raw.len());
    for (i, p) in raw.into_iter().enumerate() {
        let at = |key: &str| format!("prices[{i}].{key}");
        let bare = p.model.strip_suffix('*').unwrap_or(&p.model);
        if p.model.is_empty() || bare.contains('*') {
            problems.push((at("model"), "a model name, or a prefix ending in `*`".into()));
            continue;
        }
        if out.iter().any(|o| o.model == p.model) {
            problems.push((at("model"), format!("duplicate price for `{}`", p.model)));
            continue;
        }
        let input = micros(&at("input_per_million"), p.input_per_million, false, problems);
        let output = micros(&at("output_per_million"), p.output_per_million, false, problems);
        let cached = match p.cached_input_per_million {
            Some(c) => micros(&at("cached_input_per_million"), c, false, problems),
            None => input,
        };
        if let (Some(input), Some(output), Some(cached)) = (input, output, cached) {
            out.push(Price {
                model: p.model,
                input_micros_per_million: input,
                output_micros_per_million: output,
                cached_input_micros_per_million: cached,
            });
        }
    }
    out
}

/// The price of `model`: the exact entry, else the longest matching `prefix*`.
pub fn price_for<'a>(prices: &'a [Price], model: &str) -> Option<&'a Price> {
    prices.iter().find(|p| p.model == model).or_else(|| {
        prices
            .iter()
            .filter(|p| p.model.strip_suffix('*').is_some_and(|prefix| model.starts_with(prefix)))
            .max_by_key(|p| p.model.len())
    })
}

/// Whether a URL's authority holds `user:password@`.
fn url_has_password(url: &str) -> bool {
    url.split("://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .and_then(|authority| authority.rsplit_once('@'))
        .is_some_and(|(userinfo, _)| userinfo.contains(':') || !userinfo.is_empty())
}
