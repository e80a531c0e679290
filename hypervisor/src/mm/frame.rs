//! Physical frame allocator: one bit per 4 KiB frame of the machine.
//!
//! Built from the boot memory map. The bitmap lives in frames taken from the
//! map itself; it starts with every frame used, and only `Usable` ranges are
//! released into it, so firmware, bootloader and MMIO ranges can never be
//! handed out. Frames below 1 MiB are kept apart for the AP start-up code.

use crate::bits::to_usize;
use core::fmt;

pub const FRAME_SIZE: u64 = 4096;
const BITS: usize = 64;
/// Frames below this address are only handed out by `alloc_below`.
pub const LOW_MEMORY_END: u64 = 0x10_0000;

/// A machine frame number: physical address / 4096 (Xen's `mfn`).
///
/// Only `mm` makes one (the allocator, p2m lookups, the handles of
/// `mm::handle`): safe code elsewhere can read the number but not forge
/// one, and every function that writes, maps or frees a frame takes a
/// handle, not an `Mfn`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Mfn(pub(in crate::mm) u64);

impl Mfn {
    pub(in crate::mm) const fn from_addr(addr: u64) -> Mfn {
        Mfn(addr / FRAME_SIZE)
    }
    pub const fn addr(self) -> u64 {
        self.0 * FRAME_SIZE
    }
    /// The frame number (what a guest is told).
    pub const fn raw(self) -> u64 {
        self.0
    }
}

impl fmt::Display for Mfn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#x}", self.0)
    }
}

#[derive(Debug, PartialEq, Eq)]
pub enum FrameError {
    /// mfn {0} is outside the frames this allocator manages
    OutOfRange(Mfn),
    /// mfn {0} was freed twice
    DoubleFree(Mfn),
}

/// The state of the bitmap: a set bit is a free frame.
pub struct FrameAllocator<'a> {
    bitmap: &'a mut [u64],
    free: usize,
    usable: usize,
    /// Word index where the next search starts (all words before it were full).
    hint: usize,
}

impl<'a> FrameAllocator<'a> {
    /// Number of bitmap words needed to manage frames below `limit` (a physical address).
    pub const fn words_for(limit: u64) -> usize {
        let frames = to_usize(limit.div_ceil(FRAME_SIZE));
        frames.div_ceil(BITS)
    }

    /// An allocator over `bitmap` in which every frame starts out used.
    pub fn new(bitmap: &'a mut [u64]) -> Self {
        bitmap.fill(0);
        let first = Self::words_for(LOW_MEMORY_END);
        FrameAllocator { bitmap, free: 0, usable: 0, hint: first }
    }

    pub fn frame_count(&self) -> u64 {
        (self.bitmap.len() * BITS) as u64
    }

    /// Frames free now.
    pub fn free_frames(&self) -> usize {
        self.free
    }

    /// Frames ever released as usable (free plus allocated).
    pub fn usable_frames(&self) -> usize {
        self.usable
    }

    /// Releases the whole frames inside `[start, end)`; partial frames at
    /// either edge stay used. Frames beyond the bitmap are ignored.
    pub fn add_usable(&mut self, start: u64, end: u64) {
        let first = start.div_ceil(FRAME_SIZE);
        let last = (end / FRAME_SIZE).min(self.frame_count());
        for frame in first..last {
            if self.set_free(to_usize(frame)) {
                self.usable += 1;
            }
        }
    }

    /// Marks the frames overlapping `[start, end)` as used (for example the
    /// frames holding the bitmap itself). They no longer count as usable.
    pub fn reserve(&mut self, start: u64, end: u64) {
        let first = start / FRAME_SIZE;
        let last = end.div_ceil(FRAME_SIZE).min(self.frame_count());
        for frame in first..last {
            if self.clear_free(to_usize(frame)) {
                self.usable -= 1;
            }
        }
    }

    /// Allocates one frame at or above 1 MiB, lowest first.
    pub fn alloc(&mut self) -> Option<Mfn> {
        let start = self.hint;
        for word in start..self.bitmap.len() {
            if self.bitmap[word] != 0 {
                self.hint = word;
                let bit = self.bitmap[word].trailing_zeros() as usize;
                let frame = word * BITS + bit;
                self.clear_free(frame);
                return Some(Mfn(frame as u64));
            }
        }
        self.hint = self.bitmap.len();
        None
    }

    /// Allocates `count` contiguous frames whose first frame is a multiple of
    /// `align` frames, at or above 1 MiB.
    pub fn alloc_contiguous(&mut self, count: usize, align: usize) -> Option<Mfn> {
        if count == 0 || align == 0 {
            return None;
        }
        let total = self.bitmap.len() * BITS;
        let mut start = (Self::words_for(LOW_MEMORY_END) * BITS).next_multiple_of(align);
        while start + count <= total {
            match (start..start + count).find(|&f| !self.is_free(f)) {
                None => {
                    for frame in start..start + count {
                        self.clear_free(frame);
                    }
                    return Some(Mfn(start as u64));
                }
                Some(used) => start = (used + 1).next_multiple_of(align),
            }
        }
        None
    }

    /// Allocates one frame below `limit` (a physical address), highest first,
    /// so the first megabyte's few usable frames last.
    pub fn alloc_below(&mut self, limit: u64) -> Option<Mfn> {
        let end = ((limit / FRAME_SIZE) as usize).min(self.bitmap.len() * BITS);
        let frame = (1..end).rev().find(|&f| self.is_free(f))?;
        self.clear_free(frame);
        Some(Mfn(frame as u64))
    }

