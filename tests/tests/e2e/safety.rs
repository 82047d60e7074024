//! Safe process control: never the wrong process, no zombies, one pipeline at a time, flap
//! protection, stall detection, and what commands are given.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::json;
use watchdog_tests::{alive, expect_exit, wait_until};

use crate::{audit_events, sandbox};

const T: Duration = Duration::from_secs(20);

/// Writes a heartbeat naming `pid` with a timestamp `age` in the past.
fn forged_heartbeat(path: &std::path::Path, pid: i64, age: Duration, status: &str) {
    let hb = protocol::Heartbeat {
        process_key: "forged".into(),
        pid,
        timestamp_us: protocol::time::now_micros() - age.as_micros() as i64,
        status: status.into(),
        iteration: Some(1),
    };
    protocol::heartbeat::write_atomic(path, hb.to_json().as_bytes()).unwrap();
}

/// Zombie children of `parent` (state Z in /proc).
fn zombie_children(parent: i32) -> Vec<i32> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let Some(close) = stat.rfind(')') else {
            continue;
        };
        let fields: Vec<&str> = stat[close + 1..].split_whitespace().collect();
        if fields.first() == Some(&"Z") && fields.get(1) == Some(&parent.to_string().as_str()) {
            out.push(pid);
        }
    }
    out
}

#[test]
fn a_heartbeat_naming_the_daemon_itself_is_never_signalled() {
    let sb = sandbox();
    let mut svc = sb.service("evil", "");
    svc["commands"]["start"] = json!("true");
    svc["timeout_seconds"] = json!(30);
    // The forged heartbeat may land just before a start the first check caused: it must not be
    // forgiven as the old process's for long.
    svc["start_grace_seconds"] = json!(0.5);
    let mut cfg = sb.config(json!({ "evil": svc }));
    cfg["consecutive_failures_threshold"] = json!(1);
    sb.write_config(&cfg);
    let d = sb.start_daemon();
    forged_heartbeat(
        &sb.heartbeat("evil"),
        i64::from(d.pid()),
        Duration::ZERO,
        "error",
    );
    wait_until("a refusal in the audit log", T, || {
        !audit_events(&sb.path().join("wd.db"), "signal_refused").is_empty()
    });
    assert!(alive(d.pid()), "watchdogd signalled itself");
    // The daemon still answers.
    sb.ctl_ok(&["status"]);
    let refusals = audit_events(&sb.path().join("wd.db"), "signal_refused");
    assert!(refusals[0].contains("watchdogd itself"), "{refusals:?}");
}

#[test]
fn a_recycled_pid_is_stale_and_never_signalled() {
    let sb = sandbox();
    let mut svc = sb.service("old", "");
    svc["commands"]["start"] = json!("true");
    svc["timeout_seconds"] = json!(60);
    let mut cfg = sb.config(json!({ "old": svc }));
    cfg["consecutive_failures_threshold"] = json!(1);
    sb.write_config(&cfg);
    // The heartbeat is 10 s old; the process it names starts now: the PID was "reused".
    let mut stranger = Command::new("sleep")
        .arg("60")
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let pid = stranger.id() as i32;
    forged_heartbeat(
        &sb.heartbeat("old"),
        i64::from(pid),
        Duration::from_secs(10),
        "running",
    );
    let _d = sb.start_daemon();
    wait_until("stale_pid and a recovery", T, || {
        let row = sb.status_of("old");
        row["health"] == "stale_pid" && !row["last_recovery"].is_null()
    });
    assert!(alive(pid), "the unrelated process was signalled");
    assert!(stranger.try_wait().unwrap().is_none());
    let _ = stranger.kill();
    let _ = stranger.wait();
}

#[test]
fn off_stops_the_service_and_the_child_it_forked() {
    let sb = sandbox();
    sb.write_config(&sb.config(json!({ "api": sb.service("api", "--fork-child") })));
    let _d = sb.start_daemon();
    sb.ctl_ok(&["on", "api"]);
    sb.wait_healthy("api", None, T);
    let pids = sb.starts("api");
    assert_eq!(pids.len(), 2, "service and its child: {pids:?}");
    assert!(pids.iter().all(|&p| alive(p)));
    sb.ctl_ok(&["off", "api"]);
    for pid in pids {
        assert!(!alive(pid), "pid {pid} survived off");
    }
}

