//! Operator control through watchdogctl: on/off intent, restart --wait, start-all/stop-all,
//! check, status, exit codes and the `--json` shapes.

use std::os::unix::net::UnixListener;
use std::process::Output;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use watchdog_tests::{Sandbox, alive, ctl_at, ctl_command, expect_exit, run_ctl, wait_until};

use crate::sandbox;

const T: Duration = Duration::from_secs(20);

/// How long a negative ("nothing restarts it") is watched: six check intervals of the harness
/// config (0.2 s) with a failure threshold of 2, so a wrong restart would have happened twice
/// over by then.
const QUIET: Duration = Duration::from_millis(1200);

/// A threshold no test reaches: the daemon never starts or recovers the service by itself.
const NEVER: u32 = 1_000_000;

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The command's one line of `--json` output, after asserting its exit code.
fn json_of(out: &Output, expect: i32) -> Value {
    let stdout = expect_exit(out, expect, "watchdogctl --json").stdout;
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout:?}"))
}

/// A sandbox with one test service `api`, and its daemon.
fn one_service(threshold: Option<u32>) -> (Sandbox, watchdog_tests::Daemon) {
    let sb = sandbox();
    let mut cfg = sb.config(json!({ "api": sb.service("api", "") }));
    if let Some(n) = threshold {
        cfg["processes"]["api"]["consecutive_failures_threshold"] = json!(n);
    }
    sb.write_config(&cfg);
    let d = sb.start_daemon();
    (sb, d)
}

#[test]
fn on_starts_a_service_and_skips_a_healthy_one() {
    let (sb, _d) = one_service(Some(NEVER));
    assert!(sb.starts("api").is_empty(), "started without being asked");
    let report = json_of(&sb.ctl(&["on", "api", "--json"]), 0);
    assert_eq!(report["result"], "succeeded", "{report}");
    let pid = sb.wait_healthy("api", None, T);
    assert_eq!(sb.starts("api"), [pid as i32]);

    let again = sb.ctl(&["on", "api"]);
    expect_exit(&again, 0, "watchdogctl");
    assert!(
        stdout(&again).contains("already running"),
        "{}",
        stdout(&again)
    );
    let report = json_of(&sb.ctl(&["on", "api", "--json"]), 0);
    assert_eq!(report["result"], "skipped", "{report}");
    assert_eq!(
        sb.starts("api").len(),
        1,
        "a healthy service was started again"
    );
    assert!(alive(pid as i32));
}

/// Fails today: a second `on` while the first one's process is still starting (inside its
/// start grace, not beating yet) kills that process and starts another, so a deploy script
/// that says `on` twice, or `start-all` then `on`, restarts a slow service mid-boot.
#[test]
fn a_second_on_leaves_a_starting_service_alone() {
    let sb = sandbox();
    let mut svc = sb.service("slow", "");
    // Boots for a second before its first heartbeat, well inside its start grace. Each start
    // shell records its PID at once (in a starts file, so the sandbox kills it in any case).
    svc["commands"]["start"] = json!(format!(
        "echo $$ >> shells.starts; sleep 1; {}",
        sb.service_cmd("slow", "")
    ));
    svc["start_grace_seconds"] = json!(10);
    svc["consecutive_failures_threshold"] = json!(NEVER);
    sb.write_config(&sb.config(json!({ "slow": svc })));
    let _d = sb.start_daemon();
    sb.ctl_ok(&["on", "slow"]);
    assert_eq!(sb.status_of("slow")["state"], "starting");
    let out = sb.ctl(&["on", "slow", "--json"]);
    let report = json_of(&out, 0);
    let pid = sb.wait_healthy("slow", None, T);
    assert_eq!(
        sb.starts("shells"),
        [pid as i32],
        "the starting process was replaced: {report}"
    );
}

#[test]
fn off_stops_a_service_and_it_stays_stopped_until_on() {
    let (sb, _d) = one_service(None);
    let pid = sb.wait_settled("api", None, T);
    sb.ctl_ok(&["off", "api"]);
    wait_until("the service process to be gone", T, || !alive(pid as i32));
    wait_until("state stopped", T, || sb.status_of("api")["state"] == "off");
    let starts = sb.starts("api").len();

    // A negative: nothing may bring it back while it is off.
    std::thread::sleep(QUIET);
    assert_eq!(sb.starts("api").len(), starts, "restarted while off");
    let row = sb.status_of("api");
    assert_eq!(row["state"], "off", "{row}");
    assert_ne!(row["health"], "healthy", "{row}");

    sb.ctl_ok(&["on", "api"]);
    let back = sb.wait_healthy("api", Some(pid), T);
    assert_eq!(sb.starts("api").len(), starts + 1);
    assert_eq!(sb.status_of("api")["state"], "running");
    assert!(alive(back as i32));
}

