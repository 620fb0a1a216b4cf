//! A minimal HTTP/1.1 JSON client for node-to-node admin calls (joining a cluster, `kiwi
//! step-down`), so the node needs no HTTP client library. It speaks over the node's
//! [`Transport`] (TLS with `tls-cluster yes`). Redirects (307 to the leader) are followed.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::transport::Transport;

#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("timed out")]
    Timeout,
    #[error("malformed response: {0}")]
    Malformed(String),
}

/// The first byte of a TLS alert record.
const TLS_ALERT: u8 = 0x15;

pub struct HttpResponse {
    pub status: u16,
    pub location: Option<String>,
    pub body: serde_json::Value,
}

/// Where a request goes: the address to dial and the name its certificate must carry.
#[derive(Debug, Clone)]
pub struct Target {
    pub addr: String,
    pub name: Option<String>,
}

impl Target {
    pub fn new(addr: &str) -> Target {
        Target {
            addr: addr.to_string(),
            name: None,
        }
    }
}

/// POSTs `body` as JSON to `{addr}{path}` with an optional bearer token, following up to three
/// redirects.
pub async fn post_json(
    transport: &Transport,
    target: &Target,
    path: &str,
    body: &serde_json::Value,
    token: Option<&str>,
    timeout: Duration,
) -> Result<HttpResponse, HttpError> {
    let mut target = (target.clone(), path.to_string());
    for _ in 0..3 {
        let resp = request(
            transport,
            &target.0,
            "POST",
            &target.1,
            Some(body),
            token,
            timeout,
        )
        .await?;
        match (resp.status, &resp.location) {
            (301 | 302 | 307 | 308, Some(loc)) => {
                let rest = loc
                    .strip_prefix("http://")
                    .or_else(|| loc.strip_prefix("https://"))
                    .unwrap_or(loc);
                let (host, p) = match rest.find('/') {
                    Some(i) => (rest[..i].to_string(), rest[i..].to_string()),
                    None => (rest.to_string(), path.to_string()),
                };
                // The leader's advertised address: its certificate carries that name.
                target = (Target::new(&host), p);
            }
            _ => return Ok(resp),
        }
    }
    Err(HttpError::Malformed("too many redirects".into()))
}

pub async fn get_json(
    transport: &Transport,
    target: &Target,
    path: &str,
    timeout: Duration,
) -> Result<HttpResponse, HttpError> {
    request(transport, target, "GET", path, None, None, timeout).await
}

async fn request(
    transport: &Transport,
    target: &Target,
    method: &str,
    path: &str,
    body: Option<&serde_json::Value>,
    token: Option<&str>,
    timeout: Duration,
) -> Result<HttpResponse, HttpError> {
    tokio::time::timeout(timeout, async {
        let addr = &target.addr;
        let mut stream = match &target.name {
            Some(name) => transport.connect_as(addr, name, timeout).await?,
            None => transport.connect(addr, timeout).await?,
        };
        let payload = body.map(|b| b.to_string()).unwrap_or_default();
        let auth = token
            .map(|t| format!("Authorization: Bearer {t}\r\n"))
            .unwrap_or_default();
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            payload.len()
        );
        let mut request = head.into_bytes();
        request.extend_from_slice(payload.as_bytes());
        if let Err(e) = stream.write_all(&request).await {
            // A TLS-only port may already have reset the connection; what the read below
            // gets says so better than a broken pipe.
            if transport.is_tls() || e.kind() != std::io::ErrorKind::BrokenPipe {
                return Err(e.into());
            }
        }
        let mut raw = Vec::new();
        let read = stream.read_to_end(&mut raw).await;
        let closed_or_reset = match &read {
            Ok(_) => true,
            Err(e) => e.kind() == std::io::ErrorKind::ConnectionReset,
        };
        if !transport.is_tls() && closed_or_reset && (raw.is_empty() || raw[0] == TLS_ALERT) {
            // What a TLS-only port (tls-cluster yes) does with a plain request: an alert, a
            // close or a reset.
            return Err(HttpError::Malformed(format!(
                "{addr} closed the connection without an HTTP answer: if that node has \
                 tls-cluster yes, this one needs TLS too"
            )));
        }
        match read {
            Ok(_) => {}
            // A TLS peer that closes without close_notify: the reply is whole if it parses.
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !raw.is_empty() => {}
            Err(e) => return Err(e.into()),
        }
        parse_response(&raw)
    })
    .await
    .map_err(|_| HttpError::Timeout)?
}

fn parse_response(raw: &[u8]) -> Result<HttpResponse, HttpError> {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| HttpError::Malformed("no header end".into()))?;
    let head = String::from_utf8_lossy(&raw[..split]);
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| HttpError::Malformed("bad status line".into()))?;
    let mut location = None;
    let mut chunked = false;
    for line in lines {
        if let Some((k, v)) = line.split_once(':') {
            match k.trim().to_ascii_lowercase().as_str() {
                "location" => location = Some(v.trim().to_string()),
                "transfer-encoding" => chunked = v.trim().eq_ignore_ascii_case("chunked"),
                _ => {}
            }
        }
    }
    let mut body = raw[split + 4..].to_vec();
    if chunked {
        body = dechunk(&body)?;
    }
    let body = if body.is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::from_slice(&body).unwrap_or_else(|_| {
            serde_json::Value::String(String::from_utf8_lossy(&body).to_string())
        })
    };
    Ok(HttpResponse {
        status,
        location,
        body,
    })
}

fn dechunk(mut data: &[u8]) -> Result<Vec<u8>, HttpError> {
    let mut out = Vec::new();
    loop {
        let nl = data
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or_else(|| HttpError::Malformed("bad chunk".into()))?;
        let size = usize::from_str_radix(String::from_utf8_lossy(&data[..nl]).trim(), 16)
            .map_err(|_| HttpError::Malformed("bad chunk size".into()))?;
        data = &data[nl + 2..];
        if size == 0 {
            return Ok(out);
        }
        if data.len() < size + 2 {
            return Err(HttpError::Malformed("truncated chunk".into()));
        }
        out.extend_from_slice(&data[..size]);
        data = &data[size + 2..];
    }
}
