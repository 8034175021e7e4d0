//! The upstream client: one pooled HTTP/1.1 + HTTP/2 client per provider (rustls,
//! system roots plus an optional CA file), credential injection, header hygiene,
//! timeouts, and the response body relay.
//!
//! Phases: `upstream` (connect, send, wait for headers within `response_timeout`),
//! then `response_chunk` (each body chunk within `idle_timeout`). rampart never retries
//! a request itself; hyper retries only a request that never left on a pooled
//! connection the provider had already closed, so nothing is sent twice and nothing is
//! retried once a response byte has reached the client. Dropping the relay (the client
//! went away) drops the upstream response, which closes that connection and cancels
//! the provider's work.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use bytes::{Bytes, BytesMut};
use futures_util::{Stream, StreamExt};
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, Request, Response, Uri};
use http_body_util::BodyExt;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use rampart_config::{ProviderSettings, Secret};

use crate::error::ApiError;

/// Largest SSE event the relay holds while waiting for its end (Responses API image
/// events carry base64 images); a provider sending a longer one is cut off.
const MAX_SSE_EVENT: usize = 16 << 20;

/// Client request headers forwarded to every provider. Everything else is dropped
/// (allow-list): credentials, cookies, hop-by-hop and forwarding headers, URL or method
/// override headers that some upstream stacks honour. Providers may allow more with
/// `forward_headers`.
const REQUEST_HEADERS_FORWARDED: &[&str] = &["accept", "content-type", "user-agent", "openai-beta", "idempotency-key"];
/// Prefixes forwarded to every provider (the OpenAI SDKs' telemetry headers).
const REQUEST_PREFIXES_FORWARDED: &[&str] = &["x-stainless-"];

/// Response headers never relayed to clients: hop-by-hop, cookies the provider sets
/// for its own edge, lengths the relay recomputes, and the provider account's ids.
const RESPONSE_HEADERS_DROPPED: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "set-cookie",
    "alt-svc",
    "content-length",
    "openai-organization",
    "openai-project",
    "x-request-id",
    // The provider's rate limits describe the shared upstream account: rampart sends
    // the caller's own (`crate::admission`).
    "x-ratelimit-limit-requests",
    "x-ratelimit-remaining-requests",
    "x-ratelimit-reset-requests",
    "x-ratelimit-limit-tokens",
    "x-ratelimit-remaining-tokens",
    "x-ratelimit-reset-tokens",
];

/// The provider's own request id is kept under this name.
pub(crate) const UPSTREAM_REQUEST_ID: HeaderName = HeaderName::from_static("x-upstream-request-id");

type HttpsClient = Client<HttpsConnector<HttpConnector>, Body>;

/// A provider and its connection pool.
pub(crate) struct ProviderClient {
    pub(crate) settings: ProviderSettings,
    client: HttpsClient,
    /// The credential injected upstream: a stored one (set through the admin API,
    /// sealed at rest) when there is one, else the configured `api_key`.
    authorization: std::sync::RwLock<Option<Secret<HeaderValue>>>,
    /// The configured `api_key`, the fallback.
    configured: Option<Secret<HeaderValue>>,
}

impl std::fmt::Debug for ProviderClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderClient").field("name", &self.settings.name).finish_non_exhaustive()
    }
}

/// Errors building provider clients at start-up.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamSetupError {
    /// The JWT issuers or the vault key could not be set up.
    #[error("identity setup: {0}")]
    Identity(String),
    /// The limits backend could not be set up.
    #[error("limits setup: {0}")]
    Limits(String),
    /// The CA file could not be used.
    #[error("provider {provider}: ca_file: {reason}")]
    CaFile {
        /// Provider name.
        provider: String,
        /// Why.
        reason: String,
    },
    /// The credential cannot be an HTTP header value.
    #[error("provider {provider}: api_key contains characters not allowed in an HTTP header")]
    BadCredential {
        /// Provider name.
        provider: String,
    },
    /// System roots could not be loaded.
    #[error("provider {provider}: no usable TLS root certificates")]
    NoRoots {
        /// Provider name.
        provider: String,
    },
}

/// The system's trusted roots. A single unparsable system certificate must not
/// disable the rest.
pub(crate) fn native_roots() -> rustls::RootCertStore {
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(cert);
    }
    roots
}

