//! The local APIC, in x2APIC mode (MSRs) when the CPU has it, else xAPIC
//! (MMIO through the physical-memory window). Register offsets are the
//! xAPIC ones (SDM Vol. 3, table 11-1); x2APIC MSR = 0x800 + offset / 16.

use core::sync::atomic::{AtomicU8, AtomicU64, Ordering};

use super::{cpu, idt, tsc};
use crate::mm::physmap;

const IA32_APIC_BASE: u32 = 0x1b;
const APIC_BASE_ENABLE: u64 = 1 << 11;
const APIC_BASE_X2APIC: u64 = 1 << 10;

const REG_ID: u32 = 0x20;
const REG_TPR: u32 = 0x80;
const REG_EOI: u32 = 0xb0;
const REG_SVR: u32 = 0xf0;
const REG_IRR: u32 = 0x200;
const REG_ICR_LOW: u32 = 0x300;
const REG_ICR_HIGH: u32 = 0x310;
const REG_LVT_TIMER: u32 = 0x320;
const REG_LVT_LINT0: u32 = 0x350;
const REG_LVT_LINT1: u32 = 0x360;
const REG_TIMER_INITIAL: u32 = 0x380;
const REG_TIMER_CURRENT: u32 = 0x390;
const REG_TIMER_DIVIDE: u32 = 0x3e0;

const SVR_ENABLE: u32 = 1 << 8;
const LVT_MASKED: u32 = 1 << 16;
const LVT_PERIODIC: u32 = 1 << 17;
const ICR_DELIVERY_PENDING: u32 = 1 << 12;
const ICR_LEVEL_ASSERT: u32 = 1 << 14;
const ICR_INIT: u32 = 0b101 << 8;
const ICR_STARTUP: u32 = 0b110 << 8;
const ICR_NMI: u32 = 0b100 << 8;
const ICR_ALL_BUT_SELF: u32 = 0b11 << 18;
/// Divide configuration 0b0011: the timer counts at bus clock / 16.
const TIMER_DIVIDE_16: u32 = 0b0011;

const MODE_NONE: u8 = 0;
const MODE_XAPIC: u8 = 1;
const MODE_X2APIC: u8 = 2;

static MODE: AtomicU8 = AtomicU8::new(MODE_NONE);
static XAPIC_BASE: AtomicU64 = AtomicU64::new(0);
/// Timer ticks (at divide 16) per timer period, measured on the boot CPU.
static TIMER_COUNT_PER_PERIOD: AtomicU64 = AtomicU64::new(0);

/// Timer interrupts per second on each CPU.
pub const TIMER_HZ: u64 = 100;

pub fn has_x2apic() -> bool {
    cpu::cpuid(1, 0).ecx & (1 << 21) != 0
}

fn read(reg: u32) -> u32 {
    match MODE.load(Ordering::Relaxed) {
        // SAFETY: x2APIC mode is on, so MSR 0x800 + reg/16 exists; reads have no side effects.
        MODE_X2APIC => crate::bits::low32(unsafe { cpu::rdmsr(0x800 + reg / 16) }),
        // SAFETY: the xAPIC page is MMIO mapped by the physical-memory window.
        _ => unsafe { core::ptr::read_volatile(physmap::ptr::<u32>(XAPIC_BASE.load(Ordering::Relaxed) + u64::from(reg))) },
    }
}

fn write(reg: u32, value: u32) {
    match MODE.load(Ordering::Relaxed) {
        // SAFETY: x2APIC mode is on; the register exists and takes 32-bit values.
        MODE_X2APIC => unsafe { cpu::wrmsr(0x800 + reg / 16, u64::from(value)) },
        // SAFETY: as in `read`; APIC registers take aligned 32-bit writes.
        _ => unsafe { core::ptr::write_volatile(physmap::ptr::<u32>(XAPIC_BASE.load(Ordering::Relaxed) + u64::from(reg)), value) },
    }
}

/// Enables this CPU's local APIC (x2APIC if available) with all local
/// interrupts masked until the timer is started.
pub fn init_this_cpu() {
    let x2 = has_x2apic();
    // SAFETY: IA32_APIC_BASE exists on every x86_64 CPU; setting EN (and EXTD when CPUID offers x2APIC) is the documented enable sequence.
    let base = unsafe {
        let base = cpu::rdmsr(IA32_APIC_BASE);
        let mut new = base | APIC_BASE_ENABLE;
        if x2 {
            new |= APIC_BASE_X2APIC;
        }
        cpu::wrmsr(IA32_APIC_BASE, new);
        new
    };
    if x2 {
        MODE.store(MODE_X2APIC, Ordering::Relaxed);
    } else {
        XAPIC_BASE.store(base & 0x000f_ffff_ffff_f000, Ordering::Relaxed);
        MODE.store(MODE_XAPIC, Ordering::Relaxed);
    }
    write(REG_TPR, 0);
    write(REG_LVT_TIMER, LVT_MASKED);
    write(REG_LVT_LINT0, LVT_MASKED);
    write(REG_LVT_LINT1, LVT_MASKED);
    write(REG_SVR, SVR_ENABLE | u32::from(idt::SPURIOUS_VECTOR));
}

pub fn mode_name() -> &'static str {
    match MODE.load(Ordering::Relaxed) {
        MODE_X2APIC => "x2apic",
        MODE_XAPIC => "xapic",
        _ => "off",
    }
}

/// This CPU's APIC id.
pub fn id() -> u32 {
    match MODE.load(Ordering::Relaxed) {
        MODE_X2APIC => read(REG_ID),
        _ => read(REG_ID) >> 24,
    }
}

