//! `XENMEM_add_to_physmap_batch` (memory.h; xen/common/memory.c
//! `xenmem_add_to_physmap_batch`, xen/arch/x86/mm/p2m.c `p2m_add_foreign`).
//!
//! Maps `size` pages of `space` at the gpfns given, one error code per page
//! in `errs`. The call itself fails, in Xen's order, with: -EDOM for a
//! start extent above the 16-bit size; -EFAULT for the struct;
//! -EOPNOTSUPP for `XENMAPSPACE_gmfn_range`; -ESRCH for no such domain;
//! -EACCES for `dev_mmio` unless the hardware domain maps into itself;
//! -EPERM for another domain without privilege; -EILSEQ for a start extent
//! past the size; -EOPNOTSUPP for `dev_mmio` with `res0` set; -EFAULT for
//! an unreadable `idxs`/`gpfns` entry or unwritable `errs` entry; -EINVAL
//! for a gpfn of `INVALID_GFN`. Once the exit's budget is spent (256
//! pages) it is preempted with its progress in the command (Xen's
//! continuation).
//!
//! Per page (`errs`): `shared_info` (idx 0), `gmfn` and `grant_table` as
//! add_to_physmap; `dev_mmio` (no such space on x86) -EINVAL; and
//! `gmfn_foreign`: page `idx` of domain `foreign_domid` mapped at the gpfn,
//! only into the hardware domain's own physmap (-EPERM otherwise, Xen's
//! `arch_acquire_resource_check`), from a domain other than itself (-EPERM)
//! that exists (-ESRCH; `DOMID_XEN` has no page to lend: -EINVAL), where
//! `idx` is RAM (-EINVAL). RAM or a foreign page at the gpfn is replaced,
//! device memory is not (-EPERM), nor a grant mapping (-EINVAL).
//!
//! A foreign page stays allocated while it is mapped, even after its owner
//! freed it or was destroyed (`mm::foreign`); removing it from the physmap
//! (XENMEM_remove_from_physmap, decrease_reservation) or destroying the
//! mapper drops it.
//!
//! A 32-bit caller's `idxs` and `gpfns` hold 4-byte entries; its gpfn
//! `0xffffffff` is not `INVALID_GFN` (Xen widens it without sign).

#![forbid(unsafe_code)]

use abi::errno::Errno;
use abi::memory::{
    CompatAddToPhysmapBatch, XENMAPSPACE_DEV_MMIO, XENMAPSPACE_GMFN_FOREIGN, XENMAPSPACE_GMFN_RANGE,
    XenAddToPhysmap, XenAddToPhysmapBatch,
};
use abi::xen::{DOMID_SELF, DOMID_XEN, DomId};

use super::memory_op::{add_to_physmap_one, target};
use super::{Caller, Outcome, read_arg, write_arg};

/// The op number, for the continuation.
const OP: u64 = abi::memory::XENMEM_ADD_TO_PHYSMAP_BATCH;

/// A batch in the native layout (a 32-bit caller's is widened).
fn read_batch(caller: &impl Caller, arg: u64) -> Result<XenAddToPhysmapBatch, Errno> {
    if !caller.compat() {
        return read_arg(caller, arg);
    }
    let c: CompatAddToPhysmapBatch = read_arg(caller, arg)?;
    Ok(XenAddToPhysmapBatch {
        domid: c.domid,
        space: c.space,
        size: c.size,
        u: c.u,
        idxs: c.idxs.into(),
        gpfns: c.gpfns.into(),
        errs: c.errs.into(),
    })
}

/// Entry `i` of an array of `xen_ulong_t` or `xen_pfn_t` (4 bytes each for
/// a 32-bit caller).
fn read_entry(caller: &impl Caller, array: u64, i: u64) -> Result<u64, Errno> {
    if caller.compat() {
        read_arg::<u32>(caller, array.wrapping_add(i * 4)).map(u64::from)
    } else {
        read_arg::<u64>(caller, array.wrapping_add(i * 8))
    }
}

pub fn add_to_physmap_batch(caller: &mut impl Caller, start: u64, arg: u64) -> Outcome {
    match run(caller, start, arg) {
        Ok(None) => Outcome::Return(0),
        Ok(Some(done)) => Outcome::Preempted(OP | (done << 6)),
        Err(e) => Outcome::err(e),
    }
}

