//! The model against the SDM's and Xen 4.17's register semantics.

use super::*;

const ALL: Features = Features { x2apic: true, tsc_deadline: true };
const T0: Clock = Clock { ns: 1_000_000, tsc: 5_000 };

fn at(ns: u64) -> Clock {
    Clock { ns, tsc: 0 }
}

/// An APIC software-enabled with spurious vector 0xff, in xAPIC mode.
fn enabled(id: u32) -> Vlapic {
    let mut v = Vlapic::new(id, ALL);
    v.mmio_write(u64::from(reg::SVR), 4, 0x1ff, T0);
    v
}

fn read(v: &Vlapic, offset: u32) -> u32 {
    crate::bits::low32(v.mmio_read(u64::from(offset), 4, T0))
}

fn write(v: &mut Vlapic, offset: u32, value: u32) {
    v.mmio_write(u64::from(offset), 4, u64::from(value), T0);
}

fn x2apic(id: u32) -> Vlapic {
    let mut v = enabled(id);
    v.write_apic_base(DEFAULT_BASE | BASE_EN | BASE_EXTD).unwrap();
    v
}

#[test]
fn reset_state_is_xens() {
    let v = Vlapic::new(0, ALL);
    assert_eq!(v.apic_base(), 0xfee0_0900, "enabled, BSP, default base");
    assert_eq!(Vlapic::new(1, ALL).apic_base(), 0xfee0_0800, "vCPU 1 is no BSP");
    assert_eq!(read(&v, reg::LVR), 0x0005_0014);
    assert_eq!(read(&v, reg::SVR), 0xff, "software-disabled");
    assert_eq!(read(&v, reg::DFR), 0xffff_ffff);
    for lvt in [reg::LVTT, reg::LVTTHMR, reg::LVTPC, reg::LVT0, reg::LVT1, reg::LVTERR] {
        assert_eq!(read(&v, lvt), 1 << 16, "LVT {lvt:#x} masked");
    }
    assert!(!v.enabled() && v.hw_enabled());
    assert_eq!(v.mmio_base(), Some(DEFAULT_BASE));
}

#[test]
fn id_is_the_vcpu_id_in_both_modes() {
    let v = enabled(3);
    assert_eq!(read(&v, reg::ID), 3 << 24);
    let mut v = x2apic(0x23);
    assert_eq!(v.read_msr(0x802, T0), Ok(0x23));
    // Cluster 2, bit 3 (SDM 11.12.10.2).
    assert_eq!(v.read_msr(0x80d, T0), Ok((2 << 16) | (1 << 3)));
    assert_eq!(v.write_msr(0x802, 5, T0), Err(Gp), "the x2APIC ID is read-only");
    assert_eq!(v.write_msr(0x80d, 5, T0), Err(Gp), "the x2APIC LDR is read-only");
    let mut x = enabled(3);
    write(&mut x, reg::ID, 7 << 24);
    assert_eq!(read(&x, reg::ID), 3 << 24, "the xAPIC ID stays the vCPU id");
}

#[test]
fn narrow_reads_and_writes_stay_inside_one_register() {
    let mut v = enabled(0);
    write(&mut v, reg::TPR, 0x45);
    assert_eq!(v.mmio_read(u64::from(reg::TPR), 1, T0), 0x45);
    assert_eq!(v.mmio_read(u64::from(reg::LVR) + 2, 2, T0), 0x5, "max LVT entry");
    assert_eq!(v.mmio_read(u64::from(reg::LVR) + 3, 2, T0), 0, "straddles the register: 0");
    assert_eq!(v.mmio_read(u64::from(reg::LVR), 8, T0), 0, "8 bytes are not one register");
    v.mmio_write(u64::from(reg::TPR), 1, 0x20, T0);
    assert_eq!(read(&v, reg::TPR), 0x20);
    assert_eq!(v.mmio_read(0x400, 4, T0), 0, "past TDCR");
    write(&mut v, reg::TPR, 0x1234);
    assert_eq!(read(&v, reg::TPR), 0x34, "TPR has 8 bits");
}

