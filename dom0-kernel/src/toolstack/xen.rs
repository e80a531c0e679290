//! The hypercalls the toolstack makes, typed: domctl, sysctl, memory_op on
//! another domain, remote shutdown, event channels between Dom0 and a DomU,
//! HVM params of a DomU. Errors keep Xen's error number.

use alloc::vec::Vec;
use core::fmt;

use abi::domctl::*;
use abi::errno::Errno;
use abi::event_channel::{
    EVTCHNOP_ALLOC_UNBOUND, EVTCHNOP_BIND_INTERDOMAIN, EVTCHNOP_CLOSE, EVTCHNOP_SEND, EvtchnAllocUnbound,
    EvtchnBindInterdomain, EvtchnOnePort,
};
use abi::hvm::hvm_op::{HVMOP_SET_PARAM, XenHvmParam};
use abi::memory::*;
use abi::sched::{SCHEDOP_REMOTE_SHUTDOWN, SchedRemoteShutdown};
use abi::sysctl::*;
use abi::vcpu_context::{VGCF_ONLINE, VcpuGuestContext};
use abi::xen::{
    DOMID_SELF, DomId, HYPERVISOR_DOMCTL, HYPERVISOR_EVENT_CHANNEL_OP, HYPERVISOR_HVM_OP, HYPERVISOR_MEMORY_OP,
    HYPERVISOR_SCHED_OP, HYPERVISOR_SYSCTL,
};
use abi::zerocopy::FromZeros;
use guest_rt::hypercall;

/// A hypercall that failed: what it was for, and Xen's answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct XenError {
    pub what: &'static str,
    pub rc: i64,
}

impl fmt::Display for XenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match Errno::from_hypercall_ret(self.rc.cast_unsigned()) {
            Some(e) => write!(f, "{}: {e} ({})", self.what, self.rc),
            None => write!(f, "{}: returned {}", self.what, self.rc),
        }
    }
}

fn check(what: &'static str, rc: u64) -> Result<u64, XenError> {
    let signed = rc.cast_signed();
    if signed < 0 { Err(XenError { what, rc: signed }) } else { Ok(rc) }
}

fn domctl(what: &'static str, op: &mut XenDomctl) -> Result<(), XenError> {
    // SAFETY: `op` is a live, writable XenDomctl; Xen reads and writes only it (and the buffers its payload names, which callers keep alive).
    check(what, unsafe { hypercall::hypercall1(HYPERVISOR_DOMCTL, core::ptr::from_mut(op) as u64) }).map(|_| ())
}

fn sysctl(what: &'static str, op: &mut XenSysctl) -> Result<(), XenError> {
    // SAFETY: as for `domctl`.
    check(what, unsafe { hypercall::hypercall1(HYPERVISOR_SYSCTL, core::ptr::from_mut(op) as u64) }).map(|_| ())
}

fn memory_op<T>(what: &'static str, cmd: u64, arg: &mut T) -> Result<u64, XenError> {
    // SAFETY: `arg` is the live struct `cmd` takes; the arrays it points at are kept alive by the caller.
    check(what, unsafe { hypercall::hypercall2(HYPERVISOR_MEMORY_OP, cmd, core::ptr::from_mut(arg) as u64) })
}

/// XEN_DOMCTL_createdomain: an HVM (PVH) domain with HAP, paused.
pub fn create_domain(max_vcpus: u32, max_evtchn_port: u32, max_grant_frames: i32) -> Result<u16, XenError> {
    create_domain_with_handle(max_vcpus, max_evtchn_port, max_grant_frames, [0; 16])
}

/// XEN_DOMCTL_createdomain with the domain's handle (libxl: its uuid's
/// 16 bytes, which `XENVER_guest_handle` shows the guest).
pub fn create_domain_with_handle(max_vcpus: u32, max_evtchn_port: u32, max_grant_frames: i32, handle: [u8; 16]) -> Result<u16, XenError> {
    let mut config = XenDomctlCreatedomain::new_zeroed();
    config.handle = handle;
    config.flags = XEN_DOMCTL_CDF_HVM | XEN_DOMCTL_CDF_HAP;
    config.max_vcpus = max_vcpus;
    config.max_evtchn_port = max_evtchn_port;
    config.max_grant_frames = max_grant_frames;
    config.max_maptrack_frames = -1;
    let mut op = XenDomctl::new(XEN_DOMCTL_CREATEDOMAIN, DomId(0), &config);
    domctl("createdomain", &mut op)?;
    Ok(op.domain.0)
}

