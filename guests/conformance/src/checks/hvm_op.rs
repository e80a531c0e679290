//! `HYPERVISOR_hvm_op(unsigned long op, void *arg)` (xen/arch/x86/hvm/hvm.c).
//! Its structs have the same layout for 32- and 64-bit callers.
//!
//! HVM params: an index >= HVM_NR_PARAMS is -EINVAL (checked before the
//! domain lookup), no such domain -ESRCH, another domain than a DomU's own
//! -EPERM (XSM_TARGET). On its own domain a guest may read CALLBACK_IRQ,
//! VM86_TSS(_SIZED), ACPI_IOPORTS_LOCATION, VM_GENERATION_ID_ADDR,
//! STORE_PFN/EVTCHN, CONSOLE_PFN/EVTCHN, ALTP2M and X87_FIP_WIDTH, and set
//! the same minus the PFNs and ALTP2M; the deprecated ones are -EINVAL, all
//! others -EPERM. Ops that moved to dm_op, or never existed, are -ENOSYS.

use abi::hvm::hvm_op::*;
use abi::hvm::params::*;
use abi::xen::{DOMID_SELF, DomId, HYPERVISOR_HVM_OP as NR};

use super::*;
use crate::mem::{ARG, SCRATCH};
use crate::suite::{Suite, args};
use crate::tap::Want;

const READABLE: &[u32] = &[
    HVM_PARAM_CALLBACK_IRQ,
    HVM_PARAM_VM86_TSS,
    HVM_PARAM_VM86_TSS_SIZED,
    HVM_PARAM_ACPI_IOPORTS_LOCATION,
    HVM_PARAM_VM_GENERATION_ID_ADDR,
    HVM_PARAM_STORE_PFN,
    HVM_PARAM_STORE_EVTCHN,
    HVM_PARAM_CONSOLE_PFN,
    HVM_PARAM_CONSOLE_EVTCHN,
    HVM_PARAM_ALTP2M,
    HVM_PARAM_X87_FIP_WIDTH,
];

const WRITABLE: &[u32] = &[
    HVM_PARAM_CALLBACK_IRQ,
    HVM_PARAM_VM86_TSS,
    HVM_PARAM_VM86_TSS_SIZED,
    HVM_PARAM_ACPI_IOPORTS_LOCATION,
    HVM_PARAM_VM_GENERATION_ID_ADDR,
    HVM_PARAM_STORE_EVTCHN,
    HVM_PARAM_CONSOLE_EVTCHN,
    HVM_PARAM_X87_FIP_WIDTH,
];

const DEPRECATED: &[u32] = &[
    HVM_PARAM_PAE_ENABLED,
    HVM_PARAM_DM_DOMAIN,
    HVM_PARAM_MEMORY_EVENT_CR0,
    HVM_PARAM_MEMORY_EVENT_CR3,
    HVM_PARAM_MEMORY_EVENT_CR4,
    HVM_PARAM_MEMORY_EVENT_INT3,
    HVM_PARAM_NESTEDHVM,
    HVM_PARAM_MEMORY_EVENT_SINGLE_STEP,
    HVM_PARAM_BUFIOREQ_EVTCHN,
    HVM_PARAM_MEMORY_EVENT_MSR,
];

/// Writable params set here to the value read back (setting the others to
/// anything could change this domain, or crash it: VM86_TSS).
const SET_BACK: &[u32] = &[
    HVM_PARAM_CALLBACK_IRQ,
    HVM_PARAM_VM_GENERATION_ID_ADDR,
    HVM_PARAM_STORE_EVTCHN,
    HVM_PARAM_CONSOLE_EVTCHN,
    HVM_PARAM_X87_FIP_WIDTH,
];

fn param(domid: u16, index: u32, value: u64) -> XenHvmParam {
    XenHvmParam {
        domid: DomId(domid),
        pad: 0,
        index,
        value,
    }
}

/// Xen's answer to a guest getting (or setting) param `index` of its own
/// domain.
fn own_param_want(index: u32, set: bool) -> Want {
    if index >= HVM_NR_PARAMS || DEPRECATED.contains(&index) {
        EINVAL
    } else if (if set { WRITABLE } else { READABLE }).contains(&index) {
        OK
    } else {
        EPERM
    }
}

pub fn run(s: &mut Suite) {
    params(s);
    other_ops(s);
}

