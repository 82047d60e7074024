//! The reader threads: where everything that may hang on a file system runs.
//!
//! Reading a file blocks, and a file system that never answers (a hung NFS server, a FUSE
//! daemon that stopped) blocks the reading thread for good, uninterruptibly. The same holds for
//! every other look the daemon takes at a service's paths: `stat`ing a working folder, opening
//! a log, spawning a child whose setup enters a folder on that mount. So all of these run here,
//! under one rule, and a hung file system costs a bounded number of threads and hurts only the
//! services whose paths lie on it:
//!
//! - the work never runs on tokio's blocking pool: pipelines, history queries and reloads need
//!   that pool, and stuck work must not use it up;
//! - work is queued per *bucket*: the mount its path lies on ([`crate::mounts`]) and the user
//!   it is done for (a service's `user`, or none), and buckets are served round-robin; at most
//!   [`PER_MOUNT`] items of one bucket run at once, so a hung mount holds at most that many
//!   threads per user, however much work is sent its way;
//! - work on a path whose earlier work has been running for [`STUCK`], or in a bucket where
//!   [`MOUNT_STUCK`] different paths are stuck, is not started at all: it is answered at once
//!   as [`Blocked`], with a reason naming what hangs (a check then reads `unreadable`);
//! - so a service user who points its heartbeats at a file system of its own that never
//!   answers (a FUSE mount it stopped) stalls only work done for that user: the grouping by
//!   mount goes by the path as written, and a symlink can lead anywhere, but the grouping by
//!   user keeps the work of root's services and of other users in buckets of their own;
//! - the pool grows past threads that look busy ([`LOOKS_BUSY`]), up to [`MAX_THREADS`], and
//!   shrinks back to [`BASE_THREADS`] when idle; waiting work may call for [`SPARE`] threads
//!   at once.
//!
//! The owner decides what a check that does not come back means (its service is `unreadable`);
//! this room only runs work and hands back results: check results through a shared list and a
//! wake-up (one per burst, not per result), anything else through a oneshot.

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::{Notify, oneshot};

use crate::heartbeat::{self, Reading};
use crate::mounts::Mounts;
use crate::probe::{self, Job, Probe};

/// Threads kept even when idle.
const BASE_THREADS: usize = 1;
/// Threads free or soon free that waiting work may call for at once: one idle thread is
/// enough while all is quiet, but a burst behind a thread that hangs needs a second at once.
const SPARE: usize = 2;
/// Most threads, stuck ones included.
const MAX_THREADS: usize = 64;
/// Most items of one bucket running at once: what a hung mount can hold, per user.
pub const PER_MOUNT: usize = 3;
/// Running this long, an item is stuck: its path gets no more work until it returns.
pub const STUCK: Duration = Duration::from_secs(1);
/// Stuck paths in one bucket that make its whole mount count as hung (for that user).
const MOUNT_STUCK: usize = 2;
/// An item running this long no longer counts as a thread that will soon be free.
const LOOKS_BUSY: Duration = Duration::from_millis(250);
/// An idle thread above the base leaves after this long.
const IDLE_EXIT: Duration = Duration::from_secs(30);
/// Room an empty queue keeps for the next burst.
const KEEP_ROOM: usize = 1024;
/// Empty queues kept at most (one per mount and user the daemon looked into).
const MAX_IDLE_QUEUES: usize = 64;
/// How often a thread looks again at work it could not start (its bucket at the bound).
const RECHECK: Duration = Duration::from_millis(100);

/// Work that was not started because the file system it needs does not answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Blocked(pub String);

/// Work to run on a reader thread: called with `Ok(())` to do it, or with why it was not
/// started.
type Work = Box<dyn FnOnce(Result<(), Blocked>) + Send>;

// Checks are nearly every task: boxing them would cost an allocation per check.
#[allow(clippy::large_enum_variant)]
enum Task {
    Check(Job),
    Read {
        path: PathBuf,
        /// The user it is read for (the service's `user`), also the uid the file must belong
        /// to.
        owner: Option<u32>,
        /// The content read before (see [`heartbeat::read_unless_unchanged`]).
        previous: Option<Box<crate::heartbeat::Beat>>,
        reply: oneshot::Sender<Reading>,
    },
    Run {
        path: PathBuf,
        user: Option<u32>,
        work: Work,
    },
}

impl Task {
    fn path(&self) -> &Path {
        match self {
            Task::Check(job) => job.cfg.heartbeat_path.as_deref().unwrap_or(Path::new("/")),
            Task::Read { path, .. } | Task::Run { path, .. } => path,
        }
    }

    /// The user the work is done for.
    fn user(&self) -> Option<u32> {
        match self {
            Task::Check(job) => job.known.owner,
            Task::Read { owner, .. } => *owner,
            Task::Run { user, .. } => *user,
        }
    }
}

