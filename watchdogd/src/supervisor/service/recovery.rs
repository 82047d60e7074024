//! Past its failure threshold, a service is recovered, given up on, or waits out its backoff
//! (the rule is [`super::flap`]'s); this records the decision and why.

use protocol::EventKind;

use super::Service;
use super::flap::Decision;
use crate::clock::Now;
use crate::store::Record;
use crate::supervisor::effects::Effects;

impl Service {
    /// A service past its failure threshold: recover it, give up on it, or wait out the backoff
    /// (see [`super::flap`]).
    pub fn decide_recovery(&mut self, now: &Now) -> (Decision, Effects) {
        let mut fx = Effects::default();
        let decision = self.flap.decide(
            &self.cfg.flap,
            self.cfg.check_interval,
            now.mono,
            now.wall_ms(),
        );
        match decision {
            Decision::Recover => fx.note(
                tracing::Level::WARN,
                format!(
                    "{} consecutive failures (threshold {}): recovering",
                    self.failures, self.cfg.failure_threshold
                ),
            ),
            Decision::GiveUp => {
                let then = match self.flap.gave_up.and_then(|g| g.next_attempt) {
                    Some(at) => format!(
                        "next attempt in {:.1}s",
                        at.saturating_duration_since(now.mono).as_secs_f64()
                    ),
                    None => "no further automatic attempts".into(),
                };
                let policy = self.cfg.flap;
                let message = format!(
                    "gave up: {} automatic recoveries within {}s (max_restarts {}); {then}; `watchdogctl restart {}` clears this",
                    self.flap.restarts.len(),
                    policy.window.as_secs_f64(),
                    policy.max_restarts,
                    self.cfg.key
                );
                fx.note(tracing::Level::ERROR, message.clone());
                fx.records.push(Record::event(
                    self.key(),
                    EventKind::GaveUp,
                    message,
                    now.wall_ms(),
                ));
            }
            Decision::Wait => {}
        }
        fx.records.push(Record::State(self.saved(now)));
        (decision, fx)
    }

    /// The reason an `on_give_up` hook or a recovery command runs with.
    pub fn reason(&self) -> crate::pipeline::command::Reason {
        crate::pipeline::command::Reason {
            health: self.verdict.as_ref().map(|v| v.health),
            old_pid: self.verdict.as_ref().and_then(|v| v.pid),
            failures: self.failures,
        }
    }
}
