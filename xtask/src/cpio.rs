//! A cpio archive writer in the "newc" format, the one Linux unpacks as an
//! initramfs (`Documentation/driver-api/early-userspace/buffer-format.rst`):
//! each entry is the magic `070701`, thirteen 8-digit hex fields, the name
//! with its NUL, padding to 4 bytes, the data, padding to 4 bytes; a
//! `TRAILER!!!` entry ends the archive.

const MAGIC: &str = "070701";
const S_IFDIR: u32 = 0o040_000;
const S_IFREG: u32 = 0o100_000;
const S_IFLNK: u32 = 0o120_000;
const S_IFCHR: u32 = 0o020_000;
const TRAILER: &str = "TRAILER!!!";

/// An archive being written; entries go in order (a directory before what
/// it holds).
pub struct Cpio {
    out: Vec<u8>,
    next_ino: u32,
}

impl Default for Cpio {
    fn default() -> Self {
        Self::new()
    }
}

impl Cpio {
    pub fn new() -> Self {
        Self { out: Vec::new(), next_ino: 1 }
    }

    pub fn dir(&mut self, name: &str) -> &mut Self {
        self.entry(name, S_IFDIR | 0o755, 2, (0, 0), b"")
    }

    pub fn file(&mut self, name: &str, perm: u32, data: &[u8]) -> &mut Self {
        self.entry(name, S_IFREG | (perm & 0o7777), 1, (0, 0), data)
    }

    pub fn symlink(&mut self, name: &str, target: &str) -> &mut Self {
        self.entry(name, S_IFLNK | 0o777, 1, (0, 0), target.as_bytes())
    }

    /// A character device node (`/dev/console` is 5:1).
    pub fn char_dev(&mut self, name: &str, perm: u32, major: u32, minor: u32) -> &mut Self {
        self.entry(name, S_IFCHR | (perm & 0o7777), 1, (major, minor), b"")
    }

    /// The archive, with its trailer.
    pub fn finish(mut self) -> Vec<u8> {
        self.next_ino = 0;
        self.header(TRAILER, 0, 1, (0, 0), 0);
        self.out
    }

    fn entry(&mut self, name: &str, mode: u32, nlink: u32, rdev: (u32, u32), data: &[u8]) -> &mut Self {
        let size = u32::try_from(data.len()).expect("initramfs files are below 4 GiB");
        self.header(name, mode, nlink, rdev, size);
        self.out.extend_from_slice(data);
        self.pad();
        self.next_ino += 1;
        self
    }

    fn header(&mut self, name: &str, mode: u32, nlink: u32, (rmajor, rminor): (u32, u32), size: u32) {
        let namesize = u32::try_from(name.len() + 1).expect("short names");
        // ino, mode, uid, gid, nlink, mtime, filesize, devmajor, devminor,
        // rdevmajor, rdevminor, namesize, check.
        let fields = [self.next_ino, mode, 0, 0, nlink, 0, size, 0, 0, rmajor, rminor, namesize, 0];
        self.out.extend_from_slice(MAGIC.as_bytes());
        for f in fields {
            self.out.extend_from_slice(format!("{f:08x}").as_bytes());
        }
        self.out.extend_from_slice(name.as_bytes());
        self.out.push(0);
        self.pad();
    }

    fn pad(&mut self) {
        self.out.resize(self.out.len().next_multiple_of(4), 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One parsed entry: name, mode, nlink, rdev, data.
    type Entry = (String, u32, u32, (u32, u32), Vec<u8>);

    /// A newc reader for the tests, checking magic, alignment and the trailer.
    fn parse(mut a: &[u8]) -> Vec<Entry> {
        let total = a.len();
        let mut out = Vec::new();
        loop {
            assert_eq!((total - a.len()) % 4, 0, "entry not 4-byte aligned");
            assert_eq!(&a[..6], MAGIC.as_bytes());
            let field = |i: usize| u32::from_str_radix(std::str::from_utf8(&a[6 + 8 * i..14 + 8 * i]).unwrap(), 16).unwrap();
            let (mode, nlink, size, rdev, namesize) = (field(1), field(4), field(6), (field(9), field(10)), field(11));
            let name_end = 110 + namesize as usize;
            assert_eq!(a[name_end - 1], 0, "name without its NUL");
            let name = std::str::from_utf8(&a[110..name_end - 1]).unwrap().to_owned();
            let data_at = name_end.next_multiple_of(4);
            let data = a[data_at..data_at + size as usize].to_vec();
            a = &a[(data_at + size as usize).next_multiple_of(4)..];
            if name == TRAILER {
                assert!(a.is_empty(), "bytes after the trailer");
                return out;
            }
            out.push((name, mode, nlink, rdev, data));
        }
    }

    #[test]
    fn an_archive_reads_back_with_every_entry_kind() {
        let mut c = Cpio::new();
        c.dir("bin").file("bin/busybox", 0o755, b"\x7fELF...").symlink("bin/sh", "busybox").char_dev("dev/console", 0o600, 5, 1);
        c.file("init", 0o755, b"#!/bin/sh\n").file("empty", 0o644, b"");
        let entries = parse(&c.finish());
        assert_eq!(
            entries,
            vec![
                ("bin".into(), 0o040_755, 2, (0, 0), vec![]),
                ("bin/busybox".into(), 0o100_755, 1, (0, 0), b"\x7fELF...".to_vec()),
                ("bin/sh".into(), 0o120_777, 1, (0, 0), b"busybox".to_vec()),
                ("dev/console".into(), 0o020_600, 1, (5, 1), vec![]),
                ("init".into(), 0o100_755, 1, (0, 0), b"#!/bin/sh\n".to_vec()),
                ("empty".into(), 0o100_644, 1, (0, 0), vec![]),
            ]
        );
    }

    #[test]
    fn the_header_is_the_newc_layout() {
        let mut c = Cpio::new();
        c.file("ab", 0o644, b"xyz");
        let a = c.finish();
        let expected_header = concat!(
            "070701", "00000001", "000081a4", "00000000", "00000000", "00000001", "00000000", "00000003",
            "00000000", "00000000", "00000000", "00000000", "00000003", "00000000"
        );
        assert_eq!(&a[..110], expected_header.as_bytes());
        // 110 + "ab\0" = 113, padded to 116; data 3, padded to 4.
        assert_eq!(&a[110..116], b"ab\0\0\0\0");
        assert_eq!(&a[116..120], b"xyz\0");
        assert_eq!(&a[120..126], MAGIC.as_bytes());
        assert_eq!(a.len() % 4, 0);
    }

    #[test]
    fn an_empty_archive_is_just_the_trailer() {
        let a = Cpio::new().finish();
        assert!(parse(&a).is_empty());
        assert_eq!(a.len(), (110 + TRAILER.len() + 1).next_multiple_of(4));
    }
}
