//! Stopping the machine: on a panic, a fatal exception or a clean test exit.
//!
//! Under an emulator the exit status reaches the host: QEMU's isa-debug-exit
//! device (port 0xf4, status `(code << 1) | 1`), Bochs's shutdown port 0x8900
//! and its magic breakpoint `xchg bx, bx`. On hardware the CPU halts, or,
//! when Dom0 asked for ACPI sleep (its write of SLP_EN to a PM1 control
//! register, which the hypervisor traps), that write is made last and the
//! machine powers off as Dom0 meant.

use core::sync::atomic::{AtomicBool, AtomicU16, AtomicU64, Ordering};
use x86_64::instructions::port::Port;

use crate::bits::{low8, low16};

pub const EXIT_SUCCESS: u32 = 0;
pub const EXIT_FAILURE: u32 = 1;
/// Dom0 crashed or shut down with another reason than poweroff.
pub const EXIT_DOM0_FAILED: u32 = 2;

const QEMU_DEBUG_EXIT_PORT: u16 = 0xf4;
const BOCHS_SHUTDOWN_PORT: u16 = 0x8900;

static STOPPING: AtomicBool = AtomicBool::new(false);

/// The FADT's PM1a/PM1b control ports (0: none), set once at Dom0's build.
static PM1_CONTROL: [AtomicU16; 2] = [const { AtomicU16::new(0) }; 2];
/// Dom0's sleep request: port << 32 | value (0: none).
static SLEEP_REQUEST: AtomicU64 = AtomicU64::new(0);

/// Records the host's PM1 control ports (Dom0 reaches them only through the
/// hypervisor: `vcpu::io`).
pub fn set_pm1_control(ports: [Option<u16>; 2]) {
    for (slot, port) in PM1_CONTROL.iter().zip(ports) {
        slot.store(port.unwrap_or(0), Ordering::Relaxed);
    }
}

/// The host's PM1 control ports.
pub fn pm1_control() -> [Option<u16>; 2] {
    PM1_CONTROL.each_ref().map(|p| Some(p.load(Ordering::Relaxed)).filter(|&p| p != 0))
}

/// Reads PM1 control register `port` for Dom0 (`size` 1, 2 or 4 bytes).
pub fn pm1_read(port: u16, size: u8) -> u32 {
    if !pm1_control().contains(&Some(port)) {
        return u32::MAX;
    }
    // SAFETY: `port` is a PM1 control register the FADT names; Dom0, which owns ACPI, reads it as the OS would, and a read has no side effect.
    unsafe {
        match size {
            1 => u32::from(Port::<u8>::new(port).read()),
            2 => u32::from(Port::<u16>::new(port).read()),
            _ => Port::<u32>::new(port).read(),
        }
    }
}

/// Writes PM1 control register `port` for Dom0: a write without SLP_EN
/// (the bits Dom0 keeps, SLP_TYP set up before the sleep).
pub fn pm1_write(port: u16, size: u8, value: u32) {
    if !pm1_control().contains(&Some(port)) {
        return;
    }
    // SAFETY: as in `pm1_read`; the caller passes no write with SLP_EN, so the machine does not change state under the hypervisor.
    unsafe { write_port(port, size, value) };
}

/// Remembers Dom0's write that enters a sleep state (SLP_EN set), made at
/// the end of [`stop_machine`].
pub fn request_sleep(port: u16, value: u16) {
    SLEEP_REQUEST.store(u64::from(port) << 32 | u64::from(value), Ordering::SeqCst);
}

/// # Safety
/// `port` must be a device register whose write the caller means.
unsafe fn write_port(port: u16, size: u8, value: u32) {
    // SAFETY: as the caller promised.
    unsafe {
        match size {
            1 => Port::<u8>::new(port).write(low8(u64::from(value))),
            2 => Port::<u16>::new(port).write(low16(u64::from(value))),
            _ => Port::<u32>::new(port).write(value),
        }
    }
}

/// True once some CPU has begun stopping the machine.
pub fn stopping() -> bool {
    STOPPING.load(Ordering::Relaxed)
}

/// Stops every other CPU with an NMI, reports `code` and leaves the emulator.
/// A second CPU that gets here while the first is stopping just halts.
pub fn stop_machine(code: u32) -> ! {
    if STOPPING.swap(true, Ordering::SeqCst) {
        super::cpu::halt_forever();
    }
    super::apic::nmi_all_others();
    let cpu = super::cpu_index();
    crate::console::write_line_unlocked(format_args!("cpu{cpu} info hv: exit code={code}"));
    super::serial::drain();
    // SAFETY: these ports belong to the emulators' debug devices; on real hardware nothing decodes them and the writes are dropped.
    unsafe {
        Port::<u32>::new(QEMU_DEBUG_EXIT_PORT).write(code);
        let mut bochs = Port::<u8>::new(BOCHS_SHUTDOWN_PORT);
        for b in b"Shutdown" {
            bochs.write(*b);
        }
        core::arch::asm!("xchg bx, bx", options(nomem, nostack));
    }
    // Still running: no emulator took the exit. Make Dom0's sleep write.
    let request = SLEEP_REQUEST.load(Ordering::SeqCst);
    let port = low16(request >> 32);
    if request != 0 && pm1_control().contains(&Some(port)) {
        // SAFETY: Dom0, which owns ACPI, wrote this value to this PM1 control register to enter a sleep state (S5: power off); every other CPU is stopped.
        unsafe { write_port(port, 2, u32::from(low16(request))) };
    }
    super::cpu::halt_forever()
}
