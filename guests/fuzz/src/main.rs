//! The hypercall fuzzer: a PVH kernel that makes `count` random hypercalls
//! generated from `seed` (command line `seed=N count=M`, defaults 1 and
//! 100000; `trace=K` prints every call from the K-th of the whole run on, counting
//! across seeds, and checks the scratch area after each), skipping the ones `fuzz::exclude` lists, and checks that it is
//! still alive and unchanged: every 10000 calls it prints a progress line,
//! calls xen_version and compares a hash of its own code with the one taken
//! at boot; before every refill of its scratch area it has the hypervisor
//! write each scratch page, so a call that took one away is named (the
//! calls since the last refill are printed) instead of the refill dying. At the end: `fuzz: seed=N, M calls done, still alive`, a
//! coverage table (per hypercall and sub-op: calls, non-error returns),
//! then power off. `seeds=K` runs K seeds from `seed` on, `count` calls
//! each (`fuzz: K seeds, T calls done, still alive`). `learn` first sets up
//! grant frame 0 with entries granting its own pages to itself, unbound
//! ports, and notes its gfns and vCPU ids; those valid handles are then mixed
//! into the arguments with the bad ones (without `learn` a seed gives the
//! same calls as before). `user` makes one call in 16 (`user=N`: one in N)
//! from CPL 3 instead, picked by a stream of its own from the seed (so the
//! calls are the ones the seed makes without it): each must come back
//! -EPERM whatever its number and arguments (Xen's `hvm_hypercall` refuses
//! every hypercall from CPL > 0 before it looks at them), else the run
//! prints `fuzz: CPL 3 call not refused: ...`. Those calls skip the
//! exclusions below: refused, none of them can stop this domain. It runs as
//! Dom0 or as a DomU (`configs/fuzz.cfg`).
//!
//! Argument pointers point into a scratch area refilled with fresh values
//! every 64 calls, or at memory nothing uses. The scratch area is at 2 MiB,
//! in RAM this kernel does not otherwise use, with a 2 MiB hole in its page
//! tables from 4 MiB: an OUT buffer of any size that starts in the scratch
//! runs into unused RAM, then into the hole, never into this kernel (which
//! ends below 2 MiB). The kernel's text is also mapped read-only
//! (guest-rt), which the hypervisor must honour when it copies to a guest
//! pointer. With `user`, the 2 MiB page at 6 MiB (past the hole) is the one
//! user-accessible page, where guest-rt's `traps::user_hypercall` runs.
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
guest_rt::entry!("fuzz", kernel::kmain);

#[cfg(target_os = "none")]
mod kernel {
    use abi::cpuid::XEN_HVM_CPUID_DOMID_PRESENT;
    use abi::errno::Errno;
    use abi::hvm::start_info::XEN_HVM_MEMMAP_TYPE_RAM;
    use abi::sched::SHUTDOWN_CRASH;
    use abi::xen::{DOMID_SELF, SIF_PRIVILEGED};
    use fuzz::calls::{Call, Gen, Handles, Layout, UserPicks};
    use fuzz::exclude::excluded;
    use guest_rt::paging::{self, Access};
    use guest_rt::traps::{self, UserExit};
    use guest_rt::{cmdline, cpu, hypercall, println};

    const DEFAULT_SEED: u64 = 1;
    const DEFAULT_COUNT: u64 = 100_000;
    const PROGRESS_EVERY: u64 = 10_000;
    const REFILL_EVERY: u64 = RECENT as u64;
    /// Calls remembered for a report: those since the last refill.
    const RECENT: usize = 64;
    /// The scratch area: 16 KiB at 2 MiB.
    const SCRATCH: u64 = 2 << 20;
    const SCRATCH_LEN: usize = 4 * 4096;
    /// An unmapped 2 MiB range; the 2 MiB below it (scratch included) is
    /// RAM nothing else uses.
    const HOLE: u64 = 4 << 20;
    /// The CPL 3 page (`user`): 2 MiB of RAM nothing else uses, past the hole.
    const USER_PAGE: u64 = 6 << 20;
    const USER_PAGE_END: u64 = 8 << 20;
    /// `user` without a number: one call in this many from CPL 3.
    const DEFAULT_USER_EVERY: u64 = 16;
    /// CPL 3 failures printed in full per seed; the rest are counted.
    const USER_FAILURES_SHOWN: u64 = 10;

