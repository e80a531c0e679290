//! The console ring: the last bytes the hypervisor console printed (its
//! log lines and the guests' console lines), for Dom0's `xl dmesg`
//! (XEN_SYSCTL_readconsole). Indexes count bytes ever written, wrapping at
//! 2^32, as Xen's `conringp` / `conringc` do.

pub const RING_SIZE: usize = 16 * 1024;

pub struct Ring {
    bytes: [u8; RING_SIZE],
    /// Index of the next byte to write.
    producer: u32,
    /// Oldest index a reader sees (moved up by a clearing read).
    consumer: u32,
}

impl Ring {
    pub const fn new() -> Ring {
        Ring { bytes: [0; RING_SIZE], producer: 0, consumer: 0 }
    }

    pub fn push(&mut self, data: &[u8]) {
        for &b in data {
            self.bytes[self.producer as usize % RING_SIZE] = b;
            self.producer = self.producer.wrapping_add(1);
        }
    }

    /// Up to `max` bytes from `from` (or the oldest kept), as Xen's
    /// `read_console_ring`: the bytes and the index after them. `clear`
    /// forgets everything written so far.
    pub fn read(&mut self, from: Option<u32>, max: usize, clear: bool) -> (alloc::vec::Vec<u8>, u32) {
        let oldest = if self.producer.wrapping_sub(self.consumer) as usize > RING_SIZE {
            self.producer.wrapping_sub(crate::bits::low32_usize(RING_SIZE))
        } else {
            self.consumer
        };
        // An index ahead of the oldest (in wrapping terms) is where to start.
        let mut c = match from {
            Some(i) if i.wrapping_sub(oldest).cast_signed() > 0 && self.producer.wrapping_sub(i).cast_signed() >= 0 => i,
            _ => oldest,
        };
        let mut out = alloc::vec::Vec::new();
        while c != self.producer && out.len() < max {
            out.push(self.bytes[c as usize % RING_SIZE]);
            c = c.wrapping_add(1);
        }
        if clear {
            self.consumer = self.producer;
        }
        (out, c)
    }
}

impl Default for Ring {
    fn default() -> Self {
        Ring::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_was_written_from_an_index() {
        let mut r = Ring::new();
        r.push(b"hello ");
        r.push(b"world");
        assert_eq!(r.read(None, 100, false), (b"hello world".to_vec(), 11));
        assert_eq!(r.read(Some(6), 100, false), (b"world".to_vec(), 11));
        assert_eq!(r.read(None, 3, false), (b"hel".to_vec(), 3));
        assert_eq!(r.read(Some(11), 100, false).0, b"");
    }

    #[test]
    fn keeps_only_the_last_ring_size_bytes_and_clears() {
        let mut r = Ring::new();
        for i in 0..RING_SIZE + 10 {
            r.push(&[(i % 251) as u8]);
        }
        let (data, next) = r.read(None, usize::MAX, false);
        assert_eq!(data.len(), RING_SIZE);
        assert_eq!(data[0], (10 % 251) as u8);
        assert_eq!(next as usize, RING_SIZE + 10);
        assert_eq!(r.read(None, 1, true).0.len(), 1);
        r.push(b"new");
        assert_eq!(r.read(None, 100, false).0, b"new", "a clearing read forgets the older bytes");
    }
}