/// The batch from page `start`; Some(progress) when preempted.
fn run(caller: &mut impl Caller, start: u64, arg: u64) -> Result<Option<u64>, Errno> {
    // The 16-bit size bounds the start extent (a 32-bit caller's struct is
    // translated, so read, first).
    if caller.compat() {
        read_batch(caller, arg)?;
    }
    if start > u64::from(u16::MAX) {
        return Err(Errno::EDOM);
    }
    let b = read_batch(caller, arg)?;
    let space = u32::from(b.space);
    if space == XENMAPSPACE_GMFN_RANGE {
        return Err(Errno::EOPNOTSUPP);
    }
    let own = b.domid == DOMID_SELF || b.domid.0 == caller.domid();
    if caller.domain(b.domid.0).is_none() {
        return Err(Errno::ESRCH);
    }
    if space == XENMAPSPACE_DEV_MMIO && !(own && caller.privileged()) {
        return Err(Errno::EACCES);
    }
    target(caller, b.domid)?;
    let size = u64::from(b.size);
    if size < start || (size == start && start > 0) {
        return Err(Errno::EILSEQ);
    }
    if space == XENMAPSPACE_DEV_MMIO && b.u != 0 {
        return Err(Errno::EOPNOTSUPP);
    }
    // The exit's budget pays for this many pages now; the rest continue.
    let end = start + caller.budget().take(size - start, 1);
    let mut extent = start;
    while extent < size {
        let idx = read_entry(caller, b.idxs, extent)?;
        let gpfn = read_entry(caller, b.gpfns, extent)?;
        if gpfn == u64::MAX {
            return Err(Errno::EINVAL);
        }
        let rc: i32 = match map_one(caller, &b, idx, gpfn) {
            Ok(()) => 0,
            Err(e) => -i32::from(e.raw()),
        };
        write_arg(caller, b.errs.wrapping_add(extent * 4), &rc)?;
        extent += 1;
        if extent < size && extent >= end {
            return Ok(Some(extent));
        }
    }
    Ok(None)
}

/// One page of the batch; the error goes to its `errs` entry.
fn map_one(caller: &mut impl Caller, b: &XenAddToPhysmapBatch, idx: u64, gpfn: u64) -> Result<(), Errno> {
    let space = u32::from(b.space);
    if space == XENMAPSPACE_GMFN_FOREIGN {
        return map_foreign(caller, b.domid, DomId(b.u), idx, gpfn);
    }
    let a = XenAddToPhysmap { domid: b.domid, size: 0, space, idx, gpfn };
    add_to_physmap_one(caller, &a)
}

/// Page `fgfn` of domain `foreign` mapped at `gpfn` of `domid` (Xen's
/// `p2m_add_foreign`).
fn map_foreign(caller: &mut impl Caller, domid: DomId, foreign: DomId, fgfn: u64, gpfn: u64) -> Result<(), Errno> {
    // Only the hardware domain, into its own physmap: Xen keeps foreign
    // pages out of other p2ms until their teardown drops them.
    let own = domid == DOMID_SELF || domid.0 == caller.domid();
    if !(own && caller.privileged()) {
        return Err(Errno::EPERM);
    }
    if foreign == DOMID_XEN {
        // dom_xen lends only pages it owns, and here it owns none.
        return Err(Errno::EINVAL);
    }
    // rcu_lock_remote_domain_by_id: an existing domain, not the caller.
    let me = caller.domid();
    let frame = {
        let f = caller.domain_exact(foreign.0).ok_or(Errno::ESRCH)?;
        if f.id() == me {
            return Err(Errno::EPERM);
        }
        f.ram_frame(fgfn, false).ok_or(Errno::EINVAL)?
    };
    caller.this().map_foreign(gpfn, frame)
}

#[cfg(test)]
mod tests {
    use super::super::fake::{FakeCaller, fake_mfn};
    use super::super::memory_op::memory_op;
    use super::*;
    use abi::memory::{XENMAPSPACE_GMFN, XENMAPSPACE_SHARED_INFO};

    const ARG: usize = 0;
    const IDXS: usize = 0x100;
    const GPFNS: usize = 0x400;
    const ERRS: usize = 0x800;

    fn batch(space: u32, size: u16, u: u16) -> XenAddToPhysmapBatch {
        XenAddToPhysmapBatch {
            domid: DOMID_SELF,
            space: space as u16,
            size,
            u,
            idxs: IDXS as u64,
            gpfns: GPFNS as u64,
            errs: ERRS as u64,
        }
    }

    /// A caller whose batch maps `pages` (idx, gpfn).
    fn with(c: &mut FakeCaller, b: XenAddToPhysmapBatch, pages: &[(u64, u64)]) {
        c.put(ARG, &b);
        for (i, &(idx, gpfn)) in pages.iter().enumerate() {
            c.put(IDXS + i * 8, &idx);
            c.put(GPFNS + i * 8, &gpfn);
        }
    }

