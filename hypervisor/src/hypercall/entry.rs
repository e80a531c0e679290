//! The one way into the hypercall table from a guest's VMCALL/VMMCALL, as
//! Xen's `hvm_hypercall` (xen/arch/x86/hvm/hypercall.c): the privilege
//! gate, the arguments taken from the registers of the caller's mode, the
//! preemption budget the call runs with, and what the vCPU loop does after
//! it (the result or a continuation in the registers, a wait, a stop, a
//! TLB flush).
//!
//! Privilege: a hypercall from CPL > 0 gets -EPERM and runs nothing,
//! except in real mode, where Xen lets any code call (its mode 0). In
//! virtual-8086 mode CPL is 3, so it is refused too, as Xen does.
//!
//! Preemption: Xen's handlers ask `hypercall_preempt_check()` between
//! pieces of a long operation and, when it says so, leave a continuation
//! (the argument registers rewritten, RIP left on the VMCALL). Here the
//! check is a counted [`Budget`] of work units, fresh for every exit:
//! multicall entries, extents, physmap pages, grant ops and console chunks
//! spend it, and stop with a continuation once it is gone. So one exit, and
//! the domain table lock it holds, lasts a bounded time whatever the guest
//! asks for.

#![forbid(unsafe_code)]

use abi::errno::Errno;

use super::{Call, Outcome};
use crate::arch::x86_64::virt::exit::GuestRegs;

/// Work one exit may do before a long operation continues in a later exit.
/// A unit is about one page of work: a multicall entry, an extent page, a
/// physmap page, a grant op, a console chunk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Budget {
    left: u32,
}

impl Budget {
    /// Units per exit: the 256 entries each batch ran per call before there
    /// was a shared budget.
    pub const PER_EXIT: u32 = 256;

    pub const fn per_exit() -> Budget {
        Budget { left: Budget::PER_EXIT }
    }

    /// How many of `want` items, each costing `cost` units, to do now: as
    /// many as the budget pays for, and at least one (every exit makes
    /// progress), which are spent.
    pub fn take(&mut self, want: u64, cost: u32) -> u64 {
        let cost = cost.max(1);
        let affordable = u64::from(self.left / cost).max(1);
        let n = want.min(affordable);
        let spent = n.saturating_mul(u64::from(cost));
        self.left = self.left.saturating_sub(u32::try_from(spent).unwrap_or(u32::MAX));
        n
    }

    /// Spends `units` on one piece of work (a multicall entry).
    pub fn spend(&mut self, units: u32) {
        self.left = self.left.saturating_sub(units);
    }

    /// Nothing is left: a batch between two items continues now (Xen's
    /// `hypercall_preempt_check()` saying yes).
    pub fn exhausted(&self) -> bool {
        self.left == 0
    }

    pub fn left(&self) -> u32 {
        self.left
    }
}

/// What the gate and the register convention need of the calling vCPU.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CallerMode {
    /// 64-bit code (EFER.LMA and CS.L): the 64-bit convention; otherwise
    /// the 32-bit one and compat layouts.
    pub long: bool,
    /// CR0.PE: protected mode (else real mode).
    pub protected: bool,
    /// Current privilege level.
    pub cpl: u8,
}

/// Xen's `hvm_hypercall` gate: real mode may call; otherwise only CPL 0
/// (virtual-8086 mode runs at CPL 3).
pub fn permitted(mode: CallerMode) -> bool {
    !mode.protected || mode.cpl == 0
}

/// The number and arguments from the registers of the caller's convention
/// (64-bit: rax; rdi rsi rdx r10 r8. 32-bit: eax; ebx ecx edx esi edi).
pub fn decode(regs: &GuestRegs, long: bool) -> Call {
    if long {
        Call { nr: regs.rax, args: [regs.rdi, regs.rsi, regs.rdx, regs.r10, regs.r8] }
    } else {
        let lo = |v: u64| v & 0xffff_ffff;
        Call { nr: lo(regs.rax), args: [lo(regs.rbx), lo(regs.rcx), lo(regs.rdx), lo(regs.rsi), lo(regs.rdi)] }
    }
}

