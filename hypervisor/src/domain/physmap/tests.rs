//! The physmap rules on real domains: the hypervisor's frame allocator over
//! host memory (`mm::testing`), real p2m tables, the real `mm::foreign`.
//! Each test checks that the free-frame count comes back exactly.

use super::super::object::Domain;
use crate::mm::frame::Mfn;
use crate::mm::handle::PinnedFrame;
use crate::mm::p2m::{Format, GFN_LIMIT, Gfn, P2mType};
use crate::mm::{self, testing};
use abi::errno::Errno;

/// An unprivileged domain with `pages` of RAM from gfn 0x100.
fn domain(id: u16, max_pages: u64, pages: u64) -> Domain {
    let mut d = Domain::new(id, false, Format::Npt, 1).expect("domain");
    d.max_pages = max_pages;
    for g in 0..pages {
        d.populate(0x100 + g, 0).expect("populate");
    }
    d
}

fn frame_at(d: &Domain, gfn: u64) -> Mfn {
    d.p2m.translate(Gfn(gfn)).expect("mapped").mfn
}

/// What the grant logic gets for RAM frame `gfn` of `d`: a pinned handle.
fn pin(d: &Domain, gfn: u64) -> PinnedFrame {
    d.p2m.ram_frame(Gfn(gfn), true).expect("RAM").pin().expect("pinned")
}

#[test]
fn a_self_grant_mapped_over_its_own_gfn_keeps_the_frame_until_the_unmap() {
    let _frames = testing::frames();
    let before = testing::free();
    let mut d = domain(1, 16, 4);
    let mfn = frame_at(&d, 0x101);
    let held = testing::free();
    d.map_grant(0x101, pin(&d, 0x101), false).expect("Xen maps it");
    let e = d.p2m.translate(Gfn(0x101)).unwrap();
    assert_eq!((e.p2m_type, e.mfn), (P2mType::GrantMap, mfn));
    assert_eq!(testing::free(), held, "the granted frame was not freed");
    assert_eq!(d.tot_pages, 3, "the owner let go of it: the grant mapping holds it");
    assert_eq!(mm::foreign::mappings(mfn), 1);
    // The lowest-first allocator must not hand the frame out now.
    let next = mm::alloc_frame().unwrap();
    assert_ne!(next.mfn(), mfn);
    mm::free_frame(next);
    assert_eq!(d.remove(0x101), Err(Errno::EINVAL), "only the grant unmap removes it");
    d.unmap_grant(0x101, mfn.raw()).unwrap();
    assert_eq!(testing::free(), held + 1, "the unmap freed it");
    assert_eq!(mm::foreign::mappings(mfn), 0);
    d.destroy();
    assert_eq!(testing::free(), before);
}

#[test]
fn a_self_grant_mapped_elsewhere_and_the_domain_destroyed_frees_every_frame_once() {
    let _frames = testing::frames();
    let before = testing::free();
    let mut d = domain(1, 16, 4);
    let mfn = frame_at(&d, 0x100);
    d.map_grant(0x500, pin(&d, 0x100), true).unwrap();
    d.map_grant(0x101, pin(&d, 0x100), false).unwrap();
    assert_eq!(mm::foreign::mappings(mfn), 2);
    d.destroy();
    assert_eq!(testing::free(), before);
    assert_eq!(mm::foreign::mappings(mfn), 0);
}

#[test]
fn a_failed_grant_mapping_drops_its_reference() {
    let _frames = testing::frames();
    let before = testing::free();
    let mut d = domain(1, 16, 2);
    let mfn = frame_at(&d, 0x100);
    assert_eq!(d.map_grant(GFN_LIMIT, pin(&d, 0x100), false), Err(Errno::EINVAL));
    d.map_grant(0x600, pin(&d, 0x100), false).unwrap();
    assert_eq!(d.map_grant(0x600, pin(&d, 0x100), false), Err(Errno::EINVAL), "not over a grant mapping");
    assert_eq!(mm::foreign::mappings(mfn), 1, "only the mapping that exists holds it");
    d.unmap_grant(0x600, mfn.raw()).unwrap();
    d.destroy();
    assert_eq!(testing::free(), before);
}

#[test]
fn a_grant_of_another_domain_outlives_its_granter_until_the_unmap() {
    let _frames = testing::frames();
    let before = testing::free();
    let granter = domain(1, 16, 2);
    let mut mapper = domain(2, 16, 2);
    let mfn = frame_at(&granter, 0x100);
    // Over the mapper's own RAM: that frame is freed, the granted one kept.
    mapper.map_grant(0x101, pin(&granter, 0x100), false).unwrap();
    assert_eq!(mapper.tot_pages, 1);
    granter.destroy();
    assert_eq!(mm::foreign::orphans(), 1, "the granted frame lives on for the mapper");
    mapper.unmap_grant(0x101, mfn.raw()).unwrap();
    assert_eq!(mm::foreign::orphans(), 0);
    mapper.destroy();
    assert_eq!(testing::free(), before);
}

