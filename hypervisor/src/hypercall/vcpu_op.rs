//! `HYPERVISOR_vcpu_op` (vcpu.h): `(cmd, vcpuid, arg)`. A vcpuid the domain
//! does not have is -ENOENT, before anything else (Xen's `domain_vcpu`).
//!
//! | cmd | here |
//! |---|---|
//! | `VCPUOP_is_up` (3) | 1 or 0 |
//! | `VCPUOP_up` (1) | -EINVAL if never initialised; else up, and offered to the APs |
//! | `VCPUOP_down` (2) | marks it down |
//! | `VCPUOP_initialise` (0) | the context is read (-EFAULT); -EEXIST once initialised (vCPU 0 by the builder); a 32-bit context with paging off and flat CS starts the vCPU at its `eip` with its `ebx`, in the PVH boot state; others (paging, long mode, 64-bit) -EINVAL here |
//! | `VCPUOP_get_runstate_info` (4) | its runstate (running, runnable, blocked, offline: ns in each since it first ran) |
//! | `VCPUOP_register_runstate_memory_area` (5) | the runstate is written there now and each time the vCPU starts or stops running (a scheduler's switch; with `VMASST_TYPE_runstate_update_flag`, `XEN_RUNSTATE_UPDATE` marks the write); NULL unregisters |
//! | `VCPUOP_register_vcpu_info` (10) | offset <= 4096 - 64 and 8-aligned (-ENXIO), a RAM gfn (-EINVAL), once per vCPU (-EINVAL); the pvclock is written there |
//! | `VCPUOP_send_nmi` (11) | non-NULL -EINVAL; NULL -ENOSYS (no NMI injection yet) |
//! | `VCPUOP_get_physid` (12) | -EINVAL: vCPUs are not pinned |
//! | `VCPUOP_register_vcpu_time_memory_area` (13) | the pvclock is written there (NULL unregisters) |
//! | `VCPUOP_set_periodic_timer` (6) | 1 ms <= period <= STIME_DELTA_MAX (-EINVAL); VIRQ_TIMER every period |
//! | `VCPUOP_stop_periodic_timer` (7) | stops it |
//! | `VCPUOP_set_singleshot_timer` (8) | own vCPU only (-EINVAL); `VCPU_SSHOTTMR_future` with a past timeout -ETIME; VIRQ_TIMER at the timeout |
//! | `VCPUOP_stop_singleshot_timer` (9) | own vCPU only (-EINVAL); disarms it |
//!
//! `HYPERVISOR_set_timer_op(timeout)` (15) arms (0: disarms) the same one-shot timer.
//! Timers are checked at the host's 100 Hz tick: an event comes up to 10 ms late.
//! | other | -ENOSYS |

use abi::errno::Errno;
use abi::vcpu::*;
use abi::zerocopy::FromZeros;

use super::{Caller, Outcome, read_arg, write_arg};

/// Size of `struct vcpu_info` (xen.h).
const VCPU_INFO_SIZE: u32 = 64;

