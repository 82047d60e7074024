//! The SQLite audit log and the state that must survive a restart, on a thread of its own.
//!
//! rusqlite is blocking, so the connection lives on a dedicated thread fed by a bounded channel:
//! the supervisor hands over a whole tick's records at once and they are written in one
//! transaction (WAL, `synchronous=NORMAL`). The supervisor never waits on the disk: when the
//! channel is full the batch is dropped and counted. Writes that a reply depends on (intent set
//! by `off`) carry an acknowledgement that fires after the commit.
//!
//! Tables: `process_state` (one row per service: failures, intent, last check and recovery) and
//! `check_history` (one row per check) as the seed had them, plus `recovery_runs` (one row per
//! pipeline, with each action's outcome as JSON) and `audit_events` (refusals and other notable
//! happenings).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use protocol::time::format_millis;
use protocol::{Health, PipelineResult, RecoverySummary, StepReport, Trigger};
use rusqlite::{Connection, TransactionBehavior, params};
use tokio::sync::{mpsc, oneshot};

/// Batches that may wait for the disk before new ones are dropped.
const QUEUE: usize = 256;

/// Whether the operator wants a service running.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Intent {
    On,
    Off,
}

impl Intent {
    pub fn as_str(self) -> &'static str {
        match self {
            Intent::On => "on",
            Intent::Off => "off",
        }
    }
}

/// One row to write.
#[derive(Debug, Clone)]
pub enum Record {
    Check {
        key: String,
        health: Health,
        pid: Option<u32>,
        age_ms: Option<i64>,
        failures: u32,
        detail: String,
        at_ms: i64,
    },
    State(SavedState),
    Pipeline {
        key: String,
        trigger: Trigger,
        result: PipelineResult,
        message: String,
        steps: Vec<StepReport>,
        old_pid: Option<u32>,
        new_pid: Option<u32>,
        started_ms: i64,
        finished_ms: i64,
    },
    Event {
        key: String,
        kind: &'static str,
        message: String,
        at_ms: i64,
    },
}

/// A service past its restart budget (flap protection).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GaveUp {
    pub since_ms: i64,
    /// Backoff attempts made since giving up.
    pub attempts: u32,
    /// The earliest next automatic attempt; `None` when no further attempts are configured.
    pub next_attempt_ms: Option<i64>,
}

/// What the store remembers of a service across restarts.
#[derive(Debug, Clone, PartialEq)]
pub struct SavedState {
    pub key: String,
    pub failures: u32,
    pub intent: Intent,
    pub last_health: Option<Health>,
    pub last_check_ms: Option<i64>,
    pub last_recovery: Option<RecoverySummary>,
    /// Start times (ms) of automatic recoveries within the restart window.
    pub restarts: Vec<i64>,
    pub gave_up: Option<GaveUp>,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot create folder {path} for the database: {source}")]
    Folder {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("database {path}: {source}")]
    Sqlite {
        path: PathBuf,
        source: rusqlite::Error,
    },
}

enum Msg {
    Batch(Vec<Record>, Option<oneshot::Sender<()>>),
}

/// A freshly opened store: the handle, its writer thread, and what was saved per service.
pub struct Opened {
    pub store: Store,
    /// Ends once every [`Store`] handle is dropped and the queue is written.
    pub thread: std::thread::JoinHandle<()>,
    pub saved: HashMap<String, SavedState>,
}

/// The handle the supervisor writes through. Dropping every handle ends the thread after it
/// has written what was queued.
#[derive(Clone)]
pub struct Store {
    tx: mpsc::Sender<Msg>,
    dropped: Arc<AtomicU64>,
}