pub fn eoi() {
    write(REG_EOI, 0);
}

fn send_icr(dest: u32, low: u32) {
    match MODE.load(Ordering::Relaxed) {
        // SAFETY: in x2APIC mode the ICR is one 64-bit MSR (0x830), destination in the high half.
        MODE_X2APIC => unsafe { cpu::wrmsr(0x830, (u64::from(dest) << 32) | u64::from(low)) },
        MODE_XAPIC => {
            write(REG_ICR_HIGH, dest << 24);
            write(REG_ICR_LOW, low);
            while read(REG_ICR_LOW) & ICR_DELIVERY_PENDING != 0 {
                cpu::relax();
            }
        }
        _ => {}
    }
}

/// INIT, then two STARTUPs at `page` (the vector is the 4 KiB page number of
/// the start-up code, below 1 MiB): the universal start-up algorithm
/// (SDM Vol. 3, 9.4.4.1 and the MP specification's B.4).
pub fn start_ap(apic_id: u32, page: u8) {
    send_icr(apic_id, ICR_INIT | ICR_LEVEL_ASSERT);
    tsc::delay_us(10_000);
    for _ in 0..2 {
        send_icr(apic_id, ICR_STARTUP | ICR_LEVEL_ASSERT | u32::from(page));
        tsc::delay_us(200);
    }
}

/// A fixed interrupt with `vector` to the CPU with `apic_id`.
pub fn send_ipi(apic_id: u32, vector: u8) {
    send_icr(apic_id, ICR_LEVEL_ASSERT | u32::from(vector));
}

/// Interrupts CPU `index` (the ping vector): a CPU waiting in HLT for its
/// vCPU wakes, one running a guest exits to look at what it is owed.
pub fn kick_cpu(index: usize) {
    let apic_id = super::percpu::cpu(index).apic_id.load(core::sync::atomic::Ordering::Relaxed);
    send_ipi(apic_id, super::idt::PING_VECTOR);
}

/// An NMI to every CPU but this one (no-op before the APIC is up).
pub fn nmi_all_others() {
    send_icr(0, ICR_NMI | ICR_LEVEL_ASSERT | ICR_ALL_BUT_SELF);
}

/// Measures the APIC timer against the TSC, once on the boot CPU.
/// Returns the timer's input frequency in kHz (after the divide by 16).
pub fn calibrate_timer() -> u64 {
    write(REG_TIMER_DIVIDE, TIMER_DIVIDE_16);
    write(REG_LVT_TIMER, LVT_MASKED);
    write(REG_TIMER_INITIAL, u32::MAX);
    tsc::delay_us(10_000);
    let elapsed = u64::from(u32::MAX - read(REG_TIMER_CURRENT));
    write(REG_TIMER_INITIAL, 0);
    TIMER_COUNT_PER_PERIOD.store((elapsed * 100 / TIMER_HZ).max(1), Ordering::Relaxed);
    elapsed / 10
}

/// Starts this CPU's periodic timer at `TIMER_HZ`. [`fire_within_ns`] can
/// shorten the period to bring the next interrupt forward for a deadline
/// that comes sooner (a slice end, a vCPU timer); the interrupt puts the
/// full period back ([`restore_tick`]). Periodic, not one-shot: an
/// emulator that loses an interrupt left pending at VM entry (Bochs's
/// VMX) still gets the next one.
pub fn start_timer() {
    write(REG_TIMER_DIVIDE, TIMER_DIVIDE_16);
    write(REG_LVT_TIMER, LVT_PERIODIC | u32::from(idt::TIMER_VECTOR));
    write(REG_TIMER_INITIAL, period_count());
}

fn period_count() -> u32 {
    u32::try_from(TIMER_COUNT_PER_PERIOD.load(Ordering::Relaxed)).unwrap_or(u32::MAX).max(1)
}

/// Whether the host's timer or ping interrupt waits in this CPU's IRR
/// (raised while interrupts were off). Checked right before each VM
/// entry: an emulator that does not exit for an interrupt already pending
/// at VM entry (Bochs) would otherwise run the guest with it until another
/// one came, which for a guest that never exits is never.
pub fn host_interrupt_pending() -> bool {
    // TIMER_VECTOR and PING_VECTOR share one 32-bit IRR register.
    const _: () = assert!(idt::TIMER_VECTOR / 32 == idt::PING_VECTOR / 32);
    let irr = read(REG_IRR + 0x10 * u32::from(idt::TIMER_VECTOR / 32));
    irr & ((1 << (idt::TIMER_VECTOR % 32)) | (1 << (idt::PING_VECTOR % 32))) != 0
}

/// From the timer interrupt: a period [`fire_within_ns`] shortened goes
/// back to the full one.
pub fn restore_tick() {
    let period = period_count();
    if read(REG_TIMER_INITIAL) != period {
        write(REG_TIMER_INITIAL, period);
    }
}

/// Makes this CPU's next timer interrupt come within `ns` from now, if the
/// one armed would come later (the periodic tick is at most 1/`TIMER_HZ`
/// away, so nothing later than that is worth arming).
pub fn fire_within_ns(ns: u64) {
    let period = TIMER_COUNT_PER_PERIOD.load(Ordering::Relaxed);
    let count = u128::from(ns) * u128::from(period) * u128::from(TIMER_HZ) / 1_000_000_000;
    let count = u32::try_from(count).unwrap_or(u32::MAX).max(1);
    if count < read(REG_TIMER_CURRENT) {
        write(REG_TIMER_INITIAL, count);
    }
}
