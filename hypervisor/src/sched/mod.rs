//! Which physical CPU runs which vCPU. Dom0's vCPU 0 runs on the boot CPU;
//! DomU vCPUs share the APs under the credit2-class policy of [`credit`]:
//! a vCPU is queued on [`runqueue`] until an AP admits it, then stays
//! resident on that AP (no migration yet) and runs there in slices, as
//! the scheduler ([`get`]) decides, with the other vCPUs resident there.
//!
//! Lock order: the domain table (`DOMAINS`), then the scheduler's lock
//! (held only for a decision or a parameter change), then [`params`]' (a
//! leaf).

#![forbid(unsafe_code)]

/// The credit2-class policy (weights, caps, affinity, slices).
pub mod credit;
pub mod kick;
pub mod params;
pub mod runqueue;

use spin::{Mutex, Once};

/// The scheduler of every CPU (one cpupool), made at boot once the CPUs
/// are counted: [`scheduler`].
static SCHED: Once<Mutex<credit::Credit2>> = Once::new();

/// The scheduler, for `ncpus` CPUs the first time it is asked for (boot
/// asks with the number of CPUs brought up; later calls get that one).
pub fn scheduler(ncpus: usize) -> &'static Mutex<credit::Credit2> {
    SCHED.call_once(|| Mutex::new(credit::Credit2::new(ncpus)))
}

/// The scheduler once boot has made it.
pub fn get() -> Option<&'static Mutex<credit::Credit2>> {
    SCHED.get()
}
