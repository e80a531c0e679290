//! A domain's physmap: which frames it owns, which it maps without owning,
//! and when each may be freed. Every rule about freeing a frame a domain
//! has mapped lives here.
//!
//! - A `P2mType::Ram` leaf is a frame the domain owns (counted in
//!   `tot_pages`), except the special frames (shared info, grant-table
//!   frames), which the hypervisor owns and the domain only maps.
//! - `reserved` holds frames it owns and maps nowhere (increase_reservation
//!   on a translated guest: Xen allocates them, the guest can never reach
//!   them); they live on a `mm::FrameStack`, which costs the heap nothing.
//! - `P2mType::GrantMap` and `P2mType::Foreign` leaves map other domains'
//!   frames (or a grant of its own); each holds a reference in
//!   `mm::foreign`, taken *before* anything at the target gfn is removed.
//!   So a domain mapping its own grant over the very gfn it granted (the
//!   frame's owner lets go of it there) leaves the frame to the grant
//!   mapping, which frees it at its unmap, as Xen's page reference does.
//! - Known difference: mapping a grant or a foreign frame over RAM frees
//!   that RAM here (`tot_pages` drops by one); Xen's `p2m_add_page` only
//!   overwrites the entry, so the old page stays allocated to the domain,
//!   counted and mapped nowhere, until the domain dies. Both keep the
//!   granted frame alive until the mapping goes.
//! - A frame is freed only after every p2m that maps it has dropped it:
//!   the owner's release frees a frame still mapped elsewhere only at the
//!   last unmap (`mm::foreign`), and `release_frames` runs only once no
//!   vCPU of the domain runs (`Domain::destroy`).
//! - Nothing here names a frame by number to free or map it: RAM goes into
//!   the p2m as an `OwnedRun` (`P2m::map_ram`), grant and foreign frames as
//!   a `PinnedFrame`, the special frames by their `OwnedFrame`; what an
//!   entry held comes back as an `mm::p2m::Unmapped`, released (after the
//!   flush) or kept by the special frame's owner.

use abi::errno::Errno;

use super::object::Domain;
use crate::bits::to_usize;
use crate::mm::handle::PinnedFrame;
use crate::mm::p2m::{Access, GFN_LIMIT, GUEST_PHYS_BITS, Gfn, P2mError, P2mType, Unmapped};
use crate::mm;

/// Largest extent order a domain may populate or reserve at once (2 MiB).
pub const MAX_ORDER: u32 = 9;

impl Domain {
    /// Frames the domain holds: mapped RAM and reserved-but-unmapped.
    pub fn held_pages(&self) -> u64 {
        self.tot_pages + self.reserved.frames()
    }

    /// Gives the domain `2^order` fresh zeroed RAM frames at `gfn`.
    pub fn populate(&mut self, gfn: u64, order: u32) -> Result<(), Errno> {
        if order > MAX_ORDER {
            return Err(Errno::EINVAL);
        }
        let count = 1u64 << order;
        if !gfn.is_multiple_of(count) {
            return Err(Errno::EINVAL);
        }
        if self.held_pages() + count > self.max_pages {
            return Err(Errno::ENOMEM);
        }
        if (gfn..gfn + count).any(|g| self.p2m.translate(Gfn(g)).is_some()) {
            return Err(Errno::EBUSY);
        }
        let run = mm::alloc_run(to_usize(count), to_usize(count)).ok_or(Errno::ENOMEM)?;
        if let Err((e, run)) = self.p2m.map_ram(Gfn(gfn), run) {
            run.release();
            return Err(match e {
                P2mError::GfnTooLarge(..) => Errno::EINVAL,
                _ => Errno::ENOMEM,
            });
        }
        self.tot_pages += count;
        Ok(())
    }

    /// increase_reservation on a translated guest: `2^order` frames the
    /// domain owns and maps nowhere (-ENOMEM past `max_pages` or when the
    /// machine has none).
    pub fn reserve(&mut self, order: u32) -> Result<(), Errno> {
        if order > MAX_ORDER {
            return Err(Errno::ENOMEM);
        }
        let count = 1u64 << order;
        if self.held_pages() + count > self.max_pages {
            return Err(Errno::ENOMEM);
        }
        if !self.reserved.alloc(count) {
            return Err(Errno::ENOMEM);
        }
        Ok(())
    }

    /// Takes RAM frame `gfn` away from the domain and frees it (unless a
    /// foreign mapping still holds it: `mm::foreign`), or removes another
    /// domain's frame mapped there. -ENOENT if nothing is mapped there,
    /// -EINVAL if it is neither.
    pub fn remove(&mut self, gfn: u64) -> Result<(), Errno> {
        let entry = self.p2m.translate(Gfn(gfn)).ok_or(Errno::ENOENT)?;
        if !matches!(entry.p2m_type, P2mType::Ram | P2mType::Foreign) {
            return Err(Errno::EINVAL);
        }
        match self.p2m.remove(Gfn(gfn)) {
            Ok(Some(foreign)) if foreign.p2m_type() == P2mType::Foreign => {
                self.flush();
                foreign.release();
                Ok(())
            }
            Ok(Some(ram)) => {
                self.flush();
                if let Err(owned) = self.unhook(ram) {
                    owned.release();
                    self.tot_pages -= 1;
                }
                Ok(())
            }
            Ok(None) => Err(Errno::ENOENT),
            Err(_) => Err(Errno::ENOMEM),
        }
    }

