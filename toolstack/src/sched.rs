//! The scheduling verbs' text: `xl vcpu-list`'s and `xl sched-credit2`'s
//! tables, xl's CPU-set spelling (`print_bitmap`), and `xl vcpu-pin`'s
//! arguments.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write;

use crate::cpus::{CpuMask, MAX_CPUS, parse_cpulist};

/// `xl vcpu-list`'s header line (no newline).
pub const VCPU_LIST_HEADER: &str =
    "Name                                ID  VCPU   CPU State   Time(s) Affinity (Hard / Soft)";

/// `xl sched-credit2`'s header line (no newline).
pub const CREDIT2_HEADER: &str = "Name                                ID Weight  Cap";

/// The CPUs of `mask` among the first `nr_cpus`, as xl prints them:
/// `all`, `none`, or ranges (`0-2,5`).
pub fn format_cpus(mask: u64, nr_cpus: u32) -> String {
    let n = nr_cpus.min(MAX_CPUS);
    let online = if n >= MAX_CPUS { u64::MAX } else { (1u64 << n) - 1 };
    let mask = mask & online;
    if mask == online {
        return "all".into();
    }
    if mask == 0 {
        return "none".into();
    }
    let mut parts: Vec<String> = Vec::new();
    let mut cpu = 0;
    while cpu < n {
        if mask & (1 << cpu) == 0 {
            cpu += 1;
            continue;
        }
        let first = cpu;
        while cpu + 1 < n && mask & (1 << (cpu + 1)) != 0 {
            cpu += 1;
        }
        parts.push(if first == cpu { format!("{first}") } else { format!("{first}-{cpu}") });
        cpu += 1;
    }
    parts.join(",")
}

/// One vCPU as `xl vcpu-list` shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VcpuRow<'a> {
    pub name: &'a str,
    pub domid: u16,
    pub vcpu: u32,
    pub online: bool,
    pub running: bool,
    pub blocked: bool,
    pub cpu: u32,
    pub cpu_time_ns: u64,
    pub hard: u64,
    pub soft: u64,
}

/// Appends one `xl vcpu-list` row (with its newline): an offline vCPU
/// shows `-` for its CPU and `--p` as its state.
pub fn write_vcpu_row(out: &mut String, r: &VcpuRow<'_>, nr_cpus: u32) {
    // As xl's printf: no space between the VCPU and CPU columns (the
    // header has one), so the numbers sit under the header's right edges
    // one place to the left. Mirrors xl's `(float)vcpu_time / 1e9`.
    #[allow(clippy::cast_precision_loss)]
    let seconds = f64::from(r.cpu_time_ns as f32) / 1e9;
    let (cpu, state) = if r.online {
        let state = format!("{}{}-", if r.running { 'r' } else { '-' }, if r.blocked { 'b' } else { '-' });
        (format!("{}", r.cpu), state)
    } else {
        ("-".into(), "--p".into())
    };
    // Writing to a String cannot fail.
    let _ = writeln!(
        out,
        "{:<32} {:5} {:5}{cpu:>5} {state:>5} {seconds:9.1}  {} / {}",
        r.name,
        r.domid,
        r.vcpu,
        format_cpus(r.hard, nr_cpus),
        format_cpus(r.soft, nr_cpus)
    );
}

/// The whole `xl vcpu-list` table, header first.
pub fn format_vcpu_list(rows: &[VcpuRow<'_>], nr_cpus: u32) -> String {
    let mut out = String::from(VCPU_LIST_HEADER);
    out.push('\n');
    for r in rows {
        write_vcpu_row(&mut out, r, nr_cpus);
    }
    out
}

/// One domain as `xl sched-credit2` shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Credit2Row<'a> {
    pub name: &'a str,
    pub domid: u16,
    pub weight: u16,
    pub cap: u16,
}

/// `xl sched-credit2`: the pool's rate limit line (when known), the header,
/// a row per domain.
pub fn format_credit2(ratelimit_us: Option<u32>, rows: &[Credit2Row<'_>]) -> String {
    let mut out = String::new();
    match ratelimit_us {
        Some(0) => out.push_str("Cpupool Pool-0: ratelimit=disabled\n"),
        Some(us) => {
            let _ = writeln!(out, "Cpupool Pool-0: ratelimit={us}us");
        }
        None => {}
    }
    out.push_str(CREDIT2_HEADER);
    out.push('\n');
    for r in rows {
        let _ = writeln!(out, "{:<33} {:4} {:6} {:4}", r.name, r.domid, r.weight, r.cap);
    }
    out
}

/// Which vCPUs `xl vcpu-pin` changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Vcpus {
    All,
    One(u32),
}

