//! Parsing client requests: RESP multibulk arrays (`*2\r\n$3\r\nGET\r\n$1\r\nk\r\n`) and inline
//! commands (`GET k\r\n`, what `telnet` and `nc` send).
//!
//! A partial frame is not an error: `parse_request` returns `Ok(None)` and the caller reads more.
//! Sizes are checked from the headers before anything is buffered, so a client cannot make the
//! server allocate more than the configured limits.

use bytes::{Bytes, BytesMut};

/// Upper bounds on a single request frame, from the config (`proto-max-bulk-len`, ...).
#[derive(Debug, Clone, Copy)]
pub struct FrameLimits {
    /// Longest bulk string accepted (Redis: `proto-max-bulk-len`, 512 MB).
    pub max_bulk_len: usize,
    /// Most arguments in one request (Redis: 1024*1024).
    pub max_multibulk_len: usize,
    /// Longest inline command line (Redis: 64 KB).
    pub max_inline_len: usize,
}

impl Default for FrameLimits {
    fn default() -> Self {
        FrameLimits {
            max_bulk_len: 512 * 1024 * 1024,
            max_multibulk_len: 1024 * 1024,
            max_inline_len: 64 * 1024,
        }
    }
}

/// The framing itself is broken: the server answers `-ERR Protocol error: ...` and closes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Protocol error: {0}")]
pub struct ProtocolError(pub String);

fn protocol_error(msg: impl Into<String>) -> ProtocolError {
    ProtocolError(msg.into())
}

/// Parses one request from the front of `buf`. On success the frame's bytes are removed from
/// `buf` and the arguments returned (an empty vector for an empty inline line, which callers skip).
pub fn parse_request(
    buf: &mut BytesMut,
    limits: &FrameLimits,
) -> Result<Option<Vec<Bytes>>, ProtocolError> {
    if buf.is_empty() {
        return Ok(None);
    }
    if buf[0] == b'*' {
        parse_multibulk(buf, limits)
    } else {
        parse_inline(buf, limits)
    }
}

/// Finds `\r\n` at or after `from`; returns the index of `\r`.
fn find_crlf(buf: &[u8], from: usize) -> Option<usize> {
    buf.get(from..)?
        .windows(2)
        .position(|w| w == b"\r\n")
        .map(|p| p + from)
}

