//! Putting original values back: whole-text restoration ([`Vault::restore`],
//! [`Vault::restore_bytes`]) and the incremental [`Restorer`] for streamed text split
//! at arbitrary byte boundaries. Both replace exactly the restorable `[LABEL_N]`
//! placeholders of one vault, in one left-to-right pass, and never look into the
//! values they insert.

use std::borrow::Cow;
use std::fmt;
use std::ops::{Deref, Range};

use memchr::memchr;

use super::Vault;
use super::label::{MAX_TOKEN_LEN, is_token_byte};

/// Restorable placeholders in a text, left to right: (start, end, value).
struct Placeholders<'v, 'b> {
    vault: &'v Vault,
    bytes: &'b [u8],
    pos: usize,
    limit: usize,
}

impl<'v> Iterator for Placeholders<'v, '_> {
    type Item = (usize, usize, &'v str);

    fn next(&mut self) -> Option<Self::Item> {
        if self.limit == 0 {
            return None;
        }
        loop {
            let open = self.pos + memchr(b'[', self.bytes.get(self.pos..)?)?;
            let body = self.bytes.get(open + 1..).unwrap_or_default();
            // The run of body bytes, looked at no further than one past the limit.
            let run = body.iter().take(self.limit + 1).take_while(|&&b| is_token_byte(b)).count();
            if run <= self.limit && body.get(run) == Some(&b']') {
                if let Some(value) = body.get(..run).and_then(|t| self.vault.resolve(t)) {
                    self.pos = open + run + 2;
                    return Some((open, self.pos, value));
                }
            }
            // The run holds no `[`, so no placeholder can start inside it.
            self.pos = open + 1 + run;
        }
    }
}

impl Vault {
    fn placeholders<'b>(&self, bytes: &'b [u8]) -> Placeholders<'_, 'b> {
        Placeholders { vault: self, bytes, pos: 0, limit: self.max_token() }
    }

    /// `text` with every restorable placeholder of this vault replaced by its original
    /// value. Only the exact form `[LABEL_N]` restores; unknown placeholders (an
    /// unused number, a label the vault never issued, a variant the model made up) and
    /// redacted ones stay as they are. Borrows `text` when nothing was replaced.
    pub fn restore<'t>(&self, text: &'t str) -> Cow<'t, str> {
        let mut found = self.placeholders(text.as_bytes());
        let Some(first) = found.next() else {
            return Cow::Borrowed(text);
        };
        let mut out = String::with_capacity(text.len() + 64);
        let mut last = 0;
        for (start, end, value) in std::iter::once(first).chain(found) {
            // Placeholder edges are ASCII brackets, hence char boundaries.
            out.push_str(text.get(last..start).unwrap_or_default());
            out.push_str(value);
            last = end;
        }
        out.push_str(text.get(last..).unwrap_or_default());
        Cow::Owned(out)
    }

    /// [`Vault::restore`] over bytes that need not be UTF-8.
    pub fn restore_bytes<'t>(&self, bytes: &'t [u8]) -> Cow<'t, [u8]> {
        let mut found = self.placeholders(bytes);
        let Some(first) = found.next() else {
            return Cow::Borrowed(bytes);
        };
        let mut out = Vec::with_capacity(bytes.len() + 64);
        let mut last = 0;
        for (start, end, value) in std::iter::once(first).chain(found) {
            out.extend_from_slice(bytes.get(last..start).unwrap_or_default());
            out.extend_from_slice(value.as_bytes());
            last = end;
        }
        out.extend_from_slice(bytes.get(last..).unwrap_or_default());
        Cow::Owned(out)
    }
}

/// Incremental restoration of a stream (one SSE choice, one text field): feed chunks
/// split anywhere, even inside a UTF-8 character or a placeholder, and get back the
/// bytes that are safe to emit now. The concatenated output equals
/// [`Vault::restore`] of the concatenated input, for every split.
///
/// Holds back only a suffix that may still become a restorable placeholder: a `[`
/// followed by placeholder characters, at most as long as the vault's longest
/// restorable placeholder (never more than 37 bytes), kept in a fixed buffer inside
/// the restorer. Each input byte is looked at a bounded number of times, so a stream
/// costs linear time; nothing is allocated beyond the caller's output buffer.
/// `V` is `&Vault`, `Arc<Vault>` or anything else that derefs to a vault.
pub struct Restorer<V: Deref<Target = Vault>> {
    vault: V,
    /// `[` then the placeholder characters seen since; `held[..held_len]` is pending.
    held: [u8; MAX_TOKEN_LEN + 1],
    held_len: usize,
}

impl<V: Deref<Target = Vault>> fmt::Debug for Restorer<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Restorer").field("pending", &self.held_len).finish_non_exhaustive()
    }
}

