//! Mirrors xen/include/public/arch-x86/cpuid.h
//!
//! Xen's CPUID leaves, found at the first otherwise unused 0x100-aligned base
//! from 0x40000000 (0x40000100 when Viridian leaves come first). With `base`
//! that leaf:
//! - `base + 0`: EAX = largest Xen leaf; EBX, ECX, EDX = "XenVMMXenVMM".
//! - `base + 1`: EAX = version, major in `[31:16]`, minor in `[15:0]`.
//! - `base + 2`: EAX = number of hypercall pages (always at least 1);
//!   EBX = MSR index: writing a page's guest-physical address to it makes the
//!   hypervisor fill that page with the hypercall stubs;
//!   ECX = features 1 (`XEN_CPUID_FEAT1_*`); EDX = features 2.
//! - `base + 3`: time. Sub-leaf 0: EAX flags (bit 0 emulated TSC, bit 1 host
//!   TSC reliable, bit 2 RDTSCP), EBX tsc_mode, ECX guest TSC kHz, EDX
//!   incarnation. Sub-leaf 1: TSC offset (EAX low, EBX high), ECX mul, EDX
//!   shift of the TSC-to-ns conversion. Sub-leaf 2: EAX host TSC kHz.
//! - `base + 4`: HVM features. Sub-leaf 0: EAX `XEN_HVM_CPUID_*`, EBX vcpu id
//!   (if `XEN_HVM_CPUID_VCPU_ID_PRESENT`), ECX domid (if
//!   `XEN_HVM_CPUID_DOMID_PRESENT`).
//! - `base + 5`: PV parameters. Sub-leaf 0: EAX max sub-leaf, EBX`[7:0]`
//!   max machine address width.

/// The lowest base Xen's leaves may start at.
pub const XEN_CPUID_FIRST_LEAF: u32 = 0x4000_0000;
/// Xen's leaf `i` counted from [`XEN_CPUID_FIRST_LEAF`].
pub const fn xen_cpuid_leaf(i: u32) -> u32 {
    XEN_CPUID_FIRST_LEAF + i
}
/// Bases are 0x100 apart: search `XEN_CPUID_FIRST_LEAF + k * XEN_CPUID_LEAF_STRIDE`.
pub const XEN_CPUID_LEAF_STRIDE: u32 = 0x100;

/// "XenV" in EBX of leaf `base`.
pub const XEN_CPUID_SIGNATURE_EBX: u32 = 0x566e_6558;
/// "MMXe" in ECX of leaf `base`.
pub const XEN_CPUID_SIGNATURE_ECX: u32 = 0x6558_4d4d;
/// "nVMM" in EDX of leaf `base`.
pub const XEN_CPUID_SIGNATURE_EDX: u32 = 0x4d4d_566e;

/// Leaf `base + 2` ECX: MMU_PT_UPDATE_PRESERVE_AD is supported.
pub const XEN_CPUID_FEAT1_MMU_PT_UPDATE_PRESERVE_AD: u32 = 1 << 0;

// Leaf `base + 4` sub-leaf 0 EAX.
/// Virtualized APIC registers.
pub const XEN_HVM_CPUID_APIC_ACCESS_VIRT: u32 = 1 << 0;
/// Virtualized x2APIC accesses.
pub const XEN_HVM_CPUID_X2APIC_VIRT: u32 = 1 << 1;
/// Memory mapped from other domains has valid IOMMU entries.
pub const XEN_HVM_CPUID_IOMMU_MAPPINGS: u32 = 1 << 2;
/// The vcpu id is present in EBX.
pub const XEN_HVM_CPUID_VCPU_ID_PRESENT: u32 = 1 << 3;
/// The domid is present in ECX.
pub const XEN_HVM_CPUID_DOMID_PRESENT: u32 = 1 << 4;
/// Bits 55:49 of IO-APIC RTEs and 11:5 of MSI addresses extend the destination id.
pub const XEN_HVM_CPUID_EXT_DEST_ID: u32 = 1 << 5;
/// Per-vCPU event-channel upcalls work with physical IRQs bound to event channels.
pub const XEN_HVM_CPUID_UPCALL_VECTOR: u32 = 1 << 6;

/// Leaf `base + 5` sub-leaf 0 EBX: max machine address width.
pub const XEN_CPUID_MACHINE_ADDRESS_WIDTH_MASK: u32 = 0xff;

/// The highest Xen leaf offset: leaves run from `base + 0` to `base + 5`.
pub const XEN_CPUID_MAX_NUM_LEAVES: u32 = 5;

/// Whether (EBX, ECX, EDX) of a candidate base leaf spell "XenVMMXenVMM".
pub const fn is_xen_signature(ebx: u32, ecx: u32, edx: u32) -> bool {
    ebx == XEN_CPUID_SIGNATURE_EBX
        && ecx == XEN_CPUID_SIGNATURE_ECX
        && edx == XEN_CPUID_SIGNATURE_EDX
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_registers_spell_xenvmmxenvmm() {
        let mut s = [0u8; 12];
        s[0..4].copy_from_slice(&XEN_CPUID_SIGNATURE_EBX.to_le_bytes());
        s[4..8].copy_from_slice(&XEN_CPUID_SIGNATURE_ECX.to_le_bytes());
        s[8..12].copy_from_slice(&XEN_CPUID_SIGNATURE_EDX.to_le_bytes());
        assert_eq!(&s, b"XenVMMXenVMM");
    }
}
