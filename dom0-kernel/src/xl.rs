//! What Dom0's toolstack does at boot, from its command line:
//!
//! - `autostart=a.cfg,b.cfg`: create those domains, in order, first.
//! - `test=lifecycle`: create, list, pause/unpause, a domain powering off
//!   (on_poweroff=destroy) and one crashing (on_crash=restart), destroy
//!   all; the free-page count must come back to its value before.
//! - `test=bad-configs`: every `bad/*.cfg` of the bundle is refused with
//!   its error and nothing is created.
//! - `run=FILE`: create FILE's domain and wait until it is gone (its
//!   on_poweroff / on_crash), then power off (`conformance-domu`).
//!
//! Every toolstack line starts `xl: `.

use alloc::vec::Vec;

use guest_rt::start_info::StartInfo;
use guest_rt::timer::Timer;
use guest_rt::{cmdline, println};

use crate::toolstack::{Toolstack, xen};

/// Creates the `autostart=` domains; returns the toolstack for what follows.
pub fn autostart(si: &StartInfo) -> Option<Toolstack<'_>> {
    let mut ts = match Toolstack::new(si) {
        Ok(ts) => ts,
        Err(e) => {
            println!("xl: error: setting up the toolstack's mapping window: {e}");
            return None;
        }
    };
    if let Some(list) = cmdline::value(si.cmdline(), "autostart") {
        for file in list.split(',').filter(|f| !f.is_empty()) {
            create(&mut ts, file);
        }
    }
    Some(ts)
}

fn create(ts: &mut Toolstack, file: &str) -> Option<u16> {
    match ts.create(file) {
        Ok(domid) => {
            println!("xl: {file}: created domain {domid}");
            Some(domid)
        }
        Err(e) => {
            println!("xl: error: {e}");
            None
        }
    }
}

fn list(ts: &Toolstack) {
    match ts.list() {
        Ok(table) => {
            for line in table.lines() {
                println!("xl: {line}");
            }
        }
        Err(e) => println!("xl: error: {e}"),
    }
}

fn report(what: &str, result: Result<(), alloc::string::String>) {
    match result {
        Ok(()) => println!("xl: {what}: ok"),
        Err(e) => println!("xl: error: {what}: {e}"),
    }
}

fn free_pages() -> u64 {
    xen::physinfo().map_or(0, |p| p.free_pages)
}

/// Reaps every `tick_ms` until `done` says so or `limit` ticks pass;
/// prints what reaping did. Whether `done` held.
fn wait_until(ts: &mut Toolstack, timer: &Timer, tick_ms: u64, limit: u32, mut done: impl FnMut(&str) -> bool) -> bool {
    for _ in 0..limit {
        for line in ts.reap() {
            println!("{line}");
            if done(&line) {
                return true;
            }
        }
        if ts.wait(timer, tick_ms).is_err() {
            return false;
        }
    }
    false
}

pub fn lifecycle(ts: &mut Toolstack, timer: &Timer) {
    let before = free_pages();
    println!("xl: lifecycle: {before} free pages before");
    let (Some(_), Some(_)) = (create(ts, "demo1.cfg"), create(ts, "short.cfg")) else { return };
    list(ts);
    report("pause demo1", ts.pause("demo1"));
    list(ts);
    report("unpause demo1", ts.unpause("demo1"));
    if !wait_until(ts, timer, 100, 100, |l| l.contains("short") && l.contains("destroyed")) {
        println!("xl: lifecycle: short never powered off");
        return;
    }
    if create(ts, "crashy.cfg").is_none() {
        return;
    }
    let mut restarts = 0;
    if !wait_until(ts, timer, 100, 200, |l| {
        restarts += usize::from(l.contains("crashy") && l.contains("restarted as"));
        restarts >= 2
    }) {
        println!("xl: lifecycle: crashy was not restarted twice");
        return;
    }
    report("shutdown demo1", ts.shutdown("demo1", false).map(drop));
    wait_until(ts, timer, 50, 100, |l| l.contains("demo1") && l.contains("destroyed"));
    report("destroy crashy", ts.destroy("crashy"));
    list(ts);
    let after = free_pages();
    let verdict = if after == before { "back to the baseline" } else { "NOT back to the baseline" };
    println!("xl: lifecycle: {after} free pages after ({before} before): {verdict}");
}

pub fn bad_configs(si: &StartInfo, ts: &mut Toolstack) {
    let before = free_pages();
    let names: Vec<&str> =
        (0..si.info.nr_modules).filter_map(|i| si.module(i)).map(|m| m.name).filter(|n| n.starts_with("bad/")).collect();
    let mut refused = 0;
    for name in &names {
        match ts.create(name) {
            Ok(domid) => println!("xl: bad-configs: {name} was accepted (domain {domid})!"),
            Err(e) => {
                println!("xl: {e}");
                refused += 1;
            }
        }
    }
    let domains = xen::domain_infos().map_or(0, |d| d.len());
    let after = free_pages();
    if refused == names.len() && domains == 1 && after == before {
        println!("xl: bad-configs: {refused} broken configs refused, nothing created");
    } else {
        println!("xl: bad-configs: FAILED: {refused} of {} refused, {domains} domains, free pages {before} -> {after}", names.len());
    }
}

