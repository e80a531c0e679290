//! The CPU platform an HVM/PVH guest sees, as Xen 4.17 gives it and the
//! SDM/APM define it: unclaimed I/O ports read as all ones (Xen's null
//! handler), the CPUID policy (xen/arch/x86/cpu-policy.c, cpuid.c), the
//! MTRRs of an HVM vCPU (hvm/mtrr.c; a PVH DomU's start at default type WB,
//! enabled: tools/libs/guest/xg_dom_x86.c), PAT, and the architectural
//! faults of MOV to CR4, WRMSR to EFER and MOV to DR6/DR7 (SDM Vol. 2,
//! MOV CRn / MOV DRn / WRMSR; SDM Vol. 3, 2.2.1, 2.5, 18.2). Runs once, in
//! the 64-bit suite; it installs guest-rt's exception handlers to catch the
//! #GPs it provokes.

use guest_rt::traps::{self, Fault, GP};
use guest_rt::{cpu, hypercall};

use crate::suite::Suite;

const MTRRCAP: u32 = 0xfe;
const MTRR_DEF_TYPE: u32 = 0x2ff;
const MTRR_FIX64K_00000: u32 = 0x250;
const MTRR_FIX4K_F8000: u32 = 0x26f;
const MTRR_PHYSBASE0: u32 = 0x200;
const IA32_PAT: u32 = 0x277;
const IA32_EFER: u32 = 0xc000_0080;

/// WRMSR for the checks here: each value is one the CPU must refuse, or an
/// MTRR value whose range holds no RAM of this domain and is restored.
fn wrmsr(msr: u32, value: u64) -> Result<(), Fault> {
    // SAFETY: see above; MTRRs only describe memory types, and the EFER and PAT values written here are all refused.
    unsafe { traps::try_wrmsr(msr, value) }
}

/// MOV to DR6/DR7 for the checks here: no value arms a breakpoint (no L/G bit).
fn write_dr67(six: bool, value: u64) -> Result<(), Fault> {
    debug_assert!(six || value & 0xff == 0);
    // SAFETY: no breakpoint enable bit is set in any value written.
    unsafe { traps::try_write_dr67(six, value) }
}

fn is_gp(r: Result<(), Fault>) -> bool {
    matches!(r, Err(Fault { vector: GP, error_code: 0 }))
}

pub fn run(s: &mut Suite) {
    if !s.is64() {
        return; // the CPU state does not depend on the hypercall convention
    }
    traps::install();
    ports(s);
    cpuid(s);
    mtrrs(s);
    pat(s);
    control_registers(s);
    debug_registers(s);
}

/// Ports no device claims (a DomU has none; the PIT's counters 0 and 1
/// belong to Xen, not Dom0): reads float high at every width, writes
/// vanish. Counter 2 and its gate (0x42, 0x43, 0x61) count, unlike Xen's
/// PVH domains (the null handler there): Linux calibrates against them.
fn ports(s: &mut Suite) {
    // SAFETY: the 8254 PIT is never this domain's device (Xen keeps it); a write to counter 0's port at most reprograms a timer nobody here uses.
    let (b, w, l) = unsafe {
        cpu::outb(0x40, 0x5a);
        (cpu::inb(0x41), cpu::inw(0x40), cpu::inl(0x40))
    };
    s.tap.assert(
        format_args!("reads of unclaimed I/O ports (PIT counters 0 and 1) are all ones at 8, 16 and 32 bits"),
        b == 0xff && w == 0xffff && l == 0xffff_ffff,
        format_args!("{b:#x} {w:#x} {l:#x}"),
        format_args!("0xff 0xffff 0xffffffff"),
    );
    pit_counter2(s);
}

