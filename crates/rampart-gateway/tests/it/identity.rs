//! Identity on the data plane: key scopes (endpoints, client networks), rotation with
//! a grace period, the maximum key age, JWTs from a configured issuer (and every
//! classic JWT attack), and revocation across two instances sharing PostgreSQL.

use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use rampart_store::{ClientNetworks, EndpointScope, KeySpec, ModelScope, unix_now};
use rampart_test::{Harness, Options, TestResponse, chat_body};
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use serde_json::{Value, json};

async fn chat(h: &Harness, key: &str) -> TestResponse {
    h.client.post_json("/v1/chat/completions", key, &chat_body("gpt-4o-mini")).await
}

async fn scoped_key(h: &Harness, spec: KeySpec) -> String {
    h.store.create_scoped_key(&h.hasher, &spec).await.unwrap().1.key
}

#[tokio::test]
async fn endpoint_and_network_scopes_are_enforced_with_a_named_403() {
    let h = Harness::start().await;
    let embeddings_only = scoped_key(
        &h,
        KeySpec {
            endpoints: EndpointScope::new(vec!["/v1/embeddings".into()]),
            ..KeySpec::new("e", ModelScope::all())
        },
    )
    .await;
    let refused = chat(&h, &embeddings_only).await;
    assert_eq!(refused.status, 403, "{}", refused.text());
    assert_eq!(refused.error_code().as_deref(), Some("endpoint_not_allowed"));
    assert!(refused.text().contains("/v1/chat/completions"), "names the endpoint: {}", refused.text());
    let body = r#"{"model":"text-embedding-3-small","input":"hello"}"#;
    assert_eq!(h.client.post_json("/v1/embeddings", &embeddings_only, body).await.status, 200);

    let elsewhere = scoped_key(
        &h,
        KeySpec {
            cidrs: ClientNetworks::parse(&["10.0.0.0/8", "2001:db8::/32"]).unwrap(),
            ..KeySpec::new("n", ModelScope::all())
        },
    )
    .await;
    let refused = chat(&h, &elsewhere).await;
    assert_eq!(refused.status, 403, "{}", refused.text());
    assert_eq!(refused.error_code().as_deref(), Some("client_address_not_allowed"));
    let here = scoped_key(
        &h,
        KeySpec { cidrs: ClientNetworks::parse(&["127.0.0.0/8"]).unwrap(), ..KeySpec::new("l", ModelScope::all()) },
    )
    .await;
    assert_eq!(chat(&h, &here).await.status, 200);
    // Nothing refused reached the provider: one chat and one embeddings call did.
    assert_eq!(h.mock.request_count(), 2);
}

