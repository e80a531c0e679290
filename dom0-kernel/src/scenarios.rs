//! What the command line asks Dom0 to do: the test and benchmark scenarios.
//!
//! - (nothing): power off.
//! - `test=isolation`: read guest-physical memory the memory map does not
//!   list (above 4 GiB); the hypervisor must crash the domain.
//! - `test=triple-fault`: triple-fault; the hypervisor must shut this
//!   domain down with `SHUTDOWN_reboot`, as Xen's `hvm_triple_fault`.
//! - `test=cli-hlt`: HLT with interrupts off; as Xen's `hvm_hlt`, the vCPU
//!   goes down and, being Dom0's last, the domain powers off.
//! - `test=foreign`: map a new domain's page into this one
//!   (`XENMAPSPACE_gmfn_foreign`), destroy that domain, and check the page
//!   stays ours until we unmap it, which frees it.
//! - `test=watchdog`: arm a SCHEDOP_watchdog for 1 s and block; the
//!   hypervisor must shut this domain down with `SHUTDOWN_watchdog`.
//! - `bench=cpuid`: cycles per CPUID exit and per null hypercall, then power off.
//! - `bench=xenstore`: xenstore round trips from one DomU, then four (`xsbench`).
//! - `bench=sched`: vCPU switch, wake-up and hypercall throughput figures (`schedbench`).
//! - `idle`: start the `autostart=` domains, then block for ever, woken
//!   every 5 s by a one-shot timer (VIRQ_TIMER) to reap dead domains.
//! - `shell`: start the `autostart=` domains, then Dom0's shell on COM2.
//! - `test=lifecycle`, `test=bad-configs`, `run=FILE`: the toolstack's
//!   scenarios (`xl.rs`).
//! - `test=xenstore-shutdown`: the shell's `shutdown NAME` without the
//!   shell (`xl.rs`), for platforms with no COM2 to type on.
//! - `test=timer`: three 100 ms timer events through shared info, then power off.
//! - `test=tlb-shootdown [rounds=N]`: take N frames from a running DomU
//!   and reuse them (`shootdown.rs`).
//! - `test=vcpu-migrate [moves=N]`: move a running DomU's vCPU between
//!   the APs with setvcpuaffinity (`xl.rs`).
//! - `test=sched-balance`: destroy a spinner alone on its AP; the others
//!   must spread over the APs again by themselves (`xl.rs`).
//! - `test=sched-soft`: three spinners preferring CPU 3: two stay there
//!   (`xl.rs`).
//! - `test=hostile`: the hostile guest (`guests/hostile`) as a DomU, then
//!   again on the same CPU (fresh vCPU state), while Dom0 measures how late
//!   its own 50 ms ticks come; then Dom0's own attacks of issue 9: destroy a
//!   DomU while it runs (6), pause one and shrink its `max_vcpus` (7); the
//!   free-page count must come back exactly.

use abi::hvm::start_info::HvmMemmapTableEntry;
use guest_rt::start_info::{self, StartInfo};
use guest_rt::{cpu, hypercall, paging, println};

/// Iterations of each benchmark loop.
const BENCH_ITERATIONS: u64 = 10_000;

/// The scenario the command line selects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scenario {
    PowerOff,
    /// Stay up, blocking, and say so every few seconds (`cargo xtask run`).
    Idle,
    /// The toolstack's shell on COM2 until its `poweroff`.
    Shell,
    Isolation,
    TripleFault,
    CliHlt,
    Foreign,
    Watchdog,
    BenchCpuid,
    BenchXenstore,
    BenchSched,
    Timer,
    Lifecycle,
    BadConfigs,
    Run,
    Hostile,
    XenstoreShutdown,
    NoLeak,
    Balloon,
    SchedShare,
    SchedLatency,
    TlbShootdown,
    VcpuMigrate,
    SchedBalance,
    SchedSoft,
}

