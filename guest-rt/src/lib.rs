//! The PVH guest runtime: what every test kernel of ours needs to run as a
//! Xen PVH guest (Dom0 or DomU), so that each kernel is a small `main`.
//!
//! - `entry`: the `XEN_ELFNOTE_PHYS32_ENTRY` note and the 32-bit entry stub,
//!   which identity-maps the first 4 GiB and enters long mode;
//! - [`hypercall`]: finding the hypervisor by CPUID, installing the hypercall
//!   page, `hypercall0..5` (64-bit convention) and direct VMCALL/VMMCALL;
//! - [`compat`]: hypercalls from a 32-bit compatibility-mode segment;
//! - [`console`] and [`println!`]: one line per `console_io` write, COM1 when
//!   there is no hypervisor;
//! - [`start_info`]: the `hvm_start_info`, its command line and memory map;
//! - [`pvconsole`]: Xen's PV console ring, the guest's side (a DomU's
//!   lines go there too) and the backend's (Dom0's `console` command);
//! - [`paging`]: page 0 left unmapped (NULL faults), text and rodata
//!   read-only, one more 2 MiB page
//!   above 4 GiB, a 2 MiB page below it made read-only or absent;
//! - [`traps`]: only for kernels that call it, an IDT that records and
//!   skips expected faults, user segments and a TSS, and running code
//!   (a hypercall among it) at CPL 3;
//! - [`xenstore`] (feature `xenstore`): the store ring over a mapped page
//!   for Dom0's xenstored, and a DomU's client; with it [`heap`], the
//!   global allocator, fed an arena by the kernel that allocates;
//! - a panic handler that prints `<name>: panic: ...` and shuts down with
//!   `SHUTDOWN_crash`.
//!
//! A kernel names itself and its `main` with [`entry!`], and links with the
//! shared `linker.ld`: its build script passes `-T` with the path cargo gives
//! it in `DEP_GUEST_RT_LINKER_SCRIPT`. When `main` returns, the runtime powers
//! the domain off. [`cmdline`], [`ring`] and [`rng`] are plain logic, tested
//! on the host.
#![cfg_attr(not(test), no_std)]

pub mod cmdline;
pub mod ring;
pub mod rng;

#[cfg(target_os = "none")]
#[macro_use]
pub mod console;
#[cfg(target_os = "none")]
pub mod compat;
#[cfg(target_os = "none")]
pub mod cpu;
#[cfg(target_os = "none")]
pub mod entry;
#[cfg(target_os = "none")]
pub mod hypercall;
#[cfg(target_os = "none")]
pub mod paging;
#[cfg(target_os = "none")]
pub mod pvconsole;
#[cfg(target_os = "none")]
pub mod smp;
#[cfg(target_os = "none")]
pub mod start_info;
#[cfg(target_os = "none")]
pub mod timer;
#[cfg(target_os = "none")]
pub mod traps;
#[cfg(all(target_os = "none", feature = "xenstore"))]
pub mod xenstore;
#[cfg(all(target_os = "none", feature = "xenstore"))]
pub mod heap;

#[cfg(feature = "xenstore")]
extern crate alloc;

#[cfg(target_os = "none")]
pub use kernel::*;

#[cfg(target_os = "none")]
mod kernel {
    use abi::sched::{SHUTDOWN_CRASH, SHUTDOWN_POWEROFF};

    use crate::cpu;
    use crate::hypercall::{self, Hypervisor};
    use crate::start_info::StartInfo;

    /// A kernel built on the runtime, as [`crate::entry!`] declares it.
    pub struct Kernel {
        /// Prefix of the runtime's own lines (`"dom0"` gives `dom0: panic: ...`).
        pub name: &'static str,
        /// Runs once the hypercall page and start info are set up; the domain
        /// is powered off when it returns.
        pub main: fn(&Boot),
    }

    /// What the runtime found at boot.
    pub struct Boot {
        /// Guest-physical address of the `hvm_start_info` (from `%ebx`).
        pub start_info_paddr: u64,
        /// The hypervisor, if CPUID shows a Xen-compatible one.
        pub hv: Option<Hypervisor>,
        /// The start info, command line and memory map.
        pub si: StartInfo,
    }

    unsafe extern "Rust" {
        /// Defined by [`crate::entry!`] in the kernel crate.
        static GUEST_RT_KERNEL: Kernel;
    }

    fn kernel() -> &'static Kernel {
        // SAFETY: entry! defines the static (the link fails without it); it is immutable.
        unsafe { &GUEST_RT_KERNEL }
    }

    /// The kernel's name as given to [`crate::entry!`].
    pub fn name() -> &'static str {
        kernel().name
    }

    /// 64-bit entry, called by the entry stub on the boot stack.
    pub(crate) extern "C" fn rust_entry(start_info_paddr: u64) -> ! {
        crate::paging::unmap_null_page();
        crate::paging::protect_image();
        let hv = hypercall::init();
        let si = match StartInfo::read(start_info_paddr) {
            Ok(si) => si,
            Err(e) => {
                println!(
                    "{}: unusable start_info at {start_info_paddr:#x}: {e}",
                    name()
                );
                shutdown(SHUTDOWN_CRASH);
            }
        };
        // A DomU (not the initial domain) prints to its PV console too.
        if hv.is_some() && si.info.flags & abi::xen::SIF_INITDOMAIN == 0 {
            crate::pvconsole::init();
        }
        (kernel().main)(&Boot {
            start_info_paddr,
            hv,
            si,
        });
        shutdown(SHUTDOWN_POWEROFF);
    }

    /// Asks the hypervisor to shut this domain down with `reason`
    /// (`SHUTDOWN_*`); if that returns, says so and halts.
    pub fn shutdown(reason: u32) -> ! {
        hypercall::shutdown(reason);
        println!("{}: shutdown returned", name());
        cpu::halt_forever();
    }

    #[panic_handler]
    fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
        println!("{}: panic: {info}", name());
        shutdown(SHUTDOWN_CRASH);
    }
}

/// Declares the kernel: its name (the prefix of the runtime's lines) and its
/// `main: fn(&guest_rt::Boot)`. Expands to nothing on the host, where the
/// crate has its own `fn main`.
///
/// ```ignore
/// guest_rt::entry!("dom0", kmain);
/// fn kmain(boot: &guest_rt::Boot) { ... }
/// ```
#[macro_export]
macro_rules! entry {
    ($name:expr, $main:path) => {
        #[cfg(target_os = "none")]
        #[unsafe(no_mangle)]
        static GUEST_RT_KERNEL: $crate::Kernel = $crate::Kernel {
            name: $name,
            main: $main,
        };
    };
}
