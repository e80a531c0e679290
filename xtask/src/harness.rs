//! Running one scenario: boot it, follow COM1, stop the emulator as soon as
//! the result is known, and judge the run.

use std::path::{Path, PathBuf};
use std::thread::sleep;
use std::time::{Duration, Instant};

use anyhow::Result;

use crate::images::{BootSpec, Built, Images};
use crate::matcher::{EXIT_MARKER, Matcher, Progress, parse_exit_code, qemu_status_for};
use crate::platform::{Console, Machine};
use crate::proc::Emulator;
use crate::qemu::Accel;
use crate::scenarios::Scenario;
use crate::serial::SerialLog;

const POLL: Duration = Duration::from_millis(20);
/// After a forbidden line: time to collect the lines that follow it.
const DRAIN: Duration = Duration::from_millis(300);
/// After the exit line: time for the emulator to exit by itself.
const EXIT_GRACE: Duration = Duration::from_secs(5);

pub struct Outcome {
    pub passed: bool,
    /// Why it failed (or, for a self-test, how the inner run failed).
    pub reason: String,
    /// The last serial lines.
    pub tail: Vec<String>,
    pub seconds: f64,
    /// Seconds from the emulator's start to the first complete serial line.
    pub first_line: Option<f64>,
}

/// `dir` held by one run: a second `xtask test` of the same scenario would
/// have two emulators write one `com1.log` (lines lost, holes of NULs), so
/// it waits for the first. A holder that died leaves a stale mark, taken
/// over.
struct DirHold(PathBuf);

