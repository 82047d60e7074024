//! What becomes of each kind of existing database.

use std::path::Path;

use rusqlite::Connection;

use super::inspection::inspect;
use super::*;

const WEEK: std::time::Duration = std::time::Duration::from_secs(7 * 86_400);

/// The seed's two tables, as its later versions created them, with a few rows.
pub(crate) fn seed_database(path: &Path) {
    let conn = Connection::open(path).unwrap();
    conn.execute_batch(
        "CREATE TABLE process_state (
            process_key TEXT PRIMARY KEY,
            consecutive_failures INTEGER DEFAULT 0,
            last_check_at TEXT, last_health TEXT, last_pid INTEGER,
            last_heartbeat_ts TEXT, last_iteration INTEGER);
         CREATE TABLE check_history (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            process_key TEXT NOT NULL, checked_at TEXT NOT NULL, health TEXT NOT NULL,
            pid INTEGER, heartbeat_ts TEXT, iteration INTEGER, action_taken TEXT);
         INSERT INTO process_state VALUES
            ('api', 1, '2026-02-05T06:17:29.601049+00:00', 'TIMED_OUT', 42, '2026-02-05T06:10:00+00:00', 7);
         INSERT INTO check_history (process_key, checked_at, health, pid, heartbeat_ts, iteration, action_taken) VALUES
            ('api', '2026-02-05T06:16:29.000000+00:00', 'HEALTHY', 42, NULL, 6, NULL),
            ('api', '2026-02-05T06:17:29.601049+00:00', 'TIMED_OUT', 42, NULL, 7, 'recovery');",
    )
    .unwrap();
}

#[test]
fn a_seed_database_is_migrated_in_place_keeping_every_row() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("watchdog.db");
    seed_database(&path);
    let plan = inspect(&path, WEEK).unwrap();
    assert!(
        plan.contains("Python watchdog's database (1 services, 2 checks)"),
        "{plan}"
    );
    let mut conn = Connection::open(&path).unwrap();
    upgrade(&mut conn, &path).unwrap();
    assert_eq!(layout(&conn).unwrap(), Layout::Ours { version: LATEST });
    let (health, ms, details): (String, i64, String) = conn
        .query_row(
            "SELECT health, checked_at_ms, details FROM check_history ORDER BY id DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!(health, "timed_out");
    assert_eq!(
        ms,
        protocol::time::parse_rfc3339("2026-02-05T06:17:29.601049+00:00").unwrap() / 1000
    );
    assert!(details.contains("action taken: recovery"), "{details}");
    let seed_columns: i64 = conn
        .query_row("SELECT last_iteration FROM process_state", [], |r| r.get(0))
        .unwrap();
    assert_eq!(seed_columns, 7, "the seed's own columns stay");
    drop(conn);
    let history = crate::store::history::query(
        &path,
        &protocol::HistoryRequest {
            key: Some("api".into()),
            limit: 10,
            since_ms: None,
        },
    )
    .unwrap();
    assert_eq!(history.len(), 2, "{history:?}");
    assert_eq!(history[0].health, Some(protocol::Health::TimedOut));
    let saved = crate::store::schema::load(&Connection::open(&path).unwrap()).unwrap();
    assert_eq!(saved["api"].failures, 1);
    assert_eq!(saved["api"].last_health, Some(protocol::Health::TimedOut));
    assert!(inspect(&path, WEEK).unwrap().contains("up to date"));
}

#[test]
fn a_foreign_or_newer_database_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let foreign = dir.path().join("other.db");
    Connection::open(&foreign)
        .unwrap()
        .execute_batch("CREATE TABLE invoices (id INTEGER); INSERT INTO invoices VALUES (1);")
        .unwrap();
    let err = inspect(&foreign, WEEK).unwrap_err();
    assert!(
        err.to_string()
            .contains("not a watchdog database (its tables: invoices)"),
        "{err}"
    );
    let mut conn = Connection::open(&foreign).unwrap();
    assert!(matches!(
        upgrade(&mut conn, &foreign),
        Err(UpgradeError::Refused(_))
    ));
    assert_eq!(
        layout(&conn).unwrap(),
        Layout::Foreign {
            tables: vec!["invoices".into()]
        }
    );

    let newer = dir.path().join("newer.db");
    let mut conn = Connection::open(&newer).unwrap();
    upgrade(&mut conn, &newer).unwrap();
    conn.pragma_update(None, "user_version", LATEST + 1)
        .unwrap();
    drop(conn);
    let err = inspect(&newer, WEEK).unwrap_err();
    assert!(err.to_string().contains("newer watchdogd"), "{err}");

    // Another program's file that happens to set `user_version`: not ours, whatever it says.
    for version in [1, LATEST, LATEST + 5] {
        let other = dir.path().join(format!("versioned-{version}.db"));
        let conn = Connection::open(&other).unwrap();
        conn.execute_batch("CREATE TABLE orders (id INTEGER);")
            .unwrap();
        conn.pragma_update(None, "user_version", version).unwrap();
        drop(conn);
        let err = inspect(&other, WEEK).unwrap_err();
        assert!(
            err.to_string()
                .contains("not a watchdog database (its tables: orders)"),
            "version {version}: {err}"
        );
        let mut conn = Connection::open(&other).unwrap();
        assert!(matches!(
            upgrade(&mut conn, &other),
            Err(UpgradeError::Refused(_))
        ));
        assert_eq!(
            tables(&conn).unwrap(),
            vec!["orders".to_owned()],
            "left alone"
        );
    }
}

