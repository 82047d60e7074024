//! The seed's database, pointed at by `db_path`: migrated in place (every row kept and shown by
//! `history`), and `off` survives a restart on it; a database of something else is refused.

use serde_json::json;
use watchdog_tests::expect_exit;

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
    let said = expect_exit(
        &sb.run_watchdogd(["--check-config", "--config", "config.json"]),
        0,
        "watchdogd --check-config",
    )
    .stderr;
    assert!(said.contains("the Python watchdog's database"), "{said}");
    assert!(said.contains("keeping its rows and columns"), "{said}");
    assert!(
        !said.contains("pruned"),
        "rows of two days ago are kept: {said}"
    );
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
fn a_database_of_something_else_or_of_a_newer_watchdogd_is_refused_with_exit_2() {
    let sb = crate::sandbox();
    sb.write_config(&sb.config(json!({ "api": sb.placeholder("api") })));
    let db = sb.path().join("wd.db");
    // Another program's file, versioned or not, and one of a newer watchdogd.
    let cases: [(&str, i64, &str); 3] = [
        (
            "CREATE TABLE orders (id INTEGER); INSERT INTO orders VALUES (7);",
            0,
            "not a watchdog database",
        ),
        (
            "CREATE TABLE orders (id INTEGER); INSERT INTO orders VALUES (7);",
            2,
            "not a watchdog database",
        ),
        (
            "CREATE TABLE process_state (process_key TEXT PRIMARY KEY, intent TEXT NOT NULL DEFAULT 'on');
             CREATE TABLE orders (id INTEGER); INSERT INTO orders VALUES (7);",
            99,
            "newer watchdogd",
        ),
    ];
    for (schema, version, why) in cases {
        let _ = std::fs::remove_file(&db);
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.execute_batch(schema).unwrap();
        conn.pragma_update(None, "user_version", version).unwrap();
        drop(conn);
        for args in [
            vec!["--check-config", "--config", "config.json"],
            vec!["--config", "config.json"],
        ] {
            let err = expect_exit(
                &sb.run_watchdogd(&args),
                2,
                format_args!("v{version} {args:?}"),
            )
            .stderr;
            assert!(err.contains("wd.db"), "names the file: {err}");
            assert!(err.contains(why), "v{version}: {err}");
            assert!(err.contains("db_path"), "says what to do: {err}");
        }
        let conn = rusqlite::Connection::open(&db).unwrap();
        let kept: i64 = conn
            .query_row("SELECT id FROM orders", [], |r| r.get(0))
            .unwrap();
        assert_eq!(kept, 7, "the file is left alone");
        let still: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(still, version, "the file is left alone");
    }
}

#[test]
fn old_seed_rows_are_announced_and_rows_its_cron_writes_after_the_move_are_kept() {
    let sb = crate::sandbox();
    let db = sb.path().join("wd.db");
    seed_database(&db);
    // A check from 400 days ago: older than any retention.
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute_batch(
            "INSERT INTO check_history (process_key, checked_at, health, pid) VALUES
                ('api', '2025-10-30T10:00:00+00:00', 'healthy', 4242);",
        )
        .unwrap();
    let mut cfg = sb.config(json!({ "api": sb.placeholder("api") }));
    cfg["history_retention_days"] = json!(30);
    sb.write_config(&cfg);
    let check = sb.run_watchdogd(["--check-config", "--config", "config.json"]);
    let said = String::from_utf8_lossy(&check.stderr);
    assert!(
        said.contains("1 of its checks are older than history_retention_days (30 days)"),
        "{said}"
    );
    let mut d = sb.start_daemon();
    watchdog_tests::wait_until("the migration", T, || {
        rusqlite::Connection::open(&db)
            .and_then(|c| c.pragma_query_value(None, "user_version", |r| r.get::<_, i64>(0)))
            .is_ok_and(|v| v >= 2)
    });
    // The seed's cron job, not yet removed, writes a row the way it always did (naive local
    // time): it gets its own time and is kept like any fresh row, by this and the next start.
    let now_local = rusqlite::Connection::open(&db)
        .unwrap()
        .query_row(
            "SELECT strftime('%Y-%m-%dT%H:%M:%f', 'now', 'localtime')",
            [],
            |r| r.get::<_, String>(0),
        )
        .unwrap();
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute(
            "INSERT INTO check_history (process_key, checked_at, health, pid, action_taken) VALUES ('api', ?1, 'STALE_PID', 4242, 'recovery')",
            [&now_local],
        )
        .unwrap();
    assert_eq!(d.stop(), Some(0));
    let _d = sb.start_daemon();
    let out = sb.ctl_ok(&["history", "api", "--limit", "1000", "--json"]);
    let rows: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
    let from_cron: Vec<&serde_json::Value> = rows
        .iter()
        .filter(|r| {
            r["health"] == "stale_pid"
                && r["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("Python watchdog"))
        })
        .collect();
    assert_eq!(from_cron.len(), 1, "{out}");
    let at = protocol::time::parse_rfc3339(from_cron[0]["at"].as_str().unwrap()).unwrap();
    assert!(
        (at - protocol::time::now_micros()).abs() < 120_000_000,
        "read as local time: {}",
        from_cron[0]
    );
}

#[test]
fn check_config_says_when_the_database_cannot_be_written() {
    let Ok(nobody) = watchdog_tests::users::nobody() else {
        eprintln!("skipped: needs root and the user nobody");
        return;
    };
    if !watchdog_tests::users::reachable_by_others(&watchdog_tests::bins().watchdogd) {
        eprintln!("skipped: nobody cannot reach the watchdogd binary");
        return;
    }
    let sb = crate::sandbox();
    sb.write_config(&sb.config(json!({ "api": sb.placeholder("api") })));
    let mut d = sb.start_daemon();
    watchdog_tests::wait_until("the database", T, || sb.path().join("wd.db").exists());
    assert_eq!(d.stop(), Some(0));
    // root's database, 0644, in a folder nobody may write: as nobody, it cannot be written.
    for p in [sb.path().to_path_buf(), sb.path().join("config.json")] {
        std::fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    }
    std::fs::set_permissions(
        sb.path().join("wd.db"),
        std::os::unix::fs::PermissionsExt::from_mode(0o644),
    )
    .unwrap();
    let mut cmd = sb.watchdogd_command();
    cmd.args(["--check-config", "--config", "config.json"]);
    watchdog_tests::users::run_as(&mut cmd, &nobody, None);
    let out = cmd.output().unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("cannot write it") && said.contains("lose every audit row"),
        "{said}"
    );
}
