//! Parts of Xen's public ABI the checks need that the `abi` crate does not
//! have yet, with Xen's names and layouts (every struct's size asserted).
//! Each item moves to `abi` when it lands there. TODO(abi): event_channel.h
//! structs, platform.h, physdev.h, hypfs.h, dm_op.h, xen.h (multicall_entry,
//! NR_VIRQS), vm_event / xsm numbers.

use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

/// Names of hypercalls 0..=63 (xen.h `__HYPERVISOR_*`; 48..=55 are
/// `arch_0..7`, on x86 `mca` and `paging_domctl_cont`).
pub const HYPERCALL_NAMES: [&str; 64] = [
    "set_trap_table",
    "mmu_update",
    "set_gdt",
    "stack_switch",
    "set_callbacks",
    "fpu_taskswitch",
    "sched_op_compat",
    "platform_op",
    "set_debugreg",
    "get_debugreg",
    "update_descriptor",
    "hypercall 11",
    "memory_op",
    "multicall",
    "update_va_mapping",
    "set_timer_op",
    "event_channel_op_compat",
    "xen_version",
    "console_io",
    "physdev_op_compat",
    "grant_table_op",
    "vm_assist",
    "update_va_mapping_otherdomain",
    "iret",
    "vcpu_op",
    "set_segment_base",
    "mmuext_op",
    "xsm_op",
    "nmi_op",
    "sched_op",
    "callback_op",
    "xenoprof_op",
    "event_channel_op",
    "physdev_op",
    "hvm_op",
    "sysctl",
    "domctl",
    "kexec_op",
    "tmem_op",
    "argo_op",
    "xenpmu_op",
    "dm_op",
    "hypfs_op",
    "hypercall 43",
    "hypercall 44",
    "hypercall 45",
    "hypercall 46",
    "hypercall 47",
    "mca (arch_0)",
    "paging_domctl_cont (arch_1)",
    "arch_2",
    "arch_3",
    "arch_4",
    "arch_5",
    "arch_6",
    "arch_7",
    "hypercall 56",
    "hypercall 57",
    "hypercall 58",
    "hypercall 59",
    "hypercall 60",
    "hypercall 61",
    "hypercall 62",
    "hypercall 63",
];

/// `__HYPERVISOR_paging_domctl_cont` (`__HYPERVISOR_arch_1` on x86).
pub const HYPERVISOR_PAGING_DOMCTL_CONT: u64 = 49;
/// `__HYPERVISOR_mca` (`__HYPERVISOR_arch_0` on x86).
pub const HYPERVISOR_MCA: u64 = 48;

/// xen.h: number of virtual IRQs.
pub const NR_VIRQS: u32 = 24;

/// xen.h `struct multicall_entry` (64-bit guest).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, FromBytes, IntoBytes, KnownLayout, Immutable)]
pub struct MulticallEntry {
    pub op: u64,
    pub result: u64,
    pub args: [u64; 6],
}
const _: () = assert!(core::mem::size_of::<MulticallEntry>() == 64);

// ---- event_channel.h ----

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, FromBytes, IntoBytes, KnownLayout, Immutable)]
pub struct EvtchnAllocUnbound {
    pub dom: u16,
    pub remote_dom: u16,
    pub port: u32,
}
const _: () = assert!(core::mem::size_of::<EvtchnAllocUnbound>() == 8);

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, FromBytes, IntoBytes, KnownLayout, Immutable)]
pub struct EvtchnBindInterdomain {
    pub remote_dom: u16,
    pub _pad: u16,
    pub remote_port: u32,
    pub local_port: u32,
}
const _: () = assert!(core::mem::size_of::<EvtchnBindInterdomain>() == 12);

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, FromBytes, IntoBytes, KnownLayout, Immutable)]
pub struct EvtchnBindVirq {
    pub virq: u32,
    pub vcpu: u32,
    pub port: u32,
}
const _: () = assert!(core::mem::size_of::<EvtchnBindVirq>() == 12);

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, FromBytes, IntoBytes, KnownLayout, Immutable)]
pub struct EvtchnBindIpi {
    pub vcpu: u32,
    pub port: u32,
}
const _: () = assert!(core::mem::size_of::<EvtchnBindIpi>() == 8);

