//! The wire-protocol suite: every request the issue lists, the permission
//! rules, watches that fire and watches that must not, a transaction that
//! conflicts with the peer's writes, and each quota. TAP: one `ok` /
//! `not ok` line per check, the plan last, then
//! `# xenstore: P passed, F failed`.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Debug;

use abi::io::xs_wire::*;
use guest_rt::{println, timer};
use xenstore::Error;
use xenstore::ring::{Index, Page};
use xenstore::wire::{self, Message};

use crate::xs::{Xs, z};

const MS: u64 = 1_000_000;

struct Tap {
    n: u32,
    failed: u32,
}

impl Tap {
    fn check(&mut self, ok: bool, what: &str, diag: impl Debug) {
        self.n += 1;
        if ok {
            println!("ok {} - {what}", self.n);
        } else {
            self.failed += 1;
            println!("not ok {} - {what}", self.n);
            println!("  # got {diag:?}");
        }
    }

    /// `got` is `want` (a payload, or an error).
    fn is(&mut self, got: Result<Vec<u8>, Error>, want: Result<&[u8], Error>, what: &str) {
        let ok = match (&got, &want) {
            (Ok(g), Ok(w)) => g.as_slice() == *w,
            (Err(g), Err(w)) => g == w,
            _ => false,
        };
        let shown = got.map(|v| String::from_utf8_lossy(&v).into_owned());
        self.check(ok, what, shown);
    }

    fn err(&mut self, got: Result<Vec<u8>, Error>, want: Error, what: &str) {
        self.is(got, Err(want), what);
    }

    fn okay(&mut self, got: Result<Vec<u8>, Error>, what: &str) {
        self.is(got, Ok(b"OK\0"), what);
    }
}

fn event_is(ev: Option<(Vec<u8>, Vec<u8>)>, path: &str, token: &str) -> bool {
    ev.is_some_and(|(p, t)| p == path.as_bytes() && t == token.as_bytes())
}

fn parse_id(r: &Result<Vec<u8>, Error>) -> u32 {
    r.as_ref().ok().and_then(|v| core::str::from_utf8(v.strip_suffix(b"\0")?).ok()?.parse().ok()).unwrap_or(0)
}

pub fn run(xs: &mut Xs, peer: Option<u16>) {
    println!("TAP version 13");
    println!("# xenstore: wire-protocol suite as d{}, peer {:?}", xs.domid, peer);
    let mut t = Tap { n: 0, failed: 0 };
    let me = xs.domid;
    let home = format!("/local/domain/{me}");

    basics(xs, &mut t, &home);
    permissions(xs, &mut t, me);
    watches(xs, &mut t);
    if let Some(p) = peer {
        peer_checks(xs, &mut t, p);
    } else {
        println!("# no peer= on the command line: the cross-domain checks are skipped");
    }
    transactions(xs, &mut t);
    privileged_only(xs, &mut t);
    quotas(xs, &mut t);
    memory_quota(xs, &mut t, peer);

    println!("1..{}", t.n);
    println!("# xenstore: {} passed, {} failed", t.n - t.failed, t.failed);
}

