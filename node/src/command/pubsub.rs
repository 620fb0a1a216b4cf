//! The table entries of Pub/Sub's commands. They act on the connection (its subscriptions) or
//! on the node's subscribers, never on the data, so the session carries them out
//! (`server::session::pubsub`); none of them goes through the Raft log (see `crate::pubsub`).

use super::flags::{FAST, NOMULTI};
use super::{CommandSpec, Kind};

macro_rules! session {
    ($name:literal, $arity:expr, $flags:expr, $keys:expr) => {
        CommandSpec {
            name: $name,
            arity: $arity,
            flags: $flags,
            keys: $keys,
            kind: Kind::Session,
        }
    };
}

pub const COMMANDS: &[CommandSpec] = &[
    // (Un)subscribing changes how the connection's replies flow: not inside MULTI.
    session!("subscribe", -2, NOMULTI, (0, 0, 0)),
    session!("psubscribe", -2, NOMULTI, (0, 0, 0)),
    session!("unsubscribe", -1, NOMULTI, (0, 0, 0)),
    session!("punsubscribe", -1, NOMULTI, (0, 0, 0)),
    // Shard channels are keys to Redis (COMMAND GETKEYS names them).
    session!("ssubscribe", -2, NOMULTI, (1, -1, 1)),
    session!("sunsubscribe", -1, NOMULTI, (1, -1, 1)),
    // Queued inside MULTI and published at EXEC (`server::session::pubsub`).
    session!("publish", 3, FAST, (0, 0, 0)),
    session!("spublish", 3, FAST, (1, 1, 1)),
    session!("pubsub", -2, NOMULTI, (0, 0, 0)),
];

/// The commands a RESP2 connection may run while subscribed (Redis's subscribe mode).
pub const ALLOWED_WHILE_SUBSCRIBED: &[&str] = &[
    "ping",
    "subscribe",
    "ssubscribe",
    "unsubscribe",
    "sunsubscribe",
    "psubscribe",
    "punsubscribe",
    "quit",
    "reset",
];