/// A TLS client configuration (ring, safe default versions) trusting `roots`.
pub(crate) fn client_tls(roots: rustls::RootCertStore) -> Result<rustls::ClientConfig, rustls::Error> {
    Ok(rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

impl ProviderClient {
    pub(crate) fn new(settings: &ProviderSettings) -> Result<Self, UpstreamSetupError> {
        let provider = settings.name.clone();
        let mut roots = native_roots();
        if let Some(file) = &settings.ca_file {
            let pem = std::fs::read(file)
                .map_err(|e| UpstreamSetupError::CaFile { provider: provider.clone(), reason: e.to_string() })?;
            let mut added = 0;
            for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
                let cert =
                    cert.map_err(|e| UpstreamSetupError::CaFile { provider: provider.clone(), reason: e.to_string() })?;
                roots
                    .add(cert)
                    .map_err(|e| UpstreamSetupError::CaFile { provider: provider.clone(), reason: e.to_string() })?;
                added += 1;
            }
            if added == 0 {
                return Err(UpstreamSetupError::CaFile { provider, reason: "no PEM certificates found".into() });
            }
        }
        if roots.is_empty() && settings.base_url.scheme_str() == Some("https") {
            return Err(UpstreamSetupError::NoRoots { provider });
        }
        let tls = client_tls(roots).map_err(|_| UpstreamSetupError::NoRoots { provider: provider.clone() })?;
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_connect_timeout(Some(settings.connect_timeout));
        http.set_nodelay(true);
        http.set_keepalive(Some(Duration::from_secs(60)));
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_all_versions()
            .wrap_connector(http);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(90))
            .pool_max_idle_per_host(256)
            .build(connector);
        let authorization = match &settings.api_key {
            None => None,
            Some(key) => {
                let mut value = HeaderValue::try_from(format!("Bearer {}", key.expose()))
                    .map_err(|_| UpstreamSetupError::BadCredential { provider: provider.clone() })?;
                value.set_sensitive(true);
                Some(Secret::new(value))
            }
        };
        Ok(Self {
            settings: settings.clone(),
            client,
            authorization: std::sync::RwLock::new(authorization.clone()),
            configured: authorization,
        })
    }

    /// Uses a stored credential (`Some`) or the configured one again (`None`).
    /// Refuses, keeping the current one, a credential that cannot be a header.
    pub(crate) fn use_stored_credential(&self, key: Option<&str>) -> Result<(), UpstreamSetupError> {
        let value = match key {
            None => self.configured.clone(),
            Some(key) => {
                let mut value = HeaderValue::try_from(format!("Bearer {key}"))
                    .map_err(|_| UpstreamSetupError::BadCredential { provider: self.settings.name.clone() })?;
                value.set_sensitive(true);
                Some(Secret::new(value))
            }
        };
        if let Ok(mut current) = self.authorization.write() {
            *current = value;
        }
        Ok(())
    }

    /// The provider URL for a client path below `/v1` (e.g. `/chat/completions`).
    pub(crate) fn url(&self, suffix: &str, query: Option<&str>) -> Result<Uri, ApiError> {
        let base = &self.settings.base_url;
        let base_path = base.path().trim_end_matches('/');
        let path_and_query = match query {
            Some(q) => format!("{base_path}{suffix}?{q}"),
            None => format!("{base_path}{suffix}"),
        };
        let mut parts = base.clone().into_parts();
        parts.path_and_query =
            Some(path_and_query.parse().map_err(|_| ApiError::bad_request("invalid_path", "invalid request path"))?);
        Uri::from_parts(parts).map_err(|_| ApiError::bad_request("invalid_path", "invalid request path"))
    }

    /// Sends a request and waits for the response headers.
    pub(crate) async fn send(
        &self,
        method: Method,
        uri: Uri,
        client_headers: &HeaderMap,
        body: Body,
    ) -> Result<Response<hyper::body::Incoming>, UpstreamError> {
        let mut request = Request::builder().method(method).uri(uri).body(body).map_err(|_| UpstreamError::Build)?;
        let headers = request.headers_mut();
        for (name, value) in client_headers {
            if forwards(name.as_str(), &self.settings.forward_headers) {
                headers.append(name.clone(), value.clone());
            }
        }
        headers.insert(header::ACCEPT_ENCODING, HeaderValue::from_static("identity"));
        if let Some(authorization) = self.authorization.read().ok().and_then(|a| a.as_ref().map(|a| a.expose().clone()))
        {
            headers.insert(header::AUTHORIZATION, authorization);
        }
        match tokio::time::timeout(self.settings.response_timeout, self.client.request(request)).await {
            Err(_) => Err(UpstreamError::Timeout),
            Ok(Err(error)) => Err(UpstreamError::from_client(&error)),
            Ok(Ok(response)) => Ok(response),
        }
    }
}

