//! Layer 3 on the request path: the audit record of every request (rejected ones and
//! failed authentication included) and admin action, the per-key anomaly detectors fed
//! by each finished request, their alerts and automatic key suspension.
//!
//! A request's record is written when its response body ends (or is dropped: the
//! client left), so it carries the provider's token usage, the cost and the verdicts
//! of a stream's whole output. Writing is one append to the local journal of
//! [`rampart_audit::AuditLog`], never a wait for the database. When the journal cannot
//! be written and `[audit] fail_closed` is set, the gateway refuses traffic with 503
//! `audit_unavailable` until a write succeeds again.
//!
//! Inner layers report into the request's [`Tally`] (usage, upstream wait, output
//! verdicts); [`crate::observe`] owns the record.

use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rampart_anomaly::alert::{Alerter, AlerterConfig, WebhookConfig, WebhookFormat};
use rampart_anomaly::{AnomalyKind, Detector, Observation};
use rampart_audit::{AuditLog, AuditLogOptions, AuditRecord, AuditSigner, AuditStore, RecordKind};
use rampart_config::Config;

use crate::admission::Usage;
use crate::inspect::Verdict;

/// The admin caller of an admin API request, on its response (for the audit record).
#[derive(Debug, Clone)]
pub(crate) struct Actor {
    /// `adm_...` or `tok_...`.
    pub(crate) id: String,
    /// `user` or `token`.
    pub(crate) kind: &'static str,
}

/// What inner layers learn about a request after its head is built.
#[derive(Debug, Default)]
pub(crate) struct Tally(Mutex<TallyInner>);

#[derive(Debug, Default)]
pub(crate) struct TallyInner {
    /// The provider's reported usage.
    pub(crate) usage: Option<Usage>,
    /// Time waiting for the provider's response head.
    pub(crate) upstream: Option<Duration>,
    /// Verdicts found in a streamed output (the head carries only the request's).
    pub(crate) stream_verdicts: Vec<Verdict>,
    /// The policy keeps bodies: the request as the client sent it, and the response
    /// (set by the metering layer: a JSON body read whole, or a stream's events as the
    /// client was sent them).
    pub(crate) keep_bodies: bool,
    pub(crate) request_body: Option<bytes::Bytes>,
    pub(crate) response_body: Option<Vec<u8>>,
}

/// Journal room kept for the records of requests in flight when new ones start being
/// refused.
const LAG_HEADROOM: u64 = 256 << 10;

/// The most of each body an audit record keeps.
pub(crate) const MAX_AUDITED_BODY: usize = 1 << 20;

impl Tally {
    /// Runs `f` on the tally (a poisoned lock is recovered: it only holds counts).
    pub(crate) fn with<R>(&self, f: impl FnOnce(&mut TallyInner) -> R) -> R {
        let mut inner = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut inner)
    }
}

/// The audit log, the detectors and the alerter of one gateway.
pub(crate) struct Monitor {
    /// Prometheus families of `/metrics` (the limiter renders its own beside them).
    pub(crate) metrics: rampart_metrics::GatewayMetrics,
    audit: Option<AuditLog>,
    /// The trail's database, for queries (the admin API).
    store: Option<AuditStore>,
    fail_closed: bool,
    /// `[audit] max_lag`, less [`LAG_HEADROOM`]: from there new requests are refused
    /// (fail-closed), so the records of requests already in flight still fit.
    refuse_at_lag: u64,
    /// The last journal write failed (fail-closed): refuse until one succeeds.
    refusing: AtomicBool,
    /// Records that could not be journaled (fail-closed; their requests were in flight).
    lost: std::sync::atomic::AtomicU64,
    anomaly: Option<Anomalies>,
    /// Completions spawned after their responses and not yet run
    /// ([`crate::observe`]): shutdown waits for them before it closes the trail.
    finishing: std::sync::atomic::AtomicUsize,
}

impl std::fmt::Debug for Monitor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Monitor").field("audit", &self.audit.is_some()).finish_non_exhaustive()
    }
}

