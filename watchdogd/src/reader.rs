//! The reader threads: where every heartbeat read happens.
//!
//! Reading a file blocks, and a file system that never answers (a hung NFS server, a FUSE
//! daemon that stopped) blocks the reading thread for good, uninterruptibly. So:
//!
//! - reads run on threads of their own, never on tokio's blocking pool: pipelines, history
//!   queries and reloads need that pool, and stuck reads must not use it up;
//! - each thread takes one job at a time from a shared queue, so a stuck read holds up only
//!   itself, never a batch of other services behind it;
//! - the pool grows past threads that look stuck ([`LOOKS_STUCK`]), up to [`MAX_THREADS`], and
//!   shrinks back to [`BASE_THREADS`] when idle.
//!
//! The owner decides what a read that does not return means (the service is `unreadable`, and
//! other reads in that folder are not sent after it); this room only runs jobs and hands back
//! results: check results through a shared list and a wake-up (one per burst, not per result),
//! one-off reads (a pipeline's, the detail view's) through a oneshot the caller bounds in time.

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::{Notify, oneshot};

use crate::heartbeat::{self, Reading};
use crate::probe::{self, Job, Probe};

/// Threads kept even when idle.
const BASE_THREADS: usize = 2;
/// Most threads, stuck ones included: a bound on what a hung file system can cost.
const MAX_THREADS: usize = 16;
/// A job running this long no longer counts as a thread that will soon be free.
const LOOKS_STUCK: Duration = Duration::from_millis(250);
/// An idle thread above the base leaves after this long.
const IDLE_EXIT: Duration = Duration::from_secs(30);

enum Task {
    Check(Job),
    Read {
        path: PathBuf,
        reply: oneshot::Sender<Reading>,
    },
}

#[derive(Default)]
struct State {
    queue: VecDeque<Task>,
    threads: usize,
    idle: usize,
    /// Since when each busy thread has been on its current job.
    busy: HashMap<u64, Instant>,
    next_id: u64,
    closed: bool,
}

struct Inner {
    state: Mutex<State>,
    work: Condvar,
    results: Mutex<Vec<Probe>>,
    ready: Notify,
}

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
    // A reader thread panicking mid-job cannot leave the queue inconsistent (it only pops).
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Readers {
    pub fn new() -> Readers {
        Readers {
            inner: Arc::new(Inner {
                state: Mutex::new(State::default()),
                work: Condvar::new(),
                results: Mutex::new(Vec::new()),
                ready: Notify::new(),
            }),
        }
    }

    /// Queues checks; their results come through [`Readers::take_results`].
    pub fn check(&self, jobs: impl IntoIterator<Item = Job>) {
        let mut st = lock(&self.inner.state);
        st.queue.extend(jobs.into_iter().map(Task::Check));
        self.grow(&mut st);
        drop(st);
        self.inner.work.notify_all();
    }

    /// Reads one heartbeat file; the caller bounds the wait.
    pub fn read(&self, path: PathBuf) -> oneshot::Receiver<Reading> {
        let (reply, answer) = oneshot::channel();
        let mut st = lock(&self.inner.state);
        st.queue.push_back(Task::Read { path, reply });
        self.grow(&mut st);
        drop(st);
        self.inner.work.notify_one();
        answer
    }

    /// [`Readers::read`] with a bound: a read that does not return in time reads as corrupt,
    /// with a reason that says so.
    pub async fn read_within(&self, path: PathBuf, within: Duration) -> Reading {
        match tokio::time::timeout(within, self.read(path)).await {
            Ok(Ok(reading)) => reading,
            Ok(Err(_)) => Reading::Corrupt("the heartbeat reader stopped".into()),
            Err(_) => Reading::Corrupt(format!(
                "reading the heartbeat did not return within {:.1}s (is its file system hung?)",
                within.as_secs_f64()
            )),
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

    /// Threads now, and of those, how many look stuck (for metrics and tests).
    pub fn threads(&self) -> (usize, usize) {
        let st = lock(&self.inner.state);
        let stuck = st
            .busy
            .values()
            .filter(|t| t.elapsed() >= LOOKS_STUCK)
            .count();
        (st.threads, stuck)
    }

    /// Starts threads until enough of them are free or soon free for the queue.
    fn grow(&self, st: &mut State) {
        let soon_free = |st: &State| {
            st.idle
                + st.busy
                    .values()
                    .filter(|t| t.elapsed() < LOOKS_STUCK)
                    .count()
        };
        while st.threads < MAX_THREADS
            && (st.threads < BASE_THREADS || soon_free(st) < st.queue.len().min(BASE_THREADS))
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
                    st.busy.insert(id, Instant::now());
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
    loop {
        let task = {
            let mut st = lock(&inner.state);
            st.busy.remove(&id);
            loop {
                if let Some(task) = st.queue.pop_front() {
                    st.busy.insert(id, Instant::now());
                    break Some(task);
                }
                if st.closed {
                    break None;
                }
                st.idle += 1;
                let (guard, timeout) = inner
                    .work
                    .wait_timeout(st, IDLE_EXIT)
                    .unwrap_or_else(|p| p.into_inner());
                st = guard;
                st.idle -= 1;
                if timeout.timed_out() && st.queue.is_empty() && st.threads > BASE_THREADS {
                    break None;
                }
            }
        };
        let Some(task) = task else {
            lock(&inner.state).threads -= 1;
            return;
        };
        match task {
            Task::Check(job) => {
                let probe = probe::check(job, &mut buf);
                let mut results = lock(&inner.results);
                let first = results.is_empty();
                results.push(probe);
                drop(results);
                if first {
                    inner.ready.notify_one();
                }
            }
            Task::Read { path, reply } => {
                let _ = reply.send(heartbeat::read(&path, &mut buf));
            }
        }
        // A reused buffer that once held a big file gives the memory back.
        if buf.capacity() > 64 * 1024 {
            buf = Vec::with_capacity(1024);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn reads_and_checks_come_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hb.json");
        protocol::HeartbeatWriter::new(&path, "k")
            .beat("running")
            .unwrap();
        let readers = Readers::new();
        let reading = readers
            .read_within(path.clone(), Duration::from_secs(5))
            .await;
        assert!(matches!(reading, Reading::Beat(_)), "{reading:?}");
        let missing = readers
            .read_within(dir.path().join("none"), Duration::from_secs(5))
            .await;
        assert_eq!(missing, Reading::Missing);
        let text = serde_json::json!({"processes": {"k": {"timeout_seconds": 9, "heartbeat_path": path, "commands": {"start": "true"}}}}).to_string();
        let cfg = crate::config::parse(&text, &dir.path().join("c.json"))
            .unwrap()
            .config
            .processes["k"]
            .clone();
        readers.check((0..3).map(|idx| Job {
            idx,
            epoch: 7,
            cfg: cfg.clone(),
            owner: None,
            cache: None,
            watched_pid: None,
        }));
        let mut got = Vec::new();
        while got.len() < 3 {
            tokio::time::timeout(Duration::from_secs(5), readers.ready())
                .await
                .unwrap();
            readers.take_results(&mut got);
        }
        assert!(
            got.iter()
                .all(|p| p.epoch == 7 && p.verdict.health.is_healthy())
        );
        assert!(readers.threads().0 >= BASE_THREADS);
    }
}