#[tokio::test]
async fn a_rotated_key_works_during_its_grace_period_and_fails_after() {
    let h = Harness::start().await;
    let (old_id, old_key) = h.key(&["*"]).await;
    assert_eq!(chat(&h, &old_key).await.status, 200);
    let (new, new_key) =
        h.store.rotate_key(&h.hasher, &old_id, Duration::from_secs(2), unix_now()).await.unwrap().unwrap();
    assert_eq!(new.rotated_from.as_deref(), Some(old_id.as_str()));
    assert_eq!(chat(&h, &new_key.key).await.status, 200, "the successor works at once");
    assert_eq!(chat(&h, &old_key).await.status, 200, "the old key works during the grace period");
    let deadline = Instant::now() + Duration::from_secs(6);
    loop {
        let response = chat(&h, &old_key).await;
        if response.status == 401 {
            assert!(response.text().contains("expired"), "{}", response.text());
            break;
        }
        assert_eq!(response.status, 200);
        assert!(Instant::now() < deadline, "the old key still works after its grace period");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(chat(&h, &new_key.key).await.status, 200);

    // Zero grace: refused at once; rotating again is refused.
    let (zero_id, zero_key) = h.key(&["*"]).await;
    assert_eq!(chat(&h, &zero_key).await.status, 200);
    h.store.rotate_key(&h.hasher, &zero_id, Duration::ZERO, unix_now()).await.unwrap().unwrap();
    assert_eq!(chat(&h, &zero_key).await.status, 401);
    assert!(h.store.rotate_key(&h.hasher, &zero_id, Duration::ZERO, unix_now()).await.is_err());
}

#[tokio::test]
async fn keys_older_than_the_maximum_age_are_refused() {
    let h = Harness::start_with(Options { extra_auth_toml: "max_key_age = \"1s\"".into(), ..Options::default() }).await;
    let key = h.any_key().await;
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let response = chat(&h, &key).await;
        if response.status == 401 {
            assert!(response.text().contains("maximum key age"), "{}", response.text());
            break;
        }
        assert_eq!(response.status, 200);
        assert!(Instant::now() < deadline, "a key past auth.max_key_age still works");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

// === JWT federation ===

/// An identity provider: an ES256 key pair and a JWKS endpoint serving its public key.
struct Idp {
    key: EcdsaKeyPair,
    rng: SystemRandom,
    url: String,
    issuer: String,
}

impl Idp {
    async fn start() -> Self {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng).unwrap();
        let point = key.public_key().as_ref();
        let jwks = json!({"keys": [{
            "kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": "k1",
            "x": B64.encode(&point[1..33]), "y": B64.encode(&point[33..65]),
        }]});
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = axum::Router::new().route("/jwks", axum::routing::get(move || async move { axum::Json(jwks) }));
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { key, rng, url: format!("http://{addr}/jwks"), issuer: format!("http://{addr}") }
    }

    fn config(&self) -> String {
        format!(
            r#"
[[auth.oidc]]
issuer = "{issuer}"
audiences = ["rampart"]
jwks_url = "{url}"
models = ["gpt-4o*"]
endpoints = ["/v1/*"]
groups_claim = "groups"

[[auth.oidc.groups]]
group = "ml"
team = "ml-team"
"#,
            issuer = self.issuer,
            url = self.url
        )
    }

    fn sign(&self, header: &Value, claims: &Value) -> String {
        let input = format!("{}.{}", B64.encode(header.to_string()), B64.encode(claims.to_string()));
        let signature = self.key.sign(&self.rng, input.as_bytes()).unwrap();
        format!("{input}.{}", B64.encode(signature.as_ref()))
    }

    fn claims(&self) -> Value {
        let now = unix_now();
        json!({"iss": self.issuer, "sub": "alice", "aud": "rampart", "exp": now + 300, "iat": now, "groups": ["ml"]})
    }

    fn token(&self) -> String {
        self.sign(&json!({"alg": "ES256", "typ": "JWT", "kid": "k1"}), &self.claims())
    }
}

fn hs256(secret: &[u8], header: &Value, claims: &Value) -> String {
    let input = format!("{}.{}", B64.encode(header.to_string()), B64.encode(claims.to_string()));
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret);
    format!("{input}.{}", B64.encode(ring::hmac::sign(&key, input.as_bytes()).as_ref()))
}

#[tokio::test]
async fn jwts_from_a_configured_issuer_are_accepted_and_every_attack_refused() {
    let idp = Idp::start().await;
    let h = Harness::start_with(Options { extra_auth_toml: idp.config(), ..Options::default() }).await;
    let ok = chat(&h, &idp.token()).await;
    assert_eq!(ok.status, 200, "{}", ok.text());
    assert_eq!(h.mock.request_count(), 1);

    let other = Idp::start().await; // a different key, unknown to the gateway
    let header = json!({"alg": "ES256", "kid": "k1"});
    let now = unix_now();
    let with = |patch: Value| {
        let mut claims = idp.claims();
        for (k, v) in patch.as_object().unwrap() {
            claims[k] = v.clone();
        }
        claims
    };
    let public_point = idp.key.public_key().as_ref().to_vec();
    let unsigned = format!(
        "{}.{}.",
        B64.encode(json!({"alg": "none", "typ": "JWT"}).to_string()),
        B64.encode(idp.claims().to_string())
    );
    let cases: Vec<(&str, String, u16)> = vec![
        ("alg none", unsigned, 401),
        ("signed with another key", other.sign(&header, &idp.claims()), 401),
        (
            "HS256 keyed with the public key",
            hs256(&public_point, &json!({"alg": "HS256", "kid": "k1"}), &idp.claims()),
            401,
        ),
        ("HS256 keyed with the JWKS text", hs256(idp.url.as_bytes(), &json!({"alg": "HS256"}), &idp.claims()), 401),
        ("expired", idp.sign(&header, &with(json!({"exp": now - 3600}))), 401),
        ("not yet valid", idp.sign(&header, &with(json!({"nbf": now + 3600}))), 401),
        ("wrong audience", idp.sign(&header, &with(json!({"aud": "someone-else"}))), 401),
        ("unknown issuer", idp.sign(&header, &with(json!({"iss": "https://evil.example"}))), 401),
        ("kid pointing nowhere", idp.sign(&json!({"alg": "ES256", "kid": "nope"}), &idp.claims()), 401),
        (
            "tampered payload",
            {
                let token = idp.token();
                let parts: Vec<&str> = token.split('.').collect();
                format!("{}.{}.{}", parts[0], B64.encode(with(json!({"sub": "mallory"})).to_string()), parts[2])
            },
            401,
        ),
        ("no group with a rule", idp.sign(&header, &with(json!({"groups": ["sales"]}))), 403),
    ];
    for (name, token, status) in &cases {
        let response = chat(&h, token).await;
        assert_eq!(response.status, *status, "{name}: {}", response.text());
        assert!(!response.text().contains(token.as_str()), "{name}: the token is echoed");
    }
    // A token's model scope comes from the configuration.
    let response = h.client.post_json("/v1/chat/completions", &idp.token(), &chat_body("o1")).await;
    assert_eq!(response.status, 403, "{}", response.text());
    assert_eq!(response.error_code().as_deref(), Some("model_not_allowed"));
    assert_eq!(h.mock.request_count(), 1, "no refused request reached the provider");
}

