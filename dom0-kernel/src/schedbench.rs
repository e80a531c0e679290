//! `bench=sched`: `cargo xtask bench --sched`'s scheduler table, on 5 CPUs
//! (Dom0 on CPU 0, four APs). Runs, one after another and each to its
//! poweroff: `schedbench-spread.cfg` (2 vCPUs, admitted to two APs) and
//! `schedbench-shared.cfg` (2 vCPUs pinned to one AP), which time the null
//! hypercall, yields and wake-ups themselves (guests/demo's bench.rs);
//! then `hcbench1..4.cfg`, 1, 2 and 4 at once (one per AP), each making
//! null hypercalls for a second: the throughput. Dom0's lines
//! `dom0: bench sched PHASE: go` / `: done` mark the phases for xtask.

use guest_rt::println;
use guest_rt::timer::Timer;

use crate::toolstack::Toolstack;

const HYPERCALLS: [&str; 4] = ["hcbench1.cfg", "hcbench2.cfg", "hcbench3.cfg", "hcbench4.cfg"];
/// How long one phase may take (10 ms ticks).
const DONE_TICKS: u32 = 6000;
const TICK_MS: u64 = 10;

pub fn run(ts: &mut Toolstack, timer: &Timer) {
    for (phase, files) in [("spread", &["schedbench-spread.cfg"][..]), ("shared", &["schedbench-shared.cfg"][..])] {
        if !phase_to_end(ts, timer, phase, files) {
            return;
        }
    }
    for n in [1, 2, 4] {
        if !phase_to_end(ts, timer, &alloc::format!("hypercalls-{n}"), &HYPERCALLS[..n]) {
            return;
        }
    }
}

/// Creates `files`' domains and waits until every one has powered off.
fn phase_to_end(ts: &mut Toolstack, timer: &Timer, phase: &str, files: &[&str]) -> bool {
    println!("dom0: bench sched {phase}: go");
    for f in files {
        if let Err(e) = ts.create(f) {
            println!("xl: error: {e}");
            println!("dom0: bench sched {phase}: FAILED: {f} not created");
            ts.destroy_all();
            return false;
        }
    }
    let mut gone = 0;
    for _ in 0..DONE_TICKS {
        for line in ts.reap() {
            println!("{line}");
            gone += usize::from(line.contains("destroyed"));
        }
        if gone >= files.len() {
            println!("dom0: bench sched {phase}: done");
            return true;
        }
        if ts.wait(timer, TICK_MS).is_err() {
            break;
        }
    }
    println!("dom0: bench sched {phase}: FAILED: still running");
    ts.destroy_all();
    false
}
