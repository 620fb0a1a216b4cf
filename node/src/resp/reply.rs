//! Replies and their encoding. A `Reply` is protocol-neutral; `encode` writes it as RESP2 or
//! RESP3 depending on what the connection negotiated with `HELLO`.

use std::cell::Cell;

use bytes::{BufMut, Bytes, BytesMut};
use serde::de::Error as _;
use serde::{Deserialize, Deserializer};

/// Deepest nesting accepted when a `Reply` is decoded (from the log, or a peer's frame). serde
/// recurses once per level, so without a bound a few thousand levels (two bytes each) in a
/// small frame overflow a worker's stack and abort the process. No reply Kiwi makes comes close.
pub const MAX_DECODE_DEPTH: u32 = 128;

thread_local! {
    static DECODE_DEPTH: Cell<u32> = const { Cell::new(0) };
}

/// Decodes one nested level of a reply, refusing past [`MAX_DECODE_DEPTH`].
fn nested<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    struct Leave;
    impl Drop for Leave {
        fn drop(&mut self) {
            DECODE_DEPTH.with(|d| d.set(d.get().saturating_sub(1)));
        }
    }
    let depth = DECODE_DEPTH.with(|d| {
        d.set(d.get() + 1);
        d.get()
    });
    let _leave = Leave;
    if depth > MAX_DECODE_DEPTH {
        return Err(D::Error::custom(format!(
            "reply nested deeper than {MAX_DECODE_DEPTH} levels"
        )));
    }
    T::deserialize(deserializer)
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Reply {
    /// `+OK`
    Simple(String),
    /// `-ERR ...`: the string carries its own prefix (`ERR`, `WRONGTYPE`, `NOAUTH`, ...).
    Error(String),
    Int(i64),
    Bulk(Bytes),
    /// Absent value: `$-1` in RESP2, `_` in RESP3.
    Nil,
    Array(#[serde(deserialize_with = "nested")] Vec<Reply>),
    /// Absent array (`*-1` in RESP2, `_` in RESP3), e.g. EXEC after a failed WATCH, BLPOP timeout.
    NilArray,
    /// A double: a bulk string in RESP2, `,` in RESP3.
    Double(f64),
    /// Key/value pairs: a flat array in RESP2, `%` in RESP3.
    Map(#[serde(deserialize_with = "nested")] Vec<(Reply, Reply)>),
    /// A set: an array in RESP2, `~` in RESP3.
    Set(#[serde(deserialize_with = "nested")] Vec<Reply>),
    /// Verbatim text (INFO, CLIENT INFO): a bulk string in RESP2, `=` in RESP3.
    Verbatim(String),
    /// An ordered list of pairs (member and score, field and value): one flat array in RESP2,
    /// an array of two-element arrays in RESP3, as Redis answers ZRANGE WITHSCORES, ZPOPMIN
    /// with a count and HRANDFIELD WITHVALUES.
    Pairs(#[serde(deserialize_with = "nested")] Vec<(Reply, Reply)>),
    /// Key/value pairs: an array of two-element arrays in RESP2, `%` in RESP3, as Redis
    /// answers XREAD and XREADGROUP (a stream's name and its entries). Added after the others,
    /// so the encodings of the others are unchanged.
    KeyedPairs(#[serde(deserialize_with = "nested")] Vec<(Reply, Reply)>),
    /// Out-of-band data (pub/sub messages and their subscribe confirmations): `>` in RESP3, an
    /// array in RESP2. Last of the variants: postcard encodes a variant by its index, and
    /// replies written before it existed must still decode.
    Push(#[serde(deserialize_with = "nested")] Vec<Reply>),
    /// A boolean (a Lua script's in RESP3 mode): `:1`/`:0` in RESP2, `#t`/`#f` in RESP3.
    Bool(bool),
    /// A big number (a Lua script's `{big_number=...}`): a bulk string in RESP2, `(` in RESP3.
    BigNumber(String),
}

impl Reply {
    pub fn ok() -> Reply {
        Reply::Simple("OK".into())
    }

    /// An `-ERR <msg>` reply.
    pub fn err(msg: impl AsRef<str>) -> Reply {
        Reply::Error(format!("ERR {}", msg.as_ref()))
    }

    pub fn bulk(data: impl Into<Bytes>) -> Reply {
        Reply::Bulk(data.into())
    }

    pub fn is_error(&self) -> bool {
        matches!(self, Reply::Error(_))
    }

    /// Bulk strings from raw values.
    pub fn bulks<I, T>(items: I) -> Reply
    where
        I: IntoIterator<Item = T>,
        T: Into<Bytes>,
    {
        Reply::Array(items.into_iter().map(|v| Reply::Bulk(v.into())).collect())
    }

    pub fn encode(&self, out: &mut BytesMut, resp3: bool) {
        match self {
            Reply::Simple(s) => line(out, b'+', s.as_bytes()),
            Reply::Error(e) => {
                // A newline inside an error would break the framing.
                let clean: String = e
                    .chars()
                    .map(|c| if c == '\r' || c == '\n' { ' ' } else { c })
                    .collect();
                line(out, b'-', clean.as_bytes())
            }
            Reply::Int(n) => line(out, b':', n.to_string().as_bytes()),
            Reply::Bulk(b) => bulk(out, b'$', b),
            Reply::Nil => {
                if resp3 {
                    out.put_slice(b"_\r\n")
                } else {
                    out.put_slice(b"$-1\r\n")
                }
            }
            Reply::NilArray => {
                if resp3 {
                    out.put_slice(b"_\r\n")
                } else {
                    out.put_slice(b"*-1\r\n")
                }
            }
            Reply::Array(items) => {
                line(out, b'*', items.len().to_string().as_bytes());
                for item in items {
                    item.encode(out, resp3);
                }
            }
            Reply::Push(items) => {
                line(
                    out,
                    if resp3 { b'>' } else { b'*' },
                    items.len().to_string().as_bytes(),
                );
                for item in items {
                    item.encode(out, resp3);
                }
            }
            Reply::Set(items) => {
                line(
                    out,
                    if resp3 { b'~' } else { b'*' },
                    items.len().to_string().as_bytes(),
                );
                for item in items {
                    item.encode(out, resp3);
                }
            }
            Reply::Map(pairs) => {
                if resp3 {
                    line(out, b'%', pairs.len().to_string().as_bytes());
                } else {
                    line(out, b'*', (pairs.len() * 2).to_string().as_bytes());
                }
                for (k, v) in pairs {
                    k.encode(out, resp3);
                    v.encode(out, resp3);
                }
            }
            Reply::Pairs(pairs) => {
                let len = if resp3 { pairs.len() } else { pairs.len() * 2 };
                line(out, b'*', len.to_string().as_bytes());
                for (first, second) in pairs {
                    if resp3 {
                        out.put_slice(b"*2\r\n");
                    }
                    first.encode(out, resp3);
                    second.encode(out, resp3);
                }
            }
            Reply::KeyedPairs(pairs) => {
                line(
                    out,
                    if resp3 { b'%' } else { b'*' },
                    pairs.len().to_string().as_bytes(),
                );
                for (key, value) in pairs {
                    if !resp3 {
                        out.put_slice(b"*2\r\n");
                    }
                    key.encode(out, resp3);
                    value.encode(out, resp3);
                }
            }
            Reply::Double(d) => {
                let text = format_double(*d);
                if resp3 {
                    line(out, b',', text.as_bytes())
                } else {
                    bulk(out, b'$', text.as_bytes())
                }
            }
            Reply::Bool(b) => match (resp3, b) {
                (true, true) => out.put_slice(b"#t\r\n"),
                (true, false) => out.put_slice(b"#f\r\n"),
                (false, true) => out.put_slice(b":1\r\n"),
                (false, false) => out.put_slice(b":0\r\n"),
            },
            Reply::BigNumber(n) => {
                if resp3 {
                    line(out, b'(', n.as_bytes())
                } else {
                    bulk(out, b'$', n.as_bytes())
                }
            }
            Reply::Verbatim(text) => {
                if resp3 {
                    let mut body = b"txt:".to_vec();
                    body.extend_from_slice(text.as_bytes());
                    bulk(out, b'=', &body)
                } else {
                    bulk(out, b'$', text.as_bytes())
                }
            }
        }
    }
}

fn line(out: &mut BytesMut, prefix: u8, body: &[u8]) {
    out.reserve(body.len() + 3);
    out.put_u8(prefix);
    out.put_slice(body);
    out.put_slice(b"\r\n");
}

fn bulk(out: &mut BytesMut, prefix: u8, body: &[u8]) {
    line(out, prefix, body.len().to_string().as_bytes());
    out.reserve(body.len() + 2);
    out.put_slice(body);
    out.put_slice(b"\r\n");
}

/// Formats a double as Redis does for scores and INCRBYFLOAT results (`%.17g` with the
/// shortest digits that read back as the same value): `3`, `10.5`, `1e+20`, `inf`.
pub fn format_double(d: f64) -> String {
    if d.is_infinite() {
        return if d > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if d.is_nan() {
        return "nan".into();
    }
    let sci = format!("{d:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if (-4..17).contains(&exp) {
        format!("{d}")
    } else {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exp.abs())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(r: &Reply, resp3: bool) -> String {
        let mut out = BytesMut::new();
        r.encode(&mut out, resp3);
        String::from_utf8(out.to_vec()).unwrap()
    }

    /// `depth` nested one-element arrays around a Nil, as postcard writes them: variant 5
    /// (Array), length 1, ..., variant 4 (Nil). Written by hand: encoding that deep would itself
    /// recurse.
    fn nested_arrays(depth: usize) -> Vec<u8> {
        let mut bytes = [5u8, 1].repeat(depth);
        bytes.push(4);
        bytes
    }

    #[test]
    fn deeply_nested_replies_are_refused_not_a_stack_overflow() {
        // On a thread with a tokio worker's stack (2 MiB): 100,000 levels used to abort the
        // process from within serde's recursion.
        let outcome = std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn(|| {
                let shallow: Reply = crate::raft::decode(&nested_arrays(100)).unwrap();
                let deep = crate::raft::decode::<Reply>(&nested_arrays(100_000));
                let limit = crate::raft::decode::<Reply>(&nested_arrays(MAX_DECODE_DEPTH as usize));
                let over =
                    crate::raft::decode::<Reply>(&nested_arrays(MAX_DECODE_DEPTH as usize + 1));
                // Every level is left on the error's way out: a full-depth decode still works.
                let after = crate::raft::decode::<Reply>(&nested_arrays(MAX_DECODE_DEPTH as usize));
                (
                    shallow,
                    deep.is_err(),
                    limit.is_ok(),
                    over.is_err(),
                    after.is_ok(),
                )
            })
            .unwrap()
            .join()
            .unwrap();
        let mut expected = Reply::Nil;
        for _ in 0..100 {
            expected = Reply::Array(vec![expected]);
        }
        assert_eq!(outcome, (expected, true, true, true, true));
    }

    #[test]
    fn resp2_and_resp3_encodings() {
        assert_eq!(enc(&Reply::ok(), false), "+OK\r\n");
        assert_eq!(enc(&Reply::Nil, false), "$-1\r\n");
        assert_eq!(enc(&Reply::Nil, true), "_\r\n");
        assert_eq!(enc(&Reply::Double(1.5), false), "$3\r\n1.5\r\n");
        assert_eq!(enc(&Reply::Double(1.5), true), ",1.5\r\n");
        let keyed = Reply::KeyedPairs(vec![(Reply::bulk("s"), Reply::Array(vec![]))]);
        assert_eq!(enc(&keyed, false), "*1\r\n*2\r\n$1\r\ns\r\n*0\r\n");
        assert_eq!(enc(&keyed, true), "%1\r\n$1\r\ns\r\n*0\r\n");
        let pairs = Reply::Pairs(vec![(Reply::bulk("a"), Reply::Double(1.0))]);
        assert_eq!(enc(&pairs, false), "*2\r\n$1\r\na\r\n$1\r\n1\r\n");
        assert_eq!(enc(&pairs, true), "*1\r\n*2\r\n$1\r\na\r\n,1\r\n");
        let map = Reply::Map(vec![(Reply::bulk("a"), Reply::Int(1))]);
        assert_eq!(enc(&map, false), "*2\r\n$1\r\na\r\n:1\r\n");
        assert_eq!(enc(&map, true), "%1\r\n$1\r\na\r\n:1\r\n");
        let push = Reply::Push(vec![Reply::bulk("message"), Reply::Nil, Reply::Int(0)]);
        assert_eq!(enc(&push, false), "*3\r\n$7\r\nmessage\r\n$-1\r\n:0\r\n");
        assert_eq!(enc(&push, true), ">3\r\n$7\r\nmessage\r\n_\r\n:0\r\n");
        assert_eq!(
            enc(&Reply::Error("ERR a\r\nb".into()), false),
            "-ERR a  b\r\n"
        );
    }

    #[test]
    fn doubles_format_like_redis() {
        assert_eq!(format_double(3.0), "3");
        assert_eq!(format_double(10.5), "10.5");
        assert_eq!(format_double(f64::INFINITY), "inf");
        assert_eq!(format_double(-2.0), "-2");
        assert_eq!(format_double(0.1 + 0.2), "0.30000000000000004");
        assert_eq!(format_double(1e20), "1e+20");
        assert_eq!(format_double(1.5e-7), "1.5e-07");
    }
}
