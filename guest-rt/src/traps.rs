//! Exceptions and ring 3, for test kernels that provoke faults on purpose.
//! Nothing here runs unless a kernel calls [`install`]; a kernel that never
//! does keeps the boot GDT and no IDT, as before.
//!
//! [`install`] loads a GDT with the boot selectors unchanged (0x08 code64,
//! 0x10 data, 0x18 code32) plus user segments ([`USER_CS`], [`USER_SS`]) and
//! a TSS whose RSP0 is a stack of its own, and an IDT with a handler for
//! each of the 32 exception vectors and a DPL 3 gate at [`USER_RETURN_VECTOR`].
//!
//! An instruction that may fault runs through one of the `try_*` wrappers:
//! before it the wrapper names the address after the instruction as the
//! resume point, and an exception taken there is recorded and skipped
//! ([`Fault`]). An exception anywhere else prints the vector and the RIP and
//! crashes the domain ([`crate::shutdown`]), so a log shows where it died.
//!
//! [`run_user`] enters CPL 3 at a routine of the kernel's, copied into a
//! 2 MiB page that [`crate::paging::make_user_2mib`] made user-accessible;
//! the routine comes back with `int 0x80` (its rax is the result), and an
//! exception at CPL 3 comes back too, as [`UserExit::Fault`].
//! [`user_hypercall`] is one such routine: a hypercall made at CPL 3.

use core::arch::{asm, global_asm};
use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicU64, Ordering};

use crate::entry::{CODE32_SELECTOR, CODE64_SELECTOR, DATA_SELECTOR};

/// GDT selector of the user data/stack segment (DPL 3), with RPL 3.
pub const USER_SS: u16 = 0x20 | 3;
/// GDT selector of the user 64-bit code segment (DPL 3), with RPL 3.
pub const USER_CS: u16 = 0x28 | 3;
/// GDT selector of the TSS.
const TSS_SELECTOR: u16 = 0x30;
/// The gate user code takes to come back to the kernel.
pub const USER_RETURN_VECTOR: u8 = 0x80;

/// An exception that an instruction run through a `try_*` wrapper took.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fault {
    pub vector: u8,
    pub error_code: u64,
}

/// #UD, #GP, #PF.
pub const UD: u8 = 6;
pub const GP: u8 = 13;
pub const PF: u8 = 14;

/// Where the handler resumes a fault in the kernel (0: no fault expected).
static RESUME: AtomicU64 = AtomicU64::new(0);
/// The last recorded fault: `1 << 63 | vector`, 0 for none.
static FAULT: AtomicU64 = AtomicU64::new(0);
static FAULT_ERROR: AtomicU64 = AtomicU64::new(0);

/// Registers the exception stubs push, lowest address first.
#[repr(C)]
pub struct Frame {
    r11: u64,
    r10: u64,
    r9: u64,
    r8: u64,
    rdi: u64,
    rsi: u64,
    rdx: u64,
    rcx: u64,
    rax: u64,
    vector: u64,
    error_code: u64,
    rip: u64,
    cs: u64,
    rflags: u64,
    rsp: u64,
    ss: u64,
}

#[repr(C, align(16))]
struct Tables {
    gdt: [u64; 8],
    idt: [[u64; 2]; 256],
    tss: [u32; 26],
}

struct Shared(UnsafeCell<Tables>);
// SAFETY: one CPU; the tables are written by `install` only, before the CPU uses them.
unsafe impl Sync for Shared {}

static TABLES: Shared = Shared(UnsafeCell::new(Tables { gdt: [0; 8], idt: [[0; 2]; 256], tss: [0; 26] }));

/// The stack the CPU switches to on an exception at CPL 3 (TSS.RSP0).
#[repr(C, align(16))]
struct Stack(UnsafeCell<[u8; 16 * 1024]>);
// SAFETY: used by the CPU as a stack only.
unsafe impl Sync for Stack {}
static RING0_STACK: Stack = Stack(UnsafeCell::new([0; 16 * 1024]));

unsafe extern "C" {
    /// 32 stub addresses, one per exception vector (asm below).
    static guest_rt_exc_stubs: [u64; 32];
    fn guest_rt_user_return();
    fn guest_rt_enter_user(entry: u64, stack: u64, arg: u64) -> u64;
}

