//! `cargo xtask test`: host unit tests, then the emulator scenarios.

use std::io::Write;
use std::path::Path;
use std::time::Instant;

use anyhow::{Result, bail};

use crate::harness;
use crate::images;
use crate::qemu::Accel;
use crate::scenarios::{SCENARIOS, Scenario};
use crate::setup;

/// The entry for the host unit tests (`cargo test` of the whole workspace);
/// `host` names it too.
pub const HOST: &str = "host-unit-tests";

pub fn list() {
    println!("(extended: run only with --extended or when named)");
    println!(
        "{HOST:<24} {:<14} cargo test --workspace on the host (also selected by `host`)",
        "host"
    );
    for s in SCENARIOS {
        println!(
            "{:<24} {:<14} {}{}",
            s.name,
            s.platform.name(Accel::Tcg),
            if s.extended { "(extended) " } else { "" },
            s.description
        );
    }
}

/// Runs the selection; returns whether everything passed.
pub fn test(root: &Path, target: &Path, names: &[String], extended: bool) -> Result<bool> {
    let (host, scenarios) = select(names, extended)?;
    let mut packages: Vec<setup::Package> = Vec::new();
    for s in &scenarios {
        packages.extend(s.platform.packages());
    }
    setup::ensure(&packages, "")?;

    let (mut passed, mut failed) = (0, 0);
    let mut record = |ok: bool| if ok { passed += 1 } else { failed += 1 };

    if host {
        let start = Instant::now();
        let ok = host_tests(root)?;
        line(HOST, "host", ok, start.elapsed().as_secs_f64(), None);
        record(ok);
    }

    if !scenarios.is_empty() {
        match images::build_kernels(root, target) {
            Ok(built) => {
                for s in &scenarios {
                    record(run_one(s, &built, target));
                }
            }
            Err(e) => {
                println!("building the kernels failed: {e:#}");
                for s in &scenarios {
                    line(s.name, s.platform.name(Accel::Tcg), false, 0.0, None);
                    record(false);
                }
            }
        }
    }
    println!("{passed} passed, {failed} failed");
    Ok(failed == 0)
}

/// `cargo test` for every workspace member on the host: the kernel crates
/// with the pinned nightly (they use its features), in the dev profile with
/// its debug assertions; xtask by the cargo that runs it, in the release
/// profile it was built in (no second build of its dependencies). The
/// image builder has no tests and would compile the boot stages again.
fn host_tests(root: &Path) -> Result<bool> {
    let own_cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let runs: [(std::process::Command, &[&str]); 2] = [
        (crate::toolchain::cargo(), &["test", "--workspace", "--exclude", "xtask", "--exclude", "imager"]),
        (std::process::Command::new(own_cargo), &["test", "--release", "--package", "xtask"]),
    ];
    let mut ok = true;
    for (mut cargo, args) in runs {
        println!("running cargo {}", args.join(" "));
        ok &= cargo.current_dir(root).args(args).status()?.success();
    }
    Ok(ok)
}

fn run_one(s: &Scenario, built: &images::Built, target: &Path) -> bool {
    let platform = s.platform.name(Accel::Tcg);
    print!("{:<24} {platform:<14} ", s.name);
    let _ = std::io::stdout().flush();
    let dir = target.join("scenarios").join(s.name);
    let start = Instant::now();
    match harness::run_scenario(s, built, &dir) {
        Ok(o) => {
            finish(o.passed, o.seconds, o.first_line);
            if !o.passed {
                println!("    reason: {}", o.reason);
                println!(
                    "    last {} serial lines ({}):",
                    o.tail.len(),
                    dir.join("com1.log").display()
                );
                for l in &o.tail {
                    println!("    | {l}");
                }
            }
            o.passed
        }
        Err(e) => {
            finish(false, start.elapsed().as_secs_f64(), None);
            println!("    reason: {e:#}");
            false
        }
    }
}

fn line(name: &str, platform: &str, ok: bool, secs: f64, first: Option<f64>) {
    print!("{name:<24} {platform:<14} ");
    finish(ok, secs, first);
}

fn finish(ok: bool, secs: f64, first: Option<f64>) {
    let verdict = if ok { "PASS" } else { "FAIL" };
    match first {
        Some(f) => println!("{verdict} {secs:6.1} s  (first serial line after {f:.1} s)"),
        None => println!("{verdict} {secs:6.1} s"),
    }
}

/// Host tests run when nothing is named or when `host` is named. With no
/// name, the extended scenarios run only if `extended`; a named one always runs.
fn select(names: &[String], extended: bool) -> Result<(bool, Vec<&'static Scenario>)> {
    if names.is_empty() {
        return Ok((true, SCENARIOS.iter().filter(|s| extended || !s.extended).collect()));
    }
    let mut host = false;
    let mut picked: Vec<&'static Scenario> = Vec::new();
    for name in names {
        if name == "host" || name == HOST {
            host = true;
        } else if let Some(s) = crate::scenarios::find(name) {
            if !picked.iter().any(|p| p.name == s.name) {
                picked.push(s);
            }
        } else {
            let known: Vec<&str> = SCENARIOS.iter().map(|s| s.name).collect();
            bail!(
                "no scenario {name:?}; known: host, {} (see `cargo xtask test --list`)",
                known.join(", ")
            );
        }
    }
    Ok((host, picked))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn selection() {
        let (host, all) = select(&[], true).unwrap();
        assert!(host);
        assert_eq!(all.len(), SCENARIOS.len());
        let (_, default) = select(&[], false).unwrap();
        assert!(default.iter().all(|s| !s.extended));
        assert_eq!(default.len() + SCENARIOS.iter().filter(|s| s.extended).count(), SCENARIOS.len());
        let (_, long) = select(&names(&["fuzz-long"]), false).unwrap();
        assert!(long.len() == 1 && long[0].extended, "a named extended scenario runs");
        let (host, some) = select(&names(&["boot-uefi", "boot-uefi"]), false).unwrap();
        assert!(!host);
        assert_eq!(some.len(), 1);
        let (host, none) = select(&names(&["host"]), false).unwrap();
        assert!(host && none.is_empty());
        assert!(select(&names(&["no-such"]), false).is_err());
    }
}
