//! Channel 2 of an 8254 PIT and its gate in port 0x61 (NMI status and
//! control), the part a PVH kernel touches: Linux calibrates the TSC
//! against channel 2 (`quick_pit_calibrate`, `pit_calibrate_tsc`) on
//! vendors with no CPUID frequency leaf. With the ports unclaimed (all
//! ones, as Xen gives a PVH domain) the counter's MSB never moves, so
//! Linux spins 50,000 reads before it gives up: 2.3 s under TCG. Counting
//! here from the guest's clock makes calibration end in one pass (about
//! 50 ms of PIT ticks), or succeed outright.
//!
//! Channels 0 and 1 are not modelled (their ports stay the null handler's).
//! Binary counting only (BCD is taken as binary); modes 0 (interrupt on
//! terminal count), 2 and 3 (periodic), and 1/4/5 counted as 0.

#![forbid(unsafe_code)]

/// Counter 2's data port, the control word port, and the port whose bit 0
/// gates counter 2 (bit 1: speaker data, bit 5: counter 2's OUT).
pub const COUNTER2: u16 = 0x42;
pub const CONTROL: u16 = 0x43;
pub const GATE_PORT: u16 = 0x61;

/// The PIT's input clock (Hz).
pub const PIT_HZ: u64 = 1_193_182;

const GATE: u8 = 1 << 0;
const SPEAKER: u8 = 1 << 1;
const OUT2: u8 = 1 << 5;

/// How counter 2's data port is read and written (control word bits 5-4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Access {
    Lsb,
    Msb,
    /// LSB, then MSB.
    Word,
}

/// Counter 2 and its gate.
#[derive(Clone, Debug)]
pub struct Pit {
    access: Access,
    mode: u8,
    /// The count written (0 counts as 65536).
    initial: u32,
    /// The LSB written while waiting for the MSB of a word.
    pending_lsb: Option<u8>,
    /// When counting began (ns of the clock passed in); None before a
    /// count is loaded or while the gate is low.
    started_ns: Option<u64>,
    /// Ticks counted before the gate last went low (mode 0 pauses).
    paused_ticks: u64,
    /// A latched count, read instead of the counter until all its bytes
    /// are (the byte order follows `read_msb_next`).
    latch: Option<u16>,
    /// A latched status byte (read-back command), read before the count.
    status: Option<u8>,
    /// The read flip-flop of LSB/MSB access: whether the last byte read
    /// was the LSB (so the MSB comes next).
    read_msb_next: bool,
    /// Port 0x61's gate and speaker bits.
    port61: u8,
    /// A count was written and has not been loaded yet (status bit 6).
    null_count: bool,
}

impl Default for Pit {
    fn default() -> Self {
        Pit {
            access: Access::Word,
            mode: 0,
            initial: 0x1_0000,
            pending_lsb: None,
            started_ns: None,
            paused_ticks: 0,
            latch: None,
            status: None,
            read_msb_next: false,
            port61: 0,
            null_count: true,
        }
    }
}

/// True for the ports this model answers.
pub fn claims(port: u16) -> bool {
    matches!(port, COUNTER2 | CONTROL | GATE_PORT)
}

impl Pit {
    /// Ticks counted since the count was loaded.
    fn ticks(&self, now_ns: u64) -> u64 {
        let running = self.started_ns.map_or(0, |t| {
            let ns = u128::from(now_ns.saturating_sub(t));
            u64::try_from(ns * u128::from(PIT_HZ) / 1_000_000_000).unwrap_or(u64::MAX)
        });
        self.paused_ticks.saturating_add(running)
    }

    /// The counting element now.
    fn count(&self, now_ns: u64) -> u16 {
        let ticks = self.ticks(now_ns);
        let initial = u64::from(self.initial);
        let value = match self.mode {
            // Periodic: reloads from the initial count (mode 3 counts by
            // twos, twice per period: the same period).
            2 | 3 => initial - ticks % initial,
            // Mode 0 and the one-shot modes keep counting down past 0.
            _ => (initial + 0x1_0000 - ticks % 0x1_0000) % 0x1_0000,
        };
        (value & 0xffff) as u16
    }

    /// Counter 2's OUT line.
    fn out(&self, now_ns: u64) -> bool {
        match self.mode {
            2 | 3 => {
                let initial = u64::from(self.initial);
                self.started_ns.is_none() || self.ticks(now_ns) % initial < initial / 2 + initial % 2
            }
            // Low from the control word until the count runs out.
            _ => !self.null_count && self.started_ns.is_some() && self.ticks(now_ns) >= u64::from(self.initial),
        }
    }

    fn gate(&self) -> bool {
        self.port61 & GATE != 0
    }

    fn load(&mut self, count: u16, now_ns: u64) {
        self.initial = if count == 0 { 0x1_0000 } else { u32::from(count) };
        self.paused_ticks = 0;
        self.null_count = false;
        self.started_ns = self.gate().then_some(now_ns);
    }

