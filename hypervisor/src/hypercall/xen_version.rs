//! `HYPERVISOR_xen_version` (version.h).
//!
//! | cmd | here |
//! |---|---|
//! | `XENVER_version` (0) | `4 << 16 \| 17`: the ABI is Xen 4.17's |
//! | `XENVER_extraversion` (1) | 16 bytes, NUL-padded |
//! | `XENVER_compile_info` (2) | compiler, by, domain, date, NUL-padded |
//! | `XENVER_capabilities` (3) | 1024 bytes: the HVM guest kinds offered |
//! | `XENVER_changeset` (4) | 64 bytes |
//! | `XENVER_platform_parameters` (5) | `virt_start` |
//! | `XENVER_get_features` (6) | submap 0; other indexes -EINVAL |
//! | `XENVER_pagesize` (7) | 4096 (-EINVAL with a non-NULL argument, as Xen) |
//! | `XENVER_guest_handle` (8) | the domain's 16-byte handle |
//! | `XENVER_commandline` (9) | the hypervisor command line; "<denied>" to an unprivileged caller |
//! | `XENVER_build_id` (10) | -EPERM unprivileged; -EFAULT / -EINVAL (len 0) for a bad struct; else -ENODATA (no build id) |
//! | other | -ENOSYS |
//!
//! Every string goes out in a zeroed buffer of the header's size, so no
//! hypervisor byte beyond the string leaks.

use abi::errno::Errno;
use abi::version::*;

use super::{Caller, Outcome, read_arg, write_arg};

/// The Xen release whose ABI this hypervisor implements.
pub const XEN_MAJOR: u64 = 4;
pub const XEN_MINOR: u64 = 17;

pub(super) const EXTRAVERSION: &str = "-rust";
pub(super) const CHANGESET: &str = concat!(env!("CARGO_PKG_NAME"), " ", env!("CARGO_PKG_VERSION"));
const CAPABILITIES: &str = "hvm-3.0-x86_64 hvm-3.0-x86_32 hvm-3.0-x86_32p";
const DENIED: &str = "<denied>";
/// Where Xen's own virtual range starts for a 64-bit guest.
const HYPERVISOR_VIRT_START: u64 = 0xffff_8000_0000_0000;
/// The same for a 32-bit guest (a 4-byte `xen_ulong_t` in its layout).
const HYPERVISOR_COMPAT_VIRT_START: u32 = 0xf580_0000;

// XENFEAT_* bit numbers (features.h).
const XENFEAT_WRITABLE_PAGE_TABLES: u32 = 0;
const XENFEAT_AUTO_TRANSLATED_PHYSMAP: u32 = 2;
const XENFEAT_HVM_CALLBACK_VECTOR: u32 = 8;
const XENFEAT_HVM_SAFE_PVCLOCK: u32 = 9;
const XENFEAT_DOM0: u32 = 11;
const XENFEAT_MEMORY_OP_VNODE_SUPPORTED: u32 = 13;
const XENFEAT_NOT_DIRECT_MAPPED: u32 = 16;

/// `text` in a zeroed array of `N` bytes, cut to leave a terminating NUL.
fn padded<const N: usize>(text: &str) -> [u8; N] {
    let mut out = [0u8; N];
    let n = text.len().min(N - 1);
    out[..n].copy_from_slice(&text.as_bytes()[..n]);
    out
}

fn reply(result: Result<(), Errno>) -> Outcome {
    match result {
        Ok(()) => Outcome::Return(0),
        Err(e) => Outcome::err(e),
    }
}

pub fn xen_version(caller: &mut impl Caller, cmd: u64, arg: u64) -> Outcome {
    match cmd {
        XENVER_VERSION => Outcome::Return((XEN_MAJOR << 16) | XEN_MINOR),
        XENVER_EXTRAVERSION => reply(write_arg(caller, arg, &padded::<16>(EXTRAVERSION))),
        XENVER_COMPILE_INFO => {
            let info = XenCompileInfo {
                compiler: padded("rustc (nightly-2026-08-01)"),
                compile_by: padded("xtask"),
                compile_domain: padded("localdomain"),
                compile_date: padded("unknown"),
            };
            reply(write_arg(caller, arg, &info))
        }
        XENVER_CAPABILITIES => reply(write_arg(caller, arg, &padded::<1024>(CAPABILITIES))),
        XENVER_CHANGESET => reply(write_arg(caller, arg, &padded::<64>(CHANGESET))),
        XENVER_PLATFORM_PARAMETERS if caller.compat() => reply(write_arg(caller, arg, &HYPERVISOR_COMPAT_VIRT_START)),
        XENVER_PLATFORM_PARAMETERS => {
            reply(write_arg(caller, arg, &XenPlatformParameters { virt_start: HYPERVISOR_VIRT_START }))
        }
        XENVER_GET_FEATURES => {
            let mut fi: XenFeatureInfo = match read_arg(caller, arg) {
                Ok(fi) => fi,
                Err(e) => return Outcome::err(e),
            };
            if fi.submap_idx != 0 {
                return Outcome::err(Errno::EINVAL);
            }
            fi.submap = (1 << XENFEAT_WRITABLE_PAGE_TABLES)
                | (1 << XENFEAT_AUTO_TRANSLATED_PHYSMAP)
                | (1 << XENFEAT_HVM_CALLBACK_VECTOR)
                | (1 << XENFEAT_HVM_SAFE_PVCLOCK)
                // One NUMA node: XENMEMF_vnode hints are accepted and met.
                | (1 << XENFEAT_MEMORY_OP_VNODE_SUPPORTED)
                | (1 << XENFEAT_NOT_DIRECT_MAPPED)
                | (u32::from(caller.privileged()) << XENFEAT_DOM0);
            reply(write_arg(caller, arg, &fi))
        }
        XENVER_PAGESIZE if arg != 0 => Outcome::err(Errno::EINVAL),
        XENVER_PAGESIZE => Outcome::Return(abi::xen::XEN_PAGE_SIZE),
        XENVER_GUEST_HANDLE => {
            let handle = caller.this().handle();
            reply(write_arg(caller, arg, &handle))
        }
        XENVER_COMMANDLINE => {
            let text = if caller.privileged() { caller.machine().cmdline } else { DENIED };
            let line = padded::<1024>(text);
            reply(write_arg(caller, arg, &line))
        }
        XENVER_BUILD_ID if !caller.privileged() => Outcome::err(Errno::EPERM),
        XENVER_BUILD_ID => {
            // The struct is checked before looking for an id, which this
            // build does not have.
            if arg != 0 {
                match read_arg::<XenBuildId>(caller, arg) {
                    Err(e) => return Outcome::err(e),
                    Ok(id) if id.len == 0 => return Outcome::err(Errno::EINVAL),
                    Ok(_) => {}
                }
            }
            Outcome::err(Errno::ENODATA)
        }
        _ => Outcome::err(Errno::ENOSYS),
    }
}

