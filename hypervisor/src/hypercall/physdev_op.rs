//! `HYPERVISOR_physdev_op(int cmd, void *arg)` for HVM/PVH callers
//! (physdev.h; xen/arch/x86/hvm/hypercall.c `hvm_physdev_op`,
//! xen/arch/x86/physdev.c, xen/drivers/pci/physdev.c).
//!
//! | cmd | here |
//! |---|---|
//! | PIRQ commands (`eoi`, `irq_status_query`, `map_pirq`, `unmap_pirq`, `get_free_pirq`) | -ENOSYS: a PVH domain has no PIRQs |
//! | `PHYSDEVOP_pci_mmcfg_reserved` (24) | hardware domain only (else -ENOSYS); struct (-EFAULT); unknown flags -EINVAL; then -ENODEV: no MMCFG region is known to the hypervisor |
//! | `PHYSDEVOP_pci_device_add` (25) | hardware domain only; struct (-EFAULT; with `XEN_PCI_DEV_PXM` its PXM too); the device (and a virtual function's physical function) recorded; 0 |
//! | `PHYSDEVOP_pci_device_remove` (26) | hardware domain only; struct (-EFAULT); a device not added -ENODEV, else forgotten; 0 |
//! | `PHYSDEVOP_dbgp_op` (29) | hardware domain only; struct (-EFAULT); 0: no EHCI debug port is in use |
//! | other | -ENOSYS (not an HVM command) |
//!
//! The PCI devices Dom0 reports are kept (as Xen's `pci_add_device` does)
//! for when devices are assigned; nothing else uses them yet.

#![forbid(unsafe_code)]

use alloc::collections::BTreeSet;

use abi::errno::Errno;
use abi::physdev::*;
use spin::Mutex;

use super::{Caller, Outcome, read_arg};

/// PCI devices the hardware domain added: (segment << 16) | (bus << 8) | devfn.
static PCI_DEVICES: Mutex<BTreeSet<u32>> = Mutex::new(BTreeSet::new());

fn sbdf(seg: u16, bus: u8, devfn: u8) -> u32 {
    (u32::from(seg) << 16) | (u32::from(bus) << 8) | u32::from(devfn)
}

pub fn physdev_op(caller: &mut impl Caller, cmd: u64, arg: u64) -> Outcome {
    // The hardware domain is the privileged one (Dom0).
    let hwdom = caller.privileged();
    let r = match cmd {
        PHYSDEVOP_PCI_MMCFG_RESERVED if hwdom => read_arg::<PhysdevPciMmcfgReserved>(caller, arg).and_then(|m| {
            if m.flags & !XEN_PCI_MMCFG_RESERVED != 0 { Err(Errno::EINVAL) } else { Err(Errno::ENODEV) }
        }),
        PHYSDEVOP_PCI_DEVICE_ADD if hwdom => device_add(caller, arg),
        PHYSDEVOP_PCI_DEVICE_REMOVE if hwdom => read_arg::<PhysdevPciDevice>(caller, arg).and_then(|d| {
            if PCI_DEVICES.lock().remove(&sbdf(d.seg, d.bus, d.devfn)) { Ok(()) } else { Err(Errno::ENODEV) }
        }),
        PHYSDEVOP_DBGP_OP if hwdom => read_arg::<PhysdevDbgpOp>(caller, arg).map(|_| ()),
        _ => Err(Errno::ENOSYS),
    };
    match r {
        Ok(()) => Outcome::Return(0),
        Err(e) => Outcome::err(e),
    }
}

