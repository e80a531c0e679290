//! A nested page fault at a guest-physical address no RAM backs: the
//! instruction at the guest's RIP is fetched through its own paging,
//! decoded and carried out (`dev::mmio`) against what claims the address,
//! the vLAPIC's page or Xen's null handler (reads all ones, writes
//! dropped: hvmemul_do_io with no ioreq server). This lives with the vCPU
//! loop, not in dev/, because it is glue over the exit: the p2m, the guest
//! page tables, the VMCB/VMCS registers; the decoding and the device are
//! pure and host-tested in dev/.
//!
//! What stays fatal (the domain is crashed with the log line it always
//! had, "read of gpa ..., which is not its memory"):
//! - a fault on an address the p2m maps (a permission the domain lacks);
//! - an instruction fetch from anything but RAM;
//! - a fault while the CPU was delivering an event (the IDT, GDT or stack
//!   is not RAM: there is no instruction to emulate);
//! - for Dom0, whose guest-physical space mirrors the host's: host RAM it
//!   was not given (the hypervisor's, another domain's, its own given
//!   back) and anything above 4 GiB (host RAM or device memory that is not
//!   passed through), so isolation does not depend on the null handler
//!   (the dom0-isolation scenario reads there); below 4 GiB only the
//!   device pages the hypervisor keeps (IOAPIC, HPET) are unclaimed;
//! - an instruction that does not decode or is not emulated (the bytes
//!   are logged).

#![forbid(unsafe_code)]

use alloc::format;
use alloc::string::String;

use crate::arch::x86_64::virt::vcpu::HwVcpu;
use crate::dev::mmio::{self, Device, MAX_INSTRUCTION, Registers};
use crate::dev::vlapic::{Clock, Vlapic};
use crate::domain::object::Domain;
use crate::mm::guest::{self, GuestPaging};
use crate::mm::p2m::{Gfn, P2mType};

/// How the fault at `gpa` is handled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Claim {
    /// The vLAPIC's page: emulate against it.
    Lapic,
    /// Nothing claims it: Xen's null handler.
    Null,
    /// The domain may not make this access.
    Forbidden,
}

/// Who answers an access to `gpa` that faulted in `d`'s p2m.
pub fn claim(d: &Domain, gpa: u64, fetch: bool, lapic_base: Option<u64>) -> Claim {
    const PAGE: u64 = 0xfff;
    const FOUR_GIB: u64 = 1 << 32;
    let unbacked = match d.p2m.translate(Gfn::from_gpa(gpa)) {
        None => true,
        Some(e) => e.p2m_type == P2mType::EmulatedMmio,
    };
    if fetch || !unbacked {
        return Claim::Forbidden;
    }
    if lapic_base == Some(gpa & !PAGE) {
        return Claim::Lapic;
    }
    // Dom0's addresses are the host's (dom0::layout passes every hole
    // below 4 GiB through): host RAM outside its p2m is someone else's
    // memory, and above 4 GiB lies host RAM or device memory not passed
    // through, never an unclaimed hole. Left for the null handler: the
    // device pages the hypervisor keeps (IOAPIC, HPET).
    if d.id == 0 && (gpa >= FOUR_GIB || crate::mm::is_host_ram(gpa)) {
        return Claim::Forbidden;
    }
    Claim::Null
}

/// The instruction bytes at the guest's RIP: up to 15, fewer when the
/// next page is not mapped (the decoder then says whether they suffice).
pub fn fetch_instruction(d: &Domain, vcpu: &HwVcpu) -> Result<([u8; MAX_INSTRUCTION], usize, u32), String> {
    let (cr0, cr3, cr4, efer) = vcpu.paging_state();
    let paging = GuestPaging::supervisor(cr0, cr3, cr4, efer, true).ok_or_else(|| String::from("an unsupported paging mode"))?;
    let (cs_base, bits) = vcpu.code_segment();
    let mut linear = cs_base.wrapping_add(vcpu.rip());
    if bits != 64 {
        linear &= 0xffff_ffff;
    }
    let mut bytes = [0u8; MAX_INSTRUCTION];
    let in_page = crate::bits::to_usize((0x1000 - (linear & 0xfff)).min(MAX_INSTRUCTION as u64));
    let mem = d.memory();
    guest::read_gva(&mem, &paging, linear, &mut bytes[..in_page])
        .map_err(|e| format!("its instruction at {linear:#x} cannot be read ({e:?})"))?;
    let mut len = in_page;
    if in_page < MAX_INSTRUCTION && guest::read_gva(&mem, &paging, linear + in_page as u64, &mut bytes[in_page..]).is_ok() {
        len = MAX_INSTRUCTION;
    }
    Ok((bytes, len, bits))
}

