//! The 32-bit register convention itself (Xen's `hvm_hypercall`: a vCPU
//! whose CS is not a 64-bit segment passes eax = nr and ebx, ecx, edx, esi,
//! edi). Each call puts its real arguments where the 32-bit convention
//! wants them and garbage where the 64-bit one would look (edi, esi, edx),
//! so a hypervisor that reads the wrong registers gets it wrong.

use abi::console_io::CONSOLEIO_WRITE;
use abi::version::{XENVER_PAGESIZE, XENVER_VERSION};
use abi::xen::{HYPERVISOR_CONSOLE_IO, HYPERVISOR_XEN_VERSION};
use guest_rt::compat;

use super::numbers::XEN_VERSION;
use crate::mem::{BUF, SCRATCH};
use crate::suite::Suite;
use crate::tap::Want;

/// A 32-bit copy of a constant known to fit.
#[allow(
    clippy::cast_possible_truncation,
    reason = "asserted to fit just above"
)]
const fn u32_of(v: u64) -> u32 {
    assert!(v <= u32::MAX as u64);
    v as u32
}

const XEN_VERSION_NR: u32 = u32_of(HYPERVISOR_XEN_VERSION);
const CONSOLE_IO_NR: u32 = u32_of(HYPERVISOR_CONSOLE_IO);

pub fn run(s: &mut Suite) {
    if s.is64() {
        return;
    }
    let call = |nr: u32, regs: [u32; 5]| {
        // SAFETY: xen_version with no buffer, or console_io reading a scratch buffer; the garbage values sit in registers this convention does not use.
        let ret = unsafe { compat::hypercall32(nr, regs) };
        i64::from(ret.cast_signed())
    };

    let got = call(
        XEN_VERSION_NR,
        [
            u32_of(XENVER_VERSION),
            0,
            0x0bad_0001,
            0x0bad_0002,
            0x0bad_0003,
        ],
    );
    s.tap.check(
        format_args!("32-bit xen_version(XENVER_version) with garbage in edx, esi, edi"),
        got,
        Want::Is(XEN_VERSION),
    );
    // The 64-bit convention would take cmd from rdi (= edi = 1, extraversion)
    // and the buffer from rsi (= esi, unmapped).
    let got = call(
        XEN_VERSION_NR,
        [u32_of(XENVER_PAGESIZE), 0, 0x0bad_0001, 0x0bad_0002, 1],
    );
    s.tap.check(
        format_args!("32-bit xen_version(ebx=XENVER_pagesize, ecx=NULL) with edi=1"),
        got,
        Want::Is(4096),
    );
    let text = b"# conformance: 32-bit console_io write\n";
    let buf = SCRATCH.put_bytes(BUF, text);
    let buf = u32::try_from(buf).expect("scratch below 4 GiB");
    let len = u32_of(text.len() as u64);
    let got = call(
        CONSOLE_IO_NR,
        [u32_of(CONSOLEIO_WRITE), len, buf, 0x0bad_0002, 7],
    );
    let want = if s.privileged {
        Want::Is(0)
    } else {
        Want::AnyOf(&[Want::Is(0), super::EPERM])
    };
    s.tap.check(
        format_args!(
            "32-bit console_io(ebx=CONSOLEIO_write, ecx=len, edx=buf) with garbage in esi, edi"
        ),
        got,
        want,
    );
    // An error comes back as a 32-bit negative number in eax.
    let got = call(XEN_VERSION_NR, [0x7fff_ffff, 0, 0, 0, 0]);
    s.tap.check(
        format_args!("32-bit xen_version(0x7fffffff) [the result is eax, a 32-bit negative errno]"),
        got,
        super::ENOSYS,
    );
}
