//! The admin API on its own listener: authentication (tokens, session cookies, CSRF),
//! the role × route matrix, login with TOTP (replay, lockout), hostile input, the
//! data-plane listener never answering admin routes, and provider credentials never
//! leaving the vault in plaintext.

use bytes::Bytes;
use http::{HeaderValue, Method};
use http_body_util::Full;
use rampart_identity::{totp, vault};
use rampart_store::{AdminRole, KeySpec, ModelScope, unix_now};
use rampart_test::{Harness, KEY_SECRET, Options, TestClient, TestResponse};
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery staple";

async fn start() -> (Harness, TestClient) {
    let h = Harness::start_with(Options {
        admin_toml: Some("lockout_after = 3\nlockout_for = \"15m\"\nsession_ttl = \"1h\"\n".into()),
        ..Options::default()
    })
    .await;
    let admin = TestClient::new(h.admin_addr.expect("admin listener"));
    (h, admin)
}

async fn token(h: &Harness, role: AdminRole) -> String {
    h.store.create_admin_token(&h.hasher, "test", role, None, None).await.unwrap().1.key
}

/// Sends `method path` with extra headers and an optional body.
async fn call(
    client: &TestClient,
    method: Method,
    path: &str,
    headers: &[(&str, HeaderValue)],
    body: Option<Vec<u8>>,
) -> TestResponse {
    let mut request = client.request(method, path);
    for (name, value) in headers {
        request = request.header(*name, value.clone());
    }
    if body.is_some() {
        request = request.header("content-type", "application/json");
    }
    client.send(request.body(Full::new(Bytes::from(body.unwrap_or_default()))).unwrap()).await
}

fn bearer(token: &str) -> (&'static str, HeaderValue) {
    ("authorization", HeaderValue::from_str(&format!("Bearer {token}")).unwrap())
}

async fn with_token(client: &TestClient, token: &str, method: Method, path: &str, body: Option<Value>) -> TestResponse {
    call(client, method, path, &[bearer(token)], body.map(|b| b.to_string().into_bytes())).await
}

/// Creates an admin user through the API and returns `(id, totp secret)`.
async fn create_user(admin: &TestClient, token: &str, username: &str, role: &str) -> (String, totp::TotpSecret) {
    let body = json!({"username": username, "password": PASSWORD, "role": role});
    let response = with_token(admin, token, Method::POST, "/admin/v1/users", Some(body)).await;
    assert_eq!(response.status, 201, "{}", response.text());
    let json = response.json();
    assert!(json.get("password_hash").is_none() && !response.text().contains("argon2"));
    let secret = json["totp"]["secret"].as_str().unwrap();
    let uri = json["totp"]["uri"].as_str().unwrap();
    assert!(uri.starts_with("otpauth://totp/") && uri.contains(secret), "{uri}");
    (json["id"].as_str().unwrap().to_owned(), totp::TotpSecret::from_base32(secret).unwrap())
}

async fn login(admin: &TestClient, username: &str, password: &str, code: &str) -> TestResponse {
    let body = json!({"username": username, "password": password, "totp": code}).to_string();
    call(admin, Method::POST, "/admin/v1/login", &[], Some(body.into_bytes())).await
}

/// `rampart_session=...` from a login response's `Set-Cookie`.
fn session_cookie(response: &TestResponse) -> String {
    let cookie = response.headers.get("set-cookie").unwrap().to_str().unwrap();
    cookie.split(';').next().unwrap().trim().to_owned()
}

fn assert_not_server_error(response: &TestResponse, context: &str) {
    assert!(response.status.as_u16() < 500, "{context}: {} {}", response.status, response.text());
    if !response.status.is_success() {
        assert!(
            response.json().pointer("/error/message").is_some(),
            "{context}: not OpenAI-shaped: {}",
            response.text()
        );
    }
}

const ALL: &[&str] = &["admin", "key_manager", "auditor", "viewer"];

