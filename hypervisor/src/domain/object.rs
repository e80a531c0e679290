//! A domain: its identity, memory (p2m, reservation), shared-info page, HVM
//! parameters and per-vCPU hypercall state. The vCPU's hardware state (VMCB
//! or VMCS) belongs to whoever runs it, not here.

use crate::bits::{low32, low32_usize};
use alloc::sync::Arc;
use alloc::vec::Vec;

use abi::errno::Errno;
use abi::hvm::params::HVM_NR_PARAMS;

use crate::mm::handle::{OwnedFrame, PinnedFrame};
use crate::mm::guest::{GuestMemory, P2mGuestMemory};
use crate::mm::p2m::{Access, Format, Gfn, MachineTables, P2m, P2mType};
use crate::arch::x86_64::{cpu, tsc};
use crate::mm::{self};

use super::grant::{GrantState, INITIAL_GRANT_FRAMES};
use super::time;
use crate::event::channels::EventChannels;
use crate::event::signals::VcpuSignals;
use crate::event::two_level::EventWords;
use abi::xen::{SharedInfo, VcpuInfo};
use abi::zerocopy::IntoBytes;

/// One e820-style entry of the memory map the domain sees.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MapEntry {
    pub addr: u64,
    pub size: u64,
    pub r#type: u32,
}

#[derive(Clone, Debug)]
pub struct VcpuState {
    pub up: bool,
    /// Where the guest registered its `vcpu_info` (gfn, offset in page).
    pub vcpu_info: Option<(u64, u32)>,
    /// The vector HVMOP_set_evtchn_upcall_vector chose (0: none).
    pub upcall_vector: u8,
    /// Upcall owed and timers, shared with the loop that runs this vCPU.
    pub signals: Arc<VcpuSignals>,
    /// The ports of its SCHEDOP_poll in progress (woken when one is pending).
    pub poll_ports: Vec<u32>,
    /// The context XEN_DOMCTL_setvcpucontext gave it (None: not initialised).
    pub context: Option<VcpuContext>,
    /// The physical CPU running it now, if one is.
    pub running_on: Option<usize>,
    /// CPUs it may run on (bit N: CPU N; XEN_DOMCTL_setvcpuaffinity), and
    /// those it prefers (admission and load balancing weigh them).
    pub hard_affinity: u64,
    pub soft_affinity: u64,
    /// An INIT IPI put it in wait-for-SIPI: the next start-up IPI starts it.
    pub awaiting_sipi: bool,
    /// Where VCPUOP_register_runstate_memory_area put its runstate (a guest
    /// virtual address): rewritten each time it starts or stops running.
    pub runstate_area: Option<u64>,
}

impl Default for VcpuState {
    fn default() -> Self {
        VcpuState {
            up: false,
            vcpu_info: None,
            upcall_vector: 0,
            signals: Arc::default(),
            poll_ports: Vec::new(),
            context: None,
            running_on: None,
            hard_affinity: u64::MAX,
            soft_affinity: u64::MAX,
            awaiting_sipi: false,
            runstate_area: None,
        }
    }
}

/// What an HVM vCPU keeps of a `vcpu_guest_context` (Xen's
/// `arch_set_info_guest` for HVM: flags, general registers, debug
/// registers); it starts from these in the PVH boot state, or in real mode
/// where a start-up IPI sent it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VcpuContext {
    pub flags: u64,
    pub regs: abi::vcpu_context::CpuUserRegs,
    pub debugreg: [u64; 8],
    pub mode: crate::arch::x86_64::virt::exit::StartMode,
}

impl VcpuState {
    /// `n` vCPUs, each with signals of its own.
    pub fn new_set(n: usize) -> Vec<VcpuState> {
        (0..n).map(|_| VcpuState::default()).collect()
    }
}