/// Counter 2 as Linux's `pit_calibrate_tsc` uses it: gate high, mode 0,
/// LSB then MSB; it counts down at 1.193182 MHz, and OUT (port 0x61 bit
/// 5) rises at terminal count.
fn pit_counter2(s: &mut Suite) {
    let read = || {
        // SAFETY: counter 2 is this vCPU's emulated one; a counter-latch command and two data reads have no other effect.
        unsafe {
            cpu::outb(0x43, 0x80);
            u16::from_le_bytes([cpu::inb(0x42), cpu::inb(0x42)])
        }
    };
    // 10 ms: a vCPU held off for a millisecond between two exits (an
    // emulator's host thread descheduled) still reads OUT2 low at first.
    const COUNT: u16 = 11932;
    // SAFETY: as above: gate on, speaker off, counter 2 in mode 0 with count COUNT.
    unsafe {
        cpu::outb(0x61, (cpu::inb(0x61) & !0x02) | 0x01);
        cpu::outb(0x43, 0xb0);
        cpu::outb(0x42, (COUNT & 0xff) as u8);
        cpu::outb(0x42, (COUNT >> 8) as u8);
    }
    let first = read();
    let start = cpu::rdtsc_serialized();
    // SAFETY: reading port 0x61 has no side effect.
    let out_low = unsafe { cpu::inb(0x61) } & 0x20 == 0;
    let mut risen = false;
    // 10 ms of PIT ticks, at most about a second of TSC at any clock.
    while cpu::rdtsc_serialized() - start < 4_000_000_000 {
        // SAFETY: as above.
        if unsafe { cpu::inb(0x61) } & 0x20 != 0 {
            risen = true;
            break;
        }
    }
    let later = read();
    s.tap.assert(
        format_args!("PIT counter 2 (mode 0, gate on) counts down from its count, and OUT2 in port 0x61 rises at terminal count"),
        first <= COUNT && out_low && risen && later > first,
        format_args!("first {first}, OUT2 low at first {out_low}, risen {risen}, after it {later} (wrapped past 0)"),
        format_args!("first <= {COUNT}, OUT2 low then risen, the count wrapped past 0"),
    );
}

fn cpuid(s: &mut Suite) {
    let l0 = cpu::cpuid(0, 0);
    let mut vendor = [0u8; 12];
    vendor[..4].copy_from_slice(&l0.ebx.to_le_bytes());
    vendor[4..8].copy_from_slice(&l0.edx.to_le_bytes());
    vendor[8..].copy_from_slice(&l0.ecx.to_le_bytes());
    s.tap.assert(
        format_args!("cpuid 0 has a CPU vendor's string (Xen shows the host's)"),
        &vendor == b"GenuineIntel" || &vendor == b"AuthenticAMD" || &vendor == b"HygonGenuine",
        format_args!("{:?}", core::str::from_utf8(&vendor)),
        format_args!("GenuineIntel, AuthenticAMD or HygonGenuine"),
    );
    let max = l0.eax;
    let l1 = cpu::cpuid(1, 0);
    s.tap.assert(
        format_args!("cpuid 1 ebx[31:24] (initial APIC id) is the vCPU id, 0"),
        l1.ebx >> 24 == 0,
        format_args!("{}", l1.ebx >> 24),
        format_args!("0"),
    );
    let hidden = (1 << 3) | (1 << 5) | (1 << 15); // MONITOR, VMX, PDCM
    s.tap.assert(
        format_args!("cpuid 1 ecx: MONITOR, VMX and PDCM hidden, hypervisor bit set"),
        l1.ecx & hidden == 0 && l1.ecx & (1 << 31) != 0,
        format_args!("{:#x}", l1.ecx),
        format_args!("bits 3, 5, 15 clear, 31 set"),
    );
    let empty = |r: cpu::CpuidResult| r.eax == 0 && r.ebx == 0 && r.ecx == 0 && r.edx == 0;
    if max >= 5 {
        let l5 = cpu::cpuid(5, 0);
        s.tap.assert(format_args!("cpuid 5 (MONITOR/MWAIT) is empty"), empty(l5), format_args!("{l5:x?}"), format_args!("all zero"));
    }
    if max >= 6 {
        let l6 = cpu::cpuid(6, 0);
        s.tap.assert(
            format_args!("cpuid 6 offers at most ARAT (eax bit 2)"),
            l6.eax & !(1 << 2) == 0 && l6.ebx == 0 && l6.ecx == 0 && l6.edx == 0,
            format_args!("{l6:x?}"),
            format_args!("eax 0 or 4, the rest 0"),
        );
    }
    if max >= 0xa {
        let la = cpu::cpuid(0xa, 0);
        s.tap.assert(format_args!("cpuid 0xa (PMU) is empty: no vPMU"), empty(la), format_args!("{la:x?}"), format_args!("all zero"));
    }
    if max >= 0xb {
        let lb = cpu::cpuid(0xb, 0);
        s.tap.assert(
            format_args!("cpuid 0xb edx (x2APIC id) is the vCPU id, 0"),
            lb.edx == 0,
            format_args!("{}", lb.edx),
            format_args!("0"),
        );
    }
    if cpu::cpuid(0x8000_0000, 0).eax >= 0x8000_0001 {
        let e1 = cpu::cpuid(0x8000_0001, 0);
        let hidden = (1 << 2) | (1 << 23) | (1 << 24) | (1 << 28) | (1 << 29); // SVM, PERFCTR_{CORE,NB,LLC}, MONITORX
        s.tap.assert(
            format_args!("cpuid 0x80000001 ecx: SVM, the AMD perf counters and MONITORX hidden"),
            e1.ecx & hidden == 0,
            format_args!("{:#x}", e1.ecx),
            format_args!("bits 2, 23, 24, 28, 29 clear"),
        );
    }
    if !s.hwdom && cpu::cpuid(0x8000_0000, 0).eax >= 0x8000_0007 {
        let e7 = cpu::cpuid(0x8000_0007, 0);
        s.tap.assert(
            format_args!("cpuid 0x80000007 of a DomU: power/RAS hidden, no invariant TSC (libxl's default)"),
            empty(e7),
            format_args!("{e7:x?}"),
            format_args!("all zero"),
        );
    }
    let t0 = cpu::cpuid(s.cpuid_base + 3, 0);
    let t2 = cpu::cpuid(s.cpuid_base + 3, 2);
    s.tap.assert(
        format_args!("cpuid base+3 (time): not emulated, tsc_mode default, a guest and a host TSC kHz"),
        t0.eax & 1 == 0 && t0.ebx == 0 && t0.ecx != 0 && t2.eax != 0,
        format_args!("eax={:#x} ebx={} ecx={} host={}", t0.eax, t0.ebx, t0.ecx, t2.eax),
        format_args!("eax bit 0 clear, ebx 0, ecx and host kHz non-zero"),
    );
}

