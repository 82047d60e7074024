//! Finding the daemon: the socket through `-c`, the environment and the default, and an
//! unreachable daemon (exit 3) named with its socket.

use std::os::unix::net::UnixListener;

use watchdog_tests::{ctl_at, ctl_command, expect_exit, run_ctl};

use super::{NEVER, json_of, one_service, stderr, stdout};
use crate::sandbox;

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
