//! Which MSRs a guest may use, and how: an allow-list, everything else #GP
//! (as Xen does for MSRs it does not know); and the architectural rules for
//! the other guest-written state the hypervisor installs (XCR0, EFER, CR0,
//! CR4, injected error codes), so a bad value is the guest's #GP, never a VM
//! entry the CPU refuses.

#![forbid(unsafe_code)]

use super::cpuid::{HYPERCALL_PAGE_MSR, Vendor};
use super::mtrr::Mtrrs;

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
    // TSC_AUX: RDTSCP/RDPID read it without an exit (SVM; hidden on VMX).
    0xc000_0103,
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
// CR0 bits (SDM Vol. 3, 2.5).
pub const CR0_PE: u64 = 1 << 0;
pub const CR0_ET: u64 = 1 << 4;
pub const CR0_NE: u64 = 1 << 5;
pub const CR0_WP: u64 = 1 << 16;
pub const CR0_NW: u64 = 1 << 29;
pub const CR0_CD: u64 = 1 << 30;
pub const CR0_PG: u64 = 1 << 31;

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

/// What the guest's CR0 write runs against: the rest of its paging and
/// segment state as it sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cr0Context {
    /// CR0 as the guest reads it.
    pub cr0: u64,
    pub cr4: u64,
    pub efer: u64,
    /// CS.L: the guest runs 64-bit code.
    pub cs_long: bool,
    /// TR holds a 16-bit TSS (type 1 or 3).
    pub tr_16bit: bool,
}

/// The CR0 and EFER a MOV to CR0 leaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cr0Write {
    pub cr0: u64,
    pub efer: u64,
}

/// A MOV to CR0 the hypervisor sees (VMX: one that changes a bit VMX fixes,
/// CR0.NE, against the guest's view): what it leaves, or why it is #GP (SDM
/// Vol. 3, MOV to CR0 and 10.8.5 "Initializing IA-32e Mode"; Xen's
/// `hvm_set_cr0`). ET is hardwired to 1. Turning paging on with EFER.LME
/// set activates IA-32e mode (EFER.LMA), turning it off deactivates it: the
/// CPU would do that itself, but this write does not reach it.
pub fn cr0_write(value: u64, ctx: Cr0Context) -> Result<Cr0Write, &'static str> {
    if value >> 32 != 0 {
        return Err("CR0[63:32] set");
    }
    if value & CR0_PG != 0 && value & CR0_PE == 0 {
        return Err("PG without PE");
    }
    if value & CR0_NW != 0 && value & CR0_CD == 0 {
        return Err("NW without CD");
    }
    if value & CR0_WP == 0 && ctx.cr4 & CR4_CET != 0 {
        return Err("clearing WP with CR4.CET set");
    }
    let value = value | CR0_ET;
    let mut efer = ctx.efer;
    let paging_was_on = ctx.cr0 & CR0_PG != 0;
    match (paging_was_on, value & CR0_PG != 0) {
        (false, true) if efer & EFER_LME != 0 => {
            if ctx.cr4 & CR4_PAE == 0 {
                return Err("activating IA-32e mode without CR4.PAE");
            }
            if ctx.cs_long {
                return Err("activating IA-32e mode with CS.L set");
            }
            if ctx.tr_16bit {
                return Err("activating IA-32e mode with a 16-bit TSS in TR");
            }
            efer |= EFER_LMA;
        }
        (true, false) => {
            if ctx.cr4 & CR4_PCIDE != 0 {
                return Err("clearing PG with CR4.PCIDE set");
            }
            if efer & EFER_LMA != 0 && ctx.cs_long {
                return Err("clearing PG in 64-bit mode");
            }
            efer &= !EFER_LMA;
        }
        _ => {}
    }
    Ok(Cr0Write { cr0: value, efer })
}

