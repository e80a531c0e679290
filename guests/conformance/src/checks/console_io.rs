//! `HYPERVISOR_console_io(unsigned int cmd, unsigned int count, char *buf)`
//! (xen/drivers/char/console.c).
//!
//! The XSM check comes first: under the dummy policy a domain that is not
//! the console domain may only write, and only in debug builds; everything
//! else is -EPERM for a DomU. For Dom0: CONSOLEIO_write copies in chunks and
//! returns 0 (-EFAULT on a bad buffer, nothing read for count 0);
//! CONSOLEIO_read returns the bytes read, -E2BIG for count > INT_MAX;
//! other commands are -ENOSYS.

use abi::console_io::{CONSOLEIO_READ, CONSOLEIO_WRITE};
use abi::xen::HYPERVISOR_CONSOLE_IO as NR;

use super::*;
use crate::mem::{BUF, SCRATCH};
use crate::suite::{Suite, args};
use crate::tap::Want;

pub fn run(s: &mut Suite) {
    // A DomU's writes: 0 from debug builds, -EPERM from release builds.
    let write_ok = if s.privileged {
        OK
    } else {
        Want::AnyOf(&[OK, EPERM])
    };
    let text = b"# console_io: CONSOLEIO_write from the scratch page\n";
    let buf = SCRATCH.put_bytes(BUF, text);
    s.check(
        format_args!("console_io(CONSOLEIO_write, {}, buf)", text.len()),
        NR,
        args([CONSOLEIO_WRITE, text.len() as u64, buf]),
        write_ok,
    );
    let text2 = b"# console_io: from an unaligned buffer\n";
    let buf1 = SCRATCH.put_bytes(BUF + 0x101, text2);
    s.check(
        format_args!(
            "console_io(CONSOLEIO_write, {}, unaligned buf)",
            text2.len()
        ),
        NR,
        args([CONSOLEIO_WRITE, text2.len() as u64, buf1]),
        write_ok,
    );
    s.check(
        format_args!("console_io(CONSOLEIO_write, 0, NULL)"),
        NR,
        args([CONSOLEIO_WRITE, 0, 0]),
        write_ok,
    );
    for bad in s.bad_ptrs(2, false) {
        s.check(
            format_args!("console_io(CONSOLEIO_write, 0, {bad}) [nothing to read]"),
            NR,
            args([CONSOLEIO_WRITE, 0, bad.addr]),
            write_ok,
        );
    }
    let fault = if s.privileged {
        EFAULT
    } else {
        Want::AnyOf(&[EFAULT, EPERM])
    };
    for bad in s.bad_ptrs(2, false) {
        s.check(
            format_args!("console_io(CONSOLEIO_write, 2, {bad})"),
            NR,
            args([CONSOLEIO_WRITE, 2, bad.addr]),
            fault,
        );
    }
    s.check(
        format_args!("console_io(CONSOLEIO_write, 0xffffffff, NULL)"),
        NR,
        args([CONSOLEIO_WRITE, 0xffff_ffff, 0]),
        fault,
    );
    if s.is64() {
        s.check(
            format_args!(
                "console_io(CONSOLEIO_write, 0x100000000, NULL) [count is an unsigned int: 0]"
            ),
            NR,
            args([CONSOLEIO_WRITE, 1 << 32, 0]),
            write_ok,
        );
        s.check(
            format_args!(
                "console_io(0x100000000 | CONSOLEIO_write, 0, NULL) [cmd is an unsigned int]"
            ),
            NR,
            args([(1 << 32) | CONSOLEIO_WRITE, 0, 0]),
            write_ok,
        );
    }

    if s.privileged {
        s.check(
            format_args!("console_io(CONSOLEIO_read, 0, NULL)"),
            NR,
            args([CONSOLEIO_READ, 0, 0]),
            OK,
        );
        s.check(
            format_args!("console_io(CONSOLEIO_read, 16, buf) [bytes read]"),
            NR,
            args([CONSOLEIO_READ, 16, SCRATCH.addr(BUF)]),
            Want::NonNeg,
        );
        for count in [0x8000_0000u64, 0xffff_ffff] {
            s.check(
                format_args!("console_io(CONSOLEIO_read, {count:#x}, buf) [count > INT_MAX]"),
                NR,
                args([CONSOLEIO_READ, count, SCRATCH.addr(BUF)]),
                E2BIG,
            );
        }
    } else {
        for (count, what) in [(0, "NULL"), (16, "buf")] {
            s.check(
                format_args!("console_io(CONSOLEIO_read, {count}, {what}) from a DomU"),
                NR,
                args([
                    CONSOLEIO_READ,
                    count,
                    if count == 0 { 0 } else { SCRATCH.addr(BUF) },
                ]),
                EPERM,
            );
        }
    }

    let unknown = if s.privileged { ENOSYS } else { EPERM };
    for cmd in (2..=8).chain([0xff, 0x7fff_ffff, 0xffff_ffff]) {
        s.check(
            format_args!(
                "console_io({cmd:#x}, 0, NULL) [no such command{}]",
                if s.privileged {
                    ""
                } else {
                    "; XSM refuses a DomU first"
                }
            ),
            NR,
            args([cmd, 0, 0]),
            unknown,
        );
    }
}