/// Where work waits and how much of it may run: its mount, and the user it is done for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Bucket {
    mount: Arc<Path>,
    user: Option<u32>,
}

/// An item in flight.
struct Busy {
    since: Instant,
    bucket: Bucket,
    /// [`path_id`] of the path it touches.
    path: u64,
}

#[derive(Default)]
struct State {
    /// Waiting work, per bucket.
    queues: HashMap<Bucket, VecDeque<Task>>,
    /// Buckets with waiting work, in the order they are served.
    order: VecDeque<Bucket>,
    queued: usize,
    mounts: Mounts,
    threads: usize,
    idle: usize,
    /// Threads waiting for work whose bucket is at its bound (woken when an item ends).
    waiting_for_bound: usize,
    busy: HashMap<u64, Busy>,
    next_id: u64,
    closed: bool,
}

impl State {
    fn push(&mut self, task: Task) {
        let bucket = Bucket {
            mount: self.mounts.of(task.path()),
            user: task.user(),
        };
        let queue = self.queues.entry(bucket.clone()).or_default();
        if queue.is_empty() {
            self.order.push_back(bucket);
        }
        queue.push_back(task);
        self.queued += 1;
    }

    /// Why work on `path` (in `bucket`) must not start now, if it must not.
    fn blocked(&self, bucket: &Bucket, path: &Path) -> Option<Blocked> {
        let mine = path_id(path);
        let mut stuck_paths: Vec<u64> = Vec::new();
        for b in self.busy.values() {
            if b.bucket != *bucket || b.since.elapsed() < STUCK {
                continue;
            }
            if b.path == mine {
                return Some(Blocked(format!(
                    "not read: an earlier look at {} has not returned for {:.1}s (is its file system hung?)",
                    path.display(),
                    b.since.elapsed().as_secs_f64()
                )));
            }
            if !stuck_paths.contains(&b.path) {
                stuck_paths.push(b.path);
            }
        }
        (stuck_paths.len() >= MOUNT_STUCK).then(|| {
            Blocked(format!(
                "not read: {} looks into the file system mounted on {} have not returned (is it hung?)",
                stuck_paths.len(),
                bucket.mount.display()
            ))
        })
    }

    /// Items of `bucket` running now, and whether any of them is stuck.
    fn running_in(&self, bucket: &Bucket) -> (usize, bool) {
        self.busy
            .values()
            .filter(|b| b.bucket == *bucket)
            .fold((0, false), |(n, stuck), b| {
                (n + 1, stuck || b.since.elapsed() >= STUCK)
            })
    }

    /// The next task a thread may start, and the tasks answered as blocked on the way.
    fn pop(&mut self, refused: &mut Vec<(Task, Blocked)>) -> Option<(Task, Bucket)> {
        for _ in 0..self.order.len() {
            let mount = self.order.pop_front()?;
            let (running, stuck) = self.running_in(&mount);
            let mut picked = None;
            // Blocked tasks at the front are answered; the first runnable one runs, unless the
            // mount is at its bound.
            while let Some(front) = self.queues.get(&mount).and_then(|q| q.front()) {
                let why = if stuck {
                    self.blocked(&mount, front.path())
                } else {
                    None
                };
                if why.is_none() && running >= PER_MOUNT {
                    break;
                }
                let Some(task) = self.queues.get_mut(&mount).and_then(VecDeque::pop_front) else {
                    break;
                };
                self.queued -= 1;
                match why {
                    Some(why) => refused.push((task, why)),
                    None => {
                        picked = Some(task);
                        break;
                    }
                }
            }
            match self.queues.get_mut(&mount) {
                Some(q) if !q.is_empty() => self.order.push_back(mount.clone()),
                // An empty queue is kept for the next burst (no growing it again from
                // nothing every interval), with room for about one slot's batch.
                Some(q) => {
                    if q.capacity() > KEEP_ROOM {
                        q.shrink_to(KEEP_ROOM);
                    }
                    if self.queues.len() > MAX_IDLE_QUEUES {
                        self.queues.retain(|_, q| !q.is_empty());
                    }
                }
                None => {}
            }
            if let Some(task) = picked {
                return Some((task, mount));
            }
        }
        None
    }
}

/// A path's identity among the items in flight (its hash: no copy of the path is kept).
fn path_id(path: &Path) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    path.hash(&mut h);
    h.finish()
}

struct Inner {
    state: Mutex<State>,
    work: Condvar,
    results: Mutex<Vec<Probe>>,
    /// Results were delivered since the owner was last woken.
    unannounced: AtomicBool,
    ready: Notify,
}

/// Results waiting that wake the owner even while the threads still have work.
const ANNOUNCE_AT: usize = 256;

