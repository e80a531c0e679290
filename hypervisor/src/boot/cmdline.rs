//! The hypervisor command line (the bundle's `hypervisor.cmdline`), in Xen's
//! style: space-separated `name` or `name=value` options.
//!
//! | option | meaning |
//! |---|---|
//! | `loglvl=error\|warn\|info\|debug\|all` | log threshold (default info) |
//! | `exit-after-boot` | test option: leave the emulator with status 0 once ready |
//! | `test-panic` | test option: panic on purpose once ready |

#![forbid(unsafe_code)]

use crate::log::Level;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    pub loglvl: Level,
    pub exit_after_boot: bool,
    pub test_panic: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options { loglvl: Level::Info, exit_after_boot: false, test_panic: false }
    }
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
            ("exit-after-boot", None) => opts.exit_after_boot = true,
            ("test-panic", None) => opts.test_panic = true,
            _ => unknown.push(word),
        }
    }
    (opts, unknown)
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
    fn unknown_or_malformed_options_are_reported_not_applied() {
        let (o, unknown) = parse("loglvl=shouty exit-after-boot=1 frobnicate");
        assert_eq!(o, Options::default());
        assert_eq!(unknown, vec!["loglvl=shouty", "exit-after-boot=1", "frobnicate"]);
    }
}
