//! Changing the boot identity map of the first 4 GiB: one more 2 MiB page
//! above it, or a 2 MiB hole in it.
//!
//! The entry code maps 0..4 GiB through PDPT slots 0..3 and the four page
//! directories `pvh_pd`. An address in 4 GiB..512 GiB gets its PDPT slot
//! pointed at the spare page directory `pvh_pd_high` and one 2 MiB identity
//! entry there; one spare directory is enough for the tests that need it.
//! [`unmap_2mib`] clears one entry of `pvh_pd`, for tests that need an
//! address below 4 GiB the guest's own page tables do not map.

use crate::cpu;

/// Addresses below this can be mapped: what PML4 slot 0 covers.
pub const MAP_LIMIT: u64 = 512 << 30;

/// Present | writable | 2 MiB page (PS).
const PDE_LARGE: u64 = 0x83;
/// Present | writable.
const PDPTE_TABLE: u64 = 0x3;
const LARGE_PAGE: u64 = 2 << 20;

unsafe extern "C" {
    /// The boot page-directory-pointer table (entry.rs).
    static mut pvh_pdpt: [u64; 512];
    /// The four boot page directories of 0..4 GiB (entry.rs).
    static mut pvh_pd: [u64; 4 * 512];
    /// The spare page directory (entry.rs), zeroed with .bss.
    static mut pvh_pd_high: [u64; 512];
    /// Bounds of the kernel image (linker.ld).
    static __bss_end: u8;
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
    // SAFETY: single CPU, nothing else touches the page tables after entry;
    // slots >= 4 of the PDPT are unused by the boot map, and the spare PD is
    // used only here. The new entries map a range nothing else uses.
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

/// Removes the 2 MiB page holding `addr` from the identity map of 0..4 GiB,
/// so that virtual addresses there fault. False (nothing changed) if `addr`
/// is not below 4 GiB or the page holds any part of this kernel (its image,
/// stack and page tables end at `__bss_end`).
pub fn unmap_2mib(addr: u64) -> bool {
    let kernel_end = (&raw const __bss_end) as u64;
    let page = addr & !(LARGE_PAGE - 1);
    if addr >= crate::start_info::MAPPED_END || page < kernel_end.next_multiple_of(LARGE_PAGE) {
        return false;
    }
    let index = (addr >> 21) as usize;
    let pd = &raw mut pvh_pd;
    // SAFETY: single CPU, nothing else touches the page tables after entry;
    // the entry maps memory above the kernel image, which this kernel does not
    // use except through explicit test pointers.
    unsafe {
        (&raw mut (*pd)[index]).write_volatile(0);
        cpu::flush_tlb();
    }
    true
}
