//! The xl.cfg file syntax (libxlu's grammar), with no meaning attached:
//! a file is a sequence of `KEY = VALUE` settings, one per line or separated
//! by `;`. A value is an atom (a `"double"` or `'single'` quoted string, or
//! a bare number such as `512` or `0x200`) or a list `[ atom, atom, ]` that
//! may span lines and may end in a comma. `#` starts a comment that runs to
//! the end of the line, also inside a list.
//!
//! Differences from libxlu, each on purpose:
//! - `KEY += VALUE` (libxlu concatenates onto an earlier setting) is
//!   rejected: the parser above forbids setting a key twice.
//! - Nested lists are rejected: no key we know takes one.
//! - A bare word after `=` (`type = pvh`) is an error naming the fix
//!   (quotes), where libxlu says "lexical error"; a bare number with a unit
//!   (`512M`) lexes as one word so the key's check can quote it whole.
//! - `\r` is whitespace, so files with CRLF line ends parse.
//! - String escapes are `\" \' \\ \a \b \f \n \r \t \v \xHH`; libxlu's
//!   octal escape (which actually reads decimal digits) is rejected.
//!
//! Input is bytes, not `str`: the parser must survive any file; strings
//! must decode as UTF-8, comments may hold anything.

use crate::error::{ConfigError, ErrorKind};
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

/// A single value: the text of a string (unquoted, escapes applied) or of a
/// bare number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Atom {
    pub text: String,
    /// Written in quotes (`"512"`) rather than bare (`512`). xl treats both
    /// alike; we only use this to word error messages.
    pub quoted: bool,
    pub line: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Atom(Atom),
    /// `line` is where the `[` is.
    List {
        items: Vec<Atom>,
        line: u32,
    },
}

impl Value {
    pub fn line(&self) -> u32 {
        match self {
            Value::Atom(a) => a.line,
            Value::List { line, .. } => *line,
        }
    }
}

/// One `KEY = VALUE`; `line` is the key's line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    pub key: String,
    pub line: u32,
    pub value: Value,
}

/// Splits `text` into settings, in file order. Keys are not checked here.
pub fn parse_settings(file: &str, text: &[u8]) -> Result<Vec<Setting>, ConfigError> {
    Parser {
        file,
        text,
        pos: 0,
        line: 1,
    }
    .file()
}

struct Parser<'a> {
    file: &'a str,
    text: &'a [u8],
    pos: usize,
    line: u32,
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'.'
}

/// How a byte that does not belong is shown: printable ASCII as itself,
/// anything else as hex, so the message is readable whatever the file holds.
fn describe(b: Option<u8>) -> String {
    match b {
        None => "the end of the file".into(),
        Some(b'\n') => "the end of the line".into(),
        Some(b) if b.is_ascii_graphic() => format!("'{}'", char::from(b)),
        Some(b) => format!("byte 0x{b:02x}"),
    }
}

