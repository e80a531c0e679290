//! Reading the `hvm_start_info` the domain builder left in guest memory.
//!
//! Everything is copied out (with unaligned reads) and bounded: the command
//! line to [`CMDLINE_MAX`] bytes, the memory map to [`MEMMAP_MAX`] entries,
//! and only addresses below 4 GiB (what the entry code identity-maps) are read.

use abi::hvm::start_info::{
    HvmMemmapTableEntry, HvmModlistEntry, HvmStartInfo, XEN_HVM_MEMMAP_TYPE_RAM,
    XEN_HVM_START_MAGIC_VALUE,
};

/// Longest command line read.
const CMDLINE_MAX: usize = 1024;
/// Most memory-map entries read.
const MEMMAP_MAX: usize = 64;
/// End of the identity mapping built by the entry code.
pub const MAPPED_END: u64 = 1 << 32;

/// Longest module name read.
const NAME_MAX: usize = 255;

/// A boot-bundle file the start info lists as a module.
#[derive(Clone, Copy, Debug)]
pub struct Module {
    pub name: &'static str,
    pub data: &'static [u8],
}

/// The start info and what it points to.
pub struct StartInfo {
    pub info: HvmStartInfo,
    cmdline: [u8; CMDLINE_MAX],
    cmdline_len: usize,
    memmap: [HvmMemmapTableEntry; MEMMAP_MAX],
    memmap_len: usize,
}

/// Why the start info cannot be used.
#[derive(Debug)]
pub enum Error {
    /// The address is 0 or not below 4 GiB.
    Unmapped(u64),
    /// `magic` is not `XEN_HVM_START_MAGIC_VALUE`.
    BadMagic(u32),
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Error::Unmapped(paddr) => write!(f, "address {paddr:#x} is 0 or not below 4 GiB"),
            Error::BadMagic(magic) => {
                write!(
                    f,
                    "magic {magic:#x}, expected {XEN_HVM_START_MAGIC_VALUE:#x}"
                )
            }
        }
    }
}

/// Whether `len` bytes at `paddr` lie inside the identity mapping.
fn mapped(paddr: u64, len: u64) -> bool {
    paddr != 0 && paddr.checked_add(len).is_some_and(|end| end <= MAPPED_END)
}

impl StartInfo {
    /// Reads the start info at `paddr` (from `%ebx` at entry).
    pub fn read(paddr: u64) -> Result<StartInfo, Error> {
        let mut info = HvmStartInfo::default();
        // Version 0 ends before memmap_paddr: read only what is certainly there.
        let size = HvmStartInfo::SIZE_V0 as u64;
        if !mapped(paddr, size) {
            return Err(Error::Unmapped(paddr));
        }
        let head: [u8; HvmStartInfo::SIZE_V0] =
            // SAFETY: `paddr` is identity-mapped (checked) and the builder put a start info there; an unaligned read copies it whatever its alignment.
            unsafe { core::ptr::read_unaligned(paddr as *const _) };
        abi::zerocopy::IntoBytes::as_mut_bytes(&mut info)[..HvmStartInfo::SIZE_V0]
            .copy_from_slice(&head);
        if info.magic != XEN_HVM_START_MAGIC_VALUE {
            return Err(Error::BadMagic(info.magic));
        }
        if info.version >= 1 {
            // SAFETY: as above, for the full version 1 structure.
            info = unsafe { core::ptr::read_unaligned(paddr as *const HvmStartInfo) };
        }
        let mut si = StartInfo {
            info,
            cmdline: [0; CMDLINE_MAX],
            cmdline_len: 0,
            memmap: [HvmMemmapTableEntry::default(); MEMMAP_MAX],
            memmap_len: 0,
        };
        si.read_cmdline();
        si.read_memmap();
        Ok(si)
    }

    fn read_cmdline(&mut self) {
        let base = self.info.cmdline_paddr;
        for i in 0..CMDLINE_MAX {
            let addr = base + i as u64;
            if !mapped(addr, 1) {
                break;
            }
            // SAFETY: identity-mapped (checked); the builder wrote a NUL-terminated string there; read bytewise up to the NUL.
            let b = unsafe { core::ptr::read_volatile(addr as *const u8) };
            if b == 0 {
                break;
            }
            self.cmdline[i] = b;
            self.cmdline_len = i + 1;
        }
    }

    fn read_memmap(&mut self) {
        let entry_size = core::mem::size_of::<HvmMemmapTableEntry>() as u64;
        let n = (self.info.memmap_entries as usize).min(MEMMAP_MAX);
        for i in 0..n {
            let addr = self.info.memmap_paddr + i as u64 * entry_size;
            if !mapped(addr, entry_size) {
                break;
            }
            self.memmap[i] =
                // SAFETY: identity-mapped (checked); the builder wrote `memmap_entries` entries there.
                unsafe { core::ptr::read_unaligned(addr as *const HvmMemmapTableEntry) };
            self.memmap_len = i + 1;
        }
    }

