//! One vCPU interface over the two backends.

use super::exit::{BootState, Exit, GuestRegs};
use super::svm_vcpu::SvmVcpu;
use super::vmx_vcpu::VmxVcpu;
use super::{Backend, VirtError};

pub enum HwVcpu {
    Svm(SvmVcpu),
    Vmx(VmxVcpu),
}

/// What the vCPU's nested paging is rooted at.
#[derive(Clone, Copy, Debug)]
pub struct NestedPaging {
    /// Root table for NPT's nCR3.
    pub npt_root: u64,
    /// EPT pointer (root, memory type, walk length).
    pub eptp: u64,
}

impl HwVcpu {
    /// A vCPU for this machine's backend, in the PVH start state. `tag` is
    /// the ASID (SVM) or VPID (VMX), never 0.
    pub fn new(
        backend: Backend,
        boot: BootState,
        paging: NestedPaging,
        tag: u16,
        intercept_port: &dyn Fn(u16) -> bool,
        passthrough_msrs: &[u32],
    ) -> Result<HwVcpu, VirtError> {
        Ok(match backend {
            Backend::Svm(_) => {
                HwVcpu::Svm(SvmVcpu::new(boot, paging.npt_root, u32::from(tag), intercept_port, passthrough_msrs)?)
            }
            Backend::Vmx(_) => HwVcpu::Vmx(VmxVcpu::new(boot, paging.eptp, tag, intercept_port, passthrough_msrs)?),
        })
    }

    /// Runs the guest until the next exit; with a host interrupt already
    /// pending, does not enter and reports it as the exit it would cause
    /// (see `apic::host_interrupt_pending`).
    pub fn run(&mut self) -> Exit {
        match self {
            HwVcpu::Svm(v) => v.run(),
            HwVcpu::Vmx(v) => v.run(),
        }
    }

    pub fn regs(&mut self) -> &mut GuestRegs {
        match self {
            HwVcpu::Svm(v) => &mut v.regs,
            HwVcpu::Vmx(v) => &mut v.regs,
        }
    }

    /// The registers [`Self::regs`] gives, read-only.
    pub fn gprs(&self) -> &GuestRegs {
        match self {
            HwVcpu::Svm(v) => &v.regs,
            HwVcpu::Vmx(v) => &v.regs,
        }
    }

    pub fn rip(&self) -> u64 {
        match self {
            HwVcpu::Svm(v) => v.rip(),
            HwVcpu::Vmx(v) => v.rip(),
        }
    }

    /// Moves past the exiting instruction; `len` is its length for SVM
    /// without NRIP save (VMX reports the length itself).
    pub fn skip_instruction(&mut self, exit: &Exit, len: u64) {
        match self {
            HwVcpu::Svm(v) => v.skip_instruction(exit, len),
            HwVcpu::Vmx(v) => v.skip_instruction(),
        }
    }

    /// Drops the guest's cached guest-physical translations before it runs again.
    pub fn flush_tlb(&mut self) {
        match self {
            HwVcpu::Svm(v) => v.flush_tlb(),
            HwVcpu::Vmx(v) => v.flush_tlb(),
        }
    }

    pub fn inject_exception(&mut self, vector: u8, error: Option<u32>) {
        match self {
            HwVcpu::Svm(v) => v.inject_exception(vector, error),
            HwVcpu::Vmx(v) => v.inject_exception(vector, error),
        }
    }

    /// The guest can take an external interrupt at the next entry (IF set,
    /// no interrupt shadow, no event queued).
    pub fn interrupt_ready(&self) -> bool {
        match self {
            HwVcpu::Svm(v) => v.interrupt_ready(),
            HwVcpu::Vmx(v) => v.interrupt_ready(),
        }
    }

    /// Queues external interrupt `vector` for the next entry; only when
    /// [`Self::interrupt_ready`].
    pub fn inject_interrupt(&mut self, vector: u8) {
        match self {
            HwVcpu::Svm(v) => v.inject_interrupt(vector),
            HwVcpu::Vmx(v) => v.inject_interrupt(vector),
        }
    }

    /// Asks for an exit ([`super::exit::Exit::InterruptWindow`]) once the
    /// guest can take an interrupt, or stops asking.
    pub fn set_interrupt_window(&mut self, on: bool) {
        match self {
            HwVcpu::Svm(v) => v.set_interrupt_window(on),
            HwVcpu::Vmx(v) => v.set_interrupt_window(on),
        }
    }

    /// An event waits to be delivered at the next entry.
    pub fn event_queued(&self) -> bool {
        match self {
            HwVcpu::Svm(v) => v.event_queued(),
            HwVcpu::Vmx(v) => v.event_queued(),
        }
    }

