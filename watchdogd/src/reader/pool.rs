//! The threads themselves: how many run, each one's life (take work, run it, hand back the
//! result), and how results reach the owner. The pool grows past threads that look busy (up to
//! [`MAX_THREADS`], stuck ones included) and shrinks back to [`BASE_THREADS`] when idle; which
//! work a thread may take is the queue's rule (`queue`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use crate::heartbeat::{self, Reading};
use crate::probe::{self, Probe};

use super::queue::{Bucket, Busy, State, path_id};
use super::task::{Blocked, Task};

/// Threads kept even when idle.
pub(super) const BASE_THREADS: usize = 1;
/// Threads free or soon free that waiting work may call for at once: one idle thread is
/// enough while all is quiet, but a burst behind a thread that hangs needs a second at once.
const SPARE: usize = 2;
/// Most threads, stuck ones included.
const MAX_THREADS: usize = 64;
/// An item running this long no longer counts as a thread that will soon be free.
pub(super) const LOOKS_BUSY: Duration = Duration::from_millis(250);
/// An idle thread above the base leaves after this long.
const IDLE_EXIT: Duration = Duration::from_secs(30);
/// How often a thread looks again at work it could not start (its bucket at the bound).
const RECHECK: Duration = Duration::from_millis(100);
/// Results waiting that wake the owner even while the threads still have work.
const ANNOUNCE_AT: usize = 256;

/// What the handle and the threads share.
pub(super) struct Inner {
    pub(super) state: Mutex<State>,
    pub(super) work: Condvar,
    pub(super) results: Mutex<Vec<Probe>>,
    /// Results were delivered since the owner was last woken.
    unannounced: AtomicBool,
    pub(super) ready: Notify,
}

impl Inner {
    pub(super) fn new() -> Inner {
        Inner {
            state: Mutex::new(State::default()),
            work: Condvar::new(),
            results: Mutex::new(Vec::new()),
            unannounced: AtomicBool::new(false),
            ready: Notify::new(),
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        lock(&self.state).closed = true;
        self.work.notify_all();
    }
}

pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A reader thread panicking mid-item cannot leave the queues inconsistent (it only pops).
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Starts threads until enough of them are free or soon free for the queue.
pub(super) fn grow(inner: &Arc<Inner>, st: &mut State) {
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
        let inner = inner.clone();
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
                        bucket: Bucket::none(),
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
