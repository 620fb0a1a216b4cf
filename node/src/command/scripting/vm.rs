//! One run of a script or a function on a fresh Lua state.
//!
//! A fresh state per run costs a few tens of microseconds and buys isolation: nothing a script
//! leaves behind can reach the next one, so every replica, running the same scripts in the same
//! order from any point (a restart, a snapshot), computes the same thing.
//!
//! Every input a script can observe is deterministic: the data (its transaction), the
//! mutation's clock (`redis.call('TIME')`), the mutation's seed (SPOP, SRANDMEMBER, ...), and
//! `math.random`, which is Redis's own rand48 reseeded with 0 at the start of every run
//! (redis-server 7.0 keeps the generator's state from one script to the next, which a replica
//! that restarted or joined later could not reproduce). Two things are not,
//! in Kiwi as in Redis's verbatim replication of old: the iteration order of tables keyed by
//! tables or functions, and `tostring` of such values (both depend on memory addresses).
//!
//! A run is bounded: a hook counts instructions and aborts the script past
//! [`INSTRUCTION_BUDGET`], the same on every replica; the Lua heap is capped at
//! [`MEMORY_LIMIT`]. A script aborted so has its writes undone (see `mod.rs`). A script running
//! on the read path may also be killed (SCRIPT KILL / FUNCTION KILL).

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use mlua::{
    Function, HookTriggers, LightUserData, Lua, LuaOptions, MultiValue, StdLib, Table, Value,
    VmState,
};

use super::convert::{error_table, lua_to_reply, reply_to_lua};
use super::libs;
use crate::command::{self, CmdError, Ctx, Kind};
use crate::resp::Reply;
use crate::storage::StorageError;

/// Instructions a script may run: about a second or a few of work. Fixed, not configured, so
/// that every replica stops a runaway script at the same instruction.
pub const INSTRUCTION_BUDGET: u64 = 1_000_000_000;
/// How often the hook runs (and a kill is noticed), in instructions.
const HOOK_EVERY: u32 = 10_000;
/// The most memory a script's Lua state may hold.
pub const MEMORY_LIMIT: usize = 512 << 20;

const PRELUDE: &str = include_str!("prelude.lua");

/// Why a run was stopped before it ended by itself. Its writes are undone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Abort {
    Budget,
    Memory,
    Killed,
}

/// What kind of code runs: it names the chunk (`@user_script`, `@user_function`) as Redis
/// does, which error messages show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Script,
    Function,
}

impl Source {
    fn chunk_name(self) -> &'static str {
        match self {
            Source::Script => "@user_script",
            Source::Function => "@user_function",
        }
    }

    fn kill_command(self) -> &'static str {
        match self {
            Source::Script => "SCRIPT KILL",
            Source::Function => "FUNCTION KILL",
        }
    }
}

/// How a script runs.
pub struct Run<'r> {
    /// What errors name the script by: its SHA1, or the function's name.
    pub name: &'r str,
    pub source: Source,
    /// Write commands are refused (EVAL_RO, FCALL_RO, `no-writes`).
    pub read_only: bool,
    /// Raised by SCRIPT KILL: only for runs on the read path, where stopping one node's run
    /// changes nothing on the others.
    pub kill: Option<Arc<AtomicBool>>,
}

/// How a run ended.
#[derive(Debug)]
pub enum Ending {
    /// The script's reply (an error reply included).
    Reply(Reply),
    /// The run was stopped: the error to answer; its writes must be undone.
    Aborted(Reply),
}

/// A function a library registered.
#[derive(Debug, Clone)]
pub struct Registered {
    pub name: String,
    pub description: Option<String>,
    pub flags: u8,
}

/// State shared by the hook and the callbacks of one run.
struct RunState {
    resp3: Cell<bool>,
    instructions: Cell<u64>,
    abort: Cell<Option<Abort>>,
    rand: Rc<Cell<u64>>,
    /// A storage failure met by `redis.call`: the run must not be answered, but fail.
    storage: RefCell<Option<StorageError>>,
    registered: RefCell<Vec<(Registered, Function)>>,
}

