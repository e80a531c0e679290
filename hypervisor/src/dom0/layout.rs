//! Dom0's guest-physical layout, mirrored from the host memory map as Xen
//! does for a PVH Dom0: its RAM sits where the host has RAM, the firmware's
//! ranges (ACPI tables, BIOS) appear read-only at their own addresses, and the
//! holes below 4 GiB, where devices decode, are passed through, except the
//! interrupt controllers and timer the hypervisor keeps.

#![forbid(unsafe_code)]

use alloc::vec::Vec;

use crate::mm::{MemoryRegion, RegionKind};

const FOUR_GIB: u64 = 1 << 32;
const E820_ACPI: u32 = 3;
const E820_NVS: u32 = 4;
const PAGE: u64 = 4096;
/// Device pages the hypervisor keeps: IOAPIC, HPET, local APIC.
const HYPERVISOR_MMIO: [u64; 3] = [0xfec0_0000, 0xfed0_0000, 0xfee0_0000];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Use {
    /// Dom0 RAM, backed by frames the builder allocates.
    Ram,
    /// Identity-mapped read-only, listed with this E820 type.
    Firmware(u32),
    /// Identity-mapped writable, listed with this E820 type: ACPI and NVS
    /// ranges (Xen maps them so for a PVH Dom0), and the FACS's pages (the
    /// ACPI global lock the OS and firmware share), wherever they are.
    FirmwareWritable(u32),
    /// Identity-mapped device memory, uncached, not listed as RAM.
    Mmio,
    /// Host RAM beyond Dom0's share: unmapped, listed `UNUSABLE`.
    Unusable,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Range {
    pub start: u64,
    pub end: u64,
    pub what: Use,
}

/// Lays out Dom0 with `ram` bytes of RAM (rounded down to pages) over the
/// host map `host`. Returns the ranges sorted by address, and the RAM actually
/// placed (less than asked if the host has less).
pub fn layout(host: &[MemoryRegion], ram: u64, writable_pages: &[u64]) -> (Vec<Range>, u64) {
    let mut host: Vec<MemoryRegion> = host.iter().copied().filter(|r| r.end > r.start).collect();
    host.sort_by_key(|r| r.start);
    let mut out: Vec<Range> = Vec::new();
    let mut left = ram & !(PAGE - 1);
    for r in host.iter().filter(|r| r.is_ram()) {
        // From page 0, as Xen does: the BIOS data area Linux reads is in it.
        let start = r.start.next_multiple_of(PAGE);
        let end = r.end & !(PAGE - 1);
        if end <= start {
            continue;
        }
        let take = (end - start).min(left);
        // Host entries that only differ in who uses the RAM (free, or the
        // loader's) are one range for Dom0.
        let mut push = |range: Range| match out.last_mut() {
            Some(last) if last.what == range.what && last.end == range.start => last.end = range.end,
            _ => out.push(range),
        };
        if take > 0 {
            push(Range { start, end: start + take, what: Use::Ram });
        }
        // The host RAM Dom0 does not get is listed unusable, as Xen does, so
        // Dom0 places no BARs there.
        if start + take < end {
            push(Range { start: start + take, end, what: Use::Unusable });
        }
        left -= take;
    }
    for r in host.iter().filter(|r| r.start < FOUR_GIB) {
        if let RegionKind::Firmware(t) = r.kind {
            let start = r.start & !(PAGE - 1);
            let end = r.end.min(FOUR_GIB).next_multiple_of(PAGE);
            if matches!(t, E820_ACPI | E820_NVS) {
                out.push(Range { start, end, what: Use::FirmwareWritable(t) });
                continue;
            }
            // Read-only but for the writable pages in it.
            let mut at = start;
            let mut pages: Vec<u64> = writable_pages.iter().map(|p| p & !(PAGE - 1)).filter(|p| (start..end).contains(p)).collect();
            pages.sort_unstable();
            pages.dedup();
            for page in pages {
                if page > at {
                    out.push(Range { start: at, end: page, what: Use::Firmware(t) });
                }
                out.push(Range { start: page, end: page + PAGE, what: Use::FirmwareWritable(t) });
                at = page + PAGE;
            }
            if at < end {
                out.push(Range { start: at, end, what: Use::Firmware(t) });
            }
        }
    }
    // Holes below 4 GiB (from the VGA window up) are where devices decode.
    let mut cursor = 0xa_0000;
    for r in host.iter().filter(|r| r.end > 0xa_0000 && r.start < FOUR_GIB) {
        let start = r.start & !(PAGE - 1);
        if start > cursor {
            push_mmio(&mut out, cursor, start);
        }
        cursor = cursor.max(r.end.next_multiple_of(PAGE));
    }
    if cursor < FOUR_GIB {
        push_mmio(&mut out, cursor, FOUR_GIB);
    }
    out.sort_by_key(|r| r.start);
    (out, (ram & !(PAGE - 1)) - left)
}

/// Adds `[start, end)` as MMIO, cut around the hypervisor's own device pages.
fn push_mmio(out: &mut Vec<Range>, start: u64, end: u64) {
    let mut cursor = start;
    for page in HYPERVISOR_MMIO.iter().copied().filter(|p| (start..end).contains(p)) {
        if page > cursor {
            out.push(Range { start: cursor, end: page, what: Use::Mmio });
        }
        cursor = page + PAGE;
    }
    if cursor < end {
        out.push(Range { start: cursor, end, what: Use::Mmio });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1 << 20;

    /// QEMU's `pc` machine with 256 MiB under SeaBIOS, as the bootloader reports it.
    fn qemu_map() -> Vec<MemoryRegion> {
        let r = |start, end, kind| MemoryRegion { start, end, kind };
        vec![
            r(0, 0x9_fc00, RegionKind::Usable),
            r(0x9_fc00, 0xa_0000, RegionKind::Firmware(2)),
            r(0xf_0000, 0x10_0000, RegionKind::Firmware(2)),
            r(0x10_0000, 0x40_0000, RegionKind::InUse),
            r(0x40_0000, 0xffe_0000, RegionKind::Usable),
            r(0xffe_0000, 0x1000_0000, RegionKind::Firmware(2)),
            r(0xfffc_0000, 0x1_0000_0000, RegionKind::Firmware(2)),
        ]
    }

    #[test]
    fn ram_is_placed_where_the_host_has_ram_from_page_zero() {
        let (ranges, placed) = layout(&qemu_map(), 64 * MIB, &[]);
        assert_eq!(placed, 64 * MIB);
        let ram: Vec<_> = ranges.iter().filter(|r| r.what == Use::Ram).collect();
        assert_eq!((ram[0].start, ram[0].end), (0, 0x9_f000), "the low RAM whole pages, the EBDA's page not");
        assert!(ram.iter().all(|r| r.end <= 0xffe_0000));
        assert_eq!(ram.iter().map(|r| r.end - r.start).sum::<u64>(), 64 * MIB);
    }

    #[test]
    fn firmware_ranges_are_identity_mapped_with_their_type() {
        let (ranges, _) = layout(&qemu_map(), 16 * MIB, &[]);
        assert!(ranges.contains(&Range { start: 0xffe_0000, end: 0x1000_0000, what: Use::Firmware(2) }));
        assert!(ranges.contains(&Range { start: 0xf_0000, end: 0x10_0000, what: Use::Firmware(2) }));
    }

    #[test]
    fn holes_below_4g_are_mmio_except_the_hypervisors_devices() {
        let (ranges, _) = layout(&qemu_map(), 16 * MIB, &[]);
        assert!(ranges.contains(&Range { start: 0xa_0000, end: 0xf_0000, what: Use::Mmio }));
        let mmio: Vec<_> = ranges.iter().filter(|r| r.what == Use::Mmio).collect();
        for page in HYPERVISOR_MMIO {
            assert!(!mmio.iter().any(|r| (r.start..r.end).contains(&page)), "{page:#x} must stay the hypervisor's");
        }
        assert!(mmio.iter().any(|r| (r.start..r.end).contains(&0xfebf_f000)));
    }

    #[test]
    fn adjacent_host_ram_is_one_dom0_range() {
        let host = [
            MemoryRegion { start: 0x10_0000, end: 0x20_0000, kind: RegionKind::Usable },
            MemoryRegion { start: 0x20_0000, end: 0x30_0000, kind: RegionKind::InUse },
            MemoryRegion { start: 0x30_0000, end: 0x800_0000, kind: RegionKind::Usable },
        ];
        let (ranges, placed) = layout(&host, 16 * MIB, &[]);
        assert_eq!(placed, 16 * MIB);
        assert_eq!(ranges.iter().filter(|r| r.what == Use::Ram).count(), 1);
        assert!(ranges.contains(&Range { start: 0x10_0000, end: 0x110_0000, what: Use::Ram }));
    }

    #[test]
    fn acpi_and_nvs_ranges_and_the_facs_page_are_writable() {
        let mut host = qemu_map();
        host.push(MemoryRegion { start: 0x1000_0000, end: 0x1001_0000, kind: RegionKind::Firmware(4) });
        let (ranges, _) = layout(&host, 16 * MIB, &[0xffe_0040]);
        assert!(ranges.contains(&Range { start: 0x1000_0000, end: 0x1001_0000, what: Use::FirmwareWritable(4) }));
        assert!(ranges.contains(&Range { start: 0xffe_0000, end: 0xffe_1000, what: Use::FirmwareWritable(2) }));
        assert!(ranges.contains(&Range { start: 0xffe_1000, end: 0x1000_0000, what: Use::Firmware(2) }));
        let (ranges, _) = layout(&host, 16 * MIB, &[0xffe_5000]);
        assert!(ranges.contains(&Range { start: 0xffe_0000, end: 0xffe_5000, what: Use::Firmware(2) }));
        assert!(ranges.contains(&Range { start: 0xffe_5000, end: 0xffe_6000, what: Use::FirmwareWritable(2) }));
        assert!(ranges.contains(&Range { start: 0xffe_6000, end: 0x1000_0000, what: Use::Firmware(2) }));
    }

    #[test]
    fn host_ram_past_dom0s_share_is_unusable() {
        let (ranges, _) = layout(&qemu_map(), 16 * MIB, &[]);
        let unusable: Vec<_> = ranges.iter().filter(|r| r.what == Use::Unusable).map(|r| (r.start, r.end)).collect();
        let last_ram = ranges.iter().filter(|r| r.what == Use::Ram).map(|r| r.end).max().unwrap();
        assert_eq!(unusable, vec![(last_ram, 0xffe_0000)]);
        let (all, _) = layout(&qemu_map(), 1 << 40, &[]);
        assert!(!all.iter().any(|r| r.what == Use::Unusable));
    }

    #[test]
    fn ranges_never_overlap() {
        let (ranges, _) = layout(&qemu_map(), 1 << 40, &[]);
        for w in ranges.windows(2) {
            assert!(w[0].end <= w[1].start, "{:?} overlaps {:?}", w[0], w[1]);
        }
    }

    #[test]
    fn asking_for_more_ram_than_the_host_has_places_what_exists() {
        let (_, placed) = layout(&qemu_map(), 1 << 40, &[]);
        assert!(placed < 256 * MIB && placed > 200 * MIB);
    }
}
