//! A storm of recoveries: every service fails at once, more than `max_parallel_recoveries`
//! may recover together. The rest wait in order and show as `queued`, no more than the bound
//! run at once, all of them end healthy, and the control socket answers throughout.

use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::json;
use watchdog_tests::wait_until;

use crate::sandbox;

const N: usize = 24;
const BOUND: usize = 3;

#[test]
fn a_storm_beyond_the_bound_queues_the_rest_and_recovers_them_all() {
    let sb = sandbox();
    let mut processes = serde_json::Map::new();
    for i in 0..N {
        let key = format!("s{i}");
        let mut svc = sb.service(&key, "");
        // A start that takes a moment, so that the storm's pipelines overlap.
        svc["commands"]["start"] = json!(format!("sleep 0.3; {}", sb.service_cmd(&key, "")));
        processes.insert(key, svc);
    }
    let mut cfg = sb.config(serde_json::Value::Object(processes));
    cfg["max_parallel_recoveries"] = json!(BOUND);
    cfg["consecutive_failures_threshold"] = json!(1);
    sb.write_config(&cfg);
    let _d = sb.start_daemon();
    sb.ctl_ok(&["start-all"]);
    let pids: Vec<u64> = (0..N)
        .map(|i| sb.wait_healthy(&format!("s{i}"), None, Duration::from_secs(60)))
        .collect();
    // Every service dies at once.
    for &pid in &pids {
        let _ = kill(Pid::from_raw(pid as i32), Signal::SIGKILL);
    }
    let (mut most_running, mut queued_seen) = (0usize, false);
    wait_until("every service recovered", Duration::from_secs(90), || {
        // Each look is a status call: the socket answers while the storm runs.
        let rows = sb.status();
        let running = rows.iter().filter(|r| r["state"] == "recovering").count();
        most_running = most_running.max(running);
        queued_seen |= rows.iter().any(|r| r["state"] == "queued");
        let metrics = sb.ctl_ok(&["metrics"]);
        let gauge = metrics
            .lines()
            .find_map(|l| l.strip_prefix("watchdogd_pipelines_running "))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .unwrap_or(0.0);
        assert!(gauge <= BOUND as f64, "{gauge} pipelines at once");
        rows.iter().all(|r| {
            r["health"] == "healthy" && r["pid"].as_u64().is_some_and(|p| !pids.contains(&p))
        })
    });
    assert!(most_running <= BOUND, "{most_running} recovering at once");
    assert!(queued_seen, "nothing was ever shown as queued");
}
