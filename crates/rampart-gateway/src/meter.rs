//! Usage metering of a response on its way to the client: reads the provider's
//! reported `usage` off a JSON body or an event stream without holding the response
//! back, removes the usage chunk of a stream whose client did not ask for one (rampart
//! asks the provider for it on every stream it meters), and settles the request's
//! [`Ticket`] when the body ends. A body dropped before its end (the client went away)
//! or that never reports usage settles with the usage unknown: the reservation stays
//! charged in full.
//!
//! JSON bodies are kept (as shared chunks, no copy) up to [`MAX_METERED_JSON`] to be
//! parsed at their end; beyond it, usage is unknown. Event streams arrive from the
//! relay in whole events; only an event holding a usage object is parsed.

use std::pin::Pin;
use std::sync::{Arc, LazyLock};
use std::task::{Context, Poll};

use axum::body::Body;
use bytes::{Bytes, BytesMut};
use futures_util::Stream;
use memchr::memmem;

use crate::admission::{Ticket, Usage};
use crate::monitor::{MAX_AUDITED_BODY, Tally};

/// Largest JSON response body whose usage is read.
pub(crate) const MAX_METERED_JSON: usize = 8 << 20;

/// How the response body is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    /// Nothing to read: the ticket is held (its concurrency slot busy) until the body
    /// ends.
    Hold,
    /// One JSON document.
    Json,
    /// Server-sent events; `strip`: the client did not ask for the usage chunk.
    Events { strip: bool },
}

/// Wraps `body` so that `ticket` settles with the usage it reports.
pub(crate) fn metered(body: Body, shape: Shape, ticket: Ticket, tally: Option<Arc<Tally>>) -> Body {
    // A policy that keeps bodies keeps a stream as the client got it (inspected).
    let keep_events =
        matches!(shape, Shape::Events { .. }) && tally.as_ref().is_some_and(|t| t.with(|t| t.keep_bodies));
    Body::from_stream(Metered {
        inner: body.into_data_stream(),
        ticket: Some(ticket),
        tally,
        shape,
        keep_events,
        usage: None,
        kept: Vec::new(),
        kept_len: 0,
        carry: BytesMut::new(),
    })
}

struct Metered {
    inner: axum::body::BodyDataStream,
    ticket: Option<Ticket>,
    /// An audited request's tally, told the usage at the end.
    tally: Option<Arc<Tally>>,
    shape: Shape,
    /// Events: keep what the client is sent, for the audit record (the policy keeps
    /// bodies), up to just past [`MAX_AUDITED_BODY`] (the record marks it cut).
    keep_events: bool,
    usage: Option<Usage>,
    /// JSON (or kept events): the body so far, while under the bound.
    kept: Vec<Bytes>,
    kept_len: usize,
    /// Events: an incomplete event at the end of the last chunk.
    carry: BytesMut,
}

impl Stream for Metered {
    type Item = Result<Bytes, axum::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            match Pin::new(&mut this.inner).poll_next(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Err(error))) => return Poll::Ready(Some(Err(error))),
                Poll::Ready(Some(Ok(chunk))) => {
                    let out = match this.shape {
                        Shape::Hold => chunk,
                        Shape::Json => {
                            if this.kept_len <= MAX_METERED_JSON {
                                this.kept_len += chunk.len();
                                this.kept.push(chunk.clone());
                            }
                            chunk
                        }
                        Shape::Events { strip } => this.events(chunk, strip),
                    };
                    if out.is_empty() {
                        continue;
                    }
                    if this.keep_events && this.kept_len <= MAX_AUDITED_BODY {
                        this.kept_len += out.len();
                        this.kept.push(out.clone());
                    }
                    return Poll::Ready(Some(Ok(out)));
                }
                Poll::Ready(None) => {
                    let tail = match this.shape {
                        Shape::Hold => Bytes::new(),
                        Shape::Json => {
                            if this.kept_len <= MAX_METERED_JSON {
                                let body: Vec<u8> = this.kept.concat();
                                this.usage = usage_in(&body);
                            }
                            Bytes::new()
                        }
                        Shape::Events { strip } => {
                            let rest = this.carry.split().freeze();
                            if rest.is_empty() { rest } else { this.event(&rest, strip).unwrap_or_default() }
                        }
                    };
                    if this.keep_events && this.kept_len <= MAX_AUDITED_BODY && !tail.is_empty() {
                        this.kept_len += tail.len();
                        this.kept.push(tail.clone());
                    }
                    if let Some(tally) = this.tally.take() {
                        let usage = this.usage;
                        let kept = (this.keep_events
                            || (this.shape == Shape::Json && this.kept_len <= MAX_METERED_JSON))
                            .then(|| std::mem::take(&mut this.kept));
                        tally.with(|t| {
                            t.usage = usage;
                            if t.keep_bodies {
                                t.response_body = kept.map(|chunks| chunks.concat());
                            }
                        });
                    }
                    if let Some(ticket) = this.ticket.take() {
                        ticket.settle(this.usage);
                    }
                    return Poll::Ready((!tail.is_empty()).then_some(Ok(tail)));
                }
            }
        }
    }
}

