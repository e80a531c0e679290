//! One vCPU's local APIC: the register model behind the xAPIC page
//! (0xfee00000, or wherever IA32_APIC_BASE puts it), the x2APIC MSRs
//! 0x800-0x8ff, IA32_APIC_BASE and IA32_TSC_DEADLINE. Pure logic: the vCPU
//! loop passes each access in with the time ([`Clock`]) and asks what to
//! deliver ([`Vlapic::pending`], [`Vlapic::ack`], [`Vlapic::take_requests`]).
//!
//! Facts taken from Xen 4.17 (xen/arch/x86/hvm/vlapic.c) and the SDM
//! (Vol. 3A, chapter 11 "Advanced Programmable Interrupt Controller"):
//! - version register 0x00050014 (`VLAPIC_VERSION`): version 0x14, six LVT
//!   entries (max LVT 5), no directed-EOI support (bit 24 clear);
//! - the APIC ID is the vCPU id (this project's choice, the same in the
//!   MADT and CPUID 1/0xB; Xen 4.17 uses 2 x vCPU id): `id << 24` in the
//!   xAPIC ID register, the whole 32 bits in x2APIC mode, where the LDR is
//!   derived from it (cluster `id >> 4` in bits 31:16, bit `id & 0xf`);
//! - the timer counts at Xen's APIC bus clock, `APIC_BUS_CYCLE_NS` = 10 ns
//!   (100 MHz; xen/arch/x86/include/asm/hvm/vlapic.h), divided by TDCR;
//! - reset state (`vlapic_do_init`): LVTs masked, SVR 0xff (software
//!   disabled), DFR all ones, TDCR 0 (divide by 2);
//! - writable-bit masks of the LVTs and which x2APIC MSRs read, write or
//!   #GP (`guest_rdmsr_x2apic`, `guest_wrmsr_x2apic`);
//! - ESR: errors collect in a hidden register, a write to ESR latches
//!   them into the readable one (SDM 11.5.3; Xen's `pending_esr`);
//! - PPR from TPR and the highest in-service class (`vlapic_get_ppr`); an
//!   IRR vector is taken only when its class is above PPR's.
//!
//! IPIs to other vCPUs are recorded ([`Requests::remote`]) for the vCPU
//! loop, which matches them against the other vCPUs' published
//! [`ApicAddress`]es and delivers each [`IpiAction`].
//!
//! Not modelled: the IOAPIC side of level-triggered EOIs (no IOAPIC yet),
//! lowest-priority arbitration among vCPUs (the first one reached takes it).

#![forbid(unsafe_code)]

/// Xen's `VLAPIC_VERSION`: version 0x14, max LVT entry 5.
pub const VERSION: u32 = 0x0005_0014;
/// Nanoseconds per APIC bus cycle: Xen 4.17's `APIC_BUS_CYCLE_NS`.
pub const BUS_CYCLE_NS: u64 = 10;
/// The architectural xAPIC page.
pub const DEFAULT_BASE: u64 = 0xfee0_0000;
pub const MSR_APIC_BASE: u32 = 0x1b;
pub const MSR_TSC_DEADLINE: u32 = 0x6e0;
pub const MSR_X2APIC_FIRST: u32 = 0x800;
pub const MSR_X2APIC_LAST: u32 = 0x8ff;

/// IA32_APIC_BASE bits (SDM Vol. 3A, 11.4.4).
pub const BASE_BSP: u64 = 1 << 8;
pub const BASE_EXTD: u64 = 1 << 10;
pub const BASE_EN: u64 = 1 << 11;
/// The base address field, up to a 52-bit physical address.
pub const BASE_ADDR: u64 = 0x000f_ffff_ffff_f000;

/// Register offsets in the xAPIC page (x2APIC MSR = 0x800 + offset / 16).
pub mod reg {
    pub const ID: u32 = 0x20;
    pub const LVR: u32 = 0x30;
    pub const TPR: u32 = 0x80;
    pub const APR: u32 = 0x90;
    pub const PPR: u32 = 0xa0;
    pub const EOI: u32 = 0xb0;
    pub const LDR: u32 = 0xd0;
    pub const DFR: u32 = 0xe0;
    pub const SVR: u32 = 0xf0;
    pub const ISR: u32 = 0x100;
    pub const TMR: u32 = 0x180;
    pub const IRR: u32 = 0x200;
    pub const ESR: u32 = 0x280;
    pub const CMCI: u32 = 0x2f0;
    pub const ICR: u32 = 0x300;
    pub const ICR2: u32 = 0x310;
    pub const LVTT: u32 = 0x320;
    pub const LVTTHMR: u32 = 0x330;
    pub const LVTPC: u32 = 0x340;
    pub const LVT0: u32 = 0x350;
    pub const LVT1: u32 = 0x360;
    pub const LVTERR: u32 = 0x370;
    pub const TMICT: u32 = 0x380;
    pub const TMCCT: u32 = 0x390;
    pub const TDCR: u32 = 0x3e0;
    /// x2APIC only (MSR 0x83f).
    pub const SELF_IPI: u32 = 0x3f0;
}

