//! The store: the tree, the connections (one per domain) with their
//! watches, transactions and output queues, and the request handlers.

use alloc::collections::{BTreeMap, VecDeque};
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use abi::io::xs_wire::*;

use crate::Error;
use crate::path::{self, INTRODUCE_DOMAIN, RELEASE_DOMAIN};
use crate::perms::{Access, Perms};
use crate::wire::{self, Message};

/// `DOMID_SELF` as IS_DOMAIN_INTRODUCED takes it.
const DOMID_SELF: u16 = 0x7ff0;

/// Limits on what an unprivileged domain may hold; Xen's defaults.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quotas {
    /// Nodes a domain may own (`-E`, quota_nb_entry_per_domain).
    pub nodes_per_domain: usize,
    /// Bytes of one node: value, children's names, permissions (`-S`).
    pub node_size: usize,
    /// Watches per domain (`-W`).
    pub watches_per_domain: usize,
    /// Open transactions per domain (`-t`).
    pub transactions_per_domain: usize,
    /// Replies a domain may leave unread before its requests wait (`-Q`).
    pub outstanding_requests: usize,
    /// Length of a path past `/local/domain/<n>/` (XENSTORE_REL_PATH_MAX).
    pub path_length: usize,
    /// Entries of one node's permission list (`-A`).
    pub perms_per_node: usize,
    /// Watch events queued for one domain; more are dropped (Xen bounds
    /// the queue by memory).
    pub queued_events: usize,
    /// Nodes one transaction may look at or change (quota_trans_nodes).
    pub transaction_nodes: usize,
    /// Bytes of Dom0's heap a domain's nodes, watches, transactions and
    /// queued messages may take (Xen 4.17's hard `memory` quota): a request
    /// that would pass it is ENOMEM, a watch event for it is dropped, and a
    /// domain at it has no further requests taken. 0: no limit.
    pub memory: usize,
    /// Past this a line is logged (Xen's soft memory quota). 0: never.
    pub memory_soft: usize,
    /// The same bytes for all unprivileged domains together (ours: Xen
    /// has a process, not a fixed heap); 0: no limit.
    pub memory_total: usize,
}

impl Default for Quotas {
    fn default() -> Quotas {
        Quotas {
            nodes_per_domain: 1000,
            node_size: 2048,
            watches_per_domain: 128,
            transactions_per_domain: 10,
            outstanding_requests: 20,
            path_length: XENSTORE_REL_PATH_MAX,
            perms_per_node: 5,
            queued_events: 64,
            transaction_nodes: 1024,
            memory: 2 * 1024 * 1024 + 512 * 1024,
            memory_soft: 2 * 1024 * 1024,
            memory_total: 0,
        }
    }
}

/// What the daemon around the store must do after a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Effect {
    /// Serve the ring at `mfn` of `domid`, notified on its `port`.
    Introduce { domid: u16, mfn: u64, port: u32 },
    /// Stop serving `domid`.
    Release { domid: u16 },
    /// A line for the log (CONTROL print).
    Log(String),
}

/// Xen's node record header (generation, three lengths), counted in the
/// node-size quota with 8 bytes per permission (`struct xs_permissions`).
const RECORD_HEADER: usize = 24;
const RECORD_PERM: usize = 8;

// What the memory quota charges beyond the bytes of the strings
// themselves: the map entries, allocation rounding and collections' nodes
// of each thing kept. Upper bounds of the real heap use, measured by the
// host test `memory_accounting_covers_the_real_heap` with a counting
// allocator (approximate: the layout of `BTreeMap` is not ours).
const NODE_COST: usize = 320;
const CHILD_COST: usize = 48;
const WATCH_COST: usize = 128;
const MESSAGE_COST: usize = 64;
const TRANSACTION_COST: usize = 512;
const SEEN_COST: usize = 128;

#[derive(Clone, Debug)]
struct Node {
    value: Vec<u8>,
    perms: Perms,
    /// In the order they were made, as Xen's DIRECTORY lists them.
    children: Vec<String>,
    /// Changes whenever the node does: DIRECTORY_PART's generation and a
    /// transaction's conflict check.
    generation: u64,
}

impl Node {
    /// Bytes of the node-size quota: Xen's record size.
    fn size(&self) -> usize {
        RECORD_HEADER + self.perms.entries().len() * RECORD_PERM + self.value.len() + self.children.iter().map(|c| c.len() + 1).sum::<usize>()
    }

    /// Heap bytes the memory quota charges for the node at `path`.
    fn cost(&self, path: &str) -> usize {
        NODE_COST + path.len() + self.value.len() + self.perms.stored_size() + self.children.iter().map(|c| c.len() + CHILD_COST).sum::<usize>()
    }

    fn add_child(&mut self, name: &str) {
        if !self.children.iter().any(|c| c == name) {
            self.children.push(String::from(name));
        }
    }
}

struct Watch {
    path: String,
    token: Vec<u8>,
    /// Given relative: events name paths relative to the domain's home.
    relative: bool,
}

impl Watch {
    fn cost(&self) -> usize {
        WATCH_COST + self.path.len() + self.token.len()
    }
}

/// Watches to fire: `path` changed; in `Subtree` mode watchers at or above
/// it see it, in `Exact` mode (nodes under a removed one) only watchers
/// of that very path.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Subtree,
    Exact,
}

struct Change {
    path: String,
    perms: Vec<Perms>,
    mode: Mode,
}

struct Transaction {
    id: u32,
    /// Nodes written (Some) or removed (None) in the transaction.
    overlay: BTreeMap<String, Option<Node>>,
    /// The generation (None: absent) of every node the transaction looked
    /// at, as it was in the tree then; any difference at commit: EAGAIN.
    seen: BTreeMap<String, Option<u64>>,
    /// Node count changes per owner, for the quota.
    owned_delta: BTreeMap<u16, isize>,
    /// Watches fired when it commits.
    changes: Vec<Change>,
    /// What the overlay and `seen` take, for the memory quota.
    bytes: usize,
}

