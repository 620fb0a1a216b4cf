//! The command table: the one place a command name becomes a handler.
//!
//! Each data-type family (`strings`, `keys`, `hashes`, ...) lists its commands in a `COMMANDS`
//! table with Redis's arity, flags and key positions, and owns their parsing and execution.
//! Handlers run against a [`Txn`]: for a read it is a snapshot, for a write the applier's
//! transaction, so the same code serves reads, writes and `MULTI` blocks.
//! Commands that act on the connection (AUTH, SELECT, MULTI, CLIENT, ...) are `Kind::Session`
//! and are carried out by `server::session`.

pub mod args;
pub mod blocking;
pub mod cursor;
pub mod glob;
pub mod hashes;
pub mod hyperloglog;
pub mod keys;
pub mod lists;
pub mod long_double;
pub mod pubsub;
pub mod random;
pub mod scripting;
pub mod server;
pub mod sets;
pub mod streams;
pub mod strings;
pub mod zsets;

use std::collections::HashMap;
use std::sync::LazyLock;

use bytes::Bytes;

use crate::resp::Reply;
use crate::storage::{KeyType, Meta, StorageError, Txn};

pub use args::Args;
pub use random::SplitMix64;

/// What a handler can see: the transaction, the selected database, the clock and (for writes)
/// a random source seeded by the mutation, so replicas make the same "random" choices (see
/// [`random`]).
pub struct Ctx<'t, 'a> {
    pub txn: &'t mut Txn<'a>,
    pub db: u8,
    /// Milliseconds since the Unix epoch, read once by the node that accepted the command.
    pub now_ms: u64,
    pub rng: &'t mut SplitMix64,
}

/// One row of a command table: `spec!(name, arity, flags, (first, last, step), handler)`.
macro_rules! spec {
    ($name:literal, $arity:expr, $flags:expr, $keys:expr, $handler:expr) => {
        $crate::command::CommandSpec {
            name: $name,
            arity: $arity,
            flags: $flags,
            keys: $keys,
            kind: $crate::command::Kind::Data($handler),
        }
    };
}
pub(crate) use spec;

impl Ctx<'_, '_> {
    /// The live value at `key` if it is of type `ty`: `None` when there is none (or it has
    /// expired), WRONGTYPE when the key holds another type. Every data-type family looks its
    /// keys up through here.
    pub fn typed_meta(&self, ty: KeyType, key: &[u8]) -> Result<Option<Meta>, CmdError> {
        match self.txn.live_meta(self.db, key, self.now_ms)? {
            Some(m) if m.ty != ty => Err(CmdError::WrongType),
            other => Ok(other),
        }
    }
}

pub type CmdResult = Result<Reply, CmdError>;
pub type Handler = fn(&mut Ctx<'_, '_>, &Args) -> CmdResult;

#[derive(Clone, Copy)]
pub enum Kind {
    /// Runs against the data.
    Data(Handler),
    /// Acts on the connection; carried out by the session.
    Session,
}

pub mod flags {
    pub const WRITE: u32 = 1;
    pub const READONLY: u32 = 1 << 1;
    pub const ADMIN: u32 = 1 << 2;
    /// Allowed before AUTH.
    pub const NOAUTH: u32 = 1 << 3;
    pub const FAST: u32 = 1 << 4;
    /// May grow memory use (Redis's `denyoom`).
    pub const DENYOOM: u32 = 1 << 5;
    /// Not allowed inside MULTI.
    pub const NOMULTI: u32 = 1 << 6;
    pub const RANDOM: u32 = 1 << 7;
    /// Key positions beyond `keys` depend on the arguments (SORT ... STORE, BY and GET).
    pub const MOVABLEKEYS: u32 = 1 << 8;
    /// May block the client (BLPOP, ...): see `command::blocking`.
    pub const BLOCKING: u32 = 1 << 9;

    pub const NAMES: [(u32, &str); 10] = [
        (WRITE, "write"),
        (READONLY, "readonly"),
        (ADMIN, "admin"),
        (NOAUTH, "no_auth"),
        (FAST, "fast"),
        (DENYOOM, "denyoom"),
        (NOMULTI, "no_multi"),
        (RANDOM, "random"),
        (MOVABLEKEYS, "movablekeys"),
        (BLOCKING, "blocking"),
    ];
}

