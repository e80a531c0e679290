//! From xl.cfg settings to a typed [`DomainConfig`]: the keys we know, their
//! checks and their defaults.
//!
//! Keys (xl.cfg(5) names; aliases share one setting, so giving both is a
//! duplicate):
//!
//! | key | value | default |
//! |---|---|---|
//! | `name` | string, required; not empty, no control characters, not all digits (xl would read it as a domain ID) | — |
//! | `type` | `"pvh"` or `"hvm"`; `"pv"` is rejected (this hypervisor runs no PV guests) | `pvh` (xl on x86 defaults to pv) |
//! | `builder` | alias of `type`, Xen's pre-4.10 spelling: `"hvm"`; `"generic"` (pv) is rejected | |
//! | `kernel` | path, required (we always boot a kernel directly, HVM too) | — |
//! | `ramdisk` | path | none |
//! | `cmdline` | string; alias `extra` (xl would combine `root=` and `extra=`; `root` is not a key here) | empty |
//! | `memory` | MiB, 1..=16777216 (16 TiB) | `maxmem` if given, else 32 (libxl's default) |
//! | `maxmem` | MiB, >= `memory` | `memory` |
//! | `vcpus` | 1..=128 (`HVM_MAX_VCPUS`) | 1 |
//! | `maxvcpus` | `vcpus`..=128 | `vcpus` |
//! | `cpus` | CPULIST string for every vCPU, or a list with one CPULIST per vCPU (at most `maxvcpus` entries; xl ignores extras) | no pinning |
//! | `cpus_soft` | as `cpus`, the soft affinity (CPUs a vCPU prefers) | all CPUs |
//! | `cpu_weight` | 1..=65535 | 256 |
//! | `cap` | percent of one CPU, 0 = no cap, at most 100 × `maxvcpus` (credit2's limit); alias `cpu_cap` | 0 |
//! | `on_poweroff` / `on_reboot` / `on_crash` | `destroy`, `restart`, `preserve`; xl's `rename-restart`, `coredump-destroy`, `coredump-restart`, `soft-reset` are rejected as not supported | destroy / restart / destroy (as xl) |
//! | `disk` | list of DISKSPEC strings (see [`crate::disk`]), each vdev once | none |
//! | `serial` | string or list of strings, none empty | none |
//!
//! Integers are decimal or `0x` hex, bare or quoted (xl reads both with
//! `strtol`). A leading `0` is rejected: xl would read `010` as octal 8.
//!
//! Errors come in this order, so a file always gets the same one: syntax,
//! then per setting in file order unknown key, duplicate, bad value; then
//! missing `name` / `kernel`; then the checks between keys (`maxmem`,
//! `maxvcpus`, `cap`, `cpus`, `cpus_soft` against the others).

use crate::cpus::{CpuMask, parse_cpulist};
use crate::disk::{DiskSpec, parse_disk};
use crate::error::{ConfigError, ErrorKind};
use crate::syntax::{Atom, Setting, Value, parse_settings};
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

/// Guest kinds this hypervisor builds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DomainType {
    Pvh,
    Hvm,
}

/// What to do when the guest powers off, reboots or crashes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShutdownAction {
    Destroy,
    Restart,
    Preserve,
}

/// Hard affinity from `cpus=`, soft affinity from `cpus_soft=`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Affinity {
    /// A string: the same CPUs for every vCPU.
    AllVcpus(CpuMask),
    /// A list: entry i for vCPU i; vCPUs past the end are not pinned.
    PerVcpu(Vec<CpuMask>),
}

/// A domain as an xl.cfg file describes it, defaults applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainConfig {
    pub name: String,
    pub domain_type: DomainType,
    pub kernel: String,
    pub ramdisk: Option<String>,
    pub cmdline: String,
    pub memory_mib: u64,
    pub maxmem_mib: u64,
    pub vcpus: u32,
    pub maxvcpus: u32,
    /// `None`: no pinning.
    pub cpus: Option<Affinity>,
    /// `None`: no preference (every CPU).
    pub cpus_soft: Option<Affinity>,
    pub cpu_weight: u16,
    /// Percent of one CPU; 0 = no cap.
    pub cpu_cap: u32,
    pub on_poweroff: ShutdownAction,
    pub on_reboot: ShutdownAction,
    pub on_crash: ShutdownAction,
    pub disks: Vec<DiskSpec>,
    pub serial: Vec<String>,
}

