//! What goes wrong between here and a remote daemon, each with its own message and exit: ssh
//! cannot connect (3, ssh's own words), no watchdogctl on the remote host (3, "install it"), no
//! daemon at the remote socket (3), a daemon of another protocol version (2, both versions).

use std::path::Path;

use protocol::PROTOCOL_VERSION;
use watchdog_tests::expect_exit;

use super::{OtherVersion, host_with_placeholder, sshd_or_skip, stderr, stdout};

#[test]
fn no_ssh_connection_and_no_remote_daemon_are_unreachable() {
    let sshd = sshd_or_skip!();
    let (sb, _d) = host_with_placeholder("api");
    // Nothing listens on port 1.
    let down = format!("ssh://{}@127.0.0.1:1", sshd.user());
    let out = sshd.ctl(&["-H", &down, "status"]);
    expect_exit(&out, 3, "watchdogctl");
    assert_eq!(stdout(&out), "");
    assert_eq!(
        stderr(&out),
        format!(
            "watchdogctl: ssh could not connect to {down}: ssh: connect to host 127.0.0.1 port 1: Connection refused\n"
        )
    );
    // ssh connects, but no daemon listens at that socket: the remote client says so.
    let none = sshd.url(&sb.path().join("none.sock"));
    let out = sshd.ctl(&["-H", &none, "status"]);
    expect_exit(&out, 3, "watchdogctl");
    assert!(
        stderr(&out).starts_with(&format!(
            "watchdogctl: {none}: cannot reach watchdogd at {} (given with --socket): ",
            sb.path().join("none.sock").display()
        )),
        "{}",
        stderr(&out)
    );
    // And the same host with the right socket answers.
    let out = sshd.ctl(&["-H", &sshd.url(&sb.socket()), "status"]);
    expect_exit(&out, 0, "watchdogctl");
}

#[test]
fn a_remote_without_watchdogctl_on_its_path_says_to_install_it() {
    let sshd = sshd_or_skip!();
    let (sb, _d) = host_with_placeholder("api");
    // The fixture's login PATH is /usr/bin:/bin.
    for dir in ["/usr/bin", "/bin"] {
        assert!(
            !Path::new(dir).join("watchdogctl").exists(),
            "{dir}/watchdogctl is installed: this test needs a host without it"
        );
    }
    let url = sshd.url(&sb.socket());
    let mut cmd = sshd.ctl_command();
    cmd.env_remove("WATCHDOG_REMOTE_CTL")
        .args(["-H", &url, "status"]);
    let out = watchdog_tests::run_ctl(cmd);
    expect_exit(&out, 3, "watchdogctl");
    let err = stderr(&out);
    assert!(
        err.starts_with(&format!(
            "watchdogctl: watchdogctl is not installed on {url} "
        )),
        "{err}"
    );
    assert!(err.contains("watchdogctl: not found"), "{err}");
    assert!(
        err.contains(&format!("install watchdogctl on {url}")),
        "{err}"
    );
    assert!(err.contains("--remote-ctl"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn a_daemon_of_another_protocol_version_exits_2_naming_both_versions() {
    let sshd = sshd_or_skip!();
    let (sb, _d) = host_with_placeholder("api");
    let other = OtherVersion::start(sb.path(), 2);
    let url = sshd.url(&other.socket);
    let both = [
        format!("client speaks {PROTOCOL_VERSION} "),
        format!("daemon speaks {}", PROTOCOL_VERSION + 1),
    ];
    let out = sshd.ctl(&["-H", &url, "status"]);
    expect_exit(&out, 2, "watchdogctl");
    assert_eq!(stdout(&out), "");
    let err = stderr(&out);
    assert!(
        err.starts_with("watchdogctl: protocol version mismatch: "),
        "{err}"
    );
    for number in &both {
        assert!(err.contains(number.as_str()), "{number:?} missing in {err}");
    }
    let out = sshd.ctl(&["-H", &url, "version"]);
    expect_exit(&out, 2, "watchdogctl");
    assert!(
        stdout(&out).contains("\nwatchdogd: incompatible: protocol version mismatch: "),
        "{}",
        stdout(&out)
    );
}
