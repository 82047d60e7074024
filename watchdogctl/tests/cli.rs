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
    ActionReport, ErrorKind, EventKind, EventRecord, Health, Heartbeat, HistoryEntry, HistoryKind,
    HistoryRequest, MAX_REQUEST_FRAME, PROTOCOL_VERSION, PipelineResult, Request, Response,
    ServiceDetail, ServiceState, ServiceStatus, StatusReply, StepOutcome, StepReport, Trigger,
    VersionReply, WaitOutcome, WaitReply,
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
        let frames = replies
            .into_iter()
            .map(|r| r.into_iter().collect())
            .collect();
        Self::start_streams(frames, gate)
    }

    /// Each connection gets the next list of frames, then is closed (an empty list: closed
    /// without a reply).
    fn start_streams(streams: Vec<Vec<Response>>, gate: Option<mpsc::Receiver<()>>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("w.sock");
        let name = socket.as_path().to_fs_name::<GenericFilePath>().unwrap();
        let listener = ListenerOptions::new().name(name).create_sync().unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&requests);
        thread::spawn(move || {
            for frames in streams {
                let Ok(mut conn) = listener.accept() else {
                    return;
                };
                let frame = read_frame(&mut conn, MAX_REQUEST_FRAME).unwrap();
                seen.lock().unwrap().push(decode_request(&frame).unwrap());
                if let Some(gate) = &gate {
                    let _ = gate.recv();
                }
                for reply in frames {
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
        monitoring_override: None,
        actions_disabled: Vec::new(),
        status_text: None,
    }
}

fn status(services: Vec<ServiceStatus>) -> Response {
    Response::Status(StatusReply {
        daemon_version: "0.1.0".into(),
        daemon_pid: 1,
        services,
        audit_rows_dropped: 0,
        daemon_started_ms: 0,
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
    let o = run(&d.socket, &["status", "api", "--json"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        d.requests()[0],
        Request::Status {
            key: Some("api".into())
        }
    );
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
        // Another protocol version never heals by retrying: fix the installation (2).
        (2, "protocol version mismatch"),
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
            "watchdogctl: cannot reach watchdogd at {} (given with --socket): ",
            socket.display()
        )),
        "{err}"
    );
    assert!(
        err.ends_with("Is watchdogd running? If it runs with another config, say which: `watchdogctl -c CONFIG …` (or WATCHDOG_CONFIG=CONFIG), or `--socket PATH`\n"),
        "{err}"
    );
}

#[test]
fn cannot_reach_says_how_the_socket_was_chosen() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("none.sock");
    let config = dir.path().join("c.json");
    std::fs::write(
        &config,
        format!(
            r#"{{"socket_path": "{}", "processes": {{}}}}"#,
            socket.display()
        ),
    )
    .unwrap();
    let env_only = ctl()
        .env("WATCHDOG_SOCKET", &socket)
        .env_remove("WATCHDOG_CONFIG")
        .arg("status")
        .output()
        .unwrap();
    let from_config = ctl()
        .env_remove("WATCHDOG_SOCKET")
        .arg("-c")
        .arg(&config)
        .arg("status")
        .output()
        .unwrap();
    for (o, how) in [
        (env_only, "(given in WATCHDOG_SOCKET)".to_owned()),
        (
            from_config,
            format!("(the socket_path of config {})", config.display()),
        ),
    ] {
        assert_eq!(o.status.code(), Some(3));
        let err = stderr(&o);
        assert!(
            err.starts_with(&format!(
                "watchdogctl: cannot reach watchdogd at {} {how}: ",
                socket.display()
            )),
            "{err}"
        );
    }
    // Nothing given: the default, and how to name another.
    let default = ctl()
        .env_remove("WATCHDOG_SOCKET")
        .env_remove("WATCHDOG_CONFIG")
        .env("XDG_RUNTIME_DIR", dir.path())
        .arg("status")
        .output()
        .unwrap();
    let err = stderr(&default);
    assert!(
        err.contains("(the default socket: neither -c/--config, --socket, WATCHDOG_CONFIG nor WATCHDOG_SOCKET was given)")
            && err.contains("`watchdogctl -c CONFIG …`"),
        "{err}"
    );
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

fn now_ms() -> i64 {
    protocol::time::now_millis()
}

fn recovery_entry(key: &str) -> HistoryEntry {
    HistoryEntry {
        kind: HistoryKind::Recovery,
        key: key.into(),
        at_ms: 1_770_272_244_601,
        health: None,
        pid: Some(43),
        failures: None,
        trigger: Some(Trigger::Automatic),
        outcome: "succeeded".into(),
        finished_ms: Some(1_770_272_245_635),
        steps: vec![StepReport {
            action: "kill".into(),
            outcome: StepOutcome::Ok,
            message: "SIGTERM".into(),
            duration_ms: 12,
        }],
        message: "automatic done".into(),
    }
}

fn check_entry(key: &str) -> HistoryEntry {
    HistoryEntry {
        kind: HistoryKind::Check,
        key: key.into(),
        at_ms: 1_770_272_249_601,
        health: Some(Health::StalePid),
        pid: Some(42),
        failures: Some(1),
        trigger: None,
        outcome: "stale_pid".into(),
        finished_ms: None,
        steps: Vec::new(),
        message: "pid 42 is not running".into(),
    }
}

fn event(i: i64) -> Response {
    Response::Event(EventRecord {
        at_ms: 1_770_272_249_601 + i * 1000,
        key: "api".into(),
        kind: EventKind::HealthChanged,
        health: Some(Health::Healthy),
        state: Some(ServiceState::Running),
        message: format!("event {i}"),
    })
}

#[test]
fn status_key_shows_the_detail_view_and_exits_by_health() {
    let detail = |health| {
        Response::Detail(Box::new(ServiceDetail {
            status: service("api", Some(health), Some(10)),
            config_json: r#"{"timeout_seconds": 30, "heartbeat_path": "/srv/api.json",
                "recovery_actions": ["kill", "start"], "commands": {"start": "api --serve"},
                "env": {"TOKEN": "secret"}}"#
                .into(),
            heartbeat: r#"{"process_key": "api", "pid": 10}"#.into(),
            history: vec![check_entry("api"), recovery_entry("api")],
            heartbeat_source: String::new(),
        }))
    };
    let d = FakeDaemon::start(vec![
        Some(detail(Health::TimedOut)),
        Some(detail(Health::Healthy)),
        Some(error(ErrorKind::UnknownKey, "unknown process key \"nope\"")),
    ]);
    let o = run(&d.socket, &["status", "api"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.starts_with("KEY  NAME  STATE"), "{out}");
    for part in [
        "\ndetail: checked\nconfig:\n  timeout_seconds: 30\n  heartbeat_path: /srv/api.json\n",
        "  recovery_actions: kill → start\n  commands:\n    start: api --serve\n",
        "\nheartbeat: {\"process_key\": \"api\", \"pid\": 10}\nrecent:\n  TIME ",
        "  stale_pid ",
        "automatic succeeded  automatic done (1034 ms)\n    kill: ok (12 ms) SIGTERM\n",
    ] {
        assert!(out.contains(part), "{part:?} not in\n{out}");
    }
    assert!(!out.contains("secret"), "{out}");
    assert_eq!(d.requests()[0], Request::Detail { key: "api".into() });
    assert_eq!(run(&d.socket, &["status", "api"]).status.code(), Some(0));
    let o = run(&d.socket, &["status", "nope"]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(stderr(&o), "watchdogctl: unknown process key \"nope\"\n");
}

#[test]
fn a_maintenance_window_shows_in_status() {
    let mut off = service("api", None, None);
    off.state = ServiceState::Stopped;
    off.off_until_ms = Some(now_ms() + 600_000);
    let d = FakeDaemon::start(vec![
        Some(status(vec![off.clone()])),
        Some(status(vec![off])),
    ]);
    let out = stdout(&run(&d.socket, &["status"]));
    assert!(out.contains(" off (until "), "{out}");
    let o = run(&d.socket, &["status", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let until = v[0]["off_until"].as_str().unwrap();
    assert!(protocol::time::parse_rfc3339(until).is_some(), "{until}");
}

#[test]
fn off_for_sends_the_window_and_reports_its_end() {
    let off = || {
        let mut r = report("api", PipelineResult::Succeeded, Some(10));
        r.message = "off done".into();
        Some(Response::Action(r))
    };
    let d = FakeDaemon::start(vec![off(), off()]);
    let o = run(&d.socket, &["off", "api", "--for", "10m"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.starts_with("api: off done\n  kill: ok (12 ms) SIGTERM\n"),
        "{out}"
    );
    assert!(out.contains("\napi: off for 10m, until "), "{out}");
    let before = now_ms();
    let o = run(&d.socket, &["off", "api", "--for", "90", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["result"], "succeeded");
    let until = protocol::time::parse_rfc3339(v["off_until"].as_str().unwrap()).unwrap() / 1000;
    let after = now_ms();
    assert!(
        until >= before + 90_000 && until <= after + 90_000,
        "{before} {until} {after} {v}"
    );
    assert_eq!(
        d.requests(),
        vec![
            Request::OffFor {
                key: "api".into(),
                for_ms: 600_000
            },
            Request::OffFor {
                key: "api".into(),
                for_ms: 90_000
            },
        ]
    );
    // A bad duration is a usage error naming the value; nothing is sent.
    let o = run(&d.socket, &["off", "api", "--for", "10 parsecs"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("\"10 parsecs\""), "{}", stderr(&o));
}

#[test]
fn history_sends_the_filters_and_lists_steps_beneath_recoveries() {
    let entries = vec![check_entry("api"), recovery_entry("api")];
    let d = FakeDaemon::start(vec![
        Some(Response::History(entries.clone())),
        Some(Response::History(entries)),
        Some(error(ErrorKind::UnknownKey, "unknown process key \"nope\"")),
    ]);
    let before = now_ms();
    let o = run(
        &d.socket,
        &["history", "api", "--limit", "5", "--since", "2h"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        "\
TIME                  KEY  KIND      WHAT                 DETAIL
2026-02-05T06:17:29Z  api  check     stale_pid            failures 1; pid 42 is not running
2026-02-05T06:17:24Z  api  recovery  automatic succeeded  automatic done (1034 ms)
  kill: ok (12 ms) SIGTERM
"
    );
    match &d.requests()[0] {
        Request::History(HistoryRequest {
            key,
            limit,
            since_ms: Some(since),
        }) => {
            assert_eq!(key.as_deref(), Some("api"));
            assert_eq!(*limit, 5);
            assert!(*since >= before - 7_200_000 && *since <= now_ms() - 7_200_000);
        }
        other => panic!("unexpected {other:?}"),
    }
    let o = run(&d.socket, &["history", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v[1]["kind"], "recovery");
    assert_eq!(v[1]["trigger"], "automatic");
    assert_eq!(v[1]["steps"][0]["action"], "kill");
    assert_eq!(v[1]["finished"], "2026-02-05T06:17:25.635000+00:00");
    assert_eq!(
        d.requests()[1],
        Request::History(HistoryRequest {
            key: None,
            limit: 50,
            since_ms: None
        })
    );
    let o = run(&d.socket, &["history", "nope"]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(stdout(&o), "");
}

#[test]
fn events_without_follow_show_the_last_20_entries() {
    let d = FakeDaemon::start(vec![Some(Response::History(vec![recovery_entry("api")]))]);
    let o = run(&d.socket, &["events"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).starts_with("TIME "));
    assert_eq!(
        d.requests(),
        vec![Request::History(HistoryRequest {
            key: None,
            limit: 20,
            since_ms: None
        })]
    );
}

#[test]
fn events_follow_prints_each_event_until_the_daemon_closes() {
    let d = FakeDaemon::start_streams(
        vec![
            vec![event(0), event(1), event(2)],
            vec![event(0), event(1), event(2)],
            vec![error(
                ErrorKind::PermissionDenied,
                "permission denied: uid 7 may not events",
            )],
        ],
        None,
    );
    let o = run(&d.socket, &["events", "--follow"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        "\
2026-02-05T06:17:29Z api health_changed healthy running event 0
2026-02-05T06:17:30Z api health_changed healthy running event 1
2026-02-05T06:17:31Z api health_changed healthy running event 2
"
    );
    let o = run(&d.socket, &["events", "-f", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let lines: Vec<serde_json::Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[2]["message"], "event 2");
    assert_eq!(lines[0]["kind"], "health_changed");
    assert_eq!(lines[0]["state"], "running");
    assert_eq!(d.requests(), vec![Request::Events, Request::Events]);
    let o = run(&d.socket, &["events", "--follow"]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(stdout(&o), "");
    assert!(stderr(&o).contains("permission denied"));
}

#[test]
fn several_followers_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("w.sock");
    let name = socket.as_path().to_fs_name::<GenericFilePath>().unwrap();
    let listener = ListenerOptions::new().name(name).create_sync().unwrap();
    let server = thread::spawn(move || {
        // Both followers are connected before either gets an event.
        let mut conns: Vec<_> = (0..2)
            .map(|_| {
                let mut c = listener.accept().unwrap();
                let frame = read_frame(&mut c, MAX_REQUEST_FRAME).unwrap();
                assert_eq!(decode_request(&frame).unwrap(), Request::Events);
                c
            })
            .collect();
        for i in 0..3 {
            for c in &mut conns {
                write_frame(c, &encode_response(&event(i)).unwrap()).unwrap();
            }
        }
    });
    let followers: Vec<_> = (0..2)
        .map(|_| {
            ctl()
                .arg("--socket")
                .arg(&socket)
                .args(["events", "--follow"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    server.join().unwrap();
    for f in followers {
        let o = f.wait_with_output().unwrap();
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        assert_eq!(stdout(&o).lines().count(), 3, "{}", stdout(&o));
    }
}

#[test]
fn metrics_are_printed_as_is_even_with_json() {
    let text = "# TYPE watchdog_up gauge\nwatchdog_up 1\n# EOF\n";
    let d = FakeDaemon::start(vec![
        Some(Response::Metrics(text.into())),
        Some(Response::Metrics(text.into())),
    ]);
    for args in [&["metrics"][..], &["metrics", "--json"]] {
        let o = run(&d.socket, args);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        assert_eq!(stdout(&o), text);
    }
    assert_eq!(d.requests(), vec![Request::Metrics, Request::Metrics]);
}

#[test]
fn beat_writes_a_heartbeat_without_a_daemon() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("hb/job.json");
    let missing = dir.path().join("none.sock");
    // The default PID is the parent's: here, this test process.
    let o = run(
        &missing,
        &["beat", "--file", file.to_str().unwrap(), "--key", "job"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stdout(&o), "");
    let hb = Heartbeat::parse(&std::fs::read(&file).unwrap()).unwrap();
    assert_eq!(hb.process_key, "job");
    assert_eq!(hb.pid, i64::from(std::process::id()));
    assert_eq!(hb.status, "running");
    assert_eq!(hb.iteration, Some(1));
    assert!((protocol::time::now_micros() - hb.timestamp_us).abs() < 10_000_000);

    let o = run(
        &missing,
        &[
            "beat",
            "--file",
            file.to_str().unwrap(),
            "--key",
            "job",
            "--pid",
            "77",
            "--status",
            "degraded",
            "--json",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["file"], file.to_str().unwrap());
    assert_eq!(v["pid"], 77);
    assert_eq!(v["iteration"], 2);
    let hb = Heartbeat::parse(&std::fs::read(&file).unwrap()).unwrap();
    assert_eq!((hb.pid, hb.status.as_str()), (77, "degraded"));

    // An unwritable place: exit 2, naming the path.
    let blocker = dir.path().join("plain-file");
    std::fs::write(&blocker, "").unwrap();
    let bad = blocker.join("hb.json");
    let o = run(
        &missing,
        &["beat", "--file", bad.to_str().unwrap(), "--key", "job"],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).starts_with(&format!(
            "watchdogctl: cannot write the heartbeat file {}: ",
            bad.display()
        )),
        "{}",
        stderr(&o)
    );
}

#[test]
fn completions_and_man_need_no_daemon() {
    let missing = Path::new("/nonexistent/w.sock");
    for (shell, start, marker) in [
        ("bash", "_watchdogctl() {", "complete -F _watchdogctl"),
        ("zsh", "#compdef watchdogctl", "_watchdogctl()"),
        ("fish", "# Print an optspec", "complete -c watchdogctl"),
    ] {
        let o = run(missing, &["completions", shell]);
        assert_eq!(o.status.code(), Some(0), "{shell}: {}", stderr(&o));
        let script = stdout(&o);
        assert!(script.starts_with(start), "{shell}: {script}");
        assert!(script.contains(marker), "{shell}: {script}");
        assert!(script.contains("history"), "{shell}");
    }
    let o = run(missing, &["man"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let page = stdout(&o);
    // clap_mangen puts two lines defining the apostrophe string before `.TH`.
    let th = page
        .lines()
        .position(|l| l.starts_with(".TH watchdogctl 1 "));
    assert!(th.is_some_and(|i| i < 3), "{page}");
    assert!(page.contains("events"));
    // A closed pipe is not an error (clap's generators would panic on it).
    let mut child = ctl()
        .args(["man"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stderr(&o), "");
}

#[test]
fn version_with_the_daemon_down_still_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("none.sock");
    let first = format!(
        "watchdogctl {} (protocol {PROTOCOL_VERSION})\n",
        env!("CARGO_PKG_VERSION")
    );
    for flag in ["--version", "-V"] {
        let o = run(&socket, &[flag]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let out = stdout(&o);
        assert!(out.starts_with(&first), "{out}");
        assert!(
            out.contains(&format!(
                "\nwatchdogd: unreachable at {} (",
                socket.display()
            )),
            "{out}"
        );
    }
    let o = run(&socket, &["version"]);
    assert_eq!(o.status.code(), Some(3));
    assert!(stdout(&o).starts_with(&first));
    let o = run(&socket, &["--version", "--json"]);
    assert_eq!(o.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["watchdogctl"]["protocol"], PROTOCOL_VERSION);
    assert_eq!(v["watchdogd"], serde_json::Value::Null);
    assert!(v["error"].is_string());
    // An unreadable config names no socket: still a version and exit 0.
    let o = ctl()
        .args(["--version", "-c"])
        .arg(dir.path().join("missing.json"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("\nwatchdogd: unreachable (cannot read config "),
        "{}",
        stdout(&o)
    );
}

#[test]
fn version_shows_the_daemon_or_the_mismatch() {
    let mismatch =
        "protocol version mismatch: client speaks 4 (watchdogctl 0.1.0), daemon speaks 5";
    let d = FakeDaemon::start(vec![
        Some(Response::Version(VersionReply {
            daemon_version: "0.1.0".into(),
            protocol: PROTOCOL_VERSION,
            daemon_pid: 99,
            started_ms: 1_770_272_249_601,
        })),
        Some(error(ErrorKind::Protocol, mismatch)),
        Some(error(ErrorKind::Protocol, mismatch)),
    ]);
    let o = run(&d.socket, &["version"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).ends_with(&format!(
        "\nwatchdogd 0.1.0 (protocol {PROTOCOL_VERSION}, pid 99, up since 2026-02-05T06:17:29Z)\n"
    )));
    let o = run(&d.socket, &["--version"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(stdout(&o).ends_with(&format!("\nwatchdogd: incompatible: {mismatch}\n")));
    let o = run(&d.socket, &["version"]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(d.requests(), vec![Request::Version; 3]);
}
