//! Mirrors xen/include/public/elfnote.h
//!
//! Types of the ELF notes (name `"Xen"`) a guest kernel carries to tell the
//! domain builder how to boot it. A PVH kernel needs only
//! [`XEN_ELFNOTE_PHYS32_ENTRY`].

/// The note name (`"Xen"`, NUL-terminated) every Xen note carries.
pub const XEN_ELFNOTE_NAME: &[u8; 4] = b"Xen\0";

pub const XEN_ELFNOTE_INFO: u32 = 0;
/// Virtual entry point (PV guests).
pub const XEN_ELFNOTE_ENTRY: u32 = 1;
pub const XEN_ELFNOTE_HYPERCALL_PAGE: u32 = 2;
pub const XEN_ELFNOTE_VIRT_BASE: u32 = 3;
pub const XEN_ELFNOTE_PADDR_OFFSET: u32 = 4;
pub const XEN_ELFNOTE_XEN_VERSION: u32 = 5;
pub const XEN_ELFNOTE_GUEST_OS: u32 = 6;
pub const XEN_ELFNOTE_GUEST_VERSION: u32 = 7;
pub const XEN_ELFNOTE_LOADER: u32 = 8;
pub const XEN_ELFNOTE_PAE_MODE: u32 = 9;
pub const XEN_ELFNOTE_FEATURES: u32 = 10;
pub const XEN_ELFNOTE_BSD_SYMTAB: u32 = 11;
pub const XEN_ELFNOTE_HV_START_LOW: u32 = 12;
pub const XEN_ELFNOTE_L1_MFN_VALID: u32 = 13;
pub const XEN_ELFNOTE_SUSPEND_CANCEL: u32 = 14;
pub const XEN_ELFNOTE_INIT_P2M: u32 = 15;
pub const XEN_ELFNOTE_MOD_START_PFN: u32 = 16;
pub const XEN_ELFNOTE_SUPPORTED_FEATURES: u32 = 17;
/// 32-bit physical entry point of a PVH kernel (desc: a 32-bit address),
/// entered in protected mode with paging off and `%ebx` = `hvm_start_info`.
pub const XEN_ELFNOTE_PHYS32_ENTRY: u32 = 18;
/// The highest note type in the main range.
pub const XEN_ELFNOTE_MAX: u32 = XEN_ELFNOTE_PHYS32_ENTRY;

// Notes of crash dumps and core files.
pub const XEN_ELFNOTE_CRASH_INFO: u32 = 0x0100_0001;
pub const XEN_ELFNOTE_CRASH_REGS: u32 = 0x0100_0002;
pub const XEN_ELFNOTE_DUMPCORE_NONE: u32 = 0x0200_0000;
pub const XEN_ELFNOTE_DUMPCORE_HEADER: u32 = 0x0200_0001;
pub const XEN_ELFNOTE_DUMPCORE_XEN_VERSION: u32 = 0x0200_0002;
pub const XEN_ELFNOTE_DUMPCORE_FORMAT_VERSION: u32 = 0x0200_0003;
