//! Per-CPU data, found through the GS base (offset 0 holds the CPU index).

use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

/// CPUs the hypervisor brings up at most; more in the MADT are left parked.
pub const MAX_CPUS: usize = 64;

/// IA32_GS_BASE (SDM Vol. 4, table 2-2).
const IA32_GS_BASE: u32 = 0xC000_0101;

#[repr(C, align(64))]
pub struct PerCpu {
    /// Must stay the first field: `cpu_index` reads it at GS:0.
    index: AtomicU32,
    pub apic_id: AtomicU32,
    /// Its ACPI processor UID (the MADT's), for XENPF_get_cpuinfo.
    pub acpi_id: AtomicU32,
    pub online: AtomicBool,
    pub timer_ticks: AtomicU64,
    pub ipis_received: AtomicU64,
    /// Linear address of this CPU's TSS (the VMCS host state needs it).
    pub tss_base: AtomicU64,
}

impl PerCpu {
    const fn new() -> Self {
        PerCpu {
            index: AtomicU32::new(0),
            apic_id: AtomicU32::new(0),
            acpi_id: AtomicU32::new(0),
            online: AtomicBool::new(false),
            timer_ticks: AtomicU64::new(0),
            ipis_received: AtomicU64::new(0),
            tss_base: AtomicU64::new(0),
        }
    }

    pub fn index(&self) -> u32 {
        self.index.load(Ordering::Relaxed)
    }
}

static CPUS: [PerCpu; MAX_CPUS] = [const { PerCpu::new() }; MAX_CPUS];

/// Points this CPU's GS base at slot `index`. Called first thing on every CPU.
pub fn init_this_cpu(index: usize) {
    let slot = &CPUS[index];
    slot.index.store(crate::bits::low32_usize(index), Ordering::Relaxed);
    // SAFETY: the slot is a static that lives for ever, and nothing else on this CPU uses GS.
    unsafe { super::cpu::wrmsr(IA32_GS_BASE, slot as *const PerCpu as u64) };
}

/// Index of the running CPU (0 is the boot CPU).
#[cfg(target_os = "none")]
pub fn cpu_index() -> u32 {
    let index: u32;
    // SAFETY: GS points at this CPU's `PerCpu` (set by `init_this_cpu` before any other code runs on it), whose first field is the index.
    unsafe { core::arch::asm!("mov {0:e}, gs:[0]", out(reg) index, options(nostack, readonly, preserves_flags)) };
    index
}

#[cfg(not(target_os = "none"))]
pub fn cpu_index() -> u32 {
    0
}

/// CPUs brought up so far.
pub fn online_count() -> u32 {
    crate::bits::low32_usize(CPUS.iter().filter(|c| c.online.load(Ordering::Relaxed)).count())
}

pub fn this_cpu() -> &'static PerCpu {
    &CPUS[cpu_index() as usize]
}

pub fn cpu(index: usize) -> &'static PerCpu {
    &CPUS[index]
}
