//! The suite's view of the store: requests with their error, nul-joined
//! arguments.

use alloc::vec::Vec;

use abi::io::xs_wire::{XS_READ, XS_WRITE};
use guest_rt::println;
use guest_rt::xenstore::Client;
use xenstore::Error;

pub struct Xs {
    pub c: Client,
    pub domid: u16,
    /// Requests that get no reply are not said (the peer: when Dom0 stops
    /// serving it while tearing everything down, nothing is wrong).
    pub quiet: bool,
}

/// Each part followed by a nul.
pub fn z(parts: &[&str]) -> Vec<u8> {
    let mut v = Vec::new();
    for p in parts {
        v.extend_from_slice(p.as_bytes());
        v.push(0);
    }
    v
}

impl Xs {
    /// One request; no reply at all counts as EIO (and is said).
    pub fn req(&mut self, r#type: u32, tx: u32, payload: &[u8]) -> Result<Vec<u8>, Error> {
        match self.c.request(r#type, tx, payload) {
            Ok(r) => r,
            Err(_) if self.quiet => Err(Error::Eio),
            Err(e) => {
                println!("# xenstore-test: request type {} got no reply: {e:?}", r#type);
                Err(Error::Eio)
            }
        }
    }

    pub fn read(&mut self, tx: u32, path: &str) -> Result<Vec<u8>, Error> {
        self.req(XS_READ, tx, &z(&[path]))
    }

    pub fn write(&mut self, tx: u32, path: &str, value: &str) -> Result<Vec<u8>, Error> {
        let mut p = z(&[path]);
        p.extend_from_slice(value.as_bytes());
        self.req(XS_WRITE, tx, &p)
    }
}
