//! Node configuration: a Redis-style file (`key value` lines, `#` comments) with every key also
//! settable as a command-line flag (`--port 7400`), flags winning over the file.
//!
//! The keys are declared once, in [`KEYS`], with their help text, default and parser; the
//! command line and `kiwi --help` are generated from the same table.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

mod rewrite;
pub mod tunables;

pub use rewrite::{rewrite_file, RewriteError};
pub use tunables::{Tunable, Tunables, TUNABLES};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}:{line}: {message}")]
    Line {
        path: String,
        line: usize,
        message: String,
    },
    #[error("--{key}: {message}")]
    Flag { key: String, message: String },
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{0}")]
    Invalid(String),
}

/// How raft node ids are chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeIdSetting {
    Fixed(u64),
    /// Drawn at random below 2^53 on first start and kept in the data dir.
    Auto,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub port: u16,
    pub binding: String,
    pub db_path: PathBuf,
    pub databases: u16,
    pub requirepass: Option<String>,
    /// Bearer token of the admin API's mutating routes. Unset: protected mode (local callers).
    pub admin_token: Option<String>,
    /// Shared by every node of a cluster; peers prove they know it before any Raft RPC.
    /// Unset: protected mode (peers on this host only).
    pub cluster_secret: Option<String>,
    /// Where `admin_token` and `cluster_secret` came from when read from files: the node reads
    /// them again when they change (see [`crate::secrets`]).
    pub admin_token_file: Option<PathBuf>,
    pub cluster_secret_file: Option<PathBuf>,
    /// How long a rotated secret's old value stays accepted.
    pub secret_rotation_grace: Duration,
    /// RESP over TLS on this port (0: off), with Redis's tls-* keys.
    pub tls_port: u16,
    pub tls_cert_file: Option<PathBuf>,
    pub tls_key_file: Option<PathBuf>,
    pub tls_ca_cert_file: Option<PathBuf>,
    pub tls_auth_clients: crate::tls::ClientAuth,
    /// TLS on the Raft/HTTP port too (peers and the admin API), as Redis's `tls-cluster`.
    pub tls_cluster: bool,
    /// The certificate this node presents when it dials peers (default: tls-cert-file).
    pub tls_client_cert_file: Option<PathBuf>,
    pub tls_client_key_file: Option<PathBuf>,
    pub maxclients: usize,
    pub proto_max_bulk_len: usize,
    pub client_query_buffer_limit: usize,
    /// `client-output-buffer-limit`, per client class; only `normal` clients exist in Kiwi (no
    /// replicas or pub/sub over RESP), the other classes are kept for CONFIG GET.
    pub client_output_buffer_limit: OutputBufferLimits,
    /// Seconds a client may stay idle before it is closed; 0: never (`timeout`).
    pub timeout: u64,
    /// TCP keepalive time, in seconds, of client connections; 0: off (`tcp-keepalive`).
    pub tcp_keepalive: u64,
    pub memory: u64,
    pub rocksdb_max_background_jobs: i32,
    pub rocksdb_max_write_buffer_number: i32,
    pub rocksdb_write_buffer_size: u64,
    pub log_dir: Option<PathBuf>,
    pub log_level: String,
    pub raft_node_id: NodeIdSetting,
    pub raft_addr: String,
    pub raft_bind: Option<String>,
    pub raft_resp_addr: Option<String>,
    pub raft_data_dir: Option<PathBuf>,
    pub raft_follower_forward: bool,
    pub raft_write_timeout: Duration,
    /// Reads confirm leadership with a quorum round (false) or trust the leader lease (true).
    pub raft_lease_read: bool,
    pub raft_heartbeat_interval: Duration,
    pub raft_election_timeout: Duration,
    pub raft_snapshot_logs: u64,
    /// Initialize a one-node cluster if this node has no Raft state. `None`: only when started
    /// without a config file and without `raft-join`.
    pub raft_bootstrap: Option<bool>,
    /// Any member's HTTP address to join through, when this node has no Raft state.
    pub raft_join: Option<String>,
    /// Enables `POST /debug/partition` (tests): never on in production.
    pub raft_fault_injection: bool,
    pub active_expire_interval: Duration,
    /// Redis's parameters that Kiwi keeps and reports but does not act on (see [`tunables`]).
    pub tunables: Tunables,
    /// The config file the node was started with (absolute), for CONFIG REWRITE.
    pub config_file: Option<PathBuf>,
    /// `requirepass` as the file, the environment and the flags left it at start, when the
    /// environment or a flag set it: CONFIG REWRITE must not copy a password from there into
    /// the file (only one set later by CONFIG SET).
    pub requirepass_from_outside: Option<Option<String>>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            port: 7379,
            binding: "127.0.0.1".into(),
            db_path: PathBuf::from("./kiwi-data"),
            databases: 16,
            requirepass: None,
            admin_token: None,
            cluster_secret: None,
            admin_token_file: None,
            cluster_secret_file: None,
            secret_rotation_grace: Duration::from_secs(600),
            tls_port: 0,
            tls_cert_file: None,
            tls_key_file: None,
            tls_ca_cert_file: None,
            tls_auth_clients: crate::tls::ClientAuth::Required,
            tls_cluster: false,
            tls_client_cert_file: None,
            tls_client_key_file: None,
            maxclients: 10_000,
            proto_max_bulk_len: 512 * 1024 * 1024,
            client_query_buffer_limit: 1024 * 1024 * 1024,
            client_output_buffer_limit: OutputBufferLimits::default(),
            timeout: 0,
            tcp_keepalive: 300,
            memory: 1 << 30,
            rocksdb_max_background_jobs: 4,
            rocksdb_max_write_buffer_number: 2,
            rocksdb_write_buffer_size: 64 << 20,
            log_dir: None,
            log_level: "info".into(),
            raft_node_id: NodeIdSetting::Fixed(1),
            raft_addr: "127.0.0.1:8001".into(),
            raft_bind: None,
            raft_resp_addr: None,
            raft_data_dir: None,
            raft_follower_forward: true,
            raft_write_timeout: Duration::from_secs(5),
            raft_lease_read: false,
            raft_heartbeat_interval: Duration::from_millis(100),
            raft_election_timeout: Duration::from_millis(1000),
            raft_snapshot_logs: 50_000,
            raft_bootstrap: None,
            raft_join: None,
            raft_fault_injection: false,
            active_expire_interval: Duration::from_millis(100),
            tunables: Tunables::default(),
            config_file: None,
            requirepass_from_outside: None,
        }
    }
}

