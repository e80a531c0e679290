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

// Instructions that load a value chosen by a guest and may fault even after
// every architectural rule was checked (a rule we missed, an erratum). Each
// has a `*_insn` label on the instruction and a `*_fixup` label the #GP/#UD
// handler resumes at (`fixup_for`), returning 1 instead of 0 in EAX. The
// fixup runs with the stack as it was at the instruction, so its `ret`
// returns to the caller.
core::arch::global_asm!(
    r#"
    .globl hv_xsetbv_checked
    .globl hv_xsetbv_insn
    .globl hv_xsetbv_fixup
hv_xsetbv_checked:              /* edi = XCR index, rsi = value */
    mov ecx, edi
    mov eax, esi
    mov rdx, rsi
    shr rdx, 32
hv_xsetbv_insn:
    xsetbv
    xor eax, eax
    ret
hv_xsetbv_fixup:
    mov eax, 1
    ret

    .globl hv_wrmsr_checked
    .globl hv_wrmsr_insn
    .globl hv_wrmsr_fixup
hv_wrmsr_checked:               /* edi = MSR, rsi = value */
    mov ecx, edi
    mov eax, esi
    mov rdx, rsi
    shr rdx, 32
hv_wrmsr_insn:
    wrmsr
    xor eax, eax
    ret
hv_wrmsr_fixup:
    mov eax, 1
    ret

    .globl hv_rdmsr_checked
    .globl hv_rdmsr_insn
    .globl hv_rdmsr_fixup
hv_rdmsr_checked:               /* edi = MSR, rsi = where the value goes */
    mov ecx, edi
hv_rdmsr_insn:
    rdmsr
    shl rdx, 32
    or rax, rdx
    mov [rsi], rax
    xor eax, eax
    ret
hv_rdmsr_fixup:
    mov eax, 1
    ret
    "#
);

unsafe extern "C" {
    fn hv_xsetbv_checked(index: u32, value: u64) -> u32;
    fn hv_xsetbv_insn();
    fn hv_xsetbv_fixup();
    fn hv_wrmsr_checked(msr: u32, value: u64) -> u32;
    fn hv_wrmsr_insn();
    fn hv_wrmsr_fixup();
    fn hv_rdmsr_checked(msr: u32, value: *mut u64) -> u32;
    fn hv_rdmsr_insn();
    fn hv_rdmsr_fixup();
}

/// One "may fault" instruction: where it is, where its fixup is.
#[derive(Clone, Copy)]
pub struct ExceptionTableEntry {
    pub insn: unsafe extern "C" fn(),
    pub fixup: unsafe extern "C" fn(),
}

/// The instructions a #GP or #UD may recover from (the exception table).
pub static EXCEPTION_TABLE: [ExceptionTableEntry; 3] = [
    ExceptionTableEntry { insn: hv_xsetbv_insn, fixup: hv_xsetbv_fixup },
    ExceptionTableEntry { insn: hv_wrmsr_insn, fixup: hv_wrmsr_fixup },
    ExceptionTableEntry { insn: hv_rdmsr_insn, fixup: hv_rdmsr_fixup },
];

/// Where to resume after a fault at `rip`, if `rip` is one of `table`'s
/// instructions; None means the fault is the hypervisor's own bug.
pub fn fixup_in(table: &[ExceptionTableEntry], rip: u64) -> Option<u64> {
    table.iter().find(|e| e.insn as usize as u64 == rip).map(|e| e.fixup as usize as u64)
}

/// `fixup_in` on the hypervisor's table: what the exception handlers ask.
pub fn fixup_for(rip: u64) -> Option<u64> {
    fixup_in(&EXCEPTION_TABLE, rip)
}

/// The CPU refused a value (the instruction faulted and was recovered).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Refused;

