//! `HYPERVISOR_grant_table_op(cmd, uop, count)` (grant_table.h) for HVM and
//! PVH guests, as Xen 4.17's `hvm_grant_table_op` and `do_grant_table_op`
//! (xen/common/grant_table.c): version-1 tables, translated callers.
//!
//! | cmd | here |
//! |---|---|
//! | `GNTTABOP_query_size` (6) | count must be 1 (-EINVAL); `status` says `GNTST_bad_domain` / `GNTST_permission_denied` (another domain without privilege) |
//! | `GNTTABOP_setup_table` (2) | count 1 (a 32-bit caller's 0 does nothing, as Xen's compat path); grows the table; lists the gfn each frame is mapped at, or `INVALID_GFN`; `GNTST_general_error` past the 64-frame limit |
//! | `GNTTABOP_get_version` (10) | 1; -ESRCH, -EPERM as Xen |
//! | `GNTTABOP_set_version` (8) | 1 is accepted; 2 -ENOSYS (version 2 not offered, Xen's answer for a version-1 domain); others -EINVAL; writes back the version in use |
//! | `GNTTABOP_map_grant_ref` (0) | `GNTMAP_host_map` (+ `readonly`) at a gfn of the caller (`host_addr`); device/application/PTE maps `GNTST_general_error`; handles from the maptrack |
//! | `GNTTABOP_unmap_grant_ref` (1) | by handle; `host_addr` 0 leaves the mapping |
//! | `GNTTABOP_copy` (5) | grant references of other domains or the caller's own gfns (`DOMID_SELF` only); per-op `status` |
//! | `GNTTABOP_swap_grant_ref` (11) | two of the caller's entries not in use (`GNTST_eagain` if pinned) |
//! | `dump_table`, `transfer`, `unmap_and_replace`, `get_status_frames`, `cache_flush`, any other or with continuation bits | -ENOSYS (not for HVM guests) |
//!
//! A count with bit 31 set is -EINVAL. Batches stop at the first entry that
//! cannot be read or written back (-EFAULT); each op's own result is its
//! `status`. A batch runs what the exit's budget pays for (256 entries, an
//! op each), then continues (Xen's
//! hypercall continuation: the guest's uop and count registers move on and
//! the same call runs again), so no batch holds the CPU for its whole length.
//!
//! Granted frames stay valid while in use: the granter's entry keeps
//! `GTF_reading`/`GTF_writing`, and its active entry holds the frame as a
//! `PinnedFrame` (a reference in `mm::foreign`) while pinned; each mapping
//! and each end of a copy holds a pin of its own. So if its owner frees it
//! or dies, the last of these frees it (Xen keeps the page until unmapped,
//! too), and the hypervisor only copies between frames it holds pinned. [`release_domain`] undoes a
//! dying domain's mappings and tells its mappers their granter is gone.
//!
//! A domain may map its own grant, even over the gfn it granted: the frame
//! is referenced before that gfn is cleared, so it lives on as the grant
//! mapping until the unmap frees it (`domain::physmap`). Known difference:
//! mapped at another gfn, the frame stays at its own gfn as well; Xen's p2m
//! removes that alias.

use alloc::vec::Vec;

use abi::errno::Errno;
use abi::grant_table::*;
use abi::xen::DOMID_SELF;

use super::{Caller, DomainOps, Outcome, read_arg, write_arg};
use crate::mm::handle::PinnedFrame;
use crate::domain::grant::{
    Active, ENTRIES_PER_FRAME, Mapping, PIN_DEV_READ, PIN_DEV_WRITE, PIN_DEV_WRITE_MASK, PIN_HOST_READ, PIN_HOST_WRITE,
    PIN_HOST_WRITE_MASK, pin_overflow_mask,
};

