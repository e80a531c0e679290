//! `HYPERVISOR_sched_op` (sched.h).
//!
//! | cmd | here |
//! |---|---|
//! | `SCHEDOP_yield` (0) | gives up the CPU, returns 0 |
//! | `SCHEDOP_block` (1) | waits for the next interrupt, returns 0 |
//! | `SCHEDOP_shutdown` (2) | ends the domain with the reason; bad reason -EINVAL |
//! | `SCHEDOP_poll` (3) | at most 128 ports (-EINVAL), each readable (-EFAULT) and a 2-level port (< 4096, -EINVAL); then returns at once if one is pending, else blocks until one is or the timeout passes |
//! | `SCHEDOP_remote_shutdown` (4) | Dom0 only; -ESRCH for no such domain |
//! | `SCHEDOP_shutdown_code` (5) | records the reason reported at a later shutdown |
//! | `SCHEDOP_watchdog` (6) | id 0: a free watchdog of the domain's 2 (`NR_DOMAIN_WATCHDOG_TIMERS`) set to expire in `timeout` s, its id returned (-ENOSPC: none free); id 1..=2 in use: re-armed, or freed with timeout 0; other ids -EINVAL |
//! | `SCHEDOP_pin_override` (7) | Dom0 only (-EPERM); pCPU 0 (where Dom0 runs) 0; ending no override or pCPU >= CPUs -EINVAL; other pCPUs -EBUSY |
//! | other | -ENOSYS |
//!
//! Watchdogs are deadlines in Xen system time kept with the domain; the
//! vCPU loop compares them with the clock on every host timer tick (and
//! when a blocked vCPU wakes) and shuts the domain down with
//! `SHUTDOWN_watchdog` once one has passed ([`watchdog_expired`]), as Xen's
//! timer callback does.

use abi::errno::Errno;
use abi::sched::{
    SCHEDOP_BLOCK, SCHEDOP_PIN_OVERRIDE, SCHEDOP_POLL, SCHEDOP_REMOTE_SHUTDOWN, SCHEDOP_SHUTDOWN, SCHEDOP_SHUTDOWN_CODE,
    SCHEDOP_WATCHDOG, SCHEDOP_YIELD, SHUTDOWN_MAX, SchedPinOverride, SchedPoll, CompatSchedPoll, SchedRemoteShutdown,
    SchedShutdown, SchedWatchdog,
};

/// Most ports one SCHEDOP_poll may wait on (Xen's limit).
const POLL_MAX_PORTS: u32 = 128;

/// Waits on up to 128 ports (each below the ABI's limit, -EINVAL): at once
/// if one is pending, else until one is or the timeout passes.
fn poll(caller: &mut impl Caller, arg: u64) -> Outcome {
    let p = if caller.compat() {
        read_arg::<CompatSchedPoll>(caller, arg)
            .map(|c| SchedPoll { ports: c.ports.into(), nr_ports: c.nr_ports, _pad: 0, timeout: c.timeout })
    } else {
        read_arg::<SchedPoll>(caller, arg)
    };
    let p = match p {
        Ok(p) => p,
        Err(e) => return Outcome::err(e),
    };
    if p.nr_ports > POLL_MAX_PORTS {
        return Outcome::err(Errno::EINVAL);
    }
    let limit = caller.this().event_words().nr_channels();
    let mut ports = alloc::vec::Vec::with_capacity(p.nr_ports as usize);
    for i in 0..u64::from(p.nr_ports) {
        match read_arg::<u32>(caller, p.ports.wrapping_add(i * 4)) {
            Err(e) => return Outcome::err(e),
            Ok(port) if port >= limit => return Outcome::err(Errno::EINVAL),
            Ok(port) => ports.push(port),
        }
    }
    let vcpu = caller.vcpu_id() as usize;
    let d = caller.this();
    if ports.iter().any(|&port| two_level::is_pending(d.event_words(), port)) {
        return Outcome::Return(0);
    }
    if let Some(v) = d.vcpus().get_mut(vcpu) {
        v.poll_ports = ports;
    }
    Outcome::Poll(p.timeout)
}

use super::{Caller, Outcome, read_arg};
use crate::event::two_level;