/// A command with more arguments than this, or more bytes of them than [`LONG_ARG_BYTES`], may
/// run long whatever it is (an MGET of a hundred thousand keys, an MSET of a 100 MB value); so
/// may a MULTI block of more commands.
pub const LONG_ARGC: usize = 1024;
const LONG_ARG_BYTES: usize = 1 << 20;

pub struct CommandSpec {
    /// Lower-case name.
    pub name: &'static str,
    /// Redis arity: N means exactly N arguments (name included); -N means at least N.
    pub arity: i32,
    pub flags: u32,
    /// Key positions as Redis reports them (first, last, step); last -1 means "to the end".
    pub keys: (i32, i32, i32),
    pub kind: Kind,
}

impl CommandSpec {
    pub fn is_write(&self) -> bool {
        self.flags & flags::WRITE != 0
    }

    pub fn has(&self, flag: u32) -> bool {
        self.flags & flag != 0
    }

    /// Whether running the command on `argv` can take long, so that it must not hold an async
    /// worker: callers then run it through [`run_long`]. That is every command whose time grows
    /// with the data rather than with its arguments (KEYS, SMEMBERS, LRANGE, SUNIONSTORE,
    /// RENAME, ...), and any command with very many or very large arguments. Redis's `fast`
    /// flag marks the commands whose time is bounded; of the others, the writes listed below
    /// take the time their arguments do (DEL is a range tombstone per key here, a list move one
    /// pop and one push), and SET is the write hot path, so they run in place. RENAMENX, MOVE
    /// and SWAPDB are `fast` in Redis, which moves pointers, but copy the members here. SETBIT
    /// and BITFIELD touch a few bits, unless they write so far into the string that growing it
    /// (to up to 512 MB) is the work; BITCOUNT, BITPOS, BITOP and LCS scan whole strings.
    pub fn may_run_long(&self, argv: &[Bytes]) -> bool {
        if argv.len() > LONG_ARGC || argv.iter().map(Bytes::len).sum::<usize>() > LONG_ARG_BYTES {
            return true;
        }
        if self.has(flags::FAST) {
            return matches!(self.name, "renamenx" | "move" | "swapdb");
        }
        match self.name {
            "setbit" => {
                return argv
                    .get(2)
                    .is_some_and(|o| strings::setbit_offset_reaches(o, LONG_ARG_BYTES))
            }
            "bitfield" => return strings::bitfield_writes_reach(argv, LONG_ARG_BYTES),
            _ => {}
        }
        !matches!(
            self.name,
            "set"
                | "setex"
                | "psetex"
                | "mset"
                | "msetnx"
                | "setrange"
                | "del"
                | "rpoplpush"
                | "lmove"
                | "blpop"
                | "brpop"
                | "brpoplpush"
                | "blmove"
        )
    }

    pub fn arity_ok(&self, argc: usize) -> bool {
        let argc = argc as i32;
        if self.arity >= 0 {
            argc == self.arity
        } else {
            argc >= -self.arity
        }
    }

    /// The key arguments of `args` (used by CLIENT/COMMAND GETKEYS and by routing).
    pub fn key_indexes(&self, argc: usize) -> Vec<usize> {
        let (first, last, step) = self.keys;
        if first <= 0 || step <= 0 {
            return Vec::new();
        }
        let last = if last < 0 { argc as i32 + last } else { last };
        (first..=last.min(argc as i32 - 1))
            .step_by(step as usize)
            .map(|i| i as usize)
            .collect()
    }
}

