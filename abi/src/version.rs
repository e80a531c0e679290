//! Mirrors xen/include/public/version.h
//!
//! `HYPERVISOR_xen_version(cmd, arg)`. `XENVER_version` takes a NULL arg and
//! returns `major << 16 | minor`; the others fill the buffer `arg` points at.

use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

/// arg: NULL. Returns `major << 16 | minor`.
pub const XENVER_VERSION: u64 = 0;
/// arg: [`XenExtraversion`].
pub const XENVER_EXTRAVERSION: u64 = 1;
/// arg: [`XenCompileInfo`].
pub const XENVER_COMPILE_INFO: u64 = 2;
/// arg: [`XenCapabilitiesInfo`].
pub const XENVER_CAPABILITIES: u64 = 3;
/// arg: [`XenChangesetInfo`].
pub const XENVER_CHANGESET: u64 = 4;
/// arg: [`XenPlatformParameters`].
pub const XENVER_PLATFORM_PARAMETERS: u64 = 5;
/// arg: [`XenFeatureInfo`].
pub const XENVER_GET_FEATURES: u64 = 6;
/// arg: NULL. Returns the page size.
pub const XENVER_PAGESIZE: u64 = 7;
/// arg: `xen_domain_handle_t` (16 bytes).
pub const XENVER_GUEST_HANDLE: u64 = 8;
/// arg: [`XenCommandline`] (privileged).
pub const XENVER_COMMANDLINE: u64 = 9;
/// arg: [`XenBuildId`] followed by its buffer (privileged).
pub const XENVER_BUILD_ID: u64 = 10;

/// `xen_extraversion_t`, e.g. `".0"` (NUL-terminated).
pub type XenExtraversion = [u8; 16];
pub const XEN_EXTRAVERSION_LEN: usize = 16;

/// `struct xen_compile_info`: NUL-terminated strings.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
pub struct XenCompileInfo {
    pub compiler: [u8; 64],
    pub compile_by: [u8; 16],
    pub compile_domain: [u8; 32],
    pub compile_date: [u8; 32],
}

const _: () = assert!(core::mem::size_of::<XenCompileInfo>() == 144);
const _: () = assert!(core::mem::offset_of!(XenCompileInfo, compiler) == 0);
const _: () = assert!(core::mem::offset_of!(XenCompileInfo, compile_by) == 64);
const _: () = assert!(core::mem::offset_of!(XenCompileInfo, compile_domain) == 80);
const _: () = assert!(core::mem::offset_of!(XenCompileInfo, compile_date) == 112);

/// `xen_capabilities_info_t`, e.g. `"xen-3.0-x86_64 hvm-3.0-x86_64"`.
pub type XenCapabilitiesInfo = [u8; 1024];
pub const XEN_CAPABILITIES_INFO_LEN: usize = 1024;

/// `xen_changeset_info_t`.
pub type XenChangesetInfo = [u8; 64];
pub const XEN_CHANGESET_INFO_LEN: usize = 64;

/// `struct xen_platform_parameters`.
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
pub struct XenPlatformParameters {
    /// OUT: start of the hypervisor's reserved virtual range (PV guests).
    pub virt_start: u64,
}

const _: () = assert!(core::mem::size_of::<XenPlatformParameters>() == 8);

/// [`XenPlatformParameters`] of a 32-bit guest.
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
pub struct CompatPlatformParameters {
    pub virt_start: u32,
}

const _: () = assert!(core::mem::size_of::<CompatPlatformParameters>() == 4);

/// `struct xen_feature_info`: bits are `XENFEAT_*` from [`crate::features`].
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
pub struct XenFeatureInfo {
    /// IN: which 32-bit submap to return.
    pub submap_idx: u32,
    /// OUT: 32-bit submap of `XENFEAT_*` bits.
    pub submap: u32,
}

const _: () = assert!(core::mem::size_of::<XenFeatureInfo>() == 8);
const _: () = assert!(core::mem::offset_of!(XenFeatureInfo, submap_idx) == 0);
const _: () = assert!(core::mem::offset_of!(XenFeatureInfo, submap) == 4);

/// `xen_commandline_t`: the hypervisor's command line.
pub type XenCommandline = [u8; 1024];

/// `struct xen_build_id` header; `len` bytes of `buf[]` follow it.
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
pub struct XenBuildId {
    /// IN: size of the buffer that follows. OUT: size of the build id.
    pub len: u32,
}

const _: () = assert!(core::mem::size_of::<XenBuildId>() == 4);
