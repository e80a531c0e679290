//! Mirrors xen/include/public/xen.h
//!
//! Hypercall numbers, reserved domain ids, virtual IRQs, VM assists and the
//! `start_info` flags. `CONSOLEIO_*` live in [`crate::console_io`].

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
