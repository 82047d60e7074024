use super::*;
use crate::top::model::Model;
use crate::top::model::tests::{reply, status};
use protocol::{Health, StepOutcome, StepReport, Trigger};

const NOW: i64 = 1_770_272_249_601;

fn config() -> String {
    serde_json::json!({
        "heartbeat_path": "/srv/hb/api.json",
        "timeout_seconds": 6,
        "commands": {"start": "exec api", "clear_db": "rm db", "notify": "mail ops"},
        "recovery_actions": ["kill", "clear_db", "start"],
        "disabled_actions": ["notify"],
        "env": {"TOKEN": "<redacted>"},
    })
    .to_string()
}

fn detail() -> ServiceDetail {
    let mut s = status("api", Some(Health::Healthy), 4242, NOW - 500);
    s.actions_disabled = vec!["clear_db".into()];
    let recovery = HistoryEntry {
        kind: HistoryKind::Recovery,
        key: "api".into(),
        at_ms: NOW - 120_000,
        health: None,
        pid: None,
        failures: None,
        trigger: Some(Trigger::Restart),
        outcome: "succeeded".into(),
        finished_ms: Some(NOW - 118_800),
        steps: vec![
            StepReport {
                action: "kill".into(),
                outcome: StepOutcome::Ok,
                message: "stopped process group 4100 with SIGTERM".into(),
                duration_ms: 12,
            },
            StepReport {
                action: "start".into(),
                outcome: StepOutcome::Warned,
                message: format!("exit 1; output: {}the real reason", "noise ".repeat(40)),
                duration_ms: 1100,
            },
        ],
        message: "restart done".into(),
    };
    let check = HistoryEntry {
        kind: HistoryKind::Check,
        key: "api".into(),
        at_ms: NOW - 1000,
        health: Some(Health::Healthy),
        pid: Some(4242),
        failures: Some(0),
        trigger: None,
        outcome: String::new(),
        finished_ms: None,
        steps: vec![],
        message: "pid 4242 beating".into(),
    };
    ServiceDetail {
        status: s,
        config_json: config(),
        heartbeat: "{\"pid\": 4242, \"status\": \"running\x1b[2J\"}".into(),
        history: vec![check, recovery],
        heartbeat_source: "watched for changes".into(),
    }
}

fn text(lines: &[Line]) -> String {
    lines
        .iter()
        .map(|l| l.iter().map(|(t, _)| t.as_str()).collect::<String>() + "\n")
        .collect()
}

#[test]
fn actions_list_recovery_ones_first_then_the_rest() {
    let d = detail();
    let items = actions(&d.config_json, &d.status);
    let names: Vec<&str> = items.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(names, ["kill", "clear_db", "start", "notify"]);
    assert!(items[1].off_at_runtime && items[1].in_recovery);
    assert!(items[3].off_in_config && !items[3].in_recovery);
    assert!(
        actions("not json", &d.status)
            .iter()
            .all(|i| i.name == "kill")
    );
}

#[test]
fn the_pane_at_80_columns() {
    let d = detail();
    let mut m = Model::default();
    m.on_status(reply(vec![d.status.clone()]), NOW - 500);
    let lines = lines(&d, m.services.get("api"), 1, NOW, 80);
    let t = text(&lines);
    for l in t.lines() {
        assert!(l.chars().count() <= 80, "{l:?}");
    }
    for expected in [
        "api · Service api\n",
        "state running · health healthy · pid 4242 · age 1s\n",
        "failures 0 · restarts in window 0 · monitored\n",
        "checks: ",
        "  1 kill           in recoveries\n",
        "> 2 clear_db       in recoveries, off at runtime\n",
        "  4 notify         by hand only, off in the config\n",
        "LAST PIPELINE  restart succeeded 2m ago, took 1200 ms\n",
        "  kill         ok         12 ms  stopped process group 4100 with SIGTERM\n",
        "noise noise the real reason\n",
        "  start        warned   1100 ms  …",
        "check    healthy pid 4242 beating\n",
        "HEARTBEAT  /srv/hb/api.json\n",
        "  source: watched for changes\n",
        "\\u{1b}[2J",
        "  timeout_seconds: 6\n",
        "  recovery_actions: kill → clear_db → start\n",
    ] {
        assert!(t.contains(expected), "{expected:?} missing from:\n{t}");
    }
    assert!(!t.contains("TOKEN"), "{t}");
}

#[test]
fn a_service_never_recovered_and_a_narrow_pane() {
    let mut d = detail();
    d.history.clear();
    let t = text(&lines(&d, None, 0, NOW, 30));
    assert!(t.contains("LAST PIPELINE  none recorded\n"), "{t}");
    assert!(t.contains("  none\n"), "{t}");
    for l in t.lines() {
        assert!(l.chars().count() <= 30, "{l:?}");
    }
    assert_eq!(tail("abcdef", 4), "…def");
    assert_eq!(tail("abc", 4), "abc");
}
