//! WATCH/UNWATCH: optimistic transactions.
//!
//! WATCH notes, for each key, what the client saw and when: the key's state (absent, live, or
//! stored but expired) in the applied state of log index `since`. Nothing is held on the
//! leader for it: the session keeps these [`WatchedKey`]s, and EXEC sends them in its mutation
//! ([`Op::Watch`]), where applying it checks them against the keys' change stamps, in log order
//! and alike on every replica (`engine::watch_holds`). A leader change loses nothing: the next
//! leader applies the same check to the same log.
//!
//! A follower forwards WATCH to the leader as `KIWI.WATCH GET key...`, which answers the
//! leader's `since` and states (so that they cover every write acknowledged before the WATCH),
//! and a forwarded EXEC carries them back as `KIWI.WATCH SET ...` ahead of its MULTI. Both are
//! internal: the session on the other end holds the tokens for that one block.

use bytes::Bytes;

use super::routing::Queued;
use super::Session;
use crate::command::args::parse_i64;
use crate::command::{Args, CmdError};
use crate::engine::{self, Op, WatchState, WatchedKey};
use crate::raft::state_machine::applied_index;
use crate::resp::Reply;

const INTERNAL: &[u8] = b"KIWI.WATCH";

fn state_code(state: WatchState) -> i64 {
    match state {
        WatchState::Absent => 0,
        WatchState::Live => 1,
        WatchState::Expired => 2,
    }
}

fn state_of(code: i64) -> Option<WatchState> {
    Some(match code {
        0 => WatchState::Absent,
        1 => WatchState::Live,
        2 => WatchState::Expired,
        _ => return None,
    })
}

impl Session {
    /// What this node's applied state says of `keys` in `db` now.
    fn watch_here(&self, db: u8, keys: &[Bytes]) -> Result<Vec<WatchedKey>, CmdError> {
        let reader = self.state.db.reader();
        let since = applied_index(&reader).map_err(|e| CmdError::msg(e.to_string()))?;
        let now = engine::now_ms();
        keys.iter()
            .map(|key| {
                let state = match reader.raw_meta(db, key)? {
                    None => WatchState::Absent,
                    Some(m) if m.is_expired(now) => WatchState::Expired,
                    Some(_) => WatchState::Live,
                };
                Ok(WatchedKey {
                    db,
                    key: key.clone(),
                    since,
                    state,
                })
            })
            .collect()
    }

    /// Adds watches; a key watched already keeps its first watch, as in Redis.
    fn add_watches(&mut self, watches: Vec<WatchedKey>) {
        for w in watches {
            if !self
                .watched
                .iter()
                .any(|old| old.db == w.db && old.key == w.key)
            {
                self.watched.push(w);
            }
        }
    }

    /// WATCH key [key ...] (outside MULTI).
    pub(super) async fn watch(&mut self, argv: &[Bytes]) {
        let keys = argv[1..].to_vec();
        let Some((leader_id, leader)) = self.leader().await else {
            self.push_reply(&super::routing::clusterdown());
            return;
        };
        if leader_id != self.state.cluster.id {
            if self.may_forward(&leader.resp_addr) {
                let mut request = vec![Bytes::from_static(INTERNAL), Bytes::from("GET")];
                request.extend(keys.iter().cloned());
                self.forward(&leader.resp_addr, vec![request]).await;
                // The leader's answer is the tokens, for this session to keep.
                if let Some((skip, tag)) = self.take_forwarded() {
                    let db = self.db;
                    self.queue
                        .push_back((Queued::Watch { skip, db, keys }, tag));
                }
            }
            return;
        }
        let reply = match self.watch_here(self.db, &keys) {
            Ok(watches) => {
                self.add_watches(watches);
                Reply::ok()
            }
            Err(e) => e.into_reply(),
        };
        self.push_reply(&reply);
    }

    /// Takes in the leader's answer to a forwarded WATCH; returns the client's reply.
    pub(super) fn adopt_watch(&mut self, db: u8, keys: Vec<Bytes>, answer: Reply) -> Reply {
        let Reply::Array(items) = answer else {
            return if answer.is_error() {
                answer
            } else {
                Reply::err("unexpected answer to a forwarded WATCH")
            };
        };
        let ints: Option<Vec<i64>> = items
            .iter()
            .map(|r| match r {
                Reply::Int(n) => Some(*n),
                _ => None,
            })
            .collect();
        let parsed = ints.filter(|v| v.len() == keys.len() + 1).and_then(|v| {
            let since = u64::try_from(v[0]).ok()?;
            keys.into_iter()
                .zip(&v[1..])
                .map(|(key, code)| {
                    Some(WatchedKey {
                        db,
                        key,
                        since,
                        state: state_of(*code)?,
                    })
                })
                .collect::<Option<Vec<_>>>()
        });
        match parsed {
            Some(watches) => {
                self.add_watches(watches);
                Reply::ok()
            }
            None => Reply::err("unexpected answer to a forwarded WATCH"),
        }
    }

    /// KIWI.WATCH GET key... | KIWI.WATCH SET [db since state key]...: the internal form of
    /// WATCH between nodes (see the module's comment).
    pub(super) fn internal_watch(&mut self, args: &Args) -> Reply {
        if args.is(1, "get") && args.len() > 2 {
            return match self.watch_here(self.db, args.from(2)) {
                Ok(watches) => {
                    let since = watches.first().map_or(0, |w| w.since) as i64;
                    let mut items = vec![Reply::Int(since)];
                    items.extend(watches.iter().map(|w| Reply::Int(state_code(w.state))));
                    Reply::Array(items)
                }
                Err(e) => e.into_reply(),
            };
        }
        if !args.is(1, "set") || !(args.len() - 2).is_multiple_of(4) {
            return CmdError::Syntax.into_reply();
        }
        let mut watches = Vec::new();
        for w in args.from(2).chunks(4) {
            let db = parse_i64(&w[0]).ok().and_then(|n| u8::try_from(n).ok());
            let since = parse_i64(&w[1]).ok().and_then(|n| u64::try_from(n).ok());
            let state = parse_i64(&w[2]).ok().and_then(state_of);
            let (Some(db), Some(since), Some(state)) = (db, since, state) else {
                return CmdError::Syntax.into_reply();
            };
            watches.push(WatchedKey {
                db,
                key: w[3].clone(),
                since,
                state,
            });
        }
        self.watched = watches;
        Reply::ok()
    }

    /// The watches an EXEC checks, taken (EXEC unwatches): the op that leads its mutation and,
    /// for a block forwarded to the leader, the request that hands them over first.
    pub(super) fn take_watches(&mut self) -> Option<(Op, Vec<Bytes>)> {
        if self.watched.is_empty() {
            return None;
        }
        let keys = std::mem::take(&mut self.watched);
        let mut request = vec![Bytes::from_static(INTERNAL), Bytes::from("SET")];
        for w in &keys {
            request.push(Bytes::from(w.db.to_string()));
            request.push(Bytes::from(w.since.to_string()));
            request.push(Bytes::from(state_code(w.state).to_string()));
            request.push(w.key.clone());
        }
        Some((Op::Watch { keys }, request))
    }
}
