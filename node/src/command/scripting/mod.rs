//! Scripting: EVAL, EVALSHA, their `_RO` forms, SCRIPT, FUNCTION, FCALL and FCALL_RO.
//!
//! Replication: a script that may write is one mutation. The EVAL (or FCALL) command itself is
//! the log entry, and every replica runs the script in log order against its own transaction,
//! with the mutation's clock and seed (see `vm`): the script's writes are atomic and isolated,
//! a transaction like MULTI. A read-only script (EVAL_RO, EVALSHA_RO, FCALL_RO, an EVAL whose
//! shebang says `no-writes`, a function flagged `no-writes`) runs on the read path instead, on
//! a snapshot after the read barrier, without the log ([`route`]).
//!
//! The script cache and the function libraries are data like any other (`store`): SCRIPT LOAD,
//! EVAL (which caches its script, as Redis does), SCRIPT FLUSH and FUNCTION LOAD / DELETE /
//! FLUSH / RESTORE are replicated writes, so EVALSHA and FCALL work on every node, after a
//! restart and after a leader change.
//!
//! A runaway script is stopped by a fixed instruction budget (`vm::INSTRUCTION_BUDGET`) and a
//! memory limit, the same on every replica, and its writes are undone, so that no replica holds
//! half of an aborted script; an error raised by the script itself keeps the writes made
//! before it, as in Redis. SCRIPT KILL and FUNCTION KILL stop a script running on the read
//! path (killing one replica's run of a write would make it differ from the others): a script
//! running in the log's apply answers UNKILLABLE.

mod convert;
pub mod functions;
mod libs;
mod store;
#[cfg(test)]
mod tests;
pub mod vm;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;

use super::flags::{MOVABLEKEYS, READONLY};
use super::{spec, Args, CmdError, CmdResult, CommandSpec, Ctx};
use crate::resp::Reply;
use crate::storage::Db;
use functions::arg;
use vm::{Code, Ending, Run, Source};

pub use libs::sha1_hex;

pub const COMMANDS: &[CommandSpec] = &[
    spec!("eval", -3, MOVABLEKEYS, (0, 0, 0), eval),
    spec!("evalsha", -3, MOVABLEKEYS, (0, 0, 0), evalsha),
    spec!("eval_ro", -3, READONLY | MOVABLEKEYS, (0, 0, 0), eval_ro),
    spec!(
        "evalsha_ro",
        -3,
        READONLY | MOVABLEKEYS,
        (0, 0, 0),
        evalsha_ro
    ),
    spec!("fcall", -3, MOVABLEKEYS, (0, 0, 0), fcall),
    spec!("fcall_ro", -3, READONLY | MOVABLEKEYS, (0, 0, 0), fcall_ro),
    spec!("script", -2, 0, (0, 0, 0), script),
    spec!("function", -2, 0, (0, 0, 0), functions::function),
];

/// Where a scripting command runs (see [`route`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// Through the log, on every replica.
    Write,
    /// On the read path.
    Read,
    /// Here and now, without waiting for anything: SCRIPT KILL and FUNCTION KILL, which must
    /// reach a script that holds up the reads or the apply of this node.
    Local,
}

/// Where `argv` runs, for the scripting commands (`None` for any other). A script that may
/// write, or whose script or function is not known here yet, goes through the log, which
/// decides everything again when it runs; only what is known to be read-only is read.
pub fn route(spec: &CommandSpec, argv: &[Bytes], db: &Db) -> Option<Route> {
    let sub = || {
        argv.get(1)
            .map(|s| s.to_ascii_lowercase())
            .unwrap_or_default()
    };
    Some(match spec.name {
        "eval_ro" | "evalsha_ro" | "fcall_ro" => Route::Read,
        "eval" => match parse_shebang(argv.get(1)?) {
            Ok(Some(flags)) if flags & functions::NO_WRITES != 0 => Route::Read,
            _ => Route::Write,
        },
        "evalsha" => {
            let sha = argv.get(1)?.to_ascii_lowercase();
            match store::script(&db.reader(), &sha) {
                Ok(Some(body)) => match parse_shebang(&body) {
                    Ok(Some(flags)) if flags & functions::NO_WRITES != 0 => Route::Read,
                    _ => Route::Write,
                },
                _ => Route::Write,
            }
        }
        "fcall" => match store::function(&db.reader(), argv.get(1)?) {
            Ok(Some(entry)) if entry.flags & functions::NO_WRITES != 0 => Route::Read,
            _ => Route::Write,
        },
        "script" => match sub().as_slice() {
            b"load" | b"flush" => Route::Write,
            b"kill" => Route::Local,
            _ => Route::Read,
        },
        "function" => match sub().as_slice() {
            b"load" | b"delete" | b"flush" | b"restore" => Route::Write,
            b"kill" => Route::Local,
            _ => Route::Read,
        },
        _ => return None,
    })
}

