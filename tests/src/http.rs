//! A tiny blocking HTTP/1.1 JSON client for the admin API, so tests need no HTTP library.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct HttpReply {
    pub status: u16,
    pub location: Option<String>,
    pub body: serde_json::Value,
}

/// A GET without credentials.
pub fn get(port: u16, path: &str) -> std::io::Result<HttpReply> {
    request(port, "GET", path, None, None)
}

/// A POST without credentials.
pub fn post(port: u16, path: &str, body: &str) -> std::io::Result<HttpReply> {
    request(port, "POST", path, Some(body), None)
}

/// A GET with `Authorization: Bearer <token>`.
pub fn get_as(port: u16, path: &str, token: &str) -> std::io::Result<HttpReply> {
    request(port, "GET", path, None, Some(token))
}

/// A POST with `Authorization: Bearer <token>`.
pub fn post_as(port: u16, path: &str, body: &str, token: &str) -> std::io::Result<HttpReply> {
    request(port, "POST", path, Some(body), Some(token))
}

fn request(
    port: u16,
    method: &str,
    path: &str,
    body: Option<&str>,
    token: Option<&str>,
) -> std::io::Result<HttpReply> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let body = body.unwrap_or("");
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| std::io::Error::other("no HTTP header end"))?;
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other("bad status line"))?;
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
    let mut data = raw[split + 4..].to_vec();
    if chunked {
        let mut out = Vec::new();
        let mut rest = &data[..];
        while let Some(nl) = rest.windows(2).position(|w| w == b"\r\n") {
            let size =
                usize::from_str_radix(String::from_utf8_lossy(&rest[..nl]).trim(), 16).unwrap_or(0);
            rest = &rest[nl + 2..];
            if size == 0 || rest.len() < size {
                break;
            }
            out.extend_from_slice(&rest[..size]);
            rest = &rest[(size + 2).min(rest.len())..];
        }
        data = out;
    }
    let body = if data.is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::from_slice(&data).unwrap_or_else(|_| {
            serde_json::Value::String(String::from_utf8_lossy(&data).to_string())
        })
    };
    Ok(HttpReply {
        status,
        location,
        body,
    })
}
