//! Domains: building a PVH guest (loading its kernel, writing its start info).
//!
//! Building a PVH domain, as the Dom0 builder does at boot:
//! 1. `P2m::new_machine(Format::Npt | Format::Ept)`, then `map_range` its RAM
//!    (`P2mType::Ram`), firmware (`ReadOnlyFirmware`) and device ranges
//!    (`MmioPassthrough`, or `EmulatedMmio` holes);
//! 2. [`pvh::PvhImage::parse`] the kernel and check its `highest_address()`
//!    fits the RAM;
//! 3. with `P2mGuestMemory::new_machine(&p2m)`, [`pvh::PvhImage::load`] it
//!    and [`start_info::write_start_info`] somewhere free in RAM below 4 GiB;
//! 4. start the vCPU in 32-bit protected mode, paging off, at `image.entry`
//!    with `%ebx` = the start info's address, nCR3 = `p2m.ncr3()` or
//!    EPTP = `p2m.eptp()`.

#![forbid(unsafe_code)]

pub mod object;
pub mod physmap;
mod event_words;
pub mod grant;
pub mod pvh;
pub mod start_info;
pub mod table;
pub mod time;

#[cfg(test)]
mod tests {
    use super::pvh::PvhImage;
    use super::pvh::testing::{ElfBuilder, Load};
    use super::start_info::{Module, StartInfo, write_start_info};
    use crate::mm::guest::P2mGuestMemory;
    use crate::mm::guest::fake::FakeFrames;
    use crate::mm::p2m::tests::FakeTables;
    use crate::mm::p2m::{Access, Format, Gfn, P2m, P2mType, PageSize};
    use abi::hvm::start_info::{HvmMemmapTableEntry, XEN_HVM_MEMMAP_TYPE_RAM};
    use abi::xen::{SIF_INITDOMAIN, SIF_PRIVILEGED};
    use alloc::vec;

    const MIB: u64 = 1 << 20;

    #[test]
    fn a_pvh_kernel_loads_through_the_p2m_and_finds_its_start_info() {
        for format in [Format::Npt, Format::Ept] {
            let mut tables = FakeTables::default();
            let mut p2m = P2m::new(format, &mut tables).unwrap();
            // 16 MiB of RAM from gfn 1 (page 0 stays unmapped), backed by machine frames from 256 MiB.
            p2m.map_range_fake(Gfn(1), 0x1_0001, 0xfff, P2mType::Ram, Access::all()).unwrap();
            p2m.map_hole(Gfn(0xfee00)).unwrap();
            assert_eq!(p2m.translate(Gfn(0x200)).unwrap().size, PageSize::Size2M);

            let bytes = ElfBuilder::new(true, 0x10_0000, vec![Load { paddr: 0x10_0000, data: b"KERNEL".to_vec(), memsz: 0x2_1000 }]).build();
            let image = PvhImage::parse("dom0", &bytes).unwrap();
            assert!(image.highest_address() <= 16 * MIB);

            let frames = FakeFrames::default();
            let mut mem = P2mGuestMemory::new(&p2m, &frames);
            image.load(&bytes, &mut mem).unwrap();
            let at = image.highest_address().next_multiple_of(4096);
            let memmap = [HvmMemmapTableEntry { addr: 0x1000, size: 16 * MIB - 0x1000, r#type: XEN_HVM_MEMMAP_TYPE_RAM, reserved: 0 }];
            let info = StartInfo {
                flags: SIF_PRIVILEGED | SIF_INITDOMAIN,
                cmdline: "console=hvc0",
                modules: &[Module { gpa: 0x80_0000, size: 4096, cmdline: "" }],
                memmap: &memmap,
                rsdp: 0,
            };
            let layout = write_start_info(&mut mem, at..at + 4096, &info).unwrap();

            // What the vCPU starts with: eip = entry, ebx = start info, all below 4 GiB.
            assert_eq!(image.entry, 0x10_0000);
            assert_eq!(layout.start_info, 0x12_1000);
            assert_eq!(frames.bytes(0x1_0100, 0, 6), b"KERNEL", "gpa 1 MiB is machine frame 0x10100");
            let si_mfn = p2m.translate(Gfn::from_gpa(layout.start_info)).unwrap().mfn;
            assert_eq!(frames.bytes(si_mfn.raw(), 0, 4), [0x78, 0xc5, 0x6e, 0x33]);
            if format == Format::Ept {
                assert_eq!(p2m.eptp() & !0xfff, p2m.root().addr());
            } else {
                assert_eq!(p2m.ncr3(), p2m.root().addr());
            }
            p2m.destroy();
            assert_eq!(tables.allocated, tables.freed);
        }
    }
}
