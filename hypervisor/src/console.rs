//! The hypervisor console: whole lines to the serial port, never interleaved.

use core::fmt::{self, Write};
use spin::Mutex;

/// Held while a line is written so lines from different CPUs do not mix.
static LINE_LOCK: Mutex<()> = Mutex::new(());

struct Serial;

impl Write for Serial {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        crate::arch::serial::write_bytes(s.as_bytes());
        Ok(())
    }
}

/// Writes `args` and a line end as one line.
pub fn write_line(args: fmt::Arguments) {
    let _guard = LINE_LOCK.lock();
    let _ = Serial.write_fmt(args);
    let _ = Serial.write_str("\r\n");
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