    /// The command line (empty if absent; `"<non-UTF-8>"` if not text).
    pub fn cmdline(&self) -> &str {
        core::str::from_utf8(&self.cmdline[..self.cmdline_len]).unwrap_or("<non-UTF-8>")
    }

    /// Module `index` of the modlist: its name (its command line, as the
    /// hypervisor's Dom0 builder names boot-bundle files) and its bytes.
    /// None past the list or when any part is outside the identity map.
    pub fn module(&self, index: u32) -> Option<Module> {
        if index >= self.info.nr_modules {
            return None;
        }
        let entry_size = core::mem::size_of::<HvmModlistEntry>() as u64;
        let addr = self.info.modlist_paddr.checked_add(u64::from(index) * entry_size)?;
        if !mapped(addr, entry_size) {
            return None;
        }
        // SAFETY: identity-mapped (checked); the builder wrote `nr_modules` entries there.
        let entry = unsafe { core::ptr::read_unaligned(addr as *const HvmModlistEntry) };
        if !mapped(entry.paddr, entry.size.max(1)) {
            return None;
        }
        let size = usize::try_from(entry.size).ok()?;
        // SAFETY: the module's bytes are identity-mapped (checked), written by the builder before entry and never changed after.
        let data = unsafe { core::slice::from_raw_parts(entry.paddr as *const u8, size) };
        let mut len = 0;
        while len < NAME_MAX && mapped(entry.cmdline_paddr + len as u64, 1) {
            // SAFETY: identity-mapped (checked), read bytewise up to the NUL.
            if unsafe { core::ptr::read_volatile((entry.cmdline_paddr + len as u64) as *const u8) } == 0 {
                break;
            }
            len += 1;
        }
        if len == 0 {
            // No name: the builder leaves cmdline_paddr 0 (never a pointer to use).
            return Some(Module { name: "", data });
        }
        // SAFETY: `len` (> 0) bytes at a non-zero address were just checked to be mapped; they stay unchanged.
        let name = unsafe { core::slice::from_raw_parts(entry.cmdline_paddr as *const u8, len) };
        Some(Module { name: core::str::from_utf8(name).unwrap_or(""), data })
    }

    /// The module named `name`, if the bundle has it.
    pub fn module_named(&self, name: &str) -> Option<Module> {
        (0..self.info.nr_modules).filter_map(|i| self.module(i)).find(|m| m.name == name)
    }

    /// The memory map as read (at most [`MEMMAP_MAX`] entries).
    pub fn memmap(&self) -> &[HvmMemmapTableEntry] {
        &self.memmap[..self.memmap_len]
    }

    /// A guest-physical address the memory map does not list at all, at or
    /// above 4 GiB: below 4 GiB the holes a Dom0's map leaves out are where
    /// devices decode, and the hypervisor passes them through to Dom0. It is
    /// 16 MiB past 4 GiB or past the end of the highest RAM entry, whichever
    /// is higher, then further up in 16 MiB steps below 512 GiB (what
    /// [`crate::paging::map_identity_2mib`] can map). `None` without a memory
    /// map: then nothing is known to be outside Dom0's memory.
    pub fn unlisted_address(&self) -> Option<u64> {
        const STEP: u64 = 16 << 20;
        const LIMIT: u64 = crate::paging::MAP_LIMIT;
        let map = self.memmap();
        let ram_end = map
            .iter()
            .filter(|e| e.r#type == XEN_HVM_MEMMAP_TYPE_RAM)
            .map(|e| e.addr.saturating_add(e.size))
            .max()?;
        let listed = |a: u64| {
            map.iter()
                .any(|e| e.addr <= a && a < e.addr.saturating_add(e.size))
        };
        let mut candidate = ram_end.max(MAPPED_END).checked_next_multiple_of(2 << 20)? + STEP;
        while candidate < LIMIT {
            if !listed(candidate) {
                return Some(candidate);
            }
            candidate += STEP;
        }
        None
    }
}

/// Xen's short name of a memory-map type.
pub fn memmap_type_name(ty: u32) -> &'static str {
    use abi::hvm::start_info::*;
    match ty {
        XEN_HVM_MEMMAP_TYPE_RAM => "ram",
        XEN_HVM_MEMMAP_TYPE_RESERVED => "reserved",
        XEN_HVM_MEMMAP_TYPE_ACPI => "acpi",
        XEN_HVM_MEMMAP_TYPE_NVS => "nvs",
        XEN_HVM_MEMMAP_TYPE_UNUSABLE => "unusable",
        XEN_HVM_MEMMAP_TYPE_DISABLED => "disabled",
        XEN_HVM_MEMMAP_TYPE_PMEM => "pmem",
        _ => "unknown",
    }
}
