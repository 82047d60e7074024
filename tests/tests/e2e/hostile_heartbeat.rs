//! Hostile heartbeat files: other programs (maybe other users) write them, so each kind of
//! garbage must read as a defined health state with a reason, and never crash or stall the
//! daemon.

use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};
use watchdog_tests::wait_until;

use crate::sandbox;

const T: Duration = Duration::from_secs(20);

/// A heartbeat's JSON text with any `pid` value and timestamp text.
fn beat(pid: Value, timestamp: &str) -> String {
    json!({
        "process_key": "hostile",
        "pid": pid,
        "timestamp": timestamp,
        "status": "running",
        "iteration": 1,
    })
    .to_string()
}

fn now() -> String {
    protocol::time::format_rfc3339(protocol::time::now_micros())
}

/// This test process: alive, and started before any heartbeat the test writes.
fn me() -> Value {
    json!(std::process::id())
}

fn write(path: &Path, bytes: impl AsRef<[u8]>) {
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn every_hostile_heartbeat_reads_as_a_defined_state() {
    let sb = sandbox();
    let hb = |key: &str| sb.heartbeat(key);
    // (key, expected health, a word the detail must contain)
    let cases: &[(&str, &str, &str)] = &[
        ("zero", "no_heartbeat", "character device"),
        ("fifo", "no_heartbeat", "FIFO"),
        ("huge", "no_heartbeat", "bytes"),
        ("utf8", "no_heartbeat", ""),
        ("nested", "no_heartbeat", ""),
        ("pid_minus_one", "stale_pid", "-1"),
        ("pid_zero", "stale_pid", "0"),
        ("pid_2_40", "stale_pid", "1099511627776"),
        ("pid_text", "no_heartbeat", "not an integer"),
        // The seed read `pid` with Python's int(): an integer string is a PID.
        ("pid_string", "healthy", "beating"),
        ("year_9999", "healthy", "clock skew"),
        // Not `timed_out`: the live PID it names started after 1969, so the heartbeat cannot be
        // that process's word; the PID check comes first and says why.
        ("before_1970", "stale_pid", "wrong timestamp"),
        ("directory", "no_heartbeat", "directory"),
        ("control", "healthy", ""),
    ];
    let processes: serde_json::Map<String, Value> = cases
        .iter()
        .map(|(key, _, _)| (key.to_string(), sb.placeholder(key)))
        .collect();
    sb.write_config(&sb.config(Value::Object(processes)));

    std::os::unix::fs::symlink("/dev/zero", hb("zero")).unwrap();
    nix::unistd::mkfifo(&hb("fifo"), nix::sys::stat::Mode::S_IRWXU).unwrap();
    std::fs::File::create(hb("huge"))
        .unwrap()
        .set_len(1 << 30) // sparse: costs no disk
        .unwrap();
    let mut utf8 = beat(me(), &now()).into_bytes();
    utf8.splice(2..2, [0xff, 0xfe, 0xc3]);
    write(&hb("utf8"), utf8);
    write(&hb("nested"), "[".repeat(10_000));
    write(&hb("pid_minus_one"), beat(json!(-1), &now()));
    write(&hb("pid_zero"), beat(json!(0), &now()));
    write(&hb("pid_2_40"), beat(json!(1u64 << 40), &now()));
    write(&hb("pid_text"), beat(json!("one two three"), &now()));
    write(
        &hb("pid_string"),
        beat(json!(std::process::id().to_string()), &now()),
    );
    write(
        &hb("year_9999"),
        beat(me(), "9999-12-31T23:59:59.000000+00:00"),
    );
    write(&hb("before_1970"), beat(me(), "1969-07-20T20:17:40+00:00"));
    std::fs::create_dir(hb("directory")).unwrap();
    write(&hb("control"), beat(me(), &now()));

    let _d = sb.start_daemon();
    // One batch reads them all: a stalled read (the FIFO, /dev/zero) would hold back every key.
    wait_until("every key to be checked", T, || {
        sb.status().iter().all(|row| !row["health"].is_null())
    });
    let rows = sb.status();
    // Every mismatch is listed, not only the first.
    let mut wrong = Vec::new();
    for (key, health, word) in cases {
        let row = rows.iter().find(|r| r["key"] == *key).unwrap();
        let detail = row["detail"].as_str().unwrap_or_default();
        if row["health"] != *health || detail.is_empty() || !detail.contains(word) {
            wrong.push(format!(
                "{key}: want {health} with a detail containing {word:?}, got {} {detail:?}",
                row["health"]
            ));
        }
    }
    let future = rows.iter().find(|r| r["key"] == "year_9999").unwrap();
    if !future["clock_skew"].as_f64().is_some_and(|s| s > 0.0) {
        wrong.push(format!("year_9999: no positive clock_skew: {future}"));
    }
    assert!(wrong.is_empty(), "\n{}", wrong.join("\n"));
    // Checks go on (the big file, the FIFO and /dev/zero are read again each round) and the
    // daemon still answers a full check of every key (exit 1: they are unhealthy).
    sb.ctl_exit(&["check"], 1);
}

#[test]
fn a_heartbeat_owned_by_another_user_than_the_configured_one_is_not_trusted() {
    if !nix::unistd::Uid::effective().is_root() {
        eprintln!("skipped: writing a heartbeat as another user needs root");
        return;
    }
    let Some(nobody) = nix::unistd::User::from_name("nobody").ok().flatten() else {
        eprintln!("skipped: this machine has no user `nobody`");
        return;
    };
    let sb = sandbox();
    let mut svc = sb.placeholder("owned");
    svc["user"] = json!("nobody");
    sb.write_config(&sb.config(json!({ "owned": svc })));
    // Written by root, naming a live PID, fresh: everything right but the owner.
    let path = sb.heartbeat("owned");
    write(&path, beat(me(), &now()));
    let _d = sb.start_daemon();
    wait_until("a check", T, || !sb.status_of("owned")["health"].is_null());
    let row = sb.status_of("owned");
    assert_eq!(row["health"], "no_heartbeat", "{row}");
    assert!(
        row["detail"].as_str().unwrap().contains("owned by uid 0"),
        "{row}"
    );
    std::os::unix::fs::chown(&path, Some(nobody.uid.as_raw()), Some(nobody.gid.as_raw())).unwrap();
    wait_until("healthy once the file is nobody's", T, || {
        sb.status_of("owned")["health"] == "healthy"
    });
}
