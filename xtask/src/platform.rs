//! The emulated machines and the command that starts each.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result};

use crate::bochs::{self, BochsConfig, CpuModel};
use crate::images::Firmware;
use crate::qemu::{Accel, Ovmf, QemuBoot, QemuConfig, Serial};
use crate::setup::{self, Package};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Platform {
    /// QEMU starting the hypervisor ELF with `-kernel` (multiboot), the boot
    /// bundle as its module: the fast path.
    QemuKernel,
    /// QEMU with SeaBIOS.
    QemuBios,
    /// QEMU with OVMF.
    QemuUefi,
    /// Bochs, Intel Haswell: VMX.
    BochsVmx,
    /// Bochs, AMD Ryzen: SVM.
    BochsSvm,
    /// QEMU with SeaBIOS booting the ISO (GRUB, multiboot2) from a CD-ROM.
    QemuGrubBios,
    /// QEMU with OVMF booting the ISO from a CD-ROM.
    QemuGrubUefi,
    /// Bochs Haswell booting the ISO from a CD-ROM.
    BochsGrubVmx,
}

impl Platform {
    pub fn firmware(self) -> Firmware {
        match self {
            Platform::QemuUefi => Firmware::Uefi,
            Platform::QemuKernel => Firmware::Multiboot,
            Platform::QemuGrubBios | Platform::QemuGrubUefi | Platform::BochsGrubVmx => Firmware::Iso,
            _ => Firmware::Bios,
        }
    }

    pub fn packages(self) -> &'static [Package] {
        match self {
            Platform::QemuBios | Platform::QemuKernel => &[Package::Qemu],
            Platform::QemuUefi => &[Package::Qemu, Package::Ovmf],
            Platform::BochsVmx | Platform::BochsSvm => &[
                Package::Bochs,
                Package::BochsSdl,
                Package::BochsBios,
                Package::VgaBios,
            ],
            Platform::QemuGrubBios => &[Package::Qemu, Package::GrubPc, Package::GrubEfi, Package::Xorriso, Package::Mtools],
            Platform::QemuGrubUefi => {
                &[Package::Qemu, Package::Ovmf, Package::GrubPc, Package::GrubEfi, Package::Xorriso, Package::Mtools]
            }
            Platform::BochsGrubVmx => &[
                Package::Bochs,
                Package::BochsSdl,
                Package::BochsBios,
                Package::VgaBios,
                Package::GrubPc,
                Package::GrubEfi,
                Package::Xorriso,
                Package::Mtools,
            ],
        }
    }

    pub const fn is_qemu(self) -> bool {
        matches!(
            self,
            Platform::QemuKernel | Platform::QemuBios | Platform::QemuUefi | Platform::QemuGrubBios | Platform::QemuGrubUefi
        )
    }

    /// A short name; `accel` only matters for QEMU.
    pub fn name(self, accel: Accel) -> &'static str {
        match (self, accel) {
            (Platform::QemuKernel, Accel::Tcg) => "qemu-tcg-kernel",
            (Platform::QemuKernel, Accel::Kvm) => "qemu-kvm-kernel",
            (Platform::QemuBios, Accel::Tcg) => "qemu-tcg-bios",
            (Platform::QemuUefi, Accel::Tcg) => "qemu-tcg-uefi",
            (Platform::QemuBios, Accel::Kvm) => "qemu-kvm-bios",
            (Platform::QemuUefi, Accel::Kvm) => "qemu-kvm-uefi",
            (Platform::QemuGrubBios, Accel::Tcg) => "qemu-tcg-grub-bios",
            (Platform::QemuGrubUefi, Accel::Tcg) => "qemu-tcg-grub-uefi",
            (Platform::QemuGrubBios, Accel::Kvm) => "qemu-kvm-grub-bios",
            (Platform::QemuGrubUefi, Accel::Kvm) => "qemu-kvm-grub-uefi",
            (Platform::BochsGrubVmx, _) => "bochs-grub-vmx",
            (Platform::BochsVmx, _) => "bochs-vmx",
            (Platform::BochsSvm, _) => "bochs-svm",
        }
    }
}

/// One machine to boot.
#[derive(Debug, Clone)]
pub struct Machine {
    pub platform: Platform,
    pub accel: Accel,
    pub smp: u32,
    pub mem_mib: u32,
    pub icount: bool,
}

