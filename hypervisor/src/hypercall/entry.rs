//! The one way into the hypercall table from a guest's VMCALL/VMMCALL, as
//! Xen's `hvm_hypercall` (xen/arch/x86/hvm/hypercall.c): the privilege
//! gate, the arguments taken from the registers of the caller's mode, the
//! preemption budget the call runs with, and what the vCPU loop does after
//! it (the result or a continuation in the registers, a wait, a stop).
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

/// What the entry needs of the calling vCPU (the vCPU loop's `HwVcpu`;
/// a fake in tests). Each is read only when needed: the null hypercall's
/// path reads the mode and CPL, nothing more.
pub trait Site {
    fn regs(&mut self) -> &mut GuestRegs;
    /// 64-bit code (EFER.LMA and CS.L): the 64-bit convention; otherwise
    /// the 32-bit one and compat layouts.
    fn long_mode(&self) -> bool;
    /// Current privilege level.
    fn cpl(&self) -> u8;
    /// CR0.PE: protected mode (else real mode).
    fn protected_mode(&self) -> bool;
}

/// Xen's `hvm_hypercall` gate: CPL 0 may call, and real mode whatever its
/// CPL field (Xen's mode 0); CPL > 0 in protected mode may not
/// (virtual-8086 mode runs at CPL 3).
pub fn permitted(cpl: u8, protected: impl FnOnce() -> bool) -> bool {
    cpl == 0 || !protected()
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
    /// Past the VMCALL (rax = 0), letting the other vCPUs of its CPU run
    /// first (SCHEDOP_yield).
    Yield,
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
}

/// A call that passed the gate: what it asks, in which convention, and
/// the budget it runs with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Admitted {
    pub call: Call,
    /// The caller runs 32-bit code (compat layouts).
    pub compat: bool,
    pub budget: Budget,
}

/// Runs the hypercall `site` made: the gate first, then `run` (which locks
/// what the call needs and dispatches it), then the outcome is written back
/// to the registers. Every hypercall exit comes through here.
#[inline(always)]
pub fn enter<S: Site>(site: &mut S, run: impl FnOnce(&S, Admitted) -> (Outcome, After)) -> Step {
    if !permitted(site.cpl(), || site.protected_mode()) {
        site.regs().rax = Errno::EPERM.to_hypercall_ret();
        return Step { next: Next::Resume };
    }
    let long = site.long_mode();
    let call = decode(site.regs(), long);
    let (outcome, after) = run(site, Admitted { call, compat: !long, budget: Budget::per_exit() });
    finish(site.regs(), long, outcome, after)
}

