//! Scripting: EVAL and friends, SCRIPT, FUNCTION and FCALL, against real kiwi processes.
//!
//! The differential tests send the same commands to kiwi and to a real redis-server 7.0.15 over
//! raw connections, in RESP2 and RESP3, and compare the replies byte for byte: everything Redis
//! answers deterministically (no TIME, no clock) must be the same.

use std::time::{Duration, Instant};

use kiwi_tests::cluster::{wait_for, TestCluster};
use kiwi_tests::*;

/// One command in RESP.
fn resp(args: &[&str]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Sends each command to both servers on connections speaking `protocol` and asserts the
/// replies are the same bytes.
fn compare(kiwi: &KiwiServer, redis: &KiwiServer, protocol: u8, commands: &[Vec<&str>]) {
    let mut k = kiwi.raw_conn();
    let mut r = redis.raw_conn();
    if protocol == 3 {
        for conn in [&mut k, &mut r] {
            conn.send(&resp(&["HELLO", "3"]));
            conn.read_reply(RAW_TIMEOUT);
        }
    }
    for args in commands {
        k.send(&resp(args));
        r.send(&resp(args));
        let want = r.read_reply(RAW_TIMEOUT);
        let got = k.read_reply(Duration::from_secs(30));
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(&want),
            "RESP{protocol} reply to {args:?}"
        );
    }
}

fn fresh(servers: &[&KiwiServer]) {
    for s in servers {
        let mut c = s.client();
        for line in ["FLUSHALL", "SCRIPT FLUSH", "FUNCTION FLUSH"] {
            assert_eq!(c.run(line), ok(), "{line}");
        }
    }
}

fn eval(body: &str) -> Vec<&str> {
    vec!["EVAL", body, "0"]
}

const SCRIPTS: &[&str] = &[
    "return 1",
    "return 3.99",
    "return -3.99",
    "return 1e20",
    "return math.huge",
    "return 'abc'",
    "return true",
    "return false",
    "return nil",
    "return {1,2,nil,4}",
    "return {1,{2,{3,'x'}},true,false}",
    "return {ok='fine'}",
    "return {err='bad'}",
    "return {err='x',ok='y'}",
    "return {double=3.5}",
    "return {map={a=1}}",
    "return redis.status_reply('FINE')",
    "return redis.error_reply('bad')",
    "return redis.error_reply('XX bad')",
    "return redis.call('ping')",
    "return redis.call('set','k','v')",
    "return redis.call('get','k')",
    "return type(redis.call('get','nosuchkey'))",
    "return redis.call('incr','k')",
    "return redis.pcall('incr','k')",
    "return redis.pcall('get','a','b')",
    "return redis.call('nosuch')",
    "return redis.call('get','a','b')",
    "return redis.call()",
    "return redis.call({})",
    "return redis.call('set','k',{})",
    "return redis.call('set','n',1.5)",
    "return redis.call('get','n')",
    "return redis.call('multi')",
    "return redis.call('blpop','x',0)",
    "return redis.call('eval','return 1',0)",
    "redis.call('rpush','l','a','b','c') return redis.call('lrange','l',0,-1)",
    "redis.call('hset','h','f','v') return redis.call('hgetall','h')",
    "redis.call('zadd','z',1,'a',2,'b') return redis.call('zrange','z',0,-1,'withscores')",
    "redis.call('lpush','k2','x') return redis.call('get','k2')",
    "return y",
    "x = 1",
    "redis.call = nil return 1",
    "string.x = 1 return string.x",
    "error('boom')",
    "error({err='MY custom'})",
    "return 'x' .. ",
    "return type(os)",
    "return type(io)",
    "return type(require)",
    "return type(loadstring)",
    "return type(setmetatable)",
    "return type(unpack)",
    "return _VERSION",
    "return redis.REDIS_VERSION",
    "return cjson.encode({1,2,3,{a=1}})",
    "return cjson.encode({})",
    "return cjson.encode({1,nil,3})",
    "return cjson.encode({[1]=1,[20]=2})",
    "return cjson.encode('a/b\"c')",
    "return cjson.encode({a=1.5,b='x',c=false})",
    "return cjson.decode('[1,2,{\"a\":3}]')[3].a",
    "return cjson.encode(cjson.decode('{\"a\":null}'))",
    "return bit.band(0xff,0x0f)",
    "return bit.tohex(255)",
    "return bit.tohex(-1, -4)",
    "return {bit.lshift(1, 31), bit.rshift(-1, 28), bit.arshift(-256, 4), bit.bxor(5, 3)}",
    "return redis.sha1hex('')",
    "return cmsgpack.pack({1,2,3})",
    "return cmsgpack.pack({a=1})",
    "return cmsgpack.pack({})",
    "return cmsgpack.pack(1.5, -1, 300, -300, 70000, 2^40, -2^40, 'x', true, false, 0.1)",
    "return cmsgpack.pack(string.rep('x', 40), string.rep('y', 300))",
    "return {cmsgpack.unpack(cmsgpack.pack(1, 'x', {2, {a='b'}}))}",
    "return cmsgpack.unpack('\\193')",
    "redis.setresp(4) return 1",
    "redis.log('x','hi') return 1",
    "return redis.log(redis.LOG_WARNING, 'hi')",
    "return redis.replicate_commands()",
    "return redis.set_repl(redis.REPL_ALL)",
    "return redis.acl_check_cmd('get','x')",
    "return redis.acl_check_cmd('nosuch')",
    "redis.setresp(3) return true",
    "redis.setresp(3) return false",
    "redis.setresp(3) return {double=3.5}",
    "redis.setresp(3) redis.call('hset','h3','f','v') return redis.call('hgetall','h3')",
    "redis.setresp(3) return redis.call('get','nosuchkey')",
    "return redis.call('select', 1)",
    "#!lua flags=no-writes\nreturn redis.call('set','k','v')",
    "#!lua flags=no-writes\nreturn redis.call('get','k')",
    "#!lua flags=bad\nreturn 1",
    "#!luax\nreturn 1",
    "#!lua foo=bar\nreturn 1",
    "#!lua\nreturn 2",
];

