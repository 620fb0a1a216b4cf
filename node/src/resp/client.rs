//! A small RESP client, used by followers to forward commands to the leader.
//!
//! It speaks RESP3 (so typed replies such as maps and doubles survive the hop and are re-encoded
//! for whichever protocol the original client chose) and supports pipelining: `send` queues a
//! request, `recv` reads the next reply in order.

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;

use super::Reply;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("connection failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("malformed reply: {0}")]
    Protocol(String),
    #[error("server refused the handshake: {0}")]
    Handshake(String),
}

pub struct RespClient {
    reader: BufReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
    buf: BytesMut,
    out: BytesMut,
}

impl RespClient {
    /// Connects with `HELLO 3` (or `HELLO 2` when `resp3` is false), authenticating when
    /// `password` is set.
    pub async fn connect(
        addr: &str,
        password: Option<&str>,
        resp3: bool,
    ) -> Result<RespClient, ClientError> {
        let stream = TcpStream::connect(addr).await?;
        let _ = stream.set_nodelay(true);
        let (rd, wr) = stream.into_split();
        let mut client = RespClient {
            reader: BufReader::new(rd),
            writer: wr,
            buf: BytesMut::with_capacity(16 * 1024),
            out: BytesMut::new(),
        };
        let version = if resp3 { "3" } else { "2" };
        let mut hello: Vec<Bytes> = vec!["HELLO".into(), version.into()];
        if let Some(pw) = password {
            hello.extend([
                "AUTH".into(),
                "default".into(),
                Bytes::copy_from_slice(pw.as_bytes()),
            ]);
        }
        client.send(&hello);
        client.flush().await?;
        if let Reply::Error(e) = client.recv().await? {
            return Err(ClientError::Handshake(e));
        }
        Ok(client)
    }

    /// Queues a request; it is written by the next `flush` (or `recv`).
    pub fn send(&mut self, argv: &[Bytes]) {
        use bytes::BufMut;
        self.out
            .put_slice(format!("*{}\r\n", argv.len()).as_bytes());
        for arg in argv {
            self.out.put_slice(format!("${}\r\n", arg.len()).as_bytes());
            self.out.put_slice(arg);
            self.out.put_slice(b"\r\n");
        }
    }

    pub async fn flush(&mut self) -> Result<(), ClientError> {
        if !self.out.is_empty() {
            let out = self.out.split();
            self.writer.write_all(&out).await?;
        }
        Ok(())
    }

    /// Reads the next reply (flushing queued requests first).
    pub async fn recv(&mut self) -> Result<Reply, ClientError> {
        self.flush().await?;
        loop {
            if let Some(reply) = parse_reply(&mut self.buf)? {
                return Ok(reply);
            }
            if self.reader.read_buf(&mut self.buf).await? == 0 {
                return Err(ClientError::Io(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "server closed the connection",
                )));
            }
        }
    }

    pub async fn call(&mut self, argv: &[Bytes]) -> Result<Reply, ClientError> {
        self.send(argv);
        self.recv().await
    }
}

/// Parses one complete reply from the front of `buf`, consuming it; `Ok(None)` if incomplete.
pub fn parse_reply(buf: &mut BytesMut) -> Result<Option<Reply>, ClientError> {
    let mut pos = 0;
    match parse_at(buf, &mut pos)? {
        Some(reply) => {
            buf.advance(pos);
            Ok(Some(reply))
        }
        None => Ok(None),
    }
}

fn line<'a>(buf: &'a [u8], pos: &mut usize) -> Option<&'a [u8]> {
    let start = *pos;
    let end = buf.get(start..)?.windows(2).position(|w| w == b"\r\n")? + start;
    *pos = end + 2;
    Some(&buf[start..end])
}

fn bad(msg: &str) -> ClientError {
    ClientError::Protocol(msg.to_string())
}

fn num(raw: &[u8]) -> Result<i64, ClientError> {
    std::str::from_utf8(raw)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad("bad number"))
}

fn parse_at(buf: &[u8], pos: &mut usize) -> Result<Option<Reply>, ClientError> {
    let Some(&kind) = buf.get(*pos) else {
        return Ok(None);
    };
    *pos += 1;
    let Some(head) = line(buf, pos) else {
        return Ok(None);
    };
    let text = || String::from_utf8_lossy(head).to_string();
    let reply = match kind {
        b'+' => Reply::Simple(text()),
        b'-' => Reply::Error(text()),
        b':' => Reply::Int(num(head)?),
        b'_' => Reply::Nil,
        b'#' => Reply::Bool(head == b"t"),
        b',' => Reply::Double(match head {
            b"inf" => f64::INFINITY,
            b"-inf" => f64::NEG_INFINITY,
            _ => text().parse().map_err(|_| bad("bad double"))?,
        }),
        b'(' => Reply::BigNumber(text()),
        b'$' | b'=' | b'!' => {
            let len = num(head)?;
            if len < 0 {
                return Ok(Some(Reply::Nil));
            }
            let len = len as usize;
            if buf.len() < *pos + len + 2 {
                return Ok(None);
            }
            let body = &buf[*pos..*pos + len];
            *pos += len + 2;
            match kind {
                b'=' => Reply::Verbatim(
                    String::from_utf8_lossy(body.get(4..).unwrap_or(b"")).to_string(),
                ),
                b'!' => Reply::Error(String::from_utf8_lossy(body).to_string()),
                _ => Reply::Bulk(Bytes::copy_from_slice(body)),
            }
        }
        b'*' | b'~' | b'>' => {
            let n = num(head)?;
            if n < 0 {
                return Ok(Some(Reply::NilArray));
            }
            let mut items = Vec::with_capacity(n.min(1024) as usize);
            for _ in 0..n {
                match parse_at(buf, pos)? {
                    Some(r) => items.push(r),
                    None => return Ok(None),
                }
            }
            if kind == b'~' {
                Reply::Set(items)
            } else {
                Reply::Array(items)
            }
        }
        b'%' | b'|' => {
            let n = num(head)?;
            let mut pairs = Vec::with_capacity(n.clamp(0, 1024) as usize);
            for _ in 0..n {
                let Some(k) = parse_at(buf, pos)? else {
                    return Ok(None);
                };
                let Some(v) = parse_at(buf, pos)? else {
                    return Ok(None);
                };
                pairs.push((k, v));
            }
            if kind == b'|' {
                // An attribute precedes the real reply; drop it.
                return parse_at(buf, pos);
            }
            Reply::Map(pairs)
        }
        other => return Err(bad(&format!("unknown reply type '{}'", other as char))),
    };
    Ok(Some(reply))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_encode() {
        let replies = vec![
            Reply::ok(),
            Reply::Error("ERR x".into()),
            Reply::Int(-5),
            Reply::bulk("hi"),
            Reply::Nil,
            Reply::Double(1.5),
            Reply::Array(vec![Reply::Int(1), Reply::Array(vec![Reply::bulk("a")])]),
            Reply::Map(vec![(Reply::bulk("k"), Reply::Set(vec![Reply::bulk("v")]))]),
            Reply::Verbatim("text".into()),
        ];
        for r in replies {
            let mut buf = BytesMut::new();
            r.encode(&mut buf, true);
            let full = buf.clone();
            for cut in 0..full.len() {
                let mut partial = BytesMut::from(&full[..cut]);
                assert!(parse_reply(&mut partial).unwrap().is_none());
            }
            assert_eq!(parse_reply(&mut buf).unwrap(), Some(r));
            assert!(buf.is_empty());
        }
    }
}
