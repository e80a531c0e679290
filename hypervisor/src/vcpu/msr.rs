//! Which MSRs a guest may use, and how: an allow-list, everything else #GP
//! (as Xen does for MSRs it does not know); and the architectural rules for
//! the other guest-written state the hypervisor installs (XCR0, EFER, CR4,
//! injected error codes), so a bad value is the guest's #GP, never a VM
//! entry the CPU refuses.

#![forbid(unsafe_code)]

use super::cpuid::HYPERCALL_PAGE_MSR;

pub const IA32_APIC_BASE: u32 = 0x1b;
pub const IA32_PAT: u32 = 0x277;
pub const IA32_EFER: u32 = 0xc000_0080;

/// MSRs the guest reaches directly. The hardware switches them on entry and
/// exit (SVM: VMLOAD/VMSAVE; VMX: the VMCS guest FS/GS base and SYSENTER
/// fields), or the hypervisor never uses them (STAR, LSTAR, CSTAR, SFMASK,
/// KERNEL_GS_BASE under VMX: no SYSCALL or SWAPGS in the hypervisor). A CPU
/// runs one vCPU until it stops; `cpu::reset_guest_registers` zeroes the
/// latter (and DR0-DR3) before the next starts. A CPU that switches between
/// vCPUs will have to save and restore them.
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

// XCR0 state components (SDM Vol. 1, 13.1 and 13.3).
const XCR0_X87: u64 = 1 << 0;
const XCR0_SSE: u64 = 1 << 1;
const XCR0_AVX: u64 = 1 << 2;
const XCR0_MPX: u64 = 0b11 << 3; // BNDREGS, BNDCSR
const XCR0_AVX512: u64 = 0b111 << 5; // opmask, ZMM_Hi256, Hi16_ZMM
const XCR0_AMX: u64 = 0b11 << 17; // XTILECFG, XTILEDATA
/// Bit 63 is reserved for extending XCR0 (SDM Vol. 1, 13.3).
const XCR0_RESERVED_63: u64 = 1 << 63;

/// Whether XCR0 `value` is one the guest may set with XSETBV, given the
/// features the CPU supports (CPUID 0xD.0 EDX:EAX); else #GP. The rules of
/// SDM Vol. 1, 13.3 (the ones Xen's `valid_xcr0` checks, plus AMX): x87
/// always set; nothing unsupported or reserved; AVX needs SSE; the MPX pair
/// (3, 4), the AVX-512 triple (5-7) and the AMX pair (17, 18) are each all
/// set or all clear; AVX-512 needs AVX.
pub fn xcr0_valid(value: u64, supported: u64) -> bool {
    let all_or_none = |group: u64| value & group == 0 || value & group == group;
    value & XCR0_X87 != 0
        && value & !supported == 0
        && value & XCR0_RESERVED_63 == 0
        && (value & XCR0_AVX == 0 || value & XCR0_SSE != 0)
        && all_or_none(XCR0_MPX)
        && all_or_none(XCR0_AVX512)
        && (value & XCR0_AVX512 == 0 || value & XCR0_AVX != 0)
        && all_or_none(XCR0_AMX)
}

// EFER bits (SDM Vol. 3, 2.2.1; APM Vol. 2, 3.1.7).
pub const EFER_SCE: u64 = 1 << 0;
pub const EFER_LME: u64 = 1 << 8;
pub const EFER_LMA: u64 = 1 << 10;
pub const EFER_NXE: u64 = 1 << 11;
pub const EFER_SVME: u64 = 1 << 12;
pub const EFER_FFXSR: u64 = 1 << 14;
const CR0_WP: u64 = 1 << 16;
const CR0_PG: u64 = 1 << 31;

/// The CPU features EFER bits depend on (CPUID 0x80000001 EDX), as the
/// guest sees them (passed through).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EferFeatures {
    pub syscall: bool,
    pub nx: bool,
    pub long_mode: bool,
    pub ffxsr: bool,
}

impl EferFeatures {
    /// From CPUID 0x80000001 EDX: SYSCALL bit 11, NX bit 20, FFXSR bit 25, LM bit 29.
    pub fn from_cpuid_edx(edx: u32) -> EferFeatures {
        EferFeatures {
            syscall: edx & (1 << 11) != 0,
            nx: edx & (1 << 20) != 0,
            ffxsr: edx & (1 << 25) != 0,
            long_mode: edx & (1 << 29) != 0,
        }
    }
}

