//! Mirrors xen/include/public/hvm/hvm_vcpu.h
//!
//! The register state `VCPUOP_initialise` takes for an HVM or PVH vCPU:
//! [`VcpuHvmContext`], whose `mode` selects the 32-bit ([`VcpuHvmX86_32`])
//! or 64-bit ([`VcpuHvmX86_64`]) register set. The layout is the same for
//! 32-bit and 64-bit callers (every `uint64_t` is already 8-byte aligned).

use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

/// `vcpu_hvm_context.mode`: `cpu_regs` holds a [`VcpuHvmX86_32`].
pub const VCPU_HVM_MODE_32B: u32 = 0;
/// `vcpu_hvm_context.mode`: `cpu_regs` holds a [`VcpuHvmX86_64`].
pub const VCPU_HVM_MODE_64B: u32 = 1;

/// `struct vcpu_hvm_x86_32`: start a vCPU in 32-bit protected mode (or
/// compatibility mode, with EFER.LME/LMA), with the given hidden segment
/// state. Segments not listed (FS, GS, LDTR) are null.
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
pub struct VcpuHvmX86_32 {
    pub eax: u32,
    pub ecx: u32,
    pub edx: u32,
    pub ebx: u32,
    pub esp: u32,
    pub ebp: u32,
    pub esi: u32,
    pub edi: u32,
    pub eip: u32,
    pub eflags: u32,
    pub cr0: u32,
    pub cr3: u32,
    pub cr4: u32,
    pub pad1: u32,
    /// Only for setting NXE (paging enabled) or LME/LMA (compatibility mode).
    pub efer: u64,
    pub cs_base: u32,
    pub ds_base: u32,
    pub ss_base: u32,
    pub es_base: u32,
    pub tr_base: u32,
    pub cs_limit: u32,
    pub ds_limit: u32,
    pub ss_limit: u32,
    pub es_limit: u32,
    pub tr_limit: u32,
    /// Access rights in the VMX/SVM-compressed 12-bit form.
    pub cs_ar: u16,
    pub ds_ar: u16,
    pub ss_ar: u16,
    pub es_ar: u16,
    pub tr_ar: u16,
    pub pad2: [u16; 3],
}

const _: () = assert!(core::mem::size_of::<VcpuHvmX86_32>() == 120);
const _: () = assert!(core::mem::offset_of!(VcpuHvmX86_32, eax) == 0);
const _: () = assert!(core::mem::offset_of!(VcpuHvmX86_32, eip) == 32);
const _: () = assert!(core::mem::offset_of!(VcpuHvmX86_32, eflags) == 36);
const _: () = assert!(core::mem::offset_of!(VcpuHvmX86_32, cr0) == 40);
const _: () = assert!(core::mem::offset_of!(VcpuHvmX86_32, cr4) == 48);
const _: () = assert!(core::mem::offset_of!(VcpuHvmX86_32, pad1) == 52);
const _: () = assert!(core::mem::offset_of!(VcpuHvmX86_32, efer) == 56);
const _: () = assert!(core::mem::offset_of!(VcpuHvmX86_32, cs_base) == 64);
const _: () = assert!(core::mem::offset_of!(VcpuHvmX86_32, tr_base) == 80);
const _: () = assert!(core::mem::offset_of!(VcpuHvmX86_32, cs_limit) == 84);
const _: () = assert!(core::mem::offset_of!(VcpuHvmX86_32, tr_limit) == 100);
const _: () = assert!(core::mem::offset_of!(VcpuHvmX86_32, cs_ar) == 104);
const _: () = assert!(core::mem::offset_of!(VcpuHvmX86_32, tr_ar) == 112);
const _: () = assert!(core::mem::offset_of!(VcpuHvmX86_32, pad2) == 114);

/// `struct vcpu_hvm_x86_64`: start a vCPU directly in 64-bit long mode
/// (flat segments set up by Xen).
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
pub struct VcpuHvmX86_64 {
    pub rax: u64,
    pub rcx: u64,
    pub rdx: u64,
    pub rbx: u64,
    pub rsp: u64,
    pub rbp: u64,
    pub rsi: u64,
    pub rdi: u64,
    pub rip: u64,
    pub rflags: u64,
    pub cr0: u64,
    pub cr3: u64,
    pub cr4: u64,
    pub efer: u64,
}

