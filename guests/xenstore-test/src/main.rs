//! A DomU for Dom0's xenstored, in one of these roles (`mode=` on its
//! command line):
//!
//! - (none): the wire-protocol suite ([`suite`]), TAP, ending with
//!   `# xenstore: P passed, F failed`; `peer=N` names a domain running
//!   `mode=peer`, whose nodes the suite may and may not read.
//! - `peer`: makes `data/secret` (its own) and `data/public` (readable by
//!   all), then rewrites both every 20 ms, for ever.
//! - `rogue-index` / `rogue-big`: one good request, then a request ring
//!   whose producer index is 5000 bytes ahead of the consumer, or a header
//!   announcing a 5000-byte payload (after `delay=MS`); then checks the store stopped
//!   answering and says which error it set in the page; then blocks.
//! - `shutdown`: says it handles `control/shutdown` (feature-poweroff),
//!   watches it, and when the toolstack writes `poweroff` or `reboot` there
//!   clears it and shuts down with that reason.
//! - `deaf`: says so too, watches, and ignores what comes: the toolstack's
//!   hard shutdown after its timeout must stop it.
//! - `bench` (`count=N`, default 1000): `cargo xtask bench`'s round trips:
//!   makes `data/bench`, waits until Dom0 writes `data/go` (so that four
//!   of them start together), then N XS_READs of `data/bench` and N
//!   XS_WRITEs of it, each loop timed by the system time and the TSC,
//!   prints `xenstore-test: bench read n=N failed=F ns=T cycles=C
//!   start=S end=E` (and `write`), and powers off.
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
extern crate alloc;

#[cfg(target_os = "none")]
mod suite;
#[cfg(target_os = "none")]
mod xs;

#[cfg(target_os = "none")]
guest_rt::entry!("xenstore-test", kmain);

#[cfg(target_os = "none")]
mod roles {
    use alloc::vec::Vec;

    use abi::io::xs_wire::*;
    use guest_rt::xenstore::Client;
    use guest_rt::{println, timer};
    use xenstore::ring::{Index, Page};
    use xenstore::wire::Message;

    use crate::xs::{Xs, z};

    #[repr(C, align(4096))]
    struct Arena([u8; 512 << 10]);
    static mut ARENA: Arena = Arena([0; 512 << 10]);

    pub fn heap() {
        // SAFETY: called once at boot; the arena is a static nothing else names, so this is the only reference to it, for ever.
        let arena = unsafe { &mut (*core::ptr::addr_of_mut!(ARENA)).0 };
        guest_rt::heap::init(arena);
    }

    fn block_for_good() -> ! {
        match timer::Timer::new() {
            Ok(t) => t.block_for_good(),
            Err(_) => loop {
                guest_rt::hypercall::sched_yield();
            },
        }
    }

    pub fn peer(xs: &mut Xs) {
        let set = |xs: &mut Xs, i: u32| {
            let a = xs.write(0, "data/secret", &alloc::format!("{i}"));
            let b = xs.write(0, "data/public", &alloc::format!("{i}"));
            a.and(b)
        };
        if set(xs, 0).is_err() || xs.req(XS_SET_PERMS, 0, &z(&["data/public", &alloc::format!("r{}", xs.domid)])).is_err() {
            println!("xenstore-test: peer: cannot make its nodes");
            return;
        }
        println!("xenstore-test: peer: writing data/secret and data/public every 20 ms");
        xs.quiet = true;
        let Ok(t) = timer::Timer::new() else { return };
        let mut i = 1;
        loop {
            let _ = set(xs, i);
            i += 1;
            if t.sleep_ms(20).is_err() {
                return;
            }
        }
    }

    pub fn rogue(xs: &mut Xs, oversized: bool, delay_ms: u64) -> ! {
        let until = timer::now_ns() + delay_ms * 1_000_000;
        while timer::now_ns() < until {
            guest_rt::hypercall::sched_yield();
        }
        let good = xs.req(XS_GET_DOMAIN_PATH, 0, &z(&["0"]));
        println!("xenstore-test: rogue: a good request first: {}", if good.is_ok() { "answered" } else { "NOT answered" });
        let page = xs.c.page();
        if oversized {
            let mut header = Message::new(XS_READ, 99, 0, Vec::new()).to_bytes();
            header[12..16].copy_from_slice(&5000u32.to_le_bytes());
            let _ = xs.c.send_raw(&header);
            println!("xenstore-test: rogue: sent a header announcing a 5000-byte payload");
        } else {
            let cons = page.load(Index::ReqCons);
            page.store(Index::ReqProd, cons.wrapping_add(5000));
            guest_rt::pvconsole::send(xs.c.port());
            println!("xenstore-test: rogue: set req_prod 5000 past req_cons");
        }
        let deadline = timer::now_ns() + 3_000_000_000;
        let error = loop {
            let e = xs.c.page().error();
            if e != XENSTORE_ERROR_NONE || timer::now_ns() > deadline {
                break e;
            }
            guest_rt::hypercall::sched_yield();
        };
        let name = match error {
            XENSTORE_ERROR_RINGIDX => "XENSTORE_ERROR_RINGIDX",
            XENSTORE_ERROR_PROTO => "XENSTORE_ERROR_PROTO",
            XENSTORE_ERROR_COMM => "XENSTORE_ERROR_COMM",
            _ => "none",
        };
        println!("xenstore-test: rogue: the store set error {error} ({name}) in the page");
        block_for_good()
    }

