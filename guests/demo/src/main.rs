//! A demo DomU: a PVH kernel that says hello with its domain id, then ticks
//! on its console every `interval=MS` (default 1000) on Xen's one-shot
//! timer, blocked in between; what was typed on its PV console (`xl
//! console` in Dom0's shell) is echoed at the next tick. `interval=0`
//! blocks for good with no timer. `ticks=N` powers off after N ticks,
//! `crash-after=N` crashes (SHUTDOWN_crash) after N, as a toolstack's
//! on_poweroff / on_crash tests need. `scrub` checks that none of its RAM
//! above its image holds what a previous domain left there (a page
//! starting with [`kernel::MARK`]), marks every such page
//! for the next domain to look for, and powers off. `spin` is CPU-bound
//! for good (never blocks), on `vcpus=N` vCPUs, for the scheduler's tests. `smp=N` starts
//! vCPUs 1..N (VCPUOP_initialise + up), each of them and vCPU 0 sums its own
//! slice of 0..N*2^22, and vCPU 0 checks every sum and says how many ran.
//! `schedbench count=N` and `hcbench ms=M` are the scheduler's benchmarks
//! (`kernel/bench.rs`).
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
guest_rt::entry!("demo", kernel::kmain);

#[cfg(target_os = "none")]
mod kernel {
    use abi::cpuid::XEN_HVM_CPUID_DOMID_PRESENT;
    use abi::sched::SHUTDOWN_CRASH;
    use guest_rt::{cmdline, cpu, println};

    mod bench;

    /// What `scrub` leaves at the start of every page it filled.
    pub const MARK: [u8; 16] = *b"scrub: not mine!";

    /// The pages of RAM above this kernel that no module occupies.
    fn free_pages(si: &guest_rt::start_info::StartInfo) -> impl Iterator<Item = u64> + '_ {
        let start = guest_rt::paging::kernel_end().next_multiple_of(4096);
        let in_module = move |page: u64| {
            (0..si.info.nr_modules).filter_map(|i| si.module(i)).any(|m| {
                let at = m.data.as_ptr() as u64;
                page < at + m.data.len() as u64 && at < page + 4096
            })
        };
        si.memmap()
            .iter()
            .filter(|e| e.r#type == abi::hvm::start_info::XEN_HVM_MEMMAP_TYPE_RAM)
            .flat_map(move |e| {
                let first = e.addr.max(start).next_multiple_of(4096);
                let end = (e.addr + e.size).min(guest_rt::start_info::MAPPED_END);
                (first..end.saturating_sub(4095)).step_by(4096)
            })
            .filter(move |&p| !in_module(p))
    }

    fn scrub(si: &guest_rt::start_info::StartInfo) {
        let (mut pages, mut found) = (0u64, 0u64);
        for page in free_pages(si) {
            let p = page as *mut [u8; 16];
            // SAFETY: RAM the memory map gives this domain, above its kernel and outside its modules: identity-mapped and used by nothing else here.
            unsafe {
                if p.read_volatile() == MARK {
                    found += 1;
                }
                p.write_volatile(MARK);
            }
            pages += 1;
        }
        if found == 0 {
            println!("demo: scrub: {pages} pages of RAM were clean; marked them");
        } else {
            println!("demo: scrub: FOUND a previous domain's data in {found} of {pages} pages");
        }
    }

    /// `tlb` (Dom0's `test=tlb-shootdown`): reads and writes its page at
    /// gfn [`TLB_GFN`] for ever while Dom0 keeps replacing the frame behind
    /// it and reusing the old one. It must only ever see its own pattern
    /// or a fresh page (zeros: it writes the pattern again); anything else
    /// is a frame it lost, seen through a stale translation.
    fn tlb() -> ! {
        /// gfn 0x800 (8 MiB), which Dom0's test replaces; 0x900.. are its
        /// spare pages, which it moves there. Nothing else here uses them.
        const TLB_GFN: u64 = 0x800;
        const PATTERN: u64 = 0x7e57_7e57_d0d0_0001;
        let page = (TLB_GFN << 12) as *mut u64;
        println!("demo: tlb: watching gfn {TLB_GFN:#x}");
        let mut fresh = 0u64;
        loop {
            // SAFETY: identity-mapped RAM of this domain (its config gives it 16 MiB) that nothing else here uses.
            let seen = unsafe { page.read_volatile() };
            if seen == PATTERN {
                core::hint::spin_loop();
                continue;
            }
            if seen != 0 {
                println!("demo: tlb: FOUND {seen:#x} at gfn {TLB_GFN:#x}: a frame that is no longer ours");
                guest_rt::shutdown(SHUTDOWN_CRASH);
            }
            // SAFETY: as above.
            unsafe { page.write_volatile(PATTERN) };
            fresh += 1;
            if fresh.is_multiple_of(10) {
                println!("demo: tlb: {fresh} fresh pages seen");
            }
        }
    }

    mod smp {
        use core::sync::atomic::{AtomicU64, Ordering};
        use guest_rt::println;

        /// Numbers each vCPU sums.
        const SLICE: u64 = 1 << 22;
        const MAX: usize = guest_rt::smp::MAX_VCPUS as usize;
        static SUMS: [AtomicU64; MAX] = [const { AtomicU64::new(0) }; MAX];
        static DONE: AtomicU64 = AtomicU64::new(0);

