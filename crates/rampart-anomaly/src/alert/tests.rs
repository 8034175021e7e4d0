//! Alerter tests against real HTTP receivers bound on 127.0.0.1:0: each receiver answers
//! with a scripted list of statuses (then 200) and records what it got.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::Instant;

use http_body_util::BodyExt;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use super::*;
use crate::{AnomalyKind, Severity};

#[derive(Debug, Clone)]
pub(crate) struct Received {
    pub(crate) headers: http::HeaderMap,
    pub(crate) body: serde_json::Value,
}

pub(crate) struct Receiver {
    addr: SocketAddr,
    got: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    pub(crate) fn url(&self) -> String {
        format!("http://{}/hooks/secret-path", self.addr)
    }

    pub(crate) fn received(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }

    pub(crate) async fn wait_for(&self, n: usize) -> Vec<Received> {
        let start = Instant::now();
        while self.got.lock().unwrap().len() < n {
            assert!(start.elapsed() < Duration::from_secs(10), "receiver got {} of {n}", self.received().len());
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        self.received()
    }
}

/// A receiver answering request n with `script[n]` (200 once the script is exhausted);
/// status 0 means "never answer".
pub(crate) async fn receiver(script: Vec<u16>) -> Receiver {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let got: Arc<Mutex<Vec<Received>>> = Arc::default();
    let script = Arc::new(script);
    let seen = Arc::new(AtomicU64::new(0));
    let got_in = Arc::clone(&got);
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { return };
            let got = Arc::clone(&got_in);
            let script = Arc::clone(&script);
            let seen = Arc::clone(&seen);
            tokio::spawn(async move {
                let service = service_fn(move |request: http::Request<hyper::body::Incoming>| {
                    let got = Arc::clone(&got);
                    let script = Arc::clone(&script);
                    let seen = Arc::clone(&seen);
                    async move {
                        let n = seen.fetch_add(1, Ordering::SeqCst) as usize;
                        let status = script.get(n).copied().unwrap_or(200);
                        let (parts, body) = request.into_parts();
                        let bytes = body.collect().await?.to_bytes();
                        let body = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
                        got.lock().unwrap().push(Received { headers: parts.headers, body });
                        if status == 0 {
                            tokio::time::sleep(Duration::from_secs(3_600)).await;
                        }
                        let response = http::Response::builder()
                            .status(status)
                            .body(Full::new(Bytes::from_static(b"{}")))
                            .unwrap();
                        Ok::<_, hyper::Error>(response)
                    }
                });
                let _ =
                    hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
            });
        }
    });
    Receiver { addr, got }
}

fn anomaly(key: &str) -> Anomaly {
    Anomaly {
        key: key.to_owned(),
        kind: AnomalyKind::RateBurst,
        at_ms: 1_764_747_105_123,
        observed: 400.0,
        baseline: 20.5,
        severity: Severity::Warning,
        detail: "requests in current 10000 ms bucket: 400".to_owned(),
    }
}

fn fast(url: String, format: WebhookFormat) -> WebhookConfig {
    WebhookConfig {
        timeout: Duration::from_secs(2),
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(50),
        ..WebhookConfig::new(url, format)
    }
}

fn alerter(webhooks: Vec<WebhookConfig>) -> Alerter {
    Alerter::spawn(AlerterConfig { webhooks, ..AlerterConfig::default() })
}

