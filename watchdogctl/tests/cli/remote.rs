//! `-H`/`--hosts` (`src/remote/`, and `src/commands/`'s fleet, rolling and dial), without an SSH
//! server: usage errors that must be caught before anything is contacted, and the transport
//! itself through a stand-in for ssh that runs the remote command in a local POSIX shell, as
//! sshd would hand it to the login shell. The end-to-end tests in the workspace's `tests/` crate use a real sshd.

use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

use protocol::codec::{decode_request, encode_response, read_frame, write_frame};
use protocol::{MAX_REQUEST_FRAME, Request, Response, StatusReply};

use crate::{ctl, expect_exit};

/// Runs a prepared watchdogctl command to its end.
fn output(cmd: &mut Command) -> Output {
    cmd.output().expect("run watchdogctl")
}

/// An ssh stand-in: runs its last argument (the remote command) with `sh -c`, and records its
/// whole argv, one word a line, in `argv.txt` next to it.
fn fake_ssh(dir: &Path) -> PathBuf {
    let path = dir.join("fake-ssh");
    let log = dir.join("argv.txt");
    let script = format!(
        "#!/bin/sh\nfor a; do printf '%s\\n' \"$a\" >> '{}'; last=$a; done\nexec sh -c \"$last\"\n",
        log.display()
    );
    std::fs::write(&path, script).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// A daemon stand-in answering each of `connections` requests with an empty status.
fn fake_daemon(socket: &Path, connections: usize) -> Arc<Mutex<Vec<Request>>> {
    let listener = UnixListener::bind(socket).unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    std::thread::spawn(move || {
        for conn in listener.incoming().take(connections) {
            let mut conn = conn.unwrap();
            let frame = read_frame(&mut conn, MAX_REQUEST_FRAME).unwrap();
            log.lock().unwrap().push(decode_request(&frame).unwrap());
            let reply = Response::Status(StatusReply {
                daemon_version: "0.1.0".into(),
                daemon_pid: 1,
                services: Vec::new(),
                audit_rows_dropped: 0,
                daemon_started_ms: 0,
            });
            write_frame(&mut conn, &encode_response(&reply).unwrap()).unwrap();
        }
    });
    seen
}

#[test]
fn remote_usage_errors_exit_2_before_contacting_anything() {
    // A stand-in ssh that would fail loudly if it were ever run.
    let dir = tempfile::tempdir().unwrap();
    let never = dir.path().join("never");
    std::fs::write(&never, "#!/bin/sh\necho ran >&2\nexit 99\n").unwrap();
    std::fs::set_permissions(&never, std::fs::Permissions::from_mode(0o755)).unwrap();
    let cases: [(&[&str], &str); 9] = [
        (
            &["-H", "bad host", "status"],
            "-H: invalid host \"bad host\"",
        ),
        (&["-H", "a", "--hosts", "b", "status"], "cannot be combined"),
        (
            &["-H", "a", "--socket", "/x.sock", "status"],
            "?socket=PATH",
        ),
        (&["restart", "api", "--rolling"], "--rolling needs --hosts"),
        (
            &["status", "--max-parallel", "2"],
            "--max-parallel needs --hosts",
        ),
        (
            &["on", "api", "--hosts", "a,b"],
            "on works on one host at a time",
        ),
        (&["restart", "api", "--hosts", "a,b"], "needs --rolling"),
        (
            &["status", "--hosts", "a,ssh://b/x"],
            "--hosts: invalid host \"ssh://b/x\"",
        ),
        (
            &["dial-stdio", "-H", "a"],
            "dial-stdio bridges to a local socket",
        ),
    ];
    for (args, message) in cases {
        let o = output(ctl().env("WATCHDOG_SSH", &never).args(args));
        let o = expect_exit(&o, 2, format_args!("{args:?}"));
        assert!(o.stderr.contains(message), "{args:?}: {}", o.stderr);
        assert!(!o.stderr.contains("ran"), "{args:?}: ssh was run");
        assert!(o.stdout.is_empty());
    }
    let file = dir.path().join("hosts.txt");
    std::fs::write(&file, "web1\nweb 2\n").unwrap();
    let o = output(
        ctl()
            .env("WATCHDOG_SSH", &never)
            .args(["status", "--hosts"])
            .arg(format!("@{}", file.display())),
    );
    let o = expect_exit(&o, 2, "a hosts file with a bad line");
    assert!(
        o.stderr
            .contains("hosts.txt line 2: invalid host \"web 2\""),
        "{}",
        o.stderr
    );
}

#[test]
fn the_remote_command_is_quoted_for_the_remote_shell() {
    // A socket path with a space and a quote, which only survives the shell if quoted.
    let dir = tempfile::tempdir().unwrap();
    let odd = dir.path().join("it's here");
    std::fs::create_dir(&odd).unwrap();
    let socket = odd.join("w.sock");
    let seen = fake_daemon(&socket, 2);
    let ssh = fake_ssh(dir.path());
    let url = format!(
        "ssh://deploy@web1:2222?socket={}",
        socket.display().to_string().replace(' ', "%20")
    );
    let o = output(
        ctl()
            .env(
                "WATCHDOG_SSH",
                format!("'{}' -o BatchMode=yes", ssh.display()),
            )
            .env("WATCHDOG_REMOTE_CTL", env!("CARGO_BIN_EXE_watchdogctl"))
            .args(["-H", &url, "status", "--json"]),
    );
    let o = expect_exit(&o, 0, "status over -H");
    assert_eq!(o.stdout, "[]\n");
    assert_eq!(*seen.lock().unwrap(), [Request::Status { key: None }]);
    let argv = std::fs::read_to_string(dir.path().join("argv.txt")).unwrap();
    let words: Vec<&str> = argv.lines().collect();
    assert_eq!(
        &words[..14],
        [
            // The user's own words first: for ssh the first value of an option wins.
            "-o",
            "BatchMode=yes",
            "-o",
            "ConnectTimeout=10",
            "-o",
            "ServerAliveInterval=5",
            "-o",
            "ServerAliveCountMax=3",
            "-T",
            "-l",
            "deploy",
            "-p",
            "2222",
            "--"
        ]
    );
    assert_eq!(words[14], "web1");
    assert_eq!(
        words[15],
        format!(
            "{} dial-stdio '--socket={}'",
            env!("CARGO_BIN_EXE_watchdogctl"),
            socket.display().to_string().replace('\'', "'\\''")
        )
    );

    // The same host through --hosts: one merged table with a HOST column.
    let o = output(
        ctl()
            .env("WATCHDOG_SSH", &ssh)
            .env("WATCHDOG_REMOTE_CTL", env!("CARGO_BIN_EXE_watchdogctl"))
            .args(["status", "--hosts", &url]),
    );
    let o = expect_exit(&o, 0, "status over --hosts");
    assert!(o.stdout.starts_with("HOST  KEY  NAME"));
}

#[test]
fn a_socket_path_that_starts_with_a_dash_stays_a_socket_path() {
    // Relative to the remote login's folder (here the stand-in's working folder).
    let dir = tempfile::tempdir().unwrap();
    let seen = fake_daemon(&dir.path().join("-w.sock"), 1);
    let ssh = fake_ssh(dir.path());
    let o = output(
        ctl()
            .current_dir(dir.path())
            .env("WATCHDOG_SSH", &ssh)
            .env("WATCHDOG_REMOTE_CTL", env!("CARGO_BIN_EXE_watchdogctl"))
            .args(["-H", "web1?socket=-w.sock", "status", "--json"]),
    );
    let o = expect_exit(&o, 0, "a socket path starting with -");
    assert_eq!(o.stdout, "[]\n");
    assert_eq!(*seen.lock().unwrap(), [Request::Status { key: None }]);
    let argv = std::fs::read_to_string(dir.path().join("argv.txt")).unwrap();
    assert!(
        argv.ends_with(
            "\nweb1\nwatchdogctl dial-stdio --socket=-w.sock\n"
                .replace("watchdogctl", env!("CARGO_BIN_EXE_watchdogctl"))
                .as_str()
        ),
        "{argv}"
    );
}

#[test]
fn a_remote_ctl_with_a_control_character_is_a_usage_error() {
    for (flag, env) in [
        (Some("/opt/ctl\nreboot"), None),
        (None, Some("/opt/ctl\treboot")),
    ] {
        let mut cmd = ctl();
        cmd.env("WATCHDOG_SSH", "/nonexistent/ssh");
        if let Some(flag) = flag {
            cmd.args(["--remote-ctl", flag]);
        }
        if let Some(env) = env {
            cmd.env("WATCHDOG_REMOTE_CTL", env);
        }
        let o = output(cmd.args(["-H", "web1", "status"]));
        let o = expect_exit(&o, 2, "a control character in an ssh setting");
        assert!(
            o.stderr.contains("contains control characters"),
            "{}",
            o.stderr
        );
        assert!(o.stdout.is_empty());
    }
}

#[test]
fn a_remote_side_that_never_answers_ends_at_the_restart_timeout_and_ssh_is_ended() {
    // A stand-in ssh that "connects" and then says nothing: it reads its stdin to the end and
    // holds its stdout open (as fd 3) without writing to it. It records its PID.
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("ssh.pid");
    let mute = dir.path().join("mute-ssh");
    std::fs::write(
        &mute,
        format!(
            "#!/bin/sh\necho $$ > '{}'\nexec cat 3>&1 >/dev/null\n",
            pid_file.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&mute, std::fs::Permissions::from_mode(0o755)).unwrap();
    let started = std::time::Instant::now();
    let o = output(ctl().env("WATCHDOG_SSH", &mute).args([
        "-H",
        "web1",
        "restart",
        "api",
        "--wait",
        "--timeout",
        "1",
    ]));
    // A hang bound with a wide margin, not a performance figure.
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
    let o = expect_exit(&o, 1, "a restart that outlives --timeout");
    assert_eq!(
        o.stderr,
        "watchdogctl: restart api did not finish within --timeout 1s: no reply from web1 within \
         1s: ssh reported no connection failure, but neither the remote watchdogctl nor \
         watchdogd answered; it may still complete (see status)\n"
    );
    // The stand-in was ended with the call, not left behind.
    let pid: i32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists()
            || std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .is_ok_and(|s| s.contains(") Z ")),
        "the ssh stand-in {pid} still runs"
    );
}
