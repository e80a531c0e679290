//! IPIs a vCPU's LAPIC sends to the other vCPUs of its domain (Xen's
//! `vlapic_ipi`): fixed vectors are posted to the target's signals and its
//! CPU is interrupted; INIT puts a vCPU that is not up in wait-for-SIPI,
//! and the start-up IPI after it starts that vCPU in real mode at the
//! vector's page (`vlapic_init_sipi_one`), the way Linux brings up its APs.

use crate::arch::x86_64::virt::exit::StartMode;
use crate::dev::vlapic::{ApicAddress, IpiAction, RemoteIpi};
use crate::domain::object::{Domain, VcpuContext};
use crate::log::Level;

/// What became of an IPI at one vCPU, for the sender's log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delivered {
    Posted,
    /// Waits for a start-up IPI now.
    Init,
    /// Starts in real mode at `vector << 12`.
    Started,
    /// Not modelled or not applicable (INIT of a vCPU that runs, a SIPI
    /// without INIT before it, NMI): nothing happened.
    Ignored(&'static str),
}

/// Delivers `ipi` from vCPU `from` to every other vCPU of `domain` it
/// reaches; returns what happened at each, by vCPU id. Runs under the
/// domain table's lock: the kicks it defers go out when that is released.
pub fn send(domain: &mut Domain, from: u32, ipi: RemoteIpi) -> alloc::vec::Vec<(u32, Delivered)> {
    let action = ipi.action();
    let mut done = alloc::vec::Vec::new();
    let mut started = false;
    for (id, v) in (0u32..).zip(domain.vcpus.iter_mut()) {
        if id == from || !ipi.reaches(&ApicAddress::unpack(id, v.signals.apic_address())) {
            continue;
        }
        let result = match action {
            IpiAction::Fixed(vector) | IpiAction::LowestPriority(vector) => {
                v.signals.post_ipi(vector);
                if let Some(cpu) = v.running_on {
                    crate::sched::kick::defer(cpu);
                }
                Delivered::Posted
            }
            IpiAction::Init if v.up => Delivered::Ignored("INIT of a vCPU that is up"),
            IpiAction::Init => {
                v.awaiting_sipi = true;
                Delivered::Init
            }
            IpiAction::Startup(vector) if !v.up && v.awaiting_sipi => {
                let context = VcpuContext { mode: StartMode::Real { segment: u16::from(vector) << 8 }, ..VcpuContext::default() };
                (v.context, v.up, v.awaiting_sipi) = (Some(context), true, false);
                started = true;
                Delivered::Started
            }
            // Linux sends two; the second finds the vCPU up.
            IpiAction::Startup(_) => Delivered::Ignored("start-up IPI without INIT before it"),
            IpiAction::Nmi => Delivered::Ignored("NMI IPI"),
            IpiAction::None => continue,
        };
        done.push((id, result));
        if matches!(action, IpiAction::LowestPriority(_)) {
            break;
        }
    }
    if started {
        domain.queue_runnable();
    }
    done
}

/// The log level of what an IPI did: starting a vCPU is worth a line.
pub fn level(d: Delivered) -> Level {
    match d {
        Delivered::Started => Level::Info,
        Delivered::Ignored(_) => Level::Debug,
        Delivered::Posted | Delivered::Init => Level::Trace,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mm::p2m::Format;
    use crate::mm::testing;

    fn ipi(icr: u32, dest: u32) -> RemoteIpi {
        RemoteIpi { icr, dest }
    }

    #[test]
    fn init_then_startup_starts_a_down_vcpu_in_real_mode_once() {
        let _frames = testing::frames();
        let mut d = Domain::new(1, false, Format::Npt, 3).expect("domain");
        d.vcpus[0].up = true;
        assert_eq!(send(&mut d, 0, ipi(0x0699, 1)), [(1, Delivered::Ignored("start-up IPI without INIT before it"))]);
        assert_eq!(send(&mut d, 0, ipi(0xc500, 1)), [(1, Delivered::Init)]);
        assert_eq!(send(&mut d, 0, ipi(0x8500, 1)), [], "INIT de-assert does nothing");
        assert_eq!(send(&mut d, 0, ipi(0x0699, 1)), [(1, Delivered::Started)]);
        let v = &d.vcpus[1];
        assert!(v.up && !v.awaiting_sipi);
        assert_eq!(v.context.map(|c| (c.mode, c.regs.rip)), Some((StartMode::Real { segment: 0x9900 }, 0)));
        assert_eq!(send(&mut d, 0, ipi(0x0699, 1)), [(1, Delivered::Ignored("start-up IPI without INIT before it"))], "Linux's second SIPI");
        assert_eq!(send(&mut d, 0, ipi(0xc500, 1)), [(1, Delivered::Ignored("INIT of a vCPU that is up"))]);
        assert!(!d.vcpus[2].up, "vCPU 2 was never addressed");
        d.destroy();
    }

    #[test]
    fn fixed_ipis_are_posted_to_every_vcpu_reached_but_the_sender() {
        let _frames = testing::frames();
        let mut d = Domain::new(1, false, Format::Npt, 3).expect("domain");
        assert_eq!(send(&mut d, 1, ipi(0x000c_0041, 0)), [(0, Delivered::Posted), (2, Delivered::Posted)], "all excluding self");
        assert_eq!(send(&mut d, 0, ipi(0x0000_0142, 0xff)), [(1, Delivered::Posted)], "lowest priority: one of them");
        let taken = |d: &Domain, i: usize| {
            let mut got = alloc::vec::Vec::new();
            d.vcpus[i].signals.take_ipis(|v| got.push(v));
            got
        };
        assert_eq!((taken(&d, 0), taken(&d, 1), taken(&d, 2)), (alloc::vec![0x41], alloc::vec![0x42], alloc::vec![0x41]));
        assert_eq!(send(&mut d, 0, ipi(0x0000_0443, 2)), [(2, Delivered::Ignored("NMI IPI"))]);
        d.destroy();
    }
}
