//! One `ssh HOST watchdogctl dial-stdio` child, used as a byte pipe for frames.
//!
//! Pipes have no read timeout, so a reader thread turns ssh's stdout into frames on a channel
//! of one slot, and [`SshSession::recv`] waits on it with the call's timeout. Reads are bounded
//! twice: every frame by the protocol's response limit (checked before allocating), and the
//! channel by its single slot, so a peer that floods us is held back by the pipe, not buffered.
//! ssh's stderr is drained by a second thread into a bounded tail, shown only when the call
//! fails.
//!
//! A call that runs out of time while ssh still runs ends with [`SshSession::give_up`]: ssh is
//! killed and what it wrote so far goes into the message.
//!
//! Shutdown: dropping the session closes ssh's stdin, so the remote `dial-stdio` sees EOF, ends
//! its daemon connection and exits, and ssh exits with it; a session that does not end within a
//! grace period is killed. The reader threads are never joined: an ssh ControlMaster started by
//! this ssh may keep the pipes open long after, and the threads end with the process anyway.

use std::io::{self, BufReader, Read};
use std::os::unix::process::ExitStatusExt;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, sync_channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use protocol::MAX_RESPONSE_FRAME;
use protocol::codec::{CodecError, write_frame};

use super::failure::{RemoteError, diagnose, summary};
use super::ssh::SshTarget;
use crate::frames::next_frame;

/// How much of ssh's stderr is kept (the end of it, where ssh's own message is).
const STDERR_TAIL: usize = 16 * 1024;
/// How long a session that was told to end (stdin closed) may take to exit before it is killed.
const CLOSE_GRACE: Duration = Duration::from_secs(2);
/// How long ssh may take to exit once its stdout closed, before its status is given up on.
const EXIT_GRACE: Duration = Duration::from_secs(5);
/// How long stderr may take to reach its end once ssh exited.
const STDERR_GRACE: Duration = Duration::from_millis(500);

type FrameResult = Result<Option<Vec<u8>>, CodecError>;

/// The end of ssh's stderr, and whether it has reached EOF.
#[derive(Default)]
struct Tail {
    bytes: Vec<u8>,
    done: bool,
}

/// A running ssh child carrying one connection to a remote daemon.
pub struct SshSession {
    target: SshTarget,
    child: Child,
    stdin: Option<ChildStdin>,
    frames: Receiver<FrameResult>,
    stderr: Arc<Mutex<Tail>>,
    /// A reply frame came back, so ssh did connect.
    answered: bool,
    /// ssh's stdout reached its end (or failed): ssh is exiting, its status is worth waiting for.
    stdout_closed: bool,
}

impl SshSession {
    /// Starts ssh for `target`, for a call that may take `limit` in all (ssh's connect timeout
    /// fits in it); the remote side connects to its daemon at once.
    pub fn spawn(target: &SshTarget, limit: Duration) -> Result<SshSession, RemoteError> {
        let argv = target.argv_within(limit);
        let spawn_error = |source| RemoteError::Spawn {
            program: argv[0].clone(),
            source,
        };
        let mut child = Command::new(&argv[0])
            .args(&argv[1..])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(spawn_error)?;
        let (Some(stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            // All three were asked for as pipes just above.
            let _ = child.kill();
            let _ = child.wait();
            return Err(spawn_error(io::Error::other("ssh's pipes are missing")));
        };
        let (tx, frames) = sync_channel::<FrameResult>(1);
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            loop {
                let next = next_frame(&mut reader, MAX_RESPONSE_FRAME);
                let more = matches!(next, Ok(Some(_)));
                if tx.send(next).is_err() || !more {
                    return;
                }
            }
        });
        let tail = Arc::new(Mutex::new(Tail::default()));
        let sink = Arc::clone(&tail);
        std::thread::spawn(move || drain_stderr(stderr, &sink));
        Ok(SshSession {
            target: target.clone(),
            child,
            stdin: Some(stdin),
            frames,
            stderr: tail,
            answered: false,
            stdout_closed: false,
        })
    }

    /// Writes one frame to the remote side.
    pub fn send(&mut self, payload: &[u8]) -> Result<(), CodecError> {
        match self.stdin.as_mut() {
            Some(stdin) => write_frame(stdin, payload),
            None => Err(CodecError::Io(io::ErrorKind::BrokenPipe.into())),
        }
    }

    /// The next reply frame; `Ok(None)` once ssh's stdout ended between frames.
    pub fn recv(&mut self, timeout: Option<Duration>) -> Result<Option<Vec<u8>>, CodecError> {
        let next = match timeout {
            None => self
                .frames
                .recv()
                .map_err(|_| RecvTimeoutError::Disconnected),
            Some(t) => self.frames.recv_timeout(t),
        };
        let next = match next {
            Ok(next) => next,
            Err(RecvTimeoutError::Timeout) => {
                return Err(CodecError::Io(io::ErrorKind::TimedOut.into()));
            }
            // The reader already reported the end (or an error) once.
            Err(RecvTimeoutError::Disconnected) => Ok(None),
        };
        match &next {
            Ok(Some(_)) => self.answered = true,
            Ok(None) | Err(CodecError::Io(_)) => self.stdout_closed = true,
            Err(_) => {}
        }
        next
    }

    /// Why the remote side went away, once its stdout has ended: ssh's exit status and stderr
    /// in a user's terms, or `None` when they say nothing more than "closed".
    pub fn failure(&mut self) -> Option<RemoteError> {
        if !self.stdout_closed {
            return None;
        }
        self.stdin = None;
        let status = wait_within(&mut self.child, EXIT_GRACE)?;
        let stderr = self.stderr_text();
        diagnose(
            &self.target,
            status.code(),
            status.signal(),
            self.answered,
            &stderr,
        )
    }

    /// The call ran out of time after `after` with ssh still running: ssh is ended, and the
    /// error says whether anything had come back and what ssh wrote.
    pub fn give_up(&mut self, after: Duration) -> RemoteError {
        self.stdin = None;
        let _ = self.child.kill();
        let _ = self.child.wait();
        RemoteError::NoReply {
            host: self.target.label.clone(),
            after,
            answered: self.answered,
            detail: summary(&self.stderr_text()),
        }
    }

    /// The stderr collected so far, after giving it a moment to reach its end.
    fn stderr_text(&self) -> String {
        let deadline = Instant::now() + STDERR_GRACE;
        loop {
            let tail = self.stderr.lock().unwrap_or_else(|e| e.into_inner());
            if tail.done || Instant::now() >= deadline {
                return String::from_utf8_lossy(&tail.bytes).into_owned();
            }
            drop(tail);
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for SshSession {
    fn drop(&mut self) {
        self.stdin = None;
        if wait_within(&mut self.child, CLOSE_GRACE).is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The child's exit status if it exits within `grace` (polling, from 1 ms up to 20 ms).
fn wait_within(child: &mut Child, grace: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + grace;
    let mut pause = Duration::from_millis(1);
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if Instant::now() < deadline => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(20));
            }
            _ => return None,
        }
    }
}

/// Reads stderr to its end, keeping only the last [`STDERR_TAIL`] bytes.
fn drain_stderr(mut stderr: impl Read, sink: &Mutex<Tail>) {
    let mut buf = [0u8; 4096];
    loop {
        let n = match stderr.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let mut tail = sink.lock().unwrap_or_else(|e| e.into_inner());
        tail.bytes.extend_from_slice(&buf[..n]);
        let excess = tail.bytes.len().saturating_sub(STDERR_TAIL);
        tail.bytes.drain(..excess);
    }
    sink.lock().unwrap_or_else(|e| e.into_inner()).done = true;
}
