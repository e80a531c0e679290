//! A Xen-compatible type-1 microhypervisor for x86_64 with AMD-V or VT-x.
//!
//! The same library builds for `x86_64-unknown-none` (the hypervisor binary)
//! and for the host, where the logic modules are unit-tested.
#![cfg_attr(not(test), no_std)]
#![feature(abi_x86_interrupt)]

extern crate alloc;

#[macro_use]
pub mod log;

pub mod arch;
pub mod bits;
pub mod boot;
pub mod console;
pub mod dev;
pub mod dom0;
pub mod event;
pub mod domain;
pub mod hypercall;
pub mod mm;
pub mod platform;
pub mod sched;
pub mod vcpu;
