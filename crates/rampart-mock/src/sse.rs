//! Server-sent events framing and the answer text: the canned answers, how a
//! text is cut into streamed chunks (`x-mock-chunks` evenly, `x-mock-split-at`
//! at given byte offsets), and cheap token estimates.

use std::borrow::Cow;
use std::iter;

use bytes::{BufMut, Bytes, BytesMut};
use serde::Serialize;

/// The fixed answer of chat, completions and responses.
pub(crate) const ANSWER: &str = "Hello from the rampart mock provider.";
/// The answer when JSON output was requested.
pub(crate) const JSON_ANSWER: &str = r#"{"mock": true}"#;

/// The end-of-stream marker of chat and legacy completions.
pub(crate) const DONE: Bytes = Bytes::from_static(b"data: [DONE]\n\n");

/// An answer text: one of the canned answers (borrowed, no allocation) or one
/// asked for by `x-mock-reply` / `x-mock-echo`.
pub(crate) type Text = Cow<'static, str>;

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

/// Chunk `i` of the ASCII `text` streamed in `k` chunks. With `k` up to the
/// text's length the chunks concatenate to `text`; beyond it each chunk is one
/// byte and the text repeats (for long-stream tests).
pub(crate) fn chunk(text: &str, k: usize, i: usize) -> &str {
    let len = text.len();
    if len == 0 || k == 0 {
        return "";
    }
    let (start, end) = if k <= len { (i * len / k, (i + 1) * len / k) } else { (i % len, i % len + 1) };
    text.get(start..end).unwrap_or("")
}

/// An answer text and where a stream cuts it into content chunks.
pub(crate) struct Streamed {
    text: Text,
    cuts: Cuts,
}

enum Cuts {
    /// ASCII text in `k` chunks by [`chunk`]: plain arithmetic, nothing allocated
    /// (the canned answers take this path).
    Even(usize),
    /// Chunk `i` is `text[bounds[i]..bounds[i + 1]]`; `bounds` starts at 0, ends
    /// at the text's length and lies on char boundaries.
    Bounds(Vec<usize>),
    /// `k` chunks of one char each, cycling through the text (more chunks than
    /// chars asked for a non-ASCII text); `starts` holds each char's offset,
    /// then the text's length.
    Cycle { starts: Vec<usize>, k: usize },
}

impl Streamed {
    /// `text` in `k` (at least one) chunks of about equal length: bytes for an
    /// ASCII text, chars otherwise, so every chunk is valid UTF-8 and none is
    /// empty while `k` is at most the text's length in chars. Beyond that each
    /// chunk is one char and the text repeats, as [`chunk`] does.
    pub(crate) fn even(text: Text, k: usize) -> Self {
        let k = k.max(1);
        if text.is_ascii() {
            return Self { text, cuts: Cuts::Even(k) };
        }
        let len = text.len();
        let n = text.chars().count();
        let starts = text.char_indices().map(|(at, _)| at).chain(iter::once(len));
        let cuts = if k <= n {
            // Cut before chars i * n / k for i in 0..=k: strictly increasing since k <= n.
            let mut bounds = Vec::with_capacity(k + 1);
            let mut next = 0;
            for (index, at) in starts.enumerate() {
                if next <= k && next * n / k == index {
                    bounds.push(at);
                    next += 1;
                }
            }
            Cuts::Bounds(bounds)
        } else {
            Cuts::Cycle { starts: starts.collect(), k }
        };
        Self { text, cuts }
    }

    /// `text` cut exactly at `offsets` (ascending, deduplicated); offsets that are
    /// 0, at or beyond the end, or inside a char are ignored. No offset left: one chunk.
    pub(crate) fn cut_at(text: Text, offsets: &[usize]) -> Self {
        let len = text.len();
        let inner = offsets.iter().copied().filter(|&at| at > 0 && at < len && text.is_char_boundary(at));
        let bounds = iter::once(0).chain(inner).chain(iter::once(len)).collect();
        Self { text, cuts: Cuts::Bounds(bounds) }
    }

    /// The number of content chunks.
    pub(crate) fn count(&self) -> usize {
        match &self.cuts {
            Cuts::Even(k) | Cuts::Cycle { k, .. } => *k,
            Cuts::Bounds(bounds) => bounds.len().saturating_sub(1),
        }
    }

    /// Content chunk `i` (empty past the last one).
    pub(crate) fn chunk(&self, i: usize) -> &str {
        let span = match &self.cuts {
            Cuts::Even(k) if i < *k => return chunk(&self.text, *k, i),
            Cuts::Bounds(bounds) => bounds.get(i).zip(bounds.get(i + 1)),
            Cuts::Cycle { starts, k } if i < *k => {
                let j = i % (starts.len() - 1);
                starts.get(j).zip(starts.get(j + 1))
            }
            Cuts::Even(_) | Cuts::Cycle { .. } => None,
        };
        span.and_then(|(&start, &end)| self.text.get(start..end)).unwrap_or("")
    }

