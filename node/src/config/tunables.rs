//! Redis's own parameters that Kiwi keeps, validates and reports but that change nothing in how
//! it stores data: encoding thresholds (`hash-max-listpack-entries`, ...), eviction settings,
//! persistence switches (`appendonly`, `save`), lazy freeing, defragmentation, replication and
//! so on.
//!
//! Why they are accepted at all: Redis's test suite and client libraries set them as their first
//! step (`CONFIG SET hash-max-ziplist-entries 16`, `CONFIG SET appendonly yes`) and stop when the
//! server refuses. Why they change nothing: Kiwi keeps every value as RocksDB records (one per
//! member) whatever its size, writes every change to its Raft log and fsyncs it before the reply,
//! never evicts, and has no in-memory encodings to convert. Where a value is observable Kiwi
//! reports what Redis would: OBJECT ENCODING answers from the encoding thresholds here, INFO shows
//! `maxmemory`, `maxmemory_policy` and `aof_enabled`.
//!
//! Each parameter is declared once in [`TUNABLES`] with Redis's type, bounds, default, alias
//! and flags (from Redis 7.0's `config.c`, plus 7.2's `set-max-listpack-*`); parsing, the error
//! texts and the rendering for CONFIG GET follow Redis's generic types exactly.

use crate::command::args::parse_i64;

/// How a value is read and shown.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    /// `yes` or `no`.
    Bool,
    /// A number, as Redis's numeric configs: `unsigned` checks the bounds on the value read as
    /// unsigned (size_t, unsigned int, unsigned long long), `memory` takes units (`64mb`) and
    /// no sign, `percent` also takes `N%` (stored negated, as Redis does).
    Number {
        min: i128,
        max: i128,
        unsigned: bool,
        memory: bool,
        percent: bool,
    },
    /// One of the names; the `u8` is the value, so that aliases (`oom-score-adj yes` and
    /// `relative`) show as the first name of their value.
    Enum(&'static [(&'static str, u8)]),
    /// Any text.
    Str,
    /// Parsed and normalized by a function of its own (`save`, `notify-keyspace-events`, ...).
    Special(fn(&str) -> Result<String, String>),
}

/// Not settable by CONFIG SET (config file only).
pub const IMMUTABLE: u8 = 1;
/// CONFIG GET matches it by exact name only, never by a pattern.
pub const HIDDEN: u8 = 1 << 1;
/// Settable only when `enable-protected-configs` allows it.
pub const PROTECTED: u8 = 1 << 2;
/// Several words in one value (CONFIG SET splits it on spaces).
pub const MULTI_ARG: u8 = 1 << 3;

pub struct Tunable {
    pub name: &'static str,
    /// Redis's older name (`hash-max-ziplist-entries`, `slave-read-only`): the same value.
    pub alias: Option<&'static str>,
    pub kind: Kind,
    /// The value as CONFIG GET shows it when never set.
    pub default: &'static str,
    pub flags: u8,
}

impl Tunable {
    pub fn has(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }

    /// Parses `value` with Redis's rules and error texts; the result is the canonical text
    /// CONFIG GET shows.
    pub fn parse(&self, value: &str) -> Result<String, String> {
        match self.kind {
            Kind::Bool => match value.to_ascii_lowercase().as_str() {
                "yes" => Ok("yes".into()),
                "no" => Ok("no".into()),
                _ => Err("argument must be 'yes' or 'no'".into()),
            },
            Kind::Number {
                min,
                max,
                unsigned,
                memory,
                percent,
            } => {
                let n = parse_number(value, memory, percent)?;
                check_bounds(n, min, max, unsigned, percent)?;
                let n = if self.name == "hz" {
                    // Redis keeps the server cron between 1 and 500 Hz whatever is asked.
                    n.clamp(1, 500)
                } else {
                    n
                };
                Ok(render_number(n, memory, percent))
            }
            Kind::Enum(names) => {
                let found = names
                    .iter()
                    .find(|(name, _)| name.eq_ignore_ascii_case(value))
                    .ok_or_else(|| {
                        let all: Vec<&str> = names.iter().map(|(n, _)| *n).collect();
                        format!(
                            "argument(s) must be one of the following: {}",
                            all.join(", ")
                        )
                    })?;
                let first = names.iter().find(|(_, v)| *v == found.1).unwrap_or(found);
                Ok(first.0.to_string())
            }
            Kind::Str => Ok(value.to_string()),
            Kind::Special(parse) => parse(value),
        }
    }

    /// The number a numeric value stands for (bytes for sizes, negative for a percentage).
    pub fn number(&self, canonical: &str) -> Option<i128> {
        match self.kind {
            Kind::Number {
                memory, percent, ..
            } => parse_number(canonical, memory, percent).ok(),
            _ => None,
        }
    }

