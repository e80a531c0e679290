//! Log lines: one line per event, `cpu<N> <level> <subsystem>: <message>`.
//!
//! Quiet by default (`info` and above); the `loglvl=` command-line option
//! changes the threshold, as Xen's option of the same name does.

use core::fmt;
use core::sync::atomic::{AtomicU8, Ordering};

/// Severity of a log line, most severe first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
pub enum Level {
    Error = 1,
    Warn = 2,
    Info = 3,
    Debug = 4,
    Trace = 5,
}

impl Level {
    pub const fn name(self) -> &'static str {
        match self {
            Level::Error => "error",
            Level::Warn => "warn",
            Level::Info => "info",
            Level::Debug => "debug",
            Level::Trace => "trace",
        }
    }

    /// Parses a level name as the `loglvl=` option spells it (Xen also accepts `all`).
    pub fn parse(name: &str) -> Option<Level> {
        Some(match name {
            "error" => Level::Error,
            "warn" | "warning" => Level::Warn,
            "info" => Level::Info,
            "debug" => Level::Debug,
            "trace" | "all" => Level::Trace,
            _ => return None,
        })
    }
}

static THRESHOLD: AtomicU8 = AtomicU8::new(Level::Info as u8);

pub fn set_threshold(level: Level) {
    THRESHOLD.store(level as u8, Ordering::Relaxed);
}

pub fn enabled(level: Level) -> bool {
    level as u8 <= THRESHOLD.load(Ordering::Relaxed)
}

/// Writes one hypervisor log line if `level` passes the threshold.
pub fn write(level: Level, subsystem: &str, args: fmt::Arguments) {
    if enabled(level) {
        let cpu = crate::arch::cpu_index();
        crate::console::write_line(format_args!("cpu{cpu} {} {subsystem}: {args}", level.name()));
    }
}

/// Writes one log line about a guest: `cpu<N> d<domid>v<vcpu> <level> ...`
/// (Xen's `gprintk` prefix).
pub fn write_guest(level: Level, domid: u16, vcpu: u32, subsystem: &str, args: fmt::Arguments) {
    if enabled(level) {
        let cpu = crate::arch::cpu_index();
        crate::console::write_line(format_args!("cpu{cpu} d{domid}v{vcpu} {} {subsystem}: {args}", level.name()));
    }
}

#[macro_export]
macro_rules! error {
    ($sub:literal, $($arg:tt)*) => { $crate::log::write($crate::log::Level::Error, $sub, format_args!($($arg)*)) };
}
#[macro_export]
macro_rules! warn {
    ($sub:literal, $($arg:tt)*) => { $crate::log::write($crate::log::Level::Warn, $sub, format_args!($($arg)*)) };
}
#[macro_export]
macro_rules! info {
    ($sub:literal, $($arg:tt)*) => { $crate::log::write($crate::log::Level::Info, $sub, format_args!($($arg)*)) };
}
#[macro_export]
macro_rules! debug {
    ($sub:literal, $($arg:tt)*) => { $crate::log::write($crate::log::Level::Debug, $sub, format_args!($($arg)*)) };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loglvl_names_parse_to_levels_ordered_by_severity() {
        assert_eq!(Level::parse("warning"), Some(Level::Warn));
        assert_eq!(Level::parse("all"), Some(Level::Trace));
        assert_eq!(Level::parse("loud"), None);
        assert!(Level::Error < Level::Debug);
    }
}
