//! `HYPERVISOR_hypfs_op(cmd, path, path_len, buf, buf_len)` (hypfs.h;
//! xen/common/hypfs.c). Dom0 only (-EPERM), as Xen's XSM_PRIV.
//!
//! | cmd | here |
//! |---|---|
//! | `XEN_HYPFS_OP_get_version` (0) | 1; every other argument must be 0 (-EINVAL) |
//! | `XEN_HYPFS_OP_read` (1) | path of at most 1024 bytes (-EINVAL), readable (-EFAULT), NUL only at its end (-EINVAL), starting with `/` (-EINVAL), existing (-ENOENT); a buffer smaller than the 12-byte header -EINVAL, unwritable -EFAULT, too small for the contents -ENOBUFS (the header written) |
//! | `XEN_HYPFS_OP_write_contents` (2) | the path checks, then -EACCES: every entry here is read-only |
//! | other | the path checks, then -EOPNOTSUPP |
//!
//! The tree is Xen's `/buildinfo` part: `changeset`, `version/major`,
//! `version/minor`, `version/extra` (as xen_version reports them), with
//! directories listed as Xen lists them (`struct xen_hypfs_dirlistentry`
//! records, sorted by name). Xen's `/params` and `compileinfo` are not kept.

#![forbid(unsafe_code)]

use alloc::vec::Vec;

use abi::errno::Errno;
use abi::hypfs::*;
use abi::zerocopy::IntoBytes;

use super::xen_version::{CHANGESET, EXTRAVERSION, XEN_MAJOR, XEN_MINOR};
use super::{Caller, Outcome, write_arg};

/// What an entry holds.
enum Node {
    /// Children's names, sorted.
    Dir(&'static [&'static str]),
    Uint(u32),
    Str(&'static str),
}

/// The entry at an absolute path without its leading `/`.
fn lookup(path: &str) -> Option<Node> {
    Some(match path.trim_end_matches('/') {
        "" => Node::Dir(&["buildinfo"]),
        "buildinfo" => Node::Dir(&["changeset", "version"]),
        "buildinfo/changeset" => Node::Str(CHANGESET),
        "buildinfo/version" => Node::Dir(&["extra", "major", "minor"]),
        "buildinfo/version/major" => Node::Uint(u32::try_from(XEN_MAJOR).unwrap_or(0)),
        "buildinfo/version/minor" => Node::Uint(u32::try_from(XEN_MINOR).unwrap_or(0)),
        "buildinfo/version/extra" => Node::Str(EXTRAVERSION),
        _ => return None,
    })
}

/// Offset of the name in `struct xen_hypfs_dirlistentry` (header, `off_next`).
const DIRENTRY_NAME_OFF: usize = 14;

/// Bytes one directory record takes (Xen's `DIRENTRY_SIZE`).
fn dirent_size(name: &str) -> usize {
    (DIRENTRY_NAME_OFF + name.len() + 1).next_multiple_of(4)
}

fn header(node: &Node, content_len: usize) -> XenHypfsDirentry {
    let r#type = match node {
        Node::Dir(_) => XEN_HYPFS_TYPE_DIR,
        Node::Uint(_) => XEN_HYPFS_TYPE_UINT,
        Node::Str(_) => XEN_HYPFS_TYPE_STRING,
    };
    XenHypfsDirentry { r#type, encoding: XEN_HYPFS_ENC_PLAIN, pad: 0, content_len: u32::try_from(content_len).unwrap_or(u32::MAX), max_write_len: 0 }
}

