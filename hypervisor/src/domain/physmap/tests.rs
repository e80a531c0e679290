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

// Dom0's toolstack on its own physmap (dom0-kernel/src/toolstack): a 2 MiB
// window that is only 4 KiB aligned and a console page ballooned out at
// start, then, for each domain it builds, the new domain's frames mapped
// there (XENMAPSPACE_gmfn_foreign) and removed again
// (XENMEM_remove_from_physmap), with domains destroyed in between. After
// every step every other gfn of Dom0 maps what it did, and no frame that a
// p2m still maps (or uses as a table) is free in the allocator.

use crate::mm::handle::{DeviceKind, DeviceRange};
use crate::mm::p2m::Access;
use std::collections::{BTreeMap, BTreeSet};

/// Each gfn a domain maps, in order: gfn, frame (number), type, access.
type View = Vec<(u64, u64, P2mType, Access)>;

/// Dom0's RAM top in the tests (8 MiB).
const DOM0_END: u64 = 0x800;

/// Dom0 as `dom0::build` maps it: RAM below 0x9f, firmware at 0xe0..0x100,
/// RAM from 0x100 to `DOM0_END`, in 2 MiB runs where the gfn is aligned.
fn dom0(format: Format) -> Domain {
    let mut d = Domain::new(0, true, format, 1).expect("dom0");
    for (start, end) in [(0, 0x9f), (0x100, DOM0_END)] {
        let mut g = start;
        while g < end {
            let run = if g.is_multiple_of(512) && end - g >= 512 { mm::alloc_run(512, 512) } else { None };
            let run = run.or_else(|| mm::alloc_run(1, 1)).expect("RAM for dom0");
            let count = run.frames();
            d.p2m.map_ram(Gfn(g), run).map_err(|(e, _)| e).expect("mapped");
            d.tot_pages += count;
            g += count;
        }
    }
    let firmware = DeviceRange::new(0xe_0000, 0x20, DeviceKind::Firmware).expect("firmware below 1 MiB");
    d.p2m.map_device(Gfn(0xe0), firmware).expect("firmware mapped");
    d.max_pages = d.tot_pages;
    d
}

/// A domain being built: 1024 frames in 2 MiB extents from gfn 0.
fn domu(id: u16, format: Format) -> Domain {
    let mut d = Domain::new(id, false, format, 1).expect("domU");
    d.max_pages = 2048;
    d.populate(0, 9).expect("2 MiB");
    d.populate(0x200, 9).expect("2 MiB");
    d
}

fn view(d: &Domain) -> View {
    let mut v = View::new();
    d.p2m.for_each_leaf(|gfn, e| {
        for i in 0..e.size.frames() {
            v.push((gfn.0 + i, e.mfn.raw() + i, e.p2m_type, e.access));
        }
    });
    v
}

/// `d` maps what `before` says at every gfn not in `touched`.
fn assert_unchanged_except(before: &View, d: &Domain, touched: &BTreeSet<u64>, what: &str) {
    let now = view(d);
    let keep = |v: &View| v.iter().filter(|e| !touched.contains(&e.0)).copied().collect::<Vec<_>>();
    let same = before.iter().filter(|e| !touched.contains(&e.0)).eq(now.iter().filter(|e| !touched.contains(&e.0)));
    if !same {
        let (was, is) = (keep(before), keep(&now));
        let diff: Vec<_> = was.iter().filter(|e| !is.contains(e)).take(4).collect();
        let new: Vec<_> = is.iter().filter(|e| !was.contains(e)).take(4).collect();
        panic!("{what}: other gfns changed: lost {diff:x?}, gained {new:x?}");
    }
}

/// No frame that one of `domains` maps (RAM, foreign, grant), uses as a
/// p2m table, or owns as a special frame is free: every free frame is
/// taken from the allocator, checked, and given back.
fn assert_nothing_in_use_is_free(domains: &[&Domain], what: &str) {
    // frame -> (domain, what: a gfn, or None for the p2m's tables and the
    // special frames)
    let mut used = BTreeMap::new();
    for d in domains {
        for (g, mfn, t, _) in view(d) {
            if matches!(t, P2mType::Ram | P2mType::Foreign | P2mType::GrantMap) {
                used.insert(mfn, (d.id, Some(g)));
            }
            if t == P2mType::Foreign {
                assert!(mm::foreign::mappings(frame_at(d, g)) > 0, "{what}: d{} gfn {g:#x} maps {mfn:#x} without a reference", d.id);
            }
        }
        for t in crate::mm::p2m::tests::table_mfns(&d.p2m) {
            used.insert(t.raw(), (d.id, None));
        }
        used.insert(d.shared_info.mfn().raw(), (d.id, None));
        for (f, _) in &d.grant_frames {
            used.insert(f.mfn().raw(), (d.id, None));
        }
    }
    let mut taken = Vec::new();
    while let Some(f) = mm::alloc_frame() {
        if let Some(who) = used.get(&f.mfn().raw()) {
            panic!("{what}: frame {} is free but in use by (domain, gfn or table/special) {who:x?}", f.mfn());
        }
        taken.push(f);
    }
    taken.into_iter().for_each(mm::free_frame);
}

