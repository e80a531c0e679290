//! Each domain's credit2 parameters (weight, cap) as XEN_DOMCTL_scheduler_op
//! set them, kept apart from the scheduler: the scheduler only knows a
//! domain once one of its vCPUs is inserted (when an AP first admits it),
//! but the toolstack sets weight and cap right after createdomain, before
//! the domain ever runs. Whoever inserts a vCPU reads [`get`] and hands it
//! to `Credit2::put_info`; the domctl ([`put`]) also updates the scheduler
//! at once when it knows the domain.
//!
//! Lock order: the domain table, then the scheduler's lock, then this
//! table's (a leaf). [`put`] writes the table while it holds the
//! scheduler's lock, so a vCPU insert that reads [`get`] under that lock
//! sees either the old value before the domctl's own `put_info` or the
//! new one: no update is lost between the two.

#![forbid(unsafe_code)]

use alloc::collections::BTreeMap;

use abi::errno::Errno;
use spin::Mutex;

use super::credit::{Credit2Info, DEFAULT_WEIGHT};

/// The parameters of every domain that set any (others have the defaults).
static PARAMS: Mutex<BTreeMap<u16, Credit2Info>> = Mutex::new(BTreeMap::new());

/// What a domain has until XEN_DOMCTL_scheduler_op says otherwise:
/// credit2's default weight, no cap.
pub const DEFAULT: Credit2Info = Credit2Info { weight: DEFAULT_WEIGHT, cap: 0 };

/// Records `info` for `domid` as it is (no checks; [`put`] checks).
pub fn set(domid: u16, info: Credit2Info) {
    PARAMS.lock().insert(domid, info);
}

/// `domid`'s parameters: those last set, else [`DEFAULT`].
pub fn get(domid: u16) -> Credit2Info {
    PARAMS.lock().get(&domid).copied().unwrap_or(DEFAULT)
}

/// Drops `domid`'s entry (the domain was destroyed; an id used again starts
/// from the defaults).
pub fn forget(domid: u16) {
    PARAMS.lock().remove(&domid);
}

/// XEN_DOMCTL_SCHEDOP_putinfo for credit2, as Xen's `csched2_dom_cntl`: a
/// weight of 0 leaves the weight alone; a cap of 0 lifts the cap; a cap
/// above 100 × `max_vcpus` is -EINVAL, after the new weight has been taken
/// (Xen applies the weight first). The result goes into the table and, if
/// the global scheduler already has a vCPU of the domain, into it (`now`:
/// system time, ns, for the cap's refill period). Returns what the domain
/// has now.
pub fn put(domid: u16, info: Credit2Info, max_vcpus: u32, now: u64) -> Result<Credit2Info, Errno> {
    let mut sched = super::get().map(|s| s.lock());
    let old = get(domid);
    let weight = if info.weight == 0 { old.weight } else { info.weight };
    let (new, result) = if u32::from(info.cap) > 100 * max_vcpus {
        (Credit2Info { weight, cap: old.cap }, Err(Errno::EINVAL))
    } else {
        (Credit2Info { weight, cap: info.cap }, Ok(()))
    };
    set(domid, new);
    if let Some(s) = sched.as_mut() {
        // ESRCH: no vCPU inserted yet; the insert applies the table's value.
        // EINVAL: fewer vCPUs inserted than the domain has, so the cap is
        // over 100 × those; the insert of the last one applies it.
        match s.put_info(domid, new, now) {
            Ok(()) | Err(Errno::ESRCH | Errno::EINVAL) => {}
            Err(e) => return Err(e),
        }
    }
    result.map(|()| new)
}

#[cfg(test)]
mod tests {
    use super::*;

    // The table is global and the tests run in parallel: each uses domain
    // ids of its own.

    #[test]
    fn defaults_until_set_and_after_forget() {
        assert_eq!(get(40_001), Credit2Info { weight: 256, cap: 0 });
        set(40_001, Credit2Info { weight: 512, cap: 50 });
        assert_eq!(get(40_001), Credit2Info { weight: 512, cap: 50 });
        forget(40_001);
        assert_eq!(get(40_001), DEFAULT);
    }

    #[test]
    fn put_keeps_xens_rules() {
        let d = 40_002;
        assert_eq!(put(d, Credit2Info { weight: 1000, cap: 0 }, 2, 0), Ok(Credit2Info { weight: 1000, cap: 0 }));
        assert_eq!(put(d, Credit2Info { weight: 0, cap: 150 }, 2, 0), Ok(Credit2Info { weight: 1000, cap: 150 }), "weight 0: unchanged");
        assert_eq!(put(d, Credit2Info { weight: 7, cap: 201 }, 2, 0), Err(Errno::EINVAL));
        assert_eq!(get(d), Credit2Info { weight: 7, cap: 150 }, "the weight is taken before the cap is refused");
        assert_eq!(put(d, Credit2Info { weight: 0, cap: 0 }, 2, 0), Ok(Credit2Info { weight: 7, cap: 0 }), "cap 0 lifts the cap");
        forget(d);
    }

    #[test]
    fn put_reaches_the_scheduler_once_it_knows_the_domain() {
        use crate::sched::runqueue::VcpuRef;
        let d = 40_003;
        let sched = crate::sched::scheduler(4);
        assert_eq!(put(d, Credit2Info { weight: 300, cap: 0 }, 1, 0), Ok(Credit2Info { weight: 300, cap: 0 }), "unknown to the scheduler: kept here");
        assert_eq!(sched.lock().get_info(d), None);
        sched.lock().insert(VcpuRef { domid: d, vcpu: 0 }).unwrap();
        assert_eq!(put(d, Credit2Info { weight: 0, cap: 60 }, 1, 0), Ok(Credit2Info { weight: 300, cap: 60 }));
        assert_eq!(sched.lock().get_info(d), Some(Credit2Info { weight: 300, cap: 60 }));
        sched.lock().remove(VcpuRef { domid: d, vcpu: 0 });
        forget(d);
    }
}