/// `INVALID_GFN` in a frame list: that frame is not mapped anywhere.
const INVALID_GFN: u64 = !0;
/// Retries of a compare-exchange on an entry the guest keeps changing
/// (Xen gives up after five tries too).
const CMPXCHG_RETRIES: u32 = 4;
/// A 32-bit caller's copy ops are read this many at a time before any of
/// them runs (Xen's compat translation area: 8 KiB of native ops).
const COMPAT_COPY_CHUNK: u64 = 8192 / 40;
const PAGE: usize = 4096;

pub fn grant_table_op(caller: &mut impl Caller, cmd: u64, uop: u64, count: u64) -> Outcome {
    match cmd {
        GNTTABOP_QUERY_SIZE | GNTTABOP_SETUP_TABLE | GNTTABOP_SET_VERSION | GNTTABOP_GET_VERSION | GNTTABOP_COPY
        | GNTTABOP_MAP_GRANT_REF | GNTTABOP_UNMAP_GRANT_REF | GNTTABOP_SWAP_GRANT_REF => {}
        // Everything else needs auditing for HVM guests (Xen's words).
        _ => return Outcome::err(Errno::ENOSYS),
    }
    // `count` is an int to Xen.
    if count >= 1 << 31 {
        return Outcome::err(Errno::EINVAL);
    }
    // Batches run as many entries as the exit's budget pays for, then
    // continue where they stopped (Xen's hypercall continuation: uop and
    // count move).
    let entry = match cmd {
        GNTTABOP_MAP_GRANT_REF => core::mem::size_of::<GnttabMapGrantRef>(),
        GNTTABOP_UNMAP_GRANT_REF => core::mem::size_of::<GnttabUnmapGrantRef>(),
        GNTTABOP_SWAP_GRANT_REF => core::mem::size_of::<GnttabSwapGrantRef>(),
        GNTTABOP_COPY if caller.compat() => core::mem::size_of::<CompatGnttabCopy>(),
        GNTTABOP_COPY => core::mem::size_of::<GnttabCopy>(),
        _ => 0,
    } as u64;
    let now = if entry > 0 { caller.budget().take(count, 1) } else { count };
    let (count, rest) = (now, count - now);
    let result = match cmd {
        GNTTABOP_QUERY_SIZE => query_size(caller, uop, count),
        GNTTABOP_SETUP_TABLE if caller.compat() => compat_setup_table(caller, uop, count),
        GNTTABOP_SETUP_TABLE => setup_table(caller, uop, count),
        GNTTABOP_SET_VERSION => set_version(caller, uop),
        GNTTABOP_GET_VERSION => get_version(caller, uop),
        GNTTABOP_COPY => copy_batch(caller, uop, count),
        GNTTABOP_MAP_GRANT_REF => map_batch(caller, uop, count),
        GNTTABOP_UNMAP_GRANT_REF => unmap_batch(caller, uop, count),
        _ => swap_batch(caller, uop, count),
    };
    match result {
        Ok(()) if rest > 0 => Outcome::Continue([cmd, uop.wrapping_add(count * entry), rest]),
        Ok(()) => Outcome::Return(0),
        Err(e) => Outcome::err(e),
    }
}


/// Xen's `rcu_lock_domain_by_any_id` then the XSM_TARGET check: the
/// domain `dom` names (`DOMID_SELF` too), if the caller may act on it.
fn target(caller: &mut impl Caller, dom: u16) -> Result<&mut dyn DomainOps, i16> {
    super::target_domain(caller, dom).map_err(|e| if e == Errno::EPERM { GNTST_PERMISSION_DENIED } else { GNTST_BAD_DOMAIN })
}

fn nr_entries(d: &dyn DomainOps) -> u32 {
    d.grant_frames() * ENTRIES_PER_FRAME
}

fn query_size(caller: &mut impl Caller, uop: u64, count: u64) -> Result<(), Errno> {
    if count != 1 {
        return Err(Errno::EINVAL);
    }
    let mut op: GnttabQuerySize = read_arg(caller, uop)?;
    match target(caller, op.dom) {
        Ok(d) => {
            op.nr_frames = d.grant_frames();
            op.max_nr_frames = d.grant().max_frames;
            op.status = GNTST_OKAY;
        }
        Err(status) => op.status = status,
    }
    write_arg(caller, uop, &op)
}

