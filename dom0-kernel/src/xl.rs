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
        // Every line of the batch is printed, the ones after `done`'s too.
        let mut seen = false;
        for line in ts.reap() {
            println!("{line}");
            seen |= done(&line);
        }
        if seen {
            return true;
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

/// Waits until domain `name` set `control/feature-poweroff` (within `wait=`
/// seconds of `cmdline`, default 10) and, with `ready=TEXT` there (`+` for
/// a space), its console showed TEXT; reaps meanwhile (a guest blocks on a
/// full console ring). Its id, or None after a FAILED line.
fn ready(ts: &mut Toolstack, timer: &Timer, cmdline: &str, test: &str, name: &str) -> Option<u16> {
    let wait_s: u32 = guest_rt::cmdline::value(cmdline, "wait").and_then(|w| w.parse().ok()).unwrap_or(10);
    let shows = guest_rt::cmdline::value(cmdline, "ready").map(|r| r.replace('+', " "));
    let Some(domid) = ts.find(name) else {
        println!("xl: {test}: FAILED: no domain {name}");
        return None;
    };
    let key = alloc::format!("/local/domain/{domid}/control/feature-poweroff");
    for _ in 0..wait_s * 20 {
        if ts.xenstored.store.read(&key).is_ok_and(|v| v == b"1") && shows.as_ref().is_none_or(|r| ts.console_shows(domid, r)) {
            return Some(domid);
        }
        for line in ts.reap() {
            println!("{line}");
        }
        let _ = ts.wait(timer, 50);
    }
    println!("xl: {test}: FAILED: {name} never set control/feature-poweroff (or its console never showed {shows:?}) in {wait_s} s");
    None
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
    for name in names.split(',') {
        let Some(domid) = ready(ts, timer, cmdline, "xenstore-shutdown", name) else { return };
        if !shut_down(ts, timer, "xenstore-shutdown", name, domid, 20) {
            return;
        }
    }
    println!("xl: xenstore-shutdown: done");
}

/// What the shell's `shutdown NAME` does, then waits up to `limit_s` for
/// domain `domid` to power off and be destroyed; false after an error or
/// FAILED line.
fn shut_down(ts: &mut Toolstack, timer: &Timer, test: &str, name: &str, domid: u16, limit_s: u32) -> bool {
    match ts.shutdown(name, false) {
        Ok(how) => println!("xl: shutdown {name}: {how}"),
        Err(e) => {
            println!("xl: error: shutdown {name}: {e}");
            return false;
        }
    }
    let gone = alloc::format!("{name} (d{domid}) powered off: destroyed");
    let went = wait_until(ts, timer, 100, limit_s * 10, |l| l.contains(&gone));
    if !went {
        println!("xl: {test}: FAILED: {name} did not go");
    }
    went
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

/// Domain `domid`'s pages (tot_pages), if it exists.
fn tot_pages(domid: u16) -> Option<u64> {
    xen::domain_infos().ok()?.iter().find(|i| i.domain.0 == domid).map(|i| i.tot_pages)
}

/// Reaps until domain `domid`'s page count has not moved for 2 s (at most
/// `limit_s`); its count then.
fn settled(ts: &mut Toolstack, timer: &Timer, domid: u16, limit_s: u32) -> Option<u64> {
    let (mut last, mut still) = (tot_pages(domid)?, 0);
    for _ in 0..limit_s * 5 {
        for line in ts.reap() {
            println!("{line}");
        }
        let _ = ts.wait(timer, 200);
        let now = tot_pages(domid)?;
        still = if now == last { still + 1 } else { 0 };
        last = now;
        if still >= 10 {
            break;
        }
    }
    Some(last)
}

/// `test=balloon balloon=NAME`: once NAME is up (as [`ready`]), `mem-set`
/// halves its memory and then gives it back, as `xl mem-set` does; the
/// domain's own balloon driver (Linux's xen-balloon) must follow
/// `memory/target`, and every page it gives back must reach the free pool:
/// the free count rises by what it gave, less the p2m tables the hypervisor
/// split its 2 MiB mappings with (one per 2 MiB mapping its pages came
/// from; Xen takes those from a per-domain pool set aside at creation, so
/// its free count moves by exactly the pages); taken back, it falls by
/// exactly the pages. Then it is shut down; its destruction gives the
/// tables back too (the until-gone baseline).
pub fn balloon(ts: &mut Toolstack, timer: &Timer, cmdline: &str) {
    let name = guest_rt::cmdline::value(cmdline, "balloon").unwrap_or("linux");
    let Some(domid) = ready(ts, timer, cmdline, "balloon", name) else { return };
    let Some(mib) = ts.memory_mib(name) else {
        println!("xl: balloon: FAILED: {name}'s memory is unknown");
        return;
    };
    for (step, target) in [("down", mib / 2), ("up", mib)] {
        let (free0, Some(tot0)) = (free_pages(), tot_pages(domid)) else { return };
        match ts.mem_set(name, target) {
            Ok(said) => println!("xl: mem-set {name} {target}: {said}"),
            Err(e) => {
                println!("xl: error: mem-set {name} {target}: {e}");
                return;
            }
        }
        let Some(tot1) = settled(ts, timer, domid, 120) else {
            println!("xl: balloon: FAILED: {name} is gone");
            return;
        };
        let free1 = free_pages();
        let want = target * 256;
        // The pages it keeps beyond its target: the special pages and ACPI
        // tables (on top of `memory`), and what its kernel holds back.
        let reached = tot1.abs_diff(want) <= 256 + 16;
        let (given, freed) = (tot0.abs_diff(tot1), free0.abs_diff(free1));
        let moved_right = (step == "down") == (tot1 < tot0) && (free1 > free0) == (tot1 < tot0);
        let tables = if tot1 < tot0 { given.min(mib / 2) } else { 0 };
        let exact = if tot1 < tot0 { freed <= given && given - freed <= tables } else { freed == given };
        let verdict = if reached && moved_right && exact { "ok" } else { "FAILED" };
        println!(
            "xl: balloon {step}: {verdict}: {name} {tot0} -> {tot1} pages (target {want}), free {free0} -> {free1} ({freed} moved for {given} pages; p2m tables at most {tables})"
        );
    }
    shut_down(ts, timer, "balloon", name, domid, 60);
}

/// `test=sched-share want=W1:W2:..`: the autostart domains (CPU-bound, in
/// that order) share the APs; after a second to settle, their CPU time is
/// measured over `seconds=S` (default 4) and each one's share of what they
/// had together printed beside the share its weight `Wi` asks for
/// (`Wi / sum W`). Within 5 points each: ok.
pub fn sched_share(ts: &mut Toolstack, timer: &Timer, cmdline: &str) {
    let want: alloc::vec::Vec<u64> = guest_rt::cmdline::value(cmdline, "want").unwrap_or("").split(':').filter_map(|w| w.parse().ok()).collect();
    let seconds: u64 = guest_rt::cmdline::value(cmdline, "seconds").and_then(|s| s.parse().ok()).unwrap_or(4);
    let ids: alloc::vec::Vec<u16> = (1..=want.len()).filter_map(|i| u16::try_from(i).ok()).collect();
    let cpu_times = || -> Option<alloc::vec::Vec<u64>> {
        let infos = xen::domain_infos().ok()?;
        ids.iter().map(|&id| infos.iter().find(|i| i.domain.0 == id).map(|i| i.cpu_time)).collect()
    };
    if want.is_empty() || ts.wait(timer, 1000).is_err() {
        println!("xl: sched-share: FAILED: nothing to measure (want=W1:W2:..)");
        return;
    }
    // Every vCPU's own CPU time too: each one must make progress.
    let vcpu_times = || -> alloc::vec::Vec<u64> {
        let infos = xen::domain_infos().unwrap_or_default();
        let vcpus = |id: u16| infos.iter().find(|i| i.domain.0 == id).map_or(0, |i| i.max_vcpu_id + 1);
        ids.iter().flat_map(|&id| (0..vcpus(id)).map(move |v| xen::vcpu_info(id, v).map_or(0, |i| i.cpu_time))).collect()
    };
    let vcpus_before = vcpu_times();
    let (Some(before), t0) = (cpu_times(), guest_rt::timer::now_ns()) else {
        println!("xl: sched-share: FAILED: a domain is missing");
        return;
    };
    for line in ts.reap() {
        println!("{line}");
    }
    let _ = ts.wait(timer, seconds * 1000);
    let (Some(after), t1) = (cpu_times(), guest_rt::timer::now_ns()) else {
        println!("xl: sched-share: FAILED: a domain is missing");
        return;
    };
    let ran: alloc::vec::Vec<u64> = after.iter().zip(&before).map(|(a, b)| a.saturating_sub(*b)).collect();
    let (total, weights) = (ran.iter().sum::<u64>().max(1), want.iter().sum::<u64>().max(1));
    let wall = t1.saturating_sub(t0).max(1);
    println!("xl: sched-share: {} domains over {} ms: domain, want, CPU ms, share %, wanted %", ids.len(), wall / 1_000_000);
    let mut ok = true;
    for ((id, w), r) in ids.iter().zip(&want).zip(&ran) {
        // Tenths of a percent.
        let (share, wanted) = (r * 1000 / total, w * 1000 / weights);
        ok &= share.abs_diff(wanted) <= 50;
        println!("xl: sched-share: d{id} {w} {} {}.{} {}.{}", r / 1_000_000, share / 10, share % 10, wanted / 10, wanted % 10);
    }
    let vcpus_after = vcpu_times();
    let stalled = vcpus_after.iter().zip(&vcpus_before).filter(|(a, b)| a <= b).count();
    if stalled != 0 || vcpus_after.len() != vcpus_before.len() {
        println!("xl: sched-share: FAILED: {stalled} of {} vCPUs made no progress", vcpus_after.len());
    } else {
        println!("xl: sched-share: every one of the {} vCPUs ran", vcpus_after.len());
    }
    let verdict = if ok { "ok: every share within 5 points of its weight's" } else { "FAILED: a share is more than 5 points from its weight's" };
    println!("xl: sched-share: {verdict}; {} ms of CPU in {} ms", total / 1_000_000, wall / 1_000_000);
}

/// `test=sched-latency count=N`: while the autostart domains spin on the
/// APs, Dom0 sleeps 10 ms `N` times (default 100) on its one-shot timer and
/// reports how late it woke: at most 50 ms late each time is ok (Dom0 owns
/// CPU 0, so spinning DomUs must not delay it; the figures are printed for
/// the record, the bound only catches starvation).
pub fn sched_latency(ts: &mut Toolstack, timer: &Timer, cmdline: &str) {
    let count: u64 = guest_rt::cmdline::value(cmdline, "count").and_then(|c| c.parse().ok()).unwrap_or(100);
    let _ = ts.wait(timer, 500);
    for line in ts.reap() {
        println!("{line}");
    }
    let (mut worst, mut total) = (0u64, 0u64);
    for _ in 0..count {
        let start = guest_rt::timer::now_ns();
        if let Err(e) = timer.sleep_ms(10) {
            println!("xl: sched-latency: FAILED: {} returned {:#x}", e.what, e.rc);
            return;
        }
        let late = (guest_rt::timer::now_ns() - start).saturating_sub(10_000_000);
        worst = worst.max(late);
        total += late;
    }
    let verdict = if worst <= 50_000_000 { "ok" } else { "FAILED" };
    println!("xl: sched-latency: {verdict}: {count} sleeps of 10 ms woke late by {} us on average, {} us at most", total / count.max(1) / 1000, worst / 1000);
}

/// `test=sched-balance`: the autostart domains (1-vCPU spinners, one more
/// than there are APs) have been admitted two on one AP and one on each
/// other; Dom0 destroys one that is alone on its AP, and the hypervisor's
/// load balancing must spread the rest one per AP again within 2 s, each
/// still running.
pub fn sched_balance(ts: &mut Toolstack, timer: &Timer) {
    let _ = ts.wait(timer, 500);
    for line in ts.reap() {
        println!("{line}");
    }
    let fail = |why: &str| println!("xl: sched-balance: FAILED: {why}");
    let aps = xen::physinfo().map_or(0, |p| p.nr_cpus.saturating_sub(1));
    let ids: alloc::vec::Vec<u16> = xen::domain_infos().unwrap_or_default().iter().map(|i| i.domain.0).filter(|&d| d != 0).collect();
    if aps < 2 || ids.len() != aps as usize + 1 {
        return fail(&alloc::format!("needs one spinner more than the {aps} APs, has {}", ids.len()));
    }
    let cpu_of = |id: u16| xen::vcpu_info(id, 0).map_or(u32::MAX, |v| v.cpu);
    let placed: alloc::vec::Vec<(u16, u32)> = ids.iter().map(|&id| (id, cpu_of(id))).collect();
    let alone = placed.iter().find(|(_, c)| placed.iter().filter(|(_, o)| o == c).count() == 1);
    let Some(&(victim, freed)) = alone else { return fail(&alloc::format!("no spinner alone on its AP: {placed:?}")) };
    println!("xl: sched-balance: placed {placed:?}; destroying d{victim}, alone on cpu{freed}");
    if let Err(e) = ts.destroy(&alloc::format!("{victim}")) {
        return fail(&alloc::format!("destroy d{victim}: {e}"));
    }
    let rest: alloc::vec::Vec<u16> = ids.iter().copied().filter(|&d| d != victim).collect();
    let times: alloc::vec::Vec<u64> = rest.iter().map(|&id| xen::vcpu_info(id, 0).map_or(0, |v| v.cpu_time)).collect();
    let start = guest_rt::timer::now_ns();
    let spread = loop {
        let mut cpus: alloc::vec::Vec<u32> = rest.iter().map(|&id| cpu_of(id)).collect();
        cpus.sort_unstable();
        cpus.dedup();
        if cpus.len() == rest.len() {
            break true;
        }
        if guest_rt::timer::now_ns() - start > 2_000_000_000 {
            break false;
        }
        let _ = timer.sleep_ms(1);
    };
    let took = (guest_rt::timer::now_ns() - start) / 1000;
    let now_placed: alloc::vec::Vec<(u16, u32)> = rest.iter().map(|&id| (id, cpu_of(id))).collect();
    if !spread {
        return fail(&alloc::format!("still {now_placed:?} 2 s after cpu{freed} went idle"));
    }
    let _ = timer.sleep_ms(100);
    // CPU time, not the `running` flag: that one is clear for the moment
    // between two slices of a vCPU alone on its AP.
    let ran = rest.iter().zip(&times).all(|(&id, &t)| xen::vcpu_info(id, 0).is_ok_and(|v| v.cpu_time > t));
    if !ran {
        return fail("a spinner stopped running after the move");
    }
    println!("xl: sched-balance: ok: one spinner per AP again {took} us after cpu{freed} went idle: {now_placed:?}");
}

/// `test=sched-soft`: the autostart domains are three spinners whose soft
/// affinity is CPU 3 (`cpus_soft = "3"`), on the three APs of 4 CPUs: the
/// preference keeps two of them there (2 vs 0 is not worth leaving it),
/// and balancing moves the third away (3 vs 0 is); all run.
pub fn sched_soft(ts: &mut Toolstack, timer: &Timer) {
    let _ = ts.wait(timer, 1000);
    for line in ts.reap() {
        println!("{line}");
    }
    let fail = |why: &str| println!("xl: sched-soft: FAILED: {why}");
    let ids: alloc::vec::Vec<u16> = xen::domain_infos().unwrap_or_default().iter().map(|i| i.domain.0).filter(|&d| d != 0).collect();
    let placed: alloc::vec::Vec<(u16, u32, u64)> =
        ids.iter().map(|&id| xen::vcpu_info(id, 0).map_or((id, u32::MAX, 0), |v| (id, v.cpu, v.cpu_time))).collect();
    let on_soft = placed.iter().filter(|p| p.1 == 3).count();
    if ids.len() != 3 || on_soft != 2 {
        return fail(&alloc::format!("want two of three on cpu3, have (domain, cpu, ns) {placed:?}"));
    }
    let _ = timer.sleep_ms(100);
    if !placed.iter().all(|&(id, _, t)| xen::vcpu_info(id, 0).is_ok_and(|v| v.cpu_time > t)) {
        return fail("a spinner stopped running");
    }
    println!("xl: sched-soft: ok: two on their soft CPU 3, one moved off it: {:?}", placed.iter().map(|p| (p.0, p.1)).collect::<alloc::vec::Vec<_>>());
}

/// `test=vcpu-migrate [moves=N]`: pins vCPU 0 of the domain `tlb`
/// (`autostart=tlb.cfg`, which checks its memory all the while) to each AP
/// in turn with setvcpuaffinity, and waits for it to run there
/// (getvcpuinfo's CPU); its CPU time must have grown over the moves.
pub fn vcpu_migrate(ts: &mut Toolstack, timer: &Timer, cmdline: &str) {
    let moves: u64 = guest_rt::cmdline::value(cmdline, "moves").and_then(|m| m.parse().ok()).unwrap_or(20);
    let _ = ts.wait(timer, 500);
    for line in ts.reap() {
        println!("{line}");
    }
    let fail = |why: &str| println!("xl: vcpu-migrate: FAILED: {why}");
    let Some(id) = ts.find("tlb") else { return fail("no domain \"tlb\" (autostart=tlb.cfg)") };
    let cpus = xen::physinfo().map_or(0, |p| u64::from(p.nr_cpus));
    if cpus < 3 {
        return fail("needs two APs (3 CPUs or more)");
    }
    let (mut total_ns, mut worst_ns) = (0u64, 0u64);
    let Ok(first) = xen::vcpu_info(id, 0) else { return fail("getvcpuinfo failed") };
    for i in 0..moves {
        let Ok(before) = xen::vcpu_info(id, 0) else { return fail("getvcpuinfo failed") };
        // The next AP after the one it is on, round 1..cpus.
        let target = u64::from(before.cpu) % (cpus - 1) + 1;
        let start = guest_rt::timer::now_ns();
        if let Err(e) = xen::set_affinity(id, 0, Some(1 << target), None) {
            return fail(&alloc::format!("setvcpuaffinity to cpu{target}: {e}"));
        }
        let arrived = loop {
            match xen::vcpu_info(id, 0) {
                Ok(v) if u64::from(v.cpu) == target && v.running != 0 => break true,
                Ok(_) if guest_rt::timer::now_ns() - start < 2_000_000_000 => core::hint::spin_loop(),
                _ => break false,
            }
        };
        if !arrived {
            return fail(&alloc::format!("move {i}: d{id}v0 did not run on cpu{target} within 2 s"));
        }
        let took = guest_rt::timer::now_ns() - start;
        total_ns += took;
        worst_ns = worst_ns.max(took);
    }
    let _ = timer.sleep_ms(50);
    match xen::vcpu_info(id, 0) {
        Ok(last) if last.cpu_time > first.cpu_time => {}
        _ => return fail("its CPU time did not grow over the moves"),
    }
    println!(
        "xl: vcpu-migrate: ok: d{id}v0 moved {moves} times between the {} APs and ran after each, {} us to move on average, {} us at most",
        cpus - 1,
        total_ns / moves.max(1) / 1000,
        worst_ns / 1000
    );
}
