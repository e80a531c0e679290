//! The xenstore ring over a mapped store page, both ends: [`Mapped`] is
//! the page (`struct xenstore_domain_interface`) as a
//! [`xenstore::ring::Page`] — indices through atomics (Acquire loads,
//! Release stores: Xen's `rmb()`/`wmb()` around the bytes), bytes volatile,
//! since the other side may change them at any time — used by Dom0's
//! xenstored over its foreign mapping of a DomU's page; [`Client`] is a
//! DomU's blocking client of the store (`HVM_PARAM_STORE_PFN`/`_EVTCHN`).
//! The ring and framing logic is the host-tested `xenstore` crate's.
//! Needs a heap (the messages are `Vec`s): the `xenstore` feature.

use alloc::collections::VecDeque;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU32, Ordering};

use abi::hvm::params::{HVM_PARAM_STORE_EVTCHN, HVM_PARAM_STORE_PFN};
use abi::io::xs_wire::{XS_ERROR, XS_WATCH_EVENT, XenstoreDomainInterface};
use xenstore::Error;
use xenstore::ring::{Endpoint, Half, Index, Page, RingError, Role};
use xenstore::wire::{self, Message};

use crate::{hypercall, pvconsole, timer};

/// A store page mapped at a fixed address.
pub struct Mapped {
    base: *mut u8,
}

impl Mapped {
    /// # Safety
    /// `addr` is the identity-mapped address of a page holding a
    /// `xenstore_domain_interface`, which stays mapped while the `Mapped`
    /// is used.
    pub unsafe fn new(addr: u64) -> Mapped {
        Mapped { base: addr as *mut u8 }
    }

    fn word(&self, offset: usize) -> &AtomicU32 {
        debug_assert!(offset.is_multiple_of(4) && offset + 4 <= core::mem::size_of::<XenstoreDomainInterface>());
        // SAFETY: `offset` is a 4-byte-aligned u32 field of the interface, inside the page `new`'s caller keeps mapped; AtomicU32 has u32's layout.
        unsafe { &*self.base.add(offset).cast::<AtomicU32>() }
    }

    /// Sets the page's `error` field (`XENSTORE_ERROR_*`): why the server
    /// stopped serving it.
    pub fn set_error(&self, code: u32) {
        self.word(core::mem::offset_of!(XenstoreDomainInterface, error)).store(code, Ordering::Release);
    }

    /// The page's `error` field.
    pub fn error(&self) -> u32 {
        self.word(core::mem::offset_of!(XenstoreDomainInterface, error)).load(Ordering::Acquire)
    }

    pub fn set_server_features(&self, bits: u32) {
        self.word(core::mem::offset_of!(XenstoreDomainInterface, server_features)).store(bits, Ordering::Release);
    }

    fn ring_byte(&self, half: Half, offset: usize) -> *mut u8 {
        assert!(offset < abi::io::xs_wire::XENSTORE_RING_SIZE as usize, "ring offsets come masked");
        // SAFETY: `offset` is below the ring's size, so the byte lies in `half`'s array inside the mapped page.
        unsafe { self.base.add(half.offset() + offset) }
    }
}

impl Page for Mapped {
    fn load(&self, index: Index) -> u32 {
        self.word(index.offset()).load(Ordering::Acquire)
    }

    fn store(&self, index: Index, value: u32) {
        self.word(index.offset()).store(value, Ordering::Release);
    }

    fn read(&self, half: Half, offset: usize, buf: &mut [u8]) {
        for (i, b) in buf.iter_mut().enumerate() {
            // SAFETY: `ring_byte` checked the byte lies in the page; volatile, as the other side may write it.
            *b = unsafe { self.ring_byte(half, offset + i).read_volatile() };
        }
    }

    fn write(&self, half: Half, offset: usize, bytes: &[u8]) {
        for (i, &b) in bytes.iter().enumerate() {
            // SAFETY: as in `read`.
            unsafe { self.ring_byte(half, offset + i).write_volatile(b) };
        }
    }
}

/// Why a client request got no reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientError {
    /// The ring's indices are broken (or the server wrote an oversized
    /// message).
    Ring(RingError),
    /// No reply within the client's timeout.
    Timeout,
}

/// A DomU's connection to the store.
pub struct Client {
    page: Mapped,
    port: u32,
    /// Sleeps on `port` while the server has nothing for us.
    wait: timer::EventWait,
    endpoint: Endpoint,
    next_req: u32,
    /// Watch events that came while waiting for replies.
    events: VecDeque<Message>,
    /// How long a request may wait for its reply.
    pub timeout_ns: u64,
}