/// Errors a command reports to the client. Each maps to Redis's exact error text.
#[derive(Debug, thiserror::Error)]
pub enum CmdError {
    #[error("WRONGTYPE Operation against a key holding the wrong kind of value")]
    WrongType,
    #[error("ERR syntax error")]
    Syntax,
    #[error("ERR value is not an integer or out of range")]
    NotInteger,
    #[error("ERR value is not a valid float")]
    NotFloat,
    #[error("ERR increment or decrement would overflow")]
    Overflow,
    #[error("ERR no such key")]
    NoSuchKey,
    #[error("ERR index out of range")]
    IndexOutOfRange,
    #[error("ERR wrong number of arguments for '{0}' command")]
    WrongArity(String),
    /// `ERR <message>`
    #[error("ERR {0}")]
    Other(String),
    /// A complete error line with its own prefix (e.g. `NOAUTH ...`).
    #[error("{0}")]
    Raw(String),
    #[error("ERR storage failure: {0}")]
    Storage(#[from] StorageError),
}

impl CmdError {
    pub fn msg(m: impl Into<String>) -> CmdError {
        CmdError::Other(m.into())
    }

    pub fn into_reply(self) -> Reply {
        Reply::Error(self.to_string())
    }
}

impl From<CmdError> for Reply {
    fn from(e: CmdError) -> Reply {
        e.into_reply()
    }
}

/// Every command once, in a fixed order: a command's position is its id, which indexes the
/// per-command counters of INFO commandstats (an array of atomics, no map on the hot path).
struct Table {
    specs: Vec<&'static CommandSpec>,
    by_name: HashMap<&'static str, usize>,
}

static TABLE: LazyLock<Table> = LazyLock::new(|| {
    let families: [&'static [CommandSpec]; 12] = [
        server::COMMANDS,
        keys::COMMANDS,
        strings::COMMANDS,
        hashes::COMMANDS,
        lists::COMMANDS,
        sets::COMMANDS,
        zsets::COMMANDS,
        hyperloglog::COMMANDS,
        streams::COMMANDS,
        scripting::COMMANDS,
        server::SESSION_COMMANDS,
        pubsub::COMMANDS,
    ];
    let specs: Vec<&'static CommandSpec> = families.into_iter().flatten().collect();
    let mut by_name = HashMap::new();
    for (id, spec) in specs.iter().enumerate() {
        let previous = by_name.insert(spec.name, id);
        assert!(previous.is_none(), "command {} defined twice", spec.name);
    }
    Table { specs, by_name }
});

/// Finds a command by name, case-insensitively, with its id (see [`by_id`]).
pub fn lookup_id(name: &[u8]) -> Option<(usize, &'static CommandSpec)> {
    if name.len() > 32 {
        return None;
    }
    let lower = name.to_ascii_lowercase();
    let name = std::str::from_utf8(&lower).ok()?;
    let id = *TABLE.by_name.get(name)?;
    Some((id, TABLE.specs[id]))
}

/// Finds a command by name, case-insensitively.
pub fn lookup(name: &[u8]) -> Option<&'static CommandSpec> {
    lookup_id(name).map(|(_, spec)| spec)
}

/// The command with id `id` (below [`count`]).
pub fn by_id(id: usize) -> &'static CommandSpec {
    TABLE.specs[id]
}

/// How many commands there are: ids run from 0 to this, excluded.
pub fn count() -> usize {
    TABLE.specs.len()
}

/// Every command, Kiwi's internal ones (`kiwi.*`, spoken between its nodes) included.
pub fn all() -> impl Iterator<Item = &'static CommandSpec> {
    TABLE.specs.iter().copied()
}

/// The commands clients see in COMMAND, COMMAND COUNT and COMMAND DOCS: all but the internal.
pub fn public() -> impl Iterator<Item = &'static CommandSpec> {
    all().filter(|spec| lookup_public(spec.name.as_bytes()).is_some())
}

/// A command clients may look up by name in COMMAND INFO, DOCS and GETKEYS (not an internal one).
pub fn lookup_public(name: &[u8]) -> Option<&'static CommandSpec> {
    lookup(name).filter(|spec| !spec.name.starts_with("kiwi."))
}

