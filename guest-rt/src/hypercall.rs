//! Finding the hypervisor by CPUID and calling it through the hypercall page.
//!
//! Xen's leaves sit at the first 0x100-aligned base from 0x40000000 whose EBX,
//! ECX, EDX read "XenVMMXenVMM" (Linux scans up to 0x40010000). Leaf base+2
//! gives the MSR that makes the hypervisor write its stubs into a page of ours:
//! hypercall `nr` is then `call page + nr * 32`, with rax = nr, arguments in
//! rdi, rsi, rdx, r10, r8 and the result in rax. Xen may clobber the argument
//! registers (debug builds poison them), so all of them are treated as
//! clobbered, and rcx/r11 too (SYSCALL-style stubs would use them).

use abi::console_io::CONSOLEIO_WRITE;
use abi::cpuid::{XEN_CPUID_FIRST_LEAF, XEN_CPUID_LEAF_STRIDE, is_xen_signature};
use abi::errno::Errno;
use abi::sched::{SCHEDOP_SHUTDOWN, SchedShutdown};
use abi::version::XENVER_VERSION;
use abi::xen::{
    HYPERCALL_STUB_SIZE, HYPERVISOR_CONSOLE_IO, HYPERVISOR_SCHED_OP, HYPERVISOR_XEN_VERSION,
    XEN_PAGE_SIZE,
};
use core::arch::asm;
use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crate::cpu;

/// Where the search for Xen's leaves stops (exclusive), as in Linux.
const XEN_CPUID_LAST_BASE: u32 = 0x4001_0000;

/// The page the hypervisor fills with hypercall stubs.
#[repr(C, align(4096))]
struct HypercallPage(UnsafeCell<[u8; 4096]>);

// SAFETY: Rust code never reads or writes the page; only the hypervisor
// writes it (on the MSR write) and the CPU executes it.
unsafe impl Sync for HypercallPage {}

static HYPERCALL_PAGE: HypercallPage = HypercallPage(UnsafeCell::new([0; 4096]));
const _: () = assert!(core::mem::size_of::<HypercallPage>() as u64 == XEN_PAGE_SIZE);

/// Address of the filled hypercall page, or 0 before [`init`] found a hypervisor.
static PAGE_ADDR: AtomicU64 = AtomicU64::new(0);

/// Whether the CPU is AMD's (VMMCALL) rather than Intel's (VMCALL), for
/// [`hypercall_direct`].
static AMD: AtomicBool = AtomicBool::new(false);

/// Stubs in the hypercall page: `nr` must be below this to be called through it.
pub const PAGE_STUBS: u64 = XEN_PAGE_SIZE / HYPERCALL_STUB_SIZE;

/// What CPUID told about the hypervisor.
#[derive(Clone, Copy, Debug)]
pub struct Hypervisor {
    /// The base leaf of Xen's CPUID leaves.
    pub cpuid_base: u32,
    /// Version, major in `[31:16]`, minor in `[15:0]`.
    pub version: u32,
    /// The MSR that installs the hypercall page.
    pub msr: u32,
}

/// Finds Xen's CPUID leaves and installs the hypercall page. Returns `None`
/// when there is no Xen-compatible hypervisor (bare metal, plain QEMU); the
/// hypercalls then return `-ENOSYS`.
pub fn init() -> Option<Hypervisor> {
    let vendor = cpu::cpuid(0, 0);
    // "AuthenticAMD" and "HygonGenuine" take VMMCALL; EBX holds "Auth"/"Hygo".
    AMD.store(
        vendor.ebx == u32::from_le_bytes(*b"Auth") || vendor.ebx == u32::from_le_bytes(*b"Hygo"),
        Ordering::Relaxed,
    );
    let cpuid_base = (XEN_CPUID_FIRST_LEAF..XEN_CPUID_LAST_BASE)
        .step_by(XEN_CPUID_LEAF_STRIDE as usize)
        .find(|&base| {
            let r = cpu::cpuid(base, 0);
            is_xen_signature(r.ebx, r.ecx, r.edx) && r.eax >= base + 2
        })?;
    let version = cpu::cpuid(cpuid_base + 1, 0).eax;
    let leaf2 = cpu::cpuid(cpuid_base + 2, 0);
    if leaf2.eax == 0 {
        return None;
    }
    let page = HYPERCALL_PAGE.0.get() as u64;
    // SAFETY: base+2 EBX is the hypervisor's hypercall-page MSR; the value is the guest-physical address (identity-mapped) of a page-aligned page of ours that nothing else uses.
    unsafe { cpu::wrmsr(leaf2.ebx, page) };
    PAGE_ADDR.store(page, Ordering::Relaxed);
    Some(Hypervisor {
        cpuid_base,
        version,
        msr: leaf2.ebx,
    })
}

