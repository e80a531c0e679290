//! How we were booted, when a multiboot loader (QEMU's `-kernel`, GRUB's
//! `multiboot` / `multiboot2`) started us: the Multiboot 1 information
//! structure (Multiboot Specification 0.6.96, section 3.3) or the
//! Multiboot 2 boot information (Multiboot2 Specification 2.0, section 3.6),
//! read into one `BootDescription` that the rest of bring-up uses without
//! knowing which loader ran.
//!
//! The loader's structures live in physical memory at addresses it chose
//! and are read through `PhysRead`, which bounds-checks every access: a
//! truncated or lying structure is an error, never a wild read. Strings and
//! modules stay where the loader put them and are described by their
//! physical ranges. Written here rather than taken from the `multiboot` /
//! `multiboot2` crates: those hand out references cast from raw physical
//! pointers (and the first folds every E820 type it does not know into
//! "reserved"), while this reader keeps parsing safe and testable on the
//! host.

#![forbid(unsafe_code)]

use crate::mm::{MemoryRegion, RegionKind};

/// `%eax` at a Multiboot 1 entry.
pub const MB1_BOOTLOADER_MAGIC: u32 = 0x2bad_b002;
/// `%eax` at a Multiboot 2 entry.
pub const MB2_BOOTLOADER_MAGIC: u32 = 0x36d7_6289;

/// Most memory-map entries kept (UEFI maps have ~100).
pub const MAX_REGIONS: usize = 512;
/// Most modules kept (Dom0, its initrd, the toolstack's files).
pub const MAX_MODULES: usize = 64;

/// Reads the loader's structures from physical memory.
pub trait PhysRead {
    /// Fills `buf` from physical address `addr`; false if any byte of the
    /// range is not readable memory.
    fn read(&self, addr: u64, buf: &mut [u8]) -> bool;
}

/// A string or blob the loader left in memory: its physical range.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PhysRange {
    pub addr: u64,
    pub len: u64,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BootModule {
    /// The module's bytes.
    pub data: PhysRange,
    /// Its string (GRUB: what follows the path on the `module` line); the
    /// terminating NUL excluded.
    pub string: PhysRange,
}

/// Where ACPI's root pointer is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rsdp {
    /// The loader told us nothing: scan the BIOS areas.
    Scan,
    /// A copy of the RSDP the loader made (Multiboot 2's ACPI tags): its
    /// bytes sit in the boot information at this range.
    Copy(PhysRange),
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Framebuffer {
    pub addr: u64,
    pub pitch: u32,
    pub width: u32,
    pub height: u32,
    pub bpp: u8,
}

/// Everything bring-up needs to know about how it was started.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BootDescription {
    pub regions: [MemoryRegion; MAX_REGIONS],
    pub region_count: usize,
    pub cmdline: PhysRange,
    pub modules: [BootModule; MAX_MODULES],
    pub module_count: usize,
    pub rsdp: Rsdp,
    pub framebuffer: Option<Framebuffer>,
    /// The boot loader's name (GRUB's "GRUB 2.06", QEMU's "qemu").
    pub loader_name: PhysRange,
    /// The loader's own structures: the information structure, and for
    /// Multiboot 1 its memory-map and module arrays. They, the strings and
    /// the modules must not be reused as free memory while bring-up reads them.
    pub structures: [PhysRange; 3],
    /// Entries or modules the arrays had no room for.
    pub dropped: usize,
}

impl BootDescription {
    fn empty() -> Self {
        BootDescription {
            regions: [MemoryRegion::EMPTY; MAX_REGIONS],
            region_count: 0,
            cmdline: PhysRange::default(),
            modules: [BootModule::default(); MAX_MODULES],
            module_count: 0,
            rsdp: Rsdp::Scan,
            framebuffer: None,
            loader_name: PhysRange::default(),
            structures: [PhysRange::default(); 3],
            dropped: 0,
        }
    }

    pub fn regions(&self) -> &[MemoryRegion] {
        &self.regions[..self.region_count]
    }

    pub fn modules(&self) -> &[BootModule] {
        &self.modules[..self.module_count]
    }

