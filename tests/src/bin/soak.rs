//! Soak run, by hand (not in CI): a three-node Kiwi cluster on loopback under a mixed
//! SET / INCR / GET / MULTI-EXEC load for N minutes while one fault at a time hits it (kill -9
//! then restart, SIGSTOP then SIGCONT, a partition then its healing). At the end every fault is
//! healed, the cluster converges, and three checks run:
//!
//! 1. durability: each key's final value reflects every acknowledged SET and INCR;
//! 2. linearizability: each key's history, final read included, has a linearization
//!    ([`linearizability::check_key`]);
//! 3. convergence: every node holds the same value for every key (READONLY GET on each node).
//!
//!   soak [--minutes 5] [--seed S] [--clients 4] [--keys 10] [--ops-per-key 100]
//!        [--think-ms 1] [--kiwi PATH]
//!
//! Exit status: 0 when every check passes, 1 on a violation (the history and node logs are
//! kept in `$TMPDIR/kiwi-soak-<seed>/`), 2 on bad flags, 3 when a key's history was too
//! tangled for the checker's budget (lower `--ops-per-key`).
//!
//! The seed fixes the fault schedule and the clients' choices; thread timing still varies, so
//! a run is not replayed exactly.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kiwi_tests::cluster::TestCluster;
use kiwi_tests::linearizability::{self, Op, OpKind};

/// SET values are distinct multiples of this, so a final value tells which SET it started from
/// (`value / SET_STRIDE`) and how many INCRs landed on top (`value % SET_STRIDE`). A key gets
/// at most `--ops-per-key` operations, kept below it, so that split is exact.
const SET_STRIDE: i64 = 1_000_000;
/// Client read/write timeout: above the cluster's write timeout (2 s) plus forwarding, so a
/// timeout here means the node itself stopped answering.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(5);
/// Operations on one connection before a client moves to another random node.
const OPS_PER_CONNECTION: usize = 20;
/// How long the end of the run may wait for the healed cluster to agree.
const CONVERGE_TIMEOUT: Duration = Duration::from_secs(60);
/// A cluster with every node up and no leader for this long is reported (liveness).
const LEADERLESS_LIMIT: Duration = Duration::from_secs(30);
const PROGRESS_EVERY: Duration = Duration::from_secs(10);

struct Args {
    minutes: f64,
    seed: u64,
    clients: usize,
    keys: usize,
    ops_per_key: u64,
    think: Duration,
}

const USAGE: &str = "soak [--minutes 5] [--seed S] [--clients 4] [--keys 10] [--ops-per-key 100] \
                     [--think-ms 1] [--kiwi PATH]";

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        minutes: 5.0,
        seed: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1),
        clients: 4,
        keys: 10,
        ops_per_key: 100,
        think: Duration::from_millis(1),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "--help" || flag == "-h" {
            return Err(String::new());
        }
        let value = it.next().ok_or(format!("{flag} needs a value"))?;
        let bad = |what: &str| format!("{flag} {value}: expected {what}");
        match flag.as_str() {
            "--minutes" => args.minutes = value.parse().map_err(|_| bad("minutes"))?,
            "--seed" => args.seed = value.parse().map_err(|_| bad("an integer"))?,
            "--clients" => args.clients = value.parse().map_err(|_| bad("a count"))?,
            "--keys" => args.keys = value.parse().map_err(|_| bad("a count"))?,
            "--ops-per-key" => args.ops_per_key = value.parse().map_err(|_| bad("a count"))?,
            "--think-ms" => {
                args.think = Duration::from_millis(value.parse().map_err(|_| bad("ms"))?)
            }
            // The harness starts whatever KIWI_BIN names; set it before any thread starts.
            "--kiwi" => std::env::set_var("KIWI_BIN", value),
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    if !(args.minutes > 0.0 && args.minutes <= 24.0 * 60.0) {
        return Err("--minutes must be in (0, 1440]".into());
    }
    if args.clients == 0 || args.clients > 64 {
        return Err("--clients must be in 1..=64".into());
    }
    if args.keys == 0 || args.keys > 10_000 {
        return Err("--keys must be in 1..=10000".into());
    }
    if args.ops_per_key == 0 || args.ops_per_key >= SET_STRIDE as u64 {
        return Err(format!("--ops-per-key must be in 1..{SET_STRIDE}"));
    }
    Ok(args)
}

