//! The local APIC as Xen 4.17 emulates it for an HVM/PVH vCPU
//! (xen/arch/x86/hvm/vlapic.c) and as the SDM (Vol. 3A, chapter 11)
//! defines it: the xAPIC page at 0xfee00000 and, when CPUID offers it, the
//! x2APIC MSRs; TPR/PPR, ESR, self-IPIs and EOI, the timer in its three
//! modes (an interrupt must arrive; the timing is only bounded, 1-2 s),
//! HLT woken by it; and Xen's null handler for an address with nothing
//! behind it (all ones, writes dropped), as a DomU (Dom0's unlisted
//! addresses are the host's RAM, which it may not touch at all).
//!
//! Interrupts are on only inside this group; it leaves the APIC
//! software-disabled, the timer stopped and interrupts off again.

use core::arch::{asm, global_asm};
use core::sync::atomic::{AtomicU64, Ordering};

use guest_rt::traps::{self, Fault, GP};
use guest_rt::{cpu, timer};

use crate::suite::Suite;

const BASE: u64 = 0xfee0_0000;
const ID: u64 = 0x20;
const LVR: u64 = 0x30;
const TPR: u64 = 0x80;
const PPR: u64 = 0xa0;
const EOI: u64 = 0xb0;
const SVR: u64 = 0xf0;
const ISR: u64 = 0x100;
const IRR: u64 = 0x200;
const ESR: u64 = 0x280;
const ICR: u64 = 0x300;
const ICR2: u64 = 0x310;
const LVTT: u64 = 0x320;
const LVT0: u64 = 0x350;
const LVT1: u64 = 0x360;
const LVTERR: u64 = 0x370;
const TMICT: u64 = 0x380;
const TMCCT: u64 = 0x390;
const TDCR: u64 = 0x3e0;

/// Xen's VLAPIC_VERSION: version 0x14, max LVT entry 5.
const XEN_VERSION: u32 = 0x0005_0014;
const MASKED: u32 = 1 << 16;
const SELF: u32 = 1 << 18;
const PERIODIC: u32 = 1 << 17;
const TSC_DEADLINE: u32 = 2 << 17;
const MSR_APIC_BASE: u32 = 0x1b;
const MSR_TSC_DEADLINE: u32 = 0x6e0;
/// HVMOP_set_evtchn_upcall_vector's vector from the hvm_op group: events
/// sent since wait in the IRR for the APIC to be enabled.
const UPCALL: u8 = 0xf3;

/// Interrupts taken, per vector (the stubs below count them).
static COUNTS: [AtomicU64; 256] = [const { AtomicU64::new(0) }; 256];

// One stub per vector used: count the interrupt, return. No EOI: the
// checks send it themselves, which is what they test.
global_asm!(
    r#"
    .pushsection .text.conformance_apic, "ax", @progbits
    .irp n, 0x41,0x42,0x43,0x51,0x52,0x53,0x54,0x61,0xe3,0xf3
    conformance_apic_irq_\n:
        lock inc qword ptr [rip + {counts} + 8 * \n]
        iretq
    .endr
    .popsection
    .pushsection .rodata.conformance_apic, "a", @progbits
    .balign 8
    .global conformance_apic_stubs
conformance_apic_stubs:
    .irp n, 0x41,0x42,0x43,0x51,0x52,0x53,0x54,0x61,0xe3,0xf3
        .quad \n
        .quad conformance_apic_irq_\n
    .endr
    .popsection
"#,
    counts = sym COUNTS,
);

unsafe extern "C" {
    /// (vector, stub address) pairs.
    static conformance_apic_stubs: [[u64; 2]; 10];
}

fn read(offset: u64) -> u32 {
    // SAFETY: the xAPIC page is in the boot identity map of 0..4 GiB; a read of an APIC register has no side effect.
    unsafe { ((BASE + offset) as *const u32).read_volatile() }
}

fn write(offset: u64, value: u32) {
    // SAFETY: as for `read`; the checks write only APIC registers, with values that leave this kernel running.
    unsafe { ((BASE + offset) as *mut u32).write_volatile(value) }
}

fn count(vector: u8) -> u64 {
    COUNTS[usize::from(vector)].load(Ordering::SeqCst)
}