/// Why an upstream exchange failed. Carries no provider text: provider errors that
/// arrive as HTTP responses are relayed as they are, these are transport failures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UpstreamError {
    /// The request could not be built.
    Build,
    /// Connection refused, reset, TLS failure, DNS.
    Connect,
    /// Connecting or waiting for headers took too long.
    Timeout,
    /// The exchange broke after connecting.
    Broken,
}

impl UpstreamError {
    fn from_client(error: &hyper_util::client::legacy::Error) -> Self {
        let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(error);
        while let Some(cause) = source {
            if let Some(io) = cause.downcast_ref::<std::io::Error>() {
                if io.kind() == std::io::ErrorKind::TimedOut {
                    return Self::Timeout;
                }
            }
            source = cause.source();
        }
        if error.is_connect() { Self::Connect } else { Self::Broken }
    }

    pub(crate) fn into_api_error(self, provider: &str) -> ApiError {
        match self {
            Self::Build => ApiError::internal("upstream_build"),
            Self::Connect => {
                ApiError::bad_gateway("upstream_connect", format!("upstream {provider}: could not connect"))
            }
            // The provider may have started (and will bill) the work: tell SDKs not
            // to retry on their own.
            Self::Timeout => ApiError::gateway_timeout(format!("upstream {provider}: timed out")).not_retryable(),
            Self::Broken => ApiError::bad_gateway(
                "upstream_broken",
                format!("upstream {provider}: connection failed before a response"),
            )
            .not_retryable(),
        }
    }
}

/// Whether a client request header goes upstream: the standard allow-list plus the
/// provider's `forward_headers` (lowercase names or `prefix*`).
fn forwards(name: &str, extra: &[String]) -> bool {
    REQUEST_HEADERS_FORWARDED.contains(&name)
        || REQUEST_PREFIXES_FORWARDED.iter().any(|p| name.starts_with(p))
        || extra.iter().any(|allowed| match allowed.strip_suffix('*') {
            Some(prefix) => name.starts_with(prefix),
            None => name == allowed,
        })
}

fn copy_headers(from: &HeaderMap, to: &mut HeaderMap, dropped: &[&str]) {
    // Headers named in `Connection` are hop-by-hop too.
    let connection_listed: Vec<String> = from
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|v| v.trim().to_ascii_lowercase())
        .collect();
    for (name, value) in from {
        let name_str = name.as_str();
        if dropped.contains(&name_str) || connection_listed.iter().any(|c| c == name_str) {
            continue;
        }
        to.append(name.clone(), value.clone());
    }
}

/// How to relay one provider response: its idle timeout, and what labels a failure
/// in the log.
pub(crate) struct Relay {
    pub(crate) idle_timeout: Duration,
    pub(crate) provider: Arc<str>,
    pub(crate) request_id: Option<HeaderValue>,
    /// The request's tally, when it is audited (a stream's output verdicts go there).
    pub(crate) tally: Option<Arc<crate::monitor::Tally>>,
}

/// Whether a response head announces server-sent events.
pub(crate) fn is_event_stream(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().to_ascii_lowercase().starts_with("text/event-stream"))
}

impl Relay {
    /// Turns the provider's response into the client's: status and filtered headers
    /// kept, body relayed chunk by chunk as it arrives.
    pub(crate) fn relay(self, response: Response<hyper::body::Incoming>) -> axum::response::Response {
        let (parts, body) = response.into_parts();
        let mut out = Self::head(&parts);
        let is_sse = is_event_stream(&parts.headers);
        let (chunks, failure) = self.chunks(body);
        *out.body_mut() = if is_sse {
            Body::from_stream(sse_relay(chunks, failure, Passthrough))
        } else {
            Body::from_stream(chunks.map(move |chunk| {
                chunk.map_err(|error| {
                    failure.log(&error);
                    axum::Error::new(error)
                })
            }))
        };
        out
    }

    /// The client's response head for a provider response head (empty body).
    pub(crate) fn head(parts: &http::response::Parts) -> axum::response::Response {
        let mut out = axum::response::Response::new(Body::empty());
        *out.status_mut() = parts.status;
        copy_headers(&parts.headers, out.headers_mut(), RESPONSE_HEADERS_DROPPED);
        if let Some(id) = parts.headers.get("x-request-id") {
            out.headers_mut().insert(UPSTREAM_REQUEST_ID, id.clone());
        }
        out
    }

