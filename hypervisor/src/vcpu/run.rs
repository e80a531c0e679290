//! The vCPU loop: enter the guest, decode one `Exit`, act, repeat, until the
//! domain shuts down or breaks a rule (then it is crashed, alone).

use crate::bits::low32;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;

use abi::errno::Errno;

use super::cpuid::{self, Asker, Regs4};
use super::interrupts::{self, Interrupts, UpcallRoute};
use super::io;
use super::mmio::{self as mmio_exit, Claim};
use super::msr::{self, MsrRead, MsrWrite};
use crate::arch::x86_64::{cpu, power};
use crate::arch::x86_64::virt::exit::Exit;
use crate::arch::x86_64::virt::vcpu::{HwVcpu, take_pending_interrupts};

use crate::domain::object::{Domain, DomainState};
use crate::domain::table::{DOMAINS, DomainsGuard};
use crate::event::signals::VcpuSignals;
use crate::event::two_level;
use crate::console::guest::Output;
use crate::hypercall::entry::{self, After, Next, Site};
use crate::hypercall::{self, Budget, Caller, DomainOps, MachineInfo};
use crate::log::Level;
use crate::mm::guest::{self, GuestMemory, GuestPaging};
use crate::mm::p2m::{Access, Gfn, P2mType};
use crate::mm::shootdown::{Epoch, IN_GUEST};

/// How a vCPU's run ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum End {
    /// The guest asked for it (`SHUTDOWN_*` reason).
    Shutdown(u32),
    /// The hypervisor crashed the domain, for this reason.
    Crashed(String),
    /// The domain is being destroyed (or is gone): stop without a reason.
    Destroyed,
    /// This vCPU went down (HLT with interrupts off, Xen's
    /// `hvm_vcpu_down`) while others of its domain are still up.
    Down,
}

/// Why [`run_slice`] gave the CPU back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Left {
    /// The vCPU's run is over.
    End(End),
    /// The slice ended, or something the scheduler must look at came (a
    /// kick, a vCPU queued for a CPU): it may run on.
    Yield,
    /// It waits ([`Guest::waiting`] says for what); [`waiting_over`] tells
    /// when it may run again.
    Blocked,
}

/// A run of a vCPU that shares its CPU under the scheduler.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Slice {
    /// System time (ns) at which it gives the CPU back, at the first host
    /// event (timer tick, kick) from then on.
    pub until_ns: u64,
    /// Other vCPUs live on this CPU: any host event makes it leave, so the
    /// scheduler sees a vCPU woken there (wake-up preemption).
    pub shared: bool,
}

/// What a blocked vCPU waits for, and the facts of its state at that
/// point that [`waiting_over`] needs without its VMCS/VMCB at hand.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Waiting {
    how: Wait,
    /// RFLAGS.IF when it stopped (HLT waits for an interrupt it can take).
    interrupts_on: bool,
}

/// The vCPU a loop runs, its console output, and what the hypervisor
/// owes it (shared with its domain's `VcpuState`).
pub struct Guest {
    pub domid: u16,
    pub vcpu_id: u32,
    /// Its console lines, printed after each hypercall (outside the domain
    /// table lock).
    console: Output,
    /// Dom0, Xen's hardware domain: its console output is not rate-limited,
    /// and it reaches the PM1 control registers (through `sleep_control`).
    hardware_domain: bool,
    signals: Arc<VcpuSignals>,
    /// Its local APIC and upcall state.
    ints: Interrupts,
    /// Accesses the null handler answered (the first few are logged).
    null_accesses: u64,
    /// Its MSRs beyond what the hardware switches (MTRRs, vMCE, ...).
    msrs: msr::VcpuMsrs,
    /// PIT counter 2, which Linux calibrates the TSC against (one per
    /// vCPU: only the boot vCPU calibrates).
    pit: crate::dev::pit::Pit,
    /// This CPU's host interrupt count (timer ticks and pings) when the
    /// loop last acted on them ([`host_events`]).
    host_events_seen: u64,
    /// Under the scheduler (a DomU on an AP): the slice it runs in; None
    /// for Dom0, which owns its CPU and waits on it.
    slice: Option<Slice>,
    /// Set when it left blocked.
    pub waiting: Option<Waiting>,
    /// Its last hypercall, for the crash report: a guest that broke its
    /// own memory with a call dies at the next access, and this names it.
    last_call: Option<hypercall::Call>,
    /// Its domain's p2m epoch, and the one it last flushed at.
    tlb: Arc<Epoch>,
    tlb_seen: u64,
    /// The gpa of its last nested page fault that the p2m allowed, and how
    /// many came in a row there; and how many were retried in all.
    spurious_faults: (u64, u32),
    retried_faults: u64,
}

impl Guest {
    /// The loop of vCPU `vcpu_id` of domain `domid` (which is in the table).
    pub fn new(domid: u16, vcpu_id: u32) -> Self {
        let (signals, privileged, tlb) = {
            let domains = DOMAINS.lock();
            let d = domains.get(domid);
            let signals = d.and_then(|d| d.vcpus.get(vcpu_id as usize)).map(|v| v.signals.clone());
            (signals.unwrap_or_default(), d.is_some_and(|d| d.privileged), d.map_or_else(Epoch::new, |d| d.tlb.clone()))
        };
        // The vLAPIC offers x2APIC and TSC-deadline mode as the guest's
        // CPUID leaf 1 does: as the host has them (vcpu/cpuid.rs).
        let ints = Interrupts::new(vcpu_id, cpu::cpuid(1, 0).ecx);
        let vendor = cpuid::Vendor::from_signature(cpu::vendor());
        let msrs = msr::VcpuMsrs::new(vendor, host_phys_bits());
        let msrs = if privileged { msrs.for_hardware_domain() } else { msrs };
        Guest { domid, vcpu_id, console: Output::new(), hardware_domain: privileged, signals, ints, null_accesses: 0, msrs, pit: Default::default(), host_events_seen: 0, slice: None, waiting: None, last_call: None, tlb, tlb_seen: u64::MAX, spurious_faults: (u64::MAX, 0), retried_faults: 0 }
    }

    fn log(&self, level: Level, subsystem: &str, args: core::fmt::Arguments) {
        crate::log::write_guest(level, self.domid, self.vcpu_id, subsystem, args);
    }

    /// Prints the console lines the last hypercall finished; the caller
    /// holds no domain lock.
    fn print_console(&mut self) {
        crate::console::guest::print(&mut self.console, self.domid, self.vcpu_id, self.hardware_domain, now());
    }

    /// Prints what is left of its console output (the vCPU stops).
    fn finish_console(&mut self) {
        self.console.end_partial();
        self.print_console();
        if !self.hardware_domain {
            crate::console::guest::report_dropped(self.domid, self.vcpu_id, now());
        }
    }
}

/// A hypercall's view of the calling vCPU: its memory through its own page
/// tables, as they were when it made the call, and the domain table.
struct HypercallContext<'g> {
    guest: &'g mut Guest,
    /// The domain table, locked at the call's first look at any domain
    /// (its memory, state or another domain) and held to its end; a call
    /// that needs none (xen_version, most timer and yield calls) runs
    /// without it.
    domains: core::cell::OnceCell<DomainsGuard<'static>>,
    vcpu: &'g HwVcpu,
    /// The guest's paging at the call, read at the first guest-virtual
    /// access, for a supervisor access (Xen's `copy_{to,from}_user_hvm`
    /// pass no `PFEC_user_mode`: only CPL 0 gets here); None for a paging
    /// mode no supported guest uses.
    paging: core::cell::OnceCell<Option<GuestPaging>>,
    compat: bool,
    budget: Budget,
    /// The last guest page translated (gva page, gpa page, writable): a
    /// one-entry TLB for this hypercall, so a batch of small structs in one
    /// page (grant ops, extents) walks the guest's tables once, not per entry.
    last_page: core::cell::Cell<Option<(u64, u64, bool)>>,
}

