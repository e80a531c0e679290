//! Bochs configuration: the bochsrc, the debugger rc file, and the padded disk.
//!
//! Debian's Bochs is a debugger build: it reads debugger commands from `-rc`
//! (`c` to run, `quit` once `xchg bx,bx` stops it). It needs the Cirrus VGA
//! BIOS for the bootloader's stage 2 to find a usable video mode (the default
//! VBE BIOS leads to 320x200x8, where stage 3 hangs), and that mode is 24 bpp.
//! The RFB display cannot show 24 bpp and turns every panic fatal, so Bochs
//! runs headless with the SDL2 display (package bochs-sdl) and SDL's dummy
//! video driver ([`ENV`]). The sound mixer thread aborts without an audio
//! device, hence `sound: waveoutdrv=dummy`.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

pub const HEADS: u64 = 16;
pub const SECTORS_PER_TRACK: u64 = 63;
/// Bytes per cylinder: a flat disk image must be a multiple of this.
pub const CYLINDER_BYTES: u64 = HEADS * SECTORS_PER_TRACK * 512;

/// Environment for the bochs process: SDL without a screen or sound card.
pub const ENV: &[(&str, &str)] = &[("SDL_VIDEODRIVER", "dummy"), ("SDL_AUDIODRIVER", "dummy")];

/// Debugger commands: run, and quit when a magic break stops the CPU.
pub const RC_FILE: &str = "c\nquit\n";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CpuModel {
    /// Intel, VMX with EPT, VPID and unrestricted guest.
    Haswell,
    /// AMD, SVM with NPT and NRIP-save.
    Ryzen,
}

impl CpuModel {
    pub fn name(self) -> &'static str {
        match self {
            CpuModel::Haswell => "corei7_haswell_4770",
            CpuModel::Ryzen => "ryzen",
        }
    }
}

pub struct BochsConfig {
    pub model: CpuModel,
    pub cpus: u32,
    pub mem_mib: u32,
    pub media: Media,
    pub com1: PathBuf,
    pub log: PathBuf,
    pub bios: PathBuf,
    pub vga_bios: PathBuf,
}

/// What Bochs boots from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Media {
    /// A flat image padded with [`pad_disk`], of `bytes`.
    Disk { path: PathBuf, bytes: u64 },
    /// An ISO on the first ATA channel's master, as a CD-ROM.
    Cdrom(PathBuf),
}

/// Cylinders for a disk of `bytes` (rounded up to whole cylinders).
pub fn cylinders(bytes: u64) -> u64 {
    bytes.div_ceil(CYLINDER_BYTES).max(1)
}

impl BochsConfig {
    pub fn bochsrc(&self) -> String {
        let (drive, boot) = match &self.media {
            Media::Disk { path, bytes } => (
                format!(
                    "ata0-master: type=disk, path={}, mode=flat, cylinders={}, heads={HEADS}, spt={SECTORS_PER_TRACK}",
                    path.display(),
                    cylinders(*bytes)
                ),
                "boot: disk",
            ),
            Media::Cdrom(iso) => (format!("ata0-master: type=cdrom, path={}, status=inserted", iso.display()), "boot: cdrom"),
        };
        let lines = [
            format!("megs: {}", self.mem_mib),
            format!(
                "cpu: model={}, count={}, ips=50000000",
                self.model.name(),
                self.cpus
            ),
            "clock: sync=none, time0=local".into(),
            format!("romimage: file={}", self.bios.display()),
            format!("vgaromimage: file={}", self.vga_bios.display()),
            "vga: extension=cirrus".into(),
            "pci: enabled=1, chipset=i440fx, slot1=cirrus".into(),
            "display_library: sdl2".into(),
            "sound: waveoutdrv=dummy".into(),
            "ata0: enabled=1, ioaddr1=0x1f0, ioaddr2=0x3f0, irq=14".into(),
            drive,
            boot.into(),
            format!("com1: enabled=1, mode=file, dev={}", self.com1.display()),
            "magic_break: enabled=1".into(),
            format!("log: {}", self.log.display()),
            "panic: action=report".into(),
            "error: action=report".into(),
            "info: action=ignore".into(),
            "debug: action=ignore".into(),
        ];
        lines.join("\n") + "\n"
    }
}