impl Scenario {
    /// The first recognised option among the space-separated words wins;
    /// other words are ignored.
    pub fn from_cmdline(cmdline: &str) -> Scenario {
        cmdline
            .split_ascii_whitespace()
            .find_map(|word| match word {
                "test=isolation" => Some(Scenario::Isolation),
                "test=triple-fault" => Some(Scenario::TripleFault),
                "test=cli-hlt" => Some(Scenario::CliHlt),
                "test=foreign" => Some(Scenario::Foreign),
                "test=watchdog" => Some(Scenario::Watchdog),
                "bench=cpuid" => Some(Scenario::BenchCpuid),
                "bench=xenstore" => Some(Scenario::BenchXenstore),
                "bench=sched" => Some(Scenario::BenchSched),
                "idle" => Some(Scenario::Idle),
                "shell" => Some(Scenario::Shell),
                "test=timer" => Some(Scenario::Timer),
                "test=lifecycle" => Some(Scenario::Lifecycle),
                "test=bad-configs" => Some(Scenario::BadConfigs),
                "test=hostile" => Some(Scenario::Hostile),
                "test=xenstore-shutdown" => Some(Scenario::XenstoreShutdown),
                "test=no-leak" => Some(Scenario::NoLeak),
                "test=balloon" => Some(Scenario::Balloon),
                "test=sched-share" => Some(Scenario::SchedShare),
                "test=sched-latency" => Some(Scenario::SchedLatency),
                "test=tlb-shootdown" => Some(Scenario::TlbShootdown),
                "test=vcpu-migrate" => Some(Scenario::VcpuMigrate),
                "test=sched-balance" => Some(Scenario::SchedBalance),
                "test=sched-soft" => Some(Scenario::SchedSoft),
                w if w.starts_with("run=") => Some(Scenario::Run),
                _ => None,
            })
            .unwrap_or(Scenario::PowerOff)
    }
}

/// Runs the scenario; returns when Dom0 should power off.
pub fn run(scenario: Scenario, si: &StartInfo) {
    match scenario {
        Scenario::PowerOff => {}
        Scenario::Isolation => isolation(si),
        Scenario::TripleFault => {
            println!("dom0: triple faulting now");
            cpu::triple_fault();
        }
        Scenario::CliHlt => {
            println!("dom0: HLT with interrupts off now");
            cpu::halt_forever();
        }
        Scenario::BenchCpuid => bench_cpuid(),
        Scenario::Idle => idle(si),
        Scenario::Shell => {
            // The timer first: mapping shared info gives one of our pages
            // back to Xen, which must not count against the domains'
            // free-page baseline that autostart takes.
            let Some(timer) = timer() else { return };
            let Some(mut ts) = crate::xl::autostart(si) else { return };
            println!("dom0: the shell is on COM2");
            let until_gone = guest_rt::cmdline::flag(si.cmdline(), "until-gone");
            crate::shell::run(&mut ts, &timer, until_gone);
            ts.destroy_all();
            fail_if_crashed(&ts, until_gone);
        }
        Scenario::Timer => timer_ticks(100, Some(3)),
        Scenario::Foreign => crate::foreign::run(si),
        Scenario::Watchdog => watchdog(),
        Scenario::Hostile => hostile::run(si),
        Scenario::Lifecycle | Scenario::BadConfigs | Scenario::Run | Scenario::XenstoreShutdown | Scenario::BenchXenstore | Scenario::BenchSched | Scenario::NoLeak | Scenario::Balloon | Scenario::SchedShare | Scenario::SchedLatency | Scenario::TlbShootdown | Scenario::VcpuMigrate | Scenario::SchedBalance | Scenario::SchedSoft => {
            let Some(timer) = timer() else { return };
            let Some(mut ts) = crate::xl::autostart(si) else { return };
            match scenario {
                Scenario::Lifecycle => crate::xl::lifecycle(&mut ts, &timer),
                Scenario::BadConfigs => crate::xl::bad_configs(si, &mut ts),
                Scenario::XenstoreShutdown => crate::xl::xenstore_shutdown(&mut ts, &timer, si.cmdline()),
                Scenario::NoLeak => crate::xl::no_leak(&mut ts, &timer, si.cmdline()),
                Scenario::Balloon => crate::xl::balloon(&mut ts, &timer, si.cmdline()),
                Scenario::SchedShare => crate::xl::sched_share(&mut ts, &timer, si.cmdline()),
                Scenario::SchedLatency => crate::xl::sched_latency(&mut ts, &timer, si.cmdline()),
                Scenario::VcpuMigrate => crate::xl::vcpu_migrate(&mut ts, &timer, si.cmdline()),
                Scenario::SchedBalance => crate::xl::sched_balance(&mut ts, &timer),
                Scenario::SchedSoft => crate::xl::sched_soft(&mut ts, &timer),
                Scenario::TlbShootdown => {
                    let rounds = guest_rt::cmdline::value(si.cmdline(), "rounds").and_then(|r| r.parse().ok()).unwrap_or(300);
                    crate::shootdown::run(&mut ts, &timer, si, rounds);
                }
                Scenario::BenchXenstore => crate::xsbench::run(&mut ts, &timer),
                Scenario::BenchSched => crate::schedbench::run(&mut ts, &timer),
                _ => crate::xl::run(&mut ts, &timer, guest_rt::cmdline::value(si.cmdline(), "run").unwrap_or(""), 120),
            }
            ts.destroy_all();
        }
    }
}

