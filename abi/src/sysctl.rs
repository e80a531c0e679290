//! Mirrors xen/include/public/sysctl.h
//!
//! `HYPERVISOR_sysctl(arg)`: host-wide queries and controls for the
//! toolstack (privileged). `arg` points at a [`XenSysctl`]: `cmd`
//! (`XEN_SYSCTL_*`), [`XEN_SYSCTL_INTERFACE_VERSION`], and a 128-byte union
//! `u` holding the op's payload, read and written with
//! [`XenSysctl::payload`] and [`XenSysctl::set_payload`]. Xen copies the
//! whole struct back on success.
//!
//! 64-bit fields are `uint64_aligned_t` and handles `XEN_GUEST_HANDLE_64`,
//! so 32-bit and 64-bit callers share one layout.

use crate::xen::DomId;
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

/// `XEN_SYSCTL_INTERFACE_VERSION` of Xen 4.17; `interface_version` must match.
pub const XEN_SYSCTL_INTERFACE_VERSION: u32 = 0x0000_0015;

// ` struct xen_sysctl.cmd (XEN_SYSCTL_*) => payload in xen_sysctl.u
/// [`XenSysctlReadconsole`].
pub const XEN_SYSCTL_READCONSOLE: u32 = 1;
pub const XEN_SYSCTL_TBUF_OP: u32 = 2;
/// [`XenSysctlPhysinfo`] (OUT).
pub const XEN_SYSCTL_PHYSINFO: u32 = 3;
/// [`XenSysctlSchedId`] (OUT).
pub const XEN_SYSCTL_SCHED_ID: u32 = 4;
pub const XEN_SYSCTL_PERFC_OP: u32 = 5;
/// [`XenSysctlGetdomaininfolist`].
pub const XEN_SYSCTL_GETDOMAININFOLIST: u32 = 6;
/// [`XenSysctlDebugKeys`].
pub const XEN_SYSCTL_DEBUG_KEYS: u32 = 7;
/// [`XenSysctlGetcpuinfo`].
pub const XEN_SYSCTL_GETCPUINFO: u32 = 8;
/// [`XenSysctlAvailheap`].
pub const XEN_SYSCTL_AVAILHEAP: u32 = 9;
pub const XEN_SYSCTL_GET_PMSTAT: u32 = 10;
/// [`XenSysctlCpuHotplug`].
pub const XEN_SYSCTL_CPU_HOTPLUG: u32 = 11;
pub const XEN_SYSCTL_PM_OP: u32 = 12;
pub const XEN_SYSCTL_PAGE_OFFLINE_OP: u32 = 14;
pub const XEN_SYSCTL_LOCKPROF_OP: u32 = 15;
pub const XEN_SYSCTL_CPUTOPOINFO: u32 = 16;
pub const XEN_SYSCTL_NUMAINFO: u32 = 17;
pub const XEN_SYSCTL_CPUPOOL_OP: u32 = 18;
pub const XEN_SYSCTL_SCHEDULER_OP: u32 = 19;
pub const XEN_SYSCTL_COVERAGE_OP: u32 = 20;
pub const XEN_SYSCTL_PSR_CMT_OP: u32 = 21;
pub const XEN_SYSCTL_PCITOPOINFO: u32 = 22;
pub const XEN_SYSCTL_PSR_ALLOC: u32 = 23;
pub const XEN_SYSCTL_GET_CPU_LEVELLING_CAPS: u32 = 25;
pub const XEN_SYSCTL_GET_CPU_FEATURESET: u32 = 26;
pub const XEN_SYSCTL_LIVEPATCH_OP: u32 = 27;
pub const XEN_SYSCTL_GET_CPU_POLICY: u32 = 29;

/// `struct xen_sysctl`. `u` is the C union of the per-op structs (128 bytes,
/// 8-byte aligned) as raw bytes.
#[repr(C, align(8))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
pub struct XenSysctl {
    /// `XEN_SYSCTL_*`.
    pub cmd: u32,
    /// [`XEN_SYSCTL_INTERFACE_VERSION`].
    pub interface_version: u32,
    /// The op's payload.
    pub u: [u8; 128],
}

