//! The real `watchdogctl` binary against a scripted fake daemon.
//!
//! The fake speaks the real framing and codec but answers from a list, so these tests pin what
//! scripts see (exit codes, the stdout/stderr split, which requests are sent) without needing
//! `watchdogd`. End-to-end tests with the real daemon live in the workspace's `tests/` crate.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;

use interprocess::local_socket::{GenericFilePath, ListenerOptions, prelude::*};
use protocol::codec::{decode_request, encode_response, read_frame, write_frame};
use protocol::{
    ActionReport, ErrorKind, Health, MAX_REQUEST_FRAME, PipelineResult, Request, Response,
    ServiceState, ServiceStatus, StatusReply, StepOutcome, StepReport, WaitOutcome, WaitReply,
};

/// A listener that answers each connection with the next scripted reply (`None` closes without
/// replying) and records the requests it got.
struct FakeDaemon {
    _dir: tempfile::TempDir,
    socket: PathBuf,
    requests: Arc<Mutex<Vec<Request>>>,
}

impl FakeDaemon {
    fn start(replies: Vec<Option<Response>>) -> Self {
        Self::start_gated(replies, None)
    }

    /// Like `start`, but each reply waits for a message on `gate` first.
    fn start_gated(replies: Vec<Option<Response>>, gate: Option<mpsc::Receiver<()>>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("w.sock");
        let name = socket.as_path().to_fs_name::<GenericFilePath>().unwrap();
        let listener = ListenerOptions::new().name(name).create_sync().unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&requests);
        thread::spawn(move || {
            for reply in replies {
                let Ok(mut conn) = listener.accept() else {
                    return;
                };
                let frame = read_frame(&mut conn, MAX_REQUEST_FRAME).unwrap();
                seen.lock().unwrap().push(decode_request(&frame).unwrap());
                if let Some(gate) = &gate {
                    let _ = gate.recv();
                }
                if let Some(reply) = reply {
                    let _ = write_frame(&mut conn, &encode_response(&reply).unwrap());
                }
            }
        });
        FakeDaemon {
            _dir: dir,
            socket,
            requests,
        }
    }

    fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }
}

fn ctl() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_watchdogctl"));
    cmd.env_remove("WATCHDOG_SOCKET")
        .env_remove("WATCHDOG_CONFIG")
        .env("NO_COLOR", "1");
    cmd
}

fn run(socket: &Path, args: &[&str]) -> Output {
    ctl()
        .arg("--socket")
        .arg(socket)
        .args(args)
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn service(key: &str, health: Option<Health>, pid: Option<u32>) -> ServiceStatus {
    ServiceStatus {
        key: key.into(),
        display_name: key.to_uppercase(),
        enabled: true,
        state: ServiceState::Running,
        health,
        pid,
        heartbeat_age_ms: Some(1200),
        consecutive_failures: 0,
        last_check_ms: Some(1_770_272_249_601),
        last_recovery: None,
        detail: "checked".into(),
        clock_skew_ms: None,
        restarts_in_window: 0,
        next_attempt_ms: None,
        off_until_ms: None,
    }
}

fn status(services: Vec<ServiceStatus>) -> Response {
    Response::Status(StatusReply {
        daemon_version: "0.1.0".into(),
        daemon_pid: 1,
        services,
        audit_rows_dropped: 0,
    })
}

fn report(key: &str, result: PipelineResult, old_pid: Option<u32>) -> ActionReport {
    ActionReport {
        key: key.into(),
        result,
        message: format!("restart {}", result.as_str()),
        steps: vec![StepReport {
            action: "kill".into(),
            outcome: StepOutcome::Ok,
            message: "SIGTERM".into(),
            duration_ms: 12,
        }],
        old_pid,
    }
}

fn error(kind: ErrorKind, message: &str) -> Response {
    Response::Error {
        kind,
        message: message.into(),
    }
}

#[test]
fn status_prints_a_table_and_exits_0() {
    let d = FakeDaemon::start(vec![Some(status(vec![
        service("api", Some(Health::Healthy), Some(10)),
        service("worker", Some(Health::StalePid), None),
    ]))]);
    let o = run(&d.socket, &["status"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.starts_with("KEY     NAME    STATE    HEALTH     PID  AGE"),
        "{out}"
    );
    assert!(
        out.contains("\nworker  WORKER  running  stale_pid  -    1s "),
        "{out}"
    );
    assert_eq!(d.requests(), vec![Request::Status { key: None }]);
}

#[test]
fn status_key_exits_1_unless_healthy() {
    let d = FakeDaemon::start(vec![
        Some(status(vec![service(
            "api",
            Some(Health::TimedOut),
            Some(10),
        )])),
        Some(status(vec![service(
            "api",
            Some(Health::Healthy),
            Some(10),
        )])),
    ]);
    let o = run(&d.socket, &["status", "api"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).ends_with("detail: checked\n"));
    let o = run(&d.socket, &["status", "api", "--json"]);
    assert_eq!(o.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v[0]["health"], "healthy");
}

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
        (3, "protocol version mismatch"),
        (1, "shutting down"),
        (2, "read-only client"),
    ] {
        let o = run(&d.socket, &["on", "nope", "--json"]);
        assert_eq!(o.status.code(), Some(code), "{message}");
        assert_eq!(stdout(&o), "");
        assert_eq!(stderr(&o), format!("watchdogctl: {message}\n"));
    }
}

