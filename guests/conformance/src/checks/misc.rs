//! The other HVM hypercalls: vm_assist, set_timer_op, multicall, mmuext_op,
//! xsm_op, xenpmu_op, dm_op, hypfs_op, paging_domctl_cont
//! (xen/common/domain.c, multicall.c, dm.c, hypfs.c; xen/arch/x86/mm.c,
//! cpu/vpmu.c, mm/paging.c).

use abi::version::XENVER_VERSION;
use abi::xen::{
    DOMID_SELF, HYPERVISOR_DM_OP, HYPERVISOR_HYPFS_OP, HYPERVISOR_MMUEXT_OP, HYPERVISOR_MULTICALL,
    HYPERVISOR_SET_TIMER_OP, HYPERVISOR_SET_TRAP_TABLE, HYPERVISOR_VM_ASSIST,
    HYPERVISOR_XEN_VERSION, HYPERVISOR_XENPMU_OP, HYPERVISOR_XSM_OP, VMASST_CMD_DISABLE,
    VMASST_CMD_ENABLE, VMASST_TYPE_RUNSTATE_UPDATE_FLAG,
};

use super::domctl::domctl_op;
use super::numbers::XEN_VERSION;
use super::*;
use crate::mem::{ARG, BUF, SCRATCH};
use crate::suite::{Suite, args};
use crate::tap::Want;
use crate::xen::*;
use abi::domctl::{XEN_DOMCTL_GETDOMAININFO, XEN_DOMCTL_SHADOW_OP, XenDomctl};

pub fn run(s: &mut Suite) {
    vm_assist(s);
    s.check(
        format_args!("set_timer_op(0) [stops the single-shot timer]"),
        HYPERVISOR_SET_TIMER_OP,
        args([0]),
        OK,
    );
    multicall(s);
    mmuext_op(s);
    for (arg, what) in [(0, "NULL"), (SCRATCH.addr(ARG), "buf")] {
        s.check(
            format_args!("xsm_op({what}) [dummy XSM policy: no FLASK]"),
            HYPERVISOR_XSM_OP,
            args([arg]),
            ENOSYS,
        );
    }
    for op in [XENPMU_MODE_GET, 1, 2, 3, 4, 5, 6, 0xff] {
        s.check(
            format_args!("xenpmu_op({op}, buf) [no vPMU for a guest with an emulated LAPIC]"),
            HYPERVISOR_XENPMU_OP,
            args([op, SCRATCH.addr(ARG)]),
            EOPNOTSUPP,
        );
    }
    dm_op(s);
    hypfs_op(s);
    paging_domctl_cont(s);
}

fn vm_assist(s: &mut Suite) {
    const NR: u64 = HYPERVISOR_VM_ASSIST;
    let flag = u64::from(VMASST_TYPE_RUNSTATE_UPDATE_FLAG);
    for (cmd, name) in [
        (VMASST_CMD_ENABLE, "VMASST_CMD_enable"),
        (VMASST_CMD_DISABLE, "VMASST_CMD_disable"),
    ] {
        let cmd = u64::from(cmd);
        s.check(
            format_args!("vm_assist({name}, VMASST_TYPE_runstate_update_flag) [the one HVM type]"),
            NR,
            args([cmd, flag]),
            OK,
        );
        for ty in (0..=4).chain([6, 31, 32, 63, 64, 0xffff_ffff]) {
            s.check(
                format_args!("vm_assist({name}, type {ty}) [not valid for HVM guests]"),
                NR,
                args([cmd, ty]),
                EINVAL,
            );
        }
    }
    s.check(
        format_args!("vm_assist(2, VMASST_TYPE_runstate_update_flag) [no such command]"),
        NR,
        args([2, flag]),
        ENOSYS,
    );
}

