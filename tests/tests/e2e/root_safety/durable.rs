//! Durable acknowledgements: by the time an `off` is answered, its intent is committed in the
//! database (synced: `synchronous=FULL` for that commit), as another connection sees before the
//! reply is even read.

use std::io::Write;
use std::os::unix::net::UnixStream;
use std::time::Duration;

use protocol::Request;
use serde_json::json;

use super::T;

#[test]
fn an_acknowledged_off_is_in_the_database_before_its_reply_is_read() {
    let sb = crate::sandbox();
    sb.write_config(&sb.config(json!({ "api": sb.service("api", "") })));
    let _d = sb.start_daemon();
    sb.ctl_ok(&["on", "api"]);
    sb.wait_settled("api", None, T);
    let payload = protocol::codec::encode_request(&Request::Off { key: "api".into() }).unwrap();
    let mut s = UnixStream::connect(sb.socket()).unwrap();
    s.write_all(&(payload.len() as u32).to_be_bytes()).unwrap();
    s.write_all(&payload).unwrap();
    // Wait until the reply is there, without reading it.
    let mut fds = [nix::poll::PollFd::new(
        std::os::fd::AsFd::as_fd(&s),
        nix::poll::PollFlags::POLLIN,
    )];
    let ready = nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(20_000u16)).unwrap();
    assert_eq!(ready, 1, "no reply");
    let conn = rusqlite::Connection::open(sb.path().join("wd.db")).unwrap();
    let intent: String = conn
        .query_row(
            "SELECT intent FROM process_state WHERE process_key = 'api'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(intent, "off", "acknowledged before it was committed");
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let frame = protocol::codec::read_frame(&mut s, protocol::MAX_RESPONSE_FRAME).unwrap();
    match protocol::codec::decode_response(&frame).unwrap() {
        protocol::Response::Action(r) => assert_ne!(r.result, protocol::PipelineResult::Failed),
        other => panic!("{other:?}"),
    }
}
