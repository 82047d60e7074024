//! systemd's notify protocol, spoken to the services the daemon starts: heartbeats without
//! files. (Not to be confused with [`crate::notify`], the daemon's own notifications to
//! systemd.)
//!
//! A service with `"heartbeat": "notify"` (or `"both"`) gets a datagram socket of its own
//! ([`socket`]: root's folder `notify_dir`, the socket owned by the service's user) and is
//! started with `NOTIFY_SOCKET` pointing at it, `WATCHDOG_USEC` from its `timeout_seconds` and
//! `WATCHDOG_PID` (see [`crate::pipeline`]'s start step). One receiver thread for all sockets
//! (`receiver`) parses each datagram ([`message`]), decides whose it is from the kernel's
//! credentials ([`sender`]) and updates the service's [`slot::Slot`]; the owner reads the slot at each check and judges
//! it with the same judge as a heartbeat file ([`judge`]), and is woken only for what it must
//! act on. Unlike a heartbeat file, a socket is gone when the daemon is: it is made again at
//! the same path when the daemon starts, and a service that sends each message afresh (as
//! libsystemd, the `sd-notify` crate, go-systemd and `systemd-notify` do) carries on.

pub mod message;
mod receiver;
pub mod sender;
pub mod slot;
pub mod socket;

use std::collections::HashMap;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use crate::clock::Now;
use crate::config::{Config, HeartbeatSource, ProcessConfig};
use crate::health::Verdict;
use crate::heartbeat::Reading;
use crate::probe::Known;
pub use slot::{Counts, News, Slot, Waker};

/// One service's socket: its slot, and its token with the receiver while it has a socket.
struct Entry {
    slot: Arc<Slot>,
    token: Option<u64>,
    owner: Option<u32>,
}

struct Shared {
    dir: PathBuf,
    dir_fd: Mutex<Option<OwnedFd>>,
    receiver: Mutex<Option<receiver::Receiver>>,
    entries: Mutex<HashMap<String, Entry>>,
    waker: Waker,
}

