//! The operator's world: deploy-script waits, maintenance windows, history, live events,
//! metrics, the detail view, heartbeats from shell scripts and the shell niceties.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::{Value, json};
use watchdog_tests::{bins, expect_exit, wait_until};

use crate::sandbox;

const T: Duration = Duration::from_secs(20);

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn wait_exit_codes_tell_healthy_timed_out_unknown_and_unreachable_apart() {
    let sb = sandbox();
    let mut silent = sb.service("silent", "");
    silent["commands"]["start"] = json!("echo $$ >> silent.starts; exec sleep 1000");
    sb.write_config(&sb.config(json!({ "api": sb.service("api", ""), "silent": silent })));
    let _d = sb.start_daemon();
    sb.ctl_ok(&["on", "api"]);
    sb.ctl_ok(&["wait", "api", "--timeout", "20"]);
    sb.ctl_exit(&["wait", "silent", "--timeout", "1"], 1);
    sb.ctl_exit(&["wait", "nope", "--timeout", "1"], 2);
    let gone = watchdog_tests::ctl_at(&sb.path().join("nothing.sock"), &["wait", "api"]);
    expect_exit(&gone, 3, "a wait with no daemon");
    let out = sb.ctl_ok(&["restart", "api", "--wait", "--timeout", "20", "--json"]);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["wait"]["outcome"], "healthy");
    // The silent service never beats: the start succeeds, the wait times out.
    sb.ctl(&["on", "silent"]);
    sb.ctl_exit(&["restart", "silent", "--wait", "--timeout", "2"], 1);
}

#[test]
fn off_for_a_window_turns_the_service_back_on_by_itself() {
    let sb = sandbox();
    sb.write_config(&sb.config(json!({ "api": sb.service("api", "") })));
    let _d = sb.start_daemon();
    sb.ctl_ok(&["on", "api"]);
    let first = sb.wait_healthy("api", None, T);
    sb.ctl_ok(&["off", "api", "--for", "2s"]);
    let row = sb.status_of("api");
    assert_eq!(row["state"], "off");
    assert!(row["off_until"].is_string(), "{row}");
    assert!(
        stdout(&sb.ctl(&["status"])).contains("until"),
        "the window shows in the table"
    );
    let back = sb.wait_healthy("api", Some(first), T);
    assert_ne!(back, first);
    assert!(sb.status_of("api")["off_until"].is_null());
    wait_until("both ends of the window in the audit log", T, || {
        !crate::audit_events(&sb.path().join("wd.db"), "maintenance_started").is_empty()
            && !crate::audit_events(&sb.path().join("wd.db"), "maintenance_over").is_empty()
    });
    sb.ctl_exit(&["off", "api", "--for", "soon"], 2);
}