fn simple(what: &'static str, cmd: u32, domid: u16) -> Result<(), XenError> {
    let mut op = XenDomctl::new(cmd, DomId(domid), &[0u8; 0]);
    domctl(what, &mut op)
}

/// XEN_DOMCTL_destroydomain (Xen continues it until the domain's vCPUs stopped).
pub fn destroy_domain(domid: u16) -> Result<(), XenError> {
    simple("destroydomain", XEN_DOMCTL_DESTROYDOMAIN, domid)
}

pub fn pause_domain(domid: u16) -> Result<(), XenError> {
    simple("pausedomain", XEN_DOMCTL_PAUSEDOMAIN, domid)
}

pub fn unpause_domain(domid: u16) -> Result<(), XenError> {
    simple("unpausedomain", XEN_DOMCTL_UNPAUSEDOMAIN, domid)
}

pub fn max_mem(domid: u16, kib: u64) -> Result<(), XenError> {
    let mut op = XenDomctl::new(XEN_DOMCTL_MAX_MEM, DomId(domid), &XenDomctlMaxMem { max_memkb: kib });
    domctl("max_mem", &mut op)
}

/// Starts vCPU `vcpu` at `rip` with `rbx` (PVH: the start info) once unpaused.
pub fn set_vcpu_context(domid: u16, vcpu: u32, rip: u64, rbx: u64) -> Result<(), XenError> {
    let mut ctx = VcpuGuestContext::new_zeroed();
    ctx.flags = VGCF_ONLINE;
    (ctx.user_regs.rip, ctx.user_regs.rbx) = (rip, rbx);
    let arg = XenDomctlVcpucontext { vcpu, _pad: 0, ctxt: core::ptr::from_ref(&ctx) as u64 };
    let mut op = XenDomctl::new(XEN_DOMCTL_SETVCPUCONTEXT, DomId(domid), &arg);
    domctl("setvcpucontext", &mut op)
}

/// SCHEDOP_remote_shutdown: `domid` shuts down with `reason` (SHUTDOWN_*).
pub fn remote_shutdown(domid: u16, reason: u32) -> Result<(), XenError> {
    let arg = SchedRemoteShutdown { domain_id: DomId(domid), _pad: 0, reason };
    // SAFETY: a live struct Xen only reads.
    check("remote_shutdown", unsafe {
        hypercall::hypercall2(HYPERVISOR_SCHED_OP, SCHEDOP_REMOTE_SHUTDOWN, core::ptr::from_ref(&arg) as u64)
    })
    .map(|_| ())
}

/// XEN_SYSCTL_getdomaininfolist from `first`: every domain, in id order.
pub fn domain_infos() -> Result<Vec<XenDomctlGetdomaininfo>, XenError> {
    const MAX_DOMAINS: u32 = 64;
    let mut buffer: Vec<XenDomctlGetdomaininfo> = (0..MAX_DOMAINS).map(|_| XenDomctlGetdomaininfo::new_zeroed()).collect();
    let list = XenSysctlGetdomaininfolist {
        first_domain: DomId(0),
        max_domains: MAX_DOMAINS,
        buffer: buffer.as_mut_ptr() as u64,
        ..FromZeros::new_zeroed()
    };
    let mut op = XenSysctl::new(XEN_SYSCTL_GETDOMAININFOLIST, &list);
    sysctl("getdomaininfolist", &mut op)?;
    let n = op.payload::<XenSysctlGetdomaininfolist>().num_domains as usize;
    buffer.truncate(n.min(buffer.len()));
    Ok(buffer)
}

pub fn physinfo() -> Result<XenSysctlPhysinfo, XenError> {
    let mut op = XenSysctl::new(XEN_SYSCTL_PHYSINFO, &XenSysctlPhysinfo::new_zeroed());
    sysctl("physinfo", &mut op)?;
    Ok(op.payload())
}

