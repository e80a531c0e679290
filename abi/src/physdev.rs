//! `xen/include/public/physdev.h`: `HYPERVISOR_physdev_op` commands and the
//! structs of those an HVM hardware domain may use. No pointers or longs:
//! one layout for 32- and 64-bit callers.

use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

pub const PHYSDEVOP_EOI: u64 = 12;
pub const PHYSDEVOP_IRQ_STATUS_QUERY: u64 = 5;
pub const PHYSDEVOP_MAP_PIRQ: u64 = 13;
pub const PHYSDEVOP_UNMAP_PIRQ: u64 = 14;
pub const PHYSDEVOP_GET_FREE_PIRQ: u64 = 23;
pub const PHYSDEVOP_PCI_MMCFG_RESERVED: u64 = 24;
pub const PHYSDEVOP_PCI_DEVICE_ADD: u64 = 25;
pub const PHYSDEVOP_PCI_DEVICE_REMOVE: u64 = 26;
pub const PHYSDEVOP_DBGP_OP: u64 = 29;

/// `physdev_pci_mmcfg_reserved.flags`: the MMCFG range is reserved in the e820.
pub const XEN_PCI_MMCFG_RESERVED: u32 = 1;
// physdev_pci_device_add.flags
pub const XEN_PCI_DEV_EXTFN: u32 = 0x1;
pub const XEN_PCI_DEV_VIRTFN: u32 = 0x2;
pub const XEN_PCI_DEV_PXM: u32 = 0x4;

/// `struct physdev_pci_mmcfg_reserved`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
pub struct PhysdevPciMmcfgReserved {
    pub address: u64,
    pub segment: u16,
    pub start_bus: u8,
    pub end_bus: u8,
    /// `XEN_PCI_MMCFG_*`.
    pub flags: u32,
}

const _: () = assert!(core::mem::size_of::<PhysdevPciMmcfgReserved>() == 16);
const _: () = assert!(core::mem::offset_of!(PhysdevPciMmcfgReserved, segment) == 8);
const _: () = assert!(core::mem::offset_of!(PhysdevPciMmcfgReserved, flags) == 12);

/// `struct physdev_pci_device_add` without its flexible `optarr` (one
/// `uint32_t` PXM follows when `XEN_PCI_DEV_PXM` is set).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
pub struct PhysdevPciDeviceAdd {
    pub seg: u16,
    pub bus: u8,
    pub devfn: u8,
    /// `XEN_PCI_DEV_*`.
    pub flags: u32,
    /// The physical function of a virtual function (`XEN_PCI_DEV_VIRTFN`).
    pub physfn_bus: u8,
    pub physfn_devfn: u8,
    pub _pad: u16,
}

const _: () = assert!(core::mem::size_of::<PhysdevPciDeviceAdd>() == 12);
const _: () = assert!(core::mem::offset_of!(PhysdevPciDeviceAdd, flags) == 4);
const _: () = assert!(core::mem::offset_of!(PhysdevPciDeviceAdd, physfn_bus) == 8);

/// `struct physdev_pci_device`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
pub struct PhysdevPciDevice {
    pub seg: u16,
    pub bus: u8,
    pub devfn: u8,
}

const _: () = assert!(core::mem::size_of::<PhysdevPciDevice>() == 4);

/// `struct physdev_dbgp_op`: a USB debug port being reset.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
pub struct PhysdevDbgpOp {
    /// `PHYSDEVOP_DBGP_RESET_*`.
    pub op: u8,
    /// `PHYSDEVOP_DBGP_BUS_*`.
    pub bus: u8,
    pub pci: PhysdevPciDevice,
}

const _: () = assert!(core::mem::size_of::<PhysdevDbgpOp>() == 6);
const _: () = assert!(core::mem::offset_of!(PhysdevDbgpOp, pci) == 2);