fn basics(xs: &mut Xs, t: &mut Tap, home: &str) {
    let me = xs.domid;
    t.is(xs.req(XS_GET_DOMAIN_PATH, 0, &z(&[&format!("{me}")])), Ok(z(&[home]).as_slice()), "GET_DOMAIN_PATH of my domid is my home");
    t.check(xs.read(0, "name").is_ok_and(|n| !n.is_empty()), "READ name (relative) as the toolstack wrote it", xs.read(0, "name"));
    t.is(xs.read(0, &format!("{home}/domid")), Ok(format!("{me}").as_bytes()), "READ my domid by absolute path");
    t.check(xs.read(0, "memory/target").is_ok(), "READ memory/target", xs.read(0, "memory/target"));
    let vm = xs.read(0, "vm").unwrap_or_default();
    let vm = String::from_utf8_lossy(&vm).into_owned();
    t.check(vm.starts_with("/vm/") && xs.read(0, &format!("{vm}/name")).is_ok(), "vm names a readable /vm/<uuid>", &vm);
    t.okay(xs.write(0, "data/a", "1"), "WRITE data/a");
    t.is(xs.read(0, "data/a"), Ok(b"1"), "READ data/a back");
    t.okay(xs.write(0, "data/a", "two"), "WRITE over data/a");
    t.is(xs.read(0, "data/a"), Ok(b"two"), "READ the new value");
    t.err(xs.read(0, "data/missing"), Error::Enoent, "READ of a missing node: ENOENT");
    t.okay(xs.req(XS_MKDIR, 0, &z(&["data/dir/sub"])), "MKDIR data/dir/sub (and data/dir)");
    t.okay(xs.req(XS_MKDIR, 0, &z(&["data/dir"])), "MKDIR of an existing node is fine");
    t.is(xs.read(0, "data/dir"), Ok(b""), "a made directory is empty");
    t.is(xs.req(XS_DIRECTORY, 0, &z(&["data"])), Ok(z(&["a", "dir"]).as_slice()), "DIRECTORY data");
    let part = xs.req(XS_DIRECTORY_PART, 0, &z(&["data", "0"]));
    let ok = part.as_ref().ok().and_then(|p| wire::strings(p)).is_some_and(|s| s.len() == 4 && s[1] == b"a" && s[2] == b"dir" && s[3].is_empty());
    t.check(ok, "DIRECTORY_PART data 0: generation, the names, the end mark", part.map(|p| String::from_utf8_lossy(&p).into_owned()));
    let part2 = xs.req(XS_DIRECTORY_PART, 0, &z(&["data", "2"]));
    let ok = part2.as_ref().ok().and_then(|p| wire::strings(p)).is_some_and(|s| s.len() == 3 && s[1] == b"dir");
    t.check(ok, "DIRECTORY_PART from an offset", part2.map(|p| String::from_utf8_lossy(&p).into_owned()));
    t.okay(xs.req(XS_RM, 0, &z(&["data/dir"])), "RM data/dir (and below)");
    t.err(xs.read(0, "data/dir/sub"), Error::Enoent, "the subtree went");
    t.okay(xs.req(XS_RM, 0, &z(&["data/dir"])), "RM of a missing node under an existing parent: OK");
    t.err(xs.req(XS_RM, 0, &z(&["data/no/such"])), Error::Enoent, "RM with no parent: ENOENT");
    // Malformed requests.
    t.err(xs.req(XS_READ, 0, b"data/a"), Error::Einval, "READ without its nul: EINVAL");
    t.err(xs.read(0, "data//a"), Error::Einval, "a path with // : EINVAL");
    t.err(xs.read(0, "data/a/"), Error::Einval, "a path ending in / : EINVAL");
    t.err(xs.read(0, "data/a b"), Error::Einval, "a path with a space: EINVAL");
    t.err(xs.req(XS_WRITE, 0, b"novalue"), Error::Einval, "WRITE without a nul: EINVAL");
    t.err(xs.req(999, 0, &z(&["x"])), Error::Einval, "an unknown request type: EINVAL");
    t.err(xs.req(XS_WATCH_EVENT, 0, &z(&["x", "y"])), Error::Einval, "WATCH_EVENT from a client: EINVAL");
    t.err(xs.req(XS_DIRECTORY_PART, 0, &z(&["data", "x"])), Error::Einval, "DIRECTORY_PART with a bad offset: EINVAL");
    // Replies echo the request id.
    let _ = xs.c.send_raw(&Message::new(XS_READ, 0xabcd, 0, z(&["data/a"])).to_bytes());
    t.is(xs.c.reply_to(0xabcd).unwrap_or(Err(Error::Eio)), Ok(b"two"), "a reply echoes its req_id");
}

