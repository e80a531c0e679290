//! Mirrors xen/include/public/memory.h
//!
//! `HYPERVISOR_memory_op(cmd, arg)` sub-ops. (Xen keeps a continuation's
//! progress in `cmd` above bit 6; that encoding is Xen-internal, not in this
//! header.)
//!
//! | cmd | arg |
//! |-----|-----|
//! | `XENMEM_increase_reservation`, `decrease_reservation`, `populate_physmap`, `claim_pages` | [`XenMemoryReservation`] |
//! | `XENMEM_exchange` | [`XenMemoryExchange`] |
//! | `XENMEM_maximum_ram_page` | NULL |
//! | `XENMEM_current_reservation`, `maximum_reservation`, `maximum_gpfn` | `domid_t` ([`XenMemoryDomain`]) |
//! | `XENMEM_machphys_mfn_list`, `machphys_compat_mfn_list` | [`XenMachphysMfnList`] |
//! | `XENMEM_machphys_mapping` | [`XenMachphysMapping`] |
//! | `XENMEM_add_to_physmap` | [`XenAddToPhysmap`] |
//! | `XENMEM_add_to_physmap_batch` | [`XenAddToPhysmapBatch`] |
//! | `XENMEM_remove_from_physmap` | [`XenRemoveFromPhysmap`] |
//! | `XENMEM_memory_map`, `machine_memory_map` | [`XenMemoryMap`] of [`E820Entry`] |
//! | `XENMEM_set_memory_map` | [`XenForeignMemoryMap`] |
//! | `XENMEM_set_pod_target`, `get_pod_target` | [`XenPodTarget`] |
//! | `XENMEM_get_vnumainfo` | [`XenVnumaTopologyInfo`] |
//! | `XENMEM_acquire_resource` | [`XenMemAcquireResource`] |
//! | `XENMEM_access_op` | [`XenMemAccessOp`] |
//! | `XENMEM_reserved_device_memory_map` | [`XenReservedDeviceMemoryMap`] of [`XenReservedDeviceMemory`] |
//!
//! Structs holding guest handles or `xen_ulong_t`/`xen_pfn_t` have a
//! `Compat*` twin with the layout a 32-bit guest uses (4-byte handles, pfns
//! and ulongs; `uint64_t` only 4-byte aligned).

use crate::xen::{DomId, XenPfn, XenUlong};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

pub const XENMEM_INCREASE_RESERVATION: u64 = 0;
pub const XENMEM_DECREASE_RESERVATION: u64 = 1;
pub const XENMEM_MAXIMUM_RAM_PAGE: u64 = 2;
pub const XENMEM_CURRENT_RESERVATION: u64 = 3;
pub const XENMEM_MAXIMUM_RESERVATION: u64 = 4;
pub const XENMEM_MACHPHYS_MFN_LIST: u64 = 5;
pub const XENMEM_POPULATE_PHYSMAP: u64 = 6;
pub const XENMEM_ADD_TO_PHYSMAP: u64 = 7;
pub const XENMEM_MEMORY_MAP: u64 = 9;
pub const XENMEM_MACHINE_MEMORY_MAP: u64 = 10;
pub const XENMEM_EXCHANGE: u64 = 11;
pub const XENMEM_MACHPHYS_MAPPING: u64 = 12;
pub const XENMEM_SET_MEMORY_MAP: u64 = 13;
pub const XENMEM_MAXIMUM_GPFN: u64 = 14;
pub const XENMEM_REMOVE_FROM_PHYSMAP: u64 = 15;
pub const XENMEM_SET_POD_TARGET: u64 = 16;
pub const XENMEM_GET_POD_TARGET: u64 = 17;
pub const XENMEM_GET_SHARING_FREED_PAGES: u64 = 18;
pub const XENMEM_GET_SHARING_SHARED_PAGES: u64 = 19;
pub const XENMEM_PAGING_OP: u64 = 20;
pub const XENMEM_ACCESS_OP: u64 = 21;
pub const XENMEM_SHARING_OP: u64 = 22;
pub const XENMEM_ADD_TO_PHYSMAP_BATCH: u64 = 23;
pub const XENMEM_CLAIM_PAGES: u64 = 24;
pub const XENMEM_MACHPHYS_COMPAT_MFN_LIST: u64 = 25;
pub const XENMEM_GET_VNUMAINFO: u64 = 26;
pub const XENMEM_RESERVED_DEVICE_MEMORY_MAP: u64 = 27;
pub const XENMEM_ACQUIRE_RESOURCE: u64 = 28;