global_asm!(
    r#"
    .macro EXC n
    guest_rt_exc_\n:
    .if (\n == 8) || (\n == 10) || (\n == 11) || (\n == 12) || (\n == 13) || (\n == 14) || (\n == 17) || (\n == 21) || (\n == 29) || (\n == 30)
    .else
        push 0
    .endif
        push \n
        jmp guest_rt_exc_common
    .endm

    .pushsection .text.guest_rt_traps, "ax", @progbits
    .irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    EXC \n
    .endr

guest_rt_exc_common:
    push rax
    push rcx
    push rdx
    push rsi
    push rdi
    push r8
    push r9
    push r10
    push r11
    mov rdi, rsp
    cld
    call {handler}
    pop r11
    pop r10
    pop r9
    pop r8
    pop rdi
    pop rsi
    pop rdx
    pop rcx
    pop rax
    add rsp, 16
    iretq

    /* rdi = entry, rsi = user stack top, rdx = the user routine's rdi. */
    .global guest_rt_enter_user
guest_rt_enter_user:
    push rbx
    push rbp
    push r12
    push r13
    push r14
    push r15
    mov [rip + guest_rt_user_saved_rsp], rsp
    push {user_ss}
    push rsi
    push 0x2
    push {user_cs}
    push rdi
    mov rdi, rdx
    iretq

    /* int 0x80 from CPL 3 (or the fault path): back on the kernel stack with rax. */
    .global guest_rt_user_return
guest_rt_user_return:
    mov rsp, [rip + guest_rt_user_saved_rsp]
    mov cx, {data}
    mov ss, cx
    mov ds, cx
    mov es, cx
    pop r15
    pop r14
    pop r13
    pop r12
    pop rbp
    pop rbx
    ret
    .popsection

    .pushsection .rodata.guest_rt_traps, "a", @progbits
    .balign 8
    .global guest_rt_exc_stubs
guest_rt_exc_stubs:
    .irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    .quad guest_rt_exc_\n
    .endr
    .popsection

    .pushsection .data.guest_rt_traps, "aw", @progbits
    .balign 8
    .global guest_rt_user_saved_rsp
guest_rt_user_saved_rsp:
    .quad 0
    .popsection
"#,
    handler = sym exception,
    user_ss = const USER_SS,
    user_cs = const USER_CS,
    data = const DATA_SELECTOR,
);

// The CPL 3 hypercall routine: rdi points at a `UserCall` in the user
// page; it makes the call with VMCALL (Intel) or VMMCALL (AMD), as the
// hypercall page would (it is supervisor-only, so CPL 3 cannot call it),
// and comes back with rax by `int 0x80`. Position-independent: run_user
// copies it to the user page.
global_asm!(
    r#"
    .pushsection .rodata.guest_rt_user_hypercall, "a", @progbits
    .global guest_rt_user_hypercall
guest_rt_user_hypercall:
    mov r12, rdi
    mov rax, [r12]
    mov rdi, [r12 + 8]
    mov rsi, [r12 + 16]
    mov rdx, [r12 + 24]
    mov r10, [r12 + 32]
    mov r8, [r12 + 40]
    cmp qword ptr [r12 + 48], 0
    jne 1f
    vmcall
    jmp 2f
1:  vmmcall
2:  int 0x80
    .global guest_rt_user_hypercall_end
guest_rt_user_hypercall_end:
    .popsection
"#
);

unsafe extern "C" {
    static guest_rt_user_hypercall: u8;
    static guest_rt_user_hypercall_end: u8;
}

/// What the CPL 3 hypercall routine reads: the number, the five arguments
/// (64-bit convention: rdi, rsi, rdx, r10, r8), and which instruction.
#[repr(C)]
struct UserCall {
    nr: u64,
    args: [u64; 5],
    amd: u64,
}

/// Where in the user page [`user_hypercall`] puts its [`UserCall`]: past
/// the 2 KiB [`run_user`] copies code to.
pub const USER_CALL_OFFSET: u64 = 0x800;

