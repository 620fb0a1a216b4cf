//! RESP over TLS, driven by the real `redis-cli --tls`: Redis's `tls-*` keys, client
//! certificates required / optional / not asked for, and a certificate replaced on disk taking
//! effect without a restart. Then `tls-cluster`: a cluster whose peers and admin API speak TLS
//! only, called with the real `curl`. Certificates are made for each test with the `openssl`
//! CLI.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use kiwi_tests::cluster::wait_for;
use kiwi_tests::{free_port, KiwiServer};

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl (apt-get install openssl)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA (`<ca>.crt`, `<ca>.key`) and a certificate `<name>.crt`/`<name>.key` it signed, for
/// `usage` (serverAuth or clientAuth), with localhost and 127.0.0.1 as names.
fn make_ca(dir: &Path, ca: &str) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "2",
            "-subj",
            &format!("/CN={ca}"),
            "-keyout",
            &format!("{ca}.key"),
            "-out",
            &format!("{ca}.crt"),
        ],
    );
}

fn make_cert(dir: &Path, ca: &str, name: &str, usage: &str) {
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-subj",
            &format!("/CN={name}"),
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.csr"),
        ],
    );
    std::fs::write(
        dir.join(format!("{name}.ext")),
        format!(
            "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage={usage}\nbasicConstraints=CA:FALSE\n"
        ),
    )
    .unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &format!("{name}.csr"),
            "-CA",
            &format!("{ca}.crt"),
            "-CAkey",
            &format!("{ca}.key"),
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            &format!("{name}.ext"),
            "-out",
            &format!("{name}.crt"),
        ],
    );
}

struct Certs {
    dir: tempfile::TempDir,
}

impl Certs {
    fn new() -> Certs {
        let dir = tempfile::tempdir().unwrap();
        make_ca(dir.path(), "ca");
        make_cert(dir.path(), "ca", "server", "serverAuth");
        make_cert(dir.path(), "ca", "client", "clientAuth");
        // What a node of a TLS cluster holds: one certificate to serve and to dial peers with.
        make_cert(dir.path(), "ca", "node", "serverAuth,clientAuth");
        Certs { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn arg(&self, name: &str) -> String {
        self.path(name).display().to_string()
    }
}

/// `redis-cli --tls` against `port`; `Ok(stdout)` if it exited 0 and said no error.
fn tls_cli(port: u16, tls_args: &[String], args: &[&str]) -> Result<String, String> {
    let out = Command::new("redis-cli")
        .args(["-h", "127.0.0.1", "-p", &port.to_string(), "--tls"])
        .args(tls_args)
        .args(args)
        .output()
        .expect("redis-cli");
    let stdout = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).trim().to_string();
    if out.status.success() && !stdout.contains("ERR") && !stdout.contains("error") {
        Ok(stdout)
    } else {
        Err(format!("{stdout} {stderr}"))
    }
}

fn start(certs: &Certs, tls_port: u16, auth_clients: &str) -> KiwiServer {
    KiwiServer::start_with(&[
        "--tls-port",
        &tls_port.to_string(),
        "--tls-cert-file",
        &certs.arg("server.crt"),
        "--tls-key-file",
        &certs.arg("server.key"),
        "--tls-ca-cert-file",
        &certs.arg("ca.crt"),
        "--tls-auth-clients",
        auth_clients,
    ])
}

#[test]
fn redis_cli_over_tls_with_a_client_certificate() {
    let certs = Certs::new();
    let tls_port = free_port();
    let server = start(&certs, tls_port, "yes");
    let with_cert = vec![
        "--cacert".to_string(),
        certs.arg("ca.crt"),
        "--cert".into(),
        certs.arg("client.crt"),
        "--key".into(),
        certs.arg("client.key"),
    ];
    let ready = wait_for(Duration::from_secs(10), "the TLS port", || {
        tls_cli(tls_port, &with_cert, &["PING"]).ok()
    });
    assert_eq!(ready, "PONG");
    assert_eq!(
        tls_cli(tls_port, &with_cert, &["SET", "over", "tls"]).unwrap(),
        "OK"
    );
    // The same data on the plain port: one server, two listeners.
    assert_eq!(server.cli(&["GET", "over"]).trim(), "tls");
    // No client certificate: the handshake is refused.
    let without = vec!["--cacert".to_string(), certs.arg("ca.crt")];
    assert!(tls_cli(tls_port, &without, &["PING"]).is_err());
    // A client certificate from another CA: refused too.
    make_ca(certs.dir.path(), "other-ca");
    make_cert(certs.dir.path(), "other-ca", "stranger", "clientAuth");
    let stranger = vec![
        "--cacert".to_string(),
        certs.arg("ca.crt"),
        "--cert".into(),
        certs.arg("stranger.crt"),
        "--key".into(),
        certs.arg("stranger.key"),
    ];
    assert!(tls_cli(tls_port, &stranger, &["PING"]).is_err());
    // Plain RESP on the TLS port gets nothing.
    let plain = Command::new("redis-cli")
        .args(["-h", "127.0.0.1", "-p", &tls_port.to_string(), "PING"])
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&plain.stdout).contains("PONG"));
}

