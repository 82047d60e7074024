//! `status KEY` in depth: the one-row table and its detail line, then the service's settings,
//! its heartbeat file as it is now, and its last few checks and recoveries.
//!
//! The settings are a summary of the daemon's normalized config, not the whole of it: the whole
//! includes `env`, which may hold secrets that have no business on a shared terminal or in a
//! pasted support ticket. `watchdogd --check-config` prints everything.

use protocol::ServiceDetail;
use serde_json::Value;

use crate::audit;
use crate::output;
use crate::table::clean;

/// History entries shown under `recent:`; `history KEY` shows more.
const RECENT: usize = 5;

/// The settings shown, in this order; a missing or null one is left out.
const SUMMARY: [&str; 10] = [
    "enabled",
    "timeout_seconds",
    "check_interval_seconds",
    "consecutive_failures_threshold",
    "start_grace_seconds",
    "stall_seconds",
    "heartbeat",
    "heartbeat_path",
    "recovery_actions",
    "disabled_actions",
];

/// A setting's value on one line: strings bare, lists joined with ` → ` (actions run in order).
fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(items) => {
            let parts: Vec<String> = items.iter().map(value_text).collect();
            parts.join(" → ")
        }
        other => other.to_string(),
    }
}

/// `config:` lines: the [`SUMMARY`] settings and each command, or the daemon's text as it came
/// when it is not a JSON object.
pub fn config_summary(config_json: &str) -> String {
    let Ok(Value::Object(cfg)) = serde_json::from_str::<Value>(config_json) else {
        let mut out = String::new();
        for line in config_json.lines() {
            out.push_str(&format!("  {}\n", clean(line)));
        }
        return out;
    };
    let mut out = String::new();
    for name in SUMMARY {
        match cfg.get(name) {
            None | Some(Value::Null) => {}
            Some(Value::Array(a)) if a.is_empty() && name == "disabled_actions" => {}
            Some(v) => out.push_str(&format!("  {name}: {}\n", clean(&value_text(v)))),
        }
    }
    if let Some(Value::Object(commands)) = cfg.get("commands")
        && !commands.is_empty()
    {
        out.push_str("  commands:\n");
        for (name, command) in commands {
            out.push_str(&format!("    {name}: {}\n", clean(&value_text(command))));
        }
    }
    out
}