const _: () = assert!(core::mem::size_of::<VcpuHvmX86_64>() == 112);
const _: () = assert!(core::mem::offset_of!(VcpuHvmX86_64, rax) == 0);
const _: () = assert!(core::mem::offset_of!(VcpuHvmX86_64, rip) == 64);
const _: () = assert!(core::mem::offset_of!(VcpuHvmX86_64, rflags) == 72);
const _: () = assert!(core::mem::offset_of!(VcpuHvmX86_64, cr0) == 80);
const _: () = assert!(core::mem::offset_of!(VcpuHvmX86_64, efer) == 104);

/// `struct vcpu_hvm_context`, for `VCPUOP_initialise` on HVM/PVH vCPUs.
/// `cpu_regs` is the C union of [`VcpuHvmX86_32`] and [`VcpuHvmX86_64`] as
/// raw bytes; read it with [`Self::x86_32`] or [`Self::x86_64`] as `mode` says.
#[repr(C, align(8))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
pub struct VcpuHvmContext {
    /// `VCPU_HVM_MODE_*`.
    pub mode: u32,
    pub pad: u32,
    /// `union { vcpu_hvm_x86_32 x86_32; vcpu_hvm_x86_64 x86_64; }`.
    pub cpu_regs: [u8; 120],
}

const _: () = assert!(core::mem::size_of::<VcpuHvmContext>() == 128);
const _: () = assert!(core::mem::align_of::<VcpuHvmContext>() == 8);
const _: () = assert!(core::mem::offset_of!(VcpuHvmContext, mode) == 0);
const _: () = assert!(core::mem::offset_of!(VcpuHvmContext, pad) == 4);
const _: () = assert!(core::mem::offset_of!(VcpuHvmContext, cpu_regs) == 8);

impl VcpuHvmContext {
    /// A [`VCPU_HVM_MODE_32B`] context.
    pub fn new_32(regs: &VcpuHvmX86_32) -> Self {
        let mut ctx = Self {
            mode: VCPU_HVM_MODE_32B,
            pad: 0,
            cpu_regs: [0; 120],
        };
        crate::write_prefix(&mut ctx.cpu_regs, regs);
        ctx
    }

    /// A [`VCPU_HVM_MODE_64B`] context.
    pub fn new_64(regs: &VcpuHvmX86_64) -> Self {
        let mut ctx = Self {
            mode: VCPU_HVM_MODE_64B,
            pad: 0,
            cpu_regs: [0; 120],
        };
        crate::write_prefix(&mut ctx.cpu_regs, regs);
        ctx
    }

    /// `cpu_regs.x86_32`.
    pub fn x86_32(&self) -> VcpuHvmX86_32 {
        crate::read_prefix(&self.cpu_regs)
    }

    /// `cpu_regs.x86_64`.
    pub fn x86_64(&self) -> VcpuHvmX86_64 {
        crate::read_prefix(&self.cpu_regs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hvm_context_round_trips_both_register_sets() {
        let regs64 = VcpuHvmX86_64 {
            rip: 0x1000,
            cr3: 0x2000,
            efer: 0x500,
            ..Default::default()
        };
        let ctx = VcpuHvmContext::new_64(&regs64);
        assert_eq!(ctx.mode, VCPU_HVM_MODE_64B);
        assert_eq!(ctx.x86_64(), regs64);
        assert_eq!(&ctx.as_bytes()[8 + 64..8 + 72], &0x1000u64.to_le_bytes());

        let regs32 = VcpuHvmX86_32 {
            eip: 0x7c00,
            cs_ar: 0xc9b,
            pad2: [0; 3],
            ..Default::default()
        };
        let ctx = VcpuHvmContext::new_32(&regs32);
        assert_eq!(ctx.mode, VCPU_HVM_MODE_32B);
        assert_eq!(ctx.x86_32(), regs32);
        assert_eq!(
            VcpuHvmContext::read_from_bytes(ctx.as_bytes()).ok(),
            Some(ctx)
        );
    }
}
