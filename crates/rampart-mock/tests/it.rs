//! End-to-end tests: a real mock server on 127.0.0.1:0 and a real HTTP client.

use std::time::{Duration, Instant};

use base64::Engine;
use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use rampart_mock::{MockOptions, MockProvider, router, serve};
use serde_json::{Value, json};

type Error = Box<dyn std::error::Error + Send + Sync>;
type TestResult = Result<(), Error>;

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl Answer {
    fn json(&self) -> Result<Value, Error> {
        Ok(serde_json::from_slice(&self.body)?)
    }

    fn text(&self) -> &str {
        std::str::from_utf8(&self.body).unwrap_or("<not utf-8>")
    }

    /// The `data:` payloads of an SSE body, in order.
    fn sse_data(&self) -> Vec<String> {
        sse_data(self.text())
    }
}

fn sse_data(text: &str) -> Vec<String> {
    text.split("\n\n")
        .filter(|event| !event.is_empty())
        .filter_map(|event| event.lines().find_map(|line| line.strip_prefix("data: ")).map(str::to_owned))
        .collect()
}

fn client() -> Client<HttpConnector, Full<Bytes>> {
    Client::builder(TokioExecutor::new()).build_http()
}

async fn send(
    mock: &MockProvider,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: impl Into<Bytes>,
) -> Result<http::Response<Incoming>, Error> {
    let mut request = Request::builder().method(method).uri(format!("http://{}{path}", mock.addr()));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    Ok(client().request(request.body(Full::new(body.into()))?).await?)
}

async fn call(
    mock: &MockProvider,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: impl Into<Bytes>,
) -> Result<Answer, Error> {
    let response = send(mock, method, path, headers, body).await?;
    let (parts, body) = response.into_parts();
    Ok(Answer { status: parts.status, headers: parts.headers, body: body.collect().await?.to_bytes() })
}

async fn post(mock: &MockProvider, path: &str, body: Value) -> Result<Answer, Error> {
    post_with(mock, path, &[], body).await
}

async fn post_with(mock: &MockProvider, path: &str, headers: &[(&str, &str)], body: Value) -> Result<Answer, Error> {
    let mut all = vec![("content-type", "application/json")];
    all.extend_from_slice(headers);
    call(mock, Method::POST, path, &all, body.to_string()).await
}

fn chat_request() -> Value {
    json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Say hi to the gateway"}]})
}

#[tokio::test]
async fn chat_completion_shape_and_determinism() -> TestResult {
    let mock = MockProvider::spawn().await?;
    let first = post(&mock, "/v1/chat/completions", chat_request()).await?;
    let second = post(&mock, "/v1/chat/completions", chat_request()).await?;
    assert_eq!(first.status, StatusCode::OK);
    assert_eq!(first.headers["content-type"], "application/json");
    assert!(first.headers.get("date").is_none());
    assert_eq!(first.body, second.body, "identical requests, identical bytes");
    assert_eq!(first.headers, second.headers);

    let v = first.json()?;
    assert_eq!(v["id"], "chatcmpl-mock");
    assert_eq!(v["object"], "chat.completion");
    assert_eq!(v["created"], 1_700_000_000);
    assert_eq!(v["model"], "gpt-4o-mini");
    assert_eq!(v["system_fingerprint"], "fp_mock");
    assert_eq!(v["x_mock_extra"], json!({"kept": true}));
    let choice = &v["choices"][0];
    assert_eq!(choice["finish_reason"], "stop");
    assert_eq!(choice["message"]["role"], "assistant");
    assert_eq!(choice["message"]["content"], "Hello from the rampart mock provider.");
    assert!(choice["message"]["refusal"].is_null());
    let usage = &v["usage"];
    assert!(usage["prompt_tokens"].as_u64() >= Some(1));
    assert_eq!(
        usage["total_tokens"].as_u64(),
        Some(usage["prompt_tokens"].as_u64().unwrap_or(0) + usage["completion_tokens"].as_u64().unwrap_or(0))
    );
    Ok(())
}

#[tokio::test]
async fn chat_accepts_multipart_content_and_json_mode() -> TestResult {
    let mock = MockProvider::spawn().await?;
    let body = json!({
        "model": "gpt-4o",
        "messages": [{"role": "user", "content": [
            {"type": "text", "text": "what is this?"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}
        ]}],
        "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {}}}
    });
    let v = post(&mock, "/v1/chat/completions", body).await?.json()?;
    let content = v["choices"][0]["message"]["content"].as_str().unwrap_or("");
    assert_eq!(serde_json::from_str::<Value>(content)?, json!({"mock": true}));
    Ok(())
}

#[tokio::test]
async fn chat_tool_call() -> TestResult {
    let mock = MockProvider::spawn().await?;
    let mut body = chat_request();
    body["tools"] = json!([
        {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}},
        {"type": "function", "function": {"name": "other"}}
    ]);
    let v = post(&mock, "/v1/chat/completions", body.clone()).await?.json()?;
    let choice = &v["choices"][0];
    assert_eq!(choice["finish_reason"], "tool_calls");
    assert!(choice["message"]["content"].is_null());
    assert_eq!(
        choice["message"]["tool_calls"],
        json!([{"id": "call_mock", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}])
    );

    body["tool_choice"] = json!("none");
    let v = post(&mock, "/v1/chat/completions", body.clone()).await?.json()?;
    assert_eq!(v["choices"][0]["finish_reason"], "stop");

    body["tool_choice"] = json!({"type": "function", "function": {"name": "other"}});
    body["stream"] = json!(true);
    let answer = post(&mock, "/v1/chat/completions", body).await?;
    let events = answer.sse_data();
    assert_eq!(events.last().map(String::as_str), Some("[DONE]"));
    let chunks: Vec<Value> =
        events[..events.len() - 1].iter().map(|e| serde_json::from_str(e)).collect::<Result<_, _>>()?;
    assert_eq!(chunks[0]["choices"][0]["delta"]["tool_calls"][0]["function"]["name"], "other");
    let arguments: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"].as_str())
        .collect();
    assert_eq!(arguments, "{}");
    assert_eq!(chunks.last().map(|c| &c["choices"][0]["finish_reason"]), Some(&json!("tool_calls")));
    Ok(())
}

