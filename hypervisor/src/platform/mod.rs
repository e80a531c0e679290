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

/// An ACPI table header (ACPI 6.4, 5.2.6), as plain fields.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SdtHeader {
    pub signature: [u8; 4],
    pub length: u32,
    pub revision: u8,
    pub checksum: u8,
    pub oem_id: [u8; 6],
    pub oem_table_id: [u8; 8],
    pub oem_revision: u32,
    pub creator_id: [u8; 4],
    pub creator_revision: u32,
}

/// One table the host's RSDT/XSDT lists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AcpiTableRef {
    pub signature: [u8; 4],
    pub address: u64,
    pub length: u32,
}

/// The host's root ACPI tables, which Dom0's builder rewrites as Xen's PVH
/// Dom0 builder does (a new MADT, XSDT and RSDP; the rest referenced).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostAcpi {
    pub rsdp_oem_id: [u8; 6],
    /// The XSDT's header, or the RSDT's when the firmware has no XSDT.
    pub root: SdtHeader,
    pub madt: Option<SdtHeader>,
    /// The root table's entries, in order.
    pub tables: Vec<AcpiTableRef>,
    /// The FACS the FADT points at (X_FIRMWARE_CTRL, else FIRMWARE_CTRL).
    pub facs: Option<u64>,
    /// The FADT's PM1a and PM1b control registers, when they are I/O
    /// ports: where an OS writes SLP_EN to enter a sleep state.
    pub pm1_control: [Option<u16>; 2],
}

/// Days from 1970-01-01 to the given date of the proleptic Gregorian
/// calendar (0 for dates before it; month 1-12, day 1-31).
pub fn days_from_civil(year: u64, month: u8, day: u8) -> u64 {
    let (m, d) = (u64::from(month.clamp(1, 12)), u64::from(day.clamp(1, 31)));
    let y = if m <= 2 { year.saturating_sub(1) } else { year };
    let era = y / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    (era * 146_097 + doe).saturating_sub(719_468)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates_count_days_from_the_unix_epoch() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(days_from_civil(2026, 11, 26), 20_783);
        assert_eq!(days_from_civil(1969, 12, 31), 0, "before the epoch clamps to 0");
    }
}
