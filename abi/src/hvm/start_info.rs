//! Mirrors xen/include/public/arch-x86/hvm/start_info.h
//!
//! The PVH boot protocol: the kernel starts in 32-bit protected mode, paging
//! off, at its `XEN_ELFNOTE_PHYS32_ENTRY`, with `%ebx` holding the physical
//! address of an [`HvmStartInfo`]. The structures it points to (module list,
//! command line, memory map) live in guest memory too. All addresses are
//! guest-physical. `flags` holds `SIF_*` from [`crate::xen`].

use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

/// `magic` of a valid start info: "xEn3" with the 0x80 bit of the "E" set.
pub const XEN_HVM_START_MAGIC_VALUE: u32 = 0x336e_c578;

// hvm_memmap_table_entry.type, the same values as E820 types.
pub const XEN_HVM_MEMMAP_TYPE_RAM: u32 = 1;
pub const XEN_HVM_MEMMAP_TYPE_RESERVED: u32 = 2;
pub const XEN_HVM_MEMMAP_TYPE_ACPI: u32 = 3;
pub const XEN_HVM_MEMMAP_TYPE_NVS: u32 = 4;
pub const XEN_HVM_MEMMAP_TYPE_UNUSABLE: u32 = 5;
pub const XEN_HVM_MEMMAP_TYPE_DISABLED: u32 = 6;
pub const XEN_HVM_MEMMAP_TYPE_PMEM: u32 = 7;

/// `struct hvm_start_info`, version 1 (version 0 ends before `memmap_paddr`).
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
pub struct HvmStartInfo {
    /// [`XEN_HVM_START_MAGIC_VALUE`].
    pub magic: u32,
    /// Version of this structure (0 or 1).
    pub version: u32,
    /// `SIF_*` flags.
    pub flags: u32,
    /// Number of modules passed to the kernel.
    pub nr_modules: u32,
    /// Physical address of an array of [`HvmModlistEntry`].
    pub modlist_paddr: u64,
    /// Physical address of the NUL-terminated command line.
    pub cmdline_paddr: u64,
    /// Physical address of the ACPI RSDP.
    pub rsdp_paddr: u64,
    /// Version 1: physical address of an array of [`HvmMemmapTableEntry`].
    pub memmap_paddr: u64,
    /// Version 1: number of memmap entries; zero if no map is provided.
    pub memmap_entries: u32,
    /// Must be zero.
    pub reserved: u32,
}

impl HvmStartInfo {
    /// The structure version this crate describes.
    pub const VERSION: u32 = 1;
    /// Size of a version 0 structure (it ends before `memmap_paddr`).
    pub const SIZE_V0: usize = core::mem::offset_of!(HvmStartInfo, memmap_paddr);
}

const _: () = assert!(core::mem::size_of::<HvmStartInfo>() == 56);
const _: () = assert!(core::mem::offset_of!(HvmStartInfo, magic) == 0);
const _: () = assert!(core::mem::offset_of!(HvmStartInfo, version) == 4);
const _: () = assert!(core::mem::offset_of!(HvmStartInfo, flags) == 8);
const _: () = assert!(core::mem::offset_of!(HvmStartInfo, nr_modules) == 12);
const _: () = assert!(core::mem::offset_of!(HvmStartInfo, modlist_paddr) == 16);
const _: () = assert!(core::mem::offset_of!(HvmStartInfo, cmdline_paddr) == 24);
const _: () = assert!(core::mem::offset_of!(HvmStartInfo, rsdp_paddr) == 32);
const _: () = assert!(core::mem::offset_of!(HvmStartInfo, memmap_paddr) == 40);
const _: () = assert!(core::mem::offset_of!(HvmStartInfo, memmap_entries) == 48);
const _: () = assert!(core::mem::offset_of!(HvmStartInfo, reserved) == 52);

/// `struct hvm_modlist_entry`: one boot module.
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
pub struct HvmModlistEntry {
    /// Physical address of the module.
    pub paddr: u64,
    /// Size of the module in bytes.
    pub size: u64,
    /// Physical address of the module's command line (0 if none).
    pub cmdline_paddr: u64,
    pub reserved: u64,
}

const _: () = assert!(core::mem::size_of::<HvmModlistEntry>() == 32);
const _: () = assert!(core::mem::offset_of!(HvmModlistEntry, paddr) == 0);
const _: () = assert!(core::mem::offset_of!(HvmModlistEntry, size) == 8);
const _: () = assert!(core::mem::offset_of!(HvmModlistEntry, cmdline_paddr) == 16);
const _: () = assert!(core::mem::offset_of!(HvmModlistEntry, reserved) == 24);

/// `struct hvm_memmap_table_entry`: one range of the guest's memory map.
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
pub struct HvmMemmapTableEntry {
    /// Base address of the memory region.
    pub addr: u64,
    /// Size of the memory region in bytes.
    pub size: u64,
    /// `XEN_HVM_MEMMAP_TYPE_*`.
    pub r#type: u32,
    /// Must be zero for version 1.
    pub reserved: u32,
}

const _: () = assert!(core::mem::size_of::<HvmMemmapTableEntry>() == 24);
const _: () = assert!(core::mem::offset_of!(HvmMemmapTableEntry, addr) == 0);
const _: () = assert!(core::mem::offset_of!(HvmMemmapTableEntry, size) == 8);
const _: () = assert!(core::mem::offset_of!(HvmMemmapTableEntry, r#type) == 16);
const _: () = assert!(core::mem::offset_of!(HvmMemmapTableEntry, reserved) == 20);

#[cfg(test)]
mod tests {
    use super::*;
    use zerocopy::{FromBytes, IntoBytes};

    #[test]
    fn start_info_round_trips_through_bytes() {
        let info = HvmStartInfo {
            magic: XEN_HVM_START_MAGIC_VALUE,
            version: 1,
            flags: crate::xen::SIF_PRIVILEGED | crate::xen::SIF_INITDOMAIN,
            cmdline_paddr: 0x1234,
            memmap_entries: 3,
            ..Default::default()
        };
        let bytes = info.as_bytes();
        assert_eq!(&bytes[0..4], &[0x78, 0xc5, 0x6e, 0x33]);
        assert_eq!(HvmStartInfo::read_from_bytes(bytes).ok(), Some(info));
        assert_eq!(HvmStartInfo::SIZE_V0, 40);
    }
}
