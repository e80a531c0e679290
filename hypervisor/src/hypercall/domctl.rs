//! `HYPERVISOR_domctl` (domctl.h, interface 0x15): the toolstack's control
//! of domains. Checked in Xen's order: the struct is readable (-EFAULT), the
//! interface version is 0x15 (-EACCES), the domain exists (-ESRCH, except
//! createdomain), the caller is privileged (-EPERM).
//!
//! | cmd | here |
//! |---|---|
//! | `XEN_DOMCTL_createdomain` (1) | HVM/PVH only (no `XEN_DOMCTL_CDF_hvm`: -EINVAL), 1..=128 vCPUs (-EINVAL), a free id or the next one (-EEXIST); created paused |
//! | `XEN_DOMCTL_destroydomain` (2) | a vCPU still running is stopped first (the call continues until it has); its grant mappings undone, then every frame back to the allocator (frames other domains map by grant: at their last unmap); not the caller itself (-EINVAL) |
//! | `XEN_DOMCTL_pausedomain` (3), `XEN_DOMCTL_unpausedomain` (4) | not the caller (-EINVAL); pausing returns once no vCPU of it runs guest code (their CPUs kicked, -ERESTART until then, as Xen's vcpu_sleep_sync); unpausing a running domain -EINVAL |
//! | `XEN_DOMCTL_getdomaininfo` (5) | the first domain at or after the id (Xen 4.17; reserved ids -EINVAL): pages, vCPUs, flags, handle, shared-info frame |
//! | `XEN_DOMCTL_max_vcpus` (15) | not the caller itself (-EINVAL); the count createdomain gave (anything else -EINVAL, as Xen 4.17: the vCPU set never changes, so no vCPU can be cut off while it runs) |
//! | `XEN_DOMCTL_max_mem` (11) | the reservation limit, in KiB |
//! | `XEN_DOMCTL_setvcpucontext` (12) | not the caller (-EINVAL), a vCPU it has (-EINVAL); NULL resets the vCPU (down, not initialised); else the context is read (-EFAULT), vCPU 0's vm_assist beyond runstate_update_flag is -EINVAL, and flags, general and debug registers are kept; VGCF_online brings it up |
//! | `XEN_DOMCTL_setvcpuaffinity` (9), `getvcpuaffinity` (25) | a vCPU it has (-EINVAL), HARD and/or SOFT (-EINVAL without), bitmaps read/written through guest memory (-EFAULT), up to 64 CPUs; a hard affinity with no DomU CPU (all but CPU 0) is -EINVAL; the run queue honours it |
//! | `XEN_DOMCTL_scheduler_op` (16) | credit2's: sched_id XEN_SCHEDULER_CREDIT2 (else -EINVAL); putinfo: weight 0 unchanged, cap 0 none, cap over 100 × the domain's vCPUs -EINVAL (the weight is taken first, as Xen); getinfo: weight and cap; put/getvcpuinfo -EINVAL (credit2 has no per-vCPU parameters); kept per domain in `sched::params` until the scheduler has its vCPUs, forgotten at destroydomain |
//! | `XEN_DOMCTL_getvcpuinfo` (14) | a vCPU it has (-EINVAL): online, blocked, running, CPU time, the CPU it is on |
//! | `XEN_DOMCTL_getvcpucontext` (13) | a vCPU it has, not the caller's own (-EINVAL), initialised (-ENODATA); the kept context (other fields 0) |
//! | other | -ENOSYS |

use crate::bits::low32_usize;
use abi::domctl::*;
use abi::errno::Errno;
use abi::xen::DomId;
use abi::zerocopy::FromZeros;

use abi::vcpu_context::{VGCF_ONLINE, VcpuGuestContext};

use super::{Caller, DomainOps, Outcome, read_arg, write_arg};
use crate::domain::object::VcpuContext;


/// Most vCPUs a domain may have (Xen's HVM_MAX_VCPUS).
pub const MAX_VCPUS: u32 = 128;
/// The createdomain flags this hypervisor knows.
const KNOWN_CDF: u32 = XEN_DOMCTL_CDF_HVM | XEN_DOMCTL_CDF_HAP | XEN_DOMCTL_CDF_XS_DOMAIN | XEN_DOMCTL_CDF_IOMMU;

