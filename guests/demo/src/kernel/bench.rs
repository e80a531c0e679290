//! The scheduler's benchmarks (`cargo xtask bench --sched`, Dom0's
//! `bench=sched`), timed with the TSC on this DomU's own vCPUs:
//! - `schedbench count=N` (2 vCPUs): the null hypercall; SCHEDOP_yield
//!   while vCPU 1 yields too (sharing one CPU, each yield is a switch to
//!   the other vCPU and back: two switches); and the wake-up latency of
//!   vCPU 1, blocked in SCHEDOP_poll on an IPI event channel, from vCPU 0's
//!   EVTCHNOP_send to vCPU 1 running again.
//! - `hcbench ms=M`: null hypercalls for M ms of system time, the count
//!   and cycles printed (several DomUs at once: hypercall throughput).
//!
//! Lines: `demo: bench NAME key=value ...`, parsed by xtask/src/bench_sched.rs.

use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering::SeqCst};

use abi::event_channel::{EVTCHNOP_BIND_IPI, EVTCHNOP_SEND, EvtchnBindIpi, EvtchnOnePort};
use abi::xen::HYPERVISOR_EVENT_CHANNEL_OP;
use guest_rt::{cpu, hypercall, println};

/// vCPU 1's side: the port it polls, when it ran after the last event, how
/// many events it took, whether it should yield or stop.
static PORT: AtomicU32 = AtomicU32::new(0);
static WOKEN_AT: AtomicU64 = AtomicU64::new(0);
static WAKES: AtomicU64 = AtomicU64::new(0);
static YIELDING: AtomicBool = AtomicBool::new(false);
static STOP: AtomicBool = AtomicBool::new(false);

fn rdtsc() -> u64 {
    cpu::rdtsc_serialized()
}

fn null_hypercalls(n: u64) -> u64 {
    let start = rdtsc();
    for _ in 0..n {
        hypercall::xen_version();
    }
    rdtsc() - start
}

/// `hcbench ms=M`.
pub fn hypercalls(ms: u64) {
    null_hypercalls(1000);
    let (t0, c0) = (guest_rt::timer::now_ns(), rdtsc());
    let until = t0 + ms * 1_000_000;
    let mut n = 0u64;
    loop {
        for _ in 0..256 {
            hypercall::xen_version();
        }
        n += 256;
        if guest_rt::timer::now_ns() >= until {
            break;
        }
    }
    let (t1, c1) = (guest_rt::timer::now_ns(), rdtsc());
    println!("demo: bench hypercalls n={n} cycles={} start={t0} end={t1}", c1 - c0);
}

fn second_vcpu(_id: u32) {
    let Ok(wait) = guest_rt::timer::EventWait::new(PORT.load(SeqCst)) else { return };
    while !STOP.load(SeqCst) {
        if YIELDING.load(SeqCst) {
            hypercall::sched_yield();
            continue;
        }
        if wait.take() {
            WOKEN_AT.store(rdtsc(), SeqCst);
            WAKES.fetch_add(1, SeqCst);
            continue;
        }
        let _ = wait.poll(0);
    }
}

/// Spins for `cycles` TSC cycles (vCPU 1 gets back into its poll).
fn pause(cycles: u64) {
    let until = rdtsc() + cycles;
    while rdtsc() < until {
        core::hint::spin_loop();
    }
}

/// `schedbench count=N`.
pub fn sched(count: u64) {
    let count = count.max(1);
    let mut bind = EvtchnBindIpi { vcpu: 1, port: 0 };
    // SAFETY: a live struct Xen reads and writes the port into.
    let rc = unsafe { hypercall::hypercall2(HYPERVISOR_EVENT_CHANNEL_OP, EVTCHNOP_BIND_IPI, &raw mut bind as u64) };
    if rc != 0 {
        println!("demo: bench FAILED: EVTCHNOP_bind_ipi returned {rc:#x}");
        return;
    }
    PORT.store(bind.port, SeqCst);
    if let Err(e) = guest_rt::smp::start(1, second_vcpu) {
        println!("demo: bench FAILED: starting vCPU 1: {} returned {:#x}", e.what, e.rc);
        return;
    }
    println!("demo: bench null-hypercall cycles/iter={}", null_hypercalls(count) / count);

    // Wake-ups: vCPU 1 blocks in SCHEDOP_poll; the event comes from here.
    let (mut total, mut worst, mut lost) = (0u64, 0u64, 0u64);
    // About 2 s at today's TSC rates: a wake-up not seen by then is lost.
    let timeout = 5_000_000_000u64;
    for i in 0..count {
        pause(200_000);
        let sent = rdtsc();
        let send = EvtchnOnePort { port: bind.port };
        // SAFETY: a live struct Xen only reads.
        unsafe { hypercall::hypercall2(HYPERVISOR_EVENT_CHANNEL_OP, EVTCHNOP_SEND, &raw const send as u64) };
        while WAKES.load(SeqCst) <= i && rdtsc() - sent < timeout {
            core::hint::spin_loop();
        }
        if WAKES.load(SeqCst) <= i {
            lost += 1;
            WAKES.store(i + 1, SeqCst);
            continue;
        }
        let took = WOKEN_AT.load(SeqCst).saturating_sub(sent);
        total += took;
        worst = worst.max(took);
    }
    println!("demo: bench wake n={count} lost={lost} mean={} max={worst}", total / count);

    // Yields, while vCPU 1 yields too.
    YIELDING.store(true, SeqCst);
    pause(1_000_000);
    let start = rdtsc();
    for _ in 0..count {
        hypercall::sched_yield();
    }
    println!("demo: bench yield cycles/iter={}", (rdtsc() - start) / count);
    STOP.store(true, SeqCst);
    // Wakes vCPU 1 if it polls, so that it sees STOP.
    let send = EvtchnOnePort { port: bind.port };
    // SAFETY: a live struct Xen only reads.
    unsafe { hypercall::hypercall2(HYPERVISOR_EVENT_CHANNEL_OP, EVTCHNOP_SEND, &raw const send as u64) };
}