/// The vCPU's paging as it is now, for accesses on its kernel's behalf.
fn supervisor_paging(vcpu: &HwVcpu) -> Option<GuestPaging> {
    const CR4_SMAP: u64 = 1 << 21;
    const RFLAGS_AC: u64 = 1 << 18;
    let (cr0, cr3, cr4, efer) = vcpu.paging_state();
    // RFLAGS.AC matters only under SMAP (a `stac` lifts it).
    let ac = cr4 & CR4_SMAP != 0 && vcpu.rflags() & RFLAGS_AC != 0;
    GuestPaging::supervisor(cr0, cr3, cr4, efer, ac)
}

/// Writes the vCPU's runstate where it registered it (Xen's
/// `update_runstate_area`, at each switch): with the domain's
/// `VMASST_TYPE_runstate_update_flag`, `state_entry_time` carries
/// `XEN_RUNSTATE_UPDATE` while the rest is written, so a reader on another
/// vCPU sees no torn record. An address the guest's tables do not map is
/// skipped, as Xen does; so is every write while the vCPU runs with paging
/// off (an AP a start-up IPI just started, before its kernel's tables):
/// the kernel address it registered would be taken as a physical one.
fn publish_runstate(vcpu: &HwVcpu, guest: &Guest) {
    use abi::vcpu::{CompatVcpuRunstateInfo, VcpuRunstateInfo, XEN_RUNSTATE_UPDATE};
    use abi::zerocopy::{FromZeros, IntoBytes};
    const CR0_PG: u64 = 1 << 31;
    if vcpu.paging_state().0 & CR0_PG == 0 {
        return;
    }
    let domains = DOMAINS.lock();
    let Some(d) = domains.get(guest.domid) else { return };
    let Some(addr) = d.vcpus.get(guest.vcpu_id as usize).and_then(|v| v.runstate_area) else { return };
    let Some(paging) = supervisor_paging(vcpu) else { return };
    let r = guest.signals.runstate(now());
    let flagged = d.vm_assist & (1 << abi::xen::VMASST_TYPE_RUNSTATE_UPDATE_FLAG) != 0;
    let mut mem = d.memory();
    let mut write = |entry: u64| {
        let ok = if d.compat_shinfo {
            let mut info = CompatVcpuRunstateInfo::new_zeroed();
            (info.state, info.state_entry_time, info.time) = (r.state, entry, r.time);
            guest::write_gva(&mut mem, &paging, addr, info.as_bytes())
        } else {
            let mut info = VcpuRunstateInfo::new_zeroed();
            (info.state, info.state_entry_time, info.time) = (r.state, entry, r.time);
            guest::write_gva(&mut mem, &paging, addr, info.as_bytes())
        };
        ok.is_ok()
    };
    if flagged && !write(r.entry_ns | XEN_RUNSTATE_UPDATE) {
        return;
    }
    write(r.entry_ns);
}

impl HypercallContext<'_> {
    /// The calling vCPU's paging, read once per hypercall.
    fn paging(&self) -> Result<GuestPaging, Errno> {
        self.paging.get_or_init(|| supervisor_paging(self.vcpu)).ok_or(Errno::EFAULT)
    }

    /// The gpa of `gva` if it lies in the page translated last (for a write:
    /// translated writable); else walks the guest's tables and remembers it.
    fn translate(&self, gva: u64, write: bool) -> Result<u64, Errno> {
        const PAGE_MASK: u64 = 0xfff;
        let page = gva & !PAGE_MASK;
        if let Some((cached, gpa, writable)) = self.last_page.get()
            && cached == page
            && (writable || !write)
        {
            return Ok(gpa | (gva & PAGE_MASK));
        }
        let paging = self.paging()?;
        let gpa = guest::gva_to_gpa(&self.me().memory(), &paging, page, write)? & !PAGE_MASK;
        self.last_page.set(Some((page, gpa, write)));
        Ok(gpa | (gva & PAGE_MASK))
    }

    /// Whether `len` bytes at `gva` stay inside one page.
    fn one_page(gva: u64, len: usize) -> bool {
        len > 0 && (gva & 0xfff) + len as u64 <= 0x1000
    }
    fn me(&self) -> &Domain {
        self.table().get(self.guest.domid).expect("a running vCPU's domain is in the table")
    }

    fn table(&self) -> &DomainsGuard<'static> {
        self.domains.get_or_init(|| DOMAINS.lock())
    }

    fn table_mut(&mut self) -> &mut DomainsGuard<'static> {
        self.table();
        self.domains.get_mut().expect("locked just above")
    }
}

