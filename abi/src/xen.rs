//! Mirrors xen/include/public/xen.h (with arch-x86/xen.h and arch-x86/xen-x86_64.h)
//!
//! Hypercall numbers, reserved domain ids, virtual IRQs, VM assists, the
//! `start_info` flags, and the pages Xen shares with a guest: [`SharedInfo`]
//! with its per-vCPU [`VcpuInfo`] and [`VcpuTimeInfo`]. `CONSOLEIO_*` live in
//! [`crate::console_io`].
//!
//! A 32-bit guest (PV, or HVM whose shared_info was latched in 32-bit mode)
//! sees the `Compat*` layouts, where `xen_ulong_t` is 4 bytes.

use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

/// `__XEN_LATEST_INTERFACE_VERSION__` of Xen 4.17 (xen-compat.h).
pub const XEN_LATEST_INTERFACE_VERSION: u32 = 0x0004_0e00;

/// Size of a Xen page on x86 (hypercall page, grant frames, shared_info).
/// xen.h does not name it; the x86 page size is fixed at 4 KiB.
pub const XEN_PAGE_SHIFT: u32 = 12;
/// See [`XEN_PAGE_SHIFT`].
pub const XEN_PAGE_SIZE: u64 = 1 << XEN_PAGE_SHIFT;

/// Size of one stub in the hypercall page: hypercall `n` is at `page + n * 32`
/// (arch-x86/xen-x86_64.h).
pub const HYPERCALL_STUB_SIZE: u64 = 32;

// ` enum hypercall_num { // __HYPERVISOR_* => HYPERVISOR_*()
pub const HYPERVISOR_SET_TRAP_TABLE: u64 = 0;
pub const HYPERVISOR_MMU_UPDATE: u64 = 1;
pub const HYPERVISOR_SET_GDT: u64 = 2;
pub const HYPERVISOR_STACK_SWITCH: u64 = 3;
pub const HYPERVISOR_SET_CALLBACKS: u64 = 4;
pub const HYPERVISOR_FPU_TASKSWITCH: u64 = 5;
/// Compat since interface 0x00030101.
pub const HYPERVISOR_SCHED_OP_COMPAT: u64 = 6;
pub const HYPERVISOR_PLATFORM_OP: u64 = 7;
pub const HYPERVISOR_SET_DEBUGREG: u64 = 8;
pub const HYPERVISOR_GET_DEBUGREG: u64 = 9;
pub const HYPERVISOR_UPDATE_DESCRIPTOR: u64 = 10;
pub const HYPERVISOR_MEMORY_OP: u64 = 12;
pub const HYPERVISOR_MULTICALL: u64 = 13;
pub const HYPERVISOR_UPDATE_VA_MAPPING: u64 = 14;
pub const HYPERVISOR_SET_TIMER_OP: u64 = 15;
/// Compat since interface 0x00030202.
pub const HYPERVISOR_EVENT_CHANNEL_OP_COMPAT: u64 = 16;
pub const HYPERVISOR_XEN_VERSION: u64 = 17;
pub const HYPERVISOR_CONSOLE_IO: u64 = 18;
/// Compat since interface 0x00030202.
pub const HYPERVISOR_PHYSDEV_OP_COMPAT: u64 = 19;
pub const HYPERVISOR_GRANT_TABLE_OP: u64 = 20;
pub const HYPERVISOR_VM_ASSIST: u64 = 21;
pub const HYPERVISOR_UPDATE_VA_MAPPING_OTHERDOMAIN: u64 = 22;
/// x86 only.
pub const HYPERVISOR_IRET: u64 = 23;
pub const HYPERVISOR_VCPU_OP: u64 = 24;
/// x86/64 only.
pub const HYPERVISOR_SET_SEGMENT_BASE: u64 = 25;
pub const HYPERVISOR_MMUEXT_OP: u64 = 26;
pub const HYPERVISOR_XSM_OP: u64 = 27;
pub const HYPERVISOR_NMI_OP: u64 = 28;
pub const HYPERVISOR_SCHED_OP: u64 = 29;
pub const HYPERVISOR_CALLBACK_OP: u64 = 30;
pub const HYPERVISOR_XENOPROF_OP: u64 = 31;
pub const HYPERVISOR_EVENT_CHANNEL_OP: u64 = 32;
pub const HYPERVISOR_PHYSDEV_OP: u64 = 33;
pub const HYPERVISOR_HVM_OP: u64 = 34;
pub const HYPERVISOR_SYSCTL: u64 = 35;
pub const HYPERVISOR_DOMCTL: u64 = 36;
pub const HYPERVISOR_KEXEC_OP: u64 = 37;
pub const HYPERVISOR_TMEM_OP: u64 = 38;
pub const HYPERVISOR_ARGO_OP: u64 = 39;
pub const HYPERVISOR_XENPMU_OP: u64 = 40;
pub const HYPERVISOR_DM_OP: u64 = 41;
pub const HYPERVISOR_HYPFS_OP: u64 = 42;
/// Architecture-specific hypercalls 48..=55 (x86: arch_1 is `mca`).
pub const HYPERVISOR_ARCH_0: u64 = 48;
pub const HYPERVISOR_ARCH_1: u64 = 49;
pub const HYPERVISOR_ARCH_2: u64 = 50;
pub const HYPERVISOR_ARCH_3: u64 = 51;
pub const HYPERVISOR_ARCH_4: u64 = 52;
pub const HYPERVISOR_ARCH_5: u64 = 53;
pub const HYPERVISOR_ARCH_6: u64 = 54;
pub const HYPERVISOR_ARCH_7: u64 = 55;
// ` }

