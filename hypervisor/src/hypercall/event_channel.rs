//! `HYPERVISOR_event_channel_op(int cmd, void *arg)` (event_channel.h), the
//! 2-level ABI, with xen/common/event_channel.c's checks in its order.
//! Every command copies its struct in first (-EFAULT). A port past the
//! domain's valid ports is -EINVAL; a vCPU it does not have -ENOENT; an
//! unknown domain -ESRCH; another domain without privilege -EPERM.
//!
//! | cmd | here |
//! |---|---|
//! | `EVTCHNOP_bind_interdomain` (0) | binds to a port the remote domain left unbound for us; the new local port is set pending (lost notifications) |
//! | `EVTCHNOP_bind_virq` (1) | virq < NR_VIRQS, global virqs on vCPU 0 only (-EINVAL), once per vCPU (-EEXIST) |
//! | `EVTCHNOP_bind_pirq` (2) | -EINVAL: the domain has no PIRQs (no physical interrupts are routed to guests yet) |
//! | `EVTCHNOP_close` (3) | frees the port; the other end of an interdomain channel becomes unbound |
//! | `EVTCHNOP_send` (4) | interdomain: the remote port; IPI: itself; unbound: dropped; other -EINVAL |
//! | `EVTCHNOP_status` (5) | Xen's EVTCHNSTAT_* with the binding |
//! | `EVTCHNOP_alloc_unbound` (6) | for this domain or (privileged) another |
//! | `EVTCHNOP_bind_ipi` (7) | an IPI port to one of its vCPUs |
//! | `EVTCHNOP_bind_vcpu` (8) | unbound, interdomain and global-virq ports move; others -EINVAL |
//! | `EVTCHNOP_unmask` (9) | clears the mask bit; a pending event is delivered now |
//! | `EVTCHNOP_reset` (10) | closes every port (another domain: privileged, and paused, else -EINVAL) |
//! | `EVTCHNOP_reset_cont` (14) | -EBUSY: resets never stop half-way here |
//! | `EVTCHNOP_init_control` (11) | argument checks, then -ENOSYS: no FIFO ABI (guests fall back to 2-level) |
//! | `EVTCHNOP_expand_array` (12) | -EOPNOTSUPP (2-level ABI) |
//! | `EVTCHNOP_set_priority` (13) | valid port, then -ENOSYS (2-level ABI) |
//! | other | -ENOSYS |

use abi::errno::Errno;
use abi::event_channel::*;
use abi::xen::{DOMID_SELF, NR_VIRQS, virq_is_global};

use super::{Caller, DomainOps, Outcome, read_arg, target_domain, write_arg};
use crate::event::channels::{Binding, Channel};
use crate::event::two_level;

