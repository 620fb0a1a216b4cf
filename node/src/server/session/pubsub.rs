//! A connection's side of Pub/Sub: its subscriptions, (P|S)SUBSCRIBE and (P|S)UNSUBSCRIBE with
//! Redis's replies, PUBLISH and SPUBLISH (also queued in MULTI), PUBSUB, RESP2's subscribe mode,
//! and writing the messages its mailbox receives in between replies.
//!
//! Messages are written as soon as the connection's replies allow: before the next reply it
//! writes, or, while it waits for requests, at once. A message published by the client itself
//! (or a keyspace notification of its own write) therefore comes before the reply to the
//! command that caused it, as in Redis 7.0.

use std::collections::BTreeSet;
use std::sync::Arc;

use bytes::Bytes;

use super::Session;
use crate::command::pubsub::ALLOWED_WHILE_SUBSCRIBED;
use crate::command::{Args, CommandSpec};
use crate::engine::Op;
use crate::pubsub::{Kind, Mailbox};
use crate::resp::Reply;

const HELP: &[&str] = &[
    "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CHANNELS [<pattern>]",
    "    Return the currently active channels matching a <pattern> (default: '*').",
    "NUMPAT",
    "    Return number of subscriptions to patterns.",
    "NUMSUB [<channel> ...]",
    "    Return the number of subscribers for the specified channels, excluding",
    "    pattern subscriptions(default: no channels).",
    "SHARDCHANNELS [<pattern>]",
    "    Return the currently active shard level channels matching a <pattern> (default: '*').",
    "SHARDNUMSUB [<shardchannel> ...]",
    "    Return the number of subscribers for the specified shard level channel(s)",
    "HELP",
    "    Prints this help.",
];

/// Commands whose first argument names a subcommand, which Redis's subscribe-mode error names
/// (`client|list`).
const CONTAINERS: &[&str] = &[
    "client", "config", "command", "object", "pubsub", "memory", "xinfo", "xgroup", "script",
    "function", "acl", "cluster", "latency", "module", "slowlog",
];

/// What a connection is subscribed to.
#[derive(Default)]
pub(super) struct Subscriptions {
    channels: BTreeSet<Bytes>,
    patterns: BTreeSet<Bytes>,
    shard: BTreeSet<Bytes>,
    /// Where the node delivers this client's messages; made at its first subscription.
    mailbox: Option<Arc<Mailbox>>,
    /// The client let its messages pile up past `client-output-buffer-limit pubsub`.
    overflowed: bool,
}

impl Subscriptions {
    fn set(&mut self, kind: Kind) -> &mut BTreeSet<Bytes> {
        match kind {
            Kind::Channel => &mut self.channels,
            Kind::Pattern => &mut self.patterns,
            Kind::Shard => &mut self.shard,
        }
    }

    /// The count a (un)subscribe reply carries: channels and patterns together, shard channels
    /// apart (Redis 7).
    fn count(&self, kind: Kind) -> i64 {
        match kind {
            Kind::Shard => self.shard.len() as i64,
            _ => (self.channels.len() + self.patterns.len()) as i64,
        }
    }

    /// Subscribed to anything: Redis's `CLIENT_PUBSUB` flag.
    pub(super) fn active(&self) -> bool {
        !(self.channels.is_empty() && self.patterns.is_empty() && self.shard.is_empty())
    }

    fn all(&self) -> Vec<(Kind, Bytes)> {
        let tagged = |kind: Kind, set: &BTreeSet<Bytes>| {
            set.iter()
                .map(move |n| (kind, n.clone()))
                .collect::<Vec<_>>()
        };
        let mut all = tagged(Kind::Channel, &self.channels);
        all.extend(tagged(Kind::Pattern, &self.patterns));
        all.extend(tagged(Kind::Shard, &self.shard));
        all
    }
}

fn word(w: &'static str) -> Reply {
    Reply::Bulk(Bytes::from_static(w.as_bytes()))
}

impl Session {
    /// The mailbox to wait on for messages, if the client ever subscribed.
    pub fn mailbox(&self) -> Option<Arc<Mailbox>> {
        self.pubsub.mailbox.clone()
    }

    /// Whether the client is subscribed to anything (its output is then held to the `pubsub`
    /// class of `client-output-buffer-limit`).
    pub fn subscribed(&self) -> bool {
        self.pubsub.active()
    }

    /// Encodes the messages waiting in the mailbox, unless replies are still owed (they go
    /// first).
    pub fn drain_messages(&mut self) {
        if self.queue.is_empty() {
            self.encode_messages();
        }
    }

    /// The client went over its output limit for messages and must be disconnected (as Redis
    /// closes a pub/sub client past `client-output-buffer-limit pubsub`).
    pub fn over_pubsub_limit(&self) -> bool {
        self.pubsub.overflowed
    }

