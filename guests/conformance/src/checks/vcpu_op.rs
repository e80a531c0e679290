//! `HYPERVISOR_vcpu_op(int cmd, unsigned int vcpuid, void *arg)`
//! (xen/arch/x86/domain.c `do_vcpu_op`, xen/common/domain.c
//! `common_vcpu_op`).
//!
//! The vCPU is looked up first: an id that is not one of the domain's
//! vCPUs is -ENOENT whatever the command. Then: VCPUOP_is_up gives 1 or 0,
//! VCPUOP_up of a running vCPU 0, timers -EINVAL below 1 ms, unknown
//! commands -ENOSYS. Not checked, deliberately: VCPUOP_down of vCPU 0 (the
//! last vCPU going down powers the domain off), VCPUOP_send_nmi with a NULL
//! argument (an NMI this kernel has no IDT for), setting timers that would
//! fire. VCPUOP_initialise of a running vCPU is in `risky`.

use abi::vcpu::*;
use abi::xen::HYPERVISOR_VCPU_OP as NR;

use super::*;
use crate::mem::{ARG, BUF, RUNSTATE, SCRATCH, VCPU_INFO};
use crate::suite::{Suite, args};
use crate::tap::Want;

/// vCPU ids no domain has (Xen's HVM limit is 128 vCPUs).
const NO_VCPUS: [u64; 4] = [128, 0x7fff, 0x7fff_ffff, 0xffff_ffff];