/// A reservation op (populate_physmap, decrease_reservation) on `gfns` of
/// `domid`, `2^order` pages each; -ENOMEM/-EINVAL when not all were done.
fn reservation(what: &'static str, cmd: u64, domid: u16, gfns: &mut [u64], order: u32) -> Result<(), XenError> {
    let mut r = XenMemoryReservation {
        extent_start: gfns.as_mut_ptr() as u64,
        nr_extents: gfns.len() as u64,
        extent_order: order,
        mem_flags: 0,
        domid: DomId(domid),
        _pad: [0; 3],
    };
    let done = memory_op(what, cmd, &mut r)?;
    if usize::try_from(done).ok() != Some(gfns.len()) {
        let errno = if cmd == XENMEM_POPULATE_PHYSMAP { Errno::ENOMEM } else { Errno::EINVAL };
        return Err(XenError { what, rc: -(errno as i64) });
    }
    Ok(())
}

/// XENMEM_populate_physmap for `domid`: `2^order` pages at each gfn of `gfns`.
pub fn populate(domid: u16, gfns: &mut [u64], order: u32) -> Result<(), XenError> {
    reservation("populate_physmap", XENMEM_POPULATE_PHYSMAP, domid, gfns, order)
}

/// XENMEM_decrease_reservation: `domid` gives back its pages at `gfns`.
pub fn decrease_reservation(domid: u16, gfns: &mut [u64]) -> Result<(), XenError> {
    reservation("decrease_reservation", XENMEM_DECREASE_RESERVATION, domid, gfns, 0)
}

/// XENMEM_set_memory_map for `domid`.
pub fn set_memory_map(domid: u16, map: &mut [E820Entry]) -> Result<(), XenError> {
    let mut arg = XenForeignMemoryMap {
        domid: DomId(domid),
        _pad: [0; 3],
        map: XenMemoryMap { nr_entries: u32::try_from(map.len()).unwrap_or(u32::MAX), _pad: 0, buffer: map.as_mut_ptr() as u64 },
    };
    memory_op("set_memory_map", XENMEM_SET_MEMORY_MAP, &mut arg).map(|_| ())
}

/// Maps `domid`'s pages `gfns` at our own `at` (XENMAPSPACE_gmfn_foreign).
pub fn map_foreign(domid: u16, gfns: &[u64], at: &[u64]) -> Result<(), XenError> {
    let mut errs: Vec<i32> = alloc::vec![0; gfns.len()];
    let mut arg = XenAddToPhysmapBatch {
        domid: DOMID_SELF,
        space: XENMAPSPACE_GMFN_FOREIGN.try_into().unwrap_or(u16::MAX),
        size: u16::try_from(gfns.len()).unwrap_or(u16::MAX),
        u: domid,
        idxs: gfns.as_ptr() as u64,
        gpfns: at.as_ptr() as u64,
        errs: errs.as_mut_ptr() as u64,
    };
    memory_op("add_to_physmap_batch", XENMEM_ADD_TO_PHYSMAP_BATCH, &mut arg)?;
    match errs.iter().find(|&&e| e != 0) {
        Some(&e) => Err(XenError { what: "mapping a page of the new domain", rc: i64::from(e) }),
        None => Ok(()),
    }
}

/// Moves `domid`'s RAM page at gfn `from` to gfn `to`, in one call: the
/// frame that was at `to` is freed (XENMAPSPACE_gmfn).
pub fn move_frame(domid: u16, from: u64, to: u64) -> Result<(), XenError> {
    let mut arg = XenAddToPhysmap { domid: DomId(domid), size: 0, space: XENMAPSPACE_GMFN, idx: from, gpfn: to };
    memory_op("add_to_physmap", XENMEM_ADD_TO_PHYSMAP, &mut arg).map(|_| ())
}

/// Removes whatever our physmap has at `gfn` (a foreign mapping).
pub fn unmap(gfn: u64) -> Result<(), XenError> {
    let mut arg = XenRemoveFromPhysmap { domid: DOMID_SELF, _pad: [0; 3], gpfn: gfn };
    memory_op("remove_from_physmap", XENMEM_REMOVE_FROM_PHYSMAP, &mut arg).map(|_| ())
}

