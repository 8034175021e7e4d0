//! Text normalization for detection, computed once per text.
//!
//! [`normalize`] turns a text into a set of [`View`]s that detectors match against
//! instead of (or as well as) the original, each with an [`OffsetMap`] back to byte
//! ranges of the original, so a finding in any view can be reported (and redacted) in
//! the text the caller actually has:
//!
//! - [`ViewKind::Canonical`] (always present): NFKC; zero-width, bidi, format and other
//!   invisible characters and non-whitespace controls removed; Unicode tag characters
//!   (U+E0020..U+E007E, "ASCII smuggling") decoded in place and set off by spaces;
//!   whitespace runs collapsed to one space; lowercased.
//! - [`ViewKind::Skeleton`]: the canonical view with accents stripped, confusables
//!   (Cyrillic, Greek, Armenian, small capitals, typographic punctuation) folded to
//!   ASCII and leetspeak folded (`1gn0r3 pr3v10u$` → `ignore previous`); digits and
//!   `@ $ ! |` are only folded inside tokens that contain a letter. Only produced when
//!   it differs from the canonical view.
//! - [`ViewKind::Decoded`]: embedded base64 (standard or URL-safe), hex and
//!   percent-encoded segments of the original that decode to plausible text, and
//!   rot13 passages of the canonical view (recognised by decoding to common English
//!   words). All segments of one encoding and depth form one view, canonicalized and
//!   separated by `\n`; every byte of a decoded segment maps to the whole encoded
//!   segment. Decoded segments are scanned again up to [`Limits::max_depth`].
//!
//! Cost is linear in the input (about 2 ns per byte of English text, see
//! `benches/normalize.rs`): ASCII is classified 8 bytes at a time (`swar`), runs of
//! plain text are copied in bulk with one offset segment per run, per-char Unicode
//! properties of non-ASCII text are cached per 256-char block (`chars`), the skeleton
//! and rot13 passes only look at the tokens that can change, and base64 runs too short
//! to decode are skipped without reading all their bytes. Each original byte is
//! examined a bounded number of times, combining-mark runs are normalized in bounded chunks, and the total decoded
//! output is capped by [`Limits`]. Known approximations: NFKC is applied per starter
//! and its combining marks, so compositions across starters (conjoining jamo, a mark
//! following an ASCII letter) are not performed; encodings are found in the original,
//! so a base64 segment broken up by invisible characters is not decoded.

mod canonical;
mod chars;
mod decode;
mod offset;
mod skeleton;
mod swar;
#[cfg(test)]
mod tests;

use std::ops::Range;

pub use offset::OffsetMap;

use offset::{Base, ViewBuilder};

/// An encoding whose embedded segments are decoded into their own views.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Encoding {
    /// Base64, standard or URL-safe alphabet, padding optional.
    Base64,
    /// Contiguous hex digits, an even number of them.
    Hex,
    /// Percent-encoding (`%XX`).
    Url,
    /// rot13.
    Rot13,
}

/// What a view is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ViewKind {
    /// NFKC, invisibles removed, tags decoded, whitespace collapsed, lowercased.
    Canonical,
    /// Canonical with confusables, accents and leetspeak folded to ASCII.
    Skeleton,
    /// Decoded segments of one encoding; `depth` 1 for segments found in the original
    /// (rot13: in the canonical view), 2 for segments found inside those, etc.
    Decoded {
        /// The encoding.
        encoding: Encoding,
        /// Nesting depth, from 1.
        depth: u8,
    },
}

/// One normalized view of a text.
#[derive(Debug, Clone)]
pub struct View {
    /// What the view is.
    pub kind: ViewKind,
    /// The view's text.
    pub text: String,
    map: OffsetMap,
}

impl View {
    /// The original byte range covering `range` of [`Self::text`]; on original char
    /// boundaries when `range` is on view char boundaries.
    pub fn to_original(&self, range: Range<usize>) -> Range<usize> {
        self.map.to_original(range)
    }

    /// The view's offset map.
    pub fn map(&self) -> &OffsetMap {
        &self.map
    }
}

/// Bounds on normalization work.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Maximum nesting of decoded segments (1: only segments found in the original).
    pub max_depth: u8,
    /// Cap on total decoded bytes across all decoded views.
    pub max_decoded_bytes: usize,
    /// Cap on total decoded bytes as a multiple of the input length.
    pub max_decoded_ratio: usize,
    /// Minimum length of a base64 run considered.
    pub min_base64_len: usize,
    /// Minimum length of a hex run considered.
    pub min_hex_len: usize,
    /// Minimum number of chars a decoded segment must have.
    pub min_decoded_chars: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_depth: 2,
            max_decoded_bytes: 1 << 20,
            max_decoded_ratio: 2,
            min_base64_len: 16,
            min_hex_len: 16,
            min_decoded_chars: 4,
        }
    }
}

/// A text and its views.
#[derive(Debug, Clone)]
pub struct Normalized<'a> {
    /// The text the views were computed from.
    pub original: &'a str,
    views: Vec<View>,
    segments: Vec<String>,
}

