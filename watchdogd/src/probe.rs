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
use crate::guard::file::Folders;
use crate::health::{self, Verdict};
use crate::heartbeat::{self, Beat, Reading};
use crate::proc_facts::{Identity, Liveness};

/// What is known of a service besides its heartbeat file, for judging it. The periodic check
/// and a pipeline's fresh look judge with the same knowledge, through [`judge`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Known {
    /// The uid the heartbeat file must belong to (`user` configured).
    pub owner: Option<u32>,
    /// The PID an earlier verdict found to be the writer, and its start (ticks after boot).
    pub writer: Option<(u32, i64)>,
    /// A PID whose exit is being watched through its pidfd and has not fired: that process is
    /// alive, and is the same process (a pidfd cannot follow a reused PID), so no `/proc` read
    /// is needed to know it.
    pub watched_pid: Option<u32>,
}

/// The one judge ([`health::judge`]) with what is known of the service and the OS's word on
/// its process.
pub fn judge(reading: &Reading, cfg: &ProcessConfig, known: &Known, now: &Now) -> Verdict {
    judge_within(reading, cfg.timeout, known, now)
}

/// [`judge`] with another timeout than the configured one (a notify service's own
/// `WATCHDOG_USEC=`, see [`crate::notify_socket`]).
pub fn judge_within(
    reading: &Reading,
    timeout: std::time::Duration,
    known: &Known,
    now: &Now,
) -> Verdict {
    let rules = health::Rules {
        timeout,
        owner: known.owner,
        known: known.writer,
    };
    health::judge(reading, &rules, now, |pid, written_us, known_ticks| {
        if known.watched_pid == Some(pid as u32) {
            Identity {
                liveness: Liveness::Running,
                start_ticks: known_ticks,
            }
        } else {
            crate::proc_facts::identify(pid, written_us, known_ticks)
        }
    })
}

/// One service to check.
pub struct Job {
    /// The service's index in the owner's list, in the config `epoch` the job was made in.
    pub idx: usize,
    pub epoch: u64,
    pub cfg: Arc<ProcessConfig>,
    pub known: Known,
    /// The heartbeat parsed at the previous check.
    pub cache: Option<Beat>,
    /// The file is known to have changed since (a change event): read it without asking.
    pub changed: bool,
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

/// Checks one job, with `buf` as scratch space and `folders` holding heartbeat folders open.
pub fn check(job: Job, folders: &mut Folders, buf: &mut Vec<u8>) -> Probe {
    let started = std::time::Instant::now();
    let Job {
        idx,
        epoch,
        cfg,
        known,
        cache,
        changed,
    } = job;
    let reading = match &cfg.heartbeat_path {
        Some(path) if changed => heartbeat::read_changed(folders, path, buf, cache, known.owner),
        Some(path) => heartbeat::read_unless_unchanged(folders, path, buf, cache, known.owner),
        None => Reading::Missing,
    };
    let verdict = judge(&reading, &cfg, &known, &Now::read());
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

/// A job not read because its file system does not answer ([`crate::reader`]): `unreadable`,
/// with the reason, and the previous heartbeat kept for the next check.
pub fn blocked(job: Job, reason: String) -> Probe {
    // (A change it was sent for is noticed again at the next read: the file's stamp differs.)
    Probe {
        idx: job.idx,
        epoch: job.epoch,
        cfg: job.cfg,
        verdict: Verdict::without_heartbeat(protocol::Health::Unreadable, reason),
        cache: job.cache,
        took_ms: 0.0,
    }
}

/// Checks every job in turn; returns the results and how long the batch took (ms). What one
/// reader thread does with a burst, and what the benchmarks measure.
pub fn check_batch(jobs: Vec<Job>) -> (Vec<Probe>, f64) {
    let started = std::time::Instant::now();
    let mut buf = Vec::with_capacity(1024);
    let mut folders = Folders::default();
    let results = jobs
        .into_iter()
        .map(|j| check(j, &mut folders, &mut buf))
        .collect();
    (results, started.elapsed().as_secs_f64() * 1000.0)
}
