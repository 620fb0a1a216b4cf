//! Black-box tests of the `kiwi` binary: each test starts a real server process on a free
//! loopback port with its own data directory, and talks to it with real clients (redis-rs,
//! `redis-cli`, raw TCP).
//!
//! Build the binary first: `cargo build -p kiwi-node --bin kiwi`, then `cargo test -p kiwi-tests`.
//! `KIWI_BIN=/path/to/kiwi` overrides where the binary is looked up.
//!
//! The same tests can be pointed at a real Redis, to check that what they expect is what Redis
//! does: `KIWI_TESTS_REDIS=/usr/bin/redis-server cargo test -p kiwi-tests`. Flags only Kiwi knows
//! (`--raft-*`, `--db-path`, ...) are then dropped, and Redis runs with an fsynced AOF so the
//! kill -9 tests mean the same thing.

use std::fmt;
use std::fs::OpenOptions;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

pub mod blocked;
pub mod cluster;
pub mod http;
pub mod linearizability;
pub mod netns;
pub mod pods;

/// How long a server may take to accept connections after it was started.
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a stopped server may take to exit before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);
/// Default deadline for raw-socket reads.
pub const RAW_TIMEOUT: Duration = Duration::from_secs(10);
const POLL: Duration = Duration::from_millis(20);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flavor {
    Kiwi,
    Redis,
}

/// A `kiwi` (or, for cross-checking, `redis-server`) process owned by one test. Dropping it
/// stops the process and removes its data directory.
pub struct KiwiServer {
    flavor: Flavor,
    bin: PathBuf,
    dir: TempDir,
    port: u16,
    raft_port: u16,
    extra: Vec<String>,
    child: Option<Child>,
}

/// `2 * bytes` random hex digits (from std's per-process random hash keys: good enough for
/// test credentials, and no extra dependency).
pub fn random_hex(bytes: usize) -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut out = String::new();
    while out.len() < bytes * 2 {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default(),
        );
        out.push_str(&format!("{:016x}", h.finish()));
    }
    out.truncate(bytes * 2);
    out
}

/// A loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local addr").port()
}

/// The `kiwi` binary under test.
pub fn kiwi_bin() -> PathBuf {
    workspace_bin("kiwi", "KIWI_BIN", "kiwi-node")
}

/// The `kiwi-operator` binary under test.
pub fn operator_bin() -> PathBuf {
    workspace_bin("kiwi-operator", "KIWI_OPERATOR_BIN", "kiwi-operator")
}

/// A binary of this workspace: `$env` if set, else next to the test binary's profile dir.
fn workspace_bin(name: &str, env: &str, package: &str) -> PathBuf {
    if let Some(path) = std::env::var_os(env) {
        let path = PathBuf::from(path);
        assert!(path.is_file(), "{env}={} is not a file", path.display());
        return path;
    }
    // <target>/<profile>/deps/<test-binary> -> <target>/<profile>/<name>
    let exe = std::env::current_exe().expect("current_exe");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("test binary lives in <target>/<profile>/deps");
    let bin = profile_dir.join(name);
    assert!(
        bin.is_file(),
        "the {name} binary was not found at {}: run `cargo build -p {package} --bin {name}` \
         (with the same CARGO_TARGET_DIR and profile as the tests) or set {env}",
        bin.display()
    );
    bin
}

impl KiwiServer {
    /// Starts a server with default settings.
    pub fn start() -> KiwiServer {
        KiwiServer::start_with(&[])
    }

    /// Starts a server with extra command-line flags, e.g. `&["--requirepass", "secret"]`.
    pub fn start_with(flags: &[&str]) -> KiwiServer {
        match std::env::var_os("KIWI_TESTS_REDIS") {
            Some(path) => KiwiServer::launch(Flavor::Redis, PathBuf::from(path), flags),
            None => KiwiServer::launch(Flavor::Kiwi, kiwi_bin(), flags),
        }
    }

    /// Starts a real `redis-server` (from `PATH`, or `REDIS_SERVER`), to compare Kiwi with.
    /// `scripts/setup.sh` installs it; a missing one fails the test rather than skipping it.
    pub fn start_reference_redis() -> KiwiServer {
        let bin = std::env::var_os("REDIS_SERVER")
            .map(PathBuf::from)
            .or_else(|| {
                std::env::var_os("PATH").and_then(|paths| {
                    std::env::split_paths(&paths)
                        .map(|dir| dir.join("redis-server"))
                        .find(|p| p.is_file())
                })
            })
            .expect("redis-server is not installed (scripts/setup.sh installs it)");
        KiwiServer::launch(Flavor::Redis, bin, &[])
    }