// ` enum virq { VIRQ_* }: per-vCPU (V) or global (G) virtual interrupts.
pub const VIRQ_TIMER: u32 = 0;
pub const VIRQ_DEBUG: u32 = 1;
pub const VIRQ_CONSOLE: u32 = 2;
pub const VIRQ_DOM_EXC: u32 = 3;
pub const VIRQ_TBUF: u32 = 4;
pub const VIRQ_DEBUGGER: u32 = 6;
pub const VIRQ_XENOPROF: u32 = 7;
pub const VIRQ_CON_RING: u32 = 8;
pub const VIRQ_PCPU_STATE: u32 = 9;
pub const VIRQ_MEM_EVENT: u32 = 10;
pub const VIRQ_ARGO: u32 = 11;
pub const VIRQ_ENOMEM: u32 = 12;
pub const VIRQ_XENPMU: u32 = 13;
pub const VIRQ_ARCH_0: u32 = 16;
pub const VIRQ_ARCH_1: u32 = 17;
pub const VIRQ_ARCH_2: u32 = 18;
pub const VIRQ_ARCH_3: u32 = 19;
pub const VIRQ_ARCH_4: u32 = 20;
pub const VIRQ_ARCH_5: u32 = 21;
pub const VIRQ_ARCH_6: u32 = 22;
pub const VIRQ_ARCH_7: u32 = 23;
/// `NR_VIRQS`: one past the last virq.
pub const NR_VIRQS: u32 = 24;

/// Per-vCPU virqs (each vCPU binds its own); the rest are global, bound on
/// vCPU 0 and movable (`virq_is_global` in xen/common/event_channel.c).
pub fn virq_is_global(virq: u32) -> bool {
    !matches!(virq, VIRQ_TIMER | VIRQ_DEBUG | VIRQ_XENOPROF | VIRQ_XENPMU)
}

// HYPERVISOR_vm_assist commands and types.
pub const VMASST_CMD_ENABLE: u32 = 0;
pub const VMASST_CMD_DISABLE: u32 = 1;
pub const VMASST_TYPE_4GB_SEGMENTS: u32 = 0;
pub const VMASST_TYPE_4GB_SEGMENTS_NOTIFY: u32 = 1;
pub const VMASST_TYPE_WRITABLE_PAGETABLES: u32 = 2;
pub const VMASST_TYPE_PAE_EXTENDED_CR3: u32 = 3;
pub const VMASST_TYPE_ARCHITECTURAL_IOPL: u32 = 4;
pub const VMASST_TYPE_RUNSTATE_UPDATE_FLAG: u32 = 5;
pub const VMASST_TYPE_M2P_STRICT: u32 = 32;

/// `domid_t`: a domain id. Ids at or above [`DOMID_FIRST_RESERVED`] name no
/// ordinary domain.
#[repr(transparent)]
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    FromBytes,
    IntoBytes,
    KnownLayout,
    Immutable,
)]
pub struct DomId(pub u16);

