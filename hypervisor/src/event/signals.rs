//! What the hypervisor owes one vCPU, kept in atomics so that its vCPU
//! loop can look without taking the domain table's lock: an upcall to
//! deliver, and its one-shot and periodic timers (VIRQ_TIMER sources);
//! and what it did, for XEN_DOMCTL_getdomaininfo: running or blocked, and
//! the CPU time it has had. Only the CPU running the vCPU writes them.

use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering::Relaxed};

use abi::vcpu::{RUNSTATE_BLOCKED, RUNSTATE_OFFLINE, RUNSTATE_RUNNABLE, RUNSTATE_RUNNING};

/// Xen's `vcpu_runstate_info` as the hypervisor keeps it: the state, when
/// it was entered, and the ns spent in each `RUNSTATE_*` before that.
/// Counting starts when the vCPU first runs (Xen counts its offline time
/// from creation; a guest's steal clock would see that as stolen).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Runstate {
    pub state: i32,
    pub entry_ns: u64,
    pub time: [u64; 4],
    started: bool,
}

impl Default for Runstate {
    fn default() -> Self {
        Runstate { state: RUNSTATE_OFFLINE, entry_ns: 0, time: [0; 4], started: false }
    }
}

impl Runstate {
    fn enter(&mut self, state: i32, now: u64) {
        if state == self.state && self.started {
            return;
        }
        if self.started
            && let Some(t) = usize::try_from(self.state).ok().and_then(|i| self.time.get_mut(i))
        {
            *t = t.saturating_add(now.saturating_sub(self.entry_ns));
        }
        (self.state, self.entry_ns, self.started) = (state, now, true);
    }

    /// The record as of `now`: the current state's time counted up to it.
    #[must_use]
    pub fn at(&self, now: u64) -> Runstate {
        let mut r = *self;
        if r.started
            && let Some(t) = usize::try_from(r.state).ok().and_then(|i| r.time.get_mut(i))
        {
            *t = t.saturating_add(now.saturating_sub(r.entry_ns));
        }
        r
    }
}

#[derive(Debug, Default)]
pub struct VcpuSignals {
    /// `evtchn_upcall_pending` went 0 → 1: inject the upcall vector, wake it.
    upcall: AtomicBool,
    /// One-shot timer deadline in system time (ns); 0: not armed.
    singleshot: AtomicU64,
    /// Periodic timer period (ns); 0: stopped.
    period: AtomicU64,
    /// The periodic timer's next deadline.
    next_period: AtomicU64,
    /// Its loop runs on a CPU (it may be blocked there).
    running: AtomicBool,
    /// It waits in SCHEDOP_block / poll or HLT.
    blocked: AtomicBool,
    /// CPU time had before `resumed_at`.
    busy_ns: AtomicU64,
    /// When it last started or woke up.
    resumed_at: AtomicU64,
    /// Its runstate (a leaf lock: taken at state changes and by readers).
    runstate: spin::Mutex<Runstate>,
    /// Fixed IPIs other vCPUs sent it through their LAPICs, one bit per
    /// vector, for its loop to raise in its own.
    posted: [AtomicU32; 8],
    /// Its LAPIC's logical address (`ApicAddress::pack`), which its loop
    /// publishes for the senders of IPIs.
    apic_address: AtomicU64,
}

impl VcpuSignals {
    /// Posts a fixed IPI of `vector` from another vCPU.
    pub fn post_ipi(&self, vector: u8) {
        self.posted[usize::from(vector >> 5)].fetch_or(1 << (vector & 31), Relaxed);
    }

    /// Takes the posted IPIs: calls `raise` with each vector.
    pub fn take_ipis(&self, mut raise: impl FnMut(u8)) {
        for (word, bits) in (0u8..).zip(&self.posted) {
            if bits.load(Relaxed) == 0 {
                continue;
            }
            let mut taken = bits.swap(0, Relaxed);
            while taken != 0 {
                raise(word * 32 + crate::bits::low8(u64::from(taken.trailing_zeros())));
                taken &= taken - 1;
            }
        }
    }

    pub fn publish_apic_address(&self, packed: u64) {
        self.apic_address.store(packed, Relaxed);
    }

