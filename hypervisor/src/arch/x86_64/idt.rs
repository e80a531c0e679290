//! The interrupt descriptor table, shared by all CPUs: every exception is
//! fatal to the hypervisor (guest exceptions arrive as VM exits, not here)
//! except a #GP or #UD on an instruction of the exception table
//! (`cpu::fixup_for`: XSETBV/WRMSR of guest-chosen values), which resumes at
//! its fixup; plus the local APIC's timer, IPI and spurious vectors.
//!
//! No handler here takes a lock that the code it interrupted may hold: the
//! fatal path writes the serial port unlocked, the NMI path only tries.

use spin::Once;
use x86_64::registers::control::Cr2;
use x86_64::structures::idt::{InterruptDescriptorTable, InterruptStackFrame, PageFaultErrorCode};

use super::{apic, gdt, power};

/// Vectors the hypervisor programs into its local APIC (above the 32
/// exceptions and the 16 remapped legacy PIC lines).
pub const TIMER_VECTOR: u8 = 0x40;
pub const PING_VECTOR: u8 = 0x41;
pub const SPURIOUS_VECTOR: u8 = 0xff;

static IDT: Once<InterruptDescriptorTable> = Once::new();

/// Reports a CPU exception in the hypervisor and stops the machine.
fn fatal(vector: u8, name: &str, error: Option<u64>, frame: &InterruptStackFrame) -> ! {
    let cr2 = Cr2::read_raw();
    let cpu = super::cpu_index();
    let err = error.unwrap_or(0);
    crate::console::write_line_unlocked(format_args!(
        "cpu{cpu} FATAL exception {vector} ({name}) error={err:#x} rip={:#x} cr2={cr2:#x} rsp={:#x}",
        frame.instruction_pointer.as_u64(),
        frame.stack_pointer.as_u64()
    ));
    power::stop_machine(power::EXIT_FAILURE)
}

macro_rules! exception {
    ($name:ident, $vector:expr, $text:expr) => {
        extern "x86-interrupt" fn $name(frame: InterruptStackFrame) {
            fatal($vector, $text, None, &frame)
        }
    };
    ($name:ident, $vector:expr, $text:expr, error) => {
        extern "x86-interrupt" fn $name(frame: InterruptStackFrame, error: u64) {
            fatal($vector, $text, Some(error), &frame)
        }
    };
}

exception!(divide_error, 0, "#DE");
exception!(debug, 1, "#DB");
exception!(breakpoint, 3, "#BP");
exception!(overflow, 4, "#OF");
exception!(bound_range, 5, "#BR");

exception!(device_not_available, 7, "#NM");
exception!(invalid_tss, 10, "#TS", error);
exception!(segment_not_present, 11, "#NP", error);
exception!(stack_segment, 12, "#SS", error);

exception!(x87_floating_point, 16, "#MF");
exception!(alignment_check, 17, "#AC", error);
exception!(simd_floating_point, 19, "#XM");
exception!(virtualization, 20, "#VE");
exception!(control_protection, 21, "#CP", error);
exception!(vmm_communication, 29, "#VC", error);
exception!(security, 30, "#SX", error);

/// Resumes at the fixup of a faulting exception-table instruction; false
/// if `frame` is not at one (the fault is then fatal).
fn recover(frame: &mut InterruptStackFrame) -> bool {
    let Some(fixup) = super::cpu::fixup_for(frame.instruction_pointer.as_u64()) else { return false };
    // SAFETY: the fixup is the recovery code of the instruction that faulted, in the same function, written for the same stack and registers (cpu.rs); returning there is what the exception table is for.
    unsafe { frame.as_mut().update(|f| f.instruction_pointer = x86_64::VirtAddr::new(fixup)) };
    true
}

extern "x86-interrupt" fn invalid_opcode(mut frame: InterruptStackFrame) {
    if !recover(&mut frame) {
        fatal(6, "#UD", None, &frame)
    }
}

extern "x86-interrupt" fn general_protection(mut frame: InterruptStackFrame, error: u64) {
    if !recover(&mut frame) {
        fatal(13, "#GP", Some(error), &frame)
    }
}

