//! The state every check group works with: the TAP writer, the calling
//! convention (64-bit, or 32-bit from a compatibility-mode segment), what
//! kind of domain this is, and the memory layout the bad pointers come from.

use core::fmt;

use abi::cpuid::XEN_HVM_CPUID_DOMID_PRESENT;
use abi::hvm::start_info::{HvmMemmapTableEntry, XEN_HVM_MEMMAP_TYPE_RAM};
use abi::xen::{DOMID_SELF, SIF_INITDOMAIN, SIF_PRIVILEGED};
use guest_rt::paging::{self, Access};
use guest_rt::{compat, cpu, hypercall};

use crate::tap::{Tap, Want};

/// The calling convention the checks use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bits {
    /// Long mode: rax = nr; rdi, rsi, rdx, r10, r8.
    B64,
    /// Compatibility mode: eax = nr; ebx, ecx, edx, esi, edi.
    B32,
}

/// 2 MiB of the identity map left unmapped: "an unmapped address".
pub const HOLE: u64 = 4 << 20;
/// 2 MiB of the identity map made read-only: OUT buffers there must fault.
pub const READ_ONLY: u64 = 6 << 20;

/// A pointer Xen refuses with -EFAULT.
#[derive(Clone, Copy, Debug)]
pub struct BadPtr {
    pub what: &'static str,
    pub addr: u64,
}

impl fmt::Display for BadPtr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{}>", self.what)
    }
}

pub struct Suite {
    pub tap: Tap,
    pub bits: Bits,
    /// SIF_PRIVILEGED: a control domain (domctl, sysctl, console read).
    pub privileged: bool,
    /// SIF_INITDOMAIN: the hardware domain (Dom0).
    pub hwdom: bool,
    /// This domain's id (CPUID leaf base+4 ECX; 0 for Dom0 without it).
    pub domid: u16,
    /// RAM pages in the start_info memory map.
    pub ram_pages: u64,
    /// First frame above the highest RAM of the memory map.
    pub ram_end_pfn: u64,
    /// Whether [`HOLE`] is unmapped and the 2 MiB below it is RAM.
    hole: bool,
    /// Whether [`READ_ONLY`] is mapped read-only over RAM.
    read_only: bool,
    /// A mapped address whose guest-physical page is not in the memory map.
    no_ram: Option<u64>,
    /// The Xen CPUID base leaf.
    pub cpuid_base: u32,
    /// The start_info memory map.
    memmap: [HvmMemmapTableEntry; 64],
    memmap_len: usize,
}