struct Anomalies {
    detector: Mutex<Detector>,
    alerter: Alerter,
    suspend_on: Vec<AnomalyKind>,
}

/// Why the monitor could not start.
#[derive(Debug, thiserror::Error)]
pub enum MonitorSetupError {
    /// The audit database or journal could not be opened.
    #[error("audit: {0}")]
    Audit(String),
    /// `[anomaly]` names something the detectors do not know.
    #[error("anomaly: {0}")]
    Anomaly(String),
}

/// The checkpoint signing key `[audit]` configures, or the one derived from
/// `auth.key_secret` (so a default deployment signs without extra setup).
pub fn audit_signer(config: &Config) -> Result<AuditSigner, MonitorSetupError> {
    audit_signer_of(&config.audit, &config.auth)
}

/// [`audit_signer`] from the two sections it reads.
fn audit_signer_of(
    audit: &rampart_config::AuditSettings,
    auth: &rampart_config::AuthSettings,
) -> Result<AuditSigner, MonitorSetupError> {
    match &audit.signing_key {
        Some(key) => {
            AuditSigner::parse(key.expose()).map_err(|e| MonitorSetupError::Audit(format!("signing_key: {e}")))
        }
        None => {
            use hmac::{Hmac, Mac};
            let mut mac = Hmac::<sha2::Sha256>::new_from_slice(auth.key_secret.expose())
                .map_err(|_| MonitorSetupError::Audit("key_secret unusable".into()))?;
            mac.update(b"rampart audit checkpoint signing key v1");
            let seed = mac.finalize().into_bytes();
            AuditSigner::from_seed(&seed).map_err(|e| MonitorSetupError::Audit(e.to_string()))
        }
    }
}

/// Opens the audit store the configuration names, with its signer.
pub async fn open_audit_store(config: &Config) -> Result<AuditStore, MonitorSetupError> {
    open_audit_store_of(&config.audit, &config.auth).await
}

/// [`open_audit_store`] from the two sections it reads (for commands that compile only
/// `[store]`, `[auth]` and `[audit]`).
pub async fn open_audit_store_of(
    audit: &rampart_config::AuditSettings,
    auth: &rampart_config::AuthSettings,
) -> Result<AuditStore, MonitorSetupError> {
    let store = AuditStore::connect(audit.url.expose()).await.map_err(|e| MonitorSetupError::Audit(e.to_string()))?;
    Ok(store.with_signer(audit_signer_of(audit, auth)?, audit.checkpoint_every))
}

impl Monitor {
    /// Opens the audit log (replaying what an earlier run journaled but did not store)
    /// and starts the alerter, as configured.
    pub(crate) async fn open(config: &Config) -> Result<Self, MonitorSetupError> {
        let mut query_store = None;
        let audit = if config.audit.enabled {
            let store = open_audit_store(config).await?;
            query_store = Some(store.clone());
            if let Some(retention) = config.audit.retention {
                spawn_retention(store.clone(), retention);
            }
            let mut options = AuditLogOptions::default();
            options.fail_closed = config.audit.fail_closed;
            options.max_lag_bytes = config.audit.max_lag_bytes;
            let log = AuditLog::open(store, &config.audit.journal, options)
                .await
                .map_err(|e| MonitorSetupError::Audit(format!("journal {}: {e}", config.audit.journal.display())))?;
            Some(log)
        } else {
            None
        };
        let anomaly = if config.anomaly.enabled {
            let mut suspend_on = Vec::new();
            for name in &config.anomaly.suspend_on {
                suspend_on.push(name.parse::<AnomalyKind>().map_err(|e| MonitorSetupError::Anomaly(e.to_string()))?);
            }
            let webhooks = config
                .anomaly
                .webhooks
                .iter()
                .map(|hook| {
                    let format = if hook.slack { WebhookFormat::Slack } else { WebhookFormat::Json };
                    let mut webhook = WebhookConfig::new(hook.url.expose().clone(), format);
                    if let Some(value) = &hook.authorization {
                        webhook.headers.push(("authorization".into(), value.expose().clone()));
                    }
                    webhook
                })
                .collect();
            let alerts = AlerterConfig { webhooks, ..AlerterConfig::default() };
            alerts.validate().map_err(|e| MonitorSetupError::Anomaly(e.to_string()))?;
            let cooldown_ms = i64::try_from(config.anomaly.cooldown.as_millis()).unwrap_or(i64::MAX);
            let detector = Detector::new(rampart_anomaly::Config { cooldown_ms, ..rampart_anomaly::Config::default() });
            Some(Anomalies { detector: Mutex::new(detector), alerter: Alerter::spawn(alerts), suspend_on })
        } else {
            None
        };
        Ok(Self {
            metrics: rampart_metrics::GatewayMetrics::new(),
            audit,
            store: query_store,
            fail_closed: config.audit.fail_closed,
            refuse_at_lag: config.audit.max_lag_bytes.saturating_sub(LAG_HEADROOM),
            refusing: AtomicBool::new(false),
            lost: std::sync::atomic::AtomicU64::new(0),
            anomaly,
            finishing: std::sync::atomic::AtomicUsize::new(0),
        })
    }

