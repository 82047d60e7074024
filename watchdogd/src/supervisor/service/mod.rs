//! One supervised service: what the supervisor knows of it, and the rules that change it.
//!
//! The fields are private to this module and its children: the owner calls rule methods, which
//! change the service and return [`Effects`] for the owner to carry out (rows to write, live
//! events, replies, log lines, whether to recover, when to check next). No method here does
//! I/O, and time comes in as an argument ([`Now`]), so every rule is table-tested without
//! processes, files or clocks:
//!
//! - [`verdict`]: what a check's verdict does (failures, grace, stalls, forgiveness, sampling,
//!   waiters);
//! - [`pipelines`]: what a request does ([`admit`]), and what a finished pipeline does;
//! - [`status`]: the lifecycle state (derived, never stored), the published status, what is
//!   persisted;
//! - [`flap`]: the restart budget and backoff.

pub mod admit;
mod counters;
#[cfg(test)]
mod fixtures;
pub mod flap;
mod lifecycle;
mod overrides;
mod pipelines;
mod recovery;
mod status;
mod verdict;
mod window;

use std::collections::BTreeSet;
use std::sync::Arc;

use protocol::{RecoverySummary, ServiceStatus};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

pub use admit::{Admission, Task, failed_report};
pub use counters::ServiceCounters;
pub use lifecycle::lifecycle;

use super::effects::{Effects, Reply};
use super::probing::ProbeState;
use crate::clock::Now;
use crate::config::ProcessConfig;
use crate::health::Verdict;
use crate::store::{Intent, SavedState};
use flap::{Flap, GiveUp};

/// A pipeline in flight.
#[derive(Debug)]
struct Running {
    id: u64,
    task: Task,
    cancel: CancellationToken,
    /// Requests answered by this pipeline's outcome.
    replies: Vec<Reply>,
}

/// The one follow-up that runs when the current pipeline ends.
#[derive(Debug)]
struct Queued {
    task: Task,
    replies: Vec<Reply>,
}

/// The session watchdogd last started for the service.
#[derive(Debug, Clone, Copy)]
struct StartRecord {
    /// The start shell (its PID is also its session and process group ID), and when it was
    /// started: a heartbeat older than this is the old process's.
    session: crate::session::Session,
    /// The start shell has not been seen to exit with a failure since.
    alive: bool,
}

/// A `wait` request: answered by the first qualifying check after it arrived.
#[derive(Debug)]
struct Waiter {
    not_pid: Option<u32>,
    deadline: Instant,
    reply: Reply,
}

/// An instant kept on both clocks: decided on the monotonic one, shown and stored as wall ms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Until {
    at: Instant,
    wall_ms: i64,
}

/// Runtime overrides of the config (`watchdogctl enable|disable`, `watchdogctl actions`),
/// persisted; the config file itself is never rewritten.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Overrides {
    monitoring: Option<bool>,
    actions_off: BTreeSet<String>,
}

/// One supervised service.
#[derive(Debug)]
pub struct Service {
    cfg: Arc<ProcessConfig>,
    /// Whether the operator wants it running (persisted).
    intent: Intent,
    /// Unhealthy checks in a row (persisted).
    failures: u32,
    /// The last check's verdict.
    verdict: Option<Verdict>,
    last_check_ms: Option<i64>,
    last_recovery: Option<RecoverySummary>,
    pipeline: Option<Running>,
    queued: Option<Queued>,
    /// Its pipeline is due but waits for a slot (`max_parallel_recoveries`).
    waiting_slot: bool,
    started: Option<StartRecord>,
    /// Until when a stale or missing heartbeat does not count, after a start.
    grace_until: Option<Instant>,
    waiters: Vec<Waiter>,
    flap: Flap,
    /// The last `iteration` seen and since when it has not changed.
    stall_mark: Option<(u64, Instant)>,
    /// With `user` configured: the uid its heartbeat file must belong to.
    heartbeat_owner: Option<u32>,
    /// The PID the last verdict found to be the writer, with its start (ticks after boot).
    writer: Option<(u32, i64)>,
    /// A maintenance window (`off --for`): when to turn it back on (persisted).
    off_until: Option<Until>,
    overrides: Overrides,
    counters: ServiceCounters,
    /// The last published status and what it was built from: rebuilt only when that changes.
    status_cache: Option<(lifecycle::StatusKey, Arc<ServiceStatus>)>,
    /// When a check row was last written (healthy checks are sampled).
    last_sampled: Option<Instant>,
    /// Fingerprint of the state last written to the store: unchanged state is not rewritten.
    persisted: u64,
    /// The service's own `STATUS=` line (notify protocol).
    status_text: Option<String>,
    /// Check scheduling, kept by the owner.
    pub probe: ProbeState,
    /// The PID whose exit is being watched (pidfd), and how to stop watching it.
    pub exit_watch: Option<u32>,
}

