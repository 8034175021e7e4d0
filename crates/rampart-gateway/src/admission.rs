//! Resource protection at the door of every model-routed request: priority shedding,
//! then one atomic reservation of a request, its tokens and its maximum cost against
//! every subject that limits it (the key, its team, the model, everything), and, once
//! the response is done, settlement with the provider's reported usage
//! ([`crate::meter`] reads it off the body on its way to the client).
//!
//! Sits in the handler after the model scope check (the model and the key are known)
//! and before inspection, so a flood is refused before it costs detection work.
//! Reads the [`Principal`]'s limits; adds the `x-ratelimit-*` headers to every response
//! it admits; rejects with 429 (`rate_limit_exceeded`, or `insufficient_quota` for a
//! spent budget; `retry-after` and `retry-after-ms` when waiting can help,
//! `x-should-retry: false` when it cannot), 503 when shedding (`retry-after`) or when
//! the shared counters are unreachable under `fail_closed`, 400 for a `max_tokens`
//! above the key's cap, 403 for a budgeted request on a model without a price.
//!
//! What is reserved: the prompt's tokens, counted with the model family's tokenizer,
//! plus the completion cap (`max_completion_tokens`, `max_tokens` or
//! `max_output_tokens`; the key's cap or `limits.default_max_tokens` when the request
//! sets none), times `n`; the cost of that at the configured price. Tokens are counted
//! only when a token limit or a budget applies.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use http::{HeaderMap, HeaderName, HeaderValue};
use rampart_config::{LimitSet, LimitsBackend, LimitsSettings, Price};
use rampart_limits::{
    Demand, Dimension, FailPolicy, Limiter, Limits, MemoryConfig, Priority, RateHeaders, RedisConfig, Refusal,
    Reservation, ReserveError, ShedConfig, ShedGuard, Shedder,
};

use crate::auth::Principal;
use crate::error::ApiError;

/// Resource protection shared by every request of a gateway.
#[derive(Debug)]
pub(crate) struct Admission {
    limiter: Limiter,
    shedder: Option<Shedder>,
    settings: LimitsSettings,
    prices: Vec<Price>,
    counters: Counters,
}

/// Refusals counted for `/metrics`, by closed label.
#[derive(Debug, Default)]
struct Counters {
    /// By [`Dimension`], in its declaration order.
    refused: [AtomicU64; 5],
    /// By priority: critical, standard, batch.
    shed: [AtomicU64; 3],
    unavailable: AtomicU64,
}

const DIMENSIONS: [Dimension; 5] =
    [Dimension::Requests, Dimension::Tokens, Dimension::Concurrency, Dimension::DailyBudget, Dimension::MonthlyBudget];

/// The endpoints whose requests are admitted here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Endpoint {
    Chat,
    Completions,
    Embeddings,
    Responses,
    Moderations,
    /// Any other forwarded route (images, audio, files, batches, stored responses):
    /// it counts as a request and holds an in-flight slot; its tokens and cost are not
    /// counted.
    Other,
}

impl Endpoint {
    /// The endpoint of a path below `/v1`.
    pub(crate) fn of(suffix: &str) -> Option<Self> {
        Some(match suffix {
            "/chat/completions" => Self::Chat,
            "/completions" => Self::Completions,
            "/embeddings" => Self::Embeddings,
            "/responses" => Self::Responses,
            "/moderations" => Self::Moderations,
            _ => return None,
        })
    }

    /// Whether its tokens are counted.
    fn counted(self) -> bool {
        self != Self::Other
    }

    /// The member a completion cap is written to.
    fn cap_member(self) -> Option<&'static str> {
        match self {
            Self::Chat => Some("max_completion_tokens"),
            Self::Completions => Some("max_tokens"),
            Self::Responses => Some("max_output_tokens"),
            Self::Embeddings | Self::Moderations | Self::Other => None,
        }
    }

    /// Whether it generates completion tokens.
    fn generates(self) -> bool {
        self.cap_member().is_some()
    }

    /// Whether its streams report usage only when asked (`stream_options`).
    pub(crate) fn usage_on_request(self) -> bool {
        matches!(self, Self::Chat | Self::Completions)
    }
}

