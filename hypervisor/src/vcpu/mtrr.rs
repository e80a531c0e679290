//! A vCPU's MTRRs, as Xen keeps them for an HVM vCPU (hvm/mtrr.c): stored
//! per vCPU, validated on write (reserved types and bits #GP), read back as
//! written. They only describe memory types to the guest: the p2m decides
//! the real ones, so nothing else changes on a write.

#![forbid(unsafe_code)]

pub const MSR_MTRRCAP: u32 = 0xfe;
pub const MSR_MTRR_PHYSBASE0: u32 = 0x200;
pub const MSR_MTRR_DEF_TYPE: u32 = 0x2ff;
/// The fixed-range MSRs in Xen's `fixed_ranges` order: 64K_00000,
/// 16K_80000, 16K_A0000, 4K_C0000 .. 4K_F8000 (SDM Vol. 3, 12.11.2.2).
pub const FIXED_MSRS: [u32; 11] = [0x250, 0x258, 0x259, 0x268, 0x269, 0x26a, 0x26b, 0x26c, 0x26d, 0x26e, 0x26f];

/// Variable ranges offered to a DomU (Xen's MTRR_VCNT).
pub const VAR_RANGES: usize = 8;
/// MTRRcap as Xen gives it: WC (bit 10), fixed ranges (bit 8), VCNT 8; no
/// SMRR (bit 11).
pub const MTRRCAP: u64 = (1 << 10) | (1 << 8) | VAR_RANGES as u64;
/// MTRRdefType bits: type 7:0, FE (10), E (11); the rest reserved.
const DEF_TYPE_FE: u64 = 1 << 10;
const DEF_TYPE_E: u64 = 1 << 11;
const MTRR_TYPE_WRBACK: u64 = 6;

