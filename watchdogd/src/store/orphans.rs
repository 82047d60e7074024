//! Runtime overrides whose key left the config while the daemon was down.
//!
//! A reload that removes a key drops its overrides with a log line (see the supervisor's
//! reload). A key can also leave the config between two daemon runs; its saved row then still
//! holds the overrides, and they would come back silently if the key were ever added again.
//! At start, such overrides are dropped the same way: a log line, an audit event, and the
//! saved row rewritten without them.

use std::collections::HashMap;

use protocol::EventKind;

use super::model::{Record, SavedState};

/// What to log and write for the saved states of keys `configured` does not know: one log
/// line and the rows (an `override_dropped` event, the cleared state) per key with overrides.
pub fn dropped(
    saved: &HashMap<String, SavedState>,
    configured: impl Fn(&str) -> bool,
    now_ms: i64,
) -> (Vec<String>, Vec<Record>) {
    let mut orphans: Vec<&SavedState> = saved
        .values()
        .filter(|s| !configured(&s.key) && has_overrides(s))
        .collect();
    orphans.sort_by(|a, b| a.key.cmp(&b.key));
    let mut lines = Vec::new();
    let mut records = Vec::new();
    for state in orphans {
        let message = format!(
            "{} left the config: its overrides ({}) are dropped",
            state.key,
            describe(state)
        );
        records.push(Record::event(
            &state.key,
            EventKind::OverrideDropped,
            message.clone(),
            now_ms,
        ));
        records.push(Record::State(SavedState {
            monitoring_override: None,
            actions_off: Vec::new(),
            ..state.clone()
        }));
        lines.push(message);
    }
    (lines, records)
}

fn has_overrides(s: &SavedState) -> bool {
    s.monitoring_override.is_some() || !s.actions_off.is_empty()
}

/// The overrides in the words the reload's log line uses.
fn describe(s: &SavedState) -> String {
    let mut parts = Vec::new();
    if let Some(m) = s.monitoring_override {
        parts.push(format!("monitoring {}", if m { "on" } else { "off" }));
    }
    if !s.actions_off.is_empty() {
        parts.push(format!("actions off: {}", s.actions_off.join(", ")));
    }
    parts.join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Intent;

    fn state(key: &str, monitoring: Option<bool>, actions: &[&str]) -> SavedState {
        SavedState {
            key: key.into(),
            failures: 3,
            intent: Intent::Off,
            last_health: None,
            last_check_ms: Some(5),
            last_recovery: None,
            restarts: vec![1],
            gave_up: None,
            started: None,
            off_until_ms: None,
            monitoring_override: monitoring,
            actions_off: actions.iter().map(|a| a.to_string()).collect(),
        }
    }

    #[test]
    fn only_unconfigured_keys_with_overrides_are_dropped() {
        let saved: HashMap<String, SavedState> = [
            state("kept", Some(false), &["clear_db"]),
            state("gone_plain", None, &[]),
            state("gone_b", None, &["clear_db", "notify"]),
            state("gone_a", Some(true), &[]),
        ]
        .into_iter()
        .map(|s| (s.key.clone(), s))
        .collect();
        let (lines, records) = dropped(&saved, |k| k == "kept", 7);
        assert_eq!(
            lines,
            [
                "gone_a left the config: its overrides (monitoring on) are dropped",
                "gone_b left the config: its overrides (actions off: clear_db, notify) are dropped",
            ]
        );
        assert_eq!(records.len(), 4);
        match &records[1] {
            Record::State(s) => {
                assert_eq!(s.key, "gone_a");
                assert_eq!((s.monitoring_override, s.actions_off.len()), (None, 0));
                // Everything else it remembered stays as it was.
                assert_eq!(
                    (s.failures, s.intent, s.restarts.clone()),
                    (3, Intent::Off, vec![1])
                );
            }
            other => panic!("not a state row: {other:?}"),
        }
        assert!(matches!(
            &records[0],
            Record::Event {
                kind: EventKind::OverrideDropped,
                at_ms: 7,
                ..
            }
        ));
        assert!(dropped(&saved, |_| true, 7).0.is_empty());
    }
}
