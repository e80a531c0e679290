//! The pinned toolchain the kernels (and the host unit tests, which use
//! nightly features of the kernel crates) are built with. xtask itself
//! builds with whatever toolchain runs it; it installs this one with rustup
//! when it is missing, so `cargo xtask run` needs nothing typed before it.

use std::process::Command;

use anyhow::{Context, Result, bail};

/// The `bootloader` 0.11.17 image builder compiles its boot stages with
/// `-Zbuild-std`: a nightly no older than 2026-07-10 (its locked `x86_64`
/// 0.15.5), with rust-src and llvm-tools.
pub const PINNED: &str = "nightly-2026-08-01";
const COMPONENTS: &[&str] = &["rust-src", "llvm-tools-preview", "clippy", "rustfmt"];
const TARGET: &str = "x86_64-unknown-none";

/// Installs the pinned toolchain (with its components and the kernel
/// target) unless rustup already has it.
pub fn ensure() -> Result<()> {
    let list = Command::new("rustup").args(["toolchain", "list"]).output().context(
        "running rustup: the kernels need rustup to install the pinned nightly (https://rustup.rs)",
    )?;
    if String::from_utf8_lossy(&list.stdout).lines().any(|l| l.starts_with(PINNED)) {
        return Ok(());
    }
    println!("installing the pinned toolchain {PINNED} for the kernels (once)");
    let mut cmd = Command::new("rustup");
    cmd.args(["toolchain", "install", PINNED, "--profile", "minimal", "--target", TARGET]);
    for c in COMPONENTS {
        cmd.args(["--component", c]);
    }
    let status = cmd.status().context("running rustup toolchain install")?;
    if !status.success() {
        bail!(
            "installing {PINNED} failed ({status}); run `rustup toolchain install {PINNED} --profile minimal --target {TARGET} {}` and try again",
            COMPONENTS.iter().map(|c| format!("--component {c}")).collect::<Vec<_>>().join(" ")
        );
    }
    Ok(())
}

/// `cargo` of the pinned toolchain (through rustup's proxy), clean of the
/// variables the cargo running xtask set for it.
pub fn cargo() -> Command {
    let mut cmd = Command::new("cargo");
    cmd.env("RUSTUP_TOOLCHAIN", PINNED);
    for var in ["CARGO", "RUSTC", "RUSTDOC", "RUSTC_WRAPPER", "RUSTC_WORKSPACE_WRAPPER"] {
        cmd.env_remove(var);
    }
    cmd
}
