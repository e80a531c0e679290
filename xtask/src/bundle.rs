//! The boot bundle: an uncompressed ustar archive that the bootloader loads as
//! the ramdisk. It carries the hypervisor command line and, later, the Dom0
//! kernel, DomU kernels and domain configs.

use std::path::Path;

use anyhow::{Context, Result, bail};

/// Files to pack, in order. Adding a file is one call.
#[derive(Default)]
pub struct Bundle {
    files: Vec<(String, Vec<u8>)>,
}

impl Bundle {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a file with the given name (a plain relative path) and contents.
    pub fn file(&mut self, name: &str, data: impl Into<Vec<u8>>) -> &mut Self {
        self.files.push((name.to_owned(), data.into()));
        self
    }

    /// The files, in order.
    pub fn files(&self) -> &[(String, Vec<u8>)] {
        &self.files
    }

    /// Adds a copy of a file from the host.
    pub fn file_from(&mut self, name: &str, path: &Path) -> Result<&mut Self> {
        let data = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        Ok(self.file(name, data))
    }

    /// The archive bytes: ustar headers, mode 0644, mtime 0 (reproducible).
    pub fn to_tar(&self) -> Result<Vec<u8>> {
        let mut builder = tar::Builder::new(Vec::new());
        for (name, data) in &self.files {
            if name.is_empty() || name.starts_with('/') || name.split('/').any(|c| c == "..") {
                bail!("bundle file name {name:?} must be a relative path");
            }
            let mut header = tar::Header::new_ustar();
            header.set_path(name).with_context(|| {
                format!("bundle file name {name:?} does not fit a ustar header")
            })?;
            header.set_size(data.len() as u64);
            header.set_mode(0o644);
            header.set_mtime(0);
            header.set_entry_type(tar::EntryType::Regular);
            header.set_cksum();
            builder.append(&header, data.as_slice())?;
        }
        Ok(builder.into_inner()?)
    }

    /// Writes the archive to `path`.
    pub fn write(&self, path: &Path) -> Result<()> {
        let tar = self.to_tar()?;
        std::fs::write(path, tar).with_context(|| format!("writing {}", path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn read_back(tar: &[u8]) -> Vec<(String, Vec<u8>)> {
        let mut archive = tar::Archive::new(tar);
        let mut out = Vec::new();
        for entry in archive.entries().unwrap() {
            let mut entry = entry.unwrap();
            assert!(entry.header().as_ustar().is_some(), "not a ustar header");
            let name = entry.path().unwrap().to_str().unwrap().to_owned();
            let mut data = Vec::new();
            entry.read_to_end(&mut data).unwrap();
            out.push((name, data));
        }
        out
    }

    #[test]
    fn round_trip() {
        let mut b = Bundle::new();
        b.file("hypervisor.cmdline", "loglvl=info exit-after-boot")
            .file("dom0", vec![0x7f, b'E', b'L', b'F', 0, 1, 2])
            .file("domu/demo.cfg", "");
        let tar = b.to_tar().unwrap();
        assert_eq!(tar.len() % 512, 0);
        let files = read_back(&tar);
        assert_eq!(
            files,
            vec![
                (
                    "hypervisor.cmdline".to_owned(),
                    b"loglvl=info exit-after-boot".to_vec()
                ),
                ("dom0".to_owned(), vec![0x7f, b'E', b'L', b'F', 0, 1, 2]),
                ("domu/demo.cfg".to_owned(), Vec::new()),
            ]
        );
    }

    #[test]
    fn reproducible() {
        let mut b = Bundle::new();
        b.file("hypervisor.cmdline", "x");
        assert_eq!(b.to_tar().unwrap(), b.to_tar().unwrap());
    }

    #[test]
    fn rejects_bad_names() {
        for name in ["", "/abs", "../up", &"x".repeat(300)] {
            let mut b = Bundle::new();
            b.file(name, "x");
            assert!(b.to_tar().is_err(), "{name:?} accepted");
        }
    }
}
