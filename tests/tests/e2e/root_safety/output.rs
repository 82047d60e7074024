//! Bounded output: a cleanup that prints hundreds of megabytes costs the daemon no more than a
//! bounded head and tail; a step ends when its script exits, even if a child it left behind
//! still holds the pipe; what the log shows of it is escaped.

use serde_json::json;
use watchdog_tests::wait_until;

use super::T;

/// The daemon's peak resident memory (VmHWM), in KiB.
fn peak_kib(pid: i32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap()
}

#[test]
fn a_flood_of_output_is_kept_bounded_and_escaped() {
    let sb = crate::sandbox();
    let mut svc = sb.service("noisy", "");
    svc["commands"]["flood"] =
        json!("head -c 300000000 /dev/zero | tr '\\0' 'x'; printf 'END\\033[31mred\\377\\n'");
    svc["commands"]["linger"] =
        json!("sleep 30 & echo $! >> linger.starts; echo left a child behind");
    svc["recovery_actions"] = json!(["kill", "flood", "linger", "start"]);
    let mut cfg = sb.config(json!({ "noisy": svc }));
    cfg["cleanup_args"] = json!([]);
    cfg["cleanup_timeout"] = json!(20);
    sb.write_config(&cfg);
    let d = sb.start_daemon();
    let before = peak_kib(d.pid());
    let out = sb.ctl_ok(&["restart", "noisy", "--json"]);
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    let steps = report["steps"].as_array().unwrap();
    let flood = steps.iter().find(|s| s["action"] == "flood").unwrap();
    let linger = steps.iter().find(|s| s["action"] == "linger").unwrap();
    assert_eq!(flood["outcome"], "ok", "{report}");
    assert_eq!(linger["outcome"], "ok", "{report}");
    // The step ended with its script, not with the child still holding the pipe.
    assert!(
        linger["duration_ms"].as_u64().unwrap() < 10_000,
        "the linger step waited for its child: {linger}"
    );
    let message = flood["message"].as_str().unwrap();
    assert!(message.len() < 8 * 1024, "the message is bounded");
    assert!(
        message.contains("END\\x1b[31mred\\xff"),
        "escaped: {message}"
    );
    let peak = peak_kib(d.pid());
    assert!(
        peak < before + 64 * 1024,
        "peak memory grew by {} KiB reading 300 MB of output",
        peak - before
    );
    wait_until("the output in the log", T, || {
        d.log().contains("bytes not kept")
    });
    assert!(!d.log().contains('\u{1b}'), "a raw escape reached the log");
}