/// Largest `memory`/`maxmem`: 16 TiB, what Xen on x86 supports.
pub const MAX_MEMORY_MIB: u64 = 16 << 20;
/// Largest `maxvcpus`: Xen's `HVM_MAX_VCPUS`.
pub const MAX_VCPUS: u32 = 128;
/// libxl's memory when neither `memory` nor `maxmem` is given.
pub const DEFAULT_MEMORY_MIB: u64 = 32;
/// xl's default `cpu_weight`.
pub const DEFAULT_CPU_WEIGHT: u16 = 256;

/// One setting slot; the names in `names` all fill it (the first is the
/// canonical one).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Key {
    Name,
    Type,
    Kernel,
    Ramdisk,
    Cmdline,
    Memory,
    Maxmem,
    Vcpus,
    Maxvcpus,
    Cpus,
    CpusSoft,
    CpuWeight,
    Cap,
    OnPoweroff,
    OnReboot,
    OnCrash,
    Disk,
    Serial,
}

const KEYS: [(&str, Key); 21] = [
    ("name", Key::Name),
    ("type", Key::Type),
    ("builder", Key::Type),
    ("kernel", Key::Kernel),
    ("ramdisk", Key::Ramdisk),
    ("cmdline", Key::Cmdline),
    ("extra", Key::Cmdline),
    ("memory", Key::Memory),
    ("maxmem", Key::Maxmem),
    ("vcpus", Key::Vcpus),
    ("maxvcpus", Key::Maxvcpus),
    ("cpus", Key::Cpus),
    ("cpus_soft", Key::CpusSoft),
    ("cpu_weight", Key::CpuWeight),
    ("cap", Key::Cap),
    ("cpu_cap", Key::Cap),
    ("on_poweroff", Key::OnPoweroff),
    ("on_reboot", Key::OnReboot),
    ("on_crash", Key::OnCrash),
    ("disk", Key::Disk),
    ("serial", Key::Serial),
];

/// Parses an xl.cfg file. `file` is only used in error messages.
pub fn parse(file: &str, text: &[u8]) -> Result<DomainConfig, ConfigError> {
    let settings = parse_settings(file, text)?;
    // Which setting filled each slot, to find duplicates and, later, the
    // line of a key that fails a check against another key.
    let mut seen: Vec<(Key, &Setting)> = Vec::new();
    let mut b = Builder::default();
    for s in &settings {
        let Some(&(_, key)) = KEYS.iter().find(|(n, _)| *n == s.key) else {
            return Err(ConfigError::at(
                file,
                s.line,
                ErrorKind::UnknownKey(s.key.clone()),
            ));
        };
        if let Some((_, first)) = seen.iter().find(|(k, _)| *k == key) {
            return Err(ConfigError::at(
                file,
                s.line,
                ErrorKind::DuplicateKey {
                    key: s.key.clone(),
                    first_key: first.key.clone(),
                    first_line: first.line,
                },
            ));
        }
        seen.push((key, s));
        b.set(key, s).map_err(|(line, message)| {
            ConfigError::at(
                file,
                line,
                ErrorKind::Value {
                    key: s.key.clone(),
                    message,
                },
            )
        })?;
    }
    let setting = |key: Key| seen.iter().find(|(k, _)| *k == key).map(|&(_, s)| s);
    b.finish(&setting).map_err(|e| match e {
        Finish::Missing(k) => ConfigError {
            file: file.into(),
            line: None,
            kind: ErrorKind::Missing(k),
        },
        Finish::Bad(s, message) => ConfigError::at(
            file,
            s.line,
            ErrorKind::Value {
                key: s.key.clone(),
                message,
            },
        ),
    })
}

/// A value error: the line (of the atom at fault) and the message.
type ValueResult<T> = Result<T, (u32, String)>;

#[derive(Default)]
struct Builder {
    name: Option<String>,
    domain_type: Option<DomainType>,
    kernel: Option<String>,
    ramdisk: Option<String>,
    cmdline: Option<String>,
    memory: Option<u64>,
    maxmem: Option<u64>,
    vcpus: Option<u32>,
    maxvcpus: Option<u32>,
    cpus: Option<Affinity>,
    cpus_soft: Option<Affinity>,
    cpu_weight: Option<u16>,
    cap: Option<u32>,
    on_poweroff: Option<ShutdownAction>,
    on_reboot: Option<ShutdownAction>,
    on_crash: Option<ShutdownAction>,
    disks: Vec<DiskSpec>,
    serial: Vec<String>,
}

