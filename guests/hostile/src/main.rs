//! The hostile guest: a PVH kernel that does, for real, each attack of
//! issue 9 on the hypervisor and checks the answer Xen 4.17 gives (or the
//! fault the hardware gives), one TAP check or more per defect. It runs as a
//! DomU (`configs/hostile.cfg`, built by Dom0's `test=hostile`) or as Dom0.
//!
//! Before each attack it prints `# attempting N: ...`, so a log shows where a
//! run died. Attacks that stop today's hypervisor come last (order 10, 11,
//! 9, 2, 8, 4, 5, 3, 1); `only=N,M` / `skip=N,M` select by defect number.
//! `spin` makes it a victim instead: it loops on xen_version until
//! destroyed (Dom0's checks 6 and 7). `resv=N` sets the iterations of check 5 (default 40000), `flood=N` the
//! 16 KiB console writes of check 4 (default 3: past the 32 KiB burst of
//! the console rate limit, and short on Bochs, whose UART is slow). The last line is
//! `# hostile: P passed, F failed, S skipped`.
//!
//! Memory it uses besides its image (below 2 MiB): 2..4 MiB scratch pages,
//! 4..6 MiB the CPL 3 page, 6..8 MiB a multicall or unmap list running into
//! an unmapped hole at 8..10 MiB, 10..12 MiB the reservation pool, 12..14
//! MiB a page check 2 maps read-only.
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
guest_rt::entry!("hostile", kernel::kmain);

#[cfg(target_os = "none")]
mod kernel {
    use core::fmt;

    use abi::console_io::CONSOLEIO_WRITE;
    use abi::cpuid::XEN_HVM_CPUID_DOMID_PRESENT;
    use abi::grant_table::*;
    use abi::hvm::start_info::XEN_HVM_MEMMAP_TYPE_RAM;
    use abi::memory::*;
    use abi::sysctl::{XEN_SYSCTL_PHYSINFO, XenSysctl, XenSysctlPhysinfo};
    use abi::version::XENVER_VERSION;
    use abi::xen::*;
    use abi::zerocopy::FromZeros;
    use guest_rt::paging::{self, Access};
    use guest_rt::traps::{self, Fault, GP, UserExit};
    use guest_rt::{cmdline, cpu, hypercall, println};
    use hostile::Selection;

    const MIB: u64 = 1 << 20;
    const SCRATCH: u64 = 2 * MIB;
    /// Page 0 of the scratch: where grant frame 0 is mapped.
    const GRANT_FRAME: u64 = SCRATCH;
    /// Page 1: the page granted to ourselves.
    const SELF_GRANTED: u64 = SCRATCH + 0x1000;
    /// Pages 2..6: 16 KiB of console text.
    const CONSOLE_BUF: u64 = SCRATCH + 0x2000;
    const CONSOLE_LEN: usize = 16 * 1024;
    /// Page 6: one multicall entry.
    const ONE_ENTRY: u64 = SCRATCH + 0x6000;
    /// Pages 16..32: given back and repopulated while the self-grant is mapped.
    const POOL: u64 = SCRATCH + 0x10000;
    const POOL_PAGES: u64 = 16;
    const USER_PAGE: u64 = 4 * MIB;
    const LIST: u64 = 6 * MIB;
    const HOLE: u64 = 8 * MIB;
    const RESV: u64 = 10 * MIB;
    const RESV_PAGES: u64 = 512;
    /// Check 2's buffers in the user page (past guest-rt's code and call
    /// block, below its stack): an OUT buffer each for AC clear and AC set,
    /// an IN buffer.
    const USER_OUT: u64 = USER_PAGE + 0x3000;
    const USER_OUT_AC: u64 = USER_PAGE + 0x3100;
    const USER_IN: u64 = USER_PAGE + 0x3200;
    /// Check 2's read-only 2 MiB page: an OUT buffer each for CR0.WP set
    /// and clear, an IN buffer.
    const RO_PAGE: u64 = 12 * MIB;
    const RO_OUT: u64 = RO_PAGE;
    const RO_OUT_NO_WP: u64 = RO_PAGE + 0x100;
    const RO_IN: u64 = RO_PAGE + 0x1000;
    const RAM_NEEDED: u64 = 14 * MIB;
    /// Check 1's extra pages: 96 MiB, used only if the memory map has no RAM there.
    const EXTRA_GFN: u64 = (96 * MIB) >> 12;
    const EXTRA_PAGES: u64 = 4096;

    const MSR_EFER: u32 = 0xc000_0080;
    const EFER_LME: u64 = 1 << 8;
    const EFER_LMA: u64 = 1 << 10;
    const CR4_VMXE: u64 = 1 << 13;
    const CR4_SMAP: u64 = 1 << 21;
    const CR0_WP: u64 = 1 << 16;
    const RFLAGS_AC: u64 = 1 << 18;
    const CR4_OSXSAVE: u64 = 1 << 18;

    /// The TAP writer and its counters.
    struct Tap {
        n: u32,
        passed: u32,
        failed: u32,
        skipped: u32,
    }

    impl Tap {
        fn check(&mut self, what: fmt::Arguments<'_>, pass: bool, got: fmt::Arguments<'_>, want: fmt::Arguments<'_>) -> bool {
            self.n += 1;
            if pass {
                self.passed += 1;
                println!("ok {} - {what}", self.n);
            } else {
                self.failed += 1;
                println!("not ok {} - {what}", self.n);
                println!("  # got {got}, want {want}");
            }
            pass
        }
        fn skip(&mut self, what: &str, why: &str) {
            self.n += 1;
            self.skipped += 1;
            println!("ok {} - {what} # SKIP {why}", self.n);
        }
    }

    fn attempt(n: u32, what: &str) {
        println!("# attempting {n}: {what}");
    }