/// Creates `file`'s domain and waits (up to `limit_s`) until it is gone.
pub fn run(ts: &mut Toolstack, timer: &Timer, file: &str, limit_s: u32) {
    if create(ts, file).is_none() {
        return;
    }
    if !wait_until(ts, timer, 100, limit_s * 10, |l| l.contains("destroyed")) {
        println!("xl: run: {file} still running after {limit_s} s");
    }
}

/// `test=xenstore-shutdown`: what the shell's `shutdown NAME` does, for
/// platforms without a COM2 to type on: once each domain `shutdown=A,B`
/// names (default `xsshut,xsdeaf`, the `autostart=` domains of the
/// xenstore-shutdown scenario) says it handles `control/shutdown` (within
/// `wait=` seconds, default 10: a Linux on Bochs takes minutes) and, with
/// `ready=TEXT` (`+` for a space), once its console showed TEXT (a Linux
/// asked before its userspace runs cannot start its poweroff command),
/// shuts it down through the toolstack; `xsshut` must power off by itself,
/// `xsdeaf` be shut down hard after the grace period.
pub fn xenstore_shutdown(ts: &mut Toolstack, timer: &Timer, cmdline: &str) {
    let names = guest_rt::cmdline::value(cmdline, "shutdown").unwrap_or("xsshut,xsdeaf");
    let wait_s: u32 = guest_rt::cmdline::value(cmdline, "wait").and_then(|w| w.parse().ok()).unwrap_or(10);
    let shows = guest_rt::cmdline::value(cmdline, "ready").map(|r| r.replace('+', " "));
    for name in names.split(',') {
        let Some(domid) = ts.find(name) else {
            println!("xl: xenstore-shutdown: FAILED: no domain {name}");
            return;
        };
        let key = alloc::format!("/local/domain/{domid}/control/feature-poweroff");
        let mut ready = false;
        for _ in 0..wait_s * 20 {
            if ts.xenstored.store.read(&key).is_ok_and(|v| v == b"1") && shows.as_ref().is_none_or(|r| ts.console_shows(domid, r)) {
                ready = true;
                break;
            }
            // Its console drained meanwhile: a guest blocks on a full ring.
            for line in ts.reap() {
                println!("{line}");
            }
            let _ = ts.wait(timer, 50);
        }
        if !ready {
            println!("xl: xenstore-shutdown: FAILED: {name} never set control/feature-poweroff (or its console never showed {shows:?})");
            return;
        }
        match ts.shutdown(name, false) {
            Ok(how) => println!("xl: shutdown {name}: {how}"),
            Err(e) => {
                println!("xl: error: shutdown {name}: {e}");
                return;
            }
        }
        let gone = alloc::format!("{name} (d{domid}) powered off: destroyed");
        if !wait_until(ts, timer, 100, 200, |l| l.contains(&gone)) {
            println!("xl: xenstore-shutdown: FAILED: {name} did not go");
            return;
        }
    }
    println!("xl: xenstore-shutdown: done");
}

/// `test=no-leak count=N`: creates `scrub.cfg`'s domain N times (default
/// 1000), each run to its end (it checks that its RAM holds nothing of the
/// one before, marks it, powers off) and destroyed; then the free-page
/// count must be what it was before the first.
pub fn no_leak(ts: &mut Toolstack, timer: &Timer, cmdline: &str) {
    let count: u32 = guest_rt::cmdline::value(cmdline, "count").and_then(|c| c.parse().ok()).unwrap_or(1000);
    let before = free_pages();
    println!("xl: no-leak: {count} domains, {before} free pages before");
    for i in 1..=count {
        let Some(domid) = create(ts, "scrub.cfg") else {
            println!("xl: no-leak: FAILED: domain {i} of {count} was not created");
            return;
        };
        let gone = alloc::format!("scrub (d{domid}) powered off: destroyed");
        if !wait_until(ts, timer, 10, 3000, |l| l.contains(&gone)) {
            println!("xl: no-leak: FAILED: domain {i} of {count} (d{domid}) did not power off");
            return;
        }
        if i % 100 == 0 {
            println!("xl: no-leak: {i} domains so far, {} free pages", free_pages());
        }
    }
    let after = free_pages();
    let verdict = if after == before { "back as before" } else { "NOT back" };
    println!("xl: no-leak: {count} domains created, run and destroyed; free pages {after}: {verdict} ({before})");
}
