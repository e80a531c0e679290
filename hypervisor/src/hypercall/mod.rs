//! The hypercall table: Xen's numbers, one handler per family, `-ENOSYS`
//! for every number without one (as Xen answers).
//!
//! Each family's module lists its sub-ops; README's ABI table collects them.

#![forbid(unsafe_code)]

pub mod console_io;
pub mod dm_op;
pub mod domctl;
pub mod entry;
pub mod event_channel;
pub mod grant_table;
pub mod hvm_op;
pub mod hypfs_op;
pub mod memory_admin;
pub mod memory_op;
pub mod mmuext_op;
pub mod multicall;
pub mod paging_domctl;
pub mod physdev_op;
pub mod physmap_batch;
pub mod platform_op;
pub mod vcpu_op;
pub mod vm_assist;
pub mod sched_op;
pub mod sysctl;
pub mod xen_version;
pub mod xenpmu_op;

use abi::errno::Errno;
use abi::xen;
use abi::zerocopy::{FromBytes, Immutable, IntoBytes};

use alloc::vec::Vec;

use crate::domain::object::{MapEntry, VcpuState};
use crate::event::channels::EventChannels;
use crate::event::two_level::EventWords;
use crate::domain::grant::GrantState;
use crate::mm::handle::PinnedFrame;

pub use entry::Budget;

/// A hypercall as the guest made it: number and up to five arguments, already
/// taken from the registers of the guest's mode (64-bit: rdi rsi rdx r10 r8;
/// 32-bit: ebx ecx edx esi edi).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Call {
    pub nr: u64,
    pub args: [u64; 5],
}