impl DomId {
    /// Whether this id names an ordinary domain (below [`DOMID_FIRST_RESERVED`]).
    pub const fn is_ordinary(self) -> bool {
        self.0 < DOMID_FIRST_RESERVED.0
    }
}

const _: () = assert!(core::mem::size_of::<DomId>() == 2);

/// Domain ids at or above this cannot be used for ordinary domains.
pub const DOMID_FIRST_RESERVED: DomId = DomId(0x7FF0);
/// Refers to the calling domain.
pub const DOMID_SELF: DomId = DomId(0x7FF0);
/// Restricts page-table updates to mapping I/O memory.
pub const DOMID_IO: DomId = DomId(0x7FF1);
/// Lets privileged domains map restricted parts of Xen's heap.
pub const DOMID_XEN: DomId = DomId(0x7FF2);
/// Owner of sharable pages.
pub const DOMID_COW: DomId = DomId(0x7FF3);
/// Owner of pages with an unknown owner.
pub const DOMID_INVALID: DomId = DomId(0x7FF4);
/// The idle domain.
pub const DOMID_IDLE: DomId = DomId(0x7FFF);
/// Mask for valid domain id values.
pub const DOMID_MASK: u16 = 0x7FFF;

/// `xen_pfn_t` on x86_64 (`unsigned long`).
pub type XenPfn = u64;
/// `xen_ulong_t` on x86_64 (`unsigned long`).
pub type XenUlong = u64;
/// `xen_domain_handle_t`: a domain's 16-byte UUID.
pub type XenDomainHandle = [u8; 16];

// start_info.flags (SIF_*), also used in hvm_start_info.flags.
/// Is the domain privileged?
pub const SIF_PRIVILEGED: u32 = 1 << 0;
/// Is this the initial control domain?
pub const SIF_INITDOMAIN: u32 = 1 << 1;
/// Is mod_start a multiboot module?
pub const SIF_MULTIBOOT_MOD: u32 = 1 << 2;
/// Is mod_start a PFN?
pub const SIF_MOD_START_PFN: u32 = 1 << 3;
/// Do Xen tools understand a virtually mapped physical-to-machine list?
pub const SIF_VIRT_P2M_4TOOLS: u32 = 1 << 4;
/// Reserves one byte for xen-pm options.
pub const SIF_PM_MASK: u32 = 0xFF << 8;

/// Number of [`VcpuInfo`] slots in [`SharedInfo`]; vCPUs beyond this must
/// register a `vcpu_info` elsewhere (`VCPUOP_register_vcpu_info`).
pub const XEN_LEGACY_MAX_VCPUS: usize = 32;

/// I/O port whose writes an HVM guest's Xen prints on the console (arch-x86/xen.h).
pub const XEN_HVM_DEBUGCONS_IOPORT: u16 = 0xe9;

/// `struct vcpu_time_info`: the pvclock. The guest computes
/// `system_time + ((tsc - tsc_timestamp) << tsc_shift) * tsc_to_system_mul >> 32`
/// (a negative `tsc_shift` shifts right). Xen makes `version` odd while it
/// updates the fields and even again afterwards; a reader retries until it
/// sees the same even version before and after. Same layout for 32-bit guests.
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
pub struct VcpuTimeInfo {
    /// Update counter: odd while an update is in progress.
    pub version: u32,
    pub pad0: u32,
    /// TSC at the last update of the time values.
    pub tsc_timestamp: u64,
    /// Time in ns since boot, at `tsc_timestamp`.
    pub system_time: u64,
    /// TSC-to-ns multiplier (32.32 fixed point).
    pub tsc_to_system_mul: u32,
    /// Shift applied to the TSC delta before multiplying.
    pub tsc_shift: i8,
    /// `XEN_PVCLOCK_*`.
    pub flags: u8,
    pub pad1: [u8; 2],
}

const _: () = assert!(core::mem::size_of::<VcpuTimeInfo>() == 32);
const _: () = assert!(core::mem::offset_of!(VcpuTimeInfo, version) == 0);
const _: () = assert!(core::mem::offset_of!(VcpuTimeInfo, pad0) == 4);
const _: () = assert!(core::mem::offset_of!(VcpuTimeInfo, tsc_timestamp) == 8);
const _: () = assert!(core::mem::offset_of!(VcpuTimeInfo, system_time) == 16);
const _: () = assert!(core::mem::offset_of!(VcpuTimeInfo, tsc_to_system_mul) == 24);
const _: () = assert!(core::mem::offset_of!(VcpuTimeInfo, tsc_shift) == 28);
const _: () = assert!(core::mem::offset_of!(VcpuTimeInfo, flags) == 29);
const _: () = assert!(core::mem::offset_of!(VcpuTimeInfo, pad1) == 30);

