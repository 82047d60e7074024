//! Heartbeats without files: services that speak systemd's notify protocol, unchanged, through
//! the `sd-notify` crate (`wd-notify-service`), Python's `sdnotify` and the `systemd-notify`
//! command; and what the socket does with messages that are not the service's.

use std::io::Write as _;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::{Value, json};
use watchdog_tests::{Sandbox, alive, wait_until};

use crate::sandbox;

const T: Duration = Duration::from_secs(20);

/// The `sd-notify` test service's command line for `key`.
fn notify_cmd(key: &str, extra: &str) -> String {
    format!(
        "exec {} --starts-file {key}.starts {extra}",
        env!("CARGO_BIN_EXE_wd-notify-service")
    )
}

/// A process entry for a service that speaks notify, started with `start`.
fn notify_service(start: String) -> Value {
    json!({
        "heartbeat": "notify",
        "timeout_seconds": 2,
        "commands": { "start": start },
        "recovery_actions": ["kill", "start"],
    })
}

/// Says why a test skips, past libtest's capture of `eprintln!`.
fn skip(test: &str, why: &str) {
    let _ = writeln!(std::io::stderr(), "{test}: skipped: {why}");
}

/// Whether this run is CI's, where a missing client is a broken setup, not a reason to skip.
fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !matches!(v.trim(), "" | "0" | "false"))
}

/// The environment of process `pid`, as `NAME=value` strings.
fn environ(pid: u64) -> Vec<String> {
    std::fs::read(format!("/proc/{pid}/environ"))
        .unwrap_or_default()
        .split(|&b| b == 0)
        .map(|v| String::from_utf8_lossy(v).into_owned())
        .collect()
}

fn env_of(pid: u64, name: &str) -> Option<String> {
    let prefix = format!("{name}=");
    environ(pid)
        .into_iter()
        .find_map(|v| v.strip_prefix(&prefix).map(str::to_owned))
}

/// Where the daemon makes `key`'s socket in a sandbox (`notify_dir` is `notify`).
fn socket_of(sb: &Sandbox, key: &str) -> PathBuf {
    sb.path().join("notify").join(format!("{key}.sock"))
}

/// Waits until `key`'s health is `health`, as `status` shows it.
fn wait_health(sb: &Sandbox, key: &str, health: &str) -> Value {
    let mut row = Value::Null;
    wait_until(&format!("{key} {health}"), T, || {
        row = sb.status_of(key);
        row["health"] == health
    });
    row
}

#[test]
fn a_service_using_the_sd_notify_crate_is_healthy_and_shows_its_status() {
    let sb = sandbox();
    let api = notify_service(notify_cmd("api", "--status 'serving 3 clients'"));
    let mut plain = sb.service("plain", "");
    plain["timeout_seconds"] = json!(5);
    sb.write_config(&sb.config(json!({ "api": api, "plain": plain })));
    // The daemon itself runs under a service manager that gave it a NOTIFY_SOCKET of its own:
    // none of its services may see it.
    let managers = sb.path().join("manager.sock");
    let manager = UnixDatagram::bind(&managers).unwrap();
    manager
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let _d = sb.start_daemon_setup(&sb.config_path(), &sb.socket(), |cmd| {
        cmd.env("NOTIFY_SOCKET", &managers)
            .env("WATCHDOG_USEC", "60000000");
    });
    let mut buf = [0u8; 512];
    let n = manager.recv(&mut buf).unwrap();
    assert!(
        String::from_utf8_lossy(&buf[..n]).contains("READY=1"),
        "the daemon still speaks to its own manager"
    );

    let pid = sb.wait_settled("api", None, T);
    let row = sb.status_of("api");
    assert_eq!(row["status_text"], "serving 3 clients", "{row}");
    assert_eq!(sb.starts("api"), [pid as i32]);
    let table = sb.ctl_ok(&["status"]);
    assert!(table.contains("serving 3 clients"), "{table}");

    let socket = socket_of(&sb, "api");
    assert_eq!(
        env_of(pid, "NOTIFY_SOCKET").as_deref(),
        Some(socket.to_str().unwrap())
    );
    assert_eq!(env_of(pid, "WATCHDOG_USEC").as_deref(), Some("2000000"));
    assert_eq!(env_of(pid, "WATCHDOG_PID"), Some(pid.to_string()));
    let plain_pid = sb.wait_healthy("plain", None, T);
    for var in ["NOTIFY_SOCKET", "WATCHDOG_USEC"] {
        assert_eq!(env_of(plain_pid, var), None, "{var} reached a file service");
    }

    let detail = sb.ctl_ok(&["status", "api"]);
    assert!(detail.contains(socket.to_str().unwrap()), "{detail}");
    assert!(detail.contains("READY=1"), "{detail}");
    assert!(detail.contains("0 dropped"), "{detail}");
    // Checked, not just started: a check row came from the socket's beats.
    let history = sb.ctl_ok(&["history", "api"]);
    assert!(history.contains("healthy"), "{history}");
}