enum Finish<'a> {
    Missing(&'static str),
    Bad(&'a Setting, String),
}

impl Builder {
    fn set(&mut self, key: Key, s: &Setting) -> ValueResult<()> {
        let v = &s.value;
        match key {
            Key::Name => self.name = Some(name(atom(v)?)?),
            Key::Type => self.domain_type = Some(domain_type(&s.key, atom(v)?)?),
            Key::Kernel => self.kernel = Some(path(atom(v)?)?),
            Key::Ramdisk => self.ramdisk = Some(path(atom(v)?)?),
            Key::Cmdline => self.cmdline = Some(atom(v)?.text.clone()),
            Key::Memory => self.memory = Some(int(v, "MiB", 1, MAX_MEMORY_MIB)?),
            Key::Maxmem => self.maxmem = Some(int(v, "MiB", 1, MAX_MEMORY_MIB)?),
            Key::Vcpus => self.vcpus = Some(small(int(v, "vCPUs", 1, MAX_VCPUS.into())?)),
            Key::Maxvcpus => self.maxvcpus = Some(small(int(v, "vCPUs", 1, MAX_VCPUS.into())?)),
            Key::Cpus => self.cpus = Some(affinity(v)?),
            Key::CpusSoft => self.cpus_soft = Some(affinity(v)?),
            Key::CpuWeight => {
                self.cpu_weight =
                    Some(u16::try_from(int(v, "weight", 1, 65535)?).unwrap_or(u16::MAX));
            }
            Key::Cap => {
                self.cap = Some(small(int(
                    v,
                    "percent of one CPU",
                    0,
                    u64::from(100 * MAX_VCPUS),
                )?))
            }
            Key::OnPoweroff => self.on_poweroff = Some(action(atom(v)?)?),
            Key::OnReboot => self.on_reboot = Some(action(atom(v)?)?),
            Key::OnCrash => self.on_crash = Some(action(atom(v)?)?),
            Key::Disk => self.disks = disks(v)?,
            Key::Serial => self.serial = serial(v)?,
        }
        Ok(())
    }

    fn finish<'a>(
        self,
        setting: &dyn Fn(Key) -> Option<&'a Setting>,
    ) -> Result<DomainConfig, Finish<'a>> {
        let name = self.name.ok_or(Finish::Missing("name"))?;
        let kernel = self.kernel.ok_or(Finish::Missing("kernel"))?;
        // Each check below can only fail when the key it names was set in
        // the file (its default satisfies it), so `setting` finds its line.
        let memory_mib = self.memory.or(self.maxmem).unwrap_or(DEFAULT_MEMORY_MIB);
        let maxmem_mib = self.maxmem.unwrap_or(memory_mib);
        if let Some(s) = setting(Key::Maxmem)
            && maxmem_mib < memory_mib
        {
            return Err(Finish::Bad(
                s,
                format!("{maxmem_mib} MiB is less than memory ({memory_mib} MiB)"),
            ));
        }
        let vcpus = self.vcpus.unwrap_or(1);
        let maxvcpus = self.maxvcpus.unwrap_or(vcpus);
        if let Some(s) = setting(Key::Maxvcpus)
            && maxvcpus < vcpus
        {
            return Err(Finish::Bad(
                s,
                format!("{maxvcpus} is less than vcpus ({vcpus})"),
            ));
        }
        let cpu_cap = self.cap.unwrap_or(0);
        if let Some(s) = setting(Key::Cap)
            && cpu_cap > 100 * maxvcpus
        {
            let most = 100 * maxvcpus;
            return Err(Finish::Bad(
                s,
                format!("{cpu_cap} is more than 100 per vCPU ({most} for maxvcpus {maxvcpus})"),
            ));
        }
        for (key, aff) in [(Key::Cpus, &self.cpus), (Key::CpusSoft, &self.cpus_soft)] {
            if let (Some(s), Some(Affinity::PerVcpu(list))) = (setting(key), aff)
                && list.len() > maxvcpus as usize
            {
                return Err(Finish::Bad(
                    s,
                    format!("{} entries for {maxvcpus} vCPUs (maxvcpus)", list.len()),
                ));
            }
        }
        Ok(DomainConfig {
            name,
            domain_type: self.domain_type.unwrap_or(DomainType::Pvh),
            kernel,
            ramdisk: self.ramdisk,
            cmdline: self.cmdline.unwrap_or_default(),
            memory_mib,
            maxmem_mib,
            vcpus,
            maxvcpus,
            cpus: self.cpus,
            cpus_soft: self.cpus_soft,
            cpu_weight: self.cpu_weight.unwrap_or(DEFAULT_CPU_WEIGHT),
            cpu_cap,
            on_poweroff: self.on_poweroff.unwrap_or(ShutdownAction::Destroy),
            on_reboot: self.on_reboot.unwrap_or(ShutdownAction::Restart),
            on_crash: self.on_crash.unwrap_or(ShutdownAction::Destroy),
            disks: self.disks,
            serial: self.serial,
        })
    }
}

