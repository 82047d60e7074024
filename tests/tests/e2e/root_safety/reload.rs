//! Reload mid-pipeline: removing a key whose pipeline runs cancels that pipeline at a safe
//! point, closes its row and tells its caller the truth; adding the key back never starts a
//! second instance while the first lives.

use std::process::Stdio;

use serde_json::json;
use watchdog_tests::{alive, expect_exit, wait_until};

use super::T;

#[test]
fn a_key_removed_while_its_pipeline_runs_gets_a_true_answer_and_no_twin() {
    let sb = crate::sandbox();
    let mut svc = sb.service("api", "");
    svc["commands"]["slow"] = json!("sleep 3; :");
    svc["recovery_actions"] = json!(["kill", "slow", "start"]);
    let with = sb.config(json!({ "api": svc, "other": sb.placeholder("other") }));
    let without = sb.config(json!({ "other": sb.placeholder("other") }));
    sb.write_config(&with);
    let d = sb.start_daemon();
    sb.ctl_ok(&["restart", "api", "--wait"]);
    let first = sb.wait_settled("api", None, T);
    // A restart whose slow cleanup is running when the key goes.
    let mut cmd = watchdog_tests::ctl_command();
    cmd.arg("--socket")
        .arg(sb.socket())
        .args(["restart", "api", "--wait"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let restart = cmd.spawn().unwrap();
    wait_until("the restart to be running", T, || {
        sb.status_of("api")["state"] == "recovering"
    });
    sb.write_config(&without);
    sb.ctl_ok(&["reload"]);
    let err = expect_exit(
        &restart.wait_with_output().unwrap(),
        1,
        format_args!("the restart of a removed service\n{}", d.log()),
    )
    .stderr;
    assert!(err.contains("removed from the config by a reload"), "{err}");
    assert!(!err.contains("shutting down"), "{err}");
    let conn = rusqlite::Connection::open(sb.path().join("wd.db")).unwrap();
    let running: i64 = conn
        .query_row(
            "SELECT count(*) FROM recovery_runs WHERE result = 'running'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(running, 0, "a run row left open");
    // Back in the config: one instance, never two at once.
    sb.write_config(&with);
    sb.ctl_ok(&["reload"]);
    sb.ctl_ok(&["restart", "api", "--wait"]);
    let one_alive = || sb.starts("api").into_iter().filter(|&p| alive(p)).count() == 1;
    wait_until("one instance alive", T, one_alive);
    // Removed and added back while its pipeline still runs: the pipeline is taken over by
    // the key's return, and it still ends with one instance.
    let mut restart = watchdog_tests::ctl_command();
    restart
        .arg("--socket")
        .arg(sb.socket())
        .args(["restart", "api", "--wait", "--timeout", "30"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let restart = restart.spawn().unwrap();
    wait_until("the restart to be running", T, || {
        sb.status_of("api")["state"] == "recovering"
    });
    sb.write_config(&without);
    sb.ctl_ok(&["reload"]);
    sb.write_config(&with);
    sb.ctl_ok(&["reload"]);
    let out = restart.wait_with_output().unwrap();
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    sb.ctl_ok(&["restart", "api", "--wait", "--timeout", "30"]);
    wait_until("one instance alive", T, one_alive);
    for _ in 0..10 {
        let live: Vec<i32> = sb.starts("api").into_iter().filter(|&p| alive(p)).collect();
        assert_eq!(
            live.len(),
            1,
            "instances alive: {live:?} (first was {first})"
        );
        sb.ctl_ok(&["status"]);
    }
}
