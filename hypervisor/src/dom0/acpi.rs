//! Dom0's ACPI tables, rewritten as Xen's PVH Dom0 builder rewrites the
//! host's (xen/arch/x86/hvm/dom0_build.c, `pvh_setup_acpi`):
//! - a new MADT: the host MADT's header (revision at most 4), local APIC
//!   address 0xfee00000, flags 0, and one enabled local APIC entry per Dom0
//!   vCPU, APIC ID = vCPU id (as the emulated LAPIC reports it; Xen uses
//!   x2APIC entries with ID 2i). No I/O APIC entry and so no interrupt
//!   overrides: the hypervisor emulates no IOAPIC for Dom0 yet, and Linux
//!   ignores overrides without an IOAPIC;
//! - a new XSDT: the host root table's header (an RSDT's gets the `X`
//!   signature), revision 1, the new MADT first, then the host tables Xen
//!   lets through (FACP, PSDT, SSDT, SBST, MCFG, SLIC, MSDM, WDAT, FPDT,
//!   S3PT, TCPA, TPM2, VFCT and `OEMx`, those in the host's reserved or ACPI
//!   memory), so the host MADT, HPET, SRAT, DMAR... are hidden;
//! - a new RSDP (revision 2, the host's OEM id, no RSDT), which
//!   `hvm_start_info.rsdp_paddr` points at.
//!
//! All three are cut from the top of Dom0's highest RAM entry below 4 GiB
//! (MADT highest, then XSDT, then RSDP), which become one `ACPI` entry of
//! its memory map, as Xen's `pvh_steal_ram`/`pvh_add_mem_range` do. Unlike
//! Xen's byte-packed placement, the MADT and RSDP start on 16 bytes and the
//! XSDT's 64-bit entries are 8-byte aligned.

#![forbid(unsafe_code)]

use alloc::vec::Vec;

use abi::hvm::start_info::{HvmMemmapTableEntry, XEN_HVM_MEMMAP_TYPE_ACPI, XEN_HVM_MEMMAP_TYPE_RAM};

use crate::mm::{MemoryRegion, RegionKind};
use crate::platform::{HostAcpi, SdtHeader};

const HEADER: usize = 36;
const LAPIC_BASE: u32 = 0xfee0_0000;
const FOUR_GIB: u64 = 1 << 32;
/// Host tables Xen's builder passes on in Dom0's XSDT (`pvh_acpi_table_allowed`
/// without DSDT and FACS, which the FADT points at).
const PASSED: [&[u8; 4]; 13] =
    [b"FACP", b"PSDT", b"SSDT", b"SBST", b"MCFG", b"SLIC", b"MSDM", b"WDAT", b"FPDT", b"S3PT", b"TCPA", b"TPM2", b"VFCT"];

fn put_header(out: &mut Vec<u8>, h: &SdtHeader) {
    out.extend_from_slice(&h.signature);
    out.extend_from_slice(&h.length.to_le_bytes());
    out.push(h.revision);
    out.push(0);
    out.extend_from_slice(&h.oem_id);
    out.extend_from_slice(&h.oem_table_id);
    out.extend_from_slice(&h.oem_revision.to_le_bytes());
    out.extend_from_slice(&h.creator_id);
    out.extend_from_slice(&h.creator_revision.to_le_bytes());
}

/// Sets the table's length field and checksum (byte 9) once its body is in.
fn seal(table: &mut [u8]) {
    let len = u32::try_from(table.len()).unwrap_or(u32::MAX);
    table[4..8].copy_from_slice(&len.to_le_bytes());
    table[9] = 0;
    table[9] = checksum(table);
}

fn checksum(bytes: &[u8]) -> u8 {
    0u8.wrapping_sub(bytes.iter().fold(0u8, |s, b| s.wrapping_add(*b)))
}

/// Dom0's MADT for `vcpus` vCPUs, from the host MADT's header.
pub fn madt(host: &SdtHeader, vcpus: u8) -> Vec<u8> {
    let mut t = Vec::new();
    put_header(&mut t, &SdtHeader { signature: *b"APIC", revision: host.revision.min(4), ..*host });
    t.extend_from_slice(&LAPIC_BASE.to_le_bytes());
    t.extend_from_slice(&0u32.to_le_bytes()); // flags: no PCAT_COMPAT, as Xen's
    for id in 0..vcpus {
        // Processor Local APIC: type 0, length 8, UID, APIC ID, flags (enabled).
        t.extend_from_slice(&[0, 8, id, id]);
        t.extend_from_slice(&1u32.to_le_bytes());
    }
    seal(&mut t);
    t
}

