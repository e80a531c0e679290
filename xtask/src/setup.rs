//! Emulator packages: find the binaries and firmware files a platform needs,
//! install the missing Debian packages when we are root, or say how to.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Result, bail};

/// One Debian package and what we need from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Package {
    Qemu,
    Ovmf,
    Bochs,
    /// The SDL2 display plugin: Bochs runs headless through SDL's dummy driver.
    BochsSdl,
    BochsBios,
    VgaBios,
    /// GRUB for BIOS (i386-pc modules), for the ISO.
    GrubPc,
    /// GRUB for UEFI (x86_64-efi modules), for the ISO.
    GrubEfi,
    Xorriso,
    /// mtools: grub-mkrescue builds the ISO's EFI partition with them.
    Mtools,
}

impl Package {
    pub fn deb(self) -> &'static str {
        match self {
            Package::Qemu => "qemu-system-x86",
            Package::Ovmf => "ovmf",
            Package::Bochs => "bochs",
            Package::BochsSdl => "bochs-sdl",
            Package::BochsBios => "bochsbios",
            Package::VgaBios => "vgabios",
            Package::GrubPc => "grub-pc-bin",
            Package::GrubEfi => "grub-efi-amd64-bin",
            Package::Xorriso => "xorriso",
            Package::Mtools => "mtools",
        }
    }

    /// What the package provides, for messages.
    fn what(self) -> &'static str {
        match self {
            Package::Qemu => "qemu-system-x86_64",
            Package::Ovmf => "OVMF firmware (OVMF_CODE_4M.fd, OVMF_VARS_4M.fd)",
            Package::Bochs => "bochs",
            Package::BochsSdl => "the Bochs SDL2 display plugin (libbx_sdl2_gui.so)",
            Package::BochsBios => "the Bochs BIOS (BIOS-bochs-latest)",
            Package::VgaBios => "the Cirrus VGA BIOS (vgabios-cirrus.bin)",
            Package::GrubPc => "GRUB's BIOS modules (/usr/lib/grub/i386-pc) and grub-mkrescue",
            Package::GrubEfi => "GRUB's UEFI modules (/usr/lib/grub/x86_64-efi)",
            Package::Xorriso => "xorriso",
            Package::Mtools => "mtools (mformat)",
        }
    }

    fn present(self) -> bool {
        match self {
            Package::Qemu => which("qemu-system-x86_64").is_some(),
            Package::Bochs => which("bochs").is_some(),
            Package::GrubPc => which("grub-mkrescue").is_some() && Path::new("/usr/lib/grub/i386-pc/multiboot2.mod").is_file(),
            Package::GrubEfi => Path::new("/usr/lib/grub/x86_64-efi/multiboot2.mod").is_file(),
            Package::Xorriso => which("xorriso").is_some(),
            Package::Mtools => which("mformat").is_some(),
            _ => self.files().iter().all(|f| f.is_some()),
        }
    }

    fn files(self) -> Vec<Option<PathBuf>> {
        match self {
            Package::Ovmf => vec![ovmf_code(), ovmf_vars()],
            Package::BochsSdl => vec![bochs_sdl_plugin()],
            Package::BochsBios => vec![bochs_bios()],
            Package::VgaBios => vec![vga_cirrus()],
            Package::Qemu | Package::Bochs | Package::GrubPc | Package::GrubEfi | Package::Xorriso | Package::Mtools => vec![],
        }
    }
}

fn first_existing(candidates: &[&str]) -> Option<PathBuf> {
    candidates.iter().map(PathBuf::from).find(|p| p.is_file())
}

pub fn ovmf_code() -> Option<PathBuf> {
    first_existing(&[
        "/usr/share/OVMF/OVMF_CODE_4M.fd",
        "/usr/share/OVMF/OVMF_CODE.fd",
    ])
}

pub fn ovmf_vars() -> Option<PathBuf> {
    first_existing(&[
        "/usr/share/OVMF/OVMF_VARS_4M.fd",
        "/usr/share/OVMF/OVMF_VARS.fd",
    ])
}

fn bochs_sdl_plugin() -> Option<PathBuf> {
    first_existing(&[
        "/usr/lib/x86_64-linux-gnu/bochs/plugins/libbx_sdl2_gui.so",
        "/usr/lib/bochs/plugins/libbx_sdl2_gui.so",
    ])
}

pub fn bochs_bios() -> Option<PathBuf> {
    first_existing(&["/usr/share/bochs/BIOS-bochs-latest"])
}

pub fn vga_cirrus() -> Option<PathBuf> {
    first_existing(&[
        "/usr/share/vgabios/vgabios-cirrus.bin",
        "/usr/share/bochs/VGABIOS-lgpl-latest-cirrus",
    ])
}

/// What `grub-mkrescue` needs to make the hybrid ISO.
pub const ISO_PACKAGES: &[Package] = &[Package::GrubPc, Package::GrubEfi, Package::Xorriso, Package::Mtools];

/// Finds an executable in `PATH`.
pub fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    p.metadata()
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// Makes sure `needed` packages are installed: installs them with apt-get
/// when running as root, otherwise fails with the command to run.
pub fn ensure(needed: &[Package], hint: &str) -> Result<()> {
    let mut missing: Vec<Package> = Vec::new();
    for &p in needed {
        if !p.present() && !missing.contains(&p) {
            missing.push(p);
        }
    }
    if missing.is_empty() {
        return Ok(());
    }
    let debs: Vec<&str> = missing.iter().map(|p| p.deb()).collect();
    let list = debs.join(" ");
    if is_root() && which("apt-get").is_some() {
        println!("installing {list} with apt-get");
        apt(&["update", "-q"])?;
        let mut args = vec!["install", "-y", "-q", "--no-install-recommends"];
        args.extend(&debs);
        apt(&args)?;
        let still: Vec<&str> = missing
            .iter()
            .filter(|p| !p.present())
            .map(|p| p.what())
            .collect();
        if !still.is_empty() {
            bail!(
                "still missing after apt-get install {list}: {}",
                still.join(", ")
            );
        }
        return Ok(());
    }
    let whats: Vec<&str> = missing.iter().map(|p| p.what()).collect();
    bail!(
        "{} not found: install with `sudo apt-get install {list}`{hint}",
        whats.join(", ")
    )
}

fn apt(args: &[&str]) -> Result<()> {
    let status = Command::new("apt-get")
        .args(args)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .status()?;
    if !status.success() {
        bail!("`apt-get {}` failed ({status})", args.join(" "));
    }
    Ok(())
}
