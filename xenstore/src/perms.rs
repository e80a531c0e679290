//! Node permissions as xenstored keeps them: a list whose first entry names
//! the owner and the access of every domain not listed after it; later
//! entries give one domain its access. On the wire each entry is a letter
//! (`n` none, `r` read, `w` write, `b` both) and a domain id, nul-terminated.
//! The owner and a privileged domain (Dom0) may do everything.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write;

use crate::Error;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Access {
    pub read: bool,
    pub write: bool,
}

impl Access {
    pub const NONE: Access = Access { read: false, write: false };
    pub const READ: Access = Access { read: true, write: false };
    pub const WRITE: Access = Access { read: false, write: true };
    pub const BOTH: Access = Access { read: true, write: true };

    fn letter(self) -> char {
        match (self.read, self.write) {
            (false, false) => 'n',
            (true, false) => 'r',
            (false, true) => 'w',
            (true, true) => 'b',
        }
    }

    fn from_letter(c: u8) -> Option<Access> {
        Some(match c {
            b'n' => Access::NONE,
            b'r' => Access::READ,
            b'w' => Access::WRITE,
            b'b' => Access::BOTH,
            _ => return None,
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Perm {
    pub domid: u16,
    pub access: Access,
}

/// What a caller may do with a node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rights {
    pub read: bool,
    pub write: bool,
    pub owner: bool,
}

/// A node's permission list; never empty.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Perms(Vec<Perm>);

impl Perms {
    /// Owned by `owner`, `default` for everyone else.
    pub fn new(owner: u16, default: Access) -> Perms {
        Perms(alloc::vec![Perm { domid: owner, access: default }])
    }

    pub fn owner(&self) -> u16 {
        self.0[0].domid
    }

    pub fn set_owner(&mut self, domid: u16) {
        self.0[0].domid = domid;
    }

    pub fn entries(&self) -> &[Perm] {
        &self.0
    }

    /// Adds (or replaces) `domid`'s entry.
    pub fn grant(&mut self, domid: u16, access: Access) {
        match self.0[1..].iter_mut().find(|p| p.domid == domid) {
            Some(p) => p.access = access,
            None => self.0.push(Perm { domid, access }),
        }
    }

    /// Xen's `perm_for_conn`.
    pub fn rights(&self, domid: u16, privileged: bool) -> Rights {
        self.rights_with_target(domid, None, privileged)
    }

    /// The same for a domain given a `target` by XS_SET_TARGET: the
    /// target's nodes are as its own, and the first entry naming either
    /// domain gives the access.
    pub fn rights_with_target(&self, domid: u16, target: Option<u16>, privileged: bool) -> Rights {
        let me = |d: u16| d == domid || target == Some(d);
        if privileged || me(self.owner()) {
            return Rights { read: true, write: true, owner: true };
        }
        let access = self.0[1..].iter().find(|p| me(p.domid)).map_or(self.0[0].access, |p| p.access);
        Rights { read: access.read, write: access.write, owner: false }
    }

    /// Parses nul-terminated entries ("r0\0b3\0"); at least one.
    pub fn parse(bytes: &[u8]) -> Result<Perms, Error> {
        let body = bytes.strip_suffix(b"\0").ok_or(Error::Einval)?;
        let mut list = Vec::new();
        for entry in body.split(|&b| b == 0) {
            let (&letter, id) = entry.split_first().ok_or(Error::Einval)?;
            let access = Access::from_letter(letter).ok_or(Error::Einval)?;
            let id = core::str::from_utf8(id).map_err(|_| Error::Einval)?;
            if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
                return Err(Error::Einval);
            }
            let domid: u16 = id.parse().map_err(|_| Error::Einval)?;
            list.push(Perm { domid, access });
        }
        if list.is_empty() {
            return Err(Error::Einval);
        }
        Ok(Perms(list))
    }

    /// The wire form: every entry followed by a nul.
    pub fn to_wire(&self) -> Vec<u8> {
        let mut s = String::new();
        for p in &self.0 {
            let _ = write!(s, "{}{}\0", p.access.letter(), p.domid);
        }
        s.into_bytes()
    }

    /// Bytes the list takes in memory (4 per entry).
    pub fn stored_size(&self) -> usize {
        self.0.len() * 4
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owner_and_privileged_may_everything() {
        let p = Perms::new(3, Access::NONE);
        assert_eq!(p.rights(3, false), Rights { read: true, write: true, owner: true });
        assert_eq!(p.rights(0, true), Rights { read: true, write: true, owner: true });
        assert_eq!(p.rights(4, false), Rights { read: false, write: false, owner: false });
    }

    #[test]
    fn a_later_entry_overrides_the_default() {
        let mut p = Perms::new(0, Access::READ);
        p.grant(5, Access::WRITE);
        assert_eq!(p.rights(5, false), Rights { read: false, write: true, owner: false });
        assert_eq!(p.rights(6, false), Rights { read: true, write: false, owner: false });
        p.grant(5, Access::NONE);
        assert_eq!(p.entries().len(), 2);
        assert!(!p.rights(5, false).write);
    }

    #[test]
    fn wire_form_round_trips_and_rejects_garbage() {
        let p = Perms::parse(b"n0\0r3\0b7\0w65535\0").unwrap();
        assert_eq!(p.owner(), 0);
        assert_eq!(p.to_wire(), b"n0\0r3\0b7\0w65535\0");
        for bad in [&b""[..], b"\0", b"r0", b"x0\0", b"r\0", b"r-1\0", b"r65536\0", b"r0\0\0", b"r 1\0"] {
            assert_eq!(Perms::parse(bad), Err(Error::Einval), "{bad:?}");
        }
    }
}