/// Sets XCR0 for the guest about to run on this CPU.
///
/// Refuses (and changes nothing) a value `xcr0_supported` does not allow;
/// callers validate first with the architectural rules (`vcpu::msr::xcr0_valid`).
/// A value the CPU still rejects is refused too: its #GP is recovered.
pub fn set_xcr0(value: u64) -> Result<(), Refused> {
    let supported = xcr0_supported();
    if supported == 0 || value & !supported != 0 || value & 1 == 0 {
        return Err(Refused);
    }
    // SAFETY: CR4.OSXSAVE is set (enable_xsave) when XSAVE exists; a value the CPU rejects raises #GP at `hv_xsetbv_insn`, which the exception table turns into a return of 1 (nothing changed); the hypervisor keeps no state in the components it switches.
    match unsafe { hv_xsetbv_checked(0, value) } {
        0 => Ok(()),
        _ => Err(Refused),
    }
}

/// Whether a fault on an exception-table instruction is recovered on this
/// CPU: XCR0 = 0 (x87 clear) always faults (#GP, or #UD before
/// CR4.OSXSAVE), so this returns true only if the handler resumed at the
/// fixup. Run once per CPU after its IDT is loaded.
pub fn exception_table_recovers() -> bool {
    // SAFETY: XSETBV with XCR0 = 0 never succeeds (SDM Vol. 2, XSETBV: #GP if bit 0 is clear), so nothing changes; its fault resumes at `hv_xsetbv_fixup`.
    unsafe { hv_xsetbv_checked(0, 0) == 1 }
}

/// Writes an MSR with a value that may come from a guest; a #GP (a value
/// the CPU rejects) is recovered and reported.
///
/// # Safety
/// The write must not break memory safety of the hypervisor if it succeeds
/// (e.g. not the GS base under running code); whether it faults is checked.
pub unsafe fn wrmsr_checked(msr: u32, value: u64) -> Result<(), Refused> {
    // SAFETY: the caller guarantees a successful write is harmless; a faulting one resumes at `hv_wrmsr_fixup` (exception table).
    match unsafe { hv_wrmsr_checked(msr, value) } {
        0 => Ok(()),
        _ => Err(Refused),
    }
}