#[test]
fn ppr_follows_tpr_and_the_highest_in_service_class() {
    let mut v = enabled(0);
    write(&mut v, reg::TPR, 0x35);
    assert_eq!(read(&v, reg::PPR), 0x35);
    v.set_irq(0x51, false);
    assert_eq!(v.pending(), Some(0x51));
    v.ack(0x51);
    assert_eq!(read(&v, reg::PPR), 0x50, "ISR class above TPR's");
    write(&mut v, reg::TPR, 0x62);
    assert_eq!(read(&v, reg::PPR), 0x62);
    write(&mut v, reg::EOI, 0);
    assert!(!v.isr_has(0x51));
}

#[test]
fn acceptance_needs_a_class_above_ppr_and_an_enabled_apic() {
    let mut v = Vlapic::new(0, ALL);
    v.set_irq(0x40, false);
    assert_eq!(v.pending(), None, "software-disabled: held in the IRR");
    assert!(v.irr_has(0x40));
    write(&mut v, reg::SVR, 0x1ff);
    assert_eq!(v.pending(), Some(0x40));
    write(&mut v, reg::TPR, 0x40);
    assert_eq!(v.pending(), None, "same class as TPR: held");
    write(&mut v, reg::TPR, 0x3f);
    assert_eq!(v.pending(), Some(0x40));
    v.ack(0x40);
    v.set_irq(0x45, false);
    assert_eq!(v.pending(), None, "same class as the one in service");
    v.set_irq(0x50, false);
    assert_eq!(v.pending(), Some(0x50), "a higher class nests");
    v.ack(0x50);
    assert_eq!(v.eoi(), Some(0x50), "EOI ends the highest in service");
    assert_eq!(v.pending(), None);
    assert_eq!(v.eoi(), Some(0x40));
    assert_eq!(v.pending(), Some(0x45));
    assert_eq!(v.eoi(), None, "nothing in service: a no-op");
}

#[test]
fn irr_isr_tmr_read_as_eight_registers() {
    let mut v = enabled(0);
    v.set_irq(0x21, false);
    v.set_irq(0xfe, true);
    assert_eq!(read(&v, reg::IRR + 0x10), 1 << 1);
    assert_eq!(read(&v, reg::IRR + 0x70), 1 << 30);
    assert_eq!(read(&v, reg::TMR + 0x70), 1 << 30, "level-triggered");
    assert_eq!(read(&v, reg::TMR + 0x10), 0);
    v.ack(0xfe);
    assert_eq!(read(&v, reg::ISR + 0x70), 1 << 30);
    assert_eq!(read(&v, reg::IRR + 0x70), 0);
}

#[test]
fn esr_shows_errors_only_after_a_write() {
    let mut v = enabled(0);
    write(&mut v, reg::ICR, 0x0000_0005); // fixed, vector 5: illegal
    assert_eq!(read(&v, reg::ESR), 0, "not latched yet");
    write(&mut v, reg::ESR, 0);
    assert_eq!(read(&v, reg::ESR), ESR_SEND_ILLEGAL_VECTOR);
    write(&mut v, reg::ESR, 0);
    assert_eq!(read(&v, reg::ESR), 0, "the next write clears it");
    v.set_irq(3, false);
    write(&mut v, reg::ESR, 0);
    assert_eq!(read(&v, reg::ESR), ESR_RECEIVE_ILLEGAL_VECTOR);
    assert!(!v.irr_has(3));
}

#[test]
fn an_unmasked_error_lvt_raises_its_vector() {
    let mut v = enabled(0);
    write(&mut v, reg::LVTERR, 0xe3);
    write(&mut v, reg::ICR, 0x0004_0002); // self, vector 2
    assert_eq!(v.pending(), Some(0xe3));
}