impl Caller for HypercallContext<'_> {
    fn domid(&self) -> u16 {
        self.guest.domid
    }
    fn vcpu_id(&self) -> u32 {
        self.guest.vcpu_id
    }
    fn privileged(&self) -> bool {
        // Fixed at the domain's creation: no need to look at the table.
        self.guest.hardware_domain
    }
    fn compat(&self) -> bool {
        self.compat
    }
    fn copy_from_guest(&self, gva: u64, buf: &mut [u8]) -> Result<(), Errno> {
        if Self::one_page(gva, buf.len()) {
            let gpa = self.translate(gva, false)?;
            return self.me().memory().read(gpa, buf).map_err(Errno::from);
        }
        let paging = self.paging()?;
        guest::read_gva(&self.me().memory(), &paging, gva, buf).map_err(Errno::from)
    }
    fn copy_to_guest(&mut self, gva: u64, buf: &[u8]) -> Result<(), Errno> {
        if Self::one_page(gva, buf.len()) {
            let gpa = self.translate(gva, true)?;
            return self.me().memory().write(gpa, buf).map_err(Errno::from);
        }
        let paging = self.paging()?;
        let mut mem = self.me().memory();
        guest::write_gva(&mut mem, &paging, gva, buf).map_err(Errno::from)
    }
    fn console_write(&mut self, bytes: &[u8]) -> usize {
        self.guest.console.take(bytes)
    }
    fn console_read(&mut self, buf: &mut [u8]) -> usize {
        crate::arch::x86_64::serial::read_pending(buf)
    }
    fn this(&mut self) -> &mut dyn DomainOps {
        let id = self.guest.domid;
        self.table_mut().get_mut(id).expect("a running vCPU's domain is in the table")
    }
    fn domain(&mut self, domid: u16) -> Option<&mut dyn DomainOps> {
        let id = if domid == abi::xen::DOMID_SELF.0 { self.guest.domid } else { domid };
        self.table_mut().get_mut(id).map(|d| d as &mut dyn DomainOps)
    }
    fn create_domain(&mut self, id: u16, max_vcpus: u32, handle: [u8; 16]) -> Result<u16, Errno> {
        if !self.table().has_room() {
            return Err(Errno::ENOMEM);
        }
        let id = if id == 0 { self.table_mut().free_id().ok_or(Errno::ENOMEM)? } else { id };
        let format = self.me().p2m.format();
        let mut domain = Domain::new(id, false, format, max_vcpus)?;
        domain.paused = true;
        domain.handle = handle;
        self.table_mut().insert(domain);
        Ok(id)
    }
    fn destroy_domain(&mut self, id: u16) -> Result<(), Errno> {
        let d = self.table_mut().get_mut(id).ok_or(Errno::ESRCH)?;
        // Dying first: no CPU takes one of its vCPUs from the queue again.
        d.dying = true;
        let running: Vec<usize> = d.vcpus.iter().filter_map(|v| v.running_on).collect();
        if !running.is_empty() {
            // Its CPUs stop it at their next exit (a kick, sent once the
            // table is unlocked, forces one);
            // the toolstack's retried hypercall then finds it stopped.
            // Nothing is released before: its vCPUs may still use it all.
            for cpu in running {
                crate::sched::kick::defer(cpu);
            }
            return Err(Errno::ERESTART);
        }
        // No vCPU of it runs or can run again: undo its grant mappings
        // (and tell its mappers it is gone), then free everything.
        crate::hypercall::grant_table::release_domain(self, id);
        crate::sched::runqueue::RUNQUEUE.lock().forget_domain(id);
        let domain = self.table_mut().remove(id).ok_or(Errno::ESRCH)?;
        self.table_mut().unbind_peers_of(&domain);
        domain.destroy();
        Ok(())
    }
    fn wait_paused(&mut self, id: u16) -> Result<(), Errno> {
        let d = self.table().get(id).ok_or(Errno::ESRCH)?;
        let here = crate::arch::cpu_index() as usize;
        let busy: Vec<usize> = d.vcpus.iter().filter(|v| v.signals.is_running()).filter_map(|v| v.running_on).filter(|&c| c != here).collect();
        if busy.is_empty() {
            return Ok(());
        }
        for cpu in busy {
            crate::sched::kick::defer(cpu);
        }
        Err(Errno::ERESTART)
    }
    fn domain_ids(&self, first: u16) -> Vec<u16> {
        self.table().from(first).map(|d| d.id).collect()
    }
    fn machine_time_ns(&self) -> u64 {
        now()
    }
    fn pvclock(&self) -> abi::xen::VcpuTimeInfo {
        use crate::arch::x86_64::tsc;
        crate::domain::time::vcpu_time_info(cpu::rdtsc(), tsc::boot_tsc(), tsc::khz() * 1000, 2)
    }
    fn copy_frame(&mut self, src: &crate::mm::handle::PinnedFrame, src_off: usize, dst: &crate::mm::handle::PinnedFrame, dst_off: usize, len: usize) -> Result<(), Errno> {
        crate::mm::copy_between(src, src_off, dst, dst_off, len).map_err(|_| Errno::EINVAL)
    }
    fn read_console_ring(&mut self, from: Option<u32>, max: usize, clear: bool) -> (Vec<u8>, u32) {
        crate::console::RING.lock().read(from, max, clear)
    }
    fn pcpu(&self, index: u32) -> Option<hypercall::Pcpu> {
        use crate::arch::x86_64::percpu;
        let c = percpu::cpu(usize::try_from(index).ok().filter(|&i| i < percpu::MAX_CPUS)?);
        c.online.load(core::sync::atomic::Ordering::Relaxed).then(|| hypercall::Pcpu {
            apic_id: c.apic_id.load(core::sync::atomic::Ordering::Relaxed),
            acpi_id: c.acpi_id.load(core::sync::atomic::Ordering::Relaxed),
        })
    }
    fn machine(&self) -> MachineInfo<'_> {
        let (usable, free) = crate::mm::frame_counts();
        MachineInfo {
            nr_cpus: crate::arch::x86_64::percpu::online_count(),
            cpu_khz: low32(crate::arch::x86_64::tsc::khz()),
            total_pages: usable as u64,
            free_pages: free as u64,
            max_mfn: crate::mm::max_mfn(),
            cmdline: crate::boot::cmdline::saved(),
            vmx: self.me().p2m.format() == crate::mm::p2m::Format::Ept,
        }
    }
    fn budget(&mut self) -> &mut Budget {
        &mut self.budget
    }
}

/// Xen system time now (ns since boot).
fn now() -> u64 {
    crate::domain::object::system_time_at(cpu::rdtsc())
}

/// Instruction lengths for SVM without NRIP save: CPUID, RDMSR/WRMSR are
/// `0f xx`, VMMCALL and XSETBV `0f 01 xx`, HLT `f4`. A guest that adds prefixes only
/// misleads itself: the next RIP lands inside its own instruction.
const LEN_CPUID: u64 = 2;
const LEN_MSR: u64 = 2;
const LEN_VMMCALL: u64 = 3;
const LEN_HLT: u64 = 1;
const LEN_XSETBV: u64 = 3;
const LEN_INVD: u64 = 2;
/// Nested page faults in a row at one gpa the p2m allows before the vCPU
/// is crashed (the hardware disagreeing with the p2m would loop forever).
const MAX_SPURIOUS_FAULTS: u32 = 16;

/// Runs `vcpu` until its domain ends, waiting on this CPU when it waits
/// (Dom0 owns its CPU).
pub fn run(vcpu: &mut HwVcpu, guest: &mut Guest) -> End {
    guest.slice = None;
    guest.signals.started(now());
    let end = match run_loop(vcpu, guest) {
        Left::End(end) => end,
        // Only a vCPU with a slice yields or blocks.
        Left::Yield | Left::Blocked => End::Destroyed,
    };
    guest.finish_console();
    guest.signals.stopped(now());
    end
}

/// Runs `vcpu` in `slice`, sharing its CPU: until the slice ends (at a host
/// event from `slice.until_ns` on), it blocks, or its run is over. The
/// caller has made its VMCS current and its registers this CPU's.
pub fn run_slice(vcpu: &mut HwVcpu, guest: &mut Guest, slice: Slice) -> Left {
    guest.slice = Some(slice);
    guest.waiting = None;
    guest.signals.started(now());
    publish_runstate(vcpu, guest);
    let left = match control(guest) {
        Some(left) => left,
        None => run_loop(vcpu, guest),
    };
    match &left {
        Left::End(_) => {
            guest.finish_console();
            guest.signals.stopped(now());
        }
        Left::Blocked => guest.signals.left_cpu(now(), true),
        Left::Yield => guest.signals.left_cpu(now(), false),
    }
    if !matches!(left, Left::End(_)) {
        publish_runstate(vcpu, guest);
    }
    left
}

/// For a vCPU that left blocked: fires its timers and says whether what it
/// waits for has come (or its domain must stop it: it runs to find out).
pub fn waiting_over(guest: &mut Guest) -> bool {
    let Some(w) = guest.waiting else { return true };
    fire_timers(guest);
    take_posted_ipis(guest);
    let over = match w.how {
        Wait::Paused => DOMAINS.lock().get(guest.domid).is_none_or(|d| !d.paused || d.dying || d.state != DomainState::Running),
        how => guest.signals.upcall_owed() || guest.ints.wakes_halt(if w.interrupts_on { 1 << 9 } else { 0 }) || woken(guest, how),
    };
    if over {
        guest.waiting = None;
    }
    over
}