/// Whether a MOV to CR0 from `old` to `new` (guest views) loads the four
/// PAE page-directory-pointer-table entries from CR3: PAE paging is in use
/// after it (CR0.PG, CR4.PAE, not IA-32e mode) and it changed PG, CD or NW
/// (SDM Vol. 3, 4.4.1). VMX with EPT keeps them in the VMCS, where an
/// emulated write must put them.
pub fn cr0_write_loads_pdptes(old: u64, new: u64, cr4: u64, efer: u64) -> bool {
    new & CR0_PG != 0 && cr4 & CR4_PAE != 0 && efer & EFER_LMA == 0 && (old ^ new) & (CR0_PG | CR0_CD | CR0_NW) != 0
}

/// Whether PDPTEs loaded by a MOV to CR0 are ones the CPU takes: each
/// present one with its reserved bits (2:1, 8:5, MAXPHYADDR and up) clear
/// (SDM Vol. 3, 4.4.1, table 4-8); else the MOV is #GP.
pub fn pae_pdptes_valid(pdptes: &[u64; 4], phys_bits: u8) -> bool {
    let reserved = 0b1_1110_0110 | (u64::MAX << phys_bits.clamp(36, 52));
    pdptes.iter().all(|&e| e & 1 == 0 || e & reserved == 0)
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
    /// Taken (stored in `VcpuMsrs`, or discarded as Xen does).
    Done,
    /// Inject #GP.
    Fault,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MsrRead {
    Efer,
    Pat,
    Value(u64),
    /// The host's value, ANDed with this mask (#GP if the host has none).
    Host(u64),
    Fault,
}

// MSR numbers (SDM Vol. 4; APM Vol. 2, appendix A), as Xen's msr-index.h.
const IA32_PLATFORM_ID: u32 = 0x17;
const IA32_FEATURE_CONTROL: u32 = 0x3a;
const IA32_UCODE_WRITE: u32 = 0x79;
const IA32_UCODE_REV: u32 = 0x8b;
const INTEL_PLATFORM_INFO: u32 = 0xce;
const INTEL_MISC_FEATURES_ENABLES: u32 = 0x140;
const IA32_MCG_CAP: u32 = 0x179;
const IA32_MCG_STATUS: u32 = 0x17a;
const IA32_MCG_CTL: u32 = 0x17b;
const IA32_PERF_STATUS: u32 = 0x198;
const IA32_PERF_CTL: u32 = 0x199;
const IA32_THERM_STATUS: u32 = 0x19c;
const IA32_MISC_ENABLE: u32 = 0x1a0;
const IA32_DEBUGCTL: u32 = 0x1d9;
const IA32_MC0_CTL2: u32 = 0x280;
const IA32_MC0_CTL: u32 = 0x400;
const AMD_PATCHLOADER: u32 = 0xc001_0020;
const K8_HWCR: u32 = 0xc001_0015;
const K8_SYSCFG: u32 = 0xc001_0010;
const K8_IORR_BASE0: u32 = 0xc001_0016;
const K8_IORR_MASK1: u32 = 0xc001_0019;
const K8_TOP_MEM1: u32 = 0xc001_001a;
const K8_TOP_MEM2: u32 = 0xc001_001d;
const K8_TSEG_BASE: u32 = 0xc001_0112;
const K8_TSEG_MASK: u32 = 0xc001_0113;
/// The SYSCFG bits Xen shows its hardware domain: Tom2ForceMemTypeWB (22),
/// MtrrTom2En (21), MtrrVarDramEn (20), MtrrFixDramEn (18).
const SYSCFG_DOM0_BITS: u64 = 1 << 22 | 1 << 21 | 1 << 20 | 1 << 18;
const AMD64_NB_CFG: u32 = 0xc001_001f;
const K8_ENABLE_C1E: u32 = 0xc001_0055;
const AMD64_DE_CFG: u32 = 0xc001_1029;

/// Machine-check banks a guest has (Xen's GUEST_MC_BANK_NUM).
const MC_BANKS: u32 = 2;
/// MCG_CAP: the bank count; on Intel also SER_P (24), TES_P (11) and
/// CMCI_P (10), as Xen's vMCE (INTEL_GUEST_MCG_CAP / AMD_GUEST_MCG_CAP).
fn mcg_cap(vendor: Vendor) -> u64 {
    match vendor {
        Vendor::Intel => (1 << 24) | (1 << 11) | (1 << 10) | u64::from(MC_BANKS),
        _ => u64::from(MC_BANKS),
    }
}
/// MISC_ENABLE as a guest reads it: fast strings (0), and, as Xen adds,
/// BTS (11) and PEBS (12) unavailable; nothing else (no SpeedStep, no
/// MONITOR enable, CPUID not limited, XD not disabled).
const MISC_ENABLE_VALUE: u64 = 1 | (1 << 11) | (1 << 12);
/// FEATURE_CONTROL: locked, nothing enabled (no VMX/SMX, no LMCE).
const FEATURE_CONTROL_LOCK: u64 = 1;
/// DE_CFG: LFENCE is dispatch-serialising (Xen's AMD64_DE_CFG_LFENCE_SERIALISE).
const DE_CFG_LFENCE_SERIALISE: u64 = 1 << 1;

/// The MSR state a vCPU keeps beyond what the hardware switches (Xen's
/// `vcpu_msrs`, the MTRRs of `hvm_vcpu`, its vMCE banks); owned by the
/// loop that runs the vCPU.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VcpuMsrs {
    pub vendor: Vendor,
    pub mtrr: Mtrrs,
    mcg_status: u64,
    mc_ctl2: [u64; MC_BANKS as usize],
    hardware_domain: bool,
}