/// Dom0's timer (shared info mapped, VIRQ_TIMER bound); None after saying why.
fn timer() -> Option<guest_rt::timer::Timer> {
    guest_rt::timer::Timer::new().map_err(|e| println!("dom0: timer: {} returned {:#x}; stopping", e.what, e.rc)).ok()
}

/// With `until-gone` (`cargo xtask run --until-gone`): a DomU crashed, so
/// Dom0 ends with `SHUTDOWN_crash` and the hypervisor's exit status says
/// the run failed.
fn fail_if_crashed(ts: &crate::toolstack::Toolstack, until_gone: bool) {
    if until_gone && ts.crashed() > 0 {
        println!("dom0: until-gone: {} domain(s) crashed; failing the run", ts.crashed());
        guest_rt::shutdown(abi::sched::SHUTDOWN_CRASH);
    }
}

/// Starts the `autostart=` domains, then wakes every 5 s to reap dead
/// ones and say it is still up; with `until-gone`, stops once they are
/// all gone (reaped every 200 ms then).
fn idle(si: &StartInfo) {
    println!("dom0: idle (command line `idle`): blocking in SCHEDOP_block; Ctrl-A X quits QEMU");
    let Some(timer) = timer() else { return };
    let mut ts = crate::xl::autostart(si);
    let until_gone = guest_rt::cmdline::flag(si.cmdline(), "until-gone");
    let step_ms = if until_gone { 200 } else { 5_000 };
    let mut waited_ms = 0u64;
    // The store rings are served while waiting.
    let wait = |ts: &mut Option<crate::toolstack::Toolstack>| match ts {
        Some(ts) => ts.wait(&timer, step_ms).is_ok(),
        None => timer.sleep_ms(step_ms).is_ok(),
    };
    while wait(&mut ts) {
        waited_ms += step_ms;
        if let Some(ts) = &mut ts {
            for line in ts.reap() {
                println!("{line}");
            }
            if until_gone && ts.all_gone() {
                println!("dom0: every domain is gone (until-gone)");
                ts.destroy_all();
                fail_if_crashed(ts, until_gone);
                return;
            }
        }
        if waited_ms.is_multiple_of(5_000) {
            println!("dom0: still up after {} s", waited_ms / 1000);
        }
    }
}

/// Binds VIRQ_TIMER and sleeps on it `interval_ms` at a time, saying so
/// after each tick; `count` ends it.
fn timer_ticks(interval_ms: u64, count: Option<u64>) {
    let Some(timer) = timer() else { return };
    println!("dom0: timer: VIRQ_TIMER on port {}, a tick every {interval_ms} ms", timer.port());
    let mut tick = 0u64;
    loop {
        let waited_ms = match timer.sleep_ms(interval_ms) {
            Ok(ms) => ms,
            Err(e) => {
                println!("dom0: timer: {} returned {:#x}; stopping", e.what, e.rc);
                return;
            }
        };
        tick += 1;
        let verdict = if waited_ms >= interval_ms { "on time" } else { "EARLY" };
        println!("dom0: timer: tick {tick}: {verdict} ({waited_ms} ms for {interval_ms} ms)");
        if count.is_some_and(|c| tick >= c) {
            return;
        }
    }
}