impl Drop for Metered {
    fn drop(&mut self) {
        // Ended early: the record keeps what the client was sent (policy permitting).
        if let Some(tally) = self.tally.take().filter(|_| self.keep_events) {
            let kept = std::mem::take(&mut self.kept);
            tally.with(|t| t.response_body = Some(kept.concat()));
        }
        // Ended early: what the provider billed is unknown.
        if let Some(ticket) = self.ticket.take() {
            ticket.settle(None);
        }
    }
}

impl Metered {
    /// The events of `chunk` (after any carried partial event) as the client gets them.
    fn events(&mut self, chunk: Bytes, strip: bool) -> Bytes {
        let buf: Bytes = if self.carry.is_empty() {
            chunk
        } else {
            self.carry.extend_from_slice(&chunk);
            self.carry.split().freeze()
        };
        // Fast path: no usage object in the chunk at all.
        let end = last_event_end(&buf);
        if !has_usage_object(&buf[..end]) {
            if end < buf.len() {
                self.carry.extend_from_slice(&buf[end..]);
            }
            return if strip { strip_null_usage(buf.slice(..end)) } else { buf.slice(..end) };
        }
        let mut out = BytesMut::with_capacity(end);
        let mut start = 0;
        while start < end {
            let stop = next_event_end(&buf[start..end]).map_or(end, |n| start + n);
            let event = buf.slice(start..stop);
            if let Some(kept) = self.event(&event, strip) {
                out.extend_from_slice(&kept);
            }
            start = stop;
        }
        if end < buf.len() {
            self.carry.extend_from_slice(&buf[end..]);
        }
        out.freeze()
    }

    /// One whole event as the client gets it (`None`: dropped), noting its usage.
    fn event(&mut self, event: &Bytes, strip: bool) -> Option<Bytes> {
        if !has_usage_object(event) {
            return Some(if strip { strip_null_usage(event.clone()) } else { event.clone() });
        }
        let data = event_data(event)?;
        if let Some(usage) = usage_in(data) {
            self.usage = Some(usage);
        }
        let Ok(mut value) = serde_json::from_slice::<serde_json::Value>(data) else {
            return Some(event.clone());
        };
        // Only chat and completion chunks carry a usage the client may not have asked
        // for (Responses events always report it).
        if !strip || value.get("usage").is_none() {
            return Some(event.clone());
        }
        let no_choices = value.get("choices").and_then(|c| c.as_array()).is_none_or(Vec::is_empty);
        if no_choices {
            return None;
        }
        if let Some(object) = value.as_object_mut() {
            object.remove("usage");
        }
        Some(Bytes::from(format!("data: {value}\n\n")))
    }
}

/// Searchers for the fixed needles of every streamed chunk, built once (`memmem::find`
/// builds one per call on all but the shortest inputs).
static FIND_USAGE: LazyLock<memmem::Finder<'static>> = LazyLock::new(|| memmem::Finder::new(b"\"usage\""));
const NULL_USAGE: &[u8] = b",\"usage\":null";
static FIND_NULL_USAGE: LazyLock<memmem::Finder<'static>> = LazyLock::new(|| memmem::Finder::new(NULL_USAGE));
static FIND_LF_END: LazyLock<memmem::Finder<'static>> = LazyLock::new(|| memmem::Finder::new(b"\n\n"));
static FIND_CRLF_END: LazyLock<memmem::Finder<'static>> = LazyLock::new(|| memmem::Finder::new(b"\r\n\r\n"));
static RFIND_LF_END: LazyLock<memmem::FinderRev<'static>> = LazyLock::new(|| memmem::FinderRev::new(b"\n\n"));
static RFIND_CRLF_END: LazyLock<memmem::FinderRev<'static>> = LazyLock::new(|| memmem::FinderRev::new(b"\r\n\r\n"));

