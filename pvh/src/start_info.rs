//! The PVH start info (`struct hvm_start_info`, version 1) a PVH kernel
//! finds through `%ebx` at its entry, written into the guest's memory.
//!
//! Layout written from the start of the area the caller gives (8-byte
//! aligned): the [`HvmStartInfo`], the memory map, the module list, then the
//! NUL-terminated command lines (the kernel's, then each module's). Empty
//! command lines and lists are given as address 0, which Linux and Xen's
//! `docs/misc/pvh.pandoc` read as "none".

use core::fmt;
use core::ops::Range;

use abi::hvm::start_info::{HvmMemmapTableEntry, HvmModlistEntry, HvmStartInfo, XEN_HVM_START_MAGIC_VALUE};
use zerocopy::IntoBytes;

use crate::memory::{GuestFault, GuestMemory};

/// A boot module (an initrd, a DomU kernel) already placed in guest memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Module<'a> {
    pub gpa: u64,
    pub size: u64,
    pub cmdline: &'a str,
}

/// What the start info tells the kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StartInfo<'a> {
    /// `SIF_*` from `abi::xen` (Dom0: `SIF_PRIVILEGED | SIF_INITDOMAIN`).
    pub flags: u32,
    pub cmdline: &'a str,
    pub modules: &'a [Module<'a>],
    /// The guest's memory map, `r#type` an `XEN_HVM_MEMMAP_TYPE_*`.
    pub memmap: &'a [HvmMemmapTableEntry],
    /// Guest-physical address of the ACPI RSDP, 0 if none.
    pub rsdp: u64,
}

/// Where each part was written (guest-physical addresses).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StartInfoLayout {
    /// The `hvm_start_info` itself: the value for the vCPU's `%ebx`.
    pub start_info: u64,
    pub memmap: u64,
    pub modlist: u64,
    /// The kernel's command line (module command lines follow it).
    pub cmdline: u64,
    /// One past the last byte written.
    pub end: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StartInfoError {
    /// The area must start 8-byte aligned and below 4 GiB (`%ebx` is 32 bits).
    BadArea(Range<u64>),
    /// The start info needs `needed` bytes; the area has `room`.
    TooBig { needed: u64, room: u64 },
    /// A command line contains a NUL byte, which would cut it short.
    NulInCmdline,
    Fault(GuestFault),
}

impl fmt::Display for StartInfoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartInfoError::BadArea(area) => {
                write!(f, "start info area {:#x}..{:#x} must start 8-byte aligned below 4 GiB", area.start, area.end)
            }
            StartInfoError::TooBig { needed, room } => {
                write!(f, "start info needs {needed:#x} bytes but its area has {room:#x}")
            }
            StartInfoError::NulInCmdline => f.write_str("a command line contains a NUL byte"),
            StartInfoError::Fault(fault) => write!(f, "writing the start info: {fault}"),
        }
    }
}

fn size_of<T>(count: usize) -> u64 {
    (core::mem::size_of::<T>() * count) as u64
}

