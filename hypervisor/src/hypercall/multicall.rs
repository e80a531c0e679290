//! `HYPERVISOR_multicall(call_list, nr_calls)` (xen.h), as Xen's
//! `do_multicall` (xen/common/multicall.c): a batch of hypercalls in one
//! call. Each entry's result goes back into the entry; the call itself
//! returns 0, or -EFAULT when an entry cannot be read or written back. A
//! multicall inside a multicall gets -EINVAL as its result. A call that
//! would give up the CPU (yield, block, poll) just returns 0 here.
//!
//! Preemption, as Xen: every entry spends one unit of the exit's budget
//! (and a batch inside it spends its own); between two entries, once the
//! budget is gone, the multicall continues with the list moved past the
//! entries done and the count reduced. An entry that itself stops with a
//! continuation gets its new arguments written into the entry, and the
//! multicall continues *at* that entry, so the guest runs it on from where
//! it stopped. No exit runs more than one budget's worth, whatever
//! `nr_calls` is.

use abi::errno::Errno;
use abi::xen::{CompatMulticallEntry, HYPERVISOR_MULTICALL, MulticallEntry};

use super::{Call, Caller, Outcome, dispatch, read_arg, write_arg};

/// Offsets of `result` and `args` in an entry (both layouts: xen.h).
const RESULT_NATIVE: u64 = 8;
const ARGS_NATIVE: u64 = 16;
const RESULT_COMPAT: u64 = 4;
const ARGS_COMPAT: u64 = 8;

pub fn multicall(caller: &mut impl Caller, list: u64, count: u64) -> Outcome {
    let compat = caller.compat();
    let size: u64 = if compat { 32 } else { 64 };
    // A 32-bit caller's list is a compat handle: its address wraps at 4 GiB.
    let entry_at = |i: u64| {
        let at = list.wrapping_add(i.wrapping_mul(size));
        if compat { at & 0xffff_ffff } else { at }
    };
    for i in 0..count {
        let at = entry_at(i);
        if i > 0 && caller.budget().exhausted() {
            return Outcome::Continue2([at, count - i]);
        }
        caller.budget().spend(1);
        let Ok(mut call) = read_entry(caller, at, compat) else { return Outcome::err(Errno::EFAULT) };
        let outcome = if call.nr == HYPERVISOR_MULTICALL { Outcome::err(Errno::EINVAL) } else { dispatch(caller, call) };
        let result = match outcome {
            Outcome::Return(v) => v,
            Outcome::Yield | Outcome::Block | Outcome::Poll(_) => 0,
            Outcome::Shutdown(reason) => {
                // The domain ends: the rest of the batch does not run.
                caller.this().shut_down(reason);
                return Outcome::Return(0);
            }
            Outcome::Preempted(_) | Outcome::Continue(_) | Outcome::Continue2(_) => {
                // The entry keeps its continuation; the multicall resumes there.
                match outcome {
                    Outcome::Preempted(a0) => call.args[0] = a0,
                    Outcome::Continue2(a) => call.args[..2].copy_from_slice(&a),
                    Outcome::Continue(a) => call.args[..3].copy_from_slice(&a),
                    _ => {}
                }
                if write_args(caller, at, compat, &call.args).is_err() {
                    return Outcome::err(Errno::EFAULT);
                }
                return Outcome::Continue2([at, count - i]);
            }
        };
        let written = if compat {
            write_arg(caller, at.wrapping_add(RESULT_COMPAT), &crate::bits::low32(result))
        } else {
            write_arg(caller, at.wrapping_add(RESULT_NATIVE), &result)
        };
        if written.is_err() {
            return Outcome::err(Errno::EFAULT);
        }
    }
    Outcome::Return(0)
}

fn read_entry(caller: &impl Caller, at: u64, compat: bool) -> Result<Call, Errno> {
    if compat {
        let e: CompatMulticallEntry = read_arg(caller, at)?;
        let a = e.args.map(u64::from);
        Ok(Call { nr: e.op.into(), args: [a[0], a[1], a[2], a[3], a[4]] })
    } else {
        let e: MulticallEntry = read_arg(caller, at)?;
        Ok(Call { nr: e.op, args: [e.args[0], e.args[1], e.args[2], e.args[3], e.args[4]] })
    }
}

