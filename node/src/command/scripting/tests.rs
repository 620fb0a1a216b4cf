//! Scripts run the way the node runs them: writes applied as log entries by `engine::apply`,
//! reads on a reader, against a real RocksDB in a temp dir.

use std::sync::Arc;

use bytes::Bytes;

use super::*;
use crate::command::{self, Ctx, SplitMix64};
use crate::engine::{self, Mutation, Op};
use crate::storage::{Db, StorageOptions};

struct Node {
    _dir: tempfile::TempDir,
    db: Arc<Db>,
    index: u64,
}

fn argv(parts: &[&str]) -> Vec<Bytes> {
    parts
        .iter()
        .map(|p| Bytes::copy_from_slice(p.as_bytes()))
        .collect()
}

impl Node {
    fn new() -> Node {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path(), &StorageOptions::default()).unwrap();
        Node {
            _dir: dir,
            db,
            index: 0,
        }
    }

    /// Applies a command as a log entry with a fixed clock and seed.
    fn apply(&mut self, parts: &[&str]) -> Reply {
        self.apply_mutation(&Mutation {
            now_ms: 1_700_000_000_123,
            seed: 42,
            ops: vec![Op::Command {
                db: 0,
                argv: argv(parts),
            }],
            multi: false,
        })
    }

    fn apply_mutation(&mut self, m: &Mutation) -> Reply {
        self.index += 1;
        let mut txn = self.db.writer();
        let reply = engine::apply(&mut txn, m, self.index).unwrap();
        self.db.commit(txn, false).unwrap();
        reply
    }

    /// Runs a command on the read path.
    fn read(&self, parts: &[&str]) -> Reply {
        let argv = argv(parts);
        let spec = command::resolve(&argv).unwrap();
        let mut txn = self.db.reader();
        let mut rng = SplitMix64::new(1);
        let mut ctx = Ctx {
            txn: &mut txn,
            db: 0,
            now_ms: 1_700_000_000_123,
            rng: &mut rng,
        };
        command::execute(&mut ctx, spec, &argv).unwrap()
    }
}

fn bulk(s: &str) -> Reply {
    Reply::bulk(Bytes::copy_from_slice(s.as_bytes()))
}

fn err_starting(reply: &Reply, prefix: &str) -> bool {
    matches!(reply, Reply::Error(e) if e.starts_with(prefix))
}

#[test]
fn eval_converts_values_as_redis_does() {
    let mut n = Node::new();
    assert_eq!(n.apply(&["EVAL", "return 3.99", "0"]), Reply::Int(3));
    assert_eq!(n.apply(&["EVAL", "return 'x'", "0"]), bulk("x"));
    assert_eq!(n.apply(&["EVAL", "return true", "0"]), Reply::Int(1));
    assert_eq!(n.apply(&["EVAL", "return false", "0"]), Reply::Nil);
    assert_eq!(
        n.apply(&["EVAL", "return {1,2,nil,4}", "0"]),
        Reply::Array(vec![Reply::Int(1), Reply::Int(2)])
    );
    assert_eq!(
        n.apply(&["EVAL", "return {ok='fine'}", "0"]),
        Reply::Simple("fine".into())
    );
    assert_eq!(
        n.apply(&["EVAL", "return {KEYS[1], ARGV[1]}", "1", "k", "a"]),
        Reply::Array(vec![bulk("k"), bulk("a")])
    );
    assert_eq!(
        n.apply(&["EVAL", "return redis.error_reply('bad')", "0"]),
        Reply::Error("ERR bad".into())
    );
    assert_eq!(
        n.apply(&["EVAL", "return redis.error_reply('XX bad')", "0"]),
        Reply::Error("XX bad".into())
    );
}