fn mtrrs(s: &mut Suite) {
    if cpu::cpuid(1, 0).edx & (1 << 12) == 0 {
        s.tap.assert(format_args!("cpuid 1 edx offers MTRRs (Xen: 'S', HVM guests get them)"), false, format_args!("no MTRR"), format_args!("bit 12 set"));
        return;
    }
    let phys_bits = if cpu::cpuid(0x8000_0000, 0).eax >= 0x8000_0008 { cpu::cpuid(0x8000_0008, 0).eax & 0xff } else { 36 };
    let cap = traps::try_rdmsr(MTRRCAP);
    let vcnt = cap.map_or(0, |c| c & 0xff);
    let fix_wc = cap.is_ok_and(|c| c & (1 << 8) != 0 && c & (1 << 10) != 0);
    if s.hwdom {
        s.tap.assert(
            format_args!("MTRRcap: fixed ranges, WC and the host's variable ranges (Dom0)"),
            fix_wc && vcnt >= 1,
            format_args!("{cap:x?}"),
            format_args!("bits 8 and 10 set, VCNT >= 1"),
        );
    } else {
        s.tap.assert(
            format_args!("MTRRcap of a DomU is 0x508: fixed ranges, WC, 8 variable ranges"),
            cap == Ok(0x508),
            format_args!("{cap:x?}"),
            format_args!("Ok(0x508)"),
        );
        let def = traps::try_rdmsr(MTRR_DEF_TYPE);
        s.tap.assert(
            format_args!("MTRRdefType of a PVH DomU starts enabled, default type WB (0x806)"),
            def == Ok(0x806),
            format_args!("{def:x?}"),
            format_args!("Ok(0x806)"),
        );
        let beyond = traps::try_rdmsr(MTRR_PHYSBASE0 + 16);
        s.tap.assert(
            format_args!("rdmsr of variable range 8 (0x210), past VCNT, is #GP"),
            matches!(beyond, Err(Fault { vector: GP, .. })),
            format_args!("{beyond:x?}"),
            format_args!("#GP"),
        );
    }
    // The ranges written cover no RAM of this domain (2-3 GiB, the top 4K
    // page of the BIOS area) and are restored.
    let def = traps::try_rdmsr(MTRR_DEF_TYPE).unwrap_or(0);
    let rejected = [def & !0xff | 2, def & !0xff | 3, def & !0xff | 7, def | (1 << 9), def | (1 << 12)]
        .iter()
        .all(|&bad| is_gp(wrmsr(MTRR_DEF_TYPE, bad)));
    let kept = traps::try_rdmsr(MTRR_DEF_TYPE) == Ok(def);
    s.tap.assert(
        format_args!("wrmsr MTRRdefType with a reserved type (2, 3, 7) or reserved bit (9, 12) is #GP and changes nothing"),
        rejected && kept,
        format_args!("all #GP: {rejected}, unchanged: {kept}"),
        format_args!("all #GP, unchanged"),
    );
    let ro = wrmsr(MTRRCAP, 0);
    s.tap.assert(format_args!("wrmsr MTRRcap (read-only) is #GP"), is_gp(ro), format_args!("{ro:x?}"), format_args!("#GP"));
    if vcnt >= 1 {
        let i = u32::try_from(vcnt - 1).unwrap_or(0);
        let (base_msr, mask_msr) = (MTRR_PHYSBASE0 + 2 * i, MTRR_PHYSBASE0 + 2 * i + 1);
        let old = (traps::try_rdmsr(base_msr).unwrap_or(0), traps::try_rdmsr(mask_msr).unwrap_or(0));
        let width_mask = (1u64 << phys_bits) - 1;
        // 1 GiB of UC at 2 GiB, valid.
        let (base, mask) = (0x8000_0000, (width_mask & !0x3fff_ffff) | 0x800);
        let wrote = wrmsr(base_msr, base).is_ok() && wrmsr(mask_msr, mask).is_ok();
        let back = (traps::try_rdmsr(base_msr), traps::try_rdmsr(mask_msr));
        s.tap.assert(
            format_args!("a variable-range MTRR pair (range {i}) reads back as written"),
            wrote && back == (Ok(base), Ok(mask)),
            format_args!("wrote {wrote}, read {back:x?}"),
            format_args!("({base:#x}, {mask:#x})"),
        );
        let bad = [
            (base_msr, base | 2, "type 2"),
            (base_msr, base | 0x100, "PHYSBASE bit 8"),
            (base_msr, base | (1u64 << phys_bits), "PHYSBASE above the address width"),
            (mask_msr, mask | 1, "PHYSMASK bit 0"),
            (mask_msr, mask | (1u64 << phys_bits), "PHYSMASK above the address width"),
        ];
        for (msr, value, what) in bad {
            let r = wrmsr(msr, value);
            s.tap.assert(format_args!("wrmsr {msr:#x} with {what} is #GP"), is_gp(r), format_args!("{r:x?}"), format_args!("#GP"));
        }
        let _ = wrmsr(mask_msr, old.1);
        let _ = wrmsr(base_msr, old.0);
    }
    let old = traps::try_rdmsr(MTRR_FIX4K_F8000).unwrap_or(0);
    let value = 0x0605_0401_0006_0504;
    let wrote = wrmsr(MTRR_FIX4K_F8000, value);
    let back = traps::try_rdmsr(MTRR_FIX4K_F8000);
    s.tap.assert(
        format_args!("fixed-range MTRR 4K_F8000 takes eight valid types and reads them back"),
        wrote.is_ok() && back == Ok(value),
        format_args!("{wrote:x?} {back:x?}"),
        format_args!("Ok, Ok({value:#x})"),
    );
    let r = wrmsr(MTRR_FIX64K_00000, 0x0700_0000_0000_0006);
    s.tap.assert(format_args!("wrmsr fixed-range MTRR with type 7 in one byte is #GP"), is_gp(r), format_args!("{r:x?}"), format_args!("#GP"));
    let _ = wrmsr(MTRR_FIX4K_F8000, old);
}

