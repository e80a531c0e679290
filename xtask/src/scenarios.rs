//! The emulator test scenarios, as data.

use crate::platform::Platform;

/// Checks the hypervisor fails on purpose: CPUID base+4's IOMMU_MAPPINGS
/// (Xen always sets it; without an IOMMU we do not, so a Linux PVH Dom0
/// bounces DMA through swiotlb-xen rather than trust foreign mappings).
macro_rules! known_deviations {
    () => {
        "todo=IOMMU_MAPPINGS"
    };
}
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
    /// Dom0's command line (our Dom0 kernel reads `test=...` / `bench=...` from it).
    pub dom0_cmdline: &'static str,
    /// A guest crate under `guests/` to boot as Dom0 instead of `dom0-kernel`.
    pub dom0_kernel: Option<&'static str>,
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
    /// Dom0's shell on COM2: typed into once COM1 shows a line, checked after.
    pub com2: Option<Com2Script>,
    /// Long runs: only with `cargo xtask test --extended`, or when named.
    pub extended: bool,
    /// Fetch Debian's kernel and the busybox initramfs first (`cargo xtask
    /// debian`: `apt-get download`, cached in target/debian/).
    pub debian: bool,
    /// Dom0 from this file instead of a crate (as `run --dom0`): a path
    /// from the repository's root, or `debian:vmlinuz` / `debian:initrd.gz`.
    pub dom0_file: Option<&'static str>,
    /// Dom0's modules, in order (as `run --module`; named as `dom0_file`).
    pub modules: &'static [&'static str],
    /// xl.cfg files (from the repository's root) packed as `run --create`
    /// packs them, with the files they name; Dom0's `autostart=` names
    /// them (prepended to `dom0_cmdline`).
    pub create: &'static [&'static str],
}

/// What a scenario types on COM2 (or, with `com1`, on COM1) and must read
/// back there.
pub struct Com2Script {
    /// Type on COM1, the hypervisor's console, instead: Dom0 reads it
    /// through console_io (a Linux Dom0's hvc0). QEMU only.
    pub com1: bool,
    /// A COM1 line (substring) after which the input is typed.
    pub after: &'static str,
    /// The keystrokes (`\r` ends a command).
    pub input: &'static str,
    /// Substrings that must appear on COM2, in this order.
    pub expect: &'static [&'static str],
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

const DOM0_HELLO: &[&str] = &[
    "hv: ready",
    "(d0) dom0: hello from the Rust Dom0 (PVH)",
    "(d0) dom0: hypervisor at cpuid 0x40000000, version 4.17",
    "(d0) dom0: start_info version=1 flags=0x3",
    "(d0) dom0: powering off",
    "d0 powered off; all its frames freed",
    "hv: exit code=0",
];

const DOM0_ISOLATION: &[&str] = &[
    "(d0) dom0: reading outside my memory",
    "d0v0 error crash: domain crashed: read of gpa",
    "hv: still up after d0 crashed: 2 cpus answer, all d0's frames freed",
    "hv: exit code=2",
];

// No Bochs Ryzen variant: Bochs 2.7 resets the whole emulated machine on a
// triple fault inside an SVM guest instead of taking the SHUTDOWN intercept
// (it implements the VMX triple-fault exit only), so that run would test Bochs.
// As Xen's hvm_triple_fault: the domain shuts down with
// HVM_PARAM_TRIPLE_FAULT_REASON, SHUTDOWN_reboot (1) by default; for Dom0
// that ends the machine with the "not powered off" status.
const GUEST_TRIPLE_FAULT: &[&str] = &[
    "(d0) dom0: triple faulting now",
    "d0v0 error hvm: triple fault: domain 0 shuts down (reboot)",
    "d0 shut down with reason 1; all its frames freed",
    "hv: exit code=2",
];

// Xen's hvm_hlt / hvm_vcpu_down: Dom0's only vCPU goes down, so Dom0 powers off.
const CLI_HLT: &[&str] = &[
    "(d0) dom0: HLT with interrupts off now",
    "d0v0 info hvm: all vcpus offline: domain 0 powers off",
    "d0 powered off; all its frames freed",
    "hv: exit code=0",
];

const ISOLATION_FORBID: &[&str] = &["PANIC", "FATAL", "isolation FAILED"];

const DOM0_FOREIGN: &[&str] = &[
    "(d0) dom0: foreign: the page outlives its destroyed domain",
    "(d0) dom0: foreign: the unmap freed it",
    "(d0) dom0: foreign: a given-back page is freed by our unmap, not before",
    "(d0) dom0: foreign OK",
    "d0 powered off; all its frames freed",
    "hv: exit code=0",
];

const FOREIGN_FORBID: &[&str] = &["PANIC", "FATAL", "foreign FAILED", "NOT all"];

const DOM0_WATCHDOG: &[&str] = &[
    "(d0) dom0: watchdog 1 fires in 1 s; blocking",
    "watchdog timer fired for domain 0",
    "d0 shut down with reason 4; all its frames freed",
    "hv: exit code=2",
];

const WATCHDOG_FORBID: &[&str] = &["PANIC", "FATAL", "watchdog FAILED"];

/// A Dom0 scenario: our Dom0 with `dom0_cmdline`, 2 CPUs, 256 MiB.
const fn dom0(
    name: &'static str,
    description: &'static str,
    platform: Platform,
    dom0_cmdline: &'static str,
    expect: &'static [&'static str],
    forbid: &'static [&'static str],
    exit_code: u32,
) -> Scenario {
    Scenario {
        name,
        description,
        platform,
        smp: 2,
        mem_mib: 256,
        cmdline: "loglvl=info",
        dom0_cmdline,
        dom0_kernel: None,
        expect,
        forbid,
        timeout_s: if platform.is_qemu() { 60 } else { 180 },
        exit_code,
        expect_failure: None,
        com2: None,
        extended: false,
        debian: false,
        dom0_file: None,
        modules: &[],
        create: &[],
    }
}

