//! What CPUID tells a guest: the host's answers, filtered (no nested
//! virtualization, the hypervisor bit set), plus Xen's leaves at 0x40000000
//! so Xen-aware kernels find the hypercall MSR and their domid.

#![forbid(unsafe_code)]

use abi::cpuid::{
    XEN_CPUID_FIRST_LEAF, XEN_CPUID_SIGNATURE_EBX, XEN_CPUID_SIGNATURE_ECX, XEN_CPUID_SIGNATURE_EDX,
    XEN_HVM_CPUID_DOMID_PRESENT, XEN_HVM_CPUID_UPCALL_VECTOR, XEN_HVM_CPUID_VCPU_ID_PRESENT,
};

use crate::hypercall::xen_version::{XEN_MAJOR, XEN_MINOR};

/// The MSR a guest writes its hypercall page's address to (Xen uses the
/// first hypervisor MSR, reported in leaf base+2 EBX).
pub const HYPERCALL_PAGE_MSR: u32 = 0x4000_0000;
/// Highest Xen leaf offered: base + 5, as Xen 4.17 (leaf 5 is all zero here).
const XEN_LAST_LEAF: u32 = XEN_CPUID_FIRST_LEAF + 5;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Regs4 {
    pub eax: u32,
    pub ebx: u32,
    pub ecx: u32,
    pub edx: u32,
}

/// Who is asking.
#[derive(Clone, Copy, Debug)]
pub struct Asker {
    pub domid: u16,
    pub vcpu_id: u32,
    /// The guest's CR4.OSXSAVE, which leaf 1 ECX bit 27 mirrors.
    pub osxsave: bool,
}

/// The guest's view of `leaf`/`subleaf`; `host` is the real CPU's answer.
pub fn guest_cpuid(leaf: u32, subleaf: u32, host: Regs4, who: Asker) -> Regs4 {
    match leaf {
        1 => Regs4 {
            // Initial APIC id = vCPU id; VMX (bit 5) and SMX (bit 6) hidden
            // (CR4.VMXE/SMXE writes #GP); OSXSAVE (bit 27) from the guest's
            // CR4, not the host's; hypervisor present (bit 31).
            ebx: (host.ebx & 0x00ff_ffff) | ((who.vcpu_id & 0xff) << 24),
            ecx: (host.ecx & !(1 << 5) & !(1 << 6) & !(1 << 27)) | (u32::from(who.osxsave) << 27) | (1 << 31),
            ..host
        },
        // SVM (bit 2) hidden.
        0x8000_0001 => Regs4 { ecx: host.ecx & !(1 << 2), ..host },
        0x8000_000a => Regs4::default(),
        XEN_CPUID_FIRST_LEAF => Regs4 {
            eax: XEN_LAST_LEAF,
            ebx: XEN_CPUID_SIGNATURE_EBX,
            ecx: XEN_CPUID_SIGNATURE_ECX,
            edx: XEN_CPUID_SIGNATURE_EDX,
        },
        l if l == XEN_CPUID_FIRST_LEAF + 1 => Regs4 { eax: crate::bits::low32((XEN_MAJOR << 16) | XEN_MINOR), ..Regs4::default() },
        l if l == XEN_CPUID_FIRST_LEAF + 2 => Regs4 { eax: 1, ebx: HYPERCALL_PAGE_MSR, ..Regs4::default() },
        l if l == XEN_CPUID_FIRST_LEAF + 4 && subleaf == 0 => Regs4 {
            eax: XEN_HVM_CPUID_VCPU_ID_PRESENT | XEN_HVM_CPUID_DOMID_PRESENT | XEN_HVM_CPUID_UPCALL_VECTOR,
            ebx: who.vcpu_id,
            ecx: u32::from(who.domid),
            edx: 0,
        },
        l if (XEN_CPUID_FIRST_LEAF..0x4001_0000).contains(&l) => Regs4::default(),
        _ => host,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WHO: Asker = Asker { domid: 3, vcpu_id: 1, osxsave: false };
    const HOST: Regs4 = Regs4 { eax: 0x11, ebx: 0x0100_0800, ecx: 0x0000_0024, edx: 0xffff };

    #[test]
    fn xen_leaves_carry_the_signature_version_msr_and_domid() {
        let base = guest_cpuid(0x4000_0000, 0, HOST, WHO);
        assert!(abi::cpuid::is_xen_signature(base.ebx, base.ecx, base.edx));
        assert_eq!(base.eax, 0x4000_0005);
        assert_eq!(guest_cpuid(0x4000_0004, 1, HOST, WHO), Regs4::default(), "sub-leaf 1 is empty");
        assert_eq!(guest_cpuid(0x4000_0001, 0, HOST, WHO).eax, 0x0004_0011);
        let msr = guest_cpuid(0x4000_0002, 0, HOST, WHO);
        assert_eq!((msr.eax, msr.ebx), (1, HYPERCALL_PAGE_MSR));
        let hvm = guest_cpuid(0x4000_0004, 0, HOST, WHO);
        assert_eq!((hvm.ebx, hvm.ecx), (1, 3));
        assert_ne!(hvm.eax & XEN_HVM_CPUID_DOMID_PRESENT, 0);
    }

    #[test]
    fn nested_virtualization_is_hidden_and_the_hypervisor_bit_is_set() {
        let l1 = guest_cpuid(1, 0, Regs4 { ecx: HOST.ecx | (1 << 6), ..HOST }, WHO);
        assert_eq!(l1.ecx & (1 << 5), 0);
        assert_eq!(l1.ecx & (1 << 6), 0, "SMX is hidden");
        assert_ne!(l1.ecx & (1 << 31), 0);
        assert_eq!(l1.ebx >> 24, 1, "initial APIC id is the vCPU id");
        let host_osxsave = Regs4 { ecx: 1 << 27, ..HOST };
        assert_eq!(guest_cpuid(1, 0, host_osxsave, WHO).ecx & (1 << 27), 0, "the guest has not set CR4.OSXSAVE");
        let who = Asker { osxsave: true, ..WHO };
        assert_ne!(guest_cpuid(1, 0, HOST, who).ecx & (1 << 27), 0);
        let ext = guest_cpuid(0x8000_0001, 0, Regs4 { ecx: 0x4, ..HOST }, WHO);
        assert_eq!(ext.ecx & 0x4, 0);
    }

    #[test]
    fn other_leaves_pass_through_and_unused_hypervisor_leaves_are_zero() {
        assert_eq!(guest_cpuid(0, 0, HOST, WHO), HOST);
        assert_eq!(guest_cpuid(0x4000_0100, 0, HOST, WHO), Regs4::default());
    }
}
