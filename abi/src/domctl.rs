//! Mirrors xen/include/public/domctl.h
//!
//! `HYPERVISOR_domctl(arg)`: domain management for the toolstack
//! (privileged). `arg` points at a [`XenDomctl`]: `cmd` (`XEN_DOMCTL_*`),
//! [`XEN_DOMCTL_INTERFACE_VERSION`], the target `domain`, and a 128-byte
//! union `u` holding the op's payload, read and written with
//! [`XenDomctl::payload`] and [`XenDomctl::set_payload`]. Xen copies the
//! whole struct back on success.
//!
//! 64-bit fields are `uint64_aligned_t` and handles `XEN_GUEST_HANDLE_64`,
//! so 32-bit and 64-bit callers share one layout.

use crate::xen::{DomId, XenArchDomainconfig, XenDomainHandle, XenctlBitmap};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

/// `XEN_DOMCTL_INTERFACE_VERSION` of Xen 4.17; `interface_version` must match.
pub const XEN_DOMCTL_INTERFACE_VERSION: u32 = 0x0000_0015;

// ` struct xen_domctl.cmd (XEN_DOMCTL_*) => payload in xen_domctl.u
/// [`XenDomctlCreatedomain`]; `domain` IN: wanted id, or 0 (or a reserved id) to let Xen pick; OUT: the new id.
pub const XEN_DOMCTL_CREATEDOMAIN: u32 = 1;
/// No payload.
pub const XEN_DOMCTL_DESTROYDOMAIN: u32 = 2;
/// No payload.
pub const XEN_DOMCTL_PAUSEDOMAIN: u32 = 3;
/// No payload.
pub const XEN_DOMCTL_UNPAUSEDOMAIN: u32 = 4;
/// [`XenDomctlGetdomaininfo`] (OUT).
pub const XEN_DOMCTL_GETDOMAININFO: u32 = 5;
/// [`XenDomctlVcpuaffinity`].
pub const XEN_DOMCTL_SETVCPUAFFINITY: u32 = 9;
pub const XEN_DOMCTL_SHADOW_OP: u32 = 10;
/// [`XenDomctlMaxMem`].
pub const XEN_DOMCTL_MAX_MEM: u32 = 11;
/// [`XenDomctlVcpucontext`] (pointing at a `vcpu_guest_context`).
pub const XEN_DOMCTL_SETVCPUCONTEXT: u32 = 12;
/// [`XenDomctlVcpucontext`] (pointing at a `vcpu_guest_context`).
pub const XEN_DOMCTL_GETVCPUCONTEXT: u32 = 13;
/// [`XenDomctlGetvcpuinfo`].
pub const XEN_DOMCTL_GETVCPUINFO: u32 = 14;
/// [`XenDomctlMaxVcpus`].
pub const XEN_DOMCTL_MAX_VCPUS: u32 = 15;
pub const XEN_DOMCTL_SCHEDULER_OP: u32 = 16;
/// [`XenDomctlSetdomainhandle`].
pub const XEN_DOMCTL_SETDOMAINHANDLE: u32 = 17;
/// [`XenDomctlSetdebugging`].
pub const XEN_DOMCTL_SETDEBUGGING: u32 = 18;
/// [`XenDomctlIrqPermission`].
pub const XEN_DOMCTL_IRQ_PERMISSION: u32 = 19;
/// [`XenDomctlIomemPermission`].
pub const XEN_DOMCTL_IOMEM_PERMISSION: u32 = 20;
/// [`XenDomctlIoportPermission`].
pub const XEN_DOMCTL_IOPORT_PERMISSION: u32 = 21;
/// [`XenDomctlHypercallInit`].
pub const XEN_DOMCTL_HYPERCALL_INIT: u32 = 22;
/// Xen-internal (`__XEN__` only).
pub const XEN_DOMCTL_SOFT_RESET_CONT: u32 = 23;
/// [`XenDomctlSettimeoffset`].
pub const XEN_DOMCTL_SETTIMEOFFSET: u32 = 24;
/// [`XenDomctlVcpuaffinity`].
pub const XEN_DOMCTL_GETVCPUAFFINITY: u32 = 25;
/// Obsolete (PPC only).
pub const XEN_DOMCTL_REAL_MODE_AREA: u32 = 26;
/// No payload.
pub const XEN_DOMCTL_RESUMEDOMAIN: u32 = 27;
/// [`XenDomctlSendtrigger`].
pub const XEN_DOMCTL_SENDTRIGGER: u32 = 28;
pub const XEN_DOMCTL_SUBSCRIBE: u32 = 29;
/// [`XenDomctlHvmcontext`].
pub const XEN_DOMCTL_GETHVMCONTEXT: u32 = 33;
/// [`XenDomctlHvmcontext`].
pub const XEN_DOMCTL_SETHVMCONTEXT: u32 = 34;
/// [`XenDomctlAddressSize`].
pub const XEN_DOMCTL_SET_ADDRESS_SIZE: u32 = 35;
/// [`XenDomctlAddressSize`].
pub const XEN_DOMCTL_GET_ADDRESS_SIZE: u32 = 36;
pub const XEN_DOMCTL_ASSIGN_DEVICE: u32 = 37;
pub const XEN_DOMCTL_BIND_PT_IRQ: u32 = 38;
/// [`XenDomctlMemoryMapping`].
pub const XEN_DOMCTL_MEMORY_MAPPING: u32 = 39;
/// [`XenDomctlIoportMapping`].
pub const XEN_DOMCTL_IOPORT_MAPPING: u32 = 40;
pub const XEN_DOMCTL_SET_EXT_VCPUCONTEXT: u32 = 42;
pub const XEN_DOMCTL_GET_EXT_VCPUCONTEXT: u32 = 43;
/// Obsolete (IA64 only).
pub const XEN_DOMCTL_SET_OPT_FEATURE: u32 = 44;
pub const XEN_DOMCTL_TEST_ASSIGN_DEVICE: u32 = 45;
/// [`XenDomctlSetTarget`].
pub const XEN_DOMCTL_SET_TARGET: u32 = 46;
pub const XEN_DOMCTL_DEASSIGN_DEVICE: u32 = 47;
pub const XEN_DOMCTL_UNBIND_PT_IRQ: u32 = 48;
pub const XEN_DOMCTL_GET_DEVICE_GROUP: u32 = 50;
pub const XEN_DOMCTL_DEBUG_OP: u32 = 54;
/// [`XenDomctlHvmcontextPartial`].
pub const XEN_DOMCTL_GETHVMCONTEXT_PARTIAL: u32 = 55;
pub const XEN_DOMCTL_VM_EVENT_OP: u32 = 56;
pub const XEN_DOMCTL_MEM_SHARING_OP: u32 = 57;
pub const XEN_DOMCTL_GETTSCINFO: u32 = 59;
pub const XEN_DOMCTL_SETTSCINFO: u32 = 60;
pub const XEN_DOMCTL_GETPAGEFRAMEINFO3: u32 = 61;
pub const XEN_DOMCTL_SETVCPUEXTSTATE: u32 = 62;
pub const XEN_DOMCTL_GETVCPUEXTSTATE: u32 = 63;
pub const XEN_DOMCTL_SET_ACCESS_REQUIRED: u32 = 64;
pub const XEN_DOMCTL_AUDIT_P2M: u32 = 65;
/// [`XenDomctlSetVirqHandler`].
pub const XEN_DOMCTL_SET_VIRQ_HANDLER: u32 = 66;
pub const XEN_DOMCTL_SET_BROKEN_PAGE_P2M: u32 = 67;
/// [`XenDomctlNodeaffinity`].
pub const XEN_DOMCTL_SETNODEAFFINITY: u32 = 68;
/// [`XenDomctlNodeaffinity`].
pub const XEN_DOMCTL_GETNODEAFFINITY: u32 = 69;
pub const XEN_DOMCTL_CACHEFLUSH: u32 = 71;
pub const XEN_DOMCTL_GET_VCPU_MSRS: u32 = 72;
pub const XEN_DOMCTL_SET_VCPU_MSRS: u32 = 73;
pub const XEN_DOMCTL_SETVNUMAINFO: u32 = 74;
pub const XEN_DOMCTL_PSR_CMT_OP: u32 = 75;
pub const XEN_DOMCTL_MONITOR_OP: u32 = 77;
pub const XEN_DOMCTL_PSR_ALLOC: u32 = 78;
/// No payload.
pub const XEN_DOMCTL_SOFT_RESET: u32 = 79;
pub const XEN_DOMCTL_VUART_OP: u32 = 81;
pub const XEN_DOMCTL_GET_CPU_POLICY: u32 = 82;
pub const XEN_DOMCTL_SET_CPU_POLICY: u32 = 83;
pub const XEN_DOMCTL_VMTRACE_OP: u32 = 84;
/// [`XenDomctlPagingMempool`] (OUT).
pub const XEN_DOMCTL_GET_PAGING_MEMPOOL_SIZE: u32 = 85;
/// [`XenDomctlPagingMempool`].
pub const XEN_DOMCTL_SET_PAGING_MEMPOOL_SIZE: u32 = 86;
pub const XEN_DOMCTL_GDBSX_GUESTMEMIO: u32 = 1000;
pub const XEN_DOMCTL_GDBSX_PAUSEVCPU: u32 = 1001;
pub const XEN_DOMCTL_GDBSX_UNPAUSEVCPU: u32 = 1002;
pub const XEN_DOMCTL_GDBSX_DOMSTATUS: u32 = 1003;

