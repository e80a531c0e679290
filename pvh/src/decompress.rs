//! Decompressing a bzImage payload into the vmlinux ELF, for every
//! compression Linux's x86 build offers (`CONFIG_KERNEL_*`) that a
//! maintained `no_std` (+ alloc) decoder exists for:
//!
//! | format | magic | decoder |
//! |---|---|---|
//! | gzip | `1f 8b` | `miniz_oxide` (raw deflate) inside the RFC 1952 member parsed here, CRC-32 by `crc32fast` |
//! | xz | `fd 37 7a 58 5a 00` | `xz4rust` (BCJ x86 filter, CRC-32/CRC-64 checks) |
//! | lzma | `5d 00 00` | `lzma-rust2` (the `.lzma` "alone" format) |
//! | zstd | `28 b5 2f fd` | `ruzstd` |
//! | lz4 | `02 21 4c 18` | `lz4_flex` blocks inside the legacy lz4 frame parsed here |
//! | lzo | `89 4c 5a 4f 00 0d 0a 1a 0a` | `lzokay` (LZO1X) blocks inside the lzop container parsed here |
//! | bzip2 | `42 5a 68` | none: the only maintained `no_std` decoder (`libbz2-rs-sys`) offers only its unsafe C ABI, and `bzip2-rs` needs std |
//!
//! Every decoder writes into one buffer of the size the bzImage announces
//! (its payload's last 4 bytes), allocated with `try_reserve` so a lying
//! size is an error, not an allocation failure; output of any other size is
//! an error.

use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

/// A payload compression, named as Linux's `CONFIG_KERNEL_*` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    Gzip,
    Bzip2,
    Lzma,
    Xz,
    Lzo,
    Lz4,
    Zstd,
}

impl Compression {
    /// The format whose magic `stream` starts with.
    pub fn detect(stream: &[u8]) -> Option<Compression> {
        const MAGICS: [(&[u8], Compression); 7] = [
            (&[0x1f, 0x8b], Compression::Gzip),
            (b"BZh", Compression::Bzip2),
            (&[0x5d, 0x00, 0x00], Compression::Lzma),
            (&[0xfd, b'7', b'z', b'X', b'Z', 0x00], Compression::Xz),
            (&LZOP_MAGIC, Compression::Lzo),
            (&LZ4_LEGACY_MAGIC.to_le_bytes(), Compression::Lz4),
            (&ZSTD_MAGIC, Compression::Zstd),
        ];
        MAGICS.iter().find(|(m, _)| stream.starts_with(m)).map(|&(_, c)| c)
    }

    pub fn name(self) -> &'static str {
        match self {
            Compression::Gzip => "gzip",
            Compression::Bzip2 => "bzip2",
            Compression::Lzma => "lzma",
            Compression::Xz => "xz",
            Compression::Lzo => "lzo",
            Compression::Lz4 => "lz4",
            Compression::Zstd => "zstd",
        }
    }

    /// Whether [`decompress`] decodes this format.
    pub fn supported(self) -> bool {
        self != Compression::Bzip2
    }
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

const LZOP_MAGIC: [u8; 9] = [0x89, b'L', b'Z', b'O', 0x00, 0x0d, 0x0a, 0x1a, 0x0a];
const LZ4_LEGACY_MAGIC: u32 = 0x184c_2102;
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

/// Why a payload did not decompress.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DecompressError {
    /// A known format no decoder is built in for.
    Unsupported(Compression),
    /// The announced size cannot be allocated.
    TooLarge { format: Compression, size: usize },
    /// The decoder refused the stream.
    Corrupt { format: Compression, reason: String },
    /// The stream decoded to another size than announced.
    SizeMismatch { format: Compression, expected: usize, got: usize },
}

impl fmt::Display for DecompressError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecompressError::Unsupported(Compression::Bzip2) => f.write_str(
                "bzip2-compressed payload is not supported (no maintained no_std bzip2 decoder with a safe interface)",
            ),
            DecompressError::Unsupported(c) => write!(f, "{c}-compressed payload is not supported"),
            DecompressError::TooLarge { format, size } => {
                write!(f, "{format} payload announces {size:#x} bytes, more than can be allocated (or than 1 GiB)")
            }
            DecompressError::Corrupt { format, reason } => write!(f, "corrupt {format} payload: {reason}"),
            DecompressError::SizeMismatch { format, expected, got } => {
                write!(f, "{format} payload decompressed to {got:#x} bytes, its size field says {expected:#x}")
            }
        }
    }
}

/// The largest output accepted: a PVH kernel is loaded below 4 GiB, and
/// real ones are tens of MiB.
pub const MAX_OUTPUT: usize = 1 << 30;

