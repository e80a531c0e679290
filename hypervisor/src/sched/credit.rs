//! The credit2-class scheduling policy: which runnable vCPU each physical CPU
//! runs next, and until when. Pure bookkeeping over a clock the caller passes
//! in (ns); nothing here reads hardware, takes a lock or sends an IPI, so the
//! host tests drive it with a simulated clock.
//!
//! Wired in by `vcpu/domu.rs`, one instance for all CPUs (`sched::get`):
//! [`Credit2::insert`] (pinned to the admitting AP) and [`Credit2::wake`]
//! when an AP admits a vCPU, [`Credit2::remove`] when its run ends,
//! [`Credit2::wake`] when a blocked resident's wait is over,
//! [`Credit2::block`] when it leaves blocked, [`Credit2::yield_cpu`] on
//! SCHEDOP_yield, [`Credit2::account`] with the guest time of each run, and
//! [`Credit2::schedule`] at each decision (`next: None` halts, with the
//! timer armed for the residents' deadlines).
//!
//! The model, after Xen's `sched/credit2.c` (facts only, no code):
//! - Each vCPU has credit; running burns it at `time * max_weight / weight`,
//!   so a domain of twice the weight gets twice the CPU. Internally a vCPU
//!   keeps its weighted service `vtime` (burn only grows it) and a run queue
//!   keeps a `base`: credit = base - vtime. The vCPU with the most credit
//!   (least vtime) runs first.
//! - Reset: when the best candidate of a queue has no credit left, every
//!   vCPU of that queue gets `CREDIT_INIT` more: one addition to `base`, O(1),
//!   because the queued vCPUs all shift alike. The clip to
//!   `CREDIT_INIT + CARRYOVER` (what a sleeper may bank) is applied when a
//!   vCPU enters a queue.
//! - One run queue per CPU, ordered by vtime in a `BTreeMap`, and load
//!   balancing: a waking vCPU goes to an idle CPU of its soft affinity, else
//!   to a soft CPU where it would preempt (within the rate limit), else to
//!   an idle CPU of its hard affinity, else to the least loaded (sum of
//!   weights) CPU of its soft affinity; a CPU about to decide pulls a waiting vCPU from
//!   another queue when that one is idle-bound or far behind in service
//!   (vtimes compare across queues), soft-affine ones first. Hard affinity
//!   is never broken.
//! - Slices: a vCPU runs until its credit would fall to the next waiting
//!   vCPU's, at least [`MIN_SLICE_NS`] and at most [`MAX_SLICE_NS`]; a vCPU
//!   that just started is not preempted before the rate limit (Xen's
//!   `sched_ratelimit_us`, default 1000).
//! - Caps: a capped domain gets `cap`% of one CPU per [`CAP_PERIOD_NS`]; a
//!   vCPU grabs budget from its domain before it runs (at most a 1/N share,
//!   N its domain's vCPUs) and gives back what it did not use; a vCPU
//!   without budget is parked off the queues until the refill. An overrun
//!   is a debt the next period pays. Refills happen lazily in the first
//!   call at or after their time; an idle CPU's `run_until_ns` is the next
//!   refill that unparks someone, a busy CPU sees the unparked vCPUs at its
//!   next decision.
//!
//! Where it differs from Xen's credit2: one queue per CPU (Xen's default is
//! one per socket, shared by its cores); balancing compares vtimes across
//! queues at each decision instead of load averages every few ms, and
//! counts weights, not vCPUs, as load; the reset clip happens when a vCPU
//! enters a queue; a slice ends when the credit meets the next waiting
//! vCPU's even if that one is in debt.
//!
//! Cost: with n runnable vCPUs and c CPUs a decision is O(log n + c ×
//! [`STEAL_SCAN`]) (queue first/insert/remove in a B-tree, a bounded look at
//! the other queues' heads); a wake is O(log n + c). Refills are amortised
//! over the parked vCPUs they requeue. c is at most 64.

#![forbid(unsafe_code)]

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::vec::Vec;
use core::cmp::Ordering;

pub use abi::domctl::{
    XEN_DOMCTL_SCHEDOP_GETINFO, XEN_DOMCTL_SCHEDOP_GETVCPUINFO, XEN_DOMCTL_SCHEDOP_PUTINFO,
    XEN_DOMCTL_SCHEDOP_PUTVCPUINFO, XEN_SCHEDULER_CREDIT2,
};
use abi::errno::Errno;
use abi::vcpu::{RUNSTATE_BLOCKED, RUNSTATE_RUNNABLE, RUNSTATE_RUNNING};

use super::runqueue::VcpuRef;
use crate::bits::low16;

/// CPU masks are u64: CPU i is bit i.
pub const MAX_CPUS: usize = 64;

/// xl's and Xen's default domain weight.
pub const DEFAULT_WEIGHT: u16 = 256;
/// Xen's weight range (the domctl field is a u16; 0 there means "unchanged").
pub const MIN_WEIGHT: u16 = 1;
pub const MAX_WEIGHT: u16 = 65535;

