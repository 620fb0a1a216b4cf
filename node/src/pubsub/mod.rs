//! Pub/Sub: who listens to which channels and patterns on this node, and the delivery of
//! messages to them (Redis's `pubsub.c`), plus keyspace notifications (`notify`) and the
//! forwarding of published messages to the other members of the cluster (`fanout`).
//!
//! Cluster semantics. Pub/Sub is not replicated state: a message is fire-and-forget and
//! at-most-once, as in Redis, so PUBLISH does not go through the Raft log (that would cost a
//! quorum round trip and a disk sync per message, for no guarantee a subscriber can use). The
//! node that gets a PUBLISH delivers it to its own subscribers at once and hands it to one
//! bounded queue per other member, which sends it over the authenticated peer channel; a member
//! that is down or slow misses messages (its queue drops them when full), as a Redis Cluster
//! node does, and PUBLISH never waits for a peer. PUBLISH answers the number of receivers on the
//! node that answered, as Redis Cluster does. PUBSUB CHANNELS/NUMSUB/NUMPAT report this node's
//! subscribers, also as in Redis Cluster.
//!
//! Keyspace notifications are the opposite case: every member applies every write, in log
//! order, so each node publishes the events of every write to its own subscribers, and they are
//! never forwarded (that would deliver them once per member).

pub mod fanout;
pub mod mailbox;
pub mod notify;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, OnceLock, RwLock, RwLockReadGuard, RwLockWriteGuard};

use bytes::Bytes;

use crate::command::glob::glob_match;
use crate::config::tunables::N_KEY_MISS;
use crate::config::OutputBufferLimit;
pub use mailbox::{Delivery, Mailbox};

/// The three namespaces of subscriptions: channels (SUBSCRIBE), patterns (PSUBSCRIBE) and shard
/// channels (SSUBSCRIBE), which are apart from channels, as in Redis 7.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Channel,
    Pattern,
    Shard,
}

impl Kind {
    /// The reply kinds of (un)subscribing: `subscribe`/`unsubscribe` and their `p` and `s` forms.
    pub fn subscribe_word(self) -> &'static str {
        match self {
            Kind::Channel => "subscribe",
            Kind::Pattern => "psubscribe",
            Kind::Shard => "ssubscribe",
        }
    }

    pub fn unsubscribe_word(self) -> &'static str {
        match self {
            Kind::Channel => "unsubscribe",
            Kind::Pattern => "punsubscribe",
            Kind::Shard => "sunsubscribe",
        }
    }
}

#[derive(Default)]
struct Registry {
    channels: HashMap<Bytes, BTreeSet<u64>>,
    /// Patterns in byte order, so that a message matching several patterns of one client is
    /// delivered in an order that does not change from run to run.
    patterns: BTreeMap<Bytes, BTreeSet<u64>>,
    shard: HashMap<Bytes, BTreeSet<u64>>,
    mailboxes: HashMap<u64, Arc<Mailbox>>,
}

/// The node's subscribers. One lock for the lot: subscribing is rare next to publishing, and
/// publishing only reads.
pub struct Hub {
    registry: RwLock<Registry>,
    /// `client-output-buffer-limit pubsub`, applied to every subscriber's mailbox.
    limit: RwLock<OutputBufferLimit>,
    /// `notify-keyspace-events` as bits (see `config::tunables::N_*`); 0, the default, makes
    /// the applier skip notifications altogether.
    pub notify_flags: AtomicU32,
    /// Sends published messages to the other members; set once the node is wired.
    fanout: OnceLock<fanout::Fanout>,
}

impl Hub {
    pub fn new(limit: OutputBufferLimit) -> Hub {
        Hub {
            registry: RwLock::default(),
            limit: RwLock::new(limit),
            notify_flags: AtomicU32::new(0),
            fanout: OnceLock::new(),
        }
    }

    fn read(&self) -> RwLockReadGuard<'_, Registry> {
        // Every method leaves the maps consistent between statements.
        self.registry.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Registry> {
        self.registry.write().unwrap_or_else(|e| e.into_inner())
    }

    /// `client-output-buffer-limit pubsub`, for new subscribers and those already here.
    pub fn set_limit(&self, limit: OutputBufferLimit) {
        *self.limit.write().unwrap_or_else(|e| e.into_inner()) = limit;
        for mailbox in self.read().mailboxes.values() {
            mailbox.set_limit(limit);
        }
    }

    pub fn set_fanout(&self, fanout: fanout::Fanout) {
        if self.fanout.set(fanout).is_err() {
            tracing::warn!("a second pub/sub fan-out was ignored");
        }
    }

