//! `cargo xtask`: builds the kernels and boot images, boots them under QEMU or
//! Bochs, and runs the test scenarios.

mod bench;
mod bench_boot;
mod bench_xenstore;
mod bench_linux;
mod bench_sched;
mod bochs;
mod bundle;
mod com2;
mod cpio;
mod debian;
mod harness;
mod images;
mod matcher;
mod platform;
mod proc;
mod qemu;
mod run;
mod scenarios;
mod serial;
mod setup;
mod test;
mod toolchain;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Result, bail};
use clap::{Parser, Subcommand, ValueEnum};

use crate::images::{BootSpec, Firmware, Images};
use crate::platform::{Machine, Platform};
use crate::qemu::Accel;

const DEFAULT_CMDLINE: &str = "loglvl=info";
/// `run`'s: Dom0's heap is its RAM, and building Debian's Linux (a 63 MiB
/// ELF from an xz bzImage with a 32 MiB dictionary, next to the bundle)
/// needs ~110 MiB of it; the hypervisor's own default is 64M.
const RUN_CMDLINE: &str = "loglvl=info dom0_mem=256M";

#[derive(Parser)]
#[command(name = "cargo xtask", about = "Build, boot and test the hypervisor")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Build the kernels, the boot bundle and the BIOS and UEFI images (target/images/).
    Build {
        /// The hypervisor command line.
        #[arg(long, default_value = DEFAULT_CMDLINE)]
        cmdline: String,
        /// Dom0's command line.
        #[arg(long, default_value = "")]
        dom0_cmdline: String,
    },
    /// Build, then boot under an emulator with COM1 on the terminal.
    Run(RunArgs),
    /// Run the host unit tests, then the emulator scenarios (or only the named ones).
    Test {
        /// List the scenarios and exit.
        #[arg(long)]
        list: bool,
        /// Also run the extended (long) scenarios when none is named.
        #[arg(long)]
        extended: bool,
        /// Scenarios to run; `host` selects the host unit tests, which run
        /// only when named or when no name is given.
        names: Vec<String>,
    },
    /// Benchmarks: boot time, CPUID exit and null hypercall cost on each platform.
    Bench(bench::BenchArgs),
    /// Fetch Debian's kernel and busybox-static (apt-get download, cached
    /// in target/debian/) and build the busybox initramfs; print their paths.
    Debian {
        /// Then time the PVH loader decompressing the kernel on the host
        /// (pvh's ignored test `real_bzimage_decompression_time`, release build).
        #[arg(long)]
        time_decompression: bool,
    },
}

