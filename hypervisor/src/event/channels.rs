//! A domain's event-channel ports and what each is bound to
//! (`struct evtchn` states in xen/common/event_channel.c).

use crate::bits::low32_usize;
use alloc::vec::Vec;

use abi::errno::Errno;
use abi::xen::NR_VIRQS;

/// Ports come in buckets of this many, as Xen allocates them; a port below
/// the allocated buckets is valid (status "closed" when unused).
pub const PORTS_PER_BUCKET: u32 = 64;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Binding {
    Free,
    /// Port 0: never allocated.
    Reserved,
    /// Waiting for domain `remote` to bind to it.
    Unbound { remote: u16 },
    Interdomain { remote: u16, remote_port: u32 },
    Virq(u32),
    Ipi,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Channel {
    pub binding: Binding,
    /// The vCPU its events are delivered to.
    pub vcpu: u32,
}

const FREE: Channel = Channel { binding: Binding::Free, vcpu: 0 };

/// The port table. Per vCPU, which port each virq is bound to (0: none).
#[derive(Clone, Debug)]
pub struct EventChannels {
    ports: Vec<Channel>,
    virqs: Vec<[u32; NR_VIRQS as usize]>,
    /// One past the highest port the domain may allocate (its configured
    /// `max_evtchn_port` + 1; the ABI's limit applies on top).
    max_ports: u32,
}

impl EventChannels {
    pub fn new(nr_vcpus: usize, max_ports: u32) -> Self {
        let mut ports = alloc::vec![FREE; PORTS_PER_BUCKET as usize];
        ports[0].binding = Binding::Reserved;
        EventChannels { ports, virqs: alloc::vec![[0; NR_VIRQS as usize]; nr_vcpus.max(1)], max_ports }
    }

    /// The vCPU count changed (XEN_DOMCTL_max_vcpus): virq tables follow.
    pub fn set_vcpus(&mut self, nr_vcpus: usize) {
        self.virqs.resize(nr_vcpus.max(1), [0; NR_VIRQS as usize]);
    }

    /// Ports below this are valid to name (Xen's `valid_evtchns`).
    pub fn valid(&self) -> u32 {
        low32_usize(self.ports.len())
    }

    /// The channel at `port`; -EINVAL past the valid ports.
    pub fn get(&self, port: u32) -> Result<Channel, Errno> {
        self.ports.get(port as usize).copied().ok_or(Errno::EINVAL)
    }

    pub fn set(&mut self, port: u32, channel: Channel) {
        if let Some(c) = self.ports.get_mut(port as usize) {
            *c = channel;
        }
    }

    /// The lowest free port, growing the table by a bucket when full;
    /// -ENOSPC past `min(max_ports, abi_limit)`.
    pub fn alloc(&mut self, binding: Binding, vcpu: u32, abi_limit: u32) -> Result<u32, Errno> {
        let limit = self.max_ports.min(abi_limit);
        let port = match self.ports.iter().position(|c| c.binding == Binding::Free) {
            Some(p) => low32_usize(p),
            None => {
                let p = self.valid();
                if p >= limit {
                    return Err(Errno::ENOSPC);
                }
                // Guest-driven growth: no heap is -ENOMEM, never a panic.
                self.ports.try_reserve(PORTS_PER_BUCKET as usize).map_err(|_| Errno::ENOMEM)?;
                self.ports.resize((p + PORTS_PER_BUCKET) as usize, FREE);
                p
            }
        };
        if port >= limit {
            return Err(Errno::ENOSPC);
        }
        self.ports[port as usize] = Channel { binding, vcpu };
        Ok(port)
    }

    /// Frees `port` (its vCPU goes back to 0, as Xen's `evtchn_free`).
    pub fn free(&mut self, port: u32) {
        if let Some(c) = self.ports.get_mut(port as usize) {
            if let Binding::Virq(virq) = c.binding
                && let Some(slot) = self.virqs.get_mut(c.vcpu as usize).and_then(|t| t.get_mut(virq as usize))
                && *slot == port
            {
                *slot = 0;
            }
            *c = FREE;
        }
    }

    /// The port virq `virq` of `vcpu` is bound to (0: none).
    pub fn virq_port(&self, vcpu: u32, virq: u32) -> u32 {
        self.virqs.get(vcpu as usize).and_then(|t| t.get(virq as usize)).copied().unwrap_or(0)
    }

    pub fn set_virq_port(&mut self, vcpu: u32, virq: u32, port: u32) {
        if let Some(slot) = self.virqs.get_mut(vcpu as usize).and_then(|t| t.get_mut(virq as usize)) {
            *slot = port;
        }
    }

    /// Ports in use (not free, not reserved), lowest first.
    pub fn bound_ports(&self) -> impl Iterator<Item = (u32, Channel)> + '_ {
        self.ports
            .iter()
            .enumerate()
            .filter(|(_, c)| !matches!(c.binding, Binding::Free | Binding::Reserved))
            .map(|(p, c)| (low32_usize(p), *c))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_zero_is_reserved_and_allocation_starts_at_one() {
        let mut t = EventChannels::new(1, 4096);
        assert_eq!(t.get(0).unwrap().binding, Binding::Reserved);
        assert_eq!(t.alloc(Binding::Ipi, 0, 4096), Ok(1));
        assert_eq!(t.alloc(Binding::Ipi, 0, 4096), Ok(2));
        t.free(1);
        assert_eq!(t.alloc(Binding::Ipi, 0, 4096), Ok(1), "the lowest free port is reused");
    }

    #[test]
    fn valid_ports_grow_by_bucket_up_to_the_limit() {
        let mut t = EventChannels::new(1, 4096);
        assert_eq!(t.valid(), 64);
        assert_eq!(t.get(63).unwrap().binding, Binding::Free);
        assert_eq!(t.get(64), Err(Errno::EINVAL));
        assert_eq!(t.get(u32::MAX), Err(Errno::EINVAL));
        for want in 1..64 {
            assert_eq!(t.alloc(Binding::Ipi, 0, 4096), Ok(want));
        }
        assert_eq!(t.alloc(Binding::Ipi, 0, 4096), Ok(64));
        assert_eq!(t.valid(), 128);
        let mut small = EventChannels::new(1, 3);
        assert_eq!(small.alloc(Binding::Ipi, 0, 4096), Ok(1));
        assert_eq!(small.alloc(Binding::Ipi, 0, 4096), Ok(2));
        assert_eq!(small.alloc(Binding::Ipi, 0, 4096), Err(Errno::ENOSPC));
        let mut compat = EventChannels::new(1, u32::MAX);
        while compat.alloc(Binding::Ipi, 0, 1024).is_ok() {}
        assert_eq!(compat.valid(), 1024, "a 32-bit guest's ABI limit holds");
    }

    #[test]
    fn freeing_a_virq_port_unbinds_the_virq() {
        let mut t = EventChannels::new(2, 4096);
        let p = t.alloc(Binding::Virq(0), 1, 4096).unwrap();
        t.set_virq_port(1, 0, p);
        assert_eq!(t.virq_port(1, 0), p);
        assert_eq!(t.virq_port(0, 0), 0);
        t.free(p);
        assert_eq!(t.virq_port(1, 0), 0);
        assert_eq!(t.get(p).unwrap(), FREE);
        assert_eq!(t.virq_port(7, 0), 0, "a vCPU that does not exist has no virqs");
    }
}