/// Decompresses `stream` (one `format` stream; bytes after its end are
/// ignored where the format marks its end) into exactly `size` bytes.
pub fn decompress(format: Compression, stream: &[u8], size: usize) -> Result<Vec<u8>, DecompressError> {
    let mut out = Vec::new();
    if size > MAX_OUTPUT {
        return Err(DecompressError::TooLarge { format, size });
    }
    out.try_reserve_exact(size).map_err(|_| DecompressError::TooLarge { format, size })?;
    out.resize(size, 0);
    let corrupt = |reason: String| DecompressError::Corrupt { format, reason };
    let got = match format {
        Compression::Gzip => gzip(stream, &mut out).map_err(corrupt)?,
        Compression::Xz => xz(stream, &mut out).map_err(corrupt)?,
        Compression::Lzma => lzma(stream, &mut out).map_err(corrupt)?,
        Compression::Zstd => zstd(stream, &mut out).map_err(corrupt)?,
        Compression::Lz4 => lz4_legacy(stream, &mut out).map_err(corrupt)?,
        Compression::Lzo => lzop(stream, &mut out).map_err(corrupt)?,
        Compression::Bzip2 => return Err(DecompressError::Unsupported(format)),
    };
    if got != size {
        return Err(DecompressError::SizeMismatch { format, expected: size, got });
    }
    Ok(out)
}

/// Bytes of dictionary [`decompress_into`] needs for `stream` besides its
/// output: for xz the first block's LZMA2 dictionary (at least the decoder's
/// minimum, at most 128 MiB); the other formats need none from the caller.
pub fn dictionary_size(format: Compression, stream: &[u8]) -> usize {
    match format {
        Compression::Xz => xz_dict_size(stream).unwrap_or(xz4rust::DICT_SIZE_MIN).clamp(xz4rust::DICT_SIZE_MIN, XZ_MAX_DICT),
        _ => 0,
    }
}

/// Like [`decompress`], but into `out` (which must be exactly the announced
/// size), with xz's dictionary in `dict` ([`dictionary_size`] bytes): for a
/// caller whose heap cannot hold tens of MiB (the hypervisor, building Dom0).
/// gzip, xz, lz4 and lzo then use only a few KiB of heap; lzma and zstd
/// still allocate their window on the heap.
pub fn decompress_into(format: Compression, stream: &[u8], out: &mut [u8], dict: &mut [u8]) -> Result<(), DecompressError> {
    let size = out.len();
    let corrupt = |reason: String| DecompressError::Corrupt { format, reason };
    let got = match format {
        Compression::Gzip => gzip(stream, out).map_err(corrupt)?,
        Compression::Xz => {
            let need = dictionary_size(format, stream);
            let dict = dict.get_mut(..need).ok_or_else(|| corrupt(format!("needs a {need:#x}-byte dictionary")))?;
            xz_with(&mut xz4rust::XzDecoder::with_fixed_size_dict(dict), stream, out).map_err(corrupt)?
        }
        Compression::Lzma => lzma(stream, out).map_err(corrupt)?,
        Compression::Zstd => zstd(stream, out).map_err(corrupt)?,
        Compression::Lz4 => lz4_legacy(stream, out).map_err(corrupt)?,
        Compression::Lzo => lzop(stream, out).map_err(corrupt)?,
        Compression::Bzip2 => return Err(DecompressError::Unsupported(format)),
    };
    if got != size {
        return Err(DecompressError::SizeMismatch { format, expected: size, got });
    }
    Ok(())
}

/// The largest xz dictionary accepted.
const XZ_MAX_DICT: usize = 128 << 20;

/// Output that ran past the announced size.
fn overrun(size: usize) -> String {
    format!("the stream decodes past the announced {size:#x} bytes")
}

/// A byte cursor over a container's headers.
struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], String> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.bytes.len());
        let end = end.ok_or_else(|| format!("truncated at {what} (offset {:#x})", self.at))?;
        let s = &self.bytes[self.at..end];
        self.at = end;
        Ok(s)
    }
    fn u8(&mut self, what: &str) -> Result<u8, String> {
        Ok(self.take(1, what)?[0])
    }
    fn u16_be(&mut self, what: &str) -> Result<u16, String> {
        Ok(u16::from_be_bytes(self.take(2, what)?.try_into().expect("2 bytes")))
    }
    fn u16_le(&mut self, what: &str) -> Result<u16, String> {
        Ok(u16::from_le_bytes(self.take(2, what)?.try_into().expect("2 bytes")))
    }
    fn u32_be(&mut self, what: &str) -> Result<u32, String> {
        Ok(u32::from_be_bytes(self.take(4, what)?.try_into().expect("4 bytes")))
    }
    fn u32_le(&mut self, what: &str) -> Result<u32, String> {
        Ok(u32::from_le_bytes(self.take(4, what)?.try_into().expect("4 bytes")))
    }
    /// Skips a zero-terminated string.
    fn skip_cstr(&mut self, what: &str) -> Result<(), String> {
        while self.u8(what)? != 0 {}
        Ok(())
    }
    fn rest(&self) -> &'a [u8] {
        &self.bytes[self.at..]
    }
}

