//! PVH entry: from 32-bit protected mode (paging off) to 64-bit Rust.
//!
//! The domain builder enters `pvh_start32`, named by the
//! `XEN_ELFNOTE_PHYS32_ENTRY` note below, as Xen's docs/misc/pvh.pandoc says:
//! protected mode, paging off, CS/DS/ES/SS flat 4 GiB (their selectors are
//! undefined, only the hidden parts count), `%ebx` = guest-physical address of
//! the `hvm_start_info`, interrupts off, no valid stack.
//!
//! The stub zeroes .bss, loads its own GDT, identity-maps the first 4 GiB with
//! 2 MiB pages (so guest-physical = virtual for everything below 4 GiB), turns
//! on PAE, EFER.LME (and EFER.NXE if the CPU has NX), paging, far-jumps to
//! 64-bit code, switches to a stack in .bss and calls
//! [`crate::rust_entry`]`(start_info_paddr)`.
//!
//! The GDT also holds a 32-bit code segment, [`CODE32_SELECTOR`], for the
//! compatibility-mode hypercall thunk (`compat.rs`).

use abi::elfnote::XEN_ELFNOTE_PHYS32_ENTRY;

/// Size of the boot stack in .bss.
const STACK_SIZE: usize = 64 * 1024;

/// GDT selector of the 64-bit code segment.
pub const CODE64_SELECTOR: u16 = 0x08;
/// GDT selector of the flat data segment (DS, ES, SS in every mode).
pub const DATA_SELECTOR: u16 = 0x10;
/// GDT selector of the 32-bit code segment (L=0, D=1, flat 4 GiB): code
/// running with it is in compatibility mode.
pub const CODE32_SELECTOR: u16 = 0x18;

core::arch::global_asm!(
    r#"
    .pushsection .note.Xen, "a", @note
    .balign 4
    .long 4                     /* namesz: "Xen\0" */
    .long 4                     /* descsz: a 32-bit address */
    .long {phys32_entry}        /* type: XEN_ELFNOTE_PHYS32_ENTRY */
    .asciz "Xen"
    .balign 4
    .long pvh_start32
    .balign 4
    .popsection

    .pushsection .text.pvh_entry, "ax", @progbits
    .code32
    .global pvh_start32
pvh_start32:
    cli
    cld
    mov %ebx, %esi              /* start_info address: cpuid below clobbers ebx */

    /* Zero .bss (the stack and page tables live there); a loader that already
     * did this loses nothing. */
    mov $__bss_start, %edi
    mov $__bss_end, %ecx
    sub %edi, %ecx
    shr $2, %ecx
    xor %eax, %eax
    rep stosl

    lgdt pvh_gdt_ptr
    mov ${data}, %eax
    mov %eax, %ds
    mov %eax, %es
    mov %eax, %ss
    mov %eax, %fs
    mov %eax, %gs

    /* PML4[0] -> PDPT; PDPT[0..4] -> four PDs; PD entries map 2 MiB pages
     * 0..4 GiB, present + writable + PS. */
    mov $pvh_pdpt, %eax
    or $0x3, %eax
    mov %eax, pvh_pml4

    mov $pvh_pd, %eax
    or $0x3, %eax
    xor %ecx, %ecx
1:  mov %eax, pvh_pdpt(, %ecx, 8)
    add $0x1000, %eax
    inc %ecx
    cmp $4, %ecx
    jb 1b

    mov $0x83, %eax
    xor %ecx, %ecx
2:  mov %eax, pvh_pd(, %ecx, 8)
    add $0x200000, %eax
    inc %ecx
    cmp $2048, %ecx
    jb 2b

    mov %cr4, %eax
    or $(1 << 5), %eax          /* CR4.PAE */
    mov %eax, %cr4
    mov $pvh_pml4, %eax
    mov %eax, %cr3

    /* EFER.NXE only if CPUID 0x80000001 EDX[20] says NX exists (else #GP). */
    xor %edi, %edi
    mov $0x80000000, %eax
    cpuid
    cmp $0x80000001, %eax
    jb 3f
    mov $0x80000001, %eax
    cpuid
    bt $20, %edx
    jnc 3f
    mov $(1 << 11), %edi        /* EFER.NXE */
3:  mov $0xC0000080, %ecx       /* IA32_EFER */
    rdmsr
    or $(1 << 8), %eax          /* EFER.LME */
    or %edi, %eax
    wrmsr

    mov %cr0, %eax
    or $0x80010001, %eax        /* CR0.PG | CR0.WP | CR0.PE */
    mov %eax, %cr0

    ljmp ${code64}, $pvh_start64

    .code64
pvh_start64:
    mov ${data}, %eax
    mov %eax, %ds
    mov %eax, %es
    mov %eax, %ss
    xor %eax, %eax
    mov %eax, %fs
    mov %eax, %gs
    mov $pvh_stack_top, %rsp
    mov %esi, %edi              /* rust_entry(start_info_paddr), zero-extended */
    call {rust_entry}
4:  cli
    hlt
    jmp 4b
    .popsection

    .pushsection .rodata.pvh_gdt, "a", @progbits
    .balign 8
pvh_gdt:
    .quad 0
    .quad 0x00af9b000000ffff    /* 0x08: 64-bit code, accessed */
    .quad 0x00cf93000000ffff    /* 0x10: flat data, accessed */
    .quad 0x00cf9b000000ffff    /* 0x18: 32-bit code (L=0, D=1), accessed */
pvh_gdt_end:
    .balign 4
    .global pvh_gdt_ptr         /* for smp.rs's AP stub too */
pvh_gdt_ptr:
    .word pvh_gdt_end - pvh_gdt - 1
    .long pvh_gdt
    .popsection

    .pushsection .bss.pvh_page_tables, "aw", @nobits
    .balign 4096
    .global pvh_pml4            /* for smp.rs's AP stub too */
pvh_pml4:
    .skip 4096
    .global pvh_pdpt
pvh_pdpt:
    .skip 4096
    .global pvh_pd              /* the four PDs of 0..4 GiB, for paging.rs */
pvh_pd:
    .skip 4 * 4096
    .global pvh_pd_high         /* spare PD for paging.rs, above 4 GiB */
pvh_pd_high:
    .skip 4096
    .balign 16
pvh_stack:
    .skip {stack_size}
pvh_stack_top:
    .popsection
"#,
    phys32_entry = const XEN_ELFNOTE_PHYS32_ENTRY,
    stack_size = const STACK_SIZE,
    data = const DATA_SELECTOR,
    code64 = const CODE64_SELECTOR,
    rust_entry = sym crate::rust_entry,
    options(att_syntax)
);