/// Hypercall `nr` with `args`, made at CPL 3 by VMCALL or VMMCALL (the
/// vendor [`crate::hypercall::init`] found): `Returned(rax)`, or the fault
/// the instruction took. Uses the user page's first 2 KiB (code) and 64
/// bytes at [`USER_CALL_OFFSET`]; the rest of the page is the caller's but
/// for its last 4 KiB (the user stack). Needs [`install`].
///
/// # Safety
/// As [`run_user`] for `user_page`. The call runs with user rights, so a
/// hypervisor that refuses it as Xen does (-EPERM) does nothing; one that
/// runs it anyway acts on the arguments, which must then be harmless enough
/// for the caller to report the failure.
pub unsafe fn user_hypercall(user_page: u64, nr: u64, args: [u64; 5]) -> UserExit {
    let start = &raw const guest_rt_user_hypercall;
    let end = &raw const guest_rt_user_hypercall_end as usize;
    // SAFETY: the routine's bytes lie between the two labels in rodata.
    let code = unsafe { core::slice::from_raw_parts(start, end - start as usize) };
    let block = (user_page + USER_CALL_OFFSET) as *mut UserCall;
    // SAFETY: the caller gives us the user page; the block lies past the code and far below the stack.
    unsafe {
        block.write_volatile(UserCall { nr, args, amd: u64::from(crate::hypercall::amd()) });
        run_user(code, user_page, block as u64)
    }
}

/// What [`run_user`] came back with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UserExit {
    /// The routine executed `int 0x80`; its rax.
    Returned(u64),
    /// It took this exception at CPL 3.
    Fault(Fault),
}

/// The marker rax the fault path returns with (never a hypercall result a
/// test expects: not a small negative errno, not a small count).
const USER_FAULTED: u64 = 0xdead_0000_0000_0000;

extern "C" fn exception(f: &mut Frame) {
    let vector = (f.vector & 0xff) as u8;
    if f.cs & 3 == 3 {
        // A fault at CPL 3: back to run_user's caller.
        record(vector, f.error_code);
        f.rip = guest_rt_user_return as *const () as u64;
        f.cs = u64::from(CODE64_SELECTOR);
        f.ss = u64::from(DATA_SELECTOR);
        f.rflags = 0x2;
        f.rax = USER_FAULTED;
        return;
    }
    let resume = RESUME.swap(0, Ordering::SeqCst);
    if resume != 0 {
        record(vector, f.error_code);
        f.rip = resume;
        return;
    }
    let cr2: u64;
    // SAFETY: reading CR2 has no side effect.
    unsafe { asm!("mov {}, cr2", out(reg) cr2, options(nomem, nostack, preserves_flags)) };
    crate::println!(
        "{}: unexpected exception {vector} (error code {:#x}) at rip {:#x}, cr2 {cr2:#x}, rax {:#x} rcx {:#x} rdx {:#x} rsi {:#x} rdi {:#x}",
        crate::name(),
        f.error_code,
        f.rip,
        f.rax,
        f.rcx,
        f.rdx,
        f.rsi,
        f.rdi
    );
    let _ = (f.r8, f.r9, f.r10, f.r11, f.rsp);
    crate::shutdown(abi::sched::SHUTDOWN_CRASH);
}

fn record(vector: u8, error_code: u64) {
    FAULT_ERROR.store(error_code, Ordering::SeqCst);
    FAULT.store((1 << 63) | u64::from(vector), Ordering::SeqCst);
}

/// Loads the GDT (boot selectors plus user segments and the TSS) and the IDT.
/// Idempotent.
pub fn install() {
    let t = TABLES.0.get();
    let tss = t.cast::<u8>().wrapping_add(core::mem::offset_of!(Tables, tss)) as u64;
    let rsp0 = RING0_STACK.0.get() as u64 + 16 * 1024;
    // SAFETY: one CPU, nothing uses the tables before the LGDT/LIDT/LTR here; the GDT keeps the boot descriptors at the selectors in use (CS 0x08, data 0x10, code32 0x18), so the loaded segments stay valid; the stubs named by the IDT live in .text for ever.
    unsafe {
        let t = &mut *t;
        t.gdt[1] = 0x00af_9b00_0000_ffff; // CODE64_SELECTOR
        t.gdt[2] = 0x00cf_9300_0000_ffff; // DATA_SELECTOR
        t.gdt[3] = 0x00cf_9b00_0000_ffff; // CODE32_SELECTOR
        t.gdt[4] = 0x00cf_f300_0000_ffff; // user data, DPL 3
        t.gdt[5] = 0x00af_fb00_0000_ffff; // user code64, DPL 3
        let limit = 103u64;
        t.gdt[6] = limit | ((tss & 0xff_ffff) << 16) | (0x89 << 40) | (((tss >> 24) & 0xff) << 56);
        t.gdt[7] = tss >> 32;
        t.tss = [0; 26];
        // RSP0 at byte offset 4; the I/O map base (offset 102) past the limit: no bitmap.
        t.tss[1] = low32(rsp0);
        t.tss[2] = (rsp0 >> 32) as u32;
        t.tss[25] = 104 << 16;
        let stubs = &raw const guest_rt_exc_stubs;
        for (v, &stub) in (*stubs).iter().enumerate() {
            t.idt[v] = gate(stub, 0);
        }
        t.idt[usize::from(USER_RETURN_VECTOR)] = gate(guest_rt_user_return as *const () as u64, 3);

        #[repr(C, packed)]
        struct Pointer {
            limit: u16,
            base: u64,
        }
        let gdtr = Pointer { limit: 8 * 8 - 1, base: t.gdt.as_ptr() as u64 };
        let idtr = Pointer { limit: 256 * 16 - 1, base: t.idt.as_ptr() as u64 };
        // An LTR of a busy TSS faults: reinstalling clears the busy bit above first (type 0x89).
        asm!(
            "lgdt [{g}]",
            "lidt [{i}]",
            "ltr {s:x}",
            g = in(reg) &raw const gdtr,
            i = in(reg) &raw const idtr,
            s = in(reg) TSS_SELECTOR,
            options(nostack, preserves_flags)
        );
    }
    let _ = CODE32_SELECTOR;
}