/// Writes `outcome` into `regs` (the result, or a continuation's arguments
/// in the caller's convention) and says where the vCPU goes.
#[inline(always)]
fn finish(regs: &mut GuestRegs, long: bool, outcome: Outcome, after: After) -> Step {
    let next = match outcome {
        Outcome::Return(value) => {
            regs.rax = value;
            Next::Resume
        }
        Outcome::Yield => {
            regs.rax = 0;
            Next::Yield
        }
        Outcome::Block => {
            regs.rax = 0;
            Next::Block
        }
        Outcome::Poll(deadline) => {
            regs.rax = 0;
            Next::Poll(deadline)
        }
        Outcome::Shutdown(reason) => return Step { next: Next::Shutdown(reason) },
        Outcome::Preempted(a0) => {
            *if long { &mut regs.rdi } else { &mut regs.rbx } = a0;
            Next::Again
        }
        Outcome::Continue2([a0, a1]) => {
            if long {
                (regs.rdi, regs.rsi) = (a0, a1);
            } else {
                (regs.rbx, regs.rcx) = (a0, a1);
            }
            Next::Again
        }
        Outcome::Continue([a0, a1, a2]) => {
            if long {
                (regs.rdi, regs.rsi, regs.rdx) = (a0, a1, a2);
            } else {
                (regs.rbx, regs.rcx, regs.rdx) = (a0, a1, a2);
            }
            Next::Again
        }
    };
    let next = match after.shut_down {
        Some(reason) => Next::Shutdown(reason),
        None => next,
    };
    Step { next }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A vCPU at a VMCALL: its registers and mode.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    struct FakeSite {
        regs: GuestRegs,
        long: bool,
        protected: bool,
        cpl: u8,
    }

    impl Site for FakeSite {
        fn regs(&mut self) -> &mut GuestRegs {
            &mut self.regs
        }
        fn long_mode(&self) -> bool {
            self.long
        }
        fn cpl(&self) -> u8 {
            self.cpl
        }
        fn protected_mode(&self) -> bool {
            self.protected
        }
    }

    fn kernel64(nr: u64, args: [u64; 5]) -> FakeSite {
        let regs = GuestRegs { rax: nr, rdi: args[0], rsi: args[1], rdx: args[2], r10: args[3], r8: args[4], ..GuestRegs::default() };
        FakeSite { regs, long: true, protected: true, cpl: 0 }
    }

    fn returning(outcome: Outcome) -> impl FnOnce(&FakeSite, Admitted) -> (Outcome, After) {
        move |_, _| (outcome, After::default())
    }

    #[test]
    fn a_call_from_cpl_1_to_3_is_eperm_and_runs_nothing() {
        for cpl in 1..=3 {
            for long in [true, false] {
                let mut site = FakeSite { cpl, long, ..kernel64(17, [1, 2, 3, 4, 5]) };
                let before = site;
                let step = enter(&mut site, |_, _| panic!("must not run at CPL {cpl}"));
                assert_eq!(step, Step { next: Next::Resume });
                assert_eq!(site.regs.rax, u64::MAX, "-EPERM is -1");
                assert_eq!(FakeSite { regs: GuestRegs { rax: 17, ..site.regs }, ..site }, before, "only rax changes");
            }
        }
    }

    #[test]
    fn real_mode_and_cpl_0_may_call() {
        assert!(permitted(0, || true));
        assert!(permitted(0, || false));
        // Xen's mode 0 lets real mode call whatever CPL field the CPU reports.
        assert!(permitted(3, || false));
        assert!(!permitted(3, || true));
        assert!(!permitted(1, || true));
        let mut real = FakeSite { long: false, protected: false, cpl: 0, ..kernel64(17, [0; 5]) };
        assert_eq!(enter(&mut real, returning(Outcome::Return(5))).next, Next::Resume);
        assert_eq!(real.regs.rax, 5);
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
        let mut site = FakeSite { regs: r, long: false, protected: true, cpl: 0 };
        enter(&mut site, |_, a| {
            assert_eq!((a.call, a.compat), (Call { nr: 0x11, args: [1, 2, 3, 4, 5] }, true));
            (Outcome::Return(0), After::default())
        });
    }

    #[test]
    fn every_exit_starts_with_a_full_budget() {
        let mut site = kernel64(17, [0; 5]);
        enter(&mut site, |_, a| {
            assert_eq!((a.call.nr, a.compat, a.budget), (17, false, Budget::per_exit()));
            (Outcome::Return(7), After::default())
        });
        assert_eq!(site.regs.rax, 7);
    }

    #[test]
    fn continuations_rewrite_only_their_arguments_and_keep_rip() {
        let mut site = kernel64(29, [1, 2, 3, 4, 5]);
        assert_eq!(enter(&mut site, returning(Outcome::Continue2([10, 20]))).next, Next::Again);
        let r = site.regs;
        assert_eq!((r.rax, r.rdi, r.rsi, r.rdx, r.r10), (29, 10, 20, 3, 4), "rax keeps the number");
        let regs = GuestRegs { rax: 12, rbx: 1, rcx: 2, rdx: 3, ..GuestRegs::default() };
        let mut compat = FakeSite { regs, long: false, protected: true, cpl: 0 };
        assert_eq!(enter(&mut compat, returning(Outcome::Preempted(9))).next, Next::Again);
        assert_eq!((compat.regs.rbx, compat.regs.rcx), (9, 2));
        enter(&mut compat, returning(Outcome::Continue([7, 8, 9])));
        assert_eq!((compat.regs.rbx, compat.regs.rcx, compat.regs.rdx, compat.regs.rax), (7, 8, 9, 12));
    }

    #[test]
    fn waits_return_zero_and_a_shutdown_seen_after_the_call_stops_the_vcpu() {
        let mut site = kernel64(29, [0; 5]);
        assert_eq!(enter(&mut site, returning(Outcome::Block)).next, Next::Block);
        assert_eq!(site.regs.rax, 0);
        assert_eq!(enter(&mut site, returning(Outcome::Poll(5))).next, Next::Poll(5));
        let after = After { shut_down: Some(3) };
        let step = enter(&mut site, |_, _| (Outcome::Return(0), after));
        assert_eq!(step, Step { next: Next::Shutdown(3) });
        assert_eq!(enter(&mut site, returning(Outcome::Shutdown(1))).next, Next::Shutdown(1));
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
        let mut b = Budget::per_exit();
        b.spend(255);
        assert!(!b.exhausted());
        b.spend(2);
        assert!(b.exhausted());
    }
}