impl Store {
    /// Opens (creating if needed) the database and starts the writer thread. Blocking: call
    /// before the runtime serves anyone. Returns what was saved of each service.
    pub fn open(path: &Path) -> Result<Opened, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::Folder {
                path: dir.into(),
                source,
            })?;
        }
        let err = |source| StoreError::Sqlite {
            path: path.into(),
            source,
        };
        let conn = Connection::open(path).map_err(err)?;
        init(&conn).and_then(|()| migrate(&conn)).map_err(err)?;
        let saved = load(&conn).map_err(err)?;
        let (tx, rx) = mpsc::channel(QUEUE);
        let dropped = Arc::new(AtomicU64::new(0));
        let thread_dropped = dropped.clone();
        let thread_path = path.to_path_buf();
        let thread = std::thread::Builder::new()
            .name("store".into())
            .spawn(move || writer(conn, rx, thread_dropped, thread_path))
            .map_err(|e| StoreError::Folder {
                path: path.into(),
                source: e,
            })?;
        Ok(Opened {
            store: Store { tx, dropped },
            thread,
            saved,
        })
    }

    /// Queues a batch; never waits. A full queue drops the batch and counts its rows.
    pub fn write(&self, batch: Vec<Record>) {
        if batch.is_empty() {
            return;
        }
        let n = batch.len() as u64;
        if self.tx.try_send(Msg::Batch(batch, None)).is_err() {
            self.dropped.fetch_add(n, Ordering::Relaxed);
            tracing::warn!(target: "store", "audit queue full: dropped {n} rows");
        }
    }

    /// Queues a batch whose commit someone waits for; the receiver fires after the commit (or
    /// the failure, which is logged and counted).
    pub fn write_acked(&self, batch: Vec<Record>) -> oneshot::Receiver<()> {
        let (ack, done) = oneshot::channel();
        let n = batch.len() as u64;
        if self.tx.try_send(Msg::Batch(batch, Some(ack))).is_err() {
            self.dropped.fetch_add(n, Ordering::Relaxed);
            tracing::warn!(target: "store", "audit queue full: dropped {n} rows");
        }
        done
    }

    /// Rows that could not be written since the start.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

fn init(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(Duration::from_secs(5))?;
    let _: String = conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS process_state (
            process_key TEXT PRIMARY KEY,
            consecutive_failures INTEGER NOT NULL DEFAULT 0,
            last_health TEXT,
            last_check TEXT,
            last_check_ms INTEGER,
            intent TEXT NOT NULL DEFAULT 'on',
            last_recovery TEXT,
            last_recovery_trigger TEXT,
            last_recovery_result TEXT,
            last_recovery_started_ms INTEGER,
            last_recovery_finished_ms INTEGER,
            restart_times TEXT NOT NULL DEFAULT '[]',
            gave_up_since_ms INTEGER,
            backoff_attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_ms INTEGER,
            updated_at TEXT NOT NULL
        );
        CREATE TABLE IF NOT EXISTS check_history (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            process_key TEXT NOT NULL,
            health TEXT NOT NULL,
            pid INTEGER,
            heartbeat_age_seconds REAL,
            consecutive_failures INTEGER NOT NULL,
            details TEXT,
            checked_at TEXT NOT NULL,
            checked_at_ms INTEGER NOT NULL
        );
        CREATE INDEX IF NOT EXISTS check_history_key_time ON check_history(process_key, checked_at_ms);
        CREATE TABLE IF NOT EXISTS recovery_runs (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            process_key TEXT NOT NULL,
            trigger TEXT NOT NULL,
            result TEXT NOT NULL,
            message TEXT NOT NULL,
            actions TEXT NOT NULL,
            old_pid INTEGER,
            new_pid INTEGER,
            started_at TEXT NOT NULL,
            started_at_ms INTEGER NOT NULL,
            finished_at TEXT NOT NULL,
            finished_at_ms INTEGER NOT NULL
        );
        CREATE INDEX IF NOT EXISTS recovery_runs_key_time ON recovery_runs(process_key, started_at_ms);
        CREATE TABLE IF NOT EXISTS audit_events (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            process_key TEXT NOT NULL,
            kind TEXT NOT NULL,
            message TEXT NOT NULL,
            at TEXT NOT NULL,
            at_ms INTEGER NOT NULL
        );",
    )
}

/// Columns added after the first release of a table: added in place to older databases.
const ADDED_COLUMNS: &[(&str, &str, &str)] = &[
    (
        "process_state",
        "restart_times",
        "TEXT NOT NULL DEFAULT '[]'",
    ),
    ("process_state", "gave_up_since_ms", "INTEGER"),
    (
        "process_state",
        "backoff_attempts",
        "INTEGER NOT NULL DEFAULT 0",
    ),
    ("process_state", "next_attempt_ms", "INTEGER"),
];

fn migrate(conn: &Connection) -> rusqlite::Result<()> {
    for (table, column, decl) in ADDED_COLUMNS {
        let exists: bool = conn.query_row(
            &format!("SELECT count(*) FROM pragma_table_info('{table}') WHERE name = ?1"),
            [column],
            |r| r.get::<_, i64>(0).map(|n| n > 0),
        )?;
        if !exists {
            conn.execute_batch(&format!("ALTER TABLE {table} ADD COLUMN {column} {decl}"))?;
        }
    }
    Ok(())
}

