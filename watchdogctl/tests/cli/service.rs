//! `status` (the table and the detail view) and the actions on services (`restart --wait`,
//! `start-all`, `off --for`): mirrors `src/commands/service.rs`.

use protocol::{
    ErrorKind, Health, PipelineResult, Request, Response, ServiceDetail, ServiceState, WaitOutcome,
    WaitReply,
};

use crate::fake_daemon::FakeDaemon;
use crate::replies::{check_entry, error, now_ms, recovery_entry, report, service, status};
use crate::{run, run_exit, stdout};

#[test]
fn status_prints_a_table_and_exits_0() {
    let d = FakeDaemon::start(vec![Some(status(vec![
        service("api", Some(Health::Healthy), Some(10)),
        service("worker", Some(Health::StalePid), None),
    ]))]);
    let out = run_exit(&d.socket, &["status"], 0).stdout;
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
    run_exit(&d.socket, &["status", "api", "--json"], 1);
    assert_eq!(
        d.requests()[0],
        Request::Status {
            key: Some("api".into())
        }
    );
    let o = run_exit(&d.socket, &["status", "api", "--json"], 0);
    let v: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    assert_eq!(v[0]["health"], "healthy");
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
    let out = run_exit(&d.socket, &["status", "api"], 1).stdout;
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
    run_exit(&d.socket, &["status", "api"], 0);
    let o = run_exit(&d.socket, &["status", "nope"], 2);
    assert_eq!(o.stderr, "watchdogctl: unknown process key \"nope\"\n");
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
    let o = run_exit(
        &d.socket,
        &["restart", "api", "--wait", "--timeout", "30"],
        0,
    );
    assert_eq!(
        o.stdout,
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
    let o = run_exit(
        &d.socket,
        &["restart", "api", "--wait", "--timeout", "5", "--json"],
        1,
    );
    assert_eq!(
        o.stderr,
        "watchdogctl: api not healthy after 5s (health: no_heartbeat, detail: no heartbeat file)\n"
    );
    let v: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
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
    let o = run_exit(&d.socket, &["restart", "api", "--wait"], 1);
    assert!(o.stdout.starts_with("api: restart failed\n"));
    assert_eq!(
        o.stderr,
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
    let o = run_exit(&d.socket, &["start-all"], 1);
    assert_eq!(o.stdout, "api: restart succeeded\nworker: restart failed\n");
    assert_eq!(o.stderr, "watchdogctl: start-all: 1 of 2 services failed\n");
}

#[test]
fn off_for_sends_the_window_and_reports_its_end() {
    let off = || {
        let mut r = report("api", PipelineResult::Succeeded, Some(10));
        r.message = "off done".into();
        Some(Response::Action(r))
    };
    let d = FakeDaemon::start(vec![off(), off()]);
    let out = run_exit(&d.socket, &["off", "api", "--for", "10m"], 0).stdout;
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
    let o = run_exit(&d.socket, &["off", "api", "--for", "10 parsecs"], 2);
    assert!(o.stderr.contains("\"10 parsecs\""), "{}", o.stderr);
}
