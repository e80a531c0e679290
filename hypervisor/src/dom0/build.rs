//! Builds Dom0 at boot: its p2m from the layout, its kernel and the boot
//! bundle's other files as modules, its start info, and its first vCPU.

use crate::bits::to_usize;
use alloc::vec::Vec;
use core::fmt;

use abi::hvm::start_info::HvmMemmapTableEntry;
use abi::xen::{SIF_INITDOMAIN, SIF_PRIVILEGED};

use super::layout::{self, Use};
use crate::arch::x86_64::virt::exit::{BootState, StartMode};
use crate::arch::x86_64::virt::vcpu::{HwVcpu, NestedPaging};
use crate::arch::x86_64::virt::{Backend, VirtError};
use super::kernel::{Dom0Kernel, KernelError};
use crate::domain::start_info::{Module, StartInfo, StartInfoError, write_start_info};
use crate::mm::handle::{DeviceKind, DeviceRange};
use crate::mm::guest::{GuestMemory, P2mGuestMemory};
use crate::domain::object::{Domain, MapEntry};
use crate::domain::table::DOMAINS;
use crate::mm::p2m::{Format, Gfn, MachineTables, P2m, P2mError};
use crate::mm::{self, MemoryRegion};
use crate::platform::HostAcpi;
use crate::vcpu::{io, msr};

/// Dom0's domain id and its first vCPU's ASID/VPID.
pub const DOM0_ID: u16 = 0;
const DOM0_TAG: u16 = 1;
/// Dom0's vCPUs (its MADT lists as many).
/// Room for the start info, memory map, module list and command lines.
const START_INFO_ROOM: u64 = 64 * 1024;
const FRAMES_2M: u64 = 512;

/// What goes into Dom0, from the boot bundle and the command line.
pub struct Dom0Config<'a> {
    pub kernel: &'a [u8],
    pub cmdline: &'a str,
    /// (name, contents): the bundle's DomU kernels and configs.
    pub modules: Vec<(&'a str, &'a [u8])>,
    pub ram: u64,
    pub rsdp: Option<u64>,
    /// Its vCPUs (`dom0_max_vcpus`): vCPU 0 here, the others start by
    /// INIT-SIPI and run on the APs.
    pub vcpus: u8,
}

/// Dom0's first vCPU, ready to run; the domain itself is in the table.
pub struct Dom0 {
    pub vcpu: HwVcpu,
    pub ram_bytes: u64,
    pub entry: u32,
    /// What the kernel file was (ELF, or bzImage and its decompression), for the log.
    pub kernel: alloc::string::String,
}

#[derive(Debug)]
pub enum BuildError {
    Kernel(KernelError),
    /// the machine has no RAM left for Dom0
    NoMemory,
    P2m(P2mError),
    /// dom0: the kernel (up to {0:#x}) does not fit in Dom0's RAM
    KernelTooBig(u64),
    /// dom0: module {0} does not fit in Dom0's RAM
    ModuleTooBig(&'static str),
    StartInfo(StartInfoError),
    Vcpu(VirtError),
    /// dom0: firmware or MMIO range {0:#x}..{1:#x} overlaps RAM the allocator hands out
    RamAsDevice(u64, u64),
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BuildError::Kernel(e) => write!(f, "{e}"),
            BuildError::NoMemory => f.write_str("dom0: the machine has no RAM left for Dom0"),
            BuildError::P2m(e) => write!(f, "dom0: building its p2m: {e}"),
            BuildError::KernelTooBig(end) => write!(f, "dom0: the kernel (up to {end:#x}) does not fit in Dom0's RAM"),
            BuildError::ModuleTooBig(what) => write!(f, "dom0: the {what} do not fit in Dom0's RAM"),
            BuildError::StartInfo(e) => write!(f, "dom0: writing its start info: {e:?}"),
            BuildError::Vcpu(e) => write!(f, "dom0: creating its vCPU: {e}"),
            BuildError::RamAsDevice(start, end) => {
                write!(f, "dom0: firmware or MMIO range {start:#x}..{end:#x} overlaps RAM the allocator hands out")
            }
        }
    }
}

impl From<P2mError> for BuildError {
    fn from(e: P2mError) -> Self {
        BuildError::P2m(e)
    }
}

fn gfn(addr: u64) -> Gfn {
    Gfn(addr >> 12)
}