/// The positions of the key arguments of `argv` (whose arity was checked), as COMMAND GETKEYS
/// reports them: the table's fixed positions, or for the commands whose keys are counted by an
/// argument (LMPOP, ZUNIONSTORE, ...) or follow an option (SORT ... STORE), what the arguments
/// say. `None` when they cannot say (a count that is not a positive integer or runs past the
/// end), which Redis reports as invalid arguments.
pub fn key_positions(spec: &CommandSpec, argv: &[Bytes]) -> Option<Vec<usize>> {
    // (position of the key count, keys before it)
    let counted = match spec.name {
        "lmpop" | "zmpop" | "sintercard" | "zinter" | "zunion" | "zdiff" | "zintercard" => {
            Some((1, &[][..]))
        }
        "blmpop" | "bzmpop" => Some((2, &[][..])),
        "zunionstore" | "zinterstore" | "zdiffstore" => Some((2, &[1usize][..])),
        name if scripting::is_numkeys_command(name) => Some((2, &[][..])),
        _ => None,
    };
    if let Some((at, before)) = counted {
        let n = args::parse_i64(argv.get(at)?).ok()?;
        let first = at + 1;
        if n <= 0 || first + n as usize > argv.len() {
            return None;
        }
        return Some(
            before
                .iter()
                .copied()
                .chain(first..first + n as usize)
                .collect(),
        );
    }
    if matches!(spec.name, "xread" | "xreadgroup") {
        // The keys are the first half of what follows STREAMS.
        let r = streams::parse_read(argv, spec.name == "xreadgroup").ok()?;
        return Some((r.keys_at..r.keys_at + r.nkeys).collect());
    }
    if spec.name == "sort" {
        // Redis's sortGetKeys: LIMIT takes two arguments, BY and GET one, STORE names a key.
        let mut keys = vec![1];
        let mut store = None;
        let mut i = 2;
        while i < argv.len() {
            let skip = match argv[i].to_ascii_lowercase().as_slice() {
                b"limit" => 2,
                b"by" | b"get" => 1,
                b"store" => {
                    store = Some(i + 1).filter(|at| *at < argv.len());
                    1
                }
                _ => 0,
            };
            i += 1 + skip;
        }
        keys.extend(store);
        return Some(keys);
    }
    Some(spec.key_indexes(argv.len()))
}

/// Runs a data command whose arity has been checked. Session commands reaching here are a bug
/// in the caller and answered with an error rather than a panic.
///
/// A Redis-level error (WRONGTYPE, a syntax error, an overflow...) is the command's reply: it
/// follows from the command and the data, so every replica answers it alike. A storage failure
/// (a RocksDB error, a record that does not decode) is this node's own trouble and comes back
/// as `Err`, for the caller to decide: a read answers it as an error, the applier stops, for
/// the command may have half-run and another replica would have run it whole.
pub fn execute(
    ctx: &mut Ctx<'_, '_>,
    spec: &CommandSpec,
    argv: &[Bytes],
) -> Result<Reply, StorageError> {
    match spec.kind {
        Kind::Data(handler) => match handler(ctx, &Args::new(argv)) {
            Ok(reply) => Ok(reply),
            Err(CmdError::Storage(e)) => Err(e),
            Err(e) => Ok(e.into_reply()),
        },
        Kind::Session => Ok(Reply::ok()),
    }
}

/// Runs `f`, which may take long (see [`CommandSpec::may_run_long`]), without holding up the
/// async worker thread it is called from: tokio first hands that worker's queued tasks (other
/// connections, the Raft core and its heartbeats, the state machine) to another thread, then
/// this thread finishes `f` as a blocking one. `f` stays on this thread, so it may use the
/// storage's `!Send` transactions. The hand-over costs a thread wake-up, which is why only
/// commands that may run long pay it: GET and SET run in place. On a current-thread runtime
/// (unit tests), where there is no other worker to hand over to, `f` simply runs.
pub fn run_long<T>(f: impl FnOnce() -> T) -> T {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current() {
        Ok(h) if h.runtime_flavor() == RuntimeFlavor::MultiThread => tokio::task::block_in_place(f),
        _ => f(),
    }
}