    /// Every physical range bring-up still reads: structures, strings, modules.
    pub fn in_use(&self) -> impl Iterator<Item = PhysRange> + '_ {
        let modules = self.modules().iter().flat_map(|m| [m.data, m.string]);
        self.structures.iter().copied().chain([self.cmdline, self.loader_name]).chain(modules).filter(|r| r.len > 0)
    }

    fn push_region(&mut self, start: u64, len: u64, kind: RegionKind) {
        if len == 0 {
            return;
        }
        match self.regions.get_mut(self.region_count) {
            Some(slot) => {
                *slot = MemoryRegion { start, end: start.saturating_add(len), kind };
                self.region_count += 1;
            }
            None => self.dropped += 1,
        }
    }

    fn push_module(&mut self, module: BootModule) {
        match self.modules.get_mut(self.module_count) {
            Some(slot) => {
                *slot = module;
                self.module_count += 1;
            }
            None => self.dropped += 1,
        }
    }
}

/// Why the loader's information could not be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BootInfoError {
    /// `%eax` held neither multiboot magic
    BadMagic(u32),
    /// the structure at this address is not readable memory
    Unreadable(u64),
    /// a size field is impossible (too small, or past the structure's end)
    BadSize(u64),
    /// a Multiboot 2 tag runs past the end of the boot information
    TruncatedTag { at: u64, tag: u32 },
    /// a string does not end (no NUL within 4 KiB)
    UnterminatedString(u64),
    /// the loader gave no memory map
    NoMemoryMap,
}

/// The E820 type (and RegionKind) a memory-map entry of `kind` means.
fn region_kind(e820: u32) -> RegionKind {
    if e820 == 1 { RegionKind::Usable } else { RegionKind::Firmware(e820) }
}

/// UEFI memory types (UEFI 2.10, 7.2) as E820 types, as Xen's
/// `efi_arch_process_memory_map` classifies them before ExitBootServices:
/// loader and boot-services memory is free RAM afterwards, runtime services
/// and MMIO are reserved.
fn efi_kind(efi_type: u32) -> RegionKind {
    match efi_type {
        // Loader code/data, boot services code/data, conventional memory.
        1..=4 | 7 => RegionKind::Usable,
        9 => RegionKind::Firmware(3),  // ACPI reclaim
        10 => RegionKind::Firmware(4), // ACPI NVS
        8 => RegionKind::Firmware(5),  // unusable
        _ => RegionKind::Firmware(2),
    }
}

/// Longest string looked for (command lines and module strings).
const MAX_STRING: u64 = 4096;

fn read_u32(mem: &dyn PhysRead, addr: u64) -> Result<u32, BootInfoError> {
    let mut b = [0u8; 4];
    if mem.read(addr, &mut b) { Ok(u32::from_le_bytes(b)) } else { Err(BootInfoError::Unreadable(addr)) }
}

fn read_u64(mem: &dyn PhysRead, addr: u64) -> Result<u64, BootInfoError> {
    let mut b = [0u8; 8];
    if mem.read(addr, &mut b) { Ok(u64::from_le_bytes(b)) } else { Err(BootInfoError::Unreadable(addr)) }
}

/// The NUL-terminated string at `addr`, at most `limit` bytes long with its NUL.
fn c_string(mem: &dyn PhysRead, addr: u64, limit: u64) -> Result<PhysRange, BootInfoError> {
    let mut chunk = [0u8; 64];
    let mut len = 0u64;
    while len < limit.min(MAX_STRING) {
        let n = (limit.min(MAX_STRING) - len).min(chunk.len() as u64);
        let part = &mut chunk[..crate::bits::to_usize(n)];
        // Near the end of readable memory, fall back to single bytes.
        if !mem.read(addr + len, part) {
            let mut one = [0u8; 1];
            if !mem.read(addr + len, &mut one) {
                return Err(BootInfoError::Unreadable(addr + len));
            }
            if one[0] == 0 {
                return Ok(PhysRange { addr, len });
            }
            len += 1;
            continue;
        }
        if let Some(nul) = part.iter().position(|&b| b == 0) {
            return Ok(PhysRange { addr, len: len + nul as u64 });
        }
        len += n;
    }
    Err(BootInfoError::UnterminatedString(addr))
}

// Multiboot 1 information (spec 3.3): flag bits and field offsets.
const MB1_MEMORY: u32 = 1 << 0;
const MB1_CMDLINE: u32 = 1 << 2;
const MB1_MODS: u32 = 1 << 3;
const MB1_MMAP: u32 = 1 << 6;
const MB1_LOADER_NAME: u32 = 1 << 9;
const MB1_FRAMEBUFFER: u32 = 1 << 12;
const MB1_INFO_SIZE: usize = 116;