/// Waits (interrupts on) until `vector` has been taken more than `before`
/// times, at most `ms` of Xen system time.
fn wait_for(vector: u8, before: u64, ms: u64) -> bool {
    let start = timer::now_ns();
    while count(vector) <= before {
        if timer::now_ns().saturating_sub(start) > ms * 1_000_000 {
            return false;
        }
        core::hint::spin_loop();
    }
    true
}

/// Whether `vector`'s bit is set in the 256-bit register at `base` (ISR, IRR).
fn bit(base: u64, vector: u8) -> bool {
    read(base + u64::from(vector >> 5) * 0x10) & (1 << (vector & 31)) != 0
}

fn rdtsc() -> u64 {
    cpu::rdtsc_serialized()
}

fn fault(r: Result<(), Fault>) -> Option<u8> {
    r.err().map(|f| f.vector)
}

pub fn run(s: &mut Suite) {
    if !s.is64() {
        return; // the APIC does not depend on the code segment
    }
    traps::install();
    // SAFETY: `conformance_apic_stubs` holds the stubs above, interrupt handlers that keep every register and end in IRETQ.
    unsafe {
        for [vector, stub] in *(&raw const conformance_apic_stubs) {
            traps::set_interrupt_gate(vector as u8, stub);
        }
    }
    reset_state(s);
    // Software-enable with spurious vector 0xff, then take what waits.
    write(SVR, 0x1ff);
    // SAFETY: every vector the APIC can deliver here has a gate.
    unsafe { asm!("sti", options(nomem, nostack)) };
    settle(s);
    registers(s);
    self_ipis(s);
    errors(s);
    timers(s);
    x2apic(s);
    unclaimed(s);
    write(LVTT, MASKED);
    write(TMICT, 0);
    write(SVR, 0xff);
    // SAFETY: interrupts go off again for the groups after this one.
    unsafe { asm!("cli", options(nomem, nostack)) };
}

/// IA32_APIC_BASE and the registers as Xen's vlapic_reset leaves them.
fn reset_state(s: &mut Suite) {
    let base = traps::try_rdmsr(MSR_APIC_BASE);
    s.tap.assert(
        format_args!("rdmsr IA32_APIC_BASE: xAPIC enabled at 0xfee00000, BSP (vCPU 0)"),
        base == Ok(0xfee0_0900),
        format_args!("{base:x?}"),
        format_args!("Ok(fee00900)"),
    );
    let svr = read(SVR);
    s.tap.assert(
        format_args!("APIC SVR after reset is 0xff: software-disabled"),
        svr == 0xff,
        format_args!("{svr:#x}"),
        format_args!("0xff"),
    );
    let lvts = [read(LVTT), read(LVT0), read(LVT1), read(LVTERR)];
    s.tap.assert(
        format_args!("APIC LVT timer, LINT0, LINT1, error are masked after reset"),
        lvts.iter().all(|l| l & MASKED != 0),
        format_args!("{lvts:#x?}"),
        format_args!("bit 16 set in each"),
    );
}

/// EOIs whatever the enable let in (the upcall vector, if an event came
/// since the hvm_op group chose it), so that the checks start with
/// nothing in service.
fn settle(s: &mut Suite) {
    let before = count(UPCALL);
    let _ = wait_for(UPCALL, before, 20);
    for _ in 0..8 {
        if (0..8).all(|i| read(ISR + i * 0x10) == 0) {
            break;
        }
        write(EOI, 0);
    }
    s.tap.note(format_args!("upcall vector {UPCALL:#x} taken {} times on enabling the APIC", count(UPCALL)));
}

fn registers(s: &mut Suite) {
    let id = read(ID) >> 24;
    let initial = cpu::cpuid(1, 0).ebx >> 24;
    s.tap.assert(
        format_args!("APIC ID (MMIO 0xfee00020) is CPUID.1:EBX[31:24], 0 for vCPU 0"),
        id == initial && id == 0,
        format_args!("{id:#x}, CPUID {initial:#x}"),
        format_args!("0"),
    );
    let lvr = read(LVR);
    s.tap.assert(
        format_args!("APIC version (MMIO 0xfee00030) is Xen's 0x00050014"),
        lvr == XEN_VERSION,
        format_args!("{lvr:#x}"),
        format_args!("{XEN_VERSION:#x}"),
    );
    write(TPR, 0x35);
    let (tpr, ppr) = (read(TPR), read(PPR));
    s.tap.assert(
        format_args!("TPR 0x35 reads back; PPR is TPR with nothing in service"),
        tpr == 0x35 && ppr == 0x35,
        format_args!("TPR {tpr:#x} PPR {ppr:#x}"),
        format_args!("TPR 0x35 PPR 0x35"),
    );
    write(TPR, 0);
}

