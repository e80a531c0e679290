//! Mirrors xen/include/public/grant_table.h
//!
//! A grant table is an array of [`GrantEntryV1`] in frames the hypervisor
//! shares with a domain. A domain writes an entry to let another domain
//! (`domid`) map or copy one of its frames; the hypervisor marks the entry
//! `GTF_reading`/`GTF_writing` while that access is in use.
//!
//! `HYPERVISOR_grant_table_op(cmd, uop, count)` sub-ops:
//!
//! | cmd | uop (`count` entries) |
//! |-----|-----|
//! | `GNTTABOP_map_grant_ref` | [`GnttabMapGrantRef`] |
//! | `GNTTABOP_unmap_grant_ref` | [`GnttabUnmapGrantRef`] |
//! | `GNTTABOP_setup_table` | [`GnttabSetupTable`] ([`CompatGnttabSetupTable`]) |
//! | `GNTTABOP_copy` | [`GnttabCopy`] ([`CompatGnttabCopy`]) |
//! | `GNTTABOP_query_size` | [`GnttabQuerySize`] |
//! | `GNTTABOP_set_version` | [`GnttabSetVersion`] |
//! | `GNTTABOP_get_version` | [`GnttabGetVersion`] |
//! | `GNTTABOP_swap_grant_ref` | [`GnttabSwapGrantRef`] |
//!
//! Where a guest handle or `xen_pfn_t` changes the layout, a `Compat*` twin
//! has the layout a 32-bit guest uses (4-byte handles and pfns).

use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

pub const GNTTABOP_MAP_GRANT_REF: u64 = 0;
pub const GNTTABOP_UNMAP_GRANT_REF: u64 = 1;
pub const GNTTABOP_SETUP_TABLE: u64 = 2;
pub const GNTTABOP_DUMP_TABLE: u64 = 3;
pub const GNTTABOP_TRANSFER: u64 = 4;
pub const GNTTABOP_COPY: u64 = 5;
pub const GNTTABOP_QUERY_SIZE: u64 = 6;
pub const GNTTABOP_UNMAP_AND_REPLACE: u64 = 7;
pub const GNTTABOP_SET_VERSION: u64 = 8;
pub const GNTTABOP_GET_STATUS_FRAMES: u64 = 9;
pub const GNTTABOP_GET_VERSION: u64 = 10;
pub const GNTTABOP_SWAP_GRANT_REF: u64 = 11;
pub const GNTTABOP_CACHE_FLUSH: u64 = 12;

/// The first entries a toolstack may fill in before the domain starts
/// (kept across version changes).
pub const GNTTAB_NR_RESERVED_ENTRIES: u32 = 8;
pub const GNTTAB_RESERVED_CONSOLE: u32 = 0;
pub const GNTTAB_RESERVED_XENSTORE: u32 = 1;

// grant_entry_v1.flags: type (bits 1:0) and flags.
/// This entry grants nothing.
pub const GTF_INVALID: u16 = 0;
/// `domid` may map or copy `frame`.
pub const GTF_PERMIT_ACCESS: u16 = 1;
/// `domid` may transfer a frame to this domain (PV only).
pub const GTF_ACCEPT_TRANSFER: u16 = 2;
/// `domid` may access a sub-range of another grant (version 2 only).
pub const GTF_TRANSITIVE: u16 = 3;
pub const GTF_TYPE_MASK: u16 = 3;
/// [GST] `domid` may only read the frame.
pub const GTF_READONLY: u16 = 1 << 2;
/// [XEN] The grant is in use for reading (mapped or being copied).
pub const GTF_READING: u16 = 1 << 3;
/// [XEN] The grant is in use for writing.
pub const GTF_WRITING: u16 = 1 << 4;
/// [GST] Cache attributes of a mapping (for I/O memory).
pub const GTF_PWT: u16 = 1 << 5;
pub const GTF_PCD: u16 = 1 << 6;
pub const GTF_PAT: u16 = 1 << 7;
/// [GST] A sub-page grant (version 2 only).
pub const GTF_SUB_PAGE: u16 = 1 << 8;
/// GTF_accept_transfer: [XEN] the transfer is committed / completed.
pub const GTF_TRANSFER_COMMITTED: u16 = 1 << 2;
pub const GTF_TRANSFER_COMPLETED: u16 = 1 << 3;

