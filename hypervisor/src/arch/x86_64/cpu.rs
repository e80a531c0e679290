//! CPUID, MSRs and the time-stamp counter.

use core::arch::x86_64::{__cpuid_count, CpuidResult, _rdtsc};
use x86_64::registers::model_specific::Msr;

/// Executes CPUID for `leaf` / `subleaf`.
pub fn cpuid(leaf: u32, subleaf: u32) -> CpuidResult {
    __cpuid_count(leaf, subleaf)
}

/// Highest basic and extended CPUID leaves.
pub fn max_leaf() -> u32 {
    cpuid(0, 0).eax
}
pub fn max_extended_leaf() -> u32 {
    cpuid(0x8000_0000, 0).eax
}

/// The CPU's vendor string ("GenuineIntel", "AuthenticAMD", ...).
pub fn vendor() -> [u8; 12] {
    let r = cpuid(0, 0);
    let mut v = [0; 12];
    v[0..4].copy_from_slice(&r.ebx.to_le_bytes());
    v[4..8].copy_from_slice(&r.edx.to_le_bytes());
    v[8..12].copy_from_slice(&r.ecx.to_le_bytes());
    v
}

/// Reads a model-specific register.
///
/// # Safety
/// `msr` must exist on this CPU (reading an absent MSR raises #GP).
pub unsafe fn rdmsr(msr: u32) -> u64 {
    // SAFETY: the caller guarantees the MSR exists.
    unsafe { Msr::new(msr).read() }
}

/// Writes a model-specific register.
///
/// # Safety
/// `msr` must exist and `value` must be valid for it and must not break
/// memory safety (e.g. by moving the GS base under running code).
pub unsafe fn wrmsr(msr: u32, value: u64) {
    // SAFETY: the caller guarantees the MSR and value are valid.
    unsafe { Msr::new(msr).write(value) }
}

pub fn rdtsc() -> u64 {
    // SAFETY: RDTSC has no side effects; CR4.TSD is never set here.
    unsafe { _rdtsc() }
}

/// Spins with PAUSE, the polite way to wait for another CPU.
pub fn relax() {
    core::hint::spin_loop();
}

/// Stops this CPU for good: interrupts off, HLT in a loop (NMIs wake it, and
/// it halts again).
pub fn halt_forever() -> ! {
    loop {
        x86_64::instructions::interrupts::disable();
        x86_64::instructions::hlt();
    }
}

/// Waits for an interrupt with interrupts enabled, then returns.
pub fn wait_for_interrupt() {
    x86_64::instructions::interrupts::enable_and_hlt();
}