const NS_PER_SECOND: u64 = 1_000_000_000;

/// Xen's `domain_watchdog`: allocate (id 0), re-arm or free a watchdog.
fn watchdog(caller: &mut impl Caller, id: u32, timeout: u32) -> Outcome {
    let deadline = caller.machine_time_ns().saturating_add(u64::from(timeout) * NS_PER_SECOND);
    let dogs = caller.this().watchdogs();
    let Some(slot) = (id as usize).checked_sub(1) else {
        return match dogs.iter().position(Option::is_none) {
            Some(i) => {
                dogs[i] = Some(deadline);
                Outcome::Return(i as u64 + 1)
            }
            None => Outcome::err(Errno::ENOSPC),
        };
    };
    match dogs.get_mut(slot) {
        Some(dog @ Some(_)) => {
            *dog = (timeout != 0).then_some(deadline);
            Outcome::Return(0)
        }
        _ => Outcome::err(Errno::EINVAL),
    }
}

/// Whether a watchdog in use has passed its deadline at system time `now`.
pub fn watchdog_expired(dogs: &[Option<u64>], now: u64) -> bool {
    dogs.iter().flatten().any(|&deadline| deadline <= now)
}

pub fn sched_op(caller: &mut impl Caller, cmd: u64, arg: u64) -> Outcome {
    match cmd {
        SCHEDOP_YIELD => Outcome::Yield,
        SCHEDOP_BLOCK => Outcome::Block,
        SCHEDOP_SHUTDOWN => match read_arg::<SchedShutdown>(caller, arg) {
            Err(e) => Outcome::err(e),
            Ok(s) if s.reason > SHUTDOWN_MAX => Outcome::err(Errno::EINVAL),
            Ok(s) => Outcome::Shutdown(s.reason),
        },
        SCHEDOP_POLL => poll(caller, arg),
        SCHEDOP_WATCHDOG => match read_arg::<SchedWatchdog>(caller, arg) {
            Err(e) => Outcome::err(e),
            Ok(w) => watchdog(caller, w.id, w.timeout),
        },
        SCHEDOP_PIN_OVERRIDE => {
            if !caller.privileged() {
                return Outcome::err(Errno::EPERM);
            }
            match read_arg::<SchedPinOverride>(caller, arg) {
                Err(e) => Outcome::err(e),
                Ok(p) if !u32::try_from(p.pcpu).is_ok_and(|cpu| cpu < caller.machine().nr_cpus) => Outcome::err(Errno::EINVAL),
                Ok(p) if p.pcpu == 0 => Outcome::Return(0),
                Ok(_) => Outcome::err(Errno::EBUSY),
            }
        }
        SCHEDOP_SHUTDOWN_CODE => match read_arg::<SchedShutdown>(caller, arg) {
            Err(e) => Outcome::err(e),
            Ok(s) if s.reason > SHUTDOWN_MAX => Outcome::err(Errno::EINVAL),
            Ok(s) => {
                *caller.this().shutdown_code() = Some(s.reason);
                Outcome::Return(0)
            }
        },
        SCHEDOP_REMOTE_SHUTDOWN => {
            let r: SchedRemoteShutdown = match read_arg(caller, arg) {
                Ok(r) => r,
                Err(e) => return Outcome::err(e),
            };
            // rcu_lock_domain_by_id: no DOMID_SELF here.
            if r.domain_id.0 >= abi::xen::DOMID_FIRST_RESERVED.0 || caller.domain(r.domain_id.0).is_none() {
                return Outcome::err(Errno::ESRCH);
            }
            if !caller.privileged() {
                return Outcome::err(Errno::EPERM);
            }
            if r.reason > SHUTDOWN_MAX {
                return Outcome::err(Errno::EINVAL);
            }
            if r.domain_id.0 == caller.domid() {
                return Outcome::Shutdown(r.reason);
            }
            match caller.domain(r.domain_id.0) {
                Some(d) => {
                    d.shut_down(r.reason);
                    Outcome::Return(0)
                }
                None => Outcome::err(Errno::ESRCH),
            }
        }
        _ => Outcome::err(Errno::ENOSYS),
    }
}

