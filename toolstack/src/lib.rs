//! Dom0 toolstack pieces that need no hypervisor: reading Xen's `xl.cfg`
//! domain configuration files and formatting `xl list` output.
//!
//! `no_std` + `alloc`, so the Dom0 kernel can use it; every function here is
//! pure and tested on the host (`cargo test -p toolstack`).
//!
//! - [`parse`]: an xl.cfg file (bytes, any content: it never panics) to a
//!   [`DomainConfig`], or a [`ConfigError`] whose `Display` names the file,
//!   the line and the key. Syntax in [`syntax`], keys and defaults in
//!   [`config`], `cpus=` in [`cpus`], `disk=` in [`disk`].
//! - [`format_list`] / [`write_row`]: `xl list`'s table, byte for byte.
//! - [`sched`]: `xl vcpu-list` and `xl sched-credit2` tables, `xl vcpu-pin`'s arguments.
//!
//! The parser is hand-written: xl.cfg is libxlu's own grammar, not TOML or
//! INI, and no maintained `no_std` crate reads it.

#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod config;
pub mod cpus;
pub mod disk;
pub mod error;
pub mod list;
pub mod sched;
pub mod syntax;

pub use config::{Affinity, DomainConfig, DomainType, ShutdownAction, parse};
pub use cpus::CpuMask;
pub use disk::{DiskAccess, DiskFormat, DiskSpec};
pub use error::{ConfigError, ErrorKind};
pub use list::{DomainState, LIST_HEADER, ListEntry, ShutdownReason, format_list, write_row};
