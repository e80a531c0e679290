//! `cargo xtask run`: build, then boot one machine with COM1 on the terminal.

use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::thread::sleep;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::images::{self, BootSpec, Images};
use crate::matcher::{Matcher, Progress};
use crate::platform::{Console, Machine};
use crate::proc::Emulator;
use crate::serial::SerialLog;

/// Boots `machine` with the command lines of `boot` (and `dom0` instead of
/// our Dom0 kernel, if given); returns xtask's exit status.
pub fn run(root: &Path, target: &Path, machine: &Machine, boot: &BootSpec, dom0: Option<&Path>) -> Result<i32> {
    let mut built = images::build_kernels(root, target)?;
    if let Some(file) = dom0 {
        built.dom0 = Some(file.to_owned());
    }
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