fn self_ipis(s: &mut Suite) {
    let before = count(0x41);
    write(ICR, SELF | 0x41);
    let taken = wait_for(0x41, before, 1000);
    let (in_service, ppr) = (bit(ISR, 0x41), read(PPR));
    s.tap.assert(
        format_args!("a fixed self-IPI (ICR shorthand self, vector 0x41) is taken, in service, PPR 0x40"),
        taken && in_service && ppr == 0x40,
        format_args!("taken {taken}, ISR {in_service}, PPR {ppr:#x}"),
        format_args!("taken, ISR set, PPR 0x40"),
    );
    let before43 = count(0x43);
    write(ICR, SELF | 0x43);
    let held = !wait_for(0x43, before43, 20) && bit(IRR, 0x43);
    s.tap.assert(
        format_args!("a self-IPI of the class in service (0x43 while 0x41) waits in the IRR"),
        held,
        format_args!("count {} IRR {}", count(0x43) - before43, bit(IRR, 0x43)),
        format_args!("not taken, IRR set"),
    );
    write(EOI, 0);
    let after = wait_for(0x43, before43, 1000);
    s.tap.assert(
        format_args!("EOI ends 0x41's service: 0x41 leaves the ISR and 0x43 is taken"),
        after && !bit(ISR, 0x41) && bit(ISR, 0x43),
        format_args!("0x43 taken {after}, ISR 0x41 {} 0x43 {}", bit(ISR, 0x41), bit(ISR, 0x43)),
        format_args!("taken, 0x41 clear, 0x43 set"),
    );
    write(EOI, 0);
    write(TPR, 0x50);
    let before42 = count(0x42);
    write(ICR2, 0);
    write(ICR, 0x42); // physical destination 0: this APIC
    let masked = !wait_for(0x42, before42, 20) && bit(IRR, 0x42);
    write(TPR, 0);
    let later = wait_for(0x42, before42, 1000);
    s.tap.assert(
        format_args!("an IPI to APIC ID 0 below TPR's class waits, and is taken once TPR drops"),
        masked && later,
        format_args!("held {masked}, taken {later}"),
        format_args!("held, then taken"),
    );
    write(EOI, 0);
    let isr_clear = (0..8).all(|i| read(ISR + i * 0x10) == 0);
    s.tap.assert(
        format_args!("after the EOIs nothing is in service and PPR is 0"),
        isr_clear && read(PPR) == 0,
        format_args!("ISR clear {isr_clear}, PPR {:#x}", read(PPR)),
        format_args!("clear, 0"),
    );
}

fn errors(s: &mut Suite) {
    write(ESR, 0);
    let clean = read(ESR);
    write(ICR, SELF | 0x02); // fixed with an illegal vector
    write(ESR, 0);
    let latched = read(ESR);
    write(ESR, 0);
    let cleared = read(ESR);
    s.tap.assert(
        format_args!("ESR: a self-IPI with vector 2 sets Send Illegal Vector (bit 5) at the next ESR write, and the write after clears it"),
        clean == 0 && latched & (1 << 5) != 0 && cleared == 0,
        format_args!("{clean:#x}, {latched:#x}, {cleared:#x}"),
        format_args!("0, bit 5, 0"),
    );
    let before = count(0xe3);
    write(LVTERR, 0xe3);
    write(ICR, SELF | 0x03);
    let raised = wait_for(0xe3, before, 1000);
    write(EOI, 0);
    write(LVTERR, MASKED);
    write(ESR, 0);
    write(ESR, 0);
    s.tap.assert(
        format_args!("an unmasked LVT error entry (vector 0xe3) interrupts on a send error"),
        raised,
        format_args!("not taken"),
        format_args!("taken"),
    );
}