/// Credit a reset gives (credit2's CSCHED2_CREDIT_INIT, 10 ms of the heaviest vCPU).
pub const CREDIT_INIT_NS: u64 = 10_000_000;
/// What a vCPU may keep on top of a reset (credit2 keeps one minimum timer).
pub const CARRYOVER_NS: u64 = MIN_SLICE_NS;
/// Shortest slice (credit2's CSCHED2_MIN_TIMER).
pub const MIN_SLICE_NS: u64 = 500_000;
/// Longest slice (credit2's CSCHED2_MAX_TIMER, the credit of one reset).
pub const MAX_SLICE_NS: u64 = CREDIT_INIT_NS;
/// Xen's default `sched_ratelimit_us`.
pub const DEFAULT_RATELIMIT_US: u32 = 1000;
/// Xen's `XEN_SYSCTL_SCHED_RATELIMIT_MIN` / `_MAX` (sysctl.h); 0 turns it off.
pub const RATELIMIT_MIN_US: u32 = 100;
pub const RATELIMIT_MAX_US: u32 = 500_000;
/// Cap budget period (credit2's CSCHED2_BDGT_REPL_PERIOD).
pub const CAP_PERIOD_NS: u64 = 10_000_000;

/// A yielding vCPU competes as if it had this much less credit.
const YIELD_BIAS_NS: u64 = 1_000_000;
/// A busy CPU pulls a waiting vCPU from another queue only when it is this
/// far behind its own best candidate: moving costs caches.
const MIGRATE_THRESHOLD_NS: u64 = 2_000_000;
/// Pulling a vCPU onto a CPU outside its soft affinity counts as this much
/// credit less.
const SOFT_PENALTY_NS: u64 = CREDIT_INIT_NS;
/// A vCPU moved to another queue keeps at most this much debt (in its own
/// run time) over that queue's base, so past service on a lightly loaded CPU
/// cannot keep it waiting for long.
const MOVED_DEBT_NS: u64 = 2 * MAX_SLICE_NS;
/// How many entries of each other queue a decision looks at for one that
/// may run here (bounds the cost when heads are pinned elsewhere).
pub const STEAL_SCAN: usize = 4;

/// vtime units per ns at weight 1: burn = ns * VT_SCALE / weight, so the
/// heaviest weight still moves ~1 unit per ns.
const VT_SCALE: u128 = 1 << 16;

/// Weighted service for `ns` of run at `weight`.
fn vt(ns: u64, weight: u16) -> u128 {
    u128::from(ns) * VT_SCALE / u128::from(weight.max(MIN_WEIGHT))
}

/// Run time at `weight` that `vtime` of service stands for (saturating).
fn ns_of(vtime: u128, weight: u16) -> u64 {
    u64::try_from(vtime * u128::from(weight) / VT_SCALE).unwrap_or(u64::MAX)
}

fn cpu_bit(cpu: usize) -> u64 {
    if cpu < MAX_CPUS { 1 << cpu } else { 0 }
}

/// `struct xen_domctl_sched_credit2` (domctl.h): `{ u16 weight; u16 cap; }`,
/// the first 4 bytes of `xen_domctl_scheduler_op.u`, for
/// XEN_DOMCTL_SCHEDOP_putinfo / getinfo. putinfo: weight 0 leaves the weight
/// alone, cap 0 lifts the cap; cap is at most 100 × the domain's vCPUs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Credit2Info {
    pub weight: u16,
    /// Percent of one CPU; 0 = no cap.
    pub cap: u16,
}

impl Credit2Info {
    /// Decodes the union words of `XenDomctlSchedulerOp` (little-endian).
    #[must_use]
    pub fn from_union(u: [u64; 2]) -> Self {
        Credit2Info { weight: low16(u[0]), cap: low16(u[0] >> 16) }
    }

    /// The union words getinfo writes back.
    #[must_use]
    pub fn to_union(self) -> [u64; 2] {
        [u64::from(self.weight) | (u64::from(self.cap) << 16), 0]
    }
}

/// What a CPU does next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decision {
    /// The vCPU to run, or None: halt until `run_until_ns` or a kick.
    pub next: Option<VcpuRef>,
    /// Absolute time (ns) of the next decision on this CPU: arm the one-shot
    /// timer for it (slice end, cap budget end or rate limit; a cap refill
    /// or `u64::MAX` when idle).
    pub run_until_ns: u64,
    /// Another CPU that got work from this decision (a vCPU its affinity
    /// pushed away) and must reschedule.
    pub kick: Option<usize>,
}

/// Counters for tests and `xl debug-keys`-style dumps.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub decisions: u64,
    pub switches: u64,
    pub migrations: u64,
    pub resets: u64,
    /// Entries of other queues looked at while balancing.
    pub scanned: u64,
}

/// Where a vCPU is, for the scheduler.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Place {
    /// On no list: blocked, or inserted and never woken.
    Away,
    /// Waiting in `cpus[cpu].queue` under `key`.
    Queued { cpu: usize, key: QueueKey },
    /// `cpus[cpu].current` (it may have blocked since: the next decision there drops it).
    Current { cpu: usize },
    /// Runnable, but its domain's cap budget is spent: back at the refill.
    Parked,
}

/// Run-queue order: least service first, then first come first served.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct QueueKey {
    vtime: u128,
    seq: u64,
}