#[tokio::test]
async fn every_route_answers_each_role_as_the_matrix_says() {
    let (h, admin) = start().await;
    let root = token(&h, AdminRole::Admin).await;
    // Fixtures, made as `admin`.
    let team = with_token(&admin, &root, Method::POST, "/admin/v1/teams", Some(json!({"name": "fixtures"}))).await;
    assert_eq!(team.status, 201, "{}", team.text());
    let team_id = team.json()["id"].as_str().unwrap().to_owned();
    let (key, _) = h.store.create_scoped_key(&h.hasher, &KeySpec::new("fixture", ModelScope::all())).await.unwrap();
    let (victim_token, _) =
        h.store.create_admin_token(&h.hasher, "victim", AdminRole::Viewer, None, None).await.unwrap();
    let (user_id, _) = create_user(&admin, &root, "fixture-user", "viewer").await;

    // The expected matrix, written here independently of the gateway's table.
    let kr = &["admin", "key_manager"][..];
    let readers = &["admin", "auditor"][..];
    let only_admin = &["admin"][..];
    let key_path = format!("/admin/v1/keys/{}", key.id);
    let matrix: Vec<(Method, String, Option<Value>, &[&str])> = vec![
        (Method::GET, "/admin/v1/whoami".into(), None, ALL),
        (Method::POST, "/admin/v1/logout".into(), None, ALL),
        (Method::GET, "/admin/v1/keys".into(), None, ALL),
        (Method::POST, "/admin/v1/keys".into(), Some(json!({"name": "m", "models": ["gpt-4o"]})), kr),
        (Method::GET, key_path.clone(), None, ALL),
        (Method::POST, format!("{key_path}/rotate"), Some(json!({"grace": "1h"})), kr),
        (Method::POST, format!("{key_path}/suspend"), Some(json!({"reason": "matrix"})), kr),
        (Method::POST, format!("{key_path}/resume"), None, kr),
        (Method::POST, format!("{key_path}/revoke"), None, kr),
        (Method::GET, "/admin/v1/teams".into(), None, ALL),
        (Method::POST, "/admin/v1/teams".into(), Some(json!({"name": "matrix-team"})), only_admin),
        (Method::GET, format!("/admin/v1/teams/{team_id}"), None, ALL),
        (Method::DELETE, format!("/admin/v1/teams/{team_id}"), None, only_admin),
        (Method::GET, "/admin/v1/users".into(), None, readers),
        (
            Method::POST,
            "/admin/v1/users".into(),
            Some(json!({"username": "matrix-user", "password": PASSWORD, "role": "viewer"})),
            only_admin,
        ),
        (Method::POST, format!("/admin/v1/users/{user_id}/disable"), None, only_admin),
        (Method::GET, "/admin/v1/tokens".into(), None, readers),
        (Method::POST, "/admin/v1/tokens".into(), Some(json!({"name": "t", "role": "viewer"})), only_admin),
        (Method::POST, format!("/admin/v1/tokens/{}/revoke", victim_token.id), None, only_admin),
        (Method::GET, "/admin/v1/providers".into(), None, readers),
        (Method::PUT, "/admin/v1/providers/mock/credential".into(), Some(json!({"api_key": "sk-matrix"})), only_admin),
    ];

    // Unauthenticated: 401 everywhere, like unknown paths.
    for (method, path, body, _) in &matrix {
        let response = call(&admin, method.clone(), path, &[], body.as_ref().map(|b| b.to_string().into_bytes())).await;
        assert_eq!(response.status, 401, "anonymous {method} {path}: {}", response.text());
        assert_eq!(response.error_code().as_deref(), Some("invalid_api_key"));
    }
    for path in ["/admin/v1/nope", "/", "/admin/v1/keys/x/y", "/v1/chat/completions"] {
        assert_eq!(call(&admin, Method::GET, path, &[], None).await.status, 401, "anonymous {path}");
        assert_eq!(with_token(&admin, &root, Method::GET, path, None).await.status, 404, "admin {path}");
    }
    assert_eq!(with_token(&admin, &root, Method::DELETE, "/admin/v1/keys", None).await.status, 405);
    assert_eq!(with_token(&admin, &root, Method::PATCH, "/admin/v1/whoami", None).await.status, 405);

    // Least privilege first, so the admin's destructive calls come last.
    for role in [AdminRole::Viewer, AdminRole::Auditor, AdminRole::KeyManager, AdminRole::Admin] {
        let role_token = token(&h, role).await;
        for (method, path, body, allowed) in &matrix {
            let body = match (path.as_str(), body) {
                // unique names, so an allowed create is not refused as a duplicate
                ("/admin/v1/teams" | "/admin/v1/users", Some(body)) => {
                    let mut body = body.clone();
                    let field = if path.ends_with("teams") { "name" } else { "username" };
                    body[field] = Value::String(format!("{}-{}", body[field].as_str().unwrap(), role.as_str()));
                    Some(body)
                }
                (_, body) => body.clone(),
            };
            let response = with_token(&admin, &role_token, method.clone(), path, body).await;
            let context = format!("{} {method} {path}", role.as_str());
            assert_not_server_error(&response, &context);
            if allowed.contains(&role.as_str()) {
                assert!(![401, 403].contains(&response.status.as_u16()), "{context}: {}", response.text());
            } else {
                assert_eq!(response.status, 403, "{context}: {}", response.text());
                assert_eq!(response.error_code().as_deref(), Some("insufficient_role"), "{context}");
                assert!(response.text().contains("admin"), "{context}: names the role required");
            }
        }
        let whoami = with_token(&admin, &role_token, Method::GET, "/admin/v1/whoami", None).await.json();
        assert_eq!(whoami["role"], role.as_str());
        assert_eq!(whoami["kind"], "token");
    }
}