/// What admission reads from the request head.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Asked {
    /// The largest completion cap set by any cap member (`max_completion_tokens`,
    /// `max_tokens`, `max_output_tokens`, whichever the endpoint: a provider may honour
    /// any of them), and the member that set it.
    pub(crate) cap: Option<(&'static str, u64)>,
    /// Completions generated per prompt: the larger of `n` and `best_of`.
    pub(crate) choices: u64,
    /// The request continues state stored at the provider (`previous_response_id`,
    /// `conversation`, a stored `prompt`), whose tokens the body does not show.
    pub(crate) stored_context: bool,
}

/// What the handler must do to the request body before it leaves.
#[derive(Debug, Default)]
pub(crate) struct BodyEdits {
    /// Set this completion cap (`(member, value)`): the request named none, and the key
    /// caps `max_tokens` or a token limit or budget reserved this many (so the provider
    /// cannot generate more than was reserved).
    pub(crate) cap: Option<(&'static str, u64)>,
}

/// A granted request, carried until its response is done: the reservation (settled
/// with the real usage, or kept whole if the response never reports it), the
/// shedding slot, and what settlement needs.
#[derive(Debug)]
pub(crate) struct Ticket {
    reservation: Option<Reservation>,
    _shed: Option<ShedGuard>,
    headers: RateHeaders,
    price: Option<Price>,
    /// The reserved demand (prompt estimate + completion cap, at the price).
    reserved: Demand,
}

/// Token usage reported by a provider.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Usage {
    pub(crate) prompt: u64,
    /// Of `prompt`, served from the provider's prompt cache.
    pub(crate) cached: u64,
    pub(crate) completion: u64,
}

impl Admission {
    /// The limiter and shedder `settings` describe. A Redis URL that cannot be parsed
    /// is an error; a Redis that is down is the failure policy's business.
    pub(crate) fn new(settings: &LimitsSettings, prices: &[Price]) -> Result<Self, String> {
        let limiter = match &settings.backend {
            LimitsBackend::Memory => Limiter::memory(MemoryConfig::default()),
            LimitsBackend::Redis(redis) => {
                let mut config = RedisConfig::new(redis.url.expose().clone());
                config.key_prefix = redis.prefix.clone();
                config.timeout = redis.timeout;
                config.fail_policy = if redis.fail_open { FailPolicy::Open } else { FailPolicy::Closed };
                // Never the URL: it may hold a password.
                Limiter::redis(config).map_err(|_| "limits.redis_url: not a usable Redis URL".to_owned())?
            }
        };
        let shedder = settings.shedding.map(|s| {
            let mut config = ShedConfig::new(s.capacity);
            config.batch_fraction = s.batch_at;
            config.standard_fraction = s.standard_at;
            Shedder::new(config)
        });
        let configured = [&settings.global]
            .into_iter()
            .chain(settings.teams.values())
            .chain(settings.models.values())
            .any(|set| set.tpm.is_some() || set.has_budget());
        if configured {
            preload_tokenizers();
        }
        Ok(Self {
            limiter,
            shedder,
            settings: settings.clone(),
            prices: prices.to_vec(),
            counters: Counters::default(),
        })
    }