impl VcpuMsrs {
    /// A PVH vCPU's MSRs at start: `phys_bits` from CPUID 0x80000008.
    pub fn new(vendor: Vendor, phys_bits: u8) -> VcpuMsrs {
        VcpuMsrs { vendor, mtrr: Mtrrs::pvh(phys_bits), mcg_status: 0, mc_ctl2: [0; MC_BANKS as usize], hardware_domain: false }
    }

    /// Dom0's: it reads the host's memory-controller MSRs (AMD's SYSCFG,
    /// TOP_MEM, IORRs, TSEG), as Xen's guest_rdmsr gives the hardware domain.
    pub fn for_hardware_domain(self) -> VcpuMsrs {
        VcpuMsrs { hardware_domain: true, ..self }
    }

    fn intel(&self) -> bool {
        self.vendor == Vendor::Intel
    }
    fn amd(&self) -> bool {
        self.vendor == Vendor::Amd
    }
}

/// The machine-check bank MSR `msr` is (bank, register 0-3: CTL, STATUS,
/// ADDR, MISC), for the banks a guest has.
fn mc_bank(msr: u32) -> Option<(usize, u32)> {
    let i = msr.checked_sub(IA32_MC0_CTL)?;
    (i < 4 * MC_BANKS).then_some(((i / 4) as usize, i % 4))
}