pub fn event_channel_op(caller: &mut impl Caller, cmd: u64, arg: u64) -> Outcome {
    let result = match cmd {
        EVTCHNOP_ALLOC_UNBOUND => read_arg(caller, arg).and_then(|mut a: EvtchnAllocUnbound| {
            a.port = alloc_unbound(caller, a.dom.0, a.remote_dom.0)?;
            write_arg(caller, arg, &a)
        }),
        EVTCHNOP_BIND_INTERDOMAIN => read_arg(caller, arg).and_then(|mut b: EvtchnBindInterdomain| {
            b.local_port = bind_interdomain(caller, b.remote_dom.0, b.remote_port)?;
            write_arg(caller, arg, &b)
        }),
        EVTCHNOP_BIND_VIRQ => read_arg(caller, arg).and_then(|mut b: EvtchnBindVirq| {
            b.port = bind_virq(caller.this(), b.virq, b.vcpu)?;
            write_arg(caller, arg, &b)
        }),
        EVTCHNOP_BIND_PIRQ => read_arg::<EvtchnBindPirq>(caller, arg).and(Err(Errno::EINVAL)),
        EVTCHNOP_BIND_IPI => read_arg(caller, arg).and_then(|mut b: EvtchnBindIpi| {
            let d = caller.this();
            if b.vcpu as usize >= d.vcpus().len() {
                return Err(Errno::ENOENT);
            }
            let limit = d.event_words().nr_channels();
            b.port = d.evtchn().alloc(Binding::Ipi, b.vcpu, limit)?;
            write_arg(caller, arg, &b)
        }),
        EVTCHNOP_CLOSE => read_arg(caller, arg).and_then(|p: EvtchnOnePort| close(caller, p.port)),
        EVTCHNOP_SEND => read_arg(caller, arg).and_then(|p: EvtchnOnePort| send(caller, p.port)),
        EVTCHNOP_STATUS => read_arg(caller, arg).and_then(|mut s: EvtchnStatus| {
            status(caller, &mut s)?;
            write_arg(caller, arg, &s)
        }),
        EVTCHNOP_BIND_VCPU => read_arg(caller, arg).and_then(|b: EvtchnBindVcpu| bind_vcpu(caller.this(), b.port, b.vcpu)),
        EVTCHNOP_UNMASK => read_arg(caller, arg).and_then(|p: EvtchnOnePort| {
            let d = caller.this();
            let vcpu = d.evtchn().get(p.port)?.vcpu;
            two_level::unmask(d.event_words(), p.port, vcpu);
            Ok(())
        }),
        EVTCHNOP_RESET | EVTCHNOP_RESET_CONT => read_arg(caller, arg).and_then(|r: EvtchnReset| {
            let me = caller.domid();
            let d = target_domain(caller, r.dom.0)?;
            if cmd == EVTCHNOP_RESET_CONT {
                return Err(Errno::EBUSY);
            }
            if d.id() != me && !d.paused() {
                return Err(Errno::EINVAL);
            }
            reset(caller, r.dom.0)
        }),
        EVTCHNOP_INIT_CONTROL => read_arg(caller, arg).and_then(|c: EvtchnInitControl| {
            if c.vcpu as usize >= caller.this().vcpus().len() {
                return Err(Errno::ENOENT);
            }
            if c.offset > 4096 - EVTCHN_FIFO_CONTROL_BLOCK_SIZE || !c.offset.is_multiple_of(8) {
                return Err(Errno::EINVAL);
            }
            Err(Errno::ENOSYS)
        }),
        EVTCHNOP_EXPAND_ARRAY => read_arg::<EvtchnExpandArray>(caller, arg).and(Err(Errno::EOPNOTSUPP)),
        EVTCHNOP_SET_PRIORITY => read_arg(caller, arg).and_then(|p: EvtchnSetPriority| {
            caller.this().evtchn().get(p.port)?;
            Err(Errno::ENOSYS)
        }),
        _ => Err(Errno::ENOSYS),
    };
    match result {
        Ok(()) => Outcome::Return(0),
        Err(e) => Outcome::err(e),
    }
}


fn alloc_unbound(caller: &mut impl Caller, dom: u16, remote: u16) -> Result<u32, Errno> {
    let me = caller.domid();
    let remote = if remote == DOMID_SELF.0 { me } else { remote };
    let d = target_domain(caller, dom)?;
    let limit = d.event_words().nr_channels();
    d.evtchn().alloc(Binding::Unbound { remote }, 0, limit)
}

fn bind_interdomain(caller: &mut impl Caller, remote_dom: u16, remote_port: u32) -> Result<u32, Errno> {
    let me = caller.domid();
    let rd = caller.domain(remote_dom).ok_or(Errno::ESRCH)?;
    let remote_id = rd.id();
    let rchn = rd.evtchn().get(remote_port)?;
    if rchn.binding != (Binding::Unbound { remote: me }) {
        return Err(Errno::EINVAL);
    }
    let ld = caller.this();
    let limit = ld.event_words().nr_channels();
    let local = ld.evtchn().alloc(Binding::Interdomain { remote: remote_id, remote_port }, 0, limit)?;
    let rd = caller.domain(remote_dom).ok_or(Errno::ESRCH)?;
    rd.evtchn().set(remote_port, Channel { binding: Binding::Interdomain { remote: me, remote_port: local }, ..rchn });
    let ld = caller.this();
    two_level::set_pending(ld.event_words(), local, 0);
    Ok(local)
}

fn bind_virq(d: &mut dyn DomainOps, virq: u32, vcpu: u32) -> Result<u32, Errno> {
    if virq >= NR_VIRQS || (virq_is_global(virq) && vcpu != 0) {
        return Err(Errno::EINVAL);
    }
    if vcpu as usize >= d.vcpus().len() {
        return Err(Errno::ENOENT);
    }
    if d.evtchn().virq_port(vcpu, virq) != 0 {
        return Err(Errno::EEXIST);
    }
    let limit = d.event_words().nr_channels();
    let port = d.evtchn().alloc(Binding::Virq(virq), vcpu, limit)?;
    d.evtchn().set_virq_port(vcpu, virq, port);
    Ok(port)
}