impl Parser<'_> {
    fn err(&self, message: String) -> ConfigError {
        ConfigError::at(self.file, self.line, ErrorKind::Syntax(message))
    }

    fn peek(&self) -> Option<u8> {
        self.text.get(self.pos).copied()
    }

    fn skip_blanks(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\r')) {
            self.pos += 1;
        }
    }

    /// Skips a `#` comment up to (not including) its newline.
    fn skip_comment(&mut self) {
        while !matches!(self.peek(), None | Some(b'\n')) {
            self.pos += 1;
        }
    }

    fn newline(&mut self) {
        self.pos += 1;
        self.line = self.line.saturating_add(1);
    }

    fn word(&mut self) -> String {
        let start = self.pos;
        while self.peek().is_some_and(is_word_byte) {
            self.pos += 1;
        }
        // Word bytes are ASCII, so this is lossless.
        self.text
            .get(start..self.pos)
            .map(|w| String::from_utf8_lossy(w).into_owned())
            .unwrap_or_default()
    }

    fn file(mut self) -> Result<Vec<Setting>, ConfigError> {
        let mut settings = Vec::new();
        loop {
            self.skip_blanks();
            match self.peek() {
                None => return Ok(settings),
                Some(b'\n') => self.newline(),
                Some(b'#') => self.skip_comment(),
                Some(b';') => self.pos += 1,
                Some(b) if b.is_ascii_alphabetic() || b == b'_' => settings.push(self.setting()?),
                other => {
                    return Err(self.err(format!("expected a key, found {}", describe(other))));
                }
            }
        }
    }

    fn setting(&mut self) -> Result<Setting, ConfigError> {
        let line = self.line;
        let key = self.word();
        self.skip_blanks();
        match self.peek() {
            Some(b'=') => self.pos += 1,
            Some(b'+') if self.text.get(self.pos + 1) == Some(&b'=') => {
                return Err(self.err(format!(
                    "\"+=\" is not supported; give {key:?} its whole value in one setting"
                )));
            }
            other => {
                return Err(self.err(format!(
                    "expected '=' after {key:?}, found {}",
                    describe(other)
                )));
            }
        }
        self.skip_blanks();
        let value = match self.peek() {
            Some(b'[') => self.list()?,
            _ => Value::Atom(self.atom("a value (a quoted string, a number or a list)")?),
        };
        self.skip_blanks();
        match self.peek() {
            None | Some(b'\n' | b'#' | b';') => Ok(Setting { key, line, value }),
            other => Err(self.err(format!(
                "expected the end of the line after the value of {key:?}, found {}",
                describe(other)
            ))),
        }
    }

    /// A string or a bare number; `what` names what was expected.
    fn atom(&mut self, what: &str) -> Result<Atom, ConfigError> {
        let line = self.line;
        match self.peek() {
            Some(q @ (b'"' | b'\'')) => {
                let text = self.string(q)?;
                Ok(Atom {
                    text,
                    quoted: true,
                    line,
                })
            }
            Some(b) if b.is_ascii_digit() => Ok(Atom {
                text: self.word(),
                quoted: false,
                line,
            }),
            Some(b) if is_word_byte(b) => {
                let w = self.word();
                Err(self.err(format!(
                    "expected {what}, found the bare word {w:?} (strings need quotes)"
                )))
            }
            Some(b'[') => Err(self.err("nested lists are not supported".into())),
            other => Err(self.err(format!("expected {what}, found {}", describe(other)))),
        }
    }

    /// `[ atom, atom, ]`: newlines and comments allowed between elements.
    fn list(&mut self) -> Result<Value, ConfigError> {
        let line = self.line;
        self.pos += 1; // '['
        let mut items = Vec::new();
        loop {
            self.skip_list_space();
            if self.peek() == Some(b']') {
                self.pos += 1;
                return Ok(Value::List { items, line });
            }
            if self.peek().is_none() {
                return Err(self.err(format!("unterminated list (opened on line {line})")));
            }
            items.push(self.atom("a list element (a quoted string or a number)")?);
            self.skip_list_space();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {}
                None => return Err(self.err(format!("unterminated list (opened on line {line})"))),
                other => {
                    return Err(self.err(format!(
                        "expected ',' or ']' in the list, found {}",
                        describe(other)
                    )));
                }
            }
        }
    }

    fn skip_list_space(&mut self) {
        loop {
            self.skip_blanks();
            match self.peek() {
                Some(b'\n') => self.newline(),
                Some(b'#') => self.skip_comment(),
                _ => return,
            }
        }
    }

    /// A string opened by `quote`; escapes applied; must be UTF-8.
    fn string(&mut self, quote: u8) -> Result<String, ConfigError> {
        self.pos += 1;
        let mut out = Vec::new();
        loop {
            let Some(b) = self.peek() else {
                return Err(self.err("unterminated string".into()));
            };
            self.pos += 1;
            match b {
                b'\n' => {
                    self.pos -= 1;
                    return Err(self.err("unterminated string (strings end on their line)".into()));
                }
                b'\\' => out.push(self.escape()?),
                b if b == quote => break,
                b => out.push(b),
            }
        }
        String::from_utf8(out).map_err(|_| self.err("string is not valid UTF-8".into()))
    }

    /// The byte an escape after `\` stands for.
    fn escape(&mut self) -> Result<u8, ConfigError> {
        let c = self.peek();
        let byte = match c {
            Some(c @ (b'"' | b'\'' | b'\\')) => c,
            Some(b'a') => 0x07,
            Some(b'b') => 0x08,
            Some(b'f') => 0x0c,
            Some(b'n') => b'\n',
            Some(b'r') => b'\r',
            Some(b't') => b'\t',
            Some(b'v') => 0x0b,
            Some(b'x') => {
                let hex = |i: usize| {
                    self.text
                        .get(self.pos + i)
                        .and_then(|&h| char::from(h).to_digit(16))
                };
                let (Some(hi), Some(lo)) = (hex(1), hex(2)) else {
                    return Err(self.err("\\x needs two hex digits".into()));
                };
                self.pos += 3;
                // Two hex digits are at most 0xff.
                return Ok(u8::try_from(hi * 16 + lo).unwrap_or(u8::MAX));
            }
            None | Some(b'\n') => return Err(self.err("unterminated string".into())),
            Some(other) => {
                return Err(self.err(format!(
                    "invalid escape \\{} in string",
                    describe(Some(other))
                )));
            }
        };
        self.pos += 1;
        Ok(byte)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;
    use alloc::vec;

    fn atom(text: &str, quoted: bool, line: u32) -> Atom {
        Atom {
            text: text.into(),
            quoted,
            line,
        }
    }

    fn parse(s: &str) -> Result<Vec<Setting>, String> {
        parse_settings("t.cfg", s.as_bytes()).map_err(|e| e.to_string())
    }

    #[test]
    fn atoms_lists_comments() {
        let s = parse(
            "# head\nname = \"demo\" # trailing\nmemory=512\nkind = 'single'\n\
             disk = [ 'a',\n  # inside\n  \"b\", ]\nempty=[]; x = 0x10",
        )
        .unwrap();
        assert_eq!(s.len(), 6);
        assert_eq!(
            s[0],
            Setting {
                key: "name".into(),
                line: 2,
                value: Value::Atom(atom("demo", true, 2))
            }
        );
        assert_eq!(s[1].value, Value::Atom(atom("512", false, 3)));
        assert_eq!(s[2].value, Value::Atom(atom("single", true, 4)));
        assert_eq!(
            s[3].value,
            Value::List {
                items: vec![atom("a", true, 5), atom("b", true, 7)],
                line: 5
            }
        );
        assert_eq!(
            s[4].value,
            Value::List {
                items: vec![],
                line: 8
            }
        );
        assert_eq!((s[5].key.as_str(), s[5].line), ("x", 8));
    }

    #[test]
    fn escapes() {
        let s = parse(r#"a = "q\"\'\\\t\x41\n""#).unwrap();
        assert_eq!(s[0].value, Value::Atom(atom("q\"'\\\tA\n", true, 1)));
        assert_eq!(
            parse(r"a = 'it\'s'").unwrap()[0].value,
            Value::Atom(atom("it's", true, 1))
        );
        // The other quote needs no escape.
        assert_eq!(
            parse(r#"a = 'say "hi"'"#).unwrap()[0].value,
            Value::Atom(atom("say \"hi\"", true, 1))
        );
    }

    #[test]
    fn crlf_and_no_final_newline() {
        let s = parse("a = 1\r\nb = 2").unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(s[1].line, 2);
    }

    #[test]
    fn errors_name_the_line() {
        let cases = [
            (
                "a = 1\nb 2",
                "t.cfg:2: syntax error: expected '=' after \"b\", found '2'",
            ),
            (
                "a = pvh",
                "t.cfg:1: syntax error: expected a value (a quoted string, a number or a list), found the bare word \"pvh\" (strings need quotes)",
            ),
            (
                "a = \"open\nb = 1",
                "t.cfg:1: syntax error: unterminated string (strings end on their line)",
            ),
            (
                "a = [ 'x'\n 'y' ]",
                "t.cfg:2: syntax error: expected ',' or ']' in the list, found '''",
            ),
            (
                "a = [ 'x',\n",
                "t.cfg:2: syntax error: unterminated list (opened on line 1)",
            ),
            (
                "a = [ [ 'x' ] ]",
                "t.cfg:1: syntax error: nested lists are not supported",
            ),
            (
                "a = [ , ]",
                "t.cfg:1: syntax error: expected a list element (a quoted string or a number), found ','",
            ),
            (
                "a += [ 'x' ]",
                "t.cfg:1: syntax error: \"+=\" is not supported; give \"a\" its whole value in one setting",
            ),
            (
                "a = 1 b = 2",
                "t.cfg:1: syntax error: expected the end of the line after the value of \"a\", found 'b'",
            ),
            (
                "\n\n= 1",
                "t.cfg:3: syntax error: expected a key, found '='",
            ),
            (
                "a = \"\\q\"",
                "t.cfg:1: syntax error: invalid escape \\'q' in string",
            ),
            (
                "a = \"\\x4\"",
                "t.cfg:1: syntax error: \\x needs two hex digits",
            ),
            (
                "a = \"\\xff\"",
                "t.cfg:1: syntax error: string is not valid UTF-8",
            ),
            (
                "a = \u{e9}",
                "t.cfg:1: syntax error: expected a value (a quoted string, a number or a list), found byte 0xc3",
            ),
            (
                "a =",
                "t.cfg:1: syntax error: expected a value (a quoted string, a number or a list), found the end of the file",
            ),
        ];
        for (text, want) in cases {
            assert_eq!(parse(text).unwrap_err(), want, "input {text:?}");
        }
    }

    #[test]
    fn comments_may_hold_any_bytes() {
        let s = parse_settings("t", b"# \xff\xfe\x00\na = 1").unwrap();
        assert_eq!(s[0].line, 2);
    }
}
