//! What CPUID tells a guest, as Xen 4.17 shows an HVM/PVH guest: the host's
//! answers (its vendor string included) filtered by Xen's policy (features
//! a guest cannot use hidden, the hypervisor bit set), plus Xen's leaves at
//! 0x40000000 so Xen-aware kernels find the hypercall MSR and their domid.
//!
//! TSC frequency, as Debian's Linux 6.1 learns it early (tsc_early_init):
//! `tsc_khz` from `x86_platform.calibrate_tsc`, which a Xen HVM/PVH guest
//! sets to `xen_tsc_khz` (the pvclock scale in shared_info's vcpu_info[0],
//! published at shared-info map time: instant); `cpu_khz` from
//! `native_calibrate_cpu_early`, which Xen leaves alone: CPUID 0x16 EAX
//! (base MHz; Intel only, max leaf >= 0x16), then an MSR table (Intel Atom
//! models only), then `quick_pit_calibrate` on ports 0x61/0x43/0x42. The
//! PIT's absence is not known yet (the 8259 probe runs later, in
//! early_irq_init), so without a PIT port 0x42 reads 0xff: the loop waiting
//! for the MSB to leave 0xff runs its 50000 rounds (100000 port exits: the
//! 1.8 s), then "Fast TSC calibration failed". Xen 4.17 hides leaves above
//! 0xd; on Intel this hypervisor offers leaf 0x16 with the TSC rate (leaves
//! 0xe-0x15 zero), so `cpu_khz` comes from CPUID at once. Linux 6.1 has no
//! CPUID path on AMD. Xen's leaf base+3 (TSC info) is offered as Xen does.

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

/// The host CPU's vendor, which decides the vendor-specific leaves and MSRs
/// (the guest sees the host's vendor string, as on Xen).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Vendor {
    Intel,
    /// AMD or Hygon.
    Amd,
    Other,
}

impl Vendor {
    /// From leaf 0's EBX, EDX, ECX ("GenuineIntel", "AuthenticAMD", "HygonGenuine").
    pub fn from_signature(sig: [u8; 12]) -> Vendor {
        match &sig {
            b"GenuineIntel" => Vendor::Intel,
            b"AuthenticAMD" | b"HygonGenuine" => Vendor::Amd,
            _ => Vendor::Other,
        }
    }
}

/// Who is asking, and the host facts the answers depend on.
#[derive(Clone, Copy, Debug)]
pub struct Asker {
    pub domid: u16,
    pub vcpu_id: u32,
    /// The guest's CR4.OSXSAVE, which leaf 1 ECX bit 27 mirrors.
    pub osxsave: bool,
    /// The guest's CR4.PKE, which leaf 7 ECX bit 4 (OSPKE) mirrors.
    pub ospke: bool,
    /// Dom0 (Xen's hardware domain: it never migrates, so it gets ITSC).
    pub hardware_domain: bool,
    pub vendor: Vendor,
    /// The TSC rate the guest sees (the host's: no TSC scaling).
    pub tsc_khz: u32,
    /// Xen's `host_tsc_is_safe()`: the host TSC is invariant (or one CPU).
    pub tsc_reliable: bool,
    /// The pvclock scale for `tsc_khz` (Xen's `vtsc_to_ns`).
    pub tsc_mul: u32,
    pub tsc_shift: i8,
    /// RDTSCP and RDPID work in this guest: the host has them and the
    /// backend lets the guest run them (SVM: not intercepted, TSC_AUX
    /// passed through; VMX: needs the "enable RDTSCP" control, not set,
    /// so there they are hidden: the instructions would #UD).
    pub rdtscp: bool,
    /// INVPCID runs in this guest (SVM; VMX with "enable INVPCID", which
    /// not every CPU allows): else it is hidden, as it would #UD.
    pub invpcid: bool,
}

// Leaf 1 ECX (SDM Vol. 2A, CPUID; Xen's cpufeatureset.h word 1).
const L1C_DTES64: u32 = 1 << 2;
const L1C_MONITOR: u32 = 1 << 3;
const L1C_DSCPL: u32 = 1 << 4;
const L1C_VMX: u32 = 1 << 5;
const L1C_SMX: u32 = 1 << 6;
const L1C_EIST: u32 = 1 << 7;
const L1C_TM2: u32 = 1 << 8;
const L1C_XTPR: u32 = 1 << 14;
const L1C_PDCM: u32 = 1 << 15;
const L1C_DCA: u32 = 1 << 18;
const L1C_OSXSAVE: u32 = 1 << 27;
const L1C_HYPERVISOR: u32 = 1 << 31;
/// Leaf 1 ECX bits no HVM guest of Xen sees: debug store, MONITOR/MWAIT,
/// VMX/SMX (no nesting), SpeedStep, thermal, xTPR, PDCM (no PMU), DCA.
const L1C_HIDDEN: u32 =
    L1C_DTES64 | L1C_MONITOR | L1C_DSCPL | L1C_VMX | L1C_SMX | L1C_EIST | L1C_TM2 | L1C_XTPR | L1C_PDCM | L1C_DCA | L1C_OSXSAVE;