impl RunState {
    /// The state of a run that has not started: nothing counted, Lua's generator at Redis's
    /// seed.
    fn fresh() -> Rc<RunState> {
        Rc::new(RunState {
            resp3: Cell::new(false),
            instructions: Cell::new(0),
            abort: Cell::new(None),
            rand: Rc::new(Cell::new(libs::RAND48_SEED0)),
            storage: RefCell::new(None),
            registered: RefCell::new(Vec::new()),
        })
    }
}

/// A new Lua state with Redis's libraries and the prelude run; returns the prelude's API.
/// `globals` are KEYS and ARGV, for a script (a function gets them as arguments).
fn new_state(
    state: &Rc<RunState>,
    kill: Option<Arc<AtomicBool>>,
    globals: Option<(&[Bytes], &[Bytes])>,
) -> mlua::Result<(Lua, Table)> {
    // The debug library is loaded for the prelude's error handler alone, which keeps
    // `debug.getinfo`; the prelude removes the global before any user code runs.
    let lua = unsafe {
        Lua::unsafe_new_with(
            StdLib::STRING | StdLib::TABLE | StdLib::MATH | StdLib::DEBUG,
            LuaOptions::new(),
        )
    };
    if let Some((keys, args)) = globals {
        // Set before the prelude, which copies the globals it keeps and protects them.
        lua.globals().raw_set("KEYS", string_array(&lua, keys)?)?;
        lua.globals().raw_set("ARGV", string_array(&lua, args)?)?;
    }
    let raw = lua.create_table()?;
    libs::install(&lua, &raw, state.rand.clone())?;
    {
        let state = state.clone();
        raw.set(
            "setresp",
            lua.create_function(move |_, args: MultiValue| {
                if args.len() != 1 {
                    return Err(table_error("ERR redis.setresp() requires one argument."));
                }
                match args.front().and_then(lua_number) {
                    Some(v) if v == 2.0 || v == 3.0 => {
                        state.resp3.set(v == 3.0);
                        Ok(())
                    }
                    _ => Err(table_error("ERR RESP version must be 2 or 3.")),
                }
            })?,
        )?;
    }
    raw.set(
        "set_repl",
        lua.create_function(|_, args: MultiValue| {
            if args.len() != 1 {
                return Err(table_error("ERR redis.set_repl() requires one argument."));
            }
            match args.front().and_then(lua_number) {
                Some(v) if (0.0..=3.0).contains(&v) => Ok(()),
                _ => Err(table_error(
                    "ERR Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or \
                     REPL_NONE.",
                )),
            }
        })?,
    )?;
    raw.set(
        "acl_check_cmd",
        lua.create_function(|_, args: MultiValue| {
            let Some(first) = args.front() else {
                return Err(table_error(
                    "ERR Please specify at least one argument for this redis lib call",
                ));
            };
            let known = match first {
                Value::String(s) => command::lookup_public(&s.as_bytes()).is_some(),
                _ => false,
            };
            if !known {
                return Err(table_error(
                    "ERR Invalid command passed to redis.acl_check_cmd()",
                ));
            }
            Ok(true)
        })?,
    )?;
    raw.set(
        "log",
        lua.create_function(|lua, args: MultiValue| {
            if args.len() < 2 {
                return Err(table_error(
                    "ERR redis.log() requires two arguments or more.",
                ));
            }
            match args.front().and_then(lua_number) {
                None => {
                    return Err(table_error(
                        "ERR First argument must be a number (log level).",
                    ))
                }
                Some(l) if !(0.0..=3.0).contains(&l) => {
                    return Err(table_error("ERR Invalid debug level."))
                }
                Some(_) => {}
            }
            let mut parts = Vec::new();
            let mut level = 0;
            for (i, v) in args.into_iter().enumerate() {
                if i == 0 {
                    level = v.as_i64().unwrap_or(0);
                    continue;
                }
                // Numbers are logged as Lua prints them.
                if let Some(s) = lua.coerce_string(v)? {
                    parts.push(s.to_string_lossy());
                }
            }
            let text = parts.join(" ");
            match level {
                3 => tracing::warn!(target: "kiwi::script", "{text}"),
                2 => tracing::info!(target: "kiwi::script", "{text}"),
                _ => tracing::debug!(target: "kiwi::script", "{text}"),
            }
            Ok(())
        })?,
    )?;
    {
        let state = state.clone();
        raw.set(
            "register",
            lua.create_function(move |_, args: MultiValue| {
                match super::functions::parse_registration(args) {
                    Ok((registered, callback)) => {
                        let mut all = state.registered.borrow_mut();
                        if all.iter().any(|(r, _)| r.name == registered.name) {
                            return Ok(Some("Function already exists in the library".to_string()));
                        }
                        all.push((registered, callback));
                        Ok(None)
                    }
                    Err(msg) => Ok(Some(msg)),
                }
            })?,
        )?;
    }
    raw.set(
        "null",
        Value::LightUserData(LightUserData(std::ptr::null_mut())),
    )?;
    raw.set(
        "error_text",
        lua.create_function(|lua, v: Value| {
            let found = match v {
                Value::Error(e) => table_error_text(&e),
                _ => None,
            };
            let Some((text, positioned)) = found else {
                return Ok(None);
            };
            let t = lua.create_table()?;
            t.raw_set(1, text)?;
            t.raw_set(2, positioned)?;
            Ok(Some(t))
        })?,
    )?;
    // The library functions that fail report `(false, message)`; raised from Rust, the
    // caller's frame stays on the stack for the message's position, tail call or not.
    for name in [
        "sha1hex",
        "random",
        "cjson_encode",
        "cjson_decode",
        "cmsgpack_pack",
    ] {
        let inner: Function = raw.get(name)?;
        let raising = lua.create_function(move |_, args: MultiValue| {
            let (ok, v): (bool, Value) = inner.call(args)?;
            if ok {
                return Ok(v);
            }
            let text = match v {
                Value::String(s) => s.to_string_lossy(),
                other => format!("{other:?}"),
            };
            Err(mlua::Error::external(TableError::Positioned(text)))
        })?;
        raw.set(name, raising)?;
    }
    let unpack: Function = raw.get("cmsgpack_unpack")?;
    raw.set(
        "cmsgpack_unpack",
        lua.create_function(move |_, args: MultiValue| {
            let (ok, values, n): (bool, Value, usize) = unpack.call(args)?;
            match values {
                Value::Table(t) if ok => (1..=n).map(|i| t.raw_get::<Value>(i)).collect(),
                Value::String(s) => Err(mlua::Error::external(TableError::Positioned(
                    s.to_string_lossy(),
                ))),
                _ => Ok(MultiValue::new()),
            }
        })?,
    )?;

    let api: Table = lua
        .load(PRELUDE)
        .set_name("=kiwi")
        .set_mode(mlua::ChunkMode::Text)
        .call(raw.clone())?;
    api.set("raw", raw)?;
    lua.set_memory_limit(MEMORY_LIMIT)?;
    let hook_state = state.clone();
    lua.set_hook(
        HookTriggers::new().every_nth_instruction(HOOK_EVERY),
        move |lua, _| {
            if let Some(abort) = hook_state.abort.get() {
                // The script caught the abort (pcall) and went on. Every Lua error can be
                // caught, and mlua hands a Rust panic to pcall as an error too; so, as Redis
                // does with its line hook, raise the abort again on every instruction from now
                // on: the first one outside a pcall carries it to `run`. (The state is the
                // run's own, so the hook goes with it.)
                lua.set_hook(HookTriggers::new().every_nth_instruction(1), move |_, _| {
                    Err(mlua::Error::runtime(abort_message(abort, Source::Script)))
                })?;
                return Err(mlua::Error::runtime(abort_message(abort, Source::Script)));
            }
            let n = hook_state.instructions.get() + u64::from(HOOK_EVERY);
            hook_state.instructions.set(n);
            let killed = kill.as_ref().is_some_and(|k| k.load(Ordering::Relaxed));
            let abort = if killed {
                Some(Abort::Killed)
            } else if n > INSTRUCTION_BUDGET {
                Some(Abort::Budget)
            } else {
                None
            };
            if let Some(abort) = abort {
                hook_state.abort.set(Some(abort));
                return Err(mlua::Error::runtime(abort_message(abort, Source::Script)));
            }
            Ok(VmState::Continue)
        },
    )?;
    Ok((lua, api))
}