pub fn domctl(caller: &mut impl Caller, arg: u64) -> Outcome {
    let mut op: XenDomctl = match read_arg(caller, arg) {
        Ok(op) => op,
        Err(e) => return Outcome::err(e),
    };
    if op.interface_version != XEN_DOMCTL_INTERFACE_VERSION {
        return Outcome::err(Errno::EACCES);
    }
    if op.cmd == XEN_DOMCTL_GETDOMAININFO {
        // XSM decides first: the domain may not exist (Xen looks up the next one).
        if !caller.privileged() {
            return Outcome::err(Errno::EPERM);
        }
        // Xen 4.17 looks up the first domain at or after the id asked for;
        // a reserved id is not one it looks up.
        if op.domain.0 >= abi::xen::DOMID_FIRST_RESERVED.0 {
            return Outcome::err(Errno::EINVAL);
        }
        match caller.domain_ids(op.domain.0).first() {
            Some(&id) => op.domain = DomId(id),
            None => return Outcome::err(Errno::ESRCH),
        }
    } else if op.cmd != XEN_DOMCTL_CREATEDOMAIN && caller.domain_exact(op.domain.0).is_none() {
        return Outcome::err(Errno::ESRCH);
    }
    if !caller.privileged() {
        return Outcome::err(Errno::EPERM);
    }
    let own = op.domain.0 == caller.domid();
    let result = match op.cmd {
        XEN_DOMCTL_CREATEDOMAIN => create(caller, &mut op),
        XEN_DOMCTL_DESTROYDOMAIN if own => Err(Errno::EINVAL),
        // Stops its vCPUs first (-ERESTART until they have left), and only
        // then releases its grant mappings and frees it.
        XEN_DOMCTL_DESTROYDOMAIN => caller.destroy_domain(op.domain.0).map(|()| {
            // Gone for good: an id used again starts from the defaults.
            crate::sched::params::forget(op.domain.0);
            false
        }),
        XEN_DOMCTL_PAUSEDOMAIN | XEN_DOMCTL_UNPAUSEDOMAIN if own => Err(Errno::EINVAL),
        // Returns once no vCPU of it runs guest code (-ERESTART until then).
        XEN_DOMCTL_PAUSEDOMAIN => with(caller, op.domain, |d| {
            d.set_paused(true);
            Ok(false)
        })
        .and_then(|done| caller.wait_paused(op.domain.0).map(|()| done)),
        XEN_DOMCTL_UNPAUSEDOMAIN => with(caller, op.domain, |d| {
            if !d.paused() {
                return Err(Errno::EINVAL);
            }
            d.set_paused(false);
            Ok(false)
        }),
        XEN_DOMCTL_GETDOMAININFO => with(caller, op.domain, |d| {
            op.set_payload(&domain_info(d));
            Ok(true)
        }),
        XEN_DOMCTL_MAX_VCPUS if own => Err(Errno::EINVAL),
        XEN_DOMCTL_MAX_VCPUS => {
            let max: XenDomctlMaxVcpus = op.payload();
            with(caller, op.domain, |d| d.set_max_vcpus(max.max).map(|()| false))
        }
        XEN_DOMCTL_SETVCPUCONTEXT if own => Err(Errno::EINVAL),
        XEN_DOMCTL_SETVCPUCONTEXT => set_vcpu_context(caller, op.domain, op.payload()),
        XEN_DOMCTL_GETVCPUCONTEXT if own => Err(Errno::EINVAL),
        XEN_DOMCTL_GETVCPUCONTEXT => get_vcpu_context(caller, op.domain, op.payload()),
        XEN_DOMCTL_SETVCPUAFFINITY | XEN_DOMCTL_GETVCPUAFFINITY => {
            let mut aff: XenDomctlVcpuaffinity = op.payload();
            vcpu_affinity(caller, op.domain, op.cmd == XEN_DOMCTL_SETVCPUAFFINITY, &mut aff).map(|()| {
                op.set_payload(&aff);
                true
            })
        }
        XEN_DOMCTL_SCHEDULER_OP => {
            let mut sched: XenDomctlSchedulerOp = op.payload();
            scheduler_op(caller, op.domain, &mut sched).map(|()| {
                op.set_payload(&sched);
                true
            })
        }
        XEN_DOMCTL_GETVCPUINFO => {
            let mut info: XenDomctlGetvcpuinfo = op.payload();
            let now = caller.machine_time_ns();
            with(caller, op.domain, |d| vcpu_info(d, &mut info, now)).inspect(|_| op.set_payload(&info))
        }
        XEN_DOMCTL_MAX_MEM => {
            let max: XenDomctlMaxMem = op.payload();
            with(caller, op.domain, |d| {
                d.set_max_pages(max.max_memkb >> 2);
                Ok(false)
            })
        }
        _ => Err(Errno::ENOSYS),
    };
    match result {
        Ok(false) => Outcome::Return(0),
        Ok(true) => match write_arg(caller, arg, &op) {
            Ok(()) => Outcome::Return(0),
            Err(e) => Outcome::err(e),
        },
        // Not finished (a vCPU of a dying domain still runs): the guest
        // makes the same call again, as Xen's continuation.
        Err(Errno::ERESTART) => Outcome::Preempted(arg),
        Err(e) => Outcome::err(e),
    }
}

/// `sched_adjust` and credit2's `csched2_dom_cntl`: the domain's scheduler
/// is credit2 (another sched_id is -EINVAL); putinfo / getinfo through
/// [`crate::sched::params`] (the scheduler is told too once it has a vCPU
/// of the domain); credit2 keeps no per-vCPU parameters, so
/// put/getvcpuinfo are -EINVAL, like any other cmd.
fn scheduler_op(caller: &mut impl Caller, domid: DomId, s: &mut XenDomctlSchedulerOp) -> Result<(), Errno> {
    use crate::sched::credit::Credit2Info;
    use crate::sched::params;
    if s.sched_id != XEN_SCHEDULER_CREDIT2 {
        return Err(Errno::EINVAL);
    }
    let now = caller.machine_time_ns();
    let vcpus = low32_usize(caller.domain_exact(domid.0).ok_or(Errno::ESRCH)?.vcpus().len());
    match s.cmd {
        // Xen copies the op back unchanged.
        XEN_DOMCTL_SCHEDOP_PUTINFO => params::put(domid.0, Credit2Info::from_union(s.u), vcpus, now).map(|_| ()),
        XEN_DOMCTL_SCHEDOP_GETINFO => {
            // Only `{weight, cap}`, the union's first 4 bytes, are written.
            s.u[0] = (s.u[0] & !0xffff_ffff) | params::get(domid.0).to_union()[0];
            Ok(())
        }
        _ => Err(Errno::EINVAL),
    }
}