/// LVT bits.
const LVT_MASKED: u32 = 1 << 16;
const LVT_VECTOR: u32 = 0xff;
/// Delivery status: read-only, but Xen's masks let it through a write.
const LVT_SEND_PENDING: u32 = 1 << 12;
const LVT_MODE: u32 = 0x700;
const LVT_TIMER_MODE: u32 = 3 << 17;
const TIMER_PERIODIC: u32 = 1 << 17;
const TIMER_TSC_DEADLINE: u32 = 2 << 17;
/// Xen's `LVT_MASK` and `LINT_MASK`.
const LVT_MASK: u32 = LVT_MASKED | LVT_SEND_PENDING | LVT_VECTOR;
const LINT_MASK: u32 = LVT_MASK | LVT_MODE | (1 << 13) | (1 << 14) | (1 << 15);
/// Writable bits of the six LVTs, in register order (Xen's `vlapic_lvt_mask`).
const LVT_WRITABLE: [u32; 6] = [
    LVT_MASK | LVT_TIMER_MODE, // timer
    LVT_MASK | LVT_MODE,       // thermal
    LVT_MASK | LVT_MODE,       // performance counters
    LINT_MASK,                 // LINT0
    LINT_MASK,                 // LINT1
    LVT_MASK,                  // error
];
const SVR_ENABLE: u32 = 1 << 8;
/// Vector, software enable, focus-processor checking (no EOI suppression:
/// the version register does not offer it).
const SVR_WRITABLE: u32 = 0x3ff;
/// TDCR bits 0, 1 and 3.
const TDCR_WRITABLE: u32 = 0xb;

/// ESR bits (SDM Vol. 3A, figure 11-9).
pub const ESR_SEND_ILLEGAL_VECTOR: u32 = 1 << 5;
pub const ESR_RECEIVE_ILLEGAL_VECTOR: u32 = 1 << 6;

/// ICR fields.
const ICR_MODE_SHIFT: u32 = 8;
const ICR_LOGICAL: u32 = 1 << 11;
const ICR_ASSERT: u32 = 1 << 14;
const ICR_LEVEL: u32 = 1 << 15;
const ICR_SHORTHAND_SHIFT: u32 = 18;
/// Bits an x2APIC ICR write may set in its low half (Xen's check).
const ICR_X2APIC_WRITABLE: u32 = 0xff | 0x700 | ICR_LOGICAL | ICR_ASSERT | ICR_LEVEL | (3 << ICR_SHORTHAND_SHIFT);

/// The time an access happens at: Xen system time (ns) and the guest's TSC.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Clock {
    pub ns: u64,
    pub tsc: u64,
}

/// What the guest's CPUID offers, which decides which MSR writes #GP.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Features {
    /// CPUID.1:ECX[21].
    pub x2apic: bool,
    /// CPUID.1:ECX[24].
    pub tsc_deadline: bool,
}

/// The access is refused with #GP(0).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Gp;

/// An IPI for other vCPUs: the ICR's low half and the destination field
/// (8 bits in xAPIC mode, 32 in x2APIC mode).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RemoteIpi {
    pub icr: u32,
    pub dest: u32,
}

impl RemoteIpi {
    /// Whether it goes to the APIC at `target` (another vCPU's): by its
    /// shorthand, else by its destination.
    pub fn reaches(&self, target: &ApicAddress) -> bool {
        match (self.icr >> ICR_SHORTHAND_SHIFT) & 3 {
            0 => target.matches(self.dest, self.icr & ICR_LOGICAL != 0),
            1 => false,
            _ => true,
        }
    }

    /// What it asks of each vCPU it reaches.
    pub fn action(&self) -> IpiAction {
        let vector = crate::bits::low8(u64::from(self.icr));
        match (self.icr >> ICR_MODE_SHIFT) & 7 {
            0 => IpiAction::Fixed(vector),
            1 => IpiAction::LowestPriority(vector),
            4 => IpiAction::Nmi,
            // INIT level de-assert does nothing (Xen, SDM 11.6.1).
            5 if self.icr & (ICR_LEVEL | ICR_ASSERT) == ICR_LEVEL => IpiAction::None,
            5 => IpiAction::Init,
            6 => IpiAction::Startup(vector),
            _ => IpiAction::None,
        }
    }
}

