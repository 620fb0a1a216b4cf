//! Clients blocked on keys (BLPOP, BLMOVE, BZPOPMIN, ...): who waits for which keys, in the
//! order they came.
//!
//! A blocked client is served on the leader, through the log like any write: when applied
//! entries change a key (the state machine tells [`Blocking::keys_changed`] after each commit),
//! the first client waiting on that key is woken; it looks at the key locally and, if there is
//! something for it, proposes its pop. If another client took the element first, the pop finds
//! nothing and the client waits on, still first in line. A client that leaves a queue (served,
//! timed out, unblocked, disconnected) wakes the next one, which then looks for itself: so each
//! key's waiters are served first come, first served, one pop in flight per key, and no element
//! is left while a client waits for it.
//!
//! XREAD's waiters are *shared*: a reader takes nothing, so a change wakes every shared waiter
//! on the key, not just the first in line, and each looks for itself. XREADGROUP's waiters
//! keep their turn (the first in line is served first, as Redis serves them), but one that
//! found nothing for itself (its group is elsewhere) passes the wake-up on to the next in line
//! ([`Blocking::pass_on`]) rather than hold it up.
//!
//! A waiter is a [`Notify`] the client's connection awaits: no task or thread is held for it.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use tokio::sync::Notify;

use crate::storage::Touch;

/// How CLIENT UNBLOCK ends a client's wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unblock {
    /// As if the timeout had passed.
    Timeout,
    /// With `-UNBLOCKED client unblocked via CLIENT UNBLOCK`.
    Error,
}

struct Waiter {
    keys: Vec<(u8, Bytes)>,
    wake: Arc<Notify>,
    unblock: Option<Unblock>,
    /// Woken by every change of its keys, wherever it is in line (a stream reader).
    shared: bool,
}

#[derive(Default)]
struct Inner {
    /// Per database, per key: the ids of the clients waiting on it, first come first.
    queues: HashMap<u8, HashMap<Bytes, VecDeque<u64>>>,
    waiters: HashMap<u64, Waiter>,
}

impl Inner {
    /// Wakes the first in line, and every shared waiter behind it.
    fn wake_head(&self, queue: &VecDeque<u64>) {
        for (i, id) in queue.iter().enumerate() {
            if let Some(w) = self.waiters.get(id) {
                if i == 0 || w.shared {
                    w.wake.notify_one();
                }
            }
        }
    }
}

#[derive(Default)]
pub struct Blocking {
    inner: Mutex<Inner>,
    /// Number of blocked clients, read without the lock on every commit.
    count: AtomicUsize,
}

impl Blocking {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Every method leaves the maps consistent between statements.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Blocks `client` on `keys` (a key named twice is queued once), behind the clients
    /// already waiting on them. With no keys the client is only counted as blocked (a client
    /// whose blocking command waits on the leader for it). Returns what wakes it.
    pub fn block(&self, client: u64, keys: Vec<(u8, Bytes)>) -> Arc<Notify> {
        self.block_as(client, keys, false)
    }

    /// [`Blocking::block`], as a shared waiter (a stream reader) if `shared`.
    pub fn block_as(&self, client: u64, keys: Vec<(u8, Bytes)>, shared: bool) -> Arc<Notify> {
        let mut inner = self.lock();
        self.remove(&mut inner, client);
        let mut unique: Vec<(u8, Bytes)> = Vec::with_capacity(keys.len());
        for k in keys {
            if !unique.contains(&k) {
                unique.push(k);
            }
        }
        for (db, key) in &unique {
            inner
                .queues
                .entry(*db)
                .or_default()
                .entry(key.clone())
                .or_default()
                .push_back(client);
        }
        let wake = Arc::new(Notify::new());
        inner.waiters.insert(
            client,
            Waiter {
                keys: unique,
                wake: wake.clone(),
                unblock: None,
                shared,
            },
        );
        self.count.store(inner.waiters.len(), Ordering::Relaxed);
        wake
    }

