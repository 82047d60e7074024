//! The audit log and what reads it: every check, state change and recovery is written (healthy
//! checks sampled, state changes never), `history` lists them with each recovery's steps, and
//! `events --follow` streams them live to several followers at once.

use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::{Value, json};
use watchdog_tests::{Follower, wait_until};

use crate::sandbox;

const T: Duration = Duration::from_secs(20);

#[test]
fn history_lists_checks_and_recoveries_with_their_steps() {
    let sb = sandbox();
    sb.write_config(
        &sb.config(json!({ "api": sb.service("api", ""), "db": sb.service("db", "") })),
    );
    let _d = sb.start_daemon();
    sb.ctl_ok(&["on", "api"]);
    let first = sb.wait_healthy("api", None, T);
    kill(Pid::from_raw(first as i32), Signal::SIGKILL).unwrap();
    sb.wait_healthy("api", Some(first), T);
    // The audit log is written in batches behind the supervisor: wait for the finished row.
    wait_until("the automatic recovery in the audit log", T, || {
        let out = sb.ctl(&["history", "api", "--json", "--limit", "100"]);
        let entries: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap_or_default();
        entries.iter().any(|e| {
            e["kind"] == "recovery" && e["trigger"] == "automatic" && e["outcome"] != "running"
        })
    });
    let out = sb.ctl_ok(&["history", "api", "--json", "--limit", "100"]);
    let entries: Vec<Value> = serde_json::from_str(&out).unwrap();
    assert!(entries.iter().all(|e| e["key"] == "api"));
    let times: Vec<&str> = entries.iter().map(|e| e["at"].as_str().unwrap()).collect();
    assert!(
        times.windows(2).all(|w| w[0] >= w[1]),
        "newest first: {times:?}"
    );
    let auto = entries
        .iter()
        .find(|e| {
            e["kind"] == "recovery" && e["trigger"] == "automatic" && e["outcome"] != "running"
        })
        .expect("the automatic recovery");
    let steps: Vec<&str> = auto["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["action"].as_str().unwrap())
        .collect();
    assert_eq!(steps, ["kill", "start"]);
    assert!(
        entries
            .iter()
            .any(|e| e["kind"] == "check" && e["health"] == "stale_pid")
    );
    let text = sb.ctl_ok(&["history", "api", "--limit", "5"]);
    assert!(text.lines().count() >= 2, "{text}");
    sb.ctl_ok(&["history", "api", "--since", "1h", "--limit", "1", "--json"]);
    sb.ctl_exit(&["history", "nope"], 2);
}

#[test]
fn several_followers_see_the_same_live_events() {
    let sb = sandbox();
    sb.write_config(&sb.config(json!({ "api": sb.service("api", "") })));
    let _d = sb.start_daemon();
    sb.ctl_ok(&["on", "api"]);
    sb.wait_settled("api", None, T);
    let mut followers = [Follower::start(&sb.socket()), Follower::start(&sb.socket())];
    // A follower only sees what happens after it connects: a reload (an audit event) shows
    // when both are listening.
    let reloaded = |e: &Value| e["kind"] == "reloaded";
    let deadline = Instant::now() + T;
    for f in &mut followers {
        loop {
            assert!(Instant::now() < deadline, "a follower never saw a reload");
            sb.ctl_ok(&["reload"]);
            if f.until(Instant::now() + Duration::from_secs(2), reloaded)
                .is_some()
            {
                break;
            }
        }
    }
    sb.ctl_ok(&["restart", "api"]);
    for f in &mut followers {
        let events = f
            .until(Instant::now() + T, |e| e["kind"] == "pipeline_finished")
            .expect("the restart's pipeline_finished");
        let kinds: Vec<&str> = events.iter().filter_map(|e| e["kind"].as_str()).collect();
        for want in ["pipeline_started", "step_finished", "pipeline_finished"] {
            assert!(kinds.contains(&want), "missing {want} in {kinds:?}");
        }
    }
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

#[test]
fn the_database_records_checks_states_and_recoveries() {
    let sb = sandbox();
    sb.write_config(&sb.config(json!({ "api": sb.service("api", "") })));
    let mut d = sb.start_daemon();
    let first = sb.wait_settled("api", None, T);
    kill(Pid::from_raw(first as i32), Signal::SIGKILL).unwrap();
    let second = sb.wait_settled("api", Some(first), T);
    // A clean stop flushes the store's queue.
    assert_eq!(d.stop(), Some(0), "{}", d.log());

    let db = rusqlite::Connection::open_with_flags(
        sb.path().join("wd.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    let count = |sql: &str| -> i64 { db.query_row(sql, [], |r| r.get(0)).unwrap() };
    assert!(
        count(
            "SELECT COUNT(*) FROM check_history WHERE process_key = 'api' AND health = 'healthy'"
        ) > 0
    );
    assert!(
        count(
            "SELECT COUNT(*) FROM check_history WHERE process_key = 'api' AND health != 'healthy'"
        ) > 0
    );
    assert_eq!(
        count("SELECT COUNT(*) FROM process_state WHERE process_key = 'api' AND intent = 'on'"),
        1
    );
    let (trigger, result, old_pid, new_pid): (String, String, Option<i64>, Option<i64>) = db
        .query_row(
            "SELECT trigger, result, old_pid, new_pid FROM recovery_runs
             WHERE process_key = 'api' ORDER BY id DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .unwrap();
    assert_eq!(trigger, "automatic");
    assert_eq!(result, "succeeded");
    assert_eq!(old_pid, Some(first as i64));
    assert_eq!(new_pid, Some(second as i64));
}
