//! A connection's session: selected database, authentication, protocol version, MULTI queue,
//! and the commands that act on these (AUTH, HELLO, SELECT, MULTI/EXEC, CLIENT, CONFIG, ...).
//!
//! This file holds the session's state and the dispatch of each request; the jobs live beside
//! it: `routing` (where a read or write runs: proposed, forwarded, or served here), `multi`
//! (MULTI/EXEC), `watch` (WATCH), `block` (BLPOP and the other blocking commands), `auth`
//! (AUTH, HELLO), `client` (CLIENT), `configure` (CONFIG) and `command_info` (COMMAND).

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use bytes::{Bytes, BytesMut};

use super::stats::CallTag;
use super::{info, ClientInfo, ServerState};
use crate::command::{self, flags, Args, CmdError, CommandSpec, Kind};
use crate::engine::{Mutation, Op, WatchedKey};
use crate::resp::Reply;

mod auth;
mod block;
mod client;
mod command_docs;
mod command_info;
mod configure;
mod multi;
mod pubsub;
mod routing;
mod wait;
mod watch;

use auth::noauth;
use command_info::command_info;
use routing::{Forward, Queued};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Continue,
    Close,
    /// A blocking command waits: call [`Session::wait_blocked`] before the next request.
    Blocked,
}

pub struct Session {
    state: Arc<ServerState>,
    id: u64,
    db: u8,
    authenticated: bool,
    resp3: bool,
    /// Commands queued by MULTI, with the database each runs against.
    multi: Option<Vec<Op>>,
    /// The database selected inside the MULTI block so far.
    multi_db: u8,
    /// A queued command was rejected: EXEC must abort.
    multi_failed: bool,
    /// Memory the MULTI queue holds, counted against `client-query-buffer-limit` (as Redis
    /// counts queued commands as part of the query buffer).
    multi_bytes: usize,
    /// Replies not yet written, in request order, each with the call it answers (INFO).
    queue: VecDeque<(Queued, Option<CallTag>)>,
    /// The command being handled, until its reply is pushed or queued (see [`CallTag`]).
    tag: Option<CallTag>,
    out: BytesMut,
    /// READONLY: reads may be served locally on a follower (possibly stale).
    readonly: bool,
    /// A read barrier was taken after every request of the current input batch had arrived,
    /// so it covers the remaining reads of the batch too (they were invoked before it).
    barrier_covers_batch: bool,
    forward: Option<Forward>,
    last_command: &'static str,
    /// What WATCH saw of the keys it watched; EXEC checks them (see `watch`).
    watched: Vec<WatchedKey>,
    /// The blocking command this client waits on (see `block`).
    blocked: Option<block::Blocked>,
    /// Channels and patterns subscribed to, and the mailbox of their messages (see `pubsub`).
    pubsub: pubsub::Subscriptions,
}

impl Session {
    pub fn new(state: Arc<ServerState>, peer: SocketAddr) -> Session {
        let id = state.next_client_id.fetch_add(1, Ordering::Relaxed);
        let authenticated = state.config().requirepass.is_none();
        state.clients().insert(
            id,
            ClientInfo {
                id,
                addr: peer.to_string(),
                name: String::new(),
                db: 0,
                connected_at: Instant::now(),
                last_command: "",
                resp: 2,
                blocked: false,
                subscriptions: [0; 3],
            },
        );
        Session {
            state,
            id,
            db: 0,
            authenticated,
            resp3: false,
            multi: None,
            multi_db: 0,
            multi_failed: false,
            multi_bytes: 0,
            queue: VecDeque::new(),
            tag: None,
            out: BytesMut::with_capacity(16 * 1024),
            readonly: false,
            barrier_covers_batch: false,
            forward: None,
            last_command: "",
            watched: Vec::new(),
            blocked: None,
            pubsub: pubsub::Subscriptions::default(),
        }
    }

    pub fn close(&mut self) {
        self.leave_pubsub();
        self.state.blocking.leave(self.id);
        self.state.clients().remove(&self.id);
    }

