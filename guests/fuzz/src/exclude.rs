//! Calls the fuzzer deliberately does not make, because on Xen they would
//! legitimately stop or hang this domain (or garble the log it is judged
//! by), so a run could not tell a hypervisor bug from the call doing its job.
//! Xen's argument types decide what "the same call" is: `sched_op`,
//! `vcpu_op` and `console_io` take an int command (bits 32..63 ignored),
//! memory_op's op is `cmd & 0x3f`, hvm_op's op is a full unsigned long.
//!
//! | hypercall | excluded | why |
//! |---|---|---|
//! | sched_op_compat (6) | all | the old ABI's block and shutdown |
//! | sched_op (29) | SCHEDOP_block, poll | may never return without an event |
//! | sched_op | SCHEDOP_shutdown, remote_shutdown | stops this domain (remote: when it names itself) |
//! | sched_op | SCHEDOP_shutdown_code | latches a reason the final poweroff would report |
//! | sched_op | SCHEDOP_watchdog | a watchdog that expires kills this domain |
//! | vcpu_op (24) | VCPUOP_down | downing the only vCPU powers the domain off |
//! | vcpu_op | VCPUOP_send_nmi | an NMI with no IDT to take it: triple fault |
//! | memory_op (12) | decrease_reservation, populate_physmap, exchange, add_to_physmap(_batch), remove_from_physmap, acquire_resource that name one of this domain's own gfns (below [`OWN_MEMORY_END`]) | removes or replaces a page this kernel uses (see [`own_pages`]) |
//! | multicall (13) | all | its entries are calls these checks cannot see |
//! | console_io (18) | CONSOLEIO_write | random bytes in the serial log the run is judged by |
//! | hvm_op (34) | HVMOP_set_param of VM86_TSS(_SIZED) | Xen crashes a guest setting a bad value for itself |
//! | domctl (36) | createdomain, destroydomain, pausedomain | makes domains outlive the run, or stops this one |
//! | sysctl (35) | cpu_hotplug, cpupool_op | could take this domain's CPUs away |
//! | memory_op | add_to_physmap(_batch) of `XENMAPSPACE_grant_table` frame 0 | moves the grant frame `learn` mapped at 0x300 away, leaving a hole in this kernel's memory |
//! | grant_table_op (20) | GNTTABOP_map_grant_ref with `GNTMAP_host_map` at a `host_addr` below [`OWN_MEMORY_END`], in any entry Xen could read (a batch runs on through the RAM past the scratch area) | maps a (learned, perhaps read-only) grant over this kernel's own RAM, which it then writes |
//! | grant_table_op | GNTTABOP_transfer of one of its own gfns | gives the page away |
//!
//! The physmap rules look at every gfn a call names (arrays included, as
//! far as Xen could read them), whatever the hypervisor would answer: a
//! guest that unmaps or replaces its own memory dies legitimately (on Xen
//! an access there is an EPT/NPT violation that crashes it, or reads a
//! zeroed page), so a fuzzer run that did so proved nothing about the
//! hypervisor. Seed 12 of `fuzz-long` once removed the scratch area itself
//! (gpfn 0x200, read from RAM below the hole) and died at the next refill.

use abi::memory::{
    XENMAPSPACE_GMFN, XENMAPSPACE_GMFN_RANGE, XENMAPSPACE_GRANT_TABLE, XENMEM_ACQUIRE_RESOURCE, XENMEM_ADD_TO_PHYSMAP, XENMEM_ADD_TO_PHYSMAP_BATCH,
    XENMEM_DECREASE_RESERVATION, XENMEM_EXCHANGE, XENMEM_POPULATE_PHYSMAP, XENMEM_REMOVE_FROM_PHYSMAP, XenAddToPhysmap,
    XenAddToPhysmapBatch, XenMemAcquireResource, XenMemoryExchange, XenMemoryReservation, XenRemoveFromPhysmap,
};
use core::mem::offset_of;

use crate::calls::Call;