#[test]
fn self_ipis_land_in_the_irr() {
    let mut v = enabled(0);
    write(&mut v, reg::ICR, 0x0004_0031); // shorthand self, fixed 0x31
    assert_eq!(v.pending(), Some(0x31));
    assert_eq!(v.take_requests(), Requests::default(), "nothing for other vCPUs");
    assert_eq!(read(&v, reg::ICR) & (1 << 12), 0, "delivery status idle");
    write(&mut v, reg::ICR2, 0x0000_0000);
    write(&mut v, reg::ICR, 0x0000_0032); // physical destination 0: itself
    assert!(v.irr_has(0x32));
    assert_eq!(v.take_requests().remote, None);
    write(&mut v, reg::ICR, 0x0008_0033); // all including self
    assert!(v.irr_has(0x33));
    assert_eq!(v.take_requests().remote, Some(RemoteIpi { icr: 0x0008_0033, dest: 0 }));
    write(&mut v, reg::ICR, 0x000c_0034); // all excluding self
    assert!(!v.irr_has(0x34));
    assert!(v.take_requests().remote.is_some());
    write(&mut v, reg::ICR2, 0x0500_0000);
    write(&mut v, reg::ICR, 0x0000_0035); // APIC 5: someone else
    assert!(!v.irr_has(0x35));
    assert_eq!(v.take_requests().remote, Some(RemoteIpi { icr: 0x35, dest: 5 }));
}

#[test]
fn logical_destinations_flat_and_cluster() {
    let mut v = enabled(0);
    write(&mut v, reg::LDR, 0x0400_0000);
    write(&mut v, reg::ICR2, 0x0600_0000);
    write(&mut v, reg::ICR, 0x0000_0841); // logical, flat: bit 2 of 0x06
    assert!(v.irr_has(0x41));
    write(&mut v, reg::DFR, 0x0fff_ffff); // cluster model
    write(&mut v, reg::LDR, 0x1200_0000); // cluster 1, member bit 1
    write(&mut v, reg::ICR2, 0x1300_0000);
    write(&mut v, reg::ICR, 0x0000_0842);
    assert!(v.irr_has(0x42));
    write(&mut v, reg::ICR2, 0x2300_0000);
    write(&mut v, reg::ICR, 0x0000_0843);
    assert!(!v.irr_has(0x43), "another cluster");
}

#[test]
fn nmi_init_sipi_to_itself_are_requests() {
    let mut v = enabled(0);
    write(&mut v, reg::ICR, 0x0004_0400); // NMI to self
    assert!(v.take_requests().nmi);
    write(&mut v, reg::ICR, 0x0008_4500); // INIT assert, all including self
    assert!(v.take_requests().init);
    write(&mut v, reg::ICR, 0x0008_8500); // INIT level de-assert
    assert!(!v.take_requests().init);
    write(&mut v, reg::ICR, 0x0008_0699); // SIPI, page 0x99
    assert_eq!(v.take_requests().sipi, Some(0x99));
}

#[test]
fn software_disable_masks_every_lvt() {
    let mut v = enabled(0);
    write(&mut v, reg::LVTT, 0x20);
    write(&mut v, reg::LVT0, 0x700);
    assert_eq!(read(&v, reg::LVTT), 0x20);
    write(&mut v, reg::SVR, 0xff);
    assert_eq!(read(&v, reg::LVTT), 0x1_0020);
    assert_eq!(read(&v, reg::LVT0), 0x1_0700);
    write(&mut v, reg::LVTT, 0x20);
    assert_eq!(read(&v, reg::LVTT), 0x1_0020, "stays masked while disabled");
}

#[test]
fn lvt_writes_keep_only_their_fields() {
    let mut v = enabled(0);
    write(&mut v, reg::LVTERR, 0xffff_ffff);
    assert_eq!(read(&v, reg::LVTERR), LVT_MASK);
    write(&mut v, reg::LVT1, 0xffff_ffff);
    assert_eq!(read(&v, reg::LVT1), LINT_MASK);
    write(&mut v, reg::LVTT, 0xffff_ffff);
    assert_eq!(read(&v, reg::LVTT), LVT_MASK | LVT_TIMER_MODE);
}

#[test]
fn one_shot_timer_counts_down_and_fires_once() {
    let mut v = enabled(0);
    write(&mut v, reg::TDCR, 0xb); // divide by 1: 10 ns a tick
    write(&mut v, reg::LVTT, 0x30);
    v.mmio_write(u64::from(reg::TMICT), 4, 1000, at(0));
    assert_eq!(v.next_deadline(), (Some(10_000), None));
    assert_eq!(v.mmio_read(u64::from(reg::TMCCT), 4, at(2_500)), 750);
    assert!(!v.tick(at(9_999)));
    assert!(v.tick(at(10_000)));
    assert_eq!(v.pending(), Some(0x30));
    assert_eq!(v.mmio_read(u64::from(reg::TMCCT), 4, at(20_000)), 0);
    assert!(!v.tick(at(100_000)), "one shot");
}