/// A gzip member (RFC 1952): header, raw deflate data, CRC-32 and ISIZE.
fn gzip(stream: &[u8], out: &mut [u8]) -> Result<usize, String> {
    use miniz_oxide::inflate::TINFLStatus;
    use miniz_oxide::inflate::core::{DecompressorOxide, decompress, inflate_flags};
    const FHCRC: u8 = 1 << 1;
    const FEXTRA: u8 = 1 << 2;
    const FNAME: u8 = 1 << 3;
    const FCOMMENT: u8 = 1 << 4;
    const RESERVED: u8 = 0xe0;
    let mut c = Cursor { bytes: stream, at: 0 };
    let head = c.take(10, "the gzip header")?;
    if head[2] != 8 {
        return Err(format!("compression method {} is not deflate (8)", head[2]));
    }
    let flags = head[3];
    if flags & RESERVED != 0 {
        return Err(format!("reserved header flags {flags:#x} set"));
    }
    if flags & FEXTRA != 0 {
        let xlen = c.u16_le("the extra field length")?;
        c.take(usize::from(xlen), "the extra field")?;
    }
    if flags & FNAME != 0 {
        c.skip_cstr("the file name")?;
    }
    if flags & FCOMMENT != 0 {
        c.skip_cstr("the comment")?;
    }
    if flags & FHCRC != 0 {
        c.take(2, "the header CRC")?;
    }
    let data = c.rest();
    let mut inflater = Box::<DecompressorOxide>::default();
    let (status, consumed, produced) =
        decompress(&mut inflater, data, out, 0, inflate_flags::TINFL_FLAG_USING_NON_WRAPPING_OUTPUT_BUF);
    match status {
        TINFLStatus::Done => {}
        TINFLStatus::HasMoreOutput => return Err(overrun(out.len())),
        TINFLStatus::NeedsMoreInput | TINFLStatus::FailedCannotMakeProgress => {
            return Err(String::from("the deflate data is truncated"));
        }
        other => return Err(format!("bad deflate data ({other:?})")),
    }
    let mut trailer = Cursor { bytes: &data[consumed..], at: 0 };
    let crc = trailer.u32_le("the CRC-32")?;
    let isize = trailer.u32_le("the size")?;
    let actual = crc32fast::hash(&out[..produced]);
    if crc != actual {
        return Err(format!("CRC-32 {actual:#010x} of the data, the trailer says {crc:#010x}"));
    }
    // ISIZE is the size modulo 2^32.
    if u64::from(isize) != produced as u64 % (1 << 32) {
        return Err(format!("the trailer's size {isize:#x} differs from the data's {produced:#x}"));
    }
    Ok(produced)
}

/// An .xz stream (BCJ and delta filters, CRC-32 and CRC-64 checks; a stream
/// with a SHA-256 check is refused by the decoder).
fn xz(stream: &[u8], out: &mut [u8]) -> Result<usize, String> {
    use xz4rust::XzDecoder;
    // The dictionary the first block asks for (Linux's kernels: 32 MiB, one
    // block) is allocated here, fallibly; a later block asking for more is
    // an error. Unparsable headers are left to the decoder to refuse.
    let dict_size = dictionary_size(Compression::Xz, stream);
    let mut dict = Vec::new();
    dict.try_reserve_exact(dict_size).map_err(|_| format!("cannot allocate its {dict_size:#x}-byte dictionary"))?;
    dict.resize(dict_size, 0);
    xz_with(&mut XzDecoder::in_heap_with_alloc_dict(dict, dict_size), stream, out)
}

/// Runs an xz `decoder` over `stream` into `out`.
fn xz_with(decoder: &mut xz4rust::XzDecoder<'_>, stream: &[u8], out: &mut [u8]) -> Result<usize, String> {
    use xz4rust::XzNextBlockResult;
    let (mut read, mut written) = (0, 0);
    loop {
        let result = decoder.decode(&stream[read..], &mut out[written..]).map_err(|e| format!("{e}"))?;
        read += result.input_consumed();
        written += result.output_produced();
        match result {
            XzNextBlockResult::EndOfStream(..) => return Ok(written),
            XzNextBlockResult::NeedMoreData(i, o) => {
                if written == out.len() && o == 0 {
                    return Err(overrun(out.len()));
                }
                if read == stream.len() || (i == 0 && o == 0) {
                    return Err(String::from("the stream is truncated"));
                }
            }
        }
    }
}

/// The LZMA2 dictionary size in an .xz stream's first block header (the
/// .xz format: a 12-byte stream header; a block header of `(byte 0 + 1) * 4`
/// bytes with its flags, optional sizes and filter flags, LZMA2 last).
fn xz_dict_size(stream: &[u8]) -> Option<usize> {
    const LZMA2: u64 = 0x21;
    fn vli(c: &mut Cursor) -> Option<u64> {
        let mut v = 0u64;
        for i in 0..9 {
            let b = c.u8("a number").ok()?;
            v |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Some(v);
            }
        }
        None
    }
    let size_byte = *stream.get(12)?;
    if size_byte == 0 {
        return None; // no block: the index follows
    }
    let header = stream.get(12..12 + (usize::from(size_byte) + 1) * 4)?;
    let mut c = Cursor { bytes: header, at: 1 };
    let flags = c.u8("the block flags").ok()?;
    if flags & 0x40 != 0 {
        vli(&mut c)?;
    }
    if flags & 0x80 != 0 {
        vli(&mut c)?;
    }
    for _ in 0..=(flags & 3) {
        let id = vli(&mut c)?;
        let props_len = usize::try_from(vli(&mut c)?).ok()?;
        let props = c.take(props_len, "filter properties").ok()?;
        if id == LZMA2 {
            let p = u32::from(*props.first()?);
            return match p {
                0..=39 => usize::try_from((2 | (p & 1)) << (p / 2 + 11)).ok(),
                40 => Some(u32::MAX as usize),
                _ => None,
            };
        }
    }
    None
}