    /// The last exit cut short the delivery of an event through the IDT.
    pub fn event_in_delivery(&self) -> bool {
        match self {
            HwVcpu::Svm(v) => v.event_in_delivery(),
            HwVcpu::Vmx(v) => v.event_in_delivery(),
        }
    }

    /// Guest RSP (kept in the VMCB/VMCS, not in [`GuestRegs`]).
    pub fn rsp(&self) -> u64 {
        match self {
            HwVcpu::Svm(v) => v.rsp(),
            HwVcpu::Vmx(v) => v.rsp(),
        }
    }
    pub fn set_rsp(&mut self, value: u64) {
        match self {
            HwVcpu::Svm(v) => v.set_rsp(value),
            HwVcpu::Vmx(v) => v.set_rsp(value),
        }
    }

    /// CS base and the code size in bits (16, 32 or 64).
    pub fn code_segment(&self) -> (u64, u32) {
        match self {
            HwVcpu::Svm(v) => v.code_segment(),
            HwVcpu::Vmx(v) => v.code_segment(),
        }
    }

    /// Adds `len` to RIP (an emulated instruction's length).
    pub fn advance_rip(&mut self, len: u64) {
        let next = self.rip().wrapping_add(len);
        match self {
            HwVcpu::Svm(v) => v.set_rip(next),
            HwVcpu::Vmx(v) => v.set_rip(next),
        }
    }

    /// Guest CR0, CR3, CR4, EFER.
    pub fn paging_state(&self) -> (u64, u64, u64, u64) {
        match self {
            HwVcpu::Svm(v) => v.paging_state(),
            HwVcpu::Vmx(v) => v.paging_state(),
        }
    }

    pub fn long_mode(&self) -> bool {
        match self {
            HwVcpu::Svm(v) => v.long_mode(),
            HwVcpu::Vmx(v) => v.long_mode(),
        }
    }

    /// The instruction used in hypercall-page stubs on this backend:
    /// VMMCALL (0f 01 d9) on AMD, VMCALL (0f 01 c1) on Intel.
    pub fn hypercall_instruction(&self) -> [u8; 3] {
        match self {
            HwVcpu::Svm(_) => [0x0f, 0x01, 0xd9],
            HwVcpu::Vmx(_) => [0x0f, 0x01, 0xc1],
        }
    }

    /// The guest's current privilege level (0-3), as Xen's `hvm_get_cpl`.
    pub fn cpl(&self) -> u8 {
        match self {
            HwVcpu::Svm(v) => v.cpl(),
            HwVcpu::Vmx(v) => v.cpl(),
        }
    }

    /// Guest RFLAGS.
    pub fn rflags(&self) -> u64 {
        match self {
            HwVcpu::Svm(v) => v.rflags(),
            HwVcpu::Vmx(v) => v.rflags(),
        }
    }

    /// Sets guest RFLAGS (an emulated instruction's status flags).
    pub fn set_rflags(&mut self, value: u64) {
        match self {
            HwVcpu::Svm(v) => v.set_rflags(value),
            HwVcpu::Vmx(v) => v.set_rflags(value),
        }
    }

