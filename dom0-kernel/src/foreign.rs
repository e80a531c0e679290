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

use abi::domctl::{
    XEN_DOMCTL_CDF_HAP, XEN_DOMCTL_CDF_HVM, XEN_DOMCTL_CREATEDOMAIN, XEN_DOMCTL_DESTROYDOMAIN, XEN_DOMCTL_MAX_MEM,
    XenDomctl, XenDomctlCreatedomain, XenDomctlMaxMem,
};
use abi::memory::{
    XENMAPSPACE_GMFN_FOREIGN, XENMEM_ADD_TO_PHYSMAP_BATCH, XENMEM_DECREASE_RESERVATION, XENMEM_POPULATE_PHYSMAP,
    XENMEM_REMOVE_FROM_PHYSMAP, XenAddToPhysmapBatch, XenMemoryReservation, XenRemoveFromPhysmap,
};
use abi::sysctl::{XEN_SYSCTL_PHYSINFO, XenSysctl, XenSysctlPhysinfo};
use abi::xen::{DOMID_SELF, DomId, HYPERVISOR_DOMCTL, HYPERVISOR_MEMORY_OP, HYPERVISOR_SYSCTL};
use guest_rt::start_info::StartInfo;
use guest_rt::{hypercall, paging, println};

/// The new domain's gfn that is mapped.
const DOMU_GFN: u64 = 0x100;
const PATTERN: u64 = 0x5a5a_0f0f_1234_5678;

fn call(nr: u64, a1: u64, a2: u64) -> i64 {
    // SAFETY: every argument is a pointer to a live local of the type the hypercall reads, or a number.
    unsafe { hypercall::hypercall2(nr, a1, a2) }.cast_signed()
}

fn ptr<T>(value: &mut T) -> u64 {
    core::ptr::from_mut(value) as u64
}

fn domctl(cmd: u32, domain: u16, payload: &[u8]) -> Result<XenDomctl, i64> {
    let mut op = XenDomctl::new(cmd, DomId(domain), &[0u8; 0]);
    op.u[..payload.len()].copy_from_slice(payload);
    // SAFETY: op is a live XenDomctl.
    let rc = unsafe { hypercall::hypercall1(HYPERVISOR_DOMCTL, ptr(&mut op)) }.cast_signed();
    if rc == 0 { Ok(op) } else { Err(rc) }
}

fn free_pages() -> u64 {
    let mut op = XenSysctl::new(XEN_SYSCTL_PHYSINFO, &[0u8; 0]);
    // SAFETY: op is a live XenSysctl.
    let rc = unsafe { hypercall::hypercall1(HYPERVISOR_SYSCTL, ptr(&mut op)) }.cast_signed();
    if rc != 0 {
        return 0;
    }
    op.payload::<XenSysctlPhysinfo>().free_pages
}

/// A new paused domain with one page of RAM at [`DOMU_GFN`].
fn new_domain() -> Result<u16, &'static str> {
    let config = XenDomctlCreatedomain { flags: XEN_DOMCTL_CDF_HVM | XEN_DOMCTL_CDF_HAP, max_vcpus: 1, ..Default::default() };
    let op = domctl(XEN_DOMCTL_CREATEDOMAIN, 0, abi::zerocopy::IntoBytes::as_bytes(&config))
        .map_err(|_| "createdomain failed")?;
    let id = op.domain.0;
    let max = XenDomctlMaxMem { max_memkb: 1024 };
    domctl(XEN_DOMCTL_MAX_MEM, id, abi::zerocopy::IntoBytes::as_bytes(&max)).map_err(|_| "max_mem failed")?;
    if reservation(XENMEM_POPULATE_PHYSMAP, id) != 1 {
        return Err("populate_physmap of the new domain failed");
    }
    Ok(id)
}

/// populate_physmap or decrease_reservation of [`DOMU_GFN`] in `domid`.
fn reservation(op: u64, domid: u16) -> i64 {
    let mut gfn = DOMU_GFN;
    let mut r = XenMemoryReservation { extent_start: ptr(&mut gfn), nr_extents: 1, domid: DomId(domid), ..Default::default() };
    call(HYPERVISOR_MEMORY_OP, op, ptr(&mut r))
}

/// Maps [`DOMU_GFN`] of `domid` at our `gpfn`.
fn map_foreign(domid: u16, gpfn: u64) -> Result<(), &'static str> {
    let (mut idx, mut gpfn, mut err) = (DOMU_GFN, gpfn, -99i32);
    let mut b = XenAddToPhysmapBatch {
        domid: DOMID_SELF,
        space: XENMAPSPACE_GMFN_FOREIGN.try_into().unwrap_or(u16::MAX),
        size: 1,
        u: domid,
        idxs: ptr(&mut idx),
        gpfns: ptr(&mut gpfn),
        errs: ptr(&mut err),
    };
    let rc = call(HYPERVISOR_MEMORY_OP, XENMEM_ADD_TO_PHYSMAP_BATCH, ptr(&mut b));
    if rc != 0 || err != 0 {
        println!("dom0: foreign: add_to_physmap_batch returned {rc}, errs[0] {err}");
        return Err("mapping the foreign page failed");
    }
    Ok(())
}

fn unmap(gpfn: u64) -> i64 {
    let mut x = XenRemoveFromPhysmap { domid: DOMID_SELF, _pad: [0; 3], gpfn };
    call(HYPERVISOR_MEMORY_OP, XENMEM_REMOVE_FROM_PHYSMAP, ptr(&mut x))
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
    domctl(XEN_DOMCTL_DESTROYDOMAIN, id, &[]).map_err(|_| "destroydomain failed")?;
    let before = free_pages();
    // SAFETY: the frame is still mapped at `page`: it must survive its owner.
    if unsafe { page.read_volatile() } != PATTERN {
        return Err("the page changed when its domain was destroyed");
    }
    println!("dom0: foreign: the page outlives its destroyed domain");
    if unmap(gpfn) != 0 {
        return Err("remove_from_physmap of the foreign page failed");
    }
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
    if reservation(XENMEM_DECREASE_RESERVATION, id) != 1 {
        return Err("decrease_reservation in the new domain failed");
    }
    if free_pages() != before {
        return Err("a frame we map was freed by its owner's decrease_reservation");
    }
    if unmap(gpfn) != 0 || free_pages() != before + 1 {
        return Err("unmapping the given-back frame did not free it");
    }
    println!("dom0: foreign: a given-back page is freed by our unmap, not before");
    domctl(XEN_DOMCTL_DESTROYDOMAIN, id, &[]).map_err(|_| "destroydomain failed")?;

    // 3. Left mapped when we power off.
    let id = new_domain()?;
    map_foreign(id, gpfn)?;
    domctl(XEN_DOMCTL_DESTROYDOMAIN, id, &[]).map_err(|_| "destroydomain failed")?;
    println!("dom0: foreign: powering off with a dead domain's page still mapped");
    Ok(())
}