fn permissions(xs: &mut Xs, t: &mut Tap, me: u16) {
    let own = format!("n{me}");
    t.err(xs.write(0, "x", "1"), Error::Eacces, "WRITE directly in my home (Dom0's, read-only to me): EACCES");
    t.err(xs.write(0, "/local/domain/0/x", "1"), Error::Eacces, "WRITE in Dom0's home: EACCES");
    t.err(xs.write(0, "/top-level", "1"), Error::Eacces, "WRITE at the root: EACCES");
    t.err(xs.read(0, "/local/domain/0"), Error::Eacces, "READ Dom0's home: EACCES");
    t.err(xs.read(0, "/local/domain/0/nothing-here"), Error::Eacces, "READ a missing node under an unreadable one: EACCES, not ENOENT");
    t.err(xs.req(XS_DIRECTORY, 0, &z(&["/local/domain"])), Error::Eacces, "DIRECTORY /local/domain: EACCES");
    t.err(xs.req(XS_RM, 0, &z(&["name"])), Error::Eacces, "RM my (Dom0-owned) name: EACCES");
    t.err(xs.write(0, "name", "evil"), Error::Eacces, "WRITE my (Dom0-owned) name: EACCES");
    t.is(xs.req(XS_GET_PERMS, 0, &z(&["data/a"])), Ok(z(&[&own]).as_slice()), "GET_PERMS: a node I made is mine, others nothing");
    t.is(xs.req(XS_GET_PERMS, 0, &z(&["name"])), Ok(z(&["n0", &format!("r{me}")]).as_slice()), "GET_PERMS name: Dom0's, readable by me");
    t.okay(xs.req(XS_SET_PERMS, 0, &z(&["data/a", &own, "r0"])), "SET_PERMS on my node");
    t.is(xs.req(XS_GET_PERMS, 0, &z(&["data/a"])), Ok(z(&[&own, "r0"]).as_slice()), "GET_PERMS shows it");
    t.err(xs.req(XS_SET_PERMS, 0, &z(&["data/a", "n0"])), Error::Eperm, "SET_PERMS giving my node away: EPERM");
    t.err(xs.req(XS_SET_PERMS, 0, &z(&["name", &own])), Error::Eacces, "SET_PERMS on a node I do not own: EACCES");
    t.err(xs.req(XS_SET_PERMS, 0, &z(&["data/a", "q1"])), Error::Einval, "SET_PERMS with a bad letter: EINVAL");
    t.err(xs.req(XS_SET_PERMS, 0, &z(&["data/a"])), Error::Einval, "SET_PERMS with no permission: EINVAL");
    t.okay(xs.write(0, "data/inherit/child", ""), "WRITE data/inherit/child");
    t.is(xs.req(XS_GET_PERMS, 0, &z(&["data/inherit/child"])), Ok(z(&[&own]).as_slice()), "a new node inherits its parent's permissions");
}

fn watches(xs: &mut Xs, t: &mut Tap) {
    t.okay(xs.req(XS_WATCH, 0, &z(&["data/w", "tok"])), "WATCH data/w");
    t.check(event_is(xs.c.next_event(500 * MS), "data/w", "tok"), "the watch fires once at once", ());
    t.err(xs.req(XS_WATCH, 0, &z(&["data/w", "tok"])), Error::Eexist, "the same watch again: EEXIST");
    let _ = xs.write(0, "data/w/deep", "1");
    t.check(event_is(xs.c.next_event(500 * MS), "data/w/deep", "tok"), "a write below the watch fires it (relative name)", ());
    let _ = xs.write(0, "data/wx", "1");
    t.check(xs.c.next_event(200 * MS).is_none(), "a write beside it (data/wx) does not", ());
    let _ = xs.req(XS_RM, 0, &z(&["data/w"]));
    t.check(event_is(xs.c.next_event(500 * MS), "data/w", "tok"), "RM of the watched node fires it", ());
    t.okay(xs.req(XS_UNWATCH, 0, &z(&["data/w", "tok"])), "UNWATCH");
    let _ = xs.write(0, "data/w", "2");
    t.check(xs.c.next_event(200 * MS).is_none(), "no event after UNWATCH", ());
    t.err(xs.req(XS_UNWATCH, 0, &z(&["data/w", "tok"])), Error::Enoent, "UNWATCH of no watch: ENOENT");
    let abs = format!("/local/domain/{}/data/abs", xs.domid);
    let _ = xs.req(XS_WATCH, 0, &z(&[&abs, "a"]));
    let _ = xs.c.next_event(500 * MS);
    let _ = xs.write(0, "data/abs", "");
    t.check(event_is(xs.c.next_event(500 * MS), &abs, "a"), "an absolute watch gets absolute names", ());
    t.okay(xs.req(XS_WATCH, 0, &z(&["@releaseDomain", "rel"])), "WATCH @releaseDomain is allowed");
    t.check(event_is(xs.c.next_event(500 * MS), "@releaseDomain", "rel"), "and fires at once", ());
    t.err(xs.req(XS_WATCH, 0, &z(&["@bogus", "x"])), Error::Einval, "WATCH of an unknown special node: EINVAL");
    t.okay(xs.req(XS_RESET_WATCHES, 0, b"\0"), "RESET_WATCHES");
    let _ = xs.write(0, "data/abs", "again");
    t.check(xs.c.next_event(200 * MS).is_none(), "no event after RESET_WATCHES", ());
}

