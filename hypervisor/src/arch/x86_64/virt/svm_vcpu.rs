//! An SVM vCPU: its VMCB, I/O and MSR permission maps, and VMRUN.

use crate::bits::{low8, low16, low32};
use super::entry_check::{self, SvmEntryState};
use super::exit::{BootState, Exit, GuestRegs, IoAccess, StartMode};
use super::vmcb::{self, Vmcb};
use super::VirtError;
use crate::mm::handle::{OwnedFrame, OwnedRun};
use crate::mm::{self, physmap};

// Enters the guest and returns at #VMEXIT. Host state the CPU does not save
// itself (FS/GS/TR/LDTR, KernelGsBase, STAR/LSTAR/SFMASK, SYSENTER) goes
// through VMSAVE/VMLOAD on a per-vCPU host area; GIF is clear outside the
// guest so no interrupt lands between the two halves (APM Vol. 2, 15.5, 15.17).
core::arch::global_asm!(
    r#"
    .globl svm_vmrun
svm_vmrun:
    push rbp
    push rbx
    push r12
    push r13
    push r14
    push r15
    push rdx                    /* host save area */
    push rsi                    /* &GuestRegs */
    push rdi                    /* guest VMCB */
    clgi
    sti
    mov rax, rdx
    vmsave rax
    mov rbx, [rsi + 8]
    mov rcx, [rsi + 16]
    mov rdx, [rsi + 24]
    mov rdi, [rsi + 40]
    mov rbp, [rsi + 48]
    mov r8,  [rsi + 56]
    mov r9,  [rsi + 64]
    mov r10, [rsi + 72]
    mov r11, [rsi + 80]
    mov r12, [rsi + 88]
    mov r13, [rsi + 96]
    mov r14, [rsi + 104]
    mov r15, [rsi + 112]
    mov rsi, [rsi + 32]
    mov rax, [rsp]
    vmload rax
    .globl svm_vmrun_instruction
svm_vmrun_instruction:
    vmrun rax
    vmsave rax
    push rsi
    mov rsi, [rsp + 16]
    mov [rsi + 8], rbx
    mov [rsi + 16], rcx
    mov [rsi + 24], rdx
    mov [rsi + 40], rdi
    mov [rsi + 48], rbp
    mov [rsi + 56], r8
    mov [rsi + 64], r9
    mov [rsi + 72], r10
    mov [rsi + 80], r11
    mov [rsi + 88], r12
    mov [rsi + 96], r13
    mov [rsi + 104], r14
    mov [rsi + 112], r15
    pop rax
    mov [rsi + 32], rax
    pop rdi
    pop rsi
    pop rax
    vmload rax
    cli
    stgi
    pop r15
    pop r14
    pop r13
    pop r12
    pop rbx
    pop rbp
    ret
    "#
);

unsafe extern "C" {
    fn svm_vmrun(vmcb: u64, regs: *mut GuestRegs, host_save: u64);
    /// The VMRUN instruction in `svm_vmrun` (only its address is used).
    static svm_vmrun_instruction: u8;
}

/// I/O permission map: 12 KiB, one bit per port (set = intercept).
const IOPM_FRAMES: usize = 3;
/// MSR permission map: 8 KiB, two bits per MSR in three ranges.
const MSRPM_FRAMES: usize = 2;

pub struct SvmVcpu {
    vmcb: Vmcb,
    host_save: OwnedFrame,
    iopm: OwnedRun,
    msrpm: OwnedRun,
    pub regs: GuestRegs,
    nrips: bool,
    /// Next RIP reported by an IOIO exit (always valid there).
    io_next_rip: u64,
    /// The hypervisor wrote guest state (or queued an event) since the
    /// last VMRUN: check it before the next one.
    written: bool,
    /// The last exit was a VMEXIT_INVALID turned into the guest's #GP.
    refused_last: bool,
    /// What the last VMRUN checked before loading any state, as it found
    /// it: all a refusal of it leaves to report (see `decode_exit`).
    entered_with: [u64; 5],
}

