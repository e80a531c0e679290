//! Application-processor start-up: a real-mode trampoline copied below 1 MiB
//! switches straight to long mode with the hypervisor's page tables and jumps
//! to `ap_entry` on a fresh stack. APs are started one at a time, each
//! waited for, so their boot lines come out in order.

use crate::bits::{low8, low32, to_usize};
use core::sync::atomic::{AtomicBool, Ordering};

use alloc::boxed::Box;

use super::{apic, cpu, percpu, tsc};
use crate::mm::physmap;

/// Stack of each application processor.
const AP_STACK_SIZE: usize = 64 * 1024;
/// How long one AP gets to report in.
const AP_TIMEOUT_US: u64 = 500_000;

core::arch::global_asm!(
    r#"
    .section .rodata.ap_trampoline, "a"
    .code16
    .globl ap_trampoline_start
ap_trampoline_start:
    cli
    cld
    movw %cs, %ax
    movw %ax, %ds
    lgdtl (ap_tr_gdtr - ap_trampoline_start)
    movl %cr4, %eax
    orl $0x20, %eax                 /* CR4.PAE */
    movl %eax, %cr4
    movl (ap_tr_cr3 - ap_trampoline_start), %eax
    movl %eax, %cr3
    movl $0xc0000080, %ecx          /* IA32_EFER */
    rdmsr
    orl $0x900, %eax                /* LME | NXE */
    wrmsr
    movl %cr0, %eax
    orl $0x80010001, %eax           /* PG | WP | PE */
    movl %eax, %cr0
    ljmpl *(ap_tr_farptr - ap_trampoline_start)

    .code64
ap_tr_long_mode:
    movw $0x10, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    movq ap_tr_stack(%rip), %rsp
    movq ap_tr_arg(%rip), %rdi
    movq ap_tr_entry(%rip), %rax
    pushq $0                        /* no return address: a clean backtrace end */
    jmpq *%rax

    .balign 8
ap_tr_gdt:
    .quad 0
    .quad 0x00af9b000000ffff        /* 64-bit code, DPL 0, accessed */
    .quad 0x00cf93000000ffff        /* data, accessed: the page is read-only */
ap_tr_gdt_end:
    .globl ap_tr_gdtr
ap_tr_gdtr:
    .word ap_tr_gdt_end - ap_tr_gdt - 1
    .long 0                         /* patched: physical address of ap_tr_gdt */
    .globl ap_tr_farptr
ap_tr_farptr:
    .long 0                         /* patched: physical address of ap_tr_long_mode */
    .word 0x08
    .globl ap_tr_cr3
ap_tr_cr3:
    .long 0
    .balign 8
    .globl ap_tr_stack
ap_tr_stack:
    .quad 0
    .globl ap_tr_arg
ap_tr_arg:
    .quad 0
    .globl ap_tr_entry
ap_tr_entry:
    .quad 0
    .globl ap_trampoline_end
ap_trampoline_end:
    .globl ap_tr_offsets
    .balign 8
ap_tr_offsets:
    .quad ap_tr_gdt - ap_trampoline_start
    .quad ap_tr_long_mode - ap_trampoline_start
    .text
    "#,
    options(att_syntax)
);

unsafe extern "C" {
    static ap_trampoline_start: u8;
    static ap_trampoline_end: u8;
    static ap_tr_gdtr: u8;
    static ap_tr_farptr: u8;
    static ap_tr_cr3: u8;
    static ap_tr_stack: u8;
    static ap_tr_arg: u8;
    static ap_tr_entry: u8;
    static ap_tr_offsets: [u64; 2];
}

/// The trampoline, copied to its page below 1 MiB.
pub struct Trampoline {
    phys: u64,
}

/// Set by an AP once it runs Rust code on its own stack.
static AP_STARTED: AtomicBool = AtomicBool::new(false);

fn offset_of(sym: *const u8) -> u64 {
    sym as u64 - (&raw const ap_trampoline_start) as u64
}

impl Trampoline {
    /// Copies the start-up code to `phys` (a page below 1 MiB, identity
    /// mapped executable in the hypervisor's page tables) and fills in the
    /// fields every AP shares.
    pub fn install(phys: u64, cr3: u64) -> Trampoline {
        assert!(phys < 0x10_0000 && phys.is_multiple_of(4096), "AP start page must be a page below 1 MiB");
        assert!(cr3 < 1 << 32, "AP page-table root must be below 4 GiB");
        let start = &raw const ap_trampoline_start;
        let len = to_usize(offset_of(&raw const ap_trampoline_end));
        assert!(len <= 4096);
        // SAFETY: `phys` is a frame allocated for the trampoline, mapped writable through the window; the source is the image's rodata. `ap_tr_offsets` is a static in the image.
        let (gdt_off, entry64_off) = unsafe {
            core::ptr::copy_nonoverlapping(start, physmap::ptr::<u8>(phys), len);
            (ap_tr_offsets[0], ap_tr_offsets[1])
        };
        let t = Trampoline { phys };
        t.write_u32(offset_of(&raw const ap_tr_gdtr) + 2, low32(phys + gdt_off));
        t.write_u32(offset_of(&raw const ap_tr_farptr), low32(phys + entry64_off));
        t.write_u32(offset_of(&raw const ap_tr_cr3), low32(cr3));
        t.write_u64(offset_of(&raw const ap_tr_entry), ap_entry as *const () as u64);
        t
    }

    fn write_u32(&self, offset: u64, value: u32) {
        // SAFETY: the offset lies inside the copied trampoline (checked by construction from its own labels); the page is ours.
        unsafe { core::ptr::write_unaligned(physmap::ptr::<u32>(self.phys + offset), value) }
    }

    fn write_u64(&self, offset: u64, value: u64) {
        // SAFETY: as for `write_u32`.
        unsafe { core::ptr::write_unaligned(physmap::ptr::<u64>(self.phys + offset), value) }
    }

    /// Starts the AP with `apic_id` as CPU `index` and waits for it to run
    /// Rust code. False if it did not answer in time.
    pub fn start(&self, index: usize, apic_id: u32) -> bool {
        let stack: &'static mut [u8] = Box::leak(alloc::vec![0u8; AP_STACK_SIZE].into_boxed_slice());
        let top = (stack.as_mut_ptr_range().end as u64) & !0xf;
        self.write_u64(offset_of(&raw const ap_tr_stack), top);
        self.write_u64(offset_of(&raw const ap_tr_arg), index as u64);
        AP_STARTED.store(false, Ordering::SeqCst);
        apic::start_ap(apic_id, low8(self.phys >> 12));
        let deadline = cpu::rdtsc() + AP_TIMEOUT_US * tsc::khz() / 1000;
        while !AP_STARTED.load(Ordering::SeqCst) {
            if cpu::rdtsc() > deadline {
                return false;
            }
            cpu::relax();
        }
        true
    }
}

/// Where each AP's trampoline lands: set up the CPU, then run the shared
/// per-CPU bring-up in `boot`.
extern "C" fn ap_entry(index: u64) -> ! {
    percpu::init_this_cpu(to_usize(index));
    AP_STARTED.store(true, Ordering::SeqCst);
    crate::boot::ap_main(to_usize(index))
}