/// An error raised as Redis raises a table `{err = text}`: the prelude's error handler turns it
/// back into that table.
/// `Positioned` is a library's failure, which Lua's C libraries raise with the caller's
/// position (`user_script:1: ...`).
#[derive(Debug)]
enum TableError {
    Table(String),
    Positioned(String),
}

impl std::fmt::Display for TableError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TableError::Table(t) | TableError::Positioned(t) => f.write_str(t),
        }
    }
}

impl std::error::Error for TableError {}

/// The text of a [`TableError`] and whether it takes the caller's position.
/// A Lua number argument (mlua gives integral ones as integers).
fn lua_number(v: &Value) -> Option<f64> {
    match v {
        Value::Integer(n) => Some(*n as f64),
        Value::Number(n) => Some(*n),
        _ => None,
    }
}

fn table_error(text: &str) -> mlua::Error {
    mlua::Error::external(TableError::Table(text.to_string()))
}

fn table_error_text(e: &mlua::Error) -> Option<(String, bool)> {
    match e {
        mlua::Error::CallbackError { cause, .. } => table_error_text(cause),
        mlua::Error::ExternalError(inner) => match inner.downcast_ref::<TableError>()? {
            TableError::Table(t) => Some((t.clone(), false)),
            TableError::Positioned(t) => Some((t.clone(), true)),
        },
        _ => None,
    }
}

