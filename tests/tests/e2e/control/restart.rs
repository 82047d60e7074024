//! `restart` and `restart --wait`: the reply after another process is healthy, a failed restart
//! reported without waiting, a wait that times out, concurrent restarts sharing one pipeline.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use watchdog_tests::{alive, expect_exit};

use super::{NEVER, T, json_of, one_service, stderr};
use crate::sandbox;

#[test]
fn restart_wait_returns_once_another_process_is_healthy() {
    let (sb, _d) = one_service(None);
    let first = sb.wait_settled("api", None, T);
    sb.ctl_ok(&["restart", "api", "--wait", "--timeout", "20"]);
    // The reply came after a healthy check of the new process: no waiting needed here.
    let row = sb.status_of("api");
    assert_eq!(row["health"], "healthy", "{row}");
    let second = row["pid"].as_u64().unwrap();
    assert_ne!(second, first);
    assert!(!alive(first as i32), "the old process survived the restart");
    assert_eq!(sb.starts("api").len(), 2);
    assert_eq!(row["last_recovery"]["trigger"], "restart", "{row}");
}

#[test]
fn restart_wait_json_prints_the_restart_and_the_wait() {
    let (sb, _d) = one_service(None);
    let first = sb.wait_settled("api", None, T);
    let out = sb.ctl(&["restart", "api", "--wait", "--timeout", "20", "--json"]);
    let doc = json_of(&out, 0);
    assert_eq!(doc["restart"]["key"], "api", "{doc}");
    assert_eq!(doc["restart"]["result"], "succeeded", "{doc}");
    assert_eq!(doc["restart"]["old_pid"], first, "{doc}");
    assert_eq!(doc["wait"]["outcome"], "healthy", "{doc}");
    assert_eq!(doc["wait"]["service"]["health"], "healthy", "{doc}");
    assert_ne!(doc["wait"]["service"]["pid"], first, "{doc}");
}

#[test]
fn restart_brings_back_a_service_that_was_off() {
    let (sb, _d) = one_service(None);
    let first = sb.wait_settled("api", None, T);
    sb.ctl_ok(&["off", "api"]);
    assert_eq!(sb.status_of("api")["state"], "off");
    sb.ctl_ok(&["restart", "api", "--wait", "--timeout", "20"]);
    let row = sb.status_of("api");
    assert_eq!(
        row["state"], "running",
        "restart marks it wanted again: {row}"
    );
    assert_ne!(row["pid"], first, "{row}");
    assert_eq!(row["health"], "healthy", "{row}");
}

#[test]
fn restart_wait_reports_a_failed_restart_without_waiting() {
    let sb = sandbox();
    let mut svc = sb.service("api", "");
    svc["commands"]["start"] = json!("echo cannot start >&2; exit 7");
    svc["consecutive_failures_threshold"] = json!(NEVER);
    sb.write_config(&sb.config(json!({ "api": svc })));
    let _d = sb.start_daemon();
    let clock = Instant::now();
    let doc = json_of(
        &sb.ctl(&["restart", "api", "--wait", "--timeout", "20", "--json"]),
        1,
    );
    assert!(
        clock.elapsed() < Duration::from_secs(10),
        "waited for a service whose restart failed"
    );
    assert_eq!(doc["restart"]["result"], "failed", "{doc}");
    assert!(doc["wait"].is_null(), "{doc}");
}

#[test]
fn concurrent_restarts_share_one_pipeline() {
    let sb = sandbox();
    let mut cfg = sb.config(json!({ "api": sb.service("api", "") }));
    // A long verify_delay keeps the pipeline running while all three requests arrive.
    cfg["verify_delay"] = json!(1.5);
    sb.write_config(&cfg);
    let _d = sb.start_daemon();
    // The first start's own pipeline is over (a restart would join it, by design).
    let first = sb.wait_settled("api", None, T);
    let reports: Vec<Value> = std::thread::scope(|s| {
        let runs: Vec<_> = (0..3)
            .map(|_| s.spawn(|| json_of(&sb.ctl(&["restart", "api", "--json"]), 0)))
            .collect();
        runs.into_iter().map(|r| r.join().unwrap()).collect()
    });
    for r in &reports {
        assert_eq!(r, &reports[0], "one pipeline answers all three");
        assert_eq!(r["old_pid"], first, "{r}");
    }
    sb.wait_healthy("api", Some(first), T);
    assert_eq!(sb.starts("api").len(), 2, "one start for three restarts");
}

#[test]
fn restart_wait_fails_at_the_timeout_when_no_heartbeat_comes() {
    let sb = sandbox();
    // Starts fine (it runs past verify_delay) but never writes a heartbeat. It records its PID
    // in a starts file so the sandbox can clean it up.
    let mut svc = sb.service("mute", "");
    svc["commands"]["start"] = json!("echo $$ >> mute.starts; exec sleep 1000");
    svc["consecutive_failures_threshold"] = json!(NEVER);
    sb.write_config(&sb.config(json!({ "mute": svc })));
    let _d = sb.start_daemon();
    let clock = Instant::now();
    let out = sb.ctl(&["restart", "mute", "--wait", "--timeout", "2"]);
    let took = clock.elapsed();
    expect_exit(&out, 1, "watchdogctl");
    assert!(
        stderr(&out).contains("mute not healthy after 2s"),
        "{}",
        stderr(&out)
    );
    assert!(
        took >= Duration::from_millis(1500) && took < Duration::from_secs(10),
        "returned after {took:?}, not at the 2 s timeout"
    );
    assert_eq!(sb.starts("mute").len(), 1, "the restart's start did run");
}
