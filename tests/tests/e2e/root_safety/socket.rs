//! The socket under pressure: read-only clients cannot fill the connection cap against root; a
//! client that never reads cannot hold shutdown up; a refused uid looping on the socket costs a
//! log line and an audit row a minute, not one per request; a reply too big for a frame is an
//! error reply, never a dropped connection.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;
use watchdog_tests::users::run_as;

use super::hostile_sandbox;

/// `wd-flood` as `user`, its stdout piped; killed (by PID) when dropped.
struct Flood(Child);

impl Flood {
    fn start(
        sb: &watchdog_tests::Sandbox,
        user: Option<&nix::unistd::User>,
        args: &[&str],
    ) -> Flood {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_wd-flood"));
        cmd.arg("--socket")
            .arg(sb.socket())
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        if let Some(u) = user {
            run_as(&mut cmd, u, Some(8192));
        }
        Flood(cmd.spawn().expect("wd-flood"))
    }

    /// Its first line of output.
    fn line(&mut self) -> String {
        let mut line = String::new();
        BufReader::new(self.0.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        line.trim().to_owned()
    }
}

impl Drop for Flood {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn read_only_followers_cannot_lock_root_out() {
    let Some((nobody, sb)) = hostile_sandbox("connection reserve") else {
        return;
    };
    let mut cfg = sb.config(json!({ "api": sb.placeholder("api") }));
    cfg["socket_mode"] = json!("0666");
    cfg["read_users"] = json!(["nobody"]);
    sb.write_config(&cfg);
    let _d = sb.start_daemon();
    let mut flood = Flood::start(
        &sb,
        Some(&nobody),
        &[
            "--mode",
            "connections",
            "--count",
            "2200",
            "--request",
            "events",
        ],
    );
    let opened = flood.line();
    assert!(opened.starts_with("opened "), "{opened}");
    // Every ordinary place is a follower of nobody's now: nobody gets no more ...
    let mut cmd = watchdog_tests::ctl_command();
    cmd.arg("--socket").arg(sb.socket()).arg("status");
    run_as(&mut cmd, &nobody, None);
    let out = watchdog_tests::run_ctl(cmd);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("too many connections"),
        "the cap was not reached: {err}"
    );
    // ... and root still gets in.
    let rows = sb.status();
    assert_eq!(rows.len(), 1);
    sb.ctl_ok(&["restart", "api"]);
}

#[test]
fn a_client_that_never_reads_cannot_hold_up_shutdown() {
    let sb = crate::sandbox();
    sb.write_config(&sb.config(json!({ "api": sb.placeholder("api") })));
    let mut d = sb.start_daemon();
    let mut flood = Flood::start(
        &sb,
        None,
        &[
            "--mode",
            "noread",
            "--count",
            "100000",
            "--request",
            "status",
        ],
    );
    assert_eq!(flood.line(), "sent");
    let started = Instant::now();
    assert_eq!(d.stop(), Some(0), "a clean stop");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "shutdown waited {:?} for a client that does not read",
        started.elapsed()
    );
}

#[test]
fn a_refused_uid_flooding_the_socket_is_reported_once_a_minute() {
    let Some((nobody, sb)) = hostile_sandbox("refusal flood") else {
        return;
    };
    let mut cfg = sb.config(json!({ "api": sb.placeholder("api") }));
    cfg["socket_mode"] = json!("0666");
    sb.write_config(&cfg);
    let mut d = sb.start_daemon();
    let mut flood = Flood::start(
        &sb,
        Some(&nobody),
        &[
            "--mode",
            "repeat",
            "--count",
            "5000",
            "--request",
            "restart",
        ],
    );
    assert_eq!(
        flood.line(),
        "replies 5000 denied 5000",
        "every request answered"
    );
    let logged = d.log().matches("permission denied").count();
    assert_eq!(logged, 1, "log lines for 5000 refusals");
    // The rest are summed up when the minute ends, or at shutdown at the latest.
    assert_eq!(d.stop(), Some(0));
    let audited = crate::audit_events(&sb.path().join("wd.db"), "permission_denied");
    assert_eq!(
        audited.len(),
        2,
        "audit rows for 5000 refusals: {audited:?}"
    );
    let uid = nobody.uid.as_raw();
    assert!(
        audited
            .iter()
            .any(|m| m.contains(&format!("uid {uid} was refused 4999 more times"))),
        "the summary counts them all: {audited:?}"
    );
}

#[test]
fn a_reply_over_the_frame_limit_is_an_error_reply() {
    let sb = crate::sandbox();
    sb.write_config(&sb.config(json!({ "api": sb.placeholder("api") })));
    let _d = sb.start_daemon();
    // A long audit log: 10,000 rows of 4 KiB make a history reply of some 40 MB.
    let conn = rusqlite::Connection::open(sb.path().join("wd.db")).unwrap();
    conn.busy_timeout(Duration::from_secs(10)).unwrap();
    let message = "m".repeat(4096);
    let now = protocol::time::now_millis();
    conn.execute_batch("BEGIN").unwrap();
    for i in 0..10_000 {
        conn.execute(
            "INSERT INTO audit_events (process_key, kind, message, at, at_ms) VALUES ('api', 'reloaded', ?1, 'x', ?2)",
            rusqlite::params![message, now - i],
        )
        .unwrap();
    }
    conn.execute_batch("COMMIT").unwrap();
    let err = sb.ctl_err(&["history", "--limit", "10000"], 1);
    assert!(err.contains("frame limit"), "{err}");
    // The connection was not dropped: the daemon goes on answering.
    sb.ctl_ok(&["history", "--limit", "10"]);
}