    /// Encodes the messages waiting now, after what is already encoded.
    pub(super) fn encode_messages(&mut self) {
        let Some(mailbox) = &self.pubsub.mailbox else {
            return;
        };
        let (messages, overflowed) = mailbox.take();
        for m in messages {
            m.to_reply().encode(&mut self.out, self.resp3);
        }
        self.pubsub.overflowed |= overflowed;
    }

    /// Redis's subscribe mode: a RESP2 client that is subscribed may only (un)subscribe, PING,
    /// QUIT and RESET. The refusal, if `spec` is refused.
    pub(super) fn subscribe_mode_refusal(
        &self,
        spec: &CommandSpec,
        argv: &[Bytes],
    ) -> Option<Reply> {
        if self.resp3 || !self.pubsub.active() || ALLOWED_WHILE_SUBSCRIBED.contains(&spec.name) {
            return None;
        }
        let mut name = spec.name.to_string();
        if CONTAINERS.contains(&spec.name) && argv.len() > 1 {
            name.push('|');
            name.push_str(&String::from_utf8_lossy(&argv[1]).to_lowercase());
        }
        let why = format!(
            "Can't execute '{name}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context"
        );
        Some(if spec.name == "exec" {
            Reply::Error(format!("EXECABORT Transaction discarded because of: {why}"))
        } else {
            Reply::err(why)
        })
    }

    /// PING in subscribe mode (RESP2): `pong` and the argument (or an empty string) as an array.
    pub(super) fn subscribed_ping(&self, argv: &[Bytes]) -> Option<Reply> {
        if self.resp3 || !self.pubsub.active() || argv.len() > 2 {
            return None;
        }
        let arg = argv.get(1).cloned().unwrap_or_default();
        Some(Reply::Array(vec![word("pong"), Reply::Bulk(arg)]))
    }

    /// Runs a Pub/Sub command (one of `command::pubsub::COMMANDS`).
    pub(super) fn pubsub_command(&mut self, name: &str, argv: &[Bytes]) {
        match name {
            "subscribe" => self.subscribe(Kind::Channel, &argv[1..]),
            "psubscribe" => self.subscribe(Kind::Pattern, &argv[1..]),
            "ssubscribe" => self.subscribe(Kind::Shard, &argv[1..]),
            "unsubscribe" => self.unsubscribe(Kind::Channel, &argv[1..]),
            "punsubscribe" => self.unsubscribe(Kind::Pattern, &argv[1..]),
            "sunsubscribe" => self.unsubscribe(Kind::Shard, &argv[1..]),
            "publish" | "spublish" => {
                let n = self.publish(name == "spublish", &argv[1], &argv[2]);
                self.push_reply(&Reply::Int(n));
            }
            "pubsub" => {
                let reply = self.pubsub_introspection(&Args::new(argv));
                self.push_reply(&reply);
            }
            other => self.push_reply(&Reply::err(format!("unhandled pub/sub command '{other}'"))),
        }
    }

    fn publish(&mut self, shard: bool, channel: &Bytes, message: &Bytes) -> i64 {
        self.state.pubsub.publish(shard, channel, message)
    }

    fn subscribe(&mut self, kind: Kind, names: &[Bytes]) {
        if self.pubsub.mailbox.is_none() {
            self.pubsub.mailbox = Some(self.state.pubsub.mailbox(self.id));
        }
        for name in names {
            let new = self.pubsub.set(kind).insert(name.clone());
            let count = self.pubsub.count(kind);
            // The confirmation is encoded (after the messages already here) before the hub
            // may deliver anything of the new channel: it comes first, as in Redis.
            self.push_reply(&Reply::Push(vec![
                word(kind.subscribe_word()),
                Reply::Bulk(name.clone()),
                Reply::Int(count),
            ]));
            if new {
                self.state.pubsub.subscribe(self.id, kind, name);
            }
        }
        self.show_subscriptions();
    }

    /// Without names, from everything of `kind`; with none of them, one reply with a nil name.
    fn unsubscribe(&mut self, kind: Kind, names: &[Bytes]) {
        let names: Vec<Bytes> = if names.is_empty() {
            self.pubsub.set(kind).iter().cloned().collect()
        } else {
            names.to_vec()
        };
        if names.is_empty() {
            let count = self.pubsub.count(kind);
            self.push_reply(&Reply::Push(vec![
                word(kind.unsubscribe_word()),
                Reply::Nil,
                Reply::Int(count),
            ]));
        }
        for name in names {
            if self.pubsub.set(kind).remove(&name) {
                self.state.pubsub.unsubscribe(self.id, kind, &name);
            }
            let count = self.pubsub.count(kind);
            self.push_reply(&Reply::Push(vec![
                word(kind.unsubscribe_word()),
                Reply::Bulk(name),
                Reply::Int(count),
            ]));
        }
        self.show_subscriptions();
    }

