//! End-to-end tests: the real `watchdogd`, real heartbeat-writing services, the real
//! `watchdogctl`. One integration target, a module per feature.

mod access;
mod audit;
mod cli;
mod config;
mod contrib;
mod control;
mod crash;
mod daemon;
mod detection;
mod docs;
mod flapping;
mod fleet;
mod hostile_heartbeat;
mod hostile_socket;
mod metrics;
mod notify;
mod overrides;
mod process_safety;
mod recovery;
mod reload;
mod root_safety;
mod seed_move;
mod storm;
mod top;

use watchdog_tests::Sandbox;

/// A sandbox whose services run this package's test service binary.
pub fn sandbox() -> Sandbox {
    Sandbox::new(env!("CARGO_BIN_EXE_wd-test-service"))
}

/// The messages of the audit log's `audit_events` rows of one kind, oldest first.
pub fn audit_events(db: &std::path::Path, kind: &str) -> Vec<String> {
    let conn = rusqlite::Connection::open(db).expect("open the audit log");
    let mut st = conn
        .prepare("SELECT message FROM audit_events WHERE kind = ?1 ORDER BY id")
        .expect("query");
    st.query_map([kind], |r| r.get(0))
        .expect("rows")
        .map(|r| r.expect("row"))
        .collect()
}
