//! `cargo xtask bench --sched`'s scheduler table: Dom0 runs `bench=sched`
//! (dom0-kernel/src/schedbench.rs) on 5 CPUs (Dom0 on CPU 0, four APs);
//! the DomUs time themselves (guests/demo/src/kernel/bench.rs):
//! - phase `spread`: a 2-vCPU DomU whose vCPUs the APs admit to two APs:
//!   the null hypercall, SCHEDOP_yield with nothing else to run, and the
//!   wake-up of vCPU 1 (blocked in SCHEDOP_poll) by an event vCPU 0 sends
//!   from the other AP, from EVTCHNOP_send to vCPU 1 running;
//! - phase `shared`: the same two vCPUs pinned to one AP: each yield
//!   switches to the other vCPU and back (so a vCPU switch is half the
//!   difference from `spread`'s yield), and a wake-up from the same CPU
//!   waits for the scheduler to preempt the sending vCPU;
//! - phases `hypercalls-N`: N DomUs at once, one per AP, each making null
//!   hypercalls for one second of system time: calls per second in all
//!   over the span from the first start to the last end.
//!
//! Units as in the xenstore table: under plain TCG TSC cycles and system
//! time follow the host's clock (and its load; this machine has 2 cores,
//! so 4 guest CPUs cannot all run at once); under `-icount` both count
//! instructions of all CPUs together (QEMU runs one CPU at a time), so
//! throughput cannot grow with CPUs there by construction.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use anyhow::Result;

use crate::bench::{Json, Sample};

const DOM0_CMDLINE: &str = "bench=sched";
const TIMEOUT: Duration = Duration::from_secs(600);
const GO: &str = "dom0: bench sched ";

/// What a `schedbench` DomU reported, in the phase it ran in.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct DomuReport {
    pub phase: String,
    pub null: u64,
    pub yields: u64,
    pub wake_mean: u64,
    pub wake_max: u64,
    pub lost: u64,
}

/// What one run's log says, by phase.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Figures {
    pub domus: Vec<DomuReport>,
    /// (N at once, calls, start ns, end ns)
    pub hypercalls: Vec<(u32, u64, u64, u64)>,
}

fn field(rest: &str, key: &str) -> Option<u64> {
    rest.split_whitespace().find_map(|w| w.strip_prefix(key)?.strip_prefix('=')?.parse().ok())
}

pub fn parse(log: &str) -> Figures {
    let mut f = Figures::default();
    let mut phase = String::new();
    let (mut null, mut wake) = (None, None);
    for line in log.lines() {
        if let Some(rest) = line.split_once(GO).map(|(_, r)| r)
            && let Some(p) = rest.strip_suffix(": go")
        {
            phase = p.to_string();
            continue;
        }
        let Some(rest) = line.split_once("demo: bench ").map(|(_, r)| r) else { continue };
        if let Some(r) = rest.strip_prefix("null-hypercall ") {
            null = field(r, "cycles/iter");
        } else if let Some(r) = rest.strip_prefix("wake ") {
            wake = field(r, "mean").zip(field(r, "max")).zip(field(r, "lost"));
        } else if let Some(r) = rest.strip_prefix("yield ") {
            if let (Some(n), Some(((mean, max), lost)), Some(y)) = (null.take(), wake.take(), field(r, "cycles/iter")) {
                f.domus.push(DomuReport { phase: phase.clone(), null: n, yields: y, wake_mean: mean, wake_max: max, lost });
            }
        } else if let Some(r) = rest.strip_prefix("hypercalls ")
            && let Some(n) = phase.strip_prefix("hypercalls-").and_then(|n| n.parse().ok())
            && let (Some(calls), Some(start), Some(end)) = (field(r, "n"), field(r, "start"), field(r, "end"))
        {
            f.hypercalls.push((n, calls, start, end));
        }
    }
    f
}

impl Figures {
    fn domu(&self, phase: &str) -> Option<&DomuReport> {
        self.domus.iter().find(|d| d.phase == phase)
    }

