//! A domain's memory by guest-physical address, as the loaders see it:
//! the [`GuestMemory`] trait (Xen's `copy_from_guest`/`copy_to_guest`,
//! vm-memory's `Bytes`) and the [`GuestFault`] every access can fail with.
//! The hypervisor implements it over a domain's p2m; the Dom0 toolstack over
//! the frames of the domain it builds.

use core::fmt;

use abi::errno::Errno;
use zerocopy::{FromBytes, Immutable, IntoBytes};

/// Why guest memory could not be accessed. Hypercalls turn every one into
/// `-EFAULT`, as Xen does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GuestFault {
    /// gpa {0:#x} is not mapped in the domain's p2m
    Unmapped(u64),
    /// gpa {0:#x} is device memory or an emulated hole, not RAM
    NotRam(u64),
    /// gpa {0:#x} is read-only to the guest
    ReadOnly(u64),
    /// {len} bytes at {addr:#x} run past the end of the address space
    Overflow { addr: u64, len: u64 },
    /// gva {0:#x} is not canonical (or above 4 GiB in a 32-bit mode)
    NonCanonical(u64),
    /// gva {gva:#x}: the guest's level-{level} entry is not present
    NotPresent { gva: u64, level: u8 },
    /// gva {0:#x} is read-only in the guest's page tables
    WriteProtected(u64),
    /// gva {gva:#x}: the guest's level-{level} entry has a reserved bit set
    ReservedBit { gva: u64, level: u8 },
    /// gva {0:#x}: the guest's page tables forbid this access (a user page
    /// under SMAP, or a supervisor page to a user access)
    Protected(u64),
}

impl fmt::Display for GuestFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            GuestFault::Unmapped(gpa) => write!(f, "gpa {gpa:#x} is not mapped in the domain's p2m"),
            GuestFault::NotRam(gpa) => write!(f, "gpa {gpa:#x} is device memory or an emulated hole, not RAM"),
            GuestFault::ReadOnly(gpa) => write!(f, "gpa {gpa:#x} is read-only to the guest"),
            GuestFault::Overflow { addr, len } => {
                write!(f, "{len} bytes at {addr:#x} run past the end of the address space")
            }
            GuestFault::NonCanonical(gva) => write!(f, "gva {gva:#x} is not a valid address in the guest's paging mode"),
            GuestFault::NotPresent { gva, level } => {
                write!(f, "gva {gva:#x}: the guest's level-{level} page-table entry is not present")
            }
            GuestFault::WriteProtected(gva) => write!(f, "gva {gva:#x} is read-only in the guest's page tables"),
            GuestFault::ReservedBit { gva, level } => {
                write!(f, "gva {gva:#x}: the guest's level-{level} page-table entry has a reserved bit set")
            }
            GuestFault::Protected(gva) => write!(f, "gva {gva:#x}: the guest's page tables forbid this access"),
        }
    }
}

/// Every guest memory fault is `-EFAULT` to the guest, as in Xen's
/// `copy_from_guest`/`copy_to_guest` callers.
impl From<GuestFault> for Errno {
    fn from(_: GuestFault) -> Errno {
        Errno::EFAULT
    }
}

/// A domain's memory by guest-physical address.
pub trait GuestMemory {
    /// Fills `buf` from `gpa` onwards (Xen's `copy_from_guest` on a gpa).
    fn read(&self, gpa: u64, buf: &mut [u8]) -> Result<(), GuestFault>;

    /// Copies `buf` to `gpa` onwards (Xen's `copy_to_guest` on a gpa).
    fn write(&mut self, gpa: u64, buf: &[u8]) -> Result<(), GuestFault>;

    /// Checks that `len` bytes at `gpa` could be read (or written) now,
    /// without touching them.
    fn check(&self, gpa: u64, len: u64, write: bool) -> Result<(), GuestFault>;

    /// Reads a plain-old-data value at `gpa` (unaligned is fine).
    fn read_obj<T: FromBytes + IntoBytes>(&self, gpa: u64) -> Result<T, GuestFault>
    where
        Self: Sized,
    {
        let mut value = T::new_zeroed();
        self.read(gpa, value.as_mut_bytes())?;
        Ok(value)
    }

