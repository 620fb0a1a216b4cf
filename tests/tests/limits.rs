//! Bounded input and connection limits, as Redis 7 has them: requests before AUTH, memory a
//! request header can make the server reserve, and `maxclients`.

use std::time::Duration;

use kiwi_tests::*;

const PASSWORD: &str = "s3cret";

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A multibulk request of `args`.
fn frame(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend(format!("${}\r\n", a.len()).bytes());
        out.extend(*a);
        out.extend(b"\r\n");
    }
    out
}

/// Sends `bytes` on a new connection and expects `reply` and the connection closed.
fn expect_closed_with(s: &KiwiServer, bytes: &[u8], reply: &str) {
    let mut conn = s.raw_conn();
    conn.send(bytes);
    let (out, closed) = conn.read_until_closed(Duration::from_secs(5));
    assert_eq!(
        text(&out),
        reply,
        "after sending {:?}",
        text(&bytes[..bytes.len().min(40)])
    );
    assert!(closed, "the connection must be closed after {reply:?}");
}
#[test]
fn requests_before_auth_are_limited_as_in_redis() {
    let s = KiwiServer::start_with(&["--requirepass", PASSWORD]);
    // More than 10 arguments, or an argument over 16 KB, is refused from the header on: the
    // server does not wait for (or buffer) the rest.
    expect_closed_with(
        &s,
        b"*11\r\n",
        "-ERR Protocol error: unauthenticated multibulk length\r\n",
    );
    expect_closed_with(
        &s,
        b"*1048576\r\n",
        "-ERR Protocol error: unauthenticated multibulk length\r\n",
    );
    expect_closed_with(
        &s,
        b"*2\r\n$4\r\nECHO\r\n$16385\r\n",
        "-ERR Protocol error: unauthenticated bulk length\r\n",
    );
    expect_closed_with(
        &s,
        b"*2\r\n$3\r\nGET\r\n$536870912\r\n",
        "-ERR Protocol error: unauthenticated bulk length\r\n",
    );
    // The replies before the refused frame are still sent.
    expect_closed_with(
        &s,
        b"PING\r\n*12\r\n",
        "-NOAUTH Authentication required.\r\n-ERR Protocol error: unauthenticated multibulk length\r\n",
    );

    // At the limits a request is read, and answered as any other before AUTH.
    let mut conn = s.raw_conn();
    let big = vec![b'x'; 16384];
    conn.send(&frame(&[&b"ECHO"[..], &big]));
    assert_eq!(
        text(&conn.read_reply(RAW_TIMEOUT)),
        "-NOAUTH Authentication required.\r\n"
    );
    conn.send(&frame(&[&b"DEL"[..]; 10]));
    assert_eq!(
        text(&conn.read_reply(RAW_TIMEOUT)),
        "-NOAUTH Authentication required.\r\n"
    );

    // AUTH lifts the limits, from the very next request of the same packet on.
    let mut packet = frame(&[&b"AUTH"[..], PASSWORD.as_bytes()]);
    let mset: Vec<&[u8]> = "MSET k1 v k2 v k3 v k4 v k5 v"
        .split(' ')
        .map(str::as_bytes)
        .collect();
    packet.extend(frame(&mset));
    let value = vec![b'v'; 100_000];
    packet.extend(frame(&[&b"SET"[..], b"big", &value]));
    packet.extend(frame(&[&b"STRLEN"[..], b"big"]));
    conn.send(&packet);
    assert_eq!(text(&conn.read_reply(RAW_TIMEOUT)), "+OK\r\n");
    assert_eq!(text(&conn.read_reply(RAW_TIMEOUT)), "+OK\r\n");
    assert_eq!(text(&conn.read_reply(RAW_TIMEOUT)), "+OK\r\n");
    assert_eq!(text(&conn.read_reply(RAW_TIMEOUT)), ":100000\r\n");

    // Without requirepass there are no such limits.
    let open = KiwiServer::start();
    let mut conn = open.raw_conn();
    conn.send(&frame(&mset));
    assert_eq!(text(&conn.read_reply(RAW_TIMEOUT)), "+OK\r\n");
    conn.send(&frame(&[&b"SET"[..], b"big", &value]));
    assert_eq!(text(&conn.read_reply(RAW_TIMEOUT)), "+OK\r\n");
}
/// The server's virtual memory size, from /proc (Linux).
fn vm_size_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmSize:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmSize in /proc/<pid>/status")
}

fn server_pid(c: &mut redis::Connection) -> u32 {
    let info = c.run("INFO server").text();
    info.lines()
        .find_map(|l| l.strip_prefix("process_id:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("process_id in INFO server")
}

#[test]
fn announced_sizes_reserve_no_memory_before_the_data_arrives() {
    let s = KiwiServer::start();
    if s.is_redis() {
        // Redis 7 reserves an announced bulk of 32 KB or more up front (sdsMakeRoomForNonGreedy
        // of the whole length); Kiwi deliberately grows with the data instead.
        return;
    }
    let mut c = s.client();
    let pid = server_pid(&mut c);
    let before = vm_size_kb(pid);
    // Each header is sent behind a PING in the same packet: once the PONG is back, the server
    // has read the header too (it parses the whole read before it answers).
    let mut conns = Vec::new();
    for _ in 0..8 {
        let mut conn = s.raw_conn();
        conn.send(b"PING\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$536870912\r\nsome bytes");
        assert_eq!(text(&conn.read_reply(RAW_TIMEOUT)), "+PONG\r\n");
        conns.push(conn);
    }
    for _ in 0..32 {
        let mut conn = s.raw_conn();
        conn.send(b"PING\r\n*1048576\r\n$1\r\na\r\n$1\r\nb\r\n");
        assert_eq!(text(&conn.read_reply(RAW_TIMEOUT)), "+PONG\r\n");
        conns.push(conn);
    }
    let grown_mb = vm_size_kb(pid).saturating_sub(before) / 1024;
    // Reserving what the headers announce would be 8 x 512 MB and 32 x 16 MB.
    assert!(
        grown_mb < 256,
        "the server's address space grew by {grown_mb} MB for headers alone"
    );
    assert_eq!(c.run("PING"), status("PONG"));
}
#[test]
fn config_set_maxclients_takes_effect() {
    let s = KiwiServer::start();
    let mut c = s.client();
    // The connections that checked the server was up may still be closing.
    eventually(RAW_TIMEOUT, "only this client is connected", || {
        (c.run("CLIENT LIST").text().lines().count() == 1).then_some(())
    });
    assert_eq!(c.run("CONFIG SET maxclients 2"), ok());
    assert_eq!(c.run("CONFIG GET maxclients"), bulks(&["maxclients", "2"]));
    let mut second = s.raw_conn();
    second.send(b"PING\r\n");
    assert_eq!(text(&second.read_reply(RAW_TIMEOUT)), "+PONG\r\n");
    let mut third = s.raw_conn();
    third.send(b"PING\r\n");
    let (out, closed) = third.read_until_closed(RAW_TIMEOUT);
    assert_eq!(text(&out), "-ERR max number of clients reached\r\n");
    assert!(closed);

    // Raising it admits new clients at once; the ones connected stay.
    assert_eq!(c.run("CONFIG SET maxclients 3"), ok());
    let mut third = s.raw_conn();
    third.send(b"PING\r\n");
    assert_eq!(text(&third.read_reply(RAW_TIMEOUT)), "+PONG\r\n");
    second.send(b"PING\r\n");
    assert_eq!(text(&second.read_reply(RAW_TIMEOUT)), "+PONG\r\n");
}