/// Where the restorer writes: slices of the current chunk, held-back ASCII, values.
trait Sink {
    fn input(&mut self, range: Range<usize>);
    fn held(&mut self, ascii: &[u8]);
    fn value(&mut self, value: &str);
}

struct BytesSink<'a> {
    chunk: &'a [u8],
    out: &'a mut Vec<u8>,
}

impl Sink for BytesSink<'_> {
    fn input(&mut self, range: Range<usize>) {
        self.out.extend_from_slice(self.chunk.get(range).unwrap_or_default());
    }
    fn held(&mut self, ascii: &[u8]) {
        self.out.extend_from_slice(ascii);
    }
    fn value(&mut self, value: &str) {
        self.out.extend_from_slice(value.as_bytes());
    }
}

struct StrSink<'a> {
    chunk: &'a str,
    out: &'a mut String,
}

impl Sink for StrSink<'_> {
    fn input(&mut self, range: Range<usize>) {
        // Ranges start and end at the chunk's ends or next to an ASCII byte.
        self.out.push_str(self.chunk.get(range).unwrap_or_default());
    }
    fn held(&mut self, ascii: &[u8]) {
        self.out.extend(ascii.iter().map(|&b| char::from(b)));
    }
    fn value(&mut self, value: &str) {
        self.out.push_str(value);
    }
}

impl<V: Deref<Target = Vault>> Restorer<V> {
    /// A restorer with nothing pending.
    pub fn new(vault: V) -> Self {
        Self { vault, held: [0; MAX_TOKEN_LEN + 1], held_len: 0 }
    }

    /// The vault this restorer reads.
    pub fn vault(&self) -> &Vault {
        &self.vault
    }

    /// Bytes held back, waiting for the next chunk or [`Restorer::finish`].
    pub fn pending(&self) -> usize {
        self.held_len
    }

    /// Restores `chunk` (the next bytes of the stream) and appends what is safe to
    /// emit to `out`. The appended bytes may end inside a UTF-8 character when the
    /// input did.
    pub fn feed(&mut self, chunk: &[u8], out: &mut Vec<u8>) {
        self.run(chunk, &mut BytesSink { chunk, out });
    }

    /// [`Restorer::feed`] for text chunks: what is appended is always whole
    /// characters, because only ASCII is ever held back.
    pub fn feed_str(&mut self, chunk: &str, out: &mut String) {
        self.run(chunk.as_bytes(), &mut StrSink { chunk, out });
    }

    /// Ends the stream: appends whatever was held back, unchanged. The restorer can
    /// then start a new stream.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        self.flush(&mut BytesSink { chunk: &[], out });
    }

    /// [`Restorer::finish`] for text output.
    pub fn finish_str(&mut self, out: &mut String) {
        self.flush(&mut StrSink { chunk: "", out });
    }

    fn flush<S: Sink>(&mut self, sink: &mut S) {
        sink.held(self.held.get(..self.held_len).unwrap_or_default());
        self.held_len = 0;
    }

    fn run<S: Sink>(&mut self, chunk: &[u8], sink: &mut S) {
        let limit = self.vault.max_token().min(MAX_TOKEN_LEN);
        let mut at = 0;
        if self.held_len > 0 {
            at = self.candidate(chunk, 0, limit, sink);
            if self.held_len > 0 {
                return;
            }
        }
        if limit == 0 {
            sink.input(at..chunk.len());
            return;
        }
        loop {
            let Some(off) = chunk.get(at..).and_then(|rest| memchr(b'[', rest)) else {
                if at < chunk.len() {
                    sink.input(at..chunk.len());
                }
                return;
            };
            let open = at + off;
            if off > 0 {
                sink.input(at..open);
            }
            self.held[0] = b'[';
            self.held_len = 1;
            at = self.candidate(chunk, open + 1, limit, sink);
            if self.held_len > 0 {
                return;
            }
        }
    }

    /// Extends the held candidate with `chunk[from..]` until it resolves (restored or
    /// flushed unchanged) or the chunk ends; returns where plain text resumes.
    fn candidate<S: Sink>(&mut self, chunk: &[u8], from: usize, limit: usize, sink: &mut S) -> usize {
        let mut at = from;
        while let Some(&b) = chunk.get(at) {
            if is_token_byte(b) && self.held_len <= limit {
                if let Some(slot) = self.held.get_mut(self.held_len) {
                    *slot = b;
                    self.held_len += 1;
                    at += 1;
                    continue;
                }
            } else if b == b']' {
                let token = self.held.get(1..self.held_len).unwrap_or_default();
                if let Some(value) = self.vault.resolve(token) {
                    sink.value(value);
                    self.held_len = 0;
                    return at + 1;
                }
            }
            // Not a restorable placeholder: `b` (maybe a new `[`) is plain text again.
            self.flush(sink);
            return at;
        }
        at
    }
}
