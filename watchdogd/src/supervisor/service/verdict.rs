//! What a check's verdict does to a service.
//!
//! An unhealthy verdict counts as a failure only while the service is supervised (monitored,
//! wanted, no pipeline in flight or waiting) and outside its start grace; a healthy one resets
//! the count. Reaching `consecutive_failures_threshold` asks the owner to recover. A healthy
//! service whose `iteration` has not grown for `stall_seconds` is `stalled`. The audit log keeps
//! every change of health and every counted failure, and samples healthy checks; a service off
//! by intent writes a row only when its health changes (its missing heartbeat is expected).

use std::time::Duration;

use protocol::{Health, Response, WaitOutcome, WaitReply};

use super::Service;
use crate::clock::Now;
use crate::health::Verdict;
use crate::store::{Intent, Record};
use crate::supervisor::effects::Effects;

/// How long after a heartbeat's timeout the check that catches it runs.
const TIMEOUT_MARGIN: Duration = Duration::from_millis(20);
/// How often a service started by watchdogd and not yet seen healthy is looked at, inside its
/// start grace: a fresh start shows as healthy moments after its first heartbeat, not at its
/// next regular check.
pub const STARTING_CADENCE: Duration = Duration::from_millis(100);

impl Service {
    /// Whether checks of this service count towards recovery.
    pub(super) fn is_supervised(&self) -> bool {
        self.is_monitored()
            && self.intent == Intent::On
            && self.pipeline.is_none()
            && !self.waiting_slot
    }

    /// Whether a start is recent enough that a heartbeat older than it is forgiven.
    pub(super) fn in_grace(&self, now: &Now, heartbeat_us: Option<i64>) -> bool {
        match (self.started, self.grace_until) {
            (Some(start), Some(until)) => {
                now.mono < until && heartbeat_us.is_none_or(|t| t < start.session.at_us_now(now))
            }
            _ => false,
        }
    }

    /// Applies one check's verdict (see the module note).
    pub fn apply_verdict(
        &mut self,
        mut verdict: Verdict,
        now: &Now,
        sample_every: Duration,
    ) -> Effects {
        let mut fx = Effects::default();
        self.detect_stall(&mut verdict, now);
        let previous = self.verdict.as_ref().map(|v| v.health);
        let healthy = verdict.health.is_healthy();
        let supervised = self.is_supervised();
        // An unreadable heartbeat says nothing about the service (its file system hangs):
        // shown and kept, but neither counted nor forgiven; a recovery could only make it worse.
        let unknown = verdict.health == Health::Unreadable;
        let forgiven = !healthy && self.in_grace(now, verdict.heartbeat_us);
        let counted = supervised && !healthy && !unknown && !forgiven;
        if supervised && forgiven {
            fx.check_by = Some(now.mono + STARTING_CADENCE);
        }
        if supervised {
            if healthy {
                self.failures = 0;
                self.grace_until = None;
            } else if counted {
                self.failures = self.failures.saturating_add(1);
            }
        }
        if healthy {
            if self.flap.forgive(&self.cfg.flap, now.mono) {
                let message = format!(
                    "healthy for {}s: restart budget refilled",
                    self.cfg.flap.window.as_secs_f64()
                );
                fx.note(tracing::Level::INFO, message.clone());
                fx.records.push(Record::event(
                    self.key(),
                    protocol::EventKind::FlapReset,
                    message,
                    now.wall_ms(),
                ));
            }
        } else {
            self.flap.healthy_since = None;
        }
        let expected = self.intent == Intent::Off || !self.is_monitored();
        let changed = previous != Some(verdict.health);
        if changed {
            let level = if expected {
                tracing::Level::DEBUG
            } else if healthy {
                tracing::Level::INFO
            } else {
                tracing::Level::WARN
            };
            fx.note(
                level,
                format!("{} ({})", verdict.health.as_str(), verdict.detail),
            );
        }
        fx.recover = counted && self.failures >= self.cfg.failure_threshold;
        let sample_due = self
            .last_sampled
            .is_none_or(|t| now.mono.saturating_duration_since(t) >= sample_every);
        let write = if expected {
            changed
        } else {
            changed || !healthy || sample_due
        };
        if write {
            self.last_sampled = Some(now.mono);
            fx.records.push(Record::Check {
                key: self.cfg.key.clone(),
                health: verdict.health,
                pid: verdict.pid,
                age_ms: verdict.age_ms,
                failures: self.failures,
                detail: verdict.detail.clone(),
                at_ms: now.wall_ms(),
            });
        }
        // A healthy service is checked again when its heartbeat would time out, if that comes
        // before its regular check: a hang is then seen within moments, not an interval.
        if healthy && let Some(age_ms) = verdict.age_ms {
            let left = self
                .cfg
                .timeout
                .saturating_sub(Duration::from_millis(age_ms.max(0) as u64));
            fx.check_by = Some(now.mono + left + TIMEOUT_MARGIN);
        }
        if verdict.health != Health::StalePid
            && let (Some(pid), Some(ticks)) = (verdict.pid, verdict.start_ticks)
        {
            self.writer = Some((pid, ticks));
        }
        self.verdict = Some(verdict);
        self.last_check_ms = Some(now.wall_ms());
        let fingerprint = self.state_fingerprint();
        if fingerprint != self.persisted || (sample_due && healthy && !expected) {
            self.persisted = fingerprint;
            fx.records.push(Record::State(self.saved(now)));
        }
        self.answer_waiters(now, &mut fx);
        fx
    }