    /// Admits a request for `model` (client-facing name: limits and prices are set by
    /// it; `upstream_model` picks the tokenizer) on `endpoint` with this JSON `body`,
    /// or refuses it.
    pub(crate) async fn admit(
        &self,
        principal: &Principal,
        model: Option<&str>,
        upstream_model: &str,
        endpoint: Endpoint,
        asked: Asked,
        body: &[u8],
    ) -> Result<(Ticket, BodyEdits), ApiError> {
        let key_limits = principal.limits().copied().unwrap_or_default();
        let priority = match key_limits.priority.unwrap_or_default() {
            rampart_store::Priority::Critical => Priority::Critical,
            rampart_store::Priority::Standard => Priority::Standard,
            rampart_store::Priority::Batch => Priority::Batch,
        };
        let shed = match &self.shedder {
            None => None,
            Some(shedder) => Some(shedder.admit(priority).map_err(|shed| {
                let class = match shed.priority {
                    Priority::Critical => 0,
                    Priority::Standard => 1,
                    Priority::Batch => 2,
                };
                self.counters.shed[class].fetch_add(1, Ordering::Relaxed);
                ApiError::overloaded(
                    "shed",
                    format!("rampart is at capacity for {} requests; retry shortly", shed.priority),
                    shed.retry_after,
                )
            })?),
        };

        // The completion cap: refuse more than the key allows, fill it in when absent.
        let mut edits = BodyEdits::default();
        if let (Some(cap), true) = (key_limits.max_tokens, endpoint.generates()) {
            match asked.cap {
                Some((member, requested)) if requested > cap => {
                    return Err(ApiError::bad_request(
                        "max_tokens_exceeded",
                        format!("this API key allows at most {cap} completion tokens per request"),
                    )
                    .with_param(member));
                }
                None => edits.cap = endpoint.cap_member().map(|member| (member, cap)),
                Some(_) => {}
            }
        }

        let mut buckets: Vec<(String, Limits)> = Vec::with_capacity(4);
        if let (Some(id), false) = (principal.key_record_id(), key_limits.is_empty()) {
            let set = Limits {
                rpm: key_limits.rpm,
                tpm: key_limits.tpm,
                max_concurrency: key_limits.max_concurrency,
                daily_budget_micros: key_limits.daily_budget_micros,
                monthly_budget_micros: key_limits.monthly_budget_micros,
            };
            if !set.is_unlimited() {
                buckets.push((format!("key:{id}"), set));
            }
        }
        let mut push = |name: String, set: Option<&LimitSet>| {
            if let Some(set) = set.filter(|s| !s.is_empty()) {
                buckets.push((name, limits_of(set)));
            }
        };
        if let Some(team) = principal.team() {
            push(format!("team:{team}"), self.settings.teams.get(team));
        }
        if let Some(model) = model {
            push(format!("model:{model}"), self.settings.models.get(model));
        }
        push("global".to_owned(), Some(&self.settings.global));
        if buckets.is_empty() {
            return Ok((Ticket::unlimited(shed), edits));
        }

        let any_tpm = buckets.iter().any(|(_, l)| l.tpm.is_some());
        let any_budget =
            buckets.iter().any(|(_, l)| l.daily_budget_micros.is_some() || l.monthly_budget_micros.is_some());
        if endpoint == Endpoint::Other && (any_tpm || any_budget) && !self.settings.allow_unmetered {
            // Images, audio, files and batches run at the provider without a token
            // count rampart could reserve: under a token limit or budget they would
            // spend it unseen (a batch file holds thousands of requests).
            return Err(ApiError::forbidden(
                "endpoint_not_metered",
                "this route's tokens and cost cannot be counted, and this request is under a token limit or budget",
            ));
        }
        let counts_tokens = endpoint.counted() && any_tpm;
        // Moderations are free: a budget does not apply to them.
        let budgeted = endpoint.counted() && endpoint != Endpoint::Moderations && any_budget;
        let price = if budgeted {
            let price = model.and_then(|model| rampart_config::limits::price_for(&self.prices, model)).cloned();
            if price.is_none() {
                return Err(ApiError::forbidden(
                    "model_not_priced",
                    "this request is under a spend budget, and no price is configured for its model",
                )
                .with_param("model"));
            }
            price
        } else {
            None
        };
        let reserved = if counts_tokens || budgeted {
            let mut prompt = prompt_tokens(endpoint, upstream_model, body);
            if asked.stored_context {
                prompt = prompt.saturating_add(self.settings.stored_context_tokens);
            }
            // What is reserved is what the provider may generate: a request without a
            // cap gets the reserved one written in.
            if asked.cap.is_none() && edits.cap.is_none() && endpoint.generates() {
                edits.cap = endpoint.cap_member().map(|member| (member, self.settings.default_max_tokens));
            }
            let completion = asked.cap.or(edits.cap).map(|(_, cap)| cap).unwrap_or(0).saturating_mul(asked.choices);
            let cost = price.as_ref().map_or(0, |p| cost_micros(p, Usage { prompt, cached: 0, completion }));
            Demand::new(prompt.saturating_add(completion), cost)
        } else {
            Demand::default()
        };

        match self.limiter.reserve(&buckets, reserved).await {
            Ok(reservation) => {
                let headers = *reservation.headers();
                Ok((Ticket { reservation: Some(reservation), _shed: shed, headers, price, reserved }, edits))
            }
            Err(ReserveError::Refused(refusal)) => {
                if let Some(i) = DIMENSIONS.iter().position(|d| *d == refusal.dimension) {
                    self.counters.refused[i].fetch_add(1, Ordering::Relaxed);
                }
                Err(refused(&refusal))
            }
            Err(ReserveError::Unavailable(_)) => {
                self.counters.unavailable.fetch_add(1, Ordering::Relaxed);
                tracing::error!("limits: the shared counters are unreachable; refusing (fail_closed)");
                Err(ApiError::overloaded(
                    "limits_unavailable",
                    "rampart cannot check this request's limits right now; retry shortly",
                    Duration::from_secs(1),
                ))
            }
        }
    }
}

