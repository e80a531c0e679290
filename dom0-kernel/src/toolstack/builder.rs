//! The PVH domain builder, as libxl/libxenguest build a PVH guest, through
//! hypercalls only: createdomain, max_mem, populate_physmap, the memory map,
//! the kernel's segments and the hvm_start_info written through foreign
//! mappings of the new domain's pages (XENMAPSPACE_gmfn_foreign), the boot
//! vCPU's context. The domain is left paused; on any error it is destroyed,
//! so nothing is half-created.
//!
//! Layout of the DomU: RAM from 0 to `memory` (below 1 MiB too: Linux's
//! real-mode trampoline lives there), but for the page holding the RSDP at
//! 0xfffc0, which the memory map marks ACPI as libxl does; the other ACPI
//! tables ([`pvh::acpi`]) on their own pages from 0xfc001000, also marked
//! ACPI, and `rsdp_paddr` in the start info. The start info, its memory
//! map and command line at 4 KiB (below the kernel, which PVH kernels link
//! at 1 MiB and up). As libxenguest does for HVM/PVH guests, the 8 gfns
//! below 0xff000 are its "special pages" region, reserved in the memory
//! map; of them the console ring (gfn 0xfefff) and the xenstore ring
//! (0xfeffc) are populated and zeroed, each with an event channel left
//! unbound in the DomU for Dom0, and both are told to the guest in
//! `HVM_PARAM_CONSOLE_PFN`/`_EVTCHN` and `HVM_PARAM_STORE_PFN`/`_EVTCHN`.
//! (No xenstored runs: the store ring is only set up.)

use alloc::vec::Vec;
use core::cell::Cell;
use core::fmt;
use core::ops::Range;

use abi::hvm::params::{HVM_PARAM_CONSOLE_EVTCHN, HVM_PARAM_CONSOLE_PFN, HVM_PARAM_STORE_EVTCHN, HVM_PARAM_STORE_PFN};
use abi::hvm::start_info::{HvmMemmapTableEntry, XEN_HVM_MEMMAP_TYPE_RAM, XEN_HVM_MEMMAP_TYPE_RESERVED};
use abi::memory::E820Entry;
use pvh::acpi::{self, AcpiError, AcpiTables, MEMMAP_TYPE_ACPI};
use pvh::image::{KernelFormat, PvhError, PvhImage};
use pvh::memory::{GuestFault, GuestMemory};
use pvh::start_info::{Module, StartInfo, StartInfoError, write_start_info};
use toolstack::DomainConfig;

use super::xen::{self, XenError};

const PAGE: u64 = 4096;
const PAGE_BYTES: usize = 4096;
/// Pages one foreign-mapping window shows at a time (2 MiB).
pub const WINDOW_PAGES: u64 = 512;
const START_INFO_AREA: Range<u64> = 0x1000..0x10000;
/// Most event-channel ports and grant frames a DomU gets (xl's defaults).
const MAX_EVTCHN_PORT: u32 = 1023;
const MAX_GRANT_FRAMES: i32 = 32;

/// libxenguest's special-pages region: `X86_HVM_NR_SPECIAL_PAGES` (8) gfns
/// ending at `X86_HVM_END_SPECIAL_REGION` (0xff000), just below the 4 GiB
/// MMIO hole's top 16 MiB.
const SPECIAL_END: u64 = 0xff000;
const SPECIAL_PAGES: u64 = 8;
const SPECIAL_START: u64 = SPECIAL_END - SPECIAL_PAGES;
/// `special_pfn(SPECIALPAGE_XENSTORE)` and `special_pfn(SPECIALPAGE_CONSOLE)`.
const STORE_GFN: u64 = SPECIAL_START + 4;
const CONSOLE_GFN: u64 = SPECIAL_START + 7;
/// The pages of the region populated here.
const SPECIAL_POPULATED: u64 = 2;
/// Where RAM must end: below libxl's ACPI area (0xfc000000), which is
/// below the special pages.
const RAM_LIMIT: u64 = acpi::TABLES_BASE - PAGE;
/// The page of RAM the RSDP is in, marked ACPI in the memory map.
const RSDP_PAGE: u64 = acpi::RSDP_ADDRESS & !(PAGE - 1);

/// A ring page the builder set up in the DomU: its gfn, and the DomU's
/// event-channel port for it (unbound, for Dom0 to bind).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RingPage {
    pub gfn: u64,
    pub port: u32,
}