/// A WRMSR to EFER: the value to install, or why it is #GP (Xen's
/// `hvm_set_efer`): LMA in the written value is ignored and the current
/// one kept (the CPU owns it); unknown bits, bits without their CPU
/// feature, SVME (no nested virtualization) and changing LME while
/// CR0.PG=1 fault.
pub fn efer_write(value: u64, current: u64, cr0: u64, features: EferFeatures) -> Result<u64, &'static str> {
    let value = value & !EFER_LMA;
    if value & !(EFER_SCE | EFER_LME | EFER_NXE | EFER_SVME | EFER_FFXSR) != 0 {
        return Err("unknown bits set");
    }
    if value & EFER_SCE != 0 && !features.syscall {
        return Err("SCE without the SYSCALL feature");
    }
    if value & EFER_LME != 0 && !features.long_mode {
        return Err("LME without long mode");
    }
    if value & EFER_NXE != 0 && !features.nx {
        return Err("NXE without the NX feature");
    }
    if value & EFER_SVME != 0 {
        return Err("SVME without nested virtualization");
    }
    if value & EFER_FFXSR != 0 && !features.ffxsr {
        return Err("FFXSR without the feature");
    }
    if (value ^ current) & EFER_LME != 0 && cr0 & CR0_PG != 0 {
        return Err("changing LME with paging enabled");
    }
    Ok(value | (current & EFER_LMA))
}

// CR4 bits (SDM Vol. 3, 2.5).
pub const CR4_PAE: u64 = 1 << 5;
pub const CR4_LA57: u64 = 1 << 12;
pub const CR4_VMXE: u64 = 1 << 13;
pub const CR4_SMXE: u64 = 1 << 14;
pub const CR4_PCIDE: u64 = 1 << 17;
pub const CR4_CET: u64 = 1 << 23;
/// CR4 bits the hypervisor owns under VMX (CR4 guest/host mask): the guest
/// reads them as 0 and a MOV to CR4 setting one exits. VMXE: no nested
/// virtualization; SMXE: SMX is hidden (GETSEC would exit).
pub const CR4_HOST_OWNED: u64 = CR4_VMXE | CR4_SMXE;

