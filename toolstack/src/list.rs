//! `xl list` output: the header and one row per domain, character for
//! character as xl 4.17 prints them (`list_domains` in tools/xl/xl_info.c):
//!
//! - header `Name                                        ID   Mem VCPUs\tState\tTime(s)`
//!   (tabs included; the man page's example shows spaces);
//! - row `%-40s %5d %5lu %5d     %c%c%c%c%c%c  %8.1f`: name padded to 40
//!   bytes (never cut), domain ID, MiB of memory (current plus outstanding
//!   KiB, divided by 1024), online vCPUs, six state letters, and CPU time in
//!   seconds, which xl computes as `(float)cpu_time / 1e9`: nanoseconds
//!   rounded to single precision, then divided in double. We do the same,
//!   so large times round as xl's do.
//!
//! State letters, by position: `r` running, `b` blocked, `p` paused, `s`
//! shut down, then the shutdown reason (`-` poweroff or not shut down, `r`
//! reboot, `s` suspend, `c` crash, `w` watchdog, `S` soft reset, `?`
//! unknown), `d` dying. So a crashed domain reads `---sc-`: xl(1) lists the
//! letters as r b p s c d, but the code puts the crash `c` in the reason
//! column, after the `s` that every shut-down domain has.

use alloc::string::String;
use core::fmt::Write;

/// The header line, without its newline.
pub const LIST_HEADER: &str =
    "Name                                        ID   Mem VCPUs\tState\tTime(s)";

/// Why a domain shut down (`SHUTDOWN_*` in Xen's sched.h; libxl's
/// `libxl_shutdown_reason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShutdownReason {
    Poweroff,
    Reboot,
    Suspend,
    Crash,
    Watchdog,
    SoftReset,
    /// A code xl has no letter for.
    Unknown,
}

impl ShutdownReason {
    /// From Xen's `SHUTDOWN_*` code (0 poweroff ... 5 soft_reset).
    pub fn from_code(code: u32) -> Self {
        match code {
            0 => Self::Poweroff,
            1 => Self::Reboot,
            2 => Self::Suspend,
            3 => Self::Crash,
            4 => Self::Watchdog,
            5 => Self::SoftReset,
            _ => Self::Unknown,
        }
    }

    fn letter(self) -> char {
        match self {
            Self::Poweroff => '-',
            Self::Reboot => 'r',
            Self::Suspend => 's',
            Self::Crash => 'c',
            Self::Watchdog => 'w',
            Self::SoftReset => 'S',
            Self::Unknown => '?',
        }
    }
}

/// The flags behind the State column (Xen's `XEN_DOMINF_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DomainState {
    pub running: bool,
    pub blocked: bool,
    pub paused: bool,
    /// `Some` when the domain has shut down.
    pub shutdown: Option<ShutdownReason>,
    pub dying: bool,
}

impl DomainState {
    /// The six letters, e.g. `r-----` or `---sc-`.
    pub fn letters(&self) -> [char; 6] {
        let flag = |on: bool, c: char| if on { c } else { '-' };
        [
            flag(self.running, 'r'),
            flag(self.blocked, 'b'),
            flag(self.paused, 'p'),
            flag(self.shutdown.is_some(), 's'),
            self.shutdown.map_or('-', ShutdownReason::letter),
            flag(self.dying, 'd'),
        ]
    }
}

/// One domain's numbers, as `xl list` needs them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListEntry<'a> {
    pub name: &'a str,
    pub domid: u16,
    /// Current plus outstanding (claimed) memory in KiB.
    pub mem_kib: u64,
    pub vcpus_online: u32,
    pub state: DomainState,
    pub cpu_time_ns: u64,
}

/// Appends one row (with its newline) to `out`.
pub fn write_row(out: &mut String, e: &ListEntry<'_>) {
    out.push_str(e.name);
    // %-40s pads by bytes, not characters.
    for _ in e.name.len()..40 {
        out.push(' ');
    }
    let [r, b, p, s, why, d] = e.state.letters();
    // Mirrors xl's `(float)cpu_time / 1e9`; the precision loss is the point.
    #[allow(clippy::cast_precision_loss)]
    let seconds = f64::from(e.cpu_time_ns as f32) / 1e9;
    // Writing to a String cannot fail.
    let _ = writeln!(
        out,
        " {:5} {:5} {:5}     {r}{b}{p}{s}{why}{d}  {seconds:8.1}",
        e.domid,
        e.mem_kib / 1024,
        e.vcpus_online
    );
}

