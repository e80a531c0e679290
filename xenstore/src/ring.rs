//! The two byte rings of a store page (`struct xenstore_domain_interface`):
//! free-running `u32` indices, a slot is `idx & (XENSTORE_RING_SIZE - 1)`,
//! `prod - cons` (wrapping) waits to be consumed. The guest produces into
//! `req` and consumes `rsp`; xenstored the reverse. An [`Endpoint`] is
//! either end, framing what it reads into [`Message`]s.
//!
//! The page itself is behind [`Page`], implemented over a mapping (with its
//! barriers and volatile accesses) by the kernels and over plain memory by
//! the tests here. The other side may be hostile: indices further apart
//! than the ring's size are reported as [`RingError::BadIndex`], never used.

use alloc::vec::Vec;
use core::mem::offset_of;

use abi::io::xs_wire::{XENSTORE_RING_SIZE, XenstoreDomainInterface};

use crate::wire::{Framer, Message};

const SIZE: u32 = XENSTORE_RING_SIZE;

/// One of the rings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Half {
    Req,
    Rsp,
}

/// One of the four indices.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Index {
    ReqCons,
    ReqProd,
    RspCons,
    RspProd,
}

impl Half {
    /// Offset of the ring's bytes in the page.
    pub const fn offset(self) -> usize {
        match self {
            Half::Req => offset_of!(XenstoreDomainInterface, req),
            Half::Rsp => offset_of!(XenstoreDomainInterface, rsp),
        }
    }
    const fn cons(self) -> Index {
        match self {
            Half::Req => Index::ReqCons,
            Half::Rsp => Index::RspCons,
        }
    }
    const fn prod(self) -> Index {
        match self {
            Half::Req => Index::ReqProd,
            Half::Rsp => Index::RspProd,
        }
    }
}

impl Index {
    /// Offset of the index in the page.
    pub const fn offset(self) -> usize {
        match self {
            Index::ReqCons => offset_of!(XenstoreDomainInterface, req_cons),
            Index::ReqProd => offset_of!(XenstoreDomainInterface, req_prod),
            Index::RspCons => offset_of!(XenstoreDomainInterface, rsp_cons),
            Index::RspProd => offset_of!(XenstoreDomainInterface, rsp_prod),
        }
    }
}

/// Access to a store page shared with the other end. `load` is an Acquire
/// read of an index (the bytes it covers are read after it), `store` a
/// Release write (the bytes written or read before it are done).
pub trait Page {
    fn load(&self, index: Index) -> u32;
    fn store(&self, index: Index, value: u32);
    /// Copies ring bytes `[offset, offset + buf.len())` of `half` out.
    fn read(&self, half: Half, offset: usize, buf: &mut [u8]);
    fn write(&self, half: Half, offset: usize, bytes: &[u8]);
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RingError {
    /// `prod - cons` exceeds the ring's size.
    BadIndex { cons: u32, prod: u32 },
    /// A message announced more than `XENSTORE_PAYLOAD_MAX` bytes.
    Oversized(u32),
}

fn used(cons: u32, prod: u32) -> Result<u32, RingError> {
    let n = prod.wrapping_sub(cons);
    if n <= SIZE { Ok(n) } else { Err(RingError::BadIndex { cons, prod }) }
}

/// Where `len` bytes from index `start` lie: at most two pieces.
fn pieces(start: u32, len: u32) -> [(usize, usize); 2] {
    let offset = start & (SIZE - 1);
    let first = len.min(SIZE - offset);
    [(offset as usize, first as usize), (0, (len - first) as usize)]
}

/// Takes up to `buf.len()` bytes from `half`; how many.
pub fn consume(page: &dyn Page, half: Half, buf: &mut [u8]) -> Result<usize, RingError> {
    let prod = page.load(half.prod());
    let cons = page.load(half.cons());
    let n = used(cons, prod)?.min(u32::try_from(buf.len()).unwrap_or(SIZE));
    let mut at = 0;
    for (offset, len) in pieces(cons, n) {
        page.read(half, offset, &mut buf[at..at + len]);
        at += len;
    }
    page.store(half.cons(), cons.wrapping_add(n));
    Ok(at)
}

/// Puts as much of `bytes` into `half` as fits; how many.
pub fn produce(page: &dyn Page, half: Half, bytes: &[u8]) -> Result<usize, RingError> {
    let cons = page.load(half.cons());
    let prod = page.load(half.prod());
    let room = SIZE - used(cons, prod)?;
    let n = room.min(u32::try_from(bytes.len()).unwrap_or(SIZE));
    let mut at = 0;
    for (offset, len) in pieces(prod, n) {
        page.write(half, offset, &bytes[at..at + len]);
        at += len;
    }
    page.store(half.prod(), prod.wrapping_add(n));
    Ok(at)
}

/// Which end of the page an [`Endpoint`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// xenstored: reads `req`, writes `rsp`.
    Server,
    /// The guest: writes `req`, reads `rsp`.
    Client,
}

