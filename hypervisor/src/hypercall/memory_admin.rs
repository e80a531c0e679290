//! The toolstack and introspection ops of `HYPERVISOR_memory_op`
//! (xen/common/memory.c, xen/arch/x86/mm.c, xen/arch/x86/x86_64/mm.c,
//! xen/common/mem_access.c), with Xen's checks in Xen's order. Where Xen's
//! answer depends on machinery this hypervisor does not have (PoD, vNUMA,
//! an IOMMU, ioreq servers, vm_event rings), the answer is the one Xen
//! gives a domain without it.
//!
//! | op | here |
//! |---|---|
//! | `XENMEM_exchange` (11) | order above the caller's maximum (9, 18 for Dom0) -EPERM; inconsistent extents -EINVAL; all done: 0; bad node -EINVAL; no domain -ESRCH; another domain unprivileged -EPERM; then the first page: unreadable list -EFAULT, not mapped -EINVAL, mapped: -EOPNOTSUPP (Xen cannot steal pages of a translated domain); `nr_exchanged` written back |
//! | `XENMEM_machphys_mfn_list` (5) | 0 extents: there is no M2P table |
//! | `XENMEM_machphys_compat_mfn_list` (25) | -EOPNOTSUPP: no 32-bit PV |
//! | `XENMEM_set_memory_map` (13) | up to 1024 entries (-EINVAL), of itself or, privileged, any domain (-ESRCH, -EPERM); what `XENMEM_memory_map` returns from then on |
//! | `XENMEM_set_pod_target` (16), `XENMEM_get_pod_target` (17) | no domain -ESRCH; Dom0 only (-EPERM); a target above max_pages -EINVAL; no PoD cache to resize; the counts written back (0 cache pages, 0 PoD entries) |
//! | `XENMEM_claim_pages` (24) | extent list, order, flags must be 0, the domain an existing id (-EINVAL), Dom0 only (-EPERM); 0 pages cancels (there is no claim to cancel: 0); a claim not above tot_pages or above max_pages -EINVAL, above the free pages -ENOMEM; staking one -ENOSYS (the allocator has no claims) |
//! | `XENMEM_get_vnumainfo` (26) | pad -EINVAL, no domain -ESRCH, another one unprivileged -EPERM, then -EOPNOTSUPP: no domain has a vNUMA topology |
//! | `XENMEM_reserved_device_memory_map` (27) | unknown flags -EINVAL; 0 entries (no IOMMU reserves memory) |
//! | `XENMEM_acquire_resource` (28) | DomUs -EACCES; pad, frame past 32 bits -EINVAL; DOMID_SELF, no domain -ESRCH; itself -EPERM; ioreq_server: 2 frames (none exists: -ENOENT); vmtrace_buf, grant_table: no frames -EINVAL; other types as Xen 4.17 (a size of (u32)-EOPNOTSUPP, -EOPNOTSUPP to map) |
//! | `XENMEM_access_op` (21) | no domain -ESRCH, itself -EPERM; on AMD -EINVAL (Xen's mem_access needs VMX); unprivileged -EPERM; then -ENODEV: no vm_event monitor ring |
//!
//! A 32-bit caller's structs are Xen's compat layouts.

#![forbid(unsafe_code)]

use alloc::vec::Vec;

use abi::errno::Errno;
use abi::memory::*;
use abi::xen::DomId;
use abi::zerocopy::FromZeros;

use crate::domain::object::MapEntry;

use super::memory_op::target;
use super::{Caller, Outcome, read_arg, write_arg};

/// `E820MAX`: most entries a memory map may have.
const E820MAX: u32 = 1024;
/// `MAX_NUMNODES` of an x86 build.
const MAX_NUMNODES: u32 = 64;

fn ret(r: Result<u64, Errno>) -> Outcome {
    match r {
        Ok(v) => Outcome::Return(v),
        Err(e) => Outcome::err(e),
    }
}

/// Largest extent order the caller may exchange (Xen's `max_order`: the
/// DomU default 9, the control domain's `2 * PAGETABLE_ORDER`).
fn max_order(caller: &impl Caller) -> u32 {
    if caller.privileged() { 18 } else { 9 }
}