    /// A guest read of `port` (one byte; `claims(port)` holds).
    pub fn read(&mut self, port: u16, now_ns: u64) -> u8 {
        match port {
            GATE_PORT => {
                let out = if self.out(now_ns) { OUT2 } else { 0 };
                (self.port61 & (GATE | SPEAKER)) | out
            }
            COUNTER2 => {
                if let Some(status) = self.status.take() {
                    return status;
                }
                let [lo, hi] = self.latch.unwrap_or_else(|| self.count(now_ns)).to_le_bytes();
                let byte = match self.access {
                    Access::Lsb => lo,
                    Access::Msb => hi,
                    Access::Word => {
                        self.read_msb_next = !self.read_msb_next;
                        if self.read_msb_next { lo } else { hi }
                    }
                };
                if !(self.access == Access::Word && self.read_msb_next) {
                    self.latch = None;
                }
                byte
            }
            // The control port is write-only.
            _ => 0xff,
        }
    }

    /// A guest write of `value` to `port` (one byte; `claims(port)` holds).
    pub fn write(&mut self, port: u16, value: u8, now_ns: u64) {
        match port {
            GATE_PORT => {
                let was = self.gate();
                self.port61 = value & (GATE | SPEAKER);
                match (was, self.gate()) {
                    // A rising gate starts (modes 1, 2, 3, 5 restart)
                    // counting a loaded count.
                    (false, true) if !self.null_count => {
                        if matches!(self.mode, 1 | 2 | 3 | 5) {
                            self.paused_ticks = 0;
                        }
                        self.started_ns = Some(now_ns);
                    }
                    (true, false) => {
                        self.paused_ticks = self.ticks(now_ns);
                        self.started_ns = None;
                    }
                    _ => {}
                }
            }
            CONTROL => self.control(value, now_ns),
            COUNTER2 => match self.access {
                Access::Lsb => self.load(u16::from(value), now_ns),
                Access::Msb => self.load(u16::from(value) << 8, now_ns),
                Access::Word => match self.pending_lsb.take() {
                    None => self.pending_lsb = Some(value),
                    Some(lo) => self.load(u16::from_le_bytes([lo, value]), now_ns),
                },
            },
            _ => {}
        }
    }

    fn control(&mut self, value: u8, now_ns: u64) {
        let counter = value >> 6;
        if counter == 3 {
            // Read-back: bit 3 selects counter 2; bit 5 clear latches the
            // count, bit 4 clear the status.
            if value & (1 << 3) != 0 {
                if value & (1 << 4) == 0 && self.status.is_none() {
                    self.status = Some(self.status_byte(now_ns));
                }
                if value & (1 << 5) == 0 && self.latch.is_none() {
                    self.latch = Some(self.count(now_ns));
                }
            }
            return;
        }
        if counter != 2 {
            return;
        }
        let access = match (value >> 4) & 3 {
            0 => {
                // Counter latch: the first latch holds until read.
                if self.latch.is_none() {
                    self.latch = Some(self.count(now_ns));
                }
                return;
            }
            1 => Access::Lsb,
            2 => Access::Msb,
            _ => Access::Word,
        };
        self.access = access;
        self.mode = match (value >> 1) & 7 {
            6 => 2,
            7 => 3,
            m => m,
        };
        self.pending_lsb = None;
        self.latch = None;
        self.read_msb_next = false;
        self.null_count = true;
        self.started_ns = None;
        self.paused_ticks = 0;
    }