#[tokio::test]
async fn revoked_and_expired_tokens_are_refused() {
    let (h, admin) = start().await;
    let (record, live) = h.store.create_admin_token(&h.hasher, "t", AdminRole::Admin, None, None).await.unwrap();
    let (_, expired) =
        h.store.create_admin_token(&h.hasher, "t", AdminRole::Admin, Some(unix_now() - 1), None).await.unwrap();
    assert_eq!(with_token(&admin, &live.key, Method::GET, "/admin/v1/whoami", None).await.status, 200);
    assert_eq!(with_token(&admin, &expired.key, Method::GET, "/admin/v1/whoami", None).await.status, 401);
    let revoke =
        with_token(&admin, &live.key, Method::POST, &format!("/admin/v1/tokens/{}/revoke", record.id), None).await;
    assert_eq!(revoke.status, 200, "{}", revoke.text());
    assert_eq!(with_token(&admin, &live.key, Method::GET, "/admin/v1/whoami", None).await.status, 401);
    // a data-plane key is not an admin credential
    let data_key = h.any_key().await;
    assert_eq!(with_token(&admin, &data_key, Method::GET, "/admin/v1/whoami", None).await.status, 401);
}

#[tokio::test]
async fn keys_are_created_with_least_privilege_rotated_and_revoked() {
    let (h, admin) = start().await;
    let root = token(&h, AdminRole::KeyManager).await;
    for (body, code) in [
        (json!({"name": "k"}), "missing models"),
        (json!({"name": "k", "models": ["*"], "admin": true}), "unknown field"),
        (json!({"name": "k", "models": ["*"], "policy": "no-such-profile"}), "unknown policy"),
        (json!({"name": "k", "models": ["*"], "expires": "soon"}), "bad duration"),
        (json!({"name": "k", "models": ["*"], "cidrs": ["10.0.0.0/33"]}), "bad cidr"),
        (json!({"name": "k", "models": ["*"], "team": "no-such-team"}), "unknown team"),
        (json!({"name": "k\u{0}", "models": ["*"]}), "NUL in name"),
        (json!({"name": 5, "models": ["*"]}), "wrong type"),
        (json!({"name": "k", "models": ["*"], "limits": {"rpm": 0}}), "zero limit"),
        (json!({"name": "k", "models": ["*"], "limits": {"priority": "urgent"}}), "unknown priority"),
        (json!({"name": "k", "models": ["*"], "limits": {"daily_budget_usd": "-1"}}), "negative budget"),
        (json!({"name": "k", "models": ["*"], "limits": {"daily_budget_usd": 1e300}}), "absurd budget"),
        (json!({"name": "k", "models": ["*"], "limits": {"rps": 5}}), "unknown limit"),
    ] {
        let response = with_token(&admin, &root, Method::POST, "/admin/v1/keys", Some(body)).await;
        assert_eq!(response.status, 400, "{code}: {}", response.text());
    }
    let created = with_token(
        &admin,
        &root,
        Method::POST,
        "/admin/v1/keys",
        Some(json!({"name": "svc", "models": ["*"], "policy": "off", "expires": "30d", "metadata": {"ticket": 7}})),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.text());
    let created = created.json();
    let secret = created["key"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("rk-"));
    assert_eq!(created["endpoints"], json!(["/v1/*"]));
    assert_eq!(created["policy"], "off");
    let id = created["id"].as_str().unwrap();
    assert_eq!(h.client.get("/v1/models", &secret).await.status, 200, "the new key works on the data plane");

    let shown = with_token(&admin, &root, Method::GET, &format!("/admin/v1/keys/{id}"), None).await;
    assert_eq!(shown.status, 200);
    assert!(!shown.text().contains(&secret), "the secret is shown once");
    let listed = with_token(&admin, &root, Method::GET, "/admin/v1/keys", None).await;
    assert!(!listed.text().contains(&secret));

    let rotated =
        with_token(&admin, &root, Method::POST, &format!("/admin/v1/keys/{id}/rotate"), Some(json!({"grace": "0s"})))
            .await;
    assert_eq!(rotated.status, 201, "{}", rotated.text());
    let successor = rotated.json()["key"].as_str().unwrap().to_owned();
    assert_eq!(rotated.json()["rotated_from"], id);
    assert_eq!(h.client.get("/v1/models", &successor).await.status, 200);
    let again =
        with_token(&admin, &root, Method::POST, &format!("/admin/v1/keys/{id}/rotate"), Some(json!({"grace": "1h"})))
            .await;
    assert_eq!(again.status, 409, "{}", again.text());
    let bad_grace =
        with_token(&admin, &root, Method::POST, &format!("/admin/v1/keys/{id}/rotate"), Some(json!({"grace": "-1h"})))
            .await;
    assert_eq!(bad_grace.status, 400);

    let successor_id = rotated.json()["id"].as_str().unwrap().to_owned();
    // Suspension: refused at once with its own code, shown with its reason, reversible.
    let suspend = |id: &str, body: Value| {
        let (admin, root, path) = (&admin, &root, format!("/admin/v1/keys/{id}/suspend"));
        async move { with_token(admin, root, Method::POST, &path, Some(body)).await }
    };
    let suspended = suspend(&successor_id, json!({"reason": "investigating"})).await;
    assert_eq!(suspended.status, 200, "{}", suspended.text());
    assert_eq!(suspended.json()["status"], "suspended");
    assert_eq!(suspended.json()["suspended_reason"], "admin: investigating");
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let refused = h.client.get("/v1/models", &successor).await;
    assert_eq!((refused.status.as_u16(), refused.error_code().as_deref()), (401, Some("invalid_api_key")));
    assert!(refused.text().contains("suspended"), "{}", refused.text());
    assert_eq!(suspend(&successor_id, json!({"reason": " "})).await.status, 400);
    assert_eq!(suspend(&successor_id, json!({})).await.status, 400);
    assert_eq!(suspend("key_AAAAAAAAAAAAAAAA", json!({"reason": "x"})).await.status, 404);
    let resumed = with_token(&admin, &root, Method::POST, &format!("/admin/v1/keys/{successor_id}/resume"), None).await;
    assert_eq!(resumed.json()["status"], "active", "{}", resumed.text());
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    assert_eq!(h.client.get("/v1/models", &successor).await.status, 200);
    let revoked = with_token(&admin, &root, Method::POST, &format!("/admin/v1/keys/{successor_id}/revoke"), None).await;
    assert_eq!(revoked.status, 200, "{}", revoked.text());
    assert_eq!(revoked.json()["status"], "revoked");
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    assert_eq!(h.client.get("/v1/models", &successor).await.status, 401);
    let missing = with_token(&admin, &root, Method::POST, "/admin/v1/keys/key_AAAAAAAAAAAAAAAA/revoke", None).await;
    assert_eq!(missing.status, 404);
    let resumed = with_token(&admin, &root, Method::POST, &format!("/admin/v1/keys/{successor_id}/resume"), None).await;
    assert_eq!(resumed.status, 409, "a revoked key stays revoked: {}", resumed.text());
    // Limits set through the admin API are shown exactly and enforced at once.
    let limits = json!({"rpm": 1, "tpm": 100000, "daily_budget_usd": 0.25, "priority": "batch"});
    let limited = with_token(
        &admin,
        &root,
        Method::POST,
        "/admin/v1/keys",
        Some(json!({"name": "limited", "models": ["*"], "limits": limits})),
    )
    .await;
    assert_eq!(limited.status, 201, "{}", limited.text());
    let shown = limited.json();
    assert_eq!(
        shown["limits"],
        json!({"rpm": 1, "tpm": 100000, "max_concurrency": null, "daily_budget_usd": "0.25",
            "monthly_budget_usd": null, "max_tokens": null, "priority": "batch"})
    );
    let secret = shown["key"].as_str().unwrap();
    let body = r#"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}"#;
    // Its budget needs prices this gateway does not have: refused, not run uncounted.
    let refused = h.client.post_json("/v1/chat/completions", secret, body).await;
    assert_eq!(refused.status, 403, "{}", refused.text());
    assert_eq!(refused.error_code().as_deref(), Some("model_not_priced"));
    // File routes cannot be counted against its token limit and budget: refused.
    let unmetered = h.client.get("/v1/files", secret).await;
    assert_eq!(unmetered.status, 403, "{}", unmetered.text());
    assert_eq!(unmetered.error_code().as_deref(), Some("endpoint_not_metered"));
}