/// An .lzma ("alone") stream: properties, dictionary size, uncompressed
/// size (or all ones: "until the end marker") and LZMA data.
fn lzma(stream: &[u8], out: &mut [u8]) -> Result<usize, String> {
    use lzma_rust2::{Action, LzmaStream, Status};
    let mut decoder = LzmaStream::new_mem_limit(u32::MAX, None);
    let (mut read, mut written) = (0, 0);
    loop {
        let r = decoder.process(&stream[read..], &mut out[written..], Action::Finish).map_err(|e| format!("{e:?}"))?;
        read += r.bytes_consumed;
        written += r.bytes_produced;
        if r.status == Status::StreamEnd {
            return Ok(written);
        }
        if written == out.len() {
            // Room for one more byte tells "ended exactly here" from "more".
            let mut probe = [0u8; 1];
            let r = decoder.process(&stream[read..], &mut probe, Action::Finish).map_err(|e| format!("{e:?}"))?;
            if r.bytes_produced > 0 {
                return Err(overrun(out.len()));
            }
            read += r.bytes_consumed;
            if r.status == Status::StreamEnd {
                return Ok(written);
            }
        }
        if r.bytes_consumed == 0 && r.bytes_produced == 0 {
            return Err(String::from("the stream is truncated"));
        }
    }
}

/// One zstd frame, its content checksum checked when it has one (bytes
/// after the frame are ignored).
fn zstd(stream: &[u8], out: &mut [u8]) -> Result<usize, String> {
    use ruzstd::decoding::{BlockDecodingStrategy, FrameDecoder};
    use ruzstd::io::Read;
    let mut input = stream;
    let mut decoder = FrameDecoder::new();
    decoder.init(&mut input).map_err(|e| format!("{e}"))?;
    let mut written = 0;
    loop {
        decoder
            .decode_blocks(&mut input, BlockDecodingStrategy::UptoBytes(1 << 20))
            .map_err(|e| format!("{e}"))?;
        written += decoder.read(&mut out[written..]).map_err(|e| format!("{e:?}"))?;
        if decoder.can_collect() != 0 {
            return Err(overrun(out.len()));
        }
        if decoder.is_finished() {
            break;
        }
    }
    if let (Some(stored), Some(actual)) = (decoder.get_checksum_from_data(), decoder.get_calculated_checksum())
        && stored != actual
    {
        return Err(format!("content checksum {actual:#010x}, the frame says {stored:#010x}"));
    }
    Ok(written)
}

/// Legacy lz4 frame (`lz4 -l`, what Linux uses): the magic, then blocks, each
/// a little-endian compressed length and an independent LZ4 block of at most
/// 8 MiB decompressed, until the end of the stream or another frame's magic.
fn lz4_legacy(stream: &[u8], out: &mut [u8]) -> Result<usize, String> {
    const BLOCK_MAX: usize = 8 << 20;
    let mut c = Cursor { bytes: stream, at: 4 };
    let mut written = 0;
    while !c.rest().is_empty() {
        let len = c.u32_le("a block length")?;
        if len == LZ4_LEGACY_MAGIC {
            break;
        }
        let block = c.take(len as usize, "a block")?;
        let room = (out.len() - written).min(BLOCK_MAX);
        let n = lz4_flex::block::decompress_into(block, &mut out[written..written + room]).map_err(|e| format!("{e:?}"))?;
        written += n;
    }
    Ok(written)
}

