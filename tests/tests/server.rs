//! Connection and server commands: CLIENT, CONFIG, INFO, COMMAND, RESET.

use kiwi_tests::*;

#[test]
fn client_name_and_id() {
    let s = KiwiServer::start();
    let mut c = s.client();
    assert_eq!(c.run("CLIENT GETNAME"), nil());
    assert_eq!(c.run("CLIENT SETNAME tester"), ok());
    assert_eq!(c.run("CLIENT GETNAME"), bulk("tester"));
    assert_eq!(
        c.run_args(&["CLIENT", "SETNAME", "bad name"]),
        err("ERR Client names cannot contain spaces, newlines or special characters.")
    );
    assert_eq!(c.run("CLIENT GETNAME"), bulk("tester"));
    let id = c.run("CLIENT ID").int();
    let mut other = s.client();
    let other_id = other.run("CLIENT ID").int();
    assert!(id > 0 && other_id > 0 && id != other_id, "{id} {other_id}");
    let list = c.run("CLIENT LIST").text();
    assert!(
        list.lines()
            .any(|l| l.contains(&format!("id={id} ")) && l.contains("name=tester")),
        "{list}"
    );
    assert!(
        list.lines().any(|l| l.contains(&format!("id={other_id} "))),
        "{list}"
    );
    let info = c.run("CLIENT INFO").text();
    assert!(
        info.contains(&format!("id={id} ")) && info.contains("name=tester"),
        "{info}"
    );
}

#[test]
fn config_get_and_set() {
    let s = KiwiServer::start();
    let mut c = s.client();
    assert_eq!(
        c.run("CONFIG GET port"),
        bulks(&["port", &s.port().to_string()])
    );
    assert_eq!(c.run("CONFIG GET nosuchparameter"), arr(vec![]));
    assert_eq!(c.run("CONFIG SET requirepass newpass"), ok());
    assert_eq!(
        c.run("GET k"),
        nil(),
        "the current connection stays authenticated"
    );
    let mut fresh = s.client();
    assert_eq!(fresh.run("GET k"), err("NOAUTH Authentication required."));
    assert_eq!(fresh.run("AUTH newpass"), ok());
    assert_eq!(fresh.run("GET k"), nil());
    assert_eq!(
        c.run("CONFIG GET requirepass"),
        bulks(&["requirepass", "newpass"])
    );
}

#[test]
fn info_sections() {
    let s = KiwiServer::start();
    let mut c = s.client();
    assert_eq!(c.run("MSET a 1 b 2"), ok());
    assert_eq!(c.run("SELECT 4"), ok());
    assert_eq!(c.run("SET c 3"), ok());
    let info = c.run("INFO").text();
    assert!(info.contains("# Server\r\n"), "{info}");
    assert!(info.contains("redis_version:"), "{info}");
    assert!(
        info.contains(&format!("tcp_port:{}\r\n", s.port())),
        "{info}"
    );
    let keyspace = c.run("INFO keyspace").text();
    assert!(keyspace.starts_with("# Keyspace\r\n"), "{keyspace}");
    assert!(keyspace.contains("db0:keys=2,"), "{keyspace}");
    assert!(keyspace.contains("db4:keys=1,"), "{keyspace}");
    assert!(!keyspace.contains("db1:"), "{keyspace}");
    assert!(
        !keyspace.contains("# Server"),
        "one section only: {keyspace}"
    );
    let clients = c.run("INFO clients").text();
    assert!(clients.contains("connected_clients:1\r\n"), "{clients}");
}

#[test]
fn command_introspection() {
    let s = KiwiServer::start();
    let mut c = s.client();
    let count = c.run("COMMAND COUNT").int();
    assert!(count > 50, "COMMAND COUNT {count}");
    let info = c.run("COMMAND INFO get nosuchcommand").items();
    assert_eq!(info.len(), 2);
    let get = info[0].items();
    assert_eq!(get[0], bulk("get"));
    assert_eq!(get[1], int(2));
    assert_eq!(info[1], nil());
    assert_eq!(c.run("COMMAND GETKEYS SET k v"), bulks(&["k"]));
    assert_eq!(c.run("COMMAND GETKEYS MSET a 1 b 2"), bulks(&["a", "b"]));
}