    /// A request's completion was deferred ([`crate::observe`]); paired with
    /// [`Self::finished`].
    pub(crate) fn finishing(&self) {
        self.finishing.fetch_add(1, Ordering::AcqRel);
    }

    /// A deferred completion ran.
    pub(crate) fn finished(&self) {
        self.finishing.fetch_sub(1, Ordering::AcqRel);
    }

    /// The trail's database, when auditing.
    pub(crate) fn store(&self) -> Option<&AuditStore> {
        self.store.as_ref()
    }

    /// Whether requests are recorded.
    pub(crate) fn audits(&self) -> bool {
        self.audit.is_some()
    }

    /// Whether traffic is refused because the trail cannot be written, or soon could
    /// not be (the journal is near `max_lag` with the database behind).
    pub(crate) fn refusing(&self) -> bool {
        if !self.fail_closed {
            return false;
        }
        self.refusing.load(Ordering::Relaxed)
            || self.audit.as_ref().is_some_and(|log| log.lag_bytes() >= self.refuse_at_lag)
    }

    /// Journals `record`. `false` when it could not be (fail-closed: traffic is
    /// refused from now until a write succeeds).
    pub(crate) fn record(&self, record: &AuditRecord) -> bool {
        let Some(log) = &self.audit else { return true };
        match log.record(record) {
            Ok(()) => {
                if self.refusing.swap(false, Ordering::Relaxed) {
                    tracing::warn!("audit journal writable again: accepting traffic");
                }
                true
            }
            Err(error) => {
                self.lost.fetch_add(1, Ordering::Relaxed);
                if !self.refusing.swap(true, Ordering::Relaxed) {
                    tracing::error!(%error, "audit journal cannot be written: refusing traffic (audit.fail_closed)");
                }
                false
            }
        }
    }

    /// The audit log's counters, when it runs.
    pub(crate) fn audit_stats(&self) -> Option<rampart_audit::AuditLogStats> {
        self.audit.as_ref().map(AuditLog::stats)
    }

    /// Appends this monitor's metric families (audit figures as of now) to `out`.
    pub(crate) fn render_metrics(&self, out: &mut String) {
        if let Some(stats) = self.audit_stats() {
            let pending = (stats.journaled + stats.replayed).saturating_sub(stats.stored + stats.dropped);
            self.metrics.set_audit(rampart_metrics::AuditGauges {
                queue_depth: pending,
                lag_bytes: stats.lag_bytes,
                // Every record is journaled to local disk before the database has it.
                spilled: stats.journaled,
                dropped: stats.dropped + self.lost.load(Ordering::Relaxed),
                store_errors: stats.store_errors,
                records: stats.stored,
            });
        }
        self.metrics.render(out);
        if let Some(alerts) = self.alert_stats() {
            use std::fmt::Write;
            out.push_str("# HELP rampart_alerts_total Anomaly alert deliveries to webhooks, by outcome.\n");
            out.push_str("# TYPE rampart_alerts_total counter\n");
            for (outcome, n) in [("sent", alerts.sent), ("failed", alerts.failed), ("dropped", alerts.dropped)] {
                let _ = writeln!(out, "rampart_alerts_total{{outcome=\"{outcome}\"}} {n}");
            }
        }
    }

