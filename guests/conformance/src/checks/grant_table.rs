//! `HYPERVISOR_grant_table_op(unsigned int cmd, void *uop, unsigned int
//! count)` (xen/common/grant_table.c, xen/arch/x86/hvm/hypercall.c).
//!
//! An HVM guest may use query_size, setup_table, set_version, get_version,
//! copy, map_grant_ref, unmap_grant_ref and swap_grant_ref; every other
//! command, continuation bits included, is -ENOSYS. Then a count with bit 31
//! set is -EINVAL; query_size and setup_table want a count of 1 and report
//! domain errors in their `status` field (the call returns 0); the batch
//! commands do nothing for a count of 0 and -EFAULT on a bad list.

use abi::grant_table::*;
use abi::xen::{DOMID_SELF, HYPERVISOR_GRANT_TABLE_OP as NR};

use super::*;
use crate::mem::{ARG, BUF, GRANT_FRAME, SCRATCH};
use crate::suite::{Suite, args};
use crate::tap::Want;
use crate::xen::*;

/// Commands an HVM guest may use, with the size of one list entry.
const BATCH: &[(u64, &str, u64)] = &[
    (GNTTABOP_MAP_GRANT_REF, "GNTTABOP_map_grant_ref", 24),
    (GNTTABOP_UNMAP_GRANT_REF, "GNTTABOP_unmap_grant_ref", 24),
    (GNTTABOP_COPY, "GNTTABOP_copy", 40),
    (GNTTABOP_SWAP_GRANT_REF, "GNTTABOP_swap_grant_ref", 12),
];

