//! A typed view of a command's arguments, so handlers never parse raw bytes by hand.

use bytes::Bytes;

use super::long_double::{is_c_space, strtod};
use super::CmdError;

pub struct Args<'a> {
    argv: &'a [Bytes],
}

impl<'a> Args<'a> {
    pub fn new(argv: &'a [Bytes]) -> Args<'a> {
        Args { argv }
    }

    /// Number of arguments, the command name included.
    pub fn len(&self) -> usize {
        self.argv.len()
    }

    pub fn is_empty(&self) -> bool {
        self.argv.is_empty()
    }

    /// Argument `i` (0 is the command name). Arity is checked before handlers run, so handlers
    /// index within it; out of range is a syntax error, never a panic.
    pub fn get(&self, i: usize) -> Result<&'a Bytes, CmdError> {
        self.argv.get(i).ok_or(CmdError::Syntax)
    }

    pub fn all(&self) -> &'a [Bytes] {
        self.argv
    }

    pub fn from(&self, i: usize) -> &'a [Bytes] {
        self.argv.get(i..).unwrap_or(&[])
    }

    pub fn int(&self, i: usize) -> Result<i64, CmdError> {
        parse_i64(self.get(i)?)
    }

    pub fn float(&self, i: usize) -> Result<f64, CmdError> {
        parse_f64(self.get(i)?)
    }

    /// Whether argument `i` is the keyword `word` (case-insensitive).
    pub fn is(&self, i: usize, word: &str) -> bool {
        self.argv
            .get(i)
            .is_some_and(|a| a.eq_ignore_ascii_case(word.as_bytes()))
    }

    /// Argument `i` upper-cased, for matching options.
    pub fn upper(&self, i: usize) -> Result<String, CmdError> {
        Ok(String::from_utf8_lossy(self.get(i)?).to_ascii_uppercase())
    }
}

/// Parses a 64-bit integer exactly as Redis's `string2ll` does: no sign but `-`, no spaces, no
/// leading zeros.
pub fn parse_i64(b: &[u8]) -> Result<i64, CmdError> {
    let s = std::str::from_utf8(b).map_err(|_| CmdError::NotInteger)?;
    let digits = s.strip_prefix('-').unwrap_or(s);
    let canonical = !digits.is_empty()
        && digits.bytes().all(|c| c.is_ascii_digit())
        && (digits == "0" || !digits.starts_with('0'))
        && s != "-0";
    if !canonical {
        return Err(CmdError::NotInteger);
    }
    s.parse::<i64>().map_err(|_| CmdError::NotInteger)
}

/// A double as Redis's `string2d` reads one: all of the text is a C `strtod` number (hex
/// included) with no leading space, neither NaN nor out of range.
pub fn parse_f64(b: &[u8]) -> Result<f64, CmdError> {
    if b.first().is_none_or(|c| is_c_space(*c)) {
        return Err(CmdError::NotFloat);
    }
    match strtod(b) {
        Some(n) if !n.out_of_range && !n.value.is_nan() => Ok(n.value),
        _ => Err(CmdError::NotFloat),
    }
}

/// Resolves Redis's inclusive `start`/`stop` indexes (negative counts from the end) against a
/// length. Returns `None` when the range is empty.
pub fn resolve_range(start: i64, stop: i64, len: u64) -> Option<(u64, u64)> {
    let len = len as i64;
    let mut start = if start < 0 { len + start } else { start };
    let mut stop = if stop < 0 { len + stop } else { stop };
    if start < 0 {
        start = 0;
    }
    if stop >= len {
        stop = len - 1;
    }
    if start > stop || start >= len {
        return None;
    }
    if stop < 0 {
        stop = 0;
    }
    Some((start as u64, stop as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_parse_like_redis() {
        assert_eq!(parse_i64(b"42").unwrap(), 42);
        assert_eq!(parse_i64(b"-9223372036854775808").unwrap(), i64::MIN);
        for bad in [
            "",
            "+1",
            "01",
            " 1",
            "1 ",
            "-0",
            "9223372036854775808",
            "1.0",
            "abc",
        ] {
            assert!(parse_i64(bad.as_bytes()).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn floats_parse_like_redis() {
        assert_eq!(parse_f64(b"1.5").unwrap(), 1.5);
        assert_eq!(parse_f64(b"-inf").unwrap(), f64::NEG_INFINITY);
        assert_eq!(parse_f64(b"1e3").unwrap(), 1000.0);
        assert_eq!(parse_f64(b"0x10").unwrap(), 16.0);
        assert_eq!(parse_f64(b"-0x1.8p1").unwrap(), -3.0);
        assert_eq!(parse_f64(b"4e-320").unwrap(), 4e-320, "subnormals are kept");
        for bad in [
            "",
            "nan",
            " 1",
            "1 ",
            "abc",
            "1e400",
            "-1e-400",
            "0x1p99999",
            "1\0",
        ] {
            assert!(parse_f64(bad.as_bytes()).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn ranges_resolve_like_lrange() {
        assert_eq!(resolve_range(0, -1, 5), Some((0, 4)));
        assert_eq!(resolve_range(-2, -1, 5), Some((3, 4)));
        assert_eq!(resolve_range(-100, 100, 5), Some((0, 4)));
        assert_eq!(resolve_range(3, 1, 5), None);
        assert_eq!(resolve_range(5, 10, 5), None);
        assert_eq!(resolve_range(0, -1, 0), None);
    }
}
