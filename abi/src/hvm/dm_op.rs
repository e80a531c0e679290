//! `xen/include/public/hvm/dm_op.h`: `HYPERVISOR_dm_op`, a device model
//! acting on the HVM domain it serves.

use crate::xen::XenUlong;
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

/// Most buffers one dm_op takes (Xen's `ARRAY_SIZE(dmop_args.buf)`).
pub const DMOP_MAX_BUFS: u64 = 2;

pub const XEN_DMOP_CREATE_IOREQ_SERVER: u32 = 1;
pub const XEN_DMOP_REMOTE_SHUTDOWN: u32 = 16;
pub const XEN_DMOP_SET_IRQ_LEVEL: u32 = 19;
pub const XEN_DMOP_NR_VCPUS: u32 = 20;

/// Size of each op's struct, by op number, as x86 Xen checks them (0: op
/// 0, and `set_irq_level`, which x86 does not build).
pub const XEN_DMOP_SIZES: [u64; 21] = [0, 6, 24, 24, 24, 4, 4, 16, 6, 2, 2, 8, 16, 24, 16, 16, 4, 24, 24, 0, 4];

/// Offset of the op's struct in `struct xen_dm_op` (after `op` and `pad`).
pub const XEN_DM_OP_U_OFFSET: u64 = 8;

/// `struct xen_dm_op_buf`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
pub struct XenDmOpBuf {
    /// Guest handle of the buffer.
    pub h: u64,
    pub size: XenUlong,
}

const _: () = assert!(core::mem::size_of::<XenDmOpBuf>() == 16);

/// [`XenDmOpBuf`] of a 32-bit caller.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
pub struct CompatDmOpBuf {
    pub h: u32,
    pub size: u32,
}

const _: () = assert!(core::mem::size_of::<CompatDmOpBuf>() == 8);

/// The head of `struct xen_dm_op`; the op's struct follows at
/// [`XEN_DM_OP_U_OFFSET`].
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
pub struct XenDmOpHead {
    /// `XEN_DMOP_*`.
    pub op: u32,
    /// Must be zero.
    pub pad: u32,
}

const _: () = assert!(core::mem::size_of::<XenDmOpHead>() as u64 == XEN_DM_OP_U_OFFSET);
