//! A heartbeat path never opens a device: a heartbeat linked to a terminal is refused by type
//! before any open, so the daemon (a session leader, as under systemd) never gets a controlling
//! terminal, and a ^C typed on that terminal cannot stop it. A link to a regular file reads as
//! before.

use std::io::Write;
use std::os::unix::process::CommandExt;

use serde_json::json;
use watchdog_tests::wait_until;

use super::T;

/// The `tty_nr` field of `/proc/PID/stat`: 0 means no controlling terminal.
fn controlling_tty(pid: i32) -> i64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let rest = &stat[stat.rfind(')').unwrap() + 1..];
    rest.split_whitespace().nth(4).unwrap().parse().unwrap()
}

#[test]
fn a_heartbeat_linked_to_a_terminal_is_never_opened() {
    let sb = crate::sandbox();
    let pty = nix::pty::openpty(None, None).expect("a pseudo-terminal");
    let tty = nix::unistd::ttyname(&pty.slave).expect("its name");
    // Ours only: the daemon must not simply inherit them.
    for fd in [&pty.master, &pty.slave] {
        nix::fcntl::fcntl(
            fd,
            nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
        )
        .unwrap();
    }
    std::os::unix::fs::symlink(&tty, sb.heartbeat("tty")).unwrap();
    // `current -> release-42/hb.json`, as deploy tools lay heartbeats out.
    std::fs::create_dir(sb.path().join("hb/release-42")).unwrap();
    std::os::unix::fs::symlink("release-42/hb.json", sb.heartbeat("current")).unwrap();
    let mut current = sb.service("current", "");
    current["commands"]["start"] = json!(sb.service_cmd("current", "").replace(
        "--heartbeat hb/current.json",
        "--heartbeat hb/release-42/hb.json"
    ));
    let cfg = sb.config(json!({ "tty": sb.placeholder("tty"), "current": current }));
    sb.write_config(&cfg);
    // A session leader without a terminal, as systemd starts it: opening a tty without
    // O_NOCTTY would make it the daemon's controlling terminal.
    let d = sb.start_daemon_setup(&sb.config_path(), &sb.socket(), |cmd| unsafe {
        cmd.pre_exec(|| nix::unistd::setsid().map(drop).map_err(Into::into));
    });
    sb.ctl_ok(&["on", "current"]);
    sb.wait_healthy("current", None, T);
    wait_until("the terminal heartbeat to be judged", T, || {
        sb.status_of("tty")["detail"]
            .as_str()
            .is_some_and(|d| d.contains("character device"))
    });
    assert_eq!(sb.status_of("tty")["health"], "no_heartbeat");
    assert_eq!(
        controlling_tty(d.pid()),
        0,
        "the daemon acquired a terminal"
    );
    let opened: Vec<_> = std::fs::read_dir(format!("/proc/{}/fd", d.pid()))
        .unwrap()
        .flatten()
        .filter_map(|e| std::fs::read_link(e.path()).ok())
        .filter(|target| *target == tty)
        .collect();
    assert!(opened.is_empty(), "the daemon holds the terminal open");
    // ^C on that terminal reaches nobody in the daemon's session.
    let mut master = std::fs::File::from(pty.master);
    master.write_all(b"\x03\x03").unwrap();
    sb.ctl_ok(&["status"]);
    assert!(watchdog_tests::alive(d.pid()));
}

#[test]
fn a_heartbeat_linked_to_a_file_the_user_may_not_read_tells_nothing_of_it() {
    let Some((nobody, sb)) = super::hostile_sandbox("heartbeat links to root's files") else {
        return;
    };
    // A root-only file shaped like a heartbeat, holding a secret.
    let secret = sb.path().join("secret.json");
    std::fs::write(
        &secret,
        br#"{"process_key": "x", "pid": "TOP-SECRET-TOKEN-123", "timestamp": "TOP-SECRET-TOKEN-123", "status": "TOP-SECRET-TOKEN-123"}"#,
    )
    .unwrap();
    std::fs::set_permissions(&secret, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    std::os::unix::fs::symlink(&secret, sb.heartbeat("link")).unwrap();
    // And a FIFO `nobody` planted as its heartbeat.
    nix::unistd::mkfifo(
        &sb.heartbeat("fifo"),
        nix::sys::stat::Mode::from_bits_truncate(0o666),
    )
    .unwrap();
    super::give(&sb.heartbeat("fifo"), &nobody);
    let mut link = sb.placeholder("link");
    link["user"] = json!("nobody");
    let mut fifo = sb.placeholder("fifo");
    fifo["user"] = json!("nobody");
    let cfg = sb.config(json!({ "link": link, "fifo": fifo }));
    sb.write_config(&cfg);
    let d = sb.start_daemon();
    wait_until("both to be judged", T, || {
        sb.status_of("link")["detail"]
            .as_str()
            .is_some_and(|d| d.contains("owned by uid 0"))
            && sb.status_of("fifo")["detail"]
                .as_str()
                .is_some_and(|d| d.contains("FIFO"))
    });
    let detail = sb.ctl_exit(&["status", "link"], 1);
    let history = sb.ctl_ok(&["history", "link"]);
    for (what, text) in [
        ("status", detail),
        ("history", history),
        ("the log", d.log()),
    ] {
        assert!(
            !text.contains("TOP-SECRET"),
            "{what} shows what root read for the link: {text}"
        );
    }
}
