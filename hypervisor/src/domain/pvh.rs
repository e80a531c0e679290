//! The PVH kernel loader, from the `pvh` crate (shared with the Dom0 toolstack).
pub use ::pvh::image::*;