    pub fn push_reply(&mut self, reply: &Reply) {
        let tag = self.tag.take();
        if self.queue.is_empty() {
            // Messages that arrived meanwhile come first, as Redis writes them when published.
            self.encode_messages();
            self.state.stats.reply(reply, tag.as_ref());
            reply.encode(&mut self.out, self.resp3);
        } else {
            self.queue.push_back((Queued::Ready(reply.clone()), tag));
        }
    }

    /// New requests arrived from the socket: reads among them need a fresh barrier.
    pub fn new_input(&mut self) {
        self.barrier_covers_batch = false;
    }

    pub fn take_output(&mut self) -> BytesMut {
        self.out.split()
    }

    /// Bytes of replies encoded and not yet taken for writing.
    pub fn output_len(&self) -> usize {
        self.out.len()
    }

    /// The client must AUTH before it may run commands, and is held to Redis's limits on
    /// requests before AUTH (see `resp::request`).
    pub fn auth_required(&self) -> bool {
        !self.authenticated
    }

    fn update_info(&self, f: impl FnOnce(&mut ClientInfo)) {
        if let Some(info) = self.state.clients().get_mut(&self.id) {
            f(info);
        }
    }

    /// Runs one request.
    pub async fn handle(&mut self, argv: Vec<Bytes>) -> Step {
        self.state.count_command();
        self.tag = None;
        let (id, spec) = match command::resolve_id(&argv) {
            Ok(found) => found,
            Err((id, e)) => {
                if let Some(id) = id {
                    self.state.stats.rejected(id);
                }
                if self.multi.is_some() {
                    self.multi_failed = true;
                }
                // Redis checks the name and arity before authentication, so an unknown
                // command is reported as such even to a client that has not authenticated.
                self.push_reply(&e.into_reply());
                return Step::Continue;
            }
        };
        if self.last_command != spec.name {
            // CLIENT LIST shows it; the shared table is only locked when it changes.
            self.last_command = spec.name;
            self.update_info(|i| i.last_command = spec.name);
        }
        if !self.authenticated && !spec.has(flags::NOAUTH) {
            self.state.stats.rejected(id);
            self.push_reply(&noauth());
            return Step::Continue;
        }
        if let Some(refusal) = self.subscribe_mode_refusal(spec, &argv) {
            self.state.stats.rejected(id);
            self.push_reply(&refusal);
            return Step::Continue;
        }
        if self.multi.is_some()
            && !matches!(
                spec.name,
                "exec" | "discard" | "multi" | "watch" | "quit" | "reset"
            )
        {
            let reply = self.queue_in_multi(spec, argv);
            if reply.is_error() {
                self.state.stats.rejected(id);
            }
            self.push_reply(&reply);
            return Step::Continue;
        }
        self.tag = Some(self.call_tag(id, spec));
        if spec.name == "ping" {
            if let Some(pong) = self.subscribed_ping(&argv) {
                self.finish_pending().await;
                self.push_reply(&pong);
                return Step::Continue;
            }
        }
        match spec.kind {
            Kind::Data(_)
                if spec.has(flags::BLOCKING) && command::blocking::may_wait(spec.name, &argv) =>
            {
                self.blocking_command(spec, argv).await
            }
            Kind::Data(_) if spec.is_write() || self.read_must_write(spec, &argv) => {
                let db = self.db;
                self.write(Mutation::single(db, argv), None).await;
                Step::Continue
            }
            Kind::Data(_) => match command::scripting::route(spec, &argv, &self.state.db) {
                // A script that may write, SCRIPT LOAD, FUNCTION LOAD, ...: through the log.
                Some(command::scripting::Route::Write) => {
                    let db = self.db;
                    self.write(Mutation::single(db, argv), None).await;
                    Step::Continue
                }
                // SCRIPT KILL: now, past any read barrier the script holds up.
                Some(command::scripting::Route::Local) => {
                    let reply = self.execute_local(spec, &argv);
                    self.push_reply(&reply);
                    Step::Continue
                }
                Some(command::scripting::Route::Read) | None => {
                    self.read(spec, argv).await;
                    Step::Continue
                }
            },
            Kind::Session => {
                // A session command (HELLO, SELECT, ...) must not change how the replies of
                // writes still in flight are encoded: settle them first.
                self.finish_pending().await;
                self.session_command(spec, &argv).await
            }
        }
    }

