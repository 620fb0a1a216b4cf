//! The counters behind INFO's commandstats and errorstats sections and its
//! `instantaneous_ops_per_sec`, which CONFIG RESETSTAT zeroes.
//!
//! Every command is counted, so counting must cost next to nothing: a command's counters are
//! atomics at its id (its place in the command table), found without a lookup. Error replies are
//! counted by their code (`ERR`, `WRONGTYPE`, ...) in a map that takes its write lock only the
//! first time a code is seen.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, RwLock};
use std::time::Instant;

use crate::command;
use crate::resp::Reply;

/// At most this many distinct error codes are tracked, as in Redis: an error text with a
/// changing first word must not grow the map without bound.
const MAX_ERROR_CODES: usize = 128;
/// `instantaneous_ops_per_sec` averages this many samples, taken every 100 ms (Redis's
/// `STATS_METRIC_SAMPLES`).
const OPS_SAMPLES: usize = 16;

#[derive(Default)]
struct CommandCounters {
    calls: AtomicU64,
    usec: AtomicU64,
    rejected: AtomicU64,
    failed: AtomicU64,
}

pub struct Stats {
    commands: Box<[CommandCounters]>,
    errors: RwLock<BTreeMap<String, AtomicU64>>,
    /// Error replies of every kind (`total_error_replies`).
    pub total_error_replies: AtomicU64,
    ops: Mutex<OpsSampler>,
}

struct OpsSampler {
    last: Option<(Instant, u64)>,
    samples: [u64; OPS_SAMPLES],
    next: usize,
}

impl Default for Stats {
    fn default() -> Self {
        Stats {
            commands: (0..command::count())
                .map(|_| CommandCounters::default())
                .collect(),
            errors: RwLock::default(),
            total_error_replies: AtomicU64::new(0),
            ops: Mutex::new(OpsSampler {
                last: None,
                samples: [0; OPS_SAMPLES],
                next: 0,
            }),
        }
    }
}

/// The code of an error reply, as Redis takes it: the first word (within the first 32 bytes),
/// `ERR` when there is none.
fn error_code(text: &str) -> &str {
    let head = &text.as_bytes()[..text.len().min(32)];
    match head.iter().position(|&c| c == b' ') {
        Some(0) | None => "ERR",
        Some(end) => &text[..end],
    }
}

