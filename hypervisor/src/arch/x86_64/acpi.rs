//! ACPI through the `acpi` crate: finds the MADT (CPUs, I/O APICs, interrupt
//! overrides) and the HPET from the RSDP the bootloader found.

use alloc::vec::Vec;
use core::ptr::NonNull;

use acpi::platform::interrupt::{InterruptModel, Polarity, TriggerMode};
use acpi::platform::ProcessorState;
use acpi::sdt::hpet::HpetInfo;
use acpi::aml::AmlError;
use acpi::address::{AddressSpace, GenericAddress};
use acpi::sdt::fadt::Fadt;
use acpi::{AcpiError, AcpiTables, Handle, Handler, PciAddress, PhysicalMapping};

use crate::platform::{AcpiTableRef, CpuEntry, HostAcpi, IoApicEntry, IrqOverride, PlatformInfo, SdtHeader};

/// Maps physical memory at a fixed offset: the physical-memory window in the
/// hypervisor, or the identity (offset 0) for tables built by host tests.
#[derive(Clone, Copy, Debug)]
pub struct WindowHandler {
    pub offset: u64,
}

impl WindowHandler {
    fn at(&self, phys: usize) -> usize {
        phys + crate::bits::to_usize(self.offset)
    }
}

impl Handler for WindowHandler {
    unsafe fn map_physical_region<T>(&self, physical_address: usize, size: usize) -> PhysicalMapping<Self, T> {
        let virt = self.at(physical_address);
        PhysicalMapping {
            physical_start: physical_address,
            // SAFETY: the window maps all physical memory, so the address is non-null and valid for `size` bytes as the caller promised.
            virtual_start: unsafe { NonNull::new_unchecked(virt as *mut T) },
            region_length: size,
            mapped_length: size,
            handler: *self,
        }
    }

    fn unmap_physical_region<T>(_region: &PhysicalMapping<Self, T>) {}

    // The accessors below serve the AML interpreter, which the hypervisor
    // never runs (Dom0 owns AML); tables are read through mappings only.
    fn read_u8(&self, _address: usize) -> u8 {
        0xff
    }
    fn read_u16(&self, _address: usize) -> u16 {
        0xffff
    }
    fn read_u32(&self, _address: usize) -> u32 {
        u32::MAX
    }
    fn read_u64(&self, _address: usize) -> u64 {
        u64::MAX
    }
    fn write_u8(&self, _address: usize, _value: u8) {}
    fn write_u16(&self, _address: usize, _value: u16) {}
    fn write_u32(&self, _address: usize, _value: u32) {}
    fn write_u64(&self, _address: usize, _value: u64) {}
    fn read_io_u8(&self, _port: u16) -> u8 {
        0xff
    }
    fn read_io_u16(&self, _port: u16) -> u16 {
        0xffff
    }
    fn read_io_u32(&self, _port: u16) -> u32 {
        u32::MAX
    }
    fn write_io_u8(&self, _port: u16, _value: u8) {}
    fn write_io_u16(&self, _port: u16, _value: u16) {}
    fn write_io_u32(&self, _port: u16, _value: u32) {}
    fn read_pci_u8(&self, _address: PciAddress, _offset: u16) -> u8 {
        0xff
    }
    fn read_pci_u16(&self, _address: PciAddress, _offset: u16) -> u16 {
        0xffff
    }
    fn read_pci_u32(&self, _address: PciAddress, _offset: u16) -> u32 {
        u32::MAX
    }
    fn write_pci_u8(&self, _address: PciAddress, _offset: u16, _value: u8) {}
    fn write_pci_u16(&self, _address: PciAddress, _offset: u16, _value: u16) {}
    fn write_pci_u32(&self, _address: PciAddress, _offset: u16, _value: u32) {}
    fn nanos_since_boot(&self) -> u64 {
        0
    }
    fn stall(&self, _microseconds: u64) {}
    fn sleep(&self, _milliseconds: u64) {}
    fn create_mutex(&self) -> Handle {
        Handle(0)
    }
    fn acquire(&self, _mutex: Handle, _timeout: u16) -> Result<(), AmlError> {
        Ok(())
    }
    fn release(&self, _mutex: Handle) {}
}