/// `struct evtchn_close`, `evtchn_send`, `evtchn_unmask`: one port.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, FromBytes, IntoBytes, KnownLayout, Immutable)]
pub struct EvtchnPort {
    pub port: u32,
}
const _: () = assert!(core::mem::size_of::<EvtchnPort>() == 4);

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, FromBytes, IntoBytes, KnownLayout, Immutable)]
pub struct EvtchnStatus {
    pub dom: u16,
    pub _pad: u16,
    pub port: u32,
    pub status: u32,
    pub vcpu: u32,
    /// `u.unbound.dom` / `u.interdomain.dom` (low 16 bits), `u.pirq`, `u.virq`.
    pub u0: u32,
    /// `u.interdomain.port`.
    pub u1: u32,
}
const _: () = assert!(core::mem::size_of::<EvtchnStatus>() == 24);

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, FromBytes, IntoBytes, KnownLayout, Immutable)]
pub struct EvtchnBindVcpu {
    pub port: u32,
    pub vcpu: u32,
}
const _: () = assert!(core::mem::size_of::<EvtchnBindVcpu>() == 8);

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, FromBytes, IntoBytes, KnownLayout, Immutable)]
pub struct EvtchnReset {
    pub dom: u16,
}
const _: () = assert!(core::mem::size_of::<EvtchnReset>() == 2);

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, FromBytes, IntoBytes, KnownLayout, Immutable)]
pub struct EvtchnInitControl {
    pub control_gfn: u64,
    pub offset: u32,
    pub vcpu: u32,
    pub link_bits: u8,
    pub _pad: [u8; 7],
}
const _: () = assert!(core::mem::size_of::<EvtchnInitControl>() == 24);

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, FromBytes, IntoBytes, KnownLayout, Immutable)]
pub struct EvtchnSetPriority {
    pub port: u32,
    pub priority: u32,
}
const _: () = assert!(core::mem::size_of::<EvtchnSetPriority>() == 8);

pub const EVTCHNSTAT_CLOSED: u32 = 0;
pub const EVTCHNSTAT_UNBOUND: u32 = 1;
pub const EVTCHNSTAT_INTERDOMAIN: u32 = 2;
pub const EVTCHNSTAT_VIRQ: u32 = 4;
pub const EVTCHNSTAT_IPI: u32 = 5;

// ---- grant_table.h ----
// The structs and GNTST_* come from abi::grant_table.

/// `GNTTABOP_*` arguments above this bit are the op's continuation state.
pub const GNTTABOP_ARG_SHIFT: u32 = 12;

// ---- platform.h ----

pub const XENPF_INTERFACE_VERSION: u32 = 0x0300_0001;

/// `struct xen_platform_op`: cmd, interface_version, a 128-byte union.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, FromBytes, IntoBytes, KnownLayout, Immutable)]
pub struct PlatformOp {
    pub cmd: u32,
    pub interface_version: u32,
    pub u: [u64; 16],
}
const _: () = assert!(core::mem::size_of::<PlatformOp>() == 136);

/// platform.h: `XENPF_get_cpuinfo`.
pub const XENPF_GET_CPUINFO: u32 = 55;

// ---- physdev.h ----

pub const PHYSDEVOP_IRQ_STATUS_QUERY: u64 = 5;
pub const PHYSDEVOP_EOI: u64 = 12;
pub const PHYSDEVOP_MAP_PIRQ: u64 = 13;
pub const PHYSDEVOP_UNMAP_PIRQ: u64 = 14;
pub const PHYSDEVOP_GET_FREE_PIRQ: u64 = 23;
pub const PHYSDEVOP_PCI_MMCFG_RESERVED: u64 = 24;
pub const PHYSDEVOP_PCI_DEVICE_ADD: u64 = 25;
pub const PHYSDEVOP_PCI_DEVICE_REMOVE: u64 = 26;
pub const PHYSDEVOP_DBGP_OP: u64 = 29;

// ---- hypfs.h ----

pub const XEN_HYPFS_VERSION: i64 = 1;
pub const XEN_HYPFS_OP_GET_VERSION: u64 = 0;
pub const XEN_HYPFS_OP_READ: u64 = 1;

// ---- mmuext / xenpmu / dm_op ----

/// xen.h `MMUEXT_*`: not for HVM guests; any command shows it.
pub const MMUEXT_PIN_L1_TABLE: u32 = 0;
/// pmu.h `XENPMU_mode_get`.
pub const XENPMU_MODE_GET: u64 = 0;
/// dm_op.h: at most this many buffers per call (Xen's `struct dmop_args`).
pub const DMOP_MAX_BUFS: u64 = 2;