impl Stats {
    /// A command ran for `usec` microseconds; `failed` when it answered an error.
    pub fn call(&self, id: usize, usec: u64, failed: bool) {
        if let Some(c) = self.commands.get(id) {
            c.calls.fetch_add(1, Ordering::Relaxed);
            c.usec.fetch_add(usec, Ordering::Relaxed);
            if failed {
                c.failed.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// A command was refused before it ran (arity, authentication, not allowed in MULTI).
    pub fn rejected(&self, id: usize) {
        if let Some(c) = self.commands.get(id) {
            c.rejected.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// An error reply went to a client.
    pub fn error_reply(&self, text: &str) {
        self.total_error_replies.fetch_add(1, Ordering::Relaxed);
        let code = error_code(text);
        {
            let errors = self.errors.read().unwrap_or_else(|e| e.into_inner());
            if let Some(n) = errors.get(code) {
                n.fetch_add(1, Ordering::Relaxed);
                return;
            }
            if errors.len() >= MAX_ERROR_CODES {
                return;
            }
        }
        let mut errors = self.errors.write().unwrap_or_else(|e| e.into_inner());
        if errors.len() < MAX_ERROR_CODES || errors.contains_key(code) {
            errors
                .entry(code.to_string())
                .or_default()
                .fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Counts a reply that is going to the client: its errors (an EXEC's nested ones too), and
    /// the call of the command it answers when `tag` says which.
    pub fn reply(&self, reply: &Reply, tag: Option<&CallTag>) {
        if let Reply::Error(text) = reply {
            self.error_reply(text);
        }
        let Some(tag) = tag else { return };
        let usec = tag.started.elapsed().as_micros() as u64;
        self.call(tag.id, usec, reply.is_error());
        if let (Some(inner), Reply::Array(replies)) = (&tag.inner, reply) {
            if inner.len() == replies.len() {
                let each = usec / (inner.len() as u64).max(1);
                for (id, r) in inner.iter().zip(replies) {
                    if let Reply::Error(text) = r {
                        self.error_reply(text);
                    }
                    if let Some(id) = id {
                        self.call(*id, each, r.is_error());
                    }
                }
            }
        }
    }

    /// CONFIG RESETSTAT.
    pub fn reset(&self) {
        for c in self.commands.iter() {
            for n in [&c.calls, &c.usec, &c.rejected, &c.failed] {
                n.store(0, Ordering::Relaxed);
            }
        }
        self.errors
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        self.total_error_replies.store(0, Ordering::Relaxed);
        let mut ops = self.ops.lock().unwrap_or_else(|e| e.into_inner());
        ops.samples = [0; OPS_SAMPLES];
        ops.last = None;
    }

    /// Takes an ops/sec sample; `total` is the commands processed so far. Called every 100 ms.
    pub fn sample_ops(&self, total: u64) {
        let now = Instant::now();
        let mut ops = self.ops.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((at, before)) = ops.last {
            let ms = now.duration_since(at).as_millis().max(1) as u64;
            let i = ops.next;
            ops.samples[i] = total.saturating_sub(before) * 1000 / ms;
            ops.next = (i + 1) % OPS_SAMPLES;
        }
        ops.last = Some((now, total));
    }

    pub fn instantaneous_ops_per_sec(&self) -> u64 {
        let ops = self.ops.lock().unwrap_or_else(|e| e.into_inner());
        ops.samples.iter().sum::<u64>() / OPS_SAMPLES as u64
    }

    /// INFO commandstats: the commands that ran or were refused, as Redis shows them.
    pub fn render_commandstats(&self, out: &mut String) {
        let mut lines: Vec<(&str, String)> = Vec::new();
        for (id, c) in self.commands.iter().enumerate() {
            let calls = c.calls.load(Ordering::Relaxed);
            let rejected = c.rejected.load(Ordering::Relaxed);
            let failed = c.failed.load(Ordering::Relaxed);
            if calls == 0 && rejected == 0 && failed == 0 {
                continue;
            }
            let usec = c.usec.load(Ordering::Relaxed);
            let per_call = if calls == 0 {
                0.0
            } else {
                usec as f64 / calls as f64
            };
            let name = command::by_id(id).name;
            lines.push((
                name,
                format!(
                    "cmdstat_{name}:calls={calls},usec={usec},usec_per_call={per_call:.2},rejected_calls={rejected},failed_calls={failed}\r\n"
                ),
            ));
        }
        lines.sort();
        for (_, line) in lines {
            out.push_str(&line);
        }
    }

    /// INFO errorstats.
    pub fn render_errorstats(&self, out: &mut String) {
        let errors = self.errors.read().unwrap_or_else(|e| e.into_inner());
        for (code, n) in errors.iter() {
            let _ = write!(
                out,
                "errorstat_{code}:count={}\r\n",
                n.load(Ordering::Relaxed)
            );
        }
    }
}

/// Which command a reply answers: set when the command runs (not when it is refused or queued
/// by MULTI), consumed when its reply is written, so that its time and outcome are counted.
#[derive(Debug, Clone)]
pub struct CallTag {
    pub id: usize,
    pub started: Instant,
    /// EXEC: the queued commands, in the order of the replies in its array.
    pub inner: Option<Vec<Option<usize>>>,
}

impl CallTag {
    pub fn new(id: usize) -> CallTag {
        CallTag {
            id,
            started: Instant::now(),
            inner: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(name: &str) -> usize {
        command::lookup_id(name.as_bytes()).unwrap().0
    }

    #[test]
    fn counts_calls_failures_rejections_and_error_codes() {
        let stats = Stats::default();
        stats.reply(&Reply::ok(), Some(&CallTag::new(id("set"))));
        stats.reply(
            &Reply::Error("WRONGTYPE Operation against a key".into()),
            Some(&CallTag::new(id("lpush"))),
        );
        stats.rejected(id("get"));
        stats.reply(&Reply::Error("ERR wrong number of arguments".into()), None);
        stats.reply(&Reply::Error("NOSPACEHERE".into()), None);
        let mut out = String::new();
        stats.render_commandstats(&mut out);
        assert!(out.contains("cmdstat_set:calls=1,usec="), "{out}");
        assert!(
            out.contains(
                "cmdstat_get:calls=0,usec=0,usec_per_call=0.00,rejected_calls=1,failed_calls=0\r\n"
            ),
            "{out}"
        );
        assert!(
            out.contains(",rejected_calls=0,failed_calls=1\r\n"),
            "{out}"
        );
        let mut errors = String::new();
        stats.render_errorstats(&mut errors);
        assert_eq!(
            errors,
            "errorstat_ERR:count=2\r\nerrorstat_WRONGTYPE:count=1\r\n"
        );
        assert_eq!(stats.total_error_replies.load(Ordering::Relaxed), 3);
        stats.reset();
        let mut out = String::new();
        stats.render_commandstats(&mut out);
        stats.render_errorstats(&mut out);
        assert_eq!(out, "");
    }

    #[test]
    fn exec_counts_its_commands() {
        let stats = Stats::default();
        let tag = CallTag {
            inner: Some(vec![Some(id("set")), Some(id("incr"))]),
            ..CallTag::new(id("exec"))
        };
        stats.reply(
            &Reply::Array(vec![Reply::ok(), Reply::err("value is not an integer")]),
            Some(&tag),
        );
        let mut out = String::new();
        stats.render_commandstats(&mut out);
        assert!(out.contains("cmdstat_exec:calls=1,"), "{out}");
        assert!(out.contains("cmdstat_set:calls=1,"), "{out}");
        assert!(
            out.contains("cmdstat_incr:calls=1,") && out.contains("failed_calls=1"),
            "{out}"
        );
        let mut errors = String::new();
        stats.render_errorstats(&mut errors);
        assert_eq!(errors, "errorstat_ERR:count=1\r\n");
    }

    #[test]
    fn ops_per_second_from_samples() {
        let stats = Stats::default();
        stats.sample_ops(0);
        std::thread::sleep(std::time::Duration::from_millis(20));
        stats.sample_ops(1000);
        assert!(stats.instantaneous_ops_per_sec() > 0);
    }
}
