//! Nested page tables (Xen's p2m): guest frames (gfn) to machine frames (mfn),
//! in AMD's NPT format or Intel's EPT format.
//!
//! One builder serves both formats: the walk, large pages, splitting and
//! freeing are shared, and only the bits of an entry differ ([`Format`]).
//! Where table frames come from, and how entries are read and written, is the
//! [`TableMemory`] trait: [`MachineTables`] in the hypervisor (the frame
//! allocator and the physical-memory window), fakes in the tests.
//!
//! Update rules, so that a CPU walking the tables while they change never
//! sees a torn or half-built mapping (the tests replay every write to check):
//! - every entry is written with one 64-bit store;
//! - a new table is filled completely before the entry linking it is written;
//! - a mapping is replaced by one store, never cleared and then set;
//! - a table unlinked from the tree is freed only after the caller has flushed
//!   the guest's cached translations ([`P2m::flushed`]): until then a CPU may
//!   still follow the old link from its paging-structure caches.
//!
//! Each leaf also records a [`P2mType`] in bits the hardware ignores, so the
//! p2m answers "what is at this gfn" for holes too (emulated MMIO is a
//! non-present entry that faults into the hypervisor).

use alloc::vec::Vec;
use core::fmt;
use core::sync::atomic::{AtomicU64, Ordering};

use bitflags::bitflags;

use super::frame::Mfn;
use super::handle::{DeviceKind, DeviceRange, OwnedFrame, OwnedRun, PinnedFrame};
use super::physmap;

/// Entries per table (4 KiB / 8 bytes), at every level.
pub const ENTRIES: usize = 512;
/// Guest-physical address width with 4-level nested tables.
pub const GUEST_PHYS_BITS: u32 = 48;
/// First gfn past the guest-physical address space.
pub const GFN_LIMIT: u64 = 1 << (GUEST_PHYS_BITS - 12);
/// First mfn past the widest physical address x86-64 defines (52 bits,
/// SDM Vol. 3A 4.1.4 MAXPHYADDR; APM Vol. 2 5.3.1).
pub const MFN_LIMIT: u64 = 1 << (52 - 12);
/// Address bits 51:12 of an entry, in both formats.
const ADDR_MASK: u64 = 0x000f_ffff_ffff_f000;
/// Bit 7 marks a large-page leaf in both formats (NPT PS, EPT "page size").
const LARGE: u64 = 1 << 7;
/// The software type field is 3 bits wide.
const TYPE_MASK: u64 = 0b111;
/// The type code of a hypervisor frame mapped as RAM (shown as
/// `P2mType::Ram`): the one code `P2mType` leaves free.
const HYPERVISOR_FRAME: u64 = 7;

/// AMD NPT entries: the long-mode page-table format (APM Vol. 2 5.4.1,
/// Figures 5-18 to 5-21), walked as user accesses (APM Vol. 2 15.25.5), so
/// every present entry needs P, R/W for writes and U/S.
mod npt {
    pub const P: u64 = 1 << 0;
    pub const RW: u64 = 1 << 1;
    pub const US: u64 = 1 << 2;
    pub const PWT: u64 = 1 << 3;
    pub const PCD: u64 = 1 << 4;
    pub const NX: u64 = 1 << 63;
    /// Bits 11:9 are AVL, "available to software", at every level and when
    /// P=0 (APM Vol. 2 5.4.1 "Available to Software (AVL) Bits").
    pub const TYPE_SHIFT: u32 = 9;
}

/// Intel EPT entries (SDM Vol. 3C 29.3.2, Tables 29-1 to 29-6).
mod ept {
    pub const R: u64 = 1 << 0;
    pub const W: u64 = 1 << 1;
    pub const X: u64 = 1 << 2;
    /// Memory type, bits 5:3 of a leaf (SDM Vol. 3C 29.3.7.1).
    pub const MT_SHIFT: u32 = 3;
    pub const MT_UC: u64 = 0;
    pub const MT_WB: u64 = 6;
    /// Ignore the guest's PAT: the EPT memory type alone decides.
    pub const IPAT: u64 = 1 << 6;
    /// Bits 56:52 are ignored by the processor in every EPT entry (Tables
    /// 29-2 to 29-6; 57 and up are taken by newer features such as guest
    /// paging verification and supervisor shadow stacks). An entry whose
    /// bits 2:0 are 0 is not present and all its other bits are ignored.
    pub const TYPE_SHIFT: u32 = 52;
    /// EPTP: write-back paging-structure memory type, bits 2:0.
    pub const EPTP_MT_WB: u64 = 6;
    /// EPTP: page-walk length minus one, bits 5:3 (SDM Vol. 3C 25.6.11).
    pub const EPTP_WALK_4: u64 = 3 << 3;
}

/// A guest frame number: guest-physical address / 4096 (Xen's `gfn`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Gfn(pub u64);

impl Gfn {
    /// The frame holding guest-physical address `gpa`.
    pub const fn from_gpa(gpa: u64) -> Gfn {
        Gfn(gpa >> 12)
    }
    pub const fn gpa(self) -> u64 {
        self.0 << 12
    }
}

impl fmt::Display for Gfn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#x}", self.0)
    }
}

/// Which hardware walks the tables.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// AMD-V nested paging: the VMCB's nCR3 points at the root.
    Npt,
    /// Intel VT-x extended page tables: the VMCS's EPTP points at the root.
    Ept,
}

/// The size one leaf maps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum PageSize {
    Size4K,
    Size2M,
    Size1G,
}

impl PageSize {
    /// 4 KiB frames in one page of this size.
    pub const fn frames(self) -> u64 {
        match self {
            PageSize::Size4K => 1,
            PageSize::Size2M => 512,
            PageSize::Size1G => 512 * 512,
        }
    }

    pub const fn bytes(self) -> u64 {
        self.frames() << 12
    }

    /// The table level whose entries map pages of this size (1 = PT).
    const fn level(self) -> u32 {
        match self {
            PageSize::Size4K => 1,
            PageSize::Size2M => 2,
            PageSize::Size1G => 3,
        }
    }

    const fn at_level(level: u32) -> PageSize {
        match level {
            1 => PageSize::Size4K,
            2 => PageSize::Size2M,
            _ => PageSize::Size1G,
        }
    }
}

impl fmt::Display for PageSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PageSize::Size4K => "4 KiB",
            PageSize::Size2M => "2 MiB",
            PageSize::Size1G => "1 GiB",
        })
    }
}

bitflags! {
    /// What the guest may do with a mapping.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct Access: u8 {
        const READ = 1 << 0;
        const WRITE = 1 << 1;
        const EXECUTE = 1 << 2;
    }
}

/// What a gfn is, recorded in every leaf.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum P2mType {
    /// Ordinary RAM given to the domain (write-back).
    Ram,
    /// A device's MMIO passed through to the domain (uncached).
    MmioPassthrough,
    /// Firmware memory shown read-only, e.g. the ACPI tables to Dom0.
    ReadOnlyFirmware,
    /// A hole the hardware cannot reach: accesses fault (#NPF / EPT
    /// violation) so the hypervisor emulates the device behind it.
    EmulatedMmio,
    /// Another domain's frame mapped through a grant (Xen's
    /// `p2m_grant_map_rw`/`_ro`, by access): write-back like RAM, but never
    /// the domain's to free, and not memory the hypervisor reads or writes
    /// on the domain's behalf. Only the grant unmap (or the mapper's
    /// destruction) removes it: its maptrack handle names it.
    GrantMap,
    /// Another domain's RAM frame mapped here (XENMAPSPACE_gmfn_foreign,
    /// Xen's `p2m_map_foreign`), write-back like RAM; the physmap ops
    /// remove it like RAM (no handle names it). See `mm::foreign` for why
    /// it is a type of its own.
    Foreign,
}

impl P2mType {
    /// The value stored in an entry's software bits; 0 means "no type", which
    /// is what table (non-leaf) entries carry.
    const fn code(self) -> u64 {
        match self {
            P2mType::Ram => 1,
            P2mType::MmioPassthrough => 2,
            P2mType::ReadOnlyFirmware => 3,
            P2mType::EmulatedMmio => 4,
            P2mType::GrantMap => 5,
            P2mType::Foreign => 6,
        }
    }

    const fn from_code(code: u64) -> Option<P2mType> {
        match code {
            1 => Some(P2mType::Ram),
            2 => Some(P2mType::MmioPassthrough),
            3 => Some(P2mType::ReadOnlyFirmware),
            4 => Some(P2mType::EmulatedMmio),
            5 => Some(P2mType::GrantMap),
            6 => Some(P2mType::Foreign),
            _ => None,
        }
    }
}

/// One translation: the machine frame behind a gfn and how it is mapped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct P2mEntry {
    /// The machine frame backing the gfn asked for (for a large page, the
    /// page's first frame plus the gfn's offset in it). For an
    /// [`P2mType::EmulatedMmio`] hole, the value given when it was mapped.
    pub mfn: Mfn,
    pub p2m_type: P2mType,
    /// Empty for an [`P2mType::EmulatedMmio`] hole.
    pub access: Access,
    /// The size of the leaf that maps the gfn.
    pub size: PageSize,
    /// A [`P2mType::Ram`] frame the hypervisor owns and the domain only
    /// maps (`P2m::map_hypervisor_frame`): removing it frees nothing.
    pub(in crate::mm) hypervisor_frame: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum P2mError {
    /// gfn {gfn} or mfn {mfn} is not aligned to a {size} page
    Misaligned { gfn: Gfn, mfn: Mfn, size: PageSize },
    /// gfn {0} (+{1} frames) is past the 48-bit guest-physical address space
    GfnTooLarge(Gfn, u64),
    /// mfn {0} (+{1} frames) is past the 52-bit physical address space
    MfnTooLarge(Mfn, u64),
    /// gfn {0} is already mapped (remap or unmap it first)
    AlreadyMapped(Gfn),
    /// a {p2m_type:?} mapping cannot have access {access:?}
    BadAccess { p2m_type: P2mType, access: Access },
    /// {0} pages are not enabled for this p2m
    PageSizeDisabled(PageSize),
    /// no frame left for a page table
    OutOfMemory,
}