fn run_loop(vcpu: &mut HwVcpu, guest: &mut Guest) -> Left {
    loop {
        if let Some(left) = host_events(guest) {
            return left;
        }
        deliver_interrupts(vcpu, guest);
        let slice_end = guest.slice.map(|s| s.until_ns);
        let deadline = next_deadline(guest).into_iter().chain(slice_end).min();
        // One clock read for both timers: this runs before every entry.
        let at = now();
        arm_host_timer_at(deadline, at);
        vcpu.set_exit_deadline(exit_within_tsc(deadline, at));
        // Published for remote shootdowns; a p2m change since this vCPU
        // last ran makes it flush first.
        let cpu_index = crate::arch::cpu_index() as usize;
        if IN_GUEST.enter(cpu_index, guest.domid, &guest.tlb, &mut guest.tlb_seen) {
            vcpu.flush_tlb();
        }
        let exit = vcpu.run();
        IN_GUEST.leave(cpu_index);
        match exit {
            Exit::Cpuid => {
                let r = vcpu.regs();
                let (leaf, subleaf) = (low32(r.rax), low32(r.rcx));
                let h = cpu::cpuid(leaf, subleaf);
                let host = Regs4 { eax: h.eax, ebx: h.ebx, ecx: h.ecx, edx: h.edx };
                let out = cpuid::guest_cpuid(leaf, subleaf, host, asker(vcpu, guest));
                let r = vcpu.regs();
                (r.rax, r.rbx, r.rcx, r.rdx) = (out.eax.into(), out.ebx.into(), out.ecx.into(), out.edx.into());
                vcpu.skip_instruction(&exit, LEN_CPUID);
            }
            Exit::Hypercall => {
                let step = hypercall(vcpu, guest);
                if guest.console.has_lines() {
                    guest.print_console();
                }
                match step.next {
                    Next::Resume => {}
                    Next::Yield if guest.slice.is_some() => {
                        vcpu.skip_instruction(&exit, LEN_VMMCALL);
                        if let Some(sched) = crate::sched::get() {
                            let v = crate::sched::runqueue::VcpuRef { domid: guest.domid, vcpu: guest.vcpu_id };
                            let _ = sched.lock().yield_cpu(v, now());
                        }
                        return Left::Yield;
                    }
                    // Dom0 owns its CPU: nothing to yield to.
                    Next::Yield => {}
                    // A continuation: the same VMCALL runs again, in a new
                    // exit with a new budget (RIP stays on it).
                    Next::Again => continue,
                    Next::Block | Next::Poll(_) => {
                        let how = if let Next::Poll(deadline) = step.next { Wait::Poll(deadline) } else { Wait::Block };
                        if !wait(vcpu, guest, how) {
                            // It resumes after the call once woken.
                            vcpu.skip_instruction(&exit, LEN_VMMCALL);
                            return Left::Blocked;
                        }
                        if let Some(left) = control(guest) {
                            vcpu.skip_instruction(&exit, LEN_VMMCALL);
                            return left;
                        }
                    }
                    Next::Shutdown(reason) => {
                        vcpu.skip_instruction(&exit, LEN_VMMCALL);
                        return Left::End(End::Shutdown(reason));
                    }
                }
                vcpu.skip_instruction(&exit, LEN_VMMCALL);
            }
            Exit::Io(access) if guest.hardware_domain && !access.string && power::pm1_control().contains(&Some(access.port)) => {
                let end = sleep_control(vcpu, guest, access);
                vcpu.skip_instruction(&exit, 0);
                if let Some(end) = end {
                    return Left::End(end);
                }
            }
            Exit::Io(access) if access.size == 1 && !access.string && crate::dev::pit::claims(access.port) => {
                let r = vcpu.regs();
                if access.write {
                    guest.pit.write(access.port, crate::bits::low8(r.rax), now());
                } else {
                    r.rax = io::rax_after_in(r.rax, 1, u32::from(guest.pit.read(access.port, now())));
                }
                vcpu.skip_instruction(&exit, 0);
            }
            Exit::Io(access) => {
                if !access.write && !access.string {
                    let r = vcpu.regs();
                    r.rax = io::rax_after_in(r.rax, access.size, io::read_value(access.size));
                }
                if access.string && access.rep {
                    vcpu.regs().rcx = 0;
                }
                vcpu.skip_instruction(&exit, 0);
            }
            Exit::MsrRead => {
                let index = low32(vcpu.regs().rcx);
                // The vLAPIC's MSRs (IA32_APIC_BASE, TSC deadline, x2APIC) first.
                let value = match guest.ints.read_msr(index, clock()) {
                    Some(apic) => apic.ok(),
                    None => match msr::classify_read(index, &guest.msrs) {
                        MsrRead::Efer => Some(vcpu.efer()),
                        MsrRead::Pat => Some(vcpu.pat()),
                        MsrRead::Value(v) => Some(v),
                        MsrRead::Host(mask) => cpu::rdmsr_checked(index).ok().map(|v| v & mask),
                        MsrRead::Fault => None,
                    },
                };
                match value {
                    Some(v) => {
                        let r = vcpu.regs();
                        (r.rax, r.rdx) = (v & 0xffff_ffff, v >> 32);
                        vcpu.skip_instruction(&exit, LEN_MSR);
                    }
                    None => {
                        guest.log(Level::Debug, "msr", format_args!("rdmsr {index:#x} -> #GP"));
                        vcpu.inject_exception(13, Some(0));
                    }
                }
            }
            Exit::MsrWrite => {
                let r = vcpu.regs();
                let (index, value) = (low32(r.rcx), (r.rdx << 32) | (r.rax & 0xffff_ffff));
                let apic = guest.ints.write_msr(index, value, clock());
                let ok = if let Some(apic) = apic { apic.is_ok() } else { match msr::classify_write(index, value, &mut guest.msrs) {
                    MsrWrite::Efer(v) => {
                        let features = msr::EferFeatures::from_cpuid_edx(cpu::cpuid(0x8000_0001, 0).edx);
                        match msr::efer_write(v, vcpu.efer(), vcpu.paging_state().0, features) {
                            Ok(efer) => {
                                vcpu.set_efer(efer);
                                true
                            }
                            Err(why) => {
                                guest.log(Level::Debug, "msr", format_args!("wrmsr efer {v:#x}: {why}"));
                                false
                            }
                        }
                    }
                    MsrWrite::Pat(v) => {
                        vcpu.set_pat(v);
                        true
                    }
                    MsrWrite::HypercallPage(gpa) => {
                        let page = msr::hypercall_page(vcpu.hypercall_instruction());
                        let domains = DOMAINS.lock();
                        domains.get(guest.domid).is_some_and(|d| d.write(gpa, &page).is_ok())
                    }
                    MsrWrite::Done => true,
                    MsrWrite::Fault => false,
                } };
                if ok {
                    vcpu.skip_instruction(&exit, LEN_MSR);
                } else {
                    guest.log(Level::Debug, "msr", format_args!("wrmsr {index:#x} value {value:#x} -> #GP"));
                    vcpu.inject_exception(13, Some(0));
                }
            }
            Exit::Xsetbv => {
                let r = vcpu.regs();
                let (index, value) = (low32(r.rcx), (r.rdx << 32) | (r.rax & 0xffff_ffff));
                let osxsave = vcpu.paging_state().2 & (1 << 18) != 0;
                if !osxsave {
                    vcpu.inject_exception(6, None);
                } else if index == 0 && msr::xcr0_valid(value, cpu::xcr0_supported()) && cpu::set_xcr0(value).is_ok() {
                    vcpu.skip_instruction(&exit, LEN_XSETBV);
                } else {
                    guest.log(Level::Debug, "xsetbv", format_args!("xcr{index} {value:#x} -> #GP"));
                    vcpu.inject_exception(13, Some(0));
                }
            }
            Exit::Invd => {
                // As Xen: a domain with devices (Dom0) gets WBINVD (this CPU
                // only: no cross-CPU flush yet), others a no-op; none
                // discards dirty lines.
                if guest.domid == 0 {
                    cpu::wbinvd();
                }
                vcpu.skip_instruction(&exit, LEN_INVD);
            }
            Exit::Cr0Write { value } => match mov_to_cr0(vcpu, guest, value) {
                // VMX reports the instruction length itself.
                Ok(()) => vcpu.skip_instruction(&exit, 0),
                Err(why) => {
                    guest.log(Level::Debug, "cr0", format_args!("mov cr0 {value:#x}: {why} -> #GP"));
                    vcpu.inject_exception(13, Some(0));
                }
            },
            Exit::Cr4Write { value } => {
                let (cr0, cr3, _, efer) = vcpu.paging_state();
                match msr::cr4_write(value, vcpu.guest_cr4(), cr0, cr3, efer, vcpu.cr4_allowed()) {
                    // VMX reports the instruction length itself.
                    Ok(cr4) => {
                        vcpu.set_cr4(cr4);
                        vcpu.skip_instruction(&exit, 0);
                    }
                    Err(why) => {
                        guest.log(Level::Debug, "cr4", format_args!("mov cr4 {value:#x}: {why} -> #GP"));
                        vcpu.inject_exception(13, Some(0));
                    }
                }
            }
            Exit::InvalidOpcode => vcpu.inject_exception(6, None),
            Exit::Hlt => {
                vcpu.skip_instruction(&exit, LEN_HLT);
                // Xen's hvm_hlt: HLT with interrupts off (and no event
                // about to be injected: the vLAPIC injects only into an open window) means the vCPU wants to stop for
                // good; only an NMI could wake it.
                const RFLAGS_IF: u64 = 1 << 9;
                if vcpu.rflags() & RFLAGS_IF == 0 {
                    return Left::End(vcpu_down(guest));
                }
                if !wait(vcpu, guest, Wait::Halt) {
                    return Left::Blocked;
                }
                if let Some(left) = control(guest) {
                    return left;
                }
            }
            // Taken, and acted on, at the top of the loop.
            Exit::ExternalInterrupt => {}
            // A deadline came (or a tick's worth of guest time passed): as
            // a timer tick for the top of the loop, which also takes a host
            // interrupt an emulator left pending.
            Exit::TimerExpired => {
                crate::arch::x86_64::percpu::this_cpu().timer_ticks.fetch_add(1, core::sync::atomic::Ordering::Relaxed);
            }
            // The guest can take an interrupt now: the top of the loop injects it.
            Exit::InterruptWindow => vcpu.set_interrupt_window(false),
            Exit::Nmi => vcpu.redeliver_nmi(),
            Exit::Init => {}
            Exit::Exception { vector, error } => vcpu.inject_exception(vector, error),
            Exit::NestedPageFault { gpa, write, fetch } => {
                // Xen's hvm_hap_nested_page_fault: a write to a read-only
                // grant mapping is the guest's #GP, not a crash.
                if write && !fetch && DOMAINS.lock().get(guest.domid).is_some_and(|d| d.is_readonly_grant(gpa >> 12)) {
                    guest.log(Level::Debug, "p2m", format_args!("write to a read-only grant mapping at gpa {gpa:#x} -> #GP"));
                    vcpu.inject_exception(13, Some(0));
                    continue;
                }
                if let Err(why) = emulate_mmio(vcpu, guest, gpa, write, fetch) {
                    return Left::End(crash(guest, vcpu, format_args!("{why}")));
                }
            }
            Exit::TripleFault => return Left::End(triple_fault(guest, vcpu)),
            Exit::InvalidState { code } => {
                return Left::End(crash(guest, vcpu, format_args!("the CPU refused its state (code {code:#x})")));
            }
            Exit::HostStateSaved { code, info: [i1, i2, int_info], entered_with: [cr0, cr3, cr4, intercepts, asid] } => {
                let why = format_args!("its state was lost: exit {code:#x} ({i1:#x}, {i2:#x}, int info {int_info:#x}) saved the host's in its place; entered with cr0={cr0:#x} cr3={cr3:#x} cr4={cr4:#x} intercepts={intercepts:#x} asid={asid:#x}");
                return Left::End(crash(guest, vcpu, why));
            }
            Exit::RefusedState { why } => {
                return Left::End(crash(guest, vcpu, format_args!("not entered: its state would fail VM entry ({why})")));
            }
            Exit::Unhandled { code } => return Left::End(crash(guest, vcpu, format_args!("unhandled exit {code:#x}"))),
        }
    }
}

