//! Checks last in line: on Xen they return at once, but a hypervisor that
//! gets them wrong could block this vCPU for good, pause it, take its only
//! vCPU down or overwrite its state, which would end the suite. Running them
//! last keeps every other result.

use abi::sched::{SCHEDOP_POLL, SchedPoll};
use abi::vcpu::{VCPUOP_DOWN, VCPUOP_INITIALISE};
use abi::xen::{HYPERVISOR_DOMCTL, HYPERVISOR_SCHED_OP, HYPERVISOR_VCPU_OP};

use super::domctl::domctl_op;
use super::*;
use crate::mem::{ARG, BUF, SCRATCH};
use crate::suite::{Suite, args};
use crate::tap::Want;
use abi::domctl::XEN_DOMCTL_PAUSEDOMAIN;

pub fn run(s: &mut Suite) {
    // VCPUOP_down of a vCPU that does not exist: the lookup fails first.
    for vcpu in [128u64, 0xffff_ffff] {
        s.check(
            format_args!("vcpu_op(VCPUOP_down, {vcpu:#x}, NULL) [no such vCPU]"),
            HYPERVISOR_VCPU_OP,
            args([VCPUOP_DOWN, vcpu]),
            ENOENT,
        );
    }

    // VCPUOP_initialise of vCPU 0, which is running: -EEXIST, nothing loaded.
    SCRATCH.fill(BUF, 0x800, 0);
    s.check(
        format_args!(
            "vcpu_op(VCPUOP_initialise, 0, {{zeroed context}}) [vCPU 0 is already initialised]"
        ),
        HYPERVISOR_VCPU_OP,
        args([VCPUOP_INITIALISE, 0, SCRATCH.addr(BUF)]),
        EEXIST,
    );

    // A domain cannot pause itself through domctl.
    if s.privileged {
        let arg = SCRATCH.put(ARG, &domctl_op(XEN_DOMCTL_PAUSEDOMAIN, s.domid));
        s.check(
            format_args!("domctl({{pausedomain, itself}}) [no domain_pause of itself]"),
            HYPERVISOR_DOMCTL,
            args([arg]),
            EINVAL,
        );
    }

    // SCHEDOP_poll of one port from an unreadable list: -EFAULT (0 if an
    // event is already pending for this vCPU: Xen looks at that first).
    if s.is64() {
        let poll = SCRATCH.put(
            ARG,
            &SchedPoll {
                ports: 0,
                nr_ports: 1,
                _pad: 0,
                timeout: 0,
            },
        );
        s.check(
            format_args!("sched_op(SCHEDOP_poll, {{1 port at NULL}})"),
            HYPERVISOR_SCHED_OP,
            args([SCHEDOP_POLL, poll]),
            Want::AnyOf(&[EFAULT, OK]),
        );
    }
}
