//! Crash-only state: `kill -9` of watchdogd at any moment costs nothing (services keep their
//! PIDs, intent and counters survive, a pipeline cut off is recorded and re-evaluated), and the
//! store's faults (a locked or unwritable database) cost audit rows, never supervision.

use std::path::Path;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::json;
use watchdog_tests::{alive, wait_until};

use crate::sandbox;

const T: Duration = Duration::from_secs(20);

fn count(db: &Path, sql: &str) -> i64 {
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.query_row(sql, [], |r| r.get(0)).unwrap()
}

#[test]
fn kill_9_and_a_start_keep_pids_intent_and_counters() {
    let sb = sandbox();
    let mut failing = sb.service("failing", "");
    failing["commands"]["start"] = json!("true");
    failing["timeout_seconds"] = json!(30);
    failing["consecutive_failures_threshold"] = json!(1_000_000);
    let mut looping = sb.service("looping", "--exit-after-ms 300 --interval-ms 50");
    looping["consecutive_failures_threshold"] = json!(1);
    looping["max_restarts"] = json!(1);
    looping["backoff_max_seconds"] = json!(0);
    sb.write_config(&sb.config(json!({
        "api": sb.service("api", ""),
        "parked": sb.service("parked", ""),
        "failing": failing,
        "looping": looping,
    })));
    let mut d = sb.start_daemon();
    sb.ctl_ok(&["off", "parked"]);
    let pid = sb.wait_healthy("api", None, T);
    wait_until("looping to give up", T, || {
        sb.status_of("looping")["state"] == "gave_up"
    });
    wait_until("failures to be counted", T, || {
        sb.status_of("failing")["consecutive_failures"].as_u64() >= Some(3)
    });

    d.crash();
    let db = sb.path().join("wd.db");
    // What the dead daemon managed to commit is what the next one starts from.
    let saved = count(
        &db,
        "SELECT consecutive_failures FROM process_state WHERE process_key = 'failing'",
    );
    assert!(saved > 0, "no failure count was saved");
    let starts = |k| sb.starts(k).len();
    let before = (starts("api"), starts("looping"), starts("parked"));

    let _d = sb.start_daemon();
    wait_until("the first checks of the new daemon", T, || {
        sb.status().iter().all(|r| !r["health"].is_null())
    });
    assert!(
        sb.status_of("failing")["consecutive_failures"].as_i64() > Some(saved),
        "the failure count restarted from zero"
    );
    // A negative, watched over several check intervals (0.2 s, threshold 2): nothing restarts.
    std::thread::sleep(Duration::from_millis(1500));
    let api = sb.status_of("api");
    assert_eq!(api["health"], "healthy", "{api}");
    assert_eq!(api["pid"], pid, "{api}");
    assert!(alive(pid as i32));
    assert_eq!(sb.status_of("parked")["state"], "off", "intent lost");
    assert_eq!(sb.status_of("looping")["state"], "gave_up", "gave_up lost");
    assert_eq!(
        (starts("api"), starts("looping"), starts("parked")),
        before,
        "something was restarted needlessly"
    );
}

#[test]
fn a_pipeline_cut_off_by_a_crash_is_recorded_and_re_evaluated() {
    let sb = sandbox();
    let slow = sb.path().join("slow");
    let mut svc = sb.service("api", "");
    // The cleanup is slow only once the test asks (the daemon's own first start of the service
    // goes through the same pipeline), and then logs its PID in a starts file so that the
    // sandbox kills it at the end.
    svc["commands"]["clear_db"] = json!(format!(
        "if [ -e {} ]; then echo $$ >> cleanup.starts; sleep 10; fi; true",
        slow.display()
    ));
    svc["recovery_actions"] = json!(["kill", "clear_db", "start"]);
    let mut cfg = sb.config(json!({ "api": svc }));
    cfg["cleanup_timeout"] = json!(30);
    sb.write_config(&cfg);
    let mut d = sb.start_daemon();
    let pid = sb.wait_healthy("api", None, T);
    wait_until("the first start's pipeline to end", T, || {
        sb.status_of("api")["state"] == "running"
    });
    std::fs::write(&slow, "").unwrap();
    let socket = sb.socket();
    let restart = std::thread::spawn(move || watchdog_tests::ctl_at(&socket, &["restart", "api"]));
    wait_until("the recovery to run", T, || {
        sb.status_of("api")["state"] == "recovering"
    });
    wait_until("the kill step to finish", T, || !alive(pid as i32));
    wait_until("the cleanup to start", T, || {
        !sb.starts("cleanup").is_empty()
    });
    d.crash();
    assert_ne!(
        restart.join().unwrap().status.code(),
        Some(0),
        "the restart cannot have succeeded"
    );
    std::fs::remove_file(&slow).unwrap(); // the next recovery's cleanup is quick

    let _d = sb.start_daemon();
    let db = sb.path().join("wd.db");
    wait_until("the interrupted run in the audit log", T, || {
        count(
            &db,
            "SELECT COUNT(*) FROM recovery_runs WHERE process_key = 'api' AND result = 'interrupted'",
        ) == 1
            && count(
                &db,
                "SELECT COUNT(*) FROM audit_events WHERE kind = 'pipeline_interrupted'",
            ) == 1
    });
    // The service lost its process to the cut-off pipeline; the new daemon sees that and
    // recovers it on its own.
    sb.wait_healthy("api", Some(pid), T);
}

#[test]
fn a_locked_database_does_not_stop_recovery() {
    let sb = sandbox();
    sb.write_config(&sb.config(json!({ "api": sb.service("api", "") })));
    let d = sb.start_daemon();
    let first = sb.wait_healthy("api", None, T);

    let mut lock = rusqlite::Connection::open(sb.path().join("wd.db")).unwrap();
    let tx = lock
        .transaction_with_behavior(rusqlite::TransactionBehavior::Exclusive)
        .unwrap();
    let locked_at = Instant::now();
    kill(Pid::from_raw(first as i32), Signal::SIGKILL).unwrap();
    sb.wait_healthy("api", Some(first), T);
    let took = locked_at.elapsed();
    // Hold the lock well past the store's 5 s busy timeout, so that a write fails for good.
    let hold = Duration::from_secs(7);
    std::thread::sleep(hold.saturating_sub(took));
    tx.commit().unwrap();
    assert!(
        took < hold,
        "recovered only after {took:?}, not while the database was locked"
    );

    let text = sb.ctl_ok(&["status"]);
    assert!(
        text.contains("audit rows dropped") || d.log().contains("cannot write audit rows"),
        "neither status nor the log tells of the failed writes:\n{text}\n{}",
        d.log()
    );
    // Monitoring goes on after the lock is gone.
    let second = sb.status_of("api")["pid"].as_u64().unwrap();
    kill(Pid::from_raw(second as i32), Signal::SIGKILL).unwrap();
    sb.wait_healthy("api", Some(second), T);
}

#[test]
fn an_unwritable_database_does_not_stop_supervision() {
    let sb = sandbox();
    let mut cfg = sb.config(json!({ "api": sb.service("api", "") }));
    // Not creatable by anyone, root included.
    cfg["db_path"] = json!("/proc/nonexistent/wd.db");
    sb.write_config(&cfg);
    let d = sb.start_daemon();
    let first = sb.wait_healthy("api", None, T);
    kill(Pid::from_raw(first as i32), Signal::SIGKILL).unwrap();
    sb.wait_healthy("api", Some(first), T);
    let text = sb.ctl_ok(&["status"]);
    assert!(text.contains("audit rows dropped"), "{text}");
    assert!(d.log().contains("/proc/nonexistent/wd.db"), "{}", d.log());
}