    pub fn apic_address(&self) -> u64 {
        self.apic_address.load(Relaxed)
    }

    pub fn raise_upcall(&self) {
        self.upcall.store(true, Relaxed);
    }

    pub fn upcall_owed(&self) -> bool {
        self.upcall.load(Relaxed)
    }

    /// Takes the owed upcall (the vector was queued for the guest).
    pub fn take_upcall(&self) -> bool {
        self.upcall.swap(false, Relaxed)
    }

    /// Arms the one-shot timer for `deadline` (a deadline in the past fires
    /// at the next check). 0 disarms it.
    pub fn set_singleshot(&self, deadline: u64) {
        self.singleshot.store(deadline, Relaxed);
    }

    pub fn singleshot(&self) -> u64 {
        self.singleshot.load(Relaxed)
    }

    /// Starts the periodic timer (first tick one period from `now`); a
    /// period of 0 stops it.
    pub fn set_periodic(&self, period: u64, now: u64) {
        self.period.store(period, Relaxed);
        self.next_period.store(now.saturating_add(period), Relaxed);
    }

    pub fn period(&self) -> u64 {
        self.period.load(Relaxed)
    }

    /// Whether a timer expired by `now`: a one-shot timer disarms itself, a
    /// periodic one moves to its next deadline after `now` (ticks missed
    /// while the vCPU did not run are merged, as Xen does).
    pub fn timer_due(&self, now: u64) -> bool {
        let mut due = false;
        let shot = self.singleshot.load(Relaxed);
        if shot != 0 && shot <= now {
            let _ = self.singleshot.compare_exchange(shot, 0, Relaxed, Relaxed);
            due = true;
        }
        let period = self.period.load(Relaxed);
        let next = self.next_period.load(Relaxed);
        if period != 0 && next <= now {
            let missed = (now - next) / period + 1;
            self.next_period.store(next.saturating_add(missed.saturating_mul(period)), Relaxed);
            due = true;
        }
        due
    }

    /// Its loop starts on a CPU at `now`.
    pub fn started(&self, now: u64) {
        self.runstate.lock().enter(RUNSTATE_RUNNING, now);
        self.blocked.store(false, Relaxed);
        self.resumed_at.store(now, Relaxed);
        self.running.store(true, Relaxed);
    }

    /// Its loop ended at `now`.
    pub fn stopped(&self, now: u64) {
        self.block(now);
        self.running.store(false, Relaxed);
        self.blocked.store(false, Relaxed);
        self.runstate.lock().enter(RUNSTATE_OFFLINE, now);
    }

    /// The scheduler took its CPU at `now` (its loop resumes later, on the
    /// same CPU): it is no longer running, and `blocked` if it waits.
    pub fn left_cpu(&self, now: u64, blocked: bool) {
        self.block(now);
        self.running.store(false, Relaxed);
        self.blocked.store(blocked, Relaxed);
        self.runstate.lock().enter(if blocked { RUNSTATE_BLOCKED } else { RUNSTATE_RUNNABLE }, now);
    }

    /// It stops running guest code at `now` to wait.
    pub fn block(&self, now: u64) {
        if self.running.load(Relaxed) && !self.blocked.swap(true, Relaxed) {
            let ran = now.saturating_sub(self.resumed_at.load(Relaxed));
            self.busy_ns.fetch_add(ran, Relaxed);
            self.runstate.lock().enter(RUNSTATE_BLOCKED, now);
        }
    }

    /// It runs again from `now`.
    pub fn unblock(&self, now: u64) {
        if self.blocked.swap(false, Relaxed) {
            self.resumed_at.store(now, Relaxed);
            if self.running.load(Relaxed) {
                self.runstate.lock().enter(RUNSTATE_RUNNING, now);
            }
        }
    }

    /// Its runstate as of `now` (VCPUOP_get_runstate_info).
    pub fn runstate(&self, now: u64) -> Runstate {
        self.runstate.lock().at(now)
    }

    /// On a CPU and not waiting (Xen's `is_running`).
    pub fn is_running(&self) -> bool {
        self.running.load(Relaxed) && !self.blocked.load(Relaxed)
    }

