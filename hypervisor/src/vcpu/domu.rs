//! Running DomU vCPUs on the APs: take a queued vCPU, give it fresh
//! hardware state from the context its builder set (PVH boot state: 32-bit
//! flat protected mode, paging off, at the context's RIP with its RBX),
//! run it until its domain stops, then tell Dom0 (VIRQ_DOM_EXC).

use abi::sched::SHUTDOWN_CRASH;
use abi::xen::VIRQ_DOM_EXC;

use super::run::{End, Guest, run};
use super::{io, msr};
use crate::arch::x86_64::cpu;
use crate::arch::x86_64::virt::Backend;
use crate::arch::x86_64::virt::exit::BootState;
use crate::arch::x86_64::virt::vcpu::{HwVcpu, NestedPaging};
use crate::domain::object::DomainState;
use crate::domain::table::DOMAINS;
use crate::hypercall::event_channel::send_virq;
use crate::log::Level;
use crate::mm::p2m::Format;
use crate::sched::runqueue::{RUNQUEUE, VcpuRef};

/// ASID / VPID of the vCPU an AP runs: one per CPU (Dom0 has 1), flushed
/// whenever a new vCPU starts there.
fn tag(cpu: usize) -> u16 {
    2u16.saturating_add(crate::bits::low16(cpu as u64))
}

/// Runs the next queued vCPU on this CPU (`cpu`) until it stops; false if
/// the queue was empty.
pub fn run_next(cpu: usize, backend: Backend) -> bool {
    let Some((v, boot, paging)) = claim_next(cpu) else { return false };
    // Nothing of the vCPU that ran here before may show: FPU/SSE/AVX state,
    // XCR0, DR0-DR3/DR6 and the SYSCALL/SWAPGS MSRs (VMX passes them through).
    cpu::reset_extended_state();
    cpu::reset_guest_registers();
    let intercept = |port| io::intercepted(false, port, &[None; 2]);
    let mut hw = match HwVcpu::new(backend, boot, paging, tag(cpu), &intercept, msr::PASSTHROUGH) {
        Ok(hw) => hw,
        Err(e) => {
            crate::log::write_guest(Level::Error, v.domid, v.vcpu, "sched", format_args!("cannot create the vCPU: {e}"));
            finish(v, &End::Crashed(alloc::format!("{e}")));
            return true;
        }
    };
    hw.flush_tlb();
    crate::log::write_guest(Level::Info, v.domid, v.vcpu, "sched", format_args!("runs on cpu{cpu} at {:#x}", boot.rip));
    let mut guest = Guest::new(v.domid, v.vcpu);
    let end = run(&mut hw, &mut guest);
    hw.destroy();
    finish(v, &end);
    true
}

/// Takes the first queued vCPU that may run on `cpu` (its hard affinity),
/// dropping entries that cannot run any more, and marks it running there.
fn claim_next(cpu: usize) -> Option<(VcpuRef, BootState, NestedPaging)> {
    let mut domains = DOMAINS.lock();
    let runnable = |v: VcpuRef| domains.get(v.domid).is_some_and(|d| d.runnable(v.vcpu));
    let fits = |v: VcpuRef| {
        domains.get(v.domid).and_then(|d| d.vcpus.get(v.vcpu as usize)).is_some_and(|s| cpu < 64 && s.hard_affinity & (1 << cpu) != 0)
    };
    let v = RUNQUEUE.lock().take(runnable, fits)?;
    let d = domains.get_mut(v.domid)?;
    let eptp = if d.p2m.format() == Format::Ept { d.p2m.eptp() } else { 0 };
    let paging = NestedPaging { npt_root: d.p2m.ncr3(), eptp };
    let state = d.vcpus.get_mut(v.vcpu as usize)?;
    let regs = state.context?.regs;
    state.running_on = Some(cpu);
    Some((v, BootState { rip: regs.rip, rbx: regs.rbx }, paging))
}

/// The vCPU left its CPU: a shutdown or crash becomes the domain's state
/// (the first one wins) and Dom0 hears of it, as from Xen's
/// `domain_shutdown`.
fn finish(v: VcpuRef, end: &End) {
    let reason = match end {
        End::Shutdown(reason) => Some(*reason),
        End::Crashed(_) => Some(SHUTDOWN_CRASH),
        End::Destroyed | End::Down => None,
    };
    let mut domains = DOMAINS.lock();
    let Some(d) = domains.get_mut(v.domid) else { return };
    if let Some(state) = d.vcpus.get_mut(v.vcpu as usize) {
        state.running_on = None;
    }
    let Some(reason) = reason else { return };
    if d.state == DomainState::Running {
        d.state = DomainState::Shutdown(reason);
        crate::log::write_guest(Level::Info, v.domid, v.vcpu, "sched", format_args!("domain shut down, reason {reason}"));
    }
    if let Some(dom0) = domains.get_mut(0) {
        send_virq(dom0, 0, VIRQ_DOM_EXC);
    }
}