fn pat(s: &mut Suite) {
    let pat = traps::try_rdmsr(IA32_PAT);
    s.tap.assert(format_args!("IA32_PAT exists (rdmsr 0x277 succeeds)"), pat.is_ok(), format_args!("{pat:x?}"), format_args!("Ok"));
    let Ok(pat) = pat else { return };
    let r = wrmsr(IA32_PAT, pat & !0xff | 2);
    let kept = traps::try_rdmsr(IA32_PAT) == Ok(pat);
    s.tap.assert(
        format_args!("wrmsr IA32_PAT with the reserved type 2 is #GP and changes nothing"),
        is_gp(r) && kept,
        format_args!("{r:x?}, unchanged: {kept}"),
        format_args!("#GP, unchanged"),
    );
}

fn control_registers(s: &mut Suite) {
    const CR4_VMXE: u64 = 1 << 13;
    let cr4 = traps::read_cr4();
    let cases = [(cr4 | (1 << 63), "a reserved bit (63)"), (cr4 | (1 << 31), "a reserved bit (31)"), (cr4 | CR4_VMXE, "VMXE (no nested virtualization)")];
    for (value, what) in cases {
        // SAFETY: each value is one the CPU must refuse, so CR4 stays as it is.
        let r = unsafe { traps::try_write_cr4(value) };
        s.tap.assert(format_args!("mov to CR4 with {what} is #GP"), is_gp(r), format_args!("{r:x?}"), format_args!("#GP"));
    }
    s.tap.assert(format_args!("CR4 is unchanged after the refused writes"), traps::read_cr4() == cr4, format_args!("{:#x}", traps::read_cr4()), format_args!("{cr4:#x}"));
    let efer = traps::try_rdmsr(IA32_EFER).unwrap_or(0);
    let cases = [(efer | (1 << 2), "a reserved bit (2)"), (efer | (1 << 12), "SVME (no nested virtualization)"), (efer & !(1 << 8), "LME clear while paging")];
    for (value, what) in cases {
        let r = wrmsr(IA32_EFER, value);
        s.tap.assert(format_args!("wrmsr EFER with {what} is #GP"), is_gp(r), format_args!("{r:x?}"), format_args!("#GP"));
    }
}

