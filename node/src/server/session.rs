//! A connection's session: selected database, authentication, protocol version, MULTI queue,
//! and the commands that act on these (AUTH, HELLO, SELECT, MULTI/EXEC, CLIENT, CONFIG, ...).

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use bytes::{Bytes, BytesMut};

use super::{info, ClientInfo, ServerState, REDIS_VERSION};
use crate::command::{self, flags, Args, CmdError, CommandSpec, Ctx, Kind, SplitMix64};
use crate::config;
use crate::engine::{self, Mutation, Op};
use crate::raft::cluster::{ClusterError, PendingWrite, WriteOutcome};
use crate::resp::client::RespClient;
use crate::resp::Reply;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Continue,
    Close,
}

enum Queued {
    Ready(Reply),
    /// A write proposed on this node (the leader); the reply arrives once it is applied.
    Write(PendingWrite),
    /// A request forwarded to the leader: read `skip` replies and drop them (MULTI, QUEUED,
    /// SELECT), then the one that answers the client.
    Forwarded {
        skip: usize,
    },
}

/// The connection a follower forwards this client's commands on, in order (so a pipeline of
/// writes keeps its order, and reads see the client's earlier writes).
struct Forward {
    leader_addr: String,
    client: RespClient,
    db: u8,
    /// The protocol this connection speaks: the client's, so that the leader's replies are
    /// passed on in the shape the client expects (a RESP3 reply of pairs cannot be told from
    /// nested arrays, to flatten it for a RESP2 client).
    resp3: bool,
    broken: Option<String>,
}

fn clusterdown() -> Reply {
    Reply::Error("CLUSTERDOWN No raft leader".into())
}

/// A proposed write that did not commit in time: the cluster has no working leader, but the
/// entry may still commit later, so the client is told its outcome is unknown.
fn commit_timeout() -> Reply {
    Reply::Error(
        "CLUSTERDOWN No raft leader: the write did not commit within raft-write-timeout and may still be applied".into(),
    )
}