fn bind_vcpu(d: &mut dyn DomainOps, port: u32, vcpu: u32) -> Result<(), Errno> {
    if vcpu as usize >= d.vcpus().len() {
        return Err(Errno::ENOENT);
    }
    let chn = d.evtchn().get(port)?;
    match chn.binding {
        Binding::Virq(virq) if virq_is_global(virq) => {}
        Binding::Unbound { .. } | Binding::Interdomain { .. } => {}
        _ => return Err(Errno::EINVAL),
    }
    d.evtchn().set(port, Channel { vcpu, ..chn });
    Ok(())
}

/// Closes `port` of the calling domain (`evtchn_close`).
fn close(caller: &mut impl Caller, port: u32) -> Result<(), Errno> {
    let me = caller.domid();
    close_port(caller, me, port)
}

fn close_port(caller: &mut impl Caller, dom: u16, port: u32) -> Result<(), Errno> {
    let d = caller.domain(dom).ok_or(Errno::ESRCH)?;
    let chn = d.evtchn().get(port)?;
    match chn.binding {
        Binding::Free | Binding::Reserved => return Err(Errno::EINVAL),
        Binding::Interdomain { remote, remote_port } => {
            if let Some(rd) = caller.domain_exact(remote)
                && let Ok(rchn) = rd.evtchn().get(remote_port)
            {
                rd.evtchn().set(remote_port, Channel { binding: Binding::Unbound { remote: dom }, ..rchn });
            }
        }
        Binding::Unbound { .. } | Binding::Virq(_) | Binding::Ipi => {}
    }
    let d = caller.domain(dom).ok_or(Errno::ESRCH)?;
    two_level::clear_pending(d.event_words(), port);
    d.evtchn().free(port);
    Ok(())
}

fn reset(caller: &mut impl Caller, dom: u16) -> Result<(), Errno> {
    let d = caller.domain(dom).ok_or(Errno::ESRCH)?;
    let id = d.id();
    let ports: alloc::vec::Vec<u32> = d.evtchn().bound_ports().map(|(p, _)| p).collect();
    for port in ports {
        let _ = close_port(caller, id, port);
    }
    Ok(())
}

fn send(caller: &mut impl Caller, port: u32) -> Result<(), Errno> {
    let chn = caller.this().evtchn().get(port)?;
    match chn.binding {
        Binding::Interdomain { remote, remote_port } => {
            if let Some(rd) = caller.domain_exact(remote)
                && let Ok(rchn) = rd.evtchn().get(remote_port)
            {
                two_level::set_pending(rd.event_words(), remote_port, rchn.vcpu);
            }
            Ok(())
        }
        Binding::Ipi => {
            two_level::set_pending(caller.this().event_words(), port, chn.vcpu);
            Ok(())
        }
        Binding::Unbound { .. } => Ok(()),
        Binding::Free | Binding::Reserved | Binding::Virq(_) => Err(Errno::EINVAL),
    }
}

fn status(caller: &mut impl Caller, s: &mut EvtchnStatus) -> Result<(), Errno> {
    let (me, privileged) = (caller.domid(), caller.privileged());
    let d = caller.domain(s.dom.0).ok_or(Errno::ESRCH)?;
    let chn = d.evtchn().get(s.port)?;
    if d.id() != me && !privileged {
        return Err(Errno::EPERM);
    }
    s.vcpu = chn.vcpu;
    (s.status, s.u0, s.u1) = match chn.binding {
        Binding::Free | Binding::Reserved => (EVTCHNSTAT_CLOSED, 0, 0),
        Binding::Unbound { remote } => (EVTCHNSTAT_UNBOUND, u32::from(remote), 0),
        Binding::Interdomain { remote, remote_port } => (EVTCHNSTAT_INTERDOMAIN, u32::from(remote), remote_port),
        Binding::Virq(virq) => (EVTCHNSTAT_VIRQ, virq, 0),
        Binding::Ipi => (EVTCHNSTAT_IPI, 0, 0),
    };
    Ok(())
}

