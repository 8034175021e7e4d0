//! rampart metrics: the Prometheus registry behind the gateway's `/metrics` endpoint,
//! rendered in the text exposition format 0.0.4.
//!
//! # Building blocks
//!
//! - [`Counter`], [`Gauge`]: one relaxed atomic per update.
//! - [`Histogram`]: fixed bucket bounds, one atomic count per bucket and an integer sum
//!   at 1e-9 resolution (so no compare-and-swap loop on a float).
//! - [`CounterVec`], [`HistogramVec`]: families keyed by a fixed number `N` of label
//!   values (`[&str; N]`). Series live in a 16-way sharded map of `RwLock`s; recording
//!   into an existing series hashes the labels (FxHash, no allocation), takes one shard
//!   read lock and does the atomic update. Only the first recording of a combination
//!   takes a write lock. [`CounterVec::handle`] returns a pre-resolved `Arc` for callers
//!   that want to skip the lookup entirely.
//!
//! # Bounded cardinality
//!
//! Each family holds at most [`DEFAULT_MAX_SERIES`] label combinations (adjustable with
//! `with_max_series`). Further combinations are recorded into one series whose label
//! values are all [`OTHER`] (`"other"`), and each such recording is counted in
//! `rampart_metrics_series_overflow_total`. Label values are cut to
//! [`MAX_LABEL_VALUE_BYTES`] at a char boundary before lookup, and escaped (`\`, `"`,
//! newline) on render.
//!
//! # The gateway's families
//!
//! [`GatewayMetrics`] holds every family the gateway records (`rampart_requests_total`,
//! `rampart_request_duration_seconds`, `rampart_overhead_seconds`,
//! `rampart_auth_failures_total`, `rampart_detections_total`, `rampart_tokens_total`,
//! `rampart_cost_usd_total`, `rampart_upstream_errors_total`, `rampart_anomalies_total`,
//! the `rampart_audit_*` snapshot and `rampart_metrics_series_overflow_total`).
//! [`GatewayMetrics::render`] appends them to a `String` so other families can be added
//! to the same body.
//!
//! ```
//! use std::time::Duration;
//! use rampart_metrics::GatewayMetrics;
//!
//! let m = GatewayMetrics::new();
//! m.request("/v1/chat/completions", "gpt-4o", "openai", 200, Duration::from_millis(420), Duration::from_micros(300));
//! m.cost_micros("gpt-4o", "openai", 1_500_000);
//! let mut body = String::new();
//! m.render(&mut body);
//! assert!(body.contains("rampart_cost_usd_total{model=\"gpt-4o\",provider=\"openai\"} 1.5\n"));
//! ```

#![warn(missing_docs)]

mod family;
mod gateway;
mod metric;
mod text;

pub use family::{CounterVec, DEFAULT_MAX_SERIES, HistogramVec, OTHER};
pub use gateway::{AuditGauges, GatewayMetrics, OVERHEAD_BUCKETS, REQUEST_DURATION_BUCKETS};
pub use metric::{Counter, Gauge, Histogram};
pub use text::MAX_LABEL_VALUE_BYTES;
