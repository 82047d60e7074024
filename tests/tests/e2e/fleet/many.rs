//! Several hosts at once: merged `status`/`history` (a `HOST` column, a `host` field, a footer
//! for hosts that gave no answer, the worst exit), and `restart --rolling`.

use serde_json::{Value, json};

use super::{
    T, code, host_with_placeholder, host_with_service, json_of, sshd_or_skip, stderr, stdout,
};
use crate::sandbox;

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
    assert_eq!(code(&out), Some(0), "{}", stderr(&out));
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
    assert_eq!(code(&out), Some(3), "{}", stderr(&out));
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
    let v = json_of(
        &sshd.ctl(&["history", "--hosts", &at_file, "--limit", "5", "--json"]),
        0,
    );
    let pairs = hosts_and_keys(&v);
    assert!(pairs.contains(&(ua.clone(), "alpha".into())), "{v}");
    assert!(pairs.contains(&(ub.clone(), "beta".into())), "{v}");
    for (host, key) in &pairs {
        let expected = if key == "alpha" { &ua } else { &ub };
        assert!(key.is_empty() || host == expected, "{host} {key}");
    }

    // One key on every host: beta is unknown on a (2), alpha has no heartbeat (1): worst is 2.
    let out = sshd.ctl(&["status", "beta", "--hosts", &both]);
    assert_eq!(code(&out), Some(2), "{}", stdout(&out));
    let text = stdout(&out);
    assert!(text.contains(&format!("\n{ub}  beta  ")), "{text}");
    assert!(text.contains(&format!("  {ua}: ")), "{text}");
    assert!(text.contains("beta"), "{text}");
}

#[test]
fn a_rolling_restart_stops_at_the_first_failing_host_and_leaves_the_rest_alone() {
    let sshd = sshd_or_skip!();
    let (h1, _d1, pid1) = host_with_service("api");
    // Host 2's service cannot start: its start command fails at once.
    let h2 = sandbox();
    let mut svc = h2.service("api", "");
    svc["commands"]["start"] = json!("exit 1");
    svc["consecutive_failures_threshold"] = json!(1_000_000);
    h2.write_config(&h2.config(json!({ "api": svc })));
    let _d2 = h2.start_daemon();
    let (h3, _d3, pid3) = host_with_service("api");
    let urls = [h1.socket(), h2.socket(), h3.socket()].map(|s| sshd.url(&s));

    let out = sshd.ctl(&[
        "restart",
        "api",
        "--hosts",
        &urls.join(","),
        "--rolling",
        "--wait",
        "--timeout",
        "20",
    ]);
    assert_eq!(code(&out), Some(1), "{}\n{}", stdout(&out), stderr(&out));
    let text = stdout(&out);
    for line in [
        format!("{}: api: healthy (pid ", urls[0]),
        format!("{}: failed: restart api failed: ", urls[1]),
        "rolling restart of api: 1 done, 1 failed, 1 not touched\n".to_owned(),
        format!("  done:        {}\n", urls[0]),
        format!("  failed:      {}\n", urls[1]),
        format!("  not touched: {}\n", urls[2]),
    ] {
        assert!(text.contains(&line), "{line:?} missing in:\n{text}");
    }
    assert!(
        stderr(&out).starts_with(&format!(
            "watchdogctl: rolling restart of api stopped at {}: restart api failed: ",
            urls[1]
        )),
        "{}",
        stderr(&out)
    );
    // Host 1 runs a new, healthy process.
    let new1 = h1.wait_healthy("api", Some(pid1), T);
    assert_eq!(h1.starts("api"), [pid1 as i32, new1 as i32]);
    // Host 2 ran the restart, and it failed.
    let history = json_of(&h2.ctl(&["history", "api", "--json"]), 0);
    assert!(
        history
            .as_array()
            .expect("array")
            .iter()
            .any(|e| e["trigger"] == "restart" && e["outcome"] == "failed"),
        "{history}"
    );
    // Host 3 was never touched: same process, no restart in its history.
    assert_eq!(h3.starts("api"), [pid3 as i32]);
    assert_eq!(h3.status_of("api")["pid"], pid3);
    let history = json_of(&h3.ctl(&["history", "api", "--json"]), 0);
    assert!(
        !history
            .as_array()
            .expect("array")
            .iter()
            .any(|e| e["trigger"] == "restart"),
        "{history}"
    );

    // Batches: hosts 1 and 3 at once, both restarted and healthy.
    let both = format!("{},{}", urls[0], urls[2]);
    let v = json_of(
        &sshd.ctl(&[
            "restart",
            "api",
            "--hosts",
            &both,
            "--rolling",
            "--wait",
            "--max-parallel",
            "2",
            "--json",
        ]),
        0,
    );
    assert_eq!(v["done"], json!([urls[0], urls[2]]), "{v}");
    assert_eq!(v["untouched"], json!([]), "{v}");
    assert_eq!(v["hosts"][1]["wait"]["outcome"], "healthy", "{v}");
    assert_eq!(h3.starts("api").len(), 2);
    assert_ne!(h3.wait_healthy("api", Some(pid3), T), pid3);
}