/// A remote IPI's effect on a vCPU it reaches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IpiAction {
    Fixed(u8),
    /// To one of the vCPUs it reaches (no priority arbitration here: the first).
    LowestPriority(u8),
    Nmi,
    Init,
    /// A start-up IPI: the AP starts in real mode at `vector << 12`.
    Startup(u8),
    /// SMI, reserved modes, INIT de-assert: nothing.
    None,
}

/// What an IPI's destination is matched against at one APIC: its id, and
/// its LDR and DFR (logical mode), in xAPIC or x2APIC mode.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ApicAddress {
    pub id: u32,
    pub ldr: u32,
    pub dfr: u32,
    pub x2apic: bool,
}

impl ApicAddress {
    /// Whether `dest` (in the addressing mode `logical`) names this APIC.
    pub fn matches(&self, dest: u32, logical: bool) -> bool {
        if self.x2apic {
            if logical {
                return self.ldr >> 16 == dest >> 16 && self.ldr & dest & 0xffff != 0;
            }
            return dest == self.id || dest == u32::MAX;
        }
        let dest = dest & 0xff;
        if !logical {
            return dest == self.id & 0xff || dest == 0xff;
        }
        let id = self.ldr >> 24;
        match self.dfr >> 28 {
            // Flat model: a bitmap of eight APICs.
            0xf => id & dest != 0,
            // Cluster model: cluster in bits 7:4, members in 3:0.
            0x0 => id >> 4 == dest >> 4 && id & dest & 0xf != 0,
            _ => false,
        }
    }

    /// The logical part (LDR, DFR model, mode) in one word, for a vCPU to
    /// publish where the others' loops read it; [`ApicAddress::unpack`]
    /// adds the id back.
    pub fn pack(&self) -> u64 {
        u64::from(self.ldr) | u64::from(self.dfr >> 28) << 32 | u64::from(self.x2apic) << 36
    }

    pub fn unpack(id: u32, word: u64) -> ApicAddress {
        ApicAddress { id, ldr: crate::bits::low32(word), dfr: (crate::bits::low32(word >> 32) & 0xf) << 28 | 0x0fff_ffff, x2apic: word & (1 << 36) != 0 }
    }
}

/// What the APIC asks of its vCPU loop beyond an interrupt vector.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Requests {
    /// An NMI for this vCPU (ICR delivery mode NMI to itself).
    pub nmi: bool,
    /// INIT addressed to itself.
    pub init: bool,
    /// A start-up IPI addressed to itself: its vector (start page).
    pub sipi: Option<u8>,
    /// An IPI that may reach other vCPUs (each ICR write is an exit of its
    /// own, and the loop takes it before the next entry).
    pub remote: Option<RemoteIpi>,
}

/// 256 bits, one per vector, as the eight 32-bit registers hold them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Vectors([u32; 8]);

impl Vectors {
    fn set(&mut self, v: u8) {
        self.0[usize::from(v >> 5)] |= 1 << (v & 31);
    }
    fn clear(&mut self, v: u8) {
        self.0[usize::from(v >> 5)] &= !(1 << (v & 31));
    }
    fn test(&self, v: u8) -> bool {
        self.0[usize::from(v >> 5)] & (1 << (v & 31)) != 0
    }
    fn highest(&self) -> Option<u8> {
        (0u8..8).rev().find_map(|i| {
            let word = self.0[usize::from(i)];
            // 31 - leading_zeros is below 32 for a non-zero word.
            (word != 0).then(|| i * 32 + crate::bits::low8(u64::from(31 - word.leading_zeros())))
        })
    }
}

/// The timer's counting state in one-shot and periodic modes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Countdown {
    /// Counting (TMICT written non-zero, not yet expired in one-shot mode).
    running: bool,
    /// When the current period began (ns).
    start: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Vlapic {
    id: u32,
    features: Features,
    apic_base: u64,
    tpr: u32,
    ldr: u32,
    dfr: u32,
    svr: u32,
    /// ESR as the guest reads it, and the errors since its last write.
    esr: u32,
    esr_pending: u32,
    isr: Vectors,
    irr: Vectors,
    tmr: Vectors,
    icr: u32,
    icr2: u32,
    /// Timer, thermal, performance, LINT0, LINT1, error.
    lvt: [u32; 6],
    cmci: u32,
    tmict: u32,
    tdcr: u32,
    countdown: Countdown,
    tsc_deadline: u64,
    requests: Requests,
}