    pub fn efer(&self) -> u64 {
        match self {
            HwVcpu::Svm(v) => v.efer(),
            HwVcpu::Vmx(v) => v.efer(),
        }
    }
    pub fn set_efer(&mut self, value: u64) {
        match self {
            HwVcpu::Svm(v) => v.set_efer(value),
            HwVcpu::Vmx(v) => v.set_efer(value),
        }
    }
    /// Guest CR4 as the guest reads it (VMX: host-owned bits from the shadow).
    pub fn guest_cr4(&self) -> u64 {
        match self {
            HwVcpu::Svm(v) => v.guest_cr4(),
            HwVcpu::Vmx(v) => v.guest_cr4(),
        }
    }
    /// Guest CR0 as the guest reads it (VMX: host-owned bits from the shadow).
    pub fn guest_cr0(&self) -> u64 {
        match self {
            HwVcpu::Svm(v) => v.guest_cr0(),
            HwVcpu::Vmx(v) => v.guest_cr0(),
        }
    }
    /// Installs the CR0 and EFER a MOV to CR0 leaves (`vcpu::msr::cr0_write`).
    pub fn set_cr0(&mut self, cr0: u64, efer: u64) {
        match self {
            HwVcpu::Svm(v) => v.set_cr0(cr0, efer),
            HwVcpu::Vmx(v) => v.set_cr0(cr0, efer),
        }
    }
    /// Installs the PAE PDPTEs an emulated MOV to CR0 loaded (VMX keeps
    /// them in the VMCS; SVM's nested paging reads them from memory).
    pub fn set_pdptes(&mut self, pdptes: [u64; 4]) {
        if let HwVcpu::Vmx(v) = self {
            v.set_pdptes(pdptes);
        }
    }
    /// INVPCID runs in the guest instead of raising #UD (SVM does not
    /// intercept it; VMX needs the "enable INVPCID" control).
    pub fn runs_invpcid(&self) -> bool {
        match self {
            HwVcpu::Svm(_) => true,
            HwVcpu::Vmx(v) => v.runs_invpcid(),
        }
    }
    /// TR holds a 16-bit TSS (IA-32e mode cannot be activated with one).
    pub fn tr_16bit(&self) -> bool {
        match self {
            HwVcpu::Svm(v) => v.tr_16bit(),
            HwVcpu::Vmx(v) => v.tr_16bit(),
        }
    }
    /// CR4 bits a guest may set on this CPU (only VMX intercepts CR4 writes).
    pub fn cr4_allowed(&self) -> u64 {
        match self {
            HwVcpu::Svm(_) => 0,
            HwVcpu::Vmx(v) => v.cr4_allowed(),
        }
    }
    /// Installs a guest CR4 value checked with `vcpu::msr::cr4_write`.
    pub fn set_cr4(&mut self, value: u64) {
        match self {
            HwVcpu::Svm(v) => v.set_cr4(value),
            HwVcpu::Vmx(v) => v.set_cr4(value),
        }
    }
    pub fn pat(&self) -> u64 {
        match self {
            HwVcpu::Svm(v) => v.pat(),
            HwVcpu::Vmx(v) => v.pat(),
        }
    }
    pub fn set_pat(&mut self, value: u64) {
        match self {
            HwVcpu::Svm(v) => v.set_pat(value),
            HwVcpu::Vmx(v) => v.set_pat(value),
        }
    }

    /// Makes the next run exit after at most `tsc_cycles` of guest time
    /// where the backend has a timer for it (VMX's preemption timer; SVM
    /// relies on the host's APIC timer interrupt).
    pub fn set_exit_deadline(&mut self, tsc_cycles: u64) {
        if let HwVcpu::Vmx(v) = self {
            v.set_exit_deadline(tsc_cycles);
        }
    }

    /// Before this vCPU runs again on its CPU after another ran there:
    /// VMX loads its VMCS (SVM names the VMCB at each VMRUN). False if the
    /// CPU refused.
    pub fn make_current(&self) -> bool {
        match self {
            HwVcpu::Svm(_) => true,
            HwVcpu::Vmx(v) => v.make_current(),
        }
    }

    /// Before it moves to another CPU (it does not run here again until
    /// [`Self::join_cpu`] there). False if the CPU refused.
    pub fn leave_cpu(&mut self) -> bool {
        match self {
            HwVcpu::Svm(_) => true,
            HwVcpu::Vmx(v) => v.leave_cpu(),
        }
    }

    /// On the CPU it moved to, whose guests are tagged `tag` (ASID or
    /// VPID): made current there. False if the CPU refused.
    pub fn join_cpu(&mut self, tag: u16) -> bool {
        match self {
            HwVcpu::Svm(v) => {
                v.join_cpu(u32::from(tag));
                true
            }
            HwVcpu::Vmx(v) => v.join_cpu(tag),
        }
    }

    pub fn destroy(self) {
        match self {
            HwVcpu::Svm(v) => v.destroy(),
            HwVcpu::Vmx(v) => v.destroy(),
        }
    }
}

impl HwVcpu {
    /// After an NMI exit: VMX consumed the NMI with the exit, so it is
    /// raised again here for the host's handler (the panic path stops CPUs
    /// with NMIs); SVM holds it pending until STGI, which already ran.
    pub fn redeliver_nmi(&self) {
        if let HwVcpu::Vmx(_) = self {
            // SAFETY: vector 2 is the host's NMI gate (on its own IST stack); the handler halts if the machine is stopping, else returns.
            unsafe { core::arch::asm!("int 2", options(nomem)) };
        }
    }
}

/// Lets interrupts that arrived while the guest ran reach the host's
/// handlers, then masks them again for the next entry.
pub fn take_pending_interrupts() {
    // SAFETY: STI's one-instruction shadow covers the NOP; pending interrupts are delivered right after it, to the host IDT.
    unsafe { core::arch::asm!("sti", "nop", "cli", options(nomem, nostack)) };
}