#[derive(Debug)]
pub enum AcpiProblem {
    /// the bootloader found no ACPI RSDP: the firmware has no ACPI tables, or hides them
    NoRsdp,
    /// ACPI tables unreadable: {0:?}
    Tables(AcpiError),
    /// the MADT describes no APIC-based interrupt model
    NoApic,
}

/// Reads CPUs, I/O APICs, overrides and the HPET from the ACPI tables.
///
/// # Safety
/// `rsdp` must be the physical address of an RSDP, and the tables it leads to
/// must be readable through `handler`.
pub unsafe fn read_platform(handler: WindowHandler, rsdp: Option<u64>) -> Result<PlatformInfo, AcpiProblem> {
    let rsdp = rsdp.ok_or(AcpiProblem::NoRsdp)?;
    // SAFETY: the caller vouches for the RSDP and the mapping.
    let tables = unsafe { AcpiTables::from_rsdp(handler, crate::bits::to_usize(rsdp)) }.map_err(AcpiProblem::Tables)?;
    let (model, processors) = InterruptModel::new(&tables).map_err(AcpiProblem::Tables)?;
    let InterruptModel::Apic(apic) = model else { return Err(AcpiProblem::NoApic) };
    let mut info = PlatformInfo {
        local_apic_address: apic.local_apic_address,
        has_8259: apic.also_has_legacy_pics,
        ..PlatformInfo::default()
    };
    if let Some(p) = processors {
        info.cpus.push(CpuEntry { apic_id: p.boot_processor.local_apic_id, uid: p.boot_processor.processor_uid, is_bsp: true });
        for ap in p.application_processors.iter() {
            if ap.state == ProcessorState::Disabled {
                info.disabled_cpus += 1;
            } else {
                info.cpus.push(CpuEntry { apic_id: ap.local_apic_id, uid: ap.processor_uid, is_bsp: false });
            }
        }
    }
    info.io_apics = apic
        .io_apics
        .iter()
        .map(|io| IoApicEntry { id: io.id, address: u64::from(io.address), gsi_base: io.global_system_interrupt_base })
        .collect::<Vec<_>>();
    info.overrides = apic
        .interrupt_source_overrides
        .iter()
        .map(|o| IrqOverride {
            isa_irq: o.isa_source,
            gsi: o.global_system_interrupt,
            active_low: o.polarity == Polarity::ActiveLow,
            level_triggered: o.trigger_mode == TriggerMode::Level,
        })
        .collect();
    info.hpet = HpetInfo::new(&tables).ok().map(|h| h.base_address as u64);
    Ok(info)
}

/// A table header from its 36 raw bytes (the `acpi` crate's own header
/// type panics on a signature that is not UTF-8).
fn header(b: &[u8; 36]) -> SdtHeader {
    let u32_at = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
    let mut h = SdtHeader { length: u32_at(4), revision: b[8], checksum: b[9], oem_revision: u32_at(24), creator_revision: u32_at(32), ..SdtHeader::default() };
    h.signature.copy_from_slice(&b[0..4]);
    h.oem_id.copy_from_slice(&b[10..16]);
    h.oem_table_id.copy_from_slice(&b[16..24]);
    h.creator_id.copy_from_slice(&b[28..32]);
    h
}

