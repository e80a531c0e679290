//! `HYPERVISOR_event_channel_op(int cmd, void *arg)`
//! (xen/common/event_channel.c, event_fifo.c). The structs have the same
//! layout for 32- and 64-bit callers.
//!
//! Every command copies its struct in first (-EFAULT). A port outside the
//! allocated range is -EINVAL; port 0 is reserved (status "closed", cannot
//! be closed or sent to, can be unmasked); a vCPU that does not exist is
//! -ENOENT; an unknown domain -ESRCH. The 2-level ABI (no FIFO control
//! block) has no priorities (-ENOSYS) and no array to expand
//! (-EOPNOTSUPP).

use abi::event_channel::{
    EVTCHNOP_ALLOC_UNBOUND,
    EVTCHNOP_BIND_INTERDOMAIN,
    EVTCHNOP_BIND_IPI,
    EVTCHNOP_BIND_PIRQ,
    EVTCHNOP_BIND_VCPU,
    EVTCHNOP_BIND_VIRQ,
    EVTCHNOP_CLOSE,
    EVTCHNOP_EXPAND_ARRAY,
    EVTCHNOP_INIT_CONTROL,
    EVTCHNOP_RESET,
    EVTCHNOP_RESET_CONT,
    EVTCHNOP_SEND,
    EVTCHNOP_SET_PRIORITY,
    EVTCHNOP_STATUS,
    EVTCHNOP_UNMASK,
};
use abi::xen::{DOMID_SELF, HYPERVISOR_EVENT_CHANNEL_OP as NR, VIRQ_CONSOLE, VIRQ_TIMER};

use super::*;
use crate::mem::{ARG, SCRATCH};
use crate::suite::{Suite, args};
use crate::tap::Want;
use crate::xen::*;

const WITH_ARG: &[(u64, &str, u64)] = &[
    (EVTCHNOP_BIND_INTERDOMAIN, "EVTCHNOP_bind_interdomain", 12),
    (EVTCHNOP_BIND_VIRQ, "EVTCHNOP_bind_virq", 12),
    (EVTCHNOP_BIND_PIRQ, "EVTCHNOP_bind_pirq", 12),
    (EVTCHNOP_CLOSE, "EVTCHNOP_close", 4),
    (EVTCHNOP_SEND, "EVTCHNOP_send", 4),
    (EVTCHNOP_STATUS, "EVTCHNOP_status", 24),
    (EVTCHNOP_ALLOC_UNBOUND, "EVTCHNOP_alloc_unbound", 8),
    (EVTCHNOP_BIND_IPI, "EVTCHNOP_bind_ipi", 8),
    (EVTCHNOP_BIND_VCPU, "EVTCHNOP_bind_vcpu", 8),
    (EVTCHNOP_UNMASK, "EVTCHNOP_unmask", 4),
    (EVTCHNOP_RESET, "EVTCHNOP_reset", 2),
    (EVTCHNOP_INIT_CONTROL, "EVTCHNOP_init_control", 24),
    (EVTCHNOP_EXPAND_ARRAY, "EVTCHNOP_expand_array", 8),
    (EVTCHNOP_SET_PRIORITY, "EVTCHNOP_set_priority", 8),
    (EVTCHNOP_RESET_CONT, "EVTCHNOP_reset_cont", 2),
];

/// A port no domain has allocated.
const BAD_PORT: u32 = 0xffff_ffff;

fn op<T: zerocopy::IntoBytes + zerocopy::Immutable>(
    s: &mut Suite,
    cmd: u64,
    name: &str,
    what: &str,
    arg: &T,
    want: Want,
) -> i64 {
    let p = SCRATCH.put(ARG, arg);
    s.check(
        format_args!("event_channel_op({name}, {{{what}}})"),
        NR,
        args([cmd, p]),
        want,
    )
}

fn status(s: &mut Suite, port: u32) -> Option<EvtchnStatus> {
    let p = SCRATCH.put(
        ARG,
        &EvtchnStatus {
            dom: DOMID_SELF.0,
            port,
            ..Default::default()
        },
    );
    (s.call(NR, args([EVTCHNOP_STATUS, p])) == 0).then(|| SCRATCH.get::<EvtchnStatus>(ARG))
}