#[test]
fn scripts_answer_as_redis_does_over_resp2_and_resp3() {
    let kiwi = KiwiServer::start();
    let redis = KiwiServer::start_reference_redis();
    for protocol in [2, 3] {
        fresh(&[&kiwi, &redis]);
        let mut commands: Vec<Vec<&str>> = SCRIPTS.iter().map(|s| eval(s)).collect();
        commands.extend([
            vec![
                "EVAL",
                "return {KEYS[1], KEYS[2], ARGV[1]}",
                "2",
                "a",
                "b",
                "c",
            ],
            vec!["EVAL", "return 1", "2", "a"],
            vec!["EVAL", "return 1", "-1"],
            vec!["EVAL", "return 1", "x"],
            vec!["EVAL_RO", "return redis.call('set','k','v')", "0"],
            vec!["EVAL_RO", "#!lua\nreturn 1", "0"],
            vec!["EVAL_RO", "return redis.call('get','k')", "0"],
            vec!["EVAL"],
        ]);
        compare(&kiwi, &redis, protocol, &commands);
    }
}

#[test]
fn evalsha_and_the_script_cache_answer_as_redis_does() {
    let kiwi = KiwiServer::start();
    let redis = KiwiServer::start_reference_redis();
    fresh(&[&kiwi, &redis]);
    let sha = "e0e1f9fabfc9d4800c877a703b823ac0578ff8db"; // of "return 1"
    let upper = sha.to_uppercase();
    let body = "return redis.call('incr', KEYS[1])";
    let body_sha = "2bab3b661081db58bd2341920e0ba7cf5dc77b25";
    let commands = vec![
        vec!["EVALSHA", sha, "0"],
        vec!["EVALSHA", "abc", "0"],
        vec!["SCRIPT", "EXISTS", sha, "abc"],
        vec!["SCRIPT", "LOAD", "return 1"],
        vec!["SCRIPT", "LOAD", "return 'x' .."],
        vec!["SCRIPT", "EXISTS", sha, &upper, "abc"],
        vec!["EVALSHA", sha, "0"],
        vec!["EVALSHA", &upper, "0"],
        vec!["EVALSHA_RO", sha, "0"],
        vec!["EVAL", body, "1", "counter"],
        vec!["EVALSHA", body_sha, "1", "counter"],
        vec!["SCRIPT", "FLUSH"],
        vec!["SCRIPT", "EXISTS", sha],
        vec!["EVALSHA", sha, "0"],
        vec!["SCRIPT", "FLUSH", "ASYNC"],
        vec!["SCRIPT", "FLUSH", "bad"],
        vec!["SCRIPT", "KILL"],
        vec!["SCRIPT", "NOPE"],
        vec!["SCRIPT", "HELP"],
    ];
    compare(&kiwi, &redis, 2, &commands);
}

