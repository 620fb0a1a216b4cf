//! Parsing client requests: RESP multibulk arrays (`*2\r\n$3\r\nGET\r\n$1\r\nk\r\n`) and inline
//! commands (`GET k\r\n`, what `telnet` and `nc` send).
//!
//! A partial frame is not an error: [`RequestParser::parse`] returns `Ok(None)` and the caller
//! reads more. The parser remembers how far it got, so a large frame arriving in many reads is
//! parsed once, not again from its first byte on every read. Sizes are checked from the headers,
//! and memory grows only with the bytes that actually arrive: a header announcing 512 MB or a
//! million arguments reserves nothing by itself.

use bytes::{Bytes, BytesMut};

/// Upper bounds on a single request frame, from the config (`proto-max-bulk-len`, ...).
#[derive(Debug, Clone, Copy)]
pub struct FrameLimits {
    /// Longest bulk string accepted (Redis: `proto-max-bulk-len`, 512 MB).
    pub max_bulk_len: usize,
    /// Most arguments in one request (Redis 7: INT_MAX; memory is bounded by the query buffer
    /// limit, since nothing is allocated for arguments that have not arrived).
    pub max_multibulk_len: usize,
    /// Longest inline command line, and longest `*` or `$` header line (Redis: 64 KB).
    pub max_inline_len: usize,
}

impl Default for FrameLimits {
    fn default() -> Self {
        FrameLimits {
            max_bulk_len: 512 * 1024 * 1024,
            max_multibulk_len: i32::MAX as usize,
            max_inline_len: 64 * 1024,
        }
    }
}

/// Most arguments a client that has not authenticated may send in one request (Redis 7).
pub const UNAUTHENTICATED_MAX_ARGS: i64 = 10;
/// Longest argument a client that has not authenticated may send (Redis 7).
pub const UNAUTHENTICATED_MAX_BULK: usize = 16 * 1024;

/// Longest `$<len>` header line: a sign, 19 digits and CRLF fit well within it.
const MAX_BULK_HEADER: usize = 32;

/// The framing itself is broken: the server answers `-ERR Protocol error: ...` and closes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Protocol error: {0}")]
pub struct ProtocolError(pub String);

fn protocol_error(msg: impl Into<String>) -> ProtocolError {
    ProtocolError(msg.into())
}

/// How far the request at the front of the connection's buffer has been parsed. The request in
/// progress always starts at `buf[0]` (a complete one is split off), so offsets stay valid when
/// the buffer grows.
#[derive(Debug, Default)]
pub struct RequestParser {
    /// Arguments the multibulk in progress still expects; 0 between requests.
    remaining: usize,
    /// End of what is parsed of the multibulk in progress.
    pos: usize,
    /// Length announced by the `$` header just before `pos`, whose data has not all arrived.
    bulk: Option<usize>,
    /// Where each complete argument of the multibulk in progress lies.
    spans: Vec<(usize, usize)>,
    /// Where the search for the end of the current line resumes: bytes before it were looked at.
    scanned: usize,
    /// Bytes looked at while searching for line ends, for the tests of linear parsing.
    #[cfg(test)]
    searched: usize,
}

/// `spans` keeps its capacity between requests up to this many arguments.
const SPANS_KEPT: usize = 1024;

impl RequestParser {
    /// Parses one request from the front of `buf`. On success the frame's bytes are removed from
    /// `buf` and the arguments returned (an empty vector for an empty inline line, which callers
    /// skip). `unauthenticated`: the client must AUTH before it may send more than 10 arguments
    /// or arguments longer than 16 KB (Redis 7's limits before AUTH).
    pub fn parse(
        &mut self,
        buf: &mut BytesMut,
        limits: &FrameLimits,
        unauthenticated: bool,
    ) -> Result<Option<Vec<Bytes>>, ProtocolError> {
        if self.remaining == 0 {
            match buf.first() {
                None => return Ok(None),
                Some(b'*') => {
                    if !self.multibulk_header(buf, limits, unauthenticated)? {
                        return Ok(None);
                    }
                    if self.remaining == 0 {
                        // `*0` and `*-1` are empty requests.
                        let _ = buf.split_to(self.pos);
                        self.pos = 0;
                        return Ok(Some(Vec::new()));
                    }
                }
                Some(_) => return self.inline(buf, limits),
            }
        }
        self.multibulk_args(buf, limits, unauthenticated)
    }