#[test]
fn rows_the_seed_writes_after_the_move_get_their_own_times_and_old_ones_are_announced() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("watchdog.db");
    seed_database(&path);
    // Its rows are from February 2026: months older than a week's retention.
    let plan = inspect(&path, WEEK).unwrap();
    assert!(
        plan.contains("2 of its checks are older than history_retention_days (7 days)"),
        "{plan}"
    );
    let mut conn = Connection::open(&path).unwrap();
    upgrade(&mut conn, &path).unwrap();
    // The seed's cron job, still running during the move, writes as it always did: with an
    // offset, and naive (Python's isoformat() of local time).
    conn.execute_batch(
        "INSERT INTO check_history (process_key, checked_at, health, pid, action_taken) VALUES
            ('api', '2026-03-01T10:00:00+00:00', 'HEALTHY', 42, NULL),
            ('api', '2026-03-01T10:00:00', 'STALE_PID', 42, 'recovery');",
    )
    .unwrap();
    let rows: Vec<(String, i64, String)> = conn
        .prepare(
            "SELECT health, checked_at_ms, details FROM check_history WHERE id > 2 ORDER BY id",
        )
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let utc = protocol::time::parse_rfc3339("2026-03-01T10:00:00+00:00").unwrap() / 1000;
    assert_eq!(rows[0].0, "healthy");
    assert_eq!(rows[0].1, utc);
    assert!(rows[0].2.contains("Python watchdog"), "{rows:?}");
    let local: i64 = conn
        .query_row(
            "SELECT CAST(round((julianday('2026-03-01T10:00:00', 'utc') - 2440587.5) * 86400000) AS INTEGER)",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(rows[1].0, "stale_pid");
    assert_eq!(rows[1].1, local, "a naive time is the seed's local time");
    // Our own rows are untouched by the trigger.
    conn.execute(
        "INSERT INTO check_history (process_key, health, checked_at, checked_at_ms, details) VALUES ('api', 'healthy', 'x', 123, 'ours')",
        [],
    )
    .unwrap();
    let ours: (i64, String) = conn
        .query_row(
            "SELECT checked_at_ms, details FROM check_history ORDER BY id DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(ours, (123, "ours".to_owned()));
}

#[test]
fn a_file_this_user_cannot_write_is_said_so() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.db");
    let mut conn = Connection::open(&path).unwrap();
    upgrade(&mut conn, &path).unwrap();
    drop(conn);
    assert!(!inspect(&path, WEEK).unwrap().contains("cannot write"));
    if nix::unistd::Uid::effective().is_root() {
        // Root writes whatever the mode says; the access check agrees.
        return;
    }
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o444)).unwrap();
    let plan = inspect(&path, WEEK).unwrap();
    assert!(
        plan.contains("cannot write it") && plan.contains("lose every audit row"),
        "{plan}"
    );
}

#[test]
fn missing_empty_and_older_databases_are_created_or_upgraded() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.db");
    assert!(inspect(&path, WEEK).unwrap().contains("will be created"));
    // An older one of ours: versionless, with a table missing columns added since.
    Connection::open(&path)
        .unwrap()
        .execute_batch(
            "CREATE TABLE process_state (process_key TEXT PRIMARY KEY, consecutive_failures INTEGER NOT NULL DEFAULT 0,
                intent TEXT NOT NULL DEFAULT 'on', updated_at TEXT NOT NULL);
             INSERT INTO process_state VALUES ('api', 0, 'off', 'x');",
        )
        .unwrap();
    assert!(inspect(&path, WEEK).unwrap().contains("schema version 1"));
    let mut conn = Connection::open(&path).unwrap();
    upgrade(&mut conn, &path).unwrap();
    let saved = crate::store::schema::load(&conn).unwrap();
    assert_eq!(saved["api"].intent, crate::store::Intent::Off);
}