/// A domain just built (paused) and its rings.
#[derive(Clone, Copy, Debug)]
pub struct Built {
    pub domid: u16,
    pub console: RingPage,
    pub store: RingPage,
    /// What its max_mem holds beyond `maxmem` (the special pages and the
    /// ACPI tables), in KiB: kept when `mem-set` moves the limit.
    pub slack_kib: u64,
}

/// The pages a domain gets on top of its configured memory, as libxl's
/// slack above maxmem: the populated special pages and the ACPI tables.
fn slack_pages(tables: &AcpiTables) -> u64 {
    let [_, (_, tables_len)] = tables.memmap();
    SPECIAL_POPULATED + tables_len / PAGE
}

#[derive(Debug)]
pub enum BuildError {
    Kernel(PvhError),
    /// The kernel needs RAM up to `needed`; the config gives `memory`.
    TooSmall { needed: u64, memory: u64 },
    /// RAM would reach the ACPI tables and special pages (no RAM is placed
    /// above 4 GiB).
    TooBig { memory: u64 },
    Xen(XenError),
    StartInfo(StartInfoError),
    Acpi(AcpiError),
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BuildError::Kernel(e) => write!(f, "{e}"),
            BuildError::TooSmall { needed, memory } => {
                write!(f, "the kernel needs RAM up to {needed:#x} but memory is only {} MiB; raise `memory`", memory >> 20)
            }
            BuildError::TooBig { memory } => write!(
                f,
                "memory = {} MiB reaches the ACPI area at {RAM_LIMIT:#x}; at most {} MiB (no RAM above 4 GiB yet)",
                memory >> 20,
                RAM_LIMIT >> 20
            ),
            BuildError::Xen(e) => write!(f, "{e}"),
            BuildError::StartInfo(e) => write!(f, "{e}"),
            BuildError::Acpi(e) => write!(f, "{e}"),
        }
    }
}

impl From<XenError> for BuildError {
    fn from(e: XenError) -> Self {
        BuildError::Xen(e)
    }
}

/// Builds the domain `cfg` describes with `kernel` (its bytes); `window`
/// is 2 MiB of our own address space, mapped 1:1 and given back to Xen,
/// where the new domain's pages are shown while they are written.
/// Returns the new domain, paused.
/// `handle` is the domain's uuid as bytes.
pub fn build(cfg: &DomainConfig, kernel_name: &str, kernel: &[u8], ramdisk: Option<&[u8]>, handle: [u8; 16], window: u64) -> Result<Built, BuildError> {
    let started = guest_rt::timer::now_ns();
    let image = PvhImage::parse(kernel_name, kernel).map_err(BuildError::Kernel)?;
    let parsed = guest_rt::timer::now_ns();
    let memory = cfg.memory_mib << 20;
    // The ramdisk goes on the first page after the kernel, as a PVH module.
    let ramdisk_at = image.highest_address().next_multiple_of(PAGE);
    let needed = ramdisk.map_or(image.highest_address(), |r| ramdisk_at + r.len() as u64);
    if needed > memory {
        return Err(BuildError::TooSmall { needed, memory });
    }
    if memory > RAM_LIMIT {
        return Err(BuildError::TooBig { memory });
    }
    if memory <= RSDP_PAGE + PAGE {
        return Err(BuildError::TooSmall { needed: RSDP_PAGE + PAGE, memory });
    }
    let tables = acpi::build(cfg.maxvcpus).map_err(BuildError::Acpi)?;
    let domid = xen::create_domain_with_handle(cfg.maxvcpus, MAX_EVTCHN_PORT, MAX_GRANT_FRAMES, handle)?;
    let ramdisk = ramdisk.map(|bytes| (ramdisk_at, bytes));
    match fill(domid, cfg, &image, kernel, ramdisk, &tables, window) {
        Ok((console, store)) => {
            if let KernelFormat::BzImage { compression, compressed, elf, .. } = image.format {
                let ms = |from: u64, to: u64| to.saturating_sub(from) / 1_000_000;
                let (decompress, fill) = (ms(started, parsed), ms(parsed, guest_rt::timer::now_ns()));
                guest_rt::println!(
                    "xl: {kernel_name}: bzImage, {compressed} bytes of {} -> a {elf}-byte ELF in {}.{:03} s; d{domid} filled in {}.{:03} s",
                    compression.name(),
                    decompress / 1000,
                    decompress % 1000,
                    fill / 1000,
                    fill % 1000
                );
            }
            Ok(Built { domid, console, store, slack_kib: slack_pages(&tables) * (PAGE >> 10) })
        }
        Err(e) => {
            let _ = xen::destroy_domain(domid);
            Err(e)
        }
    }
}

