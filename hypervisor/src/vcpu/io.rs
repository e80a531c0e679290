//! Which I/O ports a domain reaches directly. Dom0 owns the machine's devices,
//! so it gets every port but those the hypervisor keeps: its console UART,
//! the legacy interrupt controllers and timer, and the emulators' exit ports.

#![forbid(unsafe_code)]

use core::ops::RangeInclusive;

/// Ports the hypervisor keeps (reads give all ones, writes are dropped).
const HYPERVISOR_PORTS: &[RangeInclusive<u16>] = &[
    0x20..=0x21,     // master 8259 PIC
    0x40..=0x43,     // 8254 PIT
    0xa0..=0xa1,     // slave 8259 PIC
    0xf4..=0xf4,     // QEMU isa-debug-exit
    0x3f8..=0x3ff,   // COM1, the hypervisor console
    0x4d0..=0x4d1,   // 8259 ELCR
    0x8900..=0x8900, // Bochs shutdown port
];

/// True if an access to `port` by a domain must trap to the hypervisor.
pub fn intercepted(privileged: bool, port: u16) -> bool {
    !privileged || HYPERVISOR_PORTS.iter().any(|r| r.contains(&port))
}

/// The value an intercepted read returns (`size` bytes of ones).
pub fn read_value(size: u8) -> u32 {
    match size {
        1 => 0xff,
        2 => 0xffff,
        _ => 0xffff_ffff,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dom0_reaches_devices_but_not_the_hypervisor_console_or_exit_ports() {
        assert!(!intercepted(true, 0x2f8), "COM2 belongs to Dom0");
        assert!(!intercepted(true, 0xcf8), "PCI config space belongs to Dom0");
        for port in [0x3f8, 0x3fd, 0xf4, 0x8900, 0x40, 0x21] {
            assert!(intercepted(true, port), "port {port:#x}");
        }
    }

    #[test]
    fn unprivileged_domains_reach_no_port() {
        assert!(intercepted(false, 0x2f8));
        assert!(intercepted(false, 0xcf8));
    }

    #[test]
    fn intercepted_reads_float_high() {
        assert_eq!(read_value(1), 0xff);
        assert_eq!(read_value(2), 0xffff);
        assert_eq!(read_value(4), 0xffff_ffff);
    }
}
