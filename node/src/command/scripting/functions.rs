//! Redis 7 functions: libraries of Lua functions loaded with FUNCTION LOAD, called with FCALL.
//!
//! A library is its code alone: the store keeps the code, and every run (FUNCTION LOAD to
//! learn what it registers, FCALL to call one of its functions) loads it on a fresh Lua state.

use bytes::Bytes;
use mlua::{Function, MultiValue, Table, Value};

use super::store;
use super::vm::{self, Registered};
use crate::command::keys::rdb;
use crate::command::{Args, CmdError, CmdResult, Ctx};
use crate::resp::Reply;

pub const NO_WRITES: u8 = 1;
/// Redis's function flags, in the order FUNCTION LIST shows them.
pub const FLAG_NAMES: [(u8, &str); 5] = [
    (NO_WRITES, "no-writes"),
    (2, "allow-oom"),
    (4, "allow-stale"),
    (8, "no-cluster"),
    (16, "allow-cross-slot-keys"),
];

/// The opcode of a library in an RDB stream (RDB_OPCODE_FUNCTION2).
const RDB_OPCODE_FUNCTION2: u8 = 245;
/// The RDB version FUNCTION DUMP writes: Redis 7.0's, so redis-server restores it too.
const DUMP_RDB_VERSION: u16 = 10;

/// A library's code with its shebang line blanked (the line stays, so line numbers hold).
pub fn library_body(code: &[u8]) -> &[u8] {
    if code.starts_with(b"#!") {
        match code.iter().position(|&c| c == b'\n') {
            Some(at) => &code[at..],
            None => &[],
        }
    } else {
        code
    }
}

fn valid_name(name: &[u8]) -> bool {
    !name.is_empty() && name.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_')
}

/// The library's name from its shebang (`#!lua name=<name>`), or Redis's error.
pub fn library_name(code: &[u8]) -> Result<String, CmdError> {
    if !code.starts_with(b"#!") {
        return Err(CmdError::msg("Missing library metadata"));
    }
    let line_end = code.iter().position(|&c| c == b'\n').unwrap_or(code.len());
    let line = String::from_utf8_lossy(&code[2..line_end]).to_string();
    let mut parts = line.split(' ').filter(|p| !p.is_empty());
    let engine = parts.next().unwrap_or("");
    if !engine.eq_ignore_ascii_case("lua") {
        return Err(CmdError::msg(format!("Engine '{engine}' not found")));
    }
    let mut name = None;
    for part in parts {
        match part.strip_prefix("name=") {
            Some(n) => name = Some(n.to_string()),
            None => {
                return Err(CmdError::msg(format!(
                    "Invalid metadata value given: {part}"
                )))
            }
        }
    }
    let name = name.ok_or_else(|| CmdError::msg("Library name was not given"))?;
    if !valid_name(name.as_bytes()) {
        return Err(CmdError::msg(
            "Library names can only contain letters, numbers, or underscores(_) and must be at \
             least one character long",
        ));
    }
    Ok(name)
}

/// The arguments of `redis.register_function`: positional `(name, callback)` or one table of
/// named arguments. `Err` is Redis's message (without its `ERR `).
pub fn parse_registration(args: MultiValue) -> Result<(Registered, Function), String> {
    let args: Vec<Value> = args.into_iter().collect();
    let (name, callback, flags, description) = match args.as_slice() {
        [Value::Table(t)] => named_registration(t)?,
        [_] => {
            return Err(
                "calling redis.register_function with a single argument is only \
                        applicable to Lua table (representing named arguments)."
                    .into(),
            )
        }
        [name, callback] => {
            let Value::String(name) = name else {
                return Err("first argument to redis.register_function must be a string".into());
            };
            let Value::Function(callback) = callback else {
                return Err("second argument to redis.register_function must be a function".into());
            };
            (name.to_string_lossy(), callback.clone(), 0, None)
        }
        _ => return Err("wrong number of arguments to redis.register_function".into()),
    };
    if !valid_name(name.as_bytes()) {
        // Redis says "Library" here too.
        return Err(
            "Library names can only contain letters, numbers, or underscores(_) and \
                    must be at least one character long"
                .into(),
        );
    }
    Ok((
        Registered {
            name,
            description,
            flags,
        },
        callback,
    ))
}

type Registration = (String, Function, u8, Option<String>);

