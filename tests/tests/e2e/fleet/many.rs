//! Several hosts at once: merged `status`/`check`/`history` (a `HOST` column, a `host` field, a
//! footer for hosts that gave no answer, the worst exit).

use serde_json::Value;
use watchdog_tests::{Sandbox, expect_exit};

use super::{code, host_with_placeholder, host_with_service, json_of, sshd_or_skip, stdout};

/// `(host, key)` of every element of a merged JSON array.
fn hosts_and_keys(v: &Value) -> Vec<(String, String)> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|e| {
            (
                e["host"].as_str().unwrap_or("").to_owned(),
                e["key"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

#[test]
fn status_and_history_of_several_hosts_merge_into_one_table_and_json() {
    let sshd = sshd_or_skip!();
    let (a, _da) = host_with_placeholder("alpha");
    let (b, _db) = host_with_placeholder("beta");
    let (ua, ub) = (sshd.url(&a.socket()), sshd.url(&b.socket()));
    // Nothing listens on port 1: ssh itself fails, with its own message.
    let down = format!("{}@127.0.0.1:1", sshd.user());
    let both = format!("{ua},{ub}");

    let out = sshd.ctl(&["status", "--hosts", &both]);
    expect_exit(&out, 0, "watchdogctl");
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("HOST  "), "{text}");
    assert!(lines[0].contains("  KEY  "), "{text}");
    assert!(lines[1].starts_with(&format!("{ua}  alpha  ")), "{text}");
    assert!(lines[2].starts_with(&format!("{ub}  beta  ")), "{text}");
    assert_eq!(lines.len(), 3, "{text}");

    let v = json_of(&sshd.ctl(&["status", "--hosts", &both, "--json"]), 0);
    assert_eq!(
        hosts_and_keys(&v),
        [(ua.clone(), "alpha".into()), (ub.clone(), "beta".into())]
    );

    // An unreachable host among them: listed in the footer with ssh's reason; exit 3.
    let three = format!("{ua},{down},{ub}");
    let out = sshd.ctl(&["status", "--hosts", &three]);
    expect_exit(&out, 3, "watchdogctl");
    let text = stdout(&out);
    assert!(text.contains(&format!("\n{ua}  alpha  ")), "{text}");
    assert!(text.contains(&format!("\n{ub}  beta  ")), "{text}");
    let footer =
        format!("\nno answer from 1 of 3 hosts:\n  {down}: ssh could not connect to {down}: ");
    assert!(text.contains(&footer), "{text}");
    assert!(
        text.contains("port 1: Connection refused (exit 3)\n"),
        "{text}"
    );
    let v = json_of(&sshd.ctl(&["status", "--hosts", &three, "--json"]), 3);
    assert_eq!(v[1]["host"], down.as_str(), "{v}");
    assert_eq!(v[1]["exit"], 3, "{v}");
    assert!(
        v[1]["error"]
            .as_str()
            .unwrap_or("")
            .contains("Connection refused"),
        "{v}"
    );
    assert_eq!(v.as_array().map(Vec::len), Some(3));

    // Hosts from a file (comments, blank lines); history merged into one timeline.
    let file = a.path().join("fleet.txt");
    std::fs::write(&file, format!("# the fleet\n{ua}\n\n{ub}   # the second\n")).expect("write");
    let at_file = format!("@{}", file.display());
    // Strict: every row carries the host it came from. Each daemon logs a check every 0.2 s,
    // so a host's rows must be a run of 5 consecutive rows of its own log read afterwards (the
    // newest when the merged call read them), and found in no other host's log.
    let v = json_of(
        &sshd.ctl(&["history", "--hosts", &at_file, "--limit", "5", "--json"]),
        0,
    );
    let own = |sb: &Sandbox| {
        let v = json_of(&sb.ctl(&["history", "--limit", "1000", "--json"]), 0);
        v.as_array().expect("array").clone()
    };
    let logs = [(ua.clone(), own(&a)), (ub.clone(), own(&b))];
    let rows = v.as_array().expect("array");
    for row in rows {
        let host = row["host"].as_str().unwrap_or("");
        assert!(host == ua || host == ub, "a row without its host: {row}");
    }
    for (url, log) in &logs {
        let theirs: Vec<Value> = rows
            .iter()
            .filter(|r| r["host"] == url.as_str())
            .map(|r| {
                let mut r = r.clone();
                r.as_object_mut().expect("object").remove("host");
                r
            })
            .collect();
        assert_eq!(theirs.len(), 5, "{url}: {v}");
        let first = log
            .iter()
            .position(|r| *r == theirs[0])
            .unwrap_or_else(|| panic!("{url}: {} is not in its own log", theirs[0]));
        assert_eq!(log.get(first..first + 5), Some(&theirs[..]), "{url}");
        for (other, other_log) in logs.iter().filter(|(u, _)| u != url) {
            for r in &theirs {
                assert!(!other_log.contains(r), "{r} of {url} is in {other}'s log");
            }
        }
    }
    let pairs = hosts_and_keys(&v);
    assert!(pairs.contains(&(ua.clone(), "alpha".into())), "{v}");
    assert!(pairs.contains(&(ub.clone(), "beta".into())), "{v}");

    // One key on every host: beta is unknown on a (2), alpha has no heartbeat (1): worst is 2.
    let out = sshd.ctl(&["status", "beta", "--hosts", &both]);
    expect_exit(&out, 2, "watchdogctl");
    let text = stdout(&out);
    assert!(text.contains(&format!("\n{ub}  beta  ")), "{text}");
    assert!(text.contains(&format!("  {ua}: ")), "{text}");
    assert!(text.contains("beta"), "{text}");
}

#[test]
fn check_over_several_hosts_exits_with_the_worst_host() {
    let sshd = sshd_or_skip!();
    // Healthy: its check exits 0. Never healthy and out of recovery's reach: its check exits 1.
    let (good, _dg, pid) = host_with_service("api");
    let (bad, _db) = host_with_placeholder("api");
    let (ug, ub) = (sshd.url(&good.socket()), sshd.url(&bad.socket()));
    let down = format!("{}@127.0.0.1:1", sshd.user());

    let alone = |url: &str| code(&sshd.ctl(&["check", "--hosts", url]));
    assert_eq!(alone(&ug), Some(0));
    assert_eq!(alone(&ub), Some(1));
    // Each host as it would end alone, the command with the worst of them.
    let v = json_of(
        &sshd.ctl(&["check", "--hosts", &format!("{ug},{ub}"), "--json"]),
        1,
    );
    assert_eq!(
        hosts_and_keys(&v),
        [(ug.clone(), "api".into()), (ub.clone(), "api".into())]
    );
    assert_eq!(v[0]["pid"], pid, "{v}");
    assert_eq!(v[0]["health"], "healthy", "{v}");
    assert_ne!(v[1]["health"], "healthy", "{v}");
    let out = sshd.ctl(&["check", "--hosts", &format!("{ub},{down},{ug}")]);
    expect_exit(&out, 3, "watchdogctl");
    assert!(
        stdout(&out).contains(&format!("\nno answer from 1 of 3 hosts:\n  {down}: ")),
        "{}",
        stdout(&out)
    );
}
