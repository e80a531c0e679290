//! Guest memory accessors: reading and writing a domain's memory by
//! guest-physical address (gpa) through its p2m, and by guest-virtual address
//! (gva) through the guest's own page tables.
//!
//! [`GuestMemory`] is the consumer side every handler uses (Xen's
//! `copy_from_guest`/`copy_to_guest`, vm-memory's `Bytes`): `read`, `write`,
//! and `read_obj`/`write_obj` for plain-old-data types (zerocopy 0.8, as the
//! `abi` crate derives them); it and [`GuestFault`] live in the `pvh` crate,
//! shared with the Dom0 toolstack. [`P2mGuestMemory`] provides it over a
//! [`P2m`]: every 4 KiB piece is translated, only RAM is touched, and host
//! memory is reached through the small [`FrameAccess`] trait ([`PhysmapFrames`]
//! in the hypervisor, fake frames in tests).
//!
//! Partial writes: [`P2mGuestMemory::write`] checks every page before it
//! copies anything, so a write that faults changes nothing. [`write_gva`]
//! does the same for the guest's page tables and the p2m, unless another
//! vCPU changes them between the check and the copy.

pub use pvh::memory::{GuestFault, GuestMemory};

use super::frame::{FRAME_SIZE, Mfn};
use super::p2m::{Access, Gfn, MachineTables, P2m, P2mType, TableMemory};
use super::physmap;

/// Bytes in a page (`FRAME_SIZE` as a `usize`).
const PAGE: usize = 4096;
const _: () = assert!(PAGE as u64 == FRAME_SIZE);

/// Offset of `addr` in its 4 KiB page.
#[allow(clippy::cast_possible_truncation, reason = "below 4096")]
fn page_offset(addr: u64) -> usize {
    (addr % FRAME_SIZE) as usize
}

/// Splits `[addr, addr + len)` into pieces that stay inside one 4 KiB page:
/// (address, offset into the buffer, length). At most `len / 4096 + 2` pieces.
fn pieces(addr: u64, len: usize) -> Result<impl Iterator<Item = (u64, usize, usize)>, GuestFault> {
    let len64 = len as u64;
    if addr.checked_add(len64).is_none() {
        return Err(GuestFault::Overflow { addr, len: len64 });
    }
    let mut done = 0usize;
    Ok(core::iter::from_fn(move || {
        if done >= len {
            return None;
        }
        let at = addr + done as u64;
        let in_page = PAGE - page_offset(at);
        let n = in_page.min(len - done);
        let piece = (at, done, n);
        done += n;
        Some(piece)
    }))
}

/// Host access to machine frames.
pub trait FrameAccess {
    /// Reads `buf.len()` bytes at `offset` in frame `mfn`; the range stays in the frame.
    fn read(&self, mfn: Mfn, offset: usize, buf: &mut [u8]);
    /// Writes `buf` at `offset` in frame `mfn`; the range stays in the frame.
    fn write(&mut self, mfn: Mfn, offset: usize, buf: &[u8]);
}

/// Machine frames through the physical-memory window. Only
/// [`P2mGuestMemory::new_machine`] makes one, so it only ever touches frames
/// a domain's p2m maps as RAM (its own, or foreign frames, which
/// `mm::foreign` keeps allocated while they are mapped).
pub struct PhysmapFrames {
    _private: (),
}

impl FrameAccess for PhysmapFrames {
    fn read(&self, mfn: Mfn, offset: usize, buf: &mut [u8]) {
        assert!(offset + buf.len() <= PAGE, "guest copy crosses a frame");
        let base = physmap::ptr::<u8>(mfn.addr() + offset as u64);
        let mut i = 0;
        while i < buf.len() {
            let src = base.wrapping_add(i);
            if src.addr() % 8 == 0 && buf.len() - i >= 8 {
                // SAFETY: `mfn` is RAM the domain's p2m maps (see the type's doc), inside the window, and `[offset, offset + len)` stays in it (asserted); the guest may write it concurrently, so it is read volatile, as whole aligned words where possible.
                let word = unsafe { src.cast::<u64>().read_volatile() };
                buf[i..i + 8].copy_from_slice(&word.to_ne_bytes());
                i += 8;
            } else {
                // SAFETY: as above, one byte.
                buf[i] = unsafe { src.read_volatile() };
                i += 1;
            }
        }
    }

    fn write(&mut self, mfn: Mfn, offset: usize, buf: &[u8]) {
        assert!(offset + buf.len() <= PAGE, "guest copy crosses a frame");
        let base = physmap::ptr::<u8>(mfn.addr() + offset as u64);
        let mut i = 0;
        while i < buf.len() {
            let dst = base.wrapping_add(i);
            if dst.addr() % 8 == 0 && buf.len() - i >= 8 {
                let word = u64::from_ne_bytes(buf[i..i + 8].try_into().expect("8 bytes"));
                // SAFETY: `mfn` is RAM the domain's p2m maps writable (see the type's doc), inside the window, the range stays in the frame (asserted), and the hypervisor holds no reference into it; volatile because the guest may access it concurrently.
                unsafe { dst.cast::<u64>().write_volatile(word) };
                i += 8;
            } else {
                // SAFETY: as above, one byte.
                unsafe { dst.write_volatile(buf[i]) };
                i += 1;
            }
        }
    }
}

