//! The Rust Dom0: a PVH guest kernel started by the hypervisor as its
//! privileged initial domain.
//!
//! Entered in 32-bit protected mode at its `XEN_ELFNOTE_PHYS32_ENTRY` with
//! `%ebx` = `hvm_start_info` (see `entry.rs`), it finds the hypervisor by
//! CPUID, installs the hypercall page, prints a banner with
//! `HYPERVISOR_console_io`, runs what its command line asks (`scenarios.rs`)
//! and powers off with `SCHEDOP_shutdown`.
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
#[macro_use]
mod console;
#[cfg(target_os = "none")]
mod cpu;
#[cfg(target_os = "none")]
mod entry;
#[cfg(target_os = "none")]
mod hypercall;
#[cfg(target_os = "none")]
mod paging;
#[cfg(target_os = "none")]
mod scenarios;
#[cfg(target_os = "none")]
mod start_info;

#[cfg(target_os = "none")]
use abi::sched::{SHUTDOWN_CRASH, SHUTDOWN_POWEROFF};

/// 64-bit entry, called by `entry.rs` on the boot stack.
#[cfg(target_os = "none")]
extern "C" fn kmain(start_info_paddr: u64) -> ! {
    let hv = hypercall::init();
    let si = match start_info::StartInfo::read(start_info_paddr) {
        Ok(si) => si,
        Err(e) => {
            println!("dom0: unusable start_info at {start_info_paddr:#x}: {e}");
            shutdown(SHUTDOWN_CRASH);
        }
    };
    println!(
        "dom0: hello from the Rust Dom0 (PVH), start_info at {start_info_paddr:#x}, {} modules, cmdline \"{}\"",
        si.info.nr_modules,
        si.cmdline()
    );
    match hv {
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

    scenarios::run(scenarios::Scenario::from_cmdline(si.cmdline()), &si);
    println!("dom0: powering off");
    shutdown(SHUTDOWN_POWEROFF);
}

/// Asks the hypervisor to shut this domain down; if that returns, halts.
#[cfg(target_os = "none")]
fn shutdown(reason: u32) -> ! {
    hypercall::shutdown(reason);
    println!("dom0: shutdown returned");
    cpu::halt_forever();
}

#[cfg(target_os = "none")]
#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    println!("dom0: panic: {info}");
    shutdown(SHUTDOWN_CRASH);
}

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("dom0-kernel is a PVH guest kernel: build it for x86_64-unknown-none");
    std::process::exit(2);
}
