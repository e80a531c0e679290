//! A VMX vCPU: its VMCS, I/O and MSR bitmaps, and VMLAUNCH/VMRESUME.

use crate::bits::{low8, low16, low32};
use core::sync::atomic::Ordering;

use x86_64::registers::control::{Cr0, Cr3, Cr4};
use x86_64::instructions::tables::{sgdt, sidt};

use super::entry_check::{self, VmxEntryState, VmxFixedBits, cr0_host_owned};
use super::exit::{BootState, Exit, GuestRegs, IoAccess, StartMode};
use super::vmcs::{self, Field};
use super::VirtError;
use crate::arch::x86_64::{cpu, percpu};
use crate::mm::handle::{OwnedFrame, OwnedRun};
use crate::mm::{self, physmap};

// Enters the guest; returns 0 after a VM exit, 1 if VM entry failed. The
// host RSP in the VMCS points at the saved &GuestRegs, so the exit path
// (HOST_RIP = vmx_exit) finds it (SDM Vol. 3, 27.5).
core::arch::global_asm!(
    r#"
    .globl vmx_enter
vmx_enter:
    push rbp
    push rbx
    push r12
    push r13
    push r14
    push r15
    push rdi                    /* &GuestRegs */
    mov rax, 0x6c14             /* HOST_RSP */
    vmwrite rax, rsp
    cmp rsi, 0
    mov rax, [rdi]
    mov rbx, [rdi + 8]
    mov rcx, [rdi + 16]
    mov rdx, [rdi + 24]
    mov rsi, [rdi + 32]
    mov rbp, [rdi + 48]
    mov r8,  [rdi + 56]
    mov r9,  [rdi + 64]
    mov r10, [rdi + 72]
    mov r11, [rdi + 80]
    mov r12, [rdi + 88]
    mov r13, [rdi + 96]
    mov r14, [rdi + 104]
    mov r15, [rdi + 112]
    mov rdi, [rdi + 40]
    jne 2f
    vmlaunch
    jmp 3f
2:  vmresume
3:  pop rdi
    mov eax, 1
    jmp 4f
    .globl vmx_exit
vmx_exit:
    push rdi
    mov rdi, [rsp + 8]
    mov [rdi], rax
    mov [rdi + 8], rbx
    mov [rdi + 16], rcx
    mov [rdi + 24], rdx
    mov [rdi + 32], rsi
    mov [rdi + 48], rbp
    mov [rdi + 56], r8
    mov [rdi + 64], r9
    mov [rdi + 72], r10
    mov [rdi + 80], r11
    mov [rdi + 88], r12
    mov [rdi + 96], r13
    mov [rdi + 104], r14
    mov [rdi + 112], r15
    pop rax
    mov [rdi + 40], rax
    pop rdi
    xor eax, eax
4:  pop r15
    pop r14
    pop r13
    pop r12
    pop rbx
    pop rbp
    ret
    "#
);

unsafe extern "C" {
    fn vmx_enter(regs: *mut GuestRegs, launched: u64) -> u64;
    fn vmx_exit();
}

const IA32_VMX_PINBASED_CTLS: u32 = 0x481;
const IA32_VMX_PROCBASED_CTLS: u32 = 0x482;
const IA32_VMX_EXIT_CTLS: u32 = 0x483;
const IA32_VMX_ENTRY_CTLS: u32 = 0x484;
const IA32_VMX_CR0_FIXED0: u32 = 0x486;
const IA32_VMX_CR0_FIXED1: u32 = 0x487;
const IA32_VMX_CR4_FIXED0: u32 = 0x488;
const IA32_VMX_CR4_FIXED1: u32 = 0x489;
const IA32_VMX_PROCBASED_CTLS2: u32 = 0x48b;
const IA32_VMX_TRUE_PINBASED_CTLS: u32 = 0x48d;
const IA32_VMX_TRUE_PROCBASED_CTLS: u32 = 0x48e;
const IA32_VMX_TRUE_EXIT_CTLS: u32 = 0x48f;
const IA32_VMX_TRUE_ENTRY_CTLS: u32 = 0x490;
const IA32_PAT: u32 = 0x277;
const IA32_EFER: u32 = 0xc000_0080;
const IA32_FS_BASE: u32 = 0xc000_0100;
const IA32_GS_BASE: u32 = 0xc000_0101;

/// Adjusts wanted control bits to what the capability MSR allows: the low
/// half lists bits that must be 1, the high half bits that may be 1
/// (SDM Vol. 3, A.3). Returns None if a wanted bit is not allowed.
fn controls(msr: u32, wanted: u32) -> Result<u32, VirtError> {
    // SAFETY: the VMX capability MSRs exist on every VMX CPU (checked by the caller).
    let cap = unsafe { cpu::rdmsr(msr) };
    let (must, may) = (low32(cap), low32(cap >> 32));
    if wanted & !may != 0 {
        return Err(VirtError::MissingControl(msr, wanted & !may));
    }
    Ok(wanted | must)
}

