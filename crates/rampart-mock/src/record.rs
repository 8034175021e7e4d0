//! Recording: what reached the mock (`RecordedRequest`, `Recorder`) and reading
//! request bodies while counting them, so uploads are never buffered whole.

use std::sync::{Arc, Mutex, MutexGuard};

use axum::body::Body;
use bytes::{Bytes, BytesMut};
use http::{HeaderMap, Method};
use http_body_util::BodyExt;

/// How many body bytes a [`RecordedRequest`] keeps.
pub const RECORD_BODY_LIMIT: usize = 1024 * 1024;

/// One request as it reached the mock.
#[derive(Clone, Debug)]
pub struct RecordedRequest {
    /// The request method.
    pub method: Method,
    /// Path and query, e.g. `/v1/chat/completions?x=1`.
    pub path: String,
    /// All request headers, as received.
    pub headers: HeaderMap,
    /// The first 1 MiB of the body.
    pub body: Bytes,
    /// Total body bytes received (counted while streamed).
    pub body_len: u64,
}

impl RecordedRequest {
    /// The body parsed as JSON, if it is (complete and valid) JSON.
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }

    /// A header's value as text, if present and visible ASCII.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// A shared, append-only log of [`RecordedRequest`]s in arrival order; cheap to clone.
#[derive(Clone, Default)]
pub struct Recorder {
    inner: Arc<Mutex<Vec<RecordedRequest>>>,
    open_streams: Arc<std::sync::atomic::AtomicUsize>,
    pending: Arc<std::sync::atomic::AtomicUsize>,
}

/// Counts a streamed response body as open until it is dropped (finished, failed, or
/// abandoned by the client), so tests can see upstream cancellation.
pub(crate) struct StreamGuard(Arc<std::sync::atomic::AtomicUsize>);

impl Drop for StreamGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder").field("len", &self.len()).finish()
    }
}

impl Recorder {
    /// An empty recorder.
    pub fn new() -> Self {
        Self::default()
    }

    /// A copy of everything recorded so far, in arrival order.
    pub fn snapshot(&self) -> Vec<RecordedRequest> {
        self.lock().clone()
    }

    /// How many requests were recorded.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    /// Streamed response bodies currently open (sent or pending, not yet dropped).
    pub fn open_streams(&self) -> usize {
        self.open_streams.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Requests whose response head is not produced yet (e.g. in `x-mock-delay-ms`);
    /// drops when the handler finishes or is cancelled because the caller went away.
    pub fn pending(&self) -> usize {
        self.pending.load(std::sync::atomic::Ordering::SeqCst)
    }

    pub(crate) fn pending_guard(&self) -> StreamGuard {
        self.pending.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        StreamGuard(self.pending.clone())
    }

    pub(crate) fn stream_guard(&self) -> StreamGuard {
        self.open_streams.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        StreamGuard(self.open_streams.clone())
    }

    /// Forget everything recorded so far.
    pub fn clear(&self) {
        self.lock().clear();
    }

    pub(crate) fn push(&self, request: RecordedRequest) {
        self.lock().push(request);
    }

    fn lock(&self) -> MutexGuard<'_, Vec<RecordedRequest>> {
        // A panic while holding this lock cannot leave the Vec inconsistent.
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A request body after it was read to its end (or until it failed).
pub(crate) struct ReadBody {
    /// The first `keep` bytes.
    pub(crate) kept: Bytes,
    /// All bytes received.
    pub(crate) total: u64,
    /// The body was longer than `keep`.
    pub(crate) truncated: bool,
    /// Reading failed (client went away, bad framing).
    pub(crate) failed: bool,
}

impl ReadBody {
    /// The bytes to record: at most [`RECORD_BODY_LIMIT`], never pinning a larger buffer.
    pub(crate) fn recorded(&self) -> Bytes {
        if self.kept.len() > RECORD_BODY_LIMIT {
            Bytes::copy_from_slice(&self.kept[..RECORD_BODY_LIMIT])
        } else {
            self.kept.clone()
        }
    }
}

/// Reads `body` to its end, keeping the first `keep` bytes and counting all of them.
pub(crate) async fn read_body(mut body: Body, keep: usize) -> ReadBody {
    let mut parts: Vec<Bytes> = Vec::new();
    let mut kept_len = 0usize;
    let mut total = 0u64;
    let mut failed = false;
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else {
            failed = true;
            break;
        };
        let Ok(data) = frame.into_data() else {
            continue; // trailers
        };
        total += data.len() as u64;
        if kept_len < keep && !data.is_empty() {
            let take = (keep - kept_len).min(data.len());
            kept_len += take;
            parts.push(data.slice(..take));
        }
    }
    let kept = match parts.len() {
        0 => Bytes::new(),
        1 => parts.pop().unwrap_or_default(),
        _ => {
            let mut buf = BytesMut::with_capacity(kept_len);
            for part in &parts {
                buf.extend_from_slice(part);
            }
            buf.freeze()
        }
    };
    ReadBody { kept, total, truncated: total > keep as u64, failed }
}