#[test]
fn a_foreign_mapping_over_the_frame_it_maps_keeps_the_frame() {
    let _frames = testing::frames();
    let before = testing::free();
    let mut d = domain(1, 16, 2);
    let mfn = frame_at(&d, 0x100);
    d.map_foreign(0x100, pin(&d, 0x100)).unwrap();
    assert_eq!(d.p2m.translate(Gfn(0x100)).unwrap().p2m_type, P2mType::Foreign);
    assert_eq!(mm::foreign::mappings(mfn), 1);
    d.remove(0x100).unwrap();
    assert_eq!(mm::foreign::mappings(mfn), 0);
    d.destroy();
    assert_eq!(testing::free(), before);
}

#[test]
fn decrease_and_increase_reservation_in_a_loop_ends_in_enomem_and_gives_every_frame_back() {
    let _frames = testing::frames();
    let before = testing::free();
    // More allowance than the machine has: the machine runs out first.
    let mut d = domain(1, 1 << 20, 8);
    let mut outcome = Ok(());
    for i in 0..200_000u64 {
        let gfn = 0x100 + i % 8;
        d.remove(gfn).unwrap();
        outcome = d.reserve(0).and_then(|()| d.populate(gfn, 0));
        if outcome.is_err() {
            break;
        }
    }
    assert_eq!(outcome, Err(Errno::ENOMEM));
    assert!(d.reserved.frames() > 1000, "no heap per reserved frame: only the machine's frames bound it");
    assert_eq!(testing::free(), 0);
    d.destroy();
    assert_eq!(testing::free(), before);
}

#[test]
fn reserving_stops_at_max_pages() {
    let _frames = testing::frames();
    let before = testing::free();
    let mut d = domain(1, 6, 4);
    assert_eq!(d.reserve(1), Ok(()));
    assert_eq!(d.held_pages(), 6);
    assert_eq!(d.reserve(0), Err(Errno::ENOMEM));
    assert_eq!(d.reserve(10), Err(Errno::ENOMEM));
    d.destroy();
    assert_eq!(testing::free(), before);
}

#[test]
fn moving_a_frame_over_ram_frees_that_ram_once() {
    let _frames = testing::frames();
    let before = testing::free();
    let mut d = domain(1, 16, 3);
    let moved = frame_at(&d, 0x100);
    d.move_frame(0x100, 0x102).unwrap();
    assert_eq!(frame_at(&d, 0x102), moved);
    assert_eq!(d.tot_pages, 2);
    d.destroy();
    assert_eq!(testing::free(), before);
}

#[test]
fn a_pinned_frame_outlives_its_owner_and_the_last_pin_frees_it() {
    let _frames = testing::frames();
    let before = testing::free();
    let mut d = domain(1, 16, 2);
    let held = pin(&d, 0x100);
    let again = held.try_clone().unwrap();
    d.remove(0x100).unwrap();
    assert_eq!(mm::foreign::orphans(), 1, "decrease_reservation under a grant copy: the pin keeps it");
    mm::write_frame(&held, 0, b"still mine");
    drop(held);
    assert_eq!(mm::foreign::orphans(), 1);
    drop(again);
    assert_eq!(mm::foreign::orphans(), 0, "the last pin freed it");
    d.destroy();
    assert_eq!(testing::free(), before);
}

#[test]
fn a_grant_copy_refuses_a_read_only_destination_and_ranges_past_a_frame() {
    let _frames = testing::frames();
    let d = domain(1, 16, 2);
    let (a, b) = (pin(&d, 0x100), pin(&d, 0x101));
    mm::write_frame(&a, 100, b"granted");
    assert_eq!(mm::copy_between(&a, 100, &b, 4090, 6), Ok(()));
    assert_eq!(mm::copy_between(&a, 100, &b, 4091, 6), Err(mm::BadCopy));
    assert_eq!(mm::copy_between(&a, usize::MAX, &b, 0, 2), Err(mm::BadCopy));
    let ro = b.read_only();
    assert_eq!(mm::copy_between(&a, 0, &ro, 0, 8), Err(mm::BadCopy));
    assert_eq!(mm::frame_load_u64(&a, 96) >> 32, u64::from(u32::from_le_bytes(*b"gran")));
    drop((a, ro));
    d.destroy();
}

#[test]
fn shared_info_over_ram_inside_a_2m_extent_then_destroy_frees_every_frame_once() {
    let _frames = testing::frames();
    let before = testing::free();
    let mut d = Domain::new(1, false, Format::Npt, 1).expect("domain");
    d.max_pages = 2048;
    d.populate(0x200, 9).expect("a 2 MiB extent");
    d.populate(0x400, 9).expect("a 2 MiB extent");
    d.map_shared_info(0x2a3).expect("shared info over RAM");
    assert_eq!(d.tot_pages, 1023);
    d.map_shared_info(0x450).expect("moved over RAM again");
    assert_eq!(d.tot_pages, 1022);
    d.destroy();
    assert_eq!(testing::free(), before);
}
