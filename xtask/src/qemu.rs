//! QEMU command lines.

use std::path::{Path, PathBuf};

/// How QEMU runs the CPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accel {
    /// Nested KVM: the host's CPU with its VMX or SVM.
    Kvm,
    /// TCG emulation of an AMD CPU with SVM and NPT.
    Tcg,
}

impl Accel {
    /// KVM when `/dev/kvm` exists and the KVM module offers nested
    /// virtualization, TCG otherwise. Returns the choice and why.
    pub fn detect() -> (Accel, String) {
        if !Path::new("/dev/kvm").exists() {
            return (
                Accel::Tcg,
                "TCG (-cpu qemu64,+svm,+npt,+smap,+smep): no /dev/kvm".into(),
            );
        }
        for module in ["kvm_intel", "kvm_amd"] {
            let param = format!("/sys/module/{module}/parameters/nested");
            if let Ok(v) = std::fs::read_to_string(&param)
                && matches!(v.trim(), "Y" | "y" | "1")
            {
                return (
                    Accel::Kvm,
                    format!("KVM (-cpu host): /dev/kvm with {module} nested=Y"),
                );
            }
        }
        (
            Accel::Tcg,
            "TCG (-cpu qemu64,+svm,+npt,+smap,+smep): /dev/kvm offers no nested virtualization".into(),
        )
    }
}

/// Where a serial port goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Serial {
    /// The terminal, multiplexed with the QEMU monitor (Ctrl-A X quits).
    MonStdio,
    /// COM2 on the same terminal as a `MonStdio` COM1 (Ctrl-A C switches
    /// the keyboard between them and the monitor).
    SharedStdio,
    File(PathBuf),
    /// A Unix socket QEMU listens on (without waiting for a client), for a
    /// harness to type into and read from.
    Socket(PathBuf),
    /// A socket as `Socket`, with everything the port prints also in `log`
    /// (whether or not a client is connected).
    LoggedSocket { socket: PathBuf, log: PathBuf },
}

impl Serial {
    fn arg(&self) -> String {
        match self {
            Serial::MonStdio => "mon:stdio".into(),
            Serial::SharedStdio => "chardev:term".into(),
            Serial::File(p) => format!("file:{}", p.display()),
            Serial::Socket(p) => format!("unix:{},server=on,wait=off", p.display()),
            Serial::LoggedSocket { .. } => "chardev:com1".into(),
        }
    }
}

/// UEFI firmware: OVMF code (read-only) and a private writable copy of the
/// variable store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ovmf {
    pub code: PathBuf,
    pub vars: PathBuf,
}

/// What QEMU boots.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QemuBoot {
    /// A disk image, through the firmware.
    Disk(PathBuf),
    /// An ISO on a CD-ROM (`-cdrom`), booted by the firmware.
    Cdrom(PathBuf),
    /// A multiboot kernel (`-kernel`) and its module (`-initrd`), started
    /// by QEMU's own loader: no disk reads, no bootloader stages.
    Kernel { kernel: PathBuf, initrd: PathBuf },
}

#[derive(Debug, Clone)]
pub struct QemuConfig {
    pub boot: QemuBoot,
    /// `None` boots with SeaBIOS.
    pub uefi: Option<Ovmf>,
    pub accel: Accel,
    pub smp: u32,
    pub mem_mib: u32,
    pub icount: bool,
    pub com1: Serial,
    pub com2: Serial,
}