/// XEN_SYSCTL_readconsole: the hypervisor's console ring, oldest byte first.
pub fn read_console() -> Result<alloc::string::String, XenError> {
    let mut buffer = alloc::vec![0u8; 16 * 1024];
    let rc = XenSysctlReadconsole {
        buffer: buffer.as_mut_ptr() as u64,
        count: u32::try_from(buffer.len()).unwrap_or(u32::MAX),
        ..FromZeros::new_zeroed()
    };
    let mut op = XenSysctl::new(XEN_SYSCTL_READCONSOLE, &rc);
    sysctl("readconsole", &mut op)?;
    buffer.truncate(op.payload::<XenSysctlReadconsole>().count as usize);
    Ok(alloc::string::String::from_utf8_lossy(&buffer).replace('\r', ""))
}

/// Our own pages `first..first + count` go back to Xen (ballooned out).
pub fn balloon_out(first: u64, count: u64) -> Result<(), XenError> {
    let mut gfns: Vec<u64> = (first..first + count).collect();
    decrease_reservation(DOMID_SELF.0, &mut gfns)
}

/// XEN_DOMCTL_setvcpuaffinity: `vcpu` of `domid` runs only on `hard`'s
/// CPUs and prefers `soft`'s (None: that one unchanged).
pub fn set_affinity(domid: u16, vcpu: u32, hard: Option<u64>, soft: Option<u64>) -> Result<(), XenError> {
    let mut hard_bits = hard.unwrap_or(0).to_le_bytes();
    let mut soft_bits = soft.unwrap_or(0).to_le_bytes();
    let map = |at: u64, nr_bits: u32| abi::xen::XenctlBitmap { bitmap: at, nr_bits, _pad: 0 };
    let flags = if hard.is_some() { XEN_VCPUAFFINITY_HARD } else { 0 } | if soft.is_some() { XEN_VCPUAFFINITY_SOFT } else { 0 };
    let arg = XenDomctlVcpuaffinity {
        vcpu,
        flags,
        cpumap_hard: map(hard_bits.as_mut_ptr() as u64, 64),
        cpumap_soft: map(soft_bits.as_mut_ptr() as u64, 64),
    };
    let mut op = XenDomctl::new(XEN_DOMCTL_SETVCPUAFFINITY, DomId(domid), &arg);
    domctl("setvcpuaffinity", &mut op)
}

/// XEN_DOMCTL_getvcpuaffinity: `vcpu`'s hard and soft affinity (64 CPUs).
pub fn affinity(domid: u16, vcpu: u32) -> Result<(u64, u64), XenError> {
    let mut hard = [0u8; 8];
    let mut soft = [0u8; 8];
    let map = |at: u64| abi::xen::XenctlBitmap { bitmap: at, nr_bits: 64, _pad: 0 };
    let arg = XenDomctlVcpuaffinity {
        vcpu,
        flags: XEN_VCPUAFFINITY_HARD | XEN_VCPUAFFINITY_SOFT,
        cpumap_hard: map(hard.as_mut_ptr() as u64),
        cpumap_soft: map(soft.as_mut_ptr() as u64),
    };
    let mut op = XenDomctl::new(XEN_DOMCTL_GETVCPUAFFINITY, DomId(domid), &arg);
    domctl("getvcpuaffinity", &mut op)?;
    Ok((u64::from_le_bytes(hard), u64::from_le_bytes(soft)))
}

/// XEN_DOMCTL_getvcpuinfo: `vcpu` of `domid` (online, blocked, running,
/// CPU time, its CPU).
pub fn vcpu_info(domid: u16, vcpu: u32) -> Result<XenDomctlGetvcpuinfo, XenError> {
    let arg = XenDomctlGetvcpuinfo { vcpu, ..Default::default() };
    let mut op = XenDomctl::new(XEN_DOMCTL_GETVCPUINFO, DomId(domid), &arg);
    domctl("getvcpuinfo", &mut op)?;
    Ok(op.payload())
}

/// XEN_DOMCTL_scheduler_op putinfo on credit2: weight (0: unchanged) and
/// cap (percent of one CPU, 0: none).
pub fn set_credit2(domid: u16, weight: u16, cap: u16) -> Result<(), XenError> {
    let u = [u64::from(weight) | (u64::from(cap) << 16), 0];
    let arg = XenDomctlSchedulerOp { sched_id: XEN_SCHEDULER_CREDIT2, cmd: XEN_DOMCTL_SCHEDOP_PUTINFO, u };
    let mut op = XenDomctl::new(XEN_DOMCTL_SCHEDULER_OP, DomId(domid), &arg);
    domctl("scheduler_op putinfo", &mut op)
}

