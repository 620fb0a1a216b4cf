//! A subscriber's mailbox: the messages published to it that its connection has not written
//! yet, bounded as Redis bounds a pub/sub client's output (`client-output-buffer-limit pubsub`,
//! 32mb hard, 8mb soft for 60 s by default). A subscriber that does not read is cut off, rather
//! than letting its messages grow the node's memory without limit: past the hard limit, or
//! above the soft limit for longer than its seconds, the mailbox drops what it holds, refuses
//! more, and its connection closes (as Redis closes the client).

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::Notify;

use crate::config::OutputBufferLimit;
use crate::resp::Reply;

/// One message for one subscriber.
#[derive(Debug, Clone, PartialEq)]
pub enum Delivery {
    Message {
        channel: Bytes,
        message: Bytes,
    },
    PMessage {
        pattern: Bytes,
        channel: Bytes,
        message: Bytes,
    },
    SMessage {
        channel: Bytes,
        message: Bytes,
    },
}

impl Delivery {
    /// The push a subscriber receives: `message`, `pmessage` or `smessage`.
    pub fn to_reply(&self) -> Reply {
        let word = |w: &'static str| Reply::Bulk(Bytes::from_static(w.as_bytes()));
        match self {
            Delivery::Message { channel, message } => Reply::Push(vec![
                word("message"),
                Reply::Bulk(channel.clone()),
                Reply::Bulk(message.clone()),
            ]),
            Delivery::PMessage {
                pattern,
                channel,
                message,
            } => Reply::Push(vec![
                word("pmessage"),
                Reply::Bulk(pattern.clone()),
                Reply::Bulk(channel.clone()),
                Reply::Bulk(message.clone()),
            ]),
            Delivery::SMessage { channel, message } => Reply::Push(vec![
                word("smessage"),
                Reply::Bulk(channel.clone()),
                Reply::Bulk(message.clone()),
            ]),
        }
    }

    /// About the bytes its encoding takes: what the output limits count.
    fn cost(&self) -> usize {
        const FRAMING: usize = 48;
        FRAMING
            + match self {
                Delivery::Message { channel, message }
                | Delivery::SMessage { channel, message } => channel.len() + message.len(),
                Delivery::PMessage {
                    pattern,
                    channel,
                    message,
                } => pattern.len() + channel.len() + message.len(),
            }
    }
}

#[derive(Default)]
struct Inner {
    queue: VecDeque<Delivery>,
    bytes: usize,
    /// Since when the mailbox holds more than the soft limit.
    soft_since: Option<Instant>,
    /// Over a limit: the subscriber is to be disconnected.
    overflowed: bool,
    limit: OutputBufferLimit,
}

pub struct Mailbox {
    inner: Mutex<Inner>,
    /// Woken when a message arrives (or the mailbox overflows). A permit is kept when nobody
    /// waits, so a message pushed between two waits is not missed.
    ready: Notify,
    /// Woken (all waiters) when the mailbox overflows: a connection stuck writing to a client
    /// that does not read learns it must give up.
    overflow: Notify,
}

