//! Reading `key=value` options from a kernel command line: space-separated
//! words, the first word with the key wins, other words are ignored.

/// The value of the first `key=value` word, if any.
pub fn value<'a>(cmdline: &'a str, key: &str) -> Option<&'a str> {
    cmdline
        .split_ascii_whitespace()
        .find_map(|word| word.strip_prefix(key)?.strip_prefix('='))
}

/// Whether the bare word `word` appears.
pub fn flag(cmdline: &str, word: &str) -> bool {
    cmdline.split_ascii_whitespace().any(|w| w == word)
}

/// A number in decimal or, with `0x`, hexadecimal; `_` separators allowed.
pub fn parse_u64(text: &str) -> Option<u64> {
    let (digits, radix) = match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => (hex, 16),
        None => (text, 10),
    };
    let mut seen_digit = false;
    let mut n: u64 = 0;
    for c in digits.chars() {
        if c == '_' {
            continue;
        }
        let d = c.to_digit(radix)?;
        n = n.checked_mul(u64::from(radix))?.checked_add(u64::from(d))?;
        seen_digit = true;
    }
    seen_digit.then_some(n)
}

/// The number of the first `key=N` word: `Ok(None)` if absent, `Err(text)` if
/// its value is not a number.
pub fn number<'a>(cmdline: &'a str, key: &str) -> Result<Option<u64>, &'a str> {
    match value(cmdline, key) {
        None => Ok(None),
        Some(text) => parse_u64(text).map(Some).ok_or(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_word_with_the_key_wins() {
        assert_eq!(value("seed=1 count=5 seed=2", "seed"), Some("1"));
        assert_eq!(value("  count=5\tmode=32 ", "mode"), Some("32"));
        assert_eq!(value("seeds=1", "seed"), None);
        assert_eq!(value("seed", "seed"), None);
        assert_eq!(value("", "seed"), None);
    }

    #[test]
    fn flags_are_whole_words() {
        assert!(flag("a verbose b", "verbose"));
        assert!(!flag("verbosely", "verbose"));
    }

    #[test]
    fn numbers_in_decimal_and_hex() {
        assert_eq!(parse_u64("100000"), Some(100_000));
        assert_eq!(parse_u64("100_000"), Some(100_000));
        assert_eq!(parse_u64("0x7ff0"), Some(0x7ff0));
        assert_eq!(parse_u64("18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_u64("18446744073709551616"), None);
        assert_eq!(parse_u64(""), None);
        assert_eq!(parse_u64("0x"), None);
        assert_eq!(parse_u64("12a"), None);
    }

    #[test]
    fn number_reports_bad_values() {
        assert_eq!(number("count=10", "count"), Ok(Some(10)));
        assert_eq!(number("x=1", "count"), Ok(None));
        assert_eq!(number("count=ten", "count"), Err("ten"));
    }
}