// Leaf 1 EDX: DS (21), TM1 (29), PBE (31) are hidden (cpufeatureset.h word 0).
const L1D_HIDDEN: u32 = (1 << 21) | (1 << 29) | (1 << 31);
/// Leaf 6 EAX bit 2: the APIC timer runs in every C-state (the emulated one does).
const L6A_ARAT: u32 = 1 << 2;
// Leaf 7.0 (word 5 EBX, 6 ECX, 9 EDX): features without the MSRs or state
// this hypervisor gives a guest. EBX: TSC_ADJUST (1: no TSC offset
// control here), SGX (2), PQM (12), PQE (15), PROC_TRACE (25). ECX: WAITPKG
// (5: UMWAIT_CONTROL MSR), CET_SS (7), OSPKE (4, from the guest's CR4),
// ENQCMD (29). EDX: SRBDS_CTRL (9), TSX_FORCE_ABORT (13), HYBRID (15),
// CET_IBT (20), the SPEC_CTRL family (26 IBRSB, 27 STIBP, 28 L1D_FLUSH,
// 31 SSBD), ARCH_CAPS (29) and CORE_CAPS (30): their MSRs are not offered.
const L7B_HIDDEN: u32 = (1 << 1) | (1 << 2) | (1 << 12) | (1 << 15) | (1 << 25);
const L7B_INVPCID: u32 = 1 << 10;
const L7C_OSPKE: u32 = 1 << 4;
const L7C_RDPID: u32 = 1 << 22;
const L7C_HIDDEN: u32 = L7C_OSPKE | (1 << 5) | (1 << 7) | (1 << 29);
const L7D_HIDDEN: u32 = (1 << 9) | (1 << 13) | (1 << 15) | (1 << 20) | (0b1111 << 26) | (1 << 30) | (1 << 31);
// Leaf 0x80000001 ECX (word 3): SVM (2, no nesting), EXTAPIC (3), OSVW (9),
// IBS (10), SKINIT (12), WDT (13), LWP (15), NODEID_MSR (19), TOPOEXT
// (22), the AMD perf counters PERFCTR_CORE (23), PERFCTR_NB (24),
// PERFCTR_LLC (28), MONITORX (29).
const E1C_HIDDEN: u32 = (1 << 2)
    | (1 << 3)
    | (1 << 9)
    | (1 << 10)
    | (1 << 12)
    | (1 << 13)
    | (1 << 15)
    | (1 << 19)
    | (1 << 22)
    | (1 << 23)
    | (1 << 24)
    | (1 << 28)
    | (1 << 29);
const E1D_RDTSCP: u32 = 1 << 27;
/// Leaf 0x80000007 EDX bit 8: invariant TSC.
const E7D_ITSC: u32 = 1 << 8;
// Leaf 0x80000008 EBX (word 8): IBRS (14), AMD_STIBP (15), the *_ALWAYS /
// FAST / SAME_MODE hints (16-19), AMD_SSBD (24), VIRT_SSBD (25), PSFD (28),
// IBPB (12): their MSRs (SPEC_CTRL, PRED_CMD, VIRT_SPEC_CTRL) are not offered.
const E8B_HIDDEN: u32 = (1 << 12) | (0b11_1111 << 14) | (1 << 24) | (1 << 25) | (1 << 28);

/// Highest basic leaf Xen 4.17 offers (CPUID_GUEST_NR_BASIC - 1).
const XEN_MAX_BASIC_LEAF: u32 = 0xd;
/// On Intel, the leaf that gives Linux `cpu_khz` without the PIT (see the
/// module comment): offered on top of Xen's leaves.
const TSC_FREQUENCY_LEAF: u32 = 0x16;

