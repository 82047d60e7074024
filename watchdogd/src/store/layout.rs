//! The database's layout, versioned (`PRAGMA user_version`), and how an existing file becomes
//! the current layout, or is refused.
//!
//! A `db_path` may point at a file of this daemon (any version), at the Python seed's database
//! (tables `process_state` and `check_history` with the seed's columns), or at something else
//! entirely. What happens is decided once, from the file itself ([`inspection::inspect`]), and
//! shown by `watchdogd --check-config` before anything is changed:
//!
//! - no file, or an empty one: the tables are created;
//! - ours, older: the missing columns are added in place, the version raised;
//! - the seed's: migrated in place, every row kept: the seed's columns stay, ours are added
//!   beside them and filled from them (times parsed, naive ones as local time as the seed wrote
//!   them, health names lowered), so its checks read in `history` like ours; a trigger fills
//!   ours for rows the seed's cron job still writes during the move, so they are judged (and,
//!   past `history_retention_days`, pruned) by their own time like every other row;
//! - ours but newer, or not a watchdog database at all (whatever its `user_version` says: a
//!   file is ours only if it has our tables): refused, with the file named and what to do;
//!   nothing is written to it, no row is ever dropped.

pub mod inspection;
mod seed;

use std::path::Path;

use rusqlite::Connection;

use seed::fill_from_seed;

/// The layout this build writes.
pub const LATEST: i64 = 2;

/// Every table, column by column, as the current layout has it. A column missing from an
/// older table is added with its declaration, so every `NOT NULL` one has a default.
pub(super) const TABLES: &[(&str, &[(&str, &str)])] = &[
    (
        "process_state",
        &[
            ("process_key", "TEXT PRIMARY KEY"),
            ("consecutive_failures", "INTEGER NOT NULL DEFAULT 0"),
            ("last_health", "TEXT"),
            ("last_check", "TEXT"),
            ("last_check_ms", "INTEGER"),
            ("intent", "TEXT NOT NULL DEFAULT 'on'"),
            ("last_recovery", "TEXT"),
            ("last_recovery_trigger", "TEXT"),
            ("last_recovery_result", "TEXT"),
            ("last_recovery_started_ms", "INTEGER"),
            ("last_recovery_finished_ms", "INTEGER"),
            ("restart_times", "TEXT NOT NULL DEFAULT '[]'"),
            ("started_pid", "INTEGER"),
            ("started_at_us", "INTEGER"),
            ("off_until_ms", "INTEGER"),
            ("gave_up_since_ms", "INTEGER"),
            ("backoff_attempts", "INTEGER NOT NULL DEFAULT 0"),
            ("next_attempt_ms", "INTEGER"),
            ("monitoring_override", "INTEGER"),
            ("actions_off", "TEXT NOT NULL DEFAULT '[]'"),
            ("updated_at", "TEXT NOT NULL DEFAULT ''"),
        ],
    ),
    (
        "check_history",
        &[
            ("id", "INTEGER PRIMARY KEY AUTOINCREMENT"),
            ("process_key", "TEXT NOT NULL DEFAULT ''"),
            ("health", "TEXT NOT NULL DEFAULT ''"),
            ("pid", "INTEGER"),
            ("heartbeat_age_seconds", "REAL"),
            ("consecutive_failures", "INTEGER NOT NULL DEFAULT 0"),
            ("details", "TEXT"),
            ("checked_at", "TEXT NOT NULL DEFAULT ''"),
            ("checked_at_ms", "INTEGER NOT NULL DEFAULT 0"),
        ],
    ),
    (
        "recovery_runs",
        &[
            ("id", "INTEGER PRIMARY KEY AUTOINCREMENT"),
            ("run_id", "TEXT"),
            ("process_key", "TEXT NOT NULL DEFAULT ''"),
            ("trigger", "TEXT NOT NULL DEFAULT ''"),
            ("result", "TEXT NOT NULL DEFAULT ''"),
            ("message", "TEXT NOT NULL DEFAULT ''"),
            ("actions", "TEXT NOT NULL DEFAULT '[]'"),
            ("old_pid", "INTEGER"),
            ("new_pid", "INTEGER"),
            ("started_at", "TEXT NOT NULL DEFAULT ''"),
            ("started_at_ms", "INTEGER NOT NULL DEFAULT 0"),
            ("finished_at", "TEXT"),
            ("finished_at_ms", "INTEGER"),
        ],
    ),
    (
        "audit_events",
        &[
            ("id", "INTEGER PRIMARY KEY AUTOINCREMENT"),
            ("process_key", "TEXT NOT NULL DEFAULT ''"),
            ("kind", "TEXT NOT NULL DEFAULT ''"),
            ("message", "TEXT NOT NULL DEFAULT ''"),
            ("at", "TEXT NOT NULL DEFAULT ''"),
            ("at_ms", "INTEGER NOT NULL DEFAULT 0"),
        ],
    ),
];