    unsafe extern "C" {
        /// Text and rodata of this kernel (guest-rt's linker.ld).
        static __image_start: u8;
        static __data_start: u8;
    }

    /// Reads `len` (<= 8) bytes at `addr` if they lie in memory of ours the
    /// hypervisor could read as a hypercall argument and the calls may name:
    /// the RAM from the scratch area up to the hole (scratch, learned pages,
    /// unused RAM that OUT buffers may have written), and the user page
    /// with `user`. `fuzz::exclude` judges a call by what Xen would read.
    fn read_own(addr: u64, len: usize, user: bool) -> Option<u64> {
        let inside = |start: u64, end: u64| addr >= start && addr.checked_add(len as u64).is_some_and(|e| e <= end);
        if len > 8 || !(inside(SCRATCH, HOLE) || (user && inside(USER_PAGE, USER_PAGE_END))) {
            return None;
        }
        let mut bytes = [0u8; 8];
        // SAFETY: inside RAM that kmain checked is there and identity-mapped (2 MiB up to the hole; the user page when `user` made it accessible), and that no call may unmap (fuzz::exclude); plain bytes.
        unsafe {
            core::ptr::copy_nonoverlapping(addr as *const u8, bytes.as_mut_ptr(), len);
        }
        Some(u64::from_le_bytes(bytes))
    }

    fn refill(g: &mut Gen) {
        let p = SCRATCH as *mut u64;
        for i in 0..SCRATCH_LEN / 8 {
            // SAFETY: in bounds; the hypervisor only touches it during a hypercall.
            unsafe { p.add(i).write_volatile(g.slot()) };
        }
    }