fn abort_message(abort: Abort, source: Source) -> String {
    match abort {
        Abort::Budget => format!(
            "ERR Script exceeded the budget of {INSTRUCTION_BUDGET} Lua instructions and was \
             aborted; its writes were undone"
        ),
        Abort::Memory => format!(
            "ERR Script exceeded the Lua memory limit of {} MB and was aborted; its writes \
             were undone",
            MEMORY_LIMIT >> 20
        ),
        Abort::Killed => format!(
            "ERR Script killed by user with {}...",
            source.kill_command()
        ),
    }
}

/// What a script or function runs: EVAL's body, or a library and one of its functions.
#[derive(Clone, Copy)]
pub enum Code<'c> {
    Script(&'c [u8]),
    Function {
        library: &'c [u8],
        function: &'c str,
    },
}

/// Runs `code` against `ctx`. A Redis-level failure (a compile error, a runtime error) is the
/// reply; a storage failure met by a command is `Err`, as for any command.
pub fn run(
    ctx: &mut Ctx<'_, '_>,
    run: &Run<'_>,
    code: Code<'_>,
    keys: &[Bytes],
    args: &[Bytes],
) -> Result<Ending, CmdError> {
    let state = RunState::fresh();
    let outcome = run_in_state(ctx, run, code, keys, args, &state);
    // The callbacks a library registered refer to its (now closed) Lua state.
    state.registered.borrow_mut().clear();
    if let Some(e) = state.storage.borrow_mut().take() {
        return Err(CmdError::Storage(e));
    }
    if let Some(abort) = state.abort.get() {
        return Ok(Ending::Aborted(Reply::Error(abort_message(
            abort, run.source,
        ))));
    }
    match outcome {
        Ok(reply) => Ok(Ending::Reply(reply)),
        // Not enough memory is how Lua reports the limit; other failures of the state itself
        // (which a script cannot cause) are answered as errors.
        Err(mlua::Error::MemoryError(_)) => Ok(Ending::Aborted(Reply::Error(abort_message(
            Abort::Memory,
            run.source,
        )))),
        Err(e) => Ok(Ending::Reply(Reply::err(format!(
            "Error running script {}: {e}",
            run.name
        )))),
    }
}

