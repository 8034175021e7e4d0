//! Virtual keys: accepted forms, and every way a request is refused before anything
//! reaches the provider.

use bytes::Bytes;
use http::Method;
use http_body_util::Full;
use rampart_test::{Harness, Options, TestResponse, chat_body};

async fn chat_with_headers(h: &Harness, headers: &[(&str, &str)]) -> TestResponse {
    let mut request = h.client.request(Method::POST, "/v1/chat/completions").header("content-type", "application/json");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    h.client.send(request.body(Full::new(Bytes::from(chat_body("gpt-4o-mini")))).unwrap()).await
}

fn assert_unauthorized(response: &TestResponse, context: &str) {
    assert_eq!(response.status, 401, "{context}: {}", response.text());
    assert_eq!(response.error_code().as_deref(), Some("invalid_api_key"), "{context}");
    assert!(response.headers.get("x-request-id").is_some(), "{context}");
}

#[tokio::test]
async fn accepts_bearer_and_api_key_headers() {
    let h = Harness::start().await;
    let key = h.any_key().await;
    assert_eq!(chat_with_headers(&h, &[("authorization", &format!("Bearer {key}"))]).await.status, 200);
    assert_eq!(chat_with_headers(&h, &[("authorization", &format!("bearer  {key} "))]).await.status, 200);
    assert_eq!(chat_with_headers(&h, &[("api-key", &key)]).await.status, 200);
}

#[tokio::test]
async fn refuses_missing_malformed_and_unknown_keys() {
    let h = Harness::start().await;
    let key = h.any_key().await;
    let mut wrong = key.clone();
    wrong.replace_range(10..11, if &key[10..11] == "a" { "b" } else { "a" });
    let cases: Vec<(&str, Vec<(&str, String)>)> = vec![
        ("no credential", vec![]),
        ("basic auth", vec![("authorization", format!("Basic {key}"))]),
        ("bearer without token", vec![("authorization", "Bearer".into())]),
        ("provider-style key", vec![("authorization", "Bearer sk-proj-abcdef".into())]),
        ("one character changed", vec![("authorization", format!("Bearer {wrong}"))]),
        ("truncated", vec![("authorization", format!("Bearer {}", &key[..key.len() - 1]))]),
        ("sql in the key", vec![("authorization", "Bearer rk-' OR '1'='1".into())]),
        (
            "wrong key wins over a right api-key",
            vec![("authorization", format!("Bearer {wrong}")), ("api-key", key.clone())],
        ),
    ];
    for (context, headers) in cases {
        let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
        let response = chat_with_headers(&h, &headers).await;
        assert_unauthorized(&response, context);
        assert!(!response.text().contains(&key), "{context}: the key was echoed");
    }
    assert_eq!(h.mock.request_count(), 0);
}

#[tokio::test]
async fn unknown_paths_need_a_key_too_but_health_checks_do_not() {
    let h = Harness::start().await;
    let anonymous = h.client.request(Method::GET, "/v1/assistants").body(Full::new(Bytes::new())).unwrap();
    assert_unauthorized(&h.client.send(anonymous).await, "unknown path");
    let anonymous = h.client.request(Method::GET, "/admin").body(Full::new(Bytes::new())).unwrap();
    assert_unauthorized(&h.client.send(anonymous).await, "non-API path");
    for path in ["/healthz", "/readyz"] {
        let request = h.client.request(Method::GET, path).body(Full::new(Bytes::new())).unwrap();
        let response = h.client.send(request).await;
        assert_eq!(response.status, 200, "{path}");
        assert!(response.headers.get("x-request-id").is_some());
    }
}

async fn revoked_key_is_refused_on_the_next_request(h: &Harness) {
    let (id, key) = h.key(&["*"]).await;
    assert_eq!(h.client.post_json("/v1/chat/completions", &key, &chat_body("gpt-4o-mini")).await.status, 200);
    assert!(h.store.revoke_key(&id).await.unwrap());
    let response = h.client.post_json("/v1/chat/completions", &key, &chat_body("gpt-4o-mini")).await;
    assert_unauthorized(&response, "revoked");
    assert!(response.text().contains("revoked"));
    assert_eq!(h.mock.request_count(), 1);
}

#[tokio::test]
async fn revoked_keys_are_refused_on_the_next_request() {
    revoked_key_is_refused_on_the_next_request(&Harness::start().await).await;
}

