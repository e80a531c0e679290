//! Memory: the frame allocator, the physical-memory window, the heap and the
//! hypervisor's own page tables.

pub mod foreign;
pub mod frame;
pub mod guest;
pub mod handle;
pub mod heap;
pub mod p2m;
pub mod paging;
pub mod physmap;
pub mod scratch;
pub mod shootdown;

use crate::bits::to_usize;
use frame::{FRAME_SIZE, FrameAllocator, Mfn};
use handle::{Frame, OwnedFrame, OwnedRun, PinnedFrame};
use spin::Mutex;

/// One range of the boot memory map, reduced to what the hypervisor needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemoryRegion {
    pub start: u64,
    pub end: u64,
    pub kind: RegionKind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegionKind {
    /// Free RAM.
    Usable,
    /// RAM the bootloader used (the hypervisor image, boot bundle, page tables).
    InUse,
    /// Firmware's, with its E820 type (2 reserved, 3 ACPI, 4 NVS, ...; UEFI
    /// types are converted at boot).
    Firmware(u32),
}

impl MemoryRegion {
    pub const EMPTY: MemoryRegion = MemoryRegion { start: 0, end: 0, kind: RegionKind::InUse };

    pub fn is_usable(&self) -> bool {
        self.kind == RegionKind::Usable
    }
    /// RAM of the machine, free or in use (not firmware or MMIO).
    pub fn is_ram(&self) -> bool {
        matches!(self.kind, RegionKind::Usable | RegionKind::InUse)
    }
}

/// Where the frame bitmap goes and how much it covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BitmapPlan {
    /// Physical address of the bitmap's first byte (frame aligned).
    pub addr: u64,
    /// Bitmap size in 64-bit words.
    pub words: usize,
}

/// Sizes the frame bitmap to cover every usable byte and places it at the
/// start of the first usable region above 1 MiB that can hold it.
pub fn plan_bitmap(regions: &[MemoryRegion]) -> Option<BitmapPlan> {
    let limit = regions.iter().filter(|r| r.is_usable()).map(|r| r.end).max()?;
    let words = FrameAllocator::words_for(limit);
    let bytes = (words * 8) as u64;
    regions
        .iter()
        .filter(|r| r.is_usable())
        .map(|r| (r.start.max(frame::LOW_MEMORY_END).next_multiple_of(FRAME_SIZE), r.end))
        .find(|&(start, end)| start.checked_add(bytes).is_some_and(|e| e <= end))
        .map(|(addr, _)| BitmapPlan { addr, words })
}

static FRAMES: Mutex<Option<FrameAllocator<'static>>> = Mutex::new(None);

/// The frames the allocator may ever hand out, as sorted runs of frame
/// numbers `[start, end)`: what a [`handle::DeviceRange`] may not touch.
struct UsableRuns {
    runs: [(u64, u64); USABLE_RUNS],
    len: usize,
}

/// Runs kept; past that the last run grows over the rest (a gap in it then
/// counts as RAM: a device range there is refused, never RAM allowed).
const USABLE_RUNS: usize = 128;

static USABLE: Mutex<UsableRuns> = Mutex::new(UsableRuns { runs: [(0, 0); USABLE_RUNS], len: 0 });

impl UsableRuns {
    /// Adds the whole frames of `[start, end)` (bytes), as the allocator
    /// takes them; regions come in address order or not, runs stay sorted
    /// only if they do, so `overlaps` checks every run.
    fn add(&mut self, start: u64, end: u64) {
        let (first, last) = (start.div_ceil(FRAME_SIZE), end / FRAME_SIZE);
        if first >= last {
            return;
        }
        if let Some(prev) = self.runs[..self.len].last_mut().filter(|r| r.1 == first || self.len == USABLE_RUNS) {
            *prev = (prev.0.min(first), prev.1.max(last));
            return;
        }
        self.runs[self.len] = (first, last);
        self.len += 1;
    }

    fn overlaps(&self, first: u64, end: u64) -> bool {
        self.runs[..self.len].iter().any(|&(s, e)| first < e && s < end)
    }
}

/// The machine's RAM, free or in use by the hypervisor and the loader
/// (firmware ranges excluded), as frame runs: what Dom0 may never reach
/// outside its p2m (`vcpu::mmio`).
static HOST_RAM: Mutex<UsableRuns> = Mutex::new(UsableRuns { runs: [(0, 0); USABLE_RUNS], len: 0 });

/// Whether `addr` lies in the machine's RAM (the boot memory map's usable
/// and in-use ranges).
pub fn is_host_ram(addr: u64) -> bool {
    let frame = addr / FRAME_SIZE;
    HOST_RAM.lock().overlaps(frame, frame + 1)
}