// xen_add_to_physmap.space
pub const XENMAPSPACE_SHARED_INFO: u32 = 0;
pub const XENMAPSPACE_GRANT_TABLE: u32 = 1;
pub const XENMAPSPACE_GMFN: u32 = 2;
pub const XENMAPSPACE_GMFN_RANGE: u32 = 3;
pub const XENMAPSPACE_GMFN_FOREIGN: u32 = 4;
pub const XENMAPSPACE_DEV_MMIO: u32 = 5;
/// `xen_add_to_physmap.idx` flag for `XENMAPSPACE_grant_table`: map status
/// frame `idx` rather than shared frame `idx`.
pub const XENMAPIDX_GRANT_TABLE_STATUS: u64 = 0x8000_0000;

// xen_memory_reservation.mem_flags (XENMEMF_*)
/// Allocate below `2^bits` (0: no restriction).
pub const fn xenmemf_address_bits(bits: u32) -> u32 {
    bits
}
/// The address width in `flags`.
pub const fn xenmemf_get_address_bits(flags: u32) -> u32 {
    flags & 0xff
}
/// Allocate on NUMA node `node`.
pub const fn xenmemf_node(node: u32) -> u32 {
    (node + 1) << 8
}
/// The NUMA node in `flags` (0xff: none requested).
pub const fn xenmemf_get_node(flags: u32) -> u32 {
    ((flags >> 8).wrapping_sub(1)) & 0xff
}
/// Populate-on-demand: only account the pages, allocate them on first touch.
pub const XENMEMF_POPULATE_ON_DEMAND: u32 = 1 << 16;
/// Fail rather than fall back to another node.
pub const XENMEMF_EXACT_NODE_REQUEST: u32 = 1 << 17;
/// Allocate on node `node` only.
pub const fn xenmemf_exact_node(node: u32) -> u32 {
    xenmemf_node(node) | XENMEMF_EXACT_NODE_REQUEST
}
/// The node in `flags` is a virtual node of the domain.
pub const XENMEMF_VNODE: u32 = 1 << 18;

/// `struct xen_memory_reservation`, for `XENMEM_increase_reservation`,
/// `XENMEM_decrease_reservation`, `XENMEM_populate_physmap` and
/// `XENMEM_claim_pages`.
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
pub struct XenMemoryReservation {
    /// Guest handle of a `xen_pfn_t` array.
    /// increase_reservation OUT: MFN bases of the allocated extents.
    /// decrease_reservation IN: GMFN bases of the extents to free.
    /// populate_physmap IN: GPFN bases to populate; OUT: GMFN bases allocated.
    /// claim_pages IN: must be zero.
    pub extent_start: u64,
    /// IN: number of extents.
    pub nr_extents: XenUlong,
    /// IN: each extent is `2^extent_order` pages.
    pub extent_order: u32,
    /// IN: `XENMEMF_*`.
    pub mem_flags: u32,
    /// IN: the domain; unprivileged callers can only name `DOMID_SELF`.
    pub domid: DomId,
    /// C's implicit padding at the end.
    pub _pad: [u16; 3],
}

const _: () = assert!(core::mem::size_of::<XenMemoryReservation>() == 32);
const _: () = assert!(core::mem::offset_of!(XenMemoryReservation, extent_start) == 0);
const _: () = assert!(core::mem::offset_of!(XenMemoryReservation, nr_extents) == 8);
const _: () = assert!(core::mem::offset_of!(XenMemoryReservation, extent_order) == 16);
const _: () = assert!(core::mem::offset_of!(XenMemoryReservation, mem_flags) == 20);
const _: () = assert!(core::mem::offset_of!(XenMemoryReservation, domid) == 24);

/// [`XenMemoryReservation`] of a 32-bit guest.
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
pub struct CompatMemoryReservation {
    /// Guest handle of a `xen_pfn_t` (u32) array.
    pub extent_start: u32,
    pub nr_extents: u32,
    pub extent_order: u32,
    pub mem_flags: u32,
    pub domid: DomId,
    /// C's implicit padding at the end.
    pub _pad: u16,
}

const _: () = assert!(core::mem::size_of::<CompatMemoryReservation>() == 20);
const _: () = assert!(core::mem::offset_of!(CompatMemoryReservation, extent_start) == 0);
const _: () = assert!(core::mem::offset_of!(CompatMemoryReservation, nr_extents) == 4);
const _: () = assert!(core::mem::offset_of!(CompatMemoryReservation, extent_order) == 8);
const _: () = assert!(core::mem::offset_of!(CompatMemoryReservation, mem_flags) == 12);
const _: () = assert!(core::mem::offset_of!(CompatMemoryReservation, domid) == 16);

