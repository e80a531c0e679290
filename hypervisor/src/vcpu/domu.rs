//! Running DomU vCPUs on the APs under the scheduler. An AP admits a
//! queued vCPU (fresh hardware state from the context its builder set: PVH
//! boot state, 32-bit flat protected mode, paging off, at the context's
//! RIP with its RBX); from then on it is resident there, and the AP runs
//! its residents in the slices `sched::credit` decides, saving and
//! restoring what no VMCS/VMCB switches, until each one's run ends; then
//! Dom0 hears of it (VIRQ_DOM_EXC).
//!
//! An AP admits a vCPU only while no other AP it may run on has fewer
//! residents. A resident stays on its AP until its hard affinity
//! (setvcpuaffinity, `vcpu-pin`) no longer allows that CPU: then the AP
//! saves what the CPU holds of it, clears its VMCS (`HwVcpu::leave_cpu`)
//! and hands it over through [`MIGRATING`] to an AP its affinity allows,
//! which loads it with its own host state and tag (`HwVcpu::join_cpu`).
//! The same hand-over balances load: an AP with two runnable vCPUs more
//! than the least loaded other AP gives it one ([`Ap::balance`]).
//! The vCPUs of one domain may live on different APs: a p2m change shoots
//! their translations down (`mm::shootdown`).

use alloc::vec::Vec;
use core::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use spin::Mutex;

use abi::sched::SHUTDOWN_CRASH;
use abi::xen::VIRQ_DOM_EXC;

use super::run::{End, Guest, Left, Slice, arm_host_timer, next_deadline, run_slice, waiting_over};
use super::{io, msr};
use crate::arch::x86_64::cpu::{self, SavedGuestState};
use crate::arch::x86_64::percpu::{self, MAX_CPUS};
use crate::arch::x86_64::virt::Backend;
use crate::arch::x86_64::virt::exit::BootState;
use crate::arch::x86_64::virt::vcpu::{HwVcpu, NestedPaging};
use crate::domain::object::DomainState;
use crate::domain::table::DOMAINS;
use crate::hypercall::event_channel::send_virq;
use crate::log::Level;
use crate::mm::p2m::Format;
use crate::sched::runqueue::{RUNQUEUE, VcpuRef};

/// Residents per CPU, for admission (only that CPU changes its count).
static RESIDENTS: [AtomicUsize; MAX_CPUS] = [const { AtomicUsize::new(0) }; MAX_CPUS];

/// Residents that are not blocked, per CPU, for load balancing (only that
/// CPU changes its count).
static LOAD: [AtomicUsize; MAX_CPUS] = [const { AtomicUsize::new(0) }; MAX_CPUS];

/// Residents that left their AP for another: their state saved, VMCS
/// cleared; the domain still has them `running_on` the CPU they left, so
/// it is not freed under them. Lock order: MIGRATING, then DOMAINS.
static MIGRATING: Mutex<Vec<Migrant>> = Mutex::new(Vec::new());

/// A resident on its way to one of the APs in `to`.
struct Migrant {
    r: Resident,
    to: u64,
}

/// How often an AP compares its load with the other APs' (Xen's credit2
/// balances at each decision between runqueues; this is coarser, and one
/// vCPU moves at a time).
const BALANCE_NS: u64 = 10_000_000;

/// ASID / VPID of the vCPUs an AP runs: one per CPU (Dom0 has 1), flushed
/// whenever another vCPU runs there.
fn tag(cpu: usize) -> u16 {
    2u16.saturating_add(crate::bits::low16(cpu as u64))
}

fn now() -> u64 {
    crate::domain::object::system_time_at(cpu::rdtsc())
}

/// A vCPU living on this CPU.
struct Resident {
    v: VcpuRef,
    hw: HwVcpu,
    guest: Guest,
    /// Its registers that no VMCS/VMCB holds, while another vCPU runs here.
    saved: SavedGuestState,
    /// It left blocked and has not been woken.
    blocked: bool,
}

/// One AP's scheduling loop state: its residents and whose registers the
/// CPU holds now.
pub struct Ap {
    cpu: usize,
    backend: Backend,
    residents: Vec<Resident>,
    /// The resident whose FPU, debug and SYSCALL registers are live on the
    /// CPU (saved into its `saved` before another one runs).
    live: Option<VcpuRef>,
    /// When it last compared loads ([`Ap::balance`]).
    balanced_at: u64,
}