/// `vcpu_time_info.flags`: the TSC is stable across vCPUs, so time read on
/// different vCPUs is monotonic.
pub const XEN_PVCLOCK_TSC_STABLE_BIT: u8 = 1 << 0;
/// `vcpu_time_info.flags`: the guest was paused by the toolstack.
pub const XEN_PVCLOCK_GUEST_STOPPED: u8 = 1 << 1;

/// `struct arch_vcpu_info` (x86_64).
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
pub struct ArchVcpuInfo {
    /// Faulting address of a PV guest's last page fault.
    pub cr2: u64,
    /// Pads `vcpu_info` to 64 bytes.
    pub pad: u64,
}

const _: () = assert!(core::mem::size_of::<ArchVcpuInfo>() == 16);
const _: () = assert!(core::mem::offset_of!(ArchVcpuInfo, cr2) == 0);
const _: () = assert!(core::mem::offset_of!(ArchVcpuInfo, pad) == 8);

/// `struct vcpu_info` (x86_64): per-vCPU event and time state, in
/// [`SharedInfo::vcpu_info`] or wherever `VCPUOP_register_vcpu_info` put it.
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
pub struct VcpuInfo {
    /// \[XEN\] sets it non-zero when an event is pending; \[GST\] clears it.
    pub evtchn_upcall_pending: u8,
    /// \[GST\] non-zero masks upcalls (PV guests).
    pub evtchn_upcall_mask: u8,
    /// C's implicit padding before `evtchn_pending_sel`.
    pub _pad: [u8; 6],
    /// \[XEN\] sets bit `n` when a port in `evtchn_pending[n]` becomes pending.
    pub evtchn_pending_sel: XenUlong,
    pub arch: ArchVcpuInfo,
    pub time: VcpuTimeInfo,
}

const _: () = assert!(core::mem::size_of::<VcpuInfo>() == 64);
const _: () = assert!(core::mem::offset_of!(VcpuInfo, evtchn_upcall_pending) == 0);
const _: () = assert!(core::mem::offset_of!(VcpuInfo, evtchn_upcall_mask) == 1);
const _: () = assert!(core::mem::offset_of!(VcpuInfo, evtchn_pending_sel) == 8);
const _: () = assert!(core::mem::offset_of!(VcpuInfo, arch) == 16);
const _: () = assert!(core::mem::offset_of!(VcpuInfo, time) == 32);

/// `struct arch_shared_info` (x86_64): where a PV guest publishes its p2m.
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
pub struct ArchSharedInfo {
    /// Number of valid entries in the p2m.
    pub max_pfn: u64,
    /// Frame of the list of frames of the list of p2m frames (0: not set up,
    /// all ones: invalid, use `p2m_vaddr`).
    pub pfn_to_mfn_frame_list_list: XenPfn,
    pub nmi_reason: u64,
    /// CR3 of the address space where `p2m_vaddr` is valid (0: fields unused).
    pub p2m_cr3: u64,
    /// Virtual address of the linear p2m list.
    pub p2m_vaddr: u64,
    /// Odd while the guest updates the p2m mappings.
    pub p2m_generation: u64,
}

const _: () = assert!(core::mem::size_of::<ArchSharedInfo>() == 48);
const _: () = assert!(core::mem::offset_of!(ArchSharedInfo, max_pfn) == 0);
const _: () = assert!(core::mem::offset_of!(ArchSharedInfo, pfn_to_mfn_frame_list_list) == 8);
const _: () = assert!(core::mem::offset_of!(ArchSharedInfo, nmi_reason) == 16);
const _: () = assert!(core::mem::offset_of!(ArchSharedInfo, p2m_cr3) == 24);
const _: () = assert!(core::mem::offset_of!(ArchSharedInfo, p2m_vaddr) == 32);
const _: () = assert!(core::mem::offset_of!(ArchSharedInfo, p2m_generation) == 40);