    fn launch(flavor: Flavor, bin: PathBuf, flags: &[&str]) -> KiwiServer {
        let dir = tempfile::Builder::new()
            .prefix("kiwi-test-")
            .tempdir()
            .expect("create temp dir");
        let mut server = KiwiServer {
            flavor,
            bin,
            dir,
            port: 0,
            raft_port: 0,
            extra: flags.iter().map(|s| s.to_string()).collect(),
            child: None,
        };
        // A port picked free may be taken by another test before the server binds it: retry
        // with fresh ports in that (rare) case.
        let mut last_error = String::new();
        for _ in 0..5 {
            server.port = free_port();
            server.raft_port = free_port();
            match server.spawn_and_wait() {
                Ok(()) => return server,
                Err(e) => last_error = e,
            }
        }
        panic!("server did not start: {last_error}");
    }

    /// True when the suite runs against a real Redis (`KIWI_TESTS_REDIS`).
    pub fn is_redis(&self) -> bool {
        self.flavor == Flavor::Redis
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The port of the Raft/HTTP listener.
    pub fn raft_port(&self) -> u16 {
        self.raft_port
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("server.log")
    }

    /// Everything the server printed so far (all runs).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    fn args(&self) -> Vec<String> {
        let data = self.dir.path().join("data");
        match self.flavor {
            Flavor::Kiwi => {
                let mut args = vec![
                    "--port".to_string(),
                    self.port.to_string(),
                    "--db-path".into(),
                    data.display().to_string(),
                    "--raft-addr".into(),
                    format!("127.0.0.1:{}", self.raft_port),
                ];
                args.extend(self.extra.iter().cloned());
                args
            }
            Flavor::Redis => {
                let _ = std::fs::create_dir_all(&data);
                let mut args: Vec<String> = [
                    "--port",
                    &self.port.to_string(),
                    "--bind",
                    "127.0.0.1",
                    "--dir",
                    &data.display().to_string(),
                    "--save",
                    "",
                    "--appendonly",
                    "yes",
                    "--appendfsync",
                    "always",
                ]
                .iter()
                .map(|s| s.to_string())
                .collect();
                // Pass on the flags Redis knows; drop Kiwi's own.
                let mut i = 0;
                while i < self.extra.len() {
                    let flag = &self.extra[i];
                    let value = self.extra.get(i + 1).cloned().unwrap_or_default();
                    i += 2;
                    let kiwi_only = flag.starts_with("--raft")
                        || matches!(
                            flag.as_str(),
                            "--db-path" | "--active-expire-interval" | "--memory"
                        );
                    if !kiwi_only {
                        args.push(flag.clone());
                        args.push(value);
                    }
                }
                args
            }
        }
    }