#[cfg(test)]
std::thread_local! {
    /// Queue-key comparisons on this thread: the O(log n) test counts them.
    pub(crate) static KEY_COMPARISONS: core::cell::Cell<u64> = const { core::cell::Cell::new(0) };
}

impl Ord for QueueKey {
    fn cmp(&self, other: &Self) -> Ordering {
        #[cfg(test)]
        KEY_COMPARISONS.with(|c| c.set(c.get() + 1));
        (self.vtime, self.seq).cmp(&(other.vtime, other.seq))
    }
}

impl PartialOrd for QueueKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

struct VcpuState {
    vtime: u128,
    /// Not blocked.
    runnable: bool,
    yielded: bool,
    place: Place,
    /// Where it ran or waited last.
    cpu: usize,
    hard: u64,
    soft: u64,
    /// Cap budget grabbed from the domain for the current run (ns).
    budget_ns: i64,
    ran_ns: u64,
}

struct DomainState {
    weight: u16,
    cap: u16,
    vcpus: u32,
    /// Cap budget left in this period (ns; negative after an overrun).
    budget_ns: i64,
    next_refill_ns: u64,
    parked: Vec<VcpuRef>,
}

impl DomainState {
    fn max_budget_ns(&self) -> i64 {
        i64::try_from(u64::from(self.cap) * CAP_PERIOD_NS / 100).unwrap_or(i64::MAX)
    }
}

struct CpuState {
    queue: BTreeMap<QueueKey, VcpuRef>,
    current: Option<VcpuRef>,
    started_ns: u64,
    /// Sum of the weights queued here and running here.
    load: u64,
    /// Reset level: a vCPU's credit here is `base - vtime`.
    base: u128,
}

/// The scheduler state of one cpupool (all CPUs, for now).
pub struct Credit2 {
    cpus: Vec<CpuState>,
    online: u64,
    vcpus: BTreeMap<(u16, u32), VcpuState>,
    domains: BTreeMap<u16, DomainState>,
    /// (next refill, domid) of every capped domain.
    refills: BTreeSet<(u64, u16)>,
    seq: u64,
    ratelimit_ns: u64,
    /// Heaviest weight of any domain: credit units are its ns, as credit2's
    /// `max_weight`.
    max_weight: u16,
    stats: Stats,
}

fn id(v: VcpuRef) -> (u16, u32) {
    (v.domid, v.vcpu)
}

impl Credit2 {
    /// A scheduler for CPUs `0..ncpus` (at most [`MAX_CPUS`]; more are ignored).
    #[must_use]
    pub fn new(ncpus: usize) -> Self {
        let ncpus = ncpus.clamp(1, MAX_CPUS);
        let online = if ncpus == MAX_CPUS { u64::MAX } else { (1u64 << ncpus) - 1 };
        let cpus = (0..ncpus)
            .map(|_| CpuState { queue: BTreeMap::new(), current: None, started_ns: 0, load: 0, base: 0 })
            .collect();
        Credit2 {
            cpus,
            online,
            vcpus: BTreeMap::new(),
            domains: BTreeMap::new(),
            refills: BTreeSet::new(),
            seq: 0,
            ratelimit_ns: u64::from(DEFAULT_RATELIMIT_US) * 1000,
            max_weight: DEFAULT_WEIGHT,
            stats: Stats::default(),
        }
    }

    #[must_use]
    pub fn ncpus(&self) -> usize {
        self.cpus.len()
    }

    #[must_use]
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Xen's `XEN_SYSCTL_SCHEDOP_putinfo` for credit2: `ratelimit_us` 0
    /// (off) or within [`RATELIMIT_MIN_US`]..=[`RATELIMIT_MAX_US`].
    pub fn set_ratelimit_us(&mut self, us: u32) -> Result<(), Errno> {
        if us != 0 && !(RATELIMIT_MIN_US..=RATELIMIT_MAX_US).contains(&us) {
            return Err(Errno::EINVAL);
        }
        self.ratelimit_ns = u64::from(us) * 1000;
        Ok(())
    }

    #[must_use]
    pub fn ratelimit_us(&self) -> u32 {
        u32::try_from(self.ratelimit_ns / 1000).unwrap_or(u32::MAX)
    }

    /// A new vCPU, blocked (as Xen's, it runs once woken), allowed on every
    /// CPU. Its domain is created with the default weight and no cap.
    pub fn insert(&mut self, v: VcpuRef) -> Result<(), Errno> {
        if self.vcpus.contains_key(&id(v)) {
            return Err(Errno::EEXIST);
        }
        let domain = self.domains.entry(v.domid).or_insert(DomainState {
            weight: DEFAULT_WEIGHT,
            cap: 0,
            vcpus: 0,
            budget_ns: 0,
            next_refill_ns: 0,
            parked: Vec::new(),
        });
        domain.vcpus += 1;
        self.vcpus.insert(
            id(v),
            VcpuState {
                vtime: 0,
                runnable: false,
                yielded: false,
                place: Place::Away,
                cpu: 0,
                hard: self.online,
                soft: self.online,
                budget_ns: 0,
                ran_ns: 0,
            },
        );
        Ok(())
    }

