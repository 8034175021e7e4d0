//! Offset maps from a view's bytes back to the original text.
//!
//! A map is a list of segments, contiguous in the view. A *linear* segment maps view
//! bytes one to one onto original bytes (copied or same-length-transformed text); an
//! *atomic* segment maps its whole view range onto one original range (a normalized
//! character, a collapsed whitespace run, a decoded segment). Consecutive linear
//! segments that are contiguous in both texts are merged, so an unchanged ASCII text
//! is one segment. Lookup is a binary search.

use std::ops::Range;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Seg {
    view_start: usize,
    orig_start: usize,
    orig_end: usize,
    linear: bool,
}

/// Maps byte ranges of a view's text to byte ranges of the original text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OffsetMap {
    segs: Vec<Seg>,
    view_len: usize,
}

impl OffsetMap {
    /// The smallest original byte range covering view bytes `range` (clamped to the
    /// view). For a range on view char boundaries the result is on original char
    /// boundaries. An empty range maps to an empty range at the mapped position.
    pub fn to_original(&self, range: Range<usize>) -> Range<usize> {
        let end = range.end.min(self.view_len);
        let start = range.start.min(end);
        if self.segs.is_empty() {
            return 0..0;
        }
        let s = self.map_start(start);
        if end == start {
            return s..s;
        }
        let e = self.map_end(end);
        s.min(e)..s.max(e)
    }

    /// Number of segments (a measure of the map's size).
    pub fn segments(&self) -> usize {
        self.segs.len()
    }

    fn seg_index(&self, pos: usize) -> usize {
        self.segs.partition_point(|s| s.view_start <= pos).saturating_sub(1)
    }

    fn view_end(&self, i: usize) -> usize {
        self.segs.get(i + 1).map_or(self.view_len, |s| s.view_start)
    }

    fn map_start(&self, pos: usize) -> usize {
        if pos >= self.view_len {
            return self.segs.last().map_or(0, |s| s.orig_end);
        }
        let seg = &self.segs[self.seg_index(pos)];
        if seg.linear { seg.orig_start + (pos - seg.view_start) } else { seg.orig_start }
    }

    /// `end` > 0: maps an exclusive end position.
    fn map_end(&self, end: usize) -> usize {
        let seg = &self.segs[self.seg_index(end - 1)];
        if seg.linear { seg.orig_start + (end - seg.view_start) } else { seg.orig_end }
    }

    /// Like [`Self::to_original`] for monotonically increasing ranges; `hint` carries
    /// the segment index between calls so a full pass is linear.
    pub(crate) fn to_original_seq(&self, hint: &mut usize, range: Range<usize>) -> Range<usize> {
        if self.segs.is_empty() || range.start >= range.end {
            return self.to_original(range);
        }
        while *hint + 1 < self.segs.len() && self.segs[*hint + 1].view_start <= range.start {
            *hint += 1;
        }
        let i = *hint;
        let seg = self.segs[i];
        if range.end <= self.view_end(i) {
            if seg.linear {
                let s = seg.orig_start + (range.start - seg.view_start);
                s..s + range.len()
            } else {
                seg.orig_start..seg.orig_end
            }
        } else {
            self.to_original(range)
        }
    }
}

/// Builds a view's text and its map together.
#[derive(Debug, Default)]
pub(crate) struct ViewBuilder {
    pub(crate) text: String,
    segs: Vec<Seg>,
}

impl ViewBuilder {
    pub(crate) fn with_capacity(n: usize) -> Self {
        Self { text: String::with_capacity(n), segs: Vec::new() }
    }

    pub(crate) fn len(&self) -> usize {
        self.text.len()
    }

    pub(crate) fn last_char(&self) -> Option<char> {
        self.text.chars().next_back()
    }

    /// Appends `s`, whose bytes correspond one to one to original bytes from `orig_start`.
    pub(crate) fn push_linear(&mut self, s: &str, orig_start: usize) {
        if s.is_empty() {
            return;
        }
        let view_start = self.text.len();
        self.text.push_str(s);
        if let Some(last) = self.segs.last_mut()
            && last.linear
            && last.orig_end == orig_start
        {
            last.orig_end += s.len();
            return;
        }
        self.segs.push(Seg { view_start, orig_start, orig_end: orig_start + s.len(), linear: true });
    }

    /// Appends `s`, all of which corresponds to original range `orig`.
    pub(crate) fn push_atomic(&mut self, s: &str, orig: Range<usize>) {
        if s.is_empty() {
            return;
        }
        let view_start = self.text.len();
        self.text.push_str(s);
        if let Some(last) = self.segs.last()
            && !last.linear
            && last.orig_start == orig.start
            && last.orig_end == orig.end
        {
            return;
        }
        self.segs.push(Seg { view_start, orig_start: orig.start, orig_end: orig.end, linear: false });
    }

    /// Appends `s` (same byte length as `src_range`, e.g. a rot13 of it) mapped the way
    /// `src` maps `src_range`.
    pub(crate) fn push_mapped(&mut self, s: &str, src: &OffsetMap, src_range: Range<usize>) {
        debug_assert_eq!(s.len(), src_range.len());
        if s.is_empty() || src.segs.is_empty() {
            return;
        }
        let base = self.text.len();
        let mut i = src.seg_index(src_range.start);
        let mut pos = src_range.start;
        while pos < src_range.end && i < src.segs.len() {
            let seg = src.segs[i];
            let seg_end = src.view_end(i).min(src_range.end);
            let piece = &s[pos - src_range.start..seg_end - src_range.start];
            // Keep `self.text` in sync: push each piece through the normal paths.
            debug_assert_eq!(self.text.len(), base + (pos - src_range.start));
            if seg.linear {
                self.push_linear(piece, seg.orig_start + (pos - seg.view_start));
            } else {
                self.push_atomic(piece, seg.orig_start..seg.orig_end);
            }
            pos = seg_end;
            i += 1;
        }
    }

    pub(crate) fn finish(self) -> (String, OffsetMap) {
        let view_len = self.text.len();
        (self.text, OffsetMap { segs: self.segs, view_len })
    }
}

/// Where text being emitted comes from: the original itself (at an offset), or a
/// decoded segment that maps as a whole to one original range.
#[derive(Debug, Clone)]
pub(crate) enum Base {
    Identity(usize),
    Atomic(Range<usize>),
}

impl Base {
    pub(crate) fn linear(&self, b: &mut ViewBuilder, s: &str, local_start: usize) {
        match self {
            Base::Identity(off) => b.push_linear(s, off + local_start),
            Base::Atomic(r) => b.push_atomic(s, r.clone()),
        }
    }

    pub(crate) fn atomic(&self, b: &mut ViewBuilder, s: &str, local: Range<usize>) {
        match self {
            Base::Identity(off) => b.push_atomic(s, off + local.start..off + local.end),
            Base::Atomic(r) => b.push_atomic(s, r.clone()),
        }
    }

    pub(crate) fn range(&self, local: Range<usize>) -> Range<usize> {
        match self {
            Base::Identity(off) => off + local.start..off + local.end,
            Base::Atomic(r) => r.clone(),
        }
    }
}
