//! `xen/include/public/hypfs.h`: `HYPERVISOR_hypfs_op`, Xen's hypervisor
//! file system (Dom0 only).

use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

/// What `XEN_HYPFS_OP_get_version` returns.
pub const XEN_HYPFS_VERSION: u64 = 1;
pub const XEN_HYPFS_MAX_PATHLEN: u64 = 1024;

pub const XEN_HYPFS_OP_GET_VERSION: u64 = 0;
pub const XEN_HYPFS_OP_READ: u64 = 1;
pub const XEN_HYPFS_OP_WRITE_CONTENTS: u64 = 2;

// xen_hypfs_direntry.type
pub const XEN_HYPFS_TYPE_DIR: u8 = 0;
pub const XEN_HYPFS_TYPE_BLOB: u8 = 1;
pub const XEN_HYPFS_TYPE_STRING: u8 = 2;
pub const XEN_HYPFS_TYPE_UINT: u8 = 3;
// xen_hypfs_direntry.encoding
pub const XEN_HYPFS_ENC_PLAIN: u8 = 0;

/// `struct xen_hypfs_direntry`: the header `XEN_HYPFS_OP_read` writes
/// before an entry's contents.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
pub struct XenHypfsDirentry {
    /// `XEN_HYPFS_TYPE_*`.
    pub r#type: u8,
    /// `XEN_HYPFS_ENC_*`.
    pub encoding: u8,
    pub pad: u16,
    /// Bytes of contents.
    pub content_len: u32,
    /// Largest write accepted (0: read-only).
    pub max_write_len: u32,
}

const _: () = assert!(core::mem::size_of::<XenHypfsDirentry>() == 12);
const _: () = assert!(core::mem::offset_of!(XenHypfsDirentry, content_len) == 4);
