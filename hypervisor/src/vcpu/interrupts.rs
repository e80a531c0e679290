//! Interrupts for one vCPU: its local APIC (`dev::vlapic`), event-channel
//! upcalls, and getting a vector into the guest when its RFLAGS.IF and
//! interrupt shadow allow.
//!
//! Upcalls as Xen 4.17 delivers them (xen/arch/x86/hvm/irq.c):
//! - `hvm_assert_evtchn_irq`: a vCPU with its own vector
//!   (HVMOP_set_evtchn_upcall_vector) gets it set in its vLAPIC's IRR
//!   (`vlapic_set_irq`, edge): it is taken like any APIC interrupt, by
//!   priority against PPR, and needs the guest's EOI before the next at
//!   that vector can be taken. Xen sets it only while the vLAPIC is
//!   enabled and sets it again when SVR enables it with the upcall still
//!   pending; here the IRR holds it while the APIC is disabled, which
//!   delivers the same once it is enabled.
//! - otherwise, with HVM_PARAM_CALLBACK_IRQ of type 2 (vector, bits
//!   63:56), Xen only kicks the vCPU: `hvm_vcpu_has_pending_irq` offers
//!   the callback vector, before any vLAPIC vector and whatever TPR/PPR
//!   say, at every entry while that vCPU's `evtchn_upcall_pending` is set
//!   (`hvm_intack_vector`); acknowledging it touches no IRR/ISR, so no
//!   EOI follows. It is a level: [`Interrupts::callback`] says it may be
//!   asserted, and each offer reads the flag from the vcpu_info again.
//! - the other callback types (GSI, PCI INTx) need an IOAPIC/PIC, which
//!   this hypervisor does not emulate: such events wait in shared info.
//!
//! Injection is Xen's too: the highest deliverable vector is queued for
//! the next entry when the guest can take it (acknowledged into the ISR
//! then); otherwise the backend is asked for an interrupt-window exit
//! (VMX interrupt-window exiting, SVM an intercepted V_IRQ).

#![forbid(unsafe_code)]

use crate::arch::x86_64::virt::vcpu::HwVcpu;
use crate::dev::vlapic::{self, Clock, Features, Gp, Vlapic};
use crate::domain::object::Domain;

/// Where `vcpu`'s upcall goes, as `hvm_assert_evtchn_irq` decides.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UpcallRoute {
    /// Its own vector, through the vLAPIC.
    Lapic(u8),
    /// The domain's HVM_PARAM_CALLBACK_IRQ vector.
    Callback(u8),
    /// No vector: the guest looks at shared info itself.
    None,
}

pub fn upcall_route(d: &Domain, vcpu: u32) -> UpcallRoute {
    let own = d.vcpus.get(vcpu as usize).map_or(0, |v| v.upcall_vector);
    if own != 0 {
        return UpcallRoute::Lapic(own);
    }
    d.upcall_vector(vcpu).map_or(UpcallRoute::None, UpcallRoute::Callback)
}

/// What the vCPU loop keeps for interrupts.
pub struct Interrupts {
    pub vlapic: Vlapic,
    /// The global callback vector may be asserted (an upcall came while
    /// it was the route); cleared once the guest's flag reads clear.
    pub callback: bool,
}

/// What to put into the guest next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Offer {
    /// The callback vector: no vLAPIC state changes.
    Callback(u8),
    /// A vLAPIC vector: into the ISR when injected.
    Lapic(u8),
}

impl Interrupts {
    /// The interrupts of vCPU `vcpu_id`, whose CPUID leaf 1 ECX is `ecx1`
    /// (x2APIC bit 21 and TSC-deadline bit 24 gate the MSRs).
    pub fn new(vcpu_id: u32, ecx1: u32) -> Interrupts {
        let features = Features { x2apic: ecx1 & (1 << 21) != 0, tsc_deadline: ecx1 & (1 << 24) != 0 };
        Interrupts { vlapic: Vlapic::new(vcpu_id, features), callback: false }
    }

    /// An upcall became owed: route it.
    pub fn raise_upcall(&mut self, route: UpcallRoute) {
        match route {
            UpcallRoute::Lapic(v) => self.vlapic.set_irq(v, false),
            UpcallRoute::Callback(_) => self.callback = true,
            UpcallRoute::None => {}
        }
    }

    /// The next interrupt to offer: the callback vector while it is
    /// asserted (`callback_level` reads the guest's flag and the current
    /// route, only when it may be), then the vLAPIC's.
    pub fn next(&mut self, callback_level: impl FnOnce() -> Option<u8>) -> Option<Offer> {
        if self.callback {
            match callback_level() {
                Some(v) => return Some(Offer::Callback(v)),
                None => self.callback = false,
            }
        }
        self.vlapic.pending().map(Offer::Lapic)
    }

    /// The offer went into the guest.
    pub fn injected(&mut self, offer: Offer) {
        if let Offer::Lapic(v) = offer {
            self.vlapic.ack(v);
        }
    }

    /// Something the guest would take wakes it from HLT (with RFLAGS.IF
    /// set: a `cli; hlt` sleeps through maskable interrupts).
    pub fn wakes_halt(&self, rflags: u64) -> bool {
        const RFLAGS_IF: u64 = 1 << 9;
        rflags & RFLAGS_IF != 0 && (self.callback || self.vlapic.pending().is_some())
    }

