//! Console output, one line per write: `HYPERVISOR_console_io` when a
//! Xen-compatible hypervisor is present, else COM1 directly. A DomU whose
//! toolstack gave it a PV console ([`crate::pvconsole`]) also writes each
//! line there, so `xl console` shows it while the hypervisor's console
//! (COM1, `(dN) ...`) keeps every line too.
//!
//! The COM1 fallback is for debugging the kernel without a hypervisor (for
//! example `qemu-system-x86_64 -kernel <kernel ELF>`, which boots PVH ELFs):
//! there the hypercalls fail, but the boot path and the output still show.

use core::fmt::{self, Write};

use crate::{cpu, hypercall, pvconsole};

/// Longest line; longer ones are cut.
const LINE_MAX: usize = 512;

/// COM1's I/O base; its line status register is at +5, bit 5 = THR empty.
const COM1: u16 = 0x3f8;
const COM1_LSR: u16 = COM1 + 5;
const LSR_THR_EMPTY: u8 = 1 << 5;

/// A line being formatted on the stack.
struct Line {
    buf: [u8; LINE_MAX],
    len: usize,
}

impl Write for Line {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let room = LINE_MAX - 1 - self.len; // keep room for the newline
        let n = s.len().min(room);
        self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        Ok(())
    }
}

/// Formats one line and writes it, newline included, with one hypercall.
pub fn print_line(args: fmt::Arguments<'_>) {
    let mut line = Line {
        buf: [0; LINE_MAX],
        len: 0,
    };
    let _ = line.write_fmt(args);
    line.buf[line.len] = b'\n';
    write_bytes(&line.buf[..=line.len]);
}

fn write_bytes(bytes: &[u8]) {
    if hypercall::available() {
        hypercall::console_write(bytes);
        pvconsole::write(bytes);
    } else {
        for &b in bytes {
            if b == b'\n' {
                com1_write(b'\r');
            }
            com1_write(b);
        }
    }
}

fn com1_write(byte: u8) {
    // SAFETY: without a hypervisor this kernel owns the machine and COM1; the UART is used as the firmware left it. The wait is bounded so a missing UART (LSR reads 0xff, or never empties) cannot hang us.
    unsafe {
        for _ in 0..100_000 {
            if cpu::inb(COM1_LSR) & LSR_THR_EMPTY != 0 {
                break;
            }
        }
        cpu::outb(COM1, byte);
    }
}

/// Prints one line to the console (one hypercall per line).
#[macro_export]
macro_rules! println {
    ($($arg:tt)*) => { $crate::console::print_line(format_args!($($arg)*)) };
}