#[test]
fn unreachable_daemon_exits_3() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("none.sock");
    let o = run(&socket, &["status"]);
    assert_eq!(o.status.code(), Some(3));
    let err = stderr(&o);
    assert!(
        err.starts_with(&format!(
            "watchdogctl: cannot reach watchdogd at {}: ",
            socket.display()
        )),
        "{err}"
    );
    assert!(err.ends_with("(is watchdogd running?)\n"), "{err}");
}

#[test]
fn closed_before_reply_exits_3() {
    let d = FakeDaemon::start(vec![None]);
    let o = run(&d.socket, &["check"]);
    assert_eq!(o.status.code(), Some(3));
    assert!(stderr(&o).contains("closed the connection before replying"));
}

#[test]
fn restart_wait_waits_for_a_new_pid() {
    let d = FakeDaemon::start(vec![
        Some(Response::Action(report(
            "api",
            PipelineResult::Succeeded,
            Some(41),
        ))),
        Some(Response::Wait(WaitReply {
            outcome: WaitOutcome::Healthy,
            status: service("api", Some(Health::Healthy), Some(42)),
        })),
    ]);
    let o = run(&d.socket, &["restart", "api", "--wait", "--timeout", "30"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        "api: restart succeeded\n  kill: ok (12 ms) SIGTERM\napi: healthy (pid 42)\n"
    );
    let requests = d.requests();
    assert_eq!(requests[0], Request::Restart { key: "api".into() });
    match &requests[1] {
        Request::Wait(w) => {
            assert_eq!(w.key, "api");
            assert_eq!(w.not_pid, Some(41));
            assert!(w.timeout_ms <= 30_000 && w.timeout_ms > 20_000, "{w:?}");
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn restart_wait_timeout_exits_1_with_json_for_both_steps() {
    let mut stuck = service("api", Some(Health::NoHeartbeat), None);
    stuck.detail = "no heartbeat file".into();
    let d = FakeDaemon::start(vec![
        Some(Response::Action(report(
            "api",
            PipelineResult::Warned,
            None,
        ))),
        Some(Response::Wait(WaitReply {
            outcome: WaitOutcome::TimedOut,
            status: stuck,
        })),
    ]);
    let o = run(
        &d.socket,
        &["restart", "api", "--wait", "--timeout", "5", "--json"],
    );
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        stderr(&o),
        "watchdogctl: api not healthy after 5s (health: no_heartbeat, detail: no heartbeat file)\n"
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["restart"]["result"], "warned");
    assert_eq!(v["wait"]["outcome"], "timed_out");
    assert_eq!(v["wait"]["service"]["key"], "api");
}

#[test]
fn failed_restart_does_not_wait() {
    let d = FakeDaemon::start(vec![Some(Response::Action(report(
        "api",
        PipelineResult::Failed,
        Some(41),
    )))]);
    let o = run(&d.socket, &["restart", "api", "--wait"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).starts_with("api: restart failed\n"));
    assert_eq!(
        stderr(&o),
        "watchdogctl: restart api failed: restart failed\n"
    );
    assert_eq!(d.requests().len(), 1);
}

#[test]
fn start_all_exits_1_if_any_failed() {
    let d = FakeDaemon::start(vec![Some(Response::Bulk(vec![
        report("api", PipelineResult::Succeeded, None),
        report("worker", PipelineResult::Failed, None),
    ]))]);
    let o = run(&d.socket, &["start-all"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        stdout(&o),
        "api: restart succeeded\nworker: restart failed\n"
    );
    assert_eq!(
        stderr(&o),
        "watchdogctl: start-all: 1 of 2 services failed\n"
    );
}

#[test]
fn socket_comes_from_env_then_config() {
    let d = FakeDaemon::start(vec![
        Some(status(vec![])),
        Some(status(vec![])),
        Some(status(vec![])),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.json");
    let other = dir.path().join("other.json");
    std::fs::write(
        &config,
        format!(r#"{{"socket_path": {:?}}}"#, d.socket.display().to_string()),
    )
    .unwrap();
    std::fs::write(&other, r#"{"socket_path": "nowhere.sock"}"#).unwrap();

    // WATCHDOG_SOCKET beats --config.
    let o = ctl()
        .env("WATCHDOG_SOCKET", &d.socket)
        .args(["status", "--config"])
        .arg(&other)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // --config (an empty WATCHDOG_SOCKET counts as unset), and WATCHDOG_CONFIG.
    let o = ctl()
        .env("WATCHDOG_SOCKET", "")
        .arg("-c")
        .arg(&config)
        .arg("status")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = ctl()
        .env("WATCHDOG_CONFIG", &config)
        .arg("status")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // --socket beats WATCHDOG_SOCKET: this one must fail against a missing socket.
    let o = ctl()
        .env("WATCHDOG_SOCKET", &d.socket)
        .arg("--socket")
        .arg(dir.path().join("missing.sock"))
        .arg("status")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3));
}

#[test]
fn bad_config_and_usage_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.json");
    std::fs::write(&config, "{ nope").unwrap();
    let o = ctl().arg("-c").arg(&config).arg("status").output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).starts_with("watchdogctl: config "),
        "{}",
        stderr(&o)
    );
    let o = ctl().args(["restart"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    let o = ctl().args(["--help"]).output().unwrap();
    assert_eq!(o.status.code(), Some(0));
    assert!(stdout(&o).contains("start-all"));
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
