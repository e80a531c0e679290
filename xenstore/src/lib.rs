//! Xen's store, xenstored, as plain logic: no memory mapping, no event
//! channels, no `unsafe`. The daemon around it (Dom0's `xenstored`) moves
//! bytes between domains' rings ([`ring`]) and a [`Store`], which frames
//! ([`wire`]), checks and answers each request as Xen's C xenstored does:
//! the tree of nodes with values and permissions ([`perms`]), paths
//! ([`path`]), watches, transactions, quotas ([`Quotas`]).
//!
//! Behaviour follows Xen 4.17's tools/xenstored (facts, not code): error
//! names of `xsd_errors`, what each request needs (read, write, owner,
//! privilege), which watches fire, how a transaction conflicts.
#![no_std]

extern crate alloc;

pub mod path;
pub mod perms;
pub mod ring;
mod store;
pub mod wire;

pub use store::{Effect, Quotas, Store};

/// The errors a reply can carry, by their `xsd_errors` name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    Einval,
    Eacces,
    Eexist,
    Eisdir,
    Enoent,
    Enomem,
    Enospc,
    Eio,
    Enotempty,
    Enosys,
    Erofs,
    Ebusy,
    Eagain,
    Eisconn,
    E2big,
    Eperm,
}

impl Error {
    /// The name sent in an `XS_ERROR` reply (without its nul).
    pub const fn name(self) -> &'static str {
        abi::io::xs_wire::XSD_ERRORS[self as usize]
    }

    /// The error an `XS_ERROR` payload names (a client's view).
    pub fn from_name(name: &[u8]) -> Option<Error> {
        let at = abi::io::xs_wire::XSD_ERRORS.iter().position(|e| e.as_bytes() == name)?;
        Some(ALL[at])
    }
}

const ALL: [Error; 16] = [
    Error::Einval,
    Error::Eacces,
    Error::Eexist,
    Error::Eisdir,
    Error::Enoent,
    Error::Enomem,
    Error::Enospc,
    Error::Eio,
    Error::Enotempty,
    Error::Enosys,
    Error::Erofs,
    Error::Ebusy,
    Error::Eagain,
    Error::Eisconn,
    Error::E2big,
    Error::Eperm,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_names_are_the_headers_table_in_order() {
        for (i, e) in ALL.iter().enumerate() {
            assert_eq!(*e as usize, i);
            assert_eq!(Error::from_name(e.name().as_bytes()), Some(*e));
        }
        assert_eq!(Error::Eagain.name(), "EAGAIN");
        assert_eq!(Error::E2big.name(), "E2BIG");
        assert_eq!(Error::from_name(b"EQUOTA"), None);
    }
}
