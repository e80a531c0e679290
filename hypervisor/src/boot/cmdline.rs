//! The hypervisor command line (the bundle's `hypervisor.cmdline`), in Xen's
//! style: space-separated `name` or `name=value` options.
//!
//! | option | meaning |
//! |---|---|
//! | `loglvl=error\|warn\|info\|debug\|all` | log threshold (default info) |
//! | `exit-after-boot` | test option: leave the emulator with status 0 once ready |
//! | `test-panic` | test option: panic on purpose once ready |
//! | `dom0_mem=<size>[K\|M\|G]` | Dom0's RAM (default 64M; bytes without a suffix) |
//! | `dom0_max_vcpus=<n>` or `<min>-<max>` | Dom0's vCPUs (default 1, at most [`MAX_DOM0_VCPUS`]; of a range, the maximum): vCPU 0 owns the boot CPU, the others are scheduled on the APs beside the DomUs |

#![forbid(unsafe_code)]

use crate::log::Level;

pub const DEFAULT_DOM0_MEM: u64 = 64 << 20;
/// Most vCPUs Dom0 may have here.
pub const MAX_DOM0_VCPUS: u8 = 16;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    pub loglvl: Level,
    pub dom0_mem: u64,
    pub dom0_vcpus: u8,
    pub exit_after_boot: bool,
    pub test_panic: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options { loglvl: Level::Info, dom0_mem: DEFAULT_DOM0_MEM, dom0_vcpus: 1, exit_after_boot: false, test_panic: false }
    }
}

static SAVED: spin::Once<&'static str> = spin::Once::new();

/// Keeps the command line for XENVER_commandline.
pub fn save(cmdline: &'static str) {
    SAVED.call_once(|| cmdline);
}

/// The command line the hypervisor booted with ("" before boot saved it).
pub fn saved() -> &'static str {
    SAVED.get().copied().unwrap_or("")
}

/// Parses the command line. Unknown options are returned for a warning,
/// not an error: a typo must not stop a machine from booting.
pub fn parse(cmdline: &str) -> (Options, alloc::vec::Vec<&str>) {
    let mut opts = Options::default();
    let mut unknown = alloc::vec::Vec::new();
    for word in cmdline.split_ascii_whitespace() {
        let (name, value) = match word.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (word, None),
        };
        match (name, value) {
            ("loglvl", Some(v)) => match Level::parse(v) {
                Some(level) => opts.loglvl = level,
                None => unknown.push(word),
            },
            ("dom0_mem", Some(v)) => match parse_size(v) {
                Some(bytes) => opts.dom0_mem = bytes,
                None => unknown.push(word),
            },
            // Xen's `<min>-<max>`: Dom0 gets the maximum here.
            ("dom0_max_vcpus", Some(v)) => match v.rsplit('-').next().and_then(|n| n.parse::<u8>().ok()).filter(|n| (1..=MAX_DOM0_VCPUS).contains(n)) {
                Some(n) => opts.dom0_vcpus = n,
                None => unknown.push(word),
            },
            ("exit-after-boot", None) => opts.exit_after_boot = true,
            ("test-panic", None) => opts.test_panic = true,
            _ => unknown.push(word),
        }
    }
    (opts, unknown)
}

/// A size as Xen writes it: a number with an optional K, M or G suffix.
fn parse_size(text: &str) -> Option<u64> {
    let (digits, shift) = match text.as_bytes().last()? {
        b'K' | b'k' => (&text[..text.len() - 1], 10),
        b'M' | b'm' => (&text[..text.len() - 1], 20),
        b'G' | b'g' => (&text[..text.len() - 1], 30),
        _ => (text, 0),
    };
    digits.parse::<u64>().ok()?.checked_mul(1 << shift)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_command_line_gives_defaults() {
        assert_eq!(parse(""), (Options::default(), vec![]));
    }

    #[test]
    fn options_are_recognised_in_any_order() {
        let (o, unknown) = parse("  test-panic loglvl=debug\texit-after-boot ");
        assert!(o.exit_after_boot && o.test_panic);
        assert_eq!(o.loglvl, Level::Debug);
        assert!(unknown.is_empty());
    }

    #[test]
    fn dom0_max_vcpus_takes_a_count_or_a_range() {
        assert_eq!(parse("").0.dom0_vcpus, 1);
        assert_eq!(parse("dom0_max_vcpus=2").0.dom0_vcpus, 2);
        assert_eq!(parse("dom0_max_vcpus=1-4").0.dom0_vcpus, 4);
        let (o, unknown) = parse("dom0_max_vcpus=0 dom0_max_vcpus=17 dom0_max_vcpus=x");
        assert_eq!((o.dom0_vcpus, unknown.len()), (1, 3));
    }

    #[test]
    fn dom0_mem_takes_xen_size_suffixes() {
        assert_eq!(parse("dom0_mem=128M").0.dom0_mem, 128 << 20);
        assert_eq!(parse("dom0_mem=1G").0.dom0_mem, 1 << 30);
        assert_eq!(parse("dom0_mem=4096").0.dom0_mem, 4096);
        let (o, unknown) = parse("dom0_mem=lots dom0_mem=99999999999999999999G");
        assert_eq!(o.dom0_mem, DEFAULT_DOM0_MEM);
        assert_eq!(unknown.len(), 2);
    }

    #[test]
    fn unknown_or_malformed_options_are_reported_not_applied() {
        let (o, unknown) = parse("loglvl=shouty exit-after-boot=1 frobnicate");
        assert_eq!(o, Options::default());
        assert_eq!(unknown, vec!["loglvl=shouty", "exit-after-boot=1", "frobnicate"]);
    }
}