// === revocation across instances ===

#[tokio::test]
async fn a_key_revoked_on_one_instance_is_refused_by_another_within_a_second() {
    let Some(url) = rampart_test::postgres_database().await else { return };
    let options = || Options { store_url: Some(url.clone()), cache_ttl: "60s".into(), ..Options::default() };
    let a = Harness::start_with(options()).await;
    let b = Harness::start_with(options()).await;
    let (id, key) = a.key(&["*"]).await;
    // Both instances have the key (and cache it: the TTL is a minute).
    for _ in 0..3 {
        assert_eq!(chat(&a, &key).await.status, 200);
        assert_eq!(chat(&b, &key).await.status, 200);
    }
    let revoked_at = Instant::now();
    assert!(a.store.revoke_key(&id).await.unwrap());
    loop {
        let status = chat(&b, &key).await.status;
        if status == 401 {
            break;
        }
        assert_eq!(status, 200);
        assert!(revoked_at.elapsed() < Duration::from_secs(1), "instance B still accepts the key after 1 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let elapsed = revoked_at.elapsed();
    eprintln!("revocation seen by the other instance after {elapsed:?}");
    assert!(elapsed < Duration::from_secs(1));
    assert_eq!(chat(&a, &key).await.status, 401);
}

#[tokio::test]
async fn a_stored_provider_credential_is_used_sealed_at_rest_and_never_returned() {
    use rampart_identity::vault;
    let h = Harness::start().await;
    let key = h.any_key().await;
    assert_eq!(chat(&h, &key).await.status, 200);
    let configured = format!("Bearer {}", rampart_test::PROVIDER_KEY);
    assert_eq!(h.mock.requests()[0].headers["authorization"], configured.as_str());

    // What the admin API does: seal under the vault key (derived from the key secret
    // when no [vault] is configured), bound to the provider's name.
    let kek = vault::Kek::derive_from_secret(rampart_test::KEY_SECRET.as_bytes());
    let stored = "sk-stored-rotated-credential";
    let sealed = vault::seal(&kek, stored.as_bytes(), b"provider:mock").unwrap().to_string();
    assert!(!sealed.contains(stored));
    h.store.set_provider_credential("mock", &sealed, kek.key_id(), Some("test")).await.unwrap();

    // The gateway picks it up through the change watch; the mock now refuses the
    // request (it knows only the configured key), so look at what reached it.
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let response = chat(&h, &key).await;
        assert!(!response.text().contains(stored), "the credential reached the client");
        let last = h.mock.requests().last().unwrap().headers["authorization"].clone();
        if last == format!("Bearer {stored}").as_str() {
            break;
        }
        assert!(Instant::now() < deadline, "the stored credential is not used");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // A sealed value moved to another provider's row does not open: it is not used.
    let wrong = vault::seal(&kek, b"sk-wrong", b"provider:other").unwrap().to_string();
    h.store.set_provider_credential("mock", &wrong, kek.key_id(), Some("test")).await.unwrap();
    tokio::time::sleep(Duration::from_millis(800)).await;
    chat(&h, &key).await;
    let last = h.mock.requests().last().unwrap().headers["authorization"].clone();
    assert_eq!(last, format!("Bearer {stored}").as_str(), "an unopenable credential must not replace the current one");

    // Deleting it restores the configured credential.
    assert!(h.store.delete_provider_credential("mock").await.unwrap());
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        if chat(&h, &key).await.status == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "the configured credential is not restored");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