/// Memory types an MTRR may hold: UC 0, WC 1, WT 4, WP 5, WB 6.
fn valid_type(t: u8) -> bool {
    matches!(t, 0 | 1 | 4 | 5 | 6)
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mtrrs {
    def_type: u64,
    fixed: [u64; 11],
    /// (PHYSBASE, PHYSMASK) per range.
    var: [(u64, u64); VAR_RANGES],
    /// Physical-address width (CPUID 0x80000008 EAX[7:0]): PHYSBASE/PHYSMASK
    /// bits at and above it are reserved.
    phys_bits: u8,
}

impl Mtrrs {
    /// A PVH vCPU's MTRRs as Xen's domain builder leaves them (xg_dom_x86.c
    /// `vcpu_hvm`: "enable MTRR, set default type to WB"), ranges empty.
    pub fn pvh(phys_bits: u8) -> Mtrrs {
        Mtrrs { def_type: DEF_TYPE_E | MTRR_TYPE_WRBACK, fixed: [0; 11], var: [(0, 0); VAR_RANGES], phys_bits: phys_bits.clamp(36, 52) }
    }

    /// Whether `msr` is one of the MTRR MSRs this vCPU has.
    pub fn owns(msr: u32) -> bool {
        msr == MSR_MTRRCAP || msr == MSR_MTRR_DEF_TYPE || FIXED_MSRS.contains(&msr) || Self::var_index(msr).is_some()
    }

    fn var_index(msr: u32) -> Option<usize> {
        let i = msr.checked_sub(MSR_MTRR_PHYSBASE0)? as usize;
        (i < 2 * VAR_RANGES).then_some(i)
    }

    /// RDMSR of one of its MSRs (None: not an MTRR MSR).
    pub fn read(&self, msr: u32) -> Option<u64> {
        if msr == MSR_MTRRCAP {
            return Some(MTRRCAP);
        }
        if msr == MSR_MTRR_DEF_TYPE {
            return Some(self.def_type);
        }
        if let Some(row) = FIXED_MSRS.iter().position(|&m| m == msr) {
            return Some(self.fixed[row]);
        }
        let i = Self::var_index(msr)?;
        let (base, mask) = self.var[i / 2];
        Some(if i % 2 == 0 { base } else { mask })
    }

    /// WRMSR: Ok if stored, Err(why) for the guest's #GP (Xen's
    /// `mtrr_*_msr_set` rules). MTRRcap is read-only.
    pub fn write(&mut self, msr: u32, value: u64) -> Result<(), &'static str> {
        if msr == MSR_MTRRCAP {
            return Err("MTRRcap is read-only");
        }
        if msr == MSR_MTRR_DEF_TYPE {
            if !valid_type(value.to_le_bytes()[0]) {
                return Err("reserved default memory type");
            }
            if value & !(0xff | DEF_TYPE_FE | DEF_TYPE_E) != 0 {
                return Err("reserved MTRRdefType bits");
            }
            self.def_type = value;
            return Ok(());
        }
        if let Some(row) = FIXED_MSRS.iter().position(|&m| m == msr) {
            if !value.to_le_bytes().iter().all(|&t| valid_type(t)) {
                return Err("reserved memory type in a fixed range");
            }
            self.fixed[row] = value;
            return Ok(());
        }
        let Some(i) = Self::var_index(msr) else { return Err("not an MTRR") };
        // PHYSBASE: type 7:0, 11:8 reserved; PHYSMASK: 10:0 reserved, V 11;
        // both: bits above the physical-address width reserved. Xen checks
        // the low byte as a type for both (a mask's is 0, UC: valid).
        let reserved = (u64::MAX << self.phys_bits) | if i % 2 == 0 { 0xf00 } else { 0x7ff };
        if !valid_type(value.to_le_bytes()[0]) {
            return Err("reserved memory type in a variable range");
        }
        if value & reserved != 0 {
            return Err("reserved variable-range bits");
        }
        let range = &mut self.var[i / 2];
        if i % 2 == 0 {
            range.0 = value;
        } else {
            range.1 = value;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pvh_vcpus_start_with_mtrrs_on_and_write_back_default() {
        let m = Mtrrs::pvh(39);
        assert_eq!(m.read(MSR_MTRRCAP), Some(0x508), "WC, FIX, VCNT 8");
        assert_eq!(m.read(MSR_MTRR_DEF_TYPE), Some(0x806), "E | WB");
        assert_eq!(m.read(0x250), Some(0));
        assert_eq!(m.read(0x20f), Some(0));
        assert_eq!(m.read(0x210), None, "only 8 variable ranges");
        assert_eq!(m.read(0x251), None);
        assert!(Mtrrs::owns(0x26f) && Mtrrs::owns(0x200) && !Mtrrs::owns(0x210) && !Mtrrs::owns(0x277));
    }

    #[test]
    fn def_type_rejects_reserved_types_and_bits() {
        let mut m = Mtrrs::pvh(39);
        assert_eq!(m.write(MSR_MTRR_DEF_TYPE, 0xc00), Ok(()), "UC, FE and E");
        assert_eq!(m.read(MSR_MTRR_DEF_TYPE), Some(0xc00));
        for bad in [0x802, 0x803, 0x807, 0x8ff, 0x1806, 0x100, 1 << 40] {
            assert!(m.write(MSR_MTRR_DEF_TYPE, bad).is_err(), "{bad:#x}");
        }
        assert_eq!(m.read(MSR_MTRR_DEF_TYPE), Some(0xc00), "a refused write changes nothing");
        assert!(m.write(MSR_MTRRCAP, 0x508).is_err());
    }

    #[test]
    fn fixed_ranges_store_eight_valid_types() {
        let mut m = Mtrrs::pvh(39);
        assert_eq!(m.write(0x259, 0x0606_0606_0505_0404), Ok(()));
        assert_eq!(m.read(0x259), Some(0x0606_0606_0505_0404));
        assert!(m.write(0x268, 0x0600_0000_0000_0000 | 0x02).is_err(), "type 2 is reserved");
        assert!(m.write(0x26f, 0x0700_0000_0000_0000).is_err(), "type 7 is reserved");
        assert_eq!(m.read(0x268), Some(0));
    }

    #[test]
    fn variable_ranges_check_type_and_reserved_bits() {
        let mut m = Mtrrs::pvh(36);
        assert_eq!(m.write(0x200, 0x8000_0000), Ok(()), "UC at 2 GiB");
        assert_eq!(m.write(0x201, 0xf_8000_0800), Ok(()), "2 GiB, valid");
        assert_eq!((m.read(0x200), m.read(0x201)), (Some(0x8000_0000), Some(0xf_8000_0800)));
        assert!(m.write(0x202, 0x8000_0002).is_err(), "reserved type");
        assert!(m.write(0x202, 0x8000_0106).is_err(), "PHYSBASE bits 11:8");
        assert!(m.write(0x203, 0xf_8000_0801).is_err(), "PHYSMASK bits 10:0");
        assert!(m.write(0x20e, 0x10_0000_0006).is_err(), "above the physical-address width");
        assert_eq!(m.write(0x20e, 0xf_0000_0006), Ok(()));
        assert!(m.write(0x210, 0).is_err());
    }
}