    /// FNV-1a over this kernel's text and rodata.
    fn image_hash() -> u64 {
        let start = (&raw const __image_start).cast::<u8>();
        let end = (&raw const __data_start) as usize;
        let len = end - start as usize;
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for i in 0..len {
            // SAFETY: the image is mapped (read-only) for its whole length.
            let b = unsafe { start.add(i).read_volatile() };
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        h
    }

    /// How the calls came back.
    #[derive(Default)]
    struct Stats {
        ok: u64,
        enosys: u64,
        efault: u64,
        einval: u64,
        eperm: u64,
        other: u64,
        skipped: u64,
        /// Calls made from CPL 3 (not in the counts above), and those of
        /// them that did not come back -EPERM.
        user: u64,
        user_not_refused: u64,
    }

    impl Stats {
        fn record(&mut self, ret: u64) {
            match Errno::from_hypercall_ret(ret) {
                Some(Errno::ENOSYS) => self.enosys += 1,
                Some(Errno::EFAULT) => self.efault += 1,
                Some(Errno::EINVAL) => self.einval += 1,
                Some(Errno::EPERM) => self.eperm += 1,
                Some(_) => self.other += 1,
                None => self.ok += 1,
            }
        }
    }

    pub fn kmain(boot: &guest_rt::Boot) {
        let Some(hv) = boot.hv else {
            println!("fuzz: no Xen-compatible hypervisor (CPUID), nothing to fuzz");
            return;
        };
        let cmd = boot.si.cmdline();
        let number = |key: &str, default: u64| match cmdline::number(cmd, key) {
            Ok(n) => n.unwrap_or(default),
            Err(text) => {
                println!("fuzz: {key}={text} is not a number, using {default}");
                default
            }
        };
        let first_seed = number("seed", DEFAULT_SEED);
        // `user` / `user=N`: one call in N from CPL 3.
        let user_every = if cmdline::flag(cmd, "user") { DEFAULT_USER_EVERY } else { number("user", 0) };
        let count = number("count", DEFAULT_COUNT);
        // `seeds=K`: K runs of `count` calls, from seeds seed..seed+K.
        let seeds = number("seeds", 1).max(1);
        // Debugging aid: print every call from this one on, before making it.
        let trace_from = number("trace", u64::MAX);

        let ram_below_hole = boot.si.memmap().iter().any(|e| {
            e.r#type == XEN_HVM_MEMMAP_TYPE_RAM && e.addr <= SCRATCH && HOLE <= e.addr + e.size
        });
        if !ram_below_hole || !paging::set_2mib(HOLE, Access::None) {
            println!(
                "fuzz: needs RAM at 2..4 MiB for its scratch area, and this kernel below 2 MiB"
            );
            return;
        }
        let hole = Some(HOLE);
        if user_every != 0 {
            let ram_for_user = boot.si.memmap().iter().any(|e| {
                e.r#type == XEN_HVM_MEMMAP_TYPE_RAM && e.addr <= USER_PAGE && USER_PAGE_END <= e.addr + e.size
            });
            if !ram_for_user || !paging::make_user_2mib(USER_PAGE) {
                println!("fuzz: `user` needs RAM at 6..8 MiB for its CPL 3 page");
                return;
            }
            traps::install();
        }
        let leaf4 = cpu::cpuid(hv.cpuid_base + 4, 0);
        let domid = if leaf4.eax & XEN_HVM_CPUID_DOMID_PRESENT != 0 {
            u16::try_from(leaf4.ecx).unwrap_or(DOMID_SELF.0)
        } else if boot.si.info.flags & SIF_PRIVILEGED != 0 {
            0
        } else {
            DOMID_SELF.0
        };
        let layout = Layout {
            scratch: SCRATCH,
            scratch_len: SCRATCH_LEN as u64,
            hole,
            domid,
        };
        println!(
            "fuzz: seed={first_seed} count={count}, scratch {:#x}+{:#x}, hole {}, domid {domid}",
            layout.scratch,
            layout.scratch_len,
            if hole.is_some() { "at 4 MiB" } else { "none" }
        );

        // `learn`: set up grants, ports and pages first and mix their
        // handles into the calls, so that they reach the states valid
        // handles lead to (map a real grant, close a real port...).
        let handles = if cmdline::flag(cmd, "learn") { learn(domid) } else { Handles::default() };
        if user_every != 0 {
            println!("fuzz: one call in {user_every} from CPL 3 (user page at {USER_PAGE:#x}), each must return -EPERM");
        }
        let run = Run { count, trace_from, layout, handles, version: hypercall::xen_version(), hash: image_hash(), user_every };
        let mut coverage = Coverage::new();
        for (i, seed) in (first_seed..first_seed.saturating_add(seeds)).enumerate() {
            if seed != first_seed {
                println!("fuzz: seed={seed} count={count}");
            }
            // `trace` counts the calls of every seed before this one.
            let before = (i as u64).saturating_mul(count);
            run_seed(seed, &run, run.trace_from.saturating_sub(before), &mut coverage);
        }
        coverage.print(user_every != 0);
        if seeds > 1 {
            println!("fuzz: {seeds} seeds, {} calls done, still alive", seeds * count);
        }
    }

    /// What every seed's run shares.
    struct Run {
        count: u64,
        /// Print every call from this one of the whole run on.
        trace_from: u64,
        layout: Layout,
        handles: Handles,
        /// xen_version and the image hash at boot, for [`check_health`].
        version: u64,
        hash: u64,
        /// One call in this many from CPL 3; 0: none.
        user_every: u64,
    }

    /// One run of `run.count` calls from `seed`, printing every call from
    /// its `trace_from`-th on.
    fn run_seed(seed: u64, run: &Run, trace_from: u64, coverage: &mut Coverage) {
        let mut g = Gen::with_handles(seed, run.layout, run.handles);
        let mut picks = UserPicks::new(seed, run.user_every);
        let mut stats = Stats::default();
        let mut done = 0;
        let read = |addr, len| read_own(addr, len, run.user_every != 0);
        let mut recent = Recent::new();
        while done < run.count {
            if done % REFILL_EVERY == 0 {
                if done != 0 {
                    scratch_still_there(done, &recent);
                }
                refill(&mut g);
            }
            let call = g.call();
            let at_cpl3 = picks.next_at_cpl3();
            if !at_cpl3 && excluded(&call, run.layout.domid, read).is_some() {
                stats.skipped += 1;
                continue;
            }
            let [a1, a2, a3, a4, a5] = call.args;
            if done >= trace_from {
                println!(
                    "fuzz: call {done}{}: nr {:#x} ({a1:#x}, {a2:#x}, {a3:#x}, {a4:#x}, {a5:#x})",
                    if at_cpl3 { " at CPL 3" } else { "" },
                    call.nr
                );
            }
            recent.note(done, call, at_cpl3);
            if at_cpl3 {
                user_call(done, &call, &mut stats, coverage);
            } else {
                // SAFETY: the generator hands out only pointers into the scratch area or at memory nothing uses (see fuzz::calls), and fuzz::exclude leaves out the calls that would stop this domain.
                let ret = unsafe { hypercall::hypercall5(call.nr, a1, a2, a3, a4, a5) };
                stats.record(ret);
                coverage.record(&call, ret, read);
            }
            done += 1;
            // Traced calls are checked one by one: the call that takes a
            // scratch page is the last one printed.
            if done > trace_from {
                scratch_still_there(done, &recent);
            }
            if done % PROGRESS_EVERY == 0 || done == run.count {
                let s = &stats;
                println!(
                    "fuzz: {done} calls, {} ok, {} -ENOSYS, {} -EFAULT, {} -EINVAL, {} -EPERM, {} other errors, {} skipped, {} at CPL 3",
                    s.ok, s.enosys, s.efault, s.einval, s.eperm, s.other, s.skipped, s.user
                );
                check_health(done, run.version, run.hash);
            }
        }
        println!("fuzz: seed={seed}, {done} calls done, still alive");
    }

    /// Call number `done` made from CPL 3: it must come back -EPERM. Any
    /// other answer (a result, another error, a fault of the VMCALL) is a
    /// line the scenarios forbid.
    fn user_call(done: u64, call: &Call, stats: &mut Stats, coverage: &mut Coverage) {
        let eperm = Errno::EPERM.to_hypercall_ret();
        // SAFETY: USER_PAGE was made user-accessible in kmain and nothing else uses it; refused, the call does nothing, and a hypervisor that runs it gets the arguments a kernel-mode call of the fuzzer's could get (the scratch area, memory nothing uses).
        let exit = unsafe { traps::user_hypercall(USER_PAGE, call.nr, call.args) };
        stats.user += 1;
        let refused = exit == UserExit::Returned(eperm);
        coverage.record_user(call, refused);
        if refused {
            return;
        }
        stats.user_not_refused += 1;
        if stats.user_not_refused <= USER_FAILURES_SHOWN {
            let [a1, a2, a3, a4, a5] = call.args;
            println!(
                "fuzz: CPL 3 call not refused: call {done}: nr {:#x} ({a1:#x}, {a2:#x}, {a3:#x}, {a4:#x}, {a5:#x}) {}, want -EPERM",
                call.nr,
                Answer(exit)
            );
        }
    }

    /// How a CPL 3 call came back: its rax as -ENAME or a number, or the
    /// fault the VMCALL took.
    struct Answer(UserExit);

    impl core::fmt::Display for Answer {
        fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
            match self.0 {
                UserExit::Returned(rax) => match Errno::from_hypercall_ret(rax) {
                    Some(e) => write!(f, "returned -{}", e.name()),
                    None => write!(f, "returned {rax:#x}"),
                },
                UserExit::Fault(fault) => write!(f, "took exception {} (error code {:#x})", fault.vector, fault.error_code),
            }
        }
    }

