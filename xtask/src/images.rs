//! Building the kernels (nested cargo) and the boot images (bootloader crate).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::bundle::Bundle;

pub const KERNEL_TARGET: &str = "x86_64-unknown-none";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Hypervisor,
    Dom0,
    Guest,
}

/// A kernel crate built for [`KERNEL_TARGET`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kernel {
    pub package: String,
    /// The crate's directory, relative to the workspace root.
    pub dir: PathBuf,
    pub role: Role,
}

/// The fixed kernels; every crate under `guests/` is added as a guest.
const FIXED: &[(&str, &str, Role)] = &[
    ("hypervisor", "hypervisor", Role::Hypervisor),
    ("dom0-kernel", "dom0-kernel", Role::Dom0),
];

/// The kernel crates that exist in this checkout.
pub fn kernels(root: &Path) -> Result<Vec<Kernel>> {
    let mut found: Vec<Kernel> = FIXED
        .iter()
        .map(|&(package, dir, role)| Kernel {
            package: package.into(),
            dir: dir.into(),
            role,
        })
        .filter(|k| root.join(&k.dir).join("Cargo.toml").is_file())
        .collect();
    if !found.iter().any(|k| k.role == Role::Hypervisor) {
        bail!("no hypervisor/Cargo.toml under {}", root.display());
    }
    if let Ok(entries) = std::fs::read_dir(root.join("guests")) {
        let mut guests: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.join("Cargo.toml").is_file())
            .collect();
        guests.sort();
        for path in guests {
            let manifest = std::fs::read_to_string(path.join("Cargo.toml"))?;
            let package = package_name(&manifest)
                .with_context(|| format!("no package name in {}/Cargo.toml", path.display()))?;
            let dir = path.strip_prefix(root).unwrap_or(&path).to_owned();
            found.push(Kernel {
                package,
                dir,
                role: Role::Guest,
            });
        }
    }
    Ok(found)
}

/// `name = "..."` of the `[package]` table (enough for our own manifests).
fn package_name(manifest: &str) -> Option<String> {
    let mut in_package = false;
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            in_package = line == "[package]";
        } else if in_package
            && let Some(value) = line.strip_prefix("name").map(str::trim_start)
            && let Some(value) = value.strip_prefix('=')
        {
            return Some(value.trim().trim_matches('"').to_owned());
        }
    }
    None
}

/// Kernel ELF files after a build.
#[derive(Clone)]
pub struct Built {
    pub hypervisor: PathBuf,
    pub dom0: Option<PathBuf>,
    pub guests: Vec<(String, PathBuf)>,
    /// Files packed right after Dom0's, in order (bundle name, contents):
    /// `run --module` files (the first is Linux's initrd) and `--create`
    /// configs with their kernels.
    pub first_files: Vec<(String, Vec<u8>)>,
}

impl Built {
    /// The same kernels with the guest crate `name` (under `guests/`) as Dom0.
    pub fn with_guest_as_dom0(&self, name: &str) -> Result<Built> {
        let Some((_, elf)) = self.guests.iter().find(|(package, _)| package == name) else {
            bail!("no guest kernel `{name}` under guests/ to boot as Dom0");
        };
        Ok(Built {
            hypervisor: self.hypervisor.clone(),
            dom0: Some(elf.clone()),
            guests: self.guests.clone(),
            first_files: self.first_files.clone(),
        })
    }
}

/// Builds every kernel crate in one `cargo build --release`.
pub fn build_kernels(root: &Path, target_dir: &Path) -> Result<Built> {
    let kernels = kernels(root)?;
    let mut cmd = crate::toolchain::cargo();
    cmd.current_dir(root)
        .args(["build", "--release", "--target", KERNEL_TARGET]);
    for k in &kernels {
        cmd.args(["-p", &k.package]);
    }
    let status = cmd.status().context("running cargo")?;
    if !status.success() {
        bail!("building the kernels failed ({status})");
    }
    let out = target_dir.join(KERNEL_TARGET).join("release");
    let elf = |k: &Kernel| out.join(&k.package);
    let mut built = Built {
        hypervisor: PathBuf::new(),
        dom0: None,
        guests: Vec::new(),
        first_files: Vec::new(),
    };
    for k in &kernels {
        match k.role {
            Role::Hypervisor => built.hypervisor = elf(k),
            Role::Dom0 => built.dom0 = Some(elf(k)),
            Role::Guest => built.guests.push((k.package.clone(), elf(k))),
        }
    }
    Ok(built)
}

/// How an image boots: a `bootloader` disk for BIOS or UEFI, or the
/// hypervisor ELF itself started by a multiboot loader (QEMU's `-kernel`,
/// with the boot bundle as its module).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Firmware {
    Bios,
    Uefi,
    Multiboot,
    /// A hybrid BIOS + UEFI ISO: GRUB loading the hypervisor with
    /// `multiboot2` and Dom0 and its files with `module2`, as Xen is booted.
    Iso,
}

/// The files of one image directory (`target/images`, `target/scenarios/<name>`).
pub struct Images {
    pub dir: PathBuf,
}

