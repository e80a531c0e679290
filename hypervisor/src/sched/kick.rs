//! Kicks: the IPI that makes another CPU look at what its vCPU is owed
//! (an upcall, a pause), sent only once the domain table is unlocked.
//!
//! An event is raised with the table locked (`EVTCHNOP_send` runs under
//! it), and the kicked CPU's first step is to lock the table too (its wait
//! loop fires timers and checks the domain). Kicked at once, it spins until
//! the sender lets go. On hardware that is a few hundred cycles; under an
//! emulator that runs the CPUs in turn (QEMU TCG, and `-icount` always) the
//! IPI switches to the woken CPU while the sender still holds the lock, so
//! the woken one spins through its whole time slice, and each xenstore
//! round trip cost milliseconds. So a kick raised under the lock is only
//! noted here, per sending CPU, and [`UnlockThenKick`] (the table's guard)
//! sends it right after unlocking.

use core::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};

use spin::MutexGuard;

/// CPUs a kick can name: one bit each.
pub use crate::arch::x86_64::percpu::MAX_CPUS;
const _: () = assert!(MAX_CPUS <= 64, "a CPU set is one u64");

/// Per sending CPU, the CPUs it owes a kick.
pub struct Kicks {
    owed: [AtomicU64; MAX_CPUS],
}

impl Kicks {
    pub const fn new() -> Self {
        Kicks { owed: [const { AtomicU64::new(0) }; MAX_CPUS] }
    }

    /// `from` owes CPU `to` a kick (one, however often it is noted).
    pub fn defer(&self, from: usize, to: usize) {
        if let Some(slot) = self.owed.get(from)
            && to < MAX_CPUS
        {
            slot.fetch_or(1 << to, Relaxed);
        }
    }

    /// Takes the kicks `from` owes, as a bit set of CPUs.
    pub fn take(&self, from: usize) -> u64 {
        self.owed.get(from).map_or(0, |slot| slot.swap(0, Relaxed))
    }

    /// Sends what `from` owes through `send`, lowest CPU first.
    pub fn send(&self, from: usize, send: impl Fn(usize)) {
        let mut owed = self.take(from);
        while owed != 0 {
            let cpu = owed.trailing_zeros() as usize;
            owed &= owed - 1;
            send(cpu);
        }
    }
}

impl Default for Kicks {
    fn default() -> Self {
        Self::new()
    }
}

/// The kicks the hypervisor's CPUs owe.
pub static KICKS: Kicks = Kicks::new();

/// Notes a kick of CPU `to` by this CPU (sent when the domain table is
/// unlocked; a kick of this CPU itself is not needed and is dropped).
pub fn defer(to: usize) {
    let here = crate::arch::cpu_index() as usize;
    if to != here {
        KICKS.defer(here, to);
    }
}

/// CPUs asked to make a scheduling decision at once (Xen's
/// SCHEDULE_SOFTIRQ): a vCPU there may not stay (its affinity changed).
static RESCHEDULE: [AtomicBool; MAX_CPUS] = [const { AtomicBool::new(false) }; MAX_CPUS];

/// Makes CPU `to` leave its guest and decide again (kicked once the
/// domain table is unlocked).
pub fn reschedule(to: usize) {
    if let Some(flag) = RESCHEDULE.get(to) {
        flag.store(true, Relaxed);
        defer(to);
    }
}

/// Whether CPU `cpu` was asked to decide again (its guest's slice ends).
pub fn reschedule_asked(cpu: usize) -> bool {
    RESCHEDULE.get(cpu).is_some_and(|flag| flag.load(Relaxed))
}

/// Takes CPU `cpu`'s request to decide again: true if there was one (it
/// then looks at its vCPUs' affinities).
pub fn take_reschedule(cpu: usize) -> bool {
    RESCHEDULE.get(cpu).is_some_and(|flag| flag.swap(false, Relaxed))
}

/// Sends the kicks this CPU owes.
pub fn send_owed() {
    KICKS.send(crate::arch::cpu_index() as usize, crate::arch::x86_64::apic::kick_cpu);
}

/// A lock guard that, when dropped, unlocks first and then runs `after`
/// (fields drop in declaration order): the domain table's guard, with
/// `after` = [`send_owed`].
pub struct UnlockThenKick<'a, T> {
    guard: MutexGuard<'a, T>,
    _after: After,
}

struct After(fn());

impl Drop for After {
    fn drop(&mut self) {
        (self.0)();
    }
}

impl<'a, T> UnlockThenKick<'a, T> {
    pub fn new(guard: MutexGuard<'a, T>, after: fn()) -> Self {
        UnlockThenKick { guard, _after: After(after) }
    }
}

impl<T> core::ops::Deref for UnlockThenKick<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.guard
    }
}

impl<T> core::ops::DerefMut for UnlockThenKick<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.guard
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;
    use spin::Mutex;

    #[test]
    fn kicks_are_per_sender_once_each_lowest_first() {
        let k = Kicks::new();
        k.defer(0, 3);
        k.defer(0, 1);
        k.defer(0, 3);
        k.defer(2, 0);
        k.defer(0, MAX_CPUS);
        k.defer(MAX_CPUS, 1);
        let sent = Mutex::new(Vec::new());
        k.send(0, |c| sent.lock().push(c));
        assert_eq!(*sent.lock(), [1, 3], "one kick each, none out of range");
        k.send(0, |c| sent.lock().push(c));
        assert_eq!(sent.lock().len(), 2, "taken once");
        assert_eq!(k.take(2), 1, "CPU 2's kick of CPU 0 is its own");
    }

    static TABLE: Mutex<u32> = Mutex::new(0);
    static TEST_KICKS: Kicks = Kicks::new();
    static SENT: Mutex<Vec<(usize, bool)>> = Mutex::new(Vec::new());

    fn send_test_kicks() {
        // Records each kick with whether the table was still locked.
        TEST_KICKS.send(5, |cpu| SENT.lock().push((cpu, TABLE.is_locked())));
    }

    #[test]
    fn a_kick_raised_under_the_lock_is_sent_after_unlocking() {
        {
            let mut t = UnlockThenKick::new(TABLE.lock(), send_test_kicks);
            *t += 1;
            TEST_KICKS.defer(5, 2);
            assert!(SENT.lock().is_empty(), "nothing sent while the table is locked");
        }
        assert_eq!(*SENT.lock(), [(2, false)], "sent once, with the table unlocked");
        assert_eq!(*TABLE.lock(), 1);
    }
}