    fn errs(c: &FakeCaller, n: usize) -> alloc::vec::Vec<i32> {
        (0..n).map(|i| c.get::<i32>(ERRS + i * 4)).collect()
    }

    fn call(c: &mut FakeCaller, start: u64) -> Outcome {
        memory_op(c, OP | (start << 6), ARG as u64)
    }

    #[test]
    fn foreign_pages_of_another_domain_map_into_dom0_with_per_page_errors() {
        let mut c = FakeCaller::new(0x1000);
        c.dom(0).gfns.clear();
        c.dom(0).gfns.insert(0x9000);
        with(&mut c, batch(XENMAPSPACE_GMFN_FOREIGN, 3, 1), &[(0x100, 0x9000), (0x5000, 0x9001), (0x1ff, 0x9002)]);
        assert_eq!(call(&mut c, 0), Outcome::Return(0));
        assert_eq!(errs(&c, 3), [0, -22, 0], "gfn 0x5000 of domain 1 is not RAM: -EINVAL for that page only");
        let d0 = c.dom(0);
        assert_eq!(d0.foreign.get(&0x9000), Some(&fake_mfn(1, 0x100)));
        assert_eq!(d0.foreign.get(&0x9002), Some(&fake_mfn(1, 0x1ff)));
        assert!(!d0.gfns.contains(&0x9000), "the RAM that was at 0x9000 is replaced");
        assert!(!d0.foreign.contains_key(&0x9001));
    }

    #[test]
    fn foreign_mapping_is_for_the_hardware_domain_from_another_existing_domain() {
        // Into another domain's physmap: -EPERM per page.
        let mut c = FakeCaller::new(0x1000);
        with(&mut c, XenAddToPhysmapBatch { domid: DomId(1), ..batch(XENMAPSPACE_GMFN_FOREIGN, 1, 0) }, &[(0x100, 0x9000)]);
        assert_eq!(call(&mut c, 0), Outcome::Return(0));
        assert_eq!(errs(&c, 1), [-1]);
        // From itself, from no domain, from DOMID_SELF, from DOMID_XEN.
        for (foreign, want) in [(0u16, -1), (77, -3), (DOMID_SELF.0, -3), (DOMID_XEN.0, -22)] {
            with(&mut c, batch(XENMAPSPACE_GMFN_FOREIGN, 1, foreign), &[(0x100, 0x9000)]);
            assert_eq!(call(&mut c, 0), Outcome::Return(0));
            assert_eq!(errs(&c, 1), [want], "foreign domid {foreign:#x}");
        }
        assert!(c.dom(0).foreign.is_empty());
        // A DomU may not map foreign pages even into itself.
        let mut u = FakeCaller::unprivileged(0x1000);
        with(&mut u, batch(XENMAPSPACE_GMFN_FOREIGN, 1, 0), &[(0x100, 0x9000)]);
        assert_eq!(call(&mut u, 0), Outcome::Return(0));
        assert_eq!(errs(&u, 1), [-1]);
        assert!(u.dom(1).foreign.is_empty());
    }

