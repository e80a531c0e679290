//! Xen's PV console ring (`struct xencons_interface`, io/console.h) in
//! shared memory, both sides of it: the guest produces into `out` and
//! consumes `in` (this module's [`init`] and [`write`], used by
//! [`crate::console`], and [`read`]); a backend (Dom0's shell, as xenconsoled) consumes
//! `out` and produces into `in` through a [`Ring`] over its mapping of the
//! guest's page.
//!
//! Barriers as Xen's ring protocol has them: a producer writes the bytes,
//! then the index (`wmb()` in C; here a Release store), a consumer reads the
//! index, then the bytes (`rmb()`; an Acquire load) and frees the slots only
//! after reading them (`mb()`; the Release store of its index). The bytes
//! themselves are read and written volatile: the other side may change them
//! at any time, and only the indices say which are ours.

use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use abi::event_channel::{EVTCHNOP_SEND, EvtchnOnePort};
use abi::hvm::hvm_op::{HVMOP_GET_PARAM, XenHvmParam};
use abi::hvm::params::{HVM_PARAM_CONSOLE_EVTCHN, HVM_PARAM_CONSOLE_PFN};
use abi::io::console::{XENCONS_IN_SIZE, XENCONS_OUT_SIZE, XenconsInterface};
use abi::xen::{DOMID_SELF, HYPERVISOR_EVENT_CHANNEL_OP, HYPERVISOR_HVM_OP};

use crate::{hypercall, ring};

/// The indices say more bytes wait than the ring holds: the other side is
/// broken (or hostile); nothing was read or written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Corrupt;

/// One of the two rings of the page: its bytes and its two indices.
#[derive(Clone, Copy)]
struct Half {
    data: usize,
    size: u32,
    cons: usize,
    prod: usize,
}