    /// Forgets `v` (destroyed). Returns the CPU that was running it, which
    /// must reschedule. With its domain's last vCPU go its weight and cap.
    pub fn remove(&mut self, v: VcpuRef) -> Option<usize> {
        let was_on = match self.vcpus.get(&id(v))?.place {
            Place::Current { cpu } => Some(cpu),
            _ => None,
        };
        self.detach(v);
        self.vcpus.remove(&id(v));
        if let Some(d) = self.domains.get_mut(&v.domid) {
            d.vcpus = d.vcpus.saturating_sub(1);
            if d.vcpus == 0 {
                let refill = (d.next_refill_ns, v.domid);
                self.refills.remove(&refill);
                self.domains.remove(&v.domid);
                self.update_max_weight();
            }
        }
        was_on
    }

    /// XEN_DOMCTL_SCHEDOP_putinfo. ESRCH for a domain without vCPUs here.
    pub fn put_info(&mut self, domid: u16, info: Credit2Info, now: u64) -> Result<(), Errno> {
        let d = self.domains.get(&domid).ok_or(Errno::ESRCH)?;
        if u32::from(info.cap) > 100 * d.vcpus {
            return Err(Errno::EINVAL);
        }
        let was_capped = d.cap != 0;
        let old_refill = (d.next_refill_ns, domid);
        if info.weight != 0 {
            self.set_weight(domid, info.weight);
        }
        // Budgets grabbed under the old cap mean nothing under the new one.
        for (_, s) in self.vcpus.range_mut((domid, 0)..=(domid, u32::MAX)) {
            s.budget_ns = 0;
        }
        let d = self.domains.get_mut(&domid).ok_or(Errno::ESRCH)?;
        d.cap = info.cap;
        if was_capped {
            self.refills.remove(&old_refill);
        }
        if info.cap != 0 {
            d.budget_ns = d.max_budget_ns();
            d.next_refill_ns = now.saturating_add(CAP_PERIOD_NS);
            self.refills.insert((d.next_refill_ns, domid));
        } else {
            d.budget_ns = 0;
            let parked = core::mem::take(&mut d.parked);
            for p in parked {
                self.place_parked(p);
            }
        }
        Ok(())
    }

    /// XEN_DOMCTL_SCHEDOP_getinfo.
    #[must_use]
    pub fn get_info(&self, domid: u16) -> Option<Credit2Info> {
        self.domains.get(&domid).map(|d| Credit2Info { weight: d.weight, cap: d.cap })
    }

    fn set_weight(&mut self, domid: u16, weight: u16) {
        let Some(d) = self.domains.get_mut(&domid) else { return };
        let old = d.weight;
        d.weight = weight;
        // Loads hold weights: re-add this domain's vCPUs at the new one.
        let mut changes = Vec::new();
        for (&(dom, _), s) in self.vcpus.range((domid, 0)..=(domid, u32::MAX)) {
            debug_assert_eq!(dom, domid);
            match s.place {
                Place::Queued { cpu, .. } | Place::Current { cpu } => changes.push(cpu),
                Place::Away | Place::Parked => {}
            }
        }
        for cpu in changes {
            let load = &mut self.cpus[cpu].load;
            *load = load.saturating_sub(u64::from(old)) + u64::from(weight);
        }
        self.update_max_weight();
    }

    fn update_max_weight(&mut self) {
        self.max_weight = self.domains.values().map(|d| d.weight).max().unwrap_or(DEFAULT_WEIGHT);
    }

    /// Hard and soft affinity (XEN_DOMCTL_setvcpuaffinity), CPU masks. EINVAL
    /// if `hard` has no CPU of this pool. Returns the CPU that must
    /// reschedule because `v` runs there and may not any more.
    pub fn set_affinity(&mut self, v: VcpuRef, hard: u64, soft: u64) -> Result<Option<usize>, Errno> {
        if hard & self.online == 0 {
            return Err(Errno::EINVAL);
        }
        let s = self.vcpus.get_mut(&id(v)).ok_or(Errno::ESRCH)?;
        s.hard = hard;
        s.soft = soft;
        match s.place {
            Place::Current { cpu } if cpu_bit(cpu) & hard == 0 => Ok(Some(cpu)),
            Place::Queued { cpu, .. } if cpu_bit(cpu) & hard == 0 => {
                self.detach(v);
                Ok(self.place_runnable(v))
            }
            _ => Ok(None),
        }
    }

    /// `v` was blocked and may run: queues it on the CPU it should run on.
    /// Returns that CPU if it should reschedule now: it is idle, or `v` has
    /// more credit than the vCPU running there (wake-up preemption; the rate
    /// limit still lets that one finish its first `ratelimit_us`).
    pub fn wake(&mut self, v: VcpuRef, now: u64) -> Option<usize> {
        self.refill_due(now);
        let s = self.vcpus.get_mut(&id(v))?;
        let was_blocked = !s.runnable;
        s.runnable = true;
        if !was_blocked || s.place != Place::Away {
            // Already queued, running (it blocked but had not left the CPU) or parked.
            return None;
        }
        self.place_runnable(v)
    }

    /// `v` blocks (HLT, SCHEDOP_block, paused). Returns the CPU running it,
    /// which must reschedule.
    pub fn block(&mut self, v: VcpuRef, now: u64) -> Option<usize> {
        self.refill_due(now);
        let s = self.vcpus.get_mut(&id(v))?;
        s.runnable = false;
        s.yielded = false;
        match s.place {
            Place::Current { cpu } => Some(cpu),
            Place::Queued { .. } | Place::Parked => {
                self.detach(v);
                None
            }
            Place::Away => None,
        }
    }