/// Whether any frame in `[first, end)` is one the allocator may hand out.
fn overlaps_usable(first: u64, end: u64) -> bool {
    USABLE.lock().overlaps(first, end)
}

/// Sets up the global frame allocator over `regions`; returns (usable, free) frames.
pub fn init_frames(regions: &[MemoryRegion]) -> Result<(usize, usize), &'static str> {
    let plan = plan_bitmap(regions).ok_or("no usable memory region can hold the frame bitmap")?;
    // SAFETY: the plan puts the bitmap in usable RAM that nothing owns yet, and it is reserved right below, so no frame allocation can overlap it.
    let bitmap = unsafe { physmap::bitmap_words(plan.addr, plan.words) };
    let mut frames = FrameAllocator::new(bitmap);
    let mut usable = USABLE.lock();
    for r in regions.iter().filter(|r| r.is_usable()) {
        frames.add_usable(r.start, r.end);
        usable.add(r.start, r.end);
    }
    drop(usable);
    let mut ram = HOST_RAM.lock();
    for r in regions.iter().filter(|r| r.is_ram()) {
        ram.add(r.start, r.end);
    }
    drop(ram);
    frames.reserve(plan.addr, plan.addr + (plan.words * 8) as u64);
    // One reference count per frame for `foreign`, in frames of its own.
    let nr_frames = to_usize(frames.frame_count());
    let count_frames = (nr_frames * 4).div_ceil(to_usize(FRAME_SIZE));
    let counts_at = frames.alloc_contiguous(count_frames, 1).ok_or("no contiguous memory for the frame reference counts")?;
    // SAFETY: the run was just allocated and is never freed: from now on it belongs to `foreign` alone.
    foreign::init(unsafe { physmap::counter_words(counts_at.addr(), nr_frames) });
    let counts = (frames.usable_frames(), frames.free_frames());
    *FRAMES.lock() = Some(frames);
    Ok(counts)
}

