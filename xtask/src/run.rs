//! `cargo xtask run`: build, then boot one machine with COM1 on the terminal.

use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::thread::sleep;
use std::time::{Duration, Instant};

use std::path::PathBuf;

use anyhow::{Context, Result};

use crate::images::{self, BootSpec, Images};
use crate::matcher::{Matcher, Progress};
use crate::platform::{Console, Machine};
use crate::proc::Emulator;
use crate::serial::SerialLog;

/// Bundle files: (bundle name, contents), in order.
pub type BundleFiles = Vec<(String, Vec<u8>)>;

/// What a user gives `run` besides the machine.
#[derive(Debug, Default)]
pub struct UserFiles<'a> {
    /// `--dom0`: Dom0's kernel (a PVH ELF or a bzImage) instead of ours.
    pub dom0: Option<&'a Path>,
    /// `--module`: Dom0's modules, in order (the first is Linux's initrd).
    pub modules: &'a [PathBuf],
    /// `--create`: the bundle files of each config (`pack_config`).
    pub create: BundleFiles,
}

/// Bundle entries for `--module` files: `modules/<file name>`, in order.
pub fn pack_modules(modules: &[PathBuf]) -> Result<BundleFiles> {
    let mut out: BundleFiles = Vec::new();
    for path in modules {
        let base = path.file_name().with_context(|| format!("--module {}: no file name", path.display()))?;
        let name = format!("modules/{}", base.to_string_lossy());
        if out.iter().any(|(n, _)| *n == name) {
            anyhow::bail!("--module {}: two modules are called {name}", path.display());
        }
        let data = std::fs::read(path).with_context(|| format!("--module: reading {}", path.display()))?;
        out.push((name, data));
    }
    Ok(out)
}

/// Boots `machine` with the command lines of `boot` and the user's files;
/// returns xtask's exit status.
pub fn run(root: &Path, target: &Path, machine: &Machine, boot: &BootSpec, user: UserFiles) -> Result<i32> {
    let mut built = images::build_kernels(root, target)?;
    if let Some(file) = user.dom0 {
        built.dom0 = Some(file.to_owned());
    }
    built.first_files = pack_modules(user.modules)?;
    built.first_files.extend(user.create);
    let fw = machine.platform.firmware();
    let images = Images::new(target.join("images"));
    images.make(&built, boot, &[fw])?;
    let image = images.image(fw);
    let cmdline = boot.cmdline;
    println!(
        "booting {} on {} (cmdline {cmdline:?})",
        image.display(),
        machine.platform.name(machine.accel)
    );
    if machine.platform.is_qemu() {
        println!(
            "COM1 (the hypervisor log and the domains' consoles) and COM2 (Dom0's shell, `xl> `) share this terminal;\n\
             the keyboard goes to COM2 first: Ctrl-A C switches it between COM2, the QEMU monitor and COM1; Ctrl-A X quits"
        );
        let cmd = machine.command(&image, &images.dir, &Console::Terminal)?;
        run_qemu(cmd)
    } else {
        let com1 = images.dir.join("com1.log");
        let cmd = machine.command(&image, &images.dir, &Console::File(com1.clone()))?;
        println!(
            "Bochs: COM1 follows; Ctrl-C stops Bochs; its log is {}",
            images.dir.join("bochs.log").display()
        );
        run_bochs(cmd, &com1, &images.dir.join("emulator.log"))
    }
}

fn run_qemu(mut cmd: Command) -> Result<i32> {
    let status = cmd.status().context("starting qemu-system-x86_64")?;
    let code = status.code().unwrap_or(1);
    // isa-debug-exit: QEMU exits with (N << 1) | 1 for the guest's code N.
    if code & 1 == 1 && code > 0 {
        println!(
            "\nQEMU exited with status {code}: hypervisor exit code {}",
            code >> 1
        );
        Ok(code >> 1)
    } else {
        println!("\nQEMU exited ({status})");
        Ok(code)
    }
}

