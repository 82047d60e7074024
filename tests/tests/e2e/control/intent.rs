//! What the operator wants running: `on` (and a healthy service left alone), `off` (stays off,
//! across a daemon restart or crash), `off --for` a maintenance window that ends by itself.

use serde_json::json;
use watchdog_tests::{alive, expect_exit, wait_until};

use super::{NEVER, QUIET, T, json_of, one_service, stdout};
use crate::sandbox;

#[test]
fn on_starts_a_service_and_skips_a_healthy_one() {
    let (sb, _d) = one_service(Some(NEVER));
    assert!(sb.starts("api").is_empty(), "started without being asked");
    let report = json_of(&sb.ctl(&["on", "api", "--json"]), 0);
    assert_eq!(report["result"], "succeeded", "{report}");
    let pid = sb.wait_healthy("api", None, T);
    assert_eq!(sb.starts("api"), [pid as i32]);

    let again = sb.ctl(&["on", "api"]);
    expect_exit(&again, 0, "watchdogctl");
    assert!(
        stdout(&again).contains("already running"),
        "{}",
        stdout(&again)
    );
    let report = json_of(&sb.ctl(&["on", "api", "--json"]), 0);
    assert_eq!(report["result"], "skipped", "{report}");
    assert_eq!(
        sb.starts("api").len(),
        1,
        "a healthy service was started again"
    );
    assert!(alive(pid as i32));
}

/// Fails today: a second `on` while the first one's process is still starting (inside its
/// start grace, not beating yet) kills that process and starts another, so a deploy script
/// that says `on` twice, or `start-all` then `on`, restarts a slow service mid-boot.
#[test]
fn a_second_on_leaves_a_starting_service_alone() {
    let sb = sandbox();
    let mut svc = sb.service("slow", "");
    // Boots for a second before its first heartbeat, well inside its start grace. Each start
    // shell records its PID at once (in a starts file, so the sandbox kills it in any case).
    svc["commands"]["start"] = json!(format!(
        "echo $$ >> shells.starts; sleep 1; {}",
        sb.service_cmd("slow", "")
    ));
    svc["start_grace_seconds"] = json!(10);
    svc["consecutive_failures_threshold"] = json!(NEVER);
    sb.write_config(&sb.config(json!({ "slow": svc })));
    let _d = sb.start_daemon();
    sb.ctl_ok(&["on", "slow"]);
    assert_eq!(sb.status_of("slow")["state"], "starting");
    let out = sb.ctl(&["on", "slow", "--json"]);
    let report = json_of(&out, 0);
    let pid = sb.wait_healthy("slow", None, T);
    assert_eq!(
        sb.starts("shells"),
        [pid as i32],
        "the starting process was replaced: {report}"
    );
}

#[test]
fn off_stops_a_service_and_it_stays_stopped_until_on() {
    let (sb, _d) = one_service(None);
    let pid = sb.wait_settled("api", None, T);
    sb.ctl_ok(&["off", "api"]);
    wait_until("the service process to be gone", T, || !alive(pid as i32));
    wait_until("state stopped", T, || sb.status_of("api")["state"] == "off");
    let starts = sb.starts("api").len();

    // A negative: nothing may bring it back while it is off.
    std::thread::sleep(QUIET);
    assert_eq!(sb.starts("api").len(), starts, "restarted while off");
    let row = sb.status_of("api");
    assert_eq!(row["state"], "off", "{row}");
    assert_ne!(row["health"], "healthy", "{row}");

    sb.ctl_ok(&["on", "api"]);
    let back = sb.wait_healthy("api", Some(pid), T);
    assert_eq!(sb.starts("api").len(), starts + 1);
    assert_eq!(sb.status_of("api")["state"], "running");
    assert!(alive(back as i32));
}

#[test]
fn off_survives_a_daemon_restart() {
    let sb = sandbox();
    sb.write_config(&sb.config(json!({ "api": sb.service("api", "") })));
    let mut first = sb.start_daemon();
    let pid = sb.wait_settled("api", None, T);
    sb.ctl_ok(&["off", "api"]);
    wait_until("the service process to be gone", T, || !alive(pid as i32));
    assert_eq!(first.stop(), Some(0), "{}", first.log());
    let starts = sb.starts("api").len();

    let _second = sb.start_daemon();
    // Wait for the new daemon's first check, so the negative below covers checks it made.
    wait_until("a check by the new daemon", T, || {
        !sb.status_of("api")["health"].is_null()
    });
    // A negative: the new daemon must remember the intent and not start the service.
    std::thread::sleep(QUIET);
    let row = sb.status_of("api");
    assert_eq!(row["state"], "off", "{row}");
    assert_eq!(sb.starts("api").len(), starts, "started by the new daemon");
}

#[test]
fn off_survives_a_daemon_crash() {
    // `off` is answered only once its intent is in the database, so even a SIGKILL right after
    // the reply cannot lose it.
    let sb = sandbox();
    sb.write_config(&sb.config(json!({ "api": sb.service("api", "") })));
    let mut first = sb.start_daemon();
    let pid = sb.wait_settled("api", None, T);
    sb.ctl_ok(&["off", "api"]);
    first.crash();
    assert!(!alive(pid as i32));
    let starts = sb.starts("api").len();

    let _second = sb.start_daemon();
    wait_until("a check by the new daemon", T, || {
        !sb.status_of("api")["health"].is_null()
    });
    // A negative, as in `off_survives_a_daemon_restart`.
    std::thread::sleep(QUIET);
    assert_eq!(sb.status_of("api")["state"], "off");
    assert_eq!(sb.starts("api").len(), starts, "started by the new daemon");
}

#[test]
fn off_for_a_window_turns_the_service_back_on_by_itself() {
    let sb = sandbox();
    sb.write_config(&sb.config(json!({ "api": sb.service("api", "") })));
    let _d = sb.start_daemon();
    sb.ctl_ok(&["on", "api"]);
    let first = sb.wait_healthy("api", None, T);
    sb.ctl_ok(&["off", "api", "--for", "2s"]);
    let row = sb.status_of("api");
    assert_eq!(row["state"], "off");
    assert!(row["off_until"].is_string(), "{row}");
    assert!(
        stdout(&sb.ctl(&["status"])).contains("until"),
        "the window shows in the table"
    );
    let back = sb.wait_healthy("api", Some(first), T);
    assert_ne!(back, first);
    assert!(sb.status_of("api")["off_until"].is_null());
    wait_until("both ends of the window in the audit log", T, || {
        !crate::audit_events(&sb.path().join("wd.db"), "maintenance_started").is_empty()
            && !crate::audit_events(&sb.path().join("wd.db"), "maintenance_over").is_empty()
    });
    sb.ctl_exit(&["off", "api", "--for", "soon"], 2);
}