fn with_frames<R>(f: impl FnOnce(&mut FrameAllocator<'static>) -> R) -> R {
    let mut guard = FRAMES.lock();
    f(guard.as_mut().expect("frame allocator used before init_frames"))
}

/// A zeroed frame at or above 1 MiB, the caller's to keep.
pub fn alloc_frame() -> Option<OwnedFrame> {
    OwnedFrame::alloc()
}

/// A zeroed frame below `limit`, for structures the CPU reads in real mode.
pub fn alloc_frame_below(limit: u64) -> Option<OwnedFrame> {
    OwnedFrame::alloc_below(limit)
}

/// `count` contiguous zeroed frames aligned to `align` frames.
pub fn alloc_run(count: usize, align: usize) -> Option<OwnedRun> {
    OwnedRun::alloc(count, align)
}

/// The owner of `frame` lets go of it: freed now, or at the last unmap of a
/// mapping another domain still has (`mm::foreign`). Consuming the handle,
/// it cannot free a frame twice.
pub fn free_frame(frame: OwnedFrame) {
    frame.release();
}

/// A zeroed frame at or above 1 MiB, as a bare number for `mm`'s own
/// structures (page tables, p2m tables, frame stacks).
fn alloc_mfn() -> Option<Mfn> {
    let mfn = with_frames(|f| f.alloc())?;
    // SAFETY: the frame was just allocated, so this caller owns it.
    unsafe { physmap::zero_frame(mfn) };
    Some(mfn)
}

fn alloc_mfn_below(limit: u64) -> Option<Mfn> {
    let mfn = with_frames(|f| f.alloc_below(limit))?;
    // SAFETY: the frame was just allocated, so this caller owns it.
    unsafe { physmap::zero_frame(mfn) };
    Some(mfn)
}

/// `count` contiguous frames aligned to `align` frames (not zeroed).
fn alloc_contiguous(count: usize, align: usize) -> Option<Mfn> {
    with_frames(|f| f.alloc_contiguous(count, align))
}

/// `count` contiguous zeroed frames aligned to `align` frames.
fn zeroed_run(count: usize, align: usize) -> Option<Mfn> {
    let mfn = alloc_contiguous(count, align)?;
    for i in 0..count as u64 {
        // SAFETY: the run was just allocated, so this caller owns each frame.
        unsafe { physmap::zero_frame(Mfn(mfn.0 + i)) };
    }
    Some(mfn)
}

/// Gives a frame back to the allocator (`mm` only: everyone else lets go
/// of a handle).
fn free_mfn(mfn: Mfn) -> Result<(), frame::FrameError> {
    with_frames(|f| f.free(mfn))
}

/// Writes `bytes` at `offset` into a frame the caller holds (bounded by
/// the frame: bytes past its end are not written).
pub fn write_frame(frame: &(impl Frame + ?Sized), offset: usize, bytes: &[u8]) {
    let Some(room) = (to_usize(FRAME_SIZE)).checked_sub(offset) else { return };
    let n = bytes.len().min(room);
    // SAFETY: the handle proves the frame stays allocated to its holder while borrowed (mm::handle); the write stays inside it.
    unsafe { core::ptr::copy_nonoverlapping(bytes.as_ptr(), physmap::ptr::<u8>(frame.mfn().addr() + offset as u64), n) };
}

/// Atomically sets (`set`) or clears bit `bit` of byte `offset` of a frame
/// the caller holds, returning its old value. The guest may change the same
/// word at the same time (event-channel bitmaps), so a plain
/// read-modify-write could lose its update. Outside the frame: false.
pub fn frame_update_bit(frame: &(impl Frame + ?Sized), offset: usize, bit: u8, set: bool) -> bool {
    if offset >= to_usize(FRAME_SIZE) || bit >= 8 {
        return false;
    }
    // SAFETY: the byte lies inside a frame the handle keeps allocated (checked bound above); AtomicU8 has the alignment of u8, and the physmap window maps every frame writable.
    let byte = unsafe { &*physmap::ptr::<core::sync::atomic::AtomicU8>(frame.mfn().addr() + offset as u64) };
    let mask = 1u8 << bit;
    let old = if set {
        byte.fetch_or(mask, core::sync::atomic::Ordering::SeqCst)
    } else {
        byte.fetch_and(!mask, core::sync::atomic::Ordering::SeqCst)
    };
    old & mask != 0
}

/// Reads bit `bit` of byte `offset` of a frame (false outside it).
pub fn frame_test_bit(frame: &(impl Frame + ?Sized), offset: usize, bit: u8) -> bool {
    if offset >= to_usize(FRAME_SIZE) || bit >= 8 {
        return false;
    }
    // SAFETY: as in `frame_update_bit`: an in-bounds byte of a frame the handle keeps allocated, read atomically.
    let byte = unsafe { &*physmap::ptr::<core::sync::atomic::AtomicU8>(frame.mfn().addr() + offset as u64) };
    byte.load(core::sync::atomic::Ordering::SeqCst) & (1 << bit) != 0
}

/// The copy would leave a frame, or write one held read-only.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BadCopy;

/// Copies `len` bytes from `src` at `src_off` to `dst` at `dst_off`:
/// frames pinned for the copy (a grant copy); the destination must be
/// held writable, and both ranges inside their frames.
pub fn copy_between(src: &PinnedFrame, src_off: usize, dst: &PinnedFrame, dst_off: usize, len: usize) -> Result<(), BadCopy> {
    let page = to_usize(FRAME_SIZE);
    if !dst.writable() || src_off.checked_add(len).is_none_or(|e| e > page) || dst_off.checked_add(len).is_none_or(|e| e > page) {
        return Err(BadCopy);
    }
    let from = physmap::ptr::<u8>(src.mfn().addr() + src_off as u64);
    let to = physmap::ptr::<u8>(dst.mfn().addr() + dst_off as u64);
    // SAFETY: both pins keep their frames allocated for the copy (RAM in the window, checked in bounds); the hypervisor holds no reference into them; `copy` allows the two to overlap (the same frame).
    unsafe { core::ptr::copy(from, to, len) };
    Ok(())
}

/// The 8-byte-aligned word at `offset` of a frame the caller holds, as
/// the guest sharing the frame may be writing it: one atomic load.
pub fn frame_load_u64(frame: &(impl Frame + ?Sized), offset: usize) -> u64 {
    load_u64(frame.mfn(), offset)
}

/// Stores the 8-byte-aligned word at `offset` of a frame the caller holds.
pub fn frame_store_u64(frame: &(impl Frame + ?Sized), offset: usize, value: u64) {
    store_u64(frame.mfn(), offset, value);
}

/// Compare-and-exchange of the 4-byte-aligned word at `offset` of a frame
/// the caller holds (a grant entry's flags and domid, which the guest may
/// change at the same time); returns the value it held.
pub fn frame_cmpxchg_u32(frame: &(impl Frame + ?Sized), offset: usize, old: u32, new: u32) -> u32 {
    use core::sync::atomic::{AtomicU32, Ordering};
    let word = shared_word::<u32>(frame.mfn(), offset);
    // SAFETY: `shared_word` checked the word is aligned and inside the frame, which the handle keeps allocated; the guest only accesses it concurrently, so it is accessed atomically. The reference lives for this one exchange.
    match unsafe { AtomicU32::from_ptr(word) }.compare_exchange(old, new, Ordering::AcqRel, Ordering::Acquire) {
        Ok(v) | Err(v) => v,
    }
}

/// Atomically clears the bits of `mask` in the 2-byte-aligned half-word at
/// `offset` of a frame the caller holds (Xen's `gnttab_clear_flags`).
pub fn frame_clear_u16(frame: &(impl Frame + ?Sized), offset: usize, mask: u16) {
    let word = shared_word::<u16>(frame.mfn(), offset);
    // SAFETY: as in `frame_cmpxchg_u32`; the reference lives for this one update.
    unsafe { core::sync::atomic::AtomicU16::from_ptr(word) }.fetch_and(!mask, core::sync::atomic::Ordering::AcqRel);
}

/// One atomic load of an aligned word of a frame that `mm` itself keeps
/// (a handle's, or one on a [`FrameStack`]).
fn load_u64(mfn: Mfn, offset: usize) -> u64 {
    let word = shared_word::<u64>(mfn, offset);
    // SAFETY: `shared_word` checked the word is aligned and inside the frame, which the caller keeps allocated (a handle, or a frame on a stack it owns); a guest may access it concurrently, so it is accessed atomically. The reference lives for this one load.
    unsafe { core::sync::atomic::AtomicU64::from_ptr(word) }.load(core::sync::atomic::Ordering::Acquire)
}

fn store_u64(mfn: Mfn, offset: usize, value: u64) {
    let word = shared_word::<u64>(mfn, offset);
    // SAFETY: as in `load_u64`; the reference lives for this one store.
    unsafe { core::sync::atomic::AtomicU64::from_ptr(word) }.store(value, core::sync::atomic::Ordering::Release)
}

/// Where a naturally aligned `T` at `offset` of `mfn` is in the window;
/// panics (a hypervisor bug, never guest input) if it is misaligned or
/// outside the frame.
fn shared_word<T>(mfn: Mfn, offset: usize) -> *mut T {
    let size = core::mem::size_of::<T>();
    assert!(offset.is_multiple_of(size) && (offset + size) as u64 <= FRAME_SIZE, "word at {offset} of a frame");
    physmap::ptr::<T>(mfn.addr() + offset as u64)
}

/// Frames held for someone and mapped nowhere (a translated domain's
/// increase_reservation frames, which Xen allocates and the guest can never
/// reach), kept as a stack of runs linked through the frames themselves: no
/// heap per run, so a guest looping on increase_reservation costs the heap
/// nothing. Frames on the stack must be mapped in no p2m (nobody else may
/// write the links).
#[derive(Debug, Default)]
pub struct FrameStack {
    /// The run on top: first frame and length (the link to the next run
    /// is in its first frame).
    top: Option<(Mfn, u64)>,
    frames: u64,
}

/// A link word meaning "no next run" (mfn 0 is never allocated to anyone).
const NO_RUN: u64 = 0;

impl FrameStack {
    pub const fn new() -> Self {
        FrameStack { top: None, frames: 0 }
    }

    /// Frames on the stack.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// Allocates `count` zeroed frames (a power of two, aligned to it) and
    /// keeps them; false if the machine has no such run. The stack takes
    /// its frames from the allocator itself: no caller can put a frame on
    /// it that something else still uses.
    pub fn alloc(&mut self, count: u64) -> bool {
        let first = if count == 1 { alloc_mfn() } else { zeroed_run(to_usize(count), to_usize(count)) };
        let Some(first) = first else { return false };
        let (next, next_count) = self.top.map_or((NO_RUN, 0), |(m, c)| (m.0, c));
        store_u64(first, 0, next);
        store_u64(first, 8, next_count);
        self.top = Some((first, count));
        self.frames += count;
        true
    }

    /// Takes the run on top off the stack (its frames are the caller's).
    fn pop(&mut self) -> Option<(Mfn, u64)> {
        let (first, count) = self.top?;
        let next = load_u64(first, 0);
        let next_count = load_u64(first, 8);
        self.top = (next != NO_RUN).then_some((Mfn(next), next_count));
        self.frames -= count;
        Some((first, count))
    }

    /// Frees every frame on the stack.
    pub fn free_all(&mut self) {
        while let Some((first, count)) = self.pop() {
            for i in 0..count {
                let _ = free_mfn(Mfn(first.0 + i));
            }
        }
    }
}

/// One past the highest frame the allocator manages (XENMEM_maximum_ram_page).
pub fn max_mfn() -> u64 {
    with_frames(|f| f.frame_count())
}

/// (usable, free) frame counts.
pub fn frame_counts() -> (usize, usize) {
    with_frames(|f| (f.usable_frames(), f.free_frames()))
}

/// Host tests of code that uses the real frame allocator (p2m tables,
/// domains): a buffer of host memory plays the machine's RAM.
#[cfg(test)]
pub mod testing {
    use super::{MemoryRegion, RegionKind};
    use std::sync::{Mutex, MutexGuard, OnceLock};

    /// The test machine's memory: RAM from 1 MiB to here.
    pub const MEMORY: u64 = 64 << 20;
    static LOCK: Mutex<()> = Mutex::new(());
    static INIT: OnceLock<()> = OnceLock::new();

    /// The allocator, set up on first use; the guard serialises the tests
    /// that use it, so each can check the free-frame count it leaves.
    pub fn frames() -> MutexGuard<'static, ()> {
        let guard = LOCK.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        INIT.get_or_init(|| {
            let memory: &'static mut [u8] = Vec::leak(vec![0u8; crate::bits::to_usize(MEMORY) + 4096]);
            let base = (memory.as_mut_ptr() as u64).next_multiple_of(4096);
            super::physmap::set_host_base(base);
            super::init_frames(&[MemoryRegion { start: 0x10_0000, end: MEMORY, kind: RegionKind::Usable }]).expect("host frames");
        });
        guard
    }

    /// Frames free now.
    pub fn free() -> usize {
        super::frame_counts().1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1 << 20;

    #[test]
    fn a_frame_stack_keeps_runs_without_the_heap_and_frees_them_all() {
        let _frames = testing::frames();
        let before = testing::free();
        let mut stack = FrameStack::new();
        for i in 0..1000 {
            assert!(stack.alloc(if i % 3 == 0 { 4 } else { 1 }));
        }
        assert_eq!(stack.frames(), 334 * 4 + 666);
        assert_eq!(testing::free(), before - 334 * 4 - 666);
        let (first, top) = stack.pop().unwrap();
        assert_eq!(top, 4, "the last run pushed comes off first");
        assert!(stack.alloc(1));
        stack.free_all();
        assert_eq!(stack.frames(), 0);
        assert_eq!(testing::free(), before - 4, "every frame but the popped run is back");
        (0..4).for_each(|i| free_mfn(Mfn(first.0 + i)).unwrap());
        assert_eq!(testing::free(), before);
    }

    fn region(start: u64, end: u64, usable: bool) -> MemoryRegion {
        MemoryRegion { start, end, kind: if usable { RegionKind::Usable } else { RegionKind::Firmware(2) } }
    }

    #[test]
    fn bitmap_covers_the_highest_usable_frame() {
        let map = [region(0, 0x9f000, true), region(MIB, 256 * MIB, true), region(0xfffc_0000, 0x1_0000_0000, false)];
        let plan = plan_bitmap(&map).unwrap();
        assert_eq!(plan.words, (256 * MIB / FRAME_SIZE / 64) as usize, "reserved ranges above RAM are not covered");
        assert_eq!(plan.addr, MIB);
    }

    #[test]
    fn bitmap_skips_low_memory_and_regions_too_small() {
        let map = [region(0x1000, 0x9f000, true), region(MIB, MIB + 4096, true), region(2 * MIB, 4096 * MIB, true)];
        let plan = plan_bitmap(&map).unwrap();
        assert_eq!(plan.addr, 2 * MIB);
    }

    #[test]
    fn no_usable_memory_means_no_plan() {
        assert_eq!(plan_bitmap(&[region(0, 1 << 30, false)]), None);
        assert_eq!(plan_bitmap(&[]), None);
    }
}

/// The bootloader's ramdisk (the boot bundle) as bytes in the physical-memory
/// window, which stay valid after the switch to the hypervisor's page tables.
/// `virt` is the address the bootloader mapped it at (still active).
pub fn boot_ramdisk(virt: u64, len: u64) -> Option<&'static [u8]> {
    if len == 0 {
        return None;
    }
    let phys = paging::translate_current(virt)?;
    // The bootloader loads the ramdisk into one physically contiguous run.
    if paging::translate_current(virt + len - 1)? != phys + len - 1 {
        return None;
    }
    // SAFETY: the ramdisk lives in frames the memory map marks as bootloader memory, which the frame allocator never hands out, and nothing writes it.
    Some(unsafe { physmap::bytes(phys, usize::try_from(len).ok()?) })
}
