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
//! What a check makes of the slot is a [`Reading`] like a heartbeat file's, judged by the one
//! judge ([`crate::probe`]): the last `READY=1`/`WATCHDOG=1` is a beat written when it was
//! received (on the boot clock, with the wall clock's step then), naming the service's main
//! process; `WATCHDOG=trigger` is a beat whose status is not `running`; nothing heard since
//! the socket was made (or since the last start) reads as no heartbeat.

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use protocol::Heartbeat;

use super::message::{self, Message, Watchdog};
use super::sender::{self, Accepted, Credentials, Leader, Members, SessionFacts};
use crate::clock::{Now, Point};
use crate::heartbeat::{Beat, Reading, Seen};
use crate::proc_facts::{self, Liveness};
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

/// A sender recognised once, held by a pidfd: while it has not exited, its PID is still it.
#[derive(Debug)]
struct KnownSender {
    pid: i32,
    fd: OwnedFd,
    speaks_for: i32,
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

    /// One datagram from `creds` (`truncated`: it did not fit the buffer).
    pub fn receive(self: &Arc<Self>, creds: Credentials, bytes: &[u8], truncated: bool) {
        let parsed = if truncated {
            message::Parsed {
                message: Message::default(),
                problem: Some(message::Malformed::Truncated),
            }
        } else {
            message::parse(bytes)
        };
        let mut inner = self.lock();
        let mut wake = false;
        if let Some(problem) = parsed.problem {
            self.malformed.fetch_add(1, Ordering::Relaxed);
            if let Some(held) = inner.malformed_log.allow() {
                tracing::warn!(target: "notify", "{}: ignored {problem} from pid {}{}", self.key, creds.pid, held_back(held));
            }
            inner.check_news = true;
            wake = true;
        }
        let m = parsed.message;
        if m != Message::default() {
            match inner.authenticate(creds) {
                Ok(speaks_for) => {
                    self.accepted.fetch_add(1, Ordering::Relaxed);
                    wake |= self.apply(&mut inner, &m, creds.pid, speaks_for);
                }
                Err(_) if inner.starting && inner.parked.len() < MAX_PARKED => {
                    inner.parked.push((creds, bytes.to_vec()));
                }
                Err(why) => {
                    self.dropped.fetch_add(1, Ordering::Relaxed);
                    if let Some(held) = inner.refusals.allow() {
                        tracing::warn!(target: "notify", "{}: dropped a message: {why}{}", self.key, held_back(held));
                    }
                    inner.check_news = true;
                    wake = true;
                }
            }
        }
        drop(inner);
        if m.ready {
            self.ready.notify_waiters();
        }
        if wake {
            self.wake();
        }
    }

    /// Applies an accepted message; whether the owner is to hear of it.
    fn apply(&self, inner: &mut Inner, m: &Message<'_>, sender: i32, speaks_for: i32) -> bool {
        let now = Point::now();
        let heard = Heard {
            at: now,
            wall_us: protocol::time::now_micros(),
            pid: speaks_for,
        };
        // What a check should look at now; a new STATUS= text only needs showing.
        let mut check = false;
        if m.is_beat() {
            check |= inner.beat.is_none();
            inner.before = inner.beat.map(|b| b.at);
            inner.beat = Some(heard);
            inner.beats += 1;
        }
        if m.ready {
            check |= !inner.ready;
            inner.ready = true;
        }
        if m.watchdog == Some(Watchdog::Trigger) {
            inner.trigger = Some(heard);
            check = true;
        }
        let mut status = false;
        if let Some(text) = m.status
            && inner.status.as_deref() != Some(text)
        {
            // Reuses the old text's room: a service cycling through short texts allocates once.
            let kept = inner.status.get_or_insert_with(String::new);
            kept.clear();
            kept.push_str(text);
            inner.status_news = true;
            status = true;
        }
        if let Some(target) = m.mainpid {
            check |= self.take_mainpid(inner, target as i32, sender);
        }
        check |= m.stopping && !std::mem::replace(&mut inner.stopping, true);
        if let Some(e) = m.errno {
            check |= inner.errno.replace(e) != Some(e);
        }
        if let Some(us) = m.watchdog_usec {
            let d = Duration::from_micros(us.min(MAX_USEC));
            check |= inner.watchdog_usec.replace(d) != Some(d);
        }
        if let Some(us) = m.extend_timeout_usec {
            let until = now.boot_us.saturating_add(us.min(MAX_USEC) as i64);
            inner.extend_until = Some(inner.extend_until.map_or(until, |u| u.max(until)));
        }
        if m.fdstore
            && let Some(held) = inner.fdstore_log.allow()
        {
            tracing::warn!(target: "notify", "{}: FDSTORE=1 refused: watchdogd keeps no descriptors for services; the descriptors sent were closed{}", self.key, held_back(held));
        }
        inner.check_news |= check;
        check || status
    }

