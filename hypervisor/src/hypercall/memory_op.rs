//! `HYPERVISOR_memory_op` (memory.h). The command's low 6 bits are the op;
//! the bits above are where a reservation op resumes (`start_extent`, Xen's
//! continuation encoding).
//!
//! | op | here |
//! |---|---|
//! | `XENMEM_increase_reservation` (0) | frames owned but unmapped (a translated guest's) |
//! | `XENMEM_decrease_reservation` (1) | gpfns unmapped and freed |
//! | `XENMEM_populate_physmap` (6) | zeroed frames mapped at the gpfns |
//! | (all three) | return the extents done; like Xen, a bad argument pointer, unknown or forbidden domain returns `start_extent`; order > 9 does nothing; preempted once the exit's budget (`entry::Budget`: 256 pages) is spent, at least one extent a call |
//! | `XENMEM_maximum_ram_page` (2) | one past the highest machine frame |
//! | `XENMEM_current_reservation` (3), `XENMEM_maximum_reservation` (4), `XENMEM_maximum_gpfn` (14) | of a domid (`DOMID_SELF`; others need privilege: -EPERM; none: -ESRCH) |
//! | `XENMEM_memory_map` (9) | the domain's e820 map, up to `nr_entries` |
//! | `XENMEM_add_to_physmap` (7) | spaces `shared_info` (idx 0), `gmfn`, `grant_table` (shared frame `idx`, the table grown to it; status frames -EINVAL: version 1); others -EINVAL |
//! | `XENMEM_remove_from_physmap` (15) | the gpfn's frame freed (unless another domain maps it: `mm::foreign`), a foreign mapping there dropped; a grant mapping -EINVAL (only the grant unmap removes it); -ENOENT if nothing is there |
//! | `XENMEM_get_sharing_freed_pages` (18), `..._shared_pages` (19) | 0: no page sharing |
//! | `XENMEM_add_to_physmap_batch` (23) | `physmap_batch` (foreign mappings included) |
//! | exchange, machphys_mfn_list, set_memory_map, PoD targets, claim_pages, get_vnumainfo, reserved_device_memory_map, acquire_resource, access_op | `memory_admin` |
//! | (ops without extents) | a start_extent in the command is -EINVAL (x86's arch ops: -ENOSYS); add_to_physmap's above 0xffff -EDOM |
//! | other (machine_memory_map, machphys_mapping: not for HVM; paging_op, sharing_op: not built) | -ENOSYS |
//!
//! A 32-bit caller passes Xen's compat layouts (4-byte handles, pfns and
//! longs); they are read into the native ones here.

use abi::errno::Errno;
use abi::memory::*;
use abi::xen::DomId;

use abi::zerocopy::FromZeros;

use super::memory_admin as admin;
use super::{Caller, DomainOps, Outcome, read_arg, write_arg};

const MEMOP_EXTENT_SHIFT: u64 = 6;
const MEMOP_CMD_MASK: u64 = (1 << MEMOP_EXTENT_SHIFT) - 1;
/// Largest extent order any domain may ask for (Xen's domU default).
const MAX_ORDER: u32 = 9;

