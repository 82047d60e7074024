//! What ships in contrib/: service-manager files that real parsers accept, the notify protocol
//! as systemd speaks it, and heartbeat writers for other languages read as healthy.

use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;
use watchdog_tests::{bins, wait_until};

use crate::sandbox;

const T: Duration = Duration::from_secs(20);

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn have(tool: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool}"))
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Kills and reaps a child we spawned by hand.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn systemd_units_pass_systemd_analyze_verify() {
    if !have("systemd-analyze") {
        eprintln!("skipped: systemd-analyze is not installed");
        return;
    }
    let sb = sandbox();
    let daemon = bins().watchdogd.display().to_string();
    for (unit, user) in [
        ("systemd/watchdogd.service", false),
        ("systemd/user/watchdogd.service", true),
    ] {
        // verify insists that ExecStart's binary exists: point it at the one just built.
        let text = std::fs::read_to_string(repo().join("contrib").join(unit)).unwrap();
        let text = text
            .replace("/usr/local/bin/watchdogd", &daemon)
            .replace("%h/.cargo/bin/watchdogd", &daemon);
        for must in [
            "Type=notify",
            "KillMode=process",
            "ExecReload=",
            "WatchdogSec=",
            "RuntimeDirectory=",
            "StateDirectory=",
        ] {
            assert!(text.contains(must), "{unit} lacks {must}");
        }
        let path = sb.path().join("watchdogd.service");
        std::fs::write(&path, text).unwrap();
        let runtime = sb.path().join("xdg");
        std::fs::create_dir_all(&runtime).unwrap();
        let mut cmd = Command::new("systemd-analyze");
        if user {
            cmd.arg("--user").env("XDG_RUNTIME_DIR", &runtime);
        }
        let out = cmd.arg("verify").arg(&path).output().unwrap();
        assert!(
            out.status.success(),
            "{unit}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn the_launchd_plist_parses_with_a_real_plist_parser() {
    if !have("python3") {
        eprintln!("skipped: python3 is not installed");
        return;
    }
    let plist = repo().join("contrib/launchd/com.github.watchdog.watchdogd.plist");
    let out = Command::new("python3")
        .arg("-c")
        .arg(
            "import json, plistlib, sys; print(json.dumps(plistlib.load(open(sys.argv[1], 'rb'))))",
        )
        .arg(&plist)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["KeepAlive"], true);
    assert_eq!(doc["AbandonProcessGroup"], true);
    assert!(doc["StandardOutPath"].is_string() && doc["StandardErrorPath"].is_string());
    assert_eq!(doc["ProgramArguments"][0], "/usr/local/bin/watchdogd");
}

#[test]
fn watchdogd_speaks_the_notify_protocol() {
    let sb = sandbox();
    sb.write_config(&sb.config(json!({ "api": sb.service("api", "") })));
    let notify = sb.path().join("notify.sock");
    let sock = UnixDatagram::bind(&notify).unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let child = sb
        .watchdogd_command()
        .arg("--config")
        .arg(sb.config_path())
        .env("NOTIFY_SOCKET", &notify)
        .env("WATCHDOG_USEC", "400000")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut child = Reaped(child);
    let mut messages = Vec::new();
    let deadline = Instant::now() + T;
    let mut buf = [0u8; 4096];
    while Instant::now() < deadline && !messages.iter().any(|m: &String| m.contains("WATCHDOG=1")) {
        if let Ok(n) = sock.recv(&mut buf) {
            messages.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
    }
    let ready = messages
        .iter()
        .position(|m| m.contains("READY=1"))
        .expect("READY=1 sent");
    let ping = messages
        .iter()
        .position(|m| m.contains("WATCHDOG=1"))
        .expect("WATCHDOG=1 sent");
    assert!(ready < ping, "READY=1 comes first: {messages:?}");
    assert!(
        messages[ready].contains("STATUS=supervising 1 services"),
        "{messages:?}"
    );
    assert!(
        messages[ready].contains(&format!("MAINPID={pid}")),
        "{messages:?}"
    );
    // By READY=1 the socket accepts: a status right now succeeds.
    sb.ctl_ok(&["status"]);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let mut stopping = false;
    let deadline = Instant::now() + T;
    while Instant::now() < deadline && !stopping {
        if let Ok(n) = sock.recv(&mut buf) {
            stopping = String::from_utf8_lossy(&buf[..n]).contains("STOPPING=1");
        }
    }
    assert!(stopping, "STOPPING=1 sent at shutdown");
    assert_eq!(child.0.wait().unwrap().code(), Some(0));
}

/// A config whose one service is started by `start` and reads the heartbeat at hb/KEY.json.
fn writer_config(sb: &watchdog_tests::Sandbox, key: &str, start: String) {
    let mut svc = sb.service(key, "");
    svc["commands"]["start"] = json!(start);
    svc["timeout_seconds"] = json!(5);
    sb.write_config(&sb.config(json!({ key: svc })));
}

#[test]
fn the_python_heartbeat_writer_is_read_as_healthy() {
    if !have("python3") {
        eprintln!("skipped: python3 is not installed");
        return;
    }
    let sb = sandbox();
    let lib = repo().join("contrib/heartbeat");
    writer_config(
        &sb,
        "py",
        format!(
            "echo $$ >> py.starts; exec python3 -c 'import sys, time; sys.path.insert(0, \"{}\"); from heartbeat import HeartbeatWriter; w = HeartbeatWriter(heartbeat_dir=\"hb\", process_key=\"py\")\nwhile True:\n    w.beat(); time.sleep(0.2)'",
            lib.display()
        ),
    );
    let _d = sb.start_daemon();
    sb.ctl_ok(&["on", "py"]);
    let pid = sb.wait_healthy("py", None, T);
    assert_eq!(sb.starts("py"), vec![pid as i32]);
}

#[test]
fn the_shell_heartbeat_function_is_read_as_healthy() {
    let sb = sandbox();
    let lib = repo().join("contrib/heartbeat/heartbeat.sh");
    writer_config(
        &sb,
        "sh",
        format!(
            ". {}; echo $$ >> sh.starts; while :; do watchdog_beat hb/sh.json sh; sleep 0.2; done",
            lib.display()
        ),
    );
    let _d = sb.start_daemon();
    sb.ctl_ok(&["on", "sh"]);
    let pid = sb.wait_healthy("sh", None, T);
    assert_eq!(sb.starts("sh"), vec![pid as i32]);
}

#[test]
fn the_demo_service_from_contrib_is_read_as_healthy() {
    let sb = sandbox();
    let demo = repo().join("contrib/demo/demo-service.sh");
    writer_config(
        &sb,
        "demo",
        format!(
            "echo $$ >> demo.starts; exec {} hb/demo.json demo",
            demo.display()
        ),
    );
    let _d = sb.start_daemon();
    sb.ctl_ok(&["on", "demo"]);
    sb.wait_healthy("demo", None, T);
    wait_until("the demo's second beat", T, || {
        sb.status_of("demo")["detail"]
            .as_str()
            .unwrap_or("")
            .contains("iteration 2")
    });
}
