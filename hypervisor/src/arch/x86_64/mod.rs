//! x86_64: descriptor tables, interrupts, APIC, timers, SMP, ACPI and the
//! AMD-V / VT-x backends.

pub mod acpi;
pub mod apic;
pub mod cpu;
pub mod gdt;
pub mod idt;
pub mod percpu;
pub mod pic;
pub mod multiboot;
pub mod power;
pub mod rtc;
pub mod serial;
pub mod smp;
pub mod tsc;
pub mod virt;

pub use percpu::cpu_index;
