//! watchdogctl's own conveniences against the real daemon: `beat` from shell scripts and cron
//! jobs, completions, the man page, the versions.

use std::time::Duration;

use serde_json::json;
use watchdog_tests::bins;

use crate::sandbox;

const T: Duration = Duration::from_secs(20);

#[test]
fn watchdogctl_beat_writes_a_heartbeat_the_daemon_reads_as_healthy() {
    let sb = sandbox();
    let mut svc = sb.service("cron", "");
    // A "cron job": a shell that beats with watchdogctl, naming itself (the default PID is the
    // caller's).
    svc["commands"]["start"] = json!(format!(
        "echo $$ >> cron.starts; while :; do {} beat --file hb/cron.json --key cron; sleep 0.2; done",
        bins().watchdogctl.display()
    ));
    svc["stall_seconds"] = json!(2);
    sb.write_config(&sb.config(json!({ "cron": svc })));
    let _d = sb.start_daemon();
    sb.ctl_ok(&["on", "cron"]);
    let pid = sb.wait_healthy("cron", None, T);
    assert_eq!(
        sb.starts("cron"),
        vec![pid as i32],
        "the heartbeat names the calling shell"
    );
    // Iterations carry on across invocations: not stalled after more than stall_seconds.
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(sb.status_of("cron")["health"], "healthy");
    let bad = sb.ctl_err(&["beat", "--file", "/proc/nope/hb.json", "--key", "x"], 2);
    assert!(bad.contains("/proc/nope/hb.json"), "{bad}");
}

#[test]
fn completions_man_page_and_versions() {
    let sb = sandbox();
    for (shell, marker) in [
        ("bash", "_watchdogctl()"),
        ("zsh", "#compdef watchdogctl"),
        ("fish", "complete -c watchdogctl"),
    ] {
        let out = sb.ctl_ok(&["completions", shell]);
        assert!(out.contains(marker), "{shell}");
    }
    let man = sb.ctl_ok(&["man"]);
    assert!(
        man.lines()
            .take(3)
            .any(|l| l.starts_with(".TH watchdogctl 1")),
        "{}",
        &man[..200.min(man.len())]
    );
    // Daemon down: --version still prints the client and exits 0; `version` exits 3.
    let out = sb.ctl_ok(&["--version"]);
    assert!(out.contains(&format!("(protocol {})", protocol::PROTOCOL_VERSION)));
    sb.ctl_exit(&["version"], 3);
    sb.write_config(&sb.config(json!({ "api": sb.service("api", "") })));
    let _d = sb.start_daemon();
    let text = sb.ctl_ok(&["version", "--json"]);
    assert!(
        text.contains("watchdogd") && text.contains(&protocol::PROTOCOL_VERSION.to_string()),
        "{text}"
    );
}
