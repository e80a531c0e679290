//! Xen's CPUID leaves as Xen 4.17 fills them for an HVM/PVH guest
//! (xen/arch/x86/traps.c, `cpuid_hypervisor_leaves`): five leaves past the
//! base, version 4.17, one hypercall page at MSR 0x40000000, no PV feature
//! bits, and leaf 4 with the vCPU and domain ids.

use abi::cpuid::{
    XEN_CPUID_MAX_NUM_LEAVES, XEN_HVM_CPUID_DOMID_PRESENT, XEN_HVM_CPUID_IOMMU_MAPPINGS,
    XEN_HVM_CPUID_UPCALL_VECTOR, XEN_HVM_CPUID_VCPU_ID_PRESENT, is_xen_signature,
};
use guest_rt::cpu;

use crate::suite::Suite;

pub fn run(s: &mut Suite) {
    if !s.is64() {
        return; // CPUID does not depend on the code segment
    }
    let base = s.cpuid_base;
    let l0 = cpu::cpuid(base, 0);
    s.tap.assert(
        format_args!("cpuid {base:#x} reads \"XenVMMXenVMM\""),
        is_xen_signature(l0.ebx, l0.ecx, l0.edx),
        format_args!("{:#x} {:#x} {:#x}", l0.ebx, l0.ecx, l0.edx),
        format_args!("XenVMMXenVMM"),
    );
    let max = base + XEN_CPUID_MAX_NUM_LEAVES;
    s.tap.assert(
        format_args!("cpuid {base:#x} eax is the last Xen leaf, base + 5"),
        l0.eax == max,
        format_args!("{:#x}", l0.eax),
        format_args!("{max:#x}"),
    );
    let l1 = cpu::cpuid(base + 1, 0);
    s.tap.assert(
        format_args!("cpuid base+1 eax is version 4.17"),
        l1.eax == (4 << 16) | 17,
        format_args!("{:#x}", l1.eax),
        format_args!("0x40011"),
    );
    let l2 = cpu::cpuid(base + 2, 0);
    s.tap.assert(
        format_args!("cpuid base+2: one hypercall page, MSR 0x40000000, no PV features"),
        l2.eax == 1 && l2.ebx == 0x4000_0000 && l2.ecx == 0,
        format_args!("eax={:#x} ebx={:#x} ecx={:#x}", l2.eax, l2.ebx, l2.ecx),
        format_args!("eax=0x1 ebx=0x40000000 ecx=0x0"),
    );
    let l4 = cpu::cpuid(base + 4, 0);
    let flags = XEN_HVM_CPUID_IOMMU_MAPPINGS
        | XEN_HVM_CPUID_VCPU_ID_PRESENT
        | XEN_HVM_CPUID_DOMID_PRESENT
        | XEN_HVM_CPUID_UPCALL_VECTOR;
    s.tap.assert(
        format_args!(
            "cpuid base+4 eax has IOMMU_MAPPINGS, VCPU_ID_PRESENT, DOMID_PRESENT, UPCALL_VECTOR"
        ),
        l4.eax & flags == flags,
        format_args!("{:#x}", l4.eax),
        format_args!("all of {flags:#x}"),
    );
    s.tap.assert(
        format_args!("cpuid base+4 ebx is the vCPU id, 0"),
        l4.ebx == 0,
        format_args!("{}", l4.ebx),
        format_args!("0"),
    );
    if s.hwdom {
        s.tap.assert(
            format_args!("cpuid base+4 ecx is the domain id, 0 for Dom0"),
            l4.ecx == 0,
            format_args!("{}", l4.ecx),
            format_args!("0"),
        );
    }
    let l4_1 = cpu::cpuid(base + 4, 1);
    s.tap.assert(
        format_args!("cpuid base+4 sub-leaf 1 is all zero"),
        l4_1.eax == 0 && l4_1.ebx == 0 && l4_1.ecx == 0 && l4_1.edx == 0,
        format_args!(
            "{:#x} {:#x} {:#x} {:#x}",
            l4_1.eax, l4_1.ebx, l4_1.ecx, l4_1.edx
        ),
        format_args!("0 0 0 0"),
    );
}
