//! Request bodies with limits: JSON bodies are read whole but never past
//! `max_body_bytes` nor for longer than [`BODY_READ_TIMEOUT`]; uploads stream through,
//! counted, keep their declared length, and are cut at `max_upload_bytes`. No request
//! body is ever read without a bound.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;
use http::HeaderMap;
use http_body::{Frame, SizeHint};
use http_body_util::BodyExt;

use crate::error::ApiError;

/// Longest time a client may take to send a buffered (JSON) body.
const BODY_READ_TIMEOUT: Duration = Duration::from_secs(60);

/// The declared `content-length`, if present and valid.
pub(crate) fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers.get(http::header::CONTENT_LENGTH)?.to_str().ok()?.parse().ok()
}

/// Whether the (single) `content-type` is JSON.
pub(crate) fn is_json(headers: &HeaderMap) -> bool {
    let mut values = headers.get_all(http::header::CONTENT_TYPE).iter();
    let first = values.next();
    values.next().is_none()
        && first
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim_start().to_ascii_lowercase().starts_with("application/json"))
}

/// Refuses what rampart cannot read as sent: compressed request bodies (rampart checks
/// the bytes it forwards, and would forward them without their encoding) and
/// ambiguous `content-type`s.
pub(crate) fn check_framing(headers: &HeaderMap) -> Result<(), ApiError> {
    for value in headers.get_all(http::header::CONTENT_ENCODING) {
        if !value.as_bytes().eq_ignore_ascii_case(b"identity") {
            return Err(ApiError::unsupported_media_type("compressed request bodies are not accepted"));
        }
    }
    if headers.get_all(http::header::CONTENT_TYPE).iter().count() > 1 {
        return Err(ApiError::bad_request("ambiguous_content_type", "more than one content-type header"));
    }
    Ok(())
}

/// Reads a whole body of at most `limit` bytes. A declared length over the limit is
/// refused before a byte is read.
pub(crate) async fn read_limited(headers: &HeaderMap, body: Body, limit: usize) -> Result<Bytes, ApiError> {
    check_framing(headers)?;
    if content_length(headers).is_some_and(|len| len > limit as u64) {
        return Err(ApiError::payload_too_large(limit as u64));
    }
    let read = http_body_util::Limited::new(body, limit).collect();
    match tokio::time::timeout(BODY_READ_TIMEOUT, read).await {
        Err(_) => Err(ApiError::request_timeout()),
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
        Ok(Err(error)) if error.is::<http_body_util::LengthLimitError>() => {
            Err(ApiError::payload_too_large(limit as u64))
        }
        Ok(Err(_)) => Err(ApiError::bad_request("body_read_failed", "the request body could not be read")),
    }
}

/// An upload streamed to the provider, cut when it passes `limit` bytes. `exceeded`
/// tells the caller afterwards why the upstream request failed.
pub(crate) fn limited_stream(headers: &HeaderMap, body: Body, limit: u64) -> Result<(Body, Arc<AtomicBool>), ApiError> {
    check_framing(headers)?;
    if content_length(headers).is_some_and(|len| len > limit) {
        return Err(ApiError::payload_too_large(limit));
    }
    let exceeded = Arc::new(AtomicBool::new(false));
    let body = CountedBody { inner: body, seen: 0, limit, exceeded: exceeded.clone() };
    Ok((Body::new(body), exceeded))
}

/// Counts bytes and fails past the limit; keeps the inner body's size hint and end of
/// stream, so the upstream request keeps its `content-length`.
struct CountedBody {
    inner: Body,
    seen: u64,
    limit: u64,
    exceeded: Arc<AtomicBool>,
}

#[derive(Debug, thiserror::Error)]
#[error("upload exceeds the configured limit")]
struct UploadTooLarge;

impl http_body::Body for CountedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = &mut *self;
        let frame = match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => frame,
            other => return other,
        };
        if let Some(data) = frame.data_ref() {
            this.seen += data.len() as u64;
            if this.seen > this.limit {
                this.exceeded.store(true, Ordering::Relaxed);
                return Poll::Ready(Some(Err(axum::Error::new(UploadTooLarge))));
            }
        }
        Poll::Ready(Some(Ok(frame)))
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