/// The lzop container (`lzop`, what Linux uses for lzo): its header, then
/// blocks of decompressed length, compressed length, optional checksums and
/// LZO1X data (stored as is when no smaller), until a zero length.
fn lzop(stream: &[u8], out: &mut [u8]) -> Result<usize, String> {
    const F_ADLER32_D: u32 = 0x1;
    const F_ADLER32_C: u32 = 0x2;
    const F_H_EXTRA_FIELD: u32 = 0x40;
    const F_CRC32_D: u32 = 0x100;
    const F_CRC32_C: u32 = 0x200;
    const F_H_FILTER: u32 = 0x800;
    /// Versions from 0.9.40 carry "version needed", level and mtime_high.
    const NEW_HEADER: u16 = 0x0940;
    let mut c = Cursor { bytes: stream, at: LZOP_MAGIC.len() };
    let version = c.u16_be("the version")?;
    c.u16_be("the library version")?;
    if version >= NEW_HEADER {
        c.u16_be("the version needed")?;
    }
    let method = c.u8("the method")?;
    if !(1..=3).contains(&method) {
        return Err(format!("method {method} is not LZO1X"));
    }
    if version >= NEW_HEADER {
        c.u8("the level")?;
    }
    let flags = c.u32_be("the flags")?;
    if flags & F_H_FILTER != 0 {
        return Err(String::from("filtered lzop streams are not supported"));
    }
    c.u32_be("the mode")?;
    c.u32_be("the mtime")?;
    if version >= NEW_HEADER {
        c.u32_be("the mtime")?;
    }
    let name_len = c.u8("the name length")?;
    c.take(usize::from(name_len), "the name")?;
    c.u32_be("the header checksum")?;
    if flags & F_H_EXTRA_FIELD != 0 {
        let len = c.u32_be("the extra field length")?;
        c.take(len as usize, "the extra field")?;
        c.u32_be("the extra field checksum")?;
    }
    let mut written = 0;
    loop {
        let dst_len = c.u32_be("a block's length")? as usize;
        if dst_len == 0 {
            return Ok(written);
        }
        let src_len = c.u32_be("a block's compressed length")? as usize;
        let adler_d = (flags & F_ADLER32_D != 0).then(|| c.u32_be("a block's checksum")).transpose()?;
        let crc_d = (flags & F_CRC32_D != 0).then(|| c.u32_be("a block's checksum")).transpose()?;
        if src_len < dst_len {
            if flags & F_ADLER32_C != 0 {
                c.u32_be("a block's checksum")?;
            }
            if flags & F_CRC32_C != 0 {
                c.u32_be("a block's checksum")?;
            }
        }
        if src_len > dst_len {
            return Err(format!("a block of {dst_len:#x} bytes claims {src_len:#x} compressed"));
        }
        let src = c.take(src_len, "a block")?;
        let size = out.len();
        let dst = out.get_mut(written..written + dst_len).ok_or_else(|| overrun(size))?;
        if src_len == dst_len {
            dst.copy_from_slice(src);
        } else {
            let n = lzokay::decompress::decompress(src, dst).map_err(|e| format!("{e:?}"))?;
            if n != dst_len {
                return Err(format!("a block decoded to {n:#x} bytes, its header says {dst_len:#x}"));
            }
        }
        if let Some(sum) = adler_d {
            let actual = adler32(dst);
            if actual != sum {
                return Err(format!("a block's Adler-32 is {actual:#010x}, its header says {sum:#010x}"));
            }
        }
        if let Some(sum) = crc_d {
            let actual = crc32fast::hash(dst);
            if actual != sum {
                return Err(format!("a block's CRC-32 is {actual:#010x}, its header says {sum:#010x}"));
            }
        }
        written += dst_len;
    }
}

/// Adler-32 (RFC 1950).
fn adler32(data: &[u8]) -> u32 {
    const MOD: u32 = 65521;
    // 5552 bytes is the most that cannot overflow the u32 sums.
    let (mut a, mut b) = (1u32, 0u32);
    for chunk in data.chunks(5552) {
        for &byte in chunk {
            a += u32::from(byte);
            b += a;
        }
        a %= MOD;
        b %= MOD;
    }
    (b << 16) | a
}

/// Test helpers: compressed streams made with the crates' own compressors.
#[cfg(test)]
#[allow(clippy::cast_possible_truncation)] // sample sizes are small
pub(crate) mod samples {
    use super::*;
    use std::io::Write;

    /// Compressible bytes with x86 `call rel32` opcodes and some noise.
    pub fn data(len: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(len);
        let mut x = 0x1234_5678u32;
        while out.len() < len {
            out.extend_from_slice(format!("kernel text {:08x}\n", out.len()).as_bytes());
            out.push(0xe8);
            out.extend_from_slice(&(out.len() as u32).to_le_bytes());
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            out.extend_from_slice(&x.to_le_bytes()[..3]);
        }
        out.truncate(len);
        out
    }

    /// A gzip member with every optional header field.
    pub fn gzip(data: &[u8]) -> Vec<u8> {
        let mut g = vec![0x1f, 0x8b, 8, 0x1e, 0, 0, 0, 0, 2, 3];
        g.extend_from_slice(&3u16.to_le_bytes());
        g.extend_from_slice(b"xyz");
        g.extend_from_slice(b"vmlinux.bin\0a comment\0");
        g.extend_from_slice(&[0xab, 0xcd]);
        g.extend_from_slice(&miniz_oxide::deflate::compress_to_vec(data, 9));
        g.extend_from_slice(&crc32fast::hash(data).to_le_bytes());
        g.extend_from_slice(&(data.len() as u32).to_le_bytes());
        g
    }

