//! VMCS field encodings (Intel SDM Vol. 3, appendix B) and VMREAD/VMWRITE on
//! the current VMCS.

#[allow(non_camel_case_types, clippy::upper_case_acronyms)]
#[derive(Clone, Copy, Debug)]
#[repr(u32)]
pub enum Field {
    VPID = 0x0000,
    GUEST_ES_SELECTOR = 0x0800,
    GUEST_CS_SELECTOR = 0x0802,
    GUEST_SS_SELECTOR = 0x0804,
    GUEST_DS_SELECTOR = 0x0806,
    GUEST_FS_SELECTOR = 0x0808,
    GUEST_GS_SELECTOR = 0x080a,
    GUEST_LDTR_SELECTOR = 0x080c,
    GUEST_TR_SELECTOR = 0x080e,
    HOST_ES_SELECTOR = 0x0c00,
    HOST_CS_SELECTOR = 0x0c02,
    HOST_SS_SELECTOR = 0x0c04,
    HOST_DS_SELECTOR = 0x0c06,
    HOST_FS_SELECTOR = 0x0c08,
    HOST_GS_SELECTOR = 0x0c0a,
    HOST_TR_SELECTOR = 0x0c0c,
    IO_BITMAP_A = 0x2000,
    IO_BITMAP_B = 0x2002,
    MSR_BITMAP = 0x2004,
    EPT_POINTER = 0x201a,
    GUEST_PHYSICAL_ADDRESS = 0x2400,
    VMCS_LINK_POINTER = 0x2800,
    GUEST_IA32_PAT = 0x2804,
    GUEST_IA32_EFER = 0x2806,
    GUEST_PDPTE0 = 0x280a,
    GUEST_PDPTE1 = 0x280c,
    GUEST_PDPTE2 = 0x280e,
    GUEST_PDPTE3 = 0x2810,
    HOST_IA32_PAT = 0x2c00,
    HOST_IA32_EFER = 0x2c02,
    PIN_BASED_CONTROLS = 0x4000,
    PRIMARY_PROCESSOR_CONTROLS = 0x4002,
    EXCEPTION_BITMAP = 0x4004,
    VMEXIT_CONTROLS = 0x400c,
    VMENTRY_CONTROLS = 0x4012,
    VMENTRY_INTERRUPTION_INFO = 0x4016,
    VMENTRY_EXCEPTION_ERROR_CODE = 0x4018,
    SECONDARY_PROCESSOR_CONTROLS = 0x401e,
    VM_INSTRUCTION_ERROR = 0x4400,
    EXIT_REASON = 0x4402,
    EXIT_INTERRUPTION_INFO = 0x4404,
    EXIT_INTERRUPTION_ERROR_CODE = 0x4406,
    IDT_VECTORING_INFO = 0x4408,
    EXIT_INSTRUCTION_LENGTH = 0x440c,
    GUEST_ES_LIMIT = 0x4800,
    GUEST_CS_LIMIT = 0x4802,
    GUEST_SS_LIMIT = 0x4804,
    GUEST_DS_LIMIT = 0x4806,
    GUEST_FS_LIMIT = 0x4808,
    GUEST_GS_LIMIT = 0x480a,
    GUEST_LDTR_LIMIT = 0x480c,
    GUEST_TR_LIMIT = 0x480e,
    GUEST_GDTR_LIMIT = 0x4810,
    GUEST_IDTR_LIMIT = 0x4812,
    GUEST_ES_ACCESS_RIGHTS = 0x4814,
    GUEST_CS_ACCESS_RIGHTS = 0x4816,
    GUEST_SS_ACCESS_RIGHTS = 0x4818,
    GUEST_DS_ACCESS_RIGHTS = 0x481a,
    GUEST_FS_ACCESS_RIGHTS = 0x481c,
    GUEST_GS_ACCESS_RIGHTS = 0x481e,
    GUEST_LDTR_ACCESS_RIGHTS = 0x4820,
    GUEST_TR_ACCESS_RIGHTS = 0x4822,
    GUEST_INTERRUPTIBILITY_STATE = 0x4824,
    GUEST_ACTIVITY_STATE = 0x4826,
    GUEST_IA32_SYSENTER_CS = 0x482a,
    VMX_PREEMPTION_TIMER_VALUE = 0x482e,
    HOST_IA32_SYSENTER_CS = 0x4c00,
    CR0_GUEST_HOST_MASK = 0x6000,
    CR4_GUEST_HOST_MASK = 0x6002,
    CR0_READ_SHADOW = 0x6004,
    CR4_READ_SHADOW = 0x6006,
    EXIT_QUALIFICATION = 0x6400,
    GUEST_CR0 = 0x6800,
    GUEST_CR3 = 0x6802,
    GUEST_CR4 = 0x6804,
    GUEST_ES_BASE = 0x6806,
    GUEST_CS_BASE = 0x6808,
    GUEST_SS_BASE = 0x680a,
    GUEST_DS_BASE = 0x680c,
    GUEST_FS_BASE = 0x680e,
    GUEST_GS_BASE = 0x6810,
    GUEST_LDTR_BASE = 0x6812,
    GUEST_TR_BASE = 0x6814,
    GUEST_GDTR_BASE = 0x6816,
    GUEST_IDTR_BASE = 0x6818,
    GUEST_DR7 = 0x681a,
    GUEST_RSP = 0x681c,
    GUEST_RIP = 0x681e,
    GUEST_RFLAGS = 0x6820,
    GUEST_IA32_SYSENTER_ESP = 0x6824,
    GUEST_IA32_SYSENTER_EIP = 0x6826,
    HOST_CR0 = 0x6c00,
    HOST_CR3 = 0x6c02,
    HOST_CR4 = 0x6c04,
    HOST_FS_BASE = 0x6c06,
    HOST_GS_BASE = 0x6c08,
    HOST_TR_BASE = 0x6c0a,
    HOST_GDTR_BASE = 0x6c0c,
    HOST_IDTR_BASE = 0x6c0e,
    HOST_RSP = 0x6c14,
    HOST_RIP = 0x6c16,
}