#[test]
fn errors_name_the_script_and_line_as_redis_does() {
    let mut n = Node::new();
    let body = "return y";
    let sha = sha1_hex(body.as_bytes());
    assert_eq!(
        n.apply(&["EVAL", body, "0"]),
        Reply::Error(format!(
            "ERR user_script:1: Script attempted to access nonexistent global variable 'y' \
             script: {sha}, on @user_script:1."
        ))
    );
    let body = "x = 1";
    let sha = sha1_hex(body.as_bytes());
    assert_eq!(
        n.apply(&["EVAL", body, "0"]),
        Reply::Error(format!(
            "ERR user_script:1: Attempt to modify a readonly table script: {sha}, on \
             @user_script:1."
        ))
    );
    let body = "\nreturn redis.call('nosuch')";
    let sha = sha1_hex(body.as_bytes());
    assert_eq!(
        n.apply(&["EVAL", body, "0"]),
        Reply::Error(format!(
            "ERR Unknown Redis command called from script script: {sha}, on @user_script:2."
        ))
    );
    assert_eq!(
        n.apply(&["EVAL", "return redis.pcall('get','a','b')", "0"]),
        Reply::Error("ERR Wrong number of args calling Redis command from script".into())
    );
    assert_eq!(
        n.apply(&["EVAL", "return 'x' .. ", "0"]),
        Reply::Error(
            "ERR Error compiling script (new function): user_script:1: unexpected symbol near \
             '<eof>'"
                .into()
        )
    );
    assert!(err_starting(
        &n.apply(&["EVAL", "return redis.call('multi')", "0"]),
        "ERR This Redis command is not allowed from script script:"
    ));
    assert_eq!(
        n.apply(&["EVAL", "return 1", "2", "a"]),
        Reply::Error("ERR Number of keys can't be greater than number of args".into())
    );
    assert_eq!(
        n.apply(&["EVAL", "return 1", "-1"]),
        Reply::Error("ERR Number of keys can't be negative".into())
    );
    for global in [
        "os", "io", "debug", "require", "dofile", "loadfile", "print",
    ] {
        let reply = n.apply(&["EVAL", &format!("return type({global})"), "0"]);
        assert!(
            err_starting(
                &reply,
                "ERR user_script:1: Script attempted to access nonexistent"
            ),
            "{global}: {reply:?}"
        );
    }
    assert!(err_starting(
        &n.apply(&["EVAL", "string.x = 1", "0"]),
        "ERR user_script:1: Attempt to modify a readonly table"
    ));
}

#[test]
fn scripts_write_atomically_and_are_cached() {
    let mut n = Node::new();
    let body = "redis.call('set', KEYS[1], ARGV[1]); return redis.call('incr', KEYS[2])";
    assert_eq!(n.apply(&["EVAL", body, "2", "k", "n", "v"]), Reply::Int(1));
    assert_eq!(n.read(&["GET", "k"]), bulk("v"));
    let sha = sha1_hex(body.as_bytes());
    assert_eq!(
        n.apply(&["EVALSHA", &sha, "2", "k", "n", "w"]),
        Reply::Int(2)
    );
    assert_eq!(
        n.read(&["SCRIPT", "EXISTS", &sha, "0000"]),
        Reply::Array(vec![Reply::Int(1), Reply::Int(0)])
    );
    assert_eq!(n.apply(&["SCRIPT", "FLUSH"]), Reply::ok());
    assert_eq!(
        n.apply(&["EVALSHA", &sha, "2", "k", "n", "w"]),
        Reply::Error("NOSCRIPT No matching script. Please use EVAL.".into())
    );
    assert_eq!(
        n.apply(&["SCRIPT", "LOAD", "return 1"]),
        bulk("e0e1f9fabfc9d4800c877a703b823ac0578ff8db")
    );
    assert_eq!(
        n.read(&[
            "EVALSHA_RO",
            "E0E1F9FABFC9D4800C877A703B823AC0578FF8DB",
            "0"
        ]),
        Reply::Int(1)
    );
}

#[test]
fn read_only_scripts_refuse_writes() {
    let mut n = Node::new();
    assert!(err_starting(
        &n.read(&["EVAL_RO", "return redis.call('set','k','v')", "0"]),
        "ERR Write commands are not allowed from read-only scripts. script:"
    ));
    assert!(err_starting(
        &n.apply(&[
            "EVAL",
            "#!lua flags=no-writes\nreturn redis.call('set','k','v')",
            "0"
        ]),
        "ERR Write commands are not allowed from read-only scripts."
    ));
    assert_eq!(
        n.read(&["EVAL_RO", "#!lua\nreturn 1", "0"]),
        Reply::Error("ERR Can not execute a script with write flag using *_ro command.".into())
    );
    assert_eq!(
        n.apply(&["EVAL", "#!lua flags=bad\nreturn 1", "0"]),
        Reply::Error("ERR Unexpected flag in script shebang: bad".into())
    );
    assert_eq!(n.read(&["GET", "k"]), Reply::Nil);
}

