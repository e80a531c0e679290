//! The PVH kernel loader: checks an ELF kernel image and copies its loadable
//! segments into a domain's memory.
//!
//! A Linux bzImage is accepted too, as Xen's loaders accept it: its payload
//! ([`crate::bzimage`]) is decompressed ([`crate::decompress`]) into the
//! vmlinux ELF, which the image keeps and loads as any PVH ELF.
//!
//! A PVH kernel is any ELF32 or ELF64 image for x86 carrying the Xen note
//! `XEN_ELFNOTE_PHYS32_ENTRY`: it is entered at that 32-bit physical address
//! in protected mode, paging off (Xen's `docs/misc/pvh.pandoc`). Segments are
//! loaded at their physical addresses (`p_paddr`), as Xen's libelf does for
//! PVH. The ELF structures are decoded by the `elf` crate; every check a
//! malformed image could fail is here, with a message naming the file.

use alloc::boxed::Box;
use alloc::string::{String, ToString};
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt;
use core::ops::Range;

use abi::elfnote::{XEN_ELFNOTE_NAME, XEN_ELFNOTE_PHYS32_ENTRY};
use elf::abi::{EI_NIDENT, EM_386, EM_X86_64, PN_XNUM, PT_LOAD, PT_NOTE, SHT_NOTE};
use elf::endian::LittleEndian;
use elf::file::{Class, FileHeader, parse_ident};
use elf::note::{Note, NoteIterator};
use elf::section::SectionHeaderTable;
use elf::segment::SegmentTable;
use elf::ParseError;

use crate::bzimage::{self, BzImageError};
use crate::decompress::{self, Compression, DecompressError};
use crate::memory::{GuestFault, GuestMemory};

/// ELF header size after `e_ident`, per class (ELF gABI "ELF Header").
const EHDR_TAIL: [usize; 2] = [36, 48];
/// Program and section header sizes, per class.
const PHENT: [u16; 2] = [32, 56];
const SHENT: [u16; 2] = [40, 64];

/// One `PT_LOAD` segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segment {
    /// Its index in the program header table (the number error messages use).
    pub index: usize,
    /// Guest-physical load address (`p_paddr`).
    pub paddr: u64,
    pub file_offset: u64,
    pub filesz: u64,
    /// Bytes in memory; the part past `filesz` is zeroed (bss).
    pub memsz: u64,
}

impl Segment {
    /// Guest-physical bytes the segment occupies.
    pub fn memory(&self) -> Range<u64> {
        self.paddr..self.paddr + self.memsz
    }
}

/// What file a kernel came in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KernelFormat {
    /// The PVH ELF itself.
    Elf,
    /// A bzImage whose payload decompressed into the PVH ELF.
    BzImage {
        /// Boot protocol version (0x020f: 2.15).
        protocol: u16,
        compression: Compression,
        /// Payload bytes in the file.
        compressed: usize,
        /// Bytes of the ELF it decompressed into.
        elf: usize,
    },
}

/// The ELF decompressed from a bzImage, shared by clones of the image.
#[derive(Clone, PartialEq, Eq)]
struct DecompressedElf(Arc<Vec<u8>>);

impl fmt::Debug for DecompressedElf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DecompressedElf({:#x} bytes)", self.0.len())
    }
}

/// A checked PVH kernel image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PvhImage {
    /// The file's name, for messages.
    pub name: String,
    /// Whether the ELF is ELF64 (else ELF32).
    pub elf64: bool,
    /// `XEN_ELFNOTE_PHYS32_ENTRY`: where the vCPU starts, in 32-bit mode.
    pub entry: u32,
    /// Loadable segments with a non-zero size, in program header order;
    /// none overlap, and `entry` lies inside one.
    pub segments: Vec<Segment>,
    pub format: KernelFormat,
    /// For a bzImage, the ELF that `segments` are offsets into.
    decompressed: Option<DecompressedElf>,
}

/// A bzImage's compressed payload, for a caller that decompresses it into
/// memory of its own ([`PvhImage::parse_decompressed`]) rather than the heap.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BzImagePayload<'a> {
    pub protocol: u16,
    pub compression: Compression,
    /// The compressed stream (without the appended size field).
    pub stream: &'a [u8],
    /// Payload bytes in the file.
    pub compressed: usize,
    /// Bytes of the ELF it decompresses into.
    pub size: usize,
}