/// What a handler may do to a domain: the calling one or, with privilege,
/// another. Implemented by `domain::Domain`, and by a fake in tests.
pub trait DomainOps {
    fn id(&self) -> u16;
    fn tot_pages(&self) -> u64;
    fn max_pages(&self) -> u64;
    fn set_max_pages(&mut self, pages: u64);
    /// Highest gfn mapped as RAM.
    fn max_gpfn(&self) -> u64;
    /// Allocates `2^order` zeroed frames at `gfn`.
    fn populate(&mut self, gfn: u64, order: u32) -> Result<(), Errno>;
    /// Allocates `2^order` frames the domain owns but has not mapped
    /// (increase_reservation on a translated guest).
    fn reserve(&mut self, order: u32) -> Result<(), Errno>;
    /// Unmaps and frees the RAM frame at `gfn`: -ENOENT if nothing is
    /// mapped there, -EINVAL if it is not RAM.
    fn remove(&mut self, gfn: u64) -> Result<(), Errno>;
    /// The p2m type name of `gfn` as HVMMEM_* (None: nothing mapped).
    fn mem_type(&self, gfn: u64) -> Option<u16>;
    /// Drops the domain's cached guest-physical translations (HVMOP_flush_tlbs).
    fn request_tlb_flush(&mut self);
    fn map_shared_info(&mut self, gfn: u64) -> Result<(), Errno>;
    /// Moves the RAM frame at gfn `from` to gfn `to` (freeing what was at `to`).
    fn move_frame(&mut self, from: u64, to: u64) -> Result<(), Errno>;
    fn memory_map(&self) -> &[MapEntry];
    fn hvm_params(&mut self) -> &mut [u64];
    fn vcpus(&mut self) -> &mut [VcpuState];
    fn shutdown_code(&mut self) -> &mut Option<u32>;
    fn handle(&self) -> [u8; 16];
    /// Marks the domain shut down with `reason` (its vCPUs stop).
    fn shut_down(&mut self, reason: u32);
    /// Records where vCPU `vcpu` keeps its `vcpu_info` and publishes the
    /// time there; -EINVAL if `gfn` is not RAM or one is registered already.
    fn register_vcpu_info(&mut self, vcpu: usize, gfn: u64, offset: u32) -> Result<(), Errno>;
    fn paused(&self) -> bool;
    /// Offers its runnable vCPUs to the CPUs (one brought up by VCPUOP_up).
    fn queue_runnable(&self);
    /// The VMASST_TYPE_* bits the domain enabled.
    fn vm_assist(&mut self) -> &mut u64;
    /// XEN_DOMCTL_max_vcpus: the vCPU count is createdomain's for good;
    /// `max` must be it (-EINVAL otherwise, as Xen 4.17).
    fn set_max_vcpus(&mut self, max: u32) -> Result<(), Errno>;
    fn set_paused(&mut self, paused: bool);
    /// The reason it shut down with, if it has.
    fn shut_down_reason(&self) -> Option<u32>;
    fn shared_info_gfn(&self) -> Option<u64>;
    /// CPU time its vCPUs have had, in ns.
    fn cpu_time_ns(&self) -> u64;
    /// Its event-channel ports.
    fn evtchn(&mut self) -> &mut EventChannels;
    /// Where its 2-level event bits live.
    fn event_words(&mut self) -> &mut dyn EventWords;
    /// Latches the shared-info layout from the guest's mode (32-bit: compat),
    /// as Xen's `hvm_latch_shinfo_size` at shared-info mapping and callback set-up.
    fn latch_shinfo_compat(&mut self, compat: bool);
    /// Its grant-table bookkeeping (version, pinned grants, maptrack).
    fn grant(&mut self) -> &mut GrantState;
    /// Frames in its shared grant table.
    fn grant_frames(&self) -> u32;
    /// Grows its shared grant table to `frames` zeroed frames (the caller
    /// keeps to `grant().max_frames`); -ENOMEM.
    fn grant_grow(&mut self, frames: u32) -> Result<(), Errno>;
    /// The gfn shared grant frame `idx` is mapped at, if it is.
    fn grant_frame_gfn(&self, idx: u32) -> Option<u64>;
    /// Maps shared grant frame `idx` (below `grant_frames()`) at `gfn`,
    /// moving it from where it was (XENMAPSPACE_grant_table); RAM at `gfn`
    /// is freed, anything else there is -EINVAL.
    fn map_grant_frame(&mut self, idx: u32, gfn: u64) -> Result<(), Errno>;
    /// Grant entry `gref` in one load: flags | domid << 16 | frame << 32;
    /// None past the table.
    fn grant_entry(&self, gref: u32) -> Option<u64>;
    /// Compare-exchange of entry `gref`'s flags and domid (flags | domid
    /// << 16; the guest may change them concurrently); returns what they
    /// held. `gref` is inside the table.
    fn grant_entry_cmpxchg(&mut self, gref: u32, old: u32, new: u32) -> u32;
    /// Atomically clears `mask` in entry `gref`'s flags.
    fn grant_entry_clear(&mut self, gref: u32, mask: u16);
    /// Overwrites entry `gref` (swap_grant_ref).
    fn grant_entry_set(&mut self, gref: u32, raw: u64);
    /// Its RAM frame at `gfn` (writable RAM if `write`), pinned: a frame it
    /// may grant, copy to and from, or lend to Dom0
    /// (XENMAPSPACE_gmfn_foreign), which stays allocated while the handle
    /// lives (`mm::handle`); None if `gfn` is not RAM.
    fn ram_frame(&self, gfn: u64, write: bool) -> Option<PinnedFrame>;
    /// Maps `frame`, granted by a domain (maybe itself), at `gfn`
    /// (read-only or not); RAM or a foreign frame at `gfn` is removed
    /// first, anything else there is -EINVAL. The pin becomes the mapping's
    /// reference: the frame stays allocated while it is mapped here.
    fn map_grant(&mut self, gfn: u64, frame: PinnedFrame, readonly: bool) -> Result<(), Errno>;
    /// Removes the grant mapping of `mfn` at `gfn`; -EINVAL if that is not
    /// what `gfn` holds.
    fn unmap_grant(&mut self, gfn: u64, mfn: u64) -> Result<(), Errno>;
    /// Maps `frame` of another domain at `gfn` (XENMAPSPACE_gmfn_foreign),
    /// replacing RAM or a foreign frame there (-EPERM over device memory,
    /// -EINVAL over a grant mapping); the pin becomes the mapping's
    /// reference, so the frame stays allocated while it is mapped here, and
    /// the physmap ops remove it like RAM.
    fn map_foreign(&mut self, gfn: u64, frame: PinnedFrame) -> Result<(), Errno>;
    /// SCHEDOP_watchdog timers: the system time (ns) each one in use expires at.
    fn watchdogs(&mut self) -> &mut [Option<u64>; abi::sched::NR_DOMAIN_WATCHDOG_TIMERS];
    /// Replaces the map XENMEM_memory_map returns (XENMEM_set_memory_map).
    fn set_memory_map(&mut self, map: Vec<MapEntry>);
}

/// A physical CPU, as XENPF_get_cpuinfo tells Dom0 of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pcpu {
    pub apic_id: u32,
    pub acpi_id: u32,
}

/// Facts about the machine that some hypercalls report.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MachineInfo<'a> {
    pub nr_cpus: u32,
    pub cpu_khz: u32,
    pub total_pages: u64,
    pub free_pages: u64,
    /// One past the highest machine frame (XENMEM_maximum_ram_page).
    pub max_mfn: u64,
    pub cmdline: &'a str,
    /// Intel VT-x with EPT (else AMD-V with NPT).
    pub vmx: bool,
}