/// The prompt's tokens with the tokenizer of the model's family. A body the counter
/// cannot read counts as one token per byte: no BPE token is shorter than a byte, so
/// that is an upper bound.
fn prompt_tokens(endpoint: Endpoint, upstream_model: &str, body: &[u8]) -> u64 {
    use rampart_tokens::Endpoint as Counted;
    let counted = match endpoint {
        Endpoint::Chat => Counted::ChatCompletions,
        Endpoint::Completions => Counted::Completions,
        Endpoint::Embeddings => Counted::Embeddings,
        Endpoint::Responses => Counted::Responses,
        Endpoint::Moderations => Counted::Moderations,
        Endpoint::Other => return 0,
    };
    let encoding = rampart_tokens::Encoding::for_model(upstream_model);
    rampart_tokens::prompt_tokens(counted, encoding, body).unwrap_or(body.len() as u64)
}

/// Builds the tokenizers on a background thread (once per process): a few hundred
/// milliseconds and some 100 MB, paid before the first counted request rather than by
/// it. Without token limits or budgets in the configuration they are built on first
/// use instead (a key of its own may still set them).
fn preload_tokenizers() {
    static STARTED: std::sync::Once = std::sync::Once::new();
    STARTED.call_once(|| {
        let spawned = std::thread::Builder::new().name("rampart-tokenizers".into()).spawn(|| {
            for encoding in rampart_tokens::Encoding::ALL {
                if let Err(error) = encoding.load() {
                    tracing::error!(%error, "tokenizer failed to load; prompts count one token per byte");
                }
            }
        });
        if let Err(error) = spawned {
            tracing::warn!(%error, "could not start the tokenizer preload; tokenizers load on first use");
        }
    });
}

