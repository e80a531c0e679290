//! The hypervisor heap: a `linked_list_allocator` over contiguous frames,
//! addressed through the physical-memory window.

use super::{alloc_contiguous, physmap};

#[cfg(target_os = "none")]
#[global_allocator]
static HEAP: linked_list_allocator::LockedHeap = linked_list_allocator::LockedHeap::empty();

/// Gives the heap `frames` contiguous frames. Returns the heap's size in bytes.
#[cfg(target_os = "none")]
pub fn init(frames: usize) -> Result<usize, &'static str> {
    let mfn = alloc_contiguous(frames, 1).ok_or("no contiguous memory for the hypervisor heap")?;
    let size = frames * crate::bits::to_usize(super::frame::FRAME_SIZE);
    // SAFETY: the frames were just allocated and are owned by the heap from now on; the physical-memory window maps them writable.
    unsafe { HEAP.lock().init(physmap::ptr(mfn.addr()), size) };
    Ok(size)
}

/// On the host, tests use the standard allocator.
#[cfg(not(target_os = "none"))]
pub fn init(frames: usize) -> Result<usize, &'static str> {
    let _ = (alloc_contiguous, physmap::virt);
    Ok(frames * crate::bits::to_usize(super::frame::FRAME_SIZE))
}
