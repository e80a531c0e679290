//! The hostile guest's plain logic, tested on the host: which checks the
//! command line selects (`only=N,M` runs those alone, `skip=N,M` leaves
//! those out; numbers are issue 9's defect numbers).
#![cfg_attr(not(test), no_std)]

/// Which checks run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Selection {
    only: u32,
    skip: u32,
}

impl Selection {
    /// From the kernel command line's `only=` and `skip=` (comma-separated
    /// numbers 1..=31; anything else in the lists is ignored).
    pub fn parse(cmdline: &str) -> Selection {
        let mut s = Selection { only: 0, skip: 0 };
        for word in cmdline.split_ascii_whitespace() {
            if let Some(list) = word.strip_prefix("only=") {
                s.only |= bits(list);
            } else if let Some(list) = word.strip_prefix("skip=") {
                s.skip |= bits(list);
            }
        }
        s
    }

    /// Whether check `n` runs.
    pub fn wants(self, n: u32) -> bool {
        let bit = 1u32.checked_shl(n).unwrap_or(0);
        (self.only == 0 || self.only & bit != 0) && self.skip & bit == 0
    }
}

fn bits(list: &str) -> u32 {
    list.split(',')
        .filter_map(|n| n.parse::<u32>().ok())
        .filter(|&n| (1..32).contains(&n))
        .fold(0, |acc, n| acc | (1 << n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn everything_by_default() {
        let s = Selection::parse("quiet");
        assert!((1..=11).all(|n| s.wants(n)));
    }

    #[test]
    fn only_and_skip() {
        let s = Selection::parse("only=10,2");
        assert!(s.wants(10) && s.wants(2) && !s.wants(1) && !s.wants(3));
        let s = Selection::parse("skip=1,3,5");
        assert!(!s.wants(1) && !s.wants(3) && !s.wants(5) && s.wants(2) && s.wants(11));
        let s = Selection::parse("only=1,3 skip=3");
        assert!(s.wants(1) && !s.wants(3));
        assert!(Selection::parse("only=x,99").wants(4), "nothing valid named: everything");
    }
}