/// The guest's view of `leaf`/`subleaf`; `host` is the real CPU's answer.
pub fn guest_cpuid(leaf: u32, subleaf: u32, host: Regs4, who: Asker) -> Regs4 {
    const EMPTY: Regs4 = Regs4 { eax: 0, ebx: 0, ecx: 0, edx: 0 };
    let intel = who.vendor == Vendor::Intel;
    match leaf {
        0 => Regs4 { eax: if intel { TSC_FREQUENCY_LEAF } else { host.eax.min(XEN_MAX_BASIC_LEAF) }, ..host },
        1 => Regs4 {
            // Initial APIC id = vCPU id (the vLAPIC's and the MADT's);
            // OSXSAVE (bit 27) from the guest's CR4, not the host's;
            // hypervisor present (bit 31). x2APIC (21) and TSC-deadline
            // (24) stay as the host has them (the vLAPIC emulates both).
            ebx: (host.ebx & 0x00ff_ffff) | ((who.vcpu_id & 0xff) << 24),
            ecx: (host.ecx & !L1C_HIDDEN) | (u32::from(who.osxsave) * L1C_OSXSAVE) | L1C_HYPERVISOR,
            edx: host.edx & !L1D_HIDDEN,
            ..host
        },
        // MONITOR/MWAIT is not offered (Xen: "MONITOR not exposed").
        5 => EMPTY,
        // Thermal and power management: only ARAT, where the host has it.
        6 => Regs4 { eax: host.eax & L6A_ARAT, ..EMPTY },
        7 if subleaf == 0 => Regs4 {
            ebx: host.ebx & !L7B_HIDDEN & !(u32::from(!who.invpcid) * L7B_INVPCID),
            ecx: (host.ecx & !L7C_HIDDEN & !(u32::from(!who.rdtscp) * L7C_RDPID)) | (u32::from(who.ospke) * L7C_OSPKE),
            edx: host.edx & !L7D_HIDDEN,
            ..host
        },
        // No PMU (Xen without vpmu=).
        0xa => EMPTY,
        // Topology: Xen's rule (its TODO topology): no levels enumerated
        // (EBX 0), the sub-leaf echoed in ECX[7:0], EDX the x2APIC id,
        // which is the vCPU id as in leaf 1.
        0xb => Regs4 { eax: 0, ebx: 0, ecx: subleaf & 0xff, edx: who.vcpu_id },
        TSC_FREQUENCY_LEAF if intel => {
            let mhz = who.tsc_khz / 1000;
            Regs4 { eax: mhz, ebx: mhz, ..EMPTY }
        }
        l if l > XEN_MAX_BASIC_LEAF && l < 0x4000_0000 => EMPTY,
        0x8000_0001 => Regs4 { ecx: host.ecx & !E1C_HIDDEN, edx: host.edx & !(u32::from(!who.rdtscp) * E1D_RDTSCP), ..host },
        // Power/RAS hidden; invariant TSC only for Dom0 (Xen gives ITSC to
        // the hardware domain, which never migrates; libxl's DomU default
        // hides it).
        0x8000_0007 => Regs4 { edx: host.edx & E7D_ITSC & if who.hardware_domain { !0 } else { 0 }, ..EMPTY },
        0x8000_0008 => Regs4 { ebx: host.ebx & !E8B_HIDDEN, edx: 0, ..host },
        0x8000_000a => EMPTY,
        XEN_CPUID_FIRST_LEAF => Regs4 {
            eax: XEN_LAST_LEAF,
            ebx: XEN_CPUID_SIGNATURE_EBX,
            ecx: XEN_CPUID_SIGNATURE_ECX,
            edx: XEN_CPUID_SIGNATURE_EDX,
        },
        l if l == XEN_CPUID_FIRST_LEAF + 1 => Regs4 { eax: crate::bits::low32((XEN_MAJOR << 16) | XEN_MINOR), ..EMPTY },
        l if l == XEN_CPUID_FIRST_LEAF + 2 => Regs4 { eax: 1, ebx: HYPERCALL_PAGE_MSR, ..EMPTY },
        l if l == XEN_CPUID_FIRST_LEAF + 3 => xen_time_leaf(subleaf, who),
        l if l == XEN_CPUID_FIRST_LEAF + 4 && subleaf == 0 => Regs4 {
            eax: XEN_HVM_CPUID_VCPU_ID_PRESENT | XEN_HVM_CPUID_DOMID_PRESENT | XEN_HVM_CPUID_UPCALL_VECTOR,
            ebx: who.vcpu_id,
            ecx: u32::from(who.domid),
            edx: 0,
        },
        l if (XEN_CPUID_FIRST_LEAF..0x4001_0000).contains(&l) => EMPTY,
        _ => host,
    }
}

