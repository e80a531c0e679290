//! The few x86 instructions the kernel needs, each in one small wrapper.

use core::arch::asm;

/// The four registers CPUID returns.
#[derive(Clone, Copy, Debug)]
pub struct CpuidResult {
    pub eax: u32,
    pub ebx: u32,
    pub ecx: u32,
    pub edx: u32,
}

/// CPUID `leaf`, `subleaf`. Under a hypervisor every call is a VM exit.
#[inline(always)]
pub fn cpuid(leaf: u32, subleaf: u32) -> CpuidResult {
    let (eax, ebx, ecx, edx);
    // SAFETY: CPUID only writes the four registers named here; rbx is reserved by LLVM, so it is saved in a scratch register and restored.
    unsafe {
        asm!(
            "mov {rbx_save:r}, rbx",
            "cpuid",
            "xchg {rbx_save:r}, rbx",
            rbx_save = out(reg) ebx,
            inout("eax") leaf => eax,
            inout("ecx") subleaf => ecx,
            out("edx") edx,
            options(nostack, preserves_flags),
        );
    }
    CpuidResult { eax, ebx, ecx, edx }
}

/// The time-stamp counter, with LFENCE before and after so the reading is not
/// reordered with the measured instructions.
#[inline(always)]
pub fn rdtsc_serialized() -> u64 {
    let (lo, hi): (u32, u32);
    // SAFETY: LFENCE and RDTSC touch no memory; RDTSC writes only edx:eax.
    unsafe {
        asm!("lfence", "rdtsc", "lfence", out("eax") lo, out("edx") hi, options(nostack, nomem, preserves_flags));
    }
    (u64::from(hi) << 32) | u64::from(lo)
}

/// Writes `value` to model-specific register `msr`.
///
/// # Safety
/// The MSR and value must be valid (else #GP) and the write must not break
/// what the rest of the kernel relies on.
pub unsafe fn wrmsr(msr: u32, value: u64) {
    let lo = (value & 0xffff_ffff) as u32;
    let hi = (value >> 32) as u32;
    // SAFETY: the caller vouches for the MSR and the value.
    unsafe {
        asm!("wrmsr", in("ecx") msr, in("eax") lo, in("edx") hi, options(nostack, preserves_flags));
    }
}

/// Reloads CR3, flushing the non-global TLB entries.
///
/// # Safety
/// The page tables CR3 points to must map everything in use.
pub unsafe fn flush_tlb() {
    // SAFETY: rewriting CR3 with its own value keeps the same page tables.
    unsafe {
        asm!("mov {tmp}, cr3", "mov cr3, {tmp}", tmp = out(reg) _, options(nostack, preserves_flags));
    }
}

/// Writes a byte to an I/O port.
///
/// # Safety
/// The port must belong to a device this kernel may drive.
pub unsafe fn outb(port: u16, value: u8) {
    // SAFETY: the caller vouches for the port.
    unsafe {
        asm!("out dx, al", in("dx") port, in("al") value, options(nostack, nomem, preserves_flags));
    }
}

/// Reads a byte from an I/O port.
///
/// # Safety
/// The port must belong to a device this kernel may drive.
pub unsafe fn inb(port: u16) -> u8 {
    let value;
    // SAFETY: the caller vouches for the port.
    unsafe {
        asm!("in al, dx", in("dx") port, out("al") value, options(nostack, nomem, preserves_flags));
    }
    value
}

/// Reads a 16-bit word from an I/O port.
///
/// # Safety
/// As [`inb`].
pub unsafe fn inw(port: u16) -> u16 {
    let value;
    // SAFETY: the caller vouches for the port.
    unsafe {
        asm!("in ax, dx", in("dx") port, out("ax") value, options(nostack, nomem, preserves_flags));
    }
    value
}

/// Reads a 32-bit doubleword from an I/O port.
///
/// # Safety
/// As [`inb`].
pub unsafe fn inl(port: u16) -> u32 {
    let value;
    // SAFETY: the caller vouches for the port.
    unsafe {
        asm!("in eax, dx", in("dx") port, out("eax") value, options(nostack, nomem, preserves_flags));
    }
    value
}

/// Stops this CPU for good: interrupts off, then HLT in a loop (an NMI or SMI
/// may wake HLT, so it loops).
pub fn halt_forever() -> ! {
    loop {
        // SAFETY: CLI and HLT touch no memory; this CPU has nothing left to do.
        unsafe { asm!("cli", "hlt", options(nostack, nomem)) };
    }
}

/// Loads an IDT with limit 0 and executes INT3: #BP cannot be delivered, nor
/// the #GP nor the #DF that follow, so the CPU triple-faults.
pub fn triple_fault() -> ! {
    #[repr(C, packed)]
    struct Idtr {
        limit: u16,
        base: u64,
    }
    let idtr = Idtr { limit: 0, base: 0 };
    // SAFETY: deliberately ends this CPU's execution with a triple fault; the descriptor outlives the LIDT that reads it.
    unsafe {
        asm!("lidt [{}]", "int3", in(reg) &raw const idtr, options(noreturn, nostack));
    }
}
