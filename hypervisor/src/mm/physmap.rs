//! The physical-memory window: all of physical memory mapped at one fixed
//! offset, the same in the bootloader's page tables and in ours, so pointers
//! into it stay valid when the hypervisor switches to its own tables.

use super::frame::{FRAME_SIZE, LOW_MEMORY_END, Mfn};

/// Where physical address 0 appears in the hypervisor's address space.
pub const PHYS_OFFSET: u64 = 0xffff_8000_0000_0000;

/// The virtual address of physical address `phys` in the window.
#[cfg(target_os = "none")]
pub const fn virt(phys: u64) -> u64 {
    PHYS_OFFSET + phys
}

/// On the host, "physical memory" is a buffer the tests give
/// (`mm::testing`), so the real frame allocator, p2m and domain code run
/// in host tests; before that every address is outside it.
#[cfg(not(target_os = "none"))]
static HOST_BASE: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(PHYS_OFFSET);

#[cfg(not(target_os = "none"))]
pub fn virt(phys: u64) -> u64 {
    HOST_BASE.load(core::sync::atomic::Ordering::Acquire).wrapping_add(phys)
}

/// Makes `[base, base + len)` of host memory play physical memory from
/// address 0 (host tests only).
#[cfg(not(target_os = "none"))]
pub(super) fn set_host_base(base: u64) {
    HOST_BASE.store(base, core::sync::atomic::Ordering::Release);
}

/// The physical address of a pointer into the window, or None outside it.
pub fn phys_of<T>(ptr: *const T) -> Option<u64> {
    (ptr as u64).checked_sub(virt(0))
}

/// A typed pointer to physical address `phys` through the window.
#[cfg(target_os = "none")]
pub const fn ptr<T>(phys: u64) -> *mut T {
    virt(phys) as *mut T
}

/// A typed pointer to physical address `phys` through the window.
#[cfg(not(target_os = "none"))]
pub fn ptr<T>(phys: u64) -> *mut T {
    virt(phys) as *mut T
}

/// # Safety
/// `[addr, addr + words * 8)` must be RAM that nothing else uses, for ever.
pub(super) unsafe fn bitmap_words(addr: u64, words: usize) -> &'static mut [u64] {
    // SAFETY: the caller guarantees exclusive ownership of this RAM; the window maps it writable and u64 has no invalid bit patterns.
    unsafe { core::slice::from_raw_parts_mut(ptr::<u64>(addr), words) }
}

/// # Safety
/// `[addr, addr + words * 4)` must be RAM that nothing else uses, for ever.
pub(super) unsafe fn counter_words(addr: u64, words: usize) -> &'static mut [u32] {
    // SAFETY: the caller guarantees exclusive ownership of this RAM; the window maps it writable and u32 has no invalid bit patterns.
    unsafe { core::slice::from_raw_parts_mut(ptr::<u32>(addr), words) }
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

/// Copies the host's physical bytes at `phys` (all below 1 MiB) into `buf`,
/// as Xen copies its first MiB into a PVH Dom0. False, with nothing read,
/// if the range reaches past 1 MiB.
pub fn read_low_memory(phys: u64, buf: &mut [u8]) -> bool {
    let fits = phys.checked_add(buf.len() as u64).is_some_and(|end| end <= LOW_MEMORY_END);
    if !fits {
        return false;
    }
    for (i, byte) in buf.iter_mut().enumerate() {
        // SAFETY: the range is below 1 MiB, which the window maps (read-only
        // use); memory there is RAM or ROM whose reads have no side effects,
        // and a volatile read tolerates the firmware or a CPU writing it.
        *byte = unsafe { core::ptr::read_volatile(ptr::<u8>(phys + i as u64)) };
    }
    true
}