impl fmt::Display for P2mError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            P2mError::Misaligned { gfn, mfn, size } => {
                write!(f, "gfn {gfn} or mfn {mfn} is not aligned to a {size} page")
            }
            P2mError::GfnTooLarge(gfn, n) => {
                write!(f, "gfn {gfn} (+{n} frames) is past the 48-bit guest-physical address space")
            }
            P2mError::MfnTooLarge(mfn, n) => write!(f, "mfn {mfn} (+{n} frames) is past the 52-bit physical address space"),
            P2mError::AlreadyMapped(gfn) => write!(f, "gfn {gfn} is already mapped (remap or unmap it first)"),
            P2mError::BadAccess { p2m_type, access } => {
                write!(f, "a {p2m_type:?} mapping cannot have access {access:?} (READ is required, WRITE is not allowed for firmware)")
            }
            P2mError::PageSizeDisabled(size) => write!(f, "{size} pages are not enabled for this p2m"),
            P2mError::OutOfMemory => f.write_str("no frame left for a p2m page table"),
        }
    }
}

/// Where table frames come from and how their entries are reached.
pub trait TableMemory {
    /// A fresh table frame, all entries zero.
    fn alloc_table(&mut self) -> Option<Mfn>;
    /// Gives back a table frame that no entry links any more.
    fn free_table(&mut self, table: Mfn);
    fn read_entry(&self, table: Mfn, index: usize) -> u64;
    /// Writes one entry with a single 64-bit store: a concurrent walk sees
    /// the old value or the new one, never a mix.
    fn write_entry(&mut self, table: Mfn, index: usize, value: u64);
}

impl<T: TableMemory + ?Sized> TableMemory for &mut T {
    fn alloc_table(&mut self) -> Option<Mfn> {
        (**self).alloc_table()
    }
    fn free_table(&mut self, table: Mfn) {
        (**self).free_table(table)
    }
    fn read_entry(&self, table: Mfn, index: usize) -> u64 {
        (**self).read_entry(table, index)
    }
    fn write_entry(&mut self, table: Mfn, index: usize, value: u64) {
        (**self).write_entry(table, index, value)
    }
}

/// Table frames from the hypervisor's frame allocator, reached through the
/// physical-memory window. Only [`P2m::new_machine`] makes one, and a `P2m`
/// never lends out its memory, so entries are only ever read and written in
/// frames that p2m allocated.
pub struct MachineTables {
    _private: (),
}

impl MachineTables {
    /// Where entry `index` of `table` is in the physical-memory window.
    fn entry_ptr(table: Mfn, index: usize) -> *mut u64 {
        assert!(index < ENTRIES, "p2m table index {index} out of range");
        physmap::ptr::<u64>(table.addr() + index as u64 * 8)
    }
}

impl TableMemory for MachineTables {
    fn alloc_table(&mut self) -> Option<Mfn> {
        super::alloc_mfn()
    }

    fn free_table(&mut self, table: Mfn) {
        if let Err(e) = super::free_mfn(table) {
            error!("p2m", "freeing table mfn={table}: {e:?}");
        }
    }

    fn read_entry(&self, table: Mfn, index: usize) -> u64 {
        // SAFETY: `table` is a frame this p2m got from `alloc_mfn` and has not freed (see the type's doc), so the entry is RAM inside the window, 8-byte aligned and owned by the p2m, which only accesses it atomically (the CPU's table walker reads it too). The reference lives for this one load.
        unsafe { AtomicU64::from_ptr(Self::entry_ptr(table, index)) }.load(Ordering::Acquire)
    }

    fn write_entry(&mut self, table: Mfn, index: usize, value: u64) {
        // SAFETY: as in `read_entry`; the reference lives for this one store. Release: a new table's entries are visible before the link to it.
        unsafe { AtomicU64::from_ptr(Self::entry_ptr(table, index)) }.store(value, Ordering::Release)
    }
}

/// What one entry holds, decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Slot {
    Empty,
    Table(Mfn),
    /// A leaf; its `mfn` is the page's first frame.
    Leaf(P2mEntry),
}

impl Format {
    fn type_shift(self) -> u32 {
        match self {
            Format::Npt => npt::TYPE_SHIFT,
            Format::Ept => ept::TYPE_SHIFT,
        }
    }

    fn present(self, raw: u64) -> bool {
        match self {
            Format::Npt => raw & npt::P != 0,
            Format::Ept => raw & (ept::R | ept::W | ept::X) != 0,
        }
    }

    /// An entry linking the next-level `table`: every permission, so the
    /// leaf alone decides.
    fn table_entry(self, table: Mfn) -> u64 {
        table.addr()
            | match self {
                Format::Npt => npt::P | npt::RW | npt::US,
                Format::Ept => ept::R | ept::W | ept::X,
            }
    }

    /// A leaf at `level` (1 = 4 KiB). The caller has checked alignment and access.
    fn leaf_entry(self, level: u32, mfn: Mfn, p2m_type: P2mType, access: Access) -> u64 {
        self.leaf_entry_coded(level, mfn, p2m_type, p2m_type.code(), access)
    }

    /// A leaf of `p2m_type` whose software field holds `code`.
    fn leaf_entry_coded(self, level: u32, mfn: Mfn, p2m_type: P2mType, code: u64, access: Access) -> u64 {
        let mut raw = mfn.addr() | (code << self.type_shift());
        if level > 1 {
            raw |= LARGE;
        }
        if p2m_type == P2mType::EmulatedMmio {
            // Not present: every access exits to the hypervisor.
            return raw;
        }
        let mmio = p2m_type == P2mType::MmioPassthrough;
        match self {
            Format::Npt => {
                raw |= npt::P | npt::US;
                if access.contains(Access::WRITE) {
                    raw |= npt::RW;
                }
                if !access.contains(Access::EXECUTE) {
                    raw |= npt::NX;
                }
                if mmio {
                    // PAT index 3, UC in the power-on PAT (APM Vol. 2 7.8.2).
                    raw |= npt::PCD | npt::PWT;
                }
            }
            Format::Ept => {
                for (flag, bit) in [(Access::READ, ept::R), (Access::WRITE, ept::W), (Access::EXECUTE, ept::X)] {
                    if access.contains(flag) {
                        raw |= bit;
                    }
                }
                raw |= if mmio {
                    (ept::MT_UC << ept::MT_SHIFT) | ept::IPAT
                } else {
                    // WB combined with the guest's PAT, so a guest can still
                    // map its own framebuffer write-combining.
                    ept::MT_WB << ept::MT_SHIFT
                };
            }
        }
        raw
    }

    fn access_of(self, raw: u64, p2m_type: P2mType) -> Access {
        if p2m_type == P2mType::EmulatedMmio {
            return Access::empty();
        }
        let mut access = Access::empty();
        match self {
            Format::Npt => {
                access.set(Access::READ, raw & npt::P != 0);
                access.set(Access::WRITE, raw & npt::RW != 0);
                access.set(Access::EXECUTE, raw & npt::NX == 0);
            }
            Format::Ept => {
                access.set(Access::READ, raw & ept::R != 0);
                access.set(Access::WRITE, raw & ept::W != 0);
                access.set(Access::EXECUTE, raw & ept::X != 0);
            }
        }
        access
    }

    fn decode(self, raw: u64, level: u32) -> Slot {
        if raw == 0 {
            return Slot::Empty;
        }
        let code = (raw >> self.type_shift()) & TYPE_MASK;
        let mfn = Mfn((raw & ADDR_MASK) >> 12);
        let hypervisor_frame = code == HYPERVISOR_FRAME;
        let p2m_type = if hypervisor_frame { Some(P2mType::Ram) } else { P2mType::from_code(code) };
        match p2m_type {
            Some(p2m_type) if level == 1 || raw & LARGE != 0 => Slot::Leaf(P2mEntry {
                mfn,
                p2m_type,
                access: self.access_of(raw, p2m_type),
                size: PageSize::at_level(level),
                hypervisor_frame,
            }),
            None if level > 1 && raw & LARGE == 0 && self.present(raw) => Slot::Table(mfn),
            _ => {
                // Only this module writes entries, and it writes no others.
                debug_assert!(false, "p2m entry {raw:#x} at level {level} is neither a leaf nor a table");
                Slot::Empty
            }
        }
    }
}

#[allow(clippy::cast_possible_truncation, reason = "masked to 9 bits")]
fn index_of(gfn: Gfn, level: u32) -> usize {
    ((gfn.0 >> (9 * (level - 1))) & (ENTRIES as u64 - 1)) as usize
}

/// A domain's nested page tables.
///
/// Dropping a `P2m` leaks its table frames: the owner calls
/// [`destroy`](P2m::destroy) once no CPU can use it any more.
pub struct P2m<M: TableMemory> {
    format: Format,
    mem: M,
    root: Mfn,
    /// Table frames linked into the tree, the root included.
    tables: usize,
    /// The largest leaf `map_range` may use.
    max_page: PageSize,
    /// Tables unlinked from the tree, freed by `flushed`.
    unlinked: Vec<Mfn>,
    needs_flush: bool,
}