/// Writes the start info described by `info` into `area` of `mem` and
/// returns where each part went. The whole area needed is checked before
/// anything is written.
pub fn write_start_info(mem: &mut impl GuestMemory, area: Range<u64>, info: &StartInfo) -> Result<StartInfoLayout, StartInfoError> {
    if !area.start.is_multiple_of(8) || area.start > u64::from(u32::MAX) || area.end < area.start {
        return Err(StartInfoError::BadArea(area));
    }
    let cmdlines = core::iter::once(info.cmdline).chain(info.modules.iter().map(|m| m.cmdline));
    if cmdlines.clone().any(|c| c.as_bytes().contains(&0)) {
        return Err(StartInfoError::NulInCmdline);
    }
    // Each command line takes its bytes plus a NUL; empty ones take nothing.
    let text: u64 = cmdlines.map(|c| if c.is_empty() { 0 } else { c.len() as u64 + 1 }).sum();
    let memmap = area.start + size_of::<HvmStartInfo>(1);
    let modlist = memmap + size_of::<HvmMemmapTableEntry>(info.memmap.len());
    let cmdline = modlist + size_of::<HvmModlistEntry>(info.modules.len());
    let end = cmdline + text;
    let room = area.end - area.start;
    if end - area.start > room {
        return Err(StartInfoError::TooBig { needed: end - area.start, room });
    }
    let too_big = |_| StartInfoError::TooBig { needed: end - area.start, room };
    let nr_modules = u32::try_from(info.modules.len()).map_err(too_big)?;
    let memmap_entries = u32::try_from(info.memmap.len()).map_err(too_big)?;
    mem.check(area.start, end - area.start, true).map_err(StartInfoError::Fault)?;

    let fault = StartInfoError::Fault;
    let mut next_text = cmdline;
    let mut put_text = |mem: &mut _, s: &str| -> Result<u64, StartInfoError> {
        if s.is_empty() {
            return Ok(0);
        }
        let at = next_text;
        write_cstr(mem, at, s).map_err(fault)?;
        next_text += s.len() as u64 + 1;
        Ok(at)
    };
    let cmdline_paddr = put_text(mem, info.cmdline)?;
    for (i, m) in info.modules.iter().enumerate() {
        let entry = HvmModlistEntry { paddr: m.gpa, size: m.size, cmdline_paddr: put_text(mem, m.cmdline)?, reserved: 0 };
        mem.write_obj(modlist + size_of::<HvmModlistEntry>(i), &entry).map_err(fault)?;
    }
    mem.write(memmap, info.memmap.as_bytes()).map_err(fault)?;
    let start_info = HvmStartInfo {
        magic: XEN_HVM_START_MAGIC_VALUE,
        version: HvmStartInfo::VERSION,
        flags: info.flags,
        nr_modules,
        modlist_paddr: if info.modules.is_empty() { 0 } else { modlist },
        cmdline_paddr,
        rsdp_paddr: info.rsdp,
        memmap_paddr: if info.memmap.is_empty() { 0 } else { memmap },
        memmap_entries,
        reserved: 0,
    };
    mem.write_obj(area.start, &start_info).map_err(fault)?;
    Ok(StartInfoLayout { start_info: area.start, memmap, modlist, cmdline, end })
}

