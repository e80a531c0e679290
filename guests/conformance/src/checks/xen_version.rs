//! `HYPERVISOR_xen_version(int cmd, void *arg)` (xen/common/kernel.c).
//!
//! XENVER_version returns 4.17; XENVER_pagesize returns 4096 and wants a
//! NULL arg (-EINVAL otherwise); the string and struct sub-ops copy out and
//! return 0, or -EFAULT; XENVER_get_features reads its submap index (only 0
//! exists, -EINVAL else); XENVER_commandline and XENVER_build_id are
//! privileged under the dummy XSM policy: a DomU gets "<denied>" and -EPERM.
//! Unknown commands: -ENOSYS. `cmd` is an int: bits above 31 are ignored.

use abi::features::*;
use abi::version::*;
use abi::xen::HYPERVISOR_XEN_VERSION as NR;

use super::numbers::XEN_VERSION;
use super::*;
use crate::mem::{ARG, BUF, SCRATCH};
use crate::suite::{Suite, args};
use crate::tap::Want;

/// The OUT-buffer sub-ops: command, name, buffer size, whether 64-bit only
/// (the compat `xen_platform_parameters_t` has a 32-bit field).
const OUT_OPS: &[(u64, &str, usize, bool)] = &[
    (XENVER_EXTRAVERSION, "XENVER_extraversion", 16, false),
    (XENVER_COMPILE_INFO, "XENVER_compile_info", 144, false),
    (XENVER_CAPABILITIES, "XENVER_capabilities", 1024, false),
    (XENVER_CHANGESET, "XENVER_changeset", 64, false),
    (
        XENVER_PLATFORM_PARAMETERS,
        "XENVER_platform_parameters",
        8,
        true,
    ),
    (XENVER_GUEST_HANDLE, "XENVER_guest_handle", 16, false),
    (XENVER_COMMANDLINE, "XENVER_commandline", 1024, false),
];

/// Whether `len` bytes at `off` of the scratch hold a NUL.
fn nul_terminated(off: usize, len: usize) -> bool {
    let mut buf = [0u8; 1024];
    SCRATCH.read(off, &mut buf[..len]);
    buf[..len].contains(&0)
}

pub fn run(s: &mut Suite) {
    s.check(
        format_args!("xen_version(XENVER_version, NULL)"),
        NR,
        args([XENVER_VERSION]),
        Want::Is(XEN_VERSION),
    );
    s.check(
        format_args!("xen_version(XENVER_pagesize, NULL)"),
        NR,
        args([XENVER_PAGESIZE]),
        Want::Is(4096),
    );
    let buf = SCRATCH.addr(BUF);
    s.check(
        format_args!("xen_version(XENVER_pagesize, non-NULL)"),
        NR,
        args([XENVER_PAGESIZE, buf]),
        EINVAL,
    );
    if s.is64() {
        s.check(
            format_args!("xen_version(0x100000000 | XENVER_pagesize, NULL) [cmd is an int]"),
            NR,
            args([(1 << 32) | XENVER_PAGESIZE]),
            Want::Is(4096),
        );
    }

    for &(cmd, name, len, only64) in OUT_OPS {
        if only64 && !s.is64() {
            continue;
        }
        // A DomU's command line is "<denied>": Xen copies those 9 bytes only.
        let ulen = if cmd == XENVER_COMMANDLINE && !s.privileged {
            9
        } else {
            len
        };
        let len = ulen as u64;
        SCRATCH.fill(BUF, ulen + 1, 0xaa);
        let got = s.check(
            format_args!("xen_version({name}, buf)"),
            NR,
            args([cmd, buf]),
            OK,
        );
        if got == 0 {
            check_contents(s, cmd, name, ulen);
        }
        s.check(
            format_args!("xen_version({name}, unaligned buf)"),
            NR,
            args([cmd, buf + 1]),
            OK,
        );
        for bad in s.bad_ptrs(len, true) {
            s.check(
                format_args!("xen_version({name}, {bad})"),
                NR,
                args([cmd, bad.addr]),
                EFAULT,
            );
        }
    }

    // XENVER_get_features: IN submap_idx, OUT submap.
    let feature = |f: u32| 1u32 << f;
    let mut expected = feature(XENFEAT_MEMORY_OP_VNODE_SUPPORTED)
        | feature(XENFEAT_WRITABLE_PAGE_TABLES)
        | feature(XENFEAT_AUTO_TRANSLATED_PHYSMAP)
        | feature(XENFEAT_HVM_SAFE_PVCLOCK)
        | feature(XENFEAT_HVM_CALLBACK_VECTOR)
        | feature(XENFEAT_NOT_DIRECT_MAPPED);
    if s.hwdom {
        expected |= feature(XENFEAT_DOM0);
    }
    let fi = SCRATCH.put(
        ARG,
        &XenFeatureInfo {
            submap_idx: 0,
            submap: 0xdead_beef,
        },
    );
    let got = s.check(
        format_args!("xen_version(XENVER_get_features, submap 0)"),
        NR,
        args([XENVER_GET_FEATURES, fi]),
        OK,
    );
    if got == 0 {
        let submap = SCRATCH.get::<XenFeatureInfo>(ARG).submap;
        s.tap.assert(
            format_args!(
                "XENVER_get_features submap 0 of a PVH {} is {expected:#x} (translated, HVM callback vector and safe pvclock{})",
                if s.hwdom { "Dom0" } else { "DomU" },
                if s.hwdom { ", dom0" } else { "" }
            ),
            submap == expected,
            format_args!("{submap:#x}"),
            format_args!("{expected:#x}"),
        );
    }
    for idx in [1u32, 2, 0x7fff_ffff, 0xffff_ffff] {
        let fi = SCRATCH.put(
            ARG,
            &XenFeatureInfo {
                submap_idx: idx,
                submap: 0,
            },
        );
        s.check(
            format_args!("xen_version(XENVER_get_features, submap {idx:#x})"),
            NR,
            args([XENVER_GET_FEATURES, fi]),
            EINVAL,
        );
    }
    for bad in s.bad_ptrs(8, false) {
        s.check(
            format_args!("xen_version(XENVER_get_features, {bad})"),
            NR,
            args([XENVER_GET_FEATURES, bad.addr]),
            EFAULT,
        );
    }

    // XENVER_build_id: privileged; NULL asks for the size.
    if s.privileged {
        // Xen built without a build id answers -ENODATA throughout.
        const SIZE_OR_NODATA: Want = Want::AnyOf(&[Want::Positive, ENODATA]);
        s.check(
            format_args!("xen_version(XENVER_build_id, NULL) [size query]"),
            NR,
            args([XENVER_BUILD_ID]),
            SIZE_OR_NODATA,
        );
        let id = SCRATCH.put(BUF, &XenBuildId { len: 0 });
        s.check(
            format_args!("xen_version(XENVER_build_id, len 0)"),
            NR,
            args([XENVER_BUILD_ID, id]),
            EINVAL,
        );
        let id = SCRATCH.put(BUF, &XenBuildId { len: 1 });
        s.check(
            format_args!("xen_version(XENVER_build_id, len 1)"),
            NR,
            args([XENVER_BUILD_ID, id]),
            Want::AnyOf(&[ENOBUFS, ENODATA]),
        );
        let id = SCRATCH.put(BUF, &XenBuildId { len: 1000 });
        s.check(
            format_args!("xen_version(XENVER_build_id, len 1000)"),
            NR,
            args([XENVER_BUILD_ID, id]),
            SIZE_OR_NODATA,
        );
        // NULL is the size query above, not a bad pointer here.
        for bad in s.bad_ptrs(4, false).filter(|b| b.addr != 0) {
            s.check(
                format_args!("xen_version(XENVER_build_id, {bad})"),
                NR,
                args([XENVER_BUILD_ID, bad.addr]),
                EFAULT,
            );
        }
    } else {
        for (what, arg) in [("NULL", 0), ("buf", buf)] {
            s.check(
                format_args!("xen_version(XENVER_build_id, {what}) from a DomU"),
                NR,
                args([XENVER_BUILD_ID, arg]),
                EPERM,
            );
        }
    }

    for cmd in (11..=20).chain([63, 64, 0x7fff_ffff, 0xffff_ffff]) {
        s.check(
            format_args!("xen_version({cmd:#x}, buf) [no such command]"),
            NR,
            args([cmd, buf]),
            ENOSYS,
        );
    }
}

