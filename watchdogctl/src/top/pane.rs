//! The detail pane of one service, as lines of toned text: its row now, the actions it can run
//! (numbered, with whether each runs in recoveries), the last pipeline's steps with outcome,
//! duration and the tail of their output, recent history, the heartbeat file and what it holds,
//! and a summary of its settings.
//!
//! The settings are `status KEY`'s summary (no `env`: it may hold secrets); a step's message is
//! the daemon's already-escaped one-line account, of which the end (where a failing script says
//! why) is what fits.

use protocol::{HistoryEntry, HistoryKind, ServiceDetail, ServiceStatus};
use serde_json::Value;

use super::columns::cut;
use super::model::Entry;
use super::tone::{self, Tone};
use crate::audit;
use crate::clock::{format_age, format_ago, format_time};
use crate::table::clean;

/// History rows shown.
const RECENT: usize = 6;

/// One action the service can run by hand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionItem {
    pub name: String,
    /// Listed in `recovery_actions`.
    pub in_recovery: bool,
    /// In the config's `disabled_actions`.
    pub off_in_config: bool,
    /// Turned off at runtime (`actions KEY --disable`).
    pub off_at_runtime: bool,
}

impl ActionItem {
    fn describe(&self) -> String {
        let mut words = vec![if self.in_recovery {
            "in recoveries"
        } else {
            "by hand only"
        }];
        if self.off_in_config {
            words.push("off in the config");
        }
        if self.off_at_runtime {
            words.push("off at runtime");
        }
        words.join(", ")
    }
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// The actions `run KEY ACTION` accepts for this service: its recovery actions in order, then
/// `kill` and its other commands.
pub fn actions(config_json: &str, status: &ServiceStatus) -> Vec<ActionItem> {
    let cfg: Value = serde_json::from_str(config_json).unwrap_or(Value::Null);
    let recovery = strings(cfg.get("recovery_actions"));
    let disabled = strings(cfg.get("disabled_actions"));
    let mut names = recovery.clone();
    let mut others = vec!["kill".to_owned()];
    if let Some(Value::Object(commands)) = cfg.get("commands") {
        others.extend(commands.keys().cloned());
    }
    for name in others {
        if !names.contains(&name) {
            names.push(name);
        }
    }
    names
        .into_iter()
        .map(|name| ActionItem {
            in_recovery: recovery.contains(&name),
            off_in_config: disabled.contains(&name),
            off_at_runtime: status.actions_disabled.contains(&name),
            name,
        })
        .collect()
}

pub type Line = Vec<(String, Tone)>;

fn plain(text: impl Into<String>) -> Line {
    vec![(text.into(), Tone::Plain)]
}

fn heading(title: &str, rest: &str) -> Line {
    vec![
        (title.to_owned(), Tone::Strong),
        (format!("  {rest}"), Tone::Dim),
    ]
}

/// The pane's lines. `live` is the service's row from the stream (fresher than the detail's),
/// `selected` the highlighted action.
pub fn lines(
    d: &ServiceDetail,
    live: Option<&Entry>,
    selected: usize,
    now_ms: i64,
    width: usize,
) -> Vec<Line> {
    let s = live.map_or(&d.status, |e| &e.status);
    let mut out = Vec::new();
    let name = if s.display_name.is_empty() {
        String::new()
    } else {
        format!(" · {}", s.display_name)
    };
    out.push(vec![(clean(&format!("{}{name}", s.key)), Tone::Strong)]);
    out.extend(summary(s, live, now_ms));
    if !s.detail.is_empty() {
        out.push(plain(format!("detail: {}", clean(&s.detail))));
    }
    if let Some(text) = &s.status_text {
        out.push(plain(format!("says: {}", clean(text))));
    }
    if let Some(e) = live {
        let (bad, flips) = e.strip.summary();
        let note = format!(" {bad} unhealthy, {flips} flips");
        let mut line = plain("checks: ");
        let w = width.saturating_sub(8 + note.len()).min(e.strip.len());
        line.extend(
            e.strip
                .cells(w)
                .into_iter()
                .map(|(c, t)| (c.to_string(), t)),
        );
        line.push((note, Tone::Dim));
        out.push(line);
    }
    out.push(Vec::new());
    out.push(heading(
        "ACTIONS",
        "↑↓ Enter or 1-9 run · Space on/off in recoveries · : run by name",
    ));
    for (i, item) in actions(&d.config_json, s).iter().enumerate() {
        let mark = if i == selected { ">" } else { " " };
        let number = if i < 9 {
            (i + 1).to_string()
        } else {
            " ".into()
        };
        let tone = if item.off_in_config || item.off_at_runtime {
            Tone::Dim
        } else {
            Tone::Plain
        };
        out.push(vec![
            (format!("{mark} {number} "), Tone::Strong),
            (format!("{:<14} ", clean(&item.name)), tone),
            (item.describe(), tone),
        ]);
    }
    out.push(Vec::new());
    pipeline(&d.history, now_ms, width, &mut out);
    out.push(Vec::new());
    out.push(heading("RECENT", &format!("history {} shows more", s.key)));
    let recent: Vec<&HistoryEntry> = d.history.iter().take(RECENT).collect();
    if recent.is_empty() {
        out.push(plain("  none"));
    }
    for e in recent {
        out.push(vec![
            (
                format!("  {} {:<8} ", format_time(e.at_ms), e.kind.as_str()),
                Tone::Plain,
            ),
            (clean(&audit::what(e)), history_tone(e)),
            (format!(" {}", clean(&audit::detail(e))), Tone::Plain),
        ]);
    }
    out.push(Vec::new());
    let cfg: Value = serde_json::from_str(&d.config_json).unwrap_or(Value::Null);
    let path = cfg
        .get("heartbeat_path")
        .and_then(Value::as_str)
        .unwrap_or("-");
    out.push(heading("HEARTBEAT", &clean(path)));
    if !d.heartbeat_source.is_empty() {
        out.push(plain(format!("  source: {}", clean(&d.heartbeat_source))));
    }
    let beat = d.heartbeat.trim();
    out.push(plain(format!(
        "  {}",
        if beat.is_empty() {
            "-".into()
        } else {
            clean(beat)
        }
    )));
    out.push(Vec::new());
    out.push(heading("CONFIG", "watchdogd --check-config shows all"));
    for line in crate::detail::config_summary(&d.config_json).lines() {
        out.push(plain(line));
    }
    out.into_iter().map(|l| cut_line(l, width)).collect()
}

/// `state running · health healthy · pid 4242 · age 3s`, then
/// `failures 0 · restarts in window 0 · monitored`.
fn summary(s: &ServiceStatus, live: Option<&Entry>, now_ms: i64) -> [Line; 2] {
    let age = live
        .and_then(|e| e.age_ms(now_ms))
        .or(s.heartbeat_age_ms)
        .map_or_else(|| "-".into(), format_age);
    let monitoring = match s.monitoring_override {
        Some(false) => "monitoring off (runtime override)",
        Some(true) => "monitoring on (runtime override)",
        None if s.enabled => "monitored",
        None => "not monitored (config)",
    };
    [
        vec![
            ("state ".into(), Tone::Plain),
            (s.state.as_str().into(), tone::state(s)),
            (" · health ".into(), Tone::Plain),
            (s.health.map_or("-", |h| h.as_str()).into(), tone::health(s)),
            (
                format!(
                    " · pid {} · age {age}",
                    s.pid.map_or_else(|| "-".into(), |p| p.to_string())
                ),
                Tone::Plain,
            ),
        ],
        plain(format!(
            "failures {} · restarts in window {} · {monitoring}",
            s.consecutive_failures, s.restarts_in_window
        )),
    ]
}

/// `LAST PIPELINE` and its steps, from the newest recovery in the history.
fn pipeline(history: &[HistoryEntry], now_ms: i64, width: usize, out: &mut Vec<Line>) {
    let Some(run) = history.iter().find(|e| e.kind == HistoryKind::Recovery) else {
        out.push(heading("LAST PIPELINE", "none recorded"));
        return;
    };
    let took = run
        .finished_ms
        .map(|f| format!(", took {} ms", f.saturating_sub(run.at_ms).max(0)))
        .unwrap_or_default();
    out.push(heading(
        "LAST PIPELINE",
        &clean(&format!(
            "{} {} ago{took}",
            audit::what(run),
            format_ago(now_ms.saturating_sub(run.at_ms).max(0))
        )),
    ));
    if run.steps.is_empty() && !run.message.is_empty() {
        out.push(plain(format!("  {}", clean(&run.message))));
    }
    for step in &run.steps {
        let head = format!(
            "  {:<12} {:<6} {:>6} ms  ",
            clean(&step.action),
            step.outcome.as_str(),
            step.duration_ms
        );
        let room = width.saturating_sub(head.chars().count()).max(8);
        let tone = match step.outcome {
            protocol::StepOutcome::Ok => Tone::Plain,
            protocol::StepOutcome::Warned => Tone::Warn,
            protocol::StepOutcome::Failed => Tone::Bad,
        };
        out.push(vec![
            (head, tone),
            (tail(&clean(&step.message), room), Tone::Plain),
        ]);
    }
}

/// The last `room` columns of `text`, with `…` in front when cut: a script's output ends with
/// why it failed.
fn tail(text: &str, room: usize) -> String {
    let chars: Vec<char> = text.chars().collect();
    if chars.len() <= room {
        return text.to_owned();
    }
    let keep = room.saturating_sub(1);
    let mut out = String::from("…");
    out.extend(&chars[chars.len() - keep..]);
    out
}

fn history_tone(e: &HistoryEntry) -> Tone {
    match e.kind {
        HistoryKind::Check => match e.health {
            Some(h) if h.is_healthy() => Tone::Good,
            Some(_) => Tone::Bad,
            None => Tone::Plain,
        },
        HistoryKind::Recovery => match e.outcome.as_str() {
            "succeeded" => Tone::Good,
            "failed" | "interrupted" => Tone::Bad,
            _ => Tone::Warn,
        },
        HistoryKind::Event => Tone::Plain,
    }
}

/// A line cut to `width` columns.
fn cut_line(line: Line, width: usize) -> Line {
    let mut left = width;
    let mut out = Vec::new();
    for (text, tone) in line {
        if left == 0 {
            break;
        }
        let w = unicode_width::UnicodeWidthStr::width(text.as_str());
        if w <= left {
            left -= w;
            out.push((text, tone));
        } else {
            out.push((cut(&text, left), tone));
            left = 0;
        }
    }
    out
}

#[cfg(test)]
mod tests;
