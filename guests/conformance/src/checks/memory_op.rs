//! `HYPERVISOR_memory_op(unsigned long cmd, void *arg)` (xen/common/memory.c,
//! xen/arch/x86/mm.c, xen/arch/x86/hvm/hypercall.c).
//!
//! `cmd & 0x3f` is the op, the bits above it a continuation's start extent.
//! The reservation ops report the number of extents done, so a bad argument
//! gives 0, not -EFAULT. Queries on a domain: -ESRCH for none, -EPERM when
//! XSM_TARGET refuses (a DomU naming another domain). HVM guests get
//! -ENOSYS for XENMEM_machine_memory_map and XENMEM_machphys_mapping.
//! Struct-carrying checks run in 64-bit mode only (the compat layouts
//! differ), except those whose argument is a bare domid.
//!
//! Not checked, deliberately: increase_reservation/populate_physmap that
//! would allocate, decrease_reservation of this domain's RAM, set_memory_map
//! and set_pod_target with valid arguments, exchange.

use abi::memory::*;
use abi::xen::{DOMID_SELF, DomId, HYPERVISOR_MEMORY_OP as NR};

use super::*;
use crate::mem::{ARG, BUF, SCRATCH, SHARED_INFO};
use crate::suite::{Suite, args};
use crate::tap::Want;

/// `cmd` with a continuation start extent of `n`.
const fn extent(cmd: u64, n: u64) -> u64 {
    cmd | (n << 6)
}

/// A frame far above this domain's RAM, in no memory-map entry.
fn unpopulated_gfn(s: &Suite) -> u64 {
    s.ram_end_pfn + (1 << 20)
}

pub fn run(s: &mut Suite) {
    s.check(
        format_args!("memory_op(XENMEM_maximum_ram_page)"),
        NR,
        args([XENMEM_MAXIMUM_RAM_PAGE]),
        Want::Positive,
    );
    s.check(
        format_args!("memory_op(XENMEM_maximum_ram_page with start extent 1)"),
        NR,
        args([extent(XENMEM_MAXIMUM_RAM_PAGE, 1)]),
        EINVAL,
    );
    s.check(
        format_args!("memory_op(XENMEM_machine_memory_map, NULL) [not for HVM guests]"),
        NR,
        args([XENMEM_MACHINE_MEMORY_MAP]),
        ENOSYS,
    );
    s.check(
        format_args!("memory_op(XENMEM_machphys_mapping, NULL) [not for HVM guests]"),
        NR,
        args([XENMEM_MACHPHYS_MAPPING]),
        ENOSYS,
    );
    for op in [
        XENMEM_GET_SHARING_FREED_PAGES,
        XENMEM_GET_SHARING_SHARED_PAGES,
    ] {
        s.check(
            format_args!("memory_op({op}) [a page count]"),
            NR,
            args([op]),
            Want::NonNeg,
        );
    }
    for op in (29..=63).step_by(2).chain([63]) {
        s.check(
            format_args!("memory_op({op}, NULL) [no such op]"),
            NR,
            args([op]),
            ENOSYS,
        );
    }

    domain_queries(s);

    // The reservation ops answer with the number of extents done.
    let res_ops = [
        (XENMEM_INCREASE_RESERVATION, "XENMEM_increase_reservation"),
        (XENMEM_DECREASE_RESERVATION, "XENMEM_decrease_reservation"),
        (XENMEM_POPULATE_PHYSMAP, "XENMEM_populate_physmap"),
    ];
    for (op, name) in res_ops {
        for bad in s.bad_ptrs(32, false) {
            s.check(
                format_args!("memory_op({name}, {bad}) [0 extents done]"),
                NR,
                args([op, bad.addr]),
                OK,
            );
        }
    }
    if s.is64() {
        for (op, name) in res_ops {
            let cases: [(&str, XenMemoryReservation); 4] = [
                (
                    "0 extents",
                    XenMemoryReservation {
                        domid: DOMID_SELF,
                        ..Default::default()
                    },
                ),
                (
                    "2^26 extents [too many to encode a continuation]",
                    XenMemoryReservation {
                        nr_extents: 1 << 26,
                        domid: DOMID_SELF,
                        ..Default::default()
                    },
                ),
                (
                    "1 extent of an unused domid",
                    XenMemoryReservation {
                        nr_extents: 1,
                        domid: DomId(Suite::NO_DOMAIN),
                        ..Default::default()
                    },
                ),
                (
                    "1 extent, list at NULL",
                    XenMemoryReservation {
                        nr_extents: 1,
                        extent_order: 0,
                        domid: DOMID_SELF,
                        extent_start: 0,
                        ..Default::default()
                    },
                ),
            ];
            for (what, r) in cases {
                // increase_reservation with a NULL list allocates without
                // reporting frames: skip that one.
                if op == XENMEM_INCREASE_RESERVATION && what.ends_with("NULL") {
                    continue;
                }
                let arg = SCRATCH.put(ARG, &r);
                s.check(
                    format_args!("memory_op({name}, {{{what}}}) [0 extents done]"),
                    NR,
                    args([op, arg]),
                    OK,
                );
            }
        }
        let gfn = unpopulated_gfn(s);
        SCRATCH.put(BUF, &gfn);
        let r = XenMemoryReservation {
            extent_start: SCRATCH.addr(BUF),
            nr_extents: 1,
            domid: DOMID_SELF,
            ..Default::default()
        };
        let arg = SCRATCH.put(ARG, &r);
        s.check(
            format_args!("memory_op(XENMEM_decrease_reservation, {{gfn {gfn:#x}, not populated}}) [0 extents done]"),
            NR,
            args([XENMEM_DECREASE_RESERVATION, arg]),
            OK,
        );
        s.check(
            format_args!(
                "memory_op(XENMEM_decrease_reservation with start extent 1 of 1) [1 extent done]"
            ),
            NR,
            args([extent(XENMEM_DECREASE_RESERVATION, 1), arg]),
            Want::Is(1),
        );
    }

    if !s.is64() {
        return;
    }
    memory_map(s);
    physmap(s);
    toolstack_ops(s);
}

