//! How failures end the process: the daemon's refusals, a connection closed before the reply,
//! a closed stdout: mirrors `src/exit.rs`.

use std::io::Read;
use std::process::Stdio;
use std::sync::mpsc;

use protocol::ErrorKind;

use crate::fake_daemon::FakeDaemon;
use crate::replies::{error, service, status};
use crate::{ctl, run_exit};

#[test]
fn daemon_errors_map_to_exit_codes_with_nothing_on_stdout() {
    let d = FakeDaemon::start(vec![
        Some(error(ErrorKind::UnknownKey, "no service named nope")),
        Some(error(ErrorKind::Protocol, "protocol version mismatch")),
        Some(error(ErrorKind::Unavailable, "shutting down")),
        Some(error(ErrorKind::PermissionDenied, "read-only client")),
    ]);
    for (code, message) in [
        (2, "no service named nope"),
        // Another protocol version never heals by retrying: fix the installation (2).
        (2, "protocol version mismatch"),
        (1, "shutting down"),
        (2, "read-only client"),
    ] {
        let o = run_exit(&d.socket, &["on", "nope", "--json"], code);
        assert_eq!(o.stdout, "");
        assert_eq!(o.stderr, format!("watchdogctl: {message}\n"));
    }
}

#[test]
fn closed_before_reply_exits_3() {
    let d = FakeDaemon::start(vec![None]);
    let o = run_exit(&d.socket, &["check"], 3);
    assert!(o.stderr.contains("closed the connection before replying"));
}

#[test]
fn closed_stdout_exits_0() {
    let (tx, rx) = mpsc::channel();
    let d = FakeDaemon::start_gated(
        vec![Some(status(vec![service("api", None, None)]))],
        Some(rx),
    );
    let mut child = ctl()
        .arg("--socket")
        .arg(&d.socket)
        .arg("status")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    tx.send(()).unwrap();
    let status = child.wait().unwrap();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert_eq!(status.code(), Some(0), "{err}");
    assert_eq!(err, "");
}