/// Checks a chat stream's event sequence; returns the parsed chunks.
fn check_chat_stream(answer: &Answer, include_usage: bool, k: usize) -> Result<Vec<Value>, Error> {
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.headers["content-type"], "text/event-stream");
    let events = answer.sse_data();
    assert_eq!(events.last().map(String::as_str), Some("[DONE]"));
    let chunks: Vec<Value> =
        events[..events.len() - 1].iter().map(|e| serde_json::from_str(e)).collect::<Result<_, _>>()?;
    assert_eq!(chunks.len(), 1 + k + 1 + usize::from(include_usage));
    for chunk in &chunks {
        assert_eq!(chunk["object"], "chat.completion.chunk");
        assert_eq!(chunk["id"], "chatcmpl-mock");
    }
    assert_eq!(chunks[0]["choices"][0]["delta"], json!({"role": "assistant", "content": "", "refusal": null}));
    let text: String = chunks[1..=k].iter().filter_map(|c| c["choices"][0]["delta"]["content"].as_str()).collect();
    if k <= 37 {
        assert_eq!(text, "Hello from the rampart mock provider.");
    } else {
        assert_eq!(text.len(), k);
    }
    let finish = &chunks[k + 1];
    assert_eq!(finish["choices"][0]["delta"], json!({}));
    assert_eq!(finish["choices"][0]["finish_reason"], "stop");
    if include_usage {
        let usage = &chunks[k + 2];
        assert_eq!(usage["choices"], json!([]));
        assert!(usage["usage"]["total_tokens"].as_u64() > Some(1));
        assert!(chunks[..k + 2].iter().all(|c| c["usage"].is_null()));
    } else {
        assert!(chunks.iter().all(|c| c.get("usage").is_none()));
    }
    Ok(chunks)
}

#[tokio::test]
async fn chat_stream_with_and_without_usage() -> TestResult {
    let mock = MockProvider::spawn().await?;
    let mut body = chat_request();
    body["stream"] = json!(true);
    let answer = post(&mock, "/v1/chat/completions", body.clone()).await?;
    check_chat_stream(&answer, false, 4)?;

    body["stream_options"] = json!({"include_usage": true});
    let answer = post(&mock, "/v1/chat/completions", body.clone()).await?;
    check_chat_stream(&answer, true, 4)?;

    let answer = post_with(&mock, "/v1/chat/completions", &[("x-mock-chunks", "7")], body.clone()).await?;
    check_chat_stream(&answer, true, 7)?;

    let answer = post_with(&mock, "/v1/chat/completions", &[("x-mock-chunks", "5000")], body).await?;
    check_chat_stream(&answer, true, 5000)?;
    Ok(())
}

#[tokio::test]
async fn stream_chunks_arrive_as_separate_frames() -> TestResult {
    let mock = MockProvider::spawn().await?;
    let mut body = chat_request();
    body["stream"] = json!(true);
    let started = Instant::now();
    let response =
        send(&mock, Method::POST, "/v1/chat/completions", &[("x-mock-chunk-delay-ms", "40")], body.to_string()).await?;
    let mut body = response.into_body();
    let mut frames = Vec::new();
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame?.into_data() {
            frames.push((started.elapsed(), data));
        }
    }
    // role + 4 content + finish + [DONE], each in its own frame.
    assert_eq!(frames.len(), 7, "{frames:?}");
    for (_, data) in &frames {
        assert_eq!(sse_data(std::str::from_utf8(data)?).len(), 1);
    }
    assert!(frames[6].0 - frames[0].0 >= Duration::from_millis(6 * 40 - 10));
    Ok(())
}

#[tokio::test]
async fn legacy_completions() -> TestResult {
    let mock = MockProvider::spawn().await?;
    let body = json!({"model": "gpt-3.5-turbo-instruct", "prompt": "Once upon"});
    let v = post(&mock, "/v1/completions", body.clone()).await?.json()?;
    assert_eq!(v["object"], "text_completion");
    assert_eq!(v["choices"][0]["text"], "Hello from the rampart mock provider.");

    let mut body = body;
    body["stream"] = json!(true);
    body["stream_options"] = json!({"include_usage": true});
    let events = post(&mock, "/v1/completions", body).await?.sse_data();
    assert_eq!(events.len(), 4 + 1 + 1 + 1);
    assert_eq!(events[6], "[DONE]");
    let usage: Value = serde_json::from_str(&events[5])?;
    assert_eq!(usage["choices"], json!([]));
    Ok(())
}

#[tokio::test]
async fn embeddings_float_and_base64() -> TestResult {
    let mock = MockProvider::spawn().await?;
    let v = post(&mock, "/v1/embeddings", json!({"model": "text-embedding-3-small", "input": ["a", "bb", "ccc"]}))
        .await?
        .json()?;
    assert_eq!(v["object"], "list");
    let data = v["data"].as_array().cloned().unwrap_or_default();
    assert_eq!(data.len(), 3);
    assert_eq!(data[2]["index"], 2);
    assert_eq!(data[0]["embedding"].as_array().map(Vec::len), Some(8));
    assert_ne!(data[0]["embedding"], data[1]["embedding"]);
    assert!(v["usage"]["prompt_tokens"].as_u64() >= Some(3));

    let body =
        json!({"model": "text-embedding-3-small", "input": "hello", "dimensions": 16, "encoding_format": "base64"});
    let v = post(&mock, "/v1/embeddings", body).await?.json()?;
    let encoded = v["data"][0]["embedding"].as_str().unwrap_or("");
    let bytes = base64::engine::general_purpose::STANDARD.decode(encoded)?;
    assert_eq!(bytes.len(), 16 * 4);
    let floats: Vec<f32> = bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
    assert!(floats.iter().all(|f| (-1.0..1.0).contains(f)));

    let tokens = post(&mock, "/v1/embeddings", json!({"input": [[1, 2, 3], [4]]})).await?.json()?;
    assert_eq!(tokens["data"].as_array().map(Vec::len), Some(2));
    let single = post(&mock, "/v1/embeddings", json!({"input": [1, 2, 3]})).await?.json()?;
    assert_eq!(single["data"].as_array().map(Vec::len), Some(1));
    let bad = post(&mock, "/v1/embeddings", json!({"input": []})).await?;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    Ok(())
}