pub fn memory_op(caller: &mut impl Caller, cmd: u64, arg: u64) -> Outcome {
    let op = cmd & MEMOP_CMD_MASK;
    let start = cmd >> MEMOP_EXTENT_SHIFT;
    match op {
        XENMEM_INCREASE_RESERVATION | XENMEM_DECREASE_RESERVATION | XENMEM_POPULATE_PHYSMAP => {
            reservation(caller, op, start, arg)
        }
        // The size of an add_to_physmap range is 16 bits (Xen's -EDOM check).
        XENMEM_ADD_TO_PHYSMAP if start > 0xffff => Outcome::err(Errno::EDOM),
        XENMEM_ADD_TO_PHYSMAP => add_to_physmap(caller, arg),
        XENMEM_ADD_TO_PHYSMAP_BATCH => super::physmap_batch::add_to_physmap_batch(caller, start, arg),
        XENMEM_ACQUIRE_RESOURCE => admin::acquire_resource(caller, start, arg),
        // mem_access keeps its own progress in the command's upper bits.
        XENMEM_ACCESS_OP => admin::access_op(caller, arg),
        // x86's arch_memory_op matches the whole command: with a start
        // extent these are unknown.
        XENMEM_MEMORY_MAP
        | XENMEM_SET_MEMORY_MAP
        | XENMEM_SET_POD_TARGET
        | XENMEM_GET_POD_TARGET
        | XENMEM_MACHPHYS_MFN_LIST
        | XENMEM_MACHPHYS_COMPAT_MFN_LIST
        | XENMEM_GET_SHARING_FREED_PAGES
        | XENMEM_GET_SHARING_SHARED_PAGES
            if start != 0 =>
        {
            Outcome::err(Errno::ENOSYS)
        }
        // The other ops without extents take no start_extent.
        _ if start != 0 => Outcome::err(Errno::EINVAL),
        XENMEM_EXCHANGE => admin::exchange(caller, arg),
        XENMEM_MACHPHYS_MFN_LIST => admin::machphys_mfn_list(caller, arg),
        // No 32-bit PV guests, so no compat M2P (Xen without opt_pv32).
        XENMEM_MACHPHYS_COMPAT_MFN_LIST => Outcome::err(Errno::EOPNOTSUPP),
        XENMEM_SET_MEMORY_MAP => admin::set_memory_map(caller, arg),
        XENMEM_SET_POD_TARGET | XENMEM_GET_POD_TARGET => admin::pod_target(caller, op, arg),
        XENMEM_CLAIM_PAGES => admin::claim_pages(caller, arg),
        XENMEM_GET_VNUMAINFO => admin::get_vnumainfo(caller, arg),
        XENMEM_RESERVED_DEVICE_MEMORY_MAP => admin::reserved_device_memory_map(caller, arg),
        // No page sharing: nothing freed, nothing shared.
        XENMEM_GET_SHARING_FREED_PAGES | XENMEM_GET_SHARING_SHARED_PAGES => Outcome::Return(0),
        XENMEM_MAXIMUM_RAM_PAGE => Outcome::Return(caller.machine().max_mfn),
        XENMEM_CURRENT_RESERVATION | XENMEM_MAXIMUM_RESERVATION | XENMEM_MAXIMUM_GPFN => {
            let domid: DomId = match read_arg(caller, arg) {
                Ok(d) => d,
                Err(e) => return Outcome::err(e),
            };
            match target(caller, domid) {
                Ok(d) => Outcome::Return(match op {
                    XENMEM_CURRENT_RESERVATION => d.tot_pages(),
                    XENMEM_MAXIMUM_RESERVATION => d.max_pages(),
                    _ => d.max_gpfn(),
                }),
                Err(e) => Outcome::err(e),
            }
        }
        XENMEM_MEMORY_MAP => memory_map(caller, arg),
        XENMEM_REMOVE_FROM_PHYSMAP => {
            let r = if caller.compat() {
                read_arg::<CompatRemoveFromPhysmap>(caller, arg).map(|c| (c.domid, u64::from(c.gpfn)))
            } else {
                read_arg::<XenRemoveFromPhysmap>(caller, arg).map(|r| (r.domid, r.gpfn))
            };
            let (domid, gpfn) = match r {
                Ok(r) => r,
                Err(e) => return Outcome::err(e),
            };
            match target(caller, domid).and_then(|d| d.remove(gpfn)) {
                Ok(()) => Outcome::Return(0),
                Err(e) => Outcome::err(e),
            }
        }
        _ => Outcome::err(Errno::ENOSYS),
    }
}

/// A reservation in the native layout, whatever the caller's mode.
fn read_reservation(caller: &impl Caller, arg: u64) -> Result<XenMemoryReservation, Errno> {
    if !caller.compat() {
        return read_arg(caller, arg);
    }
    let c: CompatMemoryReservation = read_arg(caller, arg)?;
    let mut r = XenMemoryReservation::new_zeroed();
    (r.extent_start, r.nr_extents, r.extent_order, r.mem_flags, r.domid) =
        (c.extent_start.into(), c.nr_extents.into(), c.extent_order, c.mem_flags, c.domid);
    Ok(r)
}

