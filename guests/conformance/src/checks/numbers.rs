//! Every hypercall number with all-zero arguments, and numbers past the
//! table. Xen 4.17's HVM table (xen/include/hypercall-defs.c, columns hvm32
//! and hvm64) has: platform_op, memory_op, multicall, set_timer_op,
//! xen_version, console_io, grant_table_op, vm_assist, vcpu_op, mmuext_op,
//! xsm_op, sched_op, event_channel_op, physdev_op, hvm_op, sysctl, domctl,
//! xenpmu_op, dm_op, hypfs_op, paging_domctl_cont (and argo_op when built
//! with CONFIG_ARGO, off by default). Every other number, PV-only ones
//! included, is -ENOSYS.

use abi::xen::{HYPERVISOR_XEN_VERSION, XEN_PAGE_SIZE};
use guest_rt::hypercall;

use super::*;
use crate::suite::Suite;
use crate::tap::Want;
use crate::xen::{HYPERCALL_NAMES, XEN_HYPFS_VERSION};

/// The Xen release whose ABI is checked.
pub const XEN_VERSION: i64 = (4 << 16) | 17;

/// What Xen returns for hypercall `nr` with every argument 0, and why.
fn with_zero_args(s: &Suite, nr: u64) -> Option<(Want, &'static str)> {
    let want = match nr {
        7 => (EFAULT, "platform_op reads its struct at NULL"),
        12 => (
            OK,
            "memory_op(XENMEM_increase_reservation, NULL) reports 0 extents done",
        ),
        13 => (OK, "multicall of 0 entries"),
        15 => (OK, "set_timer_op(0) stops the timer"),
        17 => (Want::Is(XEN_VERSION), "XENVER_version is 4.17"),
        18 if s.privileged => (OK, "a CONSOLEIO_write of 0 bytes"),
        18 => (
            Want::AnyOf(&[OK, EPERM]),
            "a CONSOLEIO_write of 0 bytes (-EPERM from release builds to a DomU)",
        ),
        20 => (OK, "GNTTABOP_map_grant_ref of 0 entries"),
        21 => (EINVAL, "vm_assist type 0 is not valid for HVM guests"),
        24 => (EFAULT, "VCPUOP_initialise reads its context at NULL"),
        // The compat handler translates 0 ops and returns; the native one
        // looks up foreign domain 0, which is this domain (ESRCH) for Dom0.
        26 if !s.is64() => (OK, "compat mmuext_op of 0 ops"),
        26 if s.domid == 0 => (ESRCH, "mmuext_op names itself as foreign domain"),
        26 => return None,
        27 => (ENOSYS, "xsm_op without FLASK"),
        29 => (OK, "SCHEDOP_yield"),
        32 | 34 | 35 | 36 | 49 => (EFAULT, "it reads its struct at NULL"),
        33 => (ENOSYS, "physdev_op 0 is not an HVM sub-op"),
        40 => (EOPNOTSUPP, "no vPMU for guests with an emulated LAPIC"),
        41 => (EPERM, "dm_op on domain 0 is not allowed to this caller"),
        42 if s.privileged => (
            Want::Is(XEN_HYPFS_VERSION),
            "XEN_HYPFS_OP_get_version (CONFIG_HYPFS, on by default)",
        ),
        42 => (EPERM, "hypfs_op is privileged"),
        _ => (ENOSYS, "not an HVM hypercall"),
    };
    Some(want)
}

pub fn run(s: &mut Suite) {
    for (nr, name) in (0u64..).zip(HYPERCALL_NAMES) {
        let Some((want, why)) = with_zero_args(s, nr) else {
            continue;
        };
        s.check(
            format_args!("hypercall {nr} ({name}) with zero arguments [{why}]"),
            nr,
            [0; 5],
            want,
        );
    }
    // The page has 128 stubs; numbers up to 127 reach the hypervisor's
    // dispatcher through them.
    for nr in [64, 65, 100, 127] {
        s.check(
            format_args!("hypercall {nr} (past Xen's table)"),
            nr,
            [0; 5],
            ENOSYS,
        );
    }
    if !s.is64() {
        return;
    }
    // Direct VMCALL/VMMCALL: Xen reads the full rax of a 64-bit caller.
    let direct = |nr: u64, args: [u64; 5]| {
        // SAFETY: numbers Xen does not implement, or xen_version with no buffer; no pointer is passed.
        let ret = unsafe { hypercall::hypercall_direct(nr, args) };
        ret.cast_signed()
    };
    let got = direct(HYPERVISOR_XEN_VERSION, [0; 5]);
    s.tap.check(
        format_args!(
            "xen_version(XENVER_version) made with VMCALL/VMMCALL outside the hypercall page"
        ),
        got,
        Want::Is(XEN_VERSION),
    );
    let got = direct(HYPERVISOR_XEN_VERSION, [7, 0, 0, 0, 0]);
    s.tap.check(
        format_args!("xen_version(XENVER_pagesize) made outside the hypercall page"),
        got,
        Want::Is(XEN_PAGE_SIZE.cast_signed()),
    );
    for (nr, what) in [
        (128, "hypercall 128"),
        (255, "hypercall 255"),
        (
            0x8000_0011,
            "hypercall 0x80000011 (bit 31: Viridian, not enabled)",
        ),
        (
            0x1_0000_0011,
            "hypercall 0x100000011 (xen_version with bit 32 set: rax is 64 bits)",
        ),
        (
            0x8000_0000_0000_001d,
            "hypercall 0x800000000000001d (sched_op with bit 63 set)",
        ),
        (u64::MAX, "hypercall 0xffffffffffffffff"),
    ] {
        let got = direct(nr, [0; 5]);
        s.tap.check(format_args!("{what}"), got, ENOSYS);
    }
}
