//! Dom0: its layout and its builder, which the hypervisor runs at boot (Xen builds Dom0 itself too).

#![forbid(unsafe_code)]

pub mod acpi;
pub mod build;
pub mod kernel;
pub mod layout;