impl<'a> BzImagePayload<'a> {
    /// The payload of `bytes`, a bzImage ([`bzimage::is_bzimage`]).
    pub fn find(bytes: &'a [u8]) -> Result<BzImagePayload<'a>, PvhErrorKind> {
        let payload = bzimage::payload(bytes).map_err(PvhErrorKind::BzImage)?;
        let data = &bytes[payload.range.clone()];
        let compression = Compression::detect(data).ok_or_else(|| {
            let mut first = [0; 4];
            first.copy_from_slice(&data[..4]);
            PvhErrorKind::UnknownCompression(first)
        })?;
        // gzip's own trailer ends with the size; the others have it appended.
        let stream = if compression == Compression::Gzip { data } else { &data[..data.len() - 4] };
        let size = payload.uncompressed_size as usize;
        Ok(BzImagePayload { protocol: payload.header.protocol, compression, stream, compressed: data.len(), size })
    }

    /// Dictionary bytes [`Self::decompress_into`] needs besides the output.
    pub fn dictionary_size(&self) -> usize {
        decompress::dictionary_size(self.compression, self.stream)
    }

    /// Decompresses into `out` (exactly [`Self::size`] bytes), xz's
    /// dictionary in `dict`.
    pub fn decompress_into(&self, out: &mut [u8], dict: &mut [u8]) -> Result<(), PvhErrorKind> {
        if out.len() != self.size {
            return Err(PvhErrorKind::Decompress(decompress::DecompressError::SizeMismatch {
                format: self.compression,
                expected: self.size,
                got: out.len(),
            }));
        }
        decompress::decompress_into(self.compression, self.stream, out, dict).map_err(PvhErrorKind::Decompress)
    }

    fn format(&self) -> KernelFormat {
        KernelFormat::BzImage { protocol: self.protocol, compression: self.compression, compressed: self.compressed, elf: self.size }
    }
}

/// What is wrong with an image (shown after its file name).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PvhErrorKind {
    /// Neither an ELF nor a bzImage.
    NotElf,
    /// A bzImage whose setup header is unusable.
    BzImage(BzImageError),
    /// A bzImage payload in no known compression format (its first bytes).
    UnknownCompression([u8; 4]),
    /// A bzImage payload that did not decompress.
    Decompress(DecompressError),
    /// A bzImage payload that decompressed into something that is not a
    /// PVH ELF.
    Payload { compression: Compression, error: Box<PvhErrorKind> },
    TruncatedHeader,
    UnsupportedClass(u8),
    NotLittleEndian(u8),
    UnsupportedVersion,
    WrongMachine { elf64: bool, machine: u16 },
    BadProgramHeaderSize(u16),
    TooManyProgramHeaders,
    TruncatedProgramHeaders { offset: u64, size: u64 },
    NoLoadableSegment,
    NoEntryNote,
    BadEntryNote { descsz: usize },
    EntryTooLarge(u64),
    FileRangePastEnd { index: usize, offset: u64, size: u64 },
    MemszBelowFilesz { index: usize, filesz: u64, memsz: u64 },
    AddressOverflow { index: usize, paddr: u64, memsz: u64 },
    Overlap { first: usize, second: usize },
    EntryOutside(u32),
    Load { index: usize, fault: GuestFault },
}

impl fmt::Display for PvhErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PvhErrorKind::NotElf => f.write_str("not an ELF file or a bzImage"),
            PvhErrorKind::BzImage(e) => write!(f, "{e}"),
            PvhErrorKind::UnknownCompression(m) => write!(
                f,
                "bzImage payload in an unknown compression format (first bytes {:02x} {:02x} {:02x} {:02x})",
                m[0], m[1], m[2], m[3]
            ),
            PvhErrorKind::Decompress(e) => write!(f, "bzImage: {e}"),
            PvhErrorKind::Payload { compression, error } => write!(f, "bzImage's {compression} payload: {error}"),
            PvhErrorKind::TruncatedHeader => f.write_str("truncated ELF header"),
            PvhErrorKind::UnsupportedClass(c) => write!(f, "unsupported ELF class {c} (expected 1 for ELF32 or 2 for ELF64)"),
            PvhErrorKind::NotLittleEndian(d) => write!(f, "ELF data encoding {d} is not little-endian"),
            PvhErrorKind::UnsupportedVersion => f.write_str("unsupported ELF version (expected 1)"),
            PvhErrorKind::WrongMachine { elf64, machine } => write!(
                f,
                "ELF{} machine {machine} is not x86 (expected {EM_X86_64}{})",
                if *elf64 { 64 } else { 32 },
                if *elf64 { "" } else { " or 3" }
            ),
            PvhErrorKind::BadProgramHeaderSize(s) => write!(f, "program header entry size {s} is wrong for this ELF class"),
            PvhErrorKind::TooManyProgramHeaders => f.write_str("more than 65534 program headers (PN_XNUM) are not supported"),
            PvhErrorKind::TruncatedProgramHeaders { offset, size } => {
                write!(f, "truncated program header table ({size:#x} bytes at {offset:#x} run past the end of the file)")
            }
            PvhErrorKind::NoLoadableSegment => f.write_str("no loadable (PT_LOAD) segment"),
            PvhErrorKind::NoEntryNote => f.write_str("no XEN_ELFNOTE_PHYS32_ENTRY note: not a PVH kernel"),
            PvhErrorKind::BadEntryNote { descsz } => {
                write!(f, "XEN_ELFNOTE_PHYS32_ENTRY note has {descsz} bytes (expected 4 or 8)")
            }
            PvhErrorKind::EntryTooLarge(e) => write!(f, "XEN_ELFNOTE_PHYS32_ENTRY {e:#x} is above 4 GiB"),
            PvhErrorKind::FileRangePastEnd { index, offset, size } => {
                write!(f, "segment {index} file range {offset:#x}+{size:#x} runs past the end of the file")
            }
            PvhErrorKind::MemszBelowFilesz { index, filesz, memsz } => {
                write!(f, "segment {index}: memsz {memsz:#x} < filesz {filesz:#x}")
            }
            PvhErrorKind::AddressOverflow { index, paddr, memsz } => {
                write!(f, "segment {index}: address {paddr:#x}+{memsz:#x} overflows")
            }
            PvhErrorKind::Overlap { first, second } => write!(f, "segments {first} and {second} overlap"),
            PvhErrorKind::EntryOutside(e) => write!(f, "entry {e:#x} is outside every loadable segment"),
            PvhErrorKind::Load { index, fault } => write!(f, "loading segment {index}: {fault}"),
        }
    }
}

/// An image error, naming the file: `dom0: not an ELF file`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PvhError {
    pub file: String,
    pub kind: PvhErrorKind,
}

impl fmt::Display for PvhError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.file, self.kind)
    }
}

