//! A domain: its identity, memory (p2m, reservation), shared-info page, HVM
//! parameters and per-vCPU hypercall state. The vCPU's hardware state (VMCB
//! or VMCS) belongs to whoever runs it, not here.

use crate::bits::{low32, low32_usize, to_usize};
use alloc::sync::Arc;
use alloc::vec::Vec;

use abi::errno::Errno;
use abi::hvm::params::HVM_NR_PARAMS;

use crate::mm::frame::Mfn;
use crate::mm::guest::{GuestMemory, P2mGuestMemory};
use crate::mm::p2m::{Access, Format, Gfn, MachineTables, P2m, P2mType, PageSize};
use crate::arch::x86_64::{cpu, tsc};
use crate::mm::{self};

use super::grant::{GrantState, INITIAL_GRANT_FRAMES};
use super::time;
use crate::event::channels::EventChannels;
use crate::event::signals::VcpuSignals;
use crate::event::two_level::EventWords;
use crate::mm::p2m::GFN_LIMIT;
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
    /// those it prefers (kept for the scheduler; this one ignores them).
    pub hard_affinity: u64,
    pub soft_affinity: u64,
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
        }
    }
}

/// What an HVM vCPU keeps of a `vcpu_guest_context` (Xen's
/// `arch_set_info_guest` for HVM: flags, general registers, debug
/// registers); it starts from these in the PVH boot state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VcpuContext {
    pub flags: u64,
    pub regs: abi::vcpu_context::CpuUserRegs,
    pub debugreg: [u64; 8],
}