#[test]
fn fifty_crash_cycles_leave_no_zombies() {
    let sb = sandbox();
    let mut cfg = sb
        .config(json!({ "crashy": sb.service("crashy", "--exit-after-ms 150 --interval-ms 20") }));
    cfg["consecutive_failures_threshold"] = json!(1);
    cfg["verify_delay"] = json!(0.05);
    cfg["max_restarts"] = json!(1000);
    sb.write_config(&cfg);
    let d = sb.start_daemon();
    sb.ctl_ok(&["on", "crashy"]);
    wait_until("50 crash-restart cycles", Duration::from_secs(90), || {
        sb.starts("crashy").len() >= 51
    });
    sb.ctl_ok(&["off", "crashy"]);
    wait_until(
        "no zombie children of watchdogd",
        Duration::from_secs(5),
        || zombie_children(d.pid()).is_empty(),
    );
}

#[test]
fn a_hanging_cleanup_is_killed_at_its_timeout_and_the_pipeline_goes_on() {
    let sb = sandbox();
    let pidfile = sb.path().join("cleanup.pid");
    let mut svc = sb.service("api", "");
    svc["commands"]["clear_db"] =
        json!(format!("echo $$ > {}; sleep 1000; true", pidfile.display()));
    svc["recovery_actions"] = json!(["kill", "clear_db", "start"]);
    let mut cfg = sb.config(json!({ "api": svc }));
    cfg["cleanup_timeout"] = json!(1);
    sb.write_config(&cfg);
    let _d = sb.start_daemon();
    let started = Instant::now();
    let out = sb.ctl_ok(&["restart", "api", "--json"]);
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    let steps = report["steps"].as_array().unwrap();
    assert_eq!(steps[1]["outcome"], "warned", "{report}");
    assert!(
        steps[1]["message"].as_str().unwrap().contains("timeout"),
        "{report}"
    );
    assert_eq!(steps[2]["outcome"], "ok");
    assert!(started.elapsed() < Duration::from_secs(10));
    let pid: i32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    wait_until("the hung cleanup to be gone", T, || !alive(pid));
    sb.wait_healthy("api", None, T);
}

#[test]
fn concurrent_restarts_never_start_the_service_twice_at_once() {
    let sb = sandbox();
    let log = sb.path().join("starts.log");
    let mut svc = sb.service("api", "");
    let run = sb.service_cmd("api", "");
    svc["commands"]["start"] = json!(format!(
        "echo begin >> {log}; sleep 0.3; echo end >> {log}; {run}",
        log = log.display()
    ));
    sb.write_config(&sb.config(json!({ "api": svc })));
    let _d = sb.start_daemon();
    let socket = sb.socket();
    let handles: Vec<_> = (0..5)
        .map(|_| {
            let socket = socket.clone();
            std::thread::spawn(move || {
                watchdog_tests::ctl_at(&socket, &["restart", "api"])
                    .status
                    .code()
            })
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap(), Some(0));
    }
    sb.wait_healthy("api", None, T);
    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(!lines.is_empty() && lines.len() <= 10, "{lines:?}");
    for pair in lines.chunks(2) {
        assert_eq!(pair, ["begin", "end"], "two starts overlapped: {lines:?}");
    }
}

#[test]
fn a_crash_looping_service_gives_up_and_stays_given_up_across_a_restart() {
    let sb = sandbox();
    let hook_log = sb.path().join("hook.log");
    let mut cfg =
        sb.config(json!({ "loop": sb.service("loop", "--exit-after-ms 300 --interval-ms 50") }));
    cfg["consecutive_failures_threshold"] = json!(1);
    cfg["max_restarts"] = json!(3);
    cfg["restart_window_seconds"] = json!(120);
    cfg["backoff_max_seconds"] = json!(0);
    cfg["on_give_up"] = json!(format!(
        "echo \"$WATCHDOG_PROCESS_KEY $WATCHDOG_HEALTH\" >> {}",
        hook_log.display()
    ));
    sb.write_config(&cfg);
    let mut d = sb.start_daemon();
    sb.ctl_ok(&["on", "loop"]);
    wait_until("gave_up", T, || sb.status_of("loop")["state"] == "gave_up");
    let starts = sb.starts("loop").len();
    assert_eq!(starts, 4, "one `on` plus max_restarts automatic recoveries");
    wait_until("the hook to run", T, || hook_log.exists());
    d.stop();
    let _d = sb.start_daemon();
    assert_eq!(
        sb.status_of("loop")["state"],
        "gave_up",
        "gave_up survives a daemon restart"
    );
    // A negative over a short period: nothing restarts a given-up service with no backoff.
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(sb.starts("loop").len(), starts);
    assert_eq!(
        std::fs::read_to_string(&hook_log).unwrap(),
        "loop stale_pid\n",
        "on_give_up ran once"
    );
    sb.ctl_ok(&["restart", "loop"]);
    assert_ne!(
        sb.status_of("loop")["state"],
        "gave_up",
        "restart clears gave_up"
    );
    assert_eq!(sb.starts("loop").len(), starts + 1);
}