/// `bytes[offset..offset + size]`, if it is inside the file.
fn file_range(bytes: &[u8], offset: u64, size: u64) -> Option<&[u8]> {
    let start = usize::try_from(offset).ok()?;
    let end = start.checked_add(usize::try_from(size).ok()?)?;
    bytes.get(start..end)
}

/// The entry point from the first `XEN_ELFNOTE_PHYS32_ENTRY` in `notes`
/// (a note area: 4-byte aligned headers, names and descriptors).
fn find_entry_note(notes: &[u8], elf64: bool) -> Option<Result<u32, PvhErrorKind>> {
    let class = if elf64 { Class::ELF64 } else { Class::ELF32 };
    // The iterator ends at the area's end or at the first malformed note.
    NoteIterator::new(LittleEndian, class, 4, notes).find_map(|note| match note {
        Note::Unknown(n) if n.name == XEN_ELFNOTE_NAME && n.n_type == u64::from(XEN_ELFNOTE_PHYS32_ENTRY) => {
            Some(entry_from_desc(n.desc))
        }
        _ => None,
    })
}

fn entry_from_desc(desc: &[u8]) -> Result<u32, PvhErrorKind> {
    let value = match desc.len() {
        4 => u64::from(u32::from_le_bytes(desc.try_into().expect("4 bytes"))),
        8 => u64::from_le_bytes(desc.try_into().expect("8 bytes")),
        n => return Err(PvhErrorKind::BadEntryNote { descsz: n }),
    };
    u32::try_from(value).map_err(|_| PvhErrorKind::EntryTooLarge(value))
}

impl PvhImage {
    /// Checks `bytes` as a PVH kernel called `name` (for messages): a PVH
    /// ELF, or a bzImage whose payload decompresses into one (the image
    /// then holds that ELF).
    pub fn parse(name: &str, bytes: &[u8]) -> Result<PvhImage, PvhError> {
        let fail = |kind| PvhError { file: name.to_string(), kind };
        if bzimage::is_bzimage(bytes) {
            let (format, elf) = Self::decompress_bzimage(bytes).map_err(fail)?;
            let KernelFormat::BzImage { compression, .. } = format else { unreachable!("a bzImage") };
            let (elf64, entry, segments) =
                Self::check(&elf).map_err(|error| fail(PvhErrorKind::Payload { compression, error: Box::new(error) }))?;
            let decompressed = Some(DecompressedElf(Arc::new(elf)));
            return Ok(PvhImage { name: name.to_string(), elf64, entry, segments, format, decompressed });
        }
        let (elf64, entry, segments) = Self::check(bytes).map_err(fail)?;
        Ok(PvhImage { name: name.to_string(), elf64, entry, segments, format: KernelFormat::Elf, decompressed: None })
    }

    /// The ELF in a bzImage's payload.
    fn decompress_bzimage(bytes: &[u8]) -> Result<(KernelFormat, Vec<u8>), PvhErrorKind> {
        let payload = BzImagePayload::find(bytes)?;
        let elf = decompress::decompress(payload.compression, payload.stream, payload.size).map_err(PvhErrorKind::Decompress)?;
        Ok((payload.format(), elf))
    }

    /// Checks `elf`, the ELF a caller decompressed itself from `payload`
    /// (with [`BzImagePayload::decompress_into`], into memory of its own);
    /// the image keeps no copy: pass `elf` to [`PvhImage::load`].
    pub fn parse_decompressed(name: &str, payload: &BzImagePayload, elf: &[u8]) -> Result<PvhImage, PvhError> {
        let compression = payload.compression;
        let (elf64, entry, segments) = Self::check(elf).map_err(|error| PvhError {
            file: name.to_string(),
            kind: PvhErrorKind::Payload { compression, error: Box::new(error) },
        })?;
        Ok(PvhImage { name: name.to_string(), elf64, entry, segments, format: payload.format(), decompressed: None })
    }

    /// The ELF the segments are in: for a bzImage the decompressed payload,
    /// else `file` (the bytes `parse` checked).
    pub fn elf_bytes<'a>(&'a self, file: &'a [u8]) -> &'a [u8] {
        self.decompressed.as_ref().map_or(file, |d| d.0.as_slice())
    }