/// Copies `src` to `dst`, zero-padded to whole cylinders. Returns the new size.
pub fn pad_disk(src: &Path, dst: &Path) -> Result<u64> {
    let mut input = File::open(src).with_context(|| format!("opening {}", src.display()))?;
    let len = input.metadata()?.len();
    if len == 0 {
        bail!("{} is empty", src.display());
    }
    let padded = cylinders(len) * CYLINDER_BYTES;
    // Bochs locks its disk with `<image>.lock`; one left by a Bochs that was
    // killed makes the next run in this directory crash.
    let mut lock = dst.as_os_str().to_owned();
    lock.push(".lock");
    let _ = std::fs::remove_file(lock);
    let mut output = File::create(dst).with_context(|| format!("creating {}", dst.display()))?;
    io::copy(&mut input, &mut output)?;
    output.set_len(padded)?;
    Ok(padded)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(disk_bytes: u64) -> BochsConfig {
        BochsConfig {
            model: CpuModel::Haswell,
            cpus: 2,
            mem_mib: 256,
            media: Media::Disk { path: "/s/disk.img".into(), bytes: disk_bytes },
            com1: "/s/com1.log".into(),
            log: "/s/bochs.log".into(),
            bios: "/usr/share/bochs/BIOS-bochs-latest".into(),
            vga_bios: "/usr/share/vgabios/vgabios-cirrus.bin".into(),
        }
    }

    #[test]
    fn geometry() {
        assert_eq!(CYLINDER_BYTES, 516_096);
        assert_eq!(cylinders(1), 1);
        assert_eq!(cylinders(516_096), 1);
        assert_eq!(cylinders(516_097), 2);
        assert_eq!(cylinders(10 * 516_096), 10);
    }

    #[test]
    fn rc_has_geometry_and_devices() {
        let rc = config(3 * CYLINDER_BYTES).bochsrc();
        assert!(rc.contains(
            "ata0-master: type=disk, path=/s/disk.img, mode=flat, cylinders=3, heads=16, spt=63\n"
        ));
        assert!(rc.contains("cpu: model=corei7_haswell_4770, count=2,"));
        assert!(rc.contains("megs: 256\n"));
        assert!(rc.contains("com1: enabled=1, mode=file, dev=/s/com1.log\n"));
        assert!(rc.contains("vgaromimage: file=/usr/share/vgabios/vgabios-cirrus.bin\n"));
        assert!(rc.contains("slot1=cirrus"));
        assert!(rc.contains("magic_break: enabled=1\n"));
        assert!(rc.contains("display_library: sdl2\n"));
        assert!(rc.contains("sound: waveoutdrv=dummy\n"));
        let mut ryzen = config(CYLINDER_BYTES);
        ryzen.model = CpuModel::Ryzen;
        assert!(ryzen.bochsrc().contains("cpu: model=ryzen, count=2,"));
    }

    #[test]
    fn padding() {
        let dir = std::env::temp_dir().join(format!("xtask-pad-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (src, dst) = (dir.join("in.img"), dir.join("out.img"));
        std::fs::write(&src, vec![0xaa; 1_000_000]).unwrap();
        assert_eq!(pad_disk(&src, &dst).unwrap(), 2 * CYLINDER_BYTES);
        let out = std::fs::read(&dst).unwrap();
        assert_eq!(out.len() as u64, 2 * CYLINDER_BYTES);
        assert!(out[..1_000_000].iter().all(|&b| b == 0xaa));
        assert!(out[1_000_000..].iter().all(|&b| b == 0));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
