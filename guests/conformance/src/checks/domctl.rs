//! `HYPERVISOR_domctl`, `HYPERVISOR_sysctl`, `HYPERVISOR_platform_op`
//! (xen/common/domctl.c, sysctl.c, xen/arch/x86/platform_hypercall.c). Their
//! structs have the same layout for 32- and 64-bit callers.
//!
//! Each copies its struct in (-EFAULT), then checks the interface version
//! (-EACCES: domctl and sysctl 0x15 in Xen 4.17, platform_op 0x03000001);
//! domctl then looks the domain up (-ESRCH, except for getdomaininfo and
//! createdomain) before XSM says -EPERM to anyone but a control domain.
//! Unknown commands: -ENOSYS. Not checked, deliberately: domctls that
//! change a domain (pause, destroy, create); pausedomain of itself is in
//! `risky`.

use abi::domctl::*;
use abi::sysctl::*;
use abi::xen::{DOMID_SELF, DomId, HYPERVISOR_DOMCTL, HYPERVISOR_PLATFORM_OP, HYPERVISOR_SYSCTL};

use super::*;
use crate::mem::{ARG, SCRATCH};
use crate::suite::{Suite, args};
use crate::xen::{PlatformOp, XENPF_GET_CPUINFO, XENPF_INTERFACE_VERSION};

/// Interface versions that are not Xen 4.17's.
const WRONG_VERSIONS: [u32; 5] = [0, 0x14, 0x16, 0x0300_0001, 0xffff_ffff];

/// A domctl with an all-zero payload.
pub fn domctl_op(cmd: u32, domain: u16) -> XenDomctl {
    XenDomctl::new(cmd, DomId(domain), &[0u8; 0])
}

/// A sysctl with an all-zero payload.
fn sysctl_op(cmd: u32) -> XenSysctl {
    XenSysctl::new(cmd, &[0u8; 0])
}

pub fn run(s: &mut Suite) {
    domctl(s);
    sysctl(s);
    platform_op(s);
}