    /// The provider body as chunks under the idle timeout, and the failure reporter.
    pub(crate) fn chunks(
        self,
        body: hyper::body::Incoming,
    ) -> (impl Stream<Item = Result<Bytes, RelayError>> + Send + 'static, RelayFailure) {
        let failure = RelayFailure { provider: self.provider, request_id: self.request_id };
        (idle_timeout_stream(body.into_data_stream(), self.idle_timeout), failure)
    }
}

/// A rewrite of a server-sent-event stream, applied by [`sse_relay`] to whole events.
pub(crate) trait EventFilter: Send + 'static {
    /// `events` holds one or more complete events; appends what the client gets to
    /// `out`. Returns `false` to end the stream after `out` (the filter stopped it).
    fn events(&mut self, events: &[u8], out: &mut BytesMut) -> bool;
    /// The provider ended the stream; appends anything still owed to the client.
    fn end(&mut self, out: &mut BytesMut);
}

/// Events pass unchanged.
struct Passthrough;

impl EventFilter for Passthrough {
    fn events(&mut self, events: &[u8], out: &mut BytesMut) -> bool {
        out.extend_from_slice(events);
        true
    }
    fn end(&mut self, _: &mut BytesMut) {}
}

/// What a relay needs to report a provider failing mid-body.
pub(crate) struct RelayFailure {
    provider: Arc<str>,
    request_id: Option<HeaderValue>,
}

impl RelayFailure {
    /// The request id as text, for log lines about this response.
    pub(crate) fn request_id_text(&self) -> String {
        self.request_id.as_ref().and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned()
    }

    pub(crate) fn log(&self, error: &RelayError) {
        let request_id = self.request_id.as_ref().and_then(|v| v.to_str().ok()).unwrap_or_default();
        tracing::warn!(%error, provider = %self.provider, request_id, "upstream body failed mid-response");
    }
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum RelayError {
    #[error("upstream body: {0}")]
    Body(#[from] hyper::Error),
    #[error("upstream idle timeout")]
    Idle,
    #[error("upstream SSE event exceeds {MAX_SSE_EVENT} bytes")]
    EventTooLarge,
}

impl RelayError {
    fn message(&self) -> &'static str {
        match self {
            Self::Body(_) => "the upstream provider closed the stream unexpectedly",
            Self::Idle => "the upstream provider stopped sending data",
            Self::EventTooLarge => "the upstream provider sent an oversized event",
        }
    }
}

fn idle_timeout_stream(
    body: impl Stream<Item = Result<Bytes, hyper::Error>> + Send + Unpin + 'static,
    idle: Duration,
) -> impl Stream<Item = Result<Bytes, RelayError>> + Send + 'static {
    futures_util::stream::unfold(Some(body), move |state| async move {
        let mut body = state?;
        match tokio::time::timeout(idle, body.next()).await {
            Ok(Some(Ok(chunk))) => Some((Ok(chunk), Some(body))),
            Ok(Some(Err(error))) => Some((Err(RelayError::Body(error)), None)),
            Ok(None) => None,
            Err(_) => Some((Err(RelayError::Idle), None)),
        }
    })
}