impl Service {
    /// A service as configured, with what the store remembered of it.
    pub fn new(cfg: Arc<ProcessConfig>, saved: Option<&SavedState>, now: &Now) -> Self {
        let mono = |ms: i64| now.mono_of(ms);
        let flap = Flap {
            restarts: saved
                .map(|s| s.restarts.iter().filter_map(|&t| mono(t)).collect())
                .unwrap_or_default(),
            gave_up: saved.and_then(|s| s.gave_up).map(|g| GiveUp {
                since_ms: g.since_ms,
                attempts: g.attempts,
                next_attempt: g.next_attempt_ms.map(|t| mono(t).unwrap_or(now.mono)),
            }),
            healthy_since: None,
        };
        // A notify service that watchdogd started before it restarted has lost what it said
        // (a socket is gone with the daemon): it has its timeout to speak again before its
        // silence counts, as after a start.
        let grace_until = (cfg.heartbeat.uses_notify() && saved.and_then(|s| s.started).is_some())
            .then(|| now.mono + cfg.timeout);
        Service {
            intent: saved.map_or(Intent::On, |s| s.intent),
            failures: saved.map_or(0, |s| s.failures),
            verdict: None,
            last_check_ms: saved.and_then(|s| s.last_check_ms),
            last_recovery: saved.and_then(|s| s.last_recovery.clone()),
            pipeline: None,
            queued: None,
            waiting_slot: false,
            started: saved
                .and_then(|s| s.started)
                .map(|(pid, at_us)| StartRecord {
                    // Saved under the clock of an earlier run: taken as this run's.
                    session: crate::session::Session {
                        pid: pid as i32,
                        at_us,
                        at_step_us: now.step_us,
                        ticks: None,
                    },
                    alive: true,
                }),
            grace_until,
            waiters: Vec::new(),
            flap,
            stall_mark: None,
            heartbeat_owner: cfg.user.as_deref().and_then(crate::process::user_uid),
            writer: None,
            off_until: saved.and_then(|s| s.off_until_ms).map(|ms| Until {
                at: mono(ms).unwrap_or(now.mono),
                wall_ms: ms,
            }),
            overrides: saved.map_or_else(Overrides::default, |s| Overrides {
                monitoring: s.monitoring_override,
                actions_off: s.actions_off.iter().cloned().collect(),
            }),
            counters: ServiceCounters::default(),
            status_cache: None,
            last_sampled: None,
            persisted: 0,
            status_text: None,
            probe: ProbeState::new(now.mono),
            exit_watch: None,
            cfg,
        }
    }

    pub fn key(&self) -> &str {
        &self.cfg.key
    }

    pub fn cfg(&self) -> &Arc<ProcessConfig> {
        &self.cfg
    }

    /// New settings from a reload; everything the service remembers stays.
    pub fn reconfigure(&mut self, cfg: Arc<ProcessConfig>) {
        self.heartbeat_owner = cfg.user.as_deref().and_then(crate::process::user_uid);
        self.cfg = cfg;
    }

    /// Whether its last check was healthy.
    pub fn is_healthy(&self) -> bool {
        self.verdict.as_ref().is_some_and(|v| v.health.is_healthy())
    }

    /// Whether it is monitored at all: the config's `enabled`, unless overridden at runtime.
    pub fn is_monitored(&self) -> bool {
        self.overrides.monitoring.unwrap_or(self.cfg.enabled)
    }

    /// Turned off on purpose (`off`): not started or recovered until `on`.
    pub fn is_off_by_intent(&self) -> bool {
        self.intent == Intent::Off
    }

    /// The session watchdogd last started for it.
    pub fn started_session(&self) -> Option<crate::session::Session> {
        self.started.map(|s| s.session)
    }

    /// The service's own `STATUS=` line (notify protocol), as it last sent it.
    pub fn set_status_text(&mut self, text: Option<String>) {
        self.status_text = text;
    }

    /// What the judge is to know of this service besides its file.
    pub fn known(&self) -> crate::probe::Known {
        crate::probe::Known {
            owner: self.heartbeat_owner,
            writer: self.writer,
            watched_pid: self.exit_watch,
        }
    }

    pub fn has_pipeline(&self) -> bool {
        self.pipeline.is_some()
    }

    pub fn pipeline_id(&self) -> Option<u64> {
        self.pipeline.as_ref().map(|p| p.id)
    }

    /// Cancels the running pipeline at its next safe point (shutdown, a reload that removed
    /// the service).
    pub fn cancel_pipeline(&self) {
        if let Some(p) = &self.pipeline {
            p.cancel.cancel();
        }
    }

    /// Adds a caller to the running pipeline (`check` joining the recovery it caused).
    pub fn join_pipeline(&mut self, reply: Reply) -> Result<(), Reply> {
        match &mut self.pipeline {
            Some(p) => {
                p.replies.push(reply);
                Ok(())
            }
            None => Err(reply),
        }
    }

    /// The PID to watch for exit: a monitored service's process, as its last healthy check
    /// named it.
    pub fn watch_target(&self) -> Option<u32> {
        let v = self.verdict.as_ref()?;
        (v.health.is_healthy() && self.is_monitored())
            .then_some(v.pid)
            .flatten()
    }

    /// A `wait` caller, answered by the first qualifying check (or its deadline).
    pub fn add_waiter(&mut self, not_pid: Option<u32>, deadline: Instant, reply: Reply) {
        self.waiters.push(Waiter {
            not_pid,
            deadline,
            reply,
        });
    }

    pub fn has_waiters(&self) -> bool {
        !self.waiters.is_empty()
    }

    /// The earliest of its waiters' deadlines and its maintenance window's end.
    pub fn next_deadline(&self) -> Option<Instant> {
        let waiter = self.waiters.iter().map(|w| w.deadline).min();
        let window = self.off_until.map(|u| u.at);
        match (waiter, window) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Counters for metrics.
    pub fn counters(&self) -> ServiceCounters {
        self.counters
    }

    /// Drops every caller with `response` (a reload removed the service, shutdown).
    pub fn drop_callers(&mut self, response: &protocol::Response) -> Effects {
        let mut fx = Effects::default();
        for w in self.waiters.drain(..) {
            fx.reply(w.reply, response.clone());
        }
        if let Some(q) = self.queued.take() {
            for r in q.replies {
                fx.reply(r, response.clone());
            }
        }
        fx
    }
}
