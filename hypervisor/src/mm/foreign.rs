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
//! The counts live in one `u32` per machine frame (Xen's `page_info`),
//! in frames taken at boot (`mm::init_frames`), so taking a reference never
//! allocates: no guest can exhaust the hypervisor heap through it.
//!
//! Lock order: taken after `DOMAINS` (or alone); nothing else is locked
//! while it is held.

#![forbid(unsafe_code)]

use spin::Mutex;

use super::frame::Mfn;

/// The owner let go of the frame: the last unmap frees it.
const ORPHAN: u32 = 1 << 31;
/// Mappings one frame may have (the rest of the word).
const MAX_MAPPINGS: u32 = ORPHAN - 1;

/// A frame outside the table (no RAM the allocator manages), or one with
/// as many mappings as a count holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NoRef;

/// Mappings of every frame in domains other than its owner, by mfn.
#[derive(Debug)]
pub struct ForeignRefs<'a> {
    frames: &'a mut [u32],
}

impl<'a> ForeignRefs<'a> {
    /// A table over `frames` (one word per machine frame, all zero).
    pub fn new(frames: &'a mut [u32]) -> Self {
        frames.fill(0);
        ForeignRefs { frames }
    }

    fn slot(&mut self, mfn: Mfn) -> Option<&mut u32> {
        self.frames.get_mut(usize::try_from(mfn.0).ok()?)
    }

    /// A domain other than the owner maps `mfn`.
    pub fn map(&mut self, mfn: Mfn) -> Result<(), NoRef> {
        let refs = self.slot(mfn).ok_or(NoRef)?;
        if *refs & MAX_MAPPINGS == MAX_MAPPINGS {
            return Err(NoRef);
        }
        *refs += 1;
        Ok(())
    }

    /// The owner lets go of `mfn`; true if the caller frees it now (nobody
    /// else maps it), false if the last unmap will.
    #[must_use]
    pub fn owner_release(&mut self, mfn: Mfn) -> bool {
        match self.slot(mfn) {
            Some(refs) if *refs & MAX_MAPPINGS > 0 => {
                *refs |= ORPHAN;
                false
            }
            _ => true,
        }
    }

    /// One mapping of `mfn` went away; true if the caller frees it now (it
    /// was the last, and the owner had let go). A frame without mappings is
    /// never freed here: an unbalanced unmap must not free a frame someone
    /// still owns.
    #[must_use]
    pub fn unmap(&mut self, mfn: Mfn) -> bool {
        let Some(refs) = self.slot(mfn) else { return false };
        if *refs & MAX_MAPPINGS == 0 {
            return false;
        }
        *refs -= 1;
        if *refs & MAX_MAPPINGS > 0 {
            return false;
        }
        let orphan = *refs & ORPHAN != 0;
        *refs = 0;
        orphan
    }

    /// Mappings of `mfn` outside its owner now.
    pub fn mappings(&self, mfn: Mfn) -> u32 {
        usize::try_from(mfn.0).ok().and_then(|i| self.frames.get(i)).map_or(0, |r| r & MAX_MAPPINGS)
    }

    /// Frames held only by such mappings (their owner let go).
    pub fn orphans(&self) -> usize {
        self.frames.iter().filter(|r| **r & ORPHAN != 0).count()
    }
}

static FOREIGN: Mutex<Option<ForeignRefs<'static>>> = Mutex::new(None);

/// Sets up the table over `frames` (from `mm::init_frames`).
pub(super) fn init(frames: &'static mut [u32]) {
    *FOREIGN.lock() = Some(ForeignRefs::new(frames));
}