/// Values below `MAX_VCPUS * 100` fit; the callers bound them first.
fn small(v: u64) -> u32 {
    u32::try_from(v).unwrap_or(u32::MAX)
}

fn atom(v: &Value) -> ValueResult<&Atom> {
    match v {
        Value::Atom(a) => Ok(a),
        Value::List { line, .. } => Err((*line, "expected a single value, got a list".into())),
    }
}

fn list<'a>(v: &'a Value, what: &str) -> ValueResult<&'a [Atom]> {
    match v {
        Value::List { items, .. } => Ok(items),
        Value::Atom(a) => Err((
            a.line,
            format!("expected a list of {what}, got a single value"),
        )),
    }
}

/// How a value is quoted back in a message.
fn shown(a: &Atom) -> String {
    format!("{:?}", a.text)
}

fn int(v: &Value, unit: &str, min: u64, max: u64) -> ValueResult<u64> {
    let a = atom(v)?;
    let expected = |extra: &str| {
        (
            a.line,
            format!("expected an integer ({unit}), got {}{extra}", shown(a)),
        )
    };
    let t = a.text.as_str();
    let (negative, digits) = match t.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let parsed = if let Some(hex) = digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        parse_digits(hex, 16)
    } else if digits.len() > 1 && digits.starts_with('0') {
        return Err(expected(" (a leading 0 means octal to xl; leave it out)"));
    } else {
        parse_digits(digits, 10)
    };
    let Some(n) = parsed else {
        return Err(expected(""));
    };
    if negative && n != 0 || n < min || n > max {
        let sign = if negative { "-" } else { "" };
        return Err((
            a.line,
            format!("{sign}{n} is out of range ({min} to {max} {unit})"),
        ));
    }
    Ok(n)
}

/// Digits only (no sign, no spaces); `None` if empty, bad or too large.
fn parse_digits(s: &str, radix: u32) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    s.chars().try_fold(0u64, |acc, c| {
        acc.checked_mul(radix.into())?
            .checked_add(c.to_digit(radix)?.into())
    })
}

fn name(a: &Atom) -> ValueResult<String> {
    let t = &a.text;
    if t.is_empty() {
        return Err((a.line, "must not be empty".into()));
    }
    if t.chars().any(char::is_control) {
        return Err((a.line, format!("{} contains a control character", shown(a))));
    }
    if t.bytes().all(|b| b.is_ascii_digit()) {
        return Err((
            a.line,
            format!("{} is all digits, which xl reads as a domain ID", shown(a)),
        ));
    }
    Ok(t.clone())
}

fn path(a: &Atom) -> ValueResult<String> {
    if a.text.is_empty() {
        return Err((a.line, "must not be empty".into()));
    }
    Ok(a.text.clone())
}

fn domain_type(key: &str, a: &Atom) -> ValueResult<DomainType> {
    match (key, a.text.as_str()) {
        ("type", "pvh") => Ok(DomainType::Pvh),
        ("type" | "builder", "hvm") => Ok(DomainType::Hvm),
        ("type", "pv") | ("builder", "generic") => Err((
            a.line,
            format!(
                "{} (PV) is not supported; use type = \"pvh\" or \"hvm\"",
                shown(a)
            ),
        )),
        ("builder", _) => Err((a.line, format!("expected \"hvm\", got {}", shown(a)))),
        _ => Err((
            a.line,
            format!("expected \"pvh\" or \"hvm\", got {}", shown(a)),
        )),
    }
}