fn named_registration(t: &Table) -> Result<Registration, String> {
    let mut name = None;
    let mut callback = None;
    let mut flags = 0;
    let mut description = None;
    for pair in t.pairs::<Value, Value>() {
        let (k, v) = pair.map_err(|e| e.to_string())?;
        let key = match &k {
            Value::String(s) => s.to_string_lossy(),
            _ => {
                return Err(
                    "named argument key given to redis.register_function is not a string".into(),
                )
            }
        };
        match key.as_str() {
            "function_name" => {
                match v {
                    Value::String(s) => name = Some(s.to_string_lossy()),
                    _ => return Err(
                        "function_name argument given to redis.register_function must be a string"
                            .into(),
                    ),
                }
            }
            "callback" => match v {
                Value::Function(f) => callback = Some(f),
                _ => {
                    return Err(
                        "callback argument given to redis.register_function must be a function"
                            .into(),
                    )
                }
            },
            "description" => {
                match v {
                    Value::String(s) => description = Some(s.to_string_lossy()),
                    _ => return Err(
                        "description argument given to redis.register_function must be a string"
                            .into(),
                    ),
                }
            }
            "flags" => {
                let Value::Table(list) = v else {
                    return Err("flags argument to redis.register_function must be a table \
                                representing function flags"
                        .into());
                };
                for i in 1..=list.raw_len() {
                    let flag: Value = list.raw_get(i).map_err(|e| e.to_string())?;
                    let Value::String(flag) = flag else {
                        return Err("unknown flag given".into());
                    };
                    let flag = flag.to_string_lossy();
                    match FLAG_NAMES.iter().find(|(_, n)| *n == flag) {
                        Some((bit, _)) => flags |= bit,
                        None => return Err("unknown flag given".into()),
                    }
                }
            }
            _ => return Err("unknown argument given to redis.register_function".into()),
        }
    }
    let name = name.ok_or("redis.register_function must get a function name argument")?;
    let callback = callback.ok_or("redis.register_function must get a callback argument")?;
    Ok((name, callback, flags, description))
}

/// The names of the functions a stored library registers.
fn registered_names(code: &[u8]) -> Vec<Vec<u8>> {
    vm::register_library(code)
        .map(|fs| fs.into_iter().map(|f| f.name.into_bytes()).collect())
        .unwrap_or_default()
}

/// Loads `code` as a library (replacing the one of the same name if `replace`): its name, or
/// Redis's error reply.
fn load(ctx: &mut Ctx<'_, '_>, code: &[u8], replace: bool) -> Result<String, Reply> {
    let name = library_name(code).map_err(CmdError::into_reply)?;
    let existing = store::library(ctx.txn, name.as_bytes()).map_err(storage)?;
    if existing.is_some() && !replace {
        return Err(Reply::err(format!("Library '{name}' already exists")));
    }
    let registered = vm::register_library(code)?;
    for f in &registered {
        if let Some(entry) = store::function(ctx.txn, f.name.as_bytes()).map_err(storage)? {
            if entry.library != name.as_bytes() {
                return Err(Reply::err(format!("Function {} already exists", f.name)));
            }
        }
    }
    if let Some(old) = existing {
        store::delete_library(ctx.txn, name.as_bytes(), &registered_names(&old));
    }
    let functions: Vec<(Vec<u8>, u8)> = registered
        .iter()
        .map(|f| (f.name.clone().into_bytes(), f.flags))
        .collect();
    store::put_library(ctx.txn, name.as_bytes(), code, &functions);
    Ok(name)
}

fn storage(e: crate::storage::StorageError) -> Reply {
    CmdError::Storage(e).into_reply()
}

fn flag_list(flags: u8) -> Reply {
    Reply::Set(
        FLAG_NAMES
            .iter()
            .filter(|(bit, _)| flags & bit != 0)
            .map(|(_, n)| Reply::Simple(n.to_string()))
            .collect(),
    )
}

fn text(s: &str) -> Reply {
    Reply::bulk(Bytes::copy_from_slice(s.as_bytes()))
}

const SUBCOMMANDS: &[(&str, i32)] = &[
    ("load", -3),
    ("delete", 3),
    ("flush", -2),
    ("list", -2),
    ("dump", 2),
    ("restore", -3),
    ("stats", 2),
    ("kill", 2),
    ("help", 2),
];

