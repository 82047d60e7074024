//! `restart KEY --hosts … --rolling`: host after host in the order given, each restarted and (with
//! `--wait`) healthy before the next is touched; the first host that fails, at its start or at its
//! health wait, ends the roll with exit 1 and a report of the done, failed and untouched hosts.

use serde_json::{Value, json};
use watchdog_tests::{Sandbox, expect_exit};

use super::{T, host_with_service, json_of, sshd_or_skip, stderr, stdout};
use crate::sandbox;

/// When host `sb`'s one restart of `key` ran, from its own audit log: (start, end) in µs.
fn restart_span(sb: &Sandbox, key: &str) -> (i64, i64) {
    let history = json_of(&sb.ctl(&["history", key, "--limit", "100", "--json"]), 0);
    let restarts: Vec<&Value> = history
        .as_array()
        .expect("array")
        .iter()
        .filter(|e| e["kind"] == "recovery" && e["trigger"] == "restart")
        .collect();
    assert_eq!(restarts.len(), 1, "{history}");
    let at = |field: &str| {
        let text = restarts[0][field].as_str().unwrap_or_else(|| {
            panic!("no {field} in {}", restarts[0]);
        });
        protocol::time::parse_rfc3339(text).unwrap_or_else(|| panic!("bad time {text:?}"))
    };
    (at("at"), at("finished"))
}

/// A host whose `api` starts and stays up but never writes a heartbeat, so a wait for it to be
/// healthy runs out. Its PIDs go to `api.starts`, where the sandbox finds them to clean up.
fn host_never_healthy() -> (Sandbox, watchdog_tests::Daemon) {
    let sb = sandbox();
    let mut svc = sb.service("api", "");
    svc["commands"]["start"] = json!("echo $$ >> api.starts; exec sleep 1000");
    svc["consecutive_failures_threshold"] = json!(1_000_000);
    sb.write_config(&sb.config(json!({ "api": svc })));
    let d = sb.start_daemon();
    (sb, d)
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
    expect_exit(&out, 1, "watchdogctl");
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

#[test]
fn a_rolling_restart_goes_one_host_at_a_time_in_the_order_given() {
    let sshd = sshd_or_skip!();
    let hosts: Vec<(Sandbox, watchdog_tests::Daemon, u64)> =
        (0..3).map(|_| host_with_service("api")).collect();
    // Given in an order other than the one they were made in.
    let order = [2, 0, 1];
    let urls: Vec<String> = order
        .iter()
        .map(|&i| sshd.url(&hosts[i].0.socket()))
        .collect();
    let v = json_of(
        &sshd.ctl(&[
            "restart",
            "api",
            "--hosts",
            &urls.join(","),
            "--rolling",
            "--wait",
            "--json",
        ]),
        0,
    );
    assert_eq!(v["done"], json!(urls), "{v}");
    // Every host now runs a new, healthy process: the one its wait saw.
    let mut spans = Vec::new();
    for (n, &i) in order.iter().enumerate() {
        let (sb, _, old) = &hosts[i];
        let new = v["hosts"][n]["wait"]["service"]["pid"]
            .as_u64()
            .expect("pid");
        assert_eq!(v["hosts"][n]["host"], urls[n].as_str(), "{v}");
        assert_eq!(sb.starts("api"), [*old as i32, new as i32]);
        spans.push(restart_span(sb, "api"));
    }
    // One at a time, in order: each restart began only after the one before had finished
    // (and its wait had seen the new process healthy, which comes later still).
    for pair in spans.windows(2) {
        assert!(
            pair[0].1 <= pair[1].0,
            "restarts overlap or run out of order: {spans:?}"
        );
    }
}

#[test]
fn a_rolling_restart_stops_at_a_host_that_never_gets_healthy() {
    let sshd = sshd_or_skip!();
    let (h1, _d1, pid1) = host_with_service("api");
    let (h2, _d2) = host_never_healthy();
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
        "3",
    ]);
    expect_exit(&out, 1, "watchdogctl");
    let text = stdout(&out);
    for line in [
        format!("{}: api: healthy (pid ", urls[0]),
        // Host 2's restart itself succeeded; its wait ran out.
        format!("{}: api: restart done", urls[1]),
        format!("{}: failed: api not healthy after 3s (health: ", urls[1]),
        "rolling restart of api: 1 done, 1 failed, 1 not touched\n".to_owned(),
        format!("  done:        {}\n", urls[0]),
        format!("  failed:      {}\n", urls[1]),
        format!("  not touched: {}\n", urls[2]),
    ] {
        assert!(text.contains(&line), "{line:?} missing in:\n{text}");
    }
    assert!(
        stderr(&out).starts_with(&format!(
            "watchdogctl: rolling restart of api stopped at {}: api not healthy after 3s",
            urls[1]
        )),
        "{}",
        stderr(&out)
    );
    assert_eq!(h1.starts("api").len(), 2);
    assert_ne!(h1.wait_healthy("api", Some(pid1), T), pid1);
    assert_eq!(h3.starts("api"), [pid3 as i32]);

    // The same as JSON: the failed host carries its restart, its timed-out wait and exit 1.
    let both = format!("{},{}", urls[1], urls[2]);
    let v = json_of(
        &sshd.ctl(&[
            "restart",
            "api",
            "--hosts",
            &both,
            "--rolling",
            "--wait",
            "--timeout",
            "2",
            "--json",
        ]),
        1,
    );
    assert_eq!(v["done"], json!([]), "{v}");
    assert_eq!(v["failed"], json!([urls[1]]), "{v}");
    assert_eq!(v["untouched"], json!([urls[2]]), "{v}");
    let failed = &v["hosts"][0];
    assert_eq!(failed["exit"], 1, "{v}");
    assert_eq!(failed["restart"]["result"], "succeeded", "{v}");
    assert_eq!(failed["wait"]["outcome"], "timed_out", "{v}");
    assert_eq!(h3.starts("api"), [pid3 as i32]);
}

#[test]
fn an_unreachable_host_mid_roll_exits_1_and_keeps_its_own_reason() {
    let sshd = sshd_or_skip!();
    let (h1, _d1, pid1) = host_with_service("api");
    let (h3, _d3, pid3) = host_with_service("api");
    // Nothing listens on port 1: ssh fails at once, which alone would exit 3.
    let down = format!("{}@127.0.0.1:1", sshd.user());
    let urls = [sshd.url(&h1.socket()), down.clone(), sshd.url(&h3.socket())];
    let v = json_of(
        &sshd.ctl(&[
            "restart",
            "api",
            "--hosts",
            &urls.join(","),
            "--rolling",
            "--wait",
            "--json",
        ]),
        1,
    );
    assert_eq!(v["done"], json!([urls[0]]), "{v}");
    assert_eq!(v["failed"], json!([down]), "{v}");
    assert_eq!(v["untouched"], json!([urls[2]]), "{v}");
    // The host's own exit and reason stay in the report.
    let failed = &v["hosts"][1];
    assert_eq!(failed["exit"], 3, "{v}");
    assert_eq!(failed["restart"], Value::Null, "{v}");
    let why = failed["error"].as_str().unwrap_or("");
    assert!(
        why.starts_with(&format!("ssh could not connect to {down}: "))
            && why.ends_with("Connection refused"),
        "{v}"
    );
    assert_ne!(h1.wait_healthy("api", Some(pid1), T), pid1);
    assert_eq!(h3.starts("api"), [pid3 as i32]);
}