/// `struct xen_domctl`. `u` is the C union of the per-op structs (128 bytes,
/// 8-byte aligned) as raw bytes.
#[repr(C, align(8))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
pub struct XenDomctl {
    /// `XEN_DOMCTL_*`.
    pub cmd: u32,
    /// [`XEN_DOMCTL_INTERFACE_VERSION`].
    pub interface_version: u32,
    /// The domain operated on.
    pub domain: DomId,
    pub _pad: [u16; 3],
    /// The op's payload.
    pub u: [u8; 128],
}

const _: () = assert!(core::mem::size_of::<XenDomctl>() == 144);
const _: () = assert!(core::mem::align_of::<XenDomctl>() == 8);
const _: () = assert!(core::mem::offset_of!(XenDomctl, cmd) == 0);
const _: () = assert!(core::mem::offset_of!(XenDomctl, interface_version) == 4);
const _: () = assert!(core::mem::offset_of!(XenDomctl, domain) == 8);
const _: () = assert!(core::mem::offset_of!(XenDomctl, _pad) == 10);
const _: () = assert!(core::mem::offset_of!(XenDomctl, u) == 16);

impl XenDomctl {
    /// A domctl for the current interface version with `payload` at the
    /// start of `u` and the rest zeroed.
    pub fn new<T: IntoBytes + Immutable>(cmd: u32, domain: DomId, payload: &T) -> Self {
        let mut op = Self {
            cmd,
            interface_version: XEN_DOMCTL_INTERFACE_VERSION,
            domain,
            _pad: [0; 3],
            u: [0; 128],
        };
        op.set_payload(payload);
        op
    }