#[test]
fn client_certificates_can_be_optional_or_not_asked_for() {
    let certs = Certs::new();
    for mode in ["optional", "no"] {
        let tls_port = free_port();
        let _server = start(&certs, tls_port, mode);
        let without = vec!["--cacert".to_string(), certs.arg("ca.crt")];
        let pong = wait_for(Duration::from_secs(10), "the TLS port", || {
            tls_cli(tls_port, &without, &["PING"]).ok()
        });
        assert_eq!(pong, "PONG", "tls-auth-clients {mode}");
    }
}

#[test]
fn a_renewed_certificate_is_used_without_a_restart() {
    let certs = Certs::new();
    let tls_port = free_port();
    let _server = start(&certs, tls_port, "no");
    let trust_old = vec!["--cacert".to_string(), certs.arg("ca.crt")];
    wait_for(Duration::from_secs(10), "the TLS port", || {
        tls_cli(tls_port, &trust_old, &["PING"]).ok()
    });
    // A new CA signs a new server certificate, written over the old files (as cert-manager
    // renews a Secret).
    let fresh = tempfile::tempdir().unwrap();
    make_ca(fresh.path(), "ca2");
    make_cert(fresh.path(), "ca2", "server", "serverAuth");
    for file in ["server.key", "server.crt"] {
        let tmp = certs.path(&format!("{file}.new"));
        std::fs::copy(fresh.path().join(file), &tmp).unwrap();
        std::fs::rename(&tmp, certs.path(file)).unwrap();
    }
    let trust_new = vec![
        "--cacert".to_string(),
        fresh.path().join("ca2.crt").display().to_string(),
    ];
    wait_for(Duration::from_secs(20), "the renewed certificate", || {
        tls_cli(tls_port, &trust_new, &["PING"]).ok()
    });
    assert!(
        tls_cli(tls_port, &trust_old, &["PING"]).is_err(),
        "the old certificate is gone"
    );
}

#[test]
fn tls_port_without_its_files_stops_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(kiwi_tests::kiwi_bin())
        .args(["--tls-port", "7999", "--db-path"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("tls-cert-file"));
}

/// `curl` on a node's Raft/HTTP port: `Ok((status, body))` when an HTTP answer came back.
fn curl(url: &str, extra: &[&str]) -> Result<(u16, String), String> {
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "5", "-w", "\n%{http_code}"])
        .args(extra)
        .arg(url)
        .output()
        .expect("curl");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    if !out.status.success() {
        return Err(format!("{text} {}", String::from_utf8_lossy(&out.stderr)));
    }
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", &text));
    Ok((code.trim().parse().unwrap_or(0), body.to_string()))
}