pub fn run(s: &mut Suite) {
    for cmd in [
        GNTTABOP_DUMP_TABLE,
        GNTTABOP_TRANSFER,
        GNTTABOP_UNMAP_AND_REPLACE,
        GNTTABOP_GET_STATUS_FRAMES,
        GNTTABOP_CACHE_FLUSH,
        13,
        14,
        0xff,
        0xffff_ffff,
    ] {
        s.check(
            format_args!(
                "grant_table_op({cmd:#x}, buf, 1) [not for HVM guests, or no such command]"
            ),
            NR,
            args([cmd, SCRATCH.addr(ARG), 1]),
            ENOSYS,
        );
    }
    let query = SCRATCH.addr(ARG);
    s.check(
        format_args!("grant_table_op(GNTTABOP_query_size | 1 << 12, buf, 1) [continuation bits: not an HVM command]"),
        NR,
        args([GNTTABOP_QUERY_SIZE | (1 << GNTTABOP_ARG_SHIFT), query, 1]),
        ENOSYS,
    );

    // query_size
    let q = |dom: u16| GnttabQuerySize {
        dom,
        status: 0x7777,
        ..Default::default()
    };
    let arg = SCRATCH.put(ARG, &q(DOMID_SELF.0));
    if s.check(
        format_args!("grant_table_op(GNTTABOP_query_size, {{DOMID_SELF}}, 1)"),
        NR,
        args([GNTTABOP_QUERY_SIZE, arg, 1]),
        OK,
    ) == 0
    {
        let r = SCRATCH.get::<GnttabQuerySize>(ARG);
        s.tap.assert(
            format_args!(
                "GNTTABOP_query_size: GNTST_okay, nr_frames <= max_nr_frames, max_nr_frames > 0"
            ),
            r.status == GNTST_OKAY && r.max_nr_frames > 0 && r.nr_frames <= r.max_nr_frames,
            format_args!(
                "status {} nr_frames {} max_nr_frames {}",
                r.status, r.nr_frames, r.max_nr_frames
            ),
            format_args!("status 0, 0 < nr_frames <= max_nr_frames"),
        );
    }
    for count in [0u64, 2, 0x8000_0000] {
        let arg = SCRATCH.put(ARG, &q(DOMID_SELF.0));
        s.check(
            format_args!("grant_table_op(GNTTABOP_query_size, buf, {count:#x})"),
            NR,
            args([GNTTABOP_QUERY_SIZE, arg, count]),
            EINVAL,
        );
    }
    for bad in s.bad_ptrs(16, false) {
        s.check(
            format_args!("grant_table_op(GNTTABOP_query_size, {bad}, 1)"),
            NR,
            args([GNTTABOP_QUERY_SIZE, bad.addr, 1]),
            EFAULT,
        );
    }
    let mut status_cases: [(u16, &str, i16); 2] = [
        (Suite::NO_DOMAIN, "an unused domid", GNTST_BAD_DOMAIN),
        (0, "domain 0 from a DomU", GNTST_PERMISSION_DENIED),
    ];
    let n = if !s.privileged && s.domid != 0 { 2 } else { 1 };
    for (dom, what, want) in &mut status_cases[..n] {
        let arg = SCRATCH.put(ARG, &q(*dom));
        if s.check(
            format_args!("grant_table_op(GNTTABOP_query_size, {{{what}}}, 1) [status says]"),
            NR,
            args([GNTTABOP_QUERY_SIZE, arg, 1]),
            OK,
        ) == 0
        {
            let st = SCRATCH.get::<GnttabQuerySize>(ARG).status;
            s.tap.assert(
                format_args!("GNTTABOP_query_size of {what} sets status {want}"),
                st == *want,
                format_args!("status {st}"),
                format_args!("status {want}"),
            );
        }
    }

    // get_version / set_version
    let gv = |dom: u16| GnttabGetVersion {
        dom,
        pad: 0,
        version: 0x7777,
    };
    let arg = SCRATCH.put(ARG, &gv(DOMID_SELF.0));
    if s.check(
        format_args!("grant_table_op(GNTTABOP_get_version, {{DOMID_SELF}}, 1)"),
        NR,
        args([GNTTABOP_GET_VERSION, arg, 1]),
        OK,
    ) == 0
    {
        let v = SCRATCH.get::<GnttabGetVersion>(ARG).version;
        s.tap.assert(
            format_args!("a new domain's grant table is version 1"),
            v == 1,
            format_args!("{v}"),
            format_args!("1"),
        );
    }
    for bad in s.bad_ptrs(8, false) {
        s.check(
            format_args!("grant_table_op(GNTTABOP_get_version, {bad}, 1)"),
            NR,
            args([GNTTABOP_GET_VERSION, bad.addr, 1]),
            EFAULT,
        );
    }
    let arg = SCRATCH.put(ARG, &gv(Suite::NO_DOMAIN));
    s.check(
        format_args!("grant_table_op(GNTTABOP_get_version, {{an unused domid}}, 1)"),
        NR,
        args([GNTTABOP_GET_VERSION, arg, 1]),
        ESRCH,
    );
    if !s.privileged && s.domid != 0 {
        let arg = SCRATCH.put(ARG, &gv(0));
        s.check(
            format_args!("grant_table_op(GNTTABOP_get_version, {{domain 0}}, 1) from a DomU"),
            NR,
            args([GNTTABOP_GET_VERSION, arg, 1]),
            EPERM,
        );
    }
    for (version, want) in [(0u32, EINVAL), (3, EINVAL), (0xffff_ffff, EINVAL), (1, OK)] {
        let arg = SCRATCH.put(ARG, &version);
        s.check(
            format_args!(
                "grant_table_op(GNTTABOP_set_version, {{version {version:#x}}}, 1){}",
                if version == 1 { " [already 1]" } else { "" }
            ),
            NR,
            args([GNTTABOP_SET_VERSION, arg, 1]),
            want,
        );
    }
    for bad in s.bad_ptrs(4, false) {
        s.check(
            format_args!("grant_table_op(GNTTABOP_set_version, {bad}, 1)"),
            NR,
            args([GNTTABOP_SET_VERSION, bad.addr, 1]),
            EFAULT,
        );
    }

    // The batch commands.
    for &(cmd, name, len) in BATCH {
        s.check(
            format_args!("grant_table_op({name}, NULL, 0)"),
            NR,
            args([cmd, 0, 0]),
            OK,
        );
        s.check(
            format_args!("grant_table_op({name}, buf, 0x80000000) [count is negative as an int]"),
            NR,
            args([cmd, SCRATCH.addr(ARG), 0x8000_0000]),
            EINVAL,
        );
        for bad in s.bad_ptrs(len, false) {
            s.check(
                format_args!("grant_table_op({name}, {bad}, 1)"),
                NR,
                args([cmd, bad.addr, 1]),
                EFAULT,
            );
        }
    }

    if s.is64() {
        setup_table(s);
        copy_own_grant(s);
    }
}

