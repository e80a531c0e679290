//! Devices the hypervisor emulates for its guests, as register models that
//! know nothing of VM exits: the vCPU loop feeds them accesses and reads
//! back what they want delivered.
//!
//! - [`vlapic`]: one vCPU's local APIC (xAPIC MMIO, x2APIC MSRs, its timer,
//!   interrupt acceptance), as Xen 4.17's vlapic.
//! - [`pit`]: the 8254's counter 2 and its gate (port 0x61), which Linux
//!   calibrates the TSC against.
//! - [`mmio`]: the instruction behind a nested page fault at an address no
//!   RAM backs, decoded and carried out against a device or Xen's null
//!   handler (all ones, writes dropped).

#![forbid(unsafe_code)]

pub mod mmio;
pub mod pit;
pub mod vlapic;