    fn spawn_and_wait(&mut self) -> Result<(), String> {
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .map_err(|e| format!("open log: {e}"))?;
        let log_err = log.try_clone().map_err(|e| format!("clone log: {e}"))?;
        let mut cmd = Command::new(&self.bin);
        cmd.args(self.args())
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err);
        if self.flavor == Flavor::Kiwi && std::env::var_os("RUST_LOG").is_none() {
            cmd.env("RUST_LOG", "info");
        }
        let child = cmd
            .spawn()
            .map_err(|e| format!("cannot run {}: {e}", self.bin.display()))?;
        self.child = Some(child);
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                self.child = None;
                return Err(format!(
                    "{} exited with {status} during startup; log:\n{}",
                    self.bin.display(),
                    self.log()
                ));
            }
            // The port was free when picked, but another test's server may have taken it
            // since: only a server reporting our child's pid counts as started.
            let pid = self.child.as_ref().map(|c| c.id());
            if ping_once(self.port) && pid.is_some() && self.answering_pid() == pid {
                return Ok(());
            }
            if Instant::now() >= deadline {
                self.kill9();
                return Err(format!(
                    "not answering PING on port {} after {START_TIMEOUT:?}; log:\n{}",
                    self.port,
                    self.log()
                ));
            }
            std::thread::sleep(POLL);
        }
    }

    /// The pid of the server answering on our port.
    fn answering_pid(&self) -> Option<u32> {
        let password = self
            .extra
            .iter()
            .position(|a| a == "--requirepass")
            .and_then(|i| self.extra.get(i + 1))
            .map(String::as_str);
        server_pid(self.port, password)
    }

    /// Kills the process with SIGKILL (no shutdown path runs) and waits for it to be gone.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops the process with SIGTERM, waiting for a clean exit (SIGKILL after a deadline).
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + STOP_TIMEOUT;
        loop {
            match child.try_wait() {
                Ok(Some(_)) | Err(_) => return,
                Ok(None) if Instant::now() >= deadline => {
                    eprintln!("server did not exit {STOP_TIMEOUT:?} after SIGTERM; killing it");
                    let _ = child.kill();
                    let _ = child.wait();
                    return;
                }
                Ok(None) => std::thread::sleep(POLL),
            }
        }
    }

    /// Starts the server again on the same port and data directory (after `kill9` or `stop`;
    /// a running server is stopped first).
    pub fn restart(&mut self) {
        self.stop();
        // The old process is gone, but its port may linger briefly: retry until the deadline.
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            match self.spawn_and_wait() {
                Ok(()) => return,
                Err(e) if Instant::now() >= deadline => panic!("restart failed: {e}"),
                Err(_) => std::thread::sleep(POLL),
            }
        }
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut() {
            Some(child) => matches!(child.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// A new redis-rs connection (RESP2, database 0, not authenticated).
    pub fn client(&self) -> redis::Connection {
        self.client_url(&format!("redis://127.0.0.1:{}/", self.port))
    }

    /// A new redis-rs connection that authenticates with `password` while connecting.
    pub fn client_with_password(&self, password: &str) -> redis::Connection {
        self.client_url(&format!("redis://:{password}@127.0.0.1:{}/", self.port))
    }

    fn client_url(&self, url: &str) -> redis::Connection {
        let client = redis::Client::open(url).expect("client url");
        let con = client
            .get_connection_with_timeout(Duration::from_secs(5))
            .unwrap_or_else(|e| panic!("connect to {url}: {e}; log:\n{}", self.log()));
        con.set_read_timeout(Some(Duration::from_secs(30)))
            .expect("read timeout");
        con.set_write_timeout(Some(Duration::from_secs(30)))
            .expect("write timeout");
        con
    }

    /// Runs the real `redis-cli -p <port> <args...>` and returns its stdout. redis-cli prints
    /// its "raw" format when stdout is not a terminal (no quotes, no `(integer)`).
    pub fn cli(&self, args: &[&str]) -> String {
        self.cli_stdin(args, "")
    }

    /// Runs `redis-cli` with `stdin` as input (one command per line, all on one connection).
    pub fn cli_stdin(&self, args: &[&str], stdin: &str) -> String {
        let bin = std::env::var_os("REDIS_CLI").unwrap_or_else(|| "/usr/bin/redis-cli".into());
        let mut child = Command::new(&bin)
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {bin:?} (apt-get install redis-tools): {e}"));
        let mut input = child.stdin.take().expect("stdin");
        input
            .write_all(stdin.as_bytes())
            .expect("write redis-cli stdin");
        drop(input);
        let out = child.wait_with_output().expect("redis-cli output");
        assert!(
            out.status.success(),
            "redis-cli {args:?} failed: {}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("redis-cli output is UTF-8")
    }

    /// Writes `bytes` on a new TCP connection and returns everything the server sends until it
    /// closes the connection or [`RAW_TIMEOUT`] passes. Send `QUIT\r\n` last to make the server
    /// close once it has answered.
    pub fn raw(&self, bytes: &[u8]) -> Vec<u8> {
        let mut conn = self.raw_conn();
        conn.send(bytes);
        conn.read_until_closed(RAW_TIMEOUT).0
    }

    /// A raw TCP connection for protocol tests.
    pub fn raw_conn(&self) -> RawConn {
        RawConn::connect(self.port)
    }
}

impl Drop for KiwiServer {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let log = self.log();
            let tail: Vec<&str> = log.lines().rev().take(60).collect();
            eprintln!(
                "---- last lines of the server log ({}) ----",
                self.log_path().display()
            );
            for line in tail.iter().rev() {
                eprintln!("{line}");
            }
            self.kill9();
        } else {
            self.stop();
        }
    }
}