/// XEN_DOMCTL_scheduler_op getinfo on credit2: (weight, cap).
pub fn credit2(domid: u16) -> Result<(u16, u16), XenError> {
    let arg = XenDomctlSchedulerOp { sched_id: XEN_SCHEDULER_CREDIT2, cmd: XEN_DOMCTL_SCHEDOP_GETINFO, u: [0; 2] };
    let mut op = XenDomctl::new(XEN_DOMCTL_SCHEDULER_OP, DomId(domid), &arg);
    domctl("scheduler_op getinfo", &mut op)?;
    let u = op.payload::<XenDomctlSchedulerOp>().u[0];
    let low16 = |v: u64| u16::try_from(v & 0xffff).unwrap_or(0);
    Ok((low16(u), low16(u >> 16)))
}

/// XEN_SYSCTL_scheduler_op getinfo on pool 0's credit2: its rate limit (µs).
pub fn credit2_ratelimit_us() -> Result<u32, XenError> {
    let arg = XenSysctlSchedulerOp { sched_id: XEN_SCHEDULER_CREDIT2, cmd: XEN_SYSCTL_SCHEDOP_GETINFO, ..Default::default() };
    let mut op = XenSysctl::new(XEN_SYSCTL_SCHEDULER_OP, &arg);
    sysctl("scheduler_op getinfo", &mut op)?;
    Ok(u32::try_from(op.payload::<XenSysctlSchedulerOp>().u[0] & 0xffff_ffff).unwrap_or(0))
}

/// XEN_SYSCTL_sched_id: the scheduler's XEN_SCHEDULER_*.
pub fn sched_id() -> Result<u32, XenError> {
    let mut op = XenSysctl::new(XEN_SYSCTL_SCHED_ID, &[0u8; 0]);
    sysctl("sched_id", &mut op)?;
    Ok(op.payload::<XenSysctlSchedId>().sched_id)
}

fn evtchn_op<T>(what: &'static str, cmd: u64, arg: &mut T) -> Result<(), XenError> {
    // SAFETY: `arg` is the live struct `cmd` takes; Xen reads and writes only it.
    check(what, unsafe { hypercall::hypercall2(HYPERVISOR_EVENT_CHANNEL_OP, cmd, core::ptr::from_mut(arg) as u64) })
        .map(|_| ())
}

/// EVTCHNOP_alloc_unbound in `domid` for `remote` to bind: the new port.
pub fn alloc_unbound(domid: u16, remote: u16) -> Result<u32, XenError> {
    let mut a = EvtchnAllocUnbound { dom: DomId(domid), remote_dom: DomId(remote), port: 0 };
    evtchn_op("alloc_unbound", EVTCHNOP_ALLOC_UNBOUND, &mut a)?;
    Ok(a.port)
}

/// EVTCHNOP_bind_interdomain to `domid`'s `port`: our new local port.
pub fn bind_interdomain(domid: u16, port: u32) -> Result<u32, XenError> {
    let mut b = EvtchnBindInterdomain { remote_dom: DomId(domid), _pad: 0, remote_port: port, local_port: 0 };
    evtchn_op("bind_interdomain", EVTCHNOP_BIND_INTERDOMAIN, &mut b)?;
    Ok(b.local_port)
}

/// EVTCHNOP_close of our `port`.
pub fn close_port(port: u32) -> Result<(), XenError> {
    evtchn_op("evtchn close", EVTCHNOP_CLOSE, &mut EvtchnOnePort { port })
}

/// EVTCHNOP_send on our `port`.
pub fn send(port: u32) -> Result<(), XenError> {
    evtchn_op("evtchn send", EVTCHNOP_SEND, &mut EvtchnOnePort { port })
}

/// HVMOP_set_param `index` = `value` on `domid`.
pub fn set_param(domid: u16, index: u32, value: u64) -> Result<(), XenError> {
    let mut p = XenHvmParam { domid: DomId(domid), pad: 0, index, value };
    // SAFETY: a live XenHvmParam.
    check("hvm set_param", unsafe {
        hypercall::hypercall2(HYPERVISOR_HVM_OP, HVMOP_SET_PARAM, core::ptr::from_mut(&mut p) as u64)
    })
    .map(|_| ())
}