#[test]
fn divide_configuration_scales_the_tick() {
    let mut v = enabled(0);
    assert_eq!(v.cycle_ns(), 20, "reset TDCR 0 divides by 2");
    for (tdcr, div) in [(0x0, 2), (0x1, 4), (0x2, 8), (0x3, 16), (0x8, 32), (0x9, 64), (0xa, 128), (0xb, 1)] {
        write(&mut v, reg::TDCR, tdcr);
        assert_eq!(v.cycle_ns(), 10 * div, "TDCR {tdcr:#x}");
    }
    write(&mut v, reg::TDCR, 0xff);
    assert_eq!(read(&v, reg::TDCR), 0xb);
}

#[test]
fn periodic_timer_reloads_and_merges_missed_periods() {
    let mut v = enabled(0);
    write(&mut v, reg::TDCR, 0xb);
    write(&mut v, reg::LVTT, (1 << 17) | 0x31);
    v.mmio_write(u64::from(reg::TMICT), 4, 100, at(0)); // 1 us
    assert!(v.tick(at(1_000)));
    v.ack(0x31);
    v.eoi();
    assert_eq!(v.mmio_read(u64::from(reg::TMCCT), 4, at(1_250)), 75, "reloaded");
    assert!(!v.tick(at(1_999)));
    assert!(v.tick(at(5_500)), "several periods missed: one tick");
    assert!(!v.tick(at(5_999)));
    assert!(v.tick(at(6_000)));
    v.mmio_write(u64::from(reg::TMICT), 4, 0, at(6_100));
    assert!(!v.tick(at(100_000)), "TMICT 0 stops it");
}

#[test]
fn a_masked_timer_counts_without_interrupting() {
    let mut v = enabled(0);
    write(&mut v, reg::TDCR, 0xb);
    write(&mut v, reg::LVTT, (1 << 16) | 0x30);
    v.mmio_write(u64::from(reg::TMICT), 4, 10, at(0));
    assert!(v.tick(at(100)));
    assert_eq!(v.pending(), None);
    assert!(!v.irr_has(0x30));
}

#[test]
fn tsc_deadline_mode_fires_at_the_deadline_and_disarms() {
    let mut v = enabled(0);
    assert_eq!(v.write_tsc_deadline(1000), Ok(()));
    assert_eq!(v.read_tsc_deadline(), Ok(0), "ignored outside TSC-deadline mode");
    write(&mut v, reg::LVTT, (2 << 17) | 0x40);
    v.mmio_write(u64::from(reg::TMICT), 4, 50, at(0));
    assert_eq!(read(&v, reg::TMICT), 0, "TMICT is ignored in TSC-deadline mode");
    v.write_tsc_deadline(1000).unwrap();
    assert_eq!(v.read_tsc_deadline(), Ok(1000));
    assert_eq!(v.next_deadline(), (None, Some(1000)));
    assert!(!v.tick(Clock { ns: 0, tsc: 999 }));
    assert!(v.tick(Clock { ns: 0, tsc: 1000 }));
    assert_eq!(v.pending(), Some(0x40));
    assert_eq!(v.read_tsc_deadline(), Ok(0), "disarmed once fired");
    v.write_tsc_deadline(2000).unwrap();
    write(&mut v, reg::LVTT, 0x40); // back to one-shot
    assert!(!v.tick(Clock { ns: 0, tsc: 5000 }), "leaving the mode disarms it");
    let mut no = Vlapic::new(0, Features { tsc_deadline: false, ..ALL });
    assert_eq!(no.read_tsc_deadline(), Err(Gp));
    assert_eq!(no.write_tsc_deadline(1), Err(Gp));
}

