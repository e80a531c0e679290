//! Sleeping on Xen's one-shot timer: shared info is mapped over a page of
//! this image, VIRQ_TIMER is bound to a port, and each sleep arms
//! `set_timer_op`, blocks in `SCHEDOP_block` and acknowledges the event in
//! shared info (no interrupt handler: the event is polled after each wake).

use abi::event_channel::{EVTCHNOP_BIND_VIRQ, EvtchnBindVirq};
use abi::hvm::hvm_op::{HVMOP_GET_TIME, XenHvmGetTime};
use abi::memory::{XENMAPSPACE_SHARED_INFO, XENMEM_ADD_TO_PHYSMAP, XenAddToPhysmap};
use abi::xen::{
    DOMID_SELF, HYPERVISOR_EVENT_CHANNEL_OP, HYPERVISOR_HVM_OP, HYPERVISOR_MEMORY_OP, HYPERVISOR_SCHED_OP,
    HYPERVISOR_SET_TIMER_OP, VIRQ_TIMER,
};

use core::sync::atomic::{AtomicU64, Ordering};

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
    /// Maps shared info and binds VIRQ_TIMER on vCPU 0 (once per kernel).
    pub fn new() -> Result<Timer, Failed> {
        let page = core::ptr::addr_of_mut!(SHARED_INFO).cast::<u8>();
        let map = XenAddToPhysmap { domid: DOMID_SELF, size: 0, space: XENMAPSPACE_SHARED_INFO, idx: 0, gpfn: page as u64 >> 12 };
        // SAFETY: the argument is a live struct; the page is ours, identity-mapped, and from now on Xen's.
        let rc = unsafe { hypercall::hypercall2(HYPERVISOR_MEMORY_OP, XENMEM_ADD_TO_PHYSMAP, &raw const map as u64) };
        if rc != 0 {
            return Err(Failed { what: "mapping shared info", rc });
        }
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
        let page = core::ptr::addr_of_mut!(SHARED_INFO).cast::<u8>();
        let mut any = false;
        for &port in ports {
            let word = EVTCHN_PENDING + (port as usize / 64) * 8;
            if word + 8 > 4096 {
                continue;
            }
            // SAFETY: the word lies in the shared-info page, which stays mapped, 8-byte aligned (2048 + 8k); Xen sets its bits concurrently, hence the atomic clear (a locked AND, as Xen's own bit operations).
            let bits = unsafe { &*page.add(word).cast::<AtomicU64>() };
            let mask = 1u64 << (port % 64);
            any |= bits.fetch_and(!mask, Ordering::AcqRel) & mask != 0;
        }
        any
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

/// Xen system time (HVMOP_get_time), in ns.
pub fn now_ns() -> u64 {
    let mut t = XenHvmGetTime { now: 0 };
    // SAFETY: Xen writes the time into `t`.
    unsafe { hypercall::hypercall2(HYPERVISOR_HVM_OP, HVMOP_GET_TIME, &raw mut t as u64) };
    t.now
}
