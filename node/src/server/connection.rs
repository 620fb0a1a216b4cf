//! One client connection: read frames, run them through the session, write replies in order.
//!
//! Pipelined requests are parsed as they arrive; consecutive writes are submitted without
//! waiting for each other (so one pipeline can share a group commit), and replies are flushed
//! once no complete frame is left in the buffer.
//!
//! Limits, as Redis has them: a frame in progress may not hold more than
//! `client-query-buffer-limit`; replies waiting for a client that does not read them may not
//! exceed `client-output-buffer-limit` (hard, or soft for soft-seconds); a client idle for
//! `timeout` seconds is closed. Crossing an output limit or the idle timeout closes the
//! connection without a reply, as in Redis. Unlike Redis, no more requests are read from a
//! client while its replies wait to be written, so the replies held for it are at most those
//! of one batch of requests; the output limits apply to these.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use std::future::Future;

use bytes::BytesMut;
use socket2::SockRef;
use tokio::io::{AsyncReadExt, AsyncWrite, AsyncWriteExt, Interest};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio_rustls::server::TlsStream;

use super::session::{Session, Step};
use super::ServerState;
use crate::config::OutputBufferLimit;
use crate::pubsub::Mailbox;
use crate::resp::{Reply, RequestParser};

pub async fn reject(mut socket: TcpStream) {
    let _ = socket
        .write_all(b"-ERR max number of clients reached\r\n")
        .await;
}

/// How much room a read offers at least.
const READ_CHUNK: usize = 16 * 1024;

/// Reads what the socket holds into `buf`; `Ok(0)` at the end of the stream.
///
/// Unlike tokio's `read_buf`, a read that drains the socket (returns less than it had room
/// for) also clears the socket's readiness, so the next call waits for the next event instead
/// of first issuing a read that fails with EAGAIN: one system call fewer per request, about a
/// tenth of what a GET costs. Clearing cannot lose a wakeup: tokio clears only if no readiness
/// event arrived since the read began, and data arriving later raises a new one. (A short read
/// with bytes left is possible only at TCP urgent data, which no Redis client sends; such a
/// connection waits for its next bytes.)
async fn read_some(socket: &TcpStream, buf: &mut BytesMut) -> io::Result<usize> {
    loop {
        socket.readable().await?;
        buf.reserve(READ_CHUNK);
        let mut received = 0;
        let outcome = socket.try_io(Interest::READABLE, || {
            let spare = buf.spare_capacity_mut();
            let room = spare.len();
            received = SockRef::from(socket).recv(spare)?;
            if received > 0 && received < room {
                Err(io::ErrorKind::WouldBlock.into())
            } else {
                Ok(received)
            }
        });
        match outcome {
            Err(e) if e.kind() != io::ErrorKind::WouldBlock => return Err(e),
            _ if received > 0 => {
                // SAFETY: `recv` initialized the first `received` bytes of the spare capacity.
                unsafe { buf.set_len(buf.len() + received) };
                return Ok(received);
            }
            Ok(_) => return Ok(0),
            // Not readable after all (readiness cleared): wait for the next event.
            Err(_) => continue,
        }
    }
}

/// A client's byte stream: plain TCP, or TLS over TCP (`tls-port`).
pub trait ClientStream: AsyncWrite + Unpin + Send {
    /// Reads what has arrived into `buf`; `Ok(0)` at the end of the stream.
    fn read_some<'a>(
        &'a mut self,
        buf: &'a mut BytesMut,
    ) -> impl Future<Output = io::Result<usize>> + Send + 'a;
}

impl ClientStream for TcpStream {
    fn read_some<'a>(
        &'a mut self,
        buf: &'a mut BytesMut,
    ) -> impl Future<Output = io::Result<usize>> + Send + 'a {
        read_some(self, buf)
    }
}

impl ClientStream for TlsStream<TcpStream> {
    /// TLS records are decrypted by rustls from its own buffer, so the plain path's
    /// readiness trick does not apply: tokio's `read_buf`.
    async fn read_some(&mut self, buf: &mut BytesMut) -> io::Result<usize> {
        buf.reserve(READ_CHUNK);
        self.read_buf(buf).await
    }
}

/// The settings a connection keeps at hand; reloaded when a CONFIG SET changed any, so the
/// config lock is not taken per request.
struct Settings {
    epoch: u64,
    query_limit: usize,
    output: OutputBufferLimit,
    /// The output limit of a subscribed client (Redis's `pubsub` class).
    pubsub_output: OutputBufferLimit,
    /// The client is subscribed: `pubsub_output` applies, and `timeout` does not (as in Redis).
    subscriber: bool,
    idle: Option<Duration>,
}

