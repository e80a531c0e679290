//! The one error type of the config parser. Every error names the file;
//! all but a missing key also name the line, and value errors the key, so
//! `Display` gives a line an editor can jump to:
//! `demo.cfg:3: memory: expected an integer (MiB), got "lots"`.

use alloc::string::String;
use core::fmt;

/// Why a config file was rejected, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The file name as the caller gave it to [`crate::parse`].
    pub file: String,
    /// 1-based line; `None` only for [`ErrorKind::Missing`].
    pub line: Option<u32>,
    pub kind: ErrorKind,
}

/// What is wrong. Messages are built where the problem is found, because
/// each one quotes the offending text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorKind {
    /// The text is not xl.cfg syntax (message says what was expected).
    Syntax(String),
    /// A key this parser does not know (xl's other keys included: a key we
    /// would silently ignore is a setting the user thinks is in effect).
    UnknownKey(String),
    /// `key` was already set on `first_line` (as `first_key`, which differs
    /// from `key` when one is an alias of the other, e.g. `extra`/`cmdline`).
    DuplicateKey {
        key: String,
        first_key: String,
        first_line: u32,
    },
    /// A required key is absent.
    Missing(&'static str),
    /// The key is known but its value is not acceptable.
    Value { key: String, message: String },
}

impl ConfigError {
    pub(crate) fn at(file: &str, line: u32, kind: ErrorKind) -> Self {
        Self {
            file: file.into(),
            line: Some(line),
            kind,
        }
    }

    /// The key the error is about, if it is about one.
    pub fn key(&self) -> Option<&str> {
        match &self.kind {
            ErrorKind::Syntax(_) => None,
            ErrorKind::UnknownKey(k) | ErrorKind::DuplicateKey { key: k, .. } => Some(k),
            ErrorKind::Value { key, .. } => Some(key),
            ErrorKind::Missing(k) => Some(k),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        f.write_str(": ")?;
        match &self.kind {
            ErrorKind::Syntax(m) => write!(f, "syntax error: {m}"),
            ErrorKind::UnknownKey(k) => write!(f, "unknown key {k:?}"),
            ErrorKind::DuplicateKey {
                key,
                first_key,
                first_line,
            } if key == first_key => {
                write!(f, "duplicate key {key:?} (first set on line {first_line})")
            }
            ErrorKind::DuplicateKey {
                key,
                first_key,
                first_line,
            } => write!(
                f,
                "duplicate key {key:?} (an alias of {first_key:?}, set on line {first_line})"
            ),
            ErrorKind::Missing(k) => write!(f, "missing required key {k:?}"),
            ErrorKind::Value { key, message } => write!(f, "{key}: {message}"),
        }
    }
}

impl core::error::Error for ConfigError {}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn display_forms() {
        let e = |line, kind| ConfigError {
            file: "demo.cfg".into(),
            line,
            kind,
        };
        assert_eq!(
            e(
                Some(3),
                ErrorKind::Value {
                    key: "memory".into(),
                    message: "bad".into()
                }
            )
            .to_string(),
            "demo.cfg:3: memory: bad"
        );
        assert_eq!(
            e(Some(5), ErrorKind::UnknownKey("memroy".into())).to_string(),
            "demo.cfg:5: unknown key \"memroy\""
        );
        assert_eq!(
            e(None, ErrorKind::Missing("name")).to_string(),
            "demo.cfg: missing required key \"name\""
        );
        let dup = |k: &str| ErrorKind::DuplicateKey {
            key: k.into(),
            first_key: "cmdline".into(),
            first_line: 2,
        };
        assert_eq!(
            e(Some(4), dup("cmdline")).to_string(),
            "demo.cfg:4: duplicate key \"cmdline\" (first set on line 2)"
        );
        assert_eq!(
            e(Some(4), dup("extra")).to_string(),
            "demo.cfg:4: duplicate key \"extra\" (an alias of \"cmdline\", set on line 2)"
        );
        assert_eq!(
            e(Some(1), ErrorKind::Syntax("x".into())).to_string(),
            "demo.cfg:1: syntax error: x"
        );
    }

    #[test]
    fn key_names_the_subject() {
        let e = ConfigError::at("a", 1, ErrorKind::UnknownKey("k".into()));
        assert_eq!(e.key(), Some("k"));
        assert_eq!(
            ConfigError::at("a", 1, ErrorKind::Syntax("s".into())).key(),
            None
        );
    }
}