extern "x86-interrupt" fn page_fault(frame: InterruptStackFrame, error: PageFaultErrorCode) {
    fatal(14, "#PF", Some(error.bits()), &frame)
}

extern "x86-interrupt" fn double_fault(frame: InterruptStackFrame, error: u64) -> ! {
    fatal(8, "#DF", Some(error), &frame)
}

extern "x86-interrupt" fn machine_check(frame: InterruptStackFrame) -> ! {
    fatal(18, "#MC", None, &frame)
}

extern "x86-interrupt" fn nmi(_frame: InterruptStackFrame) {
    // The panic path stops the other CPUs with an NMI: they halt here.
    if power::stopping() {
        super::cpu::halt_forever();
    }
    // Lock-free: this CPU may have been interrupted holding the console lock.
    let cpu = super::cpu_index();
    crate::console::write_line_from_nmi(format_args!("cpu{cpu} warn nmi: unexpected NMI ignored"));
}

extern "x86-interrupt" fn timer(_frame: InterruptStackFrame) {
    super::percpu::this_cpu().timer_ticks.fetch_add(1, core::sync::atomic::Ordering::Relaxed);
    apic::restore_tick();
    apic::eoi();
}

extern "x86-interrupt" fn ping(_frame: InterruptStackFrame) {
    super::percpu::this_cpu().ipis_received.fetch_add(1, core::sync::atomic::Ordering::Relaxed);
    apic::eoi();
}

extern "x86-interrupt" fn spurious(_frame: InterruptStackFrame) {
    // Spurious interrupts take no EOI (SDM Vol. 3, 11.9).
}

fn build() -> InterruptDescriptorTable {
    let mut idt = InterruptDescriptorTable::new();
    idt.divide_error.set_handler_fn(divide_error);
    idt.debug.set_handler_fn(debug);
    idt.breakpoint.set_handler_fn(breakpoint);
    idt.overflow.set_handler_fn(overflow);
    idt.bound_range_exceeded.set_handler_fn(bound_range);
    idt.invalid_opcode.set_handler_fn(invalid_opcode);
    idt.device_not_available.set_handler_fn(device_not_available);
    idt.invalid_tss.set_handler_fn(invalid_tss);
    idt.segment_not_present.set_handler_fn(segment_not_present);
    idt.stack_segment_fault.set_handler_fn(stack_segment);
    idt.general_protection_fault.set_handler_fn(general_protection);
    idt.page_fault.set_handler_fn(page_fault);
    idt.x87_floating_point.set_handler_fn(x87_floating_point);
    idt.alignment_check.set_handler_fn(alignment_check);
    idt.simd_floating_point.set_handler_fn(simd_floating_point);
    idt.virtualization.set_handler_fn(virtualization);
    idt.cp_protection_exception.set_handler_fn(control_protection);
    idt.vmm_communication_exception.set_handler_fn(vmm_communication);
    idt.security_exception.set_handler_fn(security);
    // SAFETY: the IST indices name stacks every CPU's TSS provides (gdt.rs).
    unsafe {
        idt.double_fault.set_handler_fn(double_fault).set_stack_index(gdt::DOUBLE_FAULT_IST);
        idt.non_maskable_interrupt.set_handler_fn(nmi).set_stack_index(gdt::NMI_IST);
        idt.machine_check.set_handler_fn(machine_check).set_stack_index(gdt::MACHINE_CHECK_IST);
    }
    idt[TIMER_VECTOR].set_handler_fn(timer);
    idt[PING_VECTOR].set_handler_fn(ping);
    idt[SPURIOUS_VECTOR].set_handler_fn(spurious);
    idt
}

/// Loads the IDT on this CPU (built once, on first use).
pub fn init_this_cpu() {
    IDT.call_once(build).load();
    // A broken exception table would otherwise show only when a guest
    // finds a rule we missed: check it now (a failure stops the boot as a
    // FATAL #GP/#UD, or here).
    if !super::cpu::exception_table_recovers() {
        crate::error!("idt", "exception table: a faulting XSETBV was not recovered");
        power::stop_machine(power::EXIT_FAILURE);
    }
}
