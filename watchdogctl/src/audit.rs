//! The audit log as people and scripts see it: `history` entries and live `events`.
//!
//! Pure functions from replies to text or JSON, like `output` and `json`. A history row's WHAT
//! column says in one word or two what happened (a check's health, a recovery's trigger and
//! result, an event's kind); DETAIL says the rest. A recovery's steps go on lines beneath its row.

use protocol::time::format_millis;
use protocol::{EventRecord, Health, HistoryEntry, HistoryKind};
use serde_json::{Value, json};

use crate::clock::format_time;
use crate::table::{self, Paint, Row, cell, clean};
use crate::{json as shapes, output};

/// The history table's columns.
pub const HEADERS: [&str; 5] = ["TIME", "KEY", "KIND", "WHAT", "DETAIL"];

/// A service key, or `-` for daemon-wide entries.
fn key_text(key: &str) -> &str {
    if key.is_empty() { "-" } else { key }
}

/// The WHAT column: `healthy`; `restart succeeded`; `gave_up`.
pub fn what(e: &HistoryEntry) -> String {
    match e.kind {
        HistoryKind::Check => e
            .health
            .map_or_else(|| e.outcome.clone(), |h| h.as_str().to_owned()),
        HistoryKind::Recovery => match e.trigger {
            Some(t) => format!("{} {}", t.as_str(), e.outcome),
            None => e.outcome.clone(),
        },
        HistoryKind::Event => e.outcome.clone(),
    }
}

/// The DETAIL column: `failures 2; heartbeat 9s old`; `restart done (1034 ms)`.
pub fn detail(e: &HistoryEntry) -> String {
    let mut parts = Vec::new();
    match e.kind {
        HistoryKind::Check => {
            // The PID is left to JSON: the daemon's message names it whenever it matters.
            if let Some(f) = e.failures.filter(|&f| f > 0) {
                parts.push(format!("failures {f}"));
            }
            if !e.message.is_empty() {
                parts.push(e.message.clone());
            }
        }
        HistoryKind::Recovery => {
            let mut text = e.message.clone();
            if let Some(done) = e.finished_ms {
                let took = format!("({} ms)", done.saturating_sub(e.at_ms).max(0));
                text = if text.is_empty() {
                    took
                } else {
                    format!("{text} {took}")
                };
            }
            parts.push(text);
        }
        HistoryKind::Event => parts.push(e.message.clone()),
    }
    parts.retain(|p| !p.is_empty());
    if parts.is_empty() {
        "-".to_owned()
    } else {
        parts.join("; ")
    }
}

fn what_paint(e: &HistoryEntry) -> Paint {
    match e.kind {
        HistoryKind::Check => match e.health {
            Some(Health::Healthy) => Paint::Green,
            Some(_) => Paint::Red,
            None => Paint::Plain,
        },
        HistoryKind::Recovery => match e.outcome.as_str() {
            "succeeded" => Paint::Green,
            "warned" | "running" | "skipped" => Paint::Yellow,
            _ => Paint::Red,
        },
        HistoryKind::Event if e.outcome == "gave_up" => Paint::Red,
        HistoryKind::Event => Paint::Plain,
    }
}

/// The history table, newest first as the daemon sent it; each recovery's steps are listed
/// beneath its row, indented: `  kill: ok (29 ms) stopped process group 21843 with SIGTERM`.
pub fn table(entries: &[HistoryEntry], color: bool) -> String {
    let rows: Vec<Row> = entries.iter().map(row).collect();
    table::render(&HEADERS, &rows, color)
}

/// One entry's row of the history table, with its steps beneath.
pub fn row(e: &HistoryEntry) -> Row {
    let mut row = Row::new(vec![
        cell(format_time(e.at_ms), Paint::Plain),
        cell(key_text(&e.key), Paint::Plain),
        cell(e.kind.as_str(), Paint::Plain),
        cell(what(e), what_paint(e)),
        cell(detail(e), Paint::Plain),
    ]);
    row.beneath = e
        .steps
        .iter()
        .map(|s| format!("  {}", output::step(s)))
        .collect();
    row
}