// Basic exit reasons (SDM Vol. 3, appendix C).
pub const EXIT_EXCEPTION_OR_NMI: u32 = 0;
pub const EXIT_EXTERNAL_INTERRUPT: u32 = 1;
pub const EXIT_TRIPLE_FAULT: u32 = 2;
pub const EXIT_INIT: u32 = 3;
pub const EXIT_INTERRUPT_WINDOW: u32 = 7;
pub const EXIT_CPUID: u32 = 10;
pub const EXIT_GETSEC: u32 = 11;
pub const EXIT_HLT: u32 = 12;
pub const EXIT_INVD: u32 = 13;
pub const EXIT_VMCALL: u32 = 18;
/// VMCLEAR, VMLAUNCH, VMPTRLD, VMPTRST, VMREAD, VMRESUME, VMWRITE, VMXOFF, VMXON.
pub const EXIT_VMX_INSTRUCTIONS: core::ops::RangeInclusive<u32> = 19..=27;
pub const EXIT_CR_ACCESS: u32 = 28;
pub const EXIT_IO: u32 = 30;
pub const EXIT_RDMSR: u32 = 31;
pub const EXIT_WRMSR: u32 = 32;
pub const EXIT_INVALID_GUEST_STATE: u32 = 33;
pub const EXIT_EPT_VIOLATION: u32 = 48;
pub const EXIT_INVEPT: u32 = 50;
pub const EXIT_INVVPID: u32 = 53;
pub const EXIT_PREEMPTION_TIMER: u32 = 52;
pub const EXIT_XSETBV: u32 = 55;

/// Reads a field of the current VMCS (0 if the read fails).
pub fn read(field: Field) -> u64 {
    let value: u64;
    // SAFETY: VMREAD only reads the current VMCS; a bad encoding or no current VMCS sets RFLAGS.CF/ZF and leaves memory untouched.
    unsafe { core::arch::asm!("vmread {0}, {1}", out(reg) value, in(reg) field as u64, options(nostack)) };
    value
}

/// Writes a field of the current VMCS. The caller (this module's users in
/// `vmx_vcpu`) only writes fields that are valid for the value's meaning.
pub fn write(field: Field, value: u64) {
    // SAFETY: VMWRITE changes only the current VMCS, which belongs to the vCPU being set up or run on this CPU; memory safety of the host is kept because host-state fields are always written from the running host.
    unsafe { core::arch::asm!("vmwrite {0}, {1}", in(reg) field as u64, in(reg) value, options(nostack)) };
}