/// Writes a sub-call's continued arguments back into its entry (Xen copies
/// the whole entry back; op and result are unchanged).
fn write_args(caller: &mut impl Caller, at: u64, compat: bool, args: &[u64; 5]) -> Result<(), Errno> {
    if compat {
        write_arg(caller, at.wrapping_add(ARGS_COMPAT), &args.map(crate::bits::low32))
    } else {
        write_arg(caller, at.wrapping_add(ARGS_NATIVE), args)
    }
}

#[cfg(test)]
mod tests {
    use super::super::fake::FakeCaller;
    use super::super::Budget;
    use super::*;
    use abi::memory::{XENMEM_INCREASE_RESERVATION, XenMemoryReservation};
    use abi::xen::{HYPERVISOR_MEMORY_OP, HYPERVISOR_XEN_VERSION, XenUlong};

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

    /// Runs the multicall to its end as the vCPU loop would: each
    /// continuation in a fresh exit. Returns the result and the exits taken.
    fn run_to_end(c: &mut FakeCaller, mut list: u64, mut count: u64) -> (Outcome, u32) {
        for exits in 1..10_000 {
            c.next_exit();
            match multicall(c, list, count) {
                Outcome::Continue2([l, n]) => {
                    assert!(n <= count && n > 0, "progress or the same entry, never more work");
                    (list, count) = (l, n);
                }
                done => return (done, exits),
            }
        }
        panic!("the multicall never finished");
    }

    #[test]
    fn a_long_list_continues_past_its_done_entries_once_the_budget_is_spent() {
        let n = 600u64;
        let mut c = FakeCaller::new(n as usize * 64);
        for i in 0..n {
            c.put(i as usize * 64, &entry(HYPERVISOR_XEN_VERSION, [0; 6]));
        }
        let per_exit = u64::from(Budget::PER_EXIT);
        assert_eq!(multicall(&mut c, 0, n), Outcome::Continue2([per_exit * 64, n - per_exit]));
        assert_eq!(c.get::<MulticallEntry>((per_exit as usize - 1) * 64).result, 0x4_0011);
        assert_eq!(c.get::<MulticallEntry>(per_exit as usize * 64).result, 0x5555, "not run yet");
        let (done, exits) = run_to_end(&mut c, 0, n);
        assert_eq!(done, Outcome::Return(0));
        assert_eq!(exits, 3);
        assert!((0..n as usize).all(|i| c.get::<MulticallEntry>(i * 64).result == 0x4_0011));
    }

    #[test]
    fn a_count_of_2_to_the_32_minus_1_stops_each_exit_and_faults_where_the_list_ends() {
        // 300 readable entries, then the end of the caller's memory.
        let mut c = FakeCaller::new(300 * 64);
        for i in 0..300 {
            c.put(i * 64, &entry(HYPERVISOR_XEN_VERSION, [0; 6]));
        }
        let count = u64::from(u32::MAX);
        assert_eq!(multicall(&mut c, 0, count), Outcome::Continue2([256 * 64, count - 256]));
        assert_eq!(run_to_end(&mut c, 0, count), (Outcome::err(Errno::EFAULT), 2));
    }

