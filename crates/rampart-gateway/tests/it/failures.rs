//! Upstream failures become clean OpenAI errors, and rampart keeps serving.

use std::time::Duration;

use rampart_test::{Harness, Options, chat_body};

#[tokio::test]
async fn an_unreachable_provider_is_a_502() {
    // Port 1 on loopback: nothing listens there, so the connection is refused.
    let h =
        Harness::start_with(Options { provider_base_url: Some("http://127.0.0.1:1/v1".into()), ..Default::default() })
            .await;
    let key = h.any_key().await;
    let response = h.client.post_json("/v1/chat/completions", &key, &chat_body("gpt-4o-mini")).await;
    assert_eq!(response.status, 502, "{}", response.text());
    assert_eq!(response.error_code().as_deref(), Some("upstream_error"));
    assert!(response.headers.get("x-request-id").is_some());
}

#[tokio::test]
async fn a_slow_provider_is_a_504() {
    let h = Harness::start_with(Options { response_timeout: "300ms".into(), ..Default::default() }).await;
    let key = h.any_key().await;
    let request =
        h.client.json_request("/v1/chat/completions", &key, &chat_body("gpt-4o-mini"), &[("x-mock-delay-ms", "5000")]);
    let response = h.client.send(request).await;
    assert_eq!(response.status, 504, "{}", response.text());
    assert_eq!(response.error_code().as_deref(), Some("upstream_timeout"));
    // The provider may be working on it: SDKs must not retry on their own.
    assert_eq!(response.headers["x-should-retry"], "false");
    assert_eq!(h.client.post_json("/v1/chat/completions", &key, &chat_body("gpt-4o-mini")).await.status, 200);
}

#[tokio::test]
async fn a_provider_closing_without_an_answer_is_a_502() {
    let h = Harness::start().await;
    let key = h.any_key().await;
    let request =
        h.client.json_request("/v1/chat/completions", &key, &chat_body("gpt-4o-mini"), &[("x-mock-fail", "close")]);
    let response = h.client.send(request).await;
    assert_eq!(response.status, 502, "{}", response.text());
    // Sent once: no retry of a request that reached the provider.
    assert_eq!(h.mock.request_count(), 1);
    assert_eq!(h.client.post_json("/v1/chat/completions", &key, &chat_body("gpt-4o-mini")).await.status, 200);
}

#[tokio::test]
async fn a_provider_reset_after_the_head_terminates_the_body() {
    let h = Harness::start().await;
    // Inspected responses are read whole first: a broken one is a clean 502.
    let inspected = h.any_key().await;
    let request = h.client.json_request(
        "/v1/chat/completions",
        &inspected,
        &chat_body("gpt-4o-mini"),
        &[("x-mock-fail", "reset-mid-stream")],
    );
    let response = h.client.send(request).await;
    assert_eq!(response.status, 502, "{}", response.text());
    assert_eq!(response.headers["x-should-retry"], "false");
    // Relayed as it arrives (inspection off): the body is cut, never made to look whole.
    let key = h.policy_key("off").await;
    let request = h.client.json_request(
        "/v1/chat/completions",
        &key,
        &chat_body("gpt-4o-mini"),
        &[("x-mock-fail", "reset-mid-stream")],
    );
    let response = h.client.send_streaming(request).await;
    assert_eq!(response.status(), 200);
    let body = http_body_util::BodyExt::collect(response.into_body()).await;
    assert!(body.is_err(), "a truncated JSON body must not look complete");
    assert_eq!(h.mock.request_count(), 2);
    assert_eq!(h.client.post_json("/v1/chat/completions", &key, &chat_body("gpt-4o-mini")).await.status, 200);
}

#[tokio::test]
async fn a_client_leaving_before_the_answer_cancels_the_upstream_request() {
    let h = Harness::start().await;
    let key = h.any_key().await;
    // The provider would answer only after a minute.
    let request =
        h.client.json_request("/v1/chat/completions", &key, &chat_body("gpt-4o-mini"), &[("x-mock-delay-ms", "60000")]);
    let client = h.client.clone();
    let waiting = tokio::spawn(async move { client.send(request).await });
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while h.mock.pending_responses() == 0 {
        assert!(tokio::time::Instant::now() < deadline, "the request never reached the provider");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // The client gives up: its connection closes.
    waiting.abort();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while h.mock.pending_responses() > 0 {
        assert!(tokio::time::Instant::now() < deadline, "the upstream request was not cancelled");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(h.mock.request_count(), 1);
}
