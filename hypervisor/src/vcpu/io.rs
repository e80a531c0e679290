//! Which I/O ports a domain reaches directly. Dom0 owns the machine's devices,
//! so it gets every port but those the hypervisor keeps: its console UART,
//! the legacy interrupt controllers and timer (with port 0x61, whose NMI
//! status bits Dom0 then reads as 0), and the emulators' exit ports.

#![forbid(unsafe_code)]

use core::ops::RangeInclusive;

/// Ports the hypervisor keeps (reads give all ones, writes are dropped).
const HYPERVISOR_PORTS: &[RangeInclusive<u16>] = &[
    0x20..=0x21,     // master 8259 PIC
    0x40..=0x43,     // 8254 PIT (counter 2 emulated: dev/pit.rs)
    0x61..=0x61,     // counter 2's gate, speaker, NMI status (emulated: dev/pit.rs)
    0xa0..=0xa1,     // slave 8259 PIC
    0xf4..=0xf4,     // QEMU isa-debug-exit
    0x3f8..=0x3ff,   // COM1, the hypervisor console
    0x4d0..=0x4d1,   // 8259 ELCR
    0x8900..=0x8900, // Bochs shutdown port
];

/// True if an access to `port` by a domain must trap to the hypervisor.
/// Dom0's writes to the PM1 control registers `pm1` trap too: SLP_EN there
/// would power the machine off under the hypervisor ([`sleep_write`]).
pub fn intercepted(privileged: bool, port: u16, pm1: &[Option<u16>; 2]) -> bool {
    !privileged || HYPERVISOR_PORTS.iter().any(|r| r.contains(&port)) || pm1.contains(&Some(port))
}

/// PM1_CNT's SLP_EN (ACPI 6.4, 4.8.3.2.1): writing it enters the sleep
/// state SLP_TYP (bits 10-12) names.
pub const SLP_EN: u32 = 1 << 13;

/// What Dom0's write of `value` to a PM1 control register asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pm1Write {
    /// A plain register write (SCI_EN, SLP_TYP before SLP_EN, ...): made.
    Write,
    /// Enter sleep type `slp_typ`: the hypervisor cannot suspend, so Dom0
    /// is shut down with poweroff and the write is made when the machine
    /// stops (an S5 write then powers it off).
    Sleep { slp_typ: u8 },
}

/// Classifies Dom0's write of `value` to a PM1 control register.
pub fn sleep_write(value: u32) -> Pm1Write {
    if value & SLP_EN != 0 { Pm1Write::Sleep { slp_typ: ((value >> 10) & 7) as u8 } } else { Pm1Write::Write }
}

/// The bits of RAX an IN or OUT of `size` bytes (1, 2 or 4) uses.
pub fn width_mask(size: u8) -> u64 {
    match size {
        1 => 0xff,
        2 => 0xffff,
        _ => 0xffff_ffff,
    }
}

/// RAX after an IN of `size` bytes that read `value`: AL and AX leave the
/// rest of RAX alone, EAX zero-extends (as every 32-bit register write).
pub fn rax_after_in(rax: u64, size: u8, value: u32) -> u64 {
    let mask = width_mask(size);
    let merged = (rax & !mask) | (u64::from(value) & mask);
    if size == 4 { merged & 0xffff_ffff } else { merged }
}

/// The value an intercepted read returns (`size` bytes of ones).
pub fn read_value(size: u8) -> u32 {
    crate::bits::low32(width_mask(size))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PM1: [Option<u16>; 2] = [Some(0x604), None];

    #[test]
    fn dom0_reaches_devices_but_not_the_hypervisor_console_or_exit_ports() {
        assert!(!intercepted(true, 0x2f8, &PM1), "COM2 belongs to Dom0");
        assert!(!intercepted(true, 0xcf8, &PM1), "PCI config space belongs to Dom0");
        assert!(!intercepted(true, 0x600, &PM1), "PM1 event registers belong to Dom0");
        for port in [0x3f8, 0x3fd, 0xf4, 0x8900, 0x40, 0x21, 0x61, 0x604] {
            assert!(intercepted(true, port, &PM1), "port {port:#x}");
        }
        assert!(!intercepted(true, 0x604, &[None, None]), "no FADT: nothing to trap");
    }

    #[test]
    fn unprivileged_domains_reach_no_port() {
        assert!(intercepted(false, 0x2f8, &PM1));
        assert!(intercepted(false, 0xcf8, &PM1));
    }

    #[test]
    fn only_slp_en_enters_sleep() {
        // Linux's acpi_hw_legacy_sleep: SLP_TYP first, then SLP_TYP | SLP_EN.
        assert_eq!(sleep_write(0x0001), Pm1Write::Write, "SCI_EN alone");
        assert_eq!(sleep_write(0x0001 | 5 << 10), Pm1Write::Write, "SLP_TYP without SLP_EN");
        assert_eq!(sleep_write(0x0001 | 5 << 10 | SLP_EN), Pm1Write::Sleep { slp_typ: 5 });
        assert_eq!(sleep_write(SLP_EN), Pm1Write::Sleep { slp_typ: 0 });
    }

    #[test]
    fn in_results_merge_into_al_and_ax_and_zero_extend_eax() {
        let rax = 0x1122_3344_5566_7788;
        assert_eq!(rax_after_in(rax, 1, 0xab), 0x1122_3344_5566_77ab);
        assert_eq!(rax_after_in(rax, 2, 0xabcd), 0x1122_3344_5566_abcd);
        assert_eq!(rax_after_in(rax, 4, 0xdead_beef), 0xdead_beef);
        assert_eq!(rax_after_in(rax, 1, 0x1ff), 0x1122_3344_5566_77ff, "only AL is written");
    }

    #[test]
    fn intercepted_reads_float_high() {
        assert_eq!(read_value(1), 0xff);
        assert_eq!(read_value(2), 0xffff);
        assert_eq!(read_value(4), 0xffff_ffff);
    }
}