    /// The payload as a `T` (one of the `XenDomctl*` structs). A `T` larger
    /// than `u` does not compile.
    pub fn payload<T: FromBytes>(&self) -> T {
        crate::read_prefix(&self.u)
    }

    /// Overwrites the start of `u` with `payload`, leaving the rest.
    pub fn set_payload<T: IntoBytes + Immutable>(&mut self, payload: &T) {
        crate::write_prefix(&mut self.u, payload);
    }
}

// xen_domctl_createdomain.flags (XEN_DOMCTL_CDF_*)
/// An HVM (or PVH) guest rather than PV.
pub const XEN_DOMCTL_CDF_HVM: u32 = 1 << 0;
/// Use hardware-assisted paging if available.
pub const XEN_DOMCTL_CDF_HAP: u32 = 1 << 1;
/// tboot verifies the domain's memory integrity across S3.
pub const XEN_DOMCTL_CDF_S3_INTEGRITY: u32 = 1 << 2;
/// Disable out-of-sync shadow page tables.
pub const XEN_DOMCTL_CDF_OOS_OFF: u32 = 1 << 3;
/// A xenstore domain.
pub const XEN_DOMCTL_CDF_XS_DOMAIN: u32 = 1 << 4;
/// The domain may use the IOMMU.
pub const XEN_DOMCTL_CDF_IOMMU: u32 = 1 << 5;
/// Nested virtualisation is exposed.
pub const XEN_DOMCTL_CDF_NESTED_VIRT: u32 = 1 << 6;
/// The virtual PMU is exposed.
pub const XEN_DOMCTL_CDF_VPMU: u32 = 1 << 7;
/// The highest `XEN_DOMCTL_CDF_*` bit.
pub const XEN_DOMCTL_CDF_MAX: u32 = XEN_DOMCTL_CDF_VPMU;

// xen_domctl_createdomain.iommu_opts
/// Do not share the CPU's page tables with the IOMMU.
pub const XEN_DOMCTL_IOMMU_NO_SHAREPT: u32 = 1 << 0;
/// The highest `XEN_DOMCTL_IOMMU_*` bit.
pub const XEN_DOMCTL_IOMMU_MAX: u32 = XEN_DOMCTL_IOMMU_NO_SHAREPT;

// xen_domctl_createdomain.grant_opts
/// Bits of `grant_opts` holding the highest grant table version allowed.
pub const XEN_DOMCTL_GRANT_VERSION_MASK: u32 = 0xf;
/// `XEN_DOMCTL_GRANT_version(v)`: `grant_opts` allowing versions up to `v`.
pub const fn xen_domctl_grant_version(v: u32) -> u32 {
    v & XEN_DOMCTL_GRANT_VERSION_MASK
}

/// `struct xen_domctl_createdomain`, for `XEN_DOMCTL_createdomain`.
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
pub struct XenDomctlCreatedomain {
    /// IN: XSM security label.
    pub ssidref: u32,
    /// IN: the domain's UUID.
    pub handle: XenDomainHandle,
    /// IN: `XEN_DOMCTL_CDF_*`.
    pub flags: u32,
    /// IN: `XEN_DOMCTL_IOMMU_*`.
    pub iommu_opts: u32,
    /// IN: number of vCPUs.
    pub max_vcpus: u32,
    /// IN: highest event channel port.
    pub max_evtchn_port: u32,
    /// IN: grant table frames; negative means Xen's default.
    pub max_grant_frames: i32,
    /// IN: maptrack frames; negative means Xen's default.
    pub max_maptrack_frames: i32,
    /// IN: `XEN_DOMCTL_GRANT_version()`.
    pub grant_opts: u32,
    /// IN: per-vCPU processor trace buffer size in bytes (0: disabled).
    pub vmtrace_size: u32,
    /// IN: CPU pool (0 or an existing pool).
    pub cpupool_id: u32,
    /// IN: x86 emulation and MSR flags.
    pub arch: XenArchDomainconfig,
}