impl Vlapic {
    /// The APIC of vCPU `vcpu_id` at reset: xAPIC mode at the default base,
    /// software-disabled; vCPU 0 is the bootstrap processor.
    pub fn new(vcpu_id: u32, features: Features) -> Vlapic {
        let bsp = if vcpu_id == 0 { BASE_BSP } else { 0 };
        let mut v = Vlapic {
            id: vcpu_id,
            features,
            apic_base: DEFAULT_BASE | BASE_EN | bsp,
            tpr: 0,
            ldr: 0,
            dfr: 0,
            svr: 0,
            esr: 0,
            esr_pending: 0,
            isr: Vectors::default(),
            irr: Vectors::default(),
            tmr: Vectors::default(),
            icr: 0,
            icr2: 0,
            lvt: [0; 6],
            cmci: 0,
            tmict: 0,
            tdcr: 0,
            countdown: Countdown::default(),
            tsc_deadline: 0,
            requests: Requests::default(),
        };
        v.init();
        v
    }

    /// The INIT state (Xen's `vlapic_do_init`); the x2APIC LDR survives it.
    fn init(&mut self) {
        self.isr = Vectors::default();
        self.irr = Vectors::default();
        self.tmr = Vectors::default();
        self.icr = 0;
        self.icr2 = 0;
        if !self.x2apic_mode() {
            self.ldr = 0;
        }
        self.tpr = 0;
        self.tmict = 0;
        self.tdcr = 0;
        self.countdown = Countdown::default();
        self.tsc_deadline = 0;
        self.dfr = 0xffff_ffff;
        self.lvt = [LVT_MASKED; 6];
        self.cmci = LVT_MASKED;
        self.svr = 0xff;
        self.esr = 0;
        self.esr_pending = 0;
    }

    pub fn id(&self) -> u32 {
        self.id
    }

    /// IA32_APIC_BASE.EN.
    pub fn hw_enabled(&self) -> bool {
        self.apic_base & BASE_EN != 0
    }

    /// Enabled in IA32_APIC_BASE and in SVR: it takes interrupts.
    pub fn enabled(&self) -> bool {
        self.hw_enabled() && self.svr & SVR_ENABLE != 0
    }

    pub fn x2apic_mode(&self) -> bool {
        self.apic_base & (BASE_EN | BASE_EXTD) == BASE_EN | BASE_EXTD
    }

    /// Where its xAPIC page is, if it answers there (enabled, xAPIC mode).
    pub fn mmio_base(&self) -> Option<u64> {
        (self.hw_enabled() && !self.x2apic_mode()).then_some(self.apic_base & BASE_ADDR)
    }

    pub fn apic_base(&self) -> u64 {
        self.apic_base
    }

    /// WRMSR IA32_APIC_BASE: reserved bits, EXTD without x2APIC in CPUID,
    /// and the transitions SDM 11.12.5 forbids (to EXTD without EN, x2APIC
    /// to xAPIC, disabled to x2APIC) #GP. BSP is the hardware's and stays.
    /// Enabling resets the APIC (Xen's `vlapic_reset`); entering x2APIC
    /// mode derives the LDR from the ID.
    pub fn write_apic_base(&mut self, value: u64) -> Result<(), Gp> {
        let extd = if self.features.x2apic { BASE_EXTD } else { 0 };
        if value & !(BASE_ADDR | BASE_EN | BASE_BSP | extd) != 0 {
            return Err(Gp);
        }
        let mode = |v: u64| (v & BASE_EN != 0, v & BASE_EXTD != 0);
        match (mode(self.apic_base), mode(value)) {
            (_, (false, true)) => return Err(Gp),
            ((true, true), (true, false)) | ((false, _), (true, true)) => return Err(Gp),
            _ => {}
        }
        let was_enabled = self.hw_enabled();
        let was_x2apic = self.x2apic_mode();
        self.apic_base = (value & !BASE_BSP) | (self.apic_base & BASE_BSP);
        if !was_enabled && self.hw_enabled() {
            self.init();
        }
        if !self.hw_enabled() {
            self.countdown = Countdown::default();
            self.tsc_deadline = 0;
        }
        if self.x2apic_mode() && !was_x2apic {
            self.ldr = ((self.id & !0xf) << 12) | (1 << (self.id & 0xf));
        }
        Ok(())
    }