/// Whether this CPU is AMD's (hypercalls by VMMCALL) rather than Intel's
/// (VMCALL), as [`init`] found it.
pub fn amd() -> bool {
    AMD.load(Ordering::Relaxed)
}

/// Whether hypercalls reach a hypervisor.
pub fn available() -> bool {
    PAGE_ADDR.load(Ordering::Relaxed) != 0
}

/// The hypercall page's address (0 without a hypervisor).
pub fn page_addr() -> u64 {
    PAGE_ADDR.load(Ordering::Relaxed)
}

/// Hypercall `nr` with five arguments; returns rax (negative errno on failure).
/// Numbers past the page's [`PAGE_STUBS`] stubs go through
/// [`hypercall_direct`].
///
/// # Safety
/// The arguments must be what hypercall `nr` expects; pointers among them must
/// point to memory the hypervisor may read or write as that call does.
pub unsafe fn hypercall5(nr: u64, a1: u64, a2: u64, a3: u64, a4: u64, a5: u64) -> u64 {
    let page = PAGE_ADDR.load(Ordering::Relaxed);
    if page == 0 {
        return Errno::ENOSYS.to_hypercall_ret();
    }
    if nr >= PAGE_STUBS {
        // SAFETY: the caller vouches for the arguments.
        return unsafe { hypercall_direct(nr, [a1, a2, a3, a4, a5]) };
    }
    let stub = page + nr * HYPERCALL_STUB_SIZE;
    let ret;
    // SAFETY: `stub` is inside the page the hypervisor filled (nr < 128); the stub returns with RET; every register it may change is declared.
    unsafe {
        asm!(
            "call {stub}",
            stub = in(reg) stub,
            inlateout("rax") nr => ret,
            inlateout("rdi") a1 => _,
            inlateout("rsi") a2 => _,
            inlateout("rdx") a3 => _,
            inlateout("r10") a4 => _,
            inlateout("r8") a5 => _,
            lateout("rcx") _,
            lateout("r11") _,
        );
    }
    ret
}

/// Hypercall `nr` with no argument. See [`hypercall5`].
///
/// # Safety
/// As for [`hypercall5`].
pub unsafe fn hypercall0(nr: u64) -> u64 {
    // SAFETY: as for hypercall5; the unused argument registers carry 0.
    unsafe { hypercall5(nr, 0, 0, 0, 0, 0) }
}

/// Hypercall `nr` with one argument. See [`hypercall5`].
///
/// # Safety
/// As for [`hypercall5`].
pub unsafe fn hypercall1(nr: u64, a1: u64) -> u64 {
    // SAFETY: as for hypercall5; the unused argument registers carry 0.
    unsafe { hypercall5(nr, a1, 0, 0, 0, 0) }
}

/// Hypercall `nr` with two arguments. See [`hypercall5`].
///
/// # Safety
/// As for [`hypercall5`].
pub unsafe fn hypercall2(nr: u64, a1: u64, a2: u64) -> u64 {
    // SAFETY: as for hypercall5; the unused argument registers carry 0.
    unsafe { hypercall5(nr, a1, a2, 0, 0, 0) }
}

/// Hypercall `nr` with three arguments. See [`hypercall5`].
///
/// # Safety
/// As for [`hypercall5`].
pub unsafe fn hypercall3(nr: u64, a1: u64, a2: u64, a3: u64) -> u64 {
    // SAFETY: as for hypercall5; the unused argument registers carry 0.
    unsafe { hypercall5(nr, a1, a2, a3, 0, 0) }
}