fn run_bochs(cmd: Command, com1: &Path, emu_log: &Path) -> Result<i32> {
    let mut serial = SerialLog::create(com1)?;
    let mut emu = Emulator::spawn(cmd, emu_log)?;
    let mut matcher = Matcher::new(&[], &[]);
    let mut exit_seen: Option<Instant> = None;
    let mut out = std::io::stdout();
    loop {
        let exited = emu.try_wait().is_some();
        let bytes = serial.read_new();
        out.write_all(&bytes)?;
        out.flush()?;
        for line in serial.lines(&bytes) {
            matcher.feed(&line);
        }
        if let Progress::Exited(_) = matcher.progress() {
            exit_seen.get_or_insert_with(Instant::now);
        }
        if exited || exit_seen.is_some_and(|t| t.elapsed() > Duration::from_secs(1)) {
            break;
        }
        sleep(Duration::from_millis(20));
    }
    emu.kill();
    match matcher.progress() {
        Progress::Exited(code) => {
            println!("\nhypervisor exit code {code}; Bochs stopped");
            Ok(i32::try_from(*code).unwrap_or(1))
        }
        _ => {
            println!("\nBochs exited; its output is in {}", emu_log.display());
            Ok(1)
        }
    }
}

/// Bundle files for `--create CFG`: the config, rewritten so its `kernel`
/// and `ramdisk` name the bundle copies of the host files they named
/// (relative paths resolve against the config's folder, as `xl` resolves
/// them), then those files. Returns them and the config's bundle name
/// (what `autostart=` takes).
pub fn pack_config(cfg: &Path) -> Result<(String, BundleFiles)> {
    let text = std::fs::read_to_string(cfg).with_context(|| format!("--create: reading {}", cfg.display()))?;
    let file_name = cfg.file_name().context("--create: the config has no file name")?.to_string_lossy().into_owned();
    let stem = cfg.file_stem().unwrap_or_default().to_string_lossy().into_owned();
    let folder = cfg.parent().unwrap_or(Path::new("."));
    let (rewritten, refs) = rewrite_config(&text, &stem).map_err(|e| anyhow::anyhow!("--create {}: {e}", cfg.display()))?;
    let mut files = vec![(format!("configs/{file_name}"), rewritten.into_bytes())];
    for (bundle_name, host) in refs {
        let path = folder.join(&host);
        let data = std::fs::read(&path)
            .with_context(|| format!("--create {}: reading {} (named by the config)", cfg.display(), path.display()))?;
        files.push((bundle_name, data));
    }
    Ok((file_name, files))
}

/// `text` with each `kernel = "PATH"` / `ramdisk = "PATH"` line's path
/// replaced by `create/STEM/BASENAME`; returns it and (bundle name, PATH)
/// for each.
fn rewrite_config(text: &str, stem: &str) -> Result<(String, Vec<(String, String)>), String> {
    let mut out = String::new();
    let mut refs = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let key_value = line.split_once('=').map(|(k, v)| (k.trim(), v.trim_start()));
        match key_value {
            Some((key @ ("kernel" | "ramdisk"), value)) => {
                let quote = value.chars().next().filter(|c| *c == '"' || *c == '\'');
                let Some(q) = quote else {
                    return Err(format!("line {}: {key} must be a quoted path", n + 1));
                };
                let Some(end) = value[1..].find(q) else {
                    return Err(format!("line {}: {key}: unterminated string", n + 1));
                };
                let path = &value[1..1 + end];
                let rest = &value[2 + end..];
                let base = Path::new(path).file_name().map(|b| b.to_string_lossy().into_owned());
                let Some(base) = base.filter(|b| !b.is_empty()) else {
                    return Err(format!("line {}: {key} \"{path}\" names no file", n + 1));
                };
                let bundle_name = format!("create/{stem}/{base}");
                if refs.iter().any(|(b, _): &(String, String)| *b == bundle_name) {
                    return Err(format!("line {}: kernel and ramdisk must have different file names", n + 1));
                }
                out += &format!("{key} = \"{bundle_name}\"{rest}\n");
                refs.push((bundle_name, path.to_owned()));
            }
            _ => {
                out += line;
                out.push('\n');
            }
        }
    }
    Ok((out, refs))
}

