//! The legacy 8259 PICs: remapped away from the exception vectors and masked,
//! since the hypervisor takes its interrupts through the local APIC.

use x86_64::instructions::port::Port;

const PIC1: u16 = 0x20;
const PIC2: u16 = 0xa0;
/// Vectors the PICs would use once remapped (a spurious IRQ 7/15 lands there).
pub const PIC1_VECTOR: u8 = 0x20;
pub const PIC2_VECTOR: u8 = 0x28;

pub fn remap_and_mask() {
    // SAFETY: the PIC ports belong to the hypervisor; the ICW1..ICW4 sequence (8259A datasheet) leaves both chips masked and off the exception vectors.
    unsafe {
        let (mut c1, mut d1) = (Port::<u8>::new(PIC1), Port::<u8>::new(PIC1 + 1));
        let (mut c2, mut d2) = (Port::<u8>::new(PIC2), Port::<u8>::new(PIC2 + 1));
        c1.write(0x11);
        c2.write(0x11);
        d1.write(PIC1_VECTOR);
        d2.write(PIC2_VECTOR);
        d1.write(4);
        d2.write(2);
        d1.write(1);
        d2.write(1);
        d1.write(0xff);
        d2.write(0xff);
    }
}
