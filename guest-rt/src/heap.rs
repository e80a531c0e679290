//! The global allocator of kernels built with the `xenstore` feature
//! (whose messages are `Vec`s). Cargo unifies features across the kernels
//! built together, so every kernel then links this allocator; one that
//! allocates hands it an arena first ([`init`]); the others never do.

use linked_list_allocator::LockedHeap;

#[global_allocator]
static HEAP: LockedHeap = LockedHeap::empty();

/// Hands `arena` to the allocator; call once, before any allocation.
pub fn init(arena: &'static mut [u8]) {
    // SAFETY: the arena is borrowed for ever (`'static mut`), so nothing else uses that memory; the heap is empty until now, as `init` is called once.
    unsafe { HEAP.lock().init(arena.as_mut_ptr(), arena.len()) };
}