/// A domain's memory through its p2m: only RAM (and, for reads, read-only
/// firmware) is accessible; MMIO, emulated holes and unmapped gfns fault.
pub struct P2mGuestMemory<'a, M: TableMemory, F: FrameAccess> {
    p2m: &'a P2m<M>,
    frames: F,
}

impl<'a> P2mGuestMemory<'a, MachineTables, PhysmapFrames> {
    /// The hypervisor's accessor for a domain whose p2m maps as RAM only
    /// frames given to that domain.
    pub fn new_machine(p2m: &'a P2m<MachineTables>) -> Self {
        P2mGuestMemory { p2m, frames: PhysmapFrames { _private: () } }
    }
}

impl<'a, M: TableMemory, F: FrameAccess> P2mGuestMemory<'a, M, F> {
    pub fn new(p2m: &'a P2m<M>, frames: F) -> Self {
        P2mGuestMemory { p2m, frames }
    }

    /// The frame holding `gpa`, if the hypervisor may access it that way.
    fn frame(&self, gpa: u64, write: bool) -> Result<Mfn, GuestFault> {
        let entry = self.p2m.translate(Gfn::from_gpa(gpa)).ok_or(GuestFault::Unmapped(gpa))?;
        match entry.p2m_type {
            // A foreign-mapped frame is the caller's memory as far as
            // copies go (Xen's get_page_from_gfn takes it from its owner).
            P2mType::Ram | P2mType::ReadOnlyFirmware | P2mType::Foreign => {}
            // A granted frame of another domain is not the guest's memory
            // to pass to hypercalls (Xen's __hvm_copy refuses grant maps).
            P2mType::MmioPassthrough | P2mType::EmulatedMmio | P2mType::GrantMap => return Err(GuestFault::NotRam(gpa)),
        }
        if write && (entry.p2m_type == P2mType::ReadOnlyFirmware || !entry.access.contains(Access::WRITE)) {
            return Err(GuestFault::ReadOnly(gpa));
        }
        Ok(entry.mfn)
    }
}

impl<M: TableMemory, F: FrameAccess> GuestMemory for P2mGuestMemory<'_, M, F> {
    fn read(&self, gpa: u64, buf: &mut [u8]) -> Result<(), GuestFault> {
        for (at, off, n) in pieces(gpa, buf.len())? {
            let mfn = self.frame(at, false)?;
            self.frames.read(mfn, page_offset(at), &mut buf[off..off + n]);
        }
        Ok(())
    }

    fn write(&mut self, gpa: u64, buf: &[u8]) -> Result<(), GuestFault> {
        self.check(gpa, buf.len() as u64, true)?;
        for (at, off, n) in pieces(gpa, buf.len())? {
            let mfn = self.frame(at, true)?;
            self.frames.write(mfn, page_offset(at), &buf[off..off + n]);
        }
        Ok(())
    }

    fn check(&self, gpa: u64, len: u64, write: bool) -> Result<(), GuestFault> {
        let end = gpa.checked_add(len).ok_or(GuestFault::Overflow { addr: gpa, len })?;
        let mut page = gpa & !(FRAME_SIZE - 1);
        // One translation per page: bounded by len / 4096 + 1.
        while page < end {
            self.frame(page.max(gpa), write)?;
            page = match page.checked_add(FRAME_SIZE) {
                Some(next) => next,
                None => break,
            };
        }
        Ok(())
    }
}

/// How the guest translates its virtual addresses (from its CR0, CR4, EFER).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PagingMode {
    /// CR0.PG = 0: a linear address is the physical one, below 4 GiB
    /// (PVH kernels start this way).
    Off,
    /// 32-bit paging with CR4.PAE = 1: a 4-entry PDPT, then 2 MiB or 4 KiB pages.
    Pae,
    /// Long mode, 4-level paging: 1 GiB, 2 MiB or 4 KiB pages.
    Long4,
}

/// The guest's paging state when it made the access, and whose access it
/// is: what Xen's `guest_walk_tables` reads from the vCPU and the PFEC bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GuestPaging {
    pub mode: PagingMode,
    pub cr3: u64,
    /// CR0.WP: supervisor writes honour read-only entries.
    pub wp: bool,
    /// CR4.SMAP with RFLAGS.AC clear: supervisor data accesses to user pages fault.
    pub smap: bool,
    /// The access is made at CPL 3 (Xen's `PFEC_user_mode`): only user
    /// pages, and read-only ones only for reads, whatever CR0.WP says.
    pub user: bool,
}

