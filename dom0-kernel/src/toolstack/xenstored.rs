//! Dom0's xenstored: the store ([`xenstore::Store`]) and, for every domain
//! introduced, its store page mapped into Dom0 (XENMAPSPACE_gmfn_foreign,
//! at one of [`SLOTS`] pages of our own RAM given back to Xen) and our end
//! of its store event channel. [`Xenstored::poll`] serves every ring:
//! replies and watch events out, requests in, at most
//! [`REQUESTS_PER_ROUND`] of one domain's per round so that a busy domain
//! cannot starve the others; a domain whose ring breaks the protocol (an
//! index out of range, an oversized message) is disconnected with a log
//! line and the page's `error` set, as Xen's xenstored does, and the others
//! carry on.

use alloc::string::String;
use alloc::vec::Vec;

use abi::io::xs_wire::{XENSTORE_ERROR_PROTO, XENSTORE_ERROR_RINGIDX};
use guest_rt::println;
use guest_rt::xenstore::Mapped;
use xenstore::ring::{Endpoint, RingError, Role};
use xenstore::{Effect, Quotas, Store};

use super::xen::{self, XenError};

const PAGE: u64 = 4096;
/// Domains served at once.
pub const SLOTS: usize = 16;
/// Requests of one domain handled before the next domain's turn.
const REQUESTS_PER_ROUND: usize = 8;

/// What the DomUs' store may take of Dom0's 8 MiB heap, all together:
/// half, the rest is the toolstack's. Xen's per-domain 2.5 MiB times the
/// [`SLOTS`] domains served would be 40 MiB, and without a memory quota one
/// DomU alone could hold 10 transactions of 1024 nodes of 2 KiB. The quota
/// charges at least what the store really allocates (host-tested), so the
/// store stays within this, plus at most one request past it a domain.
const STORE_MEMORY: usize = 4 << 20;
/// One DomU's share: room for its 1000 nodes of short values (~400 bytes
/// each), 8 of them to take [`STORE_MEMORY`].
const DOMAIN_MEMORY: usize = 512 << 10;

/// Xen's default quotas with the memory ones fitted to Dom0's heap.
fn quotas() -> Quotas {
    Quotas { memory: DOMAIN_MEMORY, memory_soft: DOMAIN_MEMORY / 4 * 3, memory_total: STORE_MEMORY, ..Quotas::default() }
}

/// Where store pages are mapped; given back to Xen at [`Xenstored::new`].
#[repr(C, align(4096))]
struct StorePages([u8; 4096 * SLOTS]);
static mut STORE_PAGES: StorePages = StorePages([0; 4096 * SLOTS]);

struct Served {
    domid: u16,
    slot: usize,
    page: Mapped,
    endpoint: Endpoint,
    local_port: u32,
    /// Disconnected for breaking the protocol: no longer read.
    broken: bool,
}

pub struct Xenstored {
    pub store: Store,
    served: Vec<Served>,
    free_slots: Vec<usize>,
    base: u64,
}

impl Xenstored {
    pub fn new() -> Result<Xenstored, XenError> {
        let base = core::ptr::addr_of!(STORE_PAGES) as u64;
        xen::balloon_out(base / PAGE, SLOTS as u64)?;
        Ok(Xenstored { store: Store::new(quotas()), served: Vec::new(), free_slots: (0..SLOTS).rev().collect(), base })
    }

    /// XS_INTRODUCE from the toolstack: serve `domid`'s ring at `gfn`,
    /// notified on its `port`.
    pub fn introduce(&mut self, domid: u16, gfn: u64, port: u32) -> Result<(), String> {
        self.store.introduce(domid, gfn, port).map_err(|e| alloc::format!("xenstored: introduce d{domid}: {}", e.name()))?;
        self.effects()
    }

    /// XS_RELEASE: `domid` is gone; its ring is unmapped, its port closed.
    pub fn release(&mut self, domid: u16) {
        if self.store.release(domid).is_ok() {
            let _ = self.effects();
        }
    }

    /// Applies what the store asked for (introductions and releases by
    /// XS_INTRODUCE / XS_RELEASE, log lines).
    fn effects(&mut self) -> Result<(), String> {
        let mut result = Ok(());
        for effect in self.store.take_effects() {
            match effect {
                Effect::Introduce { domid, mfn, port } => {
                    if let Err(e) = self.serve(domid, mfn, port) {
                        println!("xenstored: d{domid}: cannot serve its ring: {e}");
                        let _ = self.store.release(domid);
                        self.store.take_effects();
                        result = Err(alloc::format!("xenstored: d{domid}: {e}"));
                    }
                }
                Effect::Release { domid } => self.unserve(domid),
                Effect::Log(line) => println!("xenstored: {line}"),
            }
        }
        result
    }