/// What a handler may touch: the calling domain's identity and memory (by
/// guest-virtual address, bounds-checked through its page tables and p2m),
/// the domains it may act on, the console.
pub trait Caller {
    fn domid(&self) -> u16;
    fn vcpu_id(&self) -> u32;
    fn privileged(&self) -> bool;
    /// The caller runs 32-bit code: its arguments use Xen's compat layouts.
    fn compat(&self) -> bool;
    /// Copies guest memory at `gva` into `buf`; `EFAULT` when any byte is not
    /// the guest's RAM.
    fn copy_from_guest(&self, gva: u64, buf: &mut [u8]) -> Result<(), Errno>;
    fn copy_to_guest(&mut self, gva: u64, buf: &[u8]) -> Result<(), Errno>;
    /// Takes guest console output (the hypervisor adds the `(dN)` prefix
    /// and prints it once the call is over); returns how many bytes it
    /// took: fewer when this exit's output buffer is full, and the rest
    /// must wait for a continuation.
    fn console_write(&mut self, bytes: &[u8]) -> usize;
    /// Reads pending console input into `buf`; returns the bytes read.
    fn console_read(&mut self, buf: &mut [u8]) -> usize;
    /// The calling domain.
    fn this(&mut self) -> &mut dyn DomainOps;
    /// Domain `domid` (`DOMID_SELF` is the caller), if it exists. Privilege
    /// is the handler's to check.
    fn domain(&mut self, domid: u16) -> Option<&mut dyn DomainOps>;
    /// Domain `domid` exactly (no `DOMID_SELF`), as Xen's `rcu_lock_domain_by_id`.
    fn domain_exact(&mut self, domid: u16) -> Option<&mut dyn DomainOps> {
        if domid >= abi::xen::DOMID_FIRST_RESERVED.0 { None } else { self.domain(domid) }
    }
    /// Creates an empty, paused domain with id `id` (0: the next free one).
    fn create_domain(&mut self, id: u16, max_vcpus: u32, handle: [u8; 16]) -> Result<u16, Errno>;
    /// Destroys a domain: marks it dying and, while one of its vCPUs still
    /// runs, stops them and answers -ERESTART (the toolstack's call runs
    /// again); once none runs, releases its grant mappings
    /// (`grant_table::release_domain`) and returns every frame it held.
    fn destroy_domain(&mut self, id: u16) -> Result<(), Errno>;
    /// After domain `id` was paused: -ERESTART while one of its vCPUs
    /// still runs guest code on another CPU (that CPU is kicked, and parks
    /// it at that exit), as Xen's domain_pause waits in vcpu_sleep_sync.
    fn wait_paused(&mut self, id: u16) -> Result<(), Errno>;
    /// Ids of the existing domains from `first` up, in order.
    fn domain_ids(&self, first: u16) -> Vec<u16>;
    fn machine(&self) -> MachineInfo<'_>;
    /// Physical CPU `index` (Xen's cpu id), if the hypervisor brought it up.
    fn pcpu(&self, index: u32) -> Option<Pcpu>;
    /// Xen system time: nanoseconds since the hypervisor booted.
    fn machine_time_ns(&self) -> u64;
    /// The pvclock record a vCPU would read now.
    fn pvclock(&self) -> abi::xen::VcpuTimeInfo;
    /// Up to `max` bytes of the console ring from index `from` (None: the
    /// oldest kept) and the index after them; `clear` forgets them.
    fn read_console_ring(&mut self, from: Option<u32>, max: usize, clear: bool) -> (Vec<u8>, u32);
    /// Copies `len` bytes between frames the grant logic holds pinned (from
    /// `DomainOps::ram_frame` or a grant's pin); -EINVAL if a range leaves
    /// its frame or `dst` is held read-only.
    fn copy_frame(&mut self, src: &PinnedFrame, src_off: usize, dst: &PinnedFrame, dst_off: usize, len: usize) -> Result<(), Errno>;
    /// The work this exit may still do (`entry::Budget`): long operations
    /// spend it and continue once it is gone.
    fn budget(&mut self) -> &mut Budget;
}

/// Xen's `rcu_lock_domain_by_any_id` then its XSM_TARGET check: the domain
/// `dom` names (`DOMID_SELF` too; else -ESRCH), if the caller is it or is
/// privileged (else -EPERM).
pub fn target_domain(caller: &mut impl Caller, dom: u16) -> Result<&mut dyn DomainOps, Errno> {
    let (me, privileged) = (caller.domid(), caller.privileged());
    let d = caller.domain(dom).ok_or(Errno::ESRCH)?;
    if d.id() != me && !privileged {
        return Err(Errno::EPERM);
    }
    Ok(d)
}

/// Reads a plain-old-data argument from guest memory.
pub fn read_arg<T: FromBytes + IntoBytes>(caller: &impl Caller, gva: u64) -> Result<T, Errno> {
    let mut value = T::new_zeroed();
    caller.copy_from_guest(gva, value.as_mut_bytes())?;
    Ok(value)
}

/// Writes a plain-old-data result to guest memory.
pub fn write_arg<T: IntoBytes + Immutable>(caller: &mut impl Caller, gva: u64, value: &T) -> Result<(), Errno> {
    caller.copy_to_guest(gva, value.as_bytes())
}