impl Ap {
    pub fn new(cpu: usize, backend: Backend) -> Self {
        Ap { cpu, backend, residents: Vec::new(), live: None, balanced_at: 0 }
    }

    /// One decision: admit a queued vCPU if this CPU should take it, wake
    /// residents whose wait is over, then run the one the scheduler picks
    /// for its slice, or halt until an interrupt when none may run.
    /// Entered with interrupts off.
    pub fn step(&mut self) {
        self.release_unpinned();
        self.balance();
        self.admit();
        let Some(sched) = crate::sched::get() else {
            cpu::wait_for_interrupt();
            x86_64::instructions::interrupts::disable();
            return;
        };
        for r in self.residents.iter_mut().filter(|r| r.blocked) {
            if waiting_over(&mut r.guest) {
                r.blocked = false;
                let _ = sched.lock().wake(r.v, now());
            }
        }
        LOAD[self.cpu].store(self.residents.iter().filter(|r| !r.blocked).count(), Relaxed);
        let decision = sched.lock().schedule(self.cpu, now());
        if let Some(other) = decision.kick {
            crate::arch::x86_64::apic::kick_cpu(other);
        }
        let Some(v) = decision.next else {
            // Halt until the first deadline of a blocked resident (whose
            // timers `waiting_over` fires), a kick, or the scheduler's next
            // refill (which unparks capped ones: their timers fire when they run).
            let residents = self.residents.iter().filter(|r| r.blocked).filter_map(|r| next_deadline(&r.guest));
            arm_host_timer(residents.chain([decision.run_until_ns]).min());
            cpu::wait_for_interrupt();
            x86_64::instructions::interrupts::disable();
            return;
        };
        let Some(at) = self.residents.iter().position(|r| r.v == v) else {
            // Not one of ours (cannot happen: residents are pinned here).
            sched.lock().remove(v);
            return;
        };
        self.switch_to(at);
        let shared = self.residents.len() > 1;
        let r = &mut self.residents[at];
        let started = now();
        let left = run_slice(&mut r.hw, &mut r.guest, Slice { until_ns: decision.run_until_ns, shared });
        sched.lock().account(v, now().saturating_sub(started));
        match left {
            Left::Yield => {}
            Left::Blocked => {
                r.blocked = true;
                sched.lock().block(v, now());
            }
            Left::End(end) => {
                sched.lock().remove(v);
                let r = self.residents.swap_remove(at);
                RESIDENTS[self.cpu].store(self.residents.len(), Relaxed);
                if self.live == Some(v) {
                    self.live = None;
                }
                r.hw.destroy();
                finish(v, &end);
            }
        }
    }

    /// Makes resident `at` the one whose state the CPU holds: the previous
    /// one's registers are saved, this one's restored, its VMCS loaded, and
    /// the shared ASID/VPID flushed.
    fn switch_to(&mut self, at: usize) {
        let v = self.residents[at].v;
        if self.live == Some(v) {
            return;
        }
        self.save_live();
        let r = &mut self.residents[at];
        r.saved.restore();
        if !r.hw.make_current() {
            crate::log::write_guest(Level::Error, v.domid, v.vcpu, "sched", format_args!("cpu{}: its VMCS could not be loaded", self.cpu));
        }
        r.hw.flush_tlb();
        self.live = Some(v);
    }

    /// Saves the registers of the resident whose state the CPU holds (if
    /// one does) into its `saved`: another is about to use the CPU.
    fn save_live(&mut self) {
        if let Some(prev) = self.live.take().and_then(|p| self.residents.iter_mut().find(|r| r.v == p)) {
            prev.saved.save();
        }
    }