impl P2m<MachineTables> {
    /// A domain's p2m in frames from the hypervisor's allocator.
    pub fn new_machine(format: Format) -> Result<Self, P2mError> {
        P2m::new(format, MachineTables { _private: () })
    }

    /// The RAM frame at `gfn` (mapped writable, if `write`), for as long as
    /// this p2m is borrowed: the handle through which the hypervisor may
    /// touch it (`mm::handle`).
    pub fn ram_frame(&self, gfn: Gfn, write: bool) -> Option<super::handle::FrameRef<'_>> {
        let e = self.translate(gfn)?;
        let writable = e.access.contains(Access::WRITE);
        (e.p2m_type == P2mType::Ram && (writable || !write)).then(|| super::handle::FrameRef::new(e.mfn, writable))
    }

    /// Maps `ram`, RAM the domain now owns, at `gfn` onwards (read, write,
    /// execute; the largest leaves alignment allows). The p2m owns the run
    /// from then on: only [`remove`](P2m::remove) or
    /// [`release_all`](P2m::release_all) lets go of it. On an error the run
    /// comes back.
    pub fn map_ram(&mut self, gfn: Gfn, ram: OwnedRun) -> Result<(), (P2mError, OwnedRun)> {
        match self.map_range(gfn, ram.first(), ram.frames(), P2mType::Ram, Access::all()) {
            Ok(()) => {
                ram.into_mapping();
                Ok(())
            }
            Err(e) => Err((e, ram)),
        }
    }

    /// Maps firmware (read-only) or a device's MMIO (read-write) by
    /// address, identity or not: frames the allocator never hands out.
    pub fn map_device(&mut self, gfn: Gfn, range: DeviceRange) -> Result<(), P2mError> {
        let (p2m_type, access) = match range.kind() {
            DeviceKind::Firmware => (P2mType::ReadOnlyFirmware, Access::READ),
            DeviceKind::Mmio => (P2mType::MmioPassthrough, Access::READ | Access::WRITE),
        };
        self.map_range(gfn, range.first(), range.frames(), p2m_type, access)
    }

    /// Maps a hypervisor frame the domain uses but does not own (its
    /// shared-info page, a grant-table frame) as RAM at `gfn`. The owner
    /// keeps it: removing the mapping gives nothing to free
    /// ([`Unmapped::keep`]), and the owner releases it only once the
    /// domain is dead.
    pub fn map_hypervisor_frame(&mut self, gfn: Gfn, frame: &OwnedFrame, access: Access) -> Result<(), P2mError> {
        let size = PageSize::Size4K;
        self.check(gfn, frame.mfn(), size, size.frames(), P2mType::Ram, access)?;
        let leaf = self.format.leaf_entry_coded(size.level(), frame.mfn(), P2mType::Ram, HYPERVISOR_FRAME, access);
        self.set(gfn, size, leaf, false)
    }

    /// Maps `frame`, pinned, at `gfn` as a grant or foreign mapping
    /// (`kind`): the pin becomes the entry's reference, given back when
    /// the entry goes. Write access needs a writable pin. On an error the
    /// pin is dropped.
    pub fn map_reference(&mut self, gfn: Gfn, frame: PinnedFrame, kind: P2mType, access: Access) -> Result<(), P2mError> {
        let refused = !matches!(kind, P2mType::GrantMap | P2mType::Foreign) || (access.contains(Access::WRITE) && !frame.writable());
        if refused {
            return Err(P2mError::BadAccess { p2m_type: kind, access });
        }
        self.map(gfn, frame.mfn(), PageSize::Size4K, kind, access)?;
        frame.into_mapping();
        Ok(())
    }

    /// Moves the RAM frame at `from` to the empty `to` (read, write,
    /// execute); Ok(false) if `from` holds no RAM. If `to` cannot be
    /// mapped the frame goes back to `from`. The caller flushes.
    pub fn move_ram(&mut self, from: Gfn, to: Gfn) -> Result<bool, P2mError> {
        if self.translate(from).is_none_or(|e| e.p2m_type != P2mType::Ram || e.hypervisor_frame) {
            return Ok(false);
        }
        let Some((mfn, _)) = self.unmap(from)? else { return Ok(false) };
        if let Err(e) = self.map(to, mfn, PageSize::Size4K, P2mType::Ram, Access::all()) {
            // That slot was just emptied.
            let _ = self.map(from, mfn, PageSize::Size4K, P2mType::Ram, Access::all());
            return Err(e);
        }
        Ok(true)
    }

    /// Unmaps the 4 KiB frame `gfn` (as [`unmap`](P2m::unmap)) and gives
    /// back what the entry held, to let go of once the domain's
    /// translations are flushed.
    pub fn remove(&mut self, gfn: Gfn) -> Result<Option<Unmapped>, P2mError> {
        Ok(self.unmap_leaf(gfn)?.map(|e| Unmapped { mfn: e.mfn, p2m_type: e.p2m_type, hypervisor_frame: e.hypervisor_frame }))
    }

    /// Lets go of every frame the p2m holds and frees its tables; returns
    /// the tables freed. The domain's RAM is released by its owner (freed,
    /// or at the last unmap of a mapping elsewhere); hypervisor frames stay
    /// their owner's; grant and foreign mappings drop their reference. No
    /// CPU may use the p2m any more (the domain is dead and its
    /// translations flushed).
    pub fn release_all(self) -> usize {
        self.for_each_leaf(|_, e| match e.p2m_type {
            P2mType::Ram if e.hypervisor_frame => {}
            P2mType::Ram => {
                for i in 0..e.size.frames() {
                    super::foreign::release_owned(Mfn(e.mfn.0 + i));
                }
            }
            P2mType::GrantMap | P2mType::Foreign => super::foreign::unmap(e.mfn),
            P2mType::MmioPassthrough | P2mType::ReadOnlyFirmware | P2mType::EmulatedMmio => {}
        });
        self.destroy()
    }
}

#[cfg(test)]
impl<M: TableMemory> P2m<M> {
    /// Maps made-up frame numbers, for host tests outside `mm` that use
    /// fake tables and fake frames (nothing reads or writes such a frame).
    pub fn map_range_fake(&mut self, gfn: Gfn, mfn: u64, count: u64, p2m_type: P2mType, access: Access) -> Result<(), P2mError> {
        self.map_range(gfn, Mfn(mfn), count, p2m_type, access)
    }
}

/// What a removed p2m entry held (`P2m::remove`): let go of it with
/// [`release`](Unmapped::release) after the flush, or
/// [`keep`](Unmapped::keep) it when it mapped a hypervisor frame (whose
/// release frees nothing: the entry's type says who owns the frame).
/// Dropped without either, nothing is freed (a leak, never a free too many).
#[must_use = "the frame a removed entry held is released or kept"]
#[derive(Debug, PartialEq, Eq)]
pub struct Unmapped {
    mfn: Mfn,
    p2m_type: P2mType,
    hypervisor_frame: bool,
}

impl Unmapped {
    pub fn mfn(&self) -> Mfn {
        self.mfn
    }

    pub fn p2m_type(&self) -> P2mType {
        self.p2m_type
    }

    /// Lets go of the frame: RAM the domain owned is released by its owner
    /// (freed now, or at the last unmap of a mapping elsewhere), a grant or
    /// foreign mapping gives its reference back; device memory and holes
    /// held nothing.
    pub fn release(self) {
        match self.p2m_type {
            P2mType::Ram if self.hypervisor_frame => {}
            P2mType::Ram => super::foreign::release_owned(self.mfn),
            P2mType::GrantMap | P2mType::Foreign => super::foreign::unmap(self.mfn),
            P2mType::MmioPassthrough | P2mType::ReadOnlyFirmware | P2mType::EmulatedMmio => {}
        }
    }

    /// The entry mapped `owner`'s frame (`P2m::map_hypervisor_frame`),
    /// which its owner keeps: nothing to free. Err(self) if it mapped
    /// anything else.
    pub fn keep(self, owner: &OwnedFrame) -> Result<(), Unmapped> {
        if self.hypervisor_frame && self.mfn == owner.mfn() { Ok(()) } else { Err(self) }
    }
}

impl<M: TableMemory> P2m<M> {
    /// An empty p2m: one root table, every gfn unmapped. Leaves are at most
    /// 2 MiB until [`set_max_page_size`](P2m::set_max_page_size) allows 1 GiB.
    pub fn new(format: Format, mut mem: M) -> Result<Self, P2mError> {
        let root = mem.alloc_table().ok_or(P2mError::OutOfMemory)?;
        Ok(P2m {
            format,
            mem,
            root,
            tables: 1,
            max_page: PageSize::Size2M,
            unlinked: Vec::new(),
            needs_flush: false,
        })
    }

    pub fn format(&self) -> Format {
        self.format
    }

    /// Allows leaves up to `size`. 1 GiB leaves need CPUID Fn8000_0001
    /// EDX[26] (Page1GB) with NPT, or IA32_VMX_EPT_VPID_CAP bit 17 with EPT.
    pub fn set_max_page_size(&mut self, size: PageSize) {
        self.max_page = size;
    }

    /// The root table (PML4), whose address goes into nCR3 or the EPTP.
    pub fn root(&self) -> Mfn {
        self.root
    }

    /// The VMCB's nCR3 value (NPT).
    pub fn ncr3(&self) -> u64 {
        self.root.addr()
    }