    /// A read of its heartbeat has not returned since `since`: the service is `unreadable`.
    pub fn unreadable(&mut self, detail: String, now: &Now, sample_every: Duration) -> Effects {
        self.apply_verdict(
            Verdict::without_heartbeat(Health::Unreadable, detail),
            now,
            sample_every,
        )
    }

    /// With `stall_seconds`, a healthy verdict whose `iteration` has not grown for that long is
    /// `stalled`. A heartbeat without `iteration` cannot stall.
    fn detect_stall(&mut self, verdict: &mut Verdict, now: &Now) {
        let (Some(stall), Some(iteration)) = (self.cfg.stall, verdict.iteration) else {
            return;
        };
        let since = match self.stall_mark {
            Some((seen, since)) if seen == iteration => since,
            _ => {
                self.stall_mark = Some((iteration, now.mono));
                return;
            }
        };
        let still = now.mono.saturating_duration_since(since);
        if verdict.health.is_healthy() && still > stall {
            verdict.health = Health::Stalled;
            verdict.detail = format!(
                "iteration {iteration} has not grown for {:.1}s (stall_seconds {})",
                still.as_secs_f64(),
                stall.as_secs_f64()
            );
        }
    }

    /// A waiter is answered by the first healthy check naming an acceptable PID, outside the
    /// grace of a start (whose old heartbeat could pass for the new process).
    fn answer_waiters(&mut self, now: &Now, fx: &mut Effects) {
        if self.waiters.is_empty() {
            return;
        }
        let Some(v) = &self.verdict else { return };
        if !v.health.is_healthy() || self.in_grace(now, v.heartbeat_us) {
            return;
        }
        let pid = v.pid;
        let (done, waiting): (Vec<_>, Vec<_>) = std::mem::take(&mut self.waiters)
            .into_iter()
            .partition(|w| w.not_pid.is_none() || w.not_pid != pid);
        self.waiters = waiting;
        if !done.is_empty() {
            let status = self.status(now);
            for w in done {
                fx.reply(
                    w.reply,
                    Response::Wait(WaitReply {
                        outcome: WaitOutcome::Healthy,
                        status: status.clone(),
                    }),
                );
            }
        }
    }

    /// Answers the waiters whose deadline has passed.
    pub fn expire_waiters(&mut self, now: &Now) -> Effects {
        let mut fx = Effects::default();
        if !self.waiters.iter().any(|w| w.deadline <= now.mono) {
            return fx;
        }
        let (expired, kept): (Vec<_>, Vec<_>) = std::mem::take(&mut self.waiters)
            .into_iter()
            .partition(|w| w.deadline <= now.mono);
        self.waiters = kept;
        let status = self.status(now);
        for w in expired {
            fx.reply(
                w.reply,
                Response::Wait(WaitReply {
                    outcome: WaitOutcome::TimedOut,
                    status: status.clone(),
                }),
            );
        }
        fx
    }
}

#[cfg(test)]
mod tests;