/// One end: frames what comes in, sends what is queued.
pub struct Endpoint {
    role: Role,
    framer: Framer,
    pending: Vec<u8>,
    sent: usize,
    /// Bytes taken from the inbound half so far.
    read: u64,
}

impl Endpoint {
    pub fn new(role: Role) -> Endpoint {
        Endpoint { role, framer: Framer::default(), pending: Vec::new(), sent: 0, read: 0 }
    }

    /// Bytes [`Self::receive`] has taken from the ring so far, whole
    /// messages or not. When it grows, the other end is told (as Xen's
    /// xenstored and xenbus do after each read): a writer with more than
    /// the ring holds waits for that room.
    pub fn bytes_read(&self) -> u64 {
        self.read
    }

    fn inbound(&self) -> Half {
        if self.role == Role::Server { Half::Req } else { Half::Rsp }
    }

    /// The next whole message, if the ring holds the rest of it; reads no
    /// byte past it.
    pub fn receive(&mut self, page: &dyn Page) -> Result<Option<Message>, RingError> {
        let mut buf = [0u8; SIZE as usize];
        loop {
            let want = self.framer.wanted().min(buf.len());
            let n = consume(page, self.inbound(), &mut buf[..want])?;
            if n == 0 {
                return Ok(None);
            }
            self.read += n as u64;
            if let Some(m) = self.framer.push(&buf[..n]).map_err(|e| RingError::Oversized(e.0))? {
                return Ok(Some(m));
            }
        }
    }

    /// Whether bytes of the last [`Self::queue`]d message wait to be sent.
    pub fn busy(&self) -> bool {
        self.sent < self.pending.len()
    }

    /// Queues one message's bytes; only when not [`Self::busy`].
    pub fn queue(&mut self, bytes: Vec<u8>) {
        debug_assert!(!self.busy());
        self.pending = bytes;
        self.sent = 0;
    }