#[tokio::test]
async fn totp_login_rejects_replays_and_locks_after_failures() {
    let (h, admin) = start().await;
    let root = token(&h, AdminRole::Admin).await;
    let (user_id, secret) = create_user(&admin, &root, "Alice", "auditor").await;
    // the secret is stored sealed, bound to the user id
    let stored = h.store.get_admin_user_by_id(&user_id).await.unwrap().unwrap();
    let sealed = stored.totp_secret.clone().unwrap();
    assert!(!sealed.contains(secret.to_base32().as_str()));
    let kek = vault::Kek::derive_from_secret(KEY_SECRET.as_bytes());
    let opened = vault::open(&kek, &sealed, format!("totp:{user_id}").as_bytes()).unwrap();
    assert_eq!(opened.as_slice(), secret.as_bytes());

    // unknown user and wrong password look the same
    let unknown = login(&admin, "mallory", PASSWORD, "000000").await;
    assert_eq!(unknown.status, 401);
    assert_eq!(
        unknown.json()["error"]["message"],
        login(&admin, "alice", "wrong password!", "000000").await.json()["error"]["message"]
    );
    h.store.record_login_success(&user_id).await.unwrap();

    let code = totp::code_at(&secret, unix_now());
    let ok = login(&admin, "alice", PASSWORD, &code).await;
    assert_eq!(ok.status, 200, "{}", ok.text());
    assert!(ok.json()["csrf_token"].as_str().unwrap().starts_with("rc-"));
    let cookie = ok.headers.get("set-cookie").unwrap().to_str().unwrap().to_owned();
    assert!(cookie.starts_with("rampart_session=rs-"), "{cookie}");
    for flag in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/admin", "Max-Age=3600"] {
        assert!(cookie.split("; ").any(|part| part == flag), "{flag} missing from {cookie}");
    }

    let replay = login(&admin, "alice", PASSWORD, &code).await;
    assert_eq!(replay.status, 401, "a code works once");
    assert_eq!(replay.error_code().as_deref(), Some("invalid_api_key"));
    let wrong_code = if code.as_str() == "123456" { "654321" } else { "123456" };
    assert_eq!(login(&admin, "alice", PASSWORD, wrong_code).await.status, 401);
    let user = h.store.get_admin_user("alice").await.unwrap().unwrap();
    assert_eq!(user.failed_attempts, 2, "the replay and the wrong code both count");
    assert!(!user.is_locked(unix_now()));
    assert_eq!(login(&admin, "alice", "not the password", wrong_code).await.status, 401);
    assert!(h.store.get_admin_user("alice").await.unwrap().unwrap().is_locked(unix_now()));
    // locked: even the right password and a fresh code are refused
    let fresh = totp::code_at(&secret, unix_now() + 30);
    let locked = login(&admin, "alice", PASSWORD, &fresh).await;
    assert_eq!(locked.status, 429, "{}", locked.text());
    assert_eq!(locked.error_code().as_deref(), Some("account_locked"));

    // a disabled user cannot log in, and its sessions end
    let session = session_cookie(&ok);
    let session_header = ("cookie", HeaderValue::from_str(&session).unwrap());
    assert_eq!(
        call(&admin, Method::GET, "/admin/v1/whoami", std::slice::from_ref(&session_header), None).await.status,
        200
    );
    h.store.record_login_success(&user_id).await.unwrap();
    assert_eq!(
        with_token(&admin, &root, Method::POST, &format!("/admin/v1/users/{user_id}/disable"), None).await.status,
        200
    );
    assert_eq!(call(&admin, Method::GET, "/admin/v1/whoami", &[session_header], None).await.status, 401);
    assert_eq!(login(&admin, "alice", PASSWORD, &fresh).await.status, 401);
}