pub fn vcpu_op(caller: &mut impl Caller, cmd: u64, vcpuid: u64, arg: u64) -> Outcome {
    let now = caller.machine_time_ns();
    let nr_vcpus = caller.this().vcpus().len();
    let Some(id) = usize::try_from(vcpuid).ok().filter(|&i| i < nr_vcpus) else {
        return Outcome::err(Errno::ENOENT);
    };
    match cmd {
        VCPUOP_IS_UP => Outcome::Return(u64::from(caller.this().vcpus()[id].up)),
        VCPUOP_UP => {
            let v = &mut caller.this().vcpus()[id];
            // Xen: -EINVAL for a vCPU never initialised.
            if v.context.is_none() && !v.up {
                return Outcome::err(Errno::EINVAL);
            }
            v.up = true;
            caller.this().queue_runnable();
            Outcome::Return(0)
        }
        VCPUOP_DOWN => {
            caller.this().vcpus()[id].up = false;
            Outcome::Return(0)
        }
        VCPUOP_INITIALISE => match read_arg::<abi::hvm::hvm_vcpu::VcpuHvmContext>(caller, arg) {
            Err(e) => Outcome::err(e),
            Ok(_) if caller.this().vcpus()[id].context.is_some() || caller.this().vcpus()[id].up => Outcome::err(Errno::EEXIST),
            Ok(ctx) => match start_state(&ctx) {
                Ok(context) => {
                    caller.this().vcpus()[id].context = Some(context);
                    Outcome::Return(0)
                }
                Err(e) => Outcome::err(e),
            },
        },
        VCPUOP_REGISTER_RUNSTATE_MEMORY_AREA => match read_arg::<VcpuRegisterRunstateMemoryArea>(caller, arg) {
            Err(e) => Outcome::err(e),
            Ok(area) => {
                // Xen writes the area here and each time the vCPU starts or
                // stops running (the vCPU loop: `publish_runstate`). A bad
                // address is not an error, as in Xen; NULL unregisters.
                caller.this().vcpus()[id].runstate_area = (area.addr != 0).then_some(area.addr);
                if area.addr == 0 {
                    return Outcome::Return(0);
                }
                let r = caller.this().vcpus()[id].signals.runstate(now);
                let mut info = VcpuRunstateInfo::new_zeroed();
                (info.state, info.state_entry_time, info.time) = (r.state, r.entry_ns, r.time);
                let _ = write_arg(caller, area.addr, &info);
                Outcome::Return(0)
            }
        },
        VCPUOP_REGISTER_VCPU_TIME_MEMORY_AREA => match read_arg::<VcpuRegisterTimeMemoryArea>(caller, arg) {
            Err(e) => Outcome::err(e),
            Ok(area) if area.addr == 0 => Outcome::Return(0),
            Ok(area) => {
                let record = caller.pvclock();
                let _ = write_arg(caller, area.addr, &record);
                Outcome::Return(0)
            }
        },
        VCPUOP_SEND_NMI if arg != 0 => Outcome::err(Errno::EINVAL),
        VCPUOP_GET_PHYSID => Outcome::err(Errno::EINVAL),
        VCPUOP_GET_RUNSTATE_INFO => {
            let r = caller.this().vcpus()[id].signals.runstate(now);
            let written = if caller.compat() {
                let mut info = CompatVcpuRunstateInfo::new_zeroed();
                (info.state, info.state_entry_time, info.time) = (r.state, r.entry_ns, r.time);
                write_arg(caller, arg, &info)
            } else {
                let mut info = VcpuRunstateInfo::new_zeroed();
                (info.state, info.state_entry_time, info.time) = (r.state, r.entry_ns, r.time);
                write_arg(caller, arg, &info)
            };
            match written {
                Ok(()) => Outcome::Return(0),
                Err(e) => Outcome::err(e),
            }
        }
        VCPUOP_REGISTER_VCPU_INFO => {
            let info: VcpuRegisterVcpuInfo = match read_arg(caller, arg) {
                Ok(i) => i,
                Err(e) => return Outcome::err(e),
            };
            if info.offset > 4096 - VCPU_INFO_SIZE || !info.offset.is_multiple_of(8) {
                return Outcome::err(Errno::ENXIO);
            }
            match caller.this().register_vcpu_info(id, info.mfn, info.offset) {
                Ok(()) => Outcome::Return(0),
                Err(e) => Outcome::err(e),
            }
        }
        VCPUOP_SET_PERIODIC_TIMER => match read_arg::<VcpuSetPeriodicTimer>(caller, arg) {
            Err(e) => Outcome::err(e),
            Ok(t) if !(MILLISECOND..=STIME_DELTA_MAX).contains(&t.period_ns) => Outcome::err(Errno::EINVAL),
            Ok(t) => {
                caller.this().vcpus()[id].signals.set_periodic(t.period_ns, now);
                Outcome::Return(0)
            }
        },
        VCPUOP_STOP_PERIODIC_TIMER => {
            caller.this().vcpus()[id].signals.set_periodic(0, now);
            Outcome::Return(0)
        }
        VCPUOP_SET_SINGLESHOT_TIMER | VCPUOP_STOP_SINGLESHOT_TIMER if vcpuid != u64::from(caller.vcpu_id()) => {
            Outcome::err(Errno::EINVAL)
        }
        VCPUOP_SET_SINGLESHOT_TIMER => {
            let timer = if caller.compat() {
                read_arg::<CompatVcpuSetSingleshotTimer>(caller, arg).map(|t| (t.timeout_abs_ns, t.flags))
            } else {
                read_arg::<VcpuSetSingleshotTimer>(caller, arg).map(|t| (t.timeout_abs_ns, t.flags))
            };
            match timer {
                Err(e) => Outcome::err(e),
                Ok((timeout, flags)) if flags & VCPU_SSHOTTMR_FUTURE != 0 && timeout < now => Outcome::err(Errno::ETIME),
                Ok((timeout, _)) => {
                    caller.this().vcpus()[id].signals.set_singleshot(timeout.max(1));
                    Outcome::Return(0)
                }
            }
        }
        VCPUOP_STOP_SINGLESHOT_TIMER => {
            caller.this().vcpus()[id].signals.set_singleshot(0);
            Outcome::Return(0)
        }
        _ => Outcome::err(Errno::ENOSYS),
    }
}

