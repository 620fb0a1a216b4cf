//! The wire protocol, byte for byte: inline commands, pipelining, partial frames, protocol
//! errors (which close the connection), limits, RESP3, and what redis-cli prints.

use std::time::Duration;

use kiwi_tests::*;

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn inline_commands() {
    let s = KiwiServer::start();
    let out = s.raw(b"PING\r\nSET greeting \"hello world\"\r\nGET greeting\r\nset 'it''s' x\r\nECHO 'a\\'b'\r\nQUIT\r\n");
    // `set 'it''s' x`: a closing quote must be followed by a space: protocol error in Redis.
    assert_eq!(
        text(&out),
        "+PONG\r\n+OK\r\n$11\r\nhello world\r\n-ERR Protocol error: unbalanced quotes in request\r\n"
    );

    let out =
        s.raw(b"ECHO \"tab\\there\"\r\nECHO 'single \\'q\\''\r\nECHO \"a\" \"b\"\r\nQUIT\r\n");
    assert_eq!(
        text(&out),
        "$8\r\ntab\there\r\n$10\r\nsingle 'q'\r\n-ERR wrong number of arguments for 'echo' command\r\n+OK\r\n"
    );
    let out = s.raw(b"ECHO \"\\x41\\x42\\n\"\r\n\r\n   \r\nPING\nQUIT\r\n");
    assert_eq!(
        text(&out),
        "$3\r\nAB\n\r\n+PONG\r\n+OK\r\n",
        "empty lines are skipped, a bare \\n ends a line"
    );
}

#[test]
fn multibulk_split_across_writes() {
    let s = KiwiServer::start();
    let mut conn = s.raw_conn();
    let frame = b"*3\r\n$3\r\nSET\r\n$5\r\nsplit\r\n$10\r\n0123456789\r\n*2\r\n$3\r\nGET\r\n$5\r\nsplit\r\n";
    for b in frame.iter() {
        conn.send(&[*b]);
    }
    let expected = b"+OK\r\n$10\r\n0123456789\r\n";
    assert_eq!(
        text(&conn.read_at_least(expected.len(), RAW_TIMEOUT)),
        text(expected)
    );
}

#[test]
fn pipelining_1000_commands_in_one_write() {
    let s = KiwiServer::start();
    let mut request = Vec::new();
    let mut expected = Vec::new();
    for i in 0..1000 {
        // Each group of four commands works on one key: SET, GET, INCR, ECHO.
        let key = format!("k{}", (i / 4) % 10);
        match i % 4 {
            0 => {
                let v = format!("v{i}");
                request.extend(
                    format!(
                        "*3\r\n$3\r\nSET\r\n${}\r\n{key}\r\n${}\r\n{v}\r\n",
                        key.len(),
                        v.len()
                    )
                    .bytes(),
                );
                expected.extend(b"+OK\r\n");
            }
            1 => {
                request.extend(format!("*2\r\n$3\r\nGET\r\n${}\r\n{key}\r\n", key.len()).bytes());
                let v = format!("v{}", i - 1);
                expected.extend(format!("${}\r\n{v}\r\n", v.len()).bytes());
            }
            2 => {
                request.extend(format!("*2\r\n$4\r\nINCR\r\n$4\r\nctr{}\r\n", i % 10).bytes());
                // i % 4 == 2 and i % 10 == d: counts how often INCR already hit ctr{d}.
                let n = (0..=i).filter(|j| j % 4 == 2 && j % 10 == i % 10).count();
                expected.extend(format!(":{n}\r\n").bytes());
            }
            _ => {
                let msg = format!("echo-{i}");
                request.extend(format!("*2\r\n$4\r\nECHO\r\n${}\r\n{msg}\r\n", msg.len()).bytes());
                expected.extend(format!("${}\r\n{msg}\r\n", msg.len()).bytes());
            }
        }
    }
    request.extend(b"QUIT\r\n");
    expected.extend(b"+OK\r\n");
    let out = s.raw(&request);
    assert_eq!(
        out.len(),
        expected.len(),
        "got {}",
        text(&out[..out.len().min(500)])
    );
    assert!(out == expected, "replies differ from the expected order");

    let mut pings = Vec::new();
    for _ in 0..1000 {
        pings.extend(b"PING\r\n");
    }
    pings.extend(b"QUIT\r\n");
    let out = s.raw(&pings);
    assert_eq!(
        out,
        [b"+PONG\r\n".repeat(1000), b"+OK\r\n".to_vec()].concat()
    );
}