    /// The alerter's counters, when it runs.
    pub(crate) fn alert_stats(&self) -> Option<rampart_anomaly::alert::AlertStats> {
        self.anomaly.as_ref().map(|a| a.alerter.stats())
    }

    /// Feeds a finished request to the detectors; each anomaly is recorded, alerted and
    /// (when configured) suspends the key. Returns the kinds seen.
    pub(crate) fn observe(&self, state: &crate::state::AppState, observation: &Observation) -> Vec<AnomalyKind> {
        let Some(anomalies) = &self.anomaly else { return Vec::new() };
        let found = {
            let mut detector = anomalies.detector.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            detector.observe(observation)
        };
        let mut kinds = Vec::new();
        for anomaly in found {
            kinds.push(anomaly.kind);
            self.metrics.anomaly(anomaly.kind.as_str());
            let suspend = anomalies.suspend_on.contains(&anomaly.kind);
            tracing::warn!(
                key_id = %anomaly.key,
                kind = anomaly.kind.as_str(),
                severity = anomaly.severity.as_str(),
                observed = anomaly.observed,
                baseline = anomaly.baseline,
                suspend,
                "anomaly"
            );
            self.record(&AuditRecord {
                time: anomaly.at_ms,
                request_id: format!("anomaly_{}_{}", anomaly.kind.as_str(), anomaly.at_ms),
                kind: RecordKind::Anomaly,
                principal: Some(anomaly.key.clone()),
                principal_kind: Some("key".into()),
                error: Some(format!("{}: {}", anomaly.kind.as_str(), anomaly.detail)),
                verdicts: vec![rampart_audit::Verdict {
                    detector: "anomaly".into(),
                    rule: anomaly.kind.as_str().into(),
                    score: Some(anomaly.observed),
                    action: if suspend { "suspend".into() } else { "alert".into() },
                    location: format!("baseline {:.3}", anomaly.baseline),
                }],
                ..AuditRecord::default()
            });
            if suspend {
                suspend_key(state, &anomaly.key, anomaly.kind);
            }
            anomalies.alerter.send(anomaly);
        }
        kinds
    }

    /// Drains the alerter and the audit log (at shutdown).
    pub(crate) async fn shutdown(&self, deadline: Duration) {
        // The drained requests' completions first: their records are still to be
        // journaled. They run as soon as the runtime gets to them; the wait is bounded.
        let until = Instant::now() + deadline;
        while self.finishing.load(Ordering::Acquire) > 0 && Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        if let Some(log) = &self.audit {
            if !log.shutdown(deadline).await {
                tracing::warn!("audit records still only in the journal at shutdown: replayed at the next start");
            }
        }
    }
}

/// Suspends a key as an anomaly policy says (in the background: never on the request's
/// time), until an administrator resumes it. Only virtual keys can be suspended; a JWT
/// subject is alerted on only.
fn suspend_key(state: &crate::state::AppState, key_id: &str, kind: AnomalyKind) {
    if !key_id.starts_with("key_") {
        return;
    }
    let store = state.store.clone();
    let key_id = key_id.to_owned();
    tokio::spawn(async move {
        match store.suspend_key(&key_id, &format!("anomaly: {}", kind.as_str())).await {
            Ok(true) => tracing::warn!(key_id, anomaly = kind.as_str(), "key suspended by anomaly policy"),
            Ok(false) => {}
            Err(error) => tracing::error!(key_id, %error, "anomaly policy could not suspend the key"),
        }
    });
}

/// Purges records past `retention` hourly (and once at start).
fn spawn_retention(store: AuditStore, retention: Duration) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(3600));
        loop {
            tick.tick().await;
            let cutoff = unix_ms(SystemTime::now()) - i64::try_from(retention.as_millis()).unwrap_or(i64::MAX);
            match store.purge_before(cutoff).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(purged = n, "audit retention"),
                Err(error) => tracing::warn!(%error, "audit retention purge failed; retried in an hour"),
            }
        }
    });
}