const MILLISECOND: u64 = 1_000_000;
/// Xen's `STIME_DELTA_MAX`: the longest period a timer may have.
const STIME_DELTA_MAX: u64 = u64::MAX >> 2;

/// `HYPERVISOR_set_timer_op(s_time_t timeout)`: the caller's one-shot timer
/// at absolute system time `timeout` (0 disarms). A timeout more than 2^50
/// ns ahead (a wrapped Linux jiffy) fires in 100 ms instead, as in Xen.
pub fn set_timer_op(caller: &mut impl Caller, timeout: u64) -> Outcome {
    let now = caller.machine_time_ns();
    let id = caller.vcpu_id() as usize;
    let deadline = match timeout {
        0 => 0,
        t if t > now && (t - now) >> 50 != 0 => now + 100 * MILLISECOND,
        t => t,
    };
    if let Some(v) = caller.this().vcpus().get(id) {
        v.signals.set_singleshot(deadline);
    }
    Outcome::Return(0)
}

/// The start state a `vcpu_hvm_context` asks for, if it is one a vCPU here
/// can start in: 32-bit protected mode with paging off (the PVH boot state:
/// flat segments, at `eip` with `ebx`, as the BSP starts). Paging on, long
/// or compatibility mode and 64-bit contexts are -EINVAL here (Xen takes
/// them; Linux's PVH and ours start secondary vCPUs this way or by
/// INIT-SIPI).
fn start_state(ctx: &abi::hvm::hvm_vcpu::VcpuHvmContext) -> Result<crate::domain::object::VcpuContext, Errno> {
    const CR0_PE: u32 = 1 << 0;
    const CR0_PG: u32 = 1 << 31;
    const EFER_LME: u64 = 1 << 8;
    if ctx.mode != abi::hvm::hvm_vcpu::VCPU_HVM_MODE_32B {
        return Err(Errno::EINVAL);
    }
    let r = ctx.x86_32();
    if r.cr0 & CR0_PE == 0 || r.cr0 & CR0_PG != 0 || r.efer & EFER_LME != 0 || r.cs_base != 0 {
        return Err(Errno::EINVAL);
    }
    let mut context = crate::domain::object::VcpuContext::default();
    (context.regs.rip, context.regs.rbx) = (u64::from(r.eip), u64::from(r.ebx));
    Ok(context)
}

#[cfg(test)]
mod tests {
    use super::super::fake::FakeCaller;
    use super::*;

    #[test]
    fn unknown_vcpus_are_enoent_whatever_the_command() {
        let mut c = FakeCaller::new(64);
        for cmd in [VCPUOP_IS_UP, VCPUOP_UP, VCPUOP_REGISTER_VCPU_INFO, 99] {
            assert_eq!(vcpu_op(&mut c, cmd, 2, 0), Outcome::err(Errno::ENOENT));
            assert_eq!(vcpu_op(&mut c, cmd, u64::MAX, 0), Outcome::err(Errno::ENOENT));
        }
    }

