//! Judging a serial log line by line: expected markers in order, forbidden
//! substrings, and the hypervisor's `hv: exit code=N` line.

use std::collections::VecDeque;

/// The line the hypervisor prints right before it leaves the emulator.
pub const EXIT_MARKER: &str = "hv: exit code=";

/// How many serial lines a failure report shows.
pub const TAIL_LINES: usize = 40;

/// What the log has shown so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// Nothing decisive yet.
    Running,
    /// A forbidden substring appeared: the run has failed.
    Forbidden { pattern: String, line: String },
    /// The exit line appeared with this code.
    Exited(u32),
}

pub struct Matcher {
    expect: Vec<String>,
    next: usize,
    forbid: Vec<String>,
    progress: Progress,
    tail: VecDeque<String>,
    lines: usize,
}

impl Matcher {
    pub fn new(expect: &[&str], forbid: &[&str]) -> Self {
        Self {
            expect: expect.iter().map(|s| s.to_string()).collect(),
            next: 0,
            forbid: forbid.iter().map(|s| s.to_string()).collect(),
            progress: Progress::Running,
            tail: VecDeque::new(),
            lines: 0,
        }
    }

    /// Feeds one complete serial line (without its newline).
    pub fn feed(&mut self, line: &str) {
        let line = line.trim_end_matches('\r');
        self.lines += 1;
        if self.tail.len() == TAIL_LINES {
            self.tail.pop_front();
        }
        self.tail.push_back(line.to_owned());

        // Markers are matched even after the run was decided, so the report
        // names the right missing marker; the first decision sticks.
        if let Some(want) = self.expect.get(self.next)
            && line.contains(want.as_str())
        {
            self.next += 1;
        }
        if self.progress != Progress::Running {
            return;
        }
        if let Some(pattern) = self.forbid.iter().find(|f| line.contains(f.as_str())) {
            self.progress = Progress::Forbidden {
                pattern: pattern.clone(),
                line: line.to_owned(),
            };
        } else if let Some(code) = parse_exit_code(line) {
            self.progress = Progress::Exited(code);
        }
    }

    pub fn progress(&self) -> &Progress {
        &self.progress
    }

    /// The first expected marker not seen yet (in order), if any.
    pub fn missing(&self) -> Option<&str> {
        self.expect.get(self.next).map(String::as_str)
    }

    pub fn line_count(&self) -> usize {
        self.lines
    }

    /// The last [`TAIL_LINES`] lines.
    pub fn tail(&self) -> impl Iterator<Item = &str> {
        self.tail.iter().map(String::as_str)
    }
}

/// Parses `N` from a line containing `hv: exit code=N`.
pub fn parse_exit_code(line: &str) -> Option<u32> {
    let rest = &line[line.find(EXIT_MARKER)? + EXIT_MARKER.len()..];
    let digits: &str = &rest[..rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len())];
    digits.parse().ok()
}

/// QEMU's `isa-debug-exit` makes QEMU exit with `(code << 1) | 1`.
pub fn qemu_status_for(code: u32) -> i32 {
    i32::try_from((u64::from(code) << 1) | 1).unwrap_or(i32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FORBID: &[&str] = &["PANIC", "FATAL"];

    fn run(expect: &[&str], lines: &[&str]) -> Matcher {
        let mut m = Matcher::new(expect, FORBID);
        for l in lines {
            m.feed(l);
        }
        m
    }

    #[test]
    fn markers_in_order() {
        let m = run(
            &[
                "cpu0 info virt: SVM enabled",
                "cpu1 info virt: SVM enabled",
                "ready, 2 cpus",
            ],
            &[
                "cpu0 info virt: SVM enabled (npt nrips=no asids=16)",
                "cpu1 info virt: SVM enabled (npt nrips=no asids=16)",
                "cpu0 info hv: ready, 2 cpus online",
                "cpu0 info hv: exit code=0",
            ],
        );
        assert_eq!(m.missing(), None);
        assert_eq!(m.progress(), &Progress::Exited(0));
        assert_eq!(m.line_count(), 4);
    }

    #[test]
    fn out_of_order_is_missing() {
        let m = run(
            &["cpu0 info virt", "cpu1 info virt"],
            &["cpu1 info virt: SVM enabled", "cpu0 info virt: SVM enabled"],
        );
        assert_eq!(m.missing(), Some("cpu1 info virt"));
    }

    #[test]
    fn one_line_matches_one_marker() {
        let m = run(
            &["SVM enabled", "SVM enabled"],
            &["cpu0 info virt: SVM enabled"],
        );
        assert_eq!(m.missing(), Some("SVM enabled"));
    }

    #[test]
    fn forbidden_line_decides_and_sticks() {
        let m = run(
            &["hv: exit code=0"],
            &[
                "cpu0 info hv: ready, 1 cpus online",
                "cpu0 PANIC: test-panic requested on the command line at src/main.rs:12",
                "cpu0 info hv: exit code=0",
            ],
        );
        match m.progress() {
            Progress::Forbidden { pattern, line } => {
                assert_eq!(pattern, "PANIC");
                assert!(line.contains("test-panic requested"));
            }
            p => panic!("unexpected {p:?}"),
        }
        assert_eq!(m.missing(), None);
    }

    #[test]
    fn fatal_is_forbidden() {
        let m = run(&[], &["cpu1 FATAL exception #GP(0) at 0xffff800000001234"]);
        assert!(matches!(m.progress(), Progress::Forbidden { pattern, .. } if pattern == "FATAL"));
    }

    #[test]
    fn exit_codes() {
        assert_eq!(parse_exit_code("cpu0 info hv: exit code=0"), Some(0));
        assert_eq!(parse_exit_code("hv: exit code=17 (bye)"), Some(17));
        assert_eq!(parse_exit_code("hv: exit code=4294967295"), Some(u32::MAX));
        assert_eq!(parse_exit_code("hv: exit code="), None);
        assert_eq!(parse_exit_code("hv: exit code=x"), None);
        assert_eq!(parse_exit_code("cpu0 info hv: ready"), None);
        assert_eq!(qemu_status_for(0), 1);
        assert_eq!(qemu_status_for(3), 7);
    }

    #[test]
    fn crlf_and_tail() {
        let mut m = Matcher::new(&["a"], FORBID);
        for i in 0..100 {
            m.feed(&format!("line {i}\r"));
        }
        let tail: Vec<_> = m.tail().collect();
        assert_eq!(tail.len(), TAIL_LINES);
        assert_eq!(tail[0], "line 60");
        assert_eq!(tail[TAIL_LINES - 1], "line 99");
    }
}
