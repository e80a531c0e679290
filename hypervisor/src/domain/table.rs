//! All domains, by id. One lock: hypercalls that touch another domain
//! (domctl, memory_op on a foreign domid) see a consistent table.

use alloc::vec::Vec;

use spin::Mutex;

use super::object::Domain;
use crate::event::channels::{Binding, Channel};
use crate::sched::kick::UnlockThenKick;

pub static DOMAINS: DomainsLock = DomainsLock(Mutex::new(DomainTable { domains: Vec::new(), rover: 0 }));

/// The table's lock. Its guard sends the kicks raised while it was held
/// once it is released (`sched::kick`): a kicked CPU finds it free.
pub struct DomainsLock(Mutex<DomainTable>);

/// The locked table.
pub type DomainsGuard<'a> = UnlockThenKick<'a, DomainTable>;

impl DomainsLock {
    pub fn lock(&self) -> DomainsGuard<'_> {
        UnlockThenKick::new(self.0.lock(), crate::sched::kick::send_owed)
    }
}

/// Ids of ordinary domains are below this (Xen's DOMID_FIRST_RESERVED).
pub const DOMID_FIRST_RESERVED: u16 = 0x7ff0;
/// Most domains that exist at once: the table and each domain's bookkeeping
/// live on the hypervisor heap, which a toolstack must not exhaust.
pub const MAX_DOMAINS: usize = 64;

pub struct DomainTable {
    domains: Vec<Domain>,
    /// The id last given by `free_id`.
    rover: u16,
}

impl DomainTable {
    pub fn get(&self, id: u16) -> Option<&Domain> {
        self.domains.iter().find(|d| d.id == id)
    }

    pub fn get_mut(&mut self, id: u16) -> Option<&mut Domain> {
        self.domains.iter_mut().find(|d| d.id == id)
    }

    pub fn insert(&mut self, domain: Domain) {
        self.domains.push(domain);
        self.domains.sort_by_key(|d| d.id);
    }

    pub fn remove(&mut self, id: u16) -> Option<Domain> {
        let at = self.domains.iter().position(|d| d.id == id)?;
        Some(self.domains.remove(at))
    }

    /// `dying` left the table: the other ends of its interdomain channels
    /// become unbound (waiting for it), as Xen's `evtchn_destroy` leaves them.
    pub fn unbind_peers_of(&mut self, dying: &Domain) {
        for (_, channel) in dying.evtchn.bound_ports() {
            if let Binding::Interdomain { remote, remote_port } = channel.binding
                && let Some(peer) = self.get_mut(remote)
                && let Ok(c) = peer.evtchn.get(remote_port)
            {
                peer.evtchn.set(remote_port, Channel { binding: Binding::Unbound { remote: dying.id }, ..c });
            }
        }
    }

    /// Whether another domain may be created.
    pub fn has_room(&self) -> bool {
        self.domains.len() < MAX_DOMAINS
    }

    /// The next free id after the last one given (0 is Dom0's), wrapping
    /// below DOMID_FIRST_RESERVED, as Xen's domid rover: a new domain does
    /// not take the id of one just destroyed.
    pub fn free_id(&mut self) -> Option<u16> {
        let span = DOMID_FIRST_RESERVED - 1;
        let id = (0..span).map(|i| 1 + (self.rover + i) % span).find(|id| self.get(*id).is_none())?;
        self.rover = id;
        Some(id)
    }

    /// Domains in id order, starting at `first`.
    pub fn from(&self, first: u16) -> impl Iterator<Item = &Domain> {
        self.domains.iter().filter(move |d| d.id >= first)
    }

    pub fn len(&self) -> usize {
        self.domains.len()
    }

    pub fn is_empty(&self) -> bool {
        self.domains.is_empty()
    }
}
