//! Loading config files with the real daemon: the seed's formats load unchanged, bad files are
//! refused with every problem named, and `--check-config` prints the normalized result.

use std::process::Output;
use std::time::Duration;

use serde_json::{Value, json};
use watchdog_tests::{Sandbox, expect_exit};

use crate::sandbox;

const T: Duration = Duration::from_secs(20);

/// The example `config.json` of the seed project's README (`seed/WATCHDOG_SEED_README.md`),
/// byte for byte: it must load unchanged.
const SEED_README_CONFIG: &str = include_str!("../../fixtures/seed-config.json");

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `watchdogd --check-config --config <sandbox>/config.json`.
fn check_config(sb: &Sandbox) -> Output {
    sb.run_watchdogd([
        "--check-config".as_ref(),
        "--config".as_ref(),
        sb.config_path().as_os_str(),
    ])
}

/// `watchdogd --config <sandbox>/config.json`, expected to refuse to start.
fn start_refused(sb: &Sandbox) -> Output {
    let out = sb.run_watchdogd(["--config".as_ref(), sb.config_path().as_os_str()]);
    assert!(!sb.socket().exists(), "a refused daemon left a socket");
    out
}

/// The normalized config `--check-config` printed, after asserting it accepted the file.
fn normalized(out: &Output) -> Value {
    let stdout = expect_exit(out, 0, "watchdogd --check-config").stdout;
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {stdout}"))
}

#[test]
fn the_seed_readme_example_loads_unchanged() {
    let sb = sandbox();
    std::fs::write(sb.config_path(), SEED_README_CONFIG).unwrap();
    let out = check_config(&sb);
    let cfg = normalized(&out);
    assert!(
        stderr(&out).contains("is valid (1 processes)"),
        "{}",
        stderr(&out)
    );
    assert_eq!(cfg["log_level"], "INFO");
    assert_eq!(cfg["db_path"], "/path/to/watchdog.db");
    assert_eq!(cfg["consecutive_failures_threshold"], 2);
    // Defaults are written out.
    for field in [
        "socket_path",
        "lock_path",
        "kill_timeout",
        "cleanup_timeout",
        "verify_delay",
        "cleanup_args",
        "check_interval_seconds",
    ] {
        assert!(cfg.get(field).is_some(), "no default for {field}: {cfg}");
    }
    assert_eq!(cfg["cleanup_args"], json!(["--force"]));
    let p = &cfg["processes"]["my_server"];
    assert_eq!(p["display_name"], "MyServer");
    assert_eq!(p["timeout_seconds"], 300);
    assert_eq!(p["heartbeat_path"], "/path/to/heartbeats/my_server.json");
    assert_eq!(p["enabled"], true);
    assert_eq!(
        p["commands"],
        json!({
            "start": "cd /path/to/project && python3 -m myapp.main",
            "clear_db": "/path/to/project/scripts/reset_db.sh",
            "clear_email_logs": "/path/to/project/scripts/clear_emails.sh",
        })
    );
    assert_eq!(p["recovery_actions"], json!(["kill", "clear_db", "start"]));
    assert_eq!(p["consecutive_failures_threshold"], 2);
    // Nothing was started, nothing was created.
    assert!(!sb.socket().exists());
    assert!(!sb.path().join("watchdog.db").exists());
}

#[test]
fn the_old_flat_format_loads_normalized_with_a_deprecation_warning() {
    let sb = sandbox();
    sb.write_config(&json!({
        "log_level": "INFO",
        "db_path": "wd.db",
        "processes": {
            "legacy": {
                "display_name": "Legacy",
                "timeout_seconds": 60,
                "heartbeat_path": "hb/legacy.json",
                "enabled": true,
                "startup_command": "cd /srv/legacy && ./run.sh",
                "cleanup_script": "/srv/legacy/reset_db.sh",
            },
            "skips_cleanup": {
                "timeout_seconds": 60,
                "heartbeat_path": "hb/skips.json",
                "startup_command": "./run.sh",
                "cleanup_script": "./reset.sh",
                "disabled_actions": ["clear_db"],
            },
        },
    }));
    let out = check_config(&sb);
    let cfg = normalized(&out);
    let err = stderr(&out);
    assert!(err.contains("deprecated"), "{err}");
    assert!(err.contains("processes.legacy"), "{err}");
    assert!(err.contains("startup_command"), "{err}");
    let p = &cfg["processes"]["legacy"];
    assert_eq!(
        p["commands"],
        json!({
            "start": "cd /srv/legacy && ./run.sh",
            "clear_db": "/srv/legacy/reset_db.sh",
        })
    );
    assert_eq!(p["recovery_actions"], json!(["kill", "clear_db", "start"]));
    assert!(p.get("startup_command").is_none(), "{p}");
    assert!(p.get("cleanup_script").is_none(), "{p}");
    assert_eq!(
        p["heartbeat_path"],
        sb.path().join("hb/legacy.json").to_str().unwrap(),
        "relative paths resolve against the config's folder"
    );
    let q = &cfg["processes"]["skips_cleanup"];
    assert_eq!(q["recovery_actions"], json!(["kill", "clear_db", "start"]));
    assert_eq!(q["disabled_actions"], json!(["clear_db"]));
}

