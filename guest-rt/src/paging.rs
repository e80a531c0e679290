//! Changing the boot identity map of the first 4 GiB: a guard page at 0, one
//! more 2 MiB page above 4 GiB, or a 2 MiB page below it made read-only or
//! absent.
//!
//! The entry code maps 0..4 GiB through PDPT slots 0..3 and the four page
//! directories `pvh_pd`, with 2 MiB pages. [`unmap_null_page`] (run at boot)
//! splits the first 2 MiB into 4 KiB pages and leaves page 0 out, so a NULL
//! pointer faults, in this kernel as in the hypervisor's copies from it. An
//! address in 4 GiB..512 GiB gets its PDPT slot pointed at the spare page
//! directory `pvh_pd_high` and one 2 MiB identity entry there; one spare
//! directory is enough for the tests that need it. [`set_2mib`] changes one
//! entry of `pvh_pd`, for tests that need an address below 4 GiB that the
//! guest's own page tables do not map, or map read-only.

use crate::cpu;

/// Addresses below this can be mapped: what PML4 slot 0 covers.
pub const MAP_LIMIT: u64 = 512 << 30;

/// Present | writable | 2 MiB page (PS).
const PDE_LARGE: u64 = 0x83;
/// Present | 2 MiB page (PS), read-only.
const PDE_LARGE_RO: u64 = 0x81;
/// Present | writable.
const PDPTE_TABLE: u64 = 0x3;
/// Present | writable, for a page-table entry or a 4 KiB page.
const PTE_PAGE: u64 = 0x3;
const PTE_WRITABLE: u64 = 0x2;
const LARGE_PAGE: u64 = 2 << 20;
const PAGE: u64 = 4 << 10;

/// The page table of the first 2 MiB once [`unmap_null_page`] split it.
#[repr(C, align(4096))]
struct PageTable(core::cell::UnsafeCell<[u64; 512]>);

// SAFETY: single CPU; written only by unmap_null_page, before anything else
// runs, then read by the MMU.
unsafe impl Sync for PageTable {}

static LOW_PT: PageTable = PageTable(core::cell::UnsafeCell::new([0; 512]));

unsafe extern "C" {
    /// The boot page-directory-pointer table (entry.rs).
    static mut pvh_pdpt: [u64; 512];
    /// The four boot page directories of 0..4 GiB (entry.rs).
    static mut pvh_pd: [u64; 4 * 512];
    /// The spare page directory (entry.rs), zeroed with .bss.
    static mut pvh_pd_high: [u64; 512];
    /// Bounds of the kernel image (linker.ld): text and rodata from
    /// `__image_start` to `__data_start`, data and bss to `__bss_end`.
    static __image_start: u8;
    static __data_start: u8;
    static __bss_end: u8;
}

/// Maps the first 2 MiB with 4 KiB pages and leaves page 0 unmapped, so that
/// NULL (and anything in its page) faults. Idempotent.
pub fn unmap_null_page() {
    let pt = LOW_PT.0.get();
    let pd = &raw mut pvh_pd;
    // SAFETY: single CPU, nothing else touches the page tables; the new table maps 4 KiB..2 MiB exactly as the 2 MiB page did (identity, read-write), so the code and data in use (at 1 MiB) stay mapped across the switch.
    unsafe {
        for (i, entry) in (*pt).iter_mut().enumerate().skip(1) {
            *entry = (i as u64 * PAGE) | PTE_PAGE;
        }
        (*pt)[0] = 0;
        (&raw mut (*pd)[0]).write_volatile(pt as u64 | PTE_PAGE);
        cpu::flush_tlb();
    }
}

/// Maps this kernel's text and rodata read-only (after [`unmap_null_page`]
/// split the first 2 MiB into 4 KiB pages), so that neither a stray write of
/// ours nor a hypervisor copying to a guest pointer (it must honour the
/// guest's page tables) can change the code. The GDT sits in rodata with its
/// descriptors' accessed bits preset, so loading a selector never writes it.
pub fn protect_image() {
    let start = (&raw const __image_start) as u64;
    let end = (&raw const __data_start) as u64;
    if end > LARGE_PAGE || start >= end {
        return; // not in the split first 2 MiB: leave it writable
    }
    let pt = LOW_PT.0.get();
    // SAFETY: single CPU; the entries cover text and rodata only, which nothing writes after the linker placed them; .data and .bss (stack, page tables, this table) start at `__data_start` and stay writable.
    unsafe {
        let first = usize::try_from(start / PAGE).unwrap_or(usize::MAX);
        let last = usize::try_from(end.div_ceil(PAGE)).unwrap_or(0);
        for entry in (*pt).iter_mut().take(last).skip(first) {
            *entry &= !PTE_WRITABLE;
        }
        cpu::flush_tlb();
    }
}

/// Where this kernel ends (image, stack and page tables): memory above it
/// is the domain's to use.
pub fn kernel_end() -> u64 {
    (&raw const __bss_end) as u64
}

