//! `HYPERVISOR_xenpmu_op(op, arg)` (pmu.h; xen/arch/x86/cpu/vpmu.c): every
//! op is -EOPNOTSUPP, as Xen answers a domain with an emulated local APIC
//! (vPMU is for PV guests, and off by default).

#![forbid(unsafe_code)]

use abi::errno::Errno;

use super::Outcome;

pub fn xenpmu_op() -> Outcome {
    Outcome::err(Errno::EOPNOTSUPP)
}
