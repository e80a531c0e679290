//! Mirrors xen/include/public/io/console.h
//!
//! The PV console: one page the toolstack gives the guest
//! (`HVM_PARAM_CONSOLE_PFN`) holding two byte rings with free-running
//! 32-bit indices (`XENCONS_RING_IDX`); a slot is `idx & (size - 1)`
//! (`MASK_XENCONS_IDX`). The guest produces into `out` and consumes `in`;
//! the console backend (xenconsoled, here Dom0's shell) does the reverse.
//! Each side notifies the other on the event channel in
//! `HVM_PARAM_CONSOLE_EVTCHN`.

use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

/// `XENCONS_RING_IDX`.
pub type XenconsRingIdx = u32;

/// Bytes in the `in` ring (backend to guest).
pub const XENCONS_IN_SIZE: u32 = 1024;
/// Bytes in the `out` ring (guest to backend).
pub const XENCONS_OUT_SIZE: u32 = 2048;

/// `struct xencons_interface`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
pub struct XenconsInterface {
    pub r#in: [u8; XENCONS_IN_SIZE as usize],
    pub out: [u8; XENCONS_OUT_SIZE as usize],
    pub in_cons: XenconsRingIdx,
    pub in_prod: XenconsRingIdx,
    pub out_cons: XenconsRingIdx,
    pub out_prod: XenconsRingIdx,
}

const _: () = assert!(core::mem::size_of::<XenconsInterface>() == 3088);
const _: () = assert!(core::mem::offset_of!(XenconsInterface, out) == 1024);
const _: () = assert!(core::mem::offset_of!(XenconsInterface, in_cons) == 3072);
const _: () = assert!(core::mem::offset_of!(XenconsInterface, in_prod) == 3076);
const _: () = assert!(core::mem::offset_of!(XenconsInterface, out_cons) == 3080);
const _: () = assert!(core::mem::offset_of!(XenconsInterface, out_prod) == 3084);
// MASK_XENCONS_IDX needs power-of-two sizes.
const _: () = assert!(XENCONS_IN_SIZE.is_power_of_two() && XENCONS_OUT_SIZE.is_power_of_two());
