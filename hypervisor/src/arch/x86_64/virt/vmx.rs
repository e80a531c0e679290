//! Intel VT-x (VMX): detection, capabilities and VMXON (SDM Vol. 3, ch. 24
//! and appendix A).

use core::fmt;

use x86_64::registers::control::{Cr0, Cr4};

use super::VirtError;
use crate::arch::x86_64::cpu;
use crate::mm::{self, physmap};

const IA32_FEATURE_CONTROL: u32 = 0x3a;
const FEATURE_CONTROL_LOCK: u64 = 1 << 0;
const FEATURE_CONTROL_VMX_OUTSIDE_SMX: u64 = 1 << 2;
const IA32_VMX_BASIC: u32 = 0x480;
const IA32_VMX_PROCBASED_CTLS: u32 = 0x482;
const IA32_VMX_CR0_FIXED0: u32 = 0x486;
const IA32_VMX_CR0_FIXED1: u32 = 0x487;
const IA32_VMX_CR4_FIXED0: u32 = 0x488;
const IA32_VMX_CR4_FIXED1: u32 = 0x489;
const IA32_VMX_PROCBASED_CTLS2: u32 = 0x48b;
const IA32_VMX_EPT_VPID_CAP: u32 = 0x48c;
const IA32_VMX_TRUE_PROCBASED_CTLS: u32 = 0x48e;

/// VMX capabilities read from the capability MSRs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VmxFeatures {
    pub revision: u32,
    pub true_controls: bool,
    pub ept: bool,
    pub vpid: bool,
    pub unrestricted_guest: bool,
    pub ept_2m: bool,
    pub ept_1g: bool,
}

impl fmt::Display for VmxFeatures {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let yn = |b: bool| if b { "yes" } else { "no" };
        write!(
            f,
            "rev {:#x} {} {} {} ept-2m={} ept-1g={} true-ctls={}",
            self.revision,
            if self.ept { "ept" } else { "no-ept" },
            if self.vpid { "vpid" } else { "no-vpid" },
            if self.unrestricted_guest { "unrestricted" } else { "restricted" },
            yn(self.ept_2m),
            yn(self.ept_1g),
            yn(self.true_controls),
        )
    }
}

pub fn supported() -> bool {
    cpu::cpuid(1, 0).ecx & (1 << 5) != 0
}

/// Reads the capability MSRs (only valid when `supported()`).
pub fn features() -> VmxFeatures {
    // SAFETY: the VMX capability MSRs exist when CPUID reports VMX; the secondary and EPT ones are read only when their presence bit is set.
    unsafe {
        let basic = cpu::rdmsr(IA32_VMX_BASIC);
        let true_controls = basic & (1 << 55) != 0;
        let procbased = cpu::rdmsr(if true_controls { IA32_VMX_TRUE_PROCBASED_CTLS } else { IA32_VMX_PROCBASED_CTLS });
        let has_secondary = (procbased >> 32) & (1 << 31) != 0;
        let secondary = if has_secondary { cpu::rdmsr(IA32_VMX_PROCBASED_CTLS2) >> 32 } else { 0 };
        let ept = secondary & (1 << 1) != 0;
        let vpid = secondary & (1 << 5) != 0;
        let ept_cap = if ept || vpid { cpu::rdmsr(IA32_VMX_EPT_VPID_CAP) } else { 0 };
        VmxFeatures {
            revision: (basic & 0x7fff_ffff) as u32,
            true_controls,
            ept,
            vpid,
            unrestricted_guest: secondary & (1 << 7) != 0,
            ept_2m: ept_cap & (1 << 16) != 0,
            ept_1g: ept_cap & (1 << 17) != 0,
        }
    }
}

/// Applies the fixed-bit MSRs to CR0/CR4, sets CR4.VMXE and runs VMXON.
pub fn enable_this_cpu() -> Result<VmxFeatures, VirtError> {
    // SAFETY: IA32_FEATURE_CONTROL exists on VMX-capable CPUs; when the firmware left it unlocked, enabling VMX outside SMX and locking it is the documented set-up (SDM Vol. 3, 24.7).
    unsafe {
        let control = cpu::rdmsr(IA32_FEATURE_CONTROL);
        if control & FEATURE_CONTROL_LOCK == 0 {
            cpu::wrmsr(IA32_FEATURE_CONTROL, control | FEATURE_CONTROL_LOCK | FEATURE_CONTROL_VMX_OUTSIDE_SMX);
        } else if control & FEATURE_CONTROL_VMX_OUTSIDE_SMX == 0 {
            return Err(VirtError::DisabledByFirmware("VMX"));
        }
    }
    let features = features();
    if !features.ept {
        return Err(VirtError::NoNestedPaging("VMX"));
    }
    let region = mm::alloc_frame().ok_or(VirtError::OutOfMemory("VMXON region"))?;
    // SAFETY: the fixed-bit MSRs exist with VMX; the resulting CR0/CR4 keep paging and protection on (FIXED0 requires them). The VMXON region is a zeroed frame owned by this CPU, tagged with the VMCS revision id.
    let failed = unsafe {
        let cr0 = (Cr0::read_raw() | cpu::rdmsr(IA32_VMX_CR0_FIXED0)) & cpu::rdmsr(IA32_VMX_CR0_FIXED1);
        Cr0::write_raw(cr0);
        let cr4 = (Cr4::read_raw() | cpu::rdmsr(IA32_VMX_CR4_FIXED0) | (1 << 13)) & cpu::rdmsr(IA32_VMX_CR4_FIXED1);
        Cr4::write_raw(cr4);
        core::ptr::write_volatile(physmap::ptr::<u32>(region.addr()), features.revision);
        let phys = region.addr();
        let failed: u8;
        core::arch::asm!(
            "vmxon [{phys}]",
            "setbe {failed}",
            phys = in(reg) &phys,
            failed = out(reg_byte) failed,
            options(nostack)
        );
        failed
    };
    if failed != 0 {
        mm::free_frame(region);
        return Err(VirtError::VmxonFailed);
    }
    Ok(features)
}