    /// Pages at 3 MiB (RAM nothing else uses, above the scratch): grant
    /// frame 0 at the first, the granted pages after it.
    const LEARN_BASE_GFN: u64 = 0x300;

    /// Sets up what [`Handles`] lists: grant frame 0 mapped, entries 8..16
    /// granting our pages to ourselves (odd ones read-only), four unbound
    /// ports for ourselves. Says what it got.
    fn learn(domid: u16) -> Handles {
        use abi::event_channel::{EVTCHNOP_ALLOC_UNBOUND, EvtchnAllocUnbound};
        use abi::grant_table::{GTF_PERMIT_ACCESS, GTF_READONLY, GrantEntryV1};
        use abi::memory::{XENMAPSPACE_GRANT_TABLE, XENMEM_ADD_TO_PHYSMAP, XenAddToPhysmap};
        use abi::xen::{DomId, HYPERVISOR_EVENT_CHANNEL_OP, HYPERVISOR_MEMORY_OP};
        let mut h = Handles { vcpus: [0], valid: true, ..Handles::default() };
        for (i, g) in h.gfns.iter_mut().enumerate() {
            *g = LEARN_BASE_GFN + 1 + i as u64;
        }
        let xatp = XenAddToPhysmap { domid: DOMID_SELF, size: 0, space: XENMAPSPACE_GRANT_TABLE, idx: 0, gpfn: LEARN_BASE_GFN };
        // SAFETY: a live struct; the grant frame replaces a page at 3 MiB nothing uses.
        let rc = unsafe { hypercall::hypercall2(HYPERVISOR_MEMORY_OP, XENMEM_ADD_TO_PHYSMAP, core::ptr::from_ref(&xatp) as u64) };
        if rc == 0 {
            for (i, r) in h.grant_refs.iter_mut().enumerate() {
                *r = 8 + i as u64;
                let flags = GTF_PERMIT_ACCESS | if i % 2 == 1 { GTF_READONLY } else { 0 };
                let e = GrantEntryV1 { flags, domid, frame: u32::try_from(LEARN_BASE_GFN + 1 + i as u64).unwrap_or(0) };
                // SAFETY: the grant frame is mapped at LEARN_BASE_GFN (identity-mapped RAM of ours).
                unsafe { ((LEARN_BASE_GFN << 12) as *mut GrantEntryV1).add(8 + i).write_volatile(e) };
            }
        }
        for p in h.ports.iter_mut() {
            let mut a = EvtchnAllocUnbound { dom: DOMID_SELF, remote_dom: DomId(domid), port: 0 };
            // SAFETY: a live struct the call fills.
            let rc = unsafe { hypercall::hypercall2(HYPERVISOR_EVENT_CHANNEL_OP, EVTCHNOP_ALLOC_UNBOUND, core::ptr::from_mut(&mut a) as u64) };
            *p = if rc == 0 { u64::from(a.port) } else { 1 };
        }
        println!(
            "fuzz: learned: grant frame at gfn {LEARN_BASE_GFN:#x} (rc {rc:#x}), refs {:?} granting gfns {:#x?}, ports {:?}, vcpus {:?}",
            h.grant_refs, h.gfns, h.ports, h.vcpus
        );
        h
    }