/// Redis's text for an unknown command: the name (at most 128 bytes), then each argument
/// quoted and followed by a space, while the argument text so far is under 128 bytes.
fn unknown_command(argv: &[Bytes]) -> CmdError {
    let name = &argv[0][..argv[0].len().min(128)];
    let mut args: Vec<u8> = Vec::new();
    for arg in &argv[1..] {
        if args.len() >= 128 {
            break;
        }
        let room = 128 - args.len();
        args.push(b'\'');
        args.extend_from_slice(&arg[..arg.len().min(room)]);
        args.extend_from_slice(b"' ");
    }
    CmdError::msg(format!(
        "unknown command '{}', with args beginning with: {}",
        String::from_utf8_lossy(name),
        String::from_utf8_lossy(&args)
    ))
}

/// Checks that `argv` names a known command with a valid arity.
pub fn resolve(argv: &[Bytes]) -> Result<&'static CommandSpec, CmdError> {
    resolve_id(argv).map(|(_, spec)| spec).map_err(|(_, e)| e)
}

/// [`resolve`], with the command's id; a command refused for its arity keeps its id (INFO
/// counts it as rejected).
pub fn resolve_id(
    argv: &[Bytes],
) -> Result<(usize, &'static CommandSpec), (Option<usize>, CmdError)> {
    let name = argv.first().ok_or((None, CmdError::Syntax))?;
    let (id, spec) = lookup_id(name).ok_or_else(|| (None, unknown_command(argv)))?;
    if !spec.arity_ok(argv.len()) {
        return Err((Some(id), CmdError::WrongArity(spec.name.to_string())));
    }
    Ok((id, spec))
}

#[cfg(test)]
pub(crate) mod testing {
    //! Runs commands against a real RocksDB in a temp dir, the way the applier does.
    use super::*;
    use crate::storage::{Db, StorageOptions};
    use std::sync::Arc;

    pub struct TestDb {
        _dir: tempfile::TempDir,
        pub db: Arc<Db>,
        pub now_ms: u64,
        rng: SplitMix64,
    }

    impl TestDb {
        pub fn new() -> TestDb {
            let dir = tempfile::tempdir().unwrap();
            let db = Db::open(dir.path(), &StorageOptions::default()).unwrap();
            TestDb {
                _dir: dir,
                db,
                now_ms: 1_700_000_000_000,
                rng: SplitMix64::new(7),
            }
        }

        /// Runs one command from a whitespace-separated line, committing writes.
        pub fn run(&mut self, line: &str) -> Reply {
            let argv = crate::resp::request::split_args(line.as_bytes()).unwrap();
            self.run_argv(&argv)
        }

        pub fn run_argv(&mut self, argv: &[Bytes]) -> Reply {
            self.run_argv_in(0, argv)
        }

        /// Runs one command line against database `db`, as after SELECT.
        pub fn run_in(&mut self, db: u8, line: &str) -> Reply {
            let argv = crate::resp::request::split_args(line.as_bytes()).unwrap();
            self.run_argv_in(db, &argv)
        }

        pub fn run_argv_in(&mut self, db: u8, argv: &[Bytes]) -> Reply {
            let spec = match resolve(argv) {
                Ok(spec) => spec,
                Err(e) => return e.into_reply(),
            };
            let mut txn = if spec.is_write() {
                self.db.writer()
            } else {
                self.db.reader()
            };
            let reply = {
                let mut ctx = Ctx {
                    txn: &mut txn,
                    db,
                    now_ms: self.now_ms,
                    rng: &mut self.rng,
                };
                execute(&mut ctx, spec, argv).unwrap_or_else(|e| CmdError::Storage(e).into_reply())
            };
            if spec.is_write() {
                self.db.commit(txn, false).unwrap();
            }
            resp2_shape(reply)
        }
    }

    /// The reply as RESP2 lays it out (pairs flattened), the shape these tests are written in;
    /// the RESP3 shapes are tested where replies are encoded.
    fn resp2_shape(reply: Reply) -> Reply {
        match reply {
            Reply::Pairs(pairs) => Reply::Array(
                pairs
                    .into_iter()
                    .flat_map(|(a, b)| [resp2_shape(a), resp2_shape(b)])
                    .collect(),
            ),
            Reply::KeyedPairs(pairs) => Reply::Array(
                pairs
                    .into_iter()
                    .map(|(a, b)| Reply::Array(vec![resp2_shape(a), resp2_shape(b)]))
                    .collect(),
            ),
            Reply::Array(items) => Reply::Array(items.into_iter().map(resp2_shape).collect()),
            other => other,
        }
    }