    /// The VMCS's EPT pointer (EPT): write-back tables, 4-level walk, no
    /// accessed/dirty flags.
    pub fn eptp(&self) -> u64 {
        debug_assert_eq!(self.format, Format::Ept, "eptp of an NPT p2m");
        self.root.addr() | ept::EPTP_WALK_4 | ept::EPTP_MT_WB
    }

    /// Table frames in use (linked or waiting for a flush).
    pub fn table_frames(&self) -> usize {
        self.tables + self.unlinked.len()
    }

    /// Marks the 4 KiB frame `gfn` as a hole the hypervisor emulates.
    pub fn map_hole(&mut self, gfn: Gfn) -> Result<(), P2mError> {
        self.map(gfn, Mfn(0), PageSize::Size4K, P2mType::EmulatedMmio, Access::empty())
    }

    /// Maps `size` worth of frames at `gfn` to `mfn`. Fails with
    /// [`P2mError::AlreadyMapped`] if anything (a leaf or a hole) is mapped in
    /// that range; [`remap`](P2m::remap) replaces instead.
    pub(in crate::mm) fn map(&mut self, gfn: Gfn, mfn: Mfn, size: PageSize, p2m_type: P2mType, access: Access) -> Result<(), P2mError> {
        self.check(gfn, mfn, size, size.frames(), p2m_type, access)?;
        let leaf = self.format.leaf_entry(size.level(), mfn, p2m_type, access);
        self.set(gfn, size, leaf, false)
    }

    /// Maps like [`map`](P2m::map) but replaces whatever was there, with one
    /// store per entry (a larger page around it is split first). Sets
    /// [`needs_flush`](P2m::needs_flush) if something was replaced.
    #[allow(dead_code, reason = "no mapping is replaced in place yet; the update rules are tested on it")]
    pub(in crate::mm) fn remap(&mut self, gfn: Gfn, mfn: Mfn, size: PageSize, p2m_type: P2mType, access: Access) -> Result<(), P2mError> {
        self.check(gfn, mfn, size, size.frames(), p2m_type, access)?;
        let leaf = self.format.leaf_entry(size.level(), mfn, p2m_type, access);
        self.set(gfn, size, leaf, true)
    }

    /// Maps `count` 4 KiB frames from `gfn` to `mfn` onwards, with the
    /// largest leaves the alignment of both allows. All or nothing: on an
    /// error, what this call mapped is unmapped again.
    pub(in crate::mm) fn map_range(&mut self, gfn: Gfn, mfn: Mfn, count: u64, p2m_type: P2mType, access: Access) -> Result<(), P2mError> {
        self.check(gfn, mfn, PageSize::Size4K, count, p2m_type, access)?;
        let mut done = 0;
        while done < count {
            let size = self.largest_fit(gfn.0 + done, mfn.0 + done, count - done);
            let leaf = self.format.leaf_entry(size.level(), Mfn(mfn.0 + done), p2m_type, access);
            if let Err(e) = self.set(Gfn(gfn.0 + done), size, leaf, false) {
                self.clear_range(gfn, mfn, done);
                return Err(e);
            }
            done += size.frames();
        }
        Ok(())
    }

    /// Unmaps the 4 KiB frame `gfn` and returns what it was mapped to (an
    /// emulated-MMIO hole is removed too). A larger page around it is split
    /// first, which needs table frames: `Err(OutOfMemory)` then, with the
    /// mapping unchanged. The caller flushes before reusing the frame.
    pub(in crate::mm) fn unmap(&mut self, gfn: Gfn) -> Result<Option<(Mfn, P2mType)>, P2mError> {
        Ok(self.unmap_leaf(gfn)?.map(|leaf| (leaf.mfn, leaf.p2m_type)))
    }

    /// As [`unmap`](P2m::unmap), with the whole entry removed.
    fn unmap_leaf(&mut self, gfn: Gfn) -> Result<Option<P2mEntry>, P2mError> {
        if gfn.0 >= GFN_LIMIT {
            return Ok(None);
        }
        let mut table = self.root;
        for level in (1..=4).rev() {
            let index = index_of(gfn, level);
            match self.format.decode(self.mem.read_entry(table, index), level) {
                Slot::Empty => return Ok(None),
                Slot::Table(next) => table = next,
                Slot::Leaf(leaf) if level == 1 => {
                    self.mem.write_entry(table, index, 0);
                    self.needs_flush = true;
                    return Ok(Some(leaf));
                }
                Slot::Leaf(leaf) => table = self.split(table, index, level, leaf)?,
            }
        }
        unreachable!("a level-1 entry is a leaf or empty")
    }

    /// What `gfn` is mapped to, if anything.
    pub fn translate(&self, gfn: Gfn) -> Option<P2mEntry> {
        if gfn.0 >= GFN_LIMIT {
            return None;
        }
        let mut table = self.root;
        for level in (1..=4).rev() {
            match self.format.decode(self.mem.read_entry(table, index_of(gfn, level)), level) {
                Slot::Empty => return None,
                Slot::Table(next) => table = next,
                Slot::Leaf(mut leaf) => {
                    leaf.mfn = Mfn(leaf.mfn.0 + (gfn.0 & (leaf.size.frames() - 1)));
                    return Some(leaf);
                }
            }
        }
        None
    }

    /// True once a mapping was changed or removed: the guest's cached
    /// translations must be flushed (INVEPT single-context with EPT, a
    /// TLB_CONTROL flush of the ASID with NPT) on every CPU that ran it,
    /// then [`flushed`](P2m::flushed) called.
    pub fn needs_flush(&self) -> bool {
        self.needs_flush
    }

    /// Records that the flush happened and frees the table frames unlinked
    /// before it; returns how many.
    pub fn flushed(&mut self) -> usize {
        self.needs_flush = false;
        let count = self.unlinked.len();
        for table in self.unlinked.drain(..) {
            self.mem.free_table(table);
        }
        count
    }

    /// Frees every table frame and returns how many. No CPU may use the p2m
    /// any more (the domain is dead and its translations flushed).
    pub fn destroy(mut self) -> usize {
        let root = self.root;
        let freed = self.free_tree(root, 4) + self.unlinked.len();
        for table in core::mem::take(&mut self.unlinked) {
            self.mem.free_table(table);
        }
        freed
    }

    fn check(&self, gfn: Gfn, mfn: Mfn, size: PageSize, count: u64, p2m_type: P2mType, access: Access) -> Result<(), P2mError> {
        if size > self.max_page {
            return Err(P2mError::PageSizeDisabled(size));
        }
        if !gfn.0.is_multiple_of(size.frames()) || !mfn.0.is_multiple_of(size.frames()) {
            return Err(P2mError::Misaligned { gfn, mfn, size });
        }
        if gfn.0.checked_add(count).is_none_or(|end| end > GFN_LIMIT) {
            return Err(P2mError::GfnTooLarge(gfn, count));
        }
        if mfn.0.checked_add(count).is_none_or(|end| end > MFN_LIMIT) {
            return Err(P2mError::MfnTooLarge(mfn, count));
        }
        let bad_access = match p2m_type {
            P2mType::EmulatedMmio => false,
            P2mType::ReadOnlyFirmware => !access.contains(Access::READ) || access.contains(Access::WRITE),
            P2mType::Ram | P2mType::MmioPassthrough | P2mType::GrantMap | P2mType::Foreign => {
                !access.contains(Access::READ)
            }
        };
        if bad_access {
            return Err(P2mError::BadAccess { p2m_type, access });
        }
        Ok(())
    }

    fn largest_fit(&self, gfn: u64, mfn: u64, remaining: u64) -> PageSize {
        [PageSize::Size1G, PageSize::Size2M]
            .into_iter()
            .filter(|&s| s <= self.max_page)
            .find(|s| gfn.is_multiple_of(s.frames()) && mfn.is_multiple_of(s.frames()) && remaining >= s.frames())
            .unwrap_or(PageSize::Size4K)
    }

    /// Writes `leaf` for the `size` page at `gfn`, creating tables on the
    /// way. Without `replace`, anything already mapped there is an error.
    fn set(&mut self, gfn: Gfn, size: PageSize, leaf: u64, replace: bool) -> Result<(), P2mError> {
        let target = size.level();
        let mut table = self.root;
        for level in (target + 1..=4).rev() {
            let index = index_of(gfn, level);
            table = match self.format.decode(self.mem.read_entry(table, index), level) {
                Slot::Table(next) => next,
                Slot::Empty => self.link_new_table(table, index)?,
                Slot::Leaf(_) if !replace => return Err(P2mError::AlreadyMapped(gfn)),
                Slot::Leaf(large) => self.split(table, index, level, large)?,
            };
        }
        let index = index_of(gfn, target);
        let old = self.format.decode(self.mem.read_entry(table, index), target);
        match old {
            Slot::Empty => {}
            Slot::Leaf(_) if !replace => return Err(P2mError::AlreadyMapped(gfn)),
            Slot::Leaf(_) => self.needs_flush = true,
            Slot::Table(sub) if !replace && !self.subtree_empty(sub, target - 1) => {
                return Err(P2mError::AlreadyMapped(gfn));
            }
            Slot::Table(_) => {}
        }
        self.mem.write_entry(table, index, leaf);
        if let Slot::Table(sub) = old {
            self.unlink_tree(sub, target - 1);
        }
        Ok(())
    }

    /// Clears the leaves `map_range` wrote for the first `done` frames.
    fn clear_range(&mut self, gfn: Gfn, mfn: Mfn, done: u64) {
        let mut cleared = 0;
        while cleared < done {
            let size = self.largest_fit(gfn.0 + cleared, mfn.0 + cleared, done - cleared);
            // The leaf is there and exactly this size, so nothing is split.
            self.set(Gfn(gfn.0 + cleared), size, 0, true).expect("clearing a leaf this call wrote");
            cleared += size.frames();
        }
        self.needs_flush = true;
    }