pub const SCENARIOS: &[Scenario] = &[
    dom0("boot-grub-bios", "the ISO under SeaBIOS: GRUB boots the hypervisor (multiboot2), Dom0 and its files (module2), Dom0 runs a DomU", Platform::QemuGrubBios, "run=short.cfg", BOOT_GRUB, TOOLSTACK_FORBID, 0),
    Scenario {
        timeout_s: 90,
        ..dom0("boot-grub-uefi", "the ISO under OVMF: GRUB's UEFI build boots the same", Platform::QemuGrubUefi, "run=short.cfg", BOOT_GRUB, TOOLSTACK_FORBID, 0)
    },
    dom0("boot-grub-bochs-vmx", "the ISO from Bochs Haswell's CD-ROM, VMX", Platform::BochsGrubVmx, "run=short.cfg", BOOT_GRUB, TOOLSTACK_FORBID, 0),
    Scenario {
        smp: 4,
        ..dom0(
            "boot-multiboot",
            "QEMU -kernel (multiboot, the bundle as module), 4 CPUs: Dom0 and its toolstack's DomUs through their lifecycle",
            Platform::QemuKernel,
            "test=lifecycle",
            BOOT_MULTIBOOT,
            LIFECYCLE_FORBID,
            0,
        )
    },
    Scenario {
        name: "boot-bios-smp4",
        description: "BIOS image, 4 CPUs: SVM on every CPU, clean exit",
        platform: Platform::QemuBios,
        smp: 4,
        mem_mib: 256,
        cmdline: "exit-after-boot",
        dom0_cmdline: "",
        dom0_kernel: None,
        expect: BOOT_SMP4,
        forbid: FORBID,
        timeout_s: 60,
        exit_code: 0,
        expect_failure: None,
        com2: None,
        extended: false,
        debian: false,
        dom0_file: None,
        modules: &[],
        create: &[],
    },
    Scenario {
        name: "boot-uefi",
        description: "UEFI image under OVMF, 2 CPUs: SVM on every CPU, clean exit",
        platform: Platform::QemuUefi,
        smp: 2,
        mem_mib: 256,
        cmdline: "exit-after-boot",
        dom0_cmdline: "",
        dom0_kernel: None,
        expect: BOOT_SVM_SMP2,
        forbid: FORBID,
        timeout_s: 90,
        exit_code: 0,
        expect_failure: None,
        com2: None,
        extended: false,
        debian: false,
        dom0_file: None,
        modules: &[],
        create: &[],
    },
    Scenario {
        name: "boot-bochs-vmx",
        description: "Bochs Haswell, 2 CPUs: VMX (EPT, VPID, unrestricted guest) on every CPU",
        platform: Platform::BochsVmx,
        smp: 2,
        mem_mib: 256,
        cmdline: "exit-after-boot",
        dom0_cmdline: "",
        dom0_kernel: None,
        expect: BOOT_VMX_SMP2,
        forbid: FORBID,
        timeout_s: 180,
        exit_code: 0,
        expect_failure: None,
        com2: None,
        extended: false,
        debian: false,
        dom0_file: None,
        modules: &[],
        create: &[],
    },
    Scenario {
        name: "boot-bochs-svm",
        description: "Bochs Ryzen, 2 CPUs: SVM with NRIP-save on every CPU",
        platform: Platform::BochsSvm,
        smp: 2,
        mem_mib: 256,
        cmdline: "exit-after-boot",
        dom0_cmdline: "",
        dom0_kernel: None,
        expect: BOOT_SVM_SMP2,
        forbid: FORBID,
        timeout_s: 180,
        exit_code: 0,
        expect_failure: None,
        com2: None,
        extended: false,
        debian: false,
        dom0_file: None,
        modules: &[],
        create: &[],
    },
    Scenario {
        name: "harness-catches-panic",
        description: "self-test: a hypervisor panic must make a run fail",
        platform: Platform::QemuKernel,
        smp: 2,
        mem_mib: 256,
        cmdline: "exit-after-boot test-panic",
        dom0_cmdline: "",
        dom0_kernel: None,
        expect: BOOT_SVM_SMP2,
        forbid: FORBID,
        timeout_s: 60,
        exit_code: 0,
        expect_failure: Some(&["PANIC", "test-panic requested"]),
        com2: None,
        extended: false,
        debian: false,
        dom0_file: None,
        modules: &[],
        create: &[],
    },
    dom0("dom0-hello", "Dom0 (PVH) boots on SVM, prints through console_io, powers off", Platform::QemuKernel, "", DOM0_HELLO, FORBID, 0),
    dom0("dom0-hello-bochs-vmx", "Dom0 (PVH) on VMX with EPT: banner, poweroff", Platform::BochsVmx, "", DOM0_HELLO, FORBID, 0),
    dom0("dom0-hello-bochs-svm", "Dom0 (PVH) on SVM with NRIP-save: banner, poweroff", Platform::BochsSvm, "", DOM0_HELLO, FORBID, 0),
    dom0(
        "dom0-isolation",
        "Dom0 reads outside its memory: it alone is crashed, the hypervisor stays up",
        Platform::QemuKernel,
        "test=isolation",
        DOM0_ISOLATION,
        ISOLATION_FORBID,
        2,
    ),
    dom0(
        "dom0-isolation-bochs-vmx",
        "isolation on VMX: an EPT violation crashes Dom0 alone",
        Platform::BochsVmx,
        "test=isolation",
        DOM0_ISOLATION,
        ISOLATION_FORBID,
        2,
    ),
    dom0(
        "dom0-isolation-bochs-svm",
        "isolation on SVM with NRIP-save: a nested page fault crashes Dom0 alone",
        Platform::BochsSvm,
        "test=isolation",
        DOM0_ISOLATION,
        ISOLATION_FORBID,
        2,
    ),
    dom0(
        "dom0-foreign-mapping",
        "Dom0 maps another domain's page (gmfn_foreign): it outlives its owner until unmapped, and no frame leaks",
        Platform::QemuKernel,
        "test=foreign",
        DOM0_FOREIGN,
        FOREIGN_FORBID,
        0,
    ),
    dom0(
        "dom0-watchdog",
        "SCHEDOP_watchdog: ids handed out and freed as Xen does; an expired watchdog shuts the domain down",
        Platform::QemuKernel,
        "test=watchdog",
        DOM0_WATCHDOG,
        WATCHDOG_FORBID,
        2,
    ),
    dom0("guest-triple-fault", "a triple-faulting guest shuts down with SHUTDOWN_reboot, as on Xen", Platform::QemuKernel, "test=triple-fault", GUEST_TRIPLE_FAULT, FORBID, 2),
    dom0(
        "guest-triple-fault-bochs-vmx",
        "triple fault on VMX: the guest shuts down with SHUTDOWN_reboot",
        Platform::BochsVmx,
        "test=triple-fault",
        GUEST_TRIPLE_FAULT,
        FORBID,
        2,
    ),
    dom0("dom0-cli-hlt", "HLT with interrupts off takes the vCPU down; the domain's last one powers it off (Xen's hvm_vcpu_down)", Platform::QemuKernel, "test=cli-hlt", CLI_HLT, FORBID, 0),
    dom0("dom0-cli-hlt-bochs-vmx", "HLT with interrupts off on VMX: the last vCPU down powers the domain off", Platform::BochsVmx, "test=cli-hlt", CLI_HLT, FORBID, 0),
    dom0("dom0-timer-events", "VIRQ_TIMER through event channels: a one-shot timer wakes a blocked Dom0 three times", Platform::QemuKernel, "test=timer", DOM0_TIMER, TIMER_FORBID, 0),
    dom0("dom0-timer-events-bochs-vmx", "timer events on VMX", Platform::BochsVmx, "test=timer", DOM0_TIMER, TIMER_FORBID, 0),
    dom0("dom0-timer-events-bochs-svm", "timer events on SVM", Platform::BochsSvm, "test=timer", DOM0_TIMER, TIMER_FORBID, 0),
    Scenario { smp: 4, ..dom0("toolstack-lifecycle", "Dom0's toolstack creates DomUs from configs, lists, pauses, powers one off, restarts a crashing one, destroys all; free pages back to the baseline", Platform::QemuKernel, "test=lifecycle", LIFECYCLE, LIFECYCLE_FORBID, 0) },
    Scenario { smp: 4, ..dom0("toolstack-lifecycle-bochs-vmx", "the toolstack lifecycle on VMX", Platform::BochsVmx, "test=lifecycle", LIFECYCLE, LIFECYCLE_FORBID, 0) },
    Scenario {
        smp: 3,
        com2: Some(Com2Script { com1: false, after: "dom0: the shell is on COM2", input: SHELL_INPUT, expect: SHELL_EXPECT }),
        ..dom0("dom0-shell", "Dom0's shell on COM2: commands typed there create, list, pause, destroy DomUs, attach to their PV consoles, report errors", Platform::QemuKernel, "shell", DOM0_SHELL, TOOLSTACK_FORBID, 0)
    },
    dom0("toolstack-bad-config", "every broken config in toolstack/tests/bad is refused with its error; nothing is created", Platform::QemuKernel, "test=bad-configs", BAD_CONFIGS, TOOLSTACK_FORBID, 0),
    dom0("toolstack-bad-config-bochs-vmx", "broken configs on VMX", Platform::BochsVmx, "test=bad-configs", BAD_CONFIGS, TOOLSTACK_FORBID, 0),
    Scenario { smp: 2, ..dom0("conformance-domu", "the conformance suite as an unprivileged DomU built by Dom0's toolstack", Platform::QemuKernel, "run=conformance.cfg", CONFORMANCE_DOMU, TOOLSTACK_FORBID, 0) },
    Scenario { smp: 2, ..dom0("conformance-domu-bochs-vmx", "the conformance suite as a DomU on VMX", Platform::BochsVmx, "run=conformance.cfg", CONFORMANCE_DOMU, TOOLSTACK_FORBID, 0) },
    Scenario {
        dom0_kernel: Some("fuzz"),
        ..dom0("fuzz-hypercalls", "100000 random hypercalls (seed 1) from Dom0: it stays alive and unchanged, the hypervisor up", Platform::QemuKernel, "seed=1", FUZZ_SEED1, FUZZ_FORBID, 0)
    },
    Scenario {
        dom0_kernel: Some("fuzz"),
        ..dom0("fuzz-hypercalls-seed2", "100000 random hypercalls (seed 2) from Dom0", Platform::QemuKernel, "seed=2", FUZZ_SEED2, FUZZ_FORBID, 0)
    },
    // 100000 calls take ~15 s under Bochs here (~10 s of them booting), so
    // the count stays the QEMU one.
    Scenario {
        dom0_kernel: Some("fuzz"),
        ..dom0("fuzz-hypercalls-bochs-vmx", "100000 random hypercalls (seed 1) on VMX with EPT", Platform::BochsVmx, "seed=1", FUZZ_SEED1, FUZZ_FORBID, 0)
    },
    Scenario {
        dom0_kernel: Some("fuzz"),
        ..dom0("fuzz-hypercalls-seed2-bochs-vmx", "100000 random hypercalls (seed 2) on VMX with EPT", Platform::BochsVmx, "seed=2", FUZZ_SEED2, FUZZ_FORBID, 0)
    },
    // The conformance suite as Dom0: every check passes but the declared
    // known deviations (`todo=`, TAP TODO; see known_deviations!).
    Scenario {
        dom0_kernel: Some("conformance"),
        ..dom0("conformance-dom0", "the ABI conformance suite (64-bit) as Dom0: every check passes", Platform::QemuKernel, known_deviations!(), CONFORMANCE_64, CONFORMANCE_FORBID, 0)
    },
    Scenario {
        dom0_kernel: Some("conformance"),
        ..dom0("conformance-32bit", "the conformance suite from 32-bit code: every check passes", Platform::QemuKernel, concat!("mode=32 ", known_deviations!()), CONFORMANCE_32, CONFORMANCE_FORBID, 0)
    },
    Scenario {
        dom0_kernel: Some("conformance"),
        ..dom0("conformance-dom0-bochs-vmx", "the conformance suite (64-bit) as Dom0 on VMX", Platform::BochsVmx, concat!("quiet ", known_deviations!()), CONFORMANCE_64, CONFORMANCE_FORBID, 0)
    },
    Scenario {
        dom0_kernel: Some("conformance"),
        ..dom0("conformance-32bit-bochs-vmx", "the conformance suite from 32-bit code on VMX", Platform::BochsVmx, concat!("mode=32 quiet ", known_deviations!()), CONFORMANCE_32, CONFORMANCE_FORBID, 0)
    },
    // The hostile guest (guests/hostile): issue 9's attacks. As a DomU under
    // Dom0's `test=hostile` (which adds its own attacks 6 and 7 and checks
    // the free-page count), and as Dom0 itself. 1 GiB: check 5 takes
    // ~150000 pages of increase_reservation before a limit stops it.
    Scenario {
        mem_mib: 1024,
        timeout_s: 120,
        ..dom0("hostile-domu", "issue 9's attacks from an unprivileged DomU, then Dom0's on DomUs: nothing but the attacker is harmed, free pages exact", Platform::QemuKernel, "test=hostile", HOSTILE_DOMU, HOSTILE_FORBID, 0)
    },
    // About 2 min on Bochs (this machine).
    Scenario {
        mem_mib: 1024,
        timeout_s: 600,
        ..dom0("hostile-domu-bochs-vmx", "issue 9's attacks from a DomU and on DomUs, on VMX", Platform::BochsVmx, "test=hostile", HOSTILE_DOMU, HOSTILE_FORBID, 0)
    },
    Scenario {
        dom0_kernel: Some("hostile"),
        timeout_s: 120,
        ..dom0("hostile-dom0", "issue 9's attacks from Dom0 (the hardware domain): refused as Xen refuses, the hypervisor up", Platform::QemuKernel, "", HOSTILE_DOM0, HOSTILE_FORBID, 0)
    },
    Scenario {
        dom0_kernel: Some("hostile"),
        timeout_s: 900,
        ..dom0("hostile-dom0-bochs-vmx", "issue 9's attacks from Dom0 on VMX", Platform::BochsVmx, "", HOSTILE_DOM0, HOSTILE_FORBID, 0)
    },
    Scenario { ..dom0("fuzz-domu", "50000 random hypercalls (seed 3, one in 16 from CPL 3) from an unprivileged DomU built by Dom0's toolstack", Platform::QemuKernel, "run=fuzz.cfg", FUZZ_DOMU, FUZZ_DOMU_FORBID, 0) },
    // Issue 13: fuzzers on every CPU at once (three DomUs on the three APs
    // of 4 CPUs; two sharing the one AP of 2), Dom0 serving them.
    Scenario { smp: 4, timeout_s: 180, ..dom0("fuzz-concurrent", "three unprivileged DomUs fuzz at once, one per AP of 4 CPUs (seeds 1, 2, 4; 100000 calls each, one in 16 from CPL 3): all still alive, none crashed, Dom0 up", Platform::QemuKernel, "autostart=fuzz-c1.cfg,fuzz-c2.cfg,fuzz-c3.cfg idle until-gone", FUZZ_CONCURRENT, FUZZ_CONCURRENT_FORBID, 0) },
    Scenario { timeout_s: 180, ..dom0("fuzz-concurrent-smp2", "two fuzzing DomUs (seeds 1, 2) sharing the one AP of 2 CPUs, switched in slices", Platform::QemuKernel, "autostart=fuzz-c1.cfg,fuzz-c2.cfg idle until-gone", FUZZ_CONCURRENT_SMP2, FUZZ_CONCURRENT_FORBID, 0) },
    Scenario { smp: 4, timeout_s: 3600, extended: true, ..dom0("fuzz-concurrent-1m", "(extended) two unprivileged DomUs (seeds 1 and 2) make 1M random hypercalls each at once on the APs of 4 CPUs, beside the 100000-call seed 4: all alive, Dom0 up, free pages back", Platform::QemuKernel, "autostart=fuzz-1m-1.cfg,fuzz-1m-2.cfg,fuzz-c3.cfg idle until-gone", FUZZ_CONCURRENT_1M, FUZZ_CONCURRENT_FORBID, 0) },
    Scenario { timeout_s: 1200, extended: true, ..dom0("fuzz-concurrent-bochs-vmx", "two fuzzing DomUs sharing the AP on VMX", Platform::BochsVmx, "autostart=fuzz-c1.cfg,fuzz-c2.cfg idle until-gone", FUZZ_CONCURRENT_SMP2, FUZZ_CONCURRENT_FORBID, 0) },
    Scenario {
        dom0_kernel: Some("fuzz"),
        timeout_s: 7200,
        extended: true,
        ..dom0("fuzz-long", "extended: 10M random hypercalls from Dom0, 2M each from seeds 11..15, one in 16 from CPL 3", Platform::QemuKernel, "seed=11 count=2000000 seeds=5 learn user", FUZZ_LONG, FUZZ_FORBID, 0)
    },
    // Issue 13: domains come and go without a frame lost, and a new one
    // never sees an old one's memory.
    Scenario { timeout_s: 300, ..dom0("no-leak", "Dom0 creates, runs and destroys 100 DomUs one after another, each checking that no page of its RAM holds the mark the one before left (frames scrubbed): free pages exactly back", Platform::QemuKernel, "test=no-leak count=100", NO_LEAK, NO_LEAK_FORBID, 0) },
    Scenario { timeout_s: 3600, extended: true, ..dom0("no-leak-1000", "the same with 1000 DomUs", Platform::QemuKernel, "test=no-leak count=1000", NO_LEAK_1000, NO_LEAK_FORBID, 0) },
    // Issue 13: CPU-bound DomUs share the one AP of a 2-CPU machine in
    // proportion to their weights (credit2), every one of them running.
    Scenario { timeout_s: 120, ..dom0("sched-fairness", "three CPU-bound 1-vCPU DomUs of weights 256/512/1024 on the one AP of 2 CPUs: over 4 s each one's share of their CPU time is within 5 points of 1:2:4 (a table)", Platform::QemuKernel, "autostart=spin1.cfg,spin-w512.cfg,spin-w1024.cfg test=sched-share want=256:512:1024", SCHED_FAIRNESS, SCHED_FORBID, 0) },
    Scenario { timeout_s: 600, ..dom0("sched-fairness-bochs-vmx", "the weighted shares on VMX", Platform::BochsVmx, "autostart=spin1.cfg,spin-w512.cfg,spin-w1024.cfg test=sched-share want=256:512:1024", SCHED_FAIRNESS, SCHED_FORBID, 0) },
    Scenario { timeout_s: 120, ..dom0("sched-fairness-2vcpu", "three CPU-bound DomUs of 2 vCPUs each, weights 256/512/1024, on the one AP of 2 CPUs: shares within 5 points of 1:2:4", Platform::QemuKernel, "autostart=spin2v-w256.cfg,spin2v-w512.cfg,spin2v-w1024.cfg test=sched-share want=256:512:1024", SCHED_FAIRNESS_2VCPU, SCHED_FORBID, 0) },
    Scenario { timeout_s: 600, ..dom0("sched-fairness-2vcpu-bochs-vmx", "the 2-vCPU weighted shares on VMX", Platform::BochsVmx, "autostart=spin2v-w256.cfg,spin2v-w512.cfg,spin2v-w1024.cfg test=sched-share want=256:512:1024", SCHED_FAIRNESS_2VCPU, SCHED_FORBID, 0) },
    // Credit2's weight is each vCPU's: a domain's share is weight x vCPUs.
    Scenario { timeout_s: 120, ..dom0("sched-overcommit", "16 CPU-bound vCPUs in six DomUs (4+4+2+2+2+2 vCPUs, weights 256 256 256 512 1024 256) on the one AP of 2 CPUs: every vCPU runs, each domain within 5 points of its weight x vCPUs share", Platform::QemuKernel, "autostart=spin4v-1.cfg,spin4v-2.cfg,spin2v-w256.cfg,spin2v-w512.cfg,spin2v-w1024.cfg,spin2v-2.cfg test=sched-share want=1024:1024:512:1024:2048:512", SCHED_OVERCOMMIT_16, SCHED_FORBID, 0) },
    Scenario { timeout_s: 120, ..dom0("sched-overcommit-6", "six CPU-bound 1-vCPU DomUs (weights 256 x4, 512, 1024) on the one AP of 2 CPUs: all run, each within 5 points of its weight's share", Platform::QemuKernel, "autostart=spin1.cfg,spin2.cfg,spin3.cfg,spin4.cfg,spin-w512.cfg,spin-w1024.cfg test=sched-share want=256:256:256:256:512:1024", SCHED_OVERCOMMIT, SCHED_FORBID, 0) },
    Scenario { timeout_s: 120, ..dom0("sched-cap", "a CPU-bound DomU capped at 30% beside an uncapped one on the one AP of 2 CPUs: it gets 30% of the CPU (within 5 points), the other the rest", Platform::QemuKernel, "autostart=spin-cap30.cfg,spin1.cfg test=sched-share want=30:70", SCHED_CAP, SCHED_FORBID, 0) },
    Scenario { timeout_s: 120, ..dom0("sched-latency", "Dom0 sleeps 10 ms 100 times while eight CPU-bound DomU vCPUs (four 2-vCPU domains) share the AP: it wakes on time (at most 50 ms late; the lateness is printed)", Platform::QemuKernel, "autostart=spin2v-w256.cfg,spin2v-w512.cfg,spin2v-w1024.cfg,spin2v-2.cfg test=sched-latency count=100", SCHED_LATENCY, SCHED_FORBID, 0) },
    // 4 CPUs: the APs admit the six in turn, two each, and share out.
    Scenario { smp: 4, timeout_s: 120, ..dom0("sched-overcommit-smp4", "six CPU-bound DomUs of equal weight on the three APs of 4 CPUs: each AP takes two, every one gets 1/6 of their CPU time (within 5 points)", Platform::QemuKernel, "autostart=spin1.cfg,spin2.cfg,spin3.cfg,spin4.cfg,spin5.cfg,spin6.cfg test=sched-share want=1:1:1:1:1:1", SCHED_OVERCOMMIT_SMP4, SCHED_FORBID, 0) },
    Scenario { timeout_s: 600, ..dom0("sched-overcommit-bochs-vmx", "six CPU-bound DomUs on one AP on VMX", Platform::BochsVmx, "autostart=spin1.cfg,spin2.cfg,spin3.cfg,spin4.cfg,spin-w512.cfg,spin-w1024.cfg test=sched-share want=256:256:256:256:512:1024", SCHED_OVERCOMMIT, SCHED_FORBID, 0) },
    Scenario { timeout_s: 600, ..dom0("sched-cap-bochs-vmx", "the 30% cap on VMX", Platform::BochsVmx, "autostart=spin-cap30.cfg,spin1.cfg test=sched-share want=30:70", SCHED_CAP, SCHED_FORBID, 0) },
    Scenario { timeout_s: 600, ..dom0("sched-latency-bochs-vmx", "Dom0's wake-ups beside eight spinning DomU vCPUs on VMX", Platform::BochsVmx, "autostart=spin2v-w256.cfg,spin2v-w512.cfg,spin2v-w1024.cfg,spin2v-2.cfg test=sched-latency count=100", SCHED_LATENCY, SCHED_FORBID, 0) },
    // A domain's vCPUs: brought up with VCPUOP_initialise + up; on 2 CPUs
    // they share the one AP.
    Scenario { ..dom0("smp-guest", "a 4-vCPU PVH DomU on 2 CPUs starts vCPUs 1-3 (VCPUOP_initialise + up): every vCPU sums its slice, and every sum is right", Platform::QemuKernel, "run=smp4.cfg", SMP_GUEST, SCHED_FORBID, 0) },
    Scenario { ..dom0("smp-guest-bochs-vmx", "the 4-vCPU DomU on VMX", Platform::BochsVmx, "run=smp4.cfg", SMP_GUEST, SCHED_FORBID, 0) },
    // 4 CPUs: the DomU's vCPUs spread over the three APs.
    Scenario { smp: 4, ..dom0("smp-guest-smp4", "the 4-vCPU DomU on 4 CPUs: its vCPUs run on all three APs at once, every sum right", Platform::QemuKernel, "run=smp4.cfg", SMP_GUEST_SMP4, SCHED_FORBID, 0) },
    // Issue 13: frames taken from a DomU while it runs on the AP.
    Scenario { ..dom0("tlb-shootdown", "Dom0 takes 300 frames from a DomU running on the other CPU (add_to_physmap over the page it watches) and reuses each at once: the DomU never sees one again, Dom0's marks stay", Platform::QemuKernel, "autostart=tlb.cfg test=tlb-shootdown rounds=300", TLB_SHOOTDOWN, TLB_FORBID, 0) },
    Scenario { ..dom0("tlb-shootdown-bochs-vmx", "the shootdown on VMX", Platform::BochsVmx, "autostart=tlb.cfg test=tlb-shootdown rounds=100", TLB_SHOOTDOWN_BOCHS, TLB_FORBID, 0) },
    Scenario { smp: 4, ..dom0("vcpu-migrate", "a running DomU's vCPU pinned to each of the three APs of 4 CPUs in turn (setvcpuaffinity): it moves there and runs, 20 times, its memory intact", Platform::QemuKernel, "autostart=tlb.cfg test=vcpu-migrate moves=20", VCPU_MIGRATE, VCPU_MIGRATE_FORBID, 0) },
    Scenario { smp: 4, ..dom0("sched-balance", "four spinners on the three APs of 4 CPUs (two share one AP); Dom0 destroys one that is alone on its AP: load balancing moves one of the pair there within 2 s, all still run", Platform::QemuKernel, "autostart=spin1.cfg,spin2.cfg,spin3.cfg,spin4.cfg test=sched-balance", SCHED_BALANCE, SCHED_BALANCE_FORBID, 0) },
    Scenario { smp: 4, ..dom0("sched-soft", "three spinners whose soft affinity is CPU 3, on the three APs of 4 CPUs: admission and balancing keep two there and move the third off it (soft affinity weighs as much as three vCPUs of load); all run", Platform::QemuKernel, "autostart=spin-soft3-1.cfg,spin-soft3-2.cfg,spin-soft3-3.cfg test=sched-soft", SCHED_SOFT, SCHED_BALANCE_FORBID, 0) },
    Scenario { smp: 4, timeout_s: 300, ..dom0("sched-soft-bochs-vmx", "the soft affinity placement on VMX (4 CPUs)", Platform::BochsVmx, "autostart=spin-soft3-1.cfg,spin-soft3-2.cfg,spin-soft3-3.cfg test=sched-soft", SCHED_SOFT, SCHED_BALANCE_FORBID, 0) },
    Scenario { smp: 3, timeout_s: 300, ..dom0("sched-balance-bochs-vmx", "three spinners on the two APs of 3 CPUs on VMX: one alone on its AP is destroyed, the pair spreads", Platform::BochsVmx, "autostart=spin1.cfg,spin2.cfg,spin3.cfg test=sched-balance", SCHED_BALANCE, SCHED_BALANCE_FORBID, 0) },
    Scenario { smp: 3, timeout_s: 300, ..dom0("vcpu-migrate-bochs-vmx", "the moves between two APs on VMX (VMCLEAR, then the VMCS loaded with the new CPU's host state)", Platform::BochsVmx, "autostart=tlb.cfg test=vcpu-migrate moves=10", VCPU_MIGRATE_BOCHS, VCPU_MIGRATE_FORBID, 0) },
    // Issue 11: Dom0's xenstored.
    Scenario { smp: 3, ..dom0("xenstore", "a DomU runs the xenstore wire-protocol suite against Dom0's xenstored (every request, permissions, watches, a transaction conflict with a peer DomU, each quota): TAP, 0 failed", Platform::QemuKernel, "autostart=xenstore-peer.cfg run=xenstore-test.cfg", XENSTORE, XENSTORE_FORBID, 0) },
    Scenario { smp: 3, ..dom0("xenstore-bochs-vmx", "the xenstore suite on VMX", Platform::BochsVmx, "autostart=xenstore-peer.cfg run=xenstore-test.cfg", XENSTORE, XENSTORE_FORBID, 0) },
    Scenario { smp: 4, ..dom0("xenstore-rogue", "DomUs that break their store ring (a bad index, an oversized message) are disconnected with a log line; another DomU's suite is still answered", Platform::QemuKernel, "autostart=xenstore-rogue-index.cfg,xenstore-rogue-big.cfg run=xenstore-test-alone.cfg", XENSTORE_ROGUE, XENSTORE_ROGUE_FORBID, 0) },
    Scenario { smp: 4, ..dom0("xenstore-rogue-bochs-vmx", "rogue store rings on VMX", Platform::BochsVmx, "autostart=xenstore-rogue-index.cfg,xenstore-rogue-big.cfg run=xenstore-test-alone.cfg", XENSTORE_ROGUE, XENSTORE_ROGUE_FORBID, 0) },
    Scenario {
        com2: Some(Com2Script { com1: false, after: "dom0: the shell is on COM2", input: XENSTORE_SHUTDOWN_INPUT, expect: XENSTORE_SHUTDOWN_COM2 }),
        smp: 3,
        ..dom0("xenstore-shutdown", "the shell's xenstore-* commands, and `shutdown NAME` through control/shutdown: the DomU watching it powers off by itself, one ignoring it is shut down hard after 3 s", Platform::QemuKernel, "autostart=xenstore-shutdown.cfg,xenstore-deaf.cfg shell", XENSTORE_SHUTDOWN, XENSTORE_SHUTDOWN_FORBID, 0)
    },
    // Bochs has no COM2 to type on: Dom0 does what `shutdown NAME` does itself.
    Scenario { smp: 3, ..dom0("xenstore-shutdown-bochs-vmx", "shutdown through control/shutdown on VMX (Dom0 asks, no shell): one DomU powers off by itself, one is shut down hard after 3 s", Platform::BochsVmx, "autostart=xenstore-shutdown.cfg,xenstore-deaf.cfg test=xenstore-shutdown", XENSTORE_SHUTDOWN_DIRECT, XENSTORE_SHUTDOWN_FORBID, 0) },
    // Issue 12: Debian's stock Linux as a PVH DomU, from a config given to
    // `--create` (the harness packs it as `run --create` does). Dom0 sizes
    // its heap from dom0_mem: the xz kernel decompresses to a 63 MiB ELF
    // with a 32 MiB dictionary. Bochs has no COM2: its twins are extended
    // and only need Linux's userspace marker (its shell waits on hvc0).
    Scenario {
        create: &["configs/linux/linux-pvh.cfg"],
        com2: Some(Com2Script { com1: false, after: "xl: linux-pvh.cfg: created domain 1", input: LINUX_DOMU_INPUT, expect: LINUX_DOMU_COM2 }),
        ..linux("linux-pvh-domu", "Debian's Linux (bzImage, xz) as a PVH DomU from `--create`, busybox initramfs: userspace, a command typed through `console linux` answers, `shutdown linux` powers it off through control/shutdown, free pages exactly back", Platform::QemuKernel, "shell until-gone", LINUX_DOMU)
    },
    // Issue 13: Linux brings its second vCPU up by INIT-SIPI-SIPI.
    Scenario {
        create: &["configs/linux/linux-smp.cfg"],
        com2: Some(Com2Script { com1: false, after: "xl: linux-smp.cfg: created domain 1", input: LINUX_SMP_INPUT, expect: LINUX_SMP_COM2 }),
        ..linux("linux-smp", "Debian's Linux as a 2-vCPU PVH DomU: its second vCPU starts by INIT-SIPI-SIPI into the real-mode trampoline, /proc/cpuinfo shows 2 CPUs and a command runs pinned on each (taskset); with both busy on the one AP, its steal time (from the runstate area) grows; `shutdown linux` powers it off", Platform::QemuKernel, "shell until-gone", LINUX_SMP)
    },
    Scenario {
        create: &["configs/linux/linux-smp.cfg"],
        com2: Some(Com2Script { com1: false, after: "xl: linux-smp.cfg: created domain 1", input: LINUX_VCPU_SET_INPUT, expect: LINUX_VCPU_SET_COM2 }),
        ..linux("linux-vcpu-set", "xl's vcpu-set on the 2-vCPU Linux DomU: `vcpu-set linux 1` (cpu/1/availability offline) and Linux's cpu-hotplug watch takes CPU 1 down (its vCPU halts and goes down); `vcpu-set linux 2` and CPU 1 comes back by INIT-SIPI-SIPI when onlined", Platform::QemuKernel, "shell until-gone", LINUX_VCPU_SET)
    },
    Scenario {
        create: &["configs/linux/linux-smp-poweroff.cfg"],
        ..linux("linux-smp-bochs-vmx", "the 2-vCPU Linux DomU on VMX: vCPU 1 starts in real mode (unrestricted guest) by INIT-SIPI-SIPI, a process pinned to each CPU runs there, then it powers off", Platform::BochsVmx, "idle until-gone", LINUX_SMP_BOCHS)
    },
    Scenario {
        create: &["configs/linux/linux-pvh.cfg"],
        com2: Some(Com2Script { com1: false, after: "xl: linux-pvh.cfg: created domain 1", input: LINUX_XENSTORE_INPUT, expect: LINUX_XENSTORE_COM2 }),
        ..linux("linux-pvh-xenstore", "the Linux DomU reads its uuid through xenbus (/sys/hypervisor/uuid = the toolstack's /vm/<uuid>), and xl-style `shutdown linux` powers it off through control/shutdown", Platform::QemuKernel, "shell until-gone", LINUX_XENSTORE)
    },
    // Bochs has no COM2: Dom0 does what `shutdown linux` does itself, once
    // Linux's xenbus says it handles control/shutdown.
    Scenario {
        create: &["configs/linux/linux-pvh.cfg"],
        ..linux("linux-pvh-xenstore-bochs-vmx", "the Linux DomU on VMX sets control/feature-poweroff through xenbus, and powers off by itself through control/shutdown when Dom0 asks once its shell runs", Platform::BochsVmx, "test=xenstore-shutdown shutdown=linux wait=3000 ready=linux-init:+shell+on+the+console", LINUX_XENSTORE_DIRECT)
    },
    Scenario {
        create: &["configs/linux/linux-pvh-poweroff.cfg"],
        ..linux("linux-pvh-domu-bochs-vmx", "Debian's Linux as a PVH DomU on VMX reaches userspace and powers off (no COM2 on Bochs to type on); free pages exactly back", Platform::BochsVmx, "idle until-gone", LINUX_DOMU_BOCHS)
    },
    // Issue 13: Linux's own balloon driver follows `mem-set` (memory/target).
    Scenario {
        create: &["configs/linux/linux-pvh.cfg"],
        ..linux("balloon", "Dom0 halves the Linux DomU's memory with mem-set (memory/target) and gives it back: Linux's xen-balloon follows, every page it gives back reaches the free pool (less the p2m tables that split its 2 MiB mappings), every page it takes back leaves it; free pages exactly back once it is gone", Platform::QemuKernel, "test=balloon balloon=linux wait=300 ready=linux-init:+shell+on+the+console until-gone", BALLOON)
    },
    Scenario {
        create: &["configs/linux/linux-pvh.cfg"],
        ..linux("balloon-bochs-vmx", "ballooning Linux on VMX", Platform::BochsVmx, "test=balloon balloon=linux wait=3000 ready=linux-init:+shell+on+the+console until-gone", BALLOON)
    },
    // Debian's Linux as the PVH Dom0 (`run --dom0 vmlinuz --module
    // initrd.gz`): its hvc0 is the hypervisor's console (console_io and
    // VIRQ_CONSOLE), typed on through COM1; `poweroff -f` ends in ACPI S5,
    // which the hypervisor turns into Dom0's poweroff.
    Scenario {
        dom0_file: Some("debian:vmlinuz"),
        modules: &["debian:initrd.gz"],
        com2: Some(Com2Script { com1: true, after: "linux-init: shell on the console", input: LINUX_DOM0_INPUT, expect: LINUX_DOM0_COM1 }),
        ..linux("linux-pvh-dom0", "Debian's Linux (bzImage, xz) as the PVH Dom0 with the busybox initramfs: userspace, a command typed on COM1 (hvc0) answers, poweroff through ACPI S5 ends the run with exit code 0", Platform::QemuKernel, "console=hvc0", LINUX_DOM0)
    },
    // Issue 13: a 2-vCPU Linux Dom0 (`dom0_max_vcpus=2`): vCPU 1 starts by
    // INIT-SIPI and runs on the AP.
    Scenario {
        dom0_file: Some("debian:vmlinuz"),
        modules: &["debian:initrd.gz"],
        cmdline: "loglvl=info dom0_mem=256M dom0_max_vcpus=2",
        com2: Some(Com2Script { com1: true, after: "linux-init: shell on the console", input: LINUX_DOM0_INPUT, expect: LINUX_DOM0_COM1 }),
        ..linux("linux-smp-dom0", "Debian's Linux as a 2-vCPU PVH Dom0 (dom0_max_vcpus=2): vCPU 1 starts by INIT-SIPI-SIPI on the AP, 2 CPUs, a process pinned to each runs there, a typed command answers, ACPI S5 ends the run", Platform::QemuKernel, "console=hvc0", LINUX_SMP_DOM0)
    },
    Scenario {
        dom0_file: Some("debian:vmlinuz"),
        modules: &["debian:initrd.gz"],
        cmdline: "loglvl=info dom0_mem=256M dom0_max_vcpus=2",
        ..linux("linux-smp-dom0-bochs-vmx", "the 2-vCPU Linux Dom0 on VMX: both CPUs up, a process pinned to each, ACPI S5", Platform::BochsVmx, "console=hvc0 linux-init=poweroff", LINUX_SMP_DOM0_BOCHS)
    },
    Scenario {
        dom0_file: Some("debian:vmlinuz"),
        modules: &["debian:initrd.gz"],
        ..linux("linux-pvh-dom0-bochs-vmx", "Debian's Linux as the PVH Dom0 on VMX reaches userspace and powers off through ACPI S5 (Bochs has no console to type on)", Platform::BochsVmx, "console=hvc0 linux-init=poweroff", LINUX_DOM0_BOCHS)
    },
];