impl VcpuState {
    /// `n` vCPUs, each with signals of its own.
    pub fn new_set(n: usize) -> Vec<VcpuState> {
        (0..n).map(|_| VcpuState::default()).collect()
    }
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
    /// Frames given by increase_reservation, owned but not mapped (first, count).
    pub reserved: Vec<(Mfn, u64)>,
    /// The shared-info page, owned by the hypervisor, mapped on request.
    pub shared_info: Mfn,
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
    /// A mapping was removed: the vCPU must flush its guest-physical TLB
    /// before the guest runs again.
    pub flush_pending: bool,
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
    pub grant_frames: Vec<(Mfn, Option<u64>)>,
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
        let Some(shared_info) = mm::alloc_frame() else {
            p2m.destroy();
            return Err(Errno::ENOMEM);
        };
        let mut grant_frames = Vec::new();
        for _ in 0..INITIAL_GRANT_FRAMES {
            match mm::alloc_frame() {
                Some(mfn) => grant_frames.push((mfn, None)),
                None => {
                    grant_frames.iter().chain([(shared_info, None)].iter()).for_each(|&(m, _)| {
                        let _ = mm::free_frame(m);
                    });
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
            reserved: Vec::new(),
            shared_info,
            shared_info_gfn: None,
            hvm_params: [0; HVM_NR_PARAMS as usize],
            memory_map: Vec::new(),
            vcpus,
            state: DomainState::Running,
            paused: false,
            shutdown_code: None,
            handle: [0; 16],
            created_tsc: crate::arch::x86_64::cpu::rdtsc(),
            dying: false,
            flush_pending: false,
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

    /// Frames the domain holds: mapped RAM and reserved-but-unmapped.
    pub fn held_pages(&self) -> u64 {
        self.tot_pages + self.reserved.iter().map(|r| r.1).sum::<u64>()
    }

    /// Gives the domain `2^order` fresh zeroed RAM frames at `gfn`.
    pub fn populate(&mut self, gfn: u64, order: u32) -> Result<(), Errno> {
        if order > 9 {
            return Err(Errno::EINVAL);
        }
        let count = 1u64 << order;
        if !gfn.is_multiple_of(count) {
            return Err(Errno::EINVAL);
        }
        if self.held_pages() + count > self.max_pages {
            return Err(Errno::ENOMEM);
        }
        if (gfn..gfn + count).any(|g| self.p2m.translate(Gfn(g)).is_some()) {
            return Err(Errno::EBUSY);
        }
        let mfn = if count == 1 {
            mm::alloc_frame()
        } else {
            mm::alloc_zeroed_run(to_usize(count), to_usize(count))
        }
        .ok_or(Errno::ENOMEM)?;
        if let Err(e) = self.p2m.map_range(Gfn(gfn), mfn, count, P2mType::Ram, Access::all()) {
            free_frames(mfn, count);
            return Err(match e {
                crate::mm::p2m::P2mError::GfnTooLarge(..) => Errno::EINVAL,
                _ => Errno::ENOMEM,
            });
        }
        self.tot_pages += count;
        Ok(())
    }

    /// Takes RAM frame `gfn` away from the domain and frees it (unless a
    /// foreign mapping still holds it: `mm::foreign`), or removes another
    /// domain's frame mapped there. -ENOENT if nothing is mapped there,
    /// -EINVAL if it is neither.
    pub fn remove(&mut self, gfn: u64) -> Result<(), Errno> {
        // Another CPU running (or parked in) one of its vCPUs may hold the
        // old translation in its TLB, and nothing here makes that CPU flush
        // before the frame is reused: refuse (-EBUSY) rather than free it.
        let here = crate::arch::cpu_index() as usize;
        if self.vcpus.iter().any(|v| v.running_on.is_some_and(|cpu| cpu != here)) {
            return Err(Errno::EBUSY);
        }
        let entry = self.p2m.translate(Gfn(gfn)).ok_or(Errno::ENOENT)?;
        if !matches!(entry.p2m_type, P2mType::Ram | P2mType::Foreign) {
            return Err(Errno::EINVAL);
        }
        match self.p2m.unmap(Gfn(gfn)) {
            Ok(Some((mfn, P2mType::Foreign))) => {
                self.flush();
                mm::foreign::unmap(mfn);
                Ok(())
            }
            Ok(Some((mfn, _))) => {
                self.flush();
                if !self.unhook(mfn) {
                    mm::foreign::release_owned(mfn);
                    self.tot_pages -= 1;
                }
                Ok(())
            }
            Ok(None) => Err(Errno::ENOENT),
            Err(_) => Err(Errno::ENOMEM),
        }
    }

    /// Maps the shared-info page at `gfn`, replacing (and freeing) the RAM
    /// frame there, and moving it from where it was mapped before.
    pub fn map_shared_info(&mut self, gfn: u64) -> Result<(), Errno> {
        if Gfn(gfn).gpa() >= 1 << crate::mm::p2m::GUEST_PHYS_BITS {
            return Err(Errno::EINVAL);
        }
        if let Some(old) = self.shared_info_gfn.take() {
            let _ = self.p2m.unmap(Gfn(old));
        }
        if let Some(entry) = self.p2m.translate(Gfn(gfn)) {
            match entry.p2m_type {
                P2mType::Ram | P2mType::Foreign => self.remove(gfn)?,
                _ => return Err(Errno::EINVAL),
            }
        }
        self.p2m
            .map(Gfn(gfn), self.shared_info, PageSize::Size4K, P2mType::Ram, Access::READ | Access::WRITE)
            .map_err(|_| Errno::ENOMEM)?;
        self.shared_info_gfn = Some(gfn);
        self.publish_time();
        Ok(())
    }

    /// Moves the RAM frame at `from` to `to`; a RAM frame at `to` is freed.
    pub fn move_frame(&mut self, from: u64, to: u64) -> Result<(), Errno> {
        if from == to {
            return Ok(());
        }
        let entry = self.p2m.translate(Gfn(from)).ok_or(Errno::EINVAL)?;
        if entry.p2m_type != P2mType::Ram || self.is_special_gfn(from) {
            return Err(Errno::EINVAL);
        }
        if Gfn(to).gpa() >= 1 << crate::mm::p2m::GUEST_PHYS_BITS {
            return Err(Errno::EINVAL);
        }
        match self.p2m.translate(Gfn(to)) {
            Some(e) if e.p2m_type == P2mType::Ram && !self.is_special_gfn(to) => self.remove(to)?,
            Some(e) if e.p2m_type == P2mType::Foreign => self.remove(to)?,
            Some(_) => return Err(Errno::EINVAL),
            None => {}
        }
        let (mfn, _) = self.p2m.unmap(Gfn(from)).map_err(|_| Errno::ENOMEM)?.ok_or(Errno::EINVAL)?;
        self.flush();
        if self.p2m.map(Gfn(to), mfn, PageSize::Size4K, P2mType::Ram, Access::all()).is_err() {
            // Put it back where it was; that slot was just emptied.
            let _ = self.p2m.map(Gfn(from), mfn, PageSize::Size4K, P2mType::Ram, Access::all());
            return Err(Errno::ENOMEM);
        }
        Ok(())
    }

    /// Maps `mfn`, another domain's RAM frame, at `gfn` (Xen's
    /// `p2m_add_foreign`): RAM or a foreign frame there is removed first,
    /// device memory and firmware are refused (-EPERM), and so is a grant
    /// mapping (-EINVAL: its maptrack handle names it; Xen's
    /// guest_remove_page fails on a page the domain does not own). The
    /// frame stays allocated until this mapping goes (`mm::foreign`).
    pub fn map_foreign(&mut self, gfn: u64, mfn: Mfn) -> Result<(), Errno> {
        if gfn >= crate::mm::p2m::GFN_LIMIT {
            return Err(Errno::EINVAL);
        }
        match self.p2m.translate(Gfn(gfn)).map(|e| e.p2m_type) {
            None => {}
            Some(P2mType::Ram | P2mType::Foreign) => self.remove(gfn)?,
            Some(P2mType::EmulatedMmio) => {
                self.p2m.unmap(Gfn(gfn)).map_err(|_| Errno::ENOMEM)?;
                self.flush();
            }
            Some(P2mType::MmioPassthrough | P2mType::ReadOnlyFirmware) => return Err(Errno::EPERM),
            Some(P2mType::GrantMap) => return Err(Errno::EINVAL),
        }
        mm::foreign::map(mfn);
        if self.p2m.map(Gfn(gfn), mfn, PageSize::Size4K, P2mType::Foreign, Access::all()).is_err() {
            mm::foreign::unmap(mfn);
            return Err(Errno::ENOMEM);
        }
        Ok(())
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
            mm::write_frame(self.shared_info, i * core::mem::size_of::<VcpuInfo>() + time_at, record.as_bytes());
        }
        let boot_secs = WALLCLOCK_AT_BOOT.load(core::sync::atomic::Ordering::Relaxed);
        let mut wc = [0u8; 16];
        wc[0..4].copy_from_slice(&self.time_version.to_le_bytes());
        wc[4..8].copy_from_slice(&low32(boot_secs).to_le_bytes());
        wc[12..16].copy_from_slice(&((boot_secs >> 32) as u32).to_le_bytes());
        mm::write_frame(self.shared_info, core::mem::offset_of!(SharedInfo, wc_version), &wc);
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
    pub fn destroy(self) {
        self.p2m.for_each_leaf(|_, e| match e.p2m_type {
            P2mType::Ram => {
                for i in 0..e.size.frames() {
                    let mfn = Mfn(e.mfn.0 + i);
                    if !self.is_special(mfn) {
                        mm::foreign::release_owned(mfn);
                    }
                }
            }
            P2mType::GrantMap | P2mType::Foreign => mm::foreign::unmap(e.mfn),
            P2mType::MmioPassthrough | P2mType::ReadOnlyFirmware | P2mType::EmulatedMmio => {}
        });
        mm::foreign::release_owned(self.shared_info);
        for &(mfn, _) in &self.grant_frames {
            mm::foreign::release_owned(mfn);
        }
        for &(mfn, count) in &self.reserved {
            free_frames(mfn, count);
        }
        self.p2m.destroy();
    }

    /// The shared-info page or a grant-table frame: hypervisor frames the
    /// domain maps but does not own as RAM.
    fn is_special(&self, mfn: Mfn) -> bool {
        mfn == self.shared_info || self.grant_frames.iter().any(|&(m, _)| m == mfn)
    }

    fn is_special_gfn(&self, gfn: u64) -> bool {
        self.shared_info_gfn == Some(gfn) || self.grant_frames.iter().any(|&(_, g)| g == Some(gfn))
    }

    /// Records that special frame `mfn` is no longer mapped; false if it
    /// is not special.
    fn unhook(&mut self, mfn: Mfn) -> bool {
        if mfn == self.shared_info {
            self.shared_info_gfn = None;
            return true;
        }
        match self.grant_frames.iter_mut().find(|(m, _)| *m == mfn) {
            Some(frame) => {
                frame.1 = None;
                true
            }
            None => false,
        }
    }

    /// Empties `gfn` for a hypervisor or granted frame: RAM or a foreign
    /// frame there is removed (freed, unhooked if special, or unmapped);
    /// anything else is -EINVAL.
    fn clear_for_mapping(&mut self, gfn: u64) -> Result<(), Errno> {
        if gfn >= GFN_LIMIT {
            return Err(Errno::EINVAL);
        }
        match self.p2m.translate(Gfn(gfn)) {
            Some(e) if matches!(e.p2m_type, P2mType::Ram | P2mType::Foreign) => self.remove(gfn),
            Some(_) => Err(Errno::EINVAL),
            None => Ok(()),
        }
    }

    /// Where grant entry `gref` is: its frame and byte offset.
    fn grant_slot(&self, gref: u32) -> Option<(Mfn, usize)> {
        let frame = self.grant_frames.get((gref / super::grant::ENTRIES_PER_FRAME) as usize)?;
        Some((frame.0, (gref % super::grant::ENTRIES_PER_FRAME) as usize * 8))
    }

    /// After an unmap: the vCPU loop flushes the guest-physical TLB before
    /// the guest runs again (`flush_pending`). The domain's only vCPU runs
    /// on this CPU and is in the hypervisor now, so no stale translation can
    /// be used before that flush, and unlinked tables may be reclaimed.
    fn flush(&mut self) {
        self.flush_pending = true;
        if self.p2m.needs_flush() {
            self.p2m.flushed();
        }
    }
}

fn free_frames(mfn: Mfn, count: u64) {
    for i in 0..count {
        let _ = mm::free_frame(Mfn(mfn.0 + i));
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
        let count = 1u64 << order;
        if order > 9 || self.tot_pages() + count > self.max_pages {
            return Err(Errno::ENOMEM);
        }
        let mfn = if count == 1 { mm::alloc_frame() } else { mm::alloc_zeroed_run(to_usize(count), to_usize(count)) };
        let mfn = mfn.ok_or(Errno::ENOMEM)?;
        self.reserved.push((mfn, count));
        Ok(())
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
        self.flush_pending = true;
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
    fn created_ns(&self) -> u64 {
        system_time_at(self.created_tsc)
    }
    fn paused(&self) -> bool {
        self.paused
    }
    fn vm_assist(&mut self) -> &mut u64 {
        &mut self.vm_assist
    }
    fn set_max_vcpus(&mut self, max: u32) -> Result<(), Errno> {
        // Only a domain that never ran (created, still paused, no vCPU
        // with hardware state) may change its vCPU count.
        if self.privileged || !self.paused {
            return Err(Errno::EBUSY);
        }
        self.vcpus.resize_with(max as usize, VcpuState::default);
        self.evtchn.set_vcpus(max as usize);
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
            let mfn = mm::alloc_frame().ok_or(Errno::ENOMEM)?;
            self.grant_frames.push((mfn, None));
        }
        Ok(())
    }
    fn grant_frame_gfn(&self, idx: u32) -> Option<u64> {
        self.grant_frames.get(idx as usize)?.1
    }
    fn map_grant_frame(&mut self, idx: u32, gfn: u64) -> Result<(), Errno> {
        let (mfn, old) = *self.grant_frames.get(idx as usize).ok_or(Errno::EINVAL)?;
        if old == Some(gfn) {
            return Ok(());
        }
        self.clear_for_mapping(gfn)?;
        if let Some(old) = old {
            let _ = self.p2m.unmap(Gfn(old));
            self.flush();
        }
        self.grant_frames[idx as usize].1 = None;
        self.p2m
            .map(Gfn(gfn), mfn, PageSize::Size4K, P2mType::Ram, Access::READ | Access::WRITE)
            .map_err(|_| Errno::ENOMEM)?;
        self.grant_frames[idx as usize].1 = Some(gfn);
        Ok(())
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
    fn ram_frame(&self, gfn: u64, write: bool) -> Option<u64> {
        let e = self.p2m.translate(Gfn(gfn))?;
        (e.p2m_type == P2mType::Ram && (!write || e.access.contains(Access::WRITE))).then_some(e.mfn.0)
    }
    fn map_grant(&mut self, gfn: u64, mfn: u64, readonly: bool) -> Result<(), Errno> {
        self.clear_for_mapping(gfn)?;
        let access = if readonly { Access::READ } else { Access::READ | Access::WRITE };
        mm::foreign::map(Mfn(mfn));
        if self.p2m.map(Gfn(gfn), Mfn(mfn), PageSize::Size4K, P2mType::GrantMap, access).is_err() {
            mm::foreign::unmap(Mfn(mfn));
            return Err(Errno::ENOMEM);
        }
        Ok(())
    }
    fn unmap_grant(&mut self, gfn: u64, mfn: u64) -> Result<(), Errno> {
        match self.p2m.translate(Gfn(gfn)) {
            Some(e) if e.p2m_type == P2mType::GrantMap && e.mfn.0 == mfn => {}
            _ => return Err(Errno::EINVAL),
        }
        self.p2m.unmap(Gfn(gfn)).map_err(|_| Errno::ENOMEM)?;
        self.flush();
        mm::foreign::unmap(Mfn(mfn));
        Ok(())
    }
    fn map_foreign(&mut self, gfn: u64, mfn: u64) -> Result<(), Errno> {
        Domain::map_foreign(self, gfn, Mfn(mfn))
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