/// Entry `i` of a guest array of pfns (8 bytes each, 4 for a 32-bit caller).
fn read_pfn(caller: &impl Caller, array: u64, i: u64) -> Result<u64, Errno> {
    if caller.compat() {
        read_arg::<u32>(caller, array.wrapping_add(i * 4)).map(u64::from)
    } else {
        read_arg::<u64>(caller, array.wrapping_add(i * 8))
    }
}

/// The domain a memory op names: itself, or another with privilege.
pub(super) fn target(caller: &mut impl Caller, domid: DomId) -> Result<&mut dyn DomainOps, Errno> {
    super::target_domain(caller, domid.0)
}

fn reservation(caller: &mut impl Caller, op: u64, start: u64, arg: u64) -> Outcome {
    let Ok(r) = read_reservation(caller, arg) else { return Outcome::Return(start) };
    if r.nr_extents > u64::from(u32::MAX) >> MEMOP_EXTENT_SHIFT || start >= r.nr_extents {
        return Outcome::Return(start);
    }
    if target(caller, r.domid).is_err() || r.extent_order > MAX_ORDER {
        return Outcome::Return(start);
    }
    // The exit's budget pays for this many extents (a page each) now.
    let end = start + caller.budget().take(r.nr_extents - start, 1 << r.extent_order);
    let mut done = start;
    while done < end {
        let step = if op == XENMEM_INCREASE_RESERVATION {
            match target(caller, r.domid) {
                Ok(d) => d.reserve(r.extent_order),
                Err(e) => Err(e),
            }
        } else {
            match read_pfn(caller, r.extent_start, done) {
                Err(e) => Err(e),
                Ok(gpfn) => match target(caller, r.domid) {
                    Err(e) => Err(e),
                    Ok(d) if op == XENMEM_POPULATE_PHYSMAP => d.populate(gpfn, r.extent_order),
                    Ok(d) => (0..1u64 << r.extent_order).try_for_each(|i| d.remove(gpfn.wrapping_add(i))),
                },
            }
        };
        if step.is_err() {
            return Outcome::Return(done);
        }
        done += 1;
    }
    if done < r.nr_extents {
        Outcome::Preempted(op | (done << MEMOP_EXTENT_SHIFT))
    } else {
        Outcome::Return(done)
    }
}