fn parse_len(digits: &[u8]) -> Option<i64> {
    if digits.is_empty() || digits.len() > 20 {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse::<i64>().ok()
}

fn parse_multibulk(
    buf: &mut BytesMut,
    limits: &FrameLimits,
) -> Result<Option<Vec<Bytes>>, ProtocolError> {
    let Some(end) = find_crlf(buf, 1) else {
        if buf.len() > limits.max_inline_len {
            return Err(protocol_error("too big mbulk count string"));
        }
        return Ok(None);
    };
    let count = parse_len(&buf[1..end])
        .filter(|n| *n <= limits.max_multibulk_len as i64)
        .ok_or_else(|| protocol_error("invalid multibulk length"))?;
    let mut pos = end + 2;
    if count <= 0 {
        let _ = buf.split_to(pos);
        return Ok(Some(Vec::new()));
    }
    // First pass: validate headers and find where each argument lies, without copying.
    let mut spans = Vec::with_capacity(count as usize);
    for _ in 0..count {
        if pos >= buf.len() {
            return Ok(None);
        }
        if buf[pos] != b'$' {
            return Err(protocol_error(format!(
                "expected '$', got '{}'",
                buf[pos] as char
            )));
        }
        let Some(end) = find_crlf(buf, pos + 1) else {
            if buf.len() - pos > 32 {
                return Err(protocol_error("too big bulk count string"));
            }
            return Ok(None);
        };
        let len = parse_len(&buf[pos + 1..end])
            .filter(|n| *n >= 0 && *n <= limits.max_bulk_len as i64)
            .ok_or_else(|| protocol_error("invalid bulk length"))? as usize;
        let start = end + 2;
        if buf.len() < start + len + 2 {
            // Reserve what the frame announced so the reader fills it in few syscalls.
            buf.reserve(start + len + 2 - buf.len());
            return Ok(None);
        }
        if &buf[start + len..start + len + 2] != b"\r\n" {
            return Err(protocol_error("bulk string not terminated by CRLF"));
        }
        spans.push((start, len));
        pos = start + len + 2;
    }
    let frame = buf.split_to(pos).freeze();
    Ok(Some(
        spans
            .into_iter()
            .map(|(start, len)| frame.slice(start..start + len))
            .collect(),
    ))
}

fn parse_inline(
    buf: &mut BytesMut,
    limits: &FrameLimits,
) -> Result<Option<Vec<Bytes>>, ProtocolError> {
    let Some(nl) = buf.iter().position(|&b| b == b'\n') else {
        if buf.len() > limits.max_inline_len {
            return Err(protocol_error("too big inline request"));
        }
        return Ok(None);
    };
    let line = buf.split_to(nl + 1);
    let mut line = &line[..nl];
    if line.last() == Some(&b'\r') {
        line = &line[..line.len() - 1];
    }
    split_args(line)
        .map(Some)
        .ok_or_else(|| protocol_error("unbalanced quotes in request"))
}

/// Splits an inline command line into arguments the way Redis's `sdssplitargs` does: spaces
/// separate, double quotes allow `\n`, `\xHH`-style escapes, single quotes allow `\'`.
/// Returns `None` on unbalanced quotes or a closing quote not followed by a space.
pub fn split_args(line: &[u8]) -> Option<Vec<Bytes>> {
    let mut args = Vec::new();
    let mut i = 0;
    loop {
        while i < line.len() && line[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= line.len() {
            return Some(args);
        }
        let mut cur = Vec::new();
        let (mut in_dq, mut in_sq) = (false, false);
        loop {
            if in_dq {
                let c = *line.get(i)?;
                if c == b'\\' && i + 3 < line.len() && line[i + 1] == b'x' {
                    if let (Some(h), Some(l)) = (hex(line[i + 2]), hex(line[i + 3])) {
                        cur.push(h * 16 + l);
                        i += 4;
                        continue;
                    }
                }
                if c == b'\\' && i + 1 < line.len() {
                    cur.push(match line[i + 1] {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 8,
                        b'a' => 7,
                        other => other,
                    });
                    i += 2;
                    continue;
                }
                if c == b'"' {
                    if i + 1 < line.len() && !line[i + 1].is_ascii_whitespace() {
                        return None;
                    }
                    i += 1;
                    break;
                }
                cur.push(c);
                i += 1;
            } else if in_sq {
                let c = *line.get(i)?;
                if c == b'\\' && line.get(i + 1) == Some(&b'\'') {
                    cur.push(b'\'');
                    i += 2;
                    continue;
                }
                if c == b'\'' {
                    if i + 1 < line.len() && !line[i + 1].is_ascii_whitespace() {
                        return None;
                    }
                    i += 1;
                    break;
                }
                cur.push(c);
                i += 1;
            } else {
                match line.get(i) {
                    None => break,
                    Some(c) if c.is_ascii_whitespace() => break,
                    Some(b'"') => in_dq = true,
                    Some(b'\'') => in_sq = true,
                    Some(&c) => cur.push(c),
                }
                i += 1;
            }
        }
        args.push(Bytes::from(cur));
    }
}

fn hex(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(input: &[u8]) -> Result<Option<Vec<Bytes>>, ProtocolError> {
        let mut buf = BytesMut::from(input);
        parse_request(&mut buf, &FrameLimits::default())
    }

    #[test]
    fn multibulk_and_partial_frames() {
        let full = b"*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n";
        for cut in 0..full.len() {
            assert_eq!(parse(&full[..cut]).unwrap(), None, "cut at {cut}");
        }
        let args = parse(full).unwrap().unwrap();
        assert_eq!(args, vec![Bytes::from("GET"), Bytes::from("key")]);
    }

    #[test]
    fn pipelined_frames_are_consumed_one_at_a_time() {
        let mut buf = BytesMut::from(&b"*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nPING\r\n"[..]);
        let limits = FrameLimits::default();
        assert!(parse_request(&mut buf, &limits).unwrap().is_some());
        assert!(parse_request(&mut buf, &limits).unwrap().is_some());
        assert!(buf.is_empty());
    }

    #[test]
    fn malformed_frames_are_protocol_errors() {
        assert_eq!(
            parse(b"*x\r\n").unwrap_err().to_string(),
            "Protocol error: invalid multibulk length"
        );
        assert_eq!(
            parse(b"*1\r\n+foo\r\n").unwrap_err().to_string(),
            "Protocol error: expected '$', got '+'"
        );
        assert_eq!(
            parse(b"*1\r\n$-5\r\n").unwrap_err().to_string(),
            "Protocol error: invalid bulk length"
        );
        let limits = FrameLimits {
            max_bulk_len: 10,
            ..FrameLimits::default()
        };
        let mut buf = BytesMut::from(&b"*1\r\n$11\r\n"[..]);
        assert!(parse_request(&mut buf, &limits).is_err());
    }

    #[test]
    fn inline_commands_with_quotes() {
        let args = parse(b"SET \"a b\" 'c\\'d' \"\\x41\\n\"\r\n")
            .unwrap()
            .unwrap();
        assert_eq!(
            args,
            vec![
                Bytes::from("SET"),
                Bytes::from("a b"),
                Bytes::from("c'd"),
                Bytes::from("A\n")
            ]
        );
        assert_eq!(parse(b"\r\n").unwrap().unwrap(), Vec::<Bytes>::new());
        assert!(parse(b"SET \"abc\r\n").is_err());
    }
}
