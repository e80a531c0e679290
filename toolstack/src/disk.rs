//! One `disk=` entry: a subset of xl's DISKSPEC (xl-disk-configuration(5)).
//!
//! A spec is comma-separated parameters; whitespace before each is ignored.
//! Bare values fill the positional slots `target, format, vdev, access` in
//! that order, skipping slots already given by name (`format=`, `vdev=`,
//! `access=`); an empty value leaves the slot at its default. `target=`
//! takes the whole rest of the spec (commas included), as in xl. The flag
//! `cdrom` and `devtype=cdrom|disk` are understood. The deprecated target
//! prefixes `phy:` and `file:` are stripped, `raw:`, `qcow:`, `qcow2:` and
//! `vhd:` set the format; either kind then fills the format slot, so the
//! classic `'phy:/dev/vg/lv,xvda,w'` means target, vdev, access.
//!
//! Everything else xl knows (`backend=`, `backendtype=`, `script=`,
//! `specification=`, `discard`, `direct-io-safe`, `trusted`, colo options,
//! the `iscsi:`/`nbd:`/`tap:`... prefixes) is rejected as not supported,
//! never ignored. Defaults as in xl: format raw, access rw (ro for a
//! cdrom). `vdev` is required; `target` too, except for an empty cdrom.
//! Unlike xl we do not prepend `/dev/` to a relative target.

use alloc::format;
use alloc::string::{String, ToString};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiskFormat {
    Raw,
    Qcow,
    Qcow2,
    Vhd,
    Qed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiskAccess {
    ReadOnly,
    ReadWrite,
}

/// A parsed `disk=` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiskSpec {
    /// Backing file or device path as written; empty only for an empty cdrom.
    pub target: String,
    pub format: DiskFormat,
    /// The guest's name for it, e.g. `xvda`.
    pub vdev: String,
    pub access: DiskAccess,
    pub cdrom: bool,
}

const UNSUPPORTED_FLAGS: [&str; 7] = [
    "direct-io-safe",
    "discard",
    "no-discard",
    "colo",
    "no-colo",
    "trusted",
    "untrusted",
];

#[derive(Default)]
struct Slots<'a> {
    target: Option<&'a str>,
    format: Option<&'a str>,
    vdev: Option<&'a str>,
    access: Option<&'a str>,
    /// Set by a deprecated prefix, which also fills the format slot.
    prefix_format: Option<DiskFormat>,
    cdrom: Option<bool>,
}

/// Parses one DISKSPEC; the error is the message for the `disk` key.
pub fn parse_disk(spec: &str) -> Result<DiskSpec, String> {
    let mut s = Slots::default();
    let mut rest = spec;
    while !rest.is_empty() {
        rest = rest.trim_start_matches([' ', '\t', '\n']);
        if let Some(t) = rest.strip_prefix("target=") {
            set(&mut s.target, "target", t)?;
            break;
        }
        let (param, tail) = rest.split_once(',').unwrap_or((rest, ""));
        rest = tail;
        parameter(&mut s, param)?;
    }
    finish(s)
}

fn set<'a>(slot: &mut Option<&'a str>, name: &str, v: &'a str) -> Result<(), String> {
    if slot.is_some() {
        return Err(format!("{name} is given twice"));
    }
    *slot = Some(v);
    Ok(())
}