/// What the hypercall left for the loop, read while the domain table was
/// still locked.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct After {
    /// A mapping of the caller's domain went away: flush its guest TLB
    /// before it runs again.
    pub flush: bool,
    /// The caller's domain is shut down (by this call or another CPU).
    pub shut_down: Option<u32>,
}

/// Where the vCPU goes after the hypercall.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next {
    /// Past the VMCALL, with the result in rax.
    Resume,
    /// The VMCALL again, with the progress in the argument registers (a
    /// continuation: RIP stays).
    Again,
    /// Past the VMCALL (rax = 0) once an event is pending (SCHEDOP_block).
    Block,
    /// Past the VMCALL (rax = 0) once a polled port is pending or system
    /// time passes this deadline (0: none) (SCHEDOP_poll).
    Poll(u64),
    /// Past the VMCALL, and the vCPU stops: its domain shut down with this
    /// `SHUTDOWN_*` reason.
    Shutdown(u32),
}

/// What the loop applies: the registers are already written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Step {
    pub next: Next,
    pub flush: bool,
}

/// Runs the hypercall in `regs` for a caller in `mode`: the gate first,
/// then `run` (which locks what the call needs and dispatches it with the
/// budget given), then the outcome is written back to `regs`.
pub fn enter(regs: &mut GuestRegs, mode: CallerMode, run: impl FnOnce(Call, Budget) -> (Outcome, After)) -> Step {
    if !permitted(mode) {
        regs.rax = Errno::EPERM.to_hypercall_ret();
        return Step { next: Next::Resume, flush: false };
    }
    let (outcome, after) = run(decode(regs, mode.long), Budget::per_exit());
    let next = apply(regs, mode.long, outcome);
    let next = match (next, after.shut_down) {
        (Next::Shutdown(reason), _) | (_, Some(reason)) => Next::Shutdown(reason),
        (next, None) => next,
    };
    Step { next, flush: after.flush }
}