fn parse_health(s: &str) -> Option<Health> {
    [
        Health::Stalled,
        Health::NoHeartbeat,
        Health::StalePid,
        Health::TimedOut,
        Health::ErrorStatus,
        Health::Healthy,
    ]
    .into_iter()
    .find(|h| h.as_str() == s)
}

fn parse_trigger(s: &str) -> Option<Trigger> {
    [
        Trigger::Automatic,
        Trigger::Restart,
        Trigger::On,
        Trigger::Off,
    ]
    .into_iter()
    .find(|t| t.as_str() == s)
}

fn parse_result(s: &str) -> Option<PipelineResult> {
    [
        PipelineResult::Succeeded,
        PipelineResult::Warned,
        PipelineResult::Failed,
        PipelineResult::Skipped,
    ]
    .into_iter()
    .find(|r| r.as_str() == s)
}

fn load(conn: &Connection) -> rusqlite::Result<HashMap<String, SavedState>> {
    let mut st = conn.prepare(
        "SELECT process_key, consecutive_failures, intent, last_health, last_check_ms,
                last_recovery_trigger, last_recovery_result, last_recovery_started_ms,
                last_recovery_finished_ms, restart_times, gave_up_since_ms, backoff_attempts,
                next_attempt_ms
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
        })
    })?;
    rows.map(|r| r.map(|s| (s.key.clone(), s))).collect()
}

fn writer(
    mut conn: Connection,
    mut rx: mpsc::Receiver<Msg>,
    dropped: Arc<AtomicU64>,
    path: PathBuf,
) {
    while let Some(Msg::Batch(mut batch, ack)) = rx.blocking_recv() {
        // Take whatever else is queued: one transaction for all of it.
        let mut acks: Vec<oneshot::Sender<()>> = ack.into_iter().collect();
        while let Ok(Msg::Batch(more, ack)) = rx.try_recv() {
            batch.extend(more);
            acks.extend(ack);
            if batch.len() >= 50_000 {
                break;
            }
        }
        if let Err(e) = write_batch(&mut conn, &batch) {
            dropped.fetch_add(batch.len() as u64, Ordering::Relaxed);
            tracing::error!(target: "store", "cannot write {} audit rows to {}: {e}", batch.len(), path.display());
        }
        for ack in acks {
            let _ = ack.send(());
        }
    }
}

fn write_batch(conn: &mut Connection, batch: &[Record]) -> rusqlite::Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    for record in batch {
        write_record(&tx, record)?;
    }
    tx.commit()
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
                    gave_up_since_ms, backoff_attempts, next_attempt_ms, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)
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
                    updated_at = excluded.updated_at",
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
            ])?;
        }
        Record::Pipeline {
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
            tx.prepare_cached(
                "INSERT INTO recovery_runs (process_key, trigger, result, message, actions, old_pid,
                    new_pid, started_at, started_at_ms, finished_at, finished_at_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
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
                finished_ms
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
            .execute(params![key, kind, message, format_millis(*at_ms), at_ms])?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn state_survives_a_reopen_and_batches_commit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db/watchdog.db");
        let Opened {
            store,
            thread,
            saved,
        } = Store::open(&path).unwrap();
        assert!(saved.is_empty());
        let state = SavedState {
            key: "api".into(),
            failures: 3,
            intent: Intent::Off,
            last_health: Some(Health::TimedOut),
            last_check_ms: Some(1000),
            last_recovery: Some(RecoverySummary {
                trigger: Trigger::Automatic,
                started_ms: 10,
                finished_ms: 20,
                result: PipelineResult::Warned,
            }),
            restarts: vec![5, 6],
            gave_up: Some(GaveUp {
                since_ms: 7,
                attempts: 2,
                next_attempt_ms: Some(9),
            }),
        };
        let check = Record::Check {
            key: "api".into(),
            health: Health::TimedOut,
            pid: Some(5),
            age_ms: Some(1500),
            failures: 3,
            detail: "old".into(),
            at_ms: 1000,
        };
        store.write(vec![check.clone(), check]);
        store
            .write_acked(vec![Record::State(state.clone())])
            .await
            .unwrap();
        drop(store);
        thread.join().unwrap();
        let Opened { saved, .. } = Store::open(&path).unwrap();
        assert_eq!(saved.get("api"), Some(&state));
        let conn = Connection::open(&path).unwrap();
        let n: i64 = conn
            .query_row("SELECT count(*) FROM check_history", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 2);
    }
}
