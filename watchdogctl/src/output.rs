//! Text rendering for people: the status table, action reports and wait results.
//!
//! Everything here is a pure function from replies (and "now") to a `String`, so layout is unit
//! tested without a daemon or a terminal.

use protocol::{
    ActionReport, Health, PipelineResult, RecoverySummary, ServiceState, ServiceStatus, StepReport,
};

use crate::clock::{format_age, format_ago, format_until};
use crate::table::{self, Paint, Row, cell, clean};

/// The status table's columns.
pub const HEADERS: [&str; 8] = [
    "KEY",
    "NAME",
    "STATE",
    "HEALTH",
    "PID",
    "AGE",
    "FAILURES",
    "LAST RECOVERY",
];

/// Whether to colour stdout: only on a terminal, and not when `NO_COLOR` is set to anything.
pub fn use_color() -> bool {
    use std::io::IsTerminal;
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// `succeeded 2m ago (automatic)`, or `-` when the service was never recovered.
pub fn format_last_recovery(last: Option<&RecoverySummary>, now_ms: i64) -> String {
    match last {
        None => "-".to_owned(),
        Some(r) => format!(
            "{} {} ago ({})",
            r.result.as_str(),
            format_ago(now_ms.saturating_sub(r.finished_ms)),
            r.trigger.as_str()
        ),
    }
}

fn dash<T: ToString>(value: Option<T>) -> String {
    value.map_or_else(|| "-".to_owned(), |v| v.to_string())
}

fn state_paint(s: &ServiceStatus) -> Paint {
    match s.state {
        ServiceState::Starting
        | ServiceState::Recovering
        | ServiceState::Stopping
        | ServiceState::Queued => Paint::Yellow,
        ServiceState::GaveUp | ServiceState::Failing => Paint::Red,
        ServiceState::Stopped | ServiceState::Disabled => Paint::Dim,
        ServiceState::Running => match s.health {
            Some(Health::Healthy) => Paint::Green,
            Some(_) => Paint::Red,
            None => Paint::Plain,
        },
    }
}

fn health_paint(s: &ServiceStatus) -> Paint {
    match (s.state, s.health) {
        (ServiceState::Stopped | ServiceState::Disabled, _) => Paint::Dim,
        (_, None) => Paint::Plain,
        (_, Some(Health::Healthy)) => Paint::Green,
        (ServiceState::Running | ServiceState::Failing | ServiceState::GaveUp, Some(_)) => {
            Paint::Red
        }
        // Unhealthy while starting or recovering is expected for a while.
        (_, Some(_)) => Paint::Yellow,
    }
}

/// The STATE cell: the state, plus when a maintenance window (`off --for`) ends.
fn state_text(s: &ServiceStatus, now_ms: i64) -> String {
    match s.off_until_ms {
        Some(until) => format!(
            "{} (until {})",
            s.state.as_str(),
            format_until(until, now_ms)
        ),
        None => s.state.as_str().to_owned(),
    }
}

/// One service's row of the status table.
pub fn row(s: &ServiceStatus, now_ms: i64) -> Row {
    let name = if s.display_name.is_empty() {
        "-"
    } else {
        &s.display_name
    };
    Row::new(vec![
        cell(s.key.clone(), Paint::Plain),
        cell(name, Paint::Plain),
        cell(state_text(s, now_ms), state_paint(s)),
        cell(dash(s.health.map(Health::as_str)), health_paint(s)),
        cell(dash(s.pid), Paint::Plain),
        cell(dash(s.heartbeat_age_ms.map(format_age)), Paint::Plain),
        cell(s.consecutive_failures.to_string(), Paint::Plain),
        cell(
            format_last_recovery(s.last_recovery.as_ref(), now_ms),
            match s.last_recovery.as_ref().map(|r| r.result) {
                Some(PipelineResult::Failed) => Paint::Red,
                _ => Paint::Plain,
            },
        ),
    ])
}

/// Longest `STATUS=` text shown in the table (the detail view shows all of it).
const SAYS_WIDTH: usize = 40;

/// The aligned status table (header plus one row per service), each line ending in `\n`.
/// When a service speaks notify and sent a `STATUS=` text, a last column `SAYS` shows it.
pub fn status_table(services: &[ServiceStatus], now_ms: i64, color: bool) -> String {
    let mut rows: Vec<Row> = services.iter().map(|s| row(s, now_ms)).collect();
    if !services.iter().any(|s| s.status_text.is_some()) {
        return table::render(&HEADERS, &rows, color);
    }
    for (r, s) in rows.iter_mut().zip(services) {
        let says = s.status_text.as_deref().map_or_else(
            || "-".to_owned(),
            |t| {
                let t = clean(t);
                match t.char_indices().nth(SAYS_WIDTH) {
                    Some((i, _)) => format!("{}…", &t[..i]),
                    None => t,
                }
            },
        );
        r.cells.push(cell(says, Paint::Plain));
    }
    let mut headers = HEADERS.to_vec();
    headers.push("SAYS");
    table::render(&headers, &rows, color)
}

/// `status KEY`: the one-row table plus the check's detail.
pub fn status_one(service: &ServiceStatus, now_ms: i64, color: bool) -> String {
    let mut out = status_table(std::slice::from_ref(service), now_ms, color);
    let detail = if service.detail.is_empty() {
        "-"
    } else {
        &service.detail
    };
    out.push_str(&format!("detail: {}\n", clean(detail)));
    if service.restarts_in_window > 0 {
        out.push_str(&format!(
            "automatic restarts in window: {}\n",
            service.restarts_in_window
        ));
    }
    if let Some(at) = service.next_attempt_ms {
        out.push_str(&format!(
            "next automatic attempt: {}\n",
            protocol::time::format_millis(at)
        ));
    }
    if let Some(skew) = service.clock_skew_ms {
        out.push_str(&format!(
            "clock skew: the heartbeat's timestamp is {:.1}s in the future (judged by the file's mtime)\n",
            skew as f64 / 1000.0
        ));
    }
    out
}

/// What a reload changed, one line per kind of change.
pub fn reload(r: &protocol::ReloadReport) -> String {
    let list = |keys: &[String]| {
        if keys.is_empty() {
            "-".to_owned()
        } else {
            keys.join(", ")
        }
    };
    let mut out = format!(
        "reloaded: added {}; removed {}; changed {}\n",
        list(&r.added),
        list(&r.removed),
        list(&r.changed)
    );
    if !r.needs_restart.is_empty() {
        out.push_str(&format!(
            "needs a daemon restart to apply: {}\n",
            r.needs_restart.join(", ")
        ));
    }
    for w in &r.warnings {
        out.push_str(&format!("warning: {w}\n"));
    }
    out
}

/// One pipeline step: `kill: ok (12 ms) message` (no indent, no newline).
pub fn step(step: &StepReport) -> String {
    let mut line = format!(
        "{}: {} ({} ms)",
        step.action,
        step.outcome.as_str(),
        step.duration_ms
    );
    if !step.message.is_empty() {
        line.push(' ');
        line.push_str(&step.message);
    }
    clean(&line)
}

/// `KEY: message`, then each step as `  kill: ok (12 ms) message`.
pub fn action(report: &ActionReport) -> String {
    let mut out = format!("{}: {}\n", report.key, clean(&report.message));
    for s in &report.steps {
        out.push_str("  ");
        out.push_str(&step(s));
        out.push('\n');
    }
    out
}

/// `off KEY --for D`: when watchdogd turns the service back on (as the client reckons it).
pub fn off_until(key: &str, window: &str, until_ms: i64, now_ms: i64) -> String {
    format!(
        "{key}: off for {window}, until {}; then watchdogd turns it back on\n",
        format_until(until_ms, now_ms)
    )
}

/// start-all / stop-all: one line per service, or the full report of each with `verbose`.
pub fn bulk(reports: &[ActionReport], verbose: bool) -> String {
    reports
        .iter()
        .map(|r| {
            if verbose {
                action(r)
            } else {
                format!("{}: {}\n", r.key, clean(&r.message))
            }
        })
        .collect()
}

/// A successful wait: `KEY: healthy (pid N)`.
pub fn healthy(service: &ServiceStatus) -> String {
    match service.pid {
        Some(pid) => format!("{}: healthy (pid {pid})\n", service.key),
        None => format!("{}: healthy\n", service.key),
    }
}

/// The stderr message of a wait that timed out.
pub fn not_healthy(key: &str, timeout_secs: u64, service: &ServiceStatus) -> String {
    let detail = if service.detail.is_empty() {
        "-"
    } else {
        &service.detail
    };
    format!(
        "{key} not healthy after {timeout_secs}s (health: {}, detail: {detail})",
        service.health.map_or("unknown", Health::as_str)
    )
}

#[cfg(test)]
mod tests {
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
}