#[test]
fn pipelined_reads_see_the_writes_before_them() {
    let s = KiwiServer::start();
    let out = s.raw(b"SET k v\r\nGET k\r\nINCR n\r\nGET n\r\nDEL k\r\nEXISTS k\r\nQUIT\r\n");
    assert_eq!(
        text(&out),
        "+OK\r\n$1\r\nv\r\n:1\r\n$1\r\n1\r\n:1\r\n:0\r\n+OK\r\n"
    );
    // A write's reply is encoded in the protocol in force when it was sent, even when a
    // HELLO right behind it in the same packet switches protocols.
    let mut conn = s.raw_conn();
    conn.send(b"GETDEL missing\r\nHELLO 3\r\nGETDEL missing\r\n");
    assert_eq!(text(&conn.read_reply(RAW_TIMEOUT)), "$-1\r\n");
    let hello = conn.read_reply(RAW_TIMEOUT);
    assert!(hello.starts_with(b"%7\r\n"), "{}", text(&hello));
    assert_eq!(text(&conn.read_reply(RAW_TIMEOUT)), "_\r\n");
}

#[test]
fn redis_rs_pipeline() {
    let s = KiwiServer::start();
    let mut c = s.client();
    let mut pipe = redis::pipe();
    for i in 0..1000 {
        pipe.cmd("SET").arg(format!("key{i}")).arg(i).ignore();
    }
    for i in 0..1000 {
        pipe.cmd("GET").arg(format!("key{i}"));
    }
    let values: Vec<i64> = pipe.query(&mut c).unwrap();
    assert_eq!(values, (0..1000).collect::<Vec<i64>>());
}

#[test]
fn malformed_frame_is_a_protocol_error_and_closes() {
    let s = KiwiServer::start();
    let mut conn = s.raw_conn();
    conn.send(b"*1\r\n+foo\r\n");
    let (out, closed) = conn.read_until_closed(RAW_TIMEOUT);
    assert!(
        text(&out).starts_with("-ERR Protocol error"),
        "{}",
        text(&out)
    );
    assert_eq!(text(&out), "-ERR Protocol error: expected '$', got '+'\r\n");
    assert!(
        closed,
        "the server must close the connection after a protocol error"
    );

    let mut conn = s.raw_conn();
    conn.send(b"*x\r\n");
    let (out, closed) = conn.read_until_closed(RAW_TIMEOUT);
    assert_eq!(
        text(&out),
        "-ERR Protocol error: invalid multibulk length\r\n"
    );
    assert!(closed);

    let mut conn = s.raw_conn();
    conn.send(b"*1\r\n$-5\r\n");
    let (out, closed) = conn.read_until_closed(RAW_TIMEOUT);
    assert_eq!(text(&out), "-ERR Protocol error: invalid bulk length\r\n");
    assert!(closed);

    // Replies to the commands before the bad frame are still sent, in order.
    let mut conn = s.raw_conn();
    conn.send(b"PING\r\n*1\r\n$4\r\nPING\r\n*1\r\n:1\r\n");
    let (out, closed) = conn.read_until_closed(RAW_TIMEOUT);
    assert_eq!(
        text(&out),
        "+PONG\r\n+PONG\r\n-ERR Protocol error: expected '$', got ':'\r\n"
    );
    assert!(closed);

    // The server itself is fine.
    let mut c = s.client();
    assert_eq!(c.run("PING"), status("PONG"));
}