fn peer_checks(xs: &mut Xs, t: &mut Tap, peer: u16) {
    let secret = format!("/local/domain/{peer}/data/secret");
    let public = format!("/local/domain/{peer}/data/public");
    // The peer may still be making its nodes.
    let deadline = timer::now_ns() + 3000 * MS;
    while xs.read(0, &public).is_err() && timer::now_ns() < deadline {
        guest_rt::hypercall::sched_yield();
    }
    t.check(xs.read(0, &public).is_ok(), "READ the peer's public node", xs.read(0, &public));
    t.err(xs.read(0, &secret), Error::Eacces, "READ the peer's own node: EACCES");
    t.err(xs.write(0, &public, "mine"), Error::Eacces, "WRITE the peer's read-only node: EACCES");
    t.err(xs.req(XS_SET_PERMS, 0, &z(&[&public, &format!("b{}", xs.domid)])), Error::Eacces, "SET_PERMS on the peer's node: EACCES");
    let _ = xs.req(XS_WATCH, 0, &z(&[&secret, "s"]));
    t.check(event_is(xs.c.next_event(500 * MS), &secret, "s"), "a watch on the peer's secret fires at once", ());
    t.check(xs.c.next_event(300 * MS).is_none(), "but not for the peer's writes there (unreadable to me)", ());
    let _ = xs.req(XS_UNWATCH, 0, &z(&[&secret, "s"]));
    let _ = xs.req(XS_WATCH, 0, &z(&[&public, "p"]));
    let _ = xs.c.next_event(500 * MS);
    t.check(event_is(xs.c.next_event(500 * MS), &public, "p"), "a watch on the peer's public node fires for its writes", ());
    let _ = xs.req(XS_RESET_WATCHES, 0, b"\0");
    // A transaction that read what the peer keeps changing conflicts.
    let tx = parse_id(&xs.req(XS_TRANSACTION_START, 0, b"\0"));
    let _ = xs.read(tx, &public);
    let _ = xs.write(tx, "data/from-tx", "x");
    let wait = timer::now_ns() + 100 * MS;
    while timer::now_ns() < wait {
        guest_rt::hypercall::sched_yield();
    }
    t.err(xs.req(XS_TRANSACTION_END, tx, &z(&["T"])), Error::Eagain, "a transaction whose read node changed meanwhile: EAGAIN");
    t.err(xs.read(0, "data/from-tx"), Error::Enoent, "and its write did not happen");
    let mut tries = 0;
    let committed = loop {
        tries += 1;
        let tx = parse_id(&xs.req(XS_TRANSACTION_START, 0, b"\0"));
        let _ = xs.read(tx, "data/a");
        let _ = xs.write(tx, "data/from-tx", "y");
        match xs.req(XS_TRANSACTION_END, tx, &z(&["T"])) {
            Err(Error::Eagain) if tries < 10 => continue,
            r => break r,
        }
    };
    t.okay(committed, "the retry, on my own nodes, commits");
}

fn transactions(xs: &mut Xs, t: &mut Tap) {
    let start = xs.req(XS_TRANSACTION_START, 0, b"\0");
    let tx = parse_id(&start);
    t.check(tx != 0, "TRANSACTION_START gives an id", start);
    t.okay(xs.write(tx, "data/tx1", "in"), "WRITE in the transaction");
    t.is(xs.read(tx, "data/tx1"), Ok(b"in"), "the transaction sees it");
    t.err(xs.read(0, "data/tx1"), Error::Enoent, "outside it does not (yet)");
    t.err(xs.req(XS_TRANSACTION_START, tx, b"\0"), Error::Ebusy, "TRANSACTION_START inside one: EBUSY");
    t.err(xs.req(XS_TRANSACTION_END, tx, &z(&["maybe"])), Error::Einval, "TRANSACTION_END with neither T nor F: EINVAL");
    t.okay(xs.req(XS_TRANSACTION_END, tx, &z(&["T"])), "TRANSACTION_END T commits");
    t.is(xs.read(0, "data/tx1"), Ok(b"in"), "now it is there");
    t.err(xs.read(tx, "data/tx1"), Error::Enoent, "the ended transaction's id is gone: ENOENT");
    let tx = parse_id(&xs.req(XS_TRANSACTION_START, 0, b"\0"));
    let _ = xs.write(tx, "data/tx2", "no");
    let _ = xs.req(XS_RM, tx, &z(&["data/tx1"]));
    t.okay(xs.req(XS_TRANSACTION_END, tx, &z(&["F"])), "TRANSACTION_END F aborts");
    t.err(xs.read(0, "data/tx2"), Error::Enoent, "nothing of it happened (write)");
    t.is(xs.read(0, "data/tx1"), Ok(b"in"), "nothing of it happened (rm)");
    t.err(xs.req(XS_TRANSACTION_END, 0, &z(&["T"])), Error::Enoent, "TRANSACTION_END outside a transaction: ENOENT");
    t.err(xs.read(12345, "data/tx1"), Error::Enoent, "a request in an unknown transaction: ENOENT");
}