impl DirHold {
    fn take(dir: &Path) -> Result<DirHold> {
        std::fs::create_dir_all(dir)?;
        let mark = dir.join(".running");
        let mut said = false;
        loop {
            match std::fs::create_dir(&mark) {
                Ok(()) => {
                    std::fs::write(mark.join("pid"), std::process::id().to_string())?;
                    return Ok(DirHold(mark));
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let pid = std::fs::read_to_string(mark.join("pid")).unwrap_or_default();
                    let alive = !pid.trim().is_empty() && Path::new("/proc").join(pid.trim()).exists();
                    if !alive && mark.metadata().is_ok_and(|m| m.modified().is_ok_and(|t| t.elapsed().unwrap_or_default() > std::time::Duration::from_secs(2))) {
                        let _ = std::fs::remove_dir_all(&mark);
                        continue;
                    }
                    if !said {
                        println!("(waiting: another xtask (pid {}) runs this scenario in {})", pid.trim(), dir.display());
                        said = true;
                    }
                    sleep(Duration::from_millis(500));
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
}

impl Drop for DirHold {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Builds the scenario's images in `dir` and runs it.
pub fn run_scenario(s: &Scenario, built: &Built, dir: &Path) -> Result<Outcome> {
    let _hold = DirHold::take(dir)?;
    let images = Images::new(dir.to_owned());
    let mut built = match s.dom0_kernel {
        Some(name) => built.with_guest_as_dom0(name)?,
        None => built.clone(),
    };
    let dom0_cmdline = add_files(s, &mut built)?;
    images.make(&built, &BootSpec { cmdline: s.cmdline, dom0_cmdline: &dom0_cmdline }, &[s.platform.firmware()])?;
    let machine = Machine {
        platform: s.platform,
        accel: Accel::Tcg,
        smp: s.smp,
        mem_mib: s.mem_mib,
        icount: false,
    };
    let com1 = dir.join("com1.log");
    let typed_com1 = s.com2.as_ref().is_some_and(|script| script.com1);
    let console = if typed_com1 { Console::TypedFile(com1.clone()) } else { Console::File(com1.clone()) };
    let cmd = machine.command(&images.image(s.platform.firmware()), dir, &console)?;
    let port = if typed_com1 { "com1" } else { "com2" };
    let _ = std::fs::remove_file(dir.join(format!("{port}.sock")));
    // The typist keeps what it reads: COM2's only copy, or COM1's since it connected.
    let typed_log = if typed_com1 { "com1-typed.log" } else { "com2.log" };
    let typist = s.com2.as_ref().map(|script| crate::com2::Typist::start(script, dir.join(format!("{port}.sock")), dir.join(typed_log)));
    let mut outcome = supervise(cmd, s, &com1, &dir.join("emulator.log"), typist.as_ref())?;
    if let (Some(typist), Some(script)) = (typist, &s.com2) {
        let printed = typist.finish();
        if outcome.passed
            && let Some(want) = crate::com2::missing(&printed, script.expect)
        {
            outcome.passed = false;
            outcome.reason = if script.com1 {
                format!("COM1 never printed {want:?} (in order) after the typing began; see com1-typed.log")
            } else {
                format!("COM2 (Dom0's shell) never printed {want:?} (in order); see com2.log")
            };
        }
    }
    Ok(match s.expect_failure {
        None => outcome,
        Some(patterns) => invert(outcome, patterns),
    })
}

/// The scenario's own files, as `run --dom0/--module/--create` add them
/// (Debian's fetched first if it asks); returns Dom0's command line, with
/// `autostart=` naming the created configs.
fn add_files(s: &Scenario, built: &mut Built) -> Result<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap_or(Path::new("."));
    let linux = if s.debian { Some(crate::debian::ensure(&root.join("target"))?) } else { None };
    let resolve = |name: &str| -> Result<PathBuf> {
        match name.strip_prefix("debian:") {
            None => Ok(root.join(name)),
            Some(file) => {
                let Some(linux) = &linux else { anyhow::bail!("{}: {name} needs `debian: true`", s.name) };
                match file {
                    "vmlinuz" => Ok(linux.bzimage.clone()),
                    "initrd.gz" => Ok(linux.initrd.clone()),
                    _ => anyhow::bail!("{}: no Debian file {file} (vmlinuz, initrd.gz)", s.name),
                }
            }
        }
    };
    if let Some(file) = s.dom0_file {
        built.dom0 = Some(resolve(file)?);
    }
    let modules = s.modules.iter().map(|m| resolve(m)).collect::<Result<Vec<_>>>()?;
    built.first_files = crate::run::pack_modules(&modules)?;
    let mut names = Vec::new();
    for cfg in s.create {
        let (name, files) = crate::run::pack_config(&root.join(cfg))?;
        names.push(name);
        built.first_files.extend(files);
    }
    Ok(if names.is_empty() { s.dom0_cmdline.to_owned() } else { crate::run::with_autostart(s.dom0_cmdline, &names) })
}

/// A self-test passes only if the inner run failed for the expected reason.
fn invert(inner: Outcome, patterns: &[&str]) -> Outcome {
    let (passed, reason) = if inner.passed {
        (
            false,
            format!("the run passed, but the harness must fail it with {patterns:?}"),
        )
    } else if patterns.iter().all(|p| inner.reason.contains(p)) {
        (
            true,
            format!("the run failed as expected: {}", inner.reason),
        )
    } else {
        (
            false,
            format!(
                "the run failed, but not with {patterns:?}: {}",
                inner.reason
            ),
        )
    };
    Outcome {
        passed,
        reason,
        ..inner
    }
}

fn supervise(
    cmd: std::process::Command,
    s: &Scenario,
    com1: &Path,
    emu_log: &Path,
    typist: Option<&crate::com2::Typist>,
) -> Result<Outcome> {
    let is_qemu = s.platform.is_qemu();
    let mut serial = SerialLog::create(com1)?;
    let mut matcher = Matcher::new(s.expect, s.forbid);
    let start = Instant::now();
    let mut emu = Emulator::spawn(cmd, emu_log)?;
    let timeout = Duration::from_secs(s.timeout_s);
    let mut first_line = None;
    let mut decided: Option<Instant> = None;

    loop {
        let exited = emu.try_wait().is_some();
        let bytes = serial.read_new();
        for line in serial.lines(&bytes) {
            first_line.get_or_insert_with(|| start.elapsed().as_secs_f64());
            if let (Some(t), Some(script)) = (typist, &s.com2)
                && line.contains(script.after)
            {
                t.go();
            }
            matcher.feed(&line);
        }
        if exited {
            break;
        }
        if *matcher.progress() != Progress::Running {
            let at = *decided.get_or_insert_with(Instant::now);
            let wait = if matches!(matcher.progress(), Progress::Forbidden { .. }) {
                DRAIN
            } else {
                EXIT_GRACE
            };
            // Bochs keeps running after the exit line: give it a moment, then stop it.
            let bochs_done = !is_qemu && at.elapsed() >= Duration::from_secs(1);
            if at.elapsed() >= wait || bochs_done {
                break;
            }
        } else if start.elapsed() >= timeout {
            break;
        }
        sleep(POLL);
    }
    let status = emu.try_wait();
    emu.kill();
    if let Some(line) = serial.take_partial() {
        matcher.feed(&line);
    }
    let seconds = start.elapsed().as_secs_f64();

    let next = |m: &Matcher| match m.missing() {
        Some(marker) => format!("; next expected marker: {marker:?}"),
        None => String::new(),
    };
    let reason = match matcher.progress().clone() {
        Progress::Forbidden { pattern, line } => {
            Some(format!("forbidden {pattern:?} on serial: {line}"))
        }
        Progress::Exited(code) if code != s.exit_code => Some(format!(
            "hypervisor exit code {code}, expected {}",
            s.exit_code
        )),
        Progress::Exited(_) if matcher.missing().is_some() => Some(format!(
            "exited before all markers were seen (in order){}",
            next(&matcher)
        )),
        Progress::Exited(code) if is_qemu => match status.and_then(|st| st.code()) {
            Some(c) if c == qemu_status_for(code) => None,
            Some(c) => Some(format!(
                "QEMU exit status {c}, expected {} ((code << 1) | 1 from isa-debug-exit for code {code})",
                qemu_status_for(code)
            )),
            None => Some(format!(
                "QEMU did not exit within {EXIT_GRACE:?} of the exit line (isa-debug-exit write missing?)"
            )),
        },
        Progress::Exited(_) => None,
        Progress::Running if status.is_some() => Some(format!(
            "emulator exited ({}) before the `hv: exit code=` line{}{}{}",
            status.map(|s| s.to_string()).unwrap_or_default(),
            next(&matcher),
            cut_off_hint(&matcher),
            emulator_output(emu_log)
        )),
        Progress::Running if matcher.line_count() == 0 => Some(format!(
            "timeout after {} s with no serial output{}",
            s.timeout_s,
            emulator_output(emu_log)
        )),
        Progress::Running => Some(format!("timeout after {} s{}", s.timeout_s, next(&matcher))),
    };
    Ok(Outcome {
        passed: reason.is_none(),
        reason: reason.unwrap_or_default(),
        tail: matcher.tail().map(str::to_owned).collect(),
        seconds,
        first_line,
    })
}

/// An exit line without its code: the UART still held the rest when the
/// emulator stopped.
fn cut_off_hint(matcher: &Matcher) -> &'static str {
    match matcher.tail().last() {
        Some(line) if line.contains(EXIT_MARKER) && parse_exit_code(line).is_none() => {
            "\n  the exit line was cut off: the hypervisor must wait for the UART to drain \
             (LSR bit 6, TEMT) before it leaves the emulator"
        }
        _ => "",
    }
}

/// The emulator's own last output lines, for failures that are likely its own.
fn emulator_output(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    if lines.is_empty() {
        return String::new();
    }
    let last = &lines[lines.len().saturating_sub(5)..];
    format!(
        "\n  emulator said ({}):\n    {}",
        path.display(),
        last.join("\n    ")
    )
}
