//! Mirrors xen/include/public/features.h
//!
//! Bit numbers of the feature map `XENVER_get_features` returns 32 bits at a
//! time ([`crate::version::XenFeatureInfo`]): feature `f` is bit `f % 32` of
//! submap `f / 32`.

/// The guest may write its page tables directly (PV).
pub const XENFEAT_WRITABLE_PAGE_TABLES: u32 = 0;
/// The guest may update its descriptor tables with direct writes instead of
/// write-protecting them (PV).
pub const XENFEAT_WRITABLE_DESCRIPTOR_TABLES: u32 = 1;
/// Xen translates guest-physical addresses (HVM, PVH, auto-translated PV):
/// the guest sees GFNs, never MFNs.
pub const XENFEAT_AUTO_TRANSLATED_PHYSMAP: u32 = 2;
/// The guest runs in supervisor mode (x86 ring 0).
pub const XENFEAT_SUPERVISOR_MODE_KERNEL: u32 = 3;
/// PAE page directories need not be below 4 GiB (usually implied by
/// [`XENFEAT_AUTO_TRANSLATED_PHYSMAP`]).
pub const XENFEAT_PAE_PGDIR_ABOVE_4GB: u32 = 4;
/// x86: the `MMU_PT_UPDATE_PRESERVE_AD` mmu_update is supported.
pub const XENFEAT_MMU_PT_UPDATE_PRESERVE_AD: u32 = 5;
/// x86: the `MMUEXT_CLEAR_PAGE`/`MMUEXT_COPY_PAGE` mmuext ops are supported.
pub const XENFEAT_HIGHMEM_ASSIST: u32 = 6;
/// `GNTTABOP_map_grant_ref` honours flags for the PTE bits available to the
/// guest kernel.
pub const XENFEAT_GNTTAB_MAP_AVAIL_BITS: u32 = 7;
/// x86: the host supports the vector type of `HVM_PARAM_CALLBACK_IRQ`
/// (event-channel upcalls straight to an IDT vector).
pub const XENFEAT_HVM_CALLBACK_VECTOR: u32 = 8;
/// x86: the pvclock algorithm is safe to use in HVM guests.
pub const XENFEAT_HVM_SAFE_PVCLOCK: u32 = 9;
/// x86: HVM guests can use PIRQs.
pub const XENFEAT_HVM_PIRQS: u32 = 10;
/// Operation as dom0 is supported.
pub const XENFEAT_DOM0: u32 = 11;
/// Deprecated, commented out in the header: Xen also mapped grants at
/// pfn = mfn. The number stays taken.
pub const XENFEAT_GRANT_MAP_IDENTITY: u32 = 12;
/// The guest can name a virtual node with `XENMEMF_vnode` in memory ops.
pub const XENFEAT_MEMORY_OP_VNODE_SUPPORTED: u32 = 13;
/// ARM: the hypervisor supports the SMC calling convention.
pub const XENFEAT_ARM_SMCCC_SUPPORTED: u32 = 14;
/// x86/PVH: the ACPI RSDP may be at any address, not only in the low 1 MiB.
/// Consulted only if `XEN_ELFNOTE_GUEST_OS` contains "linux".
pub const XENFEAT_LINUX_RSDP_UNRESTRICTED: u32 = 15;
/// The domain is not direct-mapped (its gfn != mfn).
pub const XENFEAT_NOT_DIRECT_MAPPED: u32 = 16;
/// The domain is direct-mapped (gfn == mfn for its pages). With neither
/// flag set, x86 assumes PV guests are direct-mapped and translated ones not.
pub const XENFEAT_DIRECT_MAPPED: u32 = 17;

/// Number of 32-bit submaps: valid `submap_idx` values are below this.
pub const XENFEAT_NR_SUBMAPS: u32 = 1;