fn privileged_only(xs: &mut Xs, t: &mut Tap) {
    let me = format!("{}", xs.domid);
    t.err(xs.req(XS_INTRODUCE, 0, &z(&["9", "1", "1"])), Error::Eacces, "INTRODUCE: EACCES");
    t.err(xs.req(XS_RELEASE, 0, &z(&[&me])), Error::Eacces, "RELEASE: EACCES");
    t.err(xs.req(XS_IS_DOMAIN_INTRODUCED, 0, &z(&[&me])), Error::Eacces, "IS_DOMAIN_INTRODUCED: EACCES");
    t.err(xs.req(XS_RESUME, 0, &z(&[&me])), Error::Eacces, "RESUME: EACCES");
    t.err(xs.req(XS_CONTROL, 0, &z(&["quota"])), Error::Eacces, "CONTROL: EACCES");
}

fn quotas(xs: &mut Xs, t: &mut Tap) {
    // Node size (2048 bytes with the permissions).
    t.okay(xs.write(0, "data/big", &"x".repeat(2000)), "quota: a 2000-byte value fits");
    t.err(xs.write(0, "data/big", &"x".repeat(2100)), Error::Enospc, "quota: a 2100-byte value: ENOSPC");
    // Path length: 2048 past /local/domain/<id>/.
    let long = "p".repeat(2048);
    t.err(xs.read(0, &long), Error::Enoent, "quota: a 2048-byte relative path is valid");
    t.err(xs.read(0, &format!("{long}q")), Error::Einval, "quota: a 2049-byte one: EINVAL");
    // Watches: 128.
    let mut n = 0;
    let refused = loop {
        match xs.req(XS_WATCH, 0, &z(&["data/qw", &format!("{n}")])) {
            Ok(_) if n < 200 => n += 1,
            r => break r,
        }
    };
    t.check(n == 128 && refused == Err(Error::E2big), "quota: 128 watches, the 129th E2BIG", (n, refused));
    let _ = xs.req(XS_RESET_WATCHES, 0, b"\0");
    while xs.c.next_event(20 * MS).is_some() {}
    // Transactions: 10.
    let mut ids = Vec::new();
    let refused = loop {
        let r = xs.req(XS_TRANSACTION_START, 0, b"\0");
        match r {
            Ok(_) if ids.len() < 20 => ids.push(parse_id(&r)),
            r => break r,
        }
    };
    t.check(ids.len() == 10 && refused == Err(Error::Enospc), "quota: 10 transactions, the 11th ENOSPC", (ids.len(), refused));
    for id in ids {
        let _ = xs.req(XS_TRANSACTION_END, id, &z(&["F"]));
    }
    // A node's children's names count towards its size (as Xen's
    // xenstored counts them): a DomU's directory cannot outgrow a reply.
    let name = |i: u32| format!("data/wide/a-child-with-a-long-name-{i:04}");
    let mut made = 0u32;
    let refused = loop {
        match xs.write(0, &name(made), "") {
            Ok(_) if made < 200 => made += 1,
            r => break r,
        }
    };
    t.check((60..80).contains(&made) && refused == Err(Error::Enospc), "quota: children's names fill a node too (ENOSPC near 2048 bytes)", (made, refused));
    let listed = xs.req(XS_DIRECTORY, 0, &z(&["data/wide"])).ok().and_then(|r| wire::strings(&r).map(|p| p.len()));
    t.check(listed == Some(made as usize), "DIRECTORY lists them all", listed);
    let (mut off, mut seen) = (0usize, 0);
    for _ in 0..10 {
        let Ok(r) = xs.req(XS_DIRECTORY_PART, 0, &z(&["data/wide", &format!("{off}")])) else { break };
        let Some(parts) = wire::strings(&r) else { break };
        let names: Vec<&[u8]> = parts[1..].iter().copied().filter(|p| !p.is_empty()).collect();
        seen += names.len();
        off += names.iter().map(|n| n.len() + 1).sum::<usize>();
        if parts.last().is_some_and(|p| p.is_empty()) {
            break;
        }
    }
    t.check(seen == made as usize, "DIRECTORY_PART pages through them to the end mark", seen);
    let _ = xs.req(XS_RM, 0, &z(&["data/wide"]));
    // Nodes: 1000 per domain, counting what the toolstack made mine.
    let mut made = 0u32;
    let refused = loop {
        // 30 children a directory: no node outgrows its size quota.
        match xs.write(0, &format!("data/q/{}/{}", made / 30, made % 30), "") {
            Ok(_) if made < 1100 => made += 1,
            r => break r,
        }
    };
    t.check((850..1000).contains(&made) && refused == Err(Error::Enospc), "quota: nodes stop at 1000 per domain with ENOSPC", (made, refused));
    t.okay(xs.req(XS_RM, 0, &z(&["data/q"])), "RM gives the quota back");
    t.okay(xs.write(0, "data/after-quota", ""), "and a node can be made again");
    // Outstanding requests: with the reply ring full, the store holds 20
    // replies and then leaves further requests in the ring until replies
    // are read.
    let _ = xs.write(0, "data/k", &"k".repeat(1000));
    let count = 30u32;
    for i in 0..count {
        let _ = xs.c.send_raw(&Message::new(XS_READ, 1000 + i, 0, z(&["data/k"])).to_bytes());
    }
    let wait = timer::now_ns() + 300 * MS;
    while timer::now_ns() < wait {
        guest_rt::hypercall::sched_yield();
    }
    let page = xs.c.page();
    let left = page.load(Index::ReqProd).wrapping_sub(page.load(Index::ReqCons));
    t.check(left > 0, "quota: with 20 replies unread the store leaves further requests in the ring", left);
    let mut answered = 0;
    for i in 0..count {
        if xs.c.reply_to(1000 + i).is_ok_and(|r| r.is_ok_and(|v| v.len() == 1000)) {
            answered += 1;
        }
    }
    t.check(answered == count, "and answers them all once the replies are read", answered);
}