#[tokio::test]
async fn responses_plain_and_streamed() -> TestResult {
    let mock = MockProvider::spawn().await?;
    let body = json!({"model": "gpt-4o-mini", "input": "hi", "instructions": "be brief"});
    let v = post(&mock, "/v1/responses", body.clone()).await?.json()?;
    assert_eq!(v["id"], "resp_mock");
    assert_eq!(v["object"], "response");
    assert_eq!(v["status"], "completed");
    assert_eq!(v["output"][0]["content"][0]["type"], "output_text");
    assert_eq!(v["output"][0]["content"][0]["text"], "Hello from the rampart mock provider.");
    assert!(v["error"].is_null());
    assert_eq!(v["tools"], json!([]));
    assert!(v["usage"]["total_tokens"].as_u64() > Some(1));

    let mut body = body;
    body["stream"] = json!(true);
    let answer = post(&mock, "/v1/responses", body).await?;
    let text = answer.text().to_owned();
    assert!(!text.contains("[DONE]"));
    let mut kinds = Vec::new();
    let mut delta_text = String::new();
    for (seq, event) in text.split("\n\n").filter(|e| !e.is_empty()).enumerate() {
        let name = event.lines().find_map(|l| l.strip_prefix("event: ")).unwrap_or("");
        let data: Value = serde_json::from_str(event.lines().find_map(|l| l.strip_prefix("data: ")).unwrap_or(""))?;
        assert_eq!(data["type"], name);
        assert_eq!(data["sequence_number"], seq);
        if name == "response.output_text.delta" {
            delta_text.push_str(data["delta"].as_str().unwrap_or(""));
        }
        if name == "response.completed" {
            assert_eq!(data["response"]["status"], "completed");
        }
        kinds.push(name.to_owned());
    }
    let expected: Vec<&str> =
        ["response.created", "response.in_progress", "response.output_item.added", "response.content_part.added"]
            .into_iter()
            .chain(std::iter::repeat_n("response.output_text.delta", 4))
            .chain([
                "response.output_text.done",
                "response.content_part.done",
                "response.output_item.done",
                "response.completed",
            ])
            .collect();
    assert_eq!(kinds, expected);
    assert_eq!(delta_text, "Hello from the rampart mock provider.");
    Ok(())
}

#[tokio::test]
async fn responses_tool_call() -> TestResult {
    let mock = MockProvider::spawn().await?;
    let body = json!({"model": "gpt-4o", "input": "weather?", "tools": [{"type": "function", "name": "get_weather", "parameters": {}}]});
    let v = post(&mock, "/v1/responses", body).await?.json()?;
    assert_eq!(v["output"][0]["type"], "function_call");
    assert_eq!(v["output"][0]["name"], "get_weather");
    assert_eq!(v["output"][0]["arguments"], "{}");
    Ok(())
}

#[tokio::test]
async fn records_requests() -> TestResult {
    let mock = MockProvider::spawn().await?;
    let body = chat_request().to_string();
    let answer = call(
        &mock,
        Method::POST,
        "/v1/chat/completions?x=1",
        &[("content-type", "application/json"), ("x-custom", "kept")],
        body.clone(),
    )
    .await?;
    assert_eq!(answer.status, StatusCode::OK);
    call(&mock, Method::GET, "/v1/models", &[], "").await?;

    assert_eq!(mock.request_count(), 2);
    let requests = mock.requests();
    let first = &requests[0];
    assert_eq!(first.method, Method::POST);
    assert_eq!(first.path, "/v1/chat/completions?x=1");
    assert_eq!(first.header("x-custom"), Some("kept"));
    assert_eq!(first.body, body.as_bytes());
    assert_eq!(first.body_len, body.len() as u64);
    assert_eq!(first.json(), Some(chat_request()));
    assert_eq!(requests[1].method, Method::GET);
    assert_eq!(requests[1].path, "/v1/models");
    assert_eq!(requests[1].body_len, 0);

    mock.recorder().clear();
    assert!(mock.recorder().is_empty());
    Ok(())
}

#[tokio::test]
async fn uploads_are_counted_not_buffered() -> TestResult {
    let mock = MockProvider::spawn().await?;
    let mut form = b"--XyZ\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\nbatch\r\n--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.jsonl\"\r\n\r\n".to_vec();
    form.extend(std::iter::repeat_n(b'x', 3 * 1024 * 1024));
    form.extend_from_slice(b"\r\n--XyZ--\r\n");
    let len = form.len();
    let answer =
        call(&mock, Method::POST, "/v1/files", &[("content-type", "multipart/form-data; boundary=XyZ")], form).await?;
    let v = answer.json()?;
    assert_eq!(v["id"], "file-mock");
    assert_eq!(v["bytes"], len);
    assert_eq!(v["filename"], "big.jsonl");
    assert_eq!(v["purpose"], "batch");
    let recorded = &mock.requests()[0];
    assert_eq!(recorded.body_len, len as u64);
    assert_eq!(recorded.body.len(), rampart_mock::RECORD_BODY_LIMIT);
    Ok(())
}

