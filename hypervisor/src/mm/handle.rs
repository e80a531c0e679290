//! Frames as capabilities. An [`Mfn`] is only a number; the right to read or
//! write a frame is one of these handles, which only `mm` makes, and only
//! while the frame cannot be freed:
//! - [`OwnedFrame`]: a frame the hypervisor allocated and keeps (a domain's
//!   shared-info page, its grant-table frames). One owner, not `Copy`; the
//!   owner lets go of it with [`OwnedFrame::release`] (freed then, or at the
//!   last unmap of a mapping elsewhere: `mm::foreign`).
//! - [`FrameRef`]: a RAM frame a p2m maps, borrowed from that p2m (nothing
//!   can unmap and free it while the p2m is borrowed).
//! - [`PinnedFrame`]: a frame held by a reference in `mm::foreign` for the
//!   handle's life (a grant pin, a grant copy's source or destination):
//!   the frame stays allocated, whoever frees it meanwhile, until the handle
//!   goes. It is also what a grant or foreign mapping is made from.
//!
//! - [`OwnedRun`]: a run of contiguous frames from the allocator (a large
//!   page of RAM on its way into a p2m, the arch code's bitmaps).
//! - [`DeviceRange`]: machine frames outside the RAM the allocator manages
//!   (firmware, MMIO), which a p2m maps by address and nothing frees.
//!
//! The raw accessors (`mm::write_frame`, `mm::frame_store_u64`,
//! `mm::copy_between`, ...) take these handles, so safe code cannot name a
//! frame it holds no right to, and a free-while-used bug does not compile.

#![forbid(unsafe_code)]

use super::foreign;
use super::frame::Mfn;

mod sealed {
    pub trait Sealed {}
}

/// A handle that gives access to one frame (only `mm`'s types are).
pub trait Frame: sealed::Sealed {
    fn mfn(&self) -> Mfn;
}

/// A frame the hypervisor allocated and keeps.
#[derive(Debug, PartialEq, Eq)]
pub struct OwnedFrame {
    mfn: Mfn,
}

impl OwnedFrame {
    /// A zeroed frame from the allocator.
    pub fn alloc() -> Option<OwnedFrame> {
        super::alloc_mfn().map(|mfn| OwnedFrame { mfn })
    }

    /// A zeroed frame below `limit`, for structures the CPU reads in real mode.
    pub fn alloc_below(limit: u64) -> Option<OwnedFrame> {
        super::alloc_mfn_below(limit).map(|mfn| OwnedFrame { mfn })
    }

    pub fn mfn(&self) -> Mfn {
        self.mfn
    }

    /// Its physical address (for the arch code's VMCB/VMCS pointers).
    pub fn addr(&self) -> u64 {
        self.mfn.addr()
    }

    /// The owner lets go of the frame: freed now, or by the last unmap of
    /// a mapping other domains still have.
    pub fn release(self) {
        foreign::release_owned(self.mfn);
    }

    /// A reference of its own on the frame (to map it, or grant it).
    pub fn pin(&self) -> Option<PinnedFrame> {
        PinnedFrame::take(self.mfn, true)
    }
}

impl sealed::Sealed for OwnedFrame {}
impl Frame for OwnedFrame {
    fn mfn(&self) -> Mfn {
        self.mfn
    }
}

/// Contiguous frames from the allocator, aligned to `align` frames; one
/// owner, freed with [`OwnedRun::release`] or handed to a p2m
/// (`P2m::map_ram`), which owns them from then on.
#[derive(Debug, PartialEq, Eq)]
pub struct OwnedRun {
    first: Mfn,
    count: u64,
}

impl OwnedRun {
    /// `count` zeroed contiguous frames whose first frame is a multiple of
    /// `align` frames.
    pub fn alloc(count: usize, align: usize) -> Option<OwnedRun> {
        let first = if count == 1 && align == 1 { super::alloc_mfn()? } else { super::zeroed_run(count, align)? };
        Some(OwnedRun { first, count: count as u64 })
    }

    pub fn first(&self) -> Mfn {
        self.first
    }

    /// The physical address of its first frame.
    pub fn addr(&self) -> u64 {
        self.first.addr()
    }