    /// RDMSR of an MSR the vLAPIC owns; None for any other MSR.
    pub fn read_msr(&self, index: u32, now: Clock) -> Option<Result<u64, Gp>> {
        match index {
            vlapic::MSR_APIC_BASE => Some(Ok(self.vlapic.apic_base())),
            vlapic::MSR_TSC_DEADLINE => Some(self.vlapic.read_tsc_deadline()),
            vlapic::MSR_X2APIC_FIRST..=vlapic::MSR_X2APIC_LAST => Some(self.vlapic.read_msr(index, now)),
            _ => None,
        }
    }

    /// WRMSR of an MSR the vLAPIC owns; None for any other MSR.
    pub fn write_msr(&mut self, index: u32, value: u64, now: Clock) -> Option<Result<(), Gp>> {
        match index {
            vlapic::MSR_APIC_BASE => Some(self.vlapic.write_apic_base(value)),
            vlapic::MSR_TSC_DEADLINE => Some(self.vlapic.write_tsc_deadline(value)),
            vlapic::MSR_X2APIC_FIRST..=vlapic::MSR_X2APIC_LAST => Some(self.vlapic.write_msr(index, value, now)),
            _ => None,
        }
    }
}

/// Puts the next interrupt into the guest, or asks for the exit at its
/// interrupt window; nothing while another event is queued for the entry
/// (an exception, or an interrupt whose delivery an exit cut short).
pub fn deliver(vcpu: &mut HwVcpu, ints: &mut Interrupts, callback_level: impl FnOnce() -> Option<u8>) {
    if vcpu.event_queued() {
        return;
    }
    let Some(offer) = ints.next(callback_level) else {
        vcpu.set_interrupt_window(false);
        return;
    };
    if vcpu.interrupt_ready() {
        let vector = match offer {
            Offer::Callback(v) | Offer::Lapic(v) => v,
        };
        vcpu.inject_interrupt(vector);
        ints.injected(offer);
        vcpu.set_interrupt_window(false);
    } else {
        vcpu.set_interrupt_window(true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enabled() -> Interrupts {
        let mut i = Interrupts::new(0, 1 << 21);
        i.vlapic.mmio_write(0xf0, 4, 0x1ff, Clock::default());
        i
    }

    #[test]
    fn the_per_vcpu_vector_needs_an_eoi_before_it_comes_again() {
        let mut i = enabled();
        i.raise_upcall(UpcallRoute::Lapic(0xf3));
        let offer = i.next(|| None);
        assert_eq!(offer, Some(Offer::Lapic(0xf3)));
        i.injected(offer.unwrap());
        i.raise_upcall(UpcallRoute::Lapic(0xf3));
        assert_eq!(i.next(|| None), None, "in service: same class blocked");
        i.vlapic.eoi();
        assert_eq!(i.next(|| None), Some(Offer::Lapic(0xf3)));
    }

    #[test]
    fn the_callback_vector_is_a_level_without_eoi_and_ahead_of_the_lapic() {
        let mut i = enabled();
        i.vlapic.set_irq(0x40, false);
        i.raise_upcall(UpcallRoute::Callback(0xf0));
        let offer = i.next(|| Some(0xf0));
        assert_eq!(offer, Some(Offer::Callback(0xf0)));
        i.injected(offer.unwrap());
        assert!(!i.vlapic.isr_has(0xf0), "no ISR bit: no EOI");
        i.vlapic.mmio_write(0x80, 4, 0xff, Clock::default());
        assert_eq!(i.next(|| Some(0xf0)), Some(Offer::Callback(0xf0)), "again while pending, whatever TPR says");
        assert_eq!(i.next(|| None), None, "cleared: deasserted; TPR 0xff holds 0x40");
        assert!(!i.callback);
        i.vlapic.mmio_write(0x80, 4, 0, Clock::default());
        assert_eq!(i.next(|| panic!("not asserted: the flag is not read")), Some(Offer::Lapic(0x40)));
    }

    #[test]
    fn halt_wakes_only_with_interrupts_on() {
        let mut i = enabled();
        i.vlapic.set_irq(0x50, false);
        assert!(i.wakes_halt(1 << 9));
        assert!(!i.wakes_halt(0));
    }

    #[test]
    fn apic_msrs_are_claimed_and_others_left_alone() {
        let mut i = enabled();
        let now = Clock::default();
        assert_eq!(i.read_msr(0x1b, now), Some(Ok(0xfee0_0900)));
        assert_eq!(i.read_msr(0x803, now), Some(Err(Gp)), "xAPIC mode");
        assert_eq!(i.read_msr(0x10, now), None);
        assert_eq!(i.write_msr(0x1b, 0xfee0_0c00, now), Some(Ok(())));
        assert_eq!(i.read_msr(0x803, now), Some(Ok(0x0005_0014)));
        assert_eq!(i.read_msr(0x6e0, now), Some(Err(Gp)), "no TSC-deadline in this CPUID");
        assert_eq!(i.write_msr(0xc000_0080, 0, now), None);
    }
}