/// `struct xen_memory_exchange`, for `XENMEM_exchange`: free the `in`
/// extents and allocate the `out` extents in their place.
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
pub struct XenMemoryExchange {
    /// IN: GMFN bases of the extents to give up (`mem_flags` ignored).
    pub r#in: XenMemoryReservation,
    /// IN/OUT: GPFN bases to populate; overwritten with the GMFN bases allocated.
    pub out: XenMemoryReservation,
    /// OUT: number of `in` extents exchanged. Must be zero on entry.
    pub nr_exchanged: XenUlong,
}

const _: () = assert!(core::mem::size_of::<XenMemoryExchange>() == 72);
const _: () = assert!(core::mem::offset_of!(XenMemoryExchange, r#in) == 0);
const _: () = assert!(core::mem::offset_of!(XenMemoryExchange, out) == 32);
const _: () = assert!(core::mem::offset_of!(XenMemoryExchange, nr_exchanged) == 64);

/// [`XenMemoryExchange`] of a 32-bit guest.
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
pub struct CompatMemoryExchange {
    pub r#in: CompatMemoryReservation,
    pub out: CompatMemoryReservation,
    pub nr_exchanged: u32,
}

const _: () = assert!(core::mem::size_of::<CompatMemoryExchange>() == 44);
const _: () = assert!(core::mem::offset_of!(CompatMemoryExchange, r#in) == 0);
const _: () = assert!(core::mem::offset_of!(CompatMemoryExchange, out) == 20);
const _: () = assert!(core::mem::offset_of!(CompatMemoryExchange, nr_exchanged) == 40);

/// `struct xen_memory_domain`: the `domid_t` argument of
/// `XENMEM_current_reservation`, `XENMEM_maximum_reservation` and
/// `XENMEM_maximum_gpfn`. Same layout for 32-bit guests.
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
pub struct XenMemoryDomain {
    /// IN: the domain queried.
    pub domid: DomId,
}

const _: () = assert!(core::mem::size_of::<XenMemoryDomain>() == 2);

/// `struct xen_machphys_mfn_list`, for `XENMEM_machphys_mfn_list` and
/// `XENMEM_machphys_compat_mfn_list`.
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
pub struct XenMachphysMfnList {
    /// IN: size of the `extent_start` array.
    pub max_extents: u32,
    /// C's implicit padding before `extent_start`.
    pub _pad0: u32,
    /// Guest handle of a `xen_pfn_t` array. OUT: MFNs of the 2 MiB extents
    /// of the M2P table (0 for holes).
    pub extent_start: u64,
    /// OUT: number of entries written.
    pub nr_extents: u32,
    /// C's implicit padding at the end.
    pub _pad1: u32,
}

const _: () = assert!(core::mem::size_of::<XenMachphysMfnList>() == 24);
const _: () = assert!(core::mem::offset_of!(XenMachphysMfnList, max_extents) == 0);
const _: () = assert!(core::mem::offset_of!(XenMachphysMfnList, extent_start) == 8);
const _: () = assert!(core::mem::offset_of!(XenMachphysMfnList, nr_extents) == 16);

/// [`XenMachphysMfnList`] of a 32-bit guest.
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
pub struct CompatMachphysMfnList {
    pub max_extents: u32,
    pub extent_start: u32,
    pub nr_extents: u32,
}

const _: () = assert!(core::mem::size_of::<CompatMachphysMfnList>() == 12);
const _: () = assert!(core::mem::offset_of!(CompatMachphysMfnList, max_extents) == 0);
const _: () = assert!(core::mem::offset_of!(CompatMachphysMfnList, extent_start) == 4);
const _: () = assert!(core::mem::offset_of!(CompatMachphysMfnList, nr_extents) == 8);

/// `struct xen_machphys_mapping`, for `XENMEM_machphys_mapping`: where the
/// read-only M2P table is mapped in a PV guest.
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
pub struct XenMachphysMapping {
    /// OUT: start virtual address.
    pub v_start: XenUlong,
    /// OUT: end virtual address.
    pub v_end: XenUlong,
    /// OUT: largest MFN that can be looked up.
    pub max_mfn: XenUlong,
}

const _: () = assert!(core::mem::size_of::<XenMachphysMapping>() == 24);
const _: () = assert!(core::mem::offset_of!(XenMachphysMapping, v_start) == 0);
const _: () = assert!(core::mem::offset_of!(XenMachphysMapping, v_end) == 8);
const _: () = assert!(core::mem::offset_of!(XenMachphysMapping, max_mfn) == 16);

/// [`XenMachphysMapping`] of a 32-bit guest.
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
pub struct CompatMachphysMapping {
    pub v_start: u32,
    pub v_end: u32,
    pub max_mfn: u32,
}

const _: () = assert!(core::mem::size_of::<CompatMachphysMapping>() == 12);
const _: () = assert!(core::mem::offset_of!(CompatMachphysMapping, v_start) == 0);
const _: () = assert!(core::mem::offset_of!(CompatMachphysMapping, v_end) == 4);
const _: () = assert!(core::mem::offset_of!(CompatMachphysMapping, max_mfn) == 8);

/// `struct xen_add_to_physmap`, for `XENMEM_add_to_physmap`: map page `idx`
/// of `space` at `gpfn` in `domid`'s physmap.
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
pub struct XenAddToPhysmap {
    /// IN: the domain whose physmap changes.
    pub domid: DomId,
    /// IN: number of pages, for `XENMAPSPACE_gmfn_range`.
    pub size: u16,
    /// IN: `XENMAPSPACE_*`.
    pub space: u32,
    /// IN: index into `space` (may carry [`XENMAPIDX_GRANT_TABLE_STATUS`]).
    pub idx: XenUlong,
    /// IN: GPFN where the page should appear.
    pub gpfn: XenPfn,
}

const _: () = assert!(core::mem::size_of::<XenAddToPhysmap>() == 24);
const _: () = assert!(core::mem::offset_of!(XenAddToPhysmap, domid) == 0);
const _: () = assert!(core::mem::offset_of!(XenAddToPhysmap, size) == 2);
const _: () = assert!(core::mem::offset_of!(XenAddToPhysmap, space) == 4);
const _: () = assert!(core::mem::offset_of!(XenAddToPhysmap, idx) == 8);
const _: () = assert!(core::mem::offset_of!(XenAddToPhysmap, gpfn) == 16);

/// [`XenAddToPhysmap`] of a 32-bit guest.
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
pub struct CompatAddToPhysmap {
    pub domid: DomId,
    pub size: u16,
    pub space: u32,
    pub idx: u32,
    pub gpfn: u32,
}

const _: () = assert!(core::mem::size_of::<CompatAddToPhysmap>() == 16);
const _: () = assert!(core::mem::offset_of!(CompatAddToPhysmap, domid) == 0);
const _: () = assert!(core::mem::offset_of!(CompatAddToPhysmap, size) == 2);
const _: () = assert!(core::mem::offset_of!(CompatAddToPhysmap, space) == 4);
const _: () = assert!(core::mem::offset_of!(CompatAddToPhysmap, idx) == 8);
const _: () = assert!(core::mem::offset_of!(CompatAddToPhysmap, gpfn) == 12);

/// `struct xen_add_to_physmap_batch`, for `XENMEM_add_to_physmap_batch`.
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
pub struct XenAddToPhysmapBatch {
    /// IN: the domain whose physmap changes.
    pub domid: DomId,
    /// IN: `XENMAPSPACE_*`.
    pub space: u16,
    /// IN: number of pages.
    pub size: u16,
    /// IN: `union xen_add_to_physmap_batch_extra`: `foreign_domid` for
    /// `XENMAPSPACE_gmfn_foreign`, otherwise `res0`, which must be 0.
    pub u: u16,
    /// IN: guest handle of `xen_ulong_t` indexes into `space`.
    pub idxs: u64,
    /// IN: guest handle of `xen_pfn_t` GPFNs where the pages should appear.
    pub gpfns: u64,
    /// OUT: guest handle of `int` per-index error codes.
    pub errs: u64,
}

const _: () = assert!(core::mem::size_of::<XenAddToPhysmapBatch>() == 32);
const _: () = assert!(core::mem::offset_of!(XenAddToPhysmapBatch, domid) == 0);
const _: () = assert!(core::mem::offset_of!(XenAddToPhysmapBatch, space) == 2);
const _: () = assert!(core::mem::offset_of!(XenAddToPhysmapBatch, size) == 4);
const _: () = assert!(core::mem::offset_of!(XenAddToPhysmapBatch, u) == 6);
const _: () = assert!(core::mem::offset_of!(XenAddToPhysmapBatch, idxs) == 8);
const _: () = assert!(core::mem::offset_of!(XenAddToPhysmapBatch, gpfns) == 16);
const _: () = assert!(core::mem::offset_of!(XenAddToPhysmapBatch, errs) == 24);

/// [`XenAddToPhysmapBatch`] of a 32-bit guest (its `idxs` and `gpfns`
/// arrays hold 4-byte entries).
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
pub struct CompatAddToPhysmapBatch {
    pub domid: DomId,
    pub space: u16,
    pub size: u16,
    pub u: u16,
    pub idxs: u32,
    pub gpfns: u32,
    pub errs: u32,
}

const _: () = assert!(core::mem::size_of::<CompatAddToPhysmapBatch>() == 20);
const _: () = assert!(core::mem::offset_of!(CompatAddToPhysmapBatch, domid) == 0);
const _: () = assert!(core::mem::offset_of!(CompatAddToPhysmapBatch, space) == 2);
const _: () = assert!(core::mem::offset_of!(CompatAddToPhysmapBatch, size) == 4);
const _: () = assert!(core::mem::offset_of!(CompatAddToPhysmapBatch, u) == 6);
const _: () = assert!(core::mem::offset_of!(CompatAddToPhysmapBatch, idxs) == 8);
const _: () = assert!(core::mem::offset_of!(CompatAddToPhysmapBatch, gpfns) == 12);
const _: () = assert!(core::mem::offset_of!(CompatAddToPhysmapBatch, errs) == 16);

/// `struct xen_remove_from_physmap`, for `XENMEM_remove_from_physmap`.
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
pub struct XenRemoveFromPhysmap {
    /// IN: the domain whose physmap changes.
    pub domid: DomId,
    /// C's implicit padding before `gpfn`.
    pub _pad: [u16; 3],
    /// IN: GPFN of the mapping to remove.
    pub gpfn: XenPfn,
}

const _: () = assert!(core::mem::size_of::<XenRemoveFromPhysmap>() == 16);
const _: () = assert!(core::mem::offset_of!(XenRemoveFromPhysmap, domid) == 0);
const _: () = assert!(core::mem::offset_of!(XenRemoveFromPhysmap, gpfn) == 8);

/// [`XenRemoveFromPhysmap`] of a 32-bit guest.
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
pub struct CompatRemoveFromPhysmap {
    pub domid: DomId,
    /// C's implicit padding before `gpfn`.
    pub _pad: u16,
    pub gpfn: u32,
}

const _: () = assert!(core::mem::size_of::<CompatRemoveFromPhysmap>() == 8);
const _: () = assert!(core::mem::offset_of!(CompatRemoveFromPhysmap, domid) == 0);
const _: () = assert!(core::mem::offset_of!(CompatRemoveFromPhysmap, gpfn) == 4);

/// `struct xen_memory_map`, for `XENMEM_memory_map` (the caller's map) and
/// `XENMEM_machine_memory_map` (the host's, privileged).
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
pub struct XenMemoryMap {
    /// IN: number of entries `buffer` can hold. OUT: number stored.
    pub nr_entries: u32,
    /// C's implicit padding before `buffer`.
    pub _pad: u32,
    /// Guest handle of an array of [`E820Entry`].
    pub buffer: u64,
}

const _: () = assert!(core::mem::size_of::<XenMemoryMap>() == 16);
const _: () = assert!(core::mem::offset_of!(XenMemoryMap, nr_entries) == 0);
const _: () = assert!(core::mem::offset_of!(XenMemoryMap, buffer) == 8);

/// [`XenMemoryMap`] of a 32-bit guest.
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
pub struct CompatMemoryMap {
    pub nr_entries: u32,
    pub buffer: u32,
}

const _: () = assert!(core::mem::size_of::<CompatMemoryMap>() == 8);
const _: () = assert!(core::mem::offset_of!(CompatMemoryMap, nr_entries) == 0);
const _: () = assert!(core::mem::offset_of!(CompatMemoryMap, buffer) == 4);

/// `struct xen_foreign_memory_map`, for `XENMEM_set_memory_map`: set the map
/// `XENMEM_memory_map` returns to `domid`.
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
pub struct XenForeignMemoryMap {
    pub domid: DomId,
    /// C's implicit padding before `map`.
    pub _pad: [u16; 3],
    pub map: XenMemoryMap,
}

const _: () = assert!(core::mem::size_of::<XenForeignMemoryMap>() == 24);
const _: () = assert!(core::mem::offset_of!(XenForeignMemoryMap, domid) == 0);
const _: () = assert!(core::mem::offset_of!(XenForeignMemoryMap, map) == 8);

/// [`XenForeignMemoryMap`] of a 32-bit caller.
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
pub struct CompatForeignMemoryMap {
    pub domid: DomId,
    /// C's implicit padding before `map`.
    pub _pad: u16,
    pub map: CompatMemoryMap,
}

const _: () = assert!(core::mem::size_of::<CompatForeignMemoryMap>() == 12);
const _: () = assert!(core::mem::offset_of!(CompatForeignMemoryMap, domid) == 0);
const _: () = assert!(core::mem::offset_of!(CompatForeignMemoryMap, map) == 4);

// E820 types (Xen's asm/e820.h), the PC BIOS values.
pub const E820_RAM: u32 = 1;
pub const E820_RESERVED: u32 = 2;
pub const E820_ACPI: u32 = 3;
pub const E820_NVS: u32 = 4;
pub const E820_UNUSABLE: u32 = 5;

/// One entry of the buffer `XENMEM_memory_map` fills: the BIOS
/// `INT 15h, EAX=E820h` format, which Xen declares as the packed
/// `struct e820entry` (asm/e820.h). 20 bytes, no padding, so entries sit at
/// 20-byte strides. Same layout for 32-bit guests.
#[repr(C, packed)]
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    FromBytes,
    IntoBytes,
    KnownLayout,
    Immutable,
    Unaligned,
)]
pub struct E820Entry {
    /// Start of the range.
    pub addr: u64,
    /// Length of the range in bytes.
    pub size: u64,
    /// `E820_*`.
    pub r#type: u32,
}

const _: () = assert!(core::mem::size_of::<E820Entry>() == 20);
const _: () = assert!(core::mem::offset_of!(E820Entry, addr) == 0);
const _: () = assert!(core::mem::offset_of!(E820Entry, size) == 8);
const _: () = assert!(core::mem::offset_of!(E820Entry, r#type) == 16);

/// `struct xen_pod_target`, for `XENMEM_set_pod_target` and
/// `XENMEM_get_pod_target` (toolstack).
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
pub struct XenPodTarget {
    /// IN: target number of pages.
    pub target_pages: u64,
    /// OUT
    pub tot_pages: u64,
    /// OUT
    pub pod_cache_pages: u64,
    /// OUT
    pub pod_entries: u64,
    /// IN
    pub domid: DomId,
    /// C's implicit padding at the end.
    pub _pad: [u16; 3],
}

const _: () = assert!(core::mem::size_of::<XenPodTarget>() == 40);
const _: () = assert!(core::mem::offset_of!(XenPodTarget, target_pages) == 0);
const _: () = assert!(core::mem::offset_of!(XenPodTarget, tot_pages) == 8);
const _: () = assert!(core::mem::offset_of!(XenPodTarget, pod_cache_pages) == 16);
const _: () = assert!(core::mem::offset_of!(XenPodTarget, pod_entries) == 24);
const _: () = assert!(core::mem::offset_of!(XenPodTarget, domid) == 32);

/// [`XenPodTarget`] of a 32-bit caller (`uint64_t` 4-byte aligned, so only
/// 2 bytes of tail padding).
#[repr(C, packed(4))]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
pub struct CompatPodTarget {
    pub target_pages: u64,
    pub tot_pages: u64,
    pub pod_cache_pages: u64,
    pub pod_entries: u64,
    pub domid: DomId,
    /// C's implicit padding at the end.
    pub _pad: u16,
}

const _: () = assert!(core::mem::size_of::<CompatPodTarget>() == 36);
const _: () = assert!(core::mem::offset_of!(CompatPodTarget, target_pages) == 0);
const _: () = assert!(core::mem::offset_of!(CompatPodTarget, pod_entries) == 24);
const _: () = assert!(core::mem::offset_of!(CompatPodTarget, domid) == 32);

/// `struct xen_vmemrange`: one memory range of a virtual NUMA node. Same
/// layout for 32-bit guests.
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
pub struct XenVmemrange {
    pub start: u64,
    pub end: u64,
    pub flags: u32,
    /// Virtual node the range belongs to.
    pub nid: u32,
}

const _: () = assert!(core::mem::size_of::<XenVmemrange>() == 24);
const _: () = assert!(core::mem::offset_of!(XenVmemrange, start) == 0);
const _: () = assert!(core::mem::offset_of!(XenVmemrange, end) == 8);
const _: () = assert!(core::mem::offset_of!(XenVmemrange, flags) == 16);
const _: () = assert!(core::mem::offset_of!(XenVmemrange, nid) == 20);

/// `struct xen_vnuma_topology_info`, for `XENMEM_get_vnumainfo`. The three
/// handles are unions with a `uint64_t`, so the layout is the same for
/// 32-bit guests (their handle is the low 4 bytes).
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
pub struct XenVnumaTopologyInfo {
    /// IN
    pub domid: DomId,
    pub pad: u16,
    /// IN/OUT: size of the arrays / number of nodes.
    pub nr_vnodes: u32,
    /// IN/OUT
    pub nr_vcpus: u32,
    /// IN/OUT
    pub nr_vmemranges: u32,
    /// OUT: guest handle of `nr_vnodes * nr_vnodes` `unsigned int` distances.
    pub vdistance: u64,
    /// OUT: guest handle of `nr_vcpus` `unsigned int` node numbers.
    pub vcpu_to_vnode: u64,
    /// OUT: guest handle of `nr_vmemranges` [`XenVmemrange`].
    pub vmemrange: u64,
}

const _: () = assert!(core::mem::size_of::<XenVnumaTopologyInfo>() == 40);
const _: () = assert!(core::mem::offset_of!(XenVnumaTopologyInfo, domid) == 0);
const _: () = assert!(core::mem::offset_of!(XenVnumaTopologyInfo, nr_vnodes) == 4);
const _: () = assert!(core::mem::offset_of!(XenVnumaTopologyInfo, nr_vcpus) == 8);
const _: () = assert!(core::mem::offset_of!(XenVnumaTopologyInfo, nr_vmemranges) == 12);
const _: () = assert!(core::mem::offset_of!(XenVnumaTopologyInfo, vdistance) == 16);
const _: () = assert!(core::mem::offset_of!(XenVnumaTopologyInfo, vcpu_to_vnode) == 24);
const _: () = assert!(core::mem::offset_of!(XenVnumaTopologyInfo, vmemrange) == 32);

// xen_mem_acquire_resource.type and .id
pub const XENMEM_RESOURCE_IOREQ_SERVER: u16 = 0;
pub const XENMEM_RESOURCE_GRANT_TABLE: u16 = 1;
pub const XENMEM_RESOURCE_VMTRACE_BUF: u16 = 2;
pub const XENMEM_RESOURCE_GRANT_TABLE_ID_SHARED: u32 = 0;
pub const XENMEM_RESOURCE_GRANT_TABLE_ID_STATUS: u32 = 1;
/// `frame` of an ioreq server's buffered ioreq page.
pub const XENMEM_RESOURCE_IOREQ_SERVER_FRAME_BUFIOREQ: u64 = 0;
/// `frame` of an ioreq server's `n`th synchronous ioreq page.
pub const fn xenmem_resource_ioreq_server_frame_ioreq(n: u64) -> u64 {
    1 + n
}

/// `struct xen_mem_acquire_resource`, for `XENMEM_acquire_resource`: map
/// frames of a domain's resource (ioreq pages, grant table, vmtrace buffer).
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
pub struct XenMemAcquireResource {
    /// IN: the domain owning the resource.
    pub domid: DomId,
    /// IN: `XENMEM_resource_*`.
    pub r#type: u16,
    /// IN: type-specific id (ioreq server id, `XENMEM_resource_grant_table_id_*`).
    pub id: u32,
    /// IN/OUT: number of frames to map; with a NULL `frame_list` and 0, OUT
    /// is the resource's size.
    pub nr_frames: u32,
    /// Must be zero.
    pub pad: u32,
    /// IN: index of the first frame.
    pub frame: u64,
    /// IN/OUT: guest handle of a `xen_pfn_t` array: GFNs to map at (HVM
    /// caller) or MFNs returned (PV caller).
    pub frame_list: u64,
}

const _: () = assert!(core::mem::size_of::<XenMemAcquireResource>() == 32);
const _: () = assert!(core::mem::offset_of!(XenMemAcquireResource, domid) == 0);
const _: () = assert!(core::mem::offset_of!(XenMemAcquireResource, r#type) == 2);
const _: () = assert!(core::mem::offset_of!(XenMemAcquireResource, id) == 4);
const _: () = assert!(core::mem::offset_of!(XenMemAcquireResource, nr_frames) == 8);
const _: () = assert!(core::mem::offset_of!(XenMemAcquireResource, pad) == 12);
const _: () = assert!(core::mem::offset_of!(XenMemAcquireResource, frame) == 16);
const _: () = assert!(core::mem::offset_of!(XenMemAcquireResource, frame_list) == 24);

/// [`XenMemAcquireResource`] of a 32-bit caller.
#[repr(C, packed(4))]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
pub struct CompatMemAcquireResource {
    pub domid: DomId,
    pub r#type: u16,
    pub id: u32,
    pub nr_frames: u32,
    pub pad: u32,
    pub frame: u64,
    pub frame_list: u32,
}

const _: () = assert!(core::mem::size_of::<CompatMemAcquireResource>() == 28);
const _: () = assert!(core::mem::offset_of!(CompatMemAcquireResource, frame) == 16);
const _: () = assert!(core::mem::offset_of!(CompatMemAcquireResource, frame_list) == 24);

// xen_mem_access_op.op (XENMEM_access_op_*)
pub const XENMEM_ACCESS_OP_SET_ACCESS: u8 = 0;
pub const XENMEM_ACCESS_OP_GET_ACCESS: u8 = 1;
pub const XENMEM_ACCESS_OP_SET_ACCESS_MULTI: u8 = 4;

/// `struct xen_mem_access_op`, for `XENMEM_access_op` (a monitor's view of
/// a domain's page permissions).
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
pub struct XenMemAccessOp {
    /// `XENMEM_access_op_*`.
    pub op: u8,
    /// `xenmem_access_t`.
    pub access: u8,
    pub domid: DomId,
    /// Pages to set (or entries in `pfn_list`).
    pub nr: u32,
    /// First pfn, or `~0` for the default access.
    pub pfn: u64,
    /// Guest handle of `uint64_t` pfns (set_access_multi).
    pub pfn_list: u64,
    /// Guest handle of `uint8_t` access values (set_access_multi).
    pub access_list: u64,
}

const _: () = assert!(core::mem::size_of::<XenMemAccessOp>() == 32);
const _: () = assert!(core::mem::offset_of!(XenMemAccessOp, domid) == 2);
const _: () = assert!(core::mem::offset_of!(XenMemAccessOp, nr) == 4);
const _: () = assert!(core::mem::offset_of!(XenMemAccessOp, pfn) == 8);
const _: () = assert!(core::mem::offset_of!(XenMemAccessOp, pfn_list) == 16);
const _: () = assert!(core::mem::offset_of!(XenMemAccessOp, access_list) == 24);

/// [`XenMemAccessOp`] of a 32-bit caller (4-byte handles, `pfn` stays
/// 8-byte aligned: `uint64_aligned_t`).
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
pub struct CompatMemAccessOp {
    pub op: u8,
    pub access: u8,
    pub domid: DomId,
    pub nr: u32,
    pub pfn: u64,
    pub pfn_list: u32,
    pub access_list: u32,
}

const _: () = assert!(core::mem::size_of::<CompatMemAccessOp>() == 24);
const _: () = assert!(core::mem::offset_of!(CompatMemAccessOp, pfn_list) == 16);

/// `XENMEM_RDM_ALL`: report every device's reserved ranges, not only `dev`'s.
pub const XENMEM_RDM_ALL: u32 = 1;

/// `struct xen_reserved_device_memory`: one range the IOMMU reserves.
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
pub struct XenReservedDeviceMemory {
    pub start_pfn: XenPfn,
    pub nr_pages: XenUlong,
}

const _: () = assert!(core::mem::size_of::<XenReservedDeviceMemory>() == 16);

/// `struct xen_reserved_device_memory_map`, for
/// `XENMEM_reserved_device_memory_map`.
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
pub struct XenReservedDeviceMemoryMap {
    /// IN: `XENMEM_RDM_*`.
    pub flags: u32,
    /// IN: entries `buffer` holds. OUT: entries there are.
    pub nr_entries: u32,
    /// OUT: guest handle of [`XenReservedDeviceMemory`] entries.
    pub buffer: u64,
    /// IN: `struct physdev_pci_device` (seg u16, bus u8, devfn u8), when
    /// `XENMEM_RDM_ALL` is clear.
    pub dev: [u8; 4],
    /// C's implicit padding at the end.
    pub _pad: u32,
}

const _: () = assert!(core::mem::size_of::<XenReservedDeviceMemoryMap>() == 24);
const _: () = assert!(core::mem::offset_of!(XenReservedDeviceMemoryMap, nr_entries) == 4);
const _: () = assert!(core::mem::offset_of!(XenReservedDeviceMemoryMap, buffer) == 8);
const _: () = assert!(core::mem::offset_of!(XenReservedDeviceMemoryMap, dev) == 16);

/// [`XenReservedDeviceMemoryMap`] of a 32-bit caller.
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
pub struct CompatReservedDeviceMemoryMap {
    pub flags: u32,
    pub nr_entries: u32,
    pub buffer: u32,
    pub dev: [u8; 4],
}

const _: () = assert!(core::mem::size_of::<CompatReservedDeviceMemoryMap>() == 16);
const _: () = assert!(core::mem::offset_of!(CompatReservedDeviceMemoryMap, nr_entries) == 4);

#[cfg(test)]
mod tests {
    use super::*;
    use zerocopy::FromBytes;

    #[test]
    fn mem_flags_pack_address_bits_and_node() {
        let flags = xenmemf_address_bits(32) | xenmemf_exact_node(3);
        assert_eq!(flags, 32 | (4 << 8) | (1 << 17));
        assert_eq!(xenmemf_get_address_bits(flags), 32);
        assert_eq!(xenmemf_get_node(flags), 3);
        assert_eq!(xenmemf_get_node(0), 0xff);
    }

    #[test]
    fn e820_entries_sit_at_20_byte_strides() {
        let mut buf = [0u8; 40];
        buf[20..28].copy_from_slice(&0x10_0000u64.to_le_bytes());
        buf[28..36].copy_from_slice(&0x20_0000u64.to_le_bytes());
        buf[36..40].copy_from_slice(&E820_RAM.to_le_bytes());
        let entries = <[E820Entry]>::ref_from_bytes(&buf).unwrap();
        assert_eq!(entries.len(), 2);
        let e = entries[1];
        assert_eq!((e.addr, e.size, e.r#type), (0x10_0000, 0x20_0000, E820_RAM));
    }
}