    /// Whether clients wait on `key`: a client that comes later must not take what they are
    /// about to be served.
    pub fn waited_on(&self, db: u8, key: &[u8]) -> bool {
        if self.count.load(Ordering::Relaxed) == 0 {
            return false;
        }
        self.lock()
            .queues
            .get(&db)
            .is_some_and(|keys| keys.contains_key(key))
    }

    /// Takes `client` out of every queue, and wakes whoever is first in line after it.
    pub fn leave(&self, client: u64) {
        let mut inner = self.lock();
        self.remove(&mut inner, client);
    }

    fn remove(&self, inner: &mut Inner, client: u64) {
        let Some(waiter) = inner.waiters.remove(&client) else {
            return;
        };
        for (db, key) in &waiter.keys {
            let Some(keys) = inner.queues.get_mut(db) else {
                continue;
            };
            let Some(queue) = keys.get_mut(key) else {
                continue;
            };
            let was_first = queue.front() == Some(&client);
            queue.retain(|id| *id != client);
            if queue.is_empty() {
                keys.remove(key);
                if keys.is_empty() {
                    inner.queues.remove(db);
                }
            } else if was_first {
                // The next client looks for itself whether anything is left for it.
                let next = queue.front().and_then(|id| inner.waiters.get(id));
                if let Some(w) = next {
                    w.wake.notify_one();
                }
            }
        }
        self.count.store(inner.waiters.len(), Ordering::Relaxed);
    }

    /// Wakes whoever is right behind `client` in each of its lines: for a waiter that looked
    /// and found nothing it could take, while the one behind may find something.
    pub fn pass_on(&self, client: u64) {
        let inner = self.lock();
        let Some(waiter) = inner.waiters.get(&client) else {
            return;
        };
        for (db, key) in &waiter.keys {
            let Some(queue) = inner.queues.get(db).and_then(|k| k.get(key)) else {
                continue;
            };
            let next = queue
                .iter()
                .skip_while(|id| **id != client)
                .nth(1)
                .and_then(|id| inner.waiters.get(id));
            if let Some(w) = next {
                w.wake.notify_one();
            }
        }
    }

    /// Applied entries changed these keys: wakes the first client waiting on each.
    pub fn keys_changed(&self, touches: &[Touch]) {
        if self.count.load(Ordering::Relaxed) == 0 {
            return;
        }
        let inner = self.lock();
        for touch in touches {
            match touch {
                Touch::Key { db, key } => {
                    if let Some(queue) = inner.queues.get(db).and_then(|k| k.get(&key[..])) {
                        inner.wake_head(queue);
                    }
                }
                Touch::Db(db) => {
                    for queue in inner.queues.get(db).into_iter().flat_map(|k| k.values()) {
                        inner.wake_head(queue);
                    }
                }
                Touch::All => {
                    for queue in inner.queues.values().flat_map(|k| k.values()) {
                        inner.wake_head(queue);
                    }
                }
            }
        }
    }

    /// CLIENT UNBLOCK: ends `client`'s wait the way `how` says. False if it is not blocked.
    pub fn unblock(&self, client: u64, how: Unblock) -> bool {
        let mut inner = self.lock();
        match inner.waiters.get_mut(&client) {
            Some(w) => {
                w.unblock.get_or_insert(how);
                w.wake.notify_one();
                true
            }
            None => false,
        }
    }

    /// How CLIENT UNBLOCK asked `client` to stop waiting, if it did.
    pub fn unblocked(&self, client: u64) -> Option<Unblock> {
        self.lock().waiters.get(&client).and_then(|w| w.unblock)
    }

    /// Wakes every blocked client: they look again at their keys, or at why they wait (this
    /// node stopped leading).
    pub fn wake_all(&self) {
        for w in self.lock().waiters.values() {
            w.wake.notify_one();
        }
    }