    /// Calls per second of N DomUs together, if all N reported.
    pub fn throughput(&self, n: u32) -> Option<f64> {
        let these: Vec<_> = self.hypercalls.iter().filter(|h| h.0 == n).collect();
        if these.len() != n as usize {
            return None;
        }
        let calls: u64 = these.iter().map(|h| h.1).sum();
        let span = these.iter().map(|h| h.3).max()? - these.iter().map(|h| h.2).min()?;
        Some(calls as f64 * 1e9 / span.max(1) as f64)
    }

    /// A vCPU switch: half of (shared yield - lone yield).
    pub fn switch(&self) -> Option<u64> {
        Some(self.domu("shared")?.yields.saturating_sub(self.domu("spread")?.yields) / 2)
    }
}

pub struct PlatformRun {
    pub name: &'static str,
    pub unit: &'static str,
    pub figures: Figures,
    pub sample: Sample,
}

/// Boots each QEMU platform once with `bench=sched`; prints as it goes.
pub fn bench(root: &Path, target_dir: &Path, out: &Path) -> Result<Vec<PlatformRun>> {
    let count = |log: &str| {
        let f = parse(log);
        format!("{} DomU reports, {} hypercall loops", f.domus.len(), f.hypercalls.len())
    };
    let runs = crate::bench::run_tcg_pair(root, target_dir, out, "sched", DOM0_CMDLINE, TIMEOUT, count)?;
    Ok(runs.into_iter().map(|r| PlatformRun { name: r.name, unit: r.unit, figures: parse(&r.log), sample: r.sample }).collect())
}

fn cell(v: Option<String>) -> String {
    format!("  {:>26}", v.unwrap_or_else(|| "n/a".into()))
}

pub fn table(runs: &[PlatformRun]) -> String {
    let mut out = format!("{:<46}", "scheduler (5 CPUs: Dom0 + 4 APs)");
    for r in runs {
        let _ = write!(out, "  {:>26}", format!("{} ({})", r.name, r.unit));
    }
    out.push_str("  target\n");
    type Row<'a> = (&'a str, &'a dyn Fn(&Figures) -> Option<String>, &'a str);
    let domu = |phase: &'static str, pick: fn(&DomuReport) -> String| move |f: &Figures| f.domu(phase).map(pick);
    let wake = |d: &DomuReport| format!("{} / {}{}", d.wake_mean, d.wake_max, if d.lost > 0 { format!(" ({} lost)", d.lost) } else { String::new() });
    let null = domu("spread", |d| d.null.to_string());
    let alone = domu("spread", |d| d.yields.to_string());
    let shared = domu("shared", |d| d.yields.to_string());
    let switch = |f: &Figures| f.switch().map(|s| s.to_string());
    let wake_far = domu("spread", wake);
    let wake_near = domu("shared", wake);
    let rate = |n: u32| move |f: &Figures| f.throughput(n).map(|t| format!("{t:.0}"));
    let scale = |n: u32| move |f: &Figures| Some(format!("{:.2}x", f.throughput(n)? / f.throughput(1)?));
    let (rate1, rate2, rate4, scale2, scale4) = (rate(1), rate(2), rate(4), scale(2), scale(4));
    let rows: [Row; 11] = [
        ("null hypercall (DomU vCPU on an AP)", &null, ""),
        ("yield, alone on its AP", &alone, ""),
        ("yield, 2 vCPUs on one AP (2 switches)", &shared, ""),
        ("vCPU switch ((shared - alone) / 2)", &switch, "<= 2 null hypercalls"),
        ("wake-up by event from another AP (mean/max)", &wake_far, ""),
        ("wake-up by event from the same AP (mean/max)", &wake_near, ""),
        ("null hypercalls/s, 1 DomU", &rate1, ""),
        ("null hypercalls/s, 2 DomUs at once", &rate2, ""),
        ("null hypercalls/s, 4 DomUs at once", &rate4, ""),
        ("  2 DomUs vs 1", &scale2, ""),
        ("  4 DomUs vs 1", &scale4, ">= 3.5x"),
    ];
    for (label, f, target) in rows {
        let _ = write!(out, "{label:<46}");
        for r in runs {
            out.push_str(&cell(f(&r.figures)));
        }
        let _ = writeln!(out, "  {target}");
    }
    out.push_str("host wall time of each whole run:");
    for r in runs {
        let note = r.sample.problem.as_deref().map_or(String::new(), |p| format!(" ({p})"));
        let _ = write!(out, " {}: {}{note}", r.name, r.sample.exit_s.map_or("n/a".into(), |s| format!("{s:.1} s")));
    }
    out.push('\n');
    out.push_str(
        "Benchmarks, not tests: under TCG on this 2-core host at most two guest CPUs run at once, and under -icount one,\n\
         so the throughput rows cannot show 4 CPUs scaling here; the switch and wake-up rows are per event.\n",
    );
    out
}