/// Raises `virq` for `vcpu` of `d` if the guest bound it (`send_guest_vcpu_virq`).
pub fn send_virq(d: &mut dyn DomainOps, vcpu: u32, virq: u32) {
    let port = d.evtchn().virq_port(vcpu, virq);
    if port != 0 {
        let target = d.evtchn().get(port).map_or(vcpu, |c| c.vcpu);
        two_level::set_pending(d.event_words(), port, target);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hypercall::fake::FakeCaller;
    use abi::xen::{DomId, VIRQ_CONSOLE, VIRQ_TIMER};
    use abi::zerocopy::{FromBytes, Immutable, IntoBytes};

    fn call<T: IntoBytes + FromBytes + Immutable>(c: &mut FakeCaller, cmd: u64, arg: &T) -> (Outcome, T) {
        c.put(0, arg);
        let out = event_channel_op(c, cmd, 0);
        (out, c.get(0))
    }

    fn ok(v: u64) -> Outcome {
        Outcome::Return(v)
    }

    fn err(e: Errno) -> Outcome {
        Outcome::err(e)
    }

    fn st(c: &mut FakeCaller, dom: u16, port: u32) -> (Outcome, EvtchnStatus) {
        call(c, EVTCHNOP_STATUS, &EvtchnStatus { dom: DomId(dom), port, ..Default::default() })
    }

    #[test]
    fn bad_pointers_and_commands() {
        let mut c = FakeCaller::new(64);
        for cmd in 0..=14 {
            assert_eq!(event_channel_op(&mut c, cmd, 1 << 40), err(Errno::EFAULT), "cmd {cmd}");
        }
        for cmd in [15, 20, 0xffff_ffff] {
            assert_eq!(event_channel_op(&mut c, cmd, 0), err(Errno::ENOSYS));
        }
    }

    #[test]
    fn port_zero_and_out_of_range_ports() {
        let mut c = FakeCaller::new(64);
        let (out, s) = st(&mut c, DOMID_SELF.0, 0);
        assert_eq!((out, s.status), (ok(0), EVTCHNSTAT_CLOSED));
        assert_eq!(st(&mut c, DOMID_SELF.0, u32::MAX).0, err(Errno::EINVAL));
        assert_eq!(st(&mut c, 0x7ff1, 0).0, err(Errno::ESRCH));
        for cmd in [EVTCHNOP_CLOSE, EVTCHNOP_SEND] {
            assert_eq!(call(&mut c, cmd, &EvtchnOnePort { port: 0 }).0, err(Errno::EINVAL));
            assert_eq!(call(&mut c, cmd, &EvtchnOnePort { port: 64 }).0, err(Errno::EINVAL));
        }
        assert_eq!(call(&mut c, EVTCHNOP_UNMASK, &EvtchnOnePort { port: 0 }).0, ok(0));
    }

    #[test]
    fn loopback_interdomain_channel_lifecycle() {
        let mut c = FakeCaller::new(64);
        let (out, a) = call(&mut c, EVTCHNOP_ALLOC_UNBOUND, &EvtchnAllocUnbound { dom: DOMID_SELF, remote_dom: DOMID_SELF, port: 0 });
        assert_eq!((out, a.port), (ok(0), 1));
        let (_, s) = st(&mut c, DOMID_SELF.0, 1);
        assert_eq!((s.status, s.u0), (EVTCHNSTAT_UNBOUND, 0), "remote is the caller's own id");
        let bind = EvtchnBindInterdomain { remote_dom: DOMID_SELF, _pad: 0, remote_port: 1, local_port: 0 };
        let (out, b) = call(&mut c, EVTCHNOP_BIND_INTERDOMAIN, &bind);
        assert_eq!((out, b.local_port), (ok(0), 2));
        assert!(c.dom(0).words.pending[2], "binding sets the new port pending");
        let (_, s) = st(&mut c, DOMID_SELF.0, 1);
        assert_eq!((s.status, s.u0, s.u1), (EVTCHNSTAT_INTERDOMAIN, 0, 2));
        assert_eq!(call(&mut c, EVTCHNOP_SEND, &EvtchnOnePort { port: 2 }).0, ok(0));
        assert!(c.dom(0).words.pending[1], "a send on one end raises the other");
        assert_eq!(call(&mut c, EVTCHNOP_CLOSE, &EvtchnOnePort { port: 2 }).0, ok(0));
        assert_eq!(st(&mut c, DOMID_SELF.0, 1).1.status, EVTCHNSTAT_UNBOUND);
        assert_eq!(call(&mut c, EVTCHNOP_BIND_INTERDOMAIN, &bind).1.local_port, 2, "rebindable");
        assert_eq!(call(&mut c, EVTCHNOP_BIND_INTERDOMAIN, &bind).0, err(Errno::EINVAL), "no longer unbound");
    }

    #[test]
    fn interdomain_between_two_domains_and_destroy_rules() {
        let mut c = FakeCaller::new(64);
        // Dom0 offers a port to domain 1; domain 1 binds; sends cross.
        let (_, a) = call(&mut c, EVTCHNOP_ALLOC_UNBOUND, &EvtchnAllocUnbound { dom: DOMID_SELF, remote_dom: DomId(1), port: 0 });
        c.domid = 1;
        c.privileged = false;
        let bind = EvtchnBindInterdomain { remote_dom: DomId(0), _pad: 0, remote_port: a.port, local_port: 0 };
        let (out, b) = call(&mut c, EVTCHNOP_BIND_INTERDOMAIN, &bind);
        assert_eq!(out, ok(0));
        c.dom(0).words.pending[a.port as usize] = false;
        assert_eq!(call(&mut c, EVTCHNOP_SEND, &EvtchnOnePort { port: b.local_port }).0, ok(0));
        assert!(c.dom(0).words.pending[a.port as usize]);
        assert_eq!(c.dom(0).words.kicks, [0]);
        // An unprivileged domain may not look at or allocate for another.
        assert_eq!(st(&mut c, 0, a.port).0, err(Errno::EPERM));
        let other = EvtchnAllocUnbound { dom: DomId(0), remote_dom: DOMID_SELF, port: 0 };
        assert_eq!(call(&mut c, EVTCHNOP_ALLOC_UNBOUND, &other).0, err(Errno::EPERM));
        assert_eq!(call(&mut c, EVTCHNOP_RESET, &EvtchnReset { dom: DomId(0) }).0, err(Errno::EPERM));
        // A port offered to someone else cannot be taken.
        c.domid = 0;
        c.privileged = true;
        let (_, a2) = call(&mut c, EVTCHNOP_ALLOC_UNBOUND, &EvtchnAllocUnbound { dom: DOMID_SELF, remote_dom: DomId(5), port: 0 });
        c.domid = 1;
        let steal = EvtchnBindInterdomain { remote_dom: DomId(0), _pad: 0, remote_port: a2.port, local_port: 0 };
        assert_eq!(call(&mut c, EVTCHNOP_BIND_INTERDOMAIN, &steal).0, err(Errno::EINVAL));
        // Reset closes everything; dom0's end goes back to unbound.
        assert_eq!(call(&mut c, EVTCHNOP_RESET, &EvtchnReset { dom: DOMID_SELF }).0, ok(0));
        assert_eq!(c.dom(1).evtchn.bound_ports().count(), 0);
        c.domid = 0;
        let (_, s) = st(&mut c, DOMID_SELF.0, a.port);
        assert_eq!((s.status, s.u0), (EVTCHNSTAT_UNBOUND, 1));
        // Dom0 may reset a paused domain only.
        assert_eq!(call(&mut c, EVTCHNOP_RESET, &EvtchnReset { dom: DomId(1) }).0, err(Errno::EINVAL));
        c.dom(1).paused = true;
        assert_eq!(call(&mut c, EVTCHNOP_RESET, &EvtchnReset { dom: DomId(1) }).0, ok(0));
        assert_eq!(call(&mut c, EVTCHNOP_RESET_CONT, &EvtchnReset { dom: DOMID_SELF }).0, err(Errno::EBUSY));
    }

    #[test]
    fn virqs_ipis_and_vcpu_binding() {
        let mut c = FakeCaller::new(64);
        let virq = |virq, vcpu| EvtchnBindVirq { virq, vcpu, port: 0 };
        assert_eq!(call(&mut c, EVTCHNOP_BIND_VIRQ, &virq(NR_VIRQS, 0)).0, err(Errno::EINVAL));
        assert_eq!(call(&mut c, EVTCHNOP_BIND_VIRQ, &virq(VIRQ_CONSOLE, 1)).0, err(Errno::EINVAL));
        assert_eq!(call(&mut c, EVTCHNOP_BIND_VIRQ, &virq(VIRQ_TIMER, 2)).0, err(Errno::ENOENT));
        let (out, v) = call(&mut c, EVTCHNOP_BIND_VIRQ, &virq(VIRQ_TIMER, 1));
        assert_eq!(out, ok(0));
        assert_eq!(call(&mut c, EVTCHNOP_BIND_VIRQ, &virq(VIRQ_TIMER, 1)).0, err(Errno::EEXIST));
        let (_, s) = st(&mut c, DOMID_SELF.0, v.port);
        assert_eq!((s.status, s.u0, s.vcpu), (EVTCHNSTAT_VIRQ, VIRQ_TIMER, 1));
        assert_eq!(call(&mut c, EVTCHNOP_SEND, &EvtchnOnePort { port: v.port }).0, err(Errno::EINVAL));
        assert_eq!(call(&mut c, EVTCHNOP_BIND_VCPU, &EvtchnBindVcpu { port: v.port, vcpu: 0 }).0, err(Errno::EINVAL));
        send_virq(c.dom(0), 1, VIRQ_TIMER);
        assert!(c.dom(0).words.pending[v.port as usize]);
        assert_eq!(c.dom(0).words.kicks, [1], "delivered to the vCPU it is bound on");
        assert_eq!(call(&mut c, EVTCHNOP_CLOSE, &EvtchnOnePort { port: v.port }).0, ok(0));
        assert!(!c.dom(0).words.pending[v.port as usize], "close clears pending");
        assert_eq!(call(&mut c, EVTCHNOP_BIND_VIRQ, &virq(VIRQ_TIMER, 1)).0, ok(0), "free again after close");

        let (out, g) = call(&mut c, EVTCHNOP_BIND_VIRQ, &virq(VIRQ_CONSOLE, 0));
        assert_eq!(out, ok(0));
        assert_eq!(call(&mut c, EVTCHNOP_BIND_VCPU, &EvtchnBindVcpu { port: g.port, vcpu: 1 }).0, ok(0), "a global virq moves");
        assert_eq!(call(&mut c, EVTCHNOP_BIND_VCPU, &EvtchnBindVcpu { port: 0, vcpu: 9 }).0, err(Errno::ENOENT));

        assert_eq!(call(&mut c, EVTCHNOP_BIND_IPI, &EvtchnBindIpi { vcpu: 9, port: 0 }).0, err(Errno::ENOENT));
        let (_, i) = call(&mut c, EVTCHNOP_BIND_IPI, &EvtchnBindIpi { vcpu: 1, port: 0 });
        c.dom(0).words.mask[i.port as usize] = true;
        assert_eq!(call(&mut c, EVTCHNOP_SEND, &EvtchnOnePort { port: i.port }).0, ok(0));
        assert!(c.dom(0).words.pending[i.port as usize]);
        c.dom(0).words.upcall[1] = false;
        c.dom(0).words.selector[1] = 0;
        assert_eq!(call(&mut c, EVTCHNOP_UNMASK, &EvtchnOnePort { port: i.port }).0, ok(0));
        assert!(c.dom(0).words.upcall[1], "unmasking a pending port raises the upcall");
        assert_eq!(call(&mut c, EVTCHNOP_BIND_VCPU, &EvtchnBindVcpu { port: i.port, vcpu: 0 }).0, err(Errno::EINVAL));
    }

    #[test]
    fn fifo_commands_on_the_two_level_abi() {
        let mut c = FakeCaller::new(64);
        let ctl = |offset, vcpu| EvtchnInitControl { control_gfn: 0, offset, vcpu, link_bits: 0, _pad: [0; 7] };
        assert_eq!(call(&mut c, EVTCHNOP_INIT_CONTROL, &ctl(0, 0xffff)).0, err(Errno::ENOENT));
        assert_eq!(call(&mut c, EVTCHNOP_INIT_CONTROL, &ctl(4033, 0)).0, err(Errno::EINVAL));
        assert_eq!(call(&mut c, EVTCHNOP_INIT_CONTROL, &ctl(4, 0)).0, err(Errno::EINVAL));
        assert_eq!(call(&mut c, EVTCHNOP_INIT_CONTROL, &ctl(4024, 0)).0, err(Errno::ENOSYS));
        assert_eq!(call(&mut c, EVTCHNOP_EXPAND_ARRAY, &EvtchnExpandArray { array_gfn: 0 }).0, err(Errno::EOPNOTSUPP));
        assert_eq!(call(&mut c, EVTCHNOP_SET_PRIORITY, &EvtchnSetPriority { port: 0, priority: 1 }).0, err(Errno::ENOSYS));
        assert_eq!(call(&mut c, EVTCHNOP_SET_PRIORITY, &EvtchnSetPriority { port: u32::MAX, priority: 1 }).0, err(Errno::EINVAL));
        assert_eq!(call(&mut c, EVTCHNOP_BIND_PIRQ, &EvtchnBindPirq::default()).0, err(Errno::EINVAL));
    }
}
