//! `imager bios|uefi KERNEL RAMDISK OUT`: a `bootloader` 0.11 disk image of
//! KERNEL with RAMDISK (the boot bundle) as its ramdisk.
//!
//! A crate of its own because the `bootloader` crate's build script compiles
//! the boot stages with `-Zbuild-std`, which needs the pinned nightly: xtask
//! builds and runs this with it, and itself builds with any toolchain.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use bootloader::{BootConfig, DiskImageBuilder};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [firmware, kernel, ramdisk, out] = args.as_slice() else {
        bail!("usage: imager bios|uefi KERNEL RAMDISK OUT");
    };
    let mut config = BootConfig::default();
    config.frame_buffer_logging = false;
    config.serial_logging = false;
    let mut builder = DiskImageBuilder::new(PathBuf::from(kernel));
    builder.set_ramdisk(PathBuf::from(ramdisk)).set_boot_config(&config);
    let out = PathBuf::from(out);
    match firmware.as_str() {
        "bios" => builder.create_bios_image(&out),
        "uefi" => builder.create_uefi_image(&out),
        other => bail!("unknown firmware {other:?}: bios or uefi"),
    }
    .with_context(|| format!("creating {}", out.display()))
}
