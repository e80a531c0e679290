//! Mirrors xen/include/public/hvm/hvm_op.h
//!
//! `HYPERVISOR_hvm_op(op, arg)` sub-ops (`HVMOP_*`).

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
pub const HVMOP_PAGETABLE_DYING: u64 = 9;
pub const HVMOP_GET_TIME: u64 = 10;
pub const HVMOP_XENTRACE: u64 = 11;
pub const HVMOP_SET_MEM_ACCESS: u64 = 12;
pub const HVMOP_GET_MEM_ACCESS: u64 = 13;
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