const _: () = assert!(core::mem::size_of::<XenDomctlCreatedomain>() == 64);
const _: () = assert!(core::mem::offset_of!(XenDomctlCreatedomain, ssidref) == 0);
const _: () = assert!(core::mem::offset_of!(XenDomctlCreatedomain, handle) == 4);
const _: () = assert!(core::mem::offset_of!(XenDomctlCreatedomain, flags) == 20);
const _: () = assert!(core::mem::offset_of!(XenDomctlCreatedomain, iommu_opts) == 24);
const _: () = assert!(core::mem::offset_of!(XenDomctlCreatedomain, max_vcpus) == 28);
const _: () = assert!(core::mem::offset_of!(XenDomctlCreatedomain, max_evtchn_port) == 32);
const _: () = assert!(core::mem::offset_of!(XenDomctlCreatedomain, max_grant_frames) == 36);
const _: () = assert!(core::mem::offset_of!(XenDomctlCreatedomain, max_maptrack_frames) == 40);
const _: () = assert!(core::mem::offset_of!(XenDomctlCreatedomain, grant_opts) == 44);
const _: () = assert!(core::mem::offset_of!(XenDomctlCreatedomain, vmtrace_size) == 48);
const _: () = assert!(core::mem::offset_of!(XenDomctlCreatedomain, cpupool_id) == 52);
const _: () = assert!(core::mem::offset_of!(XenDomctlCreatedomain, arch) == 56);

// xen_domctl_getdomaininfo.flags (XEN_DOMINF_*)
/// The domain is scheduled to die.
pub const XEN_DOMINF_DYING: u32 = 1 << 0;
/// An HVM (or PVH) guest rather than PV.
pub const XEN_DOMINF_HVM_GUEST: u32 = 1 << 1;
/// The guest has shut down; the reason is in the `XEN_DOMINF_SHUTDOWNMASK` bits.
pub const XEN_DOMINF_SHUTDOWN: u32 = 1 << 2;
/// Paused by the toolstack.
pub const XEN_DOMINF_PAUSED: u32 = 1 << 3;
/// Blocked waiting for an event.
pub const XEN_DOMINF_BLOCKED: u32 = 1 << 4;
/// Currently running.
pub const XEN_DOMINF_RUNNING: u32 = 1 << 5;
/// Being debugged.
pub const XEN_DOMINF_DEBUGGED: u32 = 1 << 6;
/// A xenstore domain.
pub const XEN_DOMINF_XS_DOMAIN: u32 = 1 << 7;
/// Uses hardware-assisted paging.
pub const XEN_DOMINF_HAP: u32 = 1 << 8;
/// Mask of the guest's shutdown code (`SHUTDOWN_*`), after shifting.
pub const XEN_DOMINF_SHUTDOWNMASK: u32 = 255;
/// Shift of the guest's shutdown code in `flags`.
pub const XEN_DOMINF_SHUTDOWNSHIFT: u32 = 16;

/// `max_vcpu_id` of a domain without vCPUs.
pub const XEN_INVALID_MAX_VCPU_ID: u32 = !0;

/// `struct xen_domctl_getdomaininfo`, for `XEN_DOMCTL_getdomaininfo` and the
/// entries of `XEN_SYSCTL_getdomaininfolist`.
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
pub struct XenDomctlGetdomaininfo {
    /// OUT: the domain (also echoed in `xen_domctl.domain`).
    pub domain: DomId,
    pub pad1: u16,
    /// OUT: `XEN_DOMINF_*`.
    pub flags: u32,
    /// OUT: pages allocated to the domain.
    pub tot_pages: u64,
    /// OUT: maximum pages.
    pub max_pages: u64,
    /// OUT: pages claimed but not yet allocated.
    pub outstanding_pages: u64,
    /// OUT: shared pages.
    pub shr_pages: u64,
    /// OUT: paged-out pages.
    pub paged_pages: u64,
    /// OUT: GMFN of the shared_info page.
    pub shared_info_frame: u64,
    /// OUT: CPU time used, in ns.
    pub cpu_time: u64,
    /// OUT: number of vCPUs online.
    pub nr_online_vcpus: u32,
    /// OUT: highest vCPU id in use, or [`XEN_INVALID_MAX_VCPU_ID`].
    pub max_vcpu_id: u32,
    /// OUT: XSM security label.
    pub ssidref: u32,
    /// OUT: the domain's UUID.
    pub handle: XenDomainHandle,
    /// OUT: the CPU pool.
    pub cpupool: u32,
    /// OUT: width of the guest-physical address space.
    pub gpaddr_bits: u8,
    pub pad2: [u8; 7],
    /// OUT: x86 emulation and MSR flags.
    pub arch_config: XenArchDomainconfig,
}

