//! Text rendering for people: the status table, action reports and wait results.
//!
//! Everything here is a pure function from replies (and "now") to a `String`, so layout is unit
//! tested without a daemon or a terminal. Column widths are computed from the plain text and the
//! colour codes are added around the padded-out text, so colour never breaks alignment.

use protocol::{
    ActionReport, Health, PipelineResult, RecoverySummary, ServiceState, ServiceStatus,
};

const HEADERS: [&str; 8] = [
    "KEY",
    "NAME",
    "STATE",
    "HEALTH",
    "PID",
    "AGE",
    "FAILURES",
    "LAST RECOVERY",
];
const GAP: &str = "  ";

/// Whether to colour stdout: only on a terminal, and not when `NO_COLOR` is set to anything.
pub fn use_color() -> bool {
    use std::io::IsTerminal;
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// The few ANSI styles we use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Paint {
    Plain,
    Bold,
    Green,
    Red,
    Yellow,
    Dim,
}

impl Paint {
    fn code(self) -> Option<&'static str> {
        match self {
            Paint::Plain => None,
            Paint::Bold => Some("\x1b[1m"),
            Paint::Green => Some("\x1b[32m"),
            Paint::Red => Some("\x1b[31m"),
            Paint::Yellow => Some("\x1b[33m"),
            Paint::Dim => Some("\x1b[2m"),
        }
    }
}

struct Cell {
    text: String,
    paint: Paint,
}

fn cell(text: impl Into<String>, paint: Paint) -> Cell {
    Cell {
        text: text.into(),
        paint,
    }
}

/// Display width, close enough for keys and names (one column per `char`).
fn width(text: &str) -> usize {
    text.chars().count()
}

/// A heartbeat age: `3s`, `2m05s`, `1h02m`, `3d04h`. Negative ages (clock skew) read as `0s`.
pub fn format_age(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        3600..86_400 => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
        _ => format!("{}d{:02}h", s / 86_400, s % 86_400 / 3600),
    }
}

/// A coarse "how long ago", one unit: `5s`, `2m`, `3h`, `4d`.
pub fn format_ago(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m", s / 60),
        3600..86_400 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86_400),
    }
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
        ServiceState::Starting | ServiceState::Recovering | ServiceState::Stopping => Paint::Yellow,
        ServiceState::GaveUp => Paint::Red,
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
        (ServiceState::Running, Some(_)) => Paint::Red,
        // Unhealthy while starting or recovering is expected for a while.
        (_, Some(_)) => Paint::Yellow,
    }
}

fn row(s: &ServiceStatus, now_ms: i64) -> [Cell; 8] {
    let name = if s.display_name.is_empty() {
        "-"
    } else {
        &s.display_name
    };
    [
        cell(s.key.clone(), Paint::Plain),
        cell(name, Paint::Plain),
        cell(s.state.as_str(), state_paint(s)),
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
    ]
}

fn push_line(out: &mut String, cells: &[Cell], widths: &[usize], color: bool) {
    let last = cells.len().saturating_sub(1);
    for (i, c) in cells.iter().enumerate() {
        if i > 0 {
            out.push_str(GAP);
        }
        match c.paint.code().filter(|_| color) {
            Some(code) => {
                out.push_str(code);
                out.push_str(&c.text);
                out.push_str("\x1b[0m");
            }
            None => out.push_str(&c.text),
        }
        if i < last {
            let pad = widths[i].saturating_sub(width(&c.text));
            out.extend(std::iter::repeat_n(' ', pad));
        }
    }
    out.push('\n');
}

/// The aligned status table (header plus one row per service), each line ending in `\n`.
pub fn status_table(services: &[ServiceStatus], now_ms: i64, color: bool) -> String {
    let rows: Vec<[Cell; 8]> = services.iter().map(|s| row(s, now_ms)).collect();
    let mut widths = HEADERS.map(width);
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(width(&c.text));
        }
    }
    let mut out = String::new();
    let header = HEADERS.map(|h| cell(h, Paint::Bold));
    push_line(&mut out, &header, &widths, color);
    for r in &rows {
        push_line(&mut out, r, &widths, color);
    }
    out
}

/// `status KEY`: the one-row table plus the check's detail.
pub fn status_one(service: &ServiceStatus, now_ms: i64, color: bool) -> String {
    let mut out = status_table(std::slice::from_ref(service), now_ms, color);
    let detail = if service.detail.is_empty() {
        "-"
    } else {
        &service.detail
    };
    out.push_str(&format!("detail: {detail}\n"));
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

/// `KEY: message`, then each step as `  kill: ok (12 ms) message`.
pub fn action(report: &ActionReport) -> String {
    let mut out = format!("{}: {}\n", report.key, report.message);
    for step in &report.steps {
        let mut line = format!(
            "  {}: {} ({} ms)",
            step.action,
            step.outcome.as_str(),
            step.duration_ms
        );
        if !step.message.is_empty() {
            line.push(' ');
            line.push_str(&step.message);
        }
        out.push_str(&line);
        out.push('\n');
    }
    out
}

/// start-all / stop-all: one line per service, or the full report of each with `verbose`.
pub fn bulk(reports: &[ActionReport], verbose: bool) -> String {
    reports
        .iter()
        .map(|r| {
            if verbose {
                action(r)
            } else {
                format!("{}: {}\n", r.key, r.message)
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
    use protocol::{StepOutcome, StepReport, Trigger};

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
    fn ages() {
        assert_eq!(format_age(0), "0s");
        assert_eq!(format_age(3_999), "3s");
        assert_eq!(format_age(-5_000), "0s");
        assert_eq!(format_age(125_000), "2m05s");
        assert_eq!(format_age(3_720_000), "1h02m");
        assert_eq!(format_age(86_400_000 * 3 + 3_600_000 * 4), "3d04h");
        assert_eq!(format_ago(59_000), "59s");
        assert_eq!(format_ago(125_000), "2m");
        assert_eq!(format_ago(7_300_000), "2h");
        assert_eq!(format_ago(86_400_000 * 2), "2d");
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
queue-worker  Q           stopped  -        -     -    12        -
";
        assert_eq!(table, expected);
        assert!(table.lines().all(|l| !l.ends_with(' ')));
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
        assert!(coloured.contains("\x1b[2mstopped\x1b[0m"));
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
