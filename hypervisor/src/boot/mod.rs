//! Platform bring-up, in order: console, memory, descriptor tables, own page
//! tables, ACPI, interrupt controllers and timers, virtualization, the other
//! CPUs. Then the hypervisor reports ready.

#![forbid(unsafe_code)]
#![cfg_attr(
    not(target_os = "none"),
    allow(dead_code, unused_imports, reason = "bring-up runs on bare metal only; the host build just type-checks it")
)]

pub mod bundle;
pub mod cmdline;
pub mod memmap;
pub mod multiboot;

use core::sync::atomic::Ordering;

use crate::arch::x86_64::{acpi, apic, cpu, gdt, idt, percpu, pic, power, serial, smp, tsc, virt};
use crate::mm::{self, MemoryRegion, RegionKind, paging, physmap};
use crate::platform::PlatformInfo;
use crate::{dom0, vcpu};

#[cfg(target_os = "none")]
use bootloader_api::{BootInfo, BootloaderConfig, config::Mapping, info::MemoryRegionKind};

#[cfg(target_os = "none")]
pub static BOOTLOADER_CONFIG: BootloaderConfig = {
    let mut config = BootloaderConfig::new_default();
    config.mappings.physical_memory = Some(Mapping::FixedAddress(physmap::PHYS_OFFSET));
    config.kernel_stack_size = 256 * 1024;
    config
};

/// Frames given to the hypervisor heap (4 MiB).
const HEAP_FRAMES: usize = 1024;
/// Most memory-map entries the hypervisor looks at (UEFI maps have ~100).
const MAX_REGIONS: usize = 512;
/// How long the boot CPU waits for an AP to finish its bring-up, or for
/// every CPU to see its timer and a test IPI.
const CPU_WAIT_US: u64 = 1_000_000;

/// Stops the machine with a message a user can act on.
fn fatal(what: core::fmt::Arguments) -> ! {
    error!("boot", "{what}");
    power::stop_machine(power::EXIT_FAILURE)
}

/// What a boot path hands to the shared bring-up.
struct Handoff<'a> {
    /// The memory map, with what the boot path still uses marked in use.
    regions: &'a [MemoryRegion],
    /// Physical memory below this goes into the window.
    phys_limit: u64,
    /// The boot stack if it is not part of the image (virtual range).
    stack: core::ops::Range<u64>,
    rsdp: Option<u64>,
    /// Files: the bootloader's ramdisk (a boot bundle) or multiboot modules.
    files: Files,
    /// The loader's command line for the hypervisor (multiboot), which
    /// wins over the bundle's `hypervisor.cmdline`.
    cmdline: &'static str,
}