#[cfg(test)]
mod tests {
    use super::super::fake::FakeCaller;
    use super::*;
    use abi::sched::{SHUTDOWN_CRASH, SHUTDOWN_POWEROFF};

    #[test]
    fn shutdown_reports_the_reason() {
        let mut c = FakeCaller::new(64);
        c.mem[8..12].copy_from_slice(&SHUTDOWN_CRASH.to_le_bytes());
        assert_eq!(sched_op(&mut c, SCHEDOP_SHUTDOWN, 8), Outcome::Shutdown(SHUTDOWN_CRASH));
        c.mem[8..12].copy_from_slice(&SHUTDOWN_POWEROFF.to_le_bytes());
        assert_eq!(sched_op(&mut c, SCHEDOP_SHUTDOWN, 8), Outcome::Shutdown(SHUTDOWN_POWEROFF));
    }

    #[test]
    fn shutdown_with_an_unknown_reason_is_einval() {
        let mut c = FakeCaller::new(64);
        c.mem[0..4].copy_from_slice(&99u32.to_le_bytes());
        assert_eq!(sched_op(&mut c, SCHEDOP_SHUTDOWN, 0), Outcome::err(Errno::EINVAL));
    }

    #[test]
    fn shutdown_with_a_bad_pointer_is_efault() {
        let mut c = FakeCaller::new(64);
        assert_eq!(sched_op(&mut c, SCHEDOP_SHUTDOWN, 62), Outcome::err(Errno::EFAULT));
    }

    #[test]
    fn yield_block_and_unknown_commands() {
        let mut c = FakeCaller::new(8);
        assert_eq!(sched_op(&mut c, SCHEDOP_YIELD, 0), Outcome::Yield);
        assert_eq!(sched_op(&mut c, SCHEDOP_BLOCK, 0), Outcome::Block);
        assert_eq!(sched_op(&mut c, 1000, 0), Outcome::err(Errno::ENOSYS));
    }

    #[test]
    fn watchdogs_are_allocated_rearmed_and_freed_by_id() {
        let mut c = FakeCaller::new(64);
        let dog = |c: &mut FakeCaller, id: u32, timeout: u32| {
            c.put(0, &SchedWatchdog { id, timeout });
            sched_op(c, SCHEDOP_WATCHDOG, 0)
        };
        for id in [1, 2, 3, u32::MAX] {
            assert_eq!(dog(&mut c, id, 0), Outcome::err(Errno::EINVAL), "id {id} is not in use");
        }
        assert_eq!(dog(&mut c, 0, 10), Outcome::Return(1));
        assert_eq!(dog(&mut c, 0, 20), Outcome::Return(2));
        assert_eq!(dog(&mut c, 0, 30), Outcome::err(Errno::ENOSPC));
        // FakeCaller's clock says 5000 ns.
        assert_eq!(c.dom(0).watchdogs, [Some(5000 + 10 * NS_PER_SECOND), Some(5000 + 20 * NS_PER_SECOND)]);
        assert_eq!(dog(&mut c, 2, 1), Outcome::Return(0));
        assert_eq!(c.dom(0).watchdogs[1], Some(5000 + NS_PER_SECOND), "re-armed");
        assert_eq!(dog(&mut c, 1, 0), Outcome::Return(0));
        assert_eq!(c.dom(0).watchdogs[0], None, "freed");
        assert_eq!(dog(&mut c, 1, 5), Outcome::err(Errno::EINVAL), "no longer in use");
        assert_eq!(dog(&mut c, 0, 0), Outcome::Return(1), "the freed slot is reused");
        assert_eq!(sched_op(&mut c, SCHEDOP_WATCHDOG, 60), Outcome::err(Errno::EFAULT));
    }

    #[test]
    fn a_watchdog_expires_at_its_deadline() {
        assert!(!watchdog_expired(&[None, None], u64::MAX));
        assert!(!watchdog_expired(&[None, Some(100)], 99));
        assert!(watchdog_expired(&[None, Some(100)], 100));
        assert!(watchdog_expired(&[Some(50), Some(100)], 60));
    }

