//! `history` and `events` (`--follow`, several followers): mirrors `src/commands/audit.rs`.

use std::process::Stdio;
use std::thread;

use interprocess::local_socket::{GenericFilePath, ListenerOptions, prelude::*};
use protocol::codec::{decode_request, encode_response, read_frame, write_frame};
use protocol::{ErrorKind, HistoryRequest, MAX_REQUEST_FRAME, Request, Response};

use crate::fake_daemon::FakeDaemon;
use crate::replies::{check_entry, error, event, now_ms, recovery_entry};
use crate::{ctl, expect_exit, run, run_exit};

#[test]
fn history_sends_the_filters_and_lists_steps_beneath_recoveries() {
    let entries = vec![check_entry("api"), recovery_entry("api")];
    let d = FakeDaemon::start(vec![
        Some(Response::History(entries.clone())),
        Some(Response::History(entries)),
        Some(error(ErrorKind::UnknownKey, "unknown process key \"nope\"")),
    ]);
    let before = now_ms();
    let o = run_exit(
        &d.socket,
        &["history", "api", "--limit", "5", "--since", "2h"],
        0,
    );
    assert_eq!(
        o.stdout,
        "\
TIME                  KEY  KIND      WHAT                 DETAIL
2026-02-05T06:17:29Z  api  check     stale_pid            failures 1; pid 42 is not running
2026-02-05T06:17:24Z  api  recovery  automatic succeeded  automatic done (1034 ms)
  kill: ok (12 ms) SIGTERM
"
    );
    match &d.requests()[0] {
        Request::History(HistoryRequest {
            key,
            limit,
            since_ms: Some(since),
        }) => {
            assert_eq!(key.as_deref(), Some("api"));
            assert_eq!(*limit, 5);
            assert!(*since >= before - 7_200_000 && *since <= now_ms() - 7_200_000);
        }
        other => panic!("unexpected {other:?}"),
    }
    let o = run(&d.socket, &["history", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v[1]["kind"], "recovery");
    assert_eq!(v[1]["trigger"], "automatic");
    assert_eq!(v[1]["steps"][0]["action"], "kill");
    assert_eq!(v[1]["finished"], "2026-02-05T06:17:25.635000+00:00");
    assert_eq!(
        d.requests()[1],
        Request::History(HistoryRequest {
            key: None,
            limit: 50,
            since_ms: None
        })
    );
    let o = run_exit(&d.socket, &["history", "nope"], 2);
    assert_eq!(o.stdout, "");
}

#[test]
fn events_without_follow_show_the_last_20_entries() {
    let d = FakeDaemon::start(vec![Some(Response::History(vec![recovery_entry("api")]))]);
    let o = run_exit(&d.socket, &["events"], 0);
    assert!(o.stdout.starts_with("TIME "));
    assert_eq!(
        d.requests(),
        vec![Request::History(HistoryRequest {
            key: None,
            limit: 20,
            since_ms: None
        })]
    );
}

#[test]
fn events_follow_prints_each_event_until_the_daemon_closes() {
    let d = FakeDaemon::start_streams(
        vec![
            vec![event(0), event(1), event(2)],
            vec![event(0), event(1), event(2)],
            vec![error(
                ErrorKind::PermissionDenied,
                "permission denied: uid 7 may not events",
            )],
        ],
        None,
    );
    let o = run_exit(&d.socket, &["events", "--follow"], 0);
    assert_eq!(
        o.stdout,
        "\
2026-02-05T06:17:29Z api health_changed healthy running event 0
2026-02-05T06:17:30Z api health_changed healthy running event 1
2026-02-05T06:17:31Z api health_changed healthy running event 2
"
    );
    let o = run_exit(&d.socket, &["events", "-f", "--json"], 0);
    let lines: Vec<serde_json::Value> = o
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[2]["message"], "event 2");
    assert_eq!(lines[0]["kind"], "health_changed");
    assert_eq!(lines[0]["state"], "running");
    assert_eq!(d.requests(), vec![Request::Events, Request::Events]);
    let o = run_exit(&d.socket, &["events", "--follow"], 2);
    assert_eq!(o.stdout, "");
    assert!(o.stderr.contains("permission denied"));
}

#[test]
fn several_followers_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("w.sock");
    let name = socket.as_path().to_fs_name::<GenericFilePath>().unwrap();
    let listener = ListenerOptions::new().name(name).create_sync().unwrap();
    let server = thread::spawn(move || {
        // Both followers are connected before either gets an event.
        let mut conns: Vec<_> = (0..2)
            .map(|_| {
                let mut c = listener.accept().unwrap();
                let frame = read_frame(&mut c, MAX_REQUEST_FRAME).unwrap();
                assert_eq!(decode_request(&frame).unwrap(), Request::Events);
                c
            })
            .collect();
        for i in 0..3 {
            for c in &mut conns {
                write_frame(c, &encode_response(&event(i)).unwrap()).unwrap();
            }
        }
    });
    let followers: Vec<_> = (0..2)
        .map(|_| {
            ctl()
                .arg("--socket")
                .arg(&socket)
                .args(["events", "--follow"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    server.join().unwrap();
    for f in followers {
        let o = f.wait_with_output().unwrap();
        let o = expect_exit(&o, 0, "a follower");
        assert_eq!(o.stdout.lines().count(), 3, "{}", o.stdout);
    }
}
