//! Architecture layer: the only place for hardware `unsafe`.
//!
//! Upper layers call safe functions here and never get callbacks from it.

pub mod x86_64;

pub use self::x86_64::{cpu_index, serial};
