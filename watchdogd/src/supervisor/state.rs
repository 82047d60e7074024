//! What the supervisor knows of one service, and the lifecycle state derived from it.
//!
//! The lifecycle state shown in `status` is derived, never stored: from the config's `enabled`,
//! the operator's intent, the pipeline in flight and the start grace period. Deriving it keeps
//! it from drifting out of step with the facts, and makes the rules one pure, table-tested
//! function ([`lifecycle`]).

use std::collections::VecDeque;
use std::sync::Arc;

use protocol::{RecoverySummary, Response, ServiceState, ServiceStatus, Trigger};
use tokio::sync::oneshot;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::config::ProcessConfig;
use crate::health::Verdict;
use crate::store::{GaveUp, Intent, SavedState};

/// Where a reply goes.
pub type Reply = oneshot::Sender<Response>;

/// A pipeline in flight.
#[derive(Debug)]
pub struct RunningPipeline {
    pub id: u64,
    pub trigger: Trigger,
    pub cancel: CancellationToken,
    /// Requests answered by this pipeline's outcome.
    pub replies: Vec<Reply>,
}

/// The session watchdogd last started for the service.
#[derive(Debug, Clone, Copy)]
pub struct StartRecord {
    /// The start shell's PID, which is also its session and process group ID.
    pub pid: u32,
    pub at_us: i64,
}

/// A `wait` request: answered by the first qualifying check after it arrived.
#[derive(Debug)]
pub struct Waiter {
    pub not_pid: Option<u32>,
    pub deadline: Instant,
    pub reply: Reply,
}

/// One supervised service.
#[derive(Debug)]
pub struct Service {
    pub cfg: Arc<ProcessConfig>,
    /// Whether the operator wants it running (persisted).
    pub intent: Intent,
    /// Unhealthy checks in a row (persisted).
    pub failures: u32,
    /// The last check's verdict.
    pub verdict: Option<Verdict>,
    pub last_check_ms: Option<i64>,
    pub last_recovery: Option<RecoverySummary>,
    pub pipeline: Option<RunningPipeline>,
    /// One follow-up action to run when the current pipeline ends (e.g. `off` during recovery).
    pub queued: Option<(Trigger, Vec<Reply>)>,
    pub started: Option<StartRecord>,
    /// Until when (µs) a stale or missing heartbeat does not count, after a start.
    pub grace_until_us: Option<i64>,
    pub next_check: Instant,
    /// A check of this service is in flight.
    pub checking: bool,
    pub waiters: Vec<Waiter>,
    /// When automatic recoveries started (ms), within the restart window (persisted).
    pub restarts: VecDeque<i64>,
    /// Set while the service is given up on (persisted).
    pub gave_up: Option<GaveUp>,
    /// Since when (ms) every check has been healthy.
    pub healthy_since_ms: Option<i64>,
    /// The last `iteration` seen and since when (µs) it has not changed.
    pub stall_mark: Option<(u64, i64)>,
    /// With `user` configured: the uid its heartbeat file must belong to.
    pub heartbeat_owner: Option<u32>,
    /// A maintenance window (`off --for`): when to turn it back on (ms; persisted).
    pub off_until_ms: Option<i64>,
    pub counters: super::ServiceCounters,
    /// The heartbeat parsed at the last check (lent to each check; see `probe`).
    pub beat_cache: Option<crate::heartbeat::Beat>,
    /// The last published status and what it was built from: rebuilt only when that changes.
    pub status_cache: Option<(StatusKey, Arc<ServiceStatus>)>,
    /// When a check row was last written (healthy checks are sampled).
    pub last_sampled_ms: Option<i64>,
    /// Fingerprint of the state last written to the store: unchanged state is not rewritten.
    pub persisted: u64,
    /// The PID whose exit is being watched (pidfd), and how to stop watching it.
    pub exit_watch: Option<(u32, CancellationToken)>,
}

/// Everything a [`ServiceStatus`] is derived from that can change without a new check; with the
/// check time (a new check changes it) it tells whether a cached status is still right.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatusKey {
    /// The settings in force (a reload swaps the `Arc`).
    cfg: usize,
    last_check_ms: Option<i64>,
    state: ServiceState,
    failures: u32,
    recovery_ms: Option<i64>,
    restarts: usize,
    next_attempt_ms: Option<i64>,
    off_until_ms: Option<i64>,
}

