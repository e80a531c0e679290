//! COM1, the hypervisor's console, through `uart_16550`.

use spin::Mutex;
use uart_16550::Uart16550;
use uart_16550::backend::PioBackend;

/// Legacy I/O base of COM1.
const COM1: u16 = 0x3f8;

static PORT: Mutex<Option<Uart16550<PioBackend>>> = Mutex::new(None);

/// Programs COM1 (115200 8N1, FIFO on). Until then output is dropped.
pub fn init() {
    // SAFETY: COM1's eight ports belong to the hypervisor (Dom0 gets COM2).
    let Ok(mut uart) = (unsafe { Uart16550::new_port(COM1) }) else { return };
    if uart.init(uart_16550::Config::default()).is_ok() {
        *PORT.lock() = Some(uart);
    }
}

#[cfg(target_os = "none")]
pub fn write_bytes(bytes: &[u8]) {
    if let Some(uart) = PORT.lock().as_mut() {
        uart.send_bytes_exact(bytes);
    }
}

/// Host tests print to stderr instead.
#[cfg(not(target_os = "none"))]
pub fn write_bytes(bytes: &[u8]) {
    extern crate std;
    std::eprint!("{}", alloc::string::String::from_utf8_lossy(bytes));
}

/// Writes bytes only if the port lock is free at once; false if it was held
/// (for NMI context, where the holder may be the interrupted code itself).
#[cfg(target_os = "none")]
pub fn try_write_bytes(bytes: &[u8]) -> bool {
    let Some(mut port) = PORT.try_lock() else { return false };
    if let Some(uart) = port.as_mut() {
        uart.send_bytes_exact(bytes);
    }
    true
}

#[cfg(not(target_os = "none"))]
pub fn try_write_bytes(bytes: &[u8]) -> bool {
    write_bytes(bytes);
    true
}

/// Reads the bytes COM1 has received, without waiting.
pub fn read_pending(buf: &mut [u8]) -> usize {
    let mut port = PORT.lock();
    let Some(uart) = port.as_mut() else { return 0 };
    let mut n = 0;
    while n < buf.len() {
        match uart.try_receive_byte() {
            Ok(b) => {
                buf[n] = b;
                n += 1;
            }
            Err(_) => break,
        }
    }
    n
}

/// Whether COM1 has received a byte not read yet (line status bit 0, data
/// ready), without taking it; false while another CPU holds the port.
#[cfg(target_os = "none")]
pub fn input_pending() -> bool {
    let Some(port) = PORT.try_lock() else { return false };
    if port.is_none() {
        return false;
    }
    let mut lsr = x86_64::instructions::port::Port::<u8>::new(COM1 + 5);
    // SAFETY: COM1 is the hypervisor's and its lock is held; reading the line
    // status register only clears its error bits, which nothing here uses.
    (unsafe { lsr.read() }) & 1 != 0
}

/// Host tests have no COM1.
#[cfg(not(target_os = "none"))]
pub fn input_pending() -> bool {
    false
}

/// Waits (bounded) until the UART has sent every byte, so a line written
/// right before the emulator exits is not lost in its transmitter.
pub fn drain() {
    // Line status register, bit 6: transmitter empty (16550 datasheet).
    let mut lsr = x86_64::instructions::port::Port::<u8>::new(COM1 + 5);
    for _ in 0..1_000_000 {
        // SAFETY: reading COM1's line status register has no side effects.
        if unsafe { lsr.read() } & 0x40 != 0 {
            return;
        }
        core::hint::spin_loop();
    }
}

/// Writes bytes even if another CPU holds the port lock (panic path only).
pub fn write_bytes_forced(bytes: &[u8]) {
    if PORT.is_locked() {
        // SAFETY: only called on the panic path after the other CPUs were stopped; a line may be cut short, but the port state stays valid.
        unsafe { PORT.force_unlock() };
    }
    write_bytes(bytes);
}