/// An entry's contents as Xen's read handlers produce them.
fn contents(node: &Node, path: &str) -> Vec<u8> {
    match node {
        Node::Uint(v) => v.to_le_bytes().to_vec(),
        Node::Str(s) => {
            let mut v = s.as_bytes().to_vec();
            v.push(0);
            v
        }
        Node::Dir(children) => {
            let mut out = Vec::new();
            for (i, name) in children.iter().enumerate() {
                let child_path = alloc::format!("{}/{name}", path.trim_end_matches('/'));
                let child = lookup(child_path.trim_start_matches('/')).unwrap_or(Node::Dir(&[]));
                let len = contents(&child, &child_path).len();
                let size = dirent_size(name);
                let start = out.len();
                out.extend_from_slice(header(&child, len).as_bytes());
                let next = if i + 1 == children.len() { 0 } else { u16::try_from(size).unwrap_or(0) };
                out.extend_from_slice(&next.to_le_bytes());
                out.extend_from_slice(name.as_bytes());
                out.resize(start + size, 0);
            }
            out
        }
    }
}

pub fn hypfs_op(caller: &mut impl Caller, cmd: u64, path: u64, path_len: u64, buf: u64, buf_len: u64) -> Outcome {
    if !caller.privileged() {
        return Outcome::err(Errno::EPERM);
    }
    if cmd == XEN_HYPFS_OP_GET_VERSION {
        if path != 0 || path_len != 0 || buf != 0 || buf_len != 0 {
            return Outcome::err(Errno::EINVAL);
        }
        return Outcome::Return(XEN_HYPFS_VERSION);
    }
    match run(caller, cmd, path, path_len, buf, buf_len) {
        Ok(()) => Outcome::Return(0),
        Err(e) => Outcome::err(e),
    }
}

fn run(caller: &mut impl Caller, cmd: u64, path: u64, path_len: u64, buf: u64, buf_len: u64) -> Result<(), Errno> {
    if path_len > XEN_HYPFS_MAX_PATHLEN {
        return Err(Errno::EINVAL);
    }
    let mut bytes = alloc::vec![0u8; usize::try_from(path_len).map_err(|_| Errno::EINVAL)?];
    caller.copy_from_guest(path, &mut bytes)?;
    // The one NUL must end the path.
    if bytes.iter().position(|&b| b == 0) != Some(bytes.len().wrapping_sub(1)) {
        return Err(Errno::EINVAL);
    }
    let text = core::str::from_utf8(&bytes[..bytes.len() - 1]).map_err(|_| Errno::ENOENT)?;
    let rel = text.strip_prefix('/').ok_or(Errno::EINVAL)?;
    let node = lookup(rel).ok_or(Errno::ENOENT)?;
    match cmd {
        XEN_HYPFS_OP_READ => {
            let data = contents(&node, text);
            let head = header(&node, data.len());
            if buf_len < core::mem::size_of::<XenHypfsDirentry>() as u64 {
                return Err(Errno::EINVAL);
            }
            write_arg(caller, buf, &head)?;
            if buf_len < (data.len() + core::mem::size_of::<XenHypfsDirentry>()) as u64 {
                return Err(Errno::ENOBUFS);
            }
            caller.copy_to_guest(buf + core::mem::size_of::<XenHypfsDirentry>() as u64, &data)
        }
        // Every entry is read-only (Xen's hypfs_write_deny).
        XEN_HYPFS_OP_WRITE_CONTENTS => Err(Errno::EACCES),
        _ => Err(Errno::EOPNOTSUPP),
    }
}

#[cfg(test)]
mod tests {
    use super::super::fake::FakeCaller;
    use super::*;

    fn read(c: &mut FakeCaller, path: &[u8], buf_len: u64) -> Outcome {
        c.mem[..path.len()].copy_from_slice(path);
        hypfs_op(c, XEN_HYPFS_OP_READ, 0, path.len() as u64, 0x400, buf_len)
    }

    #[test]
    fn get_version_is_1_with_zero_arguments_for_dom0_only() {
        let mut c = FakeCaller::new(64);
        assert_eq!(hypfs_op(&mut c, 0, 0, 0, 0, 0), Outcome::Return(1));
        assert_eq!(hypfs_op(&mut c, 0, 0, 1, 0, 0), Outcome::err(Errno::EINVAL));
        let mut u = FakeCaller::unprivileged(64);
        assert_eq!(hypfs_op(&mut u, 0, 0, 0, 0, 0), Outcome::err(Errno::EPERM));
    }

