//! Remote TLB shootdown of a domain's guest-physical translations.
//!
//! A CPU caches a domain's NPT/EPT translations only while it runs one of
//! its vCPUs: each CPU has one ASID/VPID for its guests, flushed at every
//! switch to another vCPU (`vcpu/domu.rs`). So after a p2m entry is removed
//! or changed, the CPUs that may still use the old one are those in guest
//! mode for that domain. The protocol, per domain an [`Epoch`]:
//!
//! - a change bumps the epoch, then waits until no other CPU is in guest
//!   mode for the domain at an older epoch (an IPI makes such a CPU exit);
//!   only then are the frame and any unlinked table freed;
//! - a CPU about to enter guest mode publishes (domain, epoch) in
//!   [`IN_GUEST`], re-reads the epoch (so either it sees the bump or the
//!   changer sees it and waits), and flushes when the epoch moved since its
//!   vCPU last flushed; right after the exit it clears its slot, before it
//!   takes any lock, so a changer holding the domain table never waits on
//!   a CPU that waits on the table.
//!
//! Sequentially consistent stores and loads on both sides make this a
//! Dekker handshake: one of the two sees the other's write.

use alloc::sync::Arc;
use core::sync::atomic::{AtomicU64, Ordering::SeqCst};

use crate::arch::x86_64::percpu::MAX_CPUS;

/// Epoch bits kept in an [`IN_GUEST`] slot; the domain id is above them.
const EPOCH_BITS: u32 = 48;
const EPOCH_MASK: u64 = (1 << EPOCH_BITS) - 1;
/// Spins between two IPIs to a CPU that has not left guest mode yet (an
/// interrupt lost by an emulator is sent again).
const SPINS_PER_KICK: u32 = 1 << 16;

/// How often a domain's p2m changed in a way that needs a flush; shared by
/// the domain and its vCPU loops.
#[derive(Debug, Default)]
pub struct Epoch(AtomicU64);

impl Epoch {
    pub fn new() -> Arc<Epoch> {
        Arc::new(Epoch::default())
    }

    pub fn get(&self) -> u64 {
        self.0.load(SeqCst) & EPOCH_MASK
    }
}

/// Which CPUs are in guest mode, for which domain at which epoch.
pub struct InGuest {
    /// Per CPU: 0 outside guest mode, else `(domid + 1) << 48 | epoch`.
    slots: [AtomicU64; MAX_CPUS],
}

/// This machine's CPUs.
pub static IN_GUEST: InGuest = InGuest::new();

fn slot_value(domid: u16, epoch: u64) -> u64 {
    ((u64::from(domid) + 1) << EPOCH_BITS) | (epoch & EPOCH_MASK)
}

impl InGuest {
    pub const fn new() -> Self {
        InGuest { slots: [const { AtomicU64::new(0) }; MAX_CPUS] }
    }

    /// CPU `cpu` enters guest mode for a vCPU of `domid` that last flushed
    /// at epoch `seen`: true if it must flush first (`seen` is updated).
    /// Called with interrupts off, right before the entry.
    pub fn enter(&self, cpu: usize, domid: u16, epoch: &Epoch, seen: &mut u64) -> bool {
        let Some(slot) = self.slots.get(cpu) else { return true };
        let now = loop {
            let e = epoch.get();
            slot.store(slot_value(domid, e), SeqCst);
            if epoch.get() == e {
                break e;
            }
        };
        core::mem::replace(seen, now) != now
    }

    /// CPU `cpu` left guest mode.
    pub fn leave(&self, cpu: usize) {
        if let Some(slot) = self.slots.get(cpu) {
            slot.store(0, SeqCst);
        }
    }