/// `struct shared_info` (x86_64): the page mapped with `XENMAPSPACE_shared_info`.
/// The wallclock at boot is `wc_sec_hi << 32 | wc_sec` s plus `wc_nsec` ns
/// since the Unix epoch; `wc_version` works like [`VcpuTimeInfo::version`].
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
pub struct SharedInfo {
    pub vcpu_info: [VcpuInfo; XEN_LEGACY_MAX_VCPUS],
    /// 2-level event channels: bit `p` set while port `p` is pending.
    pub evtchn_pending: [XenUlong; 64],
    /// 2-level event channels: bit `p` set while port `p` is masked.
    pub evtchn_mask: [XenUlong; 64],
    pub wc_version: u32,
    pub wc_sec: u32,
    pub wc_nsec: u32,
    pub wc_sec_hi: u32,
    pub arch: ArchSharedInfo,
}

const _: () = assert!(core::mem::size_of::<SharedInfo>() == 3136);
const _: () = assert!(core::mem::size_of::<SharedInfo>() as u64 <= XEN_PAGE_SIZE);
const _: () = assert!(core::mem::offset_of!(SharedInfo, vcpu_info) == 0);
const _: () = assert!(core::mem::offset_of!(SharedInfo, evtchn_pending) == 2048);
const _: () = assert!(core::mem::offset_of!(SharedInfo, evtchn_mask) == 2560);
const _: () = assert!(core::mem::offset_of!(SharedInfo, wc_version) == 3072);
const _: () = assert!(core::mem::offset_of!(SharedInfo, wc_sec) == 3076);
const _: () = assert!(core::mem::offset_of!(SharedInfo, wc_nsec) == 3080);
const _: () = assert!(core::mem::offset_of!(SharedInfo, wc_sec_hi) == 3084);
const _: () = assert!(core::mem::offset_of!(SharedInfo, arch) == 3088);

/// `struct compat_arch_vcpu_info` (arch-x86/xen-x86_32.h).
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
pub struct CompatArchVcpuInfo {
    pub cr2: u32,
    /// Pads `vcpu_info` to 64 bytes.
    pub pad: [u32; 5],
}

const _: () = assert!(core::mem::size_of::<CompatArchVcpuInfo>() == 24);
const _: () = assert!(core::mem::offset_of!(CompatArchVcpuInfo, cr2) == 0);
const _: () = assert!(core::mem::offset_of!(CompatArchVcpuInfo, pad) == 4);

/// `struct compat_vcpu_info`: [`VcpuInfo`] of a 32-bit guest.
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
pub struct CompatVcpuInfo {
    pub evtchn_upcall_pending: u8,
    pub evtchn_upcall_mask: u8,
    /// C's implicit padding before `evtchn_pending_sel`.
    pub _pad: [u8; 2],
    pub evtchn_pending_sel: u32,
    pub arch: CompatArchVcpuInfo,
    pub time: VcpuTimeInfo,
}

const _: () = assert!(core::mem::size_of::<CompatVcpuInfo>() == 64);
const _: () = assert!(core::mem::offset_of!(CompatVcpuInfo, evtchn_upcall_pending) == 0);
const _: () = assert!(core::mem::offset_of!(CompatVcpuInfo, evtchn_upcall_mask) == 1);
const _: () = assert!(core::mem::offset_of!(CompatVcpuInfo, evtchn_pending_sel) == 4);
const _: () = assert!(core::mem::offset_of!(CompatVcpuInfo, arch) == 8);
const _: () = assert!(core::mem::offset_of!(CompatVcpuInfo, time) == 32);

/// `struct compat_arch_shared_info` (arch-x86/xen-x86_32.h's `arch_shared_info`,
/// which carries `wc_sec_hi` because the generic part has no room for it).
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
pub struct CompatArchSharedInfo {
    pub max_pfn: u32,
    pub pfn_to_mfn_frame_list_list: u32,
    pub nmi_reason: u32,
    pub p2m_cr3: u32,
    pub p2m_vaddr: u32,
    pub p2m_generation: u32,
    pub wc_sec_hi: u32,
}

