//! Request bodies with limits: JSON bodies are read whole but never past
//! `max_body_bytes`; uploads stream through, counted, and are cut at
//! `max_upload_bytes`. No request body is ever read without a bound.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::body::Body;
use bytes::Bytes;
use futures_util::StreamExt;
use http::HeaderMap;
use http_body_util::BodyExt;

use crate::error::ApiError;

/// The declared `content-length`, if present and valid.
pub(crate) fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(http::header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

/// Reads a whole body of at most `limit` bytes. A declared length over the limit is
/// refused before a byte is read.
pub(crate) async fn read_limited(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> Result<Bytes, ApiError> {
    if content_length(headers).is_some_and(|len| len > limit as u64) {
        return Err(ApiError::payload_too_large(limit as u64));
    }
    match http_body_util::Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if error.is::<http_body_util::LengthLimitError>() => {
            Err(ApiError::payload_too_large(limit as u64))
        }
        Err(_) => Err(ApiError::bad_request(
            "body_read_failed",
            "the request body could not be read",
        )),
    }
}

/// An upload streamed to the provider, cut when it passes `limit` bytes. `exceeded`
/// tells the caller afterwards why the upstream request failed.
pub(crate) fn limited_stream(
    headers: &HeaderMap,
    body: Body,
    limit: u64,
) -> Result<(Body, Arc<AtomicBool>), ApiError> {
    if content_length(headers).is_some_and(|len| len > limit) {
        return Err(ApiError::payload_too_large(limit));
    }
    let exceeded = Arc::new(AtomicBool::new(false));
    let flag = exceeded.clone();
    let mut seen: u64 = 0;
    let stream = body.into_data_stream().map(move |chunk| {
        let chunk = chunk?;
        seen += chunk.len() as u64;
        if seen > limit {
            flag.store(true, Ordering::Relaxed);
            return Err(axum::Error::new(UploadTooLarge));
        }
        Ok::<_, axum::Error>(chunk)
    });
    Ok((Body::from_stream(stream), exceeded))
}

#[derive(Debug, thiserror::Error)]
#[error("upload exceeds the configured limit")]
struct UploadTooLarge;