    /// Frames in the run.
    pub fn frames(&self) -> u64 {
        self.count
    }

    /// The owner lets go of every frame (as [`OwnedFrame::release`]).
    pub fn release(self) {
        for i in 0..self.count {
            foreign::release_owned(Mfn(self.first.0 + i));
        }
    }

    /// Hands the run to a p2m that now owns it.
    pub(super) fn into_mapping(self) -> (Mfn, u64) {
        (self.first, self.count)
    }
}

impl From<OwnedFrame> for OwnedRun {
    fn from(frame: OwnedFrame) -> OwnedRun {
        OwnedRun { first: frame.mfn, count: 1 }
    }
}

/// What a [`DeviceRange`] is: how a p2m may map it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceKind {
    /// Firmware memory (ACPI tables, BIOS), mapped read-only.
    Firmware,
    /// A device's MMIO, passed through read-write and uncached.
    Mmio,
}

/// Machine frames by address that are no RAM the allocator manages: only
/// firmware and MMIO, which a p2m maps as `ReadOnlyFirmware` or
/// `MmioPassthrough` (never as RAM), and which nothing ever frees.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeviceRange {
    first: Mfn,
    count: u64,
    kind: DeviceKind,
}

impl DeviceRange {
    /// The `count` frames from physical address `addr` (frame aligned); None
    /// if any of them is (or could be) handed out by the allocator, or the
    /// range is not frame aligned or wraps.
    pub fn new(addr: u64, count: u64, kind: DeviceKind) -> Option<DeviceRange> {
        if !addr.is_multiple_of(super::frame::FRAME_SIZE) {
            return None;
        }
        let first = Mfn::from_addr(addr);
        let end = first.0.checked_add(count)?;
        if super::overlaps_usable(first.0, end) {
            return None;
        }
        Some(DeviceRange { first, count, kind })
    }

    pub fn first(&self) -> Mfn {
        self.first
    }

    pub fn frames(&self) -> u64 {
        self.count
    }

    pub fn kind(&self) -> DeviceKind {
        self.kind
    }
}

/// A RAM frame mapped by a p2m, for as long as the p2m is borrowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameRef<'a> {
    mfn: Mfn,
    writable: bool,
    _p2m: core::marker::PhantomData<&'a ()>,
}

impl FrameRef<'_> {
    /// Made by `P2m::ram_frame` only.
    pub(super) fn new(mfn: Mfn, writable: bool) -> Self {
        FrameRef { mfn, writable, _p2m: core::marker::PhantomData }
    }

    pub fn mfn(&self) -> Mfn {
        self.mfn
    }

    pub fn writable(&self) -> bool {
        self.writable
    }

    /// A reference on the frame that outlives the borrow (the frame stays
    /// allocated until the `PinnedFrame` goes); None if the frame is
    /// outside the reference table.
    pub fn pin(&self) -> Option<PinnedFrame> {
        PinnedFrame::take(self.mfn, self.writable)
    }
}

impl sealed::Sealed for FrameRef<'_> {}
impl Frame for FrameRef<'_> {
    fn mfn(&self) -> Mfn {
        self.mfn
    }
}

/// A frame held by a reference in `mm::foreign` while this lives.
#[derive(Debug, PartialEq, Eq)]
pub struct PinnedFrame {
    mfn: Mfn,
    writable: bool,
    /// Holds a reference (a test's fake frame holds none).
    counted: bool,
}

impl PinnedFrame {
    fn take(mfn: Mfn, writable: bool) -> Option<PinnedFrame> {
        foreign::map(mfn).ok()?;
        Some(PinnedFrame { mfn, writable, counted: true })
    }

    /// A handle on a frame that does not exist, for the hypercall layer's
    /// fakes (host tests only: nothing may access it).
    #[cfg(test)]
    pub fn fake(mfn: u64, writable: bool) -> PinnedFrame {
        PinnedFrame { mfn: Mfn(mfn), writable, counted: false }
    }

    pub fn mfn(&self) -> Mfn {
        self.mfn
    }

    /// Whether the holder may write it (the p2m mapped it writable).
    pub fn writable(&self) -> bool {
        self.writable
    }

