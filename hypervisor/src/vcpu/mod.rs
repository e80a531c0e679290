//! The vCPU loop: enter the guest, take one `Exit`, handle it with the
//! policies here and the hypercall table, repeat until the domain ends.

#![forbid(unsafe_code)]

pub mod cpuid;
pub mod domu;
pub mod interrupts;
pub mod io;
pub mod ipi;
pub mod mmio;
pub mod msr;
pub mod mtrr;
pub mod run;