/// What OBJECT reports against: Redis's encoding thresholds and eviction policy as this node's
/// CONFIG has them. Kiwi stores every value the same way whatever these say; OBJECT ENCODING
/// answers what Redis would have chosen for the value's size, which Redis's test suite asserts
/// after changing the thresholds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ObjectSettings {
    pub hash_max_listpack_entries: u64,
    pub hash_max_listpack_value: u64,
    pub set_max_intset_entries: u64,
    pub set_max_listpack_entries: u64,
    pub set_max_listpack_value: u64,
    pub zset_max_listpack_entries: u64,
    pub zset_max_listpack_value: u64,
    pub list_max_listpack_size: i64,
    /// An LFU `maxmemory-policy`: OBJECT FREQ answers and OBJECT IDLETIME refuses.
    pub lfu: bool,
    /// Redis shares the integers 0..9999 between keys (OBJECT REFCOUNT shows them as
    /// referenced forever) unless `maxmemory` is set with an LRU or LFU policy.
    pub shared_integers: bool,
}

impl Default for ObjectSettings {
    fn default() -> Self {
        Config::default().object_settings()
    }
}

/// One class's output buffer limit: a client whose pending replies exceed `hard` bytes, or
/// `soft` bytes for more than `soft_seconds` in a row, is disconnected. 0 disables a limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OutputBufferLimit {
    pub hard: u64,
    pub soft: u64,
    pub soft_seconds: u64,
}

/// `client-output-buffer-limit` for each client class, with Redis's defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputBufferLimits {
    pub normal: OutputBufferLimit,
    pub replica: OutputBufferLimit,
    pub pubsub: OutputBufferLimit,
}

impl Default for OutputBufferLimits {
    fn default() -> Self {
        OutputBufferLimits {
            normal: OutputBufferLimit::default(),
            replica: OutputBufferLimit {
                hard: 256 << 20,
                soft: 64 << 20,
                soft_seconds: 60,
            },
            pubsub: OutputBufferLimit {
                hard: 32 << 20,
                soft: 8 << 20,
                soft_seconds: 60,
            },
        }
    }
}

impl OutputBufferLimits {
    /// Applies Redis's syntax: groups of `<class> <hard> <soft> <soft-seconds>`, the class one of
    /// `normal`, `replica` (or `slave`) and `pubsub`. Classes not named keep their limits; a
    /// value with any bad group changes nothing. The error texts are Redis's.
    pub fn apply(&mut self, v: &str) -> Result<(), String> {
        let words: Vec<&str> = v.split_whitespace().collect();
        if words.is_empty() || !words.len().is_multiple_of(4) {
            return Err("Wrong number of arguments in buffer limit configuration.".into());
        }
        let mut updated = *self;
        for group in words.chunks(4) {
            let class = match group[0].to_ascii_lowercase().as_str() {
                "normal" => &mut updated.normal,
                "replica" | "slave" => &mut updated.replica,
                "pubsub" => &mut updated.pubsub,
                _ => {
                    return Err(
                        "Invalid client class specified in buffer limit configuration.".into(),
                    )
                }
            };
            let bad =
                || "Error in hard, soft or soft_seconds setting in buffer limit configuration.";
            *class = OutputBufferLimit {
                hard: parse_size(group[1]).map_err(|_| bad())?,
                soft: parse_size(group[2]).map_err(|_| bad())?,
                soft_seconds: group[3]
                    .parse()
                    .ok()
                    .filter(|s| *s <= i32::MAX as u64)
                    .ok_or_else(bad)?,
            };
        }
        *self = updated;
        Ok(())
    }
}

impl std::fmt::Display for OutputBufferLimits {
    /// As Redis's CONFIG GET shows it (the replica class under its old name).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let classes = [
            ("normal", self.normal),
            ("slave", self.replica),
            ("pubsub", self.pubsub),
        ];
        for (i, (name, l)) in classes.iter().enumerate() {
            let sep = if i == 0 { "" } else { " " };
            write!(f, "{sep}{name} {} {} {}", l.hard, l.soft, l.soft_seconds)?;
        }
        Ok(())
    }
}

type Setter = fn(&mut Config, &str) -> Result<(), String>;

/// One configuration key.
pub struct ConfigKey {
    pub name: &'static str,
    pub help: &'static str,
    pub set: Setter,
    /// Renders the current value for CONFIG GET.
    pub get: fn(&Config) -> String,
}

fn parse_bool(v: &str) -> Result<bool, String> {
    match v.to_ascii_lowercase().as_str() {
        "yes" | "true" | "on" | "1" => Ok(true),
        "no" | "false" | "off" | "0" => Ok(false),
        _ => Err(format!("expected yes or no, got '{v}'")),
    }
}

/// What a size unit multiplies by, as Redis reads them (any case): `k`/`m`/`g` are powers of
/// 1000, `kb`/`mb`/`gb` powers of 1024.
pub(crate) fn size_unit(unit: &str) -> Option<u64> {
    Some(match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" => 1000,
        "kb" => 1024,
        "m" => 1000 * 1000,
        "mb" => 1024 * 1024,
        "g" => 1000 * 1000 * 1000,
        "gb" => 1024 * 1024 * 1024,
        _ => return None,
    })
}

/// Parses sizes the way Redis does: `1024`, `64kb`, `1gb` (powers of 1024), `1k`/`1m`/`1g`
/// (powers of 1000).
pub fn parse_size(v: &str) -> Result<u64, String> {
    let lower = v.trim().to_ascii_lowercase();
    let split = lower
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(lower.len());
    let (num, unit) = lower.split_at(split);
    let n: u64 = num.parse().map_err(|_| format!("invalid size '{v}'"))?;
    let mult = size_unit(unit).ok_or_else(|| format!("invalid size unit in '{v}'"))?;
    n.checked_mul(mult)
        .ok_or_else(|| format!("size '{v}' is too large"))
}

fn parse_num<T: std::str::FromStr>(v: &str) -> Result<T, String> {
    v.parse().map_err(|_| format!("invalid number '{v}'"))
}

