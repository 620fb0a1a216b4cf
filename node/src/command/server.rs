//! Server commands that touch data (DBSIZE, FLUSHDB, ...) or need no session (PING, ECHO, TIME),
//! and the table entries of the session commands that `server::session` carries out.

use super::flags::{ADMIN, FAST, NOAUTH, NOMULTI, READONLY, WRITE};
use super::{spec, Args, CmdError, CmdResult, CommandSpec, Ctx, Kind};
use crate::resp::Reply;

pub const COMMANDS: &[CommandSpec] = &[
    spec!("ping", -1, FAST, (0, 0, 0), ping),
    spec!("echo", 2, FAST, (0, 0, 0), echo),
    spec!("time", 1, READONLY | FAST, (0, 0, 0), time),
    spec!("dbsize", 1, READONLY | FAST, (0, 0, 0), dbsize),
    spec!("flushdb", -1, WRITE, (0, 0, 0), flushdb),
    spec!("flushall", -1, WRITE, (0, 0, 0), flushall),
];

macro_rules! session {
    ($name:literal, $arity:expr, $flags:expr) => {
        CommandSpec {
            name: $name,
            arity: $arity,
            flags: $flags,
            keys: (0, 0, 0),
            kind: Kind::Session,
        }
    };
}

/// Commands on the connection itself; the session runs them.
pub const SESSION_COMMANDS: &[CommandSpec] = &[
    session!("auth", -2, NOAUTH | FAST | NOMULTI),
    session!("hello", -1, NOAUTH | FAST | NOMULTI),
    session!("quit", -1, NOAUTH | FAST),
    session!("select", 2, FAST),
    session!("multi", 1, FAST | NOMULTI),
    session!("exec", 1, NOMULTI),
    session!("discard", 1, FAST | NOMULTI),
    session!("watch", -2, FAST | NOMULTI),
    // Queued inside MULTI (as in Redis), where it does nothing.
    session!("unwatch", 1, FAST),
    // Internal: WATCH between nodes (see `server::session::watch`).
    session!("kiwi.watch", -3, FAST | NOMULTI),
    session!("client", -2, NOMULTI),
    session!("info", -1, NOMULTI),
    session!("config", -2, ADMIN | NOMULTI),
    session!("command", -1, NOMULTI),
    session!("readonly", 1, FAST | NOMULTI),
    session!("readwrite", 1, FAST | NOMULTI),
    session!("reset", 1, NOAUTH | FAST | NOMULTI),
    // Waits for replicas on the leader; answers at once inside MULTI (`server::session::wait`).
    session!("wait", 3, 0),
];

fn ping(_ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    match args.len() {
        1 => Ok(Reply::Simple("PONG".into())),
        2 => Ok(Reply::bulk(args.get(1)?.clone())),
        _ => Err(CmdError::WrongArity("ping".into())),
    }
}

fn echo(_ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    Ok(Reply::bulk(args.get(1)?.clone()))
}

fn time(ctx: &mut Ctx<'_, '_>, _args: &Args) -> CmdResult {
    let micros = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(ctx.now_ms * 1000);
    Ok(Reply::bulks([
        (micros / 1_000_000).to_string(),
        (micros % 1_000_000).to_string(),
    ]))
}

fn dbsize(ctx: &mut Ctx<'_, '_>, _args: &Args) -> CmdResult {
    Ok(Reply::Int(ctx.txn.key_count(ctx.db)? as i64))
}

/// FLUSHDB/FLUSHALL accept ASYNC or SYNC; both are O(1) here (range deletions).
fn flush_mode_ok(args: &Args) -> Result<(), CmdError> {
    match args.len() {
        1 => Ok(()),
        2 if args.is(1, "async") || args.is(1, "sync") => Ok(()),
        _ => Err(CmdError::Syntax),
    }
}

fn flushdb(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    flush_mode_ok(args)?;
    ctx.txn.flush_db(ctx.db)?;
    Ok(Reply::ok())
}

fn flushall(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    flush_mode_ok(args)?;
    ctx.txn.flush_all();
    Ok(Reply::ok())
}

#[cfg(test)]
mod tests {
    use crate::command::testing::{err, int, TestDb};
    use crate::resp::Reply;

    #[test]
    fn dbsize_counts_and_flush_clears() {
        let mut t = TestDb::new();
        assert_eq!(t.run("PING"), Reply::Simple("PONG".into()));
        t.run("MSET a 1 b 2 c 3");
        t.run("SADD s x");
        t.run("SET a again");
        assert_eq!(t.run("DBSIZE"), int(4));
        t.run("DEL a");
        assert_eq!(t.run("DBSIZE"), int(3));
        assert_eq!(t.run("FLUSHDB"), Reply::ok());
        assert_eq!(t.run("DBSIZE"), int(0));
        assert_eq!(t.run("EXISTS b s"), int(0));
        t.run("SET a 1");
        assert_eq!(t.run("FLUSHALL ASYNC"), Reply::ok());
        assert_eq!(t.run("DBSIZE"), int(0));
        assert_eq!(t.run("FLUSHALL bogus"), err("ERR syntax error"));
    }
}