/// The vCPU's registers by encoding number (RSP lives in the VMCB/VMCS).
struct VcpuRegisters<'a>(&'a mut HwVcpu);

impl Registers for VcpuRegisters<'_> {
    fn get(&self, number: u8) -> u64 {
        if number == 4 {
            return self.0.rsp();
        }
        let r = self.0.gprs();
        match number {
            0 => r.rax,
            1 => r.rcx,
            2 => r.rdx,
            3 => r.rbx,
            5 => r.rbp,
            6 => r.rsi,
            7 => r.rdi,
            8 => r.r8,
            9 => r.r9,
            10 => r.r10,
            11 => r.r11,
            12 => r.r12,
            13 => r.r13,
            14 => r.r14,
            _ => r.r15,
        }
    }

    fn set(&mut self, number: u8, value: u64) {
        if number == 4 {
            self.0.set_rsp(value);
            return;
        }
        let r = self.0.regs();
        let slot = match number {
            0 => &mut r.rax,
            1 => &mut r.rcx,
            2 => &mut r.rdx,
            3 => &mut r.rbx,
            5 => &mut r.rbp,
            6 => &mut r.rsi,
            7 => &mut r.rdi,
            8 => &mut r.r8,
            9 => &mut r.r9,
            10 => &mut r.r10,
            11 => &mut r.r11,
            12 => &mut r.r12,
            13 => &mut r.r13,
            14 => &mut r.r14,
            _ => &mut r.r15,
        };
        *slot = value;
    }

    fn rflags(&self) -> u64 {
        self.0.rflags()
    }

    fn set_rflags(&mut self, value: u64) {
        self.0.set_rflags(value);
    }
}

/// The vLAPIC's xAPIC page at `base`.
struct LapicPage<'a> {
    vlapic: &'a mut Vlapic,
    base: u64,
    now: Clock,
}

impl Device for LapicPage<'_> {
    fn read(&mut self, gpa: u64, len: usize) -> u64 {
        self.vlapic.mmio_read(gpa - self.base, len, self.now)
    }
    fn write(&mut self, gpa: u64, len: usize, value: u64) {
        self.vlapic.mmio_write(gpa - self.base, len, value, self.now);
    }
}

/// Xen's null handler: every read all ones, every write dropped.
struct NullDevice;

impl Device for NullDevice {
    fn read(&mut self, _gpa: u64, _len: usize) -> u64 {
        u64::MAX
    }
    fn write(&mut self, _gpa: u64, _len: usize, _value: u64) {}
}

/// Emulates the instruction in `bytes` that faulted at `gpa` against the
/// vLAPIC (`lapic`: it and its base) or the null handler, and moves RIP
/// past it; the error names the bytes.
pub fn emulate(vcpu: &mut HwVcpu, bytes: &[u8], bits: u32, gpa: u64, lapic: Option<(&mut Vlapic, u64)>, now: Clock) -> Result<(), String> {
    let mut regs = VcpuRegisters(vcpu);
    let done = match lapic {
        Some((vlapic, base)) => mmio::emulate(bytes, bits, gpa, &mut regs, &mut LapicPage { vlapic, base, now }),
        None => mmio::emulate(bytes, bits, gpa, &mut regs, &mut NullDevice),
    };
    match done {
        Ok(len) => {
            vcpu.advance_rip(len);
            Ok(())
        }
        Err(why) => Err(format!("access to gpa {gpa:#x} by an instruction not emulated ({why}): bytes {}", Hex(bytes))),
    }
}

/// Bytes as `0f b6 02`.
struct Hex<'a>(&'a [u8]);

impl core::fmt::Display for Hex<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        for (i, b) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}
