//! The bzImage container: Linux's x86 boot sector, setup code and
//! compressed kernel, of which a PVH loader needs only the payload (the
//! compressed vmlinux ELF), as Xen's bzImage loader does.
//!
//! Layout (Linux's x86 boot protocol, `Documentation/arch/x86/boot.rst`):
//! the real-mode setup code is `setup_sects + 1` sectors of 512 bytes (0
//! meaning 4), and carries the setup header at fixed offsets; the
//! protected-mode kernel follows it. From protocol 2.08 the header names
//! the payload by `payload_offset` (from the start of the protected-mode
//! kernel) and `payload_length`. The build appends the uncompressed size as
//! a little-endian u32 to every compressed stream (gzip's own trailer ends
//! with that same size), so the payload's last 4 bytes are the vmlinux size.

use core::fmt;
use core::ops::Range;

/// Setup header offsets and values (boot protocol).
const SETUP_SECTS: usize = 0x1f1;
const BOOT_FLAG: usize = 0x1fe;
const BOOT_FLAG_VALUE: u16 = 0xaa55;
const HEADER: usize = 0x202;
/// "HdrS", little-endian.
const HEADER_MAGIC: u32 = 0x5372_6448;
const VERSION: usize = 0x206;
const LOADFLAGS: usize = 0x211;
/// `loadflags` bit 0: the protected-mode code loads at 1 MiB (a bzImage,
/// not a zImage).
const LOADED_HIGH: u8 = 1;
const PAYLOAD_OFFSET: usize = 0x248;
const PAYLOAD_LENGTH: usize = 0x24c;
/// The header's end for protocol 2.08's fields.
const HEADER_END_208: usize = 0x250;
/// The first protocol with `payload_offset`/`payload_length`.
pub const MIN_PROTOCOL: u16 = 0x0208;
const SECTOR: usize = 512;

/// A checked bzImage's header facts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SetupHeader {
    /// Boot protocol version, e.g. 0x020f for 2.15.
    pub protocol: u16,
    /// Setup sectors after the boot sector (0 in the file read as 4).
    pub setup_sects: u8,
    /// Where the protected-mode kernel starts in the file.
    pub kernel_offset: usize,
}

/// A bzImage's compressed payload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Payload {
    pub header: SetupHeader,
    /// The payload's bytes in the file.
    pub range: Range<usize>,
    /// The uncompressed size, from the payload's last 4 bytes.
    pub uncompressed_size: u32,
}

/// What is wrong with a bzImage's header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BzImageError {
    /// The file ends inside the setup header or the setup code.
    Truncated { needed: usize, len: usize },
    /// Protocol older than 2.08: no payload fields.
    OldProtocol(u16),
    /// A zImage (loaded low), not a bzImage.
    NotLoadedHigh,
    /// The payload lies (partly) outside the file.
    PayloadOutside { offset: u64, length: u32, len: usize },
    /// Too short to hold even the size trailer.
    PayloadTooShort(u32),
}

impl fmt::Display for BzImageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BzImageError::Truncated { needed, len } => {
                write!(f, "truncated bzImage: its setup needs {needed:#x} bytes, the file has {len:#x}")
            }
            BzImageError::OldProtocol(v) => write!(
                f,
                "bzImage boot protocol {}.{:02} is older than 2.08 (no payload_offset/payload_length)",
                v >> 8,
                v & 0xff
            ),
            BzImageError::NotLoadedHigh => f.write_str("a zImage (LOADED_HIGH clear), not a bzImage"),
            BzImageError::PayloadOutside { offset, length, len } => write!(
                f,
                "bzImage payload {offset:#x}+{length:#x} runs past the end of the file ({len:#x} bytes)"
            ),
            BzImageError::PayloadTooShort(l) => write!(f, "bzImage payload of {l} bytes is too short"),
        }
    }
}