/// HVM params at domain creation: all 0 but the triple-fault action,
/// SHUTDOWN_reboot (Xen's `hvm_domain_initialise`).
fn initial_hvm_params() -> [u64; HVM_NR_PARAMS as usize] {
    let mut p = [0; HVM_NR_PARAMS as usize];
    p[abi::hvm::params::HVM_PARAM_TRIPLE_FAULT_REASON as usize] = u64::from(abi::sched::SHUTDOWN_REBOOT);
    p
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DomainState {
    Running,
    /// The domain asked to shut down (or was), with this `SHUTDOWN_*` reason.
    Shutdown(u32),
}

pub struct Domain {
    pub id: u16,
    pub privileged: bool,
    pub p2m: P2m<MachineTables>,
    /// Pages the domain may hold at most, and holds mapped now.
    pub max_pages: u64,
    pub tot_pages: u64,
    /// Frames given by increase_reservation, owned but not mapped
    /// (`domain::physmap`).
    pub reserved: mm::FrameStack,
    /// The shared-info page, owned by the hypervisor, mapped on request.
    pub shared_info: OwnedFrame,
    pub shared_info_gfn: Option<u64>,
    pub hvm_params: [u64; HVM_NR_PARAMS as usize],
    pub memory_map: Vec<MapEntry>,
    pub vcpus: Vec<VcpuState>,
    pub state: DomainState,
    /// XEN_DOMCTL_destroydomain was asked while a vCPU still ran: the CPUs
    /// running it stop it, then a retried destroy frees the domain.
    pub dying: bool,
    pub paused: bool,
    /// SCHEDOP_shutdown_code: the reason to report if it shuts down later.
    pub shutdown_code: Option<u32>,
    pub handle: [u8; 16],
    /// TSC when the domain was created (for the CPU time it has had).
    pub created_tsc: u64,
    /// Bumped at each p2m change that needs a flush; its vCPU loops flush
    /// when it moved (`mm::shootdown`).
    pub tlb: Arc<crate::mm::shootdown::Epoch>,
    /// Version of the time records last published (even).
    time_version: u32,
    /// VMASST_TYPE_* bits enabled with HYPERVISOR_vm_assist.
    pub vm_assist: u64,
    pub evtchn: EventChannels,
    /// Shared info has the 32-bit layout: latched from the guest's mode when
    /// it maps shared info or sets its callback (Xen's `has_32bit_shinfo`).
    pub compat_shinfo: bool,
    /// Grant-table bookkeeping (pins of its grants, its maptrack).
    pub grant: GrantState,
    /// The shared grant-table frames, owned by the hypervisor like the
    /// shared-info page (not in `tot_pages`), and where each is mapped.
    pub grant_frames: Vec<(OwnedFrame, Option<u64>)>,
    /// SCHEDOP_watchdog timers in use: the system time (ns) each expires at.
    /// The vCPU loop looks at them on every host timer tick.
    pub watchdogs: [Option<u64>; abi::sched::NR_DOMAIN_WATCHDOG_TIMERS],
}

/// Seconds since the Unix epoch when the hypervisor booted (from the RTC);
/// guests' wallclock is this plus their system time.
pub static WALLCLOCK_AT_BOOT: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);

impl Domain {
    /// An empty domain: no RAM yet, `max_vcpus` vCPUs (vCPU 0 up).
    pub fn new(id: u16, privileged: bool, format: Format, max_vcpus: u32) -> Result<Domain, Errno> {
        let p2m = P2m::new_machine(format).map_err(|_| Errno::ENOMEM)?;
        let Some(shared_info) = OwnedFrame::alloc() else {
            p2m.destroy();
            return Err(Errno::ENOMEM);
        };
        let mut grant_frames = Vec::new();
        for _ in 0..INITIAL_GRANT_FRAMES {
            match OwnedFrame::alloc() {
                Some(frame) => grant_frames.push((frame, None)),
                None => {
                    grant_frames.into_iter().for_each(|(f, _): (OwnedFrame, Option<u64>)| f.release());
                    shared_info.release();
                    p2m.destroy();
                    return Err(Errno::ENOMEM);
                }
            }
        }
        let mut vcpus = VcpuState::new_set(max_vcpus.max(1) as usize);
        vcpus[0].up = true;
        let vcpus_len = vcpus.len();
        Ok(Domain {
            id,
            privileged,
            p2m,
            max_pages: 0,
            tot_pages: 0,
            reserved: mm::FrameStack::new(),
            shared_info,
            shared_info_gfn: None,
            hvm_params: initial_hvm_params(),
            memory_map: Vec::new(),
            vcpus,
            state: DomainState::Running,
            paused: false,
            shutdown_code: None,
            handle: [0; 16],
            created_tsc: crate::arch::x86_64::cpu::rdtsc(),
            dying: false,
            tlb: crate::mm::shootdown::Epoch::new(),
            time_version: 0,
            vm_assist: 0,
            evtchn: EventChannels::new(vcpus_len, u32::MAX),
            compat_shinfo: false,
            grant: GrantState::default(),
            grant_frames,
            watchdogs: [None; abi::sched::NR_DOMAIN_WATCHDOG_TIMERS],
        })
    }

