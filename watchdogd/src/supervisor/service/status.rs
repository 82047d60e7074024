//! What a service looks like from outside: its lifecycle state, its published status, and what
//! is persisted of it.
//!
//! The lifecycle state is derived, never stored: from whether it is monitored, the operator's
//! intent, the pipeline in flight or waiting for a slot, the start grace, a give-up and its
//! last verdict. Deriving it keeps it from drifting out of step with the facts, and makes the
//! rules one pure, table-tested function ([`lifecycle`]).

use std::sync::Arc;

use protocol::{ServiceState, ServiceStatus, Trigger};

use super::Service;
use crate::clock::Now;
use crate::store::{GaveUp, Intent, SavedState};

/// The inputs of the lifecycle state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Facts {
    pub monitored: bool,
    pub intent: Intent,
    pub pipeline: Option<Trigger>,
    pub waiting_slot: bool,
    /// Inside its start grace and not yet seen healthy.
    pub starting: bool,
    pub gave_up: bool,
    /// Its last check was unhealthy and counted.
    pub failing: bool,
}

/// The lifecycle state from its inputs. A pipeline in flight wins (an `off` is `stopping`
/// until its kill is done), then one waiting for a slot, then intent, then monitoring, giving
/// up, grace, and last whether its checks are failing.
pub fn lifecycle(f: Facts) -> ServiceState {
    match (f.pipeline, f.intent) {
        (Some(Trigger::Off), _) => ServiceState::Stopping,
        (Some(_), _) => ServiceState::Recovering,
        (None, _) if f.waiting_slot => ServiceState::Queued,
        (None, Intent::Off) => ServiceState::Stopped,
        (None, Intent::On) if !f.monitored => ServiceState::Disabled,
        (None, Intent::On) if f.gave_up => ServiceState::GaveUp,
        (None, Intent::On) if f.starting => ServiceState::Starting,
        (None, Intent::On) if f.failing => ServiceState::Failing,
        (None, Intent::On) => ServiceState::Running,
    }
}

/// Everything a [`ServiceStatus`] is derived from that can change without a new check; with the
/// check time (a new check changes it) it tells whether a cached status is still right.
#[derive(Debug, Clone, PartialEq, Eq)]
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
    overrides: (Option<bool>, usize),
    status_text: Option<String>,
}

impl Service {
    fn facts(&self, now: &Now) -> Facts {
        let healthy = self.verdict.as_ref().is_some_and(|v| v.health.is_healthy());
        Facts {
            monitored: self.is_monitored(),
            intent: self.intent,
            pipeline: self.pipeline.as_ref().map(|p| p.task.trigger),
            waiting_slot: self.waiting_slot,
            starting: self.grace_until.is_some_and(|u| now.mono < u) && !healthy,
            gave_up: self.flap.gave_up.is_some(),
            failing: self.verdict.is_some() && !healthy,
        }
    }

    pub fn state(&self, now: &Now) -> ServiceState {
        lifecycle(self.facts(now))
    }

    /// Started by watchdogd, inside its start grace, not yet healthy, and its start shell not
    /// seen to fail: starting, not failed.
    pub(super) fn is_starting(&self, now: &Now) -> bool {
        self.facts(now).starting && self.started.is_some_and(|s| s.alive)
    }

    pub fn saved(&self, now: &Now) -> SavedState {
        SavedState {
            key: self.cfg.key.clone(),
            failures: self.failures,
            intent: self.intent,
            last_health: self.verdict.as_ref().map(|v| v.health),
            last_check_ms: self.last_check_ms,
            last_recovery: self.last_recovery.clone(),
            restarts: self
                .flap
                .restarts
                .iter()
                .map(|&t| now.wall_ms_of(t))
                .collect(),
            gave_up: self.flap.gave_up.map(|g| GaveUp {
                since_ms: g.since_ms,
                attempts: g.attempts,
                next_attempt_ms: g.next_attempt.map(|t| now.wall_ms_of(t)),
            }),
            started: self
                .started
                .map(|s| (s.session.pid as u32, s.session.at_us)),
            off_until_ms: self.off_until.map(|u| u.wall_ms),
            monitoring_override: self.overrides.monitoring,
            actions_off: self.overrides.actions_off.iter().cloned().collect(),
        }
    }

    /// A fingerprint of what [`Service::saved`] would write, without building it.
    pub(super) fn state_fingerprint(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = std::hash::DefaultHasher::new();
        self.failures.hash(&mut h);
        (self.intent == Intent::On).hash(&mut h);
        self.verdict.as_ref().map(|v| v.health).hash(&mut h);
        self.last_recovery
            .as_ref()
            .map(|r| (r.started_ms, r.finished_ms))
            .hash(&mut h);
        self.flap.restarts.hash(&mut h);
        self.flap
            .gave_up
            .map(|g| (g.since_ms, g.attempts, g.next_attempt))
            .hash(&mut h);
        self.started
            .map(|s| (s.session.pid as u32, s.session.at_us))
            .hash(&mut h);
        self.off_until.map(|u| u.wall_ms).hash(&mut h);
        self.overrides.monitoring.hash(&mut h);
        self.overrides.actions_off.hash(&mut h);
        h.finish()
    }

