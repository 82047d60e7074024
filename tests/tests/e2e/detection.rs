//! How soon a failure is noticed, and that the cheap ways of noticing still get every fact right:
//! a watched folder's heartbeat is read when it changes and when it would time out, never
//! polled while all is well; a folder deleted and made again, a heartbeat that is a symlink,
//! and an overflowed event queue each still end in the right verdict, and `status KEY` says
//! which way a service is watched; a process's exit is seen at once even when watchdogd did not
//! start it (pidfd); an iteration that stops growing is a stall.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::json;
use watchdog_tests::{Sandbox, wait_until};

use crate::sandbox;

const T: Duration = Duration::from_secs(20);

/// `watchdogd_checks` from the metrics: heartbeat reads (or stats) made so far.
fn checks(sb: &Sandbox) -> f64 {
    sb.ctl_ok(&["metrics"])
        .lines()
        .find_map(|l| l.strip_prefix("watchdogd_checks_total "))
        .map(|v| v.trim().parse().unwrap())
        .unwrap_or_else(|| panic!("no watchdogd_checks_total"))
}

/// The `heartbeat:` source line of `status KEY`.
fn source(sb: &Sandbox, key: &str) -> String {
    let out = sb.ctl(&["status", key]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.lines()
        .find(|l| l.contains("watched for changes") || l.contains("polled every"))
        .unwrap_or_else(|| panic!("no heartbeat source in {text}"))
        .to_owned()
}

/// A heartbeat written by the test itself, naming this process (alive).
fn beat(sb: &Sandbox, key: &str, status: &str) {
    protocol::HeartbeatWriter::new(sb.heartbeat(key), key)
        .beat(status)
        .unwrap();
}

#[test]
fn a_change_is_read_at_once_and_a_quiet_healthy_service_costs_nothing() {
    let sb = sandbox();
    let mut svc = sb.placeholder("api");
    // A change is read at most once per check interval; polling would read every interval.
    svc["check_interval_seconds"] = json!(1);
    svc["timeout_seconds"] = json!(3600);
    sb.write_config(&sb.config(json!({ "api": svc })));
    beat(&sb, "api", "running");
    let _d = sb.start_daemon();
    wait_until("api watched and healthy", T, || {
        sb.status_of("api")["health"] == "healthy" && source(&sb, "api").contains("watched")
    });
    // All is well and nothing changes: no reads at all (after the one made when the watch
    // was placed, so that no change before it is missed).
    wait_until("the read at placing", T, || checks(&sb) >= 2.0);
    let before = checks(&sb);
    std::thread::sleep(Duration::from_millis(3500));
    assert_eq!(checks(&sb), before, "a quiet healthy service was read");
    // A change is read (within the interval).
    beat(&sb, "api", "error");
    wait_until("the change to be read", Duration::from_secs(10), || {
        sb.status_of("api")["health"] == "error_status"
    });
}

#[test]
fn a_silent_service_is_found_at_its_deadline_not_at_its_next_poll() {
    let sb = sandbox();
    let mut svc = sb.service("api", "--interval-ms 100");
    svc["check_interval_seconds"] = json!(60);
    svc["timeout_seconds"] = json!(2);
    svc["consecutive_failures_threshold"] = json!(1_000_000);
    sb.write_config(&sb.config(json!({ "api": svc })));
    let _d = sb.start_daemon();
    sb.ctl_ok(&["on", "api"]);
    let pid = sb.wait_healthy("api", None, T);
    wait_until("api watched", T, || source(&sb, "api").contains("watched"));
    kill(Pid::from_raw(pid as i32), Signal::SIGSTOP).unwrap();
    let stopped = Instant::now();
    wait_until("the silence to be seen", Duration::from_secs(15), || {
        sb.status_of("api")["health"] == "timed_out"
    });
    let took = stopped.elapsed();
    kill(Pid::from_raw(pid as i32), Signal::SIGCONT).unwrap();
    assert!(
        took < Duration::from_secs(10),
        "seen after {took:?}: by polling, not at its deadline"
    );
}

#[test]
fn a_folder_deleted_and_made_again_is_watched_again() {
    let sb = sandbox();
    let dir = sb.path().join("hb2");
    std::fs::create_dir(&dir).unwrap();
    let mut svc = sb.placeholder("api");
    svc["heartbeat_path"] = json!("hb2/api.json");
    svc["timeout_seconds"] = json!(3600);
    sb.write_config(&sb.config(json!({ "api": svc })));
    let write = |status: &str| {
        protocol::HeartbeatWriter::new(dir.join("api.json"), "api")
            .beat(status)
            .unwrap();
    };
    write("running");
    let _d = sb.start_daemon();
    wait_until("api watched", T, || {
        sb.status_of("api")["health"] == "healthy" && source(&sb, "api").contains("watched")
    });
    std::fs::remove_dir_all(&dir).unwrap();
    wait_until("the missing heartbeat to be seen", T, || {
        sb.status_of("api")["health"] == "no_heartbeat"
    });
    std::fs::create_dir(&dir).unwrap();
    write("running");
    wait_until("api healthy and watched again", T, || {
        sb.status_of("api")["health"] == "healthy" && source(&sb, "api").contains("watched")
    });
    // And changes in the new folder are events again.
    write("error");
    wait_until("the change to be read", T, || {
        sb.status_of("api")["health"] == "error_status"
    });
}

#[test]
fn a_heartbeat_that_is_a_symlink_is_polled_and_its_target_changes_are_seen() {
    let sb = sandbox();
    let release = sb.path().join("release-42");
    std::fs::create_dir(&release).unwrap();
    std::os::unix::fs::symlink(release.join("hb.json"), sb.heartbeat("api")).unwrap();
    let mut svc = sb.placeholder("api");
    svc["timeout_seconds"] = json!(3600);
    sb.write_config(&sb.config(json!({ "api": svc })));
    let write = |status: &str| {
        protocol::HeartbeatWriter::new(release.join("hb.json"), "api")
            .beat(status)
            .unwrap();
    };
    write("running");
    let _d = sb.start_daemon();
    wait_until("api healthy", T, || {
        sb.status_of("api")["health"] == "healthy"
    });
    wait_until("api polled, saying why", T, || {
        let s = source(&sb, "api");
        s.contains("polled every") && s.contains("symlink")
    });
    write("error");
    wait_until("the target's change to be seen", T, || {
        sb.status_of("api")["health"] == "error_status"
    });
}

#[test]
fn an_overflowed_event_queue_reads_every_watched_heartbeat() {
    let sb = sandbox();
    let mut svc = sb.placeholder("api");
    svc["check_interval_seconds"] = json!(60);
    svc["timeout_seconds"] = json!(3600);
    sb.write_config(&sb.config(json!({ "api": svc })));
    beat(&sb, "api", "running");
    let d = sb.start_daemon();
    wait_until("api watched and healthy", T, || {
        sb.status_of("api")["health"] == "healthy" && source(&sb, "api").contains("watched")
    });
    // While the daemon is stopped, far more events than the kernel queues (16384 by default)
    // pile up in the watched folder, the change that matters among them.
    kill(Pid::from_raw(d.pid()), Signal::SIGSTOP).unwrap();
    let queued: usize = std::fs::read_to_string("/proc/sys/fs/inotify/max_queued_events")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(16384);
    beat(&sb, "api", "error");
    let noise = sb.path().join("hb/noise");
    for _ in 0..queued / 2 + 100 {
        std::fs::write(&noise, b"x").unwrap();
        std::fs::remove_file(&noise).unwrap();
    }
    kill(Pid::from_raw(d.pid()), Signal::SIGCONT).unwrap();
    wait_until("the change to be read after the overflow", T, || {
        sb.status_of("api")["health"] == "error_status"
    });
    wait_until("the overflow to be logged", T, || {
        d.log().contains("overflowed")
    });
}

#[test]
fn the_exit_of_an_adopted_process_is_seen_without_waiting_for_the_next_check() {
    let sb = sandbox();
    let mut cfg = sb.config(json!({ "api": sb.service("api", "") }));
    // Checks every 30 s: only the exit watch can notice the death within the few seconds below.
    cfg["check_interval_seconds"] = json!(30);
    cfg["consecutive_failures_threshold"] = json!(1);
    sb.write_config(&cfg);
    // Started by the test, not by watchdogd: watchdogd adopts it from its heartbeat.
    let mut adopted = Command::new(env!("CARGO_BIN_EXE_wd-test-service"))
        .args([
            "--heartbeat",
            "hb/api.json",
            "--key",
            "api",
            "--starts-file",
            "api.starts",
        ])
        .current_dir(sb.path())
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let pid = adopted.id();
    wait_until(
        "the adopted service's first heartbeat",
        Duration::from_secs(10),
        || sb.heartbeat("api").exists(),
    );
    let _d = sb.start_daemon();
    sb.wait_healthy("api", None, Duration::from_secs(10));
    // The first check (at start) saw it healthy and began watching its pid.
    kill(Pid::from_raw(pid as i32), Signal::SIGKILL).unwrap();
    adopted.wait().unwrap();
    let killed = Instant::now();
    let replacement = sb.wait_healthy("api", Some(u64::from(pid)), Duration::from_secs(15));
    assert_ne!(replacement, u64::from(pid));
    assert!(
        killed.elapsed() < Duration::from_secs(10),
        "recovered long before the 30 s check"
    );
}

#[test]
fn a_stalled_iteration_is_detected() {
    let sb = sandbox();
    let beat =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../contrib/heartbeat/heartbeat.sh");
    let mut svc = sb.service("stuck", "");
    // Beats forever but never makes progress: the iteration is reset before each beat.
    svc["commands"]["start"] = json!(format!(
        ". {}; echo $$ >> stuck.starts; while :; do WATCHDOG_ITERATION=0; watchdog_beat hb/stuck.json stuck; sleep 0.1; done",
        beat.display()
    ));
    svc["stall_seconds"] = json!(1);
    svc["consecutive_failures_threshold"] = json!(1000);
    sb.write_config(&sb.config(json!({ "stuck": svc })));
    let _d = sb.start_daemon();
    sb.ctl_ok(&["on", "stuck"]);
    wait_until("stalled", T, || {
        sb.status_of("stuck")["health"] == "stalled"
    });
    let detail = sb.status_of("stuck")["detail"].as_str().unwrap().to_owned();
    assert!(detail.contains("iteration 1 has not grown"), "{detail}");
}