/// Points IDT vector `vector` (32 or above, not [`USER_RETURN_VECTOR`]) at
/// `handler` through a DPL 0 interrupt gate, for kernels that take device
/// interrupts; false for a vector this module owns. Needs [`install`].
///
/// # Safety
/// `handler` must be an interrupt handler: it keeps every register and the
/// stack balanced and ends in IRETQ.
pub unsafe fn set_interrupt_gate(vector: u8, handler: u64) -> bool {
    if vector < 32 || vector == USER_RETURN_VECTOR {
        return false;
    }
    let t = TABLES.0.get();
    // SAFETY: one CPU; the entry is written whole before an interrupt can use it (the caller has not yet made the vector fire), and the IDT stays where LIDT put it.
    unsafe { (&raw mut (*t).idt[usize::from(vector)]).write_volatile(gate(handler, 0)) };
    true
}

/// The low 32 bits.
fn low32(v: u64) -> u32 {
    u32::try_from(v & 0xffff_ffff).unwrap_or(0)
}

/// A 64-bit interrupt gate to `handler` with descriptor privilege `dpl`.
fn gate(handler: u64, dpl: u64) -> [u64; 2] {
    let low = (handler & 0xffff)
        | (u64::from(CODE64_SELECTOR) << 16)
        | ((0x8e | (dpl << 5)) << 40)
        | (((handler >> 16) & 0xffff) << 48);
    [low, handler >> 32]
}

/// Clears the fault record; the next wrapper's result comes from it.
fn arm() {
    FAULT.store(0, Ordering::SeqCst);
}

fn taken() -> Result<(), Fault> {
    RESUME.store(0, Ordering::SeqCst);
    match FAULT.swap(0, Ordering::SeqCst) {
        0 => Ok(()),
        f => Err(Fault { vector: (f & 0xff) as u8, error_code: FAULT_ERROR.load(Ordering::SeqCst) }),
    }
}

/// `$insn` (RDMSR, XGETBV: ECX in, EDX:EAX out, nothing else touched)
/// under the fault catcher: the value, or the fault it took.
macro_rules! caught_read {
    ($insn:literal, $ecx:expr) => {{
        arm();
        let (lo, hi): (u32, u32);
        // SAFETY: the instruction only reads; a fault is taken by the handler, which resumes at label 2 (stored as the resume point first).
        unsafe {
            asm!(
                "lea {t}, [rip + 2f]",
                "mov [{r}], {t}",
                "xor eax, eax",
                "xor edx, edx",
                $insn,
                "2:",
                t = out(reg) _,
                r = in(reg) RESUME.as_ptr(),
                in("ecx") $ecx,
                out("eax") lo,
                out("edx") hi,
                options(nostack)
            );
        }
        taken().map(|()| (u64::from(hi) << 32) | u64::from(lo))
    }};
}

/// `$insn` (WRMSR, XSETBV: ECX and EDX:EAX in) under the fault catcher.
/// Its callers are `unsafe fn`s whose callers vouch for the write.
macro_rules! caught_write {
    ($insn:literal, $ecx:expr, $value:expr) => {{
        arm();
        let value: u64 = $value;
        // SAFETY: the caller of the enclosing unsafe fn vouches for the write's effect; a fault resumes at label 2.
        unsafe {
            asm!(
                "lea {t}, [rip + 2f]",
                "mov [{r}], {t}",
                $insn,
                "2:",
                t = out(reg) _,
                r = in(reg) RESUME.as_ptr(),
                in("ecx") $ecx,
                in("eax") low32(value),
                in("edx") (value >> 32) as u32,
                options(nostack)
            );
        }
        taken()
    }};
}