impl<'a> Normalized<'a> {
    /// All views: canonical first, then skeleton (if different), then decoded views by
    /// depth. No two views have the same text.
    pub fn views(&self) -> &[View] {
        &self.views
    }

    /// The canonical view (always present).
    pub fn canonical(&self) -> &View {
        &self.views[0]
    }

    /// The view of `kind`, if produced.
    pub fn view(&self, kind: ViewKind) -> Option<&View> {
        self.views.iter().find(|v| v.kind == kind)
    }

    /// The decoded views.
    pub fn decoded(&self) -> impl Iterator<Item = &View> {
        self.views.iter().filter(|v| matches!(v.kind, ViewKind::Decoded { .. }))
    }

    /// Every decoded segment as decoded, before canonicalization (case and
    /// whitespace preserved), in the order found, all depths.
    pub fn decoded_segments(&self) -> &[String] {
        &self.segments
    }

    /// The original text covering `range` of `view` (see [`View::to_original`]).
    pub fn original_of(&self, view: &View, range: Range<usize>) -> &'a str {
        let r = view.to_original(range);
        self.original.get(r).unwrap_or("")
    }
}

/// Normalizes `text` into its views.
pub fn normalize<'a>(text: &'a str, limits: &Limits) -> Normalized<'a> {
    let mut canon = ViewBuilder::with_capacity(text.len());
    canonical::canonicalize(text, &Base::Identity(0), &mut canon);
    let (ctext, cmap) = canon.finish();
    let mut views = vec![View { kind: ViewKind::Canonical, text: ctext, map: cmap }];

    if let Some((stext, smap)) = skeleton::skeleton(&views[0].text, &views[0].map) {
        push_view(&mut views, ViewKind::Skeleton, stext, smap);
    }

    let mut budget = limits.max_decoded_bytes.min(text.len().saturating_mul(limits.max_decoded_ratio));
    let mut scan = decode::Scan {
        min_base64_len: limits.min_base64_len.max(4),
        min_hex_len: limits.min_hex_len.max(2),
        min_chars: limits.min_decoded_chars.max(1),
        budget: &mut budget,
    };
    let rot13_depth1 = decode::rot13_spans(&views[0].text);
    if !rot13_depth1.is_empty() {
        let mut b = ViewBuilder::default();
        decode::push_rot13(&views[0].text, &views[0].map, &rot13_depth1, &mut b);
        let (t, m) = b.finish();
        push_view(&mut views, ViewKind::Decoded { encoding: Encoding::Rot13, depth: 1 }, t, m);
    }

    // Segments to scan at the current depth: (decoded text, original range); the
    // original itself at depth 1.
    let mut pending: Vec<decode::Piece> = Vec::new();
    let mut segments = Vec::new();
    for depth in 1..=limits.max_depth {
        let (mut b64, mut hex, mut url) = (Vec::new(), Vec::new(), Vec::new());
        if depth == 1 {
            scan.base64_hex(text, &Base::Identity(0), &mut b64, &mut hex);
            scan.url(text, &Base::Identity(0), &mut url);
        } else {
            for p in &pending {
                let base = Base::Atomic(p.orig.clone());
                scan.base64_hex(&p.text, &base, &mut b64, &mut hex);
                scan.url(&p.text, &base, &mut url);
            }
        }
        let mut next = Vec::new();
        let mut rot13 = ViewBuilder::default();
        for (encoding, pieces) in [(Encoding::Base64, b64), (Encoding::Hex, hex), (Encoding::Url, url)] {
            if pieces.is_empty() {
                continue;
            }
            let mut b = ViewBuilder::default();
            for p in &pieces {
                if b.len() > 0 {
                    b.push_atomic("\n", p.orig.clone());
                }
                canonical::canonicalize(&p.text, &Base::Atomic(p.orig.clone()), &mut b);
            }
            let (t, m) = b.finish();
            if depth < limits.max_depth {
                let spans = decode::rot13_spans(&t);
                decode::push_rot13(&t, &m, &spans, &mut rot13);
            }
            push_view(&mut views, ViewKind::Decoded { encoding, depth }, t, m);
            segments.extend(pieces.iter().map(|p| p.text.clone()));
            next.extend(pieces);
        }
        let (rt, rm) = std::mem::take(&mut rot13).finish();
        push_view(&mut views, ViewKind::Decoded { encoding: Encoding::Rot13, depth: depth + 1 }, rt, rm);
        if next.is_empty() {
            break;
        }
        pending = next;
    }

    views[1..].sort_by_key(|v| match v.kind {
        ViewKind::Canonical => (0, 0, Encoding::Base64),
        ViewKind::Skeleton => (1, 0, Encoding::Base64),
        ViewKind::Decoded { encoding, depth } => (2, depth, encoding),
    });
    Normalized { original: text, views, segments }
}

/// Adds a view unless it is empty or another view already has the same text.
fn push_view(views: &mut Vec<View>, kind: ViewKind, text: String, map: OffsetMap) {
    if text.is_empty() || views.iter().any(|v| v.text == text) {
        return;
    }
    views.push(View { kind, text, map });
}