impl Images {
    pub fn new(dir: PathBuf) -> Self {
        Self { dir }
    }
    pub fn bundle(&self) -> PathBuf {
        self.dir.join("bundle.tar")
    }
    pub fn image(&self, fw: Firmware) -> PathBuf {
        self.dir.join(match fw {
            Firmware::Bios => "hypervisor-bios.img",
            Firmware::Uefi => "hypervisor-uefi.img",
            Firmware::Multiboot => "hypervisor.elf",
            Firmware::Iso => "hypervisor.iso",
        })
    }

    /// Packs the bundle and makes the disk images for `firmware`.
    pub fn make(&self, built: &Built, boot: &BootSpec, firmware: &[Firmware]) -> Result<()> {
        self.make_with(built, boot, firmware, &[])
    }

    /// The same with `extra` host files in the bundle (bundle name, path).
    pub fn make_with(&self, built: &Built, boot: &BootSpec, firmware: &[Firmware], extra: &[(&str, &Path)]) -> Result<()> {
        std::fs::create_dir_all(&self.dir)
            .with_context(|| format!("creating {}", self.dir.display()))?;
        let mut bundle = bundle(built, boot)?;
        for (name, path) in extra {
            bundle.file_from(name, path)?;
        }
        bundle.write(&self.bundle())?;
        if firmware.contains(&Firmware::Iso) {
            self.make_iso(built, boot, &bundle)?;
        }

        for &fw in firmware {
            let path = self.image(fw);
            match fw {
                Firmware::Bios => disk_image("bios", &built.hypervisor, &self.bundle(), &path),
                Firmware::Uefi => disk_image("uefi", &built.hypervisor, &self.bundle(), &path),
                Firmware::Multiboot => std::fs::copy(&built.hypervisor, &path).map(drop).map_err(Into::into),
                Firmware::Iso => Ok(()),
            }
            .with_context(|| format!("creating {}", path.display()))?;
        }
        Ok(())
    }
}

impl Images {
    /// The ISO: `boot/` holds the hypervisor, Dom0 and every bundle file
    /// under its bundle name, `boot/grub/grub.cfg` boots them Xen-style.
    fn make_iso(&self, built: &Built, boot: &BootSpec, bundle: &Bundle) -> Result<()> {
        let stage = self.dir.join("iso");
        let _ = std::fs::remove_dir_all(&stage);
        std::fs::create_dir_all(stage.join("boot/grub"))?;
        std::fs::copy(&built.hypervisor, stage.join("boot/hypervisor"))?;
        if let Some(dom0) = &built.dom0 {
            std::fs::copy(dom0, stage.join("boot/dom0"))?;
        }
        let mut modules = Vec::new();
        for (name, data) in bundle.files().iter().filter(|(n, _)| !NOT_ISO_FILES.contains(&n.as_str())) {
            let path = stage.join("boot").join(name);
            std::fs::create_dir_all(path.parent().unwrap_or(&stage))?;
            std::fs::write(&path, data)?;
            modules.push(name.as_str());
        }
        let dom0 = if built.dom0.is_some() { Some(boot.dom0_cmdline) } else { None };
        std::fs::write(stage.join("boot/grub/grub.cfg"), grub_cfg(boot.cmdline, dom0, &modules))?;
        let iso = self.image(Firmware::Iso);
        let out = Command::new("grub-mkrescue")
            .arg("-o")
            .arg(&iso)
            .arg(&stage)
            .output()
            .context("running grub-mkrescue (Debian: grub-pc-bin grub-efi-amd64-bin xorriso mtools)")?;
        if !out.status.success() {
            bail!("grub-mkrescue failed: {}", String::from_utf8_lossy(&out.stderr).trim());
        }
        Ok(())
    }
}

/// A `bootloader` disk image, made by the `imager` crate with the pinned
/// toolchain (the bootloader's build script needs nightly).
fn disk_image(firmware: &str, kernel: &Path, ramdisk: &Path, out: &Path) -> Result<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap_or(Path::new("."));
    let status = crate::toolchain::cargo()
        .current_dir(root)
        .args(["run", "--quiet", "--release", "--package", "imager", "--", firmware])
        .args([kernel, ramdisk, out])
        .status()
        .context("running the image builder (cargo run -p imager)")?;
    if !status.success() {
        bail!("the image builder failed ({status})");
    }
    Ok(())
}

/// Bundle files the ISO carries otherwise: the command lines are on GRUB's
/// lines, Dom0 is its first module.
const NOT_ISO_FILES: [&str; 3] = ["hypervisor.cmdline", "dom0", "dom0.cmdline"];

