//! MULTI/EXEC: queueing a block's commands, and proposing it as one mutation at EXEC.

use bytes::Bytes;

use super::routing::Queued;
use super::{pubsub, Session, Step};
use crate::command::{flags, CommandSpec};
use crate::engine::{Mutation, Op, SettledReply};
use crate::resp::Reply;

impl Session {
    pub(super) fn queue_in_multi(&mut self, spec: &CommandSpec, argv: Vec<Bytes>) -> Reply {
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
                    reply: e.into(),
                },
            }
        } else if pubsub::is_publish(&argv) {
            // Published at EXEC, if the block runs (see `pubsub`).
            Op::Settled {
                argv,
                reply: SettledReply::Int(0),
            }
        } else if spec.name == "wait" {
            Op::Settled {
                reply: self.wait_in_multi(&argv),
                argv,
            }
        } else {
            Op::Command { db, argv }
        };
        if let Some(ops) = self.multi.as_mut() {
            ops.push(op);
        }
        Reply::Simple("QUEUED".into())
    }

    pub(super) async fn exec(&mut self) -> Step {
        let Some(mut ops) = self.multi.take() else {
            self.push_reply(&Reply::err("EXEC without MULTI"));
            return Step::Continue;
        };
        // The session settled every reply owed before this command (a forwarded WATCH's
        // tokens among them), so the watches are all here.
        let watches = self.take_watches();
        if self.multi_failed {
            self.push_reply(&Reply::Error(
                "EXECABORT Transaction discarded because of previous errors.".into(),
            ));
            return Step::Continue;
        }
        let mut requests = Vec::new();
        match watches {
            // Checked in log order even with nothing queued: a changed key still aborts.
            Some((op, handover)) => {
                ops.insert(0, op);
                requests.push(handover);
            }
            None if ops.is_empty() => {
                self.push_reply(&Reply::Array(Vec::new()));
                return Step::Continue;
            }
            None => {}
        }
        let publishes = Session::queued_publishes(&ops);
        let mutation = Mutation::transaction(ops);
        requests.push(vec![Bytes::from_static(b"MULTI")]);
        requests.extend(mutation.commands().cloned());
        requests.push(vec![Bytes::from_static(b"EXEC")]);
        // Forwarded, the block runs from the database MULTI started in (its SELECTs travel
        // with it); afterwards the session is in the database the block ended in.
        self.write(mutation, Some(requests)).await;
        if !publishes.is_empty() {
            // Proposed here: its PUBLISH commands go out when it has run. (Forwarded, the
            // leader publishes them.)
            if let Some((Queued::Write(_), _)) = self.queue.back() {
                if let Some((Queued::Write(pending), tag)) = self.queue.pop_back() {
                    self.queue
                        .push_back((Queued::Exec { pending, publishes }, tag));
                }
            }
        }
        if self.db != self.multi_db {
            if let Some(fwd) = self.forward.as_mut() {
                // The block's SELECTs ran on the forwarding connection too: re-SELECT next time.
                fwd.db = u8::MAX;
            }
        }
        self.db = self.multi_db;
        Step::Continue
    }
}