pub(crate) fn unix_ms(time: SystemTime) -> i64 {
    time.duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// The audit verdicts of gateway verdicts (never text: detector, rule, score, action,
/// location).
pub(crate) fn audit_verdicts<'a>(verdicts: impl Iterator<Item = &'a Verdict>) -> Vec<rampart_audit::Verdict> {
    verdicts
        .map(|v| rampart_audit::Verdict {
            detector: v.detector.into(),
            rule: v.rule.into(),
            score: Some(f64::from(v.score)),
            action: v.action.into(),
            location: format!("{}.{}", v.phase, v.location),
        })
        .collect()
}

/// A request's record under construction: what the head showed, completed when the
/// body ends.
pub(crate) struct Pending {
    pub(crate) state: Arc<crate::state::AppState>,
    pub(crate) record: AuditRecord,
    /// Written first, when the response ends.
    pub(crate) line: crate::observe::AccessLine,
    pub(crate) started: Instant,
    pub(crate) head_latency: Duration,
    pub(crate) tally: Arc<Tally>,
    pub(crate) client_ip: Option<IpAddr>,
    /// The request was refused by inspection (an attack, when the detector was
    /// injection or jailbreak).
    pub(crate) blocked: bool,
    pub(crate) attack: bool,
    /// The record goes to the trail (else only metrics and detectors see it).
    pub(crate) audited: bool,
}

impl Pending {
    /// Writes the access-log line, completes and writes the record (the response
    /// ended at `ended`), then feeds the detectors.
    pub(crate) fn finish(mut self, ended: Instant, body_bytes: u64, complete: bool) {
        let record = &self.record;
        self.line.emit(
            &record.request_id,
            record.method.as_deref().unwrap_or_default(),
            record.endpoint.as_deref().unwrap_or_default(),
            record.status.unwrap_or_default(),
            record.model.as_deref(),
            record.provider.as_deref(),
        );
        let (usage, upstream, stream_verdicts, bodies) = self.tally.with(|t| {
            let bodies = t.keep_bodies.then(|| (t.request_body.take(), t.response_body.take()));
            (t.usage, t.upstream, std::mem::take(&mut t.stream_verdicts), bodies)
        });
        if let Some((request, response)) = bodies {
            self.record.body = seal_bodies(&self.state.kek, &self.record.request_id, request, response);
        }
        let record = &mut self.record;
        record.latency_us = Some(micros(ended.saturating_duration_since(self.started)));
        record.overhead_us = Some(micros(self.head_latency.saturating_sub(upstream.unwrap_or_default())));
        if let Some(usage) = usage {
            record.prompt_tokens = Some(usage.prompt);
            record.completion_tokens = Some(usage.completion);
            let price = record
                .model
                .as_deref()
                .and_then(|model| rampart_config::limits::price_for(&self.state.config.prices, model));
            record.cost_micros = price.map(|p| crate::admission::cost_micros(p, usage));
        }
        if !complete && record.error.is_none() {
            record.error = Some("client_closed".into());
        }
        record.verdicts.extend(audit_verdicts(stream_verdicts.iter()));
        let output = |detectors: &[&str]| {
            let n = record
                .verdicts
                .iter()
                .filter(|v| v.location.starts_with("response.") && detectors.contains(&v.detector.as_str()))
                .count();
            u32::try_from(n).unwrap_or(u32::MAX)
        };
        let (output_pii, output_secrets) = (output(&["pii"]), output(&["secrets", "canary"]));
        let monitor = &self.state.monitor;
        count(&monitor.metrics, record, self.started);
        if self.audited {
            monitor.record(record);
        }
        let per_key = record.kind == RecordKind::Request && record.status.is_some_and(|s| s != 401);
        if let (true, Some(key), Some(client_ip)) = (per_key, record.principal.clone(), self.client_ip) {
            let observation = Observation {
                key,
                at_ms: record.time,
                client_ip,
                prompt_tokens: record.prompt_tokens.unwrap_or(0),
                completion_tokens: record.completion_tokens.unwrap_or(0),
                output_bytes: body_bytes,
                blocked: self.blocked,
                attack: self.attack,
                output_pii,
                output_secrets,
            };
            monitor.observe(&self.state, &observation);
        }
    }
}

