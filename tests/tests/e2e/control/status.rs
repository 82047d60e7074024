//! What the daemon answers about services and the exit codes scripts rely on: `status` (one
//! key exits by its health, the detail view), `wait`, unknown keys, the `--json` shapes.

use serde_json::{Value, json};
use watchdog_tests::{expect_exit, wait_until};

use super::{NEVER, T, json_of, one_service, stdout};
use crate::sandbox;

#[test]
fn wait_exit_codes_tell_healthy_timed_out_unknown_and_unreachable_apart() {
    let sb = sandbox();
    let mut silent = sb.service("silent", "");
    silent["commands"]["start"] = json!("echo $$ >> silent.starts; exec sleep 1000");
    sb.write_config(&sb.config(json!({ "api": sb.service("api", ""), "silent": silent })));
    let _d = sb.start_daemon();
    sb.ctl_ok(&["on", "api"]);
    sb.ctl_ok(&["wait", "api", "--timeout", "20"]);
    sb.ctl_exit(&["wait", "silent", "--timeout", "1"], 1);
    sb.ctl_exit(&["wait", "nope", "--timeout", "1"], 2);
    let gone = watchdog_tests::ctl_at(&sb.path().join("nothing.sock"), &["wait", "api"]);
    expect_exit(&gone, 3, "a wait with no daemon");
    let out = sb.ctl_ok(&["restart", "api", "--wait", "--timeout", "20", "--json"]);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["wait"]["outcome"], "healthy");
    // The silent service never beats: the start succeeds, the wait times out.
    sb.ctl(&["on", "silent"]);
    sb.ctl_exit(&["restart", "silent", "--wait", "--timeout", "2"], 1);
}

#[test]
fn status_key_shows_the_detail_view() {
    let sb = sandbox();
    let mut svc = sb.service("api", "");
    svc["env"] = json!({ "API_TOKEN": "s3cret" });
    sb.write_config(&sb.config(json!({ "api": svc })));
    let _d = sb.start_daemon();
    sb.ctl_ok(&["on", "api"]);
    let pid = sb.wait_healthy("api", None, T);
    let text = sb.ctl_ok(&["status", "api"]);
    assert!(text.contains("heartbeat"), "{text}");
    assert!(
        text.contains(&format!("\"pid\":{pid}")) || text.contains(&format!("\"pid\": {pid}")),
        "{text}"
    );
    assert!(
        text.contains("timeout_seconds") || text.contains("timeout"),
        "{text}"
    );
    assert!(text.contains("recent"), "{text}");
    assert!(
        !text.contains("s3cret"),
        "environment values are secrets: {text}"
    );
}

#[test]
fn unknown_keys_exit_2_and_name_the_key() {
    let (sb, _d) = one_service(Some(NEVER));
    for cmd in [
        &["on", "nosuch"][..],
        &["off", "nosuch"],
        &["restart", "nosuch"],
        &["restart", "nosuch", "--wait", "--timeout", "2"],
        &["status", "nosuch"],
        &["wait", "nosuch", "--timeout", "2"],
    ] {
        let out = sb.ctl_err(cmd, 2);
        assert!(out.contains("nosuch"), "{cmd:?}: {}", out);
        assert!(out.starts_with("watchdogctl: "), "{cmd:?}: {}", out);
        let json = sb.ctl(&[cmd, &["--json"]].concat());
        expect_exit(&json, 2, format_args!("{cmd:?} --json"));
        assert!(
            json.stdout.is_empty(),
            "{cmd:?} --json printed {}",
            stdout(&json)
        );
    }
    assert!(sb.starts("api").is_empty());
}

#[test]
fn status_key_exits_0_only_when_healthy() {
    let sb = sandbox();
    let flag = sb.path().join("status");
    let mut svc = sb.service("api", &format!("--status-file {}", flag.display()));
    svc["consecutive_failures_threshold"] = json!(NEVER);
    sb.write_config(&sb.config(json!({ "api": svc })));
    let _d = sb.start_daemon();
    // Not started yet: unhealthy.
    wait_until("a first check", T, || {
        !sb.status_of("api")["health"].is_null()
    });
    sb.ctl_exit(&["status", "api"], 1);

    sb.ctl_ok(&["on", "api"]);
    sb.wait_healthy("api", None, T);
    let out = sb.ctl_ok(&["status", "api"]);
    assert!(out.contains("detail:"), "{}", out);

    std::fs::write(&flag, "degraded").unwrap();
    wait_until("error_status", T, || {
        sb.status_of("api")["health"] == "error_status"
    });
    sb.ctl_exit(&["status", "api"], 1);
    let rows = json_of(&sb.ctl(&["status", "api", "--json"]), 1);
    assert_eq!(rows.as_array().map(Vec::len), Some(1), "{rows}");
    assert_eq!(rows[0]["health"], "error_status", "{rows}");
    // The whole table still exits 0: the daemon replied.
    sb.ctl_ok(&["status"]);
}

#[test]
fn json_output_has_the_documented_keys() {
    let (sb, _d) = one_service(None);
    let pid = sb.wait_settled("api", None, T);
    let rows = json_of(&sb.ctl(&["status", "--json"]), 0);
    let row = &rows.as_array().expect("an array")[0];
    for key in [
        "key",
        "display_name",
        "enabled",
        "state",
        "health",
        "pid",
        "heartbeat_age_seconds",
        "consecutive_failures",
        "last_check",
        "last_recovery",
        "detail",
    ] {
        assert!(row.get(key).is_some(), "no {key} in {row}");
    }
    assert_eq!(row["key"], "api");
    assert_eq!(row["display_name"], "Service api");
    assert_eq!(row["state"], "running");
    assert_eq!(row["health"], "healthy");
    assert_eq!(row["pid"], pid);
    assert!(
        row["heartbeat_age_seconds"]
            .as_f64()
            .is_some_and(|a| a >= 0.0),
        "{row}"
    );
    assert_eq!(row["consecutive_failures"], 0);
    assert_eq!(row["last_recovery"]["trigger"], "automatic", "{row}");

    let report = json_of(&sb.ctl(&["off", "api", "--json"]), 0);
    for key in ["key", "result", "message", "old_pid", "steps"] {
        assert!(report.get(key).is_some(), "no {key} in {report}");
    }
    assert_eq!(report["old_pid"], pid, "{report}");
    let step = &report["steps"][0];
    for key in ["action", "outcome", "message", "duration_ms"] {
        assert!(step.get(key).is_some(), "no {key} in {step}");
    }
    assert_eq!(step["action"], "kill", "{report}");
    assert_eq!(step["outcome"], "ok", "{report}");
    // One line of compact JSON.
    let text = stdout(&sb.ctl(&["status", "--json"]));
    assert_eq!(text.lines().count(), 1, "{text}");
}