/// Reads the Multiboot 1 information structure at `info`.
pub fn parse_multiboot1(mem: &dyn PhysRead, info: u64) -> Result<BootDescription, BootInfoError> {
    let mut raw = [0u8; MB1_INFO_SIZE];
    if !mem.read(info, &mut raw) {
        return Err(BootInfoError::Unreadable(info));
    }
    let field = |offset: usize| u32::from_le_bytes([raw[offset], raw[offset + 1], raw[offset + 2], raw[offset + 3]]);
    let flags = field(0);
    let mut d = BootDescription::empty();
    d.structures[0] = PhysRange { addr: info, len: MB1_INFO_SIZE as u64 };
    if flags & MB1_LOADER_NAME != 0 {
        d.loader_name = c_string(mem, u64::from(field(64)), MAX_STRING)?;
    }
    if flags & MB1_CMDLINE != 0 {
        d.cmdline = c_string(mem, u64::from(field(16)), MAX_STRING)?;
    }
    if flags & MB1_MODS != 0 {
        let (count, at) = (u64::from(field(20)), u64::from(field(24)));
        d.structures[1] = PhysRange { addr: at, len: count * 16 };
        for i in 0..count {
            let entry = at + i * 16;
            let (start, end) = (u64::from(read_u32(mem, entry)?), u64::from(read_u32(mem, entry + 4)?));
            let string = match read_u32(mem, entry + 8)? {
                0 => PhysRange::default(),
                s => c_string(mem, u64::from(s), MAX_STRING)?,
            };
            if end < start {
                return Err(BootInfoError::BadSize(entry));
            }
            d.push_module(BootModule { data: PhysRange { addr: start, len: end - start }, string });
        }
    }
    if flags & MB1_MMAP != 0 {
        // Entries are `size` (not counting itself), base, length, type.
        let (length, at) = (u64::from(field(44)), u64::from(field(48)));
        d.structures[2] = PhysRange { addr: at, len: length };
        let mut offset = 0;
        while offset < length {
            let entry = at + offset;
            let size = u64::from(read_u32(mem, entry)?);
            if size < 20 || offset + 4 + size > length {
                return Err(BootInfoError::BadSize(entry));
            }
            let base = read_u64(mem, entry + 4)?;
            let len = read_u64(mem, entry + 12)?;
            let kind = read_u32(mem, entry + 20)?;
            d.push_region(base, len, region_kind(kind));
            offset += 4 + size;
        }
    } else if flags & MB1_MEMORY != 0 {
        // Only the basic sizes, in KiB: low memory from 0, upper from 1 MiB.
        d.push_region(0, u64::from(field(4)) << 10, RegionKind::Usable);
        d.push_region(1 << 20, u64::from(field(8)) << 10, RegionKind::Usable);
    }
    if flags & MB1_FRAMEBUFFER != 0 {
        let addr = u64::from(field(88)) | (u64::from(field(92)) << 32);
        d.framebuffer = Some(Framebuffer { addr, pitch: field(96), width: field(100), height: field(104), bpp: raw[108] });
    }
    if d.region_count == 0 {
        return Err(BootInfoError::NoMemoryMap);
    }
    Ok(d)
}

// Multiboot 2 tag types (spec 3.6).
const TAG_END: u32 = 0;
const TAG_CMDLINE: u32 = 1;
const TAG_LOADER_NAME: u32 = 2;
const TAG_MODULE: u32 = 3;
const TAG_BASIC_MEMINFO: u32 = 4;
const TAG_MMAP: u32 = 6;
const TAG_FRAMEBUFFER: u32 = 8;
const TAG_ACPI_OLD: u32 = 14;
const TAG_ACPI_NEW: u32 = 15;
const TAG_EFI_MMAP: u32 = 17;