pub(crate) async fn settle(alerter: &Alerter) -> AlertStats {
    let start = Instant::now();
    loop {
        let stats = alerter.stats();
        if stats.pending == 0 {
            return stats;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "still pending: {stats:?}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn json_alert_delivered_with_fields() {
    let rx = receiver(vec![]).await;
    let mut hook = fast(rx.url(), WebhookFormat::Json);
    hook.headers.push(("Authorization".to_owned(), "Bearer hook-token".to_owned()));
    let alerter = alerter(vec![hook]);
    alerter.send(anomaly("key-1"));
    let got = rx.wait_for(1).await;
    let body = &got[0].body;
    assert_eq!(body["type"], "rampart.anomaly");
    assert_eq!(body["kind"], "rate_burst");
    assert_eq!(body["key_id"], "key-1");
    assert_eq!(body["severity"], "warning");
    assert_eq!(body["observed"], 400.0);
    assert_eq!(body["baseline"], 20.5);
    assert_eq!(body["detail"], "requests in current 10000 ms bucket: 400");
    assert_eq!(body["at"], "2025-12-03T07:31:45.123Z");
    assert_eq!(body["at_ms"], 1_764_747_105_123i64);
    assert_eq!(got[0].headers["authorization"], "Bearer hook-token");
    assert_eq!(got[0].headers["content-type"], "application/json");
    let stats = settle(&alerter).await;
    assert_eq!(stats, AlertStats { sent: 1, ..AlertStats::default() });
}

#[tokio::test]
async fn slack_format_is_one_text_field() {
    let rx = receiver(vec![]).await;
    let alerter = alerter(vec![fast(rx.url(), WebhookFormat::Slack)]);
    alerter.send(anomaly("<!channel> key"));
    let got = rx.wait_for(1).await;
    let body = got[0].body.as_object().unwrap();
    assert_eq!(body.len(), 1);
    let text = body["text"].as_str().unwrap();
    for fact in
        ["rate_burst", "warning", "observed 400", "baseline 20.50", "2025-12-03T07:31:45.123Z", "10000 ms bucket"]
    {
        assert!(text.contains(fact), "{fact} missing in {text}");
    }
    assert!(text.contains("&lt;!channel&gt; key") && !text.contains("<!channel>"), "{text}");
}

#[tokio::test]
async fn server_errors_are_retried_until_delivered() {
    let rx = receiver(vec![503, 503, 200]).await;
    let alerter = alerter(vec![fast(rx.url(), WebhookFormat::Json)]);
    alerter.send(anomaly("k"));
    rx.wait_for(3).await;
    let stats = settle(&alerter).await;
    assert_eq!(stats, AlertStats { sent: 1, retries: 2, ..AlertStats::default() });
    assert_eq!(rx.received().len(), 3);
}

#[tokio::test]
async fn too_many_requests_is_retried() {
    let rx = receiver(vec![429, 200]).await;
    let alerter = alerter(vec![fast(rx.url(), WebhookFormat::Json)]);
    alerter.send(anomaly("k"));
    rx.wait_for(2).await;
    let stats = settle(&alerter).await;
    assert_eq!((stats.sent, stats.retries, stats.failed), (1, 1, 0));
}

#[tokio::test]
async fn client_error_is_not_retried() {
    let rx = receiver(vec![400]).await;
    let alerter = alerter(vec![fast(rx.url(), WebhookFormat::Json)]);
    alerter.send(anomaly("k"));
    rx.wait_for(1).await;
    let stats = settle(&alerter).await;
    assert_eq!(stats, AlertStats { failed: 1, ..AlertStats::default() });
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(rx.received().len(), 1, "a 400 must not be retried");
}

#[tokio::test]
async fn gives_up_after_max_attempts() {
    let rx = receiver(vec![500; 10]).await;
    let hook = WebhookConfig { max_attempts: 3, ..fast(rx.url(), WebhookFormat::Json) };
    let alerter = alerter(vec![hook]);
    alerter.send(anomaly("k"));
    rx.wait_for(3).await;
    let stats = settle(&alerter).await;
    assert_eq!(stats, AlertStats { failed: 1, retries: 2, ..AlertStats::default() });
}

#[tokio::test]
async fn connection_refused_is_retried_then_fails() {
    // Bind and drop a listener to get a port nothing listens on.
    let port = TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap().port();
    let hook = WebhookConfig { max_attempts: 2, ..fast(format!("http://127.0.0.1:{port}/"), WebhookFormat::Json) };
    let alerter = alerter(vec![hook]);
    alerter.send(anomaly("k"));
    let stats = settle(&alerter).await;
    assert_eq!(stats, AlertStats { failed: 1, retries: 1, ..AlertStats::default() });
}

#[tokio::test]
async fn full_queue_drops_and_send_never_blocks() {
    // The receiver never answers, so the one delivery in progress holds the queue.
    let rx = receiver(vec![0; 1_000]).await;
    let hook = WebhookConfig { timeout: Duration::from_secs(60), ..fast(rx.url(), WebhookFormat::Json) };
    let alerter = Alerter::spawn(AlerterConfig { webhooks: vec![hook], queue_capacity: 4 });
    let start = Instant::now();
    for i in 0..1_000 {
        alerter.send(anomaly(&format!("k{i}")));
    }
    assert!(start.elapsed() < Duration::from_millis(500), "send blocked: {:?}", start.elapsed());
    let stats = alerter.stats();
    // At most the queue plus the one taken by the delivery task are accepted.
    assert!(stats.dropped >= 1_000 - 5, "{stats:?}");
    assert_eq!(stats.dropped + stats.pending, 1_000, "{stats:?}");
    // Shutdown gives up at its deadline and counts what it abandoned.
    let stats = alerter.shutdown(Duration::from_millis(100)).await;
    assert_eq!(stats.dropped, 1_000, "{stats:?}");
    assert_eq!(stats.pending, 0);
}

#[tokio::test]
async fn a_stuck_webhook_does_not_stall_another() {
    let stuck = receiver(vec![0; 100]).await;
    let healthy = receiver(vec![]).await;
    let stuck_hook = WebhookConfig { timeout: Duration::from_secs(60), ..fast(stuck.url(), WebhookFormat::Json) };
    let alerter = alerter(vec![stuck_hook, fast(healthy.url(), WebhookFormat::Json)]);
    for i in 0..5 {
        alerter.send(anomaly(&format!("k{i}")));
    }
    let got = healthy.wait_for(5).await;
    let keys: Vec<&str> = got.iter().filter_map(|r| r.body["key_id"].as_str()).collect();
    assert_eq!(keys, ["k0", "k1", "k2", "k3", "k4"]);
    let start = Instant::now();
    while alerter.stats().sent < 5 {
        assert!(start.elapsed() < Duration::from_secs(10), "{:?}", alerter.stats());
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn shutdown_drains_queued_alerts() {
    let rx = receiver(vec![503]).await;
    let alerter = alerter(vec![fast(rx.url(), WebhookFormat::Json)]);
    for i in 0..3 {
        alerter.send(anomaly(&format!("k{i}")));
    }
    let stats = alerter.shutdown(Duration::from_secs(10)).await;
    assert_eq!(stats, AlertStats { sent: 3, retries: 1, ..AlertStats::default() });
    assert_eq!(rx.received().len(), 4);
}

#[tokio::test]
async fn invalid_webhooks_are_reported_and_skipped() {
    let bad_url = AlerterConfig {
        webhooks: vec![WebhookConfig::new("ftp://example.com/x", WebhookFormat::Json)],
        ..AlerterConfig::default()
    };
    assert!(matches!(bad_url.validate(), Err(AlertSetupError::BadUrl { index: 0, .. })));
    let mut hook = WebhookConfig::new("http://127.0.0.1:9/", WebhookFormat::Json);
    hook.headers.push(("authorization".to_owned(), "bad\nvalue".to_owned()));
    let bad_header = AlerterConfig { webhooks: vec![hook], ..AlerterConfig::default() };
    let error = bad_header.validate().unwrap_err();
    assert!(!error.to_string().contains("bad\nvalue"));
    let alerter = Alerter::spawn(bad_header);
    assert_eq!(alerter.webhooks(), 0);
    alerter.send(anomaly("k"));
    assert_eq!(alerter.stats(), AlertStats::default());
}

#[test]
fn debug_output_redacts_secrets() {
    let mut hook = WebhookConfig::new("https://hooks.example.com/services/T000/B000/SECRETPATH", WebhookFormat::Slack);
    hook.headers.push(("Authorization".to_owned(), "Bearer SECRETTOKEN".to_owned()));
    let debug = format!("{hook:?}");
    assert!(debug.contains("https://hooks.example.com"), "{debug}");
    assert!(!debug.contains("SECRETPATH") && !debug.contains("SECRETTOKEN"), "{debug}");
    assert!(debug.contains("Authorization"));
}

#[test]
fn send_outside_a_runtime_counts_drops() {
    let alerter = Alerter::spawn(AlerterConfig::default());
    alerter.send(anomaly("k"));
    assert_eq!(alerter.stats().dropped, 1);
}

#[test]
fn backoff_doubles_and_caps() {
    let hook = WebhookConfig::new("http://127.0.0.1/", WebhookFormat::Json);
    let target = Target::prepare(0, &hook).unwrap();
    let waits: Vec<u64> = (1..=8).map(|a| target.backoff(a).as_millis() as u64).collect();
    assert_eq!(waits, [500, 1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000]);
    assert_eq!(target.backoff(u32::MAX), Duration::from_secs(30));
}

#[test]
fn rfc3339_formatting() {
    assert_eq!(rfc3339_from_unix_ms(0), "1970-01-01T00:00:00.000Z");
    assert_eq!(rfc3339_from_unix_ms(951_782_400_000), "2000-02-29T00:00:00.000Z");
    assert_eq!(rfc3339_from_unix_ms(1_764_747_105_123), "2025-12-03T07:31:45.123Z");
    assert_eq!(rfc3339_from_unix_ms(-1), "1969-12-31T23:59:59.999Z");
    let _ = rfc3339_from_unix_ms(i64::MIN);
    let _ = rfc3339_from_unix_ms(i64::MAX);
}