const LIBRARY: &str = "#!lua name=mylib\n\
    redis.register_function('f1', function(keys, args) return {keys[1], args[1]} end)\n\
    redis.register_function{function_name='f2', callback=function() return redis.call('set','x','1') end, flags={'no-writes'}, description='desc'}\n\
    redis.register_function{function_name='incr_by', callback=function(keys, args) return redis.call('incrby', keys[1], args[1]) end}";

const ONE_FUNCTION: &str = "#!lua name=solo\n\
    redis.register_function{function_name='only', callback=function() return 1 end, flags={'no-writes', 'allow-stale'}, description='the one'}";

#[test]
fn functions_answer_as_redis_does() {
    let kiwi = KiwiServer::start();
    let redis = KiwiServer::start_reference_redis();
    for protocol in [2, 3] {
        fresh(&[&kiwi, &redis]);
        let commands = vec![
            vec!["FUNCTION", "LOAD", "return 1"],
            vec!["FUNCTION", "LOAD", "#!lua\nreturn 1"],
            vec!["FUNCTION", "LOAD", "#!lua name=a b=c\nreturn 1"],
            vec!["FUNCTION", "LOAD", "#!foo name=a\nreturn 1"],
            vec!["FUNCTION", "LOAD", "#!lua name=a-b\nreturn 1"],
            vec!["FUNCTION", "LOAD", "#!lua name=mylib\nreturn 1"],
            vec![
                "FUNCTION",
                "LOAD",
                "#!lua name=mylib\nredis.register_function('f-1', function() end)",
            ],
            vec!["FUNCTION", "LOAD", "#!lua name=mylib\nredis.register_function('f1')"],
            vec![
                "FUNCTION",
                "LOAD",
                "#!lua name=mylib\nredis.register_function{function_name='f1', callback=function() return 1 end, flags={'bad'}}",
            ],
            vec![
                "FUNCTION",
                "LOAD",
                "#!lua name=mylib\nredis.register_function{function_name='f1', callback=function() return 1 end, what=1}",
            ],
            vec!["FUNCTION", "LOAD", "#!lua name=mylib\nredis.call('ping')"],
            vec!["FUNCTION", "LOAD", "#!lua name=mylib\nx = = 1"],
            vec!["FUNCTION", "LOAD", "#!lua name=mylib\nerror('boom')"],
            vec!["FUNCTION", "LOAD", LIBRARY],
            vec!["FUNCTION", "LOAD", LIBRARY],
            vec![
                "FUNCTION",
                "LOAD",
                "#!lua name=other\nredis.register_function('f1', function() end)",
            ],
            vec!["FCALL", "f1", "1", "k", "a"],
            vec!["FCALL", "f2", "0"],
            vec!["FCALL_RO", "f1", "0"],
            vec!["FCALL", "nosuch", "0"],
            vec!["FCALL", "f1", "5"],
            vec!["FCALL", "incr_by", "1", "n", "5"],
            vec!["FCALL", "incr_by", "1", "n", "x"],
            vec!["FUNCTION", "STATS"],
            vec!["FUNCTION", "LOAD", "REPLACE", LIBRARY],
            vec!["FUNCTION", "DELETE", "nope"],
            vec!["FUNCTION", "KILL"],
            vec!["FUNCTION", "DELETE", "mylib"],
            vec!["FCALL", "f1", "0"],
            vec!["FUNCTION", "FLUSH"],
            vec!["FUNCTION", "HELP"],
            // Redis lists a library's functions in its hash table's order: one function here.
            vec!["FUNCTION", "LOAD", ONE_FUNCTION],
            vec!["FUNCTION", "LIST"],
            vec!["FUNCTION", "LIST", "WITHCODE"],
            vec!["FUNCTION", "LIST", "LIBRARYNAME", "sol*"],
            vec!["FUNCTION", "LIST", "LIBRARYNAME", "nope*"],
            vec!["FUNCTION", "LIST", "bad"],
            vec!["FUNCTION", "STATS"],
        ];
        compare(&kiwi, &redis, protocol, &commands);
    }
}