#[tokio::test]
async fn other_endpoints() -> TestResult {
    let mock = MockProvider::spawn().await?;
    let models = call(&mock, Method::GET, "/v1/models", &[], "").await?.json()?;
    assert_eq!(models["data"].as_array().map(Vec::len), Some(5));
    let model = call(&mock, Method::GET, "/v1/models/ft:gpt-4o:org/x", &[], "").await?.json()?;
    assert_eq!(model["id"], "ft:gpt-4o:org/x");

    let moderation = post(&mock, "/v1/moderations", json!({"input": ["a", "b"]})).await?.json()?;
    assert_eq!(moderation["id"], "modr-mock");
    assert_eq!(moderation["results"].as_array().map(Vec::len), Some(2));
    assert_eq!(moderation["results"][0]["flagged"], false);

    let files = call(&mock, Method::GET, "/v1/files", &[], "").await?.json()?;
    assert_eq!(files["object"], "list");
    let file = call(&mock, Method::GET, "/v1/files/file-abc", &[], "").await?.json()?;
    assert_eq!(file["id"], "file-abc");
    let content = call(&mock, Method::GET, "/v1/files/file-abc/content", &[], "").await?;
    assert!(!content.body.is_empty());
    let deleted = call(&mock, Method::DELETE, "/v1/files/file-abc", &[], "").await?.json()?;
    assert_eq!(deleted, json!({"id": "file-abc", "object": "file", "deleted": true}));

    let batch = post(
        &mock,
        "/v1/batches",
        json!({"input_file_id": "file-1", "endpoint": "/v1/embeddings", "completion_window": "24h"}),
    )
    .await?
    .json()?;
    assert_eq!(batch["object"], "batch");
    assert_eq!(batch["input_file_id"], "file-1");
    let cancelled = call(&mock, Method::POST, "/v1/batches/batch_1/cancel", &[], "").await?.json()?;
    assert_eq!(cancelled["status"], "cancelling");
    let listed = call(&mock, Method::GET, "/v1/batches", &[], "").await?.json()?;
    assert_eq!(listed["data"][0]["status"], "completed");

    let image = post(&mock, "/v1/images/generations", json!({"prompt": "a cat", "n": 2})).await?.json()?;
    assert_eq!(image["data"].as_array().map(Vec::len), Some(2));
    assert!(image["data"][0]["b64_json"].is_string());

    let speech = post(&mock, "/v1/audio/speech", json!({"model": "tts-1", "input": "hi", "voice": "alloy"})).await?;
    assert_eq!(speech.headers["content-type"], "audio/mpeg");
    assert_eq!(speech.body.len(), 4096);

    let form = "--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.mp3\"\r\n\r\nID3\r\n--b--\r\n";
    let transcript = call(
        &mock,
        Method::POST,
        "/v1/audio/transcriptions",
        &[("content-type", "multipart/form-data; boundary=b")],
        form,
    )
    .await?
    .json()?;
    assert_eq!(transcript, json!({"text": "mock transcription"}));
    Ok(())
}

#[tokio::test]
async fn api_key_is_enforced() -> TestResult {
    let mock =
        MockProvider::spawn_with(MockOptions { api_key: Some("sk-upstream".into()), ..MockOptions::default() }).await?;
    let denied = post(&mock, "/v1/chat/completions", chat_request()).await?;
    assert_eq!(denied.status, StatusCode::UNAUTHORIZED);
    let v = denied.json()?;
    assert_eq!(v["error"]["code"], "invalid_api_key");
    assert_eq!(v["error"]["type"], "invalid_request_error");
    let wrong =
        post_with(&mock, "/v1/chat/completions", &[("authorization", "Bearer sk-other")], chat_request()).await?;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    let ok =
        post_with(&mock, "/v1/chat/completions", &[("authorization", "Bearer sk-upstream")], chat_request()).await?;
    assert_eq!(ok.status, StatusCode::OK);
    assert_eq!(mock.request_count(), 3, "rejected requests are recorded too");
    Ok(())
}

#[tokio::test]
async fn bad_json_is_400_and_unknown_path_is_404() -> TestResult {
    let mock = MockProvider::spawn().await?;
    let bad = call(&mock, Method::POST, "/v1/chat/completions", &[], "{not json").await?;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    let v = bad.json()?;
    assert_eq!(v["error"]["type"], "invalid_request_error");
    assert!(v["error"]["param"].is_null() && v["error"]["code"].is_null());
    assert!(v["error"]["message"].is_string());

    let wrong_type = post(&mock, "/v1/chat/completions", json!({"messages": [], "stream": "yes"})).await?;
    assert_eq!(wrong_type.status, StatusCode::BAD_REQUEST);
    let missing = post(&mock, "/v1/chat/completions", json!({"model": "x"})).await?;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST);
    assert_eq!(missing.json()?["error"]["param"], "messages");

    for (method, path) in [(Method::GET, "/v1/nope"), (Method::GET, "/v1/chat/completions"), (Method::POST, "/other")] {
        let missing = call(&mock, method, path, &[], "").await?;
        assert_eq!(missing.status, StatusCode::NOT_FOUND, "{path}");
        let v = missing.json()?;
        assert_eq!(v["error"]["code"], "unknown_url");
        assert_eq!(v["error"]["type"], "invalid_request_error");
    }
    Ok(())
}

#[tokio::test]
async fn forced_status_and_delay() -> TestResult {
    let mock = MockProvider::spawn().await?;
    for (code, kind) in [("500", "server_error"), ("429", "requests"), ("400", "invalid_request_error")] {
        let answer = post_with(&mock, "/v1/chat/completions", &[("x-mock-status", code)], chat_request()).await?;
        assert_eq!(answer.status.as_str(), code);
        assert_eq!(answer.json()?["error"]["type"], kind);
    }
    let ignored = post_with(&mock, "/v1/chat/completions", &[("x-mock-status", "200")], chat_request()).await?;
    assert_eq!(ignored.status, StatusCode::OK);

    let started = Instant::now();
    let delayed = post_with(&mock, "/v1/chat/completions", &[("x-mock-delay-ms", "150")], chat_request()).await?;
    assert_eq!(delayed.status, StatusCode::OK);
    assert!(started.elapsed() >= Duration::from_millis(150));
    Ok(())
}

