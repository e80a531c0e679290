//! TAP output: `TAP version 13`, one `ok N - ...` / `not ok N - ...` line per
//! check (with a `  # got X, Xen returns Y` diagnostic when it fails), the
//! plan `1..N` at the end (TAP allows it last) and the summary line.

use core::fmt;

use abi::errno::Errno;
use guest_rt::println;

/// What Xen returns for a call.
#[derive(Clone, Copy, Debug)]
pub enum Want {
    /// Exactly this value.
    Is(i64),
    /// `-errno`.
    Err(Errno),
    /// Success with a count or size: zero or more.
    NonNeg,
    /// A value above zero.
    Positive,
    /// Any of these (Xen's answer depends on a build option or on state the
    /// guest cannot see; each alternative is one Xen gives).
    AnyOf(&'static [Want]),
}

impl Want {
    pub fn matches(self, got: i64) -> bool {
        match self {
            Want::Is(v) => got == v,
            Want::Err(e) => got == -i64::from(e.raw()),
            Want::NonNeg => got >= 0,
            Want::Positive => got > 0,
            Want::AnyOf(alternatives) => alternatives.iter().any(|w| w.matches(got)),
        }
    }
}

impl fmt::Display for Want {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Want::Is(v) => write!(f, "{}", Ret(v)),
            Want::Err(e) => write!(f, "-{}", e.name()),
            Want::NonNeg => f.write_str("a value >= 0"),
            Want::Positive => f.write_str("a value > 0"),
            Want::AnyOf(alternatives) => {
                for (i, w) in alternatives.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" or ")?;
                    }
                    write!(f, "{w}")?;
                }
                Ok(())
            }
        }
    }
}

/// A hypercall's return value, shown as `-ENAME` when it is a negated Xen
/// errno, else in decimal (hex too when large).
#[derive(Clone, Copy)]
pub struct Ret(pub i64);

impl fmt::Display for Ret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = self.0;
        if v < 0
            && let Some(e) = Errno::from_raw(v.unsigned_abs())
        {
            return write!(f, "-{}", e.name());
        }
        if (-0x10000..=0x10000).contains(&v) {
            write!(f, "{v}")
        } else {
            write!(f, "{v} ({:#x})", v.cast_unsigned())
        }
    }
}

/// Longest `todo=` text kept.
const TODO_MAX: usize = 64;

/// A check's description, formatted to be matched against `todo=`.
struct Line {
    bytes: [u8; 256],
    len: usize,
}

impl fmt::Write for Line {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let n = s.len().min(self.bytes.len() - self.len);
        self.bytes[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        Ok(())
    }
}

/// The TAP writer and its counters.
pub struct Tap {
    n: u32,
    passed: u32,
    failed: u32,
    /// Failing checks the runner declared as known deviations (`todo=TEXT`:
    /// a failing check whose description contains TEXT is TAP `# TODO`).
    todo_failed: u32,
    todo: [u8; TODO_MAX],
    todo_len: usize,
    /// Print only the failing checks (with their diagnostics), the plan and
    /// the summary: not a complete TAP stream, but much less console output
    /// for slow emulators.
    quiet: bool,
}

impl Tap {
    /// Prints the TAP header.
    pub fn start(quiet: bool, todo: &str) -> Tap {
        println!("TAP version 13");
        let mut t = Tap {
            n: 0,
            passed: 0,
            failed: 0,
            todo_failed: 0,
            todo: [0; TODO_MAX],
            todo_len: todo.len().min(TODO_MAX),
            quiet,
        };
        t.todo[..t.todo_len].copy_from_slice(&todo.as_bytes()[..t.todo_len]);
        t
    }

    /// Whether a failing check `what` is a declared known deviation.
    fn is_todo(&self, what: fmt::Arguments<'_>) -> bool {
        if self.todo_len == 0 {
            return false;
        }
        let mut line = Line { bytes: [0; 256], len: 0 };
        let _ = fmt::Write::write_fmt(&mut line, what);
        let todo = &self.todo[..self.todo_len];
        line.bytes[..line.len].windows(todo.len()).any(|w| w == todo)
    }

    /// One check of a return value: `ok N - <what> returns <want>`.
    pub fn check(&mut self, what: fmt::Arguments<'_>, got: i64, want: Want) -> bool {
        let pass = want.matches(got);
        self.n += 1;
        let todo = !pass && self.is_todo(what);
        if !(pass && self.quiet) {
            println!(
                "{} {} - {what} returns {want}{}",
                if pass { "ok" } else { "not ok" },
                self.n,
                if todo { " # TODO known deviation" } else { "" }
            );
        }
        self.count(pass, todo, format_args!("{}", Ret(got)), format_args!("{want}"));
        pass
    }

    /// One check of anything else: `ok N - <what>`; when it fails, `got` and
    /// `want` go into the diagnostic.
    pub fn assert(
        &mut self,
        what: fmt::Arguments<'_>,
        pass: bool,
        got: fmt::Arguments<'_>,
        want: fmt::Arguments<'_>,
    ) -> bool {
        self.n += 1;
        let todo = !pass && self.is_todo(what);
        if !(pass && self.quiet) {
            let mark = if todo { " # TODO known deviation" } else { "" };
            println!("{} {} - {what}{mark}", if pass { "ok" } else { "not ok" }, self.n);
        }
        self.count(pass, todo, got, want);
        pass
    }

    fn count(&mut self, pass: bool, todo: bool, got: fmt::Arguments<'_>, want: fmt::Arguments<'_>) {
        if pass {
            self.passed += 1;
        } else {
            if todo {
                self.todo_failed += 1;
            } else {
                self.failed += 1;
            }
            println!("  # got {got}, Xen returns {want}");
        }
    }

    /// A TAP comment line (not printed when quiet).
    pub fn note(&self, text: fmt::Arguments<'_>) {
        if !self.quiet {
            println!("# {text}");
        }
    }

    /// Prints the plan and the summary line.
    pub fn finish(&self, label: &str) {
        println!("1..{}", self.n);
        println!(
            "# {label}: {} passed, {} failed, {} known deviations (TODO)",
            self.passed, self.failed, self.todo_failed
        );
    }
}