    pub fn shutdown(xs: &mut Xs, deaf: bool) {
        let ready = xs
            .write(0, "control/feature-poweroff", "1")
            .and_then(|_| xs.write(0, "control/feature-reboot", "1"))
            .and_then(|_| xs.req(XS_WATCH, 0, &z(&["control/shutdown", "ctl"])));
        if let Err(e) = ready {
            println!("xenstore-test: shutdown: cannot watch control/shutdown: {}", e.name());
            return;
        }
        xs.c.timeout_ns = u64::MAX / 4;
        println!("xenstore-test: waiting for control/shutdown");
        loop {
            if xs.c.next_event(u64::MAX / 4).is_none() {
                continue;
            }
            let Ok(what) = xs.read(0, "control/shutdown") else { continue };
            if deaf {
                if !what.is_empty() {
                    println!("xenstore-test: control/shutdown says {}; ignoring it", core::str::from_utf8(&what).unwrap_or("?"));
                }
                continue;
            }
            let reason = match what.as_slice() {
                b"poweroff" => abi::sched::SHUTDOWN_POWEROFF,
                b"reboot" => abi::sched::SHUTDOWN_REBOOT,
                _ => continue,
            };
            println!("xenstore-test: control/shutdown says {}; acknowledging and shutting down", core::str::from_utf8(&what).unwrap_or("?"));
            let _ = xs.write(0, "control/shutdown", "");
            guest_rt::hypercall::shutdown(reason);
            return;
        }
    }

    pub fn bench(xs: &mut Xs, count: u32) {
        let ready = xs.write(0, "data/bench", "0").and_then(|_| xs.req(XS_WATCH, 0, &z(&["data/go", "go"])));
        if let Err(e) = ready {
            println!("xenstore-test: bench: cannot set up: {}", e.name());
            return;
        }
        println!("xenstore-test: bench: ready, waiting for data/go");
        while xs.read(0, "data/go").is_err() {
            let _ = xs.c.next_event(1_000_000_000);
        }
        let _ = xs.req(XS_UNWATCH, 0, &z(&["data/go", "go"]));
        for (what, write) in [("read", false), ("write", true)] {
            let mut failed = 0u32;
            let (start, c0) = (timer::now_ns(), guest_rt::cpu::rdtsc_serialized());
            for i in 0..count {
                let r = if write { xs.write(0, "data/bench", if i % 2 == 0 { "a" } else { "b" }) } else { xs.read(0, "data/bench") };
                failed += u32::from(r.is_err());
            }
            let (end, c1) = (timer::now_ns(), guest_rt::cpu::rdtsc_serialized());
            println!(
                "xenstore-test: bench {what} n={count} failed={failed} ns={} cycles={} start={start} end={end}",
                end - start,
                c1.wrapping_sub(c0)
            );
        }
        guest_rt::hypercall::shutdown(abi::sched::SHUTDOWN_POWEROFF);
    }

    pub fn connect() -> Option<Xs> {
        let Some(c) = Client::init() else {
            println!("xenstore-test: no store ring (HVM_PARAM_STORE_PFN unset, or shared info not mappable)");
            return None;
        };
        let mut xs = Xs { c, domid: 0, quiet: false };
        match xs.read(0, "domid").ok().and_then(|v| core::str::from_utf8(&v).ok()?.parse().ok()) {
            Some(id) => xs.domid = id,
            None => {
                println!("xenstore-test: cannot read my domid from the store");
                return None;
            }
        }
        Some(xs)
    }
}

#[cfg(target_os = "none")]
fn kmain(boot: &guest_rt::Boot) {
    use guest_rt::cmdline;

    roles::heap();
    let Some(mut xs) = roles::connect() else { return };
    let cmd = boot.si.cmdline();
    match cmdline::value(cmd, "mode") {
        Some("peer") => roles::peer(&mut xs),
        Some(m @ ("rogue-index" | "rogue-big")) => {
            let delay_ms = cmdline::value(cmd, "delay").and_then(|d| d.parse().ok()).unwrap_or(0);
            roles::rogue(&mut xs, m == "rogue-big", delay_ms)
        }
        Some("shutdown") => roles::shutdown(&mut xs, false),
        Some("deaf") => roles::shutdown(&mut xs, true),
        Some("bench") => roles::bench(&mut xs, cmdline::value(cmd, "count").and_then(|c| c.parse().ok()).unwrap_or(1000)),
        _ => {
            let peer = cmdline::value(cmd, "peer").and_then(|p| p.parse().ok());
            suite::run(&mut xs, peer);
        }
    }
}

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("xenstore-test is a PVH guest kernel: build it for x86_64-unknown-none");
    std::process::exit(2);
}