const SCHED_FAIRNESS: &[&str] = &[
    "xl: spin-w1024.cfg: created domain 3",
    "(d3) demo: domain 3 spins on 1 vCPU",
    "xl: sched-share: 3 domains over ",
    "xl: sched-share: ok: every share within 5 points",
    "d0 powered off; all its frames freed",
    "hv: exit code=0",
];
const SCHED_OVERCOMMIT: &[&str] = &[
    "xl: spin-w1024.cfg: created domain 6",
    "(d6) demo: domain 6 spins on 1 vCPU",
    "xl: sched-share: 6 domains over ",
    "xl: sched-share: ok: every share within 5 points",
    "d0 powered off; all its frames freed",
    "hv: exit code=0",
];
const SCHED_OVERCOMMIT_16: &[&str] = &[
    "xl: spin2v-2.cfg: created domain 6",
    "xl: sched-share: 6 domains over ",
    "xl: sched-share: every one of the 16 vCPUs ran",
    "xl: sched-share: ok: every share within 5 points",
    "d0 powered off; all its frames freed",
    "hv: exit code=0",
];
const SCHED_OVERCOMMIT_SMP4: &[&str] = &[
    "xl: spin6.cfg: created domain 6",
    "(d6) demo: domain 6 spins on 1 vCPU",
    "xl: sched-share: 6 domains over ",
    "xl: sched-share: ok: every share within 5 points",
    "d0 powered off; all its frames freed",
    "hv: exit code=0",
];
const SMP_GUEST: &[&str] = &[
    "xl: smp4.cfg: created domain 1",
    "(d1) demo: smp: 4 of 4 vCPUs ran, 4 sums right",
    "d0 powered off; all its frames freed",
    "hv: exit code=0",
];
/// Each AP takes one of its vCPUs at least (in which order is the APs').
const SMP_GUEST_SMP4: &[&str] = &[
    "xl: smp4.cfg: created domain 1",
    "sched: runs on cpu3 at",
    "(d1) demo: smp: 4 of 4 vCPUs ran, 4 sums right",
    "d0 powered off; all its frames freed",
    "hv: exit code=0",
];
const SCHED_FAIRNESS_2VCPU: &[&str] = &[
    "xl: spin2v-w1024.cfg: created domain 3",
    "(d3) demo: domain 3 spins on 2 vCPUs",
    "xl: sched-share: 3 domains over ",
    "xl: sched-share: ok: every share within 5 points",
    "d0 powered off; all its frames freed",
    "hv: exit code=0",
];
const SCHED_CAP: &[&str] = &[
    "xl: spin1.cfg: created domain 2",
    "(d2) demo: domain 2 spins on 1 vCPU",
    "xl: sched-share: 2 domains over ",
    "xl: sched-share: ok: every share within 5 points",
    "d0 powered off; all its frames freed",
    "hv: exit code=0",
];
const SCHED_LATENCY: &[&str] = &[
    "xl: spin2v-2.cfg: created domain 4",
    "xl: sched-latency: ok: 100 sleeps of 10 ms woke late by ",
    "d0 powered off; all its frames freed",
    "hv: exit code=0",
];
const SCHED_FORBID: &[&str] = &["PANIC", "FATAL", "domain crashed", "sched-share: FAILED", "sched-latency: FAILED"];

