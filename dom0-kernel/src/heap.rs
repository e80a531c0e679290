//! Dom0's heap: the toolstack keeps configs, names and lists in it.

use linked_list_allocator::LockedHeap;

const HEAP_SIZE: usize = 4 << 20;

#[repr(C, align(4096))]
struct Arena([u8; HEAP_SIZE]);
static mut ARENA: Arena = Arena([0; HEAP_SIZE]);

#[global_allocator]
static HEAP: LockedHeap = LockedHeap::empty();

/// Hands the arena to the allocator; call once, before any allocation.
pub fn init() {
    // SAFETY: called once at boot before anything allocates; the arena is a static used by nothing else, so the heap owns it for ever.
    unsafe { HEAP.lock().init(core::ptr::addr_of_mut!(ARENA).cast::<u8>(), HEAP_SIZE) };
}
