//! Scratch memory: a run of contiguous frames the hypervisor borrows for a
//! while as one byte slice, for work far larger than its 4 MiB heap
//! (decompressing Dom0's bzImage: a 32 MiB xz dictionary and a 60+ MiB
//! ELF). The frames go back to the allocator when the buffer is dropped.

use super::frame::{FRAME_SIZE, Mfn};
use super::physmap;
use crate::bits::to_usize;

/// `len` bytes of zeroed, contiguous RAM owned by this value.
#[derive(Debug)]
pub struct ScratchBuffer {
    first: Mfn,
    frames: usize,
    len: usize,
}

impl ScratchBuffer {
    /// Zeroed scratch memory of `len` bytes (rounded up to frames), or
    /// None if no run of contiguous frames that long is free.
    pub fn alloc(len: usize) -> Option<ScratchBuffer> {
        let frames = len.div_ceil(to_usize(FRAME_SIZE)).max(1);
        let first = super::zeroed_run(frames, 1)?;
        Some(ScratchBuffer { first, frames, len })
    }

    pub fn as_slice(&self) -> &[u8] {
        // SAFETY: the run is RAM this value owns alone until it is dropped
        // (allocated by `alloc`, never handed to a p2m); the window maps it
        // writable; `len` fits in the run; u8 has no invalid values.
        unsafe { core::slice::from_raw_parts(physmap::ptr::<u8>(self.first.addr()), self.len) }
    }

    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        // SAFETY: as in `as_slice`; `&mut self` makes this the only borrow.
        unsafe { core::slice::from_raw_parts_mut(physmap::ptr::<u8>(self.first.addr()), self.len) }
    }
}

impl Drop for ScratchBuffer {
    fn drop(&mut self) {
        for i in 0..self.frames as u64 {
            // Never mapped into a guest, so nobody else can hold these frames.
            let _ = super::free_mfn(Mfn(self.first.0 + i));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mm::testing;

    #[test]
    fn scratch_memory_is_zeroed_writable_and_given_back() {
        let _frames = testing::frames();
        let before = testing::free();
        let mut buf = ScratchBuffer::alloc(3 * 4096 + 5).expect("3 MiB free");
        assert_eq!(testing::free(), before - 4);
        assert_eq!(buf.as_slice().len(), 3 * 4096 + 5);
        assert!(buf.as_slice().iter().all(|&b| b == 0));
        buf.as_mut_slice().fill(0x5a);
        drop(buf);
        assert_eq!(testing::free(), before);
        let again = ScratchBuffer::alloc(4096).unwrap();
        assert!(again.as_slice().iter().all(|&b| b == 0), "a reused frame is zeroed again");
    }

    #[test]
    fn more_than_the_machine_has_is_none() {
        let _frames = testing::frames();
        let before = testing::free();
        assert!(ScratchBuffer::alloc(to_usize(testing::MEMORY)).is_none());
        assert_eq!(testing::free(), before);
    }
}