    /// The read-back status: OUT, null count, access, mode, BCD (0).
    fn status_byte(&self, now_ns: u64) -> u8 {
        let out = u8::from(self.out(now_ns)) << 7;
        let null = u8::from(self.null_count) << 6;
        let access = match self.access {
            Access::Lsb => 1,
            Access::Msb => 2,
            Access::Word => 3,
        };
        out | null | access << 4 | self.mode << 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// ns for `ticks` PIT ticks (rounded up, so `ticks()` sees them all).
    fn ns(ticks: u64) -> u64 {
        (ticks * 1_000_000_000).div_ceil(PIT_HZ)
    }

    /// Linux's quick_pit_calibrate set-up: gate high, speaker off, counter
    /// 2 in mode 0 with LSB/MSB access, count 0xffff.
    fn linux_setup(p: &mut Pit, at: u64) {
        let v = p.read(GATE_PORT, at);
        p.write(GATE_PORT, (v & !SPEAKER) | GATE, at);
        p.write(CONTROL, 0xb0, at);
        p.write(COUNTER2, 0xff, at);
        p.write(COUNTER2, 0xff, at);
    }

    fn read_word(p: &mut Pit, at: u64) -> u16 {
        let lo = p.read(COUNTER2, at);
        let hi = p.read(COUNTER2, at);
        u16::from_le_bytes([lo, hi])
    }

    #[test]
    fn mode_0_counts_down_from_the_written_count_at_the_pit_clock() {
        let mut p = Pit::default();
        linux_setup(&mut p, 1000);
        assert_eq!(read_word(&mut p, 1000), 0xffff);
        assert_eq!(read_word(&mut p, 1000 + ns(256)), 0xffff - 256);
        // quick_pit_calibrate reads only the MSB (LSB read and dropped):
        // it drops by one every 256 ticks, about 214.5 us.
        assert_eq!(read_word(&mut p, 1000 + ns(256 * 10)) >> 8, 0xff - 10);
        // 0 and wraps on.
        assert_eq!(read_word(&mut p, 1000 + ns(0xffff)), 0);
        assert_eq!(read_word(&mut p, 1000 + ns(0x1_0000)), 0xffff);
    }

    #[test]
    fn out2_in_port_61_rises_at_terminal_count_in_mode_0() {
        let mut p = Pit::default();
        p.write(GATE_PORT, GATE, 0);
        p.write(CONTROL, 0xb0, 0);
        // pit_calibrate_tsc: latch 11932 (10 ms), poll bit 5 of 0x61.
        p.write(COUNTER2, (11932 & 0xff) as u8, 0);
        p.write(COUNTER2, (11932 >> 8) as u8, 0);
        assert_eq!(p.read(GATE_PORT, ns(11931)) & OUT2, 0);
        assert_eq!(p.read(GATE_PORT, ns(11932)) & OUT2, OUT2);
        assert_eq!(p.read(GATE_PORT, ns(11932)) & (GATE | SPEAKER), GATE);
    }

    #[test]
    fn a_low_gate_holds_the_count_and_a_rising_gate_starts_it() {
        let mut p = Pit::default();
        p.write(CONTROL, 0xb0, 0);
        p.write(COUNTER2, 0x00, 0);
        p.write(COUNTER2, 0x10, 0);
        assert_eq!(read_word(&mut p, ns(100)), 0x1000, "gate low: not counting");
        let rise = 5_000_000_000; // a whole number of ticks from 0: 5 s
        p.write(GATE_PORT, GATE, rise);
        assert_eq!(read_word(&mut p, rise + ns(50)), 0x1000 - 50);
        p.write(GATE_PORT, 0, rise + ns(50));
        assert_eq!(read_word(&mut p, rise + ns(400)), 0x1000 - 50, "mode 0 pauses");
    }

    #[test]
    fn a_latched_count_is_read_until_both_bytes_are_taken() {
        let mut p = Pit::default();
        linux_setup(&mut p, 0);
        p.write(CONTROL, 0x80, ns(10)); // counter 2 latch
        assert_eq!(read_word(&mut p, ns(500)), 0xffff - 10);
        assert_eq!(read_word(&mut p, ns(500)), 0xffff - 500, "the latch is gone");
    }

    #[test]
    fn read_back_latches_status_then_count() {
        let mut p = Pit::default();
        linux_setup(&mut p, 0);
        // Read-back, counter 2, count and status.
        p.write(CONTROL, 0xc8, ns(5));
        let status = p.read(COUNTER2, ns(9));
        assert_eq!(status, 0x30, "OUT low, count loaded, LSB/MSB, mode 0");
        assert_eq!(read_word(&mut p, ns(9)), 0xffff - 5);
    }

    #[test]
    fn periodic_modes_reload_from_the_initial_count() {
        let mut p = Pit::default();
        p.write(GATE_PORT, GATE, 0);
        p.write(CONTROL, 0xb4, 0); // mode 2
        p.write(COUNTER2, 100, 0);
        p.write(COUNTER2, 0, 0);
        assert_eq!(read_word(&mut p, ns(30)), 70);
        assert_eq!(read_word(&mut p, ns(130)), 70);
    }

    #[test]
    fn lsb_only_and_msb_only_access() {
        let mut p = Pit::default();
        p.write(GATE_PORT, GATE, 0);
        p.write(CONTROL, 0x90, 0); // LSB only, mode 0
        p.write(COUNTER2, 0x80, 0);
        assert_eq!(p.read(COUNTER2, ns(0x10)), 0x70);
        p.write(CONTROL, 0xa0, 0); // MSB only
        p.write(COUNTER2, 0x12, 0);
        assert_eq!(p.read(COUNTER2, ns(0x100)), 0x11);
    }

    #[test]
    fn only_counter_2_its_control_and_the_gate_are_claimed() {
        assert!(claims(0x42) && claims(0x43) && claims(0x61));
        assert!(!claims(0x40) && !claims(0x41) && !claims(0x60));
        // Control words for counters 0 and 1 change nothing here.
        let mut p = Pit::default();
        linux_setup(&mut p, 0);
        p.write(CONTROL, 0x34, 0);
        assert_eq!(read_word(&mut p, ns(1)), 0xfffe);
    }
}