    #[test]
    fn call_level_checks_come_in_xens_order() {
        let mut c = FakeCaller::new(0x1000);
        with(&mut c, batch(XENMAPSPACE_GMFN_RANGE, 1, 0), &[]);
        assert_eq!(call(&mut c, 0x10000), Outcome::err(Errno::EDOM));
        assert_eq!(call(&mut c, 0), Outcome::err(Errno::EOPNOTSUPP));
        assert_eq!(memory_op(&mut c, OP, 0xfff0), Outcome::err(Errno::EFAULT));
        with(&mut c, XenAddToPhysmapBatch { domid: DomId(9), ..batch(XENMAPSPACE_GMFN_FOREIGN, 1, 1) }, &[]);
        assert_eq!(call(&mut c, 0), Outcome::err(Errno::ESRCH));
        with(&mut c, XenAddToPhysmapBatch { domid: DomId(1), ..batch(XENMAPSPACE_DEV_MMIO, 1, 0) }, &[]);
        assert_eq!(call(&mut c, 0), Outcome::err(Errno::EACCES), "dev_mmio only into the hardware domain itself");
        with(&mut c, batch(XENMAPSPACE_DEV_MMIO, 1, 1), &[]);
        assert_eq!(call(&mut c, 0), Outcome::err(Errno::EOPNOTSUPP), "res0 must be 0");
        with(&mut c, batch(XENMAPSPACE_SHARED_INFO, 2, 0), &[]);
        assert_eq!(call(&mut c, 3), Outcome::err(Errno::EILSEQ));
        assert_eq!(call(&mut c, 2), Outcome::err(Errno::EILSEQ));
        with(&mut c, batch(XENMAPSPACE_SHARED_INFO, 0, 0), &[]);
        assert_eq!(call(&mut c, 0), Outcome::Return(0), "an empty batch");
        with(&mut c, batch(XENMAPSPACE_SHARED_INFO, 1, 0), &[(0, u64::MAX)]);
        assert_eq!(call(&mut c, 0), Outcome::err(Errno::EINVAL), "INVALID_GFN fails the call");
        with(&mut c, XenAddToPhysmapBatch { errs: 0xfffe, ..batch(XENMAPSPACE_SHARED_INFO, 1, 0) }, &[(0, 0x150)]);
        assert_eq!(call(&mut c, 0), Outcome::err(Errno::EFAULT), "an unwritable errs entry");
        let mut u = FakeCaller::unprivileged(0x1000);
        with(&mut u, XenAddToPhysmapBatch { domid: DomId(0), ..batch(XENMAPSPACE_GMFN, 1, 0) }, &[]);
        assert_eq!(call(&mut u, 0), Outcome::err(Errno::EPERM));
        with(&mut u, XenAddToPhysmapBatch { domid: DomId(0), ..batch(XENMAPSPACE_DEV_MMIO, 1, 0) }, &[]);
        assert_eq!(call(&mut u, 0), Outcome::err(Errno::EACCES));
    }

    #[test]
    fn other_spaces_map_page_by_page() {
        let mut c = FakeCaller::new(0x1000);
        with(&mut c, batch(XENMAPSPACE_GMFN, 2, 0), &[(0x100, 0x3000), (0x7777, 0x3001)]);
        assert_eq!(call(&mut c, 0), Outcome::Return(0));
        assert_eq!(errs(&c, 2), [0, -22]);
        assert!(c.dom(0).gfns.contains(&0x3000) && !c.dom(0).gfns.contains(&0x100));
        with(&mut c, batch(XENMAPSPACE_DEV_MMIO, 1, 0), &[(0xfe000, 0xfe000)]);
        assert_eq!(call(&mut c, 0), Outcome::Return(0));
        assert_eq!(errs(&c, 1), [-22], "no dev_mmio space on x86");
    }

    #[test]
    fn a_long_batch_is_preempted_and_resumes_where_it_stopped() {
        let mut c = FakeCaller::new(0x4000);
        let b = XenAddToPhysmapBatch { idxs: 0x1000, gpfns: 0x2000, errs: 0x3000, ..batch(XENMAPSPACE_GMFN_FOREIGN, 300, 1) };
        c.put(ARG, &b);
        for i in 0..300u64 {
            c.put(0x1000 + i as usize * 8, &(0x100 + i % 0x100));
            c.put(0x2000 + i as usize * 8, &(0x8000 + i));
        }
        assert_eq!(call(&mut c, 0), Outcome::Preempted(OP | (256 << 6)));
        assert_eq!(c.dom(0).foreign.len(), 256);
        c.next_exit();
        assert_eq!(call(&mut c, 256), Outcome::Return(0));
        assert_eq!(c.dom(0).foreign.len(), 300);
        assert!((0..300).all(|i| c.get::<i32>(0x3000 + i * 4) == 0));
    }

    #[test]
    fn a_32_bit_caller_passes_4_byte_entries() {
        let mut c = FakeCaller::new(0x1000);
        c.compat = true;
        let b = CompatAddToPhysmapBatch {
            domid: DOMID_SELF,
            space: XENMAPSPACE_GMFN_FOREIGN as u16,
            size: 2,
            u: 1,
            idxs: IDXS as u32,
            gpfns: GPFNS as u32,
            errs: ERRS as u32,
        };
        c.put(ARG, &b);
        c.put(IDXS, &[0x101u32, 0x102]);
        c.put(GPFNS, &[0x9000u32, 0xffff_ffff]);
        assert_eq!(call(&mut c, 0), Outcome::Return(0));
        assert_eq!(errs(&c, 2), [0, 0], "0xffffffff is a gpfn like any other");
        assert_eq!(c.dom(0).foreign.get(&0xffff_ffff), Some(&fake_mfn(1, 0x102)));
        assert_eq!(memory_op(&mut c, OP | (0x10000 << 6), 0xfff0), Outcome::err(Errno::EFAULT), "compat reads first");
    }
}