#[tokio::test]
async fn session_cookies_need_the_csrf_token_for_changes() {
    let (h, admin) = start().await;
    let root = token(&h, AdminRole::Admin).await;
    let (_, secret) = create_user(&admin, &root, "bob", "admin").await;
    let ok = login(&admin, "bob", PASSWORD, &totp::code_at(&secret, unix_now())).await;
    assert_eq!(ok.status, 200, "{}", ok.text());
    let csrf = ok.json()["csrf_token"].as_str().unwrap().to_owned();
    let cookie = ("cookie", HeaderValue::from_str(&session_cookie(&ok)).unwrap());
    let csrf_header = ("x-csrf-token", HeaderValue::from_str(&csrf).unwrap());

    let whoami = call(&admin, Method::GET, "/admin/v1/whoami", std::slice::from_ref(&cookie), None).await;
    assert_eq!(whoami.status, 200);
    assert_eq!(whoami.json()["kind"], "user");
    assert_eq!(whoami.json()["role"], "admin");

    let body = || Some(json!({"name": "via-cookie", "models": ["gpt-4o"]}).to_string().into_bytes());
    let no_csrf = call(&admin, Method::POST, "/admin/v1/keys", std::slice::from_ref(&cookie), body()).await;
    assert_eq!(no_csrf.status, 403, "{}", no_csrf.text());
    assert_eq!(no_csrf.error_code().as_deref(), Some("csrf_failed"));
    let wrong = ("x-csrf-token", HeaderValue::from_static("rc-0000000000000000000000000000000000000000000"));
    assert_eq!(call(&admin, Method::POST, "/admin/v1/keys", &[cookie.clone(), wrong], body()).await.status, 403);
    // the session token is not its own CSRF token
    let cookie_value = session_cookie(&ok).trim_start_matches("rampart_session=").to_owned();
    let as_csrf = ("x-csrf-token", HeaderValue::from_str(&cookie_value).unwrap());
    assert_eq!(call(&admin, Method::POST, "/admin/v1/keys", &[cookie.clone(), as_csrf], body()).await.status, 403);
    let with_csrf = call(&admin, Method::POST, "/admin/v1/keys", &[cookie.clone(), csrf_header.clone()], body()).await;
    assert_eq!(with_csrf.status, 201, "{}", with_csrf.text());
    // a cookie-authenticated DELETE too
    let delete = call(&admin, Method::DELETE, "/admin/v1/teams/none", std::slice::from_ref(&cookie), None).await;
    assert_eq!(delete.status, 403);

    // duplicated session cookies are refused rather than guessed at
    let doubled = HeaderValue::from_str(&format!("{}; rampart_session=rs-other", session_cookie(&ok))).unwrap();
    assert_eq!(call(&admin, Method::GET, "/admin/v1/whoami", &[("cookie", doubled)], None).await.status, 401);

    let logout = call(&admin, Method::POST, "/admin/v1/logout", std::slice::from_ref(&cookie), None).await;
    assert_eq!(logout.status, 403, "logout is a change: it needs the CSRF token");
    let logout = call(&admin, Method::POST, "/admin/v1/logout", &[cookie.clone(), csrf_header], None).await;
    assert_eq!(logout.status, 200, "{}", logout.text());
    assert!(logout.headers.get("set-cookie").unwrap().to_str().unwrap().contains("Max-Age=0"));
    assert_eq!(call(&admin, Method::GET, "/admin/v1/whoami", &[cookie], None).await.status, 401);
}