/// One live event: `TIME KEY KIND [HEALTH] [STATE] MESSAGE`, newline-terminated.
pub fn event_line(ev: &EventRecord) -> String {
    let mut fields = vec![
        format_time(ev.at_ms),
        key_text(&ev.key).to_owned(),
        ev.kind.as_str().to_owned(),
    ];
    if let Some(h) = ev.health {
        fields.push(h.as_str().to_owned());
    }
    if let Some(s) = ev.state {
        fields.push(s.as_str().to_owned());
    }
    if !ev.message.is_empty() {
        fields.push(ev.message.clone());
    }
    let mut line = clean(&fields.join(" "));
    line.push('\n');
    line
}

/// A key for JSON: `null` for daemon-wide entries.
fn key_json(key: &str) -> Value {
    if key.is_empty() {
        Value::Null
    } else {
        json!(key)
    }
}

/// One history entry: `{kind, key, at, health, pid, failures, trigger, outcome, finished,
/// steps, message}`.
pub fn entry_json(e: &HistoryEntry) -> Value {
    json!({
        "kind": e.kind.as_str(),
        "key": key_json(&e.key),
        "at": format_millis(e.at_ms),
        "health": e.health.map(Health::as_str),
        "pid": e.pid,
        "failures": e.failures,
        "trigger": e.trigger.map(|t| t.as_str()),
        "outcome": e.outcome,
        "finished": e.finished_ms.map(format_millis),
        "steps": e.steps.iter().map(shapes::step).collect::<Vec<_>>(),
        "message": e.message,
    })
}

/// `history` / `events`: an array of [`entry_json`] objects, newest first.
pub fn history_json(entries: &[HistoryEntry]) -> Value {
    Value::Array(entries.iter().map(entry_json).collect())
}