const TLB_SHOOTDOWN: &[&str] = &[
    "(d1) demo: tlb: watching gfn 0x800",
    "(d1) demo: tlb: 10 fresh pages seen",
    "dom0: tlb-shootdown: 300 frames taken from the running DomU and reused; it never saw one again",
    "d0 powered off; all its frames freed",
    "hv: exit code=0",
];
const TLB_SHOOTDOWN_BOCHS: &[&str] = &[
    "(d1) demo: tlb: watching gfn 0x800",
    "dom0: tlb-shootdown: 100 frames taken from the running DomU and reused; it never saw one again",
    "d0 powered off; all its frames freed",
    "hv: exit code=0",
];
const TLB_FORBID: &[&str] = &["PANIC", "FATAL", "domain crashed", "tlb: FOUND", "tlb-shootdown: FAILED"];

const SCHED_BALANCE: &[&str] = &[
    "xl: sched-balance: placed ",
    "sched: leaves cpu",
    "sched: moved to cpu",
    "xl: sched-balance: ok: one spinner per AP again ",
    "d0 powered off; all its frames freed",
    "hv: exit code=0",
];
const SCHED_SOFT: &[&str] = &[
    "xl: spin-soft3-3.cfg: created domain 3",
    "xl: sched-soft: ok: two on their soft CPU 3, one moved off it",
    "d0 powered off; all its frames freed",
    "hv: exit code=0",
];
const SCHED_BALANCE_FORBID: &[&str] = &["PANIC", "FATAL", "domain crashed", "sched-balance: FAILED", "sched-soft: FAILED", "could not be"];
const VCPU_MIGRATE: &[&str] = &[
    "(d1) demo: tlb: watching gfn 0x800",
    "sched: moved to cpu",
    "xl: vcpu-migrate: ok: d1v0 moved 20 times between the 3 APs and ran after each",
    "d0 powered off; all its frames freed",
    "hv: exit code=0",
];
const VCPU_MIGRATE_BOCHS: &[&str] = &[
    "(d1) demo: tlb: watching gfn 0x800",
    "xl: vcpu-migrate: ok: d1v0 moved 10 times between the 2 APs and ran after each",
    "d0 powered off; all its frames freed",
    "hv: exit code=0",
];
const VCPU_MIGRATE_FORBID: &[&str] = &["PANIC", "FATAL", "domain crashed", "tlb: FOUND", "vcpu-migrate: FAILED", "could not be"];