    /// The status as published, rebuilt only when something it shows has changed.
    pub fn cached_status(&mut self, now: &Now) -> Arc<ServiceStatus> {
        let key = StatusKey {
            cfg: Arc::as_ptr(&self.cfg) as usize,
            last_check_ms: self.last_check_ms,
            state: self.state(now),
            failures: self.failures,
            recovery_ms: self.last_recovery.as_ref().map(|r| r.finished_ms),
            restarts: self.flap.restarts.len(),
            next_attempt_ms: self.next_attempt_ms(now),
            off_until_ms: self.off_until.map(|u| u.wall_ms),
            overrides: (self.overrides.monitoring, self.overrides.actions_off.len()),
            status_text: self.status_text.clone(),
        };
        match &self.status_cache {
            Some((k, status)) if *k == key => status.clone(),
            _ => {
                let status = Arc::new(self.status(now));
                self.status_cache = Some((key, status.clone()));
                status
            }
        }
    }

    fn next_attempt_ms(&self, now: &Now) -> Option<i64> {
        self.flap
            .gave_up
            .and_then(|g| g.next_attempt)
            .map(|t| now.wall_ms_of(t))
    }

    pub fn status(&self, now: &Now) -> ServiceStatus {
        let v = self.verdict.as_ref();
        // Started, and not judged since: the process started is the one to show.
        let started = self
            .started
            .filter(|_| v.is_none())
            .map(|s| s.session.pid as u32);
        ServiceStatus {
            key: self.cfg.key.clone(),
            display_name: self.cfg.display_name.clone(),
            enabled: self.cfg.enabled,
            state: self.state(now),
            health: v.map(|v| v.health),
            pid: v.and_then(|v| v.pid).or(started),
            heartbeat_age_ms: v.and_then(|v| v.age_ms),
            consecutive_failures: self.failures,
            last_check_ms: self.last_check_ms,
            last_recovery: self.last_recovery.clone(),
            detail: match (v, started) {
                (Some(v), _) => v.detail.clone(),
                (None, Some(pid)) => {
                    format!("started as pid {pid} by watchdogd; no heartbeat from it yet")
                }
                (None, None) => "not checked yet".to_owned(),
            },
            clock_skew_ms: v.and_then(|v| v.clock_skew_ms),
            restarts_in_window: self.flap.restarts.len() as u32,
            next_attempt_ms: self.next_attempt_ms(now),
            off_until_ms: self.off_until.map(|u| u.wall_ms),
            monitoring_override: self.overrides.monitoring,
            actions_disabled: self.overrides.actions_off.iter().cloned().collect(),
            status_text: self.status_text.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ServiceState::*;

    #[test]
    fn lifecycle_table() {
        let base = Facts {
            monitored: true,
            intent: Intent::On,
            pipeline: None,
            waiting_slot: false,
            starting: false,
            gave_up: false,
            failing: false,
        };
        let with = |f: fn(&mut Facts)| {
            let mut facts = base;
            f(&mut facts);
            facts
        };
        let cases = [
            (base, Running),
            (with(|f| f.starting = true), Starting),
            (with(|f| f.failing = true), Failing),
            (
                with(|f| {
                    f.failing = true;
                    f.starting = true
                }),
                Starting,
            ),
            (with(|f| f.pipeline = Some(Trigger::Automatic)), Recovering),
            (with(|f| f.pipeline = Some(Trigger::Restart)), Recovering),
            (with(|f| f.pipeline = Some(Trigger::Run)), Recovering),
            (
                with(|f| {
                    f.intent = Intent::Off;
                    f.pipeline = Some(Trigger::Off)
                }),
                Stopping,
            ),
            (with(|f| f.intent = Intent::Off), Stopped),
            (
                with(|f| {
                    f.intent = Intent::Off;
                    f.failing = true
                }),
                Stopped,
            ),
            (with(|f| f.monitored = false), Disabled),
            (
                with(|f| {
                    f.monitored = false;
                    f.intent = Intent::Off
                }),
                Stopped,
            ),
            (
                with(|f| {
                    f.monitored = false;
                    f.pipeline = Some(Trigger::On)
                }),
                Recovering,
            ),
            (
                with(|f| {
                    f.gave_up = true;
                    f.starting = true
                }),
                GaveUp,
            ),
            (
                with(|f| {
                    f.gave_up = true;
                    f.pipeline = Some(Trigger::Automatic)
                }),
                Recovering,
            ),
            (
                with(|f| {
                    f.gave_up = true;
                    f.intent = Intent::Off
                }),
                Stopped,
            ),
            (with(|f| f.waiting_slot = true), Queued),
            (
                with(|f| {
                    f.waiting_slot = true;
                    f.failing = true
                }),
                Queued,
            ),
        ];
        for (facts, want) in cases {
            assert_eq!(lifecycle(facts), want, "{facts:?}");
        }
        assert_eq!(Stopped.as_str(), "off", "the state an operator turned off");
    }
}
