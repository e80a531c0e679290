//! Machine frames that one domain grants and another maps: counted, so the
//! owner giving a frame up (decrease_reservation, remove_from_physmap, its
//! destruction) cannot free it while another domain's p2m still maps it.
//! The last unmap frees it instead. This is the part of Xen's page
//! reference count that grant mappings need: Xen keeps a granted page
//! until every mapping of it is gone, even after its owner died.
//!
//! Only frames mapped by grant are tracked, so the table stays as small as
//! the number of live grant mappings (each needs a maptrack handle).

use alloc::collections::BTreeMap;

use spin::Mutex;

use super::frame::Mfn;

/// Mappings of each granted frame now, and whether its owner let it go.
#[derive(Default)]
pub struct ForeignRefs {
    frames: BTreeMap<u64, Refs>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Refs {
    mappings: u32,
    /// The owner no longer holds the frame: the last unmap frees it.
    orphaned: bool,
}

impl ForeignRefs {
    pub const fn new() -> Self {
        ForeignRefs { frames: BTreeMap::new() }
    }

    /// Another domain maps `mfn`.
    pub fn get(&mut self, mfn: Mfn) {
        let refs = self.frames.entry(mfn.0).or_insert(Refs { mappings: 0, orphaned: false });
        refs.mappings = refs.mappings.saturating_add(1);
    }

    /// A mapping of `mfn` went away; true if the frame must be freed now
    /// (it was the last one and the owner had let the frame go).
    pub fn put(&mut self, mfn: Mfn) -> bool {
        let Some(refs) = self.frames.get_mut(&mfn.0) else { return false };
        refs.mappings = refs.mappings.saturating_sub(1);
        if refs.mappings > 0 {
            return false;
        }
        let orphaned = refs.orphaned;
        self.frames.remove(&mfn.0);
        orphaned
    }

    /// The owner lets `mfn` go; true if nobody maps it and it can be freed
    /// now, false if the last unmap will free it.
    pub fn owner_release(&mut self, mfn: Mfn) -> bool {
        match self.frames.get_mut(&mfn.0) {
            Some(refs) => {
                refs.orphaned = true;
                false
            }
            None => true,
        }
    }

    /// How many grant mappings of `mfn` exist.
    pub fn mappings(&self, mfn: Mfn) -> u32 {
        self.frames.get(&mfn.0).map_or(0, |r| r.mappings)
    }
}

/// The machine's table. Taken after `DOMAINS` (never the other way round).
pub static FOREIGN: Mutex<ForeignRefs> = Mutex::new(ForeignRefs::new());

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unmapped_frame_is_freed_by_its_owner() {
        let mut f = ForeignRefs::new();
        assert!(f.owner_release(Mfn(7)));
    }

    #[test]
    fn a_mapped_frame_outlives_its_owner_until_the_last_unmap() {
        let mut f = ForeignRefs::new();
        f.get(Mfn(7));
        f.get(Mfn(7));
        assert!(!f.owner_release(Mfn(7)), "still mapped twice");
        assert!(!f.put(Mfn(7)), "one mapping left");
        assert!(f.put(Mfn(7)), "the last unmap frees it");
        assert_eq!(f.mappings(Mfn(7)), 0);
        assert!(!f.put(Mfn(7)), "an unknown frame is never freed by put");
    }

    #[test]
    fn unmapping_while_the_owner_holds_the_frame_frees_nothing() {
        let mut f = ForeignRefs::new();
        f.get(Mfn(9));
        assert!(!f.put(Mfn(9)));
        assert!(f.owner_release(Mfn(9)), "no mapping left: the owner frees it");
    }
}
