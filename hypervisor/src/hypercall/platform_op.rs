//! `HYPERVISOR_platform_op(xen_platform_op_t *op)` (platform.h;
//! xen/arch/x86/platform_hypercall.c). The struct is read first (-EFAULT),
//! its `interface_version` must be 0x03000001 (-EACCES), and only Dom0 may
//! call it (-EPERM, Xen's XSM_PRIV).
//!
//! | cmd | here |
//! |---|---|
//! | `XENPF_settime32` (17), `XENPF_settime64` (62) | sets the wallclock: `secs.nsecs` was the time at system time `system_time` (settime64's `mbz` must be 0: -EINVAL); domains see it the next time their time records are written (mapping shared_info, registering a vcpu_info) |
//! | `XENPF_get_cpuinfo` (55) | CPU `xen_cpuid`'s APIC id, ACPI id and ONLINE flag (every CPU brought up is online; no hot-plug), or flags INVALID for no such CPU; `max_present` the last CPU's id |
//! | other (microcode, firmware_info, the power-management commands, ...) | -ENOSYS (not implemented) |

#![forbid(unsafe_code)]

use core::sync::atomic::Ordering;

use abi::errno::Errno;
use abi::platform::*;
use abi::zerocopy::IntoBytes;

use super::{Caller, Outcome, read_arg};
use crate::domain::object::WALLCLOCK_AT_BOOT;

const NS_PER_SECOND: u64 = 1_000_000_000;

/// Xen's `do_settime`: the wallclock's seconds at system time 0.
fn boot_seconds(secs: u64, nsecs: u32, system_time: u64) -> u64 {
    secs.wrapping_mul(NS_PER_SECOND).wrapping_add(u64::from(nsecs)).wrapping_sub(system_time) / NS_PER_SECOND
}

pub fn platform_op(caller: &mut impl Caller, arg: u64) -> Outcome {
    let op: XenPlatformOp = match read_arg(caller, arg) {
        Ok(op) => op,
        Err(e) => return Outcome::err(e),
    };
    if op.interface_version != XENPF_INTERFACE_VERSION {
        return Outcome::err(Errno::EACCES);
    }
    if !caller.privileged() {
        return Outcome::err(Errno::EPERM);
    }
    if op.cmd == XENPF_GET_CPUINFO {
        return get_cpuinfo(caller, arg, op);
    }
    let boot = match op.cmd {
        XENPF_SETTIME32 => {
            let t: XenpfSettime32 = op.payload();
            boot_seconds(t.secs.into(), t.nsecs, t.system_time)
        }
        XENPF_SETTIME64 => {
            let t: XenpfSettime64 = op.payload();
            if t.mbz != 0 {
                return Outcome::err(Errno::EINVAL);
            }
            boot_seconds(t.secs, t.nsecs, t.system_time)
        }
        _ => return Outcome::err(Errno::ENOSYS),
    };
    WALLCLOCK_AT_BOOT.store(boot, Ordering::Relaxed);
    Outcome::Return(0)
}

/// Xen's XENPF_get_cpuinfo: only `u.pcpu_info` is written back.
fn get_cpuinfo(caller: &mut impl Caller, arg: u64, op: XenPlatformOp) -> Outcome {
    let mut info: XenpfPcpuinfo = op.payload();
    let nr = caller.machine().nr_cpus;
    match caller.pcpu(info.xen_cpuid) {
        Some(p) => {
            info.apic_id = p.apic_id;
            info.acpi_id = p.acpi_id;
            info.flags = XEN_PCPU_FLAGS_ONLINE;
        }
        None => info.flags = XEN_PCPU_FLAGS_INVALID,
    }
    info.max_present = nr.saturating_sub(1);
    let at = arg + core::mem::offset_of!(XenPlatformOp, u) as u64;
    match caller.copy_to_guest(at, info.as_bytes()) {
        Ok(()) => Outcome::Return(0),
        Err(e) => Outcome::err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::super::fake::FakeCaller;
    use super::*;


    fn op(cmd: u32, version: u32, payload: &[u8]) -> XenPlatformOp {
        let mut u = [0u8; 128];
        u[..payload.len()].copy_from_slice(payload);
        XenPlatformOp { cmd, interface_version: version, u }
    }

    #[test]
    fn checks_come_first() {
        let mut c = FakeCaller::new(256);
        assert_eq!(platform_op(&mut c, 200), Outcome::err(Errno::EFAULT));
        for version in [0, 0x0300_0000, 0x15, u32::MAX] {
            c.put(0, &op(XENPF_GET_CPUINFO, version, &[]));
            assert_eq!(platform_op(&mut c, 0), Outcome::err(Errno::EACCES));
        }
        c.put(0, &op(0xffff, XENPF_INTERFACE_VERSION, &[]));
        assert_eq!(platform_op(&mut c, 0), Outcome::err(Errno::ENOSYS));
        let mut u = FakeCaller::unprivileged(256);
        u.put(0, &op(0xffff, XENPF_INTERFACE_VERSION, &[]));
        assert_eq!(platform_op(&mut u, 0), Outcome::err(Errno::EPERM));
    }

    #[test]
    fn get_cpuinfo_describes_each_cpu_and_flags_the_rest_invalid() {
        let mut c = FakeCaller::new(256);
        let ask = XenpfPcpuinfo { xen_cpuid: 1, max_present: 7, flags: 9, apic_id: 9, acpi_id: 9 };
        c.put(0, &op(XENPF_GET_CPUINFO, XENPF_INTERFACE_VERSION, ask.as_bytes()));
        assert_eq!(platform_op(&mut c, 0), Outcome::Return(0));
        let got: XenPlatformOp = c.get(0);
        let info: XenpfPcpuinfo = got.payload();
        assert_eq!(info, XenpfPcpuinfo { xen_cpuid: 1, max_present: 1, flags: XEN_PCPU_FLAGS_ONLINE, apic_id: 2, acpi_id: 1 });
        let ask = XenpfPcpuinfo { xen_cpuid: 5, ..ask };
        c.put(0, &op(XENPF_GET_CPUINFO, XENPF_INTERFACE_VERSION, ask.as_bytes()));
        assert_eq!(platform_op(&mut c, 0), Outcome::Return(0));
        let info: XenpfPcpuinfo = c.get::<XenPlatformOp>(0).payload();
        assert_eq!((info.flags, info.max_present, info.apic_id), (XEN_PCPU_FLAGS_INVALID, 1, 9), "the ids are left as they were");
    }

    #[test]
    fn settime_sets_the_wallclock_at_system_time_zero() {
        assert_eq!(boot_seconds(1_700_000_010, 500_000_000, 10_500_000_000), 1_700_000_000);
        let mut c = FakeCaller::new(256);
        let t = XenpfSettime64 { secs: 1_800_000_005, nsecs: 0, mbz: 1, system_time: 5 * NS_PER_SECOND };
        c.put(0, &op(XENPF_SETTIME64, XENPF_INTERFACE_VERSION, t.as_bytes()));
        assert_eq!(platform_op(&mut c, 0), Outcome::err(Errno::EINVAL), "mbz");
        let t = XenpfSettime64 { mbz: 0, ..t };
        c.put(0, &op(XENPF_SETTIME64, XENPF_INTERFACE_VERSION, t.as_bytes()));
        assert_eq!(platform_op(&mut c, 0), Outcome::Return(0));
        assert_eq!(WALLCLOCK_AT_BOOT.load(Ordering::Relaxed), 1_800_000_000);
    }
}