const _: () = assert!(core::mem::size_of::<XenSysctl>() == 136);
const _: () = assert!(core::mem::align_of::<XenSysctl>() == 8);
const _: () = assert!(core::mem::offset_of!(XenSysctl, cmd) == 0);
const _: () = assert!(core::mem::offset_of!(XenSysctl, interface_version) == 4);
const _: () = assert!(core::mem::offset_of!(XenSysctl, u) == 8);

impl XenSysctl {
    /// A sysctl for the current interface version with `payload` at the
    /// start of `u` and the rest zeroed.
    pub fn new<T: IntoBytes + Immutable>(cmd: u32, payload: &T) -> Self {
        let mut op = Self {
            cmd,
            interface_version: XEN_SYSCTL_INTERFACE_VERSION,
            u: [0; 128],
        };
        op.set_payload(payload);
        op
    }

    /// The payload as a `T` (one of the `XenSysctl*` structs). A `T` larger
    /// than `u` does not compile.
    pub fn payload<T: FromBytes>(&self) -> T {
        crate::read_prefix(&self.u)
    }

    /// Overwrites the start of `u` with `payload`, leaving the rest.
    pub fn set_payload<T: IntoBytes + Immutable>(&mut self, payload: &T) {
        crate::write_prefix(&mut self.u, payload);
    }
}

/// `struct xen_sysctl_readconsole`, for `XEN_SYSCTL_readconsole`: read
/// Xen's console ring.
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
pub struct XenSysctlReadconsole {
    /// IN: non-zero clears the ring after reading.
    pub clear: u8,
    /// IN: non-zero starts at `index` instead of the oldest byte.
    pub incremental: u8,
    pub pad0: u8,
    pub pad1: u8,
    /// IN: start index (if `incremental`). OUT: index after the last byte read.
    pub index: u32,
    /// IN: guest handle of the buffer to fill.
    pub buffer: u64,
    /// IN: size of the buffer. OUT: bytes written.
    pub count: u32,
    /// C's implicit padding at the end.
    pub _pad: u32,
}

const _: () = assert!(core::mem::size_of::<XenSysctlReadconsole>() == 24);
const _: () = assert!(core::mem::offset_of!(XenSysctlReadconsole, clear) == 0);
const _: () = assert!(core::mem::offset_of!(XenSysctlReadconsole, incremental) == 1);
const _: () = assert!(core::mem::offset_of!(XenSysctlReadconsole, pad0) == 2);
const _: () = assert!(core::mem::offset_of!(XenSysctlReadconsole, pad1) == 3);
const _: () = assert!(core::mem::offset_of!(XenSysctlReadconsole, index) == 4);
const _: () = assert!(core::mem::offset_of!(XenSysctlReadconsole, buffer) == 8);
const _: () = assert!(core::mem::offset_of!(XenSysctlReadconsole, count) == 16);

// xen_sysctl_physinfo.capabilities (XEN_SYSCTL_PHYSCAP_*)
/// The platform supports HVM guests.
pub const XEN_SYSCTL_PHYSCAP_HVM: u32 = 1 << 0;
/// The platform supports PV guests.
pub const XEN_SYSCTL_PHYSCAP_PV: u32 = 1 << 1;
/// The platform supports device passthrough with an IOMMU.
pub const XEN_SYSCTL_PHYSCAP_DIRECTIO: u32 = 1 << 2;
/// Hardware-assisted paging is available.
pub const XEN_SYSCTL_PHYSCAP_HAP: u32 = 1 << 3;
/// Shadow paging is available.
pub const XEN_SYSCTL_PHYSCAP_SHADOW: u32 = 1 << 4;
/// The IOMMU can share the HAP page tables.
pub const XEN_SYSCTL_PHYSCAP_IOMMU_HAP_PT_SHARE: u32 = 1 << 5;
/// Processor tracing (vmtrace) is available.
pub const XEN_SYSCTL_PHYSCAP_VMTRACE: u32 = 1 << 6;
/// A virtual PMU is available.
pub const XEN_SYSCTL_PHYSCAP_VPMU: u32 = 1 << 7;
/// Grant table v1 is available.
pub const XEN_SYSCTL_PHYSCAP_GNTTAB_V1: u32 = 1 << 8;
/// Grant table v2 is available.
pub const XEN_SYSCTL_PHYSCAP_GNTTAB_V2: u32 = 1 << 9;
/// The highest `XEN_SYSCTL_PHYSCAP_*` bit.
pub const XEN_SYSCTL_PHYSCAP_MAX: u32 = XEN_SYSCTL_PHYSCAP_GNTTAB_V2;