const IN: Half = Half {
    data: core::mem::offset_of!(XenconsInterface, r#in),
    size: XENCONS_IN_SIZE,
    cons: core::mem::offset_of!(XenconsInterface, in_cons),
    prod: core::mem::offset_of!(XenconsInterface, in_prod),
};
const OUT: Half = Half {
    data: core::mem::offset_of!(XenconsInterface, out),
    size: XENCONS_OUT_SIZE,
    cons: core::mem::offset_of!(XenconsInterface, out_cons),
    prod: core::mem::offset_of!(XenconsInterface, out_prod),
};

/// A console page mapped at a fixed address.
pub struct Ring {
    base: *mut u8,
}

impl Ring {
    /// # Safety
    /// `addr` is the identity-mapped address of a page holding a
    /// `xencons_interface`, which stays mapped while the `Ring` is used.
    pub unsafe fn new(addr: u64) -> Ring {
        Ring { base: addr as *mut u8 }
    }

    fn index(&self, offset: usize) -> &AtomicU32 {
        // SAFETY: `offset` is one of the four 4-byte-aligned index fields of the page, which `new`'s caller keeps mapped; AtomicU32 has u32's layout.
        unsafe { &*self.base.add(offset).cast::<AtomicU32>() }
    }

    /// Copies as much of `bytes` as fits, or nothing when `whole` and it
    /// does not all fit; returns how many went in.
    fn produce(&self, half: Half, bytes: &[u8], whole: bool) -> Result<usize, Corrupt> {
        let cons = self.index(half.cons).load(Ordering::Acquire);
        let prod = self.index(half.prod).load(Ordering::Relaxed);
        let room = ring::free(cons, prod, half.size).ok_or(Corrupt)?;
        let n = u32::try_from(bytes.len()).unwrap_or(u32::MAX).min(room);
        if whole && (n as usize) < bytes.len() {
            return Ok(0);
        }
        let mut from = 0;
        for (offset, len) in ring::pieces(prod, n, half.size) {
            for i in 0..len {
                // SAFETY: `offset + i` < `half.size`, so the byte lies in this half's data array inside the mapped page.
                unsafe { self.base.add(half.data + offset + i).write_volatile(bytes[from + i]) };
            }
            from += len;
        }
        self.index(half.prod).store(prod.wrapping_add(n), Ordering::Release);
        Ok(n as usize)
    }

    /// Moves the waiting bytes (as many as `buf` holds) into `buf`.
    fn consume(&self, half: Half, buf: &mut [u8]) -> Result<usize, Corrupt> {
        let prod = self.index(half.prod).load(Ordering::Acquire);
        let cons = self.index(half.cons).load(Ordering::Relaxed);
        let waiting = ring::used(cons, prod, half.size).ok_or(Corrupt)?;
        let n = u32::try_from(buf.len()).unwrap_or(u32::MAX).min(waiting);
        let mut to = 0;
        for (offset, len) in ring::pieces(cons, n, half.size) {
            for i in 0..len {
                // SAFETY: as in `produce`.
                buf[to + i] = unsafe { self.base.add(half.data + offset + i).read_volatile() };
            }
            to += len;
        }
        self.index(half.cons).store(cons.wrapping_add(n), Ordering::Release);
        Ok(n as usize)
    }

    /// Guest: all of `bytes` into `out`, or nothing when it does not fit.
    pub fn write_out_whole(&self, bytes: &[u8]) -> Result<usize, Corrupt> {
        self.produce(OUT, bytes, true)
    }

    /// Backend: the guest's output, as much as `buf` holds.
    pub fn read_out(&self, buf: &mut [u8]) -> Result<usize, Corrupt> {
        self.consume(OUT, buf)
    }

    /// Backend: skips whatever the guest wrote (after [`Corrupt`]: the
    /// consumer index is set to the producer's).
    pub fn skip_out(&self) {
        let prod = self.index(OUT.prod).load(Ordering::Acquire);
        self.index(OUT.cons).store(prod, Ordering::Release);
    }

    /// Backend: input for the guest, as much as fits.
    pub fn write_in(&self, bytes: &[u8]) -> Result<usize, Corrupt> {
        self.produce(IN, bytes, false)
    }

    /// Guest: input from the backend, as much as `buf` holds.
    pub fn read_in(&self, buf: &mut [u8]) -> Result<usize, Corrupt> {
        self.consume(IN, buf)
    }
}

/// This guest's console page (0: none) and its event channel.
static PAGE: AtomicU64 = AtomicU64::new(0);
static PORT: AtomicU32 = AtomicU32::new(0);

/// A DomU's boot: finds the console the toolstack set up
/// (`HVM_PARAM_CONSOLE_PFN`/`_EVTCHN`); without one, output stays on
/// `console_io` alone. Returns the page's address and the port.
pub fn init() -> Option<(u64, u32)> {
    let pfn = get_param(HVM_PARAM_CONSOLE_PFN)?;
    let port = get_param(HVM_PARAM_CONSOLE_EVTCHN)?;
    let addr = pfn.checked_mul(4096).filter(|&a| a != 0 && a < crate::start_info::MAPPED_END)?;
    let port = u32::try_from(port).ok()?;
    PORT.store(port, Ordering::Relaxed);
    PAGE.store(addr, Ordering::Release);
    Some((addr, port))
}

/// The guest's side: `bytes` (one line) into the ring and a notification;
/// a line that does not fit is dropped (a backend that does not read must
/// never stop the guest). Whether it went in.
pub fn write(bytes: &[u8]) -> bool {
    let addr = PAGE.load(Ordering::Acquire);
    if addr == 0 {
        return false;
    }
    // SAFETY: `init` checked the page lies in the identity map of the first 4 GiB; the toolstack populated it for us and it stays ours.
    let ring = unsafe { Ring::new(addr) };
    match ring.write_out_whole(bytes) {
        Ok(n) if n > 0 => {
            send(PORT.load(Ordering::Relaxed));
            true
        }
        _ => false,
    }
}

/// The guest's side: input the backend typed, as much as `buf` holds
/// (0 without a console, or when the ring is corrupt).
pub fn read(buf: &mut [u8]) -> usize {
    let addr = PAGE.load(Ordering::Acquire);
    if addr == 0 {
        return 0;
    }
    // SAFETY: as in `write`.
    let ring = unsafe { Ring::new(addr) };
    let n = ring.read_in(buf).unwrap_or(0);
    if n > 0 {
        send(PORT.load(Ordering::Relaxed));
    }
    n
}

/// HVMOP_get_param of our own domain; None when unset or refused.
pub fn get_param(index: u32) -> Option<u64> {
    let mut p = XenHvmParam { domid: DOMID_SELF, pad: 0, index, value: 0 };
    // SAFETY: a live XenHvmParam that Xen reads and writes.
    let rc = unsafe { hypercall::hypercall2(HYPERVISOR_HVM_OP, HVMOP_GET_PARAM, &raw mut p as u64) };
    (rc == 0 && p.value != 0).then_some(p.value)
}

/// `EVTCHNOP_send` on `port`; the result is ignored (the backend polls too).
pub fn send(port: u32) {
    let arg = EvtchnOnePort { port };
    // SAFETY: a live struct Xen only reads.
    unsafe { hypercall::hypercall2(HYPERVISOR_EVENT_CHANNEL_OP, EVTCHNOP_SEND, &raw const arg as u64) };
}
