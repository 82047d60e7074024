use super::*;
use protocol::{StepOutcome, Trigger};

const NOW: i64 = 1_770_272_249_601;

fn sample() -> ServiceStatus {
    ServiceStatus {
        key: "api".into(),
        display_name: "API server".into(),
        enabled: true,
        state: ServiceState::Running,
        health: Some(Health::Healthy),
        pid: Some(4242),
        heartbeat_age_ms: Some(3_400),
        consecutive_failures: 0,
        last_check_ms: Some(NOW - 1000),
        last_recovery: Some(RecoverySummary {
            trigger: Trigger::Automatic,
            started_ms: NOW - 130_000,
            finished_ms: NOW - 125_000,
            result: PipelineResult::Succeeded,
        }),
        detail: "heartbeat 3s old".into(),
        clock_skew_ms: None,
        restarts_in_window: 0,
        next_attempt_ms: None,
        off_until_ms: None,
        monitoring_override: None,
        actions_disabled: Vec::new(),
        status_text: None,
    }
}

fn worker() -> ServiceStatus {
    ServiceStatus {
        key: "queue-worker".into(),
        display_name: "Q".into(),
        state: ServiceState::Stopped,
        health: None,
        pid: None,
        heartbeat_age_ms: None,
        consecutive_failures: 12,
        last_recovery: None,
        detail: String::new(),
        ..sample()
    }
}

#[test]
fn last_recovery_text() {
    let s = sample();
    assert_eq!(
        format_last_recovery(s.last_recovery.as_ref(), NOW),
        "succeeded 2m ago (automatic)"
    );
    assert_eq!(format_last_recovery(None, NOW), "-");
}

#[test]
fn table_is_aligned() {
    let table = status_table(&[sample(), worker()], NOW, false);
    let expected = "\
KEY           NAME        STATE    HEALTH   PID   AGE  FAILURES  LAST RECOVERY
api           API server  running  healthy  4242  3s   0         succeeded 2m ago (automatic)
queue-worker  Q           off      -        -     -    12        -
";
    assert_eq!(table, expected);
    assert!(table.lines().all(|l| !l.ends_with(' ')));
}

#[test]
fn a_status_text_gets_a_column_of_its_own() {
    let mut says = sample();
    says.status_text = Some("serving 3 clients\x1b[31m".into());
    let text = status_table(&[says, worker()], NOW, false);
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].ends_with("SAYS"), "{text}");
    assert!(lines[1].contains("serving 3 clients"), "{text}");
    assert!(!text.contains('\x1b'), "escaped: {text:?}");
    assert!(lines[2].ends_with('-'), "{text}");
    assert!(!status_table(&[worker()], NOW, false).contains("SAYS"));
}

#[test]
fn empty_table_is_just_the_header() {
    assert_eq!(
        status_table(&[], NOW, false),
        "KEY  NAME  STATE  HEALTH  PID  AGE  FAILURES  LAST RECOVERY\n"
    );
}

#[test]
fn colour_does_not_change_alignment() {
    let plain = status_table(&[sample(), worker()], NOW, false);
    let coloured = status_table(&[sample(), worker()], NOW, true);
    assert!(coloured.contains("\x1b[32mrunning\x1b[0m"));
    assert!(coloured.contains("\x1b[2moff\x1b[0m"));
    let stripped = coloured
        .replace("\x1b[0m", "")
        .replace("\x1b[1m", "")
        .replace("\x1b[2m", "")
        .replace("\x1b[32m", "");
    assert_eq!(stripped, plain);
}

#[test]
fn one_status_has_a_detail_line() {
    let text = status_one(&worker(), NOW, false);
    assert_eq!(text.lines().count(), 3);
    assert!(text.ends_with("detail: -\n"));
    assert!(status_one(&sample(), NOW, false).ends_with("detail: heartbeat 3s old\n"));
}

#[test]
fn a_maintenance_window_shows_in_the_state_column() {
    let mut w = worker();
    w.off_until_ms = Some(NOW + 600_000);
    let table = status_table(&[sample(), w.clone()], NOW, false);
    let expected = "\
KEY           NAME        STATE                  HEALTH   PID   AGE  FAILURES  LAST RECOVERY
api           API server  running                healthy  4242  3s   0         succeeded 2m ago (automatic)
queue-worker  Q           off (until 06:27:29Z)  -        -     -    12        -
";
    assert_eq!(table, expected);
    w.off_until_ms = Some(NOW + 2 * 86_400_000);
    assert!(status_table(&[w], NOW, false).contains("off (until 2026-02-07T06:17:29Z)"));
    assert_eq!(
        off_until("api", "10m", NOW + 600_000, NOW),
        "api: off for 10m, until 06:27:29Z; then watchdogd turns it back on\n"
    );
}

#[test]
fn action_report_lines() {
    let report = ActionReport {
        key: "api".into(),
        result: PipelineResult::Warned,
        message: "restarted with warnings".into(),
        steps: vec![
            StepReport {
                action: "kill".into(),
                outcome: StepOutcome::Ok,
                message: "SIGTERM".into(),
                duration_ms: 12,
            },
            StepReport {
                action: "clear_db".into(),
                outcome: StepOutcome::Warned,
                message: String::new(),
                duration_ms: 3,
            },
        ],
        old_pid: Some(1),
    };
    assert_eq!(
        action(&report),
        "api: restarted with warnings\n  kill: ok (12 ms) SIGTERM\n  clear_db: warned (3 ms)\n"
    );
    assert_eq!(
        bulk(std::slice::from_ref(&report), false),
        "api: restarted with warnings\n"
    );
    assert_eq!(bulk(std::slice::from_ref(&report), true), action(&report));
}

#[test]
fn wait_messages() {
    assert_eq!(healthy(&sample()), "api: healthy (pid 4242)\n");
    let mut s = worker();
    s.health = Some(Health::StalePid);
    s.detail = "pid 7 is not running".into();
    assert_eq!(
        not_healthy("queue-worker", 60, &s),
        "queue-worker not healthy after 60s (health: stale_pid, detail: pid 7 is not running)"
    );
}