/// Whether `[address, address + length)` is all in the host's reserved or
/// ACPI memory (Xen's `acpi_memory_banned`, negated).
fn in_firmware_memory(host: &[MemoryRegion], address: u64, length: u32) -> bool {
    let (start, end) = (address & !0xfff, (address + u64::from(length)).next_multiple_of(0x1000));
    let mut at = start;
    while at < end {
        let covered = host.iter().find(|r| matches!(r.kind, RegionKind::Firmware(2 | 3)) && r.start <= at && at < r.end);
        match covered {
            Some(r) => at = r.end.next_multiple_of(0x1000).max(at + 0x1000),
            None => return false,
        }
    }
    true
}

/// Whether Xen passes the host table on to Dom0's XSDT.
pub fn passed_on(signature: &[u8; 4]) -> bool {
    PASSED.contains(&signature) || signature.starts_with(b"OEM")
}

/// Dom0's XSDT: the new MADT at `madt_at`, then the host tables passed on.
pub fn xsdt(host: &HostAcpi, host_map: &[MemoryRegion], madt_at: u64) -> Vec<u8> {
    let mut t = Vec::new();
    let mut signature = host.root.signature;
    signature[0] = b'X';
    put_header(&mut t, &SdtHeader { signature, revision: 1, ..host.root });
    t.extend_from_slice(&madt_at.to_le_bytes());
    for table in host.tables.iter().filter(|t| passed_on(&t.signature) && in_firmware_memory(host_map, t.address, t.length)) {
        t.extend_from_slice(&table.address.to_le_bytes());
    }
    seal(&mut t);
    t
}

/// Dom0's RSDP (revision 2, 36 bytes) for the XSDT at `xsdt_at`.
pub fn rsdp(oem_id: [u8; 6], xsdt_at: u64) -> [u8; 36] {
    let mut r = [0u8; 36];
    r[0..8].copy_from_slice(b"RSD PTR ");
    r[9..15].copy_from_slice(&oem_id);
    r[15] = 2;
    r[20..24].copy_from_slice(&36u32.to_le_bytes());
    r[24..32].copy_from_slice(&xsdt_at.to_le_bytes());
    r[8] = checksum(&r[..20]);
    r[32] = checksum(&r);
    r
}

/// Dom0's three tables and where they go.
#[derive(Debug, PartialEq, Eq)]
pub struct Dom0Acpi {
    pub madt: (u64, Vec<u8>),
    pub xsdt: (u64, Vec<u8>),
    pub rsdp: (u64, [u8; 36]),
}

impl Dom0Acpi {
    /// The lowest address the tables use.
    pub fn start(&self) -> u64 {
        self.rsdp.0
    }
}