/// A `grub.cfg` as a Xen user writes one: the hypervisor with its command
/// line on `multiboot2`, Dom0 with its own on the first `module2`, then
/// each file named by its string (Dom0's toolstack finds configs and
/// kernels by these names).
pub fn grub_cfg(cmdline: &str, dom0_cmdline: Option<&str>, files: &[&str]) -> String {
    let mut cfg = String::from(
        "# Written by `cargo xtask build`: boots as Xen is booted from GRUB.\n\
         set timeout=1\n\
         set default=0\n\
         serial --unit=0 --speed=115200\n\
         terminal_input serial console\n\
         terminal_output serial console\n\n\
         menuentry \"Xen-compatible hypervisor (Rust)\" {\n",
    );
    cfg += &format!("    multiboot2 /boot/hypervisor {}\n", grub_words(cmdline));
    if let Some(dom0) = dom0_cmdline {
        cfg += &format!("    module2 /boot/dom0 {}\n", grub_words(dom0));
        for name in files {
            cfg += &format!("    module2 /boot/{name} {name}\n");
        }
    }
    cfg += "}\n";
    cfg
}

/// A command line as GRUB words: each quoted when GRUB would read a
/// character of it specially.
fn grub_words(cmdline: &str) -> String {
    let plain = |w: &str| w.chars().all(|c| c.is_ascii_alphanumeric() || "=,._/-:+@".contains(c));
    cmdline
        .split_whitespace()
        .map(|w| if plain(w) { w.to_owned() } else { format!("'{}'", w.replace('\'', "'\\''")) })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The command lines that go into the bundle.
#[derive(Debug, Clone, Copy)]
pub struct BootSpec<'a> {
    /// The hypervisor's (`hypervisor.cmdline`).
    pub cmdline: &'a str,
    /// Dom0's (`dom0.cmdline`), in its start info.
    pub dom0_cmdline: &'a str,
}

/// What goes into the boot bundle: the command lines, Dom0, the files
/// `run` was given (`built.first_files`: Dom0's modules first, in order),
/// and for Dom0's toolstack every guest kernel (`domu/<crate>`), the domain
/// configs of `configs/` (`configs/<file>`) and the broken ones the
/// toolstack tests (`bad/<file>`, from toolstack/tests/bad).
fn bundle(built: &Built, boot: &BootSpec) -> Result<Bundle> {
    let mut b = Bundle::new();
    b.file("hypervisor.cmdline", boot.cmdline);
    if let Some(dom0) = &built.dom0 {
        b.file_from("dom0", dom0)?;
        b.file("dom0.cmdline", boot.dom0_cmdline);
    }
    for (name, data) in &built.first_files {
        b.file(name, data.clone());
    }
    for (package, elf) in &built.guests {
        b.file_from(&format!("domu/{package}"), elf)?;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap_or(Path::new("."));
    for (dir, prefix) in [("configs", "configs"), ("toolstack/tests/bad", "bad")] {
        let mut files: Vec<PathBuf> = std::fs::read_dir(root.join(dir))
            .with_context(|| format!("reading {dir}/"))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "cfg"))
            .collect();
        files.sort();
        for path in files {
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            b.file_from(&format!("{prefix}/{name}"), &path)?;
        }
    }
    Ok(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grub_cfg_boots_xen_style() {
        let cfg = grub_cfg("loglvl=info", Some("autostart=demo1.cfg shell"), &["domu/demo", "configs/demo1.cfg"]);
        assert!(cfg.contains("    multiboot2 /boot/hypervisor loglvl=info\n"));
        assert!(cfg.contains("    module2 /boot/dom0 autostart=demo1.cfg shell\n    module2 /boot/domu/demo domu/demo\n"));
        assert!(cfg.contains("module2 /boot/configs/demo1.cfg configs/demo1.cfg"));
        assert!(!grub_cfg("", None, &["x"]).contains("module2"));
        assert_eq!(grub_words("a=b c;d it's"), "a=b 'c;d' 'it'\\''s'");
    }

    #[test]
    fn run_files_come_right_after_dom0_in_order() {
        let dir = std::env::temp_dir().join(format!("xtask-bundle-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("dom0"), b"DOM0").unwrap();
        let built = Built {
            hypervisor: dir.join("hv"),
            dom0: Some(dir.join("dom0")),
            guests: Vec::new(),
            first_files: vec![("modules/initrd.gz".into(), b"INITRD".to_vec()), ("configs/x.cfg".into(), b"name = \"x\"\n".to_vec())],
        };
        let b = bundle(&built, &BootSpec { cmdline: "loglvl=info", dom0_cmdline: "console=hvc0" }).unwrap();
        let names: Vec<&str> = b.files().iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names[..5], ["hypervisor.cmdline", "dom0", "dom0.cmdline", "modules/initrd.gz", "configs/x.cfg"]);
        assert_eq!(b.files()[3].1, b"INITRD");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn reads_package_name() {
        let m =
            "[package]\nname = \"pvh-demo\"\nversion = \"0.1.0\"\n[dependencies]\nname = \"x\"\n";
        assert_eq!(package_name(m).as_deref(), Some("pvh-demo"));
        assert_eq!(package_name("[dependencies]\nname = \"x\"\n"), None);
    }

    #[test]
    fn finds_workspace_kernels() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let k = kernels(root).unwrap();
        assert_eq!(k[0].package, "hypervisor");
        assert_eq!(k[0].role, Role::Hypervisor);
    }
}
