//! Hypercalls from a 32-bit compatibility-mode code segment.
//!
//! Under Xen an HVM or PVH vCPU whose CS is not a 64-bit segment makes
//! hypercalls with the 32-bit convention (number in eax, arguments in ebx,
//! ecx, edx, esi, edi, result in eax) and the compat (32-bit) layouts of the
//! argument structures. [`hypercall32`] leaves long mode's 64-bit segment for
//! the GDT's 32-bit one ([`crate::entry::CODE32_SELECTOR`]), loads the six
//! registers, calls the hypercall page, stores eax and comes back. Everything
//! it touches (stack, [`Regs32`], page, code) is below 4 GiB, as it must be.

use abi::xen::HYPERCALL_STUB_SIZE;

use crate::entry::{CODE32_SELECTOR, CODE64_SELECTOR};
use crate::hypercall;

/// The registers of one 32-bit hypercall. `target` is the code called
/// (normally the number's stub in the hypercall page).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct Regs32 {
    /// IN: hypercall number. OUT: result.
    pub eax: u32,
    pub ebx: u32,
    pub ecx: u32,
    pub edx: u32,
    pub esi: u32,
    pub edi: u32,
    /// IN: 32-bit address called with the registers loaded.
    pub target: u32,
}

const _: () = assert!(core::mem::size_of::<Regs32>() == 28);

core::arch::global_asm!(
    r#"
    .pushsection .text.guest_rt_call32, "ax", @progbits
    .code64
    /* u32 guest_rt_call32(Regs32 *regs), regs below 4 GiB. Saves every
     * callee-saved register: compatibility mode leaves the upper halves of
     * the registers it writes undefined. */
    .global guest_rt_call32
guest_rt_call32:
    push %rbx
    push %rbp
    push %r12
    push %r13
    push %r14
    push %r15
    push %rdi
    pushq ${code32}
    lea 1f(%rip), %rax
    push %rax
    lretq                       /* to 1: with CS = the 32-bit segment */

    .code32
1:  mov %edi, %ebp              /* regs */
    push %ebp
    mov 4(%ebp), %ebx
    mov 8(%ebp), %ecx
    mov 12(%ebp), %edx
    mov 16(%ebp), %esi
    mov 20(%ebp), %edi
    mov 0(%ebp), %eax
    call *24(%ebp)
    pop %ebp
    mov %eax, 0(%ebp)
    ljmp ${code64}, $2f         /* back to the 64-bit segment */

    .code64
2:  pop %rdi
    mov 0(%rdi), %eax
    pop %r15
    pop %r14
    pop %r13
    pop %r12
    pop %rbp
    pop %rbx
    ret
    .popsection
"#,
    code32 = const CODE32_SELECTOR,
    code64 = const CODE64_SELECTOR,
    options(att_syntax)
);

unsafe extern "C" {
    fn guest_rt_call32(regs: *mut Regs32) -> u32;
}

/// Calls `regs.target` in compatibility mode with eax, ebx, ecx, edx, esi,
/// edi loaded from `regs`; returns eax (also left in `regs.eax`).
///
/// # Safety
/// `regs` and the stack must lie below 4 GiB (they do: the kernel image is
/// at 1 MiB); `target` must be 32-bit code that returns with a near RET; if
/// it is a hypercall stub, the registers must be what that hypercall expects,
/// pointers among them pointing where the hypervisor may read or write.
pub unsafe fn call32(regs: &mut Regs32) -> u32 {
    // SAFETY: the caller vouches for the target and the registers; the thunk restores every register the C ABI asks to preserve.
    unsafe { guest_rt_call32(regs) }
}

/// Calls hypercall `nr` (below 128) from compatibility mode with the 32-bit
/// register convention; returns eax. `-ENOSYS` (as a 32-bit value) without a
/// hypervisor.
///
/// # Safety
/// As for [`crate::hypercall::hypercall5`], with every pointer below 4 GiB.
pub unsafe fn hypercall32(nr: u32, args: [u32; 5]) -> u32 {
    let page = hypercall::page_addr();
    if page == 0 || u64::from(nr) >= hypercall::PAGE_STUBS {
        return 0u32.wrapping_sub(u32::from(abi::errno::Errno::ENOSYS.raw()));
    }
    let [ebx, ecx, edx, esi, edi] = args;
    let mut regs = Regs32 {
        eax: nr,
        ebx,
        ecx,
        edx,
        esi,
        edi,
        // The page is in .bss, below 4 GiB.
        target: u32::try_from(page + u64::from(nr) * HYPERCALL_STUB_SIZE)
            .expect("the hypercall page is below 4 GiB"),
    };
    // SAFETY: the target is the hypervisor's stub for `nr`; the caller vouches for the arguments.
    unsafe { call32(&mut regs) }
}