impl Transaction {
    fn cost(&self) -> usize {
        TRANSACTION_COST + self.bytes + self.changes.iter().map(|c| c.path.len() + c.perms.iter().map(|p| p.stored_size() + 32).sum::<usize>() + 64).sum::<usize>()
    }
}

struct Conn {
    watches: Vec<Watch>,
    transactions: Vec<Transaction>,
    /// Whole messages to send; `true` marks a reply.
    out: VecDeque<(bool, Vec<u8>)>,
    events_dropped: u64,
    /// Memory-quota bytes of `watches` and `out`.
    watch_bytes: usize,
    out_bytes: usize,
    /// Over the soft memory quota (said once until it is under again).
    soft_reported: bool,
    /// XS_SET_TARGET: the domain whose nodes this one may treat as its own.
    target: Option<u16>,
}

impl Conn {
    fn new() -> Conn {
        Conn {
            watches: Vec::new(),
            transactions: Vec::new(),
            out: VecDeque::new(),
            events_dropped: 0,
            watch_bytes: 0,
            out_bytes: 0,
            soft_reported: false,
            target: None,
        }
    }

    fn push(&mut self, reply: bool, msg: Vec<u8>) {
        self.out_bytes += MESSAGE_COST + msg.len();
        self.out.push_back((reply, msg));
    }

    /// Memory-quota bytes of everything but the domain's nodes in the tree.
    fn cost(&self, current: Option<&Transaction>) -> usize {
        self.watch_bytes + self.out_bytes + self.transactions.iter().chain(current).map(Transaction::cost).sum::<usize>()
    }
}

/// What `domid` may do with a node of `perms`, seen as its target too.
fn rights_of(perms: &Perms, domid: u16, conns: &BTreeMap<u16, Conn>) -> crate::perms::Rights {
    let target = conns.get(&domid).and_then(|c| c.target);
    perms.rights_with_target(domid, target, domid == 0)
}

pub struct Store {
    tree: BTreeMap<String, Node>,
    /// Permissions of `@introduceDomain` and `@releaseDomain`.
    special: BTreeMap<&'static str, Perms>,
    /// Nodes owned per domain.
    owned: BTreeMap<u16, usize>,
    /// Memory-quota bytes of the nodes in the tree, per owner.
    memory: BTreeMap<u16, usize>,
    conns: BTreeMap<u16, Conn>,
    /// Domains introduced: their ring's mfn and event channel port.
    introduced: BTreeMap<u16, (u64, u32)>,
    generation: u64,
    next_tx: u32,
    pub quotas: Quotas,
    effects: Vec<Effect>,
    /// Watch events to queue after the current reply (WATCH's first).
    after_reply: Vec<(u16, Vec<u8>)>,
}

type Tx<'a> = Option<&'a mut Transaction>;

fn ok() -> Vec<u8> {
    b"OK\0".to_vec()
}

fn text(s: &str) -> Vec<u8> {
    let mut v = s.as_bytes().to_vec();
    v.push(0);
    v
}

fn utf8(b: &[u8]) -> Result<&str, Error> {
    core::str::from_utf8(b).map_err(|_| Error::Einval)
}

fn number<T: core::str::FromStr>(b: &[u8]) -> Result<T, Error> {
    let s = utf8(b)?;
    if s.is_empty() || !s.bytes().all(|c| c.is_ascii_digit()) {
        return Err(Error::Einval);
    }
    s.parse().map_err(|_| Error::Einval)
}

/// The single nul-terminated argument of a payload.
fn onearg(payload: &[u8]) -> Result<&[u8], Error> {
    let at = payload.iter().position(|&b| b == 0).ok_or(Error::Einval)?;
    Ok(&payload[..at])
}

impl Store {
    /// A store holding `/` (owned by Dom0, no access for others) and a
    /// connection for Dom0.
    pub fn new(quotas: Quotas) -> Store {
        let mut s = Store {
            tree: BTreeMap::new(),
            special: BTreeMap::new(),
            owned: BTreeMap::new(),
            memory: BTreeMap::new(),
            conns: BTreeMap::new(),
            introduced: BTreeMap::new(),
            generation: 0,
            next_tx: 1,
            quotas,
            effects: Vec::new(),
            after_reply: Vec::new(),
        };
        let root = Node { value: Vec::new(), perms: Perms::new(0, Access::NONE), children: Vec::new(), generation: 0 };
        s.put(None, "/", root);
        s.special.insert(INTRODUCE_DOMAIN, Perms::new(0, Access::NONE));
        s.special.insert(RELEASE_DOMAIN, Perms::new(0, Access::NONE));
        s.conns.insert(0, Conn::new());
        s
    }

    fn privileged(domid: u16) -> bool {
        domid == 0
    }

    // --- the tree, seen through a transaction or not -----------------

    fn node<'a>(&'a self, tx: Option<&'a mut Transaction>, path: &str) -> Option<&'a Node> {
        match tx {
            None => self.tree.get(path),
            Some(t) => {
                if !t.overlay.contains_key(path) && !t.seen.contains_key(path) {
                    t.seen.insert(String::from(path), self.tree.get(path).map(|n| n.generation));
                    t.bytes += SEEN_COST + path.len();
                }
                let t: &'a Transaction = t;
                match t.overlay.get(path) {
                    Some(o) => o.as_ref(),
                    None => self.tree.get(path),
                }
            }
        }
    }

    fn owned_by(&self, tx: Option<&Transaction>, domid: u16) -> usize {
        let base = self.owned.get(&domid).copied().unwrap_or(0);
        let delta = tx.and_then(|t| t.owned_delta.get(&domid).copied()).unwrap_or(0);
        base.saturating_add_signed(delta)
    }

