//! Mirrors xen/include/public/io/: the shared-memory protocols between a
//! guest's frontends and the backends in another domain.

pub mod console;
pub mod xs_wire;
