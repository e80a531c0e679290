//! The boot bundle: the bootloader's ramdisk, a ustar archive holding the
//! hypervisor command line, Dom0's kernel and the DomU kernels and configs.

#![forbid(unsafe_code)]

use tar_no_std::TarArchiveRef;

#[derive(Debug, PartialEq, Eq)]
pub enum BundleError {
    /// the boot bundle is not a valid tar archive (rebuild the image with `cargo xtask build`)
    NotTar,
}

/// A validated view of the bundle.
pub struct Bundle<'a> {
    archive: TarArchiveRef<'a>,
}

impl<'a> Bundle<'a> {
    pub fn parse(bytes: &'a [u8]) -> Result<Self, BundleError> {
        TarArchiveRef::new(bytes).map(|archive| Bundle { archive }).map_err(|_| BundleError::NotTar)
    }

    /// The contents of the file called `name`, if the bundle has one.
    pub fn file(&self, name: &str) -> Option<&'a [u8]> {
        self.archive.entries().find(|e| e.filename().as_str() == Ok(name)).map(|e| e.data())
    }

    /// Every file: (name, contents). Names that are not UTF-8 are skipped.
    pub fn entries(&self) -> impl Iterator<Item = (alloc::string::String, &'a [u8])> + 'a {
        self.archive
            .entries()
            .filter_map(|e| Some((alloc::string::String::from(e.filename().as_str().ok()?), e.data())))
    }

    /// Names and sizes of all files, for the boot log.
    pub fn files(&self) -> impl Iterator<Item = (alloc::string::String, usize)> + 'a {
        self.archive
            .entries()
            .map(|e| (alloc::string::String::from(e.filename().as_str().unwrap_or("?")), e.size()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (name, data) in files {
            let mut h = tar::Header::new_ustar();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_cksum();
            b.append_data(&mut h, name, *data).unwrap();
        }
        b.into_inner().unwrap()
    }

    #[test]
    fn files_are_found_by_name() {
        let bytes = tar(&[("hypervisor.cmdline", b"loglvl=debug"), ("dom0", &[0x7f, b'E', b'L', b'F'])]);
        let bundle = Bundle::parse(&bytes).unwrap();
        assert_eq!(bundle.file("hypervisor.cmdline"), Some(&b"loglvl=debug"[..]));
        assert_eq!(bundle.file("dom0").map(<[u8]>::len), Some(4));
        assert_eq!(bundle.file("missing"), None);
        assert_eq!(bundle.files().count(), 2);
    }

    #[test]
    fn garbage_is_rejected() {
        assert_eq!(Bundle::parse(&[0x55; 1024]).err(), Some(BundleError::NotTar));
        assert_eq!(Bundle::parse(&[]).err(), Some(BundleError::NotTar));
    }

    #[test]
    fn a_truncated_archive_is_rejected() {
        let bytes = tar(&[("a", &[1; 2000])]);
        assert_eq!(Bundle::parse(&bytes[..1024]).err(), Some(BundleError::NotTar));
    }
}
