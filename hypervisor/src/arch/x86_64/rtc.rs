//! The CMOS real-time clock, read once at boot for the guests' wallclock.

use x86_64::instructions::port::Port;

fn read_register(reg: u8) -> u8 {
    // SAFETY: ports 0x70/0x71 are the CMOS index/data pair; the hypervisor reads them at boot, before Dom0 (which owns them afterwards) runs.
    unsafe {
        Port::<u8>::new(0x70).write(reg);
        Port::<u8>::new(0x71).read()
    }
}

/// Seconds since 1970-01-01 00:00 UTC, from the RTC (assumed to run in UTC).
pub fn unix_time() -> u64 {
    // Wait (bounded) for an update not to be in progress (status A bit 7).
    for _ in 0..100_000 {
        if read_register(0x0a) & 0x80 == 0 {
            break;
        }
        core::hint::spin_loop();
    }
    let status_b = read_register(0x0b);
    let bcd = status_b & 0x04 == 0;
    let decode = |v: u8| if bcd { (v & 0x0f) + (v >> 4) * 10 } else { v };
    let second = decode(read_register(0x00));
    let minute = decode(read_register(0x02));
    let hour_raw = read_register(0x04);
    let pm = hour_raw & 0x80 != 0;
    let mut hour = decode(hour_raw & 0x7f);
    if status_b & 0x02 == 0 && pm {
        hour = (hour % 12) + 12;
    }
    let day = decode(read_register(0x07));
    let month = decode(read_register(0x08));
    let year = 2000 + u64::from(decode(read_register(0x09)));
    crate::platform::days_from_civil(year, month, day) * 86_400
        + u64::from(hour) * 3600
        + u64::from(minute) * 60
        + u64::from(second)
}