/// Parses an integer setting within `0..=i32::MAX` (Redis's int settings), with Redis's error
/// texts.
fn parse_int_setting(v: &str) -> Result<u64, String> {
    let n: i64 = v
        .parse()
        .map_err(|_| "argument couldn't be parsed into an integer".to_string())?;
    if !(0..=i64::from(i32::MAX)).contains(&n) {
        return Err(format!(
            "argument must be between 0 and {} inclusive",
            i32::MAX
        ));
    }
    Ok(n as u64)
}

/// Parses an integer within `min..=max` as Redis's numeric settings do, with its error texts.
fn parse_bounded(v: &str, min: i64, max: i64) -> Result<i64, String> {
    let n = crate::command::args::parse_i64(v.as_bytes())
        .map_err(|_| "argument couldn't be parsed into an integer".to_string())?;
    if !(min..=max).contains(&n) {
        return Err(format!(
            "argument must be between {min} and {max} inclusive"
        ));
    }
    Ok(n)
}

fn parse_millis(v: &str) -> Result<Duration, String> {
    Ok(Duration::from_millis(parse_num(v)?))
}

fn check_addr(v: &str) -> Result<String, String> {
    let (host, port) = v
        .rsplit_once(':')
        .ok_or_else(|| format!("expected host:port, got '{v}'"))?;
    if host.is_empty() || port.parse::<u16>().is_err() {
        return Err(format!("expected host:port, got '{v}'"));
    }
    Ok(v.to_string())
}

/// A token or secret: empty means unset; a short one is refused (it could be guessed).
pub(crate) fn check_secret(v: &str) -> Result<Option<String>, String> {
    if v.is_empty() {
        return Ok(None);
    }
    if v.len() < MIN_SECRET_LEN {
        return Err(format!(
            "must be at least {MIN_SECRET_LEN} characters (e.g. `openssl rand -hex 32`)"
        ));
    }
    Ok(Some(v.to_string()))
}

/// Reads a secret from a file, as Kubernetes mounts them: surrounding whitespace is dropped.
fn read_secret_file(path: &str) -> Result<String, String> {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_string())
        .map_err(|e| format!("cannot read {path}: {e}"))
}

/// What CONFIG GET shows of a secret: whether it is set, never the value.
fn redacted(v: &Option<String>) -> String {
    if v.is_some() {
        "(set)".into()
    } else {
        String::new()
    }
}

fn path_or_none(v: &str) -> Option<PathBuf> {
    (!v.is_empty()).then(|| PathBuf::from(v))
}

fn show_path(p: &Option<PathBuf>) -> String {
    p.as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_default()
}

fn ms(d: Duration) -> String {
    d.as_millis().to_string()
}

macro_rules! key {
    ($name:literal, $help:literal, |$c:ident, $v:ident| $set:expr, |$g:ident| $get:expr) => {
        ConfigKey {
            name: $name,
            help: $help,
            set: |$c, $v| {
                $set;
                Ok(())
            },
            get: |$g| $get,
        }
    };
}