fn u16_at(bytes: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(bytes.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
}

/// Whether `bytes` carries a Linux boot sector's setup header (boot flag
/// and "HdrS"): then it is a bzImage or a broken one, never an ELF.
pub fn is_bzimage(bytes: &[u8]) -> bool {
    u16_at(bytes, BOOT_FLAG) == Some(BOOT_FLAG_VALUE) && u32_at(bytes, HEADER) == Some(HEADER_MAGIC)
}

/// Finds the payload of a file [`is_bzimage`] accepted.
pub fn payload(bytes: &[u8]) -> Result<Payload, BzImageError> {
    let len = bytes.len();
    let truncated = |needed| BzImageError::Truncated { needed, len };
    let protocol = u16_at(bytes, VERSION).ok_or(truncated(VERSION + 2))?;
    if protocol < MIN_PROTOCOL {
        return Err(BzImageError::OldProtocol(protocol));
    }
    if bytes.len() < HEADER_END_208 {
        return Err(truncated(HEADER_END_208));
    }
    if bytes[LOADFLAGS] & LOADED_HIGH == 0 {
        return Err(BzImageError::NotLoadedHigh);
    }
    let setup_sects = match bytes[SETUP_SECTS] {
        0 => 4,
        n => n,
    };
    let kernel_offset = (usize::from(setup_sects) + 1) * SECTOR;
    if kernel_offset > len {
        return Err(truncated(kernel_offset));
    }
    let header = SetupHeader { protocol, setup_sects, kernel_offset };
    let offset = u32_at(bytes, PAYLOAD_OFFSET).ok_or(truncated(PAYLOAD_OFFSET + 4))?;
    let length = u32_at(bytes, PAYLOAD_LENGTH).ok_or(truncated(PAYLOAD_LENGTH + 4))?;
    let start = kernel_offset as u64 + u64::from(offset);
    let end = start + u64::from(length);
    if end > len as u64 {
        return Err(BzImageError::PayloadOutside { offset: start, length, len });
    }
    // Both fit the file, so they fit usize.
    let range = usize::try_from(start).expect("inside the file")..usize::try_from(end).expect("inside the file");
    if length < 4 {
        return Err(BzImageError::PayloadTooShort(length));
    }
    let uncompressed_size = u32_at(bytes, range.end - 4).expect("inside the payload");
    Ok(Payload { header, range, uncompressed_size })
}

/// Test helper: writes a bzImage around a payload, as Linux's build lays
/// it out (only the fields a loader reads are set).
#[cfg(any(test, feature = "testing"))]
pub mod testing {
    use super::*;
    use alloc::vec::Vec;

    /// A bzImage with `setup_sects` setup sectors, protocol `protocol`, and
    /// `payload` (its size trailer included) `gap` bytes into the
    /// protected-mode kernel.
    pub fn bzimage(protocol: u16, setup_sects: u8, gap: usize, payload: &[u8]) -> Vec<u8> {
        let sects = if setup_sects == 0 { 4 } else { usize::from(setup_sects) };
        let kernel = (sects + 1) * SECTOR;
        let mut out = alloc::vec![0u8; kernel + gap];
        out[SETUP_SECTS] = setup_sects;
        out[BOOT_FLAG..BOOT_FLAG + 2].copy_from_slice(&BOOT_FLAG_VALUE.to_le_bytes());
        out[HEADER..HEADER + 4].copy_from_slice(&HEADER_MAGIC.to_le_bytes());
        out[VERSION..VERSION + 2].copy_from_slice(&protocol.to_le_bytes());
        out[LOADFLAGS] = LOADED_HIGH;
        let offset = u32::try_from(gap).unwrap();
        out[PAYLOAD_OFFSET..PAYLOAD_OFFSET + 4].copy_from_slice(&offset.to_le_bytes());
        let length = u32::try_from(payload.len()).unwrap();
        out[PAYLOAD_LENGTH..PAYLOAD_LENGTH + 4].copy_from_slice(&length.to_le_bytes());
        out.extend_from_slice(payload);
        // The decompressor stub's tail after the payload.
        out.extend_from_slice(&[0x90; 64]);
        out
    }

    /// `stream` with the size trailer Linux's build appends (not for gzip,
    /// whose trailer already ends with it).
    pub fn with_size(stream: &[u8], size: usize) -> Vec<u8> {
        let mut v = stream.to_vec();
        v.extend_from_slice(&u32::try_from(size).unwrap().to_le_bytes());
        v
    }
}

#[cfg(test)]
mod tests {
    use super::testing::bzimage;
    use super::*;

    #[test]
    fn the_payload_is_found_after_the_setup_sectors_and_its_offset() {
        let file = bzimage(0x020f, 27, 0x1234, b"PAYLOAD\x10\x00\x00\x00");
        assert!(is_bzimage(&file));
        let p = payload(&file).unwrap();
        assert_eq!(p.header, SetupHeader { protocol: 0x020f, setup_sects: 27, kernel_offset: 28 * 512 });
        assert_eq!(p.range, 28 * 512 + 0x1234..28 * 512 + 0x1234 + 11);
        assert_eq!(&file[p.range.clone()], b"PAYLOAD\x10\x00\x00\x00");
        assert_eq!(p.uncompressed_size, 0x10);
    }

    #[test]
    fn zero_setup_sects_means_four() {
        let file = bzimage(0x0208, 0, 0, b"abcd\x01\x00\x00\x00");
        let p = payload(&file).unwrap();
        assert_eq!(p.header.kernel_offset, 5 * 512);
        assert_eq!(p.range.start, 5 * 512);
        assert_eq!(p.uncompressed_size, 1);
    }

    #[test]
    fn files_without_the_boot_flag_or_hdrs_are_not_bzimages() {
        let mut file = bzimage(0x020f, 4, 0, b"abcd\x01\x00\x00\x00");
        assert!(!is_bzimage(&file[..0x203]));
        file[HEADER] = b'X';
        assert!(!is_bzimage(&file));
        let mut file = bzimage(0x020f, 4, 0, b"abcd\x01\x00\x00\x00");
        file[BOOT_FLAG] = 0;
        assert!(!is_bzimage(&file));
        assert!(!is_bzimage(b"\x7fELF"));
    }

    #[test]
    fn protocols_before_2_08_have_no_payload_fields() {
        let file = bzimage(0x0207, 4, 0, b"abcd\x01\x00\x00\x00");
        assert_eq!(payload(&file).unwrap_err(), BzImageError::OldProtocol(0x0207));
        assert_eq!(
            payload(&file).unwrap_err().to_string(),
            "bzImage boot protocol 2.07 is older than 2.08 (no payload_offset/payload_length)"
        );
    }

    #[test]
    fn a_zimage_is_refused() {
        let mut file = bzimage(0x020f, 4, 0, b"abcd\x01\x00\x00\x00");
        file[LOADFLAGS] = 0;
        assert_eq!(payload(&file).unwrap_err(), BzImageError::NotLoadedHigh);
    }

    #[test]
    fn truncated_files_are_named_with_what_they_lack() {
        let file = bzimage(0x020f, 30, 0, b"abcd\x01\x00\x00\x00");
        assert_eq!(payload(&file[..0x210]).unwrap_err(), BzImageError::Truncated { needed: 0x250, len: 0x210 });
        assert_eq!(payload(&file[..0x1000]).unwrap_err(), BzImageError::Truncated { needed: 31 * 512, len: 0x1000 });
        assert_eq!(
            payload(&file[..0x1000]).unwrap_err().to_string(),
            "truncated bzImage: its setup needs 0x3e00 bytes, the file has 0x1000"
        );
    }

    #[test]
    fn a_payload_that_lies_about_its_place_is_refused() {
        let mut file = bzimage(0x020f, 4, 16, b"abcd\x01\x00\x00\x00");
        let len = file.len();
        file[PAYLOAD_LENGTH..PAYLOAD_LENGTH + 4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(
            payload(&file).unwrap_err(),
            BzImageError::PayloadOutside { offset: 5 * 512 + 16, length: u32::MAX, len }
        );
        let mut file = bzimage(0x020f, 4, 16, b"abcd\x01\x00\x00\x00");
        file[PAYLOAD_OFFSET..PAYLOAD_OFFSET + 4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(payload(&file).unwrap_err(), BzImageError::PayloadOutside { .. }));
        let file = bzimage(0x020f, 4, 16, b"abc");
        assert_eq!(payload(&file).unwrap_err(), BzImageError::PayloadTooShort(3));
    }
}
