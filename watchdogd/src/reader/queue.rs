//! Where work waits, and the rules for what may start: per bucket (a mount and the user the
//! work is done for), served round-robin, at most [`PER_MOUNT`] running per bucket, and no new
//! work on a path (or a whole mount) that looks hung. Only bookkeeping here: the threads that
//! take work out are in `pool`.

use std::collections::{HashMap, VecDeque};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::mounts::Mounts;

use super::task::{Blocked, Task};

/// Most items of one bucket running at once: what a hung mount can hold, per user.
pub const PER_MOUNT: usize = 3;
/// Running this long, an item is stuck: its path gets no more work until it returns.
pub const STUCK: Duration = Duration::from_secs(1);
/// Stuck paths in one bucket that make its whole mount count as hung (for that user).
const MOUNT_STUCK: usize = 2;
/// Room an empty queue keeps for the next burst.
const KEEP_ROOM: usize = 1024;
/// Empty queues kept at most (one per mount and user the daemon looked into).
const MAX_IDLE_QUEUES: usize = 64;

/// Where work waits and how much of it may run: its mount, and the user it is done for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) struct Bucket {
    pub(super) mount: Arc<Path>,
    pub(super) user: Option<u32>,
}

impl Bucket {
    /// The bucket of a thread just started, before it has taken any work.
    pub(super) fn none() -> Bucket {
        Bucket {
            mount: Arc::from(Path::new("")),
            user: None,
        }
    }
}

/// An item in flight.
pub(super) struct Busy {
    pub(super) since: Instant,
    pub(super) bucket: Bucket,
    /// [`path_id`] of the path it touches.
    pub(super) path: u64,
}

/// The queues and what runs, behind the pool's lock.
#[derive(Default)]
pub(super) struct State {
    /// Waiting work, per bucket.
    queues: HashMap<Bucket, VecDeque<Task>>,
    /// Buckets with waiting work, in the order they are served.
    order: VecDeque<Bucket>,
    pub(super) queued: usize,
    mounts: Mounts,
    pub(super) threads: usize,
    pub(super) idle: usize,
    /// Threads waiting for work whose bucket is at its bound (woken when an item ends).
    pub(super) waiting_for_bound: usize,
    /// What each thread runs, by thread id.
    pub(super) busy: HashMap<u64, Busy>,
    pub(super) next_id: u64,
    pub(super) closed: bool,
}

impl State {
    pub(super) fn push(&mut self, task: Task) {
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

    /// Items running for [`STUCK`] or longer.
    pub(super) fn stuck(&self) -> usize {
        self.busy
            .values()
            .filter(|b| b.since.elapsed() >= STUCK)
            .count()
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
    pub(super) fn pop(&mut self, refused: &mut Vec<(Task, Blocked)>) -> Option<(Task, Bucket)> {
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
pub(super) fn path_id(path: &Path) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    path.hash(&mut h);
    h.finish()
}