/// The key arguments of EVAL and FCALL and their forms: `numkeys` at 2, the keys after it.
pub fn is_numkeys_command(name: &str) -> bool {
    matches!(
        name,
        "eval" | "evalsha" | "eval_ro" | "evalsha_ro" | "fcall" | "fcall_ro"
    )
}

/// The flags of an EVAL script's shebang (`#!lua flags=no-writes,...`): `None` without one.
pub fn parse_shebang(body: &[u8]) -> Result<Option<u8>, CmdError> {
    if !body.starts_with(b"#!") {
        return Ok(None);
    }
    let end = body.iter().position(|&c| c == b'\n').unwrap_or(body.len());
    let line = String::from_utf8_lossy(&body[..end]).to_string();
    let mut parts = line.split(' ').filter(|p| !p.is_empty());
    let engine = parts.next().unwrap_or("");
    if engine != "#!lua" {
        return Err(CmdError::msg(format!(
            "Unexpected engine in script shebang: {engine}"
        )));
    }
    let mut flags = 0;
    for part in parts {
        let Some(list) = part.strip_prefix("flags=") else {
            return Err(CmdError::msg(format!("Unknown lua shebang option: {part}")));
        };
        for flag in list.split(',').filter(|f| !f.is_empty()) {
            match functions::FLAG_NAMES.iter().find(|(_, n)| *n == flag) {
                Some((bit, _)) => flags |= bit,
                None => {
                    return Err(CmdError::msg(format!(
                        "Unexpected flag in script shebang: {flag}"
                    )))
                }
            }
        }
    }
    Ok(Some(flags))
}

/// The keys and the other arguments of EVAL or FCALL, after Redis's checks of `numkeys`.
fn keys_and_args<'a>(args: &Args<'a>) -> Result<(&'a [Bytes], &'a [Bytes]), CmdError> {
    let numkeys = args.int(2)?;
    let rest = args.from(3);
    if numkeys > rest.len() as i64 {
        return Err(CmdError::msg(
            "Number of keys can't be greater than number of args",
        ));
    }
    if numkeys < 0 {
        return Err(CmdError::msg("Number of keys can't be negative"));
    }
    Ok(rest.split_at(numkeys as usize))
}

fn noscript() -> CmdError {
    CmdError::Raw("NOSCRIPT No matching script. Please use EVAL.".into())
}

fn write_flag_in_ro() -> CmdError {
    CmdError::msg("Can not execute a script with write flag using *_ro command.")
}

fn eval(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    eval_generic(ctx, args, false, false)
}

fn eval_ro(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    eval_generic(ctx, args, false, true)
}

fn evalsha(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    eval_generic(ctx, args, true, false)
}

fn evalsha_ro(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    eval_generic(ctx, args, true, true)
}

fn eval_generic(ctx: &mut Ctx<'_, '_>, args: &Args, by_sha: bool, ro_command: bool) -> CmdResult {
    let (keys, argv) = keys_and_args(args)?;
    let given = arg(args, 1);
    let (sha, body) = if by_sha {
        let sha = given.to_ascii_lowercase();
        if sha.len() != 40 {
            return Err(noscript());
        }
        let body = store::script(ctx.txn, &sha)?.ok_or_else(noscript)?;
        (String::from_utf8_lossy(&sha).to_string(), body)
    } else {
        (sha1_hex(given), given.to_vec())
    };
    let flags = parse_shebang(&body)?;
    if ro_command && flags.is_some_and(|f| f & functions::NO_WRITES == 0) {
        return Err(write_flag_in_ro());
    }
    let read_only = ro_command || flags.is_some_and(|f| f & functions::NO_WRITES != 0);
    let chunk = functions::library_body(&body);
    let reply = guarded(ctx, RunKind::Script, &sha, read_only, |ctx, run| {
        vm::run(ctx, run, Code::Script(chunk), keys, argv)
    })?;
    // EVAL caches its script (unless it does not compile), as Redis does: a later EVALSHA of
    // it works on every node.
    let compiled =
        !matches!(&reply, Reply::Error(e) if e.starts_with("ERR Error compiling script"));
    if !by_sha && compiled && ctx.txn.is_writable() && !store::has_script(ctx.txn, sha.as_bytes())?
    {
        store::put_script(ctx.txn, sha.as_bytes(), &body);
    }
    Ok(reply)
}