#[test]
fn reset_returns_to_defaults() {
    let s = KiwiServer::start();
    let mut c = s.client();
    assert_eq!(c.run("SELECT 3"), ok());
    assert_eq!(c.run("SET k in3"), ok());
    assert_eq!(c.run("MULTI"), ok());
    assert_eq!(c.run("SET k queued"), status("QUEUED"));
    assert_eq!(c.run("RESET"), status("RESET"));
    assert_eq!(
        c.run("GET k"),
        nil(),
        "back in database 0, the queued SET discarded"
    );
    assert_eq!(c.run("SELECT 3"), ok());
    assert_eq!(c.run("GET k"), bulk("in3"));
    assert_eq!(c.run("EXEC"), err("ERR EXEC without MULTI"));
}

#[test]
fn a_log_captured_from_stderr_carries_no_colour_codes() {
    let server = KiwiServer::start();
    let log = server.log();
    assert!(log.contains("ready to accept connections"), "{log}");
    assert!(
        !log.contains('\u{1b}'),
        "escape codes in a log that is not a terminal:\n{log}"
    );
}

/// COMMAND DOCS answers, byte for byte, what redis-server answers: in RESP2 and in RESP3.
/// (Container commands such as CLIENT are left out: Redis lists their subcommands in its hash
/// table's order, which changes from one redis-server process to the next.)
#[test]
fn command_docs_are_the_ones_redis_gives() {
    let kiwi = KiwiServer::start();
    let redis = KiwiServer::start_reference_redis();
    let request = |hello3: bool| {
        let mut bytes = Vec::new();
        if hello3 {
            bytes.extend_from_slice(b"*2\r\n$5\r\nHELLO\r\n$1\r\n3\r\n");
        }
        bytes.extend_from_slice(
            b"*6\r\n$7\r\nCOMMAND\r\n$4\r\nDOCS\r\n$3\r\nset\r\n$4\r\nZADD\r\n$6\r\nlrange\r\n$7\r\nnotacmd\r\n",
        );
        bytes
    };
    for hello3 in [false, true] {
        let answers: Vec<Vec<u8>> = [&kiwi, &redis]
            .iter()
            .map(|server| {
                let mut conn = server.raw_conn();
                conn.send(&request(hello3));
                if hello3 {
                    conn.read_reply(std::time::Duration::from_secs(5));
                }
                conn.read_reply(std::time::Duration::from_secs(5))
            })
            .collect();
        assert_eq!(
            String::from_utf8_lossy(&answers[0]),
            String::from_utf8_lossy(&answers[1]),
            "COMMAND DOCS (RESP3: {hello3})"
        );
    }
}

/// COMMAND GETKEYS answers as redis-server does, for commands whose keys are counted by an
/// argument or follow an option too, and Kiwi's internal commands stay out of COMMAND.
#[test]
fn command_getkeys_answers_as_redis_does() {
    let kiwi = KiwiServer::start();
    let redis = KiwiServer::start_reference_redis();
    let (mut k, mut r) = (kiwi.client(), redis.client());
    for line in [
        "COMMAND GETKEYS LMPOP 2 a b LEFT",
        "COMMAND GETKEYS BLMPOP 0 2 a b LEFT",
        "COMMAND GETKEYS ZMPOP 1 z MIN",
        "COMMAND GETKEYS BZMPOP 0 2 z y MIN",
        "COMMAND GETKEYS ZUNIONSTORE d 2 a b",
        "COMMAND GETKEYS ZINTERSTORE d 1 a WEIGHTS 2",
        "COMMAND GETKEYS ZINTER 2 a b",
        "COMMAND GETKEYS SINTERCARD 2 a b",
        "COMMAND GETKEYS ZDIFF 2 a b WITHSCORES",
        "COMMAND GETKEYS ZDIFFSTORE d 2 a b",
        "COMMAND GETKEYS ZINTERCARD 2 a b",
        "COMMAND GETKEYS LMPOP 3 a b LEFT",
        "COMMAND GETKEYS LMPOP 0 a LEFT",
        "COMMAND GETKEYS LMPOP 5 a LEFT",
        "COMMAND GETKEYS LMPOP x a",
        "COMMAND GETKEYS SORT k STORE d",
        "COMMAND GETKEYS SORT k LIMIT 0 1 BY w GET g STORE d",
        "COMMAND GETKEYS SORT_RO k BY w",
        "COMMAND GETKEYS MSET a 1 b 2",
        "COMMAND GETKEYS GET",
        "COMMAND GETKEYS PING x",
        "COMMAND GETKEYS NOSUCH x",
        "COMMAND GETKEYS GET a b",
        "COMMAND INFO kiwi.watch",
    ] {
        assert_eq!(k.run(line), r.run(line), "{line}");
    }
    let names = k.run("COMMAND");
    assert!(
        !format!("{names:?}").contains("kiwi."),
        "internal commands are not listed"
    );
}
