//! Clock steps: a wall-clock step of an hour either way changes no decision (no failure
//! counted to a recovery, no give-up) and never withholds the systemd watchdog ping. The
//! daemon and its service run under libfaketime, whose clock the test steps while they run
//! (the monotonic clock stays real, as it does when an administrator or NTP steps the time).

use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::time::{Duration, Instant};

use watchdog_tests::wait_until;

use serde_json::json;

use super::T;

const LIBFAKETIME: &str = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";

/// `WATCHDOG=1` pings received within `within`.
fn pings(sock: &UnixDatagram, within: Duration) -> usize {
    let deadline = Instant::now() + within;
    let mut buf = [0u8; 4096];
    let mut n = 0;
    while Instant::now() < deadline {
        if let Ok(len) = sock.recv(&mut buf) {
            n += String::from_utf8_lossy(&buf[..len])
                .matches("WATCHDOG=1")
                .count();
        }
    }
    n
}

/// How many of the processes `key` was ever started as are alive.
fn alive_instances(sb: &watchdog_tests::Sandbox, key: &str) -> usize {
    sb.starts(key)
        .into_iter()
        .filter(|&pid| watchdog_tests::alive(pid))
        .count()
}

#[test]
fn an_hour_forward_and_back_changes_no_decision() {
    if !Path::new(LIBFAKETIME).exists() {
        eprintln!("skipped: libfaketime is not installed ({LIBFAKETIME}; Debian package faketime)");
        return;
    }
    let sb = crate::sandbox();
    let mut cfg = sb.config(json!({ "api": sb.service("api", "") }));
    // One failed check would recover: any decision a step changed would show.
    cfg["consecutive_failures_threshold"] = json!(1);
    cfg["max_restarts"] = json!(3);
    sb.write_config(&cfg);
    let offset = sb.path().join("faketime");
    std::fs::write(&offset, "+0\n").unwrap();
    let notify = sb.path().join("notify.sock");
    let sock = UnixDatagram::bind(&notify).unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    // The daemon and the services it starts (which inherit the environment) share the faked
    // wall clock; the boot and monotonic clocks stay real, as when an administrator or NTP
    // steps the time.
    let _d = sb.start_daemon_setup(&sb.config_path(), &sb.socket(), |cmd| {
        cmd.env("LD_PRELOAD", LIBFAKETIME)
            .env("FAKETIME_TIMESTAMP_FILE", &offset)
            .env("FAKETIME_NO_CACHE", "1")
            .env("DONT_FAKE_MONOTONIC", "1")
            .env("NOTIFY_SOCKET", &notify)
            .env("WATCHDOG_USEC", "1000000");
    });
    sb.ctl_ok(&["on", "api"]);
    let mut pid = sb.wait_settled("api", None, T);
    assert!(
        pings(&sock, Duration::from_secs(1)) >= 1,
        "pings before the step"
    );
    for step in ["-3600\n", "+0\n", "+3600\n", "+0\n"] {
        std::fs::write(&offset, step).unwrap();
        assert!(
            pings(&sock, Duration::from_secs(3)) >= 2,
            "the watchdog ping was withheld after a step to {step:?}"
        );
        let row = sb.status_of("api");
        assert_eq!(
            row["pid"].as_u64(),
            Some(pid),
            "recovered after a clock step to {step:?}: {row}"
        );
        assert_eq!(row["health"], "healthy", "{row}");
        assert_ne!(row["state"], "gave_up", "{row}");
        // A restart under the stepped clock starts one new instance, which is healthy, and
        // the old one is gone: no instance is taken for a stranger and spared.
        let out = sb.ctl_ok(&["restart", "api", "--wait", "--timeout", "20"]);
        assert!(out.contains("healthy"), "{out}");
        let new = sb.wait_settled("api", Some(pid), T);
        assert_ne!(new, pid);
        pid = new;
        wait_until("the old instance to be gone", T, || {
            alive_instances(&sb, "api") == 1
        });
        // And it stays that way.
        assert!(pings(&sock, Duration::from_secs(2)) >= 1);
        assert_eq!(alive_instances(&sb, "api"), 1, "after a step to {step:?}");
        assert_eq!(sb.status_of("api")["pid"].as_u64(), Some(pid));
    }
}