    /// `MAINPID=target` from an accepted sender: taken when [`sender::may_name`] allows.
    fn take_mainpid(&self, inner: &mut Inner, target: i32, sender: i32) -> bool {
        let found = proc_facts::membership(target);
        let owner = inner.uid.and_then(|_| proc_facts::owner_uid(target));
        let members = inner.members();
        match sender::may_name(target, found, owner, sender, &members) {
            Ok(()) => {
                let ticks = found.map_or(0, |f| f.start_ticks);
                let changed = inner.mainpid != Some((target, ticks));
                inner.mainpid = Some((target, ticks));
                inner.known = None;
                if let Some(beat) = &mut inner.beat {
                    beat.pid = target;
                }
                changed
            }
            Err(why) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
                if let Some(held) = inner.refusals.allow() {
                    tracing::warn!(target: "notify", "{}: {why}; ignored{}", self.key, held_back(held));
                }
                true
            }
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

    /// What a check judges (see the module note), and the timeout to judge it by: `timeout`,
    /// or the service's `WATCHDOG_USEC=`, stretched to an `EXTEND_TIMEOUT_USEC=` deadline.
    pub fn reading(&self, timeout: Duration) -> (Reading, Duration) {
        let inner = self.lock();
        if let Some(why) = &inner.broken {
            return (
                Reading::Corrupt(format!("notify socket unavailable: {why}")),
                timeout,
            );
        }
        let (heard, status, before) = match (inner.trigger, inner.beat) {
            (Some(t), _) => (t, "WATCHDOG=trigger", None),
            (None, Some(b)) => (b, "running", inner.before),
            (None, None) => {
                let ago = (Point::now().boot_us - inner.since.boot_us) as f64 / 1e6;
                return (
                    Reading::Corrupt(format!(
                        "no READY=1 or WATCHDOG=1 on the notify socket {} in the {ago:.1}s since it was made or the service was last started",
                        self.path.display()
                    )),
                    timeout,
                );
            }
        };
        let mut timeout = inner.watchdog_usec.unwrap_or(timeout);
        if let Some(until) = inner.extend_until {
            let left = Duration::from_micros(until.saturating_sub(heard.at.boot_us).max(0) as u64);
            timeout = timeout.max(left);
        }
        let beat = Beat {
            heartbeat: Heartbeat {
                process_key: self.key.clone(),
                pid: i64::from(heard.pid),
                timestamp_us: heard.wall_us,
                status: status.to_owned(),
                iteration: Some(inner.beats),
            },
            modified_us: heard.wall_us,
            owner_uid: inner.uid.unwrap_or_else(crate::guard::daemon_uid),
            stamp: Default::default(),
            seen: Seen {
                first: heard.at,
                before,
                last: Point::now(),
            },
            via_link: false,
        };
        (Reading::Beat(beat), timeout)
    }

    /// The notify side of the detail view: where the socket is and what it counted, and what
    /// the service said last.
    pub fn describe(&self, now: &Now) -> (String, String) {
        let c = self.counts();
        let inner = self.lock();
        let source = format!(
            "notify socket {} (messages: {} accepted, {} dropped as not the service's, {} malformed)",
            self.path.display(),
            c.accepted,
            c.dropped,
            c.malformed
        );
        let ago = |p: Point| (now.boot_us - p.boot_us) as f64 / 1e6;
        let mut said = Vec::new();
        if let Some(why) = &inner.broken {
            said.push(format!("socket unavailable: {why}"));
        }
        said.push(format!(
            "READY={}",
            if inner.ready { "1" } else { "not yet" }
        ));
        match inner.beat {
            Some(b) => said.push(format!(
                "last WATCHDOG=1/READY=1 {:.1}s ago for pid {} ({} since start)",
                ago(b.at),
                b.pid,
                inner.beats
            )),
            None => said.push("no WATCHDOG=1 since start".into()),
        }
        if let Some(t) = inner.trigger {
            said.push(format!("WATCHDOG=trigger {:.1}s ago", ago(t.at)));
        }
        if let Some((pid, _)) = inner.mainpid {
            said.push(format!("MAINPID={pid}"));
        }
        if let Some(text) = &inner.status {
            said.push(format!("STATUS={text:?}"));
        }
        if let Some(d) = inner.watchdog_usec {
            said.push(format!("WATCHDOG_USEC={}", d.as_micros()));
        }
        if inner.stopping {
            said.push("STOPPING=1".into());
        }
        if let Some(e) = inner.errno {
            said.push(format!("ERRNO={e}"));
        }
        (source, said.join("; "))
    }
}

impl Inner {
    /// Who the service is now: its user, its session (with its leader looked at), MAINPID.
    fn members(&self) -> Members {
        let session = self.session.map(|s| {
            let started_us = s.at_us_now(&Now::read());
            let leader = match proc_facts::identify(s.pid, started_us, s.ticks).liveness {
                Liveness::Running => Leader::Ours,
                Liveness::Gone => Leader::Gone,
                Liveness::Reused => Leader::Stranger,
            };
            SessionFacts {
                sid: s.pid,
                started_us,
                leader,
            }
        });
        Members {
            uid: self.uid,
            session,
            mainpid: self.mainpid,
        }
    }

