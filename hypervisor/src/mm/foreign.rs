//! References to machine frames mapped into a domain that does not own
//! them: by grant (GNTTABOP_map_grant_ref, `P2mType::GrantMap`) or by
//! `XENMAPSPACE_gmfn_foreign` (Dom0's domain builder maps a new domain's
//! RAM into its own physmap, `P2mType::Foreign`). This is the part of
//! Xen's page reference count that such mappings need.
//!
//! A frame must never be freed while another domain still maps it: the
//! allocator would hand it to someone else and the mapper could read or
//! write their data. So every such mapping holds the frame: when the owner
//! lets go of it (decrease_reservation, remove_from_physmap, its
//! destruction) while mappings remain, the frame is only marked an orphan,
//! and the last unmap (a grant unmap, a physmap removal, or the mapper's
//! destruction) frees it. The mapper keeps a working page until it unmaps
//! (Linux unmaps its privcmd and grant mappings after the toolstack
//! destroyed the domain, and must not fault on them in between).
//!
//! One table counts both kinds, so a frame both granted to one domain and
//! foreign-mapped by another is freed exactly once, after the last of all
//! its mappings. The two p2m types stay apart because the rest of the
//! hypervisor treats them differently, as Xen does:
//! - a grant mapping is named by a maptrack handle, so only the grant
//!   unmap removes it (remove_from_physmap / decrease_reservation /
//!   a new mapping over it: -EINVAL); a foreign mapping has no handle and
//!   the physmap ops remove it like RAM;
//! - a grant mapping may be read-only, a foreign one is always read-write;
//! - HVMOP_get_mem_type calls a grant mapping RAM (rw or ro by access) and
//!   a foreign one `HVMMEM_mmio_dm` (`p2m_map_foreign` is no RAM type);
//! - the hypervisor copies to and from a foreign-mapped frame on the
//!   guest's behalf, never a granted one (Xen's `__hvm_copy`).
//!
//! Lock order: taken after `DOMAINS` (or alone); nothing else is locked
//! while it is held.

#![forbid(unsafe_code)]

use alloc::collections::BTreeMap;

use spin::Mutex;

use super::frame::Mfn;

/// Mappings of one frame in domains other than its owner.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Refs {
    mappings: u64,
    /// The owner let go of the frame: the last unmap frees it.
    orphan: bool,
}

/// Every frame with at least one mapping outside its owner.
#[derive(Debug, Default)]
pub struct ForeignRefs {
    frames: BTreeMap<u64, Refs>,
}

impl ForeignRefs {
    pub const fn new() -> Self {
        ForeignRefs { frames: BTreeMap::new() }
    }

    /// A domain other than the owner maps `mfn`.
    pub fn map(&mut self, mfn: Mfn) {
        let refs = self.frames.entry(mfn.0).or_insert(Refs { mappings: 0, orphan: false });
        refs.mappings = refs.mappings.saturating_add(1);
    }

    /// The owner lets go of `mfn`; true if the caller frees it now (nobody
    /// else maps it), false if the last unmap will.
    #[must_use]
    pub fn owner_release(&mut self, mfn: Mfn) -> bool {
        match self.frames.get_mut(&mfn.0) {
            Some(refs) => {
                refs.orphan = true;
                false
            }
            None => true,
        }
    }

    /// One mapping of `mfn` went away; true if the caller frees it now (it
    /// was the last, and the owner had let go). A frame the table does not
    /// know is never freed here: an unbalanced unmap must not free a frame
    /// someone still owns.
    #[must_use]
    pub fn unmap(&mut self, mfn: Mfn) -> bool {
        let Some(refs) = self.frames.get_mut(&mfn.0) else { return false };
        refs.mappings = refs.mappings.saturating_sub(1);
        if refs.mappings > 0 {
            return false;
        }
        let orphan = refs.orphan;
        self.frames.remove(&mfn.0);
        orphan
    }

    /// Mappings of `mfn` outside its owner now.
    pub fn mappings(&self, mfn: Mfn) -> u64 {
        self.frames.get(&mfn.0).map_or(0, |r| r.mappings)
    }

    /// Frames held only by such mappings (their owner let go).
    pub fn orphans(&self) -> usize {
        self.frames.values().filter(|r| r.orphan).count()
    }
}

static FOREIGN: Mutex<ForeignRefs> = Mutex::new(ForeignRefs::new());

/// Records a mapping of `mfn` outside its owner (before it is entered in
/// the mapper's p2m).
pub fn map(mfn: Mfn) {
    FOREIGN.lock().map(mfn);
}

/// The owner of `mfn` lets go of it: freed now, or by its last unmap.
pub fn release_owned(mfn: Mfn) {
    let free = FOREIGN.lock().owner_release(mfn);
    if free {
        let _ = super::free_frame(mfn);
    }
}

/// A mapping of `mfn` (grant or foreign) was removed from a p2m (and that
/// domain's translations are flushed before it runs again): frees an
/// orphan with it.
pub fn unmap(mfn: Mfn) {
    let free = FOREIGN.lock().unmap(mfn);
    if free {
        let _ = super::free_frame(mfn);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_nobody_else_maps_is_freed_by_its_owner() {
        let mut r = ForeignRefs::new();
        assert!(r.owner_release(Mfn(5)));
    }

    #[test]
    fn a_mapped_frame_outlives_its_owner_until_the_last_unmap() {
        let mut r = ForeignRefs::new();
        r.map(Mfn(5));
        r.map(Mfn(5));
        assert!(!r.owner_release(Mfn(5)), "still mapped twice: not freed");
        assert_eq!(r.orphans(), 1);
        assert!(!r.unmap(Mfn(5)), "one mapping left");
        assert!(r.unmap(Mfn(5)), "the last unmap frees the orphan");
        assert_eq!((r.mappings(Mfn(5)), r.orphans()), (0, 0));
        assert!(!r.unmap(Mfn(5)), "an unknown frame is never freed by unmap");
    }

    #[test]
    fn unmapping_a_frame_its_owner_still_holds_frees_nothing() {
        let mut r = ForeignRefs::new();
        r.map(Mfn(7));
        assert!(!r.unmap(Mfn(7)));
        assert_eq!(r.mappings(Mfn(7)), 0);
        assert!(r.owner_release(Mfn(7)), "no mapping left: the owner frees it");
    }

    #[test]
    fn frames_are_counted_separately() {
        let mut r = ForeignRefs::new();
        r.map(Mfn(1));
        r.map(Mfn(2));
        assert!(!r.owner_release(Mfn(1)));
        assert!(r.owner_release(Mfn(3)));
        assert!(!r.unmap(Mfn(2)));
        assert!(r.unmap(Mfn(1)));
    }

    #[test]
    fn a_granted_and_foreign_mapped_frame_is_freed_once_after_both_unmaps() {
        // One grant mapping and one gmfn_foreign mapping of the same frame.
        let mut r = ForeignRefs::new();
        r.map(Mfn(9));
        r.map(Mfn(9));
        assert!(!r.owner_release(Mfn(9)));
        assert!(!r.unmap(Mfn(9)), "the grant unmap leaves the foreign mapping");
        assert_eq!(r.orphans(), 1);
        assert!(r.unmap(Mfn(9)), "the foreign unmap frees it");
        assert!(!r.unmap(Mfn(9)), "and only once");
    }
}