/// The wanted controls of `optional` that the capability MSR allows.
fn optional_controls(msr: u32, optional: u32) -> u32 {
    // SAFETY: the VMX capability MSRs exist on every VMX CPU (checked by the caller).
    let may = low32(unsafe { cpu::rdmsr(msr) } >> 32);
    optional & may
}

/// "Activate VMX-preemption timer" (pin-based controls bit 6): the guest
/// exits when the timer runs out, whatever becomes of host interrupts.
const PIN_PREEMPTION_TIMER: u32 = 1 << 6;
const IA32_VMX_MISC: u32 = 0x485;

/// "Enable INVPCID" (secondary controls bit 12): without it INVPCID is #UD
/// in the guest (SDM Vol. 3, 26.3), so CPUID hides it then.
const SECONDARY_ENABLE_INVPCID: u32 = 1 << 12;

pub struct VmxVcpu {
    vmcs: OwnedFrame,
    io_bitmaps: OwnedRun,
    msr_bitmap: OwnedFrame,
    pub regs: GuestRegs,
    launched: bool,
    /// The CR0/CR4 bits VMX operation fixes on this CPU.
    fixed: VmxFixedBits,
    /// The hypervisor wrote guest state (or queued an event) since the
    /// last entry: check it before the next one.
    written: bool,
    /// With the VMX-preemption timer: it counts down once every
    /// `2^preemption_shift` TSC cycles (IA32_VMX_MISC[4:0]).
    preemption_shift: Option<u32>,
}

/// CR4 bits the hypervisor owns (guest/host mask): the guest reads them as
/// 0, and setting one exits (`Exit::Cr4Write`). VMXE is a fixed bit in VMX
/// operation (no nested virtualization); SMXE stays off (SMX is hidden).
const CR4_HOST_OWNED: u64 = (1 << 13) | (1 << 14);
const CR4_VMXE: u64 = 1 << 13;

const CR0_PE: u64 = 1 << 0;
const CR0_ET: u64 = 1 << 4;
const CR0_WP: u64 = 1 << 16;
const CR0_PG: u64 = 1 << 31;
/// "IA-32e mode guest" VM-entry control (SDM Vol. 3, 25.8.1).
const ENTRY_IA32E_MODE: u64 = 1 << 9;
const EFER_LMA: u64 = 1 << 10;

/// Xen's PVH start CR0 as the guest sees it: PE and ET, every other
/// writable bit clear (docs/misc/pvh.pandoc).
const PVH_START_CR0: u64 = CR0_PE | CR0_ET;

fn vmx_ptr_op(op: &str, pa: u64) -> bool {
    let failed: u8;
    // SAFETY: VMCLEAR/VMPTRLD take the physical address of a VMCS region this vCPU owns (revision id written); they touch nothing else.
    unsafe {
        match op {
            "vmclear" => core::arch::asm!("vmclear [{0}]", "setbe {1}", in(reg) &pa, out(reg_byte) failed, options(nostack)),
            _ => core::arch::asm!("vmptrld [{0}]", "setbe {1}", in(reg) &pa, out(reg_byte) failed, options(nostack)),
        }
    }
    failed == 0
}

