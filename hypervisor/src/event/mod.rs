//! Event channels, Xen's 2-level ABI: the per-domain port table
//! ([`channels`]), the pending/mask/selector bits a guest shares with the
//! hypervisor ([`two_level`]), and the per-vCPU signals a vCPU loop polls
//! lock-free: upcall owed, timers ([`signals`]).
//!
//! The FIFO ABI is not implemented: `EVTCHNOP_init_control` checks its
//! arguments and answers -ENOSYS, so guests (Linux) fall back to 2-level.

#![forbid(unsafe_code)]

pub mod channels;
pub mod signals;
pub mod two_level;