impl Admission {
    /// The limits' metrics in Prometheus text format (served on the admin listener).
    pub(crate) fn render_metrics(&self, out: &mut String) {
        use std::fmt::Write;
        let stats = self.limiter.stats();
        let family = |out: &mut String, name: &str, kind: &str, help: &str| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        };
        family(
            out,
            "rampart_rate_limited_total",
            "counter",
            "Requests refused with 429, by the dimension that refused.",
        );
        for (i, dimension) in DIMENSIONS.iter().enumerate() {
            let n = self.counters.refused[i].load(Ordering::Relaxed);
            let _ = writeln!(out, "rampart_rate_limited_total{{dimension=\"{}\"}} {n}", dimension.as_str());
        }
        family(out, "rampart_shed_total", "counter", "Requests refused with 503 by priority shedding, by class.");
        for (i, class) in ["critical", "standard", "batch"].iter().enumerate() {
            let n = self.counters.shed[i].load(Ordering::Relaxed);
            let _ = writeln!(out, "rampart_shed_total{{priority=\"{class}\"}} {n}");
        }
        let counters = [
            (
                "rampart_limits_unavailable_total",
                "Requests refused with 503 because the shared counters were unreachable (fail_closed).",
                self.counters.unavailable.load(Ordering::Relaxed),
            ),
            (
                "rampart_limits_redis_errors_total",
                "Redis calls on the reserve path that failed or timed out.",
                stats.redis_errors,
            ),
            (
                "rampart_limits_fallback_reservations_total",
                "Reservations counted by this instance alone while Redis was unreachable (fail_open).",
                stats.fallback_reserves,
            ),
            ("rampart_limits_settle_failures_total", "Settlements that could not reach Redis.", stats.settle_failures),
        ];
        for (name, help, value) in counters {
            family(out, name, "counter", help);
            let _ = writeln!(out, "{name} {value}");
        }
        family(out, "rampart_limits_buckets", "gauge", "Limit buckets held in memory.");
        let _ = writeln!(out, "rampart_limits_buckets {}", stats.memory.buckets);
        if let Some(shedder) = &self.shedder {
            family(out, "rampart_in_flight_requests", "gauge", "Requests in flight, as priority shedding counts them.");
            let _ = writeln!(out, "rampart_in_flight_requests {}", shedder.in_flight());
            family(out, "rampart_in_flight_capacity", "gauge", "The configured in-flight capacity.");
            let _ = writeln!(out, "rampart_in_flight_capacity {}", shedder.capacity());
        }
    }
}

fn limits_of(set: &LimitSet) -> Limits {
    Limits {
        rpm: set.rpm,
        tpm: set.tpm,
        max_concurrency: set.max_concurrency,
        daily_budget_micros: set.daily_budget_micros,
        monthly_budget_micros: set.monthly_budget_micros,
    }
}

/// The 429 for a refusal, in OpenAI's shape and with its headers.
fn refused(refusal: &Refusal) -> ApiError {
    let subject = refusal.bucket.split(':').next().unwrap_or("global");
    let whose = match subject {
        "key" => "this API key's",
        "team" => "your team's",
        "model" => "this model's",
        _ => "the gateway's",
    };
    let (budget, what) = match refusal.dimension {
        Dimension::Requests => (false, "requests per minute"),
        Dimension::Tokens => (false, "tokens per minute"),
        Dimension::Concurrency => (false, "concurrent requests"),
        Dimension::DailyBudget => (true, "daily budget"),
        Dimension::MonthlyBudget => (true, "monthly budget"),
    };
    let message = if refusal.retry_after.is_none() && !budget {
        format!("Request too large for {whose} limit on {what} ({}); reduce the prompt or max_tokens", refusal.limit)
    } else if budget {
        format!("You exceeded {whose} {what}; it renews at the start of the next UTC period")
    } else {
        format!("Rate limit reached for {whose} {what} (limit {})", refusal.limit)
    };
    let mut error = ApiError::rate_limited(budget, refusal.dimension.as_str(), message, refusal.retry_after);
    // The exhausted dimension's figures, as on a successful response.
    let figure =
        |limit: u64| rampart_limits::Figure { limit, remaining: 0, reset: refusal.retry_after.unwrap_or_default() };
    match refusal.dimension {
        Dimension::Requests => {
            error.rate = Some(Box::new(RateHeaders { requests: Some(figure(refusal.limit)), tokens: None }))
        }
        Dimension::Tokens => {
            error.rate = Some(Box::new(RateHeaders { requests: None, tokens: Some(figure(refusal.limit)) }))
        }
        _ => {}
    }
    error
}

