//! Xen's public ABI (interface version of Xen 4.17) as Rust types and constants.
//!
//! One module per public header of `xen/include/public/`, with Xen's names:
//! constants upper-cased (`__HYPERVISOR_console_io` is [`xen::HYPERVISOR_CONSOLE_IO`]),
//! structs in CamelCase with the header's field names, `#[repr(C)]`, and a
//! compile-time size (and offset) assert on every struct. Byte conversion comes
//! from `zerocopy`'s derives, so this crate has no `unsafe`.
//!
//! Layouts are those of a 64-bit x86 guest (`xen_ulong_t` and guest handles are
//! 8 bytes). Where C inserts implicit padding the struct names it (`_pad*`), so
//! every struct is padding-free and can derive `IntoBytes`.
//!
//! A 32-bit guest (PV, or HVM calling in 32-bit mode) uses Xen's compat
//! layouts: `xen_ulong_t`, `xen_pfn_t` and guest handles are 4 bytes and
//! `uint64_t` is only 4-byte aligned (i386 ABI). Where that changes a
//! struct, a `Compat*` twin sits next to it (Xen's `compat_*` type), using
//! `#[repr(C, packed(4))]` when a `u64` follows a 4-byte field. domctl and
//! sysctl use `uint64_aligned_t` and 64-bit handles, so they need none.
//!
//! C unions become a byte array plus typed accessors (`XenDomctl::payload`).
#![no_std]
#![forbid(unsafe_code)]

pub mod console_io;
pub mod cpuid;
pub mod domctl;
pub mod elfnote;
pub mod errno;
pub mod event_channel;
pub mod features;
pub mod grant_table;
pub mod hvm;
pub mod hypfs;
pub mod io;
pub mod memory;
pub mod physdev;
pub mod platform;
pub mod sched;
pub mod sysctl;
pub mod vcpu;
pub mod vcpu_context;
pub mod version;
pub mod xen;

pub use zerocopy;

/// Reads a `T` from the start of a C union's bytes. `T` fitting is checked
/// at compile time, so this cannot fail.
pub(crate) fn read_prefix<T: zerocopy::FromBytes, const N: usize>(bytes: &[u8; N]) -> T {
    const { assert!(core::mem::size_of::<T>() <= N) };
    match T::read_from_prefix(bytes) {
        Ok((value, _)) => value,
        Err(_) => unreachable!(),
    }
}

/// Writes `value` over the start of a C union's bytes, leaving the rest.
/// `T` fitting is checked at compile time.
pub(crate) fn write_prefix<T: zerocopy::IntoBytes + zerocopy::Immutable, const N: usize>(
    bytes: &mut [u8; N],
    value: &T,
) {
    const { assert!(core::mem::size_of::<T>() <= N) };
    bytes[..core::mem::size_of::<T>()].copy_from_slice(value.as_bytes());
}
