//! Bounded input and connection limits, as Redis 7 has them: requests before AUTH, memory a
//! request header can make the server reserve, `maxclients`, output buffer limits, idle timeout,
//! TCP keepalive and the MULTI queue.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

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
#[test]
fn output_buffer_hard_limit_closes_the_client() {
    let s = KiwiServer::start();
    let mut c = s.client();
    assert_eq!(
        c.run("CONFIG GET client-output-buffer-limit"),
        bulks(&[
            "client-output-buffer-limit",
            "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60"
        ])
    );
    let value = vec![b'v'; 1 << 20];
    assert_eq!(c.run_args(&[&b"SET"[..], b"big", &value]), ok());
    assert_eq!(c.run("SET small v"), ok());
    assert_eq!(
        c.run_args(&[
            "CONFIG",
            "SET",
            "client-output-buffer-limit",
            "normal 512kb 0 0"
        ]),
        ok()
    );
    assert_eq!(
        c.run("CONFIG GET client-output-buffer-limit"),
        bulks(&[
            "client-output-buffer-limit",
            "normal 524288 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60"
        ])
    );
    assert_eq!(
        c.run_args(&["CONFIG", "SET", "client-output-buffer-limit", "normal 1mb"]),
        err("ERR CONFIG SET failed (possibly related to argument 'client-output-buffer-limit') - Wrong number of arguments in buffer limit configuration.")
    );
    assert_eq!(
        c.run_args(&["CONFIG", "SET", "client-output-buffer-limit", "master 1mb 0 0"]),
        err("ERR CONFIG SET failed (possibly related to argument 'client-output-buffer-limit') - Invalid client class specified in buffer limit configuration.")
    );

    // Replies under the limit are sent as usual.
    let mut conn = s.raw_conn();
    conn.send(b"GET small\r\n");
    assert_eq!(text(&conn.read_reply(RAW_TIMEOUT)), "$1\r\nv\r\n");
    // A reply of 1 MB is over the 512 KB hard limit: the client is closed, without it.
    conn.send(b"GET big\r\n");
    let (out, closed) = conn.read_until_closed(RAW_TIMEOUT);
    assert!(closed, "the client must be closed");
    assert!(
        out.len() < 1 << 20,
        "the reply was sent ({} bytes)",
        out.len()
    );

    // So is a pipeline whose replies add up to more than the limit.
    let mut conn = s.raw_conn();
    conn.send(&b"GETRANGE big 0 99999\r\n".repeat(10));
    let (out, closed) = conn.read_until_closed(RAW_TIMEOUT);
    assert!(closed && out.len() < 1_000_000, "{} bytes", out.len());

    // The other clients are unaffected.
    assert_eq!(c.run("GET small"), bulk("v"));
}
#[test]
fn output_buffer_soft_limit_closes_a_client_that_stays_over_it() {
    let s = KiwiServer::start();
    let mut c = s.client();
    let value = vec![b'v'; 1 << 20];
    assert_eq!(c.run_args(&[&b"SET"[..], b"big", &value]), ok());
    assert_eq!(
        c.run_args(&[
            "CONFIG",
            "SET",
            "client-output-buffer-limit",
            "normal 0 256kb 2"
        ]),
        ok()
    );
    // A client that asks for 20 MB of replies in one pipeline and never reads them: once the
    // socket buffers are full its pending replies stay over the soft limit, and after 2 s it is
    // closed. (Kiwi reads no more requests from a client while its replies wait, so what it
    // holds is one batch of replies; Redis goes on reading, and checks the limit as replies are
    // added: the client keeps asking.)
    let mut slow = TcpStream::connect(("127.0.0.1", s.port())).expect("connect");
    slow.set_write_timeout(Some(Duration::from_secs(1)))
        .expect("write timeout");
    slow.write_all(b"CLIENT SETNAME slow\r\n").expect("send");
    let listed = |c: &mut redis::Connection| c.run("CLIENT LIST").text().contains("name=slow");
    eventually(RAW_TIMEOUT, "the slow client is connected", || {
        listed(&mut c).then_some(())
    });
    let started = Instant::now();
    slow.write_all(&b"GET big\r\n".repeat(20)).expect("send");
    let closed_after = loop {
        if !listed(&mut c) {
            break started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "a client over the soft limit for 20 s is still connected"
        );
        // Errors are expected once the server has closed the connection.
        let _ = slow.write_all(b"GET big\r\n");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(
        closed_after >= Duration::from_secs(2),
        "closed after {closed_after:?}, before soft-seconds passed"
    );
    assert_eq!(c.run("PING"), status("PONG"));
}
#[test]
fn idle_clients_are_closed_after_timeout() {
    let s = KiwiServer::start();
    let mut c = s.client();
    assert_eq!(c.run("CONFIG GET timeout"), bulks(&["timeout", "0"]));
    assert_eq!(c.run("CONFIG SET timeout 1"), ok());
    assert_eq!(c.run("CONFIG GET timeout"), bulks(&["timeout", "1"]));
    let mut conn = s.raw_conn();
    // The server's clock starts when it has answered, after this.
    let idle_since = Instant::now();
    conn.send(b"PING\r\n");
    assert_eq!(text(&conn.read_reply(RAW_TIMEOUT)), "+PONG\r\n");
    let (out, closed) = conn.read_until_closed(RAW_TIMEOUT);
    assert!(closed, "an idle client must be closed");
    assert_eq!(text(&out), "", "closed without a reply");
    assert!(idle_since.elapsed() >= Duration::from_secs(1));

    let mut c = s.client();
    assert_eq!(c.run("CONFIG SET timeout 0"), ok());
    assert_eq!(c.run("PING"), status("PONG"));
}
/// The keepalive timer of the server's end of our connection, from /proc/net/tcp (Linux): the
/// timer kind (2 is keepalive) and the seconds left.
fn server_side_timer(server_port: u16, client: &TcpStream) -> (u32, u64) {
    let client_port = client.local_addr().expect("local addr").port();
    let table = std::fs::read_to_string("/proc/net/tcp").expect("/proc/net/tcp");
    for line in table.lines().skip(1) {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let port = |addr: &str| {
            addr.rsplit_once(':')
                .and_then(|(_, p)| u16::from_str_radix(p, 16).ok())
        };
        if port(fields[1]) == Some(server_port) && port(fields[2]) == Some(client_port) {
            let (kind, when) = fields[5].split_once(':').expect("tr:tm->when");
            let kind = u32::from_str_radix(kind, 16).expect("timer kind");
            // In clock ticks (USER_HZ, 100 a second).
            let ticks = u64::from_str_radix(when, 16).expect("timer expiry");
            return (kind, ticks / 100);
        }
    }
    panic!("no /proc/net/tcp entry for 127.0.0.1:{server_port} <- {client_port}");
}

fn connected(s: &KiwiServer) -> TcpStream {
    let mut stream = TcpStream::connect(("127.0.0.1", s.port())).expect("connect");
    stream
        .set_read_timeout(Some(RAW_TIMEOUT))
        .expect("read timeout");
    stream.write_all(b"PING\r\n").expect("send");
    let mut pong = [0u8; 7];
    stream.read_exact(&mut pong).expect("PONG");
    assert_eq!(&pong, b"+PONG\r\n");
    stream
}

#[test]
fn tcp_keepalive_is_set_on_client_connections() {
    let s = KiwiServer::start();
    let mut c = s.client();
    assert_eq!(
        c.run("CONFIG GET tcp-keepalive"),
        bulks(&["tcp-keepalive", "300"])
    );
    let conn = connected(&s);
    let (kind, secs) = server_side_timer(s.port(), &conn);
    assert_eq!(kind, 2, "the server's socket has no keepalive timer");
    assert!((250..=300).contains(&secs), "keepalive in {secs} s");

    // A new value applies to connections accepted from then on.
    assert_eq!(c.run("CONFIG SET tcp-keepalive 60"), ok());
    let conn = connected(&s);
    let (kind, secs) = server_side_timer(s.port(), &conn);
    assert_eq!(kind, 2);
    assert!((30..=60).contains(&secs), "keepalive in {secs} s");

    assert_eq!(c.run("CONFIG SET tcp-keepalive 0"), ok());
    let conn = connected(&s);
    assert_eq!(server_side_timer(s.port(), &conn).0, 0, "keepalive is off");
}
#[test]
fn a_multi_queue_over_the_query_buffer_limit_aborts_the_transaction() {
    let s = KiwiServer::start_with(&["--client-query-buffer-limit", "1mb"]);
    if s.is_redis() {
        // Redis 7.0 puts no bound on the queue (newer versions count it against this same
        // limit, and close the connection); Kiwi answers an error and aborts the transaction
        // at EXEC, as for other queue-time errors.
        return;
    }
    let mut c = s.client();
    let value = vec![b'v'; 100_000];
    assert_eq!(c.run("MULTI"), ok());
    let mut queued = 0;
    let refusal = loop {
        let reply = c.run_args(&[&b"SET"[..], format!("k{queued}").as_bytes(), &value]);
        if reply != status("QUEUED") {
            break reply;
        }
        queued += 1;
        assert!(
            queued < 20,
            "20 commands of 100 KB queued under a 1 MB limit"
        );
    };
    assert_eq!(queued, 10, "ten commands of 100 KB fit in 1 MB");
    assert_eq!(
        refusal,
        err("ERR MULTI queue exceeds client-query-buffer-limit (1048576 bytes)")
    );
    assert_eq!(c.run("SET after 1"), status("QUEUED"));
    assert_eq!(
        c.run("EXEC"),
        err("EXECABORT Transaction discarded because of previous errors.")
    );
    assert_eq!(c.run("EXISTS k0 after"), int(0), "nothing of the block ran");

    // The connection goes on, and a transaction within the limit runs.
    assert_eq!(c.run("MULTI"), ok());
    assert_eq!(c.run_args(&[&b"SET"[..], b"k0", &value]), status("QUEUED"));
    assert_eq!(c.run("EXEC"), arr(vec![ok()]));
    assert_eq!(c.run("STRLEN k0"), int(100_000));
}
