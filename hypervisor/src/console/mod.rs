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

/// Lines an NMI handler could not print because the console was busy.
pub static NMI_LINES_DROPPED: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);

/// Writes a line from NMI context: takes no lock the interrupted code may
/// hold (it may be this CPU's own `write_line`), only tries them; a line
/// that finds the ring or the port busy is dropped and counted.
pub fn write_line_from_nmi(args: fmt::Arguments) {
    struct Line {
        bytes: [u8; 160],
        len: usize,
    }
    impl Write for Line {
        fn write_str(&mut self, s: &str) -> fmt::Result {
            // Two bytes stay free for the line end.
            let n = s.len().min(self.bytes.len() - 2 - self.len);
            self.bytes[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
            self.len += n;
            Ok(())
        }
    }
    let mut line = Line { bytes: [0; 160], len: 0 };
    let _ = line.write_fmt(args);
    line.bytes[line.len..line.len + 2].copy_from_slice(b"\r\n");
    line.len += 2;
    let Some(mut ring) = RING.try_lock() else {
        NMI_LINES_DROPPED.fetch_add(1, core::sync::atomic::Ordering::Relaxed);
        return;
    };
    ring.push(&line.bytes[..line.len]);
    if !crate::arch::serial::try_write_bytes(&line.bytes[..line.len]) {
        NMI_LINES_DROPPED.fetch_add(1, core::sync::atomic::Ordering::Relaxed);
    }
}

#[cfg(test)]
mod nmi_tests {
    use super::*;
    use core::sync::atomic::Ordering;

    #[test]
    fn an_nmi_line_while_the_ring_is_held_is_dropped_not_waited_for() {
        let before = NMI_LINES_DROPPED.load(Ordering::Relaxed);
        let held = RING.lock();
        write_line_from_nmi(format_args!("cpu0 warn nmi: test"));
        drop(held);
        assert!(NMI_LINES_DROPPED.load(Ordering::Relaxed) > before);
    }
}