/// The host's RSDP OEM id, root table header and entries, and the MADT's
/// header, for Dom0's rewritten tables.
///
/// # Safety
/// As [`read_platform`].
pub unsafe fn read_host_acpi(handler: WindowHandler, rsdp: u64) -> Result<HostAcpi, AcpiProblem> {
    // SAFETY: the caller vouches for the RSDP and the mapping.
    let tables = unsafe { AcpiTables::from_rsdp(handler, crate::bits::to_usize(rsdp)) }.map_err(AcpiProblem::Tables)?;
    // SAFETY: as above; `from_rsdp` checked the RSDP's signature; a revision 0 RSDP has 20 bytes, the fields past them are only read for revision 2.
    let raw = |addr: usize| unsafe { *handler.map_physical_region::<[u8; 36]>(addr, 36) };
    let rsdp_bytes = raw(crate::bits::to_usize(rsdp));
    let mut rsdp_oem_id = [0; 6];
    rsdp_oem_id.copy_from_slice(&rsdp_bytes[9..15]);
    let root_addr = if tables.rsdp_revision == 0 {
        u64::from(u32::from_le_bytes([rsdp_bytes[16], rsdp_bytes[17], rsdp_bytes[18], rsdp_bytes[19]]))
    } else {
        u64::from_le_bytes(rsdp_bytes[24..32].try_into().expect("8 bytes"))
    };
    let root = header(&raw(crate::bits::to_usize(root_addr)));
    let mut host = HostAcpi { rsdp_oem_id, root, madt: None, tables: Vec::new(), facs: None, pm1_control: [None; 2] };
    if let Some(fadt) = tables.find_table::<Fadt>() {
        let port = |block: Option<GenericAddress>| {
            block.filter(|b| b.address_space == AddressSpace::SystemIo).and_then(|b| u16::try_from(b.address).ok())
        };
        host.pm1_control = [port(fadt.pm1a_control_block().ok()), port(fadt.pm1b_control_block().ok().flatten())];
    }
    for address in tables.table_entries() {
        let h = header(&raw(address));
        if &h.signature == b"APIC" && host.madt.is_none() {
            host.madt = Some(h);
        }
        host.tables.push(AcpiTableRef { signature: h.signature, address: address as u64, length: h.length });
        if &h.signature == b"FACP" && host.facs.is_none() && h.length >= 40 {
            // FIRMWARE_CTRL at 36 (32 bits), X_FIRMWARE_CTRL at 132 (64 bits, ACPI 2.0+).
            // SAFETY: as above: the FADT is `h.length` bytes long, at least the bytes read.
            let word = |at: usize, n: usize| unsafe {
                let m = handler.map_physical_region::<[u8; 8]>(address + at, n);
                let mut b = [0u8; 8];
                core::ptr::copy_nonoverlapping(m.virtual_start.as_ptr().cast::<u8>(), b.as_mut_ptr(), n);
                u64::from_le_bytes(b)
            };
            let x = if h.length >= 140 { word(132, 8) } else { 0 };
            let facs = if x != 0 { x } else { word(36, 4) };
            host.facs = (facs != 0).then_some(facs);
        }
    }
    Ok(host)
}

/// The host's root ACPI tables (None without an RSDP or readable tables).
pub fn host_acpi(rsdp: Option<u64>) -> Option<HostAcpi> {
    // SAFETY: as in `platform_from_firmware`.
    unsafe { read_host_acpi(WindowHandler { offset: crate::mm::physmap::PHYS_OFFSET }, rsdp?) }.ok()
}

impl core::fmt::Display for AcpiProblem {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            AcpiProblem::NoRsdp => {
                f.write_str("no ACPI RSDP found: the hypervisor needs the firmware's ACPI tables (MADT) to find the CPUs")
            }
            AcpiProblem::Tables(e) => write!(f, "ACPI tables unreadable ({e:?})"),
            AcpiProblem::NoApic => f.write_str("the MADT describes no APIC: this machine is not supported"),
        }
    }
}

/// The platform as the firmware's tables describe it.
pub fn platform_from_firmware(rsdp: Option<u64>) -> Result<PlatformInfo, AcpiProblem> {
    // SAFETY: the RSDP address comes from the bootloader, which found it by the signature scan (BIOS) or the UEFI configuration table, and the physical-memory window maps the tables.
    unsafe { read_platform(WindowHandler { offset: crate::mm::physmap::PHYS_OFFSET }, rsdp) }
}