fn debug_registers(s: &mut Suite) {
    let values = [0x1000, 0xffff_8000_0000_2008, 0x7fff_ffff_f000, 0xdead_b000];
    for (n, v) in (0u8..).zip(values) {
        traps::write_dr(n, v);
    }
    // A hypercall is a VM exit: the registers must survive it as this vCPU's.
    let _ = hypercall::xen_version();
    let back: [u64; 4] = core::array::from_fn(|n| traps::read_dr(u8::try_from(n).unwrap_or(0)));
    s.tap.assert(
        format_args!("DR0-DR3 read back as written, across a VM exit"),
        back == values,
        format_args!("{back:x?}"),
        format_args!("{values:x?}"),
    );
    // R/W0 and LEN0 set, no enable bit: no breakpoint. Bit 10 reads 1
    // (SDM Vol. 3, 18.2.4).
    let wrote = write_dr67(false, 0x000f_0000);
    let dr7 = traps::read_dr67(false);
    s.tap.assert(
        format_args!("DR7 reads back as written, with bit 10 set (0xf0000 reads 0xf0400)"),
        wrote.is_ok() && dr7 == 0x000f_0400,
        format_args!("{wrote:x?} {dr7:#x}"),
        format_args!("Ok 0xf0400"),
    );
    let r7 = write_dr67(false, 0x400 | (1 << 32));
    let r6 = write_dr67(true, 0xffff_0ff0 | (1 << 40));
    s.tap.assert(
        format_args!("mov to DR7 or DR6 with a bit of 63:32 set is #GP"),
        is_gp(r7) && is_gp(r6),
        format_args!("{r7:x?} {r6:x?}"),
        format_args!("#GP #GP"),
    );
    let _ = write_dr67(false, 0x400);
    for n in 0..4 {
        traps::write_dr(n, 0);
    }
}