fn fcall(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    fcall_generic(ctx, args, false)
}

fn fcall_ro(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    fcall_generic(ctx, args, true)
}

fn fcall_generic(ctx: &mut Ctx<'_, '_>, args: &Args, ro_command: bool) -> CmdResult {
    let (keys, argv) = keys_and_args(args)?;
    let name = arg(args, 1);
    let entry =
        store::function(ctx.txn, name)?.ok_or_else(|| CmdError::msg("Function not found"))?;
    let no_writes = entry.flags & functions::NO_WRITES != 0;
    if ro_command && !no_writes {
        return Err(write_flag_in_ro());
    }
    let library = store::library(ctx.txn, &entry.library)?
        .ok_or_else(|| CmdError::msg("Function not found"))?;
    let name = String::from_utf8_lossy(name).to_string();
    guarded(
        ctx,
        RunKind::Function,
        &name,
        ro_command || no_writes,
        |ctx, run| {
            vm::run(
                ctx,
                run,
                Code::Function {
                    library: &library,
                    function: &name,
                },
                keys,
                argv,
            )
        },
    )
}

/// Runs a script, registered as running (for SCRIPT KILL and FUNCTION STATS) meanwhile, and
/// undoes its writes if it was aborted.
fn guarded(
    ctx: &mut Ctx<'_, '_>,
    kind: RunKind,
    name: &str,
    read_only: bool,
    f: impl FnOnce(&mut Ctx<'_, '_>, &Run<'_>) -> Result<Ending, CmdError>,
) -> CmdResult {
    let writable = ctx.txn.is_writable();
    // Only a run on the read path may be killed: see the module's comment.
    let kill = (!writable).then(|| Arc::new(AtomicBool::new(false)));
    let _running = Running::enter(kind, name, kill.clone());
    let run = Run {
        name,
        source: match kind {
            RunKind::Script => Source::Script,
            RunKind::Function => Source::Function,
        },
        read_only,
        kill,
    };
    if writable {
        ctx.txn.savepoint();
    }
    let ending = f(ctx, &run);
    match ending {
        Ok(Ending::Reply(reply)) => {
            if writable {
                ctx.txn.release_savepoint();
            }
            Ok(reply)
        }
        Ok(Ending::Aborted(reply)) => {
            if writable {
                ctx.txn.rollback_to_savepoint();
            }
            Ok(reply)
        }
        Err(e) => {
            if writable {
                ctx.txn.release_savepoint();
            }
            Err(e)
        }
    }
}

/// What runs: a script (EVAL) or a function (FCALL); each has its own KILL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunKind {
    Script,
    Function,
}

struct RunningEntry {
    id: u64,
    kind: RunKind,
    name: String,
    /// `None`: the run cannot be killed (it is applying a log entry).
    kill: Option<Arc<AtomicBool>>,
}

/// The scripts running on this node. A process-wide list, as the node has one script engine:
/// the handlers that run scripts see the node only through their transaction.
static RUNNING: Mutex<Vec<RunningEntry>> = Mutex::new(Vec::new());
static NEXT_RUN: AtomicU64 = AtomicU64::new(1);

/// A script's place in [`RUNNING`] while it runs.
struct Running(u64);

impl Running {
    fn enter(kind: RunKind, name: &str, kill: Option<Arc<AtomicBool>>) -> Running {
        let id = NEXT_RUN.fetch_add(1, Ordering::Relaxed);
        RUNNING
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(RunningEntry {
                id,
                kind,
                name: name.to_string(),
                kill,
            });
        Running(id)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        RUNNING
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|r| r.id != self.0);
    }
}

/// The name of a running script or function of `kind`, if one runs.
pub fn running(kind: RunKind) -> Option<String> {
    RUNNING
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .find(|r| r.kind == kind)
        .map(|r| r.name.clone())
}

/// SCRIPT KILL / FUNCTION KILL: stops the killable runs of `kind`.
pub fn kill(kind: RunKind) -> CmdResult {
    let running = RUNNING.lock().unwrap_or_else(|e| e.into_inner());
    let mut killed = false;
    let mut unkillable = false;
    for r in running.iter().filter(|r| r.kind == kind) {
        match &r.kill {
            Some(flag) => {
                flag.store(true, Ordering::Relaxed);
                killed = true;
            }
            None => unkillable = true,
        }
    }
    if killed {
        Ok(Reply::ok())
    } else if unkillable {
        Err(CmdError::Raw(
            "UNKILLABLE Sorry the script already executed write commands against the dataset. \
             You can either wait the script termination or kill the server in a hard way using \
             the SHUTDOWN NOSAVE command."
                .into(),
        ))
    } else {
        Err(CmdError::Raw(
            "NOTBUSY No scripts in execution right now.".into(),
        ))
    }
}