/// A MOV to CR4 the hypervisor sees (VMX: one that sets a host-owned bit):
/// the guest-visible value to install, or why it is #GP (SDM Vol. 3, MOV
/// to CR4; Xen's `hvm_set_cr4`). `allowed` are the bits this CPU lets a
/// guest set (IA32_VMX_CR4_FIXED1); `current` is the guest's view.
pub fn cr4_write(value: u64, current: u64, cr0: u64, cr3: u64, efer: u64, allowed: u64) -> Result<u64, &'static str> {
    if value & CR4_VMXE != 0 {
        return Err("VMXE: no nested virtualization");
    }
    if value & CR4_SMXE != 0 {
        return Err("SMXE: SMX is not offered");
    }
    if value & !allowed != 0 {
        return Err("reserved bits set");
    }
    let long = efer & EFER_LMA != 0;
    if long && value & CR4_PAE == 0 {
        return Err("clearing PAE in long mode");
    }
    if long && (value ^ current) & CR4_LA57 != 0 {
        return Err("changing LA57 in long mode");
    }
    if value & CR4_PCIDE != 0 && current & CR4_PCIDE == 0 && (!long || cr3 & 0xfff != 0) {
        return Err("setting PCIDE outside long mode or with CR3[11:0] != 0");
    }
    if value & CR4_CET != 0 && cr0 & CR0_WP == 0 {
        return Err("setting CET with CR0.WP clear");
    }
    Ok(value)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MsrWrite {
    /// The value written to EFER, to be checked with `efer_write`.
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
        IA32_EFER => MsrWrite::Efer(value),
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

    const ALL: EferFeatures = EferFeatures { syscall: true, nx: true, long_mode: true, ffxsr: false };
    const PG: u64 = CR0_PG | 1;

    #[test]
    fn efer_writes_with_reserved_or_unoffered_bits_fault() {
        assert_eq!(classify_write(IA32_EFER, 0x900), MsrWrite::Efer(0x900));
        assert_eq!(efer_write(0x901, 0, 0x11, ALL), Ok(0x901));
        assert!(efer_write(EFER_SVME, 0, 0x11, ALL).is_err(), "SVME is not the guest's");
        assert!(efer_write(1 << 2, 0, 0x11, ALL).is_err(), "reserved bit");
        assert!(efer_write(1 << 63, 0, 0x11, ALL).is_err(), "reserved bit");
        assert!(efer_write(EFER_FFXSR, 0, 0x11, ALL).is_err(), "FFXSR without the feature");
        assert!(efer_write(EFER_NXE, 0, 0x11, EferFeatures { nx: false, ..ALL }).is_err());
        assert!(efer_write(EFER_LME, 0, 0x11, EferFeatures { long_mode: false, ..ALL }).is_err());
    }

    #[test]
    fn efer_lme_changes_only_while_paging_is_off() {
        assert_eq!(efer_write(EFER_LME, 0, 0x11, ALL), Ok(EFER_LME), "paging off: LME may be set");
        assert!(efer_write(EFER_LME, 0, PG, ALL).is_err(), "setting LME with paging on");
        let long = EFER_LME | EFER_LMA;
        assert!(efer_write(0, long, PG, ALL).is_err(), "clearing LME in long mode");
        assert_eq!(efer_write(EFER_LME | EFER_NXE, long, PG, ALL), Ok(long | EFER_NXE), "other bits change, LMA stays");
    }

    #[test]
    fn efer_lma_is_the_cpus_a_write_cannot_set_or_clear_it() {
        assert_eq!(efer_write(EFER_LMA, 0, 0x11, ALL), Ok(0), "a bogus LMA is ignored");
        assert_eq!(efer_write(EFER_LME | EFER_LMA, 0, 0x11, ALL), Ok(EFER_LME));
        let long = EFER_LME | EFER_LMA;
        assert_eq!(efer_write(EFER_LME, long, PG, ALL), Ok(long), "LMA stays set");
    }

    #[test]
    fn cr4_vmxe_and_smxe_writes_fault() {
        let allowed = 0x37_67ff;
        assert!(cr4_write(CR4_VMXE, 0, 0x11, 0, 0, allowed | CR4_VMXE).is_err());
        assert!(cr4_write(CR4_SMXE | CR4_PAE, 0, 0x11, 0, 0, allowed | CR4_SMXE).is_err());
        assert_eq!(cr4_write(CR4_PAE, 0, 0x11, 0, 0, allowed), Ok(CR4_PAE));
        assert!(cr4_write(1 << 31, 0, 0x11, 0, 0, allowed).is_err(), "reserved bit");
    }

    #[test]
    fn cr4_transitions_follow_the_mov_to_cr4_rules() {
        let allowed = CR4_PAE | CR4_LA57 | CR4_PCIDE | CR4_CET | (1 << 7);
        let long = EFER_LME | EFER_LMA;
        assert!(cr4_write(1 << 22, 0, 0x11, 0, 0, allowed).is_err(), "a bit the CPU does not allow");
        assert!(cr4_write(0, CR4_PAE, PG, 0, long, allowed).is_err(), "clearing PAE in long mode");
        assert_eq!(cr4_write(0, CR4_PAE, 0x11, 0, 0, allowed), Ok(0), "outside long mode PAE may go");
        assert!(cr4_write(CR4_PAE | CR4_LA57, CR4_PAE, PG, 0, long, allowed).is_err(), "LA57 in long mode");
        assert!(cr4_write(CR4_PAE | CR4_PCIDE, CR4_PAE, 0x11, 0, 0, allowed).is_err(), "PCIDE outside long mode");
        assert!(cr4_write(CR4_PAE | CR4_PCIDE, CR4_PAE, PG, 0x1001, long, allowed).is_err(), "PCIDE with a PCID in CR3");
        assert_eq!(cr4_write(CR4_PAE | CR4_PCIDE, CR4_PAE, PG, 0x1000, long, allowed), Ok(CR4_PAE | CR4_PCIDE));
        assert!(cr4_write(CR4_CET, 0, 0x11, 0, 0, allowed).is_err(), "CET needs CR0.WP");
        assert_eq!(cr4_write(CR4_CET, 0, 0x11 | CR0_WP, 0, 0, allowed), Ok(CR4_CET));
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
    fn xcr0_pairs_come_together_even_when_supported() {
        let everything = 0x6_02ff | XCR0_RESERVED_63;
        assert!(!xcr0_valid(0x1 | 0x8, everything), "BNDREGS without BNDCSR");
        assert!(!xcr0_valid(0x1 | 0x10, everything), "BNDCSR without BNDREGS");
        assert!(xcr0_valid(0x1 | 0x18, everything), "MPX as a pair");
        assert!(!xcr0_valid(0x7 | (1 << 17), everything), "XTILECFG without XTILEDATA");
        assert!(!xcr0_valid(0x7 | (1 << 18), everything), "XTILEDATA without XTILECFG");
        assert!(xcr0_valid(0x7 | XCR0_AMX, everything), "AMX as a pair");
        assert!(!xcr0_valid(0x3 | XCR0_AVX512, everything), "AVX-512 needs AVX");
        assert!(xcr0_valid(0x7 | XCR0_AVX512, everything));
        assert!(!xcr0_valid(0x3 | XCR0_RESERVED_63, everything), "bit 63 is reserved");
        assert!(xcr0_valid(0x3 | (1 << 9), everything), "PKRU alone is fine");
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
