//! The 2-level event ABI's bits: `evtchn_pending` and `evtchn_mask` in the
//! shared-info page, `evtchn_pending_sel` and `evtchn_upcall_pending` in
//! each vCPU's `vcpu_info` (xen/common/event_2l.c). The guest changes the
//! same words concurrently, so every update is one atomic bit operation.

/// The two port bitmaps of shared info.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bitmap {
    Pending,
    Mask,
}

/// Where a domain keeps its event bits. `Domain` implements it over its
/// shared-info frame and registered `vcpu_info`s; tests over arrays.
pub trait EventWords {
    /// Bits per `xen_ulong_t`: 64, or 32 for a guest with a 32-bit shared info.
    fn word_bits(&self) -> u32;
    /// Sets bit `port` of `map`; returns its old value.
    fn test_and_set(&mut self, map: Bitmap, port: u32) -> bool;
    /// Clears bit `port` of `map`; returns its old value.
    fn test_and_clear(&mut self, map: Bitmap, port: u32) -> bool;
    fn test(&self, map: Bitmap, port: u32) -> bool;
    /// Sets bit `bit` of `vcpu`'s `evtchn_pending_sel`; returns its old
    /// value (true when the vCPU has no `vcpu_info`: nothing to notify).
    fn test_and_set_selector(&mut self, vcpu: u32, bit: u32) -> bool;
    /// Sets `vcpu`'s `evtchn_upcall_pending`; returns its old value (true
    /// when the vCPU has no `vcpu_info`).
    fn test_and_set_upcall(&mut self, vcpu: u32) -> bool;
    /// The vCPU has a new upcall: deliver its vector, wake it if it blocks.
    fn kick(&mut self, vcpu: u32);
    /// Wakes the vCPUs that wait in SCHEDOP_poll on `port`.
    fn wake_pollers(&mut self, port: u32);

    /// Ports the ABI can name: `word_bits`².
    fn nr_channels(&self) -> u32 {
        self.word_bits() * self.word_bits()
    }
}

/// Marks `port` pending and, unless it is masked, notifies `vcpu`
/// (`evtchn_2l_set_pending`); either way a vCPU polling the port wakes
/// (`evtchn_check_pollers`): SCHEDOP_poll waits for the pending bit, masked
/// or not, whatever its selector and upcall flag already say.
pub fn set_pending(w: &mut dyn EventWords, port: u32, vcpu: u32) {
    if w.test_and_set(Bitmap::Pending, port) {
        return;
    }
    if !w.test(Bitmap::Mask, port) && !w.test_and_set_selector(vcpu, port / w.word_bits()) {
        mark_events_pending(w, vcpu);
    }
    w.wake_pollers(port);
}

/// Unmasks `port`; a pending port notifies `vcpu` now (`evtchn_2l_unmask`).
pub fn unmask(w: &mut dyn EventWords, port: u32, vcpu: u32) {
    if w.test_and_clear(Bitmap::Mask, port)
        && w.test(Bitmap::Pending, port)
        && !w.test_and_set_selector(vcpu, port / w.word_bits())
    {
        mark_events_pending(w, vcpu);
    }
}

pub fn clear_pending(w: &mut dyn EventWords, port: u32) {
    w.test_and_clear(Bitmap::Pending, port);
}

pub fn is_pending(w: &dyn EventWords, port: u32) -> bool {
    port < w.nr_channels() && w.test(Bitmap::Pending, port)
}

fn mark_events_pending(w: &mut dyn EventWords, vcpu: u32) {
    if !w.test_and_set_upcall(vcpu) {
        w.kick(vcpu);
    }
}

#[cfg(test)]
pub mod fake {
    use super::*;
    use alloc::vec::Vec;

    /// Bitmaps and per-vCPU words in plain memory; counts kicks.
    #[derive(Debug)]
    pub struct FakeWords {
        pub bits: u32,
        pub pending: Vec<bool>,
        pub mask: Vec<bool>,
        pub selector: Vec<u64>,
        pub upcall: Vec<bool>,
        pub kicks: Vec<u32>,
        /// (vCPU, port) of each vCPU waiting in SCHEDOP_poll.
        pub polling: Vec<(u32, u32)>,
        /// vCPUs woken from SCHEDOP_poll.
        pub woken: Vec<u32>,
    }

    impl FakeWords {
        pub fn new(bits: u32, vcpus: usize) -> Self {
            let n = (bits * bits) as usize;
            FakeWords {
                bits,
                pending: alloc::vec![false; n],
                mask: alloc::vec![false; n],
                selector: alloc::vec![0; vcpus],
                upcall: alloc::vec![false; vcpus],
                kicks: Vec::new(),
                polling: Vec::new(),
                woken: Vec::new(),
            }
        }