    /// SCHEDOP_yield: `v` stays runnable but lets the others of its CPU go
    /// first once. Returns the CPU running it, which should reschedule.
    pub fn yield_cpu(&mut self, v: VcpuRef, now: u64) -> Option<usize> {
        self.refill_due(now);
        let s = self.vcpus.get_mut(&id(v))?;
        match s.place {
            Place::Current { cpu } => {
                s.yielded = true;
                Some(cpu)
            }
            _ => None,
        }
    }

    /// Charges `ran_ns` of guest time to `v` (burns credit and cap budget).
    /// Call it for what a vCPU ran before the next `schedule` of its CPU.
    pub fn account(&mut self, v: VcpuRef, ran_ns: u64) {
        let Some(weight) = self.domains.get(&v.domid).map(|d| d.weight) else { return };
        let Some(s) = self.vcpus.get_mut(&id(v)) else { return };
        s.ran_ns = s.ran_ns.saturating_add(ran_ns);
        let burn = vt(ran_ns, weight);
        let signed = i64::try_from(ran_ns).unwrap_or(i64::MAX);
        match s.place {
            Place::Queued { cpu, key } => {
                // Not expected (only running vCPUs run), but keep the queue ordered.
                self.cpus[cpu].queue.remove(&key);
                let key = QueueKey { vtime: key.vtime + burn, seq: key.seq };
                s.vtime = key.vtime;
                s.place = Place::Queued { cpu, key };
                self.cpus[cpu].queue.insert(key, v);
                self.charge_domain(v.domid, signed);
            }
            Place::Current { .. } => {
                s.vtime += burn;
                s.budget_ns = s.budget_ns.saturating_sub(signed);
            }
            Place::Away | Place::Parked => {
                s.vtime += burn;
                self.charge_domain(v.domid, signed);
            }
        }
    }

    fn charge_domain(&mut self, domid: u16, ns: i64) {
        if let Some(d) = self.domains.get_mut(&domid).filter(|d| d.cap != 0) {
            d.budget_ns = d.budget_ns.saturating_sub(ns);
        }
    }

    /// Guest time accounted to `v` so far.
    #[must_use]
    pub fn ran_ns(&self, v: VcpuRef) -> Option<u64> {
        self.vcpus.get(&id(v)).map(|s| s.ran_ns)
    }

    /// `v`'s credit2 credit on its CPU, as its own run time (ns) until it is
    /// used up; negative in debt.
    #[must_use]
    pub fn credit_ns(&self, v: VcpuRef) -> Option<i64> {
        let s = self.vcpus.get(&id(v))?;
        let weight = self.domains.get(&v.domid)?.weight;
        let base = self.cpus[s.cpu].base;
        let magnitude = i64::try_from(ns_of(base.abs_diff(s.vtime), weight)).unwrap_or(i64::MAX);
        Some(if base >= s.vtime { magnitude } else { -magnitude })
    }

    /// `v`'s `vcpu_runstate_info.state` (RUNSTATE_running, _runnable or
    /// _blocked; offline is the caller's, for vCPUs never brought up).
    #[must_use]
    pub fn runstate(&self, v: VcpuRef) -> Option<i32> {
        let s = self.vcpus.get(&id(v))?;
        Some(match s.place {
            Place::Current { .. } if s.runnable => RUNSTATE_RUNNING,
            Place::Queued { .. } | Place::Parked => RUNSTATE_RUNNABLE,
            Place::Current { .. } | Place::Away => RUNSTATE_BLOCKED,
        })
    }

    /// The vCPU `cpu` runs (the last decision's `next`).
    #[must_use]
    pub fn current(&self, cpu: usize) -> Option<VcpuRef> {
        self.cpus.get(cpu)?.current
    }

    /// vCPUs waiting in run queues (not running, not parked).
    #[must_use]
    pub fn queued(&self) -> usize {
        self.cpus.iter().map(|c| c.queue.len()).sum()
    }