    /// Another reference on the same frame (None if its count is full).
    pub fn try_clone(&self) -> Option<PinnedFrame> {
        if !self.counted {
            return Some(PinnedFrame { mfn: self.mfn, writable: self.writable, counted: false });
        }
        PinnedFrame::take(self.mfn, self.writable)
    }

    /// The same reference, read-only.
    pub fn read_only(mut self) -> PinnedFrame {
        self.writable = false;
        self
    }

    /// Hands the reference to a p2m entry that now maps the frame: its
    /// removal gives it back (`mm::foreign::unmap`).
    pub(super) fn into_mapping(self) -> Mfn {
        let mfn = self.mfn;
        core::mem::forget(self);
        mfn
    }
}

impl Drop for PinnedFrame {
    fn drop(&mut self) {
        if self.counted {
            foreign::unmap(self.mfn);
        }
    }
}

impl sealed::Sealed for PinnedFrame {}
impl Frame for PinnedFrame {
    fn mfn(&self) -> Mfn {
        self.mfn
    }
}

/// The handles on the real allocator (`mm::testing`): what safe code can and
/// cannot do with a frame it holds.
#[cfg(test)]
mod tests {
    use super::super::p2m::{Access, Format, Gfn, P2m, P2mError, P2mType};
    use super::super::{foreign, testing};
    use super::*;

    #[test]
    fn a_device_range_never_covers_ram_the_allocator_hands_out() {
        let _frames = testing::frames();
        assert_eq!(DeviceRange::new(0x10_0000, 1, DeviceKind::Mmio), None, "the first usable frame");
        assert_eq!(DeviceRange::new(testing::MEMORY - 0x1000, 2, DeviceKind::Firmware), None, "straddles the end of RAM");
        assert_eq!(DeviceRange::new(0xf_f000, 2, DeviceKind::Firmware), None, "straddles the start of RAM");
        assert_eq!(DeviceRange::new(0xfee0_0800, 1, DeviceKind::Mmio), None, "not frame aligned");
        assert_eq!(DeviceRange::new(0xffff_f000, u64::MAX, DeviceKind::Mmio), None, "wraps");
        let low = DeviceRange::new(0xe_0000, 0x20, DeviceKind::Firmware).expect("below the usable RAM");
        assert_eq!((low.first().raw(), low.frames(), low.kind()), (0xe0, 0x20, DeviceKind::Firmware));
        assert!(DeviceRange::new(testing::MEMORY, 16, DeviceKind::Mmio).is_some(), "right after RAM");
    }

    #[test]
    fn a_p2m_maps_firmware_read_only_and_mmio_read_write() {
        let _frames = testing::frames();
        let before = testing::free();
        let mut p2m = P2m::new_machine(Format::Ept).unwrap();
        p2m.map_device(Gfn(0xe0), DeviceRange::new(0xe_0000, 0x20, DeviceKind::Firmware).unwrap()).unwrap();
        p2m.map_device(Gfn(0xfee00), DeviceRange::new(0xfee0_0000, 1, DeviceKind::Mmio).unwrap()).unwrap();
        let fw = p2m.translate(Gfn(0xef)).unwrap();
        assert_eq!((fw.mfn.raw(), fw.p2m_type, fw.access), (0xef, P2mType::ReadOnlyFirmware, Access::READ));
        let mmio = p2m.translate(Gfn(0xfee00)).unwrap();
        assert_eq!((mmio.p2m_type, mmio.access), (P2mType::MmioPassthrough, Access::READ | Access::WRITE));
        assert!(p2m.ram_frame(Gfn(0xef), false).is_none(), "no handle on device memory");
        let removed = p2m.remove(Gfn(0xef)).unwrap().unwrap();
        removed.release();
        p2m.release_all();
        assert_eq!(testing::free(), before, "device memory was never the allocator's");
    }