fn params(s: &mut Suite) {
    let mut values = [0u64; HVM_NR_PARAMS as usize];
    for index in 0..HVM_NR_PARAMS + 3 {
        let arg = SCRATCH.put(ARG, &param(DOMID_SELF.0, index, 0));
        let want = own_param_want(index, false);
        let got = s.check(
            format_args!("hvm_op(HVMOP_get_param, {{DOMID_SELF, index {index}}})"),
            NR,
            args([HVMOP_GET_PARAM, arg]),
            want,
        );
        if got == 0 && index < HVM_NR_PARAMS {
            values[index as usize] = SCRATCH.get::<XenHvmParam>(ARG).value;
        }
    }
    for index in [0x100, 0x7fff_ffff, u32::MAX] {
        let arg = SCRATCH.put(ARG, &param(DOMID_SELF.0, index, 0));
        s.check(
            format_args!("hvm_op(HVMOP_get_param, {{DOMID_SELF, index {index:#x}}})"),
            NR,
            args([HVMOP_GET_PARAM, arg]),
            EINVAL,
        );
    }
    for index in 0..HVM_NR_PARAMS + 3 {
        let value = values.get(index as usize).copied().unwrap_or(0);
        let want = own_param_want(index, true);
        // Only set what is harmless to set back; the rest must be refused
        // before anything changes.
        if want.matches(0) && !SET_BACK.contains(&index) {
            continue;
        }
        let arg = SCRATCH.put(ARG, &param(DOMID_SELF.0, index, value));
        s.check(
            format_args!(
                "hvm_op(HVMOP_set_param, {{DOMID_SELF, index {index}, value {value:#x}}})"
            ),
            NR,
            args([HVMOP_SET_PARAM, arg]),
            want,
        );
    }
    let arg = SCRATCH.put(ARG, &param(DOMID_SELF.0, HVM_PARAM_X87_FIP_WIDTH, 3));
    s.check(
        format_args!("hvm_op(HVMOP_set_param, {{X87_FIP_WIDTH = 3}}) [0, 4 or 8]"),
        NR,
        args([HVMOP_SET_PARAM, arg]),
        EINVAL,
    );

    if s.domid != DOMID_SELF.0 {
        let arg = SCRATCH.put(ARG, &param(s.domid, HVM_PARAM_CALLBACK_IRQ, 0));
        s.check(
            format_args!("hvm_op(HVMOP_get_param, {{own domid {}, CALLBACK_IRQ}})", {
                s.domid
            }),
            NR,
            args([HVMOP_GET_PARAM, arg]),
            OK,
        );
        let arg = SCRATCH.put(ARG, &param(s.domid, HVM_PARAM_IOREQ_PFN, 0));
        s.check(
            format_args!(
                "hvm_op(HVMOP_get_param, {{own domid {}, IOREQ_PFN}}) [not for the guest itself]",
                { s.domid }
            ),
            NR,
            args([HVMOP_GET_PARAM, arg]),
            EPERM,
        );
    }
    for (op, name) in [
        (HVMOP_GET_PARAM, "HVMOP_get_param"),
        (HVMOP_SET_PARAM, "HVMOP_set_param"),
    ] {
        for bad in s.bad_ptrs(16, false) {
            s.check(
                format_args!("hvm_op({name}, {bad})"),
                NR,
                args([op, bad.addr]),
                EFAULT,
            );
        }
        for (domid, what) in Suite::NO_DOMAINS {
            let arg = SCRATCH.put(ARG, &param(domid, HVM_PARAM_CALLBACK_IRQ, 0));
            s.check(
                format_args!("hvm_op({name}, {{{what}, CALLBACK_IRQ}})"),
                NR,
                args([op, arg]),
                ESRCH,
            );
        }
        let arg = SCRATCH.put(ARG, &param(Suite::NO_DOMAIN, HVM_NR_PARAMS, 0));
        s.check(
            format_args!(
                "hvm_op({name}, {{an unused domid, index HVM_NR_PARAMS}}) [index checked first]"
            ),
            NR,
            args([op, arg]),
            EINVAL,
        );
        if !s.privileged && s.domid != 0 {
            let arg = SCRATCH.put(ARG, &param(0, HVM_PARAM_CALLBACK_IRQ, 0));
            s.check(
                format_args!("hvm_op({name}, {{domain 0, CALLBACK_IRQ}}) from a DomU"),
                NR,
                args([op, arg]),
                EPERM,
            );
        }
    }
}

