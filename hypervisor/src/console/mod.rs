//! The hypervisor console: whole lines to the serial port, never interleaved,
//! and kept in the console ring for `xl dmesg`.

pub mod guest;
pub mod ring;

use core::fmt::{self, Write};
use spin::Mutex;

/// The console ring; its lock is also held while a line is written, so
/// lines from different CPUs do not mix.
pub static RING: Mutex<ring::Ring> = Mutex::new(ring::Ring::new());

struct Serial<'a>(&'a mut ring::Ring);

impl Write for Serial<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        crate::arch::serial::write_bytes(s.as_bytes());
        self.0.push(s.as_bytes());
        Ok(())
    }
}

/// Writes `args` and a line end as one line.
pub fn write_line(args: fmt::Arguments) {
    let mut ring = RING.lock();
    let mut out = Serial(&mut ring);
    let _ = out.write_fmt(args);
    let _ = out.write_str("\r\n");
}

/// Writes a line without taking the line lock: for the panic path, where the
/// lock may be held by the CPU that panicked or by a CPU that was stopped.
pub fn write_line_unlocked(args: fmt::Arguments) {
    struct Forced;
    impl Write for Forced {
        fn write_str(&mut self, s: &str) -> fmt::Result {
            crate::arch::serial::write_bytes_forced(s.as_bytes());
            Ok(())
        }
    }
    let _ = Forced.write_fmt(args);
    let _ = Forced.write_str("\r\n");
}