impl VmxVcpu {
    /// A vCPU in Xen's PVH start state with EPT pointer `eptp`, tagged
    /// `vpid` (never 0), intercepting the ports for which `intercept_port`
    /// says so and every MSR. Its VMCS becomes current on this CPU.
    pub fn new(
        boot: BootState,
        eptp: u64,
        vpid: u16,
        intercept_port: &dyn Fn(u16) -> bool,
        passthrough_msrs: &[u32],
    ) -> Result<VmxVcpu, VirtError> {
        let features = super::vmx::features();
        let vmcs = mm::alloc_frame().ok_or(VirtError::OutOfMemory("VMCS"))?;
        let io_bitmaps = mm::alloc_run(2, 1).ok_or(VirtError::OutOfMemory("VMX I/O bitmaps"))?;
        let msr_bitmap = mm::alloc_frame().ok_or(VirtError::OutOfMemory("VMX MSR bitmap"))?;
        // SAFETY: the three regions were just allocated to this vCPU and are mapped writable through the window.
        unsafe {
            physmap::ptr::<u32>(vmcs.addr()).write_volatile(features.revision);
            let io = core::slice::from_raw_parts_mut(physmap::ptr::<u8>(io_bitmaps.addr()), super::IO_BITMAP_BYTES);
            super::fill_io_bitmap(io, intercept_port);
            let bits = physmap::ptr::<u8>(msr_bitmap.addr());
            core::ptr::write_bytes(bits, 0xff, 4096);
            for &msr in passthrough_msrs {
                // Read bitmaps at 0 (low MSRs) and 0x400 (0xc0000000..), write
                // bitmaps 0x800 further: SDM Vol. 3, 25.6.9.
                let base = match msr {
                    0..=0x1fff => 0,
                    0xc000_0000..=0xc000_1fff => 0x400,
                    _ => continue,
                };
                let bit = (msr & 0x1fff) as usize;
                *bits.add(base + bit / 8) &= !(1 << (bit % 8));
                *bits.add(base + 0x800 + bit / 8) &= !(1 << (bit % 8));
            }
        }
        if !vmx_ptr_op("vmclear", vmcs.addr()) || !vmx_ptr_op("vmptrld", vmcs.addr()) {
            return Err(VirtError::VmxonFailed);
        }
        let t = features.true_controls;
        let pin_msr = if t { IA32_VMX_TRUE_PINBASED_CTLS } else { IA32_VMX_PINBASED_CTLS };
        let pin = controls(pin_msr, (1 << 0) | (1 << 3))? | optional_controls(pin_msr, PIN_PREEMPTION_TIMER);
        // SAFETY: IA32_VMX_MISC exists on every VMX CPU; bits 4:0 give the preemption timer's rate.
        let preemption_shift = (pin & PIN_PREEMPTION_TIMER != 0).then(|| (unsafe { cpu::rdmsr(IA32_VMX_MISC) } & 0x1f) as u32);
        let primary = controls(
            if t { IA32_VMX_TRUE_PROCBASED_CTLS } else { IA32_VMX_PROCBASED_CTLS },
            (1 << 7) | (1 << 25) | (1 << 28) | (1 << 31),
        )?;
        let secondary = controls(IA32_VMX_PROCBASED_CTLS2, (1 << 1) | (1 << 5) | (1 << 7))?
            | optional_controls(IA32_VMX_PROCBASED_CTLS2, SECONDARY_ENABLE_INVPCID);
        let exit = controls(
            if t { IA32_VMX_TRUE_EXIT_CTLS } else { IA32_VMX_EXIT_CTLS },
            (1 << 9) | (1 << 18) | (1 << 19) | (1 << 20) | (1 << 21),
        )?;
        let entry = controls(if t { IA32_VMX_TRUE_ENTRY_CTLS } else { IA32_VMX_ENTRY_CTLS }, (1 << 14) | (1 << 15))?;
        vmcs::write(Field::PIN_BASED_CONTROLS, pin.into());
        vmcs::write(Field::PRIMARY_PROCESSOR_CONTROLS, primary.into());
        vmcs::write(Field::SECONDARY_PROCESSOR_CONTROLS, secondary.into());
        vmcs::write(Field::VMEXIT_CONTROLS, exit.into());
        vmcs::write(Field::VMENTRY_CONTROLS, entry.into());
        vmcs::write(Field::EXCEPTION_BITMAP, (1 << 1) | (1 << 17));
        vmcs::write(Field::IO_BITMAP_A, io_bitmaps.addr());
        vmcs::write(Field::IO_BITMAP_B, io_bitmaps.addr() + 4096);
        vmcs::write(Field::MSR_BITMAP, msr_bitmap.addr());
        vmcs::write(Field::EPT_POINTER, eptp);
        vmcs::write(Field::VPID, u64::from(vpid.max(1)));
        vmcs::write(Field::CR4_GUEST_HOST_MASK, CR4_HOST_OWNED);
        vmcs::write(Field::CR4_READ_SHADOW, 0);

        Self::write_host_state();
        let real = matches!(boot.mode, StartMode::Real { .. });

        for (sel, limit, ar, base) in [
            (Field::GUEST_ES_SELECTOR, Field::GUEST_ES_LIMIT, Field::GUEST_ES_ACCESS_RIGHTS, Field::GUEST_ES_BASE),
            (Field::GUEST_SS_SELECTOR, Field::GUEST_SS_LIMIT, Field::GUEST_SS_ACCESS_RIGHTS, Field::GUEST_SS_BASE),
            (Field::GUEST_DS_SELECTOR, Field::GUEST_DS_LIMIT, Field::GUEST_DS_ACCESS_RIGHTS, Field::GUEST_DS_BASE),
            (Field::GUEST_FS_SELECTOR, Field::GUEST_FS_LIMIT, Field::GUEST_FS_ACCESS_RIGHTS, Field::GUEST_FS_BASE),
            (Field::GUEST_GS_SELECTOR, Field::GUEST_GS_LIMIT, Field::GUEST_GS_ACCESS_RIGHTS, Field::GUEST_GS_BASE),
        ] {
            let (selector, seg_limit, rights) = if real { (0, 0xffff, 0x93) } else { (0x10, 0xffff_ffff, 0xc093) };
            vmcs::write(sel, selector);
            vmcs::write(limit, seg_limit);
            vmcs::write(ar, rights);
            vmcs::write(base, 0);
        }
        match boot.mode {
            StartMode::Pvh => {
                vmcs::write(Field::GUEST_CS_SELECTOR, 0x08);
                vmcs::write(Field::GUEST_CS_LIMIT, 0xffff_ffff);
                vmcs::write(Field::GUEST_CS_ACCESS_RIGHTS, 0xc09b);
                vmcs::write(Field::GUEST_CS_BASE, 0);
            }
            // Unrestricted guest runs real mode itself: 16-bit code, DPL 0.
            StartMode::Real { segment } => {
                vmcs::write(Field::GUEST_CS_SELECTOR, segment.into());
                vmcs::write(Field::GUEST_CS_LIMIT, 0xffff);
                vmcs::write(Field::GUEST_CS_ACCESS_RIGHTS, 0x9b);
                vmcs::write(Field::GUEST_CS_BASE, u64::from(segment) << 4);
            }
        }
        vmcs::write(Field::GUEST_TR_SELECTOR, 0);
        vmcs::write(Field::GUEST_TR_LIMIT, 0x67);
        vmcs::write(Field::GUEST_TR_ACCESS_RIGHTS, 0x8b);
        vmcs::write(Field::GUEST_TR_BASE, 0);
        vmcs::write(Field::GUEST_LDTR_SELECTOR, 0);
        vmcs::write(Field::GUEST_LDTR_LIMIT, 0);
        vmcs::write(Field::GUEST_LDTR_ACCESS_RIGHTS, 1 << 16); // unusable
        vmcs::write(Field::GUEST_LDTR_BASE, 0);
        vmcs::write(Field::GUEST_GDTR_LIMIT, 0);
        vmcs::write(Field::GUEST_GDTR_BASE, 0);
        vmcs::write(Field::GUEST_IDTR_LIMIT, 0);
        vmcs::write(Field::GUEST_IDTR_BASE, 0);
        vmcs::write(Field::GUEST_CR3, 0);
        vmcs::write(Field::GUEST_CR4, 1 << 13);
        vmcs::write(Field::GUEST_DR7, 0x400);
        vmcs::write(Field::GUEST_RFLAGS, 0x2);
        vmcs::write(Field::GUEST_RIP, boot.rip);
        vmcs::write(Field::GUEST_RSP, 0);
        vmcs::write(Field::GUEST_IA32_EFER, 0);
        vmcs::write(Field::GUEST_IA32_PAT, 0x0007_0406_0007_0406);
        vmcs::write(Field::VMCS_LINK_POINTER, u64::MAX);
        vmcs::write(Field::GUEST_INTERRUPTIBILITY_STATE, 0);
        vmcs::write(Field::GUEST_ACTIVITY_STATE, 0);
        // Loaded on every entry: written, so no previous VMCS content shows.
        vmcs::write(Field::GUEST_IA32_SYSENTER_CS, 0);
        vmcs::write(Field::GUEST_IA32_SYSENTER_ESP, 0);
        vmcs::write(Field::GUEST_IA32_SYSENTER_EIP, 0);
        vmcs::write(Field::VMENTRY_INTERRUPTION_INFO, 0);

        // SAFETY: the VMX fixed-bit MSRs exist on every VMX CPU (SDM Vol. 3, A.7, A.8).
        let fixed = unsafe {
            VmxFixedBits {
                cr0_fixed0: cpu::rdmsr(IA32_VMX_CR0_FIXED0),
                cr0_fixed1: cpu::rdmsr(IA32_VMX_CR0_FIXED1),
                cr4_fixed0: cpu::rdmsr(IA32_VMX_CR4_FIXED0),
                cr4_fixed1: cpu::rdmsr(IA32_VMX_CR4_FIXED1),
            }
        };
        let cr0_owned = cr0_host_owned(&fixed);
        vmcs::write(Field::CR0_GUEST_HOST_MASK, cr0_owned);
        let start_cr0 = if real { CR0_ET } else { PVH_START_CR0 };
        vmcs::write(Field::CR0_READ_SHADOW, start_cr0);
        vmcs::write(Field::GUEST_CR0, start_cr0 | cr0_owned);
        let regs = GuestRegs { rbx: boot.rbx, ..GuestRegs::default() };
        Ok(VmxVcpu { vmcs, io_bitmaps, msr_bitmap, regs, launched: false, fixed, written: true, preemption_shift })
    }

