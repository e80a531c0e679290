//! The guest state a VM entry checks, checked by us first: the control
//! registers, EFER and the injected event, against the rules of SDM Vol. 3,
//! 27.2-27.3 (VMX) and APM Vol. 2, 15.5.1 (SVM). The backends run it before
//! an entry when the hypervisor has written guest state since the last one
//! (what the guest changes itself, the CPU checks as it runs), so a rule we
//! missed elsewhere becomes one clear log line, not "the CPU refused".

const CR0_PE: u64 = 1 << 0;
const CR0_NW: u64 = 1 << 29;
const CR0_CD: u64 = 1 << 30;
const CR0_PG: u64 = 1 << 31;
const CR4_PAE: u64 = 1 << 5;
const CR4_PCIDE: u64 = 1 << 17;
const EFER_SCE: u64 = 1 << 0;
const EFER_LME: u64 = 1 << 8;
const EFER_LMA: u64 = 1 << 10;
const EFER_NXE: u64 = 1 << 11;
const EFER_SVME: u64 = 1 << 12;
const EFER_FFXSR: u64 = 1 << 14;

/// Whether an exception with `vector` pushes an error code when delivered
/// in protected mode (`protected`: CR0.PE=1): #DF, #TS, #NP, #SS, #GP, #PF,
/// #AC, #CP, #VC, #SX. In real mode none does, and VMX refuses an entry
/// that injects one there (SDM Vol. 3, 27.2.1.3): the code is dropped.
pub fn exception_error_code(vector: u8, protected: bool, error: Option<u32>) -> Option<u32> {
    let pushes = matches!(vector, 8 | 10..=14 | 17 | 21 | 29 | 30);
    (protected && pushes).then(|| error.unwrap_or(0))
}

/// The VMX capability MSRs that fix CR0/CR4 bits in VMX operation
/// (IA32_VMX_CR0_FIXED0/1, IA32_VMX_CR4_FIXED0/1: SDM Vol. 3, A.7, A.8).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VmxFixedBits {
    pub cr0_fixed0: u64,
    pub cr0_fixed1: u64,
    pub cr4_fixed0: u64,
    pub cr4_fixed1: u64,
}

/// The CR0 bits the hypervisor owns under VMX (the CR0 guest/host mask):
/// the ones VMX operation fixes to 1 that unrestricted guest does not free
/// (NE on every CPU so far; PE and PG are the guest's, SDM Vol. 3,
/// 26.3.1.1). The CPU runs with them set; the guest reads its own values
/// from the read shadow, and a MOV to CR0 that changes one exits
/// (`Exit::Cr0Write`) instead of taking the #GP it would not take outside
/// VMX operation (Linux's `pvh_start_xen` writes CR0 = PG | PE).
pub fn cr0_host_owned(fixed: &VmxFixedBits) -> u64 {
    fixed.cr0_fixed0 & 0xffff_ffff & !(CR0_PE | CR0_PG)
}

/// What a VMX entry checks of the state the hypervisor writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VmxEntryState {
    pub cr0: u64,
    pub cr4: u64,
    pub efer: u64,
    /// The "IA-32e mode guest" VM-entry control.
    pub ia32e_mode: bool,
    /// The VM-entry interruption-information field.
    pub interruption_info: u32,
    pub error_code: u64,
}

