//! The seed's database, pointed at by `db_path`: migrated in place (every row kept and shown by
//! `history`), and `off` survives a restart on it; a database of something else is refused.

use serde_json::json;

use super::T;

/// The seed's two tables with its columns, and a few rows of two days ago (within the default
/// retention), as its later versions left them.
fn seed_database(path: &std::path::Path) -> String {
    let conn = rusqlite::Connection::open(path).unwrap();
    let day_ago = |s: i64| {
        protocol::time::format_rfc3339(
            protocol::time::now_micros() - 2 * 86_400_000_000 + s * 1_000_000,
        )
    };
    let (t1, t2) = (day_ago(0), day_ago(60));
    conn.execute_batch(&format!(
        "CREATE TABLE process_state (
            process_key TEXT PRIMARY KEY, consecutive_failures INTEGER DEFAULT 0,
            last_check_at TEXT, last_health TEXT, last_pid INTEGER, last_heartbeat_ts TEXT,
            last_iteration INTEGER);
         CREATE TABLE check_history (
            id INTEGER PRIMARY KEY AUTOINCREMENT, process_key TEXT NOT NULL,
            checked_at TEXT NOT NULL, health TEXT NOT NULL, pid INTEGER, heartbeat_ts TEXT,
            iteration INTEGER, action_taken TEXT);
         INSERT INTO process_state VALUES
            ('api', 2, '{t2}', 'timed_out', 4242, NULL, 9);
         INSERT INTO check_history (process_key, checked_at, health, pid, iteration, action_taken) VALUES
            ('api', '{t1}', 'healthy', 4242, 8, NULL),
            ('api', '{t2}', 'timed_out', 4242, 9, 'recovery');"
    ))
    .unwrap();
    t2
}

#[test]
fn the_seeds_database_is_migrated_and_off_survives_a_restart_on_it() {
    let sb = crate::sandbox();
    let last = seed_database(&sb.path().join("wd.db"));
    sb.write_config(&sb.config(json!({ "api": sb.service("api", "") })));
    let check = sb.run_watchdogd(["--check-config", "--config", "config.json"]);
    let said = String::from_utf8_lossy(&check.stderr);
    assert_eq!(check.status.code(), Some(0), "{said}");
    assert!(said.contains("the Python watchdog's database"), "{said}");
    assert!(said.contains("keeping every row"), "{said}");
    let mut d = sb.start_daemon();
    sb.ctl_ok(&["on", "api"]);
    sb.wait_settled("api", None, T);
    sb.ctl_ok(&["off", "api"]);
    assert_eq!(d.stop(), Some(0));
    assert!(d.log().matches("cannot write").count() == 0, "{}", d.log());
    let d = sb.start_daemon();
    assert_eq!(sb.status_of("api")["state"], "off", "intent lost");
    assert!(d.log().contains("api: off by intent"), "{}", d.log());
    // The seed's checks read as checks in history, with their times.
    let out = sb.ctl_ok(&["history", "api", "--limit", "1000", "--json"]);
    let rows: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
    let seed: Vec<&serde_json::Value> = rows
        .iter()
        .filter(|r| {
            r["message"]
                .as_str()
                .is_some_and(|m| m.contains("Python watchdog"))
        })
        .collect();
    assert_eq!(seed.len(), 2, "{out}");
    assert!(
        seed.iter()
            .any(|r| r["health"] == "timed_out" && r["at"].as_str().unwrap()[..19] == last[..19]),
        "{out}"
    );
    assert!(!sb.ctl_ok(&["status"]).contains("audit rows dropped"));
}

#[test]
fn a_database_of_something_else_is_refused_with_exit_2() {
    let sb = crate::sandbox();
    let db = sb.path().join("wd.db");
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute_batch("CREATE TABLE orders (id INTEGER); INSERT INTO orders VALUES (7);")
        .unwrap();
    sb.write_config(&sb.config(json!({ "api": sb.placeholder("api") })));
    for args in [
        vec!["--check-config", "--config", "config.json"],
        vec!["--config", "config.json"],
    ] {
        let out = sb.run_watchdogd(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains("wd.db"), "names the file: {err}");
        assert!(err.contains("not a watchdog database"), "{err}");
        assert!(err.contains("db_path"), "says what to do: {err}");
    }
    let kept: i64 = rusqlite::Connection::open(&db)
        .unwrap()
        .query_row("SELECT id FROM orders", [], |r| r.get(0))
        .unwrap();
    assert_eq!(kept, 7, "the file is left alone");
}