/// Refuses a write on the read path: [`route`] sends every write through the log, so this is
/// only met by a caller that bypassed it.
fn must_write(ctx: &Ctx<'_, '_>) -> Result<(), CmdError> {
    if ctx.txn.is_writable() {
        Ok(())
    } else {
        Err(CmdError::msg(
            "this command must be replicated: send it to the leader",
        ))
    }
}

/// A HELP reply: one status line per line, as Redis's addReplyHelp.
pub(crate) fn help(lines: &[&str]) -> Reply {
    Reply::Array(lines.iter().map(|l| Reply::Simple(l.to_string())).collect())
}

const SCRIPT_HELP: &[&str] = &[
    "SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "DEBUG (YES|SYNC|NO)",
    "    Set the debug mode for subsequent scripts executed.",
    "EXISTS <sha1> [<sha1> ...]",
    "    Return information about the existence of the scripts in the script cache.",
    "FLUSH [ASYNC|SYNC]",
    "    Flush the Lua scripts cache. Very dangerous on replicas.",
    "    When called without the optional mode argument, the behavior is determined by the",
    "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
    "    * ASYNC: Asynchronously flush the scripts cache.",
    "    * SYNC: Synchronously flush the scripts cache.",
    "KILL",
    "    Kill the currently executing Lua script.",
    "LOAD <script>",
    "    Load a script into the scripts cache without executing it.",
    "HELP",
    "    Prints this help.",
];

/// Checks a container command's subcommand (SCRIPT LOAD, FUNCTION LIST, ...) against Redis's
/// arity table: `(name, arity)` as Redis lists them, with its errors for an unknown one and
/// for a wrong count.
pub(crate) fn subcommand(
    command: &str,
    args: &Args,
    table: &[(&'static str, i32)],
) -> Result<&'static str, CmdError> {
    let given = arg(args, 1);
    let lower = given.to_ascii_lowercase();
    let Some((name, arity)) = table.iter().find(|(n, _)| n.as_bytes() == lower.as_slice()) else {
        return Err(CmdError::msg(format!(
            "unknown subcommand '{}'. Try {} HELP.",
            String::from_utf8_lossy(given),
            command.to_ascii_uppercase()
        )));
    };
    let argc = args.len() as i32;
    let fits = if *arity >= 0 {
        argc == *arity
    } else {
        argc >= -arity
    };
    if !fits {
        return Err(CmdError::WrongArity(format!("{command}|{name}")));
    }
    Ok(name)
}

const SCRIPT_SUBCOMMANDS: &[(&str, i32)] = &[
    ("load", 3),
    ("exists", -3),
    ("flush", -2),
    ("kill", 2),
    ("help", 2),
    ("debug", 3),
];

/// SCRIPT LOAD | EXISTS | FLUSH | KILL | HELP
fn script(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    match subcommand("script", args, SCRIPT_SUBCOMMANDS)? {
        "load" => {
            let body = arg(args, 2);
            parse_shebang(body)?;
            if let Err(msg) = vm::check_compiles(functions::library_body(body)) {
                return Err(CmdError::msg(format!(
                    "Error compiling script (new function): {msg}"
                )));
            }
            let sha = sha1_hex(body);
            if ctx.txn.is_writable() && !store::has_script(ctx.txn, sha.as_bytes())? {
                store::put_script(ctx.txn, sha.as_bytes(), body);
            }
            Ok(Reply::bulk(sha.into_bytes()))
        }
        "exists" => {
            let mut out = Vec::with_capacity(args.len() - 2);
            for sha in args.from(2) {
                let known = store::has_script(ctx.txn, &sha.to_ascii_lowercase())?;
                out.push(Reply::Int(i64::from(known)));
            }
            Ok(Reply::Array(out))
        }
        "flush" => {
            if !functions::flush_mode_ok(args) {
                return Err(CmdError::msg("SCRIPT FLUSH only support SYNC|ASYNC option"));
            }
            must_write(ctx)?;
            store::flush_scripts(ctx.txn);
            Ok(Reply::ok())
        }
        "kill" => kill(RunKind::Script),
        "debug" => Err(CmdError::msg(
            "SCRIPT DEBUG is not supported: Kiwi has no Lua debugger",
        )),
        _ => Ok(help(SCRIPT_HELP)),
    }
}