/// A FUNCTION DUMP of either server restores into the other.
#[test]
fn function_dumps_move_between_redis_and_kiwi() {
    let kiwi = KiwiServer::start();
    let redis = KiwiServer::start_reference_redis();
    fresh(&[&kiwi, &redis]);
    let mut k = kiwi.client();
    let mut r = redis.client();
    assert_eq!(r.run_args(&["FUNCTION", "LOAD", LIBRARY]), bulk("mylib"));
    let dump = match r.run("FUNCTION DUMP") {
        R::Bulk(b) => b,
        other => panic!("{other:?}"),
    };
    assert_eq!(k.run_args(&[&b"FUNCTION"[..], b"RESTORE", &dump]), ok());
    assert_eq!(
        k.run_args(&[&b"FUNCTION"[..], b"RESTORE", &dump]),
        err("ERR Library 'mylib' already exists")
    );
    assert_eq!(
        k.run_args(&[&b"FUNCTION"[..], b"RESTORE", b"garbage"]),
        err("ERR payload version or checksum are wrong")
    );
    assert_eq!(k.run("FCALL f1 1 key arg"), bulks(&["key", "arg"]));
    let kiwi_dump = match k.run("FUNCTION DUMP") {
        R::Bulk(b) => b,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        r.run_args(&[&b"FUNCTION"[..], b"RESTORE", &kiwi_dump, b"REPLACE"]),
        ok()
    );
    assert_eq!(r.run("FCALL f1 1 key arg"), bulks(&["key", "arg"]));
}

/// A script's read-modify-write is not interleaved with other clients' scripts.
#[test]
fn a_script_reads_and_writes_atomically() {
    let s = KiwiServer::start();
    let body = "local v = tonumber(redis.call('get', KEYS[1]) or '0') \
                redis.call('set', KEYS[1], v + 1) \
                redis.call('rpush', KEYS[2], v) \
                return v";
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| {
                let mut c = s.client();
                for _ in 0..50 {
                    assert!(!c.run_args(&["EVAL", body, "2", "n", "log"]).is_err());
                }
            });
        }
    });
    let mut c = s.client();
    assert_eq!(c.run("GET n"), bulk("200"), "no update was lost");
    let seen = c.run("LRANGE log 0 -1").strings();
    let expected: Vec<String> = (0..200).map(|i| i.to_string()).collect();
    assert_eq!(seen, expected, "every script saw the one before it whole");
}

/// A script that never ends is stopped by the instruction budget, its writes undone, and the
/// node answers other clients meanwhile; a read-only one is killed by SCRIPT KILL.
#[test]
fn a_runaway_script_is_stopped_and_the_node_still_answers() {
    let s = KiwiServer::start();
    let started = Instant::now();
    let runaway = std::thread::scope(|scope| {
        let runner = scope.spawn(|| {
            let mut c = s.client();
            c.run_args(&["EVAL", "redis.call('set','k','v') while true do end", "0"])
        });
        // SCRIPT KILL is answered at once: a script applying a log entry cannot be killed
        // (or has not started, or has ended).
        let mut other = s.client();
        let kill = other.run("SCRIPT KILL");
        assert!(
            kill == err("NOTBUSY No scripts in execution right now.")
                || matches!(&kill, R::Err(e) if e.starts_with("UNKILLABLE")),
            "{kill:?}"
        );
        // Reads wait for the script's entry to be applied (Redis answers BUSY meanwhile), so
        // the node answers again once the budget stops it.
        assert_eq!(other.run("PING"), status("PONG"));
        runner.join().unwrap()
    });
    match &runaway {
        R::Err(e) => assert!(e.starts_with("ERR Script exceeded the budget"), "{e}"),
        other => panic!("{other:?}"),
    }
    assert!(started.elapsed() < Duration::from_secs(120));
    let mut c = s.client();
    assert_eq!(
        c.run("GET k"),
        nil(),
        "the aborted script's write was undone"
    );
    assert_eq!(c.run("PING"), status("PONG"));

    // A read-only script runs on the read path, where SCRIPT KILL stops it.
    let killed = std::thread::scope(|scope| {
        let runner = scope.spawn(|| {
            let mut c = s.client();
            c.run_args(&["EVAL_RO", "while true do end", "0"])
        });
        let mut other = s.client();
        wait_for(
            Duration::from_secs(30),
            "SCRIPT KILL to find the script",
            || (other.run("SCRIPT KILL") == ok()).then_some(()),
        );
        runner.join().unwrap()
    });
    match &killed {
        R::Err(e) => assert!(
            e.starts_with("ERR Script killed by user with SCRIPT KILL..."),
            "{e}"
        ),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        c.run("SCRIPT KILL"),
        err("NOTBUSY No scripts in execution right now.")
    );
}