impl GuestPaging {
    /// The paging state for a supervisor access, from the guest's control
    /// registers and RFLAGS.AC; None for 32-bit paging without PAE, which no
    /// supported guest uses.
    pub fn supervisor(cr0: u64, cr3: u64, cr4: u64, efer: u64, ac: bool) -> Option<GuestPaging> {
        const CR0_WP: u64 = 1 << 16;
        const CR0_PG: u64 = 1 << 31;
        const CR4_PAE: u64 = 1 << 5;
        const CR4_SMAP: u64 = 1 << 21;
        const EFER_LMA: u64 = 1 << 10;
        let mode = if cr0 & CR0_PG == 0 {
            PagingMode::Off
        } else if efer & EFER_LMA != 0 {
            PagingMode::Long4
        } else if cr4 & CR4_PAE != 0 {
            PagingMode::Pae
        } else {
            return None;
        };
        Some(GuestPaging { mode, cr3, wp: cr0 & CR0_WP != 0, smap: cr4 & CR4_SMAP != 0 && !ac, user: false })
    }
}

mod pte {
    pub const P: u64 = 1 << 0;
    pub const RW: u64 = 1 << 1;
    pub const US: u64 = 1 << 2;
    pub const PS: u64 = 1 << 7;
    /// Physical address bits 51:12 of an entry (SDM Vol. 3A 4.5, Table 4-15).
    pub const ADDR: u64 = 0x000f_ffff_ffff_f000;
}

/// Translates `gva` through the guest's page tables, reading each entry as
/// guest memory (so a bad CR3 or entry is a fault, never a hypervisor
/// crash). The walk is at most 4 reads by construction, so a table that
/// points at itself cannot loop.
///
/// As Xen's `guest_walk_tables` for a data access: first the translation
/// (P at every level, the reserved PS bit of a PML4 entry or PDPTE), then
/// the rights gathered over every level (R/W and U/S both set at each one;
/// PAE PDPTEs have neither): a user access needs a user page, and a
/// writable one to write; a supervisor access to a user page faults under
/// SMAP, and a supervisor write to a read-only page under CR0.WP. Not
/// checked: protection keys, the NX bit as reserved without EFER.NXE;
/// accessed/dirty bits are not set. PAE PDPTEs are read from memory, not
/// from the registers the CPU loaded at the last CR3 write.
pub fn gva_to_gpa(mem: &impl GuestMemory, paging: &GuestPaging, gva: u64, write: bool) -> Result<u64, GuestFault> {
    let cr3 = paging.cr3;
    let (mut table, top) = match paging.mode {
        PagingMode::Off => {
            return if gva <= u64::from(u32::MAX) { Ok(gva) } else { Err(GuestFault::NonCanonical(gva)) };
        }
        PagingMode::Long4 => {
            // Bits 63:47 all equal (SDM Vol. 3A 3.3.7.1).
            let top = gva >> 47;
            if top != 0 && top != (1 << 17) - 1 {
                return Err(GuestFault::NonCanonical(gva));
            }
            (cr3 & pte::ADDR, 4)
        }
        PagingMode::Pae => {
            if gva > u64::from(u32::MAX) {
                return Err(GuestFault::NonCanonical(gva));
            }
            // CR3 bits 31:5 locate the 4-entry PDPT; gva bits 31:30 index it
            // (SDM Vol. 3A 4.4.1). PDPTEs have no R/W or U/S bit.
            let pdpte: u64 = mem.read_obj((cr3 & 0xffff_ffe0) + ((gva >> 30) & 3) * 8)?;
            if pdpte & pte::P == 0 {
                return Err(GuestFault::NotPresent { gva, level: 3 });
            }
            if pdpte & pte::PS != 0 {
                return Err(GuestFault::ReservedBit { gva, level: 3 });
            }
            (pdpte & pte::ADDR, 2)
        }
    };
    let mut rights = pte::RW | pte::US;
    for level in (1..=top).rev() {
        let shift = 12 + 9 * (u32::from(level) - 1);
        let entry: u64 = mem.read_obj(table + ((gva >> shift) & 511) * 8)?;
        if entry & pte::P == 0 {
            return Err(GuestFault::NotPresent { gva, level });
        }
        let large = level > 1 && entry & pte::PS != 0;
        if large && level == 4 {
            return Err(GuestFault::ReservedBit { gva, level });
        }
        rights &= entry;
        if large || level == 1 {
            check_rights(paging, rights, gva, write)?;
            let offset_mask = (1u64 << shift) - 1;
            // For a large page this also drops its PAT bit (bit 12).
            return Ok((entry & pte::ADDR & !offset_mask) | (gva & offset_mask));
        }
        table = entry & pte::ADDR;
    }
    unreachable!("level 1 always returns")
}

/// Whether a translation whose levels together grant `rights` (R/W, U/S)
/// allows the access (SDM Vol. 3A 4.6).
fn check_rights(paging: &GuestPaging, rights: u64, gva: u64, write: bool) -> Result<(), GuestFault> {
    let (user_page, writable) = (rights & pte::US != 0, rights & pte::RW != 0);
    if paging.user {
        if !user_page {
            return Err(GuestFault::Protected(gva));
        }
        if write && !writable {
            return Err(GuestFault::WriteProtected(gva));
        }
    } else {
        if user_page && paging.smap {
            return Err(GuestFault::Protected(gva));
        }
        if write && !writable && paging.wp {
            return Err(GuestFault::WriteProtected(gva));
        }
    }
    Ok(())
}

