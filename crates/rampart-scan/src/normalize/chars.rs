//! Per-char properties that the canonical and skeleton views ask of every non-ASCII
//! char, cached per 256-char block of the Basic Multilingual Plane. A block is
//! computed on first use (a few microseconds, once per process) from the same
//! functions the general paths use, so a cached answer is always the uncached one.

use std::sync::OnceLock;

use super::{canonical, skeleton};

/// Bits of one block: `plain` and `same`, bit `c & 255` of word `(c & 255) / 64`.
struct Block {
    plain: [u64; 4],
    same: [u64; 4],
}

static BLOCKS: [OnceLock<Block>; 256] = [const { OnceLock::new() }; 256];

fn block(hi: usize) -> Option<&'static Block> {
    let slot = BLOCKS.get(hi)?;
    Some(slot.get_or_init(|| {
        let mut b = Block { plain: [0; 4], same: [0; 4] };
        for lo in 0..256u32 {
            let Some(c) = char::from_u32(((hi as u32) << 8) | lo) else { continue };
            let (w, bit) = ((lo / 64) as usize, 1u64 << (lo % 64));
            if canonical::is_plain_uncached(c) {
                b.plain[w] |= bit;
            }
            if skeleton::folds_same_uncached(c) {
                b.same[w] |= bit;
            }
        }
        b
    }))
}

fn lookup(c: char, field: fn(&Block) -> &[u64; 4]) -> Option<bool> {
    let c = c as u32;
    if c >= 0x1_0000 {
        return None;
    }
    let b = block((c >> 8) as usize)?;
    let lo = c & 255;
    Some(field(b).get((lo / 64) as usize).is_some_and(|w| w >> (lo % 64) & 1 != 0))
}

/// See [`canonical::is_plain_uncached`].
pub(crate) fn is_plain(c: char) -> bool {
    lookup(c, |b| &b.plain).unwrap_or_else(|| canonical::is_plain_uncached(c))
}

/// See [`skeleton::folds_same_uncached`].
pub(crate) fn folds_same(c: char) -> bool {
    lookup(c, |b| &b.same).unwrap_or_else(|| skeleton::folds_same_uncached(c))
}
