//! Pub/Sub fan-out benchmark against one server (kiwi or redis-server): S subscribers on one
//! channel, one publisher sending N messages of B bytes, pipelined P at a time. Prints one CSV
//! line: `subscribers,messages,published_per_s,delivered_per_s,lost` where delivered counts
//! every message every subscriber read, until all have arrived or 30 s pass after the last
//! publish (a message a slow subscriber lost counts as lost).
//!
//!   pubsub_bench --port 6379 [--subscribers 10] [--messages 100000] [--size 64] [--pipeline 64]
//!
//! Used by `scripts/bench_pubsub.sh`, which runs it against both servers in one run.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kiwi_tests::resp_reply_len;

struct Args {
    port: u16,
    subscribers: usize,
    messages: u64,
    size: usize,
    pipeline: u64,
}

fn parse_args() -> Args {
    let mut args = Args {
        port: 6379,
        subscribers: 10,
        messages: 100_000,
        size: 64,
        pipeline: 64,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--port" => args.port = value.parse().expect("--port N"),
            "--subscribers" => args.subscribers = value.parse().expect("--subscribers N"),
            "--messages" => args.messages = value.parse().expect("--messages N"),
            "--size" => args.size = value.parse().expect("--size N"),
            "--pipeline" => args.pipeline = value.parse().expect("--pipeline N"),
            _ => panic!("unknown flag {flag}"),
        }
    }
    args
}

fn command(parts: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", parts.len()).into_bytes();
    for p in parts {
        out.extend_from_slice(format!("${}\r\n", p.len()).as_bytes());
        out.extend_from_slice(p);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Reads whole replies from `stream` into `buf`, calling `each` for every one, until `done`
/// says so or `deadline` passes.
fn read_replies(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    deadline: Instant,
    mut each: impl FnMut(&[u8]) -> bool,
) {
    let mut chunk = vec![0u8; 256 * 1024];
    loop {
        while let Some(len) = resp_reply_len(buf) {
            let done = each(&buf[..len]);
            buf.drain(..len);
            if done {
                return;
            }
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return;
        }
        stream
            .set_read_timeout(Some(left.min(Duration::from_millis(200))))
            .expect("timeout");
        match stream.read(&mut chunk) {
            Ok(0) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return,
        }
    }
}

fn main() {
    let args = parse_args();
    let delivered = Arc::new(AtomicU64::new(0));
    let ready = Arc::new(AtomicU64::new(0));
    // Subscribers stop 30 s after the publisher is done at the latest (`end`, in ms from start).
    let end_ms = Arc::new(AtomicU64::new(u64::MAX));
    let start = Instant::now();
    let mut threads = Vec::new();
    for _ in 0..args.subscribers {
        let (delivered, ready, end_ms) = (delivered.clone(), ready.clone(), end_ms.clone());
        let (port, want) = (args.port, args.messages);
        threads.push(std::thread::spawn(move || {
            let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
            s.set_nodelay(true).ok();
            s.write_all(&command(&[b"SUBSCRIBE", b"bench"]))
                .expect("subscribe");
            let mut buf = Vec::new();
            read_replies(
                &mut s,
                &mut buf,
                Instant::now() + Duration::from_secs(10),
                |_| true,
            );
            ready.fetch_add(1, Ordering::SeqCst);
            let mut got = 0u64;
            loop {
                let end = end_ms.load(Ordering::SeqCst);
                let deadline = if end == u64::MAX {
                    Instant::now() + Duration::from_secs(1)
                } else {
                    start + Duration::from_millis(end)
                };
                read_replies(&mut s, &mut buf, deadline, |_| {
                    got += 1;
                    delivered.fetch_add(1, Ordering::Relaxed);
                    got >= want
                });
                if got >= want || (end != u64::MAX && Instant::now() >= deadline) {
                    return;
                }
            }
        }));
    }
    let wait_ready = Instant::now() + Duration::from_secs(30);
    while ready.load(Ordering::SeqCst) < args.subscribers as u64 {
        assert!(Instant::now() < wait_ready, "subscribers did not subscribe");
        std::thread::sleep(Duration::from_millis(5));
    }
    let mut publisher = TcpStream::connect(("127.0.0.1", args.port)).expect("connect");
    publisher.set_nodelay(true).ok();
    let payload = vec![b'x'; args.size];
    let one = command(&[b"PUBLISH", b"bench", &payload]);
    let publish_start = Instant::now();
    let mut sent = 0u64;
    let mut buf = Vec::new();
    while sent < args.messages {
        let batch = args.pipeline.min(args.messages - sent);
        let mut out = Vec::with_capacity(one.len() * batch as usize);
        for _ in 0..batch {
            out.extend_from_slice(&one);
        }
        publisher.write_all(&out).expect("publish");
        let mut answered = 0;
        read_replies(
            &mut publisher,
            &mut buf,
            Instant::now() + Duration::from_secs(30),
            |_| {
                answered += 1;
                answered >= batch
            },
        );
        assert_eq!(answered, batch, "publisher replies missing");
        sent += batch;
    }
    let published_in = publish_start.elapsed();
    end_ms.store(
        (start.elapsed() + Duration::from_secs(30)).as_millis() as u64,
        Ordering::SeqCst,
    );
    for t in threads {
        t.join().expect("subscriber thread");
    }
    let delivered_in = publish_start.elapsed();
    let total = delivered.load(Ordering::Relaxed);
    let want = args.messages * args.subscribers as u64;
    println!(
        "{},{},{:.0},{:.0},{}",
        args.subscribers,
        args.messages,
        args.messages as f64 / published_in.as_secs_f64(),
        total as f64 / delivered_in.as_secs_f64(),
        want.saturating_sub(total)
    );
}