    /// Shows a hypercall's rax as -ENAME or a number.
    struct Ret(u64);
    impl fmt::Display for Ret {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            match abi::errno::Errno::from_hypercall_ret(self.0) {
                Some(e) => write!(f, "-{}", e.name()),
                None => write!(f, "{:#x}", self.0),
            }
        }
    }

    fn err(e: abi::errno::Errno) -> u64 {
        e.to_hypercall_ret()
    }

    struct Ctx {
        tap: Tap,
        domid: u16,
        version: u64,
        /// Whether [`EXTRA_GFN`]'s pages are outside our RAM (and below 4 GiB).
        extra_gfns: bool,
    }

    pub fn kmain(boot: &guest_rt::Boot) {
        let Some(hv) = boot.hv else {
            println!("hostile: no Xen-compatible hypervisor (CPUID), nothing to attack");
            return;
        };
        let cmd = boot.si.cmdline();
        if cmdline::flag(cmd, "spin") {
            // A victim for Dom0's destroy and max_vcpus attacks (6, 7):
            // always running, in and out of the hypervisor, touching its memory.
            println!("hostile: spinning until destroyed");
            let mut x = 0u64;
            loop {
                x = x.wrapping_add(hypercall::xen_version());
                core::hint::black_box(&mut x);
            }
        }
        let sel = Selection::parse(cmd);
        let ram = boot.si.memmap().iter().any(|e| e.r#type == XEN_HVM_MEMMAP_TYPE_RAM && e.addr <= SCRATCH && RAM_NEEDED <= e.addr + e.size);
        if !ram || !paging::set_2mib(HOLE, Access::None) || !paging::make_user_2mib(USER_PAGE) {
            println!("hostile: needs RAM at 2..12 MiB and this kernel below 2 MiB");
            return;
        }
        traps::install();
        let (lo, hi) = (EXTRA_GFN << 12, (EXTRA_GFN + EXTRA_PAGES) << 12);
        let extra_gfns = !boot.si.memmap().iter().any(|e| e.addr < hi && lo < e.addr + e.size);
        let leaf4 = cpu::cpuid(hv.cpuid_base + 4, 0);
        let dom0 = boot.si.info.flags & SIF_INITDOMAIN != 0;
        let domid = if leaf4.eax & XEN_HVM_CPUID_DOMID_PRESENT != 0 { u16::try_from(leaf4.ecx).unwrap_or(0) } else { 0 };
        let amd = hypercall::amd();
        let mut c = Ctx { tap: Tap { n: 0, passed: 0, failed: 0, skipped: 0 }, domid, version: hypercall::xen_version(), extra_gfns };
        println!("TAP version 13");
        println!("# hostile: issue 9's attacks as {} (domid {domid}), {} CPU", if dom0 { "Dom0" } else { "a DomU" }, if amd { "AMD" } else { "Intel" });
        let number = |key: &str, default: u64| cmdline::number(cmd, key).ok().flatten().unwrap_or(default);

        if sel.wants(10) {
            attempt(10, "reading LSTAR/STAR/CSTAR/SFMASK/KERNEL_GS_BASE and DR0-3 of a fresh vCPU");
            fresh_state(&mut c);
        }
        if sel.wants(11) {
            attempt(11, "INVD");
            let r = traps::try_invd();
            c.tap.check(format_args!("11: INVD executes without a fault and the domain carries on"), r.is_ok(), format_args!("{r:?}"), format_args!("no fault"));
        }
        if sel.wants(9) {
            c.tap.skip("9: an NMI while the hypervisor holds the console lock", "not guest-triggerable without IPIs");
        }
        if sel.wants(2) {
            attempt(2, "hypercalls from CPL 3");
            cpl3(&mut c);
            attempt(2, "hypercall buffers in user pages (SMAP, RFLAGS.AC) and read-only pages (CR0.WP)");
            supervisor_copies(&mut c);
        }
        if sel.wants(8) {
            attempt(8, "EFER.LME change while paging, EFER.LMA write, CR4.VMXE");
            efer_cr4(&mut c);
        }
        if sel.wants(4) {
            attempt(4, "multicall of 0xffffffff entries, a continuing entry, console floods");
            long_calls(&mut c, number("flood", 3));
        }
        if sel.wants(5) {
            attempt(5, "increase/decrease_reservation of single pages, over and over");
            reservations(&mut c, number("resv", 40_000));
        }
        if sel.wants(3) {
            attempt(3, "XSETBV with invalid XCR0 values");
            xsetbv(&mut c);
        }
        if sel.wants(1) {
            attempt(1, "granting a page to ourselves and mapping the grant over that page");
            self_grant(&mut c);
        }
        let now = hypercall::xen_version();
        c.tap.check(format_args!("the hypervisor still answers xen_version as at boot"), now == c.version, format_args!("{}", Ret(now)), format_args!("{:#x}", c.version));
        println!("1..{}", c.tap.n);
        println!("# hostile: {} passed, {} failed, {} skipped", c.tap.passed, c.tap.failed, c.tap.skipped);
    }

    /// 10: a new vCPU starts with zero syscall MSRs and debug registers,
    /// whatever ran on its CPU before. Then this vCPU leaves its own values
    /// in them, for the next domain on this CPU to check.
    fn fresh_state(c: &mut Ctx) {
        const MSRS: [(u32, &str); 5] = [
            (0xc000_0081, "STAR"),
            (0xc000_0082, "LSTAR"),
            (0xc000_0083, "CSTAR"),
            (0xc000_0084, "SFMASK"),
            (0xc000_0102, "KERNEL_GS_BASE"),
        ];
        for (msr, name) in MSRS {
            let r = traps::try_rdmsr(msr);
            c.tap.check(format_args!("10: {name} of a fresh vCPU reads 0"), r == Ok(0), format_args!("{r:x?}"), format_args!("Ok(0)"));
        }
        for n in 0..4u8 {
            let v = traps::read_dr(n);
            c.tap.check(format_args!("10: DR{n} of a fresh vCPU reads 0"), v == 0, format_args!("{v:#x}"), format_args!("0"));
        }
        // Canonical kernel-looking pointers (SFMASK and STAR take any bits).
        for (i, (msr, _)) in MSRS.iter().enumerate() {
            // SAFETY: this kernel uses neither SYSCALL nor SWAPGS, so these MSRs steer nothing here.
            let _ = unsafe { traps::try_wrmsr(*msr, 0xffff_8000_1eed_0000 + i as u64 * 0x1000) };
        }
        for n in 0..4u8 {
            traps::write_dr(n, 0xffff_8000_dead_0000 + u64::from(n) * 8);
        }
        println!("# 10: left LSTAR etc. = 0xffff80001eed...., DR0-3 = 0xffff8000dead00.. for the next domain on this CPU");
    }

    /// Makes hypercall `nr` from CPL 3 (guest-rt's routine in the user page).
    fn user_hypercall(nr: u64, args: [u64; 5]) -> UserExit {
        // SAFETY: the user page is RAM of ours (checked in kmain), user-mapped, that nothing else uses; a call the hypervisor wrongly runs is one of check 2's harmless ones.
        unsafe { traps::user_hypercall(USER_PAGE, nr, args) }
    }

    /// 2: every hypercall from CPL 3 is -EPERM (Xen's hvm_hypercall checks
    /// the CPL first), and nothing it asked for happens.
    fn cpl3(c: &mut Ctx) {
        let eperm = UserExit::Returned(err(abi::errno::Errno::EPERM));
        let r = user_hypercall(HYPERVISOR_XEN_VERSION, [XENVER_VERSION, 0, 0, 0, 0]);
        c.tap.check(format_args!("2: xen_version(XENVER_version) from CPL 3 returns -EPERM"), r == eperm, format_args!("{r:x?}"), format_args!("{eperm:x?}"));
        let text = b"hostile: CPL3 console_io LEAKED into the console\n";
        let buf = USER_PAGE + 0x1000;
        // SAFETY: user page, ours.
        unsafe { core::ptr::copy_nonoverlapping(text.as_ptr(), buf as *mut u8, text.len()) };
        let r = user_hypercall(HYPERVISOR_CONSOLE_IO, [CONSOLEIO_WRITE, text.len() as u64, buf, 0, 0]);
        c.tap.check(format_args!("2: console_io(CONSOLEIO_write) from CPL 3 returns -EPERM (and prints nothing)"), r == eperm, format_args!("{r:x?}"), format_args!("{eperm:x?}"));
        let op = XenSysctl::new(XEN_SYSCTL_PHYSINFO, &XenSysctlPhysinfo::new_zeroed());
        let at = USER_PAGE + 0x2000;
        // SAFETY: user page, ours; a XenSysctl fits in the page.
        unsafe { (at as *mut XenSysctl).write_unaligned(op) };
        let r = user_hypercall(HYPERVISOR_SYSCTL, [at, 0, 0, 0, 0]);
        c.tap.check(format_args!("2: sysctl(physinfo) from CPL 3 returns -EPERM"), r == eperm, format_args!("{r:x?}"), format_args!("{eperm:x?}"));
        // A guest-virtual buffer the user may not touch (the kernel's own
        // memory, supervisor-only): grant_table_op(query_size) on it.
        let r = user_hypercall(HYPERVISOR_GRANT_TABLE_OP, [GNTTABOP_QUERY_SIZE, SCRATCH + 0x3000, 1, 0, 0]);
        c.tap.check(format_args!("2: grant_table_op(query_size, supervisor page) from CPL 3 returns -EPERM"), r == eperm, format_args!("{r:x?}"), format_args!("{eperm:x?}"));
        let r = xen_version_ok(c);
        c.tap.check(format_args!("2: the kernel's own hypercalls still work after CPL 3"), r, format_args!("xen_version changed"), format_args!("unchanged"));
    }

    /// XENVER_extraversion into the 16 bytes at `buf` (an OUT buffer).
    fn extraversion(buf: u64) -> u64 {
        // SAFETY: callers pass 16 bytes of RAM of ours (or a page whose rights the hypervisor must refuse).
        unsafe { hypercall::hypercall2(HYPERVISOR_XEN_VERSION, abi::version::XENVER_EXTRAVERSION, buf) }
    }

    /// XENMEM_current_reservation of the domid at `domid` (an IN buffer).
    fn current_reservation(domid: u64) -> u64 {
        // SAFETY: the call only reads the domid_t at the pointer.
        unsafe { hypercall::hypercall2(HYPERVISOR_MEMORY_OP, XENMEM_CURRENT_RESERVATION, domid) }
    }

    fn fill(addr: u64, len: usize, byte: u8) {
        // SAFETY: callers name RAM of ours that nothing else uses, mapped writable now.
        unsafe { core::ptr::write_bytes(addr as *mut u8, byte, len) };
    }

    fn read16(addr: u64) -> [u8; 16] {
        // SAFETY: callers name mapped RAM of ours; reading only.
        unsafe { (addr as *const [u8; 16]).read_volatile() }
    }

    /// What an OUT buffer the hypervisor must not write holds.
    const UNTOUCHED: [u8; 16] = [0xa5; 16];

    /// 2: a hypercall made at CPL 0 reaches its buffers with the rights of
    /// a supervisor data access, as Xen's copy_{to,from}_user_hvm do
    /// (hvm_copy_{to,from}_guest_linear with no PFEC_user_mode; the rights
    /// are guest_walk_tables'): a user page is fine, unless CR4.SMAP is set
    /// and RFLAGS.AC clear; a read-only page can be read, and written only
    /// while CR0.WP is clear. A copy the walk refuses is -EFAULT, and an
    /// OUT buffer it refuses stays as it was.
    fn supervisor_copies(c: &mut Ctx) {
        // What the calls return with buffers nothing forbids.
        let mut want = [0u8; 16];
        let rc = extraversion(want.as_mut_ptr() as u64);
        let self_id = DOMID_SELF.0;
        let pages = current_reservation(core::ptr::from_ref(&self_id) as u64);
        let ok = c.tap.check(
            format_args!("2: xen_version(XENVER_extraversion) and memory_op(XENMEM_current_reservation) with buffers on our stack work"),
            rc == 0 && abi::errno::Errno::from_hypercall_ret(pages).is_none(),
            format_args!("{}, {}", Ret(rc), Ret(pages)),
            format_args!("0, a page count"),
        );
        if !ok {
            return;
        }
        // SAFETY: the user page and the page made read-only later (writable now) are RAM of ours that nothing else uses.
        unsafe {
            (USER_IN as *mut u16).write_volatile(self_id);
            (RO_IN as *mut u16).write_volatile(self_id);
        }

        // A user page without SMAP: a supervisor access like any other.
        fill(USER_OUT, 16, 0xa5);
        let rc = extraversion(USER_OUT);
        let got = read16(USER_OUT);
        c.tap.check(
            format_args!("2: with CR4.SMAP clear, XENVER_extraversion into a user page writes it"),
            rc == 0 && got == want,
            format_args!("{}, {got:x?}", Ret(rc)),
            format_args!("0, {want:x?}"),
        );
        smap(c, &want, pages);
        write_protect(c, &want, pages);
    }

    /// 2, SMAP: with CR4.SMAP set, a hypercall's copy to or from a user
    /// page is -EFAULT while RFLAGS.AC is clear and works once STAC set it.
    fn smap(c: &mut Ctx, want: &[u8; 16], pages: u64) {
        let has_smap = cpu::cpuid(0, 0).eax >= 7 && cpu::cpuid(7, 0).ebx & (1 << 20) != 0;
        if !has_smap {
            c.tap.skip("2: with CR4.SMAP set, hypercall buffers in user pages fault unless RFLAGS.AC", "the CPU has no SMAP (CPUID.7.0:EBX[20])");
            return;
        }
        let cr4 = traps::read_cr4();
        fill(USER_OUT, 16, 0xa5);
        fill(USER_OUT_AC, 16, 0xa5);
        // SAFETY: SMAP only makes this kernel's own accesses to the user page fault, and it makes none until CR4 is restored below; CPUID offers SMAP, so CLAC and STAC exist.
        let (set, ac_clear, rc_out, rc_in, ac_set, rc_out_ac, rc_in_ac) = unsafe {
            let set = traps::try_write_cr4(cr4 | CR4_SMAP);
            traps::clac();
            let ac_clear = traps::read_rflags() & RFLAGS_AC == 0;
            let rc_out = extraversion(USER_OUT);
            let rc_in = current_reservation(USER_IN);
            traps::stac();
            let ac_set = traps::read_rflags() & RFLAGS_AC != 0;
            let rc_out_ac = extraversion(USER_OUT_AC);
            let rc_in_ac = current_reservation(USER_IN);
            traps::clac();
            let _ = traps::try_write_cr4(cr4);
            (set, ac_clear, rc_out, rc_in, ac_set, rc_out_ac, rc_in_ac)
        };
        if !c.tap.check(format_args!("2: CPUID offers SMAP and MOV CR4 sets CR4.SMAP"), set.is_ok(), format_args!("{set:?}"), format_args!("Ok")) {
            return;
        }
        let efault = err(abi::errno::Errno::EFAULT);
        let (got, got_ac) = (read16(USER_OUT), read16(USER_OUT_AC));
        c.tap.check(
            format_args!("2: with CR4.SMAP set and RFLAGS.AC clear, XENVER_extraversion into a user page returns -EFAULT and writes nothing"),
            ac_clear && rc_out == efault && got == UNTOUCHED,
            format_args!("AC clear {ac_clear}, {}, {got:x?}", Ret(rc_out)),
            format_args!("AC clear, -EFAULT, {UNTOUCHED:x?}"),
        );
        c.tap.check(
            format_args!("2: with CR4.SMAP set and RFLAGS.AC clear, XENMEM_current_reservation reading its domid from a user page returns -EFAULT"),
            rc_in == efault,
            format_args!("{}", Ret(rc_in)),
            format_args!("-EFAULT"),
        );
        c.tap.check(
            format_args!("2: with CR4.SMAP set and RFLAGS.AC set (STAC), XENVER_extraversion into a user page writes it"),
            ac_set && rc_out_ac == 0 && got_ac == *want,
            format_args!("AC set {ac_set}, {}, {got_ac:x?}", Ret(rc_out_ac)),
            format_args!("AC set, 0, {want:x?}"),
        );
        c.tap.check(
            format_args!("2: with CR4.SMAP set and RFLAGS.AC set, XENMEM_current_reservation reads its domid from a user page"),
            rc_in_ac == pages,
            format_args!("{}", Ret(rc_in_ac)),
            format_args!("{}", Ret(pages)),
        );
        let after = traps::read_cr4();
        c.tap.check(format_args!("2: CR4 is back to {cr4:#x}"), after == cr4, format_args!("{after:#x}"), format_args!("{cr4:#x}"));
    }

    /// 2, CR0.WP: a hypercall's copy to a read-only supervisor page is
    /// -EFAULT while CR0.WP is set (the page unchanged) and writes it while
    /// CR0.WP is clear, as a supervisor write would; a copy from it works.
    fn write_protect(c: &mut Ctx, want: &[u8; 16], pages: u64) {
        let cr0 = traps::read_cr0();
        fill(RO_OUT, 16, 0xa5);
        fill(RO_OUT_NO_WP, 16, 0xa5);
        if !paging::set_2mib(RO_PAGE, Access::ReadOnly) {
            c.tap.check(format_args!("2: the page at 12 MiB can be made read-only"), false, format_args!("no"), format_args!("yes"));
            return;
        }
        // SAFETY: WP only decides whether this kernel's own writes to read-only pages fault; it writes none while WP is clear, and CR0 is restored below.
        let (set, rc_wp, rc_in, cleared, rc_no_wp) = unsafe {
            let set = traps::try_write_cr0(cr0 | CR0_WP);
            let rc_wp = extraversion(RO_OUT);
            let rc_in = current_reservation(RO_IN);
            let cleared = traps::try_write_cr0(cr0 & !CR0_WP);
            let rc_no_wp = extraversion(RO_OUT_NO_WP);
            let _ = traps::try_write_cr0(cr0);
            (set, rc_wp, rc_in, cleared, rc_no_wp)
        };
        let (got, got_no_wp) = (read16(RO_OUT), read16(RO_OUT_NO_WP));
        paging::set_2mib(RO_PAGE, Access::ReadWrite);
        let efault = err(abi::errno::Errno::EFAULT);
        c.tap.check(
            format_args!("2: with CR0.WP set, XENVER_extraversion into a read-only supervisor page returns -EFAULT and writes nothing"),
            set.is_ok() && rc_wp == efault && got == UNTOUCHED,
            format_args!("{set:?}, {}, {got:x?}", Ret(rc_wp)),
            format_args!("Ok, -EFAULT, {UNTOUCHED:x?}"),
        );
        c.tap.check(
            format_args!("2: with CR0.WP set, XENMEM_current_reservation reads its domid from a read-only page"),
            rc_in == pages,
            format_args!("{}", Ret(rc_in)),
            format_args!("{}", Ret(pages)),
        );
        c.tap.check(
            format_args!("2: with CR0.WP clear, XENVER_extraversion into a read-only supervisor page writes it"),
            cleared.is_ok() && rc_no_wp == 0 && got_no_wp == *want,
            format_args!("{cleared:?}, {}, {got_no_wp:x?}", Ret(rc_no_wp)),
            format_args!("Ok, 0, {want:x?}"),
        );
        let after = traps::read_cr0();
        c.tap.check(format_args!("2: CR0 is back to {cr0:#x}"), after == cr0, format_args!("{after:#x}"), format_args!("{cr0:#x}"));
    }

    fn xen_version_ok(c: &Ctx) -> bool {
        hypercall::xen_version() == c.version
    }

    /// 8: the EFER and CR4 changes the SDM/APM refuse with #GP are refused
    /// in the guest, the domain keeps running.
    fn efer_cr4(c: &mut Ctx) {
        let Ok(efer) = traps::try_rdmsr(MSR_EFER) else {
            c.tap.check(format_args!("8: EFER reads"), false, format_args!("a fault"), format_args!("EFER"));
            return;
        };
        // SAFETY: the CPU must refuse this (LME may not change while CR0.PG=1); if a broken hypervisor takes it, EFER is written back below.
        let r = unsafe { traps::try_wrmsr(MSR_EFER, efer & !EFER_LME) };
        let after = traps::try_rdmsr(MSR_EFER);
        c.tap.check(
            format_args!("8: WRMSR EFER clearing LME with paging on takes #GP, EFER unchanged"),
            matches!(r, Err(Fault { vector: GP, .. })) && after == Ok(efer),
            format_args!("{r:?}, EFER {after:x?}"),
            format_args!("#GP, EFER {efer:#x}"),
        );
        if after != Ok(efer) {
            // SAFETY: puts back the value this kernel runs with.
            let _ = unsafe { traps::try_wrmsr(MSR_EFER, efer) };
        }
        // Xen ignores the LMA bit of a written value (hvm_set_efer keeps the current one).
        // SAFETY: LMA is the CPU's to set; writing it cleared changes nothing on Xen.
        let r = unsafe { traps::try_wrmsr(MSR_EFER, efer & !EFER_LMA) };
        let after = traps::try_rdmsr(MSR_EFER);
        c.tap.check(
            format_args!("8: WRMSR EFER with LMA clear is taken with LMA kept (Xen ignores it)"),
            r.is_ok() && after == Ok(efer),
            format_args!("{r:?}, EFER {after:x?}"),
            format_args!("Ok, EFER {efer:#x}"),
        );
        let cr4 = traps::read_cr4();
        // SAFETY: VMXE must be refused for a guest without nested virtualization; if a broken hypervisor sets it, nothing here uses VMX.
        let r = unsafe { traps::try_write_cr4(cr4 | CR4_VMXE) };
        let after = traps::read_cr4();
        c.tap.check(
            format_args!("8: MOV CR4 setting VMXE takes #GP, CR4 unchanged"),
            matches!(r, Err(Fault { vector: GP, .. })) && after == cr4,
            format_args!("{r:?}, CR4 {after:#x}"),
            format_args!("#GP, CR4 {cr4:#x}"),
        );
        if after != cr4 {
            // SAFETY: back to the value this kernel runs with.
            let _ = unsafe { traps::try_write_cr4(cr4) };
        }
        c.tap.check(format_args!("8: the domain runs on after the refused writes"), xen_version_ok(c), format_args!("no"), format_args!("yes"));
    }

    fn multicall(list: u64, count: u64) -> u64 {
        // SAFETY: the list lies in our 6..8 MiB region (or the scratch), running into the unmapped hole; its entries are the calls the caller wrote.
        unsafe { hypercall::hypercall2(HYPERVISOR_MULTICALL, list, count) }
    }

    /// 4: calls the guest makes long: each returns, with Xen's answer, and
    /// the rest of the machine keeps running (Dom0 measures its own ticks
    /// meanwhile; see dom0-kernel's `test=hostile`).
    fn long_calls(c: &mut Ctx, floods: u64) {
        let entries = ((HOLE - LIST) / 64) as usize;
        let list = LIST as *mut MulticallEntry;
        for i in 0..entries {
            // SAFETY: inside 6..8 MiB, RAM of ours.
            unsafe { list.add(i).write(MulticallEntry { op: HYPERVISOR_XEN_VERSION, result: 0x7777, args: [XENVER_VERSION, 0, 0, 0, 0, 0] }) };
        }
        let start = guest_rt::timer::now_ns();
        let rc = multicall(LIST, 0xffff_ffff);
        let ms = (guest_rt::timer::now_ns() - start) / 1_000_000;
        // SAFETY: inside 6..8 MiB.
        let (first, last) = unsafe { (list.read().result, list.add(entries - 1).read().result) };
        c.tap.check(
            format_args!("4: multicall of 0xffffffff xen_version entries running into unmapped memory returns -EFAULT after running the {entries} readable ones ({ms} ms)"),
            rc == err(abi::errno::Errno::EFAULT) && first == c.version && last == c.version,
            format_args!("{}, first result {first:#x}, last {last:#x}", Ret(rc)),
            format_args!("-EFAULT, results {:#x}", c.version),
        );

        // An entry that keeps continuing: a grant unmap batch of 87381 bad
        // handles that runs into the hole. Xen continues it in chunks and
        // ends with -EFAULT in the entry; the multicall returns 0.
        let unmaps = ((HOLE - LIST) / 24) as usize;
        let u = LIST as *mut GnttabUnmapGrantRef;
        for i in 0..unmaps {
            // SAFETY: inside 6..8 MiB.
            unsafe { u.add(i).write_unaligned(GnttabUnmapGrantRef { host_addr: 0, dev_bus_addr: 0, handle: 0xffff_ffff, status: 0x7777, _pad: 0 }) };
        }
        let one = ONE_ENTRY as *mut MulticallEntry;
        // SAFETY: the scratch, ours.
        unsafe { one.write(MulticallEntry { op: HYPERVISOR_GRANT_TABLE_OP, result: 0x7777, args: [GNTTABOP_UNMAP_GRANT_REF, LIST, 0x7fff_ffff, 0, 0, 0] }) };
        let rc = multicall(ONE_ENTRY, 1);
        // SAFETY: as above.
        let (result, status) = unsafe { (one.read().result, u.add(unmaps - 1).read_unaligned().status) };
        c.tap.check(
            format_args!("4: multicall of one grant unmap batch of 0x7fffffff bad handles returns 0, the entry -EFAULT, each handle GNTST_bad_handle"),
            rc == 0 && result == err(abi::errno::Errno::EFAULT) && status == GNTST_BAD_HANDLE,
            format_args!("{}, entry {}, last status {status}", Ret(rc), Ret(result)),
            format_args!("0, entry -EFAULT, status {GNTST_BAD_HANDLE}"),
        );
        // A multicall inside a multicall: Xen refuses the reentry (-EINVAL in the entry).
        // SAFETY: the scratch, ours; the inner list is the unmap list above.
        unsafe { one.write(MulticallEntry { op: HYPERVISOR_MULTICALL, result: 0x7777, args: [LIST, 0xffff_ffff, 0, 0, 0, 0] }) };
        let rc = multicall(ONE_ENTRY, 1);
        // SAFETY: as above.
        let result = unsafe { one.read().result };
        c.tap.check(
            format_args!("4: a multicall entry that is itself a multicall gets -EINVAL"),
            rc == 0 && result == err(abi::errno::Errno::EINVAL),
            format_args!("{}, entry {}", Ret(rc), Ret(result)),
            format_args!("0, entry -EINVAL"),
        );

        // 16 KiB per console_io write, `floods` times: lines of dots, so the
        // log stays readable and nothing in it looks like a verdict.
        let buf = CONSOLE_BUF as *mut u8;
        for i in 0..CONSOLE_LEN {
            let b = if i % 128 == 127 { b'\n' } else { b'.' };
            // SAFETY: pages 2..6 of the scratch, ours.
            unsafe { buf.add(i).write(b) };
        }
        let start = guest_rt::timer::now_ns();
        let mut bad = None;
        for _ in 0..floods {
            // SAFETY: CONSOLEIO_write reads the 16 KiB at buf, ours.
            let rc = unsafe { hypercall::hypercall3(HYPERVISOR_CONSOLE_IO, CONSOLEIO_WRITE, CONSOLE_LEN as u64, CONSOLE_BUF) };
            // Xen: 0 (or -EPERM for a DomU in a release build); never a hang.
            if rc != 0 && rc != err(abi::errno::Errno::EPERM) {
                bad = Some(rc);
            }
        }
        let ms = (guest_rt::timer::now_ns() - start) / 1_000_000;
        println!("");
        c.tap.check(
            format_args!("4: {floods} console_io writes of 16 KiB each return (0 or -EPERM), in {ms} ms"),
            bad.is_none(),
            format_args!("{}", Ret(bad.unwrap_or(0))),
            format_args!("0 or -EPERM"),
        );
    }

    fn reservation(cmd: u64, gfn: Option<u64>, order: u32) -> u64 {
        let mut list = [gfn.unwrap_or(0)];
        let r = XenMemoryReservation {
            extent_start: if gfn.is_some() { list.as_mut_ptr() as u64 } else { 0 },
            nr_extents: 1,
            extent_order: order,
            mem_flags: 0,
            domid: DOMID_SELF,
            _pad: [0; 3],
        };
        // SAFETY: the reservation and its one-entry list live on our stack for the call; the gfns named are the caller's to give back or fill.
        unsafe { hypercall::hypercall2(HYPERVISOR_MEMORY_OP, cmd, core::ptr::from_ref(&r) as u64) }
    }

    /// 5: increase_reservation of single pages until the domain's limit or
    /// the host's memory ends, with decrease_reservation and
    /// populate_physmap of a pool page in every round: every call answers
    /// as Xen's (a count of extents done; 0 or -ENOMEM when none could be),
    /// the host never panics.
    fn reservations(c: &mut Ctx, rounds: u64) {
        let mut increased = 0u64;
        let mut exhausted_at = None;
        let mut bad: Option<(&str, u64, u64)> = None;
        let start = guest_rt::timer::now_ns();
        for i in 0..rounds {
            if exhausted_at.is_none() {
                let rc = reservation(XENMEM_INCREASE_RESERVATION, None, 0);
                match rc {
                    1 => increased += 1,
                    0 => exhausted_at = Some(i),
                    e if e == err(abi::errno::Errno::ENOMEM) => exhausted_at = Some(i),
                    e => {
                        bad = Some(("increase_reservation", i, e));
                        break;
                    }
                }
            }
            let gfn = (RESV >> 12) + i % RESV_PAGES;
            let rc = reservation(XENMEM_DECREASE_RESERVATION, Some(gfn), 0);
            if rc != 1 {
                bad = Some(("decrease_reservation", i, rc));
                break;
            }
            let rc = reservation(XENMEM_POPULATE_PHYSMAP, Some(gfn), 0);
            if rc != 1 {
                bad = Some(("populate_physmap", i, rc));
                break;
            }
            if i % 25_000 == 24_999 {
                println!("# 5: {} rounds, {increased} pages added by increase_reservation", i + 1);
            }
        }
        let ms = (guest_rt::timer::now_ns() - start) / 1_000_000;
        match bad {
            None => c.tap.check(
                format_args!("5: {rounds} rounds of increase/decrease/populate of one page answer as Xen ({increased} increases, {} in {ms} ms)", match exhausted_at {
                    Some(i) => if i == 0 { "none possible" } else { "then the limit" },
                    None => "no limit reached",
                }),
                true,
                format_args!(""),
                format_args!(""),
            ),
            Some((what, i, rc)) => c.tap.check(
                format_args!("5: {what} of one page in round {i} returns what Xen's does"),
                false,
                format_args!("{}", Ret(rc)),
                format_args!("1 (0 or -ENOMEM for increase_reservation)"),
            ),
        };
        // SAFETY: a pool page repopulated above; plain RAM of ours.
        let ok = unsafe {
            let p = RESV as *mut u64;
            p.write_volatile(0x1234_5678);
            p.read_volatile() == 0x1234_5678
        };
        c.tap.check(format_args!("5: afterwards the pool's pages hold data and the hypervisor answers"), ok && xen_version_ok(c), format_args!("no"), format_args!("yes"));
    }

    /// 3: XSETBV of an XCR0 the architecture refuses takes #GP in the guest
    /// (Xen's handle_xsetbv: FP always, YMM needs SSE, the AVX-512 three
    /// together with YMM, BNDREGS with BNDCSR, TILECFG with TILEDATA, only
    /// what CPUID 0xD offers; XCR1 and others not writable), XCR0 unchanged;
    /// the valid value still works.
    fn xsetbv(c: &mut Ctx) {
        if cpu::cpuid(1, 0).ecx & (1 << 26) == 0 {
            c.tap.skip("3: XSETBV with invalid XCR0 values", "the CPU has no XSAVE (CPUID.1:ECX[26])");
            return;
        }
        let cr4 = traps::read_cr4();
        if cr4 & CR4_OSXSAVE == 0 {
            // SAFETY: OSXSAVE only enables XGETBV/XSETBV/XSAVE, which this kernel does not otherwise use.
            let r = unsafe { traps::try_write_cr4(cr4 | CR4_OSXSAVE) };
            if !c.tap.check(format_args!("3: setting CR4.OSXSAVE works (CPUID offers XSAVE)"), r.is_ok(), format_args!("{r:?}"), format_args!("Ok")) {
                return;
            }
        }
        let Ok(xcr0) = traps::try_xgetbv(0) else {
            c.tap.check(format_args!("3: XGETBV(0) works"), false, format_args!("a fault"), format_args!("XCR0"));
            return;
        };
        let d = cpu::cpuid(0xd, 0);
        let offered = u64::from(d.eax) | (u64::from(d.edx) << 32);
        println!("# 3: XCR0 {xcr0:#x}, CPUID 0xD offers {offered:#x}");
        let cases: [(u32, u64, &str); 8] = [
            (0, 0x1 | 0x8, "x87|BNDREGS (MPX half)"),
            (0, 0x1 | 0x10, "x87|BNDCSR (MPX half)"),
            (0, 0x1 | 0x2 | 0x4 | 0x20, "x87|SSE|YMM|OPMASK (partial AVX-512)"),
            (0, 0x1 | 0x4, "x87|YMM (YMM without SSE)"),
            (0, 0x3 | (1 << 17), "x87|SSE|TILECFG (AMX half)"),
            (0, 1 | (1 << 63), "bit 63"),
            (0, 0, "0 (no x87)"),
            (1, 0x1, "XCR1 = 1"),
        ];
        for (index, value, what) in cases {
            // SAFETY: every one of these values must be refused; if a broken hypervisor takes one, XCR0 is put back below.
            let r = unsafe { traps::try_xsetbv(index, value) };
            let after = traps::try_xgetbv(0);
            c.tap.check(
                format_args!("3: XSETBV({index}, {value:#x}) [{what}] takes #GP, XCR0 unchanged"),
                matches!(r, Err(Fault { vector: GP, .. })) && after == Ok(xcr0),
                format_args!("{r:?}, XCR0 {after:x?}"),
                format_args!("#GP, XCR0 {xcr0:#x}"),
            );
            if after != Ok(xcr0) {
                // SAFETY: back to the value the CPU started with.
                let _ = unsafe { traps::try_xsetbv(0, xcr0) };
            }
        }
        // SAFETY: x87|SSE is always valid with XSAVE; then back to the original.
        let r = unsafe { traps::try_xsetbv(0, 0x3) };
        let mid = traps::try_xgetbv(0);
        // SAFETY: the value read at the start.
        let back = unsafe { traps::try_xsetbv(0, xcr0) };
        c.tap.check(
            format_args!("3: XSETBV(0, x87|SSE) and back to {xcr0:#x} work"),
            r.is_ok() && mid == Ok(0x3) && back.is_ok() && traps::try_xgetbv(0) == Ok(xcr0),
            format_args!("{r:?} {mid:x?} {back:?}"),
            format_args!("Ok, 0x3, Ok"),
        );
    }

    fn grant_op<T>(cmd: u64, op: &mut T) -> u64 {
        // SAFETY: `op` is the live struct `cmd` takes, count 1.
        unsafe { hypercall::hypercall3(HYPERVISOR_GRANT_TABLE_OP, cmd, core::ptr::from_mut(op) as u64, 1) }
    }

    fn read_page(addr: u64) -> [u64; 4] {
        let p = addr as *const u64;
        // SAFETY: callers name mapped RAM pages of ours; reading only.
        unsafe { [p.read_volatile(), p.add(1).read_volatile(), p.add(2).read_volatile(), p.add(511).read_volatile()] }
    }

    /// 1: grant our page G to ourselves and map that grant at G itself. Xen
    /// maps it (guest_physmap_add_entry replaces the RAM entry; the page
    /// stays the domain's, and the grant holds a reference); a hypervisor
    /// may also refuse it with a GNTST error. Either way the frame must not
    /// be freed: pages allocated meanwhile never show G's contents, G keeps
    /// them, and after the unmap everything still runs.
    fn self_grant(c: &mut Ctx) {
        let xatp = XenAddToPhysmap { domid: DOMID_SELF, size: 0, space: XENMAPSPACE_GRANT_TABLE, idx: 0, gpfn: GRANT_FRAME >> 12 };
        // SAFETY: add_to_physmap reads the struct; the grant frame replaces our scratch page 0, which nothing else uses.
        let rc = unsafe { hypercall::hypercall2(HYPERVISOR_MEMORY_OP, XENMEM_ADD_TO_PHYSMAP, core::ptr::from_ref(&xatp) as u64) };
        if !c.tap.check(format_args!("1: add_to_physmap(grant_table frame 0) returns 0"), rc == 0, format_args!("{}", Ret(rc)), format_args!("0")) {
            return;
        }
        let g = SELF_GRANTED;
        let pattern = [0x5e1f_0000_0000_0000u64, 0x5e1f_0000_0000_0001, 0x5e1f_0000_0000_0002, 0x5e1f_0000_0000_01ff];
        let p = g as *mut u64;
        // SAFETY: scratch page 1, ours.
        unsafe {
            for i in 0..512 {
                p.add(i).write_volatile(0x5e1f_0000_0000_0000 | i as u64);
            }
        }
        let entry = GrantEntryV1 { flags: GTF_PERMIT_ACCESS, domid: c.domid, frame: u32::try_from(g >> 12).unwrap_or(0) };
        // SAFETY: the grant frame is mapped at GRANT_FRAME; entry 10 is not one of the reserved ones.
        unsafe { (GRANT_FRAME as *mut GrantEntryV1).add(10).write_volatile(entry) };
        let mut map = GnttabMapGrantRef { host_addr: g, flags: GNTMAP_HOST_MAP, r#ref: 10, dom: c.domid, status: 0x7777, handle: 0, dev_bus_addr: 0 };
        let rc = grant_op(GNTTABOP_MAP_GRANT_REF, &mut map);
        let mapped = rc == 0 && map.status == GNTST_OKAY;
        let refused = rc == 0 && map.status < 0 && map.status != 0x7777;
        let content = read_page(g);
        c.tap.check(
            format_args!("1: map_grant_ref of our own grant over its own gfn maps it (Xen) or refuses with a GNTST code, and the page reads as before"),
            (mapped || refused) && content == pattern,
            format_args!("rc {}, status {}, page {content:x?}", Ret(rc), map.status),
            format_args!("rc 0, status 0 (or < 0), page {pattern:x?}"),
        );
        // Give back 16 pages and take 16 new ones: a freed frame would be
        // among them (the allocator hands out the lowest free frame).
        let first = POOL >> 12;
        let mut realloc_ok = true;
        for gfn in first..first + POOL_PAGES {
            realloc_ok &= reservation(XENMEM_DECREASE_RESERVATION, Some(gfn), 0) == 1;
        }
        for gfn in first..first + POOL_PAGES {
            realloc_ok &= reservation(XENMEM_POPULATE_PHYSMAP, Some(gfn), 0) == 1;
        }
        // And up to EXTRA_PAGES pages where we have no RAM (so the
        // allocator must hand out more frames than the pool gave back, past
        // whatever else is free below the granted frame); best effort: a
        // domain at its limit (Dom0) gets none.
        let mut extra = 0u64;
        if c.extra_gfns {
            for gfn in EXTRA_GFN..EXTRA_GFN + EXTRA_PAGES {
                if reservation(XENMEM_POPULATE_PHYSMAP, Some(gfn), 0) != 1 {
                    break;
                }
                extra += 1;
            }
        }
        let mut dup = None;
        for (i, gfn) in (first..first + POOL_PAGES).chain(EXTRA_GFN..EXTRA_GFN + extra).enumerate() {
            let page = read_page(gfn << 12);
            if page == pattern {
                dup = Some(i);
            }
            // SAFETY: a pool page just repopulated, ours.
            unsafe { ((gfn << 12) as *mut u64).write_volatile(0x9a9e_0000_0000_0000 | i as u64) };
        }
        let content = read_page(g);
        c.tap.check(
            format_args!("1: 16 pages given back and repopulated, {extra} more populated meanwhile: none shows the granted page's data, which stays"),
            realloc_ok && dup.is_none() && content == pattern,
            format_args!("repopulated {realloc_ok}, duplicate in new page {dup:?}, granted page {content:x?}"),
            format_args!("repopulated, no duplicate, {pattern:x?}"),
        );
        for gfn in EXTRA_GFN..EXTRA_GFN + extra {
            reservation(XENMEM_DECREASE_RESERVATION, Some(gfn), 0);
        }
        if mapped {
            let mut unmap = GnttabUnmapGrantRef { host_addr: g, dev_bus_addr: 0, handle: map.handle, status: 0x7777, _pad: 0 };
            let rc = grant_op(GNTTABOP_UNMAP_GRANT_REF, &mut unmap);
            c.tap.check(
                format_args!("1: unmap_grant_ref of the self-mapping returns GNTST_okay"),
                rc == 0 && unmap.status == GNTST_OKAY,
                format_args!("rc {}, status {}", Ret(rc), unmap.status),
                format_args!("rc 0, status 0"),
            );
            // Xen leaves the gfn empty after the unmap (the page stays the
            // domain's, outside its physmap): it is not touched again.
        }
        let flags = {
            // SAFETY: the grant frame, mapped above.
            unsafe { (GRANT_FRAME as *const GrantEntryV1).add(10).read_volatile().flags }
        };
        c.tap.check(
            format_args!("1: afterwards the grant entry is idle again and the hypervisor answers"),
            flags == GTF_PERMIT_ACCESS && xen_version_ok(c),
            format_args!("flags {flags:#x}"),
            format_args!("flags {GTF_PERMIT_ACCESS:#x}"),
        );
    }
}

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("hostile is a PVH guest kernel: build it for x86_64-unknown-none");
    std::process::exit(2);
}