/// Grows `dom`'s table to `nr_frames` and lists where its first
/// `nr_frames` frames are mapped.
fn setup(caller: &mut impl Caller, dom: u16, nr_frames: u32) -> Result<Vec<u64>, i16> {
    let d = target(caller, dom)?;
    if nr_frames > d.grant().max_frames {
        return Err(GNTST_GENERAL_ERROR);
    }
    if nr_frames > d.grant_frames() && d.grant_grow(nr_frames).is_err() {
        return Err(GNTST_GENERAL_ERROR);
    }
    Ok((0..nr_frames).map(|i| d.grant_frame_gfn(i).unwrap_or(INVALID_GFN)).collect())
}

fn setup_table(caller: &mut impl Caller, uop: u64, count: u64) -> Result<(), Errno> {
    if count != 1 {
        return Err(Errno::EINVAL);
    }
    let op: GnttabSetupTable = read_arg(caller, uop)?;
    let status = match setup(caller, op.dom, op.nr_frames) {
        Ok(gfns) => {
            let mut status = GNTST_OKAY;
            for (i, gfn) in gfns.iter().enumerate() {
                if write_arg(caller, op.frame_list.wrapping_add(i as u64 * 8), gfn).is_err() {
                    status = GNTST_BAD_VIRT_ADDR;
                }
            }
            status
        }
        Err(status) => status,
    };
    write_arg(caller, uop + core::mem::offset_of!(GnttabSetupTable, status) as u64, &status)
}

/// Xen's compat path: more than one is -EINVAL, none does nothing; frames
/// are listed as 32-bit numbers; the whole struct is written back.
fn compat_setup_table(caller: &mut impl Caller, uop: u64, count: u64) -> Result<(), Errno> {
    if count > 1 {
        return Err(Errno::EINVAL);
    }
    if count == 0 {
        return Ok(());
    }
    let mut op: CompatGnttabSetupTable = read_arg(caller, uop)?;
    op.status = match setup(caller, op.dom, op.nr_frames) {
        Ok(gfns) => {
            let mut status = GNTST_OKAY;
            for (i, gfn) in gfns.iter().enumerate() {
                #[allow(clippy::cast_possible_truncation, reason = "a 32-bit guest's xen_pfn_t, as Xen truncates it")]
                let frame = *gfn as u32;
                if write_arg(caller, u64::from(op.frame_list).wrapping_add(i as u64 * 4), &frame).is_err() {
                    status = GNTST_BAD_VIRT_ADDR;
                }
            }
            status
        }
        Err(status) => status,
    };
    write_arg(caller, uop, &op)
}

fn set_version(caller: &mut impl Caller, uop: u64) -> Result<(), Errno> {
    let mut op: GnttabSetVersion = read_arg(caller, uop)?;
    let result = match op.version {
        1 => Ok(()),
        // "Behave as before set_version was introduced" (max version 1).
        2 => Err(Errno::ENOSYS),
        _ => Err(Errno::EINVAL),
    };
    op.version = caller.this().grant().version;
    write_arg(caller, uop, &op)?;
    result
}

fn get_version(caller: &mut impl Caller, uop: u64) -> Result<(), Errno> {
    let op: GnttabGetVersion = read_arg(caller, uop)?;
    let version = match target(caller, op.dom) {
        Ok(d) => d.grant().version,
        Err(GNTST_BAD_DOMAIN) => return Err(Errno::ESRCH),
        Err(_) => return Err(Errno::EPERM),
    };
    write_arg(caller, uop + core::mem::offset_of!(GnttabGetVersion, version) as u64, &version)
}

