//! One service's notify state: written by the receiver thread, read by the owner's checks, the
//! detail view and the start step.
//!
//! Why a shared slot and not a message per datagram: a service pinging `WATCHDOG=1` a hundred
//! times a second would otherwise cost the owner a hundred wake-ups a second, for a fact (the
//! time of the last ping) that a check needs once per interval. So a ping only updates the slot
//! under its own short lock (no allocation: a known sender is recognised by its pidfd, not by
//! reading `/proc`); the owner is woken ([`Slot::take_news`]) only when something it must act
//! on changed: the first sign of life, `WATCHDOG=trigger`, a new `STATUS=` text, `MAINPID=`,
//! `STOPPING=1`, `ERRNO=`, `WATCHDOG_USEC=`, or a refused or malformed datagram (for the
//! counters), and then at most once per turn of the owner.
//!
//! What a check makes of the slot is a [`Reading`](crate::heartbeat::Reading) like a heartbeat
//! file's, judged by the one judge ([`crate::probe`]): the last `READY=1`/`WATCHDOG=1` is a
//! beat written when it was received (on the boot clock, with the wall clock's step then),
//! naming the service's main process; `WATCHDOG=trigger` is a beat whose status is not
//! `running`; nothing heard since the socket was made (or since the last start) reads as no
//! heartbeat.
//!
//! Here: the slot's state and a start's effect on it. A datagram's way in is `receive.rs`,
//! recognising its sender `senders.rs`, what the owner reads `reading.rs`.

mod reading;
mod receive;
mod senders;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use super::sender::Credentials;
use crate::clock::Point;
use crate::session::Session;

/// Datagrams kept while a start is under way, for the new session to claim.
const MAX_PARKED: usize = 8;
/// One log line per kind of trouble per service in this period; the rest are counted.
const LOG_EVERY: Duration = Duration::from_secs(60);
/// The longest `WATCHDOG_USEC=` or `EXTEND_TIMEOUT_USEC=` taken (ten years).
const MAX_USEC: u64 = 315_360_000 * 1_000_000;

/// Wakes the owner for a slot with news; false when it could not be told (it is told later).
pub type Waker = Arc<dyn Fn(Arc<Slot>) -> bool + Send + Sync>;

/// Datagrams of one service by outcome, since the daemon started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub accepted: u64,
    /// Refused: not sent by a process of the service.
    pub dropped: u64,
    pub malformed: u64,
}

/// What the owner is to do about a slot's news.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct News {
    /// The `STATUS=` text changed (to this).
    pub status: Option<Option<String>>,
    /// Something a check should look at now.
    pub check: bool,
}

#[derive(Debug, Clone, Copy)]
struct Heard {
    at: Point,
    wall_us: i64,
    /// The process the service is (see [`Inner::authenticate`]).
    pid: i32,
}

/// One log line now and then, and how many were held back.
#[derive(Debug, Default)]
struct Limiter {
    last: Option<std::time::Instant>,
    held: u64,
}

impl Limiter {
    /// `Some(lines held back since the last one)` when a line may be written now.
    fn allow(&mut self) -> Option<u64> {
        if self.last.is_some_and(|t| t.elapsed() < LOG_EVERY) {
            self.held += 1;
            return None;
        }
        self.last = Some(std::time::Instant::now());
        Some(std::mem::take(&mut self.held))
    }
}

/// A sender recognised once, held by a pidfd: while it has not exited, its PID is still it
/// (see `senders`).
#[derive(Debug)]
struct KnownSender {
    pid: i32,
    fd: std::os::fd::OwnedFd,
    speaks_for: i32,
}

#[derive(Debug, Default)]
struct Inner {
    uid: Option<u32>,
    session: Option<Session>,
    mainpid: Option<(i32, i64)>,
    known: Option<KnownSender>,
    /// When the socket was made, or the last start began: nothing heard before counts.
    since: Point,
    beat: Option<Heard>,
    before: Option<Point>,
    beats: u64,
    ready: bool,
    trigger: Option<Heard>,
    stopping: bool,
    errno: Option<i32>,
    status: Option<String>,
    status_news: bool,
    check_news: bool,
    watchdog_usec: Option<Duration>,
    /// `EXTEND_TIMEOUT_USEC=`: no timeout before this (boot clock µs).
    extend_until: Option<i64>,
    /// A start is under way: refused datagrams wait for its session.
    starting: bool,
    parked: Vec<(Credentials, Vec<u8>)>,
    /// Why the socket could not be made, if it could not.
    broken: Option<String>,
    refusals: Limiter,
    malformed_log: Limiter,
    fdstore_log: Limiter,
}

