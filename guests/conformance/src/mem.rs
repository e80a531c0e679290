//! Memory the checks hand to the hypervisor: a scratch area for argument
//! structs and OUT buffers, and pages given away for good (shared_info, the
//! runstate area). Nothing the kernel itself runs on (code, stack, page
//! tables) is ever passed as an OUT pointer.
//!
//! All of it is in .bss, below 4 GiB (the kernel sits at 1 MiB), so the same
//! addresses serve 32-bit checks.

use core::cell::UnsafeCell;

use zerocopy::{FromBytes, Immutable, IntoBytes};

pub const PAGE: usize = 4096;

/// Page-aligned pages the hypervisor may read and write.
#[repr(C, align(4096))]
pub struct Pages<const N: usize>(UnsafeCell<[[u8; PAGE]; N]>);

// SAFETY: single CPU; the contents are only accessed through raw pointers
// (here and by the hypervisor during a hypercall), never through references
// that could be held across a hypercall.
unsafe impl<const N: usize> Sync for Pages<N> {}

impl<const N: usize> Pages<N> {
    pub const fn new() -> Self {
        Pages(UnsafeCell::new([[0; PAGE]; N]))
    }

    /// Guest-virtual (= guest-physical) address of byte `off`.
    pub fn addr(&self, off: usize) -> u64 {
        assert!(off <= N * PAGE);
        self.0.get() as u64 + off as u64
    }

    fn ptr(&self, off: usize, len: usize) -> *mut u8 {
        assert!(off.checked_add(len).is_some_and(|end| end <= N * PAGE));
        // SAFETY: in bounds (checked above).
        unsafe { self.0.get().cast::<u8>().add(off) }
    }

    /// Sets `len` bytes at `off` to `byte`.
    pub fn fill(&self, off: usize, len: usize, byte: u8) {
        let p = self.ptr(off, len);
        // SAFETY: in bounds; no reference to the memory exists.
        unsafe { core::ptr::write_bytes(p, byte, len) };
    }

    /// Zeroes everything.
    pub fn clear(&self) {
        self.fill(0, N * PAGE, 0);
    }

    /// Copies `value` to `off`; returns its address.
    pub fn put<T: IntoBytes + Immutable>(&self, off: usize, value: &T) -> u64 {
        let bytes = value.as_bytes();
        let p = self.ptr(off, bytes.len());
        // SAFETY: in bounds; source and destination do not overlap (the source is a Rust value, the destination this static).
        unsafe { core::ptr::copy_nonoverlapping(bytes.as_ptr(), p, bytes.len()) };
        self.addr(off)
    }

    /// Copies `bytes` to `off`; returns the address.
    pub fn put_bytes(&self, off: usize, bytes: &[u8]) -> u64 {
        let p = self.ptr(off, bytes.len());
        // SAFETY: as in put.
        unsafe { core::ptr::copy_nonoverlapping(bytes.as_ptr(), p, bytes.len()) };
        self.addr(off)
    }

    /// Reads a `T` at `off` (any alignment).
    pub fn get<T: FromBytes + IntoBytes>(&self, off: usize) -> T {
        let mut value = T::new_zeroed();
        let out = value.as_mut_bytes();
        let p = self.ptr(off, out.len());
        // SAFETY: in bounds; `out` is a distinct Rust value.
        unsafe { core::ptr::copy_nonoverlapping(p, out.as_mut_ptr(), out.len()) };
        value
    }

    /// Copies `out.len()` bytes at `off` into `out`.
    pub fn read(&self, off: usize, out: &mut [u8]) {
        let p = self.ptr(off, out.len());
        // SAFETY: as in get.
        unsafe { core::ptr::copy_nonoverlapping(p, out.as_mut_ptr(), out.len()) };
    }

    /// Whether all `len` bytes at `off` equal `byte`.
    pub fn all(&self, off: usize, len: usize, byte: u8) -> bool {
        let p = self.ptr(off, len);
        // SAFETY: in bounds; bytewise reads of plain memory.
        (0..len).all(|i| unsafe { p.add(i).read_volatile() } == byte)
    }
}

/// Scratch: argument structs at [`ARG`], OUT buffers and lists at [`BUF`];
/// cleared before every group of checks.
pub static SCRATCH: Pages<4> = Pages::new();
pub const ARG: usize = 0;
pub const BUF: usize = 0x1000;

/// A page given to `XENMEM_add_to_physmap(XENMAPSPACE_shared_info)`: after
/// the call its frame is the shared_info page, for good.
pub static SHARED_INFO: Pages<1> = Pages::new();

/// A page given to `XENMEM_add_to_physmap(XENMAPSPACE_grant_table)`: after
/// the call its frame is grant-table frame 0, for good.
pub static GRANT_FRAME: Pages<1> = Pages::new();

/// A page registered as vCPU 0's runstate area (then unregistered).
pub static RUNSTATE: Pages<1> = Pages::new();

/// The frame named in VCPUOP_register_vcpu_info argument checks (Xen
/// refuses them all; a hypervisor that does not could put vcpu_info here).
pub static VCPU_INFO: Pages<1> = Pages::new();
