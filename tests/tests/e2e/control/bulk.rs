//! Commands over every service: `start-all`, `stop-all`, `check`.

use serde_json::json;
use watchdog_tests::{alive, wait_until};

use super::{NEVER, T, json_of, stderr};
use crate::sandbox;

#[test]
fn start_all_starts_enabled_services_and_stop_all_stops_them() {
    let sb = sandbox();
    let mut off = sb.service("c", "");
    off["enabled"] = json!(false);
    let mut cfg = sb.config(json!({
        "a": sb.service("a", ""),
        "b": sb.service("b", ""),
        "c": off,
    }));
    cfg["consecutive_failures_threshold"] = json!(NEVER);
    sb.write_config(&cfg);
    let _d = sb.start_daemon();

    let reports = json_of(&sb.ctl(&["start-all", "--json"]), 0);
    let keys: Vec<&str> = reports
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["a", "b"], "{reports}");
    for r in reports.as_array().unwrap() {
        assert_eq!(r["result"], "succeeded", "{reports}");
    }
    let a = sb.wait_healthy("a", None, T);
    let b = sb.wait_healthy("b", None, T);
    assert!(sb.starts("c").is_empty(), "a disabled service was started");
    let c = sb.status_of("c");
    assert_eq!(c["state"], "disabled", "{c}");
    assert_eq!(c["enabled"], false, "{c}");

    sb.ctl_ok(&["stop-all"]);
    for (key, pid) in [("a", a), ("b", b)] {
        wait_until(&format!("{key} to be gone"), T, || !alive(pid as i32));
        assert_eq!(sb.status_of(key)["state"], "off");
        assert_eq!(sb.starts(key).len(), 1);
    }
    assert_eq!(sb.status_of("c")["state"], "disabled");
}

#[test]
fn start_all_exits_1_when_a_service_fails_and_starts_the_others() {
    let sb = sandbox();
    let mut broken = sb.service("broken", "");
    broken["commands"]["start"] = json!("exit 7");
    let mut cfg = sb.config(json!({ "a": sb.service("a", ""), "broken": broken }));
    cfg["consecutive_failures_threshold"] = json!(NEVER);
    sb.write_config(&cfg);
    let _d = sb.start_daemon();
    let out = sb.ctl(&["start-all", "--json"]);
    let reports = json_of(&out, 1);
    assert_eq!(reports[0]["key"], "a", "{reports}");
    assert_eq!(reports[0]["result"], "succeeded", "{reports}");
    assert_eq!(reports[1]["key"], "broken", "{reports}");
    assert_eq!(reports[1]["result"], "failed", "{reports}");
    assert!(
        stderr(&out).contains("start-all: 1 of 2 services failed"),
        "{}",
        stderr(&out)
    );
    sb.wait_healthy("a", None, T);
}

#[test]
fn check_prints_every_service() {
    let sb = sandbox();
    let mut cfg = sb.config(json!({
        "a": sb.service("a", ""),
        "b": sb.service("b", ""),
    }));
    cfg["consecutive_failures_threshold"] = json!(NEVER);
    sb.write_config(&cfg);
    let _d = sb.start_daemon();
    // Unhealthy and not recovered (the threshold is out of reach): `check` exits 1, as the
    // seed's cron run did, and says which.
    let report = json_of(&sb.ctl(&["check", "--json"]), 1);
    let rows = report["services"].as_array().expect("an array");
    assert_eq!(rows.len(), 2);
    assert_eq!(report["recoveries"], json!([]));
    for (row, key) in rows.iter().zip(["a", "b"]) {
        assert_eq!(row["key"], key, "{row}");
        // `check` checks now: nothing runs and nothing has beaten yet.
        assert_eq!(row["health"], "no_heartbeat", "{row}");
        assert!(row["last_check"].is_string(), "{row}");
    }
    let table = sb.ctl_printed(&["check"], 1);
    assert!(
        table.stderr.contains("still unhealthy: a, b"),
        "{}",
        table.stderr
    );
    let text = table.stdout;
    assert!(text.starts_with("KEY"), "{text}");
    assert!(text.contains("no_heartbeat"), "{text}");
}