#[test]
fn oversized_bulk_is_a_protocol_error() {
    let s = KiwiServer::start_with(&["--proto-max-bulk-len", "1mb"]);
    let mut conn = s.raw_conn();
    conn.send(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2000000\r\n");
    let (out, closed) = conn.read_until_closed(RAW_TIMEOUT);
    assert_eq!(text(&out), "-ERR Protocol error: invalid bulk length\r\n");
    assert!(closed);

    // Exactly at the limit is fine.
    let mut c = s.client();
    let value = vec![b'v'; 1024 * 1024];
    assert_eq!(c.run_args(&[&b"SET"[..], b"k", &value]), ok());
    assert_eq!(c.run("STRLEN k"), int(1024 * 1024));
}

#[test]
fn unknown_command_and_wrong_arity() {
    let s = KiwiServer::start();
    let mut c = s.client();
    assert_eq!(
        c.run("FOO"),
        err("ERR unknown command 'FOO', with args beginning with: ")
    );
    assert_eq!(
        c.run("FOO bar baz"),
        err("ERR unknown command 'FOO', with args beginning with: 'bar' 'baz' ")
    );
    assert_eq!(c.run("GET"), wrong_arity("get"));
    assert_eq!(c.run("SET k"), wrong_arity("set"));
    assert_eq!(c.run("gEt k"), nil(), "command names are case-insensitive");
    assert_eq!(
        c.run("PING"),
        status("PONG"),
        "errors leave the connection usable"
    );

    let out = s.raw(b"nosuch a\r\nQUIT\r\n");
    assert_eq!(
        text(&out),
        "-ERR unknown command 'nosuch', with args beginning with: 'a' \r\n+OK\r\n"
    );
    let out = s.raw(b"*1\r\n$3\r\nGET\r\nQUIT\r\n");
    assert_eq!(
        text(&out),
        "-ERR wrong number of arguments for 'get' command\r\n+OK\r\n"
    );
}

#[test]
fn hello_switches_to_resp3() {
    let s = KiwiServer::start();
    let mut conn = s.raw_conn();
    conn.send(b"GET missing\r\n");
    assert_eq!(text(&conn.read_reply(RAW_TIMEOUT)), "$-1\r\n");

    conn.send(b"HELLO 3\r\n");
    let hello = text(&conn.read_reply(RAW_TIMEOUT));
    assert!(hello.starts_with("%7\r\n"), "{hello}");
    assert!(hello.contains("$5\r\nproto\r\n:3\r\n"), "{hello}");
    assert!(hello.contains("$6\r\nserver\r\n$5\r\nredis\r\n"), "{hello}");

    conn.send(b"GET missing\r\n");
    assert_eq!(text(&conn.read_reply(RAW_TIMEOUT)), "_\r\n");
    conn.send(b"SET k v\r\nGET k\r\nINCR n\r\nMGET k missing\r\n");
    assert_eq!(text(&conn.read_reply(RAW_TIMEOUT)), "+OK\r\n");
    assert_eq!(text(&conn.read_reply(RAW_TIMEOUT)), "$1\r\nv\r\n");
    assert_eq!(text(&conn.read_reply(RAW_TIMEOUT)), ":1\r\n");
    assert_eq!(
        text(&conn.read_reply(RAW_TIMEOUT)),
        "*2\r\n$1\r\nv\r\n_\r\n"
    );

    conn.send(b"HELLO 2\r\n");
    let hello = text(&conn.read_reply(RAW_TIMEOUT));
    assert!(
        hello.starts_with("*14\r\n"),
        "a RESP2 HELLO reply is a flat array: {hello}"
    );
    conn.send(b"GET missing\r\n");
    assert_eq!(text(&conn.read_reply(RAW_TIMEOUT)), "$-1\r\n");

    conn.send(b"HELLO 4\r\n");
    assert_eq!(
        text(&conn.read_reply(RAW_TIMEOUT)),
        "-NOPROTO unsupported protocol version\r\n"
    );
    conn.send(b"HELLO abc\r\n");
    assert_eq!(
        text(&conn.read_reply(RAW_TIMEOUT)),
        "-ERR Protocol version is not an integer or out of range\r\n"
    );
}

#[test]
fn redis_rs_speaks_resp3() {
    let s = KiwiServer::start();
    let client =
        redis::Client::open(format!("redis://127.0.0.1:{}/?protocol=resp3", s.port())).unwrap();
    let mut c = client.get_connection().unwrap();
    assert_eq!(c.run("SET k v"), ok());
    assert_eq!(c.run("GET k"), bulk("v"));
    assert_eq!(c.run("GET missing"), nil());
}

#[test]
fn quit_replies_ok_and_closes() {
    let s = KiwiServer::start();
    let mut conn = s.raw_conn();
    conn.send(b"QUIT\r\nPING\r\n");
    let (out, closed) = conn.read_until_closed(RAW_TIMEOUT);
    assert_eq!(text(&out), "+OK\r\n", "nothing after QUIT is answered");
    assert!(closed);
}

#[test]
fn client_closing_its_side_is_handled() {
    let s = KiwiServer::start();
    let mut conn = s.raw_conn();
    conn.send(b"SET k v\r\n");
    assert_eq!(text(&conn.read_reply(RAW_TIMEOUT)), "+OK\r\n");
    conn.shutdown_write();
    let (_, closed) = conn.read_until_closed(RAW_TIMEOUT);
    assert!(closed, "the server closes its side too");
    let mut c = s.client();
    assert_eq!(c.run("GET k"), bulk("v"));
}

#[test]
fn many_connections_at_once() {
    let s = KiwiServer::start();
    let mut clients: Vec<redis::Connection> = (0..50).map(|_| s.client()).collect();
    for (i, c) in clients.iter_mut().enumerate() {
        assert_eq!(c.run(&format!("SET conn{i} {i}")), ok());
    }
    for (i, c) in clients.iter_mut().enumerate().rev() {
        assert_eq!(c.run(&format!("GET conn{i}")), bulk(i.to_string()));
    }
    let mut c = s.client();
    assert_eq!(c.run("DBSIZE"), int(50));
}

#[test]
fn redis_cli_output() {
    let s = KiwiServer::start();
    assert_eq!(s.cli(&["PING"]), "PONG\n");
    assert_eq!(s.cli(&["SET", "k", "hello world"]), "OK\n");
    assert_eq!(s.cli(&["GET", "k"]), "hello world\n");
    assert_eq!(s.cli(&["GET", "missing"]), "\n");
    assert_eq!(s.cli(&["INCR", "n"]), "1\n");
    assert_eq!(s.cli(&["MSET", "a", "1", "b", "2"]), "OK\n");
    assert_eq!(s.cli(&["MGET", "a", "missing", "b"]), "1\n\n2\n");
    assert_eq!(s.cli(&["TYPE", "k"]), "string\n");
    assert_eq!(
        s.cli(&["INCR", "k"]),
        "ERR value is not an integer or out of range\n\n"
    );

    assert_eq!(s.cli(&["--no-raw", "GET", "k"]), "\"hello world\"\n");
    assert_eq!(s.cli(&["--no-raw", "GET", "missing"]), "(nil)\n");
    assert_eq!(s.cli(&["--no-raw", "INCR", "n"]), "(integer) 2\n");
    assert_eq!(
        s.cli(&["--no-raw", "MGET", "a", "b"]),
        "1) \"1\"\n2) \"2\"\n"
    );
    assert_eq!(s.cli(&["--no-raw", "KEYS", "nomatch*"]), "(empty array)\n");
    assert_eq!(
        s.cli(&["--no-raw", "INCR", "k"]),
        "(error) ERR value is not an integer or out of range\n"
    );
    assert_eq!(s.cli(&["DBSIZE"]), "4\n");
    assert_eq!(s.cli(&["-n", "3", "SET", "in3", "x"]), "OK\n");
    assert_eq!(s.cli(&["-n", "3", "DBSIZE"]), "1\n");

    let info = s.cli(&["INFO", "server"]);
    assert!(info.contains("redis_version:"), "{info}");
    assert!(info.contains(&format!("tcp_port:{}", s.port())), "{info}");
}

#[test]
fn partial_frame_waits_for_the_rest() {
    let s = KiwiServer::start();
    let mut conn = s.raw_conn();
    conn.send(b"*2\r\n$4\r\nECHO\r\n$5\r\nhel");
    let early = conn.read_until(Duration::from_millis(200), |b| !b.is_empty());
    assert!(
        early.is_empty(),
        "no reply to half a frame: {}",
        text(&early)
    );
    conn.send(b"lo\r\n");
    assert_eq!(text(&conn.read_reply(RAW_TIMEOUT)), "$5\r\nhello\r\n");
}
