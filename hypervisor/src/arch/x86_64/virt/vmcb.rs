//! The SVM virtual machine control block: a 4 KiB page, control area then
//! state-save area. Offsets are those of AMD APM Vol. 2, appendix B.

use crate::mm::handle::OwnedFrame;
use crate::mm::physmap;

// Control area (APM Vol. 2, table B-1).
pub const INTERCEPT_CR: usize = 0x000;
pub const INTERCEPT_EXCEPTIONS: usize = 0x008;
pub const INTERCEPT_MISC1: usize = 0x00c;
pub const INTERCEPT_MISC2: usize = 0x010;
pub const IOPM_BASE_PA: usize = 0x040;
pub const MSRPM_BASE_PA: usize = 0x048;
pub const TSC_OFFSET: usize = 0x050;
pub const GUEST_ASID: usize = 0x058;
pub const TLB_CONTROL: usize = 0x05c;
pub const VINTR: usize = 0x060;
pub const INTERRUPT_SHADOW: usize = 0x068;
pub const EXITCODE: usize = 0x070;
pub const EXITINFO1: usize = 0x078;
pub const EXITINFO2: usize = 0x080;
pub const EXITINTINFO: usize = 0x088;
pub const NP_ENABLE: usize = 0x090;
pub const EVENTINJ: usize = 0x0a8;
pub const N_CR3: usize = 0x0b0;
pub const VMCB_CLEAN: usize = 0x0c0;
pub const NRIP: usize = 0x0c8;

// State-save area (APM Vol. 2, table B-2): segments are 16 bytes each:
// selector u16, attrib u16, limit u32, base u64.
pub const ES: usize = 0x400;
pub const CS: usize = 0x410;
pub const SS: usize = 0x420;
pub const DS: usize = 0x430;
pub const FS: usize = 0x440;
pub const GS: usize = 0x450;
pub const GDTR: usize = 0x460;
pub const LDTR: usize = 0x470;
pub const IDTR: usize = 0x480;
pub const TR: usize = 0x490;
pub const CPL: usize = 0x4cb;
pub const EFER: usize = 0x4d0;
pub const CR4: usize = 0x548;
pub const CR3: usize = 0x550;
pub const CR0: usize = 0x558;
pub const DR7: usize = 0x560;
pub const DR6: usize = 0x568;
pub const RFLAGS: usize = 0x570;
pub const RIP: usize = 0x578;
pub const RSP: usize = 0x5d8;
pub const RAX: usize = 0x5f8;
pub const CR2: usize = 0x640;
pub const G_PAT: usize = 0x668;

// INTERCEPT_MISC1 bits.
pub const INTERCEPT_INTR: u32 = 1 << 0;
pub const INTERCEPT_NMI: u32 = 1 << 1;
pub const INTERCEPT_INIT: u32 = 1 << 3;
pub const INTERCEPT_VINTR: u32 = 1 << 4;
pub const INTERCEPT_CPUID: u32 = 1 << 18;
pub const INTERCEPT_INVD: u32 = 1 << 22;
pub const INTERCEPT_HLT: u32 = 1 << 24;
pub const INTERCEPT_INVLPGA: u32 = 1 << 26;
pub const INTERCEPT_IOIO: u32 = 1 << 27;
pub const INTERCEPT_MSR: u32 = 1 << 28;
pub const INTERCEPT_SHUTDOWN: u32 = 1 << 31;
// INTERCEPT_MISC2 bits.
pub const INTERCEPT_VMRUN: u32 = 1 << 0;
pub const INTERCEPT_VMMCALL: u32 = 1 << 1;
pub const INTERCEPT_VMLOAD: u32 = 1 << 2;
pub const INTERCEPT_VMSAVE: u32 = 1 << 3;
pub const INTERCEPT_STGI: u32 = 1 << 4;
pub const INTERCEPT_CLGI: u32 = 1 << 5;
pub const INTERCEPT_SKINIT: u32 = 1 << 6;
pub const INTERCEPT_XSETBV: u32 = 1 << 13;