    /// Writes `new` (Some) or removes (None) the node at `path`.
    fn set(&mut self, mut tx: Tx, path: &str, new: Option<Node>) {
        let old_owner = self.node(tx.as_deref_mut(), path).map(|n| n.perms.owner());
        let new_owner = new.as_ref().map(|n| n.perms.owner());
        self.generation += 1;
        let new = new.map(|mut n| {
            n.generation = self.generation;
            n
        });
        match tx {
            None => {
                if let Some(c) = old_owner.and_then(|o| self.owned.get_mut(&o)) {
                    *c = c.saturating_sub(1);
                }
                if let Some(o) = new_owner {
                    *self.owned.entry(o).or_insert(0) += 1;
                }
                if let Some((o, cost)) = self.tree.get(path).map(|n| (n.perms.owner(), n.cost(path)))
                    && let Some(m) = self.memory.get_mut(&o)
                {
                    *m = m.saturating_sub(cost);
                }
                if let Some(n) = &new {
                    *self.memory.entry(n.perms.owner()).or_insert(0) += n.cost(path);
                }
                match new {
                    Some(n) => {
                        self.tree.insert(String::from(path), n);
                    }
                    None => {
                        self.tree.remove(path);
                    }
                }
            }
            Some(t) => {
                if let Some(o) = old_owner {
                    *t.owned_delta.entry(o).or_insert(0) -= 1;
                }
                if let Some(o) = new_owner {
                    *t.owned_delta.entry(o).or_insert(0) += 1;
                }
                let entry = |n: &Option<Node>| SEEN_COST + path.len() + n.as_ref().map_or(0, |n| n.cost(path));
                if let Some(old) = t.overlay.get(path) {
                    t.bytes = t.bytes.saturating_sub(entry(old));
                }
                t.bytes += entry(&new);
                t.overlay.insert(String::from(path), new);
            }
        }
    }

    /// Memory-quota bytes `domid` holds: its nodes, watches, transactions
    /// (`current`, the one being served, is out of its list meanwhile) and
    /// queued messages.
    fn usage(&self, domid: u16, current: Option<&Transaction>) -> usize {
        self.memory.get(&domid).copied().unwrap_or(0) + self.conns.get(&domid).map_or(0, |c| c.cost(current))
    }

    /// The same over every unprivileged domain.
    fn usage_total(&self, current: Option<&Transaction>) -> usize {
        let nodes: usize = self.memory.iter().filter(|(d, _)| !Self::privileged(**d)).map(|(_, m)| m).sum();
        let conns: usize = self.conns.iter().filter(|(d, _)| !Self::privileged(**d)).map(|(_, c)| c.cost(None)).sum();
        nodes + conns + current.map_or(0, Transaction::cost)
    }

    /// Whether `domid` may take `extra` more bytes: ENOMEM past its memory
    /// quota or past all domains' (Xen's domain_memory_add).
    fn room(&self, domid: u16, current: Option<&Transaction>, extra: usize) -> Result<(), Error> {
        if Self::privileged(domid) {
            return Ok(());
        }
        let q = &self.quotas;
        if q.memory != 0 && self.usage(domid, current).saturating_add(extra) > q.memory {
            return Err(Error::Enomem);
        }
        if q.memory_total != 0 && self.usage_total(current).saturating_add(extra) > q.memory_total {
            return Err(Error::Enomem);
        }
        Ok(())
    }

    /// Memory-quota bytes `domid` holds now, as CONTROL `quota` shows them.
    pub fn memory_used(&self, domid: u16) -> usize {
        self.usage(domid, None)
    }

    fn put(&mut self, tx: Tx, path: &str, node: Node) {
        self.set(tx, path, Some(node));
    }

    /// Xen's `errno_from_parents`: a missing node is ENOENT only to a
    /// caller who may read its nearest existing ancestor.
    fn missing(&self, mut tx: Tx, domid: u16, path: &str) -> Error {
        let mut p = path::parent(path);
        loop {
            if let Some(n) = self.node(tx.as_deref_mut(), p) {
                return if rights_of(&n.perms, domid, &self.conns).read { Error::Enoent } else { Error::Eacces };
            }
            if p == "/" {
                return Error::Enoent;
            }
            p = path::parent(p);
        }
    }

    /// The node at `path` if `domid` may read (`write`: and write) it.
    fn checked<'a>(&'a self, mut tx: Tx<'a>, domid: u16, path: &str, write: bool) -> Result<&'a Node, Error> {
        if self.node(tx.as_deref_mut(), path).is_none() {
            return Err(self.missing(tx, domid, path));
        }
        let n = self.node(tx, path).ok_or(Error::Enoent)?;
        let r = rights_of(&n.perms, domid, &self.conns);
        if (write && !r.write) || (!write && !r.read) {
            return Err(Error::Eacces);
        }
        Ok(n)
    }

    fn canon(&self, domid: u16, name: &[u8], special: bool) -> Result<String, Error> {
        let max = (!Self::privileged(domid)).then_some(self.quotas.path_length);
        path::canonicalize(domid, utf8(name)?, special, max)
    }

    /// Creates `path` and any missing ancestor; `value` goes to `path`.
    fn create(&mut self, mut tx: Tx, domid: u16, path: &str, value: Vec<u8>) -> Result<(), Error> {
        let privileged = Self::privileged(domid);
        let mut missing = alloc::vec![String::from(path)];
        let mut p = path::parent(path);
        while self.node(tx.as_deref_mut(), p).is_none() {
            missing.push(String::from(p));
            p = path::parent(p);
        }
        let ancestor_path = String::from(p);
        let ancestor = self.node(tx.as_deref_mut(), &ancestor_path).cloned().ok_or(Error::Enoent)?;
        let rights = rights_of(&ancestor.perms, domid, &self.conns);
        if !rights.write {
            return Err(Error::Eacces);
        }
        if !privileged {
            if self.owned_by(tx.as_deref(), domid) + missing.len() > self.quotas.nodes_per_domain {
                return Err(Error::Enospc);
            }
            let record = RECORD_HEADER + ancestor.perms.entries().len() * RECORD_PERM + value.len();
            if record >= self.quotas.node_size
                || ancestor.size() + path::basename(&missing[missing.len() - 1]).len() + 1 >= self.quotas.node_size
            {
                return Err(Error::Enospc);
            }
            // Everything made is charged to the caller: the nodes, and in a
            // transaction their overlay entries and the parent's copy.
            let in_tx = tx.is_some();
            let mut extra = value.len();
            for p in &missing {
                extra += NODE_COST + p.len() + ancestor.perms.stored_size() + CHILD_COST + path::basename(p).len();
                if in_tx {
                    extra += SEEN_COST + p.len();
                }
            }
            if in_tx {
                extra += SEEN_COST + ancestor.cost(&ancestor_path);
            }
            self.room(domid, tx.as_deref(), extra)?;
        }
        let mut perms = ancestor.perms.clone();
        if !privileged {
            perms.set_owner(domid);
        }
        let mut parent = ancestor;
        parent.add_child(path::basename(&missing[missing.len() - 1]));
        self.put(tx.as_deref_mut(), &ancestor_path, parent);
        let mut value = Some(value);
        for (i, p) in missing.iter().enumerate().rev() {
            let mut children = Vec::new();
            if i > 0 {
                children.push(String::from(path::basename(&missing[i - 1])));
            }
            let v = if i == 0 { value.take().unwrap_or_default() } else { Vec::new() };
            self.put(tx.as_deref_mut(), p, Node { value: v, perms: perms.clone(), children, generation: 0 });
        }
        Ok(())
    }

