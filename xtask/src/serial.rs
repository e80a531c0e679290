//! Following a serial log file that an emulator appends to.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

pub struct SerialLog {
    path: PathBuf,
    offset: u64,
    partial: Vec<u8>,
}

impl SerialLog {
    /// Starts following `path` from its beginning; the file is created empty
    /// (the emulator truncates or appends to it).
    pub fn create(path: &Path) -> std::io::Result<Self> {
        File::create(path)?;
        Ok(Self {
            path: path.to_owned(),
            offset: 0,
            partial: Vec::new(),
        })
    }

    /// New bytes since the last call.
    pub fn read_new(&mut self) -> Vec<u8> {
        let mut buf = Vec::new();
        if let Ok(mut f) = File::open(&self.path) {
            let len = f.metadata().map(|m| m.len()).unwrap_or(0);
            if len < self.offset {
                self.offset = 0; // truncated by the emulator when it opened it
            }
            if f.seek(SeekFrom::Start(self.offset)).is_ok() && f.read_to_end(&mut buf).is_ok() {
                self.offset += buf.len() as u64;
            }
        }
        buf
    }

    /// Splits `bytes` into complete lines, keeping an unfinished last line
    /// for the next call.
    pub fn lines(&mut self, bytes: &[u8]) -> Vec<String> {
        self.partial.extend_from_slice(bytes);
        let mut lines = Vec::new();
        while let Some(nl) = self.partial.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.partial.drain(..=nl).collect();
            lines.push(
                String::from_utf8_lossy(&line[..nl])
                    .trim_end_matches('\r')
                    .to_owned(),
            );
        }
        lines
    }

    /// The unfinished last line, if any (at the end of a run).
    pub fn take_partial(&mut self) -> Option<String> {
        if self.partial.is_empty() {
            return None;
        }
        let line = String::from_utf8_lossy(&self.partial)
            .trim_end_matches('\r')
            .to_owned();
        self.partial.clear();
        Some(line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_and_splits() {
        let path = std::env::temp_dir().join(format!("xtask-serial-{}.log", std::process::id()));
        let mut log = SerialLog::create(&path).unwrap();
        assert!(log.read_new().is_empty());
        std::fs::write(&path, b"one\r\ntw").unwrap();
        let bytes = log.read_new();
        assert_eq!(log.lines(&bytes), vec!["one"]);
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        std::io::Write::write_all(&mut f, b"o\nthree").unwrap();
        let bytes = log.read_new();
        assert_eq!(bytes, b"o\nthree");
        assert_eq!(log.lines(&bytes), vec!["two"]);
        assert_eq!(log.take_partial().as_deref(), Some("three"));
        assert_eq!(log.take_partial(), None);
        std::fs::remove_file(&path).unwrap();
    }
}
