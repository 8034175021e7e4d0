//! Server-sent events framing and the canned answer text: how it is split into
//! streamed chunks, and cheap token estimates.

use std::borrow::Cow;

use bytes::{BufMut, Bytes, BytesMut};
use serde::Serialize;

/// The fixed answer of chat, completions and responses.
pub(crate) const ANSWER: &str = "Hello from the rampart mock provider.";
/// The answer when JSON output was requested.
pub(crate) const JSON_ANSWER: &str = r#"{"mock": true}"#;

/// The end-of-stream marker of chat and legacy completions.
pub(crate) const DONE: Bytes = Bytes::from_static(b"data: [DONE]\n\n");

/// `data: {json}\n\n`
pub(crate) fn data<T: Serialize>(value: &T) -> Bytes {
    let mut buf = BytesMut::with_capacity(256).writer();
    buf.get_mut().put_slice(b"data: ");
    // Serializing our own values cannot fail; an empty payload would be the fallout.
    let _ = serde_json::to_writer(&mut buf, value);
    let mut buf = buf.into_inner();
    buf.put_slice(b"\n\n");
    buf.freeze()
}

/// `event: {name}\ndata: {json}\n\n`
pub(crate) fn event<T: Serialize>(name: &str, value: &T) -> Bytes {
    let mut buf = BytesMut::with_capacity(256).writer();
    buf.get_mut().put_slice(b"event: ");
    buf.get_mut().put_slice(name.as_bytes());
    buf.get_mut().put_slice(b"\ndata: ");
    let _ = serde_json::to_writer(&mut buf, value);
    let mut buf = buf.into_inner();
    buf.put_slice(b"\n\n");
    buf.freeze()
}

/// Chunk `i` of `text` streamed in `k` chunks. With `k` up to the text's
/// length the chunks concatenate to `text`; beyond it each chunk is one
/// character and the text repeats (for long-stream tests).
pub(crate) fn chunk(text: &'static str, k: usize, i: usize) -> &'static str {
    let len = text.len();
    if len == 0 {
        return "";
    }
    let (start, end) = if k <= len { (i * len / k, (i + 1) * len / k) } else { (i % len, i % len + 1) };
    text.get(start..end).unwrap_or("")
}

/// The whole text streamed in `k` chunks.
pub(crate) fn streamed_text(text: &'static str, k: usize) -> Cow<'static, str> {
    let len = text.len();
    if k <= len || len == 0 {
        return Cow::Borrowed(text);
    }
    let mut out = text.repeat(k / len);
    out.push_str(text.get(..k % len).unwrap_or(""));
    Cow::Owned(out)
}

/// Length in bytes of [`streamed_text`].
pub(crate) fn streamed_len(text: &str, k: usize) -> usize {
    if text.is_empty() { 0 } else { text.len().max(k) }
}

/// A cheap token estimate: a token per four bytes, at least one.
pub(crate) fn tokens(bytes: usize) -> u64 {
    (bytes as u64 / 4).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_concatenate_to_the_streamed_text() {
        for k in [1, 2, 4, 7, ANSWER.len(), ANSWER.len() + 5, 100] {
            let joined: String = (0..k).map(|i| chunk(ANSWER, k, i)).collect();
            assert_eq!(joined, streamed_text(ANSWER, k), "k = {k}");
            assert_eq!(joined.len(), streamed_len(ANSWER, k), "k = {k}");
            assert!((0..k).all(|i| !chunk(ANSWER, k, i).is_empty()));
        }
    }
}