pub const KEYS: &[ConfigKey] = &[
    key!("port", "RESP port [7379]", |c, v| c.port = parse_num(v)?, |c| c.port.to_string()),
    key!("binding", "address the RESP port listens on [127.0.0.1]", |c, v| c.binding = v.to_string(), |c| c.binding.clone()),
    key!("bind", "alias of binding", |c, v| c.binding = v.split_whitespace().next().unwrap_or(v).to_string(), |c| c.binding.clone()),
    key!("db-path", "data directory [./kiwi-data]", |c, v| c.db_path = PathBuf::from(v), |c| c.db_path.display().to_string()),
    key!("dir", "Redis's name for db-path (CONFIG GET shows it absolute, as Redis shows its working directory)", |c, v| c.db_path = PathBuf::from(v), |c| std::path::absolute(&c.db_path).unwrap_or_else(|_| c.db_path.clone()).display().to_string()),
    key!("databases", "number of databases for SELECT, 1..255 [16]", |c, v| {
        let n: u16 = parse_num(v)?;
        if !(1..=255).contains(&n) {
            return Err("databases must be between 1 and 255".into());
        }
        c.databases = n
    }, |c| c.databases.to_string()),
    key!("requirepass", "password clients must AUTH with (empty: none)", |c, v| c.requirepass = (!v.is_empty()).then(|| v.to_string()), |c| c.requirepass.clone().unwrap_or_default()),
    key!("admin-token", "bearer token the admin API's mutating routes require (config file or KIWI_ADMIN_TOKEN, never a flag) [none: local callers only]", |c, v| { c.admin_token = check_secret(v)?; c.admin_token_file = None; }, |c| redacted(&c.admin_token)),
    key!("admin-token-file", "file holding admin-token, read again when it changes (a rotated Kubernetes Secret)", |c, v| { c.admin_token = check_secret(&read_secret_file(v)?)?; c.admin_token_file = Some(PathBuf::from(v)); }, |c| show_path(&c.admin_token_file)),
    key!("cluster-secret", "secret every node of the cluster shares; peers prove they know it (config file or KIWI_CLUSTER_SECRET, never a flag) [none: peers on this host only]", |c, v| { c.cluster_secret = check_secret(v)?; c.cluster_secret_file = None; }, |c| redacted(&c.cluster_secret)),
    key!("cluster-secret-file", "file holding cluster-secret, read again when it changes (a rotated Kubernetes Secret)", |c, v| { c.cluster_secret = check_secret(&read_secret_file(v)?)?; c.cluster_secret_file = Some(PathBuf::from(v)); }, |c| show_path(&c.cluster_secret_file)),
    key!("secret-rotation-grace", "seconds a node still accepts the old value of a rotated admin-token-file or cluster-secret-file [600]", |c, v| c.secret_rotation_grace = Duration::from_secs(parse_num(v)?), |c| c.secret_rotation_grace.as_secs().to_string()),
    key!("tls-port", "RESP over TLS on this port, beside port (0: off) [0]", |c, v| c.tls_port = parse_num(v)?, |c| c.tls_port.to_string()),
    key!("tls-cert-file", "PEM certificate chain of the TLS port (reloaded when it changes)", |c, v| c.tls_cert_file = path_or_none(v), |c| show_path(&c.tls_cert_file)),
    key!("tls-key-file", "PEM private key of tls-cert-file", |c, v| c.tls_key_file = path_or_none(v), |c| show_path(&c.tls_key_file)),
    key!("tls-ca-cert-file", "PEM CA certificates that sign client certificates", |c, v| c.tls_ca_cert_file = path_or_none(v), |c| show_path(&c.tls_ca_cert_file)),
    key!("tls-auth-clients", "TLS clients must present a certificate signed by tls-ca-cert-file: yes, optional or no [yes]", |c, v| c.tls_auth_clients = crate::tls::ClientAuth::parse(v)?, |c| c.tls_auth_clients.as_str().to_string()),
    key!("tls-cluster", "TLS on the raft/HTTP port too: peers and the admin API, with tls-cert-file, tls-key-file and tls-ca-cert-file; client certificates there are checked when presented (yes/no) [no]", |c, v| c.tls_cluster = parse_bool(v)?, |c| if c.tls_cluster { "yes".into() } else { "no".into() }),
    key!("tls-client-cert-file", "PEM certificate this node presents to peers with tls-cluster [tls-cert-file]", |c, v| c.tls_client_cert_file = path_or_none(v), |c| show_path(&c.tls_client_cert_file)),
    key!("tls-client-key-file", "PEM private key of tls-client-cert-file [tls-key-file]", |c, v| c.tls_client_key_file = path_or_none(v), |c| show_path(&c.tls_client_key_file)),
    key!("maxclients", "most simultaneous client connections [10000]", |c, v| c.maxclients = parse_bounded(v, 1, u32::MAX.into())? as usize, |c| c.maxclients.to_string()),
    key!("proto-max-bulk-len", "longest bulk string accepted [512mb]", |c, v| c.proto_max_bulk_len = parse_size(v)? as usize, |c| c.proto_max_bulk_len.to_string()),
    key!("client-query-buffer-limit", "most unparsed bytes buffered per client, and most bytes of commands queued by MULTI [1gb]", |c, v| c.client_query_buffer_limit = parse_size(v)? as usize, |c| c.client_query_buffer_limit.to_string()),
    key!("client-output-buffer-limit", "<class> <hard> <soft> <soft-seconds>: close a client whose pending replies exceed hard bytes, or soft bytes for soft-seconds; 0 is no limit; classes normal, replica, pubsub, as in Redis [normal 0 0 0]", |c, v| c.client_output_buffer_limit.apply(v)?, |c| c.client_output_buffer_limit.to_string()),
    key!("timeout", "close a client idle for this many seconds; 0: never [0]", |c, v| c.timeout = parse_int_setting(v)?, |c| c.timeout.to_string()),
    key!("tcp-keepalive", "TCP keepalive time of client connections in seconds; 0: off [300]", |c, v| c.tcp_keepalive = parse_int_setting(v)?, |c| c.tcp_keepalive.to_string()),
    key!("memory", "memory budget for RocksDB block cache and write buffers [1GB]", |c, v| c.memory = parse_size(v)?, |c| c.memory.to_string()),
    key!("rocksdb-max-background-jobs", "RocksDB flush and compaction threads [4]", |c, v| c.rocksdb_max_background_jobs = parse_num(v)?, |c| c.rocksdb_max_background_jobs.to_string()),
    key!("rocksdb-max-write-buffer-number", "RocksDB memtables per column family [2]", |c, v| c.rocksdb_max_write_buffer_number = parse_num(v)?, |c| c.rocksdb_max_write_buffer_number.to_string()),
    key!("rocksdb-write-buffer-size", "RocksDB memtable size [64mb]", |c, v| c.rocksdb_write_buffer_size = parse_size(v)?, |c| c.rocksdb_write_buffer_size.to_string()),
    key!("log-dir", "directory for kiwi.log (default: stderr)", |c, v| c.log_dir = (!v.is_empty()).then(|| PathBuf::from(v)), |c| c.log_dir.as_ref().map(|p| p.display().to_string()).unwrap_or_default()),
    key!("loglevel", "error, warn, info, debug or trace [info]", |c, v| {
        match v {
            "error" | "warn" | "info" | "debug" | "trace" => c.log_level = v.to_string(),
            // Redis's names
            "warning" => c.log_level = "warn".into(),
            "notice" | "verbose" => c.log_level = "info".into(),
            _ => return Err(format!("unknown log level '{v}'")),
        }
    }, |c| c.log_level.clone()),
    key!("raft-node-id", "this node's raft id (a number, or auto) [1]", |c, v| {
        c.raft_node_id = if v == "auto" {
            NodeIdSetting::Auto
        } else {
            let n: u64 = parse_num(v)?;
            if n == 0 || n >= 1 << 53 {
                return Err("raft-node-id must be between 1 and 2^53-1, or auto".into());
            }
            NodeIdSetting::Fixed(n)
        }
    }, |c| match c.raft_node_id { NodeIdSetting::Fixed(n) => n.to_string(), NodeIdSetting::Auto => "auto".into() }),
    key!("raft-addr", "raft RPC and admin HTTP address, host:port [127.0.0.1:8001]", |c, v| c.raft_addr = check_addr(v)?, |c| c.raft_addr.clone()),
    key!("raft-bind", "address the raft port listens on, when it differs from raft-addr (e.g. 0.0.0.0:8001 in a pod) [raft-addr]", |c, v| c.raft_bind = (!v.is_empty()).then(|| check_addr(v)).transpose()?, |c| c.raft_bind.clone().unwrap_or_default()),
    key!("raft-resp-addr", "RESP address other nodes and clients reach this node at [binding:port]", |c, v| c.raft_resp_addr = Some(check_addr(v)?), |c| c.raft_resp_addr.clone().unwrap_or_default()),
    key!("raft-data-dir", "raft log directory (default: inside db-path)", |c, v| c.raft_data_dir = Some(PathBuf::from(v)), |c| c.raft_data_dir.as_ref().map(|p| p.display().to_string()).unwrap_or_default()),
    key!("raft-follower-forward", "followers forward commands to the leader (yes) or reply -MOVED (no) [yes]", |c, v| c.raft_follower_forward = parse_bool(v)?, |c| if c.raft_follower_forward { "yes".into() } else { "no".into() }),
    key!("raft-read-policy", "readindex: a read confirms leadership with a quorum round; lease: the leader serves reads while its lease holds (faster, assumes bounded clock drift) [readindex]", |c, v| {
        c.raft_lease_read = match v.to_ascii_lowercase().as_str() {
            "readindex" => false,
            "lease" => true,
            _ => return Err(format!("expected readindex or lease, got '{v}'")),
        }
    }, |c| if c.raft_lease_read { "lease".into() } else { "readindex".into() }),
    key!("raft-write-timeout", "ms a write waits for commit before -CLUSTERDOWN [5000]", |c, v| c.raft_write_timeout = parse_millis(v)?, |c| ms(c.raft_write_timeout)),
    key!("raft-heartbeat-interval", "ms between leader heartbeats [100]", |c, v| c.raft_heartbeat_interval = parse_millis(v)?, |c| ms(c.raft_heartbeat_interval)),
    key!("raft-election-timeout", "ms without a leader before a follower campaigns (it waits 1.0-1.2x this; more than 2.5x the heartbeat interval) [1000]", |c, v| c.raft_election_timeout = parse_millis(v)?, |c| ms(c.raft_election_timeout)),
    key!("raft-snapshot-logs", "log entries between snapshots [50000]", |c, v| c.raft_snapshot_logs = parse_num(v)?, |c| c.raft_snapshot_logs.to_string()),
    key!("raft-bootstrap", "initialize a one-node cluster when this node has no raft state (yes/no) [yes without a config file]", |c, v| c.raft_bootstrap = Some(parse_bool(v)?), |c| match c.raft_bootstrap { Some(true) => "yes".into(), Some(false) => "no".into(), None => "auto".into() }),
    key!("raft-join", "join the cluster through this member's raft/HTTP address when this node has no raft state", |c, v| c.raft_join = (!v.is_empty()).then(|| v.to_string()), |c| c.raft_join.clone().unwrap_or_default()),
    key!("raft-fault-injection", "enable POST /debug/partition for tests (yes/no) [no]", |c, v| c.raft_fault_injection = parse_bool(v)?, |c| if c.raft_fault_injection { "yes".into() } else { "no".into() }),
    key!("active-expire-interval", "ms between active expiry sweeps [100]", |c, v| c.active_expire_interval = parse_millis(v)?, |c| ms(c.active_expire_interval)),
];