// gnttab_map_grant_ref.flags
/// Map for access by I/O devices (not for HVM guests).
pub const GNTMAP_DEVICE_MAP: u32 = 1 << 0;
/// Map for access by the CPU: `host_addr` (a guest-physical address for a
/// translated guest).
pub const GNTMAP_HOST_MAP: u32 = 1 << 1;
/// Map read-only.
pub const GNTMAP_READONLY: u32 = 1 << 2;
/// A user-space mapping (PV only).
pub const GNTMAP_APPLICATION_MAP: u32 = 1 << 3;
/// `host_addr` is the address of a PTE to update (PV only).
pub const GNTMAP_CONTAINS_PTE: u32 = 1 << 4;
/// Bits 16 and up are the guest's own.
pub const GNTMAP_GUEST_AVAIL_MASK: u32 = !0 << 16;

// GNTCOPY_* (gnttab_copy.flags)
/// `source.u` is a grant reference of `source.domid` (else a gmfn of the caller).
pub const GNTCOPY_SOURCE_GREF: u16 = 1 << 0;
/// `dest.u` is a grant reference of `dest.domid` (else a gmfn of the caller).
pub const GNTCOPY_DEST_GREF: u16 = 1 << 1;

// GNTST_* (the status of one op)
pub const GNTST_OKAY: i16 = 0;
pub const GNTST_GENERAL_ERROR: i16 = -1;
/// Unrecognised domain id.
pub const GNTST_BAD_DOMAIN: i16 = -2;
/// Unrecognised or inappropriate grant reference.
pub const GNTST_BAD_GNTREF: i16 = -3;
/// Unrecognised or inappropriate handle.
pub const GNTST_BAD_HANDLE: i16 = -4;
/// Inappropriate virtual address to map.
pub const GNTST_BAD_VIRT_ADDR: i16 = -5;
/// Inappropriate device address to unmap.
pub const GNTST_BAD_DEV_ADDR: i16 = -6;
/// Out of space in the I/O MMU.
pub const GNTST_NO_DEVICE_SPACE: i16 = -7;
/// Not enough privilege for the operation.
pub const GNTST_PERMISSION_DENIED: i16 = -8;
/// The page given was invalid for the operation.
pub const GNTST_BAD_PAGE: i16 = -9;
/// Copy arguments cross a page boundary.
pub const GNTST_BAD_COPY_ARG: i16 = -10;
/// Transfer page address too large.
pub const GNTST_ADDRESS_TOO_BIG: i16 = -11;
/// Not done; try again.
pub const GNTST_EAGAIN: i16 = -12;
/// Out of space (handles etc.).
pub const GNTST_NO_SPACE: i16 = -13;

/// `struct grant_entry_v1`: one entry of a version-1 grant table.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
pub struct GrantEntryV1 {
    /// [XEN,GST] `GTF_*` type and flags.
    pub flags: u16,
    /// [GST] The domain granted access.
    pub domid: u16,
    /// [GST] The gfn `domid` may access.
    pub frame: u32,
}

const _: () = assert!(core::mem::size_of::<GrantEntryV1>() == 8);
const _: () = assert!(core::mem::offset_of!(GrantEntryV1, flags) == 0);
const _: () = assert!(core::mem::offset_of!(GrantEntryV1, domid) == 2);
const _: () = assert!(core::mem::offset_of!(GrantEntryV1, frame) == 4);

/// `struct gnttab_map_grant_ref`, for `GNTTABOP_map_grant_ref`: map grant
/// `ref` of domain `dom`. Same layout for 32-bit guests.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
pub struct GnttabMapGrantRef {
    /// IN: where to map it (a guest-physical address for a translated guest).
    pub host_addr: u64,
    /// IN: `GNTMAP_*`.
    pub flags: u32,
    /// IN: the grant reference.
    pub r#ref: u32,
    /// IN: the granting domain.
    pub dom: u16,
    /// OUT: `GNTST_*`.
    pub status: i16,
    /// OUT: the handle to unmap it with.
    pub handle: u32,
    /// OUT: the frame's bus address.
    pub dev_bus_addr: u64,
}