const NO_LEAK: &[&str] = &[
    "xl: no-leak: 100 domains, ",
    "demo: scrub: ",
    "xl: no-leak: 100 domains created, run and destroyed; free pages ",
    "d0 powered off; all its frames freed",
    "hv: exit code=0",
];
const NO_LEAK_1000: &[&str] = &[
    "xl: no-leak: 1000 domains, ",
    "demo: scrub: ",
    "xl: no-leak: 500 domains so far",
    "xl: no-leak: 1000 domains created, run and destroyed; free pages ",
    "d0 powered off; all its frames freed",
    "hv: exit code=0",
];
const NO_LEAK_FORBID: &[&str] = &["PANIC", "FATAL", "FAILED", "FOUND", "NOT back", "xl: error"];
const BALLOON: &[&str] = &[
    "xen:balloon: Initialising balloon driver",
    "linux-init: shell on the console",
    "xl: mem-set linux 128: memory/target = 131072 KiB",
    "xl: balloon down: ok: linux ",
    "xl: mem-set linux 256: memory/target = 262144 KiB",
    "xl: balloon up: ok: linux ",
    "xl: linux (d1) powered off: destroyed",
    ", as before the first was created",
    "d0 powered off; all its frames freed",
    "hv: exit code=0",
];
const LINUX_DOM0: &[&str] = &[
    "d0: PVH kernel entry 0x",
    "] Linux version ",
    "linux-init: userspace reached",
    "linux-init: hypervisor xen",
    "linux-init: shell on the console",
    "answer-42",
    "power: ACPI sleep (PM1 control ",
    "d0 powered off; all its frames freed",
    "hv: exit code=0",
];
const LINUX_SMP_DOM0: &[&str] = &[
    "d0: PVH kernel entry 0x",
    "] smp: Bringing up secondary CPUs ...",
    "to d0v1: Started",
    "d0v1 info sched: runs on cpu1",
    "] smp: Brought up 1 node, 2 CPUs",
    "linux-init: userspace reached",
    ", 2 CPU(s)",
    "linux-init: pinned to CPU 0, ran on CPU 0",
    "linux-init: pinned to CPU 1, ran on CPU 1",
    "linux-init: shell on the console",
    "answer-42",
    "power: ACPI sleep (PM1 control ",
    "d0 powered off; all its frames freed",
    "hv: exit code=0",
];
const LINUX_SMP_DOM0_BOCHS: &[&str] = &[
    "d0: PVH kernel entry 0x",
    "to d0v1: Started",
    "] smp: Brought up 1 node, 2 CPUs",
    "linux-init: pinned to CPU 1, ran on CPU 1",
    "linux-init: powering off",
    "power: ACPI sleep (PM1 control ",
    "hv: exit code=0",
];
const LINUX_DOM0_INPUT: &str = "echo answer-$((6*7))\r{wait:answer-42}poweroff -f\r";
const LINUX_DOM0_COM1: &[&str] = &["answer-42", "reboot: Power down", "hv: exit code=0"];
const LINUX_DOM0_BOCHS: &[&str] = &[
    "d0: PVH kernel entry 0x",
    "] Linux version ",
    "linux-init: userspace reached",
    "linux-init: powering off",
    "power: ACPI sleep (PM1 control ",
    "d0 powered off; all its frames freed",
    "hv: exit code=0",
];

