//! Streaming: SSE passes byte for byte and chunk by chunk, a provider failing
//! mid-stream ends the client's stream cleanly, and a client leaving cancels upstream.

use std::time::Duration;

use http_body_util::BodyExt;
use rampart_test::{Harness, PROVIDER_KEY, TestClient};

const STREAM_CHAT: &str = r#"{"model":"gpt-4o-mini","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"lookup","parameters":{"type":"object"}}}]}"#;

/// What a client makes of a stream: chat content, tool arguments, finish reasons and
/// usage per choice; completions text; the Responses API's final output.
fn meaning(body: &[u8]) -> Vec<String> {
    let mut texts: std::collections::BTreeMap<String, String> = Default::default();
    for line in std::str::from_utf8(body).unwrap().lines() {
        let Some(data) = line.strip_prefix("data: ") else { continue };
        if data == "[DONE]" {
            texts.entry("done".into()).or_default().push('1');
            continue;
        }
        let event: serde_json::Value = serde_json::from_str(data).unwrap();
        if event["type"] == "response.completed" {
            texts.insert("response".into(), event["response"]["output"].to_string());
        }
        if !event["usage"].is_null() {
            texts.insert("usage".into(), event["usage"].to_string());
        }
        for choice in event["choices"].as_array().into_iter().flatten() {
            let i = choice["index"].to_string();
            let mut add = |key: String, value: &serde_json::Value| {
                if let Some(v) = value.as_str() {
                    texts.entry(key).or_default().push_str(v);
                }
            };
            add(format!("{i}.content"), &choice["delta"]["content"]);
            add(format!("{i}.text"), &choice["text"]);
            add(format!("{i}.finish"), &choice["finish_reason"]);
            for call in choice["delta"]["tool_calls"].as_array().into_iter().flatten() {
                add(format!("{i}.call{}", call["index"]), &call["function"]["arguments"]);
            }
        }
    }
    texts.into_iter().map(|(k, v)| format!("{k}={v}")).collect()
}

#[tokio::test]
async fn sse_passes_byte_for_byte_without_inspection_and_unchanged_in_meaning_with_it() {
    let h = Harness::start().await;
    let inspected = h.any_key().await;
    let key = h.policy_key("off").await;
    let direct = TestClient::new(h.mock.addr());
    for (path, body) in [
        ("/v1/chat/completions", STREAM_CHAT.to_owned()),
        (
            "/v1/chat/completions",
            STREAM_CHAT.replace(
                r#","tools":[{"type":"function","function":{"name":"lookup","parameters":{"type":"object"}}}]"#,
                "",
            ),
        ),
        ("/v1/completions", r#"{"model":"gpt-3.5-turbo-instruct","prompt":"hi","stream":true}"#.to_owned()),
        ("/v1/responses", r#"{"model":"gpt-4o-mini","input":"hi","stream":true}"#.to_owned()),
    ] {
        let controls = [("x-mock-chunks", "40")];
        let via = h.client.send(h.client.json_request(path, &key, &body, &controls)).await;
        let straight = direct.send(direct.json_request(path, PROVIDER_KEY, &body, &controls)).await;
        assert_eq!(via.status, 200, "{path}: {}", via.text());
        assert_eq!(via.headers["content-type"], straight.headers["content-type"]);
        assert_eq!(via.body, straight.body, "{path}: stream altered");
        assert!(via.body.len() > 1000, "{path}: suspiciously short stream");
        // Inspected, events may be re-cut (held text moves to a later event) but a
        // client reads the same answer.
        let via = h.client.send(h.client.json_request(path, &inspected, &body, &controls)).await;
        assert_eq!(via.status, 200, "{path}: {}", via.text());
        assert_eq!(meaning(&via.body), meaning(&straight.body), "{path}: stream changed meaning");
    }
}

#[tokio::test]
async fn events_reach_the_client_while_the_provider_is_still_streaming() {
    let h = Harness::start().await;
    let key = h.any_key().await;
    // The mock sends its first event at once, then waits a minute before the next:
    // the first event can only arrive in time if nothing buffers the stream.
    let request =
        h.client.json_request("/v1/chat/completions", &key, STREAM_CHAT, &[("x-mock-chunk-delay-ms", "60000")]);
    let response = h.client.send_streaming(request).await;
    assert_eq!(response.status(), 200);
    let mut body = response.into_body();
    let frame = tokio::time::timeout(Duration::from_secs(10), body.frame()).await.expect("first event was held back");
    let data = frame.unwrap().unwrap().into_data().unwrap();
    assert!(data.starts_with(b"data: {"), "{data:?}");
    assert!(data.ends_with(b"\n\n"));
}

#[tokio::test]
async fn a_provider_failing_mid_stream_ends_the_stream_with_an_error_event() {
    let h = Harness::start().await;
    let key = h.any_key().await;
    let request =
        h.client.json_request("/v1/chat/completions", &key, STREAM_CHAT, &[("x-mock-fail", "reset-mid-stream")]);
    let response = h.client.send(request).await;
    assert_eq!(response.status, 200);
    let text = response.text();
    let events: Vec<&str> = text.split("\n\n").filter(|e| !e.is_empty()).collect();
    assert_eq!(events.len(), 3, "{text}");
    let last: serde_json::Value = serde_json::from_str(events[2].strip_prefix("data: ").unwrap()).unwrap();
    assert_eq!(last["error"]["code"], "upstream_error");
    assert!(!text.contains("[DONE]"));
    // rampart keeps serving.
    let again = h.client.post_json("/v1/chat/completions", &key, &rampart_test::chat_body("gpt-4o-mini")).await;
    assert_eq!(again.status, 200);
}

#[tokio::test]
async fn a_provider_going_silent_mid_stream_hits_the_idle_timeout() {
    let h = Harness::start_with(rampart_test::Options { idle_timeout: "300ms".into(), ..Default::default() }).await;
    let key = h.any_key().await;
    let request = h.client.json_request("/v1/chat/completions", &key, STREAM_CHAT, &[("x-mock-fail", "hang-body")]);
    let response =
        tokio::time::timeout(Duration::from_secs(10), h.client.send(request)).await.expect("stream never ended");
    assert_eq!(response.status, 200);
    assert!(response.text().contains("stopped sending data"), "{}", response.text());
}

#[tokio::test]
async fn a_client_leaving_mid_stream_cancels_the_upstream_stream() {
    let h = Harness::start().await;
    let key = h.any_key().await;
    let request = h.client.json_request(
        "/v1/chat/completions",
        &key,
        STREAM_CHAT,
        &[("x-mock-chunks", "100000"), ("x-mock-chunk-delay-ms", "20")],
    );
    let response = h.client.send_streaming(request).await;
    let mut body = response.into_body();
    for _ in 0..3 {
        body.frame().await.unwrap().unwrap();
    }
    assert_eq!(h.mock.open_streams(), 1);
    drop(body);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while h.mock.open_streams() > 0 {
        assert!(tokio::time::Instant::now() < deadline, "the upstream stream was not cancelled");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        h.client.post_json("/v1/chat/completions", &key, &rampart_test::chat_body("gpt-4o-mini")).await.status,
        200
    );
}
