//! Mirrors xen/include/public/io/xs_wire.h
//!
//! The xenstore wire protocol. A message is a [`XsdSockmsg`] header followed
//! by `len` payload bytes (at most [`XENSTORE_PAYLOAD_MAX`]), usually
//! nul-terminated strings. A domain talks to xenstored over one page
//! ([`XenstoreDomainInterface`], `HVM_PARAM_STORE_PFN`) holding two byte
//! rings with free-running 32-bit indices, a slot being `idx & (size - 1)`
//! (`MASK_XENSTORE_IDX`): the guest produces requests into `req` and
//! consumes replies and watch events from `rsp`; each side notifies the
//! other on the event channel in `HVM_PARAM_STORE_EVTCHN`.

use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

/// `enum xsd_sockmsg_type` (XS_DEBUG is the old name of XS_CONTROL).
pub const XS_CONTROL: u32 = 0;
pub const XS_DIRECTORY: u32 = 1;
pub const XS_READ: u32 = 2;
pub const XS_GET_PERMS: u32 = 3;
pub const XS_WATCH: u32 = 4;
pub const XS_UNWATCH: u32 = 5;
pub const XS_TRANSACTION_START: u32 = 6;
pub const XS_TRANSACTION_END: u32 = 7;
pub const XS_INTRODUCE: u32 = 8;
pub const XS_RELEASE: u32 = 9;
pub const XS_GET_DOMAIN_PATH: u32 = 10;
pub const XS_WRITE: u32 = 11;
pub const XS_MKDIR: u32 = 12;
pub const XS_RM: u32 = 13;
pub const XS_SET_PERMS: u32 = 14;
pub const XS_WATCH_EVENT: u32 = 15;
pub const XS_ERROR: u32 = 16;
pub const XS_IS_DOMAIN_INTRODUCED: u32 = 17;
pub const XS_RESUME: u32 = 18;
pub const XS_SET_TARGET: u32 = 19;
// 20 was XS_RESTRICT, removed.
pub const XS_RESET_WATCHES: u32 = 21;
pub const XS_DIRECTORY_PART: u32 = 22;
/// Number of valid types.
pub const XS_TYPE_COUNT: u32 = 23;
/// Guaranteed to remain an invalid type.
pub const XS_INVALID: u32 = 0xffff;

/// `XS_WRITE_NONE`, `XS_WRITE_CREATE`, `XS_WRITE_CREATE_EXCL`: legacy
/// write flags, kept for reference.
pub const XS_WRITE_NONE: &str = "NONE";
pub const XS_WRITE_CREATE: &str = "CREATE";
pub const XS_WRITE_CREATE_EXCL: &str = "CREATE|EXCL";

/// The table `xsd_errors`: the names an `XS_ERROR` reply carries (payload
/// is the name and a nul). Order as in the header (new errors go last).
pub const XSD_ERRORS: [&str; 16] = [
    "EINVAL", "EACCES", "EEXIST", "EISDIR", "ENOENT", "ENOMEM", "ENOSPC", "EIO", "ENOTEMPTY", "ENOSYS", "EROFS",
    "EBUSY", "EAGAIN", "EISCONN", "E2BIG", "EPERM",
];

/// `struct xsd_sockmsg`: every message's header.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
pub struct XsdSockmsg {
    /// `XS_*`.
    pub r#type: u32,
    /// Request identifier, echoed in the daemon's reply.
    pub req_id: u32,
    /// Transaction id (0 if not in a transaction).
    pub tx_id: u32,
    /// Length of the payload that follows.
    pub len: u32,
}

const _: () = assert!(core::mem::size_of::<XsdSockmsg>() == 16);
const _: () = assert!(core::mem::offset_of!(XsdSockmsg, req_id) == 4);
const _: () = assert!(core::mem::offset_of!(XsdSockmsg, tx_id) == 8);
const _: () = assert!(core::mem::offset_of!(XsdSockmsg, len) == 12);

/// `enum xs_watch_type`: the fields of a WATCH_EVENT payload.
pub const XS_WATCH_PATH: u32 = 0;
pub const XS_WATCH_TOKEN: u32 = 1;

/// `XENSTORE_RING_SIZE`: bytes in each of `req` and `rsp`.
pub const XENSTORE_RING_SIZE: u32 = 1024;
/// `XENSTORE_RING_IDX`.
pub type XenstoreRingIdx = u32;

/// `struct xenstore_domain_interface`: the store page.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
pub struct XenstoreDomainInterface {
    /// Requests to xenstored.
    pub req: [u8; XENSTORE_RING_SIZE as usize],
    /// Replies and asynchronous watch events.
    pub rsp: [u8; XENSTORE_RING_SIZE as usize],
    pub req_cons: XenstoreRingIdx,
    pub req_prod: XenstoreRingIdx,
    pub rsp_cons: XenstoreRingIdx,
    pub rsp_prod: XenstoreRingIdx,
    /// `XENSTORE_SERVER_FEATURE_*` the server supports.
    pub server_features: u32,
    /// `XENSTORE_CONNECTED` / `XENSTORE_RECONNECT`.
    pub connection: u32,
    /// `XENSTORE_ERROR_*`: why the server stopped serving the ring.
    pub error: u32,
}

const _: () = assert!(core::mem::size_of::<XenstoreDomainInterface>() == 2076);
const _: () = assert!(core::mem::offset_of!(XenstoreDomainInterface, rsp) == 1024);
const _: () = assert!(core::mem::offset_of!(XenstoreDomainInterface, req_cons) == 2048);
const _: () = assert!(core::mem::offset_of!(XenstoreDomainInterface, req_prod) == 2052);
const _: () = assert!(core::mem::offset_of!(XenstoreDomainInterface, rsp_cons) == 2056);
const _: () = assert!(core::mem::offset_of!(XenstoreDomainInterface, rsp_prod) == 2060);
const _: () = assert!(core::mem::offset_of!(XenstoreDomainInterface, server_features) == 2064);
const _: () = assert!(core::mem::offset_of!(XenstoreDomainInterface, connection) == 2068);
const _: () = assert!(core::mem::offset_of!(XenstoreDomainInterface, error) == 2072);
const _: () = assert!(XENSTORE_RING_SIZE.is_power_of_two());

/// Largest payload of one message (violating it is an error, not a
/// truncation).
pub const XENSTORE_PAYLOAD_MAX: u32 = 4096;
/// Largest absolute and relative paths (a relative one is taken against
/// the caller's `/local/domain/<id>`).
pub const XENSTORE_ABS_PATH_MAX: usize = 3072;
pub const XENSTORE_REL_PATH_MAX: usize = 2048;

/// `server_features` bits.
pub const XENSTORE_SERVER_FEATURE_RECONNECTION: u32 = 1;
pub const XENSTORE_SERVER_FEATURE_ERROR: u32 = 2;

/// `connection` values.
pub const XENSTORE_CONNECTED: u32 = 0;
pub const XENSTORE_RECONNECT: u32 = 1;

/// `error` values.
pub const XENSTORE_ERROR_NONE: u32 = 0;
pub const XENSTORE_ERROR_COMM: u32 = 1;
pub const XENSTORE_ERROR_RINGIDX: u32 = 2;
pub const XENSTORE_ERROR_PROTO: u32 = 3;