/// The whole detail view.
pub fn view(d: &ServiceDetail, now_ms: i64, color: bool) -> String {
    let mut out = output::status_one(&d.status, now_ms, color);
    out.push_str("config:\n");
    out.push_str(&config_summary(&d.config_json));
    let beat = d.heartbeat.trim();
    out.push_str(&format!(
        "heartbeat: {}\n",
        if beat.is_empty() {
            "-".into()
        } else {
            clean(beat)
        }
    ));
    if !d.heartbeat_source.is_empty() {
        out.push_str(&format!("source: {}\n", clean(&d.heartbeat_source)));
    }
    if let Some(text) = &d.status.status_text {
        out.push_str(&format!("says: {}\n", clean(text)));
    }
    let mut overrides = Vec::new();
    match d.status.monitoring_override {
        Some(false) => {
            overrides.push("monitoring disabled (`watchdogctl enable` undoes it)".to_owned())
        }
        Some(true) => overrides.push("monitoring enabled despite enabled: false".to_owned()),
        None => {}
    }
    if !d.status.actions_disabled.is_empty() {
        overrides.push(format!(
            "actions disabled: {}",
            d.status.actions_disabled.join(", ")
        ));
    }
    if !overrides.is_empty() {
        out.push_str(&format!("overrides: {}\n", clean(&overrides.join("; "))));
    }
    if d.history.is_empty() {
        out.push_str("recent: none\n");
        return out;
    }
    out.push_str("recent:\n");
    let shown = &d.history[..d.history.len().min(RECENT)];
    for line in audit::table(shown, color).lines() {
        out.push_str("  ");
        out.push_str(line);
        out.push('\n');
    }
    if d.history.len() > RECENT {
        out.push_str(&format!(
            "  (older entries: watchdogctl history {})\n",
            d.status.key
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::{
        Health, HistoryEntry, HistoryKind, ServiceState, ServiceStatus, StepOutcome, StepReport,
        Trigger,
    };

    const NOW: i64 = 1_770_272_249_601;

    fn config() -> String {
        serde_json::to_string_pretty(&serde_json::json!({
            "display_name": "Demo service",
            "timeout_seconds": 6,
            "heartbeat_path": "/srv/run/heartbeats/demo.json",
            "enabled": true,
            "commands": {"start": "exec demo.sh", "clear_cache": "clear-cache.sh"},
            "recovery_actions": ["kill", "clear_cache", "start"],
            "disabled_actions": [],
            "check_interval_seconds": 2,
            "consecutive_failures_threshold": 2,
            "start_grace_seconds": 10,
            "env": {"API_TOKEN": "secret"},
            "stall_seconds": null,
        }))
        .unwrap()
    }

    fn detail(history: Vec<HistoryEntry>) -> ServiceDetail {
        ServiceDetail {
            status: ServiceStatus {
                key: "demo".into(),
                display_name: "Demo service".into(),
                enabled: true,
                state: ServiceState::Running,
                health: Some(Health::Healthy),
                pid: Some(21711),
                heartbeat_age_ms: Some(1100),
                consecutive_failures: 0,
                last_check_ms: Some(NOW),
                last_recovery: None,
                detail: "pid 21711 beating, iteration 4".into(),
                clock_skew_ms: None,
                restarts_in_window: 0,
                next_attempt_ms: None,
                off_until_ms: None,
                monitoring_override: None,
                actions_disabled: Vec::new(),
                status_text: None,
            },
            config_json: config(),
            heartbeat: r#"{"process_key": "demo", "pid": 21711, "status": "running"}"#.into(),
            heartbeat_source: String::new(),
            history,
        }
    }

    fn entry(i: i64) -> HistoryEntry {
        HistoryEntry {
            kind: HistoryKind::Recovery,
            key: "demo".into(),
            at_ms: NOW - i * 1000,
            health: None,
            pid: None,
            failures: None,
            trigger: Some(Trigger::Restart),
            outcome: "succeeded".into(),
            finished_ms: Some(NOW - i * 1000 + 30),
            steps: vec![StepReport {
                action: "kill".into(),
                outcome: StepOutcome::Ok,
                message: "no process to stop".into(),
                duration_ms: 0,
            }],
            message: "restart done".into(),
        }
    }

    #[test]
    fn the_whole_view() {
        let text = view(&detail(vec![entry(1)]), NOW, false);
        let expected = "\
KEY   NAME          STATE    HEALTH   PID    AGE  FAILURES  LAST RECOVERY
demo  Demo service  running  healthy  21711  1s   0         -
detail: pid 21711 beating, iteration 4
config:
  enabled: true
  timeout_seconds: 6
  check_interval_seconds: 2
  consecutive_failures_threshold: 2
  start_grace_seconds: 10
  heartbeat_path: /srv/run/heartbeats/demo.json
  recovery_actions: kill → clear_cache → start
  commands:
    clear_cache: clear-cache.sh
    start: exec demo.sh
heartbeat: {\"process_key\": \"demo\", \"pid\": 21711, \"status\": \"running\"}
recent:
  TIME                  KEY   KIND      WHAT               DETAIL
  2026-02-05T06:17:28Z  demo  recovery  restart succeeded  restart done (30 ms)
    kill: ok (0 ms) no process to stop
";
        assert_eq!(text, expected);
        assert!(!text.contains("secret"));
    }

    #[test]
    fn few_entries_and_odd_input() {
        let text = view(&detail((1..=8).map(entry).collect()), NOW, false);
        assert_eq!(text.matches("restart succeeded").count(), RECENT);
        assert!(text.ends_with("  (older entries: watchdogctl history demo)\n"));
        let mut d = detail(Vec::new());
        d.config_json = "not json\x1b[2J".into();
        d.heartbeat = "(no file at /srv/hb.json)".into();
        let text = view(&d, NOW, false);
        assert!(text.contains("config:\n  not json\\u{1b}[2J\n"), "{text}");
        assert!(text.contains("heartbeat: (no file at /srv/hb.json)\n"));
        assert!(text.ends_with("recent: none\n"));
    }
}