    /// Bytes held for the request in progress: the buffer and the argument index, which a
    /// request of many empty arguments makes larger than the buffer itself.
    pub fn memory(&self, buf: &BytesMut) -> usize {
        buf.len() + self.spans.len() * std::mem::size_of::<(usize, usize)>()
    }

    /// Finds `\r\n` at or after `from`; returns the index of `\r`. Bytes already searched for the
    /// same line are not searched again.
    fn line_end(&mut self, buf: &[u8], from: usize) -> Option<usize> {
        let start = from.max(self.scanned);
        let found = find_crlf(buf, start);
        #[cfg(test)]
        {
            self.searched += found.map_or(buf.len(), |end| end + 2).saturating_sub(start);
        }
        match found {
            Some(end) => {
                self.scanned = 0;
                Some(end)
            }
            None => {
                // A `\r` at the very end may be followed by the `\n` of the next read.
                self.scanned = buf.len().saturating_sub(1).max(start);
                None
            }
        }
    }

    /// Reads `*<count>\r\n`; false if the line is not complete yet.
    fn multibulk_header(
        &mut self,
        buf: &BytesMut,
        limits: &FrameLimits,
        unauthenticated: bool,
    ) -> Result<bool, ProtocolError> {
        let Some(end) = self.line_end(buf, 1) else {
            if buf.len() > limits.max_inline_len {
                return Err(protocol_error("too big mbulk count string"));
            }
            return Ok(false);
        };
        let count = parse_len(&buf[1..end])
            .filter(|n| *n <= limits.max_multibulk_len as i64)
            .ok_or_else(|| protocol_error("invalid multibulk length"))?;
        if unauthenticated && count > UNAUTHENTICATED_MAX_ARGS {
            return Err(protocol_error("unauthenticated multibulk length"));
        }
        self.pos = end + 2;
        self.remaining = count.max(0) as usize;
        self.bulk = None;
        Ok(true)
    }

    fn multibulk_args(
        &mut self,
        buf: &mut BytesMut,
        limits: &FrameLimits,
        unauthenticated: bool,
    ) -> Result<Option<Vec<Bytes>>, ProtocolError> {
        while self.remaining > 0 {
            let len = match self.bulk {
                Some(len) => len,
                None => {
                    let pos = self.pos;
                    let Some(&kind) = buf.get(pos) else {
                        return Ok(None);
                    };
                    if kind != b'$' {
                        return Err(protocol_error(format!(
                            "expected '$', got '{}'",
                            kind as char
                        )));
                    }
                    let Some(end) = self.line_end(buf, pos + 1) else {
                        if buf.len() - pos > MAX_BULK_HEADER {
                            return Err(protocol_error("too big bulk count string"));
                        }
                        return Ok(None);
                    };
                    let len = parse_len(&buf[pos + 1..end])
                        .filter(|n| *n >= 0 && *n <= limits.max_bulk_len as i64)
                        .ok_or_else(|| protocol_error("invalid bulk length"))?
                        as usize;
                    if unauthenticated && len > UNAUTHENTICATED_MAX_BULK {
                        return Err(protocol_error("unauthenticated bulk length"));
                    }
                    self.pos = end + 2;
                    self.bulk = Some(len);
                    len
                }
            };
            let start = self.pos;
            let end = start + len + 2;
            if buf.len() < end {
                // Room for the rest of the argument, but never more than what already arrived:
                // the buffer at most doubles per read, so a header alone reserves nothing and a
                // large argument is still read in few, large reads.
                let missing = end - buf.len();
                buf.reserve(missing.min(buf.len()));
                return Ok(None);
            }
            if &buf[start + len..end] != b"\r\n" {
                return Err(protocol_error("bulk string not terminated by CRLF"));
            }
            self.spans.push((start, len));
            self.pos = end;
            self.bulk = None;
            self.remaining -= 1;
        }
        let frame = buf.split_to(self.pos).freeze();
        self.pos = 0;
        let args = self
            .spans
            .iter()
            .map(|&(start, len)| frame.slice(start..start + len))
            .collect();
        if self.spans.capacity() > SPANS_KEPT {
            self.spans = Vec::new();
        } else {
            self.spans.clear();
        }
        Ok(Some(args))
    }

