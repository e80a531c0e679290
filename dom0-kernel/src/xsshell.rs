//! The shell's `xenstore-*` commands, on the store as Dom0 sees it (every
//! node): `xenstore-ls [PATH]` (the tree below PATH, default `/`, one
//! `name = "value"` line per node, indented, with its permissions),
//! `xenstore-read PATH`, `xenstore-write PATH VALUE`, `xenstore-rm PATH`,
//! `xenstore-watch PATH` (prints each event until a key is pressed).

use alloc::format;
use alloc::string::String;

use abi::io::xs_wire::{XS_UNWATCH, XS_WATCH};
use guest_rt::timer::Timer;
use xenstore::wire::{self, Framer, HEADER_LEN};

use crate::shell::Com2;
use crate::toolstack::Toolstack;

/// Longest listing `xenstore-ls` prints.
const LS_MAX_LINES: usize = 2000;

pub fn execute(ts: &mut Toolstack, com2: &Com2, timer: &Timer, verb: &str, args: &[&str]) -> Result<String, String> {
    let store = &mut ts.xenstored.store;
    let name = |e: xenstore::Error| String::from(e.name());
    match (verb, args) {
        ("xenstore-ls", []) => ls(ts, "/"),
        ("xenstore-ls", [path]) => ls(ts, path),
        ("xenstore-read", [path]) => store.read(path).map(|v| String::from_utf8_lossy(&v).into_owned()).map_err(name),
        ("xenstore-write", [path, value @ ..]) if !value.is_empty() => {
            store.write_str(path, &value.join(" ")).map(|()| String::new()).map_err(name)
        }
        ("xenstore-rm", [path]) => store.rm(path).map(|()| String::new()).map_err(name),
        ("xenstore-watch", [path]) => watch(ts, com2, timer, path),
        _ => Err(format!("usage: {}", usage(verb))),
    }
}

fn usage(verb: &str) -> &'static str {
    match verb {
        "xenstore-ls" => "xenstore-ls [PATH]",
        "xenstore-read" => "xenstore-read PATH",
        "xenstore-write" => "xenstore-write PATH VALUE",
        "xenstore-rm" => "xenstore-rm PATH",
        "xenstore-watch" => "xenstore-watch PATH",
        _ => "xenstore-ls | xenstore-read | xenstore-write | xenstore-rm | xenstore-watch",
    }
}

fn ls(ts: &mut Toolstack, top: &str) -> Result<String, String> {
    let store = &mut ts.xenstored.store;
    let mut out = String::new();
    let mut lines = 0;
    // (path, depth), depth first in name order.
    let mut stack = alloc::vec![(String::from(top), 0usize)];
    while let Some((path, depth)) = stack.pop() {
        let value = store.read(&path).map_err(|e| format!("{path}: {}", e.name()))?;
        let perms = store.perms_text(&path).unwrap_or_default();
        let shown = if path == top { path.clone() } else { String::from(xenstore::path::basename(&path)) };
        out.push_str(&format!("{:indent$}{shown} = \"{}\"  ({perms})\n", "", String::from_utf8_lossy(&value).escape_debug(), indent = depth));
        lines += 1;
        if lines >= LS_MAX_LINES {
            out.push_str("(listing cut)\n");
            break;
        }
        let children = store.children(&path).map_err(|e| format!("{path}: {}", e.name()))?;
        for c in children.iter().rev() {
            stack.push((xenstore::path::join(&path, c), depth + 1));
        }
    }
    Ok(String::from(out.trim_end()))
}

fn watch(ts: &mut Toolstack, com2: &Com2, timer: &Timer, path: &str) -> Result<String, String> {
    let mut args = wire_args(&[path, "shell"]);
    ts.xenstored.store.request(0, XS_WATCH, 0, &args).map_err(|e| String::from(e.name()))?;
    com2.say(&format!("[watching {path}; any key stops]"));
    let mut events = 0u64;
    loop {
        while let Some(bytes) = ts.xenstored.store.pop_output(0) {
            let mut f = Framer::default();
            let first = f.push(&bytes[..HEADER_LEN.min(bytes.len())]).ok().flatten();
            let m = match first {
                Some(m) => Some(m),
                None => f.push(&bytes[HEADER_LEN.min(bytes.len())..]).ok().flatten(),
            };
            let Some(m) = m else { continue };
            if let Some(parts) = wire::strings(&m.payload)
                && parts.len() >= 2
            {
                events += 1;
                com2.say(&format!("{} {}", String::from_utf8_lossy(parts[0]), String::from_utf8_lossy(parts[1])));
            }
        }
        if com2.read().is_some() {
            break;
        }
        if ts.wait(timer, 20).is_err() {
            break;
        }
    }
    args = wire_args(&[path, "shell"]);
    let _ = ts.xenstored.store.request(0, XS_UNWATCH, 0, &args);
    Ok(format!("[{events} events]"))
}

fn wire_args(parts: &[&str]) -> alloc::vec::Vec<u8> {
    let mut v = alloc::vec::Vec::new();
    for p in parts {
        v.extend_from_slice(p.as_bytes());
        v.push(0);
    }
    v
}