/// SCHEDOP_watchdog with `id` and `timeout` (s).
fn sched_watchdog(id: u32, timeout: u32) -> i64 {
    let mut w = abi::sched::SchedWatchdog { id, timeout };
    // SAFETY: `w` is a live SchedWatchdog.
    unsafe {
        hypercall::hypercall2(abi::xen::HYPERVISOR_SCHED_OP, abi::sched::SCHEDOP_WATCHDOG, core::ptr::from_mut(&mut w) as u64)
    }
    .cast_signed()
}

fn watchdog() {
    // Both watchdogs taken, then the second freed: ids 1 and 2, -ENOSPC.
    let got = [sched_watchdog(0, 60), sched_watchdog(0, 60), sched_watchdog(0, 60), sched_watchdog(2, 0), sched_watchdog(2, 0)];
    if got != [1, 2, -28, 0, -22] {
        println!("dom0: watchdog FAILED: allocate, allocate, allocate, free, free returned {got:?}, not [1, 2, -28, 0, -22]");
        return;
    }
    // Re-arm watchdog 1 to 1 s and wait for it.
    if sched_watchdog(1, 1) != 0 {
        println!("dom0: watchdog FAILED: re-arming watchdog 1");
        return;
    }
    println!("dom0: watchdog 1 fires in 1 s; blocking");
    for _ in 0..1000 {
        // SAFETY: SCHEDOP_block takes no argument.
        unsafe { hypercall::hypercall5(abi::xen::HYPERVISOR_SCHED_OP, abi::sched::SCHEDOP_BLOCK, 0, 0, 0, 0) };
    }
    println!("dom0: watchdog FAILED: still running after 1000 wake-ups");
}

fn isolation(si: &StartInfo) {
    let Some(addr) = si.unlisted_address() else {
        println!(
            "dom0: isolation: no memory map, or no unlisted address below 512 GiB; cannot test"
        );
        return;
    };
    if !paging::map_identity_2mib(addr) {
        println!("dom0: isolation: cannot map {addr:#x}; cannot test");
        return;
    }
    println!("dom0: reading outside my memory at {addr:#x}");
    // SAFETY: deliberately reads memory that is not ours, to check that the hypervisor stops us; the address was just identity-mapped, so within this kernel the read is an ordinary load.
    let value = unsafe { core::ptr::read_volatile(addr as *const u8) };
    println!("dom0: isolation FAILED, read returned {value:#04x}");
}

fn bench_cpuid() {
    let start = cpu::rdtsc_serialized();
    for _ in 0..BENCH_ITERATIONS {
        core::hint::black_box(cpu::cpuid(0, 0));
    }
    let cpuid_cycles = (cpu::rdtsc_serialized() - start) / BENCH_ITERATIONS;

    let start = cpu::rdtsc_serialized();
    for _ in 0..BENCH_ITERATIONS {
        core::hint::black_box(hypercall::xen_version());
    }
    let hypercall_cycles = (cpu::rdtsc_serialized() - start) / BENCH_ITERATIONS;

    println!("dom0: bench cpuid-exit cycles/iter={cpuid_cycles}");
    println!("dom0: bench null-hypercall cycles/iter={hypercall_cycles}");
}