#[test]
fn a_runaway_script_is_stopped_and_its_writes_undone() {
    let mut n = Node::new();
    let reply = n.apply(&["EVAL", "redis.call('set','k','v') while true do end", "0"]);
    assert!(
        err_starting(&reply, "ERR Script exceeded the budget"),
        "{reply:?}"
    );
    assert_eq!(n.read(&["GET", "k"]), Reply::Nil, "its write was undone");
    // One that catches its abort with pcall, at two levels, is stopped all the same.
    let reply = n.apply(&[
        "EVAL",
        "redis.call('set','k','v') \
         while true do pcall(function() while true do pcall(function() while true do end end) end end) end",
        "0",
    ]);
    assert!(
        err_starting(&reply, "ERR Script exceeded the budget"),
        "{reply:?}"
    );
    assert_eq!(n.read(&["GET", "k"]), Reply::Nil, "its write was undone");
    // A script that errors by itself keeps what it wrote, as in Redis.
    let reply = n.apply(&["EVAL", "redis.call('set','k','v') error('boom')", "0"]);
    assert!(err_starting(&reply, "ERR user_script:1: boom"), "{reply:?}");
    assert_eq!(n.read(&["GET", "k"]), bulk("v"));
}

#[test]
fn memory_is_bounded() {
    let mut n = Node::new();
    let reply = n.apply(&[
        "EVAL",
        "local s = string.rep('x', 1048576) local t = {} for i = 1, 2000 do t[i] = s .. i end",
        "0",
    ]);
    assert!(
        err_starting(&reply, "ERR Script exceeded the Lua memory limit")
            || err_starting(&reply, "ERR Script exceeded the budget"),
        "{reply:?}"
    );
}

#[test]
fn the_same_script_gives_the_same_result_on_every_replica() {
    let body = "local t = redis.call('time') \
                redis.call('sadd', 's', 'a', 'b', 'c', 'd', 'e', 'f') \
                local popped = redis.call('spop', 's') \
                redis.call('set', 'r', tostring(math.random()) .. ':' .. t[1] .. ':' .. t[2] .. ':' .. popped) \
                return redis.call('get', 'r')";
    let replies: Vec<Reply> = (0..2)
        .map(|_| {
            let mut n = Node::new();
            n.apply(&["EVAL", body, "0"])
        })
        .collect();
    assert_eq!(replies[0], replies[1]);
    let Reply::Bulk(b) = &replies[0] else {
        panic!("{replies:?}")
    };
    let text = String::from_utf8_lossy(b);
    // rand48's first draw after the reseed, and the mutation's clock.
    assert!(
        text.starts_with("0.17082803611217:1700000000:123000:"),
        "{text}"
    );
}

#[test]
fn libraries_in_cjson_and_bit_work() {
    let mut n = Node::new();
    assert_eq!(
        n.apply(&["EVAL", "return cjson.encode({1,2,3,{a=1}})", "0"]),
        bulk("[1,2,3,{\"a\":1}]")
    );
    assert_eq!(
        n.apply(&["EVAL", "return cjson.encode({})", "0"]),
        bulk("{}")
    );
    assert_eq!(
        n.apply(&["EVAL", "return cjson.decode('[1,2,{\"a\":3}]')[3].a", "0"]),
        Reply::Int(3)
    );
    assert_eq!(
        n.apply(&["EVAL", "return cjson.encode('a/b\"c')", "0"]),
        bulk("\"a\\/b\\\"c\"")
    );
    assert_eq!(
        n.apply(&[
            "EVAL",
            "return cjson.encode(cjson.decode('{\"a\":null}'))",
            "0"
        ]),
        bulk("{\"a\":null}")
    );
    assert_eq!(
        n.apply(&["EVAL", "return bit.band(0xff,0x0f)", "0"]),
        Reply::Int(15)
    );
    assert_eq!(
        n.apply(&["EVAL", "return bit.tohex(255)", "0"]),
        bulk("000000ff")
    );
    assert_eq!(
        n.apply(&["EVAL", "return redis.sha1hex('')", "0"]),
        bulk("da39a3ee5e6b4b0d3255bfef95601890afd80709")
    );
    assert!(err_starting(
        &n.apply(&["EVAL", "return cjson.encode({[1]=1,[20]=2})", "0"]),
        "ERR user_script:1: Cannot serialise table: excessively sparse array"
    ));
}

