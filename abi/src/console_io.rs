//! Mirrors xen/include/public/xen.h (HYPERVISOR_console_io)
//!
//! `HYPERVISOR_console_io(cmd, count, buffer)`: write `count` bytes from the
//! guest buffer to the hypervisor's console, or read up to `count` bytes from
//! it (privileged domains only).

/// Write `count` bytes at `buffer` to the console.
pub const CONSOLEIO_WRITE: u64 = 0;
/// Read up to `count` bytes of console input into `buffer`; returns the count.
pub const CONSOLEIO_READ: u64 = 1;
