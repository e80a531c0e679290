//! The time-stamp counter: its frequency, from CPUID leaf 0x15 when the CPU
//! reports it, else measured against the PIT; and delays built on it.

use core::sync::atomic::{AtomicU64, Ordering};
use x86_64::instructions::port::Port;

use super::cpu;

/// PIT input clock (Hz).
const PIT_HZ: u64 = 1_193_182;
/// Calibration window: 10 ms of PIT channel 2.
const CALIBRATION_MS: u64 = 10;

static TSC_KHZ: AtomicU64 = AtomicU64::new(0);
/// TSC at calibration: Xen's system time counts from here.
static BOOT_TSC: AtomicU64 = AtomicU64::new(0);

/// How the frequency was found, for the boot log.
#[derive(Clone, Copy, Debug)]
pub enum Source {
    Cpuid,
    Pit,
    /// The PIT never signalled; 1 GHz assumed.
    Guess,
}

/// Finds the TSC frequency once, on the boot CPU.
pub fn calibrate() -> (u64, Source) {
    let (khz, source) = match from_cpuid() {
        Some(khz) => (khz, Source::Cpuid),
        None => match against_pit() {
            Some(khz) => (khz, Source::Pit),
            None => (1_000_000, Source::Guess),
        },
    };
    TSC_KHZ.store(khz, Ordering::Relaxed);
    BOOT_TSC.store(cpu::rdtsc(), Ordering::Relaxed);
    (khz, source)
}

fn from_cpuid() -> Option<u64> {
    if cpu::max_leaf() < 0x15 {
        return None;
    }
    let r = cpu::cpuid(0x15, 0);
    if r.eax == 0 || r.ebx == 0 || r.ecx == 0 {
        return None;
    }
    Some(u64::from(r.ecx) * u64::from(r.ebx) / u64::from(r.eax) / 1000)
}

/// Counts TSC ticks while PIT channel 2 counts down 10 ms in mode 0.
fn against_pit() -> Option<u64> {
    let count = PIT_HZ * CALIBRATION_MS / 1000;
    // SAFETY: port 0x61 (speaker/gate) and the PIT belong to the hypervisor during boot; channel 2 drives only the (disabled) speaker.
    unsafe {
        let mut gate = Port::<u8>::new(0x61);
        let mut mode = Port::<u8>::new(0x43);
        let mut ch2 = Port::<u8>::new(0x42);
        let old = gate.read();
        gate.write((old & !0x02) | 0x01);
        mode.write(0b1011_0000);
        ch2.write((count & 0xff) as u8);
        ch2.write(crate::bits::low8(count >> 8));
        let start = cpu::rdtsc();
        let mut spins: u64 = 0;
        while gate.read() & 0x20 == 0 {
            spins += 1;
            if spins > 50_000_000 {
                gate.write(old);
                return None;
            }
        }
        let end = cpu::rdtsc();
        gate.write(old);
        Some((end - start) / CALIBRATION_MS)
    }
}

/// The TSC value system time 0 corresponds to.
pub fn boot_tsc() -> u64 {
    BOOT_TSC.load(Ordering::Relaxed)
}

pub fn khz() -> u64 {
    TSC_KHZ.load(Ordering::Relaxed)
}

/// Nanoseconds for a TSC delta.
pub fn ticks_to_ns(ticks: u64) -> u64 {
    let khz = khz().max(1);
    crate::bits::low64(u128::from(ticks) * 1_000_000 / u128::from(khz))
}

/// Busy-waits `us` microseconds.
pub fn delay_us(us: u64) {
    let end = cpu::rdtsc() + us * khz() / 1000;
    while cpu::rdtsc() < end {
        cpu::relax();
    }
}
