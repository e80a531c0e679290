//! Which physical CPU runs which vCPU. For now a static partition: Dom0's
//! vCPU 0 runs on the boot CPU, and each AP runs one DomU vCPU at a time,
//! from the run queue, until that vCPU's domain stops, pauses for good or
//! dies (no time slicing between vCPUs yet; the scheduler issue adds it).
//! A vCPU waiting for a free CPU stays queued.

#![forbid(unsafe_code)]

/// The credit2-class policy (weights, caps, affinity, slices) that will replace the partition; host-tested, not wired in yet.
pub mod credit;
pub mod kick;
pub mod runqueue;
