//! `cargo xtask bench`'s xenstore table: round trips from one DomU, then
//! from four at once, against Dom0's xenstored. Dom0 runs `bench=xenstore`
//! (dom0-kernel/src/xsbench.rs) on 5 CPUs (Dom0 on CPU 0, one DomU vCPU on
//! each other); every DomU (`xenstore-test mode=bench`) makes 1000 XS_READs
//! of its own key, then 1000 XS_WRITEs of it, one request at a time
//! (each waits for its reply), times each loop by Xen's system time
//! (HVMOP_get_time) and its TSC, and prints them.
//!
//! Per row (phase and request type):
//! - `rt/s`: all the phase's round trips (every DomU's) over the span from
//!   the first loop's start to the last one's end, in system time: for 4
//!   DomUs, what the store answers in all.
//! - `per rt`: the mean over the phase's DomUs of each one's TSC delta over
//!   its 1000 round trips: the latency one DomU sees (with 4, while the
//!   others keep the store busy).
//!
//! What the clocks count: under plain TCG (`qemu-tcg`) the guest's TSC and
//! system time follow the host's clock, so `rt/s` is per host second and
//! `per rt` is in TSC cycles at the rate the hypervisor calibrated (its
//! `time: TSC ... MHz` line), i.e. host time; the figures vary with the
//! host's load. Under `-icount shift=0,sleep=off` (`qemu-tcg-icount`) both
//! follow QEMU's virtual clock: 1 ns for each instruction any CPU executes
//! (QEMU runs the CPUs one at a time), and when every CPU is halted it
//! jumps to the next timer deadline; so `per rt` is virtual ns (the
//! instructions all CPUs execute for one round trip, plus any time all of
//! them wait for a timer), `rt/s` is per 10^9 of them, and both vary by
//! well under 1% from run to run. The last line is the host's wall time of each whole
//! run (QEMU's start to the hypervisor's `hv: exit code=` line: boot, both
//! phases, creating and destroying the DomUs), not of the timed loops.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use anyhow::Result;

use crate::bench::{Json, Sample};

const DOM0_CMDLINE: &str = "bench=xenstore";
const TIMEOUT: Duration = Duration::from_secs(300);
const GO: &str = "dom0: bench xenstore ";

/// One round-trip loop of one DomU.
#[derive(Debug, Clone, PartialEq)]
pub struct Loop {
    /// 1 or 4: the phase (DomUs at once).
    pub phase: u32,
    pub write: bool,
    pub n: u64,
    pub failed: u64,
    pub cycles: u64,
    pub start: u64,
    pub end: u64,
}

/// `(d3) xenstore-test: bench write n=1000 failed=0 ns=.. cycles=.. start=.. end=..`.
pub fn parse(line: &str, phase: u32) -> Option<Loop> {
    let rest = line.split_once("xenstore-test: bench ")?.1;
    let (what, rest) = rest.split_once(' ')?;
    let write = match what {
        "read" => false,
        "write" => true,
        _ => return None,
    };
    let field = |k: &str| rest.split_whitespace().find_map(|w| w.strip_prefix(k)?.strip_prefix('=')?.parse::<u64>().ok());
    Some(Loop { phase, write, n: field("n")?, failed: field("failed")?, cycles: field("cycles")?, start: field("start")?, end: field("end")? })
}

/// Every loop of a COM1 log, each in the phase Dom0 last said `go` for.
pub fn loops(log: &str) -> Vec<Loop> {
    let mut phase = 0;
    let mut out = Vec::new();
    for line in log.lines() {
        if let Some(rest) = line.split_once(GO).map(|(_, r)| r)
            && let Some(n) = rest.strip_suffix(" domu: go")
        {
            phase = n.parse().unwrap_or(0);
        }
        if let Some(l) = parse(line, phase) {
            out.push(l);
        }
    }
    out
}

/// One phase and request type: (round trips per second, TSC per round
/// trip, failures), if its loops were all seen.
pub fn figures(loops: &[Loop], phase: u32, write: bool) -> Option<(f64, f64, u64)> {
    let these: Vec<&Loop> = loops.iter().filter(|l| l.phase == phase && l.write == write).collect();
    if these.len() != phase as usize {
        return None;
    }
    let n: u64 = these.iter().map(|l| l.n).sum();
    let span = these.iter().map(|l| l.end).max()? - these.iter().map(|l| l.start).min()?;
    let per = these.iter().map(|l| l.cycles as f64 / l.n.max(1) as f64).sum::<f64>() / these.len() as f64;
    Some((n as f64 * 1e9 / span.max(1) as f64, per, these.iter().map(|l| l.failed).sum()))
}

pub struct PlatformRun {
    pub name: &'static str,
    pub unit: &'static str,
    pub loops: Vec<Loop>,
    pub sample: Sample,
}

/// Boots each QEMU platform once with `bench=xenstore`; prints as it goes.
pub fn bench(root: &Path, target_dir: &Path, out: &Path) -> Result<Vec<PlatformRun>> {
    let runs = crate::bench::run_tcg_pair(root, target_dir, out, "xenstore", DOM0_CMDLINE, TIMEOUT, |log| format!("{} loops", loops(log).len()))?;
    Ok(runs.into_iter().map(|r| PlatformRun { name: r.name, unit: r.unit, loops: loops(&r.log), sample: r.sample }).collect())
}