/// `XEN_DOMCTL_getvcpuinfo`: a vCPU it has (-EINVAL); online, blocked and
/// running as getdomaininfo reads them, its CPU time up to `now`, and the
/// CPU it is on (0 while it has none: Xen's `v->processor` starts there).
fn vcpu_info(d: &mut dyn DomainOps, info: &mut XenDomctlGetvcpuinfo, now: u64) -> Result<bool, Errno> {
    let v = d.vcpus().get(info.vcpu as usize).ok_or(Errno::EINVAL)?;
    info.online = u8::from(v.up);
    info.blocked = u8::from(v.signals.is_blocked());
    info.running = u8::from(v.signals.is_running());
    info.cpu_time = v.signals.cpu_time_ns(now);
    info.cpu = v.running_on.map_or(0, low32_usize);
    Ok(true)
}

fn set_vcpu_context(caller: &mut impl Caller, domid: DomId, c: XenDomctlVcpucontext) -> Result<bool, Errno> {
    let vcpu = c.vcpu as usize;
    if vcpu >= caller.domain_exact(domid.0).ok_or(Errno::ESRCH)?.vcpus().len() {
        return Err(Errno::EINVAL);
    }
    if c.ctxt == 0 {
        return with(caller, domid, |d| {
            let v = &mut d.vcpus()[vcpu];
            (v.context, v.up) = (None, false);
            Ok(false)
        });
    }
    let ctx: VcpuGuestContext = read_arg(caller, c.ctxt)?;
    if vcpu == 0 && ctx.vm_assist & !(1 << abi::xen::VMASST_TYPE_RUNSTATE_UPDATE_FLAG) != 0 {
        return Err(Errno::EINVAL);
    }
    with(caller, domid, |d| {
        let v = &mut d.vcpus()[vcpu];
        v.context = Some(VcpuContext { flags: ctx.flags, regs: ctx.user_regs, debugreg: ctx.debugreg, ..VcpuContext::default() });
        v.up = ctx.flags & VGCF_ONLINE != 0;
        Ok(false)
    })
}

fn get_vcpu_context(caller: &mut impl Caller, domid: DomId, c: XenDomctlVcpucontext) -> Result<bool, Errno> {
    let d = caller.domain_exact(domid.0).ok_or(Errno::ESRCH)?;
    let kept = d.vcpus().get(c.vcpu as usize).ok_or(Errno::EINVAL)?.context.ok_or(Errno::ENODATA)?;
    let mut ctx = VcpuGuestContext::new_zeroed();
    (ctx.flags, ctx.user_regs, ctx.debugreg) = (kept.flags, kept.regs, kept.debugreg);
    write_arg(caller, c.ctxt, &ctx)?;
    Ok(false)
}

/// CPUs a hard affinity may name: the online ones but CPU 0, Dom0's.
fn domu_cpus(caller: &impl Caller) -> u64 {
    let n = caller.machine().nr_cpus.min(64);
    let online = if n >= 64 { u64::MAX } else { (1u64 << n) - 1 };
    online & !1
}

/// `vcpu_affinity_domctl`: the masks go through `xenctl_bitmap`s in guest
/// memory (up to 64 CPUs here). Set writes back the effective affinity.
fn vcpu_affinity(caller: &mut impl Caller, domid: DomId, set: bool, aff: &mut XenDomctlVcpuaffinity) -> Result<(), Errno> {
    let usable = domu_cpus(caller);
    let vcpu = aff.vcpu as usize;
    if vcpu >= caller.domain_exact(domid.0).ok_or(Errno::ESRCH)?.vcpus().len() {
        return Err(Errno::EINVAL);
    }
    if aff.flags & (XEN_VCPUAFFINITY_HARD | XEN_VCPUAFFINITY_SOFT) == 0 {
        return Err(Errno::EINVAL);
    }
    let (hard, soft) = (aff.flags & XEN_VCPUAFFINITY_HARD != 0, aff.flags & XEN_VCPUAFFINITY_SOFT != 0);
    if set {
        let new_hard = if hard { Some(read_bitmap(caller, &aff.cpumap_hard)?) } else { None };
        let new_soft = if soft { Some(read_bitmap(caller, &aff.cpumap_soft)?) } else { None };
        if new_hard.is_some_and(|m| m & usable == 0) {
            return Err(Errno::EINVAL);
        }
        let d = caller.domain_exact(domid.0).ok_or(Errno::ESRCH)?;
        let v = &mut d.vcpus()[vcpu];
        v.hard_affinity = new_hard.unwrap_or(v.hard_affinity);
        v.soft_affinity = new_soft.unwrap_or(v.soft_affinity);
        // The AP it lives on hands it over at its next decision: kicked,
        // it makes one now rather than at its slice's end.
        if let Some(cpu) = v.running_on.filter(|&cpu| v.hard_affinity & (1 << cpu.min(63)) == 0) {
            crate::sched::kick::reschedule(cpu);
        }
    }
    let d = caller.domain_exact(domid.0).ok_or(Errno::ESRCH)?;
    let v = &d.vcpus()[vcpu];
    let (h, s) = (v.hard_affinity, v.soft_affinity);
    let online = usable | 1;
    if hard {
        write_bitmap(caller, &aff.cpumap_hard, h & online)?;
    }
    if soft {
        write_bitmap(caller, &aff.cpumap_soft, if set { s & h & online } else { s & online })?;
    }
    Ok(())
}