const _: () = assert!(core::mem::size_of::<GnttabMapGrantRef>() == 32);
const _: () = assert!(core::mem::offset_of!(GnttabMapGrantRef, host_addr) == 0);
const _: () = assert!(core::mem::offset_of!(GnttabMapGrantRef, flags) == 8);
const _: () = assert!(core::mem::offset_of!(GnttabMapGrantRef, r#ref) == 12);
const _: () = assert!(core::mem::offset_of!(GnttabMapGrantRef, dom) == 16);
const _: () = assert!(core::mem::offset_of!(GnttabMapGrantRef, status) == 18);
const _: () = assert!(core::mem::offset_of!(GnttabMapGrantRef, handle) == 20);
const _: () = assert!(core::mem::offset_of!(GnttabMapGrantRef, dev_bus_addr) == 24);

/// `struct gnttab_unmap_grant_ref`, for `GNTTABOP_unmap_grant_ref`: undo the
/// mapping `handle` tracks; a zero address leaves that kind of mapping.
/// Same layout for 32-bit guests (`uint64_t` first, so no 4-byte alignment
/// difference).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
pub struct GnttabUnmapGrantRef {
    /// IN: the address it is mapped at (0: leave the host mapping).
    pub host_addr: u64,
    /// IN: the device mapping's bus address (0: leave it).
    pub dev_bus_addr: u64,
    /// IN: from `GNTTABOP_map_grant_ref`.
    pub handle: u32,
    /// OUT: `GNTST_*`.
    pub status: i16,
    /// C's implicit padding at the end.
    pub _pad: u16,
}

const _: () = assert!(core::mem::size_of::<GnttabUnmapGrantRef>() == 24);
const _: () = assert!(core::mem::offset_of!(GnttabUnmapGrantRef, host_addr) == 0);
const _: () = assert!(core::mem::offset_of!(GnttabUnmapGrantRef, dev_bus_addr) == 8);
const _: () = assert!(core::mem::offset_of!(GnttabUnmapGrantRef, handle) == 16);
const _: () = assert!(core::mem::offset_of!(GnttabUnmapGrantRef, status) == 20);

/// `struct gnttab_setup_table`, for `GNTTABOP_setup_table`: grow `dom`'s
/// table to at least `nr_frames` frames and list their frames (a
/// translated guest gets the gfn each is mapped at, or `INVALID_GFN`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
pub struct GnttabSetupTable {
    /// IN: the domain (`DOMID_SELF`; others need privilege).
    pub dom: u16,
    /// C's implicit padding.
    pub _pad: u16,
    /// IN: frames wanted.
    pub nr_frames: u32,
    /// OUT: `GNTST_*`.
    pub status: i16,
    /// C's implicit padding.
    pub _pad2: [u16; 3],
    /// IN: guest handle of a `xen_pfn_t` array of `nr_frames` (OUT).
    pub frame_list: u64,
}

const _: () = assert!(core::mem::size_of::<GnttabSetupTable>() == 24);
const _: () = assert!(core::mem::offset_of!(GnttabSetupTable, dom) == 0);
const _: () = assert!(core::mem::offset_of!(GnttabSetupTable, nr_frames) == 4);
const _: () = assert!(core::mem::offset_of!(GnttabSetupTable, status) == 8);
const _: () = assert!(core::mem::offset_of!(GnttabSetupTable, frame_list) == 16);

/// [`GnttabSetupTable`] of a 32-bit guest: a 4-byte handle of a 4-byte
/// `xen_pfn_t` array.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
pub struct CompatGnttabSetupTable {
    pub dom: u16,
    pub _pad: u16,
    pub nr_frames: u32,
    pub status: i16,
    pub _pad2: u16,
    pub frame_list: u32,
}

const _: () = assert!(core::mem::size_of::<CompatGnttabSetupTable>() == 16);
const _: () = assert!(core::mem::offset_of!(CompatGnttabSetupTable, nr_frames) == 4);
const _: () = assert!(core::mem::offset_of!(CompatGnttabSetupTable, status) == 8);
const _: () = assert!(core::mem::offset_of!(CompatGnttabSetupTable, frame_list) == 12);

/// `struct gnttab_copy_ptr`: one end of a copy. `u` is a grant reference
/// (its low 4 bytes) or a gmfn, as `gnttab_copy.flags` says.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
pub struct GnttabCopyPtr {
    /// `union { grant_ref_t ref; xen_pfn_t gmfn; }`.
    pub u: u64,
    pub domid: u16,
    /// Byte offset in the frame.
    pub offset: u16,
    /// C's implicit padding.
    pub _pad: u32,
}

const _: () = assert!(core::mem::size_of::<GnttabCopyPtr>() == 16);
const _: () = assert!(core::mem::offset_of!(GnttabCopyPtr, domid) == 8);
const _: () = assert!(core::mem::offset_of!(GnttabCopyPtr, offset) == 10);

/// `struct gnttab_copy`, for `GNTTABOP_copy`: copy `len` bytes from
/// `source` to `dest`, each a grant of another domain or the caller's gmfn.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
pub struct GnttabCopy {
    /// IN.
    pub source: GnttabCopyPtr,
    /// IN.
    pub dest: GnttabCopyPtr,
    /// IN: bytes to copy.
    pub len: u16,
    /// IN: `GNTCOPY_*`.
    pub flags: u16,
    /// OUT: `GNTST_*`.
    pub status: i16,
    /// C's implicit padding at the end.
    pub _pad: u16,
}

const _: () = assert!(core::mem::size_of::<GnttabCopy>() == 40);
const _: () = assert!(core::mem::offset_of!(GnttabCopy, source) == 0);
const _: () = assert!(core::mem::offset_of!(GnttabCopy, dest) == 16);
const _: () = assert!(core::mem::offset_of!(GnttabCopy, len) == 32);
const _: () = assert!(core::mem::offset_of!(GnttabCopy, flags) == 34);
const _: () = assert!(core::mem::offset_of!(GnttabCopy, status) == 36);

/// [`GnttabCopyPtr`] of a 32-bit guest (4-byte `xen_pfn_t`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
pub struct CompatGnttabCopyPtr {
    pub u: u32,
    pub domid: u16,
    pub offset: u16,
}

const _: () = assert!(core::mem::size_of::<CompatGnttabCopyPtr>() == 8);

/// [`GnttabCopy`] of a 32-bit guest.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
pub struct CompatGnttabCopy {
    pub source: CompatGnttabCopyPtr,
    pub dest: CompatGnttabCopyPtr,
    pub len: u16,
    pub flags: u16,
    pub status: i16,
    /// C's implicit padding at the end.
    pub _pad: u16,
}

const _: () = assert!(core::mem::size_of::<CompatGnttabCopy>() == 24);
const _: () = assert!(core::mem::offset_of!(CompatGnttabCopy, dest) == 8);
const _: () = assert!(core::mem::offset_of!(CompatGnttabCopy, len) == 16);
const _: () = assert!(core::mem::offset_of!(CompatGnttabCopy, flags) == 18);
const _: () = assert!(core::mem::offset_of!(CompatGnttabCopy, status) == 20);

/// `struct gnttab_query_size`, for `GNTTABOP_query_size`: the current and
/// largest size of `dom`'s table. Same layout for 32-bit guests.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
pub struct GnttabQuerySize {
    /// IN: the domain (`DOMID_SELF`; others need privilege).
    pub dom: u16,
    /// C's implicit padding.
    pub _pad: u16,
    /// OUT.
    pub nr_frames: u32,
    /// OUT.
    pub max_nr_frames: u32,
    /// OUT: `GNTST_*`.
    pub status: i16,
    /// C's implicit padding at the end.
    pub _pad2: u16,
}

const _: () = assert!(core::mem::size_of::<GnttabQuerySize>() == 16);
const _: () = assert!(core::mem::offset_of!(GnttabQuerySize, nr_frames) == 4);
const _: () = assert!(core::mem::offset_of!(GnttabQuerySize, max_nr_frames) == 8);
const _: () = assert!(core::mem::offset_of!(GnttabQuerySize, status) == 12);

/// `struct gnttab_set_version`, for `GNTTABOP_set_version`. IN: the version
/// wanted; OUT: the version now in use. Same layout for 32-bit guests.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
pub struct GnttabSetVersion {
    pub version: u32,
}

const _: () = assert!(core::mem::size_of::<GnttabSetVersion>() == 4);

/// `struct gnttab_get_version`, for `GNTTABOP_get_version`. Same layout for
/// 32-bit guests.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
pub struct GnttabGetVersion {
    /// IN: the domain (`DOMID_SELF`; others need privilege).
    pub dom: u16,
    pub pad: u16,
    /// OUT.
    pub version: u32,
}

const _: () = assert!(core::mem::size_of::<GnttabGetVersion>() == 8);
const _: () = assert!(core::mem::offset_of!(GnttabGetVersion, version) == 4);

/// `struct gnttab_swap_grant_ref`, for `GNTTABOP_swap_grant_ref`: swap two
/// of the caller's entries. Same layout for 32-bit guests.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
pub struct GnttabSwapGrantRef {
    /// IN.
    pub ref_a: u32,
    /// IN.
    pub ref_b: u32,
    /// OUT: `GNTST_*`.
    pub status: i16,
    /// C's implicit padding at the end.
    pub _pad: u16,
}

const _: () = assert!(core::mem::size_of::<GnttabSwapGrantRef>() == 12);
const _: () = assert!(core::mem::offset_of!(GnttabSwapGrantRef, ref_b) == 4);
const _: () = assert!(core::mem::offset_of!(GnttabSwapGrantRef, status) == 8);
