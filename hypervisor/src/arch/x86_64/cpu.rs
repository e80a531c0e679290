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

/// Turns on XSAVE support (CR4.OSXSAVE) when the CPU has it, so guests'
/// XSETBV can be carried out. The hypervisor itself uses no FPU/SSE state.
pub fn enable_xsave() {
    // SAFETY: SSE is baseline on x86_64, so CR4.OSFXSR/OSXMMEXCPT may be set; the hypervisor (soft-float) needs them only to clear guest SSE state (`reset_extended_state`).
    unsafe {
        x86_64::registers::control::Cr4::update(|f| {
            f.insert(x86_64::registers::control::Cr4Flags::OSFXSR | x86_64::registers::control::Cr4Flags::OSXMMEXCPT_ENABLE)
        })
    };
    if cpuid(1, 0).ecx & (1 << 26) != 0 {
        // SAFETY: CPUID reports XSAVE, so CR4.OSXSAVE may be set; the hypervisor (soft-float) has no FPU state it could lose.
        unsafe { x86_64::registers::control::Cr4::update(|f| f.insert(x86_64::registers::control::Cr4Flags::OSXSAVE)) };
    }
}

/// XCR0 components this CPU supports (CPUID 0xD.0 EDX:EAX), 0 without XSAVE.
pub fn xcr0_supported() -> u64 {
    if max_leaf() < 0xd || cpuid(1, 0).ecx & (1 << 26) == 0 {
        return 0;
    }
    let r = cpuid(0xd, 0);
    (u64::from(r.edx) << 32) | u64::from(r.eax)
}

/// Sets XCR0 for the guest about to run on this CPU.
///
/// Returns false (and changes nothing) if `value` is not one `xcr0_supported`
/// allows; callers validate first with the guest policy.
pub fn set_xcr0(value: u64) -> bool {
    let supported = xcr0_supported();
    if supported == 0 || value & !supported != 0 || value & 1 == 0 {
        return false;
    }
    // SAFETY: CR4.OSXSAVE is set (enable_xsave) when XSAVE exists, and the value only has supported bits with x87 set, so XSETBV cannot fault; the hypervisor keeps no state in the components it switches.
    unsafe {
        core::arch::asm!("xsetbv", in("ecx") 0u32, in("eax") crate::bits::low32(value), in("edx") (value >> 32) as u32, options(nomem, nostack));
    }
    true
}

/// An all-zero XSAVE image: XSTATE_BV 0 makes XRSTOR load every requested
/// component's initial state.
#[repr(C, align(64))]
struct InitXsaveArea([u8; 4096]);
static INIT_XSAVE: InitXsaveArea = InitXsaveArea([0; 4096]);

/// Puts the FPU, SSE and AVX state (and XCR0) back to their power-on values,
/// so that a vCPU starting on this CPU sees nothing of the one before it.
pub fn reset_extended_state() {
    // SAFETY: FNINIT only resets x87 state, which the soft-float hypervisor does not use.
    unsafe { core::arch::asm!("fninit", options(nomem, nostack)) };
    // Components 0..=7 (x87 to AVX-512) fit the 4 KiB image.
    let rfbm = xcr0_supported() & 0xff;
    if rfbm != 0 && set_xcr0(rfbm) {
        // SAFETY: XSAVE is on (set_xcr0 succeeded), the image is 64-byte aligned, readable, large enough for components 0..=7 and all zero, so XRSTOR loads their initial states and cannot fault (MXCSR 0 is valid).
        unsafe {
            core::arch::asm!("xrstor64 [{0}]", in(reg) INIT_XSAVE.0.as_ptr(), in("eax") rfbm as u32, in("edx") (rfbm >> 32) as u32, options(readonly, nostack));
        }
        set_xcr0(1);
    } else {
        // SAFETY: SSE2 is baseline on x86_64; clearing XMM registers and loading the default MXCSR touch no memory the hypervisor uses.
        unsafe {
            core::arch::asm!(
                "xorps xmm0, xmm0", "xorps xmm1, xmm1", "xorps xmm2, xmm2", "xorps xmm3, xmm3",
                "xorps xmm4, xmm4", "xorps xmm5, xmm5", "xorps xmm6, xmm6", "xorps xmm7, xmm7",
                "xorps xmm8, xmm8", "xorps xmm9, xmm9", "xorps xmm10, xmm10", "xorps xmm11, xmm11",
                "xorps xmm12, xmm12", "xorps xmm13, xmm13", "xorps xmm14, xmm14", "xorps xmm15, xmm15",
                "ldmxcsr [{0}]",
                in(reg) &0x1f80u32,
                out("xmm0") _, out("xmm1") _, out("xmm2") _, out("xmm3") _, out("xmm4") _, out("xmm5") _, out("xmm6") _, out("xmm7") _,
                out("xmm8") _, out("xmm9") _, out("xmm10") _, out("xmm11") _, out("xmm12") _, out("xmm13") _, out("xmm14") _, out("xmm15") _,
                options(nostack, readonly),
            );
        }
    }
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
