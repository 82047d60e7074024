//! What a service looks like from outside: its lifecycle state (the rule is
//! [`super::lifecycle`]'s), its published status, and what is persisted of it.

use std::sync::Arc;

use protocol::{ServiceState, ServiceStatus};

use super::Service;
use super::lifecycle::{Facts, StatusKey, lifecycle};
use crate::clock::Now;
use crate::store::{GaveUp, Intent, SavedState};

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