fn run_in_state(
    ctx: &mut Ctx<'_, '_>,
    run: &Run<'_>,
    code: Code<'_>,
    keys: &[Bytes],
    args: &[Bytes],
    state: &Rc<RunState>,
) -> mlua::Result<Reply> {
    let globals = match code {
        Code::Script(_) => Some((keys, args)),
        Code::Function { .. } => None,
    };
    let (lua, api) = new_state(state, run.kill.clone(), globals)?;
    let invoke: Function = api.get("invoke")?;
    let redis: Table = api.get("redis")?;
    let ctx = RefCell::new(ctx);
    let call_or_error = |lua: &Lua, args: MultiValue| -> mlua::Result<(Value, bool)> {
        let failed = |lua: &Lua, msg: &str| -> mlua::Result<(Value, bool)> {
            Ok((Value::Table(error_table(lua, msg)?), true))
        };
        let argv = match command_args(lua, args) {
            Ok(argv) => argv,
            Err(msg) => return failed(lua, msg),
        };
        let mut ctx = ctx.borrow_mut();
        match dispatch(&mut ctx, run, &argv) {
            Ok(reply) => {
                let is_error = reply.is_error();
                Ok((reply_to_lua(lua, &reply, state.resp3.get())?, is_error))
            }
            Err(CmdError::Storage(e)) => {
                *state.storage.borrow_mut() = Some(e);
                Err(mlua::Error::runtime("storage failure"))
            }
            Err(e) => failed(lua, &e.to_string()),
        }
    };
    let call_or_error = &call_or_error;
    lua.scope(|scope| {
        // redis.call raises a command's error; it is a Rust function, so that the user's frame
        // stays on the stack (for the error's line) even in `return redis.call(...)`.
        let call = scope.create_function(move |lua, args: MultiValue| {
            let (value, failed) = call_or_error(lua, args)?;
            if failed {
                let text = match &value {
                    Value::Table(t) => t.raw_get::<String>("err")?,
                    _ => "ERR unknown error".to_string(),
                };
                return Err(mlua::Error::external(TableError::Table(text)));
            }
            Ok(value)
        })?;
        let pcall =
            scope.create_function(move |lua, args: MultiValue| Ok(call_or_error(lua, args)?.0))?;
        redis.raw_set("call", call)?;
        redis.raw_set("pcall", pcall)?;
        let (ok, value) = match code {
            Code::Script(body) => {
                let chunk = match compile(&lua, body, Source::Script) {
                    Ok(f) => f,
                    Err(msg) => {
                        return Ok(Reply::err(format!(
                            "Error compiling script (new function): {msg}"
                        )))
                    }
                };
                invoke.call::<(bool, Value)>((chunk, Value::Nil, Value::Nil))?
            }
            Code::Function { library, function } => {
                let callback = match load_library(&lua, &api, &invoke, library, state)? {
                    Ok(()) => state
                        .registered
                        .borrow()
                        .iter()
                        .find(|(r, _)| r.name == function)
                        .map(|(_, f)| f.clone()),
                    Err(reply) => return Ok(reply),
                };
                let Some(callback) = callback else {
                    return Ok(Reply::err("Function not found"));
                };
                api.get::<Function>("script_env")?.call::<()>(())?;
                let keys = string_array(&lua, keys)?;
                let args = string_array(&lua, args)?;
                invoke.call::<(bool, Value)>((callback, keys, args))?
            }
        };
        if ok {
            Ok(lua_to_reply(&value, state.resp3.get()))
        } else {
            // Lua reports running out of memory with this message, past the error handler.
            if matches!(&value, Value::String(s) if s.as_bytes().as_ref() == b"not enough memory") {
                state.abort.set(Some(Abort::Memory));
            }
            Ok(error_reply(&value, run.name))
        }
    })
}