/// `xenctl_bitmap_to_bitmap` for at most 64 bits.
fn read_bitmap(caller: &impl Caller, map: &abi::xen::XenctlBitmap) -> Result<u64, Errno> {
    let bytes = (map.nr_bits as usize).div_ceil(8).min(8);
    let mut buf = [0u8; 8];
    caller.copy_from_guest(map.bitmap, &mut buf[..bytes])?;
    let mut mask = u64::from_le_bytes(buf);
    if map.nr_bits < 64 {
        mask &= (1u64 << map.nr_bits) - 1;
    }
    Ok(mask)
}

/// `cpumask_to_xenctl_bitmap`: the mask, then zeros to the guest's size.
fn write_bitmap(caller: &mut impl Caller, map: &abi::xen::XenctlBitmap, mask: u64) -> Result<(), Errno> {
    let bytes = (map.nr_bits as usize).div_ceil(8);
    let mut out = alloc::vec![0u8; bytes.min(4096)];
    let n = out.len().min(8);
    out[..n].copy_from_slice(&mask.to_le_bytes()[..n]);
    caller.copy_to_guest(map.bitmap, &out)
}

fn with(caller: &mut impl Caller, domid: DomId, f: impl FnOnce(&mut dyn DomainOps) -> Result<bool, Errno>) -> Result<bool, Errno> {
    caller.domain_exact(domid.0).ok_or(Errno::ESRCH).and_then(f)
}

fn create(caller: &mut impl Caller, op: &mut XenDomctl) -> Result<bool, Errno> {
    let config: XenDomctlCreatedomain = op.payload();
    if config.flags & !KNOWN_CDF != 0 || config.flags & XEN_DOMCTL_CDF_HVM == 0 {
        return Err(Errno::EINVAL);
    }
    if config.max_vcpus == 0 || config.max_vcpus > MAX_VCPUS {
        return Err(Errno::EINVAL);
    }
    let wanted = op.domain.0;
    let id = if wanted > 0 && wanted < abi::xen::DOMID_FIRST_RESERVED.0 {
        if caller.domain_exact(wanted).is_some() {
            return Err(Errno::EEXIST);
        }
        wanted
    } else {
        0
    };
    let id = caller.create_domain(id, config.max_vcpus, config.handle)?;
    op.domain = DomId(id);
    Ok(true)
}

/// `getdomaininfo()` of Xen's domctl.c.
pub fn domain_info(d: &mut dyn DomainOps) -> XenDomctlGetdomaininfo {
    let mut info = XenDomctlGetdomaininfo::new_zeroed();
    let vcpus = low32_usize(d.vcpus().len());
    let online = low32_usize(d.vcpus().iter().filter(|v| v.up).count());
    info.domain = DomId(d.id());
    info.max_vcpu_id = vcpus.saturating_sub(1);
    info.nr_online_vcpus = online;
    let mut flags = XEN_DOMINF_HVM_GUEST | XEN_DOMINF_HAP;
    // As Xen: running if a vCPU is on a CPU now, blocked if every online one waits.
    let paused = d.paused();
    let vcpus = d.vcpus();
    if vcpus.iter().any(|v| v.up && v.signals.is_running()) {
        flags |= XEN_DOMINF_RUNNING;
    }
    if online > 0 && !paused && vcpus.iter().filter(|v| v.up).all(|v| v.signals.is_blocked()) {
        flags |= XEN_DOMINF_BLOCKED;
    }
    if d.paused() {
        flags |= XEN_DOMINF_PAUSED;
    }
    if let Some(reason) = d.shut_down_reason() {
        flags |= XEN_DOMINF_SHUTDOWN | ((reason & XEN_DOMINF_SHUTDOWNMASK) << XEN_DOMINF_SHUTDOWNSHIFT);
    }
    info.flags = flags;
    info.tot_pages = d.tot_pages();
    info.max_pages = d.max_pages();
    info.shared_info_frame = d.shared_info_gfn().unwrap_or(u64::MAX);
    info.cpu_time = d.cpu_time_ns();
    info.handle = d.handle();
    info.gpaddr_bits = 48;
    info
}

#[cfg(test)]
mod tests {
    use super::super::fake::FakeCaller;
    use super::*;

    fn op(cmd: u32, domain: u16) -> XenDomctl {
        XenDomctl::new(cmd, DomId(domain), &[0u8; 0])
    }