/// One live event: `{at, key, kind, health, state, message}`.
pub fn event_json(ev: &EventRecord) -> Value {
    json!({
        "at": format_millis(ev.at_ms),
        "key": key_json(&ev.key),
        "kind": ev.kind.as_str(),
        "health": ev.health.map(Health::as_str),
        "state": ev.state.map(|s| s.as_str()),
        "message": ev.message,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::{EventKind, ServiceState, StepOutcome, StepReport, Trigger};

    const AT: i64 = 1_770_272_249_601; // 2026-02-05T06:17:29.601Z

    fn check() -> HistoryEntry {
        HistoryEntry {
            kind: HistoryKind::Check,
            key: "api".into(),
            at_ms: AT,
            health: Some(Health::TimedOut),
            pid: Some(4242),
            failures: Some(2),
            trigger: None,
            outcome: "timed_out".into(),
            finished_ms: None,
            steps: Vec::new(),
            message: "heartbeat 9s old".into(),
        }
    }

    fn recovery() -> HistoryEntry {
        HistoryEntry {
            kind: HistoryKind::Recovery,
            key: "api".into(),
            at_ms: AT - 5000,
            health: None,
            pid: Some(4300),
            failures: None,
            trigger: Some(Trigger::Automatic),
            outcome: "succeeded".into(),
            finished_ms: Some(AT - 3966),
            steps: vec![
                StepReport {
                    action: "kill".into(),
                    outcome: StepOutcome::Ok,
                    message: "stopped process group 4200 with SIGTERM".into(),
                    duration_ms: 29,
                },
                StepReport {
                    action: "start".into(),
                    outcome: StepOutcome::Ok,
                    message: "started pid 4300".into(),
                    duration_ms: 1002,
                },
            ],
            message: "automatic done".into(),
        }
    }

    fn event() -> HistoryEntry {
        HistoryEntry {
            kind: HistoryKind::Event,
            key: String::new(),
            at_ms: AT - 60_000,
            health: None,
            pid: None,
            failures: None,
            trigger: None,
            outcome: "reloaded".into(),
            finished_ms: None,
            steps: Vec::new(),
            message: "added worker".into(),
        }
    }

    #[test]
    fn table_lists_steps_beneath_recoveries() {
        let text = table(&[check(), recovery(), event()], false);
        let expected = "\
TIME                  KEY  KIND      WHAT                 DETAIL
2026-02-05T06:17:29Z  api  check     timed_out            failures 2; heartbeat 9s old
2026-02-05T06:17:24Z  api  recovery  automatic succeeded  automatic done (1034 ms)
  kill: ok (29 ms) stopped process group 4200 with SIGTERM
  start: ok (1002 ms) started pid 4300
2026-02-05T06:16:29Z  -    event     reloaded             added worker
";
        assert_eq!(text, expected);
        assert_eq!(table(&[], false), "TIME  KEY  KIND  WHAT  DETAIL\n");
    }

    #[test]
    fn what_and_detail_fall_back() {
        let mut c = check();
        c.health = None;
        c.pid = None;
        c.failures = Some(0);
        c.message.clear();
        assert_eq!(what(&c), "timed_out");
        assert_eq!(detail(&c), "-");
        let mut r = recovery();
        r.trigger = None;
        r.finished_ms = None;
        r.outcome = "running".into();
        assert_eq!(what(&r), "running");
        assert_eq!(detail(&r), "automatic done");
    }

    #[test]
    fn event_lines() {
        let ev = EventRecord {
            at_ms: AT,
            key: "api".into(),
            kind: EventKind::StateChanged,
            health: Some(Health::Healthy),
            state: Some(ServiceState::Running),
            message: "started".into(),
        };
        assert_eq!(
            event_line(&ev),
            "2026-02-05T06:17:29Z api state_changed healthy running started\n"
        );
        let lagged = EventRecord {
            key: String::new(),
            kind: EventKind::Lagged,
            health: None,
            state: None,
            message: "missed 3 events".into(),
            ..ev.clone()
        };
        assert_eq!(
            event_line(&lagged),
            "2026-02-05T06:17:29Z - lagged missed 3 events\n"
        );
        assert_eq!(
            event_json(&ev),
            json!({
                "at": "2026-02-05T06:17:29.601000+00:00",
                "key": "api",
                "kind": "state_changed",
                "health": "healthy",
                "state": "running",
                "message": "started",
            })
        );
        assert_eq!(event_json(&lagged)["key"], Value::Null);
        assert_eq!(event_json(&lagged)["health"], Value::Null);
    }

    #[test]
    fn entry_shapes() {
        assert_eq!(
            entry_json(&recovery()),
            json!({
                "kind": "recovery",
                "key": "api",
                "at": "2026-02-05T06:17:24.601000+00:00",
                "health": null,
                "pid": 4300,
                "failures": null,
                "trigger": "automatic",
                "outcome": "succeeded",
                "finished": "2026-02-05T06:17:25.635000+00:00",
                "steps": [
                    {"action": "kill", "outcome": "ok",
                     "message": "stopped process group 4200 with SIGTERM", "duration_ms": 29},
                    {"action": "start", "outcome": "ok",
                     "message": "started pid 4300", "duration_ms": 1002},
                ],
                "message": "automatic done",
            })
        );
        assert_eq!(
            entry_json(&check()),
            json!({
                "kind": "check",
                "key": "api",
                "at": "2026-02-05T06:17:29.601000+00:00",
                "health": "timed_out",
                "pid": 4242,
                "failures": 2,
                "trigger": null,
                "outcome": "timed_out",
                "finished": null,
                "steps": [],
                "message": "heartbeat 9s old",
            })
        );
        let all = history_json(&[check(), event()]);
        assert_eq!(all[1]["key"], Value::Null);
        assert_eq!(all[1]["kind"], "event");
        assert_eq!(all[1]["outcome"], "reloaded");
    }
}