/// Builds Dom0's tables and places them at the top of its highest RAM entry
/// below 4 GiB in `memmap` (sorted), which it cuts and marks `ACPI`. None
/// when the host has no MADT or Dom0 no room.
pub fn build(host: &HostAcpi, host_map: &[MemoryRegion], vcpus: u8, memmap: &mut Vec<HvmMemmapTableEntry>) -> Option<Dom0Acpi> {
    let madt = madt(host.madt.as_ref()?, vcpus);
    let index = memmap.iter().rposition(|e| e.r#type == XEN_HVM_MEMMAP_TYPE_RAM && e.addr + e.size <= FOUR_GIB)?;
    let ram = memmap[index];
    let top = ram.addr + ram.size;
    let madt_at = top.checked_sub(madt.len() as u64)? & !0xf;
    let xsdt_len = HEADER as u64 + 8 * (1 + host.tables.len() as u64);
    // The entries at +36 on 8 bytes: the table starts at 4 mod 8.
    let xsdt_at = (madt_at.checked_sub(xsdt_len + 4)? & !7) + 4;
    let xsdt = xsdt(host, host_map, madt_at);
    let rsdp_at = xsdt_at.checked_sub(36)? & !0xf;
    // Never into the first MiB (Xen's rule too) nor below the entry.
    if rsdp_at < ram.addr.max(crate::mm::frame::LOW_MEMORY_END) {
        return None;
    }
    memmap[index].size = rsdp_at - ram.addr;
    let acpi = HvmMemmapTableEntry { addr: rsdp_at, size: top - rsdp_at, r#type: XEN_HVM_MEMMAP_TYPE_ACPI, reserved: 0 };
    memmap.insert(index + 1, acpi);
    if memmap[index].size == 0 {
        memmap.remove(index);
    }
    Some(Dom0Acpi { madt: (madt_at, madt), xsdt: (xsdt_at, xsdt), rsdp: (rsdp_at, rsdp(host.rsdp_oem_id, xsdt_at)) })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::platform::AcpiTableRef;
    use alloc::vec;

    pub(crate) const MIB: u64 = 1 << 20;

    pub(crate) fn hdr(signature: &[u8; 4], revision: u8) -> SdtHeader {
        SdtHeader {
            signature: *signature,
            length: 0,
            revision,
            checksum: 0x55,
            oem_id: *b"BOCHS ",
            oem_table_id: *b"BXPC    ",
            oem_revision: 1,
            creator_id: *b"BXPC",
            creator_revision: 1,
        }
    }

    /// QEMU's tables under SeaBIOS: an RSDT listing FACP, APIC, HPET, WAET,
    /// in reserved memory at 0x1ffe0000.
    pub(crate) fn qemu() -> (HostAcpi, Vec<MemoryRegion>) {
        let t = |s: &[u8; 4], address, length| AcpiTableRef { signature: *s, address, length };
        let host = HostAcpi {
            rsdp_oem_id: *b"BOCHS ",
            root: hdr(b"RSDT", 1),
            madt: Some(hdr(b"APIC", 1)),
            tables: vec![
                t(b"FACP", 0x1ffe_1ac0, 0x74),
                t(b"APIC", 0x1ffe_1b34, 0x90),
                t(b"HPET", 0x1ffe_1bc4, 0x38),
                t(b"WAET", 0x1ffe_1bfc, 0x28),
            ],
            facs: Some(0x1ffe_0000),
            pm1_control: [Some(0x604), None],
        };
        let map = vec![
            MemoryRegion { start: 0, end: 0x9_fc00, kind: RegionKind::Usable },
            MemoryRegion { start: MIB, end: 0x1ffe_0000, kind: RegionKind::Usable },
            MemoryRegion { start: 0x1ffe_0000, end: 0x2000_0000, kind: RegionKind::Firmware(2) },
        ];
        (host, map)
    }

    pub(crate) fn ram(addr: u64, size: u64) -> HvmMemmapTableEntry {
        HvmMemmapTableEntry { addr, size, r#type: XEN_HVM_MEMMAP_TYPE_RAM, reserved: 0 }
    }

    #[test]
    fn the_xsdt_passes_on_what_xen_passes_and_keeps_the_host_header() {
        let (host, map) = qemu();
        let x = xsdt(&host, &map, 0x0fff_ff00);
        assert_eq!(&x[0..4], b"XSDT", "an RSDT's header gets the XSDT signature");
        assert_eq!((x[8], &x[10..16]), (1, b"BOCHS ".as_slice()));
        assert_eq!(u32::from_le_bytes(x[4..8].try_into().unwrap()) as usize, x.len());
        assert_eq!(checksum(&x), 0);
        let entries: Vec<u64> = x[36..].chunks(8).map(|c| u64::from_le_bytes(c.try_into().unwrap())).collect();
        assert_eq!(entries, vec![0x0fff_ff00, 0x1ffe_1ac0], "the new MADT, then FACP; not the host APIC, HPET, WAET");
        // A table outside firmware memory is not passed on.
        let mut moved = host.clone();
        moved.tables[0].address = 0x100_0000;
        assert_eq!(xsdt(&moved, &map, 0x1000).len(), 36 + 8);
    }

    #[test]
    fn the_tables_are_cut_from_the_top_of_ram_below_4g_into_one_acpi_entry() {
        let (host, map) = qemu();
        let high = ram(FOUR_GIB, MIB);
        let mut memmap = vec![ram(0, 0x9_f000), ram(MIB, 255 * MIB), high];
        let t = build(&host, &map, 1, &mut memmap).unwrap();
        let top = 256 * MIB;
        assert!(t.madt.0 + t.madt.1.len() as u64 <= top && t.madt.0 + t.madt.1.len() as u64 + 16 > top);
        assert!(t.xsdt.0 + t.xsdt.1.len() as u64 <= t.madt.0 && t.xsdt.0 % 8 == 4);
        assert!(t.rsdp.0 + 36 <= t.xsdt.0 && t.rsdp.0 % 16 == 0);
        assert_eq!(memmap[1], ram(MIB, t.rsdp.0 - MIB));
        assert_eq!(memmap[2], HvmMemmapTableEntry { addr: t.rsdp.0, size: top - t.rsdp.0, r#type: XEN_HVM_MEMMAP_TYPE_ACPI, reserved: 0 });
        assert_eq!(memmap[3], high, "RAM above 4 GiB is not used");
        let r = &t.rsdp.1;
        assert_eq!((checksum(&r[..20]), checksum(r), r[15]), (0, 0, 2));
        assert_eq!(u64::from_le_bytes(r[24..32].try_into().unwrap()), t.xsdt.0);
        assert_eq!(checksum(&t.madt.1), 0);
    }

    #[test]
    fn no_host_madt_or_no_room_is_none() {
        let (mut host, map) = qemu();
        let mut small = vec![ram(0, 0x9_f000)];
        assert_eq!(build(&host, &map, 1, &mut small), None, "never in the first MiB");
        assert_eq!(small, vec![ram(0, 0x9_f000)]);
        host.madt = None;
        let mut memmap = vec![ram(MIB, MIB)];
        assert_eq!(build(&host, &map, 1, &mut memmap), None);
    }
}