/// Reads `buf.len()` bytes at `gva`, page by page through the guest's tables.
pub fn read_gva(mem: &impl GuestMemory, paging: &GuestPaging, gva: u64, buf: &mut [u8]) -> Result<(), GuestFault> {
    for (at, off, n) in pieces(gva, buf.len())? {
        let gpa = gva_to_gpa(mem, paging, at, false)?;
        mem.read(gpa, &mut buf[off..off + n])?;
    }
    Ok(())
}

/// Writes `buf` at `gva`, page by page through the guest's tables. Every
/// page is translated and checked before the first byte is written.
pub fn write_gva(mem: &mut impl GuestMemory, paging: &GuestPaging, gva: u64, buf: &[u8]) -> Result<(), GuestFault> {
    for (at, _, n) in pieces(gva, buf.len())? {
        let gpa = gva_to_gpa(mem, paging, at, true)?;
        mem.check(gpa, n as u64, true)?;
    }
    for (at, off, n) in pieces(gva, buf.len())? {
        let gpa = gva_to_gpa(mem, paging, at, true)?;
        mem.write(gpa, &buf[off..off + n])?;
    }
    Ok(())
}

/// Guest memories for other modules' tests.
#[cfg(test)]
pub(crate) mod fake {
    use super::*;
    use alloc::boxed::Box;
    use alloc::collections::BTreeMap;
    use alloc::vec::Vec;

    /// Frames on the heap, created zeroed on first use.
    #[derive(Default)]
    pub(crate) struct FakeFrames {
        frames: core::cell::RefCell<BTreeMap<u64, Box<[u8; 4096]>>>,
    }

    impl FakeFrames {
        pub fn bytes(&self, mfn: u64, offset: usize, len: usize) -> Vec<u8> {
            let mut frames = self.frames.borrow_mut();
            frames.entry(mfn).or_insert_with(|| Box::new([0; 4096]))[offset..offset + len].to_vec()
        }
    }

    impl FrameAccess for &FakeFrames {
        fn read(&self, mfn: Mfn, offset: usize, buf: &mut [u8]) {
            buf.copy_from_slice(&self.bytes(mfn.0, offset, buf.len()));
        }
        fn write(&mut self, mfn: Mfn, offset: usize, buf: &[u8]) {
            let mut frames = self.frames.borrow_mut();
            frames.entry(mfn.0).or_insert_with(|| Box::new([0; 4096]))[offset..offset + buf.len()].copy_from_slice(buf);
        }
    }

    /// Flat guest RAM, from the `pvh` crate.
    pub(crate) use pvh::memory::FlatMemory;
}

#[cfg(test)]
mod tests {
    use super::fake::{FakeFrames, FlatMemory};
    use super::*;
    use crate::mm::p2m::tests::FakeTables;
    use crate::mm::p2m::{Format, PageSize};
    use alloc::vec;

    const RWX: Access = Access::all();

    /// A p2m with gfn 1 → mfn 10, gfn 2 → mfn 5 (not contiguous), gfn 3
    /// unmapped, gfn 4 read-only firmware, gfn 5 MMIO, gfn 6 an emulated hole,
    /// gfn 7 read-only RAM.
    fn domain(tables: &mut FakeTables) -> P2m<&mut FakeTables> {
        let mut p = P2m::new(Format::Ept, tables).unwrap();
        let k4 = PageSize::Size4K;
        p.map(Gfn(1), Mfn(10), k4, P2mType::Ram, RWX).unwrap();
        p.map(Gfn(2), Mfn(5), k4, P2mType::Ram, RWX).unwrap();
        p.map(Gfn(4), Mfn(40), k4, P2mType::ReadOnlyFirmware, Access::READ).unwrap();
        p.map(Gfn(5), Mfn(0xfee00), k4, P2mType::MmioPassthrough, Access::READ | Access::WRITE).unwrap();
        p.map(Gfn(6), Mfn(0), k4, P2mType::EmulatedMmio, Access::empty()).unwrap();
        p.map(Gfn(7), Mfn(70), k4, P2mType::Ram, Access::READ).unwrap();
        p
    }

    #[test]
    fn reads_and_writes_within_a_page_round_trip() {
        let (mut tables, frames) = (FakeTables::default(), FakeFrames::default());
        let p = domain(&mut tables);
        let mut mem = P2mGuestMemory::new(&p, &frames);
        mem.write(0x1010, b"hello").unwrap();
        let mut buf = [0; 5];
        mem.read(0x1010, &mut buf).unwrap();
        assert_eq!(&buf, b"hello");
        assert_eq!(frames.bytes(10, 0x10, 5), b"hello");
    }

    #[test]
    fn a_buffer_crossing_a_page_boundary_lands_in_both_frames() {
        let (mut tables, frames) = (FakeTables::default(), FakeFrames::default());
        let p = domain(&mut tables);
        let mut mem = P2mGuestMemory::new(&p, &frames);
        mem.write(0x1ffc, b"abcdefgh").unwrap();
        assert_eq!(frames.bytes(10, 0xffc, 4), b"abcd");
        assert_eq!(frames.bytes(5, 0, 4), b"efgh");
        assert_eq!(mem.read_obj::<u64>(0x1ffc).unwrap(), u64::from_le_bytes(*b"abcdefgh"));
    }

