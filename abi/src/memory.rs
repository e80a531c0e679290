//! Mirrors xen/include/public/memory.h
//!
//! `HYPERVISOR_memory_op(cmd, arg)` sub-ops. (Xen keeps a continuation's
//! progress in `cmd` above bit 6; that encoding is Xen-internal, not in this
//! header.) Structs follow in a later change.

pub const XENMEM_INCREASE_RESERVATION: u64 = 0;
pub const XENMEM_DECREASE_RESERVATION: u64 = 1;
pub const XENMEM_MAXIMUM_RAM_PAGE: u64 = 2;
pub const XENMEM_CURRENT_RESERVATION: u64 = 3;
pub const XENMEM_MAXIMUM_RESERVATION: u64 = 4;
pub const XENMEM_MACHPHYS_MFN_LIST: u64 = 5;
pub const XENMEM_POPULATE_PHYSMAP: u64 = 6;
pub const XENMEM_ADD_TO_PHYSMAP: u64 = 7;
pub const XENMEM_MEMORY_MAP: u64 = 9;
pub const XENMEM_MACHINE_MEMORY_MAP: u64 = 10;
pub const XENMEM_EXCHANGE: u64 = 11;
pub const XENMEM_MACHPHYS_MAPPING: u64 = 12;
pub const XENMEM_SET_MEMORY_MAP: u64 = 13;
pub const XENMEM_MAXIMUM_GPFN: u64 = 14;
pub const XENMEM_REMOVE_FROM_PHYSMAP: u64 = 15;
pub const XENMEM_SET_POD_TARGET: u64 = 16;
pub const XENMEM_GET_POD_TARGET: u64 = 17;
pub const XENMEM_GET_SHARING_FREED_PAGES: u64 = 18;
pub const XENMEM_GET_SHARING_SHARED_PAGES: u64 = 19;
pub const XENMEM_PAGING_OP: u64 = 20;
pub const XENMEM_ACCESS_OP: u64 = 21;
pub const XENMEM_SHARING_OP: u64 = 22;
pub const XENMEM_ADD_TO_PHYSMAP_BATCH: u64 = 23;
pub const XENMEM_CLAIM_PAGES: u64 = 24;
pub const XENMEM_MACHPHYS_COMPAT_MFN_LIST: u64 = 25;
pub const XENMEM_GET_VNUMAINFO: u64 = 26;
pub const XENMEM_RESERVED_DEVICE_MEMORY_MAP: u64 = 27;
pub const XENMEM_ACQUIRE_RESOURCE: u64 = 28;

// xen_add_to_physmap.space
pub const XENMAPSPACE_SHARED_INFO: u32 = 0;
pub const XENMAPSPACE_GRANT_TABLE: u32 = 1;
pub const XENMAPSPACE_GMFN: u32 = 2;
pub const XENMAPSPACE_GMFN_RANGE: u32 = 3;
pub const XENMAPSPACE_GMFN_FOREIGN: u32 = 4;
pub const XENMAPSPACE_DEV_MMIO: u32 = 5;