/// Dom0's access to a PM1 control register (ACPI sleep). Reads and plain
/// writes reach the register; SLP_EN does not: the hypervisor cannot be
/// suspended, so Dom0 shuts down with poweroff, and the write is made once
/// the machine has stopped (`power::stop_machine`). Xen lets a PVH Dom0's
/// write through and the machine goes off under it; this way the hypervisor
/// frees Dom0, reports, and an emulator gets its exit status.
fn sleep_control(vcpu: &mut HwVcpu, guest: &mut Guest, access: crate::arch::x86_64::virt::exit::IoAccess) -> Option<End> {
    let r = vcpu.regs();
    if !access.write {
        r.rax = io::rax_after_in(r.rax, access.size, power::pm1_read(access.port, access.size));
        return None;
    }
    let value = low32(r.rax & io::width_mask(access.size));
    match io::sleep_write(value) {
        io::Pm1Write::Write => {
            power::pm1_write(access.port, access.size, value);
            None
        }
        io::Pm1Write::Sleep { slp_typ } => {
            guest.log(
                Level::Info,
                "power",
                format_args!("ACPI sleep (PM1 control {:#x} = {value:#x}, SLP_TYP {slp_typ}): shutting down with poweroff", access.port),
            );
            power::request_sleep(access.port, crate::bits::low16(u64::from(value)));
            Some(End::Shutdown(abi::sched::SHUTDOWN_POWEROFF))
        }
    }
}

/// Takes the host interrupts pending on this CPU, and if any came since
/// the last look (a timer tick, a ping: a destroy, pause or event for this
/// vCPU), fires its timers and sees whether it must stop. Runs before every
/// VM entry, as Xen checks its softirqs there: an interrupt that arrives
/// while this CPU handles an exit (interrupts off) must not wait for one
/// that the guest takes as an external-interrupt exit. Bochs's VMX never
/// makes that exit for an interrupt left pending at VM entry, so a guest
/// that spins on hypercalls there never saw a destroy, a pause or a tick.
fn host_events(guest: &mut Guest) -> Option<Left> {
    use core::sync::atomic::Ordering::Relaxed;
    take_pending_interrupts();
    let cpu = crate::arch::x86_64::percpu::this_cpu();
    let seen = cpu.timer_ticks.load(Relaxed).wrapping_add(cpu.ipis_received.load(Relaxed));
    if seen == guest.host_events_seen {
        return None;
    }
    guest.host_events_seen = seen;
    fire_timers(guest);
    if let Some(left) = control(guest) {
        return Some(left);
    }
    // Under the scheduler: the slice is over, a vCPU of this CPU may have
    // woken, one waits to be admitted to a CPU, or a decision was asked for.
    let slice = guest.slice?;
    let asked = crate::sched::kick::reschedule_asked(crate::arch::cpu_index() as usize);
    let over = asked || slice.shared || now() >= slice.until_ns || !crate::sched::runqueue::RUNQUEUE.lock().is_empty();
    over.then_some(Left::Yield)
}

/// When something of this vCPU is due next (system time, ns): its Xen
/// timers (singleshot, periodic), its vLAPIC timer, the deadline of the
/// poll it waits in (not its slice's end: see `run_loop`).
pub fn next_deadline(guest: &Guest) -> Option<u64> {
    let (apic_ns, apic_tsc) = guest.ints.vlapic.next_deadline();
    let poll = match guest.waiting {
        Some(Waiting { how: Wait::Poll(deadline), .. }) if deadline != 0 => Some(deadline),
        _ => None,
    };
    [guest.signals.next_deadline(), apic_ns, apic_tsc.map(crate::domain::object::system_time_at), poll]
        .into_iter()
        .flatten()
        .min()
}

/// Brings this CPU's next timer interrupt forward to `deadline` (system
/// time, ns) if it comes before the periodic tick, so a deadline fires
/// when due, not up to a tick late.
pub fn arm_host_timer(deadline: Option<u64>) {
    arm_host_timer_at(deadline, now());
}

