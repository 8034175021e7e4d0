//! The `x-mock-*` request-header controls, the endpoint-neutral [`Reply`],
//! OpenAI-shaped errors, and turning a reply into an HTTP response (chunk
//! delays, mid-stream resets, hung bodies, dropped connections).
//!
//! Controls (malformed values are ignored, as if the header were absent):
//!
//! - `x-mock-status: <4xx|5xx>`: answer that status with an OpenAI-shaped error.
//! - `x-mock-delay-ms: <n>`: wait before answering.
//! - `x-mock-chunk-delay-ms: <n>`: wait between the chunks of a streamed body.
//! - `x-mock-chunks: <n>`: stream the answer text in `n` content chunks (default
//!   4, 1 to 100 000); past the text's length one char per chunk, the text
//!   repeating. Speech audio is streamed in at most `n` chunks.
//! - `x-mock-fail: reset-mid-stream|hang-body|close`: fail on purpose.
//!
//! The answer text of chat, completions and responses (JSON and streamed alike;
//! a tool call answer is unaffected):
//!
//! - `x-mock-reply: <text>`: answer `<text>`, percent-decoded (RFC 3986 `%XX`,
//!   case-insensitive hex; `+` stays `+` and a `%` not followed by two hex digits
//!   stays as is), so a test can send newlines, quotes or any UTF-8. An empty
//!   value is an empty answer. Ignored if the raw value is over 64 KiB or the
//!   decoded bytes are not UTF-8.
//! - `x-mock-echo: user|system`: answer the text of the last message with that
//!   role (`system` also matches `developer`); a message's text is its string
//!   `content`, or the concatenation of the `text` of its `text` /
//!   `input_text` / `output_text` parts. Chat looks at `messages`; completions
//!   echo a string `prompt` for `user`; responses echo a string `input` or the
//!   last such item of the `input` array for `user`, and a string
//!   `instructions`, else the last such `input` item, for `system`. When
//!   nothing matches (or the last matching message has no text) the canned
//!   answer. `x-mock-reply` wins over `x-mock-echo`.
//! - `x-mock-split-at: 5,17,30`: stream the answer cut exactly at these byte
//!   offsets (comma-separated decimal, sorted and deduplicated here), overriding
//!   `x-mock-chunks`. Offsets that are 0, at or past the end of the text, or
//!   not on a char boundary are dropped; with none left the text is one chunk.
//!   Ignored as a whole if any item is not a decimal number, or with more than
//!   100 000 items.

use std::time::Duration;

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use futures_util::stream;
use http::header::{CACHE_CONTROL, CONTENT_TYPE};
use http::{HeaderMap, HeaderValue, StatusCode};
use serde::Serialize;
use serde_json::Value;

use crate::sse::{Streamed, Text};

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

/// Largest raw `x-mock-reply` value that is used.
pub(crate) const MAX_REPLY: usize = 64 * 1024;

/// Whose text `x-mock-echo` answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Echo {
    User,
    /// `system` and `developer` messages.
    System,
}

impl Echo {
    /// Whether a message with `role` is echoed.
    pub(crate) fn matches(self, role: &str) -> bool {
        match self {
            Echo::User => role == "user",
            Echo::System => role == "system" || role == "developer",
        }
    }
}

/// The controls a request asked for through `x-mock-*` headers.
#[derive(Clone, Debug)]
pub(crate) struct Controls {
    pub(crate) status: Option<StatusCode>,
    pub(crate) delay: Duration,
    pub(crate) chunk_delay: Duration,
    pub(crate) fail: Option<Fail>,
    /// What the text endpoints answer and how they stream it.
    pub(crate) answer: AnswerControls,
}

/// The controls of the answer text: `x-mock-reply`, `x-mock-echo`,
/// `x-mock-chunks` and `x-mock-split-at`.
#[derive(Clone, Debug)]
pub(crate) struct AnswerControls {
    pub(crate) chunks: usize,
    pub(crate) split_at: Option<Vec<usize>>,
    pub(crate) reply: Option<String>,
    pub(crate) echo: Option<Echo>,
}

impl Default for AnswerControls {
    fn default() -> Self {
        Self { chunks: DEFAULT_CHUNKS, split_at: None, reply: None, echo: None }
    }
}

impl AnswerControls {
    /// The answer text: `x-mock-reply`, else what `echoed` finds for `x-mock-echo`,
    /// else `canned`. `echoed` is only called when echoing was asked for.
    pub(crate) fn text(&mut self, canned: &'static str, echoed: impl FnOnce(Echo) -> Option<String>) -> Text {
        if let Some(reply) = self.reply.take() {
            return Text::Owned(reply);
        }
        self.echo.and_then(echoed).map_or(Text::Borrowed(canned), Text::Owned)
    }

