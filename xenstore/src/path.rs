//! Node names as xenstored takes them: relative names are under the
//! caller's `/local/domain/<id>`; a valid name starts with `/` (or `@` for
//! the special watch nodes where allowed), has no `//`, no trailing `/`
//! (but `/` itself), only `[A-Za-z0-9_@/-]`, at most
//! `XENSTORE_ABS_PATH_MAX` bytes, and for an unprivileged caller at most
//! the path-length quota past any `/local/domain/<n>/`.

use alloc::format;
use alloc::string::String;

use abi::io::xs_wire::XENSTORE_ABS_PATH_MAX;

use crate::Error;

/// The special nodes only watches and permissions name.
pub const INTRODUCE_DOMAIN: &str = "@introduceDomain";
pub const RELEASE_DOMAIN: &str = "@releaseDomain";

/// `/local/domain/<domid>`.
pub fn domain_path(domid: u16) -> String {
    format!("/local/domain/{domid}")
}

/// The absolute, checked form of `name` as `domid` gave it. `max_rel` is
/// the path-length quota (None for a privileged caller).
pub fn canonicalize(domid: u16, name: &str, allow_special: bool, max_rel: Option<usize>) -> Result<String, Error> {
    let abs = if name.starts_with('/') || name.starts_with('@') {
        String::from(name)
    } else {
        format!("{}/{name}", domain_path(domid))
    };
    if valid(&abs, allow_special, max_rel) { Ok(abs) } else { Err(Error::Einval) }
}

fn valid(node: &str, allow_special: bool, max_rel: Option<usize>) -> bool {
    let special = node.starts_with('@');
    if !node.starts_with('/') && !(allow_special && special) {
        return false;
    }
    if special && node != INTRODUCE_DOMAIN && node != RELEASE_DOMAIN {
        return false;
    }
    if node.ends_with('/') && node != "/" {
        return false;
    }
    if node.contains("//") || node.len() > XENSTORE_ABS_PATH_MAX {
        return false;
    }
    if let Some(max) = max_rel
        && node.len() - local_prefix_len(node) > max
    {
        return false;
    }
    node.bytes().all(|b| b.is_ascii_alphanumeric() || b"-/_@".contains(&b))
}

/// Length of a leading `/local/domain/<n>/` (n of up to 5 digits), else 0.
fn local_prefix_len(node: &str) -> usize {
    let Some(rest) = node.strip_prefix("/local/domain/") else { return 0 };
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 || digits > 5 || rest.as_bytes().get(digits) != Some(&b'/') {
        return 0;
    }
    "/local/domain/".len() + digits + 1
}

/// The parent of an absolute name other than `/`.
pub fn parent(node: &str) -> &str {
    match node.rfind('/') {
        Some(0) | None => "/",
        Some(at) => &node[..at],
    }
}

/// The last component of an absolute name.
pub fn basename(node: &str) -> &str {
    node.rsplit('/').next().unwrap_or("")
}

/// `child` under `parent` (`parent` itself not included).
pub fn join(parent: &str, child: &str) -> String {
    if parent == "/" { format!("/{child}") } else { format!("{parent}/{child}") }
}

/// Whether `node` is `ancestor` or lies below it.
pub fn is_below_or_at(node: &str, ancestor: &str) -> bool {
    if ancestor == "/" {
        return node.starts_with('/');
    }
    node == ancestor || (node.starts_with(ancestor) && node.as_bytes()[ancestor.len()] == b'/')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_names_resolve_under_the_domain() {
        assert_eq!(canonicalize(3, "device/vif", false, None).unwrap(), "/local/domain/3/device/vif");
        assert_eq!(canonicalize(3, "/vm/x", false, None).unwrap(), "/vm/x");
        assert_eq!(canonicalize(0, "/", false, None).unwrap(), "/");
    }

    #[test]
    fn bad_names_are_einval() {
        for bad in ["/a/", "/a//b", "/a b", "/a.b", "", "@foo", "/\u{e9}"] {
            assert_eq!(canonicalize(1, bad, true, None), Err(Error::Einval), "{bad:?}");
        }
        assert_eq!(canonicalize(1, "@introduceDomain", false, None), Err(Error::Einval));
        assert_eq!(canonicalize(1, "@introduceDomain", true, None).unwrap(), "@introduceDomain");
        assert_eq!(canonicalize(1, "@releaseDomain", true, None).unwrap(), "@releaseDomain");
        assert!(canonicalize(1, "/a-b_c/D9@", false, None).is_ok());
    }

    #[test]
    fn path_length_counts_past_the_domain_prefix() {
        let long = "x".repeat(2048);
        assert!(canonicalize(1, &long, false, Some(2048)).is_ok());
        let longer = "x".repeat(2049);
        assert_eq!(canonicalize(1, &longer, false, Some(2048)), Err(Error::Einval));
        assert!(canonicalize(0, &longer, false, None).is_ok());
        let abs = format!("/{}", "y".repeat(XENSTORE_ABS_PATH_MAX));
        assert_eq!(canonicalize(0, &abs, false, None), Err(Error::Einval));
        // Outside /local/domain/<n>/ the whole name counts.
        let top = format!("/{}", "z".repeat(2048));
        assert_eq!(canonicalize(1, &top, false, Some(2048)), Err(Error::Einval));
    }

    #[test]
    fn tree_helpers() {
        assert_eq!(parent("/a/b"), "/a");
        assert_eq!(parent("/a"), "/");
        assert_eq!(basename("/a/b"), "b");
        assert_eq!(join("/", "a"), "/a");
        assert_eq!(join("/a", "b"), "/a/b");
        assert!(is_below_or_at("/a/b", "/a"));
        assert!(is_below_or_at("/a", "/a"));
        assert!(!is_below_or_at("/ab", "/a"));
        assert!(is_below_or_at("/ab", "/"));
        assert!(!is_below_or_at("@releaseDomain", "/"));
    }
}
