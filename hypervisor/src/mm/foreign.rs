//! References to frames mapped into a domain that does not own them
//! (`XENMAPSPACE_gmfn_foreign`: Dom0's domain builder maps a new domain's
//! RAM into its own physmap).
//!
//! A frame must never be freed while another domain still maps it: the
//! allocator would hand it to someone else and the mapper could read or
//! write their data. So, as Xen does with its page reference counts, a
//! foreign mapping holds the frame: when the owner lets go of it (it
//! decreases its reservation, or the domain is destroyed) while mappings
//! remain, the frame is only marked an orphan, and the last unmap frees it.
//! The mapper keeps a working page until it unmaps (Linux unmaps its
//! privcmd mappings after the toolstack destroyed the domain, and must not
//! fault on them in between).
//!
//! Lock order: taken with the domain table held (or alone); nothing else
//! is locked while it is held.

#![forbid(unsafe_code)]

use alloc::collections::BTreeMap;

use spin::Mutex;

use super::frame::Mfn;

/// Foreign mappings of one frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Refs {
    /// Mappings in domains other than the owner.
    mappings: u64,
    /// The owner let go of the frame: the last unmap frees it.
    orphan: bool,
}

/// Every frame with at least one foreign mapping.
#[derive(Debug, Default)]
pub struct ForeignRefs {
    frames: BTreeMap<u64, Refs>,
}

impl ForeignRefs {
    pub const fn new() -> Self {
        ForeignRefs { frames: BTreeMap::new() }
    }

    /// A domain other than the owner mapped `mfn`.
    pub fn map(&mut self, mfn: Mfn) {
        let refs = self.frames.entry(mfn.0).or_insert(Refs { mappings: 0, orphan: false });
        refs.mappings += 1;
    }

    /// The owner lets go of `mfn`; true if the caller frees it now (no
    /// foreign mapping holds it).
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

    /// One foreign mapping of `mfn` went away; true if the caller frees it
    /// now (it was the last, and the owner had let go).
    #[must_use]
    pub fn unmap(&mut self, mfn: Mfn) -> bool {
        let Some(refs) = self.frames.get_mut(&mfn.0) else {
            debug_assert!(false, "unmap of {mfn:?}, which has no foreign mapping");
            return false;
        };
        refs.mappings -= 1;
        if refs.mappings > 0 {
            return false;
        }
        let orphan = refs.orphan;
        self.frames.remove(&mfn.0);
        orphan
    }

    /// Foreign mappings of `mfn` now.
    pub fn mappings(&self, mfn: Mfn) -> u64 {
        self.frames.get(&mfn.0).map_or(0, |r| r.mappings)
    }

    /// Frames held only by foreign mappings (their owner let go).
    pub fn orphans(&self) -> usize {
        self.frames.values().filter(|r| r.orphan).count()
    }
}

static FOREIGN: Mutex<ForeignRefs> = Mutex::new(ForeignRefs::new());

/// Records a foreign mapping of `mfn` (before it is entered in the p2m).
pub fn map(mfn: Mfn) {
    FOREIGN.lock().map(mfn);
}

/// The owner of `mfn` lets go of it: freed now, or by its last foreign unmap.
pub fn release_owned(mfn: Mfn) {
    let free = FOREIGN.lock().owner_release(mfn);
    if free {
        let _ = super::free_frame(mfn);
    }
}

/// A foreign mapping of `mfn` was removed from a p2m (and that domain's
/// translations are flushed before it runs again).
pub fn release_foreign(mfn: Mfn) {
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
}