    #[test]
    fn up_down_and_is_up() {
        let mut c = FakeCaller::new(256);
        assert_eq!(vcpu_op(&mut c, VCPUOP_IS_UP, 0, 0), Outcome::Return(1));
        assert_eq!(vcpu_op(&mut c, VCPUOP_IS_UP, 1, 0), Outcome::Return(0));
        assert_eq!(vcpu_op(&mut c, VCPUOP_UP, 1, 0), Outcome::err(Errno::EINVAL), "never initialised");
        use abi::hvm::hvm_vcpu::{VcpuHvmContext, VcpuHvmX86_32};
        let paging = VcpuHvmX86_32 { cr0: 0x8000_0001, eip: 0x1000, ..Default::default() };
        c.put(0, &VcpuHvmContext::new_32(&paging));
        assert_eq!(vcpu_op(&mut c, VCPUOP_INITIALISE, 1, 0), Outcome::err(Errno::EINVAL), "paging on: not a start state here");
        c.put(0, &VcpuHvmContext::new_64(&Default::default()));
        assert_eq!(vcpu_op(&mut c, VCPUOP_INITIALISE, 1, 0), Outcome::err(Errno::EINVAL), "64-bit: not here");
        let flat = VcpuHvmX86_32 { cr0: 0x11, eip: 0x1000, ebx: 7, ..Default::default() };
        c.put(0, &VcpuHvmContext::new_32(&flat));
        assert_eq!(vcpu_op(&mut c, VCPUOP_INITIALISE, 1, 0), Outcome::Return(0));
        assert_eq!(c.this().vcpus()[1].context.map(|x| (x.regs.rip, x.regs.rbx)), Some((0x1000, 7)));
        assert_eq!(vcpu_op(&mut c, VCPUOP_INITIALISE, 1, 0), Outcome::err(Errno::EEXIST), "once");
        assert_eq!(vcpu_op(&mut c, VCPUOP_UP, 1, 0), Outcome::Return(0));
        assert_eq!(vcpu_op(&mut c, VCPUOP_IS_UP, 1, 0), Outcome::Return(1));
        assert_eq!(vcpu_op(&mut c, VCPUOP_DOWN, 1, 0), Outcome::Return(0));
        assert_eq!(vcpu_op(&mut c, VCPUOP_IS_UP, 1, 0), Outcome::Return(0));
        assert_eq!(vcpu_op(&mut c, VCPUOP_INITIALISE, 0, 0), Outcome::err(Errno::EEXIST), "context readable, vCPU exists");
    }

    #[test]
    fn register_vcpu_info_checks_offset_and_pointer() {
        let mut c = FakeCaller::new(64);
        let mut info = VcpuRegisterVcpuInfo::new_zeroed();
        (info.mfn, info.offset) = (0x120, 4096 - 63);
        c.put(0, &info);
        assert_eq!(vcpu_op(&mut c, VCPUOP_REGISTER_VCPU_INFO, 0, 0), Outcome::err(Errno::ENXIO));
        info.offset = 2;
        c.put(0, &info);
        assert_eq!(vcpu_op(&mut c, VCPUOP_REGISTER_VCPU_INFO, 0, 0), Outcome::err(Errno::ENXIO), "misaligned");
        info.mfn = 0x5000;
        info.offset = 64;
        c.put(0, &info);
        assert_eq!(vcpu_op(&mut c, VCPUOP_REGISTER_VCPU_INFO, 0, 0), Outcome::err(Errno::EINVAL), "not RAM");
        info.mfn = 0x120;
        info.offset = 64;
        c.put(0, &info);
        assert_eq!(vcpu_op(&mut c, VCPUOP_REGISTER_VCPU_INFO, 0, 0), Outcome::Return(0));
        assert_eq!(c.dom(0).vcpus[0].vcpu_info, Some((0x120, 64)));
        assert_eq!(vcpu_op(&mut c, VCPUOP_REGISTER_VCPU_INFO, 0, 0), Outcome::err(Errno::EINVAL), "only once");
        assert_eq!(vcpu_op(&mut c, VCPUOP_REGISTER_VCPU_INFO, 0, 60), Outcome::err(Errno::EFAULT));
    }

    #[test]
    fn runstate_info_reports_the_signals_runstate() {
        let mut c = FakeCaller::new(128);
        c.this().vcpus()[0].signals.started(1000);
        assert_eq!(vcpu_op(&mut c, VCPUOP_GET_RUNSTATE_INFO, 0, 0), Outcome::Return(0));
        let info = c.get::<VcpuRunstateInfo>(0);
        assert_eq!((info.state, info.state_entry_time, info.time), (RUNSTATE_RUNNING, 1000, [4000, 0, 0, 0]), "running since 1000, asked at 5000");
        assert_eq!(vcpu_op(&mut c, VCPUOP_GET_RUNSTATE_INFO, 0, 100), Outcome::err(Errno::EFAULT));
    }

