//! `xen/include/public/platform.h`: `HYPERVISOR_platform_op` (Dom0 only).
//! Every field is fixed-width and the union 8-byte aligned: one layout for
//! 32- and 64-bit callers.

use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

/// `XENPF_INTERFACE_VERSION`; `interface_version` must match (-EACCES).
pub const XENPF_INTERFACE_VERSION: u32 = 0x0300_0001;

pub const XENPF_SETTIME32: u32 = 17;
pub const XENPF_GET_CPUINFO: u32 = 55;
pub const XENPF_SETTIME64: u32 = 62;

/// `struct xen_platform_op`; `u` is the union of the per-command structs.
#[repr(C, align(8))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
pub struct XenPlatformOp {
    /// `XENPF_*`.
    pub cmd: u32,
    /// [`XENPF_INTERFACE_VERSION`].
    pub interface_version: u32,
    pub u: [u8; 128],
}

const _: () = assert!(core::mem::size_of::<XenPlatformOp>() == 136);
const _: () = assert!(core::mem::offset_of!(XenPlatformOp, u) == 8);

impl XenPlatformOp {
    /// The payload as a `T` (one of the `Xenpf*` structs).
    pub fn payload<T: FromBytes>(&self) -> T {
        crate::read_prefix(&self.u)
    }
}

/// `struct xenpf_settime32`: set the wallclock (32-bit seconds).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
pub struct XenpfSettime32 {
    pub secs: u32,
    pub nsecs: u32,
    /// Xen system time at which the wallclock was `secs.nsecs`.
    pub system_time: u64,
}

const _: () = assert!(core::mem::size_of::<XenpfSettime32>() == 16);

/// `struct xenpf_settime64`: set the wallclock.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
pub struct XenpfSettime64 {
    pub secs: u64,
    pub nsecs: u32,
    /// Must be zero.
    pub mbz: u32,
    /// Xen system time at which the wallclock was `secs.nsecs`.
    pub system_time: u64,
}

const _: () = assert!(core::mem::size_of::<XenpfSettime64>() == 24);

/// `xenpf_pcpuinfo.flags`: the CPU is online / no such CPU.
pub const XEN_PCPU_FLAGS_ONLINE: u32 = 1;
pub const XEN_PCPU_FLAGS_INVALID: u32 = 2;

/// `struct xenpf_pcpuinfo` (XENPF_get_cpuinfo): `xen_cpuid` in, the rest out.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
pub struct XenpfPcpuinfo {
    pub xen_cpuid: u32,
    pub max_present: u32,
    pub flags: u32,
    pub apic_id: u32,
    pub acpi_id: u32,
}

const _: () = assert!(core::mem::size_of::<XenpfPcpuinfo>() == 20);
const _: () = assert!(core::mem::offset_of!(XenpfSettime64, system_time) == 16);