/// `struct xen_sysctl_physinfo`, for `XEN_SYSCTL_physinfo`.
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
pub struct XenSysctlPhysinfo {
    pub threads_per_core: u32,
    pub cores_per_socket: u32,
    /// CPUs currently online.
    pub nr_cpus: u32,
    /// Largest possible CPU id on this host.
    pub max_cpu_id: u32,
    /// NUMA nodes currently online.
    pub nr_nodes: u32,
    /// Largest possible node id on this host.
    pub max_node_id: u32,
    pub cpu_khz: u32,
    /// `XEN_SYSCTL_PHYSCAP_*`.
    pub capabilities: u32,
    /// Architecture-specific capabilities (none defined for x86 in 4.17).
    pub arch_capabilities: u32,
    pub pad: u32,
    pub total_pages: u64,
    pub free_pages: u64,
    pub scrub_pages: u64,
    pub outstanding_pages: u64,
    /// Largest possible MFN on this host.
    pub max_mfn: u64,
    /// CPU feature words.
    pub hw_cap: [u32; 8],
}

const _: () = assert!(core::mem::size_of::<XenSysctlPhysinfo>() == 112);
const _: () = assert!(core::mem::offset_of!(XenSysctlPhysinfo, threads_per_core) == 0);
const _: () = assert!(core::mem::offset_of!(XenSysctlPhysinfo, cores_per_socket) == 4);
const _: () = assert!(core::mem::offset_of!(XenSysctlPhysinfo, nr_cpus) == 8);
const _: () = assert!(core::mem::offset_of!(XenSysctlPhysinfo, max_cpu_id) == 12);
const _: () = assert!(core::mem::offset_of!(XenSysctlPhysinfo, nr_nodes) == 16);
const _: () = assert!(core::mem::offset_of!(XenSysctlPhysinfo, max_node_id) == 20);
const _: () = assert!(core::mem::offset_of!(XenSysctlPhysinfo, cpu_khz) == 24);
const _: () = assert!(core::mem::offset_of!(XenSysctlPhysinfo, capabilities) == 28);
const _: () = assert!(core::mem::offset_of!(XenSysctlPhysinfo, arch_capabilities) == 32);
const _: () = assert!(core::mem::offset_of!(XenSysctlPhysinfo, pad) == 36);
const _: () = assert!(core::mem::offset_of!(XenSysctlPhysinfo, total_pages) == 40);
const _: () = assert!(core::mem::offset_of!(XenSysctlPhysinfo, free_pages) == 48);
const _: () = assert!(core::mem::offset_of!(XenSysctlPhysinfo, scrub_pages) == 56);
const _: () = assert!(core::mem::offset_of!(XenSysctlPhysinfo, outstanding_pages) == 64);
const _: () = assert!(core::mem::offset_of!(XenSysctlPhysinfo, max_mfn) == 72);
const _: () = assert!(core::mem::offset_of!(XenSysctlPhysinfo, hw_cap) == 80);

/// `struct xen_sysctl_sched_id`, for `XEN_SYSCTL_sched_id`.
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
pub struct XenSysctlSchedId {
    /// OUT: `XEN_SCHEDULER_*` of the default pool.
    pub sched_id: u32,
}

const _: () = assert!(core::mem::size_of::<XenSysctlSchedId>() == 4);

