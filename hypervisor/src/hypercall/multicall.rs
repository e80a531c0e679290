//! `HYPERVISOR_multicall` (xen.h): a batch of hypercalls in one exit. Each
//! entry's result goes back into the entry; the call itself returns 0, or
//! -EFAULT when an entry cannot be read or its result written. A multicall
//! inside a multicall gets -EINVAL as its result. A call that would give up
//! the CPU (yield, block) just returns 0 here; one that is preempted runs on
//! to its end within the batch (each is bounded on its own).

use abi::errno::Errno;
use abi::xen::{CompatMulticallEntry, HYPERVISOR_MULTICALL, MulticallEntry};

use super::{Call, Caller, Outcome, dispatch, read_arg, write_arg};

pub fn multicall(caller: &mut impl Caller, list: u64, count: u64) -> Outcome {
    let compat = caller.compat();
    let size = if compat { 32 } else { 64 };
    for i in 0..count {
        let at = list.wrapping_add(i * size);
        let call = if compat {
            read_arg::<CompatMulticallEntry>(caller, at).map(|e| {
                let a = e.args.map(u64::from);
                Call { nr: e.op.into(), args: [a[0], a[1], a[2], a[3], a[4]] }
            })
        } else {
            read_arg::<MulticallEntry>(caller, at).map(|e| Call { nr: e.op, args: [e.args[0], e.args[1], e.args[2], e.args[3], e.args[4]] })
        };
        let Ok(mut call) = call else { return Outcome::err(Errno::EFAULT) };
        let result = loop {
            let outcome = if call.nr == HYPERVISOR_MULTICALL { Outcome::err(Errno::EINVAL) } else { dispatch(caller, call) };
            match outcome {
                Outcome::Return(v) => break v,
                Outcome::Yield | Outcome::Block | Outcome::Poll(_) => break 0,
                Outcome::Preempted(arg0) => call.args[0] = arg0,
                Outcome::Continue(args) => call.args[..3].copy_from_slice(&args),
                Outcome::Shutdown(reason) => {
                    // The domain ends: the rest of the batch does not run.
                    caller.this().shut_down(reason);
                    return Outcome::Return(0);
                }
            }
        };
        // `result` is the second field in both layouts.
        let written = if compat {
            write_arg(caller, at.wrapping_add(4), &crate::bits::low32(result))
        } else {
            write_arg(caller, at.wrapping_add(8), &result)
        };
        if written.is_err() {
            return Outcome::err(Errno::EFAULT);
        }
    }
    Outcome::Return(0)
}

#[cfg(test)]
mod tests {
    use super::super::fake::FakeCaller;
    use super::*;
    use abi::xen::{HYPERVISOR_XEN_VERSION, XenUlong};

    fn entry(op: u64, args: [XenUlong; 6]) -> MulticallEntry {
        MulticallEntry { op, result: 0x5555, args }
    }

    #[test]
    fn each_result_lands_in_its_entry() {
        let mut c = FakeCaller::new(512);
        c.put(0, &entry(HYPERVISOR_XEN_VERSION, [0; 6]));
        c.put(64, &entry(99, [0; 6]));
        c.put(128, &entry(HYPERVISOR_MULTICALL, [0, 0, 0, 0, 0, 0]));
        assert_eq!(multicall(&mut c, 0, 3), Outcome::Return(0));
        assert_eq!(c.get::<MulticallEntry>(0).result, 0x4_0011);
        assert_eq!(c.get::<MulticallEntry>(64).result, Errno::ENOSYS.to_hypercall_ret());
        assert_eq!(c.get::<MulticallEntry>(128).result, Errno::EINVAL.to_hypercall_ret());
    }

    #[test]
    fn an_unreadable_list_is_efault_and_an_empty_one_is_fine() {
        let mut c = FakeCaller::new(64);
        assert_eq!(multicall(&mut c, 1 << 40, 1), Outcome::err(Errno::EFAULT));
        assert_eq!(multicall(&mut c, 1 << 40, 0), Outcome::Return(0));
    }

    #[test]
    fn a_32_bit_caller_uses_32_byte_entries() {
        let mut c = FakeCaller::new(128);
        c.compat = true;
        c.put(0, &CompatMulticallEntry { op: HYPERVISOR_XEN_VERSION as u32, result: 7, args: [0; 6] });
        c.put(32, &CompatMulticallEntry { op: 99, result: 7, args: [0; 6] });
        assert_eq!(multicall(&mut c, 0, 2), Outcome::Return(0));
        assert_eq!(c.get::<CompatMulticallEntry>(0).result, 0x4_0011);
        assert_eq!(c.get::<CompatMulticallEntry>(32).result, (-38i32) as u32);
    }
}