    #[test]
    fn leaves_read_as_xen_encodes_them() {
        let mut c = FakeCaller::new(0x1000);
        assert_eq!(read(&mut c, b"/buildinfo/version/minor\0", 64), Outcome::Return(0));
        let h: XenHypfsDirentry = c.get(0x400);
        assert_eq!((h.r#type, h.content_len, h.max_write_len), (XEN_HYPFS_TYPE_UINT, 4, 0));
        assert_eq!(c.get::<u32>(0x40c), 17);
        assert_eq!(read(&mut c, b"/buildinfo/version/extra\0", 64), Outcome::Return(0));
        assert_eq!(c.get::<XenHypfsDirentry>(0x400).content_len, 6);
        assert_eq!(&c.mem[0x40c..0x412], b"-rust\0");
        assert_eq!(read(&mut c, b"/buildinfo/version/major\0", 15), Outcome::err(Errno::ENOBUFS));
        assert_eq!(c.get::<XenHypfsDirentry>(0x400).content_len, 4, "the header is written first");
        assert_eq!(read(&mut c, b"/buildinfo/version/major\0", 11), Outcome::err(Errno::EINVAL));
    }

    #[test]
    fn directories_list_their_entries() {
        let mut c = FakeCaller::new(0x1000);
        assert_eq!(read(&mut c, b"/buildinfo/version\0", 256), Outcome::Return(0));
        let h: XenHypfsDirentry = c.get(0x400);
        assert_eq!((h.r#type, h.content_len), (XEN_HYPFS_TYPE_DIR, 3 * 20));
        // "extra": its header, off_next 20, then the name.
        let first: XenHypfsDirentry = c.get(0x40c);
        assert_eq!((first.r#type, first.content_len), (XEN_HYPFS_TYPE_STRING, 6));
        assert_eq!(c.get::<u16>(0x40c + 12), 20);
        assert_eq!(&c.mem[0x40c + 14..0x40c + 20], b"extra\0");
        assert_eq!(c.get::<u16>(0x40c + 40 + 12), 0, "the last record ends the list");
        assert_eq!(&c.mem[0x40c + 40 + 14..0x40c + 40 + 20], b"minor\0");
    }

    #[test]
    fn paths_are_checked_in_xens_order() {
        let mut c = FakeCaller::new(0x1000);
        assert_eq!(read(&mut c, b"/no-such-entry\0", 64), Outcome::err(Errno::ENOENT));
        assert_eq!(read(&mut c, b"no-slash\0", 64), Outcome::err(Errno::EINVAL));
        assert_eq!(read(&mut c, b"/ab", 64), Outcome::err(Errno::EINVAL), "no NUL");
        assert_eq!(read(&mut c, b"/a\0b\0", 64), Outcome::err(Errno::EINVAL), "a NUL inside");
        assert_eq!(hypfs_op(&mut c, XEN_HYPFS_OP_READ, 0, 1025, 0x400, 64), Outcome::err(Errno::EINVAL));
        assert_eq!(hypfs_op(&mut c, XEN_HYPFS_OP_READ, 0xfff, 2, 0x400, 64), Outcome::err(Errno::EFAULT));
        c.mem[..2].copy_from_slice(b"/\0");
        assert_eq!(hypfs_op(&mut c, 99, 0, 2, 0x400, 64), Outcome::err(Errno::EOPNOTSUPP));
        assert_eq!(hypfs_op(&mut c, XEN_HYPFS_OP_WRITE_CONTENTS, 0, 2, 0x400, 64), Outcome::err(Errno::EACCES));
        assert_eq!(hypfs_op(&mut c, XEN_HYPFS_OP_READ, 0, 2, 0xff8, 64), Outcome::err(Errno::EFAULT));
    }
}