/// Writes `outcome` into the registers: the result, or a continuation's
/// arguments in the caller's convention.
fn apply(regs: &mut GuestRegs, long: bool, outcome: Outcome) -> Next {
    let args: [&mut u64; 3] =
        if long { [&mut regs.rdi, &mut regs.rsi, &mut regs.rdx] } else { [&mut regs.rbx, &mut regs.rcx, &mut regs.rdx] };
    let rewrite = |values: &[u64]| {
        for (reg, v) in args.into_iter().zip(values) {
            *reg = *v;
        }
        Next::Again
    };
    match outcome {
        Outcome::Return(value) => {
            regs.rax = value;
            Next::Resume
        }
        Outcome::Yield => {
            regs.rax = 0;
            Next::Resume
        }
        Outcome::Block => {
            regs.rax = 0;
            Next::Block
        }
        Outcome::Poll(deadline) => {
            regs.rax = 0;
            Next::Poll(deadline)
        }
        Outcome::Shutdown(reason) => Next::Shutdown(reason),
        Outcome::Preempted(a0) => rewrite(&[a0]),
        Outcome::Continue2(a) => rewrite(&a),
        Outcome::Continue(a) => rewrite(&a),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KERNEL64: CallerMode = CallerMode { long: true, protected: true, cpl: 0 };

    fn regs64(nr: u64, args: [u64; 5]) -> GuestRegs {
        GuestRegs { rax: nr, rdi: args[0], rsi: args[1], rdx: args[2], r10: args[3], r8: args[4], ..GuestRegs::default() }
    }

    #[test]
    fn a_call_from_cpl_1_to_3_is_eperm_and_runs_nothing() {
        for cpl in 1..=3 {
            for long in [true, false] {
                let mut r = regs64(17, [0; 5]);
                let before = r;
                let step = enter(&mut r, CallerMode { long, protected: true, cpl }, |_, _| panic!("must not run at CPL {cpl}"));
                assert_eq!(step, Step { next: Next::Resume, flush: false });
                assert_eq!(r.rax, u64::MAX, "-EPERM is -1");
                assert_eq!(GuestRegs { rax: before.rax, ..r }, before, "only rax changes");
            }
        }
    }

    #[test]
    fn real_mode_and_cpl_0_may_call() {
        assert!(permitted(KERNEL64));
        assert!(permitted(CallerMode { long: false, protected: false, cpl: 0 }));
        // Xen's mode 0 lets real mode call whatever CPL field the CPU reports.
        assert!(permitted(CallerMode { long: false, protected: false, cpl: 3 }));
        assert!(!permitted(CallerMode { long: false, protected: true, cpl: 3 }));
    }

    #[test]
    fn arguments_come_from_the_callers_convention() {
        let r = GuestRegs {
            rax: 0x1_0000_0011,
            rbx: 0xffff_ffff_0000_0001,
            rcx: 2,
            rdx: 3,
            rsi: 4,
            rdi: 5,
            r10: 6,
            r8: 7,
            ..GuestRegs::default()
        };
        assert_eq!(decode(&r, true), Call { nr: 0x1_0000_0011, args: [5, 4, 3, 6, 7] });
        assert_eq!(decode(&r, false), Call { nr: 0x11, args: [1, 2, 3, 4, 5] });
    }

    #[test]
    fn every_exit_starts_with_a_full_budget() {
        let mut r = regs64(17, [0; 5]);
        enter(&mut r, KERNEL64, |call, budget| {
            assert_eq!(call.nr, 17);
            assert_eq!(budget, Budget::per_exit());
            (Outcome::Return(7), After::default())
        });
        assert_eq!(r.rax, 7);
    }

    #[test]
    fn continuations_rewrite_only_their_arguments_and_keep_rip() {
        let mut r = regs64(29, [1, 2, 3, 4, 5]);
        let step = enter(&mut r, KERNEL64, |_, _| (Outcome::Continue2([10, 20]), After::default()));
        assert_eq!(step.next, Next::Again);
        assert_eq!((r.rax, r.rdi, r.rsi, r.rdx, r.r10), (29, 10, 20, 3, 4), "rax keeps the number");
        let mut r = GuestRegs { rax: 12, rbx: 1, rcx: 2, rdx: 3, ..GuestRegs::default() };
        let compat = CallerMode { long: false, ..KERNEL64 };
        assert_eq!(enter(&mut r, compat, |_, _| (Outcome::Preempted(9), After::default())).next, Next::Again);
        assert_eq!((r.rbx, r.rcx), (9, 2));
        enter(&mut r, compat, |_, _| (Outcome::Continue([7, 8, 9]), After::default()));
        assert_eq!((r.rbx, r.rcx, r.rdx), (7, 8, 9));
    }

    #[test]
    fn waits_return_zero_and_a_shutdown_seen_after_the_call_stops_the_vcpu() {
        let mut r = regs64(29, [0; 5]);
        assert_eq!(enter(&mut r, KERNEL64, |_, _| (Outcome::Block, After::default())).next, Next::Block);
        assert_eq!(r.rax, 0);
        assert_eq!(enter(&mut r, KERNEL64, |_, _| (Outcome::Poll(5), After::default())).next, Next::Poll(5));
        let after = After { flush: true, shut_down: Some(3) };
        let step = enter(&mut r, KERNEL64, |_, _| (Outcome::Return(0), after));
        assert_eq!(step, Step { next: Next::Shutdown(3), flush: true });
        assert_eq!(enter(&mut r, KERNEL64, |_, _| (Outcome::Shutdown(1), After::default())).next, Next::Shutdown(1));
    }

    #[test]
    fn the_budget_pays_for_what_it_can_and_always_for_one_item() {
        let mut b = Budget::per_exit();
        assert_eq!(b.take(10, 1), 10);
        assert_eq!(b.left(), 246);
        assert_eq!(b.take(1000, 2), 123);
        assert!(b.exhausted());
        assert_eq!(b.take(5, 1), 1, "progress even when spent");
        assert!(b.exhausted());
        let mut b = Budget::per_exit();
        assert_eq!(b.take(3, 512), 1, "an item dearer than the whole budget still runs, alone");
        assert!(b.exhausted());
        assert_eq!(Budget::per_exit().take(0, 1), 0);
        assert_eq!(Budget::per_exit().take(u64::MAX, 0), 256, "cost 0 counts as 1");
    }
}