    /// Number of blocked clients (INFO's `blocked_clients`).
    pub fn len(&self) -> usize {
        self.count.load(Ordering::Relaxed)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use futures::FutureExt;

    use super::*;

    fn key(k: &str) -> (u8, Bytes) {
        (0, Bytes::copy_from_slice(k.as_bytes()))
    }

    fn touched(k: &str) -> Touch {
        Touch::Key {
            db: 0,
            key: k.as_bytes().to_vec(),
        }
    }

    /// Whether a wake-up is waiting for `n` (and takes it).
    fn woken(n: &Notify) -> bool {
        n.notified().now_or_never().is_some()
    }

    #[test]
    fn a_change_wakes_the_first_waiter_and_leaving_passes_it_on() {
        let b = Blocking::default();
        let first = b.block(1, vec![key("k")]);
        let second = b.block(2, vec![key("k"), key("other")]);
        let third = b.block(3, vec![key("k")]);
        assert_eq!(b.len(), 3);
        assert!(b.waited_on(0, b"k") && !b.waited_on(0, b"nope") && !b.waited_on(1, b"k"));

        b.keys_changed(&[touched("k")]);
        assert!(woken(&first), "first in line");
        assert!(!woken(&second) && !woken(&third), "only the first");

        // Served: it leaves, and the next in line looks for itself.
        b.leave(1);
        assert!(woken(&second));
        assert!(!woken(&third));

        // Leaving from the middle of a line wakes nobody.
        b.leave(3);
        assert!(!woken(&second));
        b.keys_changed(&[touched("other")]);
        assert!(woken(&second));
        b.leave(2);
        assert!(b.is_empty() && !b.waited_on(0, b"k"));
        assert!(b.lock().queues.is_empty(), "no empty queue is kept");
    }

    #[test]
    fn a_change_wakes_every_shared_waiter_on_the_key() {
        let b = Blocking::default();
        let popper = b.block(1, vec![key("k")]);
        let reader = b.block_as(2, vec![key("k")], true);
        let behind = b.block(3, vec![key("k")]);
        let other = b.block_as(4, vec![key("x")], true);
        b.keys_changed(&[touched("k")]);
        assert!(woken(&popper) && woken(&reader));
        assert!(!woken(&behind), "an exclusive waiter still waits its turn");
        assert!(!woken(&other));
        // The first found nothing for itself: the next exclusive one looks.
        b.pass_on(1);
        assert!(woken(&reader) && !woken(&behind));
        b.pass_on(2);
        assert!(woken(&behind));
        b.pass_on(3);
        assert!(!woken(&popper) && !woken(&reader) && !woken(&behind));
    }

    #[test]
    fn flushes_wake_the_first_waiter_of_every_key_they_cover() {
        let b = Blocking::default();
        let a = b.block(1, vec![key("a")]);
        let behind = b.block(2, vec![key("a")]);
        let other_db = b.block(3, vec![(5, Bytes::from_static(b"a"))]);
        b.keys_changed(&[Touch::Db(0)]);
        assert!(woken(&a) && !woken(&behind) && !woken(&other_db));
        b.keys_changed(&[Touch::All]);
        assert!(woken(&a) && woken(&other_db) && !woken(&behind));
    }

    #[test]
    fn a_key_named_twice_is_one_place_in_line() {
        let b = Blocking::default();
        let w = b.block(1, vec![key("k"), key("k")]);
        let next = b.block(2, vec![key("k")]);
        assert_eq!(b.lock().queues[&0][&b"k"[..]].len(), 2);
        b.leave(1);
        assert!(woken(&next) && !woken(&w));
        // Blocking again replaces the client's earlier wait.
        b.block(2, vec![key("x")]);
        assert!(!b.waited_on(0, b"k"));
        assert_eq!(b.len(), 1);
    }

    #[test]
    fn unblock_wakes_the_client_and_says_how() {
        let b = Blocking::default();
        let w = b.block(7, vec![key("k")]);
        let forwarded = b.block(8, Vec::new());
        assert_eq!(b.len(), 2, "a client waiting on the leader counts too");
        assert!(!b.unblock(9, Unblock::Timeout), "not blocked");
        assert!(b.unblock(7, Unblock::Error));
        assert!(woken(&w));
        assert_eq!(b.unblocked(7), Some(Unblock::Error));
        assert!(b.unblock(8, Unblock::Timeout));
        assert!(woken(&forwarded));
        assert_eq!(b.unblocked(8), Some(Unblock::Timeout));
        b.leave(7);
        b.leave(8);
        assert_eq!(b.unblocked(7), None);
        assert!(b.is_empty());
    }
}
