//! The multiboot entry: the Multiboot 1 and 2 headers a loader looks for
//! (QEMU's `-kernel`, GRUB's `multiboot` / `multiboot2`), and the 32-bit
//! entry they jump to, which switches to long mode on early page tables and
//! calls `boot::start_multiboot` on the boot stack.
//!
//! The image is linked at `KERNEL_BASE` and loaded at physical `LOAD_PHYS`
//! (linker.ld); a virtual address `v` of the image is physical
//! `v - VIRT_TO_PHYS`, which is how the 32-bit code, running with paging
//! off, names its own data. The early tables map the first 4 GiB twice
//! (identity for the switch, and at the physical-memory window's offset) and
//! the image at `KERNEL_BASE`, all with 2 MiB pages; `paging::build` then
//! replaces them with the W^X tables every boot path ends up with.

use crate::mm::physmap;

/// Bytes the early window maps (the first 4 GiB): loaders put their
/// structures and modules below 4 GiB, and everything beyond is read only
/// after the hypervisor's own tables are active.
pub const EARLY_WINDOW: u64 = 1 << 32;

#[cfg(target_os = "none")]
core::arch::global_asm!(
    r#"
    .set VIRT_TO_PHYS, 0xffffffff7fe00000
    .set MB1_MAGIC, 0x1badb002
    /* Page-align modules, memory information, the address fields below. */
    .set MB1_FLAGS, 0x00010003
    .set MB2_MAGIC, 0xe85250d6

    .section .multiboot, "a"
    .balign 8
mb1_header:
    .long MB1_MAGIC
    .long MB1_FLAGS
    .long 0x100000000 - (MB1_MAGIC + MB1_FLAGS)
    .long mb1_header - VIRT_TO_PHYS     /* header_addr */
    .long __image_start - VIRT_TO_PHYS  /* load_addr: the file's first byte */
    .long __bss_start - VIRT_TO_PHYS    /* load_end_addr */
    .long __data_end - VIRT_TO_PHYS     /* bss_end_addr */
    .long mb_entry32 - VIRT_TO_PHYS     /* entry_addr */

    .balign 8
mb2_header:
    .long MB2_MAGIC
    .long 0                             /* architecture: i386 protected mode */
    .long mb2_header_end - mb2_header
    .long 0x100000000 - (MB2_MAGIC + (mb2_header_end - mb2_header))
    .balign 8
    .short 3, 0                         /* entry address tag */
    .long 12
    .long mb_entry32 - VIRT_TO_PHYS
    .balign 8
    .short 6, 0                         /* page-align modules */
    .long 8
    .balign 8
    .short 0, 0                         /* end */
    .long 8
mb2_header_end:

    .section .text.multiboot, "ax"
    .code32
    .globl mb_entry32
mb_entry32:
    cli
    cld
    movl %eax, %edi                     /* loader magic */
    movl %ebx, %esi                     /* its information structure */

    /* 2048 PD entries: 2 MiB pages over the first 4 GiB. */
    movl $(mb_pd_low - VIRT_TO_PHYS), %ebx
    xorl %ecx, %ecx
1:  movl %ecx, %eax
    shll $21, %eax
    orl $0x83, %eax                     /* present, writable, 2 MiB */
    movl %eax, (%ebx, %ecx, 8)
    movl $0, 4(%ebx, %ecx, 8)
    incl %ecx
    cmpl $2048, %ecx
    jb 1b

    /* One PDPT over those four PDs, for the identity map and the window. */
    movl $(mb_pdpt_low - VIRT_TO_PHYS), %edx
    xorl %ecx, %ecx
2:  movl %ecx, %eax
    shll $12, %eax
    addl $(mb_pd_low - VIRT_TO_PHYS + 3), %eax
    movl %eax, (%edx, %ecx, 8)
    movl $0, 4(%edx, %ecx, 8)
    incl %ecx
    cmpl $4, %ecx
    jb 2b

    /* The image at KERNEL_BASE: PDPT entry 510, 16 x 2 MiB from LOAD_PHYS. */
    movl $(mb_pd_image - VIRT_TO_PHYS), %ebx
    xorl %ecx, %ecx
3:  movl %ecx, %eax
    shll $21, %eax
    addl $(__image_start - VIRT_TO_PHYS + 0x83), %eax
    movl %eax, (%ebx, %ecx, 8)
    movl $0, 4(%ebx, %ecx, 8)
    incl %ecx
    cmpl $16, %ecx
    jb 3b
    movl $(mb_pdpt_image - VIRT_TO_PHYS), %edx
    movl $(mb_pd_image - VIRT_TO_PHYS + 3), 510 * 8(%edx)
    movl $0, 510 * 8 + 4(%edx)

    movl $(mb_pml4 - VIRT_TO_PHYS), %ebx
    movl $(mb_pdpt_low - VIRT_TO_PHYS + 3), %eax
    movl %eax, (%ebx)                   /* 0: identity */
    movl $0, 4(%ebx)
    movl %eax, 256 * 8(%ebx)            /* 256: the window at PHYS_OFFSET */
    movl $0, 256 * 8 + 4(%ebx)
    movl $(mb_pdpt_image - VIRT_TO_PHYS + 3), %eax
    movl %eax, 511 * 8(%ebx)            /* 511: the image */
    movl $0, 511 * 8 + 4(%ebx)

    movl %ebx, %cr3
    movl %cr4, %eax
    orl $0x20, %eax                     /* PAE */
    movl %eax, %cr4
    movl $0xc0000080, %ecx              /* EFER */
    rdmsr
    orl $0x900, %eax                    /* LME, NXE */
    wrmsr
    movl %cr0, %eax
    orl $0x80010001, %eax               /* PG, WP, PE */
    movl %eax, %cr0
    lgdtl (mb_gdtr - VIRT_TO_PHYS)
    ljmpl $0x08, $(mb_entry64 - VIRT_TO_PHYS)

    .code64
mb_entry64:
    movw $0x10, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    xorw %ax, %ax
    movw %ax, %fs
    movw %ax, %gs
    movabsq $mb_entry_high, %rax
    jmpq *%rax
mb_entry_high:
    movabsq $mb_stack_top, %rsp
    movl %edi, %edi
    movl %esi, %esi
    xorl %ebp, %ebp
    pushq $0                            /* no return address: a clean backtrace end */
    movabsq $multiboot_main, %rax
    jmpq *%rax

    .balign 8
mb_gdt:
    .quad 0
    .quad 0x00af9a000000ffff            /* 64-bit code */
    .quad 0x00cf92000000ffff            /* data */
mb_gdt_end:
mb_gdtr:
    .word mb_gdt_end - mb_gdt - 1
    .long mb_gdt - VIRT_TO_PHYS

    .section .bss.multiboot, "aw", @nobits
    .balign 4096
mb_pml4:
    .skip 4096
mb_pdpt_low:
    .skip 4096
mb_pdpt_image:
    .skip 4096
mb_pd_image:
    .skip 4096
mb_pd_low:
    .skip 4 * 4096
    .globl mb_stack_bottom
mb_stack_bottom:
    .skip 256 * 1024
mb_stack_top:
    .text
    "#,
    options(att_syntax)
);