fn multicall(s: &mut Suite) {
    const NR: u64 = HYPERVISOR_MULTICALL;
    s.check(format_args!("multicall(NULL, 0)"), NR, args([0, 0]), OK);
    for bad in s.bad_ptrs(if s.is64() { 64 } else { 32 }, false) {
        s.check(
            format_args!("multicall({bad}, 1)"),
            NR,
            args([bad.addr, 1]),
            EFAULT,
        );
    }
    if !s.is64() {
        return;
    }
    let entry = |op: u64, args: [u64; 6]| MulticallEntry {
        op,
        result: 0x5555,
        args,
    };
    let calls = [
        entry(HYPERVISOR_XEN_VERSION, [XENVER_VERSION, 0, 0, 0, 0, 0]),
        entry(HYPERVISOR_SET_TRAP_TABLE, [0; 6]),
        entry(NR, [0; 6]),
        entry(1 << 40, [0; 6]),
    ];
    for (i, c) in calls.iter().enumerate() {
        SCRATCH.put(BUF + i * 64, c);
    }
    let got = s.check(
        format_args!("multicall([xen_version, set_trap_table, multicall, hypercall 2^40], 4)"),
        NR,
        args([SCRATCH.addr(BUF), calls.len() as u64]),
        OK,
    );
    if got == 0 {
        let wants: [(Want, &str); 4] = [
            (
                Want::Is(XEN_VERSION),
                "xen_version(XENVER_version) gives 4.17",
            ),
            (ENOSYS, "set_trap_table is not an HVM hypercall"),
            (EINVAL, "a nested multicall is refused"),
            (ENOSYS, "hypercall 2^40 does not exist"),
        ];
        for (i, (want, what)) in wants.into_iter().enumerate() {
            let result = SCRATCH
                .get::<MulticallEntry>(BUF + i * 64)
                .result
                .cast_signed();
            s.tap.check(
                format_args!("multicall entry {i}: {what}: its result"),
                result,
                want,
            );
        }
    }
}

fn mmuext_op(s: &mut Suite) {
    const NR: u64 = HYPERVISOR_MMUEXT_OP;
    // One op, MMUEXT_pin_L1_table of frame 0: the page owner is looked up
    // before any op runs.
    let op = SCRATCH.put(ARG, &MMUEXT_PIN_L1_TABLE);
    let cases: [(u16, &str, Want); 2] = [
        (
            DOMID_SELF.0,
            "DOMID_SELF [page owner is not a PV domain]",
            EINVAL,
        ),
        (Suite::NO_DOMAIN, "an unused domid", ESRCH),
    ];
    for (dom, what, want) in cases {
        s.check(
            format_args!("mmuext_op(buf, 1, NULL, {what})"),
            NR,
            args([op, 1, 0, u64::from(dom)]),
            want,
        );
    }
    if s.domid != DOMID_SELF.0 {
        s.check(
            format_args!(
                "mmuext_op(buf, 1, NULL, own domid {}) [cannot name itself as foreign]",
                { s.domid }
            ),
            NR,
            args([op, 1, 0, u64::from(s.domid)]),
            ESRCH,
        );
    }
    if s.is64() {
        s.check(
            format_args!("mmuext_op(NULL, 0, NULL, DOMID_SELF) [page owner is not a PV domain]"),
            NR,
            args([0, 0, 0, u64::from(DOMID_SELF.0)]),
            EINVAL,
        );
    } else {
        s.check(
            format_args!(
                "mmuext_op(NULL, 0, NULL, DOMID_SELF) [compat: 0 ops translated, nothing done]"
            ),
            NR,
            args([0, 0, 0, u64::from(DOMID_SELF.0)]),
            OK,
        );
    }
}

fn dm_op(s: &mut Suite) {
    const NR: u64 = HYPERVISOR_DM_OP;
    for nr_bufs in [DMOP_MAX_BUFS + 1, 0xffff_ffff] {
        s.check(
            format_args!("dm_op(DOMID_SELF, {nr_bufs:#x}, buf) [at most 2 buffers]"),
            NR,
            args([u64::from(DOMID_SELF.0), nr_bufs, SCRATCH.addr(ARG)]),
            E2BIG,
        );
    }
    for bad in s.bad_ptrs(if s.is64() { 16 } else { 8 }, false) {
        s.check(
            format_args!("dm_op(DOMID_SELF, 1, {bad})"),
            NR,
            args([u64::from(DOMID_SELF.0), 1, bad.addr]),
            EFAULT,
        );
    }
    s.check(
        format_args!("dm_op(DOMID_SELF, 0, NULL) [needs a remote domain id]"),
        NR,
        args([u64::from(DOMID_SELF.0), 0, 0]),
        ESRCH,
    );
    s.check(
        format_args!("dm_op(an unused domid, 0, NULL)"),
        NR,
        args([u64::from(Suite::NO_DOMAIN), 0, 0]),
        ESRCH,
    );
    if s.domid != DOMID_SELF.0 {
        s.check(
            format_args!("dm_op(own domid {}, 0, NULL) [not a remote domain]", {
                s.domid
            }),
            NR,
            args([u64::from(s.domid), 0, 0]),
            EPERM,
        );
    }
}

