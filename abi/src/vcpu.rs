//! Mirrors xen/include/public/vcpu.h
//!
//! `HYPERVISOR_vcpu_op(cmd, vcpuid, arg)` sub-ops.
//!
//! | cmd | arg |
//! |-----|-----|
//! | `VCPUOP_initialise` | x86 HVM/PVH: [`crate::hvm::hvm_vcpu::VcpuHvmContext`]; PV: `vcpu_guest_context` |
//! | `VCPUOP_up`, `down`, `is_up` | NULL |
//! | `VCPUOP_get_runstate_info` | [`VcpuRunstateInfo`] (OUT) |
//! | `VCPUOP_register_runstate_memory_area` | [`VcpuRegisterRunstateMemoryArea`] |
//! | `VCPUOP_set_periodic_timer` | [`VcpuSetPeriodicTimer`] |
//! | `VCPUOP_stop_periodic_timer`, `stop_singleshot_timer` | NULL |
//! | `VCPUOP_set_singleshot_timer` | [`VcpuSetSingleshotTimer`] |
//! | `VCPUOP_register_vcpu_info` | [`VcpuRegisterVcpuInfo`] |
//! | `VCPUOP_send_nmi` | NULL |
//! | `VCPUOP_get_physid` | [`VcpuGetPhysid`] (OUT) |
//! | `VCPUOP_register_vcpu_time_memory_area` | [`VcpuRegisterTimeMemoryArea`] |
//!
//! A 32-bit guest passes [`CompatVcpuRunstateInfo`] and
//! [`CompatVcpuSetSingleshotTimer`] (`uint64_t` 4-byte aligned); the other
//! structs have the same layout for both.

use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

pub const VCPUOP_INITIALISE: u64 = 0;
pub const VCPUOP_UP: u64 = 1;
pub const VCPUOP_DOWN: u64 = 2;
pub const VCPUOP_IS_UP: u64 = 3;
pub const VCPUOP_GET_RUNSTATE_INFO: u64 = 4;
pub const VCPUOP_REGISTER_RUNSTATE_MEMORY_AREA: u64 = 5;
pub const VCPUOP_SET_PERIODIC_TIMER: u64 = 6;
pub const VCPUOP_STOP_PERIODIC_TIMER: u64 = 7;
pub const VCPUOP_SET_SINGLESHOT_TIMER: u64 = 8;
pub const VCPUOP_STOP_SINGLESHOT_TIMER: u64 = 9;
pub const VCPUOP_REGISTER_VCPU_INFO: u64 = 10;
pub const VCPUOP_SEND_NMI: u64 = 11;
pub const VCPUOP_GET_PHYSID: u64 = 12;
pub const VCPUOP_REGISTER_VCPU_TIME_MEMORY_AREA: u64 = 13;

// vcpu_runstate_info.state (RUNSTATE_*)
/// Running on a physical CPU.
pub const RUNSTATE_RUNNING: i32 = 0;
/// Runnable, waiting for a physical CPU.
pub const RUNSTATE_RUNNABLE: i32 = 1;
/// Blocked: waiting for an event, or paused.
pub const RUNSTATE_BLOCKED: i32 = 2;
/// Not runnable (down, or the domain is paused by the toolstack).
pub const RUNSTATE_OFFLINE: i32 = 3;

/// Set in `state_entry_time` while Xen updates a registered runstate area
/// (with `VMASST_TYPE_runstate_update_flag`).
pub const XEN_RUNSTATE_UPDATE: u64 = 1 << 63;

/// `struct vcpu_runstate_info`, for `VCPUOP_get_runstate_info` and the area
/// registered with `VCPUOP_register_runstate_memory_area`.
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
pub struct VcpuRunstateInfo {
    /// The vCPU's current state (`RUNSTATE_*`).
    pub state: i32,
    /// C's implicit padding before `state_entry_time`.
    pub _pad: u32,
    /// System time (ns) the current state was entered at.
    pub state_entry_time: u64,
    /// Time (ns) spent in each `RUNSTATE_*`; their sum follows system time.
    pub time: [u64; 4],
}

const _: () = assert!(core::mem::size_of::<VcpuRunstateInfo>() == 48);
const _: () = assert!(core::mem::offset_of!(VcpuRunstateInfo, state) == 0);
const _: () = assert!(core::mem::offset_of!(VcpuRunstateInfo, state_entry_time) == 8);
const _: () = assert!(core::mem::offset_of!(VcpuRunstateInfo, time) == 16);

/// [`VcpuRunstateInfo`] of a 32-bit guest: no padding after `state`.
#[repr(C, packed(4))]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
pub struct CompatVcpuRunstateInfo {
    pub state: i32,
    pub state_entry_time: u64,
    pub time: [u64; 4],
}

const _: () = assert!(core::mem::size_of::<CompatVcpuRunstateInfo>() == 44);
const _: () = assert!(core::mem::offset_of!(CompatVcpuRunstateInfo, state) == 0);
const _: () = assert!(core::mem::offset_of!(CompatVcpuRunstateInfo, state_entry_time) == 4);
const _: () = assert!(core::mem::offset_of!(CompatVcpuRunstateInfo, time) == 12);

