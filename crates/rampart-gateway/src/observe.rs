//! The outermost layer: request id, panic containment and the access log.
//!
//! Every response, rejections and panics included, carries `x-request-id`. A panic in
//! a handler becomes a 500 in OpenAI's shape instead of a dropped connection. Each
//! request is logged exactly once: ids, route, status, latency to the response head,
//! the error label and the request's inspection verdicts (detector, rule, score,
//! action, location), never bodies, matched text, keys or query strings. The level
//! follows who caused a failure: client errors at info, upstream at warn, internal at
//! error. It also starts each request's audit record, completed when the response
//! body ends ([`crate::monitor`]). The line, the record and the detectors' work come
//! after the response's last bytes are written ([`Finish`]), not between them and
//! the client.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures_util::FutureExt;
use http::HeaderValue;
use rand::RngCore;

use rampart_audit::{AuditRecord, RecordKind};

use crate::auth::Principal;
use crate::error::{ApiError, ErrorOutcome, Side};
use crate::monitor::{Actor, Pending, Tally};
use crate::routes::RouteInfo;
use crate::server::ClientAddr;
use crate::state::AppState;

/// The request id, as a request extension for handlers.
#[derive(Debug, Clone)]
pub struct RequestId(pub HeaderValue);

impl RequestId {
    /// The id of the request `parts` belong to, as text (empty outside the pipeline).
    pub(crate) fn text_of(parts: &http::request::Parts) -> &str {
        parts.extensions.get::<Self>().and_then(|id| id.0.to_str().ok()).unwrap_or_default()
    }
}

fn new_request_id() -> HeaderValue {
    let mut bytes = [0u8; 12];
    rand::rng().fill_bytes(&mut bytes);
    let mut text = String::with_capacity(4 + 24);
    text.push_str("req_");
    for b in bytes {
        text.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
        text.push(char::from(b"0123456789abcdef"[usize::from(b & 15)]));
    }
    HeaderValue::try_from(text).unwrap_or_else(|_| HeaderValue::from_static("req_unknown"))
}

/// The data plane's outermost layer.
pub(crate) async fn observe(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    observe_on(state, request, next, false).await
}

/// The admin API's outermost layer: the same, its records of kind `admin`.
pub(crate) async fn observe_admin(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    observe_on(state, request, next, true).await
}

async fn observe_on(state: Arc<AppState>, mut request: Request, next: Next, admin: bool) -> Response {
    let started = Instant::now();
    let time = crate::monitor::unix_ms(std::time::SystemTime::now());
    let id = new_request_id();
    request.extensions_mut().insert(RequestId(id.clone()));
    let method = request.method().clone();
    let path: String = request.uri().path().chars().take(200).collect();
    let client = request.extensions().get::<ClientAddr>().map(|addr| addr.0);
    // Probes and scrapes carry no data: neither audited nor counted.
    let observed = !matches!(path.as_str(), "/healthz" | "/readyz" | "/metrics");
    let audited = observed && state.monitor.audits();
    let tally = Arc::new(Tally::default());
    if observed {
        request.extensions_mut().insert(tally.clone());
    }

    let mut response = if audited && state.monitor.refusing() {
        // Fail closed: nothing is served that the trail could not hold. This refusal is
        // itself recorded below; once a write succeeds, traffic flows again.
        ApiError::unavailable("audit_unavailable", "the audit trail cannot be written; try again later").into_response()
    } else {
        match AssertUnwindSafe(next.run(request)).catch_unwind().await {
            Ok(response) => response,
            Err(_) => ApiError::internal("panic").into_response(),
        }
    };
    response.headers_mut().insert("x-request-id", id.clone());

    let head_latency = started.elapsed();
    let latency_ms = head_latency.as_secs_f64() * 1e3;
    let status = response.status().as_u16();
    // Inspection verdicts: detector, rule, score, action and location, never text. Only
    // this layer reads them: taken for the log line and the record.
    let inspection = response.extensions_mut().remove::<crate::inspect::Verdicts>();
    let principal = response.extensions().get::<Arc<Principal>>().cloned();
    let key_id = principal.as_ref().map(|p| p.key_id());
    let route = response.extensions().get::<RouteInfo>();
    let model = route.and_then(|r| r.model.as_deref());
    let provider = route.map(|r| &*r.provider);
    let request_id = id.to_str().unwrap_or_default();
    let outcome = response.extensions().get::<ErrorOutcome>().copied();
    let blocked =
        inspection.as_ref().is_some_and(|v| v.list.iter().any(|v| v.phase == "request" && v.action == "block"))
            && status == 400;
    let attack = blocked
        && inspection.as_ref().is_some_and(|v| v.list.iter().any(|v| matches!(v.detector, "injection" | "jailbreak")));
    let audit_verdicts = inspection.as_ref().map(|v| crate::monitor::audit_verdicts(v.list.iter())).unwrap_or_default();
    let line = AccessLine { latency_ms, key_id: key_id.map(str::to_owned), verdicts: inspection, outcome };
    if !observed {
        line.emit(request_id, method.as_str(), &path, status, model, provider);
        return response;
    }
    let actor = response.extensions().get::<Actor>();
    let (kind, who, who_kind) = match (admin, actor) {
        (true, Some(actor)) => (RecordKind::Admin, Some(actor.id.clone()), Some(format!("admin_{}", actor.kind))),
        (true, None) => (RecordKind::Admin, None, None),
        (false, _) => (RecordKind::Request, key_id.map(str::to_owned), principal.as_ref().map(|p| p.kind().to_owned())),
    };
    let record = AuditRecord {
        time,
        request_id: request_id.to_owned(),
        kind,
        principal: who,
        principal_kind: who_kind,
        team: principal.as_ref().and_then(|p| p.team()).map(str::to_owned),
        client_addr: client.map(|addr| addr.ip().to_string()),
        endpoint: Some(path),
        method: Some(method.to_string()),
        model: model.map(str::to_owned),
        provider: provider.map(str::to_owned),
        status: Some(status),
        error: outcome.map(|o| o.label.to_owned()),
        verdicts: audit_verdicts,
        ..AuditRecord::default()
    };
    let pending = Pending {
        state: state.clone(),
        record,
        line,
        started,
        head_latency,
        tally,
        client_ip: client.map(|addr| addr.ip()),
        blocked,
        attack,
        audited,
    };
    let (parts, body) = response.into_parts();
    Response::from_parts(parts, Body::new(Audited { inner: body, pending: Some(pending), bytes: 0 }))
}

