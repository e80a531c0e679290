//! What the command line asks Dom0 to do: the test and benchmark scenarios.
//!
//! - (nothing): power off.
//! - `test=isolation`: read guest-physical memory the memory map does not
//!   list (above 4 GiB); the hypervisor must crash the domain.
//! - `test=triple-fault`: triple-fault; the hypervisor must kill this domain only.
//! - `bench=cpuid`: cycles per CPUID exit and per null hypercall, then power off.
//! - `idle`: block for ever, woken every 5 s by a one-shot timer (VIRQ_TIMER).
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
    Isolation,
    TripleFault,
    BenchCpuid,
    Timer,
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
                "bench=cpuid" => Some(Scenario::BenchCpuid),
                "idle" => Some(Scenario::Idle),
                "test=timer" => Some(Scenario::Timer),
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
        Scenario::Idle => {
            println!("dom0: idle (command line `idle`): blocking in SCHEDOP_block; Ctrl-A X quits QEMU");
            timer_ticks(5_000, None);
        }
        Scenario::Timer => timer_ticks(100, Some(3)),
    }
}

/// The page shared info is mapped over (its RAM frame goes back to Xen).
#[repr(C, align(4096))]
struct SharedInfoPage([u8; 4096]);
static mut SHARED_INFO: SharedInfoPage = SharedInfoPage([0; 4096]);

/// Byte offsets in the 64-bit shared info: vCPU 0's `evtchn_upcall_pending`
/// and `evtchn_pending_sel`, and the `evtchn_pending` bitmap.
const UPCALL_PENDING: usize = 0;
const PENDING_SEL: usize = 8;
const EVTCHN_PENDING: usize = 2048;

/// Maps shared info, binds VIRQ_TIMER, then loops: arm a one-shot timer
/// `interval_ms` ahead (set_timer_op), SCHEDOP_block until its event
/// arrives, acknowledge it in shared info, say so. `count` ends it.
fn timer_ticks(interval_ms: u64, count: Option<u64>) {
    use abi::event_channel::{EVTCHNOP_BIND_VIRQ, EvtchnBindVirq};
    use abi::memory::{XENMAPSPACE_SHARED_INFO, XENMEM_ADD_TO_PHYSMAP, XenAddToPhysmap};
    use abi::xen::{DOMID_SELF, HYPERVISOR_EVENT_CHANNEL_OP, HYPERVISOR_MEMORY_OP, HYPERVISOR_SCHED_OP, HYPERVISOR_SET_TIMER_OP};

    let page = core::ptr::addr_of_mut!(SHARED_INFO).cast::<u8>();
    let map = XenAddToPhysmap { domid: DOMID_SELF, size: 0, space: XENMAPSPACE_SHARED_INFO, idx: 0, gpfn: page as u64 >> 12 };
    // SAFETY: the argument is a live struct; the page is ours, identity-mapped, and from now on Xen's.
    let rc = unsafe { hypercall::hypercall2(HYPERVISOR_MEMORY_OP, XENMEM_ADD_TO_PHYSMAP, &raw const map as u64) };
    let mut bind = EvtchnBindVirq { virq: abi::xen::VIRQ_TIMER, vcpu: 0, port: 0 };
    // SAFETY: as above; Xen writes the port into `bind`.
    let rc2 = unsafe { hypercall::hypercall2(HYPERVISOR_EVENT_CHANNEL_OP, EVTCHNOP_BIND_VIRQ, &raw mut bind as u64) };
    if rc != 0 || rc2 != 0 {
        println!("dom0: timer: mapping shared info returned {rc:#x}, binding VIRQ_TIMER {rc2:#x}; stopping");
        return;
    }
    let port = bind.port as usize;
    println!("dom0: timer: VIRQ_TIMER on port {port}, a tick every {interval_ms} ms");
    let mut tick = 0u64;
    loop {
        let start = now_ns();
        // SAFETY: set_timer_op takes the deadline by value.
        unsafe { hypercall::hypercall1(HYPERVISOR_SET_TIMER_OP, start + interval_ms * 1_000_000) };
        loop {
            // SAFETY: SCHEDOP_block takes no argument.
            let rc = unsafe { hypercall::hypercall2(HYPERVISOR_SCHED_OP, abi::sched::SCHEDOP_BLOCK, 0) };
            if rc != 0 {
                println!("dom0: timer: SCHEDOP_block returned {rc:#x}; stopping");
                return;
            }
            // SAFETY: the shared-info page stays mapped; Xen sets these bits concurrently, so each access is volatile and a whole byte.
            let fired = unsafe {
                page.add(UPCALL_PENDING).write_volatile(0);
                page.add(PENDING_SEL).write_volatile(0);
                let byte = page.add(EVTCHN_PENDING + port / 8);
                let bits = byte.read_volatile();
                byte.write_volatile(bits & !(1 << (port % 8)));
                bits & (1 << (port % 8)) != 0
            };
            if fired {
                break;
            }
        }
        tick += 1;
        let waited_ms = (now_ns() - start) / 1_000_000;
        let verdict = if waited_ms >= interval_ms { "on time" } else { "EARLY" };
        println!("dom0: timer: tick {tick}: {verdict} ({waited_ms} ms for {interval_ms} ms)");
        if count.is_some_and(|c| tick >= c) {
            return;
        }
    }
}

/// Xen system time (HVMOP_get_time), in ns.
fn now_ns() -> u64 {
    let mut t = abi::hvm::hvm_op::XenHvmGetTime { now: 0 };
    // SAFETY: Xen writes the time into `t`.
    unsafe { hypercall::hypercall2(abi::xen::HYPERVISOR_HVM_OP, abi::hvm::hvm_op::HVMOP_GET_TIME, &raw mut t as u64) };
    t.now
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