    fn serve(&mut self, domid: u16, gfn: u64, port: u32) -> Result<(), String> {
        if self.served.iter().any(|s| s.domid == domid) {
            return Ok(());
        }
        let slot = self.free_slots.pop().ok_or_else(|| alloc::format!("all {SLOTS} store slots are in use"))?;
        let at = self.base + slot as u64 * PAGE;
        let mapped = xen::map_foreign(domid, &[gfn], &[at / PAGE]).and_then(|()| {
            xen::bind_interdomain(domid, port).inspect_err(|_| {
                let _ = xen::unmap(at / PAGE);
            })
        });
        let local_port = match mapped {
            Ok(p) => p,
            Err(e) => {
                self.free_slots.push(slot);
                return Err(alloc::format!("{e}"));
            }
        };
        // SAFETY: `at` is one of our identity-mapped store slots, given back to Xen and now showing the DomU's store page until `unserve` unmaps it.
        let page = unsafe { Mapped::new(at) };
        self.served.push(Served { domid, slot, page, endpoint: Endpoint::new(Role::Server), local_port, broken: false });
        println!("xenstored: d{domid} introduced: ring gfn {gfn:#x}, its port {port}, ours {local_port}");
        Ok(())
    }

    fn unserve(&mut self, domid: u16) {
        let Some(at) = self.served.iter().position(|s| s.domid == domid) else { return };
        let s = self.served.remove(at);
        let _ = xen::close_port(s.local_port);
        let _ = xen::unmap((self.base + s.slot as u64 * PAGE) / PAGE);
        self.free_slots.push(s.slot);
        println!("xenstored: d{domid} released");
    }

    /// Our ports of the served rings (what to wake up for).
    pub fn ports(&self) -> Vec<u32> {
        self.served.iter().filter(|s| !s.broken).map(|s| s.local_port).collect()
    }

    /// Serves every ring until none has anything more to do (bounded);
    /// whether anything moved.
    pub fn poll(&mut self) -> bool {
        let mut any = false;
        for _ in 0..64 {
            let mut moved = false;
            for i in 0..self.served.len() {
                moved |= self.serve_one(i);
            }
            let _ = self.effects();
            any |= moved;
            if !moved {
                break;
            }
        }
        any
    }

    /// One round of domain `i`'s ring: whether anything moved.
    fn serve_one(&mut self, i: usize) -> bool {
        let s = &mut self.served[i];
        if s.broken {
            return false;
        }
        let (mut moved, mut notify) = (false, false);
        let mut handled = 0;
        let read_before = s.endpoint.bytes_read();
        let outcome: Result<(), RingError> = (|| {
            loop {
                let mut progress = false;
                if !s.endpoint.busy()
                    && let Some(bytes) = self.store.pop_output(s.domid)
                {
                    s.endpoint.queue(bytes);
                }
                if s.endpoint.flush(&s.page)? {
                    progress = true;
                    notify = true;
                }
                if handled < REQUESTS_PER_ROUND
                    && self.store.accepts(s.domid)
                    && let Some(m) = s.endpoint.receive(&s.page)?
                {
                    self.store.handle(s.domid, &m);
                    handled += 1;
                    progress = true;
                    notify = true;
                }
                if !progress {
                    return Ok(());
                }
                moved = true;
            }
        })();
        if let Err(e) = outcome {
            let (why, code) = match e {
                RingError::BadIndex { cons, prod } => {
                    (alloc::format!("bad ring index (cons {cons:#x}, prod {prod:#x})"), XENSTORE_ERROR_RINGIDX)
                }
                RingError::Oversized(len) => (alloc::format!("oversized message ({len} bytes of payload)"), XENSTORE_ERROR_PROTO),
            };
            println!("xenstored: d{}: {why}: connection closed", s.domid);
            s.page.set_error(code);
            s.broken = true;
            self.store.close(s.domid);
            notify = true;
        }
        // Part of a request read (a whole one is `handled`): its writer
        // may wait for the room.
        if s.endpoint.bytes_read() != read_before {
            notify = true;
        }
        if notify {
            let _ = xen::send(s.local_port);
        }
        moved
    }
}