pub fn run(s: &mut Suite) {
    for &(cmd, name, len) in WITH_ARG {
        for bad in s.bad_ptrs(len, false) {
            s.check(
                format_args!("event_channel_op({name}, {bad})"),
                NR,
                args([cmd, bad.addr]),
                EFAULT,
            );
        }
    }
    for cmd in (15..=20).chain([0x7fff_ffff, 0xffff_ffff]) {
        s.check(
            format_args!("event_channel_op({cmd:#x}, buf) [no such command]"),
            NR,
            args([cmd, SCRATCH.addr(ARG)]),
            ENOSYS,
        );
    }

    let st = |dom: u16, port: u32| EvtchnStatus {
        dom,
        port,
        ..Default::default()
    };
    if op(
        s,
        EVTCHNOP_STATUS,
        "EVTCHNOP_status",
        "DOMID_SELF, port 0",
        &st(DOMID_SELF.0, 0),
        OK,
    ) == 0
    {
        let r = SCRATCH.get::<EvtchnStatus>(ARG);
        s.tap.assert(
            format_args!("port 0 is reserved: EVTCHNSTAT_closed"),
            r.status == EVTCHNSTAT_CLOSED,
            format_args!("status {}", r.status),
            format_args!("status 0"),
        );
    }
    op(
        s,
        EVTCHNOP_STATUS,
        "EVTCHNOP_status",
        "DOMID_SELF, port 0xffffffff",
        &st(DOMID_SELF.0, BAD_PORT),
        EINVAL,
    );
    for (domid, what) in Suite::NO_DOMAINS {
        op(
            s,
            EVTCHNOP_STATUS,
            "EVTCHNOP_status",
            what,
            &st(domid, 0),
            ESRCH,
        );
    }
    if !s.privileged && s.domid != 0 {
        op(
            s,
            EVTCHNOP_STATUS,
            "EVTCHNOP_status",
            "domain 0, port 0 [from a DomU]",
            &st(0, 0),
            EPERM,
        );
    }

    let port = |port: u32| EvtchnPort { port };
    op(
        s,
        EVTCHNOP_CLOSE,
        "EVTCHNOP_close",
        "port 0 [reserved]",
        &port(0),
        EINVAL,
    );
    op(
        s,
        EVTCHNOP_CLOSE,
        "EVTCHNOP_close",
        "port 0xffffffff",
        &port(BAD_PORT),
        EINVAL,
    );
    op(
        s,
        EVTCHNOP_SEND,
        "EVTCHNOP_send",
        "port 0 [reserved]",
        &port(0),
        EINVAL,
    );
    op(
        s,
        EVTCHNOP_SEND,
        "EVTCHNOP_send",
        "port 0xffffffff",
        &port(BAD_PORT),
        EINVAL,
    );
    op(
        s,
        EVTCHNOP_UNMASK,
        "EVTCHNOP_unmask",
        "port 0",
        &port(0),
        OK,
    );
    op(
        s,
        EVTCHNOP_UNMASK,
        "EVTCHNOP_unmask",
        "port 0xffffffff",
        &port(BAD_PORT),
        EINVAL,
    );

    let virq = |virq: u32, vcpu: u32| EvtchnBindVirq {
        virq,
        vcpu,
        port: 0,
    };
    op(
        s,
        EVTCHNOP_BIND_VIRQ,
        "EVTCHNOP_bind_virq",
        "virq NR_VIRQS (24)",
        &virq(NR_VIRQS, 0),
        EINVAL,
    );
    op(
        s,
        EVTCHNOP_BIND_VIRQ,
        "EVTCHNOP_bind_virq",
        "virq 0xffffffff",
        &virq(u32::MAX, 0),
        EINVAL,
    );
    op(
        s,
        EVTCHNOP_BIND_VIRQ,
        "EVTCHNOP_bind_virq",
        "VIRQ_CONSOLE on vCPU 1 [global: vCPU 0 only]",
        &virq(VIRQ_CONSOLE, 1),
        EINVAL,
    );
    op(
        s,
        EVTCHNOP_BIND_VIRQ,
        "EVTCHNOP_bind_virq",
        "VIRQ_TIMER on vCPU 0xffff",
        &virq(VIRQ_TIMER, 0xffff),
        ENOENT,
    );
    op(
        s,
        EVTCHNOP_BIND_IPI,
        "EVTCHNOP_bind_ipi",
        "vCPU 0xffff",
        &EvtchnBindIpi {
            vcpu: 0xffff,
            port: 0,
        },
        ENOENT,
    );
    let bind_vcpu = |port: u32, vcpu: u32| EvtchnBindVcpu { port, vcpu };
    op(
        s,
        EVTCHNOP_BIND_VCPU,
        "EVTCHNOP_bind_vcpu",
        "port 0, vCPU 0xffff",
        &bind_vcpu(0, 0xffff),
        ENOENT,
    );
    op(
        s,
        EVTCHNOP_BIND_VCPU,
        "EVTCHNOP_bind_vcpu",
        "port 0xffffffff, vCPU 0",
        &bind_vcpu(BAD_PORT, 0),
        EINVAL,
    );
    op(
        s,
        EVTCHNOP_BIND_VCPU,
        "EVTCHNOP_bind_vcpu",
        "port 0 [reserved], vCPU 0",
        &bind_vcpu(0, 0),
        EINVAL,
    );

    let unbound = |dom: u16, remote_dom: u16| EvtchnAllocUnbound {
        dom,
        remote_dom,
        port: 0,
    };
    op(
        s,
        EVTCHNOP_ALLOC_UNBOUND,
        "EVTCHNOP_alloc_unbound",
        "an unused domid",
        &unbound(Suite::NO_DOMAIN, DOMID_SELF.0),
        ESRCH,
    );
    let inter = |remote_dom: u16, remote_port: u32| EvtchnBindInterdomain {
        remote_dom,
        _pad: 0,
        remote_port,
        local_port: 0,
    };
    op(
        s,
        EVTCHNOP_BIND_INTERDOMAIN,
        "EVTCHNOP_bind_interdomain",
        "an unused remote domid",
        &inter(Suite::NO_DOMAIN, 1),
        ESRCH,
    );
    op(
        s,
        EVTCHNOP_BIND_INTERDOMAIN,
        "EVTCHNOP_bind_interdomain",
        "DOMID_SELF, port 0xffffffff",
        &inter(DOMID_SELF.0, BAD_PORT),
        EINVAL,
    );
    op(
        s,
        EVTCHNOP_BIND_INTERDOMAIN,
        "EVTCHNOP_bind_interdomain",
        "DOMID_SELF, port 0 [not unbound]",
        &inter(DOMID_SELF.0, 0),
        EINVAL,
    );
    op(
        s,
        EVTCHNOP_RESET,
        "EVTCHNOP_reset",
        "an unused domid",
        &EvtchnReset {
            dom: Suite::NO_DOMAIN,
        },
        ESRCH,
    );
    if !s.privileged && s.domid != 0 {
        op(
            s,
            EVTCHNOP_RESET,
            "EVTCHNOP_reset",
            "domain 0 [from a DomU]",
            &EvtchnReset { dom: 0 },
            EPERM,
        );
    }

    let ctl = |offset: u32, vcpu: u32| EvtchnInitControl {
        control_gfn: 0,
        offset,
        vcpu,
        link_bits: 0,
        _pad: [0; 7],
    };
    op(
        s,
        EVTCHNOP_INIT_CONTROL,
        "EVTCHNOP_init_control",
        "vCPU 0xffff",
        &ctl(0, 0xffff),
        ENOENT,
    );
    op(
        s,
        EVTCHNOP_INIT_CONTROL,
        "EVTCHNOP_init_control",
        "offset 4033 [crosses the page]",
        &ctl(4033, 0),
        EINVAL,
    );
    op(
        s,
        EVTCHNOP_INIT_CONTROL,
        "EVTCHNOP_init_control",
        "offset 4 [not 8-byte aligned]",
        &ctl(4, 0),
        EINVAL,
    );
    let expand = SCRATCH.put(ARG, &0u64);
    s.check(
        format_args!("event_channel_op(EVTCHNOP_expand_array, {{gfn 0}}) [2-level ABI: no array]"),
        NR,
        args([EVTCHNOP_EXPAND_ARRAY, expand]),
        EOPNOTSUPP,
    );
    let prio = |port: u32| EvtchnSetPriority { port, priority: 1 };
    op(
        s,
        EVTCHNOP_SET_PRIORITY,
        "EVTCHNOP_set_priority",
        "port 0 [2-level ABI: no priorities]",
        &prio(0),
        ENOSYS,
    );
    op(
        s,
        EVTCHNOP_SET_PRIORITY,
        "EVTCHNOP_set_priority",
        "port 0xffffffff",
        &prio(BAD_PORT),
        EINVAL,
    );
}