    /// Returns a frame to the allocator.
    pub fn free(&mut self, mfn: Mfn) -> Result<(), FrameError> {
        let frame = usize::try_from(mfn.0).map_err(|_| FrameError::OutOfRange(mfn))?;
        if frame >= self.bitmap.len() * BITS {
            return Err(FrameError::OutOfRange(mfn));
        }
        if !self.set_free(frame) {
            return Err(FrameError::DoubleFree(mfn));
        }
        let low_words = Self::words_for(LOW_MEMORY_END);
        self.hint = self.hint.min((frame / BITS).max(low_words));
        Ok(())
    }

    fn is_free(&self, frame: usize) -> bool {
        self.bitmap[frame / BITS] & (1 << (frame % BITS)) != 0
    }

    /// Sets a frame free; false if it already was.
    fn set_free(&mut self, frame: usize) -> bool {
        if self.is_free(frame) {
            return false;
        }
        self.bitmap[frame / BITS] |= 1 << (frame % BITS);
        self.free += 1;
        true
    }

    /// Marks a frame used; false if it already was.
    fn clear_free(&mut self, frame: usize) -> bool {
        if !self.is_free(frame) {
            return false;
        }
        self.bitmap[frame / BITS] &= !(1 << (frame % BITS));
        self.free -= 1;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1 << 20;

    fn allocator(bitmap: &mut [u64]) -> FrameAllocator<'_> {
        FrameAllocator::new(bitmap)
    }

    #[test]
    fn only_usable_ranges_are_handed_out() {
        let mut bits = vec![0; FrameAllocator::words_for(16 * MIB)];
        let mut fa = allocator(&mut bits);
        fa.add_usable(2 * MIB, 2 * MIB + 3 * FRAME_SIZE);
        assert_eq!(fa.free_frames(), 3);
        let got: Vec<_> = core::iter::from_fn(|| fa.alloc()).collect();
        assert_eq!(got, vec![Mfn(512), Mfn(513), Mfn(514)]);
        assert_eq!(fa.free_frames(), 0);
        assert_eq!(fa.alloc(), None);
    }

    #[test]
    fn partial_frames_at_region_edges_stay_used() {
        let mut bits = vec![0; FrameAllocator::words_for(16 * MIB)];
        let mut fa = allocator(&mut bits);
        fa.add_usable(2 * MIB + 1, 2 * MIB + 2 * FRAME_SIZE + 5);
        assert_eq!(fa.free_frames(), 1);
        assert_eq!(fa.alloc(), Some(Mfn::from_addr(2 * MIB + FRAME_SIZE)));
    }

    #[test]
    fn ranges_past_the_bitmap_are_ignored() {
        let mut bits = vec![0; 1];
        let mut fa = allocator(&mut bits);
        fa.add_usable(0, u64::MAX);
        assert_eq!(fa.free_frames(), 64);
    }

    #[test]
    fn low_memory_is_only_given_by_alloc_below() {
        let mut bits = vec![0; FrameAllocator::words_for(4 * MIB)];
        let mut fa = allocator(&mut bits);
        fa.add_usable(0x8000, 0xa000);
        assert_eq!(fa.alloc(), None);
        assert_eq!(fa.alloc_below(LOW_MEMORY_END), Some(Mfn(9)));
        assert_eq!(fa.alloc_below(LOW_MEMORY_END), Some(Mfn(8)));
        assert_eq!(fa.alloc_below(LOW_MEMORY_END), None);
    }

    #[test]
    fn freed_frames_come_back_and_double_free_is_caught() {
        let mut bits = vec![0; FrameAllocator::words_for(8 * MIB)];
        let mut fa = allocator(&mut bits);
        fa.add_usable(MIB, 8 * MIB);
        let before = fa.free_frames();
        let a = fa.alloc().unwrap();
        let b = fa.alloc().unwrap();
        assert_eq!(fa.free_frames(), before - 2);
        fa.free(a).unwrap();
        assert_eq!(fa.free(a), Err(FrameError::DoubleFree(a)));
        fa.free(b).unwrap();
        assert_eq!(fa.free_frames(), before);
        assert_eq!(fa.alloc(), Some(a), "lowest frame is reused first");
        assert_eq!(fa.free(Mfn(1 << 40)), Err(FrameError::OutOfRange(Mfn(1 << 40))));
    }

    #[test]
    fn contiguous_allocation_respects_alignment_and_holes() {
        let mut bits = vec![0; FrameAllocator::words_for(16 * MIB)];
        let mut fa = allocator(&mut bits);
        fa.add_usable(MIB, 16 * MIB);
        fa.reserve(2 * MIB + FRAME_SIZE, 2 * MIB + 2 * FRAME_SIZE);
        let run = fa.alloc_contiguous(512, 512).unwrap();
        assert_eq!(run.addr() % (2 * MIB), 0);
        assert_ne!(run.addr(), 2 * MIB, "the reserved frame breaks the first 2 MiB run");
        assert_eq!(fa.alloc_contiguous(1 << 20, 1), None);
    }

    #[test]
    fn reserve_removes_frames_from_the_usable_count() {
        let mut bits = vec![0; FrameAllocator::words_for(8 * MIB)];
        let mut fa = allocator(&mut bits);
        fa.add_usable(MIB, 8 * MIB);
        let usable = fa.usable_frames();
        fa.reserve(MIB, MIB + 10 * FRAME_SIZE);
        assert_eq!(fa.usable_frames(), usable - 10);
        assert_eq!(fa.free_frames(), usable - 10);
    }
}