/// current/maximum_reservation, maximum_gpfn: the argument is a domid.
fn domain_queries(s: &mut Suite) {
    let ops = [
        (XENMEM_CURRENT_RESERVATION, "XENMEM_current_reservation"),
        (XENMEM_MAXIMUM_RESERVATION, "XENMEM_maximum_reservation"),
        (XENMEM_MAXIMUM_GPFN, "XENMEM_maximum_gpfn"),
    ];
    let mut got = [0i64; 3];
    for (i, (op, name)) in ops.into_iter().enumerate() {
        let arg = SCRATCH.put(ARG, &XenMemoryDomain { domid: DOMID_SELF });
        got[i] = s.check(
            format_args!("memory_op({name}, DOMID_SELF)"),
            NR,
            args([op, arg]),
            Want::Positive,
        );
        if s.domid != DOMID_SELF.0 {
            let arg = SCRATCH.put(
                ARG,
                &XenMemoryDomain {
                    domid: DomId(s.domid),
                },
            );
            s.check(
                format_args!("memory_op({name}, own domid {}) [same as DOMID_SELF]", {
                    s.domid
                }),
                NR,
                args([op, arg]),
                Want::Is(got[i]),
            );
        }
        s.check(
            format_args!("memory_op({name} with start extent 1)"),
            NR,
            args([extent(op, 1), arg]),
            EINVAL,
        );
        for bad in s.bad_ptrs(2, false) {
            s.check(
                format_args!("memory_op({name}, {bad})"),
                NR,
                args([op, bad.addr]),
                EFAULT,
            );
        }
        for (domid, what) in Suite::NO_DOMAINS {
            let arg = SCRATCH.put(
                ARG,
                &XenMemoryDomain {
                    domid: DomId(domid),
                },
            );
            s.check(
                format_args!("memory_op({name}, {what})"),
                NR,
                args([op, arg]),
                ESRCH,
            );
        }
        if !s.privileged && s.domid != 0 {
            let arg = SCRATCH.put(ARG, &XenMemoryDomain { domid: DomId(0) });
            s.check(
                format_args!("memory_op({name}, domain 0) from a DomU"),
                NR,
                args([op, arg]),
                EPERM,
            );
        }
    }
    let [current, maximum, max_gpfn] = got;
    s.tap.assert(
        format_args!("XENMEM_current_reservation <= XENMEM_maximum_reservation"),
        current > 0 && current <= maximum,
        format_args!("current {current}, maximum {maximum}"),
        format_args!("current <= maximum"),
    );
    let last_ram_gfn = s.ram_end_pfn.cast_signed() - 1;
    s.tap.assert(
        format_args!("XENMEM_maximum_gpfn >= the last RAM frame of the memory map"),
        max_gpfn >= last_ram_gfn,
        format_args!("{max_gpfn:#x}"),
        format_args!(">= {last_ram_gfn:#x}"),
    );
    let ram = s.ram_pages.cast_signed();
    s.tap.assert(
        format_args!("XENMEM_current_reservation covers the RAM of the memory map ({ram} pages)"),
        current >= ram,
        format_args!("{current}"),
        format_args!(">= {ram}"),
    );
}