    #[test]
    fn poll_checks_its_ports_then_blocks() {
        let mut c = FakeCaller::new(128);
        c.put(0, &SchedPoll { ports: 64, nr_ports: 129, _pad: 0, timeout: 0 });
        assert_eq!(sched_op(&mut c, abi::sched::SCHEDOP_POLL, 0), Outcome::err(Errno::EINVAL));
        c.put(0, &SchedPoll { ports: 126, nr_ports: 1, _pad: 0, timeout: 0 });
        assert_eq!(sched_op(&mut c, abi::sched::SCHEDOP_POLL, 0), Outcome::err(Errno::EFAULT));
        c.put(0, &SchedPoll { ports: 64, nr_ports: 1, _pad: 0, timeout: 0 });
        c.put(64, &5000u32);
        assert_eq!(sched_op(&mut c, abi::sched::SCHEDOP_POLL, 0), Outcome::err(Errno::EINVAL));
        c.put(64, &3u32);
        c.put(0, &SchedPoll { ports: 64, nr_ports: 1, _pad: 0, timeout: 777 });
        assert_eq!(sched_op(&mut c, abi::sched::SCHEDOP_POLL, 0), Outcome::Poll(777));
        assert_eq!(c.dom(0).vcpus[0].poll_ports, [3]);
        c.dom(0).words.pending[3] = true;
        assert_eq!(sched_op(&mut c, abi::sched::SCHEDOP_POLL, 0), Outcome::Return(0), "already pending");
        c.compat = true;
        c.put(0, &CompatSchedPoll { ports: 64, nr_ports: 1, timeout: 0 });
        assert_eq!(sched_op(&mut c, abi::sched::SCHEDOP_POLL, 0), Outcome::Return(0), "compat layout");
    }

    #[test]
    fn pin_override_is_dom0_only_and_checks_the_cpu() {
        let mut c = FakeCaller::new(64);
        c.put(0, &SchedPinOverride { pcpu: -1 });
        assert_eq!(sched_op(&mut c, SCHEDOP_PIN_OVERRIDE, 0), Outcome::err(Errno::EINVAL));
        c.put(0, &SchedPinOverride { pcpu: 0 });
        assert_eq!(sched_op(&mut c, SCHEDOP_PIN_OVERRIDE, 0), Outcome::Return(0));
        let mut u = FakeCaller::unprivileged(64);
        assert_eq!(sched_op(&mut u, SCHEDOP_PIN_OVERRIDE, 0), Outcome::err(Errno::EPERM));
    }

    #[test]
    fn shutdown_code_is_recorded() {
        let mut c = FakeCaller::new(64);
        c.put(0, &SchedShutdown { reason: SHUTDOWN_CRASH });
        assert_eq!(sched_op(&mut c, SCHEDOP_SHUTDOWN_CODE, 0), Outcome::Return(0));
        assert_eq!(c.dom(0).shutdown_code, Some(SHUTDOWN_CRASH));
    }

    #[test]
    fn remote_shutdown_needs_privilege_and_an_existing_domain() {
        let mut c = FakeCaller::new(64);
        c.put(0, &SchedRemoteShutdown { domain_id: abi::xen::DomId(1), _pad: 0, reason: SHUTDOWN_POWEROFF });
        assert_eq!(sched_op(&mut c, SCHEDOP_REMOTE_SHUTDOWN, 0), Outcome::Return(0));
        assert_eq!(c.dom(1).shut_down, Some(SHUTDOWN_POWEROFF));
        c.put(0, &SchedRemoteShutdown { domain_id: abi::xen::DomId(9), _pad: 0, reason: 0 });
        assert_eq!(sched_op(&mut c, SCHEDOP_REMOTE_SHUTDOWN, 0), Outcome::err(Errno::ESRCH));
        c.put(0, &SchedRemoteShutdown { domain_id: abi::xen::DOMID_SELF, _pad: 0, reason: 0 });
        assert_eq!(sched_op(&mut c, SCHEDOP_REMOTE_SHUTDOWN, 0), Outcome::err(Errno::ESRCH));
        let mut u = FakeCaller::unprivileged(64);
        u.put(0, &SchedRemoteShutdown { domain_id: abi::xen::DomId(0), _pad: 0, reason: 0 });
        assert_eq!(sched_op(&mut u, SCHEDOP_REMOTE_SHUTDOWN, 0), Outcome::err(Errno::EPERM));
    }
}