/// The host's tick period.
const TICK_NS: u64 = 1_000_000_000 / crate::arch::x86_64::apic::TIMER_HZ;

/// [`arm_host_timer`] with the time already read.
fn arm_host_timer_at(deadline: Option<u64>, now: u64) {
    let Some(deadline) = deadline else { return };
    // Not sooner than this: an interrupt due before the VM entry it is
    // armed for only costs an exit more.
    const SOONEST_NS: u64 = 20_000;
    if deadline < now.saturating_add(TICK_NS) {
        crate::arch::x86_64::apic::fire_within_ns(deadline.saturating_sub(now).max(SOONEST_NS));
    }
}

/// TSC cycles from `now` to `deadline` (system time, ns), at most one host
/// tick: the longest a guest runs without an exit where the backend has a
/// timer of its own (VMX), so host events are seen even on an emulator
/// that loses an interrupt pending at VM entry.
fn exit_within_tsc(deadline: Option<u64>, now: u64) -> u64 {
    let ns = deadline.map_or(TICK_NS, |d| d.saturating_sub(now).min(TICK_NS));
    ns.saturating_mul(crate::arch::x86_64::tsc::khz()) / 1_000_000
}

/// The time a vLAPIC access or check happens at. The guest's TSC is the
/// host's (no TSC offset is set).
fn clock() -> crate::dev::vlapic::Clock {
    let tsc = cpu::rdtsc();
    crate::dev::vlapic::Clock { ns: crate::domain::object::system_time_at(tsc), tsc }
}

/// Before each entry: routes an owed upcall (per-vCPU vector into the
/// vLAPIC's IRR, or the global callback vector as a level), acts on what
/// the vLAPIC asked (IPIs it cannot deliver are logged), and puts the
/// next interrupt into the guest or waits for its interrupt window.
fn deliver_interrupts(vcpu: &mut HwVcpu, guest: &mut Guest) {
    if guest.signals.take_upcall() {
        let route = DOMAINS.lock().get(guest.domid).map_or(UpcallRoute::None, |d| interrupts::upcall_route(d, guest.vcpu_id));
        guest.ints.raise_upcall(route);
    }
    let mut asked = guest.ints.vlapic.take_requests();
    if let Some(ipi) = asked.remote.take() {
        let done = DOMAINS.lock().get_mut(guest.domid).map(|d| super::ipi::send(d, guest.vcpu_id, ipi)).unwrap_or_default();
        for (to, what) in done {
            guest.log(super::ipi::level(what), "vlapic", format_args!("IPI {:#x} to d{}v{to}: {what:?}", ipi.icr, guest.domid));
        }
    }
    if asked != crate::dev::vlapic::Requests::default() {
        // NMI, INIT or SIPI to itself: not modelled.
        guest.log(Level::Debug, "vlapic", format_args!("IPI to itself not delivered: {asked:?}"));
    }
    guest.signals.publish_apic_address(guest.ints.vlapic.address().pack());
    take_posted_ipis(guest);
    let (domid, vcpu_id) = (guest.domid, guest.vcpu_id);
    // Xen's hvm_vcpu_has_pending_irq: the callback vector while this
    // vCPU's evtchn_upcall_pending is set and the route still names it.
    let callback_level = || {
        let domains = DOMAINS.lock();
        let d = domains.get(domid)?;
        match interrupts::upcall_route(d, vcpu_id) {
            UpcallRoute::Callback(v) if d.upcall_pending(vcpu_id) => Some(v),
            _ => None,
        }
    };
    interrupts::deliver(vcpu, &mut guest.ints, callback_level);
}

/// Raises the fixed IPIs other vCPUs posted to this one in its LAPIC.
fn take_posted_ipis(guest: &mut Guest) {
    let vlapic = &mut guest.ints.vlapic;
    guest.signals.take_ipis(|vector| vlapic.set_irq(vector, false));
}

/// A nested page fault that is not a read-only grant write: an access to
/// the vLAPIC or to nothing (Xen's null handler) is emulated; any other
/// is the crash reason, today's line ("... gpa ..., which is not its
/// memory") or the instruction that could not be emulated.
fn emulate_mmio(vcpu: &mut HwVcpu, guest: &mut Guest, gpa: u64, write: bool, fetch: bool) -> Result<(), String> {
    let what = if fetch { "fetch from" } else if write { "write to" } else { "read of" };
    let lapic_base = guest.ints.vlapic.mmio_base();
    let needed = if fetch { Access::EXECUTE } else if write { Access::WRITE } else { Access::READ };
    // One look at the table. What its p2m holds there tells a removed page
    // from one mapped without the right (a grant without execute, firmware
    // read-only) in the crash reason.
    let (held, claim, fetched) = {
        let domains = DOMAINS.lock();
        let d = domains.get(guest.domid);
        let held = d.and_then(|d| d.p2m.translate(Gfn::from_gpa(gpa)));
        // Mapped with the right by now: the fault raced a change another
        // CPU made (a page replaced under the table lock); the access is
        // retried, as Xen does, a few times in a row at most.
        if held.is_some_and(|e| e.p2m_type != P2mType::EmulatedMmio && e.access.contains(needed)) {
            let (last, count) = guest.spurious_faults;
            guest.spurious_faults = (gpa, if last == gpa { count + 1 } else { 1 });
            if guest.spurious_faults.1 <= MAX_SPURIOUS_FAULTS {
                guest.retried_faults += 1;
                return Ok(());
            }
        }
        let claim = d.map_or(Claim::Forbidden, |d| mmio_exit::claim(d, gpa, fetch, lapic_base));
        // An exit during event delivery has no instruction behind it.
        let fetched = match d {
            Some(d) if claim != Claim::Forbidden && !vcpu.event_in_delivery() => Some(mmio_exit::fetch_instruction(d, vcpu)),
            _ => None,
        };
        (held, claim, fetched)
    };
    let forbidden = || match held {
        None => alloc::format!("{what} gpa {gpa:#x}, which is not its memory (nothing mapped there)"),
        Some(e) => alloc::format!("{what} gpa {gpa:#x}, which is not its memory ({:?} {:?} there)", e.p2m_type, e.access),
    };
    let Some(fetched) = fetched else { return Err(forbidden()) };
    let (bytes, len, bits) = fetched.map_err(|why| alloc::format!("{}: {why}", forbidden()))?;
    let bytes = &bytes[..len];
    match (claim, lapic_base) {
        (Claim::Lapic, Some(base)) => mmio_exit::emulate(vcpu, bytes, bits, gpa, Some((&mut guest.ints.vlapic, base)), clock()),
        _ => {
            guest.null_accesses += 1;
            // Quiet by default, and rate-limited: the first 4, then every 1024th.
            if guest.null_accesses <= 4 || guest.null_accesses.is_multiple_of(1024) {
                let n = guest.null_accesses;
                guest.log(Level::Debug, "mmio", format_args!("{what} unclaimed gpa {gpa:#x}: all ones / dropped ({n} so far)"));
            }
            mmio_exit::emulate(vcpu, bytes, bits, gpa, None, clock())
        }
    }
}

/// Whether the vCPU must stop (its domain shut down, is dying or gone);
/// while the domain is paused, waits here, or under the scheduler leaves
/// blocked until it is unpaused.
fn control(guest: &mut Guest) -> Option<Left> {
    loop {
        {
            let domains = DOMAINS.lock();
            let Some(d) = domains.get(guest.domid) else { return Some(Left::End(End::Destroyed)) };
            if d.dying {
                return Some(Left::End(End::Destroyed));
            }
            if let DomainState::Shutdown(reason) = d.state {
                return Some(Left::End(End::Shutdown(reason)));
            }
            if !d.paused {
                guest.signals.unblock(now());
                return None;
            }
        }
        // Paused: off the CPU as far as accounting goes.
        guest.signals.block(now());
        if guest.slice.is_some() {
            guest.waiting = Some(Waiting { how: Wait::Paused, interrupts_on: false });
            return Some(Left::Blocked);
        }
        cpu::wait_for_interrupt();
        x86_64::instructions::interrupts::disable();
    }
}