/// FUNCTION <subcommand> ...
pub fn function(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    let argc = args.len();
    match super::subcommand("function", args, SUBCOMMANDS)? {
        "load" => {
            let (replace, code) = match argc {
                3 => (false, arg(args, 2)),
                4 if arg(args, 2).eq_ignore_ascii_case(b"replace") => (true, arg(args, 3)),
                _ => {
                    return Err(CmdError::msg(format!(
                        "Unknown option given: {}",
                        String::from_utf8_lossy(arg(args, 2))
                    )))
                }
            };
            super::must_write(ctx)?;
            Ok(match load(ctx, code, replace) {
                Ok(name) => text(&name),
                Err(reply) => reply,
            })
        }
        "delete" => {
            super::must_write(ctx)?;
            let name = arg(args, 2);
            let Some(code) = store::library(ctx.txn, name)? else {
                return Err(CmdError::msg("Library not found"));
            };
            store::delete_library(ctx.txn, name, &registered_names(&code));
            Ok(Reply::ok())
        }
        "flush" => {
            if !flush_mode_ok(args) {
                return Err(CmdError::msg(
                    "FUNCTION FLUSH only supports SYNC|ASYNC option",
                ));
            }
            super::must_write(ctx)?;
            store::flush_libraries(ctx.txn);
            Ok(Reply::ok())
        }
        "list" => list(ctx, args),
        "dump" => Ok(Reply::bulk(dump(ctx)?)),
        "restore" => restore(ctx, args),
        "stats" => {
            let libraries = store::libraries(ctx.txn)?;
            let functions: usize = libraries
                .iter()
                .map(|(_, code)| registered_names(code).len())
                .sum();
            let running = match super::running(super::RunKind::Function) {
                Some(name) => Reply::Map(vec![
                    (text("name"), text(&name)),
                    (text("command"), Reply::Array(Vec::new())),
                    (text("duration_ms"), Reply::Int(0)),
                ]),
                None => Reply::Nil,
            };
            Ok(Reply::Map(vec![
                (text("running_script"), running),
                (
                    text("engines"),
                    Reply::Map(vec![(
                        text("LUA"),
                        Reply::Map(vec![
                            (text("libraries_count"), Reply::Int(libraries.len() as i64)),
                            (text("functions_count"), Reply::Int(functions as i64)),
                        ]),
                    )]),
                ),
            ]))
        }
        "kill" => super::kill(super::RunKind::Function),
        _ => Ok(super::help(FUNCTION_HELP)),
    }
}

const FUNCTION_HELP: &[&str] = &[
    "FUNCTION <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "LOAD [REPLACE] <FUNCTION CODE>",
    "    Create a new library with the given library name and code.",
    "DELETE <LIBRARY NAME>",
    "    Delete the given library.",
    "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
    "    Return general information on all the libraries:",
    "    * Library name",
    "    * The engine used to run the Library",
    "    * Library description",
    "    * Functions list",
    "    * Library code (if WITHCODE is given)",
    "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
    "STATS",
    "    Return information about the current function running:",
    "    * Function name",
    "    * Command used to run the function",
    "    * Duration in MS that the function is running",
    "    If no function is running, return nil",
    "    In addition, returns a list of available engines.",
    "KILL",
    "    Kill the current running function.",
    "FLUSH [ASYNC|SYNC]",
    "    Delete all the libraries.",
    "    When called without the optional mode argument, the behavior is determined by the",
    "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
    "    * ASYNC: Asynchronously flush the libraries.",
    "    * SYNC: Synchronously flush the libraries.",
    "DUMP",
    "    Return a serialized payload representing the current libraries, can be restored using FUNCTION RESTORE command",
    "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
    "    Restore the libraries represented by the given payload, it is possible to give a restore policy to",
    "    control how to handle existing libraries (default APPEND):",
    "    * FLUSH: delete all existing libraries.",
    "    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
    "    * REPLACE: appends the restored libraries to the existing libraries, On collision, replace the old",
    "      libraries with the new libraries (notice that even on this option there is a chance of failure",
    "      in case of functions name collision with another library).",
    "HELP",
    "    Prints this help.",
];

