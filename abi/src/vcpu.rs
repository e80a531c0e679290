//! Mirrors xen/include/public/vcpu.h
//!
//! `HYPERVISOR_vcpu_op(cmd, vcpuid, arg)` sub-ops. Structs follow in a later
//! change.

pub const VCPUOP_INITIALISE: u64 = 0;
pub const VCPUOP_UP: u64 = 1;
pub const VCPUOP_DOWN: u64 = 2;
pub const VCPUOP_IS_UP: u64 = 3;
pub const VCPUOP_GET_RUNSTATE_INFO: u64 = 4;
pub const VCPUOP_REGISTER_RUNSTATE_MEMORY_AREA: u64 = 5;
pub const VCPUOP_SET_PERIODIC_TIMER: u64 = 6;
pub const VCPUOP_STOP_PERIODIC_TIMER: u64 = 7;
pub const VCPUOP_SET_SINGLESHOT_TIMER: u64 = 8;
pub const VCPUOP_STOP_SINGLESHOT_TIMER: u64 = 9;
pub const VCPUOP_REGISTER_VCPU_INFO: u64 = 10;
pub const VCPUOP_SEND_NMI: u64 = 11;
pub const VCPUOP_GET_PHYSID: u64 = 12;
pub const VCPUOP_REGISTER_VCPU_TIME_MEMORY_AREA: u64 = 13;