    /// How `text` is streamed: cut at `x-mock-split-at`, else in `x-mock-chunks` chunks.
    pub(crate) fn streamed(&self, text: Text) -> Streamed {
        match &self.split_at {
            Some(offsets) => Streamed::cut_at(text, offsets),
            None => Streamed::even(text, self.chunks),
        }
    }
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
        let echo = match text("x-mock-echo") {
            Some(v) if v.eq_ignore_ascii_case("user") => Some(Echo::User),
            Some(v) if v.eq_ignore_ascii_case("system") => Some(Echo::System),
            _ => None,
        };
        Self {
            status,
            delay: Duration::from_millis(number("x-mock-delay-ms").unwrap_or(0)),
            chunk_delay: Duration::from_millis(number("x-mock-chunk-delay-ms").unwrap_or(0)),
            fail,
            answer: AnswerControls {
                chunks,
                split_at: text("x-mock-split-at").and_then(parse_offsets),
                reply: headers.get("x-mock-reply").and_then(|v| decode_reply(v.as_bytes())),
                echo,
            },
        }
    }
}

/// `x-mock-reply`: the percent-decoded value, if at most [`MAX_REPLY`] bytes
/// long and UTF-8 once decoded.
fn decode_reply(raw: &[u8]) -> Option<String> {
    if raw.len() > MAX_REPLY {
        return None;
    }
    if !raw.contains(&b'%') {
        return String::from_utf8(raw.to_vec()).ok();
    }
    let hex = |b: u8| char::from(b).to_digit(16).and_then(|d| u8::try_from(d).ok());
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while let Some(&b) = raw.get(i) {
        if b == b'%' {
            let digits = raw.get(i + 1).copied().and_then(hex).zip(raw.get(i + 2).copied().and_then(hex));
            if let Some((high, low)) = digits {
                out.push(high << 4 | low);
                i += 3;
                continue;
            }
        }
        out.push(b);
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// `x-mock-split-at`: comma-separated decimal offsets, sorted and deduplicated.
/// Any other item, or more than [`MAX_CHUNKS`] of them, and the header is ignored.
fn parse_offsets(value: &str) -> Option<Vec<usize>> {
    let mut offsets = Vec::new();
    for item in value.split(',') {
        let item = item.trim();
        if item.is_empty() || !item.bytes().all(|b| b.is_ascii_digit()) || offsets.len() == MAX_CHUNKS {
            return None;
        }
        // All digits: a number too large for usize is just past the end of any text.
        offsets.push(item.parse::<usize>().unwrap_or(usize::MAX));
    }
    offsets.sort_unstable();
    offsets.dedup();
    Some(offsets)
}

/// The text of a message's `content`: a string, or the concatenation of the
/// `text` of its text parts (`text`, `input_text`, `output_text`); `None` if it
/// has neither.
pub(crate) fn content_text(content: &Value) -> Option<String> {
    match content {
        Value::String(text) => Some(text.clone()),
        Value::Array(parts) => {
            let mut texts = parts
                .iter()
                .filter(|part| {
                    matches!(part.get("type").and_then(Value::as_str), Some("text" | "input_text" | "output_text"))
                })
                .filter_map(|part| part.get("text").and_then(Value::as_str))
                .peekable();
            texts.peek()?;
            Some(texts.collect())
        }
        _ => None,
    }
}

/// The text of the last message in `messages` whose `role` `echo` matches
/// (`None` if there is none, or it has no text).
pub(crate) fn last_message_text<'a>(
    messages: impl DoubleEndedIterator<Item = &'a Value>,
    echo: Echo,
) -> Option<String> {
    let message = messages.rev().find(|m| m.get("role").and_then(Value::as_str).is_some_and(|r| echo.matches(r)))?;
    content_text(message.get("content")?)
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn controls(pairs: &[(&str, &[u8])]) -> Controls {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            let name = http::HeaderName::from_bytes(name.as_bytes()).unwrap();
            headers.append(name, HeaderValue::from_bytes(value).unwrap());
        }
        Controls::from_headers(&headers)
    }

    fn reply(value: &[u8]) -> Option<String> {
        controls(&[("x-mock-reply", value)]).answer.reply
    }

    #[test]
    fn reply_is_percent_decoded() {
        assert_eq!(reply(b"plain text").as_deref(), Some("plain text"));
        assert_eq!(reply(b"line 1%0Aline 2%0D%0A").as_deref(), Some("line 1\nline 2\r\n"));
        assert_eq!(reply(b"%22quoted%22 %27too%27").as_deref(), Some("\"quoted\" 'too'"));
        assert_eq!(reply(b"%E4%B8%96%e7%95%8c %F0%9F%8E%89").as_deref(), Some("世界 🎉"), "either hex case");
        assert_eq!(reply(b"%2541").as_deref(), Some("%41"), "decoded once");
        assert_eq!(reply(b"a+b").as_deref(), Some("a+b"), "no form decoding");
        assert_eq!(reply(b"100% sure, %zz, %4").as_deref(), Some("100% sure, %zz, %4"), "stray % kept");
        assert_eq!(reply("raw ünïcode".as_bytes()).as_deref(), Some("raw ünïcode"), "raw UTF-8 bytes work too");
        assert_eq!(reply(b"").as_deref(), Some(""), "an empty answer");
    }

    #[test]
    fn bad_replies_are_ignored() {
        assert_eq!(reply(b"%FF"), None, "not UTF-8 once decoded");
        assert_eq!(reply(b"ok %C3"), None, "truncated UTF-8");
        assert_eq!(reply(b"\xe4\xb8"), None, "raw bytes that are not UTF-8");
        let limit = vec![b'a'; MAX_REPLY];
        assert_eq!(reply(&limit).map(|r| r.len()), Some(MAX_REPLY));
        let over = vec![b'a'; MAX_REPLY + 1];
        assert_eq!(reply(&over), None, "over 64 KiB");
        assert_eq!(controls(&[]).answer.reply, None);
    }

    #[test]
    fn echo_values() {
        let echo = |v: &str| controls(&[("x-mock-echo", v.as_bytes())]).answer.echo;
        assert_eq!(echo("user"), Some(Echo::User));
        assert_eq!(echo("System"), Some(Echo::System));
        for bad in ["assistant", "developer", "", "user,system"] {
            assert_eq!(echo(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn split_at_values() {
        let split = |v: &str| controls(&[("x-mock-split-at", v.as_bytes())]).answer.split_at;
        assert_eq!(split("5,17,30"), Some(vec![5, 17, 30]));
        assert_eq!(split("30, 5 ,17,5,0"), Some(vec![0, 5, 17, 30]), "sorted, deduplicated");
        assert_eq!(split("99999999999999999999999"), Some(vec![usize::MAX]), "past any end, dropped later");
        for bad in ["", " ", "5,,7", "5,", "a", "-1", "+3", "1.5", "5;7", "0x10"] {
            assert_eq!(split(bad), None, "{bad:?}");
        }
        let many: Vec<String> = (0..=MAX_CHUNKS).map(|i| i.to_string()).collect();
        assert_eq!(split(&many.join(",")), None, "too many offsets");
        assert_eq!(split(&many[..MAX_CHUNKS].join(",")).map(|v| v.len()), Some(MAX_CHUNKS));
    }

    #[test]
    fn text_prefers_reply_then_echo_then_canned() {
        let mut answer =
            AnswerControls { reply: Some("r".into()), echo: Some(Echo::User), ..AnswerControls::default() };
        assert_eq!(answer.text("canned", |_| Some("echoed".into())), "r");
        let mut answer = AnswerControls { echo: Some(Echo::System), ..AnswerControls::default() };
        assert_eq!(answer.text("canned", |echo| (echo == Echo::System).then(|| "echoed".into())), "echoed");
        assert_eq!(answer.text("canned", |_| None), "canned");
        let mut answer = AnswerControls::default();
        let text = answer.text("canned", |_| unreachable!("no echo asked for"));
        assert!(matches!(text, Text::Borrowed("canned")));
    }

    #[test]
    fn message_texts() {
        assert_eq!(content_text(&json!("hi")).as_deref(), Some("hi"));
        let parts = json!([
            {"type": "text", "text": "a"},
            {"type": "image_url", "image_url": {"url": "data:,"}},
            {"type": "input_text", "text": "b"},
            {"type": "refusal", "refusal": "no"},
            {"type": "output_text", "text": "c"},
        ]);
        assert_eq!(content_text(&parts).as_deref(), Some("abc"));
        assert_eq!(content_text(&json!([{"type": "image_url", "image_url": {}}])), None);
        assert_eq!(content_text(&json!(null)), None);

        let messages = json!([
            {"role": "system", "content": "sys 1"},
            {"role": "user", "content": "user 1"},
            {"role": "developer", "content": [{"type": "text", "text": "dev"}]},
            {"role": "assistant", "content": "assistant"},
            {"role": "user", "content": [{"type": "text", "text": "user "}, {"type": "text", "text": "2"}]},
            {"type": "function_call_output", "output": "x"},
        ]);
        let messages = messages.as_array().unwrap();
        assert_eq!(last_message_text(messages.iter(), Echo::User).as_deref(), Some("user 2"));
        assert_eq!(last_message_text(messages.iter(), Echo::System).as_deref(), Some("dev"));
        let no_text = json!([{"role": "user", "content": "old"}, {"role": "user", "content": null}]);
        let no_text = no_text.as_array().unwrap();
        assert_eq!(last_message_text(no_text.iter(), Echo::User), None, "the last one counts");
        assert_eq!(last_message_text(no_text.iter(), Echo::System), None);
    }
}
