//! Mapping one more 2 MiB page beyond the boot identity map of the first 4 GiB.
//!
//! The entry code maps 0..4 GiB through PDPT slots 0..3. An address in
//! 4 GiB..512 GiB gets its PDPT slot pointed at the spare page directory
//! `pvh_pd_high` and one 2 MiB identity entry there. Only the isolation test
//! needs this, so one spare directory is enough.

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
    /// The spare page directory (entry.rs), zeroed with .bss.
    static mut pvh_pd_high: [u64; 512];
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
