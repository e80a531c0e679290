//! Sleeping on Xen's one-shot timer: shared info is mapped over a page of
//! this image, VIRQ_TIMER is bound to a port, and each sleep arms
//! `set_timer_op`, blocks in `SCHEDOP_block` and acknowledges the event in
//! shared info (no interrupt handler: the event is polled after each wake).
//! [`EventWait`] sleeps on one other event channel the same way, with
//! `SCHEDOP_poll`.

use abi::event_channel::{EVTCHNOP_BIND_VIRQ, EvtchnBindVirq};
use abi::hvm::hvm_op::{HVMOP_GET_TIME, XenHvmGetTime};
use abi::memory::{XENMAPSPACE_SHARED_INFO, XENMEM_ADD_TO_PHYSMAP, XenAddToPhysmap};
use abi::xen::{
    DOMID_SELF, HYPERVISOR_EVENT_CHANNEL_OP, HYPERVISOR_HVM_OP, HYPERVISOR_MEMORY_OP, HYPERVISOR_SCHED_OP,
    HYPERVISOR_SET_TIMER_OP, VIRQ_TIMER,
};

use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crate::hypercall;

/// The page shared info is mapped over (its RAM frame goes back to Xen).
#[repr(C, align(4096))]
struct SharedInfoPage([u8; 4096]);
static mut SHARED_INFO: SharedInfoPage = SharedInfoPage([0; 4096]);

/// Byte offsets in the 64-bit shared info: vCPU 0's `evtchn_upcall_pending`
/// and `evtchn_pending_sel`, and the `evtchn_pending` bitmap.
const UPCALL_PENDING: usize = 0;
const PENDING_SEL: usize = 8;
const EVTCHN_PENDING: usize = 2048;

/// A hypercall that failed: which, and what it returned.
#[derive(Clone, Copy, Debug)]
pub struct Failed {
    pub what: &'static str,
    pub rc: u64,
}

/// VIRQ_TIMER, bound and ready to sleep on.
pub struct Timer {
    port: u32,
}

impl Timer {
    /// Maps shared info (if not yet) and binds VIRQ_TIMER on vCPU 0 (once
    /// per kernel).
    pub fn new() -> Result<Timer, Failed> {
        map_shared_info()?;
        let mut bind = EvtchnBindVirq { virq: VIRQ_TIMER, vcpu: 0, port: 0 };
        // SAFETY: as above; Xen writes the port into `bind`.
        let rc = unsafe { hypercall::hypercall2(HYPERVISOR_EVENT_CHANNEL_OP, EVTCHNOP_BIND_VIRQ, &raw mut bind as u64) };
        if rc != 0 {
            return Err(Failed { what: "binding VIRQ_TIMER", rc });
        }
        Ok(Timer { port: bind.port })
    }

    pub fn port(&self) -> u32 {
        self.port
    }

    /// Sleeps `ms` milliseconds (at least): arms the timer, blocks until
    /// its event arrives. Returns the milliseconds it took.
    pub fn sleep_ms(&self, ms: u64) -> Result<u64, Failed> {
        let start = now_ns();
        self.wait_until(start + ms * 1_000_000, &[])?;
        Ok((now_ns() - start) / 1_000_000)
    }

    /// Sleeps `ms` milliseconds at most: returns early, `Ok(false)`, once
    /// an event came on one of `ports` (their pending bits are cleared, so
    /// the next one wakes us again); `Ok(true)` when the time is up.
    pub fn wait_ms(&self, ms: u64, ports: &[u32]) -> Result<bool, Failed> {
        self.wait_until(now_ns() + ms * 1_000_000, ports)
    }

    fn wait_until(&self, deadline: u64, ports: &[u32]) -> Result<bool, Failed> {
        // SAFETY: set_timer_op takes the deadline by value.
        unsafe { hypercall::hypercall1(HYPERVISOR_SET_TIMER_OP, deadline) };
        loop {
            if self.take_ports(ports) {
                return Ok(false);
            }
            // SAFETY: SCHEDOP_block takes no argument.
            let rc = unsafe { hypercall::hypercall2(HYPERVISOR_SCHED_OP, abi::sched::SCHEDOP_BLOCK, 0) };
            if rc != 0 {
                return Err(Failed { what: "SCHEDOP_block", rc });
            }
            let fired = self.take_event();
            if now_ns() >= deadline {
                return Ok(true);
            }
            if fired {
                // A timer armed earlier (a wait that ended early): ours is
                // still to come, armed again in case that one replaced it.
                // SAFETY: as above.
                unsafe { hypercall::hypercall1(HYPERVISOR_SET_TIMER_OP, deadline) };
            }
        }
    }

    /// Clears the pending bits of `ports`; whether any was set.
    fn take_ports(&self, ports: &[u32]) -> bool {
        ports.iter().fold(false, |any, &port| take_pending_bit(port) | any)
    }

