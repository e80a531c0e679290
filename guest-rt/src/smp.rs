//! Secondary vCPUs, brought up as a PVH guest may on Xen: VCPUOP_initialise
//! with a 32-bit context (protected mode, paging off, flat segments) at
//! `pvh_ap_start32`, then VCPUOP_up. The stub there takes the boot vCPU's
//! page tables and GDT, enters long mode on a stack of its own and calls
//! the function [`start`] was given with the vCPU's id; when it returns,
//! the vCPU halts with interrupts off, which takes it down.

use core::sync::atomic::{AtomicUsize, Ordering};

use abi::hvm::hvm_vcpu::{VcpuHvmContext, VcpuHvmX86_32};
use abi::vcpu::{VCPUOP_INITIALISE, VCPUOP_UP};
use abi::xen::HYPERVISOR_VCPU_OP;

use crate::entry::{CODE64_SELECTOR, DATA_SELECTOR};
use crate::hypercall;

/// vCPU ids 1..MAX_VCPUS can be started (one stack each).
pub const MAX_VCPUS: u32 = 8;
const AP_STACK_SIZE: usize = 16 * 1024;

/// The function secondary vCPUs run (a `fn(u32)` as usize; 0: none yet).
static AP_MAIN: AtomicUsize = AtomicUsize::new(0);

core::arch::global_asm!(
    r#"
    .pushsection .text.pvh_ap_entry, "ax", @progbits
    .code32
    .global pvh_ap_start32
pvh_ap_start32:
    cli
    cld
    mov %ebx, %esi              /* the vCPU id: cpuid below clobbers ebx */
    lgdt pvh_gdt_ptr
    mov ${data}, %eax
    mov %eax, %ds
    mov %eax, %es
    mov %eax, %ss
    mov %cr4, %eax
    or $(1 << 5), %eax          /* CR4.PAE */
    mov %eax, %cr4
    mov $pvh_pml4, %eax         /* the boot vCPU's tables (entry.rs) */
    mov %eax, %cr3
    xor %edi, %edi              /* EFER.NXE as the boot vCPU set it */
    mov $0x80000000, %eax
    cpuid
    cmp $0x80000001, %eax
    jb 1f
    mov $0x80000001, %eax
    cpuid
    bt $20, %edx
    jnc 1f
    mov $(1 << 11), %edi
1:  mov $0xC0000080, %ecx
    rdmsr
    or $(1 << 8), %eax          /* EFER.LME */
    or %edi, %eax
    wrmsr
    mov %cr0, %eax
    or $0x80010001, %eax        /* CR0.PG | CR0.WP | CR0.PE */
    mov %eax, %cr0
    ljmp ${code64}, $pvh_ap_start64

    .code64
pvh_ap_start64:
    mov ${data}, %eax
    mov %eax, %ds
    mov %eax, %es
    mov %eax, %ss
    xor %eax, %eax
    mov %eax, %fs
    mov %eax, %gs
    /* Stack of vCPU id (1..MAX_VCPUS, checked by `start`): the id-th. */
    mov %esi, %eax
    and ${id_mask}, %eax
    inc %eax
    imul ${stack_size}, %rax
    lea pvh_ap_stacks(%rip), %rsp
    add %rax, %rsp
    mov %esi, %edi
    call {ap_entry}
2:  cli
    hlt
    jmp 2b
    .popsection

    .pushsection .bss.pvh_ap_stacks, "aw", @nobits
    .balign 16
pvh_ap_stacks:
    .skip {stacks_size}
    .popsection
"#,
    data = const DATA_SELECTOR,
    code64 = const CODE64_SELECTOR,
    id_mask = const MAX_VCPUS - 1,
    stack_size = const AP_STACK_SIZE,
    stacks_size = const AP_STACK_SIZE * MAX_VCPUS as usize,
    ap_entry = sym ap_entry,
    options(att_syntax)
);

unsafe extern "C" {
    fn pvh_ap_start32();
}

extern "C" fn ap_entry(id: u32) {
    let f = AP_MAIN.load(Ordering::Acquire);
    if f != 0 {
        // SAFETY: `start` stored a `fn(u32)` there and nothing else writes it.
        let f: fn(u32) = unsafe { core::mem::transmute::<usize, fn(u32)>(f) };
        f(id);
    }
}

/// What a VCPUOP call returned when it failed.
#[derive(Clone, Copy, Debug)]
pub struct Failed {
    pub what: &'static str,
    pub rc: u64,
}

/// Starts vCPU `id` (1..[`MAX_VCPUS`]) running `main(id)`: VCPUOP_initialise
/// at the AP stub, then VCPUOP_up. Every vCPU runs the same `main` (the
/// last one given).
pub fn start(id: u32, main: fn(u32)) -> Result<(), Failed> {
    if id == 0 || id >= MAX_VCPUS {
        return Err(Failed { what: "smp::start: vCPU id out of range", rc: u64::MAX });
    }
    AP_MAIN.store(main as usize, Ordering::Release);
    // The kernel lives below 4 GiB (it starts with paging off).
    let Ok(entry) = u32::try_from(pvh_ap_start32 as *const () as usize) else {
        return Err(Failed { what: "smp::start: the AP stub is above 4 GiB", rc: u64::MAX });
    };
    let regs = VcpuHvmX86_32 {
        ebx: id,
        eip: entry,
        eflags: 0x2,
        cr0: 0x11, // PE | ET
        cs_limit: 0xffff_ffff,
        ds_limit: 0xffff_ffff,
        ss_limit: 0xffff_ffff,
        es_limit: 0xffff_ffff,
        tr_limit: 0x67,
        cs_ar: 0xc9b,
        ds_ar: 0xc93,
        ss_ar: 0xc93,
        es_ar: 0xc93,
        tr_ar: 0x8b,
        ..Default::default()
    };
    let ctx = VcpuHvmContext::new_32(&regs);
    // SAFETY: VCPUOP_initialise reads the context, which lives on our stack for the call.
    let rc = unsafe { hypercall::hypercall3(HYPERVISOR_VCPU_OP, VCPUOP_INITIALISE, u64::from(id), &raw const ctx as u64) };
    if rc != 0 {
        return Err(Failed { what: "VCPUOP_initialise", rc });
    }
    // SAFETY: VCPUOP_up takes no argument.
    let rc = unsafe { hypercall::hypercall3(HYPERVISOR_VCPU_OP, VCPUOP_UP, u64::from(id), 0) };
    if rc != 0 {
        return Err(Failed { what: "VCPUOP_up", rc });
    }
    Ok(())
}
