//! Graceful shutdown: in-flight streams finish, new connections are refused, and the
//! grace period bounds the wait.

use std::time::Duration;

use bytes::Bytes;
use http::Method;
use http_body_util::{BodyExt, Full};
use rampart_test::{Harness, Options};

fn slow_stream(h: &Harness, key: &str, chunks: &str) -> http::Request<Full<Bytes>> {
    h.client
        .request(Method::POST, "/v1/chat/completions")
        .header("authorization", format!("Bearer {key}"))
        .header("x-mock-chunks", chunks)
        .header("x-mock-chunk-delay-ms", "50")
        .body(Full::new(Bytes::from_static(
            br#"{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"hi"}]}"#,
        )))
        .unwrap()
}

#[tokio::test]
async fn in_flight_streams_drain_before_shutdown_completes() {
    let mut h = Harness::start().await;
    let key = h.any_key().await;
    let response = h.client.send_streaming(slow_stream(&h, &key, "20")).await;
    let mut body = response.into_body();
    let first = body.frame().await.unwrap().unwrap().into_data().unwrap();
    let gateway = h.take_gateway();
    let addr = gateway.local_addr();
    let shutdown = tokio::spawn(gateway.shutdown());
    // Give the accept loop a moment to stop; then new connections are refused.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(tokio::net::TcpStream::connect(addr).await.is_err(), "still accepting after shutdown began");
    let mut rest = first.to_vec();
    while let Some(frame) = body.frame().await {
        rest.extend_from_slice(&frame.expect("the in-flight stream was cut").into_data().unwrap());
    }
    let text = String::from_utf8(rest).unwrap();
    assert!(text.ends_with("data: [DONE]\n\n"), "{text}");
    tokio::time::timeout(Duration::from_secs(10), shutdown).await.unwrap().unwrap();
    // The drained stream's record was completed after its last bytes and committed
    // before the shutdown finished: in the store, not only in the journal.
    let trail = rampart_audit::AuditStore::connect(&h.store_url).await.unwrap();
    let filter = rampart_audit::QueryFilter { kind: Some(rampart_audit::RecordKind::Request), ..Default::default() };
    let records = trail.query(&filter, None, 100).await.unwrap().records;
    assert_eq!(records.len(), 1, "{records:?}");
    let record = &records[0].record;
    assert_eq!(record.status, Some(200));
    assert_eq!(record.error, None, "the stream ended complete");
}

#[tokio::test]
async fn the_grace_period_bounds_the_drain() {
    let mut h = Harness::start_with(Options { shutdown_grace: "300ms".into(), ..Default::default() }).await;
    let key = h.any_key().await;
    let response = h.client.send_streaming(slow_stream(&h, &key, "100000")).await;
    let mut body = response.into_body();
    body.frame().await.unwrap().unwrap();
    let gateway = h.take_gateway();
    tokio::time::timeout(Duration::from_secs(10), gateway.shutdown()).await.expect("shutdown ignored its grace period");
}