/// The whole table: header and rows, each line ending in a newline.
pub fn format_list(entries: &[ListEntry<'_>]) -> String {
    let mut out = String::from(LIST_HEADER);
    out.push('\n');
    for e in entries {
        write_row(&mut out, e);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(
        name: &str,
        domid: u16,
        mem_kib: u64,
        vcpus: u32,
        state: DomainState,
        ns: u64,
    ) -> ListEntry<'_> {
        ListEntry {
            name,
            domid,
            mem_kib,
            vcpus_online: vcpus,
            state,
            cpu_time_ns: ns,
        }
    }

    const RUNNING: DomainState = DomainState {
        running: true,
        blocked: false,
        paused: false,
        shutdown: None,
        dying: false,
    };

    #[test]
    fn header_and_rows_match_xl() {
        let text = format_list(&[
            entry("Domain-0", 0, 750 * 1024, 4, RUNNING, 11_794_300_000_000),
            entry("win", 1, 1019 * 1024 + 1023, 1, RUNNING, 300_000_000),
        ]);
        let want = "Name                                        ID   Mem VCPUs\tState\tTime(s)\n\
                    Domain-0                                     0   750     4     r-----   11794.3\n\
                    win                                          1  1019     1     r-----       0.3\n";
        assert_eq!(text, want);
    }

    #[test]
    fn state_letters() {
        let s = |f: fn(&mut DomainState)| {
            let mut st = DomainState::default();
            f(&mut st);
            st.letters().iter().collect::<String>()
        };
        assert_eq!(s(|_| {}), "------");
        assert_eq!(s(|st| st.running = true), "r-----");
        assert_eq!(s(|st| st.blocked = true), "-b----");
        assert_eq!(s(|st| st.paused = true), "--p---");
        assert_eq!(
            s(|st| st.shutdown = Some(ShutdownReason::Poweroff)),
            "---s--"
        );
        assert_eq!(s(|st| st.shutdown = Some(ShutdownReason::Reboot)), "---sr-");
        assert_eq!(s(|st| st.shutdown = Some(ShutdownReason::Crash)), "---sc-");
        assert_eq!(
            s(|st| st.shutdown = Some(ShutdownReason::SoftReset)),
            "---sS-"
        );
        assert_eq!(
            s(|st| st.shutdown = Some(ShutdownReason::Unknown)),
            "---s?-"
        );
        assert_eq!(s(|st| st.dying = true), "-----d");
        assert_eq!(
            s(|st| {
                st.paused = true;
                st.blocked = true;
            }),
            "-bp---"
        );
    }

    #[test]
    fn reason_codes() {
        let letters: String = (0..7)
            .map(|c| ShutdownReason::from_code(c).letter())
            .collect();
        assert_eq!(letters, "-rscwS?");
    }

    #[test]
    fn long_names_and_wide_numbers_are_not_cut() {
        let long = "a-domain-name-that-is-longer-than-forty-bytes";
        let mut out = String::new();
        write_row(
            &mut out,
            &entry(
                long,
                65535,
                123_456_789 * 1024,
                128,
                DomainState::default(),
                0,
            ),
        );
        assert_eq!(
            out,
            alloc::format!("{long} 65535 123456789   128     ------       0.0\n")
        );
    }

    #[test]
    fn padding_counts_bytes() {
        let mut out = String::new();
        // "é" is two bytes: 38 spaces follow, as printf's %-40s would give.
        write_row(&mut out, &entry("é", 1, 0, 1, DomainState::default(), 0));
        assert!(
            out.starts_with(&alloc::format!("é{}     1", " ".repeat(38))),
            "{out:?}"
        );
    }

    #[test]
    fn time_rounds_like_xl() {
        let t = |ns| {
            let mut out = String::new();
            write_row(&mut out, &entry("x", 1, 0, 1, DomainState::default(), ns));
            String::from(out.trim_end().rsplit(' ').next().unwrap_or(""))
        };
        assert_eq!(t(0), "0.0");
        // Expected values from Python: struct-packing to a C float, then "%8.1f".
        // 49999999 ns is 5e7 as a float, and 0.05 in double is just above 0.05.
        assert_eq!(t(49_999_999), "0.1");
        assert_eq!(t(50_000_001), "0.1");
        assert_eq!(t(1_000_000_000), "1.0");
        // A float keeps 24 bits: xl shows .5 where the exact time is .12.
        assert_eq!(t(20_000_000_123_456_789), "20000000.5");
    }
}
