//! `test=foreign`: what Dom0's domain builder relies on, and what keeps it
//! safe. A new domain's page is mapped into this domain with
//! `XENMEM_add_to_physmap_batch` (`XENMAPSPACE_gmfn_foreign`), written and
//! read back; then
//! 1. the domain is destroyed: the page must stay ours, contents intact,
//!    until `XENMEM_remove_from_physmap`, which frees exactly that frame;
//! 2. a second domain gives its page back (`decrease_reservation`) while
//!    we map it: the frame must not be freed until we unmap it;
//! 3. a third domain is destroyed and its page left mapped here: powering
//!    off must free it with this domain (the hypervisor's "all its frames
//!    freed" line says so).
//!
//! Free frames come from `XEN_SYSCTL_physinfo`. Prints `dom0: foreign OK`
//! or `dom0: foreign FAILED: <why>`.

use guest_rt::start_info::StartInfo;
use guest_rt::{paging, println};

use crate::toolstack::xen;

/// The new domain's gfn that is mapped.
const DOMU_GFN: u64 = 0x100;
const PATTERN: u64 = 0x5a5a_0f0f_1234_5678;

fn free_pages() -> u64 {
    xen::physinfo().map_or(0, |p| p.free_pages)
}

/// A new paused domain with one page of RAM at [`DOMU_GFN`].
fn new_domain() -> Result<u16, &'static str> {
    let id = xen::create_domain(1, 0, 0).map_err(|_| "createdomain failed")?;
    xen::max_mem(id, 1024).map_err(|_| "max_mem failed")?;
    xen::populate(id, &mut [DOMU_GFN], 0).map_err(|_| "populate_physmap of the new domain failed")?;
    Ok(id)
}

/// Maps [`DOMU_GFN`] of `domid` at our `gpfn`.
fn map_foreign(domid: u16, gpfn: u64) -> Result<(), &'static str> {
    xen::map_foreign(domid, &[DOMU_GFN], &[gpfn]).map_err(|e| {
        println!("dom0: foreign: {e}");
        "mapping the foreign page failed"
    })
}

fn destroy(domid: u16) -> Result<(), &'static str> {
    xen::destroy_domain(domid).map_err(|_| "destroydomain failed")
}

pub fn run(si: &StartInfo) {
    match check(si) {
        Ok(()) => println!("dom0: foreign OK"),
        Err(why) => println!("dom0: foreign FAILED: {why}"),
    }
}

fn check(si: &StartInfo) -> Result<(), &'static str> {
    let addr = si.unlisted_address().ok_or("no free guest-physical address to map at")?;
    if !paging::map_identity_2mib(addr) {
        return Err("cannot map the address in our page tables");
    }
    let gpfn = addr >> 12;
    let page = addr as *mut u64;

    // 1. The owner dies while we map its page.
    let id = new_domain()?;
    map_foreign(id, gpfn)?;
    // SAFETY: `page` is identity-mapped and backed by the foreign frame just mapped there.
    let fresh = unsafe { page.read_volatile() };
    // SAFETY: as above.
    unsafe { page.write_volatile(PATTERN) };
    println!("dom0: foreign: domain {id}'s gfn {DOMU_GFN:#x} mapped at our gfn {gpfn:#x} (read {fresh:#x}, wrote {PATTERN:#x})");
    destroy(id)?;
    let before = free_pages();
    // SAFETY: the frame is still mapped at `page`: it must survive its owner.
    if unsafe { page.read_volatile() } != PATTERN {
        return Err("the page changed when its domain was destroyed");
    }
    println!("dom0: foreign: the page outlives its destroyed domain");
    xen::unmap(gpfn).map_err(|_| "remove_from_physmap of the foreign page failed")?;
    let after = free_pages();
    if after != before + 1 {
        println!("dom0: foreign: free pages {before} before the unmap, {after} after");
        return Err("the unmap did not free exactly the orphaned frame");
    }
    println!("dom0: foreign: the unmap freed it (free pages {before} -> {after})");

    // 2. The owner gives its page back while we map it.
    let id = new_domain()?;
    map_foreign(id, gpfn)?;
    let before = free_pages();
    xen::decrease_reservation(id, &mut [DOMU_GFN]).map_err(|_| "decrease_reservation in the new domain failed")?;
    if free_pages() != before {
        return Err("a frame we map was freed by its owner's decrease_reservation");
    }
    if xen::unmap(gpfn).is_err() || free_pages() != before + 1 {
        return Err("unmapping the given-back frame did not free it");
    }
    println!("dom0: foreign: a given-back page is freed by our unmap, not before");
    destroy(id)?;

    // 3. Left mapped when we power off.
    let id = new_domain()?;
    map_foreign(id, gpfn)?;
    destroy(id)?;
    println!("dom0: foreign: powering off with a dead domain's page still mapped");
    Ok(())
}
