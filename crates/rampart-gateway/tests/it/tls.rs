//! TLS termination with rustls (HTTP/1.1 and HTTP/2 by ALPN) and HTTP/2 cleartext by
//! prior knowledge.

use std::sync::Arc;

use bytes::Bytes;
use http::{Method, Request, Version};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use rampart_test::{Harness, Options, chat_body};

struct TestCert {
    _dir: tempfile::TempDir,
    cert_file: String,
    key_file: String,
    cert_der: rustls::pki_types::CertificateDer<'static>,
}

fn self_signed() -> TestCert {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cert_file = dir.path().join("cert.pem");
    let key_file = dir.path().join("key.pem");
    std::fs::write(&cert_file, certified.cert.pem()).unwrap();
    std::fs::write(&key_file, certified.key_pair.serialize_pem()).unwrap();
    TestCert {
        cert_file: cert_file.display().to_string(),
        key_file: key_file.display().to_string(),
        cert_der: certified.cert.der().clone(),
        _dir: dir,
    }
}

#[tokio::test]
async fn terminates_tls_with_http1_and_http2() {
    let cert = self_signed();
    let h = Harness::start_with(Options {
        extra_server_toml: format!("tls = {{ cert_file = {:?}, key_file = {:?} }}", cert.cert_file, cert.key_file),
        ..Default::default()
    })
    .await;
    let key = h.any_key().await;
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.cert_der.clone()).unwrap();
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let url = format!("https://localhost:{}/v1/chat/completions", h.addr.port());
    for (http2, version) in [(false, Version::HTTP_11), (true, Version::HTTP_2)] {
        let builder = hyper_rustls::HttpsConnectorBuilder::new().with_tls_config(tls.clone()).https_only();
        let connector = if http2 { builder.enable_http2().build() } else { builder.enable_http1().build() };
        let client = Client::builder(TokioExecutor::new()).build::<_, Full<Bytes>>(connector);
        let request = Request::builder()
            .method(Method::POST)
            .uri(&url)
            .header("authorization", format!("Bearer {key}"))
            .body(Full::new(Bytes::from(chat_body("gpt-4o-mini"))))
            .unwrap();
        let response = client.request(request).await.unwrap();
        assert_eq!(response.version(), version);
        assert_eq!(response.status(), 200);
        let body = response.into_body().collect().await.unwrap().to_bytes();
        assert!(body.starts_with(b"{"));
    }
    // Plain HTTP on the TLS port is refused.
    let plain = TestClientPlain::get(h.addr).await;
    assert!(plain.is_err() || plain.is_ok_and(|status| status != 200));
}

struct TestClientPlain;

impl TestClientPlain {
    async fn get(addr: std::net::SocketAddr) -> Result<u16, hyper_util::client::legacy::Error> {
        let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
        let request = Request::get(format!("http://{addr}/healthz")).body(Full::new(Bytes::new())).unwrap();
        client.request(request).await.map(|r| r.status().as_u16())
    }
}

#[tokio::test]
async fn serves_http2_cleartext_by_prior_knowledge() {
    let h = Harness::start().await;
    let key = h.any_key().await;
    let client = Client::builder(TokioExecutor::new()).http2_only(true).build_http::<Full<Bytes>>();
    let stream_body = r#"{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"hi"}]}"#;
    let request = Request::post(format!("http://{}/v1/chat/completions", h.addr))
        .header("authorization", format!("Bearer {key}"))
        .body(Full::new(Bytes::from_static(stream_body.as_bytes())))
        .unwrap();
    let response = client.request(request).await.unwrap();
    assert_eq!(response.version(), Version::HTTP_2);
    assert_eq!(response.status(), 200);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert!(body.ends_with(b"data: [DONE]\n\n"));
}
