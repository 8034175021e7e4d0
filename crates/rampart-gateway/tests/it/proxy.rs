//! Every OpenAI endpoint is forwarded to the provider with the credential swapped,
//! bodies verbatim (unknown fields included), and answers relayed.

use bytes::Bytes;
use http::Method;
use http_body_util::Full;
use rampart_test::{Harness, PROVIDER_KEY, chat_body};

/// The last request the mock received.
fn last(h: &Harness) -> rampart_test::RecordedRequest {
    h.mock.requests().pop().expect("the mock received nothing")
}

#[tokio::test]
async fn forwards_each_json_endpoint_with_the_provider_credential() {
    let h = Harness::start().await;
    let key = h.any_key().await;
    let cases = [
        ("/v1/chat/completions", chat_body("gpt-4o-mini")),
        ("/v1/completions", r#"{"model":"gpt-3.5-turbo-instruct","prompt":"hi"}"#.to_owned()),
        ("/v1/embeddings", r#"{"model":"text-embedding-3-small","input":["a","b"]}"#.to_owned()),
        ("/v1/moderations", r#"{"input":"hello"}"#.to_owned()),
        ("/v1/responses", r#"{"model":"gpt-4o-mini","input":"hi"}"#.to_owned()),
        ("/v1/images/generations", r#"{"model":"dall-e-3","prompt":"a cat"}"#.to_owned()),
        ("/v1/audio/speech", r#"{"model":"tts-1","input":"hi","voice":"alloy"}"#.to_owned()),
    ];
    for (path, body) in cases {
        let response = h.client.post_json(path, &key, &body).await;
        assert_eq!(response.status, 200, "{path}: {}", response.text());
        assert!(response.headers.get("x-request-id").is_some(), "{path}");
        let seen = last(&h);
        assert_eq!(seen.path, path);
        assert_eq!(seen.body, body.as_bytes(), "{path}: body must be forwarded verbatim");
        assert_eq!(seen.headers["authorization"], format!("Bearer {PROVIDER_KEY}"), "{path}");
        let forwarded = format!("{:?}", seen.headers);
        assert!(!forwarded.contains(&key), "{path}: the client key went upstream");
    }
}

#[tokio::test]
async fn the_client_key_never_goes_upstream_and_the_provider_key_never_comes_back() {
    let h = Harness::start().await;
    let key = h.any_key().await;
    let request = h
        .client
        .request(Method::POST, "/v1/chat/completions")
        .header("api-key", &key)
        .header("x-api-key", &key)
        .header("cookie", "session=abc")
        .header("content-type", "application/json")
        .header("openai-beta", "assistants=v2")
        .body(Full::new(Bytes::from(chat_body("gpt-4o-mini"))))
        .unwrap();
    let response = h.client.send(request).await;
    assert_eq!(response.status, 200, "{}", response.text());
    let seen = last(&h);
    for (name, value) in &seen.headers {
        let value = value.to_str().unwrap_or_default();
        assert!(!value.contains(&key), "client key leaked upstream in {name}");
    }
    assert!(seen.headers.get("cookie").is_none());
    assert_eq!(seen.headers["openai-beta"], "assistants=v2", "ordinary headers pass");
    let returned = format!("{:?}{}", response.headers, response.text());
    assert!(!returned.contains(PROVIDER_KEY));
}

#[tokio::test]
async fn unknown_fields_pass_verbatim_both_ways_and_aliases_are_rewritten() {
    let h = Harness::start().await;
    let key = h.any_key().await;
    let body = r#"{"model":"alias-model","messages":[{"role":"user","content":[{"type":"text","text":"what is this?"},{"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo="}}]}],"tools":[{"type":"function","function":{"name":"lookup","parameters":{"type":"object"}}}],"response_format":{"type":"json_object"},"x_vendor_extension":{"n":1.50,"deep":[null,true]}}"#;
    let response = h.client.post_json("/v1/chat/completions", &key, body).await;
    assert_eq!(response.status, 200, "{}", response.text());
    // The response's unknown field came back untouched.
    assert_eq!(response.json()["x_mock_extra"], serde_json::json!({"kept": true}));
    let seen = last(&h);
    let expected = body.replacen(r#""model":"alias-model""#, r#""model":"mock-model""#, 1);
    assert_eq!(String::from_utf8_lossy(&seen.body), expected);
}

#[tokio::test]
async fn models_list_shows_only_what_the_key_may_use() {
    let h = Harness::start().await;
    let (_, narrow) = h.key(&["gpt-4o*", "alias-*"]).await;
    let response = h.client.get("/v1/models", &narrow).await;
    assert_eq!(response.status, 200, "{}", response.text());
    let ids: Vec<String> =
        response.json()["data"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap().to_owned()).collect();
    assert_eq!(ids, ["alias-model", "gpt-4o-mini", "gpt-4o"]);

    let all = h.any_key().await;
    let response = h.client.get("/v1/models", &all).await;
    assert_eq!(response.json()["data"].as_array().unwrap().len(), 6);

    let response = h.client.get("/v1/models/gpt-4o", &narrow).await;
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(response.json()["id"], "gpt-4o");
    let response = h.client.get("/v1/models/o1-pro", &narrow).await;
    assert_eq!(response.status, 404);
    assert_eq!(response.error_code().as_deref(), Some("model_not_found"));
}

#[tokio::test]
async fn multipart_uploads_stream_through_and_file_routes_pass() {
    let h = Harness::start().await;
    // The default profile refuses uploads it cannot inspect (a batch file carries
    // requests of its own); a profile with `opaque_input = "allow"` streams them.
    let default = h.any_key().await;
    let refused = h
        .client
        .send(
            h.client
                .request(Method::POST, "/v1/files")
                .header("authorization", format!("Bearer {default}"))
                .header("content-type", "multipart/form-data; boundary=x")
                .body(Full::new(Bytes::from_static(b"--x--\r\n")))
                .unwrap(),
        )
        .await;
    assert_eq!(refused.status, 400);
    assert_eq!(refused.error_code().as_deref(), Some("content_policy_violation"));
    assert_eq!(h.mock.request_count(), 0);
    let key = h.policy_key("off").await;
    let boundary = "rampartboundary";
    let payload = vec![b'x'; 600 * 1024];
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\nbatch\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"in.jsonl\"\r\nContent-Type: application/octet-stream\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(&payload);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let total = body.len() as u64;
    for path in ["/v1/files", "/v1/audio/transcriptions", "/v1/images/edits"] {
        let request = h
            .client
            .request(Method::POST, path)
            .header("authorization", format!("Bearer {key}"))
            .header("content-type", format!("multipart/form-data; boundary={boundary}"))
            .body(Full::new(Bytes::from(body.clone())))
            .unwrap();
        let response = h.client.send(request).await;
        assert_eq!(response.status, 200, "{path}: {}", response.text());
        let seen = last(&h);
        assert_eq!((seen.path.as_str(), seen.body_len), (path, total));
        assert!(seen.headers["content-type"].to_str().unwrap().contains(boundary));
    }
    for (method, path) in [
        (Method::GET, "/v1/files?purpose=batch"),
        (Method::GET, "/v1/files/file-mock"),
        (Method::GET, "/v1/files/file-mock/content"),
        (Method::DELETE, "/v1/files/file-mock"),
        (Method::GET, "/v1/batches"),
        (Method::GET, "/v1/batches/batch_mock"),
        (Method::POST, "/v1/batches/batch_mock/cancel"),
    ] {
        let request = h
            .client
            .request(method.clone(), path)
            .header("authorization", format!("Bearer {key}"))
            .body(Full::new(Bytes::new()))
            .unwrap();
        let response = h.client.send(request).await;
        assert_eq!(response.status, 200, "{method} {path}: {}", response.text());
        let seen = last(&h);
        assert_eq!((seen.method, seen.path.as_str()), (method, path));
    }
    let response = h
        .client
        .post_json(
            "/v1/batches",
            &key,
            r#"{"input_file_id":"file-mock","endpoint":"/v1/chat/completions","completion_window":"24h"}"#,
        )
        .await;
    assert_eq!(response.status, 200, "{}", response.text());
}

#[tokio::test]
async fn pass_through_paths_cannot_be_bent_into_other_endpoints() {
    let h = Harness::start().await;
    let key = h.any_key().await;
    for path in ["/v1/files/..%2Fchat%2Fcompletions", "/v1/files/%2e%2e/chat/completions", "/v1/audio/./speech"] {
        let response = h.client.post_json(path, &key, r#"{"model":"tts-1"}"#).await;
        assert!(matches!(response.status.as_u16(), 400 | 404 | 405), "{path}: {}", response.status);
    }
    assert_eq!(h.mock.request_count(), 0);
}

#[tokio::test]
async fn unknown_paths_and_methods_get_openai_errors() {
    let h = Harness::start().await;
    let key = h.any_key().await;
    let response = h.client.get("/v1/assistants", &key).await;
    assert_eq!(response.status, 404);
    assert_eq!(response.error_code().as_deref(), Some("unknown_url"));
    assert!(response.json()["error"]["message"].is_string());
    assert!(response.headers.get("x-request-id").is_some());
    let response = h.client.get("/v1/chat/completions", &key).await;
    assert_eq!(response.status, 405);
    assert_eq!(response.json()["error"]["type"], "invalid_request_error");
    assert_eq!(h.mock.request_count(), 0);
}

#[tokio::test]
async fn provider_errors_are_relayed_as_they_are() {
    let h = Harness::start().await;
    let key = h.any_key().await;
    let request =
        h.client.json_request("/v1/chat/completions", &key, &chat_body("gpt-4o-mini"), &[("x-mock-status", "429")]);
    let response = h.client.send(request).await;
    assert_eq!(response.status, 429);
    assert!(response.json()["error"].is_object());
}

#[tokio::test]
async fn unlisted_models_are_404_without_a_default_provider() {
    let h = Harness::start_with(rampart_test::Options { default_provider: false, ..Default::default() }).await;
    let key = h.any_key().await;
    let response = h.client.post_json("/v1/chat/completions", &key, &chat_body("gpt-4o-mini")).await;
    assert_eq!(response.status, 404);
    assert_eq!(response.error_code().as_deref(), Some("model_not_found"));
    let response = h.client.post_json("/v1/chat/completions", &key, &chat_body("alias-model")).await;
    assert_eq!(response.status, 200);
    assert_eq!(last(&h).body, chat_body("mock-model").as_bytes());
}