const _: () = assert!(core::mem::size_of::<XenDomctlGetdomaininfo>() == 112);
const _: () = assert!(core::mem::offset_of!(XenDomctlGetdomaininfo, domain) == 0);
const _: () = assert!(core::mem::offset_of!(XenDomctlGetdomaininfo, pad1) == 2);
const _: () = assert!(core::mem::offset_of!(XenDomctlGetdomaininfo, flags) == 4);
const _: () = assert!(core::mem::offset_of!(XenDomctlGetdomaininfo, tot_pages) == 8);
const _: () = assert!(core::mem::offset_of!(XenDomctlGetdomaininfo, max_pages) == 16);
const _: () = assert!(core::mem::offset_of!(XenDomctlGetdomaininfo, outstanding_pages) == 24);
const _: () = assert!(core::mem::offset_of!(XenDomctlGetdomaininfo, shr_pages) == 32);
const _: () = assert!(core::mem::offset_of!(XenDomctlGetdomaininfo, paged_pages) == 40);
const _: () = assert!(core::mem::offset_of!(XenDomctlGetdomaininfo, shared_info_frame) == 48);
const _: () = assert!(core::mem::offset_of!(XenDomctlGetdomaininfo, cpu_time) == 56);
const _: () = assert!(core::mem::offset_of!(XenDomctlGetdomaininfo, nr_online_vcpus) == 64);
const _: () = assert!(core::mem::offset_of!(XenDomctlGetdomaininfo, max_vcpu_id) == 68);
const _: () = assert!(core::mem::offset_of!(XenDomctlGetdomaininfo, ssidref) == 72);
const _: () = assert!(core::mem::offset_of!(XenDomctlGetdomaininfo, handle) == 76);
const _: () = assert!(core::mem::offset_of!(XenDomctlGetdomaininfo, cpupool) == 92);
const _: () = assert!(core::mem::offset_of!(XenDomctlGetdomaininfo, gpaddr_bits) == 96);
const _: () = assert!(core::mem::offset_of!(XenDomctlGetdomaininfo, pad2) == 97);
const _: () = assert!(core::mem::offset_of!(XenDomctlGetdomaininfo, arch_config) == 104);

/// `struct xen_domctl_nodeaffinity`, for `XEN_DOMCTL_{set,get}nodeaffinity`.
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
pub struct XenDomctlNodeaffinity {
    /// IN: NUMA nodes the domain's memory should come from.
    pub nodemap: XenctlBitmap,
}

const _: () = assert!(core::mem::size_of::<XenDomctlNodeaffinity>() == 16);

// xen_domctl_vcpuaffinity.flags
/// Set/get the hard affinity.
pub const XEN_VCPUAFFINITY_HARD: u32 = 1 << 0;
/// Set/get the soft affinity.
pub const XEN_VCPUAFFINITY_SOFT: u32 = 1 << 1;
/// Undo `SCHEDOP_pin_override`.
pub const XEN_VCPUAFFINITY_FORCE: u32 = 1 << 2;

/// `struct xen_domctl_vcpuaffinity`, for `XEN_DOMCTL_{set,get}vcpuaffinity`.
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
pub struct XenDomctlVcpuaffinity {
    /// IN: the vCPU.
    pub vcpu: u32,
    /// IN: `XEN_VCPUAFFINITY_*`.
    pub flags: u32,
    /// IN/OUT: hard affinity (set: OUT is the effective affinity).
    pub cpumap_hard: XenctlBitmap,
    /// IN/OUT: soft affinity (set: OUT is the effective affinity).
    pub cpumap_soft: XenctlBitmap,
}

const _: () = assert!(core::mem::size_of::<XenDomctlVcpuaffinity>() == 40);
const _: () = assert!(core::mem::offset_of!(XenDomctlVcpuaffinity, vcpu) == 0);
const _: () = assert!(core::mem::offset_of!(XenDomctlVcpuaffinity, flags) == 4);
const _: () = assert!(core::mem::offset_of!(XenDomctlVcpuaffinity, cpumap_hard) == 8);
const _: () = assert!(core::mem::offset_of!(XenDomctlVcpuaffinity, cpumap_soft) == 24);

/// `struct xen_domctl_max_mem`, for `XEN_DOMCTL_max_mem`.
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
pub struct XenDomctlMaxMem {
    /// IN: memory limit in KiB.
    pub max_memkb: u64,
}

const _: () = assert!(core::mem::size_of::<XenDomctlMaxMem>() == 8);

/// `struct xen_domctl_vcpucontext`, for `XEN_DOMCTL_{set,get}vcpucontext`.
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
pub struct XenDomctlVcpucontext {
    /// IN: the vCPU.
    pub vcpu: u32,
    /// C's implicit padding before `ctxt`.
    pub _pad: u32,
    /// IN/OUT: guest handle of a `vcpu_guest_context` (set: NULL resets the vCPU).
    pub ctxt: u64,
}

const _: () = assert!(core::mem::size_of::<XenDomctlVcpucontext>() == 16);
const _: () = assert!(core::mem::offset_of!(XenDomctlVcpucontext, vcpu) == 0);
const _: () = assert!(core::mem::offset_of!(XenDomctlVcpucontext, ctxt) == 8);

/// `struct xen_domctl_getvcpuinfo`, for `XEN_DOMCTL_getvcpuinfo`.
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
pub struct XenDomctlGetvcpuinfo {
    /// IN: the vCPU.
    pub vcpu: u32,
    /// OUT: online (not hot-unplugged)?
    pub online: u8,
    /// OUT: blocked waiting for an event?
    pub blocked: u8,
    /// OUT: currently scheduled?
    pub running: u8,
    /// C's implicit padding before `cpu_time`.
    pub _pad0: u8,
    /// OUT: CPU time used, in ns.
    pub cpu_time: u64,
    /// OUT: the physical CPU it is (or was last) on.
    pub cpu: u32,
    /// C's implicit padding at the end.
    pub _pad1: u32,
}