/// A Debian Linux scenario: 1 GiB, Dom0's heap sized by [`LINUX_CMDLINE`],
/// Debian's files fetched first; on Bochs (far slower) extended.
const fn linux(name: &'static str, description: &'static str, platform: Platform, dom0_cmdline: &'static str, expect: &'static [&'static str]) -> Scenario {
    Scenario {
        mem_mib: 1024,
        cmdline: LINUX_CMDLINE,
        timeout_s: if platform.is_qemu() { 300 } else { 3600 },
        extended: !platform.is_qemu(),
        debian: true,
        ..dom0(name, description, platform, dom0_cmdline, expect, LINUX_FORBID, 0)
    }
}

/// Room for Dom0's heap (Linux's decompression) and the 256 MiB DomU.
const LINUX_CMDLINE: &str = "loglvl=info dom0_mem=256M";
/// A DomU that ignores control/shutdown is shut down hard after 3 s: Linux
/// must power off by itself (`reboot: System halted`, then HLT with
/// interrupts off: the hypervisor powers the domain off, as Xen's
/// hvm_vcpu_down). Its xenbus must not be refused a key it writes.
const LINUX_FORBID: &[&str] =
    &["PANIC", "FATAL", "xl: error", "panic", "domain crashed", "Kernel panic", "shutting it down hard", "Error -13", "NOT as before", "triple fault"];
/// COM1: the kernel's own lines come through console_io (earlyprintk=xen
/// keep_bootcon), and so do /init's (it writes them to /dev/kmsg too).
const LINUX_DOMU: &[&str] = &[
    "xl: create/linux-pvh/vmlinuz: bzImage, ",
    "] Linux version ",
    "] ACPI: RSDP 0x00000000000FFFC0",
    "linux-init: userspace reached",
    "reboot: ",
    "xl: linux (d1) powered off: destroyed",
    ", as before the first was created",
    "d0 powered off; all its frames freed",
    "hv: exit code=0",
];
const LINUX_DOMU_INPUT: &str = "console linux\r{wait:linux-init: shell on the console}echo answer-$((6*7))\r{wait:answer-42}\x1dshutdown linux\r{wait:powered off: destroyed}";
const LINUX_DOMU_COM2: &[&str] = &[
    "[console of linux (d1)",
    "linux-init: userspace reached",
    "linux-init: hypervisor xen",
    "linux-init: shell on the console",
    "answer-42",
    "[linux (d1): detached]",
    "shutting down: asked through control/shutdown (poweroff)",
    "xl: linux (d1) powered off: destroyed",
    "every domain is gone (until-gone): powering off",
];
const LINUX_XENSTORE: &[&str] = &[
    "xl: create/linux-pvh/vmlinuz: bzImage, ",
    "] Linux version ",
    "linux-init: hypervisor xen",
    "linux-init: uuid 00000000-0000-4000-8000-000000000001",
    "reboot: ",
    "xl: linux (d1) powered off: destroyed",
    "d0 powered off; all its frames freed",
    "hv: exit code=0",
];
/// The toolstack's first domain gets uuid 00000000-0000-4000-8000-000000000001.
const LINUX_SMP: &[&str] = &[
    "xl: create/linux-smp/vmlinuz: bzImage, ",
    "] smp: Bringing up secondary CPUs ...",
    "to d1v1: Started",
    "d1v1 info sched: runs on cpu",
    "] smp: Brought up 1 node, 2 CPUs",
    "linux-init: userspace reached",
    ", 2 CPU(s)",
    "linux-init: pinned to CPU 0, ran on CPU 0",
    "linux-init: pinned to CPU 1, ran on CPU 1",
    "reboot: ",
    "xl: linux (d1) powered off: destroyed",
    ", as before the first was created",
    "d0 powered off; all its frames freed",
    "hv: exit code=0",
];
const LINUX_VCPU_SET: &[&str] = &[
    "] smp: Brought up 1 node, 2 CPUs",
    "linux-init: shell on the console",
    "d1v1 info hvm: vcpu down (HLT with interrupts off), 1 still up",
    "to d1v1: Started",
    "xl: linux (d1) powered off: destroyed",
    "hv: exit code=0",
];
const LINUX_VCPU_SET_INPUT: &str = "console linux\r{wait:linux-init: shell on the console}\x1dvcpu-set linux 1\r{wait:1 of 2 vCPUs online}console linux\rsleep 1; echo online=$(cat /sys/devices/system/cpu/online)end\r{wait:online=0end}\x1dvcpu-set linux 2\r{wait:2 of 2 vCPUs online}console linux\rsleep 1; echo 1 > /sys/devices/system/cpu/cpu1/online; echo online=$(cat /sys/devices/system/cpu/online)end cpus=$(grep -c ^processor /proc/cpuinfo)\r{wait:online=0-1end cpus=2}\x1dshutdown linux\r{wait:powered off: destroyed}";
const LINUX_VCPU_SET_COM2: &[&str] = &[
    "linux-init: shell on the console",
    "1 of 2 vCPUs online",
    "online=0end",
    "2 of 2 vCPUs online",
    "online=0-1end cpus=2",
    "xl: linux (d1) powered off: destroyed",
];
const LINUX_SMP_BOCHS: &[&str] = &[
    "xl: create/linux-smp-poweroff/vmlinuz: bzImage, ",
    "to d1v1: Started",
    "] smp: Brought up 1 node, 2 CPUs",
    ", 2 CPU(s)",
    "linux-init: pinned to CPU 0, ran on CPU 0",
    "linux-init: pinned to CPU 1, ran on CPU 1",
    "linux-init: powering off",
    "xl: linux (d1) powered off: destroyed",
    ", as before the first was created",
    "hv: exit code=0",
];
const LINUX_SMP_INPUT: &str = "console linux\r{wait:linux-init: shell on the console}echo cpus=$(grep -c ^processor /proc/cpuinfo)\r{wait:cpus=}taskset -c 0 sh -c 'echo on-cpu0-$((6*7))'\r{wait:on-cpu0-42}taskset -c 1 sh -c 'echo on-cpu1-$((6*7))'\r{wait:on-cpu1-42}s0=$(awk '/^cpu /{print $9}' /proc/stat); for c in 0 1; do taskset -c $c sh -c 'i=0; while [ $i -lt 30000 ]; do i=$((i+1)); done' & done; wait; s1=$(awk '/^cpu /{print $9}' /proc/stat); echo steal-ticks $s0 to $s1, grew=$((s1 > s0))\r{wait:, grew=1}\x1dshutdown linux\r{wait:powered off: destroyed}";
const LINUX_SMP_COM2: &[&str] = &[
    "linux-init: shell on the console",
    "cpus=2",
    "on-cpu0-42",
    "on-cpu1-42",
    ", grew=1",
    "[linux (d1): detached]",
    "xl: linux (d1) powered off: destroyed",
];
const LINUX_XENSTORE_INPUT: &str = "console linux\r{wait:linux-init: shell on the console}echo uuid=$(cat /sys/hypervisor/uuid)\r{wait:uuid=0}\x1dxenstore-read /vm/00000000-0000-4000-8000-000000000001/uuid\rshutdown linux\r{wait:powered off: destroyed}";
const LINUX_XENSTORE_COM2: &[&str] = &[
    "linux-init: shell on the console",
    "uuid=00000000-0000-4000-8000-000000000001",
    "[linux (d1): detached]",
    "00000000-0000-4000-8000-000000000001",
    "shutting down: asked through control/shutdown (poweroff)",
    "xl: linux (d1) powered off: destroyed",
];
const LINUX_XENSTORE_DIRECT: &[&str] = &[
    "xl: create/linux-pvh/vmlinuz: bzImage, ",
    "] Linux version ",
    "linux-init: uuid 00000000-0000-4000-8000-000000000001",
    "xl: shutdown linux: asked through control/shutdown (poweroff)",
    "reboot: System halted",
    "xl: linux (d1) powered off: destroyed",
    "xl: xenstore-shutdown: done",
    "d0 powered off; all its frames freed",
    "hv: exit code=0",
];
const LINUX_DOMU_BOCHS: &[&str] = &[
    "xl: create/linux-pvh-poweroff/vmlinuz: bzImage, ",
    "] Linux version ",
    "linux-init: userspace reached",
    "linux-init: powering off",
    "reboot: ",
    "xl: linux (d1) powered off: destroyed",
    ", as before the first was created",
    "hv: exit code=0",
];

const TOOLSTACK_FORBID: &[&str] = &["PANIC", "FATAL", "xl: error", "FAILED", "NOT back", "panic"];
/// crashy.cfg pins its vCPU to CPU 3: d3 and d4 (its restart) run nowhere else.
const LIFECYCLE_FORBID: &[&str] =
    &["PANIC", "FATAL", "xl: error", "FAILED", "NOT back", "panic", "cpu1 d3v0", "cpu2 d3v0", "cpu1 d4v0", "cpu2 d4v0"];
const BOOT_GRUB: &[&str] = &[
    "boot: hypervisor 0.1.0 starting (multiboot2 from GRUB 2",
    "hv: ready, 2 cpus online",
    "(d0) dom0: hello from the Rust Dom0 (PVH), start_info at",
    "xl: short.cfg: created domain 1",
    "(d1) demo: 3 ticks done, powering off",
    "d0 powered off; all its frames freed",
    "hv: exit code=0",
];
const BOOT_MULTIBOOT: &[&str] = &[
    "boot: hypervisor 0.1.0 starting (multiboot from qemu)",
    "hv: ready, 4 cpus online",
    "(d0) dom0: hello from the Rust Dom0 (PVH)",
    "xl: demo1.cfg: created domain 1",
    "(d2) demo: 3 ticks done, powering off",
    "back to the baseline",
    "d0 powered off; all its frames freed",
    "hv: exit code=0",
];
const LIFECYCLE: &[&str] = &[
    "xl: lifecycle: ",
    "xl: demo1.cfg: created domain 1",
    "xl: short.cfg: created domain 2",
    "xl: Name ",
    "xl: demo1 ",
    "xl: pause demo1: ok",
    "xl: unpause demo1: ok",
    "(d2) demo: 3 ticks done, powering off",
    "xl: short (d2) powered off: destroyed",
    "xl: crashy.cfg: created domain",
    "(d3) demo: crashing on purpose",
    "xl: crashy (d3) crashed: restarted as d4",
    "crashed: restarted as d5",
    "xl: shutdown demo1: ok",
    "xl: demo1 (d1) powered off: destroyed",
    "xl: destroy crashy: ok",
    "back to the baseline",
    "d0 powered off; all its frames freed",
    "hv: exit code=0",
];
const DOM0_SHELL: &[&str] = &["dom0: the shell is on COM2", "(d1) demo: hello from domain 1", "d0 powered off; all its frames freed", "hv: exit code=0"];
const SHELL_INPUT: &str = "help\rcreate demo1.cfg\rconsole demo1\r{wait:demo: domain 1 tick 1}hello{wait:read 5 bytes of input}\x1dlist\rpause demo1\rlist\runpause demo1\rsched-credit2\rsched-credit2 -d demo1 -w 512 -c 50\rvcpu-pin demo1 0 0\rvcpu-pin demo1 all 1-2 2\rvcpu-list demo1\rvcpu-list\rcreate nosuch.cfg\rdestroy nosuch\rfrobnicate\rinfo\rdmesg\rdestroy demo1\rlist\rcreate short.cfg\rconsole short\r{wait:stopped running}{wait:powered off: destroyed}list\rcreate sleeper.cfg\rconsole sleeper\r{wait:blocking for good}\x1ddestroy sleeper\rpoweroff\r";
const SHELL_EXPECT: &[&str] = &[
    "Dom0 shell",
    "xl> help",
    "commands: list | create FILE",
    "xl> create demo1.cfg",
    "created domain 1",
    "xl> console demo1",
    "[console of demo1 (d1): page gfn 0xfefff",
    "demo: hello from domain 1",
    "demo: domain 1 tick 1",
    "demo: domain 1 read 5 bytes of input: \"hello\"",
    "[demo1 (d1): detached]",
    "xl> list",
    "Name ",
    "Domain-0",
    "demo1 ",
    "xl> pause demo1",
    "paused",
    "demo1 ",
    "--p---",
    "xl> unpause demo1",
    "unpaused",
    "xl> sched-credit2",
    "Cpupool Pool-0: ratelimit=1000us",
    "Name                                ID Weight  Cap",
    "Domain-0                             0    256    0",
    "demo1                                1    256    0",
    "xl> sched-credit2 -d demo1 -w 512 -c 50",
    "demo1                                1    512   50",
    "xl> vcpu-pin demo1 0 0",
    "error: vCPU 0: setvcpuaffinity: ",
    "xl> vcpu-pin demo1 all 1-2 2",
    "pinned 1 vCPU(s) of domain 1",
    "xl> vcpu-list demo1",
    "Name                                ID  VCPU   CPU State   Time(s) Affinity (Hard / Soft)",
    "demo1                                1     0",
    "  1-2 / 2",
    "xl> vcpu-list",
    "Domain-0                             0     0    0 ",
    "demo1                                1     0",
    "error: nosuch.cfg: no such config in the boot bundle",
    "error: nosuch: no such domain",
    "error: unknown command `frobnicate`",
    "nr_cpus                : 3",
    "xen_version",
    "xen_scheduler          : credit2",
    "hv: ready",
    "xl> destroy demo1",
    "destroyed",
    "xl> console short",
    "[console of short (d",
    "demo: hello from domain",
    "demo: a ramdisk of ",
    "ticks done, powering off",
    "the domain stopped running; detached]",
    "powered off: destroyed",
    "xl> console sleeper",
    "demo: blocking for good",
    "xl> destroy sleeper",
    "destroyed",
    "destroying every DomU and powering off",
];
const BAD_CONFIGS: &[&str] = &["broken configs refused, nothing created", "d0 powered off; all its frames freed", "hv: exit code=0"];
const CONFORMANCE_DOMU: &[&str] = &[
    "xl: conformance.cfg: created domain 1",
    "(d1) TAP version 13",
    "(d1) 1..",
    " passed, 0 failed, ",
    "xl: conformance (d1) powered off: destroyed",
    "d0 powered off; all its frames freed",
    "hv: exit code=0",
];

/// Three ticks, none before the 100 ms it was armed for.
const TIMER_FORBID: &[&str] = &["EARLY", "stopping", "PANIC", "FATAL", "crash"];
const DOM0_TIMER: &[&str] = &[
    "(d0) dom0: timer: VIRQ_TIMER on port 1, a tick every 100 ms",
    "(d0) dom0: timer: tick 1: on time",
    "(d0) dom0: timer: tick 2: on time",
    "(d0) dom0: timer: tick 3: on time",
    "d0 powered off; all its frames freed",
    "hv: exit code=0",
];

/// The plan line comes last, then the summary (`# conformance: P passed, 0
/// failed, T known deviations (TODO)`).
const CONFORMANCE_64: &[&str] =
    &["(d0) TAP version 13", "(d0) 1..", " passed, 0 failed, ", "d0 powered off; all its frames freed", "hv: exit code=0"];
const CONFORMANCE_32: &[&str] =
    &["(d0) TAP version 13", "(d0) 1..", " passed, 0 failed, ", "d0 powered off; all its frames freed", "hv: exit code=0"];
const CONFORMANCE_FORBID: &[&str] = &["PANIC", "FATAL", "domain crashed"];

/// What the fuzzer (guests/fuzz) prints when every call returned: its banner,
/// the last progress line, the final line; then Dom0 powers off.
const FUZZ_SEED1: &[&str] = &[
    "(d0) fuzz: seed=1 count=100000",
    "(d0) fuzz: 100000 calls",
    "(d0) fuzz: seed=1, 100000 calls done, still alive",
    "d0 powered off; all its frames freed",
    "hv: exit code=0",
];

const FUZZ_SEED2: &[&str] = &[
    "(d0) fuzz: seed=2 count=100000",
    "(d0) fuzz: 100000 calls",
    "(d0) fuzz: seed=2, 100000 calls done, still alive",
    "d0 powered off; all its frames freed",
    "hv: exit code=0",
];

/// A crash, the fuzzer's health check failing, or a call from its CPL 3
/// that was not refused with -EPERM (`user`) ends the run at once.
const FUZZ_FORBID: &[&str] = &["PANIC", "FATAL", "domain crashed", "fuzz: after", "CPL 3 call not refused"];

/// The hostile DomU's TAP summary, the second one's, Dom0's verdicts on
/// its own attacks, the free-page count.
const HOSTILE_DOMU: &[&str] = &[
    "xl: hostile.cfg: created domain 1",
    "(d1) TAP version 13",
    "(d1) # attempting 10:",
    "(d1) # attempting 1:",
    "(d1) 1..",
    " passed, 0 failed, ",
    "dom0: hostile: ok - Dom0 kept running while d1 attacked",
    "xl: hostile-again.cfg: created domain 2",
    "(d2) 1..",
    " passed, 0 failed, ",
    "dom0: hostile: ok - 6: d3 is gone",
    "dom0: hostile: ok - 7: max_vcpus",
    "dom0: hostile: ok - 7: d4 is gone",
    "dom0: hostile: ok - free pages back to",
    "d0 powered off; all its frames freed",
    "hv: exit code=0",
];
const HOSTILE_DOM0: &[&str] = &[
    "(d0) TAP version 13",
    "(d0) # attempting 10:",
    "(d0) # attempting 1:",
    "(d0) 1..",
    " passed, 0 failed, ",
    "d0 powered off; all its frames freed",
    "hv: exit code=0",
];
/// The CPL 3 console_io text must never reach the console (check 2).
const HOSTILE_FORBID: &[&str] =
    &["PANIC", "FATAL", "FAILED", "panic", "xl: error", "CPL3 console_io LEAKED", "unexpected exception", "domain crashed"];

/// The fuzzers finish in any order: each one's last line, as many times as
/// there are fuzzers.
const FUZZ_CONCURRENT: &[&str] = &[
    "xl: fuzz-c3.cfg: created domain 3",
    ", 100000 calls done, still alive",
    ", 100000 calls done, still alive",
    ", 100000 calls done, still alive",
    "dom0: every domain is gone (until-gone)",
    "d0 powered off; all its frames freed",
    "hv: exit code=0",
];
const FUZZ_CONCURRENT_1M: &[&str] = &[
    "xl: fuzz-c3.cfg: created domain 3",
    "(d3) fuzz: seed=4, 100000 calls done, still alive",
    ", 1000000 calls done, still alive",
    ", 1000000 calls done, still alive",
    "dom0: every domain is gone (until-gone)",
    "d0 powered off; all its frames freed",
    "hv: exit code=0",
];
const FUZZ_CONCURRENT_SMP2: &[&str] = &[
    "xl: fuzz-c2.cfg: created domain 2",
    ", 100000 calls done, still alive",
    ", 100000 calls done, still alive",
    "dom0: every domain is gone (until-gone)",
    "d0 powered off; all its frames freed",
    "hv: exit code=0",
];
const FUZZ_CONCURRENT_FORBID: &[&str] =
    &["PANIC", "FATAL", "crashed", "fuzz: after", "xl: error", "still running after", "CPL 3 call not refused"];
const FUZZ_DOMU: &[&str] = &[
    "xl: fuzz.cfg: created domain 1",
    "(d1) fuzz: seed=3 count=50000",
    "(d1) fuzz: seed=3, 50000 calls done, still alive",
    "(d1) fuzz: coverage",
    "), every one -EPERM",
    "xl: fuzz (d1) powered off: destroyed",
    "d0 powered off; all its frames freed",
    "hv: exit code=0",
];
const FUZZ_DOMU_FORBID: &[&str] =
    &["PANIC", "FATAL", "domain crashed", "fuzz: after", "xl: error", "still running after", "CPL 3 call not refused"];
const FUZZ_LONG: &[&str] = &[
    "(d0) fuzz: seed=11 count=2000000",
    "(d0) fuzz: seed=15, 2000000 calls done, still alive",
    "), every one -EPERM",
    "(d0) fuzz: 5 seeds, 10000000 calls done, still alive",
    "d0 powered off; all its frames freed",
    "hv: exit code=0",
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

const XENSTORE: &[&str] = &[
    "xenstored: d1 introduced",
    "xl: xenstore-peer.cfg: created domain 1",
    "xenstored: d2 introduced",
    "xl: xenstore-test.cfg: created domain 2",
    "(d2) TAP version 13",
    "xenstored: d2 exceeds the soft memory quota",
    "xenstored: d2 is below the soft memory quota again",
    "(d2) 1..",
    " passed, 0 failed",
    "xenstored: d2 released",
    "xl: xstest (d2) powered off: destroyed",
    "hv: exit code=0",
];
const XENSTORE_FORBID: &[&str] = &["PANIC", "FATAL", "xl: error", "FAILED", "panic", "not ok", "connection closed", "no reply"];
const XENSTORE_ROGUE: &[&str] = &[
    "xenstored: d1: bad ring index",
    "(d1) xenstore-test: rogue: the store set error 2 (XENSTORE_ERROR_RINGIDX)",
    "xenstored: d2: oversized message (5000 bytes of payload): connection closed",
    "(d2) xenstore-test: rogue: the store set error 3 (XENSTORE_ERROR_PROTO)",
    "xenstored: d3 exceeds the soft memory quota",
    "xenstored: d3 is below the soft memory quota again",
    "(d3) 1..",
    " passed, 0 failed",
    "xl: xstest (d3) powered off: destroyed",
    "hv: exit code=0",
];
const XENSTORE_ROGUE_FORBID: &[&str] = &["PANIC", "FATAL", "xl: error", "FAILED", "panic", "not ok", "NOT answered", "no reply", "d3: bad", "d3: oversized"];
const XENSTORE_SHUTDOWN: &[&str] = &[
    "xl: xenstore-shutdown.cfg: created domain 1",
    "(d1) xenstore-test: waiting for control/shutdown",
    "(d1) xenstore-test: control/shutdown says poweroff",
    "xenstored: d1 released",
    "(d2) xenstore-test: control/shutdown says poweroff; ignoring it",
    "xenstored: d2 released",
    "hv: exit code=0",
];
const XENSTORE_SHUTDOWN_FORBID: &[&str] = &["PANIC", "FATAL", "xl: error", "FAILED", "panic"];
const XENSTORE_SHUTDOWN_INPUT: &str = "console xsshut\r{wait:waiting for control/shutdown}\x1dxenstore-read /local/domain/1/name\rxenstore-write /local/domain/1/data/note hello world\rxenstore-read /local/domain/1/data/note\rxenstore-ls /local/domain/1/control\rxenstore-rm /local/domain/1/data/note\rxenstore-read /local/domain/1/data/note\rxenstore-read\rshutdown xsshut\r{wait:powered off: destroyed}xenstore-read /local/domain/1/name\rshutdown xsdeaf\r{wait:powered off: destroyed}poweroff\r";
const XENSTORE_SHUTDOWN_COM2: &[&str] = &[
    "waiting for control/shutdown",
    "xsshut",
    "hello world",
    "/local/domain/1/control = \"\"  (n0 r1)",
    "feature-poweroff = \"1\"",
    "error: ENOENT",
    "error: usage: xenstore-read PATH",
    "shutting down: asked through control/shutdown (poweroff)",
    "xl: xsshut (d1) powered off: destroyed",
    "error: ENOENT",
    "shutting down: asked through control/shutdown (poweroff)",
    "xl: xsdeaf (d2) did not shut down within 3 s of control/shutdown: shutting it down hard",
    "xl: xsdeaf (d2) powered off: destroyed",
];
const XENSTORE_SHUTDOWN_DIRECT: &[&str] = &[
    "xl: xenstore-shutdown.cfg: created domain 1",
    "xl: xenstore-deaf.cfg: created domain 2",
    "xl: shutdown xsshut: asked through control/shutdown (poweroff)",
    "(d1) xenstore-test: control/shutdown says poweroff; acknowledging and shutting down",
    "xl: xsshut (d1) powered off: destroyed",
    "xl: shutdown xsdeaf: asked through control/shutdown (poweroff)",
    "(d2) xenstore-test: control/shutdown says poweroff; ignoring it",
    "xl: xsdeaf (d2) did not shut down within 3 s of control/shutdown: shutting it down hard",
    "xl: xsdeaf (d2) powered off: destroyed",
    "xl: xenstore-shutdown: done",
    "hv: exit code=0",
];