    /// Waiting for an event (Xen's `_VPF_blocked`).
    pub fn is_blocked(&self) -> bool {
        self.blocked.load(Relaxed)
    }

    /// CPU time it has had up to `now`.
    pub fn cpu_time_ns(&self, now: u64) -> u64 {
        let busy = self.busy_ns.load(Relaxed);
        if self.is_running() { busy + now.saturating_sub(self.resumed_at.load(Relaxed)) } else { busy }
    }

    /// The earliest armed deadline, if any.
    pub fn next_deadline(&self) -> Option<u64> {
        let shot = self.singleshot.load(Relaxed);
        let periodic = if self.period.load(Relaxed) != 0 { self.next_period.load(Relaxed) } else { 0 };
        [shot, periodic].into_iter().filter(|&d| d != 0).min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn singleshot_fires_once_at_its_deadline() {
        let s = VcpuSignals::default();
        assert!(!s.timer_due(u64::MAX));
        s.set_singleshot(1000);
        assert_eq!(s.next_deadline(), Some(1000));
        assert!(!s.timer_due(999));
        assert!(s.timer_due(1000));
        assert!(!s.timer_due(5000), "a one-shot timer fires once");
        assert_eq!(s.next_deadline(), None);
    }

    #[test]
    fn periodic_ticks_and_merges_missed_periods() {
        let s = VcpuSignals::default();
        s.set_periodic(100, 1000);
        assert!(!s.timer_due(1099));
        assert!(s.timer_due(1100));
        assert_eq!(s.next_deadline(), Some(1200));
        assert!(s.timer_due(1750), "several periods missed: one tick");
        assert_eq!(s.next_deadline(), Some(1800));
        s.set_periodic(0, 2000);
        assert!(!s.timer_due(u64::MAX));
    }

    #[test]
    fn runstate_counts_each_state_from_the_first_run() {
        let s = VcpuSignals::default();
        assert_eq!(s.runstate(50).state, RUNSTATE_OFFLINE);
        s.started(100);
        s.block(130);
        s.unblock(200);
        s.left_cpu(210, false);
        s.started(260);
        let r = s.runstate(300);
        assert_eq!((r.state, r.entry_ns), (RUNSTATE_RUNNING, 260));
        assert_eq!(r.time, [30 + 10 + 40, 50, 70, 0], "running, runnable, blocked, offline");
        s.left_cpu(310, true);
        s.stopped(400);
        let r = s.runstate(1000);
        assert_eq!(r.state, RUNSTATE_OFFLINE);
        assert_eq!(r.time, [90, 50, 70 + 90, 600]);
        assert_eq!(r.time.iter().sum::<u64>(), 1000 - 100, "the times add up to system time since the first run");
    }

    #[test]
    fn cpu_time_counts_running_not_blocked() {
        let s = VcpuSignals::default();
        assert_eq!(s.cpu_time_ns(100), 0);
        s.started(100);
        assert!(s.is_running());
        assert_eq!(s.cpu_time_ns(150), 50);
        s.block(160);
        assert!(s.is_blocked() && !s.is_running());
        assert_eq!(s.cpu_time_ns(500), 60);
        s.unblock(500);
        assert_eq!(s.cpu_time_ns(510), 70);
        s.stopped(520);
        assert_eq!(s.cpu_time_ns(10_000), 80);
        assert!(!s.is_running() && !s.is_blocked());
    }

    #[test]
    fn upcall_is_taken_once() {
        let s = VcpuSignals::default();
        assert!(!s.take_upcall());
        s.raise_upcall();
        assert!(s.upcall_owed());
        assert!(s.take_upcall());
        assert!(!s.upcall_owed());
    }

    #[test]
    fn posted_ipis_are_taken_once_each_vector() {
        let s = VcpuSignals::default();
        for v in [0x20, 0xf3, 0x21, 0xf3, 0xff] {
            s.post_ipi(v);
        }
        let mut got = alloc::vec::Vec::new();
        s.take_ipis(|v| got.push(v));
        assert_eq!(got, [0x20, 0x21, 0xf3, 0xff]);
        s.take_ipis(|_| panic!("taken already"));
    }
}