/// `xl vcpu-pin DOMAIN VCPU|all HARD [SOFT]` after the domain: the vCPUs,
/// the hard affinity (`-`: unchanged) and the soft one (absent or `-`:
/// unchanged). At least one must change.
pub fn parse_vcpu_pin(vcpu: &str, hard: &str, soft: Option<&str>) -> Result<(Vcpus, Option<CpuMask>, Option<CpuMask>), String> {
    let vcpus = if vcpu == "all" {
        Vcpus::All
    } else {
        Vcpus::One(vcpu.parse().map_err(|_| format!("{vcpu:?} is not a vCPU number or `all`"))?)
    };
    let mask = |s: &str| if s == "-" { Ok(None) } else { parse_cpulist(s).map(Some) };
    let hard = mask(hard)?;
    let soft = match soft {
        Some(s) => mask(s)?,
        None => None,
    };
    if hard.is_none() && soft.is_none() {
        return Err("nothing to pin: give a hard or a soft affinity".into());
    }
    Ok((vcpus, hard, soft))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpus_as_xl_prints_them() {
        assert_eq!(format_cpus(u64::MAX, 4), "all");
        assert_eq!(format_cpus(0b1111, 4), "all");
        assert_eq!(format_cpus(0, 4), "none");
        assert_eq!(format_cpus(0b1_0111, 8), "0-2,4");
        assert_eq!(format_cpus(0b1010, 4), "1,3");
        assert_eq!(format_cpus(1 << 63, 64), "63");
    }

    #[test]
    fn vcpu_list_rows() {
        let row = VcpuRow { name: "Domain-0", domid: 0, vcpu: 0, online: true, running: true, blocked: false, cpu: 0, cpu_time_ns: 39_600_000_000, hard: u64::MAX, soft: u64::MAX };
        let down = VcpuRow { name: "demo1", domid: 1, vcpu: 1, online: false, running: false, blocked: false, cpu: 0, cpu_time_ns: 0, hard: 0b110, soft: u64::MAX };
        let blocked = VcpuRow { name: "demo1", domid: 1, vcpu: 0, online: true, running: false, blocked: true, cpu: 2, cpu_time_ns: 1_260_000_000, hard: 0b110, soft: 0b100 };
        let text = format_vcpu_list(&[row, blocked, down], 4);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], VCPU_LIST_HEADER);
        assert_eq!(lines[1], "Domain-0                             0     0    0   r--      39.6  all / all");
        assert_eq!(lines[2], "demo1                                1     0    2   -b-       1.3  1-2 / 2");
        assert_eq!(lines[3], "demo1                                1     1    -   --p       0.0  1-2 / all");
    }

    #[test]
    fn credit2_table() {
        let rows = [Credit2Row { name: "Domain-0", domid: 0, weight: 256, cap: 0 }, Credit2Row { name: "demo1", domid: 1, weight: 512, cap: 50 }];
        assert_eq!(
            format_credit2(Some(1000), &rows),
            "Cpupool Pool-0: ratelimit=1000us\nName                                ID Weight  Cap\n\
             Domain-0                             0    256    0\ndemo1                                1    512   50\n"
        );
        assert!(format_credit2(Some(0), &[]).starts_with("Cpupool Pool-0: ratelimit=disabled\n"));
        assert_eq!(format_credit2(None, &[]), "Name                                ID Weight  Cap\n");
    }

    #[test]
    fn vcpu_pin_arguments() {
        assert_eq!(parse_vcpu_pin("all", "1-2", None), Ok((Vcpus::All, Some(CpuMask(0b110)), None)));
        assert_eq!(parse_vcpu_pin("1", "-", Some("3")), Ok((Vcpus::One(1), None, Some(CpuMask(0b1000)))));
        assert!(parse_vcpu_pin("x", "1", None).is_err());
        assert!(parse_vcpu_pin("0", "-", None).is_err());
        assert!(parse_vcpu_pin("0", "99", None).is_err());
    }
}