/// A request's access-log line, but for what its audit record also holds (ids, route,
/// status, model, provider): written when the response ends.
pub(crate) struct AccessLine {
    /// Until the response head was ready.
    latency_ms: f64,
    key_id: Option<String>,
    /// The request's inspection verdicts, formatted only when the line is written.
    verdicts: Option<crate::inspect::Verdicts>,
    outcome: Option<ErrorOutcome>,
}

impl AccessLine {
    /// Writes the line; the level follows who caused a failure.
    pub(crate) fn emit(
        &self,
        request_id: &str,
        method: &str,
        path: &str,
        status: u16,
        model: Option<&str>,
        provider: Option<&str>,
    ) {
        let Self { latency_ms, ref key_id, ref verdicts, outcome } = *self;
        let key_id = key_id.as_deref();
        let verdict = verdicts.as_ref().map(|v| v.summary.as_str());
        let verdicts = verdicts.as_ref().filter(|v| !v.list.is_empty()).map(crate::inspect::Verdicts::log_field);
        let verdicts = verdicts.as_deref();
        match outcome {
            None => {
                tracing::info!(
                    request_id, method, path, status, latency_ms, key_id, model, provider, verdict, verdicts, "request"
                )
            }
            Some(ErrorOutcome { side: Side::Client, label }) => {
                tracing::info!(
                    request_id,
                    method,
                    path,
                    status,
                    latency_ms,
                    key_id,
                    model,
                    provider,
                    verdict,
                    verdicts,
                    error = label,
                    side = "client",
                    "request rejected"
                )
            }
            Some(ErrorOutcome { side: Side::Upstream, label }) => {
                tracing::warn!(
                    request_id,
                    method,
                    path,
                    status,
                    latency_ms,
                    key_id,
                    model,
                    provider,
                    error = label,
                    side = "upstream",
                    "request failed upstream"
                )
            }
            Some(ErrorOutcome { side: Side::Internal, label }) => {
                tracing::error!(
                    request_id,
                    method,
                    path,
                    status,
                    latency_ms,
                    key_id,
                    model,
                    provider,
                    error = label,
                    side = "internal",
                    "request failed"
                )
            }
        }
    }
}

/// A response body that completes its request's audit record when it ends, or when it
/// is dropped before (the client went away).
struct Audited {
    inner: Body,
    pending: Option<Pending>,
    bytes: u64,
}

impl http_body::Body for Audited {
    type Data = bytes::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        let this = &mut *self;
        let polled = std::pin::Pin::new(&mut this.inner).poll_frame(cx);
        match &polled {
            std::task::Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.bytes += data.len() as u64;
                }
            }
            std::task::Poll::Ready(None) => {
                if let Some(pending) = this.pending.take() {
                    Finish::later(pending, this.bytes, true);
                }
            }
            std::task::Poll::Ready(Some(Err(_))) => {
                if let Some(mut pending) = this.pending.take() {
                    pending.record.error.get_or_insert_with(|| "response_body_failed".into());
                    Finish::later(pending, this.bytes, false);
                }
            }
            std::task::Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for Audited {
    fn drop(&mut self) {
        if let Some(pending) = self.pending.take() {
            // An empty body may never be polled to its end.
            let complete = http_body::Body::is_end_stream(&self.inner);
            // The inner body first: a stream inspector it holds reports its verdicts
            // to the tally when dropped.
            drop(std::mem::replace(&mut self.inner, Body::empty()));
            Finish::later(pending, self.bytes, complete);
        }
    }
}

/// A record's completion, run after the response's last bytes are written: hyper drops
/// (or polls to its end) the body before it flushes what it wrote, so finishing
/// inline would put the log line, the audit record and the detectors between the
/// answer and the client. Finishes inline outside a runtime, and finishes when dropped
/// unrun (a runtime shutting down), so no record is ever lost.
struct Finish {
    work: Option<(Pending, Instant, u64, bool)>,
    /// Counted in its monitor from spawn to drop (a panic included), so shutdown waits
    /// for it before closing the trail.
    state: Arc<AppState>,
}

impl Finish {
    fn later(pending: Pending, body_bytes: u64, complete: bool) {
        let ended = Instant::now();
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let state = pending.state.clone();
            state.monitor.finishing();
            let mut finish = Self { work: Some((pending, ended, body_bytes, complete)), state };
            runtime.spawn(async move { finish.run() });
        } else {
            pending.finish(ended, body_bytes, complete);
        }
    }

    fn run(&mut self) {
        if let Some((pending, ended, body_bytes, complete)) = self.work.take() {
            pending.finish(ended, body_bytes, complete);
        }
    }
}

impl Drop for Finish {
    fn drop(&mut self) {
        self.run();
        self.state.monitor.finished();
    }
}