#[test]
fn apic_base_transitions_follow_the_sdm() {
    let mut v = enabled(0);
    let xapic = DEFAULT_BASE | BASE_EN;
    assert_eq!(v.write_apic_base(DEFAULT_BASE | BASE_EXTD), Err(Gp), "EXTD without EN is invalid");
    assert_eq!(v.write_apic_base(xapic | (1 << 9)), Err(Gp), "reserved bit 9");
    assert_eq!(v.write_apic_base(xapic | (1 << 63)), Err(Gp), "reserved high bit");
    assert_eq!(v.write_apic_base(xapic | BASE_EXTD), Ok(()), "xAPIC to x2APIC");
    assert!(v.x2apic_mode());
    assert_eq!(v.mmio_base(), None, "no MMIO page in x2APIC mode");
    assert_eq!(v.write_apic_base(xapic), Err(Gp), "x2APIC to xAPIC directly");
    assert_eq!(v.write_apic_base(DEFAULT_BASE), Ok(()), "x2APIC to disabled");
    assert!(!v.hw_enabled());
    assert_eq!(v.mmio_base(), None);
    assert_eq!(v.write_apic_base(xapic | BASE_EXTD), Err(Gp), "disabled to x2APIC directly");
    assert_eq!(v.write_apic_base(0xfed0_0000 | BASE_EN), Ok(()), "disabled to xAPIC, relocated");
    assert_eq!(v.mmio_base(), Some(0xfed0_0000));
    assert_eq!(read(&v, reg::SVR), 0xff, "enabling resets the APIC");
    assert_eq!(v.apic_base() & BASE_BSP, BASE_BSP, "BSP stays");
    let mut no = Vlapic::new(0, Features { x2apic: false, ..ALL });
    assert_eq!(no.write_apic_base(xapic | BASE_EXTD), Err(Gp), "no x2APIC in CPUID");
}

#[test]
fn x2apic_msrs_refuse_what_the_sdm_and_xen_refuse() {
    let mut v = enabled(0);
    assert_eq!(v.read_msr(0x803, T0), Err(Gp), "not in x2APIC mode");
    assert_eq!(v.write_msr(0x808, 0, T0), Err(Gp), "not in x2APIC mode");
    let mut v = x2apic(0);
    assert_eq!(v.read_msr(0x803, T0), Ok(u64::from(VERSION)));
    for absent in [0x800, 0x801, 0x809, 0x80b, 0x80c, 0x80e, 0x831, 0x83a, 0x83f, 0x8ff] {
        assert_eq!(v.read_msr(absent, T0), Err(Gp), "rdmsr {absent:#x}");
    }
    for read_only in [0x803, 0x80a, 0x810, 0x818, 0x820, 0x839] {
        assert_eq!(v.write_msr(read_only, 0, T0), Err(Gp), "wrmsr {read_only:#x}");
    }
    assert_eq!(v.write_msr(0x808, 0x100, T0), Err(Gp), "TPR bits 31:8 reserved");
    assert_eq!(v.write_msr(0x808, 1 << 32, T0), Err(Gp), "bits 63:32 reserved");
    assert_eq!(v.write_msr(0x808, 0x20, T0), Ok(()));
    assert_eq!(v.read_msr(0x808, T0), Ok(0x20));
    assert_eq!(v.write_msr(0x80b, 1, T0), Err(Gp), "EOI takes 0 only");
    assert_eq!(v.write_msr(0x80b, 0, T0), Ok(()));
    assert_eq!(v.write_msr(0x828, 1, T0), Err(Gp), "ESR takes 0 only");
    assert_eq!(v.write_msr(0x83e, 4, T0), Err(Gp), "TDCR bit 2 reserved");
    assert_eq!(v.write_msr(0x832, 1 << 19, T0), Err(Gp), "LVT timer bit 19 reserved");
    assert_eq!(v.write_msr(0x83f, 0x100, T0), Err(Gp), "SELF_IPI has a vector only");
}