    /// The register at `offset` (16-byte aligned) as a 32-bit read sees it.
    fn read_reg(&self, offset: u32, now: Clock) -> u32 {
        let index = |base: u32| ((offset - base) >> 4) as usize;
        match offset {
            reg::ID if self.x2apic_mode() => self.id,
            reg::ID => self.id << 24,
            reg::LVR => VERSION,
            reg::TPR => self.tpr,
            reg::APR => self.apr(),
            reg::PPR => self.ppr(),
            reg::LDR => self.ldr,
            reg::DFR => self.dfr,
            reg::SVR => self.svr,
            0x100..=0x170 => self.isr.0[index(reg::ISR)],
            0x180..=0x1f0 => self.tmr.0[index(reg::TMR)],
            0x200..=0x270 => self.irr.0[index(reg::IRR)],
            reg::ESR => self.esr,
            reg::CMCI => self.cmci,
            reg::ICR => self.icr,
            reg::ICR2 => self.icr2,
            0x320..=0x370 => self.lvt[index(reg::LVTT)],
            reg::TMICT if self.timer_mode() == TimerMode::TscDeadline => 0,
            reg::TMICT => self.tmict,
            reg::TMCCT => self.current_count(now.ns),
            reg::TDCR => self.tdcr,
            _ => 0,
        }
    }

    /// A read of `len` bytes (1, 2, 4 or 8) at `offset` in the xAPIC page:
    /// as Xen, any access inside one 32-bit register reads it, anything
    /// else reads 0.
    pub fn mmio_read(&self, offset: u64, len: usize, now: Clock) -> u64 {
        let within = offset & 0xf;
        if within + len as u64 > 4 || offset > u64::from(reg::TDCR) + 3 {
            return 0;
        }
        let value = self.read_reg(crate::bits::low32(offset & !0xf), now);
        let shifted = value >> (within * 8);
        match len {
            1 => u64::from(shifted & 0xff),
            2 => u64::from(shifted & 0xffff),
            _ => u64::from(shifted),
        }
    }

    /// A write of `len` bytes at `offset` in the xAPIC page: a partial
    /// write merges into the register (Xen's `vlapic_mmio_write`);
    /// accesses that straddle registers are dropped.
    pub fn mmio_write(&mut self, offset: u64, len: usize, value: u64, now: Clock) {
        let within = offset & 0xf;
        if within + len as u64 > 4 || offset > u64::from(reg::TDCR) {
            return;
        }
        let offset = crate::bits::low32(offset & !0xf);
        let value = crate::bits::low32(value);
        let value = if len < 4 {
            let shift = within * 8;
            let mask = if len == 1 { 0xffu32 } else { 0xffff } << shift;
            (self.read_reg(offset, now) & !mask) | ((value << shift) & mask)
        } else {
            value
        };
        match offset {
            // The ID is the vCPU id everywhere (MADT, CPUID): not writable.
            reg::ID => {}
            reg::LDR => self.ldr = value & 0xff00_0000,
            reg::DFR => self.dfr = value | 0x0fff_ffff,
            reg::ICR => self.write_icr(value, self.icr2 >> 24),
            reg::ICR2 => self.icr2 = value & 0xff00_0000,
            _ => self.write_common(offset, value, now),
        }
    }

    /// Writes that mean the same in both modes.
    fn write_common(&mut self, offset: u32, value: u32, now: Clock) {
        match offset {
            reg::TPR => self.tpr = value & 0xff,
            reg::EOI => {
                self.eoi();
            }
            reg::SVR => {
                self.svr = value & SVR_WRITABLE;
                if value & SVR_ENABLE == 0 {
                    for lvt in &mut self.lvt {
                        *lvt |= LVT_MASKED;
                    }
                }
            }
            reg::ESR => self.esr = core::mem::take(&mut self.esr_pending),
            0x320..=0x370 => self.write_lvt(((offset - reg::LVTT) >> 4) as usize, value),
            reg::CMCI => self.cmci = value & (LVT_MASK | LVT_MODE),
            reg::TMICT => {
                if self.timer_mode() == TimerMode::TscDeadline {
                    return;
                }
                self.tmict = value;
                self.countdown = Countdown { running: value != 0, start: now.ns };
            }
            reg::TDCR => {
                let count = self.current_count(now.ns);
                self.tdcr = value & TDCR_WRITABLE;
                // The count carries on from where it is at the new rate.
                if self.countdown.running {
                    let done = u64::from(self.tmict - count.min(self.tmict));
                    self.countdown.start = now.ns.saturating_sub(done * self.cycle_ns());
                }
            }
            _ => {}
        }
    }