pub fn classify_write(msr: u32, value: u64, s: &mut VcpuMsrs) -> MsrWrite {
    let done = |ok: bool| if ok { MsrWrite::Done } else { MsrWrite::Fault };
    match msr {
        IA32_EFER => MsrWrite::Efer(value),
        // Reserved PAT encodings (2, 3, >= 8) #GP, SDM Vol. 3, 12.12.2.
        IA32_PAT if value.to_le_bytes().iter().all(|b| matches!(b, 0 | 1 | 4..=7)) => MsrWrite::Pat(value),
        // Bits 11:0 of the value are the page index; Xen has one page.
        HYPERCALL_PAGE_MSR if value & 0xfff == 0 => MsrWrite::HypercallPage(value),
        m if Mtrrs::owns(m) => done(s.mtrr.write(m, value).is_ok()),
        // Intel's "write 0, CPUID, read" microcode-revision sequence; the
        // MSR is read-only otherwise (Xen: #GP on AMD or for non-zero).
        IA32_UCODE_REV => done(s.intel() && value == 0),
        // Microcode loads are dropped (Xen: no #GP, some guests load
        // before their IDT).
        IA32_UCODE_WRITE => done(s.intel()),
        AMD_PATCHLOADER => done(s.amd()),
        // No CPUID faulting offered: every bit reserved.
        INTEL_MISC_FEATURES_ENABLES => done(value == 0),
        // vMCE: MCG_STATUS is the guest's; MCG_CTL exists only with
        // MCG_CTL_P (not offered): writes dropped, as Xen's vmce_wrmsr.
        IA32_MCG_STATUS => {
            s.mcg_status = value;
            MsrWrite::Done
        }
        IA32_MCG_CTL => MsrWrite::Done,
        m if s.intel() && (IA32_MC0_CTL2..IA32_MC0_CTL2 + MC_BANKS).contains(&m) => {
            s.mc_ctl2[(m - IA32_MC0_CTL2) as usize] = value;
            MsrWrite::Done
        }
        // MCi_CTL writes are ignored; STATUS/ADDR/MISC take only 0.
        m if let Some((_, reg)) = mc_bank(m) => done(reg == 0 || value == 0),
        // PERF_CTL: write-discard (RAZ/WI), Intel.
        IA32_PERF_CTL => done(s.intel()),
        // DEBUGCTL: no LBR, BTF or BTS for guests here: only 0 (what a
        // guest reads).
        IA32_DEBUGCTL => done(value == 0),
        // MISC_ENABLE (Intel): a write that keeps the value is accepted.
        IA32_MISC_ENABLE => done(s.intel() && value == MISC_ENABLE_VALUE),
        // AMD: DE_CFG writes are dropped (Xen: OpenBSD panics on #GP);
        // HWCR, NB_CFG and C1E enable likewise.
        AMD64_DE_CFG | K8_HWCR => done(s.amd()),
        AMD64_NB_CFG | K8_ENABLE_C1E => MsrWrite::Done,
        _ => MsrWrite::Fault,
    }
}

