//! RESP over TLS, driven by the real `redis-cli --tls`: Redis's `tls-*` keys, client
//! certificates required / optional / not asked for, and a certificate replaced on disk taking
//! effect without a restart. Certificates are made for each test with the `openssl` CLI.

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