fn swap_batch(caller: &mut impl Caller, uop: u64, count: u64) -> Result<(), Errno> {
    const SIZE: u64 = core::mem::size_of::<GnttabSwapGrantRef>() as u64;
    for i in 0..count {
        let at = uop.wrapping_add(i * SIZE);
        let op: GnttabSwapGrantRef = read_arg(caller, at)?;
        let status = swap(caller.this(), op.ref_a, op.ref_b);
        write_arg(caller, at.wrapping_add(core::mem::offset_of!(GnttabSwapGrantRef, status) as u64), &status)?;
    }
    Ok(())
}

fn swap(d: &mut dyn DomainOps, a: u32, b: u32) -> i16 {
    let nr = nr_entries(d);
    if a >= nr || b >= nr {
        return GNTST_BAD_GNTREF;
    }
    if a == b {
        return GNTST_OKAY;
    }
    if d.grant().pin(a) != 0 || d.grant().pin(b) != 0 {
        return GNTST_EAGAIN;
    }
    let (Some(ea), Some(eb)) = (d.grant_entry(a), d.grant_entry(b)) else { return GNTST_BAD_GNTREF };
    d.grant_entry_set(a, eb);
    d.grant_entry_set(b, ea);
    GNTST_OKAY
}

/// Xen's `_set_status_v1`: marks entry `gref` of `rd` in use for reading
/// (and writing) by `ldom`, checking it grants that to `ldom` unless it is
/// pinned already. `mapping` also refuses sub-page grants.
fn set_status(rd: &mut dyn DomainOps, gref: u32, pinned: bool, readonly: bool, mapping: bool, ldom: u16) -> Result<(), i16> {
    let mask = GTF_TYPE_MASK | if mapping { GTF_SUB_PAGE } else { 0 };
    #[allow(clippy::cast_possible_truncation, reason = "flags and domid are the entry's low 32 bits")]
    let mut seen = rd.grant_entry(gref).ok_or(GNTST_BAD_GNTREF)? as u32;
    for retry in 0.. {
        #[allow(clippy::cast_possible_truncation, reason = "flags are the low 16 bits")]
        let flags = seen as u16;
        let domid = (seen >> 16) as u16;
        if !pinned && ((flags & mask) != GTF_PERMIT_ACCESS || domid != ldom) {
            return Err(GNTST_GENERAL_ERROR);
        }
        let mut new_flags = flags | GTF_READING;
        if !readonly {
            if flags & GTF_READONLY != 0 {
                return Err(GNTST_GENERAL_ERROR);
            }
            new_flags |= GTF_WRITING;
        }
        let new = (seen & 0xffff_0000) | u32::from(new_flags);
        let prev = rd.grant_entry_cmpxchg(gref, seen, new);
        if prev == seen {
            return Ok(());
        }
        if retry == CMPXCHG_RETRIES {
            break;
        }
        seen = prev;
    }
    // The guest keeps changing the entry under us.
    Err(GNTST_GENERAL_ERROR)
}

/// Xen's `reduce_status_for_pin`: drop the flags the pins no longer need.
fn reduce_status(rd: &mut dyn DomainOps, gref: u32, readonly: bool) {
    let pin = rd.grant().pin(gref);
    let mut clear = if pin == 0 { GTF_READING } else { 0 };
    if !readonly && pin & (PIN_HOST_WRITE_MASK | PIN_DEV_WRITE_MASK) == 0 {
        clear |= GTF_WRITING;
    }
    if clear != 0 {
        rd.grant_entry_clear(gref, clear);
    }
}