    /// Calls and non-error returns per hypercall and sub-op (the first
    /// argument, or the `cmd` of a domctl/sysctl struct; sub-ops from
    /// [`SUB_OPS`] up share one bucket).
    struct Coverage {
        calls: [[u32; SUB_OPS + 1]; NRS],
        ok: [[u32; SUB_OPS + 1]; NRS],
        /// Numbers past [`NRS`].
        other_calls: u64,
        /// Calls made from CPL 3, per number (past [`NRS`]: `other_user`),
        /// counted apart from the ones above.
        user: [u32; NRS],
        other_user: u64,
        /// Calls from CPL 3 that did not come back -EPERM.
        user_not_refused: u64,
    }

    const NRS: usize = 64;
    const SUB_OPS: usize = 32;

    impl Coverage {
        fn new() -> Coverage {
            Coverage {
                calls: [[0; SUB_OPS + 1]; NRS],
                ok: [[0; SUB_OPS + 1]; NRS],
                other_calls: 0,
                user: [0; NRS],
                other_user: 0,
                user_not_refused: 0,
            }
        }

        fn record_user(&mut self, call: &Call, refused: bool) {
            match usize::try_from(call.nr).ok().filter(|&n| n < NRS) {
                Some(nr) => self.user[nr] = self.user[nr].saturating_add(1),
                None => self.other_user += 1,
            }
            if !refused {
                self.user_not_refused += 1;
            }
        }