    /// Maps the shared-info page at `gfn`, replacing (and freeing) the RAM
    /// frame there, and moving it from where it was mapped before.
    pub fn map_shared_info(&mut self, gfn: u64) -> Result<(), Errno> {
        if Gfn(gfn).gpa() >= 1 << GUEST_PHYS_BITS {
            return Err(Errno::EINVAL);
        }
        if let Some(old) = self.shared_info_gfn.take() {
            if let Ok(Some(old)) = self.p2m.remove(Gfn(old)) {
                let _ = old.keep(&self.shared_info);
            }
            self.flush();
        }
        if let Some(entry) = self.p2m.translate(Gfn(gfn)) {
            match entry.p2m_type {
                P2mType::Ram | P2mType::Foreign => self.remove(gfn)?,
                _ => return Err(Errno::EINVAL),
            }
        }
        self.p2m
            .map_hypervisor_frame(Gfn(gfn), &self.shared_info, Access::READ | Access::WRITE)
            .map_err(|_| Errno::ENOMEM)?;
        self.shared_info_gfn = Some(gfn);
        self.publish_time();
        Ok(())
    }

    /// Moves the RAM frame at `from` to `to`; a RAM frame at `to` is freed.
    pub fn move_frame(&mut self, from: u64, to: u64) -> Result<(), Errno> {
        if from == to {
            return Ok(());
        }
        let entry = self.p2m.translate(Gfn(from)).ok_or(Errno::EINVAL)?;
        if entry.p2m_type != P2mType::Ram || self.is_special_gfn(from) {
            return Err(Errno::EINVAL);
        }
        if Gfn(to).gpa() >= 1 << GUEST_PHYS_BITS {
            return Err(Errno::EINVAL);
        }
        match self.p2m.translate(Gfn(to)) {
            Some(e) if e.p2m_type == P2mType::Ram && !self.is_special_gfn(to) => self.remove(to)?,
            Some(e) if e.p2m_type == P2mType::Foreign => self.remove(to)?,
            Some(_) => return Err(Errno::EINVAL),
            None => {}
        }
        let moved = self.p2m.move_ram(Gfn(from), Gfn(to));
        self.flush();
        match moved {
            Ok(true) => Ok(()),
            Ok(false) => Err(Errno::EINVAL),
            Err(_) => Err(Errno::ENOMEM),
        }
    }

    /// Maps `frame`, another domain's RAM frame, at `gfn` (Xen's
    /// `p2m_add_foreign`): RAM or a foreign frame there is removed first,
    /// device memory and firmware are refused (-EPERM), and so is a grant
    /// mapping (-EINVAL: its maptrack handle names it; Xen's
    /// guest_remove_page fails on a page the domain does not own). The pin
    /// is taken before anything at `gfn` is removed and becomes this
    /// mapping's reference: the frame stays allocated until it goes.
    pub fn map_foreign(&mut self, gfn: u64, frame: PinnedFrame) -> Result<(), Errno> {
        if gfn >= GFN_LIMIT {
            return Err(Errno::EINVAL);
        }
        match self.p2m.translate(Gfn(gfn)).map(|e| e.p2m_type) {
            Some(P2mType::MmioPassthrough | P2mType::ReadOnlyFirmware) => return Err(Errno::EPERM),
            Some(P2mType::GrantMap) => return Err(Errno::EINVAL),
            _ => {}
        }
        let cleared = match self.p2m.translate(Gfn(gfn)).map(|e| e.p2m_type) {
            Some(P2mType::EmulatedMmio) => match self.p2m.remove(Gfn(gfn)) {
                Ok(hole) => {
                    self.flush();
                    hole.into_iter().for_each(|h| h.release());
                    Ok(())
                }
                Err(_) => Err(Errno::ENOMEM),
            },
            Some(_) => self.remove(gfn),
            None => Ok(()),
        };
        self.enter_reference(gfn, frame, P2mType::Foreign, Access::all(), cleared)
    }

    /// Maps `frame`, granted to the domain (possibly by itself), at `gfn`
    /// (read-only or not), as Xen's `create_grant_p2m_mapping`. The frame
    /// is pinned before `gfn` is cleared, so when `gfn` holds that very
    /// frame (a domain mapping its own grant over itself) the owner's
    /// release there only leaves the frame to this mapping, which frees it
    /// at its unmap.
    pub fn map_grant(&mut self, gfn: u64, frame: PinnedFrame, readonly: bool) -> Result<(), Errno> {
        if gfn >= GFN_LIMIT {
            return Err(Errno::EINVAL);
        }
        if !readonly && !frame.writable() {
            return Err(Errno::EINVAL);
        }
        let cleared = self.clear_for_mapping(gfn);
        let access = if readonly { Access::READ } else { Access::READ | Access::WRITE };
        self.enter_reference(gfn, frame, P2mType::GrantMap, access, cleared)
    }