/// Takes `incr` more pins on entry `gref` of `rd` for `ldom` (marking the
/// entry in use first if needed); returns the frame granted, pinned for the
/// caller (the active entry holds a pin of its own while it is in use).
/// Xen's shared part of `map_grant_ref` and `acquire_grant_for_copy`.
fn acquire(rd: &mut dyn DomainOps, gref: u32, ldom: u16, readonly: bool, mapping: bool, incr: u32) -> Result<PinnedFrame, i16> {
    if gref >= nr_entries(rd) {
        return Err(GNTST_BAD_GNTREF);
    }
    let (pin, domid) = rd.grant().active.get(&gref).map_or((0, ldom), |a| (a.pin, a.domid));
    if pin != 0 && (domid != ldom || pin & pin_overflow_mask(incr) != 0) {
        return Err(GNTST_GENERAL_ERROR);
    }
    let mut fresh = None;
    if pin == 0 || (!readonly && pin & (PIN_HOST_WRITE_MASK | PIN_DEV_WRITE_MASK) == 0) {
        set_status(rd, gref, pin != 0, readonly, mapping, ldom)?;
        // The frame is read after the entry is marked in use: from then on
        // the granter may not change it (the grant protocol).
        let frame = rd.grant_entry(gref).map_or(0, |e| e >> 32);
        match rd.ram_frame(frame, !readonly) {
            Some(f) => fresh = Some(f),
            None => {
                reduce_status(rd, gref, readonly);
                return Err(GNTST_BAD_PAGE);
            }
        }
    }
    let grant = rd.grant();
    let held = match (grant.active.remove(&gref), fresh) {
        (None, Some(f)) => f,
        // An upgrade to writing: the same frame, now held writable.
        (Some(a), Some(f)) if f.mfn() == a.frame.mfn() => f,
        (Some(a), _) => a.frame,
        (None, None) => return Err(GNTST_GENERAL_ERROR),
    };
    let Some(handle) = held.try_clone() else {
        if pin != 0 {
            grant.active.insert(gref, Active { pin, domid: ldom, frame: held });
        }
        reduce_status(rd, gref, readonly);
        return Err(GNTST_GENERAL_ERROR);
    };
    // At most one entry per pinned grant, and pins are bounded by the
    // pinners' maptrack (MAX_MAPTRACK each) plus one copy in progress.
    grant.active.insert(gref, Active { pin: pin + incr, domid: ldom, frame: held });
    Ok(handle)
}

/// Gives back `incr` pins on entry `gref` of `rd`.
fn release(rd: &mut dyn DomainOps, gref: u32, readonly: bool, incr: u32) {
    let grant = rd.grant();
    if let Some(a) = grant.active.get_mut(&gref) {
        a.pin = a.pin.saturating_sub(incr);
        if a.pin == 0 {
            grant.active.remove(&gref);
        }
    }
    reduce_status(rd, gref, readonly);
}

fn map_batch(caller: &mut impl Caller, uop: u64, count: u64) -> Result<(), Errno> {
    const SIZE: u64 = core::mem::size_of::<GnttabMapGrantRef>() as u64;
    for i in 0..count {
        let at = uop.wrapping_add(i * SIZE);
        let mut op: GnttabMapGrantRef = read_arg(caller, at)?;
        map_one(caller, &mut op);
        write_arg(caller, at, &op)?;
    }
    Ok(())
}