    fn inline(
        &mut self,
        buf: &mut BytesMut,
        limits: &FrameLimits,
    ) -> Result<Option<Vec<Bytes>>, ProtocolError> {
        let from = self.scanned;
        let found = buf[from..]
            .iter()
            .position(|&b| b == b'\n')
            .map(|p| p + from);
        #[cfg(test)]
        {
            self.searched += found.map_or(buf.len(), |nl| nl + 1) - from;
        }
        let Some(nl) = found else {
            if buf.len() > limits.max_inline_len {
                return Err(protocol_error("too big inline request"));
            }
            self.scanned = buf.len();
            return Ok(None);
        };
        self.scanned = 0;
        let line = buf.split_to(nl + 1);
        let mut line = &line[..nl];
        if line.last() == Some(&b'\r') {
            line = &line[..line.len() - 1];
        }
        split_args(line)
            .map(Some)
            .ok_or_else(|| protocol_error("unbalanced quotes in request"))
    }
}

/// Finds `\r\n` at or after `from`; returns the index of `\r`.
fn find_crlf(buf: &[u8], from: usize) -> Option<usize> {
    buf.get(from..)?
        .windows(2)
        .position(|w| w == b"\r\n")
        .map(|p| p + from)
}

/// Reads a length as Redis's `string2ll` does: an optional `-`, then digits with no leading
/// zero (except `0` itself), no `+`, no spaces, within `i64`.
fn parse_len(digits: &[u8]) -> Option<i64> {
    let (negative, digits) = match digits.split_first()? {
        (b'-', rest) => (true, rest),
        _ => (false, digits),
    };
    match digits {
        [b'0'] if !negative => return Some(0),
        [b'1'..=b'9', ..] => {}
        _ => return None,
    }
    let mut n: i64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        let d = i64::from(d - b'0');
        n = n.checked_mul(10)?;
        n = if negative {
            n.checked_sub(d)?
        } else {
            n.checked_add(d)?
        };
    }
    Some(n)
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
        RequestParser::default().parse(&mut buf, &FrameLimits::default(), false)
    }

    fn parse_unauthenticated(input: &[u8]) -> Result<Option<Vec<Bytes>>, ProtocolError> {
        let mut buf = BytesMut::from(input);
        RequestParser::default().parse(&mut buf, &FrameLimits::default(), true)
    }

    /// Feeds `input` `chunk` bytes at a time into one parser and buffer, as reads would.
    fn parse_in_chunks(input: &[u8], chunk: usize) -> (Vec<Vec<Bytes>>, RequestParser) {
        let mut parser = RequestParser::default();
        let mut buf = BytesMut::new();
        let mut requests = Vec::new();
        for piece in input.chunks(chunk) {
            buf.extend_from_slice(piece);
            while let Some(args) = parser
                .parse(&mut buf, &FrameLimits::default(), false)
                .unwrap()
            {
                requests.push(args);
            }
        }
        assert!(buf.is_empty(), "{} bytes left unparsed", buf.len());
        (requests, parser)
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
        let mut parser = RequestParser::default();
        assert!(parser.parse(&mut buf, &limits, false).unwrap().is_some());
        assert!(parser.parse(&mut buf, &limits, false).unwrap().is_some());
        assert!(buf.is_empty());
    }

    #[test]
    fn requests_split_anywhere_resume_where_they_stopped() {
        let input: &[u8] = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$10\r\n0123456789\r\nECHO \"a b\"\r\n*0\r\n*-1\r\n*1\r\n$0\r\n\r\nPING\n";
        let (whole, _) = parse_in_chunks(input, input.len());
        assert_eq!(whole.len(), 6);
        assert_eq!(whole[0][2], Bytes::from("0123456789"));
        assert_eq!(whole[1], vec![Bytes::from("ECHO"), Bytes::from("a b")]);
        assert!(whole[2].is_empty() && whole[3].is_empty());
        assert_eq!(whole[4], vec![Bytes::new()]);
        for chunk in 1..input.len() {
            assert_eq!(parse_in_chunks(input, chunk).0, whole, "{chunk}-byte reads");
        }
    }

    #[test]
    fn a_large_frame_in_small_reads_is_searched_once() {
        // 100k arguments arriving 100 bytes at a time: the parser must not walk the arguments
        // it already has on every read (which made this quadratic).
        let args = 100_000;
        let mut input = format!("*{args}\r\n").into_bytes();
        for i in 0..args {
            let arg = format!("a{i}");
            input.extend(format!("${}\r\n{arg}\r\n", arg.len()).bytes());
        }
        let (requests, parser) = parse_in_chunks(&input, 100);
        assert_eq!(requests.len(), 1);
        assert_eq!(requests[0].len(), args);
        assert_eq!(requests[0][args - 1], Bytes::from(format!("a{}", args - 1)));
        assert!(
            parser.searched <= 2 * input.len(),
            "searched {} bytes for line ends in a {}-byte frame",
            parser.searched,
            input.len()
        );

        // The same for a long inline line.
        let mut line = b"SET k ".to_vec();
        line.extend(std::iter::repeat_n(b'v', 60_000));
        line.extend(b"\r\n");
        let (requests, parser) = parse_in_chunks(&line, 10);
        assert_eq!(requests[0][2].len(), 60_000);
        assert!(parser.searched <= 2 * line.len(), "{}", parser.searched);
    }

    #[test]
    fn announced_sizes_reserve_nothing_before_the_data() {
        let limits = FrameLimits::default();
        let mut parser = RequestParser::default();
        let mut buf = BytesMut::with_capacity(1024);
        buf.extend_from_slice(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$536870912\r\n");
        assert_eq!(parser.parse(&mut buf, &limits, false).unwrap(), None);
        assert!(
            buf.capacity() < 64 * 1024,
            "a 512 MB bulk header reserved {} bytes",
            buf.capacity()
        );
        // As data arrives, room grows with it (at most doubling), not to the announced size.
        for _ in 0..8 {
            let more = vec![b'x'; buf.len().max(4096)];
            buf.extend_from_slice(&more);
            assert_eq!(parser.parse(&mut buf, &limits, false).unwrap(), None);
            assert!(
                buf.capacity() <= 4 * buf.len(),
                "{} for {}",
                buf.capacity(),
                buf.len()
            );
        }

        // A million arguments announced, two sent: no index for a million.
        let mut parser = RequestParser::default();
        let mut buf = BytesMut::from(&b"*1048576\r\n$1\r\na\r\n$1\r\nb\r\n"[..]);
        assert_eq!(parser.parse(&mut buf, &limits, false).unwrap(), None);
        assert!(
            parser.spans.capacity() < 1024,
            "{}",
            parser.spans.capacity()
        );
        assert!(parser.memory(&buf) < 1024);
        // Redis 7 accepts any count up to INT_MAX.
        assert_eq!(parse(b"*2147483647\r\n").unwrap(), None);
        assert_eq!(
            parse(b"*2147483648\r\n").unwrap_err().to_string(),
            "Protocol error: invalid multibulk length"
        );
    }

    #[test]
    fn unauthenticated_clients_get_redis_limits() {
        let ten = b"*10\r\n$1\r\na\r\n$1\r\na\r\n$1\r\na\r\n$1\r\na\r\n$1\r\na\r\n$1\r\na\r\n$1\r\na\r\n$1\r\na\r\n$1\r\na\r\n$1\r\na\r\n";
        assert_eq!(parse_unauthenticated(ten).unwrap().unwrap().len(), 10);
        assert_eq!(
            parse_unauthenticated(b"*11\r\n").unwrap_err().to_string(),
            "Protocol error: unauthenticated multibulk length"
        );
        assert_eq!(
            parse(b"*11\r\n").unwrap(),
            None,
            "no limit once authenticated"
        );

        let mut at_limit = b"*1\r\n$16384\r\n".to_vec();
        at_limit.extend(vec![b'x'; 16384]);
        at_limit.extend(b"\r\n");
        assert_eq!(
            parse_unauthenticated(&at_limit).unwrap().unwrap()[0].len(),
            16384
        );
        assert_eq!(
            parse_unauthenticated(b"*1\r\n$16385\r\n")
                .unwrap_err()
                .to_string(),
            "Protocol error: unauthenticated bulk length"
        );
        assert_eq!(parse(b"*1\r\n$16385\r\n").unwrap(), None);
        // Redis checks the general limits first.
        assert_eq!(
            parse_unauthenticated(b"*1\r\n$-1\r\n")
                .unwrap_err()
                .to_string(),
            "Protocol error: invalid bulk length"
        );
    }

    #[test]
    fn lengths_are_read_as_redis_reads_them() {
        assert_eq!(parse_len(b"0"), Some(0));
        assert_eq!(parse_len(b"-1"), Some(-1));
        assert_eq!(parse_len(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_len(b"-9223372036854775808"), Some(i64::MIN));
        for bad in [
            &b""[..],
            b"-",
            b"+1",
            b"01",
            b"-0",
            b" 1",
            b"1 ",
            b"9223372036854775808",
            b"1x",
        ] {
            assert_eq!(parse_len(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
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
        assert!(RequestParser::default()
            .parse(&mut buf, &limits, false)
            .is_err());
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