    #[test]
    fn checks_come_in_xens_order() {
        let mut u = FakeCaller::unprivileged(512);
        assert_eq!(domctl(&mut u, 500), Outcome::err(Errno::EFAULT));
        let mut bad_version = op(XEN_DOMCTL_GETDOMAININFO, 0);
        bad_version.interface_version = 0x14;
        u.put(0, &bad_version);
        assert_eq!(domctl(&mut u, 0), Outcome::err(Errno::EACCES));
        u.put(0, &op(XEN_DOMCTL_PAUSEDOMAIN, 77));
        assert_eq!(domctl(&mut u, 0), Outcome::err(Errno::ESRCH), "the domain is looked up before XSM");
        u.put(0, &op(XEN_DOMCTL_PAUSEDOMAIN, 0));
        assert_eq!(domctl(&mut u, 0), Outcome::err(Errno::EPERM));
        u.put(0, &op(XEN_DOMCTL_GETDOMAININFO, 77));
        assert_eq!(domctl(&mut u, 0), Outcome::err(Errno::EPERM), "getdomaininfo: XSM first, as it looks for the next domain");
    }

    #[test]
    fn getdomaininfo_finds_the_next_domain_and_refuses_reserved_ids() {
        let mut c = FakeCaller::new(512);
        c.put(0, &op(XEN_DOMCTL_GETDOMAININFO, abi::xen::DOMID_SELF.0));
        assert_eq!(domctl(&mut c, 0), Outcome::err(Errno::EINVAL));
        c.domains.retain(|d| d.id != 1);
        c.create_domain(5, 1, [0; 16]).unwrap();
        c.put(0, &op(XEN_DOMCTL_GETDOMAININFO, 1));
        assert_eq!(domctl(&mut c, 0), Outcome::Return(0));
        assert_eq!(c.get::<XenDomctl>(0).domain, DomId(5));
        c.put(0, &op(XEN_DOMCTL_GETDOMAININFO, 6));
        assert_eq!(domctl(&mut c, 0), Outcome::err(Errno::ESRCH));
    }

    #[test]
    fn getdomaininfo_reports_the_domain() {
        let mut c = FakeCaller::new(512);
        c.put(0, &op(XEN_DOMCTL_GETDOMAININFO, 1));
        assert_eq!(domctl(&mut c, 0), Outcome::Return(0));
        let info: XenDomctlGetdomaininfo = c.get::<XenDomctl>(0).payload();
        assert_eq!(info.domain, DomId(1));
        assert_eq!(info.tot_pages, 256);
        assert_eq!(info.max_vcpu_id, 1);
        assert_ne!(info.flags & XEN_DOMINF_HVM_GUEST, 0);
    }

    #[test]
    fn create_pause_unpause_destroy() {
        let mut c = FakeCaller::new(512);
        let mut config = XenDomctlCreatedomain::new_zeroed();
        (config.flags, config.max_vcpus) = (XEN_DOMCTL_CDF_HVM | XEN_DOMCTL_CDF_HAP, 2);
        c.put(0, &XenDomctl::new(XEN_DOMCTL_CREATEDOMAIN, DomId(0), &config));
        assert_eq!(domctl(&mut c, 0), Outcome::Return(0));
        let id = c.get::<XenDomctl>(0).domain.0;
        assert_eq!(id, 2);
        assert!(c.dom(id).paused, "new domains start paused");
        c.put(0, &op(XEN_DOMCTL_UNPAUSEDOMAIN, id));
        assert_eq!(domctl(&mut c, 0), Outcome::Return(0));
        assert_eq!(domctl(&mut c, 0), Outcome::err(Errno::EINVAL), "not paused any more");
        c.put(0, &op(XEN_DOMCTL_PAUSEDOMAIN, id));
        assert_eq!(domctl(&mut c, 0), Outcome::Return(0));
        c.put(0, &op(XEN_DOMCTL_DESTROYDOMAIN, id));
        assert_eq!(domctl(&mut c, 0), Outcome::Return(0));
        assert!(c.domains.iter().all(|d| d.id != id));
        assert_eq!(domctl(&mut c, 0), Outcome::err(Errno::ESRCH));
    }

    #[test]
    fn create_refuses_pv_no_vcpus_and_taken_ids() {
        let mut c = FakeCaller::new(512);
        let mut config = XenDomctlCreatedomain::new_zeroed();
        config.max_vcpus = 1;
        c.put(0, &XenDomctl::new(XEN_DOMCTL_CREATEDOMAIN, DomId(0), &config));
        assert_eq!(domctl(&mut c, 0), Outcome::err(Errno::EINVAL), "PV");
        config.flags = XEN_DOMCTL_CDF_HVM;
        config.max_vcpus = 0;
        c.put(0, &XenDomctl::new(XEN_DOMCTL_CREATEDOMAIN, DomId(0), &config));
        assert_eq!(domctl(&mut c, 0), Outcome::err(Errno::EINVAL), "no vCPU");
        config.max_vcpus = 1;
        c.put(0, &XenDomctl::new(XEN_DOMCTL_CREATEDOMAIN, DomId(1), &config));
        assert_eq!(domctl(&mut c, 0), Outcome::err(Errno::EEXIST));
    }

