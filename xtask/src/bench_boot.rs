//! `cargo xtask bench`'s boot-path table: on the host clock from QEMU's
//! start, the hypervisor's first line, its ready line and Dom0's first line,
//! for each way in (multiboot `-kernel`, the `bootloader` BIOS and UEFI
//! images, the GRUB ISO under SeaBIOS and OVMF), and again with a 64 MiB
//! file added to what the loader loads (a Linux kernel and initrd are that
//! big), which shows what moving the files costs on each path.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use clap::ValueEnum;

use crate::bench::{Sample, median, run_once};
use crate::images::{self, BootSpec, Firmware, Images};
use crate::platform::{Machine, Platform};
use crate::qemu::Accel;

const BIG_MODULE_BYTES: usize = 64 << 20;
/// Dom0 needs room for a copy of the big module among its modules.
const CMDLINE_BIG: &str = "loglvl=info dom0_mem=192M";
const MEM_MIB: u32 = 512;
const TIMEOUT: Duration = Duration::from_secs(180);

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BootPath {
    /// QEMU -kernel: the hypervisor ELF by multiboot, the bundle as module.
    Kernel,
    /// The bootloader BIOS image under SeaBIOS.
    Bios,
    /// The bootloader UEFI image under OVMF.
    Uefi,
    /// The ISO (GRUB, multiboot2) from a CD-ROM under SeaBIOS.
    GrubBios,
    /// The ISO under OVMF.
    GrubUefi,
}

impl BootPath {
    pub const ALL: [BootPath; 5] = [BootPath::Kernel, BootPath::Bios, BootPath::Uefi, BootPath::GrubBios, BootPath::GrubUefi];

    fn name(self) -> &'static str {
        match self {
            BootPath::Kernel => "kernel",
            BootPath::Bios => "bios",
            BootPath::Uefi => "uefi",
            BootPath::GrubBios => "grub-bios",
            BootPath::GrubUefi => "grub-uefi",
        }
    }

    fn platform(self) -> Platform {
        match self {
            BootPath::Kernel => Platform::QemuKernel,
            BootPath::Bios => Platform::QemuBios,
            BootPath::Uefi => Platform::QemuUefi,
            BootPath::GrubBios => Platform::QemuGrubBios,
            BootPath::GrubUefi => Platform::QemuGrubUefi,
        }
    }
}

/// One boot path, with or without the big module: its samples.
pub struct CaseResult {
    pub path: BootPath,
    pub big: bool,
    pub samples: Vec<Sample>,
}

impl CaseResult {
    fn name(&self) -> String {
        format!("{}{}", self.path.name(), if self.big { " +64 MiB" } else { "" })
    }
    fn median_of(&self, f: impl Fn(&Sample) -> Option<f64>) -> Option<f64> {
        median(self.samples.iter().filter_map(f).collect())
    }
    pub fn first_line(&self) -> Option<f64> {
        self.median_of(|s| s.first_line_s)
    }
    pub fn ready(&self) -> Option<f64> {
        self.median_of(|s| s.ready_s)
    }
    pub fn dom0(&self) -> Option<f64> {
        self.median_of(|s| s.dom0_first_line_s)
    }
}

/// A file of `len` bytes that no loader could compress or skip.
fn big_module(path: &Path, len: usize) -> Result<()> {
    let mut data = vec![0u8; len];
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for chunk in data.chunks_mut(8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        chunk.copy_from_slice(&x.to_le_bytes()[..chunk.len()]);
    }
    std::fs::write(path, data).with_context(|| format!("writing {}", path.display()))
}

/// Boots every `paths` entry `runs` times, plain and with the big module.
pub fn bench(root: &Path, target_dir: &Path, out: &Path, paths: &[BootPath], runs: u32, dom0_cmdline: &str) -> Result<Vec<CaseResult>> {
    let mut packages = Vec::new();
    for p in paths {
        packages.extend(p.platform().packages());
    }
    crate::setup::ensure(&packages, "")?;
    let built = images::build_kernels(root, target_dir)?;
    let firmware: Vec<Firmware> = paths.iter().map(|p| p.platform().firmware()).collect();
    let plain = Images::new(out.join("boot-image"));
    plain.make(&built, &BootSpec { cmdline: "loglvl=info", dom0_cmdline }, &firmware)?;
    let big_file = out.join("big-module.bin");
    big_module(&big_file, BIG_MODULE_BYTES)?;
    let big = Images::new(out.join("boot-image-big"));
    big.make_with(&built, &BootSpec { cmdline: CMDLINE_BIG, dom0_cmdline }, &firmware, &[("big-module.bin", &big_file)])?;

    let mut results = Vec::new();
    for &path in paths {
        for (with_big, images) in [(false, &plain), (true, &big)] {
            let mut case = CaseResult { path, big: with_big, samples: Vec::new() };
            let machine = Machine { platform: path.platform(), accel: Accel::Tcg, smp: 2, mem_mib: MEM_MIB, icount: false };
            let image: PathBuf = images.image(path.platform().firmware());
            for i in 0..runs {
                print!("bench boot {:<16} run {}/{} ", case.name(), i + 1, runs);
                let _ = std::io::stdout().flush();
                let dir = out.join("boot").join(format!("{}{}", path.name(), if with_big { "-big" } else { "" })).join(format!("run-{}", i + 1));
                let sample = run_once(&machine, TIMEOUT, &image, &dir)
                    .unwrap_or_else(|e| Sample { problem: Some(format!("{e:#}")), ..Sample::default() });
                let secs = |v: Option<f64>| v.map_or("n/a".to_owned(), |v| format!("{v:.2} s"));
                println!(
                    "first line {}  ready {}  dom0 {}{}",
                    secs(sample.first_line_s),
                    secs(sample.ready_s),
                    secs(sample.dom0_first_line_s),
                    sample.problem.as_ref().map_or(String::new(), |p| format!("  ({p})"))
                );
                case.samples.push(sample);
            }
            results.push(case);
        }
    }
    Ok(results)
}