const _: () = assert!(core::mem::size_of::<XenDomctlGetvcpuinfo>() == 24);
const _: () = assert!(core::mem::offset_of!(XenDomctlGetvcpuinfo, vcpu) == 0);
const _: () = assert!(core::mem::offset_of!(XenDomctlGetvcpuinfo, online) == 4);
const _: () = assert!(core::mem::offset_of!(XenDomctlGetvcpuinfo, blocked) == 5);
const _: () = assert!(core::mem::offset_of!(XenDomctlGetvcpuinfo, running) == 6);
const _: () = assert!(core::mem::offset_of!(XenDomctlGetvcpuinfo, cpu_time) == 8);
const _: () = assert!(core::mem::offset_of!(XenDomctlGetvcpuinfo, cpu) == 16);

/// `struct xen_domctl_max_vcpus`, for `XEN_DOMCTL_max_vcpus`.
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
pub struct XenDomctlMaxVcpus {
    /// IN: maximum number of vCPUs.
    pub max: u32,
}

const _: () = assert!(core::mem::size_of::<XenDomctlMaxVcpus>() == 4);

// Scheduler ids (XEN_SCHEDULER_*), as `XEN_SYSCTL_sched_id` reports them.
pub const XEN_SCHEDULER_CREDIT: u32 = 5;
pub const XEN_SCHEDULER_CREDIT2: u32 = 6;
pub const XEN_SCHEDULER_ARINC653: u32 = 7;
pub const XEN_SCHEDULER_RTDS: u32 = 8;
pub const XEN_SCHEDULER_NULL: u32 = 9;

/// `struct xen_domctl_setdomainhandle`, for `XEN_DOMCTL_setdomainhandle`.
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
pub struct XenDomctlSetdomainhandle {
    /// IN: the domain's new UUID.
    pub handle: XenDomainHandle,
}

const _: () = assert!(core::mem::size_of::<XenDomctlSetdomainhandle>() == 16);

/// `struct xen_domctl_setdebugging`, for `XEN_DOMCTL_setdebugging`.
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
pub struct XenDomctlSetdebugging {
    /// IN: non-zero enables debugging.
    pub enable: u8,
}

const _: () = assert!(core::mem::size_of::<XenDomctlSetdebugging>() == 1);

/// `struct xen_domctl_irq_permission`, for `XEN_DOMCTL_irq_permission`.
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
pub struct XenDomctlIrqPermission {
    /// IN: the physical IRQ.
    pub pirq: u32,
    /// IN: non-zero grants access, zero revokes it.
    pub allow_access: u8,
    pub pad: [u8; 3],
}

const _: () = assert!(core::mem::size_of::<XenDomctlIrqPermission>() == 8);
const _: () = assert!(core::mem::offset_of!(XenDomctlIrqPermission, pirq) == 0);
const _: () = assert!(core::mem::offset_of!(XenDomctlIrqPermission, allow_access) == 4);
const _: () = assert!(core::mem::offset_of!(XenDomctlIrqPermission, pad) == 5);

/// `struct xen_domctl_iomem_permission`, for `XEN_DOMCTL_iomem_permission`.
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
pub struct XenDomctlIomemPermission {
    /// IN: first machine frame of the range.
    pub first_mfn: u64,
    /// IN: number of frames (> 0).
    pub nr_mfns: u64,
    /// IN: non-zero grants access, zero revokes it.
    pub allow_access: u8,
    /// C's implicit padding at the end.
    pub _pad: [u8; 7],
}

const _: () = assert!(core::mem::size_of::<XenDomctlIomemPermission>() == 24);
const _: () = assert!(core::mem::offset_of!(XenDomctlIomemPermission, first_mfn) == 0);
const _: () = assert!(core::mem::offset_of!(XenDomctlIomemPermission, nr_mfns) == 8);
const _: () = assert!(core::mem::offset_of!(XenDomctlIomemPermission, allow_access) == 16);

/// `struct xen_domctl_ioport_permission`, for `XEN_DOMCTL_ioport_permission`.
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
pub struct XenDomctlIoportPermission {
    /// IN: first port of the range.
    pub first_port: u32,
    /// IN: number of ports.
    pub nr_ports: u32,
    /// IN: non-zero grants access, zero revokes it.
    pub allow_access: u8,
    /// C's implicit padding at the end.
    pub _pad: [u8; 3],
}

const _: () = assert!(core::mem::size_of::<XenDomctlIoportPermission>() == 12);
const _: () = assert!(core::mem::offset_of!(XenDomctlIoportPermission, first_port) == 0);
const _: () = assert!(core::mem::offset_of!(XenDomctlIoportPermission, nr_ports) == 4);
const _: () = assert!(core::mem::offset_of!(XenDomctlIoportPermission, allow_access) == 8);

/// `struct xen_domctl_hypercall_init`, for `XEN_DOMCTL_hypercall_init`.
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
pub struct XenDomctlHypercallInit {
    /// IN: GMFN of the page to fill with hypercall stubs.
    pub gmfn: u64,
}

const _: () = assert!(core::mem::size_of::<XenDomctlHypercallInit>() == 8);