/// splitmix64: the tests crate has no `rand`, and a seeded stream is all this needs.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn millis(&mut self, lo: u64, hi: u64) -> Duration {
        Duration::from_millis(lo + self.below(hi - lo + 1))
    }
}

/// State the client threads share.
struct Shared {
    ports: Vec<u16>,
    epoch: Instant,
    stop: AtomicBool,
    /// Operations handed out per key slot; a slot's key changes every `ops_per_key` of them.
    slots: Vec<AtomicU64>,
    ops_per_key: u64,
    next_set: AtomicU64,
    think: Duration,
    ok: AtomicU64,
    unknown: AtomicU64,
    failed: AtomicU64,
}

fn key_name(slot: usize, generation: u64) -> String {
    format!("soak:{slot}:{generation}")
}

impl Shared {
    /// Microseconds since the run started (the histories' clock).
    fn now(&self) -> u64 {
        self.epoch.elapsed().as_micros() as u64
    }

    /// The key for one more operation on `slot`. A key takes at most `ops_per_key` operations,
    /// then its slot moves to a fresh one: the live key set stays small and contended, and
    /// each history stays short enough for the checker (exponential in the worst case).
    fn key(&self, slot: usize) -> String {
        let n = self.slots[slot].fetch_add(1, Ordering::Relaxed);
        key_name(slot, n / self.ops_per_key)
    }

    fn set_value(&self) -> i64 {
        (self.next_set.fetch_add(1, Ordering::Relaxed) as i64 + 1) * SET_STRIDE
    }

    /// Every key any operation was aimed at, failed ones included (those must stay nil).
    fn all_keys(&self) -> Vec<String> {
        let mut keys = Vec::new();
        for (slot, n) in self.slots.iter().enumerate() {
            let n = n.load(Ordering::Relaxed);
            for generation in 0..n.div_ceil(self.ops_per_key) {
                keys.push(key_name(slot, generation));
            }
        }
        keys
    }
}

/// What one client thread saw.
#[derive(Default)]
struct ClientLog {
    ops: Vec<Op>,
    /// Error texts (digits folded, so ports and ids don't split them) and how often each came.
    errors: BTreeMap<String, u64>,
    /// Replies no correct server sends (a GET of a non-integer, INCR refusing a value).
    anomalies: Vec<String>,
}

