//! Building a PVH guest, shared by the hypervisor (its Dom0 builder) and the
//! Dom0 toolstack (its DomU builder), so both load kernels and describe them
//! to the guest the same way:
//! - [`memory`]: the [`memory::GuestMemory`] trait both write a guest through
//!   (the hypervisor through a domain's p2m, the toolstack through mapped
//!   foreign frames), and its [`memory::GuestFault`];
//! - [`image`]: checking a PVH ELF kernel (or a bzImage: [`bzimage`], [`decompress`]) and loading its segments;
//! - [`acpi`]: a PVH DomU's ACPI tables, as libxl builds them;
//! - [`start_info`]: writing the `hvm_start_info` the kernel finds in `%ebx`.
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod acpi;
pub mod bzimage;
pub mod decompress;
pub mod image;
pub mod memory;
pub mod start_info;