    fn link_new_table(&mut self, parent: Mfn, index: usize) -> Result<Mfn, P2mError> {
        let table = self.mem.alloc_table().ok_or(P2mError::OutOfMemory)?;
        self.tables += 1;
        self.mem.write_entry(parent, index, self.format.table_entry(table));
        Ok(table)
    }

    /// Replaces the large leaf at `parent[index]` (a `level` entry) by a
    /// table of 512 leaves one level down mapping the same frames. The table
    /// is complete before it is linked, so no walk sees a gap.
    fn split(&mut self, parent: Mfn, index: usize, level: u32, large: P2mEntry) -> Result<Mfn, P2mError> {
        let table = self.mem.alloc_table().ok_or(P2mError::OutOfMemory)?;
        self.tables += 1;
        let step = PageSize::at_level(level - 1).frames();
        for i in 0..ENTRIES {
            let mfn = Mfn(large.mfn.0 + i as u64 * step);
            let code = if large.hypervisor_frame { HYPERVISOR_FRAME } else { large.p2m_type.code() };
            let leaf = self.format.leaf_entry_coded(level - 1, mfn, large.p2m_type, code, large.access);
            self.mem.write_entry(table, i, leaf);
        }
        self.mem.write_entry(parent, index, self.format.table_entry(table));
        Ok(table)
    }

    /// True if nothing below `table` (a `level` table) maps anything.
    fn subtree_empty(&self, table: Mfn, level: u32) -> bool {
        (0..ENTRIES).all(|i| match self.format.decode(self.mem.read_entry(table, i), level) {
            Slot::Empty => true,
            Slot::Leaf(_) => false,
            Slot::Table(sub) => self.subtree_empty(sub, level - 1),
        })
    }

    /// Moves `table` and the tables below it to the unlinked list.
    fn unlink_tree(&mut self, table: Mfn, level: u32) {
        for i in 0..ENTRIES {
            if let Slot::Table(sub) = self.format.decode(self.mem.read_entry(table, i), level) {
                self.unlink_tree(sub, level - 1);
            }
        }
        self.tables -= 1;
        self.unlinked.push(table);
        self.needs_flush = true;
    }

    /// Calls `f` with every leaf (its first gfn and entry), in gfn order;
    /// holes ([`P2mType::EmulatedMmio`]) included. Bounded by the tree.
    pub fn for_each_leaf(&self, mut f: impl FnMut(Gfn, P2mEntry)) {
        self.walk_leaves(self.root, 4, 0, &mut f);
    }

    fn walk_leaves(&self, table: Mfn, level: u32, base: u64, f: &mut impl FnMut(Gfn, P2mEntry)) {
        let span = 1u64 << (9 * (level - 1));
        for i in 0..ENTRIES {
            let gfn = base + i as u64 * span;
            match self.format.decode(self.mem.read_entry(table, i), level) {
                Slot::Table(sub) => self.walk_leaves(sub, level - 1, gfn, f),
                Slot::Leaf(entry) => f(Gfn(gfn), entry),
                Slot::Empty => {}
            }
        }
    }