/// One PING on a fresh connection; true if the server answered with any RESP reply line
/// (`-NOAUTH` counts: the server is up).
fn ping_once(port: u16) -> bool {
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let Ok(stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    let _ = stream.set_write_timeout(Some(Duration::from_millis(500)));
    if (&stream).write_all(b"PING\r\n").is_err() {
        return false;
    }
    let mut line = String::new();
    match BufReader::new(&stream).read_line(&mut line) {
        Ok(_) => line.starts_with('+') || line.starts_with('-'),
        Err(_) => false,
    }
}

/// The `process_id` from `INFO server` of the server on `port` (after AUTH when a password
/// is given).
fn server_pid(port: u16, password: Option<&str>) -> Option<u32> {
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let stream = TcpStream::connect_timeout(&addr, Duration::from_millis(200)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_millis(500)))
        .ok()?;
    let mut reader = BufReader::new(&stream);
    let mut line = String::new();
    if let Some(password) = password {
        let auth = format!("*2\r\n$4\r\nAUTH\r\n${}\r\n{password}\r\n", password.len());
        (&stream).write_all(auth.as_bytes()).ok()?;
        reader.read_line(&mut line).ok()?;
    }
    (&stream)
        .write_all(b"*2\r\n$4\r\nINFO\r\n$6\r\nserver\r\n")
        .ok()?;
    line.clear();
    reader.read_line(&mut line).ok()?;
    let len: usize = line.strip_prefix('$')?.trim().parse().ok()?;
    let mut body = vec![0; len + 2];
    reader.read_exact(&mut body).ok()?;
    String::from_utf8_lossy(&body)
        .lines()
        .find_map(|l| l.strip_prefix("process_id:")?.trim().parse().ok())
}

/// A raw TCP connection to a server, for tests of the wire protocol itself.
pub struct RawConn {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl RawConn {
    pub fn connect(port: u16) -> RawConn {
        let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        RawConn {
            stream,
            buf: Vec::new(),
        }
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("write to server");
    }

    /// Closes our sending half (the server sees end of input).
    pub fn shutdown_write(&mut self) {
        let _ = self.stream.shutdown(Shutdown::Write);
    }

    /// Reads until the server closes the connection or `timeout` passes. Returns what was read
    /// and whether the server closed the connection.
    pub fn read_until_closed(&mut self, timeout: Duration) -> (Vec<u8>, bool) {
        let deadline = Instant::now() + timeout;
        let closed = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break false;
            }
            match self.read_some(left) {
                Ok(0) => break true,
                Ok(_) => {}
                Err(e) if is_timeout(&e) => break false,
                // A reset after the server closed also means closed.
                Err(_) => break true,
            }
        };
        (std::mem::take(&mut self.buf), closed)
    }

    /// Reads until the buffered input is at least `n` bytes long or `timeout` passes, and
    /// returns (and consumes) everything read.
    pub fn read_at_least(&mut self, n: usize, timeout: Duration) -> Vec<u8> {
        self.read_until(timeout, |buf| buf.len() >= n)
    }

    /// Reads until `done(buffered)` is true, the connection closes or `timeout` passes; returns
    /// (and consumes) everything read.
    pub fn read_until(&mut self, timeout: Duration, done: impl Fn(&[u8]) -> bool) -> Vec<u8> {
        let deadline = Instant::now() + timeout;
        while !done(&self.buf) {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            match self.read_some(left) {
                Ok(0) => break,
                Ok(_) => {}
                Err(_) => break,
            }
        }
        std::mem::take(&mut self.buf)
    }

    /// Reads exactly one complete RESP reply (RESP2 or RESP3) and returns its bytes.
    pub fn read_reply(&mut self, timeout: Duration) -> Vec<u8> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(len) = resp_reply_len(&self.buf) {
                let rest = self.buf.split_off(len);
                return std::mem::replace(&mut self.buf, rest);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "no complete reply within {timeout:?}; got {:?}",
                String::from_utf8_lossy(&self.buf)
            );
            match self.read_some(left) {
                Ok(0) => panic!(
                    "connection closed before a complete reply; got {:?}",
                    String::from_utf8_lossy(&self.buf)
                ),
                Ok(_) => {}
                Err(e) if is_timeout(&e) => {}
                Err(e) => panic!("read failed: {e}"),
            }
        }
    }

    fn read_some(&mut self, timeout: Duration) -> std::io::Result<usize> {
        self.stream
            .set_read_timeout(Some(timeout.max(Duration::from_millis(1))))?;
        let mut chunk = [0u8; 64 * 1024];
        let n = self.stream.read(&mut chunk)?;
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(n)
    }
}

fn is_timeout(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
    )
}