/// Xen's `map_grant_ref` for a translated caller.
fn map_one(caller: &mut impl Caller, op: &mut GnttabMapGrantRef) {
    let readonly = op.flags & GNTMAP_READONLY != 0;
    let mut incr = 0;
    if op.flags & GNTMAP_DEVICE_MAP != 0 {
        incr += if readonly { PIN_DEV_READ } else { PIN_DEV_WRITE };
    }
    if op.flags & GNTMAP_HOST_MAP != 0 {
        incr += if readonly { PIN_HOST_READ } else { PIN_HOST_WRITE };
    }
    if incr == 0 {
        op.status = GNTST_BAD_GNTREF;
        return;
    }
    // No device, user-space or PTE mappings in an HVM domain.
    if op.flags & (GNTMAP_DEVICE_MAP | GNTMAP_APPLICATION_MAP | GNTMAP_CONTAINS_PTE) != 0 {
        op.status = GNTST_GENERAL_ERROR;
        return;
    }
    let ldom = caller.domid();
    if caller.domain_exact(op.dom).is_none() {
        op.status = GNTST_BAD_DOMAIN;
        return;
    }
    let Some(handle) = caller.this().grant().free_handle() else {
        op.status = GNTST_NO_SPACE;
        return;
    };
    let Some(rd) = caller.domain_exact(op.dom) else { return };
    let frame = match acquire(rd, op.r#ref, ldom, readonly, true, incr) {
        Ok(frame) => frame,
        Err(status) => {
            op.status = status;
            return;
        }
    };
    let mfn = frame.mfn().raw();
    // Xen's create_grant_p2m_mapping: a host mapping and nothing else, at
    // the gfn of `host_addr`. The pin goes to the mapping.
    let gfn = op.host_addr >> 12;
    let mapped = if op.flags & !GNTMAP_READONLY != GNTMAP_HOST_MAP {
        false
    } else {
        caller.this().map_grant(gfn, frame, readonly).is_ok()
    };
    if !mapped {
        if let Some(rd) = caller.domain_exact(op.dom) {
            release(rd, op.r#ref, readonly, incr);
        }
        op.status = GNTST_GENERAL_ERROR;
        return;
    }
    let mapping = Mapping { domid: op.dom, gref: op.r#ref, flags: op.flags, gfn, mfn, granter_gone: false };
    if caller.this().grant().track(handle, mapping).is_err() {
        // No heap for the handle: undo the mapping and the pin.
        let _ = caller.this().unmap_grant(gfn, mfn);
        if let Some(rd) = caller.domain_exact(op.dom) {
            release(rd, op.r#ref, readonly, incr);
        }
        op.status = GNTST_NO_SPACE;
        return;
    }
    op.dev_bus_addr = mfn << 12;
    op.handle = handle;
    op.status = GNTST_OKAY;
}

fn unmap_batch(caller: &mut impl Caller, uop: u64, count: u64) -> Result<(), Errno> {
    const SIZE: u64 = core::mem::size_of::<GnttabUnmapGrantRef>() as u64;
    for i in 0..count {
        let at = uop.wrapping_add(i * SIZE);
        let op: GnttabUnmapGrantRef = read_arg(caller, at)?;
        let status = unmap_one(caller, op.handle, op.host_addr);
        write_arg(caller, at.wrapping_add(core::mem::offset_of!(GnttabUnmapGrantRef, status) as u64), &status)?;
    }
    Ok(())
}

/// Xen's `unmap_common` and `unmap_common_complete` for a host mapping.
fn unmap_one(caller: &mut impl Caller, handle: u32, host_addr: u64) -> i16 {
    let Some(Some(m)) = caller.this().grant().maptrack.get(handle as usize).copied() else {
        return GNTST_BAD_HANDLE;
    };
    if !m.granter_gone {
        match caller.domain_exact(m.domid) {
            Some(rd) if m.gref < nr_entries(rd) => {}
            _ => return GNTST_BAD_HANDLE,
        }
    }
    // A zero address leaves the host mapping (and the handle) alone.
    if host_addr == 0 || m.flags & GNTMAP_HOST_MAP == 0 {
        return GNTST_OKAY;
    }
    if caller.this().unmap_grant(host_addr >> 12, m.mfn).is_err() {
        return GNTST_GENERAL_ERROR;
    }
    caller.this().grant().untrack(handle);
    if !m.granter_gone
        && let Some(rd) = caller.domain_exact(m.domid)
    {
        let readonly = m.flags & GNTMAP_READONLY != 0;
        release(rd, m.gref, readonly, if readonly { PIN_HOST_READ } else { PIN_HOST_WRITE });
    }
    GNTST_OKAY
}

/// One end of a copy, in the native layout.
#[derive(Clone, Copy)]
struct End {
    u: u64,
    domid: u16,
    offset: u16,
    is_gref: bool,
}

fn copy_batch(caller: &mut impl Caller, uop: u64, count: u64) -> Result<(), Errno> {
    if caller.compat() {
        return compat_copy_batch(caller, uop, count);
    }
    const SIZE: u64 = core::mem::size_of::<GnttabCopy>() as u64;
    for i in 0..count {
        let at = uop.wrapping_add(i * SIZE);
        let op: GnttabCopy = read_arg(caller, at)?;
        let source = End { u: op.source.u, domid: op.source.domid, offset: op.source.offset, is_gref: op.flags & GNTCOPY_SOURCE_GREF != 0 };
        let dest = End { u: op.dest.u, domid: op.dest.domid, offset: op.dest.offset, is_gref: op.flags & GNTCOPY_DEST_GREF != 0 };
        let status = copy_one(caller, source, dest, op.len);
        write_arg(caller, at.wrapping_add(core::mem::offset_of!(GnttabCopy, status) as u64), &status)?;
    }
    Ok(())
}

/// Xen's compat path reads a chunk of ops before running any of them, so
/// an unreadable op stops its whole chunk; every status is then written.
fn compat_copy_batch(caller: &mut impl Caller, uop: u64, count: u64) -> Result<(), Errno> {
    const SIZE: u64 = core::mem::size_of::<CompatGnttabCopy>() as u64;
    let mut first = 0;
    while first < count {
        let n = (count - first).min(COMPAT_COPY_CHUNK);
        let mut ops = Vec::new();
        for i in first..first + n {
            ops.push(read_arg::<CompatGnttabCopy>(caller, uop.wrapping_add(i * SIZE))?);
        }
        let mut fault = false;
        for (i, op) in (first..).zip(ops) {
            let source = End { u: op.source.u.into(), domid: op.source.domid, offset: op.source.offset, is_gref: op.flags & GNTCOPY_SOURCE_GREF != 0 };
            let dest = End { u: op.dest.u.into(), domid: op.dest.domid, offset: op.dest.offset, is_gref: op.flags & GNTCOPY_DEST_GREF != 0 };
            let status = copy_one(caller, source, dest, op.len);
            let at = uop.wrapping_add(i * SIZE + core::mem::offset_of!(CompatGnttabCopy, status) as u64);
            fault |= write_arg(caller, at, &status).is_err();
        }
        if fault {
            return Err(Errno::EFAULT);
        }
        first += n;
    }
    Ok(())
}

/// A frame one end of a copy holds, and what to give back afterwards.
struct Claimed {
    frame: PinnedFrame,
    /// The grant pinned: (domain, gref, read-only).
    grant: Option<(u16, u32, bool)>,
}

/// Xen's `gnttab_copy_lock_domain`: only `DOMID_SELF` may name a frame
/// directly; returns the domain's id.
fn lock_domain(caller: &mut impl Caller, end: End) -> Result<u16, i16> {
    if end.domid != DOMID_SELF.0 && !end.is_gref {
        return Err(GNTST_PERMISSION_DENIED);
    }
    caller.domain(end.domid).map(|d| d.id()).ok_or(GNTST_BAD_DOMAIN)
}

/// Xen's `gnttab_copy_claim_buf`.
fn claim(caller: &mut impl Caller, domid: u16, end: End, readonly: bool) -> Result<Claimed, i16> {
    let ldom = caller.domid();
    let d = caller.domain(domid).ok_or(GNTST_BAD_DOMAIN)?;
    if end.is_gref {
        #[allow(clippy::cast_possible_truncation, reason = "a grant_ref_t is the union's low 32 bits")]
        let gref = end.u as u32;
        let incr = if readonly { PIN_HOST_READ } else { PIN_HOST_WRITE };
        let frame = acquire(d, gref, ldom, readonly, false, incr)?;
        Ok(Claimed { frame, grant: Some((domid, gref, readonly)) })
    } else {
        let frame = d.ram_frame(end.u, !readonly).ok_or(GNTST_BAD_PAGE)?;
        Ok(Claimed { frame, grant: None })
    }
}

fn unclaim(caller: &mut impl Caller, claimed: &Claimed) {
    if let Some((domid, gref, readonly)) = claimed.grant
        && let Some(d) = caller.domain(domid)
    {
        release(d, gref, readonly, if readonly { PIN_HOST_READ } else { PIN_HOST_WRITE });
    }
}

/// Xen's `gnttab_copy_one` for one op, claiming and releasing both ends.
fn copy_one(caller: &mut impl Caller, source: End, dest: End, len: u16) -> i16 {
    let src_dom = match lock_domain(caller, source) {
        Ok(d) => d,
        Err(status) => return status,
    };
    let dst_dom = match lock_domain(caller, dest) {
        Ok(d) => d,
        Err(status) => return status,
    };
    let src = match claim(caller, src_dom, source, true) {
        Ok(c) => c,
        Err(status) => return status,
    };
    let dst = match claim(caller, dst_dom, dest, false) {
        Ok(c) => c,
        Err(status) => {
            unclaim(caller, &src);
            return status;
        }
    };
    let (len, src_off, dst_off) = (usize::from(len), usize::from(source.offset), usize::from(dest.offset));
    let status = if src_off + len > PAGE || dst_off + len > PAGE {
        GNTST_BAD_COPY_ARG
    } else if caller.copy_frame(&src.frame, src_off, &dst.frame, dst_off, len).is_err() {
        GNTST_GENERAL_ERROR
    } else {
        GNTST_OKAY
    };
    unclaim(caller, &dst);
    unclaim(caller, &src);
    status
}

/// `XENMEM_add_to_physmap` of `XENMAPSPACE_grant_table`: maps shared frame
/// `idx` at `gfn`, growing the table to it first (Xen's
/// `gnttab_map_frame`). A status frame (`XENMAPIDX_grant_table_status`)
/// is -EINVAL for a version-1 table, as in Xen: the bit makes the index
/// too large.
pub fn map_frame(d: &mut dyn DomainOps, idx: u64, gfn: u64) -> Result<(), Errno> {
    // Xen takes the index as an unsigned int.
    #[allow(clippy::cast_possible_truncation, reason = "Xen truncates idx to 32 bits")]
    let idx = idx as u32;
    if idx >= d.grant_frames() {
        let nr = idx.checked_add(1).ok_or(Errno::EINVAL)?;
        if nr <= d.grant().max_frames {
            // A failure shows as the frame still missing.
            let _ = d.grant_grow(nr);
        }
        if idx >= d.grant_frames() {
            return Err(Errno::EINVAL);
        }
    }
    d.map_grant_frame(idx, gfn)
}

/// Xen's `gnttab_release_mappings`, run before domain `id` is destroyed:
/// its mappings of other domains' grants are undone (their pins and
/// flags dropped), and domains mapping its grants are told it is gone, so
/// a later unmap there touches no other domain that reuses the id.
pub fn release_domain(caller: &mut impl Caller, id: u16) {
    let Some(d) = caller.domain_exact(id) else { return };
    let mappings: Vec<Mapping> = core::mem::take(&mut d.grant().maptrack).into_iter().flatten().collect();
    for m in &mappings {
        if let Some(d) = caller.domain_exact(id) {
            // Only if it is still mapped there; a leftover grant mapping
            // is dropped when the p2m is destroyed.
            let _ = d.unmap_grant(m.gfn, m.mfn);
        }
        if !m.granter_gone
            && m.domid != id
            && let Some(rd) = caller.domain_exact(m.domid)
        {
            let readonly = m.flags & GNTMAP_READONLY != 0;
            release(rd, m.gref, readonly, if readonly { PIN_HOST_READ } else { PIN_HOST_WRITE });
        }
    }
    for other in caller.domain_ids(0) {
        if other == id {
            continue;
        }
        if let Some(d) = caller.domain_exact(other) {
            for m in d.grant().maptrack.iter_mut().flatten() {
                if m.domid == id {
                    m.granter_gone = true;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod real_tests;