    pub fn memory(&self) -> P2mGuestMemory<'_, MachineTables, mm::guest::PhysmapFrames> {
        P2mGuestMemory::new_machine(&self.p2m)
    }

    /// Writes the pvclock into every place the guest looks for it: the
    /// shared-info page's `vcpu_info` slots and the registered `vcpu_info`s;
    /// and the wallclock into shared info. The TSC is invariant, so one
    /// record stays right for ever.
    pub fn publish_time(&mut self) {
        let now = cpu::rdtsc();
        self.time_version = self.time_version.wrapping_add(2);
        let record = time::vcpu_time_info(now, tsc::boot_tsc(), tsc::khz() * 1000, self.time_version);
        let time_at = core::mem::offset_of!(VcpuInfo, time);
        for i in 0..self.vcpus.len().min(abi::xen::XEN_LEGACY_MAX_VCPUS) {
            mm::write_frame(&self.shared_info, i * core::mem::size_of::<VcpuInfo>() + time_at, record.as_bytes());
        }
        let boot_secs = WALLCLOCK_AT_BOOT.load(core::sync::atomic::Ordering::Relaxed);
        let mut wc = [0u8; 16];
        wc[0..4].copy_from_slice(&self.time_version.to_le_bytes());
        wc[4..8].copy_from_slice(&low32(boot_secs).to_le_bytes());
        wc[12..16].copy_from_slice(&((boot_secs >> 32) as u32).to_le_bytes());
        mm::write_frame(&self.shared_info, core::mem::offset_of!(SharedInfo, wc_version), &wc);
        for v in self.vcpus.clone() {
            if let Some((gfn, offset)) = v.vcpu_info {
                let _ = self.write(Gfn(gfn).gpa() + u64::from(offset) + time_at as u64, record.as_bytes());
            }
        }
    }

    /// Whether vCPU `vcpu` may be given a CPU: the domain runs, is not
    /// paused or dying, and the vCPU is up, has a context and no CPU.
    pub fn runnable(&self, vcpu: u32) -> bool {
        let Some(v) = self.vcpus.get(vcpu as usize) else { return false };
        !self.paused && !self.dying && self.state == DomainState::Running && v.up && v.context.is_some() && v.running_on.is_none()
    }

    /// Queues every runnable vCPU for a free CPU.
    pub fn queue_runnable(&self) {
        for vcpu in 0..low32_usize(self.vcpus.len()) {
            if self.runnable(vcpu) {
                crate::sched::runqueue::RUNQUEUE.lock().push(crate::sched::runqueue::VcpuRef { domid: self.id, vcpu });
            }
        }
    }

    /// Whether `gfn` holds a read-only grant mapping (a write there is the
    /// guest's #GP, as on Xen).
    pub fn is_readonly_grant(&self, gfn: u64) -> bool {
        gfn < crate::mm::p2m::GFN_LIMIT
            && self.p2m.translate(Gfn(gfn)).is_some_and(|e| e.p2m_type == P2mType::GrantMap && !e.access.contains(Access::WRITE))
    }

    /// Highest gfn mapped as RAM (XENMEM_maximum_gpfn).
    pub fn max_gpfn(&self) -> u64 {
        let mut max = 0;
        self.p2m.for_each_leaf(|gfn, e| {
            if e.p2m_type == P2mType::Ram {
                max = max.max(gfn.0 + e.size.frames() - 1);
            }
        });
        max
    }

    /// Writes `bytes` into the domain's memory at `gpa` (RAM only).
    pub fn write(&self, gpa: u64, bytes: &[u8]) -> Result<(), Errno> {
        let mut mem = self.memory();
        mem.write(gpa, bytes).map_err(|_| Errno::EFAULT)
    }

    /// Frees everything the domain holds: RAM frames, the shared-info page,
    /// the grant-table frames, the p2m's tables; drops the grant and
    /// foreign mappings it holds. A frame of its own that another domain
    /// still maps is freed by that domain's last unmap (`mm::foreign`).
    /// The caller has made sure no vCPU of it runs (or can run again).
    pub fn destroy(self) {
        self.release_frames();
    }

    /// Where grant entry `gref` is: its frame and byte offset.
    fn grant_slot(&self, gref: u32) -> Option<(&OwnedFrame, usize)> {
        let frame = self.grant_frames.get((gref / super::grant::ENTRIES_PER_FRAME) as usize)?;
        Some((&frame.0, (gref % super::grant::ENTRIES_PER_FRAME) as usize * 8))
    }
}