    #[test]
    fn a_write_reaching_an_unmapped_page_fails_and_writes_nothing() {
        let (mut tables, frames) = (FakeTables::default(), FakeFrames::default());
        let p = domain(&mut tables);
        let mut mem = P2mGuestMemory::new(&p, &frames);
        assert_eq!(mem.write(0x2ff0, &[0xaa; 32]), Err(GuestFault::Unmapped(0x3000)));
        assert_eq!(frames.bytes(5, 0xff0, 16), vec![0; 16], "nothing written to the mapped page");
        let mut buf = [0; 32];
        assert_eq!(mem.read(0x2ff0, &mut buf), Err(GuestFault::Unmapped(0x3000)));
    }

    #[test]
    fn a_range_wrapping_past_u64_max_is_an_overflow() {
        let (mut tables, frames) = (FakeTables::default(), FakeFrames::default());
        let p = domain(&mut tables);
        let mut mem = P2mGuestMemory::new(&p, &frames);
        let mut buf = [0; 4];
        assert_eq!(mem.read(u64::MAX - 1, &mut buf), Err(GuestFault::Overflow { addr: u64::MAX - 1, len: 4 }));
        assert_eq!(mem.write(u64::MAX, &buf), Err(GuestFault::Overflow { addr: u64::MAX, len: 4 }));
        assert_eq!(mem.check(u64::MAX - 4095, 4095, false), Err(GuestFault::Unmapped(u64::MAX - 4095)));
        assert_eq!(mem.read(u64::MAX, &mut []), Ok(()), "an empty read touches nothing");
    }

    #[test]
    fn mmio_and_emulated_holes_are_not_ram() {
        let (mut tables, frames) = (FakeTables::default(), FakeFrames::default());
        let p = domain(&mut tables);
        let mut mem = P2mGuestMemory::new(&p, &frames);
        let mut buf = [0; 4];
        assert_eq!(mem.read(0x5000, &mut buf), Err(GuestFault::NotRam(0x5000)));
        assert_eq!(mem.write(0x6008, &buf), Err(GuestFault::NotRam(0x6008)));
    }

    #[test]
    fn read_only_firmware_and_read_only_ram_can_be_read_but_not_written() {
        let (mut tables, frames) = (FakeTables::default(), FakeFrames::default());
        let p = domain(&mut tables);
        let mut mem = P2mGuestMemory::new(&p, &frames);
        (&frames).write(Mfn(40), 0, b"RSD PTR ");
        assert_eq!(&mem.read_obj::<[u8; 8]>(0x4000).unwrap(), b"RSD PTR ");
        assert_eq!(mem.write(0x4000, b"x"), Err(GuestFault::ReadOnly(0x4000)));
        assert_eq!(mem.write_obj(0x7000, &1u32), Err(GuestFault::ReadOnly(0x7000)));
        assert_eq!(mem.read_obj::<u32>(0x7000), Ok(0));
    }

    #[test]
    fn write_obj_stores_the_little_endian_bytes_of_a_struct() {
        let (mut tables, frames) = (FakeTables::default(), FakeFrames::default());
        let p = domain(&mut tables);
        let mut mem = P2mGuestMemory::new(&p, &frames);
        mem.write_obj(0x1100, &[0x1122_3344u32, 0x5566_7788]).unwrap();
        assert_eq!(frames.bytes(10, 0x100, 8), [0x44, 0x33, 0x22, 0x11, 0x88, 0x77, 0x66, 0x55]);
        assert_eq!(mem.read_obj::<[u32; 2]>(0x1100), Ok([0x1122_3344, 0x5566_7788]));
    }

    #[test]
    fn fill_zero_clears_across_pages_and_changes_nothing_when_it_faults() {
        let (mut tables, frames) = (FakeTables::default(), FakeFrames::default());
        let p = domain(&mut tables);
        let mut mem = P2mGuestMemory::new(&p, &frames);
        mem.write(0x1000, &[0xff; 4096]).unwrap();
        mem.write(0x2000, &[0xff; 4096]).unwrap();
        mem.fill_zero(0x1800, 0x1000).unwrap();
        assert_eq!(frames.bytes(10, 0x7ff, 2), [0xff, 0]);
        assert_eq!(frames.bytes(5, 0x7ff, 2), [0, 0xff]);
        assert_eq!(mem.fill_zero(0x2f00, 0x200), Err(GuestFault::Unmapped(0x3000)));
        assert_eq!(frames.bytes(5, 0xf00, 1), [0xff]);
    }

    // Guest page tables for the walks, in a flat guest RAM at gpa 0.
    const P: u64 = 1;
    const RW: u64 = 2;
    const PS: u64 = 1 << 7;
    const NX: u64 = 1 << 63;

    const US: u64 = 4;

    fn entry(mem: &mut FlatMemory, table: u64, index: u64, value: u64) {
        mem.write_obj(table + index * 8, &value).unwrap();
    }

    /// A supervisor access with CR0.WP set and no SMAP (a hypercall's copies
    /// from a kernel without SMAP).
    fn kernel(mode: PagingMode, cr3: u64) -> GuestPaging {
        GuestPaging { mode, cr3, wp: true, smap: false, user: false }
    }

