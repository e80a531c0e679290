//! Stopping the machine: on a panic, a fatal exception or a clean test exit.
//!
//! Under an emulator the exit status reaches the host: QEMU's isa-debug-exit
//! device (port 0xf4, status `(code << 1) | 1`), Bochs's shutdown port 0x8900
//! and its magic breakpoint `xchg bx, bx`. On hardware the CPU halts.

use core::sync::atomic::{AtomicBool, Ordering};
use x86_64::instructions::port::Port;

pub const EXIT_SUCCESS: u32 = 0;
pub const EXIT_FAILURE: u32 = 1;
/// Dom0 crashed or shut down with another reason than poweroff.
pub const EXIT_DOM0_FAILED: u32 = 2;

const QEMU_DEBUG_EXIT_PORT: u16 = 0xf4;
const BOCHS_SHUTDOWN_PORT: u16 = 0x8900;

static STOPPING: AtomicBool = AtomicBool::new(false);

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
    super::cpu::halt_forever()
}
