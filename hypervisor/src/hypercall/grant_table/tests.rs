//! Host tests of the grant-table logic over two fake domains: 0 (the
//! caller unless a test says otherwise) and 1.

use super::*;
use crate::domain::grant::MAX_GRANT_FRAMES;
use crate::hypercall::fake::{FakeCaller, fake_mfn};
use abi::xen::DomId;

const ARG: usize = 0;
const LIST: usize = 1024;

fn call(c: &mut FakeCaller, cmd: u64, count: u64) -> Outcome {
    grant_table_op(c, cmd, ARG as u64, count)
}

fn map_op(dom: u16, gref: u32, flags: u32, host_gfn: u64) -> GnttabMapGrantRef {
    GnttabMapGrantRef { host_addr: host_gfn << 12, flags, r#ref: gref, dom, status: 0x77, handle: 0xdead, dev_bus_addr: 0 }
}

fn map(c: &mut FakeCaller, op: GnttabMapGrantRef) -> GnttabMapGrantRef {
    c.put(ARG, &op);
    assert_eq!(call(c, GNTTABOP_MAP_GRANT_REF, 1), Outcome::Return(0));
    c.get(ARG)
}

fn unmap(c: &mut FakeCaller, handle: u32, host_gfn: u64) -> i16 {
    c.put(ARG, &GnttabUnmapGrantRef { host_addr: host_gfn << 12, dev_bus_addr: 0, handle, status: 0x77, _pad: 0 });
    assert_eq!(call(c, GNTTABOP_UNMAP_GRANT_REF, 1), Outcome::Return(0));
    c.get::<GnttabUnmapGrantRef>(ARG).status
}

fn copy_op(source: (u64, u16, u16), dest: (u64, u16, u16), len: u16, flags: u16) -> GnttabCopy {
    let ptr = |(u, domid, offset): (u64, u16, u16)| GnttabCopyPtr { u, domid, offset, _pad: 0 };
    GnttabCopy { source: ptr(source), dest: ptr(dest), len, flags, status: 0x77, _pad: 0 }
}

fn copy(c: &mut FakeCaller, op: GnttabCopy) -> i16 {
    c.put(ARG, &op);
    assert_eq!(call(c, GNTTABOP_COPY, 1), Outcome::Return(0));
    c.get::<GnttabCopy>(ARG).status
}

#[test]
fn commands_not_for_hvm_guests_are_enosys_and_negative_counts_einval() {
    let mut c = FakeCaller::new(4096);
    for cmd in [GNTTABOP_DUMP_TABLE, GNTTABOP_TRANSFER, GNTTABOP_UNMAP_AND_REPLACE, GNTTABOP_GET_STATUS_FRAMES, GNTTABOP_CACHE_FLUSH, 13, GNTTABOP_QUERY_SIZE | 1 << 12] {
        assert_eq!(call(&mut c, cmd, 1), Outcome::err(Errno::ENOSYS), "cmd {cmd:#x}");
    }
    assert_eq!(call(&mut c, GNTTABOP_COPY, 0x8000_0000), Outcome::err(Errno::EINVAL));
    assert_eq!(grant_table_op(&mut c, GNTTABOP_MAP_GRANT_REF, 1 << 40, 0), Outcome::Return(0), "nothing to do");
    assert_eq!(grant_table_op(&mut c, GNTTABOP_MAP_GRANT_REF, 1 << 40, 1), Outcome::err(Errno::EFAULT));
}

#[test]
fn query_size_reports_frames_and_domain_errors_in_status() {
    let mut c = FakeCaller::unprivileged(4096);
    let q = |dom: u16| GnttabQuerySize { dom, status: 0x77, ..Default::default() };
    c.put(ARG, &q(DOMID_SELF.0));
    assert_eq!(call(&mut c, GNTTABOP_QUERY_SIZE, 1), Outcome::Return(0));
    let r: GnttabQuerySize = c.get(ARG);
    assert_eq!((r.status, r.nr_frames, r.max_nr_frames), (GNTST_OKAY, 1, MAX_GRANT_FRAMES));
    for (dom, want) in [(0, GNTST_PERMISSION_DENIED), (42, GNTST_BAD_DOMAIN), (0x7ff2, GNTST_BAD_DOMAIN)] {
        c.put(ARG, &q(dom));
        assert_eq!(call(&mut c, GNTTABOP_QUERY_SIZE, 1), Outcome::Return(0));
        assert_eq!(c.get::<GnttabQuerySize>(ARG).status, want, "dom {dom}");
    }
    assert_eq!(call(&mut c, GNTTABOP_QUERY_SIZE, 2), Outcome::err(Errno::EINVAL));
    assert_eq!(call(&mut c, GNTTABOP_QUERY_SIZE, 0), Outcome::err(Errno::EINVAL));
    assert_eq!(grant_table_op(&mut c, GNTTABOP_QUERY_SIZE, 4090, 1), Outcome::err(Errno::EFAULT));
}

#[test]
fn setup_table_grows_the_table_and_lists_where_frames_are_mapped() {
    let mut c = FakeCaller::new(4096);
    assert_eq!(map_frame(c.dom(0), 1, 0x180), Ok(()), "add_to_physmap grows the table to frame 1");
    let t = |dom: u16, nr_frames: u32| GnttabSetupTable { dom, nr_frames, status: 0x77, frame_list: LIST as u64, ..Default::default() };
    c.put(ARG, &t(DOMID_SELF.0, 3));
    assert_eq!(call(&mut c, GNTTABOP_SETUP_TABLE, 1), Outcome::Return(0));
    assert_eq!(c.get::<GnttabSetupTable>(ARG).status, GNTST_OKAY);
    assert_eq!(c.dom(0).grant_frames(), 3);
    assert_eq!([c.get::<u64>(LIST), c.get::<u64>(LIST + 8), c.get::<u64>(LIST + 16)], [INVALID_GFN, 0x180, INVALID_GFN]);

    c.put(ARG, &t(DOMID_SELF.0, MAX_GRANT_FRAMES + 1));
    assert_eq!(call(&mut c, GNTTABOP_SETUP_TABLE, 1), Outcome::Return(0));
    assert_eq!(c.get::<GnttabSetupTable>(ARG).status, GNTST_GENERAL_ERROR);
    c.put(ARG, &t(0x1234, 1));
    assert_eq!(call(&mut c, GNTTABOP_SETUP_TABLE, 1), Outcome::Return(0));
    assert_eq!(c.get::<GnttabSetupTable>(ARG).status, GNTST_BAD_DOMAIN);
    c.put(ARG, &GnttabSetupTable { frame_list: 4094, ..t(DOMID_SELF.0, 1) });
    assert_eq!(call(&mut c, GNTTABOP_SETUP_TABLE, 1), Outcome::Return(0));
    assert_eq!(c.get::<GnttabSetupTable>(ARG).status, GNTST_BAD_VIRT_ADDR);
    assert_eq!(call(&mut c, GNTTABOP_SETUP_TABLE, 0), Outcome::err(Errno::EINVAL));
}

#[test]
fn a_32_bit_setup_table_lists_32_bit_frames_and_ignores_count_0() {
    let mut c = FakeCaller::new(4096);
    c.compat = true;
    map_frame(c.dom(0), 0, 0x1a0).unwrap();
    c.put(ARG, &CompatGnttabSetupTable { dom: DOMID_SELF.0, nr_frames: 2, status: 0x77, frame_list: 1024, ..Default::default() });
    assert_eq!(call(&mut c, GNTTABOP_SETUP_TABLE, 0), Outcome::Return(0));
    assert_eq!(c.get::<CompatGnttabSetupTable>(ARG).status, 0x77, "count 0 does nothing");
    assert_eq!(call(&mut c, GNTTABOP_SETUP_TABLE, 2), Outcome::err(Errno::EINVAL));
    assert_eq!(call(&mut c, GNTTABOP_SETUP_TABLE, 1), Outcome::Return(0));
    assert_eq!(c.get::<CompatGnttabSetupTable>(ARG).status, GNTST_OKAY);
    assert_eq!([c.get::<u32>(LIST), c.get::<u32>(LIST + 4)], [0x1a0, u32::MAX]);
}

#[test]
fn versions_other_than_1_are_refused_and_the_version_is_written_back() {
    let mut c = FakeCaller::unprivileged(4096);
    for (version, want) in [(1, Outcome::Return(0)), (2, Outcome::err(Errno::ENOSYS)), (0, Outcome::err(Errno::EINVAL)), (3, Outcome::err(Errno::EINVAL))] {
        c.put(ARG, &GnttabSetVersion { version });
        assert_eq!(call(&mut c, GNTTABOP_SET_VERSION, 1), want, "version {version}");
        assert_eq!(c.get::<GnttabSetVersion>(ARG).version, 1);
    }
    c.put(ARG, &GnttabGetVersion { dom: DOMID_SELF.0, pad: 0, version: 0x77 });
    assert_eq!(call(&mut c, GNTTABOP_GET_VERSION, 1), Outcome::Return(0));
    assert_eq!(c.get::<GnttabGetVersion>(ARG).version, 1);
    c.put(ARG, &GnttabGetVersion { dom: 0, pad: 0, version: 0x77 });
    assert_eq!(call(&mut c, GNTTABOP_GET_VERSION, 1), Outcome::err(Errno::EPERM));
    c.put(ARG, &GnttabGetVersion { dom: 9, pad: 0, version: 0x77 });
    assert_eq!(call(&mut c, GNTTABOP_GET_VERSION, 1), Outcome::err(Errno::ESRCH));
    assert_eq!(grant_table_op(&mut c, GNTTABOP_SET_VERSION, 4094, 1), Outcome::err(Errno::EFAULT));
}

#[test]
fn add_to_physmap_grant_table_grows_moves_and_refuses_status_frames() {
    let mut c = FakeCaller::new(64);
    let d = c.dom(0);
    assert_eq!(map_frame(d, 0, 0x150), Ok(()));
    assert!(!d.gfns.contains(&0x150), "the RAM frame there was freed");
    assert_eq!(map_frame(d, 0, 0x151), Ok(()));
    assert_eq!((d.grant_frame_gfn(0), d.grant_frames()), (Some(0x151), 1), "moved, not grown");
    assert_eq!(map_frame(d, u64::from(MAX_GRANT_FRAMES) - 1, 0x160), Ok(()));
    assert_eq!(d.grant_frames(), MAX_GRANT_FRAMES);
    assert_eq!(map_frame(d, u64::from(MAX_GRANT_FRAMES), 0x161), Err(Errno::EINVAL));
    assert_eq!(map_frame(d, abi::memory::XENMAPIDX_GRANT_TABLE_STATUS, 0x161), Err(Errno::EINVAL));
    assert_eq!(map_frame(d, 1 << 32, 0x162), Ok(()), "Xen truncates the index to 32 bits: frame 0");
    assert_eq!(d.grant_frame_gfn(0), Some(0x162));
}

/// Domain 1 grants its gfn 0x120 to domain 0 as entry 10.
fn granted(flags: u16) -> FakeCaller {
    let mut c = FakeCaller::new(4096);
    c.dom(1).grant_to(10, GTF_PERMIT_ACCESS | flags, 0, 0x120);
    c
}

#[test]
fn map_grant_ref_maps_the_frame_and_marks_the_entry_until_unmapped() {
    let mut c = granted(0);
    let r = map(&mut c, map_op(1, 10, GNTMAP_HOST_MAP, 0x1000));
    assert_eq!(r.status, GNTST_OKAY);
    assert_eq!(r.handle, 0);
    assert_eq!(r.dev_bus_addr, fake_mfn(1, 0x120) << 12);
    assert_eq!(c.dom(0).grant_maps.get(&0x1000), Some(&(fake_mfn(1, 0x120), false)));
    assert_eq!(c.dom(1).grant_flags(10), GTF_PERMIT_ACCESS | GTF_READING | GTF_WRITING);

    let again = map(&mut c, map_op(1, 10, GNTMAP_HOST_MAP | GNTMAP_READONLY, 0x1001));
    assert_eq!((again.status, again.handle), (GNTST_OKAY, 1));
    assert_eq!(c.dom(1).grant.pin(10), PIN_HOST_WRITE + PIN_HOST_READ);

    assert_eq!(unmap(&mut c, 0, 0x1000), GNTST_OKAY);
    assert_eq!(c.dom(1).grant_flags(10), GTF_PERMIT_ACCESS | GTF_READING, "a reader is left");
    assert_eq!(unmap(&mut c, 0, 0x1000), GNTST_BAD_HANDLE, "handle 0 is free again");
    assert_eq!(unmap(&mut c, 1, 0x1000), GNTST_GENERAL_ERROR, "nothing mapped at that address");
    assert_eq!(unmap(&mut c, 1, 0), GNTST_OKAY, "address 0 leaves the mapping");
    assert_eq!(c.dom(0).grant.maptrack.len(), 2);
    assert_eq!(unmap(&mut c, 1, 0x1001), GNTST_OKAY);
    assert_eq!(c.dom(1).grant_flags(10), GTF_PERMIT_ACCESS);
    assert!(c.dom(1).grant.active.is_empty() && c.dom(0).grant.maptrack.is_empty() && c.dom(0).grant_maps.is_empty());
}

#[test]
fn a_read_only_grant_maps_only_read_only() {
    let mut c = granted(GTF_READONLY);
    assert_eq!(map(&mut c, map_op(1, 10, GNTMAP_HOST_MAP, 0x1000)).status, GNTST_GENERAL_ERROR);
    assert_eq!(c.dom(1).grant_flags(10), GTF_PERMIT_ACCESS | GTF_READONLY, "nothing left marked");
    let r = map(&mut c, map_op(1, 10, GNTMAP_HOST_MAP | GNTMAP_READONLY, 0x1000));
    assert_eq!(r.status, GNTST_OKAY);
    assert_eq!(c.dom(0).grant_maps.get(&0x1000), Some(&(fake_mfn(1, 0x120), true)), "mapped read-only");
    assert_eq!(c.dom(1).grant_flags(10), GTF_PERMIT_ACCESS | GTF_READONLY | GTF_READING);
}

#[test]
fn map_grant_ref_errors_in_xens_order() {
    let mut c = granted(0);
    let cases = [
        (map_op(1, 10, 0, 0x1000), GNTST_BAD_GNTREF),
        (map_op(1, 10, GNTMAP_READONLY, 0x1000), GNTST_BAD_GNTREF),
        (map_op(1, 10, GNTMAP_HOST_MAP | GNTMAP_DEVICE_MAP, 0x1000), GNTST_GENERAL_ERROR),
        (map_op(1, 10, GNTMAP_HOST_MAP | GNTMAP_CONTAINS_PTE, 0x1000), GNTST_GENERAL_ERROR),
        (map_op(9, 10, GNTMAP_HOST_MAP, 0x1000), GNTST_BAD_DOMAIN),
        (map_op(DOMID_SELF.0, 10, GNTMAP_HOST_MAP, 0x1000), GNTST_BAD_DOMAIN),
        (map_op(1, 512, GNTMAP_HOST_MAP, 0x1000), GNTST_BAD_GNTREF),
        (map_op(1, 11, GNTMAP_HOST_MAP, 0x1000), GNTST_GENERAL_ERROR),
        (map_op(1, 10, GNTMAP_HOST_MAP | 1 << 10, 0x1000), GNTST_GENERAL_ERROR),
        (map_op(1, 10, GNTMAP_HOST_MAP, 1 << 40), GNTST_GENERAL_ERROR),
    ];
    for (op, want) in cases {
        let r = map(&mut c, op);
        assert_eq!(r.status, want, "{op:?}");
        assert_eq!(r.handle, 0xdead, "no handle on failure");
    }
    assert_eq!(c.dom(1).grant_flags(10), GTF_PERMIT_ACCESS, "failures leave the entry as it was");
    assert!(c.dom(1).grant.active.is_empty());
    // Granted to another domain, or a frame that is not RAM.
    c.dom(1).grant_to(12, GTF_PERMIT_ACCESS, 5, 0x120);
    c.dom(1).grant_to(13, GTF_PERMIT_ACCESS, 0, 0x9999);
    assert_eq!(map(&mut c, map_op(1, 12, GNTMAP_HOST_MAP, 0x1000)).status, GNTST_GENERAL_ERROR);
    assert_eq!(map(&mut c, map_op(1, 13, GNTMAP_HOST_MAP, 0x1000)).status, GNTST_BAD_PAGE);
    assert_eq!(c.dom(1).grant_flags(13), GTF_PERMIT_ACCESS);
    // A sub-page grant cannot be mapped.
    c.dom(1).grant_to(14, GTF_PERMIT_ACCESS | GTF_SUB_PAGE, 0, 0x120);
    assert_eq!(map(&mut c, map_op(1, 14, GNTMAP_HOST_MAP, 0x1000)).status, GNTST_GENERAL_ERROR);
}

#[test]
fn the_maptrack_runs_out_with_no_space() {
    let mut c = granted(0);
    for h in 0..crate::domain::grant::MAX_MAPTRACK {
        c.dom(0).grant.track(h, Mapping { domid: 1, gref: 0, flags: GNTMAP_HOST_MAP, gfn: 0, mfn: 0, granter_gone: false }).unwrap();
    }
    assert_eq!(map(&mut c, map_op(1, 10, GNTMAP_HOST_MAP, 0x1000)).status, GNTST_NO_SPACE);
}

#[test]
fn copy_between_grants_and_own_frames_checks_permissions() {
    let mut c = granted(0);
    c.dom(1).grant_to(11, GTF_PERMIT_ACCESS | GTF_READONLY, 0, 0x121);
    c.dom(1).page(0x120)[100..104].copy_from_slice(b"gnt!");
    // Grant 10 of domain 1 -> domain 0's own gfn 0x150.
    let op = copy_op((10, 1, 100), (0x150, DOMID_SELF.0, 8), 4, GNTCOPY_SOURCE_GREF);
    assert_eq!(copy(&mut c, op), GNTST_OKAY);
    assert_eq!(&c.dom(0).page(0x150)[8..12], b"gnt!");
    assert_eq!(c.dom(1).grant_flags(10), GTF_PERMIT_ACCESS, "the copy's marks are gone");
    // Own frame -> grant 11, which is read-only.
    let op = copy_op((0x150, DOMID_SELF.0, 8), (11, 1, 0), 4, GNTCOPY_DEST_GREF);
    assert_eq!(copy(&mut c, op), GNTST_GENERAL_ERROR);
    assert_eq!(c.dom(1).page(0x121)[0], 0);
    // Own frame -> writable grant 10.
    let op = copy_op((0x150, DOMID_SELF.0, 8), (10, 1, 4000), 4, GNTCOPY_DEST_GREF);
    assert_eq!(copy(&mut c, op), GNTST_OKAY);
    assert_eq!(&c.dom(1).page(0x120)[4000..4004], b"gnt!");

    let cases = [
        (copy_op((0x150, 1, 0), (0x151, DOMID_SELF.0, 0), 4, 0), GNTST_PERMISSION_DENIED),
        (copy_op((0x150, 0, 0), (0x151, DOMID_SELF.0, 0), 4, 0), GNTST_PERMISSION_DENIED),
        (copy_op((10, 7, 0), (0x151, DOMID_SELF.0, 0), 4, GNTCOPY_SOURCE_GREF), GNTST_BAD_DOMAIN),
        (copy_op((600, 1, 0), (0x151, DOMID_SELF.0, 0), 4, GNTCOPY_SOURCE_GREF), GNTST_BAD_GNTREF),
        (copy_op((12, 1, 0), (0x151, DOMID_SELF.0, 0), 4, GNTCOPY_SOURCE_GREF), GNTST_GENERAL_ERROR),
        (copy_op((0x9999, DOMID_SELF.0, 0), (0x151, DOMID_SELF.0, 0), 4, 0), GNTST_BAD_PAGE),
        (copy_op((10, 1, 4094), (0x151, DOMID_SELF.0, 0), 4, GNTCOPY_SOURCE_GREF), GNTST_BAD_COPY_ARG),
        (copy_op((10, 1, 0), (0x151, DOMID_SELF.0, 4093), 4, GNTCOPY_SOURCE_GREF), GNTST_BAD_COPY_ARG),
    ];
    for (op, want) in cases {
        assert_eq!(copy(&mut c, op), want, "{op:?}");
    }
    assert_eq!(c.dom(1).grant_flags(10), GTF_PERMIT_ACCESS);
    assert!(c.dom(1).grant.active.is_empty());
}

#[test]
fn a_copy_batch_reports_each_status_and_stops_at_an_unreadable_op() {
    let mut c = granted(0);
    let good = copy_op((10, 1, 0), (0x150, DOMID_SELF.0, 0), 8, GNTCOPY_SOURCE_GREF);
    let bad = copy_op((10, 1, 0), (0x150, 1, 0), 8, GNTCOPY_SOURCE_GREF);
    c.put(ARG, &good);
    c.put(ARG + 40, &bad);
    assert_eq!(call(&mut c, GNTTABOP_COPY, 2), Outcome::Return(0));
    assert_eq!([c.get::<GnttabCopy>(ARG).status, c.get::<GnttabCopy>(ARG + 40).status], [GNTST_OKAY, GNTST_PERMISSION_DENIED]);
    c.put(4096 - 40, &good);
    assert_eq!(grant_table_op(&mut c, GNTTABOP_COPY, 4096 - 40, 2), Outcome::err(Errno::EFAULT));
    assert_eq!(c.get::<GnttabCopy>(4096 - 40).status, GNTST_OKAY, "the first op ran");
}

#[test]
fn a_32_bit_copy_uses_the_compat_layout_and_reads_its_chunk_first() {
    let mut c = granted(0);
    c.compat = true;
    c.dom(1).page(0x120)[0] = 0x5a;
    let op = CompatGnttabCopy {
        source: CompatGnttabCopyPtr { u: 10, domid: 1, offset: 0 },
        dest: CompatGnttabCopyPtr { u: 0x150, domid: DOMID_SELF.0, offset: 1 },
        len: 1,
        flags: GNTCOPY_SOURCE_GREF,
        status: 0x77,
        _pad: 0,
    };
    c.put(4096 - 24, &op);
    assert_eq!(grant_table_op(&mut c, GNTTABOP_COPY, 4096 - 24, 2), Outcome::err(Errno::EFAULT));
    assert_eq!(c.get::<CompatGnttabCopy>(4096 - 24).status, 0x77, "the chunk did not run");
    assert_eq!(grant_table_op(&mut c, GNTTABOP_COPY, 4096 - 24, 1), Outcome::Return(0));
    assert_eq!(c.get::<CompatGnttabCopy>(4096 - 24).status, GNTST_OKAY);
    assert_eq!(c.dom(0).page(0x150)[1], 0x5a);
}

#[test]
fn a_copy_to_a_grant_mapped_read_only_still_needs_write_permission() {
    let mut c = granted(0);
    assert_eq!(map(&mut c, map_op(1, 10, GNTMAP_HOST_MAP | GNTMAP_READONLY, 0x1000)).status, GNTST_OKAY);
    c.dom(1).readonly.insert(0x120);
    let op = copy_op((0x150, DOMID_SELF.0, 0), (10, 1, 0), 4, GNTCOPY_DEST_GREF);
    assert_eq!(copy(&mut c, op), GNTST_BAD_PAGE, "the granter's frame is read-only RAM");
    assert_eq!(c.dom(1).grant_flags(10), GTF_PERMIT_ACCESS | GTF_READING, "the mapping's mark stays");
    assert_eq!(c.dom(1).grant.pin(10), PIN_HOST_READ);
}

#[test]
fn swap_grant_ref_swaps_entries_not_in_use() {
    let mut c = granted(0);
    c.dom(0).grant_to(3, GTF_PERMIT_ACCESS, 1, 0x111);
    c.dom(0).grant_to(4, GTF_PERMIT_ACCESS | GTF_READONLY, 1, 0x222);
    let swap_op = |a, b| GnttabSwapGrantRef { ref_a: a, ref_b: b, status: 0x77, _pad: 0 };
    c.put(ARG, &swap_op(3, 4));
    c.put(ARG + 12, &swap_op(3, 512));
    c.put(ARG + 24, &swap_op(5, 5));
    assert_eq!(call(&mut c, GNTTABOP_SWAP_GRANT_REF, 3), Outcome::Return(0));
    let status = |c: &FakeCaller, i: usize| c.get::<GnttabSwapGrantRef>(ARG + 12 * i).status;
    assert_eq!([status(&c, 0), status(&c, 1), status(&c, 2)], [GNTST_OKAY, GNTST_BAD_GNTREF, GNTST_OKAY]);
    assert_eq!(c.dom(0).grant_entry(3), Some(u64::from(GTF_PERMIT_ACCESS | GTF_READONLY) | 1 << 16 | 0x222 << 32));
    // Domain 1's entry 10 is in use by a mapping of domain 0.
    assert_eq!(map(&mut c, map_op(1, 10, GNTMAP_HOST_MAP, 0x1000)).status, GNTST_OKAY);
    c.domid = 1;
    c.put(ARG, &swap_op(10, 11));
    assert_eq!(call(&mut c, GNTTABOP_SWAP_GRANT_REF, 1), Outcome::Return(0));
    assert_eq!(c.get::<GnttabSwapGrantRef>(ARG).status, GNTST_EAGAIN);
}

#[test]
fn destroying_a_mapper_releases_its_pins_and_a_granter_orphans_its_mappings() {
    let mut c = granted(0);
    let id = c.create_domain(0, 1, [0; 16]).unwrap();
    c.dom(1).grant_to(11, GTF_PERMIT_ACCESS, id, 0x121);
    assert_eq!(map(&mut c, map_op(1, 10, GNTMAP_HOST_MAP, 0x1000)).status, GNTST_OKAY);
    c.domid = id;
    assert_eq!(map(&mut c, map_op(1, 11, GNTMAP_HOST_MAP | GNTMAP_READONLY, 0x2000)).status, GNTST_OKAY);
    assert_eq!(c.dom(1).grant_flags(11), GTF_PERMIT_ACCESS | GTF_READING);
    // The mapper goes: the granter's entry is free again.
    c.domid = 0;
    release_domain(&mut c, id);
    assert_eq!(c.dom(1).grant_flags(11), GTF_PERMIT_ACCESS);
    assert_eq!(c.dom(1).grant.pin(11), 0);
    c.destroy_domain(id).unwrap();
    // The granter goes: domain 0's mapping is marked, and a new domain
    // with the same id is not touched by the later unmap.
    release_domain(&mut c, 1);
    c.destroy_domain(1).unwrap();
    assert!(c.dom(0).grant.maptrack[0].is_some_and(|m| m.granter_gone));
    c.create_domain(1, 1, [0; 16]).unwrap();
    c.dom(1).grant_to(10, GTF_PERMIT_ACCESS, 0, 0x120);
    assert_eq!(unmap(&mut c, 0, 0x1000), GNTST_OKAY);
    assert_eq!(c.dom(1).grant_flags(10), GTF_PERMIT_ACCESS);
    assert!(c.dom(0).grant_maps.is_empty() && c.dom(0).grant.maptrack.is_empty());
}

#[test]
fn destroydomain_releases_grant_mappings_first() {
    use abi::domctl::*;
    let mut c = granted(0);
    c.dom(0).grant_to(5, GTF_PERMIT_ACCESS, 1, 0x130);
    c.domid = 1;
    assert_eq!(map(&mut c, map_op(0, 5, GNTMAP_HOST_MAP, 0x3000)).status, GNTST_OKAY);
    c.domid = 0;
    assert_eq!(c.dom(0).grant_flags(5), GTF_PERMIT_ACCESS | GTF_READING | GTF_WRITING);
    let mut op: XenDomctl = abi::zerocopy::FromZeros::new_zeroed();
    (op.cmd, op.interface_version, op.domain) = (XEN_DOMCTL_DESTROYDOMAIN, XEN_DOMCTL_INTERFACE_VERSION, DomId(1));
    c.put(ARG, &op);
    assert_eq!(super::super::domctl::domctl(&mut c, ARG as u64), Outcome::Return(0));
    assert_eq!(c.dom(0).grant_flags(5), GTF_PERMIT_ACCESS);
    assert!(c.dom(0).grant.active.is_empty());
}

#[test]
fn dispatch_routes_hypercall_20_here() {
    let mut c = FakeCaller::new(64);
    let call = crate::hypercall::Call { nr: abi::xen::HYPERVISOR_GRANT_TABLE_OP, args: [GNTTABOP_DUMP_TABLE, 0, 1, 0, 0] };
    assert_eq!(crate::hypercall::dispatch(&mut c, call), Outcome::err(Errno::ENOSYS));
    c.put(0, &GnttabGetVersion { dom: DOMID_SELF.0, pad: 0, version: 0 });
    let call = crate::hypercall::Call { nr: abi::xen::HYPERVISOR_GRANT_TABLE_OP, args: [1 << 32 | GNTTABOP_GET_VERSION, 0, 1, 0, 0] };
    assert_eq!(crate::hypercall::dispatch(&mut c, call), Outcome::Return(0), "cmd is an unsigned int");
    assert_eq!(c.get::<GnttabGetVersion>(0).version, 1);
}

#[test]
fn long_batches_continue_where_they_stopped() {
    let mut c = FakeCaller::new(64 * 1024);
    let size = core::mem::size_of::<GnttabSwapGrantRef>() as u64;
    let first = grant_table_op(&mut c, GNTTABOP_SWAP_GRANT_REF, LIST as u64, 300);
    assert_eq!(first, Outcome::Continue([GNTTABOP_SWAP_GRANT_REF, LIST as u64 + 256 * size, 44]));
    c.next_exit();
    assert_eq!(grant_table_op(&mut c, GNTTABOP_SWAP_GRANT_REF, LIST as u64 + 256 * size, 44), Outcome::Return(0));
    c.next_exit();
    assert_eq!(grant_table_op(&mut c, GNTTABOP_SWAP_GRANT_REF, 1 << 40, 300), Outcome::err(Errno::EFAULT), "a bad list fails before continuing");
}