fn widen(c: &CompatMemoryReservation) -> XenMemoryReservation {
    let mut r = XenMemoryReservation::new_zeroed();
    (r.extent_start, r.nr_extents, r.extent_order, r.mem_flags, r.domid) =
        (c.extent_start.into(), c.nr_extents.into(), c.extent_order, c.mem_flags, c.domid);
    r
}

pub fn exchange(caller: &mut impl Caller, arg: u64) -> Outcome {
    let (e, done_at) = if caller.compat() {
        match read_arg::<CompatMemoryExchange>(caller, arg) {
            Ok(c) => (
                XenMemoryExchange { r#in: widen(&c.r#in), out: widen(&c.out), nr_exchanged: c.nr_exchanged.into() },
                core::mem::offset_of!(CompatMemoryExchange, nr_exchanged),
            ),
            Err(e) => return Outcome::err(e),
        }
    } else {
        match read_arg::<XenMemoryExchange>(caller, arg) {
            Ok(x) => (x, core::mem::offset_of!(XenMemoryExchange, nr_exchanged)),
            Err(e) => return Outcome::err(e),
        }
    };
    let (rc, nr_exchanged) = exchange_checked(caller, &e);
    if rc == Ok(0) && nr_exchanged == e.r#in.nr_extents {
        return Outcome::Return(0);
    }
    // Xen writes nr_exchanged back on every failure.
    let written = if caller.compat() {
        write_arg(caller, arg + done_at as u64, &u32::try_from(nr_exchanged).unwrap_or(u32::MAX))
    } else {
        write_arg(caller, arg + done_at as u64, &nr_exchanged)
    };
    match (rc, written) {
        (_, Err(e)) | (Err(e), _) => Outcome::err(e),
        (Ok(v), Ok(())) => Outcome::Return(v),
    }
}

