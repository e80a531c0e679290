//! `cargo xtask bench`: Dom0's micro-benchmarks and the boot time, per platform.
//!
//! Every run boots our Dom0 with the command line `bench=cpuid`. Dom0 times
//! 10000 CPUID(0) exits and 10000 `xen_version(0, NULL)` hypercalls through
//! the hypercall page with rdtsc, prints
//! `(d0) dom0: bench cpuid-exit cycles/iter=N` and
//! `(d0) dom0: bench null-hypercall cycles/iter=N`, and powers off. On the
//! host clock we take the time from the emulator's start to `hv: ready`
//! (boot) and to `hv: exit code=` (wall).
//!
//! Benchmarks report, they never judge: a platform without figures shows
//! `n/a` and why, and the targets are printed beside the figures.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::thread::sleep;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use clap::ValueEnum;

use crate::images::{self, BootSpec, Firmware, Images};
use crate::matcher::{Matcher, Progress, parse_exit_code, qemu_status_for};
use crate::platform::{Console, Machine, Platform};
use crate::proc::Emulator;
use crate::qemu::Accel;
use crate::serial::SerialLog;
use crate::setup;

/// Dom0's command line that selects the benchmarks.
const DOM0_CMDLINE: &str = "bench=cpuid";
const CMDLINE: &str = "loglvl=info";
const READY_MARKER: &str = "hv: ready";
const BENCH_MARKER: &str = "dom0: bench ";
const PER_ITER: &str = " cycles/iter=";
const CPUID_EXIT: &str = "cpuid-exit";
const NULL_HYPERCALL: &str = "null-hypercall";
const FORBID: &[&str] = &["PANIC", "FATAL"];
const SMP: u32 = 2;
const MEM_MIB: u32 = 256;
/// Host-clock resolution of the boot and wall times.
const POLL: Duration = Duration::from_millis(5);
/// After a forbidden line: time to collect the lines that follow it.
const DRAIN: Duration = Duration::from_millis(300);
/// After the exit line: time for QEMU to exit by itself.
const EXIT_GRACE: Duration = Duration::from_secs(5);
/// After the exit line: time for Bochs to take the shutdown port and exit
/// (killed earlier, it leaves its disk image's lock file behind).
const BOCHS_EXIT_GRACE: Duration = Duration::from_secs(1);

#[derive(clap::Args)]
pub struct BenchArgs {
    /// Run only this platform (repeatable); default: all of them.
    #[arg(long = "platform", value_enum, value_name = "NAME")]
    platforms: Vec<BenchPlatform>,
    /// Time this boot path too (repeatable; `kernel`, `bios`, `uefi`,
    /// `grub-bios`, `grub-uefi`); with neither option, every platform and
    /// every boot path.
    #[arg(long = "boot-path", value_enum, value_name = "PATH")]
    boot_paths: Vec<crate::bench_boot::BootPath>,
    /// Time Debian's Linux to userspace too (the `linux-boot` table:
    /// native, as a PVH DomU, as the PVH Dom0); with no option at all, too.
    #[arg(long)]
    linux: bool,
    /// Boot each platform N times and report the medians.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    runs: u32,
    /// Run the xenstore round-trip table (bench_xenstore.rs); with no
    /// option at all it runs too.
    #[arg(long)]
    xenstore: bool,
    /// Time credit2's scheduling decision with 4, 16, 64 and 256 runnable
    /// vCPUs (a release host test, `sched-decision`), then the scheduler
    /// table (vCPU switch, wake-up latency, hypercall throughput with 1, 2
    /// and 4 DomUs at once: bench_sched.rs); with no option at all they
    /// run too.
    #[arg(long)]
    sched: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BenchPlatform {
    /// QEMU TCG, -cpu qemu64,+svm,+npt,+smap,+smep, BIOS.
    QemuTcg,
    /// The same with -icount shift=0,sleep=off: the TSC counts instructions.
    QemuTcgIcount,
    /// Bochs corei7_haswell_4770: VMX.
    BochsVmx,
    /// Bochs ryzen: SVM with NRIP-save.
    BochsSvm,
    /// QEMU KVM -cpu host, when /dev/kvm offers nested virtualization.
    QemuKvm,
}

impl BenchPlatform {
    const ALL: [BenchPlatform; 5] = [
        BenchPlatform::QemuTcg,
        BenchPlatform::QemuTcgIcount,
        BenchPlatform::BochsVmx,
        BenchPlatform::BochsSvm,
        BenchPlatform::QemuKvm,
    ];

    pub fn name(self) -> &'static str {
        match self {
            BenchPlatform::QemuTcg => "qemu-tcg",
            BenchPlatform::QemuTcgIcount => "qemu-tcg-icount",
            BenchPlatform::BochsVmx => "bochs-vmx",
            BenchPlatform::BochsSvm => "bochs-svm",
            BenchPlatform::QemuKvm => "qemu-kvm",
        }
    }

    fn description(self) -> &'static str {
        match self {
            BenchPlatform::QemuTcg => "QEMU TCG -cpu qemu64,+svm,+npt,+smap,+smep, -kernel (multiboot)",
            BenchPlatform::QemuTcgIcount => {
                "QEMU TCG -cpu qemu64,+svm,+npt,+smap,+smep -icount shift=0,sleep=off, -kernel: \
                 the guest TSC counts instructions (deterministic)"
            }
            BenchPlatform::BochsVmx => {
                "Bochs corei7_haswell_4770 (VMX, EPT): its TSC ticks once per emulated instruction"
            }
            BenchPlatform::BochsSvm => {
                "Bochs ryzen (SVM, NPT, NRIP-save): its TSC ticks once per emulated instruction"
            }
            BenchPlatform::QemuKvm => "QEMU KVM -cpu host (nested virtualization), -kernel",
        }
    }

    /// What the per-iteration figures count.
    pub fn unit(self) -> &'static str {
        match self {
            BenchPlatform::QemuTcg | BenchPlatform::QemuKvm => "TSC cycles",
            BenchPlatform::QemuTcgIcount => "instructions",
            BenchPlatform::BochsVmx | BenchPlatform::BochsSvm => "instructions*",
        }
    }

    fn machine(self) -> Machine {
        let platform = match self {
            BenchPlatform::BochsVmx => Platform::BochsVmx,
            BenchPlatform::BochsSvm => Platform::BochsSvm,
            _ => Platform::QemuKernel,
        };
        Machine {
            platform,
            accel: if self == BenchPlatform::QemuKvm {
                Accel::Kvm
            } else {
                Accel::Tcg
            },
            smp: SMP,
            mem_mib: MEM_MIB,
            icount: self == BenchPlatform::QemuTcgIcount,
        }
    }

    fn timeout(self) -> Duration {
        Duration::from_secs(if self.machine().platform.is_qemu() {
            30
        } else {
            60
        })
    }
}

