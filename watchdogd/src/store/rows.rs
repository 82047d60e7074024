//! Writing records: one transaction per batch, one prepared statement per kind of row.

use protocol::Health;
use protocol::time::format_millis;
use rusqlite::{Connection, TransactionBehavior, params};

use super::model::Record;

pub(super) fn write_batch(
    conn: &mut Connection,
    batch: &[Record],
    durable: bool,
) -> rusqlite::Result<()> {
    if durable {
        conn.pragma_update(None, "synchronous", "FULL")?;
    }
    let written = (|| {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        for record in batch {
            write_record(&tx, record)?;
        }
        tx.commit()
    })();
    if durable {
        conn.pragma_update(None, "synchronous", "NORMAL")?;
    }
    written
}

fn write_record(tx: &rusqlite::Transaction<'_>, record: &Record) -> rusqlite::Result<()> {
    match record {
        Record::Check {
            key,
            health,
            pid,
            age_ms,
            failures,
            detail,
            at_ms,
        } => {
            tx.prepare_cached(
                "INSERT INTO check_history (process_key, health, pid, heartbeat_age_seconds,
                 consecutive_failures, details, checked_at, checked_at_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?
            .execute(params![
                key,
                health.as_str(),
                pid,
                age_ms.map(|a| a as f64 / 1000.0),
                failures,
                detail,
                format_millis(*at_ms),
                at_ms
            ])?;
        }
        Record::State(s) => {
            let r = s.last_recovery.as_ref();
            tx.prepare_cached(
                "INSERT INTO process_state (process_key, consecutive_failures, last_health, last_check,
                    last_check_ms, intent, last_recovery, last_recovery_trigger, last_recovery_result,
                    last_recovery_started_ms, last_recovery_finished_ms, restart_times,
                    gave_up_since_ms, backoff_attempts, next_attempt_ms, updated_at, started_pid,
                    started_at_us, off_until_ms, monitoring_override, actions_off)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19,
                    ?20, ?21)
                 ON CONFLICT(process_key) DO UPDATE SET
                    consecutive_failures = excluded.consecutive_failures,
                    last_health = excluded.last_health, last_check = excluded.last_check,
                    last_check_ms = excluded.last_check_ms, intent = excluded.intent,
                    last_recovery = excluded.last_recovery,
                    last_recovery_trigger = excluded.last_recovery_trigger,
                    last_recovery_result = excluded.last_recovery_result,
                    last_recovery_started_ms = excluded.last_recovery_started_ms,
                    last_recovery_finished_ms = excluded.last_recovery_finished_ms,
                    restart_times = excluded.restart_times,
                    gave_up_since_ms = excluded.gave_up_since_ms,
                    backoff_attempts = excluded.backoff_attempts,
                    next_attempt_ms = excluded.next_attempt_ms,
                    updated_at = excluded.updated_at,
                    started_pid = excluded.started_pid,
                    started_at_us = excluded.started_at_us,
                    off_until_ms = excluded.off_until_ms,
                    monitoring_override = excluded.monitoring_override,
                    actions_off = excluded.actions_off",
            )?
            .execute(params![
                s.key,
                s.failures,
                s.last_health.map(Health::as_str),
                s.last_check_ms.map(format_millis),
                s.last_check_ms,
                s.intent.as_str(),
                r.map(|r| format_millis(r.finished_ms)),
                r.map(|r| r.trigger.as_str()),
                r.map(|r| r.result.as_str()),
                r.map(|r| r.started_ms),
                r.map(|r| r.finished_ms),
                serde_json::to_string(&s.restarts).unwrap_or_else(|_| "[]".into()),
                s.gave_up.map(|g| g.since_ms),
                s.gave_up.map_or(0, |g| g.attempts),
                s.gave_up.and_then(|g| g.next_attempt_ms),
                format_millis(protocol::time::now_millis()),
                s.started.map(|(pid, _)| pid),
                s.started.map(|(_, at)| at),
                s.off_until_ms,
                s.monitoring_override.map(i64::from),
                serde_json::to_string(&s.actions_off).unwrap_or_else(|_| "[]".into()),
            ])?;
        }
        Record::PipelineStarted {
            run_id,
            key,
            trigger,
            started_ms,
        } => {
            tx.prepare_cached(
                "INSERT INTO recovery_runs (run_id, process_key, trigger, result, message, actions,
                    started_at, started_at_ms)
                 VALUES (?1, ?2, ?3, 'running', '', '[]', ?4, ?5)",
            )?
            .execute(params![
                run_id,
                key,
                trigger.as_str(),
                format_millis(*started_ms),
                started_ms
            ])?;
        }
        Record::Pipeline {
            run_id,
            key,
            trigger,
            result,
            message,
            steps,
            old_pid,
            new_pid,
            started_ms,
            finished_ms,
        } => {
            let actions = serde_json::Value::Array(
                steps
                    .iter()
                    .map(|s| {
                        serde_json::json!({
                            "action": s.action, "outcome": s.outcome.as_str(),
                            "message": s.message, "duration_ms": s.duration_ms,
                        })
                    })
                    .collect(),
            );
            // Completes the row its start wrote; inserts it if that row was never written.
            let updated = tx
                .prepare_cached(
                    "UPDATE recovery_runs SET result = ?2, message = ?3, actions = ?4, old_pid = ?5,
                        new_pid = ?6, finished_at = ?7, finished_at_ms = ?8 WHERE run_id = ?1",
                )?
                .execute(params![
                    run_id,
                    result.as_str(),
                    message,
                    actions.to_string(),
                    old_pid,
                    new_pid,
                    format_millis(*finished_ms),
                    finished_ms
                ])?;
            if updated > 0 {
                return Ok(());
            }
            tx.prepare_cached(
                "INSERT INTO recovery_runs (run_id, process_key, trigger, result, message, actions,
                    old_pid, new_pid, started_at, started_at_ms, finished_at, finished_at_ms)
                 VALUES (?12, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            )?
            .execute(params![
                key,
                trigger.as_str(),
                result.as_str(),
                message,
                actions.to_string(),
                old_pid,
                new_pid,
                format_millis(*started_ms),
                started_ms,
                format_millis(*finished_ms),
                finished_ms,
                run_id
            ])?;
        }
        Record::Event {
            key,
            kind,
            message,
            at_ms,
        } => {
            tx.prepare_cached(
                "INSERT INTO audit_events (process_key, kind, message, at, at_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![
                key,
                kind.as_str(),
                message,
                format_millis(*at_ms),
                at_ms
            ])?;
        }
    }
    Ok(())
}