/// Dom0's window and console page ballooned out, as `Toolstack::new`
/// does; checks every step. Returns the window's gfns.
fn balloon_out(d0: &mut Domain, window: u64, console: u64) -> Vec<u64> {
    let gfns: Vec<u64> = (window..window + 512).chain([console]).collect();
    let before = view(d0);
    let mut touched = BTreeSet::new();
    for &g in &gfns {
        d0.remove(g).expect("decrease_reservation");
        touched.insert(g);
        assert_eq!(d0.p2m.translate(Gfn(g)), None);
        assert_unchanged_except(&before, d0, &touched, &format!("ballooning out {g:#x}"));
    }
    assert_nothing_in_use_is_free(&[d0], "ballooned out");
    gfns[..512].to_vec()
}

/// Frames of `u` (from gfn `from`) mapped at `at` of Dom0 as the
/// builder's `ForeignMemory::show` does; the other gfns checked after each
/// page if `every_step`, else after the run.
fn map_foreign_run(d0: &mut Domain, u: &Domain, from: u64, at: &[u64], every_step: bool) {
    let before = view(d0);
    let mut touched = BTreeSet::new();
    for (i, &g) in at.iter().enumerate() {
        let frame = u.p2m.ram_frame(Gfn(from + i as u64), false).expect("RAM").pin().expect("pinned");
        let mfn = frame.mfn();
        d0.map_foreign(g, frame).expect("gmfn_foreign");
        let e = d0.p2m.translate(Gfn(g)).expect("mapped");
        assert_eq!((e.mfn, e.p2m_type, e.access), (mfn, P2mType::Foreign, Access::all()));
        touched.insert(g);
        if every_step {
            assert_unchanged_except(&before, d0, &touched, &format!("mapping at {g:#x}"));
        }
    }
    assert_unchanged_except(&before, d0, &touched, "mapping foreign frames");
}

/// Each of `at` removed from Dom0's physmap, as `ForeignMemory::hide`;
/// checked as in `map_foreign_run`.
fn unmap_run(d0: &mut Domain, at: &[u64], every_step: bool) {
    let before = view(d0);
    let mut touched = BTreeSet::new();
    for &g in at {
        d0.remove(g).expect("remove_from_physmap");
        touched.insert(g);
        assert_eq!(d0.p2m.translate(Gfn(g)), None);
        if every_step {
            assert_unchanged_except(&before, d0, &touched, &format!("removing {g:#x}"));
        }
    }
    assert_unchanged_except(&before, d0, &touched, "removing foreign frames");
}