    fn write_lvt(&mut self, i: usize, value: u32) {
        let mut value = value & LVT_WRITABLE[i];
        if self.svr & SVR_ENABLE == 0 {
            value |= LVT_MASKED;
        }
        if i == 0 {
            let old = self.timer_mode();
            self.lvt[0] = value;
            let new = self.timer_mode();
            // Into or out of TSC-deadline mode: both counts stop (SDM 11.5.4.1).
            if (old == TimerMode::TscDeadline) != (new == TimerMode::TscDeadline) {
                self.tmict = 0;
                self.countdown = Countdown::default();
                self.tsc_deadline = 0;
            }
        } else {
            self.lvt[i] = value;
        }
    }

    /// RDMSR of an x2APIC register: #GP outside x2APIC mode and for the
    /// registers that are not readable (Xen's `guest_rdmsr_x2apic`).
    pub fn read_msr(&self, msr: u32, now: Clock) -> Result<u64, Gp> {
        if !self.x2apic_mode() || !(MSR_X2APIC_FIRST..=MSR_X2APIC_LAST).contains(&msr) {
            return Err(Gp);
        }
        let offset = (msr - MSR_X2APIC_FIRST) << 4;
        let readable = matches!(
            offset,
            reg::ID
                | reg::LVR
                | reg::TPR
                | reg::PPR
                | reg::LDR
                | reg::SVR
                | 0x100..=0x270
                | reg::ESR
                | reg::CMCI
                | reg::ICR
                | 0x320..=0x390
                | reg::TDCR
        );
        if !readable {
            return Err(Gp);
        }
        let high = if offset == reg::ICR { u64::from(self.icr2) << 32 } else { 0 };
        Ok(high | u64::from(self.read_reg(offset, now)))
    }

    /// WRMSR of an x2APIC register: #GP outside x2APIC mode, for read-only
    /// and absent registers, reserved bits (bits 63:32 but for the ICR),
    /// and a non-zero write to EOI or ESR (Xen's `guest_wrmsr_x2apic`).
    pub fn write_msr(&mut self, msr: u32, value: u64, now: Clock) -> Result<(), Gp> {
        if !self.x2apic_mode() || !(MSR_X2APIC_FIRST..=MSR_X2APIC_LAST).contains(&msr) {
            return Err(Gp);
        }
        let offset = (msr - MSR_X2APIC_FIRST) << 4;
        let low = crate::bits::low32(value);
        if offset != reg::ICR && value >> 32 != 0 {
            return Err(Gp);
        }
        let allowed = match offset {
            reg::TPR => 0xff,
            reg::SVR => SVR_WRITABLE,
            reg::LVTT => LVT_WRITABLE[0],
            reg::LVTTHMR | reg::LVTPC | reg::CMCI => LVT_MASK | LVT_MODE,
            reg::LVT0 | reg::LVT1 => LINT_MASK,
            reg::LVTERR => LVT_MASK,
            reg::TMICT => u32::MAX,
            reg::TDCR => TDCR_WRITABLE,
            reg::ICR => ICR_X2APIC_WRITABLE,
            reg::SELF_IPI => 0xff,
            reg::EOI | reg::ESR => 0,
            _ => return Err(Gp),
        };
        if low & !allowed != 0 {
            return Err(Gp);
        }
        match offset {
            reg::ICR => {
                self.icr2 = (value >> 32) as u32;
                self.write_icr(low, self.icr2);
            }
            // SDM 11.12.11: a self IPI is a fixed, edge IPI to itself.
            reg::SELF_IPI => self.write_icr(low | (1 << ICR_SHORTHAND_SHIFT), 0),
            _ => self.write_common(offset, low, now),
        }
        Ok(())
    }

    /// RDMSR IA32_TSC_DEADLINE: #GP without the CPUID bit; 0 outside
    /// TSC-deadline mode (Xen's `vlapic_tdt_msr_get`).
    pub fn read_tsc_deadline(&self) -> Result<u64, Gp> {
        if !self.features.tsc_deadline {
            return Err(Gp);
        }
        Ok(if self.timer_mode() == TimerMode::TscDeadline { self.tsc_deadline } else { 0 })
    }

    /// WRMSR IA32_TSC_DEADLINE: arms (0 disarms) the deadline in TSC-deadline
    /// mode, ignored otherwise or with the APIC disabled (SDM 11.5.4.1).
    pub fn write_tsc_deadline(&mut self, value: u64) -> Result<(), Gp> {
        if !self.features.tsc_deadline {
            return Err(Gp);
        }
        if self.hw_enabled() && self.timer_mode() == TimerMode::TscDeadline {
            self.tsc_deadline = value;
        }
        Ok(())
    }

