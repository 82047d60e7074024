use protocol::{EventKind, Health, PipelineResult, RecoverySummary, Trigger};

use super::*;

#[tokio::test]
async fn state_survives_a_reopen_and_batches_commit() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db/watchdog.db");
    let Opened {
        store,
        thread,
        saved,
        ..
    } = Store::open(&path, Duration::from_secs(86_400)).unwrap();
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
        started: Some((42, 43)),
        off_until_ms: Some(44),
        monitoring_override: Some(false),
        actions_off: vec!["clear_db".into()],
    };
    let check = Record::Check {
        key: "api".into(),
        health: Health::TimedOut,
        pid: Some(5),
        age_ms: Some(1500),
        failures: 3,
        detail: "old".into(),
        at_ms: protocol::time::now_millis(),
    };
    store.write(vec![check.clone(), check]);
    store
        .write_acked(vec![Record::State(state.clone())], true)
        .await
        .unwrap()
        .unwrap();
    drop(store);
    thread.join().unwrap();
    let Opened { saved, .. } = Store::open(&path, Duration::from_secs(86_400)).unwrap();
    assert_eq!(saved.get("api"), Some(&state));
    let conn = Connection::open(&path).unwrap();
    let n: i64 = conn
        .query_row("SELECT count(*) FROM check_history", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 2, "recent rows are kept");
}

#[tokio::test]
async fn rows_older_than_the_retention_are_pruned() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.db");
    let Opened { store, thread, .. } = Store::open(&path, day()).unwrap();
    let now = protocol::time::now_millis();
    let event = |at_ms| Record::Event {
        key: "k".into(),
        kind: EventKind::Reloaded,
        message: "m".into(),
        at_ms,
    };
    store
        .write_acked(vec![event(now - 2 * 86_400_000), event(now)], false)
        .await
        .unwrap()
        .unwrap();
    drop(store);
    thread.join().unwrap();
    let conn = Connection::open(&path).unwrap();
    let n: i64 = conn
        .query_row("SELECT count(*) FROM audit_events", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 1);
}

fn day() -> Duration {
    Duration::from_secs(86_400)
}

#[tokio::test]
async fn a_pipeline_cut_off_is_found_interrupted_at_the_next_start() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.db");
    let Opened { store, thread, .. } = Store::open(&path, day()).unwrap();
    let started = Record::PipelineStarted {
        run_id: "r1".into(),
        key: "api".into(),
        trigger: Trigger::Automatic,
        started_ms: 5,
    };
    store
        .write_acked(vec![started], false)
        .await
        .unwrap()
        .unwrap();
    drop(store);
    thread.join().unwrap();
    let opened = Store::open(&path, day()).unwrap();
    assert_eq!(
        opened.interrupted,
        vec![Interrupted {
            key: "api".into(),
            trigger: "automatic".into(),
            started_ms: 5
        }]
    );
    let conn = Connection::open(&path).unwrap();
    let result: String = conn
        .query_row("SELECT result FROM recovery_runs", [], |r| r.get(0))
        .unwrap();
    assert_eq!(result, "interrupted");
    drop(opened);
    assert!(
        Store::open(&path, day()).unwrap().interrupted.is_empty(),
        "reported once"
    );
}

#[tokio::test]
async fn a_corrupt_database_is_moved_aside() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.db");
    std::fs::write(&path, vec![0x55u8; 8192]).unwrap();
    let Opened { store, thread, .. } = Store::open(&path, day()).unwrap();
    store
        .write_acked(vec![reloaded()], false)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(store.dropped(), 0);
    drop(store);
    thread.join().unwrap();
    let aside = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("w.db.corrupt-"))
        .count();
    assert_eq!(aside, 1);
}

#[tokio::test]
async fn a_deleted_database_is_recreated_and_nothing_is_lost_after() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.db");
    let Opened { store, thread, .. } = Store::open(&path, day()).unwrap();
    store
        .write_acked(vec![reloaded()], false)
        .await
        .unwrap()
        .unwrap();
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    store
        .write_acked(vec![reloaded()], false)
        .await
        .unwrap()
        .unwrap();
    drop(store);
    thread.join().unwrap();
    let conn = Connection::open(&path).unwrap();
    let n: i64 = conn
        .query_row("SELECT count(*) FROM audit_events", [], |r| r.get(0))
        .unwrap();
    assert_eq!(
        n, 1,
        "the row written after the deletion is in the new file"
    );
}

#[tokio::test]
async fn an_unwritable_database_counts_dropped_rows() {
    let dir = tempfile::tempdir().unwrap();
    // A folder where the database file should be: it can never be opened.
    let path = dir.path().join("w.db");
    std::fs::create_dir(&path).unwrap();
    let Opened { store, thread, .. } = Store::open(&path, day()).unwrap();
    store
        .write_acked(vec![reloaded()], false)
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(store.dropped(), 1);
    drop(store);
    thread.join().unwrap();
}

/// An audit event row, the smallest write there is.
fn reloaded() -> Record {
    Record::Event {
        key: "k".into(),
        kind: EventKind::Reloaded,
        message: "m".into(),
        at_ms: 1,
    }
}