/// Reads the Multiboot 2 boot information at `info` (8-byte aligned).
pub fn parse_multiboot2(mem: &dyn PhysRead, info: u64) -> Result<BootDescription, BootInfoError> {
    if !info.is_multiple_of(8) {
        return Err(BootInfoError::BadSize(info));
    }
    let total = u64::from(read_u32(mem, info)?);
    if total < 16 {
        return Err(BootInfoError::BadSize(info));
    }
    let end = info.checked_add(total).ok_or(BootInfoError::BadSize(info))?;
    let mut d = BootDescription::empty();
    d.structures[0] = PhysRange { addr: info, len: total };
    let mut basic: Option<(u64, u64)> = None;
    let mut efi_map_seen = false;
    let mut e820_seen = false;
    let mut at = info + 8;
    loop {
        if at + 8 > end {
            return Err(BootInfoError::TruncatedTag { at, tag: u32::MAX });
        }
        let tag = read_u32(mem, at)?;
        let size = u64::from(read_u32(mem, at + 4)?);
        if size < 8 || at + size > end {
            return Err(BootInfoError::TruncatedTag { at, tag });
        }
        let body = at + 8;
        let body_len = size - 8;
        match tag {
            TAG_END => break,
            TAG_CMDLINE => d.cmdline = c_string(mem, body, body_len)?,
            TAG_LOADER_NAME => d.loader_name = c_string(mem, body, body_len)?,
            TAG_MODULE if body_len >= 8 => {
                let start = u64::from(read_u32(mem, body)?);
                let mod_end = u64::from(read_u32(mem, body + 4)?);
                if mod_end < start {
                    return Err(BootInfoError::BadSize(at));
                }
                let string = c_string(mem, body + 8, body_len - 8)?;
                d.push_module(BootModule { data: PhysRange { addr: start, len: mod_end - start }, string });
            }
            TAG_BASIC_MEMINFO if body_len >= 8 => {
                basic = Some((u64::from(read_u32(mem, body)?), u64::from(read_u32(mem, body + 4)?)));
            }
            TAG_MMAP if body_len >= 8 => {
                let entry_size = u64::from(read_u32(mem, body)?);
                if entry_size < 24 {
                    return Err(BootInfoError::BadSize(at));
                }
                if efi_map_seen {
                    // The E820-style map wins over an EFI map read before it.
                    d.region_count = 0;
                    efi_map_seen = false;
                }
                let mut e = body + 8;
                while e + entry_size <= at + size {
                    d.push_region(read_u64(mem, e)?, read_u64(mem, e + 8)?, region_kind(read_u32(mem, e + 16)?));
                    e += entry_size;
                }
                e820_seen = true;
            }
            TAG_EFI_MMAP if body_len >= 8 => {
                // Used when there is no E820-style map (UEFI without CSM).
                let desc_size = u64::from(read_u32(mem, body)?);
                if desc_size < 40 {
                    return Err(BootInfoError::BadSize(at));
                }
                if !e820_seen {
                    let mut e = body + 8;
                    while e + desc_size <= at + size {
                        let efi_type = read_u32(mem, e)?;
                        let start = read_u64(mem, e + 8)?;
                        let pages = read_u64(mem, e + 24)?;
                        d.push_region(start, pages.saturating_mul(4096), efi_kind(efi_type));
                        e += desc_size;
                    }
                    efi_map_seen = true;
                }
            }
            TAG_FRAMEBUFFER if body_len >= 22 => {
                let addr = read_u64(mem, body)?;
                let pitch = read_u32(mem, body + 8)?;
                let width = read_u32(mem, body + 12)?;
                let height = read_u32(mem, body + 16)?;
                let mut bpp = [0u8; 1];
                if !mem.read(body + 20, &mut bpp) {
                    return Err(BootInfoError::Unreadable(body + 20));
                }
                d.framebuffer = Some(Framebuffer { addr, pitch, width, height, bpp: bpp[0] });
            }
            // ACPI 2.0's RSDP wins over the 1.0 copy.
            TAG_ACPI_NEW if body_len >= 36 => d.rsdp = Rsdp::Copy(PhysRange { addr: body, len: body_len }),
            TAG_ACPI_OLD if body_len >= 20 && d.rsdp == Rsdp::Scan => {
                d.rsdp = Rsdp::Copy(PhysRange { addr: body, len: body_len });
            }
            _ => {}
        }
        // Tags start 8-byte aligned.
        at = (at + size).next_multiple_of(8);
    }
    if d.region_count == 0 {
        match basic {
            Some((lower, upper)) => {
                d.push_region(0, lower << 10, RegionKind::Usable);
                d.push_region(1 << 20, upper << 10, RegionKind::Usable);
            }
            None => return Err(BootInfoError::NoMemoryMap),
        }
    }
    Ok(d)
}

/// The description from a multiboot entry's `%eax` and `%ebx`.
pub fn parse(mem: &dyn PhysRead, magic: u32, info: u64) -> Result<BootDescription, BootInfoError> {
    match magic {
        MB1_BOOTLOADER_MAGIC => parse_multiboot1(mem, info),
        MB2_BOOTLOADER_MAGIC => parse_multiboot2(mem, info),
        other => Err(BootInfoError::BadMagic(other)),
    }
}

/// A command line as the loader passed it, made the hypervisor's or a
/// module's (Xen's `cmdline_cook`): GRUB 2 passes only the arguments, other
/// loaders (QEMU, GRUB legacy) put the image's path first, which goes.
pub fn cook<'a>(raw: &'a str, loader_name: &str) -> &'a str {
    let raw = raw.trim_start();
    if loader_name.starts_with("GRUB 2") {
        return raw.trim_end();
    }
    raw.split_once(char::is_whitespace).map_or("", |(_, rest)| rest).trim()
}

