//! Mirrors `struct vcpu_guest_context` and `struct cpu_user_regs` of
//! xen/include/public/arch-x86/xen.h and xen-x86_64.h (64-bit layout), for
//! `XEN_DOMCTL_{set,get}vcpucontext`.

use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

/// `vcpu_guest_context.flags`: the FPU context is valid.
pub const VGCF_I387_VALID: u64 = 1 << 0;
/// `vcpu_guest_context.flags`: the vCPU is up once the context is set.
pub const VGCF_ONLINE: u64 = 1 << 5;

/// `struct cpu_user_regs` (x86_64): general registers and the frame.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
pub struct CpuUserRegs {
    pub r15: u64,
    pub r14: u64,
    pub r13: u64,
    pub r12: u64,
    pub rbp: u64,
    pub rbx: u64,
    pub r11: u64,
    pub r10: u64,
    pub r9: u64,
    pub r8: u64,
    pub rax: u64,
    pub rcx: u64,
    pub rdx: u64,
    pub rsi: u64,
    pub rdi: u64,
    pub error_code: u32,
    pub entry_vector: u32,
    pub rip: u64,
    pub cs: u16,
    pub _pad0: u16,
    pub saved_upcall_mask: u8,
    pub _pad1: [u8; 3],
    pub rflags: u64,
    pub rsp: u64,
    pub ss: u16,
    pub _pad2: [u16; 3],
    pub es: u16,
    pub _pad3: [u16; 3],
    pub ds: u16,
    pub _pad4: [u16; 3],
    pub fs: u16,
    pub _pad5: [u16; 3],
    pub gs: u16,
    pub _pad6: [u16; 3],
}

const _: () = assert!(core::mem::size_of::<CpuUserRegs>() == 200);
const _: () = assert!(core::mem::offset_of!(CpuUserRegs, rbx) == 40);
const _: () = assert!(core::mem::offset_of!(CpuUserRegs, rax) == 80);
const _: () = assert!(core::mem::offset_of!(CpuUserRegs, rip) == 128);
const _: () = assert!(core::mem::offset_of!(CpuUserRegs, cs) == 136);
const _: () = assert!(core::mem::offset_of!(CpuUserRegs, rflags) == 144);
const _: () = assert!(core::mem::offset_of!(CpuUserRegs, rsp) == 152);

/// `struct vcpu_guest_context` (x86_64). The PV-only parts (trap table,
/// LDT/GDT, kernel stack, callbacks) are kept as they come.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
pub struct VcpuGuestContext {
    /// FXSAVE image.
    pub fpu_ctxt: [u8; 512],
    /// `VGCF_*`.
    pub flags: u64,
    pub user_regs: CpuUserRegs,
    /// `struct trap_info trap_ctxt[256]` (PV only).
    pub trap_ctxt: [u8; 4096],
    pub ldt_base: u64,
    pub ldt_ents: u64,
    pub gdt_frames: [u64; 16],
    pub gdt_ents: u64,
    pub kernel_ss: u64,
    pub kernel_sp: u64,
    pub ctrlreg: [u64; 8],
    pub debugreg: [u64; 8],
    pub event_callback_eip: u64,
    pub failsafe_callback_eip: u64,
    pub syscall_callback_eip: u64,
    /// VMASST_TYPE_* bits (vCPU 0 only).
    pub vm_assist: u64,
    pub fs_base: u64,
    pub gs_base_kernel: u64,
    pub gs_base_user: u64,
}

const _: () = assert!(core::mem::size_of::<VcpuGuestContext>() == 5168);
const _: () = assert!(core::mem::offset_of!(VcpuGuestContext, flags) == 512);
const _: () = assert!(core::mem::offset_of!(VcpuGuestContext, user_regs) == 520);
const _: () = assert!(core::mem::offset_of!(VcpuGuestContext, trap_ctxt) == 720);
const _: () = assert!(core::mem::offset_of!(VcpuGuestContext, ldt_base) == 4816);
const _: () = assert!(core::mem::offset_of!(VcpuGuestContext, gdt_frames) == 4832);
const _: () = assert!(core::mem::offset_of!(VcpuGuestContext, kernel_ss) == 4968);
const _: () = assert!(core::mem::offset_of!(VcpuGuestContext, ctrlreg) == 4984);
const _: () = assert!(core::mem::offset_of!(VcpuGuestContext, debugreg) == 5048);
const _: () = assert!(core::mem::offset_of!(VcpuGuestContext, event_callback_eip) == 5112);
const _: () = assert!(core::mem::offset_of!(VcpuGuestContext, vm_assist) == 5136);
const _: () = assert!(core::mem::offset_of!(VcpuGuestContext, gs_base_user) == 5160);