/// One service's notify state (see the module note).
pub struct Slot {
    key: String,
    path: PathBuf,
    inner: Mutex<Inner>,
    /// The owner has been woken for news it has not taken yet.
    pending: AtomicBool,
    ready: tokio::sync::Notify,
    waker: Waker,
    accepted: AtomicU64,
    dropped: AtomicU64,
    malformed: AtomicU64,
}

impl std::fmt::Debug for Slot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Slot {{ key: {:?}, path: {:?} }}", self.key, self.path)
    }
}

impl Slot {
    pub fn new(key: &str, path: PathBuf, uid: Option<u32>, waker: Waker) -> Slot {
        Slot {
            key: key.to_owned(),
            path,
            inner: Mutex::new(Inner {
                uid,
                since: Point::now(),
                ..Inner::default()
            }),
            pending: AtomicBool::new(false),
            ready: tokio::sync::Notify::new(),
            waker,
            accepted: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            malformed: AtomicU64::new(0),
        }
    }

    pub fn key(&self) -> &str {
        &self.key
    }

    /// The socket's path, as the service gets it in `NOTIFY_SOCKET`.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Every writer leaves the state consistent between statements.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn counts(&self) -> Counts {
        Counts {
            accepted: self.accepted.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
            malformed: self.malformed.load(Ordering::Relaxed),
        }
    }

    /// The socket could not be made (`Some`), or was made after all (`None`).
    pub fn set_broken(&self, why: Option<String>) {
        self.lock().broken = why;
    }

    /// The service's user (senders must be it), after a reload.
    pub fn set_uid(&self, uid: Option<u32>) {
        let mut inner = self.lock();
        if inner.uid != uid {
            inner.uid = uid;
            inner.known = None;
        }
    }

    /// The session watchdogd last started for the service, as the owner remembers it; a
    /// session a start told the slot of itself is newer and stays.
    pub fn adopt_session(&self, session: Option<Session>) {
        let mut inner = self.lock();
        if inner.session.is_none() && session.is_some() {
            inner.session = session;
            inner.known = None;
        }
    }

    fn wake(self: &Arc<Self>) {
        if !self.pending.swap(true, Ordering::AcqRel) && !(self.waker)(self.clone()) {
            self.pending.store(false, Ordering::Release);
        }
    }

    /// What the owner is to act on since it last asked.
    pub fn take_news(&self) -> News {
        self.pending.store(false, Ordering::Release);
        let mut inner = self.lock();
        let status = std::mem::take(&mut inner.status_news).then(|| inner.status.clone());
        News {
            status,
            check: std::mem::take(&mut inner.check_news),
        }
    }

    /// A start is about to run: what was heard belongs to the process it replaces. Datagrams
    /// refused until [`Slot::started`] are kept for the new session to claim.
    pub fn begin_start(self: &Arc<Self>) {
        let mut inner = self.lock();
        let uid = inner.uid;
        let session = inner.session;
        let broken = inner.broken.take();
        let logs = (
            std::mem::take(&mut inner.refusals),
            std::mem::take(&mut inner.malformed_log),
            std::mem::take(&mut inner.fdstore_log),
        );
        let had_status = inner.status.is_some();
        *inner = Inner {
            uid,
            session,
            since: Point::now(),
            starting: true,
            broken,
            status_news: had_status,
            refusals: logs.0,
            malformed_log: logs.1,
            fdstore_log: logs.2,
            ..Inner::default()
        };
        drop(inner);
        if had_status {
            self.wake();
        }
    }

    /// The start spawned `session` (`None`: it failed): the datagrams kept meanwhile are judged
    /// now.
    pub fn started(self: &Arc<Self>, session: Option<Session>) {
        let parked = {
            let mut inner = self.lock();
            if session.is_some() {
                inner.session = session;
                inner.known = None;
            }
            inner.starting = false;
            std::mem::take(&mut inner.parked)
        };
        for (creds, bytes) in parked {
            self.receive(creds, &bytes, false);
        }
    }

    /// Whether `READY=1` came since the last start.
    pub fn is_ready(&self) -> bool {
        self.lock().ready
    }

    /// Resolves at the next `READY=1` (create it before looking at [`Slot::is_ready`]).
    pub fn ready_signal(&self) -> tokio::sync::futures::Notified<'_> {
        self.ready.notified()
    }

    /// `EXTEND_TIMEOUT_USEC=`'s deadline, on the boot clock (µs), if one was asked for.
    pub fn extended_until(&self) -> Option<i64> {
        self.lock().extend_until
    }
}

fn held_back(held: u64) -> String {
    if held == 0 {
        String::new()
    } else {
        format!(" ({held} more like it in the last minute, not logged)")
    }
}

#[cfg(test)]
mod tests;