const SCHED_OP_COMPAT: u64 = 6;
const MEMORY_OP: u64 = 12;
const MULTICALL: u64 = 13;
const CONSOLE_IO: u64 = 18;
const VCPU_OP: u64 = 24;
const SCHED_OP: u64 = 29;
const HVM_OP: u64 = 34;
const SYSCTL: u64 = 35;
const DOMCTL: u64 = 36;
const GRANT_TABLE_OP: u64 = 20;
/// This kernel's own memory: its image, the scratch area, the learned
/// pages and the user page all lie below 8 MiB.
pub const OWN_MEMORY_END: u64 = 8 << 20;
/// [`OWN_MEMORY_END`] as a frame number.
const OWN_GFNS_END: u64 = OWN_MEMORY_END >> 12;
/// `struct gnttab_map_grant_ref`: host_addr at 0, flags at 8; 32 bytes.
const MAP_GRANT_REF_SIZE: u64 = 32;
/// `struct gnttab_transfer`: the (g)mfn at 0; 24 bytes.
const TRANSFER_SIZE: u64 = 24;
const GNTTABOP_TRANSFER: u32 = 4;
/// `DOMID_SELF`.
const DOMID_SELF: u16 = 0x7ff0;
const GNTMAP_HOST_MAP: u64 = 1 << 1;
/// Most batch entries looked at (a scratch area's worth).
const MAX_ENTRIES: u64 = 1024;
/// Most map_grant_ref entries looked at: every one a list starting in the
/// fuzzer's memory can hold before the unreadable hole (2 MiB of 32-byte
/// entries, twice over). Xen maps them all (`count` up to 2^31 - 1, in
/// continuations), and the RAM past the scratch area holds whatever OUT
/// buffers wrote there: vCPU contexts with this kernel's addresses in them.
const MAX_MAP_ENTRIES: u64 = 1 << 17;
/// The shared grant frame `learn` maps at gfn 0x300: moving it away
/// (XENMAPSPACE_grant_table) empties a page of this kernel's memory.
const LEARNED_GRANT_FRAME: u64 = 0;

/// The low 32 bits: what Xen sees of an `int` or `unsigned int` argument.
fn int(v: u64) -> u32 {
    u32::try_from(v & 0xffff_ffff).unwrap_or(0)
}

/// Why `call` is not made, or `None`. `me` is this domain's id
/// (`DOMID_SELF` if unknown: then every domain id may be this one).
/// `read(addr, len)` reads `len` (<= 8) little-endian bytes of any guest
/// memory the hypervisor could read there (`None` where it could not: a
/// pointer there makes Xen fail the copy before it acts).
pub fn excluded(call: &Call, me: u16, read: impl Fn(u64, usize) -> Option<u64>) -> Option<&'static str> {
    let [a0, a1, ..] = call.args;
    match call.nr {
        SCHED_OP_COMPAT => Some("sched_op_compat: block and shutdown"),
        MULTICALL => Some("multicall: entries not checked"),
        SCHED_OP => match int(a0) {
            1 => Some("SCHEDOP_block"),
            2 => Some("SCHEDOP_shutdown"),
            3 => Some("SCHEDOP_poll"),
            4 => Some("SCHEDOP_remote_shutdown"),
            5 => Some("SCHEDOP_shutdown_code"),
            6 => Some("SCHEDOP_watchdog"),
            _ => None,
        },
        VCPU_OP => match int(a0) {
            2 => Some("VCPUOP_down"),
            11 => Some("VCPUOP_send_nmi"),
            _ => None,
        },
        MEMORY_OP => own_pages(a0 & 0x3f, a1, me, &read),
        CONSOLE_IO if int(a0) == 0 => Some("CONSOLEIO_write"),
        HVM_OP if a0 == 0 => match read(a1 + 4, 4) {
            Some(15 | 37) => Some("HVMOP_set_param VM86_TSS"),
            _ => None,
        },
        DOMCTL => match read(a0, 4) {
            Some(1) => Some("XEN_DOMCTL_createdomain"),
            Some(2) => Some("XEN_DOMCTL_destroydomain"),
            Some(3) => Some("XEN_DOMCTL_pausedomain"),
            _ => None,
        },
        GRANT_TABLE_OP if int(a0) == 0 && maps_over_own_memory(a1, u64::from(int(call.args[2])), &read) => {
            Some("GNTTABOP_map_grant_ref over this kernel's own memory")
        }
        GRANT_TABLE_OP
            if int(a0) == GNTTABOP_TRANSFER
                && any_entry(a1, u64::from(int(call.args[2])), TRANSFER_SIZE, &read, |at| read(at, 8).map(|g| own_range(g, 1))) =>
        {
            Some("GNTTABOP_transfer of this kernel's own page")
        }
        SYSCTL => match read(a0, 4) {
            Some(11) => Some("XEN_SYSCTL_cpu_hotplug"),
            Some(18) => Some("XEN_SYSCTL_cpupool_op"),
            _ => None,
        },
        _ => None,
    }
}