/// What the vCPU loop does after a hypercall.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Put this value in rax and resume the guest.
    Return(u64),
    /// The domain asked to shut down with this `SHUTDOWN_*` reason.
    Shutdown(u32),
    /// Give the CPU away, then return 0.
    Yield,
    /// Wait for an event (SCHEDOP_block), then return 0.
    Block,
    /// Wait until a port in the vCPU's `poll_ports` is pending or system
    /// time passes this deadline (0: none), then return 0 (SCHEDOP_poll).
    Poll(u64),
    /// Not finished: set the first argument register to this value and run
    /// the hypercall again (Xen's continuation; RIP is not advanced).
    Preempted(u64),
    /// Not finished: set the first two argument registers to these and run
    /// the hypercall again (multicall: the list past its done entries and
    /// the count left; the third register is not its argument).
    Continue2([u64; 2]),
    /// Not finished: set the first three argument registers to these and
    /// run the hypercall again (a batch continued past its done entries).
    Continue([u64; 3]),
}

impl Outcome {
    pub fn err(e: Errno) -> Outcome {
        Outcome::Return(e.to_hypercall_ret())
    }
}

/// An `int` / `unsigned int` argument: Xen's handlers declare these 32 bits
/// wide, so the register's upper half is ignored.
fn u32_arg(value: u64) -> u64 {
    value & 0xffff_ffff
}

/// The table. Inlined into the hypercall entry: the null hypercall pays no
/// call, and its outcome stays in registers.
#[inline(always)]
pub fn dispatch(caller: &mut impl Caller, call: Call) -> Outcome {
    let a = call.args;
    match call.nr {
        xen::HYPERVISOR_XEN_VERSION => xen_version::xen_version(caller, u32_arg(a[0]), a[1]),
        xen::HYPERVISOR_CONSOLE_IO => console_io::console_io(caller, u32_arg(a[0]), u32_arg(a[1]), a[2]),
        xen::HYPERVISOR_SCHED_OP => sched_op::sched_op(caller, u32_arg(a[0]), a[1]),
        xen::HYPERVISOR_HVM_OP => hvm_op::hvm_op(caller, a[0], a[1]),
        xen::HYPERVISOR_MEMORY_OP => memory_op::memory_op(caller, a[0], a[1]),
        xen::HYPERVISOR_VCPU_OP => vcpu_op::vcpu_op(caller, u32_arg(a[0]), u32_arg(a[1]), a[2]),
        xen::HYPERVISOR_DOMCTL => domctl::domctl(caller, call.args[0]),
        xen::HYPERVISOR_MULTICALL => multicall::multicall(caller, a[0], u32_arg(a[1])),
        xen::HYPERVISOR_EVENT_CHANNEL_OP => event_channel::event_channel_op(caller, u32_arg(a[0]), a[1]),
        xen::HYPERVISOR_VM_ASSIST => vm_assist::vm_assist(caller, u32_arg(a[0]), u32_arg(a[1])),
        xen::HYPERVISOR_SET_TIMER_OP => {
            // A 32-bit caller passes the 64-bit timeout in two registers.
            let timeout = if caller.compat() { u32_arg(a[0]) | (u32_arg(a[1]) << 32) } else { a[0] };
            vcpu_op::set_timer_op(caller, timeout)
        }
        xen::HYPERVISOR_SYSCTL => sysctl::sysctl(caller, call.args[0]),
        xen::HYPERVISOR_GRANT_TABLE_OP => grant_table::grant_table_op(caller, u32_arg(a[0]), a[1], u32_arg(a[2])),
        xen::HYPERVISOR_PLATFORM_OP => platform_op::platform_op(caller, a[0]),
        xen::HYPERVISOR_PHYSDEV_OP => physdev_op::physdev_op(caller, u32_arg(a[0]), a[1]),
        xen::HYPERVISOR_MMUEXT_OP => mmuext_op::mmuext_op(caller, a[0], u32_arg(a[1]), a[2], u32_arg(a[3])),
        xen::HYPERVISOR_XENPMU_OP => xenpmu_op::xenpmu_op(),
        xen::HYPERVISOR_DM_OP => dm_op::dm_op(caller, a[0] & 0xffff, u32_arg(a[1]), a[2]),
        xen::HYPERVISOR_HYPFS_OP => hypfs_op::hypfs_op(caller, u32_arg(a[0]), a[1], a[2], a[3], a[4]),
        xen::HYPERVISOR_ARCH_1 => paging_domctl::paging_domctl_cont(caller, a[0]),
        _ => Outcome::err(Errno::ENOSYS),
    }
}

