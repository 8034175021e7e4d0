//! The gateway's metric set.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use crate::family::{CounterVec, HistogramVec};
use crate::text;

/// Buckets of `rampart_request_duration_seconds` (whole request, upstream included).
pub const REQUEST_DURATION_BUCKETS: &[f64] =
    &[0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0];

/// Buckets of `rampart_overhead_seconds` (the gateway's own time).
pub const OVERHEAD_BUCKETS: &[f64] = &[0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1];

/// Snapshot of the audit pipeline's counters, kept elsewhere and passed at scrape time
/// to [`GatewayMetrics::set_audit`]. Values are absolute and rendered as given.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AuditGauges {
    /// Records waiting in the audit queue (`rampart_audit_queue_depth`).
    pub queue_depth: u64,
    /// Bytes written but not yet stored (`rampart_audit_lag_bytes`).
    pub lag_bytes: u64,
    /// Records spilled to disk so far (`rampart_audit_spilled_total`).
    pub spilled: u64,
    /// Records dropped so far (`rampart_audit_dropped_total`).
    pub dropped: u64,
    /// Store errors so far (`rampart_audit_store_errors_total`).
    pub store_errors: u64,
    /// Records stored so far (`rampart_audit_records_total`).
    pub records: u64,
}

#[derive(Default)]
struct AuditCells {
    queue_depth: AtomicU64,
    lag_bytes: AtomicU64,
    spilled: AtomicU64,
    dropped: AtomicU64,
    store_errors: AtomicU64,
    records: AtomicU64,
}

/// Every metric family the gateway records, rendered by [`GatewayMetrics::render`].
///
/// `Send + Sync`; share it behind an `Arc`. Recording takes one shard read lock and one
/// atomic add per family touched once the label combination exists.
pub struct GatewayMetrics {
    requests: CounterVec<4>,
    request_duration: HistogramVec<1>,
    overhead: HistogramVec<1>,
    auth_failures: CounterVec<1>,
    detections: CounterVec<3>,
    tokens: CounterVec<3>,
    cost: CounterVec<2>,
    upstream_errors: CounterVec<2>,
    anomalies: CounterVec<1>,
    audit: AuditCells,
}

impl Default for GatewayMetrics {
    fn default() -> Self {
        Self::new()
    }
}

/// Formats a status code without allocating.
fn status_str(buf: &mut [u8; 5], status: u16) -> &str {
    let mut n = status;
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    std::str::from_utf8(&buf[i..]).unwrap_or("0")
}

impl GatewayMetrics {
    /// All families empty, each capped at [`crate::DEFAULT_MAX_SERIES`] series.
    pub fn new() -> Self {
        Self::with_max_series(crate::DEFAULT_MAX_SERIES)
    }

    /// All families empty, each capped at `max` series (see [`CounterVec::with_max_series`]).
    pub fn with_max_series(max: usize) -> Self {
        Self {
            requests: CounterVec::new(
                "rampart_requests_total",
                "Requests handled, by endpoint, model, provider and HTTP status.",
                ["endpoint", "model", "provider", "status"],
            )
            .with_max_series(max),
            request_duration: HistogramVec::new(
                "rampart_request_duration_seconds",
                "Request duration in seconds, upstream included.",
                ["endpoint"],
                REQUEST_DURATION_BUCKETS,
            )
            .with_max_series(max),
            overhead: HistogramVec::new(
                "rampart_overhead_seconds",
                "Time spent in the gateway itself, upstream excluded, in seconds.",
                ["endpoint"],
                OVERHEAD_BUCKETS,
            )
            .with_max_series(max),
            auth_failures: CounterVec::new(
                "rampart_auth_failures_total",
                "Authentication failures, by reason.",
                ["reason"],
            )
            .with_max_series(max),
            detections: CounterVec::new(
                "rampart_detections_total",
                "Detector findings, by detector, action taken and phase (request or response).",
                ["detector", "action", "phase"],
            )
            .with_max_series(max),
            tokens: CounterVec::new(
                "rampart_tokens_total",
                "Tokens processed, by model, provider and kind (prompt or completion).",
                ["model", "provider", "kind"],
            )
            .with_max_series(max),
            cost: CounterVec::new_micros(
                "rampart_cost_usd_total",
                "Estimated spend in USD, by model and provider.",
                ["model", "provider"],
            )
            .with_max_series(max),
            upstream_errors: CounterVec::new(
                "rampart_upstream_errors_total",
                "Upstream provider errors, by provider and kind.",
                ["provider", "kind"],
            )
            .with_max_series(max),
            anomalies: CounterVec::new("rampart_anomalies_total", "Anomalies detected, by kind.", ["kind"])
                .with_max_series(max),
            audit: AuditCells::default(),
        }
    }

    /// Records one finished request: `rampart_requests_total`,
    /// `rampart_request_duration_seconds` and `rampart_overhead_seconds`.
    #[inline]
    pub fn request(
        &self,
        endpoint: &str,
        model: &str,
        provider: &str,
        status: u16,
        duration: Duration,
        overhead: Duration,
    ) {
        let mut buf = [0u8; 5];
        let status = status_str(&mut buf, status);
        self.requests.inc([endpoint, model, provider, status]);
        self.request_duration.observe_duration([endpoint], duration);
        self.overhead.observe_duration([endpoint], overhead);
    }