impl Settings {
    fn load(state: &ServerState) -> Settings {
        let epoch = state.config_epoch.load(Ordering::Acquire);
        let config = state.config();
        Settings {
            epoch,
            query_limit: config.client_query_buffer_limit,
            output: config.client_output_buffer_limit.normal,
            pubsub_output: config.client_output_buffer_limit.pubsub,
            subscriber: false,
            idle: (config.timeout > 0).then(|| Duration::from_secs(config.timeout)),
        }
    }

    fn refresh(&mut self, state: &ServerState, subscriber: bool) {
        if state.config_epoch.load(Ordering::Acquire) != self.epoch {
            *self = Settings::load(state);
        }
        self.subscriber = subscriber;
    }

    /// The output limit of the client's class.
    fn output(&self) -> OutputBufferLimit {
        if self.subscriber {
            self.pubsub_output
        } else {
            self.output
        }
    }

    /// How long the client may stay idle.
    fn idle(&self) -> Option<Duration> {
        self.idle.filter(|_| !self.subscriber)
    }

    /// Pending reply bytes at or over the hard limit (Redis compares with `>=`).
    fn over_hard_limit(&self, pending: usize) -> bool {
        let hard = self.output().hard;
        hard > 0 && pending as u64 >= hard
    }
}

/// Resolves when `mailbox` holds messages for the client; never without one.
async fn messages(mailbox: Option<&Mailbox>) {
    match mailbox {
        Some(m) => m.ready().await,
        None => std::future::pending().await,
    }
}

/// Resolves when `mailbox` overflowed; never without one.
async fn overflowed(mailbox: Option<&Mailbox>) {
    match mailbox {
        Some(m) => m.overflowed().await,
        None => std::future::pending().await,
    }
}

/// Resolves once the connection has been idle for the `timeout` setting; never without one.
async fn idle(timeout: Option<Duration>) {
    match timeout {
        Some(t) => tokio::time::sleep(t).await,
        None => std::future::pending().await,
    }
}

/// How writing the replies ended.
enum Written {
    All,
    /// The client let its replies pile up beyond `client-output-buffer-limit`.
    OverLimit,
    /// The client read nothing for `timeout` seconds.
    Idle,
}

/// Writes `out`. While the client is slow to read, the bytes not yet written are its pending
/// output: at or over the hard limit, or over the soft limit for more than soft-seconds in a
/// row (`soft_since` remembers since when, across batches), the connection is given up.
///
/// A subscriber whose `mailbox` overflows meanwhile (it reads nothing, and messages keep
/// coming) is given up at once, rather than when this write ends, which may be never.
async fn write_replies<S: ClientStream>(
    socket: &mut S,
    out: &[u8],
    settings: &Settings,
    soft_since: &mut Option<Instant>,
    mailbox: Option<&Mailbox>,
) -> io::Result<Written> {
    let limit = settings.output();
    let mut written = 0;
    let mut progress = Instant::now();
    while written < out.len() {
        let pending = out.len() - written;
        if settings.over_hard_limit(pending) {
            return Ok(Written::OverLimit);
        }
        let idle_at = settings.idle().map(|t| progress + t);
        let mut wake_at = idle_at;
        if limit.soft > 0 && pending as u64 >= limit.soft {
            let since = *soft_since.get_or_insert_with(Instant::now);
            let until = since + Duration::from_secs(limit.soft_seconds);
            if Instant::now() > until {
                return Ok(Written::OverLimit);
            }
            let check = until + Duration::from_millis(1);
            wake_at = Some(wake_at.map_or(check, |t| t.min(check)));
        } else {
            *soft_since = None;
        }
        let write = async {
            tokio::select! {
                n = socket.write(&out[written..]) => Some(n),
                _ = overflowed(mailbox) => None,
            }
        };
        let n = match wake_at {
            None => match write.await {
                Some(n) => n?,
                None => return Ok(Written::OverLimit),
            },
            Some(at) => match tokio::time::timeout_at(at.into(), write).await {
                Ok(Some(n)) => n?,
                Ok(None) => return Ok(Written::OverLimit),
                Err(_) if idle_at.is_some_and(|t| Instant::now() >= t) => return Ok(Written::Idle),
                // The soft limit's time is up: the loop checks it again.
                Err(_) => continue,
            },
        };
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        written += n;
        progress = Instant::now();
    }
    *soft_since = None;
    Ok(Written::All)
}