#[tokio::test]
async fn hostile_input_is_refused_without_server_errors() {
    let (h, admin) = start().await;
    let root = token(&h, AdminRole::Admin).await;
    let sql = "' OR '1'='1";
    let huge = "a".repeat(100 * 1024);

    // credentials
    let bad_headers: Vec<(&str, HeaderValue)> = vec![
        ("authorization", HeaderValue::from_str(&format!("Bearer {sql}")).unwrap()),
        ("authorization", HeaderValue::from_str(&format!("Bearer ra-{sql}")).unwrap()),
        ("authorization", HeaderValue::from_bytes(b"Bearer ra-\xff\xfe\x80abc").unwrap()),
        ("authorization", HeaderValue::from_str(&format!("Bearer ra-{huge}")).unwrap()),
        ("authorization", HeaderValue::from_static("Bearer")),
        ("authorization", HeaderValue::from_static("Basic cm9vdDpyb290")),
        ("cookie", HeaderValue::from_str(&format!("rampart_session={sql}")).unwrap()),
        ("cookie", HeaderValue::from_str(&format!("rampart_session=rs-{sql}")).unwrap()),
        ("cookie", HeaderValue::from_bytes(b"rampart_session=rs-\xff\xfe").unwrap()),
        ("cookie", HeaderValue::from_str(&format!("rampart_session=rs-{}", &huge[..60 * 1024])).unwrap()),
        ("cookie", HeaderValue::from_static("rampart_session=")),
    ];
    for header in bad_headers {
        let context =
            format!("{} {:?}", header.0, String::from_utf8_lossy(&header.1.as_bytes()[..header.1.len().min(40)]));
        let response = call(&admin, Method::GET, "/admin/v1/whoami", &[header], None).await;
        assert_eq!(response.status, 401, "{context}: {}", response.text());
    }

    // login bodies
    let nul = "alice\u{0}";
    let login_bodies: Vec<Vec<u8>> = vec![
        json!({"username": sql, "password": sql, "totp": sql}).to_string().into_bytes(),
        json!({"username": nul, "password": "x\u{0}y", "totp": "\u{0}"}).to_string().into_bytes(),
        json!({"username": huge, "password": PASSWORD, "totp": "000000"}).to_string().into_bytes(),
        json!({"username": "alice", "password": &huge[..50 * 1024], "totp": "000000"}).to_string().into_bytes(),
        b"{\"username\": \"al\xffice\", \"password\": \"p\", \"totp\": \"1\"}".to_vec(),
        b"{\"username\": \"alice\"".to_vec(),
        b"\x00\x00\x00".to_vec(),
        json!({"username": "a", "password": "b", "totp": "c", "role": "admin"}).to_string().into_bytes(),
        json!({"username": ["a"], "password": "b", "totp": "c"}).to_string().into_bytes(),
    ];
    for body in login_bodies {
        let context = String::from_utf8_lossy(&body[..body.len().min(60)]).into_owned();
        let response = call(&admin, Method::POST, "/admin/v1/login", &[], Some(body)).await;
        assert!(
            [400, 401, 413].contains(&response.status.as_u16()),
            "{context}: {} {}",
            response.status,
            response.text()
        );
        assert_not_server_error(&response, &context);
    }

    // path ids
    // (the `http` crate caps a URI below 64 KiB, so the longest id is 60 KiB)
    let huge_id = "b".repeat(60 * 1024);
    for id in [
        "'%20OR%20'1'='1",
        "%27%20OR%20%271%27%3D%271",
        "key_%00%00",
        "%00",
        "%FF%FE",
        "key_AAAAAAAAAAAAAAAA%00",
        "..",
        "%2e%2e",
        huge_id.as_str(),
    ] {
        for path in
            [format!("/admin/v1/keys/{id}"), format!("/admin/v1/teams/{id}"), format!("/admin/v1/keys/{id}/revoke")]
        {
            let method = if path.ends_with("revoke") { Method::POST } else { Method::GET };
            let response = with_token(&admin, &root, method, &path, None).await;
            let context = &path[..path.len().min(60)];
            assert!(
                [400, 404, 414, 431].contains(&response.status.as_u16()),
                "{context}: {} {}",
                response.status,
                response.text()
            );
        }
    }
    let response = with_token(&admin, &root, Method::POST, "/admin/v1/users/%FF/disable", None).await;
    assert_eq!(response.status, 400);

    // create bodies
    for (path, body) in [
        ("/admin/v1/keys", json!({"name": sql, "models": [sql], "owner": sql, "role": sql})),
        ("/admin/v1/keys", json!({"name": "k", "models": ["*"], "owner": "a\u{0}b"})),
        ("/admin/v1/keys", json!({"name": huge, "models": ["*"]})),
        ("/admin/v1/keys", json!({"name": "k", "models": ["*"], "metadata": {"x": &huge[..10 * 1024]}})),
        ("/admin/v1/teams", json!({"name": sql})),
        ("/admin/v1/teams", json!({"name": "t\u{0}"})),
        ("/admin/v1/users", json!({"username": sql, "password": PASSWORD, "role": "viewer"})),
        ("/admin/v1/users", json!({"username": "eve", "password": PASSWORD, "role": sql})),
        ("/admin/v1/users", json!({"username": "eve", "password": "short", "role": "viewer"})),
        ("/admin/v1/tokens", json!({"name": "t\u{0}", "role": "viewer"})),
        ("/admin/v1/tokens", json!({"name": "t", "role": "root"})),
    ] {
        let response = with_token(&admin, &root, Method::POST, path, Some(body)).await;
        assert_not_server_error(&response, path);
    }
    let invalid_utf8 = with_token(&admin, &root, Method::POST, "/admin/v1/teams", None).await;
    assert_eq!(invalid_utf8.status, 415, "no JSON content type (a cross-site form could send one)");
    let raw =
        call(&admin, Method::POST, "/admin/v1/teams", &[bearer(&root)], Some(b"{\"name\": \"\xff\xfe\"}".to_vec()))
            .await;
    assert_eq!(raw.status, 400, "{}", raw.text());
    let big = call(
        &admin,
        Method::POST,
        "/admin/v1/teams",
        &[bearer(&root)],
        Some(format!("{{\"name\": \"{huge}\"}}").into_bytes()),
    )
    .await;
    assert_not_server_error(&big, "100 KB body");

    // everything still works, and the SQL text was stored as plain text
    let listed = with_token(&admin, &root, Method::GET, "/admin/v1/keys", None).await;
    assert_eq!(listed.status, 200);
    assert!(listed.json()["data"].as_array().unwrap().iter().any(|key| key["name"] == sql));
    assert_eq!(
        with_token(&admin, &root, Method::GET, &format!("/admin/v1/teams/{}", "%27%20OR%20%271%27%3D%271"), None)
            .await
            .status,
        200
    );
    assert_eq!(with_token(&admin, &root, Method::GET, "/admin/v1/whoami", None).await.status, 200);
}

