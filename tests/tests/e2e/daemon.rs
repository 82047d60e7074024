//! The daemon's own life: clean shutdown, single instance, taking over after a crash, and the
//! shipped example config.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use serde_json::json;
use watchdog_tests::{alive, wait_until};

use crate::sandbox;

const T: Duration = Duration::from_secs(20);

#[test]
fn sigterm_exits_0_removes_the_socket_and_leaves_services_running() {
    let sb = sandbox();
    sb.write_config(&sb.config(json!({
        "a": sb.service("a", ""),
        "b": sb.service("b", "--fork-child"),
    })));
    let mut d = sb.start_daemon();
    sb.wait_settled("a", None, T);
    sb.wait_settled("b", None, T);
    let services: Vec<i32> = ["a", "b"].iter().flat_map(|k| sb.starts(k)).collect();
    assert_eq!(services.len(), 3, "a, b and b's child: {services:?}");
    let mode = std::fs::metadata(sb.socket()).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "socket mode {mode:o}");

    assert_eq!(d.stop(), Some(0), "{}", d.log());
    assert!(!sb.socket().exists(), "the socket outlived the daemon");
    for pid in &services {
        assert!(alive(*pid), "service process {pid} died with the daemon");
    }
    sb.ctl_exit(&["status"], 3);
    // The services go on beating without a daemon.
    let before = std::fs::read(sb.heartbeat("a")).unwrap();
    wait_until("a fresh heartbeat from a", T, || {
        std::fs::read(sb.heartbeat("a")).unwrap() != before
    });
}

#[test]
fn a_second_daemon_on_the_same_config_refuses_to_start() {
    let sb = sandbox();
    sb.write_config(&sb.config(json!({ "api": sb.service("api", "") })));
    let _d = sb.start_daemon();
    let pid = sb.wait_settled("api", None, T);
    let config = sb.config_path();
    let elsewhere = sb.path().join("other.sock");
    for args in [
        vec!["--config".as_ref(), config.as_os_str()],
        // Another socket does not make it another instance: the database is the same.
        vec![
            "--config".as_ref(),
            config.as_os_str(),
            "--socket".as_ref(),
            elsewhere.as_os_str(),
        ],
    ] {
        let out = sb.run_watchdogd(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_ne!(out.status.code(), Some(0), "{args:?}: {err}");
        assert!(
            err.contains("already running") || err.contains("lock"),
            "{args:?}: {err}"
        );
    }
    assert!(!elsewhere.exists());
    // Another lock file does not let it steal a socket that answers.
    let mut cfg: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&config).unwrap()).unwrap();
    cfg["lock_path"] = json!("other.lock");
    cfg["db_path"] = json!("other.db");
    let other = sb.path().join("other.json");
    std::fs::write(&other, cfg.to_string()).unwrap();
    let out = sb.run_watchdogd(["--config".as_ref(), other.as_os_str()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("answering"), "{err}");
    assert!(err.contains(sb.socket().to_str().unwrap()), "{err}");
    // The first one goes on serving, on its socket, with the same service.
    assert!(sb.socket().exists());
    sb.ctl_ok(&["status", "api"]);
    assert_eq!(sb.status_of("api")["pid"], pid);
    assert_eq!(sb.starts("api").len(), 1);
}

#[test]
fn a_stale_socket_from_a_crash_is_replaced_and_services_are_kept() {
    let sb = sandbox();
    sb.write_config(&sb.config(json!({ "api": sb.service("api", "") })));
    let mut first = sb.start_daemon();
    let pid = sb.wait_settled("api", None, T);
    first.crash();
    assert!(sb.socket().exists(), "SIGKILL cannot remove the socket");
    sb.ctl_exit(&["status"], 3);
    assert!(alive(pid as i32));

    let second = sb.start_daemon();
    wait_until("a check by the new daemon", T, || {
        !sb.status_of("api")["health"].is_null()
    });
    assert_eq!(sb.status_of("api")["pid"], pid);
    // A negative: watch a few check intervals (0.2 s each, threshold 2) to see that the new
    // daemon leaves the healthy service alone.
    std::thread::sleep(Duration::from_millis(1000));
    let row = sb.status_of("api");
    assert_eq!(row["health"], "healthy", "{row}");
    assert_eq!(row["pid"], pid, "{row}");
    assert_eq!(sb.starts("api"), [pid as i32], "restarted needlessly");
    assert!(
        second.log().contains("removing stale socket"),
        "{}",
        second.log()
    );
}

/// Copies `from` into `to` recursively, keeping file modes (scripts stay executable).
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

#[test]
fn the_example_config_runs_the_demo_service() {
    let sb = sandbox();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    // The example's paths are relative to its folder; copied with contrib/ beside it, it runs
    // unchanged inside the sandbox.
    let config = sb.path().join("config.example.json");
    std::fs::copy(repo.join("config.example.json"), &config).unwrap();
    copy_tree(&repo.join("contrib"), &sb.path().join("contrib"));
    let socket = sb.path().join("run/watchdogd.sock");

    let _d = sb.start_daemon_with(&config, &socket);
    let mut pid = 0;
    wait_until(
        "the demo service to be healthy",
        Duration::from_secs(30),
        || {
            let out = watchdog_tests::ctl_at(&socket, &["status", "demo", "--json"]);
            let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
            pid = rows[0]["pid"].as_i64().unwrap_or(0);
            out.status.code() == Some(0) && rows[0]["health"] == "healthy"
        },
    );
    assert!(alive(pid as i32));
    assert!(sb.path().join("run/heartbeats/demo.json").exists());
    assert!(sb.path().join("run/watchdog.db").exists());
    let logs: Vec<_> = std::fs::read_dir(sb.path().join("run/logs"))
        .expect("log_dir created")
        .flatten()
        .collect();
    assert!(!logs.is_empty(), "no daily log file in log_dir");
}
