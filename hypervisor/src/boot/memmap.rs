//! The boot memory map with what the boot path still uses taken out of free
//! RAM: a multiboot loader hands over its memory map as the firmware gave
//! it, with the hypervisor image, the modules and the loader's own
//! structures inside "usable" ranges (the `bootloader` crate marks those
//! itself).

#![forbid(unsafe_code)]

use crate::mm::{MemoryRegion, RegionKind};

const PAGE: u64 = 4096;

/// Copies `regions` into `out`, turning every page of a usable region that
/// overlaps one of `used` (start, end) into an in-use region. Returns the
/// count written and how many usable pieces had no room (dropping free RAM
/// is safe; an in-use piece is never dropped: it replaces the region it
/// was cut from).
pub fn carve(regions: &[MemoryRegion], used: &[(u64, u64)], out: &mut [MemoryRegion]) -> (usize, usize) {
    let mut count = regions.len().min(out.len());
    let mut dropped = regions.len() - count;
    out[..count].copy_from_slice(&regions[..count]);
    for &(start, end) in used.iter().filter(|(s, e)| e > s) {
        let (start, end) = (start & !(PAGE - 1), end.next_multiple_of(PAGE));
        let mut i = 0;
        while i < count {
            let r = out[i];
            if !r.is_usable() || r.end <= start || r.start >= end {
                i += 1;
                continue;
            }
            let before = MemoryRegion { start: r.start, end: start, kind: RegionKind::Usable };
            let cut = MemoryRegion { start: r.start.max(start), end: r.end.min(end), kind: RegionKind::InUse };
            let after = MemoryRegion { start: end, end: r.end, kind: RegionKind::Usable };
            let mut pieces = [MemoryRegion::EMPTY; 3];
            let (mut n, mut extra) = (0, 0);
            for piece in [before, cut, after] {
                if piece.start >= piece.end {
                    continue;
                }
                // `cut` takes `r`'s slot; each free piece needs one more.
                if piece.is_usable() {
                    if count + extra == out.len() {
                        dropped += 1;
                        continue;
                    }
                    extra += 1;
                }
                pieces[n] = piece;
                n += 1;
            }
            out.copy_within(i + 1..count, i + n);
            out[i..i + n].copy_from_slice(&pieces[..n]);
            count += n - 1;
            i += n;
        }
    }
    (count, dropped)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usable(start: u64, end: u64) -> MemoryRegion {
        MemoryRegion { start, end, kind: RegionKind::Usable }
    }
    fn in_use(start: u64, end: u64) -> MemoryRegion {
        MemoryRegion { start, end, kind: RegionKind::InUse }
    }

    #[test]
    fn used_ranges_are_cut_out_of_usable_memory_page_rounded() {
        let regions = [usable(0, 0x9_f000), MemoryRegion { start: 0xf_0000, end: 0x10_0000, kind: RegionKind::Firmware(2) }, usable(0x10_0000, 0x800_0000)];
        let mut out = [MemoryRegion::EMPTY; 16];
        let (n, dropped) = carve(&regions, &[(0x20_0000, 0x40_0123), (0x9000, 0x9074), (0xf_8000, 0xf_9000)], &mut out);
        assert_eq!(dropped, 0);
        assert_eq!(
            &out[..n],
            &[
                usable(0, 0x9000),
                in_use(0x9000, 0xa000),
                usable(0xa000, 0x9_f000),
                regions[1],
                usable(0x10_0000, 0x20_0000),
                in_use(0x20_0000, 0x40_1000),
                usable(0x40_1000, 0x800_0000),
            ]
        );
    }

    #[test]
    fn a_range_over_several_regions_cuts_each() {
        let regions = [usable(0x1000, 0x3000), usable(0x3000, 0x6000)];
        let mut out = [MemoryRegion::EMPTY; 8];
        let (n, _) = carve(&regions, &[(0x2000, 0x4000)], &mut out);
        assert_eq!(&out[..n], &[usable(0x1000, 0x2000), in_use(0x2000, 0x3000), in_use(0x3000, 0x4000), usable(0x4000, 0x6000)]);
    }

    #[test]
    fn a_whole_region_in_use_becomes_in_use_and_empty_ranges_do_nothing() {
        let mut out = [MemoryRegion::EMPTY; 4];
        let (n, _) = carve(&[usable(0x1000, 0x2000)], &[(0, 0x10_0000), (0x5000, 0x5000)], &mut out);
        assert_eq!(&out[..n], &[in_use(0x1000, 0x2000)]);
    }

    #[test]
    fn without_room_free_pieces_are_dropped_never_the_in_use_ones() {
        let mut out = [MemoryRegion::EMPTY; 2];
        let (n, dropped) = carve(&[usable(0, 0x10_0000), usable(0x20_0000, 0x30_0000)], &[(0x8000, 0x9000)], &mut out);
        assert_eq!(dropped, 2);
        assert_eq!(&out[..n], &[in_use(0x8000, 0x9000), usable(0x20_0000, 0x30_0000)]);
        assert!(out[..n].iter().all(|r| !r.is_usable() || r.end <= 0x8000 || r.start >= 0x9000));
    }
}