fn other_ops(s: &mut Suite) {
    // HVMOP_set_evtchn_upcall_vector: vectors below 0x10 are refused.
    for bad in s.bad_ptrs(8, false) {
        s.check(
            format_args!("hvm_op(HVMOP_set_evtchn_upcall_vector, {bad})"),
            NR,
            args([HVMOP_SET_EVTCHN_UPCALL_VECTOR, bad.addr]),
            EFAULT,
        );
    }
    let cases: [(u32, u8, Want, &str); 4] = [
        (0, 0x0f, EINVAL, "vector 0x0f [below 0x10]"),
        (0, 0x00, EINVAL, "vector 0 [below 0x10]"),
        (0xffff, 0xf3, ENOENT, "vCPU 0xffff"),
        (0, 0xf3, OK, "vCPU 0, vector 0xf3"),
    ];
    for (vcpu, vector, want, what) in cases {
        let arg = SCRATCH.put(
            ARG,
            &XenHvmEvtchnUpcallVector {
                vcpu,
                vector,
                _pad: [0; 3],
            },
        );
        s.check(
            format_args!("hvm_op(HVMOP_set_evtchn_upcall_vector, {{{what}}})"),
            NR,
            args([HVMOP_SET_EVTCHN_UPCALL_VECTOR, arg]),
            want,
        );
    }

    s.check(
        format_args!("hvm_op(HVMOP_flush_tlbs, NULL)"),
        NR,
        args([HVMOP_FLUSH_TLBS]),
        OK,
    );
    s.check(
        format_args!("hvm_op(HVMOP_flush_tlbs, non-NULL)"),
        NR,
        args([HVMOP_FLUSH_TLBS, SCRATCH.addr(ARG)]),
        EINVAL,
    );

    let got = s.check(
        format_args!("hvm_op(HVMOP_get_time, buf)"),
        NR,
        args([HVMOP_GET_TIME, SCRATCH.addr(ARG)]),
        OK,
    );
    if got == 0 {
        let now = SCRATCH.get::<XenHvmGetTime>(ARG).now;
        s.tap.assert(
            format_args!("HVMOP_get_time returns a system time > 0"),
            now > 0,
            format_args!("{now}"),
            format_args!("> 0"),
        );
    }
    for bad in s.bad_ptrs(8, true) {
        s.check(
            format_args!("hvm_op(HVMOP_get_time, {bad})"),
            NR,
            args([HVMOP_GET_TIME, bad.addr]),
            EFAULT,
        );
    }

    for bad in s.bad_ptrs(32, false) {
        s.check(
            format_args!("hvm_op(HVMOP_xentrace, {bad})"),
            NR,
            args([HVMOP_XENTRACE, bad.addr]),
            EFAULT,
        );
    }
    let trace = |event: u16, extra_bytes: u16| XenHvmXentrace {
        event,
        extra_bytes,
        extra: [0; TRACE_EXTRA_MAX * 4],
    };
    for (t, want, what) in [
        (trace(1, 29), EINVAL, "29 extra bytes [at most 28]"),
        (trace(0x1000, 0), EINVAL, "event 0x1000 [sub-class bits]"),
        (trace(1, 4), OK, "event 1, 4 extra bytes"),
    ] {
        let arg = SCRATCH.put(ARG, &t);
        s.check(
            format_args!("hvm_op(HVMOP_xentrace, {{{what}}})"),
            NR,
            args([HVMOP_XENTRACE, arg]),
            want,
        );
    }

    // HVMOP_pagetable_dying: only for shadow-paged guests.
    for bad in s.bad_ptrs(16, false) {
        s.check(
            format_args!("hvm_op(HVMOP_pagetable_dying, {bad})"),
            NR,
            args([HVMOP_PAGETABLE_DYING, bad.addr]),
            EFAULT,
        );
    }
    let dying = |domid: u16| XenHvmPagetableDying {
        domid: DomId(domid),
        pad: [0; 3],
        gpa: 0x1000,
    };
    let mut cases: [(u16, Want, &str); 3] = [
        (Suite::NO_DOMAIN, ESRCH, "an unused domid"),
        (
            DOMID_SELF.0,
            EINVAL,
            "DOMID_SELF [hardware-assisted paging, not shadow]",
        ),
        (0, EOPNOTSUPP, "domain 0 [not the caller]"),
    ];
    if s.domid == 0 {
        cases[2] = (0, EINVAL, "own domid 0 [hardware-assisted paging]");
    }
    for (domid, want, what) in cases {
        let arg = SCRATCH.put(ARG, &dying(domid));
        s.check(
            format_args!("hvm_op(HVMOP_pagetable_dying, {{{what}}})"),
            NR,
            args([HVMOP_PAGETABLE_DYING, arg]),
            want,
        );
    }

    // HVMOP_get_mem_type.
    for bad in s.bad_ptrs(16, false) {
        s.check(
            format_args!("hvm_op(HVMOP_get_mem_type, {bad})"),
            NR,
            args([HVMOP_GET_MEM_TYPE, bad.addr]),
            EFAULT,
        );
    }
    let mem_type = |domid: u16, pfn: u64| XenHvmGetMemType {
        domid: DomId(domid),
        mem_type: 0xffff,
        pad: [0; 2],
        pfn,
    };
    let own_pfn = SCRATCH.addr(0) >> 12;
    let hole_pfn = s.ram_end_pfn + (1 << 20);
    for (pfn, expected, what) in [
        (own_pfn, HVMMEM_RAM_RW, "HVMMEM_ram_rw for its own RAM"),
        (
            hole_pfn,
            HVMMEM_MMIO_DM,
            "HVMMEM_mmio_dm for a frame with nothing behind it",
        ),
    ] {
        let arg = SCRATCH.put(ARG, &mem_type(DOMID_SELF.0, pfn));
        if s.check(
            format_args!("hvm_op(HVMOP_get_mem_type, {{DOMID_SELF, pfn {pfn:#x}}})"),
            NR,
            args([HVMOP_GET_MEM_TYPE, arg]),
            OK,
        ) == 0
        {
            let t = SCRATCH.get::<XenHvmGetMemType>(ARG).mem_type;
            s.tap.assert(
                format_args!("HVMOP_get_mem_type gives {what}"),
                t == expected,
                format_args!("{t}"),
                format_args!("{expected}"),
            );
        }
    }
    let arg = SCRATCH.put(ARG, &mem_type(Suite::NO_DOMAIN, own_pfn));
    s.check(
        format_args!("hvm_op(HVMOP_get_mem_type, {{an unused domid}})"),
        NR,
        args([HVMOP_GET_MEM_TYPE, arg]),
        ESRCH,
    );
    if !s.privileged && s.domid != 0 {
        let arg = SCRATCH.put(ARG, &mem_type(0, own_pfn));
        s.check(
            format_args!("hvm_op(HVMOP_get_mem_type, {{domain 0}}) from a DomU"),
            NR,
            args([HVMOP_GET_MEM_TYPE, arg]),
            EPERM,
        );
    }

    s.check(
        format_args!("hvm_op(HVMOP_guest_request_vm_event, NULL) [no monitor: nothing to do]"),
        NR,
        args([HVMOP_GUEST_REQUEST_VM_EVENT]),
        OK,
    );
    s.check(
        format_args!("hvm_op(HVMOP_guest_request_vm_event, non-NULL)"),
        NR,
        args([HVMOP_GUEST_REQUEST_VM_EVENT, SCRATCH.addr(ARG)]),
        EINVAL,
    );
    for (arg, what) in [(0, "NULL"), (SCRATCH.addr(ARG), "buf")] {
        s.check(
            format_args!(
                "hvm_op(HVMOP_altp2m, {what}) [altp2m is off unless booted with altp2m=1]"
            ),
            NR,
            args([HVMOP_ALTP2M, arg]),
            EOPNOTSUPP,
        );
    }

    // Moved to dm_op in 4.9 and later, removed, or never assigned.
    for op in [
        2u64, 3, 4, 6, 7, 8, 12, 13, 14, 16, 17, 18, 19, 20, 21, 22, 26, 27, 32, 0xff,
    ] {
        s.check(
            format_args!("hvm_op({op}, buf) [no such op]"),
            NR,
            args([op, SCRATCH.addr(ARG)]),
            ENOSYS,
        );
    }
    if s.is64() {
        s.check(
            format_args!("hvm_op(0x100000001, buf) [op is an unsigned long: not HVMOP_get_param]"),
            NR,
            args([(1 << 32) | HVMOP_GET_PARAM, SCRATCH.addr(ARG)]),
            ENOSYS,
        );
    }
}