/// Reads a host MSR for a guest that may see it (Dom0's memory-controller
/// MSRs); an MSR the CPU does not have (#GP) is reported, not fatal.
pub fn rdmsr_checked(msr: u32) -> Result<u64, Refused> {
    let mut value = 0u64;
    // SAFETY: the MSRs passed here (AMD's SYSCFG, TOP_MEM, IORRs, TSEG) have no read side effects; one the CPU lacks raises #GP at `hv_rdmsr_insn`, which the exception table turns into a return of 1, and `value` is a live local the routine writes only on success.
    match unsafe { hv_rdmsr_checked(msr, &raw mut value) } {
        0 => Ok(value),
        _ => Err(Refused),
    }
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
    if rfbm != 0 && set_xcr0(rfbm).is_ok() {
        // SAFETY: XSAVE is on (set_xcr0 succeeded), the image is 64-byte aligned, readable, large enough for components 0..=7 and all zero, so XRSTOR loads their initial states and cannot fault (MXCSR 0 is valid).
        unsafe {
            core::arch::asm!("xrstor64 [{0}]", in(reg) INIT_XSAVE.0.as_ptr(), in("eax") rfbm as u32, in("edx") (rfbm >> 32) as u32, options(readonly, nostack));
        }
        // x87 alone is always valid.
        let _ = set_xcr0(1);
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

/// MSRs a guest reaches without an exit and that no VMCS/VMCB field switches
/// under VMX (SYSCALL targets, SWAPGS base): STAR, LSTAR, CSTAR, SFMASK,
/// KERNEL_GS_BASE (under SVM, VMLOAD loads them from the fresh VMCB); and
/// TSC_AUX, which neither switches (RDTSCP/RDPID read it).
const GUEST_SYSCALL_MSRS: [u32; 6] = [0xc000_0081, 0xc000_0082, 0xc000_0083, 0xc000_0084, 0xc000_0102, 0xc000_0103];

/// Zeroes what a vCPU reaches directly and no VMCS/VMCB switches, so the
/// next vCPU on this CPU starts with power-on values, not the previous
/// guest's kernel pointers: DR0-DR3 (DR6 to its reset value; DR7 lives in
/// the VMCS/VMCB) and the SYSCALL/SWAPGS MSRs (their reset value is 0).
pub fn reset_guest_registers() {
    // SAFETY: the hypervisor uses no hardware breakpoints (DR7 in the host is 0x400: all disabled), so the address registers are free; 0xffff0ff0 is DR6's architectural reset value.
    unsafe {
        core::arch::asm!(
            "mov dr0, {0}", "mov dr1, {0}", "mov dr2, {0}", "mov dr3, {0}", "mov dr6, {1}",
            in(reg) 0u64, in(reg) 0xffff_0ff0u64, options(nomem, nostack),
        );
    }
    for msr in GUEST_SYSCALL_MSRS {
        // SAFETY: the hypervisor executes no SYSCALL, SYSRET, SWAPGS, RDTSCP or RDPID, so these MSRs hold no state of its own; 0 is their reset value. CSTAR exists on Intel too (writes are ignored); a CPU that faults anyway is recovered.
        let _ = unsafe { wrmsr_checked(msr, 0) };
    }
}

/// What a descheduled vCPU keeps of the registers that no VMCS/VMCB
/// switches (see [`reset_extended_state`] and [`reset_guest_registers`]),
/// while other vCPUs use its CPU: the FPU/SSE/AVX image (XSAVE with the
/// guest's XCR0, or FXSAVE on a CPU without XSAVE), XCR0, DR0-DR3 and DR6,
/// and under VMX the SYSCALL/SWAPGS MSRs and TSC_AUX (SVM keeps them in the
/// VMCB through VMSAVE/VMLOAD).
pub struct SavedGuestState {
    /// The image, at the first 64-byte boundary inside.
    area: alloc::vec::Vec<u8>,
    xcr0: u64,
    dr: [u64; 5],
    msrs: [u64; GUEST_SYSCALL_MSRS.len()],
    switch_msrs: bool,
}

/// Bytes of this CPU's XSAVE image for every component it supports
/// (CPUID 0xD.0 ECX), or FXSAVE's 512 without XSAVE.
fn xsave_size() -> usize {
    if xcr0_supported() == 0 { 512 } else { (cpuid(0xd, 0).ecx as usize).max(512 + 64) }
}

impl SavedGuestState {
    /// Room for one vCPU's state on this machine; `switch_msrs` under VMX.
    pub fn new(switch_msrs: bool) -> Self {
        SavedGuestState { area: alloc::vec![0; xsave_size() + 64], xcr0: 1, dr: [0; 5], msrs: [0; GUEST_SYSCALL_MSRS.len()], switch_msrs }
    }

    fn image(&mut self) -> *mut u8 {
        let base = self.area.as_mut_ptr();
        let offset = base.align_offset(64);
        // In bounds: the Vec has 64 bytes more than the image needs.
        base.wrapping_add(offset)
    }

    /// Saves this CPU's guest-owned registers (the vCPU that just ran here).
    pub fn save(&mut self) {
        let image = self.image();
        if xcr0_supported() == 0 {
            // SAFETY: the image is 16-byte aligned (64 in fact), 512 bytes long and owned by this struct; FXSAVE writes only there.
            unsafe { core::arch::asm!("fxsave64 [{0}]", in(reg) image, options(nostack)) };
        } else {
            let xcr0 = xgetbv0();
            self.xcr0 = xcr0;
            // SAFETY: XSAVE is enabled (xcr0_supported), the image is 64-byte aligned and as large as CPUID 0xD.0 ECX says every supported component needs, and XCR0 holds only supported ones; XSAVE writes only there.
            unsafe { core::arch::asm!("xsave64 [{0}]", in(reg) image, in("eax") crate::bits::low32(xcr0), in("edx") crate::bits::low32(xcr0 >> 32), options(nostack)) };
        }
        // SAFETY: reading debug registers has no side effect.
        unsafe {
            core::arch::asm!(
                "mov {0}, dr0", "mov {1}, dr1", "mov {2}, dr2", "mov {3}, dr3", "mov {4}, dr6",
                out(reg) self.dr[0], out(reg) self.dr[1], out(reg) self.dr[2], out(reg) self.dr[3], out(reg) self.dr[4],
                options(nomem, nostack),
            );
        }
        if self.switch_msrs {
            for (slot, msr) in self.msrs.iter_mut().zip(GUEST_SYSCALL_MSRS) {
                *slot = rdmsr_checked(msr).unwrap_or(0);
            }
        }
    }

    /// Puts back what [`Self::save`] took, for this vCPU to run again here.
    pub fn restore(&mut self) {
        let image = self.image();
        if xcr0_supported() == 0 {
            // SAFETY: the image holds what FXSAVE wrote in `save` (or zeroes never restored: `save` always runs first, see the caller), so FXRSTOR loads valid state and reads only the image.
            unsafe { core::arch::asm!("fxrstor64 [{0}]", in(reg) image, options(readonly, nostack)) };
        } else if set_xcr0(self.xcr0).is_ok() {
            let xcr0 = self.xcr0;
            // SAFETY: XCR0 is the value XSAVE saved the image under, and the image holds that XSAVE's output, so XRSTOR with the same mask loads valid state and reads only the image.
            unsafe { core::arch::asm!("xrstor64 [{0}]", in(reg) image, in("eax") crate::bits::low32(xcr0), in("edx") crate::bits::low32(xcr0 >> 32), options(readonly, nostack)) };
        }
        let dr = self.dr;
        // SAFETY: the hypervisor uses no hardware breakpoints (DR7 is the guest's, in the VMCS/VMCB), so the address registers and DR6 hold only this guest's values.
        unsafe {
            core::arch::asm!(
                "mov dr0, {0}", "mov dr1, {1}", "mov dr2, {2}", "mov dr3, {3}", "mov dr6, {4}",
                in(reg) dr[0], in(reg) dr[1], in(reg) dr[2], in(reg) dr[3], in(reg) dr[4],
                options(nomem, nostack),
            );
        }
        if self.switch_msrs {
            for (value, msr) in self.msrs.into_iter().zip(GUEST_SYSCALL_MSRS) {
                // SAFETY: as in `reset_guest_registers`: the hypervisor keeps no state in these MSRs; the values were read from them.
                let _ = unsafe { wrmsr_checked(msr, value) };
            }
        }
    }
}

/// XCR0 now (XGETBV 0); only with XSAVE enabled.
fn xgetbv0() -> u64 {
    let (lo, hi): (u32, u32);
    // SAFETY: callers check xcr0_supported(), so CR4.OSXSAVE is set and XGETBV 0 cannot fault.
    unsafe { core::arch::asm!("xgetbv", in("ecx") 0u32, out("eax") lo, out("edx") hi, options(nomem, nostack)) };
    (u64::from(hi) << 32) | u64::from(lo)
}

/// Writes back and invalidates this CPU's caches (a guest's INVD, done as
/// WBINVD as Xen does: nothing is discarded).
pub fn wbinvd() {
    // SAFETY: WBINVD writes modified lines back before invalidating, so no data is lost; it only costs time.
    unsafe { core::arch::asm!("wbinvd", options(nostack, preserves_flags)) };
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

#[cfg(test)]
mod tests {
    use super::*;

    extern "C" fn insn_a() {}
    extern "C" fn fixup_a() {}
    extern "C" fn insn_b() {}
    extern "C" fn fixup_b() {}

    fn addr(f: unsafe extern "C" fn()) -> u64 {
        f as usize as u64
    }

    #[test]
    fn a_fault_resumes_at_the_fixup_of_its_own_instruction_only() {
        let table = [
            ExceptionTableEntry { insn: insn_a, fixup: fixup_a },
            ExceptionTableEntry { insn: insn_b, fixup: fixup_b },
        ];
        assert_eq!(fixup_in(&table, addr(insn_b)), Some(addr(fixup_b)));
        assert_eq!(fixup_in(&table, addr(insn_a)), Some(addr(fixup_a)));
        assert_eq!(fixup_in(&table, addr(insn_a) + 1), None, "a fault elsewhere stays fatal");
    }

    #[test]
    fn the_hypervisor_table_covers_xsetbv_and_wrmsr() {
        assert_eq!(fixup_for(addr(hv_xsetbv_insn)), Some(addr(hv_xsetbv_fixup)));
        assert_eq!(fixup_for(addr(hv_wrmsr_insn)), Some(addr(hv_wrmsr_fixup)));
        let checked: unsafe extern "C" fn(u32, u64) -> u32 = hv_xsetbv_checked;
        assert_eq!(fixup_for(checked as usize as u64), None);
    }
}
