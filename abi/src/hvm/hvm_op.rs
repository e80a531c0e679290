//! Mirrors xen/include/public/hvm/hvm_op.h
//!
//! `HYPERVISOR_hvm_op(op, arg)` sub-ops (`HVMOP_*`). All structs here have
//! the same layout for 32-bit and 64-bit callers.

use crate::xen::DomId;
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

/// arg: [`XenHvmParam`]. Set `HVM_PARAM_*` `index` of `domid` to `value`.
pub const HVMOP_SET_PARAM: u64 = 0;
/// arg: [`XenHvmParam`]. Read `HVM_PARAM_*` `index` of `domid` into `value`.
pub const HVMOP_GET_PARAM: u64 = 1;
pub const HVMOP_SET_PCI_INTX_LEVEL: u64 = 2;
pub const HVMOP_SET_ISA_IRQ_LEVEL: u64 = 3;
pub const HVMOP_SET_PCI_LINK_ROUTE: u64 = 4;
pub const HVMOP_FLUSH_TLBS: u64 = 5;
/// arg: [`XenHvmPagetableDying`].
pub const HVMOP_PAGETABLE_DYING: u64 = 9;
/// arg: [`XenHvmGetTime`].
pub const HVMOP_GET_TIME: u64 = 10;
/// arg: [`XenHvmXentrace`].
pub const HVMOP_XENTRACE: u64 = 11;
pub const HVMOP_SET_MEM_ACCESS: u64 = 12;
pub const HVMOP_GET_MEM_ACCESS: u64 = 13;
/// arg: [`XenHvmGetMemType`].
pub const HVMOP_GET_MEM_TYPE: u64 = 15;
/// Per-vCPU event-channel upcall vector (`struct xen_hvm_evtchn_upcall_vector`).
pub const HVMOP_SET_EVTCHN_UPCALL_VECTOR: u64 = 23;
pub const HVMOP_GUEST_REQUEST_VM_EVENT: u64 = 24;
pub const HVMOP_ALTP2M: u64 = 25;

/// `struct xen_hvm_param`, for `HVMOP_set_param` and `HVMOP_get_param`.
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
pub struct XenHvmParam {
    /// IN: the domain (or `DOMID_SELF`).
    pub domid: DomId,
    pub pad: u16,
    /// IN: `HVM_PARAM_*`.
    pub index: u32,
    /// IN/OUT: the value.
    pub value: u64,
}

const _: () = assert!(core::mem::size_of::<XenHvmParam>() == 16);
const _: () = assert!(core::mem::offset_of!(XenHvmParam, domid) == 0);
const _: () = assert!(core::mem::offset_of!(XenHvmParam, pad) == 2);
const _: () = assert!(core::mem::offset_of!(XenHvmParam, index) == 4);
const _: () = assert!(core::mem::offset_of!(XenHvmParam, value) == 8);

/// `struct xen_hvm_evtchn_upcall_vector`, for `HVMOP_set_evtchn_upcall_vector`.
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
pub struct XenHvmEvtchnUpcallVector {
    /// IN: the vCPU.
    pub vcpu: u32,
    /// IN: the vector.
    pub vector: u8,
    pub _pad: [u8; 3],
}

const _: () = assert!(core::mem::size_of::<XenHvmEvtchnUpcallVector>() == 8);
const _: () = assert!(core::mem::offset_of!(XenHvmEvtchnUpcallVector, vcpu) == 0);
const _: () = assert!(core::mem::offset_of!(XenHvmEvtchnUpcallVector, vector) == 4);

/// `struct xen_hvm_pagetable_dying`, for `HVMOP_pagetable_dying`: the guest
/// is about to destroy the page table rooted at `gpa` (a shadow-paging hint).
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
pub struct XenHvmPagetableDying {
    /// IN: the domain.
    pub domid: DomId,
    pub pad: [u16; 3],
    /// IN: guest-physical address of the top-level page table.
    pub gpa: u64,
}

const _: () = assert!(core::mem::size_of::<XenHvmPagetableDying>() == 16);
const _: () = assert!(core::mem::offset_of!(XenHvmPagetableDying, domid) == 0);
const _: () = assert!(core::mem::offset_of!(XenHvmPagetableDying, pad) == 2);
const _: () = assert!(core::mem::offset_of!(XenHvmPagetableDying, gpa) == 8);

/// `struct xen_hvm_get_time`, for `HVMOP_get_time`.
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
pub struct XenHvmGetTime {
    /// OUT: current system time in ns.
    pub now: u64,
}

const _: () = assert!(core::mem::size_of::<XenHvmGetTime>() == 8);

/// `TRACE_EXTRA_MAX` (trace.h): 32-bit words of extra data in a trace record.
pub const TRACE_EXTRA_MAX: usize = 7;

/// `struct xen_hvm_xentrace`, for `HVMOP_xentrace`: log a trace record.
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
pub struct XenHvmXentrace {
    pub event: u16,
    pub extra_bytes: u16,
    pub extra: [u8; TRACE_EXTRA_MAX * 4],
}

const _: () = assert!(core::mem::size_of::<XenHvmXentrace>() == 32);
const _: () = assert!(core::mem::offset_of!(XenHvmXentrace, event) == 0);
const _: () = assert!(core::mem::offset_of!(XenHvmXentrace, extra_bytes) == 2);
const _: () = assert!(core::mem::offset_of!(XenHvmXentrace, extra) == 4);

// hvmmem_type_t, in xen_hvm_get_mem_type.mem_type.
/// Normal read/write guest RAM.
pub const HVMMEM_RAM_RW: u16 = 0;
/// Read-only RAM; writes are discarded.
pub const HVMMEM_RAM_RO: u16 = 1;
/// Reads and writes go to the device model.
pub const HVMMEM_MMIO_DM: u16 = 2;
/// Placeholder (was `HVMMEM_mmio_write_dm` before interface 0x00040700).
pub const HVMMEM_UNUSED: u16 = 3;
/// Claimed by an ioreq server.
pub const HVMMEM_IOREQ_SERVER: u16 = 4;

/// `struct xen_hvm_get_mem_type`, for `HVMOP_get_mem_type`.
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
pub struct XenHvmGetMemType {
    /// IN: the domain queried.
    pub domid: DomId,
    /// OUT: `HVMMEM_*`.
    pub mem_type: u16,
    pub pad: [u16; 2],
    /// IN: the guest frame.
    pub pfn: u64,
}

const _: () = assert!(core::mem::size_of::<XenHvmGetMemType>() == 16);
const _: () = assert!(core::mem::offset_of!(XenHvmGetMemType, domid) == 0);
const _: () = assert!(core::mem::offset_of!(XenHvmGetMemType, mem_type) == 2);
const _: () = assert!(core::mem::offset_of!(XenHvmGetMemType, pad) == 4);
const _: () = assert!(core::mem::offset_of!(XenHvmGetMemType, pfn) == 8);
