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
mod tests;