/// Where COM1 goes. Bochs always writes it to a file.
pub enum Console {
    Terminal,
    File(PathBuf),
    /// COM1 in a file and on `workdir/com1.sock` (QEMU only), for a
    /// scenario to type on the hypervisor's console.
    TypedFile(PathBuf),
}

impl Machine {
    /// The emulator command for `image`; its working files go to `workdir`.
    pub fn command(&self, image: &Path, workdir: &Path, console: &Console) -> Result<Command> {
        if self.platform.is_qemu() {
            self.qemu(image, workdir, console)
        } else {
            let Console::File(com1) = console else {
                anyhow::bail!("Bochs needs COM1 in a file, and cannot be typed on");
            };
            self.bochs(image, workdir, com1)
        }
    }

    fn qemu(&self, image: &Path, workdir: &Path, console: &Console) -> Result<Command> {
        let uefi = if matches!(self.platform, Platform::QemuUefi | Platform::QemuGrubUefi) {
            let code = setup::ovmf_code().context("OVMF not found: install ovmf")?;
            let vars_src = setup::ovmf_vars().context("OVMF not found: install ovmf")?;
            let vars = workdir.join("OVMF_VARS.fd");
            std::fs::copy(&vars_src, &vars)
                .with_context(|| format!("copying {}", vars_src.display()))?;
            Some(Ovmf { code, vars })
        } else {
            None
        };
        let boot = if self.platform == Platform::QemuKernel {
            // The bundle is made next to the ELF (images::Images::make).
            QemuBoot::Kernel { kernel: image.to_owned(), initrd: image.with_file_name("bundle.tar") }
        } else if self.platform.firmware() == Firmware::Iso {
            QemuBoot::Cdrom(image.to_owned())
        } else {
            QemuBoot::Disk(image.to_owned())
        };
        let config = QemuConfig {
            boot,
            uefi,
            accel: self.accel,
            smp: self.smp,
            mem_mib: self.mem_mib,
            icount: self.icount,
            com1: match console {
                Console::Terminal => Serial::MonStdio,
                Console::File(p) => Serial::File(p.clone()),
                Console::TypedFile(p) => Serial::LoggedSocket { socket: workdir.join("com1.sock"), log: p.clone() },
            },
            // COM2 is Dom0's shell: on the terminal with COM1, or on a socket
            // a scenario may type into (`com2.sock`).
            com2: match console {
                Console::Terminal => Serial::SharedStdio,
                Console::File(_) | Console::TypedFile(_) => Serial::Socket(workdir.join("com2.sock")),
            },
        };
        let mut cmd = Command::new("qemu-system-x86_64");
        cmd.args(config.args());
        Ok(cmd)
    }

    fn bochs(&self, image: &Path, workdir: &Path, com1: &Path) -> Result<Command> {
        let media = if self.platform.firmware() == Firmware::Iso {
            bochs::Media::Cdrom(image.to_owned())
        } else {
            let disk = workdir.join("bochs-disk.img");
            let bytes = bochs::pad_disk(image, &disk)?;
            bochs::Media::Disk { path: disk, bytes }
        };
        let config = BochsConfig {
            model: if matches!(self.platform, Platform::BochsVmx | Platform::BochsGrubVmx) {
                CpuModel::Haswell
            } else {
                CpuModel::Ryzen
            },
            cpus: self.smp,
            mem_mib: self.mem_mib,
            media,
            com1: com1.to_owned(),
            log: workdir.join("bochs.log"),
            bios: setup::bochs_bios().context("Bochs BIOS not found: install bochsbios")?,
            vga_bios: setup::vga_cirrus().context("Cirrus VGA BIOS not found: install vgabios")?,
        };
        let rc = workdir.join("bochsrc");
        std::fs::write(&rc, config.bochsrc())?;
        std::fs::write(workdir.join("bochs.rc"), bochs::RC_FILE)?;
        let mut cmd = Command::new("bochs");
        cmd.current_dir(workdir)
            .args(["-q", "-f", "bochsrc", "-rc", "bochs.rc"])
            .envs(bochs::ENV.iter().copied());
        Ok(cmd)
    }
}
