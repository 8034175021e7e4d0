//! An OpenAI-compatible mock provider that records what reached it.
//!
//! Used by `rampart demo` as a built-in provider, by integration tests that
//! check what the gateway forwarded upstream, and by benchmarks as a fast
//! upstream. Answers are deterministic (fixed ids, `created: 1700000000`, no
//! `Date` header), so identical requests get byte-identical responses.
//!
//! This module owns the public API ([`MockProvider`], [`MockOptions`],
//! [`router`], [`serve`]), the routing table and the per-request pipeline:
//! read and record the body, apply `x-mock-*` controls, check the API key,
//! dispatch to an endpoint.

mod chat;
mod control;
mod files;
mod other;
mod record;
mod responses;
mod sse;

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{OriginalUri, Request, State};
use axum::response::Response;
use http::header::AUTHORIZATION;
use http::{HeaderMap, Method, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};

use crate::control::{AnswerControls, Controls, Fail, Outcome, Reply};
pub use crate::record::{RECORD_BODY_LIMIT, RecordedRequest, Recorder};

/// The fixed `created` timestamp of every object.
pub(crate) const CREATED: u64 = 1_700_000_000;

/// Largest JSON request body the mock parses (larger ones get 413).
const JSON_BODY_LIMIT: usize = 64 * 1024 * 1024;

/// How to run a [`MockProvider`].
#[derive(Clone, Debug)]
pub struct MockOptions {
    /// Where to listen; default `127.0.0.1:0`.
    pub listen: Option<SocketAddr>,
    /// If set, requests without `Authorization: Bearer <api_key>` get 401 `invalid_api_key`.
    pub api_key: Option<String>,
    /// Record requests (default `true`). Only read by [`MockProvider::spawn_with`];
    /// [`router`] records exactly when given a [`Recorder`].
    pub record: bool,
}

impl Default for MockOptions {
    fn default() -> Self {
        Self { listen: None, api_key: None, record: true }
    }
}

/// A running mock server. Dropping it shuts it down, open connections included.
#[derive(Debug)]
pub struct MockProvider {
    addr: SocketAddr,
    recorder: Recorder,
    task: JoinHandle<()>,
}

impl MockProvider {
    /// Starts a recording mock on `127.0.0.1:0`.
    pub async fn spawn() -> std::io::Result<MockProvider> {
        Self::spawn_with(MockOptions::default()).await
    }