fn domctl(s: &mut Suite) {
    const NR: u64 = HYPERVISOR_DOMCTL;
    for bad in s.bad_ptrs(144, false) {
        s.check(format_args!("domctl({bad})"), NR, args([bad.addr]), EFAULT);
    }
    for version in WRONG_VERSIONS {
        let d = XenDomctl {
            interface_version: version,
            ..domctl_op(XEN_DOMCTL_GETDOMAININFO, 0)
        };
        let arg = SCRATCH.put(ARG, &d);
        s.check(
            format_args!("domctl({{getdomaininfo, interface version {version:#x}}})"),
            NR,
            args([arg]),
            EACCES,
        );
    }
    // Looked up before XSM: -ESRCH for anyone.
    for (domid, what) in Suite::NO_DOMAINS {
        let arg = SCRATCH.put(ARG, &domctl_op(XEN_DOMCTL_MAX_MEM, domid));
        s.check(
            format_args!("domctl({{max_mem, {what}}})"),
            NR,
            args([arg]),
            ESRCH,
        );
    }
    if !s.privileged {
        for (cmd, domain, what) in [
            (XEN_DOMCTL_GETDOMAININFO, 0, "getdomaininfo, domain 0"),
            (
                XEN_DOMCTL_GETDOMAININFO,
                DOMID_SELF.0,
                "getdomaininfo, DOMID_SELF",
            ),
            (
                XEN_DOMCTL_GETDOMAININFO,
                Suite::NO_DOMAIN,
                "getdomaininfo, an unused domid",
            ),
            (XEN_DOMCTL_MAX_MEM, 0, "max_mem, domain 0"),
        ] {
            let arg = SCRATCH.put(ARG, &domctl_op(cmd, domain));
            s.check(
                format_args!("domctl({{{what}}}) from a DomU"),
                NR,
                args([arg]),
                EPERM,
            );
        }
        return;
    }
    let own = s.domid;
    let arg = SCRATCH.put(ARG, &domctl_op(XEN_DOMCTL_GETDOMAININFO, own));
    if s.check(
        format_args!("domctl({{getdomaininfo, own domid {own}}})"),
        NR,
        args([arg]),
        OK,
    ) == 0
    {
        let d = SCRATCH.get::<XenDomctl>(ARG);
        let info = d.payload::<XenDomctlGetdomaininfo>();
        let (domain, flags) = (info.domain.0, info.flags);
        let (tot, max) = (info.tot_pages, info.max_pages);
        let (online, max_vcpu) = (info.nr_online_vcpus, info.max_vcpu_id);
        s.tap.assert(
            format_args!(
                "getdomaininfo echoes the domain in u.getdomaininfo.domain and domctl.domain"
            ),
            domain == own && d.domain.0 == own,
            format_args!("{domain} / {}", d.domain.0),
            format_args!("{own}"),
        );
        s.tap.assert(
            format_args!("getdomaininfo flags: XEN_DOMINF_hvm_guest, not dying or shut down"),
            flags & XEN_DOMINF_HVM_GUEST != 0
                && flags & (XEN_DOMINF_DYING | XEN_DOMINF_SHUTDOWN) == 0,
            format_args!("{flags:#x}"),
            format_args!("hvm_guest set, dying and shutdown clear"),
        );
        s.tap.assert(
            format_args!("getdomaininfo tot_pages > 0 and <= max_pages"),
            tot > 0 && tot <= max,
            format_args!("tot_pages {tot}, max_pages {max}"),
            format_args!("0 < tot_pages <= max_pages"),
        );
        s.tap.assert(
            format_args!("getdomaininfo: at least one vCPU online, max_vcpu_id valid"),
            online >= 1 && max_vcpu != XEN_INVALID_MAX_VCPU_ID && online <= max_vcpu + 1,
            format_args!("nr_online_vcpus {online}, max_vcpu_id {max_vcpu:#x}"),
            format_args!("1 <= nr_online_vcpus <= max_vcpu_id + 1"),
        );
    }
    for (domain, what, want) in [
        (DOMID_SELF.0, "DOMID_SELF [not an id it looks up]", EINVAL),
        (0x7ff4, "DOMID_INVALID", EINVAL),
        (
            Suite::NO_DOMAIN,
            "an unused domid [none at or above it]",
            ESRCH,
        ),
    ] {
        let arg = SCRATCH.put(ARG, &domctl_op(XEN_DOMCTL_GETDOMAININFO, domain));
        s.check(
            format_args!("domctl({{getdomaininfo, {what}}})"),
            NR,
            args([arg]),
            want,
        );
    }
    let arg = SCRATCH.put(ARG, &domctl_op(XEN_DOMCTL_MAX_VCPUS, own));
    s.check(
        format_args!("domctl({{max_vcpus, itself}}) [cannot pause itself]"),
        NR,
        args([arg]),
        EINVAL,
    );
    for cmd in [0u32, 6, 7, 8, 200, 0xffff_ffff] {
        let arg = SCRATCH.put(ARG, &domctl_op(cmd, own));
        s.check(
            format_args!("domctl({{cmd {cmd:#x}, itself}}) [no such command]"),
            NR,
            args([arg]),
            ENOSYS,
        );
    }
}

fn sysctl(s: &mut Suite) {
    const NR: u64 = HYPERVISOR_SYSCTL;
    for bad in s.bad_ptrs(136, false) {
        s.check(format_args!("sysctl({bad})"), NR, args([bad.addr]), EFAULT);
    }
    for version in WRONG_VERSIONS {
        let c = XenSysctl {
            interface_version: version,
            ..sysctl_op(XEN_SYSCTL_PHYSINFO)
        };
        let arg = SCRATCH.put(ARG, &c);
        s.check(
            format_args!("sysctl({{physinfo, interface version {version:#x}}})"),
            NR,
            args([arg]),
            EACCES,
        );
    }
    if !s.privileged {
        for cmd in [XEN_SYSCTL_PHYSINFO, XEN_SYSCTL_READCONSOLE, 0xffff] {
            let arg = SCRATCH.put(ARG, &sysctl_op(cmd));
            s.check(
                format_args!("sysctl({{cmd {cmd:#x}}}) from a DomU"),
                NR,
                args([arg]),
                EPERM,
            );
        }
        return;
    }
    let arg = SCRATCH.put(ARG, &sysctl_op(XEN_SYSCTL_PHYSINFO));
    if s.check(format_args!("sysctl({{physinfo}})"), NR, args([arg]), OK) == 0 {
        let p = SCRATCH.get::<XenSysctl>(ARG).payload::<XenSysctlPhysinfo>();
        let (cpus, caps, pages) = (p.nr_cpus, p.capabilities, p.total_pages);
        s.tap.assert(
            format_args!("physinfo: nr_cpus >= 1, total_pages > 0, XEN_SYSCTL_PHYSCAP_hvm"),
            cpus >= 1 && pages > 0 && caps & XEN_SYSCTL_PHYSCAP_HVM != 0,
            format_args!("nr_cpus {cpus}, total_pages {pages}, capabilities {caps:#x}"),
            format_args!("nr_cpus >= 1, total_pages > 0, capabilities with bit 0"),
        );
    }
    for cmd in [0u32, 100, 0xffff_ffff] {
        let arg = SCRATCH.put(ARG, &sysctl_op(cmd));
        s.check(
            format_args!("sysctl({{cmd {cmd:#x}}}) [no such command]"),
            NR,
            args([arg]),
            ENOSYS,
        );
    }
}