#[test]
fn a_hung_notify_service_times_out_and_is_replaced() {
    let sb = sandbox();
    sb.write_config(&sb.config(json!({ "api": notify_service(notify_cmd("api", "")) })));
    let _d = sb.start_daemon();
    let first = sb.wait_settled("api", None, T);
    kill(Pid::from_raw(first as i32), Signal::SIGSTOP).unwrap();
    let row = wait_health(&sb, "api", "timed_out");
    assert!(
        row["detail"].as_str().unwrap().contains("timeout 2s"),
        "{row}"
    );
    let second = sb.wait_healthy("api", Some(first), T);
    assert_ne!(first, second);
    wait_until("the hung process to be gone", T, || !alive(first as i32));
}

#[test]
fn ready_gates_the_start() {
    let sb = sandbox();
    let mut slow = notify_service(notify_cmd("slow", "--ready-after-ms 1500"));
    slow["start_grace_seconds"] = json!(10);
    let mut never = notify_service(notify_cmd("never", "--no-ready"));
    never["start_grace_seconds"] = json!(1);
    never["enabled"] = json!(false);
    sb.write_config(&sb.config(json!({ "slow": slow, "never": never })));
    let _d = sb.start_daemon();
    sb.wait_settled("slow", None, T);

    let began = Instant::now();
    let out = sb.ctl_exit(&["restart", "slow", "--json"], 0);
    let took = began.elapsed();
    let report: Value = serde_json::from_str(&out).unwrap();
    let start = &report["steps"][1];
    assert_eq!(start["action"], "start", "{report}");
    assert!(
        start["message"].as_str().unwrap().contains("READY=1 after"),
        "{report}"
    );
    assert!(
        took >= Duration::from_millis(1400),
        "answered before READY=1: {took:?}"
    );

    // Never ready: the start fails once start_grace_seconds is over, and what it started is
    // stopped.
    let out = sb.ctl_exit(&["run", "never", "start", "--json"], 1);
    let reports: Value = serde_json::from_str(&out).unwrap();
    let report = &reports[0];
    let message = report["message"].as_str().unwrap();
    assert!(
        message.contains("no READY=1 within start_grace_seconds (1s)"),
        "{report}"
    );
    let started = sb.starts("never");
    assert_eq!(started.len(), 1);
    wait_until("the unready service to be stopped", T, || {
        !alive(started[0])
    });
}

#[test]
fn watchdog_trigger_is_an_error_status_and_recovered() {
    let sb = sandbox();
    let flag = sb.path().join("trigger");
    let extra = format!("--trigger-file {}", flag.display());
    sb.write_config(&sb.config(json!({ "api": notify_service(notify_cmd("api", &extra)) })));
    let _d = sb.start_daemon();
    let first = sb.wait_settled("api", None, T);
    std::fs::write(&flag, b"").unwrap();
    let row = wait_health(&sb, "api", "error_status");
    assert!(
        row["detail"].as_str().unwrap().contains("WATCHDOG=trigger"),
        "{row}"
    );
    // The new instance triggers too (the file is still there): remove it first.
    std::fs::remove_file(&flag).unwrap();
    sb.wait_healthy("api", Some(first), T);
}

#[test]
fn mainpid_names_a_forked_child() {
    let sb = sandbox();
    sb.write_config(&sb.config(json!({
        "api": notify_service(notify_cmd("api", "--fork-mainpid")),
    })));
    let _d = sb.start_daemon();
    let pid = sb.wait_settled("api", None, T);
    let starts = sb.starts("api");
    assert_eq!(starts.len(), 2, "the parent and its worker: {starts:?}");
    assert_eq!(pid as i32, starts[1], "status shows MAINPID, the worker");
    assert!(!alive(starts[0]), "the parent exited");
    let detail = sb.ctl_ok(&["status", "api"]);
    assert!(detail.contains(&format!("MAINPID={pid}")), "{detail}");
    // The worker is the service: its death is seen and recovered.
    kill(Pid::from_raw(pid as i32), Signal::SIGKILL).unwrap();
    let second = sb.wait_healthy("api", Some(pid), T);
    assert_ne!(second, pid);
}