/// `struct vcpu_register_runstate_memory_area`, for
/// `VCPUOP_register_runstate_memory_area`: Xen keeps a [`VcpuRunstateInfo`]
/// (or [`CompatVcpuRunstateInfo`]) up to date at `addr`. Same layout for
/// 32-bit guests, whose pointer is the low 4 bytes.
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
pub struct VcpuRegisterRunstateMemoryArea {
    /// IN: guest handle (guest virtual address) of the area; 0 unregisters.
    pub addr: u64,
}

const _: () = assert!(core::mem::size_of::<VcpuRegisterRunstateMemoryArea>() == 8);

/// `struct vcpu_set_periodic_timer`, for `VCPUOP_set_periodic_timer`.
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
pub struct VcpuSetPeriodicTimer {
    /// IN: period of the `VIRQ_TIMER` ticks, in ns.
    pub period_ns: u64,
}

const _: () = assert!(core::mem::size_of::<VcpuSetPeriodicTimer>() == 8);

/// `vcpu_set_singleshot_timer.flags`: fail with `-ETIME` if the timeout has
/// already passed (Xen may ignore it).
pub const VCPU_SSHOTTMR_FUTURE: u32 = 1 << 0;

/// `struct vcpu_set_singleshot_timer`, for `VCPUOP_set_singleshot_timer`.
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
pub struct VcpuSetSingleshotTimer {
    /// IN: absolute system time (ns) at which `VIRQ_TIMER` fires.
    pub timeout_abs_ns: u64,
    /// IN: `VCPU_SSHOTTMR_*`.
    pub flags: u32,
    /// C's implicit padding at the end.
    pub _pad: u32,
}

const _: () = assert!(core::mem::size_of::<VcpuSetSingleshotTimer>() == 16);
const _: () = assert!(core::mem::offset_of!(VcpuSetSingleshotTimer, timeout_abs_ns) == 0);
const _: () = assert!(core::mem::offset_of!(VcpuSetSingleshotTimer, flags) == 8);

/// [`VcpuSetSingleshotTimer`] of a 32-bit guest: the same fields, without
/// the tail padding.
#[repr(C, packed(4))]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
pub struct CompatVcpuSetSingleshotTimer {
    pub timeout_abs_ns: u64,
    pub flags: u32,
}

const _: () = assert!(core::mem::size_of::<CompatVcpuSetSingleshotTimer>() == 12);
const _: () = assert!(core::mem::offset_of!(CompatVcpuSetSingleshotTimer, timeout_abs_ns) == 0);
const _: () = assert!(core::mem::offset_of!(CompatVcpuSetSingleshotTimer, flags) == 8);

/// `struct vcpu_register_vcpu_info`, for `VCPUOP_register_vcpu_info`: move
/// the vCPU's [`crate::xen::VcpuInfo`] to `offset` within frame `mfn` (a GFN
/// for translated guests). The whole 64 bytes must fit in the page.
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
pub struct VcpuRegisterVcpuInfo {
    /// IN: frame of the page to place `vcpu_info` in.
    pub mfn: u64,
    /// IN: byte offset within the page.
    pub offset: u32,
    /// Unused.
    pub rsvd: u32,
}

const _: () = assert!(core::mem::size_of::<VcpuRegisterVcpuInfo>() == 16);
const _: () = assert!(core::mem::offset_of!(VcpuRegisterVcpuInfo, mfn) == 0);
const _: () = assert!(core::mem::offset_of!(VcpuRegisterVcpuInfo, offset) == 8);
const _: () = assert!(core::mem::offset_of!(VcpuRegisterVcpuInfo, rsvd) == 12);

/// `struct vcpu_get_physid`, for `VCPUOP_get_physid` (privileged): the
/// physical CPU the vCPU maps to.
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
pub struct VcpuGetPhysid {
    /// OUT: x86 APIC id in `[31:0]`, ACPI id in `[63:32]`.
    pub phys_id: u64,
}

const _: () = assert!(core::mem::size_of::<VcpuGetPhysid>() == 8);

/// `xen_vcpu_physid_to_x86_apicid()`: the APIC id in a `phys_id`.
#[allow(clippy::cast_possible_truncation)] // the APIC id is the low half
pub const fn xen_vcpu_physid_to_x86_apicid(physid: u64) -> u32 {
    physid as u32
}

/// `xen_vcpu_physid_to_x86_acpiid()`: the ACPI id in a `phys_id`.
pub const fn xen_vcpu_physid_to_x86_acpiid(physid: u64) -> u32 {
    (physid >> 32) as u32
}

/// `struct vcpu_register_time_memory_area`, for
/// `VCPUOP_register_vcpu_time_memory_area`: Xen keeps a second copy of the
/// vCPU's [`crate::xen::VcpuTimeInfo`] at `addr`, updated so user space can
/// read it. Same layout for 32-bit guests, whose pointer is the low 4 bytes.
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
pub struct VcpuRegisterTimeMemoryArea {
    /// IN: guest handle (guest virtual address); 0 unregisters.
    pub addr: u64,
}

const _: () = assert!(core::mem::size_of::<VcpuRegisterTimeMemoryArea>() == 8);