    /// Linux's xz settings: BCJ x86, LZMA2, CRC-32.
    pub fn xz(data: &[u8]) -> Vec<u8> {
        use lzma_rust2::{CheckType, FilterType, XzOptions, XzWriter};
        let mut options = XzOptions::with_preset(6);
        options.set_check_sum_type(CheckType::Crc32);
        options.prepend_pre_filter(FilterType::BcjX86, 0);
        let mut w = XzWriter::new(Vec::new(), options).unwrap();
        w.write_all(data).unwrap();
        w.finish().unwrap()
    }

    /// An .lzma stream with an end marker and an unknown size, as `lzma` writes.
    pub fn lzma(data: &[u8]) -> Vec<u8> {
        use lzma_rust2::{LzmaOptions, LzmaWriter};
        let mut w = LzmaWriter::new_use_header(Vec::new(), &LzmaOptions::with_preset(6), None).unwrap();
        w.write_all(data).unwrap();
        w.finish().unwrap()
    }

    pub fn zstd(data: &[u8]) -> Vec<u8> {
        ruzstd::encoding::compress_to_vec(data, ruzstd::encoding::CompressionLevel::Fastest)
    }

    /// A legacy lz4 frame of `block`-byte blocks.
    pub fn lz4(data: &[u8], block: usize) -> Vec<u8> {
        let mut out = LZ4_LEGACY_MAGIC.to_le_bytes().to_vec();
        for chunk in data.chunks(block) {
            let c = lz4_flex::block::compress(chunk);
            out.extend_from_slice(&(c.len() as u32).to_le_bytes());
            out.extend_from_slice(&c);
        }
        out
    }

    /// An lzop stream (version 0x1030 header, Adler-32 of the data) of
    /// `block`-byte blocks; incompressible blocks are stored.
    pub fn lzo(data: &[u8], block: usize) -> Vec<u8> {
        let mut out = LZOP_MAGIC.to_vec();
        out.extend_from_slice(&0x1030u16.to_be_bytes());
        out.extend_from_slice(&0x2080u16.to_be_bytes());
        out.extend_from_slice(&0x0940u16.to_be_bytes());
        out.extend_from_slice(&[1, 9]);
        out.extend_from_slice(&1u32.to_be_bytes()); // F_ADLER32_D
        out.extend_from_slice(&[0; 12]); // mode, mtime low and high
        out.push(4);
        out.extend_from_slice(b"name");
        out.extend_from_slice(&0u32.to_be_bytes()); // header checksum (unchecked)
        for chunk in data.chunks(block) {
            let c = lzokay::compress::compress(chunk).unwrap();
            out.extend_from_slice(&(chunk.len() as u32).to_be_bytes());
            let stored = c.len() >= chunk.len();
            let payload = if stored { chunk } else { &c[..] };
            out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
            out.extend_from_slice(&adler32(chunk).to_be_bytes());
            out.extend_from_slice(payload);
        }
        out.extend_from_slice(&0u32.to_be_bytes());
        out
    }

    /// A sample of `format` made here (None: no compressor for it).
    pub fn compress(format: Compression, data: &[u8]) -> Option<Vec<u8>> {
        Some(match format {
            Compression::Gzip => gzip(data),
            Compression::Xz => xz(data),
            Compression::Lzma => lzma(data),
            Compression::Zstd => zstd(data),
            Compression::Lz4 => lz4(data, 8 << 20),
            Compression::Lzo => lzo(data, 256 << 10),
            Compression::Bzip2 => return None,
        })
    }
}

#[cfg(test)]
#[allow(clippy::cast_possible_truncation)] // sample sizes are small
mod tests {
    use super::*;
    use alloc::vec;

    const ALL: [Compression; 7] = [
        Compression::Gzip,
        Compression::Bzip2,
        Compression::Lzma,
        Compression::Xz,
        Compression::Lzo,
        Compression::Lz4,
        Compression::Zstd,
    ];

    /// Samples the host's tools made from `testdata/sample.bin`:
    /// `gzip -9 -n`, `xz --check=crc32 --x86 --lzma2=preset=9,dict=1MiB`,
    /// `xz --format=lzma -9`, `zstd -19`, `lz4 -l -9`, `lzop -9`, `bzip2 -9`.
    const SAMPLE: &[u8] = include_bytes!("../testdata/sample.bin");
    const TOOL_SAMPLES: [(Compression, &[u8]); 7] = [
        (Compression::Gzip, include_bytes!("../testdata/sample.gz")),
        (Compression::Xz, include_bytes!("../testdata/sample.xz")),
        (Compression::Lzma, include_bytes!("../testdata/sample.lzma")),
        (Compression::Zstd, include_bytes!("../testdata/sample.zst")),
        (Compression::Lz4, include_bytes!("../testdata/sample.lz4")),
        (Compression::Lzo, include_bytes!("../testdata/sample.lzo")),
        (Compression::Bzip2, include_bytes!("../testdata/sample.bz2")),
    ];

    #[test]
    fn every_format_is_recognised_by_its_magic() {
        for (format, stream) in TOOL_SAMPLES {
            assert_eq!(Compression::detect(stream), Some(format), "{format}");
        }
        assert_eq!(Compression::detect(b"\x7fELF"), None);
        assert_eq!(Compression::detect(b""), None);
        assert_eq!(Compression::detect(&[0x1f]), None);
    }