    /// A new mailbox for `client`, registered for deliveries.
    pub fn mailbox(&self, client: u64) -> Arc<Mailbox> {
        let limit = *self.limit.read().unwrap_or_else(|e| e.into_inner());
        let mailbox = Arc::new(Mailbox::new(limit));
        self.write().mailboxes.insert(client, mailbox.clone());
        mailbox
    }

    /// Subscribes `client` to `name`; false if it already was.
    pub fn subscribe(&self, client: u64, kind: Kind, name: &Bytes) -> bool {
        let mut r = self.write();
        let set = match kind {
            Kind::Channel => r.channels.entry(name.clone()).or_default(),
            Kind::Pattern => r.patterns.entry(name.clone()).or_default(),
            Kind::Shard => r.shard.entry(name.clone()).or_default(),
        };
        set.insert(client)
    }

    /// Unsubscribes `client` from `name`; false if it was not subscribed.
    pub fn unsubscribe(&self, client: u64, kind: Kind, name: &[u8]) -> bool {
        let mut r = self.write();
        fn remove<M: MapLike>(map: &mut M, client: u64, name: &[u8]) -> bool {
            let Some(set) = map.get_set(name) else {
                return false;
            };
            let removed = set.remove(&client);
            if set.is_empty() {
                map.remove_set(name);
            }
            removed
        }
        match kind {
            Kind::Channel => remove(&mut r.channels, client, name),
            Kind::Pattern => remove(&mut r.patterns, client, name),
            Kind::Shard => remove(&mut r.shard, client, name),
        }
    }

    /// Forgets `client` altogether (it disconnected): its subscriptions `subs` and its mailbox.
    pub fn remove_client(&self, client: u64, subs: &[(Kind, Bytes)]) {
        for (kind, name) in subs {
            self.unsubscribe(client, *kind, name);
        }
        self.write().mailboxes.remove(&client);
    }

    /// Delivers a message published on this node to its subscribers, and hands it to the other
    /// members; returns the number of receivers here (PUBLISH's reply).
    pub fn publish(&self, shard: bool, channel: &Bytes, message: &Bytes) -> i64 {
        let n = self.deliver(shard, channel, message);
        if let Some(f) = self.fanout.get() {
            f.send(shard, channel, message);
        }
        n
    }

    /// Delivers to this node's subscribers only: a message another member published, or a
    /// keyspace notification. Channel subscribers first, then pattern subscribers (patterns in
    /// byte order), as Redis does.
    pub fn deliver(&self, shard: bool, channel: &Bytes, message: &Bytes) -> i64 {
        let r = self.read();
        let mut receivers = 0;
        let mut post = |client: &u64, delivery: Delivery| {
            if let Some(mailbox) = r.mailboxes.get(client) {
                mailbox.push(delivery);
                receivers += 1;
            }
        };
        if shard {
            for client in r.shard.get(channel).into_iter().flatten() {
                post(
                    client,
                    Delivery::SMessage {
                        channel: channel.clone(),
                        message: message.clone(),
                    },
                );
            }
            return receivers;
        }
        for client in r.channels.get(channel).into_iter().flatten() {
            post(
                client,
                Delivery::Message {
                    channel: channel.clone(),
                    message: message.clone(),
                },
            );
        }
        for (pattern, clients) in &r.patterns {
            if !glob_match(pattern, channel) {
                continue;
            }
            for client in clients {
                post(
                    client,
                    Delivery::PMessage {
                        pattern: pattern.clone(),
                        channel: channel.clone(),
                        message: message.clone(),
                    },
                );
            }
        }
        receivers
    }

    /// PUBSUB CHANNELS / SHARDCHANNELS: the channels with subscribers, those matching `pattern`
    /// if given, in byte order.
    pub fn channels(&self, shard: bool, pattern: Option<&[u8]>) -> Vec<Bytes> {
        let r = self.read();
        let map = if shard { &r.shard } else { &r.channels };
        let mut out: Vec<Bytes> = map
            .keys()
            .filter(|c| pattern.is_none_or(|p| glob_match(p, c)))
            .cloned()
            .collect();
        out.sort();
        out
    }

    /// PUBSUB NUMSUB / SHARDNUMSUB: the number of subscribers of `channel`.
    pub fn numsub(&self, shard: bool, channel: &[u8]) -> usize {
        let r = self.read();
        let map = if shard { &r.shard } else { &r.channels };
        map.get(channel).map_or(0, BTreeSet::len)
    }

    /// INFO's `pubsub_channels`, `pubsub_patterns` and `pubsubshard_channels`, and PUBSUB
    /// NUMPAT (the number of patterns with subscribers, as Redis 7 counts it).
    pub fn counts(&self) -> (usize, usize, usize) {
        let r = self.read();
        (r.channels.len(), r.patterns.len(), r.shard.len())
    }

