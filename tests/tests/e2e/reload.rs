//! Reload without risk: an invalid config is refused whole and the old one stays in force; a
//! valid one is applied as a diff (added, removed, changed) that keeps each key's state; SIGHUP
//! does what `watchdogctl reload` does.

use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::json;
use watchdog_tests::{Sandbox, alive, wait_until};

use crate::sandbox;

const T: Duration = Duration::from_secs(20);

fn keys(sb: &Sandbox) -> Vec<String> {
    sb.status()
        .iter()
        .map(|r| r["key"].as_str().unwrap().to_owned())
        .collect()
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
    bad["processes"]["extra"] =
        json!({ "timeout_seconds": "soon", "heartbeat_path": "hb/extra.json", "commands": {} });
    sb.write_config(&bad);
    let err = sb.ctl_err(&["reload"], 2);
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
        "parked": sb.service("parked", ""),
        "failing": sb.placeholder("failing"),
        "old": sb.service("old", ""),
        "renamed": sb.service("renamed", ""),
    }));
    sb.write_config(&cfg);
    let _d = sb.start_daemon();
    sb.ctl_ok(&["off", "parked"]);
    let old_pid = sb.wait_healthy("old", None, T);
    sb.wait_healthy("renamed", None, T);
    wait_until("failures to be counted", T, || {
        sb.status_of("failing")["consecutive_failures"].as_u64() >= Some(3)
    });
    let failures = sb.status_of("failing")["consecutive_failures"]
        .as_u64()
        .unwrap();

    let mut new = cfg.clone();
    let processes = new["processes"].as_object_mut().unwrap();
    processes.remove("old");
    processes["renamed"]["display_name"] = json!("A new name");
    processes.insert("new".into(), sb.service("new", ""));
    sb.write_config(&new);
    let text = sb.ctl_ok(&["reload"]);
    for change in ["added new", "removed old", "changed renamed"] {
        assert!(text.contains(change), "{change:?} not in:\n{text}");
    }

    let mut now = keys(&sb);
    now.sort();
    assert_eq!(now, ["failing", "new", "parked", "renamed"]);
    assert!(alive(old_pid as i32), "the removed service was stopped");
    assert_eq!(sb.status_of("renamed")["display_name"], "A new name");
    assert_eq!(sb.status_of("parked")["state"], "off", "intent lost");
    let after = sb.status_of("failing")["consecutive_failures"]
        .as_u64()
        .unwrap();
    assert!(after >= failures, "failures reset: {failures} → {after}");

    // The new key is monitored: `on` starts it and its heartbeat is read.
    sb.ctl_ok(&["on", "new"]);
    sb.wait_healthy("new", None, T);
}

#[test]
fn sighup_reloads_and_a_bad_file_changes_nothing() {
    let sb = sandbox();
    let cfg = sb.config(json!({ "api": sb.placeholder("api") }));
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
    sb.ctl_ok(&["status"]);
}