    fn timer_mode(&self) -> TimerMode {
        match self.lvt[0] & LVT_TIMER_MODE {
            0 => TimerMode::OneShot,
            TIMER_PERIODIC => TimerMode::Periodic,
            TIMER_TSC_DEADLINE => TimerMode::TscDeadline,
            _ => TimerMode::Reserved,
        }
    }

    /// Nanoseconds per timer tick: the bus cycle times TDCR's divisor
    /// (bits 0, 1, 3: 0b000 = 2, ..., 0b011 = 16, 0b1011 = 1).
    fn cycle_ns(&self) -> u64 {
        let code = (self.tdcr & 3) | ((self.tdcr & 8) >> 1);
        BUS_CYCLE_NS << ((code + 1) & 7)
    }

    fn period_ns(&self) -> u64 {
        u64::from(self.tmict) * self.cycle_ns()
    }

    /// TMCCT at `now`: counts down from TMICT, 0 once a one-shot count ran
    /// out, reloading in periodic mode.
    fn current_count(&self, now: u64) -> u32 {
        let mode = self.timer_mode();
        if !self.countdown.running || !matches!(mode, TimerMode::OneShot | TimerMode::Periodic) {
            return 0;
        }
        let mut ticks = now.saturating_sub(self.countdown.start) / self.cycle_ns();
        if mode == TimerMode::Periodic {
            ticks %= u64::from(self.tmict);
        }
        u32::try_from(u64::from(self.tmict).saturating_sub(ticks)).unwrap_or(0)
    }

    /// Fires the timer if it expired by `now`: its LVT vector enters the
    /// IRR unless masked (a masked timer still counts). One tick for any
    /// number of periods missed. True if it fired.
    pub fn tick(&mut self, now: Clock) -> bool {
        if !self.hw_enabled() {
            return false;
        }
        let fired = match self.timer_mode() {
            TimerMode::TscDeadline => {
                let due = self.tsc_deadline != 0 && now.tsc >= self.tsc_deadline;
                if due {
                    self.tsc_deadline = 0;
                }
                due
            }
            mode @ (TimerMode::OneShot | TimerMode::Periodic) if self.countdown.running => {
                let period = self.period_ns();
                let due = now.ns >= self.countdown.start.saturating_add(period);
                if due && mode == TimerMode::Periodic {
                    let missed = (now.ns - self.countdown.start) / period;
                    self.countdown.start += missed * period;
                } else if due {
                    self.countdown.running = false;
                }
                due
            }
            _ => false,
        };
        if fired && self.lvt[0] & LVT_MASKED == 0 {
            self.set_irq(crate::bits::low8(u64::from(self.lvt[0])), false);
        }
        fired
    }

    /// When the timer fires next, in ns (one-shot and periodic modes), or
    /// as a TSC value (TSC-deadline mode): (ns, tsc).
    pub fn next_deadline(&self) -> (Option<u64>, Option<u64>) {
        // A hardware-disabled APIC's timer does not fire (`tick`).
        if !self.hw_enabled() {
            return (None, None);
        }
        match self.timer_mode() {
            TimerMode::TscDeadline if self.tsc_deadline != 0 => (None, Some(self.tsc_deadline)),
            TimerMode::OneShot | TimerMode::Periodic if self.countdown.running => {
                (Some(self.countdown.start.saturating_add(self.period_ns())), None)
            }
            _ => (None, None),
        }
    }

    /// An interrupt arrives at `vector` (edge, or level for the TMR).
    /// Vectors 0-15 are illegal: a receive error instead (SDM 11.5.3).
    /// It waits in the IRR even while the APIC is software-disabled.
    pub fn set_irq(&mut self, vector: u8, level: bool) {
        if vector < 16 {
            self.error(ESR_RECEIVE_ILLEGAL_VECTOR);
            return;
        }
        if level {
            self.tmr.set(vector);
        } else {
            self.tmr.clear(vector);
        }
        self.irr.set(vector);
    }

    /// Whether `vector` waits in the IRR.
    pub fn irr_has(&self, vector: u8) -> bool {
        self.irr.test(vector)
    }

    /// Whether `vector` is in service (taken, not yet EOI'd).
    pub fn isr_has(&self, vector: u8) -> bool {
        self.isr.test(vector)
    }

    /// Records an error; an unmasked LVT error entry raises its vector
    /// once per new error bit (Xen's `vlapic_error`). An illegal LVT error
    /// vector only adds the receive error, no loop.
    fn error(&mut self, bit: u32) {
        if self.esr_pending & bit == bit {
            return;
        }
        self.esr_pending |= bit;
        let lvterr = self.lvt[5];
        if lvterr & LVT_MASKED == 0 {
            let vector = crate::bits::low8(u64::from(lvterr));
            if vector >= 16 {
                self.tmr.clear(vector);
                self.irr.set(vector);
            } else {
                self.esr_pending |= ESR_RECEIVE_ILLEGAL_VECTOR;
            }
        }
    }

