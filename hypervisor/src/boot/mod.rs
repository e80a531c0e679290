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

/// Entry from the bootloader, on the boot CPU.
#[cfg(target_os = "none")]
pub fn start(boot_info: &'static mut BootInfo) -> ! {
    percpu::init_this_cpu(0);
    serial::init();
    info!("boot", "{} {} starting", env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"));

    let mut regions = [MemoryRegion::EMPTY; MAX_REGIONS];
    let mut count = 0;
    // The window covers RAM and the 32-bit MMIO hole, not far reserved ranges
    // (QEMU reserves 1012..1024 GiB on AMD CPUs).
    let mut phys_limit: u64 = 1 << 32;
    for r in boot_info.memory_regions.iter() {
        if r.kind == MemoryRegionKind::Usable {
            phys_limit = phys_limit.max(r.end);
        }
        if count < MAX_REGIONS {
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
    }
    let (usable, free) = mm::init_frames(&regions[..count]).unwrap_or_else(|e| fatal(format_args!("memory: {e}")));
    let heap = mm::heap::init(HEAP_FRAMES).unwrap_or_else(|e| fatal(format_args!("memory: {e}")));
    gdt::init_this_cpu();
    idt::init_this_cpu();
    info!(
        "mm",
        "{} memory map entries, {} MiB usable, {} MiB free, heap {} KiB",
        count,
        usable >> 8,
        free >> 8,
        heap >> 10
    );

    let ramdisk = boot_info.ramdisk_addr.into_option().and_then(|va| mm::boot_ramdisk(va, boot_info.ramdisk_len));
    let bundle = ramdisk.map(bundle::Bundle::parse);
    let cmdline = match &bundle {
        Some(Ok(b)) => b.file("hypervisor.cmdline").and_then(|c| core::str::from_utf8(c).ok()).unwrap_or(""),
        Some(Err(e)) => fatal(format_args!("boot bundle: {e:?}: rebuild the image with `cargo xtask build`")),
        None => {
            warn!("boot", "no boot bundle (ramdisk): running with default options and no Dom0");
            ""
        }
    };
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

    // Boot info lives in bootloader mappings that the switch below drops.
    let rsdp = boot_info.rsdp_addr.into_option();
    let trampoline_page = mm::alloc_frame_below(mm::frame::LOW_MEMORY_END)
        .unwrap_or_else(|| fatal(format_args!("memory: no free page below 1 MiB for starting the other CPUs")));
    let plan = paging::AddressSpacePlan {
        phys_limit,
        stack: boot_info.kernel_stack_bottom..boot_info.kernel_stack_bottom + boot_info.kernel_stack_len,
        identity_page: trampoline_page.addr(),
    };
    let root = paging::build(&paging::image_layout(), &plan)
        .unwrap_or_else(|e| fatal(format_args!("paging: {e:?}")));
    paging::activate(root);
    info!("mm", "own page tables active: image W^X, physical memory window below {:#x}", phys_limit);

    let platform = acpi::platform_from_firmware(rsdp)
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
    percpu::this_cpu().online.store(true, Ordering::SeqCst);
    apic::start_timer();

    let online = start_application_processors(&platform, trampoline_page.addr(), root);
    x86_64::instructions::interrupts::enable();
    check_interrupts(online);
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
    match &bundle {
        Some(Ok(b)) if b.file("dom0").is_some() => run_dom0(backend, &regions[..count], b, &options, rsdp, online),
        _ => warn!("boot", "no `dom0` in the boot bundle: nothing to run, idling"),
    }
    loop {
        cpu::wait_for_interrupt();
    }
}

/// Files of the bundle that are the hypervisor's or Dom0's own, not modules.
const NOT_MODULES: [&str; 3] = ["hypervisor.cmdline", "dom0", "dom0.cmdline"];

/// Builds Dom0 from the bundle and runs it on this CPU until it ends; then
/// stops the machine (poweroff: success; a crash: failure, after showing the
/// hypervisor is still up and got every frame back).
fn run_dom0(
    backend: virt::Backend,
    host: &[MemoryRegion],
    bundle: &bundle::Bundle<'static>,
    options: &cmdline::Options,
    rsdp: Option<u64>,
    online: usize,
) {
    let kernel = bundle.file("dom0").unwrap_or_default();
    let dom0_cmdline = bundle.file("dom0.cmdline").and_then(|c| core::str::from_utf8(c).ok()).unwrap_or("").trim();
    let files: alloc::vec::Vec<_> = bundle.entries().filter(|(name, _)| !NOT_MODULES.contains(&name.as_str())).collect();
    let modules = files.iter().map(|(name, data)| (name.as_str(), *data)).collect();
    let config = dom0::build::Dom0Config { kernel, cmdline: dom0_cmdline, modules, ram: options.dom0_mem, rsdp };
    let (_, free_before) = mm::frame_counts();
    let mut dom0 = match dom0::build::Dom0::build(backend, host, &config) {
        Ok(d) => d,
        Err(e) => fatal(format_args!("{e}")),
    };
    info!(
        "dom0",
        "d0: PVH kernel entry {:#x}, {} MiB RAM, {} modules, cmdline \"{}\"",
        dom0.entry,
        dom0.ram_bytes >> 20,
        config.modules.len(),
        dom0_cmdline
    );
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
        vcpu::run::End::Crashed(_) | vcpu::run::End::Destroyed => {
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
    // DomU vCPUs, one at a time, as the run queue offers them (entered
    // with interrupts off, as the vCPU loop expects).
    x86_64::instructions::interrupts::disable();
    loop {
        if !vcpu::domu::run_next(index, backend) {
            cpu::wait_for_interrupt();
            x86_64::instructions::interrupts::disable();
        }
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