pub fn table(runs: &[PlatformRun]) -> String {
    let mut out = String::from("xenstore round trips            ");
    for r in runs {
        let _ = write!(out, "  {:>14} rt/s  {:>12} per rt", r.name, r.unit);
    }
    out.push('\n');
    for (phase, label) in [(1, "1 DomU"), (4, "4 DomUs at once")] {
        for (write, what) in [(false, "XS_READ"), (true, "XS_WRITE")] {
            let _ = write!(out, "{:<32}", format!("{label}, {what}"));
            for r in runs {
                match figures(&r.loops, phase, write) {
                    Some((rate, per, 0)) => {
                        let _ = write!(out, "  {rate:>19.0}  {per:>19.0}");
                    }
                    Some((_, _, failed)) => {
                        let _ = write!(out, "  {:>40}", format!("{failed} failed"));
                    }
                    None => {
                        let _ = write!(out, "  {:>19}  {:>19}", "n/a", "n/a");
                    }
                }
            }
            out.push('\n');
        }
    }
    out.push_str("host wall time of each whole run (boot, both phases, teardown; not the loops alone):");
    for r in runs {
        let note = r.sample.problem.as_deref().map_or(String::new(), |p| format!(" ({p})"));
        let _ = write!(out, " {}: {}{note}", r.name, r.sample.exit_s.map_or("n/a".into(), |s| format!("{s:.1} s")));
    }
    out.push('\n');
    out.push_str(
        "rt/s: every DomU's round trips over the phase's span (4 DomUs: the store's total); per rt: the mean latency one DomU sees.\n\
         TSC cycles: host time at the calibrated TSC rate (varies with the host's load); virtual ns: -icount's clock, 1 ns per\n\
         instruction of any CPU plus the idle time skipped to the next timer when all are halted (repeats within 1%).\n",
    );
    out
}

pub fn json(runs: &[PlatformRun]) -> Json {
    Json::Arr(
        runs.iter()
            .map(|r| {
                let mut rows = Vec::new();
                for phase in [1, 4] {
                    for write in [false, true] {
                        let f = figures(&r.loops, phase, write);
                        rows.push(Json::Obj(vec![
                            ("domus", Json::Raw(phase.to_string())),
                            ("request", Json::Str(if write { "XS_WRITE" } else { "XS_READ" }.into())),
                            ("round_trips_per_s", f.map_or(Json::Null, |f| Json::num(f.0, 0))),
                            ("per_round_trip", f.map_or(Json::Null, |f| Json::num(f.1, 0))),
                        ]));
                    }
                }
                Json::Obj(vec![
                    ("platform", Json::Str(r.name.into())),
                    ("unit", Json::Str(r.unit.into())),
                    ("wall_s", r.sample.exit_s.map_or(Json::Null, |s| Json::num(s, 3))),
                    ("rows", Json::Arr(rows)),
                ])
            })
            .collect(),
    )
}

/// The hook `cargo xtask bench` calls: runs, prints the table, returns the
/// figures for bench.json.
pub fn run_and_print(root: &Path, target_dir: &Path, out: &Path) -> Json {
    crate::bench::print_runs("xenstore", bench(root, target_dir, out), table, json)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG: &str = "(d0) dom0: bench xenstore 1 domu: go\n\
        (d1) xenstore-test: bench read n=1000 failed=0 ns=100000000 cycles=2000000 start=1000 end=100001000\n\
        (d1) xenstore-test: bench write n=1000 failed=0 ns=1 cycles=3000000 start=100001000 end=300001000\n\
        (d0) dom0: bench xenstore 4 domu: go\n\
        (d2) xenstore-test: bench read n=1000 failed=0 ns=1 cycles=4000000 start=0 end=400000000\n\
        (d3) xenstore-test: bench read n=1000 failed=0 ns=1 cycles=4000000 start=0 end=400000000\n\
        (d4) xenstore-test: bench read n=1000 failed=0 ns=1 cycles=4000000 start=0 end=400000000\n\
        (d5) xenstore-test: bench read n=1000 failed=2 ns=1 cycles=4000000 start=100000000 end=500000000\n";

    #[test]
    fn phases_and_rates() {
        let l = loops(LOG);
        assert_eq!(l.len(), 6);
        assert_eq!(l[0].phase, 1);
        assert_eq!(l[2].phase, 4);
        let (rate, per, failed) = figures(&l, 1, false).unwrap();
        assert!((rate - 10_000.0).abs() < 1.0, "{rate}");
        assert_eq!((per, failed), (2000.0, 0));
        let (rate, per, failed) = figures(&l, 4, false).unwrap();
        assert!((rate - 8000.0).abs() < 1.0, "4000 in 0.5 s: {rate}");
        assert_eq!((per, failed), (4000.0, 2));
        assert_eq!(figures(&l, 4, true), None, "no write loops of phase 4: n/a");
        let t = table(&[PlatformRun { name: "qemu-tcg", unit: "TSC cycles", loops: l, sample: Sample::default() }]);
        assert!(t.contains("1 DomU, XS_READ") && t.contains("10000") && t.contains("2 failed") && t.contains("n/a"), "{t}");
    }

    #[test]
    fn other_lines_are_not_loops() {
        assert_eq!(parse("(d1) xenstore-test: bench: ready, waiting for data/go", 1), None);
        assert_eq!(parse("(d1) xenstore-test: bench read n=x", 1), None);
    }
}
