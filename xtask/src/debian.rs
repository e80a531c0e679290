//! Debian's stock Linux kernel and a busybox initramfs, for the Linux
//! scenarios and `cargo xtask run --dom0`/`--create` with Linux.
//!
//! The packages are fetched with `apt-get download` (never installed) into
//! `target/debian/`, and reused from there: `linux-image-amd64`'s current
//! kernel package (named by `apt-cache depends linux-image-amd64`) and
//! `busybox-static`. From them come `target/debian/vmlinuz` (the bzImage)
//! and `target/debian/initrd.gz` (a gzip newc cpio, built here), whose
//! `/init` prints [`USERSPACE_MARKER`], mounts proc, sys and devtmpfs, and
//! runs a shell on the console; when the shell exits it powers off.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

use crate::cpio::Cpio;

/// The line `/init` prints first: userspace runs.
pub const USERSPACE_MARKER: &str = "linux-init: userspace reached";
/// The line `/init` prints before its shell's prompt.
pub const SHELL_MARKER: &str = "linux-init: shell on the console";
/// The meta package whose dependency is the current kernel package.
const KERNEL_META: &str = "linux-image-amd64";
const BUSYBOX: &str = "busybox-static";

/// The files made from Debian's packages.
#[derive(Debug, Clone)]
pub struct Linux {
    /// The bzImage (`boot/vmlinuz-*` of the kernel package).
    pub bzimage: PathBuf,
    /// The busybox initramfs.
    pub initrd: PathBuf,
    /// The kernel package, e.g. `linux-image-6.1.0-57-amd64`.
    pub package: String,
}

/// `/sbin/poweroff`, what Linux runs when asked to power off.
const POWEROFF_SCRIPT: &str = "#!/bin/busybox sh\nexec /bin/busybox poweroff -f\n";

/// `/init`: a POSIX shell script run by busybox's shell.
pub fn init_script() -> String {
    format!(
        "#!/bin/sh\n\
         # Written by `cargo xtask` (xtask/src/debian.rs).\n\
         /bin/busybox mkdir -p /proc /sys /dev /tmp\n\
         /bin/busybox --install -s /bin\n\
         mount -t devtmpfs devtmpfs /dev 2>/dev/null\n\
         # The kernel log too: it reaches the hypervisor's console (earlyprintk=xen keep_bootcon).\n\
         say() {{ echo \"$1\"; echo \"$1\" > /dev/kmsg; }}\n\
         say \"{USERSPACE_MARKER}\"\n\
         mount -t proc proc /proc\n\
         mount -t sysfs sysfs /sys\n\
         n=$(grep -c ^processor /proc/cpuinfo)\n\
         say \"linux-init: kernel $(uname -r), $n CPU(s)\"\n\
         # With several: a process pinned to each says where it ran (field 39 of its stat).\n\
         c=0; while [ $n -gt 1 ] && [ $c -lt $n ]; do\n\
         r=$(taskset -c $c sh -c 'read s < /proc/self/stat; set -- $s; echo ${{39}}')\n\
         say \"linux-init: pinned to CPU $c, ran on CPU $r\"; c=$((c+1)); done\n\
         [ -r /sys/hypervisor/type ] && say \"linux-init: hypervisor $(cat /sys/hypervisor/type)\"\n\
         [ -r /sys/hypervisor/uuid ] && say \"linux-init: uuid $(cat /sys/hypervisor/uuid)\"\n\
         # `linux-init=poweroff` on the kernel command line: no shell (a console nobody types on).\n\
         if grep -q linux-init=poweroff /proc/cmdline; then say \"linux-init: powering off\"; poweroff -f; fi\n\
         say \"{SHELL_MARKER}\"\n\
         setsid cttyhack sh\n\
         echo \"linux-init: shell exited, powering off\"\n\
         poweroff -f\n"
    )
}

/// The initramfs for `busybox` (the static binary's bytes), uncompressed.
pub fn initramfs_cpio(busybox: &[u8]) -> Vec<u8> {
    let mut c = Cpio::new();
    for dir in ["bin", "sbin", "usr", "usr/bin", "usr/sbin", "dev", "proc", "sys", "tmp", "etc", "root"] {
        c.dir(dir);
    }
    c.file("bin/busybox", 0o755, busybox).symlink("bin/sh", "busybox");
    // Linux opens /dev/console for init's stdio before anything is mounted.
    c.char_dev("dev/console", 0o600, 5, 1);
    c.file("init", 0o755, init_script().as_bytes());
    // Xen's control/shutdown makes Linux run its poweroff_cmd, /sbin/poweroff
    // (busybox's would signal an init this script is not): power off at
    // once, even before /init runs.
    c.file("sbin/poweroff", 0o755, POWEROFF_SCRIPT.as_bytes());
    c.finish()
}