fn memory_map(s: &mut Suite) {
    let name = "XENMEM_memory_map";
    for bad in s.bad_ptrs(16, false) {
        s.check(
            format_args!("memory_op({name}, {bad})"),
            NR,
            args([XENMEM_MEMORY_MAP, bad.addr]),
            EFAULT,
        );
    }
    let arg = SCRATCH.put(
        ARG,
        &XenMemoryMap {
            nr_entries: 0,
            _pad: 0,
            buffer: 0,
        },
    );
    if s.check(
        format_args!("memory_op({name}, {{0 entries, NULL}})"),
        NR,
        args([XENMEM_MEMORY_MAP, arg]),
        OK,
    ) == 0
    {
        let n = SCRATCH.get::<XenMemoryMap>(ARG).nr_entries;
        s.tap.assert(
            format_args!("{name} with room for 0 entries stores 0"),
            n == 0,
            format_args!("{n}"),
            format_args!("0"),
        );
    }
    // The whole map: it must be the start_info memory map (Xen builds a PVH
    // guest's start_info map from the same e820).
    let room = 128u32;
    SCRATCH.fill(BUF, room as usize * 20, 0xaa);
    let map = XenMemoryMap {
        nr_entries: room,
        _pad: 0,
        buffer: SCRATCH.addr(BUF),
    };
    let arg = SCRATCH.put(ARG, &map);
    if s.check(
        format_args!("memory_op({name}, {{{room} entries}})"),
        NR,
        args([XENMEM_MEMORY_MAP, arg]),
        OK,
    ) == 0
    {
        let n = SCRATCH.get::<XenMemoryMap>(ARG).nr_entries;
        let si = s.memmap();
        let mut same = n as usize == si.len();
        for (i, e) in si.iter().enumerate().take(n as usize) {
            let x = SCRATCH.get::<E820Entry>(BUF + i * 20);
            let (addr, size, ty) = (x.addr, x.size, x.r#type);
            same &= addr == e.addr && size == e.size && ty == e.r#type;
        }
        s.tap.assert(
            format_args!(
                "{name} returns the start_info memory map ({} entries)",
                si.len()
            ),
            same,
            format_args!(
                "{n} entries{}",
                if n as usize == si.len() {
                    ", different contents"
                } else {
                    ""
                }
            ),
            format_args!("the same {} entries", si.len()),
        );
    }
    let arg = SCRATCH.put(
        ARG,
        &XenMemoryMap {
            nr_entries: 1,
            _pad: 0,
            buffer: SCRATCH.addr(BUF),
        },
    );
    if s.check(
        format_args!("memory_op({name}, {{1 entry}})"),
        NR,
        args([XENMEM_MEMORY_MAP, arg]),
        OK,
    ) == 0
    {
        let n = SCRATCH.get::<XenMemoryMap>(ARG).nr_entries;
        s.tap.assert(
            format_args!("{name} with room for 1 entry stores 1"),
            n == 1,
            format_args!("{n}"),
            format_args!("1"),
        );
    }
    // Xen writes only the entries the map has, so that is the length a
    // buffer running into unmapped memory must cover.
    let written = (s.memmap().len().max(1) * 20) as u64;
    for bad in s.bad_ptrs(written, true) {
        let arg = SCRATCH.put(
            ARG,
            &XenMemoryMap {
                nr_entries: room,
                _pad: 0,
                buffer: bad.addr,
            },
        );
        s.check(
            format_args!("memory_op({name}, {{{room} entries at {bad}}})"),
            NR,
            args([XENMEM_MEMORY_MAP, arg]),
            EFAULT,
        );
    }
}

fn physmap(s: &mut Suite) {
    let name = "XENMEM_add_to_physmap";
    for bad in s.bad_ptrs(24, false) {
        s.check(
            format_args!("memory_op({name}, {bad})"),
            NR,
            args([XENMEM_ADD_TO_PHYSMAP, bad.addr]),
            EFAULT,
        );
    }
    let free_gfn = unpopulated_gfn(s);
    let xatp = |domid: u16, space: u32, idx: u64, gpfn: u64| XenAddToPhysmap {
        domid: DomId(domid),
        size: 0,
        space,
        idx,
        gpfn,
    };
    // Refused before the struct is read; even so, nothing it could do.
    let arg = SCRATCH.put(
        ARG,
        &xatp(Suite::NO_DOMAIN, XENMAPSPACE_SHARED_INFO, 0, free_gfn),
    );
    s.check(
        format_args!("memory_op({name} with start extent 0x10000) [above the 16-bit size]"),
        NR,
        args([extent(XENMEM_ADD_TO_PHYSMAP, 0x10000), arg]),
        EDOM,
    );
    let cases: [(&str, XenAddToPhysmap, Want); 7] = [
        (
            "XENMAPSPACE_gmfn_foreign [batch only]",
            xatp(DOMID_SELF.0, XENMAPSPACE_GMFN_FOREIGN, 0, free_gfn),
            ENOSYS,
        ),
        (
            "XENMAPSPACE_shared_info to an unused domid",
            xatp(Suite::NO_DOMAIN, XENMAPSPACE_SHARED_INFO, 0, free_gfn),
            ESRCH,
        ),
        (
            "XENMAPSPACE_shared_info at gpfn INVALID_GFN",
            xatp(DOMID_SELF.0, XENMAPSPACE_SHARED_INFO, 0, u64::MAX),
            EINVAL,
        ),
        (
            "XENMAPSPACE_shared_info idx 1 [only page 0]",
            xatp(DOMID_SELF.0, XENMAPSPACE_SHARED_INFO, 1, free_gfn),
            EINVAL,
        ),
        (
            "XENMAPSPACE_gmfn of an unpopulated gfn",
            xatp(DOMID_SELF.0, XENMAPSPACE_GMFN, free_gfn, free_gfn + 1),
            EINVAL,
        ),
        (
            "space 6 [no such space]",
            xatp(DOMID_SELF.0, 6, 0, free_gfn),
            EINVAL,
        ),
        (
            "space 0xffffffff [no such space]",
            xatp(DOMID_SELF.0, u32::MAX, 0, free_gfn),
            EINVAL,
        ),
    ];
    for (what, x, want) in cases {
        let arg = SCRATCH.put(ARG, &x);
        s.check(
            format_args!("memory_op({name}, {{{what}}})"),
            NR,
            args([XENMEM_ADD_TO_PHYSMAP, arg]),
            want,
        );
    }
    let arg = SCRATCH.put(ARG, &xatp(DOMID_SELF.0, XENMAPSPACE_DEV_MMIO, 0, free_gfn));
    s.check(
        format_args!(
            "memory_op({name}, {{XENMAPSPACE_dev_mmio}}) [{}]",
            if s.hwdom {
                "no such space on x86"
            } else {
                "Dom0 only"
            }
        ),
        NR,
        args([XENMEM_ADD_TO_PHYSMAP, arg]),
        if s.hwdom { EINVAL } else { EACCES },
    );

    let name = "XENMEM_add_to_physmap_batch";
    for bad in s.bad_ptrs(32, false) {
        s.check(
            format_args!("memory_op({name}, {bad})"),
            NR,
            args([XENMEM_ADD_TO_PHYSMAP_BATCH, bad.addr]),
            EFAULT,
        );
    }
    // XENMAPSPACE_gmfn_range (3) in the batch's 16-bit space field.
    let batch = XenAddToPhysmapBatch {
        domid: DOMID_SELF,
        space: 3,
        ..Default::default()
    };
    let arg = SCRATCH.put(ARG, &batch);
    s.check(
        format_args!("memory_op({name}, {{XENMAPSPACE_gmfn_range}}) [not for batches]"),
        NR,
        args([XENMEM_ADD_TO_PHYSMAP_BATCH, arg]),
        EOPNOTSUPP,
    );
    s.check(
        format_args!("memory_op({name} with start extent 0x10000)"),
        NR,
        args([extent(XENMEM_ADD_TO_PHYSMAP_BATCH, 0x10000), arg]),
        EDOM,
    );

    let name = "XENMEM_remove_from_physmap";
    for bad in s.bad_ptrs(16, false) {
        s.check(
            format_args!("memory_op({name}, {bad})"),
            NR,
            args([XENMEM_REMOVE_FROM_PHYSMAP, bad.addr]),
            EFAULT,
        );
    }
    let xrfp = |domid: u16, gpfn: u64| XenRemoveFromPhysmap {
        domid: DomId(domid),
        _pad: [0; 3],
        gpfn,
    };
    let arg = SCRATCH.put(ARG, &xrfp(DOMID_SELF.0, free_gfn));
    s.check(
        format_args!("memory_op({name}, {{gfn {free_gfn:#x}, not populated}})"),
        NR,
        args([XENMEM_REMOVE_FROM_PHYSMAP, arg]),
        ENOENT,
    );
    s.check(
        format_args!("memory_op({name} with start extent 1)"),
        NR,
        args([extent(XENMEM_REMOVE_FROM_PHYSMAP, 1), arg]),
        EINVAL,
    );
    for (domid, what) in Suite::NO_DOMAINS {
        let arg = SCRATCH.put(ARG, &xrfp(domid, free_gfn));
        s.check(
            format_args!("memory_op({name}, {{{what}}})"),
            NR,
            args([XENMEM_REMOVE_FROM_PHYSMAP, arg]),
            ESRCH,
        );
    }
}

/// Toolstack and introspection ops a guest may call with bad arguments.
fn toolstack_ops(s: &mut Suite) {
    let with_struct: [(u64, &str, u64); 9] = [
        (XENMEM_EXCHANGE, "XENMEM_exchange", 48),
        (XENMEM_MACHPHYS_MFN_LIST, "XENMEM_machphys_mfn_list", 24),
        (XENMEM_SET_MEMORY_MAP, "XENMEM_set_memory_map", 24),
        (XENMEM_SET_POD_TARGET, "XENMEM_set_pod_target", 40),
        (XENMEM_GET_POD_TARGET, "XENMEM_get_pod_target", 40),
        (XENMEM_ACCESS_OP, "XENMEM_access_op", 32),
        (XENMEM_CLAIM_PAGES, "XENMEM_claim_pages", 32),
        (XENMEM_GET_VNUMAINFO, "XENMEM_get_vnumainfo", 40),
        (
            XENMEM_RESERVED_DEVICE_MEMORY_MAP,
            "XENMEM_reserved_device_memory_map",
            24,
        ),
    ];
    for (op, name, len) in with_struct {
        for bad in s.bad_ptrs(len, false) {
            s.check(
                format_args!("memory_op({name}, {bad})"),
                NR,
                args([op, bad.addr]),
                EFAULT,
            );
        }
    }
    for (op, name) in [
        (XENMEM_EXCHANGE, "XENMEM_exchange"),
        (XENMEM_CLAIM_PAGES, "XENMEM_claim_pages"),
        (XENMEM_GET_VNUMAINFO, "XENMEM_get_vnumainfo"),
        (
            XENMEM_RESERVED_DEVICE_MEMORY_MAP,
            "XENMEM_reserved_device_memory_map",
        ),
    ] {
        s.check(
            format_args!("memory_op({name} with start extent 1)"),
            NR,
            args([extent(op, 1), SCRATCH.addr(ARG)]),
            EINVAL,
        );
    }

    // XENMEM_set_memory_map: at most E820MAX (1024) entries.
    let fmap = XenForeignMemoryMap {
        domid: DOMID_SELF,
        _pad: [0; 3],
        map: XenMemoryMap {
            nr_entries: 1025,
            _pad: 0,
            buffer: 0,
        },
    };
    let arg = SCRATCH.put(ARG, &fmap);
    s.check(
        format_args!("memory_op(XENMEM_set_memory_map, {{1025 entries}}) [E820MAX is 1024]"),
        NR,
        args([XENMEM_SET_MEMORY_MAP, arg]),
        EINVAL,
    );
    let fmap = XenForeignMemoryMap {
        domid: DomId(Suite::NO_DOMAIN),
        ..fmap
    };
    let fmap = XenForeignMemoryMap {
        map: XenMemoryMap {
            nr_entries: 1,
            ..fmap.map
        },
        ..fmap
    };
    let arg = SCRATCH.put(ARG, &fmap);
    s.check(
        format_args!("memory_op(XENMEM_set_memory_map, {{an unused domid}})"),
        NR,
        args([XENMEM_SET_MEMORY_MAP, arg]),
        ESRCH,
    );

    // PoD target queries.
    for (op, name) in [
        (XENMEM_GET_POD_TARGET, "XENMEM_get_pod_target"),
        (XENMEM_SET_POD_TARGET, "XENMEM_set_pod_target"),
    ] {
        let arg = SCRATCH.put(
            ARG,
            &XenPodTarget {
                domid: DomId(Suite::NO_DOMAIN),
                ..Default::default()
            },
        );
        s.check(
            format_args!("memory_op({name}, {{an unused domid}})"),
            NR,
            args([op, arg]),
            ESRCH,
        );
    }
    let arg = SCRATCH.put(
        ARG,
        &XenPodTarget {
            domid: DOMID_SELF,
            ..Default::default()
        },
    );
    s.check(
        format_args!(
            "memory_op(XENMEM_get_pod_target, {{DOMID_SELF}}) [{}]",
            if s.privileged {
                "privileged"
            } else {
                "XSM_PRIV refuses a DomU"
            }
        ),
        NR,
        args([XENMEM_GET_POD_TARGET, arg]),
        if s.privileged { OK } else { EPERM },
    );

    // XENMEM_claim_pages: extent_start, order and flags must be 0, and the
    // domain is looked up by id (DOMID_SELF is no id).
    let claim = XenMemoryReservation {
        domid: DomId(0),
        ..Default::default()
    };
    let claims: [(&str, XenMemoryReservation); 5] = [
        (
            "a non-NULL extent list",
            XenMemoryReservation {
                extent_start: SCRATCH.addr(BUF),
                ..claim
            },
        ),
        (
            "extent order 1",
            XenMemoryReservation {
                extent_order: 1,
                ..claim
            },
        ),
        (
            "mem_flags 1",
            XenMemoryReservation {
                mem_flags: 1,
                ..claim
            },
        ),
        (
            "DOMID_SELF",
            XenMemoryReservation {
                domid: DOMID_SELF,
                ..claim
            },
        ),
        (
            "an unused domid",
            XenMemoryReservation {
                domid: DomId(Suite::NO_DOMAIN),
                ..claim
            },
        ),
    ];
    for (what, r) in claims {
        let arg = SCRATCH.put(ARG, &r);
        s.check(
            format_args!("memory_op(XENMEM_claim_pages, {{{what}}})"),
            NR,
            args([XENMEM_CLAIM_PAGES, arg]),
            EINVAL,
        );
    }
    if s.domid != DOMID_SELF.0 {
        let arg = SCRATCH.put(
            ARG,
            &XenMemoryReservation {
                domid: DomId(s.domid),
                ..claim
            },
        );
        s.check(
            format_args!(
                "memory_op(XENMEM_claim_pages, {{0 pages for itself}}) [{}]",
                if s.privileged {
                    "cancels its claim"
                } else {
                    "XSM_PRIV refuses a DomU"
                }
            ),
            NR,
            args([XENMEM_CLAIM_PAGES, arg]),
            if s.privileged { OK } else { EPERM },
        );
    }

    // XENMEM_get_vnumainfo: pad must be 0; no vNUMA for this domain.
    let topo = XenVnumaTopologyInfo {
        domid: DOMID_SELF,
        ..Default::default()
    };
    let arg = SCRATCH.put(ARG, &XenVnumaTopologyInfo { pad: 1, ..topo });
    s.check(
        format_args!("memory_op(XENMEM_get_vnumainfo, {{pad 1}})"),
        NR,
        args([XENMEM_GET_VNUMAINFO, arg]),
        EINVAL,
    );
    let arg = SCRATCH.put(
        ARG,
        &XenVnumaTopologyInfo {
            domid: DomId(Suite::NO_DOMAIN),
            ..topo
        },
    );
    s.check(
        format_args!("memory_op(XENMEM_get_vnumainfo, {{an unused domid}})"),
        NR,
        args([XENMEM_GET_VNUMAINFO, arg]),
        ESRCH,
    );
    let arg = SCRATCH.put(ARG, &topo);
    s.check(
        format_args!("memory_op(XENMEM_get_vnumainfo, {{DOMID_SELF}}) [no vNUMA topology]"),
        NR,
        args([XENMEM_GET_VNUMAINFO, arg]),
        EOPNOTSUPP,
    );

    // XENMEM_acquire_resource: refused up front to translated DomUs.
    let xmar = XenMemAcquireResource {
        domid: DomId(0),
        ..Default::default()
    };
    if !s.hwdom {
        let arg = SCRATCH.put(ARG, &xmar);
        s.check(
            format_args!("memory_op(XENMEM_acquire_resource, ...) from a translated DomU"),
            NR,
            args([XENMEM_ACQUIRE_RESOURCE, arg]),
            EACCES,
        );
        return;
    }
    for bad in s.bad_ptrs(32, false) {
        s.check(
            format_args!("memory_op(XENMEM_acquire_resource, {bad})"),
            NR,
            args([XENMEM_ACQUIRE_RESOURCE, bad.addr]),
            EFAULT,
        );
    }
    let cases: [(&str, XenMemAcquireResource, Want); 4] = [
        ("pad 1", XenMemAcquireResource { pad: 1, ..xmar }, EINVAL),
        (
            "frame 2^32",
            XenMemAcquireResource {
                frame: 1 << 32,
                ..xmar
            },
            EINVAL,
        ),
        (
            "DOMID_SELF [not a remote domain id]",
            XenMemAcquireResource {
                domid: DOMID_SELF,
                ..xmar
            },
            ESRCH,
        ),
        (
            "itself [not remote]",
            XenMemAcquireResource {
                domid: DomId(s.domid),
                ..xmar
            },
            EPERM,
        ),
    ];
    for (what, x, want) in cases {
        let arg = SCRATCH.put(ARG, &x);
        s.check(
            format_args!("memory_op(XENMEM_acquire_resource, {{{what}}})"),
            NR,
            args([XENMEM_ACQUIRE_RESOURCE, arg]),
            want,
        );
    }
}

/// Changes for good: the shared_info page mapped over one of ours.
pub fn run_state(s: &mut Suite) {
    if !s.is64() {
        return;
    }
    let gfn = SHARED_INFO.addr(0) >> 12;
    SHARED_INFO.fill(0, 4096, 0xa5);
    let x = XenAddToPhysmap {
        domid: DOMID_SELF,
        size: 0,
        space: XENMAPSPACE_SHARED_INFO,
        idx: 0,
        gpfn: gfn,
    };
    let arg = SCRATCH.put(ARG, &x);
    let got = s.check(
        format_args!(
            "memory_op(XENMEM_add_to_physmap, {{XENMAPSPACE_shared_info, idx 0, gpfn {gfn:#x}}})"
        ),
        NR,
        args([XENMEM_ADD_TO_PHYSMAP, arg]),
        OK,
    );
    if got == 0 {
        s.tap.assert(
            format_args!(
                "after XENMAPSPACE_shared_info the gpfn shows the shared_info page, not the old RAM"
            ),
            !SHARED_INFO.all(0, 4096, 0xa5),
            format_args!("the page still holds the old contents"),
            format_args!("a different page"),
        );
    }
    // Mapping it again (now at the same place) is fine too.
    s.check(
        format_args!(
            "memory_op(XENMEM_add_to_physmap, {{XENMAPSPACE_shared_info again, same gpfn}})"
        ),
        NR,
        args([XENMEM_ADD_TO_PHYSMAP, arg]),
        OK,
    );
}
