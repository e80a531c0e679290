//! The physical-memory window: all of physical memory mapped at one fixed
//! offset, the same in the bootloader's page tables and in ours, so pointers
//! into it stay valid when the hypervisor switches to its own tables.

use super::frame::{FRAME_SIZE, Mfn};

/// Where physical address 0 appears in the hypervisor's address space.
pub const PHYS_OFFSET: u64 = 0xffff_8000_0000_0000;

/// The virtual address of physical address `phys` in the window.
pub const fn virt(phys: u64) -> u64 {
    PHYS_OFFSET + phys
}

/// The physical address of a pointer into the window, or None outside it.
pub fn phys_of<T>(ptr: *const T) -> Option<u64> {
    (ptr as u64).checked_sub(PHYS_OFFSET)
}

/// A typed pointer to physical address `phys` through the window.
pub const fn ptr<T>(phys: u64) -> *mut T {
    virt(phys) as *mut T
}

/// # Safety
/// `[addr, addr + words * 8)` must be RAM that nothing else uses, for ever.
pub(super) unsafe fn bitmap_words(addr: u64, words: usize) -> &'static mut [u64] {
    // SAFETY: the caller guarantees exclusive ownership of this RAM; the window maps it writable and u64 has no invalid bit patterns.
    unsafe { core::slice::from_raw_parts_mut(ptr::<u64>(addr), words) }
}

/// # Safety
/// The caller must own frame `mfn` (it was just allocated to it).
pub(super) unsafe fn zero_frame(mfn: Mfn) {
    // SAFETY: the caller owns the frame; the window maps it writable.
    unsafe { core::ptr::write_bytes(ptr::<u8>(mfn.addr()), 0, crate::bits::to_usize(FRAME_SIZE)) }
}

/// Read-only view of physical memory the hypervisor never writes or frees
/// (the boot bundle, which lives in bootloader-reserved frames).
///
/// # Safety
/// `[phys, phys + len)` must be RAM that stays unchanged for ever.
pub unsafe fn bytes(phys: u64, len: usize) -> &'static [u8] {
    // SAFETY: the caller guarantees the range is immutable RAM; the window maps it.
    unsafe { core::slice::from_raw_parts(ptr::<u8>(phys), len) }
}