#[cfg(test)]
pub(crate) mod fake {
    //! A caller with a flat fake memory (gva == offset into `mem`) and fake
    //! domains whose RAM is a set of gfns.
    use super::*;
    use alloc::collections::BTreeSet;
    use crate::event::two_level::fake::FakeWords;

    pub struct FakeDomain {
        pub id: u16,
        pub max_pages: u64,
        pub gfns: BTreeSet<u64>,
        pub reserved: u64,
        pub shared_info_gfn: Option<u64>,
        pub memory_map: Vec<MapEntry>,
        pub params: Vec<u64>,
        pub vcpus: Vec<VcpuState>,
        pub shutdown_code: Option<u32>,
        pub shut_down: Option<u32>,
        pub paused: bool,
        pub vm_assist: u64,
        pub evtchn: EventChannels,
        pub words: FakeWords,
        pub grant: GrantState,
        /// Shared grant frames: entries, and the gfn each is mapped at.
        pub grant_table: Vec<(Vec<u64>, Option<u64>)>,
        /// Contents of RAM pages written so far (others read as zeros).
        pub ram: alloc::collections::BTreeMap<u64, Vec<u8>>,
        /// RAM gfns mapped read-only.
        pub readonly: BTreeSet<u64>,
        /// Grant mappings: gfn -> (frame, read-only).
        pub grant_maps: alloc::collections::BTreeMap<u64, (u64, bool)>,
        /// Foreign frames mapped here (gmfn_foreign): gfn -> mfn.
        pub foreign: alloc::collections::BTreeMap<u64, u64>,
        pub watchdogs: [Option<u64>; abi::sched::NR_DOMAIN_WATCHDOG_TIMERS],
    }

    /// The fake machine frame of domain `id`'s RAM at `gfn`.
    pub fn fake_mfn(id: u16, gfn: u64) -> u64 {
        (u64::from(id) << 40) | gfn
    }

