//! A hostile client for the end-to-end tests, run as another user: it opens many connections,
//! or pipelines many requests, or sends requests and never reads the replies.
//!
//! ```text
//! wd-flood --socket PATH --mode connections --count N --request events
//! wd-flood --socket PATH --mode repeat --count N --request restart
//! wd-flood --socket PATH --mode noread --count N --request status
//! ```
//! `connections` prints `opened K` once all are open, then holds them until killed;
//! `repeat` sends N requests on one connection, reads the N replies and prints
//! `replies N denied D`; `noread` sends N requests, prints `sent`, and holds the connection
//! without reading until killed.

use std::io::Write;
use std::os::unix::net::UnixStream;
use std::time::Duration;

use protocol::{Request, Response};

fn request(name: &str) -> Request {
    match name {
        "events" => Request::Events,
        "status" => Request::Status { key: None },
        "restart" => Request::Restart { key: "api".into() },
        other => panic!("unknown request {other}"),
    }
}

fn frame(req: &Request) -> Vec<u8> {
    let payload = protocol::codec::encode_request(req).expect("encode");
    let mut out = (payload.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(&payload);
    out
}

fn main() {
    let mut socket = None;
    let mut mode = String::new();
    let mut count = 1usize;
    let mut req = String::from("status");
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| panic!("{arg} needs a value"));
        match arg.as_str() {
            "--socket" => socket = Some(value()),
            "--mode" => mode = value(),
            "--count" => count = value().parse().expect("count"),
            "--request" => req = value(),
            other => panic!("unknown argument {other}"),
        }
    }
    let socket = socket.expect("--socket is required");
    let bytes = frame(&request(&req));
    let mut out = std::io::stdout();
    match mode.as_str() {
        "connections" => {
            let mut held = Vec::new();
            for _ in 0..count {
                match UnixStream::connect(&socket) {
                    Ok(mut s) => {
                        let _ = s.write_all(&bytes);
                        held.push(s);
                    }
                    Err(e) => {
                        eprintln!("wd-flood: connect failed: {e}");
                        break;
                    }
                }
            }
            let _ = writeln!(out, "opened {}", held.len());
            let _ = out.flush();
            loop {
                std::thread::sleep(Duration::from_secs(60));
            }
        }
        "repeat" => {
            let mut s = UnixStream::connect(&socket).expect("connect");
            let all: Vec<u8> = (0..count).flat_map(|_| bytes.iter().copied()).collect();
            let writer = {
                let mut s = s.try_clone().expect("clone");
                std::thread::spawn(move || {
                    let _ = s.write_all(&all);
                })
            };
            let (mut replies, mut denied) = (0, 0);
            s.set_read_timeout(Some(Duration::from_secs(30))).ok();
            while replies < count {
                let Ok(frame) = protocol::codec::read_frame(&mut s, protocol::MAX_RESPONSE_FRAME)
                else {
                    break;
                };
                replies += 1;
                if let Ok(Response::Error {
                    kind: protocol::ErrorKind::PermissionDenied,
                    ..
                }) = protocol::codec::decode_response(&frame)
                {
                    denied += 1;
                }
            }
            let _ = writer.join();
            let _ = writeln!(out, "replies {replies} denied {denied}");
        }
        "noread" => {
            let mut s = UnixStream::connect(&socket).expect("connect");
            s.set_write_timeout(Some(Duration::from_secs(5))).ok();
            for _ in 0..count {
                if s.write_all(&bytes).is_err() {
                    break;
                }
            }
            let _ = writeln!(out, "sent");
            let _ = out.flush();
            loop {
                std::thread::sleep(Duration::from_secs(60));
            }
        }
        other => panic!("unknown mode {other:?}"),
    }
}