    /// Decides what `cpu` runs from `now` on. The vCPU it ran so far must
    /// have been [`account`](Self::account)ed.
    pub fn schedule(&mut self, cpu: usize, now: u64) -> Decision {
        let mut kick = None;
        if cpu >= self.cpus.len() {
            return Decision { next: None, run_until_ns: u64::MAX, kick };
        }
        self.refill_due(now);
        self.stats.decisions += 1;
        let mut prev = self.cpus[cpu].current;
        if let Some(p) = prev {
            let s = &self.vcpus[&id(p)];
            if !s.runnable || s.hard & cpu_bit(cpu) == 0 {
                let runnable = s.runnable;
                self.detach(p);
                if runnable {
                    kick = self.place_runnable(p).filter(|&k| k != cpu);
                }
                prev = None;
            }
        }
        if let Some(p) = prev {
            let started = self.cpus[cpu].started_ns;
            let limit_end = started.saturating_add(self.ratelimit_ns);
            if !self.vcpus[&id(p)].yielded && now < limit_end && self.grab_budget(p) {
                let run_until_ns = limit_end.min(self.budget_end(p, now));
                return Decision { next: Some(p), run_until_ns, kick };
            }
        }
        // Each round runs a vCPU or parks one, so this ends.
        loop {
            let prev_key = prev.map(|p| {
                let s = &self.vcpus[&id(p)];
                let bias = if s.yielded { self.credit_vt(YIELD_BIAS_NS) } else { 0 };
                (s.vtime + bias, p)
            });
            let local = self.cpus[cpu].queue.first_key_value().map(|(k, &v)| (k.vtime, v));
            let mine = match (prev_key, local) {
                (Some(p), Some(l)) => Some(if l.0 < p.0 { l } else { p }),
                (p, l) => p.or(l),
            };
            let chosen = match self.steal_candidate(cpu, mine.map(|m| m.0)) {
                Some(v) => Some(v),
                None => mine.map(|m| m.1),
            };
            let Some(v) = chosen else {
                return Decision { next: None, run_until_ns: self.next_unpark_ns(), kick };
            };
            if Some(v) != prev {
                self.detach(v);
            }
            if !self.grab_budget(v) {
                if Some(v) == prev {
                    self.detach(v);
                    prev = None;
                }
                self.park(v);
                continue;
            }
            if let Some(p) = prev.filter(|&p| p != v) {
                self.detach(p);
                self.enqueue(p, cpu);
            }
            return self.run(cpu, v, prev == Some(v), now, kick);
        }
    }

    /// Makes `v` (detached, with budget) the current vCPU of `cpu`.
    fn run(&mut self, cpu: usize, v: VcpuRef, continuing: bool, now: u64, kick: Option<usize>) -> Decision {
        let weight = self.weight(v);
        let init = self.credit_vt(CREDIT_INIT_NS);
        let ceiling = self.credit_vt(CREDIT_INIT_NS + CARRYOVER_NS);
        let c = &mut self.cpus[cpu];
        let s = self.vcpus.get_mut(&id(v)).expect("running vCPU exists");
        if !continuing {
            if s.cpu != cpu {
                self.stats.migrations += 1;
                s.vtime = s.vtime.max(c.base.saturating_sub(ceiling));
            }
            self.stats.switches += 1;
            s.place = Place::Current { cpu };
            s.cpu = cpu;
            c.current = Some(v);
            c.started_ns = now;
            c.load += u64::from(weight);
        }
        s.yielded = false;
        if s.vtime >= c.base {
            // The best candidate is out of credit: everyone here gets more.
            let resets = (s.vtime - c.base) / init + 1;
            c.base += resets * init;
            self.stats.resets += 1;
        }
        let slice = c.queue.first_key_value().map_or(MAX_SLICE_NS, |(k, _)| ns_of(k.vtime.saturating_sub(s.vtime), weight));
        let slice = slice.clamp(MIN_SLICE_NS, MAX_SLICE_NS);
        let mut run_until_ns = now.saturating_add(slice).max(c.started_ns.saturating_add(self.ratelimit_ns));
        run_until_ns = run_until_ns.min(self.budget_end(v, now));
        Decision { next: Some(v), run_until_ns, kick }
    }

    /// The best waiting vCPU of another queue that `cpu` should pull: any
    /// that may run here when `cpu` has nothing, else one at least
    /// MIGRATE_THRESHOLD behind `mine`; soft-affine ones preferred.
    fn steal_candidate(&mut self, cpu: usize, mine: Option<u128>) -> Option<VcpuRef> {
        let bit = cpu_bit(cpu);
        let penalty = self.credit_vt(SOFT_PENALTY_NS);
        let mut best: Option<(u128, VcpuRef)> = None;
        for (other, c) in self.cpus.iter().enumerate() {
            if other == cpu {
                continue;
            }
            let running = c.current.map(|cur| &self.vcpus[&id(cur)]).filter(|cur| cur.runnable);
            for (at, (key, &v)) in c.queue.iter().take(STEAL_SCAN).enumerate() {
                self.stats.scanned += 1;
                let s = &self.vcpus[&id(v)];
                if s.hard & bit == 0 {
                    continue;
                }
                let soft_elsewhere = s.soft & bit == 0 && s.soft & s.hard & self.online != 0;
                let soon = at == 0 && running.is_some_and(|cur| key.vtime < cur.vtime) && s.soft & cpu_bit(other) != 0;
                if soft_elsewhere && soon {
                    // It preempts there within the rate limit, on a CPU it prefers.
                    continue;
                }
                let effective = key.vtime + if soft_elsewhere { penalty } else { 0 };
                if best.is_none_or(|b| effective < b.0) {
                    best = Some((effective, v));
                }
            }
        }
        let (effective, v) = best?;
        match mine {
            None => Some(v),
            Some(m) if effective + self.credit_vt(MIGRATE_THRESHOLD_NS) < m => Some(v),
            Some(_) => None,
        }
    }