        fn record(&mut self, call: &fuzz::calls::Call, ret: u64, read: impl Fn(u64, usize) -> Option<u64>) {
            let Some(nr) = usize::try_from(call.nr).ok().filter(|&n| n < NRS) else {
                self.other_calls += 1;
                return;
            };
            let sub = fuzz::calls::sub_op(call, read);
            let sub = usize::try_from(sub).unwrap_or(SUB_OPS).min(SUB_OPS);
            self.calls[nr][sub] = self.calls[nr][sub].saturating_add(1);
            if Errno::from_hypercall_ret(ret).is_none() {
                self.ok[nr][sub] = self.ok[nr][sub].saturating_add(1);
            }
        }

        /// One line per hypercall made: its totals, then `sub:ok/calls` for
        /// each sub-op; with `user`, the calls from CPL 3 too.
        fn print(&self, user: bool) {
            println!(
                "fuzz: coverage (hypercall: calls, non-error returns{}; sub-op:ok/calls, {SUB_OPS} = {SUB_OPS} and up)",
                if user { ", calls from CPL 3" } else { "" }
            );
            for nr in 0..NRS {
                let calls: u64 = self.calls[nr].iter().map(|&c| u64::from(c)).sum();
                if calls == 0 && self.user[nr] == 0 {
                    continue;
                }
                let ok: u64 = self.ok[nr].iter().map(|&c| u64::from(c)).sum();
                let name = fuzz::calls::name(nr as u64);
                if user {
                    println!("fuzz: coverage {nr:2} {name:<18} {calls:7} calls {ok:7} ok {:6} at CPL 3", self.user[nr]);
                } else {
                    println!("fuzz: coverage {nr:2} {name:<18} {calls:7} calls {ok:7} ok");
                }
                // Sub-ops, 11 to a line (the console's lines are short).
                for chunk in 0..3 {
                    let mut line = Line::default();
                    for sub in (chunk * 11..(chunk + 1) * 11).filter(|&s| s <= SUB_OPS && self.calls[nr][s] > 0) {
                        let _ = core::fmt::Write::write_fmt(&mut line, format_args!(" {sub}:{}/{}", self.ok[nr][sub], self.calls[nr][sub]));
                    }
                    if line.len > 0 {
                        println!("fuzz: coverage {nr:2}   sub-ops{}", line.as_str());
                    }
                }
            }
            println!("fuzz: coverage: {} calls with numbers >= {NRS}", self.other_calls);
            if user {
                let total = self.user.iter().map(|&c| u64::from(c)).sum::<u64>() + self.other_user;
                if self.user_not_refused == 0 {
                    println!("fuzz: coverage: {total} calls at CPL 3 ({} with numbers >= {NRS}), every one -EPERM", self.other_user);
                } else {
                    println!(
                        "fuzz: coverage: {total} calls at CPL 3 ({} with numbers >= {NRS}), CPL 3 call not refused: {} of them",
                        self.other_user, self.user_not_refused
                    );
                }
            }
        }
    }

