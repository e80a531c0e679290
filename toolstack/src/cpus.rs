//! `cpus=` affinity: xl's CPULIST syntax (`"all"`, `"0-3,5,^1"`) turned
//! into a bitmask of physical CPUs.
//!
//! As in xl (`parse_cpurange`), comma-separated items apply left to right:
//! `N` or `N-M` adds CPUs, `^N` / `^N-M` removes them, `all` adds every
//! CPU (`^all` is an error). So `"0-3,^2"` is {0,1,3} but `"^2,0-3"` is
//! {0,1,2,3}.
//!
//! Limits of ours: masks hold 64 CPUs (0-63; a larger CPU number is an
//! error, and `all` means those 64); xl's NUMA forms `node:N` / `nodes:N-M`
//! are rejected (a config parser does not know the host's topology); an
//! affinity that ends up empty is an error.

use alloc::format;
use alloc::string::String;
use core::fmt;

/// The number of physical CPUs a [`CpuMask`] can name.
pub const MAX_CPUS: u32 = 64;

/// A set of physical CPUs, bit N = CPU N.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub struct CpuMask(pub u64);

impl CpuMask {
    /// Every CPU the mask can name (what `"all"` means).
    pub const ALL: CpuMask = CpuMask(u64::MAX);

    pub fn contains(self, cpu: u32) -> bool {
        cpu < MAX_CPUS && self.0 & (1 << cpu) != 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
}

impl fmt::Debug for CpuMask {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CpuMask({:#x})", self.0)
    }
}

/// Parses one CPULIST string. The error is the message for the `cpus` key.
pub fn parse_cpulist(s: &str) -> Result<CpuMask, String> {
    let mut mask = 0u64;
    for item in s.split(',') {
        let (remove, body) = match item.strip_prefix('^') {
            Some(rest) => (true, rest),
            None => (false, item),
        };
        if body.starts_with("node:") || body.starts_with("nodes:") {
            return Err(format!("{item:?}: NUMA node affinity is not supported"));
        }
        let bits = if body == "all" {
            if remove {
                return Err("\"^all\" is not allowed".into());
            }
            u64::MAX
        } else {
            let (first, last) = range(body)
                .ok_or_else(|| format!("{item:?} is not a CPU or a CPU range (like 2 or 0-3)"))?;
            if last >= MAX_CPUS {
                return Err(format!(
                    "CPU {last} is out of range (at most {MAX_CPUS} CPUs, 0-{})",
                    MAX_CPUS - 1
                ));
            }
            // first <= last < 64: the shifts stay in range.
            (u64::MAX >> (MAX_CPUS - 1 - (last - first))) << first
        };
        if remove {
            mask &= !bits;
        } else {
            mask |= bits;
        }
    }
    if mask == 0 {
        return Err(format!("{s:?} leaves no CPU to run on"));
    }
    Ok(CpuMask(mask))
}

/// `N` or `N-M` (N <= M), decimal.
fn range(s: &str) -> Option<(u32, u32)> {
    let num = |t: &str| {
        if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        t.parse::<u32>().ok()
    };
    match s.split_once('-') {
        None => num(s).map(|n| (n, n)),
        Some((a, b)) => {
            let (a, b) = (num(a)?, num(b)?);
            (a <= b).then_some((a, b))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> u64 {
        parse_cpulist(s).unwrap_or_else(|e| panic!("{s}: {e}")).0
    }

    #[test]
    fn ranges_and_exclusions_apply_in_order() {
        assert_eq!(ok("0"), 0b1);
        assert_eq!(ok("0-3"), 0b1111);
        assert_eq!(ok("0-3,^2"), 0b1011);
        assert_eq!(ok("^2,0-3"), 0b1111);
        assert_eq!(ok("1,5"), 0b10_0010);
        assert_eq!(ok("63"), 1 << 63);
        assert_eq!(ok("0-63"), u64::MAX);
        assert_eq!(ok("all"), u64::MAX);
        assert_eq!(ok("all,^0"), u64::MAX - 1);
        assert_eq!(ok("2-2"), 0b100);
    }

    #[test]
    fn contains() {
        let m = CpuMask(ok("0-3,^2"));
        assert!(m.contains(0) && m.contains(3) && !m.contains(2) && !m.contains(64));
    }

    #[test]
    fn rejects() {
        let err = |s: &str| parse_cpulist(s).unwrap_err();
        assert_eq!(err("64"), "CPU 64 is out of range (at most 64 CPUs, 0-63)");
        assert_eq!(
            err("3-1"),
            "\"3-1\" is not a CPU or a CPU range (like 2 or 0-3)"
        );
        assert_eq!(err(""), "\"\" is not a CPU or a CPU range (like 2 or 0-3)");
        assert_eq!(
            err("0,,1"),
            "\"\" is not a CPU or a CPU range (like 2 or 0-3)"
        );
        assert_eq!(
            err("-1"),
            "\"-1\" is not a CPU or a CPU range (like 2 or 0-3)"
        );
        assert_eq!(
            err("+1"),
            "\"+1\" is not a CPU or a CPU range (like 2 or 0-3)"
        );
        assert_eq!(err("^all"), "\"^all\" is not allowed");
        assert_eq!(
            err("nodes:0"),
            "\"nodes:0\": NUMA node affinity is not supported"
        );
        assert_eq!(err("0,^0"), "\"0,^0\" leaves no CPU to run on");
        assert_eq!(
            err("99999999999"),
            "\"99999999999\" is not a CPU or a CPU range (like 2 or 0-3)"
        );
    }
}