#[test]
fn history_lists_checks_and_recoveries_with_their_steps() {
    let sb = sandbox();
    sb.write_config(
        &sb.config(json!({ "api": sb.service("api", ""), "db": sb.service("db", "") })),
    );
    let _d = sb.start_daemon();
    sb.ctl_ok(&["on", "api"]);
    let first = sb.wait_healthy("api", None, T);
    kill(Pid::from_raw(first as i32), Signal::SIGKILL).unwrap();
    sb.wait_healthy("api", Some(first), T);
    // The audit log is written in batches behind the supervisor: wait for the finished row.
    wait_until("the automatic recovery in the audit log", T, || {
        let out = sb.ctl(&["history", "api", "--json", "--limit", "100"]);
        let entries: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap_or_default();
        entries.iter().any(|e| {
            e["kind"] == "recovery" && e["trigger"] == "automatic" && e["outcome"] != "running"
        })
    });
    let out = sb.ctl_ok(&["history", "api", "--json", "--limit", "100"]);
    let entries: Vec<Value> = serde_json::from_str(&out).unwrap();
    assert!(entries.iter().all(|e| e["key"] == "api"));
    let times: Vec<&str> = entries.iter().map(|e| e["at"].as_str().unwrap()).collect();
    assert!(
        times.windows(2).all(|w| w[0] >= w[1]),
        "newest first: {times:?}"
    );
    let auto = entries
        .iter()
        .find(|e| {
            e["kind"] == "recovery" && e["trigger"] == "automatic" && e["outcome"] != "running"
        })
        .expect("the automatic recovery");
    let steps: Vec<&str> = auto["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["action"].as_str().unwrap())
        .collect();
    assert_eq!(steps, ["kill", "start"]);
    assert!(
        entries
            .iter()
            .any(|e| e["kind"] == "check" && e["health"] == "stale_pid")
    );
    let text = stdout(&sb.ctl(&["history", "api", "--limit", "5"]));
    assert!(text.lines().count() >= 2, "{text}");
    sb.ctl_ok(&["history", "api", "--since", "1h", "--limit", "1", "--json"]);
    sb.ctl_exit(&["history", "nope"], 2);
}

#[test]
fn several_followers_see_the_same_live_events() {
    let sb = sandbox();
    sb.write_config(&sb.config(json!({ "api": sb.service("api", "") })));
    let _d = sb.start_daemon();
    let follow = || {
        Command::new(&bins().watchdogctl)
            .arg("--socket")
            .arg(sb.socket())
            .args(["events", "--follow", "--json"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    sb.ctl_ok(&["on", "api"]);
    sb.wait_settled("api", None, T);
    let mut followers = [follow(), follow()];
    let mut streams: Vec<_> = followers
        .iter_mut()
        .map(|f| BufReader::new(f.stdout.take().unwrap()).lines())
        .collect();
    // A follower only sees what happens after it connects: a reload (an audit event) shows
    // when both are listening.
    let kinds_until = |lines: &mut std::io::Lines<BufReader<std::process::ChildStdout>>,
                       done: &dyn Fn(&[String]) -> bool| {
        let mut kinds = Vec::new();
        let deadline = Instant::now() + T;
        while Instant::now() < deadline && !done(&kinds) {
            let Some(Ok(line)) = lines.next() else { break };
            let v: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
            kinds.push(v["kind"].as_str().unwrap().to_owned());
        }
        kinds
    };
    for lines in &mut streams {
        loop {
            sb.ctl_ok(&["reload"]);
            let seen = kinds_until(lines, &|k: &[String]| k.iter().any(|k| k == "reloaded"));
            if seen.iter().any(|k| k == "reloaded") {
                break;
            }
        }
    }
    sb.ctl_ok(&["restart", "api"]);
    for (f, lines) in followers.iter_mut().zip(&mut streams) {
        let kinds = kinds_until(lines, &|k: &[String]| {
            k.iter()
                .skip_while(|k| *k != "pipeline_started")
                .any(|k| k == "pipeline_finished")
        });
        for want in ["pipeline_started", "step_finished", "pipeline_finished"] {
            assert!(
                kinds.iter().any(|k| k == want),
                "missing {want} in {kinds:?}"
            );
        }
        let _ = f.kill();
        let _ = f.wait();
    }
}

#[test]
fn status_key_shows_the_detail_view() {
    let sb = sandbox();
    let mut svc = sb.service("api", "");
    svc["env"] = json!({ "API_TOKEN": "s3cret" });
    sb.write_config(&sb.config(json!({ "api": svc })));
    let _d = sb.start_daemon();
    sb.ctl_ok(&["on", "api"]);
    let pid = sb.wait_healthy("api", None, T);
    let text = sb.ctl_ok(&["status", "api"]);
    assert!(text.contains("heartbeat"), "{text}");
    assert!(
        text.contains(&format!("\"pid\":{pid}")) || text.contains(&format!("\"pid\": {pid}")),
        "{text}"
    );
    assert!(
        text.contains("timeout_seconds") || text.contains("timeout"),
        "{text}"
    );
    assert!(text.contains("recent"), "{text}");
    assert!(
        !text.contains("s3cret"),
        "environment values are secrets: {text}"
    );
}

#[test]
fn metrics_parse_with_a_real_parser_and_the_textfile_is_kept_fresh() {
    let sb = sandbox();
    let mut cfg = sb.config(json!({ "api": sb.service("api", ""), "db": sb.service("db", "") }));
    cfg["metrics_textfile"] = json!("metrics/watchdog.prom");
    sb.write_config(&cfg);
    let _d = sb.start_daemon();
    sb.ctl_ok(&["on", "api"]);
    sb.wait_healthy("api", None, T);
    let text = sb.ctl_ok(&["metrics"]);
    assert!(text.ends_with("# EOF\n"), "OpenMetrics ends with # EOF");
    for want in [
        "watchdog_service_healthy{key=\"api\"} 1",
        "watchdog_service_consecutive_failures{key=\"api\"}",
        "watchdog_service_recoveries_total{key=\"api\",result=\"succeeded\"} 1",
        "watchdog_service_heartbeat_age_seconds{key=\"api\"}",
        "watchdogd_uptime_seconds",
        "watchdogd_tick_duration_seconds",
        "watchdogd_audit_rows_dropped_total 0",
    ] {
        assert!(text.contains(want), "missing {want}:\n{text}");
    }
    let textfile = sb.path().join("metrics/watchdog.prom");
    wait_until("the metrics text file", T, || textfile.exists());
    let prom = std::fs::read_to_string(&textfile).unwrap();
    assert!(
        prom.contains("# TYPE watchdog_service_recoveries_total counter"),
        "{prom}"
    );
    let parsers = [
        ("prometheus_client.openmetrics.parser", text.as_str()),
        ("prometheus_client.parser", prom.as_str()),
    ];
    let usable = Command::new("python3")
        .args(["-c", "import prometheus_client"])
        .status()
        .is_ok_and(|s| s.success());
    if !usable {
        eprintln!(
            "skipped the external parser: python3 with prometheus_client is not installed (.ci/run installs it)"
        );
        return;
    }
    for (module, input) in parsers {
        let mut child = Command::new("python3")
            .arg("-c")
            .arg(format!(
                "import sys; from {module} import text_string_to_metric_families as p; fams = list(p(sys.stdin.read())); print(len(fams))"
            ))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{module} rejected the text: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let families: usize = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
        assert!(families >= 10, "{module}: {families} families");
    }
}

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
    let man = stdout(&sb.ctl(&["man"]));
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
