//! The check groups, one module per hypercall family. Every expectation is
//! what Xen 4.17 returns to a PVH guest (HVM hypercall table, dummy XSM
//! policy, default build options), for Dom0 or a DomU as `Suite` says; a
//! check never asks what our hypervisor happens to do.
//!
//! Order matters: groups that change this domain's state for good
//! (shared_info mapped, event channels, runstate area) run after the ones
//! that only look, and `risky` (checks that would hang or kill the domain
//! on a hypervisor that gets them wrong) runs last.

use abi::errno::Errno;

use crate::suite::Suite;
use crate::tap::Want;

mod abi32;
mod apic;
mod console_io;
mod cpuid;
mod domctl;
mod event_channel;
mod grant_table;
mod hvm_op;
mod memory_op;
mod misc;
mod numbers;
mod physdev;
mod platform;
mod risky;
mod sched_op;
mod vcpu_op;
mod xen_version;

pub const EPERM: Want = Want::Err(Errno::EPERM);
pub const ENOENT: Want = Want::Err(Errno::ENOENT);
pub const ESRCH: Want = Want::Err(Errno::ESRCH);
pub const E2BIG: Want = Want::Err(Errno::E2BIG);
pub const EACCES: Want = Want::Err(Errno::EACCES);
pub const EFAULT: Want = Want::Err(Errno::EFAULT);
pub const EEXIST: Want = Want::Err(Errno::EEXIST);
pub const ENXIO: Want = Want::Err(Errno::ENXIO);
pub const EINVAL: Want = Want::Err(Errno::EINVAL);
pub const EDOM: Want = Want::Err(Errno::EDOM);
pub const ENOSYS: Want = Want::Err(Errno::ENOSYS);
pub const ENODATA: Want = Want::Err(Errno::ENODATA);
pub const ENOBUFS: Want = Want::Err(Errno::ENOBUFS);
pub const EOPNOTSUPP: Want = Want::Err(Errno::EOPNOTSUPP);
pub const OK: Want = Want::Is(0);

/// A named group of checks.
type Group = (&'static str, fn(&mut Suite));

/// Runs every group for the suite's mode.
pub fn run(s: &mut Suite) {
    let groups: &[Group] = &[
        ("cpuid", cpuid::run),
        ("cpu platform: ports, cpuid policy, MTRRs, PAT, CR4/EFER/DR rules", platform::run),
        ("hypercall numbers", numbers::run),
        ("32-bit register convention", abi32::run),
        ("xen_version", xen_version::run),
        ("console_io", console_io::run),
        ("sched_op", sched_op::run),
        ("memory_op", memory_op::run),
        ("hvm_op", hvm_op::run),
        ("vcpu_op", vcpu_op::run),
        ("event_channel_op", event_channel::run),
        ("grant_table_op", grant_table::run),
        ("physdev_op", physdev::run),
        ("domctl, sysctl, platform_op", domctl::run),
        ("other hypercalls", misc::run),
        ("memory_op state changes", memory_op::run_state),
        ("vcpu_op state changes", vcpu_op::run_state),
        ("event channel lifecycle", event_channel::run_state),
        ("local APIC", apic::run),
        ("calls that hang or kill a domain when wrong", risky::run),
    ];
    for (name, group) in groups {
        s.tap.note(format_args!("{name}"));
        crate::mem::SCRATCH.clear();
        group(s);
    }
}