    /// Drops every subscription without a reply (RESET, and the connection's end).
    pub(super) fn unsubscribe_all(&mut self) {
        let all = self.pubsub.all();
        if all.is_empty() {
            return;
        }
        for (kind, name) in &all {
            self.state.pubsub.unsubscribe(self.id, *kind, name);
        }
        self.pubsub.channels.clear();
        self.pubsub.patterns.clear();
        self.pubsub.shard.clear();
        self.show_subscriptions();
    }

    /// Forgets the client on the node's hub (it disconnected).
    pub(super) fn leave_pubsub(&mut self) {
        let all = self.pubsub.all();
        if self.pubsub.mailbox.take().is_some() || !all.is_empty() {
            self.state.pubsub.remove_client(self.id, &all);
        }
    }

    fn show_subscriptions(&self) {
        let counts = [
            self.pubsub.channels.len(),
            self.pubsub.patterns.len(),
            self.pubsub.shard.len(),
        ];
        self.update_info(|i| i.subscriptions = counts);
    }

    /// PUBSUB CHANNELS, NUMSUB, NUMPAT, SHARDCHANNELS, SHARDNUMSUB and HELP: this node's
    /// subscribers (as a Redis Cluster node reports its own).
    fn pubsub_introspection(&self, args: &Args) -> Reply {
        let hub = &self.state.pubsub;
        let sub = String::from_utf8_lossy(&args.from(1)[0]).to_lowercase();
        let argc = args.len();
        let bulks = |v: Vec<Bytes>| Reply::Array(v.into_iter().map(Reply::Bulk).collect());
        match sub.as_str() {
            "help" if argc == 2 => {
                Reply::Array(HELP.iter().map(|l| Reply::Simple(l.to_string())).collect())
            }
            "numpat" if argc == 2 => Reply::Int(hub.counts().1 as i64),
            "channels" | "shardchannels" if argc <= 3 => {
                let pattern = args.from(2).first().map(|p| &p[..]);
                bulks(hub.channels(sub == "shardchannels", pattern))
            }
            "numsub" | "shardnumsub" => {
                let shard = sub == "shardnumsub";
                let mut items = Vec::new();
                for channel in args.from(2) {
                    items.push(Reply::Bulk(channel.clone()));
                    items.push(Reply::Int(hub.numsub(shard, channel) as i64));
                }
                Reply::Array(items)
            }
            "help" | "numpat" => Reply::err(format!(
                "wrong number of arguments for 'pubsub|{sub}' command"
            )),
            "channels" | "shardchannels" => Reply::err(format!(
                "unknown subcommand or wrong number of arguments for '{}'. Try PUBSUB HELP.",
                String::from_utf8_lossy(&args.from(1)[0])
            )),
            _ => Reply::err(format!(
                "unknown subcommand '{}'. Try PUBSUB HELP.",
                String::from_utf8_lossy(&args.from(1)[0])
            )),
        }
    }

    /// The positions, among EXEC's replies, of the PUBLISH and SPUBLISH a block queued (as
    /// settled placeholders: they publish when EXEC's reply arrives, see
    /// [`Session::publish_queued`]).
    pub(super) fn queued_publishes(ops: &[Op]) -> Vec<(usize, Vec<Bytes>)> {
        ops.iter()
            .filter(|op| !matches!(op, Op::Watch { .. }))
            .enumerate()
            .filter_map(|(i, op)| match op {
                Op::Settled { argv, .. } if is_publish(argv) => Some((i, argv.clone())),
                _ => None,
            })
            .collect()
    }

    /// Publishes what a MULTI block queued, now that it ran, each reply in its place. An
    /// aborted block (nil, or an error) published nothing.
    pub(super) fn publish_queued(
        &mut self,
        reply: &mut Reply,
        publishes: Vec<(usize, Vec<Bytes>)>,
    ) {
        let Reply::Array(items) = reply else {
            return;
        };
        for (i, argv) in publishes {
            let shard = argv[0].eq_ignore_ascii_case(b"spublish");
            let n = self.publish(shard, &argv[1], &argv[2]);
            if let Some(slot) = items.get_mut(i) {
                *slot = Reply::Int(n);
            }
        }
    }
}

/// Whether `argv` is a PUBLISH or SPUBLISH (with its arguments: arity was checked).
pub(super) fn is_publish(argv: &[Bytes]) -> bool {
    argv.len() == 3
        && (argv[0].eq_ignore_ascii_case(b"publish") || argv[0].eq_ignore_ascii_case(b"spublish"))
}