/// `struct xen_domctl_settimeoffset`, for `XEN_DOMCTL_settimeoffset`.
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
pub struct XenDomctlSettimeoffset {
    /// IN: offset in seconds applied to the domain's wallclock.
    pub time_offset_seconds: i64,
}

const _: () = assert!(core::mem::size_of::<XenDomctlSettimeoffset>() == 8);

/// `struct xen_domctl_hvmcontext`, for `XEN_DOMCTL_{get,set}hvmcontext`.
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
pub struct XenDomctlHvmcontext {
    /// IN/OUT: size of the buffer / bytes filled.
    pub size: u32,
    /// C's implicit padding before `buffer`.
    pub _pad: u32,
    /// IN/OUT: guest handle of the HVM save records (get with NULL: OUT
    /// `size` is the size needed).
    pub buffer: u64,
}

const _: () = assert!(core::mem::size_of::<XenDomctlHvmcontext>() == 16);
const _: () = assert!(core::mem::offset_of!(XenDomctlHvmcontext, size) == 0);
const _: () = assert!(core::mem::offset_of!(XenDomctlHvmcontext, buffer) == 8);

/// `struct xen_domctl_hvmcontext_partial`, for `XEN_DOMCTL_gethvmcontext_partial`.
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
pub struct XenDomctlHvmcontextPartial {
    /// IN: type of the save record wanted.
    pub r#type: u32,
    /// IN: instance of that type.
    pub instance: u32,
    /// IN: size of the buffer.
    pub bufsz: u64,
    /// OUT: guest handle of the buffer the record is written to.
    pub buffer: u64,
}