/// Xen's time leaf (base + 3, traps.c `cpuid_hypervisor_leaves`): no TSC
/// emulation (vtsc 0, tsc_mode 0 = default, no offset: the guest reads the
/// host TSC), the guest's TSC kHz, the TSC-to-ns scale, the host's kHz.
fn xen_time_leaf(subleaf: u32, who: Asker) -> Regs4 {
    match subleaf {
        0 => Regs4 { eax: (u32::from(who.tsc_reliable) << 1) | (u32::from(who.rdtscp) << 2), ebx: 0, ecx: who.tsc_khz, edx: 0 },
        1 => Regs4 { eax: 0, ebx: 0, ecx: who.tsc_mul, edx: i32::from(who.tsc_shift).cast_unsigned() },
        2 => Regs4 { eax: who.tsc_khz, ..Regs4::default() },
        _ => Regs4::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WHO: Asker = Asker {
        domid: 3,
        vcpu_id: 1,
        osxsave: false,
        ospke: false,
        hardware_domain: false,
        vendor: Vendor::Amd,
        tsc_khz: 2_500_000,
        tsc_reliable: true,
        tsc_mul: 0x6666_6666,
        tsc_shift: -1,
        rdtscp: true,
        invpcid: true,
    };
    const HOST: Regs4 = Regs4 { eax: 0x11, ebx: 0x0100_0800, ecx: 0x0000_0024, edx: 0xffff };
    const ALL: Regs4 = Regs4 { eax: !0, ebx: !0, ecx: !0, edx: !0 };

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
    fn xen_time_leaf_gives_the_tsc_rate_and_scale() {
        let t0 = guest_cpuid(0x4000_0003, 0, HOST, WHO);
        assert_eq!(t0, Regs4 { eax: 0b110, ebx: 0, ecx: 2_500_000, edx: 0 }, "no vtsc, reliable, RDTSCP; default mode");
        let t1 = guest_cpuid(0x4000_0003, 1, HOST, WHO);
        assert_eq!(t1, Regs4 { eax: 0, ebx: 0, ecx: 0x6666_6666, edx: 0xffff_ffff }, "no offset; shift -1 sign-extended");
        assert_eq!(guest_cpuid(0x4000_0003, 2, HOST, WHO).eax, 2_500_000);
        assert_eq!(guest_cpuid(0x4000_0003, 3, HOST, WHO), Regs4::default());
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
    fn leaf1_hides_monitor_pdcm_and_keeps_x2apic_and_tsc_deadline_as_the_host() {
        let l1 = guest_cpuid(1, 0, ALL, WHO);
        for (bit, what) in [(3, "MONITOR"), (15, "PDCM"), (7, "EIST"), (2, "DTES64"), (18, "DCA")] {
            assert_eq!(l1.ecx & (1 << bit), 0, "{what} is hidden");
        }
        assert_ne!(l1.ecx & (1 << 21), 0, "x2APIC where the host has it");
        assert_ne!(l1.ecx & (1 << 24), 0, "TSC-deadline where the host has it");
        assert_eq!(l1.edx & (1 << 21), 0, "DS is hidden");
        let bare = guest_cpuid(1, 0, Regs4::default(), WHO);
        assert_eq!(bare.ecx & ((1 << 21) | (1 << 24)), 0, "not offered where the host lacks them");
        assert_eq!(guest_cpuid(1, 0, ALL, Asker { vcpu_id: 7, ..WHO }).ebx >> 24, 7);
    }

    #[test]
    fn no_pmu_no_mwait_leaf6_only_arat() {
        assert_eq!(guest_cpuid(5, 0, ALL, WHO), Regs4::default(), "MWAIT leaf");
        assert_eq!(guest_cpuid(0xa, 0, ALL, WHO), Regs4::default(), "PMU leaf");
        assert_eq!(guest_cpuid(6, 0, ALL, WHO), Regs4 { eax: 1 << 2, ..Regs4::default() }, "ARAT alone");
        assert_eq!(guest_cpuid(6, 0, Regs4::default(), WHO).eax, 0, "no ARAT without the host's");
        let e1 = guest_cpuid(0x8000_0001, 0, ALL, WHO);
        for bit in [23, 24, 28, 29, 22, 10] {
            assert_eq!(e1.ecx & (1 << bit), 0, "0x80000001 ECX bit {bit} (perf counters, MONITORX, TOPOEXT, IBS) hidden");
        }
    }

    #[test]
    fn topology_leaf_names_the_vcpu_as_its_x2apic_id() {
        let who = Asker { vcpu_id: 5, ..WHO };
        for sub in 0..3 {
            let b = guest_cpuid(0xb, sub, ALL, who);
            assert_eq!((b.ebx, b.ecx, b.edx), (0, sub, 5));
        }
    }

    #[test]
    fn invariant_tsc_only_for_the_hardware_domain() {
        let host = Regs4 { edx: E7D_ITSC | 0x7f, ..ALL };
        assert_eq!(guest_cpuid(0x8000_0007, 0, host, WHO), Regs4::default());
        let dom0 = Asker { hardware_domain: true, ..WHO };
        assert_eq!(guest_cpuid(0x8000_0007, 0, host, dom0), Regs4 { edx: E7D_ITSC, ..Regs4::default() });
    }

    #[test]
    fn intel_guests_get_the_tsc_rate_in_leaf_0x16_amd_ones_xens_max_leaf() {
        let intel = Asker { vendor: Vendor::Intel, ..WHO };
        assert_eq!(guest_cpuid(0, 0, Regs4 { eax: 0xd, ..HOST }, intel).eax, 0x16);
        assert_eq!(guest_cpuid(0, 0, Regs4 { eax: 0x20, ..HOST }, intel).eax, 0x16);
        assert_eq!(guest_cpuid(0x16, 0, ALL, intel), Regs4 { eax: 2500, ebx: 2500, ecx: 0, edx: 0 });
        assert_eq!(guest_cpuid(0x15, 0, ALL, intel), Regs4::default(), "leaves between are empty");
        assert_eq!(guest_cpuid(0x1f, 0, ALL, intel), Regs4::default());
        assert_eq!(guest_cpuid(0, 0, Regs4 { eax: 0x10, ..HOST }, WHO).eax, 0xd);
        assert_eq!(guest_cpuid(0x16, 0, ALL, WHO), Regs4::default());
    }

    #[test]
    fn spec_ctrl_and_arch_caps_enumeration_is_hidden_with_their_msrs() {
        let l7 = guest_cpuid(7, 0, ALL, WHO);
        assert_eq!(l7.edx & (1 << 29), 0, "ARCH_CAPS");
        assert_eq!(l7.edx & (1 << 26), 0, "IBRSB");
        assert_eq!(l7.ebx & (1 << 1), 0, "TSC_ADJUST");
        assert_eq!(l7.ecx & (1 << 4), 0, "OSPKE follows the guest's CR4.PKE");
        assert_ne!(guest_cpuid(7, 0, ALL, Asker { ospke: true, ..WHO }).ecx & (1 << 4), 0);
        assert_eq!(guest_cpuid(0x8000_0008, 0, ALL, WHO).ebx & (1 << 24), 0, "AMD_SSBD");
    }

    #[test]
    fn rdtscp_and_rdpid_are_hidden_where_they_would_fault() {
        let off = Asker { rdtscp: false, ..WHO };
        assert_eq!(guest_cpuid(0x8000_0001, 0, ALL, off).edx & (1 << 27), 0);
        assert_eq!(guest_cpuid(7, 0, ALL, off).ecx & (1 << 22), 0);
        assert_eq!(guest_cpuid(0x4000_0003, 0, HOST, off).eax & (1 << 2), 0);
        assert_ne!(guest_cpuid(0x8000_0001, 0, ALL, WHO).edx & (1 << 27), 0);
        assert_ne!(guest_cpuid(7, 0, ALL, WHO).ecx & (1 << 22), 0);
    }

    #[test]
    fn invpcid_is_hidden_where_it_would_fault() {
        assert_eq!(guest_cpuid(7, 0, ALL, Asker { invpcid: false, ..WHO }).ebx & (1 << 10), 0);
        assert_ne!(guest_cpuid(7, 0, ALL, WHO).ebx & (1 << 10), 0);
    }

    #[test]
    fn vendor_comes_from_the_signature() {
        assert_eq!(Vendor::from_signature(*b"GenuineIntel"), Vendor::Intel);
        assert_eq!(Vendor::from_signature(*b"AuthenticAMD"), Vendor::Amd);
        assert_eq!(Vendor::from_signature(*b"HygonGenuine"), Vendor::Amd);
        assert_eq!(Vendor::from_signature(*b"TCGTCGTCGTCG"), Vendor::Other);
    }

    #[test]
    fn other_leaves_pass_through_and_unused_hypervisor_leaves_are_zero() {
        let leaf0 = Regs4 { eax: 0xb, ..HOST };
        assert_eq!(guest_cpuid(0, 0, leaf0, WHO), leaf0, "vendor string and a max leaf up to 0xd are the host's");
        assert_eq!(guest_cpuid(2, 0, HOST, WHO), HOST);
        assert_eq!(guest_cpuid(0x4000_0100, 0, HOST, WHO), Regs4::default());
    }
}