fn device_add(caller: &mut impl Caller, arg: u64) -> Result<(), Errno> {
    let add: PhysdevPciDeviceAdd = read_arg(caller, arg)?;
    if add.flags & XEN_PCI_DEV_PXM != 0 {
        let optarr = core::mem::size_of::<PhysdevPciDeviceAdd>() as u64;
        read_arg::<u32>(caller, arg.wrapping_add(optarr))?;
    }
    let mut devices = PCI_DEVICES.lock();
    if add.flags & XEN_PCI_DEV_VIRTFN != 0 {
        devices.insert(sbdf(add.seg, add.physfn_bus, add.physfn_devfn));
    }
    devices.insert(sbdf(add.seg, add.bus, add.devfn));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::fake::FakeCaller;
    use super::*;

    #[test]
    fn pirq_and_unknown_commands_are_enosys() {
        let mut c = FakeCaller::new(64);
        for cmd in [PHYSDEVOP_EOI, PHYSDEVOP_MAP_PIRQ, PHYSDEVOP_GET_FREE_PIRQ, 0, 34, 0xffff_ffff] {
            assert_eq!(physdev_op(&mut c, cmd, 0), Outcome::err(Errno::ENOSYS), "cmd {cmd}");
        }
        let mut u = FakeCaller::unprivileged(64);
        assert_eq!(physdev_op(&mut u, PHYSDEVOP_PCI_DEVICE_ADD, 0), Outcome::err(Errno::ENOSYS), "hardware domain only");
    }

    #[test]
    fn devices_are_added_and_removed_once() {
        let mut c = FakeCaller::new(128);
        c.put(0, &PhysdevPciDeviceAdd { seg: 0x77, bus: 3, devfn: 0x10, flags: XEN_PCI_DEV_VIRTFN, physfn_bus: 3, physfn_devfn: 0, _pad: 0 });
        assert_eq!(physdev_op(&mut c, PHYSDEVOP_PCI_DEVICE_ADD, 0), Outcome::Return(0));
        c.put(0, &PhysdevPciDevice { seg: 0x77, bus: 3, devfn: 0x10 });
        assert_eq!(physdev_op(&mut c, PHYSDEVOP_PCI_DEVICE_REMOVE, 0), Outcome::Return(0));
        assert_eq!(physdev_op(&mut c, PHYSDEVOP_PCI_DEVICE_REMOVE, 0), Outcome::err(Errno::ENODEV));
        c.put(0, &PhysdevPciDevice { seg: 0x77, bus: 3, devfn: 0 });
        assert_eq!(physdev_op(&mut c, PHYSDEVOP_PCI_DEVICE_REMOVE, 0), Outcome::Return(0), "the physical function was added too");
        c.put(116, &PhysdevPciDeviceAdd { seg: 0x77, flags: XEN_PCI_DEV_PXM, ..Default::default() });
        assert_eq!(physdev_op(&mut c, PHYSDEVOP_PCI_DEVICE_ADD, 116), Outcome::err(Errno::EFAULT), "the PXM runs past memory");
    }

    #[test]
    fn mmcfg_and_dbgp_read_their_struct_first() {
        let mut c = FakeCaller::new(64);
        assert_eq!(physdev_op(&mut c, PHYSDEVOP_PCI_MMCFG_RESERVED, 60), Outcome::err(Errno::EFAULT));
        c.put(0, &PhysdevPciMmcfgReserved { flags: 2, ..Default::default() });
        assert_eq!(physdev_op(&mut c, PHYSDEVOP_PCI_MMCFG_RESERVED, 0), Outcome::err(Errno::EINVAL));
        c.put(0, &PhysdevPciMmcfgReserved { flags: XEN_PCI_MMCFG_RESERVED, ..Default::default() });
        assert_eq!(physdev_op(&mut c, PHYSDEVOP_PCI_MMCFG_RESERVED, 0), Outcome::err(Errno::ENODEV));
        assert_eq!(physdev_op(&mut c, PHYSDEVOP_DBGP_OP, 60), Outcome::err(Errno::EFAULT));
        assert_eq!(physdev_op(&mut c, PHYSDEVOP_DBGP_OP, 0), Outcome::Return(0));
        assert_eq!(physdev_op(&mut c, PHYSDEVOP_PCI_DEVICE_REMOVE, 62), Outcome::err(Errno::EFAULT));
    }
}