#[test]
fn functions_load_call_list_dump_and_restore() {
    let mut n = Node::new();
    let lib = "#!lua name=mylib\n\
               redis.register_function('f1', function(keys, args) return {keys[1], args[1]} end)\n\
               redis.register_function{function_name='f2', callback=function() return redis.call('set','x','1') end, flags={'no-writes'}, description='desc'}";
    assert_eq!(n.apply(&["FUNCTION", "LOAD", lib]), bulk("mylib"));
    assert_eq!(
        n.apply(&["FUNCTION", "LOAD", lib]),
        Reply::Error("ERR Library 'mylib' already exists".into())
    );
    assert_eq!(
        n.apply(&["FCALL", "f1", "1", "k", "a"]),
        Reply::Array(vec![bulk("k"), bulk("a")])
    );
    assert_eq!(
        n.apply(&["FCALL", "f2", "0"]),
        Reply::Error(
            "ERR Write commands are not allowed from read-only scripts. script: f2, on \
             @user_function:3."
                .into()
        )
    );
    assert_eq!(
        n.read(&["FCALL_RO", "f1", "0"]),
        Reply::Error("ERR Can not execute a script with write flag using *_ro command.".into())
    );
    assert_eq!(
        n.apply(&["FCALL", "nosuch", "0"]),
        Reply::Error("ERR Function not found".into())
    );
    assert_eq!(
        n.apply(&[
            "FUNCTION",
            "LOAD",
            "#!lua name=other\nredis.register_function('f1', function() end)"
        ]),
        Reply::Error("ERR Function f1 already exists".into())
    );
    assert_eq!(
        n.apply(&["FUNCTION", "LOAD", "#!lua name=bad\nerror('boom')"]),
        Reply::Error(
            "ERR Error registering functions: ERR user_function:2: Script attempted to access \
             nonexistent global variable 'error'"
                .into()
        )
    );
    let Reply::Array(list) = n.read(&["FUNCTION", "LIST"]) else {
        panic!()
    };
    assert_eq!(list.len(), 1);
    let Reply::Bulk(dump) = n.read(&["FUNCTION", "DUMP"]) else {
        panic!()
    };
    assert_eq!(n.apply(&["FUNCTION", "FLUSH"]), Reply::ok());
    assert_eq!(
        n.apply(&["FCALL", "f1", "0"]),
        Reply::Error("ERR Function not found".into())
    );
    let mut txn = n.db.writer();
    let mut rng = SplitMix64::new(1);
    let restore = vec![
        Bytes::from("FUNCTION"),
        Bytes::from("RESTORE"),
        dump.clone(),
    ];
    let reply = {
        let mut ctx = Ctx {
            txn: &mut txn,
            db: 0,
            now_ms: 0,
            rng: &mut rng,
        };
        command::execute(&mut ctx, command::lookup(b"function").unwrap(), &restore).unwrap()
    };
    n.db.commit(txn, false).unwrap();
    assert_eq!(reply, Reply::ok());
    assert_eq!(
        n.apply(&["FCALL", "f1", "1", "k", "a"]),
        Reply::Array(vec![bulk("k"), bulk("a")])
    );
    assert_eq!(n.apply(&["FUNCTION", "DELETE", "mylib"]), Reply::ok());
    assert_eq!(
        n.apply(&["FUNCTION", "DELETE", "mylib"]),
        Reply::Error("ERR Library not found".into())
    );
}

#[test]
fn routing_sends_only_known_read_only_scripts_to_the_read_path() {
    let mut n = Node::new();
    let route_of = |n: &Node, parts: &[&str]| {
        let argv = argv(parts);
        route(command::lookup(&argv[0]).unwrap(), &argv, &n.db)
    };
    assert_eq!(route_of(&n, &["EVAL", "return 1", "0"]), Some(Route::Write));
    assert_eq!(
        route_of(&n, &["EVAL", "#!lua flags=no-writes\nreturn 1", "0"]),
        Some(Route::Read)
    );
    assert_eq!(
        route_of(&n, &["EVAL_RO", "return 1", "0"]),
        Some(Route::Read)
    );
    assert_eq!(route_of(&n, &["SCRIPT", "KILL"]), Some(Route::Local));
    assert_eq!(route_of(&n, &["SCRIPT", "LOAD", "x"]), Some(Route::Write));
    assert_eq!(route_of(&n, &["GET", "x"]), None);
    let Reply::Bulk(sha) = n.apply(&["SCRIPT", "LOAD", "#!lua flags=no-writes\nreturn 1"]) else {
        panic!()
    };
    let sha = String::from_utf8_lossy(&sha).to_string();
    assert_eq!(route_of(&n, &["EVALSHA", &sha, "0"]), Some(Route::Read));
    assert_eq!(n.read(&["EVALSHA", &sha, "0"]), Reply::Int(1));
}
