//! `HYPERVISOR_physdev_op(int cmd, void *arg)` (xen/arch/x86/hvm/hypercall.c
//! `hvm_physdev_op`, xen/arch/x86/physdev.c, xen/drivers/pci/physdev.c).
//!
//! An HVM guest gets the PIRQ commands only when it has PIRQs (a PVH
//! domain does not), and pci_mmcfg_reserved, pci_device_add/remove and
//! dbgp_op only as the hardware domain; everything else is -ENOSYS. Those
//! Dom0 commands read their struct first (-EFAULT).

use abi::xen::HYPERVISOR_PHYSDEV_OP as NR;

use super::*;
use crate::mem::{ARG, SCRATCH};
use crate::suite::{Suite, args};
use crate::xen::*;

/// The hardware domain's commands with their struct sizes.
const HWDOM: &[(u64, &str, u64)] = &[
    (
        PHYSDEVOP_PCI_MMCFG_RESERVED,
        "PHYSDEVOP_pci_mmcfg_reserved",
        16,
    ),
    (PHYSDEVOP_PCI_DEVICE_ADD, "PHYSDEVOP_pci_device_add", 12),
    (
        PHYSDEVOP_PCI_DEVICE_REMOVE,
        "PHYSDEVOP_pci_device_remove",
        4,
    ),
    (PHYSDEVOP_DBGP_OP, "PHYSDEVOP_dbgp_op", 6),
];

pub fn run(s: &mut Suite) {
    for cmd in (0..=34).chain([0xff, 0x7fff_ffff, 0xffff_ffff]) {
        if s.hwdom && HWDOM.iter().any(|&(c, _, _)| c == cmd) {
            continue;
        }
        let why = match cmd {
            PHYSDEVOP_EOI
            | PHYSDEVOP_IRQ_STATUS_QUERY
            | PHYSDEVOP_MAP_PIRQ
            | PHYSDEVOP_UNMAP_PIRQ
            | PHYSDEVOP_GET_FREE_PIRQ => "a PVH domain has no PIRQs",
            PHYSDEVOP_PCI_MMCFG_RESERVED
            | PHYSDEVOP_PCI_DEVICE_ADD
            | PHYSDEVOP_PCI_DEVICE_REMOVE
            | PHYSDEVOP_DBGP_OP => "hardware domain only",
            _ => "not an HVM command",
        };
        s.check(
            format_args!("physdev_op({cmd:#x}, buf) [{why}]"),
            NR,
            args([cmd, SCRATCH.addr(ARG)]),
            ENOSYS,
        );
    }
    if !s.hwdom {
        return;
    }
    for &(cmd, name, len) in HWDOM {
        for bad in s.bad_ptrs(len, false) {
            s.check(
                format_args!("physdev_op({name}, {bad})"),
                NR,
                args([cmd, bad.addr]),
                EFAULT,
            );
        }
    }
}
