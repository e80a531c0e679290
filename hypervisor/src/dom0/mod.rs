//! Dom0: its layout and its builder, which the hypervisor runs at boot (Xen builds Dom0 itself too).

pub mod build;
pub mod layout;