/// Raises VIRQ_TIMER if one of the vCPU's timers expired, fires its
/// vLAPIC timer if due, and shuts the domain down if one of its watchdogs
/// did (`control` then stops it). Checked on host interrupts (the 100 Hz
/// tick at least) and in waits: a vLAPIC deadline is late by up to a tick
/// until precise one-shot host timers come (issue 13).
fn fire_timers(guest: &mut Guest) {
    let at = clock();
    guest.ints.vlapic.tick(at);
    let now = at.ns;
    if guest.signals.timer_due(now)
        && let Some(d) = DOMAINS.lock().get_mut(guest.domid)
    {
        hypercall::event_channel::send_virq(d, guest.vcpu_id, abi::xen::VIRQ_TIMER);
    }
    // Keys on COM1 for Dom0's console (hvc0): checked on each tick and wait.
    if guest.domid == 0
        && crate::arch::x86_64::serial::input_pending()
        && let Some(d) = DOMAINS.lock().get_mut(guest.domid)
    {
        hypercall::console_io::input_arrived(d);
    }
    fire_watchdog(guest, now);
}

/// Shuts the domain down with `SHUTDOWN_watchdog` if one of its
/// SCHEDOP_watchdog timers has expired by `now` (checked on host timer
/// ticks and in waits: the hypervisor has no per-domain timers).
fn fire_watchdog(guest: &Guest, now: u64) {
    let mut domains = DOMAINS.lock();
    let Some(d) = domains.get_mut(guest.domid) else { return };
    if d.state != DomainState::Running || !hypercall::sched_op::watchdog_expired(&d.watchdogs, now) {
        return;
    }
    d.state = DomainState::Shutdown(abi::sched::SHUTDOWN_WATCHDOG);
    drop(domains);
    guest.log(Level::Warn, "watchdog", format_args!("watchdog timer fired for domain {}", guest.domid));
}

/// What a waiting vCPU waits for: HLT an interrupt for it, SCHEDOP_block
/// an event (its `evtchn_upcall_pending`), SCHEDOP_poll one of its ports
/// or the deadline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Wait {
    Halt,
    Block,
    Poll(u64),
    /// Its domain is paused (under the scheduler: Dom0 waits in `control`).
    Paused,
}

/// Sleeps on host interrupts (the 100 Hz tick at least), firing the vCPU's
/// timers, until what it waits for comes or its domain stops running; true
/// then. Under the scheduler it does not sleep here: false, and
/// `guest.waiting` says what it waits for.
fn wait(vcpu: &HwVcpu, guest: &mut Guest, how: Wait) -> bool {
    // Without the scheduler (Dom0's vCPU 0 on its own CPU) no slice ends
    // here: the runstate area is rewritten when it blocks and wakes.
    let mut published = false;
    loop {
        fire_timers(guest);
        take_posted_ipis(guest);
        let interrupt = guest.ints.wakes_halt(vcpu.rflags()) || vcpu.event_queued();
        if guest.signals.upcall_owed() || interrupt || woken(guest, how) {
            guest.signals.unblock(now());
            guest.waiting = None;
            if published {
                publish_runstate(vcpu, guest);
            }
            return true;
        }
        guest.signals.block(now());
        if guest.slice.is_none() && !published {
            publish_runstate(vcpu, guest);
            published = true;
        }
        const RFLAGS_IF: u64 = 1 << 9;
        guest.waiting = Some(Waiting { how, interrupts_on: vcpu.rflags() & RFLAGS_IF != 0 });
        if guest.slice.is_some() {
            return false;
        }
        arm_host_timer(next_deadline(guest));
        cpu::wait_for_interrupt();
        x86_64::instructions::interrupts::disable();
    }
}

fn woken(guest: &Guest, how: Wait) -> bool {
    let mut domains = DOMAINS.lock();
    let Some(d) = domains.get_mut(guest.domid) else { return true };
    // The toolstack wants it stopped or parked: leave the wait so that
    // `control` sees it (a destroy must not wait for the guest's next event).
    if d.state != DomainState::Running || d.dying || d.paused {
        return true;
    }
    let vcpu = guest.vcpu_id as usize;
    let woken = match how {
        Wait::Halt | Wait::Paused => false,
        Wait::Block => d.upcall_pending(guest.vcpu_id),
        Wait::Poll(deadline) => {
            let now = now();
            let ports = d.vcpus.get(vcpu).map(|v| v.poll_ports.clone()).unwrap_or_default();
            (deadline != 0 && now >= deadline) || ports.iter().any(|&p| two_level::is_pending(&*d, p))
        }
    };
    if woken && let Some(v) = d.vcpus.get_mut(vcpu) {
        v.poll_ports.clear();
    }
    woken
}

/// The guest's view of CPUID: who asks, and the host facts it depends on.
fn asker(vcpu: &HwVcpu, guest: &Guest) -> Asker {
    const CR4_OSXSAVE: u64 = 1 << 18;
    const CR4_PKE: u64 = 1 << 22;
    let cr4 = vcpu.paging_state().2;
    let khz = crate::arch::x86_64::tsc::khz();
    let (tsc_mul, tsc_shift) = crate::domain::time::tsc_scale(khz * 1000);
    let invariant = cpu::cpuid(0x8000_0007, 0).edx & (1 << 8) != 0;
    let rdtscp = cpu::cpuid(0x8000_0001, 0).edx & (1 << 27) != 0;
    Asker {
        domid: guest.domid,
        vcpu_id: guest.vcpu_id,
        osxsave: cr4 & CR4_OSXSAVE != 0,
        ospke: cr4 & CR4_PKE != 0,
        hardware_domain: guest.hardware_domain,
        vendor: guest.msrs.vendor,
        tsc_khz: low32(khz),
        tsc_reliable: invariant || crate::arch::x86_64::percpu::online_count() == 1,
        tsc_mul,
        tsc_shift,
        // VMX runs guests without "enable RDTSCP": hidden there.
        rdtscp: rdtscp && !matches!(vcpu, HwVcpu::Vmx(_)),
        invpcid: vcpu.runs_invpcid(),
    }
}

/// Xen's `hvm_vcpu_down`: the vCPU is marked down and stops; when no vCPU
/// of the domain is up any more, the domain shuts down with
/// SHUTDOWN_poweroff ("All CPUs offline -- powering off"): that is how a
/// Linux PVH guest powers off.
fn vcpu_down(guest: &mut Guest) -> End {
    guest.console.end_partial();
    guest.print_console();
    let online = {
        let mut domains = DOMAINS.lock();
        let Some(d) = domains.get_mut(guest.domid) else { return End::Destroyed };
        if let Some(v) = d.vcpus.get_mut(guest.vcpu_id as usize) {
            v.up = false;
        }
        d.vcpus.iter().filter(|v| v.up).count()
    };
    if online > 0 {
        guest.log(Level::Info, "hvm", format_args!("vcpu down (HLT with interrupts off), {online} still up"));
        return End::Down;
    }
    guest.log(Level::Info, "hvm", format_args!("all vcpus offline: domain {} powers off", guest.domid));
    End::Shutdown(abi::sched::SHUTDOWN_POWEROFF)
}