/// A handle on the reader threads; cheap to clone.
#[derive(Clone)]
pub struct Readers {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Readers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (threads, stuck) = self.threads();
        write!(f, "Readers {{ threads: {threads}, stuck: {stuck} }}")
    }
}

impl Default for Readers {
    fn default() -> Self {
        Self::new()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A reader thread panicking mid-item cannot leave the queues inconsistent (it only pops).
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Readers {
    pub fn new() -> Readers {
        Readers {
            inner: Arc::new(Inner {
                state: Mutex::new(State::default()),
                work: Condvar::new(),
                results: Mutex::new(Vec::new()),
                unannounced: AtomicBool::new(false),
                ready: Notify::new(),
            }),
        }
    }

    fn submit(&self, tasks: impl IntoIterator<Item = Task>) {
        let mut st = lock(&self.inner.state);
        for task in tasks {
            st.push(task);
        }
        self.grow(&mut st);
        drop(st);
        self.inner.work.notify_all();
    }

    /// Queues checks; their results come through [`Readers::take_results`].
    pub fn check(&self, jobs: impl IntoIterator<Item = Job>) {
        self.submit(jobs.into_iter().map(Task::Check));
    }

    /// Reads one heartbeat file (owned by `owner`, if given; `previous`: what a check last
    /// read there); the caller bounds the wait.
    pub fn read(
        &self,
        path: PathBuf,
        owner: Option<u32>,
        previous: Option<crate::heartbeat::Beat>,
    ) -> oneshot::Receiver<Reading> {
        let (reply, answer) = oneshot::channel();
        self.submit([Task::Read {
            path,
            owner,
            previous: previous.map(Box::new),
            reply,
        }]);
        answer
    }

    /// [`Readers::read`] with a bound: a read that does not return in time, or is not started
    /// because its file system hangs, reads as unreadable, with a reason that says so.
    pub async fn read_within(
        &self,
        path: PathBuf,
        owner: Option<u32>,
        previous: Option<crate::heartbeat::Beat>,
        within: Duration,
    ) -> Reading {
        match tokio::time::timeout(within, self.read(path, owner, previous)).await {
            Ok(Ok(reading)) => reading,
            Ok(Err(_)) => Reading::Unreadable("the heartbeat reader stopped".into()),
            Err(_) => Reading::Unreadable(format!(
                "reading the heartbeat did not return within {:.1}s (is its file system hung?)",
                within.as_secs_f64()
            )),
        }
    }

    /// Runs `f`, which touches the file system at `path` (a folder to enter, a file to open)
    /// for `user` (a service's `user`, if any), on a reader thread; `Err` when it was not
    /// started because that file system hangs. The caller bounds the wait.
    pub async fn run<T: Send + 'static>(
        &self,
        path: &Path,
        user: Option<u32>,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, Blocked> {
        let (tx, rx) = oneshot::channel();
        self.submit_work(path, user, move |go| {
            let _ = tx.send(go.map(|()| f()));
        });
        rx.await
            .unwrap_or_else(|_| Err(Blocked("the reader threads stopped".into())))
    }

    /// Queues `work`, which touches the file system at `path`, now: it is called on a reader
    /// thread with `Ok(())` to do its job, or with why it was not started.
    pub fn submit_work(
        &self,
        path: &Path,
        user: Option<u32>,
        work: impl FnOnce(Result<(), Blocked>) + Send + 'static,
    ) {
        self.submit([Task::Run {
            path: path.to_path_buf(),
            user,
            work: Box::new(work),
        }]);
    }

    /// Starts threads for waiting work if the busy ones look stuck: called every turn of the
    /// owner, so work queued behind stuck threads gets a thread even when nothing new is sent.
    pub fn nudge(&self) {
        let mut st = lock(&self.inner.state);
        if st.queued > 0 {
            self.grow(&mut st);
        }
    }

    /// Resolves when check results are waiting (a permit is kept if none is waiting now).
    pub async fn ready(&self) {
        self.inner.ready.notified().await;
    }

    /// Moves every waiting check result into `out`.
    pub fn take_results(&self, out: &mut Vec<Probe>) {
        out.append(&mut lock(&self.inner.results));
    }

    /// Threads now, and of those, how many are stuck (for metrics and tests).
    pub fn threads(&self) -> (usize, usize) {
        let st = lock(&self.inner.state);
        let stuck = st
            .busy
            .values()
            .filter(|b| b.since.elapsed() >= STUCK)
            .count();
        (st.threads, stuck)
    }

    /// Starts threads until enough of them are free or soon free for the queue.
    fn grow(&self, st: &mut State) {
        let soon_free = |st: &State| {
            st.idle
                + st.busy
                    .values()
                    .filter(|b| b.since.elapsed() < LOOKS_BUSY)
                    .count()
        };
        while st.threads < MAX_THREADS
            && (st.threads < BASE_THREADS || soon_free(st) < st.queued.min(SPARE))
        {
            let id = st.next_id;
            st.next_id += 1;
            let inner = self.inner.clone();
            let spawned = std::thread::Builder::new()
                .name("reader".into())
                .stack_size(256 * 1024)
                .spawn(move || work(&inner, id));
            match spawned {
                Ok(_) => {
                    st.threads += 1;
                    // Counted busy from the start, so the loop does not spawn more for it.
                    st.busy.insert(
                        id,
                        Busy {
                            since: Instant::now(),
                            bucket: Bucket {
                                mount: Arc::from(Path::new("")),
                                user: None,
                            },
                            path: 0,
                        },
                    );
                }
                Err(e) => {
                    tracing::error!(target: "reader", "cannot start a reader thread: {e}");
                    break;
                }
            }
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        lock(&self.state).closed = true;
        self.work.notify_all();
    }
}

/// One reader thread's life.
fn work(inner: &Inner, id: u64) {
    let mut buf = Vec::with_capacity(1024);
    let mut folders = crate::guard::file::Folders::default();
    let mut refused = Vec::new();
    loop {
        let task = {
            let mut st = lock(&inner.state);
            st.busy.remove(&id);
            loop {
                if let Some((task, bucket)) = st.pop(&mut refused) {
                    let path = path_id(task.path());
                    st.busy.insert(
                        id,
                        Busy {
                            since: Instant::now(),
                            bucket,
                            path,
                        },
                    );
                    break Some(task);
                }
                if !refused.is_empty() {
                    // Answer those outside the lock, then look again.
                    break None;
                }
                if st.closed {
                    break None;
                }
                // Out of work: the owner gets what this burst produced.
                announce(inner);
                // Work that waits for its mount is looked at again soon; otherwise sleep until
                // work comes.
                let wait = if st.queued > 0 { RECHECK } else { IDLE_EXIT };
                let for_bound = st.queued > 0;
                st.idle += 1;
                st.waiting_for_bound += usize::from(for_bound);
                let (guard, timeout) = inner
                    .work
                    .wait_timeout(st, wait)
                    .unwrap_or_else(|p| p.into_inner());
                st = guard;
                st.idle -= 1;
                st.waiting_for_bound -= usize::from(for_bound);
                if timeout.timed_out()
                    && st.queued == 0
                    && wait == IDLE_EXIT
                    && st.threads > BASE_THREADS
                {
                    st.threads -= 1;
                    return;
                }
            }
        };
        for (task, why) in refused.drain(..) {
            answer_blocked(inner, task, why);
        }
        let Some(task) = task else {
            if lock(&inner.state).closed {
                lock(&inner.state).threads -= 1;
                return;
            }
            continue;
        };
        match task {
            Task::Check(job) => deliver(inner, probe::check(job, &mut folders, &mut buf)),
            Task::Read {
                path,
                owner,
                previous,
                reply,
            } => {
                let previous = previous.map(|b| *b);
                let _ = reply.send(heartbeat::read_unless_unchanged(
                    &mut folders,
                    &path,
                    &mut buf,
                    previous,
                    owner,
                ));
            }
            Task::Run { work, .. } => work(Ok(())),
        }
        // Someone may wait for this bucket's bound to free up.
        if lock(&inner.state).waiting_for_bound > 0 {
            inner.work.notify_all();
        }
        // A reused buffer that once held a big file gives the memory back.
        if buf.capacity() > 64 * 1024 {
            buf = Vec::with_capacity(1024);
        }
    }
}

/// Hands a check result to the owner. The owner is woken once per burst, not per result: when
/// [`ANNOUNCE_AT`] results wait, or when a thread runs out of work (see [`work`]).
fn deliver(inner: &Inner, probe: Probe) {
    let mut results = lock(&inner.results);
    results.push(probe);
    let full = results.len() >= ANNOUNCE_AT;
    drop(results);
    if full {
        inner.unannounced.store(false, Ordering::Relaxed);
        inner.ready.notify_one();
    } else {
        inner.unannounced.store(true, Ordering::Relaxed);
    }
}

/// Wakes the owner for results not yet announced.
fn announce(inner: &Inner) {
    if inner.unannounced.swap(false, Ordering::Relaxed) {
        inner.ready.notify_one();
    }
}

fn answer_blocked(inner: &Inner, task: Task, why: Blocked) {
    match task {
        Task::Check(job) => deliver(inner, probe::blocked(job, why.0)),
        Task::Read { reply, .. } => {
            let _ = reply.send(Reading::Unreadable(why.0));
        }
        Task::Run { work, .. } => work(Err(why)),
    }
}

#[cfg(test)]
mod tests;