const _: () = assert!(core::mem::size_of::<XenDomctlHvmcontextPartial>() == 24);
const _: () = assert!(core::mem::offset_of!(XenDomctlHvmcontextPartial, r#type) == 0);
const _: () = assert!(core::mem::offset_of!(XenDomctlHvmcontextPartial, instance) == 4);
const _: () = assert!(core::mem::offset_of!(XenDomctlHvmcontextPartial, bufsz) == 8);
const _: () = assert!(core::mem::offset_of!(XenDomctlHvmcontextPartial, buffer) == 16);

/// `struct xen_domctl_address_size`, for `XEN_DOMCTL_{set,get}_address_size`.
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
pub struct XenDomctlAddressSize {
    /// IN/OUT: guest address size in bits (32 or 64).
    pub size: u32,
}

const _: () = assert!(core::mem::size_of::<XenDomctlAddressSize>() == 4);

// xen_domctl_sendtrigger.trigger
pub const XEN_DOMCTL_SENDTRIGGER_NMI: u32 = 0;
pub const XEN_DOMCTL_SENDTRIGGER_RESET: u32 = 1;
pub const XEN_DOMCTL_SENDTRIGGER_INIT: u32 = 2;
pub const XEN_DOMCTL_SENDTRIGGER_POWER: u32 = 3;
pub const XEN_DOMCTL_SENDTRIGGER_SLEEP: u32 = 4;

/// `struct xen_domctl_sendtrigger`, for `XEN_DOMCTL_sendtrigger`.
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
pub struct XenDomctlSendtrigger {
    /// IN: `XEN_DOMCTL_SENDTRIGGER_*`.
    pub trigger: u32,
    /// IN: the vCPU (NMI, INIT).
    pub vcpu: u32,
}

const _: () = assert!(core::mem::size_of::<XenDomctlSendtrigger>() == 8);
const _: () = assert!(core::mem::offset_of!(XenDomctlSendtrigger, trigger) == 0);
const _: () = assert!(core::mem::offset_of!(XenDomctlSendtrigger, vcpu) == 4);

/// `xen_domctl_memory_mapping.add_mapping`: remove the mapping.
pub const DPCI_REMOVE_MAPPING: u32 = 0;
/// `xen_domctl_memory_mapping.add_mapping`: add the mapping.
pub const DPCI_ADD_MAPPING: u32 = 1;

/// `struct xen_domctl_memory_mapping`, for `XEN_DOMCTL_memory_mapping`: map
/// machine frames (MMIO) into an HVM guest's physmap.
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
pub struct XenDomctlMemoryMapping {
    /// IN: first guest frame.
    pub first_gfn: u64,
    /// IN: first machine frame.
    pub first_mfn: u64,
    /// IN: number of frames (> 0).
    pub nr_mfns: u64,
    /// IN: `DPCI_ADD_MAPPING` or `DPCI_REMOVE_MAPPING`.
    pub add_mapping: u32,
    pub padding: u32,
}

const _: () = assert!(core::mem::size_of::<XenDomctlMemoryMapping>() == 32);
const _: () = assert!(core::mem::offset_of!(XenDomctlMemoryMapping, first_gfn) == 0);
const _: () = assert!(core::mem::offset_of!(XenDomctlMemoryMapping, first_mfn) == 8);
const _: () = assert!(core::mem::offset_of!(XenDomctlMemoryMapping, nr_mfns) == 16);
const _: () = assert!(core::mem::offset_of!(XenDomctlMemoryMapping, add_mapping) == 24);
const _: () = assert!(core::mem::offset_of!(XenDomctlMemoryMapping, padding) == 28);

/// `struct xen_domctl_ioport_mapping`, for `XEN_DOMCTL_ioport_mapping`: map
/// machine I/O ports to an HVM guest's ports.
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
pub struct XenDomctlIoportMapping {
    /// IN: first guest port.
    pub first_gport: u32,
    /// IN: first machine port.
    pub first_mport: u32,
    /// IN: number of ports.
    pub nr_ports: u32,
    /// IN: `DPCI_ADD_MAPPING` or `DPCI_REMOVE_MAPPING`.
    pub add_mapping: u32,
}

const _: () = assert!(core::mem::size_of::<XenDomctlIoportMapping>() == 16);
const _: () = assert!(core::mem::offset_of!(XenDomctlIoportMapping, first_gport) == 0);
const _: () = assert!(core::mem::offset_of!(XenDomctlIoportMapping, first_mport) == 4);
const _: () = assert!(core::mem::offset_of!(XenDomctlIoportMapping, nr_ports) == 8);
const _: () = assert!(core::mem::offset_of!(XenDomctlIoportMapping, add_mapping) == 12);

/// `struct xen_domctl_set_target`, for `XEN_DOMCTL_set_target`: let
/// `xen_domctl.domain` (a device model) act on `target`.
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
pub struct XenDomctlSetTarget {
    /// IN: the domain to be controlled.
    pub target: DomId,
}

const _: () = assert!(core::mem::size_of::<XenDomctlSetTarget>() == 2);

/// `struct xen_domctl_set_virq_handler`, for `XEN_DOMCTL_set_virq_handler`:
/// route global VIRQ `virq` to `xen_domctl.domain`.
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
pub struct XenDomctlSetVirqHandler {
    /// IN: `VIRQ_*`.
    pub virq: u32,
}

const _: () = assert!(core::mem::size_of::<XenDomctlSetVirqHandler>() == 4);

/// `struct xen_domctl_paging_mempool`, for
/// `XEN_DOMCTL_{get,set}_paging_mempool_size`.
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
pub struct XenDomctlPagingMempool {
    /// IN/OUT: size of the pool for page tables (HAP/shadow), in bytes.
    pub size: u64,
}

const _: () = assert!(core::mem::size_of::<XenDomctlPagingMempool>() == 8);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domctl_carries_its_payload_after_the_header() {
        let create = XenDomctlCreatedomain {
            flags: XEN_DOMCTL_CDF_HVM | XEN_DOMCTL_CDF_HAP,
            max_vcpus: 2,
            max_grant_frames: -1,
            arch: XenArchDomainconfig {
                emulation_flags: crate::xen::XEN_X86_EMU_LAPIC,
                misc_flags: 0,
            },
            ..Default::default()
        };
        let op = XenDomctl::new(XEN_DOMCTL_CREATEDOMAIN, DomId(0), &create);
        let bytes = op.as_bytes();
        assert_eq!(&bytes[0..4], &1u32.to_le_bytes());
        assert_eq!(&bytes[4..8], &0x15u32.to_le_bytes());
        assert_eq!(&bytes[16 + 28..16 + 32], &2u32.to_le_bytes());
        assert!(bytes[16 + 64..].iter().all(|&b| b == 0));

        let back = XenDomctl::read_from_bytes(bytes).unwrap();
        assert_eq!(back.payload::<XenDomctlCreatedomain>(), create);

        let mut op = back;
        op.set_payload(&XenDomctlMaxMem {
            max_memkb: 0x1_0000,
        });
        assert_eq!(op.payload::<XenDomctlMaxMem>().max_memkb, 0x1_0000);
        assert_eq!(op.payload::<XenDomctlCreatedomain>().max_vcpus, 2);
    }
}

// xen_domctl_scheduler_op.cmd (XEN_DOMCTL_SCHEDOP_*)
pub const XEN_DOMCTL_SCHEDOP_PUTINFO: u32 = 0;
pub const XEN_DOMCTL_SCHEDOP_GETINFO: u32 = 1;
pub const XEN_DOMCTL_SCHEDOP_PUTVCPUINFO: u32 = 2;
pub const XEN_DOMCTL_SCHEDOP_GETVCPUINFO: u32 = 3;

/// `struct xen_domctl_scheduler_op`, for `XEN_DOMCTL_scheduler_op`. `u` is
/// the per-scheduler union: credit / credit2 `{u16 weight; u16 cap}`, rtds
/// `{u32 period; u32 budget}`, or the per-vCPU array handle.
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
pub struct XenDomctlSchedulerOp {
    /// IN: `XEN_SCHEDULER_*`; must be the domain's scheduler.
    pub sched_id: u32,
    /// IN: `XEN_DOMCTL_SCHEDOP_*`.
    pub cmd: u32,
    pub u: [u64; 2],
}

const _: () = assert!(core::mem::size_of::<XenDomctlSchedulerOp>() == 24);
const _: () = assert!(core::mem::offset_of!(XenDomctlSchedulerOp, cmd) == 4);
const _: () = assert!(core::mem::offset_of!(XenDomctlSchedulerOp, u) == 8);
