//! Guest time, as Xen's pvclock gives it: a guest turns a TSC value into
//! nanoseconds with `((tsc - tsc_timestamp) << shift) * mul >> 32` (a right
//! shift for a negative `shift`) plus `system_time` (xen.h, vcpu_time_info).

#![forbid(unsafe_code)]

use crate::bits::{low32, low64};
use abi::xen::{VcpuTimeInfo, XEN_PVCLOCK_TSC_STABLE_BIT};
use abi::zerocopy::FromZeros;

const NS_PER_SEC: u64 = 1_000_000_000;

/// The pvclock record for a TSC read as `tsc`, with system time counted
/// from `boot_tsc` at `tsc_hz`. `version` must be even (a finished update).
pub fn vcpu_time_info(tsc: u64, boot_tsc: u64, tsc_hz: u64, version: u32) -> VcpuTimeInfo {
    let (mul, shift) = tsc_scale(tsc_hz);
    let mut t = VcpuTimeInfo::new_zeroed();
    t.version = version & !1;
    t.tsc_timestamp = tsc;
    t.system_time = scale_delta(tsc.saturating_sub(boot_tsc), mul, shift);
    t.tsc_to_system_mul = mul;
    t.tsc_shift = shift;
    // The TSC is invariant on every platform the hypervisor runs.
    t.flags = XEN_PVCLOCK_TSC_STABLE_BIT;
    t
}

/// The scale for a TSC of `tsc_hz`: (tsc_to_system_mul, tsc_shift), chosen
/// as Xen's `set_time_scale` does so that the multiplier keeps 32 bits of
/// precision: the shifted rate lies in (1 GHz, 2 GHz].
pub fn tsc_scale(tsc_hz: u64) -> (u32, i8) {
    let mut shift: i8 = 0;
    let mut rate = tsc_hz.max(1);
    while rate > 2 * NS_PER_SEC {
        rate >>= 1;
        shift -= 1;
    }
    while rate <= NS_PER_SEC {
        rate <<= 1;
        shift += 1;
    }
    let mul = low32(low64((u128::from(NS_PER_SEC) << 32) / u128::from(rate)));
    (mul, shift)
}

/// Nanoseconds for `ticks` TSC ticks at the given scale (the guest's sum).
pub fn scale_delta(ticks: u64, mul: u32, shift: i8) -> u64 {
    let shifted = if shift >= 0 { ticks << shift } else { ticks >> -shift };
    low64((u128::from(shifted) * u128::from(mul)) >> 32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_second_of_ticks_scales_to_one_second_at_common_rates() {
        for hz in [1_000_000_000u64, 2_600_000_000, 3_200_000_000, 100_000_000, 2_000_000_000, 999_999_999] {
            let (mul, shift) = tsc_scale(hz);
            let ns = scale_delta(hz, mul, shift);
            assert!(ns.abs_diff(NS_PER_SEC) <= 2, "{hz} Hz: {ns} ns");
        }
    }

    #[test]
    fn the_multiplier_keeps_full_precision() {
        for hz in [1_000_000_001u64, 2_600_000_000, 50_000_000] {
            let (mul, _) = tsc_scale(hz);
            assert!(mul >= 1 << 31, "{hz}: mul {mul:#x}");
        }
    }

    #[test]
    fn a_guest_reading_the_record_later_gets_the_elapsed_time() {
        let hz = 2_600_000_000;
        let t = vcpu_time_info(hz * 10, hz * 4, hz, 4);
        assert_eq!(t.version, 4);
        assert!(t.system_time.abs_diff(6 * NS_PER_SEC) < 10);
        let later = t.system_time + scale_delta(hz / 2, t.tsc_to_system_mul, t.tsc_shift);
        assert!(later.abs_diff(6_500_000_000) < 10);
        assert_eq!(vcpu_time_info(1, 0, hz, 7).version, 6, "an odd version would say 'update in progress'");
    }

    #[test]
    fn a_zero_rate_does_not_divide_by_zero() {
        let (mul, shift) = tsc_scale(0);
        assert!(mul > 0 && shift > 0);
    }
}
