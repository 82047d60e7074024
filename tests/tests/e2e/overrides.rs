//! Runtime overrides (`enable|disable KEY`, `actions KEY --disable|--enable ACTION`): kept by
//! the daemon, never written into the config, shown by `status KEY`, surviving daemon restarts
//! and reloads, and dropped with a log line once their key leaves the config, whether it left
//! by a reload or while the daemon was down.

use std::time::Duration;

use serde_json::{Value, json};
use watchdog_tests::{Sandbox, wait_until};

use crate::{audit_events, sandbox};

const T: Duration = Duration::from_secs(20);

/// `api` runs and has a cleanup action `clear_db`; `other` is a placeholder.
fn config(sb: &Sandbox, with_other: bool) -> Value {
    let mut api = sb.service("api", "");
    api["commands"]["clear_db"] = json!("true");
    api["recovery_actions"] = json!(["kill", "clear_db", "start"]);
    let mut processes = json!({ "api": api });
    if with_other {
        processes["other"] = sb.placeholder("other");
    }
    sb.config(processes)
}

/// The overrides `status --json` shows for `key`: (monitoring_override, actions_disabled).
fn overrides(sb: &Sandbox, key: &str) -> (Value, Value) {
    let row = sb.status_of(key);
    (
        row["monitoring_override"].clone(),
        row["actions_disabled"].clone(),
    )
}

#[test]
fn overrides_show_in_status_and_survive_restarts_and_reloads() {
    let sb = sandbox();
    let cfg = config(&sb, true);
    sb.write_config(&cfg);
    let mut d = sb.start_daemon();
    sb.wait_healthy("api", None, T);
    let config_before = std::fs::read_to_string(sb.config_path()).unwrap();

    sb.ctl_ok(&["disable", "other"]);
    sb.ctl_ok(&["actions", "api", "--disable", "clear_db"]);
    assert_eq!(overrides(&sb, "other").0, json!(false));
    assert_eq!(overrides(&sb, "api").1, json!(["clear_db"]));
    assert_eq!(sb.status_of("other")["state"], "disabled");
    let detail = sb.ctl_exit(&["status", "api"], 0);
    assert!(
        detail.contains("overrides: actions disabled: clear_db"),
        "{detail}"
    );
    let detail = sb.ctl_exit(&["status", "other"], 1);
    assert!(
        detail.contains("overrides: monitoring disabled"),
        "{detail}"
    );
    // A recovery skips the disabled action.
    let out = sb.ctl_ok(&["restart", "api"]);
    assert!(!out.contains("clear_db"), "{out}");

    d.stop();
    let mut d = sb.start_daemon();
    assert_eq!(overrides(&sb, "other").0, json!(false), "after a restart");
    assert_eq!(
        overrides(&sb, "api").1,
        json!(["clear_db"]),
        "after a restart"
    );

    // A reload that changes api's settings keeps both.
    let mut changed = cfg.clone();
    changed["processes"]["api"]["timeout_seconds"] = json!(3);
    sb.write_config(&changed);
    sb.ctl_ok(&["reload"]);
    assert_eq!(overrides(&sb, "other").0, json!(false), "after a reload");
    assert_eq!(
        overrides(&sb, "api").1,
        json!(["clear_db"]),
        "after a reload"
    );

    // Undone: back to the config, and the config file was never touched.
    sb.ctl_ok(&["enable", "other"]);
    sb.ctl_ok(&["actions", "api", "--enable", "clear_db"]);
    assert_eq!(overrides(&sb, "other"), (Value::Null, json!([])));
    assert_eq!(overrides(&sb, "api"), (Value::Null, json!([])));
    d.stop();
    assert_eq!(
        std::fs::read_to_string(sb.config_path()).unwrap(),
        serde_json::to_string_pretty(&changed).unwrap()
    );
    assert_ne!(
        config_before,
        std::fs::read_to_string(sb.config_path()).unwrap()
    );
}

#[test]
fn overrides_of_a_key_that_leaves_the_config_are_dropped_with_a_log_line() {
    let sb = sandbox();
    sb.write_config(&config(&sb, true));
    let mut d = sb.start_daemon();

    // Left by a reload.
    sb.ctl_ok(&["disable", "other"]);
    sb.write_config(&config(&sb, false));
    sb.ctl_ok(&["reload"]);
    wait_until("the drop in the log", T, || {
        d.log()
            .contains("other left the config: its overrides (monitoring off) are dropped")
    });
    sb.write_config(&config(&sb, true));
    sb.ctl_ok(&["reload"]);
    assert_eq!(overrides(&sb, "other").0, Value::Null, "came back clean");

    // Left while the daemon was down.
    sb.ctl_ok(&["disable", "other"]);
    d.stop();
    sb.write_config(&config(&sb, false));
    let mut d = sb.start_daemon();
    wait_until("the drop in the log at start", T, || {
        d.log()
            .matches("other left the config: its overrides (monitoring off) are dropped")
            .count()
            == 2
    });
    d.stop();
    sb.write_config(&config(&sb, true));
    let _d = sb.start_daemon();
    assert_eq!(
        overrides(&sb, "other").0,
        Value::Null,
        "an override of a key that left the config does not come back with it"
    );
    let dropped = audit_events(&sb.path().join("wd.db"), "override_dropped");
    assert_eq!(dropped.len(), 2, "{dropped:?}");
}
