//! Bypass and exhaustion attempts found in review: scope checks that depend on the
//! body, method and header tricks, encoded paths, silent connections, connection floods
//! and readiness during shutdown.

use std::time::Duration;

use bytes::Bytes;
use http::Method;
use http_body_util::Full;
use rampart_test::{Harness, Options, chat_body};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn request(h: &Harness, method: Method, path: &str, key: &str) -> http::request::Builder {
    h.client.request(method, path).header("authorization", format!("Bearer {key}"))
}

#[tokio::test]
async fn a_restricted_key_cannot_reach_batches_or_files_by_naming_an_allowed_model() {
    let h = Harness::start().await;
    let (_, key) = h.key(&["gpt-4o-mini"]).await;
    for (path, body) in [
        (
            "/v1/batches",
            r#"{"input_file_id":"file-x","endpoint":"/v1/chat/completions","completion_window":"24h","model":"gpt-4o-mini"}"#,
        ),
        ("/v1/batches/batch_other/cancel", r#"{"model":"gpt-4o-mini"}"#),
        ("/v1/files", r#"{"model":"gpt-4o-mini"}"#),
        ("/v1/responses/resp_other/cancel", r#"{"model":"gpt-4o-mini"}"#),
    ] {
        let response = h.client.post_json(path, &key, body).await;
        assert_eq!(response.status, 403, "{path}: {}", response.text());
        assert_eq!(response.error_code().as_deref(), Some("endpoint_not_allowed"));
    }
    assert_eq!(h.mock.request_count(), 0);
}

#[tokio::test]
async fn tools_that_run_their_own_model_are_held_to_the_key_scope() {
    let h = Harness::start().await;
    let (_, key) = h.key(&["gpt-4o-mini"]).await;
    let body = r#"{"model":"gpt-4o-mini","input":"draw","tools":[{"type":"image_generation","model":"gpt-image-1"}]}"#;
    let response = h.client.post_json("/v1/responses", &key, body).await;
    assert_eq!(response.status, 403, "{}", response.text());
    assert!(response.text().contains("gpt-image-1"));
    assert_eq!(h.mock.request_count(), 0);
}

#[tokio::test]
async fn only_the_methods_each_route_defines_go_upstream() {
    let h = Harness::start().await;
    let key = h.any_key().await;
    for (method, path) in [
        (Method::TRACE, "/v1/files"),
        (Method::OPTIONS, "/v1/files"),
        (Method::PUT, "/v1/files/file-1"),
        (Method::PATCH, "/v1/batches/b"),
        (Method::DELETE, "/v1/audio/speech"),
        (Method::GET, "/v1/images/generations"),
    ] {
        let response =
            h.client.send(request(&h, method.clone(), path, &key).body(Full::new(Bytes::new())).unwrap()).await;
        assert_eq!(response.status, 405, "{method} {path}: {}", response.text());
    }
    assert_eq!(h.mock.request_count(), 0);
}

#[tokio::test]
async fn only_allow_listed_headers_and_no_query_reach_inference() {
    let h = Harness::start().await;
    let key = h.any_key().await;
    let response = h
        .client
        .send(
            request(&h, Method::POST, "/v1/chat/completions?api-version=2024&stream=true", &key)
                .header("content-type", "application/json")
                .header("x-original-url", "/v1/files")
                .header("x-http-method-override", "DELETE")
                .header("x-forwarded-prefix", "/admin")
                .header("x-forwarded-for", "10.0.0.1")
                .header("via", "1.1 evil")
                .header("x-stainless-lang", "python")
                .header("idempotency-key", "abc")
                .body(Full::new(Bytes::from(chat_body("gpt-4o-mini"))))
                .unwrap(),
        )
        .await;
    assert_eq!(response.status, 200, "{}", response.text());
    let seen = h.mock.requests().pop().unwrap();
    assert_eq!(seen.path, "/v1/chat/completions");
    for dropped in ["x-original-url", "x-http-method-override", "x-forwarded-prefix", "x-forwarded-for", "via"] {
        assert!(seen.headers.get(dropped).is_none(), "{dropped} went upstream");
    }
    assert_eq!(seen.headers["x-stainless-lang"], "python");
    assert_eq!(seen.headers["idempotency-key"], "abc");
}

#[tokio::test]
async fn encoded_and_parameterized_paths_are_refused() {
    let h = Harness::start().await;
    let (_, narrow) = h.key(&["gpt-4o*"]).await;
    let key = h.any_key().await;
    for (path, key) in [
        ("/v1/models/gpt-4o-mini/..;/..;/files", &narrow),
        ("/v1/models/gpt-4o-mini%2F..%2Ffiles", &narrow),
        ("/v1/files/..;/chat/completions", &key),
        ("/v1/files/file-1%3Bx", &key),
        ("/v1/files/%252e%252e", &key),
    ] {
        let response = h.client.get(path, key).await;
        assert_eq!(response.status, 400, "{path}: {}", response.text());
    }
    assert_eq!(h.mock.request_count(), 0);
}

#[tokio::test]
async fn compressed_or_ambiguous_bodies_are_refused() {
    let h = Harness::start().await;
    let key = h.any_key().await;
    let gzip = request(&h, Method::POST, "/v1/chat/completions", &key)
        .header("content-type", "application/json")
        .header("content-encoding", "gzip")
        .body(Full::new(Bytes::from(chat_body("gpt-4o-mini"))))
        .unwrap();
    let response = h.client.send(gzip).await;
    assert_eq!(response.status, 415, "{}", response.text());
    let twice = request(&h, Method::POST, "/v1/images/generations", &key)
        .header("content-type", "application/json")
        .header("content-type", "multipart/form-data; boundary=x")
        .body(Full::new(Bytes::from_static(br#"{"model":"dall-e-3","prompt":"x"}"#)))
        .unwrap();
    assert_eq!(h.client.send(twice).await.status, 400);
    assert_eq!(h.mock.request_count(), 0);
}

#[tokio::test]
async fn upstream_requests_keep_their_framing() {
    let h = Harness::start().await;
    let key = h.any_key().await;
    let delete = request(&h, Method::DELETE, "/v1/files/file-1", &key).body(Full::new(Bytes::new())).unwrap();
    assert_eq!(h.client.send(delete).await.status, 200);
    let seen = h.mock.requests().pop().unwrap();
    assert!(seen.headers.get("transfer-encoding").is_none(), "{:?}", seen.headers);
    let key = h.policy_key("off").await;
    let upload = request(&h, Method::POST, "/v1/files", &key)
        .header("content-type", "multipart/form-data; boundary=x")
        .body(Full::new(Bytes::from(vec![b'a'; 10_000])))
        .unwrap();
    assert_eq!(h.client.send(upload).await.status, 200);
    let seen = h.mock.requests().pop().unwrap();
    assert_eq!(seen.headers["content-length"], "10000");
}

#[tokio::test]
async fn silent_connections_are_closed_at_the_header_timeout() {
    let h =
        Harness::start_with(Options { extra_server_toml: "header_timeout = \"500ms\"".into(), ..Default::default() })
            .await;
    for opening in [&b""[..], b"PRI * HTTP/2.0\r\n", b"GET /healthz HTTP/1.1\r\nhost: x\r\n"] {
        let mut stream = tokio::net::TcpStream::connect(h.addr).await.unwrap();
        stream.write_all(opening).await.unwrap();
        let mut buf = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut buf)).await;
        assert!(read.is_ok(), "connection opened with {opening:?} was kept open");
    }
}

#[tokio::test]
async fn connections_over_the_limit_are_closed_at_once() {
    let h =
        Harness::start_with(Options { extra_server_toml: "max_connections = 2".into(), ..Default::default() }).await;
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut stream = tokio::net::TcpStream::connect(h.addr).await.unwrap();
        stream.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n").await.unwrap();
        let mut buf = [0u8; 512];
        let n = stream.read(&mut buf).await.unwrap();
        assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
        held.push(stream);
    }
    let mut third = tokio::net::TcpStream::connect(h.addr).await.unwrap();
    let _ = third.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n").await;
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), third.read_to_end(&mut buf)).await;
    assert!(matches!(read, Ok(Ok(0)) | Ok(Err(_))), "third connection was served: {:?}", String::from_utf8_lossy(&buf));
    drop(held);
    // Slots come back once connections close.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let mut stream = tokio::net::TcpStream::connect(h.addr).await.unwrap();
        let _ = stream.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n").await;
        let mut buf = Vec::new();
        let _ = stream.read_to_end(&mut buf).await;
        if buf.starts_with(b"HTTP/1.1 200") {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "slots never freed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn readiness_fails_during_the_shutdown_delay_while_still_serving() {
    let mut h =
        Harness::start_with(Options { extra_server_toml: "shutdown_delay = \"1s\"".into(), ..Default::default() })
            .await;
    let gateway = h.take_gateway();
    let trigger = gateway.shutdown_trigger();
    let done = tokio::spawn(gateway.wait());
    trigger.trigger();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let ready = h.client.send(h.client.request(Method::GET, "/readyz").body(Full::new(Bytes::new())).unwrap()).await;
    assert_eq!(ready.status, 503);
    let health = h.client.send(h.client.request(Method::GET, "/healthz").body(Full::new(Bytes::new())).unwrap()).await;
    assert_eq!(health.status, 200);
    tokio::time::timeout(Duration::from_secs(10), done).await.unwrap().unwrap();
    assert!(tokio::net::TcpStream::connect(h.addr).await.is_err());
}
