//! `metrics` and the versions (`--version`, `version`): mirrors `src/commands/daemon.rs`.

use protocol::{ErrorKind, PROTOCOL_VERSION, Request, Response, VersionReply};

use crate::fake_daemon::FakeDaemon;
use crate::replies::error;
use crate::{ctl, expect_exit, run_exit};

#[test]
fn metrics_are_printed_as_is_even_with_json() {
    let text = "# TYPE watchdog_up gauge\nwatchdog_up 1\n# EOF\n";
    let d = FakeDaemon::start(vec![
        Some(Response::Metrics(text.into())),
        Some(Response::Metrics(text.into())),
    ]);
    for args in [&["metrics"][..], &["metrics", "--json"]] {
        let o = run_exit(&d.socket, args, 0);
        assert_eq!(o.stdout, text);
    }
    assert_eq!(d.requests(), vec![Request::Metrics, Request::Metrics]);
}

#[test]
fn version_with_the_daemon_down_still_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("none.sock");
    let first = format!(
        "watchdogctl {} (protocol {PROTOCOL_VERSION})\n",
        env!("CARGO_PKG_VERSION")
    );
    for flag in ["--version", "-V"] {
        let out = run_exit(&socket, &[flag], 0).stdout;
        assert!(out.starts_with(&first), "{out}");
        assert!(
            out.contains(&format!(
                "\nwatchdogd: unreachable at {} (",
                socket.display()
            )),
            "{out}"
        );
    }
    let o = run_exit(&socket, &["version"], 3);
    assert!(o.stdout.starts_with(&first));
    let o = run_exit(&socket, &["--version", "--json"], 0);
    let v: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    assert_eq!(v["watchdogctl"]["protocol"], PROTOCOL_VERSION);
    assert_eq!(v["watchdogd"], serde_json::Value::Null);
    assert!(v["error"].is_string());
    // An unreadable config names no socket: still a version and exit 0.
    let o = ctl()
        .args(["--version", "-c"])
        .arg(dir.path().join("missing.json"))
        .output()
        .unwrap();
    let o = expect_exit(&o, 0, "--version with an unreadable config");
    assert!(
        o.stdout
            .contains("\nwatchdogd: unreachable (cannot read config "),
        "{}",
        o.stdout
    );
}

#[test]
fn version_shows_the_daemon_or_the_mismatch() {
    let mismatch =
        "protocol version mismatch: client speaks 4 (watchdogctl 0.1.0), daemon speaks 5";
    let d = FakeDaemon::start(vec![
        Some(Response::Version(VersionReply {
            daemon_version: "0.1.0".into(),
            protocol: PROTOCOL_VERSION,
            daemon_pid: 99,
            started_ms: 1_770_272_249_601,
        })),
        Some(error(ErrorKind::Protocol, mismatch)),
        Some(error(ErrorKind::Protocol, mismatch)),
    ]);
    let o = run_exit(&d.socket, &["version"], 0);
    assert!(o.stdout.ends_with(&format!(
        "\nwatchdogd 0.1.0 (protocol {PROTOCOL_VERSION}, pid 99, up since 2026-02-05T06:17:29Z)\n"
    )));
    let o = run_exit(&d.socket, &["--version"], 0);
    assert!(
        o.stdout
            .ends_with(&format!("\nwatchdogd: incompatible: {mismatch}\n"))
    );
    run_exit(&d.socket, &["version"], 2);
    assert_eq!(d.requests(), vec![Request::Version; 3]);
}