/// Micro-dollars for `usage` at `price`, rounded up (never undercharge).
pub(crate) fn cost_micros(price: &Price, usage: Usage) -> u64 {
    let cached = usage.cached.min(usage.prompt);
    let parts = [
        (usage.prompt - cached, price.input_micros_per_million),
        (cached, price.cached_input_micros_per_million),
        (usage.completion, price.output_micros_per_million),
    ];
    let total: u128 = parts.iter().map(|&(tokens, per_million)| u128::from(tokens) * u128::from(per_million)).sum();
    u64::try_from(total.div_ceil(1_000_000)).unwrap_or(u64::MAX)
}

impl Ticket {
    fn unlimited(shed: Option<ShedGuard>) -> Self {
        Self {
            reservation: None,
            _shed: shed,
            headers: RateHeaders::default(),
            price: None,
            reserved: Demand::default(),
        }
    }

    /// Whether settlement needs the response's usage (else the body need not be read).
    pub(crate) fn wants_usage(&self) -> bool {
        self.reservation.is_some() && self.reserved != Demand::default()
    }

    /// Settles with the provider's usage. `None`: the usage is unknown (the stream
    /// broke, the client left, the provider reported none), so the full reservation
    /// stays charged: rampart cannot know what the provider billed, and never
    /// undercounts.
    pub(crate) fn settle(mut self, usage: Option<Usage>) {
        let Some(reservation) = self.reservation.take() else { return };
        let Some(usage) = usage else {
            // Dropping keeps the charge and frees the concurrency slot.
            drop(reservation);
            return;
        };
        let cost = self.price.as_ref().map_or(0, |p| cost_micros(p, usage));
        reservation.settle(Demand::new(usage.prompt.saturating_add(usage.completion), cost));
    }

    /// Settles a request that never reached the provider (refused by inspection, or
    /// answered with an error the provider does not bill): only the request counts.
    pub(crate) fn release(self) {
        self.settle(Some(Usage::default()));
    }

    /// Adds the `x-ratelimit-*` headers.
    pub(crate) fn write_headers(&self, headers: &mut HeaderMap) {
        write_rate_headers(&self.headers, headers);
    }

    /// Adds the headers and hands the ticket to the response body, to settle when the
    /// body ends (`strip_usage`: remove a usage chunk rampart asked for). A provider
    /// error is not billed: only the request counts.
    pub(crate) fn attach(self, response: axum::response::Response, strip_usage: bool) -> axum::response::Response {
        self.attach_tallied(response, strip_usage, None)
    }

    /// [`Self::attach`], also reporting the usage to an audited request's `tally`
    /// (the body is then read for usage even when no limit needs it).
    pub(crate) fn attach_tallied(
        self,
        mut response: axum::response::Response,
        strip_usage: bool,
        tally: Option<std::sync::Arc<crate::monitor::Tally>>,
    ) -> axum::response::Response {
        use crate::meter::{Shape, metered};
        self.write_headers(response.headers_mut());
        if !response.status().is_success() {
            // An error the provider may still be working on (rampart's 504 after the
            // request left) may be billed: keep the charge. Others count as a request.
            if response.headers().get("x-should-retry").is_some_and(|v| v == "false") {
                drop(self);
            } else {
                self.release();
            }
            return response;
        }
        let shape = if !self.wants_usage() && tally.is_none() {
            Shape::Hold
        } else if crate::upstream::is_event_stream(response.headers()) {
            Shape::Events { strip: strip_usage }
        } else {
            Shape::Json
        };
        let (parts, body) = response.into_parts();
        axum::response::Response::from_parts(parts, metered(body, shape, self, tally))
    }
}

