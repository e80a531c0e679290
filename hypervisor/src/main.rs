//! Entry of the bare-metal hypervisor binary: everything lives in the library.
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
bootloader_api::entry_point!(hypervisor::boot::start, config = &hypervisor::boot::BOOTLOADER_CONFIG);

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("the hypervisor runs on bare metal: build and boot it with `cargo xtask run`");
    std::process::exit(2);
}
