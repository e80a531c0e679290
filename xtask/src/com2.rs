//! A scenario's typist on COM2 (Dom0's shell): connects to the socket QEMU
//! listens on, keeps everything COM2 prints (also in `com2.log`), types the
//! script's input once COM1 showed its trigger line. `{wait:TEXT}` in the
//! input pauses typing until COM2 printed TEXT since the keystrokes before
//! it began (at most [`WAIT_LIMIT`]; then typing stops and the
//! expectations fail).

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{JoinHandle, sleep};
use std::time::{Duration, Instant};

use crate::scenarios::Com2Script;

/// Longest a `{wait:TEXT}` waits.
const WAIT_LIMIT: Duration = Duration::from_secs(150);

/// A piece of a script: keystrokes, or text to wait for.
#[derive(Debug, PartialEq, Eq)]
enum Step {
    Type(Vec<u8>),
    WaitFor(String),
}

/// Splits `input` at its `{wait:TEXT}` marks.
fn steps(input: &str) -> Vec<Step> {
    const OPEN: &str = "{wait:";
    let mut out = Vec::new();
    let mut rest = input;
    while let Some(at) = rest.find(OPEN) {
        let after = &rest[at + OPEN.len()..];
        let Some(end) = after.find('}') else { break };
        if at > 0 {
            out.push(Step::Type(rest.as_bytes()[..at].to_vec()));
        }
        out.push(Step::WaitFor(after[..end].to_string()));
        rest = &after[end + 1..];
    }
    if !rest.is_empty() {
        out.push(Step::Type(rest.as_bytes().to_vec()));
    }
    out
}

pub struct Typist {
    go: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    output: Arc<Mutex<Vec<u8>>>,
    thread: Option<JoinHandle<()>>,
}

impl Typist {
    /// Starts the thread for `script` on `socket`; COM2's bytes also go to `log`.
    pub fn start(script: &Com2Script, socket: PathBuf, log: PathBuf) -> Typist {
        let go = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        let output = Arc::new(Mutex::new(Vec::new()));
        let (g, s, o) = (go.clone(), stop.clone(), output.clone());
        let input = steps(script.input);
        let thread = std::thread::spawn(move || type_and_read(&socket, &log, &input, &g, &s, &o));
        Typist { go, stop, output, thread: Some(thread) }
    }

    /// COM1 showed the trigger: type.
    pub fn go(&self) {
        self.go.store(true, Ordering::SeqCst);
    }

    /// Stops the thread; what COM2 printed.
    pub fn finish(mut self) -> String {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        String::from_utf8_lossy(&self.output.lock().unwrap_or_else(|e| e.into_inner())).into_owned()
    }
}

fn type_and_read(socket: &Path, log: &Path, input: &[Step], go: &AtomicBool, stop: &AtomicBool, output: &Mutex<Vec<u8>>) {
    let start = Instant::now();
    let mut stream = loop {
        if let Ok(s) = UnixStream::connect(socket) {
            break s;
        }
        if stop.load(Ordering::SeqCst) || start.elapsed() > Duration::from_secs(30) {
            return;
        }
        sleep(Duration::from_millis(20));
    };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(50)));
    let mut steps = input.iter();
    let mut step = steps.next();
    // Where COM2's output stood when the last keystrokes began to be
    // typed (a wait looks after it), and when the current wait began.
    let mut mark = 0usize;
    let mut waiting_since: Option<Instant> = None;
    let mut buf = [0u8; 4096];
    while !stop.load(Ordering::SeqCst) {
        if go.load(Ordering::SeqCst) {
            match step {
                Some(Step::Type(bytes)) => {
                    mark = output.lock().unwrap_or_else(|e| e.into_inner()).len();
                    // One byte at a time, as a person types: the UART has a
                    // 16-byte FIFO and the shell polls it.
                    for &b in bytes {
                        if stream.write_all(&[b]).is_err() {
                            return;
                        }
                        sleep(Duration::from_millis(2));
                    }
                    step = steps.next();
                }
                Some(Step::WaitFor(text)) => {
                    let since = *waiting_since.get_or_insert_with(Instant::now);
                    let out = output.lock().unwrap_or_else(|e| e.into_inner());
                    let seen = String::from_utf8_lossy(&out[mark.min(out.len())..]).contains(text.as_str());
                    drop(out);
                    if seen {
                        waiting_since = None;
                        step = steps.next();
                    } else if since.elapsed() > WAIT_LIMIT {
                        step = None;
                    }
                }
                None => {}
            }
        }
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                let mut out = output.lock().unwrap_or_else(|e| e.into_inner());
                out.extend_from_slice(&buf[..n]);
                let _ = std::fs::write(log, &*out);
            }
            Err(_) => {}
        }
    }
}

/// The first of `expect` not found in `output` in order, if any.
pub fn missing<'a>(output: &str, expect: &[&'a str]) -> Option<&'a str> {
    let mut rest = output;
    for &want in expect {
        match rest.find(want) {
            Some(at) => rest = &rest[at + want.len()..],
            None => return Some(want),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_split_at_their_waits() {
        assert_eq!(steps("a\r"), vec![Step::Type(b"a\r".to_vec())]);
        assert_eq!(
            steps("c d\r{wait:tick 2}\x1dlist\r"),
            vec![Step::Type(b"c d\r".to_vec()), Step::WaitFor("tick 2".into()), Step::Type(b"\x1dlist\r".to_vec())]
        );
        assert_eq!(steps("{wait:x}"), vec![Step::WaitFor("x".into())]);
        // An unclosed mark is typed as it is.
        assert_eq!(steps("a{wait:x"), vec![Step::Type(b"a{wait:x".to_vec())]);
    }

    #[test]
    fn expectations_are_ordered_substrings() {
        assert_eq!(missing("a b c", &["a", "c"]), None);
        assert_eq!(missing("a b c", &["c", "a"]), Some("a"));
        assert_eq!(missing("", &["x"]), Some("x"));
    }
}