    /// Blocks for good with no timer armed, acknowledging (and ignoring)
    /// whatever event wakes it, so the vCPU really sleeps between events.
    pub fn block_for_good(&self) -> ! {
        loop {
            // SAFETY: SCHEDOP_block takes no argument.
            unsafe { hypercall::hypercall2(HYPERVISOR_SCHED_OP, abi::sched::SCHEDOP_BLOCK, 0) };
            self.take_event();
        }
    }

    /// Acknowledges whatever woke us; whether it was the timer's port.
    fn take_event(&self) -> bool {
        let page = core::ptr::addr_of_mut!(SHARED_INFO).cast::<u8>();
        let port = self.port as usize;
        // SAFETY: the shared-info page stays mapped; Xen sets these bits concurrently, so each access is volatile and a whole byte (Xen only sets bits; a bit it sets between our read and write of the same byte is caught by the selector and upcall flag, which we clear first).
        unsafe {
            page.add(UPCALL_PENDING).write_volatile(0);
            page.add(PENDING_SEL).write_volatile(0);
            let byte = page.add(EVTCHN_PENDING + port / 8);
            let bits = byte.read_volatile();
            byte.write_volatile(bits & !(1 << (port % 8)));
            bits & (1 << (port % 8)) != 0
        }
    }
}

/// Whether shared info is mapped over [`SHARED_INFO`] yet.
static SHARED_INFO_MAPPED: AtomicBool = AtomicBool::new(false);

/// Maps shared info over [`SHARED_INFO`], once per kernel (a second
/// mapping would only move it to the same page again).
fn map_shared_info() -> Result<(), Failed> {
    if SHARED_INFO_MAPPED.load(Ordering::Acquire) {
        return Ok(());
    }
    let page = core::ptr::addr_of_mut!(SHARED_INFO).cast::<u8>();
    let map = XenAddToPhysmap { domid: DOMID_SELF, size: 0, space: XENMAPSPACE_SHARED_INFO, idx: 0, gpfn: page as u64 >> 12 };
    // SAFETY: the argument is a live struct; the page is ours, identity-mapped, and from now on Xen's.
    let rc = unsafe { hypercall::hypercall2(HYPERVISOR_MEMORY_OP, XENMEM_ADD_TO_PHYSMAP, &raw const map as u64) };
    if rc != 0 {
        return Err(Failed { what: "mapping shared info", rc });
    }
    SHARED_INFO_MAPPED.store(true, Ordering::Release);
    Ok(())
}

/// Clears `port`'s pending bit in shared info; whether it was set (false,
/// and nothing touched, before shared info is mapped).
fn take_pending_bit(port: u32) -> bool {
    let word = EVTCHN_PENDING + (port as usize / 64) * 8;
    if word + 8 > 4096 || !SHARED_INFO_MAPPED.load(Ordering::Acquire) {
        return false;
    }
    let page = core::ptr::addr_of_mut!(SHARED_INFO).cast::<u8>();
    // SAFETY: the word lies in the shared-info page, which stays mapped, 8-byte aligned (2048 + 8k); Xen sets its bits concurrently, hence the atomic clear (a locked AND, as Xen's own bit operations).
    let bits = unsafe { &*page.add(word).cast::<AtomicU64>() };
    let mask = 1u64 << (port % 64);
    bits.fetch_and(!mask, Ordering::AcqRel) & mask != 0
}

/// Waiting for one event channel without an interrupt handler: clear its
/// pending bit with [`EventWait::take`], look at what it guards, and if
/// there is nothing yet, [`EventWait::poll`] until the other end notifies
/// (`SCHEDOP_poll`: the vCPU sleeps, and wakes as soon as the port is
/// pending, or at the deadline).
pub struct EventWait {
    port: u32,
}

impl EventWait {
    /// Maps shared info (if not yet) to wait on `port`.
    pub fn new(port: u32) -> Result<EventWait, Failed> {
        map_shared_info()?;
        Ok(EventWait { port })
    }

    /// Clears the port's pending bit; whether it was set.
    pub fn take(&self) -> bool {
        take_pending_bit(self.port)
    }

    /// Sleeps until the port is pending (at once if it is) or system time
    /// reaches `deadline` (0: no deadline).
    pub fn poll(&self, deadline: u64) -> Result<(), Failed> {
        let ports = [self.port];
        let poll = abi::sched::SchedPoll { ports: ports.as_ptr() as u64, nr_ports: 1, _pad: 0, timeout: deadline };
        // SAFETY: `poll` and the port array it names are live for the call; Xen only reads them.
        let rc = unsafe { hypercall::hypercall2(HYPERVISOR_SCHED_OP, abi::sched::SCHEDOP_POLL, &raw const poll as u64) };
        if rc != 0 {
            return Err(Failed { what: "SCHEDOP_poll", rc });
        }
        Ok(())
    }
}

/// Xen system time (HVMOP_get_time), in ns.
pub fn now_ns() -> u64 {
    let mut t = XenHvmGetTime { now: 0 };
    // SAFETY: Xen writes the time into `t`.
    unsafe { hypercall::hypercall2(HYPERVISOR_HVM_OP, HVMOP_GET_TIME, &raw mut t as u64) };
    t.now
}
