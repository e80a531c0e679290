//! What the command line asks Dom0 to do: the test and benchmark scenarios.
//!
//! - (nothing): power off.
//! - `test=isolation`: read guest-physical memory the memory map does not
//!   list (above 4 GiB); the hypervisor must crash the domain.
//! - `test=triple-fault`: triple-fault; the hypervisor must kill this domain only.
//! - `test=foreign`: map a new domain's page into this one
//!   (`XENMAPSPACE_gmfn_foreign`), destroy that domain, and check the page
//!   stays ours until we unmap it, which frees it.
//! - `test=watchdog`: arm a SCHEDOP_watchdog for 1 s and block; the
//!   hypervisor must shut this domain down with `SHUTDOWN_watchdog`.
//! - `bench=cpuid`: cycles per CPUID exit and per null hypercall, then power off.
//! - `idle`: start the `autostart=` domains, then block for ever, woken
//!   every 5 s by a one-shot timer (VIRQ_TIMER) to reap dead domains.
//! - `shell`: start the `autostart=` domains, then Dom0's shell on COM2.
//! - `test=lifecycle`, `test=bad-configs`, `run=FILE`: the toolstack's
//!   scenarios (`xl.rs`).
//! - `test=timer`: three 100 ms timer events through shared info, then power off.

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
    Foreign,
    Watchdog,
    BenchCpuid,
    Timer,
    Lifecycle,
    BadConfigs,
    Run,
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
                "test=foreign" => Some(Scenario::Foreign),
                "test=watchdog" => Some(Scenario::Watchdog),
                "bench=cpuid" => Some(Scenario::BenchCpuid),
                "idle" => Some(Scenario::Idle),
                "shell" => Some(Scenario::Shell),
                "test=timer" => Some(Scenario::Timer),
                "test=lifecycle" => Some(Scenario::Lifecycle),
                "test=bad-configs" => Some(Scenario::BadConfigs),
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
        Scenario::BenchCpuid => bench_cpuid(),
        Scenario::Idle => idle(si),
        Scenario::Shell => {
            let Some(mut ts) = crate::xl::autostart(si) else { return };
            let Some(timer) = timer() else { return };
            println!("dom0: the shell is on COM2");
            crate::shell::run(&mut ts, &timer);
            ts.destroy_all();
        }
        Scenario::Timer => timer_ticks(100, Some(3)),
        Scenario::Foreign => crate::foreign::run(si),
        Scenario::Watchdog => watchdog(),
        Scenario::Lifecycle | Scenario::BadConfigs | Scenario::Run => {
            let Some(mut ts) = crate::xl::autostart(si) else { return };
            let Some(timer) = timer() else { return };
            match scenario {
                Scenario::Lifecycle => crate::xl::lifecycle(&mut ts, &timer),
                Scenario::BadConfigs => crate::xl::bad_configs(si, &mut ts),
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

/// Starts the `autostart=` domains, then wakes every 5 s to reap dead
/// ones and say it is still up.
fn idle(si: &StartInfo) {
    println!("dom0: idle (command line `idle`): blocking in SCHEDOP_block; Ctrl-A X quits QEMU");
    let mut ts = crate::xl::autostart(si);
    let Some(timer) = timer() else { return };
    let mut ticks = 0u64;
    while timer.sleep_ms(5_000).is_ok() {
        ticks += 1;
        if let Some(ts) = &mut ts {
            for line in ts.reap() {
                println!("{line}");
            }
        }
        println!("dom0: still up after {} s", ticks * 5);
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