/// One boot's figures; times in seconds from the emulator's start.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sample {
    pub first_line_s: Option<f64>,
    pub ready_s: Option<f64>,
    pub dom0_first_line_s: Option<f64>,
    pub cpuid: Option<u64>,
    pub hypercall: Option<u64>,
    /// When the `hv: exit code=` line came: the wall time.
    pub exit_s: Option<f64>,
    pub exit_code: Option<u32>,
    /// QEMU's exit status (Bochs is stopped by us).
    pub emulator_status: Option<i32>,
    /// Why figures are missing, or what else was odd about the run.
    pub problem: Option<String>,
}

impl Sample {
    /// Takes one serial line that arrived `at` seconds after the start.
    pub fn feed(&mut self, line: &str, at: f64) {
        self.first_line_s.get_or_insert(at);
        if self.ready_s.is_none() && line.contains(READY_MARKER) {
            self.ready_s = Some(at);
        }
        if self.dom0_first_line_s.is_none() && line.starts_with("(d0) ") {
            self.dom0_first_line_s = Some(at);
        }
        match parse_bench_line(line) {
            Some((CPUID_EXIT, n)) => self.cpuid = self.cpuid.or(Some(n)),
            Some((NULL_HYPERCALL, n)) => self.hypercall = self.hypercall.or(Some(n)),
            _ => {}
        }
        if self.exit_code.is_none()
            && let Some(code) = parse_exit_code(line)
        {
            self.exit_code = Some(code);
            self.exit_s = Some(at);
        }
    }

    fn complete(&self) -> bool {
        self.cpuid.is_some() && self.hypercall.is_some()
    }
}

/// `("cpuid-exit", 175)` from `(d0) dom0: bench cpuid-exit cycles/iter=175`.
pub fn parse_bench_line(line: &str) -> Option<(&str, u64)> {
    let rest = &line[line.find(BENCH_MARKER)? + BENCH_MARKER.len()..];
    let (name, value) = rest.split_once(PER_ITER)?;
    let value = value.trim_end();
    if name.is_empty() || name.contains(' ') || value.is_empty() {
        return None;
    }
    Some((name, value.parse().ok()?))
}

/// What one platform gave.
#[derive(Debug, Clone)]
pub struct PlatformResult {
    pub platform: BenchPlatform,
    pub timestamp: String,
    /// Set when the platform did not run at all.
    pub skipped: Option<String>,
    /// Where its runs keep their files (`run-N/com1.log`...).
    pub dir: Option<PathBuf>,
    pub samples: Vec<Sample>,
}

impl PlatformResult {
    fn median_of(&self, f: impl Fn(&Sample) -> Option<f64>) -> Option<f64> {
        median(self.samples.iter().filter_map(f).collect())
    }
    pub fn boot_s(&self) -> Option<f64> {
        self.median_of(|s| s.ready_s)
    }
    pub fn cpuid(&self) -> Option<f64> {
        self.median_of(|s| s.cpuid.map(to_f64))
    }
    pub fn hypercall(&self) -> Option<f64> {
        self.median_of(|s| s.hypercall.map(to_f64))
    }
    pub fn wall_s(&self) -> Option<f64> {
        self.median_of(|s| s.exit_s)
    }

    fn status(&self) -> &'static str {
        let complete = self.samples.iter().filter(|s| s.complete()).count();
        if self.skipped.is_some() || complete == 0 {
            "n/a"
        } else if complete < self.samples.len() {
            "partial"
        } else {
            "ok"
        }
    }

    /// Why figures are missing (or what was odd), in one line.
    pub fn note(&self) -> Option<String> {
        if let Some(why) = &self.skipped {
            return Some(format!("skipped: {why}"));
        }
        // The same problem in several runs is told once, with their numbers.
        let mut groups: Vec<(&str, Vec<String>)> = Vec::new();
        for (i, s) in self.samples.iter().enumerate() {
            let Some(p) = s.problem.as_deref() else {
                continue;
            };
            match groups.iter_mut().find(|(q, _)| *q == p) {
                Some((_, runs)) => runs.push((i + 1).to_string()),
                None => groups.push((p, vec![(i + 1).to_string()])),
            }
        }
        if groups.is_empty() {
            return None;
        }
        let n = self.samples.len();
        let parts: Vec<String> = groups
            .iter()
            .map(|(p, runs)| match runs.len() {
                _ if n == 1 => (*p).to_owned(),
                1 => format!("run {}: {p}", runs[0]),
                _ => format!("runs {}: {p}", runs.join(",")),
            })
            .collect();
        let mut note = parts.join("; ");
        let complete = self.samples.iter().filter(|s| s.complete()).count();
        if n > 1 && complete < n {
            note = format!("{complete} of {n} runs gave figures; {note}");
        }
        if let Some(dir) = &self.dir {
            let run = if n == 1 { "run-1" } else { "run-*" };
            let _ = write!(note, " (serial: {}/{run}/com1.log)", dir.display());
        }
        Some(note)
    }
}

fn to_f64(v: u64) -> f64 {
    // Cycle counts stay far below 2^53: the conversion is exact.
    #[allow(clippy::cast_precision_loss)]
    let f = v as f64;
    f
}

/// The median (the mean of the middle two for an even count).
pub fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    Some(if v.len() % 2 == 1 {
        v[mid]
    } else {
        (v[mid - 1] + v[mid]) / 2.0
    })
}

/// A figure compared with its target; shown, never enforced.
#[derive(Debug, Clone, Copy)]
pub struct Target {
    pub platform: BenchPlatform,
    pub metric: Metric,
    pub limit: f64,
    /// `<` when true, `<=` otherwise.
    pub strict: bool,
    pub what: &'static str,
    pub xen: &'static str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    BootToReady,
    CpuidExit,
    NullHypercall,
}

impl Metric {
    fn key(self) -> &'static str {
        match self {
            Metric::BootToReady => "boot_to_ready_s",
            Metric::CpuidExit => "cpuid_exit_per_iter",
            Metric::NullHypercall => "null_hypercall_per_iter",
        }
    }
    fn value(self, r: &PlatformResult) -> Option<f64> {
        match self {
            Metric::BootToReady => r.boot_s(),
            Metric::CpuidExit => r.cpuid(),
            Metric::NullHypercall => r.hypercall(),
        }
    }
    fn show(self, v: f64) -> String {
        match self {
            Metric::BootToReady => format!("{v:.2} s"),
            Metric::CpuidExit | Metric::NullHypercall => format!("{v:.0}"),
        }
    }
}

