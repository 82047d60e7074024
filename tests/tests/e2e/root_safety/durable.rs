//! Durable acknowledgements: by the time an `on`, `off` or `off --for` is answered, its intent
//! is committed in the database (synced: `synchronous=FULL` for that commit), as another
//! connection sees before the reply is even read; and a change the database refused is never
//! answered as a success.

use std::io::Write;
use std::os::unix::net::UnixStream;
use std::time::Duration;

use protocol::{Request, Response};
use serde_json::json;

use super::T;

/// Sends `req` and waits until its reply is there, without reading it.
fn send_unread(sb: &watchdog_tests::Sandbox, req: &Request) -> UnixStream {
    let payload = protocol::codec::encode_request(req).unwrap();
    let mut s = UnixStream::connect(sb.socket()).unwrap();
    s.write_all(&(payload.len() as u32).to_be_bytes()).unwrap();
    s.write_all(&payload).unwrap();
    let mut fds = [nix::poll::PollFd::new(
        std::os::fd::AsFd::as_fd(&s),
        nix::poll::PollFlags::POLLIN,
    )];
    let ready = nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(20_000u16)).unwrap();
    assert_eq!(ready, 1, "no reply to {req:?}");
    s
}

fn read_reply(mut s: UnixStream) -> Response {
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let frame = protocol::codec::read_frame(&mut s, protocol::MAX_RESPONSE_FRAME).unwrap();
    protocol::codec::decode_response(&frame).unwrap()
}

/// `intent` and `off_until_ms` of `key`, as another connection reads them.
fn saved(sb: &watchdog_tests::Sandbox, key: &str) -> (String, Option<i64>) {
    let conn = rusqlite::Connection::open(sb.path().join("wd.db")).unwrap();
    conn.query_row(
        "SELECT intent, off_until_ms FROM process_state WHERE process_key = ?1",
        [key],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .unwrap()
}

#[test]
fn acknowledged_intents_are_in_the_database_before_their_reply_is_read() {
    let sb = crate::sandbox();
    sb.write_config(&sb.config(json!({ "api": sb.service("api", "") })));
    let _d = sb.start_daemon();
    sb.ctl_ok(&["on", "api"]);
    sb.wait_settled("api", None, T);
    let key = || "api".to_owned();
    let steps = [
        (Request::Off { key: key() }, "off", false),
        (Request::On { key: key() }, "on", false),
        (
            Request::OffFor {
                key: key(),
                for_ms: 600_000,
            },
            "off",
            true,
        ),
    ];
    for (req, intent, window) in steps {
        let s = send_unread(&sb, &req);
        let (have, until) = saved(&sb, "api");
        assert_eq!(have, intent, "{req:?} acknowledged before it was committed");
        assert_eq!(until.is_some(), window, "{req:?}: off_until_ms {until:?}");
        match read_reply(s) {
            Response::Action(r) => assert_ne!(r.result, protocol::PipelineResult::Failed),
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn a_change_the_database_refused_is_never_answered_as_a_success() {
    let sb = crate::sandbox();
    sb.write_config(&sb.config(json!({ "api": sb.placeholder("api") })));
    let _d = sb.start_daemon();
    watchdog_tests::wait_until("the service's state row", T, || {
        rusqlite::Connection::open(sb.path().join("wd.db"))
            .and_then(|c| {
                c.query_row(
                    "SELECT count(*) FROM process_state WHERE process_key = 'api'",
                    [],
                    |r| r.get::<_, i64>(0),
                )
            })
            .is_ok_and(|n| n == 1)
    });
    // Another program holds the database's write lock for longer than the daemon waits.
    let mut holder = rusqlite::Connection::open(sb.path().join("wd.db")).unwrap();
    let tx = holder
        .transaction_with_behavior(rusqlite::TransactionBehavior::Exclusive)
        .unwrap();
    let out = sb.ctl(&["off", "api"]);
    drop(tx);
    assert_ne!(
        out.status.code(),
        Some(0),
        "an unsaved off answered as done"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("could not be saved"), "{err}");
}