    /// Writes a plain-old-data value at `gpa`.
    fn write_obj<T: IntoBytes + Immutable>(&mut self, gpa: u64, value: &T) -> Result<(), GuestFault>
    where
        Self: Sized,
    {
        self.write(gpa, value.as_bytes())
    }

    /// Writes `len` zero bytes at `gpa` (a kernel's bss); checked first, so
    /// a fault changes nothing.
    fn fill_zero(&mut self, gpa: u64, len: u64) -> Result<(), GuestFault>
    where
        Self: Sized,
    {
        const CHUNK: usize = 512;
        self.check(gpa, len, true)?;
        let zeros = [0u8; CHUNK];
        let mut done = 0;
        while done < len {
            let n = usize::try_from(len - done).map_or(CHUNK, |left| left.min(CHUNK));
            self.write(gpa + done, &zeros[..n])?;
            done += n as u64;
        }
        Ok(())
    }
}

/// Guest RAM for tests (here and in dependents, with the `testing` feature).
#[cfg(any(test, feature = "testing"))]
#[allow(clippy::cast_possible_truncation, reason = "test memories are small")]
mod flat {
    use super::{GuestFault, GuestMemory};
    use alloc::vec;
    use alloc::vec::Vec;

    /// `size` bytes of guest RAM from gpa `base`, optionally with a
    /// read-only range; everything else is unmapped.
    pub struct FlatMemory {
        pub base: u64,
        pub bytes: Vec<u8>,
        pub read_only: core::ops::Range<u64>,
    }

    impl FlatMemory {
        pub fn new(base: u64, size: usize) -> Self {
            FlatMemory { base, bytes: vec![0; size], read_only: 0..0 }
        }

        /// The bytes at `[gpa, gpa + len)`; panics outside the memory.
        pub fn at(&self, gpa: u64, len: usize) -> &[u8] {
            let start = (gpa - self.base) as usize;
            &self.bytes[start..start + len]
        }

        fn range(&self, gpa: u64, len: u64) -> Result<core::ops::Range<usize>, GuestFault> {
            let end = gpa.checked_add(len).ok_or(GuestFault::Overflow { addr: gpa, len })?;
            let size = self.bytes.len() as u64;
            if gpa < self.base {
                return Err(GuestFault::Unmapped(gpa));
            }
            if end > self.base + size {
                return Err(GuestFault::Unmapped(gpa.max(self.base + size)));
            }
            Ok((gpa - self.base) as usize..(end - self.base) as usize)
        }
    }

    impl GuestMemory for FlatMemory {
        fn read(&self, gpa: u64, buf: &mut [u8]) -> Result<(), GuestFault> {
            let r = self.range(gpa, buf.len() as u64)?;
            buf.copy_from_slice(&self.bytes[r]);
            Ok(())
        }
        fn write(&mut self, gpa: u64, buf: &[u8]) -> Result<(), GuestFault> {
            self.check(gpa, buf.len() as u64, true)?;
            let r = self.range(gpa, buf.len() as u64)?;
            self.bytes[r].copy_from_slice(buf);
            Ok(())
        }
        fn check(&self, gpa: u64, len: u64, write: bool) -> Result<(), GuestFault> {
            self.range(gpa, len)?;
            let end = gpa + len;
            if write && len > 0 && gpa < self.read_only.end && self.read_only.start < end {
                return Err(GuestFault::ReadOnly(gpa.max(self.read_only.start)));
            }
            Ok(())
        }
    }
}

#[cfg(any(test, feature = "testing"))]
pub use flat::FlatMemory;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_fault_is_efault_to_the_guest() {
        assert_eq!(Errno::from(GuestFault::ReadOnly(0)), Errno::EFAULT);
        assert_eq!(Errno::from(GuestFault::NotPresent { gva: 0, level: 4 }), Errno::EFAULT);
    }
}
