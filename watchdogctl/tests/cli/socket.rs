//! Which socket is dialled (`--socket`, `WATCHDOG_SOCKET`, `-c`/`WATCHDOG_CONFIG`, the default)
//! and what an unreachable daemon is told as: mirrors `src/socket.rs`.

use crate::fake_daemon::FakeDaemon;
use crate::replies::status;
use crate::{ctl, expect_exit, run_exit, stderr};

#[test]
fn unreachable_daemon_exits_3() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("none.sock");
    let err = run_exit(&socket, &["status"], 3).stderr;
    assert!(
        err.starts_with(&format!(
            "watchdogctl: cannot reach watchdogd at {} (given with --socket): ",
            socket.display()
        )),
        "{err}"
    );
    assert!(
        err.ends_with("Is watchdogd running? If it runs with another config, say which: `watchdogctl -c CONFIG …` (or WATCHDOG_CONFIG=CONFIG), or `--socket PATH`\n"),
        "{err}"
    );
}

#[test]
fn cannot_reach_says_how_the_socket_was_chosen() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("none.sock");
    let config = dir.path().join("c.json");
    std::fs::write(
        &config,
        format!(
            r#"{{"socket_path": "{}", "processes": {{}}}}"#,
            socket.display()
        ),
    )
    .unwrap();
    let env_only = ctl()
        .env("WATCHDOG_SOCKET", &socket)
        .env_remove("WATCHDOG_CONFIG")
        .arg("status")
        .output()
        .unwrap();
    let from_config = ctl()
        .env_remove("WATCHDOG_SOCKET")
        .arg("-c")
        .arg(&config)
        .arg("status")
        .output()
        .unwrap();
    for (o, how) in [
        (env_only, "(given in WATCHDOG_SOCKET)".to_owned()),
        (
            from_config,
            format!("(the socket_path of config {})", config.display()),
        ),
    ] {
        let err = expect_exit(&o, 3, format_args!("status {how}")).stderr;
        assert!(
            err.starts_with(&format!(
                "watchdogctl: cannot reach watchdogd at {} {how}: ",
                socket.display()
            )),
            "{err}"
        );
    }
    // Nothing given: the default, and how to name another.
    let default = ctl()
        .env_remove("WATCHDOG_SOCKET")
        .env_remove("WATCHDOG_CONFIG")
        .env("XDG_RUNTIME_DIR", dir.path())
        .arg("status")
        .output()
        .unwrap();
    let err = stderr(&default);
    assert!(
        err.contains("(the default socket: neither -c/--config, --socket, WATCHDOG_CONFIG nor WATCHDOG_SOCKET was given)")
            && err.contains("`watchdogctl -c CONFIG …`"),
        "{err}"
    );
}

#[test]
fn socket_comes_from_env_then_config() {
    let d = FakeDaemon::start(vec![
        Some(status(vec![])),
        Some(status(vec![])),
        Some(status(vec![])),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.json");
    let other = dir.path().join("other.json");
    std::fs::write(
        &config,
        format!(r#"{{"socket_path": {:?}}}"#, d.socket.display().to_string()),
    )
    .unwrap();
    std::fs::write(&other, r#"{"socket_path": "nowhere.sock"}"#).unwrap();

    // WATCHDOG_SOCKET beats --config.
    let o = ctl()
        .env("WATCHDOG_SOCKET", &d.socket)
        .args(["status", "--config"])
        .arg(&other)
        .output()
        .unwrap();
    expect_exit(&o, 0, "WATCHDOG_SOCKET beating --config");
    // --config (an empty WATCHDOG_SOCKET counts as unset), and WATCHDOG_CONFIG.
    let o = ctl()
        .env("WATCHDOG_SOCKET", "")
        .arg("-c")
        .arg(&config)
        .arg("status")
        .output()
        .unwrap();
    expect_exit(&o, 0, "--config with an empty WATCHDOG_SOCKET");
    let o = ctl()
        .env("WATCHDOG_CONFIG", &config)
        .arg("status")
        .output()
        .unwrap();
    expect_exit(&o, 0, "WATCHDOG_CONFIG");
    // --socket beats WATCHDOG_SOCKET: this one must fail against a missing socket.
    let o = ctl()
        .env("WATCHDOG_SOCKET", &d.socket)
        .arg("--socket")
        .arg(dir.path().join("missing.sock"))
        .arg("status")
        .output()
        .unwrap();
    expect_exit(&o, 3, "--socket beating WATCHDOG_SOCKET");
}

#[test]
fn bad_config_and_usage_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.json");
    std::fs::write(&config, "{ nope").unwrap();
    let o = ctl().arg("-c").arg(&config).arg("status").output().unwrap();
    let o = expect_exit(&o, 2, "an unreadable config");
    assert!(o.stderr.starts_with("watchdogctl: config "), "{}", o.stderr);
    let o = ctl().args(["restart"]).output().unwrap();
    expect_exit(&o, 2, "restart without a key");
    let o = ctl().args(["--help"]).output().unwrap();
    let o = expect_exit(&o, 0, "--help");
    assert!(o.stdout.contains("start-all"));
}