        fn map(&mut self, map: Bitmap) -> &mut Vec<bool> {
            match map {
                Bitmap::Pending => &mut self.pending,
                Bitmap::Mask => &mut self.mask,
            }
        }
    }

    impl EventWords for FakeWords {
        fn word_bits(&self) -> u32 {
            self.bits
        }
        fn test_and_set(&mut self, map: Bitmap, port: u32) -> bool {
            self.map(map).get_mut(port as usize).map(|b| core::mem::replace(b, true)).unwrap_or(true)
        }
        fn test_and_clear(&mut self, map: Bitmap, port: u32) -> bool {
            self.map(map).get_mut(port as usize).map(|b| core::mem::replace(b, false)).unwrap_or(false)
        }
        fn test(&self, map: Bitmap, port: u32) -> bool {
            let v = match map {
                Bitmap::Pending => &self.pending,
                Bitmap::Mask => &self.mask,
            };
            v.get(port as usize).copied().unwrap_or(false)
        }
        fn test_and_set_selector(&mut self, vcpu: u32, bit: u32) -> bool {
            match self.selector.get_mut(vcpu as usize) {
                Some(s) => {
                    let old = *s & (1 << bit) != 0;
                    *s |= 1 << bit;
                    old
                }
                None => true,
            }
        }
        fn test_and_set_upcall(&mut self, vcpu: u32) -> bool {
            self.upcall.get_mut(vcpu as usize).map(|b| core::mem::replace(b, true)).unwrap_or(true)
        }
        fn kick(&mut self, vcpu: u32) {
            self.kicks.push(vcpu);
        }
        fn wake_pollers(&mut self, port: u32) {
            let woken: Vec<u32> = self.polling.iter().filter(|&&(_, p)| p == port).map(|&(v, _)| v).collect();
            self.woken.extend(woken);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fake::FakeWords;
    use super::*;

    #[test]
    fn a_new_event_sets_selector_and_upcall_and_kicks_once() {
        let mut w = FakeWords::new(64, 2);
        set_pending(&mut w, 70, 1);
        assert!(w.pending[70]);
        assert_eq!(w.selector[1], 1 << 1, "port 70 is in word 1");
        assert!(w.upcall[1]);
        assert_eq!(w.kicks, [1]);
        set_pending(&mut w, 70, 1);
        set_pending(&mut w, 71, 1);
        assert_eq!(w.kicks, [1], "upcall already pending: no second kick");
    }

    #[test]
    fn a_masked_port_stays_quiet_until_unmasked() {
        let mut w = FakeWords::new(32, 1);
        w.mask[40] = true;
        set_pending(&mut w, 40, 0);
        assert!(w.pending[40]);
        assert_eq!(w.selector[0], 0);
        assert!(w.kicks.is_empty());
        unmask(&mut w, 40, 0);
        assert!(!w.mask[40]);
        assert_eq!(w.selector[0], 1 << 1, "32-bit words: port 40 is in word 1");
        assert_eq!(w.kicks, [0]);
        unmask(&mut w, 40, 0);
        assert_eq!(w.kicks, [0], "unmasking an unmasked port does nothing");
    }

    #[test]
    fn a_poller_wakes_on_its_port_masked_or_not_whatever_the_upcall_state() {
        let mut w = FakeWords::new(64, 2);
        w.polling = alloc::vec![(1, 9), (0, 4)];
        w.mask[9] = true;
        set_pending(&mut w, 9, 1);
        assert!(w.kicks.is_empty(), "masked: no upcall");
        assert_eq!(w.woken, [1], "but vCPU 1 polls port 9");
        set_pending(&mut w, 5, 0);
        assert_eq!(w.kicks, [0], "port 5 raises vCPU 0's upcall");
        assert_eq!(w.woken, [1], "nobody polls port 5");
        set_pending(&mut w, 4, 0);
        assert_eq!(w.kicks, [0], "selector and upcall already set: no second upcall");
        assert_eq!(w.woken, [1, 0], "the poller of port 4 wakes all the same");
        set_pending(&mut w, 4, 0);
        assert_eq!(w.woken, [1, 0], "already pending: nothing new");
    }

    #[test]
    fn unmask_of_a_quiet_port_and_a_vcpu_without_vcpu_info() {
        let mut w = FakeWords::new(64, 1);
        w.mask[5] = true;
        unmask(&mut w, 5, 0);
        assert!(w.kicks.is_empty(), "not pending: no upcall");
        set_pending(&mut w, 6, 3);
        assert!(w.pending[6]);
        assert!(w.kicks.is_empty(), "vCPU 3 has no vcpu_info");
        assert!(is_pending(&w, 6));
        clear_pending(&mut w, 6);
        assert!(!is_pending(&w, 6));
        assert!(!is_pending(&w, 1 << 20));
    }
}
