//! Failure and timing controls (`x-mock-*` request headers), the endpoint-neutral
//! [`Reply`], OpenAI-shaped errors, and turning a reply into an HTTP response
//! (chunk delays, mid-stream resets, hung bodies, dropped connections).

use std::time::Duration;

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use futures_util::stream;
use http::header::{CACHE_CONTROL, CONTENT_TYPE};
use http::{HeaderMap, HeaderValue, StatusCode};
use serde::Serialize;

/// Default number of content chunks in a streamed answer.
pub(crate) const DEFAULT_CHUNKS: usize = 4;
/// Upper bound for `x-mock-chunks`.
pub(crate) const MAX_CHUNKS: usize = 100_000;

pub(crate) const JSON: &str = "application/json";
pub(crate) const EVENT_STREAM: &str = "text/event-stream";

/// How a response should fail on purpose (`x-mock-fail`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fail {
    /// Send a little of the body, then abort the connection.
    ResetMidStream,
    /// Send status and headers, then never any body byte.
    HangBody,
    /// Abort without sending a response at all.
    Close,
}

/// The controls a request asked for through `x-mock-*` headers.
#[derive(Clone, Debug)]
pub(crate) struct Controls {
    pub(crate) status: Option<StatusCode>,
    pub(crate) delay: Duration,
    pub(crate) chunk_delay: Duration,
    pub(crate) chunks: usize,
    pub(crate) fail: Option<Fail>,
}

impl Controls {
    /// Reads the controls; malformed values are ignored.
    pub(crate) fn from_headers(headers: &HeaderMap) -> Self {
        let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
        let number = |name: &str| text(name).and_then(|v| v.parse::<u64>().ok());
        let status = number("x-mock-status")
            .and_then(|code| u16::try_from(code).ok())
            .and_then(|code| StatusCode::from_u16(code).ok())
            .filter(|code| code.is_client_error() || code.is_server_error());
        let chunks = number("x-mock-chunks")
            .map_or(DEFAULT_CHUNKS, |n| usize::try_from(n).unwrap_or(MAX_CHUNKS))
            .clamp(1, MAX_CHUNKS);
        let fail = match text("x-mock-fail") {
            Some(v) if v.eq_ignore_ascii_case("reset-mid-stream") => Some(Fail::ResetMidStream),
            Some(v) if v.eq_ignore_ascii_case("hang-body") => Some(Fail::HangBody),
            Some(v) if v.eq_ignore_ascii_case("close") => Some(Fail::Close),
            _ => None,
        };
        Self {
            status,
            delay: Duration::from_millis(number("x-mock-delay-ms").unwrap_or(0)),
            chunk_delay: Duration::from_millis(number("x-mock-chunk-delay-ms").unwrap_or(0)),
            chunks,
            fail,
        }
    }
}

/// What an endpoint answers, before controls are applied.
pub(crate) enum Reply {
    /// A complete body.
    Full { status: StatusCode, content_type: &'static str, body: Bytes },
    /// A 200 body sent chunk by chunk, each as its own body frame.
    Stream { content_type: &'static str, chunks: Box<dyn Iterator<Item = Bytes> + Send> },
}

/// An endpoint's result: `Err` carries an error reply.
pub(crate) type Outcome = Result<Reply, Reply>;

impl Reply {
    /// 200 with a JSON body.
    pub(crate) fn json(body: impl Into<Bytes>) -> Self {
        Reply::Full { status: StatusCode::OK, content_type: JSON, body: body.into() }
    }

    /// 200 with `value` serialized as JSON.
    pub(crate) fn json_of<T: Serialize>(value: &T) -> Self {
        Self::json(to_json(value))
    }

    /// A streamed 200 response.
    pub(crate) fn stream(content_type: &'static str, chunks: impl Iterator<Item = Bytes> + Send + 'static) -> Self {
        Reply::Stream { content_type, chunks: Box::new(chunks) }
    }

    /// An OpenAI-shaped error: `{"error":{"message","type","param","code"}}`.
    pub(crate) fn error(
        status: StatusCode,
        message: &str,
        kind: &str,
        param: Option<&str>,
        code: Option<&str>,
    ) -> Self {
        #[derive(Serialize)]
        struct Envelope<'a> {
            error: Inner<'a>,
        }
        #[derive(Serialize)]
        struct Inner<'a> {
            message: &'a str,
            #[serde(rename = "type")]
            kind: &'a str,
            param: Option<&'a str>,
            code: Option<&'a str>,
        }
        let envelope = Envelope { error: Inner { message, kind, param, code } };
        Reply::Full { status, content_type: JSON, body: to_json(&envelope) }
    }