    /// Queues watch events for a change (now, or at commit in a
    /// transaction).
    fn changed(&mut self, tx: Tx, path: &str, perms: Vec<Perms>, mode: Mode) {
        match tx {
            Some(t) => t.changes.push(Change { path: String::from(path), perms, mode }),
            None => self.fire(path, &perms, mode),
        }
    }

    fn fire(&mut self, path: &str, perms: &[Perms], mode: Mode) {
        let limit = self.quotas.queued_events;
        let (hard, total_max) = (self.quotas.memory, self.quotas.memory_total);
        let mut total = if total_max != 0 { self.usage_total(None) } else { 0 };
        let readers: Vec<u16> =
            self.conns.keys().copied().filter(|&d| perms.iter().any(|p| rights_of(p, d, &self.conns).read)).collect();
        for domid in readers {
            let nodes = self.memory.get(&domid).copied().unwrap_or(0);
            let Some(conn) = self.conns.get_mut(&domid) else { continue };
            let home = path::domain_path(domid);
            let events: Vec<Vec<u8>> = conn
                .watches
                .iter()
                .filter(|w| match mode {
                    Mode::Exact => w.path == path,
                    Mode::Subtree => path::is_below_or_at(path, &w.path),
                })
                .map(|w| {
                    let shown = if w.relative {
                        path.strip_prefix(home.as_str()).and_then(|r| r.strip_prefix('/')).unwrap_or(path)
                    } else {
                        path
                    };
                    event(shown, &w.token)
                })
                .collect();
            for ev in events {
                let queued = conn.out.iter().filter(|(reply, _)| !reply).count();
                // An event that would take the domain past its memory
                // quota (or all domains past theirs) is dropped, as Xen's.
                let cost = MESSAGE_COST + ev.len();
                let over = !Self::privileged(domid)
                    && ((hard != 0 && nodes + conn.cost(None) + cost > hard) || (total_max != 0 && total + cost > total_max));
                if queued >= limit || over {
                    conn.events_dropped += 1;
                    continue;
                }
                if !Self::privileged(domid) {
                    total += cost;
                }
                conn.push(false, ev);
            }
        }
    }

    // --- connections ----------------------------------------------------

    /// Introduces `domid` (as XS_INTRODUCE from Dom0): a connection, the
    /// `@introduceDomain` watches, and an [`Effect::Introduce`].
    pub fn introduce(&mut self, domid: u16, mfn: u64, port: u32) -> Result<(), Error> {
        if domid == 0 || domid >= DOMID_SELF {
            return Err(Error::Einval);
        }
        if self.introduced.insert(domid, (mfn, port)).is_none() {
            self.conns.insert(domid, Conn::new());
        }
        self.effects.push(Effect::Introduce { domid, mfn, port });
        let perms = self.special[INTRODUCE_DOMAIN].clone();
        self.fire(INTRODUCE_DOMAIN, &[perms], Mode::Exact);
        Ok(())
    }

    /// Releases `domid`: its connection, watches and transactions go (its
    /// nodes stay for the toolstack to remove); `@releaseDomain` fires.
    pub fn release(&mut self, domid: u16) -> Result<(), Error> {
        if domid == 0 || domid >= DOMID_SELF {
            return Err(Error::Einval);
        }
        if self.introduced.remove(&domid).is_none() {
            return Err(Error::Enoent);
        }
        self.conns.remove(&domid);
        self.effects.push(Effect::Release { domid });
        let perms = self.special[RELEASE_DOMAIN].clone();
        self.fire(RELEASE_DOMAIN, &[perms], Mode::Exact);
        Ok(())
    }

    /// Drops `domid`'s connection (it broke the protocol): its watches,
    /// transactions and queued output go, nothing more is answered; it
    /// stays introduced until released.
    pub fn close(&mut self, domid: u16) {
        if domid != 0 {
            self.conns.remove(&domid);
        }
    }

    pub fn is_introduced(&self, domid: u16) -> bool {
        self.introduced.contains_key(&domid)
    }

    /// What the daemon must do since the last call.
    pub fn take_effects(&mut self) -> Vec<Effect> {
        core::mem::take(&mut self.effects)
    }

    /// Whether `domid`'s next request may be taken: fewer replies than the
    /// outstanding-requests quota wait to be read.
    /// A domain at its hard memory quota has no further requests taken
    /// (Xen's domain_can_read) until what it holds shrinks.
    pub fn accepts(&self, domid: u16) -> bool {
        let stalled = !Self::privileged(domid) && self.quotas.memory != 0 && self.usage(domid, None) >= self.quotas.memory;
        !stalled
            && self
                .conns
                .get(&domid)
                .is_some_and(|c| c.out.iter().filter(|(reply, _)| *reply).count() < self.quotas.outstanding_requests)
    }

    /// The next message (reply or watch event) for `domid`.
    pub fn pop_output(&mut self, domid: u16) -> Option<Vec<u8>> {
        let c = self.conns.get_mut(&domid)?;
        let (_, m) = c.out.pop_front()?;
        c.out_bytes = c.out_bytes.saturating_sub(MESSAGE_COST + m.len());
        Some(m)
    }

