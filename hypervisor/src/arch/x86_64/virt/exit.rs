//! What a VM exit means, in one shape for both backends. The backends turn
//! their exit codes into an `Exit` and return it: no logging, locking or
//! allocation on the way.

/// General-purpose registers of a guest that the hardware does not keep in
/// the VMCB/VMCS. RSP and RIP (and RAX on SVM) live there instead.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GuestRegs {
    pub rax: u64,
    pub rbx: u64,
    pub rcx: u64,
    pub rdx: u64,
    pub rsi: u64,
    pub rdi: u64,
    pub rbp: u64,
    pub r8: u64,
    pub r9: u64,
    pub r10: u64,
    pub r11: u64,
    pub r12: u64,
    pub r13: u64,
    pub r14: u64,
    pub r15: u64,
}

/// Width of a port access in bytes (1, 2 or 4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IoAccess {
    pub port: u16,
    pub size: u8,
    pub write: bool,
    /// INS/OUTS (string forms) with or without REP.
    pub string: bool,
    pub rep: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    Cpuid,
    Hlt,
    /// VMCALL / VMMCALL.
    Hypercall,
    Io(IoAccess),
    MsrRead,
    MsrWrite,
    /// XSETBV (always an exit on VMX; intercepted on SVM).
    Xsetbv,
    /// INVD (always an exit on VMX; intercepted on SVM): done as WBINVD.
    Invd,
    /// MOV to CR0 changing a bit the hypervisor owns (VMX: NE, which VMX
    /// operation fixes to 1).
    Cr0Write { value: u64 },
    /// MOV to CR4 setting a bit the hypervisor owns (VMX: VMXE, SMXE).
    Cr4Write { value: u64 },
    /// An instruction the guest may not use that still exits: the VMX
    /// instructions, GETSEC, INVEPT, INVVPID; the SVM instructions (VMRUN,
    /// VMLOAD, VMSAVE, STGI, CLGI, SKINIT, INVLPGA). #UD, as Xen without nesting.
    InvalidOpcode,
    /// A guest-physical access the p2m does not allow.
    NestedPageFault { gpa: u64, write: bool, fetch: bool },
    Exception { vector: u8, error: Option<u32> },
    /// A host interrupt arrived while the guest ran; the host takes it on return.
    ExternalInterrupt,
    /// The VMX-preemption timer armed for the vCPU's next deadline ran out
    /// (`HwVcpu::set_exit_deadline`).
    TimerExpired,
    /// The guest can take an interrupt now (VMX interrupt-window exiting).
    InterruptWindow,
    Nmi,
    /// The guest triple-faulted (SVM shutdown, VMX triple-fault exit).
    TripleFault,
    /// INIT signal (another CPU reset this one).
    Init,
    /// The hardware refused the guest state (VMRUN/VMLAUNCH failure).
    InvalidState { code: u64 },
    /// The VMCB came back holding the host's state as the guest's (QEMU's
    /// TCG: see `SvmVcpu::decode_exit`): the exit's code and EXITINFO1,
    /// EXITINFO2, EXITINTINFO, and CR0, CR3, CR4, the intercepts and the
    /// ASID as VMRUN found them. The guest's state is lost.
    HostStateSaved { code: u64, info: [u64; 3], entered_with: [u64; 5] },
    /// Not entered: the state the hypervisor wrote would fail the entry
    /// checks (`entry_check`), for this reason.
    RefusedState { why: &'static str },
    /// An exit this hypervisor does not handle; its raw reason.
    Unhandled { code: u64 },
}

/// Architectural state a vCPU starts with, at `rip` with `rbx`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BootState {
    pub rip: u64,
    pub rbx: u64,
    pub mode: StartMode,
}

/// The mode a vCPU starts in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum StartMode {
    /// Xen's PVH boot protocol: 32-bit protected mode, paging off, flat
    /// segments (%ebx = start_info for the BSP).
    #[default]
    Pvh,
    /// Where a start-up IPI sends an AP (Xen's `hvm_vcpu_reset_state`):
    /// real mode, CS = `segment` (base `segment << 4`, limit 0xffff), data
    /// segments 0 with limit 0xffff, CR0 = ET, interrupts off.
    Real { segment: u16 },
}
