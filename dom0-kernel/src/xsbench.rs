//! `bench=xenstore`: `cargo xtask bench`'s xenstore round trips. Creates
//! `xenstore-bench1.cfg` alone, then `xenstore-bench1..4.cfg` at once (one
//! DomU vCPU per CPU besides Dom0's: 5 CPUs), waits until each has made
//! its `data/bench`, writes their `data/go` together, and waits until all
//! have powered off; the DomUs time their own round trips and print them.
//! Dom0's lines: `dom0: bench xenstore N domu: go` and `...: done` (or
//! why not), which the host times too.

use alloc::format;
use alloc::vec::Vec;

use guest_rt::println;
use guest_rt::timer::Timer;

use crate::toolstack::Toolstack;

const FILES: [&str; 4] = ["xenstore-bench1.cfg", "xenstore-bench2.cfg", "xenstore-bench3.cfg", "xenstore-bench4.cfg"];
/// How long the DomUs may take to be ready, and then to finish.
const READY_TICKS: u32 = 600;
const DONE_TICKS: u32 = 6000;
const TICK_MS: u64 = 10;

pub fn run(ts: &mut Toolstack, timer: &Timer) {
    for n in [1, 4] {
        if !phase(ts, timer, &FILES[..n]) {
            ts.destroy_all();
            return;
        }
    }
}

fn phase(ts: &mut Toolstack, timer: &Timer, files: &[&str]) -> bool {
    let n = files.len();
    let mut ids = Vec::new();
    for f in files {
        match ts.create(f) {
            Ok(id) => ids.push(id),
            Err(e) => {
                println!("xl: error: {e}");
                return false;
            }
        }
    }
    let ready = |ts: &mut Toolstack| ids.iter().all(|id| ts.xenstored.store.read(&format!("/local/domain/{id}/data/bench")).is_ok());
    let mut ticks = 0;
    while !ready(ts) {
        ticks += 1;
        if ticks > READY_TICKS || ts.wait(timer, TICK_MS).is_err() {
            println!("dom0: bench xenstore {n} domu: FAILED: not every DomU got ready");
            return false;
        }
    }
    for id in &ids {
        if let Err(e) = ts.xenstored.store.write_str(&format!("/local/domain/{id}/data/go"), "1") {
            println!("dom0: bench xenstore {n} domu: FAILED: writing d{id}'s data/go: {}", e.name());
            return false;
        }
    }
    println!("dom0: bench xenstore {n} domu: go");
    let mut gone = 0;
    for _ in 0..DONE_TICKS {
        for line in ts.reap() {
            println!("{line}");
            gone += usize::from(line.contains("destroyed"));
        }
        if gone >= n {
            println!("dom0: bench xenstore {n} domu: done");
            return true;
        }
        if ts.wait(timer, TICK_MS).is_err() {
            break;
        }
    }
    println!("dom0: bench xenstore {n} domu: FAILED: still running");
    false
}
