//! Domains: building a PVH guest (loading its kernel, writing its start info).

#![forbid(unsafe_code)]

pub mod pvh;
pub mod start_info;