#[test]
fn x2apic_icr_is_one_msr_and_self_ipi_is_fixed_to_itself() {
    let mut v = x2apic(0);
    v.write_msr(0x828, 0, T0).unwrap();
    assert_eq!(v.write_msr(0x830, 1 << 12, T0), Err(Gp), "delivery status is not writable");
    v.write_msr(0x830, 0x0000_0000_0000_0051, T0).unwrap(); // physical dest 0
    assert!(v.irr_has(0x51));
    assert_eq!(v.read_msr(0x830, T0), Ok(0x51));
    v.write_msr(0x830, (7u64 << 32) | 0x52, T0).unwrap();
    assert!(!v.irr_has(0x52));
    assert_eq!(v.read_msr(0x830, T0), Ok((7 << 32) | 0x52), "ICR reads back 64 bits");
    assert_eq!(v.take_requests().remote, Some(RemoteIpi { icr: 0x52, dest: 7 }));
    v.write_msr(0x83f, 0x53, T0).unwrap();
    assert!(v.irr_has(0x53));
    assert_eq!(v.take_requests().remote, None);
    v.write_msr(0x83f, 0x05, T0).unwrap();
    v.write_msr(0x828, 0, T0).unwrap();
    assert_eq!(v.read_msr(0x828, T0), Ok(u64::from(ESR_SEND_ILLEGAL_VECTOR)));
}

#[test]
fn x2apic_timer_and_tsc_deadline_registers() {
    let mut v = x2apic(0);
    v.write_msr(0x83e, 0xb, T0).unwrap();
    v.write_msr(0x832, 0x60, T0).unwrap();
    v.write_msr(0x838, 100, at(0)).unwrap();
    assert_eq!(v.read_msr(0x839, at(500)), Ok(50));
    assert_eq!(v.read_msr(0x838, at(500)), Ok(100));
    assert!(v.tick(at(1_000)));
    assert_eq!(v.pending(), Some(0x60));
}

#[test]
fn remote_ipis_reach_by_shorthand_or_destination_and_say_what_they_ask() {
    let mut sender = enabled(0);
    let mut target = enabled(1);
    // Linux's AP start: INIT assert, INIT de-assert, SIPI, each to APIC 1.
    write(&mut sender, reg::ICR2, 0x0100_0000);
    for (icr, action) in [(0x0000_c500, IpiAction::Init), (0x0000_8500, IpiAction::None), (0x0000_0699, IpiAction::Startup(0x99))] {
        write(&mut sender, reg::ICR, icr);
        let ipi = sender.take_requests().remote.expect("for APIC 1");
        assert!(ipi.reaches(&target.address()));
        assert_eq!(ipi.action(), action, "{icr:#x}");
    }
    write(&mut sender, reg::ICR2, 0x0200_0000);
    write(&mut sender, reg::ICR, 0x0000_0040);
    assert!(!sender.take_requests().remote.unwrap().reaches(&target.address()), "APIC 2 is not 1");
    write(&mut sender, reg::ICR, 0x000c_0041); // all excluding self
    let all = sender.take_requests().remote.unwrap();
    assert!(all.reaches(&target.address()));
    assert_eq!(all.action(), IpiAction::Fixed(0x41));
    // Logical, flat model: the target's LDR decides.
    write(&mut target, reg::LDR, 0x0200_0000);
    write(&mut sender, reg::ICR2, 0x0300_0000);
    write(&mut sender, reg::ICR, 0x0000_0942); // logical, lowest priority
    let logical = sender.take_requests().remote.unwrap();
    assert!(logical.reaches(&target.address()));
    assert_eq!(logical.action(), IpiAction::LowestPriority(0x42));
    write(&mut target, reg::LDR, 0x0800_0000);
    assert!(!logical.reaches(&target.address()));
}

#[test]
fn a_published_address_matches_as_the_apic_itself_does() {
    let mut flat = enabled(3);
    write(&mut flat, reg::LDR, 0x0800_0000);
    let mut cluster = enabled(4);
    write(&mut cluster, reg::DFR, 0x0fff_ffff);
    write(&mut cluster, reg::LDR, 0x2100_0000);
    let x2 = x2apic(0x25);
    for apic in [&flat, &cluster, &x2] {
        let a = apic.address();
        assert_eq!(ApicAddress::unpack(a.id, a.pack()), a);
        for (dest, logical) in [(0x08, true), (0x21, true), (0x20_0020, true), (0x3, false), (0x25, false), (0xff, false), (0x22, true)] {
            assert_eq!(ApicAddress::unpack(a.id, a.pack()).matches(dest, logical), apic.addressed(dest, logical), "{a:?} {dest:#x}");
        }
    }
}
