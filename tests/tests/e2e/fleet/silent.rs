//! Hosts that accept a connection and then say nothing: each command ends within its bound (ssh's
//! `ConnectTimeout`, or the command's `--timeout`) with that host reported as what it is, and the
//! other hosts' results are all there.
//!
//! The bounds asserted are hang bounds (the command ends at all, near its documented limit), with
//! wide margins; they are not performance figures.

use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use watchdog_tests::expect_exit;

use super::{Silent, host_with_service, sshd_or_skip, stderr, stdout};

/// ssh's default `ConnectTimeout` as watchdogctl passes it (docs/fleet.md).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Slack for everything around it (ssh to the live hosts, restarts, a busy CI machine).
const SLACK: Duration = Duration::from_secs(15);

#[test]
fn a_silent_host_in_a_check_fan_out_is_unreachable_and_the_others_answer() {
    let sshd = sshd_or_skip!();
    let (a, _da, pid_a) = host_with_service("api");
    let (b, _db, pid_b) = host_with_service("api");
    let silent = Silent::start();
    let (ua, ub, us) = (
        sshd.url(&a.socket()),
        sshd.url(&b.socket()),
        silent.url(sshd.user()),
    );

    let clock = Instant::now();
    let out = sshd.ctl(&["check", "--hosts", &format!("{ua},{us},{ub}")]);
    let took = clock.elapsed();
    assert!(
        took < CONNECT_TIMEOUT + SLACK,
        "check took {took:?} with one silent host"
    );
    // The silent host is unreachable (3), the worst of all; the others answered in full.
    expect_exit(&out, 3, "watchdogctl");
    let text = stdout(&out);
    assert!(
        text.contains(&format!(
            "\n{ua}  api  Service api  running  healthy  {pid_a} "
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "\n{ub}  api  Service api  running  healthy  {pid_b} "
        )),
        "{text}"
    );
    // ssh's own words say what did not answer: the connection, at the banner.
    let footer = format!(
        "\nno answer from 1 of 3 hosts:\n  {us}: ssh could not connect to {us}: Connection timed out during banner exchange"
    );
    assert!(text.contains(&footer), "{footer:?} missing in:\n{text}");
}

#[test]
fn a_rolling_restart_stops_at_a_silent_host_within_its_timeout() {
    let sshd = sshd_or_skip!();
    let (h1, _d1, pid1) = host_with_service("api");
    let silent = Silent::start();
    let (h3, _d3, pid3) = host_with_service("api");
    let urls = [
        sshd.url(&h1.socket()),
        silent.url(sshd.user()),
        sshd.url(&h3.socket()),
    ];

    let timeout = Duration::from_secs(10);
    let clock = Instant::now();
    let out = sshd.ctl(&[
        "restart",
        "api",
        "--hosts",
        &urls.join(","),
        "--rolling",
        "--wait",
        "--timeout",
        &timeout.as_secs().to_string(),
    ]);
    let took = clock.elapsed();
    // Host 1's restart and wait, then at most the silent host's whole --timeout.
    assert!(
        took < timeout + SLACK,
        "the roll took {took:?} with a silent host"
    );
    expect_exit(&out, 1, "watchdogctl");
    let text = stdout(&out);
    for line in [
        format!("{}: api: healthy (pid ", urls[0]),
        format!(
            "{}: failed: ssh could not connect to {}: Connection timed out during banner exchange",
            urls[1], urls[1]
        ),
        "rolling restart of api: 1 done, 1 failed, 1 not touched\n".to_owned(),
        format!("  done:        {}\n", urls[0]),
        format!("  failed:      {}\n", urls[1]),
        format!("  not touched: {}\n", urls[2]),
    ] {
        assert!(text.contains(&line), "{line:?} missing in:\n{text}");
    }
    assert!(
        stderr(&out).starts_with(&format!(
            "watchdogctl: rolling restart of api stopped at {}: ssh could not connect",
            urls[1]
        )),
        "{}",
        stderr(&out)
    );
    // Host 1 was restarted; host 3 was not touched.
    assert_eq!(h1.starts("api").len(), 2, "{:?}", h1.starts("api"));
    assert_ne!(h1.wait_healthy("api", Some(pid1), super::T), pid1);
    assert_eq!(h3.starts("api"), [pid3 as i32]);
}

#[test]
fn one_silent_host_with_an_action_ends_within_its_timeout() {
    let sshd = sshd_or_skip!();
    let silent = Silent::start();
    let url = silent.url(sshd.user());
    let timeout = Duration::from_secs(5);
    let clock = Instant::now();
    let out = sshd.ctl(&[
        "-H",
        &url,
        "restart",
        "api",
        "--wait",
        "--timeout",
        &timeout.as_secs().to_string(),
    ]);
    let took = clock.elapsed();
    assert!(took <= timeout + SLACK, "took {took:?}");
    // ssh's connect timeout was fitted inside the 5 s: ssh reports the host it could not reach.
    expect_exit(&out, 3, "watchdogctl");
    assert_eq!(stdout(&out), "");
    let err = stderr(&out);
    assert!(
        err.starts_with(&format!(
            "watchdogctl: ssh could not connect to {url}: Connection timed out during banner exchange"
        )),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn a_remote_side_that_connects_and_never_replies_ends_at_the_timeout() {
    let sshd = sshd_or_skip!();
    let (sb, _d, pid) = host_with_service("api");
    // In place of the remote watchdogctl: reads its stdin to the end and holds its stdout open
    // (as fd 3) without ever writing a byte, as a wedged remote client or daemon would. It ends
    // when ssh's channel closes.
    let mute = sb.path().join("mute-ctl");
    std::fs::write(&mute, "#!/bin/sh\nexec cat 3>&1 >/dev/null\n").expect("write");
    std::fs::set_permissions(&mute, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let url = format!("{}&ctl={}", sshd.url(&sb.socket()), mute.display());

    let timeout = Duration::from_secs(3);
    let clock = Instant::now();
    let out = sshd.ctl(&[
        "-H",
        &url,
        "restart",
        "api",
        "--wait",
        "--timeout",
        &timeout.as_secs().to_string(),
    ]);
    let took = clock.elapsed();
    assert!(took <= timeout + SLACK, "took {took:?}");
    // Not back in time: exit 1, as a wait that times out; ssh did connect, the far end is mute.
    expect_exit(&out, 1, "watchdogctl");
    let err = stderr(&out);
    assert!(
        err.starts_with(&format!(
            "watchdogctl: restart api did not finish within --timeout 3s: no reply from {url} within 3s: ssh reported no connection failure, but neither the remote watchdogctl nor watchdogd answered"
        )),
        "{err}"
    );
    // Nothing reached the daemon.
    assert_eq!(sb.starts("api"), [pid as i32]);
}