pub const TARGETS: &[Target] = &[
    Target {
        platform: BenchPlatform::QemuTcgIcount,
        metric: Metric::NullHypercall,
        limit: 280.0,
        strict: false,
        what: "null hypercall, -icount (instructions)",
        xen: "Xen 4.17 under the same QEMU: ~2776",
    },
    Target {
        platform: BenchPlatform::QemuTcgIcount,
        metric: Metric::CpuidExit,
        limit: 270.0,
        strict: false,
        what: "CPUID exit, -icount (instructions)",
        xen: "Xen 4.17 under the same QEMU: ~2654",
    },
    Target {
        platform: BenchPlatform::QemuTcg,
        metric: Metric::BootToReady,
        limit: 1.0,
        strict: true,
        what: "boot to ready, QEMU TCG -kernel",
        xen: "Xen 4.17: 1.1 s to its Dom0's first line",
    },
];

impl Target {
    fn bound(&self) -> String {
        let op = if self.strict { "<" } else { "<=" };
        format!("{op} {}", self.metric.show(self.limit))
    }
    fn met(&self, v: f64) -> bool {
        if self.strict {
            v < self.limit
        } else {
            v <= self.limit
        }
    }
}

/// `cargo xtask bench`; returns xtask's exit status (1 only when nothing ran).
pub fn bench(root: &Path, target_dir: &Path, args: &BenchArgs) -> Result<i32> {
    let started = Instant::now();
    let mut selected: Vec<BenchPlatform> = Vec::new();
    let everything = args.platforms.is_empty() && args.boot_paths.is_empty() && !args.xenstore && !args.linux && !args.sched;
    let wanted = if everything { &BenchPlatform::ALL[..] } else { &args.platforms };
    for &p in wanted {
        if !selected.contains(&p) {
            selected.push(p);
        }
    }
    let out = target_dir.join("bench");
    let mut results: Vec<PlatformResult> = selected
        .iter()
        .map(|&p| PlatformResult {
            platform: p,
            timestamp: rfc3339_utc(SystemTime::now()),
            skipped: unavailable(p),
            dir: Some(out.join(p.name())),
            samples: Vec::new(),
        })
        .collect();

    let image = if results.iter().any(|r| r.skipped.is_none()) {
        match build_image(root, target_dir, &out) {
            Ok(image) => Some(image),
            Err(e) => {
                for r in results.iter_mut().filter(|r| r.skipped.is_none()) {
                    r.skipped = Some(format!("building the image failed: {e:#}"));
                }
                None
            }
        }
    } else {
        None
    };

    if let Some(image) = image {
        for r in results.iter_mut().filter(|r| r.skipped.is_none()) {
            r.timestamp = rfc3339_utc(SystemTime::now());
            for i in 0..args.runs {
                print!(
                    "bench {:<16} run {}/{} ",
                    r.platform.name(),
                    i + 1,
                    args.runs
                );
                let _ = std::io::stdout().flush();
                let dir = out.join(r.platform.name()).join(format!("run-{}", i + 1));
                let machine = r.platform.machine();
                let image = image.image(machine.platform.firmware());
                let sample = run_once(&machine, r.platform.timeout(), &image, &dir).unwrap_or_else(|e| Sample {
                    problem: Some(format!("{e:#}")),
                    ..Sample::default()
                });
                println!("{}", progress_line(&sample));
                r.samples.push(sample);
            }
        }
    }

    let boot_paths = if everything { &crate::bench_boot::BootPath::ALL[..] } else { &args.boot_paths };
    let boot_results = if boot_paths.is_empty() {
        Vec::new()
    } else {
        crate::bench_boot::bench(root, target_dir, &out, boot_paths, args.runs, DOM0_CMDLINE).unwrap_or_else(|e| {
            println!("boot paths: {e:#}");
            Vec::new()
        })
    };

    let linux_results = if everything || args.linux {
        crate::bench_linux::bench(root, target_dir, &out, args.runs).unwrap_or_else(|e| {
            println!("linux-boot: {e:#}");
            Vec::new()
        })
    } else {
        Vec::new()
    };

    println!();
    if !results.is_empty() {
        print!("{}", table(&results));
    }
    if !linux_results.is_empty() {
        println!();
        print!("{}", crate::bench_linux::table(&linux_results));
    }
    if !boot_results.is_empty() {
        println!();
        print!("{}", crate::bench_boot::table(&boot_results));
    }
    let xenstore = if everything || args.xenstore { crate::bench_xenstore::run_and_print(root, target_dir, &out) } else { Json::Null };
    let sched = if everything || args.sched { sched_decision(root) } else { Json::Null };
    let sched_runs = if everything || args.sched { crate::bench_sched::run_and_print(root, target_dir, &out) } else { Json::Null };
    let json_path = out.join("bench.json");
    std::fs::create_dir_all(&out)?;
    let report = Json::Obj(vec![
        ("platforms", json(&results)),
        ("boot_paths", crate::bench_boot::json(&boot_results)),
        ("linux_boot", crate::bench_linux::json(&linux_results)),
        ("xenstore", xenstore.clone()),
        ("sched_decision", sched.clone()),
        ("sched", sched_runs.clone()),
    ]);
    std::fs::write(&json_path, report.render())
        .with_context(|| format!("writing {}", json_path.display()))?;
    println!(
        "\n{} written; the whole bench took {:.1} s",
        json_path.display(),
        started.elapsed().as_secs_f64()
    );
    let ran = results.iter().any(|r| !r.samples.is_empty())
        || !boot_results.is_empty()
        || !matches!(xenstore, Json::Null)
        || !matches!(sched, Json::Null)
        || !matches!(sched_runs, Json::Null)
        || !linux_results.is_empty();
    if !ran {
        println!("nothing ran");
    }
    Ok(if ran { 0 } else { 1 })
}

/// One boot of a table's image (Dom0's `bench=...`) on one QEMU platform.
pub struct TcgRun {
    pub name: &'static str,
    pub unit: &'static str,
    pub sample: Sample,
    /// Its COM1 log, for the table's parser.
    pub log: String,
}