// Exit codes (APM Vol. 2, appendix C).
pub const VMEXIT_EXCP_BASE: u64 = 0x40;
pub const VMEXIT_INTR: u64 = 0x60;
pub const VMEXIT_NMI: u64 = 0x61;
pub const VMEXIT_INIT: u64 = 0x63;
pub const VMEXIT_VINTR: u64 = 0x64;
pub const VMEXIT_CPUID: u64 = 0x72;
pub const VMEXIT_INVD: u64 = 0x76;
pub const VMEXIT_HLT: u64 = 0x78;
pub const VMEXIT_INVLPGA: u64 = 0x7a;
pub const VMEXIT_IOIO: u64 = 0x7b;
pub const VMEXIT_MSR: u64 = 0x7c;
pub const VMEXIT_SHUTDOWN: u64 = 0x7f;
pub const VMEXIT_VMRUN: u64 = 0x80;
pub const VMEXIT_VMMCALL: u64 = 0x81;
/// VMLOAD, VMSAVE, STGI, CLGI, SKINIT.
pub const VMEXIT_SVM_INSTRUCTIONS: core::ops::RangeInclusive<u64> = 0x82..=0x86;
pub const VMEXIT_XSETBV: u64 = 0x8d;
pub const VMEXIT_NPF: u64 = 0x400;
/// QEMU reports VMEXIT_INVALID as 0xffffffff in the low half: compare as u32.
pub const VMEXIT_INVALID: u32 = 0xffff_ffff;

/// One VMCB page, owned by a vCPU.
pub struct Vmcb {
    frame: OwnedFrame,
}

impl Vmcb {
    /// Takes ownership of a zeroed frame.
    pub fn new(frame: OwnedFrame) -> Vmcb {
        Vmcb { frame }
    }

    pub fn phys(&self) -> u64 {
        self.frame.addr()
    }

    /// Gives the frame back (the vCPU is destroyed).
    pub fn into_frame(self) -> OwnedFrame {
        self.frame
    }

    fn at<T>(&self, offset: usize) -> *mut T {
        debug_assert!(offset + core::mem::size_of::<T>() <= 4096);
        physmap::ptr::<u8>(self.frame.addr()).wrapping_add(offset).cast()
    }

    pub fn read_u64(&self, offset: usize) -> u64 {
        // SAFETY: the VMCB frame belongs to this vCPU; offsets are naturally aligned fields inside the page; the CPU does not run this VMCB now.
        unsafe { self.at::<u64>(offset).read_volatile() }
    }
    pub fn read_u8(&self, offset: usize) -> u8 {
        // SAFETY: as for `read_u64`, one byte.
        unsafe { self.at::<u8>(offset).read_volatile() }
    }
    pub fn write_u64(&self, offset: usize, value: u64) {
        // SAFETY: as for `read_u64`.
        unsafe { self.at::<u64>(offset).write_volatile(value) }
    }
    pub fn read_u16(&self, offset: usize) -> u16 {
        // SAFETY: as for `read_u64`.
        unsafe { self.at::<u16>(offset).read_volatile() }
    }
    pub fn read_u32(&self, offset: usize) -> u32 {
        // SAFETY: as for `read_u64`.
        unsafe { self.at::<u32>(offset).read_volatile() }
    }
    pub fn write_u32(&self, offset: usize, value: u32) {
        // SAFETY: as for `read_u64`.
        unsafe { self.at::<u32>(offset).write_volatile(value) }
    }
    pub fn write_u8(&self, offset: usize, value: u8) {
        // SAFETY: as for `read_u64`.
        unsafe { self.at::<u8>(offset).write_volatile(value) }
    }

    /// Writes a segment register: selector, attributes (VMCB compressed
    /// form: type/S/DPL/P in bits 0-7, AVL/L/D/G in bits 8-11), limit, base.
    pub fn write_segment(&self, offset: usize, selector: u16, attrib: u16, limit: u32, base: u64) {
        // SAFETY: as for `read_u64`; the four fields are at +0, +2, +4, +8.
        unsafe {
            self.at::<u16>(offset).write_volatile(selector);
            self.at::<u16>(offset + 2).write_volatile(attrib);
            self.at::<u32>(offset + 4).write_volatile(limit);
            self.at::<u64>(offset + 8).write_volatile(base);
        }
    }
}