#[test]
fn backoff_keeps_trying_but_the_hook_runs_once() {
    let sb = sandbox();
    let hook_log = sb.path().join("hook.log");
    let mut cfg =
        sb.config(json!({ "loop": sb.service("loop", "--exit-after-ms 200 --interval-ms 50") }));
    cfg["consecutive_failures_threshold"] = json!(1);
    cfg["max_restarts"] = json!(2);
    cfg["backoff_max_seconds"] = json!(0.5);
    cfg["processes"]["loop"]["on_give_up"] =
        json!(format!("echo gave-up >> {}", hook_log.display()));
    sb.write_config(&cfg);
    let _d = sb.start_daemon();
    sb.ctl_ok(&["on", "loop"]);
    wait_until("two backoff attempts after giving up", T, || {
        sb.starts("loop").len() >= 5
    });
    let row = sb.status_of("loop");
    assert!(
        row["state"] == "gave_up" || row["state"] == "recovering",
        "{row}"
    );
    assert_eq!(std::fs::read_to_string(&hook_log).unwrap(), "gave-up\n");
}

#[test]
fn a_stalled_iteration_is_detected() {
    let sb = sandbox();
    let beat =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../contrib/heartbeat/heartbeat.sh");
    let mut svc = sb.service("stuck", "");
    // Beats forever but never makes progress: the iteration is reset before each beat.
    svc["commands"]["start"] = json!(format!(
        ". {}; echo $$ >> stuck.starts; while :; do WATCHDOG_ITERATION=0; watchdog_beat hb/stuck.json stuck; sleep 0.1; done",
        beat.display()
    ));
    svc["stall_seconds"] = json!(1);
    svc["consecutive_failures_threshold"] = json!(1000);
    sb.write_config(&sb.config(json!({ "stuck": svc })));
    let _d = sb.start_daemon();
    sb.ctl_ok(&["on", "stuck"]);
    wait_until("stalled", T, || {
        sb.status_of("stuck")["health"] == "stalled"
    });
    let detail = sb.status_of("stuck")["detail"].as_str().unwrap().to_owned();
    assert!(detail.contains("iteration 1 has not grown"), "{detail}");
}

#[test]
fn commands_get_the_watchdog_environment_and_output_goes_to_the_logs() {
    let sb = sandbox();
    let envfile = sb.path().join("env.txt");
    let mut svc = sb.service("api", "");
    let run = sb.service_cmd("api", "");
    svc["commands"]["start"] = json!(format!(
        "echo started-$WATCHDOG_PROCESS_KEY; echo oops >&2; {run}"
    ));
    svc["commands"]["clear_db"] = json!(format!(
        "env | grep -E '^(WATCHDOG_|DEPLOY_)' | sort > {}; true",
        envfile.display()
    ));
    svc["recovery_actions"] = json!(["kill", "clear_db", "start"]);
    svc["env"] = json!({ "DEPLOY_ENV": "staging" });
    svc["stdout_log"] = json!("logs/api.out");
    svc["stderr_log"] = json!("logs/api.err");
    let mut cfg = sb.config(json!({ "api": svc }));
    cfg["consecutive_failures_threshold"] = json!(1);
    sb.write_config(&cfg);
    let _d = sb.start_daemon();
    sb.ctl_ok(&["on", "api"]);
    let first = sb.wait_healthy("api", None, T);
    kill(Pid::from_raw(first as i32), Signal::SIGKILL).unwrap();
    sb.wait_healthy("api", Some(first), T);
    let env = std::fs::read_to_string(&envfile).unwrap();
    for want in [
        "DEPLOY_ENV=staging".to_owned(),
        "WATCHDOG_HEALTH=stale_pid".to_owned(),
        "WATCHDOG_PROCESS_KEY=api".to_owned(),
        format!("WATCHDOG_PID={first}"),
        "WATCHDOG_FAILURES=1".to_owned(),
    ] {
        assert!(env.lines().any(|l| l == want), "missing {want} in:\n{env}");
    }
    let out = std::fs::read_to_string(sb.path().join("logs/api.out")).unwrap();
    assert_eq!(out, "started-api\nstarted-api\n");
    let err = std::fs::read_to_string(sb.path().join("logs/api.err")).unwrap();
    assert_eq!(err.lines().count(), 2);
}