/// Why a VMX entry would fail with this state (unrestricted guest on, EFER
/// loaded on entry), or None.
pub fn vmx_refusal(s: &VmxEntryState, fixed: &VmxFixedBits) -> Option<&'static str> {
    // Unrestricted guest: PE and PG are the guest's (SDM Vol. 3, 27.3.1.1).
    let cr0_must = fixed.cr0_fixed0 & !(CR0_PE | CR0_PG);
    if s.cr0 & cr0_must != cr0_must || s.cr0 & !fixed.cr0_fixed1 != 0 {
        return Some("CR0 breaks the VMX fixed bits");
    }
    if s.cr0 & CR0_PG != 0 && s.cr0 & CR0_PE == 0 {
        return Some("CR0.PG without CR0.PE");
    }
    if s.cr4 & fixed.cr4_fixed0 != fixed.cr4_fixed0 || s.cr4 & !fixed.cr4_fixed1 != 0 {
        return Some("CR4 breaks the VMX fixed bits");
    }
    if s.ia32e_mode && (s.cr0 & CR0_PG == 0 || s.cr4 & CR4_PAE == 0) {
        return Some("IA-32e mode without CR0.PG and CR4.PAE");
    }
    if !s.ia32e_mode && s.cr4 & CR4_PCIDE != 0 {
        return Some("CR4.PCIDE outside IA-32e mode");
    }
    if s.efer & !(EFER_SCE | EFER_LME | EFER_LMA | EFER_NXE) != 0 {
        return Some("EFER has reserved bits");
    }
    if (s.efer & EFER_LMA != 0) != s.ia32e_mode {
        return Some("EFER.LMA differs from the IA-32e mode control");
    }
    if s.cr0 & CR0_PG != 0 && (s.efer & EFER_LME != 0) != (s.efer & EFER_LMA != 0) {
        return Some("EFER.LME differs from EFER.LMA with paging on");
    }
    vmx_event_refusal(s.interruption_info, s.error_code, s.cr0 & CR0_PE != 0)
}

/// The VM-entry interruption-information checks (SDM Vol. 3, 27.2.1.3) for
/// the two kinds the hypervisor injects: external interrupts and hardware
/// exceptions.
fn vmx_event_refusal(info: u32, error_code: u64, protected: bool) -> Option<&'static str> {
    if info & (1 << 31) == 0 {
        return None;
    }
    let vector = (info & 0xff) as u8;
    let kind = (info >> 8) & 7;
    let delivers = info & (1 << 11) != 0;
    if info & 0x7fff_f000 != 0 {
        return Some("interruption information has reserved bits");
    }
    match kind {
        0 if delivers => Some("an external interrupt with an error code"),
        0 => None,
        3 if vector > 31 || vector == 2 => Some("a hardware exception with a bad vector"),
        3 if delivers != exception_error_code(vector, protected, None).is_some() => {
            Some("an error code where the exception has none (or none where it has one)")
        }
        3 if error_code >> 16 != 0 => Some("an error code wider than 16 bits"),
        3 => None,
        _ => Some("an interruption type the hypervisor does not inject"),
    }
}

/// What VMRUN checks of the state the hypervisor writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SvmEntryState {
    pub cr0: u64,
    pub cr4: u64,
    pub efer: u64,
    /// CS attributes, VMCB form (L is bit 9, D bit 10).
    pub cs_attrib: u16,
    pub event_inj: u64,
}