    /// PML4 at 0x1000, PDPT at 0x2000, PD at 0x3000, PT at 0x4000.
    /// gva [`BASE`] + …: 4 KiB page 0x201000 → 0x7000 (rw), 0x202000 → 0x8000 (read-only);
    /// 2 MiB page at 0x40_0000 → 0x20_0000; 1 GiB page at 0x4000_0000 → 0x4000_0000.
    fn long_mode_tables() -> FlatMemory {
        let mut m = FlatMemory::new(0, 0x10_0000);
        entry(&mut m, 0x1000, 0x80, 0x2000 | P | RW); // gva bits 47:39 = 0x80: BASE
        entry(&mut m, 0x2000, 0, 0x3000 | P | RW);
        entry(&mut m, 0x2000, 1, 0x4000_0000 | P | RW | PS | NX);
        entry(&mut m, 0x3000, 1, 0x4000 | P | RW);
        entry(&mut m, 0x3000, 2, 0x20_0000 | P | RW | PS | (1 << 12)); // PAT bit set
        entry(&mut m, 0x4000, 1, 0x7000 | P | RW);
        entry(&mut m, 0x4000, 2, 0x8000 | P);
        m
    }

    const BASE: u64 = 0x4000_0000_0000;

    #[test]
    fn long_mode_walks_find_4k_2m_and_1g_pages() {
        let m = long_mode_tables();
        let walk = |gva| gva_to_gpa(&m, &kernel(PagingMode::Long4, 0x1000), gva, false);
        assert_eq!(walk(BASE + 0x20_1234), Ok(0x7234));
        assert_eq!(walk(BASE + 0x40_0000 + 0x1_2345), Ok(0x21_2345), "the PAT bit is not address");
        assert_eq!(walk(BASE + 0x4000_0000 + 0x123_4567), Ok(0x4123_4567));
    }

    #[test]
    fn long_mode_walks_ignore_pcid_bits_in_cr3() {
        let m = long_mode_tables();
        assert_eq!(gva_to_gpa(&m, &kernel(PagingMode::Long4, 0x1000 | 0x5), BASE + 0x20_1000, false), Ok(0x7000));
    }

    #[test]
    fn not_present_entries_fault_with_their_level() {
        let m = long_mode_tables();
        let walk = |gva| gva_to_gpa(&m, &kernel(PagingMode::Long4, 0x1000), gva, false);
        assert_eq!(walk(0x1000), Err(GuestFault::NotPresent { gva: 0x1000, level: 4 }));
        assert_eq!(walk(BASE + 0x8000_0000), Err(GuestFault::NotPresent { gva: BASE + 0x8000_0000, level: 3 }));
        assert_eq!(walk(BASE), Err(GuestFault::NotPresent { gva: BASE, level: 2 }));
        assert_eq!(walk(BASE + 0x20_3000), Err(GuestFault::NotPresent { gva: BASE + 0x20_3000, level: 1 }));
    }

    #[test]
    fn writes_through_a_read_only_entry_fault_and_reads_pass() {
        let m = long_mode_tables();
        let gva = BASE + 0x20_2000;
        assert_eq!(gva_to_gpa(&m, &kernel(PagingMode::Long4, 0x1000), gva, true), Err(GuestFault::WriteProtected(gva)));
        assert_eq!(gva_to_gpa(&m, &kernel(PagingMode::Long4, 0x1000), gva, false), Ok(0x8000));
    }

    #[test]
    fn non_canonical_addresses_and_a_large_pml4_entry_fault() {
        let mut m = long_mode_tables();
        let gva = 0x0000_8000_0000_0000;
        assert_eq!(gva_to_gpa(&m, &kernel(PagingMode::Long4, 0x1000), gva, false), Err(GuestFault::NonCanonical(gva)));
        entry(&mut m, 0x1000, 511, 0x2000 | P | PS);
        let high = 0xffff_ff80_0000_0000;
        assert_eq!(gva_to_gpa(&m, &kernel(PagingMode::Long4, 0x1000), high, false), Err(GuestFault::ReservedBit { gva: high, level: 4 }));
    }

    #[test]
    fn a_page_table_pointing_at_itself_ends_after_four_reads() {
        let mut m = FlatMemory::new(0, 0x2000);
        entry(&mut m, 0x1000, 0, 0x1000 | P | RW);
        // Every level reads entry 0 of the same page, and the "page" it maps is the table.
        assert_eq!(gva_to_gpa(&m, &kernel(PagingMode::Long4, 0x1000), 0x123, false), Ok(0x1123));
    }

    #[test]
    fn tables_outside_guest_ram_fault_instead_of_being_read() {
        let mut m = long_mode_tables();
        assert_eq!(
            gva_to_gpa(&m, &kernel(PagingMode::Long4, 0xdead_0000), BASE, false),
            Err(GuestFault::Unmapped(0xdead_0000 + 0x80 * 8))
        );
        entry(&mut m, 0x3000, 3, 0x7fff_f000 | P | RW);
        assert_eq!(
            gva_to_gpa(&m, &kernel(PagingMode::Long4, 0x1000), BASE + 0x60_0000, false),
            Err(GuestFault::Unmapped(0x7fff_f000))
        );
    }