const LIMIT_REQUESTS: HeaderName = HeaderName::from_static("x-ratelimit-limit-requests");
const REMAINING_REQUESTS: HeaderName = HeaderName::from_static("x-ratelimit-remaining-requests");
const RESET_REQUESTS: HeaderName = HeaderName::from_static("x-ratelimit-reset-requests");
const LIMIT_TOKENS: HeaderName = HeaderName::from_static("x-ratelimit-limit-tokens");
const REMAINING_TOKENS: HeaderName = HeaderName::from_static("x-ratelimit-remaining-tokens");
const RESET_TOKENS: HeaderName = HeaderName::from_static("x-ratelimit-reset-tokens");

/// Writes OpenAI's rate-limit headers for the figures that exist.
pub(crate) fn write_rate_headers(rate: &RateHeaders, headers: &mut HeaderMap) {
    let mut write = |names: [HeaderName; 3], figure: Option<rampart_limits::Figure>| {
        let Some(figure) = figure else { return };
        let [limit, remaining, reset] = names;
        headers.insert(limit, HeaderValue::from(figure.limit));
        headers.insert(remaining, HeaderValue::from(figure.remaining));
        if let Ok(value) = HeaderValue::from_str(&reset_text(figure.reset)) {
            headers.insert(reset, value);
        }
    };
    write([LIMIT_REQUESTS, REMAINING_REQUESTS, RESET_REQUESTS], rate.requests);
    write([LIMIT_TOKENS, REMAINING_TOKENS, RESET_TOKENS], rate.tokens);
}

/// A reset time as OpenAI writes it: `120ms`, `1.5s`, `6m0s`.
pub(crate) fn reset_text(reset: Duration) -> String {
    let ms = reset.as_millis();
    if ms < 1000 {
        format!("{ms}ms")
    } else if ms < 60_000 {
        let text = format!("{:.3}", reset.as_secs_f64());
        format!("{}s", text.trim_end_matches('0').trim_end_matches('.'))
    } else {
        let secs = reset.as_secs();
        format!("{}m{}s", secs / 60, secs % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resets_read_like_openai() {
        assert_eq!(reset_text(Duration::from_millis(0)), "0ms");
        assert_eq!(reset_text(Duration::from_millis(120)), "120ms");
        assert_eq!(reset_text(Duration::from_millis(1500)), "1.5s");
        assert_eq!(reset_text(Duration::from_secs(1)), "1s");
        assert_eq!(reset_text(Duration::from_secs(360)), "6m0s");
        assert_eq!(reset_text(Duration::from_secs(61)), "1m1s");
    }

    #[test]
    fn costs_round_up_and_price_cached_tokens_apart() {
        let price = Price {
            model: "m".into(),
            input_micros_per_million: 2_500_000,
            output_micros_per_million: 10_000_000,
            cached_input_micros_per_million: 1_250_000,
        };
        // 1000 prompt tokens at $2.50/M = 2500 µ$; 100 completion at $10/M = 1000 µ$.
        assert_eq!(cost_micros(&price, Usage { prompt: 1000, cached: 0, completion: 100 }), 3500);
        // Half the prompt cached: 500 × 2.5 + 500 × 1.25 = 1875.
        assert_eq!(cost_micros(&price, Usage { prompt: 1000, cached: 500, completion: 0 }), 1875);
        // One token still costs a (rounded up) micro-dollar.
        assert_eq!(cost_micros(&price, Usage { prompt: 1, cached: 0, completion: 0 }), 3);
        assert_eq!(cost_micros(&price, Usage { prompt: 0, cached: 0, completion: 0 }), 0);
        // A cached count above the prompt is clamped, never negative.
        assert_eq!(cost_micros(&price, Usage { prompt: 10, cached: 50, completion: 0 }), 13);
        let huge = Usage { prompt: u64::MAX, cached: 0, completion: u64::MAX };
        assert_eq!(cost_micros(&price, huge), u64::MAX);
    }
}