/// Whether `bytes` hold `"usage"` followed by an object (not `null`).
fn has_usage_object(bytes: &[u8]) -> bool {
    FIND_USAGE.find_iter(bytes).any(|at| {
        let rest = &bytes[at + 7..];
        let mut i = 0;
        while i < rest.len() && (rest[i] == b' ' || rest[i] == b':' || rest[i] == b'\t') {
            i += 1;
        }
        rest.get(i) == Some(&b'{')
    })
}

/// `,"usage":null` removed (the compact form every usage-bearing stream uses on
/// the chunks before the last).
fn strip_null_usage(bytes: Bytes) -> Bytes {
    if FIND_NULL_USAGE.find(&bytes).is_none() {
        return bytes;
    }
    let mut out = Vec::with_capacity(bytes.len());
    let mut rest: &[u8] = &bytes;
    while let Some(at) = FIND_NULL_USAGE.find(rest) {
        out.extend_from_slice(&rest[..at]);
        rest = &rest[at + NULL_USAGE.len()..];
    }
    out.extend_from_slice(rest);
    Bytes::from(out)
}

/// The offset just past the last complete event (`\n\n` or `\r\n\r\n`), or 0.
fn last_event_end(buf: &[u8]) -> usize {
    let lf = RFIND_LF_END.rfind(buf).map(|i| i + 2);
    let crlf = RFIND_CRLF_END.rfind(buf).map(|i| i + 4);
    lf.max(crlf).unwrap_or(0)
}

/// The offset just past the first complete event.
fn next_event_end(buf: &[u8]) -> Option<usize> {
    let lf = FIND_LF_END.find(buf).map(|i| i + 2);
    let crlf = FIND_CRLF_END.find(buf).map(|i| i + 4);
    match (lf, crlf) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// The `data:` payload of an event (a single data line: providers write one).
fn event_data(event: &[u8]) -> Option<&[u8]> {
    event.split(|&b| b == b'\n').find_map(|line| {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let data = line.strip_prefix(b"data:")?;
        Some(data.strip_prefix(b" ").unwrap_or(data))
    })
}

/// The usage a response body or one event's JSON reports.
fn usage_in(json: &[u8]) -> Option<Usage> {
    let usage = rampart_tokens::parse_usage(json)?;
    Some(Usage {
        prompt: usage.prompt_tokens,
        cached: usage.cached_prompt_tokens.min(usage.prompt_tokens),
        completion: usage.completion_tokens,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_usage_shape() {
        let chat = br#"{"id":"x","choices":[],"usage":{"prompt_tokens":12,"completion_tokens":5,"total_tokens":17,"prompt_tokens_details":{"cached_tokens":4}}}"#;
        assert_eq!(usage_in(chat), Some(Usage { prompt: 12, cached: 4, completion: 5 }));
        let responses = br#"{"object":"response","usage":{"input_tokens":9,"output_tokens":3,"total_tokens":12}}"#;
        assert_eq!(usage_in(responses), Some(Usage { prompt: 9, cached: 0, completion: 3 }));
        let embeddings = br#"{"object":"list","data":[],"usage":{"prompt_tokens":8,"total_tokens":8}}"#;
        assert_eq!(usage_in(embeddings), Some(Usage { prompt: 8, cached: 0, completion: 0 }));
        for none in [&br#"{"usage":null}"#[..], b"{}", b"not json", br#"{"usage":{"prompt_tokens":-1}}"#] {
            assert_eq!(usage_in(none), None);
        }
        let event = br#"{"type":"response.completed","response":{"usage":{"input_tokens":2,"output_tokens":1}}}"#;
        assert_eq!(usage_in(event), Some(Usage { prompt: 2, cached: 0, completion: 1 }));
    }

    #[test]
    fn finds_usage_objects_not_nulls() {
        assert!(has_usage_object(br#"data: {"usage": {"prompt_tokens":1}}"#));
        assert!(has_usage_object(br#"data: {"usage":{"prompt_tokens":1}}"#));
        assert!(!has_usage_object(br#"data: {"usage":null}"#));
        assert!(!has_usage_object(br#"data: {"content":"usage"}"#));
        assert_eq!(&strip_null_usage(Bytes::from_static(br#"data: {"a":1,"usage":null}"#))[..], br#"data: {"a":1}"#);
    }

    #[test]
    fn event_bounds() {
        assert_eq!(last_event_end(b"data: a\n\ndata: b"), 9);
        assert_eq!(last_event_end(b"data: a"), 0);
        assert_eq!(next_event_end(b"data: a\r\n\r\ndata: b\n\n"), Some(11));
        assert_eq!(event_data(b"event: x\ndata: {}\n\n"), Some(&b"{}"[..]));
    }
}