/// What a 2 MiB page of the low identity map becomes with [`set_2mib`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Not present: every access faults.
    None,
    /// Present, read-only (CR0.WP is set, so kernel writes fault too).
    ReadOnly,
    /// Present and writable, as the entry code maps it.
    ReadWrite,
}

/// Changes the 2 MiB page holding `addr` in the identity map of 0..4 GiB.
/// False (nothing changed) if `addr` is not below 4 GiB or the page holds any
/// part of this kernel (its image, stack and page tables end at `__bss_end`).
pub fn set_2mib(addr: u64, access: Access) -> bool {
    let kernel_end = (&raw const __bss_end) as u64;
    let page = addr & !(LARGE_PAGE - 1);
    if addr >= crate::start_info::MAPPED_END || page < kernel_end.next_multiple_of(LARGE_PAGE) {
        return false;
    }
    let entry = match access {
        Access::None => 0,
        Access::ReadOnly => page | PDE_LARGE_RO,
        Access::ReadWrite => page | PDE_LARGE,
    };
    let index = (addr >> 21) as usize;
    let pd = &raw mut pvh_pd;
    // SAFETY: single CPU, nothing else touches the page tables after entry; the page holds no part of this kernel, which uses memory above its image only through explicit test pointers.
    unsafe {
        (&raw mut (*pd)[index]).write_volatile(entry);
        cpu::flush_tlb();
    }
    true
}

/// Identity-maps the 2 MiB page holding `addr`, read-write. False if `addr`
/// is below 4 GiB (mapped already) or not below [`MAP_LIMIT`], or if its 1 GiB
/// slot already points elsewhere, or the spare directory serves another slot.
pub fn map_identity_2mib(addr: u64) -> bool {
    if !(crate::start_info::MAPPED_END..MAP_LIMIT).contains(&addr) {
        return false;
    }
    let pdpt_index = (addr >> 30) as usize;
    let pd_index = ((addr >> 21) & 511) as usize;
    let pd = &raw mut pvh_pd_high;
    let pd_entry = pd as u64 | PDPTE_TABLE;
    let pdpt = &raw mut pvh_pdpt;
    // SAFETY: single CPU, nothing else touches the page tables after entry; slots >= 4 of the PDPT are unused by the boot map, and the spare PD is used only here. The new entries map a range nothing else uses.
    unsafe {
        // The spare PD serves one 1 GiB slot only, else it would alias.
        let elsewhere = (4..512)
            .filter(|&i| i != pdpt_index)
            .any(|i| (&raw const (*pdpt)[i]).read_volatile() == pd_entry);
        if elsewhere {
            return false;
        }
        let slot = &raw mut (*pdpt)[pdpt_index];
        match slot.read_volatile() {
            0 => slot.write_volatile(pd_entry),
            e if e == pd_entry => {}
            _ => return false,
        }
        (&raw mut (*pd)[pd_index]).write_volatile((addr & !(LARGE_PAGE - 1)) | PDE_LARGE);
        cpu::flush_tlb();
    }
    true
}

/// User | present | writable, for the upper levels [`make_user_2mib`] opens.
const USER: u64 = 1 << 2;

/// Makes the 2 MiB page holding `addr` (below 4 GiB, no part of this
/// kernel) accessible from CPL 3, read-write, for code that runs there
/// (`traps::run_user`). The PML4 and PDPT entries above it get the user bit
/// too; every other leaf keeps its supervisor-only bit, so nothing else
/// becomes reachable from CPL 3. False (nothing changed) if `addr` is not
/// such a page.
pub fn make_user_2mib(addr: u64) -> bool {
    let kernel_end = (&raw const __bss_end) as u64;
    let page = addr & !(LARGE_PAGE - 1);
    if addr >= crate::start_info::MAPPED_END || page < kernel_end.next_multiple_of(LARGE_PAGE) {
        return false;
    }
    let cr3: u64;
    // SAFETY: reading CR3 has no side effect.
    unsafe { core::arch::asm!("mov {}, cr3", out(reg) cr3, options(nomem, nostack, preserves_flags)) };
    let pml4 = (cr3 & !0xfff) as *mut u64;
    let pdpt = &raw mut pvh_pdpt;
    let pd = &raw mut pvh_pd;
    let index = (addr >> 21) as usize;
    // SAFETY: single CPU; the boot tables are identity-mapped and written only here and above; adding the user bit to the upper levels changes no supervisor access (no SMEP/SMAP), and the one leaf changed holds no part of this kernel.
    unsafe {
        pml4.write_volatile(pml4.read_volatile() | USER);
        let slot = &raw mut (*pdpt)[(addr >> 30) as usize];
        slot.write_volatile(slot.read_volatile() | USER);
        (&raw mut (*pd)[index]).write_volatile(page | PDE_LARGE | USER);
        cpu::flush_tlb();
    }
    true
}