/// The RSDP's physical address, by the BIOS signature scan (EBDA, then
/// 0xe0000..0xfffff): for loaders that do not say where it is (Multiboot 1).
pub fn find_rsdp_bios() -> Option<u64> {
    // SAFETY: the scan reads the BIOS data area word at 0x40e, the EBDA's first KiB and the BIOS ROM area, all below 1 MiB and mapped by the window; reading them has no side effects on PC-compatible machines.
    let found = unsafe { acpi::rsdp::Rsdp::search_for_on_bios(WindowHandler { offset: crate::mm::physmap::PHYS_OFFSET }) };
    found.ok().map(|m| m.physical_start as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use abi::zerocopy::IntoBytes;
    use alloc::vec::Vec;

    /// An SDT: header (signature, length, revision, checksum, OEM ids) + body.
    fn sdt(signature: &[u8; 4], body: &[u8]) -> Vec<u8> {
        let mut t = Vec::new();
        t.extend_from_slice(signature);
        t.extend_from_slice(&((36 + body.len()) as u32).to_le_bytes());
        t.push(1); // revision
        t.push(0); // checksum, fixed below
        t.extend_from_slice(b"RUSTHV");
        t.extend_from_slice(b"TESTTABL");
        t.extend_from_slice(&1u32.to_le_bytes());
        t.extend_from_slice(&1u32.to_le_bytes());
        t.extend_from_slice(&1u32.to_le_bytes());
        t.extend_from_slice(body);
        let sum = t.iter().fold(0u8, |s, b| s.wrapping_add(*b));
        t[9] = 0u8.wrapping_sub(sum);
        t
    }

    /// A MADT of QEMU's shape: LAPIC base, three local APICs (the last
    /// disabled), one I/O APIC and the IRQ 0 -> GSI 2 override.
    fn madt() -> Vec<u8> {
        let mut body = Vec::new();
        body.extend_from_slice(&0xfee0_0000u32.to_le_bytes());
        body.extend_from_slice(&1u32.to_le_bytes()); // PCAT_COMPAT: 8259s present
        for (uid, apic_id, enabled) in [(0u8, 0u8, 1u32), (1, 2, 1), (2, 4, 0)] {
            body.extend_from_slice(&[0, 8, uid, apic_id]);
            body.extend_from_slice(&enabled.to_le_bytes());
        }
        body.extend_from_slice(&[1, 12, 1, 0]);
        body.extend_from_slice(&0xfec0_0000u32.to_le_bytes());
        body.extend_from_slice(&0u32.to_le_bytes());
        body.extend_from_slice(&[2, 10, 0, 0]);
        body.extend_from_slice(&2u32.to_le_bytes());
        body.extend_from_slice(&0u16.to_le_bytes());
        sdt(b"APIC", &body)
    }

    /// RSDP revision 2 pointing at an XSDT: host addresses do not fit in an
    /// RSDT's 32-bit entries.
    fn rsdp(xsdt: u64) -> Vec<u8> {
        let mut r = Vec::new();
        r.extend_from_slice(b"RSD PTR ");
        r.push(0);
        r.extend_from_slice(b"RUSTHV");
        r.push(2);
        r.extend_from_slice(&0u32.to_le_bytes());
        r.extend_from_slice(&36u32.to_le_bytes());
        r.extend_from_slice(&xsdt.to_le_bytes());
        r.extend_from_slice(&[0, 0, 0, 0]);
        let sum20 = r[..20].iter().fold(0u8, |s, b| s.wrapping_add(*b));
        r[8] = 0u8.wrapping_sub(sum20);
        let sum = r.iter().fold(0u8, |s, b| s.wrapping_add(*b));
        r[32] = 0u8.wrapping_sub(sum);
        r
    }

    /// Copies `bytes` into 8-aligned memory at offset `skew`, as firmware lays
    /// tables out (the `acpi` crate reads an XSDT's 64-bit entries, at +36,
    /// as aligned values, so an XSDT starts 4 bytes past an 8-byte boundary).
    fn placed(bytes: &[u8], skew: usize) -> (Vec<u64>, u64) {
        let mut backing = alloc::vec![0u64; (bytes.len() + skew).div_ceil(8)];
        let base = backing.as_mut_ptr().cast::<u8>();
        let dst = backing.as_mut_slice().as_mut_bytes();
        dst[skew..skew + bytes.len()].copy_from_slice(bytes);
        (backing, base as u64 + skew as u64)
    }

    #[test]
    fn the_madt_gives_the_cpus_ioapics_and_overrides() {
        let (_madt, madt_at) = placed(&madt(), 0);
        let (_xsdt, xsdt_at) = placed(&sdt(b"XSDT", &madt_at.to_le_bytes()), 4);
        let rsdp = rsdp(xsdt_at);
        // SAFETY: the "physical" addresses are these live host buffers, read through an identity handler (offset 0).
        let info = unsafe { read_platform(WindowHandler { offset: 0 }, Some(rsdp.as_ptr() as u64)) }.unwrap();
        assert_eq!(info.cpus.len(), 2);
        assert!(info.cpus[0].is_bsp && info.cpus[0].apic_id == 0);
        assert_eq!((info.cpus[1].apic_id, info.cpus[1].is_bsp), (2, false));
        assert_eq!(info.disabled_cpus, 1);
        assert_eq!(info.local_apic_address, 0xfee0_0000);
        assert_eq!(info.io_apics, alloc::vec![IoApicEntry { id: 1, address: 0xfec0_0000, gsi_base: 0 }]);
        assert_eq!(info.overrides.len(), 1);
        assert_eq!((info.overrides[0].isa_irq, info.overrides[0].gsi), (0, 2));
        assert!(info.has_8259);
        assert_eq!(info.hpet, None);
    }

    #[test]
    fn the_host_root_tables_are_read_for_dom0s_rewrite() {
        let (_madt, madt_at) = placed(&madt(), 0);
        let (_hpet, hpet_at) = placed(&sdt(b"HPET", &[0; 20]), 0);
        let mut fadt_body = alloc::vec![0u8; 116];
        fadt_body[0..4].copy_from_slice(&0x1ffe_0000u32.to_le_bytes());
        let (_fadt, fadt_at) = placed(&sdt(b"FACP", &fadt_body), 0);
        let mut entries = madt_at.to_le_bytes().to_vec();
        entries.extend_from_slice(&hpet_at.to_le_bytes());
        entries.extend_from_slice(&fadt_at.to_le_bytes());
        let (_xsdt, xsdt_at) = placed(&sdt(b"XSDT", &entries), 4);
        let rsdp = rsdp(xsdt_at);
        // SAFETY: as in the first test.
        let host = unsafe { read_host_acpi(WindowHandler { offset: 0 }, rsdp.as_ptr() as u64) }.unwrap();
        assert_eq!(&host.rsdp_oem_id, b"RUSTHV");
        assert_eq!((&host.root.signature, host.root.length), (b"XSDT", 36 + 24));
        assert_eq!(host.facs, Some(0x1ffe_0000), "FIRMWARE_CTRL, X_FIRMWARE_CTRL being 0");
        assert_eq!(host.madt.map(|m| m.signature), Some(*b"APIC"));
        assert_eq!(host.madt.unwrap().length as usize, madt().len());
        assert_eq!(host.tables, alloc::vec![
            AcpiTableRef { signature: *b"APIC", address: madt_at, length: madt().len() as u32 },
            AcpiTableRef { signature: *b"HPET", address: hpet_at, length: 56 },
            AcpiTableRef { signature: *b"FACP", address: fadt_at, length: 152 },
        ]);
    }

    #[test]
    fn no_rsdp_is_a_clear_error() {
        // SAFETY: nothing is read without an RSDP.
        let err = unsafe { read_platform(WindowHandler { offset: 0 }, None) }.unwrap_err();
        assert!(matches!(err, AcpiProblem::NoRsdp));
        assert!(alloc::format!("{err}").contains("ACPI"));
    }

    #[test]
    fn tables_without_a_madt_are_an_error_not_a_crash() {
        let (_xsdt, xsdt_at) = placed(&sdt(b"XSDT", &[]), 4);
        let rsdp = rsdp(xsdt_at);
        // SAFETY: as in the first test.
        let result = unsafe { read_platform(WindowHandler { offset: 0 }, Some(rsdp.as_ptr() as u64)) };
        assert!(matches!(result, Err(AcpiProblem::Tables(_))));
    }

    #[test]
    fn a_bad_rsdp_signature_is_an_error() {
        let xsdt = sdt(b"XSDT", &[]);
        let mut rsdp = rsdp(xsdt.as_ptr() as u64);
        rsdp[0] = b'X';
        // SAFETY: as in the first test.
        let result = unsafe { read_platform(WindowHandler { offset: 0 }, Some(rsdp.as_ptr() as u64)) };
        assert!(matches!(result, Err(AcpiProblem::Tables(_))));
    }
    use crate::dom0::acpi as dom0_acpi;
    use acpi::platform::interrupt::InterruptModel;
    const MIB: u64 = 1 << 20;

    /// The tables in a host buffer at their Dom0 addresses (through the
    /// handler's offset), for the `acpi` crate to parse back.
    fn image(t: &dom0_acpi::Dom0Acpi) -> (Vec<u64>, WindowHandler) {
        let base = t.start();
        assert_eq!(base % 16, 0);
        let len = (t.madt.0 + t.madt.1.len() as u64 - base) as usize;
        let mut words = alloc::vec![0u64; len.div_ceil(8)];
        let raw = abi::zerocopy::IntoBytes::as_mut_bytes(words.as_mut_slice());
        for (at, data) in [(t.rsdp.0, &t.rsdp.1[..]), (t.xsdt.0, &t.xsdt.1), (t.madt.0, &t.madt.1)] {
            let off = (at - base) as usize;
            raw[off..off + data.len()].copy_from_slice(data);
        }
        let offset = (words.as_ptr() as u64).wrapping_sub(base);
        (words, WindowHandler { offset })
    }

    /// Dom0's rewritten tables (dom0/acpi.rs), read back as Linux reads them.
    #[test]
    fn dom0s_rewritten_tables_parse_back_with_only_dom0s_cpus() {
        let (mut host, map) = dom0_acpi::tests::qemu();
        // Only tables inside the image: the MADT (the host's is not passed on).
        host.tables.retain(|t| !dom0_acpi::passed_on(&t.signature));
        let mut memmap = alloc::vec![dom0_acpi::tests::ram(0, 0x9_f000), dom0_acpi::tests::ram(MIB, 255 * MIB)];
        let t = dom0_acpi::build(&host, &map, 3, &mut memmap).unwrap();
        let (_words, handler) = image(&t);
        // SAFETY: every address the crate reads (RSDP, XSDT, MADT) maps
        // through the handler's offset into `_words`, which holds them.
        let tables = unsafe { AcpiTables::from_rsdp(handler, t.rsdp.0 as usize) }.unwrap();
        assert_eq!(tables.rsdp_revision, 2);
        assert_eq!(tables.table_entries().collect::<Vec<_>>(), alloc::vec![t.madt.0 as usize]);
        let (model, processors) = InterruptModel::new(&tables).unwrap();
        let InterruptModel::Apic(apic) = model else { panic!("an APIC model") };
        assert_eq!(apic.local_apic_address, 0xfee0_0000);
        assert!(apic.io_apics.is_empty() && apic.interrupt_source_overrides.is_empty());
        assert!(!apic.also_has_legacy_pics);
        let p = processors.unwrap();
        assert_eq!(p.boot_processor.local_apic_id, 0);
        let aps: Vec<_> = p.application_processors.iter().map(|a| (a.processor_uid, a.local_apic_id)).collect();
        assert_eq!(aps, alloc::vec![(1, 1), (2, 2)]);
    }

}