/// The flags of a node of a TLS cluster holding `<node>.crt`/`<node>.key` and trusting `<ca>.crt`.
fn cluster_tls_flags(certs: &Certs, node: &str, ca: &str) -> Vec<String> {
    [
        "--tls-cluster",
        "yes",
        "--tls-cert-file",
        &certs.arg(&format!("{node}.crt")),
        "--tls-key-file",
        &certs.arg(&format!("{node}.key")),
        "--tls-ca-cert-file",
        &certs.arg(&format!("{ca}.crt")),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

fn start_node(flags: &[String]) -> KiwiServer {
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    KiwiServer::start_with(&flags)
}

fn voters(raft_port: u16, cacert: &str) -> Option<usize> {
    let url = format!("https://127.0.0.1:{raft_port}/raft/metrics");
    let (status, body) = curl(&url, &["--cacert", cacert]).ok()?;
    let m: serde_json::Value = serde_json::from_str(&body).ok()?;
    (status == 200).then(|| m["membership"]["voters"].as_array().map_or(0, Vec::len))
}

#[test]
fn a_tls_cluster_forms_replicates_and_turns_plain_callers_away() {
    let certs = Certs::new();
    let ca = certs.arg("ca.crt");
    let tls = cluster_tls_flags(&certs, "node", "ca");
    let first = start_node(&tls);
    let join = format!("127.0.0.1:{}", first.raft_port());
    let with_join = |mut flags: Vec<String>| {
        flags.extend(["--raft-join", &join, "--raft-node-id", "auto"].map(String::from));
        flags
    };
    // Two more nodes join through the first one's admin API over TLS, then replicate from it
    // over TLS peer connections.
    let _second = start_node(&with_join(tls.clone()));
    let third = start_node(&with_join(tls.clone()));
    wait_for(Duration::from_secs(30), "three voters over TLS", || {
        (voters(first.raft_port(), &ca) == Some(3)).then_some(())
    });
    assert_eq!(first.cli(&["SET", "sealed", "in-transit"]).trim(), "OK");
    let mut local = third.client();
    redis::cmd("READONLY").query::<()>(&mut local).unwrap();
    wait_for(
        Duration::from_secs(10),
        "the write on the third node",
        || {
            let v: Option<String> = redis::cmd("GET").arg("sealed").query(&mut local).ok()?;
            (v.as_deref() == Some("in-transit")).then_some(())
        },
    );

    let raft = first.raft_port();
    // The admin API answers only over TLS, with the node's certificate checked.
    assert!(curl(&format!("http://127.0.0.1:{raft}/healthz"), &[]).is_err());
    assert!(
        curl(&format!("https://127.0.0.1:{raft}/healthz"), &[]).is_err(),
        "curl without the CA must not trust the node's certificate"
    );
    let (status, _) = curl(
        &format!("https://localhost:{raft}/healthz"),
        &["--cacert", &ca],
    )
    .unwrap();
    assert_eq!(status, 200);
    // `kiwi health` (Docker's HEALTHCHECK) reaches the node over TLS with the node's own
    // flags, and fails where no node answers.
    let health = |raft_port: u16| {
        Command::new(kiwi_tests::kiwi_bin())
            .arg("health")
            .args(&tls)
            .args(["--raft-addr", &format!("127.0.0.1:{raft_port}")])
            .output()
            .unwrap()
    };
    let out = health(raft);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!health(free_port()).status.success());
    // A client certificate is checked when presented: one from another CA is refused.
    make_ca(certs.dir.path(), "other-ca");
    make_cert(certs.dir.path(), "other-ca", "stranger", "clientAuth");
    let stranger = [
        "--cacert",
        &ca,
        "--cert",
        &certs.arg("stranger.crt"),
        "--key",
        &certs.arg("stranger.key"),
    ];
    assert!(curl(&format!("https://127.0.0.1:{raft}/healthz"), &stranger).is_err());

    // A node without tls-cluster cannot join: its plain request never reaches the admin API,
    // and it says why.
    let plain = Joiner::start(&join, &[]);
    let said = plain.wait_for_log("join failed");
    assert!(said.contains("TLS"), "{said}");
    // A TLS node whose certificate another CA signed cannot join either.
    make_cert(
        certs.dir.path(),
        "other-ca",
        "impostor",
        "serverAuth,clientAuth",
    );
    let impostor = Joiner::start(&join, &cluster_tls_flags(&certs, "impostor", "other-ca"));
    impostor.wait_for_log("join failed");
    assert_eq!(voters(raft, &ca), Some(3));
}

/// A kiwi that tries to join a cluster and, refused, keeps retrying (so it never serves
/// commands, which [`KiwiServer`] waits for). Killed when dropped.
struct Joiner {
    child: std::process::Child,
    dir: tempfile::TempDir,
}

impl Joiner {
    fn start(join: &str, flags: &[String]) -> Joiner {
        let dir = tempfile::tempdir().unwrap();
        let log = std::fs::File::create(dir.path().join("log")).unwrap();
        let child = Command::new(kiwi_tests::kiwi_bin())
            .args(["--port", &free_port().to_string()])
            .args(["--raft-addr", &format!("127.0.0.1:{}", free_port())])
            .args(["--db-path", &dir.path().join("data").display().to_string()])
            .args(["--raft-join", join, "--raft-node-id", "auto"])
            .args(flags)
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        Joiner { child, dir }
    }

    /// Waits for a log line containing `what`; returns that line.
    fn wait_for_log(&self, what: &str) -> String {
        wait_for(Duration::from_secs(15), what, || {
            let log = std::fs::read_to_string(self.dir.path().join("log")).ok()?;
            log.lines().find(|l| l.contains(what)).map(str::to_string)
        })
    }
}

impl Drop for Joiner {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn tls_cluster_without_a_ca_stops_the_start() {
    let certs = Certs::new();
    let out = Command::new(kiwi_tests::kiwi_bin())
        .args([
            "--tls-cluster",
            "yes",
            "--tls-cert-file",
            &certs.arg("node.crt"),
            "--tls-key-file",
            &certs.arg("node.key"),
            "--db-path",
            &certs.arg("data"),
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("tls-cluster needs"), "{stderr}");
}