/// Dom0's heap is bounded per domain (Xen's memory quota: 512 KiB a
/// DomU in our Dom0): filling it with 1900-byte values ends in ENOMEM;
/// meanwhile reads are answered, and so are the peer's writes (its public
/// node keeps changing); RM gives the memory back.
fn memory_quota(xs: &mut Xs, t: &mut Tap, peer: Option<u16>) {
    let value = "m".repeat(1900);
    let mut made = 0u32;
    let refused = loop {
        match xs.write(0, &format!("data/m/{}/{}", made / 20, made % 20), &value) {
            Ok(_) if made < 1000 => made += 1,
            r => break r,
        }
    };
    println!("# memory quota: {made} nodes of 1900 bytes before {refused:?}");
    t.check((120..280).contains(&made) && refused == Err(Error::Enomem), "quota: memory fills with ENOMEM (512 KiB a DomU), before the 1000 nodes", (made, refused));
    // What is left takes a few small nodes, no more.
    let mut small = 0u32;
    let refused = loop {
        match xs.write(0, &format!("data/m/s{small}"), "x") {
            Ok(_) if small < 100 => small += 1,
            r => break r,
        }
    };
    t.check(small < 10 && refused == Err(Error::Enomem), "quota: then small nodes fill what is left, with ENOMEM too", (small, refused));
    t.err(xs.req(XS_WATCH, 0, &z(&["data/m", &"w".repeat(1000)])), Error::Enomem, "quota: and a watch");
    t.is(xs.read(0, "data/m/0/0").map(|v| Vec::from(&v[..4])), Ok(b"mmmm".as_slice()), "quota: reads are still answered when full");
    if let Some(p) = peer {
        let public = format!("/local/domain/{p}/data/public");
        let first = xs.read(0, &public);
        let wait = timer::now_ns() + 200 * MS;
        while timer::now_ns() < wait {
            guest_rt::hypercall::sched_yield();
        }
        let later = xs.read(0, &public);
        t.check(first.is_ok() && later.is_ok() && first != later, "quota: the peer's writes are still answered meanwhile", (first, later));
    }
    t.okay(xs.req(XS_RM, 0, &z(&["data/m"])), "RM of the values");
    t.okay(xs.write(0, "data/after-memory", &value), "gives the memory back");
}