impl crate::hypercall::DomainOps for Domain {
    fn id(&self) -> u16 {
        self.id
    }
    fn tot_pages(&self) -> u64 {
        self.held_pages()
    }
    fn max_pages(&self) -> u64 {
        self.max_pages
    }
    fn set_max_pages(&mut self, pages: u64) {
        self.max_pages = pages;
    }
    fn max_gpfn(&self) -> u64 {
        Domain::max_gpfn(self)
    }
    fn populate(&mut self, gfn: u64, order: u32) -> Result<(), Errno> {
        Domain::populate(self, gfn, order)
    }
    fn reserve(&mut self, order: u32) -> Result<(), Errno> {
        Domain::reserve(self, order)
    }
    fn remove(&mut self, gfn: u64) -> Result<(), Errno> {
        Domain::remove(self, gfn)
    }
    fn map_shared_info(&mut self, gfn: u64) -> Result<(), Errno> {
        Domain::map_shared_info(self, gfn)
    }
    fn move_frame(&mut self, from: u64, to: u64) -> Result<(), Errno> {
        Domain::move_frame(self, from, to)
    }
    fn mem_type(&self, gfn: u64) -> Option<u16> {
        if gfn >= crate::mm::p2m::GFN_LIMIT {
            return None;
        }
        use abi::hvm::hvm_op::{HVMMEM_MMIO_DM, HVMMEM_RAM_RO, HVMMEM_RAM_RW};
        self.p2m.translate(Gfn(gfn)).map(|e| match e.p2m_type {
            P2mType::Ram | P2mType::MmioPassthrough => HVMMEM_RAM_RW,
            P2mType::ReadOnlyFirmware => HVMMEM_RAM_RO,
            P2mType::EmulatedMmio => HVMMEM_MMIO_DM,
            P2mType::GrantMap if e.access.contains(Access::WRITE) => HVMMEM_RAM_RW,
            P2mType::GrantMap => HVMMEM_RAM_RO,
            // Xen's get_mem_type: p2m_map_foreign is not a RAM type.
            P2mType::Foreign => HVMMEM_MMIO_DM,
        })
    }
    fn request_tlb_flush(&mut self) {
        self.flush();
    }
    fn memory_map(&self) -> &[MapEntry] {
        &self.memory_map
    }
    fn hvm_params(&mut self) -> &mut [u64] {
        &mut self.hvm_params
    }
    fn vcpus(&mut self) -> &mut [VcpuState] {
        &mut self.vcpus
    }
    fn shutdown_code(&mut self) -> &mut Option<u32> {
        &mut self.shutdown_code
    }
    fn handle(&self) -> [u8; 16] {
        self.handle
    }
    fn shut_down(&mut self, reason: u32) {
        self.state = DomainState::Shutdown(reason);
    }
    fn register_vcpu_info(&mut self, vcpu: usize, gfn: u64, offset: u32) -> Result<(), Errno> {
        let state = self.vcpus.get(vcpu).ok_or(Errno::ENOENT)?;
        if state.vcpu_info.is_some() {
            return Err(Errno::EINVAL);
        }
        match self.p2m.translate(Gfn(gfn)) {
            Some(e) if e.p2m_type == P2mType::Ram => {}
            _ => return Err(Errno::EINVAL),
        }
        self.vcpus[vcpu].vcpu_info = Some((gfn, offset));
        self.publish_time();
        Ok(())
    }
    fn queue_runnable(&self) {
        Domain::queue_runnable(self);
    }
    fn paused(&self) -> bool {
        self.paused
    }
    fn vm_assist(&mut self) -> &mut u64 {
        &mut self.vm_assist
    }
    fn set_max_vcpus(&mut self, max: u32) -> Result<(), Errno> {
        // Xen 4.17: the count is fixed by createdomain; XEN_DOMCTL_max_vcpus
        // only allocates those vCPUs (all exist here from the start), and
        // any other count is -EINVAL. So no vCPU ever goes away under a
        // CPU still running it.
        if max as usize != self.vcpus.len() {
            return Err(Errno::EINVAL);
        }
        Ok(())
    }
    fn set_paused(&mut self, paused: bool) {
        self.paused = paused;
        if !paused {
            self.queue_runnable();
        }
    }
    fn shut_down_reason(&self) -> Option<u32> {
        match self.state {
            DomainState::Shutdown(reason) => Some(reason),
            DomainState::Running => None,
        }
    }
    fn shared_info_gfn(&self) -> Option<u64> {
        self.shared_info_gfn
    }
    fn cpu_time_ns(&self) -> u64 {
        let now = system_time_at(cpu::rdtsc());
        self.vcpus.iter().map(|v| v.signals.cpu_time_ns(now)).sum()
    }
    fn evtchn(&mut self) -> &mut EventChannels {
        &mut self.evtchn
    }
    fn event_words(&mut self) -> &mut dyn EventWords {
        self
    }
    fn latch_shinfo_compat(&mut self, compat: bool) {
        self.compat_shinfo = compat;
    }
    fn grant(&mut self) -> &mut GrantState {
        &mut self.grant
    }
    fn grant_frames(&self) -> u32 {
        // At most MAX_GRANT_FRAMES.
        u32::try_from(self.grant_frames.len()).unwrap_or(u32::MAX)
    }
    fn grant_grow(&mut self, frames: u32) -> Result<(), Errno> {
        while self.grant_frames.len() < frames as usize {
            self.grant_frames.try_reserve(1).map_err(|_| Errno::ENOMEM)?;
            let frame = OwnedFrame::alloc().ok_or(Errno::ENOMEM)?;
            self.grant_frames.push((frame, None));
        }
        Ok(())
    }
    fn grant_frame_gfn(&self, idx: u32) -> Option<u64> {
        self.grant_frames.get(idx as usize)?.1
    }
    fn map_grant_frame(&mut self, idx: u32, gfn: u64) -> Result<(), Errno> {
        Domain::map_grant_frame(self, idx, gfn)
    }
    fn grant_entry(&self, gref: u32) -> Option<u64> {
        let (mfn, offset) = self.grant_slot(gref)?;
        Some(mm::frame_load_u64(mfn, offset))
    }
    fn grant_entry_cmpxchg(&mut self, gref: u32, old: u32, new: u32) -> u32 {
        // Past the table there is nothing to exchange: report a change.
        self.grant_slot(gref).map_or(!old, |(mfn, offset)| mm::frame_cmpxchg_u32(mfn, offset, old, new))
    }
    fn grant_entry_clear(&mut self, gref: u32, mask: u16) {
        if let Some((mfn, offset)) = self.grant_slot(gref) {
            mm::frame_clear_u16(mfn, offset, mask);
        }
    }
    fn grant_entry_set(&mut self, gref: u32, raw: u64) {
        if let Some((mfn, offset)) = self.grant_slot(gref) {
            mm::frame_store_u64(mfn, offset, raw);
        }
    }
    fn ram_frame(&self, gfn: u64, write: bool) -> Option<PinnedFrame> {
        self.p2m.ram_frame(Gfn(gfn), write)?.pin()
    }
    fn map_grant(&mut self, gfn: u64, frame: PinnedFrame, readonly: bool) -> Result<(), Errno> {
        Domain::map_grant(self, gfn, frame, readonly)
    }
    fn unmap_grant(&mut self, gfn: u64, mfn: u64) -> Result<(), Errno> {
        Domain::unmap_grant(self, gfn, mfn)
    }
    fn map_foreign(&mut self, gfn: u64, frame: PinnedFrame) -> Result<(), Errno> {
        Domain::map_foreign(self, gfn, frame)
    }
    fn watchdogs(&mut self) -> &mut [Option<u64>; abi::sched::NR_DOMAIN_WATCHDOG_TIMERS] {
        &mut self.watchdogs
    }
    fn set_memory_map(&mut self, map: Vec<MapEntry>) {
        self.memory_map = map;
    }
}

/// Xen system time (ns since boot) at a TSC value.
pub fn system_time_at(tsc: u64) -> u64 {
    let boot = tsc::boot_tsc();
    let (mul, shift) = time::tsc_scale(tsc::khz() * 1000);
    time::scale_delta(tsc.saturating_sub(boot), mul, shift)
}
