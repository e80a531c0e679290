//! The emulator test scenarios, as data.

use crate::platform::Platform;

/// Lines that fail any run by default.
pub const FORBID: &[&str] = &["PANIC", "FATAL"];

pub struct Scenario {
    pub name: &'static str,
    pub description: &'static str,
    pub platform: Platform,
    pub smp: u32,
    pub mem_mib: u32,
    /// The hypervisor command line.
    pub cmdline: &'static str,
    /// Substrings that must appear, in this order, each on its own line.
    pub expect: &'static [&'static str],
    /// Substrings that fail the run at once.
    pub forbid: &'static [&'static str],
    pub timeout_s: u64,
    /// The code of the `hv: exit code=N` line (and of QEMU's exit status).
    pub exit_code: u32,
    /// Harness self-test: the run must be judged a failure whose reason
    /// contains all of these; the scenario passes only then.
    pub expect_failure: Option<&'static [&'static str]>,
}

const BOOT_SMP4: &[&str] = &[
    "cpu0 info virt: SVM enabled",
    "cpu1 info virt: SVM enabled",
    "cpu2 info virt: SVM enabled",
    "cpu3 info virt: SVM enabled",
    "hv: ready, 4 cpus online",
    "hv: exit code=0",
];

const BOOT_SVM_SMP2: &[&str] = &[
    "cpu0 info virt: SVM enabled",
    "cpu1 info virt: SVM enabled",
    "hv: ready, 2 cpus online",
    "hv: exit code=0",
];

const BOOT_VMX_SMP2: &[&str] = &[
    "cpu0 info virt: VMX enabled",
    "cpu1 info virt: VMX enabled",
    "ready, 2 cpus online",
    "exit code=0",
];

pub const SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "boot-bios-smp4",
        description: "BIOS image, 4 CPUs: SVM on every CPU, clean exit",
        platform: Platform::QemuBios,
        smp: 4,
        mem_mib: 256,
        cmdline: "exit-after-boot",
        expect: BOOT_SMP4,
        forbid: FORBID,
        timeout_s: 60,
        exit_code: 0,
        expect_failure: None,
    },
    Scenario {
        name: "boot-uefi",
        description: "UEFI image under OVMF, 2 CPUs: SVM on every CPU, clean exit",
        platform: Platform::QemuUefi,
        smp: 2,
        mem_mib: 256,
        cmdline: "exit-after-boot",
        expect: BOOT_SVM_SMP2,
        forbid: FORBID,
        timeout_s: 90,
        exit_code: 0,
        expect_failure: None,
    },
    Scenario {
        name: "boot-bochs-vmx",
        description: "Bochs Haswell, 2 CPUs: VMX (EPT, VPID, unrestricted guest) on every CPU",
        platform: Platform::BochsVmx,
        smp: 2,
        mem_mib: 256,
        cmdline: "exit-after-boot",
        expect: BOOT_VMX_SMP2,
        forbid: FORBID,
        timeout_s: 180,
        exit_code: 0,
        expect_failure: None,
    },
    Scenario {
        name: "boot-bochs-svm",
        description: "Bochs Ryzen, 2 CPUs: SVM with NRIP-save on every CPU",
        platform: Platform::BochsSvm,
        smp: 2,
        mem_mib: 256,
        cmdline: "exit-after-boot",
        expect: BOOT_SVM_SMP2,
        forbid: FORBID,
        timeout_s: 180,
        exit_code: 0,
        expect_failure: None,
    },
    Scenario {
        name: "harness-catches-panic",
        description: "self-test: a hypervisor panic must make a run fail",
        platform: Platform::QemuBios,
        smp: 2,
        mem_mib: 256,
        cmdline: "exit-after-boot test-panic",
        expect: BOOT_SVM_SMP2,
        forbid: FORBID,
        timeout_s: 60,
        exit_code: 0,
        expect_failure: Some(&["PANIC", "test-panic requested"]),
    },
];

pub fn find(name: &str) -> Option<&'static Scenario> {
    SCENARIOS.iter().find(|s| s.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_unique_and_simple() {
        for (i, s) in SCENARIOS.iter().enumerate() {
            assert!(
                SCENARIOS[..i].iter().all(|o| o.name != s.name),
                "duplicate {}",
                s.name
            );
            assert!(
                s.name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            );
            assert!(s.name != "host" && s.name != "host-unit-tests");
        }
    }

    #[test]
    fn sane_values() {
        for s in SCENARIOS {
            assert!(
                s.smp >= 1 && s.mem_mib >= 64 && s.timeout_s > 0,
                "{}",
                s.name
            );
            assert!(
                !s.expect.is_empty() && !s.description.is_empty(),
                "{}",
                s.name
            );
            assert!(
                s.forbid.contains(&"PANIC") && s.forbid.contains(&"FATAL"),
                "{}",
                s.name
            );
            let exit = format!("exit code={}", s.exit_code);
            assert!(
                s.expect.last().unwrap().ends_with(&exit),
                "{}: last marker must be the exit line",
                s.name
            );
        }
    }

    #[test]
    fn panic_self_test_is_wired() {
        let s = find("harness-catches-panic").unwrap();
        assert!(s.cmdline.split_whitespace().any(|w| w == "test-panic"));
        assert!(s.expect_failure.unwrap().contains(&"PANIC"));
    }
}