// xen_sysctl_scheduler_op.cmd (XEN_SYSCTL_SCHEDOP_*)
pub const XEN_SYSCTL_SCHEDOP_PUTINFO: u32 = 0;
pub const XEN_SYSCTL_SCHEDOP_GETINFO: u32 = 1;
/// Bounds of a scheduler's `ratelimit_us` (0 turns rate limiting off).
pub const XEN_SYSCTL_SCHED_RATELIMIT_MAX: u32 = 500_000;
pub const XEN_SYSCTL_SCHED_RATELIMIT_MIN: u32 = 100;

/// `struct xen_sysctl_scheduler_op`, for `XEN_SYSCTL_scheduler_op`: a
/// cpupool's scheduler-wide parameters. `u` is the per-scheduler union
/// (8-byte aligned by arinc653's handle): credit `{u32 tslice_ms; u32
/// ratelimit_us; u32 vcpu_migr_delay_us}`, credit2 `{u32 ratelimit_us}`
/// (the first 4 bytes).
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
pub struct XenSysctlSchedulerOp {
    /// IN: the cpupool whose scheduler is meant.
    pub cpupool_id: u32,
    /// IN: `XEN_SCHEDULER_*`; must be the pool's scheduler.
    pub sched_id: u32,
    /// IN: `XEN_SYSCTL_SCHEDOP_*`.
    pub cmd: u32,
    /// C's implicit padding before the union.
    pub _pad: u32,
    pub u: [u64; 2],
}

const _: () = assert!(core::mem::size_of::<XenSysctlSchedulerOp>() == 32);
const _: () = assert!(core::mem::offset_of!(XenSysctlSchedulerOp, cmd) == 8);
const _: () = assert!(core::mem::offset_of!(XenSysctlSchedulerOp, u) == 16);

/// `struct xen_sysctl_getdomaininfolist`, for `XEN_SYSCTL_getdomaininfolist`.
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
pub struct XenSysctlGetdomaininfolist {
    /// IN: lowest domain id to report.
    pub first_domain: DomId,
    /// C's implicit padding before `max_domains`.
    pub _pad0: u16,
    /// IN: size of `buffer` in entries.
    pub max_domains: u32,
    /// IN: guest handle of an array of
    /// [`crate::domctl::XenDomctlGetdomaininfo`].
    pub buffer: u64,
    /// OUT: number of entries written.
    pub num_domains: u32,
    /// C's implicit padding at the end.
    pub _pad1: u32,
}

const _: () = assert!(core::mem::size_of::<XenSysctlGetdomaininfolist>() == 24);
const _: () = assert!(core::mem::offset_of!(XenSysctlGetdomaininfolist, first_domain) == 0);
const _: () = assert!(core::mem::offset_of!(XenSysctlGetdomaininfolist, max_domains) == 4);
const _: () = assert!(core::mem::offset_of!(XenSysctlGetdomaininfolist, buffer) == 8);
const _: () = assert!(core::mem::offset_of!(XenSysctlGetdomaininfolist, num_domains) == 16);

/// `struct xen_sysctl_debug_keys`, for `XEN_SYSCTL_debug_keys`: inject
/// debug keys as if typed on Xen's console.
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
pub struct XenSysctlDebugKeys {
    /// IN: guest handle of the key characters.
    pub keys: u64,
    /// IN: number of keys.
    pub nr_keys: u32,
    /// C's implicit padding at the end.
    pub _pad: u32,
}

const _: () = assert!(core::mem::size_of::<XenSysctlDebugKeys>() == 16);
const _: () = assert!(core::mem::offset_of!(XenSysctlDebugKeys, keys) == 0);
const _: () = assert!(core::mem::offset_of!(XenSysctlDebugKeys, nr_keys) == 8);

/// `struct xen_sysctl_cpuinfo`: one entry of `XEN_SYSCTL_getcpuinfo`'s array.
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
pub struct XenSysctlCpuinfo {
    /// Idle time of the CPU, in ns.
    pub idletime: u64,
}

const _: () = assert!(core::mem::size_of::<XenSysctlCpuinfo>() == 8);