/// Runs a library's code in the library environment, collecting what it registers. `Err` is
/// the reply to a library that does not load.
fn load_library(
    lua: &Lua,
    api: &Table,
    invoke: &Function,
    code: &[u8],
    state: &Rc<RunState>,
) -> mlua::Result<Result<(), Reply>> {
    let body = super::functions::library_body(code);
    let chunk = match compile(lua, body, Source::Function) {
        Ok(f) => f,
        Err(msg) => return Ok(Err(Reply::err(format!("Error compiling function: {msg}")))),
    };
    api.get::<Function>("library_env")?.call::<()>(())?;
    let (ok, value) = invoke.call::<(bool, Value)>((chunk, Value::Nil, Value::Nil))?;
    if !ok {
        let msg = match &value {
            Value::Table(t) => t
                .raw_get::<Option<mlua::String>>("err")?
                .map(|s| s.to_string_lossy())
                .unwrap_or_else(|| "ERR unknown error".into()),
            other => format!("ERR {other:?}"),
        };
        return Ok(Err(Reply::err(format!(
            "Error registering functions: {msg}"
        ))));
    }
    if state.registered.borrow().is_empty() {
        return Ok(Err(Reply::err("No functions registered")));
    }
    Ok(Ok(()))
}

/// Loads a library on a fresh state, for FUNCTION LOAD and RESTORE: the functions it
/// registers, or the reply to a library that does not load.
pub fn register_library(code: &[u8]) -> Result<Vec<Registered>, Reply> {
    let state = RunState::fresh();
    let loaded = (|| -> mlua::Result<Result<(), Reply>> {
        let (lua, api) = new_state(&state, None, None)?;
        let invoke: Function = api.get("invoke")?;
        let loaded = load_library(&lua, &api, &invoke, code, &state);
        drop(invoke);
        drop(api);
        loaded
    })();
    let registered: Vec<Registered> = state
        .registered
        .borrow_mut()
        .drain(..)
        .map(|(r, _)| r)
        .collect();
    if let Some(abort) = state.abort.get() {
        return Err(Reply::Error(abort_message(abort, Source::Function)));
    }
    match loaded {
        Ok(Ok(())) => Ok(registered),
        Ok(Err(reply)) => Err(reply),
        Err(e) => Err(Reply::err(format!("Error registering functions: {e}"))),
    }
}

/// Whether a script compiles (SCRIPT LOAD): `Err` is Lua's message.
pub fn check_compiles(body: &[u8]) -> Result<(), String> {
    let lua = Lua::new_with(StdLib::NONE, LuaOptions::new()).map_err(|e| e.to_string())?;
    compile(&lua, body, Source::Script).map(|_| ())
}

/// Compiles `body` as the user's chunk; `Err` is Lua's message.
fn compile(lua: &Lua, body: &[u8], source: Source) -> Result<Function, String> {
    lua.load(body)
        .set_name(source.chunk_name())
        .set_mode(mlua::ChunkMode::Text)
        .into_function()
        .map_err(|e| match e {
            mlua::Error::SyntaxError { message, .. } => message,
            other => other.to_string(),
        })
}

fn string_array(lua: &Lua, items: &[Bytes]) -> mlua::Result<Table> {
    let t = lua.create_table_with_capacity(items.len(), 0)?;
    for (i, item) in items.iter().enumerate() {
        t.raw_set(i + 1, lua.create_string(item)?)?;
    }
    Ok(t)
}