    #[test]
    fn the_caller_cannot_pause_or_destroy_itself() {
        let mut c = FakeCaller::new(512);
        for cmd in [XEN_DOMCTL_PAUSEDOMAIN, XEN_DOMCTL_UNPAUSEDOMAIN, XEN_DOMCTL_DESTROYDOMAIN] {
            c.put(0, &op(cmd, 0));
            assert_eq!(domctl(&mut c, 0), Outcome::err(Errno::EINVAL));
        }
    }

    #[test]
    fn max_mem_sets_the_limit_in_kib() {
        let mut c = FakeCaller::new(512);
        c.put(0, &XenDomctl::new(XEN_DOMCTL_MAX_MEM, DomId(1), &XenDomctlMaxMem { max_memkb: 8192 }));
        assert_eq!(domctl(&mut c, 0), Outcome::Return(0));
        assert_eq!(c.dom(1).max_pages, 2048);
        c.put(0, &XenDomctl::new(XEN_DOMCTL_MAX_VCPUS, DomId(0), &XenDomctlMaxVcpus { max: 4 }));
        assert_eq!(domctl(&mut c, 0), Outcome::err(Errno::EINVAL), "not itself");
        c.put(0, &op(9999, 1));
        assert_eq!(domctl(&mut c, 0), Outcome::err(Errno::ENOSYS));
    }

    #[test]
    fn max_vcpus_only_accepts_the_count_createdomain_gave() {
        // Xen 4.17: `max != d->max_vcpus` is -EINVAL, so a paused domain
        // whose vCPU runs cannot lose it (it would escape destroy's check).
        let mut c = FakeCaller::new(512);
        c.dom(1).paused = true;
        c.dom(1).vcpus[1].running_on = Some(3);
        for (max, want) in [(1, Outcome::err(Errno::EINVAL)), (4, Outcome::err(Errno::EINVAL)), (0, Outcome::err(Errno::EINVAL)), (2, Outcome::Return(0))] {
            c.put(0, &XenDomctl::new(XEN_DOMCTL_MAX_VCPUS, DomId(1), &XenDomctlMaxVcpus { max }));
            assert_eq!(domctl(&mut c, 0), want, "max {max}");
            assert_eq!(c.dom(1).vcpus.len(), 2);
        }
        assert_eq!(c.dom(1).vcpus[1].running_on, Some(3));
    }

    #[test]
    fn destroying_a_domain_whose_vcpu_runs_releases_nothing_until_it_stopped() {
        use abi::grant_table::GNTMAP_HOST_MAP;
        use crate::domain::grant::Mapping;
        let mut c = FakeCaller::new(512);
        // Domain 1 maps a grant of domain 0 at its gfn 0x300.
        c.dom(1).grant.track(0, Mapping { domid: 0, gref: 5, flags: GNTMAP_HOST_MAP, gfn: 0x300, mfn: 0x42, granter_gone: false }).unwrap();
        c.dom(1).grant_maps.insert(0x300, (0x42, false));
        c.dom(1).vcpus[0].running_on = Some(1);
        c.put(0, &XenDomctl::new(XEN_DOMCTL_DESTROYDOMAIN, DomId(1), &[0u8; 0]));
        assert_eq!(domctl(&mut c, 0), Outcome::Preempted(0), "the call continues while a vCPU runs");
        assert!(c.dom(1).grant_maps.contains_key(&0x300), "its grant mapping is still there while it runs");
        assert!(c.dom(1).grant.maptrack[0].is_some());
        c.dom(1).vcpus[0].running_on = None;
        assert_eq!(domctl(&mut c, 0), Outcome::Return(0));
        assert!(c.domains.iter().all(|d| d.id != 1));
    }

