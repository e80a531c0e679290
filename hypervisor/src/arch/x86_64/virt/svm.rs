//! AMD-V (SVM): detection and enabling (AMD APM Vol. 2, 15.4).

use core::fmt;

use x86_64::registers::model_specific::{Efer, EferFlags};

use super::VirtError;
use crate::arch::x86_64::cpu;
use crate::mm;

const VM_CR: u32 = 0xc001_0114;
const VM_CR_SVMDIS: u64 = 1 << 4;
const VM_HSAVE_PA: u32 = 0xc001_0117;

/// SVM features from CPUID Fn8000_000A.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SvmFeatures {
    pub revision: u8,
    pub asids: u32,
    pub npt: bool,
    /// NRIP save: the CPU records the next RIP on intercepts. QEMU's TCG lacks it.
    pub nrips: bool,
    pub vmcb_clean: bool,
    pub decode_assists: bool,
}

impl fmt::Display for SvmFeatures {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let yn = |b: bool| if b { "yes" } else { "no" };
        write!(
            f,
            "rev {} {} nrips={} asids={} vmcb-clean={} decode-assists={}",
            self.revision,
            if self.npt { "npt" } else { "no-npt" },
            yn(self.nrips),
            self.asids,
            yn(self.vmcb_clean),
            yn(self.decode_assists)
        )
    }
}

pub fn supported() -> bool {
    cpu::max_extended_leaf() >= 0x8000_000a && cpu::cpuid(0x8000_0001, 0).ecx & (1 << 2) != 0
}

pub fn features() -> SvmFeatures {
    let r = cpu::cpuid(0x8000_000a, 0);
    SvmFeatures {
        revision: (r.eax & 0xff) as u8,
        asids: r.ebx,
        npt: r.edx & (1 << 0) != 0,
        nrips: r.edx & (1 << 3) != 0,
        vmcb_clean: r.edx & (1 << 5) != 0,
        decode_assists: r.edx & (1 << 7) != 0,
    }
}

/// Sets EFER.SVME and gives the CPU its host save area.
pub fn enable_this_cpu() -> Result<SvmFeatures, VirtError> {
    let features = features();
    // SAFETY: VM_CR exists on every CPU that reports SVM.
    if unsafe { cpu::rdmsr(VM_CR) } & VM_CR_SVMDIS != 0 {
        return Err(VirtError::DisabledByFirmware("SVM"));
    }
    if !features.npt {
        return Err(VirtError::NoNestedPaging("SVM"));
    }
    let hsave = mm::alloc_frame().ok_or(VirtError::OutOfMemory("SVM host save area"))?;
    // SAFETY: SVM is present and not disabled, so EFER.SVME may be set; the host save area is a zeroed page that belongs to this CPU for ever.
    unsafe {
        Efer::update(|f| f.insert(EferFlags::SECURE_VIRTUAL_MACHINE_ENABLE));
        cpu::wrmsr(VM_HSAVE_PA, hsave.addr());
    }
    Ok(features)
}