    /// Removes the grant mapping of `mfn` at `gfn`; -EINVAL if that is not
    /// what `gfn` holds.
    pub fn unmap_grant(&mut self, gfn: u64, mfn: u64) -> Result<(), Errno> {
        match self.p2m.translate(Gfn(gfn)) {
            Some(e) if e.p2m_type == P2mType::GrantMap && e.mfn.raw() == mfn => {}
            _ => return Err(Errno::EINVAL),
        }
        let grant = self.p2m.remove(Gfn(gfn)).map_err(|_| Errno::ENOMEM)?;
        self.flush();
        grant.into_iter().for_each(|g| g.release());
        Ok(())
    }

    /// Maps shared grant frame `idx` at `gfn`, moving it from where it was
    /// (XENMAPSPACE_grant_table); RAM at `gfn` is freed, anything else
    /// there is -EINVAL.
    pub fn map_grant_frame(&mut self, idx: u32, gfn: u64) -> Result<(), Errno> {
        let idx = idx as usize;
        let old = self.grant_frames.get(idx).map(|(_, g)| *g).ok_or(Errno::EINVAL)?;
        if old == Some(gfn) {
            return Ok(());
        }
        self.clear_for_mapping(gfn)?;
        if let Some(old) = old {
            if let Ok(Some(old)) = self.p2m.remove(Gfn(old)) {
                let _ = old.keep(&self.grant_frames[idx].0);
            }
            self.flush();
        }
        self.grant_frames[idx].1 = None;
        self.p2m
            .map_hypervisor_frame(Gfn(gfn), &self.grant_frames[idx].0, Access::READ | Access::WRITE)
            .map_err(|_| Errno::ENOMEM)?;
        self.grant_frames[idx].1 = Some(gfn);
        Ok(())
    }

    /// Enters the mapping of the pinned `frame` at `gfn` once `cleared`
    /// says the slot is empty: the pin becomes the mapping's reference. On
    /// any failure the pin is dropped (freeing the frame if it was all that
    /// held it).
    fn enter_reference(&mut self, gfn: u64, frame: PinnedFrame, kind: P2mType, access: Access, cleared: Result<(), Errno>) -> Result<(), Errno> {
        cleared?;
        self.p2m.map_reference(Gfn(gfn), frame, kind, access).map_err(|_| Errno::ENOMEM)
    }

    /// Frees everything the domain holds in its physmap: its RAM (frames
    /// another domain still maps are freed at their last unmap), the
    /// shared-info page, the grant-table frames, the reserved frames, the
    /// references of its grant and foreign mappings, the p2m's tables. Only
    /// for a domain none of whose vCPUs runs (`Domain::destroy`).
    pub(super) fn release_frames(mut self) {
        self.reserved.free_all();
        let Domain { p2m, shared_info, grant_frames, .. } = self;
        p2m.release_all();
        shared_info.release();
        grant_frames.into_iter().for_each(|(frame, _)| frame.release());
    }

    pub(super) fn is_special_gfn(&self, gfn: u64) -> bool {
        self.shared_info_gfn == Some(gfn) || self.grant_frames.iter().any(|&(_, g)| g == Some(gfn))
    }

    /// Records that a special frame is no longer mapped, when `removed`
    /// mapped one (the hypervisor keeps it); Err(removed) if it did not.
    fn unhook(&mut self, removed: Unmapped) -> Result<(), Unmapped> {
        let mut removed = match removed.keep(&self.shared_info) {
            Ok(()) => {
                self.shared_info_gfn = None;
                return Ok(());
            }
            Err(removed) => removed,
        };
        for (frame, gfn) in &mut self.grant_frames {
            removed = match removed.keep(frame) {
                Ok(()) => {
                    *gfn = None;
                    return Ok(());
                }
                Err(removed) => removed,
            };
        }
        Err(removed)
    }

    /// Empties `gfn` for a hypervisor or granted frame: RAM or a foreign
    /// frame there is removed (freed, unhooked if special, or unmapped);
    /// anything else is -EINVAL.
    fn clear_for_mapping(&mut self, gfn: u64) -> Result<(), Errno> {
        if gfn >= GFN_LIMIT {
            return Err(Errno::EINVAL);
        }
        match self.p2m.translate(Gfn(gfn)) {
            Some(e) if matches!(e.p2m_type, P2mType::Ram | P2mType::Foreign) => self.remove(gfn),
            Some(_) => Err(Errno::EINVAL),
            None => Ok(()),
        }
    }

    /// After an unmap or change: once this returns no CPU can use a
    /// translation from before it (`mm::shootdown`: the CPUs in guest mode
    /// for the domain have left it, and each vCPU flushes before it enters
    /// again), so the frames it held and the tables unlinked may be freed.
    pub(super) fn flush(&mut self) {
        crate::mm::shootdown::shoot_down(self.id, &self.tlb);
        if self.p2m.needs_flush() {
            self.p2m.flushed();
        }
    }
}

#[cfg(test)]
mod tests;