fn parameter<'a>(s: &mut Slots<'a>, param: &'a str) -> Result<(), String> {
    if let Some((key, value)) = param.split_once('=') {
        return match key {
            "format" => set(&mut s.format, "format", value),
            "vdev" => set(&mut s.vdev, "vdev", value),
            "access" => set(&mut s.access, "access", value),
            "devtype" => {
                s.cdrom = Some(match value {
                    "cdrom" => true,
                    "disk" => false,
                    _ => return Err(format!("unknown devtype {value:?} (cdrom or disk)")),
                });
                Ok(())
            }
            _ => Err(format!("parameter {key:?} is not supported")),
        };
    }
    if param == "cdrom" {
        s.cdrom = Some(true);
        return Ok(());
    }
    if UNSUPPORTED_FLAGS.contains(&param) {
        return Err(format!("flag {param:?} is not supported"));
    }
    // Positional.
    if s.target.is_none() {
        let (target, format) = deprecated_prefix(param)?;
        s.target = Some(target);
        if let Some(f) = format {
            s.prefix_format = f;
            s.format = Some("");
        }
        return Ok(());
    }
    for slot in [&mut s.format, &mut s.vdev, &mut s.access] {
        if slot.is_none() {
            *slot = Some(param);
            return Ok(());
        }
    }
    Err(format!("too many positional parameters at {param:?}"))
}

/// Splits a legacy `prefix:` off a positional target. The outer `Option`
/// says whether there was a prefix (which fills the format slot); the inner
/// one carries the format it names, if any.
fn deprecated_prefix(param: &str) -> Result<(&str, Option<Option<DiskFormat>>), String> {
    let Some((prefix, path)) = param.split_once(':') else {
        return Ok((param, None));
    };
    if prefix.is_empty()
        || !prefix
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    {
        return Ok((param, None));
    }
    let format = match prefix {
        "phy" | "file" => None,
        "raw" => Some(DiskFormat::Raw),
        "qcow" => Some(DiskFormat::Qcow),
        "qcow2" => Some(DiskFormat::Qcow2),
        "vhd" => Some(DiskFormat::Vhd),
        _ => return Err(format!("disk prefix \"{prefix}:\" is not supported")),
    };
    Ok((path, Some(format)))
}

