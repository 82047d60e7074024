//! One judge, one identity: the kill step acts on exactly what the check decided (the same
//! clock correction for a future-dated heartbeat, the same reused-PID rule), and `on`'s
//! "already running?" is the same judgement.

use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::json;
use watchdog_tests::{alive, wait_until};

use super::T;

/// A heartbeat naming `pid`, timestamped an hour ahead, whose file was last written `age` ago.
fn future_heartbeat(path: &std::path::Path, pid: u32, age: Duration) {
    let hb = protocol::Heartbeat {
        process_key: "x".into(),
        pid: i64::from(pid),
        timestamp_us: protocol::time::now_micros() + 3_600_000_000,
        status: "error".into(),
        iteration: Some(1),
    };
    std::fs::write(path, hb.to_json()).unwrap();
    let when = std::time::SystemTime::now() - age;
    std::fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(when)
        .unwrap();
}

#[test]
fn a_future_dated_heartbeat_naming_a_reused_pid_is_judged_and_spared_alike() {
    let sb = crate::sandbox();
    let mut svc = sb.placeholder("skewed");
    svc["consecutive_failures_threshold"] = json!(1);
    svc["timeout_seconds"] = json!(60);
    sb.write_config(&sb.config(json!({ "skewed": svc })));
    // A process that starts now. The heartbeat claims to be an hour ahead, but its file was
    // written 10 s ago: judged by that time, this PID started after it — reused, not the writer.
    let mut stranger = Command::new("sleep")
        .arg("60")
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    future_heartbeat(
        &sb.heartbeat("skewed"),
        stranger.id(),
        Duration::from_secs(10),
    );
    let _d = sb.start_daemon();
    wait_until("stale_pid and the recovery it causes", T, || {
        let row = sb.status_of("skewed");
        row["health"] == "stale_pid" && !row["last_recovery"].is_null()
    });
    let row = sb.status_of("skewed");
    assert!(
        row["detail"].as_str().unwrap().contains("pid reused"),
        "{row}"
    );
    assert!(
        row["clock_skew"].as_f64().is_some_and(|s| s > 3000.0),
        "{row}"
    );
    assert!(
        alive(stranger.id() as i32),
        "the kill step killed the stranger"
    );
    assert!(stranger.try_wait().unwrap().is_none());
    let _ = stranger.kill();
    let _ = stranger.wait();
}

#[test]
fn on_judges_already_running_as_the_check_does() {
    let sb = crate::sandbox();
    sb.write_config(&sb.config(json!({ "self": sb.placeholder("self") })));
    // This test process, alive for longer than the file: a future timestamp, a fresh file.
    future_heartbeat(&sb.heartbeat("self"), std::process::id(), Duration::ZERO);
    let mut beat: serde_json::Value =
        serde_json::from_slice(&std::fs::read(sb.heartbeat("self")).unwrap()).unwrap();
    beat["status"] = json!("running");
    std::fs::write(sb.heartbeat("self"), beat.to_string()).unwrap();
    let _d = sb.start_daemon();
    wait_until("healthy by the file's time", T, || {
        sb.status_of("self")["health"] == "healthy"
    });
    let out = sb.ctl_ok(&["on", "self", "--json"]);
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["result"], "skipped", "{report}");
    assert!(
        report["message"].as_str().unwrap().contains("clock skew"),
        "{report}"
    );
    assert!(alive(std::process::id() as i32));
}

#[test]
fn a_service_that_ignores_sigterm_is_killed_through_its_pidfd() {
    let sb = crate::sandbox();
    let mut svc = sb.service("stubborn", "");
    svc["commands"]["start"] = json!(format!(
        "trap '' TERM; {}",
        sb.service_cmd("stubborn", "").trim_start_matches("exec ")
    ));
    let mut cfg = sb.config(json!({ "stubborn": svc }));
    cfg["kill_timeout"] = json!(0.5);
    sb.write_config(&cfg);
    let _d = sb.start_daemon();
    sb.ctl_ok(&["on", "stubborn"]);
    let pid = sb.wait_settled("stubborn", None, T);
    let out = sb.ctl_ok(&["off", "stubborn", "--json"]);
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    let kill = report["steps"][0]["message"].as_str().unwrap().to_owned();
    assert!(kill.contains("SIGKILL"), "{report}");
    assert!(!alive(pid as i32));
}