/// Bytes of `vmrun rax`.
const VMRUN_LEN: u64 = 3;

/// VMCB fields VMRUN checks before it loads any guest state (the
/// intercepts as one word: MISC1 and MISC2).
const EARLY_CHECKED: [usize; 5] = [vmcb::CR0, vmcb::CR3, vmcb::CR4, vmcb::INTERCEPT_MISC1, vmcb::GUEST_ASID];

fn fill(run: &OwnedRun, byte: u8) {
    // SAFETY: the run was just allocated to this vCPU (its handle says how many frames) and is mapped writable through the window.
    unsafe { core::ptr::write_bytes(physmap::ptr::<u8>(run.addr()), byte, crate::bits::to_usize(run.frames()) * 4096) }
}

impl SvmVcpu {
    /// A vCPU in Xen's PVH start state, with nested paging rooted at
    /// `npt_root`, tagged `asid` (never 0), intercepting the ports for which
    /// `intercept_port` says so and every MSR.
    pub fn new(
        boot: BootState,
        npt_root: u64,
        asid: u32,
        intercept_port: &dyn Fn(u16) -> bool,
        passthrough_msrs: &[u32],
    ) -> Result<SvmVcpu, VirtError> {
        let oom = VirtError::OutOfMemory("SVM vCPU");
        let vmcb_mfn = mm::alloc_frame().ok_or(VirtError::OutOfMemory("VMCB"))?;
        let host_save = mm::alloc_frame().ok_or(VirtError::OutOfMemory("VMCB"))?;
        let iopm = mm::alloc_run(IOPM_FRAMES, 1).ok_or(VirtError::OutOfMemory("SVM I/O permission map"))?;
        let msrpm = mm::alloc_run(MSRPM_FRAMES, 1).ok_or(oom)?;
        fill(&iopm, 0);
        fill(&msrpm, 0xff);
        let msr_bits = physmap::ptr::<u8>(msrpm.addr());
        for &msr in passthrough_msrs {
            // Three 2 KiB ranges, two bits per MSR (read, write): APM Vol. 2, 15.11.
            let base = match msr {
                0..=0x1fff => 0,
                0xc000_0000..=0xc000_1fff => 0x800,
                0xc001_0000..=0xc001_1fff => 0x1000,
                _ => continue,
            };
            let bit = (msr & 0x1fff) as usize * 2;
            // SAFETY: base + bit / 8 < 0x1800, inside the 8 KiB map owned here.
            unsafe { *msr_bits.add(base + bit / 8) &= !(0b11 << (bit % 8)) };
        }
        // SAFETY: the 12 KiB map was just allocated to this vCPU; the window maps it.
        let bitmap = unsafe { core::slice::from_raw_parts_mut(physmap::ptr::<u8>(iopm.addr()), super::IO_BITMAP_BYTES) };
        super::fill_io_bitmap(bitmap, intercept_port);
        let vmcb = Vmcb::new(vmcb_mfn);
        vmcb.write_u32(
            vmcb::INTERCEPT_MISC1,
            vmcb::INTERCEPT_INTR
                | vmcb::INTERCEPT_NMI
                | vmcb::INTERCEPT_CPUID
                | vmcb::INTERCEPT_HLT
                // INVD would discard the host's dirty cache lines too.
                | vmcb::INTERCEPT_INVD
                // INVLPGA names any ASID, not only the guest's.
                | vmcb::INTERCEPT_INVLPGA
                | vmcb::INTERCEPT_IOIO
                | vmcb::INTERCEPT_MSR
                | vmcb::INTERCEPT_SHUTDOWN,
        );
        vmcb.write_u32(
            vmcb::INTERCEPT_MISC2,
            vmcb::INTERCEPT_VMRUN
                | vmcb::INTERCEPT_VMMCALL
                | vmcb::INTERCEPT_VMLOAD
                | vmcb::INTERCEPT_VMSAVE
                | vmcb::INTERCEPT_STGI
                | vmcb::INTERCEPT_CLGI
                | vmcb::INTERCEPT_SKINIT
                | vmcb::INTERCEPT_XSETBV,
        );
        // #DB and #AC are intercepted and reflected: a guest must not be able
        // to wedge the CPU with an endless chain of them.
        vmcb.write_u32(vmcb::INTERCEPT_EXCEPTIONS, (1 << 1) | (1 << 17));
        vmcb.write_u64(vmcb::IOPM_BASE_PA, iopm.addr());
        vmcb.write_u64(vmcb::MSRPM_BASE_PA, msrpm.addr());
        vmcb.write_u32(vmcb::GUEST_ASID, asid.max(1));
        vmcb.write_u8(vmcb::TLB_CONTROL, 1);
        // V_INTR_MASKING: the host's RFLAGS.IF, not the guest's, gates
        // physical interrupts, so a guest cannot hold off the host timer.
        vmcb.write_u64(vmcb::VINTR, 1 << 24);
        vmcb.write_u64(vmcb::NP_ENABLE, 1);
        vmcb.write_u64(vmcb::N_CR3, npt_root);

        match boot.mode {
            StartMode::Pvh => {
                let code32 = 0xc9b; // type 0xb, S, P, D/B, G
                let data32 = 0xc93; // type 0x3, S, P, D/B, G
                vmcb.write_segment(vmcb::CS, 0x08, code32, 0xffff_ffff, 0);
                for seg in [vmcb::DS, vmcb::ES, vmcb::SS, vmcb::FS, vmcb::GS] {
                    vmcb.write_segment(seg, 0x10, data32, 0xffff_ffff, 0);
                }
                vmcb.write_u64(vmcb::CR0, 0x11); // PE | ET
            }
            StartMode::Real { segment } => {
                // 16-bit code and data (type 0xb / 0x3, S, P), DPL 0.
                vmcb.write_segment(vmcb::CS, segment, 0x9b, 0xffff, u64::from(segment) << 4);
                for seg in [vmcb::DS, vmcb::ES, vmcb::SS, vmcb::FS, vmcb::GS] {
                    vmcb.write_segment(seg, 0, 0x93, 0xffff, 0);
                }
                vmcb.write_u64(vmcb::CR0, 0x10); // ET
            }
        }
        vmcb.write_segment(vmcb::TR, 0, 0x8b, 0x67, 0);
        vmcb.write_segment(vmcb::LDTR, 0, 0x82, 0, 0);
        vmcb.write_segment(vmcb::GDTR, 0, 0, 0, 0);
        vmcb.write_segment(vmcb::IDTR, 0, 0, 0, 0);
        vmcb.write_u64(vmcb::CR4, 0);
        vmcb.write_u64(vmcb::EFER, 1 << 12); // SVME, required by VMRUN's checks
        vmcb.write_u64(vmcb::RFLAGS, 0x2);
        vmcb.write_u64(vmcb::RIP, boot.rip);
        vmcb.write_u64(vmcb::RSP, 0);
        vmcb.write_u64(vmcb::DR6, 0xffff_0ff0);
        vmcb.write_u64(vmcb::DR7, 0x400);
        vmcb.write_u64(vmcb::G_PAT, 0x0007_0406_0007_0406);

        let regs = GuestRegs { rbx: boot.rbx, ..GuestRegs::default() };
        Ok(SvmVcpu { vmcb, host_save, iopm, msrpm, regs, nrips: super::svm::features().nrips, io_next_rip: 0, written: true, refused_last: false, entered_with: [0; 5] })
    }

