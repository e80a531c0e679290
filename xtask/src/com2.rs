//! A scenario's typist on COM2 (Dom0's shell): connects to the socket QEMU
//! listens on, keeps everything COM2 prints (also in `com2.log`), types the
//! script's input once COM1 showed its trigger line.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{JoinHandle, sleep};
use std::time::{Duration, Instant};

use crate::scenarios::Com2Script;

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
        let input = script.input.as_bytes().to_vec();
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

fn type_and_read(socket: &Path, log: &Path, input: &[u8], go: &AtomicBool, stop: &AtomicBool, output: &Mutex<Vec<u8>>) {
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
    let mut typed = false;
    let mut buf = [0u8; 4096];
    while !stop.load(Ordering::SeqCst) {
        if !typed && go.load(Ordering::SeqCst) {
            // One byte at a time, as a person types: the UART has a
            // 16-byte FIFO and the shell polls it.
            for &b in input {
                if stream.write_all(&[b]).is_err() {
                    return;
                }
                sleep(Duration::from_millis(2));
            }
            typed = true;
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
    fn expectations_are_ordered_substrings() {
        assert_eq!(missing("a b c", &["a", "c"]), None);
        assert_eq!(missing("a b c", &["c", "a"]), Some("a"));
        assert_eq!(missing("", &["x"]), Some("x"));
    }
}
