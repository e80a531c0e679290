//! Which MSRs a guest may use, and how: an allow-list, everything else #GP
//! (as Xen does for MSRs it does not know).

#![forbid(unsafe_code)]

use super::cpuid::HYPERCALL_PAGE_MSR;

pub const IA32_APIC_BASE: u32 = 0x1b;
pub const IA32_PAT: u32 = 0x277;
pub const IA32_EFER: u32 = 0xc000_0080;

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
    for (nr, stub) in page.chunks_exact_mut(32).enumerate() {
        stub[0] = 0xb8;
        stub[1..5].copy_from_slice(&(nr as u32).to_le_bytes());
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