/// RDMSR `msr`, or the fault it takes.
pub fn try_rdmsr(msr: u32) -> Result<u64, Fault> {
    caught_read!("rdmsr", msr)
}

/// WRMSR `msr` = `value`, or the fault it takes.
///
/// # Safety
/// If the write succeeds it must not break what the kernel relies on.
pub unsafe fn try_wrmsr(msr: u32, value: u64) -> Result<(), Fault> {
    caught_write!("wrmsr", msr, value)
}

/// XSETBV of XCR `index` = `value`, or the fault it takes.
///
/// # Safety
/// If it succeeds, the enabled state components change for this kernel.
pub unsafe fn try_xsetbv(index: u32, value: u64) -> Result<(), Fault> {
    caught_write!("xsetbv", index, value)
}

/// XGETBV of XCR `index`, or the fault it takes.
pub fn try_xgetbv(index: u32) -> Result<u64, Fault> {
    caught_read!("xgetbv", index)
}

/// CR4.
pub fn read_cr4() -> u64 {
    let v;
    // SAFETY: reading CR4 has no side effect.
    unsafe { asm!("mov {}, cr4", out(reg) v, options(nomem, nostack, preserves_flags)) };
    v
}

/// CR0.
pub fn read_cr0() -> u64 {
    let v;
    // SAFETY: reading CR0 has no side effect.
    unsafe { asm!("mov {}, cr0", out(reg) v, options(nomem, nostack, preserves_flags)) };
    v
}

/// MOV to CR0, or the fault it takes.
///
/// # Safety
/// If it succeeds, the new CR0 must keep the kernel running (PE, PG stay set).
pub unsafe fn try_write_cr0(value: u64) -> Result<(), Fault> {
    arm();
    // SAFETY: the caller vouches for the value; a fault resumes at label 2.
    unsafe {
        asm!(
            "lea {t}, [rip + 2f]",
            "mov [{r}], {t}",
            "mov cr0, {v}",
            "2:",
            t = out(reg) _,
            r = in(reg) RESUME.as_ptr(),
            v = in(reg) value,
            options(nostack)
        );
    }
    taken()
}

/// STAC: sets RFLAGS.AC, so that supervisor accesses to user pages pass
/// under CR4.SMAP.
///
/// # Safety
/// The CPU must have SMAP (CPUID.(EAX=7,ECX=0):EBX[20]), else STAC is #UD.
pub unsafe fn stac() {
    // SAFETY: the caller checked SMAP; STAC changes only RFLAGS.AC.
    unsafe { asm!("stac", options(nostack)) };
}

/// CLAC: clears RFLAGS.AC.
///
/// # Safety
/// As [`stac`].
pub unsafe fn clac() {
    // SAFETY: the caller checked SMAP; CLAC changes only RFLAGS.AC.
    unsafe { asm!("clac", options(nostack)) };
}

/// RFLAGS.
pub fn read_rflags() -> u64 {
    let v;
    // SAFETY: PUSHFQ/POP reads RFLAGS through the stack, which is ours.
    unsafe { asm!("pushfq", "pop {}", out(reg) v, options(nomem, preserves_flags)) };
    v
}

/// MOV to CR4, or the fault it takes.
///
/// # Safety
/// If it succeeds, the new CR4 must keep the kernel running (PAE stays set).
pub unsafe fn try_write_cr4(value: u64) -> Result<(), Fault> {
    arm();
    // SAFETY: the caller vouches for the value; a fault resumes at label 2.
    unsafe {
        asm!(
            "lea {t}, [rip + 2f]",
            "mov [{r}], {t}",
            "mov cr4, {v}",
            "2:",
            t = out(reg) _,
            r = in(reg) RESUME.as_ptr(),
            v = in(reg) value,
            options(nostack)
        );
    }
    taken()
}

/// INVD (discards the caches without writing them back: on a real CPU our
/// own unwritten data would be lost, so callers have nothing dirty they need),
/// or the fault it takes.
pub fn try_invd() -> Result<(), Fault> {
    arm();
    // SAFETY: under a hypervisor INVD is intercepted (Xen treats it as WBINVD); a fault resumes at label 2.
    unsafe {
        asm!(
            "lea {t}, [rip + 2f]",
            "mov [{r}], {t}",
            "wbinvd",
            "invd",
            "2:",
            t = out(reg) _,
            r = in(reg) RESUME.as_ptr(),
            options(nostack)
        );
    }
    taken()
}