/// Shortest admin token or cluster secret accepted.
pub const MIN_SECRET_LEN: usize = 16;

/// Environment variables that set secrets, applied over the config file and under flags.
pub const SECRET_ENV: &[(&str, &str)] = &[
    ("KIWI_REQUIREPASS", "requirepass"),
    ("KIWI_ADMIN_TOKEN", "admin-token"),
    ("KIWI_CLUSTER_SECRET", "cluster-secret"),
];

/// For a key whose value is a secret refused as a command-line flag (every user of the machine
/// reads flags in `ps`, and Kubernetes shows them in the pod spec): the environment variable
/// to use instead. `requirepass` is still taken as a flag, as redis-server takes it.
pub fn flag_refused(name: &str) -> Option<&'static str> {
    SECRET_ENV
        .iter()
        .find(|(_, key)| *key == name && *key != "requirepass")
        .map(|(var, _)| *var)
}

pub fn find_key(name: &str) -> Option<&'static ConfigKey> {
    KEYS.iter().find(|k| k.name.eq_ignore_ascii_case(name))
}

/// Kiwi's own keys that are other names of a key (CONFIG REWRITE writes the key's name).
pub const KEY_ALIASES: &[(&str, &str)] = &[("bind", "binding"), ("dir", "db-path")];

/// Secrets CONFIG REWRITE never writes nor removes: they come from the config file as written,
/// the environment, a flag or a file of their own, and are not settable at run time.
pub const NEVER_REWRITTEN: &[&str] = &[
    "admin-token",
    "admin-token-file",
    "cluster-secret",
    "cluster-secret-file",
];

/// A parameter as the config file, the command line, CONFIG GET and CONFIG SET name it: one of
/// Kiwi's [`KEYS`] or one of Redis's [`TUNABLES`] (by its name or its alias).
#[derive(Clone, Copy)]
pub enum Param {
    Kiwi(&'static ConfigKey),
    Redis {
        index: usize,
        /// The name it goes by here: the tunable's name or its alias.
        name: &'static str,
    },
}

impl Param {
    pub fn name(&self) -> &'static str {
        match self {
            Param::Kiwi(k) => k.name,
            Param::Redis { name, .. } => name,
        }
    }

    /// The name CONFIG REWRITE writes: aliases give way to the parameter's own name.
    pub fn canonical(&self) -> &'static str {
        match self {
            Param::Kiwi(k) => KEY_ALIASES
                .iter()
                .find(|(alias, _)| *alias == k.name)
                .map_or(k.name, |(_, name)| name),
            Param::Redis { index, .. } => TUNABLES[*index].name,
        }
    }

    pub fn get(&self, c: &Config) -> String {
        match self {
            Param::Kiwi(k) => (k.get)(c),
            Param::Redis { index, .. } => c.tunables.get(*index).to_string(),
        }
    }

    pub fn set(&self, c: &mut Config, value: &str) -> Result<(), String> {
        match self {
            Param::Kiwi(k) => (k.set)(c, value),
            Param::Redis { index, .. } => c.tunables.set(*index, value),
        }
    }

    /// The Redis tunable behind it, if it is one.
    pub fn tunable(&self) -> Option<&'static Tunable> {
        match self {
            Param::Kiwi(_) => None,
            Param::Redis { index, .. } => Some(&TUNABLES[*index]),
        }
    }

    fn has(&self, flag: u8) -> bool {
        self.tunable().is_some_and(|t| t.has(flag))
    }

    /// CONFIG GET matches it only by its exact name.
    pub fn hidden(&self) -> bool {
        self.has(tunables::HIDDEN)
    }

    /// A Redis parameter only the config file may set.
    pub fn immutable(&self) -> bool {
        self.has(tunables::IMMUTABLE)
    }

    /// Settable at run time only with `enable-protected-configs`.
    pub fn protected(&self) -> bool {
        self.has(tunables::PROTECTED)
    }

    /// Whether CONFIG GET `pattern` shows it.
    pub fn matches(&self, pattern: &[u8]) -> bool {
        if self.hidden() {
            pattern.eq_ignore_ascii_case(self.name().as_bytes())
        } else {
            crate::command::glob::glob_match_nocase(pattern, self.name().as_bytes())
        }
    }
}

/// Every parameter in CONFIG GET's order: Kiwi's keys, then Redis's, each tunable's name then
/// its alias.
pub fn params() -> impl Iterator<Item = Param> {
    KEYS.iter()
        .map(Param::Kiwi)
        .chain(TUNABLES.iter().enumerate().flat_map(|(index, t)| {
            std::iter::once(Param::Redis {
                index,
                name: t.name,
            })
            .chain(t.alias.map(|name| Param::Redis { index, name }))
        }))
}