    pub fn bulk(s: &str) -> Reply {
        Reply::bulk(Bytes::copy_from_slice(s.as_bytes()))
    }

    pub fn bulks(items: &[&str]) -> Reply {
        Reply::Array(items.iter().map(|s| bulk(s)).collect())
    }

    pub fn int(n: i64) -> Reply {
        Reply::Int(n)
    }

    pub fn err(msg: &str) -> Reply {
        Reply::Error(msg.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn long(name: &str) -> bool {
        let argv = [Bytes::copy_from_slice(name.as_bytes()), Bytes::from("k")];
        lookup(name.as_bytes())
            .unwrap_or_else(|| panic!("no command {name}"))
            .may_run_long(&argv)
    }

    #[test]
    fn commands_that_scan_run_long_and_the_hot_path_does_not() {
        for name in [
            "keys",
            "scan",
            "smembers",
            "hgetall",
            "lrange",
            "zrange",
            "sunion",
            "sunionstore",
            "zunionstore",
            "rename",
            "renamenx",
            "move",
            "swapdb",
            "copy",
            "dump",
            "restore",
            "sort",
            "sort_ro",
            "ltrim",
            "flushall",
        ] {
            assert!(long(name), "{name}");
        }
        for name in [
            "get", "set", "mget", "mset", "del", "incr", "hset", "sadd", "zadd", "lpush", "ping",
            "touch",
        ] {
            assert!(!long(name), "{name}");
        }
        for name in ["bitcount", "bitpos", "bitop", "lcs", "getrange"] {
            assert!(long(name), "{name}");
        }
        let argv = |line: &str| -> Vec<Bytes> {
            line.split(' ')
                .map(|a| Bytes::copy_from_slice(a.as_bytes()))
                .collect()
        };
        let runs_long = |line: &str| {
            let argv = argv(line);
            lookup(&argv[0]).unwrap().may_run_long(&argv)
        };
        for line in [
            "getbit k 4294967295",
            "bitfield_ro k GET u8 4294967200",
            "setbit k 7 1",
            "setbit k 8388607 1",
            "setbit k x 1",
            "bitfield k SET u8 8388592 1 GET u8 4294967200",
            "bitfield k OVERFLOW SAT INCRBY i64 #10 1",
        ] {
            assert!(!runs_long(line), "{line}");
        }
        for line in [
            "setbit k 8388608 1",
            "setbit k 4294967295 0",
            "bitfield k GET u8 0 SET u8 #1048576 1",
        ] {
            assert!(runs_long(line), "{line}");
        }
        let get = lookup(b"mget").unwrap();
        let many: Vec<Bytes> = (0..2000).map(|i| Bytes::from(i.to_string())).collect();
        assert!(get.may_run_long(&many), "very many arguments");
        let set = lookup(b"set").unwrap();
        let big = [
            Bytes::from("set"),
            Bytes::from("k"),
            Bytes::from(vec![b'x'; 2 << 20]),
        ];
        assert!(set.may_run_long(&big), "very large arguments");
    }

    #[test]
    fn run_long_runs_in_place_on_a_current_thread_runtime() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        assert_eq!(rt.block_on(async { run_long(|| 7) }), 7);
        assert_eq!(run_long(|| 8), 8, "outside a runtime");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn run_long_keeps_the_other_tasks_of_its_worker_going() {
        // A task spawned from this one lands on this worker's own queue: without the hand-over
        // it could not run before the long closure ends.
        let (tx, rx) = std::sync::mpsc::channel();
        let other = tokio::spawn(async move { tx.send(()).unwrap() });
        let waited = run_long(|| rx.recv_timeout(std::time::Duration::from_secs(10)));
        assert!(waited.is_ok(), "the other task did not run meanwhile");
        other.await.unwrap();
    }
}