#[cfg(test)]
mod tests {
    use super::super::fake::FakeCaller;
    use super::*;

    #[test]
    fn version_reports_4_17() {
        let mut c = FakeCaller::new(4096);
        assert_eq!(xen_version(&mut c, XENVER_VERSION, 0), Outcome::Return(0x4_0011));
    }

    #[test]
    fn strings_are_nul_padded_to_their_full_size() {
        let mut c = FakeCaller::new(4096);
        c.mem.fill(0x55);
        assert_eq!(xen_version(&mut c, XENVER_EXTRAVERSION, 100), Outcome::Return(0));
        assert_eq!(&c.mem[100..105], b"-rust");
        assert!(c.mem[105..116].iter().all(|&b| b == 0));
        assert_eq!(c.mem[116], 0x55, "nothing written past the 16 bytes");
        assert_eq!(xen_version(&mut c, XENVER_CAPABILITIES, 1000), Outcome::Return(0));
        assert!(c.mem[1000 + CAPABILITIES.len()..2024].iter().all(|&b| b == 0));
    }

    #[test]
    fn bad_buffers_give_efault() {
        let mut c = FakeCaller::new(1024);
        for cmd in [XENVER_EXTRAVERSION, XENVER_COMPILE_INFO, XENVER_CAPABILITIES, XENVER_CHANGESET, XENVER_GUEST_HANDLE] {
            assert_eq!(xen_version(&mut c, cmd, 1020), Outcome::err(Errno::EFAULT), "cmd {cmd}");
        }
        assert_eq!(xen_version(&mut c, XENVER_GET_FEATURES, u64::MAX), Outcome::err(Errno::EFAULT));
    }

    #[test]
    fn get_features_knows_only_submap_zero() {
        let mut c = FakeCaller::new(64);
        c.put(0, &XenFeatureInfo { submap_idx: 0, submap: 0 });
        assert_eq!(xen_version(&mut c, XENVER_GET_FEATURES, 0), Outcome::Return(0));
        let fi: XenFeatureInfo = c.get(0);
        assert_ne!(fi.submap & (1 << XENFEAT_AUTO_TRANSLATED_PHYSMAP), 0);
        assert_ne!(fi.submap & (1 << XENFEAT_DOM0), 0);
        c.put(0, &XenFeatureInfo { submap_idx: 1, submap: 0 });
        assert_eq!(xen_version(&mut c, XENVER_GET_FEATURES, 0), Outcome::err(Errno::EINVAL));
    }

    #[test]
    fn pagesize_wants_a_null_argument() {
        let mut c = FakeCaller::new(64);
        assert_eq!(xen_version(&mut c, XENVER_PAGESIZE, 0), Outcome::Return(4096));
        assert_eq!(xen_version(&mut c, XENVER_PAGESIZE, 8), Outcome::err(Errno::EINVAL));
    }

    #[test]
    fn unprivileged_callers_get_no_command_line_or_build_id() {
        let mut c = FakeCaller::unprivileged(2048);
        assert_eq!(xen_version(&mut c, XENVER_COMMANDLINE, 0), Outcome::Return(0));
        assert_eq!(&c.mem[..9], b"<denied>\0");
        assert_eq!(xen_version(&mut c, XENVER_BUILD_ID, 0), Outcome::err(Errno::EPERM));
        let mut d = FakeCaller::new(2048);
        assert_eq!(xen_version(&mut d, XENVER_COMMANDLINE, 0), Outcome::Return(0));
        assert_eq!(&d.mem[..12], b"loglvl=info\0");
    }

    #[test]
    fn unknown_commands_are_enosys() {
        let mut c = FakeCaller::new(64);
        assert_eq!(xen_version(&mut c, 11, 0), Outcome::err(Errno::ENOSYS));
        assert_eq!(xen_version(&mut c, u64::MAX, 0), Outcome::err(Errno::ENOSYS));
    }
}