    /// Queues runnable, detached `v` where it should run (or parks it when
    /// its domain has no budget). Returns the CPU to kick, as `wake`.
    fn place_runnable(&mut self, v: VcpuRef) -> Option<usize> {
        if self.out_of_budget(v.domid) {
            self.park(v);
            return None;
        }
        let cpu = self.pick_cpu(v);
        self.enqueue(v, cpu);
        let c = &self.cpus[cpu];
        let Some(cur) = c.current.filter(|cur| self.vcpus[&id(*cur)].runnable) else { return Some(cpu) };
        let cur_vtime = self.vcpus[&id(cur)].vtime;
        let mine = self.vcpus[&id(v)].vtime;
        (mine < cur_vtime).then_some(cpu)
    }

    /// An idle CPU of the soft affinity (the last one first), else of the
    /// hard one, else the least loaded of the soft (or hard) affinity.
    fn pick_cpu(&self, v: VcpuRef) -> usize {
        let s = &self.vcpus[&id(v)];
        let hard = s.hard & self.online;
        let soft = s.soft & hard;
        // A CPU whose vCPU blocked and has not left yet is as good as idle.
        let idle = |c: usize| {
            let cpu = &self.cpus[c];
            cpu.queue.is_empty() && cpu.current.is_none_or(|cur| !self.vcpus[&id(cur)].runnable)
        };
        let in_mask = |mask: u64| (0..self.cpus.len()).filter(move |&c| mask & cpu_bit(c) != 0);
        let load = |c: usize| (self.cpus[c].load, c != s.cpu, c);
        let idle_in = |mask: u64| {
            if mask & cpu_bit(s.cpu) != 0 && idle(s.cpu) { Some(s.cpu) } else { in_mask(mask).find(|&c| idle(c)) }
        };
        if let Some(c) = idle_in(soft) {
            return c;
        }
        // Soft affinity is worth a rate limit's wait: a soft CPU where `v`
        // would be next and preempt the current vCPU beats an idle other one.
        let would_preempt = |c: usize| {
            let cpu = &self.cpus[c];
            let first = cpu.queue.first_key_value().is_none_or(|(k, _)| s.vtime < k.vtime);
            first && cpu.current.is_some_and(|cur| s.vtime < self.vcpus[&id(cur)].vtime)
        };
        if let Some(c) = in_mask(soft).filter(|&c| would_preempt(c)).min_by_key(|&c| load(c)) {
            return c;
        }
        if let Some(c) = idle_in(hard) {
            return c;
        }
        let prefer = if soft != 0 { soft } else { hard };
        in_mask(prefer).min_by_key(|&c| load(c)).unwrap_or(0)
    }

    fn enqueue(&mut self, v: VcpuRef, cpu: usize) {
        let weight = self.weight(v);
        let ceiling = self.credit_vt(CREDIT_INIT_NS + CARRYOVER_NS);
        let c = &mut self.cpus[cpu];
        let s = self.vcpus.get_mut(&id(v)).expect("queued vCPU exists");
        // A sleeper banks at most one reset's credit (credit2's clip).
        s.vtime = s.vtime.max(c.base.saturating_sub(ceiling));
        if s.cpu != cpu {
            s.vtime = s.vtime.min(c.base + vt(MOVED_DEBT_NS, weight));
            s.cpu = cpu;
        }
        self.seq += 1;
        let key = QueueKey { vtime: s.vtime, seq: self.seq };
        s.place = Place::Queued { cpu, key };
        c.queue.insert(key, v);
        c.load += u64::from(weight);
    }

    /// Takes `v` off its queue, CPU or parking (returning unused budget).
    fn detach(&mut self, v: VcpuRef) {
        let weight = self.weight(v);
        let Some(s) = self.vcpus.get_mut(&id(v)) else { return };
        match core::mem::replace(&mut s.place, Place::Away) {
            Place::Queued { cpu, key } => {
                let c = &mut self.cpus[cpu];
                c.queue.remove(&key);
                c.load = c.load.saturating_sub(u64::from(weight));
            }
            Place::Current { cpu } => {
                let c = &mut self.cpus[cpu];
                c.current = None;
                c.load = c.load.saturating_sub(u64::from(weight));
                let unused = core::mem::take(&mut s.budget_ns);
                if let Some(d) = self.domains.get_mut(&v.domid).filter(|d| d.cap != 0) {
                    d.budget_ns = d.budget_ns.saturating_add(unused);
                }
            }
            Place::Parked => {
                if let Some(d) = self.domains.get_mut(&v.domid) {
                    d.parked.retain(|&p| p != v);
                }
            }
            Place::Away => {}
        }
    }

    fn park(&mut self, v: VcpuRef) {
        if let Some(s) = self.vcpus.get_mut(&id(v)) {
            s.place = Place::Parked;
        }
        if let Some(d) = self.domains.get_mut(&v.domid) {
            d.parked.push(v);
        }
    }

    fn place_parked(&mut self, v: VcpuRef) {
        if let Some(s) = self.vcpus.get_mut(&id(v)) {
            s.place = Place::Away;
            if s.runnable {
                self.place_runnable(v);
            }
        }
    }

    fn out_of_budget(&self, domid: u16) -> bool {
        self.domains.get(&domid).is_some_and(|d| d.cap != 0 && d.budget_ns <= 0)
    }

