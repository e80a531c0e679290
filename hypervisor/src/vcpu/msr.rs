//! Which MSRs a guest may use, and how: an allow-list, everything else #GP
//! (as Xen does for MSRs it does not know).

#![forbid(unsafe_code)]

use super::cpuid::HYPERCALL_PAGE_MSR;

pub const IA32_APIC_BASE: u32 = 0x1b;
pub const IA32_PAT: u32 = 0x277;
pub const IA32_EFER: u32 = 0xc000_0080;

/// MSRs the guest reaches directly. The hardware switches them on entry and
/// exit (SVM: VMLOAD/VMSAVE; VMX: the VMCS guest FS/GS base and SYSENTER
/// fields), or the hypervisor never uses them (STAR, LSTAR, CSTAR, SFMASK,
/// KERNEL_GS_BASE under VMX: no SYSCALL or SWAPGS in the hypervisor). When a
/// CPU comes to run more than one vCPU, the latter must be saved and restored.
pub const PASSTHROUGH: &[u32] = &[
    0x174,       // IA32_SYSENTER_CS
    0x175,       // IA32_SYSENTER_ESP
    0x176,       // IA32_SYSENTER_EIP
    0xc000_0081, // STAR
    0xc000_0082, // LSTAR
    0xc000_0083, // CSTAR
    0xc000_0084, // SFMASK
    0xc000_0100, // FS_BASE
    0xc000_0101, // GS_BASE
    0xc000_0102, // KERNEL_GS_BASE
];

/// Whether XCR0 `value` is one the guest may set with XSETBV, given the
/// features the CPU supports (CPUID 0xD.0 EDX:EAX); else #GP
/// (SDM Vol. 1, 13.3).
pub fn xcr0_valid(value: u64, supported: u64) -> bool {
    const X87: u64 = 1 << 0;
    const SSE: u64 = 1 << 1;
    const AVX: u64 = 1 << 2;
    const AVX512: u64 = 0b111 << 5;
    value & X87 != 0
        && value & !supported == 0
        && (value & AVX == 0 || value & SSE != 0)
        && (value & AVX512 == 0 || (value & AVX512 == AVX512 && value & AVX != 0))
}

/// Bits of EFER a guest may set: SCE, LME, LMA, NXE.
const EFER_GUEST_BITS: u64 = (1 << 0) | (1 << 8) | (1 << 10) | (1 << 11);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MsrWrite {
    /// New guest EFER value (the backend adds what the hardware needs).
    Efer(u64),
    Pat(u64),
    /// Fill the guest page at this guest-physical address with hypercall stubs.
    HypercallPage(u64),
    /// Inject #GP.
    Fault,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MsrRead {
    Efer,
    Pat,
    Value(u64),
    Fault,
}

pub fn classify_write(msr: u32, value: u64) -> MsrWrite {
    match msr {
        IA32_EFER if value & !EFER_GUEST_BITS == 0 => MsrWrite::Efer(value),
        // Reserved PAT encodings (2, 3, >= 8) #GP, SDM Vol. 3, 12.12.2.
        IA32_PAT if value.to_le_bytes().iter().all(|b| matches!(b, 0 | 1 | 4..=7)) => MsrWrite::Pat(value),
        // Bits 11:0 of the value are the page index; Xen has one page.
        HYPERCALL_PAGE_MSR if value & 0xfff == 0 => MsrWrite::HypercallPage(value),
        _ => MsrWrite::Fault,
    }
}

pub fn classify_read(msr: u32) -> MsrRead {
    match msr {
        IA32_EFER => MsrRead::Efer,
        IA32_PAT => MsrRead::Pat,
        // xAPIC enabled at the architectural base, boot CPU.
        IA32_APIC_BASE => MsrRead::Value(0xfee0_0000 | (1 << 11) | (1 << 8)),
        _ => MsrRead::Fault,
    }
}

/// Xen's hypercall page: 128 stubs of 32 bytes, `mov eax, nr; <call insn>; ret`.
pub fn hypercall_page(instruction: [u8; 3]) -> [u8; 4096] {
    let mut page = [0xcc; 4096];
    for (nr, stub) in (0u32..).zip(page.as_chunks_mut::<32>().0.iter_mut()) {
        stub[0] = 0xb8;
        stub[1..5].copy_from_slice(&nr.to_le_bytes());
        stub[5..8].copy_from_slice(&instruction);
        stub[8] = 0xc3;
    }
    page
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn efer_writes_with_reserved_bits_fault() {
        assert_eq!(classify_write(IA32_EFER, 0x900), MsrWrite::Efer(0x900));
        assert_eq!(classify_write(IA32_EFER, 1 << 12), MsrWrite::Fault, "SVME is not the guest's");
    }

    #[test]
    fn pat_rejects_reserved_memory_types() {
        assert_eq!(classify_write(IA32_PAT, 0x0007_0406_0007_0406), MsrWrite::Pat(0x0007_0406_0007_0406));
        assert_eq!(classify_write(IA32_PAT, 0x02), MsrWrite::Fault);
    }

    #[test]
    fn hypercall_page_msr_takes_a_page_aligned_address() {
        assert_eq!(classify_write(HYPERCALL_PAGE_MSR, 0x5000), MsrWrite::HypercallPage(0x5000));
        assert_eq!(classify_write(HYPERCALL_PAGE_MSR, 0x5001), MsrWrite::Fault);
    }

    #[test]
    fn xcr0_needs_x87_supported_bits_and_sse_under_avx() {
        let supported = 0b1110_0111;
        assert!(xcr0_valid(0b11, supported));
        assert!(xcr0_valid(0b111, supported));
        assert!(!xcr0_valid(0b10, supported), "x87 is mandatory");
        assert!(!xcr0_valid(0b101, supported), "AVX needs SSE");
        assert!(!xcr0_valid(0b1011, supported), "unsupported component");
        assert!(!xcr0_valid(0b0010_0111, supported), "AVX-512 state comes as all three parts");
        assert!(xcr0_valid(0b1110_0111, supported));
    }

    #[test]
    fn passthrough_msrs_exclude_the_ones_with_policy() {
        for msr in [IA32_EFER, IA32_PAT, IA32_APIC_BASE, HYPERCALL_PAGE_MSR] {
            assert!(!PASSTHROUGH.contains(&msr));
        }
    }

    #[test]
    fn unknown_msrs_fault() {
        assert_eq!(classify_write(0x10, 0), MsrWrite::Fault);
        assert_eq!(classify_read(0xc001_0114), MsrRead::Fault);
    }

    #[test]
    fn hypercall_stubs_load_the_number_and_trap() {
        let page = hypercall_page([0x0f, 0x01, 0xd9]);
        assert_eq!(&page[18 * 32..18 * 32 + 9], &[0xb8, 18, 0, 0, 0, 0x0f, 0x01, 0xd9, 0xc3]);
    }
}