fn action(a: &Atom) -> ValueResult<ShutdownAction> {
    const CHOICES: &str = "destroy, restart or preserve";
    match a.text.as_str() {
        "destroy" => Ok(ShutdownAction::Destroy),
        "restart" => Ok(ShutdownAction::Restart),
        "preserve" => Ok(ShutdownAction::Preserve),
        "rename-restart" | "coredump-destroy" | "coredump-restart" | "soft-reset" => {
            Err((a.line, format!("{} is not supported ({CHOICES})", shown(a))))
        }
        _ => Err((a.line, format!("unknown action {} ({CHOICES})", shown(a)))),
    }
}

fn affinity(v: &Value) -> ValueResult<Affinity> {
    let one = |a: &Atom| parse_cpulist(&a.text).map_err(|m| (a.line, m));
    match v {
        Value::Atom(a) => Ok(Affinity::AllVcpus(one(a)?)),
        Value::List { items, .. } => Ok(Affinity::PerVcpu(
            items.iter().map(one).collect::<Result<_, _>>()?,
        )),
    }
}

fn disks(v: &Value) -> ValueResult<Vec<DiskSpec>> {
    let mut out: Vec<DiskSpec> = Vec::new();
    for a in list(v, "disk specs")? {
        let d = parse_disk(&a.text).map_err(|m| (a.line, format!("{}: {m}", shown(a))))?;
        if out.iter().any(|o| o.vdev == d.vdev) {
            return Err((
                a.line,
                format!("{}: vdev {} is used twice", shown(a), d.vdev),
            ));
        }
        out.push(d);
    }
    Ok(out)
}