/// The error reply of a script that raised `err` (the handler's table): Redis's
/// `<error> script: <name>, on <source>:<line>.`
fn error_reply(err: &Value, name: &str) -> Reply {
    let Value::Table(t) = err else {
        return Reply::err(format!("Error running script {name}, execution failure"));
    };
    let msg = match t.raw_get::<Value>("err") {
        Ok(Value::String(s)) => s.to_string_lossy(),
        _ => "ERR unknown error".to_string(),
    };
    let source = t.raw_get::<Option<mlua::String>>("source").ok().flatten();
    let line = t.raw_get::<Option<i64>>("line").ok().flatten();
    match (source, line) {
        (Some(source), Some(line)) => Reply::Error(format!(
            "{msg} script: {name}, on {}:{line}.",
            source.to_string_lossy()
        )),
        _ => Reply::Error(msg),
    }
}

/// The arguments of `redis.call` as a command line, or Redis's error.
fn command_args(lua: &Lua, args: MultiValue) -> Result<Vec<Bytes>, &'static str> {
    if args.is_empty() {
        return Err("ERR Please specify at least one argument for this redis lib call");
    }
    let mut argv = Vec::with_capacity(args.len());
    for v in args {
        match v {
            Value::String(s) => argv.push(Bytes::copy_from_slice(&s.as_bytes())),
            Value::Integer(_) | Value::Number(_) => match lua.coerce_string(v) {
                Ok(Some(s)) => argv.push(Bytes::copy_from_slice(&s.as_bytes())),
                _ => return Err("ERR Lua redis lib command arguments must be strings or integers"),
            },
            _ => return Err("ERR Lua redis lib command arguments must be strings or integers"),
        }
    }
    Ok(argv)
}

/// Commands a script may not run, beyond the connection's own (Redis's `noscript` flag).
fn not_allowed_in_scripts(name: &str) -> bool {
    matches!(
        name,
        "eval"
            | "evalsha"
            | "eval_ro"
            | "evalsha_ro"
            | "script"
            | "function"
            | "fcall"
            | "fcall_ro"
    ) || name.starts_with("kiwi.")
}

/// Runs one `redis.call` against the script's transaction.
fn dispatch(ctx: &mut Ctx<'_, '_>, run: &Run<'_>, argv: &[Bytes]) -> Result<Reply, CmdError> {
    let Some(spec) = command::lookup(&argv[0]) else {
        return Err(CmdError::msg("Unknown Redis command called from script"));
    };
    if !spec.arity_ok(argv.len()) {
        return Err(CmdError::msg(
            "Wrong number of args calling Redis command from script",
        ));
    }
    match spec.name {
        // SELECT changes the database of the rest of the script, as in Redis.
        "select" => {
            let db = command::args::parse_i64(&argv[1])?;
            if !(0..16).contains(&db) {
                return Err(CmdError::msg("DB index is out of range"));
            }
            ctx.db = db as u8;
            return Ok(Reply::ok());
        }
        // The mutation's clock: every replica answers the same.
        "time" => {
            let micros = ctx.now_ms * 1000;
            return Ok(Reply::bulks([
                (micros / 1_000_000).to_string(),
                (micros % 1_000_000).to_string(),
            ]));
        }
        _ => {}
    }
    if matches!(spec.kind, Kind::Session)
        || spec.has(command::flags::BLOCKING)
        || not_allowed_in_scripts(spec.name)
    {
        return Err(CmdError::msg(
            "This Redis command is not allowed from script",
        ));
    }
    if spec.is_write() && (run.read_only || !ctx.txn.is_writable()) {
        return Err(CmdError::msg(
            "Write commands are not allowed from read-only scripts.",
        ));
    }
    match command::execute(ctx, spec, argv) {
        Ok(reply) => Ok(reply),
        Err(e) => Err(CmdError::Storage(e)),
    }
}