/// The name Dom0 sees a module by: the first word of its cooked string
/// (`module2 /boot/demo1.cfg demo1.cfg`), else the file name of the path
/// the loader put first (QEMU's `-initrd configs/demo1.cfg`).
pub fn module_name<'a>(raw: &'a str, loader_name: &str) -> Option<&'a str> {
    if let Some(word) = cook(raw, loader_name).split_whitespace().next() {
        return Some(word);
    }
    if loader_name.starts_with("GRUB 2") {
        return None;
    }
    raw.split_whitespace().next().and_then(|path| path.rsplit('/').next()).filter(|n| !n.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    /// Physical memory from `base` on, as a byte vector.
    struct Fake {
        base: u64,
        bytes: Vec<u8>,
    }

    impl Fake {
        fn new(base: u64, len: usize) -> Self {
            Fake { base, bytes: vec![0; len] }
        }
        fn put(&mut self, addr: u64, data: &[u8]) {
            let at = usize::try_from(addr - self.base).unwrap();
            self.bytes[at..at + data.len()].copy_from_slice(data);
        }
        fn put32(&mut self, addr: u64, v: u32) {
            self.put(addr, &v.to_le_bytes());
        }
        fn put64(&mut self, addr: u64, v: u64) {
            self.put(addr, &v.to_le_bytes());
        }
        fn text(&self, r: PhysRange) -> &str {
            let at = usize::try_from(r.addr - self.base).unwrap();
            core::str::from_utf8(&self.bytes[at..at + usize::try_from(r.len).unwrap()]).unwrap()
        }
    }

    impl PhysRead for Fake {
        fn read(&self, addr: u64, buf: &mut [u8]) -> bool {
            let Some(off) = addr.checked_sub(self.base) else { return false };
            let Ok(off) = usize::try_from(off) else { return false };
            match self.bytes.get(off..off + buf.len()) {
                Some(src) => {
                    buf.copy_from_slice(src);
                    true
                }
                None => false,
            }
        }
    }

    const BASE: u64 = 0x1_0000;

    /// A Multiboot 1 info at BASE with a command line, two modules and a
    /// three-entry memory map.
    fn mb1() -> Fake {
        let mut m = Fake::new(BASE, 0x1000);
        m.put32(BASE, MB1_CMDLINE | MB1_MODS | MB1_MMAP);
        m.put32(BASE + 16, 0x1_0200);
        m.put(0x1_0200, b"console=com1 loglvl=debug\0");
        m.put32(BASE + 20, 2);
        m.put32(BASE + 24, 0x1_0300);
        for (i, (start, end, name)) in [(0x20_0000u32, 0x30_0000u32, 0x1_0400u32), (0x30_0000, 0x30_1000, 0)].iter().enumerate() {
            let e = 0x1_0300 + 16 * i as u64;
            m.put32(e, *start);
            m.put32(e + 4, *end);
            m.put32(e + 8, *name);
        }
        m.put(0x1_0400, b"dom0 autostart=demo1.cfg\0");
        m.put32(BASE + 44, 3 * 24);
        m.put32(BASE + 48, 0x1_0500);
        for (i, (base, len, kind)) in [(0u64, 0x9_fc00u64, 1u32), (0xf_0000, 0x1_0000, 2), (0x10_0000, 0x7ef_0000, 1)].iter().enumerate() {
            let e = 0x1_0500 + 24 * i as u64;
            m.put32(e, 20);
            m.put64(e + 4, *base);
            m.put64(e + 12, *len);
            m.put32(e + 20, *kind);
        }
        m
    }

    #[test]
    fn multiboot1_gives_cmdline_modules_and_the_e820_map() {
        let m = mb1();
        let d = parse(&m, MB1_BOOTLOADER_MAGIC, BASE).unwrap();
        assert_eq!(m.text(d.cmdline), "console=com1 loglvl=debug");
        assert_eq!(d.modules().len(), 2);
        assert_eq!(d.modules()[0].data, PhysRange { addr: 0x20_0000, len: 0x10_0000 });
        assert_eq!(m.text(d.modules()[0].string), "dom0 autostart=demo1.cfg");
        assert_eq!(d.modules()[1].string, PhysRange::default(), "no string: empty");
        assert_eq!(d.regions().len(), 3);
        assert_eq!(d.regions()[1], MemoryRegion { start: 0xf_0000, end: 0x10_0000, kind: RegionKind::Firmware(2) });
        assert!(d.regions()[2].is_usable());
        assert_eq!(d.rsdp, Rsdp::Scan);
    }

    #[test]
    fn multiboot1_keeps_unknown_e820_types() {
        let mut m = mb1();
        m.put32(0x1_0500 + 24 + 20, 12);
        let d = parse_multiboot1(&m, BASE).unwrap();
        assert_eq!(d.regions()[1].kind, RegionKind::Firmware(12));
    }

    #[test]
    fn multiboot1_without_a_map_uses_the_basic_sizes() {
        let mut m = Fake::new(BASE, 0x200);
        m.put32(BASE, MB1_MEMORY);
        m.put32(BASE + 4, 639);
        m.put32(BASE + 8, 64 * 1024);
        let d = parse_multiboot1(&m, BASE).unwrap();
        assert_eq!(d.regions()[1], MemoryRegion { start: 1 << 20, end: (1 << 20) + (64 << 20), kind: RegionKind::Usable });
        let mut none = Fake::new(BASE, 0x200);
        none.put32(BASE, 0);
        assert_eq!(parse_multiboot1(&none, BASE), Err(BootInfoError::NoMemoryMap));
    }

    #[test]
    fn multiboot1_bad_and_truncated_structures_are_errors() {
        let m = mb1();
        assert_eq!(parse_multiboot1(&m, BASE + 0xff0), Err(BootInfoError::Unreadable(BASE + 0xff0)));
        let mut short_entry = mb1();
        short_entry.put32(0x1_0500 + 24, 8);
        assert_eq!(parse_multiboot1(&short_entry, BASE), Err(BootInfoError::BadSize(0x1_0500 + 24)));
        let mut past_end = mb1();
        past_end.put32(0x1_0500 + 48, 200);
        assert_eq!(parse_multiboot1(&past_end, BASE), Err(BootInfoError::BadSize(0x1_0500 + 48)));
        let mut unterminated = mb1();
        unterminated.put32(BASE + 16, 0x1_0ffc);
        unterminated.put(BASE + 0xffc, b"abcd");
        assert_eq!(parse_multiboot1(&unterminated, BASE), Err(BootInfoError::Unreadable(BASE + 0x1000)));
        let mut backwards = mb1();
        backwards.put32(0x1_0300 + 4, 0x10_0000);
        assert_eq!(parse_multiboot1(&backwards, BASE), Err(BootInfoError::BadSize(0x1_0300)));
        let mut many = mb1();
        many.put32(BASE + 20, 1000);
        assert!(matches!(parse_multiboot1(&many, BASE), Err(BootInfoError::Unreadable(_))), "module list past memory");
        assert_eq!(parse(&m, 0x1234, BASE), Err(BootInfoError::BadMagic(0x1234)));
    }

    /// Builds a Multiboot 2 boot information from (type, body) tags.
    fn mb2(tags: &[(u32, Vec<u8>)]) -> Fake {
        let mut blob = vec![0u8; 8];
        for (tag, body) in tags {
            blob.extend_from_slice(&tag.to_le_bytes());
            blob.extend_from_slice(&(u32::try_from(body.len()).unwrap() + 8).to_le_bytes());
            blob.extend_from_slice(body);
            blob.resize(blob.len().next_multiple_of(8), 0);
        }
        blob.extend_from_slice(&[0, 0, 0, 0, 8, 0, 0, 0]);
        let total = u32::try_from(blob.len()).unwrap();
        blob[0..4].copy_from_slice(&total.to_le_bytes());
        let mut m = Fake::new(BASE, blob.len() + 0x1000);
        m.put(BASE, &blob);
        m
    }

    fn le(parts: &[&[u8]]) -> Vec<u8> {
        parts.concat()
    }

    fn mmap_body(entries: &[(u64, u64, u32)]) -> Vec<u8> {
        let mut b = le(&[&24u32.to_le_bytes(), &0u32.to_le_bytes()]);
        for (base, len, kind) in entries {
            b.extend_from_slice(&le(&[&base.to_le_bytes(), &len.to_le_bytes(), &kind.to_le_bytes(), &0u32.to_le_bytes()]));
        }
        b
    }

    #[test]
    fn multiboot2_gives_cmdline_modules_map_and_rsdp() {
        let mut rsdp = b"RSD PTR ".to_vec();
        rsdp.resize(36, 0);
        rsdp[15] = 2;
        let m = mb2(&[
            (TAG_CMDLINE, b"dom0_mem=128M\0".to_vec()),
            (TAG_MODULE, le(&[&0x40_0000u32.to_le_bytes(), &0x48_0000u32.to_le_bytes(), b"console=hvc0\0"])),
            (TAG_MODULE, le(&[&0x50_0000u32.to_le_bytes(), &0x50_0100u32.to_le_bytes(), b"\0"])),
            (TAG_MMAP, mmap_body(&[(0, 0x9_f000, 1), (0x10_0000, 0x1000_0000, 1), (0xfee0_0000, 0x1000, 2)])),
            (TAG_ACPI_OLD, vec![0; 20]),
            (TAG_ACPI_NEW, rsdp),
            (99, vec![1, 2, 3]),
        ]);
        let d = parse(&m, MB2_BOOTLOADER_MAGIC, BASE).unwrap();
        assert_eq!(m.text(d.cmdline), "dom0_mem=128M");
        assert_eq!(d.modules().len(), 2);
        assert_eq!(m.text(d.modules()[0].string), "console=hvc0");
        assert_eq!(d.modules()[1].data.len, 0x100);
        assert_eq!(d.modules()[1].string.len, 0);
        assert_eq!(d.regions().len(), 3);
        assert_eq!(d.regions()[2].kind, RegionKind::Firmware(2));
        let Rsdp::Copy(r) = d.rsdp else { panic!("no rsdp") };
        assert_eq!(r.len, 36, "the ACPI 2.0 copy wins");
    }

    #[test]
    fn multiboot2_uses_the_efi_map_only_without_an_e820_one() {
        let desc = |kind: u32, start: u64, pages: u64| {
            let mut d = le(&[&kind.to_le_bytes(), &0u32.to_le_bytes(), &start.to_le_bytes(), &0u64.to_le_bytes(), &pages.to_le_bytes(), &0u64.to_le_bytes()]);
            d.resize(48, 0);
            d
        };
        let body = le(&[&48u32.to_le_bytes(), &1u32.to_le_bytes(), &desc(7, 0x10_0000, 256), &desc(10, 0x20_0000, 1), &desc(11, 0xffc0_0000, 1024)]);
        let d = parse_multiboot2(&mb2(&[(TAG_EFI_MMAP, body.clone())]), BASE).unwrap();
        assert_eq!(d.regions().len(), 3);
        assert_eq!(d.regions()[0], MemoryRegion { start: 0x10_0000, end: 0x20_0000, kind: RegionKind::Usable });
        assert_eq!(d.regions()[1].kind, RegionKind::Firmware(4));
        assert_eq!(d.regions()[2].kind, RegionKind::Firmware(2));
        let both = parse_multiboot2(&mb2(&[(TAG_MMAP, mmap_body(&[(0, 0x1000, 1)])), (TAG_EFI_MMAP, body)]), BASE).unwrap();
        assert_eq!(both.regions().len(), 1, "the E820-style map wins");
    }

    #[test]
    fn multiboot2_falls_back_to_basic_meminfo() {
        let m = mb2(&[(TAG_BASIC_MEMINFO, le(&[&639u32.to_le_bytes(), &(127 * 1024u32).to_le_bytes()]))]);
        let d = parse_multiboot2(&m, BASE).unwrap();
        assert_eq!(d.regions()[1].end, (1 << 20) + (127 << 20));
        assert_eq!(parse_multiboot2(&mb2(&[]), BASE), Err(BootInfoError::NoMemoryMap));
    }

    #[test]
    fn multiboot2_bad_and_truncated_structures_are_errors() {
        let good = mb2(&[(TAG_CMDLINE, b"x\0".to_vec()), (TAG_MMAP, mmap_body(&[(0, 0x1000, 1)]))]);
        assert!(parse_multiboot2(&good, BASE).is_ok());
        assert_eq!(parse_multiboot2(&good, BASE + 4), Err(BootInfoError::BadSize(BASE + 4)), "misaligned");
        // total_size smaller than the tags it holds.
        let mut short = mb2(&[(TAG_CMDLINE, b"x\0".to_vec()), (TAG_MMAP, mmap_body(&[(0, 0x1000, 1)]))]);
        short.put32(BASE, 40);
        assert_eq!(parse_multiboot2(&short, BASE), Err(BootInfoError::TruncatedTag { at: BASE + 24, tag: TAG_MMAP }));
        // A tag whose size runs past the end.
        let mut long_tag = mb2(&[(TAG_CMDLINE, b"x\0".to_vec())]);
        long_tag.put32(BASE + 12, 0x1000);
        assert_eq!(parse_multiboot2(&long_tag, BASE), Err(BootInfoError::TruncatedTag { at: BASE + 8, tag: TAG_CMDLINE }));
        // A tag smaller than its header.
        let mut tiny = mb2(&[(TAG_CMDLINE, b"x\0".to_vec())]);
        tiny.put32(BASE + 12, 4);
        assert!(matches!(parse_multiboot2(&tiny, BASE), Err(BootInfoError::TruncatedTag { .. })));
        // A command line without its NUL inside the tag.
        let unterminated = mb2(&[(TAG_CMDLINE, b"abcdefgh".to_vec()), (TAG_MMAP, mmap_body(&[(0, 0x1000, 1)]))]);
        assert_eq!(parse_multiboot2(&unterminated, BASE), Err(BootInfoError::UnterminatedString(BASE + 16)));
        // An mmap entry size too small to hold an entry.
        let mut bad_entry = mb2(&[(TAG_MMAP, mmap_body(&[(0, 0x1000, 1)]))]);
        bad_entry.put32(BASE + 16, 8);
        assert_eq!(parse_multiboot2(&bad_entry, BASE), Err(BootInfoError::BadSize(BASE + 8)));
        // No end tag before total_size ends.
        let mut no_end = mb2(&[(TAG_MMAP, mmap_body(&[(0, 0x1000, 1)]))]);
        let total = u64::from(read_u32(&no_end, BASE).unwrap());
        no_end.put32(BASE, u32::try_from(total - 8).unwrap());
        assert!(matches!(parse_multiboot2(&no_end, BASE), Err(BootInfoError::TruncatedTag { .. })));
        // Module ending before it starts.
        let backwards = mb2(&[(TAG_MODULE, le(&[&0x2000u32.to_le_bytes(), &0x1000u32.to_le_bytes(), b"\0"]))]);
        assert_eq!(parse_multiboot2(&backwards, BASE), Err(BootInfoError::BadSize(BASE + 8)));
        let mut unreadable = Fake::new(BASE, 4);
        unreadable.put32(BASE, 64);
        assert!(matches!(parse_multiboot2(&unreadable, BASE), Err(BootInfoError::Unreadable(_))));
    }

    #[test]
    fn command_lines_lose_the_image_path_unless_grub2_left_it_out() {
        assert_eq!(cook("/boot/hv loglvl=debug dom0_mem=96M", "qemu"), "loglvl=debug dom0_mem=96M");
        assert_eq!(cook("target/hypervisor", "qemu"), "");
        assert_eq!(cook("loglvl=debug ", "GRUB 2.06"), "loglvl=debug");
        assert_eq!(module_name("target/x/domu/demo demo", "qemu"), Some("demo"));
        assert_eq!(module_name("configs/demo1.cfg", "qemu"), Some("demo1.cfg"));
        assert_eq!(module_name("demo1.cfg", "GRUB 2.06"), Some("demo1.cfg"));
        assert_eq!(module_name("", "GRUB 2.06"), None);
        assert_eq!(module_name("dir/", "qemu"), None);
    }

    #[test]
    fn the_loaders_structures_and_strings_are_reported_in_use() {
        let m = mb1();
        let d = parse_multiboot1(&m, BASE).unwrap();
        let used: Vec<PhysRange> = d.in_use().collect();
        assert!(used.contains(&PhysRange { addr: BASE, len: 116 }));
        assert!(used.contains(&PhysRange { addr: 0x1_0500, len: 72 }), "the memory map array");
        assert!(used.contains(&PhysRange { addr: 0x1_0300, len: 32 }), "the module array");
        assert!(used.contains(&PhysRange { addr: 0x20_0000, len: 0x10_0000 }), "a module");
        assert!(used.contains(&d.cmdline));
    }

    #[test]
    fn too_many_entries_are_counted_not_overflowed() {
        let entries: Vec<(u64, u64, u32)> = (0..(MAX_REGIONS as u64 + 3)).map(|i| (i << 12, 0x1000, 1)).collect();
        let d = parse_multiboot2(&mb2(&[(TAG_MMAP, mmap_body(&entries))]), BASE).unwrap();
        assert_eq!((d.region_count, d.dropped), (MAX_REGIONS, 3));
    }

    #[test]
    fn an_e820_map_after_an_efi_map_replaces_it() {
        let mut efi = le(&[&48u32.to_le_bytes(), &1u32.to_le_bytes(), &7u32.to_le_bytes()]);
        efi.resize(8 + 48, 0);
        let d = parse_multiboot2(&mb2(&[(TAG_EFI_MMAP, efi), (TAG_MMAP, mmap_body(&[(0, 0x1000, 1), (0x1000, 0x1000, 2)]))]), BASE).unwrap();
        assert_eq!(d.regions().len(), 2);
    }
}