pub async fn run<S: ClientStream>(
    mut socket: S,
    peer: SocketAddr,
    state: Arc<ServerState>,
    mut shutdown: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let mut session = Session::new(state.clone(), peer);
    let mut buf = BytesMut::with_capacity(16 * 1024);
    let mut parser = RequestParser::default();
    let mut settings = Settings::load(&state);
    let mut soft_since = None;
    let result = async {
        loop {
            settings.refresh(&state, session.subscribed());
            let mailbox = session.mailbox();
            let n = tokio::select! {
                n = socket.read_some(&mut buf) => n?,
                _ = messages(mailbox.as_deref()) => {
                    // Published messages, while the client has no request in progress.
                    session.drain_messages();
                    if session.over_pubsub_limit() {
                        tracing::warn!(%peer, "closing subscriber over client-output-buffer-limit pubsub");
                        return Ok(());
                    }
                    let out = session.take_output();
                    if !out.is_empty() {
                        match write_replies(&mut socket, &out, &settings, &mut soft_since, mailbox.as_deref()).await? {
                            Written::All => {}
                            Written::OverLimit | Written::Idle => {
                                tracing::warn!(%peer, "closing subscriber over client-output-buffer-limit pubsub");
                                return Ok(());
                            }
                        }
                    }
                    continue;
                }
                _ = shutdown.changed() => return Ok(()),
                _ = idle(settings.idle()) => {
                    tracing::debug!(%peer, "closing idle client");
                    return Ok(());
                }
            };
            if n == 0 {
                return Ok(());
            }
            session.new_input();
            let mut closing = false;
            loop {
                match parser.parse(&mut buf, &state.limits, session.auth_required()) {
                    Ok(Some(argv)) if argv.is_empty() => continue,
                    Ok(Some(argv)) => {
                        match session.handle(argv).await {
                            Step::Close => {
                                closing = true;
                                break;
                            }
                            Step::Blocked => {
                                // The replies owed (settled before it blocked) go out first;
                                // then the client waits, and its connection reads on only to
                                // notice a hang-up (requests that arrive meanwhile wait their
                                // turn in `buf`).
                                let out = session.take_output();
                                if !out.is_empty() {
                                    match write_replies(
                                        &mut socket,
                                        &out,
                                        &settings,
                                        &mut soft_since,
                                        session.mailbox().as_deref(),
                                    )
                                    .await?
                                    {
                                        Written::All => {}
                                        Written::OverLimit | Written::Idle => return Ok(()),
                                    }
                                }
                                let wait = session.wait_blocked();
                                tokio::pin!(wait);
                                loop {
                                    let room = parser.memory(&buf) <= settings.query_limit;
                                    tokio::select! {
                                        _ = &mut wait => break,
                                        n = socket.read_some(&mut buf), if room => {
                                            if n? == 0 {
                                                // Hung up: dropping the wait takes the client
                                                // out of line (and `close` below).
                                                return Ok(());
                                            }
                                        }
                                        _ = shutdown.changed() => return Ok(()),
                                    }
                                }
                            }
                            Step::Continue => {}
                        }
                        if settings.over_hard_limit(session.output_len()) {
                            tracing::warn!(%peer, "closing client over client-output-buffer-limit");
                            return Ok(());
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        session.finish_pending().await;
                        session.push_reply(&Reply::Error(format!("ERR {e}")));
                        closing = true;
                        break;
                    }
                }
            }
            if !closing && parser.memory(&buf) > settings.query_limit {
                session.finish_pending().await;
                session.push_reply(&Reply::err(
                    "Protocol error: client query buffer limit exceeded",
                ));
                closing = true;
            }
            session.finish_pending().await;
            session.drain_messages();
            if session.over_pubsub_limit() {
                tracing::warn!(%peer, "closing subscriber over client-output-buffer-limit pubsub");
                return Ok(());
            }
            settings.refresh(&state, session.subscribed());
            let out = session.take_output();
            let mailbox = session.mailbox();
            if !out.is_empty() {
                match write_replies(&mut socket, &out, &settings, &mut soft_since, mailbox.as_deref()).await? {
                    Written::All => {}
                    Written::OverLimit => {
                        tracing::warn!(%peer, "closing client over client-output-buffer-limit");
                        return Ok(());
                    }
                    Written::Idle => {
                        tracing::debug!(%peer, "closing idle client");
                        return Ok(());
                    }
                }
            }
            if closing {
                let _ = socket.shutdown().await;
                return Ok(());
            }
            // Give back memory a burst of large requests left behind.
            if buf.is_empty() && buf.capacity() > 1024 * 1024 {
                buf = BytesMut::with_capacity(16 * 1024);
            }
        }
    }
    .await;
    session.close();
    result
}