impl Dom0 {
    /// Builds Dom0, puts it in the domain table as domain 0, and returns its
    /// first vCPU. On an error nothing is left allocated.
    pub fn build(backend: Backend, host: &[MemoryRegion], config: &Dom0Config) -> Result<Dom0, BuildError> {
        let kernel = Dom0Kernel::prepare(config.kernel).map_err(BuildError::Kernel)?;
        let image = &kernel.image;
        let host_acpi = config.rsdp.and_then(|r| crate::arch::x86_64::acpi::host_acpi(Some(r)));
        let facs: Vec<u64> = host_acpi.iter().filter_map(|a| a.facs).collect();
        let pm1 = host_acpi.as_ref().map_or([None; 2], |a| a.pm1_control);
        crate::arch::x86_64::power::set_pm1_control(pm1);
        let (ranges, placed) = layout::layout(host, config.ram, &facs);
        if placed == 0 {
            return Err(BuildError::NoMemory);
        }
        let format = match backend {
            Backend::Svm(_) => Format::Npt,
            Backend::Vmx(_) => Format::Ept,
        };
        let mut domain = Domain::new(DOM0_ID, true, format, config.vcpus.into()).map_err(|_| BuildError::NoMemory)?;
        let mut memmap = Vec::new();
        let built = populate(&mut domain, &ranges, &mut memmap)
            .and_then(|()| load(&domain.p2m, &kernel, &mut memmap, host, host_acpi.as_ref(), config))
            .and_then(|start_info| {
                let paging = NestedPaging {
                    npt_root: domain.p2m.ncr3(),
                    eptp: if format == Format::Ept { domain.p2m.eptp() } else { 0 },
                };
                let boot = BootState { rip: u64::from(image.entry), rbx: start_info, mode: StartMode::Pvh };
                HwVcpu::new(backend, boot, paging, DOM0_TAG, &|port| io::intercepted(true, port, &pm1), msr::PASSTHROUGH)
                    .map_err(BuildError::Vcpu)
            });
        match built {
            Ok(vcpu) => {
                domain.max_pages = domain.tot_pages;
                domain.memory_map = memmap
                    .iter()
                    .map(|e| MapEntry { addr: e.addr, size: e.size, r#type: e.r#type })
                    .collect();
                // Dom0's vCPU 0 runs on the boot CPU for good.
                domain.vcpus[0].running_on = Some(0);
                DOMAINS.lock().insert(domain);
                Ok(Dom0 { vcpu, ram_bytes: placed, entry: image.entry, kernel: kernel.describe() })
            }
            Err(e) => {
                domain.destroy();
                Err(e)
            }
        }
    }
}

/// Backs and maps every range of the layout; records the RAM runs and the
/// memory map Dom0 will see.
fn populate(domain: &mut Domain, ranges: &[layout::Range], memmap: &mut Vec<HvmMemmapTableEntry>) -> Result<(), BuildError> {
    let p2m = &mut domain.p2m;
    for r in ranges {
        let frames = (r.end - r.start) >> 12;
        match r.what {
            Use::Ram => {
                let mut done = 0;
                while done < frames {
                    let g = gfn(r.start).0 + done;
                    let left = frames - done;
                    let run = if g.is_multiple_of(FRAMES_2M) && left >= FRAMES_2M {
                        mm::alloc_run(to_usize(FRAMES_2M), to_usize(FRAMES_2M))
                    } else {
                        None
                    };
                    let run = match run {
                        Some(run) => run,
                        None => mm::alloc_run(1, 1).ok_or(BuildError::NoMemory)?,
                    };
                    let count = run.frames();
                    if let Err((e, run)) = p2m.map_ram(Gfn(g), run) {
                        run.release();
                        return Err(e.into());
                    }
                    domain.tot_pages += count;
                    done += count;
                }
                copy_low_memory(p2m, r.start..r.end)?;
                memmap.push(entry(r.start, r.end, abi::hvm::start_info::XEN_HVM_MEMMAP_TYPE_RAM));
            }
            Use::Firmware(e820) => {
                let firmware = DeviceRange::new(r.start, frames, DeviceKind::Firmware).ok_or(BuildError::RamAsDevice(r.start, r.end))?;
                p2m.map_device(gfn(r.start), firmware)?;
                memmap.push(entry(r.start, r.end, e820));
            }
            Use::Unusable => memmap.push(entry(r.start, r.end, abi::hvm::start_info::XEN_HVM_MEMMAP_TYPE_UNUSABLE)),
            Use::FirmwareWritable(e820) => {
                let firmware = DeviceRange::new(r.start, frames, DeviceKind::Mmio).ok_or(BuildError::RamAsDevice(r.start, r.end))?;
                p2m.map_device(gfn(r.start), firmware)?;
                memmap.push(entry(r.start, r.end, e820));
            }
            Use::Mmio => {
                let mmio = DeviceRange::new(r.start, frames, DeviceKind::Mmio).ok_or(BuildError::RamAsDevice(r.start, r.end))?;
                p2m.map_device(gfn(r.start), mmio)?;
            }
        }
    }
    Ok(())
}

/// Dom0's RAM below 1 MiB starts as the host's (the BIOS data area, the
/// EBDA pointer, the MP table), as in Xen's PVH Dom0.
fn copy_low_memory(p2m: &P2m<MachineTables>, ram: core::ops::Range<u64>) -> Result<(), BuildError> {
    let mut mem = P2mGuestMemory::new_machine(p2m);
    let mut page = [0u8; 4096];
    let mut at = ram.start;
    while at < ram.end.min(mm::frame::LOW_MEMORY_END) {
        let len = (ram.end.min(mm::frame::LOW_MEMORY_END) - at).min(4096);
        let buf = &mut page[..to_usize(len)];
        if mm::physmap::read_low_memory(at, buf) {
            mem.write(at, buf).map_err(|_| BuildError::NoMemory)?;
        }
        at += len;
    }
    Ok(())
}

fn entry(start: u64, end: u64, r#type: u32) -> HvmMemmapTableEntry {
    HvmMemmapTableEntry { addr: start, size: end - start, r#type, reserved: 0 }
}

/// Loads the kernel and modules and writes the start info; returns its gpa.
fn load(
    p2m: &P2m<MachineTables>,
    kernel: &Dom0Kernel,
    memmap: &mut Vec<HvmMemmapTableEntry>,
    host: &[MemoryRegion],
    host_acpi: Option<&HostAcpi>,
    config: &Dom0Config,
) -> Result<u64, BuildError> {
    let image = &kernel.image;
    let mut mem = P2mGuestMemory::new_machine(p2m);
    image.load(kernel.elf(config.kernel), &mut mem).map_err(|_| BuildError::KernelTooBig(image.highest_address()))?;
    let mut next = image.highest_address().next_multiple_of(4096);
    let mut modules = Vec::new();
    for (name, data) in &config.modules {
        mem.write(next, data).map_err(|_| BuildError::ModuleTooBig("boot modules"))?;
        modules.push(Module { gpa: next, size: data.len() as u64, cmdline: name });
        next = (next + data.len() as u64).next_multiple_of(4096);
    }
    let rsdp = acpi_tables(&mut mem, memmap, host, host_acpi, config, next + START_INFO_ROOM)?;
    let info = StartInfo {
        flags: SIF_PRIVILEGED | SIF_INITDOMAIN,
        cmdline: config.cmdline,
        modules: &modules,
        memmap,
        rsdp,
    };
    mem.check(next, START_INFO_ROOM, true).map_err(|_| BuildError::ModuleTooBig("start info"))?;
    let layout = write_start_info(&mut mem, next..next + START_INFO_ROOM, &info).map_err(BuildError::StartInfo)?;
    Ok(layout.start_info)
}

/// Writes Dom0's rewritten ACPI tables (`dom0::acpi`) at the top of its RAM
/// below 4 GiB, above `used` (the kernel, modules and start info); returns
/// the RSDP Dom0 gets. Without host tables Xen's builder can rewrite (no
/// MADT), Dom0 gets the host's RSDP as it is.
fn acpi_tables(
    mem: &mut impl GuestMemory,
    memmap: &mut Vec<HvmMemmapTableEntry>,
    host: &[MemoryRegion],
    host_acpi: Option<&HostAcpi>,
    config: &Dom0Config,
    used: u64,
) -> Result<u64, BuildError> {
    let Some(host_rsdp) = config.rsdp else { return Ok(0) };
    let Some(host_tables) = host_acpi else {
        crate::warn!("dom0", "d0: the host's ACPI tables are unreadable: Dom0 gets the host's RSDP {host_rsdp:#x}");
        return Ok(host_rsdp);
    };
    let mut cut = memmap.clone();
    let Some(tables) = super::acpi::build(host_tables, host, config.vcpus, &mut cut) else {
        crate::warn!("dom0", "d0: no host MADT to rewrite: Dom0 gets the host's RSDP {host_rsdp:#x}");
        return Ok(host_rsdp);
    };
    if tables.start() < used {
        return Err(BuildError::ModuleTooBig("ACPI tables (above the kernel, modules and start info)"));
    }
    for (at, bytes) in [(tables.madt.0, &tables.madt.1[..]), (tables.xsdt.0, &tables.xsdt.1), (tables.rsdp.0, &tables.rsdp.1)] {
        mem.write(at, bytes).map_err(|_| BuildError::ModuleTooBig("ACPI tables"))?;
    }
    *memmap = cut;
    crate::debug!("dom0", "d0: ACPI: RSDP {:#x}, XSDT {:#x}, MADT {:#x} ({} vCPU)", tables.rsdp.0, tables.xsdt.0, tables.madt.0, config.vcpus);
    Ok(tables.rsdp.0)
}
