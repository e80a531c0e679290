//! The DomU ACPI tables `pvh::acpi` builds, parsed back with the `acpi`
//! crate (the parser the hypervisor reads the host's tables with).

use core::ptr::NonNull;

use acpi::aml::AmlError;
use acpi::platform::interrupt::InterruptModel;
use acpi::{AcpiTables as Parsed, Handle, Handler, PciAddress, PhysicalMapping};
use pvh::acpi::{AcpiTables, LAPIC_BASE, RSDP_ADDRESS, TABLES_BASE, build};

/// Guest memory for the parser: the RSDP and the blob at their addresses
/// (leaked, so they outlive every mapping). The AML accessors are never
/// called: only static tables are parsed.
#[derive(Clone, Copy)]
struct Guest {
    rsdp: &'static [u8],
    tables: &'static [u8],
}

impl Handler for Guest {
    unsafe fn map_physical_region<T>(&self, addr: usize, size: usize) -> PhysicalMapping<Self, T> {
        let addr64 = addr as u64;
        let (base, bytes) = if addr64 >= TABLES_BASE { (TABLES_BASE, self.tables) } else { (RSDP_ADDRESS, self.rsdp) };
        let off = usize::try_from(addr64 - base).unwrap();
        assert!(off + size <= bytes.len(), "the parser read past the tables: {addr:#x}+{size:#x}");
        PhysicalMapping {
            physical_start: addr,
            virtual_start: NonNull::new(bytes[off..].as_ptr() as *mut T).unwrap(),
            region_length: size,
            mapped_length: size,
            handler: *self,
        }
    }
    fn unmap_physical_region<T>(_region: &PhysicalMapping<Self, T>) {}
    fn read_u8(&self, _: usize) -> u8 {
        unreachable!()
    }
    fn read_u16(&self, _: usize) -> u16 {
        unreachable!()
    }
    fn read_u32(&self, _: usize) -> u32 {
        unreachable!()
    }
    fn read_u64(&self, _: usize) -> u64 {
        unreachable!()
    }
    fn write_u8(&self, _: usize, _: u8) {}
    fn write_u16(&self, _: usize, _: u16) {}
    fn write_u32(&self, _: usize, _: u32) {}
    fn write_u64(&self, _: usize, _: u64) {}
    fn read_io_u8(&self, _: u16) -> u8 {
        unreachable!()
    }
    fn read_io_u16(&self, _: u16) -> u16 {
        unreachable!()
    }
    fn read_io_u32(&self, _: u16) -> u32 {
        unreachable!()
    }
    fn write_io_u8(&self, _: u16, _: u8) {}
    fn write_io_u16(&self, _: u16, _: u16) {}
    fn write_io_u32(&self, _: u16, _: u32) {}
    fn read_pci_u8(&self, _: PciAddress, _: u16) -> u8 {
        unreachable!()
    }
    fn read_pci_u16(&self, _: PciAddress, _: u16) -> u16 {
        unreachable!()
    }
    fn read_pci_u32(&self, _: PciAddress, _: u16) -> u32 {
        unreachable!()
    }
    fn write_pci_u8(&self, _: PciAddress, _: u16, _: u8) {}
    fn write_pci_u16(&self, _: PciAddress, _: u16, _: u16) {}
    fn write_pci_u32(&self, _: PciAddress, _: u16, _: u32) {}
    fn nanos_since_boot(&self) -> u64 {
        0
    }
    fn stall(&self, _: u64) {}
    fn sleep(&self, _: u64) {}
    fn create_mutex(&self) -> Handle {
        Handle(0)
    }
    fn acquire(&self, _: Handle, _: u16) -> Result<(), AmlError> {
        Ok(())
    }
    fn release(&self, _: Handle) {}
}

fn parse(t: &AcpiTables) -> Parsed<Guest> {
    let guest = Guest { rsdp: Vec::leak(t.rsdp.clone()), tables: Vec::leak(t.tables.clone()) };
    // SAFETY: the handler maps only the test's buffers, bounds-checked.
    unsafe { Parsed::from_rsdp(guest, RSDP_ADDRESS as usize) }.unwrap()
}

#[test]
fn the_tables_parse_back_with_one_lapic_per_vcpu_and_no_ioapic() {
    for vcpus in [1, 2, 4, 17] {
        let t = build(vcpus).unwrap();
        assert_eq!(t.rsdp.len(), 36);
        let parsed = parse(&t);
        assert_eq!(parsed.rsdp_revision, 2);
        let (model, cpus) = InterruptModel::new(&parsed).unwrap();
        let InterruptModel::Apic(apic) = model else { panic!("no APIC model") };
        assert_eq!(apic.local_apic_address, u64::from(LAPIC_BASE));
        assert!(apic.io_apics.is_empty());
        assert!(!apic.also_has_legacy_pics);
        let cpus = cpus.unwrap();
        let mut ids = vec![(cpus.boot_processor.local_apic_id, cpus.boot_processor.processor_uid)];
        ids.extend(cpus.application_processors.iter().map(|p| (p.local_apic_id, p.processor_uid)));
        assert_eq!(ids, (0..vcpus).map(|i| (i, i)).collect::<Vec<_>>());
        let fadt = parsed.find_table::<acpi::sdt::fadt::Fadt>().unwrap();
        assert!({ fadt.flags }.system_is_hw_reduced_acpi());
        assert_eq!(fadt.dsdt_address().unwrap(), parsed.dsdt().unwrap().phys_address);
    }
}

#[test]
fn the_dsdt_has_a_processor_device_per_vcpu_and_every_checksum_holds() {
    let t = build(3).unwrap();
    let dsdt = parse(&t).dsdt().unwrap();
    let off = usize::try_from(dsdt.phys_address as u64 - TABLES_BASE).unwrap();
    let body = &t.tables[off..off + dsdt.length as usize];
    let count = |needle: &[u8]| body.windows(needle.len()).filter(|w| *w == needle).count();
    assert_eq!(count(b"ACPI0007\0"), 3);
    for name in [b"C000", b"C001", b"C002"] {
        assert_eq!(count(name), 1);
    }
    assert_eq!(count(b"C003"), 0);
    let sum = |b: &[u8]| b.iter().fold(0u8, |a, x| a.wrapping_add(*x));
    assert_eq!(sum(body), 0);
    assert_eq!(sum(&t.rsdp[..20]), 0);
    assert_eq!(sum(&t.rsdp), 0);
}
