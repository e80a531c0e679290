//! The hypercall ABI conformance suite: a PVH kernel that checks the
//! hypervisor's answers against what Xen 4.17 documents and does, prints
//! TAP, and powers off.
//!
//! Command line: `mode=32` runs the checks whose argument layouts are the
//! same for 32-bit guests (plus the 32-bit register convention) from a
//! 32-bit compatibility-mode code segment; anything else runs the 64-bit
//! suite. `quiet` prints only the failing checks, the plan and the summary
//! (for emulators where console output is slow). `todo=TEXT` declares a
//! known deviation of the hypervisor under test: a failing check whose
//! description contains TEXT is reported as TAP `# TODO` and counted apart
//! (the expectation itself stays Xen's). It runs as Dom0 or as a DomU:
//! `SIF_PRIVILEGED`/`SIF_INITDOMAIN` in the start info pick the
//! expectations. The last line is `# conformance: P passed, F failed, T
//! known deviations (TODO)` (`# conformance (32-bit): ...`).
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
mod checks;
#[cfg(target_os = "none")]
mod mem;
#[cfg(target_os = "none")]
mod suite;
#[cfg(target_os = "none")]
mod tap;
#[cfg(target_os = "none")]
mod xen;

#[cfg(target_os = "none")]
guest_rt::entry!("conformance", kmain);

#[cfg(target_os = "none")]
fn kmain(boot: &guest_rt::Boot) {
    use guest_rt::{cmdline, println};

    use crate::suite::{Bits, Suite};

    if boot.hv.is_none() {
        println!("conformance: no Xen-compatible hypervisor (CPUID), nothing to check");
        return;
    }
    let bits = match cmdline::value(boot.si.cmdline(), "mode") {
        Some("32") => Bits::B32,
        _ => Bits::B64,
    };
    let quiet = cmdline::flag(boot.si.cmdline(), "quiet");
    let mut suite = Suite::new(boot, bits, quiet);
    println!(
        "# conformance: Xen 4.17 hypercall ABI, {} calls, as {} (domid {}), start_info flags {:#x}",
        if bits == Bits::B32 {
            "32-bit"
        } else {
            "64-bit"
        },
        if suite.hwdom {
            "Dom0"
        } else if suite.privileged {
            "a privileged DomU"
        } else {
            "a DomU"
        },
        suite.domid,
        boot.si.info.flags
    );
    checks::run(&mut suite);
    suite.tap.finish(if bits == Bits::B32 {
        "conformance (32-bit)"
    } else {
        "conformance"
    });
}

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("conformance is a PVH guest kernel: build it for x86_64-unknown-none");
    std::process::exit(2);
}