/// `struct xen_sysctl_getcpuinfo`, for `XEN_SYSCTL_getcpuinfo`.
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
pub struct XenSysctlGetcpuinfo {
    /// IN: size of `info` in entries.
    pub max_cpus: u32,
    /// C's implicit padding before `info`.
    pub _pad0: u32,
    /// IN: guest handle of an array of [`XenSysctlCpuinfo`].
    pub info: u64,
    /// OUT: number of entries written.
    pub nr_cpus: u32,
    /// C's implicit padding at the end.
    pub _pad1: u32,
}

const _: () = assert!(core::mem::size_of::<XenSysctlGetcpuinfo>() == 24);
const _: () = assert!(core::mem::offset_of!(XenSysctlGetcpuinfo, max_cpus) == 0);
const _: () = assert!(core::mem::offset_of!(XenSysctlGetcpuinfo, info) == 8);
const _: () = assert!(core::mem::offset_of!(XenSysctlGetcpuinfo, nr_cpus) == 16);

/// `struct xen_sysctl_availheap`, for `XEN_SYSCTL_availheap`.
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
pub struct XenSysctlAvailheap {
    /// IN: smallest address width (0: any).
    pub min_bitwidth: u32,
    /// IN: largest address width (0: any).
    pub max_bitwidth: u32,
    /// IN: NUMA node, or -1 for all.
    pub node: i32,
    /// C's implicit padding before `avail_bytes`.
    pub _pad: u32,
    /// OUT: free bytes in that region.
    pub avail_bytes: u64,
}

const _: () = assert!(core::mem::size_of::<XenSysctlAvailheap>() == 24);
const _: () = assert!(core::mem::offset_of!(XenSysctlAvailheap, min_bitwidth) == 0);
const _: () = assert!(core::mem::offset_of!(XenSysctlAvailheap, max_bitwidth) == 4);
const _: () = assert!(core::mem::offset_of!(XenSysctlAvailheap, node) == 8);
const _: () = assert!(core::mem::offset_of!(XenSysctlAvailheap, avail_bytes) == 16);

// xen_sysctl_cpu_hotplug.op
pub const XEN_SYSCTL_CPU_HOTPLUG_ONLINE: u32 = 0;
pub const XEN_SYSCTL_CPU_HOTPLUG_OFFLINE: u32 = 1;
pub const XEN_SYSCTL_CPU_HOTPLUG_SMT_ENABLE: u32 = 2;
pub const XEN_SYSCTL_CPU_HOTPLUG_SMT_DISABLE: u32 = 3;

/// `struct xen_sysctl_cpu_hotplug`, for `XEN_SYSCTL_cpu_hotplug`.
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
pub struct XenSysctlCpuHotplug {
    /// IN: the physical CPU (ignored by the SMT ops).
    pub cpu: u32,
    /// IN: `XEN_SYSCTL_CPU_HOTPLUG_*`.
    pub op: u32,
}

const _: () = assert!(core::mem::size_of::<XenSysctlCpuHotplug>() == 8);
const _: () = assert!(core::mem::offset_of!(XenSysctlCpuHotplug, cpu) == 0);
const _: () = assert!(core::mem::offset_of!(XenSysctlCpuHotplug, op) == 4);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sysctl_carries_its_payload_after_the_header() {
        let list = XenSysctlGetdomaininfolist {
            first_domain: DomId(1),
            max_domains: 16,
            buffer: 0x1000,
            ..Default::default()
        };
        let op = XenSysctl::new(XEN_SYSCTL_GETDOMAININFOLIST, &list);
        let bytes = op.as_bytes();
        assert_eq!(&bytes[0..4], &6u32.to_le_bytes());
        assert_eq!(&bytes[4..8], &0x15u32.to_le_bytes());
        assert_eq!(&bytes[8..10], &1u16.to_le_bytes());
        assert_eq!(&bytes[8 + 8..8 + 16], &0x1000u64.to_le_bytes());

        let mut back = XenSysctl::read_from_bytes(bytes).unwrap();
        assert_eq!(back.payload::<XenSysctlGetdomaininfolist>(), list);
        back.set_payload(&XenSysctlPhysinfo {
            nr_cpus: 4,
            ..Default::default()
        });
        assert_eq!(back.payload::<XenSysctlPhysinfo>().nr_cpus, 4);
    }
}
