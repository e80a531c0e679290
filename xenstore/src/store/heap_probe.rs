//! Test only: a global allocator that counts the bytes each thread holds,
//! rounded as Dom0's allocator (linked_list_allocator: 16-byte multiples,
//! at least 16) rounds them, so that a host test can compare the memory
//! quota's charges with what the store really allocates. The store's
//! collections allocate through the global allocator, so counting them
//! takes one, and `GlobalAlloc` is an `unsafe` trait: there is no safe way
//! (a crate such as stats_alloc would only move the `unsafe` there). This
//! file is the crate's only `unsafe`, and it is compiled into the host test
//! binary alone (`#![cfg(test)]` here and on its `mod`); the store itself
//! has none.
#![cfg(test)]

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

/// Adds `delta` to this thread's count. Never panics and never allocates
/// (it runs inside the allocator): the counter is a const-initialized
/// thread-local `Cell` (no lazy initialization, no destructor), and
/// threads being torn down, which have no counter left, count nothing.
fn count(delta: isize) {
    let _ = HELD.try_with(|h| h.set(h.get().wrapping_add(delta)));
}

/// Bytes this thread's allocations hold now.
pub fn held() -> isize {
    HELD.with(Cell::get)
}

struct Counting;

// SAFETY: GlobalAlloc's contract is met by System, to which `alloc` and `dealloc` pass every call unchanged: the blocks it returns fit their layouts and stay valid until given back, and it is thread-safe. The defaults of `alloc_zeroed` and `realloc` go through these two methods, so every block is counted once each way. What is added neither unwinds nor allocates (`count`), so the allocator does not panic or recurse.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: `layout` is passed to System as our caller gave it, so System.alloc's precondition (a non-zero size) is our caller's.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            count(rounded(layout));
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        count(-rounded(layout));
        // SAFETY: our caller guarantees that `ptr` was returned by this allocator's `alloc` with this `layout` and not freed since; `alloc` got it from System.alloc with the same layout, which is what System.dealloc requires.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static COUNTING: Counting = Counting;