    /// Counts an authentication failure (`rampart_auth_failures_total`).
    #[inline]
    pub fn auth_failure(&self, reason: &str) {
        self.auth_failures.inc([reason]);
    }

    /// Counts a detector finding (`rampart_detections_total`); `phase` is `request` or
    /// `response`.
    #[inline]
    pub fn detection(&self, detector: &str, action: &str, phase: &str) {
        self.detections.inc([detector, action, phase]);
    }

    /// Adds tokens (`rampart_tokens_total`, kinds `prompt` and `completion`); zero
    /// amounts are skipped.
    #[inline]
    pub fn tokens(&self, model: &str, provider: &str, prompt: u64, completion: u64) {
        if prompt > 0 {
            self.tokens.inc_by([model, provider, "prompt"], prompt);
        }
        if completion > 0 {
            self.tokens.inc_by([model, provider, "completion"], completion);
        }
    }

    /// Adds spend in micro-USD (`rampart_cost_usd_total`, rendered in USD).
    #[inline]
    pub fn cost_micros(&self, model: &str, provider: &str, micros: u64) {
        self.cost.inc_by([model, provider], micros);
    }

    /// Counts an upstream error (`rampart_upstream_errors_total`).
    #[inline]
    pub fn upstream_error(&self, provider: &str, kind: &str) {
        self.upstream_errors.inc([provider, kind]);
    }

    /// Counts an anomaly (`rampart_anomalies_total`).
    #[inline]
    pub fn anomaly(&self, kind: &str) {
        self.anomalies.inc([kind]);
    }

    /// Stores the audit pipeline's snapshot, rendered as given by the next
    /// [`Self::render`].
    pub fn set_audit(&self, g: AuditGauges) {
        let a = &self.audit;
        a.queue_depth.store(g.queue_depth, Relaxed);
        a.lag_bytes.store(g.lag_bytes, Relaxed);
        a.spilled.store(g.spilled, Relaxed);
        a.dropped.store(g.dropped, Relaxed);
        a.store_errors.store(g.store_errors, Relaxed);
        a.records.store(g.records, Relaxed);
    }

    /// The last snapshot given to [`Self::set_audit`].
    pub fn audit(&self) -> AuditGauges {
        let a = &self.audit;
        AuditGauges {
            queue_depth: a.queue_depth.load(Relaxed),
            lag_bytes: a.lag_bytes.load(Relaxed),
            spilled: a.spilled.load(Relaxed),
            dropped: a.dropped.load(Relaxed),
            store_errors: a.store_errors.load(Relaxed),
            records: a.records.load(Relaxed),
        }
    }

    /// `rampart_requests_total`, e.g. for pre-resolved handles.
    pub fn requests_family(&self) -> &CounterVec<4> {
        &self.requests
    }

    /// Recordings, over all families, that went into an overflow (`other`) series.
    pub fn series_overflow_total(&self) -> u64 {
        self.requests.overflowed()
            + self.request_duration.overflowed()
            + self.overhead.overflowed()
            + self.auth_failures.overflowed()
            + self.detections.overflowed()
            + self.tokens.overflowed()
            + self.cost.overflowed()
            + self.upstream_errors.overflowed()
            + self.anomalies.overflowed()
    }

    /// Appends every family in the text exposition format 0.0.4, in a fixed order with
    /// series sorted by label values. Families without series still get their `# HELP`
    /// and `# TYPE` lines; unlabeled ones always render a value. Ends with a newline, so
    /// more families can be appended to the same body.
    pub fn render(&self, out: &mut String) {
        self.requests.render(out);
        self.request_duration.render(out);
        self.overhead.render(out);
        self.auth_failures.render(out);
        self.detections.render(out);
        self.tokens.render(out);
        self.cost.render(out);
        self.upstream_errors.render(out);
        self.anomalies.render(out);
        let a = self.audit();
        let scalars: [(&str, &str, &str, u64); 6] = [
            ("rampart_audit_queue_depth", "Records waiting in the audit queue.", "gauge", a.queue_depth),
            ("rampart_audit_lag_bytes", "Audit bytes written but not yet stored.", "gauge", a.lag_bytes),
            ("rampart_audit_spilled_total", "Audit records spilled to disk.", "counter", a.spilled),
            ("rampart_audit_dropped_total", "Audit records dropped.", "counter", a.dropped),
            ("rampart_audit_store_errors_total", "Audit store errors.", "counter", a.store_errors),
            ("rampart_audit_records_total", "Audit records stored.", "counter", a.records),
        ];
        for (name, help, kind, v) in scalars {
            scalar(out, name, help, kind, v);
        }
        scalar(
            out,
            "rampart_metrics_series_overflow_total",
            "Recordings folded into an \"other\" series because a family reached its series cap.",
            "counter",
            self.series_overflow_total(),
        );
    }
}

fn scalar(out: &mut String, name: &str, help: &str, kind: &str, v: u64) {
    text::header(out, name, help, kind);
    out.push_str(name);
    out.push(' ');
    text::int(out, v);
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_strings() {
        let mut b = [0u8; 5];
        assert_eq!(status_str(&mut b, 200), "200");
        assert_eq!(status_str(&mut b, 0), "0");
        assert_eq!(status_str(&mut b, 65535), "65535");
    }

    #[test]
    fn send_sync() {
        fn f<T: Send + Sync>() {}
        f::<GatewayMetrics>();
        f::<std::sync::Arc<GatewayMetrics>>();
    }
}
