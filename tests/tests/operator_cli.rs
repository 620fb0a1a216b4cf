//! The operator binary as a process: what it writes when its output is not a terminal.
//! Build it first: `cargo build -p kiwi-operator --bin kiwi-operator` (or set KIWI_OPERATOR_BIN).

use std::process::Command;

use kiwi_tests::operator_bin;

/// Logs piped to a file or a collector (as `kubectl logs` and every log shipper read them)
/// carry no ANSI colour codes.
#[test]
fn logs_written_to_a_pipe_have_no_colour_codes() {
    let home = tempfile::tempdir().unwrap();
    // No kubeconfig and not in a cluster: it logs its start, then fails to reach an API server.
    let out = Command::new(operator_bin())
        .args(["run", "--metrics-addr", "127.0.0.1:0"])
        .env_clear()
        .env("HOME", home.path())
        .env("KUBECONFIG", home.path().join("missing"))
        .output()
        .expect("run kiwi-operator");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success());
    assert!(
        stdout.contains("kiwi-operator starting"),
        "the start is logged: {stdout}"
    );
    assert!(
        !stdout.contains('\u{1b}'),
        "colour codes in piped logs: {stdout:?}"
    );
}
