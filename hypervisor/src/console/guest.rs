//! Guest console output (`CONSOLEIO_write`): bytes become `(dN)` lines,
//! queued while the hypercall holds the domain table and printed after it
//! lets go, so a slow UART never stalls the other CPUs behind that lock.
//!
//! A DomU's lines are rate-limited per domain, as Xen limits guest output
//! with `printk_ratelimit` (its `guest_loglvl` messages): a token bucket of
//! [`BURST`] bytes refilled at [`RATE`] bytes a second; a line the bucket
//! cannot pay for is dropped, and one log line says how many were when
//! output resumes (at most one such line per [`SUMMARY_EVERY_NS`], as Xen's
//! 5 s interval; the rest when the vCPU stops). Dom0, the hardware domain, is not
//! limited (Xen writes its output straight to the console). A DomU's
//! control characters are dropped, as Xen keeps only printable ones: no
//! escape sequence of a guest reaches the terminal.

use alloc::vec::Vec;
use spin::Mutex;

/// Longest console line kept before it is printed unfinished.
pub const LINE_MAX: usize = 256;
/// Bytes of finished lines one exit may queue; a write finding it full
/// continues in the next exit.
pub const QUEUE_MAX: usize = 4096;

/// One vCPU's console output: the line being written and the finished
/// lines waiting to be printed. Allocated once; it never grows.
pub struct Output {
    line: Vec<u8>,
    /// Finished lines, each ending in `\n`.
    queue: Vec<u8>,
}

impl Output {
    pub fn new() -> Output {
        Output { line: Vec::with_capacity(LINE_MAX), queue: Vec::with_capacity(QUEUE_MAX) }
    }

    /// Takes `bytes` into lines (`\n` ends one, `\r` is dropped, a line of
    /// [`LINE_MAX`] bytes ends unfinished) while the queue has room for a
    /// whole line more; returns how many bytes it took.
    pub fn take(&mut self, bytes: &[u8]) -> usize {
        let mut taken = 0;
        for &b in bytes {
            if self.queue.len() + LINE_MAX + 1 > QUEUE_MAX {
                break;
            }
            taken += 1;
            if b == b'\n' || self.line.len() >= LINE_MAX {
                self.end_line();
                if b == b'\n' {
                    continue;
                }
            }
            if b != b'\r' {
                self.line.push(b);
            }
        }
        taken
    }

    /// Queues the unfinished line, if any (the vCPU stops).
    pub fn end_partial(&mut self) {
        if !self.line.is_empty() {
            self.end_line();
        }
    }

    fn end_line(&mut self) {
        self.queue.extend_from_slice(&self.line);
        self.queue.push(b'\n');
        self.line.clear();
    }

    /// Finished lines wait to be printed.
    pub fn has_lines(&self) -> bool {
        !self.queue.is_empty()
    }

    /// Hands each finished line (without its `\n`) to `print`, oldest
    /// first, and forgets them.
    pub fn drain(&mut self, mut print: impl FnMut(&[u8])) {
        for line in self.queue.split_inclusive(|&b| b == b'\n') {
            print(&line[..line.len() - 1]);
        }
        self.queue.clear();
    }
}

impl Default for Output {
    fn default() -> Self {
        Output::new()
    }
}

/// Bytes a DomU may print at once (its bucket when full).
pub const BURST: u64 = 32 * 1024;
/// Bytes a second a DomU's bucket refills with: about a third of a 115200
/// baud UART.
pub const RATE: u64 = 4 * 1024;
const NS_PER_BYTE: u64 = 1_000_000_000 / RATE;
/// What a line costs besides its text: the `(dN) ` prefix and line end.
const LINE_OVERHEAD: u64 = 10;
/// What the summary line printed before a line after dropped ones costs.
const SUMMARY_COST: u64 = 100;
/// Shortest time between two summary lines of a domain (Xen's
/// `printk_ratelimit_ms`, 5 s): a guest that keeps writing gets one line
/// about it now and then, not one per line let through.
pub const SUMMARY_EVERY_NS: u64 = 5_000_000_000;

