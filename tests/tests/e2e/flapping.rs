//! Flap protection: a service that keeps failing is given up on, stays given up across a daemon
//! restart, and is still retried with backoff; its `on_give_up` hook runs once.

use std::time::Duration;

use serde_json::json;
use watchdog_tests::wait_until;

use crate::sandbox;

const T: Duration = Duration::from_secs(20);

#[test]
fn a_crash_looping_service_gives_up_and_stays_given_up_across_a_restart() {
    let sb = sandbox();
    let hook_log = sb.path().join("hook.log");
    let mut cfg =
        sb.config(json!({ "loop": sb.service("loop", "--exit-after-ms 300 --interval-ms 50") }));
    cfg["consecutive_failures_threshold"] = json!(1);
    cfg["max_restarts"] = json!(3);
    cfg["restart_window_seconds"] = json!(120);
    cfg["backoff_max_seconds"] = json!(0);
    cfg["on_give_up"] = json!(format!(
        "echo \"$WATCHDOG_PROCESS_KEY $WATCHDOG_HEALTH\" >> {}",
        hook_log.display()
    ));
    sb.write_config(&cfg);
    let mut d = sb.start_daemon();
    sb.ctl_ok(&["on", "loop"]);
    wait_until("gave_up", T, || sb.status_of("loop")["state"] == "gave_up");
    let starts = sb.starts("loop").len();
    assert_eq!(starts, 4, "one `on` plus max_restarts automatic recoveries");
    wait_until("the hook to run", T, || hook_log.exists());
    d.stop();
    let _d = sb.start_daemon();
    assert_eq!(
        sb.status_of("loop")["state"],
        "gave_up",
        "gave_up survives a daemon restart"
    );
    // A negative over a short period: nothing restarts a given-up service with no backoff.
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(sb.starts("loop").len(), starts);
    assert_eq!(
        std::fs::read_to_string(&hook_log).unwrap(),
        "loop stale_pid\n",
        "on_give_up ran once"
    );
    sb.ctl_ok(&["restart", "loop"]);
    assert_ne!(
        sb.status_of("loop")["state"],
        "gave_up",
        "restart clears gave_up"
    );
    assert_eq!(sb.starts("loop").len(), starts + 1);
}

#[test]
fn backoff_keeps_trying_but_the_hook_runs_once() {
    let sb = sandbox();
    let hook_log = sb.path().join("hook.log");
    let mut cfg =
        sb.config(json!({ "loop": sb.service("loop", "--exit-after-ms 200 --interval-ms 50") }));
    cfg["consecutive_failures_threshold"] = json!(1);
    cfg["max_restarts"] = json!(2);
    cfg["backoff_max_seconds"] = json!(0.5);
    cfg["processes"]["loop"]["on_give_up"] =
        json!(format!("echo gave-up >> {}", hook_log.display()));
    sb.write_config(&cfg);
    let _d = sb.start_daemon();
    sb.ctl_ok(&["on", "loop"]);
    wait_until("two backoff attempts after giving up", T, || {
        sb.starts("loop").len() >= 5
    });
    let row = sb.status_of("loop");
    assert!(
        row["state"] == "gave_up" || row["state"] == "recovering",
        "{row}"
    );
    assert_eq!(std::fs::read_to_string(&hook_log).unwrap(), "gave-up\n");
}
