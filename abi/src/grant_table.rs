//! Mirrors xen/include/public/grant_table.h
//!
//! `HYPERVISOR_grant_table_op(cmd, uop, count)` sub-ops. Structs follow in a
//! later change.

pub const GNTTABOP_MAP_GRANT_REF: u64 = 0;
pub const GNTTABOP_UNMAP_GRANT_REF: u64 = 1;
pub const GNTTABOP_SETUP_TABLE: u64 = 2;
pub const GNTTABOP_DUMP_TABLE: u64 = 3;
pub const GNTTABOP_TRANSFER: u64 = 4;
pub const GNTTABOP_COPY: u64 = 5;
pub const GNTTABOP_QUERY_SIZE: u64 = 6;
pub const GNTTABOP_UNMAP_AND_REPLACE: u64 = 7;
pub const GNTTABOP_SET_VERSION: u64 = 8;
pub const GNTTABOP_GET_STATUS_FRAMES: u64 = 9;
pub const GNTTABOP_GET_VERSION: u64 = 10;
pub const GNTTABOP_SWAP_GRANT_REF: u64 = 11;
pub const GNTTABOP_CACHE_FLUSH: u64 = 12;
