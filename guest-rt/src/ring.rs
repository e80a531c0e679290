//! The index arithmetic of Xen's byte rings (`io/console.h`): indices are
//! free-running `u32`s (`XENCONS_RING_IDX`) that wrap, a slot is
//! `idx & (size - 1)` (`MASK_XENCONS_IDX`), and `prod - cons` (wrapping) is
//! what waits to be consumed. Plain logic, tested on the host; the shared
//! page itself is accessed in [`crate::pvconsole`].
//!
//! The other side of a ring may be broken or hostile (a DomU's ring as Dom0
//! reads it), so indices further apart than the ring's size are reported,
//! never used to index.

/// Bytes waiting between `cons` and `prod` in a ring of `size` bytes (a
/// power of two); `None` when they are more than `size` apart.
pub fn used(cons: u32, prod: u32, size: u32) -> Option<u32> {
    let n = prod.wrapping_sub(cons);
    (n <= size).then_some(n)
}

/// Room left for the producer; `None` as for [`used`].
pub fn free(cons: u32, prod: u32, size: u32) -> Option<u32> {
    used(cons, prod, size).map(|n| size - n)
}

/// Where `len` bytes from index `start` lie in a ring of `size` bytes: at
/// most two contiguous pieces `(offset, length)`, the second at offset 0
/// when the first reaches the end (its length 0 otherwise). `len` is at
/// most `size` (callers take it from [`used`] or [`free`]).
pub fn pieces(start: u32, len: u32, size: u32) -> [(usize, usize); 2] {
    debug_assert!(size.is_power_of_two() && len <= size);
    let offset = start & (size - 1);
    let first = len.min(size - offset);
    [(offset as usize, first as usize), (0, (len - first) as usize)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn used_and_free_follow_the_indices_across_the_wrap() {
        assert_eq!(used(0, 0, 2048), Some(0));
        assert_eq!(free(0, 0, 2048), Some(2048));
        assert_eq!(used(10, 30, 2048), Some(20));
        assert_eq!(free(10, 30, 2048), Some(2028));
        // prod wrapped past u32::MAX, cons not yet.
        assert_eq!(used(u32::MAX - 5, 10, 2048), Some(16));
        assert_eq!(used(0, 2048, 2048), Some(2048));
        assert_eq!(free(0, 2048, 2048), Some(0));
    }

    #[test]
    fn indices_too_far_apart_are_refused() {
        assert_eq!(used(0, 2049, 2048), None);
        assert_eq!(free(0, 2049, 2048), None);
        // cons ahead of prod: the wrapped difference is huge.
        assert_eq!(used(5, 4, 1024), None);
    }

    #[test]
    fn pieces_split_at_the_end_of_the_ring() {
        assert_eq!(pieces(0, 100, 1024), [(0, 100), (0, 0)]);
        assert_eq!(pieces(1000, 100, 1024), [(1000, 24), (0, 76)]);
        assert_eq!(pieces(1024 + 3, 5, 1024), [(3, 5), (0, 0)]);
        assert_eq!(pieces(u32::MAX, 2, 2048), [(2047, 1), (0, 1)]);
        assert_eq!(pieces(512, 1024, 1024), [(512, 512), (0, 512)]);
        assert_eq!(pieces(7, 0, 1024), [(7, 0), (0, 0)]);
    }
}