/// Length of the first complete RESP reply in `buf`, if there is one.
pub fn resp_reply_len(buf: &[u8]) -> Option<usize> {
    fn line_end(buf: &[u8], from: usize) -> Option<usize> {
        buf.get(from..)?
            .windows(2)
            .position(|w| w == b"\r\n")
            .map(|p| from + p)
    }
    fn parse(buf: &[u8], pos: usize) -> Option<usize> {
        let kind = *buf.get(pos)?;
        let end = line_end(buf, pos + 1)?;
        let header = std::str::from_utf8(&buf[pos + 1..end]).ok()?;
        let after = end + 2;
        match kind {
            b'+' | b'-' | b':' | b'_' | b',' | b'#' | b'(' => Some(after),
            b'$' | b'=' | b'!' => {
                let n: i64 = header.parse().ok()?;
                if n < 0 {
                    return Some(after);
                }
                let stop = after + n as usize + 2;
                (buf.len() >= stop).then_some(stop)
            }
            b'*' | b'~' | b'>' | b'%' | b'|' => {
                let n: i64 = header.parse().ok()?;
                let items = if matches!(kind, b'%' | b'|') {
                    n * 2
                } else {
                    n
                };
                let mut p = after;
                for _ in 0..items.max(0) {
                    p = parse(buf, p)?;
                }
                Some(p)
            }
            _ => None,
        }
    }
    parse(buf, 0)
}

/// A reply as a user sees it: the exact value, with error text in full (`ERR syntax error`).
/// Built from redis-rs values so assertions can be written as `assert_eq!(r, int(3))`.
#[derive(Clone, PartialEq)]
pub enum R {
    Nil,
    Int(i64),
    Bulk(Vec<u8>),
    /// Simple string: `+OK`, `+PONG`, `+QUEUED`, TYPE's answer.
    Status(String),
    /// The full error line without the leading `-`.
    Err(String),
    Arr(Vec<R>),
    Map(Vec<(R, R)>),
    Set(Vec<R>),
    Double(f64),
    Bool(bool),
    Verbatim(String),
    Other(String),
}

impl fmt::Debug for R {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            R::Nil => write!(f, "nil"),
            R::Int(n) => write!(f, "{n}"),
            R::Bulk(b) => write!(f, "{:?}", String::from_utf8_lossy(b)),
            R::Status(s) => write!(f, "+{s}"),
            R::Err(e) => write!(f, "-{e}"),
            R::Arr(items) => f.debug_list().entries(items).finish(),
            R::Map(pairs) => f
                .debug_map()
                .entries(pairs.iter().map(|(k, v)| (k, v)))
                .finish(),
            R::Set(items) => write!(f, "set{items:?}"),
            R::Double(d) => write!(f, "double({d})"),
            R::Bool(b) => write!(f, "bool({b})"),
            R::Verbatim(s) => write!(f, "verbatim({s:?})"),
            R::Other(s) => write!(f, "other({s})"),
        }
    }
}

impl From<redis::Value> for R {
    fn from(v: redis::Value) -> R {
        use redis::Value;
        match v {
            Value::Nil => R::Nil,
            Value::Int(n) => R::Int(n),
            Value::BulkString(b) => R::Bulk(b),
            Value::Array(items) => R::Arr(items.into_iter().map(R::from).collect()),
            Value::SimpleString(s) => R::Status(s),
            Value::Okay => R::Status("OK".into()),
            Value::Map(pairs) => R::Map(
                pairs
                    .into_iter()
                    .map(|(k, v)| (k.into(), v.into()))
                    .collect(),
            ),
            Value::Attribute { data, .. } => R::from(*data),
            Value::Set(items) => R::Set(items.into_iter().map(R::from).collect()),
            Value::Double(d) => R::Double(d),
            Value::Boolean(b) => R::Bool(b),
            Value::VerbatimString { text, .. } => R::Verbatim(text),
            Value::ServerError(e) => R::Err(match e.details() {
                Some(detail) => format!("{} {detail}", e.code()),
                None => e.code().to_string(),
            }),
            other => R::Other(format!("{other:?}")),
        }
    }
}

impl R {
    /// The bulk string's text; panics for any other reply.
    pub fn text(&self) -> String {
        match self {
            R::Bulk(b) => String::from_utf8_lossy(b).into_owned(),
            R::Status(s) | R::Verbatim(s) => s.clone(),
            other => panic!("expected a string reply, got {other:?}"),
        }
    }

    pub fn int(&self) -> i64 {
        match self {
            R::Int(n) => *n,
            other => panic!("expected an integer reply, got {other:?}"),
        }
    }