    #[test]
    fn ram_handed_to_a_p2m_is_its_own_and_comes_back_on_a_failed_map() {
        let _frames = testing::frames();
        let before = testing::free();
        let mut p2m = P2m::new_machine(Format::Npt).unwrap();
        p2m.map_ram(Gfn(0x200), OwnedRun::alloc(512, 512).unwrap()).unwrap();
        let (e, back) = p2m.map_ram(Gfn(0x3ff), OwnedRun::alloc(1, 1).unwrap()).unwrap_err();
        assert_eq!(e, P2mError::AlreadyMapped(Gfn(0x3ff)));
        back.release();
        let used = before - testing::free();
        let removed = p2m.remove(Gfn(0x201)).unwrap().unwrap();
        assert_eq!(removed.p2m_type(), P2mType::Ram);
        removed.release();
        // One frame freed, one table taken to split the 2 MiB leaf.
        assert_eq!(before - testing::free(), used);
        let tables = p2m.table_frames();
        assert_eq!(p2m.release_all(), tables);
        assert_eq!(testing::free(), before);
    }

    #[test]
    fn a_mapping_takes_a_reference_only_with_the_access_its_pin_allows() {
        let _frames = testing::frames();
        let before = testing::free();
        let owned = OwnedFrame::alloc().unwrap();
        let mfn = owned.mfn();
        let mut p2m = P2m::new_machine(Format::Npt).unwrap();
        let ro = owned.pin().unwrap().read_only();
        assert!(matches!(
            p2m.map_reference(Gfn(1), ro, P2mType::GrantMap, Access::READ | Access::WRITE),
            Err(P2mError::BadAccess { .. })
        ));
        assert!(p2m.map_reference(Gfn(1), owned.pin().unwrap(), P2mType::Ram, Access::all()).is_err(), "only grant or foreign");
        assert_eq!(foreign::mappings(mfn), 0, "the refused pins were dropped");
        p2m.map_reference(Gfn(1), owned.pin().unwrap().read_only(), P2mType::GrantMap, Access::READ).unwrap();
        assert_eq!(foreign::mappings(mfn), 1, "the pin became the mapping's reference");
        // The owner lets go while the mapping holds it: not freed yet.
        let held = testing::free();
        super::super::free_frame(owned);
        assert_eq!(testing::free(), held);
        p2m.remove(Gfn(1)).unwrap().unwrap().release();
        assert_eq!(foreign::mappings(mfn), 0);
        assert_eq!(testing::free(), held + 1, "the last reference freed it");
        p2m.release_all();
        assert_eq!(testing::free(), before);
    }

    #[test]
    fn a_hypervisor_frame_in_a_p2m_is_never_freed_through_it() {
        let _frames = testing::frames();
        let before = testing::free();
        let (a, b) = (OwnedFrame::alloc().unwrap(), OwnedFrame::alloc().unwrap());
        let mut p2m = P2m::new_machine(Format::Npt).unwrap();
        p2m.map_hypervisor_frame(Gfn(5), &a, Access::READ | Access::WRITE).unwrap();
        let removed = p2m.remove(Gfn(5)).unwrap().unwrap();
        let removed = removed.keep(&b).unwrap_err();
        assert_eq!(removed.keep(&a), Ok(()));
        p2m.map_hypervisor_frame(Gfn(6), &b, Access::READ | Access::WRITE).unwrap();
        assert_eq!(p2m.translate(Gfn(6)).unwrap().p2m_type, P2mType::Ram, "the domain sees RAM");
        assert_eq!(p2m.move_ram(Gfn(6), Gfn(7)), Ok(false), "not the domain's RAM to move");
        // Released by mistake as if it were the domain's RAM: the entry
        // says it is the hypervisor's, so nothing is freed.
        let held = testing::free();
        p2m.remove(Gfn(6)).unwrap().unwrap().release();
        assert_eq!(testing::free(), held);
        p2m.map_hypervisor_frame(Gfn(6), &b, Access::READ | Access::WRITE).unwrap();
        p2m.map_ram(Gfn(8), OwnedRun::alloc(1, 1).unwrap()).unwrap();
        let ram = p2m.remove(Gfn(8)).unwrap().unwrap();
        let ram = ram.keep(&b).unwrap_err();
        ram.release();
        assert_eq!(testing::free(), held, "the domain's RAM freed");
        let tables = p2m.table_frames();
        p2m.release_all();
        assert_eq!(testing::free(), held + tables, "only the tables: the hypervisor frames are kept");
        a.release();
        b.release();
        assert_eq!(testing::free(), before);
    }
}
