//! The hypercall table: Xen's numbers, one handler per family, `-ENOSYS`
//! for every number without one (as Xen answers).
//!
//! | nr | hypercall | here |
//! |---|---|---|
//! | 17 | xen_version | `XENVER_version` only |
//! | 18 | console_io | `CONSOLEIO_write` |
//! | 29 | sched_op | `SCHEDOP_yield`, `SCHEDOP_shutdown` |
//! | all others | | -ENOSYS |

#![forbid(unsafe_code)]

pub mod console_io;
pub mod sched_op;
pub mod xen_version;

use abi::errno::Errno;
use abi::xen;

/// A hypercall as the guest made it: number and up to five arguments, already
/// taken from the registers of the guest's mode (64-bit: rdi rsi rdx r10 r8;
/// 32-bit: ebx ecx edx esi edi).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Call {
    pub nr: u64,
    pub args: [u64; 5],
}

/// What a handler may touch: the calling domain's identity and its memory,
/// by guest-virtual address, bounds-checked through its page tables and p2m.
pub trait Caller {
    fn domid(&self) -> u16;
    fn vcpu_id(&self) -> u32;
    /// Copies guest memory at `gva` into `buf`; `EFAULT` when any byte is not
    /// the guest's RAM.
    fn copy_from_guest(&self, gva: u64, buf: &mut [u8]) -> Result<(), Errno>;
    fn copy_to_guest(&mut self, gva: u64, buf: &[u8]) -> Result<(), Errno>;
    /// Writes guest console output (the hypervisor adds the `(dN)` prefix).
    fn console_write(&mut self, bytes: &[u8]);
}

/// What the vCPU loop does after a hypercall.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Put this value in rax and resume the guest.
    Return(u64),
    /// The domain asked to shut down with this `SHUTDOWN_*` reason.
    Shutdown(u32),
    /// Give the CPU away, then return 0.
    Yield,
}

impl Outcome {
    pub fn err(e: Errno) -> Outcome {
        Outcome::Return(e.to_hypercall_ret())
    }
}

pub fn dispatch(caller: &mut impl Caller, call: Call) -> Outcome {
    match call.nr {
        xen::HYPERVISOR_XEN_VERSION => xen_version::xen_version(caller, call.args[0], call.args[1]),
        xen::HYPERVISOR_CONSOLE_IO => console_io::console_io(caller, call.args[0], call.args[1], call.args[2]),
        xen::HYPERVISOR_SCHED_OP => sched_op::sched_op(caller, call.args[0], call.args[1]),
        _ => Outcome::err(Errno::ENOSYS),
    }
}

#[cfg(test)]
pub(crate) mod fake {
    //! A caller with a flat fake memory: gva == offset into `mem`.
    use super::*;

    pub struct FakeCaller {
        pub domid: u16,
        pub mem: Vec<u8>,
        pub console: Vec<u8>,
    }

    impl FakeCaller {
        pub fn new(size: usize) -> Self {
            FakeCaller { domid: 0, mem: vec![0; size], console: Vec::new() }
        }
    }

    impl Caller for FakeCaller {
        fn domid(&self) -> u16 {
            self.domid
        }
        fn vcpu_id(&self) -> u32 {
            0
        }
        fn copy_from_guest(&self, gva: u64, buf: &mut [u8]) -> Result<(), Errno> {
            let start = usize::try_from(gva).map_err(|_| Errno::EFAULT)?;
            let end = start.checked_add(buf.len()).ok_or(Errno::EFAULT)?;
            buf.copy_from_slice(self.mem.get(start..end).ok_or(Errno::EFAULT)?);
            Ok(())
        }
        fn copy_to_guest(&mut self, gva: u64, buf: &[u8]) -> Result<(), Errno> {
            let start = usize::try_from(gva).map_err(|_| Errno::EFAULT)?;
            let end = start.checked_add(buf.len()).ok_or(Errno::EFAULT)?;
            self.mem.get_mut(start..end).ok_or(Errno::EFAULT)?.copy_from_slice(buf);
            Ok(())
        }
        fn console_write(&mut self, bytes: &[u8]) {
            self.console.extend_from_slice(bytes);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fake::FakeCaller;
    use super::*;

    #[test]
    fn unknown_hypercall_numbers_return_enosys() {
        let mut c = FakeCaller::new(16);
        for nr in [0, 1, 11, 41, 42, 63, u64::MAX] {
            assert_eq!(dispatch(&mut c, Call { nr, args: [0; 5] }), Outcome::err(Errno::ENOSYS), "nr {nr}");
        }
    }
}