#[test]
fn off_survives_a_daemon_restart() {
    let sb = sandbox();
    sb.write_config(&sb.config(json!({ "api": sb.service("api", "") })));
    let mut first = sb.start_daemon();
    let pid = sb.wait_settled("api", None, T);
    sb.ctl_ok(&["off", "api"]);
    wait_until("the service process to be gone", T, || !alive(pid as i32));
    assert_eq!(first.stop(), Some(0), "{}", first.log());
    let starts = sb.starts("api").len();

    let _second = sb.start_daemon();
    // Wait for the new daemon's first check, so the negative below covers checks it made.
    wait_until("a check by the new daemon", T, || {
        !sb.status_of("api")["health"].is_null()
    });
    // A negative: the new daemon must remember the intent and not start the service.
    std::thread::sleep(QUIET);
    let row = sb.status_of("api");
    assert_eq!(row["state"], "off", "{row}");
    assert_eq!(sb.starts("api").len(), starts, "started by the new daemon");
}

#[test]
fn off_survives_a_daemon_crash() {
    // `off` is answered only once its intent is in the database, so even a SIGKILL right after
    // the reply cannot lose it.
    let sb = sandbox();
    sb.write_config(&sb.config(json!({ "api": sb.service("api", "") })));
    let mut first = sb.start_daemon();
    let pid = sb.wait_settled("api", None, T);
    sb.ctl_ok(&["off", "api"]);
    first.crash();
    assert!(!alive(pid as i32));
    let starts = sb.starts("api").len();

    let _second = sb.start_daemon();
    wait_until("a check by the new daemon", T, || {
        !sb.status_of("api")["health"].is_null()
    });
    // A negative, as in `off_survives_a_daemon_restart`.
    std::thread::sleep(QUIET);
    assert_eq!(sb.status_of("api")["state"], "off");
    assert_eq!(sb.starts("api").len(), starts, "started by the new daemon");
}

#[test]
fn restart_wait_returns_once_another_process_is_healthy() {
    let (sb, _d) = one_service(None);
    let first = sb.wait_settled("api", None, T);
    sb.ctl_ok(&["restart", "api", "--wait", "--timeout", "20"]);
    // The reply came after a healthy check of the new process: no waiting needed here.
    let row = sb.status_of("api");
    assert_eq!(row["health"], "healthy", "{row}");
    let second = row["pid"].as_u64().unwrap();
    assert_ne!(second, first);
    assert!(!alive(first as i32), "the old process survived the restart");
    assert_eq!(sb.starts("api").len(), 2);
    assert_eq!(row["last_recovery"]["trigger"], "restart", "{row}");
}

#[test]
fn restart_wait_json_prints_the_restart_and_the_wait() {
    let (sb, _d) = one_service(None);
    let first = sb.wait_settled("api", None, T);
    let out = sb.ctl(&["restart", "api", "--wait", "--timeout", "20", "--json"]);
    let doc = json_of(&out, 0);
    assert_eq!(doc["restart"]["key"], "api", "{doc}");
    assert_eq!(doc["restart"]["result"], "succeeded", "{doc}");
    assert_eq!(doc["restart"]["old_pid"], first, "{doc}");
    assert_eq!(doc["wait"]["outcome"], "healthy", "{doc}");
    assert_eq!(doc["wait"]["service"]["health"], "healthy", "{doc}");
    assert_ne!(doc["wait"]["service"]["pid"], first, "{doc}");
}

#[test]
fn restart_brings_back_a_service_that_was_off() {
    let (sb, _d) = one_service(None);
    let first = sb.wait_settled("api", None, T);
    sb.ctl_ok(&["off", "api"]);
    assert_eq!(sb.status_of("api")["state"], "off");
    sb.ctl_ok(&["restart", "api", "--wait", "--timeout", "20"]);
    let row = sb.status_of("api");
    assert_eq!(
        row["state"], "running",
        "restart marks it wanted again: {row}"
    );
    assert_ne!(row["pid"], first, "{row}");
    assert_eq!(row["health"], "healthy", "{row}");
}

#[test]
fn restart_wait_reports_a_failed_restart_without_waiting() {
    let sb = sandbox();
    let mut svc = sb.service("api", "");
    svc["commands"]["start"] = json!("echo cannot start >&2; exit 7");
    svc["consecutive_failures_threshold"] = json!(NEVER);
    sb.write_config(&sb.config(json!({ "api": svc })));
    let _d = sb.start_daemon();
    let clock = Instant::now();
    let doc = json_of(
        &sb.ctl(&["restart", "api", "--wait", "--timeout", "20", "--json"]),
        1,
    );
    assert!(
        clock.elapsed() < Duration::from_secs(10),
        "waited for a service whose restart failed"
    );
    assert_eq!(doc["restart"]["result"], "failed", "{doc}");
    assert!(doc["wait"].is_null(), "{doc}");
}

