//! The mechanisms that make watchdogd cheap at scale still get every fact right: a process's
//! exit is seen at once even when watchdogd did not start it (pidfd), and sampling healthy
//! checks in the audit log keeps every state change.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::json;
use watchdog_tests::wait_until;

use crate::sandbox;

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
fn sampled_healthy_checks_keep_every_state_change() {
    let sb = sandbox();
    let mut cfg = sb.config(json!({ "api": sb.service("api", "") }));
    cfg["healthy_sample_seconds"] = json!(3600);
    cfg["check_interval_seconds"] = json!(0.1);
    sb.write_config(&cfg);
    let _d = sb.start_daemon();
    sb.ctl_ok(&["on", "api"]);
    let first = sb.wait_healthy("api", None, Duration::from_secs(20));
    kill(Pid::from_raw(first as i32), Signal::SIGKILL).unwrap();
    sb.wait_healthy("api", Some(first), Duration::from_secs(20));
    // Several dozen healthy checks pass at 0.1 s; few of them may be written.
    std::thread::sleep(Duration::from_millis(1500));
    let conn = rusqlite::Connection::open(sb.path().join("wd.db")).unwrap();
    let healths: Vec<String> = conn
        .prepare("SELECT health FROM check_history WHERE process_key = 'api' ORDER BY id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let changes = healths.windows(2).filter(|w| w[0] != w[1]).count();
    assert!(
        healths.contains(&"stale_pid".to_owned()),
        "the failure is kept: {healths:?}"
    );
    assert!(
        changes >= 2,
        "healthy → unhealthy → healthy all recorded: {healths:?}"
    );
    let healthy_rows = healths.iter().filter(|h| *h == "healthy").count();
    assert!(
        healthy_rows <= 4,
        "healthy checks are sampled, not all written: {healths:?}"
    );
    let checks: f64 = String::from_utf8_lossy(&sb.ctl(&["metrics"]).stdout)
        .lines()
        .find_map(|l| {
            l.strip_prefix("watchdogd_checks_total ")
                .map(|v| v.trim().parse().unwrap())
        })
        .unwrap();
    assert!(
        checks > 12.0 && checks > 2.0 * healths.len() as f64,
        "many more checks ran ({checks}) than rows were written ({})",
        healths.len()
    );
}