#[tokio::test]
async fn the_data_plane_never_answers_admin_routes() {
    let (h, admin) = start().await;
    let root = token(&h, AdminRole::Admin).await;
    assert_eq!(with_token(&admin, &root, Method::GET, "/admin/v1/whoami", None).await.status, 200);
    let admin_host = h.admin_addr.unwrap().to_string();
    let paths = [
        "/admin/v1/whoami",
        "/admin%2Fv1/whoami",
        "/%61dmin/v1/whoami",
        "//admin/v1/whoami",
        "/v1/../admin/v1/whoami",
        "/v1/%2e%2e/admin/v1/whoami",
        "/admin/v1/keys",
        "/admin/v1/login",
    ];
    for host in [admin_host.as_str(), "localhost:8081", "127.0.0.1:8081", "admin"] {
        for path in paths {
            for method in [Method::GET, Method::POST] {
                let mut headers = vec![bearer(&root), ("host", HeaderValue::from_str(host).unwrap())];
                headers.push(("x-forwarded-host", HeaderValue::from_str(host).unwrap()));
                let body = (method == Method::POST).then(|| b"{}".to_vec());
                let response = call(&h.client, method.clone(), path, &headers, body).await;
                let context = format!("{method} {path} Host: {host}");
                assert!(
                    [401, 404, 405].contains(&response.status.as_u16()),
                    "{context}: {} {}",
                    response.status,
                    response.text()
                );
                assert!(!response.text().contains("\"role\""), "{context}: an admin answer: {}", response.text());
            }
        }
    }
}

