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
#![no_std]
#![forbid(unsafe_code)]

pub mod console_io;
pub mod cpuid;
pub mod elfnote;
pub mod errno;
pub mod event_channel;
pub mod grant_table;
pub mod hvm;
pub mod memory;
pub mod sched;
pub mod vcpu;
pub mod version;
pub mod xen;

pub use zerocopy;
