//! `HYPERVISOR_mmuext_op(ops, count, pdone, foreigndom)` (xen.h;
//! xen/arch/x86/mm.c `do_mmuext_op`, x86_64/compat/mm.c): PV page-table
//! management, which an HVM caller reaches only to be refused, in Xen's
//! order:
//!
//! - `count == MMU_UPDATE_PREEMPTED` with no ops: the final result of a
//!   continuation, which is `foreigndom` itself;
//! - a 32-bit caller with no op (after the preempted bit): 0, nothing to
//!   translate;
//! - the page owner `foreigndom` (16 bits): the caller's own id -ESRCH,
//!   no such domain -ESRCH, `DOMID_SELF` or any domain here (all HVM)
//!   -EINVAL (not a PV domain);
//! - `DOMID_IO` / `DOMID_XEN` (PV-like owners): another domain's pages need
//!   privilege (-EPERM); then each op is read (-EFAULT): an HVM caller may
//!   only pin or unpin (-EOPNOTSUPP otherwise), and neither owner has a
//!   page table to pin here (-EINVAL). `pdone`, if given, gets the ops done.

#![forbid(unsafe_code)]

use abi::errno::Errno;
use abi::xen::{
    COMPAT_MMUEXT_OP_SIZE, DOMID_IO, DOMID_SELF, DOMID_XEN, MMU_UPDATE_PREEMPTED, MMUEXT_OP_SIZE, MMUEXT_PIN_L1_TABLE,
    MMUEXT_UNPIN_TABLE,
};

use super::{Caller, Outcome, read_arg, write_arg};

#[allow(clippy::cast_possible_truncation, clippy::cast_possible_wrap, clippy::cast_sign_loss, reason = "Xen's unsigned int count and foreigndom, its domid_t page owner, its int result")]
pub fn mmuext_op(caller: &mut impl Caller, ops: u64, count: u64, pdone: u64, foreigndom: u64) -> Outcome {
    let count = count as u32;
    if count == MMU_UPDATE_PREEMPTED && ops == 0 {
        // The continuation's result travels in foreigndom (an int).
        return Outcome::Return(i64::from(foreigndom as u32 as i32) as u64);
    }
    let count = count & !MMU_UPDATE_PREEMPTED;
    if caller.compat() && count == 0 {
        return Outcome::Return(0);
    }
    let owner = foreigndom as u16;
    if owner == caller.domid() {
        return Outcome::err(Errno::ESRCH);
    }
    if owner != DOMID_IO.0 && owner != DOMID_XEN.0 {
        if owner != DOMID_SELF.0 && caller.domain_exact(owner).is_none() {
            return Outcome::err(Errno::ESRCH);
        }
        return Outcome::err(Errno::EINVAL);
    }
    if !caller.privileged() {
        return Outcome::err(Errno::EPERM);
    }
    let size = if caller.compat() { COMPAT_MMUEXT_OP_SIZE } else { MMUEXT_OP_SIZE };
    let mut done = 0u32;
    let mut rc = Ok(());
    while done < count {
        rc = match read_arg::<u32>(caller, ops.wrapping_add(u64::from(done) * size)) {
            Err(e) => Err(e),
            Ok(cmd) if !(MMUEXT_PIN_L1_TABLE..=MMUEXT_UNPIN_TABLE).contains(&cmd) => Err(Errno::EOPNOTSUPP),
            Ok(_) => Err(Errno::EINVAL),
        };
        if rc.is_err() {
            break;
        }
        done += 1;
    }
    if pdone != 0 {
        let _ = write_arg(caller, pdone, &done);
    }
    match rc {
        Ok(()) => Outcome::Return(0),
        Err(e) => Outcome::err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::super::fake::FakeCaller;
    use super::*;

    #[test]
    fn hvm_callers_are_refused_in_xens_order() {
        let mut c = FakeCaller::new(64);
        assert_eq!(mmuext_op(&mut c, 0, 0, 0, 0), Outcome::err(Errno::ESRCH), "Dom0 names itself");
        assert_eq!(mmuext_op(&mut c, 0, 1, 0, u64::from(DOMID_SELF.0)), Outcome::err(Errno::EINVAL));
        assert_eq!(mmuext_op(&mut c, 0, 1, 0, 1), Outcome::err(Errno::EINVAL), "an HVM domain");
        assert_eq!(mmuext_op(&mut c, 0, 1, 0, 0x7777), Outcome::err(Errno::ESRCH));
        assert_eq!(mmuext_op(&mut c, 0, u64::from(MMU_UPDATE_PREEMPTED), 0, 0xffff_ffea), Outcome::err(Errno::EINVAL), "a continuation's result");
        c.compat = true;
        assert_eq!(mmuext_op(&mut c, 0, 0, 0, u64::from(DOMID_SELF.0)), Outcome::Return(0));
        assert_eq!(mmuext_op(&mut c, 0, 1, 0, u64::from(DOMID_SELF.0)), Outcome::err(Errno::EINVAL));
    }

    #[test]
    fn io_and_xen_owners_refuse_each_op() {
        let mut c = FakeCaller::new(64);
        c.put(0, &MMUEXT_PIN_L1_TABLE);
        c.put(24, &9u32);
        c.put(60, &77u32);
        assert_eq!(mmuext_op(&mut c, 0, 1, 60, u64::from(DOMID_IO.0)), Outcome::err(Errno::EINVAL));
        assert_eq!(c.get::<u32>(60), 0);
        assert_eq!(mmuext_op(&mut c, 24, 1, 0, u64::from(DOMID_XEN.0)), Outcome::err(Errno::EOPNOTSUPP));
        assert_eq!(mmuext_op(&mut c, 62, 1, 0, u64::from(DOMID_XEN.0)), Outcome::err(Errno::EFAULT));
        assert_eq!(mmuext_op(&mut c, 0, 0, 60, u64::from(DOMID_XEN.0)), Outcome::Return(0));
        let mut u = FakeCaller::unprivileged(64);
        assert_eq!(mmuext_op(&mut u, 0, 1, 0, u64::from(DOMID_IO.0)), Outcome::err(Errno::EPERM));
    }
}