    /// Hands the residents whose hard affinity no longer has this CPU (but
    /// has another online one) to [`MIGRATING`]; looked at only when
    /// setvcpuaffinity asked this CPU to (`kick::reschedule`), so that a
    /// decision takes no extra lock.
    fn release_unpinned(&mut self) {
        if !crate::sched::kick::take_reschedule(self.cpu) || self.residents.is_empty() {
            return;
        }
        let cpu = self.cpu;
        // Another AP it may run on (CPU 0 is Dom0's).
        let others = online_mask() & !(1 << cpu) & !1;
        // (resident, the APs it may go to)
        let mut leaving: Vec<(usize, u64)> = {
            let domains = DOMAINS.lock();
            let affinity = |v: VcpuRef| domains.get(v.domid).and_then(|d| d.vcpus.get(v.vcpu as usize)).map_or(u64::MAX, |s| s.hard_affinity);
            (0..self.residents.len())
                .map(|i| (i, affinity(self.residents[i].v)))
                .filter(|&(_, a)| a & (1 << cpu) == 0 && a & others != 0)
                .map(|(i, a)| (i, a & others))
                .collect()
        };
        // Highest index first: swap_remove moves only later ones.
        leaving.sort_unstable_by_key(|&(at, _)| core::cmp::Reverse(at));
        for (at, to) in leaving {
            self.hand_over(at, to, format_args!("its affinity no longer has it"));
        }
    }

    /// Moves one runnable resident to the least loaded other AP when that
    /// one has at least two runnable vCPUs fewer (Xen credit2's load
    /// balancing, by counts): every [`BALANCE_NS`] at most, one move in
    /// flight at a time, only vCPUs whose hard affinity allows the target
    /// and whose soft affinity keeps them here only by less than
    /// [`SOFT_WEIGHT`].
    fn balance(&mut self) {
        let (cpu, at) = (self.cpu, now());
        if self.residents.len() < 2 || at < self.balanced_at.saturating_add(BALANCE_NS) {
            return;
        }
        self.balanced_at = at;
        let mine = LOAD[cpu].load(Relaxed);
        let online = online_mask() & !1 & !(1 << cpu);
        let least = (1..MAX_CPUS.min(64)).filter(|&c| online & (1 << c) != 0).map(|c| (LOAD[c].load(Relaxed), c)).min();
        let Some((theirs, to)) = least.filter(|&(theirs, _)| mine >= theirs + 2) else { return };
        let moving = {
            let migrating = MIGRATING.lock();
            if !migrating.is_empty() {
                return;
            }
            let domains = DOMAINS.lock();
            let affinity = |v: VcpuRef| domains.get(v.domid).and_then(|d| d.vcpus.get(v.vcpu as usize)).map_or((0, 0), |s| (s.hard_affinity, s.soft_affinity));
            // Its hard affinity allows the target; its soft one too, or it
            // has no soft CPU here, or the imbalance outweighs the preference.
            let movable = |r: &&Resident| {
                let (hard, soft) = affinity(r.v);
                let soft_here = soft & (1 << cpu) != 0 && soft & (1 << to) == 0;
                !r.blocked && hard & (1 << to) != 0 && (!soft_here || mine >= theirs + SOFT_WEIGHT)
            };
            // Not the one whose registers are on the CPU, if another can go.
            let pick = self.residents.iter().filter(movable).find(|r| self.live != Some(r.v)).or_else(|| self.residents.iter().find(movable));
            pick.map(|r| r.v)
        };
        let Some(at) = moving.and_then(|v| self.residents.iter().position(|r| r.v == v)) else { return };
        self.hand_over(at, 1 << to, format_args!("balance: cpu{to} runs {theirs} vCPUs, this one {mine}"));
    }

    /// Takes resident `at` off this CPU (its registers saved, its VMCS
    /// cleared, the scheduler forgets it here) and hands it to the APs in
    /// `to` through [`MIGRATING`], kicking them.
    fn hand_over(&mut self, at: usize, to: u64, why: core::fmt::Arguments) {
        let cpu = self.cpu;
        let mut r = self.residents.swap_remove(at);
        RESIDENTS[cpu].store(self.residents.len(), Relaxed);
        LOAD[cpu].store(self.residents.iter().filter(|r| !r.blocked).count(), Relaxed);
        if self.live == Some(r.v) {
            r.saved.save();
            self.live = None;
        }
        if let Some(sched) = crate::sched::get() {
            sched.lock().remove(r.v);
        }
        if !r.hw.leave_cpu() {
            crate::log::write_guest(Level::Error, r.v.domid, r.v.vcpu, "sched", format_args!("cpu{cpu}: its VMCS could not be cleared"));
        }
        crate::log::write_guest(Level::Info, r.v.domid, r.v.vcpu, "sched", format_args!("leaves cpu{cpu}: {why}"));
        MIGRATING.lock().push(Migrant { r, to });
        // An idle AP halts until its tick: wake the ones it may go to.
        (1..MAX_CPUS.min(64)).filter(|&c| to & (1 << c) != 0).for_each(crate::arch::x86_64::apic::kick_cpu);
    }

