//! The PVH start info writer, from the `pvh` crate (shared with the Dom0 toolstack).
pub use ::pvh::start_info::*;
