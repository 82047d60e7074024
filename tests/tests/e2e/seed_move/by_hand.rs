//! One action by hand, as the seed's menu ran them: `run KEY ACTION` (also `kill` and
//! `start`), `run --all ACTION`, and `restart-all`, each audited, its output shown, and exit
//! codes a script can trust.

use serde_json::json;
use watchdog_tests::Printed;

use super::T;

/// A config whose services have a `clear_db` cleanup that prints and records each run.
fn cleanups(sb: &watchdog_tests::Sandbox) -> serde_json::Value {
    let mut processes = serde_json::Map::new();
    for key in ["a", "b"] {
        let mut svc = sb.service(key, "");
        svc["commands"]["clear_db"] =
            json!(format!("echo {key} >> cleared.txt; echo cleared {key}"));
        svc["recovery_actions"] = json!(["kill", "clear_db", "start"]);
        processes.insert(key.into(), svc);
    }
    // One without the action.
    processes.insert("c".into(), sb.service("c", ""));
    let mut cfg = sb.config(serde_json::Value::Object(processes));
    // Run by hand only: no recovery runs the cleanup on its own.
    cfg["consecutive_failures_threshold"] = json!(1_000_000);
    cfg
}

#[test]
fn run_one_action_for_one_service_or_all_of_them() {
    let sb = crate::sandbox();
    sb.write_config(&cleanups(&sb));
    let _d = sb.start_daemon();
    // One service: the step's result and its output, and an audit row.
    let out = sb.ctl_ok(&["run", "a", "clear_db"]);
    assert!(out.contains("clear_db: ok"), "{out}");
    assert!(
        out.contains("cleared a --force"),
        "the output tail is shown: {out}"
    );
    let cleared = || std::fs::read_to_string(sb.path().join("cleared.txt")).unwrap_or_default();
    assert_eq!(cleared(), "a\n");
    let history = sb.ctl_ok(&["history", "a", "--json"]);
    assert!(history.contains("\"run\""), "audited as a run: {history}");
    // All that have it: a and b, not c.
    let out = sb.ctl_ok(&["run", "--all", "clear_db"]);
    assert!(
        out.contains("cleared a --force") && out.contains("cleared b --force"),
        "{out}"
    );
    assert!(!out.contains("c:"), "{out}");
    let mut lines: Vec<String> = cleared().lines().map(str::to_owned).collect();
    lines.sort();
    assert_eq!(lines, ["a", "a", "b"]);
    // `kill` and `start` are actions too.
    sb.ctl_ok(&["run", "a", "start", "--wait", "--timeout", "20"]);
    let pid = sb.wait_healthy("a", None, T);
    sb.ctl_ok(&["run", "a", "kill"]);
    assert!(!watchdog_tests::alive(pid as i32), "killed");
    // An action nobody has, or that one service lacks: refused, naming what there is.
    let err = sb.ctl_err(&["run", "--all", "clear_dbb"], 2);
    assert!(
        err.contains("\"clear_dbb\"") && err.contains("clear_db"),
        "{err}"
    );
    let err = sb.ctl_err(&["run", "c", "clear_db"], 2);
    assert!(err.contains("c has no action \"clear_db\""), "{err}");
}

#[test]
fn restart_all_restarts_what_is_wanted_and_exits_1_when_one_fails() {
    let sb = crate::sandbox();
    let mut broken = sb.service("broken", "");
    broken["commands"]["start"] = json!("exit 3");
    let mut cfg = sb.config(json!({
        "a": sb.service("a", ""),
        "b": sb.service("b", ""),
        "resting": sb.service("resting", ""),
        "broken": broken,
    }));
    cfg["max_parallel_recoveries"] = json!(1);
    sb.write_config(&cfg);
    let _d = sb.start_daemon();
    for key in ["a", "b", "resting"] {
        sb.ctl_ok(&["on", key]);
    }
    let a = sb.wait_settled("a", None, T);
    let b = sb.wait_settled("b", None, T);
    sb.ctl_ok(&["off", "resting"]);
    let Printed { stdout, stderr } =
        sb.ctl_printed(&["restart-all", "--wait", "--timeout", "60"], 1);
    assert!(
        stderr.contains("restart-all: 1 of 4 services failed (broken)"),
        "{stderr}"
    );
    assert!(
        stdout.contains("resting: off by intent: not restarted"),
        "{stdout}"
    );
    // The others were restarted, and are healthy with new processes; the resting one stays off.
    assert_ne!(sb.wait_healthy("a", Some(a), T), a);
    assert_ne!(sb.wait_healthy("b", Some(b), T), b);
    assert_eq!(sb.status_of("resting")["state"], "off");
    assert!(
        stdout.contains("a: healthy") && stdout.contains("b: healthy"),
        "{stdout}"
    );
}
