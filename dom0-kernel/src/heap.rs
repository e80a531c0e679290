//! Dom0's heap: the toolstack keeps configs, names and lists in it, the
//! xenstored its tree. The allocator is guest-rt's; the arena is ours.

const HEAP_SIZE: usize = 8 << 20;

#[repr(C, align(4096))]
struct Arena([u8; HEAP_SIZE]);
static mut ARENA: Arena = Arena([0; HEAP_SIZE]);

/// Hands the arena to the allocator; call once, before any allocation.
pub fn init() {
    // SAFETY: called once at boot; the arena is a static nothing else names, so this is the only reference to it, for ever.
    let arena = unsafe { &mut (*core::ptr::addr_of_mut!(ARENA)).0 };
    guest_rt::heap::init(arena);
}