/// The guest maps grant frame 0 over a page of its own, grants itself a
/// page in entry 10 and copies from that grant into another page: the
/// bytes arrive and the entry ends as it was (GTF_reading only while the
/// copy runs).
fn copy_own_grant(s: &mut Suite) {
    use abi::memory::{XENMAPSPACE_GRANT_TABLE, XENMEM_ADD_TO_PHYSMAP, XenAddToPhysmap};
    use abi::xen::HYPERVISOR_MEMORY_OP;
    let frame_gfn = GRANT_FRAME.addr(0) >> 12;
    let xatp = XenAddToPhysmap {
        domid: DOMID_SELF,
        size: 0,
        space: XENMAPSPACE_GRANT_TABLE,
        idx: 0,
        gpfn: frame_gfn,
    };
    let arg = SCRATCH.put(ARG, &xatp);
    if s.check(
        format_args!("memory_op(XENMEM_add_to_physmap, {{XENMAPSPACE_grant_table, idx 0}})"),
        HYPERVISOR_MEMORY_OP,
        args([XENMEM_ADD_TO_PHYSMAP, arg]),
        OK,
    ) != 0
    {
        return;
    }
    const DATA: usize = 0x2000;
    let data_gfn = SCRATCH.addr(DATA) >> 12;
    SCRATCH.put_bytes(DATA, b"granted!");
    let entry = GrantEntryV1 {
        flags: GTF_PERMIT_ACCESS,
        domid: s.domid,
        frame: data_gfn as u32,
    };
    GRANT_FRAME.put(10 * 8, &entry);
    let op = GnttabCopy {
        source: GnttabCopyPtr { u: 10, domid: s.domid, offset: 0, _pad: 0 },
        dest: GnttabCopyPtr { u: SCRATCH.addr(BUF) >> 12, domid: DOMID_SELF.0, offset: 16, _pad: 0 },
        len: 8,
        flags: GNTCOPY_SOURCE_GREF,
        status: 0x7777,
        _pad: 0,
    };
    let arg = SCRATCH.put(ARG, &op);
    if s.check(
        format_args!("grant_table_op(GNTTABOP_copy, {{own grant 10 -> own frame}}, 1)"),
        NR,
        args([GNTTABOP_COPY, arg, 1]),
        OK,
    ) == 0
    {
        let status = SCRATCH.get::<GnttabCopy>(ARG).status;
        let mut got = [0u8; 8];
        SCRATCH.read(BUF + 16, &mut got);
        let flags = GRANT_FRAME.get::<GrantEntryV1>(10 * 8).flags;
        s.tap.assert(
            format_args!("GNTTABOP_copy from a grant copies its bytes and leaves the entry's flags as they were"),
            status == GNTST_OKAY && &got == b"granted!" && flags == GTF_PERMIT_ACCESS,
            format_args!("status {status}, bytes {got:?}, flags {flags:#x}"),
            format_args!("status 0, b\"granted!\", flags {GTF_PERMIT_ACCESS:#x}"),
        );
    }
}

fn setup_table(s: &mut Suite) {
    let name = "GNTTABOP_setup_table";
    let t = |dom: u16, nr_frames: u32| GnttabSetupTable {
        dom,
        nr_frames,
        status: 0x7777,
        frame_list: SCRATCH.addr(BUF),
        ..Default::default()
    };
    for count in [0u64, 2] {
        let arg = SCRATCH.put(ARG, &t(DOMID_SELF.0, 1));
        s.check(
            format_args!("grant_table_op({name}, buf, {count})"),
            NR,
            args([GNTTABOP_SETUP_TABLE, arg, count]),
            EINVAL,
        );
    }
    for bad in s.bad_ptrs(24, false) {
        s.check(
            format_args!("grant_table_op({name}, {bad}, 1)"),
            NR,
            args([GNTTABOP_SETUP_TABLE, bad.addr, 1]),
            EFAULT,
        );
    }
    for (dom, nr, what, want) in [
        (Suite::NO_DOMAIN, 1u32, "an unused domid", GNTST_BAD_DOMAIN),
        (
            DOMID_SELF.0,
            u32::MAX,
            "0xffffffff frames [over the maximum]",
            GNTST_GENERAL_ERROR,
        ),
    ] {
        let arg = SCRATCH.put(ARG, &t(dom, nr));
        if s.check(
            format_args!("grant_table_op({name}, {{{what}}}, 1) [status says]"),
            NR,
            args([GNTTABOP_SETUP_TABLE, arg, 1]),
            OK,
        ) == 0
        {
            let st = SCRATCH.get::<GnttabSetupTable>(ARG).status;
            s.tap.assert(
                format_args!("{name} of {what} sets status {want}"),
                st == want,
                format_args!("status {st}"),
                format_args!("status {want}"),
            );
        }
    }
    let _: Want = OK;
}