/// Boots Dom0 with `dom0_cmdline` on 5 CPUs under plain TCG (TSC cycles)
/// and under `-icount` (virtual ns), once each, into `out/<what>/<platform>`;
/// prints a progress line per boot with what `count` finds in its log.
pub fn run_tcg_pair(root: &Path, target_dir: &Path, out: &Path, what: &str, dom0_cmdline: &'static str, timeout: Duration, count: impl Fn(&str) -> String) -> Result<Vec<TcgRun>> {
    let built = images::build_kernels(root, target_dir)?;
    let images = Images::new(out.join(format!("{what}-image")));
    images.make(&built, &BootSpec { cmdline: CMDLINE, dom0_cmdline }, &[Firmware::Multiboot])?;
    let mut runs = Vec::new();
    for (name, unit, icount) in [("qemu-tcg", "TSC cycles", false), ("qemu-tcg-icount", "virtual ns", true)] {
        print!("bench {what} {name:<16} ");
        let _ = std::io::stdout().flush();
        let machine = Machine { platform: Platform::QemuKernel, accel: Accel::Tcg, smp: 5, mem_mib: 512, icount };
        let dir = out.join(what).join(name);
        let sample = run_to_exit(&machine, timeout, &images.image(Firmware::Multiboot), &dir)
            .unwrap_or_else(|e| Sample { problem: Some(format!("{e:#}")), ..Sample::default() });
        let log = std::fs::read_to_string(dir.join("com1.log")).unwrap_or_default();
        println!("{}, exit line {}", count(&log), sample.exit_s.map_or("n/a".into(), |s| format!("{s:.1} s")));
        runs.push(TcgRun { name, unit, sample, log });
    }
    Ok(runs)
}

/// What a table's hook does with its runs: prints the table (or why there
/// is none) and returns its figures for bench.json (null without runs).
pub fn print_runs<R>(what: &str, runs: Result<Vec<R>>, table: fn(&[R]) -> String, json: fn(&[R]) -> Json) -> Json {
    match runs {
        Ok(runs) => {
            println!();
            print!("{}", table(&runs));
            json(&runs)
        }
        Err(e) => {
            println!("{what}: {e:#}");
            Json::Null
        }
    }
}

/// The `sched-decision` table: credit2's ignored host test
/// `decision_cost` (hypervisor/src/sched/credit/tests.rs) in a release
/// build, timed by the host's clock (ns per decision: account + schedule,
/// n runnable vCPUs in 8 domains on 4 CPUs). Null if it did not run.
fn sched_decision(root: &Path) -> Json {
    let output = crate::toolchain::cargo()
        .current_dir(root)
        .args(["test", "--release", "-p", "hypervisor", "--lib", "--", "--ignored", "--nocapture", "decision_cost"])
        .output();
    let Ok(output) = output else {
        println!("sched-decision: cargo test did not start");
        return Json::Null;
    };
    let text = String::from_utf8_lossy(&output.stdout);
    let rows: Vec<Vec<u64>> = text
        .lines()
        .filter_map(|l| l.strip_prefix("sched-decision | "))
        .filter_map(|l| l.split(" | ").map(|f| f.trim().parse().ok()).collect::<Option<Vec<u64>>>())
        .filter(|r| r.len() >= 3)
        .collect();
    if rows.is_empty() {
        println!("sched-decision: no figures (cargo test: {})", output.status);
        return Json::Null;
    }
    println!("\nsched-decision (host CPU, release; credit2 with 4 CPUs, 8 domains)");
    println!("{:>15} {:>16}", "runnable vCPUs", "ns per decision");
    for r in &rows {
        println!("{:>15} {:>16}", r[0], r[2]);
    }
    Json::Arr(
        rows.iter()
            .map(|r| Json::Obj(vec![("vcpus", Json::Raw(r[0].to_string())), ("cpus", Json::Raw(r[1].to_string())), ("ns_per_decision", Json::Raw(r[2].to_string()))]))
            .collect(),
    )
}

/// Why `p` cannot run here, if it cannot.
fn unavailable(p: BenchPlatform) -> Option<String> {
    if p == BenchPlatform::QemuKvm {
        let (accel, why) = Accel::detect();
        if accel != Accel::Kvm {
            return Some(
                why.split_once(": ")
                    .map_or(why.clone(), |(_, w)| w.to_owned()),
            );
        }
    }
    setup::ensure(p.machine().platform.packages(), "")
        .err()
        .map(|e| format!("{e:#}"))
}

/// Builds the kernels, the BIOS image (Bochs) and the multiboot ELF (QEMU)
/// with Dom0's `bench=cpuid`; returns the image directory.
fn build_image(root: &Path, target_dir: &Path, out: &Path) -> Result<Images> {
    let built = images::build_kernels(root, target_dir)?;
    let images = Images::new(out.join("image"));
    let boot = BootSpec {
        cmdline: CMDLINE,
        dom0_cmdline: DOM0_CMDLINE,
    };
    images.make(&built, &boot, &[Firmware::Bios, Firmware::Multiboot])?;
    Ok(images)
}

fn progress_line(s: &Sample) -> String {
    let fig = |v: Option<u64>| v.map_or("n/a".to_owned(), |v| v.to_string());
    let secs = |v: Option<f64>| v.map_or("n/a".to_owned(), |v| format!("{v:.2} s"));
    let mut line = format!(
        "ready {}  cpuid-exit {}  null-hypercall {}  exit line {}",
        secs(s.ready_s),
        fig(s.cpuid),
        fig(s.hypercall),
        secs(s.exit_s)
    );
    if let Some(p) = &s.problem {
        let _ = write!(line, "  ({p})");
    }
    line
}

/// Boots `machine` once in `dir` and follows COM1.
pub fn run_once(machine: &Machine, timeout: Duration, image: &Path, dir: &Path) -> Result<Sample> {
    run(machine, timeout, image, dir, true)
}

/// [`run_once`] for a Dom0 that runs something else than `bench=cpuid`:
/// its CPUID and hypercall lines are not expected.
pub fn run_to_exit(machine: &Machine, timeout: Duration, image: &Path, dir: &Path) -> Result<Sample> {
    run(machine, timeout, image, dir, false)
}

