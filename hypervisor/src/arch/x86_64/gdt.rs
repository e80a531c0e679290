//! Per-CPU GDT and TSS, with IST stacks so a double fault or an NMI always
//! runs on a known-good stack.

use alloc::boxed::Box;
use x86_64::VirtAddr;
use x86_64::instructions::segmentation::{CS, DS, ES, SS, Segment};
use x86_64::instructions::tables::load_tss;
use x86_64::structures::gdt::{Descriptor, GlobalDescriptorTable, SegmentSelector};
use x86_64::structures::tss::TaskStateSegment;

/// IST slots (the IDT refers to them by index).
pub const DOUBLE_FAULT_IST: u16 = 0;
pub const NMI_IST: u16 = 1;
pub const MACHINE_CHECK_IST: u16 = 2;
const IST_COUNT: usize = 3;
const IST_STACK_SIZE: usize = 16 * 1024;

#[repr(C, align(16))]
struct IstStack([u8; IST_STACK_SIZE]);

/// Builds and loads this CPU's GDT and TSS. They live for ever.
pub fn init_this_cpu() {
    let mut tss = TaskStateSegment::new();
    for slot in 0..IST_COUNT {
        let stack: &'static mut IstStack = Box::leak(Box::new(IstStack([0; IST_STACK_SIZE])));
        let top = VirtAddr::from_ptr(stack.0.as_ptr_range().end);
        tss.interrupt_stack_table[slot] = top;
    }
    let tss: &'static TaskStateSegment = Box::leak(Box::new(tss));
    super::percpu::this_cpu().tss_base.store(tss as *const TaskStateSegment as u64, core::sync::atomic::Ordering::Relaxed);
    let mut gdt = GlobalDescriptorTable::new();
    let code = gdt.append(Descriptor::kernel_code_segment());
    let data = gdt.append(Descriptor::kernel_data_segment());
    let tss = gdt.append(Descriptor::tss_segment(tss));
    let gdt: &'static GlobalDescriptorTable = Box::leak(Box::new(gdt));
    gdt.load();
    // SAFETY: the selectors index descriptors of the GDT just loaded: a 64-bit code segment, a data segment and an available TSS.
    unsafe {
        CS::set_reg(code);
        SS::set_reg(data);
        DS::set_reg(SegmentSelector(0));
        ES::set_reg(SegmentSelector(0));
        load_tss(tss);
    }
}