/// The parameter called `name` (any case).
pub fn find_param(name: &str) -> Option<Param> {
    if let Some(k) = find_key(name) {
        return Some(Param::Kiwi(k));
    }
    let index = tunables::find(name)?;
    let t = &TUNABLES[index];
    let name = if t.name.eq_ignore_ascii_case(name) {
        t.name
    } else {
        t.alias.unwrap_or(t.name)
    };
    Some(Param::Redis { index, name })
}

/// Config-file directives Redis no longer reads but still accepts (and ignores).
const DEPRECATED: &[&str] = &[
    "list-max-ziplist-entries",
    "list-max-ziplist-value",
    "lua-replicate-commands",
];

impl Config {
    /// Applies a config file's lines on top of `self`.
    pub fn apply_file(&mut self, path: &Path) -> Result<(), ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        self.apply_text(&text, &path.display().to_string())
    }

    pub fn apply_text(&mut self, text: &str, origin: &str) -> Result<(), ConfigError> {
        // As in Redis, the file's `save` lines add up (`save 900 1` then `save 300 10`).
        let mut saves: Vec<String> = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let err = |message: String| ConfigError::Line {
                path: origin.to_string(),
                line: i + 1,
                message,
            };
            let (name, value) = match line.split_once(char::is_whitespace) {
                Some((n, v)) => (n, v.trim()),
                None => (line, ""),
            };
            let value = value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(value);
            if DEPRECATED.iter().any(|d| d.eq_ignore_ascii_case(name)) {
                continue;
            }
            let param =
                find_param(name).ok_or_else(|| err(format!("unknown config key '{name}'")))?;
            let value = if param.name() == "save" && !value.is_empty() {
                saves.push(value.to_string());
                saves.join(" ")
            } else {
                value.to_string()
            };
            param
                .set(self, &value)
                .map_err(|m| err(format!("bad value for '{name}': {m}")))?;
        }
        Ok(())
    }

    /// What OBJECT reports against (see [`ObjectSettings`]).
    pub fn object_settings(&self) -> ObjectSettings {
        let t = &self.tunables;
        let n = |name: &str| t.number(name).clamp(0, i128::from(u64::MAX)) as u64;
        let policy = t.value("maxmemory-policy");
        ObjectSettings {
            hash_max_listpack_entries: n("hash-max-listpack-entries"),
            hash_max_listpack_value: n("hash-max-listpack-value"),
            set_max_intset_entries: n("set-max-intset-entries"),
            set_max_listpack_entries: n("set-max-listpack-entries"),
            set_max_listpack_value: n("set-max-listpack-value"),
            zset_max_listpack_entries: n("zset-max-listpack-entries"),
            zset_max_listpack_value: n("zset-max-listpack-value"),
            list_max_listpack_size: t.number("list-max-listpack-size") as i64,
            lfu: policy.ends_with("-lfu"),
            shared_integers: t.number("maxmemory") == 0
                || !(policy.ends_with("-lru") || policy.ends_with("-lfu")),
        }
    }

    /// Applies the secrets named in [`SECRET_ENV`] that `lookup` finds (the process environment
    /// in `main`).
    pub fn apply_env(
        &mut self,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<(), ConfigError> {
        for (var, key) in SECRET_ENV {
            if let Some(value) = lookup(var) {
                let key = find_key(key).expect("SECRET_ENV names known keys");
                (key.set)(self, &value).map_err(|message| ConfigError::Flag {
                    key: var.to_string(),
                    message,
                })?;
            }
        }
        Ok(())
    }

    pub fn set_flag(&mut self, name: &str, value: &str) -> Result<(), ConfigError> {
        let param = find_param(name).ok_or_else(|| ConfigError::Flag {
            key: name.to_string(),
            message: "unknown option".into(),
        })?;
        param.set(self, value).map_err(|message| ConfigError::Flag {
            key: name.to_string(),
            message,
        })
    }

    /// The RESP listen address.
    pub fn resp_listen_addr(&self) -> String {
        format!("{}:{}", self.binding, self.port)
    }

    /// The raft listen address: `raft-bind`, or the advertised `raft-addr` itself.
    pub fn raft_listen_addr(&self) -> String {
        self.raft_bind
            .clone()
            .unwrap_or_else(|| self.raft_addr.clone())
    }

    /// The RESP address advertised to other nodes and redirected clients.
    pub fn advertised_resp_addr(&self) -> String {
        self.raft_resp_addr
            .clone()
            .unwrap_or_else(|| self.resp_listen_addr())
    }

    pub fn raft_dir(&self) -> PathBuf {
        self.raft_data_dir
            .clone()
            .unwrap_or_else(|| self.db_path.clone())
    }

    /// The TLS listener's files, when `tls-port` is set.
    pub fn tls_files(&self) -> Result<Option<crate::tls::TlsFiles>, ConfigError> {
        if self.tls_port == 0 {
            return Ok(None);
        }
        let (Some(cert), Some(key)) = (&self.tls_cert_file, &self.tls_key_file) else {
            return Err(ConfigError::Invalid(
                "tls-port needs tls-cert-file and tls-key-file".into(),
            ));
        };
        if self.tls_auth_clients != crate::tls::ClientAuth::None && self.tls_ca_cert_file.is_none()
        {
            return Err(ConfigError::Invalid(
                "tls-auth-clients yes/optional needs tls-ca-cert-file (or set tls-auth-clients no)"
                    .into(),
            ));
        }
        Ok(Some(crate::tls::TlsFiles {
            cert: cert.clone(),
            key: key.clone(),
            ca: self.tls_ca_cert_file.clone(),
            client_auth: self.tls_auth_clients,
        }))
    }

    /// The Raft/HTTP port's TLS files, when `tls-cluster yes`: what it serves with, and what
    /// this node dials peers with.
    pub fn cluster_tls_files(
        &self,
    ) -> Result<Option<(crate::tls::TlsFiles, crate::transport::ClientFiles)>, ConfigError> {
        if !self.tls_cluster {
            return Ok(None);
        }
        let (Some(cert), Some(key), Some(ca)) = (
            &self.tls_cert_file,
            &self.tls_key_file,
            &self.tls_ca_cert_file,
        ) else {
            return Err(ConfigError::Invalid(
                "tls-cluster needs tls-cert-file, tls-key-file and tls-ca-cert-file (the CA that signs every node's certificate)".into(),
            ));
        };
        if self.tls_client_cert_file.is_some() != self.tls_client_key_file.is_some() {
            return Err(ConfigError::Invalid(
                "tls-client-cert-file and tls-client-key-file go together".into(),
            ));
        }
        let server = crate::tls::TlsFiles {
            cert: cert.clone(),
            key: key.clone(),
            ca: Some(ca.clone()),
            // Checked when presented, never demanded: kubelet's HTTPS probes present none,
            // and peers and admin callers prove themselves with the cluster secret and the
            // admin token.
            client_auth: crate::tls::ClientAuth::Optional,
        };
        let client = crate::transport::ClientFiles {
            cert: self
                .tls_client_cert_file
                .clone()
                .unwrap_or_else(|| cert.clone()),
            key: self
                .tls_client_key_file
                .clone()
                .unwrap_or_else(|| key.clone()),
            ca: ca.clone(),
        };
        Ok(Some((server, client)))
    }

    /// Checks combinations no single key can check.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.tls_files()?;
        self.cluster_tls_files()?;
        // Followers campaign from 1.0x the election timeout on (see raft::cluster), and the
        // shortest randomized part of it must still exceed a heartbeat.
        if self.raft_heartbeat_interval * 5 >= self.raft_election_timeout * 2 {
            return Err(ConfigError::Invalid(
                "raft-election-timeout must be more than 2.5x raft-heartbeat-interval".into(),
            ));
        }
        if self.resp_listen_addr().parse::<SocketAddr>().is_err()
            && !self
                .binding
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
        {
            return Err(ConfigError::Invalid(format!(
                "invalid binding '{}'",
                self.binding
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_cluster_file_parses() {
        let text = "# Kiwi Cluster Node 1 Configuration\n\nport 7379\nbinding 127.0.0.1\ndb-path ./db_node1\n\
            raft-node-id 1\nraft-addr 127.0.0.1:8001\nraft-resp-addr 127.0.0.1:7379\nraft-data-dir ./raft_data_1\n\
            memory 1GB\nrocksdb-max-background-jobs 4\nrocksdb-max-write-buffer-number 2\n\
            rocksdb-write-buffer-size 67108864\nlog-dir ./cluster_logs\n";
        let mut c = Config::default();
        c.apply_text(text, "node1.conf").unwrap();
        assert_eq!(c.port, 7379);
        assert_eq!(c.memory, 1 << 30);
        assert_eq!(c.raft_node_id, NodeIdSetting::Fixed(1));
        assert_eq!(c.db_path, PathBuf::from("./db_node1"));
        assert_eq!(c.rocksdb_write_buffer_size, 67108864);
    }

    #[test]
    fn errors_name_the_line() {
        let mut c = Config::default();
        let e = c.apply_text("port 7379\nbogus 1\n", "x.conf").unwrap_err();
        assert_eq!(e.to_string(), "x.conf:2: unknown config key 'bogus'");
        let e = c.apply_text("\nport seventy\n", "x.conf").unwrap_err();
        assert_eq!(
            e.to_string(),
            "x.conf:2: bad value for 'port': invalid number 'seventy'"
        );
        assert!(c.apply_text("raft-addr nowhere\n", "x").is_err());
        assert!(c.apply_text("databases 0\n", "x").is_err());
    }

    #[test]
    fn raft_keys_for_pods_and_reads() {
        let mut c = Config::default();
        c.apply_text(
            "raft-addr kiwi-0.kiwi-headless.prod.svc:8001\nraft-bind 0.0.0.0:8001\nraft-read-policy lease\n",
            "pod.conf",
        )
        .unwrap();
        assert_eq!(c.raft_listen_addr(), "0.0.0.0:8001");
        assert_eq!(c.raft_addr, "kiwi-0.kiwi-headless.prod.svc:8001");
        assert!(c.raft_lease_read);
        assert!(c.apply_text("raft-read-policy fast\n", "x").is_err());
        assert!(c.apply_text("raft-bind nowhere\n", "x").is_err());
        let mut plain = Config::default();
        plain.apply_text("raft-addr 127.0.0.1:9001\n", "x").unwrap();
        assert_eq!(
            plain.raft_listen_addr(),
            "127.0.0.1:9001",
            "binds where it advertises"
        );
    }

    #[test]
    fn election_timeout_must_leave_room_for_heartbeats() {
        let mut c = Config::default();
        c.apply_text(
            "raft-election-timeout 250\nraft-heartbeat-interval 100\n",
            "x",
        )
        .unwrap();
        assert!(
            c.validate().is_err(),
            "250 ms is not more than 2.5 heartbeats"
        );
        c.apply_text("raft-election-timeout 300\n", "x").unwrap();
        assert!(c.validate().is_ok());
    }

    #[test]
    fn secrets_come_from_the_file_env_or_a_secret_file_and_are_never_shown() {
        let dir = tempfile::tempdir().unwrap();
        let token_file = dir.path().join("token");
        std::fs::write(&token_file, "0123456789abcdef-from-file\n").unwrap();
        let mut c = Config::default();
        c.apply_text(
            &format!(
                "admin-token-file {}\ncluster-secret 0123456789abcdef-conf\n",
                token_file.display()
            ),
            "x",
        )
        .unwrap();
        assert_eq!(c.admin_token.as_deref(), Some("0123456789abcdef-from-file"));
        assert_eq!(c.cluster_secret.as_deref(), Some("0123456789abcdef-conf"));
        c.apply_env(|var| (var == "KIWI_CLUSTER_SECRET").then(|| "0123456789abcdef-env".into()))
            .unwrap();
        assert_eq!(c.cluster_secret.as_deref(), Some("0123456789abcdef-env"));
        assert_eq!((find_key("cluster-secret").unwrap().get)(&c), "(set)");
        assert_eq!((find_key("admin-token").unwrap().get)(&c), "(set)");
        let e = c.apply_text("admin-token short\n", "x").unwrap_err();
        assert!(e.to_string().contains("at least 16"), "{e}");
        assert!(c
            .apply_text("cluster-secret-file /nonexistent/x\n", "x")
            .is_err());
    }

    #[test]
    fn client_limits_follow_redis_syntax() {
        let mut c = Config::default();
        assert_eq!(
            (KEYS
                .iter()
                .find(|k| k.name == "client-output-buffer-limit")
                .unwrap()
                .get)(&c),
            "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60"
        );
        assert_eq!((c.timeout, c.tcp_keepalive), (0, 300));
        c.apply_text(
            "client-output-buffer-limit normal 1mb 512kb 10\nclient-output-buffer-limit replica 0 0 0 pubsub 1gb 1k 0\ntimeout 30\ntcp-keepalive 60\n",
            "x",
        )
        .unwrap();
        assert_eq!(
            c.client_output_buffer_limit.normal,
            OutputBufferLimit {
                hard: 1 << 20,
                soft: 512 << 10,
                soft_seconds: 10
            }
        );
        assert_eq!(
            c.client_output_buffer_limit.to_string(),
            "normal 1048576 524288 10 slave 0 0 0 pubsub 1073741824 1000 0"
        );
        assert_eq!((c.timeout, c.tcp_keepalive), (30, 60));

        let before = c.client_output_buffer_limit;
        for (bad, why) in [
            (
                "normal 1mb 1mb",
                "Wrong number of arguments in buffer limit configuration.",
            ),
            (
                "",
                "Wrong number of arguments in buffer limit configuration.",
            ),
            (
                "master 0 0 0",
                "Invalid client class specified in buffer limit configuration.",
            ),
            (
                "normal 0 0 0 pubsub 1x 0 0",
                "Error in hard, soft or soft_seconds setting in buffer limit configuration.",
            ),
            (
                "normal 0 0 -1",
                "Error in hard, soft or soft_seconds setting in buffer limit configuration.",
            ),
        ] {
            assert_eq!(
                c.client_output_buffer_limit.apply(bad).unwrap_err(),
                why,
                "{bad:?}"
            );
        }
        assert_eq!(
            c.client_output_buffer_limit, before,
            "a bad value changes nothing"
        );
        assert_eq!(
            c.set_flag("timeout", "-1").unwrap_err().to_string(),
            "--timeout: argument must be between 0 and 2147483647 inclusive"
        );
        assert_eq!(
            c.set_flag("tcp-keepalive", "x").unwrap_err().to_string(),
            "--tcp-keepalive: argument couldn't be parsed into an integer"
        );
    }

    #[test]
    fn redis_parameters_in_the_file_and_as_flags() {
        let mut c = Config::default();
        c.apply_text(
            "hash-max-ziplist-entries 16\nmaxmemory 1gb\nsave 900 1\nsave 300 10\nlist-max-ziplist-entries 5\nnotify-keyspace-events \"KEA\"\n",
            "r.conf",
        )
        .unwrap();
        assert_eq!(c.tunables.value("hash-max-listpack-entries"), "16");
        assert_eq!(c.tunables.value("maxmemory"), "1073741824");
        assert_eq!(c.tunables.value("save"), "900 1 300 10");
        assert_eq!(c.tunables.value("notify-keyspace-events"), "AKE");
        let e = c.apply_text("\nmaxmemory lots\n", "r.conf").unwrap_err();
        assert_eq!(
            e.to_string(),
            "r.conf:2: bad value for 'maxmemory': argument must be a memory value"
        );
        assert_eq!(c.object_settings().hash_max_listpack_entries, 16);
        assert!(!c.object_settings().lfu);
        c.set_flag("maxmemory-policy", "allkeys-lfu").unwrap();
        let s = c.object_settings();
        assert!(s.lfu && !s.shared_integers, "maxmemory with an LFU policy");
        assert_eq!(ObjectSettings::default().list_max_listpack_size, -2);
        assert_eq!(
            c.set_flag("maxclients", "0").unwrap_err().to_string(),
            "--maxclients: argument must be between 1 and 4294967295 inclusive"
        );
    }

    #[test]
    fn every_parameter_has_one_name() {
        let mut names: Vec<&str> = params().map(|p| p.name()).collect();
        let n = names.len();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), n, "a Redis parameter shadows a Kiwi key");
        let p = find_param("HASH-MAX-ZIPLIST-ENTRIES").unwrap();
        assert_eq!(
            (p.name(), p.canonical()),
            ("hash-max-ziplist-entries", "hash-max-listpack-entries")
        );
        assert_eq!(find_param("bind").unwrap().canonical(), "binding");
        assert!(find_param("rdb-key-save-delay").unwrap().hidden());
        assert!(find_param("daemonize").unwrap().immutable());
        assert!(find_param("dbfilename").unwrap().protected());
        assert!(find_param("nosuch").is_none());
    }

    #[test]
    fn sizes_follow_redis_units() {
        assert_eq!(parse_size("64mb").unwrap(), 64 << 20);
        assert_eq!(parse_size("1k").unwrap(), 1000);
        assert_eq!(parse_size("1GB").unwrap(), 1 << 30);
        assert!(parse_size("12xb").is_err());
    }

    #[test]
    fn tls_cluster_serves_and_dials_with_the_node_certificate_unless_told_otherwise() {
        let mut c = Config::default();
        c.apply_text(
            "tls-cluster yes\ntls-cert-file n.crt\ntls-key-file n.key\ntls-ca-cert-file ca.crt\n",
            "t.conf",
        )
        .unwrap();
        let (server, client) = c.cluster_tls_files().unwrap().unwrap();
        assert_eq!(server.cert, PathBuf::from("n.crt"));
        // Checked when presented, never demanded (probes present no certificate).
        assert_eq!(server.client_auth, crate::tls::ClientAuth::Optional);
        assert_eq!(client.cert, PathBuf::from("n.crt"));
        assert_eq!(client.key, PathBuf::from("n.key"));
        c.apply_text(
            "tls-client-cert-file c.crt\ntls-client-key-file c.key\n",
            "t.conf",
        )
        .unwrap();
        let (_, client) = c.cluster_tls_files().unwrap().unwrap();
        assert_eq!(client.cert, PathBuf::from("c.crt"));
        c.tls_client_key_file = None;
        assert!(
            c.validate().is_err(),
            "a client certificate without its key"
        );
        c.tls_client_cert_file = None;
        c.tls_ca_cert_file = None;
        assert!(c.validate().is_err(), "tls-cluster without a CA");
        c.tls_cluster = false;
        assert!(c.cluster_tls_files().unwrap().is_none());
    }
}
