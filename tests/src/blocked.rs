//! Clients that wait: a command sent from another thread whose reply arrives later, and how
//! many clients a node shows blocked. Used by the tests of blocking commands (BLPOP and kin,
//! XREAD BLOCK).

use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use crate::{eventually, Run, R};

/// A command running on its own connection, whose reply arrives later.
pub struct Pending {
    reply: mpsc::Receiver<(R, Duration)>,
}

impl Pending {
    /// Sends `line` on `con` from another thread.
    pub fn start(mut con: redis::Connection, line: &str) -> Pending {
        con.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        let line = line.to_string();
        let (tx, reply) = mpsc::channel();
        thread::spawn(move || {
            let started = Instant::now();
            let r = con.run(&line);
            let _ = tx.send((r, started.elapsed()));
        });
        Pending { reply }
    }

    /// The reply and how long it took, waiting at most `timeout`.
    pub fn wait(&self, timeout: Duration) -> (R, Duration) {
        self.reply
            .recv_timeout(timeout)
            .unwrap_or_else(|_| panic!("no reply within {timeout:?}"))
    }

    pub fn answered(&self) -> bool {
        self.reply.try_recv().is_ok()
    }
}

/// The number of clients CLIENT LIST shows blocked (`flags=b`) on `con`'s node.
pub fn blocked(con: &mut redis::Connection) -> usize {
    let list = con.run("CLIENT LIST").text();
    list.lines().filter(|l| l.contains(" flags=b ")).count()
}

/// Waits (10 s at most) until `con`'s node shows `n` blocked clients.
pub fn wait_blocked(con: &mut redis::Connection, n: usize) {
    eventually(
        Duration::from_secs(10),
        &format!("{n} blocked clients"),
        || (blocked(con) == n).then_some(()),
    );
}
