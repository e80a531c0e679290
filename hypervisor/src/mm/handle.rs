//! Frames as capabilities. An [`Mfn`] is only a number; the right to read or
//! write a frame is one of these handles, which only `mm` makes, and only
//! while the frame cannot be freed:
//! - [`OwnedFrame`]: a frame the hypervisor allocated and keeps (a domain's
//!   shared-info page, its grant-table frames). One owner, not `Copy`; the
//!   owner lets go of it with [`OwnedFrame::release`] (freed then, or at the
//!   last unmap of a mapping elsewhere: `mm::foreign`).
//! - [`FrameRef`]: a RAM frame a p2m maps, borrowed from that p2m (nothing
//!   can unmap and free it while the p2m is borrowed).
//! - [`PinnedFrame`]: a frame held by a reference in `mm::foreign` for the
//!   handle's life (a grant pin, a grant copy's source or destination):
//!   the frame stays allocated, whoever frees it meanwhile, until the handle
//!   goes. It is also what a grant or foreign mapping is made from.
//!
//! The raw accessors (`mm::write_frame`, `mm::frame_store_u64`,
//! `mm::copy_between`, ...) take these handles, so safe code cannot name a
//! frame it holds no right to, and a free-while-used bug does not compile.

#![forbid(unsafe_code)]

use super::foreign;
use super::frame::Mfn;

mod sealed {
    pub trait Sealed {}
}

/// A handle that gives access to one frame (only `mm`'s types are).
pub trait Frame: sealed::Sealed {
    fn mfn(&self) -> Mfn;
}

/// A frame the hypervisor allocated and keeps.
#[derive(Debug, PartialEq, Eq)]
pub struct OwnedFrame {
    mfn: Mfn,
}

impl OwnedFrame {
    /// A zeroed frame from the allocator.
    pub fn alloc() -> Option<OwnedFrame> {
        super::alloc_frame().map(|mfn| OwnedFrame { mfn })
    }

    pub fn mfn(&self) -> Mfn {
        self.mfn
    }

    /// The owner lets go of the frame: freed now, or by the last unmap of
    /// a mapping other domains still have.
    pub fn release(self) {
        foreign::release_owned(self.mfn);
    }

    /// A reference of its own on the frame (to map it, or grant it).
    pub fn pin(&self) -> Option<PinnedFrame> {
        PinnedFrame::take(self.mfn, true)
    }
}

impl sealed::Sealed for OwnedFrame {}
impl Frame for OwnedFrame {
    fn mfn(&self) -> Mfn {
        self.mfn
    }
}

/// A RAM frame mapped by a p2m, for as long as the p2m is borrowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameRef<'a> {
    mfn: Mfn,
    writable: bool,
    _p2m: core::marker::PhantomData<&'a ()>,
}

impl FrameRef<'_> {
    /// Made by `P2m::ram_frame` only.
    pub(super) fn new(mfn: Mfn, writable: bool) -> Self {
        FrameRef { mfn, writable, _p2m: core::marker::PhantomData }
    }

    pub fn mfn(&self) -> Mfn {
        self.mfn
    }

    pub fn writable(&self) -> bool {
        self.writable
    }

    /// A reference on the frame that outlives the borrow (the frame stays
    /// allocated until the `PinnedFrame` goes); None if the frame is
    /// outside the reference table.
    pub fn pin(&self) -> Option<PinnedFrame> {
        PinnedFrame::take(self.mfn, self.writable)
    }
}

impl sealed::Sealed for FrameRef<'_> {}
impl Frame for FrameRef<'_> {
    fn mfn(&self) -> Mfn {
        self.mfn
    }
}

/// A frame held by a reference in `mm::foreign` while this lives.
#[derive(Debug, PartialEq, Eq)]
pub struct PinnedFrame {
    mfn: Mfn,
    writable: bool,
    /// Holds a reference (a test's fake frame holds none).
    counted: bool,
}

impl PinnedFrame {
    fn take(mfn: Mfn, writable: bool) -> Option<PinnedFrame> {
        foreign::map(mfn).ok()?;
        Some(PinnedFrame { mfn, writable, counted: true })
    }

    /// A handle on a frame that does not exist, for the hypercall layer's
    /// fakes (host tests only: nothing may access it).
    #[cfg(test)]
    pub fn fake(mfn: u64, writable: bool) -> PinnedFrame {
        PinnedFrame { mfn: Mfn(mfn), writable, counted: false }
    }

    pub fn mfn(&self) -> Mfn {
        self.mfn
    }

    /// Whether the holder may write it (the p2m mapped it writable).
    pub fn writable(&self) -> bool {
        self.writable
    }

    /// Another reference on the same frame (None if its count is full).
    pub fn try_clone(&self) -> Option<PinnedFrame> {
        if !self.counted {
            return Some(PinnedFrame { mfn: self.mfn, writable: self.writable, counted: false });
        }
        PinnedFrame::take(self.mfn, self.writable)
    }

    /// The same reference, read-only.
    pub fn read_only(mut self) -> PinnedFrame {
        self.writable = false;
        self
    }

    /// Hands the reference to a p2m entry that now maps the frame: its
    /// removal gives it back (`mm::foreign::unmap`).
    pub fn into_mapping(self) -> Mfn {
        let mfn = self.mfn;
        core::mem::forget(self);
        mfn
    }
}

impl Drop for PinnedFrame {
    fn drop(&mut self) {
        if self.counted {
            foreign::unmap(self.mfn);
        }
    }
}

impl sealed::Sealed for PinnedFrame {}
impl Frame for PinnedFrame {
    fn mfn(&self) -> Mfn {
        self.mfn
    }
}