impl QemuConfig {
    /// The arguments after `qemu-system-x86_64`.
    pub fn args(&self) -> Vec<String> {
        let mut a: Vec<String> = Vec::new();
        let mut push = |items: &[&str]| a.extend(items.iter().map(|s| s.to_string()));
        match self.accel {
            Accel::Kvm => push(&["-accel", "kvm", "-cpu", "host"]),
            Accel::Tcg => push(&["-accel", "tcg", "-cpu", "qemu64,+svm,+npt,+smap,+smep"]),
        }
        push(&[
            "-smp",
            &self.smp.to_string(),
            "-m",
            &self.mem_mib.to_string(),
        ]);
        if let Some(ovmf) = &self.uefi {
            let code = format!(
                "if=pflash,format=raw,readonly=on,file={}",
                ovmf.code.display()
            );
            let vars = format!("if=pflash,format=raw,file={}", ovmf.vars.display());
            push(&["-drive", &code, "-drive", &vars]);
        }
        match &self.boot {
            QemuBoot::Disk(image) => push(&["-drive", &format!("format=raw,file={}", image.display())]),
            QemuBoot::Cdrom(iso) => push(&["-cdrom", &iso.display().to_string()]),
            // A comma in a path would split the module list (`,,` escapes it).
            QemuBoot::Kernel { kernel, initrd } => push(&[
                "-kernel",
                &kernel.display().to_string(),
                "-initrd",
                &initrd.display().to_string().replace(',', ",,"),
            ]),
        }
        if self.com2 == Serial::SharedStdio {
            // One multiplexed terminal: the monitor, COM1, then COM2 (the
            // last one added has the keyboard first).
            push(&["-chardev", "stdio,mux=on,id=term", "-mon", "chardev=term,mode=readline"]);
            push(&["-serial", "chardev:term", "-serial", "chardev:term"]);
        } else {
            if let Serial::LoggedSocket { socket, log } = &self.com1 {
                let chardev = format!("socket,id=com1,path={},server=on,wait=off,logfile={}", socket.display(), log.display());
                push(&["-chardev", &chardev]);
            }
            push(&["-serial", &self.com1.arg(), "-serial", &self.com2.arg()]);
        }
        if self.com1 != Serial::MonStdio {
            push(&["-monitor", "none"]);
        }
        push(&["-display", "none", "-nic", "none", "-no-reboot"]);
        push(&["-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"]);
        if self.icount {
            push(&["-icount", "shift=0,sleep=off"]);
        }
        a
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> QemuConfig {
        QemuConfig {
            boot: QemuBoot::Disk("/t/hv.img".into()),
            uefi: None,
            accel: Accel::Tcg,
            smp: 4,
            mem_mib: 256,
            icount: false,
            com1: Serial::File("/t/com1.log".into()),
            com2: Serial::File("/t/com2.log".into()),
        }
    }

    fn has(args: &[String], pair: &[&str]) -> bool {
        args.windows(pair.len())
            .any(|w| w.iter().zip(pair).all(|(a, b)| a == b))
    }

    #[test]
    fn bios_tcg() {
        let a = config().args();
        assert!(has(&a, &["-cpu", "qemu64,+svm,+npt,+smap,+smep"]));
        assert!(has(&a, &["-smp", "4", "-m", "256"]));
        assert!(has(&a, &["-drive", "format=raw,file=/t/hv.img"]));
        assert!(has(
            &a,
            &["-serial", "file:/t/com1.log", "-serial", "file:/t/com2.log"]
        ));
        assert!(has(
            &a,
            &["-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"]
        ));
        assert!(a.contains(&"-no-reboot".to_string()));
        assert!(!a.iter().any(|s| s.contains("pflash") || s == "-icount"));
    }

    #[test]
    fn uefi_kvm_icount() {
        let mut c = config();
        c.accel = Accel::Kvm;
        c.icount = true;
        c.com1 = Serial::MonStdio;
        c.uefi = Some(Ovmf {
            code: "/fw/CODE.fd".into(),
            vars: "/t/VARS.fd".into(),
        });
        let a = c.args();
        assert!(has(&a, &["-accel", "kvm", "-cpu", "host"]));
        assert!(has(
            &a,
            &[
                "-drive",
                "if=pflash,format=raw,readonly=on,file=/fw/CODE.fd"
            ]
        ));
        assert!(has(&a, &["-drive", "if=pflash,format=raw,file=/t/VARS.fd"]));
        assert!(has(&a, &["-serial", "mon:stdio"]));
        assert!(has(&a, &["-icount", "shift=0,sleep=off"]));
        assert!(!a.contains(&"-monitor".to_string()));
    }

    #[test]
    fn the_kernel_path_boots_the_elf_with_the_bundle_as_module() {
        let mut c = config();
        c.boot = QemuBoot::Kernel { kernel: "/t/hypervisor.elf".into(), initrd: "/t/a,b/bundle.tar".into() };
        let a = c.args();
        assert!(has(&a, &["-kernel", "/t/hypervisor.elf", "-initrd", "/t/a,,b/bundle.tar"]));
        assert!(!a.iter().any(|s| s == "-drive"));
    }

    #[test]
    fn com2_shares_the_terminal_or_listens_on_a_socket() {
        let mut c = config();
        c.com1 = Serial::MonStdio;
        c.com2 = Serial::SharedStdio;
        let a = c.args();
        assert!(has(&a, &["-chardev", "stdio,mux=on,id=term", "-mon", "chardev=term,mode=readline"]));
        assert!(has(&a, &["-serial", "chardev:term", "-serial", "chardev:term"]));
        c.com1 = Serial::File("/t/com1.log".into());
        c.com2 = Serial::Socket("/t/com2.sock".into());
        assert!(has(&c.args(), &["-serial", "unix:/t/com2.sock,server=on,wait=off"]));
        c.com1 = Serial::LoggedSocket { socket: "/t/com1.sock".into(), log: "/t/com1.log".into() };
        let a = c.args();
        assert!(has(&a, &["-chardev", "socket,id=com1,path=/t/com1.sock,server=on,wait=off,logfile=/t/com1.log"]));
        assert!(has(&a, &["-serial", "chardev:com1", "-serial", "unix:/t/com2.sock,server=on,wait=off"]));
    }
}