    #[test]
    fn set_and_get_vcpu_context() {
        let mut c = FakeCaller::new(16384);
        let ctx_at = 4096u64;
        let vc = |vcpu, ctxt| XenDomctlVcpucontext { vcpu, _pad: 0, ctxt };
        let mut ctx = VcpuGuestContext::new_zeroed();
        ctx.flags = VGCF_ONLINE;
        (ctx.user_regs.rip, ctx.user_regs.rbx) = (0x10_0000, 0x12_0000);
        c.put(ctx_at as usize, &ctx);
        c.put(0, &XenDomctl::new(XEN_DOMCTL_GETVCPUCONTEXT, DomId(1), &vc(0, ctx_at)));
        assert_eq!(domctl(&mut c, 0), Outcome::err(Errno::ENODATA), "not initialised yet");
        c.put(0, &XenDomctl::new(XEN_DOMCTL_SETVCPUCONTEXT, DomId(1), &vc(2, ctx_at)));
        assert_eq!(domctl(&mut c, 0), Outcome::err(Errno::EINVAL), "domain 1 has 2 vCPUs");
        c.put(0, &XenDomctl::new(XEN_DOMCTL_SETVCPUCONTEXT, DomId(0), &vc(0, ctx_at)));
        assert_eq!(domctl(&mut c, 0), Outcome::err(Errno::EINVAL), "not the caller");
        c.put(0, &XenDomctl::new(XEN_DOMCTL_SETVCPUCONTEXT, DomId(1), &vc(1, 1 << 40)));
        assert_eq!(domctl(&mut c, 0), Outcome::err(Errno::EFAULT));
        c.put(0, &XenDomctl::new(XEN_DOMCTL_SETVCPUCONTEXT, DomId(1), &vc(1, ctx_at)));
        assert_eq!(domctl(&mut c, 0), Outcome::Return(0));
        assert!(c.dom(1).vcpus[1].up);
        assert_eq!(c.dom(1).vcpus[1].context.unwrap().regs.rip, 0x10_0000);
        c.put(ctx_at as usize, &VcpuGuestContext::new_zeroed());
        c.put(0, &XenDomctl::new(XEN_DOMCTL_GETVCPUCONTEXT, DomId(1), &vc(1, ctx_at)));
        assert_eq!(domctl(&mut c, 0), Outcome::Return(0));
        let back: VcpuGuestContext = c.get(ctx_at as usize);
        assert_eq!((back.flags, back.user_regs.rip, back.user_regs.rbx), (VGCF_ONLINE, 0x10_0000, 0x12_0000));
        ctx.vm_assist = 1;
        c.put(ctx_at as usize, &ctx);
        c.put(0, &XenDomctl::new(XEN_DOMCTL_SETVCPUCONTEXT, DomId(1), &vc(0, ctx_at)));
        assert_eq!(domctl(&mut c, 0), Outcome::err(Errno::EINVAL), "a PV-only vm_assist type on vCPU 0");
        c.put(0, &XenDomctl::new(XEN_DOMCTL_SETVCPUCONTEXT, DomId(1), &vc(1, 0)));
        assert_eq!(domctl(&mut c, 0), Outcome::Return(0));
        assert_eq!((c.dom(1).vcpus[1].up, c.dom(1).vcpus[1].context), (false, None), "NULL resets");
    }

    #[test]
    fn vcpu_affinity_is_checked_kept_and_read_back() {
        let mut c = FakeCaller::new(4096);
        let bitmap = |at: u64, nr_bits: u32| abi::xen::XenctlBitmap { bitmap: at, nr_bits, _pad: 0 };
        let aff = |vcpu, flags, hard, soft| XenDomctlVcpuaffinity { vcpu, flags, cpumap_hard: hard, cpumap_soft: soft };
        c.put(512, &0b0110u8);
        let set = aff(1, XEN_VCPUAFFINITY_HARD, bitmap(512, 8), bitmap(0, 0));
        c.put(0, &XenDomctl::new(XEN_DOMCTL_SETVCPUAFFINITY, DomId(1), &set));
        assert_eq!(domctl(&mut c, 0), Outcome::Return(0));
        assert_eq!(c.dom(1).vcpus[1].hard_affinity, 0b0110);
        c.put(512, &0b0001u8);
        c.put(0, &XenDomctl::new(XEN_DOMCTL_SETVCPUAFFINITY, DomId(1), &set));
        assert_eq!(domctl(&mut c, 0), Outcome::err(Errno::EINVAL), "CPU 0 only: no CPU a DomU may use");
        c.put(0, &XenDomctl::new(XEN_DOMCTL_SETVCPUAFFINITY, DomId(1), &aff(1, 0, bitmap(512, 8), bitmap(0, 0))));
        assert_eq!(domctl(&mut c, 0), Outcome::err(Errno::EINVAL), "neither hard nor soft");
        c.put(0, &XenDomctl::new(XEN_DOMCTL_SETVCPUAFFINITY, DomId(1), &aff(2, XEN_VCPUAFFINITY_HARD, bitmap(512, 8), bitmap(0, 0))));
        assert_eq!(domctl(&mut c, 0), Outcome::err(Errno::EINVAL), "no vCPU 2");
        c.put(0, &XenDomctl::new(XEN_DOMCTL_SETVCPUAFFINITY, DomId(1), &aff(1, XEN_VCPUAFFINITY_HARD, bitmap(1 << 40, 8), bitmap(0, 0))));
        assert_eq!(domctl(&mut c, 0), Outcome::err(Errno::EFAULT));
        c.put(600, &[0xffu8; 4]);
        c.put(0, &XenDomctl::new(XEN_DOMCTL_GETVCPUAFFINITY, DomId(1), &aff(1, XEN_VCPUAFFINITY_HARD, bitmap(600, 32), bitmap(0, 0))));
        assert_eq!(domctl(&mut c, 0), Outcome::Return(0));
        assert_eq!(c.mem[600..604], [0b0010, 0, 0, 0], "the online part of the mask (2 CPUs), then zeros to the caller's size");
    }

    /// A scheduler_op on `domain`; returns the outcome and the union after.
    fn sched_op(c: &mut FakeCaller, domain: u16, sched_id: u32, cmd: u32, weight: u16, cap: u16) -> (Outcome, [u64; 2]) {
        let u = [u64::from(weight) | u64::from(cap) << 16 | 0xdead_0000_0000, 7];
        c.put(0, &XenDomctl::new(XEN_DOMCTL_SCHEDULER_OP, DomId(domain), &XenDomctlSchedulerOp { sched_id, cmd, u }));
        let outcome = domctl(c, 0);
        (outcome, c.get::<XenDomctl>(0).payload::<XenDomctlSchedulerOp>().u)
    }

