extern crate std;

use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use super::*;

fn z(parts: &[&str]) -> Vec<u8> {
    let mut v = Vec::new();
    for p in parts {
        v.extend_from_slice(p.as_bytes());
        v.push(0);
    }
    v
}

/// A store with domains 1 and 2 introduced and their homes made as the
/// toolstack makes them (owned by the domain, readable by Dom0 only).
fn store() -> Store {
    let mut s = Store::new(Quotas::default());
    for d in [1u16, 2] {
        s.introduce(d, 0xfeffc, 5).unwrap();
        let home = path::domain_path(d);
        s.write_str(&home, "").unwrap();
        s.set_perms_str(&home, &[&format!("n{d}")]).unwrap();
    }
    s.take_effects();
    drain(&mut s, 0);
    s
}

fn req(s: &mut Store, d: u16, t: u32, tx: u32, payload: &[u8]) -> Result<Vec<u8>, Error> {
    s.request(d, t, tx, payload)
}

fn write(s: &mut Store, d: u16, tx: u32, path: &str, value: &str) -> Result<Vec<u8>, Error> {
    let mut p = z(&[path]);
    p.extend_from_slice(value.as_bytes());
    req(s, d, XS_WRITE, tx, &p)
}

fn read(s: &mut Store, d: u16, tx: u32, path: &str) -> Result<Vec<u8>, Error> {
    req(s, d, XS_READ, tx, &z(&[path]))
}

/// Every queued message for `d`, parsed.
fn drain(s: &mut Store, d: u16) -> Vec<Message> {
    let mut out = Vec::new();
    while let Some(bytes) = s.pop_output(d) {
        let mut f = wire::Framer::default();
        let first = f.push(&bytes[..wire::HEADER_LEN]).unwrap();
        let m = first.or_else(|| f.push(&bytes[wire::HEADER_LEN..]).unwrap()).expect("a whole message");
        out.push(m);
    }
    out
}

