//! Test only: a global allocator that counts the bytes each thread holds,
//! rounded as Dom0's allocator (linked_list_allocator: 16-byte multiples,
//! at least 16) rounds them, so that a host test can compare the memory
//! quota's charges with what the store really allocates. A `GlobalAlloc`
//! cannot be written without `unsafe`; the store itself has none.

extern crate std;

use core::alloc::{GlobalAlloc, Layout};
use core::cell::Cell;
use std::alloc::System;

std::thread_local! {
    static HELD: Cell<isize> = const { Cell::new(0) };
}

fn rounded(layout: Layout) -> isize {
    isize::try_from(layout.size().max(16).next_multiple_of(16)).unwrap_or(isize::MAX)
}

fn count(delta: isize) {
    // Threads being torn down have no counter left: nothing to count.
    let _ = HELD.try_with(|h| h.set(h.get() + delta));
}

/// Bytes this thread's allocations hold now.
pub fn held() -> isize {
    HELD.with(Cell::get)
}

struct Counting;

// SAFETY: every call is passed unchanged to the system allocator, which upholds GlobalAlloc's contract; the counting touches only a thread-local Cell.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's layout goes to System as it came (non-zero size, as alloc's contract requires of the caller).
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            count(rounded(layout));
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        count(-rounded(layout));
        // SAFETY: ptr came from System.alloc with this layout (alloc above), as dealloc's contract requires of the caller.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static COUNTING: Counting = Counting;