    /// Whether `creds` speaks for the service ([`sender::authenticate`]), and the process the
    /// service is then: its `MAINPID`, else the session leader watchdogd started while it
    /// lives, else the sender. A sender recognised before and still alive (its pidfd says so)
    /// is recognised again without reading `/proc`.
    fn authenticate(&mut self, creds: Credentials) -> Result<i32, sender::Refused> {
        if let Some(want) = self.uid
            && creds.uid != want
        {
            return Err(sender::Refused::WrongUser {
                uid: creds.uid,
                want,
            });
        }
        if let Some(k) = &self.known
            && k.pid == creds.pid
            && !exited(&k.fd)
        {
            return Ok(k.speaks_for);
        }
        let found = proc_facts::membership(creds.pid);
        let members = self.members();
        let accepted = sender::authenticate(creds, found, &members)?;
        let speaks_for = match (accepted, self.mainpid, members.session) {
            (Accepted::MainPid, _, _) => creds.pid,
            (_, Some((main, _)), _) => main,
            (_, None, Some(s)) if s.leader == Leader::Ours => s.sid,
            _ => creds.pid,
        };
        // Held from now on: the pidfd is opened first and the start compared after, so what
        // is held is what was judged.
        self.known = found.and_then(|f| {
            let fd = rustix::process::pidfd_open(
                rustix::process::Pid::from_raw(creds.pid)?,
                rustix::process::PidfdFlags::empty(),
            )
            .ok()?;
            let again = proc_facts::membership(creds.pid)?;
            (again.start_ticks == f.start_ticks).then_some(KnownSender {
                pid: creds.pid,
                fd,
                speaks_for,
            })
        });
        Ok(speaks_for)
    }
}

/// Whether a pidfd's process has exited (it is then readable).
fn exited(fd: &OwnedFd) -> bool {
    use rustix::event::{PollFd, PollFlags, Timespec, poll};
    let mut fds = [PollFd::new(fd, PollFlags::IN)];
    !matches!(poll(&mut fds, Some(&Timespec::default())), Ok(0))
}

fn held_back(held: u64) -> String {
    if held == 0 {
        String::new()
    } else {
        format!(" ({held} more like it in the last minute, not logged)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// This test process plays the service: its own session is the one "watchdogd started".
    fn own_session() -> Session {
        Session {
            pid: nix::unistd::getsid(None).unwrap().as_raw(),
            // Started when this process did: the process counts as one of the session's.
            at_us: proc_facts::start_time_us(std::process::id() as i32).unwrap(),
            at_step_us: 0,
            ticks: None,
        }
    }

    fn me() -> Credentials {
        Credentials {
            pid: std::process::id() as i32,
            uid: crate::guard::daemon_uid(),
        }
    }

    fn slot(uid: Option<u32>) -> Arc<Slot> {
        Arc::new(Slot::new("k", "/n/k.sock".into(), uid, Arc::new(|_| true)))
    }

    #[test]
    fn a_beat_from_the_service_reads_as_a_fresh_heartbeat() {
        let slot = slot(None);
        let (never, _) = slot.reading(Duration::from_secs(5));
        assert!(
            matches!(&never, Reading::Corrupt(why) if why.contains("no READY=1")),
            "{never:?}"
        );
        slot.adopt_session(Some(own_session()));
        slot.receive(me(), b"READY=1\nSTATUS=serving", false);
        assert_eq!(slot.counts().accepted, 1);
        assert_eq!(
            slot.take_news(),
            News {
                status: Some(Some("serving".into())),
                check: true
            }
        );
        assert!(slot.is_ready());
        let (Reading::Beat(beat), timeout) = slot.reading(Duration::from_secs(5)) else {
            panic!()
        };
        assert_eq!(timeout, Duration::from_secs(5));
        assert_eq!(beat.heartbeat.status, "running");
        assert_eq!(beat.heartbeat.iteration, Some(1));
        assert!(protocol::time::now_micros() - beat.heartbeat.timestamp_us < 5_000_000);
        // Pings are no news; the service's own timeout and a trigger are.
        slot.receive(me(), b"WATCHDOG=1", false);
        assert_eq!(slot.take_news(), News::default());
        slot.receive(me(), b"WATCHDOG_USEC=1500000", false);
        assert!(slot.take_news().check);
        let (Reading::Beat(beat), timeout) = slot.reading(Duration::from_secs(5)) else {
            panic!()
        };
        assert_eq!(
            (beat.heartbeat.iteration, timeout),
            (Some(2), Duration::from_millis(1500))
        );
        slot.receive(me(), b"WATCHDOG=trigger", false);
        let (Reading::Beat(beat), _) = slot.reading(Duration::from_secs(5)) else {
            panic!()
        };
        assert_eq!(beat.heartbeat.status, "WATCHDOG=trigger");
        assert_eq!(slot.counts().dropped, 0);
    }

    #[test]
    fn others_are_dropped_and_malformed_datagrams_counted() {
        let mine = crate::guard::daemon_uid();
        let slot = slot(Some(mine));
        slot.adopt_session(Some(own_session()));
        let stranger = Credentials {
            pid: me().pid,
            uid: mine + 1,
        };
        slot.receive(stranger, b"WATCHDOG=1", false);
        slot.receive(me(), b"\xff", false);
        slot.receive(me(), b"READY=1", true);
        assert_eq!(
            slot.counts(),
            Counts {
                accepted: 0,
                dropped: 1,
                malformed: 2
            }
        );
        assert!(slot.take_news().check, "the counters are news");
        let (reading, _) = slot.reading(Duration::from_secs(5));
        assert!(matches!(reading, Reading::Corrupt(_)), "nothing was taken");
    }

    #[test]
    fn a_start_keeps_what_comes_before_its_session_is_known() {
        let slot = slot(None);
        slot.begin_start();
        slot.receive(me(), b"READY=1", false);
        assert_eq!(slot.counts(), Counts::default(), "kept, not yet judged");
        assert!(!slot.is_ready());
        slot.started(Some(own_session()));
        assert!(slot.is_ready());
        assert_eq!(slot.counts().accepted, 1);
        // A new start forgets what the old process said.
        slot.begin_start();
        slot.started(None);
        assert!(!slot.is_ready());
        assert!(matches!(
            slot.reading(Duration::from_secs(1)).0,
            Reading::Corrupt(_)
        ));
    }
}
