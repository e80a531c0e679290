//! `HYPERVISOR_console_io` (xen.h): a domain's output on the hypervisor
//! console.
//!
//! | cmd | here |
//! |---|---|
//! | `CONSOLEIO_write` (0) | prints `count` bytes as `(dN)` lines, returns 0; continues once the exit's budget or console buffer is spent; a DomU's lines are rate-limited (`console::guest`) |
//! | `CONSOLEIO_read` (1) | Dom0 only (-EPERM otherwise): pending input, returns bytes read |
//! | other | -ENOSYS, as Xen |
//!
//! Keys typed on COM1 raise `VIRQ_CONSOLE` in Dom0 ([`input_arrived`]), as
//! Xen's serial receive path does for the domain that owns the console, so
//! Linux's hvc0 (`dom0_read_console`) reads them with `CONSOLEIO_read`.

use crate::bits::to_usize;
use abi::console_io::{CONSOLEIO_READ, CONSOLEIO_WRITE};
use abi::errno::Errno;

use super::{Caller, DomainOps, Outcome};

/// Bytes copied per step, so a huge `count` never needs a huge buffer; a
/// step spends one unit of the exit's budget.
const CHUNK: usize = 256;

pub fn console_io(caller: &mut impl Caller, cmd: u64, count: u64, buffer: u64) -> Outcome {
    match cmd {
        CONSOLEIO_WRITE => write(caller, count, buffer),
        // XSM's console_io hook refuses a DomU everything but writes
        // (Xen's debug builds), before looking at the command.
        _ if !caller.privileged() => Outcome::err(Errno::EPERM),
        CONSOLEIO_READ if count > i32::MAX as u64 => Outcome::err(Errno::E2BIG),
        CONSOLEIO_READ => read(caller, count, buffer),
        _ => Outcome::err(Errno::ENOSYS),
    }
}

/// Xen's `guest_console_write`: all `count` bytes, in chunks; once the
/// exit's budget is spent or its console buffer is full, the rest goes in a
/// continuation (count and buffer moved on), as Xen's preemption check.
fn write(caller: &mut impl Caller, count: u64, buffer: u64) -> Outcome {
    let mut done = 0;
    let mut chunk = [0u8; CHUNK];
    let rest = |done: u64| Outcome::Continue([CONSOLEIO_WRITE, count - done, buffer.wrapping_add(done)]);
    while done < count {
        if done > 0 && caller.budget().exhausted() {
            return rest(done);
        }
        caller.budget().spend(1);
        let n = to_usize((count - done).min(CHUNK as u64));
        let Some(gva) = buffer.checked_add(done) else { return Outcome::err(Errno::EFAULT) };
        if let Err(e) = caller.copy_from_guest(gva, &mut chunk[..n]) {
            return Outcome::err(e);
        }
        let took = caller.console_write(&chunk[..n]);
        done += took as u64;
        if took < n {
            return rest(done);
        }
    }
    Outcome::Return(0)
}

/// COM1 has input for the console's owner `d`: raises `VIRQ_CONSOLE` (a
/// global virq, on the vCPU its port is bound to) if `d` is the privileged
/// domain and bound it; a DomU is never told.
pub fn input_arrived(d: &mut dyn DomainOps) {
    // Domain 0 owns the console (Xen's default; no console switching here).
    if d.id() == 0 {
        super::event_channel::send_virq(d, 0, abi::xen::VIRQ_CONSOLE);
    }
}

