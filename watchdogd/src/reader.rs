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
//!   `MOUNT_STUCK` different paths are stuck, is not started at all: it is answered at once
//!   as [`Blocked`], with a reason naming what hangs (a check then reads `unreadable`);
//! - so a service user who points its heartbeats at a file system of its own that never
//!   answers (a FUSE mount it stopped) stalls only work done for that user: the grouping by
//!   mount goes by the path as written, and a symlink can lead anywhere, but the grouping by
//!   user keeps the work of root's services and of other users in buckets of their own;
//! - the pool grows past threads that look busy (`LOOKS_BUSY`), up to `MAX_THREADS`, and
//!   shrinks back to `BASE_THREADS` when idle; waiting work may call for `SPARE` threads
//!   at once.
//!
//! The owner decides what a check that does not come back means (its service is `unreadable`);
//! this room only runs work and hands back results: check results through a shared list and a
//! wake-up (one per burst, not per result), anything else through a oneshot.
//!
//! Its parts: the handle here ([`Readers`], what the rest of the daemon calls), the work it
//! takes (`task`), the buckets with their bound and stuck rules (`queue`), and the threads
//! (`pool`).

mod pool;
mod queue;
mod task;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::oneshot;

use crate::heartbeat::{Beat, Reading};
use crate::probe::{Job, Probe};

use pool::{Inner, grow, lock};
pub use queue::{PER_MOUNT, STUCK};
pub use task::Blocked;
use task::Task;

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

impl Readers {
    pub fn new() -> Readers {
        Readers {
            inner: Arc::new(Inner::new()),
        }
    }

    fn submit(&self, tasks: impl IntoIterator<Item = Task>) {
        let mut st = lock(&self.inner.state);
        for task in tasks {
            st.push(task);
        }
        grow(&self.inner, &mut st);
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
        previous: Option<Beat>,
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
        previous: Option<Beat>,
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
            grow(&self.inner, &mut st);
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
        (st.threads, st.stuck())
    }
}

#[cfg(test)]
mod tests;