fn hypfs_op(s: &mut Suite) {
    const NR: u64 = HYPERVISOR_HYPFS_OP;
    if !s.privileged {
        for cmd in [XEN_HYPFS_OP_GET_VERSION, XEN_HYPFS_OP_READ, 0xff] {
            s.check(
                format_args!("hypfs_op({cmd}, ...) from a DomU"),
                NR,
                args([cmd]),
                EPERM,
            );
        }
        return;
    }
    // CONFIG_HYPFS is on by default in Xen 4.17.
    s.check(
        format_args!("hypfs_op(XEN_HYPFS_OP_get_version, NULL, 0, NULL, 0)"),
        NR,
        args([XEN_HYPFS_OP_GET_VERSION]),
        Want::Is(XEN_HYPFS_VERSION),
    );
    s.check(
        format_args!(
            "hypfs_op(XEN_HYPFS_OP_get_version, NULL, 1, NULL, 0) [all other arguments must be 0]"
        ),
        NR,
        args([XEN_HYPFS_OP_GET_VERSION, 0, 1]),
        EINVAL,
    );
    let path = |p: &[u8]| SCRATCH.put_bytes(BUF, p);
    let read = XEN_HYPFS_OP_READ;
    s.check(
        format_args!("hypfs_op(XEN_HYPFS_OP_read, NULL, 2, ...)"),
        NR,
        args([read, 0, 2]),
        EFAULT,
    );
    let p = path(b"/no-such-entry\0");
    s.check(
        format_args!("hypfs_op(XEN_HYPFS_OP_read, \"/no-such-entry\", ...)"),
        NR,
        args([read, p, 15, SCRATCH.addr(ARG), 64]),
        ENOENT,
    );
    let p = path(b"no-slash\0");
    s.check(
        format_args!("hypfs_op(XEN_HYPFS_OP_read, \"no-slash\", ...) [paths start with /]"),
        NR,
        args([read, p, 9, SCRATCH.addr(ARG), 64]),
        EINVAL,
    );
    let p = path(b"/ab");
    s.check(
        format_args!("hypfs_op(XEN_HYPFS_OP_read, \"/ab\" without NUL, 3, ...)"),
        NR,
        args([read, p, 3, SCRATCH.addr(ARG), 64]),
        EINVAL,
    );
    s.check(
        format_args!(
            "hypfs_op(XEN_HYPFS_OP_read, path, 1025, ...) [XEN_HYPFS_MAX_PATHLEN is 1024]"
        ),
        NR,
        args([read, p, 1025, SCRATCH.addr(ARG), 64]),
        EINVAL,
    );
    let p = path(b"/\0");
    s.check(
        format_args!("hypfs_op(99, \"/\", 2, ...) [no such command]"),
        NR,
        args([99, p, 2, SCRATCH.addr(ARG), 64]),
        EOPNOTSUPP,
    );
}

fn paging_domctl_cont(s: &mut Suite) {
    const NR: u64 = HYPERVISOR_PAGING_DOMCTL_CONT;
    for bad in s.bad_ptrs(144, false) {
        s.check(
            format_args!("paging_domctl_cont({bad})"),
            NR,
            args([bad.addr]),
            EFAULT,
        );
    }
    let arg = SCRATCH.put(ARG, &domctl_op(XEN_DOMCTL_GETDOMAININFO, 0));
    s.check(
        format_args!("paging_domctl_cont({{getdomaininfo}}) [only shadow_op continues]"),
        NR,
        args([arg]),
        EOPNOTSUPP,
    );
    let d = XenDomctl {
        interface_version: 0x14,
        ..domctl_op(XEN_DOMCTL_SHADOW_OP, 0)
    };
    let arg = SCRATCH.put(ARG, &d);
    s.check(
        format_args!("paging_domctl_cont({{shadow_op, interface version 0x14}})"),
        NR,
        args([arg]),
        EOPNOTSUPP,
    );
    s.check(
        format_args!("mca (arch_0) with zero arguments [PV only]"),
        HYPERVISOR_MCA,
        [0; 5],
        ENOSYS,
    );
}
