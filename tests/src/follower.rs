//! A live `watchdogctl events --follow --json`, read without ever blocking the test: its lines
//! arrive through a channel from a reader thread, every wait has a deadline, and its stderr is
//! kept so a follower that went away explains itself in the failure. Killed by PID when dropped.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Instant;

use serde_json::Value;

use crate::bins;

pub struct Follower {
    child: Child,
    lines: mpsc::Receiver<String>,
    stderr: Option<JoinHandle<String>>,
}

impl Follower {
    /// Starts a follower of the daemon at `socket`.
    pub fn start(socket: &Path) -> Follower {
        let mut child = Command::new(&bins().watchdogctl)
            .arg("--socket")
            .arg(socket)
            .args(["events", "--follow", "--json"])
            .env_remove("WATCHDOG_HOST")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start a follower");
        let out = child.stdout.take().expect("the follower's stdout");
        let mut err = child.stderr.take().expect("the follower's stderr");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = err.read_to_string(&mut text);
            text
        });
        Follower {
            child,
            lines,
            stderr: Some(stderr),
        }
    }

    /// The lines that arrived so far, without waiting.
    pub fn drain(&self) -> Vec<String> {
        self.lines.try_iter().collect()
    }

    /// Events until one satisfies `last` (included). `None` at the deadline; panics, with what
    /// it printed on stderr, if the follower went away.
    pub fn until(
        &mut self,
        deadline: Instant,
        last: impl Fn(&Value) -> bool,
    ) -> Option<Vec<Value>> {
        let mut out = Vec::new();
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let v: Value = serde_json::from_str(&line)
                        .unwrap_or_else(|e| panic!("a follower line is not JSON ({e}): {line}"));
                    let done = last(&v);
                    out.push(v);
                    if done {
                        return Some(out);
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => break,
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    let status = self.child.wait().ok();
                    let stderr = self
                        .stderr
                        .take()
                        .and_then(|h| h.join().ok())
                        .unwrap_or_default();
                    panic!(
                        "the follower went away ({status:?}) after {out:?}; its stderr: {stderr}"
                    );
                }
            }
        }
        None
    }
}

impl Drop for Follower {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