fn platform_op(s: &mut Suite) {
    const NR: u64 = HYPERVISOR_PLATFORM_OP;
    for bad in s.bad_ptrs(136, false) {
        s.check(
            format_args!("platform_op({bad})"),
            NR,
            args([bad.addr]),
            EFAULT,
        );
    }
    let op = |cmd: u32, interface_version: u32| PlatformOp {
        cmd,
        interface_version,
        ..Default::default()
    };
    for version in [0u32, 0x0300_0000, 0x15, 0xffff_ffff] {
        let arg = SCRATCH.put(ARG, &op(XENPF_GET_CPUINFO, version));
        s.check(
            format_args!("platform_op({{get_cpuinfo, interface version {version:#x}}})"),
            NR,
            args([arg]),
            EACCES,
        );
    }
    let arg = SCRATCH.put(ARG, &op(0xffff, XENPF_INTERFACE_VERSION));
    s.check(
        format_args!(
            "platform_op({{cmd 0xffff}}) [{}]",
            if s.privileged {
                "no such command"
            } else {
                "XSM_PRIV refuses a DomU"
            }
        ),
        NR,
        args([arg]),
        if s.privileged { ENOSYS } else { EPERM },
    );
    if s.privileged {
        get_cpuinfo(s);
    }
}

/// XENPF_get_cpuinfo (Dom0): CPU 0 is online, with the APIC id and
/// max_present Xen fills in; a CPU past the last is flagged INVALID.
fn get_cpuinfo(s: &mut Suite) {
    const NR: u64 = 7;
    const ONLINE: u64 = 1;
    const INVALID: u64 = 2;
    // u.pcpu_info: xen_cpuid, max_present, flags, apic_id, acpi_id (u32s).
    let ask = |cpu: u32| {
        let mut op = PlatformOp { cmd: XENPF_GET_CPUINFO, interface_version: XENPF_INTERFACE_VERSION, ..Default::default() };
        op.u[0] = u64::from(cpu) | 0xdead << 32;
        op.u[1] = 0xdead_dead_dead_dead;
        op
    };
    let arg = SCRATCH.put(ARG, &ask(0));
    s.check(format_args!("platform_op({{get_cpuinfo, cpu 0}})"), NR, args([arg]), Want::Is(0));
    let got: PlatformOp = SCRATCH.get(ARG);
    let (max_present, flags, apic_id) = (got.u[0] >> 32, got.u[1] & 0xffff_ffff, got.u[1] >> 32);
    s.tap.assert(
        format_args!("get_cpuinfo(0): flags ONLINE, max_present below 64, the APIC id written"),
        flags == ONLINE && max_present < 64 && apic_id != 0xdead_dead,
        format_args!("flags {flags:#x}, max_present {max_present}, apic_id {apic_id:#x}"),
        format_args!("flags 1, max_present < 64, apic_id written"),
    );
    let arg = SCRATCH.put(ARG, &ask(4095));
    s.check(format_args!("platform_op({{get_cpuinfo, cpu 4095}})"), NR, args([arg]), Want::Is(0));
    let got: PlatformOp = SCRATCH.get(ARG);
    s.tap.assert(
        format_args!("get_cpuinfo(4095): flags INVALID, max_present as for CPU 0"),
        got.u[1] & 0xffff_ffff == INVALID && got.u[0] >> 32 == max_present,
        format_args!("flags {:#x}, max_present {}", got.u[1] & 0xffff_ffff, got.u[0] >> 32),
        format_args!("flags 2, max_present {max_present}"),
    );
}