/// Where the loader's 32-bit jump lands, in long mode on the boot stack:
/// `magic` is the loader's `%eax`, `info` its `%ebx`.
#[cfg(target_os = "none")]
#[unsafe(no_mangle)]
extern "C" fn multiboot_main(magic: u32, info: u32) -> ! {
    crate::boot::start_multiboot(magic, u64::from(info))
}

/// Physical memory below `EARLY_WINDOW`, read through the window.
pub struct EarlyPhysMemory;

impl EarlyPhysMemory {
    /// Copies `buf.len()` bytes from physical `addr`; false past the window.
    pub fn read(&self, addr: u64, buf: &mut [u8]) -> bool {
        let Some(end) = addr.checked_add(buf.len() as u64) else { return false };
        if end > EARLY_WINDOW {
            return false;
        }
        // SAFETY: the range lies in the first 4 GiB, which the early tables (and every later window) map; the loader's structures are plain bytes nobody writes while they are read; a copy makes no reference into them.
        unsafe { core::ptr::copy_nonoverlapping(physmap::ptr::<u8>(addr), buf.as_mut_ptr(), buf.len()) };
        true
    }
}

/// A module or string the loader left in RAM that the memory map marks in
/// use (so the frame allocator never hands it out) and nothing writes.
pub fn loader_bytes(addr: u64, len: u64) -> Option<&'static [u8]> {
    let end = addr.checked_add(len)?;
    if end > EARLY_WINDOW {
        return None;
    }
    // SAFETY: as above, the range is mapped by every window; the boot path carves it out of free memory before the allocator starts, so it stays unchanged for ever.
    Some(unsafe { physmap::bytes(addr, usize::try_from(len).ok()?) })
}

/// The physical range of the hypervisor image (from its load address to the
/// end of its bss, boot stack and early tables included).
#[cfg(target_os = "none")]
pub fn image_range() -> (u64, u64) {
    unsafe extern "C" {
        static __image_start: u8;
        static __data_end: u8;
    }
    const VIRT_TO_PHYS: u64 = 0xffff_ffff_7fe0_0000;
    ((&raw const __image_start) as u64 - VIRT_TO_PHYS, (&raw const __data_end) as u64 - VIRT_TO_PHYS)
}
