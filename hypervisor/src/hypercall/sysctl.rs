//! `HYPERVISOR_sysctl` (sysctl.h, interface 0x15): machine-wide queries for
//! the toolstack. The struct must be readable (-EFAULT), the interface
//! version 0x15 (-EACCES), the caller privileged (-EPERM).
//!
//! | cmd | here |
//! |---|---|
//! | `XEN_SYSCTL_readconsole` (1) | the console ring (16 KiB of hypervisor and guest console lines): from the oldest byte or `index`, `clear` forgets what was read |
//! | `XEN_SYSCTL_sched_id` (4) | XEN_SCHEDULER_CREDIT2: DomU vCPUs share the APs by weight and cap (`sched::credit`) |
//! | `XEN_SYSCTL_physinfo` (3) | CPUs, TSC kHz, total/free pages, max mfn, HVM + HAP capabilities |
//! | `XEN_SYSCTL_getdomaininfolist` (6) | up to `max_domains` from `first_domain`, as getdomaininfo gives them |
//! | `XEN_SYSCTL_scheduler_op` (19) | put/getinfo only (-EINVAL), cpupool 0 only (-ESRCH: the one pool), sched_id XEN_SCHEDULER_CREDIT2 (-EINVAL): credit2's `ratelimit_us`, 0 (off) or 100..=500000 (-EINVAL); putinfo reads back what it set |
//! | other (readconsole included) | -ENOSYS |

use abi::domctl::XenDomctlGetdomaininfo;
use abi::errno::Errno;
use abi::sysctl::*;

use super::domctl::domain_info;
use super::{Caller, Outcome, read_arg, write_arg};

pub fn sysctl(caller: &mut impl Caller, arg: u64) -> Outcome {
    let mut op: XenSysctl = match read_arg(caller, arg) {
        Ok(op) => op,
        Err(e) => return Outcome::err(e),
    };
    if op.interface_version != XEN_SYSCTL_INTERFACE_VERSION {
        return Outcome::err(Errno::EACCES);
    }
    if !caller.privileged() {
        return Outcome::err(Errno::EPERM);
    }
    let result = match op.cmd {
        XEN_SYSCTL_PHYSINFO => {
            let m = caller.machine();
            let mut info: XenSysctlPhysinfo = op.payload();
            info.threads_per_core = 1;
            info.cores_per_socket = m.nr_cpus;
            info.nr_cpus = m.nr_cpus;
            info.max_cpu_id = m.nr_cpus.saturating_sub(1);
            info.nr_nodes = 1;
            info.max_node_id = 0;
            info.cpu_khz = m.cpu_khz;
            info.capabilities = XEN_SYSCTL_PHYSCAP_HVM | XEN_SYSCTL_PHYSCAP_HAP;
            info.total_pages = m.total_pages;
            info.free_pages = m.free_pages;
            info.max_mfn = m.max_mfn.saturating_sub(1);
            op.set_payload(&info);
            Ok(())
        }
        XEN_SYSCTL_SCHED_ID => {
            op.set_payload(&XenSysctlSchedId { sched_id: abi::domctl::XEN_SCHEDULER_CREDIT2 });
            Ok(())
        }
        XEN_SYSCTL_SCHEDULER_OP => {
            let mut s: XenSysctlSchedulerOp = op.payload();
            scheduler_op(&mut s).map(|()| op.set_payload(&s))
        }
        XEN_SYSCTL_READCONSOLE => {
            let mut rc: XenSysctlReadconsole = op.payload();
            let from = (rc.incremental != 0).then_some(rc.index);
            let (bytes, next) = caller.read_console_ring(from, rc.count as usize, rc.clear != 0);
            caller.copy_to_guest(rc.buffer, &bytes).map(|()| {
                (rc.count, rc.index) = (crate::bits::low32_usize(bytes.len()), next);
                op.set_payload(&rc);
            })
        }
        XEN_SYSCTL_GETDOMAININFOLIST => {
            let mut list: XenSysctlGetdomaininfolist = op.payload();
            let ids = caller.domain_ids(list.first_domain.0);
            let mut n = 0u32;
            let mut result = Ok(());
            for id in ids.into_iter().take(list.max_domains as usize) {
                let Some(d) = caller.domain_exact(id) else { continue };
                let info = domain_info(d);
                let at = list.buffer.wrapping_add(u64::from(n) * core::mem::size_of::<XenDomctlGetdomaininfo>() as u64);
                if let Err(e) = write_arg(caller, at, &info) {
                    result = Err(e);
                    break;
                }
                n += 1;
            }
            list.num_domains = n;
            op.set_payload(&list);
            result
        }
        _ => Err(Errno::ENOSYS),
    };
    match result.and_then(|()| write_arg(caller, arg, &op)) {
        Ok(()) => Outcome::Return(0),
        Err(e) => Outcome::err(e),
    }
}