fn with<R>(f: impl FnOnce(&mut ForeignRefs<'static>) -> R) -> R {
    f(FOREIGN.lock().as_mut().expect("mm::foreign used before init_frames"))
}

/// Records a mapping of `mfn` outside its owner, before it is entered in
/// the mapper's p2m and before anything that could free it: while the
/// reference is held, the frame stays allocated.
pub(in crate::mm) fn map(mfn: Mfn) -> Result<(), NoRef> {
    with(|t| t.map(mfn))
}

/// The owner of `mfn` lets go of it: freed now, or by its last unmap.
pub(in crate::mm) fn release_owned(mfn: Mfn) {
    if with(|t| t.owner_release(mfn)) {
        let _ = super::free_mfn(mfn);
    }
}

/// A mapping of `mfn` (grant or foreign) was removed from a p2m (and that
/// domain's translations are flushed before it runs again): frees an
/// orphan with it.
pub(in crate::mm) fn unmap(mfn: Mfn) {
    if with(|t| t.unmap(mfn)) {
        let _ = super::free_mfn(mfn);
    }
}

/// Mappings of `mfn` outside its owner now.
pub fn mappings(mfn: Mfn) -> u32 {
    with(|t| t.mappings(mfn))
}

/// Frames alive only through such mappings (their owner let go).
pub fn orphans() -> usize {
    with(|t| t.orphans())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(words: &mut [u32]) -> ForeignRefs<'_> {
        ForeignRefs::new(words)
    }

    #[test]
    fn a_frame_nobody_else_maps_is_freed_by_its_owner() {
        let mut w = [0; 16];
        let mut r = table(&mut w);
        assert!(r.owner_release(Mfn(5)));
    }

    #[test]
    fn a_mapped_frame_outlives_its_owner_until_the_last_unmap() {
        let mut w = [0; 16];
        let mut r = table(&mut w);
        r.map(Mfn(5)).unwrap();
        r.map(Mfn(5)).unwrap();
        assert!(!r.owner_release(Mfn(5)), "still mapped twice: not freed");
        assert_eq!(r.orphans(), 1);
        assert!(!r.unmap(Mfn(5)), "one mapping left");
        assert!(r.unmap(Mfn(5)), "the last unmap frees the orphan");
        assert_eq!((r.mappings(Mfn(5)), r.orphans()), (0, 0));
        assert!(!r.unmap(Mfn(5)), "an unknown frame is never freed by unmap");
    }

    #[test]
    fn unmapping_a_frame_its_owner_still_holds_frees_nothing() {
        let mut w = [0; 16];
        let mut r = table(&mut w);
        r.map(Mfn(7)).unwrap();
        assert!(!r.unmap(Mfn(7)));
        assert_eq!(r.mappings(Mfn(7)), 0);
        assert!(r.owner_release(Mfn(7)), "no mapping left: the owner frees it");
    }

    #[test]
    fn frames_are_counted_separately() {
        let mut w = [0; 16];
        let mut r = table(&mut w);
        r.map(Mfn(1)).unwrap();
        r.map(Mfn(2)).unwrap();
        assert!(!r.owner_release(Mfn(1)));
        assert!(r.owner_release(Mfn(3)));
        assert!(!r.unmap(Mfn(2)));
        assert!(r.unmap(Mfn(1)));
    }

    #[test]
    fn a_granted_and_foreign_mapped_frame_is_freed_once_after_both_unmaps() {
        // One grant mapping and one gmfn_foreign mapping of the same frame.
        let mut w = [0; 16];
        let mut r = table(&mut w);
        r.map(Mfn(9)).unwrap();
        r.map(Mfn(9)).unwrap();
        assert!(!r.owner_release(Mfn(9)));
        assert!(!r.unmap(Mfn(9)), "the grant unmap leaves the foreign mapping");
        assert_eq!(r.orphans(), 1);
        assert!(r.unmap(Mfn(9)), "the foreign unmap frees it");
        assert!(!r.unmap(Mfn(9)), "and only once");
    }

    #[test]
    fn a_frame_outside_the_table_takes_no_reference_and_is_never_freed_by_unmap() {
        let mut w = [0; 4];
        let mut r = table(&mut w);
        assert_eq!(r.map(Mfn(4)), Err(NoRef));
        assert!(!r.unmap(Mfn(4)));
        assert!(r.owner_release(Mfn(u64::MAX)));
    }

    #[test]
    fn a_count_never_wraps() {
        let mut w = [MAX_MAPPINGS, 0];
        let mut r = ForeignRefs { frames: &mut w };
        assert_eq!(r.map(Mfn(0)), Err(NoRef));
        assert_eq!(r.mappings(Mfn(0)), MAX_MAPPINGS);
    }
}
