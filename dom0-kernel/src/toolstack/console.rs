//! The backend of a DomU's PV console, as xenconsoled is: Dom0's end of the
//! console event channel (bound when the domain is built) and, while the
//! shell's `console` command runs, the DomU's console page mapped into Dom0
//! (XENMAPSPACE_gmfn_foreign) at a page of Dom0's own RAM given back to Xen
//! for that.

use guest_rt::pvconsole::{Corrupt, Ring};

use super::xen::{self, XenError};

const PAGE: u64 = 4096;

/// A DomU's console as the toolstack knows it.
#[derive(Clone, Copy, Debug)]
pub struct Console {
    pub domid: u16,
    /// The console page in the DomU (`HVM_PARAM_CONSOLE_PFN`).
    pub gfn: u64,
    /// The DomU's port (`HVM_PARAM_CONSOLE_EVTCHN`).
    pub remote_port: u32,
    /// Our end of the channel.
    pub local_port: u32,
}

impl Console {
    /// Binds our end to the DomU's `remote_port`.
    pub fn bind(domid: u16, gfn: u64, remote_port: u32) -> Result<Console, XenError> {
        let local_port = xen::bind_interdomain(domid, remote_port)?;
        Ok(Console { domid, gfn, remote_port, local_port })
    }

    /// Closes our end (the domain is gone or going).
    pub fn unbind(&self) {
        let _ = xen::close_port(self.local_port);
    }
}

/// The console page mapped at our page `at` until dropped.
pub struct Attached {
    console: Console,
    at: u64,
    ring: Ring,
}

impl Attached {
    /// Maps `console`'s page at `at` (the address of a page of ours that is
    /// identity-mapped and has no RAM behind it).
    pub fn map(console: Console, at: u64) -> Result<Attached, XenError> {
        xen::map_foreign(console.domid, &[console.gfn], &[at / PAGE])?;
        // SAFETY: `at` is identity-mapped and now shows the DomU's console page, until `drop` unmaps it.
        let ring = unsafe { Ring::new(at) };
        Ok(Attached { console, at, ring })
    }

    pub fn console(&self) -> Console {
        self.console
    }

    /// The guest's pending output into `buf`; a corrupt ring is skipped.
    pub fn read(&self, buf: &mut [u8]) -> Result<usize, Corrupt> {
        let r = self.ring.read_out(buf);
        if r.is_err() {
            self.ring.skip_out();
        }
        if r.is_ok_and(|n| n > 0) {
            // The guest may wait for room: tell it there is some.
            let _ = xen::send(self.console.local_port);
        }
        r
    }

    /// Input for the guest (what does not fit is dropped), and a
    /// notification.
    pub fn write(&self, bytes: &[u8]) -> Result<usize, Corrupt> {
        let n = self.ring.write_in(bytes)?;
        let _ = xen::send(self.console.local_port);
        Ok(n)
    }
}

impl Drop for Attached {
    fn drop(&mut self) {
        let _ = xen::unmap(self.at / PAGE);
    }
}