/// Whether a line is printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Print,
    /// Print it after a line saying this many lines (of this many bytes)
    /// were dropped before it.
    PrintAfterDropped { lines: u64, bytes: u64 },
    Drop,
}

/// One domain's token bucket, its credit kept in nanoseconds of refill
/// (as Xen's `printk_ratelimit` keeps milliseconds).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bucket {
    credit_ns: u64,
    last_ns: u64,
    dropped_lines: u64,
    dropped_bytes: u64,
    /// When the last summary line was printed.
    summary_ns: Option<u64>,
}

impl Bucket {
    const FULL_NS: u64 = BURST * NS_PER_BYTE;

    /// A full bucket at system time `now_ns`.
    pub fn new(now_ns: u64) -> Bucket {
        Bucket { credit_ns: Self::FULL_NS, last_ns: now_ns, dropped_lines: 0, dropped_bytes: 0, summary_ns: None }
    }

    /// Whether a line of `len` bytes may be printed at `now_ns`; pays for it if so.
    pub fn admit(&mut self, now_ns: u64, len: usize) -> Verdict {
        let elapsed = now_ns.saturating_sub(self.last_ns);
        self.credit_ns = self.credit_ns.saturating_add(elapsed).min(Self::FULL_NS);
        self.last_ns = self.last_ns.max(now_ns);
        let bytes = len as u64 + LINE_OVERHEAD;
        let summary_due = self.dropped_lines > 0 && self.summary_ns.is_none_or(|at| now_ns.saturating_sub(at) >= SUMMARY_EVERY_NS);
        let cost = (bytes + if summary_due { SUMMARY_COST } else { 0 }).saturating_mul(NS_PER_BYTE);
        if self.credit_ns < cost {
            self.dropped_lines += 1;
            self.dropped_bytes += len as u64;
            return Verdict::Drop;
        }
        self.credit_ns -= cost;
        if !summary_due {
            return Verdict::Print;
        }
        self.summary_ns = Some(now_ns);
        match self.take_dropped() {
            Some((lines, bytes)) => Verdict::PrintAfterDropped { lines, bytes },
            None => Verdict::Print,
        }
    }

    /// Lines and bytes dropped since the last summary, if any; forgets them.
    pub fn take_dropped(&mut self) -> Option<(u64, u64)> {
        let dropped = (self.dropped_lines, self.dropped_bytes);
        (self.dropped_lines, self.dropped_bytes) = (0, 0);
        (dropped.0 > 0).then_some(dropped)
    }
}

/// Buckets for this many domains at once: twice the domain table, so
/// every live domain keeps its own; the slot of the domain idle longest
/// (dead, or refilled long ago) is reused for a new one.
const SLOTS: usize = 2 * crate::domain::table::MAX_DOMAINS;

/// Every DomU's bucket, by domid.
pub struct Limits {
    slots: [Option<(u16, Bucket)>; SLOTS],
}

impl Limits {
    pub const fn new() -> Limits {
        Limits { slots: [None; SLOTS] }
    }

    /// Domain `domid`'s bucket, made full if it has none.
    pub fn bucket(&mut self, domid: u16, now_ns: u64) -> &mut Bucket {
        let at = match self.slots.iter().position(|s| s.is_some_and(|(id, _)| id == domid)) {
            Some(at) => at,
            None => {
                let at = self.slots.iter().position(Option::is_none).unwrap_or_else(|| {
                    let idle = |s: &Option<(u16, Bucket)>| s.map_or(0, |(_, b)| b.last_ns);
                    (0..SLOTS).min_by_key(|&i| idle(&self.slots[i])).unwrap_or(0)
                });
                // Reused: the idle domain's bucket goes.
                self.slots[at] = None;
                at
            }
        };
        &mut self.slots[at].get_or_insert_with(|| (domid, Bucket::new(now_ns))).1
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits::new()
    }
}