fn outcome_reply(outcome: WriteOutcome) -> Reply {
    match outcome {
        Ok(r) => r,
        Err(ClusterError::NotLeader { .. }) => Reply::Error(
            "TRYAGAIN leadership changed before the write committed; it may or may not have been applied".into(),
        ),
        Err(ClusterError::Timeout(_) | ClusterError::NoLeader) => clusterdown(),
        Err(e) => Reply::err(e.to_string()),
    }
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
    /// Replies not yet written, in request order.
    queue: VecDeque<Queued>,
    out: BytesMut,
    /// READONLY: reads may be served locally on a follower (possibly stale).
    readonly: bool,
    /// A read barrier was taken after every request of the current input batch had arrived,
    /// so it covers the remaining reads of the batch too (they were invoked before it).
    barrier_covers_batch: bool,
    forward: Option<Forward>,
    last_command: &'static str,
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
            out: BytesMut::with_capacity(16 * 1024),
            readonly: false,
            barrier_covers_batch: false,
            forward: None,
            last_command: "",
        }
    }

    pub fn close(&mut self) {
        self.state.clients().remove(&self.id);
    }

    pub fn push_reply(&mut self, reply: &Reply) {
        if self.queue.is_empty() {
            reply.encode(&mut self.out, self.resp3);
        } else {
            self.queue.push_back(Queued::Ready(reply.clone()));
        }
    }

    /// Waits for every submitted write and encodes all replies in order.
    pub async fn finish_pending(&mut self) {
        let timeout = self.state.config().raft_write_timeout;
        while let Some(item) = self.queue.pop_front() {
            let reply = match item {
                Queued::Ready(r) => r,
                Queued::Write(pending) => {
                    match tokio::time::timeout(timeout, pending.outcome()).await {
                        Ok(outcome) => outcome_reply(outcome),
                        Err(_) => commit_timeout(),
                    }
                }
                Queued::Forwarded { skip } => self.forwarded_reply(skip, timeout).await,
            };
            reply.encode(&mut self.out, self.resp3);
        }
    }

    async fn forwarded_reply(&mut self, skip: usize, timeout: std::time::Duration) -> Reply {
        let Some(fwd) = self.forward.as_mut() else {
            return clusterdown();
        };
        if let Some(why) = &fwd.broken {
            return Reply::Error(format!(
                "CLUSTERDOWN forwarding to the leader failed ({why}); the command may or may not have been applied"
            ));
        }
        let mut last = Reply::Nil;
        for _ in 0..=skip {
            match tokio::time::timeout(timeout, fwd.client.recv()).await {
                Ok(Ok(r)) => last = r,
                Ok(Err(e)) => {
                    fwd.broken = Some(e.to_string());
                    return Reply::Error(format!(
                        "CLUSTERDOWN forwarding to the leader failed ({e}); the command may or may not have been applied"
                    ));
                }
                Err(_) => {
                    fwd.broken = Some("timed out".into());
                    return commit_timeout();
                }
            }
        }
        last
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
        let spec = match command::resolve(&argv) {
            Ok(spec) => spec,
            Err(e) => {
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
            self.push_reply(&noauth());
            return Step::Continue;
        }
        if self.multi.is_some()
            && !matches!(
                spec.name,
                "exec" | "discard" | "multi" | "watch" | "quit" | "reset"
            )
        {
            let reply = self.queue_in_multi(spec, argv);
            self.push_reply(&reply);
            return Step::Continue;
        }
        match spec.kind {
            Kind::Data(_) if spec.is_write() => {
                let db = self.db;
                self.write(Mutation::single(db, argv), None).await;
                Step::Continue
            }
            Kind::Data(_) => {
                self.read(spec, argv).await;
                Step::Continue
            }
            Kind::Session => {
                // A session command (HELLO, SELECT, ...) must not change how the replies of
                // writes still in flight are encoded: settle them first.
                self.finish_pending().await;
                self.session_command(spec, &argv).await
            }
        }
    }

    /// Sends a write the way the cluster wants it: proposed here on the leader, forwarded to
    /// the leader (or redirected with -MOVED) on a follower, refused when there is no leader.
    /// `requests` are the client's original commands, for forwarding; `None` stands for the
    /// mutation's own single command (so the common case copies nothing).
    async fn write(&mut self, mutation: Mutation, requests: Option<Vec<Vec<Bytes>>>) {
        let cluster = self.state.cluster.clone();
        let leader = if cluster.is_leader() {
            Some((cluster.id, cluster.me.clone()))
        } else {
            let timeout = self.state.config().raft_write_timeout;
            cluster.wait_for_leader(timeout).await
        };
        let Some((leader_id, leader)) = leader else {
            self.push_reply(&clusterdown());
            return;
        };
        if leader_id == cluster.id {
            match cluster.propose(mutation).await {
                Ok(pending) => self.queue.push_back(Queued::Write(pending)),
                Err(e) => self.push_reply(&outcome_reply(Err(e))),
            }
        } else if self.state.config().raft_follower_forward {
            let requests = requests.unwrap_or_else(|| mutation.commands().cloned().collect());
            self.forward(&leader.resp_addr, requests).await;
        } else {
            self.push_reply(&Reply::Error(format!("MOVED 0 {}", leader.resp_addr)));
        }
    }

    /// Queues `requests` on the forwarding connection to the leader; only the last reply is
    /// the client's.
    async fn forward(&mut self, leader_addr: &str, requests: Vec<Vec<Bytes>>) {
        let resp3 = self.resp3;
        let stale = self
            .forward
            .as_ref()
            .is_none_or(|f| f.leader_addr != leader_addr || f.broken.is_some() || f.resp3 != resp3);
        if stale {
            // Replies still owed by the old connection are read before it is replaced.
            self.finish_pending().await;
            let password = self.state.config().requirepass.clone();
            let connect = RespClient::connect(leader_addr, password.as_deref(), resp3);
            let failure =
                match tokio::time::timeout(std::time::Duration::from_secs(2), connect).await {
                    Ok(Ok(client)) => {
                        self.forward = Some(Forward {
                            leader_addr: leader_addr.to_string(),
                            client,
                            db: 0,
                            resp3,
                            broken: None,
                        });
                        None
                    }
                    Ok(Err(e)) => Some(e.to_string()),
                    Err(_) => Some("timed out".to_string()),
                };
            if let Some(why) = failure {
                self.push_reply(&Reply::Error(format!(
                    "CLUSTERDOWN cannot reach the leader at {leader_addr}: {why}"
                )));
                return;
            }
        }
        let db = self.db;
        let Some(fwd) = self.forward.as_mut() else {
            return;
        };
        let mut skip = requests.len() - 1;
        if fwd.db != db {
            fwd.client
                .send(&[Bytes::from_static(b"SELECT"), Bytes::from(db.to_string())]);
            fwd.db = db;
            skip += 1;
        }
        for req in &requests {
            fwd.client.send(req);
        }
        if let Err(e) = fwd.client.flush().await {
            fwd.broken = Some(e.to_string());
        }
        self.queue.push_back(Queued::Forwarded { skip });
    }

    /// Runs a read. Linearizable by default: the leader confirms its leadership (read index)
    /// first, a follower forwards to the leader. After READONLY a follower reads locally,
    /// possibly stale. Earlier replies of this connection are settled first, so a client
    /// always reads its own writes.
    async fn read(&mut self, spec: &CommandSpec, argv: Vec<Bytes>) {
        let cluster = self.state.cluster.clone();
        if !self.readonly && !cluster.is_leader() {
            let timeout = self.state.config().raft_write_timeout;
            match cluster.wait_for_leader(timeout).await {
                Some((id, leader)) if id != cluster.id => {
                    if self.state.config().raft_follower_forward {
                        self.forward(&leader.resp_addr, vec![argv]).await;
                    } else {
                        self.push_reply(&Reply::Error(format!("MOVED 0 {}", leader.resp_addr)));
                    }
                    return;
                }
                Some(_) => {}
                None => {
                    self.push_reply(&clusterdown());
                    return;
                }
            }
        }
        self.finish_pending().await;
        if !self.readonly && !self.barrier_covers_batch {
            let timeout = self.state.config().raft_write_timeout;
            if let Err(e) = cluster.read_barrier(timeout).await {
                self.push_reply(&outcome_reply(Err(e)));
                return;
            }
            self.barrier_covers_batch = true;
        }
        if self.state.db.replacing() {
            self.push_reply(&Reply::Error(
                "LOADING Kiwi is installing a snapshot from the leader".into(),
            ));
            return;
        }
        let reply = if spec.may_run_long(&argv) {
            command::run_long(|| self.execute_local(spec, &argv))
        } else {
            self.execute_local(spec, &argv)
        };
        self.push_reply(&reply);
    }

    fn execute_local(&self, spec: &CommandSpec, argv: &[Bytes]) -> Reply {
        let db = self.state.db.clone();
        let mut txn = db.reader();
        // A read's random picks stay on this node: any seed will do.
        let mut rng = SplitMix64::new(rand::random());
        let mut ctx = Ctx {
            txn: &mut txn,
            db: self.db,
            now_ms: engine::now_ms(),
            rng: &mut rng,
        };
        // A read that meets a storage failure just answers it: it changed nothing.
        command::execute(&mut ctx, spec, argv).unwrap_or_else(|e| CmdError::Storage(e).into_reply())
    }

    fn queue_in_multi(&mut self, spec: &CommandSpec, argv: Vec<Bytes>) -> Reply {
        if spec.has(flags::NOMULTI) {
            self.multi_failed = true;
            return Reply::err(format!(
                "Command not allowed inside a transaction: '{}'",
                spec.name
            ));
        }
        if self.multi_failed {
            // EXEC will abort: the command need not be kept.
            return Reply::Simple("QUEUED".into());
        }
        let cost = std::mem::size_of::<Op>()
            + argv
                .iter()
                .map(|a| a.len() + std::mem::size_of::<Bytes>())
                .sum::<usize>();
        let limit = self.state.config().client_query_buffer_limit;
        if self.multi_bytes + cost > limit {
            self.multi_failed = true;
            self.multi = Some(Vec::new());
            return Reply::err(format!(
                "MULTI queue exceeds client-query-buffer-limit ({limit} bytes)"
            ));
        }
        self.multi_bytes += cost;
        let db = self.multi_db;
        let op = if spec.name == "select" {
            // Redis queues a SELECT of any index and answers it at EXEC; the commands after a
            // failed one stay in the database before it.
            match self.parse_db(&argv[1]) {
                Ok(db) => {
                    self.multi_db = db;
                    Op::Command { db, argv }
                }
                Err(e) => Op::Settled {
                    argv,
                    reply: e.into_reply(),
                },
            }
        } else {
            Op::Command { db, argv }
        };
        if let Some(ops) = self.multi.as_mut() {
            ops.push(op);
        }
        Reply::Simple("QUEUED".into())
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
                    Reply::ok()
                } else {
                    Reply::err("DISCARD without MULTI")
                }
            }
            "watch" => {
                if self.multi.is_some() {
                    Reply::err("WATCH inside MULTI is not allowed")
                } else {
                    Reply::err(
                        "WATCH is not supported; use MULTI/EXEC, which is applied atomically",
                    )
                }
            }
            "unwatch" => Reply::ok(),
            "client" => self.client(&args),
            "info" => {
                let section = args
                    .from(1)
                    .first()
                    .map(|s| String::from_utf8_lossy(s).to_lowercase());
                Reply::Verbatim(info::render(&self.state, section.as_deref()))
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
                self.multi = None;
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

    async fn exec(&mut self) -> Step {
        let Some(ops) = self.multi.take() else {
            self.push_reply(&Reply::err("EXEC without MULTI"));
            return Step::Continue;
        };
        if self.multi_failed {
            self.push_reply(&Reply::Error(
                "EXECABORT Transaction discarded because of previous errors.".into(),
            ));
            return Step::Continue;
        }
        if ops.is_empty() {
            self.push_reply(&Reply::Array(Vec::new()));
            return Step::Continue;
        }
        let mutation = Mutation::transaction(ops);
        let mut requests = vec![vec![Bytes::from_static(b"MULTI")]];
        requests.extend(mutation.commands().cloned());
        requests.push(vec![Bytes::from_static(b"EXEC")]);
        // Forwarded, the block runs from the database MULTI started in (its SELECTs travel
        // with it); afterwards the session is in the database the block ended in.
        self.write(mutation, Some(requests)).await;
        if self.db != self.multi_db {
            if let Some(fwd) = self.forward.as_mut() {
                // The block's SELECTs ran on the forwarding connection too: re-SELECT next time.
                fwd.db = u8::MAX;
            }
        }
        self.db = self.multi_db;
        Step::Continue
    }

    fn auth(&mut self, args: &Args) -> Reply {
        let Some(required) = self.state.config().requirepass.clone() else {
            return Reply::err(
                "AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?",
            );
        };
        let (user, pass) = match args.len() {
            2 => (Bytes::from_static(b"default"), args.from(1)[0].clone()),
            3 => (args.from(1)[0].clone(), args.from(2)[0].clone()),
            _ => return CmdError::Syntax.into_reply(),
        };
        if &user[..] == b"default" && pass[..] == *required.as_bytes() {
            self.authenticated = true;
            Reply::ok()
        } else {
            Reply::Error("WRONGPASS invalid username-password pair or user is disabled.".into())
        }
    }

    fn hello(&mut self, args: &Args) -> Reply {
        let mut proto = if self.resp3 { 3 } else { 2 };
        let mut i = 1;
        if args.len() > 1 {
            match command::args::parse_i64(&args.from(1)[0]) {
                Ok(v @ 2..=3) => proto = v,
                Ok(_) => return Reply::Error("NOPROTO unsupported protocol version".into()),
                Err(_) => return Reply::err("Protocol version is not an integer or out of range"),
            }
            i = 2;
        }
        let mut name = None;
        while i < args.len() {
            if args.is(i, "auth") && i + 2 < args.len() {
                let auth_args = [
                    Bytes::from_static(b"auth"),
                    args.from(i + 1)[0].clone(),
                    args.from(i + 2)[0].clone(),
                ];
                let reply = self.auth(&Args::new(&auth_args));
                if reply.is_error() {
                    return reply;
                }
                i += 3;
            } else if args.is(i, "setname") && i + 1 < args.len() {
                name = Some(args.from(i + 1)[0].clone());
                i += 2;
            } else {
                return Reply::err(format!(
                    "Syntax error in HELLO option '{}'",
                    String::from_utf8_lossy(&args.from(i)[0])
                ));
            }
        }
        if !self.authenticated {
            return Reply::Error("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time".into());
        }
        if let Some(name) = name {
            if let Err(e) = self.set_name(&name) {
                return e;
            }
        }
        self.resp3 = proto == 3;
        self.update_info(|i| i.resp = proto as u8);
        let s = |v: &str| Reply::bulk(v.to_string());
        Reply::Map(vec![
            (s("server"), s("redis")),
            (s("version"), s(REDIS_VERSION)),
            (s("proto"), Reply::Int(proto)),
            (s("id"), Reply::Int(self.id as i64)),
            (s("mode"), s("standalone")),
            (s("role"), s("master")),
            (s("modules"), Reply::Array(Vec::new())),
        ])
    }

    fn set_name(&self, name: &[u8]) -> Result<(), Reply> {
        if name.iter().any(|&c| c <= b' ' || c > b'~') {
            return Err(Reply::err(
                "Client names cannot contain spaces, newlines or special characters.",
            ));
        }
        let name = String::from_utf8_lossy(name).to_string();
        self.update_info(|i| i.name = name);
        Ok(())
    }

    fn client(&mut self, args: &Args) -> Reply {
        let sub = args.upper(1).unwrap_or_default();
        match (sub.as_str(), args.len()) {
            ("SETNAME", 3) => self
                .set_name(&args.from(2)[0])
                .map(|_| Reply::ok())
                .unwrap_or_else(|e| e),
            ("GETNAME", 2) => {
                let name = self
                    .state
                    .clients()
                    .get(&self.id)
                    .map(|i| i.name.clone())
                    .unwrap_or_default();
                if name.is_empty() {
                    Reply::Nil
                } else {
                    Reply::bulk(name)
                }
            }
            ("ID", 2) => Reply::Int(self.id as i64),
            ("LIST", _) => {
                let clients = self.state.clients();
                let text: String = clients
                    .values()
                    .map(|c| info::client_line(c) + "\n")
                    .collect();
                Reply::Verbatim(text)
            }
            ("INFO", 2) => {
                let clients = self.state.clients();
                let line = clients
                    .get(&self.id)
                    .map(info::client_line)
                    .unwrap_or_default();
                Reply::Verbatim(line + "\n")
            }
            ("SETINFO", 4) => Reply::ok(),
            ("NO-EVICT", 3) | ("NO-TOUCH", 3) | ("REPLY", 3) => Reply::ok(),
            _ => Reply::err(format!(
                "unknown subcommand or wrong number of arguments for '{}'. Try CLIENT HELP.",
                String::from_utf8_lossy(args.from(1).first().map(|b| &b[..]).unwrap_or(b""))
            )),
        }
    }

    fn config(&mut self, args: &Args) -> Reply {
        let sub = args.upper(1).unwrap_or_default();
        match sub.as_str() {
            "GET" if args.len() >= 3 => {
                let cfg = self.state.config();
                let mut pairs = Vec::new();
                for pattern in args.from(2) {
                    for key in config::KEYS {
                        if command::glob::glob_match_nocase(pattern, key.name.as_bytes())
                            && !pairs
                                .iter()
                                .any(|(k, _): &(Reply, Reply)| *k == Reply::bulk(key.name))
                        {
                            pairs.push((Reply::bulk(key.name), Reply::bulk((key.get)(&cfg))));
                        }
                    }
                    // Keys redis-benchmark and other tools ask about; Kiwi's answers.
                    for (name, value) in [
                        ("save", ""),
                        ("appendonly", "no"),
                        ("appendfsync", "always"),
                    ] {
                        if command::glob::glob_match_nocase(pattern, name.as_bytes()) {
                            pairs.push((Reply::bulk(name), Reply::bulk(value)));
                        }
                    }
                }
                Reply::Map(pairs)
            }
            "SET" if args.len() >= 4 && args.len().is_multiple_of(2) => {
                let mut cfg = self.state.config.write().unwrap_or_else(|e| e.into_inner());
                let mut updated = cfg.clone();
                for pair in args.from(2).chunks(2) {
                    let name = String::from_utf8_lossy(&pair[0]).to_lowercase();
                    if !RUNTIME_SETTABLE.contains(&name.as_str()) {
                        return Reply::err(format!("Unsupported CONFIG parameter: {name}"));
                    }
                    if let Err(e) = updated.set_flag(&name, &String::from_utf8_lossy(&pair[1])) {
                        let why = match e {
                            config::ConfigError::Flag { message, .. } => message,
                            other => other.to_string(),
                        };
                        return Reply::err(format!(
                            "CONFIG SET failed (possibly related to argument '{name}') - {why}"
                        ));
                    }
                }
                *cfg = updated;
                // Connections reload the settings they keep at hand.
                self.state.config_epoch.fetch_add(1, Ordering::Release);
                Reply::ok()
            }
            "RESETSTAT" if args.len() == 2 => {
                self.state.total_commands.store(0, Ordering::Relaxed);
                self.state.total_connections.store(0, Ordering::Relaxed);
                Reply::ok()
            }
            "REWRITE" => Reply::err("CONFIG REWRITE is not supported; edit the config file"),
            _ => Reply::err(format!(
                "unknown subcommand or wrong number of arguments for '{}'. Try CONFIG HELP.",
                String::from_utf8_lossy(args.from(1).first().map(|b| &b[..]).unwrap_or(b""))
            )),
        }
    }
}