    /// Takes a vCPU that left another AP for this one, if its affinity
    /// allows this CPU: loads it here, and the scheduler learns it anew.
    fn take_migrant(&mut self) -> bool {
        let Some(sched) = crate::sched::get() else { return false };
        let cpu = self.cpu;
        let wanted = |m: &Migrant| {
            let domains = DOMAINS.lock();
            m.to & (1 << cpu) != 0
                && domains.get(m.r.v.domid).and_then(|d| d.vcpus.get(m.r.v.vcpu as usize)).is_none_or(|s| s.hard_affinity & (1 << cpu) != 0)
        };
        let mut r = {
            let mut migrating = MIGRATING.lock();
            let Some(at) = migrating.iter().position(wanted) else { return false };
            migrating.swap_remove(at).r
        };
        self.save_live();
        if !r.hw.join_cpu(tag(cpu)) {
            crate::log::write_guest(Level::Error, r.v.domid, r.v.vcpu, "sched", format_args!("cpu{cpu}: its VMCS could not be loaded"));
        }
        r.saved.restore();
        r.hw.flush_tlb();
        if let Some(state) = DOMAINS.lock().get_mut(r.v.domid).and_then(|d| d.vcpus.get_mut(r.v.vcpu as usize)) {
            state.running_on = Some(cpu);
        }
        if let Err(e) = schedule_on(sched, r.v, cpu, r.blocked) {
            crate::log::write_guest(Level::Error, r.v.domid, r.v.vcpu, "sched", format_args!("the scheduler refused it here: {e:?}"));
        }
        crate::log::write_guest(Level::Info, r.v.domid, r.v.vcpu, "sched", format_args!("moved to cpu{cpu}"));
        self.live = Some(r.v);
        self.residents.push(r);
        RESIDENTS[cpu].store(self.residents.len(), Relaxed);
        true
    }

    /// Takes the first queued vCPU that may run here, if no other AP it
    /// may run on has fewer residents, and makes it resident (a vCPU
    /// moving here from another AP first).
    fn admit(&mut self) {
        if self.take_migrant() {
            return;
        }
        let Some(sched) = crate::sched::get() else { return };
        let Some((v, boot, paging)) = claim_next(self.cpu) else { return };
        // Nothing of the vCPU that ran here before may show: FPU/SSE/AVX state,
        // XCR0, DR0-DR3/DR6 and the SYSCALL/SWAPGS MSRs (VMX passes them through).
        self.save_live();
        cpu::reset_extended_state();
        cpu::reset_guest_registers();
        // Dom0's other vCPUs run here too, with Dom0's port access.
        let hardware = v.domid == 0;
        let pm1 = if hardware { crate::arch::x86_64::power::pm1_control() } else { [None; 2] };
        let intercept = |port| io::intercepted(hardware, port, &pm1);
        let mut hw = match HwVcpu::new(self.backend, boot, paging, tag(self.cpu), &intercept, msr::PASSTHROUGH) {
            Ok(hw) => hw,
            Err(e) => {
                crate::log::write_guest(Level::Error, v.domid, v.vcpu, "sched", format_args!("cannot create the vCPU: {e}"));
                finish(v, &End::Crashed(alloc::format!("{e}")));
                return;
            }
        };
        hw.flush_tlb();
        if let Err(e) = schedule_on(sched, v, self.cpu, false) {
            crate::log::write_guest(Level::Error, v.domid, v.vcpu, "sched", format_args!("the scheduler refused it: {e:?}"));
            hw.destroy();
            finish(v, &End::Crashed(alloc::format!("scheduler: {e:?}")));
            return;
        }
        crate::log::write_guest(Level::Info, v.domid, v.vcpu, "sched", format_args!("runs on cpu{} at {:#x}", self.cpu, boot.rip));
        let switch_msrs = matches!(self.backend, Backend::Vmx(_));
        self.residents.push(Resident { v, hw, guest: Guest::new(v.domid, v.vcpu), saved: SavedGuestState::new(switch_msrs), blocked: false });
        self.live = Some(v);
        RESIDENTS[self.cpu].store(self.residents.len(), Relaxed);
    }
}