/// Hypercall `nr` with four arguments. See [`hypercall5`].
///
/// # Safety
/// As for [`hypercall5`].
pub unsafe fn hypercall4(nr: u64, a1: u64, a2: u64, a3: u64, a4: u64) -> u64 {
    // SAFETY: as for hypercall5; the unused argument registers carry 0.
    unsafe { hypercall5(nr, a1, a2, a3, a4, 0) }
}

/// Hypercall with any 64-bit `nr`, by executing VMCALL (Intel) or VMMCALL
/// (AMD) here instead of calling the hypercall page: the page has stubs for
/// numbers below [`PAGE_STUBS`] only, and each stub loads its own number into
/// eax, so this is the only way to pass a number with bits above 31. Same
/// registers as the page's stubs. Returns `-ENOSYS` without a hypervisor.
///
/// # Safety
/// As for [`hypercall5`].
pub unsafe fn hypercall_direct(nr: u64, args: [u64; 5]) -> u64 {
    if PAGE_ADDR.load(Ordering::Relaxed) == 0 {
        return Errno::ENOSYS.to_hypercall_ret();
    }
    let [a1, a2, a3, a4, a5] = args;
    let ret;
    // SAFETY: VMCALL/VMMCALL exit to the hypervisor, which returns to the next instruction with the result in rax; every register it may change is declared. Only the instruction of this CPU's vendor is executed.
    unsafe {
        if AMD.load(Ordering::Relaxed) {
            asm!(
                "vmmcall",
                inlateout("rax") nr => ret,
                inlateout("rdi") a1 => _,
                inlateout("rsi") a2 => _,
                inlateout("rdx") a3 => _,
                inlateout("r10") a4 => _,
                inlateout("r8") a5 => _,
                lateout("rcx") _,
                lateout("r11") _,
            );
        } else {
            asm!(
                "vmcall",
                inlateout("rax") nr => ret,
                inlateout("rdi") a1 => _,
                inlateout("rsi") a2 => _,
                inlateout("rdx") a3 => _,
                inlateout("r10") a4 => _,
                inlateout("r8") a5 => _,
                lateout("rcx") _,
                lateout("r11") _,
            );
        }
    }
    ret
}

/// `HYPERVISOR_console_io(CONSOLEIO_write, len, buf)`.
pub fn console_write(bytes: &[u8]) -> u64 {
    // SAFETY: CONSOLEIO_write reads `len` bytes at `buf`, which is our slice (virtual = guest-physical under the identity map).
    unsafe {
        hypercall5(
            HYPERVISOR_CONSOLE_IO,
            CONSOLEIO_WRITE,
            bytes.len() as u64,
            bytes.as_ptr() as u64,
            0,
            0,
        )
    }
}

/// `HYPERVISOR_sched_op(SCHEDOP_shutdown, &SchedShutdown { reason })`. Returns
/// only if the hypervisor did not stop this domain.
pub fn shutdown(reason: u32) -> u64 {
    let arg = SchedShutdown { reason };
    // SAFETY: SCHEDOP_shutdown reads one SchedShutdown at the pointer, which lives on our stack for the whole call.
    unsafe {
        hypercall5(
            HYPERVISOR_SCHED_OP,
            SCHEDOP_SHUTDOWN,
            &raw const arg as u64,
            0,
            0,
            0,
        )
    }
}

/// `HYPERVISOR_xen_version(XENVER_version, NULL)`: `major << 16 | minor`.
/// The cheapest hypercall there is, so also the null-hypercall benchmark.
pub fn xen_version() -> u64 {
    // SAFETY: XENVER_version takes no buffer; the argument is NULL.
    unsafe { hypercall5(HYPERVISOR_XEN_VERSION, XENVER_VERSION, 0, 0, 0, 0) }
}

/// `HYPERVISOR_sched_op(SCHEDOP_yield)`: lets another vCPU of this CPU run.
pub fn sched_yield() {
    // SAFETY: SCHEDOP_yield takes no argument.
    unsafe { hypercall2(HYPERVISOR_SCHED_OP, abi::sched::SCHEDOP_YIELD, 0) };
}
