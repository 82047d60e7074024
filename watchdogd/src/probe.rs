//! One check: read and judge one heartbeat. Runs on a reader thread ([`crate::reader`]).
//!
//! Kept apart from the supervisor so it is a plain function of its inputs (benchmarked as "one
//! tick over N services"). Each job carries the service's last parsed heartbeat; a file whose
//! stamp has not changed since is not opened or parsed again, so a steady service costs one
//! `stat` and one read of `/proc/PID/stat` per check (none at all while a pidfd watches its
//! process). Everything allocated here is moved, not copied, back to the owner.

use std::sync::Arc;

use crate::clock::Now;
use crate::config::ProcessConfig;
use crate::health::{self, Verdict};
use crate::heartbeat::{self, Beat, Reading};

/// One service to check.
pub struct Job {
    /// The service's index in the owner's list, in the config `epoch` the job was made in.
    pub idx: usize,
    pub epoch: u64,
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
    pub epoch: u64,
    /// The settings it was checked with (the job's, handed back).
    pub cfg: Arc<ProcessConfig>,
    pub verdict: Verdict,
    /// The heartbeat parsed now, for the next check.
    pub cache: Option<Beat>,
    /// How long the read and judgement took (ms).
    pub took_ms: f64,
}

/// Checks one job, with `buf` as scratch space.
pub fn check(job: Job, buf: &mut Vec<u8>) -> Probe {
    let started = std::time::Instant::now();
    let Job {
        idx,
        epoch,
        cfg,
        owner,
        cache,
        watched_pid,
    } = job;
    let reading = heartbeat::read_unless_unchanged(&cfg.heartbeat_path, buf, cache);
    let rules = health::Rules {
        timeout: cfg.timeout,
        owner,
    };
    let verdict = health::judge(&reading, &rules, &Now::read(), |pid, written_us| {
        if watched_pid.is_some_and(|w| i64::from(w) == i64::from(pid)) {
            crate::process::Liveness::Running
        } else {
            crate::process::liveness(pid, written_us)
        }
    });
    let cache = match reading {
        Reading::Beat(b) => Some(b),
        _ => None,
    };
    Probe {
        idx,
        epoch,
        cfg,
        verdict,
        cache,
        took_ms: started.elapsed().as_secs_f64() * 1000.0,
    }
}

/// Checks every job in turn; returns the results and how long the batch took (ms). What one
/// reader thread does with a burst, and what the benchmarks measure.
pub fn check_batch(jobs: Vec<Job>) -> (Vec<Probe>, f64) {
    let started = std::time::Instant::now();
    let mut buf = Vec::with_capacity(1024);
    let results = jobs.into_iter().map(|j| check(j, &mut buf)).collect();
    (results, started.elapsed().as_secs_f64() * 1000.0)
}
