//! The byte streams of the Raft/HTTP port: plain TCP, or TLS when `tls-cluster yes`. One type
//! for both directions, so peer RPCs, the admin API and node-to-node admin calls (joining,
//! `kiwi step-down`) are written once and run over either.
//!
//! With TLS every connection is encrypted and the caller checks the node's certificate
//! against `tls-ca-cert-file` and the host of the address it dials. A caller presents its own
//! certificate (`tls-client-cert-file`, else `tls-cert-file`); the port checks one when it is
//! presented but does not demand it: kubelet's HTTPS probes cannot present one, peers prove
//! themselves with the cluster secret anyway (`raft::peer_auth`), and admin callers with the
//! admin token. The server side reloads changed files like the RESP TLS port; the client side
//! reads them at each connection (peer connections are long-lived, so that is rare).

use std::io;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use rustls::pki_types::ServerName;
use rustls::ClientConfig;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::{TlsConnector, TlsStream};

use crate::tls::{load_certs, load_key, load_roots, ReloadingAcceptor, TlsError};

/// A connection on the Raft/HTTP port, accepted or dialed.
pub enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

/// The files a node dials peers with.
#[derive(Debug, Clone)]
pub struct ClientFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub ca: PathBuf,
}

/// How the Raft/HTTP port speaks.
#[derive(Clone)]
pub enum Transport {
    Plain,
    Tls {
        acceptor: Arc<ReloadingAcceptor>,
        client: ClientFiles,
    },
}

/// How long a TLS handshake may take, either way.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

fn timed_out(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, format!("{what} timed out"))
}

/// The host part of `host:port` (brackets of an IPv6 literal removed).
pub fn host_of(addr: &str) -> &str {
    let host = addr.rsplit_once(':').map_or(addr, |(h, _)| h);
    host.trim_start_matches('[').trim_end_matches(']')
}

pub fn client_config(files: &ClientFiles) -> Result<ClientConfig, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let roots = load_roots(&files.ca)?;
    let certs = load_certs(&files.cert)?;
    let key = load_key(&files.key)?;
    ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Config(e.to_string()))?
        .with_root_certificates(roots)
        .with_client_auth_cert(certs, key)
        .map_err(|e| TlsError::Config(format!("client certificate and key: {e}")))
}

impl Transport {
    pub fn is_tls(&self) -> bool {
        matches!(self, Transport::Tls { .. })
    }

    /// `http` or `https`: what a URL of this port starts with.
    pub fn scheme(&self) -> &'static str {
        if self.is_tls() {
            "https"
        } else {
            "http"
        }
    }

    /// The server side of a connection accepted on the port.
    pub async fn accept(&self, tcp: TcpStream) -> io::Result<Stream> {
        match self {
            Transport::Plain => Ok(Stream::Plain(tcp)),
            Transport::Tls { acceptor, .. } => {
                let tls = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.acceptor().accept(tcp))
                    .await
                    .map_err(|_| timed_out("TLS handshake"))??;
                Ok(Stream::Tls(Box::new(TlsStream::Server(tls))))
            }
        }
    }

    /// Dials `addr`, checking the certificate against the host of `addr`.
    pub async fn connect(&self, addr: &str, timeout: Duration) -> io::Result<Stream> {
        self.connect_as(addr, host_of(addr), timeout).await
    }

    /// Dials `addr`, checking the certificate against `name` (for a node reached on loopback
    /// whose certificate carries its advertised name).
    pub async fn connect_as(
        &self,
        addr: &str,
        name: &str,
        timeout: Duration,
    ) -> io::Result<Stream> {
        let tcp = tokio::time::timeout(timeout, TcpStream::connect(addr))
            .await
            .map_err(|_| timed_out("connect"))??;
        let _ = tcp.set_nodelay(true);
        match self {
            Transport::Plain => Ok(Stream::Plain(tcp)),
            Transport::Tls { client, .. } => {
                let config = client_config(client).map_err(io::Error::other)?;
                let name = ServerName::try_from(name.to_string()).map_err(|e| {
                    io::Error::new(io::ErrorKind::InvalidInput, format!("{name}: {e}"))
                })?;
                let tls = tokio::time::timeout(
                    HANDSHAKE_TIMEOUT,
                    TlsConnector::from(Arc::new(config)).connect(name, tcp),
                )
                .await
                .map_err(|_| timed_out("TLS handshake"))??;
                Ok(Stream::Tls(Box::new(TlsStream::Client(tls))))
            }
        }
    }
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, data),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, data),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Stream::Plain(s) => s.is_write_vectored(),
            Stream::Tls(s) => s.is_write_vectored(),
        }
    }
}

/// A stream whose first bytes were already read (to tell a peer from an HTTP caller) and are
/// given back before the rest.
pub struct Prefixed<S> {
    prefix: Vec<u8>,
    at: usize,
    inner: S,
}

impl<S> Prefixed<S> {
    pub fn new(prefix: Vec<u8>, inner: S) -> Prefixed<S> {
        Prefixed {
            prefix,
            at: 0,
            inner,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Prefixed<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.at < this.prefix.len() {
            let n = (this.prefix.len() - this.at).min(buf.remaining());
            buf.put_slice(&this.prefix[this.at..this.at + n]);
            this.at += n;
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Prefixed<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, data)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    #[test]
    fn the_host_is_the_address_without_its_port() {
        assert_eq!(host_of("kiwi-0.kiwi.ns.svc:8001"), "kiwi-0.kiwi.ns.svc");
        assert_eq!(host_of("127.0.0.1:8001"), "127.0.0.1");
        assert_eq!(host_of("[::1]:8001"), "::1");
    }

    #[tokio::test]
    async fn a_prefixed_stream_gives_back_its_prefix_first() {
        let (mut a, b) = tokio::io::duplex(64);
        tokio::io::AsyncWriteExt::write_all(&mut a, b" /healthz")
            .await
            .unwrap();
        drop(a);
        let mut s = Prefixed::new(b"GET".to_vec(), b);
        let mut out = String::new();
        s.read_to_string(&mut out).await.unwrap();
        assert_eq!(out, "GET /healthz");
    }
}
