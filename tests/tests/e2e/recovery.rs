//! Monitoring and recovery: crashes, hangs, error statuses, thresholds and pipeline semantics.

use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::json;
use watchdog_tests::{alive, wait_until};

use crate::sandbox;

const T: Duration = Duration::from_secs(20);

#[test]
fn a_crashed_service_is_restarted() {
    let sb = sandbox();
    sb.write_config(&sb.config(json!({ "api": sb.service("api", "") })));
    let _d = sb.start_daemon();
    let first = sb.wait_healthy("api", None, T);
    kill(Pid::from_raw(first as i32), Signal::SIGKILL).unwrap();
    // Settled: failures are reset when the recovery pipeline ends, not at the first good beat.
    let second = sb.wait_settled("api", Some(first), T);
    assert_ne!(first, second);
    assert!(!alive(first as i32));
    let row = sb.status_of("api");
    assert_eq!(row["last_recovery"]["trigger"], "automatic");
    assert_eq!(row["consecutive_failures"], 0);
}

#[test]
fn a_hung_service_is_killed_and_replaced() {
    let sb = sandbox();
    sb.write_config(&sb.config(json!({ "api": sb.service("api", "") })));
    let _d = sb.start_daemon();
    let first = sb.wait_healthy("api", None, T);
    kill(Pid::from_raw(first as i32), Signal::SIGSTOP).unwrap();
    let second = sb.wait_healthy("api", Some(first), T);
    assert_ne!(first, second);
    wait_until("the hung process to be gone", T, || !alive(first as i32));
}

#[test]
fn an_error_status_is_recovered_and_cleanup_runs() {
    let sb = sandbox();
    let flag = sb.path().join("status");
    let mut svc = sb.service("api", &format!("--status-file {}", flag.display()));
    svc["commands"]["clear_db"] = json!(format!("rm -f {}", flag.display()));
    svc["recovery_actions"] = json!(["kill", "clear_db", "start"]);
    sb.write_config(&sb.config(json!({ "api": svc })));
    let _d = sb.start_daemon();
    let first = sb.wait_healthy("api", None, T);
    std::fs::write(&flag, "degraded").unwrap();
    wait_until("error_status to be seen", T, || {
        let row = sb.status_of("api");
        row["health"] == "error_status" || row["pid"].as_u64() != Some(first)
    });
    let second = sb.wait_healthy("api", Some(first), T);
    assert_ne!(first, second);
    assert!(!flag.exists(), "the clear_db action ran with the pipeline");
}

#[test]
fn no_recovery_before_the_threshold() {
    let sb = sandbox();
    let mut cfg = sb.config(json!({ "api": sb.service("api", "") }));
    cfg["processes"]["api"]["consecutive_failures_threshold"] = json!(4);
    cfg["processes"]["api"]["check_interval_seconds"] = json!(0.3);
    sb.write_config(&cfg);
    let _d = sb.start_daemon();
    sb.ctl_ok(&["start-all"]);
    let first = sb.wait_healthy("api", None, T);
    kill(Pid::from_raw(first as i32), Signal::SIGKILL).unwrap();
    wait_until("three counted failures", T, || {
        sb.status_of("api")["consecutive_failures"] == 3
    });
    assert_eq!(sb.starts("api").len(), 1, "restarted before the threshold");
    sb.wait_healthy("api", Some(first), T);
    assert_eq!(sb.starts("api").len(), 2);
}

#[test]
fn a_failing_cleanup_warns_and_the_pipeline_goes_on() {
    let sb = sandbox();
    let mut svc = sb.service("api", "");
    svc["commands"]["clear_db"] = json!("echo cannot clear >&2; exit 3");
    svc["recovery_actions"] = json!(["kill", "clear_db", "start"]);
    sb.write_config(&sb.config(json!({ "api": svc })));
    let _d = sb.start_daemon();
    // Settled, so the restart does not join the first start's pipeline.
    let first = sb.wait_settled("api", None, T);
    let out = sb.ctl_ok(&["restart", "api", "--json"]);
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["result"], "warned");
    let steps = report["steps"].as_array().unwrap();
    let outcomes: Vec<_> = steps
        .iter()
        .map(|s| {
            (
                s["action"].as_str().unwrap(),
                s["outcome"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        outcomes,
        [("kill", "ok"), ("clear_db", "warned"), ("start", "ok")]
    );
    assert!(
        steps[1]["message"]
            .as_str()
            .unwrap()
            .contains("cannot clear"),
        "{report}"
    );
    sb.wait_healthy("api", Some(first), T);
}

#[test]
fn a_failing_start_stops_the_pipeline_and_is_reported() {
    let sb = sandbox();
    let marker = sb.path().join("after-start-ran");
    let mut svc = sb.service("api", "");
    svc["commands"]["start"] = json!("echo no such binary >&2; exit 7");
    svc["commands"]["notify"] = json!(format!("touch {}", marker.display()));
    svc["recovery_actions"] = json!(["kill", "start", "notify"]);
    sb.write_config(&sb.config(json!({ "api": svc })));
    let _d = sb.start_daemon();
    let out = sb.ctl_printed(&["restart", "api", "--json"], 1);
    let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(report["result"], "failed");
    let steps = report["steps"].as_array().unwrap();
    assert_eq!(
        steps.len(),
        2,
        "nothing runs after a failed start: {report}"
    );
    assert_eq!(steps[1]["outcome"], "failed");
    assert!(
        steps[1]["message"]
            .as_str()
            .unwrap()
            .contains("exit status: 7"),
        "{report}"
    );
    assert!(!marker.exists());
    assert!(out.stderr.contains("start failed"), "{}", out.stderr);
}
