//! `HYPERVISOR_sched_op` (sched.h).
//!
//! | cmd | here |
//! |---|---|
//! | `SCHEDOP_yield` (0) | gives up the CPU, returns 0 |
//! | `SCHEDOP_shutdown` (2) | ends the domain with the reason; bad reason -EINVAL |
//! | other | -ENOSYS |

use abi::errno::Errno;
use abi::sched::{SCHEDOP_SHUTDOWN, SCHEDOP_YIELD, SHUTDOWN_MAX, SchedShutdown};
use abi::zerocopy::FromBytes;

use super::{Caller, Outcome};

pub fn sched_op(caller: &mut impl Caller, cmd: u64, arg: u64) -> Outcome {
    match cmd {
        SCHEDOP_YIELD => Outcome::Yield,
        SCHEDOP_SHUTDOWN => {
            let mut raw = [0u8; core::mem::size_of::<SchedShutdown>()];
            if let Err(e) = caller.copy_from_guest(arg, &mut raw) {
                return Outcome::err(e);
            }
            let Ok(shutdown) = SchedShutdown::read_from_bytes(&raw) else { return Outcome::err(Errno::EFAULT) };
            if shutdown.reason > SHUTDOWN_MAX {
                return Outcome::err(Errno::EINVAL);
            }
            Outcome::Shutdown(shutdown.reason)
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
    fn yield_and_unknown_commands() {
        let mut c = FakeCaller::new(8);
        assert_eq!(sched_op(&mut c, SCHEDOP_YIELD, 0), Outcome::Yield);
        assert_eq!(sched_op(&mut c, 1000, 0), Outcome::err(Errno::ENOSYS));
    }
}