pub fn run(s: &mut Suite) {
    s.check(
        format_args!("vcpu_op(VCPUOP_is_up, 0, NULL)"),
        NR,
        args([VCPUOP_IS_UP, 0]),
        Want::Is(1),
    );
    s.check(
        format_args!("vcpu_op(VCPUOP_up, 0, NULL) [already up]"),
        NR,
        args([VCPUOP_UP, 0]),
        OK,
    );
    for vcpu in NO_VCPUS {
        // VCPUOP_down with a bad id is in `risky`.
        for (cmd, name) in [
            (VCPUOP_IS_UP, "VCPUOP_is_up"),
            (VCPUOP_UP, "VCPUOP_up"),
            (VCPUOP_GET_RUNSTATE_INFO, "VCPUOP_get_runstate_info"),
            (99, "99"),
        ] {
            s.check(
                format_args!("vcpu_op({name}, {vcpu:#x}, NULL) [no such vCPU]"),
                NR,
                args([cmd, vcpu]),
                ENOENT,
            );
        }
    }
    if s.is64() {
        s.check(
            format_args!("vcpu_op(VCPUOP_is_up, 0x100000000, NULL) [vcpuid is an unsigned int: 0]"),
            NR,
            args([VCPUOP_IS_UP, 1 << 32]),
            Want::Is(1),
        );
        s.check(
            format_args!("vcpu_op(0x100000000 | VCPUOP_is_up, 0, NULL) [cmd is an int]"),
            NR,
            args([(1 << 32) | VCPUOP_IS_UP, 0]),
            Want::Is(1),
        );
    }
    for cmd in (14..=20).chain([0xff, 0x7fff_ffff, 0xffff_ffff]) {
        s.check(
            format_args!("vcpu_op({cmd:#x}, 0, NULL) [no such command]"),
            NR,
            args([cmd, 0]),
            ENOSYS,
        );
    }

    s.check(
        format_args!("vcpu_op(VCPUOP_stop_periodic_timer, 0, NULL)"),
        NR,
        args([VCPUOP_STOP_PERIODIC_TIMER, 0]),
        OK,
    );
    s.check(
        format_args!("vcpu_op(VCPUOP_stop_singleshot_timer, 0, NULL)"),
        NR,
        args([VCPUOP_STOP_SINGLESHOT_TIMER, 0]),
        OK,
    );
    s.check(
        format_args!("vcpu_op(VCPUOP_send_nmi, 0, non-NULL)"),
        NR,
        args([VCPUOP_SEND_NMI, 0, SCRATCH.addr(ARG)]),
        EINVAL,
    );
    s.check(
        format_args!("vcpu_op(VCPUOP_get_physid, 0, buf) [vCPU 0 is not pinned]"),
        NR,
        args([VCPUOP_GET_PHYSID, 0, SCRATCH.addr(BUF)]),
        EINVAL,
    );
    s.check(
        format_args!("vcpu_op(VCPUOP_initialise, 0, NULL) [context read first]"),
        NR,
        args([VCPUOP_INITIALISE, 0]),
        EFAULT,
    );

    // Commands that read a struct: -EFAULT on a bad pointer.
    let reads: [(u64, &str, u64); 6] = [
        (VCPUOP_INITIALISE, "VCPUOP_initialise", 8),
        (VCPUOP_SET_PERIODIC_TIMER, "VCPUOP_set_periodic_timer", 8),
        (
            VCPUOP_SET_SINGLESHOT_TIMER,
            "VCPUOP_set_singleshot_timer",
            16,
        ),
        (VCPUOP_REGISTER_VCPU_INFO, "VCPUOP_register_vcpu_info", 16),
        (
            VCPUOP_REGISTER_RUNSTATE_MEMORY_AREA,
            "VCPUOP_register_runstate_memory_area",
            8,
        ),
        (
            VCPUOP_REGISTER_VCPU_TIME_MEMORY_AREA,
            "VCPUOP_register_vcpu_time_memory_area",
            8,
        ),
    ];
    for (cmd, name, len) in reads {
        for bad in s.bad_ptrs(len, false) {
            s.check(
                format_args!("vcpu_op({name}, 0, {bad})"),
                NR,
                args([cmd, 0, bad.addr]),
                EFAULT,
            );
        }
    }

    // Periodic timer: from 1 ms to STIME_DELTA_MAX (2^62 - 1) ns.
    for (period, what) in [
        (0u64, "0 ns"),
        (999_999, "999999 ns [under 1 ms]"),
        (1 << 62, "2^62 ns [over STIME_DELTA_MAX]"),
    ] {
        let arg = SCRATCH.put(ARG, &VcpuSetPeriodicTimer { period_ns: period });
        s.check(
            format_args!("vcpu_op(VCPUOP_set_periodic_timer, 0, {{{what}}})"),
            NR,
            args([VCPUOP_SET_PERIODIC_TIMER, 0, arg]),
            EINVAL,
        );
    }

    // Runstate and time areas: NULL unregisters; Xen does not check the
    // address until it writes there.
    for (cmd, name) in [
        (
            VCPUOP_REGISTER_RUNSTATE_MEMORY_AREA,
            "VCPUOP_register_runstate_memory_area",
        ),
        (
            VCPUOP_REGISTER_VCPU_TIME_MEMORY_AREA,
            "VCPUOP_register_vcpu_time_memory_area",
        ),
    ] {
        let arg = SCRATCH.put(ARG, &VcpuRegisterRunstateMemoryArea { addr: 0 });
        s.check(
            format_args!("vcpu_op({name}, 0, {{NULL}}) [unregisters]"),
            NR,
            args([cmd, 0, arg]),
            OK,
        );
    }

    // register_vcpu_info argument checks (nothing is registered by them).
    let free_gfn = s.ram_end_pfn + (1 << 20);
    let own_gfn = VCPU_INFO.addr(0) >> 12;
    for (mfn, offset, want, what) in [
        (
            own_gfn,
            4096 - 63,
            ENXIO,
            "offset 4033 [vcpu_info would cross the page]",
        ),
        (own_gfn, 2, ENXIO, "offset 2 [misaligned]"),
        (free_gfn, 0, EINVAL, "an unpopulated frame"),
    ] {
        let arg = SCRATCH.put(
            ARG,
            &VcpuRegisterVcpuInfo {
                mfn,
                offset,
                rsvd: 0,
            },
        );
        s.check(
            format_args!("vcpu_op(VCPUOP_register_vcpu_info, 0, {{{what}}})"),
            NR,
            args([VCPUOP_REGISTER_VCPU_INFO, 0, arg]),
            want,
        );
    }

    if s.is64() {
        SCRATCH.fill(BUF, 48, 0xaa);
        let got = s.check(
            format_args!("vcpu_op(VCPUOP_get_runstate_info, 0, buf)"),
            NR,
            args([VCPUOP_GET_RUNSTATE_INFO, 0, SCRATCH.addr(BUF)]),
            OK,
        );
        if got == 0 {
            let r = SCRATCH.get::<VcpuRunstateInfo>(BUF);
            s.tap.assert(
                format_args!("VCPUOP_get_runstate_info of the calling vCPU says RUNSTATE_running"),
                r.state == RUNSTATE_RUNNING,
                format_args!("state {}", r.state),
                format_args!("state 0"),
            );
        }
        for bad in s.bad_ptrs(48, true) {
            s.check(
                format_args!("vcpu_op(VCPUOP_get_runstate_info, 0, {bad})"),
                NR,
                args([VCPUOP_GET_RUNSTATE_INFO, 0, bad.addr]),
                EFAULT,
            );
        }
    }
}