    #[test]
    fn scheduler_op_keeps_credit2_weight_and_cap_until_destroy() {
        use crate::sched::credit::Credit2Info;
        use crate::sched::params;
        // The parameter table is global: an id no other test uses.
        let mut c = FakeCaller::new(4096);
        let id = c.create_domain(30_001, 2, [0; 16]).unwrap();
        let (ok, err) = (Outcome::Return(0), Outcome::err(Errno::EINVAL));
        let get = |c: &mut FakeCaller| sched_op(c, id, XEN_SCHEDULER_CREDIT2, XEN_DOMCTL_SCHEDOP_GETINFO, 0, 0);
        assert_eq!(get(&mut c), (ok, [256 | 0xdead_0000_0000, 7]), "the defaults; only weight and cap are written");
        assert_eq!(sched_op(&mut c, id, XEN_SCHEDULER_CREDIT2, XEN_DOMCTL_SCHEDOP_PUTINFO, 512, 0).0, ok);
        assert_eq!(get(&mut c).1[0] & 0xffff_ffff, 512);
        assert_eq!(sched_op(&mut c, id, XEN_SCHEDULER_CREDIT2, XEN_DOMCTL_SCHEDOP_PUTINFO, 0, 150), (ok, [150 << 16 | 0xdead_0000_0000, 7]), "putinfo copies the op back unchanged");
        assert_eq!(params::get(id), Credit2Info { weight: 512, cap: 150 }, "weight 0 leaves it alone");
        assert_eq!(sched_op(&mut c, id, XEN_SCHEDULER_CREDIT2, XEN_DOMCTL_SCHEDOP_PUTINFO, 9, 201).0, err, "over 100 per vCPU");
        assert_eq!(params::get(id), Credit2Info { weight: 9, cap: 150 }, "Xen takes the weight before refusing the cap");
        assert_eq!(sched_op(&mut c, id, XEN_SCHEDULER_CREDIT2, XEN_DOMCTL_SCHEDOP_PUTINFO, 0, 200).0, ok);
        assert_eq!(sched_op(&mut c, id, XEN_SCHEDULER_CREDIT2, XEN_DOMCTL_SCHEDOP_PUTINFO, 0, 0).0, ok);
        assert_eq!(params::get(id), Credit2Info { weight: 9, cap: 0 }, "cap 0 lifts it");
        for (sched_id, cmd) in [(XEN_SCHEDULER_NULL, XEN_DOMCTL_SCHEDOP_GETINFO), (XEN_SCHEDULER_CREDIT, XEN_DOMCTL_SCHEDOP_PUTINFO), (XEN_SCHEDULER_CREDIT2, XEN_DOMCTL_SCHEDOP_PUTVCPUINFO), (XEN_SCHEDULER_CREDIT2, XEN_DOMCTL_SCHEDOP_GETVCPUINFO), (XEN_SCHEDULER_CREDIT2, 4)] {
            assert_eq!(sched_op(&mut c, id, sched_id, cmd, 100, 0).0, err, "sched {sched_id} cmd {cmd}");
        }
        assert_eq!(params::get(id).weight, 9, "nothing refused changed anything");
        assert_eq!(sched_op(&mut c, 30_002, XEN_SCHEDULER_CREDIT2, XEN_DOMCTL_SCHEDOP_GETINFO, 0, 0).0, Outcome::err(Errno::ESRCH));
        c.privileged = false;
        assert_eq!(sched_op(&mut c, id, XEN_SCHEDULER_CREDIT2, XEN_DOMCTL_SCHEDOP_PUTINFO, 100, 0).0, Outcome::err(Errno::EPERM));
        c.privileged = true;
        c.put(0, &op(XEN_DOMCTL_DESTROYDOMAIN, id));
        assert_eq!(domctl(&mut c, 0), ok);
        assert_eq!(params::get(id), params::DEFAULT, "forgotten with the domain");
    }

    #[test]
    fn getvcpuinfo_reports_each_vcpu() {
        let mut c = FakeCaller::new(512);
        c.dom(1).vcpus[1].running_on = Some(1);
        c.dom(1).vcpus[1].up = true;
        c.dom(1).vcpus[1].signals.started(1000);
        let ask = |c: &mut FakeCaller, vcpu| {
            c.put(0, &XenDomctl::new(XEN_DOMCTL_GETVCPUINFO, DomId(1), &XenDomctlGetvcpuinfo { vcpu, ..Default::default() }));
            (domctl(c, 0), c.get::<XenDomctl>(0).payload::<XenDomctlGetvcpuinfo>())
        };
        let (rc, v0) = ask(&mut c, 0);
        assert_eq!(rc, Outcome::Return(0));
        assert_eq!((v0.online, v0.running, v0.blocked, v0.cpu, v0.cpu_time), (1, 0, 0, 0, 0));
        let (_, v1) = ask(&mut c, 1);
        assert_eq!((v1.online, v1.running, v1.cpu, v1.cpu_time), (1, 1, 1, 4000), "running since 1000, now 5000");
        c.dom(1).vcpus[1].signals.block(5000);
        assert_eq!((ask(&mut c, 1).1.running, ask(&mut c, 1).1.blocked), (0, 1));
        assert_eq!(ask(&mut c, 2).0, Outcome::err(Errno::EINVAL), "domain 1 has 2 vCPUs");
    }
}