fn write_cstr(mem: &mut impl GuestMemory, gpa: u64, s: &str) -> Result<(), GuestFault> {
    mem.write(gpa, s.as_bytes())?;
    mem.write(gpa + s.len() as u64, &[0])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::FlatMemory;
    use abi::hvm::start_info::{XEN_HVM_MEMMAP_TYPE_ACPI, XEN_HVM_MEMMAP_TYPE_RAM, XEN_HVM_MEMMAP_TYPE_RESERVED};
    use abi::xen::{SIF_INITDOMAIN, SIF_PRIVILEGED};
    use alloc::vec::Vec;

    fn ram(addr: u64, size: u64, ty: u32) -> HvmMemmapTableEntry {
        HvmMemmapTableEntry { addr, size, r#type: ty, reserved: 0 }
    }

    fn memmap() -> [HvmMemmapTableEntry; 3] {
        [
            ram(0x1000, 0x9_e000, XEN_HVM_MEMMAP_TYPE_RAM),
            ram(0xe_0000, 0x2_0000, XEN_HVM_MEMMAP_TYPE_RESERVED),
            ram(0x10_0000, 0x3ef_0000, XEN_HVM_MEMMAP_TYPE_RAM),
        ]
    }

    #[test]
    fn start_info_bytes_follow_the_hvm_start_info_layout() {
        let mut mem = FlatMemory::new(0x8000, 0x1000);
        let map = memmap();
        let modules = [Module { gpa: 0x20_0000, size: 0x1234, cmdline: "initrd" }, Module { gpa: 0x30_0000, size: 5, cmdline: "" }];
        let info = StartInfo {
            flags: SIF_PRIVILEGED | SIF_INITDOMAIN,
            cmdline: "console=hvc0 loglevel=8",
            modules: &modules,
            memmap: &map,
            rsdp: 0xf_5a40,
        };
        let l = write_start_info(&mut mem, 0x8000..0x9000, &info).unwrap();
        assert_eq!(l.start_info, 0x8000);
        assert_eq!(mem.at(0x8000, 4), [0x78, 0xc5, 0x6e, 0x33], "magic at offset 0, little-endian");
        let si: HvmStartInfo = mem.read_obj(0x8000).unwrap();
        assert_eq!((si.version, si.flags, si.nr_modules), (1, SIF_PRIVILEGED | SIF_INITDOMAIN, 2));
        assert_eq!(si.rsdp_paddr, 0xf_5a40);
        assert_eq!((si.memmap_paddr, si.memmap_entries), (l.memmap, 3));
        assert_eq!(l.memmap, 0x8000 + 56);
        let read_map: Vec<HvmMemmapTableEntry> = (0..3).map(|i| mem.read_obj(l.memmap + 24 * i).unwrap()).collect();
        assert_eq!(read_map, map);
        assert_eq!(si.modlist_paddr, l.modlist);
        assert_eq!(l.modlist, l.memmap + 3 * 24);
        let m0: HvmModlistEntry = mem.read_obj(l.modlist).unwrap();
        let m1: HvmModlistEntry = mem.read_obj(l.modlist + 32).unwrap();
        assert_eq!((m0.paddr, m0.size), (0x20_0000, 0x1234));
        assert_eq!((m1.paddr, m1.size, m1.cmdline_paddr), (0x30_0000, 5, 0), "an empty command line is address 0");
        assert_eq!(si.cmdline_paddr, l.cmdline);
        assert_eq!(mem.at(si.cmdline_paddr, 24), b"console=hvc0 loglevel=8\0");
        assert_eq!(m0.cmdline_paddr, l.cmdline + 24);
        assert_eq!(mem.at(m0.cmdline_paddr, 7), b"initrd\0");
        assert_eq!(l.end, m0.cmdline_paddr + 7);
    }

    #[test]
    fn no_modules_and_no_cmdline_are_written_as_address_zero() {
        let mut mem = FlatMemory::new(0x8000, 0x1000);
        let map = [ram(0, 0x1000, XEN_HVM_MEMMAP_TYPE_ACPI)];
        let info = StartInfo { flags: 0, cmdline: "", modules: &[], memmap: &map, rsdp: 0 };
        let l = write_start_info(&mut mem, 0x8000..0x9000, &info).unwrap();
        let si: HvmStartInfo = mem.read_obj(0x8000).unwrap();
        assert_eq!((si.nr_modules, si.modlist_paddr, si.cmdline_paddr), (0, 0, 0));
        assert_eq!(l.end, 0x8000 + 56 + 24);
    }

    #[test]
    fn an_area_too_small_is_refused_before_anything_is_written() {
        let mut mem = FlatMemory::new(0x8000, 0x1000);
        let map = memmap();
        let info = StartInfo { flags: 0, cmdline: "x", modules: &[], memmap: &map, rsdp: 0 };
        let needed = 56 + 3 * 24 + 2;
        assert_eq!(
            write_start_info(&mut mem, 0x8000..0x8000 + 100, &info),
            Err(StartInfoError::TooBig { needed, room: 100 })
        );
        assert_eq!(
            write_start_info(&mut mem, 0x8fc0..0x9fc0, &info),
            Err(StartInfoError::Fault(GuestFault::Unmapped(0x9000)))
        );
        assert!(mem.bytes.iter().all(|&b| b == 0));
    }

    #[test]
    fn misaligned_or_high_areas_and_nul_in_a_cmdline_are_refused() {
        let mut mem = FlatMemory::new(0x8000, 0x1000);
        let info = StartInfo { flags: 0, cmdline: "a\0b", modules: &[], memmap: &[], rsdp: 0 };
        assert_eq!(write_start_info(&mut mem, 0x8000..0x9000, &info), Err(StartInfoError::NulInCmdline));
        let info = StartInfo { cmdline: "", ..info };
        assert_eq!(write_start_info(&mut mem, 0x8004..0x9000, &info), Err(StartInfoError::BadArea(0x8004..0x9000)));
        assert!(write_start_info(&mut mem, 1 << 32..(1 << 32) + 0x1000, &info).is_err());
    }
}