const _: () = assert!(core::mem::size_of::<CompatArchSharedInfo>() == 28);
const _: () = assert!(core::mem::offset_of!(CompatArchSharedInfo, max_pfn) == 0);
const _: () = assert!(core::mem::offset_of!(CompatArchSharedInfo, pfn_to_mfn_frame_list_list) == 4);
const _: () = assert!(core::mem::offset_of!(CompatArchSharedInfo, nmi_reason) == 8);
const _: () = assert!(core::mem::offset_of!(CompatArchSharedInfo, p2m_cr3) == 12);
const _: () = assert!(core::mem::offset_of!(CompatArchSharedInfo, p2m_vaddr) == 16);
const _: () = assert!(core::mem::offset_of!(CompatArchSharedInfo, p2m_generation) == 20);
const _: () = assert!(core::mem::offset_of!(CompatArchSharedInfo, wc_sec_hi) == 24);

/// `struct compat_shared_info`: [`SharedInfo`] of a 32-bit guest (1024
/// 2-level event channels instead of 4096).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
pub struct CompatSharedInfo {
    pub vcpu_info: [CompatVcpuInfo; XEN_LEGACY_MAX_VCPUS],
    pub evtchn_pending: [u32; 32],
    pub evtchn_mask: [u32; 32],
    pub wc_version: u32,
    pub wc_sec: u32,
    pub wc_nsec: u32,
    pub arch: CompatArchSharedInfo,
}

const _: () = assert!(core::mem::size_of::<CompatSharedInfo>() == 2344);
const _: () = assert!(core::mem::offset_of!(CompatSharedInfo, vcpu_info) == 0);
const _: () = assert!(core::mem::offset_of!(CompatSharedInfo, evtchn_pending) == 2048);
const _: () = assert!(core::mem::offset_of!(CompatSharedInfo, evtchn_mask) == 2176);
const _: () = assert!(core::mem::offset_of!(CompatSharedInfo, wc_version) == 2304);
const _: () = assert!(core::mem::offset_of!(CompatSharedInfo, wc_sec) == 2308);
const _: () = assert!(core::mem::offset_of!(CompatSharedInfo, wc_nsec) == 2312);
const _: () = assert!(core::mem::offset_of!(CompatSharedInfo, arch) == 2316);

/// `struct xenctl_bitmap` (toolstack only): a bitmap in the caller's memory.
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
pub struct XenctlBitmap {
    /// Guest handle (64-bit even for 32-bit callers) of the bitmap bytes.
    pub bitmap: u64,
    /// Number of bits in the bitmap.
    pub nr_bits: u32,
    /// C's implicit padding at the end.
    pub _pad: u32,
}

const _: () = assert!(core::mem::size_of::<XenctlBitmap>() == 16);
const _: () = assert!(core::mem::offset_of!(XenctlBitmap, bitmap) == 0);
const _: () = assert!(core::mem::offset_of!(XenctlBitmap, nr_bits) == 8);

// xen_arch_domainconfig.emulation_flags (arch-x86/xen.h): devices Xen emulates.
pub const XEN_X86_EMU_LAPIC: u32 = 1 << 0;
pub const XEN_X86_EMU_HPET: u32 = 1 << 1;
pub const XEN_X86_EMU_PM: u32 = 1 << 2;
pub const XEN_X86_EMU_RTC: u32 = 1 << 3;
pub const XEN_X86_EMU_IOAPIC: u32 = 1 << 4;
pub const XEN_X86_EMU_PIC: u32 = 1 << 5;
pub const XEN_X86_EMU_VGA: u32 = 1 << 6;
pub const XEN_X86_EMU_IOMMU: u32 = 1 << 7;
pub const XEN_X86_EMU_PIT: u32 = 1 << 8;
pub const XEN_X86_EMU_USE_PIRQ: u32 = 1 << 9;
pub const XEN_X86_EMU_VPCI: u32 = 1 << 10;
/// Every `XEN_X86_EMU_*` bit (a full HVM guest).
pub const XEN_X86_EMU_ALL: u32 = XEN_X86_EMU_LAPIC
    | XEN_X86_EMU_HPET
    | XEN_X86_EMU_PM
    | XEN_X86_EMU_RTC
    | XEN_X86_EMU_IOAPIC
    | XEN_X86_EMU_PIC
    | XEN_X86_EMU_VGA
    | XEN_X86_EMU_IOMMU
    | XEN_X86_EMU_PIT
    | XEN_X86_EMU_USE_PIRQ
    | XEN_X86_EMU_VPCI;