/// The bodies a policy keeps, as one sealed text (AES-256-GCM under the vault key, the
/// request id as associated data): `{"request": ..., "response": ...}`, each at most
/// [`MAX_AUDITED_BODY`] bytes (longer ones cut, and marked so). `None` if sealing fails
/// (then nothing is kept rather than anything in clear).
fn seal_bodies(
    kek: &rampart_identity::vault::Kek,
    request_id: &str,
    request: Option<bytes::Bytes>,
    response: Option<Vec<u8>>,
) -> Option<String> {
    let text = |body: Option<&[u8]>| {
        body.map(|b| {
            let cut = b.len() > MAX_AUDITED_BODY;
            serde_json::json!({
                "text": String::from_utf8_lossy(&b[..b.len().min(MAX_AUDITED_BODY)]),
                "truncated": cut,
            })
        })
    };
    let plain = serde_json::json!({
        "request": text(request.as_deref()),
        "response": text(response.as_deref()),
    });
    let plain = zeroize::Zeroizing::new(serde_json::to_vec(&plain).ok()?);
    match rampart_identity::vault::seal(kek, &plain, request_id.as_bytes()) {
        Ok(sealed) => Some(sealed.to_string()),
        Err(error) => {
            tracing::error!(%error, "audit bodies could not be sealed: not kept");
            None
        }
    }
}

/// A finished request's metrics.
fn count(metrics: &rampart_metrics::GatewayMetrics, record: &AuditRecord, started: Instant) {
    {
        let endpoint = endpoint_label(record.endpoint.as_deref().unwrap_or_default());
        let model = record.model.as_deref().unwrap_or_default();
        let provider = record.provider.as_deref().unwrap_or_default();
        let status = record.status.unwrap_or(0);
        let overhead = Duration::from_micros(record.overhead_us.unwrap_or(0));
        metrics.request(endpoint, model, provider, status, started.elapsed(), overhead);
        if status == 401 {
            metrics.auth_failure(record.error.as_deref().unwrap_or("unknown"));
        }
        if status == 502 || status == 504 {
            metrics.upstream_error(provider, record.error.as_deref().unwrap_or("unknown"));
        }
        if let (Some(prompt), Some(completion)) = (record.prompt_tokens, record.completion_tokens) {
            metrics.tokens(model, provider, prompt, completion);
        }
        if let Some(cost) = record.cost_micros {
            metrics.cost_micros(model, provider, cost);
        }
        for verdict in &record.verdicts {
            let phase = if verdict.location.starts_with("response.") { "response" } else { "request" };
            metrics.detection(&verdict.detector, &verdict.action, phase);
        }
    }
}

/// The `endpoint` label of a path: OpenAI's routes by pattern (ids collapsed), anything
/// else `other`, so clients cannot create series at will.
pub(crate) fn endpoint_label(path: &str) -> &'static str {
    const EXACT: &[&str] = &[
        "/v1/chat/completions",
        "/v1/completions",
        "/v1/embeddings",
        "/v1/moderations",
        "/v1/responses",
        "/v1/models",
        "/v1/files",
        "/v1/batches",
    ];
    const PREFIXES: &[(&str, &str)] = &[
        ("/v1/models/", "/v1/models/*"),
        ("/v1/files/", "/v1/files/*"),
        ("/v1/batches/", "/v1/batches/*"),
        ("/v1/images/", "/v1/images/*"),
        ("/v1/audio/", "/v1/audio/*"),
        ("/v1/responses/", "/v1/responses/*"),
        ("/admin/v1/", "/admin/v1/*"),
    ];
    if let Some(exact) = EXACT.iter().find(|e| **e == path) {
        return exact;
    }
    PREFIXES.iter().find(|(prefix, _)| path.starts_with(prefix)).map_or("other", |(_, label)| label)
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}