pub static LIMITS: Mutex<Limits> = Mutex::new(Limits::new());

/// Prints `output`'s finished lines for vCPU `vcpu` of domain `domid`,
/// rate-limited unless `unlimited` (Dom0). Takes no lock but the console's
/// and, for a moment per line, [`LIMITS`].
pub fn print(output: &mut Output, domid: u16, vcpu: u32, unlimited: bool, now_ns: u64) {
    output.drain(|line| {
        let verdict = if unlimited { Verdict::Print } else { LIMITS.lock().bucket(domid, now_ns).admit(now_ns, line.len()) };
        match verdict {
            Verdict::Drop => return,
            Verdict::PrintAfterDropped { lines, bytes } => summarise(domid, vcpu, lines, bytes),
            Verdict::Print => {}
        }
        let text = alloc::string::String::from_utf8_lossy(line);
        let text = text.trim_end();
        if unlimited {
            super::write_line(format_args!("(d{domid}) {text}"));
        } else {
            super::write_line(format_args!("(d{domid}) {}", Printable(text)));
        }
    });
}

/// A DomU's text without control characters (tab excepted), as Xen's
/// `guest_console_write` keeps only printable ones.
struct Printable<'a>(&'a str);

impl core::fmt::Display for Printable<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        use core::fmt::Write;
        for c in self.0.chars().filter(|&c| c == '\t' || !c.is_control()) {
            f.write_char(c)?;
        }
        Ok(())
    }
}

/// Says what the limiter dropped and not yet said (the vCPU stops).
pub fn report_dropped(domid: u16, vcpu: u32, now_ns: u64) {
    let dropped = LIMITS.lock().bucket(domid, now_ns).take_dropped();
    if let Some((lines, bytes)) = dropped {
        summarise(domid, vcpu, lines, bytes);
    }
}