    /// The line CONFIG REWRITE writes for `value`, as Redis writes it: sizes with units
    /// (`maxmemory 1gb`), strings quoted, an empty list as `""`.
    pub fn rewrite_line(&self, value: &str) -> String {
        let shown = match self.kind {
            Kind::Number {
                memory: true,
                percent,
                ..
            } => match parse_number(value, true, percent) {
                Ok(n) if n >= 0 => format_memory(n),
                _ => value.to_string(),
            },
            Kind::Str => quote(value),
            _ if value.is_empty() => "\"\"".to_string(),
            Kind::Special(_) if self.name == "notify-keyspace-events" => quote(value),
            _ => value.to_string(),
        };
        format!("{} {shown}", self.name)
    }
}

/// `"text"`, as Redis's `sdscatrepr` writes plain text.
fn quote(v: &str) -> String {
    let mut out = String::from("\"");
    for c in v.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Redis's `rewriteConfigFormatMemory`: the largest unit that divides the value exactly.
fn format_memory(n: i128) -> String {
    const KB: i128 = 1024;
    for (unit, size) in [("gb", KB * KB * KB), ("mb", KB * KB), ("kb", KB)] {
        if n != 0 && n % size == 0 {
            return format!("{}{unit}", n / size);
        }
    }
    n.to_string()
}

/// Redis's `memtoull`: digits and an optional unit (`b`, `k`/`kb`, `m`/`mb`, `g`/`gb`, any
/// case), no sign. As there, no digits at all reads as 0 and a value past 2^64-1 saturates.
pub fn memtoull(v: &str) -> Option<u64> {
    let digits_end = v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len());
    let (digits, unit) = v.split_at(digits_end);
    let mul = super::size_unit(unit)?;
    if digits.len() >= 128 {
        return None;
    }
    let n: u64 = if digits.is_empty() {
        0
    } else {
        digits.parse().unwrap_or(u64::MAX)
    };
    n.checked_mul(mul)
}

/// Reads a number the way Redis's `numericParseString` does (the value as a `long long`).
fn parse_number(v: &str, memory: bool, percent: bool) -> Result<i128, String> {
    if memory {
        if let Some(n) = memtoull(v) {
            return Ok(i128::from(n as i64));
        }
    }
    if percent && v.len() > 1 && v.ends_with('%') {
        if let Ok(n) = parse_i64(&v.as_bytes()[..v.len() - 1]) {
            if n >= 0 {
                return Ok(-i128::from(n));
            }
        }
    }
    if !memory && !percent {
        if let Ok(n) = parse_i64(v.as_bytes()) {
            return Ok(i128::from(n));
        }
    }
    Err(match (memory, percent) {
        (true, true) => "argument must be a memory or percent value",
        (true, false) => "argument must be a memory value",
        _ => "argument couldn't be parsed into an integer",
    }
    .into())
}

/// Redis's `numericBoundaryCheck`.
fn check_bounds(
    n: i128,
    min: i128,
    max: i128,
    unsigned: bool,
    percent: bool,
) -> Result<(), String> {
    if unsigned {
        let u = n as i64 as u64;
        if u128::from(u) > max as u128 || u128::from(u) < min as u128 {
            return Err(format!(
                "argument must be between {min} and {max} inclusive"
            ));
        }
    } else if percent && n < 0 {
        if n < min {
            return Err(format!(
                "percentage argument must be less or equal to {}",
                -min
            ));
        }
    } else if n > max || n < min {
        return Err(format!(
            "argument must be between {min} and {max} inclusive"
        ));
    }
    Ok(())
}

fn render_number(n: i128, memory: bool, percent: bool) -> String {
    if percent && n < 0 {
        format!("{}%", -n)
    } else if memory {
        (n as i64 as u64).to_string()
    } else {
        n.to_string()
    }
}

/// `save`: pairs of `<seconds> <changes>` (seconds at least 1), or empty for none.
fn parse_save(v: &str) -> Result<String, String> {
    if v.is_empty() {
        return Ok(String::new());
    }
    let words: Vec<&str> = v.split(' ').collect();
    let bad = || "Invalid save parameters".to_string();
    if words.len() % 2 == 1 {
        return Err(bad());
    }
    let mut out = Vec::new();
    for (i, w) in words.iter().enumerate() {
        // strtoll with the whole word consumed.
        let n: i64 = if w.is_empty() {
            0
        } else {
            strtoll(w).ok_or_else(bad)?
        };
        if (i % 2 == 0 && n < 1) || (i % 2 == 1 && n < 0) {
            return Err(bad());
        }
        out.push(if i % 2 == 1 {
            (n as i32).to_string()
        } else {
            n.to_string()
        });
    }
    Ok(out.join(" "))
}