/// Every notify socket of the daemon, by service key; cheap to clone.
#[derive(Clone)]
pub struct Registry {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Registry {{ dir: {:?} }}", self.shared.dir)
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Registry {
    /// Sockets in `dir`; `waker` tells the owner of a slot's news.
    pub fn new(dir: PathBuf, waker: Waker) -> Registry {
        Registry {
            shared: Arc::new(Shared {
                dir,
                dir_fd: Mutex::new(None),
                receiver: Mutex::new(None),
                entries: Mutex::new(HashMap::new()),
                waker,
            }),
        }
    }

    /// The folder the sockets are in.
    pub fn dir(&self) -> &Path {
        &self.shared.dir
    }

    /// Makes a socket for every service of `config` that speaks notify (keeping those that
    /// exist, retrying those that failed), and closes the sockets of the others. Failures are
    /// logged and shown in the service's checks; they stop nothing else.
    pub fn sync(&self, config: &Config) {
        let wanted: Vec<&Arc<ProcessConfig>> = config
            .processes
            .values()
            .filter(|p| p.heartbeat.uses_notify())
            .collect();
        let mut entries = lock(&self.shared.entries);
        let mut dir_fd = lock(&self.shared.dir_fd);
        let mut receiver = lock(&self.shared.receiver);
        if !wanted.is_empty() && dir_fd.is_none() {
            match socket::open_dir(&self.shared.dir) {
                Ok(fd) => *dir_fd = Some(fd),
                Err(e) => tracing::error!(target: "notify", "notify sockets unavailable: {e}"),
            }
        }
        if !wanted.is_empty() && receiver.is_none() {
            match receiver::Receiver::start() {
                Ok(r) => *receiver = Some(r),
                Err(e) => {
                    tracing::error!(target: "notify", "cannot start the notify receiver: {e}")
                }
            }
        }
        entries.retain(|key, entry| {
            let keep = wanted.iter().any(|p| p.key == *key);
            if !keep {
                if let (Some(token), Some(r)) = (entry.token, receiver.as_ref()) {
                    r.unwatch(token);
                }
                if let Some(fd) = dir_fd.as_ref() {
                    socket::unbind(fd, key);
                }
            }
            keep
        });
        for process in wanted {
            let owner = process.user.as_deref().and_then(crate::process::user_uid);
            let entry = entries.entry(process.key.clone()).or_insert_with(|| Entry {
                slot: Arc::new(Slot::new(
                    &process.key,
                    socket::path_of(&self.shared.dir, &process.key),
                    owner,
                    self.shared.waker.clone(),
                )),
                token: None,
                owner,
            });
            entry.slot.set_uid(owner);
            if entry.token.is_some() && entry.owner == owner {
                continue;
            }
            // New, failed before, or for another user now: made (again).
            if let (Some(token), Some(r)) = (entry.token.take(), receiver.as_ref()) {
                r.unwatch(token);
            }
            entry.owner = owner;
            let (Some(fd), Some(r)) = (dir_fd.as_ref(), receiver.as_ref()) else {
                entry.slot.set_broken(Some(format!(
                    "its folder {} or the receiver could not be made (see the log)",
                    self.shared.dir.display()
                )));
                continue;
            };
            let made = socket::bind(fd, &self.shared.dir, &process.key, owner)
                .map_err(|e| e.to_string())
                .and_then(|sock| {
                    r.watch(sock, entry.slot.clone())
                        .map_err(|e| format!("cannot watch it: {e}"))
                });
            match made {
                Ok(token) => {
                    entry.slot.set_broken(None);
                    entry.token = Some(token);
                    tracing::info!(target: "notify", "{}: notify socket {}", process.key, entry.slot.path().display());
                }
                Err(e) => {
                    tracing::error!(target: "notify", "{}: {e}", process.key);
                    entry.slot.set_broken(Some(e));
                }
            }
        }
    }

    /// The slot of service `key`, when it speaks notify.
    pub fn slot(&self, key: &str) -> Option<Arc<Slot>> {
        lock(&self.shared.entries).get(key).map(|e| e.slot.clone())
    }

    /// Stops the receiver (shutdown). The socket files stay, for the next daemon to make
    /// again.
    pub fn close(&self) {
        if let Some(r) = lock(&self.shared.receiver).take() {
            r.stop();
        }
        for entry in lock(&self.shared.entries).values_mut() {
            entry.token = None;
        }
    }
}

/// The one judge ([`crate::probe::judge_within`]) on what `slot` holds, with what is known of
/// the service.
pub fn judge(slot: &Slot, cfg: &ProcessConfig, known: &Known, now: &Now) -> Verdict {
    let (reading, timeout) = slot.reading(cfg.timeout);
    crate::probe::judge_within(&reading, timeout, known, now)
}

/// A `"both"` service's verdict from its file's and its notify socket's: the file's when it is
/// unhealthy, else the socket's (both must be fresh).
pub fn both(file: Verdict, notify: Verdict) -> Verdict {
    let (mut v, from) = if !file.health.is_healthy() {
        (file, "heartbeat file")
    } else {
        (notify, "notify")
    };
    v.detail = format!("{from}: {}", v.detail);
    v
}

/// The verdict on a service by its configured source(s): `file` is what its heartbeat file
/// read as (`None` for a notify-only service).
pub fn verdict(
    slot: Option<&Slot>,
    file: Option<Verdict>,
    cfg: &ProcessConfig,
    known: &Known,
    now: &Now,
) -> Verdict {
    let notify = || match slot {
        Some(slot) => judge(slot, cfg, known, now),
        None => crate::probe::judge_within(
            &Reading::Corrupt("no notify socket was made for it".into()),
            cfg.timeout,
            known,
            now,
        ),
    };
    match (cfg.heartbeat, file) {
        (HeartbeatSource::File, Some(file)) => file,
        (HeartbeatSource::Both, Some(file)) => both(file, notify()),
        _ => notify(),
    }
}

/// `WATCHDOG_USEC` for a service: its timeout in µs.
pub fn watchdog_usec(timeout: Duration) -> String {
    timeout.as_micros().max(1).to_string()
}