impl Suite {
    pub fn new(boot: &guest_rt::Boot, bits: Bits, quiet: bool) -> Suite {
        let si = &boot.si;
        let ram = |lo: u64, hi: u64| {
            si.memmap().iter().any(|e| {
                e.r#type == XEN_HVM_MEMMAP_TYPE_RAM && e.addr <= lo && hi <= e.addr + e.size
            })
        };
        let ram_pages = si
            .memmap()
            .iter()
            .filter(|e| e.r#type == XEN_HVM_MEMMAP_TYPE_RAM)
            .map(|e| e.size >> 12)
            .sum();
        let ram_end_pfn = si
            .memmap()
            .iter()
            .filter(|e| e.r#type == XEN_HVM_MEMMAP_TYPE_RAM)
            .map(|e| (e.addr + e.size).div_ceil(4096))
            .max()
            .unwrap_or(0);
        let hole = ram(HOLE - (2 << 20), HOLE) && paging::set_2mib(HOLE, Access::None);
        let read_only =
            ram(READ_ONLY, READ_ONLY + (2 << 20)) && paging::set_2mib(READ_ONLY, Access::ReadOnly);
        let no_ram = match bits {
            Bits::B64 => si
                .unlisted_address()
                .filter(|&a| paging::map_identity_2mib(a)),
            Bits::B32 => None,
        };
        let privileged = si.info.flags & SIF_PRIVILEGED != 0;
        let cpuid_base = boot.hv.map_or(0x4000_0000, |hv| hv.cpuid_base);
        let leaf4 = cpu::cpuid(cpuid_base + 4, 0);
        let domid = if leaf4.eax & XEN_HVM_CPUID_DOMID_PRESENT != 0 {
            u16::try_from(leaf4.ecx).unwrap_or(DOMID_SELF.0)
        } else if privileged {
            0
        } else {
            DOMID_SELF.0
        };
        let mut memmap = [HvmMemmapTableEntry::default(); 64];
        let memmap_len = si.memmap().len().min(memmap.len());
        memmap[..memmap_len].copy_from_slice(&si.memmap()[..memmap_len]);
        Suite {
            memmap,
            memmap_len,
            tap: Tap::start(quiet, guest_rt::cmdline::value(si.cmdline(), "todo").unwrap_or("")),
            bits,
            privileged,
            hwdom: si.info.flags & SIF_INITDOMAIN != 0,
            domid,
            ram_pages,
            ram_end_pfn,
            hole,
            read_only,
            no_ram,
            cpuid_base,
        }
    }

    /// An address mapped in this kernel's page tables with no RAM behind
    /// it (64-bit mode only).
    pub fn no_ram(&self) -> Option<u64> {
        self.no_ram
    }

    /// The memory map of the start info.
    pub fn memmap(&self) -> &[HvmMemmapTableEntry] {
        &self.memmap[..self.memmap_len]
    }

    pub fn is64(&self) -> bool {
        self.bits == Bits::B64
    }

    /// Makes hypercall `nr` in this suite's convention. In 32-bit mode every
    /// argument must fit in 32 bits (the check would be wrong otherwise) and
    /// the result is eax, sign-extended.
    pub fn call(&self, nr: u64, args: [u64; 5]) -> i64 {
        match self.bits {
            Bits::B64 => {
                // SAFETY: the checks pass only NULL, deliberately bad pointers, or pointers into the scratch pages, which the hypervisor may read and write; nothing this kernel runs on.
                let ret = unsafe {
                    hypercall::hypercall5(nr, args[0], args[1], args[2], args[3], args[4])
                };
                ret.cast_signed()
            }
            Bits::B32 => {
                let nr = u32::try_from(nr).expect("32-bit hypercall number");
                let args = args.map(|a| u32::try_from(a).expect("32-bit hypercall argument"));
                // SAFETY: as above; every pointer is below 4 GiB.
                let ret = unsafe { compat::hypercall32(nr, args) };
                i64::from(ret.cast_signed())
            }
        }
    }

    /// Makes the call and checks it against `want`; returns what it got.
    pub fn check(&mut self, what: fmt::Arguments<'_>, nr: u64, args: [u64; 5], want: Want) -> i64 {
        let got = self.call(nr, args);
        self.tap.check(what, got, want);
        got
    }

    /// Pointers Xen answers with -EFAULT for a `len`-byte object: NULL,
    /// unmapped addresses, a buffer that runs into unmapped memory, and in
    /// 64-bit mode the hypervisor's half, non-canonical addresses and an
    /// address with no RAM behind it; for an OUT buffer (`out`), also a
    /// read-only mapping. Non-canonical addresses are chosen so that their
    /// low 48 bits are unmapped too (a page walk that ignores bits 48..63
    /// still finds nothing).
    pub fn bad_ptrs(&self, len: u64, out: bool) -> impl Iterator<Item = BadPtr> + use<> {
        let b64 = self.is64();
        let list: [Option<BadPtr>; 10] = [
            Some(BadPtr {
                what: "NULL",
                addr: 0,
            }),
            self.hole.then_some(BadPtr {
                what: "an unmapped address",
                addr: HOLE + 0x1230,
            }),
            (self.hole && len >= 2).then_some(BadPtr {
                what: "a buffer running into unmapped memory",
                addr: HOLE - len / 2,
            }),
            (self.read_only && out).then_some(BadPtr {
                what: "a read-only mapping",
                addr: READ_ONLY + 0x100,
            }),
            self.no_ram.map(|addr| BadPtr {
                what: "a mapped address with no RAM behind it",
                addr: addr + 0x100,
            }),
            b64.then_some(BadPtr {
                what: "an unmapped address above 512 GiB",
                addr: 0x0000_0080_0000_0000,
            }),
            b64.then_some(BadPtr {
                what: "a hypervisor-range address",
                addr: 0xffff_8000_0000_0000,
            }),
            b64.then_some(BadPtr {
                what: "the last page of the address space",
                addr: 0xffff_ffff_ffff_f000,
            }),
            b64.then_some(BadPtr {
                what: "the first non-canonical address",
                addr: 0x0000_8000_0000_0000,
            }),
            b64.then_some(BadPtr {
                what: "a non-canonical address",
                addr: 0x8000_0080_0000_0000,
            }),
        ];
        list.into_iter().flatten()
    }

    /// An ordinary domain id that names no domain.
    pub const NO_DOMAIN: u16 = 0x7fef;

    /// Domain ids that name no domain Xen's lookups find: an unused ordinary
    /// id, and reserved ids that are not `DOMID_SELF`.
    pub const NO_DOMAINS: [(u16, &'static str); 5] = [
        (Suite::NO_DOMAIN, "an unused domid"),
        (0x7ff1, "DOMID_IO"),
        (0x7ff4, "DOMID_INVALID"),
        (0x7fff, "DOMID_IDLE"),
        (0xffff, "domid 0xffff"),
    ];
}

/// `[a, b, ...]` padded with zeros to the five hypercall arguments.
pub fn args<const N: usize>(a: [u64; N]) -> [u64; 5] {
    let mut all = [0; 5];
    all[..N].copy_from_slice(&a);
    all
}
