//! The fleet client, `-H ssh://…`, `--hosts` and `restart --rolling`, against real daemons
//! reached through a real OpenSSH server that each test starts for itself (see
//! `watchdog_tests::sshd`). Several daemons with their own sockets on this machine stand for
//! several hosts: `ssh://root@127.0.0.1:PORT?socket=…`.
//!
//! - `one_host`: every kind of command over ssh behaves as it does locally; `dial-stdio` alone;
//! - `many`: merged status/check/history, an unreachable host among them;
//! - `rolling`: `restart --rolling`, host after host, stopping at a failed start or wait;
//! - `errors`: no ssh connection, no remote watchdogctl, no remote daemon, another protocol;
//! - `silent`: hosts that accept a connection and never answer end within their bounds.

mod errors;
mod many;
mod one_host;
mod rolling;
mod silent;

use std::net::TcpListener;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use protocol::codec::{CodecError, decode_request, encode_response, read_frame, write_frame};
use protocol::{ErrorKind, MAX_REQUEST_FRAME, PROTOCOL_VERSION, Response};
use serde_json::{Value, json};
use watchdog_tests::{Daemon, Sandbox, expect_exit};

use crate::sandbox;

const T: Duration = Duration::from_secs(20);

/// The test's own sshd, or an early `return` after printing why none can run here. The reason
/// is written to the process's stderr itself, not through `eprintln!`, which libtest captures
/// (and hides for a passing test): a skip must show under a plain `cargo test`.
macro_rules! sshd_or_skip {
    () => {
        match watchdog_tests::sshd::Sshd::start() {
            Ok(sshd) => sshd,
            Err(why) => {
                use std::io::Write;
                let _ = writeln!(
                    std::io::stderr(),
                    "SKIPPED {}: no OpenSSH server for this test: {why}",
                    module_path!()
                );
                return;
            }
        }
    };
}
use sshd_or_skip;

fn code(out: &Output) -> Option<i32> {
    out.status.code()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The command's `--json` output, after asserting its exit code.
fn json_of(out: &Output, expect: i32) -> Value {
    let stdout = expect_exit(out, expect, "watchdogctl --json").stdout;
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout:?}"))
}

/// A host: a sandbox whose daemon runs the real test service `key`, settled (healthy and
/// running), and that service's PID.
fn host_with_service(key: &str) -> (Sandbox, Daemon, u64) {
    let sb = sandbox();
    sb.write_config(&sb.config(json!({ key: sb.service(key, "") })));
    let d = sb.start_daemon();
    let pid = sb.wait_settled(key, None, T);
    (sb, d, pid)
}

/// A host whose daemon knows `key` but never starts it by itself (its start command does
/// nothing), for the queries that need no running service.
fn host_with_placeholder(key: &str) -> (Sandbox, Daemon) {
    let sb = sandbox();
    sb.write_config(&sb.config(json!({ key: sb.placeholder(key) })));
    let d = sb.start_daemon();
    (sb, d)
}

/// A host that accepts TCP connections and never says a word, like a wedged sshd or a stopped
/// VM behind a live kernel: the kernel completes each handshake into the listen backlog, and
/// nobody ever accepts or answers. Without a timeout of its own ssh waits for its banner forever.
struct Silent {
    /// Held open (never accepted from) for the test's life.
    listener: TcpListener,
}

impl Silent {
    fn start() -> Silent {
        Silent {
            listener: TcpListener::bind("127.0.0.1:0").expect("bind a silent port"),
        }
    }

    /// `ssh://USER@127.0.0.1:PORT`.
    fn url(&self, user: &str) -> String {
        let port = self.listener.local_addr().expect("its address").port();
        format!("ssh://{user}@127.0.0.1:{port}")
    }
}

/// A watchdogd one protocol version ahead: it answers every request with the frozen
/// `Response::Error` of kind `protocol`, worded as the real daemon words it, which is exactly
/// what any other daemon version sends. Serves `connections` connections, then stops.
struct OtherVersion {
    socket: PathBuf,
}

impl OtherVersion {
    fn start(dir: &Path, connections: usize) -> OtherVersion {
        let socket = dir.join("other.sock");
        let listener = UnixListener::bind(&socket).expect("bind the fake daemon");
        std::thread::spawn(move || {
            for conn in listener.incoming().take(connections) {
                let Ok(mut conn) = conn else { return };
                let Ok(frame) = read_frame(&mut conn, MAX_REQUEST_FRAME) else {
                    continue;
                };
                // A request of this client's version reached us intact, through ssh.
                decode_request(&frame).expect("a request of our version");
                let mismatch = CodecError::VersionMismatch {
                    client: PROTOCOL_VERSION,
                    client_version: protocol::VERSION.to_owned(),
                    daemon: PROTOCOL_VERSION + 1,
                };
                let reply = Response::Error {
                    kind: ErrorKind::Protocol,
                    message: mismatch.to_string(),
                };
                let _ = write_frame(&mut conn, &encode_response(&reply).expect("encode"));
            }
        });
        OtherVersion { socket }
    }
}

/// Runs `cmd` with `input` on its stdin (then closed), bounded like the harness's runs: killed,
/// and the test failed, after 90 s.
fn run_with_stdin(mut cmd: std::process::Command, input: Vec<u8>) -> Output {
    use std::io::{Read, Write};
    use std::process::Stdio;
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut stdin = child.stdin.take().expect("stdin");
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_end(&mut buf);
            }
            buf
        })
    };
    let out = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let err = drain(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("still running after 90 s");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let _ = writer.join();
    Output {
        status,
        stdout: out.join().expect("stdout"),
        stderr: err.join().expect("stderr"),
    }
}

/// The frames in `bytes`, each at most `max` long; the bytes must end with a whole frame.
fn protocol_frames(mut bytes: &[u8], max: usize) -> Vec<Vec<u8>> {
    let mut frames = Vec::new();
    while !bytes.is_empty() {
        frames.push(read_frame(&mut bytes, max).expect("a whole frame"));
    }
    frames
}