/// Makes (or reuses) Debian's kernel and the initramfs under `target/debian`.
pub fn ensure(target: &Path) -> Result<Linux> {
    let dir = target.join("debian");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut package = kernel_package(&dir)?;
    let kernel_deb = match fetch(&dir, &package) {
        Ok(deb) => deb,
        // Offline with an older kernel cached: use that one.
        Err(e) => match newest_cached_kernel(&dir)? {
            Some((name, deb)) => {
                println!("debian: {e:#}; using the cached {name}");
                package = name;
                deb
            }
            None => return Err(e),
        },
    };
    let busybox_deb = fetch(&dir, BUSYBOX)?;

    let bzimage = dir.join("vmlinuz");
    let stamp = dir.join("vmlinuz.from");
    let from = kernel_deb.file_name().unwrap_or_default().to_string_lossy().into_owned();
    if !bzimage.is_file() || std::fs::read_to_string(&stamp).ok().as_deref() != Some(from.as_str()) {
        let (name, data) = extract_one(&kernel_deb, |p| p.starts_with("./boot/vmlinuz-"))?;
        std::fs::write(&bzimage, data)?;
        std::fs::write(&stamp, &from)?;
        println!("debian: {} from {from}", name.trim_start_matches("./"));
    }

    let initrd = dir.join("initrd.gz");
    let (_, busybox) = extract_one(&busybox_deb, |p| p == "./bin/busybox" || p == "./usr/bin/busybox")?;
    let cpio = initramfs_cpio(&busybox);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(&cpio)?;
    let gz = gz.finish()?;
    if std::fs::read(&initrd).ok().as_deref() != Some(gz.as_slice()) {
        std::fs::write(&initrd, &gz).with_context(|| format!("writing {}", initrd.display()))?;
    }
    Ok(Linux { bzimage, initrd, package })
}

/// The command a user runs to fill the cache by hand.
fn fetch_hint(dir: &Path, package: &str) -> String {
    format!("(cd {} && apt-get update && apt-get download {package})", dir.display())
}

/// The current kernel package: `linux-image-amd64`'s dependency, else the
/// newest one already cached.
fn kernel_package(dir: &Path) -> Result<String> {
    let out = Command::new("apt-cache").args(["depends", KERNEL_META]).output();
    if let Ok(out) = &out
        && out.status.success()
        && let Some(p) = parse_depends(&String::from_utf8_lossy(&out.stdout))
    {
        return Ok(p);
    }
    match newest_cached_kernel(dir)? {
        Some((p, _)) => Ok(p),
        None => bail!(
            "no Debian kernel package: `apt-cache depends {KERNEL_META}` names none (no package lists?) \
             and none is cached in {}; run `apt-get update`, then `apt-cache depends {KERNEL_META}` and \
             `(cd {} && apt-get download linux-image-VERSION-amd64 {BUSYBOX})`",
            dir.display(),
            dir.display()
        ),
    }
}

/// The cached kernel package with the highest name, and its `.deb`.
fn newest_cached_kernel(dir: &Path) -> Result<Option<(String, PathBuf)>> {
    let mut cached: Vec<(String, PathBuf)> =
        cached_debs(dir)?.into_iter().filter(|(name, _)| name.starts_with("linux-image-") && name != KERNEL_META).collect();
    cached.sort();
    Ok(cached.pop())
}

/// `Depends: linux-image-6.1.0-57-amd64` in `apt-cache depends` output.
fn parse_depends(out: &str) -> Option<String> {
    out.lines()
        .filter_map(|l| l.trim().strip_prefix("Depends:"))
        .map(str::trim)
        .find(|p| p.starts_with("linux-image-") && !p.starts_with('<'))
        .map(str::to_owned)
}

/// Cached `.deb` files by package name (`NAME_VERSION_ARCH.deb`).
fn cached_debs(dir: &Path) -> Result<Vec<(String, PathBuf)>> {
    let mut debs = Vec::new();
    for e in std::fs::read_dir(dir)? {
        let path = e?.path();
        let file = path.file_name().unwrap_or_default().to_string_lossy().into_owned();
        if let Some(stem) = file.strip_suffix(".deb")
            && let Some((name, _)) = stem.split_once('_')
        {
            debs.push((name.to_owned(), path));
        }
    }
    Ok(debs)
}