#[test]
fn off_during_a_recovery_cancels_the_rest_and_leaves_it_stopped() {
    let sb = sandbox();
    let mut svc = sb.service("api", "");
    svc["commands"]["clear_db"] = json!("sleep 3; true");
    svc["recovery_actions"] = json!(["kill", "clear_db", "start"]);
    sb.write_config(&sb.config(json!({ "api": svc })));
    let _d = sb.start_daemon();
    sb.ctl_ok(&["on", "api"]);
    let pid = sb.wait_healthy("api", None, T);
    let socket = sb.socket();
    let restart =
        std::thread::spawn(move || watchdog_tests::ctl_at(&socket, &["restart", "api", "--json"]));
    wait_until("the recovery to run", T, || {
        sb.status_of("api")["state"] == "recovering"
    });
    sb.ctl_ok(&["off", "api"]);
    let restart = expect_exit(
        &restart.join().unwrap(),
        1,
        "the cancelled restart reports failure",
    );
    let report: serde_json::Value = serde_json::from_str(&restart.stdout).unwrap();
    assert!(
        report["steps"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["action"] != "start"),
        "{report}"
    );
    let row = sb.status_of("api");
    assert_eq!(row["state"], "off");
    assert!(!alive(pid as i32));
    assert_eq!(sb.starts("api").len(), 1, "start never ran after off");
}

fn nobody() -> Option<nix::unistd::User> {
    nix::unistd::User::from_name("nobody").ok().flatten()
}

#[test]
fn user_runs_the_service_unprivileged_and_kill_spares_other_users() {
    if !nix::unistd::Uid::effective().is_root() {
        eprintln!("skipped: dropping privileges needs watchdogd to run as root");
        return;
    }
    let Some(nobody) = nobody() else {
        eprintln!("skipped: this machine has no user `nobody`");
        return;
    };
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_wd-test-service"));
    let reachable = bin.ancestors().skip(1).all(|dir| {
        std::fs::metadata(dir)
            .is_ok_and(|m| std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o001 != 0)
    });
    if !reachable {
        eprintln!(
            "skipped: `nobody` cannot reach {} (a parent folder is not world-searchable)",
            bin.display()
        );
        return;
    }
    let sb = sandbox();
    // The unprivileged service must be able to write its heartbeat and starts file.
    for dir in [sb.path().to_path_buf(), sb.path().join("hb")] {
        std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o777))
            .unwrap();
    }
    let mut svc = sb.service("api", "");
    svc["user"] = json!("nobody");
    let mut other = sb.service("other", "");
    other["commands"]["start"] = json!("true");
    other["user"] = json!("nobody");
    other["timeout_seconds"] = json!(60);
    let mut cfg = sb.config(json!({ "api": svc, "other": other }));
    cfg["consecutive_failures_threshold"] = json!(1);
    sb.write_config(&cfg);
    // A root-owned process named by `other`'s heartbeat: wrong owner, so never signalled.
    let mut rooted = Command::new("sleep")
        .arg("60")
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    forged_heartbeat(
        &sb.heartbeat("other"),
        i64::from(rooted.id()),
        Duration::ZERO,
        "error",
    );
    // The service's own word (its file), naming a process of another user.
    std::os::unix::fs::chown(
        sb.heartbeat("other"),
        Some(nobody.uid.as_raw()),
        Some(nobody.gid.as_raw()),
    )
    .unwrap();
    let _d = sb.start_daemon();
    sb.ctl_ok(&["on", "api"]);
    let pid = sb.wait_healthy("api", None, T);
    let uid =
        std::os::unix::fs::MetadataExt::uid(&std::fs::metadata(format!("/proc/{pid}")).unwrap());
    assert_eq!(uid, nobody.uid.as_raw(), "the service runs as nobody");
    wait_until("the refusal to be audited", T, || {
        audit_events(&sb.path().join("wd.db"), "signal_refused")
            .iter()
            .any(|m| m.contains("owned by uid 0"))
    });
    assert!(
        rooted.try_wait().unwrap().is_none(),
        "a root process was signalled for a nobody service"
    );
    let _ = rooted.kill();
    let _ = rooted.wait();
}