    fn check(bytes: &[u8]) -> Result<(bool, u32, Vec<Segment>), PvhErrorKind> {
        use PvhErrorKind as E;
        if bytes.get(..4) != Some(b"\x7fELF".as_slice()) {
            return Err(E::NotElf);
        }
        let ident_bytes = bytes.get(..EI_NIDENT).ok_or(E::TruncatedHeader)?;
        let ident = parse_ident::<LittleEndian>(ident_bytes).map_err(|e| match e {
            ParseError::UnsupportedElfClass(c) => E::UnsupportedClass(c),
            ParseError::UnsupportedElfEndianness(d) => E::NotLittleEndian(d),
            ParseError::UnsupportedVersion(_) => E::UnsupportedVersion,
            _ => E::NotElf,
        })?;
        let elf64 = ident.1 == Class::ELF64;
        let class_index = usize::from(elf64);
        let tail = bytes.get(EI_NIDENT..EI_NIDENT + EHDR_TAIL[class_index]).ok_or(E::TruncatedHeader)?;
        let ehdr = FileHeader::parse_tail(ident, tail).map_err(|_| E::TruncatedHeader)?;
        if ehdr.version != 1 {
            return Err(E::UnsupportedVersion);
        }
        if !(ehdr.e_machine == EM_X86_64 || (!elf64 && ehdr.e_machine == EM_386)) {
            return Err(E::WrongMachine { elf64, machine: ehdr.e_machine });
        }

        // The program header table.
        if ehdr.e_phnum == PN_XNUM {
            return Err(E::TooManyProgramHeaders);
        }
        if ehdr.e_phnum == 0 {
            return Err(E::NoLoadableSegment);
        }
        if ehdr.e_phentsize != PHENT[class_index] {
            return Err(E::BadProgramHeaderSize(ehdr.e_phentsize));
        }
        let table_size = u64::from(ehdr.e_phnum) * u64::from(ehdr.e_phentsize);
        let table = file_range(bytes, ehdr.e_phoff, table_size)
            .ok_or(E::TruncatedProgramHeaders { offset: ehdr.e_phoff, size: table_size })?;
        let phdrs = SegmentTable::new(LittleEndian, ehdr.class, table);

        // At most 65534 headers, each looked at once.
        let mut segments = Vec::new();
        let mut entry = None;
        for (index, ph) in phdrs.iter().enumerate() {
            match ph.p_type {
                PT_LOAD => {
                    if ph.p_memsz < ph.p_filesz {
                        return Err(E::MemszBelowFilesz { index, filesz: ph.p_filesz, memsz: ph.p_memsz });
                    }
                    if file_range(bytes, ph.p_offset, ph.p_filesz).is_none() {
                        return Err(E::FileRangePastEnd { index, offset: ph.p_offset, size: ph.p_filesz });
                    }
                    if ph.p_paddr.checked_add(ph.p_memsz).is_none() {
                        return Err(E::AddressOverflow { index, paddr: ph.p_paddr, memsz: ph.p_memsz });
                    }
                    if ph.p_memsz > 0 {
                        segments.push(Segment {
                            index,
                            paddr: ph.p_paddr,
                            file_offset: ph.p_offset,
                            filesz: ph.p_filesz,
                            memsz: ph.p_memsz,
                        });
                    }
                }
                PT_NOTE if entry.is_none() => {
                    let notes = file_range(bytes, ph.p_offset, ph.p_filesz).ok_or(E::FileRangePastEnd {
                        index,
                        offset: ph.p_offset,
                        size: ph.p_filesz,
                    })?;
                    entry = find_entry_note(notes, elf64).transpose()?;
                }
                _ => {}
            }
        }
        if segments.is_empty() {
            return Err(E::NoLoadableSegment);
        }
        let entry = match entry {
            Some(e) => e,
            None => Self::entry_from_sections(bytes, &ehdr, elf64).ok_or(E::NoEntryNote)??,
        };

        let mut by_address: Vec<&Segment> = segments.iter().collect();
        by_address.sort_unstable_by_key(|s| s.paddr);
        for pair in by_address.windows(2) {
            if pair[0].memory().end > pair[1].paddr {
                let (a, b) = (pair[0].index, pair[1].index);
                return Err(E::Overlap { first: a.min(b), second: a.max(b) });
            }
        }
        if !segments.iter().any(|s| s.memory().contains(&u64::from(entry))) {
            return Err(E::EntryOutside(entry));
        }
        Ok((elf64, entry, segments))
    }

    /// The entry note from `SHT_NOTE` sections, for images whose program
    /// headers carry none. A damaged section table just means "no note".
    fn entry_from_sections(bytes: &[u8], ehdr: &FileHeader<LittleEndian>, elf64: bool) -> Option<Result<u32, PvhErrorKind>> {
        if ehdr.e_shoff == 0 || ehdr.e_shnum == 0 || ehdr.e_shentsize != SHENT[usize::from(elf64)] {
            return None;
        }
        let size = u64::from(ehdr.e_shnum) * u64::from(ehdr.e_shentsize);
        let table = SectionHeaderTable::new(LittleEndian, ehdr.class, file_range(bytes, ehdr.e_shoff, size)?);
        // At most 65535 sections.
        table
            .iter()
            .filter(|sh| sh.sh_type == SHT_NOTE)
            .filter_map(|sh| file_range(bytes, sh.sh_offset, sh.sh_size))
            .find_map(|notes| find_entry_note(notes, elf64))
    }

    /// The lowest guest-physical address the image occupies.
    pub fn lowest_address(&self) -> u64 {
        self.segments.iter().map(|s| s.paddr).min().unwrap_or(0)
    }

    /// One past the highest guest-physical address the image occupies (its
    /// bss included): the domain's RAM must reach at least this far.
    pub fn highest_address(&self) -> u64 {
        self.segments.iter().map(|s| s.memory().end).max().unwrap_or(0)
    }

    /// Copies every segment's file bytes to its physical address in `mem` and
    /// zeroes the rest of it. `bytes` is the file `parse` checked (for a
    /// bzImage, the ELF it decompressed is used). Every segment's memory is
    /// checked first, so a fault loads nothing.
    pub fn load(&self, bytes: &[u8], mem: &mut impl GuestMemory) -> Result<(), PvhError> {
        let fail = |kind| PvhError { file: self.name.clone(), kind };
        let bytes = self.elf_bytes(bytes);
        for s in &self.segments {
            mem.check(s.paddr, s.memsz, true).map_err(|fault| fail(PvhErrorKind::Load { index: s.index, fault }))?;
        }
        for s in &self.segments {
            let data = file_range(bytes, s.file_offset, s.filesz).ok_or(fail(PvhErrorKind::FileRangePastEnd {
                index: s.index,
                offset: s.file_offset,
                size: s.filesz,
            }))?;
            let load = |fault| fail(PvhErrorKind::Load { index: s.index, fault });
            mem.write(s.paddr, data).map_err(load)?;
            mem.fill_zero(s.paddr + s.filesz, s.memsz - s.filesz).map_err(load)?;
        }
        Ok(())
    }
}