#[test]
fn the_old_flat_format_runs_its_startup_command() {
    let sb = sandbox();
    let mut svc = sb.service("api", "");
    svc["startup_command"] = svc["commands"]["start"].take();
    svc["cleanup_script"] = json!("true");
    let obj = svc.as_object_mut().unwrap();
    obj.remove("commands");
    obj.remove("recovery_actions");
    sb.write_config(&sb.config(json!({ "api": svc })));
    let d = sb.start_daemon();
    sb.wait_healthy("api", None, T);
    assert!(d.log().contains("deprecated"), "{}", d.log());
}

#[test]
fn a_bad_config_is_refused_naming_every_key_and_field() {
    let sb = sandbox();
    let good = sb.service("good", "");
    let mut no_heartbeat = sb.service("nohb", "");
    no_heartbeat
        .as_object_mut()
        .unwrap()
        .remove("heartbeat_path");
    let mut negative = sb.service("negto", "");
    negative["timeout_seconds"] = json!(-5);
    let mut no_command = sb.service("noact", "");
    no_command["recovery_actions"] = json!(["kill", "flush_cache", "start"]);
    let mut wrong_type = sb.service("wrongtype", "");
    wrong_type["enabled"] = json!("yes");
    sb.write_config(&sb.config(json!({
        "good": good,
        "nohb": no_heartbeat,
        "negto": negative,
        "noact": no_command,
        "wrongtype": wrong_type,
    })));
    let expected = [
        "processes.nohb.heartbeat_path",
        "processes.negto.timeout_seconds",
        "processes.noact.recovery_actions",
        "flush_cache",
        "processes.wrongtype.enabled",
    ];
    for (how, out) in [
        ("--check-config", check_config(&sb)),
        ("start", start_refused(&sb)),
    ] {
        let err = expect_exit(&out, 2, how).stderr;
        for needle in expected {
            assert!(err.contains(needle), "{how}: {needle} not named in:\n{err}");
        }
        assert!(!err.contains("processes.good"), "{how}: {err}");
        assert!(out.stdout.is_empty(), "{how} printed a config");
    }
    assert!(
        sb.starts("good").is_empty(),
        "a refused daemon started services"
    );
}

#[test]
fn a_missing_config_file_exits_2() {
    let sb = sandbox();
    let missing = sb.path().join("nope.json");
    for args in [
        vec![
            "--check-config".as_ref(),
            "--config".as_ref(),
            missing.as_os_str(),
        ],
        vec!["--config".as_ref(), missing.as_os_str()],
    ] {
        let err = expect_exit(&sb.run_watchdogd(&args), 2, format_args!("{args:?}")).stderr;
        assert!(err.contains(missing.to_str().unwrap()), "{args:?}: {err}");
    }
}

#[test]
fn invalid_json_exits_2() {
    let sb = sandbox();
    std::fs::write(sb.config_path(), "{\n  \"processes\": {,\n}\n").unwrap();
    let outs = [check_config(&sb), start_refused(&sb)];
    for out in outs {
        let err = expect_exit(&out, 2, "a config that is not JSON").stderr;
        assert!(err.contains("not valid JSON"), "{err}");
        assert!(
            err.contains("line 2"),
            "the message points at the error: {err}"
        );
    }
}

#[test]
fn unknown_fields_warn_with_a_suggestion_and_still_load() {
    let sb = sandbox();
    let mut svc = sb.service("api", "");
    svc["timeout_secs"] = json!(5);
    let mut cfg = sb.config(json!({ "api": svc }));
    cfg["log_levle"] = json!("DEBUG");
    sb.write_config(&cfg);
    let out = check_config(&sb);
    normalized(&out);
    let err = stderr(&out);
    assert!(
        err.contains(
            "processes.api.timeout_secs: unknown field (did you mean \"timeout_seconds\"?)"
        ),
        "{err}"
    );
    assert!(err.contains("log_levle: unknown field"), "{err}");
}