    fn free_tree(&mut self, table: Mfn, level: u32) -> usize {
        let mut freed = 0;
        for i in 0..ENTRIES {
            if let Slot::Table(sub) = self.format.decode(self.mem.read_entry(table, i), level) {
                freed += self.free_tree(sub, level - 1);
            }
        }
        self.mem.free_table(table);
        freed + 1
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use alloc::boxed::Box;
    use alloc::collections::BTreeMap;

    const RWX: Access = Access::all();
    const RW: Access = Access::READ.union(Access::WRITE);

    /// One change to the fake memory, in order.
    #[derive(Clone, Debug)]
    enum Event {
        Alloc(Mfn),
        Write(Mfn, usize, u64),
    }

    /// Table memory on the heap that checks its use: no access to a frame
    /// it did not hand out (or took back), no double free; it records every
    /// allocation and write so tests can replay them.
    #[derive(Clone, Default)]
    pub(crate) struct FakeTables {
        frames: BTreeMap<u64, Box<[u64; ENTRIES]>>,
        next: u64,
        pub allocated: usize,
        pub freed: usize,
        /// Allocations left before `alloc_table` fails (None: no limit).
        pub budget: Option<usize>,
        log: Vec<Event>,
    }

    impl TableMemory for FakeTables {
        fn alloc_table(&mut self) -> Option<Mfn> {
            if let Some(left) = self.budget.as_mut() {
                *left = left.checked_sub(1)?;
            }
            let mfn = Mfn(0x10_0000 + self.next);
            self.next += 1;
            self.frames.insert(mfn.0, Box::new([0; ENTRIES]));
            self.allocated += 1;
            self.log.push(Event::Alloc(mfn));
            Some(mfn)
        }
        fn free_table(&mut self, table: Mfn) {
            assert!(self.frames.remove(&table.0).is_some(), "freeing table {table} that is not allocated");
            self.freed += 1;
        }
        fn read_entry(&self, table: Mfn, index: usize) -> u64 {
            self.frames.get(&table.0).unwrap_or_else(|| panic!("reading freed or unknown table {table}"))[index]
        }
        fn write_entry(&mut self, table: Mfn, index: usize, value: u64) {
            let frame = self.frames.get_mut(&table.0).unwrap_or_else(|| panic!("writing freed or unknown table {table}"));
            frame[index] = value;
            self.log.push(Event::Write(table, index, value));
        }
    }

    fn p2m(format: Format, mem: &mut FakeTables) -> P2m<&mut FakeTables> {
        P2m::new(format, mem).unwrap()
    }

    /// Every table frame `p` holds: linked into its tree (the root
    /// included) or unlinked and waiting for a flush. For tests outside `mm`
    /// that check no frame still in use was given back to the allocator.
    pub(crate) fn table_mfns<M: TableMemory>(p: &P2m<M>) -> Vec<Mfn> {
        fn walk<M: TableMemory>(p: &P2m<M>, table: Mfn, level: u32, out: &mut Vec<Mfn>) {
            out.push(table);
            for i in 0..ENTRIES {
                if let Slot::Table(sub) = p.format.decode(p.mem.read_entry(table, i), level) {
                    walk(p, sub, level - 1, out);
                }
            }
        }
        let mut out = Vec::new();
        walk(p, p.root, 4, &mut out);
        assert_eq!(out.len(), p.tables, "the linked-table count matches the tree");
        out.extend_from_slice(&p.unlinked);
        out
    }

    /// The raw entry for `gfn` at `level`, following table links.
    fn raw<M: TableMemory>(p: &P2m<M>, gfn: Gfn, level: u32) -> u64 {
        let mut table = p.root;
        for l in (level + 1..=4).rev() {
            let Slot::Table(next) = p.format.decode(p.mem.read_entry(table, index_of(gfn, l)), l) else {
                panic!("no table at level {l} for gfn {gfn}");
            };
            table = next;
        }
        p.mem.read_entry(table, index_of(gfn, level))
    }

    #[test]
    fn npt_4k_ram_leaf_is_present_writable_user_with_type_bits() {
        let mut mem = FakeTables::default();
        let mut p = p2m(Format::Npt, &mut mem);
        p.map(Gfn(0x100), Mfn(0x1234), PageSize::Size4K, P2mType::Ram, RWX).unwrap();
        assert_eq!(raw(&p, Gfn(0x100), 1), 0x0123_4000 | 0b111 | (1 << 9));
        for level in 2..=4 {
            assert_eq!(raw(&p, Gfn(0x100), level) & 0xfff, 0b111, "tables are P|RW|US");
        }
        p.map(Gfn(0x101), Mfn(0x1235), PageSize::Size4K, P2mType::Ram, Access::READ).unwrap();
        assert_eq!(raw(&p, Gfn(0x101), 1), (1 << 63) | 0x0123_5000 | 0b101 | (1 << 9), "read-only, no-execute");
    }

    #[test]
    fn npt_2m_leaf_sets_ps_and_mmio_sets_pcd_pwt() {
        let mut mem = FakeTables::default();
        let mut p = p2m(Format::Npt, &mut mem);
        p.map(Gfn(0x200), Mfn(0x400), PageSize::Size2M, P2mType::Ram, RWX).unwrap();
        assert_eq!(raw(&p, Gfn(0x200), 2), 0x0040_0000 | (1 << 7) | 0b111 | (1 << 9));
        p.map(Gfn(0xfee00), Mfn(0xfee00), PageSize::Size4K, P2mType::MmioPassthrough, RW).unwrap();
        assert_eq!(raw(&p, Gfn(0xfee00), 1), (1 << 63) | 0xfee0_0000 | (2 << 9) | 0b1_1000 | 0b111);
    }

    #[test]
    fn ept_4k_ram_leaf_is_rwx_write_back_with_type_bits() {
        let mut mem = FakeTables::default();
        let mut p = p2m(Format::Ept, &mut mem);
        p.map(Gfn(0x100), Mfn(0x1234), PageSize::Size4K, P2mType::Ram, RWX).unwrap();
        assert_eq!(raw(&p, Gfn(0x100), 1), (1 << 52) | 0x0123_4000 | (6 << 3) | 0b111);
        for level in 2..=4 {
            assert_eq!(raw(&p, Gfn(0x100), level) & 0xfff, 0b111, "tables are R|W|X");
        }
    }

    #[test]
    fn ept_2m_leaf_sets_bit_7_and_mmio_is_uncached_ignoring_pat() {
        let mut mem = FakeTables::default();
        let mut p = p2m(Format::Ept, &mut mem);
        p.map(Gfn(0x200), Mfn(0x400), PageSize::Size2M, P2mType::Ram, RW).unwrap();
        assert_eq!(raw(&p, Gfn(0x200), 2), (1 << 52) | 0x0040_0000 | (1 << 7) | (6 << 3) | 0b011);
        p.map(Gfn(0xfee00), Mfn(0xfee00), PageSize::Size4K, P2mType::MmioPassthrough, RW).unwrap();
        assert_eq!(raw(&p, Gfn(0xfee00), 1), (2 << 52) | 0xfee0_0000 | (1 << 6) | 0b011);
    }

    #[test]
    fn emulated_mmio_is_a_non_present_entry_in_both_formats() {
        for (format, present) in [(Format::Npt, 1), (Format::Ept, 0b111)] {
            let mut mem = FakeTables::default();
            let mut p = p2m(format, &mut mem);
            p.map(Gfn(0xfed00), Mfn(0), PageSize::Size4K, P2mType::EmulatedMmio, RW).unwrap();
            assert_eq!(raw(&p, Gfn(0xfed00), 1) & present, 0);
            let e = p.translate(Gfn(0xfed00)).unwrap();
            assert_eq!((e.p2m_type, e.access), (P2mType::EmulatedMmio, Access::empty()));
        }
    }

    #[test]
    fn eptp_is_root_with_write_back_and_walk_length_4() {
        let mut mem = FakeTables::default();
        let p = p2m(Format::Ept, &mut mem);
        assert_eq!(p.eptp(), p.root().addr() | 0x1e);
        assert_eq!(p.eptp() & !0xfff, p.root().addr());
    }

    #[test]
    fn translate_returns_what_map_stored_in_both_formats() {
        for format in [Format::Npt, Format::Ept] {
            let mut mem = FakeTables::default();
            let mut p = p2m(format, &mut mem);
            p.map(Gfn(5), Mfn(77), PageSize::Size4K, P2mType::ReadOnlyFirmware, Access::READ).unwrap();
            p.map(Gfn(0x400), Mfn(0x800), PageSize::Size2M, P2mType::Ram, RWX).unwrap();
            assert_eq!(
                p.translate(Gfn(5)),
                Some(P2mEntry { mfn: Mfn(77), p2m_type: P2mType::ReadOnlyFirmware, access: Access::READ, size: PageSize::Size4K, hypervisor_frame: false })
            );
            assert_eq!(
                p.translate(Gfn(0x400 + 17)),
                Some(P2mEntry { mfn: Mfn(0x800 + 17), p2m_type: P2mType::Ram, access: RWX, size: PageSize::Size2M, hypervisor_frame: false })
            );
            assert_eq!(p.translate(Gfn(6)), None);
            assert_eq!(p.translate(Gfn(0x600)), None);
            p.map(Gfn(9), Mfn(0x1234), PageSize::Size4K, P2mType::Foreign, RWX).unwrap();
            assert_eq!(
                p.translate(Gfn(9)),
                Some(P2mEntry { mfn: Mfn(0x1234), p2m_type: P2mType::Foreign, access: RWX, size: PageSize::Size4K, hypervisor_frame: false })
            );
            assert_eq!(p.unmap(Gfn(9)), Ok(Some((Mfn(0x1234), P2mType::Foreign))));
        }
    }

    #[test]
    fn map_range_uses_2m_pages_where_aligned_and_4k_at_the_edges() {
        let mut mem = FakeTables::default();
        let mut p = p2m(Format::Npt, &mut mem);
        // 3 frames before a 2 MiB boundary, two 2 MiB pages, 5 frames after.
        let (gfn, mfn, count) = (Gfn(0x200 - 3), Mfn(0x1000 - 3), 3 + 1024 + 5);
        p.map_range(gfn, mfn, count, P2mType::Ram, RWX).unwrap();
        let size = |g: u64| p.translate(Gfn(g)).unwrap().size;
        assert_eq!(size(0x1fd), PageSize::Size4K);
        assert_eq!(size(0x200), PageSize::Size2M);
        assert_eq!(size(0x5ff), PageSize::Size2M);
        assert_eq!(size(0x600), PageSize::Size4K);
        assert_eq!(size(0x604), PageSize::Size4K);
        assert_eq!(p.translate(Gfn(0x605)), None);
        for g in [0x1fd, 0x1ff, 0x200, 0x3ff, 0x400, 0x604] {
            assert_eq!(p.translate(Gfn(g)).unwrap().mfn, Mfn(g - 0x1fd + 0xffd));
        }
    }

    #[test]
    fn map_range_uses_4k_pages_when_gfn_and_mfn_alignments_differ() {
        let mut mem = FakeTables::default();
        let mut p = p2m(Format::Ept, &mut mem);
        p.map_range(Gfn(0x200), Mfn(0x1001), 1024, P2mType::Ram, RWX).unwrap();
        assert_eq!(p.translate(Gfn(0x200)).unwrap().size, PageSize::Size4K);
        assert_eq!(p.translate(Gfn(0x5ff)).unwrap().mfn, Mfn(0x1400));
    }

    #[test]
    fn map_range_uses_1g_pages_only_once_enabled() {
        let mut mem = FakeTables::default();
        let mut p = p2m(Format::Npt, &mut mem);
        p.map_range(Gfn(0), Mfn(0x40000), 0x40000, P2mType::Ram, RWX).unwrap();
        assert_eq!(p.translate(Gfn(0)).unwrap().size, PageSize::Size2M);
        assert_eq!(
            p.map(Gfn(0x40000), Mfn(0x40000), PageSize::Size1G, P2mType::Ram, RWX),
            Err(P2mError::PageSizeDisabled(PageSize::Size1G))
        );
        p.set_max_page_size(PageSize::Size1G);
        p.map_range(Gfn(0x40000), Mfn(0x80000), 0x40000, P2mType::Ram, RWX).unwrap();
        let e = p.translate(Gfn(0x40000 + 0x1234)).unwrap();
        assert_eq!((e.size, e.mfn), (PageSize::Size1G, Mfn(0x81234)));
    }

    #[test]
    fn misaligned_large_pages_are_refused() {
        let mut mem = FakeTables::default();
        let mut p = p2m(Format::Npt, &mut mem);
        let err = Err(P2mError::Misaligned { gfn: Gfn(0x201), mfn: Mfn(0x400), size: PageSize::Size2M });
        assert_eq!(p.map(Gfn(0x201), Mfn(0x400), PageSize::Size2M, P2mType::Ram, RWX), err);
        assert!(p.map(Gfn(0x200), Mfn(0x401), PageSize::Size2M, P2mType::Ram, RWX).is_err());
    }

    #[test]
    fn overlapping_maps_are_refused_and_leave_the_first_mapping() {
        let mut mem = FakeTables::default();
        let mut p = p2m(Format::Npt, &mut mem);
        p.map(Gfn(0x200), Mfn(0x400), PageSize::Size2M, P2mType::Ram, RWX).unwrap();
        let again = p.map(Gfn(0x210), Mfn(9), PageSize::Size4K, P2mType::Ram, RWX);
        assert_eq!(again, Err(P2mError::AlreadyMapped(Gfn(0x210))));
        p.map(Gfn(0x400 + 3), Mfn(9), PageSize::Size4K, P2mType::Ram, RWX).unwrap();
        let over = p.map(Gfn(0x400), Mfn(0x800), PageSize::Size2M, P2mType::Ram, RWX);
        assert_eq!(over, Err(P2mError::AlreadyMapped(Gfn(0x400))), "a 2 MiB page over a mapped 4 KiB page");
        assert_eq!(p.translate(Gfn(0x210)).unwrap().mfn, Mfn(0x410));
        assert_eq!(p.translate(Gfn(0x403)).unwrap().mfn, Mfn(9));
        assert!(!p.needs_flush());
    }

    #[test]
    fn a_failed_map_range_unmaps_what_it_mapped() {
        let mut mem = FakeTables::default();
        let mut p = p2m(Format::Ept, &mut mem);
        p.map(Gfn(0x800), Mfn(1), PageSize::Size4K, P2mType::Ram, RWX).unwrap();
        let r = p.map_range(Gfn(0x1fe), Mfn(0x3fe), 0x800, P2mType::Ram, RWX);
        assert_eq!(r, Err(P2mError::AlreadyMapped(Gfn(0x800))));
        for g in [0x1fe, 0x1ff, 0x200, 0x7ff] {
            assert_eq!(p.translate(Gfn(g)), None, "gfn {g:#x} rolled back");
        }
        assert_eq!(p.translate(Gfn(0x800)).unwrap().mfn, Mfn(1));
    }

    #[test]
    fn gfns_past_the_48_bit_guest_physical_limit_are_rejected() {
        let mut mem = FakeTables::default();
        let mut p = p2m(Format::Npt, &mut mem);
        let top = Gfn(GFN_LIMIT);
        assert_eq!(p.map(top, Mfn(1), PageSize::Size4K, P2mType::Ram, RWX), Err(P2mError::GfnTooLarge(top, 1)));
        assert_eq!(p.map_range(Gfn(GFN_LIMIT - 1), Mfn(1), 2, P2mType::Ram, RWX), Err(P2mError::GfnTooLarge(Gfn(GFN_LIMIT - 1), 2)));
        assert!(p.map_range(Gfn(1), Mfn(1), u64::MAX, P2mType::Ram, RWX).is_err());
        p.map(Gfn(GFN_LIMIT - 1), Mfn(1), PageSize::Size4K, P2mType::Ram, RWX).unwrap();
        assert_eq!(p.translate(Gfn(GFN_LIMIT - 1)).unwrap().mfn, Mfn(1));
        assert_eq!(p.translate(Gfn(GFN_LIMIT + (GFN_LIMIT - 1))), None, "no aliasing of high bits");
        assert_eq!(p.unmap(top), Ok(None));
        let big = Mfn(MFN_LIMIT);
        assert_eq!(p.map(Gfn(0), big, PageSize::Size4K, P2mType::Ram, RWX), Err(P2mError::MfnTooLarge(big, 1)));
    }

    #[test]
    fn accesses_without_read_or_writable_firmware_are_refused() {
        let mut mem = FakeTables::default();
        let mut p = p2m(Format::Ept, &mut mem);
        let w = Access::WRITE;
        assert_eq!(
            p.map(Gfn(1), Mfn(1), PageSize::Size4K, P2mType::Ram, w),
            Err(P2mError::BadAccess { p2m_type: P2mType::Ram, access: w })
        );
        assert!(p.map(Gfn(1), Mfn(1), PageSize::Size4K, P2mType::ReadOnlyFirmware, RW).is_err());
        assert!(p.map(Gfn(1), Mfn(1), PageSize::Size4K, P2mType::EmulatedMmio, Access::empty()).is_ok());
    }

    #[test]
    fn unmap_returns_the_frame_and_needs_a_flush() {
        let mut mem = FakeTables::default();
        let mut p = p2m(Format::Npt, &mut mem);
        p.map(Gfn(3), Mfn(30), PageSize::Size4K, P2mType::MmioPassthrough, RW).unwrap();
        assert_eq!(p.unmap(Gfn(3)), Ok(Some((Mfn(30), P2mType::MmioPassthrough))));
        assert!(p.needs_flush());
        assert_eq!(p.translate(Gfn(3)), None);
        assert_eq!(p.unmap(Gfn(3)), Ok(None));
        assert_eq!(p.unmap(Gfn(0x12345)), Ok(None));
        p.map(Gfn(3), Mfn(31), PageSize::Size4K, P2mType::Ram, RW).unwrap();
    }

    #[test]
    fn unmap_inside_a_1g_page_splits_it_down_to_4k() {
        let mut mem = FakeTables::default();
        let mut p = p2m(Format::Ept, &mut mem);
        p.set_max_page_size(PageSize::Size1G);
        p.map(Gfn(0x40000), Mfn(0x80000), PageSize::Size1G, P2mType::Ram, RWX).unwrap();
        let tables = p.table_frames();
        assert_eq!(p.unmap(Gfn(0x40000 + 0x201)), Ok(Some((Mfn(0x80201), P2mType::Ram))));
        assert_eq!(p.table_frames(), tables + 2, "one table of 2 MiB leaves, one of 4 KiB leaves");
        assert_eq!(p.translate(Gfn(0x40201)), None);
        let e = p.translate(Gfn(0x40202)).unwrap();
        assert_eq!((e.mfn, e.size, e.access), (Mfn(0x80202), PageSize::Size4K, RWX));
        let e = p.translate(Gfn(0x40000 + 0x3_0000)).unwrap();
        assert_eq!((e.mfn, e.size), (Mfn(0x80000 + 0x3_0000), PageSize::Size2M));
    }

    #[test]
    fn unmap_that_cannot_split_for_lack_of_frames_changes_nothing() {
        let mut mem = FakeTables::default();
        let mut p = p2m(Format::Npt, &mut mem);
        p.map(Gfn(0x200), Mfn(0x400), PageSize::Size2M, P2mType::Ram, RWX).unwrap();
        p.mem.budget = Some(0);
        assert_eq!(p.unmap(Gfn(0x201)), Err(P2mError::OutOfMemory));
        assert_eq!(p.translate(Gfn(0x201)).unwrap().mfn, Mfn(0x401));
        assert_eq!(p.map(Gfn(0x10_0000), Mfn(1), PageSize::Size4K, P2mType::Ram, RWX), Err(P2mError::OutOfMemory));
    }

    #[test]
    fn remap_replaces_a_mapping_in_place() {
        let mut mem = FakeTables::default();
        let mut p = p2m(Format::Npt, &mut mem);
        p.map(Gfn(7), Mfn(70), PageSize::Size4K, P2mType::Ram, RWX).unwrap();
        p.remap(Gfn(7), Mfn(71), PageSize::Size4K, P2mType::ReadOnlyFirmware, Access::READ).unwrap();
        let e = p.translate(Gfn(7)).unwrap();
        assert_eq!((e.mfn, e.p2m_type, e.access), (Mfn(71), P2mType::ReadOnlyFirmware, Access::READ));
        assert!(p.needs_flush());
    }

    #[test]
    fn a_large_page_over_emptied_small_pages_frees_their_table_only_after_the_flush() {
        let mut mem = FakeTables::default();
        let mut p = p2m(Format::Npt, &mut mem);
        p.map(Gfn(0x200), Mfn(0x400), PageSize::Size4K, P2mType::Ram, RWX).unwrap();
        p.unmap(Gfn(0x200)).unwrap();
        p.flushed();
        let tables = p.table_frames();
        p.map(Gfn(0x200), Mfn(0x400), PageSize::Size2M, P2mType::Ram, RWX).unwrap();
        assert_eq!(p.table_frames(), tables, "the empty table waits for the flush");
        assert!(p.needs_flush());
        assert_eq!(p.mem.freed, 0);
        assert_eq!(p.flushed(), 1);
        assert_eq!(p.mem.freed, 1);
        assert_eq!(p.table_frames(), tables - 1);
    }

    #[test]
    fn remap_of_a_large_page_over_small_pages_unlinks_their_tables() {
        let mut mem = FakeTables::default();
        let mut p = p2m(Format::Ept, &mut mem);
        p.map_range(Gfn(0x201), Mfn(0x401), 10, P2mType::Ram, RWX).unwrap();
        p.remap(Gfn(0x200), Mfn(0x800), PageSize::Size2M, P2mType::Ram, RWX).unwrap();
        assert_eq!(p.translate(Gfn(0x203)).unwrap().mfn, Mfn(0x803));
        assert_eq!(p.flushed(), 1);
    }

    #[test]
    fn for_each_leaf_visits_every_mapping_once_with_its_first_gfn() {
        let mut tables = FakeTables::default();
        let mut p2m = P2m::new(Format::Npt, &mut tables).unwrap();
        p2m.map_range(Gfn(1), Mfn(0x1001), 1023, P2mType::Ram, RWX).unwrap();
        p2m.map(Gfn(1 << 20), Mfn(0xfee00), PageSize::Size4K, P2mType::MmioPassthrough, RW).unwrap();
        let mut seen = Vec::new();
        p2m.for_each_leaf(|gfn, e| seen.push((gfn, e.mfn, e.size, e.p2m_type)));
        let frames: u64 = seen.iter().filter(|s| s.3 == P2mType::Ram).map(|s| s.2.frames()).sum();
        assert_eq!(frames, 1023);
        assert!(seen.contains(&(Gfn(512), Mfn(0x1200), PageSize::Size2M, P2mType::Ram)));
        assert_eq!(seen.last(), Some(&(Gfn(1 << 20), Mfn(0xfee00), PageSize::Size4K, P2mType::MmioPassthrough)));
        assert!(seen.windows(2).all(|w| w[0].0 .0 < w[1].0 .0));
    }

    #[test]
    fn destroy_frees_every_table_frame_it_allocated() {
        let mut mem = FakeTables::default();
        {
            let mut p = p2m(Format::Npt, &mut mem);
            p.set_max_page_size(PageSize::Size1G);
            p.map_range(Gfn(0x1fd), Mfn(0x1fd), 0x80000, P2mType::Ram, RWX).unwrap();
            p.map(Gfn(0xfee00), Mfn(0xfee00), PageSize::Size4K, P2mType::MmioPassthrough, RW).unwrap();
            p.map(Gfn(1 << 30), Mfn(3), PageSize::Size4K, P2mType::Ram, RWX).unwrap();
            p.unmap(Gfn(0x4_0005)).unwrap();
            p.remap(Gfn(0x200), Mfn(0), PageSize::Size2M, P2mType::Ram, RWX).unwrap();
            p.map(Gfn(0), Mfn(0), PageSize::Size2M, P2mType::Ram, RWX).unwrap_err();
            let in_use = p.table_frames();
            assert_eq!(p.destroy(), in_use);
        }
        assert!(mem.allocated > 5);
        assert_eq!(mem.allocated, mem.freed);
        assert!(mem.frames.is_empty());
    }

    /// Runs `op` on a p2m prepared by `setup`, then replays every table
    /// write `op` made, one at a time, from the state before it: after each
    /// one, each of `gfns` must translate as before `op` or as after it.
    fn assert_every_step_is_old_or_new(
        format: Format,
        setup: impl FnOnce(&mut P2m<&mut FakeTables>),
        op: impl FnOnce(&mut P2m<&mut FakeTables>),
        gfns: &[u64],
    ) {
        let view = |p: &P2m<&mut FakeTables>| -> Vec<Option<(Mfn, P2mType, Access)>> {
            gfns.iter().map(|&g| p.translate(Gfn(g)).map(|e| (e.mfn, e.p2m_type, e.access))).collect()
        };
        let mut mem = FakeTables::default();
        let mut p = p2m(format, &mut mem);
        setup(&mut p);
        let before = view(&p);
        let mut state = (*p.mem).clone();
        p.mem.log.clear();
        op(&mut p);
        let after = view(&p);
        assert_ne!(before, after, "the operation changes something");
        let log = core::mem::take(&mut p.mem.log);
        let root = p.root;
        for (step, event) in log.into_iter().enumerate() {
            match event {
                Event::Alloc(mfn) => {
                    state.frames.insert(mfn.0, Box::new([0; ENTRIES]));
                }
                Event::Write(table, index, value) => state.write_entry(table, index, value),
            }
            let replay = P2m {
                format,
                mem: &mut state,
                root,
                tables: 0,
                max_page: PageSize::Size1G,
                unlinked: Vec::new(),
                needs_flush: false,
            };
            let now = view(&replay);
            for (i, g) in gfns.iter().enumerate() {
                assert!(
                    now[i] == before[i] || now[i] == after[i],
                    "after write {step}, gfn {g:#x} maps {:?}: neither {:?} nor {:?}",
                    now[i],
                    before[i],
                    after[i]
                );
            }
        }
    }

    #[test]
    fn no_walk_sees_a_torn_mapping_while_unmap_splits_a_large_page() {
        for format in [Format::Npt, Format::Ept] {
            assert_every_step_is_old_or_new(
                format,
                |p| {
                    p.set_max_page_size(PageSize::Size1G);
                    p.map(Gfn(0x40000), Mfn(0x80000), PageSize::Size1G, P2mType::Ram, RWX).unwrap();
                },
                |p| {
                    p.unmap(Gfn(0x40201)).unwrap();
                },
                &[0x40000, 0x40200, 0x40201, 0x40202, 0x403ff, 0x40400, 0x7ffff],
            );
        }
    }

    #[test]
    fn no_walk_sees_a_torn_mapping_while_remap_replaces_pages() {
        assert_every_step_is_old_or_new(
            Format::Npt,
            |p| p.map_range(Gfn(0x200), Mfn(0x400), 0x400, P2mType::Ram, RWX).unwrap(),
            |p| {
                p.remap(Gfn(0x205), Mfn(0x9), PageSize::Size4K, P2mType::ReadOnlyFirmware, Access::READ).unwrap();
                p.remap(Gfn(0x400), Mfn(0xc00), PageSize::Size2M, P2mType::MmioPassthrough, RW).unwrap();
            },
            &[0x200, 0x204, 0x205, 0x206, 0x400, 0x5ff],
        );
    }

    #[test]
    fn no_walk_sees_a_half_built_table_while_map_range_adds_pages() {
        assert_every_step_is_old_or_new(
            Format::Ept,
            |_| {},
            |p| p.map_range(Gfn(0x1ff), Mfn(0x3ff), 0x202, P2mType::Ram, RWX).unwrap(),
            &[0x1fe, 0x1ff, 0x200, 0x3ff, 0x400, 0x401],
        );
    }

    /// What each gfn should map, as a test keeps it next to a p2m.
    type Model = BTreeMap<u64, (Mfn, P2mType, Access)>;

    /// Every gfn below `end` translates as `model` says (unmapped if absent),
    /// and the fake memory holds exactly the tables the p2m holds.
    fn assert_matches(p: &P2m<&mut FakeTables>, model: &Model, end: u64, what: &str) {
        for g in 0..end {
            let got = p.translate(Gfn(g)).map(|e| (e.mfn, e.p2m_type, e.access));
            assert_eq!(got, model.get(&g).copied(), "{what}: gfn {g:#x}");
        }
        let mut held = table_mfns(p).into_iter().map(|m| m.0).collect::<Vec<_>>();
        held.sort_unstable();
        assert_eq!(held, p.mem.frames.keys().copied().collect::<Vec<_>>(), "{what}: table frames allocated = held");
    }

    /// Dom0's layout as `dom0::build` maps it: RAM below 0x9f, firmware at
    /// 0xe0..0x100, RAM from 0x100 to `end` (2 MiB leaves where aligned).
    fn dom0_like(p: &mut P2m<&mut FakeTables>, end: u64) -> Model {
        let mut model = Model::new();
        p.map_range(Gfn(0), Mfn(0x1_0000), 0x9f, P2mType::Ram, RWX).unwrap();
        p.map_range(Gfn(0xe0), Mfn(0xe0), 0x20, P2mType::ReadOnlyFirmware, Access::READ).unwrap();
        p.map_range(Gfn(0x100), Mfn(0x1_0100), end - 0x100, P2mType::Ram, RWX).unwrap();
        for g in 0..0x9f {
            model.insert(g, (Mfn(0x1_0000 + g), P2mType::Ram, RWX));
        }
        for g in 0xe0..0x100 {
            model.insert(g, (Mfn(g), P2mType::ReadOnlyFirmware, Access::READ));
        }
        for g in 0x100..end {
            model.insert(g, (Mfn(0x1_0000 + g), P2mType::Ram, RWX));
        }
        model
    }

    /// The toolstack's use of Dom0's physmap at the p2m level: its window
    /// (512 frames across a 2 MiB boundary) and console page ballooned out,
    /// foreign frames mapped at the window and removed again, round after
    /// round, then the window populated back (4 KiB and 2 MiB). After every
    /// step every other gfn maps what it did, and no table leaks.
    #[test]
    fn the_toolstack_window_sequence_changes_no_other_gfn() {
        const END: u64 = 0x1000;
        for format in [Format::Npt, Format::Ept] {
            for window in [0x1a0u64, 0x200, 0x3ff, 0x1ff, 0x101] {
                let mut mem = FakeTables::default();
                let mut p = p2m(format, &mut mem);
                let mut model = dom0_like(&mut p, END);
                assert_matches(&p, &model, END, "built");
                let console = window + 512;
                for g in (window..window + 512).chain([console]) {
                    assert_eq!(p.unmap(Gfn(g)), Ok(model.remove(&g).map(|e| (e.0, e.1))), "ballooning out {g:#x}");
                    p.flushed();
                }
                assert_matches(&p, &model, END, "ballooned out");
                for (round, n) in [1u64, 512, 37, 1, 511, 2].into_iter().enumerate() {
                    let foreign = 0x8_0000 + round as u64 * 0x1000;
                    for i in 0..n {
                        p.map(Gfn(window + i), Mfn(foreign + i), PageSize::Size4K, P2mType::Foreign, RWX).unwrap();
                        model.insert(window + i, (Mfn(foreign + i), P2mType::Foreign, RWX));
                    }
                    assert_matches(&p, &model, END, "mapped");
                    for i in 0..n {
                        let g = window + i;
                        assert_eq!(p.unmap(Gfn(g)), Ok(model.remove(&g).map(|e| (e.0, e.1))));
                        p.flushed();
                    }
                    assert_matches(&p, &model, END, "unmapped");
                }
                // The last window frame alone, then populated back.
                let last = window + 511;
                p.map(Gfn(last), Mfn(0x9_0000), PageSize::Size4K, P2mType::Foreign, RWX).unwrap();
                model.insert(last, (Mfn(0x9_0000), P2mType::Foreign, RWX));
                assert_matches(&p, &model, END, "last mapped");
                p.unmap(Gfn(last)).unwrap();
                model.remove(&last);
                p.flushed();
                // Back in: whole 2 MiB extents where the window covers one,
                // 4 KiB frames elsewhere.
                let mut g = window;
                while g < window + 512 {
                    if g.is_multiple_of(512) && g + 512 <= window + 512 {
                        p.map(Gfn(g), Mfn(0x4_0000 + g), PageSize::Size2M, P2mType::Ram, RWX).unwrap();
                        for i in 0..512 {
                            model.insert(g + i, (Mfn(0x4_0000 + g + i), P2mType::Ram, RWX));
                        }
                        g += 512;
                    } else {
                        p.map(Gfn(g), Mfn(0x4_0000 + g), PageSize::Size4K, P2mType::Ram, RWX).unwrap();
                        model.insert(g, (Mfn(0x4_0000 + g), P2mType::Ram, RWX));
                        g += 1;
                    }
                }
                p.flushed();
                assert_matches(&p, &model, END, "populated back");
                let in_use = p.table_frames();
                assert_eq!(p.destroy(), in_use);
                assert!(mem.frames.is_empty());
            }
        }
    }

    /// A 2 MiB extent put back over a 4 KiB table that is empty again (the
    /// re-merge) replaces only that table: the neighbouring 2 MiB regions,
    /// split or not, keep their frames.
    #[test]
    fn a_large_page_over_an_emptied_table_leaves_its_neighbours() {
        for format in [Format::Npt, Format::Ept] {
            let mut mem = FakeTables::default();
            let mut p = p2m(format, &mut mem);
            let mut model = dom0_like(&mut p, 0x1000);
            for g in 0x200..0x400 {
                p.unmap(Gfn(g)).unwrap();
                model.remove(&g);
            }
            p.unmap(Gfn(0x1ff)).unwrap();
            model.remove(&0x1ff);
            p.unmap(Gfn(0x400)).unwrap();
            model.remove(&0x400);
            p.flushed();
            assert_matches(&p, &model, 0x1000, "holes");
            p.map(Gfn(0x200), Mfn(0x4_0200), PageSize::Size2M, P2mType::Ram, RWX).unwrap();
            for i in 0..512 {
                model.insert(0x200 + i, (Mfn(0x4_0200 + i), P2mType::Ram, RWX));
            }
            assert!(p.needs_flush());
            assert_eq!(p.flushed(), 1, "the emptied table, freed after the flush");
            assert_matches(&p, &model, 0x1000, "merged");
            p.destroy();
        }
    }
}