/// Small ELF kernels for tests (here and in dependents, with the `testing`
/// feature).
#[cfg(any(test, feature = "testing"))]
pub mod testing {
    use alloc::vec;
    use alloc::vec::Vec;

    use abi::elfnote::{XEN_ELFNOTE_NAME, XEN_ELFNOTE_PHYS32_ENTRY};
    use elf::abi::{EM_X86_64, PT_LOAD, PT_NOTE, SHT_NOTE};

    /// A PT_LOAD segment for [`ElfBuilder`].
    pub struct Load {
        pub paddr: u64,
        pub data: Vec<u8>,
        pub memsz: u64,
    }

    /// Writes small ELF32/ELF64 kernels: header, program headers (loads,
    /// then a PT_NOTE if `note_in_segment`), notes, segment data, and a
    /// section table with an SHT_NOTE section.
    pub struct ElfBuilder {
        pub elf64: bool,
        pub machine: u16,
        pub loads: Vec<Load>,
        /// The PHYS32_ENTRY descriptor (4 or 8 bytes), if any.
        pub entry_desc: Option<Vec<u8>>,
        pub note_in_segment: bool,
    }

    impl ElfBuilder {
        pub fn new(elf64: bool, entry: u32, loads: Vec<Load>) -> Self {
            ElfBuilder {
                elf64,
                machine: EM_X86_64,
                loads,
                entry_desc: Some(entry.to_le_bytes().to_vec()),
                note_in_segment: true,
            }
        }

        fn word(&self, out: &mut Vec<u8>, v: u64) {
            if self.elf64 {
                out.extend_from_slice(&v.to_le_bytes());
            } else {
                out.extend_from_slice(&u32::try_from(v).unwrap().to_le_bytes());
            }
        }

        fn notes(&self) -> Vec<u8> {
            let mut n = Vec::new();
            // An unrelated note first, so the search has to skip one.
            for (name, ty, desc) in [(&b"GNU\0"[..], 3u32, &[1u8, 2, 3, 4, 5][..])]
                .into_iter()
                .chain(self.entry_desc.as_deref().map(|d| (&XEN_ELFNOTE_NAME[..], XEN_ELFNOTE_PHYS32_ENTRY, d)))
            {
                n.extend_from_slice(&u32::try_from(name.len()).unwrap().to_le_bytes());
                n.extend_from_slice(&u32::try_from(desc.len()).unwrap().to_le_bytes());
                n.extend_from_slice(&ty.to_le_bytes());
                n.extend_from_slice(name);
                n.resize(n.len().next_multiple_of(4), 0);
                n.extend_from_slice(desc);
                n.resize(n.len().next_multiple_of(4), 0);
            }
            n
        }