fn serial(v: &Value) -> ValueResult<Vec<String>> {
    let items = match v {
        Value::Atom(a) => core::slice::from_ref(a),
        Value::List { items, .. } => items.as_slice(),
    };
    items
        .iter()
        .map(|a| {
            if a.text.is_empty() {
                Err((a.line, "an entry is empty".into()))
            } else {
                Ok(a.text.clone())
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::disk::{DiskAccess, DiskFormat};
    use alloc::string::ToString;
    use alloc::vec;

    const BASE: &str = "name = \"d\"\nkernel = \"/k\"\n";

    fn ok(extra: &str) -> DomainConfig {
        let text = format!("{BASE}{extra}");
        parse("t.cfg", text.as_bytes()).unwrap_or_else(|e| panic!("{e}"))
    }

    /// The error for BASE + `extra`; `extra` starts on line 3.
    fn err(extra: &str) -> String {
        let text = format!("{BASE}{extra}");
        parse("t.cfg", text.as_bytes()).unwrap_err().to_string()
    }

    #[test]
    fn defaults() {
        let c = ok("");
        assert_eq!(
            c,
            DomainConfig {
                name: "d".into(),
                domain_type: DomainType::Pvh,
                kernel: "/k".into(),
                ramdisk: None,
                cmdline: "".into(),
                memory_mib: 32,
                maxmem_mib: 32,
                vcpus: 1,
                maxvcpus: 1,
                cpus: None,
                cpus_soft: None,
                cpu_weight: 256,
                cpu_cap: 0,
                on_poweroff: ShutdownAction::Destroy,
                on_reboot: ShutdownAction::Restart,
                on_crash: ShutdownAction::Destroy,
                disks: vec![],
                serial: vec![],
            }
        );
    }

    #[test]
    fn every_key() {
        let c = ok(
            "type = \"hvm\"\nramdisk = \"/r\"\nextra = \"console=hvc0\"\nmemory = 256\nmaxmem = '0x200'\n\
                    vcpus = 2\nmaxvcpus = 4\ncpus = [\"0-1\", \"2\"]\ncpus_soft = \"2-3\"\ncpu_weight = 512\ncpu_cap = 150\n\
                    on_poweroff = \"preserve\"\non_reboot = \"destroy\"\non_crash = \"restart\"\n\
                    disk = ['/img/a,raw,xvda,rw', 'phy:/dev/b,xvdb,r']\nserial = ['pty', 'file:/x']\n",
        );
        assert_eq!(c.domain_type, DomainType::Hvm);
        assert_eq!(c.ramdisk.as_deref(), Some("/r"));
        assert_eq!(c.cmdline, "console=hvc0");
        assert_eq!((c.memory_mib, c.maxmem_mib), (256, 512));
        assert_eq!((c.vcpus, c.maxvcpus), (2, 4));
        assert_eq!(
            c.cpus,
            Some(Affinity::PerVcpu(vec![CpuMask(0b11), CpuMask(0b100)]))
        );
        assert_eq!(c.cpus_soft, Some(Affinity::AllVcpus(CpuMask(0b1100))));
        assert_eq!((c.cpu_weight, c.cpu_cap), (512, 150));
        assert_eq!(
            (c.on_poweroff, c.on_reboot, c.on_crash),
            (
                ShutdownAction::Preserve,
                ShutdownAction::Destroy,
                ShutdownAction::Restart
            )
        );
        assert_eq!(c.disks.len(), 2);
        assert_eq!(c.disks[1].target, "/dev/b");
        assert_eq!(c.disks[1].access, DiskAccess::ReadOnly);
        assert_eq!(c.disks[0].format, DiskFormat::Raw);
        assert_eq!(c.serial, vec!["pty", "file:/x"]);
    }

    #[test]
    fn memory_and_vcpu_defaults_follow_each_other() {
        let c = ok("memory = 128\n");
        assert_eq!((c.memory_mib, c.maxmem_mib), (128, 128));
        let c = ok("maxmem = 512\n");
        assert_eq!((c.memory_mib, c.maxmem_mib), (512, 512));
        let c = ok("vcpus = 3\n");
        assert_eq!((c.vcpus, c.maxvcpus), (3, 3));
        let c = ok("maxvcpus = 3\n");
        assert_eq!((c.vcpus, c.maxvcpus), (1, 3));
    }

    #[test]
    fn aliases_and_spellings() {
        assert_eq!(ok("builder = \"hvm\"\n").domain_type, DomainType::Hvm);
        assert_eq!(ok("cmdline = \"a b\"\n").cmdline, "a b");
        assert_eq!(ok("cap = 50\n").cpu_cap, 50);
        assert_eq!(
            ok("cpus = \"all\"\n").cpus,
            Some(Affinity::AllVcpus(CpuMask::ALL))
        );
        assert_eq!(ok("serial = \"pty\"\n").serial, vec!["pty"]);
        assert_eq!(ok("memory = \"+64\"\n").memory_mib, 64);
        assert_eq!(ok("cap = 0\n").cpu_cap, 0);
        assert_eq!(ok("cpu_weight = 65535\n").cpu_weight, 65535);
    }

    #[test]
    fn value_errors() {
        let cases = [
            (
                "memory = \"lots\"",
                "t.cfg:3: memory: expected an integer (MiB), got \"lots\"",
            ),
            (
                "memory = 512M",
                "t.cfg:3: memory: expected an integer (MiB), got \"512M\"",
            ),
            (
                "memory = 0",
                "t.cfg:3: memory: 0 is out of range (1 to 16777216 MiB)",
            ),
            (
                "memory = \"-5\"",
                "t.cfg:3: memory: -5 is out of range (1 to 16777216 MiB)",
            ),
            (
                "memory = 010",
                "t.cfg:3: memory: expected an integer (MiB), got \"010\" (a leading 0 means octal to xl; leave it out)",
            ),
            (
                "memory = 99999999999999999999",
                "t.cfg:3: memory: expected an integer (MiB), got \"99999999999999999999\"",
            ),
            (
                "memory = [ 1 ]",
                "t.cfg:3: memory: expected a single value, got a list",
            ),
            (
                "vcpus = 129",
                "t.cfg:3: vcpus: 129 is out of range (1 to 128 vCPUs)",
            ),
            (
                "cpu_weight = 0",
                "t.cfg:3: cpu_weight: 0 is out of range (1 to 65535 weight)",
            ),
            (
                "type = \"pv\"",
                "t.cfg:3: type: \"pv\" (PV) is not supported; use type = \"pvh\" or \"hvm\"",
            ),
            (
                "type = \"xen\"",
                "t.cfg:3: type: expected \"pvh\" or \"hvm\", got \"xen\"",
            ),
            (
                "builder = \"generic\"",
                "t.cfg:3: builder: \"generic\" (PV) is not supported; use type = \"pvh\" or \"hvm\"",
            ),
            (
                "builder = \"pvh\"",
                "t.cfg:3: builder: expected \"hvm\", got \"pvh\"",
            ),
            (
                "on_crash = \"coredump-restart\"",
                "t.cfg:3: on_crash: \"coredump-restart\" is not supported (destroy, restart or preserve)",
            ),
            (
                "on_reboot = \"reboot\"",
                "t.cfg:3: on_reboot: unknown action \"reboot\" (destroy, restart or preserve)",
            ),
            (
                "cpus = \"0-64\"",
                "t.cfg:3: cpus: CPU 64 is out of range (at most 64 CPUs, 0-63)",
            ),
            (
                "cpus = [\"0\",\n \"x\"]",
                "t.cfg:4: cpus: \"x\" is not a CPU or a CPU range (like 2 or 0-3)",
            ),
            (
                "disk = '/a,,xvda'",
                "t.cfg:3: disk: expected a list of disk specs, got a single value",
            ),
            (
                "disk = ['/a,,xvda',\n '/b,,xvda']",
                "t.cfg:4: disk: \"/b,,xvda\": vdev xvda is used twice",
            ),
            (
                "disk = ['/a']",
                "t.cfg:3: disk: \"/a\": no vdev (the guest's device name, e.g. xvda)",
            ),
            ("serial = ['pty', '']", "t.cfg:3: serial: an entry is empty"),
            ("ramdisk = ''", "t.cfg:3: ramdisk: must not be empty"),
        ];
        for (extra, want) in cases {
            assert_eq!(err(extra), want, "{extra}");
        }
    }

    #[test]
    fn name_checks() {
        let e = |v: &str| {
            parse("n.cfg", format!("name = {v}\nkernel = '/k'").as_bytes())
                .unwrap_err()
                .to_string()
        };
        assert_eq!(e("''"), "n.cfg:1: name: must not be empty");
        assert_eq!(
            e("'12'"),
            "n.cfg:1: name: \"12\" is all digits, which xl reads as a domain ID"
        );
        assert_eq!(
            e("12"),
            "n.cfg:1: name: \"12\" is all digits, which xl reads as a domain ID"
        );
        assert_eq!(
            e("'a\\tb'"),
            "n.cfg:1: name: \"a\\tb\" contains a control character"
        );
    }

    #[test]
    fn key_errors() {
        assert_eq!(err("memroy = 5"), "t.cfg:3: unknown key \"memroy\"");
        assert_eq!(
            err("memory = 5\nmemory = 6"),
            "t.cfg:4: duplicate key \"memory\" (first set on line 3)"
        );
        assert_eq!(
            err("cmdline = 'a'\nextra = 'b'"),
            "t.cfg:4: duplicate key \"extra\" (an alias of \"cmdline\", set on line 3)"
        );
        assert_eq!(
            err("type = 'hvm'\nbuilder = 'hvm'"),
            "t.cfg:4: duplicate key \"builder\" (an alias of \"type\", set on line 3)"
        );
        assert_eq!(
            parse("m.cfg", b"kernel = '/k'").unwrap_err().to_string(),
            "m.cfg: missing required key \"name\""
        );
        assert_eq!(
            parse("m.cfg", b"name = 'x'").unwrap_err().to_string(),
            "m.cfg: missing required key \"kernel\""
        );
    }

    #[test]
    fn cross_key_errors_name_the_dependent_key() {
        assert_eq!(
            err("memory = 256\nmaxmem = 128"),
            "t.cfg:4: maxmem: 128 MiB is less than memory (256 MiB)"
        );
        assert_eq!(
            err("maxvcpus = 1\nvcpus = 2"),
            "t.cfg:3: maxvcpus: 1 is less than vcpus (2)"
        );
        assert_eq!(
            err("cap = 201\nmaxvcpus = 2"),
            "t.cfg:3: cap: 201 is more than 100 per vCPU (200 for maxvcpus 2)"
        );
        assert_eq!(
            err("cpus = ['0', '1']"),
            "t.cfg:3: cpus: 2 entries for 1 vCPUs (maxvcpus)"
        );
        assert_eq!(
            err("cpus_soft = ['0', '1']"),
            "t.cfg:3: cpus_soft: 2 entries for 1 vCPUs (maxvcpus)"
        );
        assert_eq!(ok("cap = 200\nvcpus = 2").cpu_cap, 200);
    }
}