impl Service {
    pub fn new(cfg: Arc<ProcessConfig>, saved: Option<&SavedState>, next_check: Instant) -> Self {
        Service {
            intent: saved.map_or(Intent::On, |s| s.intent),
            failures: saved.map_or(0, |s| s.failures),
            verdict: None,
            last_check_ms: saved.and_then(|s| s.last_check_ms),
            last_recovery: saved.and_then(|s| s.last_recovery.clone()),
            pipeline: None,
            queued: None,
            started: saved
                .and_then(|s| s.started)
                .map(|(pid, at_us)| StartRecord { pid, at_us }),
            grace_until_us: None,
            next_check,
            checking: false,
            waiters: Vec::new(),
            restarts: saved
                .map(|s| s.restarts.iter().copied().collect())
                .unwrap_or_default(),
            gave_up: saved.and_then(|s| s.gave_up),
            healthy_since_ms: None,
            stall_mark: None,
            heartbeat_owner: cfg.user.as_deref().and_then(crate::process::user_uid),
            off_until_ms: saved.and_then(|s| s.off_until_ms),
            counters: super::ServiceCounters::default(),
            beat_cache: None,
            status_cache: None,
            last_sampled_ms: None,
            persisted: 0,
            exit_watch: None,
            cfg,
        }
    }

    /// Whether checks of this service count towards recovery.
    pub fn is_supervised(&self) -> bool {
        self.cfg.enabled && self.intent == Intent::On && self.pipeline.is_none()
    }

    /// Started by watchdogd, inside its start grace, not yet healthy, and its process group
    /// still alive: starting, not failed.
    pub fn is_starting(&self) -> bool {
        let now_us = protocol::time::now_micros();
        let healthy = self.verdict.as_ref().is_some_and(|v| v.health.is_healthy());
        !healthy
            && self.grace_until_us.is_some_and(|u| now_us < u)
            && self
                .started
                .is_some_and(|s| crate::process::group_is_alive(s.pid as i32))
    }

    /// Whether a start is recent enough that a heartbeat older than it is forgiven.
    pub fn in_grace(&self, now_us: i64, heartbeat_us: Option<i64>) -> bool {
        match (self.started, self.grace_until_us) {
            (Some(start), Some(until)) => {
                now_us < until && heartbeat_us.is_none_or(|t| t < start.at_us)
            }
            _ => false,
        }
    }

    pub fn state(&self, now_us: i64) -> ServiceState {
        let healthy = self.verdict.as_ref().is_some_and(|v| v.health.is_healthy());
        lifecycle(
            self.cfg.enabled,
            self.intent,
            self.pipeline.as_ref().map(|p| p.trigger),
            self.grace_until_us.is_some_and(|u| now_us < u) && !healthy,
            self.gave_up.is_some(),
        )
    }

    pub fn saved(&self) -> SavedState {
        SavedState {
            key: self.cfg.key.clone(),
            failures: self.failures,
            intent: self.intent,
            last_health: self.verdict.as_ref().map(|v| v.health),
            last_check_ms: self.last_check_ms,
            last_recovery: self.last_recovery.clone(),
            restarts: self.restarts.iter().copied().collect(),
            gave_up: self.gave_up,
            started: self.started.map(|s| (s.pid, s.at_us)),
            off_until_ms: self.off_until_ms,
        }
    }

    /// The status as published, rebuilt only when something it shows has changed.
    pub fn cached_status(&mut self, now_us: i64) -> Arc<ServiceStatus> {
        let key = StatusKey {
            cfg: Arc::as_ptr(&self.cfg) as usize,
            last_check_ms: self.last_check_ms,
            state: self.state(now_us),
            failures: self.failures,
            recovery_ms: self.last_recovery.as_ref().map(|r| r.finished_ms),
            restarts: self.restarts.len(),
            next_attempt_ms: self.gave_up.and_then(|g| g.next_attempt_ms),
            off_until_ms: self.off_until_ms,
        };
        match &self.status_cache {
            Some((k, status)) if *k == key => status.clone(),
            _ => {
                let status = Arc::new(self.status(now_us));
                self.status_cache = Some((key, status.clone()));
                status
            }
        }
    }