        pub fn build(&self) -> Vec<u8> {
            let (ehsize, phentsize, shentsize) = if self.elf64 { (64, 56, 64) } else { (52, 32, 40) };
            let phnum = self.loads.len() + usize::from(self.note_in_segment);
            let notes = self.notes();
            let notes_at = ehsize + phnum * phentsize;
            let mut data_at = notes_at + notes.len();
            let mut offsets = Vec::new();
            for l in &self.loads {
                offsets.push(data_at);
                data_at += l.data.len();
            }
            let shoff = data_at.next_multiple_of(8);

            let mut out = vec![0x7f, b'E', b'L', b'F', if self.elf64 { 2 } else { 1 }, 1, 1, 0];
            out.resize(16, 0);
            out.extend_from_slice(&2u16.to_le_bytes()); // ET_EXEC
            out.extend_from_slice(&self.machine.to_le_bytes());
            out.extend_from_slice(&1u32.to_le_bytes());
            self.word(&mut out, 0xffff_ffff); // e_entry: virtual, unused for PVH
            self.word(&mut out, ehsize as u64);
            self.word(&mut out, shoff as u64);
            out.extend_from_slice(&0u32.to_le_bytes());
            for v in [ehsize, phentsize, phnum, shentsize, 2, 0] {
                out.extend_from_slice(&u16::try_from(v).unwrap().to_le_bytes());
            }
            assert_eq!(out.len(), ehsize);

            let phdr = |out: &mut Vec<u8>, ty: u32, offset: usize, paddr: u64, filesz: usize, memsz: u64| {
                out.extend_from_slice(&ty.to_le_bytes());
                if self.elf64 {
                    out.extend_from_slice(&7u32.to_le_bytes()); // p_flags
                }
                self.word(out, offset as u64);
                self.word(out, paddr | 0x8000_0000); // p_vaddr differs from p_paddr
                self.word(out, paddr);
                self.word(out, filesz as u64);
                self.word(out, memsz);
                if !self.elf64 {
                    out.extend_from_slice(&7u32.to_le_bytes());
                }
                self.word(out, 4); // p_align
            };
            for (l, &off) in self.loads.iter().zip(&offsets) {
                phdr(&mut out, PT_LOAD, off, l.paddr, l.data.len(), l.memsz);
            }
            if self.note_in_segment {
                phdr(&mut out, PT_NOTE, notes_at, 0, notes.len(), 0);
            }
            out.extend_from_slice(&notes);
            for l in &self.loads {
                out.extend_from_slice(&l.data);
            }
            out.resize(shoff, 0);
            // Section 0 is the null section; section 1 is the notes.
            out.resize(shoff + shentsize, 0);
            out.extend_from_slice(&0u32.to_le_bytes());
            out.extend_from_slice(&SHT_NOTE.to_le_bytes());
            for v in [0, 0, notes_at as u64, notes.len() as u64] {
                self.word(&mut out, v);
            }
            out.extend_from_slice(&[0; 8]);
            self.word(&mut out, 4);
            self.word(&mut out, 0);
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::testing::{ElfBuilder, Load};
    use super::*;
    use crate::memory::FlatMemory;
    use alloc::vec;

    fn load(paddr: u64, data: &[u8], memsz: u64) -> Load {
        Load { paddr, data: data.to_vec(), memsz }
    }

    /// A kernel with text at 1 MiB and data+bss at 1 MiB + 8 KiB.
    fn kernel(elf64: bool) -> ElfBuilder {
        ElfBuilder::new(elf64, 0x10_0010, vec![load(0x10_0000, b"TEXTTEXTTEXTTEXTentry", 0x1000), load(0x10_2000, b"DATA", 0x3000)])
    }

    fn parse_err(b: &ElfBuilder) -> String {
        parse_bytes_err(&b.build())
    }

    fn parse_bytes_err(bytes: &[u8]) -> String {
        PvhImage::parse("dom0", bytes).unwrap_err().to_string()
    }

    #[test]
    fn an_elf64_pvh_kernel_parses_and_loads_with_its_bss_zeroed() {
        let bytes = kernel(true).build();
        let image = PvhImage::parse("dom0", &bytes).unwrap();
        assert!(image.elf64);
        assert_eq!(image.entry, 0x10_0010);
        assert_eq!(image.segments.len(), 2);
        assert_eq!((image.segments[1].paddr, image.segments[1].filesz, image.segments[1].memsz), (0x10_2000, 4, 0x3000));
        assert_eq!((image.lowest_address(), image.highest_address()), (0x10_0000, 0x10_5000));
        let mut mem = FlatMemory::new(0x10_0000, 0x6000);
        mem.bytes.fill(0xcc);
        image.load(&bytes, &mut mem).unwrap();
        assert_eq!(mem.at(0x10_0000, 21), b"TEXTTEXTTEXTTEXTentry");
        assert!(mem.at(0x10_0015, 0x1000 - 21).iter().all(|&b| b == 0), "text segment's bss zeroed");
        assert_eq!(mem.at(0x10_1000, 1), [0xcc], "the gap between segments is untouched");
        assert_eq!(mem.at(0x10_2000, 4), b"DATA");
        assert!(mem.at(0x10_2004, 0x2ffc).iter().all(|&b| b == 0));
        assert_eq!(mem.at(0x10_5000, 1), [0xcc]);
    }

    #[test]
    fn an_elf32_pvh_kernel_parses_for_either_x86_machine() {
        for machine in [EM_X86_64, EM_386] {
            let mut b = kernel(false);
            b.machine = machine;
            let bytes = b.build();
            let image = PvhImage::parse("dom0", &bytes).unwrap();
            assert!(!image.elf64);
            assert_eq!(image.entry, 0x10_0010);
            let mut mem = FlatMemory::new(0x10_0000, 0x5000);
            image.load(&bytes, &mut mem).unwrap();
            assert_eq!(mem.at(0x10_2000, 4), b"DATA");
        }
    }

    #[test]
    fn an_elf64_kernel_for_i386_is_refused() {
        let mut b = kernel(true);
        b.machine = EM_386;
        assert_eq!(parse_err(&b), "dom0: ELF64 machine 3 is not x86 (expected 62)");
    }

    #[test]
    fn an_8_byte_entry_note_is_accepted_if_it_fits_32_bits() {
        let mut b = kernel(true);
        b.entry_desc = Some(0x10_0004u64.to_le_bytes().to_vec());
        assert_eq!(PvhImage::parse("dom0", &b.build()).unwrap().entry, 0x10_0004);
        b.entry_desc = Some((1u64 << 32).to_le_bytes().to_vec());
        assert_eq!(parse_err(&b), "dom0: XEN_ELFNOTE_PHYS32_ENTRY 0x100000000 is above 4 GiB");
        b.entry_desc = Some(vec![1, 2]);
        assert_eq!(parse_err(&b), "dom0: XEN_ELFNOTE_PHYS32_ENTRY note has 2 bytes (expected 4 or 8)");
    }

    #[test]
    fn the_entry_note_is_found_in_a_note_section_when_no_segment_has_it() {
        let mut b = kernel(true);
        b.note_in_segment = false;
        assert_eq!(PvhImage::parse("dom0", &b.build()).unwrap().entry, 0x10_0010);
    }

    #[test]
    fn a_kernel_without_the_entry_note_is_not_pvh() {
        let mut b = kernel(true);
        b.entry_desc = None;
        assert_eq!(parse_err(&b), "dom0: no XEN_ELFNOTE_PHYS32_ENTRY note: not a PVH kernel");
        b.note_in_segment = false;
        assert_eq!(parse_err(&b), "dom0: no XEN_ELFNOTE_PHYS32_ENTRY note: not a PVH kernel");
    }

    #[test]
    fn files_that_are_not_elf_or_cut_short_are_named_as_such() {
        assert_eq!(parse_bytes_err(b"MZ\x90\x00 a PE file"), "dom0: not an ELF file or a bzImage");
        assert_eq!(parse_bytes_err(b""), "dom0: not an ELF file or a bzImage");
        let bytes = kernel(true).build();
        assert_eq!(parse_bytes_err(&bytes[..10]), "dom0: truncated ELF header");
        assert_eq!(parse_bytes_err(&bytes[..40]), "dom0: truncated ELF header");
        assert_eq!(
            parse_bytes_err(&bytes[..100]),
            "dom0: truncated program header table (0xa8 bytes at 0x40 run past the end of the file)"
        );
        let mut big_endian = bytes.clone();
        big_endian[5] = 2;
        assert_eq!(parse_bytes_err(&big_endian), "dom0: ELF data encoding 2 is not little-endian");
    }

    #[test]
    fn overlapping_segments_are_refused_by_their_indices() {
        let b = ElfBuilder::new(true, 0x10_0000, vec![load(0x10_0000, b"a", 0x2000), load(0x20_0000, b"b", 0x10), load(0x10_1000, b"c", 0x10)]);
        assert_eq!(parse_err(&b), "dom0: segments 0 and 2 overlap");
    }

    #[test]
    fn an_entry_outside_every_segment_is_refused() {
        let b = ElfBuilder::new(false, 0x20_0000, vec![load(0x10_0000, b"a", 0x1000)]);
        assert_eq!(parse_err(&b), "dom0: entry 0x200000 is outside every loadable segment");
    }

    #[test]
    fn a_segment_whose_file_range_runs_past_the_end_is_refused() {
        let bytes = kernel(true).build();
        // Cut the file inside the second segment's data.
        let at = bytes.windows(4).position(|w| w == b"DATA").unwrap();
        assert_eq!(
            parse_bytes_err(&bytes[..at + 2]),
            format!("dom0: segment 1 file range {at:#x}+0x4 runs past the end of the file")
        );
    }

    #[test]
    fn memsz_smaller_than_filesz_is_refused() {
        let b = ElfBuilder::new(true, 0x10_0000, vec![load(0x10_0000, b"abcdef", 4)]);
        assert_eq!(parse_err(&b), "dom0: segment 0: memsz 0x4 < filesz 0x6");
    }

    #[test]
    fn a_segment_address_that_overflows_is_refused() {
        let b = ElfBuilder::new(true, 0x10_0000, vec![load(0x10_0000, b"a", 1), load(u64::MAX - 4, b"b", 16)]);
        assert_eq!(parse_err(&b), format!("dom0: segment 1: address {:#x}+0x10 overflows", u64::MAX - 4));
    }

    /// `elf` in a bzImage, compressed as `format` (with Linux's size trailer).
    fn bzimage_of(format: Compression, elf: &[u8]) -> Vec<u8> {
        let stream = crate::decompress::samples::compress(format, elf).unwrap();
        let payload = if format == Compression::Gzip { stream } else { crate::bzimage::testing::with_size(&stream, elf.len()) };
        crate::bzimage::testing::bzimage(0x020f, 27, 0x3c0, &payload)
    }

    #[test]
    fn a_bzimage_in_every_supported_compression_parses_and_loads_its_elf() {
        let elf = kernel(true).build();
        let direct = PvhImage::parse("dom0", &elf).unwrap();
        assert_eq!(direct.format, KernelFormat::Elf);
        for format in [Compression::Gzip, Compression::Xz, Compression::Lzma, Compression::Zstd, Compression::Lz4, Compression::Lzo] {
            let file = bzimage_of(format, &elf);
            let image = PvhImage::parse("dom0", &file).unwrap_or_else(|e| panic!("{format}: {e}"));
            assert_eq!((image.elf64, image.entry, &image.segments), (direct.elf64, direct.entry, &direct.segments), "{format}");
            assert!(
                matches!(image.format, KernelFormat::BzImage { protocol: 0x020f, compression, elf: n, .. } if compression == format && n == elf.len()),
                "{format}: {:?}",
                image.format
            );
            assert_eq!(image.elf_bytes(&file), &elf[..]);
            let mut mem = FlatMemory::new(0x10_0000, 0x6000);
            mem.bytes.fill(0xcc);
            // The file given to `load` is the bzImage: the image uses its ELF.
            image.load(&file, &mut mem).unwrap();
            assert_eq!(mem.at(0x10_0000, 21), b"TEXTTEXTTEXTTEXTentry", "{format}");
            assert_eq!(mem.at(0x10_2000, 4), b"DATA", "{format}");
            assert!(mem.at(0x10_2004, 0x2ffc).iter().all(|&b| b == 0), "{format}");
        }
    }

    #[test]
    fn a_bzimage_decompressed_by_the_caller_parses_and_loads_as_parse_does() {
        let elf = kernel(true).build();
        for format in [Compression::Gzip, Compression::Xz, Compression::Lz4, Compression::Lzo] {
            let file = bzimage_of(format, &elf);
            let whole = PvhImage::parse("dom0", &file).unwrap();
            let payload = BzImagePayload::find(&file).unwrap();
            assert_eq!((payload.compression, payload.size), (format, elf.len()));
            let mut out = vec![0; payload.size];
            let mut dict = vec![0; payload.dictionary_size()];
            payload.decompress_into(&mut out, &mut dict).unwrap_or_else(|e| panic!("{format}: {e}"));
            assert!(out == elf, "{format}");
            let image = PvhImage::parse_decompressed("dom0", &payload, &out).unwrap();
            assert_eq!((image.entry, &image.segments, image.format), (whole.entry, &whole.segments, whole.format), "{format}");
            let mut mem = FlatMemory::new(0x10_0000, 0x6000);
            image.load(&out, &mut mem).unwrap();
            assert_eq!(mem.at(0x10_0000, 21), b"TEXTTEXTTEXTTEXTentry", "{format}");
            let mut short = vec![0; payload.size - 1];
            assert!(payload.decompress_into(&mut short, &mut dict).is_err(), "{format}");
        }
        let not_elf = bzimage_of(Compression::Gzip, b"no ELF here");
        let payload = BzImagePayload::find(&not_elf).unwrap();
        let mut out = vec![0; payload.size];
        payload.decompress_into(&mut out, &mut []).unwrap();
        let err = PvhImage::parse_decompressed("dom0", &payload, &out).unwrap_err();
        assert_eq!(err.to_string(), "dom0: bzImage's gzip payload: not an ELF file or a bzImage");
    }

    #[test]
    fn a_bzimage_payload_that_is_no_pvh_elf_is_named_with_its_compression() {
        let not_elf = bzimage_of(Compression::Zstd, b"just some bytes, no ELF");
        assert_eq!(parse_bytes_err(&not_elf), "dom0: bzImage's zstd payload: not an ELF file or a bzImage");
        let mut b = kernel(true);
        b.entry_desc = None;
        let no_note = bzimage_of(Compression::Xz, &b.build());
        assert_eq!(parse_bytes_err(&no_note), "dom0: bzImage's xz payload: no XEN_ELFNOTE_PHYS32_ENTRY note: not a PVH kernel");
    }

    #[test]
    fn bzimage_errors_name_the_format() {
        let elf = kernel(true).build();
        let unknown = crate::bzimage::testing::bzimage(0x020f, 4, 0, b"\x12\x34\x56\x78rest\x10\x00\x00\x00");
        assert_eq!(
            parse_bytes_err(&unknown),
            "dom0: bzImage payload in an unknown compression format (first bytes 12 34 56 78)"
        );
        let bzip2 = crate::bzimage::testing::bzimage(0x020f, 4, 0, b"BZh91AY&SY\x10\x00\x00\x00");
        assert_eq!(
            parse_bytes_err(&bzip2),
            "dom0: bzImage: bzip2-compressed payload is not supported (no maintained no_std bzip2 decoder with a safe interface)"
        );
        // The size trailer lies.
        let stream = crate::decompress::samples::compress(Compression::Lz4, &elf).unwrap();
        let lying = crate::bzimage::testing::bzimage(0x020f, 4, 0, &crate::bzimage::testing::with_size(&stream, elf.len() + 100));
        assert_eq!(
            parse_bytes_err(&lying),
            format!("dom0: bzImage: lz4 payload decompressed to {:#x} bytes, its size field says {:#x}", elf.len(), elf.len() + 100)
        );
        // A corrupt stream.
        let mut corrupt = bzimage_of(Compression::Xz, &elf);
        let mid = 28 * 512 + 0x3c0 + 40;
        corrupt[mid] ^= 0xff;
        assert!(parse_bytes_err(&corrupt).starts_with("dom0: bzImage: corrupt xz payload: "), "{}", parse_bytes_err(&corrupt));
        // A header that lies about the payload.
        let mut outside = bzimage_of(Compression::Gzip, &elf);
        outside[0x24c..0x250].copy_from_slice(&0x10_0000u32.to_le_bytes());
        assert!(parse_bytes_err(&outside).starts_with("dom0: bzImage payload 0x3bc0+0x100000 runs past the end of the file"));
        // A payload_length that cuts the stream: its "size trailer" is then
        // stream bytes, and the cut stream cannot decode to that size.
        for format in [Compression::Gzip, Compression::Xz, Compression::Zstd, Compression::Lz4, Compression::Lzo, Compression::Lzma] {
            let mut cut = bzimage_of(format, &elf);
            let length = u32::from_le_bytes(cut[0x24c..0x250].try_into().unwrap());
            cut[0x24c..0x250].copy_from_slice(&(length - 9).to_le_bytes());
            let err = parse_bytes_err(&cut);
            assert!(err.starts_with("dom0: bzImage: ") && err.contains(&format!(" {format} payload")), "{format}: {err}");
        }
        assert_eq!(
            parse_bytes_err(&bzimage_of(Compression::Gzip, &elf)[..0x300]),
            "dom0: truncated bzImage: its setup needs 0x3800 bytes, the file has 0x300"
        );
    }

    /// Times parsing a real bzImage (decompression included): run with
    /// `PVH_BZIMAGE=target/debian/vmlinuz cargo test --release -p pvh --lib
    /// -- --ignored --nocapture real_bzimage` (`cargo xtask debian` fetches
    /// Debian's kernel there).
    #[test]
    #[ignore = "needs a real bzImage named by PVH_BZIMAGE"]
    fn real_bzimage_decompression_time() {
        let path = std::env::var("PVH_BZIMAGE").expect("PVH_BZIMAGE names a bzImage");
        let file = std::fs::read(&path).unwrap();
        let start = std::time::Instant::now();
        let image = PvhImage::parse("kernel", &file).unwrap();
        let elapsed = start.elapsed();
        let KernelFormat::BzImage { protocol, compression, compressed, elf } = image.format else { panic!("{path} is not a bzImage") };
        std::println!(
            "{path}: boot protocol {}.{:02}, {compression} payload {compressed} bytes -> ELF {elf} bytes, entry {:#x}, {} segments: parsed and decompressed in {:.3} s",
            protocol >> 8,
            protocol & 0xff,
            image.entry,
            image.segments.len(),
            elapsed.as_secs_f64()
        );
    }

    #[test]
    fn loading_into_memory_too_small_fails_before_writing_anything() {
        let bytes = kernel(true).build();
        let image = PvhImage::parse("dom0", &bytes).unwrap();
        let mut mem = FlatMemory::new(0x10_0000, 0x4000);
        let err = image.load(&bytes, &mut mem).unwrap_err();
        assert_eq!(err.to_string(), "dom0: loading segment 1: gpa 0x104000 is not mapped in the domain's p2m");
        assert!(mem.bytes.iter().all(|&b| b == 0));
    }
}