/// Relays an SSE body in whole events through `filter`: bytes are passed on as soon
/// as an event is complete (so chunk boundaries may move; with [`Passthrough`] bytes
/// never change). If the provider fails mid-stream, the partial event is dropped and
/// the client receives one well-formed error event instead of a truncated frame, so
/// SDKs raise a clean `APIError`.
pub(crate) fn sse_relay<F: EventFilter>(
    chunks: impl Stream<Item = Result<Bytes, RelayError>> + Send + 'static,
    failure: RelayFailure,
    filter: F,
) -> impl Stream<Item = Result<Bytes, std::convert::Infallible>> + Send + 'static {
    struct State<S, F> {
        chunks: Pin<Box<S>>,
        pending: BytesMut,
        failure: RelayFailure,
        filter: F,
    }
    let state = State { chunks: Box::pin(chunks), pending: BytesMut::new(), failure, filter };
    futures_util::stream::unfold(Some(state), |state| async move {
        let mut state = state?;
        loop {
            match state.chunks.next().await {
                Some(Ok(chunk)) => {
                    // Only the new bytes (and the 3 before them, for a boundary split
                    // across chunks) can hold a new event end: no rescanning.
                    let from = state.pending.len().saturating_sub(3);
                    state.pending.extend_from_slice(&chunk);
                    if let Some(end) = last_event_end(&state.pending, from) {
                        let ready = state.pending.split_to(end);
                        let mut out = BytesMut::new();
                        let go_on = state.filter.events(&ready, &mut out);
                        if !go_on {
                            return Some((Ok(out.freeze()), None));
                        }
                        if !out.is_empty() {
                            return Some((Ok(out.freeze()), Some(state)));
                        }
                        continue;
                    }
                    if state.pending.len() > MAX_SSE_EVENT {
                        let error = RelayError::EventTooLarge;
                        state.failure.log(&error);
                        return Some((Ok(error_event(&state.failure.provider, &error)), None));
                    }
                }
                Some(Err(error)) => {
                    state.failure.log(&error);
                    return Some((Ok(error_event(&state.failure.provider, &error)), None));
                }
                None => {
                    let rest = state.pending.split();
                    let mut out = BytesMut::new();
                    if !rest.is_empty() && !state.filter.events(&rest, &mut out) {
                        return Some((Ok(out.freeze()), None));
                    }
                    state.filter.end(&mut out);
                    return (!out.is_empty()).then(|| (Ok(out.freeze()), None));
                }
            }
        }
    })
}

/// The offset just past the last complete event in `buf` ending at or after `from`:
/// a line ending followed by an empty line (`\n\n`, `\r\n\r\n`, `\n\r\n` or `\r\r`).
fn last_event_end(buf: &[u8], from: usize) -> Option<usize> {
    (from.max(2)..=buf.len())
        .rev()
        .find(|&i| matches!(&buf[..i], [.., b'\n', b'\n'] | [.., b'\n', b'\r', b'\n'] | [.., b'\r', b'\r']))
}

fn error_event(provider: &str, error: &RelayError) -> Bytes {
    let body = serde_json::json!({
        "error": {
            "message": format!("upstream {provider}: {}", error.message()),
            "type": "api_error",
            "param": null,
            "code": "upstream_error",
        }
    });
    Bytes::from(format!("data: {body}\n\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_end_of_the_last_complete_event() {
        assert_eq!(last_event_end(b"data: a\n\ndata: b", 0), Some(9));
        assert_eq!(last_event_end(b"data: a\n\ndata: b\n\n", 0), Some(18));
        assert_eq!(last_event_end(b"data: a\r\n\r\n", 0), Some(11));
        assert_eq!(last_event_end(b"data: a\n", 0), None);
        assert_eq!(last_event_end(b"", 0), None);
        // Only ends at or after `from` are looked for.
        assert_eq!(last_event_end(b"data: a\n\ndata: b", 12), None);
        assert_eq!(last_event_end(b"data: a\n\ndata: b\n\n", 15), Some(18));
    }

    #[test]
    fn forwards_only_allowed_request_headers() {
        let extra = vec!["x-tenant".to_owned(), "x-trace-*".to_owned()];
        for name in ["content-type", "accept", "openai-beta", "x-stainless-retry-count", "x-tenant", "x-trace-id"] {
            assert!(forwards(name, &extra), "{name}");
        }
        for name in [
            "authorization",
            "api-key",
            "x-api-key",
            "cookie",
            "host",
            "connection",
            "transfer-encoding",
            "content-length",
            "content-encoding",
            "x-forwarded-for",
            "x-forwarded-prefix",
            "x-original-url",
            "x-http-method-override",
            "via",
            "openai-organization",
            "x-tenant-other",
        ] {
            assert!(!forwards(name, &extra), "{name}");
        }
    }

    #[test]
    fn drops_hop_by_hop_and_account_response_headers() {
        let mut from = HeaderMap::new();
        from.insert("set-cookie", HeaderValue::from_static("__cf_bm=1"));
        from.insert("openai-project", HeaderValue::from_static("proj_1"));
        from.insert("connection", HeaderValue::from_static("keep-alive, x-hop"));
        from.insert("x-hop", HeaderValue::from_static("1"));
        from.insert("openai-processing-ms", HeaderValue::from_static("12"));
        from.insert("content-type", HeaderValue::from_static("application/json"));
        let mut to = HeaderMap::new();
        copy_headers(&from, &mut to, RESPONSE_HEADERS_DROPPED);
        let names: Vec<_> = to.keys().map(|k| k.as_str()).collect();
        assert_eq!(names, vec!["openai-processing-ms", "content-type"]);
    }
}
