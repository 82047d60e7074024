//! Reload without risk: an invalid config is refused whole and the old one stays in force; a
//! valid one is applied as a diff (added, removed, changed) that keeps each key's state; SIGHUP
//! does what `watchdogctl reload` does.

use std::process::Output;
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::{Value, json};
use watchdog_tests::{Sandbox, alive, wait_until};

use crate::sandbox;

const T: Duration = Duration::from_secs(20);

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn keys(sb: &Sandbox) -> Vec<String> {
    sb.status()
        .iter()
        .map(|r| r["key"].as_str().unwrap().to_owned())
        .collect()
}

/// A service that is never started or recovered: its health only counts failures.
fn placeholder(sb: &Sandbox, key: &str) -> Value {
    let mut svc = sb.service(key, "");
    svc["commands"]["start"] = json!("true");
    svc["timeout_seconds"] = json!(30);
    svc["consecutive_failures_threshold"] = json!(1_000_000);
    svc
}

#[test]
fn an_invalid_config_is_refused_whole_and_the_old_one_stays() {
    let sb = sandbox();
    let good = sb.config(json!({ "api": sb.service("api", "") }));
    sb.write_config(&good);
    let d = sb.start_daemon();
    let first = sb.wait_healthy("api", None, T);

    let mut bad = good.clone();
    bad["processes"]["api"]["timeout_seconds"] = json!(-1);
    bad["processes"]["extra"] = json!({ "heartbeat_path": "hb/extra.json", "commands": {} });
    sb.write_config(&bad);
    let out = sb.ctl(&["reload"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    for problem in [
        "processes.api.timeout_seconds",
        "processes.extra.timeout_seconds",
        "processes.extra.commands.start",
    ] {
        assert!(err.contains(problem), "{problem} not listed in:\n{err}");
    }
    assert!(
        d.log().contains("reload refused"),
        "the refusal is logged:\n{}",
        d.log()
    );

    // The old config is in force: the same keys, still supervised.
    assert_eq!(keys(&sb), ["api"]);
    kill(Pid::from_raw(first as i32), Signal::SIGKILL).unwrap();
    sb.wait_healthy("api", Some(first), T);
}

#[test]
fn a_valid_config_is_applied_as_a_diff_and_keeps_each_keys_state() {
    let sb = sandbox();
    let cfg = sb.config(json!({
        "kept_off": sb.service("kept_off", ""),
        "failing": placeholder(&sb, "failing"),
        "removed": sb.service("removed", ""),
        "changed": sb.service("changed", ""),
    }));
    sb.write_config(&cfg);
    let _d = sb.start_daemon();
    assert_eq!(sb.ctl(&["off", "kept_off"]).status.code(), Some(0));
    let removed_pid = sb.wait_healthy("removed", None, T);
    sb.wait_healthy("changed", None, T);
    wait_until("failures to be counted", T, || {
        sb.status_of("failing")["consecutive_failures"].as_u64() >= Some(3)
    });
    let failures = sb.status_of("failing")["consecutive_failures"]
        .as_u64()
        .unwrap();

    let mut new = cfg.clone();
    let processes = new["processes"].as_object_mut().unwrap();
    processes.remove("removed");
    processes["changed"]["display_name"] = json!("Changed, renamed");
    processes.insert("added".into(), sb.service("added", ""));
    sb.write_config(&new);
    let out = sb.ctl(&["reload"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("added added;")
            && text.contains("removed removed;")
            && text.contains("changed changed"),
        "{text}"
    );

    let mut now = keys(&sb);
    now.sort();
    assert_eq!(now, ["added", "changed", "failing", "kept_off"]);
    assert!(alive(removed_pid as i32), "the removed service was stopped");
    assert_eq!(sb.status_of("changed")["display_name"], "Changed, renamed");
    assert_eq!(sb.status_of("kept_off")["state"], "stopped", "intent kept");
    let after = sb.status_of("failing")["consecutive_failures"]
        .as_u64()
        .unwrap();
    assert!(after >= failures, "failures reset: {failures} → {after}");

    assert_eq!(sb.ctl(&["on", "added"]).status.code(), Some(0));
    sb.wait_healthy("added", None, T);
}

#[test]
fn sighup_reloads_and_a_bad_file_changes_nothing() {
    let sb = sandbox();
    let cfg = sb.config(json!({ "api": placeholder(&sb, "api") }));
    sb.write_config(&cfg);
    let d = sb.start_daemon();
    let hup = || kill(Pid::from_raw(d.pid()), Signal::SIGHUP).unwrap();

    let mut bad = cfg.clone();
    bad["processes"]["api"]["display_name"] = json!("never shown");
    bad["processes"]["api"]["timeout_seconds"] = json!("soon");
    sb.write_config(&bad);
    hup();
    wait_until("the refused SIGHUP reload in the log", T, || {
        d.log().contains("SIGHUP reload")
    });
    assert_eq!(sb.status_of("api")["display_name"], "Service api");

    let mut good = cfg.clone();
    good["processes"]["api"]["display_name"] = json!("Renamed by SIGHUP");
    sb.write_config(&good);
    hup();
    wait_until("the new display name", T, || {
        sb.status_of("api")["display_name"] == "Renamed by SIGHUP"
    });
    assert_eq!(sb.ctl(&["status"]).status.code(), Some(0));
}