/// `memory_exchange` up to its first page: (result, nr_exchanged to report).
fn exchange_checked(caller: &mut impl Caller, e: &XenMemoryExchange) -> (Result<u64, Errno>, u64) {
    let (i, o) = (&e.r#in, &e.out);
    let fail = |err| (Err(err), e.nr_exchanged);
    if i.extent_order.max(o.extent_order) > max_order(caller) {
        return fail(Errno::EPERM);
    }
    let bits = u64::BITS;
    let fits = |r: &XenMemoryReservation| r.extent_order < bits && (u64::MAX >> r.extent_order) >= r.nr_extents;
    if e.nr_exchanged > i.nr_extents
        || i.domid != o.domid
        || !fits(i)
        || !fits(o)
        || (i.nr_extents << i.extent_order) != (o.nr_extents << o.extent_order)
    {
        return fail(Errno::EINVAL);
    }
    if e.nr_exchanged == i.nr_extents {
        return (Ok(0), e.nr_exchanged);
    }
    let node = xenmemf_get_node(o.mem_flags);
    let node_ok = node == 0xff
        || if caller.privileged() { node < MAX_NUMNODES } else { o.mem_flags & XENMEMF_EXACT_NODE_REQUEST == 0 };
    if !node_ok {
        return fail(Errno::EINVAL);
    }
    if let Err(err) = target(caller, i.domid) {
        return fail(err);
    }
    // The first chunk: its first input page is looked up, then stolen,
    // which Xen refuses for a translated domain.
    let in_chunk_order = o.extent_order.saturating_sub(i.extent_order);
    let first = (e.nr_exchanged >> in_chunk_order) << in_chunk_order;
    let gmfn = if caller.compat() {
        read_arg::<u32>(caller, i.extent_start.wrapping_add(first * 4)).map(u64::from)
    } else {
        read_arg::<u64>(caller, i.extent_start.wrapping_add(first * 8))
    };
    let err = match gmfn {
        Err(err) => err,
        Ok(gmfn) => match target(caller, i.domid) {
            Ok(d) if d.ram_frame(gmfn, false).is_some() => Errno::EOPNOTSUPP,
            Ok(_) => Errno::EINVAL,
            Err(err) => err,
        },
    };
    (Err(err), first)
}

pub fn machphys_mfn_list(caller: &mut impl Caller, arg: u64) -> Outcome {
    // No M2P table: the walk over its 2 MiB extents finds none.
    let r = if caller.compat() {
        read_arg::<CompatMachphysMfnList>(caller, arg).and_then(|mut l| {
            l.nr_extents = 0;
            write_arg(caller, arg, &l)
        })
    } else {
        read_arg::<XenMachphysMfnList>(caller, arg).and_then(|mut l| {
            l.nr_extents = 0;
            write_arg(caller, arg, &l)
        })
    };
    ret(r.map(|()| 0))
}

pub fn set_memory_map(caller: &mut impl Caller, arg: u64) -> Outcome {
    let m = if caller.compat() {
        read_arg::<CompatForeignMemoryMap>(caller, arg).map(|c| (c.domid, c.map.nr_entries, u64::from(c.map.buffer)))
    } else {
        read_arg::<XenForeignMemoryMap>(caller, arg).map(|f| (f.domid, f.map.nr_entries, f.map.buffer))
    };
    let (domid, n, buffer) = match m {
        Ok(m) => m,
        Err(e) => return Outcome::err(e),
    };
    if n > E820MAX {
        return Outcome::err(Errno::EINVAL);
    }
    if let Err(e) = target(caller, domid) {
        return Outcome::err(e);
    }
    let mut map = Vec::with_capacity(n as usize);
    for i in 0..u64::from(n) {
        match read_arg::<E820Entry>(caller, buffer.wrapping_add(i * 20)) {
            Ok(e) => map.push(MapEntry { addr: e.addr, size: e.size, r#type: e.r#type }),
            Err(e) => return Outcome::err(e),
        }
    }
    ret(target(caller, domid).map(|d| {
        d.set_memory_map(map);
        0
    }))
}

pub fn pod_target(caller: &mut impl Caller, op: u64, arg: u64) -> Outcome {
    let t = if caller.compat() {
        read_arg::<CompatPodTarget>(caller, arg).map(|c| (c.target_pages, c.domid))
    } else {
        read_arg::<XenPodTarget>(caller, arg).map(|t| (t.target_pages, t.domid))
    };
    let (target_pages, domid) = match t {
        Ok(t) => t,
        Err(e) => return Outcome::err(e),
    };
    let privileged = caller.privileged();
    let Some(d) = caller.domain(domid.0) else { return Outcome::err(Errno::ESRCH) };
    if !privileged {
        return Outcome::err(Errno::EPERM);
    }
    if op == XENMEM_SET_POD_TARGET && target_pages > d.max_pages() {
        return Outcome::err(Errno::EINVAL);
    }
    // No PoD entries and no cache: setting a target has nothing to resize
    // (Xen's p2m_pod_set_mem_target with no outstanding entries).
    let tot_pages = d.tot_pages();
    let r = if caller.compat() {
        let out = CompatPodTarget { target_pages, tot_pages, pod_cache_pages: 0, pod_entries: 0, domid, _pad: 0 };
        write_arg(caller, arg, &out)
    } else {
        let out = XenPodTarget { target_pages, tot_pages, pod_cache_pages: 0, pod_entries: 0, domid, _pad: [0; 3] };
        write_arg(caller, arg, &out)
    };
    ret(r.map(|()| 0))
}

pub fn claim_pages(caller: &mut impl Caller, arg: u64) -> Outcome {
    let r = if caller.compat() {
        read_arg::<CompatMemoryReservation>(caller, arg).map(|c| widen(&c))
    } else {
        read_arg::<XenMemoryReservation>(caller, arg)
    };
    let r = match r {
        Ok(r) => r,
        Err(e) => return Outcome::err(e),
    };
    if r.extent_start != 0 || r.extent_order != 0 || r.mem_flags != 0 {
        return Outcome::err(Errno::EINVAL);
    }
    let privileged = caller.privileged();
    let free = caller.machine().free_pages;
    // rcu_lock_domain_by_id: an id, not DOMID_SELF; none is -EINVAL here.
    let Some(d) = caller.domain_exact(r.domid.0) else { return Outcome::err(Errno::EINVAL) };
    if !privileged {
        return Outcome::err(Errno::EPERM);
    }
    let pages = r.nr_extents;
    if pages == 0 {
        // Cancelling: no domain holds a claim.
        return Outcome::Return(0);
    }
    if pages <= d.tot_pages() || pages > d.max_pages() {
        return Outcome::err(Errno::EINVAL);
    }
    if pages - d.tot_pages() > free {
        return Outcome::err(Errno::ENOMEM);
    }
    Outcome::err(Errno::ENOSYS)
}

pub fn get_vnumainfo(caller: &mut impl Caller, arg: u64) -> Outcome {
    // The handles are unions with a uint64_t: one layout for both modes.
    let t: XenVnumaTopologyInfo = match read_arg(caller, arg) {
        Ok(t) => t,
        Err(e) => return Outcome::err(e),
    };
    if t.pad != 0 {
        return Outcome::err(Errno::EINVAL);
    }
    match target(caller, t.domid) {
        Ok(_) => Outcome::err(Errno::EOPNOTSUPP),
        Err(e) => Outcome::err(e),
    }
}

pub fn reserved_device_memory_map(caller: &mut impl Caller, arg: u64) -> Outcome {
    let flags = if caller.compat() {
        read_arg::<CompatReservedDeviceMemoryMap>(caller, arg).map(|m| m.flags)
    } else {
        read_arg::<XenReservedDeviceMemoryMap>(caller, arg).map(|m| m.flags)
    };
    let flags = match flags {
        Ok(f) => f,
        Err(e) => return Outcome::err(e),
    };
    if flags & !XENMEM_RDM_ALL != 0 {
        return Outcome::err(Errno::EINVAL);
    }
    // No IOMMU, so no reserved ranges: nr_entries (at offset 4 in both
    // layouts) becomes 0.
    ret(write_arg(caller, arg + 4, &0u32).map(|()| 0))
}

/// Frames of a domain's resource (Xen's `resource_max_frames`; 0: none).
fn resource_max_frames(kind: u16, vcpus: usize) -> u32 {
    const IOREQ_SIZE: usize = 32;
    match kind {
        // One buffered-ioreq page and one page per 128 vCPUs.
        XENMEM_RESOURCE_IOREQ_SERVER => u32::try_from(1 + (vcpus * IOREQ_SIZE).div_ceil(4096)).unwrap_or(u32::MAX),
        // No grant table frames and no vmtrace buffer to hand out.
        XENMEM_RESOURCE_GRANT_TABLE | XENMEM_RESOURCE_VMTRACE_BUF => 0,
        // Xen 4.17 returns -EOPNOTSUPP from an unsigned function.
        _ => 0u32.wrapping_sub(u32::from(Errno::EOPNOTSUPP.raw())),
    }
}

pub fn acquire_resource(caller: &mut impl Caller, start: u64, arg: u64) -> Outcome {
    // arch_acquire_resource_check: a translated caller must be the hardware domain.
    if !caller.privileged() {
        return Outcome::err(Errno::EACCES);
    }
    let x = if caller.compat() {
        read_arg::<CompatMemAcquireResource>(caller, arg).map(|c| XenMemAcquireResource {
            domid: c.domid,
            r#type: c.r#type,
            id: c.id,
            nr_frames: c.nr_frames,
            pad: c.pad,
            frame: c.frame,
            frame_list: c.frame_list.into(),
        })
    } else {
        read_arg::<XenMemAcquireResource>(caller, arg)
    };
    let x = match x {
        Ok(x) => x,
        Err(e) => return Outcome::err(e),
    };
    if x.pad != 0 || x.frame >> 32 != 0 || (x.frame + u64::from(x.nr_frames)) >> 32 != 0 {
        return Outcome::err(Errno::EINVAL);
    }
    let me = caller.domid();
    let Some(d) = caller.domain_exact(x.domid.0) else { return Outcome::err(Errno::ESRCH) };
    if d.id() == me {
        return Outcome::err(Errno::EPERM);
    }
    let max_frames = resource_max_frames(x.r#type, d.vcpus().len());
    if max_frames == 0 {
        return Outcome::err(Errno::EINVAL);
    }
    if x.frame_list == 0 {
        if x.nr_frames != 0 || start != 0 {
            return Outcome::err(Errno::EINVAL);
        }
        // nr_frames is at offset 8 in both layouts.
        return ret(write_arg(caller, arg + 8, &max_frames).map(|()| 0));
    }
    if start >= u64::from(x.nr_frames) || x.nr_frames > u32::MAX >> 6 {
        return Outcome::err(Errno::EINVAL);
    }
    match x.r#type {
        // An ioreq server id is 16 bits; no server exists to map.
        XENMEM_RESOURCE_IOREQ_SERVER if x.id > u32::from(u16::MAX) => Outcome::err(Errno::EINVAL),
        XENMEM_RESOURCE_IOREQ_SERVER => Outcome::err(Errno::ENOENT),
        _ => Outcome::err(Errno::EOPNOTSUPP),
    }
}

pub fn access_op(caller: &mut impl Caller, arg: u64) -> Outcome {
    let domid = if caller.compat() {
        read_arg::<CompatMemAccessOp>(caller, arg).map(|m| m.domid)
    } else {
        read_arg::<XenMemAccessOp>(caller, arg).map(|m| m.domid)
    };
    let domid: DomId = match domid {
        Ok(d) => d,
        Err(e) => return Outcome::err(e),
    };
    // rcu_lock_live_remote_domain_by_id.
    let me = caller.domid();
    let (privileged, vmx) = (caller.privileged(), caller.machine().vmx);
    match caller.domain_exact(domid.0) {
        None => return Outcome::err(Errno::ESRCH),
        Some(d) if d.id() == me => return Outcome::err(Errno::EPERM),
        Some(_) => {}
    }
    // p2m_mem_access_sanity_check: HVM with HAP on VMX only.
    if !vmx {
        return Outcome::err(Errno::EINVAL);
    }
    if !privileged {
        return Outcome::err(Errno::EPERM);
    }
    // No vm_event monitor ring is ever set up.
    Outcome::err(Errno::ENODEV)
}

#[cfg(test)]
mod tests {
    use super::super::fake::FakeCaller;
    use super::super::memory_op::memory_op;
    use super::*;
    use abi::xen::DOMID_SELF;

    fn res(extent_start: u64, nr_extents: u64, extent_order: u32, domid: DomId) -> XenMemoryReservation {
        let mut r = XenMemoryReservation::new_zeroed();
        (r.extent_start, r.nr_extents, r.extent_order, r.domid) = (extent_start, nr_extents, extent_order, domid);
        r
    }

    fn xchg(c: &mut FakeCaller, i: XenMemoryReservation, o: XenMemoryReservation, done: u64) -> Outcome {
        c.put(0, &XenMemoryExchange { r#in: i, out: o, nr_exchanged: done });
        memory_op(c, XENMEM_EXCHANGE, 0)
    }

    #[test]
    fn exchange_checks_then_cannot_steal_a_translated_domains_page() {
        let mut c = FakeCaller::new(0x1000);
        c.put(0x800, &0x100u64);
        let one = res(0x800, 1, 0, DOMID_SELF);
        assert_eq!(xchg(&mut c, one, one, 0), Outcome::err(Errno::EOPNOTSUPP));
        assert_eq!(c.get::<u64>(64), 0, "nothing exchanged");
        c.put(0x800, &0x7777u64);
        assert_eq!(xchg(&mut c, one, one, 0), Outcome::err(Errno::EINVAL), "an unmapped gfn");
        assert_eq!(xchg(&mut c, one, res(0x900, 2, 0, DOMID_SELF), 0), Outcome::err(Errno::EINVAL), "sizes differ");
        assert_eq!(xchg(&mut c, one, res(0x900, 1, 0, DomId(1)), 0), Outcome::err(Errno::EINVAL), "domids differ");
        assert_eq!(xchg(&mut c, one, one, 2), Outcome::err(Errno::EINVAL), "more done than asked");
        assert_eq!(xchg(&mut c, one, one, 1), Outcome::Return(0), "all done already");
        assert_eq!(xchg(&mut c, res(0x800, 1, 19, DOMID_SELF), one, 0), Outcome::err(Errno::EPERM));
        assert_eq!(xchg(&mut c, res(0x800, 1, 0, DomId(9)), res(0, 1, 0, DomId(9)), 0), Outcome::err(Errno::ESRCH));
        assert_eq!(memory_op(&mut c, XENMEM_EXCHANGE, 0xff0), Outcome::err(Errno::EFAULT));
        let mut u = FakeCaller::unprivileged(0x1000);
        assert_eq!(xchg(&mut u, res(0x800, 1, 10, DOMID_SELF), res(0x800, 2, 9, DOMID_SELF), 0), Outcome::err(Errno::EPERM), "order 10 > 9");
        assert_eq!(xchg(&mut u, res(0x800, 1, 0, DomId(0)), res(0x800, 1, 0, DomId(0)), 0), Outcome::err(Errno::EPERM));
    }

    #[test]
    fn set_memory_map_replaces_what_memory_map_returns() {
        let mut c = FakeCaller::new(0x1000);
        let e = [E820Entry { addr: 0, size: 0x9f000, r#type: 1 }, E820Entry { addr: 0x10_0000, size: 0x100_0000, r#type: 1 }];
        c.put(0x100, &e);
        let map = |domid, nr_entries| XenForeignMemoryMap { domid, _pad: [0; 3], map: XenMemoryMap { nr_entries, _pad: 0, buffer: 0x100 } };
        c.put(0, &map(DomId(1), 2));
        assert_eq!(memory_op(&mut c, XENMEM_SET_MEMORY_MAP, 0), Outcome::Return(0));
        assert_eq!(c.dom(1).memory_map, [MapEntry { addr: 0, size: 0x9f000, r#type: 1 }, MapEntry { addr: 0x10_0000, size: 0x100_0000, r#type: 1 }]);
        c.put(0, &map(DOMID_SELF, 1025));
        assert_eq!(memory_op(&mut c, XENMEM_SET_MEMORY_MAP, 0), Outcome::err(Errno::EINVAL));
        c.put(0, &map(DomId(9), 1));
        assert_eq!(memory_op(&mut c, XENMEM_SET_MEMORY_MAP, 0), Outcome::err(Errno::ESRCH));
        c.put(0, &XenForeignMemoryMap { map: XenMemoryMap { nr_entries: 1, _pad: 0, buffer: 0xff8 }, ..map(DOMID_SELF, 1) });
        assert_eq!(memory_op(&mut c, XENMEM_SET_MEMORY_MAP, 0), Outcome::err(Errno::EFAULT));
        let mut u = FakeCaller::unprivileged(0x1000);
        u.put(0x100, &e);
        u.put(0, &map(DomId(0), 2));
        assert_eq!(memory_op(&mut u, XENMEM_SET_MEMORY_MAP, 0), Outcome::err(Errno::EPERM));
        u.put(0, &map(DOMID_SELF, 1));
        assert_eq!(memory_op(&mut u, XENMEM_SET_MEMORY_MAP, 0), Outcome::Return(0), "its own map");
        assert_eq!(u.dom(1).memory_map.len(), 1);
    }

    #[test]
    fn pod_targets_report_counts_without_a_pod_cache() {
        let mut c = FakeCaller::new(0x100);
        c.put(0, &XenPodTarget { target_pages: 500, domid: DOMID_SELF, ..Default::default() });
        assert_eq!(memory_op(&mut c, XENMEM_SET_POD_TARGET, 0), Outcome::Return(0));
        let t: XenPodTarget = c.get(0);
        assert_eq!((t.tot_pages, t.pod_cache_pages, t.pod_entries), (256, 0, 0));
        c.put(0, &XenPodTarget { target_pages: 5000, domid: DOMID_SELF, ..Default::default() });
        assert_eq!(memory_op(&mut c, XENMEM_SET_POD_TARGET, 0), Outcome::err(Errno::EINVAL), "above max_pages");
        assert_eq!(memory_op(&mut c, XENMEM_GET_POD_TARGET, 0), Outcome::Return(0));
        c.put(0, &XenPodTarget { domid: DomId(9), ..Default::default() });
        assert_eq!(memory_op(&mut c, XENMEM_GET_POD_TARGET, 0), Outcome::err(Errno::ESRCH));
        let mut u = FakeCaller::unprivileged(0x100);
        u.put(0, &XenPodTarget { domid: DOMID_SELF, ..Default::default() });
        assert_eq!(memory_op(&mut u, XENMEM_GET_POD_TARGET, 0), Outcome::err(Errno::EPERM));
    }

    #[test]
    fn claims_are_checked_and_cancelling_succeeds() {
        let mut c = FakeCaller::new(0x100);
        let claim = |c: &mut FakeCaller, r: XenMemoryReservation| {
            c.put(0, &r);
            memory_op(c, XENMEM_CLAIM_PAGES, 0)
        };
        assert_eq!(claim(&mut c, res(0x80, 0, 0, DomId(0))), Outcome::err(Errno::EINVAL));
        assert_eq!(claim(&mut c, res(0, 0, 1, DomId(0))), Outcome::err(Errno::EINVAL));
        assert_eq!(claim(&mut c, res(0, 0, 0, DOMID_SELF)), Outcome::err(Errno::EINVAL));
        assert_eq!(claim(&mut c, res(0, 0, 0, DomId(9))), Outcome::err(Errno::EINVAL));
        assert_eq!(claim(&mut c, res(0, 0, 0, DomId(1))), Outcome::Return(0));
        assert_eq!(claim(&mut c, res(0, 256, 0, DomId(1))), Outcome::err(Errno::EINVAL), "not above tot_pages");
        assert_eq!(claim(&mut c, res(0, 1025, 0, DomId(1))), Outcome::err(Errno::EINVAL), "above max_pages");
        c.dom(1).max_pages = 1 << 20;
        assert_eq!(claim(&mut c, res(0, 40000, 0, DomId(1))), Outcome::err(Errno::ENOMEM), "above the free pages");
        assert_eq!(claim(&mut c, res(0, 1000, 0, DomId(1))), Outcome::err(Errno::ENOSYS));
        let mut u = FakeCaller::unprivileged(0x100);
        assert_eq!(claim(&mut u, res(0, 0, 0, DomId(1))), Outcome::err(Errno::EPERM));
    }

    #[test]
    fn vnuma_and_reserved_memory_answer_as_xen_without_them() {
        let mut c = FakeCaller::new(0x100);
        c.put(0, &XenVnumaTopologyInfo { domid: DOMID_SELF, pad: 1, ..Default::default() });
        assert_eq!(memory_op(&mut c, XENMEM_GET_VNUMAINFO, 0), Outcome::err(Errno::EINVAL));
        c.put(0, &XenVnumaTopologyInfo { domid: DomId(9), ..Default::default() });
        assert_eq!(memory_op(&mut c, XENMEM_GET_VNUMAINFO, 0), Outcome::err(Errno::ESRCH));
        c.put(0, &XenVnumaTopologyInfo { domid: DOMID_SELF, ..Default::default() });
        assert_eq!(memory_op(&mut c, XENMEM_GET_VNUMAINFO, 0), Outcome::err(Errno::EOPNOTSUPP));
        assert_eq!(memory_op(&mut c, XENMEM_GET_VNUMAINFO | (1 << 6), 0), Outcome::err(Errno::EINVAL));
        c.put(0, &XenReservedDeviceMemoryMap { flags: 2, nr_entries: 5, ..Default::default() });
        assert_eq!(memory_op(&mut c, XENMEM_RESERVED_DEVICE_MEMORY_MAP, 0), Outcome::err(Errno::EINVAL));
        c.put(0, &XenReservedDeviceMemoryMap { flags: XENMEM_RDM_ALL, nr_entries: 5, ..Default::default() });
        assert_eq!(memory_op(&mut c, XENMEM_RESERVED_DEVICE_MEMORY_MAP, 0), Outcome::Return(0));
        assert_eq!(c.get::<XenReservedDeviceMemoryMap>(0).nr_entries, 0);
    }

    #[test]
    fn acquire_resource_checks_in_xens_order() {
        let mut c = FakeCaller::new(0x100);
        let acq = |c: &mut FakeCaller, x: XenMemAcquireResource, start: u64| {
            c.put(0, &x);
            memory_op(c, XENMEM_ACQUIRE_RESOURCE | (start << 6), 0)
        };
        let x = XenMemAcquireResource { domid: DomId(1), ..Default::default() };
        assert_eq!(acq(&mut c, XenMemAcquireResource { pad: 1, ..x }, 0), Outcome::err(Errno::EINVAL));
        assert_eq!(acq(&mut c, XenMemAcquireResource { frame: 1 << 32, ..x }, 0), Outcome::err(Errno::EINVAL));
        assert_eq!(acq(&mut c, XenMemAcquireResource { frame: 0xffff_ffff, nr_frames: 1, ..x }, 0), Outcome::err(Errno::EINVAL));
        assert_eq!(acq(&mut c, XenMemAcquireResource { domid: DOMID_SELF, ..x }, 0), Outcome::err(Errno::ESRCH));
        assert_eq!(acq(&mut c, XenMemAcquireResource { domid: DomId(0), ..x }, 0), Outcome::err(Errno::EPERM));
        // The ioreq server resource of a 2-vCPU domain: 2 frames, none to map.
        assert_eq!(acq(&mut c, x, 0), Outcome::Return(0));
        assert_eq!(c.get::<XenMemAcquireResource>(0).nr_frames, 2);
        assert_eq!(acq(&mut c, x, 1), Outcome::err(Errno::EINVAL), "a size query takes no start");
        assert_eq!(acq(&mut c, XenMemAcquireResource { nr_frames: 1, frame_list: 0x80, ..x }, 0), Outcome::err(Errno::ENOENT));
        assert_eq!(acq(&mut c, XenMemAcquireResource { nr_frames: 1, frame_list: 0x80, ..x }, 1), Outcome::err(Errno::EINVAL));
        let vmtrace = XenMemAcquireResource { r#type: XENMEM_RESOURCE_VMTRACE_BUF, ..x };
        assert_eq!(acq(&mut c, vmtrace, 0), Outcome::err(Errno::EINVAL));
        let unknown = XenMemAcquireResource { r#type: 7, ..x };
        assert_eq!(acq(&mut c, unknown, 0), Outcome::Return(0));
        assert_eq!(c.get::<XenMemAcquireResource>(0).nr_frames, 0xffff_ffa1, "Xen 4.17's (unsigned)-EOPNOTSUPP");
        assert_eq!(acq(&mut c, XenMemAcquireResource { nr_frames: 1, frame_list: 0x80, ..unknown }, 0), Outcome::err(Errno::EOPNOTSUPP));
        let mut u = FakeCaller::unprivileged(0x100);
        assert_eq!(acq(&mut u, x, 0), Outcome::err(Errno::EACCES));
    }

    #[test]
    fn access_op_needs_a_monitor_ring_after_its_checks() {
        let mut c = FakeCaller::new(0x100);
        let op = |c: &mut FakeCaller, domid: DomId| {
            c.put(0, &XenMemAccessOp { domid, ..Default::default() });
            memory_op(c, XENMEM_ACCESS_OP, 0)
        };
        assert_eq!(op(&mut c, DomId(9)), Outcome::err(Errno::ESRCH));
        assert_eq!(op(&mut c, DomId(0)), Outcome::err(Errno::EPERM));
        assert_eq!(op(&mut c, DomId(1)), Outcome::err(Errno::ENODEV));
        c.vmx = false;
        assert_eq!(op(&mut c, DomId(1)), Outcome::err(Errno::EINVAL), "mem_access is VMX only");
        let mut u = FakeCaller::unprivileged(0x100);
        assert_eq!(op(&mut u, DomId(0)), Outcome::err(Errno::EPERM));
    }

    #[test]
    fn machphys_mfn_list_has_no_m2p_extents() {
        let mut c = FakeCaller::new(0x100);
        c.put(0, &XenMachphysMfnList { max_extents: 8, _pad0: 0, extent_start: 0x80, nr_extents: 99, _pad1: 0 });
        assert_eq!(memory_op(&mut c, XENMEM_MACHPHYS_MFN_LIST, 0), Outcome::Return(0));
        assert_eq!(c.get::<XenMachphysMfnList>(0).nr_extents, 0);
        assert_eq!(memory_op(&mut c, XENMEM_MACHPHYS_MFN_LIST, 0xf0), Outcome::err(Errno::EFAULT));
        assert_eq!(memory_op(&mut c, XENMEM_MACHPHYS_COMPAT_MFN_LIST, 0), Outcome::err(Errno::EOPNOTSUPP));
    }
}