#[tokio::test]
async fn reset_mid_stream_is_a_client_body_error() -> TestResult {
    let mock = MockProvider::spawn().await?;
    let mut body = chat_request();
    body["stream"] = json!(true);
    let response =
        send(&mock, Method::POST, "/v1/chat/completions", &[("x-mock-fail", "reset-mid-stream")], body.to_string())
            .await?;
    assert_eq!(response.status(), StatusCode::OK);
    let mut body = response.into_body();
    let mut received = Vec::new();
    let mut failed = false;
    while let Some(frame) = body.frame().await {
        match frame {
            Ok(frame) => received.extend_from_slice(frame.data_ref().map_or(&[][..], |d| &d[..])),
            Err(_) => {
                failed = true;
                break;
            }
        }
    }
    assert!(failed, "the body must end in an error");
    assert_eq!(sse_data(std::str::from_utf8(&received)?).len(), 2);

    // A non-streamed answer is cut after its headers too.
    let response = send(
        &mock,
        Method::POST,
        "/v1/chat/completions",
        &[("x-mock-fail", "reset-mid-stream")],
        chat_request().to_string(),
    )
    .await?;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.into_body().collect().await.is_err());
    assert_eq!(mock.request_count(), 2);
    Ok(())
}

#[tokio::test]
async fn hang_body_and_close() -> TestResult {
    let mock = MockProvider::spawn().await?;
    let response =
        send(&mock, Method::POST, "/v1/chat/completions", &[("x-mock-fail", "hang-body")], chat_request().to_string())
            .await?;
    assert_eq!(response.status(), StatusCode::OK);
    let mut body = response.into_body();
    let next = tokio::time::timeout(Duration::from_millis(200), body.frame()).await;
    assert!(next.is_err(), "no body byte may arrive");

    let closed =
        send(&mock, Method::POST, "/v1/chat/completions", &[("x-mock-fail", "close")], chat_request().to_string())
            .await;
    assert!(closed.is_err(), "no response at all");
    assert_eq!(mock.request_count(), 2);
    Ok(())
}

#[tokio::test]
async fn embedded_router_serves_http2_prior_knowledge() -> TestResult {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let app = router(&MockOptions::default(), None);
    let server = tokio::spawn(serve(listener, app));

    let h2: Client<HttpConnector, Full<Bytes>> = Client::builder(TokioExecutor::new()).http2_only(true).build_http();
    let request = Request::post(format!("http://{addr}/v1/chat/completions"))
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(chat_request().to_string())))?;
    let response = h2.request(request).await?;
    assert_eq!(response.version(), http::Version::HTTP_2);
    assert_eq!(response.status(), StatusCode::OK);
    let body = response.into_body().collect().await?.to_bytes();
    assert_eq!(serde_json::from_slice::<Value>(&body)?["id"], "chatcmpl-mock");
    server.abort();
    Ok(())
}