/// Prints the memory map, one line per entry.
pub fn print_memmap(map: &[HvmMemmapTableEntry]) {
    for e in map {
        println!(
            "dom0: memmap {:#012x}-{:#012x} {}",
            e.addr,
            e.addr.saturating_add(e.size).saturating_sub(1),
            start_info::memmap_type_name(e.r#type)
        );
    }
}

/// `test=hostile`: see the module comment. Every line starts
/// `dom0: hostile: `; a failed check says `FAILED`.
#[cfg(target_os = "none")]
mod hostile {
    use abi::domctl::{XEN_DOMCTL_MAX_VCPUS, XEN_DOMINF_PAUSED, XEN_DOMINF_RUNNING, XenDomctl, XenDomctlMaxVcpus};
    use abi::errno::Errno;
    use abi::xen::{DomId, HYPERVISOR_DOMCTL};
    use guest_rt::start_info::StartInfo;
    use guest_rt::timer::Timer;
    use guest_rt::{hypercall, println};

    use crate::toolstack::{Toolstack, xen};

    /// Dom0's tick while a hostile DomU runs.
    const TICK_MS: u64 = 50;
    /// How late a tick may come before Dom0 counts as starved.
    const STALL_LIMIT_MS: u64 = 2_000;
    /// How long a hostile DomU may take (ticks).
    const RUN_LIMIT_TICKS: u32 = 2_400;

    fn verdict(ok: bool, what: core::fmt::Arguments<'_>) -> bool {
        println!("dom0: hostile: {} - {what}", if ok { "ok" } else { "FAILED" });
        ok
    }

    fn free_pages() -> u64 {
        xen::physinfo().map_or(0, |p| p.free_pages)
    }

    fn flags(domid: u16) -> Option<u32> {
        xen::domain_infos().ok()?.iter().find(|i| i.domain.0 == domid).map(|i| i.flags)
    }

    pub fn run(si: &StartInfo) {
        let Some(mut ts) = crate::xl::autostart(si) else { return };
        let Some(timer) = super::timer() else { return };
        let before = free_pages();
        println!("dom0: hostile: {before} free pages before");
        watched(&mut ts, &timer, "hostile.cfg");
        watched(&mut ts, &timer, "hostile-again.cfg");
        destroy_running(&mut ts, &timer);
        shrink_paused(&mut ts, &timer);
        ts.destroy_all();
        // Destruction may finish after the call returns: a few ticks' grace.
        let mut after = free_pages();
        for _ in 0..20 {
            if after == before {
                break;
            }
            let _ = timer.sleep_ms(TICK_MS);
            after = free_pages();
        }
        verdict(after == before, format_args!("free pages back to {after} (before: {before})"));
        let v = hypercall::xen_version();
        verdict(v >> 16 == 4, format_args!("the hypervisor answers xen_version ({v:#x})"));
    }

    /// Creates `file`'s domain and ticks every [`TICK_MS`] until it is gone,
    /// noting the latest tick.
    fn watched(ts: &mut Toolstack, timer: &Timer, file: &str) {
        let domid = match ts.create(file) {
            Ok(d) => d,
            Err(e) => {
                verdict(false, format_args!("creating {file}: {e}"));
                return;
            }
        };
        println!("xl: {file}: created domain {domid}");
        let mut worst = 0u64;
        let mut gone = false;
        for _ in 0..RUN_LIMIT_TICKS {
            match timer.sleep_ms(TICK_MS) {
                Ok(ms) => worst = worst.max(ms),
                Err(e) => {
                    verdict(false, format_args!("Dom0's timer: {} returned {:#x}", e.what, e.rc));
                    return;
                }
            }
            for line in ts.reap() {
                println!("{line}");
            }
            if flags(domid).is_none() {
                gone = true;
                break;
            }
        }
        if !gone {
            let _ = xen::destroy_domain(domid);
        }
        verdict(gone, format_args!("{file}'s domain d{domid} ran to its end"));
        verdict(
            worst <= STALL_LIMIT_MS,
            format_args!("Dom0 kept running while d{domid} attacked: its longest {TICK_MS} ms tick took {worst} ms (limit {STALL_LIMIT_MS})"),
        );
    }

    /// Creates the spinning victim and waits until its vCPU has run.
    fn spinning(ts: &mut Toolstack, timer: &Timer) -> Option<u16> {
        let domid = match ts.create("hostile-spin.cfg") {
            Ok(d) => d,
            Err(e) => {
                verdict(false, format_args!("creating hostile-spin.cfg: {e}"));
                return None;
            }
        };
        println!("xl: hostile-spin.cfg: created domain {domid}");
        for _ in 0..100 {
            let _ = timer.sleep_ms(TICK_MS);
            let running = flags(domid).is_some_and(|f| f & XEN_DOMINF_RUNNING != 0);
            if running && xen::domain_infos().is_ok_and(|l| l.iter().any(|i| i.domain.0 == domid && i.cpu_time > 0)) {
                return Some(domid);
            }
        }
        verdict(false, format_args!("d{domid} (hostile-spin) never ran"));
        None
    }

    /// 6: destroying a domain whose vCPU is running.
    fn destroy_running(ts: &mut Toolstack, timer: &Timer) {
        println!("dom0: hostile: # attempting 6: destroying a DomU while its vCPU runs");
        let Some(domid) = spinning(ts, timer) else { return };
        let r = ts.destroy("hostile-spin");
        verdict(r.is_ok(), format_args!("6: destroydomain of running d{domid}: {r:?}"));
        let gone = gone_soon(domid, timer);
        verdict(gone, format_args!("6: d{domid} is gone after its destruction"));
    }

    /// Whether domain `domid` is gone within 40 ticks.
    fn gone_soon(domid: u16, timer: &Timer) -> bool {
        for _ in 0..40 {
            if flags(domid).is_none() {
                return true;
            }
            let _ = timer.sleep_ms(TICK_MS);
        }
        false
    }

    fn max_vcpus(domid: u16, max: u32) -> i64 {
        let mut op = XenDomctl::new(XEN_DOMCTL_MAX_VCPUS, DomId(domid), &XenDomctlMaxVcpus { max });
        // SAFETY: `op` is a live XenDomctl Xen reads and writes.
        unsafe { hypercall::hypercall1(HYPERVISOR_DOMCTL, core::ptr::from_mut(&mut op) as u64) }.cast_signed()
    }

    /// 7: pausing a running domain and shrinking its max_vcpus. Xen 4.17 has
    /// no XEN_DOMCTL_max_vcpus any more (the count is fixed at
    /// createdomain: -ENOSYS); Xen before 4.12 refused to shrink a domain
    /// whose vCPUs exist (-EINVAL). Either way nothing changes, and the
    /// destroy that follows frees everything.
    fn shrink_paused(ts: &mut Toolstack, timer: &Timer) {
        println!("dom0: hostile: # attempting 7: pausing a running DomU and shrinking its max_vcpus");
        let Some(domid) = spinning(ts, timer) else { return };
        let r = ts.pause("hostile-spin");
        let f = flags(domid).unwrap_or(0);
        let (paused, running) = (f & XEN_DOMINF_PAUSED != 0, f & XEN_DOMINF_RUNNING != 0);
        verdict(r.is_ok() && paused, format_args!("7: pausedomain of running d{domid}: {r:?}, paused {paused}"));
        // As Xen's domain_pause (vcpu_sleep_sync): stopped when the call returns.
        let cpu_time = || xen::domain_infos().ok().and_then(|l| l.iter().find(|i| i.domain.0 == domid).map(|i| i.cpu_time));
        let t0 = cpu_time();
        let _ = timer.sleep_ms(2 * TICK_MS);
        let t1 = cpu_time();
        verdict(
            !running && t0.is_some() && t0 == t1,
            format_args!("7: once pausedomain returned, d{domid} runs no more (running flag {running}, cpu_time {t0:?} then {t1:?})"),
        );
        let rc = max_vcpus(domid, 1);
        let refused = rc == -i64::from(Errno::ENOSYS.raw()) || rc == -i64::from(Errno::EINVAL.raw());
        verdict(refused, format_args!("7: max_vcpus(d{domid}, 1) of a paused domain whose vCPUs exist returns {rc} (Xen: -ENOSYS in 4.17, -EINVAL before)"));
        let r = ts.destroy("hostile-spin");
        verdict(r.is_ok(), format_args!("7: destroydomain of the paused d{domid}: {r:?}"));
        let gone = gone_soon(domid, timer);
        verdict(gone, format_args!("7: d{domid} is gone after its destruction"));
    }
}