/// C's `strtoll(s, &end, 10)` requiring all of `s` to be read: leading spaces and a sign
/// allowed, saturating on overflow.
fn strtoll(s: &str) -> Option<i64> {
    let t = s.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let (neg, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let magnitude: i128 = digits.parse().unwrap_or(i128::MAX);
    let n = if neg { -magnitude } else { magnitude };
    Some(n.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64)
}

// Keyspace notification classes (Redis's notify.c).
pub const N_KEYSPACE: u32 = 1 << 0;
pub const N_KEYEVENT: u32 = 1 << 1;
pub const N_GENERIC: u32 = 1 << 2;
pub const N_STRING: u32 = 1 << 3;
pub const N_LIST: u32 = 1 << 4;
pub const N_SET: u32 = 1 << 5;
pub const N_HASH: u32 = 1 << 6;
pub const N_ZSET: u32 = 1 << 7;
pub const N_EXPIRED: u32 = 1 << 8;
pub const N_EVICTED: u32 = 1 << 9;
pub const N_STREAM: u32 = 1 << 10;
pub const N_KEY_MISS: u32 = 1 << 11;
pub const N_MODULE: u32 = 1 << 12;
pub const N_NEW: u32 = 1 << 13;
/// `A`: every class but key misses and new keys.
pub const N_ALL: u32 = N_GENERIC
    | N_STRING
    | N_LIST
    | N_SET
    | N_HASH
    | N_ZSET
    | N_EXPIRED
    | N_EVICTED
    | N_STREAM
    | N_MODULE;

/// The classes of a `notify-keyspace-events` value, as bits (the `N_` constants): what the
/// pub/sub layer checks events against (`pubsub::notify`).
pub fn notify_flag_bits(v: &str) -> Result<u32, String> {
    let mut flags = 0;
    for c in v.chars() {
        flags |= match c {
            'A' => N_ALL,
            'g' => N_GENERIC,
            '$' => N_STRING,
            'l' => N_LIST,
            's' => N_SET,
            'h' => N_HASH,
            'z' => N_ZSET,
            'x' => N_EXPIRED,
            'e' => N_EVICTED,
            'K' => N_KEYSPACE,
            'E' => N_KEYEVENT,
            't' => N_STREAM,
            'm' => N_KEY_MISS,
            'd' => N_MODULE,
            'n' => N_NEW,
            _ => return Err("Invalid event class character. Use 'Ag$lshzxeKEtmdn'.".into()),
        };
    }
    Ok(flags)
}

/// `notify-keyspace-events`: the classes are stored as Redis normalizes them (`KEA` reads back
/// as `AKE`). Publishing the events is the pub/sub layer's job.
pub fn parse_notify_flags(v: &str) -> Result<String, String> {
    let flags = notify_flag_bits(v)?;
    let mut out = String::new();
    if flags & N_ALL == N_ALL {
        out.push('A');
    } else {
        for (bit, c) in [
            (N_GENERIC, 'g'),
            (N_STRING, '$'),
            (N_LIST, 'l'),
            (N_SET, 's'),
            (N_HASH, 'h'),
            (N_ZSET, 'z'),
            (N_EXPIRED, 'x'),
            (N_EVICTED, 'e'),
            (N_STREAM, 't'),
            (N_MODULE, 'd'),
            (N_NEW, 'n'),
        ] {
            if flags & bit != 0 {
                out.push(c);
            }
        }
    }
    for (bit, c) in [(N_KEYSPACE, 'K'), (N_KEYEVENT, 'E'), (N_KEY_MISS, 'm')] {
        if flags & bit != 0 {
            out.push(c);
        }
    }
    Ok(out)
}

/// `shutdown-on-sigint` / `shutdown-on-sigterm`: a set of `save`, `nosave`, `now` and `force`
/// (or `default`, none of them), shown in that order.
fn parse_shutdown_flags(v: &str) -> Result<String, String> {
    const FLAGS: [&str; 5] = ["default", "save", "nosave", "now", "force"];
    let mut set = [false; 5];
    for w in v.split(' ') {
        let i = FLAGS
            .iter()
            .position(|f| f.eq_ignore_ascii_case(w))
            .ok_or_else(|| {
                format!(
                    "argument(s) must be one of the following: {}",
                    FLAGS.join(", ")
                )
            })?;
        set[i] = true;
    }
    if set[1] && set[2] {
        return Err("shutdown options SAVE and NOSAVE can't be used simultaneously".into());
    }
    let shown: Vec<&str> = (1..FLAGS.len())
        .filter(|&i| set[i])
        .map(|i| FLAGS[i])
        .collect();
    Ok(if shown.is_empty() {
        "default".into()
    } else {
        shown.join(" ")
    })
}

/// `oom-score-adj-values`: three scores between -2000 and 2000.
fn parse_oom_values(v: &str) -> Result<String, String> {
    let words: Vec<&str> = v.split(' ').collect();
    if words.len() != 3 {
        return Err("wrong number of arguments".into());
    }
    let mut out = Vec::new();
    for w in words {
        match strtoll(w).filter(|n| (-2000..=2000).contains(n)) {
            Some(n) if !w.is_empty() => out.push(n.to_string()),
            _ => {
                return Err(
                    "Invalid oom-score-adj-values, elements must be between -2000 and 2000.".into(),
                )
            }
        }
    }
    Ok(out.join(" "))
}

/// `latency-tracking-info-percentiles`: percentiles between 0 and 100, shown as `%f` with the
/// trailing zeros trimmed.
fn parse_percentiles(v: &str) -> Result<String, String> {
    if v.is_empty() {
        return Ok(String::new());
    }
    let mut out = Vec::new();
    for w in v.split(' ') {
        let p = crate::command::args::parse_f64(w.as_bytes())
            .map_err(|_| "Invalid latency-tracking-info-percentiles parameters".to_string())?;
        if !(0.0..=100.0).contains(&p) {
            return Err(
                "latency-tracking-info-percentiles parameters should sit between [0.0,100.0]"
                    .into(),
            );
        }
        let shown = format!("{p:.6}");
        let shown = shown.trim_end_matches('0').trim_end_matches('.');
        out.push(shown.to_string());
    }
    Ok(out.join(" "))
}

const INT_MAX: i128 = i32::MAX as i128;
const INT_MIN: i128 = i32::MIN as i128;
const LONG_MAX: i128 = i64::MAX as i128;
const ULLONG_MAX: i128 = u64::MAX as i128;

// The keyword arms come first: a fragment that fails to parse as an expression is an error,
// not a cue to try the next arm.
macro_rules! num {
    (unsigned memory $min:expr, $max:expr) => {
        Kind::Number {
            min: $min,
            max: $max,
            unsigned: true,
            memory: true,
            percent: false,
        }
    };
    (unsigned $min:expr, $max:expr) => {
        Kind::Number {
            min: $min,
            max: $max,
            unsigned: true,
            memory: false,
            percent: false,
        }
    };
    (memory $min:expr, $max:expr) => {
        Kind::Number {
            min: $min,
            max: $max,
            unsigned: false,
            memory: true,
            percent: false,
        }
    };
    ($min:expr, $max:expr) => {
        Kind::Number {
            min: $min,
            max: $max,
            unsigned: false,
            memory: false,
            percent: false,
        }
    };
}

macro_rules! t {
    ($name:literal, $alias:expr, $kind:expr, $default:literal) => {
        t!($name, $alias, $kind, $default, 0)
    };
    ($name:literal, $alias:expr, $kind:expr, $default:literal, $flags:expr) => {
        Tunable {
            name: $name,
            alias: $alias,
            kind: $kind,
            default: $default,
            flags: $flags,
        }
    };
}

const POLICIES: &[(&str, u8)] = &[
    ("volatile-lru", 0),
    ("volatile-lfu", 1),
    ("volatile-random", 2),
    ("volatile-ttl", 3),
    ("allkeys-lru", 4),
    ("allkeys-lfu", 5),
    ("allkeys-random", 6),
    ("noeviction", 7),
];
const PROTECTED_ACTION: &[(&str, u8)] = &[("no", 0), ("yes", 1), ("local", 2)];

/// Redis's parameters not already among Kiwi's own keys ([`super::KEYS`] has `port`, `bind`,
/// `databases`, `requirepass`, `maxclients`, `timeout`, the `tls-*` files, ...). In Redis's
/// order, with its defaults; `appendfsync` and `save` default to what Kiwi does (every write
/// is fsynced; there are no RDB snapshots).
#[rustfmt::skip]
pub const TUNABLES: &[Tunable] = &[
    t!("rdbchecksum", None, Kind::Bool, "yes", IMMUTABLE),
    t!("daemonize", None, Kind::Bool, "no", IMMUTABLE),
    t!("io-threads-do-reads", None, Kind::Bool, "no", IMMUTABLE),
    t!("always-show-logo", None, Kind::Bool, "no", IMMUTABLE),
    t!("protected-mode", None, Kind::Bool, "yes"),
    t!("rdbcompression", None, Kind::Bool, "yes"),
    t!("rdb-del-sync-files", None, Kind::Bool, "no"),
    t!("activerehashing", None, Kind::Bool, "yes"),
    t!("stop-writes-on-bgsave-error", None, Kind::Bool, "yes"),
    t!("set-proc-title", None, Kind::Bool, "yes", IMMUTABLE),
    t!("dynamic-hz", None, Kind::Bool, "yes"),
    t!("lazyfree-lazy-eviction", None, Kind::Bool, "no"),
    t!("lazyfree-lazy-expire", None, Kind::Bool, "no"),
    t!("lazyfree-lazy-server-del", None, Kind::Bool, "no"),
    t!("lazyfree-lazy-user-del", None, Kind::Bool, "no"),
    t!("lazyfree-lazy-user-flush", None, Kind::Bool, "no"),
    t!("repl-disable-tcp-nodelay", None, Kind::Bool, "no"),
    t!("repl-diskless-sync", None, Kind::Bool, "yes"),
    t!("aof-rewrite-incremental-fsync", None, Kind::Bool, "yes"),
    t!("no-appendfsync-on-rewrite", None, Kind::Bool, "no"),
    t!("cluster-require-full-coverage", None, Kind::Bool, "yes"),
    t!("rdb-save-incremental-fsync", None, Kind::Bool, "yes"),
    t!("aof-load-truncated", None, Kind::Bool, "yes"),
    t!("aof-use-rdb-preamble", None, Kind::Bool, "yes"),
    t!("aof-timestamp-enabled", None, Kind::Bool, "no"),
    t!("cluster-replica-no-failover", Some("cluster-slave-no-failover"), Kind::Bool, "no"),
    t!("replica-lazy-flush", Some("slave-lazy-flush"), Kind::Bool, "no"),
    t!("replica-serve-stale-data", Some("slave-serve-stale-data"), Kind::Bool, "yes"),
    t!("replica-read-only", Some("slave-read-only"), Kind::Bool, "yes"),
    t!("replica-ignore-maxmemory", Some("slave-ignore-maxmemory"), Kind::Bool, "yes"),
    t!("jemalloc-bg-thread", None, Kind::Bool, "yes"),
    t!("activedefrag", None, Kind::Bool, "no"),
    t!("syslog-enabled", None, Kind::Bool, "no", IMMUTABLE),
    t!("cluster-enabled", None, Kind::Bool, "no", IMMUTABLE),
    t!("appendonly", None, Kind::Bool, "no"),
    t!("cluster-allow-reads-when-down", None, Kind::Bool, "no"),
    t!("cluster-allow-pubsubshard-when-down", None, Kind::Bool, "yes"),
    t!("crash-log-enabled", None, Kind::Bool, "yes"),
    t!("crash-memcheck-enabled", None, Kind::Bool, "yes"),
    t!("use-exit-on-panic", None, Kind::Bool, "no", HIDDEN),
    t!("disable-thp", None, Kind::Bool, "yes"),
    t!("cluster-allow-replica-migration", None, Kind::Bool, "yes"),
    t!("replica-announced", None, Kind::Bool, "yes"),
    t!("latency-tracking", None, Kind::Bool, "yes"),
    t!("aof-disable-auto-gc", None, Kind::Bool, "no"),
    t!("replica-ignore-disk-write-errors", None, Kind::Bool, "no"),
    t!("aclfile", None, Kind::Str, "", IMMUTABLE),
    t!("unixsocket", None, Kind::Str, "", IMMUTABLE),
    t!("pidfile", None, Kind::Str, "", IMMUTABLE),
    t!("replica-announce-ip", Some("slave-announce-ip"), Kind::Str, ""),
    t!("masteruser", None, Kind::Str, ""),
    t!("cluster-announce-ip", None, Kind::Str, ""),
    t!("cluster-config-file", None, Kind::Str, "nodes.conf", IMMUTABLE),
    t!("cluster-announce-hostname", None, Kind::Str, ""),
    t!("syslog-ident", None, Kind::Str, "redis", IMMUTABLE),
    t!("dbfilename", None, Kind::Str, "dump.rdb", PROTECTED),
    t!("appendfilename", None, Kind::Str, "appendonly.aof", IMMUTABLE),
    t!("appenddirname", None, Kind::Str, "appendonlydir", IMMUTABLE),
    t!("server_cpulist", None, Kind::Str, "", IMMUTABLE),
    t!("bio_cpulist", None, Kind::Str, "", IMMUTABLE),
    t!("aof_rewrite_cpulist", None, Kind::Str, "", IMMUTABLE),
    t!("bgsave_cpulist", None, Kind::Str, "", IMMUTABLE),
    t!("ignore-warnings", None, Kind::Str, ""),
    t!("proc-title-template", None, Kind::Str, "{title} {listen-addr} {server-mode}"),
    t!("bind-source-addr", None, Kind::Str, ""),
    t!("logfile", None, Kind::Str, "", IMMUTABLE),
    t!("masterauth", None, Kind::Str, ""),
    t!("supervised", None, Kind::Enum(&[("upstart", 0), ("systemd", 1), ("auto", 2), ("no", 3)]), "no", IMMUTABLE),
    t!("syslog-facility", None, Kind::Enum(&[("user", 0), ("local0", 1), ("local1", 2), ("local2", 3), ("local3", 4), ("local4", 5), ("local5", 6), ("local6", 7), ("local7", 8)]), "local0", IMMUTABLE),
    t!("repl-diskless-load", None, Kind::Enum(&[("disabled", 0), ("on-empty-db", 1), ("swapdb", 2)]), "disabled"),
    t!("maxmemory-policy", None, Kind::Enum(POLICIES), "noeviction"),
    t!("appendfsync", None, Kind::Enum(&[("everysec", 0), ("always", 1), ("no", 2)]), "always"),
    t!("oom-score-adj", None, Kind::Enum(&[("no", 0), ("yes", 1), ("relative", 1), ("absolute", 2)]), "no"),
    t!("acl-pubsub-default", None, Kind::Enum(&[("allchannels", 0), ("resetchannels", 1)]), "resetchannels"),
    t!("sanitize-dump-payload", None, Kind::Enum(&[("no", 0), ("yes", 1), ("clients", 2)]), "no"),
    t!("enable-protected-configs", None, Kind::Enum(PROTECTED_ACTION), "no", IMMUTABLE),
    t!("enable-debug-command", None, Kind::Enum(PROTECTED_ACTION), "no", IMMUTABLE),
    t!("enable-module-command", None, Kind::Enum(PROTECTED_ACTION), "no", IMMUTABLE),
    t!("propagation-error-behavior", None, Kind::Enum(&[("ignore", 0), ("panic", 1), ("panic-on-replicas", 2)]), "ignore"),
    t!("shutdown-on-sigint", None, Kind::Special(parse_shutdown_flags), "default", MULTI_ARG),
    t!("shutdown-on-sigterm", None, Kind::Special(parse_shutdown_flags), "default", MULTI_ARG),
    t!("cluster-preferred-endpoint-type", None, Kind::Enum(&[("ip", 0), ("hostname", 1), ("unknown-endpoint", 2)]), "ip"),
    t!("io-threads", None, num!(1, 128), "1", IMMUTABLE),
    t!("auto-aof-rewrite-percentage", None, num!(0, INT_MAX), "100"),
    t!("cluster-replica-validity-factor", Some("cluster-slave-validity-factor"), num!(0, INT_MAX), "10"),
    t!("list-max-listpack-size", Some("list-max-ziplist-size"), num!(INT_MIN, INT_MAX), "-2"),
    t!("cluster-migration-barrier", None, num!(0, INT_MAX), "1"),
    t!("active-defrag-cycle-min", None, num!(1, 99), "1"),
    t!("active-defrag-cycle-max", None, num!(1, 99), "25"),
    t!("active-defrag-threshold-lower", None, num!(0, 1000), "10"),
    t!("active-defrag-threshold-upper", None, num!(0, 1000), "100"),
    t!("lfu-log-factor", None, num!(0, INT_MAX), "10"),
    t!("lfu-decay-time", None, num!(0, INT_MAX), "1"),
    t!("replica-priority", Some("slave-priority"), num!(0, INT_MAX), "100"),
    t!("repl-diskless-sync-delay", None, num!(0, INT_MAX), "5"),
    t!("maxmemory-samples", None, num!(1, INT_MAX), "5"),
    t!("maxmemory-eviction-tenacity", None, num!(0, 100), "10"),
    t!("replica-announce-port", Some("slave-announce-port"), num!(0, 65535), "0"),
    t!("tcp-backlog", None, num!(0, INT_MAX), "511", IMMUTABLE),
    t!("cluster-port", None, num!(0, 65535), "0", IMMUTABLE),
    t!("cluster-announce-bus-port", None, num!(0, 65535), "0"),
    t!("cluster-announce-port", None, num!(0, 65535), "0"),
    t!("cluster-announce-tls-port", None, num!(0, 65535), "0"),
    t!("repl-timeout", None, num!(1, INT_MAX), "60"),
    t!("repl-ping-replica-period", Some("repl-ping-slave-period"), num!(1, INT_MAX), "10"),
    t!("list-compress-depth", None, num!(0, INT_MAX), "0"),
    t!("rdb-key-save-delay", None, num!(INT_MIN, INT_MAX), "0", HIDDEN),
    t!("key-load-delay", None, num!(INT_MIN, INT_MAX), "0", HIDDEN),
    t!("active-expire-effort", None, num!(1, 10), "1"),
    t!("hz", None, num!(0, INT_MAX), "10"),
    t!("min-replicas-to-write", Some("min-slaves-to-write"), num!(0, INT_MAX), "0"),
    t!("min-replicas-max-lag", Some("min-slaves-max-lag"), num!(0, INT_MAX), "10"),
    t!("watchdog-period", None, num!(0, INT_MAX), "0", HIDDEN),
    t!("shutdown-timeout", None, num!(0, INT_MAX), "10"),
    t!("repl-diskless-sync-max-replicas", None, num!(0, INT_MAX), "0"),
    t!("unixsocketperm", None, Kind::Str, "0", IMMUTABLE),
    t!("socket-mark-id", None, num!(unsigned 0, u32::MAX as i128), "0", IMMUTABLE),
    t!("active-defrag-max-scan-fields", None, num!(unsigned 1, LONG_MAX), "1000"),
    t!("slowlog-max-len", None, num!(unsigned 0, LONG_MAX), "128"),
    t!("acllog-max-len", None, num!(unsigned 0, LONG_MAX), "128"),
    t!("busy-reply-threshold", Some("lua-time-limit"), num!(0, LONG_MAX), "5000"),
    t!("cluster-node-timeout", None, num!(0, LONG_MAX), "15000"),
    t!("slowlog-log-slower-than", None, num!(-1, LONG_MAX), "10000"),
    t!("latency-monitor-threshold", None, num!(0, LONG_MAX), "0"),
    t!("stream-node-max-entries", None, num!(0, LONG_MAX), "100"),
    t!("repl-backlog-size", None, num!(memory 1, LONG_MAX), "1048576"),
    t!("maxmemory", None, num!(unsigned memory 0, ULLONG_MAX), "0"),
    t!("cluster-link-sendbuf-limit", None, num!(unsigned memory 0, ULLONG_MAX), "0"),
    t!("hash-max-listpack-entries", Some("hash-max-ziplist-entries"), num!(unsigned 0, LONG_MAX), "512"),
    t!("set-max-intset-entries", None, num!(unsigned 0, LONG_MAX), "512"),
    t!("set-max-listpack-entries", None, num!(unsigned 0, LONG_MAX), "128"),
    t!("set-max-listpack-value", None, num!(unsigned memory 0, LONG_MAX), "64"),
    t!("zset-max-listpack-entries", Some("zset-max-ziplist-entries"), num!(unsigned 0, LONG_MAX), "128"),
    t!("active-defrag-ignore-bytes", None, num!(unsigned memory 1, LONG_MAX), "104857600"),
    t!("hash-max-listpack-value", Some("hash-max-ziplist-value"), num!(unsigned memory 0, LONG_MAX), "64"),
    t!("stream-node-max-bytes", None, num!(unsigned memory 0, LONG_MAX), "4096"),
    t!("zset-max-listpack-value", Some("zset-max-ziplist-value"), num!(unsigned memory 0, LONG_MAX), "64"),
    t!("hll-sparse-max-bytes", None, num!(unsigned memory 0, LONG_MAX), "3000"),
    t!("tracking-table-max-keys", None, num!(unsigned 0, LONG_MAX), "1000000"),
    t!("maxmemory-clients", None, Kind::Number { min: -100, max: LONG_MAX, unsigned: false, memory: true, percent: true }, "0"),
    t!("repl-backlog-ttl", None, num!(0, LONG_MAX), "3600"),
    t!("auto-aof-rewrite-min-size", None, num!(memory 0, LONG_MAX), "67108864"),
    t!("loading-process-events-interval-bytes", None, num!(1024, INT_MAX), "2097152", HIDDEN),
    t!("tls-session-cache-size", None, num!(0, INT_MAX), "20480"),
    t!("tls-session-cache-timeout", None, num!(0, INT_MAX), "300"),
    t!("tls-replication", None, Kind::Bool, "no"),
    t!("tls-prefer-server-ciphers", None, Kind::Bool, "no"),
    t!("tls-session-caching", None, Kind::Bool, "yes"),
    t!("tls-key-file-pass", None, Kind::Str, ""),
    t!("tls-client-key-file-pass", None, Kind::Str, ""),
    t!("tls-dh-params-file", None, Kind::Str, ""),
    t!("tls-ca-cert-dir", None, Kind::Str, ""),
    t!("tls-protocols", None, Kind::Str, ""),
    t!("tls-ciphers", None, Kind::Str, ""),
    t!("tls-ciphersuites", None, Kind::Str, ""),
    t!("save", None, Kind::Special(parse_save), "", MULTI_ARG),
    t!("oom-score-adj-values", None, Kind::Special(parse_oom_values), "0 200 800", MULTI_ARG),
    t!("notify-keyspace-events", None, Kind::Special(parse_notify_flags), ""),
    t!("replicaof", Some("slaveof"), Kind::Str, "", IMMUTABLE | MULTI_ARG),
    t!("latency-tracking-info-percentiles", None, Kind::Special(parse_percentiles), "50 99 99.9", MULTI_ARG),
];

/// The values of [`TUNABLES`], in the same order.
#[derive(Debug, Clone, PartialEq)]
pub struct Tunables(Vec<String>);

impl Default for Tunables {
    fn default() -> Self {
        Tunables(TUNABLES.iter().map(|t| t.default.to_string()).collect())
    }
}

/// The index in [`TUNABLES`] of `name` or an alias, any case.
pub fn find(name: &str) -> Option<usize> {
    TUNABLES.iter().position(|t| {
        t.name.eq_ignore_ascii_case(name) || t.alias.is_some_and(|a| a.eq_ignore_ascii_case(name))
    })
}

impl Tunables {
    pub fn get(&self, index: usize) -> &str {
        &self.0[index]
    }

    /// The value of `name` (a name in [`TUNABLES`]).
    pub fn value(&self, name: &str) -> &str {
        find(name).map(|i| self.get(i)).unwrap_or("")
    }

    /// A numeric value as a number (0 for a non-numeric name).
    pub fn number(&self, name: &str) -> i128 {
        find(name)
            .and_then(|i| TUNABLES[i].number(self.get(i)))
            .unwrap_or(0)
    }

    pub fn set(&mut self, index: usize, value: &str) -> Result<(), String> {
        self.0[index] = TUNABLES[index].parse(value)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(name: &str, v: &str) -> Result<String, String> {
        let mut t = Tunables::default();
        let i = find(name).unwrap();
        t.set(i, v)?;
        Ok(t.get(i).to_string())
    }

    #[test]
    fn defaults_parse_as_their_own_values() {
        for t in TUNABLES {
            assert_eq!(t.parse(t.default).as_deref(), Ok(t.default), "{}", t.name);
        }
    }

    #[test]
    fn numbers_follow_redis_types_and_texts() {
        assert_eq!(set("hash-max-ziplist-entries", "16").unwrap(), "16");
        assert_eq!(
            set("hash-max-listpack-entries", "-1").unwrap_err(),
            "argument must be between 0 and 9223372036854775807 inclusive"
        );
        assert_eq!(
            set("hash-max-listpack-value", "-1").unwrap_err(),
            "argument must be a memory value"
        );
        assert_eq!(set("maxmemory", "100mb").unwrap(), "104857600");
        assert_eq!(set("maxmemory", "10KB").unwrap(), "10240");
        assert_eq!(set("maxmemory", "").unwrap(), "0");
        assert_eq!(set("stream-node-max-bytes", "4k").unwrap(), "4000");
        for bad in ["1.5gb", "-1", "+5", " 5", "0x10"] {
            assert_eq!(
                set("maxmemory", bad).unwrap_err(),
                "argument must be a memory value",
                "{bad}"
            );
        }
        assert_eq!(
            set("lfu-log-factor", "1.5").unwrap_err(),
            "argument couldn't be parsed into an integer"
        );
        assert_eq!(
            set("active-expire-effort", "11").unwrap_err(),
            "argument must be between 1 and 10 inclusive"
        );
        assert_eq!(
            set("slowlog-log-slower-than", "-2").unwrap_err(),
            "argument must be between -1 and 9223372036854775807 inclusive"
        );
        assert_eq!(set("list-max-ziplist-size", "-5").unwrap(), "-5");
        assert_eq!(set("hz", "1000").unwrap(), "500");
        assert_eq!(set("maxmemory-clients", "10%").unwrap(), "10%");
        assert_eq!(
            set("maxmemory-clients", "101%").unwrap_err(),
            "percentage argument must be less or equal to 100"
        );
        assert_eq!(
            set("maxmemory-clients", "x").unwrap_err(),
            "argument must be a memory or percent value"
        );
        assert_eq!(set("busy-reply-threshold", "100").unwrap(), "100");
    }

    #[test]
    fn enums_bools_and_specials() {
        assert_eq!(set("activedefrag", "YES").unwrap(), "yes");
        assert_eq!(
            set("activedefrag", "maybe").unwrap_err(),
            "argument must be 'yes' or 'no'"
        );
        assert_eq!(
            set("maxmemory-policy", "ALLKEYS-LFU").unwrap(),
            "allkeys-lfu"
        );
        assert_eq!(
            set("maxmemory-policy", "foo").unwrap_err(),
            "argument(s) must be one of the following: volatile-lru, volatile-lfu, volatile-random, volatile-ttl, allkeys-lru, allkeys-lfu, allkeys-random, noeviction"
        );
        assert_eq!(set("oom-score-adj", "relative").unwrap(), "yes");
        assert_eq!(set("notify-keyspace-events", "KEA").unwrap(), "AKE");
        assert_eq!(set("notify-keyspace-events", "Ex").unwrap(), "xE");
        assert_eq!(
            set("notify-keyspace-events", "gE$lshzxetdmn").unwrap(),
            "AEm"
        );
        assert_eq!(set("notify-keyspace-events", "nK").unwrap(), "nK");
        assert_eq!(
            set("notify-keyspace-events", "Kq").unwrap_err(),
            "Invalid event class character. Use 'Ag$lshzxeKEtmdn'."
        );
        assert_eq!(set("save", "100 10 20 5").unwrap(), "100 10 20 5");
        assert_eq!(set("save", "").unwrap(), "");
        for bad in ["100", "100 x", "0 1", "1 -1", "1  1"] {
            assert_eq!(
                set("save", bad).unwrap_err(),
                "Invalid save parameters",
                "{bad}"
            );
        }
        assert_eq!(
            set("shutdown-on-sigint", "force save").unwrap(),
            "save force"
        );
        assert_eq!(
            set("shutdown-on-sigint", "nosave now").unwrap(),
            "nosave now"
        );
        assert_eq!(
            set("shutdown-on-sigint", "save nosave").unwrap_err(),
            "shutdown options SAVE and NOSAVE can't be used simultaneously"
        );
        assert_eq!(
            set("oom-score-adj-values", "1 2").unwrap_err(),
            "wrong number of arguments"
        );
        assert_eq!(
            set("latency-tracking-info-percentiles", "50 99.9 100").unwrap(),
            "50 99.9 100"
        );
    }

    #[test]
    fn rewrite_lines_use_units_and_quotes() {
        let t = &TUNABLES[find("maxmemory").unwrap()];
        assert_eq!(t.rewrite_line("1073741824"), "maxmemory 1gb");
        assert_eq!(t.rewrite_line("1000"), "maxmemory 1000");
        let t = &TUNABLES[find("dbfilename").unwrap()];
        assert_eq!(t.rewrite_line("dump.rdb"), "dbfilename \"dump.rdb\"");
        let t = &TUNABLES[find("save").unwrap()];
        assert_eq!(t.rewrite_line(""), "save \"\"");
    }

    #[test]
    fn names_are_unique() {
        let mut names: Vec<&str> = TUNABLES
            .iter()
            .flat_map(|t| std::iter::once(t.name).chain(t.alias))
            .collect();
        let n = names.len();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), n);
    }
}