impl Client {
    /// The store the toolstack set up for this domain, if any (and shared
    /// info, to sleep on its port).
    pub fn init() -> Option<Client> {
        let pfn = pvconsole::get_param(HVM_PARAM_STORE_PFN)?;
        let port = u32::try_from(pvconsole::get_param(HVM_PARAM_STORE_EVTCHN)?).ok()?;
        let addr = pfn.checked_mul(4096).filter(|&a| a != 0 && a < crate::start_info::MAPPED_END)?;
        let wait = timer::EventWait::new(port).ok()?;
        // SAFETY: the page lies in the boot identity map of the first 4 GiB; the toolstack populated it for us and it stays ours.
        let page = unsafe { Mapped::new(addr) };
        Some(Client { page, port, wait, endpoint: Endpoint::new(Role::Client), next_req: 1, events: VecDeque::new(), timeout_ns: 5_000_000_000 })
    }

    pub fn port(&self) -> u32 {
        self.port
    }

    /// The raw page (for tests that break the protocol on purpose).
    pub fn page(&self) -> &Mapped {
        &self.page
    }

    /// Sends `bytes` whole (waiting for room), without framing checks.
    pub fn send_raw(&mut self, bytes: &[u8]) -> Result<(), ClientError> {
        self.endpoint.queue(bytes.to_vec());
        let deadline = timer::now_ns() + self.timeout_ns;
        while self.endpoint.busy() {
            // Cleared before looking: a notification after the look wakes the poll.
            self.wait.take();
            if self.endpoint.flush(&self.page).map_err(ClientError::Ring)? {
                pvconsole::send(self.port);
            } else if timer::now_ns() > deadline {
                return Err(ClientError::Timeout);
            } else {
                // The ring is full: the server notifies when it has read some.
                self.sleep(deadline);
            }
        }
        Ok(())
    }

    /// The next message from the server, waiting up to the timeout.
    fn receive(&mut self, timeout_ns: u64) -> Result<Message, ClientError> {
        let deadline = timer::now_ns() + timeout_ns;
        loop {
            // Cleared before looking: a reply written after the look wakes the poll.
            self.wait.take();
            let read_before = self.endpoint.bytes_read();
            let got = self.endpoint.receive(&self.page).map_err(ClientError::Ring)?;
            if self.endpoint.bytes_read() != read_before {
                // Room freed in rsp: the server may wait for it.
                pvconsole::send(self.port);
            }
            if let Some(m) = got {
                return Ok(m);
            }
            if timer::now_ns() > deadline {
                return Err(ClientError::Timeout);
            }
            self.sleep(deadline);
        }
    }

    /// Sleeps until the server notifies or `deadline` passes (a failed
    /// poll, which Xen refuses only for bad arguments, yields instead).
    fn sleep(&self, deadline: u64) {
        if self.wait.poll(deadline).is_err() {
            hypercall::sched_yield();
        }
    }

    /// One request: the reply's payload, or the store's error.
    pub fn request(&mut self, r#type: u32, tx_id: u32, payload: &[u8]) -> Result<Result<Vec<u8>, Error>, ClientError> {
        let req_id = self.next_req;
        self.next_req = self.next_req.wrapping_add(1);
        self.send_raw(&Message::new(r#type, req_id, tx_id, payload.to_vec()).to_bytes())?;
        self.reply_to(req_id)
    }

    /// Waits for the reply to `req_id`, keeping watch events for later.
    pub fn reply_to(&mut self, req_id: u32) -> Result<Result<Vec<u8>, Error>, ClientError> {
        loop {
            let m = self.receive(self.timeout_ns)?;
            if m.header.r#type == XS_WATCH_EVENT {
                self.events.push_back(m);
                continue;
            }
            if m.header.req_id != req_id {
                continue;
            }
            if m.header.r#type == XS_ERROR {
                let name = m.payload.strip_suffix(b"\0").unwrap_or(&m.payload);
                return Ok(Err(Error::from_name(name).unwrap_or(Error::Einval)));
            }
            return Ok(Ok(m.payload));
        }
    }

    /// The next watch event (path, token) within `timeout_ns`.
    pub fn next_event(&mut self, timeout_ns: u64) -> Option<(Vec<u8>, Vec<u8>)> {
        let m = match self.events.pop_front() {
            Some(m) => m,
            None => loop {
                let m = self.receive(timeout_ns).ok()?;
                if m.header.r#type == XS_WATCH_EVENT {
                    break m;
                }
            },
        };
        let parts = wire::strings(&m.payload)?;
        Some((parts.first()?.to_vec(), parts.get(1)?.to_vec()))
    }
}