    #[test]
    fn paging_off_is_the_identity_below_4g() {
        let m = FlatMemory::new(0, 0);
        assert_eq!(gva_to_gpa(&m, &kernel(PagingMode::Off, 0), 0xfee0_0000, true), Ok(0xfee0_0000));
        assert_eq!(gva_to_gpa(&m, &kernel(PagingMode::Off, 0), 1 << 32, false), Err(GuestFault::NonCanonical(1 << 32)));
    }

    #[test]
    fn pae_walks_use_the_4_entry_pdpt_and_2m_or_4k_pages() {
        let mut m = FlatMemory::new(0, 0x10_0000);
        // PDPT at 0x1020 (32-byte aligned), entry 3 (gva 0xc000_0000..) → PD at 0x3000.
        entry(&mut m, 0x1020, 3, 0x3000 | P);
        entry(&mut m, 0x3000, 0, 0x4000 | P | RW);
        entry(&mut m, 0x3000, 1, 0x60_0000 | P | PS);
        entry(&mut m, 0x4000, 5, 0x9000 | P | RW);
        let walk = |gva, write| gva_to_gpa(&m, &kernel(PagingMode::Pae, 0x1020), gva, write);
        assert_eq!(walk(0xc000_5678, true), Ok(0x9678));
        assert_eq!(walk(0xc020_0042, false), Ok(0x60_0042));
        assert_eq!(walk(0xc020_0042, true), Err(GuestFault::WriteProtected(0xc020_0042)));
        assert_eq!(walk(0x4000_0000, false), Err(GuestFault::NotPresent { gva: 0x4000_0000, level: 3 }));
        assert_eq!(walk(1 << 32, false), Err(GuestFault::NonCanonical(1 << 32)));
    }

    #[test]
    fn read_gva_and_write_gva_span_pages_mapped_apart() {
        let mut m = long_mode_tables();
        write_gva(&mut m, &kernel(PagingMode::Long4, 0x1000), BASE + 0x20_1ffe, b"wxyz").unwrap_err();
        // 0x202000 is read-only: nothing of the write happened.
        assert_eq!(m.at(0x7ffe, 2), [0, 0]);
        entry(&mut m, 0x4000, 2, 0x8000 | P | RW);
        write_gva(&mut m, &kernel(PagingMode::Long4, 0x1000), BASE + 0x20_1ffe, b"wxyz").unwrap();
        assert_eq!(m.at(0x7ffe, 2), b"wx");
        assert_eq!(m.at(0x8000, 2), b"yz");
        let mut buf = [0; 4];
        read_gva(&m, &kernel(PagingMode::Long4, 0x1000), BASE + 0x20_1ffe, &mut buf).unwrap();
        assert_eq!(&buf, b"wxyz");
    }

    #[test]
    fn guest_page_tables_are_read_through_the_p2m() {
        let (mut tables, frames) = (FakeTables::default(), FakeFrames::default());
        let p = domain(&mut tables);
        let mut mem = P2mGuestMemory::new(&p, &frames);
        // A one-page long-mode hierarchy in gfn 1 (entry 0 at each level points back to it).
        mem.write_obj(0x1000, &(0x1000u64 | P | RW)).unwrap();
        mem.write_obj(0x1008, &(0x5000u64 | P | RW)).unwrap(); // a "table" in MMIO
        assert_eq!(gva_to_gpa(&mem, &kernel(PagingMode::Long4, 0x1000), 0x10, false), Ok(0x1010));
        assert_eq!(gva_to_gpa(&mem, &kernel(PagingMode::Long4, 0x1000), 1 << 21, false), Err(GuestFault::NotRam(0x5000)));
    }

    /// Long-mode tables with user pages: gva [`BASE`] + 0x20_5000 → 0x9000
    /// (user, writable), + 0x20_6000 → 0xa000 (user, read-only), + 0x20_7000
    /// → 0xb000 (U/S in the PTE but not in the PDE above it: a supervisor
    /// page), and a 2 MiB user page at + 0x60_0000.
    fn user_tables() -> FlatMemory {
        let mut m = FlatMemory::new(0, 0x10_0000);
        entry(&mut m, 0x1000, 0x80, 0x2000 | P | RW | US);
        entry(&mut m, 0x2000, 0, 0x3000 | P | RW | US);
        entry(&mut m, 0x3000, 1, 0x4000 | P | RW | US);
        entry(&mut m, 0x3000, 2, 0x5000 | P | RW);
        entry(&mut m, 0x3000, 3, 0x20_0000 | P | RW | US | PS);
        entry(&mut m, 0x4000, 5, 0x9000 | P | RW | US);
        entry(&mut m, 0x4000, 6, 0xa000 | P | US);
        entry(&mut m, 0x5000, 7, 0xb000 | P | RW | US);
        m
    }