/// Registers a runstate area, reads it, unregisters it.
pub fn run_state(s: &mut Suite) {
    if !s.is64() {
        return;
    }
    RUNSTATE.fill(0, 4096, 0xaa);
    let arg = SCRATCH.put(
        ARG,
        &VcpuRegisterRunstateMemoryArea {
            addr: RUNSTATE.addr(0),
        },
    );
    let got = s.check(
        format_args!("vcpu_op(VCPUOP_register_runstate_memory_area, 0, {{a page of its own}})"),
        NR,
        args([VCPUOP_REGISTER_RUNSTATE_MEMORY_AREA, 0, arg]),
        OK,
    );
    if got == 0 {
        let r = RUNSTATE.get::<VcpuRunstateInfo>(0);
        s.tap.assert(
            format_args!("the registered runstate area is filled at once, with RUNSTATE_running"),
            r.state == RUNSTATE_RUNNING,
            format_args!("state {:#x}", r.state),
            format_args!("state 0"),
        );
        // A 2 ms SCHEDOP_poll with no ports blocks the vCPU: Xen rewrites
        // the area when it stops and when it runs again.
        let poll = SCRATCH.put(
            ARG,
            &abi::sched::SchedPoll {
                ports: 0,
                nr_ports: 0,
                _pad: 0,
                timeout: guest_rt::timer::now_ns() + 2_000_000,
            },
        );
        s.call(abi::xen::HYPERVISOR_SCHED_OP, args([abi::sched::SCHEDOP_POLL, poll]));
        let after = RUNSTATE.get::<VcpuRunstateInfo>(0);
        let (blocked, before_blocked) = (after.time[RUNSTATE_BLOCKED as usize], r.time[RUNSTATE_BLOCKED as usize]);
        s.tap.assert(
            format_args!("after a 2 ms block the runstate area says running again, entered later, with the blocked time grown"),
            after.state == RUNSTATE_RUNNING
                && after.state_entry_time > r.state_entry_time
                && blocked >= before_blocked + 1_000_000,
            format_args!(
                "state {}, entered {} (was {}), blocked {} ns (was {})",
                after.state, after.state_entry_time, r.state_entry_time, blocked, before_blocked
            ),
            format_args!("state 0, entered later, blocked time grown by ~2 ms"),
        );
    }
    let arg = SCRATCH.put(ARG, &VcpuRegisterRunstateMemoryArea { addr: 0 });
    s.check(
        format_args!("vcpu_op(VCPUOP_register_runstate_memory_area, 0, {{NULL}}) [unregisters]"),
        NR,
        args([VCPUOP_REGISTER_RUNSTATE_MEMORY_AREA, 0, arg]),
        OK,
    );
}