/// The table, then the targets.
pub fn table(results: &[CaseResult]) -> String {
    let secs = |v: Option<f64>| v.map_or("n/a".to_owned(), |v| format!("{v:.2}"));
    let mut out = String::from("boot path            first line (s)  ready (s)  Dom0's first line (s)  note\n");
    for r in results {
        let note = r.samples.iter().find_map(|s| s.problem.clone()).unwrap_or_default();
        let _ = writeln!(out, "{:<20} {:>14}  {:>9}  {:>21}  {note}", r.name(), secs(r.first_line()), secs(r.ready()), secs(r.dom0()));
    }
    out.push_str("\ntargets (reported, not enforced):\n");
    let find = |path, big| results.iter().find(|r| r.path == path && r.big == big);
    let kernel = find(BootPath::Kernel, false).and_then(CaseResult::dom0);
    let verdict = |v: Option<f64>, limit: f64| match v {
        Some(v) if v < limit => format!("{v:.2} s  met"),
        Some(v) => format!("{v:.2} s  not met"),
        None => "n/a".to_owned(),
    };
    let _ = writeln!(out, "  Dom0's first line, -kernel, TCG     < 0.50 s   {}  (Xen 4.17 under the same QEMU: 1.12 s)", verdict(kernel, 0.5));
    for path in BootPath::ALL {
        let (Some(a), Some(b)) = (find(path, false).and_then(CaseResult::dom0), find(path, true).and_then(CaseResult::dom0)) else {
            continue;
        };
        let _ = writeln!(out, "  64 MiB module adds, {:<14} < 1.00 s   {}", path.name(), verdict(Some(b - a), 1.0));
    }
    out
}

/// The raw figures for bench.json: one object per case, every run's times.
pub fn json(results: &[CaseResult]) -> crate::bench::Json {
    use crate::bench::Json;
    let secs = |v: Option<f64>| v.map_or(Json::Null, |v| Json::num(v, 3));
    Json::Arr(
        results
            .iter()
            .map(|r| {
                Json::Obj(vec![
                    ("path", Json::Str(r.path.name().to_owned())),
                    ("big_module_bytes", Json::Raw(if r.big { BIG_MODULE_BYTES.to_string() } else { "0".into() })),
                    ("dom0_first_line_s", secs(r.dom0())),
                    ("ready_s", secs(r.ready())),
                    (
                        "runs",
                        Json::Arr(
                            r.samples
                                .iter()
                                .map(|s| {
                                    Json::Obj(vec![
                                        ("first_line_s", secs(s.first_line_s)),
                                        ("ready_s", secs(s.ready_s)),
                                        ("dom0_first_line_s", secs(s.dom0_first_line_s)),
                                        ("problem", s.problem.clone().map_or(Json::Null, Json::Str)),
                                    ])
                                })
                                .collect(),
                        ),
                    ),
                ])
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(first: f64, ready: f64, dom0: f64) -> Sample {
        Sample { first_line_s: Some(first), ready_s: Some(ready), dom0_first_line_s: Some(dom0), ..Sample::default() }
    }

    #[test]
    fn the_table_shows_each_case_and_the_cost_of_the_big_module() {
        let results = [
            CaseResult { path: BootPath::Kernel, big: false, samples: vec![sample(0.1, 0.3, 0.4)] },
            CaseResult { path: BootPath::Kernel, big: true, samples: vec![sample(0.1, 0.5, 0.9)] },
            CaseResult { path: BootPath::Bios, big: false, samples: vec![Sample { problem: Some("timeout".into()), ..Sample::default() }] },
        ];
        let t = table(&results);
        assert!(t.contains("kernel +64 MiB"), "{t}");
        assert!(t.contains("0.40 s  met"), "{t}");
        assert!(t.contains("64 MiB module adds, kernel         < 1.00 s   0.50 s  met"), "{t}");
        assert!(t.contains("n/a") && t.contains("timeout"), "{t}");
        assert!(!t.contains("module adds, bios"), "no pair, no line: {t}");
    }

    #[test]
    fn the_big_module_is_not_compressible() {
        let dir = std::env::temp_dir().join(format!("bench-boot-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("m.bin");
        big_module(&path, 4096).unwrap();
        let data = std::fs::read(&path).unwrap();
        assert_eq!(data.len(), 4096);
        let zeros = data.iter().filter(|&&b| b == 0).count();
        assert!(zeros < 64, "{zeros} zero bytes");
        let _ = std::fs::remove_dir_all(dir);
    }
}
