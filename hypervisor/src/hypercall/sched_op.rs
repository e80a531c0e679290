//! `HYPERVISOR_sched_op` (sched.h).
//!
//! | cmd | here |
//! |---|---|
//! | `SCHEDOP_yield` (0) | gives up the CPU, returns 0 |
//! | `SCHEDOP_block` (1) | waits for the next interrupt, returns 0 |
//! | `SCHEDOP_shutdown` (2) | ends the domain with the reason; bad reason -EINVAL |
//! | `SCHEDOP_poll` (3) | -ENOSYS (needs event channels) |
//! | `SCHEDOP_remote_shutdown` (4) | Dom0 only; -ESRCH for no such domain |
//! | `SCHEDOP_shutdown_code` (5) | records the reason reported at a later shutdown |
//! | other (watchdog, pin_override) | -ENOSYS |

use abi::errno::Errno;
use abi::sched::{
    SCHEDOP_BLOCK, SCHEDOP_REMOTE_SHUTDOWN, SCHEDOP_SHUTDOWN, SCHEDOP_SHUTDOWN_CODE, SCHEDOP_YIELD, SHUTDOWN_MAX,
    SchedRemoteShutdown, SchedShutdown,
};

use super::{Caller, Outcome, read_arg};

pub fn sched_op(caller: &mut impl Caller, cmd: u64, arg: u64) -> Outcome {
    match cmd {
        SCHEDOP_YIELD => Outcome::Yield,
        SCHEDOP_BLOCK => Outcome::Block,
        SCHEDOP_SHUTDOWN => match read_arg::<SchedShutdown>(caller, arg) {
            Err(e) => Outcome::err(e),
            Ok(s) if s.reason > SHUTDOWN_MAX => Outcome::err(Errno::EINVAL),
            Ok(s) => Outcome::Shutdown(s.reason),
        },
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
        assert_eq!(sched_op(&mut c, abi::sched::SCHEDOP_POLL, 0), Outcome::err(Errno::ENOSYS));
        assert_eq!(sched_op(&mut c, 1000, 0), Outcome::err(Errno::ENOSYS));
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