/// Keys CONFIG SET may change while the node runs.
const RUNTIME_SETTABLE: &[&str] = &[
    "requirepass",
    "maxclients",
    "client-query-buffer-limit",
    "client-output-buffer-limit",
    "timeout",
    "tcp-keepalive",
    "loglevel",
    "raft-write-timeout",
    "raft-follower-forward",
];

fn noauth() -> Reply {
    Reply::Error("NOAUTH Authentication required.".into())
}

/// COMMAND, COMMAND COUNT, COMMAND INFO, COMMAND DOCS, COMMAND GETKEYS.
fn command_info(args: &Args) -> Reply {
    fn describe(spec: &CommandSpec) -> Reply {
        let flag_names = flags::NAMES
            .iter()
            .filter(|(bit, _)| spec.has(*bit))
            .map(|(_, name)| Reply::Simple(name.to_string()))
            .collect();
        Reply::Array(vec![
            Reply::bulk(spec.name),
            Reply::Int(spec.arity as i64),
            Reply::Set(flag_names),
            Reply::Int(spec.keys.0 as i64),
            Reply::Int(spec.keys.1 as i64),
            Reply::Int(spec.keys.2 as i64),
            Reply::Set(Vec::new()),
            Reply::Set(Vec::new()),
            Reply::Array(Vec::new()),
            Reply::Array(Vec::new()),
        ])
    }
    let sub = args.upper(1).unwrap_or_default();
    match sub.as_str() {
        "" => Reply::Array(command::all().map(describe).collect()),
        "COUNT" => Reply::Int(command::all().count() as i64),
        "INFO" => {
            let specs: Vec<Reply> = if args.len() == 2 {
                command::all().map(describe).collect()
            } else {
                args.from(2)
                    .iter()
                    .map(|n| command::lookup(n).map(describe).unwrap_or(Reply::NilArray))
                    .collect()
            };
            Reply::Array(specs)
        }
        "DOCS" => {
            let names: Vec<&'static CommandSpec> = if args.len() == 2 {
                command::all().collect()
            } else {
                args.from(2)
                    .iter()
                    .filter_map(|n| command::lookup(n))
                    .collect()
            };
            Reply::Map(
                names
                    .into_iter()
                    .map(|spec| {
                        (
                            Reply::bulk(spec.name),
                            Reply::Map(vec![
                                (
                                    Reply::bulk("summary"),
                                    Reply::bulk(format!("Kiwi's {}", spec.name.to_uppercase())),
                                ),
                                (Reply::bulk("since"), Reply::bulk("1.0.0")),
                                (Reply::bulk("group"), Reply::bulk("generic")),
                            ]),
                        )
                    })
                    .collect(),
            )
        }
        "GETKEYS" if args.len() >= 3 => {
            let argv = args.from(2);
            match command::resolve(argv) {
                Ok(spec) => {
                    let keys: Vec<Reply> = spec
                        .key_indexes(argv.len())
                        .into_iter()
                        .map(|i| Reply::bulk(argv[i].clone()))
                        .collect();
                    if keys.is_empty() {
                        Reply::err("The command has no key arguments")
                    } else {
                        Reply::Array(keys)
                    }
                }
                Err(e) => e.into_reply(),
            }
        }
        _ => Reply::err(format!("unknown subcommand '{sub}'. Try COMMAND HELP.")),
    }
}