impl ClientLog {
    fn count_error(&mut self, text: &str) {
        let mut folded = String::new();
        for c in text.chars() {
            if c.is_ascii_digit() {
                if !folded.ends_with('N') {
                    folded.push('N');
                }
            } else {
                folded.push(c);
            }
        }
        folded.truncate(110);
        *self.errors.entry(folded).or_default() += 1;
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// The write may or may not have been applied.
    Unknown,
    /// Surely not applied: refused before it was proposed.
    Failed,
}

/// The server's contract: an error reply that doesn't say the write "may" have been applied
/// (or TRYAGAIN) is a refusal, made before the write was proposed ("CLUSTERDOWN No raft
/// leader", "cannot reach the leader"). Anything else (a broken or silent connection, a reply
/// the client could not parse) leaves the outcome unknown.
fn classify(e: &redis::RedisError) -> Outcome {
    let text = e.to_string().to_lowercase();
    // redis-rs gives errors the server sent both a code and a detail; its own have no detail.
    let from_server = e.code().is_some() && e.detail().is_some();
    if from_server && !text.contains("may") && !text.contains("tryagain") {
        Outcome::Failed
    } else {
        Outcome::Unknown
    }
}

fn error_label(e: &redis::RedisError) -> String {
    match (e.code(), e.detail()) {
        (Some(code), Some(detail)) => format!("{code} {detail}"),
        _ => e.to_string(),
    }
}

fn connect(port: u16) -> redis::RedisResult<redis::Connection> {
    let conn = redis::Client::open(format!("redis://127.0.0.1:{port}/"))?
        .get_connection_with_timeout(Duration::from_secs(1))?;
    conn.set_read_timeout(Some(CLIENT_TIMEOUT))?;
    conn.set_write_timeout(Some(CLIENT_TIMEOUT))?;
    Ok(conn)
}

/// One client: random nodes (a follower forwards to the leader), a fresh connection after any
/// error (a timed-out reply may still arrive on the old one) and every `OPS_PER_CONNECTION`.
fn client(shared: &Shared, seed: u64, hard_stop: Instant) -> ClientLog {
    let mut rng = Rng(seed);
    let mut log = ClientLog::default();
    while !shared.stop.load(Ordering::Relaxed) && Instant::now() < hard_stop {
        let port = shared.ports[rng.below(shared.ports.len() as u64) as usize];
        let mut conn = match connect(port) {
            Ok(c) => c,
            Err(e) => {
                log.count_error(&format!("connect: {e}"));
                std::thread::sleep(Duration::from_millis(50));
                continue;
            }
        };
        for _ in 0..OPS_PER_CONNECTION {
            if shared.stop.load(Ordering::Relaxed) {
                break;
            }
            if !one_op(shared, &mut conn, &mut rng, &mut log) {
                // Don't spin while the cluster has no leader.
                std::thread::sleep(Duration::from_millis(20));
                break;
            }
            if !shared.think.is_zero() {
                std::thread::sleep(shared.think);
            }
        }
    }
    log
}

/// Runs one random operation and records it; false when the connection should be replaced.
fn one_op(
    shared: &Shared,
    conn: &mut redis::Connection,
    rng: &mut Rng,
    log: &mut ClientLog,
) -> bool {
    let roll = rng.below(100);
    let slots = shared.slots.len() as u64;
    if roll < 10 && slots >= 2 {
        // MULTI/EXEC of two SETs on two different slots: one Raft entry, both or neither.
        let a = rng.below(slots);
        let b = (a + 1 + rng.below(slots - 1)) % slots;
        let writes = [
            (shared.key(a as usize), shared.set_value()),
            (shared.key(b as usize), shared.set_value()),
        ];
        let invoke = shared.now();
        // Sent as a plain pipeline rather than redis-rs's atomic one, which reports an error
        // reply to EXEC (TRYAGAIN, "may have been applied") without its text.
        let mut pipe = redis::pipe();
        pipe.cmd("MULTI");
        for (key, value) in &writes {
            pipe.cmd("SET").arg(key).arg(*value);
        }
        pipe.cmd("EXEC");
        let result =
            pipe.query::<Vec<redis::Value>>(conn)
                .and_then(|replies| match replies.last() {
                    Some(redis::Value::Array(items))
                        if items.len() == writes.len()
                            && items.iter().all(|v| matches!(v, redis::Value::Okay)) =>
                    {
                        Ok(())
                    }
                    other => Err(redis::RedisError::from((
                        redis::ErrorKind::ClientError,
                        "unexpected EXEC reply",
                        format!("{other:?}"),
                    ))),
                });
        let complete = shared.now();
        let kinds: Vec<(String, OpKind)> = writes
            .into_iter()
            .map(|(k, v)| (k, OpKind::Set(v)))
            .collect();
        return record(shared, log, kinds, invoke, complete, result);
    }
    let key = shared.key(rng.below(slots) as usize);
    let invoke = shared.now();
    let (kind, result) = if roll < 35 {
        let value = shared.set_value();
        let r = redis::cmd("SET").arg(&key).arg(value).query::<()>(conn);
        (OpKind::Set(value), r)
    } else if roll < 60 {
        match redis::cmd("INCR").arg(&key).query::<i64>(conn) {
            Ok(v) => (OpKind::Incr(Some(v)), Ok(())),
            Err(e) => {
                // Only integers are ever stored: a refusal to increment is a bug.
                if e.detail().is_some_and(|d| d.contains("not an integer")) {
                    log.anomalies.push(format!("INCR {key}: {e}"));
                }
                (OpKind::Incr(None), Err(e))
            }
        }
    } else {
        match redis::cmd("GET").arg(&key).query::<Option<String>>(conn) {
            Ok(None) => (OpKind::Get(None), Ok(())),
            Ok(Some(text)) => match text.parse::<i64>() {
                Ok(v) => (OpKind::Get(Some(v)), Ok(())),
                Err(_) => {
                    log.anomalies
                        .push(format!("GET {key} returned a non-integer: {text:?}"));
                    return false;
                }
            },
            Err(e) => (OpKind::Get(None), Err(e)),
        }
    };
    let complete = shared.now();
    record(shared, log, vec![(key, kind)], invoke, complete, result)
}

/// Adds the operation(s) of one request to the history: acknowledged ones with their
/// completion time, writes of unknown outcome without one, surely-failed ones not at all (and
/// reads that failed not at all: they constrain nothing).
fn record(
    shared: &Shared,
    log: &mut ClientLog,
    ops: Vec<(String, OpKind)>,
    invoke: u64,
    complete: u64,
    result: redis::RedisResult<()>,
) -> bool {
    let complete = match result {
        Ok(()) => {
            shared.ok.fetch_add(1, Ordering::Relaxed);
            Some(complete)
        }
        Err(e) => {
            log.count_error(&error_label(&e));
            let is_read = ops.iter().all(|(_, k)| matches!(k, OpKind::Get(_)));
            match classify(&e) {
                Outcome::Unknown if !is_read => {
                    shared.unknown.fetch_add(1, Ordering::Relaxed);
                    None
                }
                Outcome::Unknown => {
                    shared.unknown.fetch_add(1, Ordering::Relaxed);
                    return false;
                }
                Outcome::Failed => {
                    shared.failed.fetch_add(1, Ordering::Relaxed);
                    return false;
                }
            }
        }
    };
    for (key, kind) in ops {
        log.ops.push(Op {
            key,
            kind,
            invoke,
            complete,
        });
    }
    complete.is_some()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FaultKind {
    Kill,
    Pause,
    Partition,
}

struct ActiveFault {
    kind: FaultKind,
    node: usize,
    until: Instant,
}

#[derive(Default)]
struct FaultStats {
    kill: u64,
    pause: u64,
    partition: u64,
    on_leader: u64,
    /// Faults put off because the cluster had no agreed leader at the time.
    postponed: u64,
    longest_leaderless: Duration,
}

impl FaultStats {
    fn total(&self) -> u64 {
        self.kill + self.pause + self.partition
    }
}

fn describe(kind: FaultKind) -> &'static str {
    match kind {
        FaultKind::Kill => "kill -9",
        FaultKind::Pause => "SIGSTOP",
        FaultKind::Partition => "partition",
    }
}

/// Injects one fault on a node chosen by `rng` (the leader a third to a half of the time).
fn inject(
    cluster: &mut TestCluster,
    rng: &mut Rng,
    leader: usize,
    stats: &mut FaultStats,
) -> ActiveFault {
    let kind = match rng.below(3) {
        0 => FaultKind::Kill,
        1 => FaultKind::Pause,
        _ => FaultKind::Partition,
    };
    let leader_odds = if kind == FaultKind::Pause { 2 } else { 3 };
    let node = if rng.below(leader_odds) == 0 {
        leader
    } else {
        rng.below(cluster.nodes.len() as u64) as usize
    };
    let hold = match kind {
        FaultKind::Pause => rng.millis(1000, 4000),
        _ => rng.millis(1000, 5000),
    };
    match kind {
        FaultKind::Kill => {
            cluster.kill9(node);
            stats.kill += 1;
        }
        FaultKind::Pause => {
            cluster.pause(node);
            stats.pause += 1;
        }
        FaultKind::Partition => {
            cluster.isolate(node, true);
            stats.partition += 1;
        }
    }
    if node == leader {
        stats.on_leader += 1;
    }
    println!(
        "  fault #{}: {} node {}{} for {:.1} s",
        stats.total(),
        describe(kind),
        cluster.nodes[node].id,
        if node == leader { " (leader)" } else { "" },
        hold.as_secs_f64()
    );
    ActiveFault {
        kind,
        node,
        until: Instant::now() + hold,
    }
}

fn heal(cluster: &mut TestCluster, fault: &ActiveFault) {
    match fault.kind {
        FaultKind::Kill => cluster.restart(fault.node),
        FaultKind::Pause => cluster.resume(fault.node),
        FaultKind::Partition => cluster.isolate(fault.node, false),
    }
}

fn progress(shared: &Shared, start: Instant, stats: &FaultStats, now: &str) {
    let (ok, unknown, failed) = (
        shared.ok.load(Ordering::Relaxed),
        shared.unknown.load(Ordering::Relaxed),
        shared.failed.load(Ordering::Relaxed),
    );
    println!(
        "[{:>5.0} s] ops {} (ok {ok}, unknown {unknown}, failed {failed}), faults {} \
         (kill {}, stop {}, partition {}), {now}",
        start.elapsed().as_secs_f64(),
        ok + unknown + failed,
        stats.total(),
        stats.kill,
        stats.pause,
        stats.partition
    );
}

/// The fault schedule: calm for 2-6 s, one fault for 1-5 s, healed, and again, until `end`.
/// Only one fault is ever active, so at most one node of three is out. Crashes (a node that
/// exits on its own) are violations; the node is restarted so the run goes on.
fn run_faults(
    cluster: &mut TestCluster,
    shared: &Shared,
    rng: &mut Rng,
    end: Instant,
    violations: &mut Vec<String>,
) -> FaultStats {
    let start = Instant::now();
    let mut stats = FaultStats::default();
    let mut active: Option<ActiveFault> = None;
    let mut next_fault = start + rng.millis(2000, 6000);
    let mut next_progress = start + PROGRESS_EVERY;
    let mut leaderless_since: Option<Instant> = None;
    while Instant::now() < end {
        std::thread::sleep(Duration::from_millis(100));
        for idx in 0..cluster.nodes.len() {
            if let Some(status) = cluster.exited(idx) {
                let v = format!(
                    "node {} exited on its own ({status}) {:.0} s into the run; log: {}",
                    cluster.nodes[idx].id,
                    start.elapsed().as_secs_f64(),
                    cluster.nodes[idx].log.display()
                );
                println!("  VIOLATION: {v}");
                violations.push(v);
                cluster.restart(idx);
            }
        }
        let now = Instant::now();
        match &active {
            Some(fault) if now >= fault.until => {
                heal(cluster, fault);
                active = None;
                next_fault = now + rng.millis(2000, 6000);
            }
            Some(_) => {}
            None if now >= next_fault => match cluster.leader_now() {
                Some(leader) => {
                    if let Some(since) = leaderless_since.take() {
                        stats.longest_leaderless = stats.longest_leaderless.max(since.elapsed());
                    }
                    active = Some(inject(cluster, rng, leader, &mut stats));
                }
                None => {
                    // Every node is up: wait for an election before the next fault.
                    let since = *leaderless_since.get_or_insert(now);
                    stats.postponed += 1;
                    next_fault = now + Duration::from_millis(500);
                    if since.elapsed() > LEADERLESS_LIMIT {
                        let v = format!(
                            "no agreed leader for {:.0} s with every node up and healed",
                            since.elapsed().as_secs_f64()
                        );
                        println!("  VIOLATION: {v}");
                        violations.push(v);
                        leaderless_since = None;
                    }
                }
            },
            None => {}
        }
        if now >= next_progress {
            next_progress = now + PROGRESS_EVERY;
            let state = match &active {
                Some(f) => format!(
                    "now: {} node {}",
                    describe(f.kind),
                    cluster.nodes[f.node].id
                ),
                None => "now: calm".to_string(),
            };
            progress(shared, start, &stats, &state);
        }
    }
    if let Some(fault) = active.take() {
        heal(cluster, &fault);
    }
    stats
}

/// Undoes anything a fault could have left: every node running, none paused, no partition.
fn heal_all(cluster: &mut TestCluster) {
    for idx in 0..cluster.nodes.len() {
        if cluster.nodes[idx].is_running() && cluster.exited(idx).is_none() {
            cluster.resume(idx);
        } else {
            cluster.restart(idx);
        }
    }
    // Healing one node clears the blocked lists of all of them.
    cluster.isolate(0, false);
}

/// GETs `keys` on `port` in pipelined batches (after READONLY when `local`: that node's own
/// state, not the leader's); retried on a fresh connection a few times.
fn read_all(port: u16, keys: &[String], local: bool) -> Result<Vec<Option<String>>, String> {
    let mut last = String::new();
    for _ in 0..5 {
        let attempt = || -> redis::RedisResult<Vec<Option<String>>> {
            let mut conn = connect(port)?;
            if local {
                redis::cmd("READONLY").query::<()>(&mut conn)?;
            }
            let mut out = Vec::with_capacity(keys.len());
            for chunk in keys.chunks(200) {
                let mut pipe = redis::pipe();
                for k in chunk {
                    pipe.cmd("GET").arg(k);
                }
                out.extend(pipe.query::<Vec<Option<String>>>(&mut conn)?);
            }
            Ok(out)
        };
        match attempt() {
            Ok(values) => return Ok(values),
            Err(e) => last = e.to_string(),
        }
        std::thread::sleep(Duration::from_secs(1));
    }
    Err(format!(
        "reading {} keys on port {port} failed: {last}",
        keys.len()
    ))
}

fn show(op: &Op) -> String {
    let end = op
        .complete
        .map(|c| c.to_string())
        .unwrap_or_else(|| "?".into());
    format!("{:?} [{}..{end} us]", op.kind, op.invoke)
}

/// Check 1: the final value of a key accounts for every acknowledged write.
///
/// SET values are distinct multiples of `SET_STRIDE`, so a final value `x` names the last SET
/// applied (`x - x % SET_STRIDE`, 0 for none) and the count of INCRs after it (`x % SET_STRIDE`).
/// Then: an acknowledged SET invoked after that SET completed must have won over it (lost
/// write); each acknowledged INCR invoked after it completed must be counted (lost increment);
/// and no more INCRs may be counted than could have followed it (a write from nowhere).
fn check_durable(key: &str, ops: &[&Op], fin: Option<i64>) -> Result<(), String> {
    let writes = || {
        ops.iter()
            .copied()
            .filter(|o| !matches!(o.kind, OpKind::Get(_)))
    };
    let Some(x) = fin else {
        return match writes().find(|o| o.complete.is_some()) {
            Some(o) => Err(format!("{key} is nil, but {} was acknowledged", show(o))),
            None => Ok(()),
        };
    };
    let base = x - x.rem_euclid(SET_STRIDE);
    let incrs = x.rem_euclid(SET_STRIDE) as usize;
    let from: Option<&Op> = match base {
        0 => None,
        _ => Some(
            writes()
                .find(|o| o.kind == OpKind::Set(base))
                .ok_or_else(|| format!("{key} = {x}, but no SET {base} was sent to it"))?,
        ),
    };
    let what = match from {
        Some(s) => format!("SET {}", show(s)),
        None => "nil (no SET applied)".to_string(),
    };
    // Invoked after `from` completed: ordered after it in any linearization.
    let after_from = |o: &Op| from.is_none_or(|s| s.complete.is_some_and(|c| o.invoke > c));
    let lost = writes().find(|&o| {
        o.complete.is_some() && matches!(o.kind, OpKind::Set(v) if v != base) && after_from(o)
    });
    if let Some(lost) = lost {
        return Err(format!(
            "{key} = {x} comes from {what}, but the later acknowledged {} is lost",
            show(lost)
        ));
    }
    let incr_ops = || writes().filter(|o| matches!(o.kind, OpKind::Incr(_)));
    let must = incr_ops()
        .filter(|&o| o.complete.is_some() && after_from(o))
        .count();
    // Could be ordered after `from`: not completed before it was invoked.
    let may = incr_ops()
        .filter(|o| from.is_none_or(|s| o.complete.is_none_or(|c| c > s.invoke)))
        .count();
    if incrs < must {
        return Err(format!(
            "{key} = {x}: {must} INCRs acknowledged after {what} but only {incrs} are reflected \
             (lost increments)"
        ));
    }
    if incrs > may {
        return Err(format!(
            "{key} = {x}: {incrs} INCRs on top of {what} but only {may} could have followed it"
        ));
    }
    Ok(())
}

/// Writes the history and copies the node logs where they outlive the run.
fn keep_evidence(cluster: &TestCluster, ops: &[Op], seed: u64) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kiwi-soak-{seed}"));
    let _ = std::fs::create_dir_all(&dir);
    let text: String = ops
        .iter()
        .map(|o| format!("{} {}\n", o.key, show(o)))
        .collect();
    let _ = std::fs::write(dir.join("history.txt"), text);
    for n in &cluster.nodes {
        let _ = std::fs::copy(&n.log, dir.join(format!("node{}.log", n.id)));
    }
    dir
}

fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("{e}");
            }
            eprintln!("usage: {USAGE}");
            std::process::exit(2);
        }
    };
    // From target/<profile>/soak the harness's default lookup misses the sibling `kiwi`.
    if std::env::var_os("KIWI_BIN").is_none() {
        if let Some(bin) = std::env::current_exe()
            .ok()
            .and_then(|e| Some(e.parent()?.join("kiwi")))
            .filter(|b| b.is_file())
        {
            std::env::set_var("KIWI_BIN", bin);
        }
    }
    let duration = Duration::from_secs_f64(args.minutes * 60.0);
    println!(
        "soak: 3 nodes on 127.0.0.1, {} clients, {} key slots x {} ops per key, {:.1} min, seed {} \
         (kiwi: {})",
        args.clients,
        args.keys,
        args.ops_per_key,
        args.minutes,
        args.seed,
        kiwi_tests::kiwi_bin().display()
    );
    let mut cluster = TestCluster::start_with(3, &["--raft-write-timeout", "2000"]);
    let shared = Arc::new(Shared {
        ports: cluster.nodes.iter().map(|n| n.resp_port).collect(),
        epoch: Instant::now(),
        stop: AtomicBool::new(false),
        slots: (0..args.keys).map(|_| AtomicU64::new(0)).collect(),
        ops_per_key: args.ops_per_key,
        next_set: AtomicU64::new(0),
        think: args.think,
        ok: AtomicU64::new(0),
        unknown: AtomicU64::new(0),
        failed: AtomicU64::new(0),
    });
    let start = Instant::now();
    // A client stops at the flag; this bounds it even if the flag were never set.
    let hard_stop = start + duration + Duration::from_secs(60);
    let mut rng = Rng(args.seed);
    let clients: Vec<_> = (0..args.clients)
        .map(|_| {
            let shared = shared.clone();
            let seed = rng.next();
            std::thread::spawn(move || client(&shared, seed, hard_stop))
        })
        .collect();
    let mut violations = Vec::new();
    let stats = run_faults(
        &mut cluster,
        &shared,
        &mut rng,
        start + duration,
        &mut violations,
    );
    // A little load on the healed cluster, then stop.
    std::thread::sleep(Duration::from_secs(2));
    shared.stop.store(true, Ordering::Relaxed);
    let mut logs = Vec::new();
    for c in clients {
        logs.push(c.join().expect("client thread panicked"));
    }
    let load_time = start.elapsed();
    progress(&shared, start, &stats, "clients stopped; healing");

    heal_all(&mut cluster);
    cluster.wait_converged(CONVERGE_TIMEOUT);
    let leader = cluster.wait_leader(CONVERGE_TIMEOUT);

    let mut errors: BTreeMap<String, u64> = BTreeMap::new();
    let mut history: Vec<Op> = Vec::new();
    for log in logs {
        for (e, n) in log.errors {
            *errors.entry(e).or_default() += n;
        }
        for a in log.anomalies {
            violations.push(format!("bad reply: {a}"));
        }
        history.extend(log.ops);
    }
    let keys = shared.all_keys();
    let final_invoke = shared.now();
    let finals: Vec<Option<i64>> = match read_all(cluster.nodes[leader].resp_port, &keys, false) {
        Ok(values) => values
            .into_iter()
            .zip(&keys)
            .map(|(v, k)| {
                v.and_then(|text| match text.parse() {
                    Ok(n) => Some(n),
                    Err(_) => {
                        violations.push(format!("final {k} is not an integer: {text:?}"));
                        None
                    }
                })
            })
            .collect(),
        Err(e) => {
            violations.push(format!("final read on the leader: {e}"));
            vec![None; keys.len()]
        }
    };
    let final_complete = shared.now();

    // Per-key histories, in key order.
    let mut by_key: HashMap<&str, Vec<&Op>> = HashMap::new();
    for op in &history {
        by_key.entry(op.key.as_str()).or_default().push(op);
    }

    // Check 1: durability.
    let before = violations.len();
    for (key, fin) in keys.iter().zip(&finals) {
        let ops = by_key.get(key.as_str()).map(Vec::as_slice).unwrap_or(&[]);
        if let Err(e) = check_durable(key, ops, *fin) {
            violations.push(format!("durability: {e}"));
        }
    }
    let durable_bad = violations.len() - before;

    // Check 2: linearizability, each key with its final read appended.
    let check_start = Instant::now();
    let mut inconclusive = Vec::new();
    let mut largest = 0;
    let before = violations.len();
    for (key, fin) in keys.iter().zip(&finals) {
        let mut ops: Vec<Op> = by_key
            .get(key.as_str())
            .map(|v| v.iter().map(|o| (*o).clone()).collect())
            .unwrap_or_default();
        ops.push(Op {
            key: key.clone(),
            kind: OpKind::Get(*fin),
            invoke: final_invoke,
            complete: Some(final_complete),
        });
        largest = largest.max(ops.len());
        match linearizability::check_key(&ops) {
            Ok(()) => {}
            Err(e) if e.starts_with("search budget exhausted") => {
                inconclusive.push(format!("{key}: {e}"))
            }
            Err(e) => violations.push(format!("linearizability: {e}")),
        }
    }
    let linear_bad = violations.len() - before;
    let check_time = check_start.elapsed();

    // Check 3: every node holds the leader's values.
    let before = violations.len();
    for node in &cluster.nodes {
        match read_all(node.resp_port, &keys, true) {
            Ok(values) => {
                let mut diffs = Vec::new();
                for ((key, fin), local) in keys.iter().zip(&finals).zip(values) {
                    let local = local.and_then(|t| t.parse::<i64>().ok());
                    if local != *fin {
                        diffs.push(format!("{key}: {local:?} (leader: {fin:?})"));
                    }
                }
                if !diffs.is_empty() {
                    violations.push(format!(
                        "convergence: node {} differs on {} keys, e.g. {}",
                        node.id,
                        diffs.len(),
                        diffs.iter().take(5).cloned().collect::<Vec<_>>().join(", ")
                    ));
                }
            }
            Err(e) => violations.push(format!("convergence: node {}: {e}", node.id)),
        }
    }
    let converge_bad = violations.len() - before;

    // Availability: the longest stretch without an acknowledged write.
    let mut acked: Vec<u64> = history
        .iter()
        .filter(|o| !matches!(o.kind, OpKind::Get(_)))
        .filter_map(|o| o.complete)
        .collect();
    acked.sort_unstable();
    let longest_gap = acked.windows(2).map(|w| w[1] - w[0]).max().unwrap_or(0);

    let (ok, unknown, failed) = (
        shared.ok.load(Ordering::Relaxed),
        shared.unknown.load(Ordering::Relaxed),
        shared.failed.load(Ordering::Relaxed),
    );
    let count = |f: fn(&OpKind) -> bool| history.iter().filter(|o| f(&o.kind)).count();
    println!("== soak report (seed {})", args.seed);
    println!(
        "load: {:.0} s, {} requests (ok {ok}, unknown outcome {unknown}, refused {failed}), \
         {:.0} requests/s",
        load_time.as_secs_f64(),
        ok + unknown + failed,
        (ok + unknown + failed) as f64 / load_time.as_secs_f64()
    );
    println!(
        "history: {} ops (SET {}, INCR {}, GET {}; MULTI SETs counted per key) over {} keys, \
         largest key history {largest}",
        history.len(),
        count(|k| matches!(k, OpKind::Set(_))),
        count(|k| matches!(k, OpKind::Incr(_))),
        count(|k| matches!(k, OpKind::Get(_))),
        keys.len()
    );
    println!(
        "faults: {} (kill -9 {}, SIGSTOP {}, partition {}; {} on the leader), {} postponed for \
         want of a leader",
        stats.total(),
        stats.kill,
        stats.pause,
        stats.partition,
        stats.on_leader,
        stats.postponed
    );
    println!(
        "longest stretch without an acknowledged write: {:.2} s",
        longest_gap as f64 / 1e6
    );
    println!("errors seen by clients:");
    let mut errors: Vec<_> = errors.into_iter().collect();
    errors.sort_by_key(|e| std::cmp::Reverse(e.1));
    for (text, n) in errors.iter().take(12) {
        println!("  {n:>7}  {text}");
    }
    let verdict = |bad: usize| if bad == 0 { "ok" } else { "FAILED" };
    println!(
        "check 1 (acknowledged writes reflected): {} ({} keys, {durable_bad} bad)",
        verdict(durable_bad),
        keys.len()
    );
    println!(
        "check 2 (per-key linearizability): {} ({} keys in {:.1} s, {linear_bad} bad, {} \
         inconclusive)",
        verdict(linear_bad),
        keys.len(),
        check_time.as_secs_f64(),
        inconclusive.len()
    );
    println!(
        "check 3 (nodes converge): {} ({} nodes x {} keys)",
        verdict(converge_bad),
        cluster.nodes.len(),
        keys.len()
    );
    let code = if !violations.is_empty() {
        println!("VIOLATIONS: {}", violations.len());
        for v in violations.iter().take(20) {
            println!("- {v}");
        }
        if violations.len() > 20 {
            println!("- ... and {} more", violations.len() - 20);
        }
        1
    } else if !inconclusive.is_empty() {
        println!(
            "INCONCLUSIVE: the checker gave up on {} keys",
            inconclusive.len()
        );
        for i in inconclusive.iter().take(5) {
            println!("- {i}");
        }
        println!("(lower --ops-per-key or --clients to keep key histories checkable)");
        3
    } else {
        println!("PASS");
        0
    };
    if code != 0 {
        let dir = keep_evidence(&cluster, &history, args.seed);
        println!("history and node logs kept in {}", dir.display());
    }
    // Stop the nodes (process::exit skips destructors).
    drop(cluster);
    std::process::exit(code);
}
