//! Hardware virtualization: which extension this machine has (AMD-V or
//! VT-x, chosen by CPUID) and turning it on in every CPU.

pub mod entry_check;
pub mod exit;
pub mod svm;
pub mod vcpu;
pub mod svm_vcpu;
pub mod vmcb;
pub mod vmcs;
pub mod vmx;
pub mod vmx_vcpu;

use core::fmt;

/// The extension found on the boot CPU, with the features that matter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Svm(svm::SvmFeatures),
    Vmx(vmx::VmxFeatures),
}

#[derive(Debug)]
pub enum VirtError {
    /// this CPU has neither AMD-V (SVM) nor Intel VT-x (VMX): the hypervisor needs one of them
    Unsupported,
    /// the firmware disabled {0} (enable virtualization in the BIOS/UEFI setup)
    DisabledByFirmware(&'static str),
    /// {0} lacks nested paging, which the hypervisor needs
    NoNestedPaging(&'static str),
    /// no memory for the per-CPU {0} area
    OutOfMemory(&'static str),
    /// VMXON failed
    VmxonFailed,
    /// VMX capability MSR {0:#x} does not allow the controls {1:#x}
    MissingControl(u32, u32),
}

impl fmt::Display for VirtError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VirtError::Unsupported => {
                f.write_str("this CPU has neither AMD-V (SVM) nor Intel VT-x (VMX); the hypervisor needs one")
            }
            VirtError::DisabledByFirmware(what) => {
                write!(f, "the firmware disabled {what}: enable virtualization in the firmware setup")
            }
            VirtError::NoNestedPaging(what) => write!(f, "{what} lacks nested paging (NPT/EPT), which the hypervisor needs"),
            VirtError::OutOfMemory(what) => write!(f, "no memory for the per-CPU {what}"),
            VirtError::VmxonFailed => f.write_str("VMXON failed"),
            VirtError::MissingControl(msr, bits) => {
                write!(f, "VMX capability MSR {msr:#x} does not allow the controls {bits:#x} the hypervisor needs")
            }
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Backend::Svm(s) => write!(f, "SVM enabled ({s})"),
            Backend::Vmx(v) => write!(f, "VMX enabled ({v})"),
        }
    }
}

/// Bytes of an I/O permission bitmap covering all 65536 ports.
pub const IO_BITMAP_BYTES: usize = 8192;

/// Fills an I/O permission bitmap: one bit per port, set = intercept. SVM's
/// IOPM and VMX's bitmaps A and B (back to back) share this layout.
pub fn fill_io_bitmap(bitmap: &mut [u8], intercept_port: &dyn Fn(u16) -> bool) {
    bitmap[..IO_BITMAP_BYTES].fill(0);
    for port in 0..=u16::MAX {
        if intercept_port(port) {
            bitmap[usize::from(port / 8)] |= 1 << (port % 8);
        }
    }
}

/// Detects and enables the extension on this CPU. Every CPU calls it; each
/// answers for itself, since firmware may set CPUs up differently.
pub fn enable_this_cpu() -> Result<Backend, VirtError> {
    if svm::supported() {
        svm::enable_this_cpu().map(Backend::Svm)
    } else if vmx::supported() {
        vmx::enable_this_cpu().map(Backend::Vmx)
    } else {
        Err(VirtError::Unsupported)
    }
}