    impl FakeDomain {
        pub fn new(id: u16) -> Self {
            FakeDomain {
                id,
                max_pages: 1024,
                gfns: (0x100..0x200).collect(),
                reserved: 0,
                shared_info_gfn: None,
                memory_map: vec![MapEntry { addr: 0x10_0000, size: 0x10_0000, r#type: 1 }],
                params: vec![0; abi::hvm::params::HVM_NR_PARAMS as usize],
                vcpus: vec![VcpuState { up: true, ..VcpuState::default() }, VcpuState::default()],
                evtchn: EventChannels::new(2, u32::MAX),
                words: FakeWords::new(64, 2),
                shutdown_code: None,
                shut_down: None,
                paused: false,
                vm_assist: 0,
                grant: GrantState::default(),
                grant_table: vec![(vec![0; 512], None)],
                ram: alloc::collections::BTreeMap::new(),
                readonly: BTreeSet::new(),
                grant_maps: alloc::collections::BTreeMap::new(),
                foreign: alloc::collections::BTreeMap::new(),
                watchdogs: [None; abi::sched::NR_DOMAIN_WATCHDOG_TIMERS],
            }
        }

        /// Fills grant entry `gref` as the guest would.
        pub fn grant_to(&mut self, gref: u32, flags: u16, domid: u16, frame: u32) {
            let raw = u64::from(flags) | u64::from(domid) << 16 | u64::from(frame) << 32;
            self.grant_table[(gref / 512) as usize].0[(gref % 512) as usize] = raw;
        }

        /// The flags of grant entry `gref`.
        pub fn grant_flags(&self, gref: u32) -> u16 {
            let raw = self.grant_table[(gref / 512) as usize].0[(gref % 512) as usize];
            u16::try_from(raw & 0xffff).unwrap()
        }

        pub fn page(&mut self, gfn: u64) -> &mut Vec<u8> {
            self.ram.entry(gfn).or_insert_with(|| vec![0; 4096])
        }
    }

    impl DomainOps for FakeDomain {
        fn id(&self) -> u16 {
            self.id
        }
        fn tot_pages(&self) -> u64 {
            self.gfns.len() as u64 + self.reserved
        }
        fn max_pages(&self) -> u64 {
            self.max_pages
        }
        fn set_max_pages(&mut self, pages: u64) {
            self.max_pages = pages;
        }
        fn max_gpfn(&self) -> u64 {
            self.gfns.iter().next_back().copied().unwrap_or(0)
        }
        fn populate(&mut self, gfn: u64, order: u32) -> Result<(), Errno> {
            let count = 1u64 << order;
            if self.tot_pages() + count > self.max_pages {
                return Err(Errno::ENOMEM);
            }
            if (gfn..gfn + count).any(|g| self.gfns.contains(&g)) {
                return Err(Errno::EBUSY);
            }
            self.gfns.extend(gfn..gfn + count);
            Ok(())
        }
        fn reserve(&mut self, order: u32) -> Result<(), Errno> {
            if self.tot_pages() + (1 << order) > self.max_pages {
                return Err(Errno::ENOMEM);
            }
            self.reserved += 1 << order;
            Ok(())
        }
        fn remove(&mut self, gfn: u64) -> Result<(), Errno> {
            if self.grant_maps.contains_key(&gfn) {
                return Err(Errno::EINVAL);
            }
            if self.gfns.remove(&gfn) || self.foreign.remove(&gfn).is_some() { Ok(()) } else { Err(Errno::ENOENT) }
        }
        fn mem_type(&self, gfn: u64) -> Option<u16> {
            self.gfns.contains(&gfn).then_some(0)
        }
        fn request_tlb_flush(&mut self) {}
        fn map_shared_info(&mut self, gfn: u64) -> Result<(), Errno> {
            self.gfns.remove(&gfn);
            self.shared_info_gfn = Some(gfn);
            Ok(())
        }
        fn move_frame(&mut self, from: u64, to: u64) -> Result<(), Errno> {
            if !self.gfns.remove(&from) {
                return Err(Errno::EINVAL);
            }
            self.gfns.insert(to);
            Ok(())
        }
        fn memory_map(&self) -> &[MapEntry] {
            &self.memory_map
        }
        fn hvm_params(&mut self) -> &mut [u64] {
            &mut self.params
        }
        fn vcpus(&mut self) -> &mut [VcpuState] {
            &mut self.vcpus
        }
        fn shutdown_code(&mut self) -> &mut Option<u32> {
            &mut self.shutdown_code
        }
        fn handle(&self) -> [u8; 16] {
            [0xab; 16]
        }
        fn shut_down(&mut self, reason: u32) {
            self.shut_down = Some(reason);
        }
        fn register_vcpu_info(&mut self, vcpu: usize, gfn: u64, offset: u32) -> Result<(), Errno> {
            if !self.gfns.contains(&gfn) || self.vcpus[vcpu].vcpu_info.is_some() {
                return Err(Errno::EINVAL);
            }
            self.vcpus[vcpu].vcpu_info = Some((gfn, offset));
            Ok(())
        }
        fn queue_runnable(&self) {}
        fn paused(&self) -> bool {
            self.paused
        }
        fn set_max_vcpus(&mut self, max: u32) -> Result<(), Errno> {
            if max as usize != self.vcpus.len() { Err(Errno::EINVAL) } else { Ok(()) }
        }
        fn vm_assist(&mut self) -> &mut u64 {
            &mut self.vm_assist
        }
        fn set_paused(&mut self, paused: bool) {
            self.paused = paused;
        }
        fn shut_down_reason(&self) -> Option<u32> {
            self.shut_down
        }
        fn shared_info_gfn(&self) -> Option<u64> {
            self.shared_info_gfn
        }
        fn cpu_time_ns(&self) -> u64 {
            42
        }
        fn evtchn(&mut self) -> &mut EventChannels {
            &mut self.evtchn
        }
        fn event_words(&mut self) -> &mut dyn EventWords {
            &mut self.words
        }
        fn latch_shinfo_compat(&mut self, compat: bool) {
            self.words.bits = if compat { 32 } else { 64 };
        }
        fn grant(&mut self) -> &mut GrantState {
            &mut self.grant
        }
        fn grant_frames(&self) -> u32 {
            u32::try_from(self.grant_table.len()).unwrap()
        }
        fn grant_grow(&mut self, frames: u32) -> Result<(), Errno> {
            self.grant_table.resize(frames.max(self.grant_frames()) as usize, (vec![0; 512], None));
            Ok(())
        }
        fn grant_frame_gfn(&self, idx: u32) -> Option<u64> {
            self.grant_table.get(idx as usize)?.1
        }
        fn map_grant_frame(&mut self, idx: u32, gfn: u64) -> Result<(), Errno> {
            if gfn >= crate::mm::p2m::GFN_LIMIT || self.grant_maps.contains_key(&gfn) {
                return Err(Errno::EINVAL);
            }
            self.gfns.remove(&gfn);
            self.foreign.remove(&gfn);
            for frame in &mut self.grant_table {
                if frame.1 == Some(gfn) {
                    frame.1 = None;
                }
            }
            self.grant_table[idx as usize].1 = Some(gfn);
            Ok(())
        }
        fn grant_entry(&self, gref: u32) -> Option<u64> {
            self.grant_table.get((gref / 512) as usize).map(|f| f.0[(gref % 512) as usize])
        }
        fn grant_entry_cmpxchg(&mut self, gref: u32, old: u32, new: u32) -> u32 {
            let entry = &mut self.grant_table[(gref / 512) as usize].0[(gref % 512) as usize];
            let was = u32::try_from(*entry & 0xffff_ffff).unwrap();
            if was == old {
                *entry = (*entry & !0xffff_ffff) | u64::from(new);
            }
            was
        }
        fn grant_entry_clear(&mut self, gref: u32, mask: u16) {
            self.grant_table[(gref / 512) as usize].0[(gref % 512) as usize] &= !u64::from(mask);
        }
        fn grant_entry_set(&mut self, gref: u32, raw: u64) {
            self.grant_table[(gref / 512) as usize].0[(gref % 512) as usize] = raw;
        }
        fn ram_frame(&self, gfn: u64, write: bool) -> Option<PinnedFrame> {
            let writable = !self.readonly.contains(&gfn);
            (self.gfns.contains(&gfn) && (writable || !write)).then(|| PinnedFrame::fake(fake_mfn(self.id, gfn), writable))
        }
        fn map_grant(&mut self, gfn: u64, frame: PinnedFrame, readonly: bool) -> Result<(), Errno> {
            let mfn = frame.mfn().raw();
            if gfn >= crate::mm::p2m::GFN_LIMIT || self.grant_maps.contains_key(&gfn) || self.grant_table.iter().any(|f| f.1 == Some(gfn)) {
                return Err(Errno::EINVAL);
            }
            self.gfns.remove(&gfn);
            self.foreign.remove(&gfn);
            self.grant_maps.insert(gfn, (mfn, readonly));
            Ok(())
        }
        fn unmap_grant(&mut self, gfn: u64, mfn: u64) -> Result<(), Errno> {
            match self.grant_maps.get(&gfn) {
                Some(&(m, _)) if m == mfn => {
                    self.grant_maps.remove(&gfn);
                    Ok(())
                }
                _ => Err(Errno::EINVAL),
            }
        }
        fn map_foreign(&mut self, gfn: u64, frame: PinnedFrame) -> Result<(), Errno> {
            let mfn = frame.mfn().raw();
            if self.grant_maps.contains_key(&gfn) {
                return Err(Errno::EINVAL);
            }
            self.gfns.remove(&gfn);
            self.foreign.insert(gfn, mfn);
            Ok(())
        }
        fn watchdogs(&mut self) -> &mut [Option<u64>; abi::sched::NR_DOMAIN_WATCHDOG_TIMERS] {
            &mut self.watchdogs
        }
        fn set_memory_map(&mut self, map: Vec<MapEntry>) {
            self.memory_map = map;
        }
    }

    pub struct FakeCaller {
        pub domid: u16,
        pub privileged: bool,
        pub mem: Vec<u8>,
        pub console: Vec<u8>,
        pub input: Vec<u8>,
        pub domains: Vec<FakeDomain>,
        pub compat: bool,
        pub ring: alloc::boxed::Box<crate::console::ring::Ring>,
        pub vmx: bool,
        pub budget: Budget,
        /// Console bytes this exit still takes (None: all of them).
        pub console_room: Option<usize>,
    }

    impl FakeCaller {
        pub fn new(size: usize) -> Self {
            FakeCaller {
                domid: 0,
                privileged: true,
                mem: vec![0; size],
                console: Vec::new(),
                input: Vec::new(),
                domains: vec![FakeDomain::new(0), FakeDomain::new(1)],
                compat: false,
                ring: alloc::boxed::Box::default(),
                vmx: true,
                budget: Budget::per_exit(),
                console_room: None,
            }
        }

        /// The next hypercall exit: a fresh budget (the vCPU loop gives
        /// every exit its own).
        pub fn next_exit(&mut self) {
            self.budget = Budget::per_exit();
        }

        pub fn unprivileged(size: usize) -> Self {
            FakeCaller { domid: 1, privileged: false, ..FakeCaller::new(size) }
        }

        pub fn put<T: IntoBytes + Immutable>(&mut self, at: usize, value: &T) {
            let bytes = value.as_bytes();
            self.mem[at..at + bytes.len()].copy_from_slice(bytes);
        }

        pub fn get<T: FromBytes>(&self, at: usize) -> T {
            T::read_from_prefix(&self.mem[at..]).unwrap().0
        }

        pub fn dom(&mut self, id: u16) -> &mut FakeDomain {
            self.domains.iter_mut().find(|d| d.id == id).unwrap()
        }
    }

    impl Caller for FakeCaller {
        fn domid(&self) -> u16 {
            self.domid
        }
        fn vcpu_id(&self) -> u32 {
            0
        }
        fn privileged(&self) -> bool {
            self.privileged
        }
        fn compat(&self) -> bool {
            self.compat
        }
        fn copy_from_guest(&self, gva: u64, buf: &mut [u8]) -> Result<(), Errno> {
            let start = usize::try_from(gva).map_err(|_| Errno::EFAULT)?;
            let end = start.checked_add(buf.len()).ok_or(Errno::EFAULT)?;
            buf.copy_from_slice(self.mem.get(start..end).ok_or(Errno::EFAULT)?);
            Ok(())
        }
        fn copy_to_guest(&mut self, gva: u64, buf: &[u8]) -> Result<(), Errno> {
            let start = usize::try_from(gva).map_err(|_| Errno::EFAULT)?;
            let end = start.checked_add(buf.len()).ok_or(Errno::EFAULT)?;
            self.mem.get_mut(start..end).ok_or(Errno::EFAULT)?.copy_from_slice(buf);
            Ok(())
        }
        fn console_write(&mut self, bytes: &[u8]) -> usize {
            let n = self.console_room.map_or(bytes.len(), |room| room.min(bytes.len()));
            if let Some(room) = &mut self.console_room {
                *room -= n;
            }
            self.console.extend_from_slice(&bytes[..n]);
            n
        }
        fn console_read(&mut self, buf: &mut [u8]) -> usize {
            let n = buf.len().min(self.input.len());
            buf[..n].copy_from_slice(&self.input[..n]);
            self.input.drain(..n);
            n
        }
        fn this(&mut self) -> &mut dyn DomainOps {
            let id = self.domid;
            self.dom(id)
        }
        fn domain(&mut self, domid: u16) -> Option<&mut dyn DomainOps> {
            let id = if domid == abi::xen::DOMID_SELF.0 { self.domid } else { domid };
            self.domains.iter_mut().find(|d| d.id == id).map(|d| d as &mut dyn DomainOps)
        }
        fn pcpu(&self, index: u32) -> Option<Pcpu> {
            (index < 2).then_some(Pcpu { apic_id: index * 2, acpi_id: index })
        }
        fn machine(&self) -> MachineInfo<'_> {
            MachineInfo { nr_cpus: 2, cpu_khz: 2_000_000, total_pages: 65536, free_pages: 30000, max_mfn: 0x10000, cmdline: "loglvl=info", vmx: self.vmx }
        }
        fn machine_time_ns(&self) -> u64 {
            5000
        }
        fn pvclock(&self) -> abi::xen::VcpuTimeInfo {
            abi::zerocopy::FromZeros::new_zeroed()
        }
        fn read_console_ring(&mut self, from: Option<u32>, max: usize, clear: bool) -> (Vec<u8>, u32) {
            self.ring.read(from, max, clear)
        }
        fn create_domain(&mut self, id: u16, max_vcpus: u32, _handle: [u8; 16]) -> Result<u16, Errno> {
            let id = if id == 0 { (1..).find(|i| self.domains.iter().all(|d| d.id != *i)).unwrap() } else { id };
            let mut d = FakeDomain::new(id);
            d.vcpus = VcpuState::new_set(max_vcpus as usize);
            d.evtchn = EventChannels::new(max_vcpus as usize, u32::MAX);
            d.paused = true;
            self.domains.push(d);
            Ok(id)
        }
        fn wait_paused(&mut self, _id: u16) -> Result<(), Errno> {
            Ok(())
        }
        fn destroy_domain(&mut self, id: u16) -> Result<(), Errno> {
            let at = self.domains.iter().position(|d| d.id == id).ok_or(Errno::ESRCH)?;
            if self.domains[at].vcpus.iter().any(|v| v.running_on.is_some()) {
                return Err(Errno::ERESTART);
            }
            crate::hypercall::grant_table::release_domain(self, id);
            let at = self.domains.iter().position(|d| d.id == id).ok_or(Errno::ESRCH)?;
            self.domains.remove(at);
            Ok(())
        }
        fn domain_ids(&self, first: u16) -> Vec<u16> {
            let mut ids: Vec<u16> = self.domains.iter().map(|d| d.id).filter(|i| *i >= first).collect();
            ids.sort();
            ids
        }
        fn copy_frame(&mut self, src: &PinnedFrame, src_off: usize, dst: &PinnedFrame, dst_off: usize, len: usize) -> Result<(), Errno> {
            assert!(src_off + len <= 4096 && dst_off + len <= 4096, "copy_frame past a frame");
            assert!(dst.writable(), "copy_frame into a read-only pin");
            let (src, dst) = (src.mfn().raw(), dst.mfn().raw());
            let owner = |mfn: u64| u16::try_from(mfn >> 40).unwrap();
            let bytes = self.dom(owner(src)).page(src & 0xff_ffff_ffff)[src_off..src_off + len].to_vec();
            self.dom(owner(dst)).page(dst & 0xff_ffff_ffff)[dst_off..dst_off + len].copy_from_slice(&bytes);
            Ok(())
        }
        fn budget(&mut self) -> &mut Budget {
            &mut self.budget
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fake::FakeCaller;
    use super::*;

    #[test]
    fn unknown_hypercall_numbers_return_enosys() {
        let mut c = FakeCaller::new(16);
        for nr in [0, 1, 11, 39, 48, 63, u64::MAX] {
            assert_eq!(dispatch(&mut c, Call { nr, args: [0; 5] }), Outcome::err(Errno::ENOSYS), "nr {nr}");
        }
    }
}