    /// Makes sure `v` holds cap budget to run (always true uncapped).
    fn grab_budget(&mut self, v: VcpuRef) -> bool {
        let Some(d) = self.domains.get_mut(&v.domid) else { return false };
        if d.cap == 0 {
            return true;
        }
        let Some(s) = self.vcpus.get_mut(&id(v)) else { return false };
        if s.budget_ns > 0 {
            return true;
        }
        // Settle a debt first, then take at most a 1/N share (N vCPUs), so
        // each of the domain's vCPUs gets a chance every period (credit2's
        // budget_quota, at least a minimum slice).
        d.budget_ns = d.budget_ns.saturating_add(core::mem::take(&mut s.budget_ns));
        let vcpus = i64::from(d.vcpus.max(1));
        let quota = (d.max_budget_ns() / vcpus).max(i64::try_from(MIN_SLICE_NS).unwrap_or(i64::MAX));
        let grab = d.budget_ns.min(quota);
        if grab <= 0 {
            return false;
        }
        d.budget_ns -= grab;
        s.budget_ns = grab;
        true
    }

    /// When `v`'s grabbed budget runs out, or `u64::MAX` uncapped.
    fn budget_end(&self, v: VcpuRef, now: u64) -> u64 {
        if self.domains.get(&v.domid).is_none_or(|d| d.cap == 0) {
            return u64::MAX;
        }
        let left = self.vcpus.get(&id(v)).map_or(0, |s| s.budget_ns.max(0));
        now.saturating_add(u64::try_from(left).unwrap_or(0))
    }

    /// Refills the cap budgets whose period ended by `now` and requeues
    /// their parked vCPUs.
    fn refill_due(&mut self, now: u64) {
        while let Some(&(at, domid)) = self.refills.first() {
            if at > now {
                break;
            }
            self.refills.pop_first();
            let Some(d) = self.domains.get_mut(&domid) else { continue };
            let periods = (now - at) / CAP_PERIOD_NS + 1;
            let max = d.max_budget_ns();
            let gained = max.saturating_mul(i64::try_from(periods).unwrap_or(i64::MAX));
            // A debt carries over; unused budget does not.
            d.budget_ns = d.budget_ns.saturating_add(gained).min(max);
            d.next_refill_ns = at.saturating_add(periods * CAP_PERIOD_NS);
            self.refills.insert((d.next_refill_ns, domid));
            if d.budget_ns > 0 {
                let parked = core::mem::take(&mut d.parked);
                for p in parked {
                    self.place_parked(p);
                }
            }
        }
    }

    /// The first refill that brings a parked vCPU back (an idle CPU wakes
    /// for it), or `u64::MAX`: no tick when nothing waits.
    fn next_unpark_ns(&self) -> u64 {
        let waits = |domid: &u16| self.domains.get(domid).is_some_and(|d| !d.parked.is_empty());
        self.refills.iter().find(|(_, domid)| waits(domid)).map_or(u64::MAX, |&(at, _)| at)
    }

    fn weight(&self, v: VcpuRef) -> u16 {
        self.domains.get(&v.domid).map_or(DEFAULT_WEIGHT, |d| d.weight)
    }

    /// `ns` of credit in vtime units (ns of the heaviest domain).
    fn credit_vt(&self, ns: u64) -> u128 {
        vt(ns, self.max_weight)
    }
}

#[cfg(test)]
impl Credit2 {
    /// Panics unless every vCPU is in exactly the place its state says and
    /// the loads add up.
    pub(crate) fn check_invariants(&self) {
        let mut load = alloc::vec![0u64; self.cpus.len()];
        for (&(domid, vcpu), s) in &self.vcpus {
            let v = VcpuRef { domid, vcpu };
            let d = &self.domains[&domid];
            match s.place {
                Place::Away => assert!(!s.runnable, "{v:?} runnable but nowhere"),
                Place::Queued { cpu, key } => {
                    assert!(s.runnable, "{v:?} queued while blocked");
                    assert_eq!(self.cpus[cpu].queue.get(&key), Some(&v));
                    assert_eq!(key.vtime, s.vtime);
                    assert!(s.hard & cpu_bit(cpu) != 0, "{v:?} queued on cpu{cpu} outside its hard affinity");
                    load[cpu] += u64::from(d.weight);
                }
                Place::Current { cpu } => {
                    assert_eq!(self.cpus[cpu].current, Some(v));
                    load[cpu] += u64::from(d.weight);
                }
                Place::Parked => {
                    assert!(s.runnable && d.cap != 0, "{v:?} parked");
                    assert!(d.parked.contains(&v));
                }
            }
        }
        for (cpu, c) in self.cpus.iter().enumerate() {
            assert_eq!(c.load, load[cpu], "cpu{cpu} load");
            if let Some(cur) = c.current {
                assert_eq!(self.vcpus[&id(cur)].place, Place::Current { cpu });
            }
            for v in c.queue.values() {
                assert!(matches!(self.vcpus[&id(*v)].place, Place::Queued { cpu: at, .. } if at == cpu));
            }
        }
        for (&domid, d) in &self.domains {
            assert_eq!(d.cap != 0, self.refills.contains(&(d.next_refill_ns, domid)), "d{domid} refill");
            for p in &d.parked {
                assert_eq!(self.vcpus[&id(*p)].place, Place::Parked);
            }
        }
        assert_eq!(self.refills.len(), self.domains.values().filter(|d| d.cap != 0).count());
    }
}

#[cfg(test)]
mod tests;