/// `sched_adjust_global` and credit2's `csched2_sys_cntl`: the rate limit
/// (µs a vCPU runs before a waking one may preempt it) of the scheduler of
/// cpupool 0, the only pool.
fn scheduler_op(s: &mut XenSysctlSchedulerOp) -> Result<(), Errno> {
    if s.cmd != XEN_SYSCTL_SCHEDOP_PUTINFO && s.cmd != XEN_SYSCTL_SCHEDOP_GETINFO {
        return Err(Errno::EINVAL);
    }
    // No scheduler yet (boot makes it before any guest runs): no pool.
    let sched = crate::sched::get().filter(|_| s.cpupool_id == 0).ok_or(Errno::ESRCH)?;
    if s.sched_id != abi::domctl::XEN_SCHEDULER_CREDIT2 {
        return Err(Errno::EINVAL);
    }
    let mut sched = sched.lock();
    if s.cmd == XEN_SYSCTL_SCHEDOP_PUTINFO {
        let us = crate::bits::low32(s.u[0]);
        if us != 0 && !(XEN_SYSCTL_SCHED_RATELIMIT_MIN..=XEN_SYSCTL_SCHED_RATELIMIT_MAX).contains(&us) {
            return Err(Errno::EINVAL);
        }
        sched.set_ratelimit_us(us)?;
    }
    // Both write back the limit in force (Xen's putinfo falls through to getinfo).
    s.u[0] = (s.u[0] & !0xffff_ffff) | u64::from(sched.ratelimit_us());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::fake::FakeCaller;
    use super::*;
    use abi::xen::DomId;
    use abi::zerocopy::FromZeros;
    use crate::bits::low32;

    #[test]
    fn unprivileged_or_wrong_version_callers_are_refused() {
        let mut u = FakeCaller::unprivileged(512);
        u.put(0, &XenSysctl::new(XEN_SYSCTL_PHYSINFO, &[0u8; 0]));
        assert_eq!(sysctl(&mut u, 0), Outcome::err(Errno::EPERM));
        let mut op = XenSysctl::new(XEN_SYSCTL_PHYSINFO, &[0u8; 0]);
        op.interface_version = 0x14;
        u.put(0, &op);
        assert_eq!(sysctl(&mut u, 0), Outcome::err(Errno::EACCES));
        assert_eq!(sysctl(&mut u, 500), Outcome::err(Errno::EFAULT));
    }

    #[test]
    fn sched_id_is_credit2() {
        let mut c = FakeCaller::new(512);
        c.put(0, &XenSysctl::new(XEN_SYSCTL_SCHED_ID, &[0u8; 0]));
        assert_eq!(sysctl(&mut c, 0), Outcome::Return(0));
        assert_eq!(c.get::<XenSysctl>(0).payload::<XenSysctlSchedId>().sched_id, abi::domctl::XEN_SCHEDULER_CREDIT2);
    }

    #[test]
    fn scheduler_op_sets_and_gets_credit2s_rate_limit() {
        use abi::domctl::{XEN_SCHEDULER_CREDIT2, XEN_SCHEDULER_NULL};
        // The global scheduler, as boot makes it (the only test that
        // changes its rate limit).
        crate::sched::scheduler(2);
        let mut c = FakeCaller::new(512);
        let mut ask = |pool, sched_id, cmd, us: u32| {
            let s = XenSysctlSchedulerOp { cpupool_id: pool, sched_id, cmd, _pad: 0, u: [u64::from(us), 0] };
            c.put(0, &XenSysctl::new(XEN_SYSCTL_SCHEDULER_OP, &s));
            (sysctl(&mut c, 0), low32(c.get::<XenSysctl>(0).payload::<XenSysctlSchedulerOp>().u[0]))
        };
        let ok = Outcome::Return(0);
        assert_eq!(ask(0, XEN_SCHEDULER_CREDIT2, XEN_SYSCTL_SCHEDOP_GETINFO, 0), (ok, 1000), "credit2's default");
        assert_eq!(ask(0, XEN_SCHEDULER_CREDIT2, XEN_SYSCTL_SCHEDOP_PUTINFO, 2500), (ok, 2500));
        assert_eq!(ask(0, XEN_SCHEDULER_CREDIT2, XEN_SYSCTL_SCHEDOP_GETINFO, 0), (ok, 2500));
        for us in [99, 500_001] {
            assert_eq!(ask(0, XEN_SCHEDULER_CREDIT2, XEN_SYSCTL_SCHEDOP_PUTINFO, us).0, Outcome::err(Errno::EINVAL), "{us} µs");
        }
        assert_eq!(ask(0, XEN_SCHEDULER_CREDIT2, XEN_SYSCTL_SCHEDOP_PUTINFO, 0), (ok, 0), "0 turns it off");
        assert_eq!(ask(0, XEN_SCHEDULER_NULL, XEN_SYSCTL_SCHEDOP_GETINFO, 0).0, Outcome::err(Errno::EINVAL), "not the pool's scheduler");
        assert_eq!(ask(1, XEN_SCHEDULER_CREDIT2, XEN_SYSCTL_SCHEDOP_GETINFO, 0).0, Outcome::err(Errno::ESRCH), "no pool 1");
        assert_eq!(ask(0, XEN_SCHEDULER_CREDIT2, 2, 0).0, Outcome::err(Errno::EINVAL), "no such cmd");
        assert_eq!(ask(0, XEN_SCHEDULER_CREDIT2, XEN_SYSCTL_SCHEDOP_PUTINFO, 1000), (ok, 1000));
    }

    #[test]
    fn physinfo_describes_the_machine() {
        let mut c = FakeCaller::new(512);
        c.put(0, &XenSysctl::new(XEN_SYSCTL_PHYSINFO, &[0u8; 0]));
        assert_eq!(sysctl(&mut c, 0), Outcome::Return(0));
        let info: XenSysctlPhysinfo = c.get::<XenSysctl>(0).payload();
        assert_eq!((info.nr_cpus, info.total_pages, info.free_pages), (2, 65536, 30000));
        assert_ne!(info.capabilities & XEN_SYSCTL_PHYSCAP_HVM, 0);
    }

    #[test]
    fn getdomaininfolist_lists_from_first_domain_up_to_max() {
        let mut c = FakeCaller::new(2048);
        let mut list = XenSysctlGetdomaininfolist::new_zeroed();
        (list.first_domain, list.max_domains, list.buffer) = (DomId(0), 8, 512);
        c.put(0, &XenSysctl::new(XEN_SYSCTL_GETDOMAININFOLIST, &list));
        assert_eq!(sysctl(&mut c, 0), Outcome::Return(0));
        let out: XenSysctlGetdomaininfolist = c.get::<XenSysctl>(0).payload();
        assert_eq!(out.num_domains, 2);
        let second: XenDomctlGetdomaininfo = c.get(512 + core::mem::size_of::<XenDomctlGetdomaininfo>());
        assert_eq!(second.domain, DomId(1));
        (list.first_domain, list.max_domains) = (DomId(1), 8);
        c.put(0, &XenSysctl::new(XEN_SYSCTL_GETDOMAININFOLIST, &list));
        assert_eq!(sysctl(&mut c, 0), Outcome::Return(0));
        assert_eq!(c.get::<XenSysctl>(0).payload::<XenSysctlGetdomaininfolist>().num_domains, 1);
        (list.buffer, list.max_domains) = (2040, 8);
        c.put(0, &XenSysctl::new(XEN_SYSCTL_GETDOMAININFOLIST, &list));
        assert_eq!(sysctl(&mut c, 0), Outcome::err(Errno::EFAULT));
    }

    #[test]
    fn readconsole_copies_the_ring_and_moves_the_index() {
        let mut c = FakeCaller::new(512);
        c.ring.push(b"cpu0 info hv: ready\r\n");
        let rc = XenSysctlReadconsole { clear: 0, incremental: 0, pad0: 0, pad1: 0, index: 0, buffer: 256, count: 8, _pad: Default::default() };
        c.put(0, &XenSysctl::new(XEN_SYSCTL_READCONSOLE, &rc));
        assert_eq!(sysctl(&mut c, 0), Outcome::Return(0));
        let out: XenSysctlReadconsole = c.get::<XenSysctl>(0).payload();
        assert_eq!((out.count, out.index), (8, 8));
        assert_eq!(&c.mem[256..264], b"cpu0 inf");
        let rc = XenSysctlReadconsole { incremental: 1, index: 8, count: 100, ..rc };
        c.put(0, &XenSysctl::new(XEN_SYSCTL_READCONSOLE, &rc));
        assert_eq!(sysctl(&mut c, 0), Outcome::Return(0));
        assert_eq!(c.get::<XenSysctl>(0).payload::<XenSysctlReadconsole>().count, 13);
        let bad = XenSysctlReadconsole { buffer: 1 << 40, ..rc };
        c.put(0, &XenSysctl::new(XEN_SYSCTL_READCONSOLE, &bad));
        assert_eq!(sysctl(&mut c, 0), Outcome::err(Errno::EFAULT));
    }
}
