//! The Rust Dom0: a PVH guest kernel started by the hypervisor as its
//! privileged initial domain.
//!
//! The PVH entry, hypercall page, console and start info come from
//! `guest-rt`; this crate prints a banner with `HYPERVISOR_console_io`, runs
//! what its command line asks (`scenarios.rs`) and powers off with
//! `SCHEDOP_shutdown`.
#![cfg_attr(target_os = "none", no_std, no_main)]

extern crate alloc;

#[cfg(target_os = "none")]
mod heap;
#[cfg(target_os = "none")]
mod foreign;
mod scenarios;
#[cfg(target_os = "none")]
mod schedbench;
#[cfg(target_os = "none")]
mod shell;
#[cfg(target_os = "none")]
mod shootdown;
#[cfg(target_os = "none")]
mod toolstack;
#[cfg(target_os = "none")]
mod xl;
#[cfg(target_os = "none")]
mod xsbench;
#[cfg(target_os = "none")]
mod xsshell;

#[cfg(target_os = "none")]
use guest_rt::println;

#[cfg(target_os = "none")]
guest_rt::entry!("dom0", kmain);

/// Runs once guest-rt has set up the hypercall page and read the start info;
/// the domain powers off when it returns.
#[cfg(target_os = "none")]
fn kmain(boot: &guest_rt::Boot) {
    let heap = heap::init(&boot.si, boot.start_info_paddr);
    let si = &boot.si;
    println!(
        "dom0: hello from the Rust Dom0 (PVH), start_info at {:#x}, {} modules, cmdline \"{}\", heap {} MiB",
        boot.start_info_paddr,
        si.info.nr_modules,
        si.cmdline(),
        heap >> 20
    );
    match boot.hv {
        Some(hv) => println!(
            "dom0: hypervisor at cpuid {:#x}, version {}.{}, hypercall page MSR {:#x}",
            hv.cpuid_base,
            hv.version >> 16,
            hv.version & 0xffff,
            hv.msr
        ),
        None => println!("dom0: no Xen CPUID signature, writing to COM1 directly"),
    }
    println!(
        "dom0: start_info version={} flags={:#x} rsdp={:#x} memmap entries={}",
        si.info.version, si.info.flags, si.info.rsdp_paddr, si.info.memmap_entries
    );
    scenarios::print_memmap(si.memmap());

    scenarios::run(scenarios::Scenario::from_cmdline(si.cmdline()), si);
    println!("dom0: powering off");
}

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("dom0-kernel is a PVH guest kernel: build it for x86_64-unknown-none");
    std::process::exit(2);
}
