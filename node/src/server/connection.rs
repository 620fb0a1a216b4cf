//! One client connection: read frames, run them through the session, write replies in order.
//!
//! Pipelined requests are parsed as they arrive; consecutive writes are submitted without
//! waiting for each other (so one pipeline can share a group commit), and replies are flushed
//! once no complete frame is left in the buffer.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;

use super::session::{Session, Step};
use super::ServerState;
use crate::resp::{parse_request, Reply};

pub async fn reject(mut socket: TcpStream) {
    let _ = socket
        .write_all(b"-ERR max number of clients reached\r\n")
        .await;
}

pub async fn run(
    socket: TcpStream,
    peer: SocketAddr,
    state: Arc<ServerState>,
    mut shutdown: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let (mut reader, mut writer) = socket.into_split();
    let mut session = Session::new(state.clone(), peer);
    let mut buf = BytesMut::with_capacity(16 * 1024);
    let query_limit = state.config().client_query_buffer_limit;
    let result = async {
        loop {
            let n = tokio::select! {
                n = reader.read_buf(&mut buf) => n?,
                _ = shutdown.changed() => return Ok(()),
            };
            if n == 0 {
                return Ok(());
            }
            session.new_input();
            let mut closing = false;
            loop {
                match parse_request(&mut buf, &state.limits) {
                    Ok(Some(argv)) if argv.is_empty() => continue,
                    Ok(Some(argv)) => {
                        if session.handle(argv).await == Step::Close {
                            closing = true;
                            break;
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
            if !closing && buf.len() > query_limit {
                session.finish_pending().await;
                session.push_reply(&Reply::err(
                    "Protocol error: client query buffer limit exceeded",
                ));
                closing = true;
            }
            session.finish_pending().await;
            let out = session.take_output();
            if !out.is_empty() {
                writer.write_all(&out).await?;
            }
            if closing {
                let _ = writer.shutdown().await;
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