fn timers(s: &mut Suite) {
    // One-shot: 1000000 ticks at divide-by-1 (10 ms on Xen's 100 MHz bus).
    write(TDCR, 0xb);
    write(LVTT, 0x51);
    let before = count(0x51);
    write(TMICT, 1_000_000);
    let first = read(TMCCT);
    let mut second = first;
    for _ in 0..1000 {
        second = read(TMCCT);
        if second < first {
            break;
        }
    }
    let fired = wait_for(0x51, before, 1000);
    write(EOI, 0);
    s.tap.assert(
        format_args!("one-shot timer: TMCCT counts down from TMICT and the interrupt (0x51) arrives"),
        first <= 1_000_000 && first > 0 && second < first && fired,
        format_args!("TMCCT {first} then {second}, fired {fired}"),
        format_args!("0 < TMCCT <= 1000000, decreasing, fired"),
    );
    let once = !wait_for(0x51, before + 1, 50) && read(TMCCT) == 0;
    s.tap.assert(
        format_args!("one-shot timer: no second interrupt, TMCCT stays 0"),
        once,
        format_args!("{} interrupts, TMCCT {}", count(0x51) - before, read(TMCCT)),
        format_args!("1, 0"),
    );

    // Periodic: three interrupts of 500000 ticks each.
    write(LVTT, PERIODIC | 0x52);
    let start = count(0x52);
    write(TMICT, 500_000);
    let mut got = 0;
    for i in 0..3 {
        if !wait_for(0x52, start + i, 2000) {
            break;
        }
        got += 1;
        write(EOI, 0);
    }
    write(TMICT, 0);
    s.tap.assert(
        format_args!("periodic timer: three interrupts (0x52), each after an EOI"),
        got == 3,
        format_args!("{got}"),
        format_args!("3"),
    );

    // HLT wakes on the timer's interrupt (periodic, so one comes after the HLT).
    write(LVTT, PERIODIC | 0x54);
    let before = count(0x54);
    write(TMICT, 500_000);
    // SAFETY: interrupts are on and the periodic timer keeps interrupting: HLT returns after the next one.
    unsafe { asm!("hlt", options(nomem, nostack)) };
    let woke = count(0x54) > before;
    write(TMICT, 0);
    write(EOI, 0);
    s.tap.assert(format_args!("HLT wakes on the APIC timer's interrupt"), woke, format_args!("no interrupt"), format_args!("0x54 taken"));

    // TSC-deadline mode, where CPUID offers it; else the MSR #GPs (Xen).
    let tsc_deadline = cpu::cpuid(1, 0).ecx & (1 << 24) != 0;
    if !tsc_deadline {
        let r = traps::try_rdmsr(MSR_TSC_DEADLINE);
        s.tap.assert(
            format_args!("without CPUID TSC-deadline, rdmsr IA32_TSC_DEADLINE is #GP"),
            r.map_err(|f| f.vector) == Err(GP),
            format_args!("{r:x?}"),
            format_args!("#GP"),
        );
        write(LVTT, MASKED);
        return;
    }
    write(LVTT, TSC_DEADLINE | 0x53);
    let before = count(0x53);
    // SAFETY: arms the APIC timer only.
    let armed = unsafe { traps::try_wrmsr(MSR_TSC_DEADLINE, rdtsc() + 2_000_000) };
    let fired = wait_for(0x53, before, 1000);
    let after = traps::try_rdmsr(MSR_TSC_DEADLINE);
    write(EOI, 0);
    write(LVTT, MASKED);
    s.tap.assert(
        format_args!("TSC-deadline timer: the interrupt (0x53) arrives and IA32_TSC_DEADLINE reads 0 after"),
        armed.is_ok() && fired && after == Ok(0),
        format_args!("wrmsr {armed:x?}, fired {fired}, rdmsr {after:x?}"),
        format_args!("Ok, fired, Ok(0)"),
    );
}