#[tokio::test]
async fn revoked_keys_are_refused_on_the_next_request_with_postgres() {
    let Some(url) = rampart_test::postgres_database().await else {
        return;
    };
    let h = Harness::start_with(Options { store_url: Some(url), ..Default::default() }).await;
    revoked_key_is_refused_on_the_next_request(&h).await;
}

#[tokio::test]
async fn expired_keys_are_refused() {
    let h = Harness::start().await;
    let now = rampart_store::unix_now();
    let (_, live) = h.key_expiring(&["*"], Some(now + 3600)).await;
    let (_, expired) = h.key_expiring(&["*"], Some(now - 1)).await;
    assert_eq!(h.client.post_json("/v1/chat/completions", &live, &chat_body("gpt-4o-mini")).await.status, 200);
    let response = h.client.post_json("/v1/chat/completions", &expired, &chat_body("gpt-4o-mini")).await;
    assert_unauthorized(&response, "expired");
    assert!(response.text().contains("expired"));
}

#[tokio::test]
async fn models_outside_the_key_scope_are_forbidden() {
    let h = Harness::start().await;
    let (_, key) = h.key(&["gpt-4o-mini", "text-embedding-*"]).await;
    assert_eq!(h.client.post_json("/v1/chat/completions", &key, &chat_body("gpt-4o-mini")).await.status, 200);
    assert_eq!(
        h.client.post_json("/v1/embeddings", &key, r#"{"model":"text-embedding-3-large","input":"x"}"#).await.status,
        200
    );
    for (path, body) in [
        ("/v1/chat/completions", chat_body("gpt-4o")),
        ("/v1/chat/completions", chat_body("alias-model")),
        ("/v1/moderations", r#"{"input":"x"}"#.to_owned()),
        ("/v1/images/generations", r#"{"model":"dall-e-3","prompt":"x"}"#.to_owned()),
    ] {
        let response = h.client.post_json(path, &key, &body).await;
        assert_eq!(response.status, 403, "{path} {body}: {}", response.text());
        assert_eq!(response.error_code().as_deref(), Some("model_not_allowed"));
        assert_eq!(response.json()["error"]["param"], "model");
    }
    // Endpoints whose model cannot be checked before streaming need an unrestricted key.
    let request = h
        .client
        .request(Method::POST, "/v1/audio/transcriptions")
        .header("authorization", format!("Bearer {key}"))
        .header("content-type", "multipart/form-data; boundary=x")
        .body(Full::new(Bytes::from_static(b"--x--\r\n")))
        .unwrap();
    let response = h.client.send(request).await;
    assert_eq!(response.status, 403);
    assert_eq!(response.error_code().as_deref(), Some("endpoint_not_allowed"));
    assert_eq!(h.client.get("/v1/files", &key).await.status, 403);
    assert_eq!(h.mock.request_count(), 2);
}

#[tokio::test]
async fn a_store_that_cannot_answer_fails_closed() {
    let h = Harness::start().await;
    let key = h.any_key().await;
    h.store.close().await;
    let response = h.client.post_json("/v1/chat/completions", &key, &chat_body("gpt-4o-mini")).await;
    assert_eq!(response.status, 503, "{}", response.text());
    let request = h.client.request(Method::GET, "/readyz").body(Full::new(Bytes::new())).unwrap();
    assert_eq!(h.client.send(request).await.status, 503);
    assert_eq!(h.mock.request_count(), 0);
}

#[tokio::test]
async fn cached_keys_expire_when_changed_behind_rampart_s_back() {
    let h = Harness::start_with(Options { cache_ttl: "300ms".into(), ..Default::default() }).await;
    let (id, key) = h.key(&["*"]).await;
    assert_eq!(h.client.post_json("/v1/chat/completions", &key, &chat_body("gpt-4o-mini")).await.status, 200);
    // Revoke with plain SQL, as an operator might: no key-change epoch bump.
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&h.store_url).await.unwrap();
    sqlx::query("UPDATE virtual_keys SET revoked_at = 1 WHERE id = $1").bind(&id).execute(&pool).await.unwrap();
    pool.close().await;
    // Served from the cache within the TTL...
    assert_eq!(h.client.post_json("/v1/chat/completions", &key, &chat_body("gpt-4o-mini")).await.status, 200);
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    // ...and refused once it has passed.
    assert_unauthorized(&h.client.post_json("/v1/chat/completions", &key, &chat_body("gpt-4o-mini")).await, "ttl");
}