pub fn json(runs: &[PlatformRun]) -> Json {
    let num = |v: Option<u64>| v.map_or(Json::Null, |v| Json::Raw(v.to_string()));
    Json::Arr(
        runs.iter()
            .map(|r| {
                let f = &r.figures;
                let d = |p: &str| f.domu(p).cloned();
                Json::Obj(vec![
                    ("platform", Json::Str(r.name.into())),
                    ("unit", Json::Str(r.unit.into())),
                    ("null_hypercall", num(d("spread").map(|d| d.null))),
                    ("yield_alone", num(d("spread").map(|d| d.yields))),
                    ("yield_shared", num(d("shared").map(|d| d.yields))),
                    ("vcpu_switch", num(f.switch())),
                    ("wake_other_cpu_mean", num(d("spread").map(|d| d.wake_mean))),
                    ("wake_same_cpu_mean", num(d("shared").map(|d| d.wake_mean))),
                    ("hypercalls_per_s", Json::Arr([1, 2, 4].iter().map(|&n| f.throughput(n).map_or(Json::Null, |t| Json::num(t, 0))).collect())),
                    ("wall_s", r.sample.exit_s.map_or(Json::Null, |s| Json::num(s, 3))),
                ])
            })
            .collect(),
    )
}

/// The hook `cargo xtask bench` calls: runs, prints the table, returns the
/// figures for bench.json.
pub fn run_and_print(root: &Path, target_dir: &Path, out: &Path) -> Json {
    crate::bench::print_runs("sched", bench(root, target_dir, out), table, json)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG: &str = "(d0) dom0: bench sched spread: go\n\
        (d1) demo: bench null-hypercall cycles/iter=1000\n\
        (d1) demo: bench wake n=2000 lost=0 mean=5000 max=9000\n\
        (d1) demo: bench yield cycles/iter=1500\n\
        (d0) dom0: bench sched shared: go\n\
        (d2) demo: bench null-hypercall cycles/iter=1100\n\
        (d2) demo: bench wake n=2000 lost=1 mean=90000 max=200000\n\
        (d2) demo: bench yield cycles/iter=5500\n\
        (d0) dom0: bench sched hypercalls-1: go\n\
        (d3) demo: bench hypercalls n=1000 cycles=1 start=0 end=1000000000\n\
        (d0) dom0: bench sched hypercalls-2: go\n\
        (d4) demo: bench hypercalls n=1000 cycles=1 start=0 end=1000000000\n\
        (d5) demo: bench hypercalls n=1000 cycles=1 start=0 end=1000000000\n";

    #[test]
    fn phases_switch_and_throughput() {
        let f = parse(LOG);
        assert_eq!(f.domus.len(), 2);
        assert_eq!(f.switch(), Some(2000), "(5500 - 1500) / 2");
        assert_eq!(f.throughput(1), Some(1000.0));
        assert_eq!(f.throughput(2), Some(2000.0));
        assert_eq!(f.throughput(4), None, "not reported: n/a");
        let t = table(&[PlatformRun { name: "qemu-tcg", unit: "TSC cycles", figures: f, sample: Sample::default() }]);
        assert!(t.contains("2000") && t.contains("90000 / 200000 (1 lost)") && t.contains("2.00x") && t.contains("n/a"), "{t}");
    }
}
