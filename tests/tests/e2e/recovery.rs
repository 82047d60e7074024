//! Monitoring and recovery: crashes, hangs, error statuses, thresholds and pipeline semantics
//! (a failed start stops it, a failed or hanging cleanup warns and it goes on, `off` cancels
//! the rest, concurrent requests never start a service twice), and what commands are given
//! (the watchdog environment, their output in the logs).

use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::json;
use watchdog_tests::{alive, expect_exit, wait_until};

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

#[test]
fn a_hanging_cleanup_is_killed_at_its_timeout_and_the_pipeline_goes_on() {
    let sb = sandbox();
    let pidfile = sb.path().join("cleanup.pid");
    let mut svc = sb.service("api", "");
    svc["commands"]["clear_db"] =
        json!(format!("echo $$ > {}; sleep 1000; true", pidfile.display()));
    svc["recovery_actions"] = json!(["kill", "clear_db", "start"]);
    let mut cfg = sb.config(json!({ "api": svc }));
    cfg["cleanup_timeout"] = json!(1);
    sb.write_config(&cfg);
    let _d = sb.start_daemon();
    let started = Instant::now();
    let out = sb.ctl_ok(&["restart", "api", "--json"]);
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    let steps = report["steps"].as_array().unwrap();
    assert_eq!(steps[1]["outcome"], "warned", "{report}");
    assert!(
        steps[1]["message"].as_str().unwrap().contains("timeout"),
        "{report}"
    );
    assert_eq!(steps[2]["outcome"], "ok");
    assert!(started.elapsed() < Duration::from_secs(10));
    let pid: i32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    wait_until("the hung cleanup to be gone", T, || !alive(pid));
    sb.wait_healthy("api", None, T);
}

#[test]
fn concurrent_restarts_never_start_the_service_twice_at_once() {
    let sb = sandbox();
    let log = sb.path().join("starts.log");
    let mut svc = sb.service("api", "");
    let run = sb.service_cmd("api", "");
    svc["commands"]["start"] = json!(format!(
        "echo begin >> {log}; sleep 0.3; echo end >> {log}; {run}",
        log = log.display()
    ));
    sb.write_config(&sb.config(json!({ "api": svc })));
    let _d = sb.start_daemon();
    let socket = sb.socket();
    let handles: Vec<_> = (0..5)
        .map(|_| {
            let socket = socket.clone();
            std::thread::spawn(move || {
                watchdog_tests::ctl_at(&socket, &["restart", "api"])
                    .status
                    .code()
            })
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap(), Some(0));
    }
    sb.wait_healthy("api", None, T);
    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(!lines.is_empty() && lines.len() <= 10, "{lines:?}");
    for pair in lines.chunks(2) {
        assert_eq!(pair, ["begin", "end"], "two starts overlapped: {lines:?}");
    }
}

#[test]
fn off_during_a_recovery_cancels_the_rest_and_leaves_it_stopped() {
    let sb = sandbox();
    let mut svc = sb.service("api", "");
    svc["commands"]["clear_db"] = json!("sleep 3; true");
    svc["recovery_actions"] = json!(["kill", "clear_db", "start"]);
    sb.write_config(&sb.config(json!({ "api": svc })));
    let _d = sb.start_daemon();
    sb.ctl_ok(&["on", "api"]);
    let pid = sb.wait_healthy("api", None, T);
    let socket = sb.socket();
    let restart =
        std::thread::spawn(move || watchdog_tests::ctl_at(&socket, &["restart", "api", "--json"]));
    wait_until("the recovery to run", T, || {
        sb.status_of("api")["state"] == "recovering"
    });
    sb.ctl_ok(&["off", "api"]);
    let restart = expect_exit(
        &restart.join().unwrap(),
        1,
        "the cancelled restart reports failure",
    );
    let report: serde_json::Value = serde_json::from_str(&restart.stdout).unwrap();
    assert!(
        report["steps"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["action"] != "start"),
        "{report}"
    );
    let row = sb.status_of("api");
    assert_eq!(row["state"], "off");
    assert!(!alive(pid as i32));
    assert_eq!(sb.starts("api").len(), 1, "start never ran after off");
}

#[test]
fn commands_get_the_watchdog_environment_and_output_goes_to_the_logs() {
    let sb = sandbox();
    let envfile = sb.path().join("env.txt");
    let mut svc = sb.service("api", "");
    let run = sb.service_cmd("api", "");
    svc["commands"]["start"] = json!(format!(
        "echo started-$WATCHDOG_PROCESS_KEY; echo oops >&2; {run}"
    ));
    svc["commands"]["clear_db"] = json!(format!(
        "env | grep -E '^(WATCHDOG_|DEPLOY_)' | sort > {}; true",
        envfile.display()
    ));
    svc["recovery_actions"] = json!(["kill", "clear_db", "start"]);
    svc["env"] = json!({ "DEPLOY_ENV": "staging" });
    svc["stdout_log"] = json!("logs/api.out");
    svc["stderr_log"] = json!("logs/api.err");
    let mut cfg = sb.config(json!({ "api": svc }));
    cfg["consecutive_failures_threshold"] = json!(1);
    sb.write_config(&cfg);
    let _d = sb.start_daemon();
    sb.ctl_ok(&["on", "api"]);
    let first = sb.wait_healthy("api", None, T);
    kill(Pid::from_raw(first as i32), Signal::SIGKILL).unwrap();
    sb.wait_healthy("api", Some(first), T);
    let env = std::fs::read_to_string(&envfile).unwrap();
    for want in [
        "DEPLOY_ENV=staging".to_owned(),
        "WATCHDOG_HEALTH=stale_pid".to_owned(),
        "WATCHDOG_PROCESS_KEY=api".to_owned(),
        format!("WATCHDOG_PID={first}"),
        "WATCHDOG_FAILURES=1".to_owned(),
    ] {
        assert!(env.lines().any(|l| l == want), "missing {want} in:\n{env}");
    }
    let out = std::fs::read_to_string(sb.path().join("logs/api.out")).unwrap();
    assert_eq!(out, "started-api\nstarted-api\n");
    let err = std::fs::read_to_string(sb.path().join("logs/api.err")).unwrap();
    assert_eq!(err.lines().count(), 2);
}