/// FUNCTION LIST [LIBRARYNAME pattern] [WITHCODE]
fn list(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    let mut pattern: Option<&[u8]> = None;
    let mut with_code = false;
    let mut i = 2;
    while i < args.len() {
        let word = arg(args, i);
        if word.eq_ignore_ascii_case(b"withcode") && !with_code {
            with_code = true;
        } else if word.eq_ignore_ascii_case(b"libraryname") && pattern.is_none() {
            if i + 1 >= args.len() {
                return Err(CmdError::msg("library name argument was not given"));
            }
            pattern = Some(arg(args, i + 1));
            i += 1;
        } else {
            return Err(CmdError::msg(format!(
                "Unknown argument {}",
                String::from_utf8_lossy(word)
            )));
        }
        i += 1;
    }
    let mut out = Vec::new();
    for (name, code) in store::libraries(ctx.txn)? {
        if let Some(p) = pattern {
            if !crate::command::glob::glob_match(p, &name) {
                continue;
            }
        }
        let functions = vm::register_library(&code).unwrap_or_default();
        let functions = functions
            .iter()
            .map(|f| {
                Reply::Map(vec![
                    (text("name"), text(&f.name)),
                    (
                        text("description"),
                        f.description.as_deref().map_or(Reply::Nil, text),
                    ),
                    (text("flags"), flag_list(f.flags)),
                ])
            })
            .collect();
        let mut entry = vec![
            (text("library_name"), Reply::bulk(name)),
            (text("engine"), text("LUA")),
            (text("functions"), Reply::Array(functions)),
        ];
        if with_code {
            entry.push((text("library_code"), Reply::bulk(code)));
        }
        out.push(Reply::Map(entry));
    }
    Ok(Reply::Array(out))
}