impl Mailbox {
    pub fn new(limit: OutputBufferLimit) -> Mailbox {
        Mailbox {
            inner: Mutex::new(Inner {
                limit,
                ..Inner::default()
            }),
            ready: Notify::new(),
            overflow: Notify::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn push(&self, delivery: Delivery) {
        let overflowed = {
            let mut inner = self.lock();
            if inner.overflowed {
                return;
            }
            inner.bytes += delivery.cost();
            inner.queue.push_back(delivery);
            if Mailbox::over_limit(&mut inner, Instant::now()) {
                inner.overflowed = true;
                inner.queue = VecDeque::new();
                inner.bytes = 0;
            }
            inner.overflowed
        };
        self.ready.notify_one();
        if overflowed {
            self.overflow.notify_waiters();
        }
    }

    /// Resolves once the mailbox has overflowed.
    pub async fn overflowed(&self) {
        loop {
            // Made before the check: an overflow between the check and the wait still wakes it.
            let wake = self.overflow.notified();
            if self.lock().overflowed {
                return;
            }
            wake.await;
        }
    }

    /// Whether `inner` is past the hard limit, or past the soft one for longer than its
    /// seconds (as Redis's `checkClientOutputBufferLimits`: the first time over the soft limit
    /// only starts the clock).
    fn over_limit(inner: &mut Inner, now: Instant) -> bool {
        let bytes = inner.bytes as u64;
        let limit = inner.limit;
        if limit.hard > 0 && bytes >= limit.hard {
            return true;
        }
        if limit.soft > 0 && bytes >= limit.soft {
            let since = *inner.soft_since.get_or_insert(now);
            return now.duration_since(since) > Duration::from_secs(limit.soft_seconds);
        }
        inner.soft_since = None;
        false
    }

    /// CONFIG SET changed `client-output-buffer-limit pubsub`.
    pub fn set_limit(&self, limit: OutputBufferLimit) {
        self.lock().limit = limit;
    }

    /// Takes every message waiting, and whether the subscriber went over its limit (and must be
    /// disconnected).
    pub fn take(&self) -> (Vec<Delivery>, bool) {
        let mut inner = self.lock();
        inner.bytes = 0;
        inner.soft_since = None;
        let queue = std::mem::take(&mut inner.queue);
        (queue.into(), inner.overflowed)
    }

    /// Waits until something arrives.
    pub async fn ready(&self) {
        self.ready.notified().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(len: usize) -> Delivery {
        Delivery::Message {
            channel: Bytes::from_static(b"c"),
            message: Bytes::from(vec![b'x'; len]),
        }
    }

    #[test]
    fn a_reader_takes_what_arrived_in_order() {
        let m = Mailbox::new(OutputBufferLimit::default());
        m.push(msg(1));
        m.push(msg(2));
        let (got, over) = m.take();
        assert_eq!(got, vec![msg(1), msg(2)]);
        assert!(!over);
        assert!(m.take().0.is_empty());
    }

    #[test]
    fn past_the_hard_limit_the_mailbox_empties_and_refuses_more() {
        let m = Mailbox::new(OutputBufferLimit {
            hard: 10_000,
            soft: 0,
            soft_seconds: 0,
        });
        for _ in 0..9 {
            m.push(msg(1000));
        }
        assert_eq!(m.take().0.len(), 9, "under the limit: all kept");
        for _ in 0..20 {
            m.push(msg(1000));
        }
        let (got, over) = m.take();
        assert!(over && got.is_empty());
        assert!(
            futures::FutureExt::now_or_never(m.overflowed()).is_some(),
            "an overflowed mailbox says so at once"
        );
        m.push(msg(1));
        assert!(m.take().0.is_empty(), "nothing more once over");
    }

    #[test]
    fn the_soft_limit_counts_only_for_its_seconds() {
        let m = Mailbox::new(OutputBufferLimit {
            hard: 0,
            soft: 1000,
            soft_seconds: 60,
        });
        m.push(msg(2000));
        m.push(msg(2000));
        let (got, over) = m.take();
        assert_eq!(
            (got.len(), over),
            (2, false),
            "above soft, but not for long"
        );
        let mut inner = m.lock();
        inner.bytes = 5000;
        let now = Instant::now();
        inner.soft_since = Some(now - Duration::from_secs(61));
        assert!(Mailbox::over_limit(&mut inner, now));
    }

    #[test]
    fn messages_are_pushes_of_redis_shape() {
        let p = Delivery::PMessage {
            pattern: Bytes::from_static(b"a*"),
            channel: Bytes::from_static(b"ab"),
            message: Bytes::from_static(b"m"),
        };
        assert_eq!(
            p.to_reply(),
            Reply::Push(vec![
                Reply::bulk("pmessage"),
                Reply::bulk("a*"),
                Reply::bulk("ab"),
                Reply::bulk("m")
            ])
        );
    }
}