/// The scheduler learns `v`, pinned to `cpu` (the AP it lives on), with the
/// weight and cap the toolstack set for its domain (a cap can fail against
/// the vCPUs inserted so far: the domctl checked it against the domain's
/// maximum); woken unless it waits for something (`blocked`).
fn schedule_on(sched: &spin::Mutex<crate::sched::credit::Credit2>, v: VcpuRef, cpu: usize, blocked: bool) -> Result<(), abi::errno::Errno> {
    let mut s = sched.lock();
    s.insert(v).and_then(|()| s.set_affinity(v, 1 << cpu, 1 << cpu))?;
    let _ = s.put_info(v.domid, crate::sched::params::get(v.domid), now());
    // Inserted blocked: a blocked one waits for its wake-up.
    if !blocked {
        s.wake(v, now());
    }
    Ok(())
}

/// Whether `cpu` should take a vCPU allowed on `affinity`: no other online
/// AP of that mask has fewer residents.
fn online_mask() -> u64 {
    let online = percpu::online_count().min(64);
    if online >= 64 { u64::MAX } else { (1u64 << online) - 1 }
}

fn least_loaded(cpu: usize, affinity: u64) -> bool {
    let mine = RESIDENTS[cpu].load(Relaxed);
    (1..MAX_CPUS.min(percpu::online_count() as usize)).filter(|&c| c != cpu && affinity & (1 << c) != 0).all(|c| RESIDENTS[c].load(Relaxed) >= mine)
}

/// How much load a vCPU's soft affinity (`cpus_soft`) is worth: it is
/// placed, or balanced, outside its soft CPUs only when they have this
/// many residents more than the CPU outside.
const SOFT_WEIGHT: usize = 3;

/// Whether `cpu` should admit a vCPU of these affinities: the least loaded
/// of its hard CPUs, preferring its soft ones ([`SOFT_WEIGHT`]).
fn admits(cpu: usize, hard: u64, soft: u64) -> bool {
    let preferred = hard & soft & online_mask() & !1;
    if preferred == 0 || preferred & (1 << cpu) != 0 {
        return least_loaded(cpu, if preferred == 0 { hard } else { preferred });
    }
    let mine = RESIDENTS[cpu].load(Relaxed);
    least_loaded(cpu, hard & !preferred)
        && (1..MAX_CPUS.min(64)).filter(|&c| preferred & (1 << c) != 0).all(|c| RESIDENTS[c].load(Relaxed) >= mine + SOFT_WEIGHT)
}

/// Takes the first queued vCPU that may run on `cpu` (its hard affinity)
/// and that this CPU should take ([`least_loaded`]), dropping entries that
/// cannot run any more, and marks it running there.
fn claim_next(cpu: usize) -> Option<(VcpuRef, BootState, NestedPaging)> {
    let mut domains = DOMAINS.lock();
    let runnable = |v: VcpuRef| domains.get(v.domid).is_some_and(|d| d.runnable(v.vcpu));
    let fits = |v: VcpuRef| {
        let Some(s) = domains.get(v.domid).and_then(|d| d.vcpus.get(v.vcpu as usize)) else { return false };
        cpu < 64 && s.hard_affinity & (1 << cpu) != 0 && admits(cpu, s.hard_affinity, s.soft_affinity)
    };
    let v = RUNQUEUE.lock().take(runnable, fits)?;
    let d = domains.get_mut(v.domid)?;
    let eptp = if d.p2m.format() == Format::Ept { d.p2m.eptp() } else { 0 };
    let paging = NestedPaging { npt_root: d.p2m.ncr3(), eptp };
    let state = d.vcpus.get_mut(v.vcpu as usize)?;
    let context = state.context?;
    state.running_on = Some(cpu);
    Some((v, BootState { rip: context.regs.rip, rbx: context.regs.rbx, mode: context.mode }, paging))
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