    #[test]
    fn runstate_and_time_areas_are_written_where_registered() {
        let mut c = FakeCaller::new(256);
        c.this().vcpus()[0].signals.started(1000);
        c.put(0, &VcpuRegisterRunstateMemoryArea { addr: 64 });
        assert_eq!(vcpu_op(&mut c, VCPUOP_REGISTER_RUNSTATE_MEMORY_AREA, 0, 0), Outcome::Return(0));
        assert_eq!(c.get::<VcpuRunstateInfo>(64).state_entry_time, 1000);
        c.put(0, &VcpuRegisterTimeMemoryArea { addr: 0 });
        assert_eq!(vcpu_op(&mut c, VCPUOP_REGISTER_VCPU_TIME_MEMORY_AREA, 0, 0), Outcome::Return(0));
        assert_eq!(vcpu_op(&mut c, VCPUOP_REGISTER_VCPU_TIME_MEMORY_AREA, 0, 250), Outcome::err(Errno::EFAULT));
        assert_eq!(vcpu_op(&mut c, VCPUOP_INITIALISE, 0, 200), Outcome::err(Errno::EFAULT), "context read first");
        assert_eq!(vcpu_op(&mut c, VCPUOP_GET_PHYSID, 0, 0), Outcome::err(Errno::EINVAL));
    }

    #[test]
    fn timers_check_their_arguments_and_arm_the_signals() {
        let mut c = FakeCaller::new(64);
        for period in [0, 999_999, 1 << 62] {
            c.put(0, &VcpuSetPeriodicTimer { period_ns: period });
            assert_eq!(vcpu_op(&mut c, VCPUOP_SET_PERIODIC_TIMER, 0, 0), Outcome::err(Errno::EINVAL), "{period}");
        }
        c.put(0, &VcpuSetPeriodicTimer { period_ns: 10_000_000 });
        assert_eq!(vcpu_op(&mut c, VCPUOP_SET_PERIODIC_TIMER, 0, 0), Outcome::Return(0));
        assert_eq!(c.dom(0).vcpus[0].signals.period(), 10_000_000);
        assert_eq!(vcpu_op(&mut c, VCPUOP_STOP_PERIODIC_TIMER, 0, 0), Outcome::Return(0));
        assert_eq!(c.dom(0).vcpus[0].signals.period(), 0);
        assert_eq!(vcpu_op(&mut c, VCPUOP_SET_PERIODIC_TIMER, 0, 60), Outcome::err(Errno::EFAULT));

        let shot = |timeout_abs_ns, flags| VcpuSetSingleshotTimer { timeout_abs_ns, flags, _pad: 0 };
        c.put(0, &shot(4000, VCPU_SSHOTTMR_FUTURE));
        assert_eq!(vcpu_op(&mut c, VCPUOP_SET_SINGLESHOT_TIMER, 0, 0), Outcome::err(Errno::ETIME), "now is 5000");
        assert_eq!(vcpu_op(&mut c, VCPUOP_SET_SINGLESHOT_TIMER, 1, 0), Outcome::err(Errno::EINVAL), "not its own vCPU");
        assert_eq!(vcpu_op(&mut c, VCPUOP_STOP_SINGLESHOT_TIMER, 1, 0), Outcome::err(Errno::EINVAL));
        c.put(0, &shot(9000, VCPU_SSHOTTMR_FUTURE));
        assert_eq!(vcpu_op(&mut c, VCPUOP_SET_SINGLESHOT_TIMER, 0, 0), Outcome::Return(0));
        assert_eq!(c.dom(0).vcpus[0].signals.singleshot(), 9000);
        assert_eq!(vcpu_op(&mut c, VCPUOP_STOP_SINGLESHOT_TIMER, 0, 0), Outcome::Return(0));
        assert_eq!(c.dom(0).vcpus[0].signals.singleshot(), 0);
        assert_eq!(vcpu_op(&mut c, VCPUOP_SET_SINGLESHOT_TIMER, 0, 60), Outcome::err(Errno::EFAULT));

        assert_eq!(set_timer_op(&mut c, 7000), Outcome::Return(0));
        assert_eq!(c.dom(0).vcpus[0].signals.singleshot(), 7000);
        assert_eq!(set_timer_op(&mut c, 5000 + (1 << 51)), Outcome::Return(0));
        assert_eq!(c.dom(0).vcpus[0].signals.singleshot(), 5000 + 100_000_000, "wrapped timeouts fire in 100 ms");
        assert_eq!(set_timer_op(&mut c, 0), Outcome::Return(0));
        assert_eq!(c.dom(0).vcpus[0].signals.singleshot(), 0);
    }
}
