//! Dom0's kernel as the builder loads it: a PVH ELF as given, or a bzImage
//! whose payload is decompressed here.
//!
//! A bzImage is decompressed into scratch frames (`mm::scratch`), not the
//! heap (4 MiB) and not Dom0's own RAM: Debian's kernel is a 63 MiB ELF out
//! of an xz stream with a 32 MiB dictionary. The ELF's segments then load
//! into Dom0 as any ELF's do, and both buffers go back to the allocator
//! once Dom0 is built, so Dom0 and the free pool end up as with an ELF.
//! (Decompressing into Dom0's RAM itself would need a streaming ELF
//! loader: the ELF's notes and segments are at file offsets, Dom0's RAM is
//! not contiguous in the hypervisor's window, and the file would overlap
//! the segments it is loaded to.)
//!
//! gzip, xz, lz4 and lzo decode with a few KiB of heap; lzma and zstd keep
//! their window on the heap, which cannot hold it: they are refused by
//! name, with the way out.

#![forbid(unsafe_code)]

use core::fmt;

use crate::arch::x86_64::{cpu, tsc};
use crate::domain::pvh::{BzImagePayload, KernelFormat, PvhError, PvhErrorKind, PvhImage};
use crate::mm::scratch::ScratchBuffer;
use pvh::decompress::Compression;

/// The checked kernel, and the ELF it came from when that is not the file.
pub struct Dom0Kernel {
    pub image: PvhImage,
    elf: Option<ScratchBuffer>,
    /// Microseconds the decompression took (0 for an ELF).
    pub decompress_us: u64,
}

#[derive(Debug)]
pub enum KernelError {
    Image(PvhError),
    /// A payload format whose decoder needs more heap than the hypervisor has.
    HeapDecoder(Compression),
    /// No run of free contiguous frames for the ELF or the dictionary.
    NoScratch { what: &'static str, bytes: usize },
}

impl fmt::Display for KernelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KernelError::Image(e) => write!(f, "{e}"),
            KernelError::HeapDecoder(c) => write!(
                f,
                "dom0: bzImage with a {c} payload: the hypervisor decompresses Dom0's gzip, xz, lz4 or lzo payloads \
                 (this decoder keeps its window on the heap); give the vmlinux ELF instead"
            ),
            KernelError::NoScratch { what, bytes } => {
                write!(f, "dom0: no {} MiB of contiguous free memory for decompressing the kernel's {what}", bytes.div_ceil(1 << 20))
            }
        }
    }
}

impl Dom0Kernel {
    /// Checks `file` (and decompresses it if it is a bzImage).
    pub fn prepare(file: &[u8]) -> Result<Dom0Kernel, KernelError> {
        if !pvh::bzimage::is_bzimage(file) {
            let image = PvhImage::parse("dom0", file).map_err(KernelError::Image)?;
            return Ok(Dom0Kernel { image, elf: None, decompress_us: 0 });
        }
        let fail = |kind| KernelError::Image(PvhError { file: "dom0".into(), kind });
        let payload = BzImagePayload::find(file).map_err(fail)?;
        if !matches!(payload.compression, Compression::Gzip | Compression::Xz | Compression::Lz4 | Compression::Lzo) {
            return Err(if payload.compression.supported() {
                KernelError::HeapDecoder(payload.compression)
            } else {
                fail(PvhErrorKind::Decompress(pvh::decompress::DecompressError::Unsupported(payload.compression)))
            });
        }
        if payload.size > pvh::decompress::MAX_OUTPUT {
            return Err(fail(PvhErrorKind::Decompress(pvh::decompress::DecompressError::TooLarge {
                format: payload.compression,
                size: payload.size,
            })));
        }
        let start = cpu::rdtsc();
        let mut elf = ScratchBuffer::alloc(payload.size).ok_or(KernelError::NoScratch { what: "ELF", bytes: payload.size })?;
        {
            let dict_bytes = payload.dictionary_size();
            let mut dict = match dict_bytes {
                0 => None,
                n => Some(ScratchBuffer::alloc(n).ok_or(KernelError::NoScratch { what: "xz dictionary", bytes: n })?),
            };
            let dict = dict.as_mut().map_or(&mut [][..], ScratchBuffer::as_mut_slice);
            payload.decompress_into(elf.as_mut_slice(), dict).map_err(fail)?;
            // The dictionary goes back here, before Dom0's RAM is taken.
        }
        let decompress_us = (cpu::rdtsc() - start) * 1000 / tsc::khz().max(1);
        let image = PvhImage::parse_decompressed("dom0", &payload, elf.as_slice()).map_err(KernelError::Image)?;
        Ok(Dom0Kernel { image, elf: Some(elf), decompress_us })
    }

    /// The ELF the image's segments are in (`file` is what `prepare` got).
    pub fn elf<'a>(&'a self, file: &'a [u8]) -> &'a [u8] {
        self.elf.as_ref().map_or(file, ScratchBuffer::as_slice)
    }

    /// One line on where the kernel came from, for the log.
    pub fn describe(&self) -> alloc::string::String {
        match self.image.format {
            KernelFormat::Elf => alloc::format!("ELF{}", if self.image.elf64 { 64 } else { 32 }),
            KernelFormat::BzImage { protocol, compression, compressed, elf } => alloc::format!(
                "bzImage (boot protocol {}.{:02}), {compression} payload {} KiB -> ELF {} KiB in {}.{:03} s",
                protocol >> 8,
                protocol & 0xff,
                compressed >> 10,
                elf >> 10,
                self.decompress_us / 1_000_000,
                self.decompress_us / 1000 % 1000
            ),
        }
    }
}