    /// Sends what fits of the queued bytes; whether any moved.
    pub fn flush(&mut self, page: &dyn Page) -> Result<bool, RingError> {
        if !self.busy() {
            return Ok(false);
        }
        let out = if self.role == Role::Server { Half::Rsp } else { Half::Req };
        let n = produce(page, out, &self.pending[self.sent..])?;
        self.sent += n;
        Ok(n > 0)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use core::cell::RefCell;

    /// A store page in plain memory.
    pub struct MemPage(pub RefCell<[u8; 4096]>);

    impl MemPage {
        pub fn new() -> MemPage {
            MemPage(RefCell::new([0; 4096]))
        }
    }

    impl Page for MemPage {
        fn load(&self, index: Index) -> u32 {
            let p = self.0.borrow();
            let o = index.offset();
            u32::from_le_bytes([p[o], p[o + 1], p[o + 2], p[o + 3]])
        }
        fn store(&self, index: Index, value: u32) {
            let o = index.offset();
            self.0.borrow_mut()[o..o + 4].copy_from_slice(&value.to_le_bytes());
        }
        fn read(&self, half: Half, offset: usize, buf: &mut [u8]) {
            let o = half.offset() + offset;
            buf.copy_from_slice(&self.0.borrow()[o..o + buf.len()]);
        }
        fn write(&self, half: Half, offset: usize, bytes: &[u8]) {
            let o = half.offset() + offset;
            self.0.borrow_mut()[o..o + bytes.len()].copy_from_slice(bytes);
        }
    }

    #[test]
    fn bytes_cross_the_wrap_in_order() {
        let page = MemPage::new();
        // Both indices just below u32::MAX: the copy wraps the ring and the
        // index wraps u32.
        page.store(Index::ReqCons, u32::MAX - 9);
        page.store(Index::ReqProd, u32::MAX - 9);
        let data: Vec<u8> = (0..100u8).collect();
        assert_eq!(produce(&page, Half::Req, &data), Ok(100));
        assert_eq!(page.load(Index::ReqProd), 90);
        let mut buf = [0u8; 200];
        assert_eq!(consume(&page, Half::Req, &mut buf), Ok(100));
        assert_eq!(&buf[..100], &data[..]);
        assert_eq!(consume(&page, Half::Req, &mut buf), Ok(0));
    }

    #[test]
    fn a_full_ring_takes_nothing_more() {
        let page = MemPage::new();
        assert_eq!(produce(&page, Half::Rsp, &[1; 1500]), Ok(1024));
        assert_eq!(produce(&page, Half::Rsp, &[1; 10]), Ok(0));
        let mut buf = [0u8; 24];
        assert_eq!(consume(&page, Half::Rsp, &mut buf), Ok(24));
        assert_eq!(produce(&page, Half::Rsp, &[2; 100]), Ok(24));
    }

    #[test]
    fn a_bad_index_is_reported_and_moves_nothing() {
        let page = MemPage::new();
        page.store(Index::ReqProd, 1025);
        let mut buf = [0u8; 8];
        assert_eq!(consume(&page, Half::Req, &mut buf), Err(RingError::BadIndex { cons: 0, prod: 1025 }));
        assert_eq!(page.load(Index::ReqCons), 0);
        // cons ahead of prod.
        page.store(Index::RspCons, 5);
        page.store(Index::RspProd, 4);
        assert!(produce(&page, Half::Rsp, b"x").is_err());
        assert_eq!(page.load(Index::RspProd), 4);
    }

    #[test]
    fn endpoints_exchange_messages_larger_than_the_ring() {
        let page = MemPage::new();
        let mut client = Endpoint::new(Role::Client);
        let mut server = Endpoint::new(Role::Server);
        let big = Message::new(11, 9, 0, alloc::vec![7u8; 4096]);
        client.queue(big.to_bytes());
        let mut got = None;
        for _ in 0..10 {
            client.flush(&page).unwrap();
            let before = server.bytes_read();
            if let Some(m) = server.receive(&page).unwrap() {
                got = Some(m);
                break;
            }
            assert_eq!(server.bytes_read() - before, SIZE.into(), "a part of it read: the client is to be told");
        }
        assert!(!client.busy());
        assert_eq!(got, Some(big));
        assert_eq!(server.bytes_read(), 16 + 4096);
        // And a reply back.
        let reply = Message::new(11, 9, 0, b"OK\0".to_vec());
        server.queue(reply.to_bytes());
        server.flush(&page).unwrap();
        assert_eq!(client.receive(&page).unwrap(), Some(reply));
    }

    #[test]
    fn an_oversized_header_is_an_error() {
        let page = MemPage::new();
        let mut header = Message::new(2, 1, 0, alloc::vec![]).to_bytes();
        header[12..16].copy_from_slice(&5000u32.to_le_bytes());
        produce(&page, Half::Req, &header).unwrap();
        assert_eq!(Endpoint::new(Role::Server).receive(&page), Err(RingError::Oversized(5000)));
    }
}