/// The (path, token) of every watch event queued for `d`.
fn events(s: &mut Store, d: u16) -> Vec<(String, String)> {
    drain(s, d)
        .into_iter()
        .filter(|m| m.header.r#type == XS_WATCH_EVENT)
        .map(|m| {
            let parts = wire::strings(&m.payload).unwrap();
            (String::from_utf8(parts[0].to_vec()).unwrap(), String::from_utf8(parts[1].to_vec()).unwrap())
        })
        .collect()
}

#[test]
fn write_read_and_relative_paths() {
    let mut s = store();
    assert_eq!(write(&mut s, 1, 0, "data/x", "hello").unwrap(), b"OK\0");
    assert_eq!(read(&mut s, 1, 0, "/local/domain/1/data/x").unwrap(), b"hello");
    assert_eq!(read(&mut s, 1, 0, "data/x").unwrap(), b"hello");
    // Dom0 sees all, created intermediate nodes are empty and owned by 1.
    assert_eq!(s.read("/local/domain/1/data").unwrap(), b"");
    assert_eq!(s.perms_text("/local/domain/1/data").unwrap(), "n1");
    // Values may hold any byte, nuls included.
    let mut p = z(&["bin"]);
    p.extend_from_slice(&[0, 1, 255]);
    req(&mut s, 1, XS_WRITE, 0, &p).unwrap();
    assert_eq!(read(&mut s, 1, 0, "bin").unwrap(), [0, 1, 255]);
    assert_eq!(read(&mut s, 1, 0, "nothing"), Err(Error::Enoent));
}

#[test]
fn malformed_requests_are_einval() {
    let mut s = store();
    assert_eq!(req(&mut s, 1, XS_READ, 0, b"data"), Err(Error::Einval));
    assert_eq!(req(&mut s, 1, XS_WRITE, 0, b"novalue"), Err(Error::Einval));
    assert_eq!(read(&mut s, 1, 0, "a//b"), Err(Error::Einval));
    assert_eq!(read(&mut s, 1, 0, "a/"), Err(Error::Einval));
    assert_eq!(read(&mut s, 1, 0, "@introduceDomain"), Err(Error::Einval));
    assert_eq!(req(&mut s, 1, 999, 0, b"\0"), Err(Error::Einval));
    assert_eq!(req(&mut s, 1, XS_WATCH_EVENT, 0, b"\0"), Err(Error::Einval));
    assert_eq!(req(&mut s, 1, XS_ERROR, 0, b"\0"), Err(Error::Einval));
    assert_eq!(req(&mut s, 1, XS_WATCH, 0, &z(&["a"])), Err(Error::Einval));
    assert_eq!(req(&mut s, 1, XS_DIRECTORY_PART, 0, &z(&["a", "x"])), Err(Error::Einval));
    assert_eq!(req(&mut s, 1, XS_GET_DOMAIN_PATH, 0, &z(&["-1"])), Err(Error::Einval));
}

#[test]
fn a_domu_stays_in_its_home() {
    let mut s = store();
    assert_eq!(write(&mut s, 1, 0, "/local/domain/2/x", "v"), Err(Error::Eacces));
    assert_eq!(write(&mut s, 1, 0, "/top", "v"), Err(Error::Eacces));
    assert_eq!(read(&mut s, 1, 0, "/local/domain/2"), Err(Error::Eacces));
    // A missing node below one it may not read: EACCES, not ENOENT.
    assert_eq!(read(&mut s, 1, 0, "/local/domain/2/nothing"), Err(Error::Eacces));
    assert_eq!(req(&mut s, 1, XS_RM, 0, &z(&["/local/domain/2"])), Err(Error::Eacces));
    assert_eq!(req(&mut s, 1, XS_DIRECTORY, 0, &z(&["/local/domain"])), Err(Error::Eacces));
    assert_eq!(req(&mut s, 1, XS_MKDIR, 0, &z(&["/local/domain/2/d"])), Err(Error::Eacces));
    // Granted read: now it may.
    write(&mut s, 2, 0, "shared", "s").unwrap();
    req(&mut s, 2, XS_SET_PERMS, 0, &z(&["shared", "n2", "r1"])).unwrap();
    assert_eq!(read(&mut s, 1, 0, "/local/domain/2/shared").unwrap(), b"s");
    assert_eq!(write(&mut s, 1, 0, "/local/domain/2/shared", "t"), Err(Error::Eacces));
    req(&mut s, 2, XS_SET_PERMS, 0, &z(&["shared", "n2", "b1"])).unwrap();
    write(&mut s, 1, 0, "/local/domain/2/shared", "t").unwrap();
    assert_eq!(read(&mut s, 2, 0, "shared").unwrap(), b"t");
    // Still owned by 2: 1 may not change its permissions.
    assert_eq!(req(&mut s, 1, XS_SET_PERMS, 0, &z(&["/local/domain/2/shared", "b1"])), Err(Error::Eacces));
}

#[test]
fn set_perms_rules() {
    let mut s = store();
    write(&mut s, 1, 0, "p", "").unwrap();
    // An unprivileged owner may not give its node away.
    assert_eq!(req(&mut s, 1, XS_SET_PERMS, 0, &z(&["p", "n2"])), Err(Error::Eperm));
    assert_eq!(req(&mut s, 1, XS_SET_PERMS, 0, &z(&["p", "x1"])), Err(Error::Einval));
    assert_eq!(req(&mut s, 1, XS_SET_PERMS, 0, &z(&["p"])), Err(Error::Einval));
    req(&mut s, 1, XS_SET_PERMS, 0, &z(&["p", "r1", "w2"])).unwrap();
    assert_eq!(req(&mut s, 1, XS_GET_PERMS, 0, &z(&["p"])).unwrap(), z(&["r1", "w2"]));
    // Dom0 may.
    s.set_perms_str("/local/domain/1/p", &["n2"]).unwrap();
    assert_eq!(read(&mut s, 1, 0, "p"), Err(Error::Eacces));
    // The perms quota.
    write(&mut s, 1, 0, "q", "").unwrap();
    assert_eq!(req(&mut s, 1, XS_SET_PERMS, 0, &z(&["q", "n1", "r2", "r3", "r4", "r5", "r6"])), Err(Error::Enospc));
    req(&mut s, 1, XS_SET_PERMS, 0, &z(&["q", "n1", "r2", "r3", "r4", "r5"])).unwrap();
    // Special nodes: Dom0's, readable by GET_PERMS.
    assert_eq!(s.perms_text("@releaseDomain").unwrap(), "n0");
    assert_eq!(req(&mut s, 1, XS_SET_PERMS, 0, &z(&["@releaseDomain", "r1"])), Err(Error::Eacces));
}

#[test]
fn new_nodes_inherit_the_parents_permissions_with_the_creator_as_owner() {
    let mut s = store();
    s.write_str("/shared", "").unwrap();
    s.set_perms_str("/shared", &["n0", "b1"]).unwrap();
    write(&mut s, 1, 0, "/shared/mine/leaf", "x").unwrap();
    assert_eq!(s.perms_text("/shared/mine/leaf").unwrap(), "n1 b1");
    assert_eq!(s.perms_text("/shared/mine").unwrap(), "n1 b1");
    // Dom0 keeps the parent's owner.
    s.write_str("/shared/dom0s", "").unwrap();
    assert_eq!(s.perms_text("/shared/dom0s").unwrap(), "n0 b1");
}

#[test]
fn mkdir_directory_and_rm() {
    let mut s = store();
    req(&mut s, 1, XS_MKDIR, 0, &z(&["d/a"])).unwrap();
    req(&mut s, 1, XS_MKDIR, 0, &z(&["d/b/c"])).unwrap();
    // MKDIR of an existing node is fine and keeps its value.
    write(&mut s, 1, 0, "d/a", "keep").unwrap();
    req(&mut s, 1, XS_MKDIR, 0, &z(&["d/a"])).unwrap();
    assert_eq!(read(&mut s, 1, 0, "d/a").unwrap(), b"keep");
    assert_eq!(req(&mut s, 1, XS_DIRECTORY, 0, &z(&["d"])).unwrap(), z(&["a", "b"]));
    assert_eq!(req(&mut s, 1, XS_DIRECTORY, 0, &z(&["d/a"])).unwrap(), b"");
    req(&mut s, 1, XS_RM, 0, &z(&["d/b"])).unwrap();
    assert_eq!(read(&mut s, 1, 0, "d/b/c"), Err(Error::Enoent));
    assert_eq!(req(&mut s, 1, XS_DIRECTORY, 0, &z(&["d"])).unwrap(), z(&["a"]));
    // RM of a missing node whose parent exists: fine; else ENOENT.
    req(&mut s, 1, XS_RM, 0, &z(&["d/zz"])).unwrap();
    assert_eq!(req(&mut s, 1, XS_RM, 0, &z(&["d/zz/yy"])), Err(Error::Enoent));
    assert_eq!(s.rm("/"), Err(Error::Einval));
    // Counts follow: removing frees quota.
    let before = s.owned_by(None, 1);
    req(&mut s, 1, XS_RM, 0, &z(&["d"])).unwrap();
    assert_eq!(s.owned_by(None, 1), before - 2);
}

#[test]
fn directory_part_pages_through_children() {
    let mut s = store();
    for i in 0..10 {
        write(&mut s, 1, 0, &format!("dp/child{i}"), "").unwrap();
    }
    let r = req(&mut s, 1, XS_DIRECTORY_PART, 0, &z(&["dp", "0"])).unwrap();
    let parts = wire::strings(&r).unwrap();
    let generation = parts[0];
    assert!(!generation.is_empty() && generation.iter().all(u8::is_ascii_digit));
    assert_eq!(parts.len(), 1 + 10 + 1, "gen, ten names, the empty end marker");
    assert_eq!(parts[11], b"");
    let off = "child0\0".len();
    let r = req(&mut s, 1, XS_DIRECTORY_PART, 0, &z(&["dp", &format!("{off}")])).unwrap();
    assert_eq!(wire::strings(&r).unwrap()[1], b"child1");
    assert_eq!(req(&mut s, 1, XS_DIRECTORY_PART, 0, &z(&["dp", "1000"])), Err(Error::Einval));
    // The generation changes with the children.
    write(&mut s, 1, 0, "dp/another", "").unwrap();
    let r2 = req(&mut s, 1, XS_DIRECTORY_PART, 0, &z(&["dp", "0"])).unwrap();
    assert_ne!(wire::strings(&r2).unwrap()[0], generation);
}

#[test]
fn a_watch_fires_once_at_once_then_on_changes_below_it() {
    let mut s = store();
    let mut msg = Message::new(XS_WATCH, 42, 0, z(&["w", "tok"]));
    s.handle(1, &msg);
    let out = drain(&mut s, 1);
    assert_eq!(out.len(), 2);
    assert_eq!((out[0].header.r#type, out[0].header.req_id, out[0].payload.as_slice()), (XS_WATCH, 42, &b"OK\0"[..]));
    assert_eq!(out[1].header.r#type, XS_WATCH_EVENT);
    assert_eq!(out[1].payload, z(&["w", "tok"]));
    write(&mut s, 1, 0, "w/x/y", "1").unwrap();
    write(&mut s, 1, 0, "wx", "1").unwrap(); // not below "w"
    write(&mut s, 1, 0, "w", "2").unwrap();
    // Relative watch: relative names in events.
    assert_eq!(events(&mut s, 1), vec![("w/x/y".into(), "tok".into()), ("w".into(), "tok".into())]);
    // Same watch twice: EEXIST; UNWATCH stops it.
    s.handle(1, &msg);
    assert_eq!(drain(&mut s, 1)[0].payload, z(&["EEXIST"]));
    req(&mut s, 1, XS_UNWATCH, 0, &z(&["w", "tok"])).unwrap();
    write(&mut s, 1, 0, "w", "3").unwrap();
    assert!(events(&mut s, 1).is_empty());
    assert_eq!(req(&mut s, 1, XS_UNWATCH, 0, &z(&["w", "tok"])), Err(Error::Enoent));
    // An absolute watch reports absolute names.
    msg.payload = z(&["/local/domain/1/abs", "t2"]);
    s.handle(1, &msg);
    drain(&mut s, 1);
    write(&mut s, 1, 0, "abs", "").unwrap();
    assert_eq!(events(&mut s, 1), vec![("/local/domain/1/abs".into(), "t2".into())]);
}

#[test]
fn watches_fire_only_for_nodes_the_watcher_may_read() {
    let mut s = store();
    req(&mut s, 1, XS_WATCH, 0, &z(&["/local/domain/2", "spy"])).unwrap();
    assert_eq!(events(&mut s, 1).len(), 1, "the initial event fires regardless");
    write(&mut s, 2, 0, "secret", "x").unwrap();
    assert!(events(&mut s, 1).is_empty());
    write(&mut s, 2, 0, "open", "x").unwrap();
    drain(&mut s, 1);
    req(&mut s, 2, XS_SET_PERMS, 0, &z(&["open", "n2", "r1"])).unwrap();
    // The permission change itself is seen (readable after it).
    assert_eq!(events(&mut s, 1), vec![("/local/domain/2/open".into(), "spy".into())]);
    write(&mut s, 2, 0, "open", "y").unwrap();
    assert_eq!(events(&mut s, 1), vec![("/local/domain/2/open".into(), "spy".into())]);
    // Dom0 sees everything.
    req(&mut s, 0, XS_WATCH, 0, &z(&["/", "all"])).unwrap();
    drain(&mut s, 0);
    write(&mut s, 2, 0, "secret", "z").unwrap();
    assert_eq!(events(&mut s, 0), vec![("/local/domain/2/secret".into(), "all".into())]);
}

#[test]
fn rm_fires_the_removed_nodes_watches() {
    let mut s = store();
    write(&mut s, 1, 0, "t/a/b", "").unwrap();
    for (path, token) in [("t", "top"), ("t/a/b", "deep"), ("t/other", "none")] {
        req(&mut s, 1, XS_WATCH, 0, &z(&[path, token])).unwrap();
    }
    drain(&mut s, 1);
    req(&mut s, 1, XS_RM, 0, &z(&["t/a"])).unwrap();
    let mut got = events(&mut s, 1);
    got.sort();
    assert_eq!(got, vec![("t/a".into(), "top".into()), ("t/a/b".into(), "deep".into())]);
}

#[test]
fn special_watches_introduce_and_release() {
    let mut s = store();
    req(&mut s, 0, XS_WATCH, 0, &z(&["@introduceDomain", "i"])).unwrap();
    req(&mut s, 0, XS_WATCH, 0, &z(&["@releaseDomain", "r"])).unwrap();
    req(&mut s, 1, XS_WATCH, 0, &z(&["@releaseDomain", "r1"])).unwrap();
    drain(&mut s, 0);
    drain(&mut s, 1);
    assert_eq!(req(&mut s, 1, XS_INTRODUCE, 0, &z(&["3", "100", "7"])), Err(Error::Eacces));
    req(&mut s, 0, XS_INTRODUCE, 0, &z(&["3", "100", "7"])).unwrap();
    assert_eq!(s.take_effects(), vec![Effect::Introduce { domid: 3, mfn: 100, port: 7 }]);
    assert_eq!(events(&mut s, 0), vec![("@introduceDomain".into(), "i".into())]);
    assert_eq!(req(&mut s, 0, XS_IS_DOMAIN_INTRODUCED, 0, &z(&["3"])).unwrap(), z(&["T"]));
    assert_eq!(req(&mut s, 0, XS_IS_DOMAIN_INTRODUCED, 0, &z(&["4"])).unwrap(), z(&["F"]));
    assert_eq!(req(&mut s, 1, XS_IS_DOMAIN_INTRODUCED, 0, &z(&["3"])), Err(Error::Eacces));
    assert_eq!(req(&mut s, 1, XS_RELEASE, 0, &z(&["3"])), Err(Error::Eacces));
    req(&mut s, 0, XS_RELEASE, 0, &z(&["3"])).unwrap();
    assert_eq!(s.take_effects(), vec![Effect::Release { domid: 3 }]);
    assert_eq!(events(&mut s, 0), vec![("@releaseDomain".into(), "r".into())]);
    // Domain 1 may not read @releaseDomain (n0) until Dom0 lets it.
    assert!(events(&mut s, 1).is_empty());
    s.set_perms_str("@releaseDomain", &["n0", "r1"]).unwrap();
    s.introduce(3, 100, 7).unwrap();
    s.release(3).unwrap();
    assert_eq!(events(&mut s, 1), vec![("@releaseDomain".into(), "r1".into())]);
    assert_eq!(req(&mut s, 0, XS_RELEASE, 0, &z(&["3"])), Err(Error::Enoent));
    assert_eq!(req(&mut s, 0, XS_INTRODUCE, 0, &z(&["0", "1", "1"])), Err(Error::Einval));
    // A released domain's requests are no longer served.
    s.release(2).unwrap();
    assert_eq!(read(&mut s, 2, 0, "x"), Err(Error::Eio));
}

#[test]
fn get_domain_path_reset_watches_and_control() {
    let mut s = store();
    assert_eq!(req(&mut s, 1, XS_GET_DOMAIN_PATH, 0, &z(&["7"])).unwrap(), z(&["/local/domain/7"]));
    req(&mut s, 1, XS_WATCH, 0, &z(&["x", "t"])).unwrap();
    let id = req(&mut s, 1, XS_TRANSACTION_START, 0, b"\0").unwrap();
    let id: u32 = core::str::from_utf8(&id[..id.len() - 1]).unwrap().parse().unwrap();
    req(&mut s, 1, XS_RESET_WATCHES, 0, b"\0").unwrap();
    drain(&mut s, 1);
    write(&mut s, 1, 0, "x", "").unwrap();
    assert!(events(&mut s, 1).is_empty());
    assert_eq!(read(&mut s, 1, id, "x"), Err(Error::Enoent), "the transaction went too");
    assert_eq!(req(&mut s, 1, XS_CONTROL, 0, &z(&["quota"])), Err(Error::Eacces));
    let q = req(&mut s, 0, XS_CONTROL, 0, &z(&["quota"])).unwrap();
    assert!(core::str::from_utf8(&q).unwrap().contains("nodes: 1000\n"));
    req(&mut s, 0, XS_CONTROL, 0, &z(&["quota", "watches", "3"])).unwrap();
    assert_eq!(s.quotas.watches_per_domain, 3);
    assert_eq!(req(&mut s, 0, XS_CONTROL, 0, &z(&["quota", "bogus", "3"])), Err(Error::Einval));
    req(&mut s, 0, XS_CONTROL, 0, &z(&["print", "hello"])).unwrap();
    assert_eq!(s.take_effects(), vec![Effect::Log("hello".into())]);
    assert_eq!(req(&mut s, 0, XS_CONTROL, 0, &z(&["nonsense"])), Err(Error::Einval));
    let q = req(&mut s, 0, XS_CONTROL, 0, &z(&["quota", "1"])).unwrap();
    assert!(core::str::from_utf8(&q).unwrap().starts_with("Domain 1:\nnodes: 2\n"), "{q:?}");
    req(&mut s, 0, XS_CONTROL, 0, &z(&["quota", "memory", "5000"])).unwrap();
    assert_eq!(s.quotas.memory, 5000);
    assert_eq!(req(&mut s, 0, XS_CONTROL, 0, &z(&["quota", "9"])), Err(Error::Enoent));
}

#[test]
fn set_target_gives_the_targets_rights() {
    let mut s = store();
    s.introduce(3, 0xfeffc, 5).unwrap();
    write(&mut s, 2, 0, "mine", "2's").unwrap();
    s.write_str("/local/domain/2/shared", "").unwrap();
    s.set_perms_str("/local/domain/2/shared", &["n0", "r2"]).unwrap();
    assert_eq!(read(&mut s, 1, 0, "/local/domain/2/mine"), Err(Error::Eacces));
    assert_eq!(req(&mut s, 1, XS_SET_TARGET, 0, &z(&["1", "2"])), Err(Error::Eacces), "Dom0 only");
    assert_eq!(req(&mut s, 0, XS_SET_TARGET, 0, &z(&["1"])), Err(Error::Einval));
    assert_eq!(req(&mut s, 0, XS_SET_TARGET, 0, &z(&["1", "9"])), Err(Error::Enoent), "not introduced");
    assert_eq!(req(&mut s, 0, XS_SET_TARGET, 0, &z(&["1", "x"])), Err(Error::Einval));
    req(&mut s, 0, XS_SET_TARGET, 0, &z(&["1", "2"])).unwrap();
    // 2's nodes are as 1's own: read, write, set permissions.
    assert_eq!(read(&mut s, 1, 0, "/local/domain/2/mine").unwrap(), b"2's");
    write(&mut s, 1, 0, "/local/domain/2/mine", "1's").unwrap();
    req(&mut s, 1, XS_SET_PERMS, 0, &z(&["/local/domain/2/mine", "n2", "r3"])).unwrap();
    assert_eq!(read(&mut s, 3, 0, "/local/domain/2/mine").unwrap(), b"1's");
    // An entry naming the target counts for 1 too.
    assert_eq!(read(&mut s, 1, 0, "/local/domain/2/shared").unwrap(), b"");
    assert_eq!(write(&mut s, 1, 0, "/local/domain/2/shared", "x"), Err(Error::Eacces));
    // Nodes 1 makes there are its own; the relation goes one way only.
    write(&mut s, 1, 0, "/local/domain/2/by1", "").unwrap();
    assert_eq!(s.perms_text("/local/domain/2/by1").unwrap(), "n1");
    assert_eq!(read(&mut s, 2, 0, "/local/domain/1"), Err(Error::Eacces));
    // Watches fire for 1 on 2's nodes.
    req(&mut s, 1, XS_WATCH, 0, &z(&["/local/domain/2/mine", "t"])).unwrap();
    drain(&mut s, 1);
    write(&mut s, 2, 0, "mine", "again").unwrap();
    assert_eq!(events(&mut s, 1), vec![("/local/domain/2/mine".into(), "t".into())]);
    // A release ends it.
    s.release(1).unwrap();
    s.introduce(1, 0xfeffc, 5).unwrap();
    assert_eq!(read(&mut s, 1, 0, "/local/domain/2/mine"), Err(Error::Eacces));
}

fn start(s: &mut Store, d: u16) -> u32 {
    let r = req(s, d, XS_TRANSACTION_START, 0, b"\0").unwrap();
    core::str::from_utf8(&r[..r.len() - 1]).unwrap().parse().unwrap()
}

fn end(s: &mut Store, d: u16, id: u32, commit: bool) -> Result<Vec<u8>, Error> {
    req(s, d, XS_TRANSACTION_END, id, &z(&[if commit { "T" } else { "F" }]))
}

#[test]
fn a_transaction_is_isolated_until_it_commits() {
    let mut s = store();
    write(&mut s, 1, 0, "a", "old").unwrap();
    req(&mut s, 1, XS_WATCH, 0, &z(&["a", "t"])).unwrap();
    drain(&mut s, 1);
    let id = start(&mut s, 1);
    write(&mut s, 1, id, "a", "new").unwrap();
    write(&mut s, 1, id, "b/c", "made").unwrap();
    assert_eq!(read(&mut s, 1, id, "a").unwrap(), b"new");
    assert_eq!(read(&mut s, 1, 0, "a").unwrap(), b"old");
    assert_eq!(read(&mut s, 1, 0, "b/c"), Err(Error::Enoent));
    assert!(events(&mut s, 1).is_empty(), "no event before the commit");
    assert_eq!(end(&mut s, 1, id, true).unwrap(), b"OK\0");
    assert_eq!(read(&mut s, 1, 0, "a").unwrap(), b"new");
    assert_eq!(read(&mut s, 1, 0, "b/c").unwrap(), b"made");
    assert_eq!(events(&mut s, 1), vec![("a".into(), "t".into())]);
    // The transaction is gone.
    assert_eq!(end(&mut s, 1, id, true), Err(Error::Enoent));
    assert_eq!(read(&mut s, 1, id, "a"), Err(Error::Enoent));
}

#[test]
fn an_aborted_transaction_changes_nothing() {
    let mut s = store();
    let id = start(&mut s, 1);
    write(&mut s, 1, id, "x", "1").unwrap();
    req(&mut s, 1, XS_RM, id, &z(&["/local/domain/1"])).unwrap();
    end(&mut s, 1, id, false).unwrap();
    assert_eq!(read(&mut s, 1, 0, "x"), Err(Error::Enoent));
    assert!(read(&mut s, 1, 0, "/local/domain/1").is_ok());
}

#[test]
fn a_conflicting_transaction_gets_eagain_and_a_retry_succeeds() {
    let mut s = store();
    write(&mut s, 1, 0, "counter", "1").unwrap();
    let id = start(&mut s, 1);
    let v = read(&mut s, 1, id, "counter").unwrap();
    assert_eq!(v, b"1");
    // Someone else changes what the transaction read.
    s.write_str("/local/domain/1/counter", "5").unwrap();
    write(&mut s, 1, id, "counter", "2").unwrap();
    assert_eq!(end(&mut s, 1, id, true), Err(Error::Eagain));
    assert_eq!(read(&mut s, 1, 0, "counter").unwrap(), b"5");
    let id = start(&mut s, 1);
    read(&mut s, 1, id, "counter").unwrap();
    write(&mut s, 1, id, "counter", "6").unwrap();
    end(&mut s, 1, id, true).unwrap();
    assert_eq!(read(&mut s, 1, 0, "counter").unwrap(), b"6");
    // A node the transaction found absent, created meanwhile: conflict.
    let id = start(&mut s, 1);
    assert_eq!(read(&mut s, 1, id, "late"), Err(Error::Enoent));
    write(&mut s, 1, 0, "late", "x").unwrap();
    write(&mut s, 1, id, "other", "y").unwrap();
    assert_eq!(end(&mut s, 1, id, true), Err(Error::Eagain));
    assert_eq!(read(&mut s, 1, 0, "other"), Err(Error::Enoent));
    // Two transactions on disjoint nodes both commit.
    write(&mut s, 1, 0, "p/q", "").unwrap();
    write(&mut s, 1, 0, "r/s", "").unwrap();
    let (a, b) = (start(&mut s, 1), start(&mut s, 1));
    write(&mut s, 1, a, "p/q", "a").unwrap();
    write(&mut s, 1, b, "r/s", "b").unwrap();
    end(&mut s, 1, a, true).unwrap();
    end(&mut s, 1, b, true).unwrap();
}

#[test]
fn transaction_end_argument_and_nesting() {
    let mut s = store();
    let id = start(&mut s, 1);
    assert_eq!(req(&mut s, 1, XS_TRANSACTION_END, id, &z(&["X"])), Err(Error::Einval));
    assert_eq!(req(&mut s, 1, XS_TRANSACTION_START, id, b"\0"), Err(Error::Ebusy));
    end(&mut s, 1, id, false).unwrap();
    assert_eq!(req(&mut s, 1, XS_TRANSACTION_END, 0, &z(&["T"])), Err(Error::Enoent));
    // Another domain cannot use the id.
    let id = start(&mut s, 1);
    assert_eq!(read(&mut s, 2, id, "x"), Err(Error::Enoent));
}

#[test]
fn quota_nodes_per_domain() {
    let mut s = store();
    s.quotas.nodes_per_domain = 10;
    let have = s.owned_by(None, 1);
    for i in have..10 {
        write(&mut s, 1, 0, &format!("n{i}"), "").unwrap();
    }
    assert_eq!(write(&mut s, 1, 0, "one-more", ""), Err(Error::Enospc));
    // Overwriting an existing node needs none.
    write(&mut s, 1, 0, &format!("n{}", have), "v").unwrap();
    // Within a transaction too, and at commit: two transactions on
    // different parents, each within the quota, not both.
    for n in ["n8", "n9"] {
        req(&mut s, 1, XS_RM, 0, &z(&[n])).unwrap();
    }
    write(&mut s, 1, 0, "qa", "").unwrap();
    let (a, b) = (start(&mut s, 1), start(&mut s, 1));
    write(&mut s, 1, a, "qa/x", "").unwrap();
    assert_eq!(write(&mut s, 1, a, "qa/y", ""), Err(Error::Enospc));
    write(&mut s, 1, b, "n1/z", "").unwrap();
    end(&mut s, 1, a, true).unwrap();
    assert_eq!(end(&mut s, 1, b, true), Err(Error::Enospc));
    // Dom0 has no quota.
    for i in 0..20 {
        s.write_str(&format!("/dom0/{i}"), "").unwrap();
    }
}

#[test]
fn quota_node_size() {
    let mut s = store();
    // Xen's record: a 24-byte header, 8 bytes a permission, and the
    // record must stay under the quota.
    let max = s.quotas.node_size - RECORD_HEADER - RECORD_PERM - 1;
    write(&mut s, 1, 0, "big", &"x".repeat(max)).unwrap();
    assert_eq!(write(&mut s, 1, 0, "big", &"x".repeat(max + 1)), Err(Error::Enospc));
    assert_eq!(write(&mut s, 1, 0, "bigger", &"x".repeat(max + 1)), Err(Error::Enospc));
    // A node full of value cannot take children either.
    assert_eq!(write(&mut s, 1, 0, "big/child", ""), Err(Error::Enospc));
    s.write_str("/local/domain/1/dom0big", &"y".repeat(4000)).unwrap();
}

#[test]
fn quota_watches() {
    let mut s = store();
    s.quotas.watches_per_domain = 4;
    for i in 0..4 {
        req(&mut s, 1, XS_WATCH, 0, &z(&["w", &format!("{i}")])).unwrap();
    }
    assert_eq!(req(&mut s, 1, XS_WATCH, 0, &z(&["w", "4"])), Err(Error::E2big));
    req(&mut s, 1, XS_UNWATCH, 0, &z(&["w", "0"])).unwrap();
    req(&mut s, 1, XS_WATCH, 0, &z(&["w", "4"])).unwrap();
}

#[test]
fn quota_transactions() {
    let mut s = store();
    let ids: Vec<u32> = (0..10).map(|_| start(&mut s, 1)).collect();
    assert_eq!(req(&mut s, 1, XS_TRANSACTION_START, 0, b"\0"), Err(Error::Enospc));
    end(&mut s, 1, ids[0], false).unwrap();
    start(&mut s, 1);
    // Another domain has its own.
    start(&mut s, 2);
}

#[test]
fn quota_path_length() {
    let mut s = store();
    let ok_name = "p".repeat(XENSTORE_REL_PATH_MAX);
    assert_eq!(read(&mut s, 1, 0, &ok_name), Err(Error::Enoent));
    let long = "p".repeat(XENSTORE_REL_PATH_MAX + 1);
    assert_eq!(read(&mut s, 1, 0, &long), Err(Error::Einval));
    assert_eq!(s.read(&format!("/local/domain/1/{long}")), Err(Error::Enoent));
}

#[test]
fn quota_outstanding_requests_and_queued_events() {
    let mut s = store();
    let msg = Message::new(XS_READ, 1, 0, z(&["nothing"]));
    for _ in 0..20 {
        assert!(s.accepts(1));
        s.handle(1, &msg);
    }
    assert!(!s.accepts(1), "20 unread replies: stop taking requests");
    assert!(s.accepts(2), "others are not held up");
    s.pop_output(1);
    assert!(s.accepts(1));
    drain(&mut s, 1);
    s.quotas.queued_events = 3;
    req(&mut s, 1, XS_WATCH, 0, &z(&["e", "t"])).unwrap();
    for i in 0..10 {
        write(&mut s, 1, 0, "e", &format!("{i}")).unwrap();
    }
    assert_eq!(events(&mut s, 1).len(), 3);
    assert_eq!(s.events_dropped(1), 8);
}

#[test]
fn oversized_replies_are_e2big() {
    let mut s = store();
    for i in 0..300 {
        s.write_str(&format!("/wide/a-rather-long-child-name-{i:04}"), "").unwrap();
    }
    assert_eq!(s.request(0, XS_DIRECTORY, 0, &z(&["/wide"])), Err(Error::E2big));
    // DIRECTORY_PART pages through it instead.
    let mut off = 0usize;
    let mut names = 0;
    loop {
        let r = s.request(0, XS_DIRECTORY_PART, 0, &z(&["/wide", &format!("{off}")])).unwrap();
        assert!(r.len() <= 4096);
        let parts = wire::strings(&r).unwrap();
        let done = parts.last() == Some(&&b""[..]);
        let got: Vec<&[u8]> = parts[1..].iter().copied().filter(|p| !p.is_empty()).collect();
        names += got.len();
        off += got.iter().map(|n| n.len() + 1).sum::<usize>();
        if done {
            break;
        }
        assert!(!got.is_empty());
    }
    assert_eq!(names, 300);
}

#[test]
fn replies_echo_ids_and_errors_are_named() {
    let mut s = store();
    s.handle(1, &Message::new(XS_READ, 77, 0, z(&["nothing"])));
    let m = &drain(&mut s, 1)[0];
    assert_eq!((m.header.r#type, m.header.req_id), (XS_ERROR, 77));
    assert_eq!(m.payload, b"ENOENT\0");
}

#[test]
fn a_closed_connection_is_no_longer_answered_but_stays_introduced() {
    let mut s = store();
    req(&mut s, 1, XS_WATCH, 0, &z(&["/local/domain/2", "w"])).unwrap();
    drain(&mut s, 1);
    s.close(1);
    s.handle(1, &Message::new(XS_READ, 1, 0, z(&["domid"])));
    assert!(s.pop_output(1).is_none());
    assert!(!s.accepts(1));
    // Its watches went: nothing is queued for it.
    write(&mut s, 2, 0, "x", "").unwrap();
    assert!(s.pop_output(1).is_none());
    assert!(s.is_introduced(1));
    // The others carry on.
    assert_eq!(write(&mut s, 2, 0, "y", "").unwrap(), b"OK\0");
    s.release(1).unwrap();
    assert!(!s.is_introduced(1));
}

#[test]
fn quota_transaction_nodes() {
    let mut s = store();
    s.quotas.transaction_nodes = 50;
    let id = start(&mut s, 1);
    let mut n = 0;
    let refused = loop {
        match read(&mut s, 1, id, &format!("missing{n}")) {
            Err(Error::Enoent) if n < 100 => n += 1,
            r => break r,
        }
    };
    assert_eq!(refused, Err(Error::Enospc));
    assert!((45..=50).contains(&n), "{n}");
    // Ending it still works, and a fresh one starts empty.
    end(&mut s, 1, id, false).unwrap();
    let id = start(&mut s, 1);
    assert_eq!(read(&mut s, 1, id, "missing0"), Err(Error::Enoent));
}

/// A store whose domains have `memory` bytes each.
fn store_with_memory(memory: usize) -> Store {
    let mut s = store();
    s.quotas.memory = memory;
    s
}

#[test]
fn quota_memory_values_end_in_enomem_and_others_carry_on() {
    let mut s = store_with_memory(64 << 10);
    let before = s.memory_used(1);
    let mut made = 0;
    let refused = loop {
        match write(&mut s, 1, 0, &format!("fill/{made}"), &"v".repeat(1000)) {
            Ok(_) if made < 200 => made += 1,
            r => break r,
        }
    };
    assert_eq!(refused, Err(Error::Enomem), "after {made}");
    assert!((40..64).contains(&made), "{made} nodes of 1000 bytes in 64 KiB");
    assert!(s.memory_used(1) <= 64 << 10);
    // Smaller things still fail once full; reads and removal still work.
    assert_eq!(write(&mut s, 1, 0, "fill/0", &"v".repeat(1900)), Err(Error::Enomem), "growing a value");
    assert_eq!(read(&mut s, 1, 0, "fill/0").unwrap().len(), 1000);
    // Another domain and Dom0 are answered as before.
    write(&mut s, 2, 0, "fine", &"w".repeat(1000)).unwrap();
    s.write_str("/local/domain/1/from-dom0", &"d".repeat(3000)).unwrap();
    s.rm("/local/domain/1/from-dom0").unwrap();
    // RM gives the bytes back.
    req(&mut s, 1, XS_RM, 0, &z(&["fill"])).unwrap();
    assert_eq!(s.memory_used(1), before);
    write(&mut s, 1, 0, "fill/again", &"v".repeat(1000)).unwrap();
}

#[test]
fn quota_memory_counts_watches_transactions_and_queued_messages() {
    let mut s = store_with_memory(32 << 10);
    // Watches with long tokens: ENOMEM long before the 128 of the count.
    let token = "t".repeat(1000);
    let mut n = 0;
    let refused = loop {
        match req(&mut s, 1, XS_WATCH, 0, &z(&[&format!("w{n}"), &token])) {
            Ok(_) if n < 128 => n += 1,
            r => break r,
        }
    };
    assert_eq!(refused, Err(Error::Enomem), "after {n} watches");
    assert!(n < 32, "{n}");
    // Their first events are queued and counted until read.
    let held = s.memory_used(1);
    drain(&mut s, 1);
    assert!(s.memory_used(1) < held);
    req(&mut s, 1, XS_RESET_WATCHES, 0, b"\0").unwrap();
    let base = s.memory_used(1);
    // Reads of missing nodes in a transaction grow what it tracks.
    let id = start(&mut s, 1);
    let long = "p".repeat(1500);
    let mut reads = 0;
    let refused = loop {
        match read(&mut s, 1, id, &format!("{long}{reads}")) {
            Err(Error::Enoent) if reads < 1000 => reads += 1,
            r => break r,
        }
    };
    assert_eq!(refused, Err(Error::Enomem), "after {reads} reads");
    assert!(reads < 32, "{reads}");
    req(&mut s, 1, XS_TRANSACTION_END, id, &z(&["F"])).unwrap();
    assert_eq!(s.memory_used(1), base, "ending it gives the bytes back");
}

#[test]
fn quota_memory_drops_events_and_stalls_a_domain_past_it() {
    let mut s = store_with_memory(16 << 10);
    req(&mut s, 1, XS_WATCH, 0, &z(&["/local/domain/1", "t"])).unwrap();
    s.write_str("/local/domain/1/x", "").unwrap();
    drain(&mut s, 1);
    s.quotas.memory = s.memory_used(1) + 2000;
    // Dom0's writes (no quota for Dom0) fire events nobody reads: they
    // stop at the quota, before the 64 of the queue, and are counted.
    for i in 0..100 {
        s.write_str("/local/domain/1/x", &format!("{i}")).unwrap();
    }
    assert!(s.events_dropped(1) > 0);
    assert!(s.memory_used(1) <= s.quotas.memory, "{}", s.memory_used(1));
    let queued = drain(&mut s, 1).len();
    assert!((5..30).contains(&queued), "{queued} events queued");
    s.quotas.memory = 16 << 10;
    // Nodes Dom0 makes a domain own count for it: past the quota the
    // domain has no further requests taken (Xen's domain_can_read), until
    // it holds less again.
    assert!(s.accepts(1));
    s.write_str("/local/domain/1/huge", &"h".repeat(20 << 10)).unwrap();
    s.set_perms_str("/local/domain/1/huge", &["n1"]).unwrap();
    assert!(!s.accepts(1));
    assert!(s.accepts(2));
    s.rm("/local/domain/1/huge").unwrap();
    assert!(s.accepts(1));
}

#[test]
fn quota_memory_total_bounds_all_domains_together() {
    let mut s = store();
    s.quotas.memory_total = 48 << 10;
    let fill = |s: &mut Store, d: u16| {
        let mut made = 0;
        loop {
            match write(s, d, 0, &format!("fill/{made}"), &"v".repeat(1000)) {
                Ok(_) if made < 500 => made += 1,
                r => break (made, r),
            }
        }
    };
    let (made1, r1) = fill(&mut s, 1);
    assert_eq!(r1, Err(Error::Enomem));
    assert!((30..48).contains(&made1), "{made1}");
    let (made2, r2) = fill(&mut s, 2);
    assert_eq!((made2, r2), (0, Err(Error::Enomem)), "nothing left for domain 2");
    assert!(read(&mut s, 2, 0, "/local/domain/2").is_ok(), "but it is answered");
    s.write_str("/dom0-still-writes", "x").unwrap();
    req(&mut s, 1, XS_RM, 0, &z(&["fill"])).unwrap();
    write(&mut s, 2, 0, "fill/0", "v").unwrap();
}

#[test]
fn quota_memory_soft_says_so_once() {
    let mut s = store_with_memory(64 << 10);
    s.quotas.memory_soft = 8 << 10;
    s.take_effects();
    for i in 0..10 {
        s.handle(1, &Message::new(XS_WRITE, 1, 0, [z(&[&format!("a/{i}")]), b"x".repeat(1000)].concat()));
    }
    s.handle(1, &Message::new(XS_WRITE, 2, 0, [z(&["b"]), b"x".to_vec()].concat()));
    let said = s.take_effects();
    assert_eq!(said.len(), 1, "{said:?}");
    assert!(matches!(&said[0], Effect::Log(l) if l.contains("d1 exceeds the soft memory quota")));
    s.handle(1, &Message::new(XS_RM, 3, 0, z(&["a"])));
    drain(&mut s, 1);
    s.handle(1, &Message::new(XS_READ, 4, 0, z(&["b"])));
    assert!(matches!(&s.take_effects()[..], [Effect::Log(l)] if l.contains("below the soft memory quota again")));
}

/// Fills domain 1 by `step` until the memory quota refuses; what the store
/// really allocated meanwhile (counted as Dom0's allocator rounds) must
/// not pass what the quota charged by more than `slack` bytes: the quota
/// bounds Dom0's heap, not just a figure.
fn fill_and_measure(what: &str, mut step: impl FnMut(&mut Store, u32) -> Result<Vec<u8>, Error>) {
    let quota = 256 << 10;
    let mut s = store();
    s.quotas.nodes_per_domain = 1 << 20;
    s.quotas.watches_per_domain = 1 << 20;
    s.quotas.transaction_nodes = 1 << 20;
    s.quotas.transactions_per_domain = 1 << 20;
    s.quotas.memory = quota;
    let (heap0, charged0) = (super::heap_probe::held(), s.memory_used(1));
    let mut i = 0;
    let last = loop {
        match step(&mut s, i) {
            Ok(_) if i < 1_000_000 => i += 1,
            r => break r,
        }
    };
    let real = usize::try_from(super::heap_probe::held() - heap0).unwrap_or(0);
    let charged = s.memory_used(1) - charged0;
    assert_eq!(last, Err(Error::Enomem), "{what}: after {i} steps");
    assert!(charged <= quota, "{what}");
    // Room for the growth of the store's own collections (a few doublings).
    let slack = 16 << 10;
    assert!(real <= charged + slack, "{what}: {i} steps really took {real} bytes, the quota charged {charged}");
    std::println!("{what}: {i} steps, {real} bytes allocated, {charged} charged");
    drop(s);
}

#[test]
fn memory_accounting_covers_the_real_heap() {
    fill_and_measure("small nodes", |s, i| write(s, 1, 0, &format!("n/{}/{}", i / 40, i % 40), ""));
    fill_and_measure("one child each", |s, i| write(s, 1, 0, &format!("c{i}/x"), ""));
    fill_and_measure("long names", |s, i| write(s, 1, 0, &format!("{}/{i}", "l".repeat(1500)), ""));
    fill_and_measure("values", |s, i| write(s, 1, 0, &format!("v/{}/{}", i / 30, i % 30), &"v".repeat(1500)));
    fill_and_measure("watches", |s, i| req(s, 1, XS_WATCH, 0, &z(&[&format!("{}{i}", "w".repeat(1000)), &"t".repeat(1000)])));
    let mut id = 0;
    fill_and_measure("transaction reads", |s, i| {
        if i == 0 {
            id = start(s, 1);
        }
        match read(s, 1, id, &format!("{}{i}", "r".repeat(1000))) {
            Err(Error::Enoent) => Ok(Vec::new()),
            r => r,
        }
    });
    let mut id = 0;
    fill_and_measure("transaction writes", |s, i| {
        if i == 0 {
            id = start(s, 1);
        }
        write(s, 1, id, &format!("t/{}/{}", i / 30, i % 30), "tv")
    });
    fill_and_measure("transactions", |s, _| req(s, 1, XS_TRANSACTION_START, 0, b"\0"));
    fill_and_measure("unread replies", |s, i| {
        s.handle(1, &Message::new(XS_READ, i, 0, z(&["/local/domain/1"])));
        match s.quotas.memory.saturating_sub(s.memory_used(1)) {
            0..1000 => Err(Error::Enomem),
            _ => Ok(Vec::new()),
        }
    });
}
