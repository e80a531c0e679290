//! ACPI through the `acpi` crate: finds the MADT (CPUs, I/O APICs, interrupt
//! overrides) and the HPET from the RSDP the bootloader found.

use alloc::vec::Vec;
use core::ptr::NonNull;

use acpi::platform::interrupt::{InterruptModel, Polarity, TriggerMode};
use acpi::platform::ProcessorState;
use acpi::sdt::hpet::HpetInfo;
use acpi::aml::AmlError;
use acpi::{AcpiError, AcpiTables, Handle, Handler, PciAddress, PhysicalMapping};

use crate::platform::{CpuEntry, IoApicEntry, IrqOverride, PlatformInfo};

/// Maps physical memory at a fixed offset: the physical-memory window in the
/// hypervisor, or the identity (offset 0) for tables built by host tests.
#[derive(Clone, Copy, Debug)]
pub struct WindowHandler {
    pub offset: u64,
}

impl WindowHandler {
    fn at(&self, phys: usize) -> usize {
        phys + self.offset as usize
    }
}

impl Handler for WindowHandler {
    unsafe fn map_physical_region<T>(&self, physical_address: usize, size: usize) -> PhysicalMapping<Self, T> {
        let virt = self.at(physical_address);
        PhysicalMapping {
            physical_start: physical_address,
            // SAFETY: the window maps all physical memory, so the address is
            // non-null and valid for `size` bytes as the caller promised.
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
    let tables = unsafe { AcpiTables::from_rsdp(handler, rsdp as usize) }.map_err(AcpiProblem::Tables)?;
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
    // SAFETY: the RSDP address comes from the bootloader, which found it by
    // the signature scan (BIOS) or the UEFI configuration table, and the
    // physical-memory window maps the tables.
    unsafe { read_platform(WindowHandler { offset: crate::mm::physmap::PHYS_OFFSET }, rsdp) }
}