fn rdb_len(out: &mut Vec<u8>, len: usize) {
    if len < 1 << 6 {
        out.push(len as u8);
    } else if len < 1 << 14 {
        out.push(0x40 | (len >> 8) as u8);
        out.push(len as u8);
    } else if len <= u32::MAX as usize {
        out.push(0x80);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    } else {
        out.push(0x81);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
}

/// FUNCTION DUMP's payload: each library as RDB_OPCODE_FUNCTION2 and its code as an RDB
/// string, then the RDB version and a CRC64 of it all, as Redis lays it out.
fn dump(ctx: &mut Ctx<'_, '_>) -> Result<Vec<u8>, CmdError> {
    let mut out = Vec::new();
    for (_, code) in store::libraries(ctx.txn)? {
        out.push(RDB_OPCODE_FUNCTION2);
        rdb_len(&mut out, code.len());
        out.extend_from_slice(&code);
    }
    out.extend_from_slice(&DUMP_RDB_VERSION.to_le_bytes());
    let crc = rdb::crc64(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    Ok(out)
}

/// Reads an RDB string at `*pos` (plain, integer-encoded or LZF-compressed).
fn read_rdb_string(data: &[u8], pos: &mut usize) -> Option<Vec<u8>> {
    let first = *data.get(*pos)?;
    *pos += 1;
    let take = |pos: &mut usize, n: usize| -> Option<&[u8]> {
        let s = data.get(*pos..*pos + n)?;
        *pos += n;
        Some(s)
    };
    let len = match first >> 6 {
        0 => usize::from(first & 0x3f),
        1 => (usize::from(first & 0x3f) << 8) | usize::from(*take(pos, 1)?.first()?),
        2 => match first {
            0x80 => u32::from_be_bytes(take(pos, 4)?.try_into().ok()?) as usize,
            0x81 => u64::from_be_bytes(take(pos, 8)?.try_into().ok()?) as usize,
            _ => return None,
        },
        _ => {
            return match first & 0x3f {
                0 => Some((take(pos, 1)?[0] as i8).to_string().into_bytes()),
                1 => Some(
                    i16::from_le_bytes(take(pos, 2)?.try_into().ok()?)
                        .to_string()
                        .into_bytes(),
                ),
                2 => Some(
                    i32::from_le_bytes(take(pos, 4)?.try_into().ok()?)
                        .to_string()
                        .into_bytes(),
                ),
                3 => {
                    let clen = read_rdb_len(data, pos)?;
                    let ulen = read_rdb_len(data, pos)?;
                    rdb::lzf_decompress(take(pos, clen)?, ulen)
                }
                _ => None,
            };
        }
    };
    take(pos, len).map(<[u8]>::to_vec)
}

fn read_rdb_len(data: &[u8], pos: &mut usize) -> Option<usize> {
    let first = *data.get(*pos)?;
    *pos += 1;
    match first >> 6 {
        0 => Some(usize::from(first & 0x3f)),
        1 => {
            let b = *data.get(*pos)?;
            *pos += 1;
            Some((usize::from(first & 0x3f) << 8) | usize::from(b))
        }
        2 if first == 0x80 => {
            let v = u32::from_be_bytes(data.get(*pos..*pos + 4)?.try_into().ok()?);
            *pos += 4;
            Some(v as usize)
        }
        2 if first == 0x81 => {
            let v = u64::from_be_bytes(data.get(*pos..*pos + 8)?.try_into().ok()?);
            *pos += 8;
            Some(v as usize)
        }
        _ => None,
    }
}

/// The libraries' codes in a FUNCTION DUMP payload, or `None` if it is not one.
pub fn parse_dump(payload: &[u8]) -> Option<Vec<Vec<u8>>> {
    if payload.len() < 10 {
        return None;
    }
    let (body, footer) = payload.split_at(payload.len() - 10);
    let version = u16::from_le_bytes([footer[0], footer[1]]);
    let crc = u64::from_le_bytes(footer[2..].try_into().ok()?);
    if version > rdb::MAX_READ_VERSION || crc != rdb::crc64(&payload[..payload.len() - 8]) {
        return None;
    }
    let mut codes = Vec::new();
    let mut pos = 0;
    while pos < body.len() {
        if body[pos] != RDB_OPCODE_FUNCTION2 {
            return None;
        }
        pos += 1;
        codes.push(read_rdb_string(body, &mut pos)?);
    }
    Some(codes)
}

/// FUNCTION RESTORE payload [FLUSH|APPEND|REPLACE]
fn restore(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    if args.len() > 4 {
        return Err(CmdError::Syntax);
    }
    #[derive(PartialEq)]
    enum Policy {
        Flush,
        Append,
        Replace,
    }
    let policy =
        match args.len() {
            3 => Policy::Append,
            _ => match arg(args, 3).to_ascii_lowercase().as_slice() {
                b"flush" => Policy::Flush,
                b"append" => Policy::Append,
                b"replace" => Policy::Replace,
                _ => return Err(CmdError::msg(
                    "Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.",
                )),
            },
        };
    let Some(codes) = parse_dump(arg(args, 2)) else {
        return Err(CmdError::msg("payload version or checksum are wrong"));
    };
    super::must_write(ctx)?;
    // Checked whole before anything is written: a restore that fails changes nothing.
    ctx.txn.savepoint();
    if policy == Policy::Flush {
        store::flush_libraries(ctx.txn);
    }
    for code in codes {
        if let Err(reply) = load(ctx, &code, policy == Policy::Replace) {
            ctx.txn.rollback_to_savepoint();
            return Ok(reply);
        }
    }
    ctx.txn.release_savepoint();
    Ok(Reply::ok())
}

/// Argument `i`, or nothing past the end (the callers check the count first).
/// Whether SCRIPT FLUSH's or FUNCTION FLUSH's arguments are none or one of ASYNC and SYNC.
pub(super) fn flush_mode_ok(args: &Args) -> bool {
    match args.len() {
        2 => true,
        3 => {
            arg(args, 2).eq_ignore_ascii_case(b"async")
                || arg(args, 2).eq_ignore_ascii_case(b"sync")
        }
        _ => false,
    }
}

pub(super) fn arg<'a>(args: &Args<'a>, i: usize) -> &'a [u8] {
    args.all().get(i).map_or(&[][..], |b| &b[..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn library_metadata_is_read_as_redis_reads_it() {
        assert_eq!(
            library_name(b"#!lua name=mylib\nreturn 1").unwrap(),
            "mylib"
        );
        let err = |code: &[u8]| library_name(code).unwrap_err().to_string();
        assert_eq!(err(b"return 1"), "ERR Missing library metadata");
        assert_eq!(err(b"#!lua\nreturn 1"), "ERR Library name was not given");
        assert_eq!(
            err(b"#!lua name=a b=c\n"),
            "ERR Invalid metadata value given: b=c"
        );
        assert_eq!(err(b"#!foo name=a\n"), "ERR Engine 'foo' not found");
        assert!(err(b"#!lua name=a-b\n").starts_with("ERR Library names can only"));
    }

    #[test]
    fn a_dump_payload_reads_back() {
        let mut out = Vec::new();
        for code in [&b"#!lua name=a\nx"[..], &[b'y'; 300][..]] {
            out.push(RDB_OPCODE_FUNCTION2);
            rdb_len(&mut out, code.len());
            out.extend_from_slice(code);
        }
        out.extend_from_slice(&DUMP_RDB_VERSION.to_le_bytes());
        let crc = rdb::crc64(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        let codes = parse_dump(&out).unwrap();
        assert_eq!(codes[0], b"#!lua name=a\nx");
        assert_eq!(codes[1], vec![b'y'; 300]);
        let last = out.len() - 1;
        out[last] ^= 1;
        assert!(parse_dump(&out).is_none(), "a bad checksum is refused");
    }
}