fn run(machine: &Machine, timeout: Duration, image: &Path, dir: &Path, cpuid_bench: bool) -> Result<Sample> {
    let is_qemu = machine.platform.is_qemu();
    // A fresh directory: nothing left over from an earlier run.
    if dir.exists() {
        std::fs::remove_dir_all(dir).with_context(|| format!("removing {}", dir.display()))?;
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let com1 = dir.join("com1.log");
    let emu_log = dir.join("emulator.log");
    let mut serial = SerialLog::create(&com1)?;
    let cmd = machine.command(image, dir, &Console::File(com1.clone()))?;
    let mut matcher = Matcher::new(&[], FORBID);
    let mut sample = Sample::default();
    let start = Instant::now();
    let mut emu = Emulator::spawn(cmd, &emu_log)?;
    let mut decided: Option<Instant> = None;
    loop {
        let exited = emu.try_wait().is_some();
        let bytes = serial.read_new();
        let at = start.elapsed().as_secs_f64();
        for line in serial.lines(&bytes) {
            sample.feed(&line, at);
            matcher.feed(&line);
        }
        if exited {
            break;
        }
        match matcher.progress() {
            Progress::Running if start.elapsed() >= timeout => break,
            Progress::Running => {}
            Progress::Exited(_) | Progress::Forbidden { .. } => {
                let wait = match matcher.progress() {
                    Progress::Exited(_) if is_qemu => EXIT_GRACE,
                    Progress::Exited(_) => BOCHS_EXIT_GRACE,
                    _ => DRAIN,
                };
                if decided.get_or_insert_with(Instant::now).elapsed() >= wait {
                    break;
                }
            }
        }
        sleep(POLL);
    }
    let status = emu.try_wait();
    emu.kill();
    if let Some(line) = serial.take_partial() {
        sample.feed(&line, start.elapsed().as_secs_f64());
        matcher.feed(&line);
    }
    if is_qemu {
        sample.emulator_status = status.and_then(|s| s.code());
    }
    sample.problem = problem(&sample, &matcher, status, is_qemu, timeout, &emu_log, cpuid_bench);
    Ok(sample)
}

/// What went wrong in a run, in one line, if anything.
fn problem(
    s: &Sample,
    matcher: &Matcher,
    status: Option<std::process::ExitStatus>,
    is_qemu: bool,
    timeout: Duration,
    emu_log: &Path,
    cpuid_bench: bool,
) -> Option<String> {
    let last = matcher.tail().last().map(str::to_owned);
    let last_line = || {
        last.as_ref().map_or(" (no serial output)".to_owned(), |l| {
            format!("; last line: {l:?}")
        })
    };
    let why = match matcher.progress() {
        Progress::Forbidden { line, .. } => format!("{line:?} on serial"),
        Progress::Exited(_) if cpuid_bench && !s.complete() => {
            let missing: Vec<&str> = [(CPUID_EXIT, s.cpuid), (NULL_HYPERCALL, s.hypercall)]
                .iter()
                .filter(|(_, v)| v.is_none())
                .map(|(n, _)| *n)
                .collect();
            format!(
                "no `dom0: bench {}` line before `hv: exit code={}`",
                missing.join("`/`"),
                s.exit_code.unwrap_or_default()
            )
        }
        Progress::Exited(code) => {
            let mut odd = Vec::new();
            if *code != 0 {
                odd.push(format!("hv exit code={code}, expected 0"));
            }
            if is_qemu && s.emulator_status != Some(qemu_status_for(0)) {
                odd.push(format!(
                    "QEMU exit status {}, expected {}",
                    s.emulator_status
                        .map_or("none".to_owned(), |c| c.to_string()),
                    qemu_status_for(0)
                ));
            }
            if odd.is_empty() {
                return None;
            }
            return Some(odd.join("; "));
        }
        Progress::Running if status.is_some() => {
            let said = std::fs::read_to_string(emu_log).unwrap_or_default();
            let said = said
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("");
            format!(
                "emulator exited ({}) before `hv: exit code=`{}{}",
                status.map(|s| s.to_string()).unwrap_or_default(),
                last_line(),
                if said.is_empty() {
                    String::new()
                } else {
                    format!("; it said {said:?}")
                }
            )
        }
        Progress::Running => format!("timeout after {} s{}", timeout.as_secs(), last_line()),
    };
    Some(why)
}

/// The terminal report: one row per platform, then the targets.
pub fn table(results: &[PlatformResult]) -> String {
    let headers = [
        "platform",
        "unit",
        "boot to ready (s)",
        "cpuid-exit /iter",
        "null-hypercall /iter",
        "wall (s)",
        "note",
    ];
    let na = || "n/a".to_owned();
    let rows: Vec<[String; 7]> = results
        .iter()
        .map(|r| {
            let runs = if r.samples.len() > 1 {
                format!(" (median of {})", r.samples.len())
            } else {
                String::new()
            };
            let note = match (r.note(), r.status()) {
                (Some(n), "n/a") => format!("n/a: {n}"),
                (Some(n), _) => format!("{n}{runs}"),
                (None, _) => runs.trim_start().to_owned(),
            };
            [
                r.platform.name().to_owned(),
                r.platform.unit().to_owned(),
                r.boot_s().map_or_else(na, |v| format!("{v:.2}")),
                r.cpuid().map_or_else(na, |v| format!("{v:.0}")),
                r.hypercall().map_or_else(na, |v| format!("{v:.0}")),
                r.wall_s().map_or_else(na, |v| format!("{v:.2}")),
                note,
            ]
        })
        .collect();
    let mut width = headers.map(str::len);
    for row in &rows {
        for (w, cell) in width.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: &[String]| {
        let mut l = String::new();
        for (i, cell) in cells.iter().enumerate() {
            let w = width[i];
            match i {
                0 | 1 => {
                    let _ = write!(l, "{cell:<w$}  ");
                }
                6 => l.push_str(cell),
                _ => {
                    let _ = write!(l, "{cell:>w$}  ");
                }
            }
        }
        out.push_str(l.trim_end());
        out.push('\n');
    };
    line(&headers.map(str::to_owned));
    for row in &rows {
        line(row);
    }
    out.push_str(
        "\nunits: TSC cycles = guest rdtsc; -icount makes the guest TSC count instructions, \
         so those figures are deterministic instruction counts;\n\
         * Bochs's TSC ticks once per emulated instruction. Times are host seconds from the \
         emulator's start (wall: to `hv: exit code`).\n",
    );
    out.push_str("\ntargets (reported, not enforced):\n");
    for t in TARGETS {
        let r = results.iter().find(|r| r.platform == t.platform);
        let (now, verdict) = match r.and_then(|r| t.metric.value(r)) {
            Some(v) => (t.metric.show(v), if t.met(v) { "met" } else { "not met" }),
            None if r.is_none() => ("-".to_owned(), "not run"),
            None => ("n/a".to_owned(), "n/a"),
        };
        let _ = writeln!(
            out,
            "  {:<40} {:>9}  {}: {:>8}  {:<7}  ({})",
            t.what,
            t.bound(),
            t.platform.name(),
            now,
            verdict,
            t.xen
        );
    }
    out
}

/// The JSON report: one object per platform.
pub fn json(results: &[PlatformResult]) -> Json {
    let secs = |v: Option<f64>| v.map_or(Json::Null, |v| Json::num(v, 3));
    let count = |v: Option<f64>| v.map_or(Json::Null, |v| Json::num(v, 1));
    let int = |v: Option<u64>| v.map_or(Json::Null, |v| Json::Raw(v.to_string()));
    let text = |v: Option<String>| v.map_or(Json::Null, Json::Str);
    Json::Arr(
        results
            .iter()
            .map(|r| {
                let raw = r
                    .samples
                    .iter()
                    .map(|s| {
                        Json::Obj(vec![
                            ("first_serial_line_s", secs(s.first_line_s)),
                            ("boot_to_ready_s", secs(s.ready_s)),
                            ("dom0_first_line_s", secs(s.dom0_first_line_s)),
                            ("cpuid_exit_per_iter", int(s.cpuid)),
                            ("null_hypercall_per_iter", int(s.hypercall)),
                            ("wall_s", secs(s.exit_s)),
                            ("hv_exit_code", int(s.exit_code.map(u64::from))),
                            (
                                "emulator_status",
                                s.emulator_status
                                    .map_or(Json::Null, |c| Json::Raw(c.to_string())),
                            ),
                            ("problem", text(s.problem.clone())),
                        ])
                    })
                    .collect();
                let targets = TARGETS
                    .iter()
                    .filter(|t| t.platform == r.platform)
                    .map(|t| {
                        let v = t.metric.value(r);
                        Json::Obj(vec![
                            ("metric", Json::Str(t.metric.key().into())),
                            (
                                "comparison",
                                Json::Str(if t.strict { "<" } else { "<=" }.into()),
                            ),
                            ("limit", Json::num(t.limit, 1)),
                            ("met", v.map_or(Json::Null, |v| Json::Bool(t.met(v)))),
                            ("reference", Json::Str(t.xen.into())),
                        ])
                    })
                    .collect();
                Json::Obj(vec![
                    ("platform", Json::Str(r.platform.name().into())),
                    ("description", Json::Str(r.platform.description().into())),
                    ("timestamp", Json::Str(r.timestamp.clone())),
                    ("status", Json::Str(r.status().into())),
                    ("reason", text(r.note())),
                    (
                        "unit",
                        Json::Str(r.platform.unit().trim_end_matches('*').into()),
                    ),
                    ("iterations", Json::Raw("10000".into())),
                    ("runs", Json::Raw(r.samples.len().to_string())),
                    (
                        "median",
                        Json::Obj(vec![
                            ("boot_to_ready_s", secs(r.boot_s())),
                            ("cpuid_exit_per_iter", count(r.cpuid())),
                            ("null_hypercall_per_iter", count(r.hypercall())),
                            ("wall_s", secs(r.wall_s())),
                        ]),
                    ),
                    ("raw", Json::Arr(raw)),
                    ("targets", Json::Arr(targets)),
                ])
            })
            .collect(),
    )
}

/// Just enough JSON to write the report.
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    /// A number, already formatted.
    Raw(String),
    Str(String),
    Arr(Vec<Json>),
    Obj(Vec<(&'static str, Json)>),
}

impl Json {
    /// `v` with `decimals` decimals, trailing zeros dropped; null if not finite.
    pub fn num(v: f64, decimals: usize) -> Json {
        if !v.is_finite() {
            return Json::Null;
        }
        let s = format!("{v:.decimals$}");
        let s = if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.')
        } else {
            &s
        };
        Json::Raw(if s == "-0" { "0".into() } else { s.to_owned() })
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        self.write(&mut out, 0);
        out.push('\n');
        out
    }

    fn write(&self, out: &mut String, depth: usize) {
        let pad = |out: &mut String, d: usize| {
            out.push('\n');
            out.push_str(&"  ".repeat(d));
        };
        match self {
            Json::Null => out.push_str("null"),
            Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Json::Raw(n) => out.push_str(n),
            Json::Str(s) => quote(out, s),
            Json::Arr(items) if items.is_empty() => out.push_str("[]"),
            Json::Obj(fields) if fields.is_empty() => out.push_str("{}"),
            Json::Arr(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    pad(out, depth + 1);
                    item.write(out, depth + 1);
                }
                pad(out, depth);
                out.push(']');
            }
            Json::Obj(fields) => {
                out.push('{');
                for (i, (key, value)) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    pad(out, depth + 1);
                    quote(out, key);
                    out.push_str(": ");
                    value.write(out, depth + 1);
                }
                pad(out, depth);
                out.push('}');
            }
        }
    }
}