    #[test]
    fn the_host_tools_samples_decompress_in_every_supported_format() {
        for (format, stream) in TOOL_SAMPLES.into_iter().filter(|(f, _)| f.supported()) {
            let out = decompress(format, stream, SAMPLE.len()).unwrap_or_else(|e| panic!("{format}: {e}"));
            assert!(out == SAMPLE, "{format}: output differs");
        }
    }

    #[test]
    fn decompress_into_a_callers_buffers_gives_the_same_bytes() {
        for (format, stream) in TOOL_SAMPLES.into_iter().filter(|(f, _)| f.supported()) {
            let mut out = vec![0xaa; SAMPLE.len()];
            let mut dict = vec![0; dictionary_size(format, stream)];
            decompress_into(format, stream, &mut out, &mut dict).unwrap_or_else(|e| panic!("{format}: {e}"));
            assert!(out == SAMPLE, "{format}: output differs");
        }
    }

    #[test]
    fn xz_dictionary_size_is_the_streams_and_a_short_one_is_refused() {
        let xz = TOOL_SAMPLES[1].1;
        // The sample was made with dict=1MiB.
        assert_eq!(dictionary_size(Compression::Xz, xz), 1 << 20);
        assert_eq!(dictionary_size(Compression::Gzip, TOOL_SAMPLES[0].1), 0);
        let mut out = vec![0; SAMPLE.len()];
        let mut dict = vec![0; (1 << 20) - 1];
        let err = decompress_into(Compression::Xz, xz, &mut out, &mut dict).unwrap_err();
        assert!(matches!(err, DecompressError::Corrupt { format: Compression::Xz, .. }), "{err:?}");
        let mut long = vec![0; SAMPLE.len() + 1];
        let mut dict = vec![0; 1 << 20];
        let err = decompress_into(Compression::Xz, xz, &mut long, &mut dict).unwrap_err();
        assert!(matches!(err, DecompressError::SizeMismatch { got, .. } if got == SAMPLE.len()), "{err:?}");
    }

    #[test]
    fn bzip2_is_named_as_unsupported() {
        let err = decompress(Compression::Bzip2, TOOL_SAMPLES[6].1, SAMPLE.len()).unwrap_err();
        assert_eq!(err, DecompressError::Unsupported(Compression::Bzip2));
        assert!(err.to_string().starts_with("bzip2-compressed payload is not supported"), "{err}");
    }

    #[test]
    fn the_crates_samples_of_several_blocks_decompress() {
        let data = samples::data(600_000);
        for format in ALL.into_iter().filter(|f| f.supported()) {
            let stream = match format {
                // Several blocks, the last one short.
                Compression::Lz4 => samples::lz4(&data, 256 << 10),
                Compression::Lzo => samples::lzo(&data, 100_000),
                f => samples::compress(f, &data).unwrap(),
            };
            let out = decompress(format, &stream, data.len()).unwrap_or_else(|e| panic!("{format}: {e}"));
            assert!(out == data, "{format}: output differs");
        }
    }

    #[test]
    fn an_empty_output_decompresses_in_every_format() {
        for format in ALL.into_iter().filter(|f| f.supported()) {
            let stream = samples::compress(format, b"").unwrap();
            assert_eq!(decompress(format, &stream, 0).unwrap_or_else(|e| panic!("{format}: {e}")), b"");
        }
    }

    #[test]
    fn a_size_field_that_lies_is_an_error_naming_the_format() {
        for (format, stream) in TOOL_SAMPLES.into_iter().filter(|(f, _)| f.supported()) {
            let long = decompress(format, stream, SAMPLE.len() + 1).unwrap_err();
            assert!(long.to_string().starts_with(format.name()) || long.to_string().contains(&format!(" {format} ")), "{format}: {long}");
            assert!(
                matches!(long, DecompressError::SizeMismatch { expected, got, .. } if expected == SAMPLE.len() + 1 && got == SAMPLE.len())
                    || matches!(long, DecompressError::Corrupt { .. }),
                "{format}: {long:?}"
            );
            let short = decompress(format, stream, SAMPLE.len() - 1).unwrap_err();
            assert!(matches!(short, DecompressError::Corrupt { .. }), "{format}: {short:?}");
            assert!(short.to_string().contains(format.name()), "{format}: {short}");
        }
    }

    #[test]
    fn a_size_too_large_to_allocate_is_an_error() {
        let err = decompress(Compression::Xz, TOOL_SAMPLES[1].1, usize::MAX).unwrap_err();
        assert_eq!(err, DecompressError::TooLarge { format: Compression::Xz, size: usize::MAX });
    }