/// What the OUT sub-ops wrote: strings NUL-terminated, known values.
fn check_contents(s: &mut Suite, cmd: u64, name: &str, len: usize) {
    match cmd {
        XENVER_EXTRAVERSION | XENVER_CHANGESET | XENVER_COMMANDLINE => {
            s.tap.assert(
                format_args!("{name} is a NUL-terminated string within its {len} bytes"),
                nul_terminated(BUF, len),
                format_args!("no NUL"),
                format_args!("a NUL"),
            );
            if cmd == XENVER_COMMANDLINE && !s.privileged {
                let mut text = [0u8; 9];
                SCRATCH.read(BUF, &mut text);
                s.tap.assert(
                    format_args!("XENVER_commandline gives a DomU \"<denied>\""),
                    &text == b"<denied>\0",
                    format_args!("{:?}", core::str::from_utf8(&text).unwrap_or("?")),
                    format_args!("\"<denied>\""),
                );
            }
        }
        XENVER_COMPILE_INFO => {
            let fields = [(0, 64), (64, 16), (80, 32), (112, 32)];
            s.tap.assert(
                format_args!("XENVER_compile_info: compiler, compile_by, compile_domain, compile_date NUL-terminated"),
                fields.iter().all(|&(off, n)| nul_terminated(BUF + off, n)),
                format_args!("a field without NUL"),
                format_args!("four NUL-terminated fields"),
            );
        }
        XENVER_CAPABILITIES => {
            let mut caps = [0u8; 1024];
            SCRATCH.read(BUF, &mut caps);
            let end = caps.iter().position(|&b| b == 0).unwrap_or(caps.len());
            let text = core::str::from_utf8(&caps[..end]).unwrap_or("");
            s.tap.assert(
                format_args!("XENVER_capabilities lists hvm-3.0-x86_64"),
                text.split(' ').any(|c| c == "hvm-3.0-x86_64"),
                format_args!("{text:?}"),
                format_args!("a list with hvm-3.0-x86_64"),
            );
        }
        XENVER_PLATFORM_PARAMETERS => {
            let p = SCRATCH.get::<XenPlatformParameters>(BUF);
            s.tap.assert(
                format_args!("XENVER_platform_parameters virt_start is HYPERVISOR_VIRT_START, 0xffff800000000000"),
                p.virt_start == 0xffff_8000_0000_0000,
                format_args!("{:#x}", p.virt_start),
                format_args!("0xffff800000000000"),
            );
        }
        _ => {}
    }
}