    /// Why the next VMRUN would fail, checked when the hypervisor wrote
    /// guest state since the last one (the guest's own changes the CPU
    /// checked as it made them).
    fn entry_refusal(&mut self) -> Option<&'static str> {
        if !core::mem::take(&mut self.written) {
            return None;
        }
        self.state_refusal()
    }

    /// Why VMRUN would refuse the VMCB as it is now.
    fn state_refusal(&self) -> Option<&'static str> {
        let state = SvmEntryState {
            cr0: self.vmcb.read_u64(vmcb::CR0),
            cr4: self.vmcb.read_u64(vmcb::CR4),
            efer: self.vmcb.read_u64(vmcb::EFER),
            cs_attrib: self.vmcb.read_u16(vmcb::CS + 2),
            event_inj: self.vmcb.read_u64(vmcb::EVENTINJ),
        };
        entry_check::svm_refusal(&state)
    }

    /// Runs the guest until the next exit.
    pub fn run(&mut self) -> Exit {
        if let Some(why) = self.entry_refusal() {
            return Exit::RefusedState { why };
        }
        self.vmcb.write_u64(vmcb::RAX, self.regs.rax);
        if crate::arch::x86_64::apic::host_interrupt_pending() {
            return Exit::ExternalInterrupt;
        }
        self.entered_with = EARLY_CHECKED.map(|field| self.vmcb.read_u64(field));
        // SAFETY: the VMCB, permission maps and nested page tables were set up by `new` and belong to this vCPU; EFER.SVME and VM_HSAVE_PA are set on this CPU (virt::enable_this_cpu); `svm_vmrun` restores every callee-saved register and the host's segment state before returning.
        unsafe { svm_vmrun(self.vmcb.phys(), &mut self.regs, self.host_save.addr()) };
        self.regs.rax = self.vmcb.read_u64(vmcb::RAX);
        self.vmcb.write_u8(vmcb::TLB_CONTROL, 0);
        self.requeue_interrupted_interrupt();
        self.decode_exit()
    }

    fn decode_exit(&mut self) -> Exit {
        let code = self.vmcb.read_u64(vmcb::EXITCODE);
        let info1 = self.vmcb.read_u64(vmcb::EXITINFO1);
        let info2 = self.vmcb.read_u64(vmcb::EXITINFO2);
        // The host's state saved as the guest's: RIP at this VMRUN or just
        // past it, with the host's CR3. QEMU's TCG does that when VMRUN
        // refuses what it checks before loading any guest state (its
        // do_vmexit saves the state it has), and rarely, under load, at an
        // ordinary exit too. Resuming it would run the hypervisor's code as
        // the guest; the guest's own state is gone.
        let vmrun_at = (&raw const svm_vmrun_instruction) as u64;
        let rip = self.vmcb.read_u64(vmcb::RIP);
        if (rip == vmrun_at || rip == vmrun_at + VMRUN_LEN) && self.vmcb.read_u64(vmcb::CR3) & !0xfff == x86_64::registers::control::Cr3::read_raw().0.start_address().as_u64() {
            return Exit::HostStateSaved { code, info: [info1, info2, self.vmcb.read_u64(vmcb::EXITINTINFO)], entered_with: self.entered_with };
        }
        if low32(code) == vmcb::VMEXIT_INVALID {
            // QEMU's TCG reports a guest MOV to CR4 (or CR3) with reserved
            // bits as VMEXIT_INVALID at that instruction (its
            // helper_write_crN), where hardware raises #GP. When the state
            // held here passes VMRUN's checks, that is what happened: the
            // guest gets the #GP. A refusal right after one, with that #GP
            // still in EVENTINJ (the CPU clears its V bit once it delivers
            // it), is real: the guest never ran. One where the #GP was
            // delivered is the guest's next bad MOV (its handler went on).
            let again = core::mem::replace(&mut self.refused_last, true);
            let undelivered = self.vmcb.read_u64(vmcb::EVENTINJ) & (1 << 31) != 0;
            if !(again && undelivered) && self.state_refusal().is_none() {
                return Exit::Exception { vector: 13, error: Some(0) };
            }
            return Exit::InvalidState { code };
        }
        self.refused_last = false;
        match code {
            vmcb::VMEXIT_CPUID => Exit::Cpuid,
            vmcb::VMEXIT_HLT => Exit::Hlt,
            vmcb::VMEXIT_VMMCALL => Exit::Hypercall,
            vmcb::VMEXIT_IOIO => {
                self.io_next_rip = info2;
                let size = if info1 & (1 << 4) != 0 {
                    1
                } else if info1 & (1 << 5) != 0 {
                    2
                } else {
                    4
                };
                Exit::Io(IoAccess {
                    port: low16(info1 >> 16),
                    size,
                    write: info1 & 1 == 0,
                    string: info1 & (1 << 2) != 0,
                    rep: info1 & (1 << 3) != 0,
                })
            }
            vmcb::VMEXIT_MSR if info1 == 0 => Exit::MsrRead,
            vmcb::VMEXIT_MSR => Exit::MsrWrite,
            vmcb::VMEXIT_NPF => Exit::NestedPageFault { gpa: info2, write: info1 & 2 != 0, fetch: info1 & 0x10 != 0 },
            vmcb::VMEXIT_SHUTDOWN => Exit::TripleFault,
            vmcb::VMEXIT_XSETBV => Exit::Xsetbv,
            vmcb::VMEXIT_INVD => Exit::Invd,
            // The SVM instructions: #UD, as Xen without nested virtualization.
            vmcb::VMEXIT_VMRUN | vmcb::VMEXIT_INVLPGA => Exit::InvalidOpcode,
            c if vmcb::VMEXIT_SVM_INSTRUCTIONS.contains(&c) => Exit::InvalidOpcode,
            vmcb::VMEXIT_INTR => Exit::ExternalInterrupt,
            vmcb::VMEXIT_NMI => Exit::Nmi,
            vmcb::VMEXIT_INIT => Exit::Init,
            vmcb::VMEXIT_VINTR => Exit::InterruptWindow,
            c if (vmcb::VMEXIT_EXCP_BASE..vmcb::VMEXIT_EXCP_BASE + 32).contains(&c) => {
                let vector = low8(c - vmcb::VMEXIT_EXCP_BASE);
                let has_error = matches!(vector, 8 | 10..=14 | 17 | 21 | 29 | 30);
                Exit::Exception { vector, error: has_error.then_some(low32(info1)) }
            }
            _ => Exit::Unhandled { code },
        }
    }

    pub fn rip(&self) -> u64 {
        self.vmcb.read_u64(vmcb::RIP)
    }

    /// Moves RIP past an instruction the hypervisor emulated; the interrupt
    /// shadow it may have stood in ends with it.
    pub fn set_rip(&mut self, rip: u64) {
        self.vmcb.write_u64(vmcb::RIP, rip);
        self.vmcb.write_u64(vmcb::INTERRUPT_SHADOW, self.vmcb.read_u64(vmcb::INTERRUPT_SHADOW) & !1);
    }

    /// Moves past the instruction that exited. `len` is its length when the
    /// CPU lacks NRIP save (QEMU's TCG) and the exit reports no next RIP.
    pub fn skip_instruction(&mut self, exit: &Exit, len: u64) {
        let next = match exit {
            Exit::Io(_) => self.io_next_rip,
            _ if self.nrips => self.vmcb.read_u64(vmcb::NRIP),
            _ => self.rip() + len,
        };
        self.vmcb.write_u64(vmcb::RIP, next);
    }

    /// Flushes this guest's TLB entries on the next VMRUN (TLB_CONTROL 3:
    /// this ASID's non-global and global entries).
    pub fn flush_tlb(&mut self) {
        self.vmcb.write_u8(vmcb::TLB_CONTROL, 3);
    }

    /// Queues an exception for the guest's next entry; its error code only
    /// where the CPU would push one (none in real mode).
    pub fn inject_exception(&mut self, vector: u8, error: Option<u32>) {
        let protected = self.vmcb.read_u64(vmcb::CR0) & 1 != 0;
        let mut event = u64::from(vector) | (3 << 8) | (1 << 31);
        self.written = true;
        if let Some(e) = entry_check::exception_error_code(vector, protected, error) {
            event |= (1 << 11) | (u64::from(e) << 32);
        }
        self.vmcb.write_u64(vmcb::EVENTINJ, event);
    }

    /// Whether the guest can take an external interrupt at the next VMRUN:
    /// RFLAGS.IF set, no interrupt shadow, no event already queued.
    pub fn interrupt_ready(&self) -> bool {
        const RFLAGS_IF: u64 = 1 << 9;
        self.rflags() & RFLAGS_IF != 0 && self.vmcb.read_u64(vmcb::INTERRUPT_SHADOW) & 1 == 0 && !self.event_queued()
    }

    /// Queues external interrupt `vector` (EVENTINJ type 0) for the next
    /// VMRUN (the caller checked [`Self::interrupt_ready`]).
    pub fn inject_interrupt(&mut self, vector: u8) {
        self.vmcb.write_u64(vmcb::EVENTINJ, u64::from(vector) | (1 << 31));
        self.written = true;
    }

    /// Asks for (or stops asking for) an exit as soon as the guest can take
    /// an interrupt: a virtual interrupt (V_IRQ, priority 15, ignoring
    /// V_TPR) that is intercepted (VINTR) before it is ever taken, as
    /// Xen's svm_enable_intr_window.
    pub fn set_interrupt_window(&mut self, on: bool) {
        const V_IRQ: u64 = 1 << 8;
        const V_INTR_PRIO_15: u64 = 0xf << 16;
        const V_IGN_TPR: u64 = 1 << 20;
        const V_INTR_MASKING: u64 = 1 << 24;
        let misc1 = self.vmcb.read_u32(vmcb::INTERCEPT_MISC1);
        if on {
            self.vmcb.write_u64(vmcb::VINTR, V_INTR_MASKING | V_IRQ | V_INTR_PRIO_15 | V_IGN_TPR);
            self.vmcb.write_u32(vmcb::INTERCEPT_MISC1, misc1 | vmcb::INTERCEPT_VINTR);
        } else if misc1 & vmcb::INTERCEPT_VINTR != 0 {
            self.vmcb.write_u64(vmcb::VINTR, V_INTR_MASKING);
            self.vmcb.write_u32(vmcb::INTERCEPT_MISC1, misc1 & !vmcb::INTERCEPT_VINTR);
        }
    }

    /// An event is queued for the next VMRUN.
    pub fn event_queued(&self) -> bool {
        self.vmcb.read_u64(vmcb::EVENTINJ) & (1 << 31) != 0
    }

    /// The exit interrupted the delivery of an event (EXITINTINFO valid,
    /// APM Vol. 2, 15.7.2).
    pub fn event_in_delivery(&self) -> bool {
        self.vmcb.read_u64(vmcb::EXITINTINFO) & (1 << 31) != 0
    }

    /// An external interrupt whose delivery the exit cut short is queued
    /// again, so it is not lost (the vLAPIC already counts it in service).
    fn requeue_interrupted_interrupt(&mut self) {
        let info = self.vmcb.read_u64(vmcb::EXITINTINFO);
        if info & (1 << 31) != 0 && (info >> 8) & 7 == 0 && !self.event_queued() {
            self.vmcb.write_u64(vmcb::EVENTINJ, (info & 0xff) | (1 << 31));
            self.written = true;
        }
    }

    pub fn rsp(&self) -> u64 {
        self.vmcb.read_u64(vmcb::RSP)
    }
    pub fn set_rsp(&mut self, value: u64) {
        self.vmcb.write_u64(vmcb::RSP, value);
    }

    /// CS base and the code size (16, 32 or 64) from CS.L (attribute bit
    /// 9) and CS.D (bit 10).
    pub fn code_segment(&self) -> (u64, u32) {
        let attrib = self.vmcb.read_u16(vmcb::CS + 2);
        let bits = if self.long_mode() {
            64
        } else if attrib & (1 << 10) != 0 {
            32
        } else {
            16
        };
        (self.vmcb.read_u64(vmcb::CS + 8), bits)
    }

    /// Guest CR0, CR3, CR4 and EFER, for walking its page tables.
    pub fn paging_state(&self) -> (u64, u64, u64, u64) {
        (
            self.vmcb.read_u64(vmcb::CR0),
            self.vmcb.read_u64(vmcb::CR3),
            self.vmcb.read_u64(vmcb::CR4),
            self.vmcb.read_u64(vmcb::EFER),
        )
    }

    /// True when the guest runs 64-bit code (EFER.LMA and CS.L).
    pub fn long_mode(&self) -> bool {
        let efer_lma = self.vmcb.read_u64(vmcb::EFER) & (1 << 10) != 0;
        let cs_attrib = low16(self.vmcb.read_u64(vmcb::CS) >> 16);
        efer_lma && cs_attrib & (1 << 9) != 0
    }

    /// The guest's current privilege level: the VMCB's CPL byte (APM Vol. 2,
    /// 15.5.1: 0 in real mode, 3 in virtual-8086 mode).
    pub fn cpl(&self) -> u8 {
        self.vmcb.read_u8(vmcb::CPL) & 3
    }
    pub fn rflags(&self) -> u64 {
        self.vmcb.read_u64(vmcb::RFLAGS)
    }
    pub fn set_rflags(&mut self, value: u64) {
        self.vmcb.write_u64(vmcb::RFLAGS, value);
    }

    /// Guest EFER as the guest sees it (SVME is the hypervisor's).
    pub fn efer(&self) -> u64 {
        self.vmcb.read_u64(vmcb::EFER) & !(1 << 12)
    }
    pub fn set_efer(&mut self, value: u64) {
        self.vmcb.write_u64(vmcb::EFER, value | (1 << 12));
        self.written = true;
    }

    /// The guest's CR4 (not intercepted on SVM: the CPU checks its writes).
    pub fn guest_cr4(&self) -> u64 {
        self.vmcb.read_u64(vmcb::CR4)
    }

    pub fn set_cr4(&mut self, value: u64) {
        self.vmcb.write_u64(vmcb::CR4, value);
        self.written = true;
    }

    /// The guest's CR0 (not intercepted on SVM: the CPU checks its writes).
    pub fn guest_cr0(&self) -> u64 {
        self.vmcb.read_u64(vmcb::CR0)
    }

    /// Installs what a MOV to CR0 leaves (`vcpu::msr::cr0_write`), with
    /// the EFER it leaves (LMA).
    pub fn set_cr0(&mut self, cr0: u64, efer: u64) {
        self.vmcb.write_u64(vmcb::CR0, cr0);
        self.set_efer(efer);
    }

    /// TR holds a 16-bit TSS (attribute type 1 or 3).
    pub fn tr_16bit(&self) -> bool {
        matches!((self.vmcb.read_u64(vmcb::TR) >> 16) & 0xf, 1 | 3)
    }
    pub fn pat(&self) -> u64 {
        self.vmcb.read_u64(vmcb::G_PAT)
    }
    pub fn set_pat(&mut self, value: u64) {
        self.vmcb.write_u64(vmcb::G_PAT, value);
    }

    /// On the CPU it moved to: this CPU's `asid`, and its TLB entries
    /// there flushed (the host save area is this vCPU's, named at VMRUN).
    pub fn join_cpu(&mut self, asid: u32) {
        self.vmcb.write_u32(vmcb::GUEST_ASID, asid.max(1));
        self.vmcb.write_u8(vmcb::TLB_CONTROL, 3);
    }

    /// Frees every frame the vCPU owned.
    pub fn destroy(self) {
        mm::free_frame(self.vmcb.into_frame());
        mm::free_frame(self.host_save);
        self.iopm.release();
        self.msrpm.release();
    }
}
