//! Signals reach only the service's own processes, and none are left behind: never the daemon
//! or a recycled PID a heartbeat names, never another user's process, a service's children
//! stopped with it, no zombies after many crashes.

use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::json;
use watchdog_tests::{alive, wait_until};

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