    pub fn items(&self) -> Vec<R> {
        match self {
            R::Arr(items) | R::Set(items) => items.clone(),
            other => panic!("expected an array reply, got {other:?}"),
        }
    }

    /// The array's elements as strings.
    pub fn strings(&self) -> Vec<String> {
        self.items().iter().map(R::text).collect()
    }

    /// The array's elements as strings, sorted (for replies in no particular order).
    pub fn sorted(&self) -> Vec<String> {
        let mut v = self.strings();
        v.sort();
        v
    }

    pub fn is_err(&self) -> bool {
        matches!(self, R::Err(_))
    }
}

pub fn ok() -> R {
    R::Status("OK".into())
}

pub fn nil() -> R {
    R::Nil
}

pub fn int(n: i64) -> R {
    R::Int(n)
}

pub fn bulk(s: impl AsRef<[u8]>) -> R {
    R::Bulk(s.as_ref().to_vec())
}

pub fn status(s: &str) -> R {
    R::Status(s.into())
}

pub fn err(s: &str) -> R {
    R::Err(s.into())
}

pub fn arr(items: Vec<R>) -> R {
    R::Arr(items)
}

/// An array of bulk strings.
pub fn bulks(items: &[&str]) -> R {
    R::Arr(items.iter().map(bulk).collect())
}

/// Sorted copy of string items, for comparing with [`R::sorted`].
pub fn sorted(items: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = items.iter().map(|s| s.to_string()).collect();
    v.sort();
    v
}

/// The standard Redis error texts.
pub const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
pub const NOT_INTEGER: &str = "ERR value is not an integer or out of range";
pub const NOT_FLOAT: &str = "ERR value is not a valid float";
pub const SYNTAX: &str = "ERR syntax error";

pub fn wrong_arity(cmd: &str) -> R {
    R::Err(format!("ERR wrong number of arguments for '{cmd}' command"))
}

/// Sends commands on a redis-rs connection and returns the reply as a user sees it.
pub trait Run {
    /// Runs a command given as one line of whitespace-separated arguments.
    fn run(&mut self, line: &str) -> R;
    /// Runs a command given as separate (possibly binary, possibly empty) arguments.
    fn run_args<A: AsRef<[u8]>>(&mut self, args: &[A]) -> R;
}

impl Run for redis::Connection {
    fn run(&mut self, line: &str) -> R {
        let args: Vec<&str> = line.split_ascii_whitespace().collect();
        self.run_args(&args)
    }

    fn run_args<A: AsRef<[u8]>>(&mut self, args: &[A]) -> R {
        use redis::ConnectionLike;
        let (name, rest) = args.split_first().expect("a command");
        let mut cmd = redis::cmd(&String::from_utf8_lossy(name.as_ref()));
        for a in rest {
            cmd.arg(a.as_ref());
        }
        match self.req_command(&cmd) {
            Ok(v) => R::from(v),
            Err(e) => panic!(
                "{:?}: transport error: {e}",
                String::from_utf8_lossy(name.as_ref())
            ),
        }
    }
}

/// Polls `f` every 20 ms until it returns `Some`, or panics with `what` after `timeout`.
pub fn eventually<T>(timeout: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for: {what}"
        );
        std::thread::sleep(POLL);
    }
}

/// Walks a SCAN-family cursor to completion (`cmd` is everything before the cursor, e.g.
/// `["HSCAN", "h"]`; `opts` everything after it) and returns every element returned, in order.
/// Panics if the walk does not finish within `max_calls` calls.
pub fn scan_all(
    con: &mut redis::Connection,
    cmd: &[&str],
    opts: &[&str],
    max_calls: usize,
) -> Vec<Vec<u8>> {
    let mut cursor = "0".to_string();
    let mut out = Vec::new();
    for _ in 0..max_calls {
        let mut args: Vec<String> = cmd.iter().map(|s| s.to_string()).collect();
        args.push(cursor.clone());
        args.extend(opts.iter().map(|s| s.to_string()));
        let reply = con.run_args(&args);
        let parts = reply.items();
        assert_eq!(
            parts.len(),
            2,
            "{cmd:?} reply must be [cursor, items]: {reply:?}"
        );
        cursor = parts[0].text();
        for item in parts[1].items() {
            match item {
                R::Bulk(b) => out.push(b),
                other => panic!("{cmd:?} returned a non-bulk element {other:?}"),
            }
        }
        if cursor == "0" {
            return out;
        }
    }
    panic!("{cmd:?} did not finish within {max_calls} calls");
}
