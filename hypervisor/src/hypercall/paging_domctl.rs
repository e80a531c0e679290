//! `HYPERVISOR_paging_domctl_cont(xen_domctl_t *)` (hypercall arch_1;
//! xen/arch/x86/mm/paging.c): resumes a preempted `XEN_DOMCTL_shadow_op`.
//!
//! The domctl is read (-EFAULT); anything but a shadow_op of interface
//! 0x15 is -EOPNOTSUPP; the domain is an existing id (-ESRCH), Dom0 only
//! (-EPERM), not the caller (-EINVAL); then -EBUSY: no paging op was ever
//! preempted here, so there is nothing of the caller's to resume. After the
//! lookup the shadow_op payload is written back (-EFAULT), as Xen does.

#![forbid(unsafe_code)]

use abi::domctl::{XEN_DOMCTL_INTERFACE_VERSION, XEN_DOMCTL_SHADOW_OP, XenDomctl};
use abi::errno::Errno;

use super::{Caller, Outcome, read_arg};

/// Bytes of `struct xen_domctl_shadow_op` (written back after the op).
const SHADOW_OP_SIZE: usize = 40;

pub fn paging_domctl_cont(caller: &mut impl Caller, arg: u64) -> Outcome {
    let op: XenDomctl = match read_arg(caller, arg) {
        Ok(op) => op,
        Err(e) => return Outcome::err(e),
    };
    if op.interface_version != XEN_DOMCTL_INTERFACE_VERSION || op.cmd != XEN_DOMCTL_SHADOW_OP {
        return Outcome::err(Errno::EOPNOTSUPP);
    }
    let (me, privileged) = (caller.domid(), caller.privileged());
    if caller.domain_exact(op.domain.0).is_none() {
        return Outcome::err(Errno::ESRCH);
    }
    let rc = if !privileged {
        Errno::EPERM
    } else if op.domain.0 == me {
        Errno::EINVAL
    } else {
        Errno::EBUSY
    };
    let at = arg + core::mem::offset_of!(XenDomctl, u) as u64;
    match caller.copy_to_guest(at, &op.u[..SHADOW_OP_SIZE]) {
        Ok(()) => Outcome::err(rc),
        Err(e) => Outcome::err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::super::fake::FakeCaller;
    use super::*;
    use abi::xen::DomId;

    #[test]
    fn only_a_shadow_op_continues_and_none_is_pending() {
        let mut c = FakeCaller::new(256);
        assert_eq!(paging_domctl_cont(&mut c, 200), Outcome::err(Errno::EFAULT));
        c.put(0, &XenDomctl::new(5, DomId(1), &[0u8; 0]));
        assert_eq!(paging_domctl_cont(&mut c, 0), Outcome::err(Errno::EOPNOTSUPP));
        c.put(0, &XenDomctl { interface_version: 0x14, ..XenDomctl::new(XEN_DOMCTL_SHADOW_OP, DomId(1), &[0u8; 0]) });
        assert_eq!(paging_domctl_cont(&mut c, 0), Outcome::err(Errno::EOPNOTSUPP));
        c.put(0, &XenDomctl::new(XEN_DOMCTL_SHADOW_OP, DomId(9), &[0u8; 0]));
        assert_eq!(paging_domctl_cont(&mut c, 0), Outcome::err(Errno::ESRCH));
        c.put(0, &XenDomctl::new(XEN_DOMCTL_SHADOW_OP, DomId(0), &[0u8; 0]));
        assert_eq!(paging_domctl_cont(&mut c, 0), Outcome::err(Errno::EINVAL));
        c.put(0, &XenDomctl::new(XEN_DOMCTL_SHADOW_OP, DomId(1), &[0u8; 0]));
        assert_eq!(paging_domctl_cont(&mut c, 0), Outcome::err(Errno::EBUSY));
        let mut u = FakeCaller::unprivileged(256);
        u.put(0, &XenDomctl::new(XEN_DOMCTL_SHADOW_OP, DomId(0), &[0u8; 0]));
        assert_eq!(paging_domctl_cont(&mut u, 0), Outcome::err(Errno::EPERM));
    }
}