    /// A fingerprint of what [`Service::saved`] would write, without building it.
    pub fn state_fingerprint(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = std::hash::DefaultHasher::new();
        self.failures.hash(&mut h);
        (self.intent == Intent::On).hash(&mut h);
        self.verdict.as_ref().map(|v| v.health).hash(&mut h);
        self.last_recovery
            .as_ref()
            .map(|r| (r.started_ms, r.finished_ms))
            .hash(&mut h);
        self.restarts.hash(&mut h);
        self.gave_up
            .map(|g| (g.since_ms, g.attempts, g.next_attempt_ms))
            .hash(&mut h);
        self.started.map(|s| (s.pid, s.at_us)).hash(&mut h);
        self.off_until_ms.hash(&mut h);
        h.finish()
    }

    pub fn status(&self, now_us: i64) -> ServiceStatus {
        let v = self.verdict.as_ref();
        ServiceStatus {
            key: self.cfg.key.clone(),
            display_name: self.cfg.display_name.clone(),
            enabled: self.cfg.enabled,
            state: self.state(now_us),
            health: v.map(|v| v.health),
            pid: v.and_then(|v| v.pid),
            heartbeat_age_ms: v.and_then(|v| v.age_ms),
            consecutive_failures: self.failures,
            last_check_ms: self.last_check_ms,
            last_recovery: self.last_recovery.clone(),
            detail: v.map_or_else(|| "not checked yet".to_owned(), |v| v.detail.clone()),
            clock_skew_ms: v.and_then(|v| v.clock_skew_ms),
            restarts_in_window: self.restarts.len() as u32,
            next_attempt_ms: self.gave_up.and_then(|g| g.next_attempt_ms),
            off_until_ms: self.off_until_ms,
        }
    }
}

/// The lifecycle state from its inputs. A pipeline in flight wins over intent (an `off` is
/// `stopping` until its kill is done), intent wins over giving up, which wins over grace.
pub fn lifecycle(
    enabled: bool,
    intent: Intent,
    pipeline: Option<Trigger>,
    starting: bool,
    gave_up: bool,
) -> ServiceState {
    match (pipeline, intent) {
        (Some(Trigger::Off), _) => ServiceState::Stopping,
        (Some(_), _) => ServiceState::Recovering,
        (None, Intent::Off) => ServiceState::Stopped,
        (None, Intent::On) if !enabled => ServiceState::Disabled,
        (None, Intent::On) if gave_up => ServiceState::GaveUp,
        (None, Intent::On) if starting => ServiceState::Starting,
        (None, Intent::On) => ServiceState::Running,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ServiceState::*;

    #[test]
    fn lifecycle_table() {
        let cases = [
            (true, Intent::On, None, false, false, Running),
            (true, Intent::On, None, true, false, Starting),
            (
                true,
                Intent::On,
                Some(Trigger::Automatic),
                true,
                false,
                Recovering,
            ),
            (
                true,
                Intent::On,
                Some(Trigger::Restart),
                false,
                false,
                Recovering,
            ),
            (
                true,
                Intent::Off,
                Some(Trigger::Off),
                false,
                false,
                Stopping,
            ),
            (true, Intent::Off, None, false, false, Stopped),
            (true, Intent::Off, None, true, false, Stopped),
            (false, Intent::On, None, false, false, Disabled),
            (false, Intent::Off, None, false, false, Stopped),
            (
                false,
                Intent::On,
                Some(Trigger::On),
                false,
                false,
                Recovering,
            ),
            (true, Intent::On, None, true, true, GaveUp),
            (
                true,
                Intent::On,
                Some(Trigger::Automatic),
                false,
                true,
                Recovering,
            ),
            (true, Intent::Off, None, false, true, Stopped),
        ];
        for (enabled, intent, pipeline, starting, gave_up, want) in cases {
            assert_eq!(
                lifecycle(enabled, intent, pipeline, starting, gave_up),
                want,
                "{enabled} {intent:?} {pipeline:?} {starting} {gave_up}"
            );
        }
    }
}
