//! `HYPERVISOR_dm_op(domid, nr_bufs, bufs)` (hvm/dm_op.h; xen/common/dm.c,
//! xen/arch/x86/hvm/dm.c): a device model acting on the domain it serves.
//!
//! In Xen's order: more than 2 buffers -E2BIG; the buffer array (16 bytes
//! each, 8 for a 32-bit caller) -EFAULT; the domain must be another
//! existing one (DOMID_SELF, none: -ESRCH; itself: -EPERM); only Dom0 may
//! act on it (-EPERM, XSM_DM_PRIV); buffer 0 must hold the op head
//! (-EFAULT); an op past the table -EOPNOTSUPP; buffer 0 must hold the
//! op's struct (-EFAULT); `pad` must be 0 (-EINVAL). Then:
//!
//! | op | here |
//! |---|---|
//! | `XEN_DMOP_remote_shutdown` (16) | shuts the domain down with the reason |
//! | `XEN_DMOP_nr_vcpus` (20) | its vCPU count, written back |
//! | `set_irq_level` (19, not built on x86) | -EOPNOTSUPP |
//! | the ioreq-server, interrupt, dirty-VRAM and memory ops | -ENOSYS (no device model support yet) |

#![forbid(unsafe_code)]

use abi::errno::Errno;
use abi::hvm::dm_op::*;

use super::{Caller, Outcome, read_arg, write_arg};

#[allow(clippy::cast_possible_truncation, reason = "domid is a domid_t (dispatch masks it to 16 bits)")]
pub fn dm_op(caller: &mut impl Caller, domid: u64, nr_bufs: u64, bufs: u64) -> Outcome {
    match run(caller, domid as u16, nr_bufs, bufs) {
        Ok(()) => Outcome::Return(0),
        Err(e) => Outcome::err(e),
    }
}

fn run(caller: &mut impl Caller, domid: u16, nr_bufs: u64, bufs: u64) -> Result<(), Errno> {
    if nr_bufs > DMOP_MAX_BUFS {
        return Err(Errno::E2BIG);
    }
    let mut first = None;
    for i in 0..nr_bufs {
        let b = if caller.compat() {
            read_arg::<CompatDmOpBuf>(caller, bufs.wrapping_add(i * 8)).map(|c| XenDmOpBuf { h: c.h.into(), size: c.size.into() })?
        } else {
            read_arg::<XenDmOpBuf>(caller, bufs.wrapping_add(i * 16))?
        };
        first.get_or_insert(b);
    }
    // rcu_lock_remote_domain_by_id.
    let me = caller.domid();
    let privileged = caller.privileged();
    let d = caller.domain_exact(domid).ok_or(Errno::ESRCH)?;
    if d.id() == me || !privileged {
        return Err(Errno::EPERM);
    }
    // With no buffer, buffer 0 is all zeroes: too small for the head.
    let buf = first.unwrap_or_default();
    if buf.size < XEN_DM_OP_U_OFFSET {
        return Err(Errno::EFAULT);
    }
    let head: XenDmOpHead = read_arg(caller, buf.h)?;
    let size = *XEN_DMOP_SIZES.get(head.op as usize).ok_or(Errno::EOPNOTSUPP)?;
    if buf.size < XEN_DM_OP_U_OFFSET + size {
        return Err(Errno::EFAULT);
    }
    let mut u = alloc::vec![0u8; usize::try_from(size).map_err(|_| Errno::EFAULT)?];
    caller.copy_from_guest(buf.h + XEN_DM_OP_U_OFFSET, &mut u)?;
    if head.pad != 0 {
        return Err(Errno::EINVAL);
    }
    let at = buf.h + XEN_DM_OP_U_OFFSET;
    match head.op {
        XEN_DMOP_REMOTE_SHUTDOWN => {
            let reason = u32::from_le_bytes([u[0], u[1], u[2], u[3]]);
            caller.domain_exact(domid).ok_or(Errno::ESRCH)?.shut_down(reason);
            Ok(())
        }
        XEN_DMOP_NR_VCPUS => {
            let vcpus = u32::try_from(caller.domain_exact(domid).ok_or(Errno::ESRCH)?.vcpus().len()).unwrap_or(u32::MAX);
            write_arg(caller, at, &vcpus)
        }
        XEN_DMOP_SET_IRQ_LEVEL => Err(Errno::EOPNOTSUPP),
        _ => Err(Errno::ENOSYS),
    }
}

