//! Emulator processes: each runs in its own process group, which is killed
//! when its guard drops and when xtask gets Ctrl-C, so none is left behind.

use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Mutex;

use anyhow::{Context, Result};

/// Process groups of the emulators now running.
static LIVE: Mutex<Vec<u32>> = Mutex::new(Vec::new());

/// Installs the handler for Ctrl-C, SIGTERM and SIGHUP (once): kill every
/// live emulator, exit 130.
pub fn install_ctrlc_handler() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = ctrlc::set_handler(|| {
            let groups = LIVE.lock().map(|g| g.clone()).unwrap_or_default();
            for pgid in groups {
                kill_group(pgid);
            }
            eprintln!("\ninterrupted: emulators stopped");
            std::process::exit(130);
        });
    });
}

fn kill_group(pgid: u32) {
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{pgid}")])
        .stderr(Stdio::null())
        .status();
}

/// A running emulator in its own process group.
pub struct Emulator {
    child: Child,
    pgid: u32,
    status: Option<ExitStatus>,
}

impl Emulator {
    /// Starts `cmd` with stdin from /dev/null and output to `log`.
    pub fn spawn(mut cmd: Command, log: &std::path::Path) -> Result<Self> {
        install_ctrlc_handler();
        let out =
            std::fs::File::create(log).with_context(|| format!("creating {}", log.display()))?;
        cmd.stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .process_group(0);
        let program = cmd.get_program().to_string_lossy().into_owned();
        let child = cmd.spawn().with_context(|| format!("starting {program}"))?;
        let pgid = child.id();
        LIVE.lock().map(|mut g| g.push(pgid)).ok();
        Ok(Self {
            child,
            pgid,
            status: None,
        })
    }

    /// The exit status if the process has exited.
    pub fn try_wait(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            self.status = self.child.try_wait().ok().flatten();
        }
        self.status
    }

    /// Kills the whole process group and reaps the process.
    pub fn kill(&mut self) {
        // Only while the leader is unreaped: its group id cannot be reused yet.
        if self.try_wait().is_none() {
            kill_group(self.pgid);
            let _ = self.child.kill();
            self.status = self.child.wait().ok();
        }
        LIVE.lock().map(|mut g| g.retain(|&p| p != self.pgid)).ok();
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.kill();
    }
}