    /// All chunks concatenated: the text, or more when it repeats.
    pub(crate) fn full(&self) -> Cow<'_, str> {
        let text: &str = &self.text;
        let len = text.len();
        match &self.cuts {
            Cuts::Even(k) if *k > len && len > 0 => {
                let mut out = text.repeat(k / len);
                out.push_str(text.get(..k % len).unwrap_or(""));
                Cow::Owned(out)
            }
            Cuts::Cycle { starts, k } => {
                let n = starts.len() - 1;
                let mut out = text.repeat(k / n);
                out.push_str(starts.get(k % n).and_then(|&end| text.get(..end)).unwrap_or(""));
                Cow::Owned(out)
            }
            _ => Cow::Borrowed(text),
        }
    }

    /// Length in bytes of [`Streamed::full`], without building it.
    pub(crate) fn full_len(&self) -> usize {
        let len = self.text.len();
        match &self.cuts {
            Cuts::Even(k) if len > 0 => len.max(*k),
            Cuts::Cycle { starts, k } => {
                let n = starts.len() - 1;
                len * (k / n) + starts.get(k % n).copied().unwrap_or(0)
            }
            _ => len,
        }
    }
}

/// A cheap token estimate: a token per four bytes, at least one.
pub(crate) fn tokens(bytes: usize) -> u64 {
    (bytes as u64 / 4).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIXED: &str = "Grüße, 世界!\n\"ok\" 🎉";

    /// The chunks of `s`, checking that they are consistent with `full`/`full_len`.
    fn chunks(s: &Streamed) -> Vec<&str> {
        let parts: Vec<&str> = (0..s.count()).map(|i| s.chunk(i)).collect();
        assert_eq!(parts.concat(), s.full(), "chunks concatenate to the streamed text");
        assert_eq!(s.full().len(), s.full_len());
        assert_eq!(s.chunk(s.count()), "", "nothing past the last chunk");
        parts
    }

    #[test]
    fn chunks_concatenate_to_the_streamed_text() {
        for k in [1, 2, 4, 7, ANSWER.len(), ANSWER.len() + 5, 100] {
            let streamed = Streamed::even(Text::Borrowed(ANSWER), k);
            assert!(matches!(streamed.cuts, Cuts::Even(_)), "the canned answer allocates nothing");
            let parts = chunks(&streamed);
            assert_eq!(parts.len(), k);
            assert!(parts.iter().all(|p| !p.is_empty()));
            if k <= ANSWER.len() {
                assert_eq!(streamed.full(), ANSWER);
                assert!(matches!(streamed.full(), Cow::Borrowed(_)));
            } else {
                assert_eq!(streamed.full_len(), k);
                assert!(streamed.full().starts_with(ANSWER));
            }
        }
        assert_eq!(chunk("{}", 2, 0), "{");
        assert_eq!(chunk("{}", 2, 1), "}");
    }

    #[test]
    fn even_chunks_of_non_ascii_text_stay_on_char_boundaries() {
        let n = MIXED.chars().count();
        for k in 1..=n + 7 {
            let streamed = Streamed::even(Text::Borrowed(MIXED), k);
            let parts = chunks(&streamed);
            assert_eq!(parts.len(), k);
            assert!(parts.iter().all(|p| !p.is_empty()), "k = {k}");
            if k <= n {
                assert_eq!(streamed.full(), MIXED, "k = {k}");
            } else {
                assert!(parts.iter().all(|p| p.chars().count() == 1), "one char each, k = {k}");
                let expected: String = MIXED.chars().cycle().take(k).collect();
                assert_eq!(streamed.full(), expected, "k = {k}");
            }
        }
    }

    #[test]
    fn empty_text_streams_empty_chunks() {
        for streamed in [Streamed::even(Text::Borrowed(""), 3), Streamed::cut_at(Text::Borrowed(""), &[0, 1])] {
            let parts = chunks(&streamed);
            assert!(parts.iter().all(|p| p.is_empty()));
            assert_eq!(streamed.full_len(), 0);
        }
    }

    #[test]
    fn cut_at_puts_boundaries_exactly_where_asked() {
        let text = Text::Owned(MIXED.to_owned());
        let boundaries: Vec<usize> = (1..MIXED.len()).filter(|&at| MIXED.is_char_boundary(at)).collect();
        // One cut at every possible position.
        for &at in &boundaries {
            let streamed = Streamed::cut_at(text.clone(), &[at]);
            assert_eq!(chunks(&streamed), [&MIXED[..at], &MIXED[at..]]);
        }
        // Cuts at all of them: one chunk per char.
        let streamed = Streamed::cut_at(text.clone(), &boundaries);
        let expected: Vec<String> = MIXED.chars().map(String::from).collect();
        assert_eq!(chunks(&streamed), expected);
        // Three cuts, four chunks.
        let streamed = Streamed::cut_at(Text::Borrowed(ANSWER), &[5, 17, 30]);
        assert_eq!(chunks(&streamed), ["Hello", " from the ra", "mpart mock pr", "ovider."]);
    }

    #[test]
    fn cut_at_ignores_offsets_it_cannot_use() {
        // 0, the end, past the end, inside "ü" (bytes 2..4), "ß" (4..6) or "🎉" are no cuts.
        let inside_emoji = MIXED.len() - 2;
        let offsets = [0, 3, 5, 6, inside_emoji, MIXED.len(), MIXED.len() + 1, usize::MAX];
        let streamed = Streamed::cut_at(Text::Borrowed(MIXED), &offsets);
        assert_eq!(chunks(&streamed), [&MIXED[..6], &MIXED[6..]]);
        for offsets in [&[][..], &[0][..], &[3, 1000][..]] {
            let streamed = Streamed::cut_at(Text::Borrowed(MIXED), offsets);
            assert_eq!(chunks(&streamed), [MIXED], "{offsets:?}: the whole text in one chunk");
        }
    }

    #[test]
    fn tokens_estimate() {
        assert_eq!(tokens(0), 1);
        assert_eq!(tokens(7), 1);
        assert_eq!(tokens(ANSWER.len()), 9);
    }
}
