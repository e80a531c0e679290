//! vCPUs that may run and have no CPU yet, first come first served.

use alloc::collections::VecDeque;

use spin::Mutex;

/// A vCPU by domain id and index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VcpuRef {
    pub domid: u16,
    pub vcpu: u32,
}

pub struct RunQueue {
    queue: VecDeque<VcpuRef>,
}

impl RunQueue {
    pub const fn new() -> Self {
        RunQueue { queue: VecDeque::new() }
    }

    /// Queues `v` once (a second request while it waits changes nothing).
    pub fn push(&mut self, v: VcpuRef) {
        if !self.queue.contains(&v) {
            self.queue.push_back(v);
        }
    }

    pub fn pop(&mut self) -> Option<VcpuRef> {
        self.queue.pop_front()
    }

    /// Drops the entries `keep` refuses, then takes the first that `fits`.
    pub fn take(&mut self, mut keep: impl FnMut(VcpuRef) -> bool, mut fits: impl FnMut(VcpuRef) -> bool) -> Option<VcpuRef> {
        self.queue.retain(|&v| keep(v));
        let at = self.queue.iter().position(|&v| fits(v))?;
        self.queue.remove(at)
    }

    /// Drops every entry of domain `domid` (it is being destroyed).
    pub fn forget_domain(&mut self, domid: u16) {
        self.queue.retain(|v| v.domid != domid);
    }

    pub fn len(&self) -> usize {
        self.queue.len()
    }

    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }
}

impl Default for RunQueue {
    fn default() -> Self {
        Self::new()
    }
}

pub static RUNQUEUE: Mutex<RunQueue> = Mutex::new(RunQueue::new());

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fifo_without_duplicates() {
        let mut q = RunQueue::new();
        let a = VcpuRef { domid: 1, vcpu: 0 };
        let b = VcpuRef { domid: 2, vcpu: 0 };
        q.push(a);
        q.push(b);
        q.push(a);
        assert_eq!(q.len(), 2);
        assert_eq!(q.pop(), Some(a));
        q.push(a);
        q.forget_domain(2);
        assert_eq!(q.pop(), Some(a));
        assert!(q.is_empty());
    }

    #[test]
    fn take_skips_what_does_not_fit_and_drops_what_cannot_run() {
        let mut q = RunQueue::new();
        let v = |domid| VcpuRef { domid, vcpu: 0 };
        for d in 1..=3 {
            q.push(v(d));
        }
        assert_eq!(q.take(|x| x.domid != 1, |x| x.domid == 3), Some(v(3)), "d1 dropped, d2 skipped");
        assert_eq!(q.len(), 1);
        assert_eq!(q.take(|_| true, |_| false), None);
        assert_eq!(q.pop(), Some(v(2)));
    }
}