    /// Watch events dropped for `domid` because its queue was full.
    pub fn events_dropped(&self, domid: u16) -> u64 {
        self.conns.get(&domid).map_or(0, |c| c.events_dropped)
    }

    /// Handles one message from `domid`'s ring and queues the reply.
    pub fn handle(&mut self, domid: u16, msg: &Message) {
        if !self.conns.contains_key(&domid) {
            return;
        }
        let h = msg.header;
        let reply = match self.answer(domid, h.r#type, h.tx_id, &msg.payload) {
            Ok(payload) => Message::new(h.r#type, h.req_id, h.tx_id, payload),
            Err(e) => Message::new(XS_ERROR, h.req_id, h.tx_id, text(e.name())),
        };
        if let Some(c) = self.conns.get_mut(&domid) {
            c.push(true, reply.to_bytes());
        }
        self.flush_after_reply();
        self.soft_quota(domid);
    }

    /// One request of `domid`'s: the reply's payload or its error. Dom0's
    /// own code (toolstack, shell) calls this directly; watch events for
    /// Dom0 are then in [`Self::pop_output`]`(0)`.
    pub fn request(&mut self, domid: u16, r#type: u32, tx_id: u32, payload: &[u8]) -> Result<Vec<u8>, Error> {
        let r = self.answer(domid, r#type, tx_id, payload);
        self.flush_after_reply();
        r
    }

    fn answer(&mut self, domid: u16, r#type: u32, tx_id: u32, payload: &[u8]) -> Result<Vec<u8>, Error> {
        match self.request_inner(domid, r#type, tx_id, payload) {
            Ok(p) if p.len() > XENSTORE_PAYLOAD_MAX as usize => Err(Error::E2big),
            r => r,
        }
    }

    /// Xen's soft memory quota: a line when a domain passes it, and one
    /// when it is under it again.
    fn soft_quota(&mut self, domid: u16) {
        let soft = self.quotas.memory_soft;
        if soft == 0 || Self::privileged(domid) {
            return;
        }
        let used = self.usage(domid, None);
        let Some(c) = self.conns.get_mut(&domid) else { return };
        if used > soft && !c.soft_reported {
            c.soft_reported = true;
            self.effects.push(Effect::Log(format!("d{domid} exceeds the soft memory quota ({used} of {soft} bytes)")));
        } else if used <= soft && c.soft_reported {
            c.soft_reported = false;
            self.effects.push(Effect::Log(format!("d{domid} is below the soft memory quota again")));
        }
    }

    fn flush_after_reply(&mut self) {
        for (d, m) in core::mem::take(&mut self.after_reply) {
            if let Some(c) = self.conns.get_mut(&d) {
                c.push(false, m);
            }
        }
    }

    fn request_inner(&mut self, domid: u16, r#type: u32, tx_id: u32, payload: &[u8]) -> Result<Vec<u8>, Error> {
        let conn = self.conns.get_mut(&domid).ok_or(Error::Eio)?;
        let mut tx = if tx_id == 0 {
            None
        } else {
            let at = conn.transactions.iter().position(|t| t.id == tx_id).ok_or(Error::Enoent)?;
            Some(conn.transactions.remove(at))
        };
        if r#type == XS_TRANSACTION_END {
            let Some(t) = tx else { return Err(Error::Enoent) };
            return self.transaction_end(domid, t, payload);
        }
        // What a transaction tracks is bounded, or a domain could grow it
        // without end with reads of nodes that do not exist.
        let full = tx.as_ref().is_some_and(|t| t.seen.len() + t.overlay.len() >= self.quotas.transaction_nodes);
        // Any request in a transaction may grow what it tracks.
        let room = match &tx {
            Some(t) => self.room(domid, Some(t), SEEN_COST + payload.len()),
            None => Ok(()),
        };
        let r = if full && !Self::privileged(domid) {
            Err(Error::Enospc)
        } else if let Err(e) = room {
            Err(e)
        } else {
            self.dispatch(domid, r#type, tx.as_mut(), tx_id, payload)
        };
        if let (Some(t), Some(conn)) = (tx, self.conns.get_mut(&domid)) {
            conn.transactions.push(t);
        }
        r
    }

    fn dispatch(&mut self, domid: u16, r#type: u32, mut tx: Tx, tx_id: u32, payload: &[u8]) -> Result<Vec<u8>, Error> {
        let privileged = Self::privileged(domid);
        let need_priv = || if privileged { Ok(()) } else { Err(Error::Eacces) };
        match r#type {
            XS_READ => {
                let path = self.canon(domid, onearg(payload)?, false)?;
                Ok(self.checked(tx, domid, &path, false)?.value.clone())
            }
            XS_WRITE => {
                let at = payload.iter().position(|&b| b == 0).ok_or(Error::Einval)?;
                let path = self.canon(domid, &payload[..at], false)?;
                let value = payload[at + 1..].to_vec();
                self.write(tx, domid, &path, value)?;
                Ok(ok())
            }
            XS_MKDIR => {
                let path = self.canon(domid, onearg(payload)?, false)?;
                match self.checked(tx.as_deref_mut(), domid, &path, true) {
                    Ok(_) => Ok(ok()),
                    Err(Error::Enoent) => {
                        self.create(tx.as_deref_mut(), domid, &path, Vec::new())?;
                        let perms = self.node(tx.as_deref_mut(), &path).map(|n| n.perms.clone()).ok_or(Error::Enoent)?;
                        self.changed(tx, &path, alloc::vec![perms], Mode::Subtree);
                        Ok(ok())
                    }
                    Err(e) => Err(e),
                }
            }
            XS_RM => {
                let path = self.canon(domid, onearg(payload)?, false)?;
                self.remove_node(tx, domid, &path)?;
                Ok(ok())
            }
            XS_DIRECTORY => {
                let path = self.canon(domid, onearg(payload)?, false)?;
                let n = self.checked(tx, domid, &path, false)?;
                Ok(n.children.iter().flat_map(|c| c.bytes().chain(core::iter::once(0))).collect())
            }
            XS_DIRECTORY_PART => {
                let args = wire::strings(payload).ok_or(Error::Einval)?;
                let [name, offset] = args[..] else { return Err(Error::Einval) };
                let path = self.canon(domid, name, false)?;
                let offset: usize = number(offset)?;
                let n = self.checked(tx, domid, &path, false)?;
                let all: Vec<u8> = n.children.iter().flat_map(|c| c.bytes().chain(core::iter::once(0))).collect();
                if offset > all.len() {
                    return Err(Error::Einval);
                }
                let mut out = text(&format!("{}", n.generation));
                let room = XENSTORE_PAYLOAD_MAX as usize - out.len() - 1;
                let rest = &all[offset..];
                if rest.len() <= room {
                    out.extend_from_slice(rest);
                    out.push(0);
                } else {
                    // Whole names only: up to the last nul that fits.
                    let end = rest[..room].iter().rposition(|&b| b == 0).map_or(0, |i| i + 1);
                    out.extend_from_slice(&rest[..end]);
                }
                Ok(out)
            }
            XS_GET_PERMS => {
                let path = self.canon(domid, onearg(payload)?, true)?;
                if let Some(p) = self.special.get(path.as_str()) {
                    return Ok(p.to_wire());
                }
                Ok(self.checked(tx, domid, &path, false)?.perms.to_wire())
            }
            XS_SET_PERMS => {
                let at = payload.iter().position(|&b| b == 0).ok_or(Error::Einval)?;
                let path = self.canon(domid, &payload[..at], true)?;
                let perms = Perms::parse(&payload[at + 1..])?;
                self.set_perms(tx, domid, &path, perms)?;
                Ok(ok())
            }
            XS_WATCH => {
                let args = wire::strings(payload).ok_or(Error::Einval)?;
                let [name, token] = args[..] else { return Err(Error::Einval) };
                let path = self.canon(domid, name, true)?;
                let relative = !name.starts_with(b"/") && !name.starts_with(b"@");
                let max = self.quotas.watches_per_domain;
                let first = event(utf8(name)?, token);
                let watch = Watch { path, token: token.to_vec(), relative };
                let conn = self.conns.get(&domid).ok_or(Error::Eio)?;
                if conn.watches.iter().any(|w| w.path == watch.path && w.token == watch.token) {
                    return Err(Error::Eexist);
                }
                if !privileged && conn.watches.len() >= max {
                    return Err(Error::E2big);
                }
                self.room(domid, None, watch.cost() + MESSAGE_COST + first.len())?;
                let conn = self.conns.get_mut(&domid).ok_or(Error::Eio)?;
                conn.watch_bytes += watch.cost();
                conn.watches.push(watch);
                // Fires once at once, with the name as given.
                self.after_reply.push((domid, first));
                Ok(ok())
            }
            XS_UNWATCH => {
                let args = wire::strings(payload).ok_or(Error::Einval)?;
                let [name, token] = args[..] else { return Err(Error::Einval) };
                let path = self.canon(domid, name, true)?;
                let conn = self.conns.get_mut(&domid).ok_or(Error::Eio)?;
                let at = conn.watches.iter().position(|w| w.path == path && w.token == token).ok_or(Error::Enoent)?;
                let w = conn.watches.remove(at);
                conn.watch_bytes = conn.watch_bytes.saturating_sub(w.cost());
                Ok(ok())
            }
            XS_TRANSACTION_START => {
                if tx_id != 0 {
                    return Err(Error::Ebusy);
                }
                onearg(payload)?;
                let max = self.quotas.transactions_per_domain;
                let conn = self.conns.get(&domid).ok_or(Error::Eio)?;
                if !privileged && conn.transactions.len() >= max {
                    return Err(Error::Enospc);
                }
                self.room(domid, None, TRANSACTION_COST)?;
                let id = self.fresh_tx_id();
                let t = Transaction {
                    id,
                    overlay: BTreeMap::new(),
                    seen: BTreeMap::new(),
                    owned_delta: BTreeMap::new(),
                    changes: Vec::new(),
                    bytes: 0,
                };
                self.conns.get_mut(&domid).ok_or(Error::Eio)?.transactions.push(t);
                Ok(text(&format!("{id}")))
            }
            XS_INTRODUCE => {
                need_priv()?;
                let args = wire::strings(payload).ok_or(Error::Einval)?;
                if args.len() < 3 {
                    return Err(Error::Einval);
                }
                let (id, mfn, port) = (number::<u16>(args[0])?, number::<u64>(args[1])?, number::<u32>(args[2])?);
                self.introduce(id, mfn, port)?;
                Ok(ok())
            }
            XS_RELEASE => {
                need_priv()?;
                self.release(number(onearg(payload)?)?)?;
                Ok(ok())
            }
            XS_RESUME => {
                need_priv()?;
                let id: u16 = number(onearg(payload)?)?;
                if self.is_introduced(id) { Ok(ok()) } else { Err(Error::Enoent) }
            }
            XS_GET_DOMAIN_PATH => {
                let id: u16 = number(onearg(payload)?)?;
                Ok(text(&path::domain_path(id)))
            }
            XS_IS_DOMAIN_INTRODUCED => {
                need_priv()?;
                let id: u16 = number(onearg(payload)?)?;
                let yes = id == 0 || id == DOMID_SELF || self.is_introduced(id);
                Ok(text(if yes { "T" } else { "F" }))
            }
            XS_RESET_WATCHES => {
                let conn = self.conns.get_mut(&domid).ok_or(Error::Eio)?;
                conn.watches.clear();
                conn.watch_bytes = 0;
                conn.transactions.clear();
                Ok(ok())
            }
            XS_CONTROL => {
                need_priv()?;
                self.control(payload)
            }
            XS_SET_TARGET => {
                // `domid` `target`: the first may then do with the second's
                // nodes what their owner may, and use the permissions given
                // to it (a device-model stub domain and its guest).
                need_priv()?;
                let args = wire::strings(payload).ok_or(Error::Einval)?;
                if args.len() < 2 {
                    return Err(Error::Einval);
                }
                let (id, target) = (number::<u16>(args[0])?, number::<u16>(args[1])?);
                for d in [id, target] {
                    if !self.is_introduced(d) {
                        return Err(Error::Enoent);
                    }
                    if !self.conns.contains_key(&d) {
                        return Err(Error::Einval);
                    }
                }
                self.conns.get_mut(&id).ok_or(Error::Einval)?.target = Some(target);
                Ok(ok())
            }
            _ => Err(Error::Einval),
        }
    }

    fn fresh_tx_id(&mut self) -> u32 {
        loop {
            let id = self.next_tx;
            self.next_tx = self.next_tx.wrapping_add(1).max(1);
            if !self.conns.values().any(|c| c.transactions.iter().any(|t| t.id == id)) {
                return id;
            }
        }
    }

    fn write(&mut self, mut tx: Tx, domid: u16, path: &str, value: Vec<u8>) -> Result<(), Error> {
        match self.checked(tx.as_deref_mut(), domid, path, true) {
            Ok(n) => {
                let mut n = n.clone();
                if !Self::privileged(domid) {
                    if n.size() - n.value.len() + value.len() >= self.quotas.node_size {
                        return Err(Error::Enospc);
                    }
                    // The node's owner pays for it; in a transaction the
                    // caller pays for its copy until the commit.
                    let growth = value.len().saturating_sub(n.value.len());
                    match tx.as_deref() {
                        Some(t) => self.room(domid, Some(t), SEEN_COST + n.cost(path) + growth)?,
                        None => self.room(n.perms.owner(), None, growth)?,
                    }
                }
                n.value = value;
                let perms = n.perms.clone();
                self.put(tx.as_deref_mut(), path, n);
                self.changed(tx, path, alloc::vec![perms], Mode::Subtree);
                Ok(())
            }
            Err(Error::Enoent) => {
                self.create(tx.as_deref_mut(), domid, path, value)?;
                let perms = self.node(tx.as_deref_mut(), path).map(|n| n.perms.clone()).ok_or(Error::Enoent)?;
                self.changed(tx, path, alloc::vec![perms], Mode::Subtree);
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    fn remove_node(&mut self, mut tx: Tx, domid: u16, path: &str) -> Result<(), Error> {
        match self.checked(tx.as_deref_mut(), domid, path, true) {
            Ok(_) => {}
            Err(Error::Enoent) => {
                // Already gone is fine if the parent is there.
                return if self.node(tx, path::parent(path)).is_some() { Ok(()) } else { Err(Error::Enoent) };
            }
            Err(e) => return Err(e),
        }
        if path == "/" {
            return Err(Error::Einval);
        }
        // Depth first: every node of the subtree with its permissions.
        let mut doomed: Vec<(String, Perms)> = Vec::new();
        let mut stack = alloc::vec![String::from(path)];
        while let Some(p) = stack.pop() {
            let Some(n) = self.node(tx.as_deref_mut(), &p) else { continue };
            let perms = n.perms.clone();
            let kids: Vec<String> = n.children.iter().map(|c| path::join(&p, c)).collect();
            stack.extend(kids);
            doomed.push((p, perms));
        }
        let parent_path = path::parent(path);
        if let Some(t) = tx.as_deref()
            && !Self::privileged(domid)
        {
            // The overlay's removals and the watch changes it keeps.
            let parent = self.tree.get(parent_path).map_or(0, |n| n.cost(parent_path));
            let extra: usize = doomed.iter().map(|(p, perms)| 2 * (SEEN_COST + p.len()) + perms.stored_size() + 32).sum();
            self.room(domid, Some(t), extra + SEEN_COST + parent)?;
        }
        for (p, _) in &doomed {
            self.set(tx.as_deref_mut(), p, None);
        }
        if let Some(parent) = self.node(tx.as_deref_mut(), parent_path) {
            let mut parent = parent.clone();
            let name = path::basename(path);
            parent.children.retain(|c| c != name);
            self.put(tx.as_deref_mut(), parent_path, parent);
        }
        for (p, perms) in doomed {
            let mode = if p == path { Mode::Subtree } else { Mode::Exact };
            self.changed(tx.as_deref_mut(), &p, alloc::vec![perms], mode);
        }
        Ok(())
    }

    fn set_perms(&mut self, mut tx: Tx, domid: u16, path: &str, perms: Perms) -> Result<(), Error> {
        let privileged = Self::privileged(domid);
        if !privileged && perms.entries().len() > self.quotas.perms_per_node {
            return Err(Error::Enospc);
        }
        if let Some(old) = self.special.get(path) {
            let r = rights_of(old, domid, &self.conns);
            if !r.write || !r.owner {
                return Err(Error::Eacces);
            }
            if !privileged && perms.owner() != old.owner() {
                return Err(Error::Eperm);
            }
            let key = if path == INTRODUCE_DOMAIN { INTRODUCE_DOMAIN } else { RELEASE_DOMAIN };
            self.special.insert(key, perms);
            return Ok(());
        }
        let mut n = self.checked(tx.as_deref_mut(), domid, path, true)?.clone();
        if !rights_of(&n.perms, domid, &self.conns).owner {
            return Err(Error::Eacces);
        }
        if !privileged && perms.owner() != n.perms.owner() {
            return Err(Error::Eperm);
        }
        if !privileged {
            let growth = perms.stored_size().saturating_sub(n.perms.stored_size());
            match tx.as_deref() {
                Some(t) => self.room(domid, Some(t), SEEN_COST + n.cost(path) + growth + 2 * perms.stored_size() + 96)?,
                None => self.room(n.perms.owner(), None, growth)?,
            }
        }
        let old = core::mem::replace(&mut n.perms, perms.clone());
        self.put(tx.as_deref_mut(), path, n);
        self.changed(tx, path, alloc::vec![old, perms], Mode::Subtree);
        Ok(())
    }

    fn transaction_end(&mut self, domid: u16, t: Transaction, payload: &[u8]) -> Result<Vec<u8>, Error> {
        let commit = match onearg(payload) {
            Ok(b"T") => true,
            Ok(b"F") => false,
            _ => {
                if let Some(c) = self.conns.get_mut(&domid) {
                    c.transactions.push(t);
                }
                return Err(Error::Einval);
            }
        };
        if !commit {
            return Ok(ok());
        }
        let conflict = t.seen.iter().any(|(p, g)| self.tree.get(p.as_str()).map(|n| n.generation) != *g);
        if conflict {
            return Err(Error::Eagain);
        }
        // The node quota over the merged result, for the domain's own
        // nodes (others' counts only fall or were checked by Dom0).
        if !Self::privileged(domid) {
            let delta = t.owned_delta.get(&domid).copied().unwrap_or(0);
            if delta > 0 && self.owned_by(None, domid).saturating_add_signed(delta) > self.quotas.nodes_per_domain {
                return Err(Error::Enospc);
            }
        }
        for (p, n) in t.overlay {
            self.set(None, &p, n);
        }
        for c in t.changes {
            self.fire(&c.path, &c.perms, c.mode);
        }
        Ok(ok())
    }

    fn control(&mut self, payload: &[u8]) -> Result<Vec<u8>, Error> {
        let args = wire::strings(payload).ok_or(Error::Einval)?;
        let args: Vec<&str> = args.iter().map(|a| utf8(a)).collect::<Result<_, _>>()?;
        match args[..] {
            ["help"] => Ok(text("help\nprint <text>\nquota [<domid>|<name> <value>]\n")),
            ["print", line] => {
                self.effects.push(Effect::Log(String::from(line)));
                Ok(ok())
            }
            ["quota"] => {
                let q = self.quotas;
                let mut s = String::new();
                for (name, v) in quota_table(&q) {
                    s.push_str(&format!("{name}: {v}\n"));
                }
                Ok(text(&s))
            }
            ["quota", id] => {
                // What a domain holds, as Xen's `quota <domid>`.
                let d: u16 = number(id.as_bytes())?;
                let c = self.conns.get(&d).ok_or(Error::Enoent)?;
                let outstanding = c.out.iter().filter(|(reply, _)| *reply).count();
                let (w, t) = (c.watches.len(), c.transactions.len());
                let (n, m) = (self.owned.get(&d).copied().unwrap_or(0), self.usage(d, None));
                Ok(text(&format!("Domain {d}:\nnodes: {n}\nwatches: {w}\ntransactions: {t}\noutstanding: {outstanding}\nmemory: {m}\n")))
            }
            ["quota", name, value] => {
                let v: usize = number(value.as_bytes())?;
                let q = &mut self.quotas;
                let slot = match name {
                    "nodes" => &mut q.nodes_per_domain,
                    "node-size" => &mut q.node_size,
                    "watches" => &mut q.watches_per_domain,
                    "transactions" => &mut q.transactions_per_domain,
                    "outstanding" => &mut q.outstanding_requests,
                    "path-max" => &mut q.path_length,
                    "permissions" => &mut q.perms_per_node,
                    "events" => &mut q.queued_events,
                    "transaction-nodes" => &mut q.transaction_nodes,
                    "memory" => &mut q.memory,
                    "memory-soft" => &mut q.memory_soft,
                    "memory-total" => &mut q.memory_total,
                    _ => return Err(Error::Einval),
                };
                *slot = v;
                Ok(ok())
            }
            _ => Err(Error::Einval),
        }
    }

    // --- conveniences for Dom0's toolstack and shell --------------------

    /// WRITE as Dom0.
    pub fn write_str(&mut self, path: &str, value: &str) -> Result<(), Error> {
        let mut p = text(path);
        p.extend_from_slice(value.as_bytes());
        self.request(0, XS_WRITE, 0, &p).map(drop)
    }

    /// READ as Dom0.
    pub fn read(&mut self, path: &str) -> Result<Vec<u8>, Error> {
        self.request(0, XS_READ, 0, &text(path))
    }

    /// RM as Dom0.
    pub fn rm(&mut self, path: &str) -> Result<(), Error> {
        self.request(0, XS_RM, 0, &text(path)).map(drop)
    }

    /// DIRECTORY as Dom0: the children's names.
    pub fn children(&mut self, path: &str) -> Result<Vec<String>, Error> {
        let r = self.request(0, XS_DIRECTORY, 0, &text(path))?;
        Ok(wire::strings(&r).unwrap_or_default().iter().map(|c| String::from_utf8_lossy(c).into_owned()).collect())
    }

    /// SET_PERMS as Dom0 (`perms` like "n3", "r0").
    pub fn set_perms_str(&mut self, path: &str, perms: &[&str]) -> Result<(), Error> {
        let mut p = text(path);
        for e in perms {
            p.extend_from_slice(&text(e));
        }
        self.request(0, XS_SET_PERMS, 0, &p).map(drop)
    }

    /// The permissions of a node as text ("n0 r3"), Dom0's view.
    pub fn perms_text(&mut self, path: &str) -> Result<String, Error> {
        let r = self.request(0, XS_GET_PERMS, 0, &text(path))?;
        let parts: Vec<String> = wire::strings(&r).unwrap_or_default().iter().map(|c| String::from_utf8_lossy(c).into_owned()).collect();
        Ok(parts.join(" "))
    }
}

fn quota_table(q: &Quotas) -> [(&'static str, usize); 12] {
    [
        ("nodes", q.nodes_per_domain),
        ("node-size", q.node_size),
        ("watches", q.watches_per_domain),
        ("transactions", q.transactions_per_domain),
        ("outstanding", q.outstanding_requests),
        ("path-max", q.path_length),
        ("permissions", q.perms_per_node),
        ("events", q.queued_events),
        ("transaction-nodes", q.transaction_nodes),
        ("memory", q.memory),
        ("memory-soft", q.memory_soft),
        ("memory-total", q.memory_total),
    ]
}

/// A WATCH_EVENT message: path and token, each nul-terminated.
fn event(path: &str, token: &[u8]) -> Vec<u8> {
    let mut p = text(path);
    p.extend_from_slice(token);
    p.push(0);
    Message::new(XS_WATCH_EVENT, 0, 0, p).to_bytes()
}

#[cfg(test)]
mod heap_probe;
#[cfg(test)]
mod tests;