#[test]
fn concurrent_restarts_share_one_pipeline() {
    let sb = sandbox();
    let mut cfg = sb.config(json!({ "api": sb.service("api", "") }));
    // A long verify_delay keeps the pipeline running while all three requests arrive.
    cfg["verify_delay"] = json!(1.5);
    sb.write_config(&cfg);
    let _d = sb.start_daemon();
    // The first start's own pipeline is over (a restart would join it, by design).
    let first = sb.wait_settled("api", None, T);
    let reports: Vec<Value> = std::thread::scope(|s| {
        let runs: Vec<_> = (0..3)
            .map(|_| s.spawn(|| json_of(&sb.ctl(&["restart", "api", "--json"]), 0)))
            .collect();
        runs.into_iter().map(|r| r.join().unwrap()).collect()
    });
    for r in &reports {
        assert_eq!(r, &reports[0], "one pipeline answers all three");
        assert_eq!(r["old_pid"], first, "{r}");
    }
    sb.wait_healthy("api", Some(first), T);
    assert_eq!(sb.starts("api").len(), 2, "one start for three restarts");
}

#[test]
fn restart_wait_fails_at_the_timeout_when_no_heartbeat_comes() {
    let sb = sandbox();
    // Starts fine (it runs past verify_delay) but never writes a heartbeat. It records its PID
    // in a starts file so the sandbox can clean it up.
    let mut svc = sb.service("mute", "");
    svc["commands"]["start"] = json!("echo $$ >> mute.starts; exec sleep 1000");
    svc["consecutive_failures_threshold"] = json!(NEVER);
    sb.write_config(&sb.config(json!({ "mute": svc })));
    let _d = sb.start_daemon();
    let clock = Instant::now();
    let out = sb.ctl(&["restart", "mute", "--wait", "--timeout", "2"]);
    let took = clock.elapsed();
    expect_exit(&out, 1, "watchdogctl");
    assert!(
        stderr(&out).contains("mute not healthy after 2s"),
        "{}",
        stderr(&out)
    );
    assert!(
        took >= Duration::from_millis(1500) && took < Duration::from_secs(10),
        "returned after {took:?}, not at the 2 s timeout"
    );
    assert_eq!(sb.starts("mute").len(), 1, "the restart's start did run");
}

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
fn an_unreachable_daemon_exits_3_and_names_the_socket() {
    let sb = sandbox();
    let nothing = sb.path().join("none.sock");
    // A socket file nobody listens on, as a crashed daemon leaves behind.
    let stale = sb.path().join("stale.sock");
    drop(UnixListener::bind(&stale).unwrap());
    assert!(stale.exists());
    for socket in [&nothing, &stale] {
        for cmd in [
            &["status"][..],
            &["status", "api"],
            &["on", "api"],
            &["off", "api"],
            &["restart", "api", "--wait"],
            &["check", "--json"],
        ] {
            let out = ctl_at(socket, cmd);
            expect_exit(&out, 3, format_args!("{cmd:?} at {}", socket.display()));
            let err = stderr(&out);
            assert!(
                err.contains(&socket.display().to_string()),
                "{cmd:?}: {err}"
            );
            assert!(out.stdout.is_empty(), "{cmd:?}: {}", stdout(&out));
        }
    }
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

#[test]
fn the_socket_is_found_through_config_and_environment() {
    let (sb, _d) = one_service(Some(NEVER));
    let ok = |mut cmd: std::process::Command, how: &str| {
        cmd.args(["status", "--json"]);
        let rows = json_of(&run_ctl(cmd), 0);
        assert_eq!(rows[0]["key"], "api", "{how}: {rows}");
    };
    // `--config`: the client reads the config's socket_path, relative to the config's folder,
    // whatever its own working folder.
    let mut cmd = ctl_command();
    cmd.current_dir("/").arg("--config").arg(sb.config_path());
    ok(cmd, "--config");
    let mut cmd = ctl_command();
    cmd.env("WATCHDOG_CONFIG", sb.config_path());
    ok(cmd, "WATCHDOG_CONFIG");
    let mut cmd = ctl_command();
    cmd.env("WATCHDOG_SOCKET", sb.socket());
    ok(cmd, "WATCHDOG_SOCKET");
    // --socket wins over the environment.
    let mut cmd = ctl_command();
    cmd.env("WATCHDOG_SOCKET", sb.path().join("none.sock"))
        .arg("--socket")
        .arg(sb.socket());
    ok(cmd, "--socket over WATCHDOG_SOCKET");
    // An unreadable config is a local error, not a fallback to the default socket.
    let mut cmd = ctl_command();
    cmd.arg("--config")
        .arg(sb.path().join("nope.json"))
        .arg("status");
    let out = run_ctl(cmd);
    expect_exit(&out, 2, "watchdogctl");
    assert!(stderr(&out).contains("nope.json"), "{}", stderr(&out));
}
