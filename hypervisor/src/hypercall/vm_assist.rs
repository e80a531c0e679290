//! `HYPERVISOR_vm_assist(cmd, type)` (xen.h): an HVM/PVH guest may only
//! toggle `VMASST_TYPE_runstate_update_flag` (-EINVAL for any other type);
//! commands other than enable/disable are -ENOSYS, as Xen.

use abi::errno::Errno;
use abi::xen::{VMASST_CMD_DISABLE, VMASST_CMD_ENABLE, VMASST_TYPE_RUNSTATE_UPDATE_FLAG};

use super::{Caller, Outcome};

pub fn vm_assist(caller: &mut impl Caller, cmd: u64, kind: u64) -> Outcome {
    if kind != u64::from(VMASST_TYPE_RUNSTATE_UPDATE_FLAG) {
        return Outcome::err(Errno::EINVAL);
    }
    let flags = caller.this().vm_assist();
    let bit = 1u64 << kind;
    match cmd {
        c if c == u64::from(VMASST_CMD_ENABLE) => *flags |= bit,
        c if c == u64::from(VMASST_CMD_DISABLE) => *flags &= !bit,
        _ => return Outcome::err(Errno::ENOSYS),
    }
    Outcome::Return(0)
}

#[cfg(test)]
mod tests {
    use super::super::fake::FakeCaller;
    use super::*;

    #[test]
    fn only_the_runstate_update_flag_is_offered() {
        let mut c = FakeCaller::new(8);
        assert_eq!(vm_assist(&mut c, 0, 5), Outcome::Return(0));
        assert_eq!(c.dom(0).vm_assist, 1 << 5);
        assert_eq!(vm_assist(&mut c, 1, 5), Outcome::Return(0));
        assert_eq!(c.dom(0).vm_assist, 0);
        assert_eq!(vm_assist(&mut c, 0, 2), Outcome::err(Errno::EINVAL));
        assert_eq!(vm_assist(&mut c, 0, 64), Outcome::err(Errno::EINVAL));
        assert_eq!(vm_assist(&mut c, 7, 5), Outcome::err(Errno::ENOSYS));
    }
}