/// The cached `.deb` of `package`, downloaded first if missing.
fn fetch(dir: &Path, package: &str) -> Result<PathBuf> {
    let find = || -> Result<Option<PathBuf>> {
        let mut found: Vec<PathBuf> = cached_debs(dir)?.into_iter().filter(|(n, _)| n == package).map(|(_, p)| p).collect();
        found.sort();
        Ok(found.pop())
    };
    if let Some(p) = find()? {
        return Ok(p);
    }
    println!("debian: apt-get download {package} (into {})", dir.display());
    let out = Command::new("apt-get").arg("download").arg(package).current_dir(dir).output();
    let failure = match out {
        Ok(o) if o.status.success() => None,
        Ok(o) => Some(String::from_utf8_lossy(&o.stderr).trim().to_owned()),
        Err(e) => Some(format!("cannot run apt-get: {e}")),
    };
    if let Some(why) = failure {
        bail!("fetching {package} failed ({why}); with network access, run {}", fetch_hint(dir, package));
    }
    find()?.with_context(|| format!("apt-get download {package} left no {package}_*.deb in {}", dir.display()))
}

/// The first file of a `.deb`'s data whose path (`./boot/...`) `wanted`
/// accepts, read through `dpkg-deb --fsys-tarfile`.
fn extract_one(deb: &Path, wanted: impl Fn(&str) -> bool) -> Result<(String, Vec<u8>)> {
    let mut child = Command::new("dpkg-deb")
        .arg("--fsys-tarfile")
        .arg(deb)
        .stdout(Stdio::piped())
        .spawn()
        .context("running dpkg-deb (Debian's dpkg package)")?;
    let stdout = child.stdout.take().context("dpkg-deb's output")?;
    let mut archive = tar::Archive::new(stdout);
    let mut found = None;
    for entry in archive.entries().with_context(|| format!("reading {}", deb.display()))? {
        let mut entry = entry?;
        let path = entry.path()?.to_string_lossy().into_owned();
        if entry.header().entry_type().is_file() && wanted(&path) {
            let mut data = Vec::new();
            entry.read_to_end(&mut data)?;
            found = Some((path, data));
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    found.with_context(|| format!("{} holds no such file", deb.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kernel_package_is_read_from_apt_cache_depends() {
        let out = "linux-image-amd64\n  Depends: linux-image-6.1.0-57-amd64\n";
        assert_eq!(parse_depends(out).as_deref(), Some("linux-image-6.1.0-57-amd64"));
        assert_eq!(parse_depends("linux-image-amd64\n  Depends: <linux-image-6.1.0-9-amd64>\n"), None);
        assert_eq!(parse_depends(""), None);
    }

    #[test]
    fn the_initramfs_holds_busybox_init_and_the_console() {
        let cpio = initramfs_cpio(b"BUSYBOX");
        let text = String::from_utf8_lossy(&cpio);
        for name in ["bin\0", "bin/busybox\0", "bin/sh\0", "dev/console\0", "init\0", "sbin/poweroff\0", "proc\0", "sys\0", "TRAILER!!!\0"] {
            assert!(text.contains(name), "{name:?} missing");
        }
        let init = init_script();
        assert!(init.starts_with("#!/bin/sh\n"));
        assert!(init.contains(USERSPACE_MARKER) && init.contains(SHELL_MARKER));
        assert!(init.contains("mount -t proc proc /proc") && init.contains("mount -t sysfs sysfs /sys"));
        assert!(init.ends_with("poweroff -f\n"));
        assert!(text.contains(POWEROFF_SCRIPT));
    }

    #[test]
    fn cached_packages_are_found_by_name() {
        let dir = std::env::temp_dir().join(format!("xtask-debian-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("busybox-static_1%3a1.35.0-4+deb12u1+b1_amd64.deb"), b"").unwrap();
        std::fs::write(dir.join("linux-image-6.1.0-57-amd64_6.1.192-3_amd64.deb"), b"").unwrap();
        std::fs::write(dir.join("notes.txt"), b"").unwrap();
        let found = fetch(&dir, BUSYBOX).unwrap();
        assert!(found.ends_with("busybox-static_1%3a1.35.0-4+deb12u1+b1_amd64.deb"));
        let mut names: Vec<String> = cached_debs(&dir).unwrap().into_iter().map(|(n, _)| n).collect();
        names.sort();
        assert_eq!(names, ["busybox-static", "linux-image-6.1.0-57-amd64"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
