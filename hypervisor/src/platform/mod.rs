//! What the firmware says about the machine, reduced to plain data: CPUs,
//! interrupt controllers and timers. Filled from ACPI by `arch::x86_64::acpi`.

#![forbid(unsafe_code)]

use alloc::vec::Vec;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CpuEntry {
    pub apic_id: u32,
    pub uid: u32,
    pub is_bsp: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IoApicEntry {
    pub id: u8,
    pub address: u64,
    pub gsi_base: u32,
}

/// An ISA IRQ routed to another global system interrupt (MADT type 2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IrqOverride {
    pub isa_irq: u8,
    pub gsi: u32,
    pub active_low: bool,
    pub level_triggered: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PlatformInfo {
    /// Usable CPUs, the boot CPU first, then in MADT order.
    pub cpus: Vec<CpuEntry>,
    /// CPUs the MADT marks disabled (not started).
    pub disabled_cpus: usize,
    pub local_apic_address: u64,
    pub io_apics: Vec<IoApicEntry>,
    pub overrides: Vec<IrqOverride>,
    pub has_8259: bool,
    /// HPET register block (physical), if the firmware has an HPET table.
    pub hpet: Option<u64>,
}