fn quote(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// `2026-11-26T07:30:00Z` for `t` (whole seconds, UTC).
pub fn rfc3339_utc(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_date(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Year, month, day of the `days`-th day after 1970-01-01 (proleptic
/// Gregorian), counted in 400-year eras that start on March 1st so the leap
/// day is the last day of an era's year.
fn civil_date(days: u64) -> (u64, u64, u64) {
    // Day 0 of era 0 is 0000-03-01, 719468 days before 1970-01-01.
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097; // day of era, 0..=146096
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // year of era
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // day of that March-based year
    let mp = (5 * doy + 2) / 153; // month, March = 0
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = era * 400 + yoe + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_bench_lines() {
        assert_eq!(
            parse_bench_line("(d0) dom0: bench cpuid-exit cycles/iter=175"),
            Some(("cpuid-exit", 175))
        );
        assert_eq!(
            parse_bench_line("(d0) dom0: bench null-hypercall cycles/iter=57765\r"),
            Some(("null-hypercall", 57765))
        );
        assert_eq!(
            parse_bench_line("dom0: bench x cycles/iter=0"),
            Some(("x", 0))
        );
        for bad in [
            "(d0) dom0: bench cpuid-exit cycles/iter=",
            "(d0) dom0: bench cpuid-exit cycles/iter=12x",
            "(d0) dom0: bench cpuid-exit cycles/iter=-3",
            "(d0) dom0: bench cpuid exit cycles/iter=3",
            "(d0) dom0: bench  cycles/iter=3",
            "(d0) dom0: hello",
            "cpu0 info hv: ready, 2 cpus online",
        ] {
            assert_eq!(parse_bench_line(bad), None, "{bad}");
        }
    }

    fn sample_from(lines: &[(&str, f64)]) -> Sample {
        let mut s = Sample::default();
        for (l, at) in lines {
            s.feed(l, *at);
        }
        s
    }

    #[test]
    fn sample_from_a_log() {
        let s = sample_from(&[
            ("cpu0 info virt: SVM enabled", 0.3),
            ("cpu0 info hv: ready, 2 cpus online, AMD-V (SVM)", 0.61),
            ("cpu0 info dom0: d0: PVH kernel entry 0x100000", 0.62),
            ("(d0) dom0: hello from the Rust Dom0 (PVH)", 0.7),
            ("(d0) dom0: bench cpuid-exit cycles/iter=175", 1.5),
            ("(d0) dom0: bench null-hypercall cycles/iter=191", 2.0),
            ("(d0) dom0: bench null-hypercall cycles/iter=999", 2.0),
            ("cpu0 info hv: exit code=0", 2.1),
            ("cpu0 info hv: ready again?", 3.0),
        ]);
        assert_eq!(s.first_line_s, Some(0.3));
        assert_eq!(s.ready_s, Some(0.61));
        assert_eq!(s.dom0_first_line_s, Some(0.7));
        assert_eq!((s.cpuid, s.hypercall), (Some(175), Some(191)));
        assert_eq!((s.exit_code, s.exit_s), (Some(0), Some(2.1)));
        assert!(s.complete());
        assert!(!sample_from(&[("(d0) dom0: bench cpuid-exit cycles/iter=1", 1.0)]).complete());
    }

    #[test]
    fn medians() {
        assert_eq!(median(vec![]), None);
        assert_eq!(median(vec![3.0]), Some(3.0));
        assert_eq!(median(vec![5.0, 1.0, 3.0]), Some(3.0));
        assert_eq!(median(vec![4.0, 1.0, 3.0, 2.0]), Some(2.5));
    }

    fn ok(cpuid: u64, hypercall: u64, ready: f64, wall: f64) -> Sample {
        Sample {
            first_line_s: Some(ready - 0.2),
            ready_s: Some(ready),
            dom0_first_line_s: Some(ready + 0.1),
            cpuid: Some(cpuid),
            hypercall: Some(hypercall),
            exit_s: Some(wall),
            exit_code: Some(0),
            emulator_status: Some(1),
            problem: None,
        }
    }

    fn results() -> Vec<PlatformResult> {
        let r = |platform, skipped: Option<&str>, samples| PlatformResult {
            platform,
            timestamp: "2026-11-26T07:30:00Z".into(),
            skipped: skipped.map(str::to_owned),
            dir: None,
            samples,
        };
        vec![
            r(
                BenchPlatform::QemuTcg,
                None,
                vec![ok(54194, 57765, 0.62, 2.45)],
            ),
            r(
                BenchPlatform::QemuTcgIcount,
                None,
                vec![
                    ok(175, 191, 0.9, 4.6),
                    ok(175, 191, 1.1, 4.8),
                    ok(175, 191, 1.0, 4.7),
                ],
            ),
            r(
                BenchPlatform::BochsVmx,
                None,
                vec![Sample {
                    ready_s: Some(3.0),
                    problem: Some("timeout after 60 s; last line: \"x\"".into()),
                    ..Sample::default()
                }],
            ),
            r(
                BenchPlatform::QemuKvm,
                Some("/dev/kvm offers no nested virtualization"),
                vec![],
            ),
        ]
    }

    #[test]
    fn table_rows_and_targets() {
        let t = table(&results());
        let lines: Vec<&str> = t.lines().collect();
        assert!(lines[0].starts_with("platform"));
        assert!(lines[0].contains("boot to ready (s)") && lines[0].contains("wall (s)"));
        let row = |name: &str| {
            *lines
                .iter()
                .find(|l| l.starts_with(&format!("{name} ")))
                .unwrap()
        };
        let tcg: Vec<&str> = row("qemu-tcg").split_whitespace().collect();
        assert_eq!(
            tcg,
            [
                "qemu-tcg", "TSC", "cycles", "0.62", "54194", "57765", "2.45"
            ]
        );
        let icount = row("qemu-tcg-icount");
        assert!(icount.contains("instructions"));
        assert!(icount.contains("1.00") && icount.contains("175") && icount.contains("191"));
        assert!(icount.contains("4.70") && icount.contains("(median of 3)"));
        let vmx = row("bochs-vmx");
        assert!(vmx.contains("3.00") && vmx.contains("n/a: timeout after 60 s"));
        assert_eq!(vmx.matches("n/a").count(), 4);
        assert!(row("qemu-kvm").contains("n/a: skipped: /dev/kvm offers no nested virtualization"));
        assert!(
            !t.contains("bochs-svm "),
            "unselected platforms have no row"
        );
        // Every row's numeric columns line up with the header.
        let col = lines[0].find("cpuid-exit /iter").unwrap() + "cpuid-exit /iter".len();
        assert_eq!(&row("qemu-tcg")[col - 5..col], "54194");
        assert_eq!(&row("qemu-tcg-icount")[col - 3..col], "175");

        let target = |what: &str| *lines.iter().find(|l| l.contains(what)).unwrap();
        let hc = target("null hypercall, -icount");
        assert!(
            hc.contains("<= 280")
                && hc.contains("191")
                && hc.contains("met")
                && hc.contains("~2776")
        );
        assert!(target("CPUID exit, -icount").contains("<= 270"));
        let boot = target("boot to ready, QEMU TCG -kernel");
        assert!(boot.contains("< 1.00 s") && boot.contains("0.62 s") && boot.contains(" met"));

        let mut slow = results();
        slow[1].samples = vec![ok(2654, 2776, 1.0, 5.0)];
        slow.remove(0);
        let t = table(&slow);
        assert!(
            t.lines()
                .find(|l| l.contains("CPUID exit, -icount"))
                .unwrap()
                .contains("not met")
        );
        assert!(
            t.lines()
                .find(|l| l.contains("boot to ready, QEMU"))
                .unwrap()
                .contains("not run")
        );
    }

    #[test]
    fn json_report() {
        let text = json(&results()).render();
        assert!(text.starts_with("[\n  {\n    \"platform\": \"qemu-tcg\",\n"));
        assert!(text.ends_with("}\n]\n"));
        assert_eq!(text.matches("\"platform\": ").count(), 4);
        assert_eq!(
            text.matches("\"timestamp\": \"2026-11-26T07:30:00Z\"")
                .count(),
            4
        );
        assert!(text.contains("\"cpuid_exit_per_iter\": 54194,"));
        assert!(text.contains("\"boot_to_ready_s\": 0.62,"));
        assert!(text.contains("\"unit\": \"instructions\","));
        assert!(text.contains("\"status\": \"n/a\""));
        assert!(text.contains("\"reason\": \"timeout after 60 s; last line: \\\"x\\\"\""));
        assert!(text.contains("\"reason\": \"skipped: /dev/kvm offers no nested virtualization\""));
        assert!(text.contains("\"runs\": 3,"));
        assert!(text.contains("\"raw\": []"));
        assert!(text.contains("\"metric\": \"null_hypercall_per_iter\""));
        assert!(text.contains("\"met\": true"));
        // Balanced brackets outside strings.
        let (mut depth, mut in_str, mut esc) = (0i32, false, false);
        for c in text.chars() {
            match (in_str, esc, c) {
                (true, true, _) => esc = false,
                (true, false, '\\') => esc = true,
                (_, false, '"') => in_str = !in_str,
                (false, _, '[' | '{') => depth += 1,
                (false, _, ']' | '}') => depth -= 1,
                _ => {}
            }
            assert!(depth >= 0);
        }
        assert_eq!((depth, in_str), (0, false));
    }

    #[test]
    fn notes_group_runs() {
        let bad = |p: &str| Sample {
            problem: Some(p.into()),
            ..Sample::default()
        };
        let mut r = PlatformResult {
            platform: BenchPlatform::QemuTcg,
            timestamp: String::new(),
            skipped: None,
            dir: Some("/t/bench/qemu-tcg".into()),
            samples: vec![
                bad("timeout after 30 s"),
                ok(1, 2, 0.5, 1.0),
                bad("timeout after 30 s"),
            ],
        };
        assert_eq!(r.status(), "partial");
        assert_eq!(
            r.note().unwrap(),
            "1 of 3 runs gave figures; runs 1,3: timeout after 30 s (serial: /t/bench/qemu-tcg/run-*/com1.log)"
        );
        assert_eq!((r.cpuid(), r.boot_s()), (Some(1.0), Some(0.5)));
        r.samples = vec![ok(1, 2, 0.5, 1.0)];
        assert_eq!((r.status(), r.note()), ("ok", None));
        r.samples = vec![bad("x")];
        assert_eq!(
            r.note().unwrap(),
            "x (serial: /t/bench/qemu-tcg/run-1/com1.log)"
        );
        assert_eq!(r.status(), "n/a");
    }

    #[test]
    fn problems() {
        use std::os::unix::process::ExitStatusExt;
        let judge_for = |lines: &[&str], status: Option<i32>, qemu: bool, cpuid_bench: bool| {
            let mut m = Matcher::new(&[], FORBID);
            let mut s = Sample::default();
            for l in lines {
                m.feed(l);
                s.feed(l, 1.0);
            }
            s.emulator_status = status;
            let exit = status.map(|c| std::process::ExitStatus::from_raw(c << 8));
            problem(
                &s,
                &m,
                exit,
                qemu,
                Duration::from_secs(30),
                Path::new("/nonexistent"),
                cpuid_bench,
            )
        };
        let judge = |lines: &[&str], status: Option<i32>, qemu: bool| judge_for(lines, status, qemu, true);
        let bench = [
            "(d0) dom0: bench cpuid-exit cycles/iter=1",
            "(d0) dom0: bench null-hypercall cycles/iter=2",
        ];
        let all = [bench[0], bench[1], "cpu0 info hv: exit code=0"];
        assert_eq!(judge(&all, Some(1), true), None);
        assert_eq!(judge(&all, None, false), None);
        assert_eq!(
            judge(&all, Some(0), true).unwrap(),
            "QEMU exit status 0, expected 1"
        );
        let code2 = [bench[0], bench[1], "cpu0 info hv: exit code=2"];
        assert!(
            judge(&code2, Some(5), true)
                .unwrap()
                .starts_with("hv exit code=2, expected 0; QEMU exit status 5")
        );
        let half = [bench[0], "cpu0 info hv: exit code=0"];
        assert_eq!(
            judge(&half, Some(1), true).unwrap(),
            "no `dom0: bench null-hypercall` line before `hv: exit code=0`"
        );
        assert_eq!(
            judge_for(&["cpu0 info hv: exit code=0"], Some(1), true, false),
            None,
            "a Dom0 without bench=cpuid (run_to_exit) owes no CPUID lines"
        );
        let panic = ["cpu0 PANIC: oops at x.rs:1", "more"];
        assert_eq!(
            judge(&panic, None, true).unwrap(),
            "\"cpu0 PANIC: oops at x.rs:1\" on serial"
        );
        assert_eq!(
            judge(&["hv: ready"], None, true).unwrap(),
            "timeout after 30 s; last line: \"hv: ready\""
        );
        assert_eq!(
            judge(&[], None, false).unwrap(),
            "timeout after 30 s (no serial output)"
        );
        assert!(
            judge(&["hv: ready"], Some(3), false)
                .unwrap()
                .starts_with("emulator exited (exit status: 3) before")
        );
    }

    #[test]
    fn json_scalars() {
        let obj = Json::Obj(vec![
            ("a", Json::num(2.500, 3)),
            ("b", Json::num(175.0, 1)),
            ("c", Json::num(f64::NAN, 1)),
            ("d", Json::Str("q\"\\\n\u{1}é".into())),
            ("e", Json::Arr(vec![Json::Bool(false), Json::Null])),
        ]);
        assert_eq!(
            obj.render(),
            "{\n  \"a\": 2.5,\n  \"b\": 175,\n  \"c\": null,\n  \"d\": \"q\\\"\\\\\\n\\u0001é\",\n  \
             \"e\": [\n    false,\n    null\n  ]\n}\n"
        );
    }

    #[test]
    fn timestamps() {
        let at = |s: u64| rfc3339_utc(UNIX_EPOCH + Duration::from_secs(s));
        assert_eq!(at(0), "1970-01-01T00:00:00Z");
        assert_eq!(at(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(at(1_798_243_200), "2026-12-26T00:00:00Z");
        assert_eq!(at(4_102_444_799), "2099-12-31T23:59:59Z");
    }

    #[test]
    fn platforms() {
        for p in BenchPlatform::ALL {
            assert_eq!(BenchPlatform::from_str(p.name(), false).ok(), Some(p));
            assert!(p.timeout() <= Duration::from_secs(60));
        }
        assert!(BenchPlatform::QemuTcgIcount.machine().icount);
        assert!(!BenchPlatform::QemuTcg.machine().icount);
        assert_eq!(BenchPlatform::QemuKvm.machine().accel, Accel::Kvm);
        assert_eq!(
            BenchPlatform::BochsSvm.machine().platform,
            Platform::BochsSvm
        );
    }
}