    /// The host state VM exits return to: this CPU's current registers.
    fn write_host_state() {
        let (cs, ss, tr): (u16, u16, u16);
        // SAFETY: reading segment selectors and the task register has no side effects.
        unsafe {
            core::arch::asm!("mov {0:x}, cs", out(reg) cs, options(nomem, nostack));
            core::arch::asm!("mov {0:x}, ss", out(reg) ss, options(nomem, nostack));
            core::arch::asm!("str {0:x}", out(reg) tr, options(nomem, nostack));
        }
        vmcs::write(Field::HOST_CR0, Cr0::read_raw());
        vmcs::write(Field::HOST_CR3, Cr3::read_raw().0.start_address().as_u64());
        vmcs::write(Field::HOST_CR4, Cr4::read_raw());
        vmcs::write(Field::HOST_CS_SELECTOR, u64::from(cs));
        vmcs::write(Field::HOST_SS_SELECTOR, u64::from(ss));
        vmcs::write(Field::HOST_DS_SELECTOR, 0);
        vmcs::write(Field::HOST_ES_SELECTOR, 0);
        vmcs::write(Field::HOST_FS_SELECTOR, 0);
        vmcs::write(Field::HOST_GS_SELECTOR, 0);
        vmcs::write(Field::HOST_TR_SELECTOR, u64::from(tr));
        vmcs::write(Field::HOST_TR_BASE, percpu::this_cpu().tss_base.load(Ordering::Relaxed));
        vmcs::write(Field::HOST_GDTR_BASE, sgdt().base.as_u64());
        vmcs::write(Field::HOST_IDTR_BASE, sidt().base.as_u64());
        // SAFETY: these MSRs exist on every x86_64 CPU with VMX.
        unsafe {
            vmcs::write(Field::HOST_FS_BASE, cpu::rdmsr(IA32_FS_BASE));
            vmcs::write(Field::HOST_GS_BASE, cpu::rdmsr(IA32_GS_BASE));
            vmcs::write(Field::HOST_IA32_EFER, cpu::rdmsr(IA32_EFER));
            vmcs::write(Field::HOST_IA32_PAT, cpu::rdmsr(IA32_PAT));
        }
        vmcs::write(Field::HOST_IA32_SYSENTER_CS, 0);
        vmcs::write(Field::HOST_RIP, vmx_exit as *const () as u64);
    }