fn fill(
    domid: u16,
    cfg: &DomainConfig,
    image: &PvhImage,
    kernel: &[u8],
    ramdisk: Option<(u64, &[u8])>,
    tables: &AcpiTables,
    window: u64,
) -> Result<(RingPage, RingPage), BuildError> {
    let memory = cfg.memory_mib << 20;
    let [(rsdp_page, rsdp_len), (tables_at, tables_len)] = tables.memmap();
    xen::max_mem(domid, (cfg.maxmem_mib << 10) + slack_pages(tables) * (PAGE >> 10))?;
    populate(domid, memory / PAGE)?;
    let console = ring_page(domid, CONSOLE_GFN, window)?;
    let store = ring_page(domid, STORE_GFN, window)?;
    acpi_pages(domid, tables_at / PAGE, &tables.tables, window)?;
    let special = (SPECIAL_START * PAGE, SPECIAL_PAGES * PAGE);
    // Ascending, no overlaps: RAM, the RSDP's page, RAM, the special pages,
    // the tables.
    let map = [
        (0, rsdp_page, XEN_HVM_MEMMAP_TYPE_RAM),
        (rsdp_page, rsdp_len, MEMMAP_TYPE_ACPI),
        (rsdp_page + rsdp_len, memory - (rsdp_page + rsdp_len), XEN_HVM_MEMMAP_TYPE_RAM),
        (special.0, special.1, XEN_HVM_MEMMAP_TYPE_RESERVED),
        (tables_at, tables_len, MEMMAP_TYPE_ACPI),
    ];
    let mut e820 = map.map(|(addr, size, r#type)| E820Entry { addr, size, r#type });
    xen::set_memory_map(domid, &mut e820)?;
    let mut mem = ForeignMemory { domid, pages: memory / PAGE, window, shown: Cell::new(None) };
    image.load(kernel, &mut mem).map_err(BuildError::Kernel)?;
    mem.write(acpi::RSDP_ADDRESS, &tables.rsdp).map_err(|f| BuildError::StartInfo(StartInfoError::Fault(f)))?;
    let mut modules = Vec::new();
    if let Some((gpa, bytes)) = ramdisk {
        mem.write(gpa, bytes).map_err(|f| BuildError::StartInfo(StartInfoError::Fault(f)))?;
        modules.push(Module { gpa, size: bytes.len() as u64, cmdline: "" });
    }
    let memmap = map.map(|(addr, size, r#type)| HvmMemmapTableEntry { addr, size, r#type, reserved: 0 });
    let info = StartInfo { flags: 0, cmdline: &cfg.cmdline, modules: &modules, memmap: &memmap, rsdp: acpi::RSDP_ADDRESS };
    let layout = write_start_info(&mut mem, START_INFO_AREA, &info).map_err(BuildError::StartInfo)?;
    drop(mem);
    xen::set_param(domid, HVM_PARAM_CONSOLE_PFN, console.gfn)?;
    xen::set_param(domid, HVM_PARAM_CONSOLE_EVTCHN, u64::from(console.port))?;
    xen::set_param(domid, HVM_PARAM_STORE_PFN, store.gfn)?;
    xen::set_param(domid, HVM_PARAM_STORE_EVTCHN, u64::from(store.port))?;
    xen::set_vcpu_context(domid, 0, u64::from(image.entry), layout.start_info)?;
    Ok((console, store))
}

/// Populates `gfn`, zeroes it through the first page of `window` (nothing
/// else is mapped there yet) and allocates its event channel, unbound in
/// the DomU for Dom0.
fn ring_page(domid: u16, gfn: u64, window: u64) -> Result<RingPage, XenError> {
    xen::populate(domid, &mut [gfn], 0)?;
    xen::map_foreign(domid, &[gfn], &[window / PAGE])?;
    // SAFETY: the window's first page is identity-mapped and now backed by the DomU's page just populated.
    unsafe { core::ptr::write_bytes(window as *mut u8, 0, 4096) };
    xen::unmap(window / PAGE)?;
    let port = xen::alloc_unbound(domid, 0)?;
    Ok(RingPage { gfn, port })
}

/// Populates the gfns from `first` that `bytes` needs and writes them
/// (zero-padded to whole pages), a page at a time through the window's
/// first page.
fn acpi_pages(domid: u16, first: u64, bytes: &[u8], window: u64) -> Result<(), XenError> {
    for (i, chunk) in bytes.chunks(PAGE_BYTES).enumerate() {
        let gfn = first + i as u64;
        xen::populate(domid, &mut [gfn], 0)?;
        xen::map_foreign(domid, &[gfn], &[window / PAGE])?;
        // SAFETY: the window's first page is identity-mapped and now backed by the DomU's page just populated; `chunk` is at most a page.
        unsafe {
            core::ptr::write_bytes(window as *mut u8, 0, PAGE_BYTES);
            core::ptr::copy_nonoverlapping(chunk.as_ptr(), window as *mut u8, chunk.len());
        }
        xen::unmap(window / PAGE)?;
    }
    Ok(())
}

/// RAM at gfns 0..pages, in 2 MiB extents where they fit.
fn populate(domid: u16, pages: u64) -> Result<(), XenError> {
    let big = pages / WINDOW_PAGES;
    let mut gfns: Vec<u64> = (0..big).map(|i| i * WINDOW_PAGES).collect();
    if !gfns.is_empty() {
        xen::populate(domid, &mut gfns, 9)?;
    }
    let mut rest: Vec<u64> = (big * WINDOW_PAGES..pages).collect();
    if !rest.is_empty() {
        xen::populate(domid, &mut rest, 0)?;
    }
    Ok(())
}

/// The new domain's RAM, 2 MiB at a time through foreign mappings at
/// `window` (our gpa, identity-mapped).
struct ForeignMemory {
    domid: u16,
    pages: u64,
    window: u64,
    /// The 2 MiB chunk of the domain's RAM mapped at `window` now, and how
    /// many pages of it.
    shown: Cell<Option<(u64, u64)>>,
}

impl ForeignMemory {
    fn show(&self, chunk: u64) -> Result<(), GuestFault> {
        if self.shown.get().is_some_and(|(c, _)| c == chunk) {
            return Ok(());
        }
        self.hide();
        let first = chunk * WINDOW_PAGES;
        let n = WINDOW_PAGES.min(self.pages - first);
        let gfns: Vec<u64> = (first..first + n).collect();
        let at: Vec<u64> = (0..n).map(|i| self.window / PAGE + i).collect();
        xen::map_foreign(self.domid, &gfns, &at).map_err(|_| GuestFault::Unmapped(first * PAGE))?;
        self.shown.set(Some((chunk, n)));
        Ok(())
    }

    fn hide(&self) {
        if let Some((_, n)) = self.shown.take() {
            for i in 0..n {
                let _ = xen::unmap(self.window / PAGE + i);
            }
        }
    }

    /// Runs `f` on each piece of `[gpa, gpa + len)` that lies in one chunk:
    /// (offset into the window, offset into the buffer, length).
    fn pieces(&self, gpa: u64, len: usize, mut f: impl FnMut(u64, usize, usize)) -> Result<(), GuestFault> {
        self.check(gpa, len as u64, true)?;
        let chunk_bytes = WINDOW_PAGES * PAGE;
        let mut done = 0usize;
        while done < len {
            let at = gpa + done as u64;
            let offset = at % chunk_bytes;
            let n = usize::try_from(chunk_bytes - offset).unwrap_or(usize::MAX).min(len - done);
            self.show(at / chunk_bytes)?;
            f(self.window + offset, done, n);
            done += n;
        }
        Ok(())
    }
}

impl Drop for ForeignMemory {
    fn drop(&mut self) {
        self.hide();
    }
}

impl GuestMemory for ForeignMemory {
    fn read(&self, gpa: u64, buf: &mut [u8]) -> Result<(), GuestFault> {
        let base = buf.as_mut_ptr();
        self.pieces(gpa, buf.len(), |at, from, n| {
            // SAFETY: `at..at + n` lies in the window, which `show` just backed with the domain's RAM and paging maps 1:1; `from + n` is within `buf`.
            unsafe { core::ptr::copy_nonoverlapping(at as *const u8, base.add(from), n) };
        })
    }

    fn write(&mut self, gpa: u64, buf: &[u8]) -> Result<(), GuestFault> {
        self.pieces(gpa, buf.len(), |at, from, n| {
            // SAFETY: as in `read`, the other way round.
            unsafe { core::ptr::copy_nonoverlapping(buf.as_ptr().add(from), at as *mut u8, n) };
        })
    }

    fn check(&self, gpa: u64, len: u64, _write: bool) -> Result<(), GuestFault> {
        match gpa.checked_add(len) {
            Some(end) if end <= self.pages * PAGE => Ok(()),
            Some(_) => Err(GuestFault::Unmapped(gpa)),
            None => Err(GuestFault::Overflow { addr: gpa, len }),
        }
    }
}