pub fn classify_read(msr: u32, s: &VcpuMsrs) -> MsrRead {
    let value = |ok: bool, v: u64| if ok { MsrRead::Value(v) } else { MsrRead::Fault };
    match msr {
        IA32_EFER => MsrRead::Efer,
        IA32_PAT => MsrRead::Pat,
        // xAPIC enabled at the architectural base, boot CPU.
        IA32_APIC_BASE => MsrRead::Value(0xfee0_0000 | (1 << 11) | (1 << 8)),
        m if let Some(v) = s.mtrr.read(m) => MsrRead::Value(v),
        // Xen forwards the host's; no host MSR is read here.
        IA32_PLATFORM_ID => value(s.intel(), 0),
        IA32_FEATURE_CONTROL => value(s.intel(), FEATURE_CONTROL_LOCK),
        // The microcode revision: 0 (Xen forwards the host's last load).
        IA32_UCODE_REV => value(s.intel() || s.amd(), 0),
        // PLATFORM_INFO exists for every vendor in Xen's policy: no CPUID
        // faulting, no ratios.
        INTEL_PLATFORM_INFO => MsrRead::Value(0),
        INTEL_MISC_FEATURES_ENABLES => MsrRead::Value(0),
        IA32_MCG_CAP => MsrRead::Value(mcg_cap(s.vendor)),
        IA32_MCG_STATUS => MsrRead::Value(s.mcg_status),
        // Without MCG_CTL_P Xen reads it as 0.
        IA32_MCG_CTL => MsrRead::Value(0),
        m if s.intel() && (IA32_MC0_CTL2..IA32_MC0_CTL2 + MC_BANKS).contains(&m) => {
            MsrRead::Value(s.mc_ctl2[(m - IA32_MC0_CTL2) as usize])
        }
        // MCi_CTL all ones; STATUS/ADDR/MISC hold no error.
        m if let Some((_, reg)) = mc_bank(m) => MsrRead::Value(if reg == 0 { u64::MAX } else { 0 }),
        // Read-as-zero on Intel (Linux has unguarded reads).
        IA32_PERF_STATUS | IA32_PERF_CTL | IA32_THERM_STATUS => value(s.intel(), 0),
        IA32_MISC_ENABLE => value(s.intel(), MISC_ENABLE_VALUE),
        IA32_DEBUGCTL => MsrRead::Value(0),
        K8_HWCR => value(s.amd(), 0),
        AMD64_DE_CFG => value(s.amd(), DE_CFG_LFENCE_SERIALISE),
        // Xen reads these AMD registers as 0 on any vendor (a guest
        // migrated from AMD may touch them).
        AMD64_NB_CFG | K8_ENABLE_C1E => MsrRead::Value(0),
        // The memory controller's, as Xen's guest_rdmsr: the host's for the
        // hardware domain on AMD (SYSCFG masked to its MTRR/TOM2 bits),
        // #GP for everyone else.
        K8_SYSCFG if s.amd() && s.hardware_domain => MsrRead::Host(SYSCFG_DOM0_BITS),
        K8_IORR_BASE0..=K8_IORR_MASK1 | K8_TOP_MEM1 | K8_TOP_MEM2 | K8_TSEG_BASE | K8_TSEG_MASK if s.amd() && s.hardware_domain => {
            MsrRead::Host(u64::MAX)
        }
        // Everything else #GP.
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
        assert_eq!(classify_write(IA32_EFER, 0x900, &mut intel()), MsrWrite::Efer(0x900));
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

    /// Linux's `pvh_start_xen`, just before its MOV to CR0: Xen's PVH start
    /// CR0 (PE, ET), CR4.PAE and EFER.LME set, 32-bit code, a 64-bit TSS.
    const PVH_LONG_SETUP: Cr0Context =
        Cr0Context { cr0: CR0_PE | CR0_ET, cr4: CR4_PAE, efer: EFER_LME, cs_long: false, tr_16bit: false };

    #[test]
    fn cr0_paging_on_with_lme_activates_ia32e_mode() {
        // `mov $(X86_CR0_PG | X86_CR0_PE), %eax; mov %eax, %cr0`: NE and ET clear.
        let w = cr0_write(CR0_PG | CR0_PE, PVH_LONG_SETUP);
        assert_eq!(w, Ok(Cr0Write { cr0: CR0_PG | CR0_ET | CR0_PE, efer: EFER_LME | EFER_LMA }), "ET reads 1, LMA set");
        let legacy = Cr0Context { efer: 0, ..PVH_LONG_SETUP };
        assert_eq!(cr0_write(CR0_PG | CR0_PE, legacy).map(|w| w.efer), Ok(0), "PAE paging without LME: no IA-32e mode");
        let no_pae = Cr0Context { cr4: 0, ..PVH_LONG_SETUP };
        assert!(cr0_write(CR0_PG | CR0_PE, no_pae).is_err(), "IA-32e mode needs CR4.PAE");
        assert!(cr0_write(CR0_PG | CR0_PE, Cr0Context { cs_long: true, ..PVH_LONG_SETUP }).is_err(), "CS.L set");
        assert!(cr0_write(CR0_PG | CR0_PE, Cr0Context { tr_16bit: true, ..PVH_LONG_SETUP }).is_err(), "16-bit TSS");
    }

    #[test]
    fn cr0_changes_with_paging_kept_leave_efer_alone() {
        let long = Cr0Context { cr0: CR0_PG | CR0_ET | CR0_PE, efer: EFER_LME | EFER_LMA, cs_long: true, ..PVH_LONG_SETUP };
        // startup_64's CR0_STATE: PE MP ET NE WP AM PG.
        let state = CR0_PE | 2 | CR0_ET | CR0_NE | CR0_WP | (1 << 18) | CR0_PG;
        assert_eq!(cr0_write(state, long), Ok(Cr0Write { cr0: state, efer: EFER_LME | EFER_LMA }));
        assert_eq!(cr0_write(CR0_PE | CR0_NE, PVH_LONG_SETUP), Ok(Cr0Write { cr0: CR0_PE | CR0_ET | CR0_NE, efer: EFER_LME }));
    }

    #[test]
    fn cr0_paging_off_leaves_ia32e_mode_only_from_compatibility_mode() {
        let compat = Cr0Context { cr0: CR0_PG | CR0_ET | CR0_PE, efer: EFER_LME | EFER_LMA, ..PVH_LONG_SETUP };
        assert_eq!(cr0_write(CR0_PE, compat), Ok(Cr0Write { cr0: CR0_PE | CR0_ET, efer: EFER_LME }), "LMA clear, LME kept");
        assert!(cr0_write(CR0_PE, Cr0Context { cs_long: true, ..compat }).is_err(), "not from 64-bit code");
        assert!(cr0_write(CR0_PE, Cr0Context { cr4: CR4_PAE | CR4_PCIDE, ..compat }).is_err(), "not with PCIDE");
        let legacy = Cr0Context { efer: 0, ..compat };
        assert_eq!(cr0_write(0, legacy), Ok(Cr0Write { cr0: CR0_ET, efer: 0 }), "back to real mode");
    }

    #[test]
    fn cr0_writes_the_cpu_refuses_fault() {
        assert!(cr0_write(CR0_PG, PVH_LONG_SETUP).is_err(), "PG without PE");
        assert!(cr0_write(CR0_PE | CR0_NW, PVH_LONG_SETUP).is_err(), "NW without CD");
        assert_eq!(cr0_write(CR0_PE | CR0_NW | CR0_CD, PVH_LONG_SETUP).map(|w| w.cr0), Ok(CR0_PE | CR0_ET | CR0_NW | CR0_CD));
        assert!(cr0_write(CR0_PE | (1 << 32), PVH_LONG_SETUP).is_err(), "CR0[63:32]");
        let cet = Cr0Context { cr0: CR0_PE | CR0_WP, cr4: CR4_CET, ..PVH_LONG_SETUP };
        assert!(cr0_write(CR0_PE, cet).is_err(), "WP stays while CET is on");
    }

    #[test]
    fn cr0_loads_pdptes_when_pae_paging_starts_or_its_caching_changes() {
        let pg = CR0_PG | CR0_PE | CR0_ET;
        assert!(cr0_write_loads_pdptes(CR0_PE, pg, CR4_PAE, 0), "PAE paging turned on");
        assert!(!cr0_write_loads_pdptes(CR0_PE, pg, CR4_PAE, EFER_LME | EFER_LMA), "IA-32e mode: no PDPTEs");
        assert!(!cr0_write_loads_pdptes(CR0_PE, pg, 0, 0), "32-bit paging: none");
        assert!(!cr0_write_loads_pdptes(pg, pg | CR0_NE, CR4_PAE, 0), "NE alone: kept");
        assert!(cr0_write_loads_pdptes(pg, pg | CR0_CD, CR4_PAE, 0), "CD changed");
        assert!(!cr0_write_loads_pdptes(pg, CR0_PE, CR4_PAE, 0), "paging off");
    }

    #[test]
    fn pae_pdptes_with_reserved_bits_set_are_refused_only_when_present() {
        assert!(pae_pdptes_valid(&[0x1001, 0x2001, 0, 0x3000 | (1 << 63)], 39), "a non-present entry may hold anything");
        assert!(!pae_pdptes_valid(&[0x1001 | (1 << 1), 0, 0, 0], 39), "bit 1 (RW) is reserved in a PDPTE");
        assert!(!pae_pdptes_valid(&[0x1001 | (1 << 7), 0, 0, 0], 39), "bit 7 is reserved");
        assert!(!pae_pdptes_valid(&[0x1001 | (1 << 39), 0, 0, 0], 39), "above MAXPHYADDR");
        assert!(pae_pdptes_valid(&[0x1001 | (1 << 39), 0, 0, 0], 40));
        assert!(pae_pdptes_valid(&[0x1019, 0, 0, 0], 39), "PWT and PCD are allowed");
    }

    #[test]
    fn pat_rejects_reserved_memory_types() {
        assert_eq!(classify_write(IA32_PAT, 0x0007_0406_0007_0406, &mut intel()), MsrWrite::Pat(0x0007_0406_0007_0406));
        assert_eq!(classify_write(IA32_PAT, 0x02, &mut intel()), MsrWrite::Fault);
    }

    #[test]
    fn hypercall_page_msr_takes_a_page_aligned_address() {
        assert_eq!(classify_write(HYPERCALL_PAGE_MSR, 0x5000, &mut intel()), MsrWrite::HypercallPage(0x5000));
        assert_eq!(classify_write(HYPERCALL_PAGE_MSR, 0x5001, &mut intel()), MsrWrite::Fault);
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
        for s in [intel(), amd()] {
            assert_eq!(classify_write(0x10, 0, &mut s.clone()), MsrWrite::Fault);
            assert_eq!(classify_read(0xc001_0114, &s), MsrRead::Fault, "VM_CR");
            assert_eq!(classify_read(0x48, &s), MsrRead::Fault, "SPEC_CTRL is not offered");
            assert_eq!(classify_read(0x10a, &s), MsrRead::Fault, "ARCH_CAPABILITIES is not offered");
            assert_eq!(classify_read(0x3b, &s), MsrRead::Fault, "TSC_ADJUST is not offered");
            assert_eq!(classify_read(0xc001_0010, &s), MsrRead::Fault, "SYSCFG: a DomU's #GP");
            assert_eq!(classify_read(0x408, &s), MsrRead::Fault, "machine-check bank 2 does not exist");
        }
    }

    fn intel() -> VcpuMsrs {
        VcpuMsrs::new(Vendor::Intel, 39)
    }
    fn amd() -> VcpuMsrs {
        VcpuMsrs::new(Vendor::Amd, 40)
    }

    #[test]
    fn the_hardware_domain_reads_the_hosts_amd_memory_controller_msrs() {
        let dom0 = amd().for_hardware_domain();
        assert_eq!(classify_read(0xc001_0010, &dom0), MsrRead::Host(0x0074_0000), "SYSCFG, masked");
        for msr in [0xc001_0016, 0xc001_0019, 0xc001_001a, 0xc001_001d, 0xc001_0112, 0xc001_0113] {
            assert_eq!(classify_read(msr, &dom0), MsrRead::Host(u64::MAX), "{msr:#x}");
            assert_eq!(classify_read(msr, &amd()), MsrRead::Fault, "{msr:#x} of a DomU");
        }
        assert_eq!(classify_read(0xc001_0010, &intel().for_hardware_domain()), MsrRead::Fault, "AMD's only");
    }

    #[test]
    fn mtrr_msrs_are_per_vcpu_and_validated() {
        let (mut a, b) = (intel(), intel());
        assert_eq!(classify_read(0xfe, &a), MsrRead::Value(0x508));
        assert_eq!(classify_read(0x2ff, &a), MsrRead::Value(0x806));
        assert_eq!(classify_write(0x2ff, 0xc06, &mut a), MsrWrite::Done);
        assert_eq!(classify_read(0x2ff, &a), MsrRead::Value(0xc06));
        assert_eq!(classify_read(0x2ff, &b), MsrRead::Value(0x806), "another vCPU keeps its own");
        assert_eq!(classify_write(0x2ff, 0x802, &mut a), MsrWrite::Fault, "type 2 is reserved");
        assert_eq!(classify_write(0xfe, 0, &mut a), MsrWrite::Fault, "MTRRcap is read-only");
        assert_eq!(classify_write(0x201, 0xff_f000_0800, &mut a), MsrWrite::Fault, "mask above 39 bits");
        assert_eq!(classify_write(0x201, 0x7f_f000_0800, &mut a), MsrWrite::Done);
    }

    #[test]
    fn intel_boot_msrs_have_xens_answers() {
        let mut s = intel();
        assert_eq!(classify_read(0x3a, &s), MsrRead::Value(1), "FEATURE_CONTROL locked, VMX off");
        assert_eq!(classify_read(0x1a0, &s), MsrRead::Value(0x1801), "MISC_ENABLE: fast strings, no BTS/PEBS");
        assert_eq!(classify_read(0xce, &s), MsrRead::Value(0), "PLATFORM_INFO");
        assert_eq!(classify_read(0x179, &s), MsrRead::Value(0x0100_0c02), "MCG_CAP: 2 banks, SER, TES, CMCI");
        assert_eq!(classify_read(0x400, &s), MsrRead::Value(u64::MAX), "MC0_CTL all ones");
        assert_eq!(classify_read(0x405, &s), MsrRead::Value(0), "MC1_STATUS clear");
        assert_eq!(classify_write(0x405, 0, &mut s), MsrWrite::Done);
        assert_eq!(classify_write(0x405, 1, &mut s), MsrWrite::Fault, "STATUS takes only 0");
        assert_eq!(classify_write(0x281, 7, &mut s), MsrWrite::Done);
        assert_eq!(classify_read(0x281, &s), MsrRead::Value(7));
        assert_eq!(classify_write(0x8b, 0, &mut s), MsrWrite::Done, "microcode revision sequence");
        assert_eq!(classify_write(0x8b, 1, &mut s), MsrWrite::Fault);
        assert_eq!(classify_read(0x1d9, &s), MsrRead::Value(0));
        assert_eq!(classify_write(0x1d9, 0, &mut s), MsrWrite::Done);
        assert_eq!(classify_write(0x1d9, 2, &mut s), MsrWrite::Fault, "no BTF");
        assert_eq!(classify_read(0xc001_1029, &s), MsrRead::Fault, "DE_CFG is AMD's");
        assert_eq!(classify_read(0xc001_0015, &s), MsrRead::Fault, "HWCR is AMD's");
    }

    #[test]
    fn amd_boot_msrs_have_xens_answers() {
        let mut s = amd();
        assert_eq!(classify_read(0xc001_0015, &s), MsrRead::Value(0), "HWCR");
        assert_eq!(classify_read(0xc001_1029, &s), MsrRead::Value(2), "DE_CFG: LFENCE serialising");
        assert_eq!(classify_write(0xc001_1029, 0x1234, &mut s), MsrWrite::Done, "dropped");
        assert_eq!(classify_read(0xc001_1029, &s), MsrRead::Value(2));
        assert_eq!(classify_read(0x8b, &s), MsrRead::Value(0), "patch level");
        assert_eq!(classify_write(0x8b, 0, &mut s), MsrWrite::Fault, "read-only on AMD");
        assert_eq!(classify_read(0x179, &s), MsrRead::Value(2));
        assert_eq!(classify_read(0x3a, &s), MsrRead::Fault, "FEATURE_CONTROL is Intel's");
        assert_eq!(classify_read(0x1a0, &s), MsrRead::Fault, "MISC_ENABLE is Intel's");
        assert_eq!(classify_read(0xce, &s), MsrRead::Value(0), "Xen's policy has PLATFORM_INFO for all");
        assert_eq!(classify_read(0x280, &s), MsrRead::Fault, "CMCI banks are Intel's");
    }

    #[test]
    fn hypercall_stubs_load_the_number_and_trap() {
        let page = hypercall_page([0x0f, 0x01, 0xd9]);
        assert_eq!(&page[18 * 32..18 * 32 + 9], &[0xb8, 18, 0, 0, 0, 0x0f, 0x01, 0xd9, 0xc3]);
    }
}