/// Whether `[gfn, gfn + n)` reaches this kernel's own frames (a range that
/// wraps past the top counts: a hypervisor might wrap it too).
fn own_range(gfn: u64, n: u64) -> bool {
    gfn < OWN_GFNS_END || gfn.checked_add(n).is_none()
}

/// Whether domain id `domid` may name this domain.
fn is_me(domid: u64, me: u16) -> bool {
    let d = domid & 0xffff;
    d == u64::from(DOMID_SELF) || d == u64::from(me) || me == DOMID_SELF
}

/// Whether one of `count` entries of `size` bytes at `list` satisfies
/// `hit` (`None`: unreadable, where Xen stops). A list longer than
/// [`MAX_ENTRIES`] that is still readable there counts as a hit: its tail
/// is not looked at, and Xen would go on.
fn any_entry(list: u64, count: u64, size: u64, read: &impl Fn(u64, usize) -> Option<u64>, hit: impl Fn(u64) -> Option<bool>) -> bool {
    for i in 0..count.min(MAX_ENTRIES) {
        match hit(list.wrapping_add(i * size)) {
            None => return false,
            Some(true) => return true,
            Some(false) => {}
        }
    }
    count > MAX_ENTRIES && read(list.wrapping_add(MAX_ENTRIES * size), 1).is_some()
}

/// Whether a `struct xen_memory_reservation` at `r` names one of this
/// domain's own gfns in its extents (decrease_reservation removes them,
/// populate_physmap and exchange's `out` map new pages over them).
fn reservation_hits_own(r: u64, me: u16, read: &impl Fn(u64, usize) -> Option<u64>) -> bool {
    let field = |off: usize, len| read(r.wrapping_add(off as u64), len);
    let (Some(list), Some(count), Some(order), Some(domid)) = (
        field(offset_of!(XenMemoryReservation, extent_start), 8),
        field(offset_of!(XenMemoryReservation, nr_extents), 8),
        field(offset_of!(XenMemoryReservation, extent_order), 4),
        field(offset_of!(XenMemoryReservation, domid), 2),
    ) else {
        return false;
    };
    let pages = 1u64.checked_shl(u32::try_from(order).unwrap_or(u32::MAX)).unwrap_or(u64::MAX);
    is_me(domid, me) && any_entry(list, count, 8, read, |at| read(at, 8).map(|g| own_range(g, pages)))
}

