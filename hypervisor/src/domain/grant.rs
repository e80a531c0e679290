//! A domain's grant-table bookkeeping that lives in the hypervisor, not in
//! the shared frames: the version, the size limit, the active entries (its
//! grants another domain has pinned, Xen's `active_grant_entry`) and the
//! maptrack (its mappings of other domains' grants, by handle, Xen's
//! `grant_mapping`). Plain data; the rules are in `hypercall::grant_table`.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use crate::mm::handle::PinnedFrame;

/// Shared frames a domain's table may grow to: Xen's default
/// `max_grant_frames` (64 frames of 512 version-1 entries). Frames are
/// allocated as the domain grows the table, one at creation.
pub const MAX_GRANT_FRAMES: u32 = 64;
/// Frames at creation (Xen's `INITIAL_NR_GRANT_FRAMES`).
pub const INITIAL_GRANT_FRAMES: u32 = 1;
/// Version-1 entries in one 4 KiB frame.
pub const ENTRIES_PER_FRAME: u32 = 512;
/// Grant mappings one domain may hold at once (maptrack handles). Xen
/// allows 1024 maptrack frames of 256 handles; the hypervisor heap is
/// shared by every domain, so this is Xen's first four frames' worth.
pub const MAX_MAPTRACK: u32 = 1024;

// Pin counts of an active entry: four byte-wide counters in one u32, as
// Xen keeps them (host write, host read, device write, device read).
pub const PIN_HOST_WRITE: u32 = 1;
pub const PIN_HOST_READ: u32 = 1 << 8;
pub const PIN_DEV_WRITE: u32 = 1 << 16;
pub const PIN_DEV_READ: u32 = 1 << 24;
pub const PIN_HOST_WRITE_MASK: u32 = 0xff;
pub const PIN_DEV_WRITE_MASK: u32 = 0xff << 16;

/// The counter bit whose being set means one more `incr` could overflow
/// (Xen's `GNTPIN_incr2oflow_mask`: a counter stops at 128).
pub const fn pin_overflow_mask(incr: u32) -> u32 {
    incr << 7
}

/// One of the domain's grants in use by another domain.
#[derive(Debug, PartialEq, Eq)]
pub struct Active {
    /// `PIN_*` counts; the entry is dropped when they reach 0.
    pub pin: u32,
    /// The domain using it.
    pub domid: u16,
    /// The frame granted (fixed while pinned), held by a reference for as
    /// long as the entry is pinned (Xen's active entry holds the page):
    /// whoever frees it meanwhile, it stays allocated until the last pin
    /// goes.
    pub frame: PinnedFrame,
}

/// One mapping of another domain's grant, found by its handle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mapping {
    /// The granting domain.
    pub domid: u16,
    pub gref: u32,
    /// `GNTMAP_*` still in effect (host_map, readonly).
    pub flags: u32,
    /// Where the mapping domain has the frame (its gfn).
    pub gfn: u64,
    pub mfn: u64,
    /// The granter was destroyed: its table is gone, and the frame is
    /// freed when this mapping goes (`mm::foreign`).
    pub granter_gone: bool,
}

#[derive(Debug, PartialEq, Eq)]
pub struct GrantState {
    /// Always 1: version 2 is not offered (set_version 2 says -ENOSYS, as
    /// Xen does for a domain limited to version 1).
    pub version: u32,
    pub max_frames: u32,
    /// By grant reference; only pinned entries are kept.
    pub active: BTreeMap<u32, Active>,
    /// By handle; `None` is a free handle.
    pub maptrack: Vec<Option<Mapping>>,
}

impl Default for GrantState {
    fn default() -> Self {
        GrantState { version: 1, max_frames: MAX_GRANT_FRAMES, active: BTreeMap::new(), maptrack: Vec::new() }
    }
}

impl GrantState {
    /// The pin count of entry `gref` (0: not in use).
    pub fn pin(&self, gref: u32) -> u32 {
        self.active.get(&gref).map_or(0, |a| a.pin)
    }

    /// The lowest free maptrack handle, if the domain may hold another.
    pub fn free_handle(&self) -> Option<u32> {
        let at = self.maptrack.iter().position(Option::is_none).unwrap_or(self.maptrack.len());
        if at >= MAX_MAPTRACK as usize {
            return None;
        }
        u32::try_from(at).ok()
    }

    /// Records `mapping` under `handle` (from [`GrantState::free_handle`]);
    /// -ENOMEM if the hypervisor heap has no room for it (guest-driven: it
    /// must never be an allocation failure that stops the machine).
    pub fn track(&mut self, handle: u32, mapping: Mapping) -> Result<(), abi::errno::Errno> {
        let at = handle as usize;
        if at >= self.maptrack.len() {
            self.maptrack.try_reserve(at + 1 - self.maptrack.len()).map_err(|_| abi::errno::Errno::ENOMEM)?;
            self.maptrack.resize(at + 1, None);
        }
        self.maptrack[at] = Some(mapping);
        Ok(())
    }

    /// Frees `handle`, trimming free handles off the end.
    pub fn untrack(&mut self, handle: u32) {
        if let Some(slot) = self.maptrack.get_mut(handle as usize) {
            *slot = None;
        }
        while self.maptrack.last().is_some_and(Option::is_none) {
            self.maptrack.pop();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mapping() -> Mapping {
        Mapping { domid: 1, gref: 8, flags: 2, gfn: 0x500, mfn: 0x900, granter_gone: false }
    }

    #[test]
    fn handles_are_reused_lowest_first_and_bounded() {
        let mut g = GrantState::default();
        assert_eq!(g.free_handle(), Some(0));
        g.track(0, mapping()).unwrap();
        g.track(1, mapping()).unwrap();
        g.untrack(0);
        assert_eq!(g.free_handle(), Some(0));
        g.untrack(1);
        assert!(g.maptrack.is_empty());
        for h in 0..MAX_MAPTRACK {
            g.track(h, mapping()).unwrap();
        }
        assert_eq!(g.free_handle(), None);
    }

    #[test]
    fn a_counter_overflows_at_128() {
        assert_eq!(pin_overflow_mask(PIN_HOST_READ) & (128 * PIN_HOST_READ), 128 * PIN_HOST_READ);
        assert_eq!(pin_overflow_mask(PIN_HOST_READ) & (127 * PIN_HOST_READ), 0);
    }
}