        fn work(id: u32) {
            let first = u64::from(id) * SLICE;
            let mut sum = 0u64;
            for k in first..first + SLICE {
                sum = sum.wrapping_add(core::hint::black_box(k));
            }
            SUMS[id as usize].store(sum, Ordering::Relaxed);
            DONE.fetch_or(1 << id, Ordering::Release);
        }

        pub fn run(n: u32) {
            if n == 0 || n as usize > MAX {
                println!("demo: smp: smp={n}: 1..={MAX} vCPUs");
                return;
            }
            for id in 1..n {
                if let Err(e) = guest_rt::smp::start(id, work) {
                    println!("demo: smp: vCPU {id}: {} returned {:#x}", e.what, e.rc);
                    return;
                }
            }
            work(0);
            let all = (1u64 << n) - 1;
            let deadline = guest_rt::timer::now_ns() + 60_000_000_000;
            while DONE.load(Ordering::Acquire) != all && guest_rt::timer::now_ns() < deadline {
                guest_rt::hypercall::sched_yield();
            }
            let done = DONE.load(Ordering::Acquire);
            let right = (0..n).filter(|&id| {
                let first = u64::from(id) * SLICE;
                // The sum of first..first+SLICE.
                let want = SLICE * first + SLICE * (SLICE - 1) / 2;
                done & (1 << id) != 0 && SUMS[id as usize].load(Ordering::Relaxed) == want
            });
            let right = right.count();
            println!("demo: smp: {} of {n} vCPUs ran, {right} sums right", done.count_ones());
        }
    }

    pub fn kmain(boot: &guest_rt::Boot) {
        let Some(hv) = boot.hv else {
            println!("demo: no hypervisor found");
            return;
        };
        let leaf4 = cpu::cpuid(hv.cpuid_base + 4, 0);
        let domid = if leaf4.eax & XEN_HVM_CPUID_DOMID_PRESENT != 0 { leaf4.ecx } else { u32::MAX };
        let line = boot.si.cmdline();
        let number = |key| cmdline::number(line, key).ok().flatten();
        let interval = number("interval").unwrap_or(1000);
        let ticks = number("ticks");
        let crash_after = number("crash-after");
        println!("demo: hello from domain {domid}, cmdline \"{line}\"");
        if cmdline::flag(line, "scrub") {
            scrub(&boot.si);
            return;
        }
        if cmdline::flag(line, "tlb") {
            tlb();
        }
        if cmdline::flag(line, "schedbench") {
            bench::sched(number("count").unwrap_or(2000));
            return;
        }
        if cmdline::flag(line, "hcbench") {
            bench::hypercalls(number("ms").unwrap_or(1000));
            return;
        }
        if let Some(n) = number("smp") {
            smp::run(u32::try_from(n).unwrap_or(0));
            return;
        }
        if cmdline::flag(line, "spin") {
            // `spin vcpus=N`: vCPUs 1..N spin too.
            let vcpus = number("vcpus").unwrap_or(1);
            for id in 1..u32::try_from(vcpus).unwrap_or(1) {
                if let Err(e) = guest_rt::smp::start(id, |_| loop {
                    core::hint::spin_loop();
                }) {
                    println!("demo: spin: vCPU {id}: {} returned {:#x}", e.what, e.rc);
                }
            }
            println!("demo: domain {domid} spins on {vcpus} vCPU{}", if vcpus == 1 { "" } else { "s" });
            loop {
                core::hint::spin_loop();
            }
        }
        if let Some(m) = boot.si.module(0) {
            let first = m.data.split(|&b| b == b'\n').next().unwrap_or(&[]);
            let first = core::str::from_utf8(&first[..first.len().min(60)]).unwrap_or("<binary>");
            println!("demo: a ramdisk of {} bytes, first line: {first}", m.data.len());
        }
        let timer = match guest_rt::timer::Timer::new() {
            Ok(t) => t,
            Err(e) => {
                println!("demo: {} returned {:#x}", e.what, e.rc);
                return;
            }
        };
        if interval == 0 {
            // `interval=0`: no timer; only its toolstack can end it.
            println!("demo: blocking for good");
            timer.block_for_good();
        }
        let mut tick = 0u64;
        loop {
            if let Err(e) = timer.sleep_ms(interval) {
                println!("demo: {} returned {:#x}", e.what, e.rc);
                return;
            }
            tick += 1;
            println!("demo: domain {domid} tick {tick}");
            let mut input = [0u8; 64];
            let n = guest_rt::pvconsole::read(&mut input);
            if n > 0 {
                let text = core::str::from_utf8(&input[..n]).unwrap_or("(not UTF-8)");
                println!("demo: domain {domid} read {n} bytes of input: {text:?}");
            }
            if crash_after.is_some_and(|n| tick >= n) {
                println!("demo: crashing on purpose");
                guest_rt::shutdown(SHUTDOWN_CRASH);
            }
            if ticks.is_some_and(|n| tick >= n) {
                println!("demo: {tick} ticks done, powering off");
                return;
            }
        }
    }
}

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("demo is a PVH guest kernel: build it for x86_64-unknown-none");
    std::process::exit(2);
}
