//! Hostile and broken input on the control socket, sent with a bare `UnixStream`: each malformed
//! frame gets an error reply and a closed connection, a warning in the log, and the daemon goes
//! on serving everyone else; idle clients cannot pin it, and malformed traffic does not make it
//! grow.

use std::io::{ErrorKind as IoKind, Read, Write};
use std::net::Shutdown;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

use protocol::codec::{PROTOCOL_VERSION, decode_response, encode_request};
use protocol::{ErrorKind, MAX_REQUEST_FRAME, Request, Response};
use serde_json::json;
use watchdog_tests::{Daemon, Sandbox, wait_until};

use crate::sandbox;

/// How long the daemon may take to answer or close a hostile connection.
const ANSWER: Duration = Duration::from_secs(10);

/// A daemon whose one service is a placeholder that is never started or recovered: these tests
/// are about the socket alone.
fn daemon() -> (Sandbox, Daemon) {
    let sb = sandbox();
    sb.write_config(&sb.config(json!({ "idle": sb.placeholder("idle") })));
    let d = sb.start_daemon();
    (sb, d)
}

/// Sends `bytes` on a fresh connection (then ends our writing side if `end_write`), reads
/// until the daemon closes the connection, and decodes the reply frame if there was one.
/// Panics if the daemon neither answers nor closes within [`ANSWER`].
fn send_raw(socket: &Path, bytes: &[u8], end_write: bool) -> Option<Response> {
    let mut stream = UnixStream::connect(socket).expect("connect");
    // The daemon may refuse and close before reading everything: a failed write is fine, the
    // reply (or the close) is what is judged.
    let _ = stream.write_all(bytes);
    if end_write {
        let _ = stream.shutdown(Shutdown::Write);
    }
    let deadline = Instant::now() + ANSWER;
    let mut got = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match read_until(&mut stream, &mut chunk, deadline) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&chunk[..n]),
            // Closed with our unread bytes still queued on its side.
            Err(e) if e.kind() == IoKind::ConnectionReset => break,
            Err(e) if matches!(e.kind(), IoKind::WouldBlock | IoKind::TimedOut) => {
                panic!("the daemon neither replied nor closed within {ANSWER:?}")
            }
            Err(e) => panic!("reading the reply: {e}"),
        }
    }
    if got.is_empty() {
        return None;
    }
    let len = u32::from_be_bytes(got[..4].try_into().unwrap()) as usize;
    assert_eq!(
        got.len(),
        4 + len,
        "one reply frame, then the close: {got:?}"
    );
    Some(decode_response(&got[4..]).expect("the reply decodes"))
}

/// One `read` that gives up at `deadline`, retried when a signal interrupts it (a read with a
/// timeout is not restarted by the kernel, e.g. after the test process was stopped and resumed).
fn read_until(
    stream: &mut UnixStream,
    buf: &mut [u8],
    deadline: Instant,
) -> std::io::Result<usize> {
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(IoKind::TimedOut.into());
        }
        stream.set_read_timeout(Some(left))?;
        match stream.read(buf) {
            Err(e) if e.kind() == IoKind::Interrupted => continue,
            other => return other,
        }
    }
}

/// A well-formed request payload (header + `Check`) to corrupt.
fn check_payload() -> Vec<u8> {
    encode_request(&Request::Check).unwrap()
}

