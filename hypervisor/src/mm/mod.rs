//! Memory: the frame allocator, the physical-memory window, the heap and the
//! hypervisor's own page tables.

pub mod foreign;
pub mod frame;
pub mod guest;
pub mod heap;
pub mod p2m;
pub mod paging;
pub mod physmap;

use frame::{FRAME_SIZE, FrameAllocator, Mfn};
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

/// Sets up the global frame allocator over `regions`; returns (usable, free) frames.
pub fn init_frames(regions: &[MemoryRegion]) -> Result<(usize, usize), &'static str> {
    let plan = plan_bitmap(regions).ok_or("no usable memory region can hold the frame bitmap")?;
    // SAFETY: the plan puts the bitmap in usable RAM that nothing owns yet, and it is reserved right below, so no frame allocation can overlap it.
    let bitmap = unsafe { physmap::bitmap_words(plan.addr, plan.words) };
    let mut frames = FrameAllocator::new(bitmap);
    for r in regions.iter().filter(|r| r.is_usable()) {
        frames.add_usable(r.start, r.end);
    }
    frames.reserve(plan.addr, plan.addr + (plan.words * 8) as u64);
    let counts = (frames.usable_frames(), frames.free_frames());
    *FRAMES.lock() = Some(frames);
    Ok(counts)
}

fn with_frames<R>(f: impl FnOnce(&mut FrameAllocator<'static>) -> R) -> R {
    let mut guard = FRAMES.lock();
    f(guard.as_mut().expect("frame allocator used before init_frames"))
}

/// A zeroed frame at or above 1 MiB.
pub fn alloc_frame() -> Option<Mfn> {
    let mfn = with_frames(|f| f.alloc())?;
    // SAFETY: the frame was just allocated, so this caller owns it.
    unsafe { physmap::zero_frame(mfn) };
    Some(mfn)
}

/// A zeroed frame below `limit`, for structures the CPU reads in real mode.
pub fn alloc_frame_below(limit: u64) -> Option<Mfn> {
    let mfn = with_frames(|f| f.alloc_below(limit))?;
    // SAFETY: the frame was just allocated, so this caller owns it.
    unsafe { physmap::zero_frame(mfn) };
    Some(mfn)
}

/// `count` contiguous frames aligned to `align` frames (not zeroed).
pub fn alloc_contiguous(count: usize, align: usize) -> Option<Mfn> {
    with_frames(|f| f.alloc_contiguous(count, align))
}

/// `count` contiguous zeroed frames aligned to `align` frames.
pub fn alloc_zeroed_run(count: usize, align: usize) -> Option<Mfn> {
    let mfn = alloc_contiguous(count, align)?;
    for i in 0..count as u64 {
        // SAFETY: the run was just allocated, so this caller owns each frame.
        unsafe { physmap::zero_frame(Mfn(mfn.0 + i)) };
    }
    Some(mfn)
}

/// Writes `bytes` at `offset` into a frame the caller owns (bounded by
/// the frame: bytes past its end are not written).
pub fn write_frame(mfn: Mfn, offset: usize, bytes: &[u8]) {
    let Some(room) = (FRAME_SIZE as usize).checked_sub(offset) else { return };
    let n = bytes.len().min(room);
    // SAFETY: the caller owns `mfn` (a page the hypervisor allocated and keeps, like a domain's shared-info page); the write stays inside it.
    unsafe { core::ptr::copy_nonoverlapping(bytes.as_ptr(), physmap::ptr::<u8>(mfn.addr() + offset as u64), n) };
}

pub fn free_frame(mfn: Mfn) -> Result<(), frame::FrameError> {
    with_frames(|f| f.free(mfn))
}

/// One past the highest frame the allocator manages (XENMEM_maximum_ram_page).
pub fn max_mfn() -> u64 {
    with_frames(|f| f.frame_count())
}

/// (usable, free) frame counts.
pub fn frame_counts() -> (usize, usize) {
    with_frames(|f| (f.usable_frames(), f.free_frames()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1 << 20;

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