#[tokio::test]
async fn dropping_the_provider_stops_it() -> TestResult {
    let mock = MockProvider::spawn().await?;
    let addr = mock.addr();
    assert_eq!(mock.base_url(), format!("http://{addr}/v1"));
    drop(mock);
    for _ in 0..50 {
        if tokio::net::TcpStream::connect(addr).await.is_err() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Err("still accepting connections after drop".into())
}

// --- Answer text controls: x-mock-reply, x-mock-echo, x-mock-split-at ---

/// Newlines, quotes, a backslash, non-ASCII and a 4-byte char.
const MIXED: &str = "Line 1\nLine \"2\", 'ünïcødé' — 世界 🎉\\";
const CANNED: &str = "Hello from the rampart mock provider.";

/// Percent-encodes every byte but RFC 3986 unreserved characters.
fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// The mock's token estimate.
fn tokens(bytes: usize) -> u64 {
    (bytes as u64 / 4).max(1)
}

/// Every char boundary strictly inside `text`, comma-separated.
fn every_boundary(text: &str) -> String {
    let offsets: Vec<String> =
        (1..text.len()).filter(|&at| text.is_char_boundary(at)).map(|at| at.to_string()).collect();
    offsets.join(",")
}

fn stream(mut body: Value) -> Value {
    body["stream"] = json!(true);
    body["stream_options"] = json!({"include_usage": true});
    body
}

/// The content deltas of a chat stream with `include_usage`, after checking the
/// role chunk, the finish chunk, the usage chunk (completion tokens estimated
/// from the text) and `[DONE]`.
fn chat_deltas(answer: &Answer) -> Result<Vec<String>, Error> {
    assert_eq!(answer.status, StatusCode::OK);
    let events = answer.sse_data();
    assert_eq!(events.last().map(String::as_str), Some("[DONE]"));
    let chunks: Vec<Value> =
        events[..events.len() - 1].iter().map(|e| serde_json::from_str(e)).collect::<Result<_, _>>()?;
    let n = chunks.len();
    assert!(n >= 3, "{events:?}");
    assert_eq!(chunks[0]["choices"][0]["delta"], json!({"role": "assistant", "content": "", "refusal": null}));
    assert_eq!(chunks[n - 2]["choices"][0]["finish_reason"], "stop");
    assert_eq!(chunks[n - 1]["choices"], json!([]), "the usage chunk comes last");
    let deltas: Vec<String> = chunks[1..n - 2]
        .iter()
        .map(|c| c["choices"][0]["delta"]["content"].as_str().map(str::to_owned).ok_or("no content"))
        .collect::<Result<_, _>>()?;
    let len: usize = deltas.iter().map(String::len).sum();
    assert_eq!(chunks[n - 1]["usage"]["completion_tokens"].as_u64(), Some(tokens(len)));
    Ok(deltas)
}

/// The text deltas of a legacy completions stream with `include_usage`.
fn completion_deltas(answer: &Answer) -> Result<Vec<String>, Error> {
    assert_eq!(answer.status, StatusCode::OK);
    let events = answer.sse_data();
    assert_eq!(events.last().map(String::as_str), Some("[DONE]"));
    let chunks: Vec<Value> =
        events[..events.len() - 1].iter().map(|e| serde_json::from_str(e)).collect::<Result<_, _>>()?;
    let n = chunks.len();
    assert!(n >= 3, "{events:?}");
    assert_eq!(chunks[n - 2]["choices"][0]["finish_reason"], "stop");
    assert_eq!(chunks[n - 2]["choices"][0]["text"], "");
    assert_eq!(chunks[n - 1]["choices"], json!([]));
    let deltas: Vec<String> = chunks[..n - 2]
        .iter()
        .map(|c| c["choices"][0]["text"].as_str().map(str::to_owned).ok_or("no text"))
        .collect::<Result<_, _>>()?;
    let len: usize = deltas.iter().map(String::len).sum();
    assert_eq!(chunks[n - 1]["usage"]["completion_tokens"].as_u64(), Some(tokens(len)));
    Ok(deltas)
}

/// The `response.output_text.delta`s of a Responses stream, after checking the
/// whole event sequence and that every `.done` event and `response.completed`
/// carry the full text.
fn responses_deltas(answer: &Answer) -> Result<Vec<String>, Error> {
    assert_eq!(answer.status, StatusCode::OK);
    let mut events = Vec::new();
    for (seq, event) in answer.text().split("\n\n").filter(|e| !e.is_empty()).enumerate() {
        let name = event.lines().find_map(|l| l.strip_prefix("event: ")).unwrap_or("").to_owned();
        let data: Value = serde_json::from_str(event.lines().find_map(|l| l.strip_prefix("data: ")).unwrap_or(""))?;
        assert_eq!(data["type"], name);
        assert_eq!(data["sequence_number"], seq);
        events.push((name, data));
    }
    let n = events.len();
    assert!(n >= 9);
    let kinds: Vec<&str> = events.iter().map(|(name, _)| name.as_str()).collect();
    let k = n - 8;
    let expected: Vec<&str> =
        ["response.created", "response.in_progress", "response.output_item.added", "response.content_part.added"]
            .into_iter()
            .chain(std::iter::repeat_n("response.output_text.delta", k))
            .chain([
                "response.output_text.done",
                "response.content_part.done",
                "response.output_item.done",
                "response.completed",
            ])
            .collect();
    assert_eq!(kinds, expected);
    let deltas: Vec<String> = events[4..4 + k]
        .iter()
        .map(|(_, d)| d["delta"].as_str().map(str::to_owned).ok_or("no delta"))
        .collect::<Result<_, _>>()?;
    let full = deltas.concat();
    assert_eq!(events[4 + k].1["text"], full);
    assert_eq!(events[5 + k].1["part"]["text"], full);
    assert_eq!(events[6 + k].1["item"]["content"][0]["text"], full);
    let response = &events[7 + k].1["response"];
    assert_eq!(response["status"], "completed");
    assert_eq!(response["output"][0]["content"][0]["text"], full);
    assert_eq!(response["usage"]["output_tokens"].as_u64(), Some(tokens(full.len())));
    Ok(deltas)
}

fn completion_request() -> Value {
    json!({"model": "gpt-3.5-turbo-instruct", "prompt": "Once upon a time"})
}

fn responses_request() -> Value {
    json!({"model": "gpt-4o-mini", "input": "hi there", "instructions": "be brief"})
}

/// The JSON answer text of each endpoint.
async fn answer_texts(mock: &MockProvider, headers: &[(&str, &str)]) -> Result<[String; 3], Error> {
    let chat = post_with(mock, "/v1/chat/completions", headers, chat_request()).await?.json()?;
    let completion = post_with(mock, "/v1/completions", headers, completion_request()).await?.json()?;
    let response = post_with(mock, "/v1/responses", headers, responses_request()).await?.json()?;
    let text = |v: &Value| v.as_str().map(str::to_owned).ok_or("no text");
    Ok([
        text(&chat["choices"][0]["message"]["content"])?,
        text(&completion["choices"][0]["text"])?,
        text(&response["output"][0]["content"][0]["text"])?,
    ])
}

/// The streamed answer text of each endpoint, as deltas.
async fn streamed_deltas(mock: &MockProvider, headers: &[(&str, &str)]) -> Result<[Vec<String>; 3], Error> {
    let chat = post_with(mock, "/v1/chat/completions", headers, stream(chat_request())).await?;
    let completion = post_with(mock, "/v1/completions", headers, stream(completion_request())).await?;
    let response = post_with(mock, "/v1/responses", headers, stream(responses_request())).await?;
    Ok([chat_deltas(&chat)?, completion_deltas(&completion)?, responses_deltas(&response)?])
}

#[tokio::test]
async fn reply_header_sets_the_answer_of_every_text_endpoint() -> TestResult {
    let mock = MockProvider::spawn().await?;
    let encoded = percent_encode(MIXED);
    let headers = [("x-mock-reply", encoded.as_str())];
    for text in answer_texts(&mock, &headers).await? {
        assert_eq!(text, MIXED);
    }
    for deltas in streamed_deltas(&mock, &headers).await? {
        assert_eq!(deltas.len(), 4, "x-mock-chunks still applies");
        assert!(deltas.iter().all(|d| !d.is_empty()));
        assert_eq!(deltas.concat(), MIXED);
    }
    let chunked = [("x-mock-reply", encoded.as_str()), ("x-mock-chunks", "9")];
    for deltas in streamed_deltas(&mock, &chunked).await? {
        assert_eq!(deltas.len(), 9);
        assert_eq!(deltas.concat(), MIXED);
    }

    // Usage is estimated from the actual text; the answer is deterministic.
    let first = post_with(&mock, "/v1/chat/completions", &headers, chat_request()).await?;
    let second = post_with(&mock, "/v1/chat/completions", &headers, chat_request()).await?;
    assert_eq!(first.body, second.body);
    assert_eq!(first.json()?["usage"]["completion_tokens"].as_u64(), Some(tokens(MIXED.len())));
    let response = post_with(&mock, "/v1/responses", &headers, responses_request()).await?.json()?;
    assert_eq!(response["usage"]["output_tokens"].as_u64(), Some(tokens(MIXED.len())));

    // It replaces the JSON-mode answer too, and an empty reply is an empty answer.
    let mut json_mode = chat_request();
    json_mode["response_format"] = json!({"type": "json_object"});
    let v = post_with(&mock, "/v1/chat/completions", &[("x-mock-reply", "%7B%22a%22%3A1%7D")], json_mode).await?;
    assert_eq!(v.json()?["choices"][0]["message"]["content"], r#"{"a":1}"#);
    assert_eq!(answer_texts(&mock, &[("x-mock-reply", "")]).await?, ["", "", ""]);
    let [chat, _, response] = streamed_deltas(&mock, &[("x-mock-reply", "")]).await?;
    assert_eq!(chat.concat(), "");
    assert_eq!(response.concat(), "");

    // A tool call stays a tool call.
    let mut tools = chat_request();
    tools["tools"] = json!([{"type": "function", "function": {"name": "get_weather"}}]);
    let v = post_with(&mock, "/v1/chat/completions", &headers, tools).await?.json()?;
    assert_eq!(v["choices"][0]["finish_reason"], "tool_calls");
    Ok(())
}

#[tokio::test]
async fn bad_reply_and_echo_values_are_ignored() -> TestResult {
    let mock = MockProvider::spawn().await?;
    let too_long = "a".repeat(64 * 1024 + 1);
    let just_fits = "a".repeat(64 * 1024);
    for headers in [
        [("x-mock-reply", "%FF%FE")],
        [("x-mock-reply", "caf%C3")],
        [("x-mock-reply", too_long.as_str())],
        [("x-mock-echo", "assistant")],
        [("x-mock-echo", "")],
    ] {
        assert_eq!(answer_texts(&mock, &headers).await?, [CANNED; 3], "{:?}", &headers[0].0);
        for deltas in streamed_deltas(&mock, &headers).await? {
            assert_eq!(deltas.concat(), CANNED);
        }
    }
    assert_eq!(answer_texts(&mock, &[("x-mock-reply", just_fits.as_str())]).await?[0], just_fits);
    Ok(())
}

#[tokio::test]
async fn echo_chat_messages() -> TestResult {
    let mock = MockProvider::spawn().await?;
    let body = json!({"model": "gpt-4o", "messages": [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "first question"},
        {"role": "assistant", "content": "an answer"},
        {"role": "user", "content": [
            {"type": "text", "text": "what is "},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
            {"type": "text", "text": "this?\n🎉"}
        ]},
    ]});
    let chat = |headers: &'static [(&'static str, &'static str)], body: Value| {
        let mock = &mock;
        async move {
            let v = post_with(mock, "/v1/chat/completions", headers, body).await?.json()?;
            Ok::<_, Error>(v["choices"][0]["message"]["content"].as_str().unwrap_or("<none>").to_owned())
        }
    };
    assert_eq!(chat(&[("x-mock-echo", "user")], body.clone()).await?, "what is this?\n🎉");
    assert_eq!(chat(&[("x-mock-echo", "SYSTEM")], body.clone()).await?, "You are terse.");
    let deltas = chat_deltas(
        &post_with(&mock, "/v1/chat/completions", &[("x-mock-echo", "user")], stream(body.clone())).await?,
    )?;
    assert_eq!(deltas.concat(), "what is this?\n🎉");

    // A developer message counts as system; the last one wins.
    let mut developer = body.clone();
    let messages = developer["messages"].as_array_mut().ok_or("no messages")?;
    messages.push(json!({"role": "developer", "content": [{"type": "text", "text": "Be kind."}]}));
    assert_eq!(chat(&[("x-mock-echo", "system")], developer).await?, "Be kind.");

    // Nothing to echo: the canned answer.
    let no_system = chat_request();
    assert_eq!(chat(&[("x-mock-echo", "system")], no_system).await?, CANNED);
    let image_only =
        json!({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]});
    assert_eq!(chat(&[("x-mock-echo", "user")], image_only).await?, CANNED);

    // x-mock-reply wins.
    assert_eq!(chat(&[("x-mock-echo", "user"), ("x-mock-reply", "replied")], body).await?, "replied");
    Ok(())
}

