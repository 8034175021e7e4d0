//! Webhook alerting: owns delivery of [`Anomaly`] records to configured webhooks (a JSON
//! body, or a Slack-compatible `{"text": ...}` body), one delivery task per webhook with
//! its own bounded queue, retries with capped exponential backoff, and the delivery
//! counters ([`AlertStats`]).
//!
//! [`Alerter::send`] never blocks and never awaits: a full queue drops the alert and
//! counts it. A webhook that keeps failing only delays its own queue, and each alert's
//! retries are bounded by `max_attempts`, so it never stalls other webhooks nor later
//! alerts indefinitely.
//!
//! Logs name a webhook by scheme, host and port only: Slack-style URLs carry their
//! secret in the path, and configured header values (for example `Authorization`) are
//! never logged or printed by `Debug`.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::header::{CONTENT_TYPE, RETRY_AFTER, USER_AGENT};
use http::{HeaderName, HeaderValue, Request, StatusCode, Uri};
use http_body_util::Full;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::Anomaly;

/// Default capacity of each webhook's queue.
pub const DEFAULT_QUEUE_CAPACITY: usize = 1_024;

/// Body format of a webhook.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WebhookFormat {
    /// `{"type":"rampart.anomaly","kind":..,"key_id":..,"severity":..,"observed":..,
    /// "baseline":..,"detail":..,"at":RFC 3339,"at_ms":unix ms}`.
    #[default]
    Json,
    /// `{"text":"..."}`: one human sentence with the same facts (Slack incoming webhooks
    /// and compatible receivers).
    Slack,
}

/// One webhook.
#[derive(Clone)]
pub struct WebhookConfig {
    /// `http://` or `https://` URL the alert is POSTed to.
    pub url: String,
    /// Body format (default JSON).
    pub format: WebhookFormat,
    /// Timeout of one attempt, connect to response headers (default 10 s).
    pub timeout: Duration,
    /// Attempts per alert, the first included (default 5; 0 is treated as 1).
    pub max_attempts: u32,
    /// Wait before the first retry; doubles per retry (default 500 ms).
    pub initial_backoff: Duration,
    /// Longest wait between attempts, `Retry-After` included (default 30 s).
    pub max_backoff: Duration,
    /// Static headers sent with every request, e.g. `("authorization", "Bearer ...")`.
    /// Values are marked sensitive and never logged.
    pub headers: Vec<(String, String)>,
}

impl WebhookConfig {
    /// A webhook with default timeout, attempts and backoff and no extra headers.
    pub fn new(url: impl Into<String>, format: WebhookFormat) -> Self {
        WebhookConfig {
            url: url.into(),
            format,
            timeout: Duration::from_secs(10),
            max_attempts: 5,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(30),
            headers: Vec::new(),
        }
    }
}

impl fmt::Debug for WebhookConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let header_names: Vec<&str> = self.headers.iter().map(|(name, _)| name.as_str()).collect();
        f.debug_struct("WebhookConfig")
            .field("url", &redacted_label(&self.url))
            .field("format", &self.format)
            .field("timeout", &self.timeout)
            .field("max_attempts", &self.max_attempts)
            .field("initial_backoff", &self.initial_backoff)
            .field("max_backoff", &self.max_backoff)
            .field("header_names", &header_names)
            .finish()
    }
}

/// Alerter settings.
#[derive(Debug, Clone)]
pub struct AlerterConfig {
    /// Webhooks every alert goes to (default none).
    pub webhooks: Vec<WebhookConfig>,
    /// Capacity of each webhook's queue (default [`DEFAULT_QUEUE_CAPACITY`]; 0 is treated as 1).
    pub queue_capacity: usize,
}

impl Default for AlerterConfig {
    fn default() -> Self {
        AlerterConfig { webhooks: Vec::new(), queue_capacity: DEFAULT_QUEUE_CAPACITY }
    }
}

impl AlerterConfig {
    /// Checks every webhook's URL and headers (for configuration loading; [`Alerter::spawn`]
    /// skips, with a warning, webhooks that fail this).
    pub fn validate(&self) -> Result<(), AlertSetupError> {
        for (index, webhook) in self.webhooks.iter().enumerate() {
            Target::prepare(index, webhook)?;
        }
        Ok(())
    }
}

/// A webhook that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AlertSetupError {
    /// The URL does not parse, or is not `http://` / `https://` with a host.
    BadUrl { index: usize, reason: &'static str },
    /// A header name or value is invalid (the value is not reported).
    BadHeader { index: usize, name: String },
}

impl fmt::Display for AlertSetupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AlertSetupError::BadUrl { index, reason } => write!(f, "webhook {index}: invalid URL: {reason}"),
            AlertSetupError::BadHeader { index, name } => write!(f, "webhook {index}: invalid header {name:?}"),
        }
    }
}

