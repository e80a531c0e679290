//! A PVH DomU's ACPI tables, as libxl (`libxl__dom_load_acpi`, libacpi)
//! gives them: an RSDP (revision 2) in the last 64 bytes below 1 MiB, and
//! from [`TABLES_BASE`] (the page after libxl's `ACPI_INFO_PHYSICAL_ADDRESS`
//! 0xfc000000) the XSDT, a FADT, a MADT with one local APIC per vCPU and no
//! IOAPIC, and a DSDT with one processor object per vCPU. The memory map
//! marks both places as ACPI ([`AcpiTables::memmap`]).
//!
//! Where this differs from libacpi, on purpose: the FADT is hardware-reduced
//! (ACPI 5+: no PM1/GPE blocks, no SCI) rather than libacpi's HVM FADT whose
//! PM1a blocks point at ports a PVH domain has no device behind; APIC IDs
//! are the vCPU ids (libxl: `2 * id`), as the hypervisor's emulated LAPIC
//! and CPUID report them; no `acpi_info` page, as this DSDT reads nothing
//! from it. The tables and AML come from the `acpi_tables` crate.

use alloc::vec::Vec;

use acpi_tables::aml::{Device, Name, Path, Scope};
use acpi_tables::fadt::{FADTBuilder, Flags};
use acpi_tables::madt::{EnabledStatus, LocalInterruptController, MADT, ProcessorLocalApic};
use acpi_tables::rsdp::Rsdp;
use acpi_tables::sdt::Sdt;
use acpi_tables::xsdt::XSDT;
use acpi_tables::{Aml, AmlSink};

/// libxl's `RSDP_ADDRESS`: the last 64 bytes of the BIOS area.
pub const RSDP_ADDRESS: u64 = 0x10_0000 - 64;
/// libxl's first table page, `ACPI_INFO_PHYSICAL_ADDRESS + page`.
pub const TABLES_BASE: u64 = 0xfc00_1000;
/// The local APIC's MMIO base every vCPU sees.
pub const LAPIC_BASE: u32 = 0xfee0_0000;
/// Most vCPUs these tables describe (MADT entries carry 8-bit ids).
pub const MAX_VCPUS: u32 = 255;

const OEM_ID: [u8; 6] = *b"Xen\0\0\0";
const OEM_TABLE_ID: [u8; 8] = *b"HVM\0\0\0\0\0";
const OEM_REVISION: u32 = 0;
/// FADT IA-PC boot flags: no VGA (bit 2), no CMOS RTC (bit 5).
const IAPC_NO_VGA: u16 = 1 << 2;
const IAPC_NO_CMOS_RTC: u16 = 1 << 5;
/// E820 / hvm_memmap type of ACPI tables.
pub const MEMMAP_TYPE_ACPI: u32 = 3;

/// The tables of one domain: the RSDP's bytes (for [`RSDP_ADDRESS`]) and the
/// rest as one blob for [`TABLES_BASE`].
#[derive(Debug, Clone)]
pub struct AcpiTables {
    pub rsdp: Vec<u8>,
    pub tables: Vec<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AcpiError {
    /// 0 or more than [`MAX_VCPUS`] vCPUs.
    Vcpus(u32),
}

impl core::fmt::Display for AcpiError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            AcpiError::Vcpus(n) => write!(f, "ACPI tables for {n} vCPUs: 1 to {MAX_VCPUS} are possible"),
        }
    }
}

struct Bytes(Vec<u8>);

impl AmlSink for Bytes {
    fn byte(&mut self, byte: u8) {
        self.0.push(byte);
    }
}

fn bytes_of(t: &dyn Aml) -> Vec<u8> {
    let mut b = Bytes(Vec::new());
    t.to_aml_bytes(&mut b);
    b.0
}

/// Appends `table` to `blob` at a 16-byte boundary (libacpi's alignment);
/// returns its guest-physical address.
fn place(blob: &mut Vec<u8>, table: &[u8]) -> u64 {
    blob.resize(blob.len().next_multiple_of(16), 0);
    let at = TABLES_BASE + blob.len() as u64;
    blob.extend_from_slice(table);
    at
}

