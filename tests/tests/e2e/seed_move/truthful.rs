//! Truthful answers: what a command answered is what `status` shows next, and `check` exits as
//! the seed's cron run did, so it can gate a deploy.

use serde_json::json;

use super::T;

#[test]
fn what_restart_wait_and_off_answered_is_what_status_shows_next() {
    let sb = crate::sandbox();
    sb.write_config(&sb.config(json!({ "api": sb.service("api", "") })));
    let _d = sb.start_daemon();
    sb.ctl_ok(&["on", "api"]);
    sb.wait_settled("api", None, T);
    for round in 0..20 {
        let out = sb.ctl_ok(&["restart", "api", "--wait", "--json"]);
        let answered: serde_json::Value = serde_json::from_str(&out).unwrap();
        let pid = answered["wait"]["service"]["pid"].as_u64().unwrap();
        let row = sb.status_of("api");
        assert_eq!(row["pid"].as_u64(), Some(pid), "round {round}: {row}");
        assert_eq!(row["health"], "healthy", "round {round}: {row}");
    }
    for round in 0..20 {
        sb.ctl_ok(&["off", "api"]);
        let row = sb.status_of("api");
        assert_eq!(row["state"], "off", "round {round}: {row}");
        assert_ne!(row["health"], "healthy", "round {round}: {row}");
        sb.ctl_ok(&["on", "api"]);
        assert_ne!(sb.status_of("api")["state"], "off", "round {round}");
    }
}

#[test]
fn what_a_plain_restart_or_a_kill_answered_is_what_status_shows_next() {
    let sb = crate::sandbox();
    let mut cfg = sb.config(json!({ "api": sb.service("api", "") }));
    // Recovered by hand only, so what status shows is the action's doing.
    cfg["consecutive_failures_threshold"] = json!(1_000_000);
    sb.write_config(&cfg);
    let _d = sb.start_daemon();
    sb.ctl_ok(&["on", "api"]);
    let mut old = sb.wait_settled("api", None, T);
    for round in 0..20 {
        let out = sb.ctl_ok(&["restart", "api", "--json"]);
        let answered: serde_json::Value = serde_json::from_str(&out).unwrap();
        let started = answered["steps"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["action"] == "start")
            .and_then(|s| s["message"].as_str())
            .and_then(|m| m.strip_prefix("started pid "))
            .and_then(|m| m.split_whitespace().next())
            .and_then(|p| p.parse::<u64>().ok())
            .unwrap_or_else(|| panic!("round {round}: {answered}"));
        let row = sb.status_of("api");
        assert_ne!(
            row["pid"].as_u64(),
            Some(old),
            "round {round}: the old pid: {row}"
        );
        assert_eq!(row["pid"].as_u64(), Some(started), "round {round}: {row}");
        // Not judged yet, or judged on the new process while its start was verified: never
        // the old process's verdict.
        if row["health"] == "healthy" {
            let detail = row["detail"].as_str().unwrap_or_default();
            assert!(
                detail.starts_with(&format!("pid {started} ")),
                "round {round}: healthy, but of another process: {row}"
            );
        }
        old = sb.wait_healthy("api", Some(old), T);
    }
    // A kill by hand: the killed process is never shown as running and healthy.
    sb.ctl_ok(&["run", "api", "kill"]);
    let row = sb.status_of("api");
    assert_eq!(row["health"], "stale_pid", "{row}");
    assert_eq!(row["state"], "failing", "{row}");
    assert_ne!(row["pid"].as_u64(), Some(old), "{row}");
}

#[test]
fn check_exits_0_when_all_is_healthy_or_recovered_and_1_when_a_recovery_failed() {
    let sb = crate::sandbox();
    let mut broken = sb.service("broken", "");
    broken["commands"]["start"] = json!("exit 7");
    let mut cfg = sb.config(json!({ "api": sb.service("api", ""), "broken": broken }));
    cfg["consecutive_failures_threshold"] = json!(1);
    cfg["check_interval_seconds"] = json!(3600);
    sb.write_config(&cfg);
    let _d = sb.start_daemon();
    // Nothing runs yet: the check recovers both; `api` comes up, `broken` cannot.
    let out = sb.ctl_printed(&["check", "--json"], 1);
    let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let err = out.stderr;
    assert!(err.contains("recovery failed: broken"), "{err}");
    let results: Vec<(&str, &str)> = report["recoveries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["key"].as_str().unwrap(), r["result"].as_str().unwrap()))
        .collect();
    assert!(results.contains(&("api", "succeeded")), "{report}");
    assert!(results.contains(&("broken", "failed")), "{report}");
    // With `broken` turned off on purpose and `api` healthy, the same check exits 0.
    sb.ctl_ok(&["off", "broken"]);
    sb.wait_healthy("api", None, T);
    sb.ctl_ok(&["check"]);
}

#[test]
fn a_service_off_by_intent_is_quiet() {
    let sb = crate::sandbox();
    let mut cfg = sb.config(json!({ "demo": sb.service("demo", "") }));
    cfg["check_interval_seconds"] = json!(0.1);
    sb.write_config(&cfg);
    let d = sb.start_daemon();
    sb.ctl_ok(&["off", "demo"]);
    let before = d.log().len();
    let since = protocol::time::now_millis();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let conn = rusqlite::Connection::open(sb.path().join("wd.db")).unwrap();
    let rows: i64 = conn
        .query_row(
            "SELECT count(*) FROM check_history WHERE process_key = 'demo' AND checked_at_ms > ?1",
            [since + 300],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(rows, 0, "recurring rows for a service off by intent");
    let log = d.log()[before..].to_owned();
    let warned = log
        .lines()
        .filter(|l| l.contains("[WARNING]") && l.contains("demo"))
        .count();
    assert_eq!(warned, 0, "{log}");
    assert_eq!(sb.status_of("demo")["state"], "off");
}