    #[test]
    fn a_sub_call_that_continues_is_resumed_at_its_entry_with_its_progress() {
        // Entry 0: increase_reservation of 600 extents (a continuation every
        // budget); entry 1: xen_version.
        let mut c = FakeCaller::new(4096);
        c.dom(0).max_pages = 10_000;
        let reservation = XenMemoryReservation { extent_start: 0, nr_extents: 600, extent_order: 0, mem_flags: 0, domid: abi::xen::DOMID_SELF, _pad: [0; 3] };
        c.put(1024, &reservation);
        c.put(0, &entry(HYPERVISOR_MEMORY_OP, [XENMEM_INCREASE_RESERVATION, 1024, 0, 0, 0, 0]));
        c.put(64, &entry(HYPERVISOR_XEN_VERSION, [0; 6]));
        let first = multicall(&mut c, 0, 2);
        assert_eq!(first, Outcome::Continue2([0, 2]), "resumes at entry 0");
        let e = c.get::<MulticallEntry>(0);
        assert_eq!((e.args[0], e.result), (XENMEM_INCREASE_RESERVATION | (255 << 6), 0x5555), "progress kept in the entry");
        assert_eq!(c.get::<MulticallEntry>(64).result, 0x5555);
        let (done, exits) = run_to_end(&mut c, 0, 2);
        assert_eq!(done, Outcome::Return(0));
        assert_eq!(exits, 2, "255 extents, then 255, then the last 90 and entry 1");
        assert_eq!(c.get::<MulticallEntry>(0).result, 600, "every extent, once");
        assert_eq!(c.dom(0).reserved, 600);
        assert_eq!(c.get::<MulticallEntry>(64).result, 0x4_0011);
    }

    #[test]
    fn a_32_bit_sub_calls_continuation_goes_back_in_32_bit_slots() {
        let mut c = FakeCaller::new(256);
        c.compat = true;
        c.dom(0).max_pages = 10_000;
        let op = XENMEM_INCREASE_RESERVATION as u32;
        c.put(0, &CompatMulticallEntry { op: HYPERVISOR_MEMORY_OP as u32, result: 0, args: [op, 128, 0xaa, 0, 0, 0] });
        let r = abi::memory::CompatMemoryReservation { extent_start: 0, nr_extents: 300, extent_order: 0, mem_flags: 0, domid: abi::xen::DOMID_SELF, _pad: 0 };
        c.put(128, &r);
        assert_eq!(multicall(&mut c, 0, 1), Outcome::Continue2([0, 1]));
        assert_eq!(c.get::<CompatMulticallEntry>(0).args[..3], [op | (255 << 6), 128, 0xaa]);
        assert_eq!(run_to_end(&mut c, 0, 1), (Outcome::Return(0), 1));
        assert_eq!(c.get::<CompatMulticallEntry>(0).result, 300);
    }

    #[test]
    fn a_32_bit_list_wraps_at_4_gib_as_a_compat_handle() {
        let mut c = FakeCaller::new(64);
        c.compat = true;
        c.put(0, &CompatMulticallEntry { op: HYPERVISOR_XEN_VERSION as u32, result: 7, args: [0; 6] });
        assert_eq!(multicall(&mut c, 0xffff_ffe0, 1), Outcome::err(Errno::EFAULT), "not the caller's memory here");
        c.put(32, &CompatMulticallEntry { op: HYPERVISOR_XEN_VERSION as u32, result: 7, args: [0; 6] });
        // Entry 1 of a list at 4 GiB - 32 is at 0.
        c.put(0, &CompatMulticallEntry { op: 99, result: 7, args: [0; 6] });
        assert_eq!(multicall(&mut c, 0x1_0000_0000, 2), Outcome::Return(0), "4 GiB is 0 to a compat handle");
        assert_eq!(c.get::<CompatMulticallEntry>(32).result, 0x4_0011);
    }

    #[test]
    fn the_budget_is_shared_with_the_sub_calls() {
        // A sub-call that spends the whole budget: the next entry waits for
        // the next exit.
        let mut c = FakeCaller::new(4096);
        c.dom(0).max_pages = 10_000;
        let reservation = XenMemoryReservation { extent_start: 0, nr_extents: 255, extent_order: 0, mem_flags: 0, domid: abi::xen::DOMID_SELF, _pad: [0; 3] };
        c.put(1024, &reservation);
        c.put(0, &entry(HYPERVISOR_MEMORY_OP, [XENMEM_INCREASE_RESERVATION, 1024, 0, 0, 0, 0]));
        c.put(64, &entry(HYPERVISOR_XEN_VERSION, [0; 6]));
        assert_eq!(multicall(&mut c, 0, 2), Outcome::Continue2([64, 1]));
        assert_eq!(c.get::<MulticallEntry>(0).result, 255);
    }
}