/// The DSDT: `\_SB.Cxxx` (`ACPI0007`, `_UID` = the vCPU id = the MADT's
/// processor UID) for each vCPU.
fn dsdt(vcpus: u32) -> Vec<u8> {
    let names: Vec<alloc::string::String> = (0..vcpus).map(|i| alloc::format!("C{i:03X}")).collect();
    let uids: Vec<u32> = (0..vcpus).collect();
    let hid = Name::new("_HID".into(), &"ACPI0007");
    let uid_names: Vec<Name> = uids.iter().map(|u| Name::new("_UID".into(), u)).collect();
    let cpus: Vec<Device> =
        names.iter().zip(&uid_names).map(|(n, uid)| Device::new(Path::new(n), alloc::vec![&hid as &dyn Aml, uid])).collect();
    let children: Vec<&dyn Aml> = cpus.iter().map(|d| d as &dyn Aml).collect();
    let scope = Scope::new("\\_SB_".into(), children);
    // Revision 2: 64-bit AML integers.
    let mut table = Sdt::new(*b"DSDT", 36, 2, OEM_ID, *b"DSDT\0\0\0\0", OEM_REVISION);
    scope.to_aml_bytes(&mut table);
    table.as_slice().to_vec()
}

fn madt(vcpus: u32) -> Vec<u8> {
    let mut madt = MADT::new(OEM_ID, OEM_TABLE_ID, OEM_REVISION, LocalInterruptController::Address(LAPIC_BASE));
    for id in (0..vcpus).filter_map(|i| u8::try_from(i).ok()) {
        madt.add_structure(ProcessorLocalApic::new(id, id, EnabledStatus::Enabled));
    }
    bytes_of(&madt)
}

fn fadt(dsdt: u64) -> Vec<u8> {
    let mut f = FADTBuilder::new(OEM_ID, OEM_TABLE_ID, OEM_REVISION).dsdt_64(dsdt).flag(Flags::HwReducedAcpi).flag(Flags::Wbinvd);
    f.iapc_boot_arch = (IAPC_NO_VGA | IAPC_NO_CMOS_RTC).into();
    bytes_of(&f.finalize())
}

/// The tables for a domain with `vcpus` vCPUs (ids 0..vcpus).
pub fn build(vcpus: u32) -> Result<AcpiTables, AcpiError> {
    if vcpus == 0 || vcpus > MAX_VCPUS {
        return Err(AcpiError::Vcpus(vcpus));
    }
    let mut blob = Vec::new();
    let dsdt_at = place(&mut blob, &dsdt(vcpus));
    let fadt_at = place(&mut blob, &fadt(dsdt_at));
    let madt_at = place(&mut blob, &madt(vcpus));
    let mut xsdt = XSDT::new(OEM_ID, OEM_TABLE_ID, OEM_REVISION);
    xsdt.add_entry(fadt_at);
    xsdt.add_entry(madt_at);
    let xsdt_at = place(&mut blob, &bytes_of(&xsdt));
    let rsdp = bytes_of(&Rsdp::new(OEM_ID, xsdt_at));
    Ok(AcpiTables { rsdp, tables: blob })
}

impl AcpiTables {
    /// The memory-map ranges to mark ACPI, as libxl does: the RSDP's page
    /// and the tables' pages.
    pub fn memmap(&self) -> [(u64, u64); 2] {
        let page = 0x1000;
        let rsdp_page = RSDP_ADDRESS & !(page - 1);
        [(rsdp_page, page), (TABLES_BASE, (self.tables.len() as u64).next_multiple_of(page))]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_vcpu_counts_are_refused_and_the_memmap_covers_the_tables() {
        assert_eq!(build(0).unwrap_err(), AcpiError::Vcpus(0));
        assert_eq!(build(256).unwrap_err(), AcpiError::Vcpus(256));
        let t = build(255).unwrap();
        let [(rsdp_page, one), (base, len)] = t.memmap();
        assert_eq!((rsdp_page, one), (0xff000, 0x1000));
        assert_eq!(base, TABLES_BASE);
        assert!(len >= t.tables.len() as u64 && len % 0x1000 == 0);
    }
}
// The tables parsed back by the `acpi` crate: tests/acpi_parse.rs (its
// mapping handler is `unsafe` by that crate's API, which this crate forbids).
