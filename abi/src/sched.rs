//! Mirrors xen/include/public/sched.h
//!
//! `HYPERVISOR_sched_op(cmd, arg)`: yield, block, shut down, poll.

use crate::xen::DomId;
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

// ` enum sched_op { // SCHEDOP_* => struct sched_*
/// Voluntarily yield the CPU. arg: NULL.
pub const SCHEDOP_YIELD: u64 = 0;
/// Block until an event is received. arg: NULL.
pub const SCHEDOP_BLOCK: u64 = 1;
/// Halt the calling domain with a reason. arg: [`SchedShutdown`].
pub const SCHEDOP_SHUTDOWN: u64 = 2;
/// Block until one of the given event channels is pending or the timeout
/// passes. arg: [`SchedPoll`].
pub const SCHEDOP_POLL: u64 = 3;
/// Shut down another domain (privileged). arg: [`SchedRemoteShutdown`].
pub const SCHEDOP_REMOTE_SHUTDOWN: u64 = 4;
/// Latch a shutdown code to be used when the domain shuts down. arg: [`SchedShutdown`].
pub const SCHEDOP_SHUTDOWN_CODE: u64 = 5;
/// Set up, poke or destroy a domain watchdog. arg: [`SchedWatchdog`].
pub const SCHEDOP_WATCHDOG: u64 = 6;
/// Override the current vCPU's affinity to one pCPU (privileged). arg: [`SchedPinOverride`].
pub const SCHEDOP_PIN_OVERRIDE: u64 = 7;
/// Watchdogs a domain may have at once (xen/include/xen/sched.h, not a
/// public header, but the ids `SCHEDOP_watchdog` hands out are `1..=` it).
pub const NR_DOMAIN_WATCHDOG_TIMERS: usize = 2;
// ` }

// ` enum sched_shutdown_reason { SHUTDOWN_* }
/// Domain exited normally. Clean up and kill.
pub const SHUTDOWN_POWEROFF: u32 = 0;
/// Clean up, kill, and then restart.
pub const SHUTDOWN_REBOOT: u32 = 1;
/// Clean up, save suspend info, kill.
pub const SHUTDOWN_SUSPEND: u32 = 2;
/// Tell the controller we've crashed.
pub const SHUTDOWN_CRASH: u32 = 3;
/// Restart because the watchdog time expired.
pub const SHUTDOWN_WATCHDOG: u32 = 4;
/// Domain asked to perform a 'soft reset'.
pub const SHUTDOWN_SOFT_RESET: u32 = 5;
/// Maximum valid shutdown reason.
pub const SHUTDOWN_MAX: u32 = 5;
// ` }

/// `struct sched_shutdown`, for `SCHEDOP_shutdown` and `SCHEDOP_shutdown_code`.
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
pub struct SchedShutdown {
    /// IN: `SHUTDOWN_*`.
    pub reason: u32,
}

const _: () = assert!(core::mem::size_of::<SchedShutdown>() == 4);

/// `struct sched_poll`, for `SCHEDOP_poll`.
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
pub struct SchedPoll {
    /// IN: guest handle (guest virtual address) of an `evtchn_port_t` array.
    pub ports: u64,
    /// IN: number of ports in the array.
    pub nr_ports: u32,
    /// C's implicit padding before `timeout`.
    pub _pad: u32,
    /// IN: absolute system time (ns) to give up at; 0 means never.
    pub timeout: u64,
}

const _: () = assert!(core::mem::size_of::<SchedPoll>() == 24);
const _: () = assert!(core::mem::offset_of!(SchedPoll, ports) == 0);
const _: () = assert!(core::mem::offset_of!(SchedPoll, nr_ports) == 8);
const _: () = assert!(core::mem::offset_of!(SchedPoll, timeout) == 16);

/// [`SchedPoll`] of a 32-bit guest: a 4-byte handle, and `timeout` only
/// 4-byte aligned.
#[repr(C, packed(4))]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
pub struct CompatSchedPoll {
    /// IN: guest handle of an `evtchn_port_t` array.
    pub ports: u32,
    pub nr_ports: u32,
    pub timeout: u64,
}

const _: () = assert!(core::mem::size_of::<CompatSchedPoll>() == 16);
const _: () = assert!(core::mem::offset_of!(CompatSchedPoll, ports) == 0);
const _: () = assert!(core::mem::offset_of!(CompatSchedPoll, nr_ports) == 4);
const _: () = assert!(core::mem::offset_of!(CompatSchedPoll, timeout) == 8);

/// `struct sched_remote_shutdown`, for `SCHEDOP_remote_shutdown`.
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
pub struct SchedRemoteShutdown {
    /// IN: the remote domain.
    pub domain_id: DomId,
    /// C's implicit padding before `reason`.
    pub _pad: u16,
    /// IN: `SHUTDOWN_*`.
    pub reason: u32,
}

const _: () = assert!(core::mem::size_of::<SchedRemoteShutdown>() == 8);
const _: () = assert!(core::mem::offset_of!(SchedRemoteShutdown, domain_id) == 0);
const _: () = assert!(core::mem::offset_of!(SchedRemoteShutdown, reason) == 4);

/// `struct sched_watchdog`, for `SCHEDOP_watchdog`.
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
pub struct SchedWatchdog {
    /// IN/OUT: watchdog id; 0 allocates a new one (returned).
    pub id: u32,
    /// IN: timeout in seconds; 0 destroys the watchdog.
    pub timeout: u32,
}

const _: () = assert!(core::mem::size_of::<SchedWatchdog>() == 8);
const _: () = assert!(core::mem::offset_of!(SchedWatchdog, id) == 0);
const _: () = assert!(core::mem::offset_of!(SchedWatchdog, timeout) == 4);

/// `struct sched_pin_override`, for `SCHEDOP_pin_override`.
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
pub struct SchedPinOverride {
    /// IN: the pCPU, or negative to end the override.
    pub pcpu: i32,
}

const _: () = assert!(core::mem::size_of::<SchedPinOverride>() == 4);