/// Where the files came from.
#[allow(clippy::large_enum_variant, reason = "made before the heap exists, once, on the boot stack")]
enum Files {
    None,
    /// A boot bundle (the bootloader's ramdisk, or a multiboot module that is a tar).
    Bundle(&'static [u8]),
    /// Xen-style multiboot modules: Dom0's kernel first (its string is
    /// Dom0's command line), then the files Dom0 gets, in order, by name.
    Modules(XenModules),
}

/// Multiboot modules as Xen takes them, kept without the heap (they are
/// read before it exists).
struct XenModules {
    dom0: &'static [u8],
    dom0_cmdline: &'static str,
    files: [(&'static str, &'static [u8]); multiboot::MAX_MODULES],
    count: usize,
}

/// The physical window must cover RAM and the 32-bit MMIO hole, not far
/// reserved ranges (QEMU reserves 1012..1024 GiB on AMD CPUs).
fn phys_limit(regions: &[MemoryRegion]) -> u64 {
    regions.iter().filter(|r| r.is_usable()).map(|r| r.end).fold(1 << 32, u64::max)
}

/// Entry from the bootloader, on the boot CPU.
#[cfg(target_os = "none")]
pub fn start(boot_info: &'static mut BootInfo) -> ! {
    percpu::init_this_cpu(0);
    serial::init();
    info!("boot", "{} {} starting (bootloader)", env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"));

    let mut regions = [MemoryRegion::EMPTY; MAX_REGIONS];
    let mut count = 0;
    for r in boot_info.memory_regions.iter().take(MAX_REGIONS) {
        let kind = match r.kind {
            MemoryRegionKind::Usable => RegionKind::Usable,
            MemoryRegionKind::UnknownBios(e820) => RegionKind::Firmware(e820),
            // UEFI ACPI reclaim (9) and NVS (10) keep their E820 meaning; the rest is reserved.
            MemoryRegionKind::UnknownUefi(9) => RegionKind::Firmware(3),
            MemoryRegionKind::UnknownUefi(10) => RegionKind::Firmware(4),
            MemoryRegionKind::UnknownUefi(_) => RegionKind::Firmware(2),
            _ => RegionKind::InUse,
        };
        regions[count] = MemoryRegion { start: r.start, end: r.end, kind };
        count += 1;
    }
    let ramdisk = boot_info.ramdisk_addr.into_option().and_then(|va| mm::boot_ramdisk(va, boot_info.ramdisk_len));
    bring_up(Handoff {
        regions: &regions[..count],
        phys_limit: phys_limit(&regions[..count]),
        stack: boot_info.kernel_stack_bottom..boot_info.kernel_stack_bottom + boot_info.kernel_stack_len,
        // Boot info lives in bootloader mappings that bring-up drops.
        rsdp: boot_info.rsdp_addr.into_option(),
        files: ramdisk.map_or(Files::None, Files::Bundle),
        cmdline: "",
    })
}

/// Reads the loader's structures for the multiboot parser.
struct LoaderMemory;

impl multiboot::PhysRead for LoaderMemory {
    fn read(&self, addr: u64, buf: &mut [u8]) -> bool {
        crate::arch::x86_64::multiboot::EarlyPhysMemory.read(addr, buf)
    }
}

/// A string the loader left (valid UTF-8, else empty).
fn loader_str(r: multiboot::PhysRange) -> &'static str {
    crate::arch::x86_64::multiboot::loader_bytes(r.addr, r.len).and_then(|b| core::str::from_utf8(b).ok()).unwrap_or("")
}

/// Entry from a multiboot loader (arch/x86_64/multiboot.rs), on the boot
/// CPU, in long mode on the early page tables.
#[cfg(target_os = "none")]
pub fn start_multiboot(magic: u32, info: u64) -> ! {
    use crate::arch::x86_64::multiboot::{image_range, loader_bytes};
    percpu::init_this_cpu(0);
    serial::init();
    let desc = multiboot::parse(&LoaderMemory, magic, info)
        .unwrap_or_else(|e| fatal(format_args!("multiboot: the loader's boot information is unusable: {e:?}")));
    let loader = loader_str(desc.loader_name);
    info!("boot", "{} {} starting (multiboot{} from {loader})", env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"),
        if magic == multiboot::MB2_BOOTLOADER_MAGIC { "2" } else { "" });
    if desc.dropped > 0 {
        warn!("boot", "{} memory-map entries or modules did not fit and were ignored", desc.dropped);
    }
    let mut used = [(0u64, 0u64); 2 * multiboot::MAX_MODULES + 8];
    let mut n_used = 0;
    for r in core::iter::once(image_range()).chain(desc.in_use().map(|r| (r.addr, r.addr + r.len))) {
        if let Some(slot) = used.get_mut(n_used) {
            *slot = r;
            n_used += 1;
        }
    }
    let mut regions = [MemoryRegion::EMPTY; MAX_REGIONS];
    let (count, dropped) = memmap::carve(desc.regions(), &used[..n_used], &mut regions);
    if dropped > 0 {
        warn!("boot", "{dropped} pieces of free memory did not fit the memory map and are left unused");
    }
    let module = |m: &multiboot::BootModule| loader_bytes(m.data.addr, m.data.len).unwrap_or(&[]);
    let is_tar = |bytes: &[u8]| bytes.get(257..262) == Some(b"ustar".as_slice());
    let files = match desc.modules() {
        [] => Files::None,
        [first, ..] if is_tar(module(first)) => Files::Bundle(module(first)),
        [dom0, rest @ ..] => {
            let mut m = XenModules { dom0: module(dom0), dom0_cmdline: multiboot::cook(loader_str(dom0.string), loader), files: [("", &[]); multiboot::MAX_MODULES], count: 0 };
            for (slot, file) in m.files.iter_mut().zip(rest) {
                // Unnamed modules keep a place in the order Linux reads them in (the first is its initrd).
                let name = multiboot::module_name(loader_str(file.string), loader).unwrap_or("module");
                *slot = (name, module(file));
                m.count += 1;
            }
            Files::Modules(m)
        }
    };
    let rsdp = match desc.rsdp {
        multiboot::Rsdp::Copy(r) => Some(r.addr),
        multiboot::Rsdp::Scan => acpi::find_rsdp_bios(),
    };
    bring_up(Handoff {
        regions: &regions[..count],
        phys_limit: phys_limit(&regions[..count]),
        stack: 0..0,
        rsdp,
        files,
        cmdline: multiboot::cook(loader_str(desc.cmdline), loader),
    })
}

/// Shared bring-up, whichever way the hypervisor was started.
#[cfg(target_os = "none")]
fn bring_up(boot: Handoff) -> ! {
    let (usable, free) = mm::init_frames(boot.regions).unwrap_or_else(|e| fatal(format_args!("memory: {e}")));
    let heap = mm::heap::init(HEAP_FRAMES).unwrap_or_else(|e| fatal(format_args!("memory: {e}")));
    gdt::init_this_cpu();
    idt::init_this_cpu();
    info!(
        "mm",
        "{} memory map entries, {} MiB usable, {} MiB free, heap {} KiB",
        boot.regions.len(),
        usable >> 8,
        free >> 8,
        heap >> 10
    );

    let bundle = match boot.files {
        Files::Bundle(bytes) => Some(bundle::Bundle::parse(bytes)),
        _ => None,
    };
    let bundle_cmdline = match &bundle {
        Some(Ok(b)) => b.file("hypervisor.cmdline").and_then(|c| core::str::from_utf8(c).ok()).unwrap_or(""),
        Some(Err(e)) => fatal(format_args!("boot bundle: {e:?}: rebuild the image with `cargo xtask build`")),
        None => {
            if matches!(boot.files, Files::None) {
                warn!("boot", "no boot bundle or modules: running with default options and no Dom0");
            }
            ""
        }
    };
    let cmdline = if boot.cmdline.trim().is_empty() { bundle_cmdline } else { boot.cmdline };
    cmdline::save(cmdline);
    let (options, unknown) = cmdline::parse(cmdline);
    crate::log::set_threshold(options.loglvl);
    info!("boot", "command line: {}", cmdline.trim());
    for word in unknown {
        warn!("boot", "ignoring unknown or malformed option `{word}`");
    }
    if let Some(Ok(b)) = &bundle {
        for (name, size) in b.files() {
            crate::debug!("boot", "bundle: {name} ({size} bytes)");
        }
    }

    let trampoline_page = mm::alloc_frame_below(mm::frame::LOW_MEMORY_END)
        .unwrap_or_else(|| fatal(format_args!("memory: no free page below 1 MiB for starting the other CPUs")));
    let plan = paging::AddressSpacePlan { phys_limit: boot.phys_limit, stack: boot.stack, identity_page: trampoline_page.addr() };
    let root = paging::build(&paging::image_layout(), &plan)
        .unwrap_or_else(|e| fatal(format_args!("paging: {e:?}")));
    paging::activate(root);
    info!("mm", "own page tables active: image W^X, physical memory window below {:#x}", boot.phys_limit);

    let platform = acpi::platform_from_firmware(boot.rsdp)
        .unwrap_or_else(|e| fatal(format_args!("acpi: {e}")));
    report_platform(&platform);

    pic::remap_and_mask();
    apic::init_this_cpu();
    let (tsc_khz, source) = tsc::calibrate();
    let timer_khz = apic::calibrate_timer();
    info!(
        "time",
        "TSC {}.{:03} MHz ({source:?}), {} APIC timer {} kHz",
        tsc_khz / 1000,
        tsc_khz % 1000,
        apic::mode_name(),
        timer_khz
    );

    cpu::enable_xsave();
    let backend = enable_virtualization();
    crate::domain::object::WALLCLOCK_AT_BOOT.store(crate::arch::x86_64::rtc::unix_time(), Ordering::Relaxed);
    percpu::this_cpu().apic_id.store(apic::id(), Ordering::Relaxed);
    if let Some(bsp) = platform.cpus.iter().find(|c| c.apic_id == apic::id()) {
        percpu::this_cpu().acpi_id.store(bsp.uid, Ordering::Relaxed);
    }
    percpu::this_cpu().online.store(true, Ordering::SeqCst);
    apic::start_timer();

    let online = start_application_processors(&platform, trampoline_page.addr(), root);
    x86_64::instructions::interrupts::enable();
    check_interrupts(online);
    crate::sched::scheduler(online);
    info!("hv", "ready, {online} cpus online, {}", match backend {
        virt::Backend::Svm(_) => "AMD-V (SVM)",
        virt::Backend::Vmx(_) => "Intel VT-x (VMX)",
    });

    if options.test_panic {
        panic!("test-panic requested on the command line");
    }
    if options.exit_after_boot {
        power::stop_machine(power::EXIT_SUCCESS);
    }
    let dom0 = match (&bundle, &boot.files) {
        (Some(Ok(b)), _) => b.file("dom0").map(|kernel| {
            let cmdline = b.file("dom0.cmdline").and_then(|c| core::str::from_utf8(c).ok()).unwrap_or("").trim();
            let files: alloc::vec::Vec<_> = b.entries().filter(|(name, _)| !NOT_MODULES.contains(&name.as_str())).collect();
            (kernel, cmdline, files)
        }),
        (_, Files::Modules(m)) => {
            let files: alloc::vec::Vec<_> = m.files[..m.count].iter().map(|&(name, data)| (alloc::string::String::from(name), data)).collect();
            Some((m.dom0, m.dom0_cmdline, files))
        }
        _ => None,
    };
    match dom0 {
        Some((kernel, cmdline, files)) => run_dom0(backend, boot.regions, kernel, cmdline, &files, &options, boot.rsdp, online),
        None => warn!("boot", "no Dom0 (a `dom0` in the boot bundle, or a first multiboot module): nothing to run, idling"),
    }
    loop {
        cpu::wait_for_interrupt();
    }
}

/// Files of the bundle that are the hypervisor's or Dom0's own, not modules.
const NOT_MODULES: [&str; 3] = ["hypervisor.cmdline", "dom0", "dom0.cmdline"];

/// Builds Dom0 and runs it on this CPU until it ends; then
/// stops the machine (poweroff: success; a crash: failure, after showing the
/// hypervisor is still up and got every frame back).
#[allow(clippy::too_many_arguments, reason = "bring-up's facts, passed once")]
fn run_dom0(
    backend: virt::Backend,
    host: &[MemoryRegion],
    kernel: &'static [u8],
    dom0_cmdline: &str,
    files: &[(alloc::string::String, &'static [u8])],
    options: &cmdline::Options,
    rsdp: Option<u64>,
    online: usize,
) {
    let modules = files.iter().map(|(name, data)| (name.as_str(), *data)).collect();
    let config = dom0::build::Dom0Config { kernel, cmdline: dom0_cmdline, modules, ram: options.dom0_mem, rsdp, vcpus: options.dom0_vcpus };
    let (_, free_before) = mm::frame_counts();
    let mut dom0 = match dom0::build::Dom0::build(backend, host, &config) {
        Ok(d) => d,
        Err(e) => fatal(format_args!("{e}")),
    };
    info!(
        "dom0",
        "d0: PVH kernel entry {:#x} ({}), {} MiB RAM, {} modules, cmdline \"{}\"",
        dom0.entry,
        dom0.kernel,
        dom0.ram_bytes >> 20,
        config.modules.len(),
        dom0_cmdline
    );
    // Dom0 sees none of what firmware and loaders left in the registers VMX
    // passes through (DR0-3, the SYSCALL MSRs), as a DomU sees none of its
    // predecessor's.
    cpu::reset_extended_state();
    cpu::reset_guest_registers();
    let end = {
        let mut guest = vcpu::run::Guest::new(dom0::build::DOM0_ID, 0);
        vcpu::run::run(&mut dom0.vcpu, &mut guest)
    };
    dom0.vcpu.destroy();
    if let Some(d) = crate::domain::table::DOMAINS.lock().remove(dom0::build::DOM0_ID) {
        d.destroy();
    }
    let (_, free_after) = mm::frame_counts();
    let frames = if free_after == free_before { "all" } else { "NOT all" };
    match end {
        vcpu::run::End::Shutdown(reason) if reason == abi::sched::SHUTDOWN_POWEROFF => {
            info!("dom0", "d0 powered off; {frames} its frames freed ({free_before} -> {free_after} free)");
            power::stop_machine(power::EXIT_SUCCESS);
        }
        vcpu::run::End::Shutdown(reason) => {
            info!("dom0", "d0 shut down with reason {reason}; {frames} its frames freed");
            power::stop_machine(power::EXIT_DOM0_FAILED);
        }
        vcpu::run::End::Crashed(_) | vcpu::run::End::Destroyed | vcpu::run::End::Down => {
            check_interrupts(online);
            info!(
                "hv",
                "still up after d0 crashed: {online} cpus answer, {frames} d0's frames freed ({free_before} -> {free_after} free)"
            );
            power::stop_machine(power::EXIT_DOM0_FAILED);
        }
    }
}

fn report_platform(p: &PlatformInfo) {
    info!(
        "acpi",
        "{} cpus ({} disabled), {} ioapic(s), {} irq overrides, lapic {:#x}, hpet {}",
        p.cpus.len(),
        p.disabled_cpus,
        p.io_apics.len(),
        p.overrides.len(),
        p.local_apic_address,
        if p.hpet.is_some() { "yes" } else { "no" }
    );
}

/// Turns on SVM or VMX on this CPU and logs it; stops the machine if the CPU
/// cannot virtualize.
fn enable_virtualization() -> virt::Backend {
    match virt::enable_this_cpu() {
        Ok(backend) => {
            info!("virt", "{backend}");
            backend
        }
        Err(e) => fatal(format_args!("virt: {e}")),
    }
}

/// Starts every usable AP in the MADT, one at a time. Returns CPUs online.
fn start_application_processors(platform: &PlatformInfo, page: u64, root: paging::Root) -> usize {
    let trampoline = smp::Trampoline::install(page, root.phys());
    let bsp_apic = apic::id();
    let mut online = 1;
    for entry in platform.cpus.iter().filter(|c| c.apic_id != bsp_apic) {
        if online == percpu::MAX_CPUS {
            warn!("smp", "more than {} cpus: the rest stay parked", percpu::MAX_CPUS);
            break;
        }
        let index = online;
        percpu::cpu(index).acpi_id.store(entry.uid, Ordering::Relaxed);
        if !trampoline.start(index, entry.apic_id) {
            warn!("smp", "cpu with apic id {} did not start", entry.apic_id);
            continue;
        }
        if !wait_us(CPU_WAIT_US, || percpu::cpu(index).online.load(Ordering::SeqCst)) {
            fatal(format_args!("smp: cpu{index} (apic id {}) started but never came online", entry.apic_id));
        }
        online += 1;
    }
    online
}

/// Bring-up of an application processor, after the trampoline.
pub fn ap_main(index: usize) -> ! {
    gdt::init_this_cpu();
    idt::init_this_cpu();
    apic::init_this_cpu();
    cpu::enable_xsave();
    let backend = enable_virtualization();
    let me = percpu::cpu(index);
    me.apic_id.store(apic::id(), Ordering::Relaxed);
    apic::start_timer();
    me.online.store(true, Ordering::SeqCst);
    // DomU vCPUs, as the run queue offers them and the scheduler shares
    // this CPU among them (entered with interrupts off, as the vCPU loop
    // expects).
    x86_64::instructions::interrupts::disable();
    let mut ap = vcpu::domu::Ap::new(index, backend);
    loop {
        ap.step();
    }
}

/// Every CPU must see its timer tick and answer a test IPI.
fn check_interrupts(online: usize) {
    for index in 1..online {
        let cpu = percpu::cpu(index);
        let before = cpu.ipis_received.load(Ordering::SeqCst);
        apic::send_ipi(cpu.apic_id.load(Ordering::Relaxed), idt::PING_VECTOR);
        if !wait_us(CPU_WAIT_US, || cpu.ipis_received.load(Ordering::SeqCst) > before) {
            fatal(format_args!("smp: cpu{index} did not answer a test IPI"));
        }
    }
    for index in 0..online {
        let ticks = &percpu::cpu(index).timer_ticks;
        if !wait_us(CPU_WAIT_US, || ticks.load(Ordering::Relaxed) > 0) {
            fatal(format_args!("time: cpu{index} never got a timer interrupt"));
        }
    }
    info!("smp", "{online} cpus answered IPIs and take timer interrupts");
}

/// Polls `done` until it holds or `us` microseconds pass.
fn wait_us(us: u64, done: impl Fn() -> bool) -> bool {
    let deadline = cpu::rdtsc() + us * tsc::khz() / 1000;
    while !done() {
        if cpu::rdtsc() > deadline {
            return false;
        }
        cpu::relax();
    }
    true
}

#[cfg(target_os = "none")]
#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    let cpu = percpu::cpu_index();
    match info.location() {
        Some(l) => crate::console::write_line_unlocked(format_args!(
            "cpu{cpu} PANIC: {} at {}:{}",
            info.message(),
            l.file(),
            l.line()
        )),
        None => crate::console::write_line_unlocked(format_args!("cpu{cpu} PANIC: {}", info.message())),
    }
    power::stop_machine(power::EXIT_FAILURE)
}
