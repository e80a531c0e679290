//! Named truncations and widenings between integer widths.
//!
//! The workspace denies silent `as` truncation (`clippy::cast_possible_truncation`);
//! where a truncation is the intent (a guest register's low half, a hardware
//! field) or cannot lose bits on this x86_64-only binary, the call goes
//! through one of these helpers so that the call site says which.

/// The low 32 bits of `v` (e.g. `%eax` of `%rax`, an MSR's low half).
#[must_use]
#[inline]
pub const fn low32(v: u64) -> u32 {
    #[allow(clippy::cast_possible_truncation, reason = "keeping the low 32 bits is the point")]
    let low = v as u32;
    low
}

/// The low 16 bits of `v` (e.g. a port number or a segment attribute field).
#[must_use]
#[inline]
pub const fn low16(v: u64) -> u16 {
    #[allow(clippy::cast_possible_truncation, reason = "keeping the low 16 bits is the point")]
    let low = v as u16;
    low
}

/// The low 8 bits of `v` (e.g. an interrupt vector or a byte of a port write).
#[must_use]
#[inline]
pub const fn low8(v: u64) -> u8 {
    #[allow(clippy::cast_possible_truncation, reason = "keeping the low 8 bits is the point")]
    let low = v as u8;
    low
}

/// The low 64 bits of a 128-bit intermediate (a scaled product or quotient).
#[must_use]
#[inline]
pub const fn low64(v: u128) -> u64 {
    #[allow(clippy::cast_possible_truncation, reason = "keeping the low 64 bits is the point")]
    let low = v as u64;
    low
}

/// The low 32 bits of a `usize` (a count or index of an in-memory table).
#[must_use]
#[inline]
pub const fn low32_usize(v: usize) -> u32 {
    #[allow(clippy::cast_possible_truncation, reason = "keeping the low 32 bits is the point")]
    let low = v as u32;
    low
}

/// `v` as a `usize`, for trusted values (the hypervisor's own constants,
/// frame numbers, sizes); never for guest input, which goes through
/// `usize::try_from` and its error path.
#[must_use]
#[inline]
pub const fn to_usize(v: u64) -> usize {
    const _: () = assert!(usize::BITS == u64::BITS);
    #[allow(clippy::cast_possible_truncation, reason = "x86_64: usize is 64 bits (asserted above)")]
    let wide = v as usize;
    wide
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncations_keep_the_low_bits() {
        let v = 0x1122_3344_5566_7788_u64;
        assert_eq!(low32(v), 0x5566_7788);
        assert_eq!(low16(v), 0x7788);
        assert_eq!(low8(v), 0x88);
        assert_eq!(low64((u128::from(v) << 64) | 0xabcd), 0xabcd);
        assert_eq!(low32_usize(0x1_0000_0005), 5);
        assert_eq!(to_usize(v), 0x1122_3344_5566_7788_usize);
    }
}