    #[test]
    fn smap_makes_supervisor_accesses_to_user_pages_fault() {
        let m = user_tables();
        let smap = GuestPaging { smap: true, ..kernel(PagingMode::Long4, 0x1000) };
        for gva in [BASE + 0x20_5008, BASE + 0x60_1234] {
            assert!(gva_to_gpa(&m, &kernel(PagingMode::Long4, 0x1000), gva, false).is_ok(), "no SMAP: allowed");
            assert_eq!(gva_to_gpa(&m, &smap, gva, false), Err(GuestFault::Protected(gva)));
            assert_eq!(gva_to_gpa(&m, &smap, gva, true), Err(GuestFault::Protected(gva)));
        }
        // U/S clear at one level: a supervisor page, which SMAP does not cover.
        assert_eq!(gva_to_gpa(&m, &smap, BASE + 0x40_7010, true), Ok(0xb010));
    }

    #[test]
    fn smap_follows_cr4_and_rflags_ac() {
        const PG_WP: u64 = (1 << 31) | (1 << 16) | 1;
        const SMAP_PAE: u64 = (1 << 21) | (1 << 5);
        let lma = 1 << 10;
        assert!(GuestPaging::supervisor(PG_WP, 0, SMAP_PAE, lma, false).unwrap().smap);
        assert!(!GuestPaging::supervisor(PG_WP, 0, SMAP_PAE, lma, true).unwrap().smap, "EFLAGS.AC lifts SMAP (stac)");
        assert!(!GuestPaging::supervisor(PG_WP, 0, 1 << 5, lma, false).unwrap().smap);
        let m = user_tables();
        let ac = GuestPaging::supervisor(PG_WP, 0x1000, SMAP_PAE, lma, true).unwrap();
        assert_eq!(gva_to_gpa(&m, &ac, BASE + 0x20_5008, true), Ok(0x9008));
    }

    #[test]
    fn supervisor_writes_to_read_only_pages_fault_only_with_cr0_wp() {
        let m = user_tables();
        let gva = BASE + 0x20_6000;
        assert_eq!(gva_to_gpa(&m, &kernel(PagingMode::Long4, 0x1000), gva, true), Err(GuestFault::WriteProtected(gva)));
        let no_wp = GuestPaging { wp: false, ..kernel(PagingMode::Long4, 0x1000) };
        assert_eq!(gva_to_gpa(&m, &no_wp, gva, true), Ok(0xa000));
        let from_regs = |cr0| GuestPaging::supervisor(cr0, 0x1000, 0, 1 << 10, false).unwrap().wp;
        assert!(from_regs((1 << 31) | (1 << 16) | 1));
        assert!(!from_regs((1 << 31) | 1));
    }

    #[test]
    fn user_accesses_need_user_pages_and_writable_ones_to_write() {
        let m = user_tables();
        let user = GuestPaging { user: true, wp: false, ..kernel(PagingMode::Long4, 0x1000) };
        assert_eq!(gva_to_gpa(&m, &user, BASE + 0x20_5008, true), Ok(0x9008));
        let ro = BASE + 0x20_6000;
        assert_eq!(gva_to_gpa(&m, &user, ro, false), Ok(0xa000));
        assert_eq!(gva_to_gpa(&m, &user, ro, true), Err(GuestFault::WriteProtected(ro)), "CR0.WP does not matter at CPL 3");
        let kernel_page = BASE + 0x40_7000;
        assert_eq!(gva_to_gpa(&m, &user, kernel_page, false), Err(GuestFault::Protected(kernel_page)));
    }

    #[test]
    fn rights_are_checked_after_the_translation_exists() {
        let mut m = user_tables();
        // A read-only PDE above a missing PTE: not present wins over read-only.
        entry(&mut m, 0x3000, 4, 0x6000 | P | US);
        let gva = BASE + 0x80_0000;
        assert_eq!(gva_to_gpa(&m, &kernel(PagingMode::Long4, 0x1000), gva, true), Err(GuestFault::NotPresent { gva, level: 1 }));
    }

    #[test]
    fn pae_pdptes_carry_no_rights() {
        let mut m = FlatMemory::new(0, 0x10_0000);
        entry(&mut m, 0x1020, 0, 0x3000 | P);
        entry(&mut m, 0x3000, 0, 0x4000 | P | RW | US);
        entry(&mut m, 0x4000, 1, 0x9000 | P | RW | US);
        let user = GuestPaging { user: true, ..kernel(PagingMode::Pae, 0x1020) };
        assert_eq!(gva_to_gpa(&m, &user, 0x1004, true), Ok(0x9004));
        let smap = GuestPaging { smap: true, ..kernel(PagingMode::Pae, 0x1020) };
        assert_eq!(gva_to_gpa(&m, &smap, 0x1004, false), Err(GuestFault::Protected(0x1004)));
    }

    #[test]
    fn paging_modes_follow_cr0_cr4_and_efer() {
        let mode = |cr0, cr4, efer| GuestPaging::supervisor(cr0, 0, cr4, efer, false).map(|p| p.mode);
        assert_eq!(mode(0x11, 0, 0), Some(PagingMode::Off));
        assert_eq!(mode(0x8000_0011, 0x20, 0x500), Some(PagingMode::Long4));
        assert_eq!(mode(0x8000_0011, 0x20, 0), Some(PagingMode::Pae));
        assert_eq!(mode(0x8000_0011, 0, 0), None);
    }
}