    /// The keyspace notification classes in force (0 when off).
    pub fn notify_flags(&self) -> u32 {
        self.notify_flags.load(Ordering::Relaxed)
    }

    /// A read command missed `key` of `db`: the `keymiss` event of the `m` class, if asked
    /// for (Redis's lookupKeyRead). Only this node's subscribers hear it: the read ran here.
    pub fn key_miss(&self, db: u8, key: &[u8]) {
        let flags = self.notify_flags();
        if flags & N_KEY_MISS == 0 {
            return;
        }
        let event = notify::Event {
            class: N_KEY_MISS,
            name: "keymiss",
            db,
            key: Bytes::copy_from_slice(key),
        };
        self.notify(&[event]);
    }

    /// Publishes applied writes' keyspace notifications to this node's subscribers (never
    /// forwarded: every member applies every write and notifies its own).
    pub fn notify(&self, events: &[notify::Event]) {
        let flags = self.notify_flags();
        for event in events {
            for (channel, message) in event.messages(flags) {
                self.deliver(false, &channel, &message);
            }
        }
    }
}

/// The two map types of the registry, for one `remove`.
trait MapLike {
    fn get_set(&mut self, name: &[u8]) -> Option<&mut BTreeSet<u64>>;
    fn remove_set(&mut self, name: &[u8]);
}

impl MapLike for HashMap<Bytes, BTreeSet<u64>> {
    fn get_set(&mut self, name: &[u8]) -> Option<&mut BTreeSet<u64>> {
        self.get_mut(name)
    }
    fn remove_set(&mut self, name: &[u8]) {
        self.remove(name);
    }
}

impl MapLike for BTreeMap<Bytes, BTreeSet<u64>> {
    fn get_set(&mut self, name: &[u8]) -> Option<&mut BTreeSet<u64>> {
        self.get_mut(name)
    }
    fn remove_set(&mut self, name: &[u8]) {
        self.remove(name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &str) -> Bytes {
        Bytes::copy_from_slice(s.as_bytes())
    }

    fn hub() -> Hub {
        Hub::new(OutputBufferLimit::default())
    }

    #[test]
    fn channels_then_patterns_receive_and_unsubscribing_stops_them() {
        let h = hub();
        let one = h.mailbox(1);
        let two = h.mailbox(2);
        assert!(h.subscribe(1, Kind::Channel, &b("news")));
        assert!(
            !h.subscribe(1, Kind::Channel, &b("news")),
            "already subscribed"
        );
        assert!(h.subscribe(1, Kind::Pattern, &b("n*")));
        assert!(h.subscribe(2, Kind::Pattern, &b("*s")));
        assert!(h.subscribe(2, Kind::Shard, &b("news")));
        assert_eq!(h.deliver(false, &b("news"), &b("hi")), 3);
        assert_eq!(
            one.take().0,
            vec![
                Delivery::Message {
                    channel: b("news"),
                    message: b("hi")
                },
                Delivery::PMessage {
                    pattern: b("n*"),
                    channel: b("news"),
                    message: b("hi")
                },
            ]
        );
        assert_eq!(two.take().0.len(), 1);
        assert_eq!(h.deliver(true, &b("news"), &b("s")), 1, "shard apart");
        assert!(matches!(two.take().0[..], [Delivery::SMessage { .. }]));
        assert_eq!(h.deliver(false, &b("other"), &b("x")), 0);

        assert_eq!(h.counts(), (1, 2, 1));
        assert_eq!(h.numsub(false, b"news"), 1);
        assert_eq!(h.channels(false, Some(b"n?ws")), vec![b("news")]);
        assert!(h.unsubscribe(1, Kind::Channel, b"news"));
        assert!(!h.unsubscribe(1, Kind::Channel, b"news"));
        assert_eq!(h.channels(false, None), Vec::<Bytes>::new());
        h.remove_client(1, &[(Kind::Pattern, b("n*"))]);
        h.remove_client(2, &[(Kind::Pattern, b("*s")), (Kind::Shard, b("news"))]);
        assert_eq!(h.counts(), (0, 0, 0));
        assert_eq!(h.deliver(false, &b("news"), &b("x")), 0);
    }

    #[test]
    fn several_patterns_of_one_client_deliver_in_byte_order() {
        let h = hub();
        let m = h.mailbox(1);
        for p in ["z*", "a*", "*"] {
            h.subscribe(1, Kind::Pattern, &b(p));
        }
        assert_eq!(h.deliver(false, &b("abc"), &b("m")), 2);
        let patterns: Vec<Bytes> = m
            .take()
            .0
            .into_iter()
            .map(|d| match d {
                Delivery::PMessage { pattern, .. } => pattern,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(patterns, vec![b("*"), b("a*")]);
    }
}