/// The physical-address width guests see (CPUID 0x80000008 passes it on).
fn host_phys_bits() -> u8 {
    crate::bits::low8(u64::from(cpu::cpuid(0x8000_0008, 0).eax))
}

/// Emulates a MOV to CR0 that exited (VMX: it changes CR0.NE): checks it
/// with the MOV rules, loads the PAE PDPTEs if it does so, installs it.
/// Err is the reason for the guest's #GP.
fn mov_to_cr0(vcpu: &mut HwVcpu, guest: &Guest, value: u64) -> Result<(), &'static str> {
    let ctx = msr::Cr0Context {
        cr0: vcpu.guest_cr0(),
        cr4: vcpu.guest_cr4(),
        efer: vcpu.efer(),
        cs_long: vcpu.long_mode(),
        tr_16bit: vcpu.tr_16bit(),
    };
    let w = msr::cr0_write(value, ctx)?;
    if msr::cr0_write_loads_pdptes(ctx.cr0, w.cr0, ctx.cr4, w.efer) {
        let table = vcpu.paging_state().1 & 0xffff_ffe0;
        let mut bytes = [0u8; 32];
        let domains = DOMAINS.lock();
        let me = domains.get(guest.domid).ok_or("no domain")?;
        me.memory().read(table, &mut bytes).map_err(|_| "the PDPT is not in RAM")?;
        let (entries, _) = bytes.as_chunks::<8>();
        let pdptes: [u64; 4] = core::array::from_fn(|i| u64::from_le_bytes(entries[i]));
        if !msr::pae_pdptes_valid(&pdptes, host_phys_bits()) {
            return Err("a PDPTE has reserved bits set");
        }
        vcpu.set_pdptes(pdptes);
    }
    vcpu.set_cr0(w.cr0, w.efer);
    Ok(())
}

/// Xen's `hvm_triple_fault`: the domain shuts down with the reason in
/// HVM_PARAM_TRIPLE_FAULT_REASON (SHUTDOWN_reboot unless set), so the
/// toolstack's `on_reboot` (or `on_crash`) applies.
fn triple_fault(guest: &mut Guest, vcpu: &HwVcpu) -> End {
    let param = abi::hvm::params::HVM_PARAM_TRIPLE_FAULT_REASON as usize;
    let reason = DOMAINS.lock().get(guest.domid).and_then(|d| d.hvm_params.get(param).copied());
    let reason = reason.map_or(abi::sched::SHUTDOWN_REBOOT, |r| low32(r & 0xff));
    guest.console.end_partial();
    guest.print_console();
    let name = match reason {
        abi::sched::SHUTDOWN_POWEROFF => "poweroff",
        abi::sched::SHUTDOWN_REBOOT => "reboot",
        abi::sched::SHUTDOWN_SUSPEND => "suspend",
        abi::sched::SHUTDOWN_CRASH => "crash",
        abi::sched::SHUTDOWN_WATCHDOG => "watchdog",
        _ => "soft_reset",
    };
    guest.log(Level::Error, "hvm", format_args!("triple fault: domain {} shuts down ({name}) (rip={:#x})", guest.domid, vcpu.rip()));
    last_words(guest, vcpu);
    End::Shutdown(reason)
}

/// What a crash report adds: its registers, its last hypercall (a guest
/// that broke its own memory with a call dies at the next access), and
/// the nested faults that raced a p2m change and were retried.
fn last_words(guest: &Guest, vcpu: &HwVcpu) {
    let r = vcpu.gprs();
    guest.log(Level::Error, "crash", format_args!("rsp={:#x} rax={:#x} rbx={:#x} rcx={:#x} rdx={:#x} rsi={:#x} rdi={:#x}; {} nested faults retried", vcpu.rsp(), r.rax, r.rbx, r.rcx, r.rdx, r.rsi, r.rdi, guest.retried_faults));
    if let Some(c) = guest.last_call {
        let [a1, a2, a3, a4, a5] = c.args;
        guest.log(Level::Error, "crash", format_args!("its last hypercall: nr {:#x} ({a1:#x}, {a2:#x}, {a3:#x}, {a4:#x}, {a5:#x})", c.nr));
    }
    let (cr0, cr3, cr4, efer) = vcpu.paging_state();
    let (rip, rsp) = (walk_for_report(guest, vcpu, vcpu.rip()), walk_for_report(guest, vcpu, vcpu.rsp()));
    guest.log(Level::Error, "crash", format_args!("cr0={cr0:#x} cr3={cr3:#x} cr4={cr4:#x} efer={efer:#x}; rip {rip}; rsp {rsp}"));
}

/// Where `gva` leads through the guest's tables and its p2m, for a crash
/// report (a page its tables or its p2m lost shows there).
fn walk_for_report(guest: &Guest, vcpu: &HwVcpu, gva: u64) -> String {
    let Some(paging) = supervisor_paging(vcpu) else { return String::from("(paging mode not walked)") };
    let domains = DOMAINS.lock();
    let Some(d) = domains.get(guest.domid) else { return String::from("(domain gone)") };
    match guest::gva_to_gpa(&d.memory(), &paging, gva, false) {
        Err(e) => alloc::format!("{gva:#x}: not mapped by its tables ({e:?})"),
        Ok(gpa) => match d.p2m.translate(Gfn::from_gpa(gpa)) {
            None => alloc::format!("{gva:#x} -> gpa {gpa:#x}, not in its p2m"),
            Some(e) => alloc::format!("{gva:#x} -> gpa {gpa:#x} -> mfn {:#x} ({:?})", e.mfn.addr() >> 12, e.p2m_type),
        },
    }
}

fn crash(guest: &mut Guest, vcpu: &HwVcpu, why: core::fmt::Arguments) -> End {
    guest.console.end_partial();
    guest.print_console();
    let reason = alloc::format!("{why}");
    guest.log(Level::Error, "crash", format_args!("domain crashed: {reason} (rip={:#x})", vcpu.rip()));
    last_words(guest, vcpu);
    End::Crashed(reason)
}

/// The hypercall exit, through `hypercall::entry` (its CPL gate, budget
/// and continuations); the domain table is locked only while the call
/// runs, and only from its first look at a domain.
fn hypercall(vcpu: &mut HwVcpu, guest: &mut Guest) -> entry::Step {
    entry::enter(vcpu, |vcpu, admitted| {
        guest.last_call = Some(admitted.call);
        let mut ctx = HypercallContext {
            guest,
            domains: core::cell::OnceCell::new(),
            vcpu,
            paging: core::cell::OnceCell::new(),
            compat: admitted.compat,
            budget: admitted.budget,
            last_page: core::cell::Cell::new(None),
        };
        let outcome = hypercall::dispatch(&mut ctx, admitted.call);
        let id = ctx.guest.domid;
        // Only a call that looked at the table can have shut its domain down.
        let after = match ctx.domains.get_mut().and_then(|t| t.get_mut(id)) {
            Some(me) => After {
                shut_down: match me.state {
                    DomainState::Shutdown(reason) => Some(reason),
                    DomainState::Running => None,
                },
            },
            None => After::default(),
        };
        (outcome, after)
    })
}

/// The entry's view of the vCPU at its VMCALL.
impl Site for HwVcpu {
    fn regs(&mut self) -> &mut crate::arch::x86_64::virt::exit::GuestRegs {
        HwVcpu::regs(self)
    }
    fn long_mode(&self) -> bool {
        HwVcpu::long_mode(self)
    }
    fn cpl(&self) -> u8 {
        HwVcpu::cpl(self)
    }
    fn protected_mode(&self) -> bool {
        const CR0_PE: u64 = 1;
        self.paging_state().0 & CR0_PE != 0
    }
}