    /// PPR: TPR if its class is at least the highest in-service class,
    /// else that class (SDM 11.8.3.1).
    pub fn ppr(&self) -> u32 {
        let isrv = u32::from(self.isr.highest().unwrap_or(0));
        if self.tpr & 0xf0 >= isrv & 0xf0 { self.tpr & 0xff } else { isrv & 0xf0 }
    }

    /// APR as the P6-family description in the SDM (11.6.2.4 of older
    /// editions): TPR when it outranks every request and service, else the
    /// highest of those classes.
    fn apr(&self) -> u32 {
        let irrv = u32::from(self.irr.highest().unwrap_or(0)) & 0xf0;
        let isrv = u32::from(self.isr.highest().unwrap_or(0)) & 0xf0;
        let tpr = self.tpr & 0xff;
        if tpr & 0xf0 >= irrv && tpr & 0xf0 > isrv { tpr } else { (tpr & 0xf0 & isrv).max(irrv) }
    }

    /// The vector the CPU would take next: the highest in the IRR whose
    /// class is above PPR's, with the APIC enabled (Xen's
    /// `vlapic_has_pending_irq`).
    pub fn pending(&self) -> Option<u8> {
        if !self.enabled() {
            return None;
        }
        let vector = self.irr.highest()?;
        (u32::from(vector) & 0xf0 > self.ppr() & 0xf0).then_some(vector)
    }

    /// The CPU takes `vector`: from the IRR into service.
    pub fn ack(&mut self, vector: u8) {
        self.irr.clear(vector);
        self.isr.set(vector);
    }

    /// EOI: the highest in-service vector leaves service; returns it (a
    /// spurious EOI with nothing in service does nothing).
    pub fn eoi(&mut self) -> Option<u8> {
        let vector = self.isr.highest()?;
        self.isr.clear(vector);
        Some(vector)
    }

    /// Takes what the APIC asked of the vCPU loop since the last call.
    pub fn take_requests(&mut self) -> Requests {
        core::mem::take(&mut self.requests)
    }

    /// What a destination is matched against: its id, LDR, DFR and mode.
    pub fn address(&self) -> ApicAddress {
        ApicAddress { id: self.id, ldr: self.ldr, dfr: self.dfr, x2apic: self.x2apic_mode() }
    }

    /// Whether `dest` (in the addressing mode `logical`) names this APIC.
    fn addressed(&self, dest: u32, logical: bool) -> bool {
        self.address().matches(dest, logical)
    }

    /// Sends the IPI that an ICR write describes (SDM 11.6.1): to this APIC
    /// as its shorthand or destination says; anything that may reach other
    /// vCPUs is recorded for the loop.
    fn write_icr(&mut self, low: u32, dest: u32) {
        // Delivery status (bit 12) always reads idle: the send is instant.
        self.icr = low & !(1 << 12);
        let vector = crate::bits::low8(u64::from(low));
        let mode = (low >> ICR_MODE_SHIFT) & 7;
        let logical = low & ICR_LOGICAL != 0;
        let (to_self, to_others) = match (low >> ICR_SHORTHAND_SHIFT) & 3 {
            0 => {
                let me = self.addressed(dest, logical);
                let only_me = !logical && me && dest != 0xff && dest != u32::MAX;
                (me, !only_me)
            }
            1 => (true, false),
            2 => (true, true),
            _ => (false, true),
        };
        // Fixed and lowest priority need a legal vector (Xen: a send error).
        if matches!(mode, 0 | 1) && vector < 16 {
            self.error(ESR_SEND_ILLEGAL_VECTOR);
            return;
        }
        if to_others {
            self.requests.remote = Some(RemoteIpi { icr: low, dest });
        }
        if !to_self {
            return;
        }
        match mode {
            0 | 1 => self.set_irq(vector, low & ICR_LEVEL != 0),
            4 => self.requests.nmi = true,
            // INIT level de-assert does nothing (Xen, SDM 11.6.1).
            5 if low & (ICR_LEVEL | ICR_ASSERT) == ICR_LEVEL => {}
            5 => self.requests.init = true,
            6 => self.requests.sipi = Some(vector),
            // SMI and the reserved modes: ignored, as Xen ignores guest SMIs.
            _ => {}
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TimerMode {
    OneShot,
    Periodic,
    TscDeadline,
    Reserved,
}

#[cfg(test)]
mod tests;