    /// The tag of a command about to run; EXEC's names the commands it will run.
    fn call_tag(&self, id: usize, spec: &CommandSpec) -> CallTag {
        let mut tag = CallTag::new(id);
        if spec.name == "exec" {
            tag.inner = self.multi.as_ref().map(|ops| {
                ops.iter()
                    // WATCH's op adds no reply of its own: the tags follow EXEC's replies.
                    .filter(|op| !matches!(op, Op::Watch { .. }))
                    .map(|op| match op {
                        Op::Command { argv, .. } | Op::Settled { argv, .. } => {
                            command::lookup_id(&argv[0]).map(|(id, _)| id)
                        }
                        Op::ExpireKeys { .. } | Op::Watch { .. } => None,
                    })
                    .collect()
            });
        }
        tag
    }

    fn parse_db(&self, raw: &[u8]) -> Result<u8, CmdError> {
        let n = command::args::parse_i64(raw)?;
        if n < 0 || n >= self.state.config().databases as i64 {
            return Err(CmdError::msg("DB index is out of range"));
        }
        Ok(n as u8)
    }

    async fn session_command(&mut self, spec: &CommandSpec, argv: &[Bytes]) -> Step {
        let args = Args::new(argv);
        let reply = match spec.name {
            "quit" => {
                self.push_reply(&Reply::ok());
                return Step::Close;
            }
            "subscribe" | "psubscribe" | "ssubscribe" | "unsubscribe" | "punsubscribe"
            | "sunsubscribe" | "publish" | "spublish" | "pubsub" => {
                self.pubsub_command(spec.name, argv);
                return Step::Continue;
            }
            "auth" => self.auth(&args),
            "hello" => self.hello(&args),
            "select" => match self.parse_db(&argv[1]) {
                Ok(db) => {
                    self.db = db;
                    self.update_info(|i| i.db = db);
                    Reply::ok()
                }
                Err(e) => e.into_reply(),
            },
            "multi" => {
                if self.multi.is_some() {
                    Reply::err("MULTI calls can not be nested")
                } else {
                    self.multi = Some(Vec::new());
                    self.multi_db = self.db;
                    self.multi_failed = false;
                    self.multi_bytes = 0;
                    Reply::ok()
                }
            }
            "exec" => return self.exec().await,
            "discard" => {
                if self.multi.take().is_some() {
                    self.watched.clear();
                    Reply::ok()
                } else {
                    Reply::err("DISCARD without MULTI")
                }
            }
            "watch" => {
                if self.multi.is_some() {
                    Reply::err("WATCH inside MULTI is not allowed")
                } else {
                    self.watch(argv).await;
                    return Step::Continue;
                }
            }
            "unwatch" => {
                self.watched.clear();
                Reply::ok()
            }
            "kiwi.watch" => self.internal_watch(&args),
            "wait" => match self.wait_replicas(argv).await {
                Some(reply) => reply,
                None => return Step::Continue,
            },
            "client" => self.client(&args),
            "info" => {
                let sections: Vec<String> = args
                    .from(1)
                    .iter()
                    .map(|s| String::from_utf8_lossy(s).to_lowercase())
                    .collect();
                Reply::Verbatim(info::render(&self.state, &sections))
            }
            "config" => self.config(&args),
            "command" => command_info(&args),
            "readonly" => {
                self.readonly = true;
                Reply::ok()
            }
            "readwrite" => {
                self.readonly = false;
                Reply::ok()
            }
            "reset" => {
                self.unsubscribe_all();
                self.multi = None;
                self.watched.clear();
                self.db = 0;
                self.readonly = false;
                self.resp3 = false;
                self.authenticated = self.state.config().requirepass.is_none();
                Reply::Simple("RESET".into())
            }
            other => Reply::err(format!("unhandled session command '{other}'")),
        };
        self.push_reply(&reply);
        Step::Continue
    }
}