/// `payload` with its 4-byte big-endian length prefix.
fn framed(payload: &[u8]) -> Vec<u8> {
    let mut out = (payload.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(payload);
    out
}

/// Deterministic noise (xorshift), so a failure can be replayed.
fn noise(len: usize, mut x: u64) -> Vec<u8> {
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn server_warnings(d: &Daemon) -> usize {
    d.log()
        .lines()
        .filter(|l| l.contains("[WARNING] [server]"))
        .count()
}

/// Sends one hostile input and checks the whole contract: an error reply of `kind`, the
/// connection closed, a new warning in the log, and `watchdogctl status` still served.
/// Returns the reply's message.
fn refused(sb: &Sandbox, d: &Daemon, bytes: &[u8], end_write: bool, kind: ErrorKind) -> String {
    let warnings = server_warnings(d);
    let message = match send_raw(&sb.socket(), bytes, end_write) {
        Some(Response::Error { kind: k, message }) if k == kind => message,
        other => panic!("expected an error reply of kind {kind:?}, got {other:?}"),
    };
    wait_until("a warning about the bad client", ANSWER, || {
        server_warnings(d) > warnings
    });
    // The daemon still serves.
    sb.ctl_ok(&["status"]);
    message
}

#[test]
fn a_4_gib_length_prefix_is_refused() {
    let (sb, d) = daemon();
    let message = refused(&sb, &d, &[0xff; 4], false, ErrorKind::BadRequest);
    assert!(!message.is_empty());
}

#[test]
fn a_frame_one_byte_over_the_limit_is_refused() {
    let (sb, d) = daemon();
    let too_big = vec![0u8; MAX_REQUEST_FRAME + 1];
    refused(&sb, &d, &framed(&too_big), false, ErrorKind::BadRequest);
}

#[test]
fn a_truncated_frame_is_refused() {
    let (sb, d) = daemon();
    let mut bytes = 100u32.to_be_bytes().to_vec();
    bytes.extend_from_slice(&[7; 10]);
    refused(&sb, &d, &bytes, true, ErrorKind::BadRequest);
}

#[test]
fn random_bytes_are_refused() {
    let (sb, d) = daemon();
    refused(
        &sb,
        &d,
        &noise(1000, 0x9e37_79b9_7f4a_7c15),
        true,
        ErrorKind::BadRequest,
    );
}

#[test]
fn an_unknown_request_variant_is_refused() {
    let (sb, d) = daemon();
    let mut payload = check_payload();
    // The last byte is the variant index of `Check` (6); no request has index 200.
    *payload.last_mut().unwrap() = 200;
    refused(&sb, &d, &framed(&payload), false, ErrorKind::BadRequest);
}

#[test]
fn another_protocol_version_is_refused_naming_both_versions() {
    let (sb, d) = daemon();
    let mut payload = check_payload();
    // Bytes 0..5 are the magic (0xfc + 4 bytes), byte 5 the protocol version (one-byte varint).
    assert_eq!(payload[5], PROTOCOL_VERSION as u8);
    payload[5] = 99;
    let message = refused(&sb, &d, &framed(&payload), false, ErrorKind::Protocol);
    let numbers: Vec<&str> = message
        .split(|c: char| !c.is_ascii_digit())
        .filter(|w| !w.is_empty())
        .collect();
    assert!(
        numbers.contains(&"99") && numbers.contains(&PROTOCOL_VERSION.to_string().as_str()),
        "{message}"
    );
}

/// Open descriptors of a process.
fn open_fds(pid: i32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}

#[test]
fn five_hundred_idle_connections_do_not_delay_a_status() {
    let (sb, d) = daemon();
    let before = open_fds(d.pid());
    let idle: Vec<UnixStream> = (0..500)
        .map(|_| UnixStream::connect(sb.socket()).expect("connect"))
        .collect();
    // They must be accepted and held by the daemon, not queued in the listen backlog.
    wait_until("the daemon to hold 500 connections", ANSWER, || {
        open_fds(d.pid()) >= before + 500
    });
    let started = Instant::now();
    sb.ctl_ok(&["status"]);
    let took = started.elapsed();
    // A correctness bound (no queueing behind the idle clients), not a benchmark.
    assert!(took < Duration::from_secs(2), "status took {took:?}");
    drop(idle);
}

#[test]
fn a_client_that_sends_nothing_is_disconnected() {
    let (sb, _d) = daemon();
    let mut stream = UnixStream::connect(sb.socket()).unwrap();
    let started = Instant::now();
    let mut byte = [0u8; 1];
    let read = read_until(&mut stream, &mut byte, started + ANSWER);
    assert!(
        matches!(read, Ok(0)),
        "expected the daemon to close the idle connection within {ANSWER:?}, got {read:?}"
    );
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "closed at once ({:?}), not after being idle",
        started.elapsed()
    );
}

/// The daemon's resident set size, in KiB.
fn rss_kib(pid: i32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/PID/status")
}

#[test]
fn two_hundred_malformed_connections_do_not_grow_the_daemon() {
    let (sb, d) = daemon();
    // Warm up: the first connections allocate the runtime's buffers for good.
    let mut version = check_payload();
    version[5] = 99;
    let mut variant = check_payload();
    *variant.last_mut().unwrap() = 200;
    let inputs: [(Vec<u8>, bool); 5] = [
        (vec![0xff; 4], false),
        (framed(&vec![0u8; MAX_REQUEST_FRAME + 1]), false),
        (noise(1000, 7), true),
        (framed(&variant), false),
        (framed(&version), false),
    ];
    for (bytes, end_write) in &inputs {
        send_raw(&sb.socket(), bytes, *end_write);
    }
    let before = rss_kib(d.pid());
    for i in 0..200 {
        let (bytes, end_write) = &inputs[i % inputs.len()];
        let reply = send_raw(&sb.socket(), bytes, *end_write);
        assert!(
            matches!(reply, Some(Response::Error { .. })),
            "input {i}: {reply:?}"
        );
    }
    let after = rss_kib(d.pid());
    assert!(
        after < before + 20 * 1024,
        "VmRSS grew from {before} KiB to {after} KiB"
    );
    sb.ctl_ok(&["status"]);
}
