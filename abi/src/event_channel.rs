//! Mirrors xen/include/public/event_channel.h
//!
//! `HYPERVISOR_event_channel_op(cmd, arg)`: sub-ops and their structs. Every
//! struct has the same layout for 32- and 64-bit callers.

use crate::xen::DomId;
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

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
/// Used only inside Xen (`#ifdef __XEN__`): a preempted `EVTCHNOP_reset`.
pub const EVTCHNOP_RESET_CONT: u64 = 14;

/// `evtchn_port_t`.
pub type EvtchnPort = u32;

// evtchn_status.status
pub const EVTCHNSTAT_CLOSED: u32 = 0;
pub const EVTCHNSTAT_UNBOUND: u32 = 1;
pub const EVTCHNSTAT_INTERDOMAIN: u32 = 2;
pub const EVTCHNSTAT_PIRQ: u32 = 3;
pub const EVTCHNSTAT_VIRQ: u32 = 4;
pub const EVTCHNSTAT_IPI: u32 = 5;

/// `EVTCHN_2L_NR_CHANNELS` for a 64-bit guest (`xen_ulong_t` is 64 bits).
pub const EVTCHN_2L_NR_CHANNELS: u32 = 64 * 64;
/// `EVTCHN_2L_NR_CHANNELS` for a 32-bit guest's compat shared info.
pub const EVTCHN_2L_NR_CHANNELS_COMPAT: u32 = 32 * 32;

/// FIFO ABI: size of `struct evtchn_fifo_control_block` (ready, _rsvd, 16 heads).
pub const EVTCHN_FIFO_CONTROL_BLOCK_SIZE: u32 = 72;
pub const EVTCHN_FIFO_LINK_BITS: u8 = 17;

macro_rules! pod {
    ($(#[$m:meta])* $name:ident { $($(#[$fm:meta])* $field:ident : $ty:ty),* $(,)? } size $size:expr) => {
        $(#[$m])*
        #[repr(C)]
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
        pub struct $name { $($(#[$fm])* pub $field: $ty),* }
        const _: () = assert!(core::mem::size_of::<$name>() == $size);
    };
}

pod!(
    /// `struct evtchn_alloc_unbound`.
    EvtchnAllocUnbound { dom: DomId, remote_dom: DomId, port: EvtchnPort } size 8
);
pod!(
    /// `struct evtchn_bind_interdomain` (`remote_dom` is followed by C padding).
    EvtchnBindInterdomain { remote_dom: DomId, _pad: u16, remote_port: EvtchnPort, local_port: EvtchnPort } size 12
);
pod!(
    /// `struct evtchn_bind_virq`.
    EvtchnBindVirq { virq: u32, vcpu: u32, port: EvtchnPort } size 12
);
pod!(
    /// `struct evtchn_bind_pirq`.
    EvtchnBindPirq { pirq: u32, flags: u32, port: EvtchnPort } size 12
);
pod!(
    /// `struct evtchn_bind_ipi`.
    EvtchnBindIpi { vcpu: u32, port: EvtchnPort } size 8
);
pod!(
    /// `struct evtchn_close`, `evtchn_send` and `evtchn_unmask`: one port.
    EvtchnOnePort { port: EvtchnPort } size 4
);
pod!(
    /// `struct evtchn_status`; `u0`/`u1` are the union `u`: unbound
    /// `{dom}`, interdomain `{dom, port}` (port at u1), pirq, virq.
    EvtchnStatus { dom: DomId, _pad: u16, port: EvtchnPort, status: u32, vcpu: u32, u0: u32, u1: u32 } size 24
);
pod!(
    /// `struct evtchn_bind_vcpu`.
    EvtchnBindVcpu { port: EvtchnPort, vcpu: u32 } size 8
);
pod!(
    /// `struct evtchn_reset`.
    EvtchnReset { dom: DomId } size 2
);
pod!(
    /// `struct evtchn_init_control` (FIFO ABI).
    EvtchnInitControl { control_gfn: u64, offset: u32, vcpu: u32, link_bits: u8, _pad: [u8; 7] } size 24
);
pod!(
    /// `struct evtchn_expand_array` (FIFO ABI).
    EvtchnExpandArray { array_gfn: u64 } size 8
);
pod!(
    /// `struct evtchn_set_priority` (FIFO ABI).
    EvtchnSetPriority { port: EvtchnPort, priority: u32 } size 8
);

const _: () = assert!(core::mem::offset_of!(EvtchnBindInterdomain, remote_port) == 4);
const _: () = assert!(core::mem::offset_of!(EvtchnStatus, port) == 4);
const _: () = assert!(core::mem::offset_of!(EvtchnStatus, status) == 8);
const _: () = assert!(core::mem::offset_of!(EvtchnStatus, u0) == 16);
const _: () = assert!(core::mem::offset_of!(EvtchnInitControl, link_bits) == 16);