fn memory_map(caller: &mut impl Caller, arg: u64) -> Outcome {
    let map = if caller.compat() {
        read_arg::<CompatMemoryMap>(caller, arg).map(|c| (c.nr_entries, u64::from(c.buffer)))
    } else {
        read_arg::<XenMemoryMap>(caller, arg).map(|m| (m.nr_entries, m.buffer))
    };
    let (nr_entries, buffer) = match map {
        Ok(m) => m,
        Err(e) => return Outcome::err(e),
    };
    let entries: alloc::vec::Vec<E820Entry> = caller
        .this()
        .memory_map()
        .iter()
        .map(|e| E820Entry { addr: e.addr, size: e.size, r#type: e.r#type })
        .collect();
    if entries.is_empty() {
        return Outcome::err(Errno::ENOSYS);
    }
    let n = (nr_entries as usize).min(entries.len());
    for (i, entry) in entries[..n].iter().enumerate() {
        let at = buffer.wrapping_add((i * core::mem::size_of::<E820Entry>()) as u64);
        if let Err(e) = write_arg(caller, at, entry) {
            return Outcome::err(e);
        }
    }
    // nr_entries is the first field in both layouts.
    match write_arg(caller, arg, &crate::bits::low32_usize(n)) {
        Ok(()) => Outcome::Return(0),
        Err(e) => Outcome::err(e),
    }
}

fn add_to_physmap(caller: &mut impl Caller, arg: u64) -> Outcome {
    let a = if caller.compat() {
        read_arg::<CompatAddToPhysmap>(caller, arg).map(|c| XenAddToPhysmap {
            domid: c.domid,
            size: c.size,
            space: c.space,
            idx: c.idx.into(),
            gpfn: c.gpfn.into(),
        })
    } else {
        read_arg::<XenAddToPhysmap>(caller, arg)
    };
    let a = match a {
        Ok(a) => a,
        Err(e) => return Outcome::err(e),
    };
    // Foreign mappings go through add_to_physmap_batch only.
    if a.space == XENMAPSPACE_GMFN_FOREIGN {
        return Outcome::err(Errno::ENOSYS);
    }
    // xatp_permission_check: device MMIO only into the hardware domain itself.
    if a.space == abi::memory::XENMAPSPACE_DEV_MMIO {
        let own = a.domid == abi::xen::DOMID_SELF || a.domid.0 == caller.domid();
        if caller.domain(a.domid.0).is_none() {
            return Outcome::err(Errno::ESRCH);
        }
        if !(own && caller.privileged()) {
            return Outcome::err(Errno::EACCES);
        }
    }
    match add_to_physmap_one(caller, &a) {
        Ok(()) => Outcome::Return(0),
        Err(e) => Outcome::err(e),
    }
}

/// Maps one page of `a.space` (not `gmfn_foreign`) into `a.domid`'s
/// physmap, for add_to_physmap and each entry of a batch. Mapping its own
/// shared info latches the caller's shared-info layout.
pub(super) fn add_to_physmap_one(caller: &mut impl Caller, a: &XenAddToPhysmap) -> Result<(), Errno> {
    let (me, compat) = (caller.domid(), caller.compat());
    let d = target(caller, a.domid)?;
    if a.space == XENMAPSPACE_SHARED_INFO && d.id() == me {
        d.latch_shinfo_compat(compat);
    }
    match a.space {
        XENMAPSPACE_SHARED_INFO if a.idx == 0 => d.map_shared_info(a.gpfn),
        XENMAPSPACE_GMFN => d.move_frame(a.idx, a.gpfn),
        XENMAPSPACE_GRANT_TABLE => super::grant_table::map_frame(d, a.idx, a.gpfn),
        _ => Err(Errno::EINVAL),
    }
}

#[cfg(test)]
mod tests {
    use super::super::fake::FakeCaller;
    use super::*;
    use abi::xen::DOMID_SELF;

    fn res(extent_start: u64, nr_extents: u64, extent_order: u32, domid: DomId) -> XenMemoryReservation {
        let mut r = XenMemoryReservation::new_zeroed();
        (r.extent_start, r.nr_extents, r.extent_order, r.domid) = (extent_start, nr_extents, extent_order, domid);
        r
    }

    #[test]
    fn populate_maps_every_listed_gpfn_and_returns_the_count() {
        let mut c = FakeCaller::new(4096);
        c.put(0, &res(1024, 3, 0, DOMID_SELF));
        for (i, gpfn) in [0x1000u64, 0x1001, 0x2000].iter().enumerate() {
            c.put(1024 + i * 8, gpfn);
        }
        assert_eq!(memory_op(&mut c, XENMEM_POPULATE_PHYSMAP, 0), Outcome::Return(3));
        assert!(c.dom(0).gfns.contains(&0x2000));
    }

    #[test]
    fn populate_stops_at_the_first_failure_and_reports_progress() {
        let mut c = FakeCaller::new(4096);
        c.put(0, &res(1024, 3, 0, DOMID_SELF));
        for (i, gpfn) in [0x1000u64, 0x100, 0x2000].iter().enumerate() {
            c.put(1024 + i * 8, gpfn);
        }
        assert_eq!(memory_op(&mut c, XENMEM_POPULATE_PHYSMAP, 0), Outcome::Return(1), "0x100 is already populated");
    }

    #[test]
    fn a_bad_reservation_pointer_returns_start_extent_as_xen_does() {
        let mut c = FakeCaller::new(64);
        assert_eq!(memory_op(&mut c, XENMEM_POPULATE_PHYSMAP, 1 << 40), Outcome::Return(0));
        assert_eq!(memory_op(&mut c, XENMEM_POPULATE_PHYSMAP | (5 << 6), 1 << 40), Outcome::Return(5));
    }

    #[test]
    fn a_long_reservation_is_preempted_with_its_progress_encoded() {
        let mut c = FakeCaller::new(8192);
        c.dom(0).max_pages = 1 << 20;
        c.put(0, &res(0, 300, 0, DOMID_SELF));
        assert_eq!(memory_op(&mut c, XENMEM_INCREASE_RESERVATION, 0), Outcome::Preempted(256 << 6));
        c.next_exit();
        assert_eq!(memory_op(&mut c, 256 << 6, 0), Outcome::Return(300));
        assert_eq!(c.dom(0).reserved, 300);
    }

    #[test]
    fn decrease_frees_whole_extents() {
        let mut c = FakeCaller::new(4096);
        c.put(0, &res(1024, 1, 1, DOMID_SELF));
        c.put(1024, &0x100u64);
        assert_eq!(memory_op(&mut c, XENMEM_DECREASE_RESERVATION, 0), Outcome::Return(1));
        assert!(!c.dom(0).gfns.contains(&0x101));
    }

    #[test]
    fn reservations_of_another_domain_need_privilege() {
        let mut c = FakeCaller::unprivileged(4096);
        c.put(0, &res(1024, 1, 0, DomId(0)));
        c.put(1024, &0x5000u64);
        assert_eq!(memory_op(&mut c, XENMEM_POPULATE_PHYSMAP, 0), Outcome::Return(0));
        assert!(!c.dom(0).gfns.contains(&0x5000));
    }

    #[test]
    fn reservation_queries() {
        let mut c = FakeCaller::new(64);
        c.put(0, &DOMID_SELF);
        assert_eq!(memory_op(&mut c, XENMEM_CURRENT_RESERVATION, 0), Outcome::Return(256));
        assert_eq!(memory_op(&mut c, XENMEM_MAXIMUM_RESERVATION, 0), Outcome::Return(1024));
        assert_eq!(memory_op(&mut c, XENMEM_MAXIMUM_GPFN, 0), Outcome::Return(0x1ff));
        c.put(0, &DomId(42));
        assert_eq!(memory_op(&mut c, XENMEM_CURRENT_RESERVATION, 0), Outcome::err(Errno::ESRCH));
        assert_eq!(memory_op(&mut c, XENMEM_CURRENT_RESERVATION, 63), Outcome::err(Errno::EFAULT));
        assert_eq!(memory_op(&mut c, XENMEM_MAXIMUM_RAM_PAGE, 0), Outcome::Return(0x10000));
        let mut u = FakeCaller::unprivileged(64);
        u.put(0, &DomId(0));
        assert_eq!(memory_op(&mut u, XENMEM_CURRENT_RESERVATION, 0), Outcome::err(Errno::EPERM));
    }

    #[test]
    fn memory_map_copies_at_most_nr_entries() {
        let mut c = FakeCaller::new(4096);
        c.dom(0).memory_map.push(crate::domain::object::MapEntry { addr: 0xfee0_0000, size: 0x1000, r#type: 2 });
        c.put(0, &XenMemoryMap { nr_entries: 1, _pad: 0, buffer: 512 });
        assert_eq!(memory_op(&mut c, XENMEM_MEMORY_MAP, 0), Outcome::Return(0));
        assert_eq!(c.get::<XenMemoryMap>(0).nr_entries, 1);
        let e: E820Entry = c.get(512);
        assert_eq!({ e.addr }, 0x10_0000);
        c.put(0, &XenMemoryMap { nr_entries: 8, _pad: 0, buffer: 512 });
        assert_eq!(memory_op(&mut c, XENMEM_MEMORY_MAP, 0), Outcome::Return(0));
        assert_eq!(c.get::<XenMemoryMap>(0).nr_entries, 2);
        c.put(0, &XenMemoryMap { nr_entries: 8, _pad: 0, buffer: 4090 });
        assert_eq!(memory_op(&mut c, XENMEM_MEMORY_MAP, 0), Outcome::err(Errno::EFAULT));
    }

    #[test]
    fn shared_info_maps_only_index_zero() {
        let mut c = FakeCaller::new(64);
        c.put(0, &XenAddToPhysmap { domid: DOMID_SELF, size: 0, space: XENMAPSPACE_SHARED_INFO, idx: 0, gpfn: 0x150 });
        assert_eq!(memory_op(&mut c, XENMEM_ADD_TO_PHYSMAP, 0), Outcome::Return(0));
        assert_eq!(c.dom(0).shared_info_gfn, Some(0x150));
        c.put(0, &XenAddToPhysmap { domid: DOMID_SELF, size: 0, space: XENMAPSPACE_SHARED_INFO, idx: 1, gpfn: 0x150 });
        assert_eq!(memory_op(&mut c, XENMEM_ADD_TO_PHYSMAP, 0), Outcome::err(Errno::EINVAL));
        c.put(0, &XenAddToPhysmap { domid: DOMID_SELF, size: 0, space: 99, idx: 0, gpfn: 0x150 });
        assert_eq!(memory_op(&mut c, XENMEM_ADD_TO_PHYSMAP, 0), Outcome::err(Errno::EINVAL));
    }

    #[test]
    fn a_32_bit_caller_uses_the_compat_layouts() {
        let mut c = FakeCaller::new(4096);
        c.compat = true;
        let r = CompatMemoryReservation { extent_start: 1024, nr_extents: 2, extent_order: 0, mem_flags: 0, domid: DOMID_SELF, _pad: 0 };
        c.put(0, &r);
        c.put(1024, &0x3000u32);
        c.put(1028, &0x3001u32);
        assert_eq!(memory_op(&mut c, XENMEM_POPULATE_PHYSMAP, 0), Outcome::Return(2));
        assert!(c.dom(0).gfns.contains(&0x3001));
        c.put(0, &CompatAddToPhysmap { domid: DOMID_SELF, size: 0, space: XENMAPSPACE_SHARED_INFO, idx: 0, gpfn: 0x3001 });
        assert_eq!(memory_op(&mut c, XENMEM_ADD_TO_PHYSMAP, 0), Outcome::Return(0));
        assert_eq!(c.dom(0).shared_info_gfn, Some(0x3001));
        c.put(0, &CompatMemoryMap { nr_entries: 4, buffer: 512 });
        assert_eq!(memory_op(&mut c, XENMEM_MEMORY_MAP, 0), Outcome::Return(0));
        assert_eq!(c.get::<CompatMemoryMap>(0).nr_entries, 1);
    }

    #[test]
    fn unknown_ops_are_enosys() {
        let mut c = FakeCaller::new(64);
        assert_eq!(memory_op(&mut c, 63, 0), Outcome::err(Errno::ENOSYS));
        assert_eq!(memory_op(&mut c, XENMEM_MACHINE_MEMORY_MAP, 0), Outcome::err(Errno::ENOSYS), "not for HVM");
        assert_eq!(memory_op(&mut c, XENMEM_PAGING_OP, 0), Outcome::err(Errno::ENOSYS), "not built");
    }

    #[test]
    fn arch_ops_with_a_start_extent_are_unknown() {
        let mut c = FakeCaller::new(64);
        for op in [XENMEM_MEMORY_MAP, XENMEM_SET_POD_TARGET, XENMEM_GET_SHARING_FREED_PAGES] {
            assert_eq!(memory_op(&mut c, op | (1 << 6), 0), Outcome::err(Errno::ENOSYS), "op {op}");
        }
        for op in [XENMEM_EXCHANGE, XENMEM_CLAIM_PAGES, XENMEM_MAXIMUM_GPFN] {
            assert_eq!(memory_op(&mut c, op | (1 << 6), 0), Outcome::err(Errno::EINVAL), "op {op}");
        }
    }
}
