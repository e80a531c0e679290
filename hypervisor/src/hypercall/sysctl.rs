//! `HYPERVISOR_sysctl` (sysctl.h, interface 0x15): machine-wide queries for
//! the toolstack. The struct must be readable (-EFAULT), the interface
//! version 0x15 (-EACCES), the caller privileged (-EPERM).
//!
//! | cmd | here |
//! |---|---|
//! | `XEN_SYSCTL_readconsole` (1) | the console ring (16 KiB of hypervisor and guest console lines): from the oldest byte or `index`, `clear` forgets what was read |
//! | `XEN_SYSCTL_sched_id` (4) | XEN_SCHEDULER_NULL: each vCPU owns a CPU while it runs |
//! | `XEN_SYSCTL_physinfo` (3) | CPUs, TSC kHz, total/free pages, max mfn, HVM + HAP capabilities |
//! | `XEN_SYSCTL_getdomaininfolist` (6) | up to `max_domains` from `first_domain`, as getdomaininfo gives them |
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
            op.set_payload(&XenSysctlSchedId { sched_id: abi::domctl::XEN_SCHEDULER_NULL });
            Ok(())
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

#[cfg(test)]
mod tests {
    use super::super::fake::FakeCaller;
    use super::*;
    use abi::xen::DomId;
    use abi::zerocopy::FromZeros;

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