#[tokio::test]
async fn provider_credentials_are_never_shown() {
    let (h, admin) = start().await;
    let root = token(&h, AdminRole::Admin).await;
    let plaintext = "sk-live-provider-credential-do-not-leak-42";
    let before = with_token(&admin, &root, Method::GET, "/admin/v1/providers", None).await;
    assert_eq!(before.status, 200);
    assert_eq!(before.json()["data"][0]["name"], "mock");
    assert!(before.json()["data"][0]["stored_credential"].is_null());

    let unknown = with_token(
        &admin,
        &root,
        Method::PUT,
        "/admin/v1/providers/nope/credential",
        Some(json!({"api_key": plaintext})),
    )
    .await;
    assert_eq!(unknown.status, 404);
    assert!(!unknown.text().contains(plaintext));
    for body in [
        json!({"api_key": ""}),
        json!({"api_key": "a\u{0}b"}),
        json!({"api_key": plaintext, "extra": 1}),
        json!({"key": plaintext}),
    ] {
        let response = with_token(&admin, &root, Method::PUT, "/admin/v1/providers/mock/credential", Some(body)).await;
        assert_eq!(response.status, 400, "{}", response.text());
        assert!(!response.text().contains(plaintext), "an error echoed the credential");
    }
    for version in [1, 2] {
        let put = with_token(
            &admin,
            &root,
            Method::PUT,
            "/admin/v1/providers/mock/credential",
            Some(json!({"api_key": plaintext})),
        )
        .await;
        assert_eq!(put.status, 200, "{}", put.text());
        assert!(!put.text().contains(plaintext));
        assert_eq!(put.json()["stored_credential"]["version"], version);
    }
    let kek = vault::Kek::derive_from_secret(KEY_SECRET.as_bytes());
    let listed = with_token(&admin, &root, Method::GET, "/admin/v1/providers", None).await;
    let credential = &listed.json()["data"][0]["stored_credential"];
    assert_eq!(credential["version"], 2);
    assert_eq!(credential["kek_id"], kek.key_id());
    assert_eq!(
        credential["updated_by"],
        format!(
            "token:{}",
            with_token(&admin, &root, Method::GET, "/admin/v1/whoami", None).await.json()["id"].as_str().unwrap()
        )
    );

    let stored = h.store.get_sealed_credential("mock").await.unwrap().unwrap();
    assert!(!stored.sealed.contains(plaintext));
    assert!(!listed.text().contains(&stored.sealed), "not even the ciphertext is listed");
    let opened = vault::open(&kek, &stored.sealed, b"provider:mock").unwrap();
    assert_eq!(opened.as_slice(), plaintext.as_bytes());
    assert!(vault::open(&kek, &stored.sealed, b"provider:other").is_err(), "bound to the provider name");

    for path in [
        "/admin/v1/whoami",
        "/admin/v1/keys",
        "/admin/v1/teams",
        "/admin/v1/users",
        "/admin/v1/tokens",
        "/admin/v1/providers",
    ] {
        let response = with_token(&admin, &root, Method::GET, path, None).await;
        assert_eq!(response.status, 200, "{path}");
        assert!(!response.text().contains(plaintext), "{path} leaked the credential");
    }
}

#[tokio::test]
async fn a_burst_of_concurrent_logins_gets_no_more_guesses_than_the_lockout_allows() {
    let (h, admin) = start().await;
    let root = token(&h, AdminRole::Admin).await;
    let (_, secret) = create_user(&admin, &root, "bob", "viewer").await;
    // 16 guesses at once (right password, wrong codes): each attempt is counted before
    // it is verified, so at most `lockout_after` (3) are verified, the rest refused.
    let code = totp::code_at(&secret, unix_now());
    let wrong = if code.as_str() == "123456" { "654321" } else { "123456" };
    let attempts = (0..16).map(|_| login(&admin, "bob", PASSWORD, wrong));
    let responses = futures_util::future::join_all(attempts).await;
    let verified = responses.iter().filter(|r| r.status == 401).count();
    let locked = responses.iter().filter(|r| r.status == 429).count();
    assert_eq!(verified + locked, responses.len(), "only 401 or 429");
    assert!(verified <= 3, "{verified} guesses were verified, the lockout allows 3");
    assert!(h.store.get_admin_user("bob").await.unwrap().unwrap().is_locked(unix_now()));
    assert_eq!(login(&admin, "bob", PASSWORD, &code).await.status, 429, "the right code is refused while locked");
}

#[tokio::test]
async fn tokens_minted_by_a_disabled_admin_stop_working() {
    let (h, admin) = start().await;
    let root = token(&h, AdminRole::Admin).await;
    let (carol_id, secret) = create_user(&admin, &root, "carol", "admin").await;
    let ok = login(&admin, "carol", PASSWORD, &totp::code_at(&secret, unix_now())).await;
    assert_eq!(ok.status, 200, "{}", ok.text());
    let cookie = ("cookie", HeaderValue::from_str(&session_cookie(&ok)).unwrap());
    let csrf = ("x-csrf-token", HeaderValue::from_str(ok.json()["csrf_token"].as_str().unwrap()).unwrap());
    let body = Some(json!({"name": "carols", "role": "admin"}).to_string().into_bytes());
    let minted = call(&admin, Method::POST, "/admin/v1/tokens", &[cookie, csrf], body).await;
    assert!(minted.status.is_success(), "{}", minted.text());
    let first = minted.json()["token"].as_str().unwrap().to_owned();
    // a token minted with that token is hers too
    let second =
        with_token(&admin, &first, Method::POST, "/admin/v1/tokens", Some(json!({"name": "more", "role": "viewer"})))
            .await;
    assert!(second.status.is_success(), "{}", second.text());
    let second = second.json()["token"].as_str().unwrap().to_owned();
    let unrelated = token(&h, AdminRole::Viewer).await;
    for t in [&first, &second] {
        assert_eq!(with_token(&admin, t, Method::GET, "/admin/v1/whoami", None).await.status, 200);
    }
    let disabled = with_token(&admin, &root, Method::POST, &format!("/admin/v1/users/{carol_id}/disable"), None).await;
    assert_eq!(disabled.status, 200, "{}", disabled.text());
    for t in [&first, &second] {
        assert_eq!(with_token(&admin, t, Method::GET, "/admin/v1/whoami", None).await.status, 401);
    }
    assert_eq!(with_token(&admin, &unrelated, Method::GET, "/admin/v1/whoami", None).await.status, 200);
}