fn read(caller: &mut impl Caller, count: u64, buffer: u64) -> Outcome {
    let mut chunk = [0u8; CHUNK];
    let want = to_usize(count.min(CHUNK as u64));
    // Check the buffer before taking input, so a bad pointer loses nothing.
    if want > 0
        && let Err(e) = caller.copy_to_guest(buffer, &chunk[..want])
    {
        return Outcome::err(e);
    }
    let n = caller.console_read(&mut chunk[..want]);
    match caller.copy_to_guest(buffer, &chunk[..n]) {
        Ok(()) => Outcome::Return(n as u64),
        Err(e) => Outcome::err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::super::fake::FakeCaller;
    use super::*;

    #[test]
    fn write_prints_the_guest_buffer_and_returns_zero() {
        let mut c = FakeCaller::new(1024);
        c.mem[100..105].copy_from_slice(b"hello");
        assert_eq!(console_io(&mut c, CONSOLEIO_WRITE, 5, 100), Outcome::Return(0));
        assert_eq!(c.console, b"hello");
    }

    #[test]
    fn write_from_a_bad_pointer_returns_efault() {
        let mut c = FakeCaller::new(1024);
        assert_eq!(console_io(&mut c, CONSOLEIO_WRITE, 5, 1022), Outcome::err(Errno::EFAULT));
        assert_eq!(console_io(&mut c, CONSOLEIO_WRITE, 5, u64::MAX - 1), Outcome::err(Errno::EFAULT));
    }

    #[test]
    fn a_long_write_continues_once_the_budget_is_spent() {
        let mut c = FakeCaller::new(128 * 1024);
        c.mem[..128 * 1024].iter_mut().enumerate().for_each(|(i, b)| *b = (i % 251) as u8);
        let per_exit = u64::from(super::super::Budget::PER_EXIT) * CHUNK as u64;
        let total = 100_000u64;
        assert_eq!(console_io(&mut c, CONSOLEIO_WRITE, total, 0), Outcome::Continue([CONSOLEIO_WRITE, total - per_exit, per_exit]));
        assert_eq!(c.console.len() as u64, per_exit);
        c.next_exit();
        assert_eq!(console_io(&mut c, CONSOLEIO_WRITE, total - per_exit, per_exit), Outcome::Return(0));
        assert_eq!(c.console, c.mem[..total as usize], "every byte once, in order");
    }

    #[test]
    fn a_full_console_buffer_continues_the_write_where_it_stopped() {
        let mut c = FakeCaller::new(4096);
        c.mem[..1000].fill(b'x');
        c.console_room = Some(300);
        assert_eq!(console_io(&mut c, CONSOLEIO_WRITE, 1000, 0), Outcome::Continue([CONSOLEIO_WRITE, 700, 300]));
        assert_eq!(c.console.len(), 300);
        (c.console_room, c.budget) = (None, super::super::Budget::per_exit());
        assert_eq!(console_io(&mut c, CONSOLEIO_WRITE, 700, 300), Outcome::Return(0));
        assert_eq!(c.console.len(), 1000);
    }

    #[test]
    fn read_is_dom0_only_and_returns_what_was_pending() {
        let mut c = FakeCaller::new(64);
        c.input = b"ls\n".to_vec();
        assert_eq!(console_io(&mut c, CONSOLEIO_READ, 16, 8), Outcome::Return(3));
        assert_eq!(&c.mem[8..11], b"ls\n");
        assert_eq!(console_io(&mut c, CONSOLEIO_READ, 16, 8), Outcome::Return(0));
        let mut u = FakeCaller::unprivileged(64);
        assert_eq!(console_io(&mut u, CONSOLEIO_READ, 16, 8), Outcome::err(Errno::EPERM));
    }

    #[test]
    fn read_into_a_bad_buffer_is_efault_and_keeps_the_input() {
        let mut c = FakeCaller::new(64);
        c.input = b"x".to_vec();
        assert_eq!(console_io(&mut c, CONSOLEIO_READ, 16, 60), Outcome::err(Errno::EFAULT));
        assert_eq!(c.input, b"x");
    }

    #[test]
    fn input_raises_virq_console_in_dom0_once_bound_and_never_in_a_domu() {
        use abi::event_channel::EvtchnBindVirq;
        let mut c = FakeCaller::new(64);
        input_arrived(c.dom(0));
        assert!(!c.dom(0).words.pending.iter().any(|&p| p), "not bound: nothing");
        c.put(0, &EvtchnBindVirq { virq: abi::xen::VIRQ_CONSOLE, vcpu: 0, port: 0 });
        assert_eq!(super::super::event_channel::event_channel_op(&mut c, abi::event_channel::EVTCHNOP_BIND_VIRQ, 0), Outcome::Return(0));
        let port: EvtchnBindVirq = c.get(0);
        assert_ne!(port.port, 0);
        input_arrived(c.dom(0));
        assert!(c.dom(0).words.pending[port.port as usize]);
        let domu = c.dom(1);
        let p = domu.evtchn.alloc(crate::event::channels::Binding::Virq(abi::xen::VIRQ_CONSOLE), 0, 64).unwrap();
        domu.evtchn.set_virq_port(0, abi::xen::VIRQ_CONSOLE, p);
        input_arrived(c.dom(1));
        assert!(!c.dom(1).words.pending[p as usize], "a DomU that bound it is not told");
    }

    #[test]
    fn unknown_commands_return_enosys() {
        let mut c = FakeCaller::new(16);
        assert_eq!(console_io(&mut c, 7, 0, 0), Outcome::err(Errno::ENOSYS));
    }
}