#[test]
fn scripts_and_functions_survive_kill9() {
    let mut s = KiwiServer::start();
    let mut c = s.client();
    let sha = c.run_args(&["SCRIPT", "LOAD", "return 'cached'"]).text();
    assert_eq!(c.run_args(&["FUNCTION", "LOAD", LIBRARY]), bulk("mylib"));
    let body = "return redis.call('incr', KEYS[1])";
    assert_eq!(c.run_args(&["EVAL", body, "1", "n"]), int(1));
    drop(c);
    s.kill9();
    s.restart();
    let mut c = s.client();
    assert_eq!(c.run(&format!("EVALSHA {sha} 0")), bulk("cached"));
    assert_eq!(c.run("FCALL f1 1 key arg"), bulks(&["key", "arg"]));
    let body_sha = c.run_args(&["SCRIPT", "LOAD", body]).text();
    assert_eq!(
        c.run(&format!("SCRIPT EXISTS {body_sha}")),
        arr(vec![int(1)]),
        "EVAL cached its script"
    );
    assert_eq!(c.run(&format!("EVALSHA {body_sha} 1 n")), int(2));
}

#[test]
fn a_cluster_runs_scripts_alike_on_every_node_and_after_failover() {
    let mut cluster = TestCluster::start(3);
    let leader = cluster.wait_leader(Duration::from_secs(30));
    let mut c = cluster.nodes[leader].client();
    // Clock, math.random and SPOP: every replica must compute the same value.
    let body = "local t = redis.call('time') \
                redis.call('sadd', 's', 'a', 'b', 'c', 'd', 'e', 'f', 'g') \
                local popped = redis.call('spop', 's') \
                local v = t[1] .. '.' .. t[2] .. ':' .. math.random(1000000) .. ':' .. popped \
                redis.call('set', KEYS[1], v) \
                return v";
    let value = c.run_args(&["EVAL", body, "1", "r"]).text();
    let sha = c
        .run_args(&["SCRIPT", "LOAD", "return redis.call('get', KEYS[1])"])
        .text();
    assert_eq!(c.run_args(&["FUNCTION", "LOAD", LIBRARY]), bulk("mylib"));
    assert_eq!(c.run("FCALL incr_by 1 n 5"), int(5));
    cluster.wait_converged(Duration::from_secs(30));
    for (i, node) in cluster.running() {
        assert_eq!(
            node.local_get("r").as_deref(),
            Some(value.as_str()),
            "node {i}"
        );
    }
    drop(c);

    cluster.kill9(leader);
    let new_leader = cluster.wait_leader(Duration::from_secs(60));
    assert_ne!(new_leader, leader);
    let mut c = cluster.nodes[new_leader].client();
    let got = wait_for(Duration::from_secs(30), "EVALSHA on the new leader", || {
        let r = c.run(&format!("EVALSHA {sha} 1 r"));
        (!r.is_err()).then_some(r)
    });
    assert_eq!(got, bulk(&value));
    assert_eq!(c.run("FCALL incr_by 1 n 1"), int(6));
    assert!(c.run("FCALL_RO f1 0").is_err());
    // A follower forwards scripts to the leader.
    let follower = cluster
        .running()
        .map(|(i, _)| i)
        .find(|&i| i != new_leader)
        .expect("a follower");
    let mut f = cluster.nodes[follower].client();
    assert_eq!(f.run("FCALL incr_by 1 n 1"), int(7));
    assert_eq!(f.run(&format!("EVALSHA {sha} 1 n")), bulk("7"));
}

#[test]
fn redis_py_register_script_works() {
    let s = KiwiServer::start();
    let program = format!(
        "import redis\n\
         r = redis.Redis(port={})\n\
         incr = r.register_script(\"return redis.call('incrby', KEYS[1], ARGV[1])\")\n\
         assert incr(keys=['n'], args=[2]) == 2\n\
         assert incr(keys=['n'], args=[3]) == 5\n\
         r.script_flush()\n\
         assert incr(keys=['n'], args=[1]) == 6\n\
         print('ok')\n",
        s.port()
    );
    let out = std::process::Command::new("python3")
        .arg("-c")
        .arg(&program)
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "ok");
}