    /// After a change to `domid`'s p2m (made by CPU `here`): bumps the
    /// epoch and returns once no other CPU can use a translation from
    /// before it, kicking (`kick(cpu)`: an IPI, which makes it exit) each
    /// one still in guest mode for the domain at an older epoch.
    pub fn shoot_down(&self, here: usize, domid: u16, epoch: &Epoch, kick: impl Fn(usize)) {
        let new = epoch.0.fetch_add(1, SeqCst).wrapping_add(1) & EPOCH_MASK;
        for (cpu, slot) in self.slots.iter().enumerate().filter(|&(cpu, _)| cpu != here) {
            // In guest mode for the domain at an epoch before `new` (one
            // that entered again since saw `new`, or a later bump whose
            // changer waits for it).
            let older = |v: u64| {
                let behind = new.wrapping_sub(v & EPOCH_MASK) & EPOCH_MASK;
                v >> EPOCH_BITS == u64::from(domid) + 1 && behind != 0 && behind < EPOCH_MASK / 2
            };
            let mut spins = 0u32;
            while older(slot.load(SeqCst)) {
                if spins.is_multiple_of(SPINS_PER_KICK) {
                    kick(cpu);
                }
                spins = spins.wrapping_add(1);
                core::hint::spin_loop();
            }
        }
    }
}

impl Default for InGuest {
    fn default() -> Self {
        Self::new()
    }
}

/// [`InGuest::shoot_down`] on this machine, with the ping IPI.
pub fn shoot_down(domid: u16, epoch: &Epoch) {
    let here = crate::arch::cpu_index() as usize;
    IN_GUEST.shoot_down(here, domid, epoch, crate::arch::x86_64::apic::kick_cpu);
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::sync::atomic::AtomicBool;
    use spin::Mutex;

    #[test]
    fn a_vcpu_flushes_once_after_each_change_and_not_otherwise() {
        let g = InGuest::new();
        let e = Epoch::default();
        let mut seen = u64::MAX;
        assert!(g.enter(1, 3, &e, &mut seen), "first entry: unknown state");
        g.leave(1);
        assert!(!g.enter(1, 3, &e, &mut seen), "nothing changed");
        g.leave(1);
        g.shoot_down(0, 3, &e, |_| panic!("no CPU is in guest mode"));
        assert!(g.enter(1, 3, &e, &mut seen), "the epoch moved");
        g.leave(1);
        assert!(!g.enter(1, 3, &e, &mut seen));
    }

    #[test]
    fn only_cpus_in_guest_mode_for_the_domain_at_an_old_epoch_are_waited_for() {
        let g = InGuest::new();
        let (e3, e4) = (Epoch::default(), Epoch::default());
        let (mut s1, mut s2) = (0, 0);
        g.enter(1, 3, &e3, &mut s1);
        g.enter(2, 4, &e4, &mut s2);
        let kicked = Mutex::new(alloc::vec::Vec::new());
        // CPU 2 runs domain 4: not waited for. CPU 1 leaves once kicked.
        g.shoot_down(0, 3, &e3, |cpu| {
            kicked.lock().push(cpu);
            g.leave(cpu);
        });
        assert_eq!(*kicked.lock(), [1]);
        g.shoot_down(0, 3, &e3, |_| panic!("nobody runs domain 3 now"));
        // The changer's own CPU is never waited for.
        g.enter(0, 3, &e3, &mut s1);
        g.shoot_down(0, 3, &e3, |_| panic!("CPU 0 is the changer"));
    }

    /// Threads as CPUs: a guest CPU keeps entering and leaving, checking at
    /// each entry that it never runs with a translation from before a
    /// change that has been declared done (`freed`).
    #[test]
    fn no_cpu_runs_on_a_translation_older_than_a_finished_shootdown() {
        static G: InGuest = InGuest::new();
        let e = Arc::new(Epoch::default());
        let stop = Arc::new(AtomicBool::new(false));
        // The epoch each finished shootdown made; a guest may not be
        // inside with an older one once it is published.
        let done = Arc::new(AtomicU64::new(0));
        let guest = {
            let (e, stop, done) = (e.clone(), stop.clone(), done.clone());
            std::thread::spawn(move || {
                let mut seen = 0;
                let mut flushed_at = 0;
                while !stop.load(SeqCst) {
                    if G.enter(1, 7, &e, &mut seen) {
                        flushed_at = seen;
                    }
                    // "In guest mode": using translations as of `flushed_at`.
                    for _ in 0..50 {
                        assert!(flushed_at >= done.load(SeqCst), "ran on a translation a finished shootdown removed");
                    }
                    G.leave(1);
                }
            })
        };
        for _ in 0..20_000 {
            G.shoot_down(0, 7, &e, |_| {});
            done.store(e.get(), SeqCst);
        }
        stop.store(true, SeqCst);
        guest.join().unwrap();
    }
}