fn finish(s: Slots<'_>) -> Result<DiskSpec, String> {
    let cdrom = s.cdrom.unwrap_or(false);
    let format = match s.format.unwrap_or("") {
        "" => s.prefix_format.unwrap_or(DiskFormat::Raw),
        "raw" => DiskFormat::Raw,
        "qcow" => DiskFormat::Qcow,
        "qcow2" => DiskFormat::Qcow2,
        "vhd" => DiskFormat::Vhd,
        "qed" => DiskFormat::Qed,
        other => {
            return Err(format!(
                "unknown format {other:?} (raw, qcow, qcow2, vhd or qed)"
            ));
        }
    };
    let access = match s.access.unwrap_or("") {
        "" if cdrom => DiskAccess::ReadOnly,
        "" => DiskAccess::ReadWrite,
        "ro" | "r" => DiskAccess::ReadOnly,
        "rw" | "w" => DiskAccess::ReadWrite,
        other => return Err(format!("unknown access {other:?} (ro, r, rw or w)")),
    };
    let vdev = s.vdev.unwrap_or("");
    if vdev.is_empty() {
        return Err("no vdev (the guest's device name, e.g. xvda)".into());
    }
    let mut bytes = vdev.bytes();
    let valid = bytes.next().is_some_and(|b| b.is_ascii_lowercase())
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    if !valid {
        return Err(format!(
            "vdev {vdev:?} is not a device name like xvda or hdc"
        ));
    }
    let target = s.target.unwrap_or("");
    if target.is_empty() && !cdrom {
        return Err("no target (the backing file or device)".into());
    }
    Ok(DiskSpec {
        target: target.to_string(),
        format,
        vdev: vdev.into(),
        access,
        cdrom,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(
        target: &str,
        format: DiskFormat,
        vdev: &str,
        access: DiskAccess,
        cdrom: bool,
    ) -> DiskSpec {
        DiskSpec {
            target: target.into(),
            format,
            vdev: vdev.into(),
            access,
            cdrom,
        }
    }

    #[test]
    fn equivalent_forms_from_the_manual() {
        let want = d(
            "/dev/vg/guest-volume",
            DiskFormat::Raw,
            "hda",
            DiskAccess::ReadWrite,
            false,
        );
        for spec in [
            "/dev/vg/guest-volume,,hda",
            "/dev/vg/guest-volume,raw,hda,rw",
            "format=raw, vdev=hda, access=rw, target=/dev/vg/guest-volume",
            "raw:/dev/vg/guest-volume,hda,w",
        ] {
            assert_eq!(parse_disk(spec), Ok(want.clone()), "{spec}");
        }
        let iso = d(
            "/root/image.iso",
            DiskFormat::Raw,
            "hdc",
            DiskAccess::ReadOnly,
            true,
        );
        for spec in [
            "/root/image.iso,,hdc,cdrom",
            "/root/image.iso,,hdc,,cdrom",
            "/root/image.iso,raw,hdc,devtype=cdrom",
            "format=raw, vdev=hdc, access=ro, devtype=cdrom, target=/root/image.iso",
        ] {
            assert_eq!(parse_disk(spec), Ok(iso.clone()), "{spec}");
        }
    }

    #[test]
    fn classic_and_named() {
        assert_eq!(
            parse_disk("phy:/dev/vg/lv,xvda,w"),
            Ok(d(
                "/dev/vg/lv",
                DiskFormat::Raw,
                "xvda",
                DiskAccess::ReadWrite,
                false
            ))
        );
        assert_eq!(
            parse_disk("/img/a.qcow2,qcow2,xvdb,ro"),
            Ok(d(
                "/img/a.qcow2",
                DiskFormat::Qcow2,
                "xvdb",
                DiskAccess::ReadOnly,
                false
            ))
        );
        // A named format frees the next positional for vdev.
        assert_eq!(
            parse_disk("format=vhd,/img/x,xvdc"),
            Ok(d(
                "/img/x",
                DiskFormat::Vhd,
                "xvdc",
                DiskAccess::ReadWrite,
                false
            ))
        );
        // target= eats commas.
        assert_eq!(
            parse_disk("vdev=xvda,target=/img/a,b"),
            Ok(d(
                "/img/a,b",
                DiskFormat::Raw,
                "xvda",
                DiskAccess::ReadWrite,
                false
            ))
        );
        // An empty cdrom drive.
        assert_eq!(
            parse_disk(",,hdc,cdrom"),
            Ok(d("", DiskFormat::Raw, "hdc", DiskAccess::ReadOnly, true))
        );
    }

    #[test]
    fn rejects() {
        let err = |s: &str| parse_disk(s).unwrap_err();
        assert_eq!(
            err("/img/a"),
            "no vdev (the guest's device name, e.g. xvda)"
        );
        assert_eq!(err(""), "no vdev (the guest's device name, e.g. xvda)");
        assert_eq!(err(",,xvda"), "no target (the backing file or device)");
        assert_eq!(
            err("/img/a,raw,xvda,rw,extra"),
            "too many positional parameters at \"extra\""
        );
        assert_eq!(
            err("/img/a,vmdk,xvda"),
            "unknown format \"vmdk\" (raw, qcow, qcow2, vhd or qed)"
        );
        assert_eq!(
            err("/img/a,raw,xvda,rx"),
            "unknown access \"rx\" (ro, r, rw or w)"
        );
        assert_eq!(
            err("/img/a,raw,XVDA"),
            "vdev \"XVDA\" is not a device name like xvda or hdc"
        );
        assert_eq!(
            err("/img/a,raw,hdc:cdrom"),
            "vdev \"hdc:cdrom\" is not a device name like xvda or hdc"
        );
        assert_eq!(
            err("/img/a,,xvda,backend=dd"),
            "parameter \"backend\" is not supported"
        );
        assert_eq!(
            err("/img/a,,xvda,discard"),
            "flag \"discard\" is not supported"
        );
        assert_eq!(
            err("iscsi:/x,,xvda"),
            "disk prefix \"iscsi:\" is not supported"
        );
        assert_eq!(err("vdev=xvda,vdev=xvdb,/a"), "vdev is given twice");
        assert_eq!(
            err("/a,,xvda,devtype=floppy"),
            "unknown devtype \"floppy\" (cdrom or disk)"
        );
    }
}
