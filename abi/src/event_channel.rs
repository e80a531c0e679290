//! Mirrors xen/include/public/event_channel.h
//!
//! `HYPERVISOR_event_channel_op(cmd, arg)` sub-ops. Structs follow in a later
//! change.

pub const EVTCHNOP_BIND_INTERDOMAIN: u64 = 0;
pub const EVTCHNOP_BIND_VIRQ: u64 = 1;
pub const EVTCHNOP_BIND_PIRQ: u64 = 2;
pub const EVTCHNOP_CLOSE: u64 = 3;
pub const EVTCHNOP_SEND: u64 = 4;
pub const EVTCHNOP_STATUS: u64 = 5;
pub const EVTCHNOP_ALLOC_UNBOUND: u64 = 6;
pub const EVTCHNOP_BIND_IPI: u64 = 7;
pub const EVTCHNOP_BIND_VCPU: u64 = 8;
pub const EVTCHNOP_UNMASK: u64 = 9;
pub const EVTCHNOP_RESET: u64 = 10;
pub const EVTCHNOP_INIT_CONTROL: u64 = 11;
pub const EVTCHNOP_EXPAND_ARRAY: u64 = 12;
pub const EVTCHNOP_SET_PRIORITY: u64 = 13;
/// Used only inside Xen (`#ifdef __XEN__`).
pub const EVTCHNOP_RESET_CONT: u64 = 14;