impl std::error::Error for AlertSetupError {}

/// Delivery counters. Units are deliveries (one alert to one webhook), except that an
/// alert refused because the Alerter has no running delivery task counts once as dropped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AlertStats {
    /// Deliveries a webhook accepted (2xx).
    pub sent: u64,
    /// Deliveries given up: attempts exhausted, or a non-retryable answer (4xx other than 429).
    pub failed: u64,
    /// Deliveries never attempted: queue full, or still queued when shutdown's deadline passed.
    pub dropped: u64,
    /// Retry attempts made (attempts after the first).
    pub retries: u64,
    /// Deliveries queued or in progress right now.
    pub pending: u64,
}

#[derive(Debug, Default)]
struct Counters {
    sent: AtomicU64,
    failed: AtomicU64,
    dropped: AtomicU64,
    retries: AtomicU64,
    pending: AtomicU64,
}

impl Counters {
    fn snapshot(&self) -> AlertStats {
        AlertStats {
            sent: self.sent.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
            pending: self.pending.load(Ordering::Relaxed),
        }
    }

    fn finish_one(&self) {
        let _ = self.pending.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
    }
}

type HttpClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// Sends anomalies to webhooks from background tasks. Dropping it lets the tasks finish
/// their queues; [`Alerter::shutdown`] does the same with a deadline.
pub struct Alerter {
    queues: Vec<mpsc::Sender<Arc<Anomaly>>>,
    workers: Vec<JoinHandle<()>>,
    counters: Arc<Counters>,
    /// Set when delivery could not start at all (no runtime, TLS setup failed).
    disabled: bool,
}

impl fmt::Debug for Alerter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Alerter").field("webhooks", &self.queues.len()).field("stats", &self.stats()).finish()
    }
}

