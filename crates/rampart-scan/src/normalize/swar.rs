//! Byte-class bitmaps computed 8 bytes at a time (SWAR, no `unsafe`, no SIMD
//! intrinsics): the normalizer's fast paths use them to classify ASCII text in bulk
//! instead of byte by byte.
//!
//! A *lane mask* is a `u64` with the high bit of each byte lane set where that byte
//! of a little-endian 8-byte word is in a class; [`movemask`] packs it into 8 bits
//! (bit `k` for byte `k`). [`for_each_block`] walks a text in 64-byte blocks with one
//! `u64` bitmap per block.

/// `0x01` in every byte lane.
const LO: u64 = 0x0101_0101_0101_0101;
/// `0x80` in every byte lane.
pub(crate) const HI: u64 = 0x8080_8080_8080_8080;

/// Lane mask of the bytes of `x` in `lo..=hi` (`hi` < 0x80; bytes ≥ 0x80 never match).
#[inline(always)]
pub(crate) const fn in_range(x: u64, lo: u8, hi: u8) -> u64 {
    let x7 = x & !HI;
    // Per lane (0..=127): x7 + (128 - lo) has the high bit iff x7 ≥ lo; x7 + (127 - hi)
    // iff x7 > hi. No lane overflows into the next.
    let ge_lo = x7 + LO * (0x80 - lo as u64);
    let gt_hi = x7 + LO * (0x7f - hi as u64);
    ge_lo & !gt_hi & !x & HI
}

/// Lane mask of the bytes of `x` equal to `c` (`c` < 0x80).
#[inline(always)]
pub(crate) const fn eq(x: u64, c: u8) -> u64 {
    in_range(x, c, c)
}

/// Packs a lane mask into 8 bits, bit `k` for byte `k`.
#[inline(always)]
pub(crate) const fn movemask(m: u64) -> u64 {
    ((m & HI).wrapping_mul(0x0002_0408_1020_4081)) >> 56
}

/// The little-endian word of `chunk` (8 bytes; 0 if shorter).
#[inline(always)]
pub(crate) fn word(chunk: &[u8]) -> u64 {
    chunk.get(..8).and_then(|c| <[u8; 8]>::try_from(c).ok()).map_or(0, u64::from_le_bytes)
}

/// The bitmap of one 64-byte block.
#[inline(always)]
fn block<F: Fn(u64) -> u64>(a: &[u8; 64], class: F) -> u64 {
    let mut bits = 0;
    let mut k = 0;
    while k < 8 {
        let o = 8 * k;
        let w = u64::from_le_bytes([a[o], a[o + 1], a[o + 2], a[o + 3], a[o + 4], a[o + 5], a[o + 6], a[o + 7]]);
        bits |= movemask(class(w)) << o;
        k += 1;
    }
    bits
}

/// Calls `f(base, bits)` for each 64-byte block of `bytes`: bit `k` of `bits` is set
/// if `class` selects byte `base + k`. The last block is zero-padded and its bits
/// past the end are cleared.
#[inline(always)]
pub(crate) fn for_each_block<F, G>(bytes: &[u8], class: F, mut f: G)
where
    F: Fn(u64) -> u64 + Copy,
    G: FnMut(usize, u64),
{
    let full = bytes.chunks_exact(64);
    let rest = full.remainder();
    for (i, c) in full.enumerate() {
        if let Ok(a) = <&[u8; 64]>::try_from(c) {
            f(i * 64, block(a, class));
        }
    }
    if !rest.is_empty() {
        let mut pad = [0u8; 64];
        pad[..rest.len()].copy_from_slice(rest);
        f(bytes.len() - rest.len(), block(&pad, class) & ((1u64 << rest.len()) - 1));
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn in_range_is_exact_per_lane() {
        for lo in [0u8, 1, b' ', b'0', b'a', 0x7f] {
            for hi in [lo, lo.saturating_add(9).min(0x7f), 0x7f] {
                for base in (0u16..256).step_by(8) {
                    let bytes: Vec<u8> = (base..base + 8).map(|b| b as u8).collect();
                    let m = movemask(in_range(word(&bytes), lo, hi));
                    for (k, &b) in bytes.iter().enumerate() {
                        assert_eq!(m >> k & 1 == 1, (lo..=hi).contains(&b), "{lo} {hi} {b}");
                    }
                }
            }
        }
    }

    #[test]
    fn block_bitmaps_match_a_byte_loop() {
        let mut seed = 0x2545_F491_4F6C_DD1Du64;
        for len in [0usize, 1, 7, 63, 64, 65, 127, 128, 129, 200, 1000] {
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    (seed >> 24) as u8
                })
                .collect();
            let mut seen = 0;
            for_each_block(
                &bytes,
                |w| in_range(w, b'a', b'z'),
                |base, bits| {
                    assert_eq!(base, seen);
                    for k in 0..64 {
                        let want = bytes.get(base + k).is_some_and(u8::is_ascii_lowercase);
                        assert_eq!(bits >> k & 1 == 1, want, "len {len} byte {}", base + k);
                    }
                    seen += 64;
                },
            );
            assert_eq!(seen, len.div_ceil(64) * 64);
        }
    }
}