#[test]
fn the_toolstack_window_sequence_changes_no_other_dom0_gfn_and_frees_nothing_in_use() {
    let _frames = testing::frames();
    for format in [Format::Npt, Format::Ept] {
        for (window, console) in [(0x1a0, 0x3a0), (0x101, 0x90), (0x3ff, 0x5ff), (0x200, 0x400)] {
            let before = testing::free();
            let mut d0 = dom0(format);
            let gfns = balloon_out(&mut d0, window, console);
            let ballooned = testing::free();
            // (pages, destroy the domain before the unmap)
            let rounds = [(1, false), (512, false), (1, true), (512, true), (37, false), (300, true), (2, false)];
            for ((round, (n, destroy_first)), id) in rounds.into_iter().enumerate().zip(1u16..) {
                let u = domu(id, format);
                let at = &gfns[..n];
                // Every step checked in the first round, after each run in
                // the others.
                let every_step = round == 0;
                map_foreign_run(&mut d0, &u, 0, at, every_step);
                assert_nothing_in_use_is_free(&[&d0, &u], "mapped");
                if destroy_first {
                    u.destroy();
                    assert_eq!(mm::foreign::orphans(), n, "its frames live on for dom0");
                    assert_nothing_in_use_is_free(&[&d0], "mapper alive, owner destroyed");
                    unmap_run(&mut d0, at, every_step);
                    assert_eq!(mm::foreign::orphans(), 0);
                } else {
                    unmap_run(&mut d0, at, every_step);
                    assert_nothing_in_use_is_free(&[&d0, &u], "unmapped, owner alive");
                    u.destroy();
                }
                assert_nothing_in_use_is_free(&[&d0], "round done");
                assert_eq!(testing::free(), ballooned, "round {round} gave every frame back");
            }
            // The first and last window frame alone, and re-mapped over an
            // existing foreign mapping.
            let u = domu(20, format);
            let ends = [gfns[0], gfns[511]];
            map_foreign_run(&mut d0, &u, 7, &ends, true);
            map_foreign_run(&mut d0, &u, 100, &ends, true);
            assert_nothing_in_use_is_free(&[&d0, &u], "re-mapped");
            unmap_run(&mut d0, &ends, true);
            u.destroy();
            assert_eq!(testing::free(), ballooned);
            // populate_physmap back into the hole: whole 2 MiB extents where
            // the window covers one, 4 KiB frames elsewhere.
            let before_back = view(&d0);
            let mut touched = BTreeSet::new();
            let mut g = window;
            while g < window + 512 {
                let order = if g.is_multiple_of(512) && g + 512 <= window + 512 { 9 } else { 0 };
                d0.populate(g, order).expect("populate back");
                touched.extend(g..g + (1 << order));
                // Each step near the window's ends and 2 MiB boundaries.
                if (g - window) % 128 < 4 || (g + 1) % 512 == 0 || window + 512 - g <= 4 {
                    assert_unchanged_except(&before_back, &d0, &touched, &format!("populating {g:#x}"));
                }
                g += 1 << order;
            }
            assert_unchanged_except(&before_back, &d0, &touched, "populated back");
            d0.populate(console, 0).expect("console page back");
            touched.insert(console);
            assert_unchanged_except(&before_back, &d0, &touched, "console back");
            d0.flush();
            assert_nothing_in_use_is_free(&[&d0], "ballooned back in");
            assert_eq!(d0.tot_pages, d0.max_pages);
            d0.destroy();
            assert_eq!(testing::free(), before, "{format:?} window {window:#x}");
        }
    }
}

/// The console page and the window mapping the same frame of a domain
/// (its console ring, seen while it is built), the domain destroyed, then
/// both removed; Dom0's shared info and a grant frame mapped inside one of
/// its 2 MiB leaves, and a frame moved there (XENMAPSPACE_gmfn), in
/// between. No other gfn of Dom0 changes, no frame in use is free.
#[test]
fn one_frame_at_the_window_and_the_console_page_then_special_frames_in_a_2m_leaf() {
    let _frames = testing::frames();
    for format in [Format::Npt, Format::Ept] {
        let before = testing::free();
        let mut d0 = dom0(format);
        let (window, console) = (0x1a0, 0x3a0);
        let gfns = balloon_out(&mut d0, window, console);
        let ballooned = testing::free();
        let u = domu(1, format);
        for g in [gfns[0], gfns[511], console, gfns[1]] {
            map_foreign_run(&mut d0, &u, 0x3ff, &[g], true);
        }
        map_foreign_run(&mut d0, &u, 0x3fe, &[gfns[2]], true);
        assert_eq!(mm::foreign::mappings(frame_at(&u, 0x3ff)), 4);
        u.destroy();
        assert_eq!(mm::foreign::orphans(), 2);
        assert_nothing_in_use_is_free(&[&d0], "four mappings of one frame, owner gone");
        unmap_run(&mut d0, &[gfns[0], gfns[511], gfns[1], gfns[2]], true);
        assert_nothing_in_use_is_free(&[&d0], "the console page still maps it");
        assert_eq!(mm::foreign::orphans(), 1, "the console's frame");
        unmap_run(&mut d0, &[console], true);
        assert_eq!(mm::foreign::orphans(), 0);
        assert_eq!(testing::free(), ballooned);

        // Special frames and a move inside the 2 MiB leaf at 0x400.
        let base = view(&d0);
        let mut touched = BTreeSet::from([0x455, 0x456, 0x5a0, 0x5a1]);
        d0.map_shared_info(0x455).expect("shared info over RAM");
        d0.map_grant_frame(0, 0x456).expect("grant frame over RAM");
        d0.move_frame(0x5a0, 0x5a1).expect("a RAM frame moved over another");
        assert_eq!(d0.p2m.translate(Gfn(0x5a0)), None);
        assert_unchanged_except(&base, &d0, &touched, "special frames and a move");
        assert_nothing_in_use_is_free(&[&d0], "special frames and a move");
        d0.map_shared_info(0x3a0).expect("shared info moved to the console page");
        touched.insert(0x3a0);
        assert_eq!(d0.p2m.translate(Gfn(0x455)), None, "moved away");
        assert_unchanged_except(&base, &d0, &touched, "shared info moved");
        assert_nothing_in_use_is_free(&[&d0], "shared info moved");
        d0.destroy();
        assert_eq!(testing::free(), before, "{format:?}");
    }
}