const INDEXES: &str = "
    CREATE INDEX IF NOT EXISTS check_history_key_time ON check_history(process_key, checked_at_ms);
    CREATE INDEX IF NOT EXISTS recovery_runs_key_time ON recovery_runs(process_key, started_at_ms);";

/// The columns the seed's tables have that tell them apart.
const SEED_MARKS: [(&str, &str); 2] = [
    ("process_state", "last_check_at"),
    ("check_history", "action_taken"),
];

/// What an existing database file is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Layout {
    /// No tables yet.
    Empty,
    /// This daemon's, at `version` (1: before versioning).
    Ours { version: i64 },
    /// The Python seed's, with this many check rows and services.
    Seed { checks: i64, services: i64 },
    /// Written by a newer watchdogd.
    Newer { version: i64 },
    /// Not a watchdog database.
    Foreign { tables: Vec<String> },
}

/// Why a database cannot be used; each names the file and what to do.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum LayoutError {
    #[error(
        "{path}: written by a newer watchdogd (schema version {version}; this one knows up to {LATEST}). Upgrade watchdogd, or point db_path at another file"
    )]
    Newer { path: String, version: i64 },
    #[error(
        "{path}: not a watchdog database (its tables: {tables}). Point db_path at a new file, or move this one aside; it is left untouched"
    )]
    Foreign { path: String, tables: String },
}

fn tables(conn: &Connection) -> rusqlite::Result<Vec<String>> {
    let mut st = conn.prepare(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
    )?;
    st.query_map([], |r| r.get(0))?.collect()
}

fn has_column(conn: &Connection, table: &str, column: &str) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT count(*) FROM pragma_table_info(?1) WHERE name = ?2",
        [table, column],
        |r| r.get::<_, i64>(0).map(|n| n > 0),
    )
}

/// What the file behind `conn` is.
pub fn layout(conn: &Connection) -> rusqlite::Result<Layout> {
    let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    let found = tables(conn)?;
    let known = |t: &String| TABLES.iter().any(|(name, _)| name == t);
    // Many programs set `user_version`: a version says whose file it is only beside our tables.
    let ours =
        found.iter().any(|t| t == "process_state") && has_column(conn, "process_state", "intent")?;
    if version > LATEST {
        return Ok(if ours {
            Layout::Newer { version }
        } else {
            Layout::Foreign { tables: found }
        });
    }
    if version >= 1 {
        return Ok(if ours && found.iter().all(known) {
            Layout::Ours { version }
        } else {
            Layout::Foreign { tables: found }
        });
    }
    if found.is_empty() {
        return Ok(Layout::Empty);
    }
    if found.iter().all(known) {
        if ours {
            return Ok(Layout::Ours { version: 1 });
        }
        let mut seed = true;
        for (table, column) in SEED_MARKS {
            if found.iter().any(|t| t == table) {
                seed &= has_column(conn, table, column)?;
            }
        }
        if seed {
            let count = |t: &str| -> rusqlite::Result<i64> {
                if found.iter().any(|f| f == t) {
                    conn.query_row(&format!("SELECT count(*) FROM {t}"), [], |r| r.get(0))
                } else {
                    Ok(0)
                }
            };
            return Ok(Layout::Seed {
                checks: count("check_history")?,
                services: count("process_state")?,
            });
        }
    }
    Ok(Layout::Foreign { tables: found })
}

/// Brings the database behind `conn` to the current layout, in one transaction.
pub fn upgrade(conn: &mut Connection, path: &Path) -> Result<(), UpgradeError> {
    let found = layout(conn)?;
    let shown = path.display().to_string();
    match &found {
        Layout::Newer { version } => {
            return Err(LayoutError::Newer {
                path: shown,
                version: *version,
            }
            .into());
        }
        Layout::Foreign { tables } => {
            return Err(LayoutError::Foreign {
                path: shown,
                tables: tables.join(", "),
            }
            .into());
        }
        Layout::Ours { version } if *version == LATEST => return Ok(()),
        _ => {}
    }
    let tx = conn.transaction()?;
    for (table, columns) in TABLES {
        let decls: Vec<String> = columns.iter().map(|(c, d)| format!("{c} {d}")).collect();
        tx.execute_batch(&format!(
            "CREATE TABLE IF NOT EXISTS {table} ({})",
            decls.join(", ")
        ))?;
        for (column, decl) in *columns {
            if !has_column(&tx, table, column)? {
                tx.execute_batch(&format!("ALTER TABLE {table} ADD COLUMN {column} {decl}"))?;
            }
        }
    }
    tx.execute_batch(INDEXES)?;
    if let Layout::Seed { checks, services } = found {
        fill_from_seed(&tx)?;
        tracing::info!(
            target: "store",
            "{shown}: migrated the Python watchdog's database in place ({services} services, {checks} checks kept)"
        );
    }
    tx.pragma_update(None, "user_version", LATEST)?;
    tx.commit()?;
    Ok(())
}

/// Why the store could not be brought to the current layout.
#[derive(Debug, thiserror::Error)]
pub enum UpgradeError {
    #[error(transparent)]
    Refused(#[from] LayoutError),
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
}

#[cfg(test)]
mod tests;
