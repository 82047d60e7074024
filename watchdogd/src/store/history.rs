//! Reading the audit log back: `watchdogctl history` and the detail view.
//!
//! Reads open their own read-only connection (WAL lets readers run beside the writer thread),
//! on the blocking pool, so a long query never delays the writer or the supervisor.

use std::path::Path;
use std::time::Duration;

use protocol::{HistoryEntry, HistoryKind, HistoryRequest, StepOutcome, StepReport};
use rusqlite::{Connection, OpenFlags, params};

use super::schema::{parse_health, parse_trigger};

/// Most entries one query returns.
pub const MAX_LIMIT: u32 = 10_000;

/// Checks, recoveries and events matching `req`, newest first.
pub fn query(db: &Path, req: &HistoryRequest) -> rusqlite::Result<Vec<HistoryEntry>> {
    let conn = Connection::open_with_flags(
        db,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(Duration::from_secs(2))?;
    let limit = i64::from(req.limit.clamp(1, MAX_LIMIT));
    let key = req.key.as_deref();
    let since = req.since_ms.unwrap_or(i64::MIN);
    let mut out = Vec::new();

    let mut st = conn.prepare(
        "SELECT process_key, checked_at_ms, health, pid, consecutive_failures, details
         FROM check_history WHERE (?1 IS NULL OR process_key = ?1) AND checked_at_ms >= ?2
         ORDER BY checked_at_ms DESC, id DESC LIMIT ?3",
    )?;
    let rows = st.query_map(params![key, since, limit], |r| {
        Ok(HistoryEntry {
            kind: HistoryKind::Check,
            key: r.get(0)?,
            at_ms: r.get(1)?,
            health: r.get::<_, String>(2).ok().as_deref().and_then(parse_health),
            pid: r.get(3)?,
            failures: r.get(4)?,
            trigger: None,
            outcome: r.get::<_, String>(2)?,
            finished_ms: None,
            steps: Vec::new(),
            message: r.get::<_, Option<String>>(5)?.unwrap_or_default(),
        })
    })?;
    for row in rows {
        out.push(row?);
    }

    let mut st = conn.prepare(
        "SELECT process_key, started_at_ms, trigger, result, message, actions, old_pid, new_pid,
                finished_at_ms
         FROM recovery_runs WHERE (?1 IS NULL OR process_key = ?1) AND started_at_ms >= ?2
         ORDER BY started_at_ms DESC, id DESC LIMIT ?3",
    )?;
    let rows = st.query_map(params![key, since, limit], |r| {
        let actions: String = r.get(5)?;
        Ok(HistoryEntry {
            kind: HistoryKind::Recovery,
            key: r.get(0)?,
            at_ms: r.get(1)?,
            health: None,
            pid: r.get::<_, Option<u32>>(7)?.or(r.get::<_, Option<u32>>(6)?),
            failures: None,
            trigger: r
                .get::<_, String>(2)
                .ok()
                .as_deref()
                .and_then(parse_trigger),
            outcome: r.get(3)?,
            finished_ms: r.get(8)?,
            steps: parse_steps(&actions),
            message: r.get(4)?,
        })
    })?;
    for row in rows {
        out.push(row?);
    }

    let mut st = conn.prepare(
        "SELECT process_key, at_ms, kind, message FROM audit_events
         WHERE (?1 IS NULL OR process_key = ?1) AND at_ms >= ?2
         ORDER BY at_ms DESC, id DESC LIMIT ?3",
    )?;
    let rows = st.query_map(params![key, since, limit], |r| {
        Ok(HistoryEntry {
            kind: HistoryKind::Event,
            key: r.get(0)?,
            at_ms: r.get(1)?,
            health: None,
            pid: None,
            failures: None,
            trigger: None,
            outcome: r.get(2)?,
            finished_ms: None,
            steps: Vec::new(),
            message: r.get(3)?,
        })
    })?;
    for row in rows {
        out.push(row?);
    }

    out.sort_by_key(|e| std::cmp::Reverse(e.at_ms));
    out.truncate(limit as usize);
    Ok(out)
}

/// The `actions` JSON of a recovery row back into steps.
fn parse_steps(json: &str) -> Vec<StepReport> {
    let Ok(serde_json::Value::Array(items)) = serde_json::from_str(json) else {
        return Vec::new();
    };
    items
        .iter()
        .map(|s| StepReport {
            action: s["action"].as_str().unwrap_or_default().to_owned(),
            outcome: match s["outcome"].as_str() {
                Some("ok") => StepOutcome::Ok,
                Some("warned") => StepOutcome::Warned,
                _ => StepOutcome::Failed,
            },
            message: s["message"].as_str().unwrap_or_default().to_owned(),
            duration_ms: s["duration_ms"].as_u64().unwrap_or(0),
        })
        .collect()
}
