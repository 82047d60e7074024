//! One round of checks: read and classify a batch of heartbeats, on the blocking pool.
//!
//! Kept apart from the supervisor so it is a plain function of its inputs (benchmarked as "one
//! tick over N services"). Each job carries the service's last parsed heartbeat; a file whose
//! stamp has not changed since is not opened or parsed again, so a steady service costs one
//! `stat` and one read of `/proc/PID/stat` per check. Everything allocated here is moved, not
//! copied, back to the owner.

use std::sync::Arc;

use crate::config::ProcessConfig;
use crate::health::{self, Verdict};
use crate::heartbeat::{self, Beat, Reading};

/// One service to check.
pub struct Job {
    pub idx: usize,
    pub cfg: Arc<ProcessConfig>,
    /// The uid the heartbeat file must belong to (`user` configured).
    pub owner: Option<u32>,
    /// The heartbeat parsed at the previous check.
    pub cache: Option<Beat>,
    /// A PID whose exit is being watched through its pidfd and has not fired: that process is
    /// alive, and is the same process (a pidfd cannot follow a reused PID), so no `/proc` read
    /// is needed to know it.
    pub watched_pid: Option<u32>,
}

/// One service checked.
pub struct Probe {
    pub idx: usize,
    pub verdict: Verdict,
    /// The heartbeat parsed now, for the next check.
    pub cache: Option<Beat>,
}

/// Checks every job; returns the results and how long the batch took (ms).
pub fn check_batch(jobs: Vec<Job>) -> (Vec<Probe>, f64) {
    let started = std::time::Instant::now();
    let mut buf = Vec::with_capacity(1024);
    let results = jobs
        .into_iter()
        .map(
            |Job {
                 idx,
                 cfg,
                 owner,
                 cache,
                 watched_pid,
             }| {
                let reading =
                    heartbeat::read_unless_unchanged(&cfg.heartbeat_path, &mut buf, cache);
                let rules = health::Rules {
                    timeout: cfg.timeout,
                    owner,
                };
                let verdict = health::judge(
                    &reading,
                    &rules,
                    protocol::time::now_micros(),
                    |pid, written_us| {
                        if watched_pid.is_some_and(|w| i64::from(w) == i64::from(pid)) {
                            crate::process::Liveness::Running
                        } else {
                            crate::process::liveness(pid, written_us)
                        }
                    },
                );
                let cache = match reading {
                    Reading::Beat(b) => Some(b),
                    _ => None,
                };
                Probe {
                    idx,
                    verdict,
                    cache,
                }
            },
        )
        .collect();
    (results, started.elapsed().as_secs_f64() * 1000.0)
}