    /// Starts a mock with `options`.
    pub async fn spawn_with(options: MockOptions) -> std::io::Result<MockProvider> {
        let listen = options.listen.unwrap_or_else(|| SocketAddr::from((Ipv4Addr::LOCALHOST, 0)));
        let listener = TcpListener::bind(listen).await?;
        let addr = listener.local_addr()?;
        let recorder = Recorder::new();
        let app = router(&options, options.record.then(|| recorder.clone()));
        let task = tokio::spawn(async move {
            if let Err(err) = serve(listener, app).await {
                tracing::warn!(%err, "mock provider stopped");
            }
        });
        Ok(MockProvider { addr, recorder, task })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR/v1`, the base URL an OpenAI client is pointed at.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// Everything recorded so far, in arrival order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.recorder.snapshot()
    }

    /// How many requests were recorded.
    pub fn request_count(&self) -> usize {
        self.recorder.len()
    }

    /// Streamed response bodies currently open; drops to zero once a client (or the
    /// gateway in between) abandons a stream.
    pub fn open_streams(&self) -> usize {
        self.recorder.open_streams()
    }

    /// Requests still waiting for their response head (see [`Recorder::pending`]).
    pub fn pending_responses(&self) -> usize {
        self.recorder.pending()
    }

    /// The shared recorder (e.g. to clear it between test phases).
    pub fn recorder(&self) -> Recorder {
        self.recorder.clone()
    }
}

impl Drop for MockProvider {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Shared per-router state.
struct Ctx {
    /// `Bearer <key>` when an API key is required.
    expected_auth: Option<String>,
    recorder: Option<Recorder>,
}

/// The mock's router, for embedding. Records into `recorder` when given one;
/// with `None` the request path takes no lock.
pub fn router(options: &MockOptions, recorder: Option<Recorder>) -> Router {
    let ctx = Arc::new(Ctx { expected_auth: options.api_key.as_ref().map(|key| format!("Bearer {key}")), recorder });
    Router::new().fallback(handle).with_state(ctx)
}

/// Serves `router` on `listener` (HTTP/1.1, and HTTP/2 with prior knowledge)
/// until this future is dropped; dropping it also closes open connections.
pub async fn serve(listener: TcpListener, router: Router) -> std::io::Result<()> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder.http1().timer(TokioTimer::new()).auto_date_header(false);
    builder.http2().auto_date_header(false);
    let service = TowerToHyperService::new(router);
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => {
                    let _ = stream.set_nodelay(true);
                    let builder = builder.clone();
                    let service = service.clone();
                    connections.spawn(async move {
                        let io = TokioIo::new(stream);
                        if let Err(err) = builder.serve_connection(io, service).await {
                            tracing::trace!(%err, "mock connection ended");
                        }
                    });
                }
                Err(err) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::debug!(%err, "mock accept failed");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

/// The endpoints, resolved from method and path.
enum Endpoint {
    Chat,
    Completions,
    Embeddings,
    Moderations,
    Responses,
    ListModels,
    GetModel(String),
    UploadFile,
    ListFiles,
    GetFile(String),
    FileContent,
    DeleteFile(String),
    CreateBatch,
    ListBatches,
    GetBatch(String),
    CancelBatch(String),
    ImageGenerations,
    ImageEdits,
    Speech,
    Transcription,
    NotFound,
}

impl Endpoint {
    fn resolve(method: &Method, path: &str) -> Endpoint {
        let path = path.strip_suffix('/').unwrap_or(path);
        let Some(rest) = path.strip_prefix("/v1/") else {
            return Endpoint::NotFound;
        };
        let segments: Vec<&str> = rest.split('/').collect();
        match (method.as_str(), segments.as_slice()) {
            ("POST", ["chat", "completions"]) => Endpoint::Chat,
            ("POST", ["completions"]) => Endpoint::Completions,
            ("POST", ["embeddings"]) => Endpoint::Embeddings,
            ("POST", ["moderations"]) => Endpoint::Moderations,
            ("POST", ["responses"]) => Endpoint::Responses,
            ("GET", ["models"]) => Endpoint::ListModels,
            // Model ids may contain slashes.
            ("GET", ["models", ..]) => match rest.strip_prefix("models/") {
                Some(id) if !id.is_empty() => Endpoint::GetModel(id.to_owned()),
                _ => Endpoint::NotFound,
            },
            ("POST", ["files"]) => Endpoint::UploadFile,
            ("GET", ["files"]) => Endpoint::ListFiles,
            ("GET", ["files", id]) => Endpoint::GetFile((*id).to_owned()),
            ("GET", ["files", _, "content"]) => Endpoint::FileContent,
            ("DELETE", ["files", id]) => Endpoint::DeleteFile((*id).to_owned()),
            ("POST", ["batches"]) => Endpoint::CreateBatch,
            ("GET", ["batches"]) => Endpoint::ListBatches,
            ("GET", ["batches", id]) => Endpoint::GetBatch((*id).to_owned()),
            ("POST", ["batches", id, "cancel"]) => Endpoint::CancelBatch((*id).to_owned()),
            ("POST", ["images", "generations"]) => Endpoint::ImageGenerations,
            ("POST", ["images", "edits"]) => Endpoint::ImageEdits,
            ("POST", ["audio", "speech"]) => Endpoint::Speech,
            ("POST", ["audio", "transcriptions" | "translations"]) => Endpoint::Transcription,
            _ => Endpoint::NotFound,
        }
    }

    /// Whether the body is an upload (or unknown): streamed and counted, not buffered.
    fn streams_body(&self) -> bool {
        matches!(self, Endpoint::UploadFile | Endpoint::ImageEdits | Endpoint::Transcription | Endpoint::NotFound)
    }

    /// The endpoint's answer. `body` is the whole body, or its first
    /// [`RECORD_BODY_LIMIT`] bytes for streamed uploads.
    fn reply(&self, method: &Method, path: &str, body: &[u8], body_len: u64, answer: &mut AnswerControls) -> Outcome {
        match self {
            Endpoint::Chat => chat::chat_completions(body, answer),
            Endpoint::Completions => chat::completions(body, answer),
            Endpoint::Embeddings => other::embeddings(body),
            Endpoint::Moderations => other::moderations(body),
            Endpoint::Responses => responses::create(body, answer),
            Endpoint::ListModels => other::list_models(),
            Endpoint::GetModel(id) => other::get_model(id),
            Endpoint::UploadFile => files::upload(body, body_len),
            Endpoint::ListFiles => files::list(),
            Endpoint::GetFile(id) => files::get(id),
            Endpoint::FileContent => files::content(),
            Endpoint::DeleteFile(id) => files::delete(id),
            Endpoint::CreateBatch => files::create_batch(body),
            Endpoint::ListBatches => files::list_batches(),
            Endpoint::GetBatch(id) => files::get_batch(id),
            Endpoint::CancelBatch(id) => files::cancel_batch(id),
            Endpoint::ImageGenerations => other::image_generations(body),
            Endpoint::ImageEdits => other::image_edits(body),
            Endpoint::Speech => other::speech(body, answer.chunks),
            Endpoint::Transcription => other::transcription(body),
            Endpoint::NotFound => Err(Reply::error(
                StatusCode::NOT_FOUND,
                &format!("Invalid URL ({method} {path})"),
                "invalid_request_error",
                None,
                Some("unknown_url"),
            )),
        }
    }
}

/// The per-request pipeline.
async fn handle(State(ctx): State<Arc<Ctx>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let endpoint = Endpoint::resolve(&parts.method, parts.uri.path());
    let mut controls = Controls::from_headers(&parts.headers);

    let keep = if endpoint.streams_body() { RECORD_BODY_LIMIT } else { JSON_BODY_LIMIT };
    let body = record::read_body(body, keep).await;
    if let Some(recorder) = &ctx.recorder {
        let uri = parts.extensions.get::<OriginalUri>().map_or(&parts.uri, |original| &original.0);
        let path = uri.path_and_query().map_or_else(|| uri.path().to_owned(), |pq| pq.as_str().to_owned());
        recorder.push(RecordedRequest {
            method: parts.method.clone(),
            path,
            headers: parts.headers.clone(),
            body: body.recorded(),
            body_len: body.total,
        });
    }

    let _pending = ctx.recorder.as_ref().map(Recorder::pending_guard);
    if !controls.delay.is_zero() {
        tokio::time::sleep(controls.delay).await;
    }
    if controls.fail == Some(Fail::Close) {
        return control::close();
    }
    let reply = if !ctx.authorized(&parts.headers) {
        Reply::error(
            StatusCode::UNAUTHORIZED,
            "Incorrect API key provided.",
            "invalid_request_error",
            None,
            Some("invalid_api_key"),
        )
    } else if let Some(status) = controls.status {
        Reply::forced(status)
    } else if body.failed {
        Reply::invalid("The request body could not be read.", None)
    } else if body.truncated && !endpoint.streams_body() {
        Reply::error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "The request body is too large for the mock provider.",
            "invalid_request_error",
            None,
            Some("request_too_large"),
        )
    } else {
        endpoint
            .reply(&parts.method, parts.uri.path(), &body.kept, body.total, &mut controls.answer)
            .unwrap_or_else(|error| error)
    };
    control::respond(reply, &controls, ctx.recorder.as_ref())
}

impl Ctx {
    fn authorized(&self, headers: &HeaderMap) -> bool {
        let Some(expected) = &self.expected_auth else {
            return true;
        };
        headers.get(AUTHORIZATION).is_some_and(|value| value.as_bytes() == expected.as_bytes())
    }
}