fn summarise(domid: u16, vcpu: u32, lines: u64, bytes: u64) {
    crate::log::write_guest(
        crate::log::Level::Warn,
        domid,
        vcpu,
        "console",
        format_args!("{lines} lines ({bytes} bytes) of output dropped: over {RATE} bytes/s after a {BURST}-byte burst"),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(o: &mut Output) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        o.drain(|l| out.push(l.to_vec()));
        out
    }

    #[test]
    fn bytes_become_lines_without_carriage_returns() {
        let mut o = Output::new();
        assert_eq!(o.take(b"hello\r\nwor"), 10);
        assert_eq!(o.take(b"ld\n\n"), 4);
        assert_eq!(lines(&mut o), [b"hello".to_vec(), b"world".to_vec(), Vec::new()]);
        assert!(!o.has_lines());
        o.take(b"partial");
        assert!(!o.has_lines(), "an unfinished line waits");
        o.end_partial();
        assert_eq!(lines(&mut o), [b"partial".to_vec()]);
    }

    #[test]
    fn a_domus_control_characters_are_dropped() {
        let text = alloc::string::String::from_utf8_lossy(b"red \x1b[31mtext\x07\tok \xc2\x9b2J caf\xc3\xa9");
        assert_eq!(alloc::format!("{}", Printable(&text)), "red [31mtext\tok 2J caf\u{e9}");
    }

    #[test]
    fn a_line_longer_than_line_max_is_cut() {
        let mut o = Output::new();
        o.take(&[b'a'; LINE_MAX + 5]);
        o.end_partial();
        assert_eq!(lines(&mut o).iter().map(Vec::len).collect::<Vec<_>>(), [LINE_MAX, 5]);
    }

    #[test]
    fn a_full_queue_takes_nothing_more_and_never_grows() {
        let mut o = Output::new();
        let (line_cap, queue_cap) = (o.line.capacity(), o.queue.capacity());
        let mut taken = 0;
        while taken < 100_000 {
            let n = o.take(b"0123456789abcdef\n");
            if n == 0 {
                break;
            }
            taken += n;
        }
        assert!(taken < QUEUE_MAX && taken > QUEUE_MAX - LINE_MAX - 32, "took {taken}");
        assert_eq!(o.take(b"x"), 0);
        assert_eq!((o.line.capacity(), o.queue.capacity()), (line_cap, queue_cap), "no reallocation");
        let n = lines(&mut o).len();
        assert_eq!(n * 17, taken);
        assert_eq!(o.take(b"x"), 1, "room again once printed");
    }

    #[test]
    fn a_bucket_lets_a_burst_through_then_its_rate() {
        let mut b = Bucket::new(0);
        let line = 90; // 100 bytes with the overhead
        let burst_lines = BURST / 100;
        for i in 0..burst_lines {
            assert_eq!(b.admit(0, line), Verdict::Print, "line {i} of the burst");
        }
        assert_eq!(b.admit(0, line), Verdict::Drop);
        assert_eq!(b.admit(0, line), Verdict::Drop);
        // One second refills RATE bytes: the next line pays for the summary too.
        let second = 1_000_000_000;
        assert_eq!(b.admit(second, line), Verdict::PrintAfterDropped { lines: 2, bytes: 180 });
        let mut printed = 0;
        while b.admit(second, line) == Verdict::Print {
            printed += 1;
        }
        // What was left of the burst (68 bytes) and a second's RATE, less the two lines above.
        assert_eq!(printed, (68 + RATE - 200) / 100);
    }

    #[test]
    fn a_domain_that_keeps_writing_gets_a_summary_every_5_s_with_every_drop_counted() {
        let mut b = Bucket::new(0);
        while b.admit(0, 90) != Verdict::Drop {}
        let (mut dropped, mut summaries, mut printed) = (1, 0, 0);
        let step = 10_000_000; // a line every 10 ms for 20 s
        for t in 1..=2000u64 {
            match b.admit(t * step, 90) {
                Verdict::Drop => dropped += 1,
                Verdict::Print => printed += 1,
                Verdict::PrintAfterDropped { lines, .. } => {
                    summaries += 1;
                    printed += 1;
                    dropped -= lines;
                }
            }
        }
        assert_eq!(summaries, 4, "at 0.01 s, then every 5 s");
        assert!(printed > 700 && printed < 850, "about RATE bytes a second got through: {printed}");
        assert_eq!(b.take_dropped().map(|(lines, _)| lines), Some(dropped), "the rest is told when the vCPU stops");
    }

    #[test]
    fn a_bucket_never_holds_more_than_its_burst() {
        let mut b = Bucket::new(0);
        let hour = 3_600_000_000_000;
        let mut printed = 0;
        while b.admit(hour, 1014) != Verdict::Drop {
            printed += 1;
        }
        assert_eq!(printed, BURST / 1024);
        assert_eq!(b.take_dropped(), Some((1, 1014)));
        assert_eq!(b.take_dropped(), None);
    }

    #[test]
    fn a_clock_going_back_refills_nothing() {
        let mut b = Bucket::new(1_000_000_000);
        while b.admit(1_000_000_000, 100) != Verdict::Drop {}
        assert_eq!(b.admit(5, 100), Verdict::Drop);
    }

    #[test]
    fn each_domain_has_its_own_bucket_and_new_domains_take_the_idlest_slot() {
        let mut l = Limits::new();
        while l.bucket(1, 0).admit(0, 1000) != Verdict::Drop {}
        assert_eq!(l.bucket(2, 0).admit(0, 1000), Verdict::Print, "domain 2 is not domain 1's victim");
        assert_eq!(l.bucket(1, 0).admit(0, 1000), Verdict::Drop);
        for id in 3..(SLOTS as u16 + 3) {
            l.bucket(id, u64::from(id) * 1000);
        }
        // Domains 1 and 2 were idle longest: their slots went to 129 and 130.
        assert!(l.slots.iter().all(|s| s.is_some_and(|(id, _)| id > 2)));
        assert_eq!(l.bucket(1, 1 << 40).admit(1 << 40, 1000), Verdict::Print, "a fresh bucket");
    }
}