// xen_arch_domainconfig.misc_flags
/// Ignore accesses to unhandled MSRs instead of injecting #GP.
pub const XEN_X86_MSR_RELAXED: u32 = 1 << 0;
/// The highest `misc_flags` bit.
pub const XEN_X86_MISC_FLAGS_MAX: u32 = XEN_X86_MSR_RELAXED;

/// `struct xen_arch_domainconfig` (x86, toolstack only), in
/// `XEN_DOMCTL_createdomain` and `XEN_DOMCTL_getdomaininfo`.
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
pub struct XenArchDomainconfig {
    /// `XEN_X86_EMU_*`.
    pub emulation_flags: u32,
    /// `XEN_X86_MSR_RELAXED`.
    pub misc_flags: u32,
}

const _: () = assert!(core::mem::size_of::<XenArchDomainconfig>() == 8);
const _: () = assert!(core::mem::offset_of!(XenArchDomainconfig, emulation_flags) == 0);
const _: () = assert!(core::mem::offset_of!(XenArchDomainconfig, misc_flags) == 4);

/// `xen_cpuid_leaf.subleaf` of a leaf without sub-leaves.
pub const XEN_CPUID_NO_SUBLEAF: u32 = 0xffff_ffff;

/// `struct xen_cpuid_leaf`: one CPUID leaf of a serialised CPU policy.
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
pub struct XenCpuidLeaf {
    pub leaf: u32,
    pub subleaf: u32,
    pub a: u32,
    pub b: u32,
    pub c: u32,
    pub d: u32,
}

const _: () = assert!(core::mem::size_of::<XenCpuidLeaf>() == 24);
const _: () = assert!(core::mem::offset_of!(XenCpuidLeaf, leaf) == 0);
const _: () = assert!(core::mem::offset_of!(XenCpuidLeaf, subleaf) == 4);
const _: () = assert!(core::mem::offset_of!(XenCpuidLeaf, a) == 8);
const _: () = assert!(core::mem::offset_of!(XenCpuidLeaf, d) == 20);

/// `struct xen_msr_entry`: one MSR of a serialised CPU policy.
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
pub struct XenMsrEntry {
    pub idx: u32,
    /// Reserved, must be zero.
    pub flags: u32,
    pub val: u64,
}

const _: () = assert!(core::mem::size_of::<XenMsrEntry>() == 16);
const _: () = assert!(core::mem::offset_of!(XenMsrEntry, idx) == 0);
const _: () = assert!(core::mem::offset_of!(XenMsrEntry, flags) == 4);
const _: () = assert!(core::mem::offset_of!(XenMsrEntry, val) == 8);

/// `struct multicall_entry`: one call of `HYPERVISOR_multicall`.
/// `result` is written by Xen.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
pub struct MulticallEntry {
    /// IN: the hypercall number.
    pub op: XenUlong,
    /// OUT: its return value.
    pub result: XenUlong,
    /// IN: its arguments.
    pub args: [XenUlong; 6],
}

const _: () = assert!(core::mem::size_of::<MulticallEntry>() == 64);
const _: () = assert!(core::mem::offset_of!(MulticallEntry, result) == 8);
const _: () = assert!(core::mem::offset_of!(MulticallEntry, args) == 16);

/// `struct multicall_entry` of a 32-bit guest.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
pub struct CompatMulticallEntry {
    pub op: u32,
    pub result: u32,
    pub args: [u32; 6],
}

const _: () = assert!(core::mem::size_of::<CompatMulticallEntry>() == 32);

// mmuext_op.cmd (MMUEXT_*): PV page-table management; an HVM caller may
// name only the pin/unpin commands.
pub const MMUEXT_PIN_L1_TABLE: u32 = 0;
pub const MMUEXT_PIN_L4_TABLE: u32 = 3;
pub const MMUEXT_UNPIN_TABLE: u32 = 4;
/// Xen's `MMU_UPDATE_PREEMPTED` (xen/include/xen/mm.h): the count bit of a
/// continued mmu_update/mmuext_op.
pub const MMU_UPDATE_PREEMPTED: u32 = 1 << 31;
/// Bytes of a `struct mmuext_op` (cmd, two 8-byte unions).
pub const MMUEXT_OP_SIZE: u64 = 24;
/// Bytes of a 32-bit caller's `struct mmuext_op`.
pub const COMPAT_MMUEXT_OP_SIZE: u64 = 12;
