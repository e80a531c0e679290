//! `HYPERVISOR_xen_version` (version.h).
//!
//! | cmd | here |
//! |---|---|
//! | `XENVER_version` (0) | `4 << 16 \| 17`: the ABI is Xen 4.17's |
//! | other | -ENOSYS for now |

use abi::errno::Errno;
use abi::version::XENVER_VERSION;

use super::{Caller, Outcome};

/// The Xen release whose ABI this hypervisor implements.
pub const XEN_MAJOR: u64 = 4;
pub const XEN_MINOR: u64 = 17;

pub fn xen_version(_caller: &mut impl Caller, cmd: u64, _arg: u64) -> Outcome {
    match cmd {
        XENVER_VERSION => Outcome::Return((XEN_MAJOR << 16) | XEN_MINOR),
        _ => Outcome::err(Errno::ENOSYS),
    }
}