#[test]
fn messages_from_outside_the_service_are_dropped_and_counted() {
    let sb = sandbox();
    sb.write_config(&sb.config(json!({ "api": notify_service(notify_cmd("api", "")) })));
    let _d = sb.start_daemon();
    let pid = sb.wait_settled("api", None, T);
    // This test process is root, but no process of the service.
    let forger = UnixDatagram::unbound().unwrap();
    let socket = socket_of(&sb, "api");
    forger
        .send_to(b"WATCHDOG=trigger\nSTATUS=forged\nMAINPID=1", &socket)
        .unwrap();
    forger.send_to(b"STATUS=forged again", &socket).unwrap();
    forger.send_to(b"not an assignment\0", &socket).unwrap();
    wait_until("the counts in the detail view", T, || {
        let detail = sb.ctl_ok(&["status", "api"]);
        detail.contains("2 dropped") && detail.contains("1 malformed")
    });
    let row = sb.status_of("api");
    assert_eq!(row["health"], "healthy", "{row}");
    assert_eq!(row["pid"].as_u64(), Some(pid));
    assert_ne!(row["status_text"], "forged");
    wait_until("the counts in the metrics", T, || {
        let metrics = sb.ctl_ok(&["metrics"]);
        metrics.contains(r#"watchdog_service_notify_messages_total{key="api",outcome="dropped"} 2"#)
            && metrics.contains(
                r#"watchdog_service_notify_messages_total{key="api",outcome="malformed"} 1"#,
            )
    });
    let log = std::fs::read_to_string(sb.path().join("watchdogd.log")).unwrap();
    assert!(
        log.contains("not a process of the service"),
        "the first refusal is logged:\n{log}"
    );
}

#[test]
fn the_socket_is_made_again_at_the_same_path_after_a_daemon_restart() {
    let sb = sandbox();
    sb.write_config(&sb.config(json!({ "api": notify_service(notify_cmd("api", "")) })));
    let mut daemon = sb.start_daemon();
    let pid = sb.wait_settled("api", None, T);
    let socket = socket_of(&sb, "api");
    assert_eq!(daemon.stop(), Some(0));
    assert!(alive(pid as i32), "the service outlives the daemon");
    let _daemon = sb.start_daemon();
    assert!(socket.exists(), "{socket:?}");
    // The same process, judged by what it sends to the new socket: not restarted.
    wait_until("the service heard on the new socket", T, || {
        // `status KEY` exits 1 until it is healthy again: its output is what counts here.
        let detail = String::from_utf8_lossy(&sb.ctl(&["status", "api"]).stdout).into_owned();
        detail.contains("last WATCHDOG=1/READY=1")
    });
    let again = sb.wait_settled("api", None, T);
    assert_eq!(again, pid);
    assert_eq!(sb.starts("api"), [pid as i32], "restarted after all");
}

#[test]
fn systemd_notify_from_a_shell_service() {
    let test = "systemd_notify_from_a_shell_service";
    let Some(bin) = ["/usr/bin/systemd-notify", "/bin/systemd-notify"]
        .into_iter()
        .map(Path::new)
        .find(|p| p.exists())
    else {
        assert!(
            !in_ci(),
            "systemd-notify is missing under CI (Debian: systemd)"
        );
        return skip(
            test,
            "systemd-notify is not installed (Debian package systemd)",
        );
    };
    let sb = sandbox();
    let script = format!(
        "echo $$ >> sh.starts; {bin} --ready --status='shell up'; while :; do {bin} WATCHDOG=1; sleep 0.3; done",
        bin = bin.display()
    );
    sb.write_config(&sb.config(json!({ "sh": notify_service(script) })));
    let _d = sb.start_daemon();
    let pid = sb.wait_settled("sh", None, T);
    assert_eq!(sb.starts("sh"), [pid as i32], "the shell is the service");
    assert_eq!(sb.status_of("sh")["status_text"], "shell up");
    // Healthy for longer than its timeout: the pings arrive.
    std::thread::sleep(Duration::from_secs(3));
    let row = sb.status_of("sh");
    assert_eq!(row["health"], "healthy", "{row}");
    assert_eq!(row["pid"].as_u64(), Some(pid));
    assert_eq!(sb.starts("sh").len(), 1);
}

#[test]
fn python_sdnotify_service() {
    let test = "python_sdnotify_service";
    let usable = std::process::Command::new("python3")
        .args(["-c", "import sdnotify"])
        .status()
        .is_ok_and(|s| s.success());
    if !usable {
        assert!(!in_ci(), "python3 with sdnotify is missing under CI");
        return skip(
            test,
            "python3 with sdnotify is not installed (.ci/run installs it: pip install sdnotify)",
        );
    }
    let sb = sandbox();
    std::fs::write(
        sb.path().join("svc.py"),
        "import os, time\n\
         from sdnotify import SystemdNotifier\n\
         open('py.starts', 'a').write(f'{os.getpid()}\\n')\n\
         n = SystemdNotifier()\n\
         n.notify('READY=1\\nSTATUS=python up')\n\
         while True:\n\
         \x20   n.notify('WATCHDOG=1')\n\
         \x20   time.sleep(0.3)\n",
    )
    .unwrap();
    sb.write_config(&sb.config(json!({ "py": notify_service("exec python3 svc.py".into()) })));
    let _d = sb.start_daemon();
    let pid = sb.wait_settled("py", None, T);
    assert_eq!(sb.starts("py"), [pid as i32]);
    assert_eq!(sb.status_of("py")["status_text"], "python up");
    std::thread::sleep(Duration::from_secs(3));
    let row = sb.status_of("py");
    assert_eq!(row["health"], "healthy", "{row}");
    assert_eq!(sb.starts("py").len(), 1, "restarted");
}

#[test]
fn a_user_service_owns_its_socket_and_only_it_may_speak() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let test = "a_user_service_owns_its_socket_and_only_it_may_speak";
    let nobody = match watchdog_tests::users::nobody() {
        Ok(u) => u,
        Err(why) => return skip(test, &why),
    };
    let bin = Path::new(env!("CARGO_BIN_EXE_wd-notify-service"));
    if !watchdog_tests::users::reachable_by_others(bin) {
        return skip(
            test,
            &format!(
                "`nobody` cannot reach {} (a parent folder is not world-searchable)",
                bin.display()
            ),
        );
    }
    let sb = sandbox();
    // Passable (not listable) for the service's user, as /run is.
    std::fs::set_permissions(sb.path(), std::fs::Permissions::from_mode(0o711)).unwrap();
    let starts = sb.path().join("api.starts");
    std::fs::write(&starts, b"").unwrap();
    std::os::unix::fs::chown(&starts, Some(nobody.uid.as_raw()), None).unwrap();
    let mut api = notify_service(notify_cmd("api", "--status 'as nobody'"));
    api["user"] = json!("nobody");
    sb.write_config(&sb.config(json!({ "api": api })));
    let _d = sb.start_daemon();
    let pid = sb.wait_settled("api", None, T);
    assert_eq!(sb.status_of("api")["status_text"], "as nobody");

    let dir = std::fs::metadata(sb.path().join("notify")).unwrap();
    assert_eq!((dir.uid(), dir.mode() & 0o7777), (0, 0o711), "the folder");
    let socket = socket_of(&sb, "api");
    let meta = std::fs::symlink_metadata(&socket).unwrap();
    assert_eq!(
        (meta.uid(), meta.mode() & 0o7777),
        (nobody.uid.as_raw(), 0o600),
        "the socket is the service user's alone"
    );
    // Root may write to any socket, but it is not the service's user: dropped.
    UnixDatagram::unbound()
        .unwrap()
        .send_to(b"WATCHDOG=trigger", &socket)
        .unwrap();
    wait_until("the refusal counted", T, || {
        String::from_utf8_lossy(&sb.ctl(&["status", "api"]).stdout).contains("1 dropped")
    });
    let row = sb.status_of("api");
    assert_eq!(row["health"], "healthy", "{row}");
    assert_eq!(row["pid"].as_u64(), Some(pid));
    let log = std::fs::read_to_string(sb.path().join("watchdogd.log")).unwrap();
    assert!(log.contains("not the service's user"), "{log}");
}

#[test]
fn both_wants_the_file_and_the_socket_fresh() {
    let sb = sandbox();
    let stop = sb.path().join("stop-file");
    let extra = format!(
        "--heartbeat hb/b.json --heartbeat-stop-file {}",
        stop.display()
    );
    let mut b = notify_service(notify_cmd("b", &extra));
    b["heartbeat"] = json!("both");
    b["heartbeat_path"] = json!("hb/b.json");
    sb.write_config(&sb.config(json!({ "b": b })));
    let _d = sb.start_daemon();
    let first = sb.wait_settled("b", None, T);
    let detail = sb.ctl_ok(&["status", "b"]);
    assert!(
        detail.contains("hb/b.json") && detail.contains("b.sock"),
        "{detail}"
    );
    // Still pinging, but the file goes stale: that alone fails it.
    std::fs::write(&stop, b"").unwrap();
    let row = wait_health(&sb, "b", "timed_out");
    assert!(
        row["detail"]
            .as_str()
            .unwrap()
            .starts_with("heartbeat file:"),
        "{row}"
    );
    std::fs::remove_file(&stop).unwrap();
    sb.wait_healthy("b", Some(first), T);
}