/// DR0..DR3 (`n` in 0..4; others read DR0).
pub fn read_dr(n: u8) -> u64 {
    let v;
    // SAFETY: reading a debug register at CPL 0 has no side effect.
    unsafe {
        match n {
            1 => asm!("mov {}, dr1", out(reg) v, options(nomem, nostack, preserves_flags)),
            2 => asm!("mov {}, dr2", out(reg) v, options(nomem, nostack, preserves_flags)),
            3 => asm!("mov {}, dr3", out(reg) v, options(nomem, nostack, preserves_flags)),
            _ => asm!("mov {}, dr0", out(reg) v, options(nomem, nostack, preserves_flags)),
        }
    }
    v
}

/// Writes DR0..DR3 (`n` in 0..4; others write DR0). Breakpoints stay off
/// (DR7 is not touched).
pub fn write_dr(n: u8, v: u64) {
    // SAFETY: with DR7's enables clear an address register has no effect.
    unsafe {
        match n {
            1 => asm!("mov dr1, {}", in(reg) v, options(nomem, nostack, preserves_flags)),
            2 => asm!("mov dr2, {}", in(reg) v, options(nomem, nostack, preserves_flags)),
            3 => asm!("mov dr3, {}", in(reg) v, options(nomem, nostack, preserves_flags)),
            _ => asm!("mov dr0, {}", in(reg) v, options(nomem, nostack, preserves_flags)),
        }
    }
}

/// DR6 (`six`) or DR7.
pub fn read_dr67(six: bool) -> u64 {
    let v;
    // SAFETY: reading a debug register at CPL 0 has no side effect.
    unsafe {
        if six {
            asm!("mov {}, dr6", out(reg) v, options(nomem, nostack, preserves_flags));
        } else {
            asm!("mov {}, dr7", out(reg) v, options(nomem, nostack, preserves_flags));
        }
    }
    v
}

/// MOV to DR6 (`six`) or DR7, or the fault it takes (#GP for bits 63:32 set).
///
/// # Safety
/// A DR7 value that enables a breakpoint must point at nothing the kernel
/// touches (a #DB there is an unexpected exception).
pub unsafe fn try_write_dr67(six: bool, value: u64) -> Result<(), Fault> {
    arm();
    // SAFETY: the caller vouches for the value; a fault resumes at label 2.
    unsafe {
        if six {
            asm!(
                "lea {t}, [rip + 2f]",
                "mov [{r}], {t}",
                "mov dr6, {v}",
                "2:",
                t = out(reg) _,
                r = in(reg) RESUME.as_ptr(),
                v = in(reg) value,
                options(nostack)
            );
        } else {
            asm!(
                "lea {t}, [rip + 2f]",
                "mov [{r}], {t}",
                "mov dr7, {v}",
                "2:",
                t = out(reg) _,
                r = in(reg) RESUME.as_ptr(),
                v = in(reg) value,
                options(nostack)
            );
        }
    }
    taken()
}

/// Runs `code` (position-independent machine code, at most 2 KiB) at CPL 3:
/// copies it to `user_page` (2 MiB, made user-accessible with
/// [`crate::paging::make_user_2mib`]), whose last bytes become the user
/// stack, and enters it with `rdi = arg`. Needs [`install`].
///
/// # Safety
/// `user_page` must be a 2 MiB page of RAM nothing else uses, user-mapped;
/// `arg` must mean what `code` expects.
pub unsafe fn run_user(code: &[u8], user_page: u64, arg: u64) -> UserExit {
    let len = code.len().min(2048);
    // SAFETY: the caller gives us the page; the code fits in its first 2 KiB.
    unsafe { core::ptr::copy_nonoverlapping(code.as_ptr(), user_page as *mut u8, len) };
    arm();
    // SAFETY: enter_user saves the callee-saved registers and the kernel stack, IRETQs to CPL 3 at the copied code on a stack at the page's end; int 0x80 (or a fault) comes back through guest_rt_user_return, which restores them and returns here with rax. Every caller-saved register is clobbered, as the C ABI allows.
    let rax = unsafe { guest_rt_enter_user(user_page, user_page + (2 << 20) - 64, arg) };
    match taken() {
        Err(f) if rax == USER_FAULTED => UserExit::Fault(f),
        _ => UserExit::Returned(rax),
    }
}