/// Allocates, binds, sends on and closes channels of its own.
pub fn run_state(s: &mut Suite) {
    let own = if s.domid == DOMID_SELF.0 {
        None
    } else {
        Some(s.domid)
    };

    // An unbound port, then a loopback interdomain channel to it.
    let a = EvtchnAllocUnbound {
        dom: DOMID_SELF.0,
        remote_dom: DOMID_SELF.0,
        port: 0,
    };
    if op(
        s,
        EVTCHNOP_ALLOC_UNBOUND,
        "EVTCHNOP_alloc_unbound",
        "DOMID_SELF, remote DOMID_SELF",
        &a,
        OK,
    ) != 0
    {
        return;
    }
    let p = SCRATCH.get::<EvtchnAllocUnbound>(ARG).port;
    s.tap.assert(
        format_args!("EVTCHNOP_alloc_unbound gives a port above 0"),
        p > 0,
        format_args!("{p}"),
        format_args!("> 0"),
    );
    if let Some(r) = status(s, p) {
        let remote_ok = own.is_none_or(|d| r.u0 & 0xffff == u32::from(d));
        s.tap.assert(
            format_args!("the new port is EVTCHNSTAT_unbound, for this domain's own id"),
            r.status == EVTCHNSTAT_UNBOUND && remote_ok,
            format_args!("status {}, remote {}", r.status, r.u0 & 0xffff),
            format_args!("status 1, remote {}", own.unwrap_or(DOMID_SELF.0)),
        );
    }
    let b = EvtchnBindInterdomain {
        remote_dom: DOMID_SELF.0,
        _pad: 0,
        remote_port: p,
        local_port: 0,
    };
    if op(
        s,
        EVTCHNOP_BIND_INTERDOMAIN,
        "EVTCHNOP_bind_interdomain",
        "DOMID_SELF, the unbound port",
        &b,
        OK,
    ) == 0
    {
        let q = SCRATCH.get::<EvtchnBindInterdomain>(ARG).local_port;
        if let Some(r) = status(s, p) {
            s.tap.assert(
                format_args!(
                    "the remote end is now EVTCHNSTAT_interdomain, connected to the local port"
                ),
                r.status == EVTCHNSTAT_INTERDOMAIN && r.u1 == q,
                format_args!("status {}, port {}", r.status, r.u1),
                format_args!("status 2, port {q}"),
            );
        }
        op(
            s,
            EVTCHNOP_SEND,
            "EVTCHNOP_send",
            "the interdomain port",
            &EvtchnPort { port: q },
            OK,
        );
        op(
            s,
            EVTCHNOP_BIND_VCPU,
            "EVTCHNOP_bind_vcpu",
            "the interdomain port, vCPU 0",
            &EvtchnBindVcpu { port: q, vcpu: 0 },
            OK,
        );
        op(
            s,
            EVTCHNOP_CLOSE,
            "EVTCHNOP_close",
            "the interdomain port",
            &EvtchnPort { port: q },
            OK,
        );
        if let Some(r) = status(s, p) {
            s.tap.assert(
                format_args!("closing one end of an interdomain channel leaves the other unbound"),
                r.status == EVTCHNSTAT_UNBOUND,
                format_args!("status {}", r.status),
                format_args!("status 1"),
            );
        }
    }
    op(
        s,
        EVTCHNOP_SEND,
        "EVTCHNOP_send",
        "an unbound port [dropped]",
        &EvtchnPort { port: p },
        OK,
    );
    op(
        s,
        EVTCHNOP_CLOSE,
        "EVTCHNOP_close",
        "the unbound port",
        &EvtchnPort { port: p },
        OK,
    );
    op(
        s,
        EVTCHNOP_CLOSE,
        "EVTCHNOP_close",
        "the same port again [now free]",
        &EvtchnPort { port: p },
        EINVAL,
    );
    if let Some(r) = status(s, p) {
        s.tap.assert(
            format_args!("a closed port is EVTCHNSTAT_closed"),
            r.status == EVTCHNSTAT_CLOSED,
            format_args!("status {}", r.status),
            format_args!("status 0"),
        );
    }

    // A per-vCPU virq: bound once only.
    let v = EvtchnBindVirq {
        virq: VIRQ_TIMER,
        vcpu: 0,
        port: 0,
    };
    if op(
        s,
        EVTCHNOP_BIND_VIRQ,
        "EVTCHNOP_bind_virq",
        "VIRQ_TIMER on vCPU 0",
        &v,
        OK,
    ) == 0
    {
        let vp = SCRATCH.get::<EvtchnBindVirq>(ARG).port;
        op(
            s,
            EVTCHNOP_BIND_VIRQ,
            "EVTCHNOP_bind_virq",
            "VIRQ_TIMER on vCPU 0 again",
            &v,
            EEXIST,
        );
        if let Some(r) = status(s, vp) {
            s.tap.assert(
                format_args!("the VIRQ_TIMER port is EVTCHNSTAT_virq for virq 0 on vCPU 0"),
                r.status == EVTCHNSTAT_VIRQ && r.u0 == VIRQ_TIMER && r.vcpu == 0,
                format_args!("status {}, virq {}, vcpu {}", r.status, r.u0, r.vcpu),
                format_args!("status 4, virq 0, vcpu 0"),
            );
        }
        op(
            s,
            EVTCHNOP_BIND_VCPU,
            "EVTCHNOP_bind_vcpu",
            "a per-vCPU virq port [cannot move]",
            &EvtchnBindVcpu { port: vp, vcpu: 0 },
            EINVAL,
        );
        op(
            s,
            EVTCHNOP_SEND,
            "EVTCHNOP_send",
            "a virq port [not a guest's to send]",
            &EvtchnPort { port: vp },
            EINVAL,
        );
        op(
            s,
            EVTCHNOP_CLOSE,
            "EVTCHNOP_close",
            "the VIRQ_TIMER port",
            &EvtchnPort { port: vp },
            OK,
        );
    }

    // An IPI port to itself.
    if op(
        s,
        EVTCHNOP_BIND_IPI,
        "EVTCHNOP_bind_ipi",
        "vCPU 0",
        &EvtchnBindIpi { vcpu: 0, port: 0 },
        OK,
    ) == 0
    {
        let ip = SCRATCH.get::<EvtchnBindIpi>(ARG).port;
        if let Some(r) = status(s, ip) {
            s.tap.assert(
                format_args!("the IPI port is EVTCHNSTAT_ipi"),
                r.status == EVTCHNSTAT_IPI,
                format_args!("status {}", r.status),
                format_args!("status 5"),
            );
        }
        op(
            s,
            EVTCHNOP_SEND,
            "EVTCHNOP_send",
            "the IPI port",
            &EvtchnPort { port: ip },
            OK,
        );
        op(
            s,
            EVTCHNOP_UNMASK,
            "EVTCHNOP_unmask",
            "the IPI port",
            &EvtchnPort { port: ip },
            OK,
        );
        op(
            s,
            EVTCHNOP_CLOSE,
            "EVTCHNOP_close",
            "the IPI port",
            &EvtchnPort { port: ip },
            OK,
        );
    }
    op(
        s,
        EVTCHNOP_RESET,
        "EVTCHNOP_reset",
        "DOMID_SELF [closes everything]",
        &EvtchnReset { dom: DOMID_SELF.0 },
        OK,
    );
}