#[cfg(test)]
mod tests {
    use super::super::fake::FakeCaller;
    use super::*;

    fn with_op(c: &mut FakeCaller, op: u32, pad: u32, size: u64) {
        c.put(0, &XenDmOpBuf { h: 0x100, size });
        c.put(0x100, &XenDmOpHead { op, pad });
    }

    #[test]
    fn checks_come_in_xens_order() {
        let mut c = FakeCaller::new(0x200);
        assert_eq!(dm_op(&mut c, 1, 3, 0), Outcome::err(Errno::E2BIG));
        assert_eq!(dm_op(&mut c, 1, 0xffff_ffff, 0), Outcome::err(Errno::E2BIG));
        assert_eq!(dm_op(&mut c, 1, 1, 0x1f8), Outcome::err(Errno::EFAULT));
        assert_eq!(dm_op(&mut c, 0x7ff0, 0, 0), Outcome::err(Errno::ESRCH), "DOMID_SELF is no remote id");
        assert_eq!(dm_op(&mut c, 9, 0, 0), Outcome::err(Errno::ESRCH));
        assert_eq!(dm_op(&mut c, 0, 0, 0), Outcome::err(Errno::EPERM), "itself");
        assert_eq!(dm_op(&mut c, 1, 0, 0), Outcome::err(Errno::EFAULT), "no buffer for the head");
        with_op(&mut c, 21, 0, 64);
        assert_eq!(dm_op(&mut c, 1, 1, 0), Outcome::err(Errno::EOPNOTSUPP));
        with_op(&mut c, XEN_DMOP_NR_VCPUS, 0, 11);
        assert_eq!(dm_op(&mut c, 1, 1, 0), Outcome::err(Errno::EFAULT), "too small for the op");
        with_op(&mut c, XEN_DMOP_NR_VCPUS, 1, 12);
        assert_eq!(dm_op(&mut c, 1, 1, 0), Outcome::err(Errno::EINVAL), "pad");
        with_op(&mut c, XEN_DMOP_SET_IRQ_LEVEL, 0, 64);
        assert_eq!(dm_op(&mut c, 1, 1, 0), Outcome::err(Errno::EOPNOTSUPP));
        let mut u = FakeCaller::unprivileged(0x200);
        assert_eq!(dm_op(&mut u, 0, 0, 0), Outcome::err(Errno::EPERM));
    }

    #[test]
    fn nr_vcpus_and_remote_shutdown_act_on_the_domain() {
        let mut c = FakeCaller::new(0x200);
        with_op(&mut c, XEN_DMOP_NR_VCPUS, 0, 12);
        assert_eq!(dm_op(&mut c, 1, 1, 0), Outcome::Return(0));
        assert_eq!(c.get::<u32>(0x108), 2);
        with_op(&mut c, XEN_DMOP_REMOTE_SHUTDOWN, 0, 12);
        c.put(0x108, &3u32);
        assert_eq!(dm_op(&mut c, 1, 1, 0), Outcome::Return(0));
        assert_eq!(c.dom(1).shut_down, Some(3));
        c.compat = true;
        c.put(0, &CompatDmOpBuf { h: 0x100, size: 12 });
        with_op(&mut c, XEN_DMOP_NR_VCPUS, 0, 12);
        c.put(0, &CompatDmOpBuf { h: 0x100, size: 12 });
        assert_eq!(dm_op(&mut c, 1, 1, 0), Outcome::Return(0));
    }
}
