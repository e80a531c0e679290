//! `HYPERVISOR_sched_op(int cmd, void *arg)` (xen/common/sched/core.c).
//!
//! Every command with an argument copies it in first (-EFAULT). Not checked
//! here, deliberately: SCHEDOP_block (may never return without an event),
//! SCHEDOP_shutdown with a readable argument (Xen shuts down whatever the
//! reason), SCHEDOP_remote_shutdown of this domain, allocating a watchdog
//! (it would kill this domain). SCHEDOP_poll that could block is in
//! `risky`.

use abi::sched::*;
use abi::xen::HYPERVISOR_SCHED_OP as NR;

use super::*;
use crate::mem::{ARG, SCRATCH};
use crate::suite::{Suite, args};

const WITH_ARG: &[(u64, &str, u64)] = &[
    (SCHEDOP_SHUTDOWN, "SCHEDOP_shutdown", 4),
    (SCHEDOP_POLL, "SCHEDOP_poll", 24),
    (SCHEDOP_REMOTE_SHUTDOWN, "SCHEDOP_remote_shutdown", 8),
    (SCHEDOP_SHUTDOWN_CODE, "SCHEDOP_shutdown_code", 4),
    (SCHEDOP_WATCHDOG, "SCHEDOP_watchdog", 8),
];

pub fn run(s: &mut Suite) {
    s.check(
        format_args!("sched_op(SCHEDOP_yield, NULL)"),
        NR,
        args([SCHEDOP_YIELD]),
        OK,
    );
    if s.is64() {
        s.check(
            format_args!("sched_op(0x100000000, NULL) [cmd is an int: SCHEDOP_yield]"),
            NR,
            args([1 << 32]),
            OK,
        );
    }
    for &(cmd, name, len) in WITH_ARG {
        for bad in s.bad_ptrs(len, false) {
            s.check(
                format_args!("sched_op({name}, {bad})"),
                NR,
                args([cmd, bad.addr]),
                EFAULT,
            );
        }
    }

    let arg = SCRATCH.put(
        ARG,
        &SchedShutdown {
            reason: SHUTDOWN_POWEROFF,
        },
    );
    s.check(
        format_args!(
            "sched_op(SCHEDOP_shutdown_code, {{SHUTDOWN_poweroff}}) [latches the code only]"
        ),
        NR,
        args([SCHEDOP_SHUTDOWN_CODE, arg]),
        OK,
    );

    // 64-bit layout only: a 32-bit caller's struct has a 4-byte handle, and
    // nr_ports 0 with no timeout would block for good.
    if s.is64() {
        for nr_ports in [129, u32::MAX] {
            let poll = SCRATCH.put(
                ARG,
                &SchedPoll {
                    ports: 0,
                    nr_ports,
                    _pad: 0,
                    timeout: 0,
                },
            );
            s.check(
                format_args!("sched_op(SCHEDOP_poll, {{nr_ports = {nr_ports:#x}}}) [limit 128]"),
                NR,
                args([SCHEDOP_POLL, poll]),
                EINVAL,
            );
        }
    }

    for (domid, what) in Suite::NO_DOMAINS {
        let arg = SCRATCH.put(
            ARG,
            &SchedRemoteShutdown {
                domain_id: abi::xen::DomId(domid),
                _pad: 0,
                reason: SHUTDOWN_POWEROFF,
            },
        );
        s.check(
            format_args!("sched_op(SCHEDOP_remote_shutdown, {{{what}}})"),
            NR,
            args([SCHEDOP_REMOTE_SHUTDOWN, arg]),
            ESRCH,
        );
    }

    // Watchdog ids are 1..=NR_DOMAIN_WATCHDOG_TIMERS (2); none is in use.
    for (id, timeout) in [(1u32, 0u32), (2, 0), (3, 0), (1, 10), (0xffff_ffff, 0)] {
        let arg = SCRATCH.put(ARG, &SchedWatchdog { id, timeout });
        s.check(
            format_args!(
                "sched_op(SCHEDOP_watchdog, {{id {id:#x}, timeout {timeout}}}) [no such watchdog]"
            ),
            NR,
            args([SCHEDOP_WATCHDOG, arg]),
            EINVAL,
        );
    }

    if s.hwdom {
        for bad in s.bad_ptrs(4, false) {
            s.check(
                format_args!("sched_op(SCHEDOP_pin_override, {bad})"),
                NR,
                args([SCHEDOP_PIN_OVERRIDE, bad.addr]),
                EFAULT,
            );
        }
        for (pcpu, what) in [
            (i32::MAX, "pcpu 0x7fffffff (>= NR_CPUS)"),
            (-1, "pcpu -1 with no override active"),
        ] {
            let arg = SCRATCH.put(ARG, &SchedPinOverride { pcpu });
            s.check(
                format_args!("sched_op(SCHEDOP_pin_override, {{{what}}})"),
                NR,
                args([SCHEDOP_PIN_OVERRIDE, arg]),
                EINVAL,
            );
        }
    } else {
        s.check(
            format_args!("sched_op(SCHEDOP_pin_override, NULL) from a DomU"),
            NR,
            args([SCHEDOP_PIN_OVERRIDE]),
            EPERM,
        );
    }

    for cmd in (8..=16).chain([0x7fff_ffff, 0xffff_ffff]) {
        s.check(
            format_args!("sched_op({cmd:#x}, NULL) [no such command]"),
            NR,
            args([cmd]),
            ENOSYS,
        );
    }
}