/// The memory_op sub-ops `op` (argument `arg`) that would remove, replace
/// or give away one of this kernel's own pages, by Xen's ABI: named gfns
/// of the caller (`me`) below [`OWN_MEMORY_END`].
fn own_pages(op: u64, arg: u64, me: u16, read: &impl Fn(u64, usize) -> Option<u64>) -> Option<&'static str> {
    let field = |off: usize, len| read(arg.wrapping_add(off as u64), len);
    let hit = match op {
        XENMEM_DECREASE_RESERVATION | XENMEM_POPULATE_PHYSMAP => reservation_hits_own(arg, me, read),
        XENMEM_EXCHANGE => {
            reservation_hits_own(arg.wrapping_add(offset_of!(XenMemoryExchange, r#in) as u64), me, read)
                || reservation_hits_own(arg.wrapping_add(offset_of!(XenMemoryExchange, out) as u64), me, read)
        }
        XENMEM_REMOVE_FROM_PHYSMAP => match (field(offset_of!(XenRemoveFromPhysmap, domid), 2), field(offset_of!(XenRemoveFromPhysmap, gpfn), 8)) {
            (Some(domid), Some(gpfn)) => is_me(domid, me) && own_range(gpfn, 1),
            _ => false,
        },
        // The page at gpfn is replaced; XENMAPSPACE_gmfn(_range) also
        // moves the pages from idx away.
        XENMEM_ADD_TO_PHYSMAP => match (
            field(offset_of!(XenAddToPhysmap, domid), 2),
            field(offset_of!(XenAddToPhysmap, size), 2),
            field(offset_of!(XenAddToPhysmap, space), 4),
            field(offset_of!(XenAddToPhysmap, idx), 8),
            field(offset_of!(XenAddToPhysmap, gpfn), 8),
        ) {
            (Some(domid), Some(size), Some(space), Some(idx), Some(gpfn)) => {
                let n = if space == u64::from(XENMAPSPACE_GMFN_RANGE) { size.max(1) } else { 1 };
                let moves = space == u64::from(XENMAPSPACE_GMFN) || space == u64::from(XENMAPSPACE_GMFN_RANGE);
                let grant_frame = space == u64::from(XENMAPSPACE_GRANT_TABLE) && idx == LEARNED_GRANT_FRAME;
                is_me(domid, me) && (own_range(gpfn, n) || (moves && own_range(idx, n)) || grant_frame)
            }
            _ => false,
        },
        XENMEM_ADD_TO_PHYSMAP_BATCH => match (
            field(offset_of!(XenAddToPhysmapBatch, domid), 2),
            field(offset_of!(XenAddToPhysmapBatch, space), 2),
            field(offset_of!(XenAddToPhysmapBatch, size), 2),
            field(offset_of!(XenAddToPhysmapBatch, idxs), 8),
            field(offset_of!(XenAddToPhysmapBatch, gpfns), 8),
        ) {
            (Some(domid), Some(space), Some(size), Some(idxs), Some(gpfns)) => {
                let moves = space == u64::from(XENMAPSPACE_GMFN) || space == u64::from(XENMAPSPACE_GMFN_RANGE);
                let grant_frames = space == u64::from(XENMAPSPACE_GRANT_TABLE);
                is_me(domid, me)
                    && (any_entry(gpfns, size, 8, read, |at| read(at, 8).map(|g| own_range(g, 1)))
                        || (moves && any_entry(idxs, size, 8, read, |at| read(at, 8).map(|i| own_range(i, 1))))
                        || (grant_frames && any_entry(idxs, size, 8, read, |at| read(at, 8).map(|i| i == LEARNED_GRANT_FRAME))))
            }
            _ => false,
        },
        // Whichever domain owns the resource, its frames are mapped at the
        // caller's gfns in frame_list (an HVM caller).
        XENMEM_ACQUIRE_RESOURCE => match (field(offset_of!(XenMemAcquireResource, nr_frames), 4), field(offset_of!(XenMemAcquireResource, frame_list), 8)) {
            (Some(n), Some(list)) => list != 0 && any_entry(list, n, 8, read, |at| read(at, 8).map(|g| own_range(g, 1))),
            _ => false,
        },
        _ => false,
    };
    hit.then_some(match op {
        XENMEM_DECREASE_RESERVATION => "XENMEM_decrease_reservation of this kernel's own pages",
        XENMEM_POPULATE_PHYSMAP => "XENMEM_populate_physmap over this kernel's own pages",
        XENMEM_EXCHANGE => "XENMEM_exchange of or over this kernel's own pages",
        XENMEM_REMOVE_FROM_PHYSMAP => "XENMEM_remove_from_physmap of this kernel's own page",
        XENMEM_ADD_TO_PHYSMAP | XENMEM_ADD_TO_PHYSMAP_BATCH => "XENMEM_add_to_physmap over or from this kernel's own pages",
        _ => "XENMEM_acquire_resource over this kernel's own pages",
    })
}

/// Whether a map_grant_ref batch at `list` of `count` entries has a
/// readable entry that host-maps at this kernel's own memory (at the first
/// unreadable entry Xen stops too). A list still readable after
/// [`MAX_MAP_ENTRIES`] counts as a hit.
fn maps_over_own_memory(list: u64, count: u64, read: &impl Fn(u64, usize) -> Option<u64>) -> bool {
    for i in 0..count.min(MAX_MAP_ENTRIES) {
        let at = list.wrapping_add(i * MAP_GRANT_REF_SIZE);
        let (Some(host_addr), Some(flags)) = (read(at, 8), read(at.wrapping_add(8), 4)) else { return false };
        if flags & GNTMAP_HOST_MAP != 0 && host_addr < OWN_MEMORY_END {
            return true;
        }
    }
    count > MAX_MAP_ENTRIES && read(list.wrapping_add(MAX_MAP_ENTRIES * MAP_GRANT_REF_SIZE), 1).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(nr: u64, args: [u64; 5]) -> Call {
        Call { nr, args }
    }

    /// A guest memory with one u32 `value` at `addr`.
    fn mem(addr: u64, value: u64) -> impl Fn(u64, usize) -> Option<u64> {
        move |a, _| (a == addr).then_some(value)
    }

    const NOTHING: fn(u64, usize) -> Option<u64> = |_, _| None;
    /// The fuzzer's domain id in these tests.
    const ME: u16 = 0;

    /// Guest memory made of little-endian values written at addresses;
    /// everything else unreadable.
    #[derive(Default)]
    struct Mem(std::collections::BTreeMap<u64, u8>);

    impl Mem {
        fn put(&mut self, addr: u64, len: usize, value: u64) -> &mut Mem {
            for (i, b) in value.to_le_bytes()[..len].iter().enumerate() {
                self.0.insert(addr + i as u64, *b);
            }
            self
        }
        fn read(&self) -> impl Fn(u64, usize) -> Option<u64> + '_ {
            move |addr, len| {
                let mut bytes = [0u8; 8];
                for (i, b) in bytes[..len].iter_mut().enumerate() {
                    *b = *self.0.get(&addr.wrapping_add(i as u64))?;
                }
                Some(u64::from_le_bytes(bytes))
            }
        }
    }

    /// A `xen_memory_reservation` at `at`: `gfns` listed at `list`.
    fn reservation(m: &mut Mem, at: u64, list: u64, gfns: &[u64], order: u64, domid: u64) {
        m.put(at, 8, list).put(at + 8, 8, gfns.len() as u64).put(at + 16, 4, order).put(at + 20, 4, 0).put(at + 24, 2, domid);
        for (i, g) in gfns.iter().enumerate() {
            m.put(list + 8 * i as u64, 8, *g);
        }
    }

    fn memory_op(op: u64, arg: u64) -> Call {
        call(MEMORY_OP, [op, arg, 0, 0, 0])
    }

    #[test]
    fn shutdown_is_excluded_whatever_the_upper_bits() {
        assert!(excluded(&call(SCHED_OP, [2, 0, 0, 0, 0]), ME, NOTHING).is_some());
        assert!(excluded(&call(SCHED_OP, [(7 << 32) | 2, 0, 0, 0, 0]), ME, NOTHING).is_some());
        assert!(excluded(&call(SCHED_OP, [0, 0, 0, 0, 0]), ME, NOTHING).is_none());
    }

    #[test]
    fn reservations_naming_own_gfns_are_excluded_others_are_made() {
        for op in [XENMEM_DECREASE_RESERVATION, XENMEM_POPULATE_PHYSMAP] {
            let mut m = Mem::default();
            reservation(&mut m, 0x1000, 0x2000, &[0x5000, 0x200], 0, 0x7ff0);
            assert!(excluded(&memory_op(op, 0x1000), ME, m.read()).is_some(), "op {op}: gfn 0x200 is ours");
            // With a start extent in the command: still the same list.
            assert!(excluded(&memory_op(op | (1 << 6), 0x1000), ME, m.read()).is_some());
            reservation(&mut m, 0x1000, 0x2000, &[0x5000, 0x900], 0, 0x7ff0);
            assert!(excluded(&memory_op(op, 0x1000), ME, m.read()).is_none(), "op {op}: above our memory");
            reservation(&mut m, 0x1000, 0x2000, &[0x5000, 0x200], 0, 3);
            assert!(excluded(&memory_op(op, 0x1000), ME, m.read()).is_none(), "op {op}: another domain's");
            assert!(excluded(&memory_op(op, 0x1000), 3, m.read()).is_some(), "op {op}: our own id");
            // An extent whose pages wrap round to gfn 0, and one whose order reaches nothing of ours.
            reservation(&mut m, 0x1000, 0x2000, &[u64::MAX - 3], 9, 0x7ff0);
            assert!(excluded(&memory_op(op, 0x1000), ME, m.read()).is_some(), "op {op}: wraps");
            reservation(&mut m, 0x1000, 0x2000, &[0x800], 9, 0x7ff0);
            assert!(excluded(&memory_op(op, 0x1000), ME, m.read()).is_none());
        }
        // The struct unreadable: Xen fails the copy, so the call is made.
        assert!(excluded(&memory_op(XENMEM_DECREASE_RESERVATION, 0x1000), ME, NOTHING).is_none());
        assert!(excluded(&memory_op(abi::memory::XENMEM_INCREASE_RESERVATION, 0x1000), ME, NOTHING).is_none());
    }

    #[test]
    fn a_list_is_read_as_far_as_xen_could_read_it() {
        let mut m = Mem::default();
        // Three extents listed, only the first two readable; the third would be ours.
        m.put(0x1000, 8, 0x2000).put(0x1008, 8, 3).put(0x1010, 4, 0).put(0x1018, 2, 0x7ff0);
        m.put(0x2000, 8, 0x900).put(0x2008, 8, 0x901);
        assert!(excluded(&memory_op(XENMEM_POPULATE_PHYSMAP, 0x1000), ME, m.read()).is_none());
        // A readable list longer than the entries looked at counts as ours.
        let mut long = Mem::default();
        long.put(0x1000, 8, 0x10_0000).put(0x1008, 8, MAX_ENTRIES + 1).put(0x1010, 4, 0).put(0x1018, 2, 0x7ff0);
        for i in 0..=MAX_ENTRIES {
            long.put(0x10_0000 + 8 * i, 8, 0x1000 + i);
        }
        assert!(excluded(&memory_op(XENMEM_POPULATE_PHYSMAP, 0x1000), ME, long.read()).is_some());
    }

    #[test]
    fn exchange_is_excluded_for_own_pages_in_or_out() {
        for (in_gfn, out_gfn, hit) in [(0x200, 0x900, true), (0x900, 0x7ff, true), (0x900, 0x901, false)] {
            let mut m = Mem::default();
            reservation(&mut m, 0x1000, 0x2000, &[in_gfn], 0, 0x7ff0);
            reservation(&mut m, 0x1020, 0x3000, &[out_gfn], 0, 0x7ff0);
            assert_eq!(excluded(&memory_op(XENMEM_EXCHANGE, 0x1000), ME, m.read()).is_some(), hit, "{in_gfn:#x} -> {out_gfn:#x}");
        }
    }

    #[test]
    fn remove_from_physmap_of_an_own_gfn_is_excluded() {
        let mut m = Mem::default();
        m.put(0x1000, 2, 0x7ff0).put(0x1008, 8, 0x200);
        assert!(excluded(&memory_op(XENMEM_REMOVE_FROM_PHYSMAP, 0x1000), ME, m.read()).is_some());
        m.put(0x1008, 8, 0x2000);
        assert!(excluded(&memory_op(XENMEM_REMOVE_FROM_PHYSMAP, 0x1000), ME, m.read()).is_none());
        m.put(0x1000, 2, 7).put(0x1008, 8, 0x200);
        assert!(excluded(&memory_op(XENMEM_REMOVE_FROM_PHYSMAP, 0x1000), ME, m.read()).is_none(), "domain 7's gfn");
        assert!(excluded(&memory_op(XENMEM_REMOVE_FROM_PHYSMAP, 0x1000), DOMID_SELF, m.read()).is_some(), "our id unknown: 7 may be us");
    }

    #[test]
    fn add_to_physmap_over_or_from_own_pages_is_excluded() {
        // (space, size, idx, gpfn, excluded)
        let cases = [
            (0, 0, 0, 0x200, true), // shared info over the scratch area
            (0, 0, 0, 0x900, false),
            (XENMAPSPACE_GMFN, 0, 0x200, 0x900, true), // moves our page away
            (1, 0, 0x200, 0x900, false),               // grant frame 0x200: an index, not a gfn
            (1, 0, 0, 0x900, true),                    // moves the learned grant frame away from 0x300
            (XENMAPSPACE_GMFN_RANGE, 0x10, 0x5, 0x900, true),
            (XENMAPSPACE_GMFN_RANGE, 0x10, 0x900, 0x7f8, true),
            (XENMAPSPACE_GMFN_RANGE, 0x10, 0x900, 0x1000, false),
        ];
        for (space, size, idx, gpfn, hit) in cases {
            let mut m = Mem::default();
            m.put(0x1000, 2, 0x7ff0).put(0x1002, 2, size).put(0x1004, 4, u64::from(space)).put(0x1008, 8, idx).put(0x1010, 8, gpfn);
            let got = excluded(&memory_op(XENMEM_ADD_TO_PHYSMAP, 0x1000), ME, m.read()).is_some();
            assert_eq!(got, hit, "space {space} idx {idx:#x} gpfn {gpfn:#x}");
        }
    }

    #[test]
    fn add_to_physmap_batch_over_or_from_own_pages_is_excluded() {
        let batch = |space: u32, idxs: [u64; 2], gpfns: [u64; 2]| {
            let mut m = Mem::default();
            m.put(0x1000, 2, 0x7ff0).put(0x1002, 2, u64::from(space)).put(0x1004, 2, 2).put(0x1006, 2, 0);
            m.put(0x1008, 8, 0x2000).put(0x1010, 8, 0x3000).put(0x1018, 8, 0x4000);
            for i in 0..2 {
                m.put(0x2000 + 8 * i as u64, 8, idxs[i]).put(0x3000 + 8 * i as u64, 8, gpfns[i]);
            }
            excluded(&memory_op(XENMEM_ADD_TO_PHYSMAP_BATCH, 0x1000), ME, m.read()).is_some()
        };
        assert!(batch(4, [1, 2], [0x900, 0x300]), "a foreign page over our gfn 0x300");
        assert!(!batch(4, [1, 2], [0x900, 0x901]));
        assert!(batch(XENMAPSPACE_GMFN, [0x901, 0x100], [0x900, 0x902]), "moves our kernel's first page");
        assert!(!batch(4, [0x901, 0x100], [0x900, 0x902]), "foreign: the idxs are the other domain's");
        assert!(batch(1, [3, 0], [0x900, 0x902]), "moves the learned grant frame 0");
        assert!(!batch(1, [3, 1], [0x900, 0x902]));
    }

    #[test]
    fn acquire_resource_into_own_gfns_is_excluded() {
        let mut m = Mem::default();
        m.put(0x1000, 2, 1).put(0x1008, 4, 2).put(0x1018, 8, 0x2000).put(0x2000, 8, 0x900).put(0x2008, 8, 0x201);
        assert!(excluded(&memory_op(XENMEM_ACQUIRE_RESOURCE, 0x1000), ME, m.read()).is_some());
        m.put(0x2008, 8, 0x902);
        assert!(excluded(&memory_op(XENMEM_ACQUIRE_RESOURCE, 0x1000), ME, m.read()).is_none());
    }

    #[test]
    fn grant_transfer_of_an_own_page_is_excluded() {
        let mut m = Mem::default();
        m.put(0x1000, 8, 0x900).put(0x1018, 8, 0x250);
        assert!(excluded(&call(GRANT_TABLE_OP, [4, 0x1000, 2, 0, 0]), ME, m.read()).is_some());
        assert!(excluded(&call(GRANT_TABLE_OP, [4, 0x1000, 1, 0, 0]), ME, m.read()).is_none());
    }

    #[test]
    fn domctl_is_judged_by_the_struct_in_memory() {
        let c = call(DOMCTL, [0x1000, 0, 0, 0, 0]);
        assert!(excluded(&c, ME, mem(0x1000, 3)).is_some());
        assert!(excluded(&c, ME, mem(0x1000, 5)).is_none());
        assert!(excluded(&c, ME, NOTHING).is_none());
    }

    #[test]
    fn set_param_of_vm86_tss_is_excluded() {
        let c = call(HVM_OP, [0, 0x2000, 0, 0, 0]);
        assert!(excluded(&c, ME, mem(0x2004, 15)).is_some());
        assert!(excluded(&c, ME, mem(0x2004, 0)).is_none());
        // hvm_op's op is an unsigned long: 1 << 32 is not HVMOP_set_param.
        assert!(excluded(&call(HVM_OP, [1 << 32, 0x2000, 0, 0, 0]), ME, mem(0x2004, 15)).is_none());
    }

    #[test]
    fn numbers_past_the_table_are_not_confused_with_sched_op() {
        assert!(excluded(&call((1 << 32) | SCHED_OP, [2, 0, 0, 0, 0]), ME, NOTHING).is_none());
    }

    #[test]
    fn grant_maps_over_own_memory_are_excluded() {
        // One entry at 0x100: host_addr 0x202000, flags host_map.
        let read = |addr: u64, len: usize| match (addr, len) {
            (0x100, 8) => Some(0x20_2000),
            (0x108, 4) => Some(GNTMAP_HOST_MAP),
            (0x120, 8) => Some(0x900_0000),
            (0x128, 4) => Some(GNTMAP_HOST_MAP),
            _ => None,
        };
        assert!(excluded(&call(GRANT_TABLE_OP, [0, 0x100, 1, 0, 0]), ME, read).is_some());
        assert!(excluded(&call(GRANT_TABLE_OP, [0, 0x120, 1, 0, 0]), ME, read).is_none(), "above our memory");
        assert!(excluded(&call(GRANT_TABLE_OP, [1, 0x100, 1, 0, 0]), ME, read).is_none(), "not a map");
        assert!(excluded(&call(GRANT_TABLE_OP, [0, 0x100, 0, 0, 0]), ME, read).is_none(), "no entries");
    }

    #[test]
    fn long_grant_map_batches_are_looked_at_to_their_end() {
        // 5000 harmless entries from 0x1000, then one over our memory.
        let harmful = 0x1000 + 5000 * MAP_GRANT_REF_SIZE;
        let read = |addr: u64, len: usize| match addr {
            a if a == harmful => Some(0x10_3000),
            a if a == harmful + 8 && len == 4 => Some(GNTMAP_HOST_MAP),
            a if a >= 0x1000 && a < harmful + MAP_GRANT_REF_SIZE => Some(0x900_0000),
            _ => None,
        };
        assert!(excluded(&call(GRANT_TABLE_OP, [0, 0x1000, 5001, 0, 0]), ME, read).is_some());
        assert!(excluded(&call(GRANT_TABLE_OP, [0, 0x1000, 5000, 0, 0]), ME, read).is_none());
        // Readable past the bound: not looked at, so not made.
        let endless = |_: u64, _: usize| Some(0x900_0000);
        assert!(excluded(&call(GRANT_TABLE_OP, [0, 0x1000, 0x7fff_ffff, 0, 0]), ME, endless).is_some());
    }
}
