//! Bad input gets a clear OpenAI-shaped error, loses nothing and panics nothing:
//! oversized, truncated and malformed bodies; garbage requests and headers on the wire.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http::Method;
use http_body_util::{Full, StreamBody};
use rampart_test::{Harness, chat_body};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Writes raw bytes, optionally half-closes, and returns what the server answered
/// before closing (or within a few seconds).
async fn raw(addr: SocketAddr, bytes: &[u8], half_close: bool) -> String {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(bytes).await.unwrap();
    if half_close {
        stream.shutdown().await.unwrap();
    }
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}

async fn still_serving(h: &Harness, key: &str) {
    let response = h.client.post_json("/v1/chat/completions", key, &chat_body("gpt-4o-mini")).await;
    assert_eq!(response.status, 200, "rampart stopped serving: {}", response.text());
}

#[tokio::test]
async fn malformed_json_is_a_400_in_openai_shape() {
    let h = Harness::start().await;
    let key = h.any_key().await;
    for body in [
        "",
        "{",
        "not json",
        "[1,2]",
        "null",
        r#"{"model": 5}"#,
        r#"{"model":"a","model":"b"}"#,
        "{\"model\":\"gpt-4o\"}garbage",
    ] {
        let response = h.client.post_json("/v1/chat/completions", &key, body).await;
        assert_eq!(response.status, 400, "{body:?}: {}", response.text());
        assert_eq!(response.json()["error"]["type"], "invalid_request_error", "{body:?}");
    }
    let response = h.client.post_json("/v1/chat/completions", &key, r#"{"messages":[]}"#).await;
    assert_eq!(response.status, 400);
    assert_eq!(response.json()["error"]["param"], "model");
    let invalid_utf8 = h
        .client
        .request(Method::POST, "/v1/embeddings")
        .header("authorization", format!("Bearer {key}"))
        .body(Full::new(Bytes::from_static(b"{\"model\":\"\xff\xfe\"}")))
        .unwrap();
    assert_eq!(h.client.send(invalid_utf8).await.status, 400);
    assert_eq!(h.mock.request_count(), 0);
    still_serving(&h, &key).await;
}

#[tokio::test]
async fn bodies_over_the_limit_are_a_413_declared_or_streamed() {
    let h = Harness::start().await; // max_body_size = 1MiB, max_upload_size = 4MiB
    let key = h.any_key().await;
    let big =
        format!(r#"{{"model":"gpt-4o-mini","messages":[{{"role":"user","content":"{}"}}]}}"#, "a".repeat(1100 * 1024));
    let declared = h.client.post_json("/v1/chat/completions", &key, &big).await;
    assert_eq!(declared.status, 413, "{}", declared.text());
    assert_eq!(declared.error_code().as_deref(), Some("request_too_large"));

    // Chunked, no content-length: the limit trips while reading.
    let chunks: Vec<Result<http_body::Frame<Bytes>, std::convert::Infallible>> =
        big.as_bytes().chunks(64 * 1024).map(|c| Ok(http_body::Frame::data(Bytes::copy_from_slice(c)))).collect();
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).build_http();
    let request = http::Request::post(format!("http://{}/v1/chat/completions", h.addr))
        .header("authorization", format!("Bearer {key}"))
        .body(StreamBody::new(futures_util::stream::iter(chunks)))
        .unwrap();
    let response = client.request(request).await.unwrap();
    assert_eq!(response.status(), 413);

    // Uploads (allowed by the key's profile: the default refuses them uninspected).
    let key = h.policy_key("off").await;
    // Declared over the upload limit.
    let upload = vec![b'x'; 5 * 1024 * 1024];
    let request = h
        .client
        .request(Method::POST, "/v1/files")
        .header("authorization", format!("Bearer {key}"))
        .header("content-type", "multipart/form-data; boundary=x")
        .body(Full::new(Bytes::from(upload.clone())))
        .unwrap();
    assert_eq!(h.client.send(request).await.status, 413);
    // Streamed over the upload limit, without a declared length.
    let chunks: Vec<Result<http_body::Frame<Bytes>, std::convert::Infallible>> =
        upload.chunks(256 * 1024).map(|c| Ok(http_body::Frame::data(Bytes::copy_from_slice(c)))).collect();
    let request = http::Request::post(format!("http://{}/v1/files", h.addr))
        .header("authorization", format!("Bearer {key}"))
        .header("content-type", "multipart/form-data; boundary=x")
        .body(StreamBody::new(futures_util::stream::iter(chunks)))
        .unwrap();
    let response = client.request(request).await;
    // Either a clean 413, or the connection closed while the body was still being sent.
    if let Ok(response) = response {
        assert_eq!(response.status(), 413);
    }
    // Whatever reached the provider was cut before the limit's end.
    assert!(h.mock.requests().iter().all(|r| r.body_len <= 4 * 1024 * 1024 + 256 * 1024));
    still_serving(&h, &key).await;
}

#[tokio::test]
async fn garbage_on_the_wire_gets_an_error_and_rampart_keeps_serving() {
    let h = Harness::start().await;
    let key = h.any_key().await;
    let huge_header = format!("GET /healthz HTTP/1.1\r\nhost: x\r\nx-big: {}\r\n\r\n", "a".repeat(100 * 1024));
    let cases: Vec<(&str, Vec<u8>, bool)> = vec![
        ("not http", b"GARBAGE GARBAGE\r\n\r\n".to_vec(), false),
        ("binary", vec![0u8, 159, 146, 150, 255, 13, 10, 13, 10], false),
        ("bad header line", b"GET /healthz HTTP/1.1\r\nhost x\r\n\r\n".to_vec(), false),
        ("header too large", huge_header.into_bytes(), false),
        ("bad content-length", b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-length: abc\r\n\r\n".to_vec(), false),
        ("conflicting lengths", b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-length: 5\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n".to_vec(), false),
    ];
    for (context, bytes, half_close) in cases {
        let answer = raw(h.addr, &bytes, half_close).await;
        assert!(answer.is_empty() || answer.starts_with("HTTP/1.1 4"), "{context}: {answer}");
    }
    // A body shorter than its declared length, then the client gives up.
    let truncated = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {key}\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{{\"model\":\"gpt"
    );
    let answer = raw(h.addr, truncated.as_bytes(), true).await;
    assert!(answer.is_empty() || answer.starts_with("HTTP/1.1 400"), "truncated: {answer}");
    // Headers that are not valid UTF-8 / visible ASCII in a credential.
    let answer = raw(
        h.addr,
        b"GET /v1/models HTTP/1.1\r\nhost: x\r\nauthorization: Bearer rk-\xff\xfe\r\nconnection: close\r\n\r\n",
        false,
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 401"), "binary credential: {answer}");
    assert_eq!(h.mock.request_count(), 0, "nothing malformed may reach the provider");
    still_serving(&h, &key).await;
}
