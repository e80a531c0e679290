//! The example configs in `toolstack/examples/` parse to exactly what they
//! say, and every bootable config in the repository's `configs/` parses.

use std::path::Path;
use toolstack::{
    Affinity, CpuMask, DiskAccess, DiskFormat, DiskSpec, DomainConfig, DomainType, ShutdownAction,
    parse,
};

fn configs_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../configs")
}

#[test]
fn demo_pvh() {
    let c = parse("demo-pvh.cfg", include_bytes!("../examples/demo-pvh.cfg")).unwrap();
    assert_eq!(
        c,
        DomainConfig {
            name: "demo-pvh".into(),
            domain_type: DomainType::Pvh,
            kernel: "domu/pvh-demo".into(),
            ramdisk: None,
            cmdline: "console=hvc0".into(),
            memory_mib: 64,
            maxmem_mib: 64,
            vcpus: 1,
            maxvcpus: 1,
            cpus: None,
            cpus_soft: None,
            cpu_weight: 256,
            cpu_cap: 0,
            on_poweroff: ShutdownAction::Destroy,
            on_reboot: ShutdownAction::Restart,
            on_crash: ShutdownAction::Preserve,
            disks: vec![],
            serial: vec![],
        }
    );
}

#[test]
fn demo_pvh_smp() {
    let c = parse(
        "demo-pvh-smp.cfg",
        include_bytes!("../examples/demo-pvh-smp.cfg"),
    )
    .unwrap();
    assert_eq!(
        c,
        DomainConfig {
            name: "demo-pvh-smp".into(),
            domain_type: DomainType::Pvh,
            kernel: "domu/pvh-demo".into(),
            ramdisk: Some("domu/pvh-demo.initrd".into()),
            cmdline: "console=hvc0 smp".into(),
            memory_mib: 128,
            maxmem_mib: 256,
            vcpus: 2,
            maxvcpus: 4,
            cpus: Some(Affinity::AllVcpus(CpuMask(0b1110))),
            cpus_soft: None,
            cpu_weight: 512,
            cpu_cap: 150,
            on_poweroff: ShutdownAction::Destroy,
            on_reboot: ShutdownAction::Restart,
            on_crash: ShutdownAction::Destroy,
            disks: vec![
                DiskSpec {
                    target: "domu/root.img".into(),
                    format: DiskFormat::Raw,
                    vdev: "xvda".into(),
                    access: DiskAccess::ReadWrite,
                    cdrom: false,
                },
                DiskSpec {
                    target: "domu/data.img".into(),
                    format: DiskFormat::Raw,
                    vdev: "xvdb".into(),
                    access: DiskAccess::ReadOnly,
                    cdrom: false,
                },
            ],
            serial: vec!["pty".into()],
        }
    );
}

/// A config added to `configs/` later is checked too.
#[test]
fn every_shipped_config_parses() {
    let mut n = 0;
    for e in std::fs::read_dir(configs_dir()).expect("configs/ exists") {
        let path = e.expect("entry").path();
        if path.extension().is_some_and(|x| x == "cfg") {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let text = std::fs::read(&path).unwrap();
            if let Err(e) = parse(&name, &text) {
                panic!("{e}");
            }
            n += 1;
        }
    }
    assert!(n >= 2, "configs/ has {n} .cfg files");
}