    #[test]
    fn truncated_streams_are_corrupt_not_short() {
        for (format, stream) in TOOL_SAMPLES.into_iter().filter(|(f, _)| f.supported()) {
            for cut in [stream.len() / 2, stream.len() - 1] {
                let err = decompress(format, &stream[..cut], SAMPLE.len()).unwrap_err();
                assert!(
                    matches!(err, DecompressError::Corrupt { .. } | DecompressError::SizeMismatch { .. }),
                    "{format} cut at {cut}: {err:?}"
                );
                assert!(err.to_string().contains(format.name()), "{format}: {err}");
            }
        }
    }

    #[test]
    fn a_flipped_byte_is_caught() {
        // Each format's sample carries a checksum of the data (gzip CRC-32,
        // xz CRC-32, zstd's XXH64, lzop Adler-32) or breaks its own coding.
        for (format, stream) in TOOL_SAMPLES.into_iter().filter(|(f, _)| f.supported()) {
            let mut bad = stream.to_vec();
            let at = bad.len() / 2;
            bad[at] ^= 0x55;
            let result = decompress(format, &bad, SAMPLE.len());
            match result {
                Err(e) => assert!(e.to_string().contains(format.name()), "{format}: {e}"),
                // lz4 and lzma have no checksum: a flip may decode to other bytes.
                Ok(out) => {
                    assert!(matches!(format, Compression::Lz4 | Compression::Lzma), "{format} accepted a flipped byte");
                    assert!(out != SAMPLE, "{format}");
                }
            }
        }
    }

    #[test]
    fn the_xz_dictionary_size_is_read_from_the_first_block_header() {
        assert_eq!(xz_dict_size(TOOL_SAMPLES[1].1), Some(1 << 20));
        assert_eq!(xz_dict_size(&samples::xz(b"abc")), Some(8 << 20));
        // An empty stream has no block; a cut one no complete header.
        assert_eq!(xz_dict_size(&samples::xz(b"")), None);
        assert_eq!(xz_dict_size(&TOOL_SAMPLES[1].1[..14]), None);
        assert_eq!(xz_dict_size(b""), None);
    }

    #[test]
    fn gzip_headers_are_checked() {
        let data = samples::data(1000);
        let good = samples::gzip(&data);
        assert_eq!(decompress(Compression::Gzip, &good, 1000).unwrap(), data);
        let mut method = good.clone();
        method[2] = 7;
        assert_eq!(
            decompress(Compression::Gzip, &method, 1000).unwrap_err().to_string(),
            "corrupt gzip payload: compression method 7 is not deflate (8)"
        );
        let mut reserved = good.clone();
        reserved[3] |= 0x80;
        assert_eq!(
            decompress(Compression::Gzip, &reserved, 1000).unwrap_err().to_string(),
            "corrupt gzip payload: reserved header flags 0x9e set"
        );
        assert_eq!(
            decompress(Compression::Gzip, &good[..14], 1000).unwrap_err().to_string(),
            "corrupt gzip payload: truncated at the extra field (offset 0xc)"
        );
        let mut crc = good.clone();
        let n = crc.len();
        crc[n - 8] ^= 1;
        assert!(decompress(Compression::Gzip, &crc, 1000).unwrap_err().to_string().contains("CRC-32"));
    }

    #[test]
    fn lz4_stops_at_a_following_frame_and_refuses_a_truncated_block() {
        let data = samples::data(5000);
        let mut two = samples::lz4(&data, 4096);
        two.extend_from_slice(&samples::lz4(b"another frame", 4096));
        assert_eq!(decompress(Compression::Lz4, &two, 5000).unwrap(), data);
        let one = samples::lz4(&data, 4096);
        let err = decompress(Compression::Lz4, &one[..one.len() - 3], 5000).unwrap_err();
        assert!(err.to_string().starts_with("corrupt lz4 payload: truncated at a block"), "{err}");
    }

    #[test]
    fn lzop_stored_blocks_and_bad_headers() {
        // Noise does not compress: stored blocks.
        let mut x = 7u32;
        let noise: Vec<u8> = (0..3000)
            .map(|_| {
                x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (x >> 24) as u8
            })
            .collect();
        let stream = samples::lzo(&noise, 1000);
        assert_eq!(decompress(Compression::Lzo, &stream, 3000).unwrap(), noise);
        let mut method = stream.clone();
        method[15] = 9;
        assert_eq!(
            decompress(Compression::Lzo, &method, 3000).unwrap_err().to_string(),
            "corrupt lzo payload: method 9 is not LZO1X"
        );
        let mut sum = stream;
        let last = sum.len() - 5;
        sum[last] ^= 1;
        assert!(decompress(Compression::Lzo, &sum, 3000).unwrap_err().to_string().contains("Adler-32"));
    }

    #[test]
    fn adler32_matches_known_values() {
        assert_eq!(adler32(b""), 1);
        assert_eq!(adler32(b"Wikipedia"), 0x11e6_0398);
        let big = vec![0xffu8; 100_000];
        // Reference computed without the chunked reduction.
        let (mut a, mut b) = (1u64, 0u64);
        for &byte in &big {
            a = (a + u64::from(byte)) % 65521;
            b = (b + a) % 65521;
        }
        assert_eq!(adler32(&big), ((b << 16) | a) as u32);
    }
}
