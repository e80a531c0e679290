//! Mirrors xen/include/public/hvm/params.h
//!
//! Indices of the per-domain HVM parameters read and written with
//! `HVMOP_get_param`/`HVMOP_set_param` (see [`super::hvm_op`]).

/// Event-channel upcall: `value[63:56]` is the type (`HVM_PARAM_CALLBACK_TYPE_*`),
/// the rest is type-specific (GSI number, PCI INTx, or vector).
pub const HVM_PARAM_CALLBACK_IRQ: u32 = 0;
pub const HVM_PARAM_CALLBACK_IRQ_TYPE_MASK: u64 = 0xFF00_0000_0000_0000;
/// `value[55:0]` is a GSI.
pub const HVM_PARAM_CALLBACK_TYPE_GSI: u64 = 0;
/// `value[55:0]` is PCI `domain:bus:device.INTx`.
pub const HVM_PARAM_CALLBACK_TYPE_PCI_INTX: u64 = 1;
/// `value[7:0]` is a vector delivered directly to the vCPU's LAPIC.
pub const HVM_PARAM_CALLBACK_TYPE_VECTOR: u64 = 2;

/// Guest frame of the xenstore ring.
pub const HVM_PARAM_STORE_PFN: u32 = 1;
/// Event channel of the xenstore ring.
pub const HVM_PARAM_STORE_EVTCHN: u32 = 2;
pub const HVM_PARAM_PAE_ENABLED: u32 = 4;
pub const HVM_PARAM_IOREQ_PFN: u32 = 5;
pub const HVM_PARAM_BUFIOREQ_PFN: u32 = 6;
pub const HVM_PARAM_VIRIDIAN: u32 = 9;
pub const HVM_PARAM_TIMER_MODE: u32 = 10;
pub const HVM_PARAM_HPET_ENABLED: u32 = 11;
pub const HVM_PARAM_IDENT_PT: u32 = 12;
pub const HVM_PARAM_DM_DOMAIN: u32 = 13;
pub const HVM_PARAM_ACPI_S_STATE: u32 = 14;
pub const HVM_PARAM_VM86_TSS: u32 = 15;
pub const HVM_PARAM_VPT_ALIGN: u32 = 16;
/// Guest frame of the PV console ring.
pub const HVM_PARAM_CONSOLE_PFN: u32 = 17;
/// Event channel of the PV console ring.
pub const HVM_PARAM_CONSOLE_EVTCHN: u32 = 18;
pub const HVM_PARAM_ACPI_IOPORTS_LOCATION: u32 = 19;
pub const HVM_PARAM_MEMORY_EVENT_CR0: u32 = 20;
pub const HVM_PARAM_MEMORY_EVENT_CR3: u32 = 21;
pub const HVM_PARAM_MEMORY_EVENT_CR4: u32 = 22;
pub const HVM_PARAM_MEMORY_EVENT_INT3: u32 = 23;
pub const HVM_PARAM_NESTEDHVM: u32 = 24;
pub const HVM_PARAM_MEMORY_EVENT_SINGLE_STEP: u32 = 25;
pub const HVM_PARAM_BUFIOREQ_EVTCHN: u32 = 26;
pub const HVM_PARAM_PAGING_RING_PFN: u32 = 27;
pub const HVM_PARAM_MONITOR_RING_PFN: u32 = 28;
pub const HVM_PARAM_SHARING_RING_PFN: u32 = 29;
pub const HVM_PARAM_MEMORY_EVENT_MSR: u32 = 30;
pub const HVM_PARAM_TRIPLE_FAULT_REASON: u32 = 31;
pub const HVM_PARAM_IOREQ_SERVER_PFN: u32 = 32;
pub const HVM_PARAM_NR_IOREQ_SERVER_PAGES: u32 = 33;
pub const HVM_PARAM_VM_GENERATION_ID_ADDR: u32 = 34;
pub const HVM_PARAM_ALTP2M: u32 = 35;
pub const HVM_PARAM_X87_FIP_WIDTH: u32 = 36;
pub const HVM_PARAM_VM86_TSS_SIZED: u32 = 37;
pub const HVM_PARAM_MCA_CAP: u32 = 38;
/// Number of parameter slots; indices are below this.
pub const HVM_NR_PARAMS: u32 = 39;

// HVM_PARAM_TIMER_MODE values.
pub const HVMPTM_DELAY_FOR_MISSED_TICKS: u64 = 0;
pub const HVMPTM_NO_DELAY_FOR_MISSED_TICKS: u64 = 1;
pub const HVMPTM_NO_MISSED_TICKS_PENDING: u64 = 2;
pub const HVMPTM_ONE_MISSED_TICK_PENDING: u64 = 3;