#[derive(clap::Args)]
struct RunArgs {
    /// `kernel`: QEMU starts the hypervisor ELF itself (multiboot, the
    /// fastest); `bios` / `uefi`: the bootloader disk images; `iso`: the
    /// GRUB ISO from a CD-ROM (SeaBIOS; with Bochs, its Haswell). Bochs
    /// boots the BIOS image unless `iso` is asked for.
    #[arg(long, value_enum, default_value_t = ImageKind::Kernel)]
    image: ImageKind,
    #[arg(long, value_enum, default_value_t = PlatformArg::Qemu)]
    platform: PlatformArg,
    /// Number of CPUs (Dom0 has the first; each other one runs a DomU vCPU).
    #[arg(long, default_value_t = 4)]
    smp: u32,
    /// Memory in MiB (Dom0 256, the rest for DomUs: a Linux one takes 256).
    #[arg(long, default_value_t = 1024)]
    mem: u32,
    /// QEMU: deterministic instruction counting (-icount shift=0,sleep=off).
    #[arg(long)]
    icount: bool,
    /// Boot this kernel as Dom0 instead of ours: a PVH ELF (one with a
    /// XEN_ELFNOTE_PHYS32_ENTRY note) or a bzImage whose payload is one.
    #[arg(long, value_name = "FILE")]
    dom0: Option<PathBuf>,
    /// A module for Dom0, after its kernel (repeatable, in order: for Linux
    /// the first is its initrd).
    #[arg(long, value_name = "FILE")]
    module: Vec<PathBuf>,
    /// Create the domain of this xl.cfg at boot instead of the demos
    /// (repeatable): the config and the host files its `kernel` and
    /// `ramdisk` name (relative to the config's folder) go into the bundle,
    /// and Dom0's `autostart=` names them.
    #[arg(long, value_name = "PATH.cfg")]
    create: Vec<PathBuf>,
    /// Power the machine off once every `--create`d domain is gone (Dom0's
    /// `until-gone`); the exit status is non-zero if one crashed.
    #[arg(long, requires = "create")]
    until_gone: bool,
    /// Dom0's command line (ours: `autostart=A.cfg,B.cfg` creates those
    /// domains from configs/, `shell` runs Dom0's shell on COM2, `idle` stays up, `test=lifecycle`,
    /// `test=isolation`, `bench=cpuid`...; nothing: print and power off).
    /// With --create, its `autostart=` names the created configs instead.
    #[arg(long, default_value = "autostart=demo1.cfg,demo2.cfg shell")]
    dom0_cmdline: String,
    /// The hypervisor command line.
    #[arg(long, default_value = RUN_CMDLINE)]
    cmdline: String,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ImageKind {
    Kernel,
    Bios,
    Uefi,
    Iso,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum PlatformArg {
    Qemu,
    BochsVmx,
    BochsSvm,
}

fn main() -> ExitCode {
    match real_main() {
        Ok(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn real_main() -> Result<i32> {
    let cli = Cli::parse();
    let root = workspace_root();
    let target = target_dir(&root);
    if !matches!(cli.command, Cmd::Test { list: true, .. }) {
        toolchain::ensure()?;
    }
    match cli.command {
        Cmd::Build { cmdline, dom0_cmdline } => {
            setup::ensure(setup::ISO_PACKAGES, " (grub-mkrescue makes target/images/hypervisor.iso with them)")?;
            let built = images::build_kernels(&root, &target)?;
            let images = Images::new(target.join("images"));
            let boot = BootSpec { cmdline: &cmdline, dom0_cmdline: &dom0_cmdline };
            images.make(&built, &boot, &[Firmware::Bios, Firmware::Uefi, Firmware::Multiboot, Firmware::Iso])?;
            for path in [
                images.bundle(),
                images.image(Firmware::Bios),
                images.image(Firmware::Uefi),
                images.image(Firmware::Multiboot),
                images.image(Firmware::Iso),
            ] {
                let size = std::fs::metadata(&path)?.len();
                println!("{} ({} KiB)", path.display(), size.div_ceil(1024));
            }
            Ok(0)
        }
        Cmd::Run(args) => {
            if let Some(file) = &args.dom0
                && !file.is_file()
            {
                eprintln!("--dom0: {} is not a file: give the path of a PVH ELF kernel or a bzImage", file.display());
                return Ok(2);
            }
            let mut create = Vec::new();
            let mut names = Vec::new();
            for cfg in &args.create {
                let (name, files) = run::pack_config(cfg)?;
                if names.contains(&name) {
                    bail!("--create {}: another config is also called {name}", cfg.display());
                }
                names.push(name);
                create.extend(files);
            }
            let mut dom0_cmdline =
                if names.is_empty() { args.dom0_cmdline.clone() } else { run::with_autostart(&args.dom0_cmdline, &names) };
            if args.until_gone && !dom0_cmdline.split_whitespace().any(|w| w == "until-gone") {
                dom0_cmdline += " until-gone";
            }
            let machine = machine(&args)?;
            let hint = if machine.platform.is_qemu() {
                ""
            } else {
                ", or pass --platform qemu"
            };
            setup::ensure(machine.platform.packages(), hint)?;
            let boot = BootSpec { cmdline: &args.cmdline, dom0_cmdline: &dom0_cmdline };
            let user = run::UserFiles { dom0: args.dom0.as_deref(), modules: &args.module, create };
            run::run(&root, &target, &machine, &boot, user)
        }
        Cmd::Test { list: true, .. } => {
            test::list();
            Ok(0)
        }
        Cmd::Test { list: false, names, extended } => Ok(if test::test(&root, &target, &names, extended)? {
            0
        } else {
            1
        }),
        Cmd::Bench(args) => bench::bench(&root, &target, &args),
        Cmd::Debian { time_decompression } => {
            let linux = debian::ensure(&target)?;
            println!("{} ({})", linux.bzimage.display(), linux.package);
            println!("{}", linux.initrd.display());
            if time_decompression {
                let status = toolchain::cargo()
                    .current_dir(&root)
                    .env("PVH_BZIMAGE", &linux.bzimage)
                    .args(["test", "--release", "-p", "pvh", "--lib", "--", "--ignored", "--nocapture", "real_bzimage"])
                    .status()?;
                return Ok(if status.success() { 0 } else { 1 });
            }
            Ok(0)
        }
    }
}

fn machine(args: &RunArgs) -> Result<Machine> {
    let platform = match (args.platform, args.image) {
        (PlatformArg::Qemu, ImageKind::Kernel) => Platform::QemuKernel,
        (PlatformArg::Qemu, ImageKind::Bios) => Platform::QemuBios,
        (PlatformArg::Qemu, ImageKind::Uefi) => Platform::QemuUefi,
        (PlatformArg::Qemu, ImageKind::Iso) => Platform::QemuGrubBios,
        (PlatformArg::BochsVmx, ImageKind::Iso) => Platform::BochsGrubVmx,
        (PlatformArg::BochsSvm, ImageKind::Iso) => bail!("the ISO boots on Bochs as a Haswell: use --platform bochs-vmx"),
        (_, ImageKind::Uefi) => {
            bail!("Bochs has no UEFI firmware here: use --image bios, or --platform qemu")
        }
        // Bochs has no multiboot loader: it boots the BIOS disk image.
        (PlatformArg::BochsVmx, ImageKind::Bios | ImageKind::Kernel) => Platform::BochsVmx,
        (PlatformArg::BochsSvm, ImageKind::Bios | ImageKind::Kernel) => Platform::BochsSvm,
    };
    if args.icount && !platform.is_qemu() {
        bail!("--icount is a QEMU option: drop it, or pass --platform qemu");
    }
    if args.smp == 0 || args.mem < 32 {
        bail!("--smp must be at least 1 and --mem at least 32 (MiB)");
    }
    let accel = if platform.is_qemu() {
        let (accel, why) = Accel::detect();
        println!("qemu: using {why}");
        accel
    } else {
        Accel::Tcg
    };
    Ok(Machine {
        platform,
        accel,
        smp: args.smp,
        mem_mib: args.mem,
        icount: args.icount,
    })
}

/// The workspace root: this crate's parent directory.
fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_owned()
}

/// Cargo's target directory (CARGO_TARGET_DIR, else `<root>/target`).
fn target_dir(root: &Path) -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => root.join(dir),
        None => root.join("target"),
    }
}
