//! Many concurrent clients: every request is served, none fails.

use futures_util::future::join_all;
use rampart_test::{Harness, chat_body};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_1000_concurrent_requests_without_error() {
    let h = Harness::start().await;
    let key = h.any_key().await;
    let body = chat_body("gpt-4o-mini");
    let stream_body = r#"{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"hi"}]}"#;
    let requests = (0..1000).map(|i| {
        let client = h.client.clone();
        let key = key.clone();
        let body = if i % 4 == 0 { stream_body.to_owned() } else { body.clone() };
        tokio::spawn(async move { client.post_json("/v1/chat/completions", &key, &body).await })
    });
    let responses = join_all(requests).await;
    let mut ok = 0;
    for response in responses {
        let response = response.unwrap();
        assert_eq!(response.status, 200, "{}", response.text());
        ok += 1;
    }
    assert_eq!(ok, 1000);
    assert_eq!(h.mock.request_count(), 1000);
}