#[tokio::test]
async fn echo_completions_prompt() -> TestResult {
    let mock = MockProvider::spawn().await?;
    let prompt = json!({"prompt": "Once upon a \"time\"\n"});
    let v = post_with(&mock, "/v1/completions", &[("x-mock-echo", "user")], prompt.clone()).await?.json()?;
    assert_eq!(v["choices"][0]["text"], "Once upon a \"time\"\n");
    assert_eq!(v["usage"]["completion_tokens"].as_u64(), Some(tokens("Once upon a \"time\"\n".len())));
    let streamed = post_with(&mock, "/v1/completions", &[("x-mock-echo", "user")], stream(prompt.clone())).await?;
    assert_eq!(completion_deltas(&streamed)?.concat(), "Once upon a \"time\"\n");

    let system = post_with(&mock, "/v1/completions", &[("x-mock-echo", "system")], prompt).await?.json()?;
    assert_eq!(system["choices"][0]["text"], CANNED, "no system text in a completion");
    let array = post_with(&mock, "/v1/completions", &[("x-mock-echo", "user")], json!({"prompt": ["a", "b"]})).await?;
    assert_eq!(array.json()?["choices"][0]["text"], CANNED, "only a string prompt is echoed");
    let none = post_with(&mock, "/v1/completions", &[("x-mock-echo", "user")], json!({"model": "m"})).await?;
    assert_eq!(none.json()?["choices"][0]["text"], CANNED);
    Ok(())
}