/// Why VMRUN would exit with VMEXIT_INVALID for this state, or None
/// (APM Vol. 2, 15.5.1 "Canonicalization and Consistency Checks").
pub fn svm_refusal(s: &SvmEntryState) -> Option<&'static str> {
    if s.efer & EFER_SVME == 0 {
        return Some("EFER.SVME clear");
    }
    if s.efer & !(EFER_SCE | EFER_LME | EFER_LMA | EFER_NXE | EFER_SVME | EFER_FFXSR) != 0 {
        return Some("EFER has reserved bits");
    }
    if s.cr0 >> 32 != 0 {
        return Some("CR0[63:32] set");
    }
    if s.cr0 & CR0_NW != 0 && s.cr0 & CR0_CD == 0 {
        return Some("CR0.NW without CR0.CD");
    }
    let long = s.efer & EFER_LME != 0 && s.cr0 & CR0_PG != 0;
    if long && s.cr4 & CR4_PAE == 0 {
        return Some("EFER.LME and CR0.PG without CR4.PAE");
    }
    if long && s.cr0 & CR0_PE == 0 {
        return Some("EFER.LME and CR0.PG without CR0.PE");
    }
    if long && s.cr4 & CR4_PAE != 0 && s.cs_attrib & (1 << 9) != 0 && s.cs_attrib & (1 << 10) != 0 {
        return Some("long mode with CS.L and CS.D both set");
    }
    if s.event_inj & (1 << 31) != 0 {
        let vector = (s.event_inj & 0xff) as u8;
        let kind = (s.event_inj >> 8) & 7;
        let delivers = s.event_inj & (1 << 11) != 0;
        match kind {
            0 if delivers => return Some("an external interrupt with an error code"),
            3 if vector > 31 || vector == 2 => return Some("an exception with a bad vector"),
            3 if delivers != exception_error_code(vector, s.cr0 & CR0_PE != 0, None).is_some() => {
                return Some("an error code where the exception has none (or none where it has one)");
            }
            0 | 3 => {}
            _ => return Some("an event type the hypervisor does not inject"),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bochs/Haswell-like fixed bits: PE, NE, PG fixed to 1 (PE/PG relaxed
    /// by unrestricted guest), VMXE fixed to 1.
    const FIXED: VmxFixedBits =
        VmxFixedBits { cr0_fixed0: 0x8000_0021, cr0_fixed1: 0xffff_ffff, cr4_fixed0: 0x2000, cr4_fixed1: 0x3767ff };
    const START: VmxEntryState =
        VmxEntryState { cr0: 0x31, cr4: 0x2000, efer: 0, ia32e_mode: false, interruption_info: 0, error_code: 0 };
    const LONG: VmxEntryState =
        VmxEntryState { cr0: 0x8000_0031, cr4: 0x2020, efer: 0x500, ia32e_mode: true, ..START };

    #[test]
    fn error_codes_are_delivered_only_in_protected_mode_and_only_where_the_vector_has_one() {
        assert_eq!(exception_error_code(13, true, Some(0)), Some(0));
        assert_eq!(exception_error_code(13, false, Some(0)), None, "real mode: no error code");
        assert_eq!(exception_error_code(13, true, None), Some(0), "#GP always pushes one");
        assert_eq!(exception_error_code(6, true, Some(5)), None, "#UD has none");
        assert_eq!(exception_error_code(14, true, Some(2)), Some(2));
        assert_eq!(exception_error_code(1, true, None), None);
    }

    #[test]
    fn vmx_accepts_the_pvh_start_and_long_mode() {
        assert_eq!(vmx_refusal(&START, &FIXED), None);
        assert_eq!(vmx_refusal(&LONG, &FIXED), None);
        let real = VmxEntryState { cr0: 0x30, ..START };
        assert_eq!(vmx_refusal(&real, &FIXED), None, "unrestricted guest may run with PE clear");
    }

    #[test]
    fn vmx_hands_the_guest_every_cr0_bit_but_the_fixed_ones_unrestricted_guest_keeps() {
        assert_eq!(cr0_host_owned(&FIXED), 1 << 5, "NE only: PE and PG are the guest's");
        // Xen's PVH start CR0 (PE | ET) as the guest sees it, NE added: what the CPU runs.
        let start = VmxEntryState { cr0: 0x11 | cr0_host_owned(&FIXED), ..START };
        assert_eq!(vmx_refusal(&start, &FIXED), None);
        // Linux's CR0 = PG | PE after pvh_start_xen set CR4.PAE and EFER.LME.
        let linux = VmxEntryState { cr0: 0x8000_0011 | cr0_host_owned(&FIXED), ..LONG };
        assert_eq!(vmx_refusal(&linux, &FIXED), None);
        assert!(vmx_refusal(&VmxEntryState { cr0: 0x8000_0011, ..LONG }, &FIXED).is_some(), "NE clear breaks the fixed bits");
    }

    #[test]
    fn vmx_refuses_inconsistent_efer() {
        let bogus_lma = VmxEntryState { efer: 0x400, ..START };
        assert!(vmx_refusal(&bogus_lma, &FIXED).is_some(), "LMA without IA-32e mode");
        let lme_dropped = VmxEntryState { efer: 0x400, ..LONG };
        assert!(vmx_refusal(&lme_dropped, &FIXED).is_some(), "LME != LMA with paging on");
        let lme_paging_legacy = VmxEntryState { cr0: 0x8000_0031, cr4: 0x2020, efer: 0x100, ..START };
        assert!(vmx_refusal(&lme_paging_legacy, &FIXED).is_some(), "LME set with paging on, not in long mode");
        let reserved = VmxEntryState { efer: 1 << 12, ..START };
        assert!(vmx_refusal(&reserved, &FIXED).is_some(), "SVME is reserved on Intel");
    }

    #[test]
    fn vmx_refuses_cr4_and_cr0_outside_the_fixed_bits() {
        let no_vmxe = VmxEntryState { cr4: 0, ..START };
        assert!(vmx_refusal(&no_vmxe, &FIXED).is_some());
        let no_ne = VmxEntryState { cr0: 0x11, ..START };
        assert!(vmx_refusal(&no_ne, &FIXED).is_some());
        let unsupported = VmxEntryState { cr4: 0x2000 | (1 << 22), ..START };
        assert!(vmx_refusal(&unsupported, &FIXED).is_some());
        let pcide_legacy = VmxEntryState { cr4: 0x2000 | (1 << 17), ..START };
        assert!(vmx_refusal(&pcide_legacy, &FIXED).is_some());
    }

    #[test]
    fn vmx_refuses_an_error_code_in_real_mode_and_accepts_it_in_protected_mode() {
        let gp = (1 << 31) | (3 << 8) | (1 << 11) | 13;
        let real = VmxEntryState { cr0: 0x30, interruption_info: gp, ..START };
        assert!(vmx_refusal(&real, &FIXED).is_some());
        let protected = VmxEntryState { interruption_info: gp, ..START };
        assert_eq!(vmx_refusal(&protected, &FIXED), None);
        let ud_with_code = VmxEntryState { interruption_info: (1 << 31) | (3 << 8) | (1 << 11) | 6, ..START };
        assert!(vmx_refusal(&ud_with_code, &FIXED).is_some());
        let interrupt = VmxEntryState { interruption_info: (1 << 31) | 0xf3, ..START };
        assert_eq!(vmx_refusal(&interrupt, &FIXED), None);
    }

    const SVM_START: SvmEntryState = SvmEntryState { cr0: 0x11, cr4: 0, efer: 1 << 12, cs_attrib: 0xc9b, event_inj: 0 };

    #[test]
    fn svm_accepts_the_pvh_start_and_refuses_what_vmrun_refuses() {
        assert_eq!(svm_refusal(&SVM_START), None);
        let long = SvmEntryState { cr0: 0x8000_0011, cr4: 0x20, efer: 0x1500, cs_attrib: 0xa9b, ..SVM_START };
        assert_eq!(svm_refusal(&long), None);
        assert!(svm_refusal(&SvmEntryState { efer: 0, ..SVM_START }).is_some(), "SVME clear");
        assert!(svm_refusal(&SvmEntryState { cr4: 0, ..long }).is_some(), "long mode without PAE");
        assert!(svm_refusal(&SvmEntryState { cs_attrib: 0xe9b, ..long }).is_some(), "CS.L and CS.D");
        assert!(svm_refusal(&SvmEntryState { efer: 0x1000 | (1 << 2), ..SVM_START }).is_some());
        let gp_real = (1 << 31) | (3 << 8) | (1 << 11) | 13;
        assert!(svm_refusal(&SvmEntryState { cr0: 0x10, event_inj: gp_real, ..SVM_START }).is_some());
        assert_eq!(svm_refusal(&SvmEntryState { event_inj: gp_real, ..SVM_START }), None);
    }
}