    /// A line being formatted (the console takes one &str per line).
    struct Line {
        bytes: [u8; 512],
        len: usize,
    }

    impl Default for Line {
        fn default() -> Line {
            Line { bytes: [0; 512], len: 0 }
        }
    }

    impl Line {
        fn as_str(&self) -> &str {
            core::str::from_utf8(&self.bytes[..self.len]).unwrap_or("")
        }
    }

    impl core::fmt::Write for Line {
        fn write_str(&mut self, s: &str) -> core::fmt::Result {
            let n = s.len().min(self.bytes.len() - self.len);
            self.bytes[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
            self.len += n;
            Ok(())
        }
    }

    /// The hypervisor still answers as at boot and this kernel's code is
    /// unchanged; otherwise the run ends as a crash.
    /// The calls made since the last refill, for [`scratch_still_there`].
    struct Recent {
        calls: [(u64, Option<Call>, bool); RECENT],
    }

    impl Recent {
        fn new() -> Self {
            Recent { calls: [(0, None, false); RECENT] }
        }

        fn note(&mut self, done: u64, call: Call, at_cpl3: bool) {
            self.calls[(done % REFILL_EVERY) as usize] = (done, Some(call), at_cpl3);
        }
    }

    /// Before a refill writes the scratch area: asks the hypervisor to
    /// write each of its pages (XENVER_extraversion's 16 bytes), which
    /// fails cleanly where a call took the page away, instead of this
    /// domain dying at the refill's write with no word of which call did
    /// it. Then it prints the calls since the last refill and crashes.
    fn scratch_still_there(done: u64, recent: &Recent) {
        for page in 0..(SCRATCH_LEN as u64 / 4096) {
            let at = SCRATCH + page * 4096;
            // SAFETY: XENVER_extraversion writes 16 bytes at `at`, in the scratch area.
            let ret = unsafe { hypercall::hypercall5(abi::xen::HYPERVISOR_XEN_VERSION, abi::version::XENVER_EXTRAVERSION, at, 0, 0, 0) };
            if ret == 0 {
                continue;
            }
            println!("fuzz: after {done} calls scratch page {:#x} is gone ({ret:#x}); the calls since the last refill:", at >> 12);
            for (n, call, at_cpl3) in &recent.calls {
                let Some(call) = call else { continue };
                let [a1, a2, a3, a4, a5] = call.args;
                println!(
                    "fuzz: call {n}{}: nr {:#x} ({a1:#x}, {a2:#x}, {a3:#x}, {a4:#x}, {a5:#x})",
                    if *at_cpl3 { " at CPL 3" } else { "" },
                    call.nr
                );
            }
            // Which way it is gone: with nothing mapped there this read is
            // a nested fault the hypervisor crashes us for, naming its p2m
            // entry; a page still readable and writable by us is one the
            // hypervisor will not write for us (a grant mapping over it).
            println!("fuzz: reading and writing scratch page {:#x} directly", at >> 12);
            let p = at as *mut u64;
            // SAFETY: the scratch area is identity-mapped RAM of ours; if a call took the frame, this access is what shows how.
            let seen = unsafe { p.read_volatile() };
            // SAFETY: as above.
            unsafe { p.write_volatile(seen) };
            println!("fuzz: scratch page {:#x} is still readable and writable by this kernel ({seen:#x})", at >> 12);
            guest_rt::shutdown(SHUTDOWN_CRASH);
        }
    }

    fn check_health(done: u64, version: u64, hash: u64) {
        let now = hypercall::xen_version();
        if now != version {
            println!("fuzz: after {done} calls xen_version returns {now:#x}, was {version:#x}");
            guest_rt::shutdown(SHUTDOWN_CRASH);
        }
        if image_hash() != hash {
            println!("fuzz: after {done} calls this kernel's code has changed");
            guest_rt::shutdown(SHUTDOWN_CRASH);
        }
    }
}

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("fuzz is a PVH guest kernel: build it for x86_64-unknown-none");
    std::process::exit(2);
}