/// Dom0's command line with `autostart=` naming `configs` (replacing one
/// already there).
pub fn with_autostart(cmdline: &str, configs: &[String]) -> String {
    let mut words: Vec<String> =
        cmdline.split_whitespace().filter(|w| !w.starts_with("autostart=")).map(str::to_owned).collect();
    words.insert(0, format!("autostart={}", configs.join(",")));
    words.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_config_names_bundle_copies_of_its_files() {
        let text = "name = \"linux\"\nkernel = \"../debian/vmlinuz\" # Debian's\nramdisk='initrd.gz'\nmemory = 256\n";
        let (out, refs) = rewrite_config(text, "linux").unwrap();
        assert_eq!(
            out,
            "name = \"linux\"\nkernel = \"create/linux/vmlinuz\" # Debian's\nramdisk = \"create/linux/initrd.gz\"\nmemory = 256\n"
        );
        assert_eq!(
            refs,
            [
                ("create/linux/vmlinuz".to_owned(), "../debian/vmlinuz".to_owned()),
                ("create/linux/initrd.gz".to_owned(), "initrd.gz".to_owned())
            ]
        );
    }

    #[test]
    fn bad_kernel_lines_are_refused_with_their_line() {
        assert_eq!(rewrite_config("kernel = vmlinuz\n", "x").unwrap_err(), "line 1: kernel must be a quoted path");
        assert_eq!(rewrite_config("\nramdisk = \"abc\n", "x").unwrap_err(), "line 2: ramdisk: unterminated string");
        assert_eq!(rewrite_config("kernel = \"\"\n", "x").unwrap_err(), "line 1: kernel \"\" names no file");
        assert!(rewrite_config("kernel = \"a/k\"\nramdisk = \"b/k\"\n", "x").is_err());
    }

    #[test]
    fn configs_resolve_against_their_folder_and_are_packed() {
        let dir = std::env::temp_dir().join(format!("xtask-create-test-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("k")).unwrap();
        std::fs::write(dir.join("k/vmlinuz"), b"KERNEL").unwrap();
        std::fs::write(dir.join("guest.cfg"), "name = \"g\"\nkernel = \"k/vmlinuz\"\n").unwrap();
        let (name, files) = pack_config(&dir.join("guest.cfg")).unwrap();
        assert_eq!(name, "guest.cfg");
        assert_eq!(
            files,
            [
                ("configs/guest.cfg".to_owned(), b"name = \"g\"\nkernel = \"create/guest/vmlinuz\"\n".to_vec()),
                ("create/guest/vmlinuz".to_owned(), b"KERNEL".to_vec())
            ]
        );
        std::fs::write(dir.join("missing.cfg"), "kernel = \"nothere\"\n").unwrap();
        let err = format!("{:#}", pack_config(&dir.join("missing.cfg")).unwrap_err());
        assert!(err.contains("nothere (named by the config)"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn modules_keep_their_order_and_need_distinct_names() {
        let dir = std::env::temp_dir().join(format!("xtask-modules-test-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("a")).unwrap();
        std::fs::write(dir.join("initrd.gz"), b"1").unwrap();
        std::fs::write(dir.join("a/extra"), b"2").unwrap();
        std::fs::write(dir.join("a/initrd.gz"), b"3").unwrap();
        let packed = pack_modules(&[dir.join("initrd.gz"), dir.join("a/extra")]).unwrap();
        assert_eq!(packed, [("modules/initrd.gz".to_owned(), b"1".to_vec()), ("modules/extra".to_owned(), b"2".to_vec())]);
        assert!(pack_modules(&[dir.join("initrd.gz"), dir.join("a/initrd.gz")]).is_err());
        assert!(pack_modules(&[dir.join("nothere")]).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn autostart_replaces_the_demos() {
        let names = ["a.cfg".to_owned(), "b.cfg".to_owned()];
        assert_eq!(with_autostart("autostart=demo1.cfg,demo2.cfg shell", &names), "autostart=a.cfg,b.cfg shell");
        assert_eq!(with_autostart("idle", &names[..1]), "autostart=a.cfg idle");
    }
}
