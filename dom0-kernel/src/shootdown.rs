//! `test=tlb-shootdown`: Dom0 takes frames away from a DomU that runs on
//! another CPU and reuses them at once; the DomU (`demo tlb`, from
//! `autostart=tlb.cfg`) must never see one again.
//!
//! Each round moves a spare page of the DomU over the page it watches
//! (`XENMEM_add_to_physmap`, `XENMAPSPACE_gmfn`: one call, so the gfn is
//! never empty), which frees the frame it was reading; Dom0 then populates
//! pages of its own (the allocator hands out the lowest free frames, the
//! one just freed among them), writes a mark into each and checks that it
//! stays: a DomU still translating its gfn to that frame would overwrite it
//! with its pattern, or read the mark and say so. Then the spare is
//! populated again for the next round. Before the hypervisor had a remote
//! shootdown these moves were refused (-EBUSY) while the DomU ran.

use guest_rt::start_info::StartInfo;
use guest_rt::timer::Timer;
use guest_rt::{paging, println};

use crate::toolstack::{Toolstack, xen};

/// The DomU's watched gfn and its spares (`demo tlb`).
const WATCHED: u64 = 0x800;
const SPARES: u64 = 0x900;
const SPARE_COUNT: u64 = 64;
/// Pages Dom0 populates per round to catch the freed frame.
const CATCH: usize = 8;
const MARK: u64 = 0xd0d0_5a5a_0000_0000;

pub fn run(ts: &mut Toolstack, timer: &Timer, si: &StartInfo, rounds: u64) {
    match check(ts, timer, si, rounds) {
        Ok(()) => println!("dom0: tlb-shootdown: {rounds} frames taken from the running DomU and reused; it never saw one again"),
        Err(why) => println!("dom0: tlb-shootdown: FAILED: {why}"),
    }
}

fn check(ts: &mut Toolstack, timer: &Timer, si: &StartInfo, rounds: u64) -> Result<(), alloc::string::String> {
    let domid = ts.find("tlb").ok_or("no domain \"tlb\" (autostart=tlb.cfg)")?;
    let addr = si.unlisted_address().ok_or("no free guest-physical address of ours")?;
    if !paging::map_identity_2mib(addr) {
        return Err("cannot map our catch pages".into());
    }
    // Let it boot and start watching.
    let _ = ts.wait(timer, 500);
    for line in ts.reap() {
        println!("{line}");
    }
    // It spins alone on its AP: running at once or after a slice boundary.
    let running = |id: u16| xen::vcpu_info(id, 0).is_ok_and(|v| v.running != 0);
    if !(0..100).any(|_| running(domid)) {
        return Err("the DomU is not running on its CPU".into());
    }
    let ours: alloc::vec::Vec<u64> = (0..CATCH as u64).map(|i| (addr >> 12) + i).collect();
    for round in 0..rounds {
        let spare = SPARES + round % SPARE_COUNT;
        xen::move_frame(domid, spare, WATCHED).map_err(|e| alloc::format!("round {round}: moving gfn {spare:#x} over {WATCHED:#x}: {e}"))?;
        let mut gfns = ours.clone();
        xen::populate(0, &mut gfns, 0).map_err(|e| alloc::format!("round {round}: populating our pages: {e}"))?;
        for (i, gfn) in ours.iter().enumerate() {
            let p = (gfn << 12) as *mut u64;
            // SAFETY: our own page, just populated and identity-mapped.
            unsafe { p.write_volatile(MARK | i as u64) };
        }
        // Give a stale translation on the DomU's CPU time to show (and the
        // DomU time to see the fresh page, on a loaded host too).
        for _ in 0..20_000 {
            core::hint::spin_loop();
        }
        for (i, gfn) in ours.iter().enumerate() {
            let p = (gfn << 12) as *mut u64;
            // SAFETY: as above.
            let seen = unsafe { p.read_volatile() };
            if seen != MARK | i as u64 {
                return Err(alloc::format!("round {round}: our page at gfn {gfn:#x} holds {seen:#x}: the DomU wrote into a frame it had lost"));
            }
        }
        let mut gfns = ours.clone();
        xen::decrease_reservation(0, &mut gfns).map_err(|e| alloc::format!("round {round}: giving our pages back: {e}"))?;
        xen::populate(domid, &mut [spare], 0).map_err(|e| alloc::format!("round {round}: a new spare at {spare:#x}: {e}"))?;
    }
    if !(0..100).any(|_| running(domid)) {
        return Err("the DomU stopped".into());
    }
    Ok(())
}