    /// 400 `invalid_request_error`.
    pub(crate) fn invalid(message: &str, param: Option<&str>) -> Self {
        Self::error(StatusCode::BAD_REQUEST, message, "invalid_request_error", param, None)
    }

    /// The error sent for `x-mock-status: <status>`.
    pub(crate) fn forced(status: StatusCode) -> Self {
        let message = format!("The rampart mock provider was asked to fail with {status}.");
        let (kind, code) = match status.as_u16() {
            401 => ("invalid_request_error", Some("invalid_api_key")),
            429 => ("requests", Some("rate_limit_exceeded")),
            s if s >= 500 => ("server_error", None),
            _ => ("invalid_request_error", None),
        };
        Self::error(status, &message, kind, None, code)
    }
}

/// Serializes one of our own response values (cannot fail for them).
pub(crate) fn to_json<T: Serialize + ?Sized>(value: &T) -> Bytes {
    serde_json::to_vec(value).map(Bytes::from).unwrap_or_default()
}

/// Parses a JSON request body, or answers 400 the way OpenAI does.
pub(crate) fn parse<'a, T: serde::Deserialize<'a>>(body: &'a [u8]) -> Result<T, Reply> {
    serde_json::from_slice(body).map_err(|err| {
        let message = if err.is_data() {
            format!("Invalid request body: {err}")
        } else {
            format!("We could not parse the JSON body of your request: {err}")
        };
        Reply::invalid(&message, None)
    })
}

/// Turns a reply into a response, applying `x-mock-chunk-delay-ms` and `x-mock-fail`.
pub(crate) fn respond(reply: Reply, controls: &Controls, recorder: Option<&crate::Recorder>) -> Response {
    let guard = || recorder.map(crate::Recorder::stream_guard);
    let (status, content_type, body) = match (reply, controls.fail) {
        (_, Some(Fail::Close)) => return close(),
        (Reply::Full { status, content_type, .. }, Some(Fail::HangBody)) => {
            (status, content_type, Body::from_stream(hang()))
        }
        (Reply::Stream { content_type, .. }, Some(Fail::HangBody)) => {
            (StatusCode::OK, content_type, Body::from_stream(hang()))
        }
        (Reply::Full { status, content_type, body }, Some(Fail::ResetMidStream)) => {
            let half = body.slice(..body.len() / 2);
            let chunks = Box::new(std::iter::once(half));
            (status, content_type, drive(chunks, Duration::ZERO, Some(1), guard()))
        }
        (Reply::Full { status, content_type, body }, None) => (status, content_type, Body::from(body)),
        (Reply::Stream { content_type, chunks }, fail) => {
            let reset_after = (fail == Some(Fail::ResetMidStream)).then_some(2);
            (StatusCode::OK, content_type, drive(chunks, controls.chunk_delay, reset_after, guard()))
        }
    };
    let mut response = Response::new(body);
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    if content_type == EVENT_STREAM {
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    }
    headers.insert("x-request-id", HeaderValue::from_static("req_mock"));
    response
}

/// A response whose body fails before its first byte: hyper then drops the
/// connection without flushing the status line (HTTP/1) or resets the stream (HTTP/2).
pub(crate) fn close() -> Response {
    let body = stream::once(async { Err::<Bytes, _>(std::io::Error::other("x-mock-fail: close")) });
    Response::new(Body::from_stream(body))
}

/// A body stream that never yields.
fn hang() -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> {
    stream::pending()
}

struct Drive {
    chunks: Box<dyn Iterator<Item = Bytes> + Send>,
    sent: usize,
    delay: Duration,
    reset_after: Option<usize>,
    done: bool,
    _open: Option<crate::record::StreamGuard>,
}

/// A body that sends each chunk as its own frame, sleeping `delay` between
/// chunks, and fails after `reset_after` chunks when set.
fn drive(
    chunks: Box<dyn Iterator<Item = Bytes> + Send>,
    delay: Duration,
    reset_after: Option<usize>,
    open: Option<crate::record::StreamGuard>,
) -> Body {
    let state = Drive { chunks, sent: 0, delay, reset_after, done: false, _open: open };
    Body::from_stream(stream::unfold(state, |mut s| async move {
        if s.done {
            return None;
        }
        if s.reset_after == Some(s.sent) {
            s.done = true;
            // Let the server flush what was sent before the connection is aborted.
            tokio::time::sleep(Duration::from_millis(5)).await;
            let err = std::io::Error::other("x-mock-fail: reset-mid-stream");
            return Some((Err(err), s));
        }
        if s.sent > 0 && !s.delay.is_zero() {
            tokio::time::sleep(s.delay).await;
        }
        let chunk = s.chunks.next()?;
        s.sent += 1;
        Some((Ok(chunk), s))
    }))
}
