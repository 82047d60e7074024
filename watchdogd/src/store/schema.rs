//! Readying a connection and reading saved state back. The layout itself, and how older files
//! reach it, is [`super::layout`]'s.

use std::collections::HashMap;
use std::time::Duration;

use protocol::{Health, PipelineResult, RecoverySummary, Trigger};
use rusqlite::Connection;

use super::model::{GaveUp, Intent, Interrupted, SavedState};

/// Readies a connection: busy timeout, WAL, `synchronous=NORMAL` (acknowledged batches ask for
/// `FULL` themselves).
pub(super) fn init(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(Duration::from_secs(5))?;
    let _: String = conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))?;
    conn.pragma_update(None, "synchronous", "NORMAL")
}

pub(super) fn parse_health(s: &str) -> Option<Health> {
    Health::parse(s)
}

pub(super) fn parse_trigger(s: &str) -> Option<Trigger> {
    Trigger::parse(s)
}

fn parse_result(s: &str) -> Option<PipelineResult> {
    PipelineResult::parse(s)
}

pub(super) fn load(conn: &Connection) -> rusqlite::Result<HashMap<String, SavedState>> {
    let mut st = conn.prepare(
        "SELECT process_key, consecutive_failures, intent, last_health, last_check_ms,
                last_recovery_trigger, last_recovery_result, last_recovery_started_ms,
                last_recovery_finished_ms, restart_times, gave_up_since_ms, backoff_attempts,
                next_attempt_ms, started_pid, started_at_us, off_until_ms, monitoring_override,
                actions_off
         FROM process_state",
    )?;
    let rows = st.query_map([], |r| {
        let recovery = match (
            r.get::<_, Option<String>>(5)?
                .as_deref()
                .and_then(parse_trigger),
            r.get::<_, Option<String>>(6)?
                .as_deref()
                .and_then(parse_result),
            r.get::<_, Option<i64>>(7)?,
            r.get::<_, Option<i64>>(8)?,
        ) {
            (Some(trigger), Some(result), Some(started_ms), Some(finished_ms)) => {
                Some(RecoverySummary {
                    trigger,
                    result,
                    started_ms,
                    finished_ms,
                })
            }
            _ => None,
        };
        Ok(SavedState {
            key: r.get(0)?,
            failures: r.get::<_, i64>(1)?.clamp(0, i64::from(u32::MAX)) as u32,
            intent: if r.get::<_, String>(2)? == "off" {
                Intent::Off
            } else {
                Intent::On
            },
            last_health: r
                .get::<_, Option<String>>(3)?
                .as_deref()
                .and_then(parse_health),
            last_check_ms: r.get(4)?,
            last_recovery: recovery,
            restarts: serde_json::from_str(&r.get::<_, String>(9)?).unwrap_or_default(),
            gave_up: match r.get::<_, Option<i64>>(10)? {
                Some(since_ms) => Some(GaveUp {
                    since_ms,
                    attempts: r.get::<_, i64>(11)?.clamp(0, i64::from(u32::MAX)) as u32,
                    next_attempt_ms: r.get(12)?,
                }),
                None => None,
            },
            started: match (r.get::<_, Option<i64>>(13)?, r.get::<_, Option<i64>>(14)?) {
                (Some(pid), Some(at)) => u32::try_from(pid).ok().map(|p| (p, at)),
                _ => None,
            },
            off_until_ms: r.get(15)?,
            monitoring_override: r.get::<_, Option<i64>>(16)?.map(|v| v != 0),
            actions_off: serde_json::from_str(&r.get::<_, String>(17)?).unwrap_or_default(),
        })
    })?;
    rows.map(|r| r.map(|s| (s.key.clone(), s))).collect()
}

/// Marks the runs a dead daemon left `running` as `interrupted` and returns them.
pub(super) fn mark_interrupted(conn: &Connection) -> rusqlite::Result<Vec<Interrupted>> {
    let mut st = conn.prepare(
        "SELECT process_key, trigger, started_at_ms FROM recovery_runs WHERE result = 'running'",
    )?;
    let runs = st
        .query_map([], |r| {
            Ok(Interrupted {
                key: r.get(0)?,
                trigger: r.get(1)?,
                started_ms: r.get(2)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    if !runs.is_empty() {
        conn.execute(
            "UPDATE recovery_runs SET result = 'interrupted',
                message = 'watchdogd stopped before this pipeline finished' WHERE result = 'running'",
            [],
        )?;
    }
    Ok(runs)
}

/// Deletes audit rows older than `cutoff_ms`; returns how many went.
pub(super) fn prune(conn: &Connection, cutoff_ms: i64) -> rusqlite::Result<usize> {
    let mut n = conn.execute(
        "DELETE FROM check_history WHERE checked_at_ms < ?1",
        [cutoff_ms],
    )?;
    n += conn.execute(
        "DELETE FROM recovery_runs WHERE finished_at_ms < ?1 AND result != 'running'",
        [cutoff_ms],
    )?;
    n += conn.execute("DELETE FROM audit_events WHERE at_ms < ?1", [cutoff_ms])?;
    Ok(n)
}