impl Alerter {
    /// Starts one delivery task per usable webhook on the current Tokio runtime. Unusable
    /// webhooks (see [`AlerterConfig::validate`]) are skipped with a warning; outside a
    /// runtime nothing starts and every alert is counted as dropped.
    pub fn spawn(config: AlerterConfig) -> Alerter {
        let counters = Arc::new(Counters::default());
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::warn!("anomaly alerter started outside a Tokio runtime; alerts will be dropped");
            return Alerter { queues: Vec::new(), workers: Vec::new(), counters, disabled: true };
        };
        let mut targets = Vec::new();
        for (index, webhook) in config.webhooks.iter().enumerate() {
            match Target::prepare(index, webhook) {
                Ok(target) => targets.push(target),
                Err(error) => tracing::warn!(%error, "anomaly webhook skipped"),
            }
        }
        let https_wanted = targets.iter().any(|t| t.uri.scheme_str() == Some("https"));
        let roots = if https_wanted { native_roots() } else { rustls::RootCertStore::empty() };
        if https_wanted && roots.is_empty() {
            tracing::warn!("no system TLS roots found; https anomaly webhooks skipped");
            targets.retain(|t| t.uri.scheme_str() != Some("https"));
        }
        let client = match http_client(roots) {
            Ok(client) => client,
            Err(error) => {
                tracing::warn!(%error, "anomaly alerter TLS setup failed; alerts will be dropped");
                return Alerter { queues: Vec::new(), workers: Vec::new(), counters, disabled: true };
            }
        };
        let capacity = config.queue_capacity.max(1);
        let mut queues = Vec::with_capacity(targets.len());
        let mut workers = Vec::with_capacity(targets.len());
        for target in targets {
            let (tx, rx) = mpsc::channel(capacity);
            queues.push(tx);
            workers.push(runtime.spawn(run_webhook(client.clone(), target, rx, Arc::clone(&counters))));
        }
        Alerter { queues, workers, counters, disabled: false }
    }

    /// Queues `alert` for every webhook. Never blocks or awaits; a full queue drops it for
    /// that webhook and counts it.
    pub fn send(&self, alert: Anomaly) {
        if self.disabled {
            self.counters.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        if self.queues.is_empty() {
            return;
        }
        let alert = Arc::new(alert);
        for queue in &self.queues {
            self.counters.pending.fetch_add(1, Ordering::Relaxed);
            if queue.try_send(Arc::clone(&alert)).is_err() {
                self.counters.finish_one();
                self.counters.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Number of webhooks being delivered to.
    pub fn webhooks(&self) -> usize {
        self.queues.len()
    }

    /// Current counters.
    pub fn stats(&self) -> AlertStats {
        self.counters.snapshot()
    }

    /// Stops accepting alerts and delivers what is queued until `deadline` has passed;
    /// deliveries still queued or in progress then are abandoned and counted as dropped.
    pub async fn shutdown(self, deadline: Duration) -> AlertStats {
        let Alerter { queues, mut workers, counters, .. } = self;
        drop(queues);
        let until = tokio::time::Instant::now() + deadline;
        let mut timed_out = false;
        for worker in &mut workers {
            if tokio::time::timeout_at(until, &mut *worker).await.is_err() {
                timed_out = true;
                break;
            }
        }
        if timed_out {
            for worker in &workers {
                worker.abort();
            }
            for worker in workers {
                let _ = worker.await;
            }
            let abandoned = counters.pending.swap(0, Ordering::Relaxed);
            counters.dropped.fetch_add(abandoned, Ordering::Relaxed);
        }
        counters.snapshot()
    }
}

/// The system's trusted roots; an unparsable certificate does not disable the rest.
fn native_roots() -> rustls::RootCertStore {
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(cert);
    }
    roots
}

fn http_client(roots: rustls::RootCertStore) -> Result<HttpClient, rustls::Error> {
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_nodelay(true);
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .wrap_connector(http);
    Ok(Client::builder(TokioExecutor::new()).pool_idle_timeout(Duration::from_secs(30)).build(connector))
}

/// A validated webhook.
struct Target {
    uri: Uri,
    /// `scheme://host[:port]`: what logs may say about the webhook.
    label: String,
    format: WebhookFormat,
    timeout: Duration,
    max_attempts: u32,
    initial_backoff: Duration,
    max_backoff: Duration,
    headers: Vec<(HeaderName, HeaderValue)>,
}

impl Target {
    fn prepare(index: usize, config: &WebhookConfig) -> Result<Target, AlertSetupError> {
        let uri: Uri =
            config.url.trim().parse().map_err(|_| AlertSetupError::BadUrl { index, reason: "does not parse" })?;
        match uri.scheme_str() {
            Some("http" | "https") => {}
            _ => return Err(AlertSetupError::BadUrl { index, reason: "scheme must be http or https" }),
        }
        if uri.host().is_none_or(str::is_empty) {
            return Err(AlertSetupError::BadUrl { index, reason: "no host" });
        }
        let mut headers = Vec::with_capacity(config.headers.len());
        for (name, value) in &config.headers {
            let bad = || AlertSetupError::BadHeader { index, name: name.clone() };
            let header_name = HeaderName::try_from(name.trim()).map_err(|_| bad())?;
            let mut header_value = HeaderValue::try_from(value.trim()).map_err(|_| bad())?;
            header_value.set_sensitive(true);
            headers.push((header_name, header_value));
        }
        Ok(Target {
            label: redacted_label(&config.url),
            uri,
            format: config.format,
            timeout: config.timeout,
            max_attempts: config.max_attempts.max(1),
            initial_backoff: config.initial_backoff,
            max_backoff: config.max_backoff,
            headers,
        })
    }

    /// Wait before attempt `attempt + 1` (attempts count from 1).
    fn backoff(&self, attempt: u32) -> Duration {
        let factor = 1u32.checked_shl(attempt.saturating_sub(1)).unwrap_or(u32::MAX);
        self.initial_backoff.saturating_mul(factor).min(self.max_backoff)
    }
}

/// `scheme://host[:port]` of a URL, or a placeholder; never the path, query or userinfo.
fn redacted_label(url: &str) -> String {
    match url.trim().parse::<Uri>() {
        Ok(uri) => {
            let scheme = uri.scheme_str().unwrap_or("?");
            let host = uri.host().unwrap_or("?");
            match uri.port_u16() {
                Some(port) => format!("{scheme}://{host}:{port}"),
                None => format!("{scheme}://{host}"),
            }
        }
        Err(_) => "<invalid url>".to_owned(),
    }
}

async fn run_webhook(
    client: HttpClient,
    target: Target,
    mut queue: mpsc::Receiver<Arc<Anomaly>>,
    counters: Arc<Counters>,
) {
    while let Some(alert) = queue.recv().await {
        let body = match target.format {
            WebhookFormat::Json => json_body(&alert),
            WebhookFormat::Slack => slack_body(&alert),
        };
        deliver(&client, &target, Bytes::from(body), &counters).await;
        counters.finish_one();
    }
}

enum Outcome {
    Delivered,
    /// Not worth retrying (4xx other than 429, redirects, unbuildable request).
    GiveUp(String),
    /// Connect error, timeout, 5xx or 429; with the server's `Retry-After` if any.
    Retry(String, Option<Duration>),
}

async fn deliver(client: &HttpClient, target: &Target, body: Bytes, counters: &Counters) {
    let mut attempt: u32 = 1;
    loop {
        match attempt_once(client, target, body.clone()).await {
            Outcome::Delivered => {
                counters.sent.fetch_add(1, Ordering::Relaxed);
                return;
            }
            Outcome::GiveUp(reason) => {
                tracing::warn!(webhook = %target.label, attempt, %reason, "anomaly webhook refused the alert; not retrying");
                counters.failed.fetch_add(1, Ordering::Relaxed);
                return;
            }
            Outcome::Retry(reason, retry_after) => {
                if attempt >= target.max_attempts {
                    tracing::warn!(webhook = %target.label, attempt, %reason, "anomaly webhook delivery failed; giving up");
                    counters.failed.fetch_add(1, Ordering::Relaxed);
                    return;
                }
                let wait = retry_after.unwrap_or_else(|| target.backoff(attempt)).min(target.max_backoff);
                tracing::debug!(webhook = %target.label, attempt, %reason, wait_ms = wait.as_millis() as u64, "anomaly webhook delivery failed; retrying");
                counters.retries.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(wait).await;
                attempt += 1;
            }
        }
    }
}

async fn attempt_once(client: &HttpClient, target: &Target, body: Bytes) -> Outcome {
    let request = Request::post(target.uri.clone())
        .header(CONTENT_TYPE, "application/json")
        .header(USER_AGENT, "rampart-anomaly")
        .body(Full::new(body));
    let mut request = match request {
        Ok(request) => request,
        Err(_) => return Outcome::GiveUp("request could not be built".to_owned()),
    };
    for (name, value) in &target.headers {
        request.headers_mut().append(name.clone(), value.clone());
    }
    let response = match tokio::time::timeout(target.timeout, client.request(request)).await {
        Err(_) => return Outcome::Retry("timed out".to_owned(), None),
        Ok(Err(error)) if error.is_connect() => return Outcome::Retry("connect error".to_owned(), None),
        Ok(Err(_)) => return Outcome::Retry("request error".to_owned(), None),
        Ok(Ok(response)) => response,
    };
    let status = response.status();
    if status.is_success() {
        Outcome::Delivered
    } else if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
        Outcome::Retry(format!("status {}", status.as_u16()), retry_after(response.headers()))
    } else {
        Outcome::GiveUp(format!("status {}", status.as_u16()))
    }
}

/// `Retry-After` in delta-seconds (HTTP dates are ignored).
fn retry_after(headers: &http::HeaderMap) -> Option<Duration> {
    let seconds: u64 = headers.get(RETRY_AFTER)?.to_str().ok()?.trim().parse().ok()?;
    Some(Duration::from_secs(seconds))
}

/// The JSON webhook body.
pub fn json_body(alert: &Anomaly) -> String {
    serde_json::json!({
        "type": "rampart.anomaly",
        "kind": alert.kind.as_str(),
        "key_id": alert.key,
        "severity": alert.severity.as_str(),
        "observed": alert.observed,
        "baseline": alert.baseline,
        "detail": alert.detail,
        "at": rfc3339_from_unix_ms(alert.at_ms),
        "at_ms": alert.at_ms,
    })
    .to_string()
}

/// The Slack-compatible webhook body: `{"text": ...}` with the same facts as the JSON body.
/// `&`, `<` and `>` are escaped so a key id cannot inject Slack links or mentions.
pub fn slack_body(alert: &Anomaly) -> String {
    let text = format!(
        "rampart anomaly: {kind} ({severity}) on key `{key}`: observed {observed}, baseline {baseline}; {detail} (at {at})",
        kind = alert.kind.as_str(),
        severity = alert.severity.as_str(),
        key = slack_escape(&alert.key.replace('`', "'")),
        observed = number(alert.observed),
        baseline = number(alert.baseline),
        detail = slack_escape(&alert.detail),
        at = rfc3339_from_unix_ms(alert.at_ms),
    );
    serde_json::json!({ "text": text }).to_string()
}

fn slack_escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// Whole numbers without decimals, others with two.
fn number(x: f64) -> String {
    if x.is_finite() && x.fract() == 0.0 && x.abs() < 1e15 { format!("{x:.0}") } else { format!("{x:.2}") }
}

/// Unix milliseconds as RFC 3339 UTC with milliseconds, e.g. `2026-12-03T07:31:45.123Z`.
pub fn rfc3339_from_unix_ms(ms: i64) -> String {
    let secs = ms.div_euclid(1_000);
    let millis = ms.rem_euclid(1_000);
    let days = secs.div_euclid(86_400);
    let of_day = secs.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        of_day / 3_600,
        of_day % 3_600 / 60,
        of_day % 60
    )
}

/// Proleptic Gregorian date of a day count since 1970-01-01 (H. Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
pub(crate) mod tests;