    /// Why the next VM entry would fail, checked when the hypervisor wrote
    /// guest state since the last one (the guest's own changes the CPU
    /// checked as it made them).
    fn entry_refusal(&mut self) -> Option<&'static str> {
        if !core::mem::take(&mut self.written) {
            return None;
        }
        let state = VmxEntryState {
            cr0: vmcs::read(Field::GUEST_CR0),
            cr4: vmcs::read(Field::GUEST_CR4),
            efer: vmcs::read(Field::GUEST_IA32_EFER),
            ia32e_mode: vmcs::read(Field::VMENTRY_CONTROLS) & ENTRY_IA32E_MODE != 0,
            interruption_info: low32(vmcs::read(Field::VMENTRY_INTERRUPTION_INFO)),
            error_code: vmcs::read(Field::VMENTRY_EXCEPTION_ERROR_CODE),
        };
        entry_check::vmx_refusal(&state, &self.fixed)
    }

    /// Runs the guest until the next exit.
    pub fn run(&mut self) -> Exit {
        if let Some(why) = self.entry_refusal() {
            return Exit::RefusedState { why };
        }
        if crate::arch::x86_64::apic::host_interrupt_pending() {
            return Exit::ExternalInterrupt;
        }
        // SAFETY: this vCPU's VMCS is current on this CPU (loaded in `new`, or by `make_current` when the scheduler switched to it); its host state returns to `vmx_exit` on this stack, which restores callee-saved registers.
        let failed = unsafe { vmx_enter(&mut self.regs, u64::from(self.launched)) };
        if failed != 0 {
            return Exit::InvalidState { code: vmcs::read(Field::VM_INSTRUCTION_ERROR) };
        }
        self.launched = true;
        self.requeue_interrupted_interrupt();
        self.decode_exit()
    }

    fn decode_exit(&self) -> Exit {
        let reason = low32(vmcs::read(Field::EXIT_REASON));
        let qualification = vmcs::read(Field::EXIT_QUALIFICATION);
        if reason & (1 << 31) != 0 {
            return Exit::InvalidState { code: u64::from(reason) };
        }
        match reason & 0xffff {
            vmcs::EXIT_CPUID => Exit::Cpuid,
            vmcs::EXIT_HLT => Exit::Hlt,
            vmcs::EXIT_VMCALL => Exit::Hypercall,
            vmcs::EXIT_IO => Exit::Io(IoAccess {
                port: low16(qualification >> 16),
                size: (qualification & 7) as u8 + 1,
                write: qualification & (1 << 3) == 0,
                string: qualification & (1 << 4) != 0,
                rep: qualification & (1 << 5) != 0,
            }),
            vmcs::EXIT_RDMSR => Exit::MsrRead,
            vmcs::EXIT_WRMSR => Exit::MsrWrite,
            vmcs::EXIT_EPT_VIOLATION => Exit::NestedPageFault {
                gpa: vmcs::read(Field::GUEST_PHYSICAL_ADDRESS),
                write: qualification & 2 != 0,
                fetch: qualification & 4 != 0,
            },
            vmcs::EXIT_TRIPLE_FAULT => Exit::TripleFault,
            vmcs::EXIT_XSETBV => Exit::Xsetbv,
            vmcs::EXIT_INVD => Exit::Invd,
            vmcs::EXIT_GETSEC | vmcs::EXIT_INVEPT | vmcs::EXIT_INVVPID => Exit::InvalidOpcode,
            r if vmcs::EXIT_VMX_INSTRUCTIONS.contains(&r) => Exit::InvalidOpcode,
            vmcs::EXIT_CR_ACCESS => self.decode_cr_access(qualification),
            vmcs::EXIT_EXTERNAL_INTERRUPT => Exit::ExternalInterrupt,
            vmcs::EXIT_PREEMPTION_TIMER => Exit::TimerExpired,
            vmcs::EXIT_INIT => Exit::Init,
            vmcs::EXIT_INTERRUPT_WINDOW => Exit::InterruptWindow,
            vmcs::EXIT_EXCEPTION_OR_NMI => {
                let info = low32(vmcs::read(Field::EXIT_INTERRUPTION_INFO));
                if (info >> 8) & 7 == 2 {
                    return Exit::Nmi;
                }
                let error = (info & (1 << 11) != 0).then(|| low32(vmcs::read(Field::EXIT_INTERRUPTION_ERROR_CODE)));
                Exit::Exception { vector: low8(u64::from(info)), error }
            }
            vmcs::EXIT_INVALID_GUEST_STATE => Exit::InvalidState { code: u64::from(reason) },
            other => Exit::Unhandled { code: u64::from(other) },
        }
    }

    /// A control-register access exit: only a MOV to CR0 that changes a
    /// bit of `cr0_host_owned` or a MOV to CR4 that sets one of
    /// CR4_HOST_OWNED is expected (SDM Vol. 3, table 28-3: CR number in
    /// bits 3:0, access type 5:4, register 11:8). CLTS and LMSW touch no
    /// host-owned bit, so they never exit.
    fn decode_cr_access(&self, qualification: u64) -> Exit {
        let (cr, access, gpr) = (qualification & 0xf, (qualification >> 4) & 3, (qualification >> 8) & 0xf);
        if (cr != 0 && cr != 4) || access != 0 {
            return Exit::Unhandled { code: u64::from(vmcs::EXIT_CR_ACCESS) };
        }
        let r = &self.regs;
        let value = match gpr {
            0 => r.rax,
            1 => r.rcx,
            2 => r.rdx,
            3 => r.rbx,
            4 => vmcs::read(Field::GUEST_RSP),
            5 => r.rbp,
            6 => r.rsi,
            7 => r.rdi,
            8 => r.r8,
            9 => r.r9,
            10 => r.r10,
            11 => r.r11,
            12 => r.r12,
            13 => r.r13,
            14 => r.r14,
            _ => r.r15,
        };
        if cr == 0 { Exit::Cr0Write { value } } else { Exit::Cr4Write { value } }
    }

    /// Installs the PAE PDPTEs an emulated MOV to CR0 loaded: with EPT,
    /// VM entry takes them from the VMCS (SDM Vol. 3, 27.3.2.4).
    pub fn set_pdptes(&mut self, pdptes: [u64; 4]) {
        let fields = [Field::GUEST_PDPTE0, Field::GUEST_PDPTE1, Field::GUEST_PDPTE2, Field::GUEST_PDPTE3];
        for (field, value) in fields.into_iter().zip(pdptes) {
            vmcs::write(field, value);
        }
    }

    /// INVPCID runs in the guest (the CPU let us enable it).
    pub fn runs_invpcid(&self) -> bool {
        vmcs::read(Field::SECONDARY_PROCESSOR_CONTROLS) & u64::from(SECONDARY_ENABLE_INVPCID) != 0
    }

    /// The guest's view of CR0: the host-owned bits read from the shadow.
    pub fn guest_cr0(&self) -> u64 {
        let owned = vmcs::read(Field::CR0_GUEST_HOST_MASK);
        (vmcs::read(Field::GUEST_CR0) & !owned) | (vmcs::read(Field::CR0_READ_SHADOW) & owned)
    }

    /// TR holds a 16-bit TSS (access rights type 1 or 3, SDM Vol. 3, 3.5).
    pub fn tr_16bit(&self) -> bool {
        matches!(vmcs::read(Field::GUEST_TR_ACCESS_RIGHTS) & 0xf, 1 | 3)
    }

    /// Installs what a MOV to CR0 leaves (checked by `vcpu::msr::cr0_write`):
    /// the CPU runs with the host-owned bits set, the guest reads its own
    /// from the shadow; EFER.LMA and the "IA-32e mode guest" control follow
    /// `efer`, as they would had the CPU run the write itself. A change of
    /// PG or WP drops the cached translations, as the MOV would.
    pub fn set_cr0(&mut self, cr0: u64, efer: u64) {
        let owned = cr0_host_owned(&self.fixed);
        let old = vmcs::read(Field::GUEST_CR0);
        vmcs::write(Field::GUEST_CR0, cr0 | owned);
        vmcs::write(Field::CR0_READ_SHADOW, cr0);
        vmcs::write(Field::GUEST_IA32_EFER, efer);
        let controls = vmcs::read(Field::VMENTRY_CONTROLS);
        let ia32e = if efer & EFER_LMA != 0 {
            controls | ENTRY_IA32E_MODE
        } else {
            controls & !ENTRY_IA32E_MODE
        };
        vmcs::write(Field::VMENTRY_CONTROLS, ia32e);
        if (old ^ cr0) & (CR0_PG | CR0_WP) != 0 {
            self.flush_tlb();
        }
        self.written = true;
    }

    /// The guest's view of CR4: the host-owned bits read from the shadow.
    pub fn guest_cr4(&self) -> u64 {
        (vmcs::read(Field::GUEST_CR4) & !CR4_HOST_OWNED) | (vmcs::read(Field::CR4_READ_SHADOW) & CR4_HOST_OWNED)
    }

    /// CR4 bits this CPU lets a guest set (IA32_VMX_CR4_FIXED1 without the
    /// host-owned ones).
    pub fn cr4_allowed(&self) -> u64 {
        self.fixed.cr4_fixed1 & !CR4_HOST_OWNED
    }

    /// Installs a guest CR4 value checked by `vcpu::msr::cr4_write` (no
    /// host-owned bit): the CPU runs with VMXE on, the guest reads it off.
    pub fn set_cr4(&mut self, value: u64) {
        vmcs::write(Field::GUEST_CR4, (value & !CR4_HOST_OWNED) | CR4_VMXE | self.fixed.cr4_fixed0);
        vmcs::write(Field::CR4_READ_SHADOW, value & CR4_HOST_OWNED);
        self.written = true;
    }

    pub fn rip(&self) -> u64 {
        vmcs::read(Field::GUEST_RIP)
    }

    /// Moves RIP past an instruction the hypervisor emulated; the STI/MOV SS
    /// shadow it may have stood in ends with it.
    pub fn set_rip(&mut self, rip: u64) {
        vmcs::write(Field::GUEST_RIP, rip);
        let state = vmcs::read(Field::GUEST_INTERRUPTIBILITY_STATE);
        if state & 3 != 0 {
            vmcs::write(Field::GUEST_INTERRUPTIBILITY_STATE, state & !3);
        }
    }

    /// Moves past the instruction that exited (VMX always reports its length).
    pub fn skip_instruction(&mut self) {
        let len = vmcs::read(Field::EXIT_INSTRUCTION_LENGTH);
        vmcs::write(Field::GUEST_RIP, self.rip() + len);
    }

    /// Invalidates every translation derived from this vCPU's EPT (INVEPT
    /// single-context, SDM Vol. 3, 29.4.3.1).
    pub fn flush_tlb(&mut self) {
        let descriptor: [u64; 2] = [vmcs::read(Field::EPT_POINTER), 0];
        // SAFETY: INVEPT only drops cached translations; the descriptor is a valid 16-byte in-memory operand with the current EPTP.
        unsafe { core::arch::asm!("invept {0}, [{1}]", in(reg) 1u64, in(reg) &descriptor, options(nostack)) };
    }

    /// Queues a hardware exception for the next VM entry; its error code
    /// only where the CPU would push one (none in real mode).
    pub fn inject_exception(&mut self, vector: u8, error: Option<u32>) {
        let protected = vmcs::read(Field::GUEST_CR0) & 1 != 0;
        let mut info = u32::from(vector) | (3 << 8) | (1 << 31);
        self.written = true;
        if let Some(e) = entry_check::exception_error_code(vector, protected, error) {
            info |= 1 << 11;
            vmcs::write(Field::VMENTRY_EXCEPTION_ERROR_CODE, u64::from(e));
        }
        vmcs::write(Field::VMENTRY_INTERRUPTION_INFO, u64::from(info));
    }

    /// Whether the guest can take an external interrupt at the next entry:
    /// RFLAGS.IF set, no STI/MOV SS shadow, no event already queued.
    pub fn interrupt_ready(&self) -> bool {
        const RFLAGS_IF: u64 = 1 << 9;
        vmcs::read(Field::GUEST_RFLAGS) & RFLAGS_IF != 0
            && vmcs::read(Field::GUEST_INTERRUPTIBILITY_STATE) & 3 == 0
            && !self.event_queued()
    }

    /// Queues external interrupt `vector` for the next entry (the caller
    /// checked [`Self::interrupt_ready`]).
    pub fn inject_interrupt(&mut self, vector: u8) {
        vmcs::write(Field::VMENTRY_INTERRUPTION_INFO, u64::from(vector) | (1 << 31));
        self.written = true;
    }

    /// Asks for (or stops asking for) an exit as soon as the guest can
    /// take an interrupt (interrupt-window exiting).
    pub fn set_interrupt_window(&mut self, on: bool) {
        const WINDOW_EXITING: u64 = 1 << 2;
        let controls = vmcs::read(Field::PRIMARY_PROCESSOR_CONTROLS);
        let new = if on { controls | WINDOW_EXITING } else { controls & !WINDOW_EXITING };
        if new != controls {
            vmcs::write(Field::PRIMARY_PROCESSOR_CONTROLS, new);
        }
    }

    /// An event is queued for the next entry.
    pub fn event_queued(&self) -> bool {
        vmcs::read(Field::VMENTRY_INTERRUPTION_INFO) & (1 << 31) != 0
    }

    /// The exit interrupted the delivery of an event (IDT-vectoring
    /// information valid, SDM Vol. 3, 28.2.4).
    pub fn event_in_delivery(&self) -> bool {
        vmcs::read(Field::IDT_VECTORING_INFO) & (1 << 31) != 0
    }

    /// An external interrupt whose delivery the exit cut short is queued
    /// again, so it is not lost (the vLAPIC already counts it in service).
    fn requeue_interrupted_interrupt(&mut self) {
        let info = vmcs::read(Field::IDT_VECTORING_INFO);
        if info & (1 << 31) != 0 && (info >> 8) & 7 == 0 {
            vmcs::write(Field::VMENTRY_INTERRUPTION_INFO, (info & 0xff) | (1 << 31));
            self.written = true;
        }
    }

    pub fn rsp(&self) -> u64 {
        vmcs::read(Field::GUEST_RSP)
    }
    pub fn set_rsp(&mut self, value: u64) {
        vmcs::write(Field::GUEST_RSP, value);
    }

    /// CS base and the code size (16, 32 or 64) from CS.L and CS.D.
    pub fn code_segment(&self) -> (u64, u32) {
        let ar = vmcs::read(Field::GUEST_CS_ACCESS_RIGHTS);
        let bits = if ar & (1 << 13) != 0 {
            64
        } else if ar & (1 << 14) != 0 {
            32
        } else {
            16
        };
        (vmcs::read(Field::GUEST_CS_BASE), bits)
    }

    /// Guest CR0, CR3, CR4 and EFER.
    pub fn paging_state(&self) -> (u64, u64, u64, u64) {
        (
            vmcs::read(Field::GUEST_CR0),
            vmcs::read(Field::GUEST_CR3),
            vmcs::read(Field::GUEST_CR4),
            vmcs::read(Field::GUEST_IA32_EFER),
        )
    }

    /// True when the guest runs 64-bit code (CS.L).
    pub fn long_mode(&self) -> bool {
        vmcs::read(Field::GUEST_CS_ACCESS_RIGHTS) & (1 << 13) != 0
    }

    /// The guest's current privilege level: SS.DPL (access rights bits
    /// 6:5), which VM entry keeps equal to CPL (SDM Vol. 3, 26.3.1.2).
    pub fn cpl(&self) -> u8 {
        low8((vmcs::read(Field::GUEST_SS_ACCESS_RIGHTS) >> 5) & 3)
    }
    pub fn rflags(&self) -> u64 {
        vmcs::read(Field::GUEST_RFLAGS)
    }
    pub fn set_rflags(&mut self, value: u64) {
        vmcs::write(Field::GUEST_RFLAGS, value);
    }

    pub fn efer(&self) -> u64 {
        vmcs::read(Field::GUEST_IA32_EFER)
    }
    pub fn set_efer(&mut self, value: u64) {
        vmcs::write(Field::GUEST_IA32_EFER, value);
        self.written = true;
    }
    pub fn pat(&self) -> u64 {
        vmcs::read(Field::GUEST_IA32_PAT)
    }
    pub fn set_pat(&mut self, value: u64) {
        vmcs::write(Field::GUEST_IA32_PAT, value);
    }

    /// Makes the next run exit after at most `tsc_cycles` of guest time,
    /// if the CPU has the VMX-preemption timer (else nothing).
    pub fn set_exit_deadline(&mut self, tsc_cycles: u64) {
        if let Some(shift) = self.preemption_shift {
            vmcs::write(Field::VMX_PREEMPTION_TIMER_VALUE, (tsc_cycles >> shift).min(u64::from(u32::MAX)));
        }
    }

    /// Makes this vCPU's VMCS the current one of this CPU (it is created
    /// current; another vCPU's may have been loaded since). On another CPU
    /// it goes through [`Self::leave_cpu`] and [`Self::join_cpu`].
    pub fn make_current(&self) -> bool {
        vmx_ptr_op("vmptrld", self.vmcs.addr())
    }

    /// Before the vCPU moves to another CPU: VMCLEAR writes its VMCS back
    /// to memory and makes it launchable there (SDM Vol. 3, 25.11.3).
    pub fn leave_cpu(&mut self) -> bool {
        self.launched = false;
        vmx_ptr_op("vmclear", self.vmcs.addr())
    }

    /// On the CPU it moved to: its VMCS current here, with this CPU's
    /// host state (TSS, GDT, GS base differ per CPU) and `vpid`.
    pub fn join_cpu(&mut self, vpid: u16) -> bool {
        if !vmx_ptr_op("vmptrld", self.vmcs.addr()) {
            return false;
        }
        Self::write_host_state();
        vmcs::write(Field::VPID, u64::from(vpid.max(1)));
        self.written = true;
        true
    }

    pub fn destroy(self) {
        vmx_ptr_op("vmclear", self.vmcs.addr());
        mm::free_frame(self.vmcs);
        self.io_bitmaps.release();
        mm::free_frame(self.msr_bitmap);
    }
}