fn x2apic(s: &mut Suite) {
    if cpu::cpuid(1, 0).ecx & (1 << 21) == 0 {
        s.tap.note(format_args!("no x2APIC in CPUID: x2APIC checks skipped"));
        return;
    }
    let xapic = 0xfee0_0800u64;
    let extd = 1 << 10;
    // SAFETY: each write below is one the SDM allows or one that must #GP; the APIC ends in xAPIC mode again.
    unsafe {
        let to_x2 = traps::try_wrmsr(MSR_APIC_BASE, xapic | extd);
        s.tap.assert(
            format_args!("wrmsr IA32_APIC_BASE EN|EXTD from xAPIC mode enters x2APIC mode"),
            to_x2.is_ok(),
            format_args!("{to_x2:x?}"),
            format_args!("Ok"),
        );
        if to_x2.is_err() {
            return;
        }
        let (id, lvr, ldr) = (traps::try_rdmsr(0x802), traps::try_rdmsr(0x803), traps::try_rdmsr(0x80d));
        s.tap.assert(
            format_args!("x2APIC: ID (0x802) 0, version (0x803) Xen's, LDR (0x80d) cluster 0 bit 0"),
            id == Ok(0) && lvr == Ok(u64::from(XEN_VERSION)) && ldr == Ok(1),
            format_args!("{id:x?} {lvr:x?} {ldr:x?}"),
            format_args!("Ok(0) Ok(50014) Ok(1)"),
        );
        let refused = [
            fault(traps::try_rdmsr(0x80b).map(|_| ())),
            fault(traps::try_rdmsr(0x83f).map(|_| ())),
            fault(traps::try_wrmsr(0x802, 1)),
            fault(traps::try_wrmsr(0x808, 0x100)),
            fault(traps::try_wrmsr(0x80b, 1)),
        ];
        s.tap.assert(
            format_args!("x2APIC #GP: rdmsr EOI and SELF_IPI (write-only), wrmsr ID (read-only), TPR bit 8, EOI non-zero"),
            refused.iter().all(|&f| f == Some(GP)),
            format_args!("{refused:?}"),
            format_args!("all Some(13)"),
        );
        let before = count(0x61);
        let sent = traps::try_wrmsr(0x83f, 0x61);
        let taken = wait_for(0x61, before, 1000);
        let eoi = traps::try_wrmsr(0x80b, 0);
        s.tap.assert(
            format_args!("x2APIC SELF_IPI (0x83f) of vector 0x61 is taken; EOI (0x80b) takes 0"),
            sent.is_ok() && taken && eoi.is_ok(),
            format_args!("{sent:x?} {taken} {eoi:x?}"),
            format_args!("Ok true Ok"),
        );
        let back = fault(traps::try_wrmsr(MSR_APIC_BASE, xapic));
        let off = traps::try_wrmsr(MSR_APIC_BASE, xapic & !(1 << 11));
        let on = traps::try_wrmsr(MSR_APIC_BASE, xapic);
        s.tap.assert(
            format_args!("x2APIC to xAPIC directly #GPs; through disabled it is allowed"),
            back == Some(GP) && off.is_ok() && on.is_ok(),
            format_args!("{back:?} {off:x?} {on:x?}"),
            format_args!("Some(13) Ok Ok"),
        );
    }
    let svr = read(SVR);
    s.tap.assert(
        format_args!("re-enabled in xAPIC mode the APIC is reset: SVR 0xff, ID 0"),
        svr == 0xff && read(ID) == 0,
        format_args!("SVR {svr:#x} ID {:#x}", read(ID)),
        format_args!("SVR 0xff ID 0"),
    );
    write(SVR, 0x1ff);
}

/// Xen's null handler: an address with no RAM and no device behind it.
fn unclaimed(s: &mut Suite) {
    if s.hwdom {
        s.tap.note(format_args!("Dom0: its unlisted addresses are the host's, outside its memory: null handler not checked"));
        return;
    }
    let Some(addr) = s.no_ram() else { return };
    let at = addr + 0x40;
    // SAFETY: `at` is mapped in this kernel's page tables and nothing is behind it; a read or write there is the check itself.
    let (word, byte, after) = unsafe {
        let word = (at as *const u32).read_volatile();
        let byte = ((at + 5) as *const u8).read_volatile();
        (at as *mut u32).write_volatile(0x1234_5678);
        (word, byte, (at as *const u32).read_volatile())
    };
    s.tap.assert(
        format_args!("a read of unclaimed guest-physical memory is all ones; a write there is dropped"),
        word == u32::MAX && byte == 0xff && after == u32::MAX,
        format_args!("{word:#x} {byte:#x}, after the write {after:#x}"),
        format_args!("0xffffffff 0xff, 0xffffffff"),
    );
}