#[tokio::test]
async fn echo_responses_input_and_instructions() -> TestResult {
    let mock = MockProvider::spawn().await?;
    let respond = |echo: &'static str, body: Value| {
        let mock = &mock;
        async move {
            let v = post_with(mock, "/v1/responses", &[("x-mock-echo", echo)], body).await?.json()?;
            Ok::<_, Error>(v["output"][0]["content"][0]["text"].as_str().unwrap_or("<none>").to_owned())
        }
    };
    // A string input and instructions.
    assert_eq!(respond("user", responses_request()).await?, "hi there");
    assert_eq!(respond("system", responses_request()).await?, "be brief");

    // Input items: the last user item; without instructions the last system/developer item.
    let items = json!({"model": "gpt-4o", "input": [
        {"role": "system", "content": "sys"},
        {"role": "user", "content": "old question"},
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "old answer"}]},
        {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "dev rules"}]},
        {"type": "message", "role": "user", "content": [
            {"type": "input_text", "text": "new "},
            {"type": "input_image", "image_url": "data:,"},
            {"type": "input_text", "text": "question"}
        ]},
        {"type": "function_call_output", "call_id": "c", "output": "{}"},
    ]});
    assert_eq!(respond("user", items.clone()).await?, "new question");
    assert_eq!(respond("system", items.clone()).await?, "dev rules");
    let mut with_instructions = items.clone();
    with_instructions["instructions"] = json!("the instructions");
    assert_eq!(respond("system", with_instructions).await?, "the instructions");
    let streamed = post_with(&mock, "/v1/responses", &[("x-mock-echo", "user")], stream(items)).await?;
    assert_eq!(responses_deltas(&streamed)?.concat(), "new question");

    // Nothing to echo: the canned answer.
    assert_eq!(respond("system", json!({"input": "only input"})).await?, CANNED);
    assert_eq!(respond("user", json!({"instructions": "only instructions"})).await?, CANNED);
    assert_eq!(respond("user", json!({"input": [{"role": "system", "content": "s"}]})).await?, CANNED);
    Ok(())
}

#[tokio::test]
async fn split_at_cuts_exactly_where_asked() -> TestResult {
    let mock = MockProvider::spawn().await?;
    // The example of the docs, on the canned answer; it overrides x-mock-chunks.
    let headers = [("x-mock-split-at", "5,17,30"), ("x-mock-chunks", "2")];
    for deltas in streamed_deltas(&mock, &headers).await? {
        assert_eq!(deltas, ["Hello", " from the ra", "mpart mock pr", "ovider."]);
    }
    // Unordered, duplicated, out-of-range and mid-char offsets.
    let encoded = percent_encode(MIXED);
    let inside = MIXED.find('ü').map_or(0, |at| at + 1);
    let messy = format!("30, 5,{inside},5,0,{},{}", MIXED.len(), MIXED.len() + 10);
    let headers = [("x-mock-reply", encoded.as_str()), ("x-mock-split-at", messy.as_str())];
    for deltas in streamed_deltas(&mock, &headers).await? {
        assert_eq!(deltas, [&MIXED[..5], &MIXED[5..30], &MIXED[30..]]);
    }
    // A boundary at every position: one char per delta.
    let every = every_boundary(MIXED);
    let headers = [("x-mock-reply", encoded.as_str()), ("x-mock-split-at", every.as_str())];
    let chars: Vec<String> = MIXED.chars().map(String::from).collect();
    for deltas in streamed_deltas(&mock, &headers).await? {
        assert_eq!(deltas, chars);
    }
    // One boundary, at each position in turn.
    for at in (1..MIXED.len()).filter(|&at| MIXED.is_char_boundary(at)) {
        let at_str = at.to_string();
        let headers = [("x-mock-reply", encoded.as_str()), ("x-mock-split-at", at_str.as_str())];
        let answer = post_with(&mock, "/v1/chat/completions", &headers, stream(chat_request())).await?;
        assert_eq!(chat_deltas(&answer)?, [&MIXED[..at], &MIXED[at..]], "at {at}");
    }
    // No usable offset: the whole text in one chunk.
    for deltas in streamed_deltas(&mock, &[("x-mock-split-at", "0,1000")]).await? {
        assert_eq!(deltas, [CANNED]);
    }
    // With echo, the offsets apply to the echoed text.
    let echo = [("x-mock-echo", "user"), ("x-mock-split-at", "3,9")];
    let answer = post_with(&mock, "/v1/chat/completions", &echo, stream(chat_request())).await?;
    assert_eq!(chat_deltas(&answer)?, ["Say", " hi to", " the gateway"]);
    // A non-streamed answer is unaffected.
    assert_eq!(answer_texts(&mock, &[("x-mock-split-at", "5")]).await?, [CANNED; 3]);
    Ok(())
}

#[tokio::test]
async fn malformed_split_at_falls_back_to_chunks() -> TestResult {
    let mock = MockProvider::spawn().await?;
    for bad in ["", "5,,17", "five", "-3", "5;17"] {
        let headers = [("x-mock-split-at", bad), ("x-mock-chunks", "7")];
        for deltas in streamed_deltas(&mock, &headers).await? {
            assert_eq!(deltas.len(), 7, "{bad:?}");
            assert_eq!(deltas.concat(), CANNED);
        }
    }
    Ok(())
}
